"""The JSON API on a fixture kernel-change history (tests/integration/history.py): the series of
/processes/{id} and /meminfo (per sweep and aggregated by step=, epochs marked), sort= on
/processes, validators and caching (ETag, 304, Cache-Control), gzip, HEAD, 405, RedactCmdline,
request limits, and 2,000 idle connections that must not keep a normal request waiting.
Every response is also checked against docs/openapi.yaml by the harness."""
import gzip
import re
import signal
import socket
import statistics
import time
import unittest

from harness import Daemon, main, raise_nofile
from history import History, KERNEL_A, KERNEL_B, SWEEPS, sum_by

SHMSRV = "/usr/sbin/shmsrv"


class HistoryApiTest(unittest.TestCase):
    """One daemon over the history; its own first sweep adds one more sweep of kernel B."""

    @classmethod
    def setUpClass(cls):
        cls.h = History()
        cls.h.kernel_change()
        cls.h.history["no_page"].append(cls.h.history["no_page"][-1])
        cls.h.meminfo["no_page"].append(cls.h.meminfo["no_page"][-1])
        cls.d = Daemon(["--interval", "1h", *cls.h.roots()], db=cls.h.db).start()
        cls.d.wait_sweeps(1)
        _, report = cls.d.get("/report")
        cls.ids = {f["identity"]["exe"]: f["identity"]["id"] for f in report["flagged"]}

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        cls.h.close()

    def rss_per_sweep(self, exe):
        return [sum_by(p, exe)["Rss"] for mode in ("page", "no_page")
                for p in self.h.history[mode]]

    # ---- /processes/{id} ----

    def test_identity_series_per_sweep(self):
        status, s = self.d.get("/processes/%d?from=0" % self.ids[SHMSRV])
        self.assertEqual(status, 200, s)
        self.assertEqual(s["identity"]["exe"], SHMSRV)
        self.assertIsNone(s["step_seconds"])
        points = s["points"]
        self.assertEqual(len(points), 2 * SWEEPS + 1)
        self.assertEqual([p["smaps_rollup"]["Rss"] for p in points], self.rss_per_sweep(SHMSRV))
        self.assertEqual({p["sweeps"] for p in points}, {1})
        # The marks: where each epoch starts, with its kernel.
        marks = s["epochs"]
        self.assertEqual([(m["release"], m["mapcount_mode"]) for m in marks],
                         [(KERNEL_A.release, "page_mapcount"),
                          (KERNEL_B.release, "no_page_mapcount")])
        self.assertEqual(marks[0]["time"], points[0]["time"])
        self.assertEqual(marks[1]["time"], points[SWEEPS]["time"])
        self.assertEqual(points[SWEEPS - 1]["epoch"], marks[0]["epoch"])
        self.assertEqual(points[SWEEPS]["epoch"], marks[1]["epoch"])
        # Shared moves across the change exactly as the fixture says (W8: ×2).
        shared = [p["smaps_rollup"]["Shared"] for p in points]
        self.assertGreater(min(shared[SWEEPS:]), 1.8 * max(shared[:SWEEPS]))
        # No pagemap in this history: no exclusivity, no truth.
        self.assertEqual(set(points[0]["exclusive_ratio"].values()), {None})
        self.assertIsNone(points[0]["truth"])

    def test_identity_series_step_aggregates(self):
        # One bucket as wide as the whole history: still one point per epoch (a bucket never
        # mixes two kernels), each the mean of its sweeps, none dropped.
        status, s = self.d.get("/processes/%d?from=0&step=3650d" % self.ids[SHMSRV])
        self.assertEqual(status, 200, s)
        self.assertEqual(s["step_seconds"], 3650 * 86400)
        points = s["points"]
        self.assertEqual([p["sweeps"] for p in points], [SWEEPS, SWEEPS + 1])
        rss = self.rss_per_sweep(SHMSRV)
        self.assertAlmostEqual(points[0]["smaps_rollup"]["Rss"],
                               statistics.mean(rss[:SWEEPS]), delta=0.051)
        self.assertAlmostEqual(points[1]["smaps_rollup"]["Rss"],
                               statistics.mean(rss[SWEEPS:]), delta=0.051)
        self.assertEqual(len(s["epochs"]), 2)

    def test_identity_series_range(self):
        _, all_points = self.d.get("/processes/%d?from=0" % self.ids[SHMSRV])
        pts = all_points["points"]
        # from/to in RFC 3339 and Unix seconds select the same sweeps.
        first_b = pts[SWEEPS]["time"]
        status, s = self.d.get("/processes/%d?from=%s" % (self.ids[SHMSRV], first_b))
        self.assertEqual(status, 200, s)
        self.assertEqual(len(s["points"]), SWEEPS + 1)
        self.assertEqual([m["release"] for m in s["epochs"]], [KERNEL_B.release])
        status, s = self.d.get("/processes/%d?from=0&to=1" % self.ids[SHMSRV])
        self.assertEqual((status, s["points"], s["epochs"]), (200, [], []))

    def test_identity_series_errors(self):
        cases = [
            ("/processes/0", 400, "invalid id"),
            ("/processes/abc", 400, "invalid id"),
            ("/processes/99999", 404, "no identity 99999"),
            ("/processes/1?from=yesterday", 400, "'from'"),
            ("/processes/1?to=2026-13-01T00:00:00Z", 400, "'to'"),
            ("/processes/1?step=0", 400, "'step'"),
            ("/processes/1?step=fast", 400, "'step'"),
            ("/processes/1?from=100&to=50", 400, "'from'"),
            ("/processes/1?limit=5", 400, "'limit'"),
            ("/processes/1/2", 404, "no such endpoint"),
        ]
        for path, code, needle in cases:
            with self.subTest(path=path):
                status, doc = self.d.get(path)
                self.assertEqual(status, code, doc)
                self.assertIn(needle, doc["error"])

    # ---- /meminfo ----

    def test_meminfo_series(self):
        status, s = self.d.get("/meminfo?from=0")
        self.assertEqual(status, 200, s)
        anon = [m["AnonPages"] for mode in ("page", "no_page") for m in self.h.meminfo[mode]]
        self.assertEqual([p["fields"]["AnonPages"] for p in s["points"]], anon)
        self.assertEqual(len(s["epochs"]), 2)
        status, s = self.d.get("/meminfo?from=0&step=3650d")
        self.assertEqual([p["sweeps"] for p in s["points"]], [SWEEPS, SWEEPS + 1])
        self.assertAlmostEqual(s["points"][1]["fields"]["AnonPages"],
                               statistics.mean(anon[SWEEPS:]), delta=0.051)

    # ---- /processes?sort= ----

    def test_sort(self):
        for key, figure in (("rss", lambda p: p["smaps_rollup"]["Rss"]),
                            ("pss", lambda p: p["smaps_rollup"]["Pss"]),
                            ("shared", lambda p: p["smaps_rollup"]["Shared_Clean"] +
                             p["smaps_rollup"]["Shared_Dirty"]),
                            ("private", lambda p: p["smaps_rollup"]["Private_Clean"] +
                             p["smaps_rollup"]["Private_Dirty"])):
            with self.subTest(sort=key):
                status, doc = self.d.get("/processes?sort=" + key)
                self.assertEqual((status, doc["sort"]), (200, key))
                values = [figure(p) for p in doc["processes"]]
                self.assertEqual(values, sorted(values, reverse=True))
                self.assertGreater(len(set(values)), 2)
        _, doc = self.d.get("/processes?sort=name")
        names = [p["identity"]["comm"] for p in doc["processes"]]
        self.assertEqual(names, sorted(names))
        status, doc = self.d.get("/processes?sort=size")
        self.assertEqual(status, 400)
        self.assertIn("'sort'", doc["error"])

    # ---- HTTP ----

    def test_etag_and_304(self):
        for path in ("/report", "/processes/%d?from=0" % self.ids[SHMSRV], "/meminfo", "/epochs",
                     "/metrics", "/", "/static/app.js", "/openapi.json"):
            with self.subTest(path=path):
                status, headers, body = self.d.request(path, raw=True)
                self.assertEqual(status, 200)
                etag = headers["ETag"]
                self.assertRegex(etag, r'^"[0-9a-z-]+"$')
                self.assertEqual(headers["Cache-Control"], "no-cache")
                for inm in (etag, "W/" + etag, '"other", ' + etag, "*"):
                    status, h2, body2 = self.d.request(path, headers={"If-None-Match": inm},
                                                       raw=True)
                    self.assertEqual((status, body2), (304, b""), inm)
                    self.assertEqual(h2["ETag"], etag)
                status, _, body2 = self.d.request(path, headers={"If-None-Match": '"stale"'},
                                                  raw=True)
                self.assertEqual((status, body2), (200, body))
        # Not cached: the health document changes with the clock.
        _, headers, _ = self.d.request("/healthz", raw=True)
        self.assertNotIn("ETag", headers)
        self.assertEqual(headers["Cache-Control"], "no-store")

    def test_gzip(self):
        for path in ("/report", "/metrics", "/", "/static/dygraph.min.js", "/openapi.json"):
            with self.subTest(path=path):
                _, plain_headers, plain = self.d.request(path, raw=True)
                self.assertGreater(len(plain), 1024)
                self.assertNotIn("Content-Encoding", plain_headers)
                self.assertEqual(plain_headers["Vary"], "Accept-Encoding")
                status, headers, zipped = self.d.request(
                    path, headers={"Accept-Encoding": "br, gzip;q=0.8"}, raw=True)
                self.assertEqual((status, headers["Content-Encoding"]), (200, "gzip"))
                self.assertEqual(gzip.decompress(zipped), plain)
                self.assertLess(len(zipped), len(plain))
                self.assertNotEqual(headers["ETag"], plain_headers["ETag"])
                _, headers, body = self.d.request(path, headers={"Accept-Encoding": "gzip;q=0"},
                                                  raw=True)
                self.assertNotIn("Content-Encoding", headers)
                self.assertEqual(body, plain)

    def test_head_everywhere(self):
        for path in ("/report", "/forecast", "/processes", "/processes/%d" % self.ids[SHMSRV],
                     "/meminfo", "/epochs", "/metrics", "/healthz", "/", "/openapi.json"):
            with self.subTest(path=path):
                status, get_headers, get_body = self.d.request(path, raw=True)
                status_head, headers, body = self.d.request(path, method="HEAD", raw=True)
                self.assertEqual((status_head, body), (status, b""))
                self.assertEqual(headers["Content-Type"], get_headers["Content-Type"])
                if path != "/healthz":
                    self.assertEqual(int(headers["Content-Length"]), len(get_body))

    def test_other_methods(self):
        for path in ("/metrics", "/processes/1", "/", "/nope"):
            for method in ("POST", "DELETE", "OPTIONS"):
                with self.subTest(path=path, method=method):
                    status, headers, doc = self.d.request(path, method=method)
                    self.assertEqual(status, 405)
                    self.assertEqual(headers["Allow"], "GET, HEAD")
                    self.assertIn(method, doc["error"])

    def test_pipelined_after_another_method(self):
        # A wrong method does not cost the requests pipelined after it: each is answered in
        # order on the same connection. A body too large to read and discard (over 64 KiB, or
        # chunked) is not read: the 405 comes at once and the connection is closed after it.
        get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        last = b"GET /epochs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for first in (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                      b"DELETE /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                      b"OPTIONS /report HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"):
            with self.subTest(first=first[:12]):
                reply = self.d.raw(first + get + last)
                self.assertEqual(re.findall(rb"HTTP/1\.1 (\d+)", reply), [b"405", b"200", b"200"])
        for first, status in (
                (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", b"405"),
                (b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b"405"),
                (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", b"200")):
            with self.subTest(first=first[:60]):
                reply = self.d.raw(first + get)
                self.assertEqual(re.findall(rb"HTTP/1\.1 (\d+)", reply), [status])

    def test_request_limits(self):
        # The request line and headers may take about 32 KiB together.
        for request, codes in (
                (b"GET /report?" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", (b"414",)),
                (b"GET /report HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n",
                 (b"431", b"413")),
        ):
            with self.subTest(request=request[:30]):
                reply = self.d.raw(request)
                self.assertRegex(reply, rb"^HTTP/1\.1 (" + b"|".join(codes) + rb")")
        status, _ = self.d.get("/healthz")
        self.assertEqual(status, 200)

class RefreshTest(unittest.TestCase):
    def test_answers_are_refreshed_after_a_new_generation(self):
        # The answers requests used are computed again by the refresher after each sweep or
        # reload (SIGHUP makes a new generation without a sweep), not by the next request.
        h = History()
        self.addCleanup(h.close)
        h.kernel_change(sweeps=2)
        with Daemon(["--interval", "1h", "--log-level", "debug", *h.roots()], db=h.db) as d:
            d.wait_sweeps(1)
            etags = {}
            for path in ("/report", "/metrics", "/processes?sort=rss"):
                _, headers, _ = d.request(path, raw=True)
                etags[path] = headers["ETag"]
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for("READY=1")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "Refreshed 3 cached answers" not in d.log():
                time.sleep(0.1)
            self.assertIn("Refreshed 3 cached answers", d.log())
            for path, etag in etags.items():
                status, headers, body = d.request(path, headers={"If-None-Match": etag},
                                                  raw=True)
                self.assertEqual(status, 200, path)
                self.assertNotEqual(headers["ETag"], etag)
                self.assertTrue(body)


class IdleConnectionsTest(unittest.TestCase):
    def test_idle_connections_do_not_starve_a_request(self):
        # 2,000 clients connect and send nothing, or half a request line, and stay: a normal
        # request must still be answered within a second, more than once. The limit of open
        # files is raised first (as root) for this process and the daemon it starts.
        raise_nofile(4096)
        idle = []
        with Daemon(["--interval", "1h"]) as d:
            d.wait_sweeps(1)
            try:
                for i in range(2000):
                    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                    if i % 2:
                        s.sendall(b"GET /rep")
                    idle.append((time.monotonic(), s))
                for path in ("/report", "/healthz", "/metrics"):
                    start = time.monotonic()
                    status, _, _ = d.request(path, raw=True)
                    took = time.monotonic() - start
                    self.assertEqual(status, 200, path)
                    self.assertLess(took, 1.0, "%s took %.2f s beside 2000 idle connections"
                                    % (path, took))
                # They are still open, not dropped to make room: all but those idle for longer
                # than the idle timeout (15 s), which the daemon closes by design.
                young = [s for opened, s in idle if time.monotonic() - opened < 14]
                alive = 0
                for s in young:
                    s.setblocking(False)
                    try:
                        alive += s.recv(1) != b""
                    except BlockingIOError:
                        alive += 1
                self.assertGreater(len(young), 0)
                self.assertEqual(alive, len(young))
            finally:
                for _, s in idle:
                    s.close()


    def test_connection_limit_and_idle_timeout(self):
        # With RLIMIT_NOFILE at 600 the daemon holds 600 - 64 connections at most (the rest of
        # its descriptors are its own). Of 600 idle clients, those beyond the limit wait in the
        # listen queue; each held one is closed after 15 s of silence, which lets the waiting
        # ones in: 16 s on, only those are still open. The daemon stays up, says nothing per
        # client, and answers a request once they are gone.
        raise_nofile(2048)
        limit, clients = 600 - 64, 600
        with Daemon(["--interval", "1h"], wrapper=["prlimit", "--nofile=600:600", "--"]) as d:
            d.wait_sweeps(1)
            with open("/proc/%d/limits" % d.proc.pid) as f:
                self.assertRegex(f.read(), r"Max open files +600 +600")
            idle = [socket.create_connection(("127.0.0.1", d.port), timeout=10)
                    for _ in range(clients)]
            try:
                # The held ones go after 15 s; wait for it rather than guess the moment.
                deadline = time.monotonic() + 30
                late = clients
                while late > clients - limit and time.monotonic() < deadline:
                    time.sleep(0.5)
                    late = sum(map(still_open, idle))
                self.assertGreater(late, 0)
                self.assertLessEqual(late, clients - limit)
                self.assertIsNone(d.proc.poll())
            finally:
                for s in idle:
                    s.close()
            self.assertEqual(d.get("/healthz")[0], 200)
            self.assertNotIn("libmicrohttpd", d.log())      # not one line per client


def still_open(s):
    """Whether the server has not closed the connection s (it sends nothing unasked)."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False


class RedactTest(unittest.TestCase):
    def test_redact_cmdline(self):
        h = History()
        self.addCleanup(h.close)
        h.kernel_change(sweeps=3)
        with Daemon(["--interval", "1h", "--redact-cmdline", "yes", *h.roots()],
                    db=h.db) as d:
            d.wait_sweeps(1)
            _, report = d.get("/report")
            shmsrv = [f["identity"] for f in report["flagged"] if f["identity"]["exe"] == SHMSRV]
            self.assertEqual(len(shmsrv), 1)
            self.assertEqual(shmsrv[0]["cmdline"], SHMSRV)
            self.assertEqual(shmsrv[0]["key"], "exe-args:" + SHMSRV)
            # The arguments of the fixture's processes appear in no response at all.
            for path in ("/report", "/forecast", "/processes", "/processes?sort=name",
                         "/processes/%d?from=0" % shmsrv[0]["id"], "/metrics", "/epochs"):
                with self.subTest(path=path):
                    status, _, body = d.request(path, raw=True)
                    self.assertEqual(status, 200)
                    for secret in (b"--segments", b"--workers", b"--attach", b"--port"):
                        self.assertNotIn(secret, body)
        # Without it, the same history shows them.
        with Daemon(["--interval", "1h", *h.roots()], db=h.db) as d:
            d.wait_sweeps(1)
            _, _, body = d.request("/report", raw=True)
            self.assertIn(b"--segments", body)


if __name__ == "__main__":
    main()
