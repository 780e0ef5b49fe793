"""GET /metrics on the `--pagemap full` kernel-change history (history_full.py): `promtool check
metrics` accepts it, every figure is the one worked out from the fixture, the per-identity
series are capped, label values are escaped, and a scrape never sweeps. Then a real Prometheus
(Debian's 2.42) scrapes a real daemon while its kernel changes from A to B, and PromQL through
Prometheus' HTTP API finds the identities whose Shared moved.

The test runs in a private network namespace of its own, where Prometheus' port is free."""
import os
import re
import signal
import time
import unittest

from fixture_tree import write_tree
from harness import TIMEOUT, Daemon, main, run_once
from history_full import (SRV_EXE, KERNEL_A, KERNEL_B, FullHistory, grower,
                          ServedKernelChange, srv)
from prometheus import NodeExporter, Prometheus, enter_private_network, promtool_check_metrics

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """The exposition as {name: [(labels, value)]}, with {name: (type, help)}; fails on any line
    that is not a comment, a sample or empty."""
    samples, meta = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            meta.setdefault(name, {})["help"] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            meta.setdefault(name, {})["type"] = kind
        elif line:
            m = SAMPLE.match(line)
            if not m:
                raise AssertionError("not a sample: %r" % line)
            labels = {k: v.encode().decode("unicode_escape") for k, v in
                      LABEL.findall(m.group(3) or "")}
            samples.setdefault(m.group(1), []).append((labels, float(m.group(4))))
    return samples, meta


def one(samples, name, **labels):
    """The value of the one sample of name whose labels include labels."""
    got = [v for ls, v in samples.get(name, []) if all(ls.get(k) == v2 for k, v2 in
                                                         labels.items())]
    if len(got) != 1:
        raise AssertionError("%s%s: %d samples" % (name, labels, len(got)))
    return got[0]


class MetricsTest(ServedKernelChange, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The daemon's own sweep of the last tree.
        cls.h.sizes["no_page"].append(cls.h.sizes["no_page"][-1])
        status, headers, body = cls.d.request("/metrics", raw=True)
        assert status == 200, body
        cls.headers = headers
        cls.text = body.decode()
        cls.samples, cls.meta = parse(cls.text)

    def test_promtool_accepts_it(self):
        code, out = promtool_check_metrics(self.text)
        self.assertEqual(code, 0, out)
        self.assertEqual(out.strip(), "")
        self.assertEqual(self.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")

    def test_conventions(self):
        for name, m in self.meta.items():
            with self.subTest(family=name):
                self.assertRegex(name, r"^mapstatd_[a-z0-9_]+$")
                self.assertIn(m.get("type"), ("gauge", "counter"))
                self.assertTrue(m.get("help"))
                self.assertEqual(m["type"] == "counter", name.endswith("_total"))
                self.assertIn(name, self.samples)
                for labels, _ in self.samples[name]:
                    for k in labels:
                        self.assertRegex(k, r"^[a-z][a-z0-9_]*$")
                    self.assertNotIn("cmdline", labels)
        # Every sample belongs to a family with HELP and TYPE.
        self.assertEqual(set(self.samples), set(self.meta))

    def test_daemon_and_kernel(self):
        s = self.samples
        self.assertEqual(one(s, "mapstatd_build_info"), 1)
        self.assertEqual(one(s, "mapstatd_kernel_info", release=KERNEL_B.release,
                             mapcount_mode="no_page_mapcount", boot_id=KERNEL_B.boot_id,
                             epoch="2"), 1)
        self.assertEqual(len(s["mapstatd_kernel_info"]), 1)
        self.assertEqual(one(s, "mapstatd_sweeps_total"), 1)
        self.assertEqual(one(s, "mapstatd_sweeps_failed_total"), 0)
        self.assertEqual(one(s, "mapstatd_sweeps_stored"), 7)
        self.assertEqual(one(s, "mapstatd_processes_sampled_total"), 4)
        self.assertEqual({ls["reason"] for ls, _ in s["mapstatd_processes_skipped_total"]},
                         {"vanished", "denied", "malformed"})
        self.assertGreater(one(s, "mapstatd_last_sweep_timestamp_seconds"), 1.7e9)

    def test_meminfo(self):
        a, b, c = self.h.sizes["no_page"][-1]
        self.assertEqual(one(self.samples, "mapstatd_meminfo_bytes", field="AnonPages"),
                         (900000 + 4 * (a + b + c + 256)) * 1024)
        self.assertEqual(one(self.samples, "mapstatd_meminfo_bytes", field="MemTotal"),
                         8 * 1024 * 1024 * 1024)
        fields = {ls["field"] for ls, _ in self.samples["mapstatd_meminfo_bytes"]}
        self.assertGreater(len(fields), 30)
        self.assertIn("HugePages_Total", {ls["field"] for ls, _ in
                                          self.samples["mapstatd_meminfo_pages"]})

    def test_identities(self):
        s = self.samples
        a, b, c = self.h.sizes["no_page"][-1]
        reported, truth, _, _ = srv("no_page", a)
        labels = dict(comm="shmsrv", unit="shmsrv.service", exe=SRV_EXE)
        self.assertEqual(one(s, "mapstatd_identity_rss_bytes", **labels), reported["Rss"] * 1024)
        self.assertEqual(one(s, "mapstatd_identity_shared_bytes", **labels),
                         reported["Shared_Dirty"] * 1024)
        self.assertEqual(one(s, "mapstatd_identity_private_bytes", **labels),
                         reported["Private_Dirty"] * 1024)
        self.assertEqual(one(s, "mapstatd_identity_pss_shmem_bytes", **labels),
                         reported["Pss_Shmem"] * 1024)
        self.assertEqual(one(s, "mapstatd_identity_truth_pss_bytes", **labels),
                         truth["Pss"] * 1024)
        self.assertEqual(one(s, "mapstatd_identity_truth_uss_bytes", **labels),
                         truth["Uss"] * 1024)
        self.assertEqual(one(s, "mapstatd_identity_processes", **labels), 1)
        # Exclusivity per class (§3.2): under NO the shmem folios are mapped by two MMs.
        self.assertEqual(one(s, "mapstatd_identity_exclusive_ratio", comm="shmsrv",
                             **{"class": "shmem"}), 0)
        self.assertEqual(one(s, "mapstatd_identity_exclusive_ratio", comm="shmsrv",
                             **{"class": "anon"}), 1)
        g_reported = grower("no_page", c)[0]
        self.assertEqual(one(s, "mapstatd_identity_exclusive_ratio", comm="grower",
                             **{"class": "anon"}), (c - 12000) / c)
        self.assertEqual(one(s, "mapstatd_identity_shared_bytes", comm="grower"),
                         g_reported["Shared_Dirty"] * 1024)
        # The forecast is for page_mapcount kernels: none on B.
        self.assertNotIn("mapstatd_identity_forecast_pss_bytes", s)
        # Four identities, all under the default cap of 100.
        self.assertEqual(one(s, "mapstatd_identities"), 4)
        self.assertEqual(one(s, "mapstatd_identity_series_limit"), 100)
        self.assertEqual(one(s, "mapstatd_identities_omitted"), 0)
        ids = {ls["identity"] for ls, _ in s["mapstatd_identity_rss_bytes"]}
        self.assertEqual(len(ids), 4)

    def test_report_summary(self):
        pair = dict(baseline_epoch="1", candidate_epoch="2")
        s = self.samples
        self.assertEqual(one(s, "mapstatd_report_compared_identities", **pair), 3)
        for kind, n in (("accounting", 1), ("behavior", 1), ("mixed", 0), ("unknown", 0)):
            self.assertEqual(one(s, "mapstatd_report_flagged_identities", kind=kind, **pair), n)

    def test_scrape_never_sweeps(self):
        for _ in range(5):
            status, _, body = self.d.request("/metrics", raw=True)
            self.assertEqual(status, 200)
        samples, _ = parse(body.decode())
        self.assertEqual(one(samples, "mapstatd_sweeps_stored"), 7)
        self.assertEqual(one(samples, "mapstatd_sweeps_total"), 1)


class MetricsOptionsTest(unittest.TestCase):
    def test_cap_and_forecast(self):
        # Kernel A only: the forecast families appear; with a cap of 2, the two largest by Rss
        # (shmsrv: 100 MiB + anon, grower: ~78 MiB; shmcli ~54 MiB) and one left out.
        h = FullHistory()
        self.addCleanup(h.close)
        h.sweep("page", KERNEL_A)
        with Daemon(["--interval", "1h", "--pagemap", "full", "--metrics-identities", "2",
                     *h.roots()], db=h.db) as d:
            d.wait_sweeps(1)
            _, _, body = d.request("/metrics", raw=True)
        self.assertEqual(promtool_check_metrics(body.decode())[0], 0)
        s, _ = parse(body.decode())
        self.assertEqual({ls["comm"] for ls, _ in s["mapstatd_identity_rss_bytes"]},
                         {"shmsrv", "grower"})
        self.assertEqual(one(s, "mapstatd_identities"), 3)
        self.assertEqual(one(s, "mapstatd_identity_series_limit"), 2)
        self.assertEqual(one(s, "mapstatd_identities_omitted"), 1)
        a = h.sizes["page"][-1][0]
        _, _, forecast, _ = srv("page", a)
        self.assertEqual(one(s, "mapstatd_identity_forecast_pss_bytes", comm="shmsrv"),
                         forecast["Pss"] * 1024)
        self.assertEqual(one(s, "mapstatd_identity_forecast_shared_bytes", comm="shmsrv"),
                         forecast["Shared"] * 1024)
        # No earlier kernel: no report families.
        self.assertNotIn("mapstatd_report_flagged_identities", s)

    def test_label_escaping(self):
        h = FullHistory()
        self.addCleanup(h.close)
        smaps = srv("page", 10)[0]
        write_tree(h.tree, KERNEL_A, {"MemTotal": 1 << 20}, [
            dict(pid=100, comm='we"ird\\na', exe="/usr/bin/weird", smaps=smaps)])
        with Daemon(["--interval", "1h", "--metrics-identities", "0", *h.roots()],
                    db=h.db) as d:
            d.wait_sweeps(1)
            _, _, body = d.request("/metrics", raw=True)
            self.assertNotIn(b"weird", body)        # no identity series at all
        with Daemon(["--interval", "1h", *h.roots()], db=h.db) as d:
            d.wait_sweeps(1)
            _, _, body = d.request("/metrics", raw=True)
        text = body.decode()
        self.assertEqual(promtool_check_metrics(text), (0, ""))
        self.assertIn('comm="we\\"ird\\\\na"', text)


class PrometheusTest(unittest.TestCase):
    def test_prometheus_sees_the_kernel_change(self):
        h = FullHistory()
        self.addCleanup(h.close)
        h.write("page", KERNEL_A)
        with Daemon(["--interval", "1s", "--pagemap", "full", *h.roots()], db=h.db) as d, \
                Prometheus("127.0.0.1:%d" % d.port) as prom:
            d.wait_sweeps(1)
            # Two scrapes of kernel A with the expected values.
            prom.wait('count_over_time(mapstatd_kernel_info{mapcount_mode="page_mapcount"}'
                      '[10m]) >= 2')
            a = h.sizes["page"][-1][0]
            got = prom.query('mapstatd_identity_shared_bytes{comm="shmsrv"}')
            self.assertEqual([v for _, v in got], [srv("page", a)[0]["Shared_Dirty"] * 1024])
            self.assertEqual(prom.query('up{job="mapstatd"}')[0][1], 1)

            # The kernel changes under the running daemon (stopped while the tree is swapped).
            d.proc.send_signal(signal.SIGSTOP)
            try:
                h.write("no_page", KERNEL_B, in_place=True)
            finally:
                d.proc.send_signal(signal.SIGCONT)
            prom.wait('count_over_time(mapstatd_kernel_info{mapcount_mode="no_page_mapcount"}'
                      '[10m]) >= 2')
            a = h.sizes["no_page"][-1][0]
            got = prom.query('mapstatd_identity_shared_bytes{comm="shmsrv"}')
            self.assertEqual([v for _, v in got], [srv("no_page", a)[0]["Shared_Dirty"] * 1024])
            kernels = prom.query("count by (release, mapcount_mode) "
                                 "(count_over_time(mapstatd_kernel_info[10m]))")
            self.assertEqual({(m["release"], m["mapcount_mode"]) for m, _ in kernels},
                             {(KERNEL_A.release, "page_mapcount"),
                              (KERNEL_B.release, "no_page_mapcount")})

            # Which identities' Shared moved by more than 1 MiB over the change? shmsrv (W8:
            # accounting only) and grower (a real fork); not shmcli, whose figures stay.
            moved = prom.query("max_over_time(mapstatd_identity_shared_bytes[10m]) - "
                               "min_over_time(mapstatd_identity_shared_bytes[10m]) > 1048576")
            self.assertEqual({m["comm"] for m, _ in moved}, {"shmsrv", "grower"})
            # And /report's verdict, as Prometheus sees it.
            flagged = prom.wait('mapstatd_report_flagged_identities{kind="accounting"} > 0')
            self.assertEqual(flagged[0][0]["baseline_epoch"], "1")
            self.assertEqual(flagged[0][0]["candidate_epoch"], "2")
            self.assertEqual(prom.query('up{job="mapstatd"}')[0][1], 1)
            status, health = d.get("/healthz")
            self.assertEqual((status, health["storage_error"]), (200, None))


def wait_until(what, fn, timeout=TIMEOUT):
    """Polls fn() until it returns something true; returns it or fails naming what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class TextfileTest(unittest.TestCase):
    """--textfile-directory: the metrics in DIR/mapstatd.prom after every sweep, served by a
    real node_exporter's textfile collector."""

    def setUp(self):
        self.h = FullHistory()
        self.addCleanup(self.h.close)
        self.h.write("page", KERNEL_A)
        self.dir = os.path.join(self.h.tmp, "textfile")
        os.mkdir(self.dir)
        self.path = os.path.join(self.dir, "mapstatd.prom")

    def read(self):
        with open(self.path) as f:
            return f.read()

    def test_node_exporter_serves_the_metrics(self):
        with Daemon(["--interval", "1h", "--pagemap", "full", "--textfile-directory", self.dir,
                     *self.h.roots()], db=self.h.db) as d:
            d.wait_sweeps(1)
            wait_until(self.path, lambda: os.path.exists(self.path))
            _, _, body = d.request("/metrics", raw=True)
            # What a scrape of the daemon gets, byte for byte, readable by the exporter's user,
            # and no temporary file left beside it.
            self.assertEqual(self.read(), body.decode())
            self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o644)
            self.assertEqual(os.listdir(self.dir), ["mapstatd.prom"])

            with NodeExporter(self.dir, 9101) as ne:
                exported, _ = parse(ne.scrape())
            self.assertEqual(one(exported, "node_textfile_scrape_error"), 0)
            own, _ = parse(body.decode())
            mine = {n for n in own if n.startswith("mapstatd_")}
            self.assertGreater(len(mine), 20)
            self.assertEqual({n for n in exported if n.startswith("mapstatd_")}, mine)
            for name in mine:
                key = lambda sample: sorted(sample[0].items())
                self.assertEqual(sorted(exported[name], key=key), sorted(own[name], key=key),
                                 name)
            self.assertEqual(one(exported, "mapstatd_identity_shared_bytes", comm="shmsrv"),
                             srv("page", self.h.sizes["page"][-1][0])[0]["Shared_Dirty"] * 1024)

    def test_rewritten_every_sweep_and_after_a_failure(self):
        with Daemon(["--interval", "200ms", "--textfile-directory", self.dir, *self.h.roots()],
                    db=self.h.db) as d:
            def sweeps_in_file():
                m = re.search(r"^mapstatd_sweeps_total (\d+)$", self.read(), re.M)
                return int(m.group(1)) if m else 0
            wait_until("the textfile", lambda: os.path.exists(self.path))
            first = sweeps_in_file()
            wait_until("a later sweep in the textfile", lambda: sweeps_in_file() > first + 1)

            # The directory goes away: the daemon says so once and keeps sweeping.
            gone = self.dir + ".gone"
            os.rename(self.dir, gone)
            wait_until("the write failure in the log",
                       lambda: "Failed to write metrics to '%s'" % self.path in d.log())
            d.wait_sweeps(3)
            self.assertEqual(d.log().count("Failed to write metrics"), 1, d.log())
            self.assertEqual(d.get("/healthz")[0], 200)
            # It comes back: the next sweep writes again, and says so.
            os.rename(gone, self.dir)
            wait_until("the recovery in the log",
                       lambda: "Writing metrics to '%s' again" % self.path in d.log())
            before = sweeps_in_file()
            wait_until("a newer textfile", lambda: sweeps_in_file() > before)

    def test_unusable_directory_is_refused(self):
        with open(os.path.join(self.h.tmp, "file"), "w"):
            pass
        for path, why in [(os.path.join(self.h.tmp, "missing"), "No such file or directory"),
                          (os.path.join(self.h.tmp, "file"), "Not a directory")]:
            with self.subTest(path=path):
                r = run_once(["--db", self.h.db, "--textfile-directory", path, *self.h.roots()])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("TextfileDirectory '%s': %s" % (path, why), r.stderr)

    def test_once_writes_it_too(self):
        r = run_once(["--db", self.h.db, "--textfile-directory", self.dir, *self.h.roots()])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(self.read(), r"(?m)^mapstatd_sweeps_total 1$")


if __name__ == "__main__":
    enter_private_network()
    main()
