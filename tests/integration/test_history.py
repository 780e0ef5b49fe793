"""History over time: a day of sweeps of 40 identities, every figure moving every sweep, written
through the daemon's own Store by bench/gen-history without downsampling; then the real daemon
opens it. Its hourly maintenance (run after its first sweep) merges what is older than
DownsampleAfter= into hourly runs: far fewer rows, every sweep still answered, each hour's
means kept, and the newest sweeps of every epoch, which comparisons read, untouched."""
import os
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import BIN, Daemon, main

GEN = os.environ.get("MAPSTATD_GEN_HISTORY", "build/bench/gen-history")
MEMINFO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                       "linux-6.18-page", "proc", "meminfo")
HOUR = 3600 * 10**6
KEEP = 30


def per_sweep(db, sql_tail, args=()):
    """Rows of every sweep: runs expanded into the sweeps they stand for."""
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return conn.execute(sql_tail, args).fetchall()
    finally:
        conn.close()


HOURLY_RSS = (
    "SELECT i.identity_id, w.start_usec / %d AS hour, sum(i.rss_kb), count(*)"
    " FROM identity_samples i JOIN sweeps w ON w.id BETWEEN i.sweep_id AND i.last_sweep_id"
    " AND w.epoch_id = (SELECT epoch_id FROM sweeps WHERE id = i.last_sweep_id)"
    " GROUP BY i.identity_id, hour ORDER BY i.identity_id, hour" % HOUR)


class HistoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(GEN, os.X_OK):
            raise unittest.SkipTest("gen-history not built at %s" % GEN)
        cls.tmp = tempfile.TemporaryDirectory(prefix="mapstatd-history-")
        cls.template = os.path.join(cls.tmp.name, "day.db")
        subprocess.run([GEN, cls.template, "--days", "1", "--identities", "40", "--epochs", "2",
                        "--retention", "0", "--keep", str(KEEP), "--downsample-after", "0",
                        "--meminfo", MEMINFO], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def copy(self, name):
        db = os.path.join(self.tmp.name, name)
        with open(self.template, "rb") as src, open(db, "wb") as dst:
            dst.write(src.read())
        return db

    def count(self, db, table):
        return per_sweep(db, "SELECT count(*) FROM %s" % table)[0][0]

    def run_daemon(self, db, *args, until=None):
        with Daemon(["--interval", "1h", "--keep-per-epoch", str(KEEP), *args], db=db) as d:
            d.wait_sweeps(1)
            # the maintenance starts right after the first sweep, and goes on a few hours of
            # history per turn of the daemon's loop
            deadline = time.monotonic() + 60
            while until and not until() and time.monotonic() < deadline:
                time.sleep(0.2)
            status, health = d.get("/healthz")
            self.assertEqual(status, 200)
            ident = per_sweep(db, "SELECT id FROM identities WHERE key LIKE '%svc0007%'")[0][0]
            status, series = d.get("/processes/%d?from=%d" % (
                ident, per_sweep(db, "SELECT min(start_usec) / 1000000 FROM sweeps")[0][0]))
            self.assertEqual(status, 200, series)
            # SIGTERM is handled once the sweep's work, maintenance included, is done
            self.assertEqual(d.stop(), 0)
            return series

    def test_downsampled_hourly_keeps_every_sweep_and_the_means(self):
        db = self.copy("downsampled.db")
        before = {t: self.count(db, t) for t in ("identity_samples", "process_samples",
                                                 "meminfo_samples")}
        hourly_before = per_sweep(db, HOURLY_RSS)
        window = "SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY epoch_id ORDER BY" \
                 " start_usec DESC) AS n FROM sweeps) WHERE n <= %d" % KEEP
        last = per_sweep(db, "SELECT max(id) FROM sweeps")[0][0]
        window += " AND id <= %d" % last       # not the daemon's own sweep
        recent_before = per_sweep(db, "SELECT * FROM identity_samples WHERE sweep_id IN (%s)"
                                  " ORDER BY sweep_id, identity_id" % window)

        def caught_up():
            return all(self.count(db, t) < n / 4 for t, n in before.items())
        series = self.run_daemon(db, until=caught_up)

        after = {t: self.count(db, t) for t in before}
        for table, n in before.items():
            # a day at one sweep a minute, every figure moving: about a row an hour, but for
            # the last DownsampleAfter= (2 h) and the newest sweeps of the first epoch
            self.assertLess(after[table], n / 4, (table, n, after[table]))
        # Every sweep still answers, in the API as in the database.
        sweeps = per_sweep(db, "SELECT count(*) FROM sweeps WHERE epoch_id IN"
                           " (SELECT epoch_id FROM sweeps s JOIN identity_samples i"
                           " ON i.last_sweep_id = s.id)")[0][0]
        self.assertGreaterEqual(len(series["points"]), sweeps - 1)
        hourly_after = per_sweep(db, HOURLY_RSS)
        self.assertEqual([h[:2] + (h[3],) for h in hourly_before],
                         [h[:2] + (h[3],) for h in hourly_after if h[:2] in
                          {b[:2] for b in hourly_before}])
        # Each hour's mean Rss is kept, up to rounding (and to the runs that began in the hour
        # before and ran into it, merged into that hour's).
        by_hour = {h[:2]: h for h in hourly_after}
        close = 0
        for ident, hour, total, n in hourly_before:
            mean_after = by_hour[(ident, hour)][2] / n
            if abs(total / n - mean_after) <= 1:
                close += 1
            else:
                self.assertLess(abs(total / n - mean_after) / (total / n), 0.02)
        self.assertGreater(close, len(hourly_before) * 0.8)
        # The comparisons' window is as it was written.
        self.assertEqual(per_sweep(db, "SELECT * FROM identity_samples WHERE sweep_id IN (%s)"
                                   " ORDER BY sweep_id, identity_id" % window), recent_before)
        self.assertEqual(per_sweep(db, "PRAGMA foreign_key_check"), [])

    def test_once_downsamples_a_pass_per_run(self):
        # mapstatd --once, driven by a timer, has no event loop to go on from: each run makes
        # one bounded pass, quietly, and runs after runs catch up.
        db = self.copy("once.db")
        before = self.count(db, "identity_samples")
        counts = []
        for _ in range(40):
            p = subprocess.run([BIN, "--once", "--pagemap", "off", "--db", db,
                                "--keep-per-epoch", str(KEEP)], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotIn("Failed", p.stderr)
            self.assertNotIn("warning", p.stderr.lower())
            counts.append(self.count(db, "identity_samples"))
            if counts[-1] < before / 4:
                break
        self.assertLess(counts[0], before)             # the first run merged some
        self.assertLess(counts[-1], before / 4, counts)   # and the runs caught up
        self.assertEqual(per_sweep(db, "PRAGMA foreign_key_check"), [])

    def test_downsample_after_zero_keeps_every_row(self):
        db = self.copy("kept.db")
        before = self.count(db, "identity_samples")
        self.run_daemon(db, "--downsample-after", "0")
        # the daemon's own sweep of this machine adds its identities, nothing is merged
        added = per_sweep(db, "SELECT count(*) FROM identity_samples WHERE sweep_id ="
                          " (SELECT max(id) FROM sweeps)")[0][0]
        self.assertEqual(self.count(db, "identity_samples"), before + added)


if __name__ == "__main__":
    main()
