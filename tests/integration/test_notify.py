"""The systemd protocols against the bare binary: socket activation (the harness), every
sd_notify message (READY, STATUS, WATCHDOG, RELOADING, STOPPING), SIGHUP reloads of a valid and
an invalid configuration with drop-ins, and the watchdog going quiet when a sweep hangs."""
import os
import signal
import tempfile
import time
import unittest

import fixture_tree
from harness import Daemon, main, run_once


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.close()

    def start(self, conf_text=None, dropins=None, env=None, args=()):
        self.d = Daemon(list(args), env=env)
        conf = os.path.join(self.d.tmp, "mapstatd.conf")
        if conf_text is not None:
            with open(conf, "w") as f:
                f.write(conf_text)
        if dropins:
            os.mkdir(conf + ".d")
            for name, text in dropins.items():
                with open(os.path.join(conf + ".d", name), "w") as f:
                    f.write(text)
        self.d.args += ["--config", conf]
        self.conf = conf
        return self.d.start()

    def test_ready_status_watchdog_stopping(self):
        d = self.start("[Daemon]\nInterval=1h\n", env={"WATCHDOG_USEC": "1000000"})
        ready = [m for m in d.messages if "READY=1" in m]
        self.assertEqual(len(ready), 1)
        d.wait_sweeps(1)
        status = d.messages[-1]
        self.assertRegex(status, r"STATUS=\d+ processes, epoch 1 \(.+, (page|no_page)_mapcount\), "
                                 r"last sweep \d+\.\d+ s")
        # The loop pings the watchdog while it is idle, well within the interval.
        d.wait_for("WATCHDOG=1", timeout=5)
        self.assertEqual(d.stop(signal.SIGTERM), 0)
        while d._recv(0.2):
            pass
        self.assertTrue(any("STOPPING=1" in m for m in d.messages), d.messages)

    def test_dropins_and_reload(self):
        d = self.start("[Daemon]\nInterval=1h\n[Report]\nMinDeltaKB=100\n",
                       dropins={"20-later.conf": "[Report]\nMinDeltaKB=300\n",
                                "10-first.conf": "[Report]\nMinDeltaKB=200\nNoiseFactor=5\n",
                                "ignored.txt": "[Nope]\nX=1\n"})
        d.wait_sweeps(1)
        _, rep = d.get("/report")
        # Main file, then drop-ins in lexical order; other file names are ignored.
        self.assertEqual(rep["thresholds"]["min_delta_kb"], 300)
        self.assertEqual(rep["thresholds"]["noise_factor"], 5)

        # A valid change: applied, with RELOADING=1 then READY=1.
        with open(self.conf, "w") as f:
            f.write("[Daemon]\nInterval=2h\n[Report]\nMinDeltaKB=100\n")
        d.messages.clear()
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for("RELOADING=1")
        d.wait_for("READY=1")
        _, health = d.get("/healthz")
        self.assertEqual(health["interval_seconds"], 7200)
        _, rep = d.get("/report")
        self.assertEqual(rep["thresholds"]["min_delta_kb"], 300)   # the drop-in still wins

        # An invalid change: rejected with one error naming file and line, old values kept.
        with open(os.path.join(self.conf + ".d", "30-bad.conf"), "w") as f:
            f.write("[Daemon]\nInterval=5s\nPagemap=sometimes\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for("RELOADING=1")
        d.wait_for("READY=1")
        _, health = d.get("/healthz")
        self.assertEqual(health["interval_seconds"], 7200)
        self.assertEqual(d.proc.poll(), None)
        log = d.log()
        self.assertIn("Failed to reload configuration", log)
        self.assertIn("30-bad.conf:3", log)
        self.assertIn("keeping the current one", log)
        self.assertEqual(d.stop(), 0)

    def test_shorter_interval_applies_at_once(self):
        # A reload that shortens the interval must not wait for the sweep planned an hour away.
        d = self.start("[Daemon]\nInterval=1h\n")
        d.wait_sweeps(1)
        with open(self.conf, "w") as f:
            f.write("[Daemon]\nInterval=200ms\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for("READY=1")
        d.wait_sweeps(2, timeout=20)
        _, health = d.get("/healthz")
        self.assertGreaterEqual(health["sweeps_stored"], 3)
        self.assertEqual(d.stop(), 0)

    def test_bad_dropin_at_start(self):
        with tempfile.TemporaryDirectory() as tmp:
            conf = os.path.join(tmp, "m.conf")
            open(conf, "w").close()
            os.mkdir(conf + ".d")
            with open(os.path.join(conf + ".d", "x.conf"), "w") as f:
                f.write("[Daemon]\nUnknown=1\n")
            db = os.path.join(tmp, "m.db")
            r = run_once(["--db", db, "--config", conf])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("x.conf:2", r.stderr)
            self.assertFalse(os.path.exists(db))

    def test_stuck_sweep_starves_the_watchdog(self):
        # A read that never returns (opening osrelease on a hung file system) hangs the first
        # sweep: after READY=1 the watchdog, pinged by the sweep loop, hears nothing more; a
        # healthy daemon pings every half second here.
        d = self.start("[Daemon]\nInterval=1h\n", env={"WATCHDOG_USEC": "1000000"},
                       args=fixture_tree.hanging_roots(self))
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            msg = d._recv(0.2)
            self.assertFalse(msg and "WATCHDOG=1" in msg, d.messages)
        self.assertIsNone(d.proc.poll())
        d.proc.send_signal(signal.SIGABRT)      # what systemd sends on a watchdog timeout
        self.assertNotEqual(d.proc.wait(timeout=30), 0)


if __name__ == "__main__":
    main()
