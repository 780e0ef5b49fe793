#!/usr/bin/env python3
"""Steady-state benchmark: the running daemon's sweep over a workload that does not change, and
over one where a share of the processes changes every interval, against the kernel floor of
reading every process's smaps_rollup (bench/sweep-floor), in one run.

Starts bench/population (--procs processes: a THP, private anonymous memory, a memfd and a file
shared by all, a copy-on-write child per member), then for each pagemap mode and each share of
changing processes runs the daemon with --interval and --max-staleness = the interval times
--staleness-intervals (the default 5min over the default 60s, compressed), and between two of
its sweeps runs the floor once and makes the changing processes fault (SIGUSR1: 64 KiB more,
written). The daemon's sweeps are timed by the daemon itself (sweeps.duration_usec); the floor
prints its own. Prints, per case, the mean and median sweep against the floor's median, the
daemon's CPU per sweep and RSS over the run, the share of processes reused, the database bytes
per process and sweep, and the database's growth per sweep (content bytes of the host tables,
and of the per-process and per-identity ones per identity) extrapolated to 30 days of sweeps at
the default interval for 1,000 identities, and to what the default retention keeps of them
(7 days). bench/suite.py runs these cases as part of the suite.

    python3 bench/steady.py [--build build] [--procs 200] [--sweeps 40] [--changing 0,10]
                            [--modes off,exclusivity,full]

Targets (issue #12): idle <= 0.3x the smaps_rollup floor, 10 % changing <= 0.5x."""
import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from benchutil import built, rss_kib, start_helper, stop_helpers

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))
TARGETS = {0: 0.3, 10: 0.5}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def floor_seconds(floor):
    p = subprocess.run([floor], capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])["duration_seconds"]


HOST_TABLES = ("sweeps", "meminfo_samples", "thp_", "cgroup", "epoch")
SWEEPS_30_DAYS = 30 * 24 * 60       # at the default interval, 60 s
SWEEPS_RETAINED = 7 * 24 * 60       # what the default Retention=7d keeps of them


def content_bytes(con):
    """Bytes of content (pages minus their free space) of the host tables and of the per-process
    and per-identity ones, with their indexes."""
    host = ident = 0
    for name, used in con.execute("SELECT name, sum(pgsize - unused) FROM dbstat GROUP BY name"):
        table = name if not name.startswith("sqlite_autoindex_") else name[17:]
        if table.startswith(HOST_TABLES):
            host += used
        elif table.startswith(("process", "identit")):
            ident += used
    return host, ident


def run_case(args, pids, mode, changing, floor, tmp):
    """One case: the daemon in mode over the processes pids, changing percent of them faulting
    before every sweep, for args.sweeps sweeps of args.interval_ms (and args.staleness_intervals
    of them as MaxStaleness=); needs $MAPSTATD_BIN. Returns the figures as a dict."""
    from harness import Daemon

    interval = args.interval_ms
    db = os.path.join(tmp, "steady-%s-%d.db" % (mode, changing))
    n_change = len(pids) * changing // 100
    floors, rss, cursor = [], [], 0
    with Daemon(["--interval", "%dms" % interval, "--pagemap", mode,
                 "--max-staleness", "%dms" % (interval * args.staleness_intervals)],
                db=db) as d:
        d.wait_sweeps(2, timeout=120)       # the first reads everything; then steady
        ro = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        first = ro.execute("SELECT max(id) FROM sweeps").fetchone()[0]
        host0, ident0 = content_bytes(ro)
        cpu0 = cpu_seconds(d.proc.pid)
        for _ in range(args.sweeps):
            floors.append(floor_seconds(floor))
            for _ in range(n_change):
                os.kill(pids[cursor % len(pids)], signal.SIGUSR1)     # population: 64 KiB more
                cursor += 1
            d.wait_sweeps(1, timeout=120)
            rss.append(rss_kib(d.proc.pid))
        cpu = cpu_seconds(d.proc.pid) - cpu0
        with open("/proc/%d/status" % d.proc.pid) as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        rows = ro.execute("SELECT duration_usec / 1e6, sampled, reused FROM sweeps"
                          " WHERE id > ? ORDER BY id", (first,)).fetchall()
        host1, ident1 = content_bytes(ro)
        # (sweep_id for a build before schema version 9, to compare with)
        last = "last_sweep_id" if any(c[1] == "last_sweep_id" for c in ro.execute(
            "PRAGMA table_info(identity_samples)")) else "sweep_id"
        identities = ro.execute("SELECT count(*) FROM identity_samples WHERE %s ="
                                " (SELECT max(id) FROM sweeps)" % last).fetchone()[0]
        ro.close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sizes = dict(con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    total_sweeps, samples = con.execute("SELECT count(*), sum(sampled) FROM sweeps").fetchone()
    con.close()

    sweeps = [r[0] for r in rows]
    floor = statistics.median(floors)
    host_per_sweep = (host1 - host0) / len(rows)
    identity_per_sweep = (ident1 - ident0) / len(rows) / identities
    per_sweep_1000 = host_per_sweep + 1000 * identity_per_sweep
    per_sample = sum(v for k, v in sizes.items()
                     if k.startswith(("process_", "identity_samples"))) / samples
    return {
        "mode": mode,
        "changing_percent": changing,
        "processes_changed_per_sweep": n_change,
        "sweeps": len(sweeps),
        "sampled_per_sweep": round(statistics.mean(r[1] for r in rows), 1),
        "reused_per_sweep": round(statistics.mean(r[2] or 0 for r in rows), 1),
        "floor_median_seconds": round(floor, 5),
        "sweep_mean_seconds": round(statistics.mean(sweeps), 5),
        "sweep_median_seconds": round(statistics.median(sweeps), 5),
        "sweep_max_seconds": round(max(sweeps), 5),
        "mean_ratio": round(statistics.mean(sweeps) / floor, 3),
        "median_ratio": round(statistics.median(sweeps) / floor, 3),
        "target_mean_ratio": TARGETS.get(changing),
        "daemon_cpu_per_sweep_seconds": round(cpu / len(sweeps), 5),
        "daemon_rss_kib": {"first": rss[0], "median": statistics.median(rss), "max": max(rss),
                           "last": rss[-1], "peak": hwm},
        "process_and_identity_bytes_per_process_sample": round(per_sample, 1),
        "database_sweeps": total_sweeps,
        "identities": identities,
        "host_bytes_per_sweep": round(host_per_sweep, 1),
        "bytes_per_identity_and_sweep": round(identity_per_sweep, 2),
        "mib_30_days_1000_identities": round(SWEEPS_30_DAYS * per_sweep_1000 / 2**20, 1),
        "mib_default_retention_1000_identities":
            round(SWEEPS_RETAINED * per_sweep_1000 / 2**20, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--procs", type=int, default=200)
    ap.add_argument("--resident-kb", type=int, default=8192)
    ap.add_argument("--sweeps", type=int, default=40)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--staleness-intervals", type=int, default=5)
    ap.add_argument("--modes", default="off,exclusivity")
    ap.add_argument("--changing", default="0,10", help="percent of processes changing per sweep")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: every process's smaps_rollup is read")

    b = os.path.abspath(args.build)
    mapstatd, floor, population = built(b, "daemon/mapstatd", "bench/sweep-floor",
                                        "bench/population")
    os.environ["MAPSTATD_BIN"] = mapstatd

    tmp = tempfile.mkdtemp(prefix="mapstatd-bench-steady-", dir="/dev/shm")
    helpers = []
    try:
        helpers.append(start_helper([population, "--procs", str(args.procs),
                                     "--resident-kb", str(args.resident_kb)]))
        pids = [int(p) for p in helpers[0].ready]
        time.sleep(1)
        results = []
        for mode in args.modes.split(","):
            for changing in (int(c) for c in args.changing.split(",")):
                results.append(run_case(args, pids, mode, changing, floor, tmp))
                print(json.dumps(results[-1]), file=sys.stderr)
        print(json.dumps({"processes_started": args.procs, "resident_kb": args.resident_kb,
                          "interval_ms": args.interval_ms,
                          "max_staleness_ms": args.interval_ms * args.staleness_intervals,
                          "floor": "bench/sweep-floor: stat, smaps_rollup, cmdline, exe, "
                                   "cgroup per PID; meminfo",
                          "cases": results}, indent=2))
    finally:
        stop_helpers(helpers)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
