"""A committed sweep is never lost when the daemon is killed with SIGKILL at any moment, and
the database it leaves behind opens cleanly."""
import os
import random
import signal
import sqlite3
import time
import unittest

from harness import Daemon, main, run_once


class DurabilityTest(unittest.TestCase):
    def test_once_leaves_one_file(self):
        # A --once run (a timer, a fleet tool copying the file) merges its WAL before it
        # exits: the database alone holds the sweep.
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "once.db")
            for _ in range(2):
                r = run_once(["--db", db, "--pagemap", "off"])
                self.assertEqual(r.returncode, 0, r.stderr)
                wal = db + "-wal"
                self.assertEqual(os.path.getsize(wal) if os.path.exists(wal) else 0, 0)
            # Read the main file alone, without its -wal and -shm.
            for suffix in ("-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.unlink(db + suffix)
            conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
            self.assertEqual(conn.execute("SELECT count(*) FROM sweeps").fetchone()[0], 2)
            conn.close()

    def test_sigkill_keeps_committed_sweeps(self):
        rng = random.Random(7)
        with Daemon(["--interval", "100ms"]) as d:
            db = d.db
            for round_ in range(6):
                if round_:
                    d.start_again()
                d.wait_sweeps(2)
                # Every STATUS with "last sweep" was sent after its transaction committed.
                committed = sum("last sweep" in m for m in d.messages)
                # Kill at an arbitrary point of the next sweep (fault injection, not waiting).
                time.sleep(rng.uniform(0, 0.15))
                d.proc.kill()
                d.proc.wait()
                con = sqlite3.connect(db)
                try:
                    self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
                    stored = con.execute("SELECT count(*) FROM sweeps").fetchone()[0]
                finally:
                    con.close()
                self.assertGreaterEqual(stored, committed)
            r = run_once(["--db", db])
            self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    main()
