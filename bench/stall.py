#!/usr/bin/env python3
"""Stall benchmark: how long a reader makes a measured process wait. bench/stall-helper maps
and unmaps a page in a loop (each takes the mmap lock for writing) and times every round trip,
while a reader sweeps for a fixed time: nothing (the baseline), a raw read of the helper's
smaps_rollup in a loop (the kernel's own walk, what every tool pays), or `mapstatd --once` in a
loop in each pagemap mode at the default StallBudget= and, for comparison, in the default mode
without it (--stall-budget 0: smaps_rollup for every process). Per helper layout — small (64 MiB), large (one mapping of --gib GiB),
many (1,000 mappings of 1 MiB) — prints the longest pause, p99, p99.9 and the pauses over 1 and
10 ms, interleaving the readers round by round.

    python3 bench/stall.py [--build build] [--gib 8] [--seconds 10] [--rounds 3]

Run as root on an otherwise idle machine; the large layout needs --gib GiB of free memory."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchutil import built


def reader_command(kind, mapstatd, db, pid):
    if kind == "rollup":
        return ["sh", "-c", "while :; do cat /proc/%d/smaps_rollup > /dev/null; done" % pid]
    if kind.startswith("mapstatd-"):
        # mapstatd-MODE, or mapstatd-MODE-unbounded: StallBudget=0, smaps_rollup for everyone
        mode, _, unbounded = kind.split("-", 1)[1].partition("-")
        budget = " --stall-budget 0" if unbounded else ""
        return ["sh", "-c", 'while :; do "$0" --once --pagemap %s%s --db "$1" > /dev/null; done'
                % (mode, budget), mapstatd, db]
    return None


def one(helper, layout, gib, kind, seconds, mapstatd, db):
    h = subprocess.Popen([helper, "--layout", layout, "--gib", str(gib)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = h.stdout.readline().split()
    if not line or line[0] != "ready":
        sys.exit("stall-helper failed")
    pid = int(line[1])
    cmd = reader_command(kind, mapstatd, db, pid)
    reader = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) if cmd else None
    time.sleep(seconds)
    if reader:
        reader.kill()
        reader.wait()
    h.stdin.close()
    out = json.loads(h.stdout.read().strip().splitlines()[-1])
    h.wait()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--gib", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--layouts", default="small,large,many")
    args = ap.parse_args()
    helper, mapstatd = built(args.build, "bench/stall-helper", "daemon/mapstatd")
    readers = ["none", "rollup", "mapstatd-exclusivity-unbounded", "mapstatd-off",
               "mapstatd-exclusivity", "mapstatd-full"]
    result = {}
    with tempfile.TemporaryDirectory(prefix="mapstatd-stall-") as tmp:
        db = os.path.join(tmp, "stall.db")
        for layout in args.layouts.split(","):
            runs = {k: [] for k in readers}
            for _ in range(args.rounds):
                for kind in readers:
                    runs[kind].append(one(helper, layout, args.gib, kind, args.seconds,
                                          mapstatd, db))
            result[layout] = {
                kind: {
                    "max_us": max(r["max_us"] for r in rs),
                    "p99_us": statistics.median(r["p99_us"] for r in rs),
                    "p999_us": statistics.median(r["p999_us"] for r in rs),
                    "over_1ms_per_s": round(statistics.median(r["over_1ms"] for r in rs) /
                                            args.seconds, 2),
                    "over_10ms": max(r["over_10ms"] for r in rs),
                } for kind, rs in runs.items()}
    print(json.dumps({"gib": args.gib, "seconds": args.seconds, "rounds": args.rounds,
                      "layouts": result}, indent=2))


if __name__ == "__main__":
    main()
