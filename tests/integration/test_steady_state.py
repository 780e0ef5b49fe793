"""The steady state on the real /proc: a process whose stat shows no change keeps its last read
until the figures are MaxStaleness= old. Helpers with known layouts change on command; the
database is read from outside the daemon to see how many sweeps read the figures and how many
reused them, and how many rows that took."""
import os
import sqlite3
import time
import unittest

from harness import Daemon, main
from test_real_proc import MEMLAYOUT, Helper, rollup, summed

INTERVAL = 0.3
STALENESS = 3.0
# The figures of a helper's own pages. Pss_File, Shared_Clean and the like also move when any
# other process maps or unmaps the same library pages: by design a reused read does not follow
# that until the bound (README "Steady state"), so those are not compared with the live ones.
OWN = ("Rss", "Anonymous", "Pss_Anon", "Private_Dirty", "Swap")


def own(figures):
    return {k: figures.get(k) for k in OWN}


class Commanded(Helper):
    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise AssertionError("memlayout %r answered %r" % (line, answer))


class SteadyStateTest(unittest.TestCase):
    def setUp(self):
        if not os.access(MEMLAYOUT, os.X_OK):
            self.skipTest("memlayout helper not built at %s" % MEMLAYOUT)
        self.helpers = []

    def tearDown(self):
        for h in self.helpers:
            h.close()

    def spawn(self, *args):
        h = Commanded(*args)
        self.helpers.append(h)
        return h

    def group(self, d, h):
        status, doc = d.get("/processes?limit=10000")
        self.assertEqual(status, 200)
        groups = [p for p in doc["processes"] if h.tag in p["identity"]["cmdline"]]
        self.assertEqual(len(groups), 1, groups)
        return groups[0]

    def query(self, d, sql, args):
        db = sqlite3.connect("file:%s?mode=ro" % d.db, uri=True)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def samples(self, d, pid):
        """(first sweep, last sweep, reused_sweep_id or None, Rss) of every run of pid's
        samples, in order."""
        return self.query(
            d, "SELECT ps.sweep_id, ps.last_sweep_id, ps.reused_sweep_id, ps.rss_kb"
            " FROM process_samples ps JOIN processes p ON p.id = ps.process_id"
            " WHERE p.pid = ? ORDER BY ps.sweep_id", (pid,))

    def identity_runs(self, d, h):
        """(sweeps, observations) of every run of h's identity, in order."""
        return self.query(
            d, "SELECT i.sweeps, i.observations FROM identity_samples i"
            " JOIN identities d ON d.id = i.identity_id WHERE d.cmdline LIKE ?"
            " ORDER BY i.sweep_id", ("%" + h.tag + "%",))

    def wait_until_equal(self, d, h, deadline):
        """Sweeps until the stored figures of h's own pages equal its live ones; returns the
        seconds."""
        start = time.monotonic()
        while True:
            d.wait_sweeps(1)
            live = own(summed(h.pids))
            if own(self.group(d, h)["smaps_rollup"]) == live == own(summed(h.pids)):
                return time.monotonic() - start
            if time.monotonic() - start > deadline:
                self.fail("stored figures of %s still differ from the live ones after %.1f s"
                          % (h.tag, deadline))

    def test_idle_reused_changed_reread(self):
        idle = self.spawn("--anon", "2048")
        grower = self.spawn("--anon", "2048")
        with Daemon(["--interval", "%dms" % (INTERVAL * 1000),
                     "--max-staleness", "%dms" % (STALENESS * 1000)]) as d:
            d.wait_sweeps(int(2 * STALENESS / INTERVAL))
            # Idle: most sweeps are reuses, and a read (an observation) comes at least every
            # MaxStaleness=.
            runs = self.identity_runs(d, idle)
            sweeps = sum(n for n, _ in runs)
            observations = sum(o for _, o in runs)
            self.assertGreaterEqual(sweeps, int(2 * STALENESS / INTERVAL), runs)
            self.assertLess(observations, sweeps // 2, runs)
            self.assertGreaterEqual(observations,
                                    int(sweeps * INTERVAL / (STALENESS + 2 * INTERVAL)), runs)
            # What did not change is stored once: far fewer rows than sweeps.
            self.assertLess(len(runs), sweeps // 4, runs)
            self.assertLess(len(self.samples(d, idle.pids[0])), sweeps // 4)
            # Reused figures are the last read's, and marked.
            g = self.group(d, idle)
            self.assertEqual(own(g["smaps_rollup"]), own(summed(idle.pids)))
            self.assertIn(g["reused_processes"], (0, 1))
            status, health = d.get("/healthz")
            self.assertGreater(health["last_sweep"]["processes_reused"], 0)

            # A process that faults is read again in the first sweep after the change.
            before = self.group(d, grower)["smaps_rollup"]["Rss"]
            grower.command("grow 4096")
            d.wait_sweeps(2)
            after = self.group(d, grower)
            self.assertGreaterEqual(after["smaps_rollup"]["Rss"], before + 4096)
            self.assertEqual(own(after["smaps_rollup"]), own(summed(grower.pids)))
            status, _, text = d.request("/metrics", raw=True)
            self.assertIn(b"\nmapstatd_processes_reused_total ", text)

    def test_shared_change_within_staleness(self):
        # Parent and child share 4 MiB copy-on-write: each is charged half in Pss. Reaping the
        # child doubles the parent's Pss_Anon without one fault or mapping change in the
        # parent: its signal stays, so the change is seen when its figures reach the bound.
        cow = self.spawn("--anon", "4096", "--fork")
        with Daemon(["--interval", "%dms" % (INTERVAL * 1000),
                     "--max-staleness", "%dms" % (STALENESS * 1000)]) as d:
            d.wait_sweeps(3)
            before = rollup(cow.pids[0])
            cow.command("reap")
            cow.pids = cow.pids[:1]
            # The parent alone now: its Pss_Anon doubled, without a change in its stat.
            self.assertGreaterEqual(rollup(cow.pids[0])["Pss_Anon"], before["Pss_Anon"] + 1024)
            took = self.wait_until_equal(d, cow, STALENESS + 10 * INTERVAL + 5)
            self.assertLessEqual(took, STALENESS + 10 * INTERVAL + 5)

    def truth(self, d, pid):
        """(sweep, reused_sweep_id, USS) of every sweep with a reconstruction of pid, in order."""
        return self.query(
            d, "SELECT t.sweep_id, ps.reused_sweep_id, t.uss_kb FROM process_truth t"
            " JOIN processes p ON p.id = t.process_id JOIN process_samples ps"
            " ON ps.process_id = t.process_id AND t.sweep_id BETWEEN ps.sweep_id"
            " AND ps.last_sweep_id WHERE p.pid = ? ORDER BY t.sweep_id", (pid,))

    def test_full_mode_reuses_and_follows_shared_changes(self):
        # Full mode reuses too: an unchanged process keeps its read and its PFNs of the last
        # sweep, and its reconstruction is still made every sweep. When the copy-on-write
        # child is reaped, the parent's stat does not move, but its pages now have one mapper:
        # its USS grows by the 4 MiB in the next sweep, long before MaxStaleness=.
        cow = self.spawn("--anon", "4096", "--fork")
        with Daemon(["--interval", "%dms" % (INTERVAL * 1000), "--max-staleness", "1h",
                     "--pagemap", "full"]) as d:
            d.wait_sweeps(4)
            status, health = d.get("/healthz")
            self.assertGreater(health["last_sweep"]["processes_reused"], 0)
            rows = self.truth(d, cow.pids[0])
            self.assertGreaterEqual(len(rows), 3, rows)
            # a reconstruction in every sweep, reused or read
            self.assertEqual([r[0] for r in rows], list(range(rows[0][0], rows[-1][0] + 1)))
            self.assertTrue(any(r[1] is not None for r in rows), rows)
            self.assertEqual(len({r[2] for r in rows}), 1, rows)
            shared_uss = rows[-1][2]

            cow.command("reap")
            cow.pids = cow.pids[:1]
            d.wait_sweeps(3)
            rows = self.truth(d, cow.pids[0])
            self.assertIsNotNone(rows[-1][1], rows)            # still a reused read
            self.assertGreaterEqual(rows[-1][2], shared_uss + 4096 - 64, rows)

    def test_staleness_zero_reads_every_sweep(self):
        idle = self.spawn("--anon", "1024")
        with Daemon(["--interval", "%dms" % (INTERVAL * 1000), "--max-staleness", "0"]) as d:
            d.wait_sweeps(4)
            runs = self.identity_runs(d, idle)
            self.assertGreaterEqual(sum(n for n, _ in runs), 3)
            self.assertEqual([r for r in runs if r[0] != r[1]], [])
            self.assertEqual([r for r in self.samples(d, idle.pids[0]) if r[2] is not None], [])
            status, health = d.get("/healthz")
            self.assertEqual(health["last_sweep"]["processes_reused"], 0)


if __name__ == "__main__":
    main()
