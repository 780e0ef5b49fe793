#!/usr/bin/env python3
"""Peers benchmark: one sweep of every process by mapstatd and by the peers Debian packages, on
the same workload, interleaved round by round, as whole commands (what a timer or a scrape
costs): wall time and peak RSS, and ratios to the kernel floor (bench/sweep-floor: stat,
smaps_rollup, cmdline, exe, cgroup per PID and meminfo, read and dropped).

  mapstatd --once --pagemap off          smaps_rollup, stored
  mapstatd --once (exclusivity)          + maps and pagemap, stored
  smemstat -q -o FILE                    every process's smaps, a JSON report (smemstat)
  smem -c "pid pss uss"                  every process's smaps, in Python (smem)

Two shapes of process (tests/helpers/memlayout --regions): about 70 mappings each, and about
1,000. Run as root on an otherwise idle machine; the peers come from apt-get install smem
smemstat.

    python3 bench/peers.py [--build build] [--procs 200] [--rounds 7]

Targets (issue #12): at ~1,000 mappings mapstatd >= 8x faster than smem and >= 3x faster than
smemstat; at ~70, at least as fast as the fastest of them."""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

from benchutil import built, measure, start_helper, stop_helpers

SHAPES = {"~70 mappings": 22, "~1,000 mappings": 487}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--procs", type=int, default=200)
    ap.add_argument("--anon-mb", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    b = args.build
    tool, memlayout, mapstatd, floor = built(b, "bench/measure", "tests/helpers/memlayout",
                                             "daemon/mapstatd", "bench/sweep-floor")
    for p in ("smem", "smemstat"):
        if not shutil.which(p):
            sys.exit("%s is missing: apt-get install smem smemstat" % p)

    tmp = tempfile.mkdtemp(prefix="mapstatd-bench-peers-", dir="/dev/shm")
    db = os.path.join(tmp, "bench.db")
    commands = {
        "floor": [floor],
        "mapstatd off": [mapstatd, "--once", "--db", db, "--pagemap", "off"],
        "mapstatd exclusivity": [mapstatd, "--once", "--db", db],
        # bench/measure executes a path, not a name looked up in PATH.
        "smemstat": [shutil.which("smemstat"), "-q", "-o", os.path.join(tmp, "smemstat.json")],
        "smem": [shutil.which("smem"), "-c", "pid pss uss"],
    }
    result = {"processes_started": args.procs, "anon_mb_each": args.anon_mb,
              "rounds": args.rounds, "shapes": {}}
    try:
        for shape, regions in SHAPES.items():
            helpers = []
            try:
                for i in range(args.procs):
                    cmd = [memlayout, "--anon", str(args.anon_mb * 1024), "--regions",
                           str(regions)]
                    if i % 3 == 1:
                        cmd.append("--fork")
                    helpers.append(start_helper(cmd))
                with open("/proc/%d/maps" % helpers[0].pid) as f:
                    mappings = len(f.readlines())
                runs = {name: [] for name in commands}
                rss = {name: 0 for name in commands}
                for name, cmd in commands.items():     # warm-up
                    measure(tool, cmd)
                for _ in range(args.rounds):
                    for name, cmd in commands.items():
                        wall, peak, _ = measure(tool, cmd)
                        runs[name].append(wall)
                        rss[name] = max(rss[name], peak)
                med = {name: statistics.median(v) for name, v in runs.items()}
                result["shapes"][shape] = {
                    "mappings_per_helper": mappings,
                    "median_seconds": {k: round(v, 4) for k, v in med.items()},
                    "ratio_to_floor": {k: round(v / med["floor"], 2) for k, v in med.items()},
                    "peer_over_mapstatd_exclusivity": {
                        k: round(med[k] / med["mapstatd exclusivity"], 2)
                        for k in ("smemstat", "smem")},
                    "peer_over_mapstatd_off": {
                        k: round(med[k] / med["mapstatd off"], 2) for k in ("smemstat", "smem")},
                    "peak_rss_kib": rss,
                }
                print(json.dumps({shape: result["shapes"][shape]}), file=sys.stderr)
            finally:
                stop_helpers(helpers)
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
