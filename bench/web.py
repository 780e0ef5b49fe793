#!/usr/bin/env python3
"""Web benchmark: wrk against /report, /processes/{id} (a 30-day range with step=), /metrics and
/ of a daemon that holds a month of history for 1,000 identities across 3 epochs and keeps
sweeping 1,000 fixture processes of the current epoch at a short interval. Prints per endpoint
requests/s and p50/p99 latency, the first answer after a sweep (computed, not cached), the
daemon's RSS idle and under load, and how late the sweeps ran.

    python3 bench/web.py [--build build] [--db bench/results/history-30d-1000.db]
                         [--interval 5] [--duration 20] [--connections 8]

"cold_ms" is the first answer of each endpoint, computed from scratch; after each sweep the
daemon's refresher computes the answers again while requests get the previous ones. The
database is written once by bench/gen-history (about 15 minutes on 2 cores; it is kept
and copied for each run, since the daemon adds sweeps to it). Targets (issue #8): /report p99
<= 10 ms and /metrics p99 <= 20 ms at 1,000 identities; no sweep delayed by more than one
interval; RSS under load <= 2x idle RSS. Run as root on an otherwise idle machine; wrk and the
daemon share its cores, as a scraper and the daemon would."""
import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from benchutil import built, rss_kib

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))

KERNEL = ("7.0.0-bench", "00000000-0000-4000-8000-000000000003")   # gen-history's last epoch


class RssSampler(threading.Thread):
    """Samples a process's RSS every 0.25 s until stopped."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.done = pid, [], threading.Event()

    def run(self):
        while not self.done.wait(0.25):
            self.samples.append(rss_kib(self.pid))

    def stop(self):
        self.done.set()
        self.join()
        return self.samples


def processes(n):
    """The fixture processes: gen-history's identities (svcNNNN --worker 1, one process each)."""
    out = []
    for i in range(n):
        rss = 20480 + (i * 7919 % 200) * 1024
        shared = int(rss * (0.2 + 0.1 * (i % 5) + (0.3 if i % 10 == 0 else 0)))
        private = rss - shared
        smaps = {"Rss": rss, "Pss": private + shared // 3, "Pss_Dirty": private * 4 // 5,
                 "Pss_Anon": private * 4 // 5, "Pss_File": private // 5 + shared // 3,
                 "Pss_Shmem": 0, "Shared_Clean": shared, "Shared_Dirty": 0,
                 "Private_Clean": private // 5, "Private_Dirty": private * 4 // 5,
                 "Referenced": rss, "Anonymous": private * 4 // 5, "KSM": 0, "LazyFree": 0,
                 "AnonHugePages": 0, "ShmemPmdMapped": 0, "FilePmdMapped": 0,
                 "Shared_Hugetlb": 0, "Private_Hugetlb": 0, "Swap": 0, "SwapPss": 0,
                 "Locked": 0}
        comm = "svc%04d" % i
        out.append(dict(pid=10000 + i, start=1000 + i, comm=comm, exe="/usr/bin/" + comm,
                        args=["--worker", "1"], unit=comm + ".service", smaps=smaps))
    return out


def wrk(url, duration, connections):
    """Runs wrk; returns (requests/s, p50 ms, p99 ms, non-2xx count)."""
    p = subprocess.run(["wrk", "-t1", "-c%d" % connections, "-d%ds" % duration, "--latency",
                        url], capture_output=True, text=True, check=True)
    out = p.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(label):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, pct("50"), pct("99"), int(bad.group(1)) if bad else 0


def timed_get(url):
    """One request that wants the current answer (Cache-Control: no-cache): computed, when the
    generation is new, rather than the previous one from the cache. Returns milliseconds."""
    start = time.monotonic()
    req = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    return (time.monotonic() - start) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--db", default=os.path.join(SOURCE_ROOT, "bench", "results",
                                                 "history-30d-1000.db"))
    ap.add_argument("--identities", type=int, default=1000)
    ap.add_argument("--interval", type=int, default=5, help="seconds between sweeps")
    ap.add_argument("--duration", type=int, default=20, help="seconds of wrk per endpoint")
    ap.add_argument("--connections", type=int, default=8)
    args = ap.parse_args()

    mapstatd, gen = built(args.build, "daemon/mapstatd", "bench/gen-history")
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    os.environ["MAPSTATD_BIN"] = os.path.abspath(mapstatd)
    from fixture_tree import Kernel, write_tree
    from harness import Daemon

    if not os.path.exists(args.db):
        os.makedirs(os.path.dirname(args.db), exist_ok=True)
        print("writing %s with %s (once)" % (args.db, gen), file=sys.stderr)
        subprocess.run([gen, args.db, "--identities", str(args.identities),
                        "--meminfo", os.path.join(SOURCE_ROOT, "tests", "fixtures",
                                                  "linux-6.18-page", "proc", "meminfo")],
                       check=True)
        con = sqlite3.connect(args.db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()

    tmp = tempfile.mkdtemp(prefix="mapstatd-bench-web-")
    try:
        db = os.path.join(tmp, "m.db")
        shutil.copyfile(args.db, db)
        tree = os.path.join(tmp, "tree")
        write_tree(tree, Kernel(KERNEL[0], KERNEL[1], "no_page"), {}, processes(args.identities),
                   extra_bad=False)
        roots = ["--proc-root", os.path.join(tree, "proc"), "--sys-root",
                 os.path.join(tree, "sys")]
        ro = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        sweeps_before = ro.execute("SELECT count(*) FROM sweeps").fetchone()[0]

        with Daemon(["--interval", "%ds" % args.interval, "--pagemap", "off", *roots],
                    db=db) as d:
            d.wait_sweeps(2, timeout=120)
            base = "http://127.0.0.1:%d" % d.port
            identities = ro.execute("SELECT count(*) FROM identities").fetchone()[0]
            if identities != args.identities:
                sys.exit("the fixture's processes made new identities (%d): keys differ from "
                         "gen-history's" % identities)
            svc = ro.execute("SELECT id FROM identities WHERE comm = 'svc0000'").fetchone()[0]
            now = int(time.time())
            endpoints = [
                ("/report", "/report"),
                ("/processes/{id}", "/processes/%d?from=%d&to=%d&step=3600"
                 % (svc, now - 30 * 86400, now + 3600)),
                ("/metrics", "/metrics"),
                ("/", "/"),
            ]

            # Idle: sweeping, no request yet.
            sampler = RssSampler(d.proc.pid)
            sampler.start()
            time.sleep(10)
            idle = sampler.stop()

            # The first answers are computed from scratch: nothing cached, no comparison kept.
            # /metrics goes first, as it computes /report's comparison too; /report then with
            # other thresholds, a comparison of its own.
            cold = {}
            for name, path in (endpoints[2], ("/report", "/report?min_delta_kb=1000"),
                               endpoints[1], endpoints[3]):
                cold[name] = round(timed_get(base + path), 1)

            t_start = time.time()
            results = {}
            load = []
            for name, path in endpoints:
                sampler = RssSampler(d.proc.pid)
                sampler.start()
                rps, p50, p99, bad = wrk(base + path, args.duration, args.connections)
                load += sampler.stop()
                results[name] = {"requests_per_second": round(rps), "p50_ms": round(p50, 3),
                                 "p99_ms": round(p99, 3), "errors": bad,
                                 "cold_ms": cold[name]}
            t_end = time.time()
            body = urllib.request.urlopen(base + "/report").read()
            flagged = len(json.loads(body)["flagged"])

        starts = [r[0] / 1e6 for r in ro.execute(
            "SELECT start_usec FROM sweeps WHERE start_usec BETWEEN ? AND ? ORDER BY start_usec",
            (int(t_start * 1e6), int(t_end * 1e6)))]
        durations = [r[0] / 1e6 for r in ro.execute(
            "SELECT duration_usec FROM sweeps WHERE start_usec BETWEEN ? AND ?",
            (int(t_start * 1e6), int(t_end * 1e6)))]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        ro.close()
        idle_rss = statistics.median(idle)
        result = {
            "identities": args.identities,
            "sweeps_in_database": sweeps_before,
            "report_flagged": flagged,
            "interval_seconds": args.interval,
            "wrk": "-t1 -c%d -d%ds" % (args.connections, args.duration),
            "endpoints": results,
            "rss_idle_kib": idle_rss,
            "rss_load_max_kib": max(load),
            "rss_ratio": round(max(load) / idle_rss, 2),
            "sweeps_under_load": len(starts),
            "sweep_duration_max_seconds": round(max(durations), 3) if durations else None,
            "sweep_gap_max_seconds": round(max(gaps), 3) if gaps else None,
            "sweep_delay_max_seconds": round(max(gaps) - args.interval, 3) if gaps else None,
            "targets": {"report_p99_ms": 10, "metrics_p99_ms": 20,
                        "sweep_delay_max_seconds": args.interval, "rss_ratio": 2},
        }
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
