#!/usr/bin/env python3
"""The benchmark suite: one sweep of every process by mapstatd in each pagemap mode, by the
kernel floors and by the peers, on the same reproducible workload, then the steady-state
daemon; writes bench/results.md (the tables, the machine, the exact commands) and the raw figures
as CSV. Run through `scripts/dev.sh bench`, which installs what it needs first.

Workloads (bench/population): --procs N processes (N = 50, 500, 2,000 by default), half of them
members with a THP, private anonymous memory (--resident-kb), a memfd and a file shared by
every process and pages of alternating protection, half their copy-on-write children; two
shapes: ~70 and ~1,000 mappings per process. On each, alternating the commands round by round
(the order rotates) after one warm-up round:

  floor rollup    bench/sweep-floor: stat, smaps_rollup, cmdline, exe, cgroup per PID; meminfo
  floor pagemap   bench/pagemap-floor exclusivity: also maps and pagemap over every mapping
  floor kpage     bench/pagemap-floor full: also kpageflags/kpagecount per 512-PFN block seen
  mapstatd MODE   mapstatd --once --pagemap MODE (off, exclusivity, full): whole process, and
                  its sweep timed inside as the daemon times it
  smem            smem -c "pid pss uss" (Debian's smem)
  smemstat        smemstat -q -o FILE (Debian's smemstat)
  process-exporter one scrape of prometheus-process-exporter -gather-smaps, all processes
  node-exporter   one scrape of prometheus-node-exporter with the meminfo collector alone

wall and CPU time and peak RSS of each (a scrape: its latency, and the server's CPU time and
peak RSS). Then the steady state (bench/steady.py's cases): the running daemon over --steady-procs
processes, idle and with 10 % of them changing per interval, in each pagemap mode, against the
floor; and one compressed run of --steady-minutes at a 2 s interval in the default mode with 10 %
changing: CPU per sweep, RSS over time, database growth extrapolated.

    python3 bench/suite.py [--build build] [--procs 50,500,2000] [--shapes 70,1000]
                           [--resident-kb 4096] [--rounds 5] [--steady-minutes 15] [--quick]

Run as root (PFNs, other users' smaps) on an otherwise idle machine. Takes about 45 minutes on 2
cores at the defaults; --quick (N = 50, 200; 3 rounds; a 1-minute steady run) about 5."""
import argparse
import csv
import datetime
import gzip
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.request

import steady
from benchutil import Measured, built, measure, start_helper, stop_helpers

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))

MODES = ("off", "exclusivity", "full")
FLOOR_OF = {"off": "floor rollup", "exclusivity": "floor pagemap", "full": "floor kpage"}
# Targets of issue #12, as ratios of medians measured in one run.
SWEEP_TARGETS = {"off": 1.10, "exclusivity": 1.25, "full": 2.0}
ONCE_TARGET = 1.15                      # --once over its own sweep
DEFAULT_MODE_TARGET = 1.3               # exclusivity's sweep over the smaps_rollup floor, ~70
FULL_MIB_PER_GIB_TARGET = 1.0
STEADY_TARGETS = {0: 0.3, 10: 0.5}
PROCESS_EXPORTER_CONFIG = """process_names:
  - name: "{{.Comm}}"
    cmdline:
    - '.+'
"""


def schedstat_seconds(pid):
    """CPU time of every thread of a process so far (nanosecond schedstat, not clock ticks)."""
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return total / 1e9


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Exporter:
    """A peer that serves /metrics (process-exporter, node-exporter): started once per workload;
    scrape() times one scrape and the server's CPU time spent on it."""

    def __init__(self, argv):
        self.port = free_port()
        self.argv = [a.replace("PORT", str(self.port)) for a in argv]
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.url = "http://127.0.0.1:%d/metrics" % self.port
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url, timeout=60).read()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit("%s did not serve %s" % (self.argv[0], self.url))

    def scrape(self):
        cpu = schedstat_seconds(self.proc.pid)
        start = time.monotonic()
        with urllib.request.urlopen(self.url, timeout=600) as r:
            r.read()
        wall = time.monotonic() - start
        return Measured(wall, peak_rss_kib(self.proc.pid),
                        schedstat_seconds(self.proc.pid) - cpu, None)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def tool(name, package):
    from prometheus import tool as find
    try:
        return find(name)
    except AssertionError:
        sys.exit("%s is missing: run scripts/dev.sh bench (it unpacks Debian's %s)"
                 % (name, package))


def commands(b, tmp):
    """The one-shot commands, by name: a list (run under bench/measure) or an Exporter."""
    cmds = {
        "floor rollup": [b.sweep_floor],
        "floor pagemap": [b.pagemap_floor, "exclusivity"],
        "floor kpage": [b.pagemap_floor, "full"],
    }
    for mode in MODES:
        cmds["mapstatd " + mode] = [b.mapstatd, "--once", "--pagemap", mode, "--db",
                                    os.path.join(tmp, mode + ".db")]
    cmds["smem"] = [shutil.which("smem"), "-c", "pid pss uss"]
    cmds["smemstat"] = [shutil.which("smemstat"), "-q", "-o", os.path.join(tmp, "smemstat.json")]
    config = os.path.join(tmp, "process-exporter.yml")     # written by main()
    cmds["process-exporter"] = [b.process_exporter, "-gather-smaps=true", "-config.path", config,
                                "-web.listen-address", "127.0.0.1:PORT"]
    cmds["node-exporter"] = [b.node_exporter, "--collector.disable-defaults",
                             "--collector.meminfo", "--web.listen-address=127.0.0.1:PORT"]
    return cmds


def rollup_kib(pids, field):
    total = 0
    for pid in pids:
        with open("/proc/%s/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def run_workload(b, args, n, mappings, tmp, rows):
    """One workload: returns its summary (per command: medians, min, max; the workload's size)."""
    pop = start_helper([b.population, "--procs", str(n), "--mappings", str(mappings),
                        "--resident-kb", str(args.resident_kb), "--dir", tmp])
    exporters = {}
    try:
        pids = pop.ready
        with open("/proc/%s/maps" % pids[0]) as f:
            maps = len(f.readlines())
        rss_gib = rollup_kib(pids, "Rss") / 2**20
        cmds = commands(b, tmp)
        for name, cmd in cmds.items():
            if name.endswith("-exporter"):
                exporters[name] = cmds[name] = Exporter(cmd)
        rounds = args.rounds if n < 1000 else max(3, args.rounds - 2)

        def run(name):
            cmd = cmds[name]
            return cmd.scrape() if isinstance(cmd, Exporter) else measure(b.measure, cmd)

        names = list(cmds)
        for name in names:                                  # warm-up
            run(name)
        got = {name: [] for name in names}
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                m = run(name)
                sweep = (m.out or {}).get("duration_seconds")
                got[name].append((m, sweep))
                rows.append({"shape_mappings": mappings, "processes": n, "command": name,
                             "round": r + 1, "wall_seconds": round(m.wall, 6),
                             "cpu_seconds": round(m.cpu, 6), "peak_rss_kib": m.rss,
                             "sweep_seconds": sweep if sweep is not None else ""})
                print("%5d x %4d  %-20s round %d: %.3f s" % (n, mappings, name, r + 1, m.wall),
                      file=sys.stderr)
    finally:
        for e in exporters.values():
            e.stop()
        stop_helpers([pop])

    med = statistics.median
    summary = {"processes": n, "shape": mappings, "mappings_per_process": maps,
               "rss_gib": rss_gib, "rounds": rounds, "commands": {}}
    for name, runs in got.items():
        walls = [m.wall for m, _ in runs]
        sweeps = [s for _, s in runs if s is not None]
        summary["commands"][name] = {
            "wall": med(walls), "min": min(walls), "max": max(walls),
            "cpu": med(m.cpu for m, _ in runs), "rss_kib": max(m.rss for m, _ in runs),
            "sweep": med(sweeps) if sweeps else None}
    return summary


def steady_cases(b, args, tmp):
    """bench/steady.py's cases over one population: every mode, idle and 10 % changing, then the
    long compressed run."""
    os.environ["MAPSTATD_BIN"] = b.mapstatd
    pop = start_helper([b.population, "--procs", str(args.steady_procs),
                        "--resident-kb", str(args.resident_kb), "--dir", tmp])
    try:
        pids = [int(p) for p in pop.ready]
        short = types.SimpleNamespace(interval_ms=1000, staleness_intervals=5,
                                      sweeps=args.steady_sweeps)
        cases = []
        for mode in MODES:
            for changing in (0, 10):
                cases.append(steady.run_case(short, pids, mode, changing, b.sweep_floor, tmp))
                print("steady %s %d%%: %.3f" % (mode, changing, cases[-1]["mean_ratio"]),
                      file=sys.stderr)
        long = types.SimpleNamespace(interval_ms=2000, staleness_intervals=5,
                                     sweeps=args.steady_minutes * 30)
        long_case = steady.run_case(long, pids, "exclusivity", 10, b.sweep_floor, tmp)
        long_case["interval_ms"] = long.interval_ms
    finally:
        stop_helpers([pop])
    return cases, long_case


def machine():
    def first(path, prefix):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(prefix):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    text = ""
    for config in ("/proc/config.gz", "/boot/config-" + platform.release()):
        if os.path.exists(config):
            with (gzip.open if config.endswith(".gz") else open)(config, "rt") as f:
                text = f.read()
            break
    mapcount = ("CONFIG_NO_PAGE_MAPCOUNT" if "CONFIG_NO_PAGE_MAPCOUNT=y" in text else
                "CONFIG_PAGE_MAPCOUNT" if "CONFIG_PAGE_MAPCOUNT=y" in text else
                "mapcount configuration unknown")
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        thp = f.read().split("[")[1].split("]")[0]
    commit = subprocess.run(["git", "-C", SOURCE_ROOT, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "?"
    return {
        "cpu": first("/proc/cpuinfo", "model name"), "cores": os.cpu_count(),
        "memory": first("/proc/meminfo", "MemTotal"), "kernel": platform.release(),
        "mapcount": mapcount, "thp": thp, "commit": commit,
        "argv": ["bench/suite.py", *sys.argv[1:]],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def verdict(value, target, below=True):
    ok = value <= target if below else value >= target
    return "%.2f (target %s %.2f: %s)" % (value, "<=" if below else ">=", target,
                                          "met" if ok else "missed")


def write_markdown(path, args, b, m, workloads, cases, long_case, csv_paths):
    ratio = lambda a, c: a / c if c else float("nan")       # noqa: E731
    out = ["# Benchmark results", "",
           "Written by `bench/suite.py`; the raw figures are in %s. Ratios are of medians "
           "measured in the same run, the commands alternating round by round." % ", ".join(
               "`%s`" % os.path.relpath(p, os.path.dirname(path)) for p in csv_paths), "",
           "| | |", "|---|---|",
           "| date | %s |" % m["date"], "| commit | %s |" % m["commit"],
           "| machine | %s, %d cores, %s |" % (m["cpu"], m["cores"], m["memory"]),
           "| kernel | %s (%s), THP `%s` |" % (m["kernel"], m["mapcount"], m["thp"]),
           "| command | `%s` |" % " ".join(shlex.quote(a) for a in m["argv"]), "",
           "The commands, on each workload (`bench/population --procs N --mappings M "
           "--resident-kb %d`):" % args.resident_kb, ""]
    for name, cmd in commands(b, "TMP").items():
        out.append("* %s: `%s`" % (name, " ".join(shlex.quote(os.path.relpath(a, SOURCE_ROOT)
                                                             if a.startswith(SOURCE_ROOT) else a)
                                                for a in cmd)))
    out += ["", "A scrape's time is the HTTP request's; its CPU and peak RSS are the server's. "
            "\"sweep\" is the sweep timed inside the process, as the daemon times it "
            "(`duration_seconds`).", ""]

    for w in workloads:
        c = w["commands"]
        floor = c["floor rollup"]["wall"]
        out += ["## %d processes, ~%d mappings each" % (w["processes"], w["shape"]), "",
                "%d mappings per process, %.2f GiB resident in all (the sum of Rss), %d rounds."
                % (w["mappings_per_process"], w["rss_gib"], w["rounds"]), "",
                "| command | wall median (s) | min | max | CPU (s) | peak RSS (MiB) | sweep (s) "
                "| wall / floor rollup |", "|---|---|---|---|---|---|---|---|"]
        for name, v in c.items():
            out.append("| %s | %.4f | %.4f | %.4f | %.4f | %.1f | %s | %.2f |" % (
                name, v["wall"], v["min"], v["max"], v["cpu"], v["rss_kib"] / 1024,
                "%.4f" % v["sweep"] if v["sweep"] is not None else "", ratio(v["wall"], floor)))
        out += ["", "| figure | measured |", "|---|---|"]
        for mode in MODES:
            out.append("| sweep %s over its floor (%s) | %s |" % (
                mode, FLOOR_OF[mode], verdict(ratio(c["mapstatd " + mode]["sweep"],
                                                    c[FLOOR_OF[mode]]["sweep"]),
                                              SWEEP_TARGETS[mode])))
        out.append("| sweep exclusivity over the smaps_rollup floor | %s |" % (
            verdict(ratio(c["mapstatd exclusivity"]["sweep"], c["floor rollup"]["sweep"]),
                    DEFAULT_MODE_TARGET) if w["shape"] <= 100 else "%.2f" % ratio(
                c["mapstatd exclusivity"]["sweep"], c["floor rollup"]["sweep"])))
        for mode in MODES:
            out.append("| --once %s over its sweep | %s |" % (
                mode, verdict(ratio(c["mapstatd " + mode]["wall"], c["mapstatd " + mode]["sweep"]),
                              ONCE_TARGET)))
        extra = (c["mapstatd full"]["rss_kib"] - c["mapstatd off"]["rss_kib"]) / 1024
        out.append("| full mode's memory over off mode's, per GiB resident | %s |" % verdict(
            extra / w["rss_gib"], FULL_MIB_PER_GIB_TARGET))
        fastest = min(("smem", "smemstat", "process-exporter"), key=lambda k: c[k]["wall"])
        for peer in ("smem", "smemstat", "process-exporter"):
            target = {"smem": 8.0, "smemstat": 3.0}.get(peer) if w["shape"] >= 500 else (
                1.0 if peer == fastest else None)
            r = ratio(c[peer]["wall"], c["mapstatd exclusivity"]["wall"])
            out.append("| %s over mapstatd --once (exclusivity) | %s |" % (
                peer, verdict(r, target, below=False) if target else "%.2f" % r))
        out.append("")

    out += ["## Growth", "", "Median wall time per process (ms), by number of processes:", ""]
    for shape in sorted({w["shape"] for w in workloads}):
        ws = [w for w in workloads if w["shape"] == shape]
        out += ["~%d mappings:" % shape, "",
                "| command | " + " | ".join("N = %d" % w["processes"] for w in ws) + " |",
                "|---|" + "---|" * len(ws)]
        for name in ws[0]["commands"]:
            out.append("| %s | " % name + " | ".join(
                "%.3f" % (1000 * w["commands"][name]["wall"] / w["processes"]) for w in ws) + " |")
        out.append("")

    out += ["## Steady state", "",
            "The running daemon over %d processes (`--procs %d`, ~70 mappings), `--interval 1s "
            "--max-staleness 5s`, %d sweeps per case; the floor (`floor rollup`) runs between two "
            "sweeps; 10 %% changing: that share of the processes maps and writes 64 KiB before "
            "every sweep." % (args.steady_procs, args.steady_procs, args.steady_sweeps), "",
            "| mode | changing | sweep mean / floor | median / floor | reused per sweep | "
            "CPU per sweep (ms) | RSS median (MiB) |", "|---|---|---|---|---|---|---|"]
    for k in cases:
        out.append("| %s | %d %% | %s | %.3f | %.0f of %.0f | %.2f | %.1f |" % (
            k["mode"], k["changing_percent"],
            verdict(k["mean_ratio"], STEADY_TARGETS[k["changing_percent"]]), k["median_ratio"],
            k["reused_per_sweep"], k["sampled_per_sweep"],
            1000 * k["daemon_cpu_per_sweep_seconds"], k["daemon_rss_kib"]["median"] / 1024))
    k = long_case
    out += ["", "A compressed run: %d sweeps at a %d ms interval (%d minutes), mode exclusivity, "
            "10 %% changing:" % (k["sweeps"], k["interval_ms"], args.steady_minutes), "",
            "| figure | measured |", "|---|---|",
            "| sweep mean / floor | %s |" % verdict(k["mean_ratio"], 0.5),
            "| CPU per sweep | %.2f ms |" % (1000 * k["daemon_cpu_per_sweep_seconds"]),
            "| RSS first / median / max / last | %s MiB |" % " / ".join(
                "%.1f" % (k["daemon_rss_kib"][f] / 1024) for f in ("first", "median", "max",
                                                                    "last")),
            "| database growth per sweep: host / per identity | %.0f B / %.1f B |" % (
                k["host_bytes_per_sweep"], k["bytes_per_identity_and_sweep"]),
            "| extrapolated: 30 days × 1,000 identities at 60 s, before downsampling | %.1f MiB |"
            % k["mib_30_days_1000_identities"],
            "| the same, what Retention=7d keeps | %.1f MiB |"
            % k["mib_default_retention_1000_identities"], ""]
    with open(path, "w") as f:
        f.write("\n".join(out))


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--procs", default="50,500,2000")
    ap.add_argument("--shapes", default="70,1000", help="mappings per process")
    ap.add_argument("--resident-kb", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steady-procs", type=int, default=1000)
    ap.add_argument("--steady-sweeps", type=int, default=30)
    ap.add_argument("--steady-minutes", type=int, default=15)
    ap.add_argument("--out", default=os.path.join(SOURCE_ROOT, "bench", "results.md"))
    ap.add_argument("--rewrite", action="store_true",
                    help="write the Markdown again from the last run's bench/results/suite.json")
    ap.add_argument("--quick", action="store_true",
                    help="N = 50, 200, 3 rounds, 10 steady sweeps, a 1-minute run")
    args = ap.parse_args()
    if args.quick:
        args.procs, args.rounds, args.steady_procs = "50,200", 3, 200
        args.steady_sweeps, args.steady_minutes = 10, 1
    if os.geteuid() != 0:
        sys.exit("run as root: every process's smaps_rollup, pagemap and PFNs are read")
    for p in ("smem", "smemstat"):
        if not shutil.which(p):
            sys.exit("%s is missing: run scripts/dev.sh bench (apt-get install smem smemstat)" % p)

    build = os.path.abspath(args.build)
    paths = built(build, "daemon/mapstatd", "bench/measure", "bench/population",
                  "bench/sweep-floor", "bench/pagemap-floor")
    b = types.SimpleNamespace(
        mapstatd=paths[0], measure=paths[1], population=paths[2], sweep_floor=paths[3],
        pagemap_floor=paths[4],
        process_exporter=tool("prometheus-process-exporter", "prometheus-process-exporter"),
        node_exporter=tool("prometheus-node-exporter", "prometheus-node-exporter"))

    base = os.path.splitext(args.out)[0]
    csv_paths = [base + ".csv", base + "-steady.csv"]
    kept = os.path.join(SOURCE_ROOT, "bench", "results", "suite.json")
    if args.rewrite:
        with open(kept) as f:
            k = json.load(f)
        kept_args = types.SimpleNamespace(**dict(k["args"], out=args.out))
        write_markdown(args.out, kept_args, b, k["machine"], k["workloads"], k["cases"],
                       k["long_case"], csv_paths)
        print("rewrote %s from %s" % (args.out, kept))
        return

    tmp = tempfile.mkdtemp(prefix="mapstatd-bench-suite-", dir="/var/tmp")
    with open(os.path.join(tmp, "process-exporter.yml"), "w") as f:
        f.write(PROCESS_EXPORTER_CONFIG)
    rows, workloads = [], []
    try:
        for shape in (int(s) for s in args.shapes.split(",")):
            for n in (int(p) for p in args.procs.split(",")):
                workloads.append(run_workload(b, args, n, shape, tmp, rows))
        cases, long_case = steady_cases(b, args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    m = machine()
    os.makedirs(os.path.dirname(kept), exist_ok=True)
    with open(kept, "w") as f:
        json.dump({"machine": m, "args": vars(args), "workloads": workloads, "cases": cases,
                   "long_case": long_case}, f, indent=1)
    write_csv(csv_paths[0], rows)
    steady_rows = []
    for k in cases + [long_case]:
        flat = {key: v for key, v in k.items() if not isinstance(v, dict)}
        flat.update({"rss_kib_" + f: v for f, v in k["daemon_rss_kib"].items()})
        flat.setdefault("interval_ms", 1000)
        steady_rows.append(flat)
    write_csv(csv_paths[1], steady_rows)
    write_markdown(args.out, args, b, m, workloads, cases, long_case, csv_paths)
    print("wrote %s and %s" % (args.out, ", ".join(csv_paths)))


if __name__ == "__main__":
    main()
