"""The daemon under valgrind's memcheck: many sweeps in the full pagemap mode on the real /proc
(with processes coming and going between them, so that reuse, the kept reconstruction and its
rebuild all run), requests to every endpoint, a reload, and a clean stop. No invalid access, no
use of uninitialised memory, no leak (definite or indirect). Registered in the plain build
only: the sanitizer build has its own checks, and valgrind cannot run it."""
import re
import shutil
import signal
import subprocess
import unittest

from harness import Daemon, main

SWEEPS = 20
ENDPOINTS = ["/healthz", "/processes?limit=20", "/report", "/forecast", "/epochs", "/metrics",
             "/snapshot", "/meminfo", "/cgroups", "/"]


class ValgrindTest(unittest.TestCase):
    def test_full_mode_sweeps_under_memcheck(self):
        if not shutil.which("valgrind"):
            self.skipTest("valgrind is not installed")
        wrapper = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                   "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
                   "--track-origins=yes"]
        helpers = []
        with Daemon(["--interval", "1s", "--pagemap", "full", "--max-staleness", "3s"],
                    wrapper=wrapper) as d:
            try:
                for i in range(SWEEPS):
                    d.wait_sweeps(1, timeout=120)
                    if i % 4 == 1:      # a process comes, another goes
                        helpers.append(subprocess.Popen(["sleep", "600"]))
                        if len(helpers) > 2:
                            gone = helpers.pop(0)
                            gone.kill()
                            gone.wait()
                    if i == SWEEPS // 2:
                        d.proc.send_signal(signal.SIGHUP)
                        d.wait_for("READY=1", timeout=120)
                for path in ENDPOINTS:
                    status, _, _ = d.request(path, raw=True)
                    self.assertEqual(status, 200, path)
                # Between sweeps, so that the stop does not wait for one under valgrind.
                d.wait_sweeps(1, timeout=120)
                code = d.stop(timeout=120)
            finally:
                for p in helpers:
                    p.kill()
                    p.wait()
            log = d.log()
        errors = re.findall(r"(?m)^==\d+== .*", log)
        self.assertEqual(code, 0, "\n".join(errors[:80]) or log[-4000:])
        self.assertEqual(errors, [], "\n".join(errors[:80]))


if __name__ == "__main__":
    main()
