"""Every HTTP endpoint and error path against a real daemon sweeping the real /proc."""
import os
import signal
import sqlite3
import time
import unittest

import fixture_tree
from harness import Daemon, main


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(["--interval", "1h"]).start()
        cls.d.wait_sweeps(1)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def test_healthz(self):
        status, doc = self.d.get("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(doc["status"], "ok")
        self.assertGreaterEqual(doc["sweeps_stored"], 1)
        self.assertIsNone(doc["storage_error"])
        last = doc["last_sweep"]
        self.assertGreater(last["processes_sampled"], 1)
        self.assertGreaterEqual(last["duration_seconds"], 0)
        self.assertIn("T", last["time"])
        for k in ("vanished", "denied", "malformed"):
            self.assertIn(k, last["skipped"])
        self.assertEqual(doc["interval_seconds"], 3600)

    def test_head(self):
        status, headers, body = self.d.request("/healthz", method="HEAD", raw=True)
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")

    def test_processes(self):
        status, doc = self.d.get("/processes")
        self.assertEqual(status, 200)
        self.assertGreater(doc["total"], 1)
        self.assertEqual(doc["limit"], 100)
        self.assertEqual(doc["offset"], 0)
        self.assertEqual(len(doc["processes"]), min(100, doc["total"]))
        # The daemon samples itself: find it by PID.
        mine = [p for p in doc["processes"] if self.d.proc.pid in p["pids"]]
        self.assertEqual(len(mine), 1, doc["processes"][:3])
        entry = mine[0]
        self.assertEqual(entry["identity"]["comm"], "mapstatd")
        self.assertTrue(entry["identity"]["exe"].endswith("/mapstatd"))
        self.assertIn("--interval", entry["identity"]["cmdline"])
        for field in ("Rss", "Pss", "Pss_Anon", "Shared_Clean", "Private_Dirty", "Swap"):
            self.assertIn(field, entry["smaps_rollup"])
        self.assertGreater(entry["smaps_rollup"]["Rss"], 0)
        self.assertIn("unit", entry["identity"])

    def test_processes_paging(self):
        _, full = self.d.get("/processes?limit=10000")
        status, page = self.d.get("/processes?limit=2&offset=1")
        self.assertEqual(status, 200)
        self.assertEqual(len(page["processes"]), min(2, full["total"] - 1))
        self.assertEqual(page["processes"][0]["identity"]["id"],
                         full["processes"][1]["identity"]["id"])
        status, past = self.d.get("/processes?offset=%d" % (full["total"] + 5))
        self.assertEqual(status, 200)
        self.assertEqual(past["processes"], [])

    def test_epochs(self):
        status, doc = self.d.get("/epochs")
        self.assertEqual(status, 200)
        self.assertEqual(len(doc["epochs"]), 1)
        e = doc["epochs"][0]
        self.assertEqual(e["release"], os.uname().release)
        with open("/proc/sys/kernel/random/boot_id") as f:
            self.assertEqual(e["boot_id"], f.read().strip())
        self.assertIn(e["mapcount_mode"], ("page_mapcount", "no_page_mapcount", "unknown"))
        self.assertEqual(e["page_size"], os.sysconf("SC_PAGE_SIZE"))
        self.assertGreaterEqual(e["sweeps"], 1)
        if os.path.exists("/sys/kernel/mm/transparent_hugepage/enabled"):
            self.assertIn("transparent_hugepage/enabled", e["thp"])

    def test_report_without_baseline(self):
        status, doc = self.d.get("/report")
        self.assertEqual(status, 200)
        for key in ("baseline", "candidate", "flagged", "appeared", "disappeared", "system",
                    "thresholds"):
            self.assertIn(key, doc)
        self.assertIsNone(doc["baseline"])
        self.assertEqual(doc["candidate"]["release"], os.uname().release)
        self.assertEqual(doc["flagged"], [])
        self.assertIn("message", doc)
        self.assertEqual(doc["thresholds"],
                         {"min_delta_kb": 1024, "min_delta_points": 1.0, "noise_factor": 3.0})

    def test_bad_parameters(self):
        cases = [
            "/report?baseline=999", "/report?candidate=0", "/report?baseline=abc",
            "/report?min_delta_kb=-1", "/report?noise_factor=abc", "/report?min_delta_points=",
            "/report?bogus=1", "/processes?limit=0", "/processes?limit=10001",
            "/processes?offset=-1", "/processes?limit=x", "/healthz?x=1",
        ]
        for path in cases:
            with self.subTest(path=path):
                status, headers, doc = self.d.request(path)
                self.assertEqual(status, 400, doc)
                self.assertEqual(doc["status"], 400)
                self.assertTrue(doc["error"])
                self.assertTrue(headers["Content-Type"].startswith("application/json"))

    def test_unknown_path(self):
        status, _, doc = self.d.request("/nope")
        self.assertEqual(status, 404)
        self.assertIn("/nope", doc["error"])

    def test_wrong_method(self):
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                status, headers, doc = self.d.request("/report", method=method, body=b"{}")
                self.assertEqual(status, 405)
                self.assertIn("GET", headers.get("Allow", ""))
                self.assertEqual(doc["status"], 405)

    def test_malformed_http(self):
        for garbage in (b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n",
                        b"GET " + b"/x" * 20000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"):
            with self.subTest(garbage=garbage[:20]):
                reply = self.d.raw(garbage)
                if reply:
                    self.assertRegex(reply, rb"^HTTP/1\.[01] (4\d\d|505)")
        # Still serving afterwards.
        status, _ = self.d.get("/healthz")
        self.assertEqual(status, 200)

    def test_nul_in_request_target(self):
        # libmicrohttpd decodes %00 in place, which would cut the path or a value short:
        # /healthz%00x used to answer as /healthz.
        for target in (b"/healthz%00x", b"/processes?limit=1%00x", b"/report?min_delta_kb=%00"):
            with self.subTest(target=target):
                reply = self.d.raw(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n"
                                   b"Connection: close\r\n\r\n")
                self.assertRegex(reply, rb"^HTTP/1\.1 400 ")
                self.assertIn(b"application/json", reply)
                self.assertIn(b"NUL byte", reply)
        # An escaped percent sign is a literal "%00", not a NUL byte: an unknown endpoint.
        status, doc = self.d.get("/report%2500")
        self.assertEqual(status, 404, doc)

    def test_too_many_query_parameters(self):
        # About 500 parameters used to exhaust libmicrohttpd's connection pool: no answer until
        # the 15 s idle timeout. More than 64 are refused at once, in JSON; 64 are parsed.
        for n, error in ((64, b"unknown parameter 'a0'"), (65, b"more than 64 query parameters"),
                         (500, b"more than 64 query parameters"),
                         (2000, b"more than 64 query parameters")):
            with self.subTest(n=n):
                query = "&".join("a%d=1" % i for i in range(n)).encode()
                started = time.monotonic()
                reply = self.d.raw(b"GET /healthz?" + query + b" HTTP/1.1\r\nHost: a\r\n"
                                   b"Connection: close\r\n\r\n")
                self.assertLess(time.monotonic() - started, 5)
                self.assertRegex(reply, rb"^HTTP/1\.1 400 ")
                self.assertIn(b"application/json", reply)
                self.assertIn(error, reply)


class StuckSweepTest(unittest.TestCase):
    def test_stuck_sweep_is_unhealthy(self):
        # The first sweep blocks for good (opening osrelease on a hung file system): nothing
        # is published, and /healthz, which answered "starting" with 200, says the sweep is
        # stuck (503) once no sweep has ended for twice the interval and 5 s.
        with Daemon(["--interval", "500ms", *fixture_tree.hanging_roots(self)]) as d:
            status, health = d.get("/healthz")
            self.assertEqual((status, health["status"]), (200, "starting"))
            deadline = time.monotonic() + 30
            while status == 200 and time.monotonic() < deadline:
                time.sleep(0.5)
                status, health = d.get("/healthz")
            self.assertEqual((status, health["status"]), (503, "degraded"))
            self.assertIn("a sweep is stuck", health["sweep_error"])
            self.assertGreaterEqual(health["uptime_seconds"], 6)

    def test_sigterm_ends_a_stuck_sweep(self):
        # SIGTERM while the sweep is blocked in open(): the loop that would see it is the one
        # blocked, so the stop guard ends the process after its deadline (3 s), saying why.
        # The sweeps committed before are kept: a second daemon on the database sees them.
        with Daemon(["--interval", "1h"]) as d:
            d.wait_sweeps(1)
            self.assertEqual(d.stop(signal.SIGTERM), 0)
            db = d.db
            hung = fixture_tree.hanging_tree(self)
            with Daemon(["--interval", "1h", *hung.roots()], db=db) as d2:
                hung.wait_open()
                status, health = d2.get("/healthz")
                self.assertEqual((status, health["sweeps_stored"]), (200, 1))
                started = time.monotonic()
                self.assertEqual(d2.stop(signal.SIGTERM, timeout=10), 0)
                took = time.monotonic() - started
                self.assertGreaterEqual(took, 2.5)
                self.assertLess(took, 6)
                self.assertIn("Still running 3 s after SIGTERM: the sweep loop is blocked",
                              d2.log())
            with Daemon(["--interval", "1h"], db=db) as d3:
                d3.wait_sweeps(1)
                self.assertEqual(d3.get("/healthz")[1]["sweeps_stored"], 2)


    def test_sigterm_abandons_a_slow_sweep(self):
        # Every open on this file system takes 150 ms: reading a process takes about 1 s, the
        # whole tree over 6 s. SIGTERM once the sweep reads its first process: it gives up at
        # the next one and stores nothing, and the daemon stops cleanly, before the stop
        # guard's deadline (3 s) would have cut the rest of the sweep.
        slow = fixture_tree.hanging_tree(self, hang=(), delay_ms=150)
        with Daemon(["--interval", "1h", *slow.roots()]) as d:
            slow.wait_open(r"delayed proc/\d+/")
            started = time.monotonic()
            self.assertEqual(d.stop(signal.SIGTERM, timeout=10), 0)
            self.assertLess(time.monotonic() - started, 2.5)
            self.assertIn("Received SIGTERM, stopping", d.log())
            self.assertNotIn("Still running", d.log())
            con = sqlite3.connect(d.db)
            try:
                self.assertEqual(con.execute("SELECT count(*) FROM sweeps").fetchone()[0], 0)
            finally:
                con.close()


class LifecycleTest(unittest.TestCase):
    def test_sigterm_exits_cleanly(self):
        with Daemon(["--interval", "1h"]) as d:
            d.wait_sweeps(1)
            self.assertEqual(d.stop(signal.SIGTERM), 0)
            self.assertTrue(any("STOPPING=1" in m for m in d.messages) or
                            d.notify.recv(4096).find(b"STOPPING=1") >= 0)

    def test_sweeps_repeat(self):
        with Daemon(["--interval", "200ms"]) as d:
            d.wait_sweeps(3)
            status, doc = d.get("/healthz")
            self.assertGreaterEqual(doc["sweeps_stored"], 3)
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    main()
