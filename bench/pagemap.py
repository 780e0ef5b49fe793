#!/usr/bin/env python3
"""Pagemap benchmark: starts a few hundred processes with a few GiB resident in total (small
pages, THP, copy-on-write sharing after fork, shared tmpfs files), then measures in one run and
interleaved, for each pagemap mode, `mapstatd --once --pagemap MODE` against its kernel floor:

  off          bench/sweep-floor: stat, smaps_rollup, cmdline, exe, cgroup per PID; meminfo
  exclusivity  bench/pagemap-floor exclusivity: the same, plus maps and pagemap over every
               mapped range (preads of up to 512 KiB), no processing
  full         bench/pagemap-floor full: the same, plus one 4 KiB pread of kpageflags and of
               kpagecount for every 512-PFN block a present entry points into

Prints, per mode, the ratio of medians of the sweep time (both programs time their own sweep
and print "duration_seconds") and of the whole process (bench/measure), and mapstatd's peak RSS.

    python3 bench/pagemap.py [--build build] [--procs 200] [--anon-mb 16] [--rounds 11]

Targets (issue #3): exclusivity <= 1.3x its floor, full <= 2x its floor. Run as root (PFNs and
kpageflags need it) on an otherwise idle machine with transparent_hugepage/enabled madvise or
always."""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

from benchutil import built, measure, start_helper, stop_helpers

FLOORS = {
    "off": "stat, smaps_rollup, cmdline, exe, cgroup per PID; meminfo (bench/sweep-floor)",
    "exclusivity": "off's files + maps + pagemap over mapped ranges, no processing "
                   "(bench/pagemap-floor exclusivity)",
    "full": "exclusivity's files + kpageflags and kpagecount, 4 KiB per 512-PFN block seen "
            "(bench/pagemap-floor full)",
}
TARGETS = {"off": 1.15, "exclusivity": 1.3, "full": 2.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--procs", type=int, default=200)
    ap.add_argument("--anon-mb", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=11)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the full mode needs PFNs and /proc/kpageflags")

    b = args.build
    mapstatd, tool, sweep_floor, pagemap_floor, memlayout, workload = built(
            b, "daemon/mapstatd", "bench/measure", "bench/sweep-floor", "bench/pagemap-floor",
            "tests/helpers/memlayout", "tests/helpers/workload")
    floors = {"off": [sweep_floor], "exclusivity": [pagemap_floor, "exclusivity"],
              "full": [pagemap_floor, "full"]}

    tmp = tempfile.mkdtemp(prefix="mapstatd-bench-", dir="/dev/shm")
    helpers = []
    kinds = {"thp": 0, "small": 0, "small+fork": 0, "small+shm": 0}
    try:
        anon_kb = str(args.anon_mb * 1024)
        for i in range(args.procs):
            if i % 4 == 0:
                # THP-backed: a handful of PMD entries instead of thousands of PTEs.
                cmd, kind = [workload, "thp", "--mb", str(args.anon_mb), "--tag", "bench"], "thp"
            elif i % 10 == 1:
                cmd, kind = [memlayout, "--anon", anon_kb, "--fork"], "small+fork"
            elif i % 4 == 2:
                cmd, kind = [memlayout, "--anon", anon_kb, "--file",
                             os.path.join(tmp, "f%d" % i) + ":1024"], "small+shm"
            else:
                cmd, kind = [memlayout, "--anon", anon_kb], "small"
            helpers.append(start_helper(cmd))
            kinds[kind] += 1

        db = os.path.join(tmp, "bench.db")
        # Warm-up: page cache, dentries, the database's schema.
        for mode in FLOORS:
            measure(tool, floors[mode])
            measure(tool, [mapstatd, "--once", "--db", db, "--pagemap", mode])

        runs = {m: {"floor_sweep": [], "floor_wall": [], "ours_sweep": [], "ours_wall": [],
                    "rss": [], "floor_out": None, "ours_out": None} for m in FLOORS}
        for _ in range(args.rounds):
            for mode in FLOORS:
                r = runs[mode]
                wall, _, out = measure(tool, floors[mode])
                r["floor_wall"].append(wall)
                r["floor_sweep"].append(out["duration_seconds"])
                r["floor_out"] = out
                wall, rss, out = measure(tool, [mapstatd, "--once", "--db", db,
                                                "--pagemap", mode])
                r["ours_wall"].append(wall)
                r["ours_sweep"].append(out["duration_seconds"])
                r["rss"].append(rss)
                r["ours_out"] = out

        med = statistics.median
        result = {"processes_started": args.procs, "helpers": kinds,
                  "anon_mb_each": args.anon_mb, "rounds": args.rounds, "modes": {}}
        for mode, r in runs.items():
            result["modes"][mode] = {
                "floor_reads": FLOORS[mode],
                "floor": r["floor_out"],
                "mapstatd_summary": r["ours_out"],
                # The sweep itself, timed inside each process.
                "sweep_floor_seconds": round(med(r["floor_sweep"]), 5),
                "sweep_mapstatd_seconds": round(med(r["ours_sweep"]), 5),
                "sweep_ratio": round(med(r["ours_sweep"]) / med(r["floor_sweep"]), 3),
                # The whole --once process (exec, linking, database open/close too).
                "process_floor_seconds": round(med(r["floor_wall"]), 5),
                "process_mapstatd_seconds": round(med(r["ours_wall"]), 5),
                "process_ratio": round(med(r["ours_wall"]) / med(r["floor_wall"]), 3),
                "target_sweep_ratio": TARGETS[mode],
                "peak_rss_kib": max(r["rss"]),
            }
        print(json.dumps(result, indent=2))
    finally:
        stop_helpers(helpers)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
