"""Process churn on the real /proc, in every pagemap mode: thousands of short-lived processes,
and processes that change their mappings as fast as they can, while sweeps run every 200 ms.
No crash, no stuck sweep, the processes that vanished mid-read counted, and none of it logged
process by process."""
import re
import subprocess
import sys
import threading
import time
import unittest

from harness import Daemon, main, stop_process

CHURN_SECONDS = 6
# A process that maps, touches and unmaps memory in a loop until killed: its maps and pagemap
# change under every read.
REMAPPER = """
import mmap
while True:
    for size in (1 << 16, 1 << 20, 3 << 20):
        m = mmap.mmap(-1, size)
        m[0:1] = b"x"
        m[size - 1:size] = b"y"
        m.close()
"""


def skipped_vanished(metrics):
    m = re.search(r'^mapstatd_processes_skipped_total\{reason="vanished"\} (\d+)', metrics,
                  re.M)
    return int(m.group(1)) if m else 0


class ChurnTest(unittest.TestCase):
    def churn(self, mode):
        stop = threading.Event()
        spawned = [0]

        def short_lived():
            live = []
            while not stop.is_set():
                live.append(subprocess.Popen(["sleep", "0.03"]))
                spawned[0] += 1
                if len(live) >= 40:
                    live.pop(0).wait()
            for p in live:
                p.wait()

        for _ in range(2):
            remapper = subprocess.Popen([sys.executable, "-c", REMAPPER])
            self.addCleanup(stop_process, remapper, 0)
        with Daemon(["--interval", "200ms", "--pagemap", mode]) as d:
            try:
                d.wait_sweeps(1)
                spawner = threading.Thread(target=short_lived)
                spawner.start()
                sweeps_before = d.get("/healthz")[1]["sweeps_stored"]
                deadline = time.monotonic() + CHURN_SECONDS
                while time.monotonic() < deadline:
                    status, health = d.get("/healthz")
                    self.assertEqual((status, health["status"]), (200, "ok"), health)
                    d.drain()
                stop.set()
                spawner.join()
                d.wait_sweeps(1)
                _, health = d.get("/healthz")
                _, _, metrics = d.request("/metrics", raw=True)
            finally:
                stop.set()
            self.assertGreater(spawned[0], 1000)
            # A sweep every 200 ms, however slow under a sanitizer: at least a few.
            self.assertGreaterEqual(health["sweeps_stored"] - sweeps_before, 5, health)
            self.assertGreater(skipped_vanished(metrics.decode()), 0, metrics[:2000])
            self.assertEqual(d.stop(), 0)
            # A few lines for the start and the stop, none per process.
            lines = d.log().splitlines()
            self.assertLess(len(lines), 10, "\n".join(lines[:30]))

    def test_off(self):
        self.churn("off")

    def test_exclusivity(self):
        self.churn("exclusivity")

    def test_full(self):
        self.churn("full")


if __name__ == "__main__":
    main()
