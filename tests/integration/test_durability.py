"""A committed sweep is never lost when the daemon is killed with SIGKILL at any moment, and
the database it leaves behind opens cleanly."""
import http.client
import os
import random
import sqlite3
import threading
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
        # 50 SIGKILLs at arbitrary moments of sweeps on the real /proc, under HTTP load. What
        # was committed is counted from outside: a reader polls the database (SQLite shows a
        # reader committed transactions only) and keeps the highest count it saw; the
        # daemon's own STATUS= after each commit is checked too. After every kill the file is
        # intact and holds at least that many sweeps, and every restart succeeds.
        rng = random.Random(7)
        stop = threading.Event()
        seen = {"sweeps": 0, "answers": 0}
        with Daemon(["--interval", "100ms"]) as d:
            db = d.db

            def count_from_outside():
                while not stop.is_set():
                    try:
                        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=1)
                        try:
                            n = con.execute("SELECT count(*) FROM sweeps").fetchone()[0]
                        finally:
                            con.close()
                        seen["sweeps"] = max(seen["sweeps"], n)
                    except sqlite3.Error:
                        pass                # the schema is not there yet, or busy: next time
                    time.sleep(0.01)

            def load():
                paths = ["/processes?limit=50", "/report", "/metrics", "/healthz"]
                while not stop.is_set():
                    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
                    try:
                        conn.request("GET", rng.choice(paths))
                        conn.getresponse().read()
                        seen["answers"] += 1
                    except (OSError, http.client.HTTPException):
                        time.sleep(0.01)    # between a kill and the restart
                    finally:
                        conn.close()

            threads = [threading.Thread(target=f) for f in (count_from_outside, load, load)]
            for t in threads:
                t.start()
            try:
                for round_ in range(50):
                    if round_:
                        d.start_again()
                    d.wait_sweeps(1)
                    # Every STATUS with "last sweep" was sent after its transaction committed.
                    committed = sum("last sweep" in m for m in d.messages)
                    # Kill at an arbitrary point of a sweep (fault injection, not waiting).
                    time.sleep(rng.uniform(0, 0.15))
                    outside = seen["sweeps"]
                    d.proc.kill()
                    d.proc.wait()
                    con = sqlite3.connect(db)
                    try:
                        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0],
                                         "ok")
                        stored = con.execute("SELECT count(*) FROM sweeps").fetchone()[0]
                    finally:
                        con.close()
                    self.assertGreaterEqual(stored, max(committed, outside), round_)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            self.assertGreater(seen["answers"], 50)
            self.assertGreaterEqual(seen["sweeps"], 50)
            r = run_once(["--db", db])
            self.assertEqual(r.returncode, 0, r.stderr)

if __name__ == "__main__":
    main()
