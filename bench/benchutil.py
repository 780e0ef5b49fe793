"""What the benchmark scripts share: the built programs they need, the helper processes they
start, and running a command under bench/measure."""
import collections
import json
import os
import subprocess
import sys

# What measure() returns: wall and CPU seconds, peak RSS in KiB, and the command's last stdout
# line as JSON (None when it printed none).
Measured = collections.namedtuple("Measured", "wall rss cpu out")


def built(build, *paths):
    """The programs at paths under the build directory; exits naming the first one missing."""
    found = [os.path.join(build, *p.split("/")) for p in paths]
    for p in found:
        if not os.access(p, os.X_OK):
            sys.exit("missing %s: build first (scripts/dev.sh build)" % p)
    return found


def rss_kib(pid):
    """A process's resident set (VmRSS) in KiB; 0 once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def start_helper(cmd):
    """Starts a helper (bench/population, tests/helpers/memlayout or workload) and waits for its
    "ready" line, whose words after "ready" it keeps as h.ready (population: every PID); it runs
    until its stdin closes (stop_helpers())."""
    h = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = h.stdout.readline()
    if not line.startswith("ready"):
        sys.exit("%s failed: %r" % (cmd[0], line))
    h.ready = line.split()[1:]
    return h


def stop_helpers(helpers):
    """Closes every helper's stdin first (they all exit at once), then waits for each."""
    for h in helpers:
        h.stdin.close()
    for h in helpers:
        h.wait()
        h.stdout.close()


def measure(tool, cmd):
    """Runs cmd under bench/measure (tool); returns a Measured. Exits when the command fails."""
    p = subprocess.run([tool, *cmd], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(cmd), p.stderr[-2000:]))
    wall, rss, cpu = p.stderr.strip().splitlines()[-1].split()[1:]
    lines = p.stdout.strip().splitlines()
    out = None
    if lines and lines[-1].startswith("{"):
        out = json.loads(lines[-1])
    return Measured(int(wall) / 1e6, int(rss), int(cpu) / 1e6, out)
