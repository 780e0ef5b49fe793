"""What the benchmark scripts share: running a command under bench/measure."""
import json
import subprocess
import sys


def measure(tool, cmd):
    """Runs cmd under bench/measure (tool); returns (wall s, peak RSS KiB, the command's last
    stdout line as JSON, or None when it printed none). Exits when the command fails."""
    p = subprocess.run([tool, *cmd], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(cmd), p.stderr[-2000:]))
    wall, rss = p.stderr.strip().splitlines()[-1].split()[1:]
    lines = p.stdout.strip().splitlines()
    out = None
    if lines and lines[-1].startswith("{"):
        out = json.loads(lines[-1])
    return int(wall) / 1e6, int(rss), out
