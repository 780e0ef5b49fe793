#!/usr/bin/env python3
"""Sweep benchmark: starts a few hundred processes with real memory, then measures, in one run
and interleaved, `mapstatd --once` against the kernel floor (bench/sweep-floor: the same procfs
reads with no parsing or storage). Prints the ratio of medians and mapstatd's peak RSS.

    python3 bench/sweep.py [--build build] [--procs 300] [--anon-kb 4096] [--rounds 15]

Targets (issue #2): sweep <= 1.15x the floor; peak RSS <= 10 MiB. The daemon runs with
--pagemap off, reading exactly what the floor reads; bench/pagemap.py measures the pagemap
modes against floors that also read maps, pagemap and kpage*. Run as root so that every
process's smaps_rollup is readable, on a machine that is otherwise as idle as it gets."""
import argparse
import json
import os
import shutil
import statistics
import tempfile

from benchutil import built, measure, start_helper, stop_helpers


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--procs", type=int, default=300)
    ap.add_argument("--anon-kb", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()

    mapstatd, floor, memlayout, tool = built(args.build, "daemon/mapstatd", "bench/sweep-floor",
                                             "tests/helpers/memlayout", "bench/measure")

    tmp = tempfile.mkdtemp(prefix="mapstatd-bench-")
    helpers = []
    try:
        for i in range(args.procs):
            cmd = [memlayout, "--anon", str(args.anon_kb)]
            if i % 3 == 0:
                cmd += ["--file", os.path.join(tmp, "f%d" % i) + ":1024"]
            if i % 10 == 0:
                cmd += ["--fork"]
            helpers.append(start_helper(cmd))

        db = os.path.join(tmp, "bench.db")
        # Warm-up: page cache, dentries, and the database's first-time schema creation.
        measure(tool, [floor])
        measure(tool, [mapstatd, "--once", "--pagemap", "off", "--db", db])

        floor_wall, floor_sweep, ours_wall, ours_sweep, peaks = [], [], [], [], []
        for _ in range(args.rounds):
            wall, _, out = measure(tool, [floor])
            floor_wall.append(wall)
            floor_sweep.append(out["duration_seconds"])
            wall, rss, out = measure(tool, [mapstatd, "--once", "--pagemap", "off", "--db", db])
            ours_wall.append(wall)
            ours_sweep.append(out["duration_seconds"])
            peaks.append(rss)

        med = statistics.median
        result = {
            "processes": out["processes_sampled"],
            "rounds": args.rounds,
            # The sweep itself: mapstatd's sweep (epoch check, every process read and parsed,
            # meminfo, all rows written and committed) vs the floor's reads, both timed inside
            # their process.
            "sweep_floor_seconds": round(med(floor_sweep), 5),
            "sweep_mapstatd_seconds": round(med(ours_sweep), 5),
            "sweep_ratio": round(med(ours_sweep) / med(floor_sweep), 3),
            # The whole --once process: exec, dynamic linking, database open and close too.
            "process_floor_seconds": round(med(floor_wall), 5),
            "process_mapstatd_seconds": round(med(ours_wall), 5),
            "process_ratio": round(med(ours_wall) / med(floor_wall), 3),
            "target_ratio": 1.15,
            "peak_rss_kib": max(peaks),
            "target_peak_rss_kib": 10240,
        }
        print(json.dumps(result, indent=2))
    finally:
        stop_helpers(helpers)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
