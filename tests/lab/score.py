"""Scores the lab's kernel change (tests/lab/run): from the database both guests wrote, per
workload and figure the PAGE kernel's figure, the forecast made there, the NO kernel's real
figure and the forecast's error; and whether /report (mapstatctl, in-process on the database)
flags what moved only in accounting as accounting, the control as behavior, and nothing else.

    python3 tests/lab/score.py OUT [--build build] [--write-docs]"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Figure: (reported column(s) summed, forecast column or None).
FIGURES = [
    ("Pss", ("pss_kb",), "forecast_pss_kb"),
    ("Pss_Anon", ("pss_anon_kb",), "forecast_pss_anon_kb"),
    ("Pss_File", ("pss_file_kb",), "forecast_pss_file_kb"),
    ("Pss_Shmem", ("pss_shmem_kb",), "forecast_pss_shmem_kb"),
    ("Shared", ("shared_clean_kb", "shared_dirty_kb"), "forecast_shared_kb"),
    ("Private", ("private_clean_kb", "private_dirty_kb"), "forecast_private_kb"),
    ("Exclusive pages", ("anon_exclusive_pages", "file_exclusive_pages",
                         "shared_file_exclusive_pages", "shmem_exclusive_pages"),
     "forecast_exclusive_pages"),
]
CGROUP_FIGURES = [("anon", "anon_kb", "forecast_anon_kb"),
                  ("file_mapped", "file_mapped_kb", "forecast_file_mapped_kb"),
                  ("shmem", "shmem_kb", None)]
MEMINFO = ["AnonPages", "Mapped", "Shmem"]
# What the lab's /report uses: the workloads are a few MiB, the default 1 MiB floor is for real
# services; shifts of one 2 MiB folio must show.
REPORT_ARGS = ["--min-delta-kb", "256"]
# How far apart two boots' figures of one process are without any kernel change: the pages
# around the workload (libraries, stack, the file pages other processes share) are faulted in
# a little differently every boot. kB, and pages for exclusivity.
NOISE = {False: 64, True: 16}


def noise(fig):
    """The noise of a figure; Shared also holds file pages shared with a varying number of
    other processes: twice the rest."""
    return 2 * NOISE[False] if fig == "Shared" else NOISE[fig == "Exclusive pages"]
# A shift is what the forecast or the NO kernel moves by more than this (kB; pages).
SHIFT = {False: 256, True: 64}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def epochs(db):
    return {mode: eid for eid, mode in db.execute("SELECT id, mapcount_mode FROM epochs")}


def identity_rows(db, epoch, key, columns):
    """Per sweep of the epoch: the sums of columns for identity key (None when absent)."""
    expr = " + ".join("coalesce(i.%s, 0)" % c for c in columns)
    return [r[0] for r in db.execute(
        "SELECT %s FROM identity_samples i JOIN identities d ON d.id = i.identity_id"
        " JOIN sweeps w ON w.id BETWEEN i.sweep_id AND i.last_sweep_id"
        " WHERE w.epoch_id = ? AND d.key = ?"
        " AND i.truth_processes = i.processes" % expr, (epoch, key))]


def workload_keys(db, tags):
    """identity key → workload name, for the identities whose key carries a lab tag."""
    out = {}
    for (key,) in db.execute("SELECT key FROM identities"):
        for name, tag in tags.items():
            if " --tag %s" % tag in key:
                role = key.rsplit("--role ", 1)[-1] if "--role" in key else ""
                out[key] = "%s %s" % (name, role) if role else name
    return out


def fmt(v):
    return "–" if v is None else ("%g" % round(v, 1))


def score(out, build):
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(out, "lab.db"), uri=True)
    ep = epochs(db)
    page, no = ep.get("page_mapcount"), ep.get("no_page_mapcount")
    if not page or not no:
        sys.exit("lab: the database has no PAGE and NO epoch: %s" % ep)
    guest = {m: json.load(open(os.path.join(out, "guest-%s.json" % m))) for m in ("page", "no")}
    tags = {}
    for name, w in guest["page"]["workloads"].items():
        argv = w["argv"]
        tags[name] = argv[argv.index("--tag") + 1]
    keys = workload_keys(db, tags)

    rows, headline = [], {}
    for key, name in sorted(keys.items(), key=lambda kv: kv[1]):
        for fig, columns, fcol in FIGURES:
            before = median(identity_rows(db, page, key, columns))
            forecast = median(identity_rows(db, page, key, (fcol,)))
            after = median(identity_rows(db, no, key, columns))
            err = None if forecast is None or after is None else forecast - after
            rows.append((name, fig, before, forecast, after, err))
            if err is not None and name != "control":
                h = headline.setdefault(fig, [0, 0, 0.0])
                h[0] += 1
                h[1] += abs(err) <= noise(fig)
                h[2] = max(h[2], abs(err))

    shifts = []
    for name, fig, before, forecast, after, err in rows:
        if None in (before, forecast, after) or name == "control":
            continue
        pages = fig == "Exclusive pages"
        if max(abs(forecast - before), abs(after - before)) >= SHIFT[pages]:
            shifts.append((name, fig, forecast - before, after - before, err))

    cg_rows = []
    for cid, ckey in db.execute("SELECT id, key FROM cgroups WHERE key LIKE 'unit:w%' OR"
                                " key = 'unit:control.service' ORDER BY key"):
        for fig, col, fcol in CGROUP_FIGURES:
            def col_median(epoch, c):
                return median([r[0] for r in db.execute(
                    "SELECT s.%s FROM cgroup_samples s JOIN sweeps w ON w.id = s.sweep_id"
                    " WHERE w.epoch_id = ? AND s.cgroup_id = ?" % c, (epoch, cid))])
            before, after = col_median(page, col), col_median(no, col)
            forecast = col_median(page, fcol) if fcol else before
            err = None if forecast is None or after is None else forecast - after
            cg_rows.append((ckey[5:], fig, before, forecast, after, err))
            if err is not None and not ckey.endswith("control.service"):
                h = headline.setdefault("cgroup " + fig, [0, 0, 0.0])
                h[0] += 1
                h[1] += abs(err) <= NOISE[False]
                h[2] = max(h[2], abs(err))

    for name, fig, before, forecast, after, err in cg_rows:
        if None in (before, forecast, after) or name == "control.service":
            continue
        if max(abs(forecast - before), abs(after - before)) >= SHIFT[False]:
            shifts.append(("cgroup " + name, fig, forecast - before, after - before, err))

    mem = []
    for field in MEMINFO:
        def m(epoch):
            return median([r[0] for r in db.execute(
                "SELECT m.value FROM meminfo_samples m JOIN sweeps w ON w.id = m.sweep_id"
                " WHERE w.epoch_id = ? AND m.name = ?", (epoch, field))])
        mem.append((field, m(page), m(no)))

    report = subprocess.run([os.path.join(build, "cli", "mapstatctl"), "--db",
                             os.path.join(out, "lab.db"), "--format", "json", "report",
                             *REPORT_ARGS], capture_output=True, text=True)
    rep = json.loads(report.stdout) if report.stdout else {}
    flagged = {}
    for f in rep.get("flagged", []):
        flagged[keys.get(f["identity"]["key"], f["identity"]["key"])] = f["kind"]
    return rows, shifts, cg_rows, mem, headline, flagged, guest


def check_report(shifts, flagged):
    """The lab's step 5: every workload the NO kernel shifted (beyond the report's floor) is
    flagged as accounting, the control as behavior, nothing else. Returns the failures."""
    moved = {name for name, fig, pred, real, err in shifts if not name.startswith("cgroup ")
             and abs(real) >= (SHIFT[True] if fig == "Exclusive pages" else SHIFT[False])}
    failures = []
    for name, kind in sorted(flagged.items()):
        if name == "control":
            if kind != "behavior":
                failures.append("the control is %s, not behavior" % kind)
        elif name not in moved:
            failures.append("%s is flagged (%s) but did not shift" % (name, kind))
        elif kind != "accounting":
            failures.append("%s is %s, not accounting" % (name, kind))
    if "control" not in flagged:
        failures.append("the control is not flagged")
    failures += ["%s shifted but is not flagged" % n for n in sorted(moved - set(flagged))]
    return failures


def write_markdown(path, out, rows, shifts, cg_rows, mem, headline, flagged, guest):
    timing = json.load(open(os.path.join(out, "timing.json")))
    lines = ["# Forecast accuracy on real kernels", "",
             "Written by `tests/lab/run --write-docs`: Linux %s built twice from Debian's `%s`"
             % (guest["no"]["release"], timing["source"]),
             "(`tests/lab/kernel.config`), once with `CONFIG_PAGE_MAPCOUNT` and once with",
             "`CONFIG_NO_PAGE_MAPCOUNT`, each booted in QEMU with the reference workloads of",
             "`docs/kernel-semantics.md` §8 and `mapstatd --pagemap full`. Medians over the",
             "epoch's sweeps, kB (exclusive: pages). *Forecast*: what mapstatd predicted on the",
             "PAGE kernel; *NO*: what the NO kernel reported; *error* = forecast − NO.", "",
             "## Headline", "",
             "Per figure, over every workload process and cgroup but the control: how many",
             "forecasts fall within the boot-to-boot noise of the process's other pages (%d kB,"
             % NOISE[False], "%d for Shared, %d pages), and the largest error." % (
                 2 * NOISE[False], NOISE[True]), "",
             "| figure | compared | within noise | max \\|error\\| |", "|---|---|---|---|"]
    for fig, (n, exact, worst) in headline.items():
        lines.append("| %s | %d | %d | %s |" % (fig, n, exact, fmt(worst)))
    lines += ["", "## The shifts", "",
              "Every figure the forecast or the NO kernel moved by %d kB (%d pages) or more: "
              % (SHIFT[False], SHIFT[True]) + "the predicted change (forecast − PAGE) against",
              "the real one (NO − PAGE).", "",
              "| workload | figure | predicted | real | error |", "|---|---|---|---|---|"]
    lines += ["| %s | %s | %s | %s | %s |" % (n, f, fmt(p), fmt(r), fmt(e))
              for n, f, p, r, e in shifts]
    lines += ["", "## Per workload", "", "| workload | figure | PAGE | forecast | NO | error |",
              "|---|---|---|---|---|---|"]
    lines += ["| %s | %s | %s | %s | %s | %s |" % (n, f, fmt(a), fmt(b), fmt(c), fmt(d))
              for n, f, a, b, c, d in rows]
    lines += ["", "## Memory cgroups", "", "| cgroup | field | PAGE | forecast | NO | error |",
              "|---|---|---|---|---|---|"]
    lines += ["| %s | %s | %s | %s | %s | %s |" % (n, f, fmt(a), fmt(b), fmt(c), fmt(d))
              for n, f, a, b, c, d in cg_rows]
    lines += ["", "## /proc/meminfo (whole guest)", "", "| field | PAGE | NO |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % (f, fmt(a), fmt(b)) for f, a, b in mem]
    lines += ["", "## Where the forecast cannot be exact", "",
              "W7 (a 64 KiB mTHP: A forks B then C, B exits, A unmaps, C alone) is the one",
              "difference beyond the noise: C's folio is forecast Private (only one process maps",
              "it), while the NO kernel reports it Shared — its \"maybe shared\" state is stale",
              "from when three processes mapped it (`docs/kernel-semantics.md` §6, §8). Nothing",
              "in one sweep's PFNs shows that history. Its size (64 KiB) is below the shift floor.",
              "", "## The probe", "",
              "`mapstatd --once` with `/proc/config.gz` hidden (a bind mount of `/dev/null` over",
              "it): the config tells nothing, the probe decides.", "",
              "| kernel | config | probe | method | recorded |", "|---|---|---|---|---|"]
    for mode in ("page", "no"):
        for e in guest[mode].get("probe_config_hidden", {}).get("epochs", []):
            lines.append("| %s | %s | %s | %s | %s |" % (
                mode.upper(), e["mapcount_config"], e["mapcount_probe"],
                e["mapcount_probe_detail"], e["mapcount_mode"]))
    failures = check_report(shifts, flagged)
    lines += ["", "## /report over the two epochs", "",
              "`mapstatctl report %s` on the lab's database: every workload that shifted must be"
              % " ".join(REPORT_ARGS), "flagged `accounting`, the control `behavior`, nothing"
              " else: %s." % ("**yes**" if not failures else "no: " + "; ".join(failures)), "",
              "| identity | kind |", "|---|---|"]
    lines += ["| %s | %s |" % (k, v) for k, v in sorted(flagged.items())]
    lines += ["", "Build and boot times: %s." % ", ".join(
        "%s %s" % (k, "cached" if v is None else "%.0f s" % v)
        for k, v in timing.items() if k != "source"), ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


FIXTURE = os.path.join(REPO, "tests", "fixtures", "lab-7.3")


def write_fixtures(out, guest):
    """The captures of both kernels and the database as SQL text, under tests/fixtures."""
    import shutil
    shutil.rmtree(FIXTURE, ignore_errors=True)
    os.makedirs(FIXTURE)
    for mode in ("page", "no"):
        shutil.copytree(os.path.join(out, "capture-" + mode), os.path.join(FIXTURE, mode),
                        symlinks=True)
        g = dict(guest[mode])
        g.pop("sweeps", None)
        with open(os.path.join(FIXTURE, mode, "LAB.json"), "w") as f:
            json.dump(g, f, indent=2)
            f.write("\n")
    dump = subprocess.run(["sqlite3", os.path.join(out, "lab.db"), ".dump"],
                          capture_output=True, text=True, check=True).stdout
    # .dump leaves the header out: what makes the file mapstatd's, at this schema version.
    for pragma in ("application_id", "user_version"):
        value = subprocess.run(["sqlite3", os.path.join(out, "lab.db"), "PRAGMA " + pragma],
                               capture_output=True, text=True, check=True).stdout.strip()
        dump += "PRAGMA %s = %s;\n" % (pragma, value)
    with open(os.path.join(FIXTURE, "lab.sql"), "w") as f:
        f.write(dump)


def main(out, build, write_docs=False):
    rows, shifts, cg_rows, mem, headline, flagged, guest = score(out, build)
    path = os.path.join(out, "forecast-accuracy.md")
    write_markdown(path, out, rows, shifts, cg_rows, mem, headline, flagged, guest)
    failures = check_report(shifts, flagged)
    print(open(path).read())
    if write_docs:
        import shutil
        shutil.copy(path, os.path.join(REPO, "docs", "forecast-accuracy.md"))
        write_fixtures(out, guest)
    for f in failures:
        print("lab: FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args()
    sys.exit(main(a.out, a.build, a.write_docs))
