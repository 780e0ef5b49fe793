#!/usr/bin/env python3
"""Sweep benchmark: starts a few hundred processes with real memory, then measures, in one run
and interleaved, `mapstatd --once` against the kernel floor (bench/sweep-floor: the same procfs
reads with no parsing or storage). Prints the ratio of medians and mapstatd's peak RSS.

    python3 bench/sweep.py [--build build] [--procs 300] [--anon-kb 4096] [--rounds 15]

Targets (issue #2): sweep <= 1.15x the floor; peak RSS <= 10 MiB. Run as root so that every
process's smaps_rollup is readable, on a machine that is otherwise as idle as it gets."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run_with_rusage(cmd):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(cmd[0], cmd)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("%s failed" % cmd[0])
    return wall, ru.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--procs", type=int, default=300)
    ap.add_argument("--anon-kb", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()

    mapstatd = os.path.join(args.build, "daemon", "mapstatd")
    floor = os.path.join(args.build, "bench", "sweep-floor")
    memlayout = os.path.join(args.build, "tests", "helpers", "memlayout")
    for p in (mapstatd, floor, memlayout):
        if not os.access(p, os.X_OK):
            sys.exit("missing %s: build first (meson setup %s && ninja -C %s)"
                     % (p, args.build, args.build))

    tmp = tempfile.mkdtemp(prefix="mapstatd-bench-")
    helpers = []
    try:
        for i in range(args.procs):
            cmd = [memlayout, "--anon", str(args.anon_kb)]
            if i % 3 == 0:
                cmd += ["--file", os.path.join(tmp, "f%d" % i) + ":1024"]
            if i % 10 == 0:
                cmd += ["--fork"]
            h = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            if not h.stdout.readline().startswith("ready"):
                sys.exit("memlayout failed")
            helpers.append(h)

        db = os.path.join(tmp, "bench.db")
        # Warm-up: page cache, dentries, and the database's first-time schema creation.
        run_with_rusage([floor])
        run_with_rusage([mapstatd, "--once", "--db", db])

        floor_t, ours_t, peaks = [], [], []
        for _ in range(args.rounds):
            w, _ = run_with_rusage([floor])
            floor_t.append(w)
            w, rss = run_with_rusage([mapstatd, "--once", "--db", db])
            ours_t.append(w)
            peaks.append(rss)

        nprocs = sum(1 for n in os.listdir("/proc") if n.isdigit())
        f, o = statistics.median(floor_t), statistics.median(ours_t)
        result = {
            "processes": nprocs,
            "rounds": args.rounds,
            "floor_median_seconds": round(f, 5),
            "mapstatd_median_seconds": round(o, 5),
            "ratio": round(o / f, 3),
            "target_ratio": 1.15,
            "peak_rss_kib": max(peaks),
            "target_peak_rss_kib": 10240,
        }
        print(json.dumps(result, indent=2))
    finally:
        for h in helpers:
            h.stdin.close()
        for h in helpers:
            h.wait()
            h.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
