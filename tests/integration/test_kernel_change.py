"""A kernel change on fixture trees: kernel A (page_mapcount) is swept several times with
normal noise, then kernel B (no_page_mapcount), where some processes' figures move exactly as
docs/kernel-semantics.md §8 describes (W5, W6, W8) and others only fluctuate. /report must flag
exactly the ones that moved, with the right before/after figures."""
import os
import statistics
import unittest

from harness import Daemon, main
from history import History, KERNEL_A, KERNEL_B, SWEEPS

class KernelChangeTest(unittest.TestCase):
    def setUp(self):
        self.h = History()

    def tearDown(self):
        self.h.close()

    def test_report_flags_exactly_the_moved(self):
        for i in range(SWEEPS):
            self.h.sweep("page", KERNEL_A, i)
        for i in range(SWEEPS):
            self.h.sweep("no_page", KERNEL_B, i)
        # The daemon's own first sweep reads the last B tree once more.
        self.h.history["no_page"].append(self.h.history["no_page"][-1])
        self.h.meminfo["no_page"].append(self.h.meminfo["no_page"][-1])

        with Daemon(["--interval", "1h", *self.h.roots()], db=self.h.db) as d:
            d.wait_sweeps(1)
            status, rep = d.get("/report")
            self.assertEqual(status, 200, rep)
            _, health = d.get("/healthz")
            _, epochs = d.get("/epochs")

        self.assertEqual(health["last_sweep"]["skipped"]["malformed"], 1)
        self.assertEqual(health["last_sweep"]["kernel_threads"], 1)
        self.assertEqual(health["last_sweep"]["processes_sampled"], 8)

        self.assertEqual([e["mapcount_mode"] for e in epochs["epochs"]],
                         ["page_mapcount", "no_page_mapcount"])
        self.assertEqual({(e["hostname"], e["machine_id"]) for e in epochs["epochs"]},
                         {(KERNEL_A.hostname, KERNEL_A.machine_id)})
        self.assertEqual(rep["baseline"]["release"], KERNEL_A.release)
        self.assertEqual(rep["baseline"]["mapcount_mode"], "page_mapcount")
        self.assertEqual(rep["baseline"]["sweeps"], SWEEPS)
        self.assertEqual(rep["candidate"]["release"], KERNEL_B.release)
        self.assertEqual(rep["candidate"]["mapcount_mode"], "no_page_mapcount")
        self.assertEqual(rep["candidate"]["sweeps"], SWEEPS + 1)

        flagged = {e["identity"]["exe"]: e for e in rep["flagged"]}
        self.assertEqual(set(flagged), {"/usr/sbin/shmsrv", "/usr/bin/dualmap",
                                        "/usr/bin/thp-cache"}, rep["flagged"])
        self.assertEqual([i["exe"] for i in rep["appeared"]], ["/usr/bin/new-agent"])
        self.assertEqual([i["exe"] for i in rep["disappeared"]], ["/usr/bin/legacy-agent"])
        # shmcli, stable, noisy and thp-cache's siblings: compared, not flagged.
        self.assertEqual(rep["compared"], 6)

        moved = {
            "/usr/sbin/shmsrv": {"Shared", "Private", "Pss", "Pss_Shmem"},
            "/usr/bin/dualmap": {"Shared", "Private"},
            "/usr/bin/thp-cache": {"Pss", "Pss_Anon"},
        }
        for exe, metrics in moved.items():
            entry = flagged[exe]
            with self.subTest(exe=exe):
                got = {m for m, v in entry["metrics"].items() if v["flagged"]}
                self.assertEqual(got, metrics)
                self.assertEqual(len(entry["reasons"]), len(metrics))
                self.assertEqual(entry["samples"], {"baseline": SWEEPS, "candidate": SWEEPS + 1})
                for m, v in entry["metrics"].items():
                    before, after = self.h.expected(exe, m)
                    self.assertAlmostEqual(v["before_kb"], before, delta=0.51, msg=m)
                    self.assertAlmostEqual(v["after_kb"], after, delta=0.51, msg=m)
                    self.assertAlmostEqual(v["delta_kb"], after - before, delta=1.01, msg=m)
        self.assertEqual(flagged["/usr/bin/thp-cache"]["processes"],
                         {"baseline": 2, "candidate": 2})
        # W6 from first principles: Shared 204800 kB → 0, Private 0 → 204800 kB (±0.4% noise).
        dm = flagged["/usr/bin/dualmap"]["metrics"]
        self.assertAlmostEqual(dm["Shared"]["before_ratio"], 1.0, delta=0.01)
        self.assertAlmostEqual(dm["Private"]["after_ratio"], 1.0, delta=0.01)
        self.assertAlmostEqual(dm["Shared"]["delta_points"], -100, delta=1)

        system = rep["system"]
        self.assertIn("AnonPages", system["flagged"])
        for field in ("Mapped", "Shmem", "MemFree"):
            self.assertIn(field, system["fields"])
            self.assertNotIn(field, system["flagged"])
        anon = system["fields"]["AnonPages"]
        before = statistics.median(m["AnonPages"] for m in self.h.meminfo["page"])
        after = statistics.median(m["AnonPages"] for m in self.h.meminfo["no_page"])
        self.assertAlmostEqual(anon["before_kb"], before, delta=0.51)
        self.assertAlmostEqual(anon["after_kb"], after, delta=0.51)

    def test_unreadable_kernel_identity_is_not_a_storage_failure(self):
        # A tree whose osrelease disappears: the sweep fails for that reason (once in the log,
        # /healthz degraded with sweep_error), the database is not blamed, and it recovers.
        self.h.sweep("page", KERNEL_A, 0)
        osrelease = os.path.join(self.h.tree, "proc", "sys", "kernel", "osrelease")
        with Daemon(["--interval", "200ms", *self.h.roots()], db=self.h.db) as d:
            d.wait_sweeps(1)
            os.rename(osrelease, osrelease + ".gone")
            for _ in range(3):
                d.wait_for("STATUS=Sweep failed: cannot read the kernel identity")
            status, health = d.get("/healthz")
            self.assertEqual(status, 503)
            self.assertEqual(health["status"], "degraded")
            self.assertIsNone(health["storage_error"])
            self.assertIn("kernel identity", health["sweep_error"])
            os.rename(osrelease + ".gone", osrelease)
            d.wait_for("last sweep")
            status, health = d.get("/healthz")
            self.assertEqual((status, health["status"], health["sweep_error"]), (200, "ok", None))
            self.assertEqual(d.stop(), 0)
            log = d.log()
        self.assertEqual(log.count("cannot read the kernel identity"), 1, log)
        self.assertNotIn("Failed to record sweep", log)
        self.assertEqual(log.count("work again"), 1, log)

    def test_thresholds_from_query(self):
        for i in range(2):
            self.h.sweep("page", KERNEL_A, i)
        for i in range(2):
            self.h.sweep("no_page", KERNEL_B, i)
        with Daemon(["--interval", "1h", *self.h.roots()], db=self.h.db) as d:
            d.wait_sweeps(1)
            # A huge kB floor suppresses everything; explicit epochs are honoured.
            status, rep = d.get("/report?min_delta_kb=100000000&baseline=1&candidate=2")
            self.assertEqual(status, 200, rep)
            self.assertEqual(rep["flagged"], [])
            self.assertEqual(rep["thresholds"]["min_delta_kb"], 100000000)
            status, rep = d.get("/report?baseline=2&candidate=1")
            self.assertEqual(status, 200)
            self.assertEqual(rep["baseline"]["epoch"], 2)
            status, rep = d.get("/report?baseline=2&candidate=2")
            self.assertEqual(status, 400)


if __name__ == "__main__":
    main()
