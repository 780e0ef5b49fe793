#!/usr/bin/env python3
"""The lab's work inside a guest (started by tests/lab/guest-init): the reference workloads
W1-W9 of docs/kernel-semantics.md §8, each in a memory cgroup of its own, and a control
workload whose memory really changes between the two boots; then `mapstatd --once --pagemap
full` a few times into the lab database, and a capture of each workload's files. The kernel
command line says which boot this is (lab.mode=page|no) and where the build is (lab.build=).

    guest.py OUT        OUT: the host's results directory (9p)"""
import json
import os
import shutil
import subprocess
import sys
import time

THP = "/sys/kernel/mm/transparent_hugepage"
# Each workload and the ready lines it prints (one per process whose part is final).
WORKLOADS = {"W1": 2, "W1b": 2, "W2": 2, "W3": 2, "W4": 1, "W5": 2, "W6": 1, "W6s": 1, "W7": 2,
             "W8": 2, "W9": 1}
SWEEPS = 3
# The control, whose memory really changes between the two boots: 64 MiB of anonymous memory,
# private on the PAGE boot, shared copy-on-write with a forked child on the NO boot (Shared and
# the truth move together: behavior, not accounting).
# The same command line on both boots (one identity): it forks when the file exists.
CONTROL_FORK = "/tmp/work/control-forks"


def cmdline():
    with open("/proc/cmdline") as f:
        return dict(w.split("=", 1) for w in f.read().split() if "=" in w)


def write(path, value):
    try:
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError as e:
        print("lab: cannot write %s to %s: %s" % (value, path, e))
        return False


def tag(name):
    """Letters only: digits are folded in identity keys, W1 and W5 would be one identity."""
    return "lab" + "".join("abcdefghij"[int(c)] if c.isdigit() else c.lower() for c in name)


def start(name, argv, cgroup, roles, log):
    d = "/sys/fs/cgroup/lab.slice/%s.service" % cgroup
    os.makedirs(d, exist_ok=True)
    procs = os.path.join(d, "cgroup.procs")

    def enter():
        with open(procs, "w") as f:
            f.write("0\n")

    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         preexec_fn=enter)
    lines = []
    while len(lines) < roles:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line.split())
        if line.startswith("skip"):
            break
    log[name] = {"argv": argv, "cgroup": cgroup, "lines": [" ".join(l) for l in lines]}
    print("lab: %s: %s" % (name, "; ".join(log[name]["lines"]) or "no output"))
    return p


PFN_MASK = (1 << 55) - 1
KPF_HEAD, KPF_TAIL = 1 << 15, 1 << 16


def capture_pagemaps(tree, pids):
    """What the reconstruction reads, as text (binary files are not committed; the tests write
    them back as sparse files): each process's maps, its present and swapped pagemap entries
    ("VPN ENTRY", hex), and kpageflags/kpagecount ("PFN FLAGS COUNT", hex) of every PFN seen
    and of the whole 512-PFN block of every large folio among them."""
    page = os.sysconf("SC_PAGE_SIZE")
    pfns = set()
    for pid in pids:
        d = os.path.join(tree, "proc", str(pid))
        try:
            with open("/proc/%d/maps" % pid) as f:
                maps = f.read()
            pm = open("/proc/%d/pagemap" % pid, "rb")
        except OSError:
            continue
        lines = []
        with pm:
            for line in maps.splitlines():
                if "[vsyscall]" in line or "[vvar" in line:
                    continue
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                pm.seek(start // page * 8)
                data = pm.read((end - start) // page * 8)
                for i in range(len(data) // 8):
                    e = int.from_bytes(data[i * 8:i * 8 + 8], "little")
                    if e >> 62:
                        lines.append("%x %x" % (start // page + i, e))
                        if e >> 63 and e & PFN_MASK:
                            pfns.add(e & PFN_MASK)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "maps"), "w") as f:
            f.write(maps)
        with open(os.path.join(d, "pagemap.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def read_at(f, pfn):
        f.seek(pfn * 8)
        return int.from_bytes(f.read(8), "little")

    with open("/proc/kpageflags", "rb") as kf, open("/proc/kpagecount", "rb") as kc:
        wanted = set(pfns)
        for pfn in pfns:
            if read_at(kf, pfn) & (KPF_HEAD | KPF_TAIL):
                base = pfn & ~511
                wanted.update(range(base, base + 512))
        with open(os.path.join(tree, "proc", "kpage.txt"), "w") as f:
            for pfn in sorted(wanted):
                f.write("%x %x %x\n" % (pfn, read_at(kf, pfn), read_at(kc, pfn)))


def capture_cgroups(out):
    """The unified hierarchy's files the cgroup collector reads: the root's cgroup.controllers
    and memory.stat, every memory cgroup's memory.stat and memory.current; and the THP stats."""
    base = "/sys/fs/cgroup"
    for d, dirs, files in os.walk(base):
        rel = os.path.relpath(d, "/sys")
        for name in ("cgroup.controllers", "memory.stat", "memory.current"):
            if name in files and (d == base or name != "cgroup.controllers"):
                os.makedirs(os.path.join(out, rel), exist_ok=True)
                shutil.copyfile(os.path.join(d, name), os.path.join(out, rel, name))
    for d, dirs, files in os.walk(THP):
        rel = os.path.relpath(d, "/sys")
        for name in files:
            if os.path.basename(d) == "stats" or name == "enabled":
                os.makedirs(os.path.join(out, rel), exist_ok=True)
                try:
                    shutil.copyfile(os.path.join(d, name), os.path.join(out, rel, name))
                except OSError:
                    pass


def main():
    out = sys.argv[1]
    args = cmdline()
    mode = args.get("lab.mode", "unknown")
    build = args.get("lab.build", "/work/main/build")
    work = "/tmp/work"
    os.makedirs(work, exist_ok=True)

    # The knobs the workloads need (test_pagemap.py sets the same).
    write(THP + "/enabled", "madvise")
    write(THP + "/hugepages-64kB/enabled", "madvise")
    write(THP + "/shmem_enabled", "advise")
    write("/sys/fs/cgroup/cgroup.subtree_control", "+memory")
    os.makedirs("/sys/fs/cgroup/lab.slice", exist_ok=True)
    write("/sys/fs/cgroup/lab.slice/cgroup.subtree_control", "+memory")

    log, procs = {}, []
    workload = os.path.join(build, "tests", "helpers", "workload")
    memlayout = os.path.join(build, "tests", "helpers", "memlayout")
    for w, roles in WORKLOADS.items():
        procs.append(start(w, [workload, w, "--tag", tag(w), "--dir", work], w.lower(), roles,
                           log))
    if mode == "no":
        open(CONTROL_FORK, "w").close()
    procs.append(start("control", [memlayout, "--anon", "65536", "--fork-if", CONTROL_FORK,
                                   "--tag", "labcontrol"], "control", 1, log))

    # The database lives on the host; SQLite's WAL wants a local file system: work on a copy.
    db = os.path.join(out, "lab.db")
    local = os.path.join(work, "lab.db")
    if os.path.exists(db):
        shutil.copy(db, local)
    mapstatd = os.path.join(build, "daemon", "mapstatd")
    sweeps = []
    for i in range(SWEEPS):
        r = subprocess.run([mapstatd, "--once", "--pagemap", "full", "--db", local],
                           capture_output=True, text=True)
        print("lab: sweep %d: %s %s" % (i, r.stdout.strip(), r.stderr.strip()[-300:]))
        sweeps.append({"status": r.returncode, "stdout": r.stdout, "stderr": r.stderr})
        time.sleep(1)

    # Capture the workloads' files for the fixture trees.
    pids = set()
    for v in log.values():
        for line in v["lines"]:
            parts = line.split()
            # workload: "ready ROLE PID …"; memlayout: "ready PID [CHILD]".
            if parts[0] == "ready":
                pids.update(int(x) for x in parts[1:3] if x.isdigit())
    pids = sorted(pids)
    capture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                           "capture")
    tree = os.path.join(out, "capture-" + mode)
    shutil.rmtree(tree, ignore_errors=True)
    r = subprocess.run([sys.executable, capture, tree, *map(str, pids)], capture_output=True,
                       text=True)
    print("lab: capture: %s %s" % (r.returncode, r.stderr.strip()[-500:]))

    capture_cgroups(os.path.join(tree, "sys"))
    capture_pagemaps(tree, pids)

    # The probe with the config hidden (a kernel that has none, as after the RFC that removes
    # both options): /proc/config.gz reads empty, so only the probe can tell.
    probe_db = os.path.join(work, "probe.db")
    r = subprocess.run(["unshare", "-m", "sh", "-c",
                        "mount --bind /dev/null /proc/config.gz && exec \"$0\" --once "
                        "--pagemap off --db \"$1\"", mapstatd, probe_db],
                       capture_output=True, text=True)
    probe = {"status": r.returncode, "stderr": r.stderr[-500:]}
    if r.returncode == 0:
        out_rows = subprocess.run(["sqlite3", "-json", probe_db,
                                   "SELECT mapcount_mode, mapcount_config, mapcount_probe,"
                                   " mapcount_probe_detail FROM epochs"],
                                  capture_output=True, text=True).stdout
        probe["epochs"] = json.loads(out_rows or "[]")
    print("lab: probe with the config hidden: %s" % json.dumps(probe))

    for p in procs:
        p.stdin.close()
    for p in procs:
        p.wait(timeout=60)
    subprocess.run(["sqlite3", local, "PRAGMA wal_checkpoint(TRUNCATE)"], capture_output=True)
    shutil.copy(local, db + ".tmp")
    os.replace(db + ".tmp", db)
    with open(os.path.join(out, "guest-%s.json" % mode), "w") as f:
        json.dump({"mode": mode, "release": os.uname().release, "workloads": log,
                   "sweeps": sweeps, "probe_config_hidden": probe}, f, indent=2)
    return 0 if all(s["status"] == 0 for s in sweeps) else 1


if __name__ == "__main__":
    sys.exit(main())
