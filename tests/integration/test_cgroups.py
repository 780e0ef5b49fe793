"""Memory cgroups and THP statistics across a kernel change, on fixture trees: kernel A
(page_mapcount) runs the hybrid layout (v1 memory controller), kernel B (no_page_mapcount) the
unified one, as hosts moving to a newer distribution do. One unit's anon moves the way
docs/kernel-semantics.md §5 says NO_PAGE_MAPCOUNT moves it (partially mapped THPs counted
whole); another only fluctuates. /report must flag exactly the first (and the cgroups above it,
whose hierarchical figures contain it), match v1's total_* figures to v2's, and report the THP
counters; /cgroups, /cgroups/{id} and /metrics serve what was stored."""
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import unittest

from cgroup_tree import CONTAINER, CgroupHistory
from harness import Daemon, main, run_once
from history import SWEEPS

class CgroupsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = CgroupHistory()
        cls.stored = cls.h.stored
        cls.d = Daemon(["--interval", "1h", *cls.h.roots()], db=cls.h.db)
        cls.d.start()
        cls.d.wait_sweeps(1)
        cls.stored["no_page"].append(cls.stored["no_page"][-1])

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        cls.h.close()

    def get(self, path):
        status, body = self.d.get(path)
        self.assertEqual(status, 200, body)
        return body

    def median(self, mode, path, field):
        # Stored in kB as the kernel's bytes divided down, as memory.stat's readers do.
        return statistics.median(s[path][field] // 1024 for s in self.stored[mode])

    def test_epochs_record_the_layout(self):
        epochs = self.get("/epochs")["epochs"]
        self.assertEqual([e["cgroup_layout"] for e in epochs], ["hybrid", "unified"])
        status, health = self.d.get("/healthz")
        self.assertEqual(status, 200, health)
        self.assertEqual(health["cgroups"], {"layout": "unified", "sampled": 5, "skipped": 0,
                                             "cut_short": False})

    def test_report_flags_exactly_the_moved(self):
        rep = self.get("/report")
        cg = rep["cgroups"]
        flagged = {e["cgroup"]["key"]: e for e in cg["flagged"]}
        self.assertEqual(set(flagged), {"unit:thp-app.service", "unit:system.slice", "path:/"},
                         cg["flagged"])
        # steady.service, and the three above: compared across v1 and v2.
        self.assertEqual(cg["compared"], 4)
        self.assertEqual([c["key"] for c in cg["appeared"]], ["unit:docker-%s.scope" % CONTAINER])
        self.assertEqual(cg["appeared"][0]["container"], "docker://" + CONTAINER)
        self.assertEqual([c["key"] for c in cg["disappeared"]], ["unit:legacy.service"])

        app = flagged["unit:thp-app.service"]
        self.assertEqual(app["cgroup"]["path"], "/system.slice/thp-app.service")
        self.assertEqual(app["cgroup"]["unit"], "thp-app.service")
        self.assertEqual(app["samples"], {"baseline": SWEEPS, "candidate": SWEEPS + 1})
        self.assertEqual({f for f, m in app["metrics"].items() if m["flagged"]}, {"anon"})
        self.assertEqual(len(app["reasons"]), 1)
        self.assertTrue(app["reasons"][0].startswith("anon/usage"), app["reasons"])
        path = "/system.slice/thp-app.service"
        for field in ("anon", "file", "file_mapped", "shmem", "anon_thp"):
            m = app["metrics"][field]
            with self.subTest(field=field):
                self.assertAlmostEqual(m["before_kb"], self.median("page", path, field),
                                       delta=0.51)
                self.assertAlmostEqual(m["after_kb"], self.median("no_page", path, field),
                                       delta=0.51)
        # v1 has no file_thp or shmem_thp: not compared.
        self.assertNotIn("file_thp", app["metrics"])
        anon = app["metrics"]["anon"]
        self.assertAlmostEqual(anon["delta_kb"], 160 * 1024, delta=160 * 1024 * 0.02)
        self.assertAlmostEqual(anon["before_ratio"], 400 / 900, delta=0.01)
        self.assertAlmostEqual(anon["after_ratio"], 560 / 900, delta=0.01)

    def test_report_thp(self):
        sizes = {s["size_kb"]: s for s in self.get("/report")["thp"]["sizes"]}
        self.assertEqual(sorted(sizes), [16, 64, 2048])
        pmd = sizes[2048]
        self.assertEqual(pmd["enabled"], {"before": "inherit", "after": "always"})
        c = pmd["counters"]
        self.assertEqual(c["nr_anon_partially_mapped"],
                         {"kind": "level", "before": 40, "after": 0})
        self.assertEqual(c["nr_anon"]["before"], 200)
        # Rates from the sweeps' own times, as stored.
        db = sqlite3.connect("file:%s?mode=ro" % self.h.db, uri=True)
        rates = {}
        for epoch, mode in ((1, "page"), (2, "no_page")):
            times = [t for (t,) in db.execute(
                "SELECT start_usec FROM sweeps WHERE epoch_id = ? ORDER BY id", (epoch,))]
            values = [v for (v,) in db.execute(
                "SELECT t.value FROM thp_samples t JOIN sweeps w ON w.id = t.sweep_id"
                " WHERE w.epoch_id = ? AND t.size_kb = 2048 AND t.name = 'anon_fault_alloc'"
                " ORDER BY w.id", (epoch,))]
            rates[mode] = (values[-1] - values[0]) / ((times[-1] - times[0]) / 1e6)
        db.close()
        self.assertEqual(c["anon_fault_alloc"]["kind"], "rate_per_second")
        self.assertAlmostEqual(c["anon_fault_alloc"]["before"], rates["page"], places=2)
        self.assertAlmostEqual(c["anon_fault_alloc"]["after"], rates["no_page"], places=2)
        self.assertEqual(sizes[16]["counters"], {})
        self.assertEqual(sizes[16]["enabled"], {"before": "never", "after": "never"})

    def test_cgroups_list_and_series(self):
        body = self.get("/cgroups")
        rows = {c["cgroup"]["path"]: c for c in body["cgroups"]}
        last = self.stored["no_page"][-1]
        self.assertEqual(set(rows), set(last))
        self.assertEqual(body["total"], len(last))
        usages = [c["usage_kb"] for c in body["cgroups"] if c["usage_kb"] is not None]
        self.assertEqual(usages, sorted(usages, reverse=True))
        app = rows["/system.slice/thp-app.service"]
        self.assertEqual(app["controller"], "v2")
        self.assertEqual(app["usage_kb"], last["/system.slice/thp-app.service"]["usage"] // 1024)
        self.assertEqual(app["fields_kb"]["anon"],
                         last["/system.slice/thp-app.service"]["anon"] // 1024)
        # Every line kept, by the kernel's name, as printed (bytes).
        self.assertEqual(app["memory.stat"]["anon"], last["/system.slice/thp-app.service"]["anon"])
        self.assertIn("slab_reclaimable", app["memory.stat"])
        # The v2 root has no memory.current.
        self.assertIsNone(rows["/"]["usage_kb"])

        series = self.get("/cgroups/%d" % app["cgroup"]["id"])
        self.assertEqual(series["cgroup"]["key"], "unit:thp-app.service")
        self.assertEqual([m["epoch"] for m in series["epochs"]], [1, 2])
        points = series["points"]
        self.assertEqual(len(points), 2 * SWEEPS + 1)
        first = self.stored["page"][0]["/system.slice/thp-app.service"]
        self.assertEqual(points[0]["fields_kb"]["anon"], first["anon"] // 1024)
        self.assertIsNone(points[0]["fields_kb"]["file_thp"])
        status, body = self.d.get("/cgroups/999")
        self.assertEqual(status, 404, body)

    def test_metrics(self):
        status, _, data = self.d.request("/metrics", raw=True)
        self.assertEqual(status, 200)
        text = data.decode()
        last = self.stored["no_page"][-1]["/system.slice/thp-app.service"]
        self.assertIn('mapstatd_cgroup_memory_bytes{cgroup="/system.slice/thp-app.service",'
                      'unit="thp-app.service",field="anon"} %d' % (last["anon"] // 1024 * 1024),
                      text)
        self.assertIn('mapstatd_cgroup_usage_bytes{cgroup="/system.slice/thp-app.service",'
                      'unit="thp-app.service"} %d' % (last["usage"] // 1024 * 1024), text)
        self.assertIn('mapstatd_thp_folios{size="2048kB",counter="nr_anon_partially_mapped"} 0',
                      text)
        self.assertIn("mapstatd_cgroups %d\n" % len(self.stored["no_page"][-1]), text)


    def test_mapstatctl(self):
        ctl = [os.environ.get("MAPSTATCTL_BIN", "build/cli/mapstatctl")]
        url = ["--url", "http://127.0.0.1:%d" % self.d.port]
        env = dict(os.environ, NO_COLOR="1")
        run = lambda *a: subprocess.run([*ctl, *a], capture_output=True, text=True, env=env,
                                        timeout=60)
        r = run(*url, "cgroups")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "CGROUP", "USAGE", "ANON", "FILE_MAPPED",
                                            "SHMEM", "ANON_THP"])
        self.assertTrue(all(len(line) <= 80 for line in lines), r.stdout)
        self.assertIn("thp-app.service", r.stdout)
        self.assertIn("5 memory cgroups in sweep", r.stdout)
        # The same JSON over HTTP and from the database file.
        over_http = json.loads(run(*url, "--format", "json", "cgroups").stdout)
        from_db = json.loads(run("--db", self.h.db, "--format", "json", "cgroups").stdout)
        self.assertEqual(over_http, from_db)
        self.assertEqual(over_http, self.get("/cgroups"))

        r = run(*url, "report")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("3 of 4 memory cgroups flagged.", r.stdout)
        row = [line.split() for line in r.stdout.splitlines()
               if line.startswith("thp-app.service")]
        self.assertEqual(len(row), 1, r.stdout)
        self.assertEqual(row[0][1], "anon")


WORKLOAD = os.environ.get("MAPSTATD_WORKLOAD", "")
CGROUP_FS = "/sys/fs/cgroup"
THP_STATS = "/sys/kernel/mm/transparent_hugepage/hugepages-2048kB/stats"


def memory_hierarchy():
    """(the memory controller's root directory, v1) on this machine, or None."""
    try:
        with open(os.path.join(CGROUP_FS, "cgroup.controllers")) as f:
            if "memory" in f.read().split():
                return CGROUP_FS, False
    except OSError:
        pass
    if os.path.isfile(os.path.join(CGROUP_FS, "memory", "memory.stat")):
        return os.path.join(CGROUP_FS, "memory"), True
    return None


def read_stat(d):
    with open(os.path.join(d, "memory.stat")) as f:
        return {k: int(v) for k, v in (line.split() for line in f)}


def read_thp():
    out = {}
    try:
        for n in os.listdir(THP_STATS):
            with open(os.path.join(THP_STATS, n)) as f:
                out[n] = int(f.read())
    except OSError:
        pass
    return out


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates a memory cgroup")
class RealCgroupTest(unittest.TestCase):
    """On this machine: a cgroup of our own holding W4 (a 2 MiB THP of which all but page 0 is
    unmapped), swept by `mapstatd --once` on the real /proc and /sys; what is stored must be what
    the kernel's files said at that moment."""

    def setUp(self):
        found = memory_hierarchy()
        if not found:
            self.skipTest("no memory controller on this machine")
        self.root, self.v1 = found
        self.name = "mapstatd-test-%d" % os.getpid()
        self.dir = os.path.join(self.root, self.name)
        self.proc = None
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-cgroup-")
        try:
            os.mkdir(self.dir)
        except OSError as e:
            self.tearDown()
            self.skipTest("cannot create a memory cgroup here: %s" % e)
        if not os.path.exists(os.path.join(self.dir, "memory.stat")):
            # v2: the parent must hand the memory controller down.
            try:
                with open(os.path.join(self.root, "cgroup.subtree_control"), "w") as f:
                    f.write("+memory")
            except OSError:
                pass
        if not os.path.exists(os.path.join(self.dir, "memory.stat")):
            self.tearDown()
            self.skipTest("the memory controller is not enabled below " + self.root)
        procs = os.path.join(self.dir, "cgroup.procs")

        def enter():
            with open(procs, "w") as f:
                f.write("0\n")

        self.proc = subprocess.Popen([WORKLOAD, "W4", "--tag", "cgrouptest", "--dir", self.tmp],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     preexec_fn=enter)
        line = self.proc.stdout.readline().decode().split()
        if not line or line[0] != "ready":
            self.tearDown()
            self.skipTest("W4 cannot be built here: %s" % " ".join(line))

    def tearDown(self):
        if self.proc:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self.proc.stdout.close()
            self.proc = None
        if os.path.isdir(self.dir):
            os.rmdir(self.dir)
        subprocess.run(["rm", "-rf", self.tmp])

    def test_stored_matches_the_kernel(self):
        usage_file = "memory.usage_in_bytes" if self.v1 else "memory.current"
        db = os.path.join(self.tmp, "mapstatd.db")
        before, thp_before = read_stat(self.dir), read_thp()
        r = run_once(["--db", db])
        self.assertEqual(r.returncode, 0, r.stderr)
        after, thp_after = read_stat(self.dir), read_thp()
        with open(os.path.join(self.dir, usage_file)) as f:
            usage = int(f.read())
        # The helper waits: its cgroup's figures hold still.
        anon_name = "total_rss" if self.v1 else "anon"
        self.assertEqual(before[anon_name], after[anon_name])

        conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        row = conn.execute(
            "SELECT c.key, c.unit, s.v1, s.usage_kb, s.anon_kb, s.file_mapped_kb, s.shmem_kb,"
            " s.anon_thp_kb FROM cgroup_samples s JOIN cgroups c ON c.id = s.cgroup_id"
            " WHERE c.path = ?", ("/" + self.name,)).fetchone()
        layout = conn.execute("SELECT cgroup_layout FROM epochs").fetchone()[0]
        thp = dict(conn.execute("SELECT name, value FROM thp_samples WHERE size_kb = 2048"))
        conn.close()

        self.assertIsNotNone(row, "our cgroup was not stored")
        key, unit, v1, usage_kb, anon_kb, mapped_kb, shmem_kb, anon_thp_kb = row
        self.assertEqual((key, unit, v1), ("path:/" + self.name, None, int(self.v1)))
        self.assertEqual(layout, ("hybrid" if os.path.isdir(os.path.join(CGROUP_FS, "unified"))
                                  else "legacy") if self.v1 else "unified")
        names = ("total_rss", "total_mapped_file", "total_shmem", "total_rss_huge") if self.v1 \
            else ("anon", "file_mapped", "shmem", "anon_thp")
        self.assertEqual((anon_kb, mapped_kb, shmem_kb, anon_thp_kb),
                         tuple(after[n] // 1024 for n in names))
        # W4 maps page 0 of its THP: on this page_mapcount kernel only that page counts in anon,
        # and the PMD mapping is gone.
        self.assertEqual(anon_thp_kb, 0)
        self.assertGreaterEqual(anon_kb, 4)
        self.assertLess(anon_kb, 2048)
        self.assertLessEqual(abs(usage_kb - usage // 1024), 64)   # usage moves with the kernel's
        # THP counters: stored between the readings before and after.
        for name, value in thp.items():
            if name in thp_before and name in thp_after:
                lo, hi = sorted((thp_before[name], thp_after[name]))
                self.assertTrue(lo <= value <= hi, (name, lo, value, hi))
        self.assertEqual(set(thp), set(thp_after))

    def test_forecast(self):
        # docs/kernel-semantics.md §5.1: W4 maps 1 of its THP's 512 pages; a no_page_mapcount
        # kernel would count all 512 in anon, 2044 kB more than this kernel does.
        db = os.path.join(self.tmp, "full.db")
        for _ in range(2):
            r = run_once(["--db", db, "--pagemap", "full"])
            self.assertEqual(r.returncode, 0, r.stderr)
        conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        # one row per sweep: a row stands for the sweeps from sweep_id to last_sweep_id
        rows = conn.execute(
            "SELECT s.anon_kb, s.forecast_anon_kb, s.file_mapped_kb, s.forecast_file_mapped_kb"
            " FROM cgroup_samples s JOIN cgroups c ON c.id = s.cgroup_id"
            " JOIN sweeps w ON w.id BETWEEN s.sweep_id AND s.last_sweep_id WHERE c.path = ?",
            ("/" + self.name,)).fetchall()
        root = conn.execute(
            "SELECT s.forecast_anon_kb - s.anon_kb FROM cgroup_samples s"
            " JOIN cgroups c ON c.id = s.cgroup_id WHERE c.path = '/'").fetchall()
        conn.close()
        self.assertEqual(len(rows), 2)
        for anon, f_anon, mapped, f_mapped in rows:
            self.assertEqual(f_anon - anon, 2044)
            self.assertGreaterEqual(f_mapped, mapped)
        # The root holds every process, ours included.
        for (extra,) in root:
            self.assertGreaterEqual(extra, 2044)

        with Daemon(["--interval", "1h", "--pagemap", "full"], db=db) as d:
            d.wait_sweeps(1)
            status, body = d.get("/forecast")
        self.assertEqual(status, 200, body)
        mine = [e for e in body["cgroups"]["flagged"] if e["cgroup"]["path"] == "/" + self.name]
        self.assertEqual(len(mine), 1, body["cgroups"])
        anon = mine[0]["metrics"]["anon"]
        self.assertTrue(anon["flagged"])
        self.assertAlmostEqual(anon["delta_kb"], 2044, delta=0.51)
        self.assertEqual(mine[0]["samples"], {"today": 3, "forecast": 3})


if __name__ == "__main__":
    main()
