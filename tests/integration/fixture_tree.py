"""Writes procfs/sysfs trees laid out like /proc and /sys for kernels this machine is not
running, from a short description: kernel identity, meminfo values and processes with their
smaps_rollup figures. The files follow the kernel's formats (fs/proc/task_mmu.c,
fs/proc/meminfo.c, fs/proc/array.c); meminfo starts from the captured 6.18 tree when present so
that every real field is there."""
import gzip
import os
import shutil

from harness import FIXTURES

SMAPS_FIELDS = [
    "Rss", "Pss", "Pss_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem", "Shared_Clean",
    "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "KSM",
    "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb",
    "Private_Hugetlb", "Swap", "SwapPss", "Locked",
]

PF_KTHREAD = 0x00200000


def _write(path, data, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(data)


def meminfo_template():
    """(name, value, is_kb) in file order, from the captured tree or a minimal list."""
    path = os.path.join(FIXTURES, "linux-6.18-page", "proc", "meminfo")
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                name, rest = line.split(":", 1)
                parts = rest.split()
                rows.append((name, int(parts[0]), len(parts) > 1))
    if not rows:
        for name in ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "AnonPages",
                     "Mapped", "Shmem", "AnonHugePages"):
            rows.append((name, 0, True))
    return rows


def format_smaps_rollup(fields):
    lines = ["00400000-7ffc00000000 ---p 00000000 00:00 0                          [rollup]"]
    for name in SMAPS_FIELDS:
        if name in fields:
            lines.append("%-16s%8d kB" % (name + ":", fields[name]))
    return "\n".join(lines) + "\n"


def format_stat(pid, comm, flags=0, start=1000, state="S"):
    # 52 fields; comm in parentheses, flags is field 9, starttime field 22.
    fields = [str(pid), "(%s)" % comm, state, "1", str(pid), str(pid), "0", "-1", str(flags)]
    fields += ["0"] * 12
    fields += [str(start)]
    fields += ["0"] * (52 - len(fields))
    return " ".join(fields) + "\n"


class Kernel:
    def __init__(self, release, boot_id, mapcount):
        self.release = release
        self.boot_id = boot_id
        self.mapcount = mapcount        # "page" or "no_page"


def write_tree(root, kernel, meminfo, processes, extra_bad=True):
    """(Re)writes the whole tree at root. meminfo: {name: kB} overrides of the template.
    processes: list of dicts with pid, comm, exe, args, unit, start, smaps (dict, or raw text
    with key 'raw_smaps')."""
    if os.path.exists(root):
        shutil.rmtree(root)
    proc = os.path.join(root, "proc")
    sys = os.path.join(root, "sys")
    _write(os.path.join(proc, "sys/kernel/osrelease"), kernel.release + "\n")
    _write(os.path.join(proc, "sys/kernel/random/boot_id"), kernel.boot_id + "\n")
    _write(os.path.join(proc, "version"),
           "Linux version %s (builder@fixture) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC\n"
           % kernel.release)
    config = "CONFIG_TRANSPARENT_HUGEPAGE=y\n"
    if kernel.mapcount == "no_page":
        config += "# CONFIG_PAGE_MAPCOUNT is not set\nCONFIG_NO_PAGE_MAPCOUNT=y\n"
    else:
        config += "CONFIG_PAGE_MAPCOUNT=y\n# CONFIG_NO_PAGE_MAPCOUNT is not set\n"
    _write(os.path.join(proc, "config.gz"), gzip.compress(config.encode()), "wb")

    rows = meminfo_template()
    names = [r[0] for r in rows]
    lines = []
    for name, value, is_kb in rows:
        value = meminfo.get(name, value)
        lines.append("%-16s%8d kB" % (name + ":", value) if is_kb else "%-16s%8d" % (name + ":", value))
    for name, value in meminfo.items():
        if name not in names:
            lines.append("%-16s%8d kB" % (name + ":", value))
    _write(os.path.join(proc, "meminfo"), "\n".join(lines) + "\n")

    thp = os.path.join(sys, "kernel/mm/transparent_hugepage")
    _write(os.path.join(thp, "enabled"), "always [madvise] never\n")
    _write(os.path.join(thp, "defrag"), "always defer defer+madvise [madvise] never\n")
    _write(os.path.join(thp, "shmem_enabled"), "always within_size [advise] never deny force\n")
    _write(os.path.join(thp, "hugepages-64kB/enabled"), "always inherit [madvise] never\n")
    _write(os.path.join(thp, "hugepages-2048kB/enabled"), "always [inherit] madvise never\n")

    # PID 1 carries the page size in its first VMA.
    _write(os.path.join(proc, "1/smaps"),
           "55d0c0a00000-55d0c0a2c000 r--p 00000000 fe:01 1234  /usr/lib/systemd/systemd\n"
           "Size:                176 kB\nKernelPageSize:        4 kB\nMMUPageSize:           4 kB\n")

    for p in processes:
        d = os.path.join(proc, str(p["pid"]))
        os.makedirs(d, exist_ok=True)
        _write(os.path.join(d, "stat"), format_stat(p["pid"], p["comm"], p.get("flags", 0),
                                                    p.get("start", 1000), p.get("state", "S")))
        _write(os.path.join(d, "status"), "Name:\t%s\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\n"
               % (p["comm"], p["pid"], p["pid"]))
        _write(os.path.join(d, "cmdline"), "\0".join([p.get("exe", "")] + p.get("args", [])) +
               "\0" if p.get("exe") else "")
        _write(os.path.join(d, "cgroup"), "0::/system.slice/%s\n" % p.get("unit", "fixture.service"))
        if "raw_smaps" in p:
            _write(os.path.join(d, "smaps_rollup"), p["raw_smaps"])
        else:
            _write(os.path.join(d, "smaps_rollup"), format_smaps_rollup(p["smaps"]))
        if p.get("exe"):
            os.symlink(p["exe"], os.path.join(d, "exe"))
