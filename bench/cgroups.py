#!/usr/bin/env python3
"""Cgroup benchmark: what the memory cgroup walk adds to a sweep, per 100 cgroups, against the
kernel floor (bench/cgroup-floor: the same memory.stat, usage and THP files read, no parsing,
no storage). Creates N empty memory cgroups of its own (removed at the end), then measures
interleaved, in one run:
  - cgroup-floor over the real /sys;
  - `mapstatd --once --pagemap off` with the real /sys as sys root, and with a sys root
    without cgroups, both on the same small fixture proc root: the difference is the cgroup
    and THP part of the sweep (read, parse, store, commit).

    python3 bench/cgroups.py [--build build] [--cgroups 100,1000] [--rounds 15]

Run as root on an otherwise idle machine."""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile

from benchutil import built, measure

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "tests", "fixtures", "linux-6.18-page")


def memory_root():
    """The directory our cgroups go under: the v1 memory hierarchy, or v2's root."""
    v1 = "/sys/fs/cgroup/memory"
    if os.path.isfile(os.path.join(v1, "memory.stat")):
        return v1
    with open("/sys/fs/cgroup/cgroup.controllers") as f:
        if "memory" not in f.read().split():
            sys.exit("no memory controller on this machine")
    return "/sys/fs/cgroup"


def make_cgroups(base, n):
    os.mkdir(base)
    if not base.startswith("/sys/fs/cgroup/memory"):
        with open(os.path.join(base, "cgroup.subtree_control"), "w") as f:
            f.write("+memory")
    for i in range(n):
        os.mkdir(os.path.join(base, "cg-%d.scope" % i))


def remove_cgroups(base):
    if not os.path.isdir(base):
        return
    for name in os.listdir(base):
        path = os.path.join(base, name)
        if os.path.isdir(path):
            os.rmdir(path)
    os.rmdir(base)


def run(args, n, tools):
    mapstatd, floor, tool = tools
    base = os.path.join(memory_root(), "mapstatd-bench-%d" % os.getpid())
    tmp = tempfile.mkdtemp(prefix="mapstatd-bench-")
    try:
        make_cgroups(base, n)
        dbs = [os.path.join(tmp, "with.db"), os.path.join(tmp, "without.db")]
        proc = ["--proc-root", os.path.join(FIXTURE, "proc"), "--pagemap", "off"]
        with_cg = [mapstatd, "--once", *proc, "--db", dbs[0], "--sys-root", "/sys"]
        without = [mapstatd, "--once", *proc, "--db", dbs[1], "--sys-root",
                   os.path.join(FIXTURE, "sys")]
        measure(tool, [floor, "/sys"])
        measure(tool, with_cg)
        measure(tool, without)
        fl, ours, bare, peaks = [], [], [], []
        for _ in range(args.rounds):
            out = measure(tool, [floor, "/sys"]).out
            fl.append(out["duration_seconds"])
            counted = out["cgroups"]
            m = measure(tool, with_cg)
            ours.append(m.out["duration_seconds"])
            peaks.append(m.rss)
            bare.append(measure(tool, without).out["duration_seconds"])
        med = statistics.median
        cost = med(ours) - med(bare)
        # What the cgroups add to the database: the two files, checkpointed, told apart.
        size = []
        cgroup_samples = 0
        for db in dbs:
            conn = sqlite3.connect(db)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cgroup_samples += conn.execute("SELECT count(*) FROM cgroup_samples").fetchone()[0]
            conn.close()
            size.append(os.path.getsize(db))
        return {
            "cgroups_created": n,
            "cgroups_walked": counted,
            "rounds": args.rounds,
            "floor_seconds": round(med(fl), 5),
            "mapstatd_cgroup_part_seconds": round(cost, 5),
            "floor_per_100_cgroups_ms": round(1000 * med(fl) / counted * 100, 3),
            "mapstatd_per_100_cgroups_ms": round(1000 * cost / counted * 100, 3),
            "ratio": round(cost / med(fl), 3),
            "peak_rss_kib": max(peaks),
            "database_bytes_per_cgroup_sample": round((size[0] - size[1]) /
                                                      max(1, cgroup_samples), 1),
        }
    finally:
        remove_cgroups(base)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--cgroups", default="100,1000")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark creates memory cgroups")
    tools = built(args.build, "daemon/mapstatd", "bench/cgroup-floor", "bench/measure")
    print(json.dumps([run(args, int(n), tools) for n in args.cgroups.split(",")], indent=2))


if __name__ == "__main__":
    main()
