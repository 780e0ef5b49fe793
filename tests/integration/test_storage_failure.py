"""Storage failing at runtime: a full file system under the database, a lock another writer holds
for longer than the busy timeout, the file deleted or replaced. The daemon keeps running,
says so once (not once per sweep), reports it in /healthz, loses nothing already committed, and
records sweeps again once there is room."""
import os
import sqlite3
import subprocess
import tempfile
import unittest

from harness import Daemon, main


class StorageFailureTest(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="mapstatd-full-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest("cannot mount a small tmpfs here: " + r.stderr.strip())

    def tearDown(self):
        subprocess.run(["umount", self.mnt])
        os.rmdir(self.mnt)

    def fill(self, path):
        """Writes until the file system is full. Unbuffered: a buffered file would flush what
        did not fit once more when closed, and raise there."""
        with open(path, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass

    def test_full_disk_then_recovery(self):
        db = os.path.join(self.mnt, "mapstatd.db")
        filler = os.path.join(self.mnt, "filler")
        with Daemon(["--interval", "200ms"], db=db) as d:
            d.wait_sweeps(2)
            status, health = d.get("/healthz")
            self.assertEqual((status, health["status"]), (200, "ok"))
            before = health["sweeps_stored"]

            self.fill(filler)
            for _ in range(3):
                d.wait_for("STATUS=Sweep failed")
            status, health = d.get("/healthz")
            self.assertEqual(status, 503)
            self.assertEqual(health["status"], "degraded")
            self.assertRegex(health["storage_error"], "(?i)space|full")
            self.assertGreaterEqual(health["sweeps_stored"], before)

            os.unlink(filler)
            d.wait_for("last sweep")
            status, health = d.get("/healthz")
            self.assertEqual((status, health["status"]), (200, "ok"))
            self.assertIsNone(health["storage_error"])
            self.assertEqual(d.stop(), 0)
            log = d.log()

        # Once when it starts failing, once when it recovers, however many sweeps failed.
        self.assertEqual(log.count("Failed to record sweep"), 1, log)
        self.assertEqual(log.count("Recording sweeps"), 1, log)
        self.assertIn(db, log)
        con = sqlite3.connect(db)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            self.assertGreater(con.execute("SELECT count(*) FROM sweeps").fetchone()[0], before)
        finally:
            con.close()


class LockedDatabaseTest(unittest.TestCase):
    def test_locked_by_another_writer_then_released(self):
        # Another program holds a write transaction on the database for longer than the busy
        # timeout (5 s): the sweeps that cannot commit fail, /healthz says why while the
        # daemon keeps answering from what it has, and recording resumes once the lock goes.
        with Daemon(["--interval", "300ms"]) as d:
            d.wait_sweeps(2)
            holder = sqlite3.connect(d.db, timeout=10, isolation_level=None)
            try:
                holder.execute("BEGIN EXCLUSIVE")
                d.wait_for("STATUS=Sweep failed", timeout=30)
                status, health = d.get("/healthz")
                self.assertEqual((status, health["status"]), (503, "degraded"), health)
                self.assertRegex(health["storage_error"], "(?i)locked|busy")
                status, _ = d.get("/processes?limit=5")
                self.assertEqual(status, 200)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            d.wait_for("last sweep", timeout=30)
            status, health = d.get("/healthz")
            self.assertEqual((status, health["status"], health["storage_error"]),
                             (200, "ok", None), health)
            self.assertEqual(d.stop(), 0)
            log = d.log()
        self.assertEqual(log.count("Failed to record sweep"), 1, log)
        self.assertEqual(log.count("Recording sweeps"), 1, log)


class DeletedDatabaseTest(unittest.TestCase):
    def test_deleted_or_replaced(self):
        # The daemon would go on writing into the unlinked file, /healthz "ok", everything gone
        # at exit: it says so instead, once, and records nothing it could not read back.
        for how in ("deleted", "replaced"):
            with self.subTest(how=how), tempfile.TemporaryDirectory() as tmp:
                db = os.path.join(tmp, "mapstatd.db")
                with Daemon(["--interval", "200ms"], db=db) as d:
                    d.wait_sweeps(2)
                    os.unlink(db)
                    if how == "replaced":
                        with open(db, "wb") as f:
                            f.write(b"someone else's file")
                    for _ in range(3):
                        d.wait_for("STATUS=Sweep failed")
                    status, health = d.get("/healthz")
                    self.assertEqual((status, health["status"]), (503, "degraded"))
                    self.assertIn("database file was " + how, health["storage_error"])
                    self.assertEqual(d.stop(), 0)
                    log = d.log()
                self.assertEqual(log.count("Failed to record sweep"), 1, log)
                if how == "replaced":
                    with open(db, "rb") as f:
                        self.assertEqual(f.read(), b"someone else's file")


if __name__ == "__main__":
    main()
