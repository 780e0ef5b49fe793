"""Faults a host can throw at a sweep, each bounded in time: files in the proc root that would
block a reader (FIFOs with no writer) or that are enormous; a process whose comm and command line
are hostile bytes; and a root file system read-only but for the daemon's own directories. A
process's bad file costs that process, counted, never the sweep; a bad system-wide file fails
the sweep with a clear error and the next one tries again."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

from fixture_tree import Kernel, write_tree
from harness import Daemon, main
from history import figures

KERNEL = Kernel("6.18.0-fixture-faults", "5c7f1d0e-2a1b-4c3d-8e9f-0a1b2c3d4e5f", "page")
PER_PROCESS = ["stat", "smaps_rollup", "cmdline", "cgroup"]
GIB = 1 << 30


def process(pid):
    return {"pid": pid, "comm": "worker%d" % pid, "exe": "/usr/bin/worker",
            "args": ["--id", str(pid)], "start": 1000 + pid,
            "smaps": figures(rss=4096, pss=2048, private_dirty=2048, shared_clean=2048,
                             pss_anon=2048, anonymous=2048)}


def sampled_pids(d):
    status, procs = d.get("/processes?limit=1000")
    return {pid for g in procs["processes"] for pid in g["pids"]}


class BadProcFilesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-faults-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.tree = os.path.join(self.tmp, "tree")
        self.pids = [100 + i for i in range(len(PER_PROCESS) + 2)]
        write_tree(self.tree, KERNEL, {}, [process(p) for p in self.pids], extra_bad=False)
        self.roots = ["--proc-root", os.path.join(self.tree, "proc"),
                      "--sys-root", os.path.join(self.tree, "sys")]

    def path(self, *parts):
        return os.path.join(self.tree, "proc", *map(str, parts))

    def fifo(self, *parts):
        os.unlink(self.path(*parts))
        os.mkfifo(self.path(*parts))

    def sparse(self, size, *parts):
        with open(self.path(*parts), "r+b") as f:
            f.truncate(size)

    def test_fifos_do_not_block(self):
        # A FIFO nobody writes in place of each file of a process: opened without blocking,
        # refused as not a regular file. A process without stat, smaps_rollup or cmdline is
        # skipped (malformed); one without cgroup is sampled without it. The sweep ends at once
        # rather than waiting for a writer.
        for pid, name in zip(self.pids, PER_PROCESS):
            self.fifo(pid, name)
        with Daemon(["--interval", "1h", *self.roots]) as d:
            d.wait_sweeps(1, timeout=20)
            status, health = d.get("/healthz")
            self.assertEqual(status, 200, health)
            sweep = health["last_sweep"]
            skipped = {pid for pid, name in zip(self.pids, PER_PROCESS) if name != "cgroup"}
            self.assertEqual(sweep["skipped"]["malformed"], len(skipped), health)
            self.assertEqual(sweep["processes_sampled"], len(self.pids) - len(skipped), health)
            self.assertLess(sweep["duration_seconds"], 5)
            self.assertEqual(sampled_pids(d), set(self.pids) - skipped)

    def test_fifo_for_a_system_file_fails_the_sweep(self):
        # osrelease as a FIFO: the sweep fails at once, saying why, and the daemon keeps
        # answering; once the file is back the next sweep succeeds.
        self.fifo("sys", "kernel", "osrelease")
        with Daemon(["--interval", "300ms", *self.roots]) as d:
            d.wait_sweeps(1, timeout=20)
            status, health = d.get("/healthz")
            self.assertEqual((status, health["status"]), (503, "degraded"), health)
            self.assertIn("cannot read the kernel identity", health["sweep_error"])
            self.assertIn("not a regular file", health["sweep_error"])
            os.unlink(self.path("sys", "kernel", "osrelease"))
            with open(self.path("sys", "kernel", "osrelease"), "w") as f:
                f.write(KERNEL.release + "\n")
            d.wait_for("last sweep", timeout=20)
            status, health = d.get("/healthz")
            self.assertEqual((status, health["status"]), (200, "ok"), health)

    def test_enormous_files_are_capped(self):
        # Sparse files of a GiB in place of a process's smaps_rollup (skipped: larger than any
        # real one) and of another's cmdline (only its beginning is read: sampled). The daemon
        # reads neither whole: its peak memory stays far below the files' size.
        big, long_cmdline = self.pids[0], self.pids[1]
        self.sparse(GIB, big, "smaps_rollup")
        self.sparse(GIB, long_cmdline, "cmdline")
        with Daemon(["--interval", "1h", *self.roots]) as d:
            d.wait_sweeps(1, timeout=20)
            _, health = d.get("/healthz")
            self.assertEqual(health["last_sweep"]["skipped"]["malformed"], 1, health)
            self.assertEqual(sampled_pids(d), set(self.pids) - {big})
            self.assertLess(d.status_kb("VmHWM"), 256 * 1024)


# A process whose comm and command line carry every kind of hostile byte: a ")" and spaces (the
# stat parser's trap), a newline, an escape sequence, invalid UTF-8, quotes and markup, and a
# password. It sets its comm, says "ready" and waits for stdin to close.
HOSTILE = r"""
import ctypes, sys
ctypes.CDLL(None).prctl(15, b"a) (b\n\x1b[31m\xff", 0, 0, 0)
print("ready", flush=True)
sys.stdin.read()
"""
HOSTILE_ARGS = [b"\xff\xfe\x1b[2J\n\r\t\"'</script><b>", b"--password=hunter2", b"\x7f\x01"]
METRIC_LINE = re.compile(r'^(# (HELP|TYPE) .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*='
                         r'"([^"\\\n]|\\[\\"n])*",?)*\})? \S+)$')


class HostileProcessTest(unittest.TestCase):
    def test_hostile_comm_and_cmdline(self):
        # On the real /proc: every endpoint answers 200 with valid JSON (or valid exposition
        # text), the process is sampled, and with RedactCmdline= its password is nowhere.
        proc = subprocess.Popen([sys.executable.encode(), b"-c", HOSTILE.encode(),
                                 *HOSTILE_ARGS], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.stdin.close)
        self.assertEqual(proc.stdout.readline(), b"ready\n")
        for redact in ("no", "yes"):
            with Daemon(["--interval", "1h", "--redact-cmdline", redact]) as d:
                d.wait_sweeps(1)
                _, procs = d.get("/processes?limit=1000")
                mine = [g for g in procs["processes"] if proc.pid in g["pids"]]
                self.assertEqual(len(mine), 1, procs)
                bodies = []
                for path in ("/processes?limit=1000", "/processes/%d" % mine[0]["identity"]["id"],
                             "/report", "/forecast", "/snapshot", "/metrics", "/healthz"):
                    status, headers, body = d.request(path, raw=True)
                    self.assertEqual(status, 200, path)
                    text = body.decode("utf-8")         # valid UTF-8, whatever the bytes were
                    if path == "/metrics":
                        bad = [l for l in text.splitlines() if not METRIC_LINE.match(l)]
                        self.assertEqual(bad, [])
                    else:
                        json.loads(text)
                    bodies.append(text)
                self.assertEqual("hunter2" in "".join(bodies), redact == "no")


# Runs "$@" after $1 in a mount namespace of its own (unshare: private propagation) where every
# mount is read-only except $1; fails (99) naming any mount still read-write.
READ_ONLY_BUT = r"""
set -e
mount --bind "$1" "$1"
awk '{ print $5 }' /proc/self/mountinfo | sort -u | while read -r m; do
    [ "$m" = "$1" ] || mount -o remount,bind,ro "$m" 2>/dev/null || true
done
# Field 5 is the mount point, field 6 its per-mount options; of mounts stacked on one point
# the last listed is the one on top, the others hidden.
writable=$(awk -v keep="$1" '{ opts[$5] = $6 }
    END { for (m in opts) if (m != keep && opts[m] ~ /(^|,)rw(,|$)/) print m }' \
    /proc/self/mountinfo)
if [ -n "$writable" ]; then
    echo "still read-write: $writable" >&2
    exit 99
fi
shift
exec "$@"
"""


class WritesTest(unittest.TestCase):
    @unittest.skipUnless(os.geteuid() == 0, "needs root (a mount namespace)")
    def test_writes_only_its_directories(self):
        # Every mount read-only except the database's directory (which also holds the textfile
        # directory): sweeps in the full pagemap mode, a reload, the reports and a clean stop
        # all work, so nothing is written anywhere else (SQLite's temporary files included).
        state = tempfile.mkdtemp(prefix="mapstatd-rw-")
        self.addCleanup(shutil.rmtree, state, True)
        textfiles = os.path.join(state, "textfile")
        os.mkdir(textfiles)
        wrapper = ["unshare", "--mount", "--propagation", "private",
                   "sh", "-c", READ_ONLY_BUT, "sh", state]
        with Daemon(["--interval", "300ms", "--pagemap", "full",
                     "--textfile-directory", textfiles], db=os.path.join(state, "m.db"),
                    wrapper=wrapper) as d:
            d.wait_sweeps(3)
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for("READY=1")
            d.wait_sweeps(1)
            for path in ("/healthz", "/report", "/forecast", "/processes", "/metrics",
                         "/snapshot", "/epochs", "/meminfo"):
                status, _, _ = d.request(path, raw=True)
                self.assertEqual(status, 200, path)
            _, health = d.get("/healthz")
            self.assertEqual((health["storage_error"], health["sweep_error"]), (None, None))
            self.assertEqual(d.stop(), 0)
            self.assertTrue(os.path.exists(os.path.join(textfiles, "mapstatd.prom")))
            self.assertNotIn("ead-only file system", d.log())
            self.assertNotIn("Failed", d.log())


if __name__ == "__main__":
    main()
