"""The dashboard (GET /) in headless Chromium (Debian's chromium, driven over the DevTools
protocol by browser.py), on the `--pagemap full` kernel-change history of history_full.py: the
page lists the flagged identities with their classification, draws the selected identity's chart
with the kernel change marked (checked in the drawn pixels, not only in the DOM), draws the
system chart, is usable from the keyboard, fits a laptop screen without sideways scrolling and
logs no JavaScript error. A fresh database shows the empty state; a page_mapcount kernel shows
the forecast. Screenshots go to the build directory's meson-logs/ as artifacts."""
import os
import tempfile
import time
import unittest

import fixture_tree
from browser import Browser
from cgroup_tree import CgroupHistory
from harness import Daemon, main
from history_full import KERNEL_A, KERNEL_B, FullHistory, ServedKernelChange

ARTIFACTS = os.environ.get("MAPSTATD_ARTIFACTS") or tempfile.gettempdir()

# Red pixels (the kernel-change marks, #d62728) in one column of a chart's plot area, and the
# pixels any series drew, read from the canvas dygraphs draws on.
PIXELS_JS = """
((name, x) => {
  const g = mapstatd.charts[name];
  const area = g.getArea();
  const canvas = g.hidden_;
  const ratio = canvas.width / canvas.clientWidth;
  const ctx = canvas.getContext("2d");
  const column = ctx.getImageData(Math.round(x * ratio), Math.round(area.y * ratio), 1,
                                  Math.round(area.h * ratio)).data;
  let red = 0;
  for (let i = 0; i < column.length; i += 4)
    if (column[i] > 180 && column[i + 1] < 80 && column[i + 2] < 80 && column[i + 3] > 200)
      red++;
  const all = ctx.getImageData(Math.round(area.x * ratio), Math.round(area.y * ratio),
                               Math.round(area.w * ratio), Math.round(area.h * ratio)).data;
  let inked = 0;
  for (let i = 0; i < all.length; i += 4)
    if (all[i + 3] > 200 && !(all[i] > 200 && all[i + 1] > 200 && all[i + 2] > 200))
      inked++;
  return {red: red, height: Math.round(area.h * ratio), inked: inked};
})
"""


def ready(b, url):
    b.open(url)
    b.eval("window.mapstatd.ready")
    return b


class DashboardTest(ServedKernelChange, unittest.TestCase):

    def test_page_shows_the_shift(self):
        with Browser() as b:
            ready(b, self.url + "/")
            b.screenshot(os.path.join(ARTIFACTS, "dashboard.png"))
            self.assertEqual(b.eval("mapstatd.errors"), [])

            # The epochs on the time line, oldest first.
            epochs = b.eval("[...document.querySelectorAll('#timeline .epoch')]"
                            ".map(e => [e.className, e.querySelector('strong').textContent])")
            self.assertEqual(epochs, [["epoch page_mapcount", KERNEL_A.release],
                                      ["epoch no_page_mapcount", KERNEL_B.release]])

            # The flagged identities with their classification and figures.
            rows = b.eval("[...document.querySelectorAll('#flagged tbody tr')].map(r => "
                          "[...r.cells].map(c => c.innerText))")
            by_name = {r[0].split(" ·")[0]: r for r in rows}
            self.assertEqual(set(by_name), {"shmsrv", "grower"})
            self.assertEqual(by_name["shmsrv"][1], "accounting")
            self.assertEqual(by_name["grower"][1], "behavior")
            self.assertIn("Shared 50.0 MiB → 100 MiB", by_name["shmsrv"][2])
            self.assertIn("Exclusive_Shmem 50.0% → 0.0%", by_name["shmsrv"][2])
            self.assertIn("Shared/Rss", by_name["shmsrv"][3])
            self.assertTrue(b.eval("document.getElementById('forecast').hidden"))
            # A host without memory cgroups (the fixture has no fs/cgroup): no section.
            self.assertTrue(b.eval("document.getElementById('cgroups').hidden"))

            # The chart of the first flagged identity, with the kernel change marked.
            self.check_chart(b, "memory", self.h_first_b_time(b))
            self.check_chart(b, "meminfo", None)
            legend = b.eval("mapstatd.charts.memory.getLabels()")
            self.assertEqual(legend[:5], ["Time", "Rss", "Pss", "Shared", "Private"])
            self.assertIn("Truth Pss", legend)
            # The forecast is drawn where it applies: on kernel A, not after the change.
            col = legend.index("Forecast Pss")
            forecast = b.eval("(() => { const g = mapstatd.charts.memory; const out = [];"
                              " for (let r = 0; r < g.numRows(); r++)"
                              " out.push([g.getValue(r, 0), g.getValue(r, %d)]); return out; })()"
                              % col)
            change = b.eval("mapstatd.marks.memory[0].time")
            self.assertTrue(all(v is not None for t, v in forecast if t < change - 1))
            self.assertTrue(all(v is None for t, v in forecast if t >= change - 1))
            self.assertEqual(b.eval("mapstatd.charts.exclusive.getLabels()")[0], "Time")

            # Fits a laptop screen.
            self.assertLessEqual(b.eval("document.documentElement.scrollWidth"),
                                 b.eval("window.innerWidth"))
            self.assertEqual(b.errors, [])

    def h_first_b_time(self, b):
        """The time (ms) of the selected identity's first point of kernel B, from the API."""
        selected = b.eval("mapstatd.selected")
        _, series = self.d.get("/processes/%d?from=0" % selected)
        first_b = [p for p in series["points"] if p["epoch"] == 2][0]["time"]
        return b.eval("Date.parse(%r)" % first_b)

    def check_chart(self, b, name, mark_time):
        marks = b.eval("mapstatd.marks.%s" % name)
        self.assertEqual([m["release"] for m in marks], [KERNEL_B.release])
        if mark_time is not None:
            self.assertEqual(marks[0]["time"], mark_time)
        x = b.eval("mapstatd.charts.%s.toDomXCoord(%d)" % (name, marks[0]["time"]))
        area = b.eval("mapstatd.charts.%s.getArea()" % name)
        self.assertGreater(x, area["x"] + 4)
        at_mark = b.eval(PIXELS_JS + "(%r, %f)" % (name, x))
        self.assertGreater(at_mark["red"], 0.8 * at_mark["height"], at_mark)
        self.assertGreater(at_mark["inked"], 500, "no series drawn: %s" % at_mark)
        away = b.eval(PIXELS_JS + "(%r, %f)" % (name, (area["x"] + x) / 2))
        self.assertLess(away["red"], 0.1 * away["height"], away)

    def test_keyboard(self):
        with Browser() as b:
            ready(b, self.url + "/")
            first = b.eval("mapstatd.selected")
            # Tab through the page to the flagged rows; Tab once more to the second; Enter.
            for _ in range(40):
                b.key("Tab")
                if b.eval("document.activeElement.matches('#flagged tbody tr')"):
                    break
            self.assertTrue(b.eval("document.activeElement.matches('#flagged tbody tr')"),
                            "the flagged rows cannot be reached with Tab")
            b.key("Tab")
            target = int(b.eval("document.activeElement.dataset.identity"))
            self.assertNotEqual(target, first)
            b.key("Enter")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and b.eval("mapstatd.selected") != target:
                time.sleep(0.1)
            self.assertEqual(b.eval("mapstatd.selected"), target)
            self.assertEqual(b.eval("document.getElementById('identity-select').value"),
                             str(target))
            self.assertEqual(b.errors, [])


class DashboardCgroupsTest(unittest.TestCase):
    """The cgroups of a kernel change (cgroup_tree.CgroupHistory: thp-app.service's anon
    moves, steady.service's does not): the flagged table, the selector and the chart."""

    @classmethod
    def setUpClass(cls):
        cls.h = CgroupHistory()
        cls.d = Daemon(["--interval", "1h", *cls.h.roots()], db=cls.h.db)
        cls.d.start()
        cls.d.wait_sweeps(1)
        cls.url = "http://127.0.0.1:%d" % cls.d.port

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        cls.h.close()

    def test_cgroups(self):
        with Browser() as b:
            ready(b, self.url + "/")
            b.screenshot(os.path.join(ARTIFACTS, "dashboard-cgroups.png"))
            self.assertEqual(b.eval("mapstatd.errors"), [])
            self.assertFalse(b.eval("document.getElementById('cgroups').hidden"))
            self.assertIn("3 of 4 memory cgroups moved",
                          b.eval("document.getElementById('cgroups-summary').textContent"))
            rows = b.eval("[...document.querySelectorAll('#cgroup-flagged tbody tr')].map(r => "
                          "[...r.cells].map(c => c.innerText))")
            self.assertEqual([r[0].split("\n")[0] for r in rows],
                             ["thp-app.service", "system.slice", "/"])
            self.assertIn("anon 399 MiB → 560 MiB", rows[0][1])
            self.assertIn("anon/usage", rows[0][2])

            # The heaviest flagged cgroup is charted, the kernel change marked.
            _, listed = self.d.get("/cgroups")
            app = [c["cgroup"]["id"] for c in listed["cgroups"]
                   if c["cgroup"]["unit"] == "thp-app.service"][0]
            self.assertEqual(b.eval("mapstatd.cgroup"), app)
            self.assertEqual(b.eval("mapstatd.charts.cgroup.getLabels()"),
                             ["Time", "usage", "anon", "file_mapped", "shmem", "anon_thp"])
            _, series = self.d.get("/cgroups/%d?from=0" % app)
            first_b = [p for p in series["points"] if p["epoch"] == 2][0]["time"]
            DashboardTest.check_chart(self, b, "cgroup", b.eval("Date.parse(%r)" % first_b))

            # The selector charts any cgroup, flagged or not.
            steady = [c["cgroup"]["id"] for c in listed["cgroups"]
                      if c["cgroup"]["unit"] == "steady.service"][0]
            b.eval("(() => { const s = document.getElementById('cgroup-select');"
                   " s.value = '%d'; s.dispatchEvent(new Event('change')); })()" % steady,
                   await_promise=False)
            deadline = time.monotonic() + 10
            while b.eval("mapstatd.cgroup") != steady and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(b.eval("mapstatd.cgroup"), steady)
            self.assertLessEqual(b.eval("document.documentElement.scrollWidth"),
                                 b.eval("window.innerWidth"))
            self.assertEqual(b.errors, [])


class DashboardStatesTest(unittest.TestCase):
    def test_empty_state(self):
        # A daemon whose first sweep hangs (opening osrelease on a hung file system): no history.
        with Daemon(["--interval", "1h", *fixture_tree.hanging_roots(self)]) as d, \
                Browser() as b:
            ready(b, "http://127.0.0.1:%d/" % d.port)
            b.screenshot(os.path.join(ARTIFACTS, "dashboard-empty.png"))
            self.assertFalse(b.eval("document.getElementById('empty').hidden"))
            self.assertIn("has not stored a sweep yet",
                          b.eval("document.getElementById('empty').innerText"))
            for section in ("kernels", "report", "identity", "system", "forecast"):
                self.assertTrue(b.eval("document.getElementById(%r).hidden" % section), section)
            self.assertEqual(b.eval("document.querySelectorAll('canvas').length"), 0)
            self.assertEqual(b.eval("mapstatd.errors"), [])
            self.assertEqual(b.errors, [])

    def test_forecast_on_a_page_mapcount_kernel(self):
        h = FullHistory()
        self.addCleanup(h.close)
        h.sweep("page", KERNEL_A)
        with Daemon(["--interval", "1h", "--pagemap", "full", *h.roots()], db=h.db) as d, \
                Browser(width=1280, height=800) as b:
            d.wait_sweeps(1)
            ready(b, "http://127.0.0.1:%d/" % d.port)
            b.screenshot(os.path.join(ARTIFACTS, "dashboard-forecast.png"))
            self.assertFalse(b.eval("document.getElementById('forecast').hidden"))
            rows = b.eval("[...document.querySelectorAll('#forecast-table tbody tr')]"
                          ".map(r => r.cells[0].innerText)")
            self.assertEqual(len(rows), 1)
            self.assertTrue(rows[0].startswith("shmsrv"), rows)
            self.assertIn("Forecast Pss", b.eval("mapstatd.charts.memory.getLabels()"))
            self.assertEqual(b.eval("mapstatd.marks.memory"), [])     # one kernel: no change
            self.assertLessEqual(b.eval("document.documentElement.scrollWidth"), 1280)
            self.assertEqual(b.errors, [])


if __name__ == "__main__":
    main()
