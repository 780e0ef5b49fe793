"""Bad input: each case gets a clear message, a non-zero exit, and touches no existing data."""
import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import unittest

from harness import BIN, TIMEOUT, Daemon, main, run_once


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class BadInputTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-bad-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_missing_directory(self):
        db = os.path.join(self.tmp, "no", "such", "dir", "x.db")
        r = run_once(["--db", db])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(db, r.stderr)
        self.assertRegex(r.stderr, "does not exist|No such file")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "no")))

    def test_unwritable_directory(self):
        ro = os.path.join(self.tmp, "ro")
        os.mkdir(ro, 0o555)
        db = os.path.join(ro, "x.db")
        if os.geteuid() == 0:
            # Root ignores directory modes: run the daemon as nobody instead.
            os.chmod(self.tmp, 0o755)
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN, "--once",
                   "--db", db]
        else:
            cmd = [BIN, "--once", "--db", db]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(db, r.stderr)
        self.assertRegex(r.stderr, "[Pp]ermission denied|read-only|not writable")
        self.assertEqual(os.listdir(ro), [])

    def test_garbage_database(self):
        db = os.path.join(self.tmp, "garbage.db")
        with open(db, "wb") as f:
            f.write(os.urandom(8192))
        before = digest(db)
        r = run_once(["--db", db])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(db, r.stderr)
        self.assertRegex(r.stderr, "not a (mapstatd )?database|corrupt")
        self.assertEqual(digest(db), before)
        self.assertFalse(os.path.exists(db + "-wal"))

    def test_corrupt_database(self):
        db = os.path.join(self.tmp, "corrupt.db")
        r = run_once(["--db", db])
        self.assertEqual(r.returncode, 0, r.stderr)
        # Move everything from the WAL into the file, then keep the header and destroy the
        # pages behind it.
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        with open(db, "r+b") as f:
            f.seek(100)
            f.write(b"\xff" * 3000)
        before = digest(db)
        r = run_once(["--db", db])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(db, r.stderr)
        self.assertRegex(r.stderr, "corrupt|malformed|not a (mapstatd )?database")
        self.assertEqual(digest(db), before)

    def test_foreign_database(self):
        db = os.path.join(self.tmp, "foreign.db")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT)")
        con.execute("INSERT INTO accounts VALUES (1, 'alice')")
        con.commit()
        con.close()
        before = digest(db)
        r = run_once(["--db", db])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, "not a mapstatd database")
        self.assertEqual(digest(db), before)

    def test_refused_database_keeps_its_wal(self):
        # A foreign database in WAL mode with transactions still in its -wal (its owner died
        # before a checkpoint): refused, and neither file is touched; SQLite would merge the
        # -wal into the file when the refusing connection closes.
        src = os.path.join(self.tmp, "src.db")
        con = sqlite3.connect(src)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA wal_autocheckpoint = 0")
        con.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT)")
        con.execute("INSERT INTO accounts VALUES (1, 'alice')")
        con.commit()
        db = os.path.join(self.tmp, "foreign-wal.db")
        for suffix in ("", "-wal"):
            shutil.copyfile(src + suffix, db + suffix)
        con.close()
        before = {suffix: digest(db + suffix) for suffix in ("", "-wal")}
        self.assertGreater(os.path.getsize(db + "-wal"), 0)
        for once in (True, False):
            args = ["--db", db, "--listen", "127.0.0.1:0"]
            r = run_once(args) if once else subprocess.run(
                [BIN, *args], capture_output=True, text=True, timeout=TIMEOUT,
                stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertRegex(r.stderr, "not a mapstatd database")
            self.assertEqual({suffix: digest(db + suffix) for suffix in ("", "-wal")}, before)

    def test_database_mode_and_symlinks(self):
        # The database holds every process's command line: created 0600 whatever the umask,
        # its -wal and -shm alike; an existing file keeps its mode; never through a symlink.
        db = os.path.join(self.tmp, "new.db")
        old = os.umask(0o022)
        try:
            self.assertEqual(run_once(["--db", db, "--pagemap", "off"]).returncode, 0)
        finally:
            os.umask(old)
        for path in (db, db + "-wal", db + "-shm"):
            if os.path.exists(path):
                self.assertEqual(os.stat(path).st_mode & 0o777, 0o600, path)
        os.chmod(db, 0o640)
        self.assertEqual(run_once(["--db", db, "--pagemap", "off"]).returncode, 0)
        self.assertEqual(os.stat(db).st_mode & 0o777, 0o640)

        target = os.path.join(self.tmp, "elsewhere.db")
        link = os.path.join(self.tmp, "link.db")
        os.symlink(target, link)
        r = run_once(["--db", link, "--pagemap", "off"])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(target))

    def test_locked_database(self):
        # Another writer holds the database: a clear reason after the busy timeout, not "cannot
        # migrate schema version N to N", and nothing written.
        db = os.path.join(self.tmp, "locked.db")
        self.assertEqual(run_once(["--db", db, "--pagemap", "off"]).returncode, 0)
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            sweeps = holder.execute("SELECT count(*) FROM sweeps").fetchone()[0]
            holder.execute("BEGIN EXCLUSIVE")
            r = run_once(["--db", db, "--pagemap", "off"])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("locked by another writer", r.stderr)
            self.assertNotIn("migrate", r.stderr)
            holder.execute("ROLLBACK")
            self.assertEqual(holder.execute("SELECT count(*) FROM sweeps").fetchone()[0], sweeps)
        finally:
            holder.close()

    def test_newer_schema(self):
        db = os.path.join(self.tmp, "newer.db")
        self.assertEqual(run_once(["--db", db]).returncode, 0)
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = 999")
        con.close()
        before = digest(db)
        r = run_once(["--db", db])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("999", r.stderr)
        self.assertEqual(digest(db), before)

    def test_port_in_use(self):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        try:
            db = os.path.join(self.tmp, "x.db")
            r = subprocess.run([BIN, "--db", db, "--listen", "127.0.0.1:%d" % port],
                               capture_output=True, text=True, timeout=TIMEOUT,
                               env={k: v for k, v in os.environ.items()
                                    if not k.startswith(("LISTEN_", "NOTIFY_"))})
        finally:
            holder.close()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(str(port), r.stderr)
        self.assertIn("--listen", r.stderr)
        self.assertIn("already in use", r.stderr)

    def test_exposure_warning(self):
        # The API has no authentication: a listener other hosts may reach is worth a warning
        # naming what it gives them, softened to a notice when command lines are redacted.
        warning = "not a loopback address: any client that reaches it can read every " \
            "process's full command line"
        notice = "(command lines are redacted)"
        for host, args, expect in [("127.0.0.1", [], None), ("0.0.0.0", [], warning),
                                   ("0.0.0.0", ["--redact-cmdline", "yes"], notice)]:
            with Daemon(["--interval", "1h", *args], host=host) as d:
                d.wait_sweeps(1)
                self.assertEqual(d.get("/healthz")[0], 200)
                log = d.log()
                for text in (warning, notice):
                    if text == expect:
                        self.assertIn(text, log)
                    else:
                        self.assertNotIn(text, log)

    def test_bad_option_values(self):
        db = os.path.join(self.tmp, "x.db")
        cases = [
            (["--interval", "abc"], "--interval"),
            (["--interval", "0"], "--interval"),
            (["--listen", "localhost"], "--listen"),
            (["--listen", "localhost:9311"], "--listen"),
            (["--listen", "127.0.0.1:99999"], "--listen"),
            (["--identity", "pid"], "--identity"),
            (["--min-delta-kb", "-5"], "--min-delta-kb"),
            (["--retention", "1s"], "--retention"),
            (["--no-such-option"], "no-such-option"),
            (["--proc-root", os.path.join(self.tmp, "nowhere")], "nowhere"),
            (["--config", os.path.join(self.tmp, "missing.conf")], "missing.conf"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                r = run_once(["--db", db, *args])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()) <= 2, True, r.stderr)
        self.assertFalse(os.path.exists(db))

    def test_bad_config_file(self):
        conf = os.path.join(self.tmp, "bad.conf")
        db = os.path.join(self.tmp, "x.db")
        for text, needle in (("[Daemon]\nInterval=soon\n", ":2:"),
                             ("[Daemon]\nNoSuchKey=1\n", "NoSuchKey"),
                             ("[Nope]\nInterval=5\n", "Nope"),
                             ("Interval 5\n", ":1:"),
                             # a second line for one key is a mistake, not an override
                             ("[Daemon]\nInterval=30s\nInterval=40s\n", "duplicate key Interval="),
                             # a NUL byte would cut its line short unseen
                             ("[Daemon]\n\0Interval=soon\n", ":2: a NUL byte"),
                             ("\0[Daemon]\n", ":1: a NUL byte")):
            with self.subTest(text=text):
                with open(conf, "w") as f:
                    f.write(text)
                r = run_once(["--db", db, "--config", conf])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(conf, r.stderr)
                self.assertIn(needle, r.stderr)
        # A directory is not read as an empty file, and a FIFO is not waited on.
        fifo = os.path.join(self.tmp, "fifo.conf")
        os.mkfifo(fifo)
        for path, needle in ((self.tmp, "Is a directory"), (fifo, "not a regular file")):
            with self.subTest(path=path):
                r = run_once(["--db", db, "--config", path], timeout=10)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(needle, r.stderr)
        self.assertFalse(os.path.exists(db))

    def test_config_comments(self):
        # Comments start with # or ; at the beginning of a line, and after a blank behind a
        # value; a # inside a value stays.
        conf = os.path.join(self.tmp, "comments.conf")
        db = os.path.join(self.tmp, "x#1.db")
        with open(conf, "w") as f:
            f.write("# mapstatd\n; settings\n[Daemon]\nDatabase=%s # here\n"
                    "Interval=2h\t; two hours\n" % db)
        r = run_once(["--config", conf, "--pagemap", "off"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(db), os.listdir(self.tmp))

    def test_config_file_and_override(self):
        conf = os.path.join(self.tmp, "good.conf")
        db = os.path.join(self.tmp, "x.db")
        with open(conf, "w") as f:
            f.write("[Daemon]\nInterval=1h\n[Report]\nMinDeltaKB=4096\n")
        with Daemon(["--config", conf, "--min-delta-kb", "2048"], db=db) as d:
            d.wait_sweeps(1)
            _, doc = d.get("/healthz")
            self.assertEqual(doc["interval_seconds"], 3600)
            _, rep = d.get("/report")
            self.assertEqual(rep["thresholds"]["min_delta_kb"], 2048)

    def test_help_and_version(self):
        r = subprocess.run([BIN, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for opt in ("--db", "--listen", "--interval", "--proc-root", "--sys-root", "--once",
                    "--config", "--version"):
            self.assertIn(opt, r.stdout)
        r = subprocess.run([BIN, "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^mapstatd \d+\.\d+")


if __name__ == "__main__":
    main()
