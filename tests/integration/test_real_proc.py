"""Against the real /proc: helper processes with known memory layouts; after a sweep, the figures
mapstatd stored for them equal their smaps_rollup read at the same moment, and match what the
layouts imply from first principles."""
import os
import random
import string
import subprocess
import tempfile
import unittest

from harness import Daemon, main

MEMLAYOUT = os.environ.get("MAPSTATD_MEMLAYOUT", os.path.join(
    os.path.dirname(os.environ.get("MAPSTATD_BIN", "build/daemon/mapstatd")), "..", "tests",
    "helpers", "memlayout"))


def rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f.read().splitlines()[1:]:
            name, rest = line.split(":", 1)
            out[name] = int(rest.split()[0])
    return out


def summed(pids):
    total = {}
    for pid in pids:
        for k, v in rollup(pid).items():
            total[k] = total.get(k, 0) + v
    return total


def tag():
    return "t" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))


class Helper:
    def __init__(self, *args):
        self.tag = tag()
        self.proc = subprocess.Popen([MEMLAYOUT, *args, "--tag", self.tag],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            raise AssertionError("memlayout failed to start: %r" % line)
        self.pids = [int(p) for p in line[1:]]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


class HelperCase(unittest.TestCase):
    """Tests with memlayout helpers (closed at the end) and a tmpfs directory for their
    files."""
    def setUp(self):
        if not os.access(MEMLAYOUT, os.X_OK):
            self.skipTest("memlayout helper not built at %s" % MEMLAYOUT)
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-real-", dir="/dev/shm")
        self.helpers = []

    def tearDown(self):
        for h in self.helpers:
            h.close()
        subprocess.run(["rm", "-rf", self.tmp])

    def spawn(self, *args):
        h = Helper(*args)
        self.helpers.append(h)
        return h

    def stored_groups(self, d):
        status, doc = d.get("/processes?limit=10000")
        self.assertEqual(status, 200)
        return {h.tag: [p for p in doc["processes"] if h.tag in p["identity"]["cmdline"]]
                for h in self.helpers}

    def read_settled(self, args, also=None):
        """Runs a daemon with args that reads every process in every sweep, and returns what it
        stored for the helpers (stored_groups()), their live figures (summed()) and also(d),
        taken between two equal live readings; skips the test when they never settle."""
        # Read the live figures while the daemon runs, and only once its code is warm: the first
        # time it runs a piece of libc (the writer thread, the first HTTP request) it maps more
        # shared pages, which changes the helpers' Pss of those pages. So: warm it up, let it
        # sweep again, then compare that sweep with the live figures around the query.
        for attempt in range(3):
            # Every sweep reads: reuse would keep figures that the daemon's own start
            # changed (test_steady_state.py covers reuse).
            with Daemon(["--interval", "300ms", "--max-staleness", "0", *args]) as d:
                d.wait_sweeps(2)
                self.stored_groups(d)
                d.wait_sweeps(1)
                before = {h.tag: summed(h.pids) for h in self.helpers}
                groups = self.stored_groups(d)
                after = {h.tag: summed(h.pids) for h in self.helpers}
                extra = also(d) if also else None
            if before == after:
                return groups, after, extra
        self.skipTest("helper memory did not settle")


class RealProcTest(HelperCase):

    def test_stored_equals_live(self):
        anon = self.spawn("--anon", "8192")
        cow = self.spawn("--anon", "4096", "--file", os.path.join(self.tmp, "shm") + ":4096",
                         "--fork")
        filemap = self.spawn("--file", os.path.join(self.tmp, "f2") + ":2048")
        groups, after, _ = self.read_settled([])

        for h in self.helpers:
            with self.subTest(helper=h.tag):
                self.assertEqual(len(groups[h.tag]), 1, groups[h.tag])
                g = groups[h.tag][0]
                self.assertEqual(sorted(g["pids"]), sorted(h.pids))
                self.assertEqual(g["identity"]["comm"], "memlayout")
                self.assertTrue(g["identity"]["exe"].endswith("/memlayout"))
                stored = g["smaps_rollup"]
                # Every field the kernel printed is stored, with the same value.
                self.assertEqual(stored, after[h.tag])

        # First principles, independent of mapstatd's code.
        a = groups[anon.tag][0]["smaps_rollup"]
        self.assertGreaterEqual(a["Anonymous"], 8192)
        self.assertGreaterEqual(a["Private_Dirty"], 8192)
        self.assertLess(a["Rss"], 8192 + 4096)

        c = groups[cow.tag][0]["smaps_rollup"]
        # 4 MiB of anon pages shared copy-on-write by parent and child: Shared in both, each
        # charged half in Pss.
        self.assertGreaterEqual(c["Shared_Dirty"], 2 * 4096)
        self.assertGreaterEqual(c["Pss_Anon"], 4096)
        self.assertLess(c["Pss_Anon"], 4096 + 2048)
        # The MAP_SHARED tmpfs file is mapped only in the parent (fork does not copy shared
        # file PTEs): 4 MiB of shmem, mapped once.
        self.assertGreaterEqual(c["Pss_Shmem"], 4096)

        f = groups[filemap.tag][0]["smaps_rollup"]
        self.assertGreaterEqual(f["Pss_Shmem"], 2048)


if __name__ == "__main__":
    main()
