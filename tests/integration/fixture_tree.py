"""Writes procfs/sysfs trees laid out like /proc and /sys for kernels this machine is not
running, from a short description: kernel identity, meminfo values and processes with their
smaps_rollup figures. The files follow the kernel's formats (fs/proc/task_mmu.c,
fs/proc/meminfo.c, fs/proc/array.c); meminfo starts from the captured 6.18 tree when present so
that every real field is there.

Optionally (for `--pagemap` tests) a process also gets /proc/PID/maps and a sparse
/proc/PID/pagemap, and the tree gets sparse /proc/kpageflags and /proc/kpagecount: one
little-endian u64 per virtual page (offset vaddr / 4096 × 8) or per PFN (offset PFN × 8),
docs/kernel-semantics.md §3.1 and §4. Only the entries given are written; the rest of each file is
a hole and reads as 0, like an unpopulated page."""
import gzip
import os
import queue
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time

from harness import FIXTURES

SMAPS_FIELDS = [
    "Rss", "Pss", "Pss_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem", "Shared_Clean",
    "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "KSM",
    "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb",
    "Private_Hugetlb", "Swap", "SwapPss", "Locked",
]

PF_KTHREAD = 0x00200000

PAGE_SIZE = 4096

# pagemap entry bits (docs/kernel-semantics.md §3.1).
PM_PFN_MASK = (1 << 55) - 1
PM_MMAP_EXCLUSIVE = 1 << 56
PM_FILE = 1 << 61
PM_SWAP = 1 << 62
PM_PRESENT = 1 << 63

# kpageflags bits (include/uapi/linux/kernel-page-flags.h, docs/kernel-semantics.md §4.1).
KPF_UPTODATE = 3
KPF_DIRTY = 4
KPF_LRU = 5
KPF_MMAP = 11
KPF_ANON = 12
KPF_SWAPBACKED = 14
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_THP = 22


def kpf(*bits):
    """A kpageflags value with the given bit numbers set."""
    v = 0
    for b in bits:
        v |= 1 << b
    return v


def pagemap_entry(pfn, file=False, exclusive=False):
    """A present pagemap entry: PFN, PM_FILE for a non-anonymous folio, PM_MMAP_EXCLUSIVE."""
    assert 0 < pfn <= PM_PFN_MASK
    e = PM_PRESENT | pfn
    if file:
        e |= PM_FILE
    if exclusive:
        e |= PM_MMAP_EXCLUSIVE
    return e


def format_maps(vmas):
    """/proc/PID/maps lines (fs/proc/task_mmu.c show_map_vma()). vmas: dicts with start, end,
    perms ("rw-p"), and optionally offset, dev ("00:00"), inode, path."""
    lines = []
    for v in vmas:
        head = "%08x-%08x %s %08x %s %d " % (v["start"], v["end"], v["perms"], v.get("offset", 0),
                                             v.get("dev", "00:00"), v.get("inode", 0))
        path = v.get("path", "")
        lines.append(head + (" " * max(1, 73 - len(head)) + path if path else ""))
    return "\n".join(lines) + "\n" if lines else ""


def write_u64_file(path, runs, size_entries=0):
    """Writes a sparse file of little-endian u64: runs is a list of (index, [values]), each
    written at index × 8; the file is at least size_entries entries long (holes read as 0)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    end = size_entries
    with open(path, "wb") as f:
        for index, values in runs:
            values = list(values)
            f.seek(index * 8)
            f.write(struct.pack("<%dQ" % len(values), *values))
            end = max(end, index + len(values))
        f.truncate(end * 8)


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
    """A boot of a host: kernel release, boot_id, mapcount mode ("page" or "no_page"), and the
    host's name and machine id (etc/machine-id beside proc/)."""

    def __init__(self, release, boot_id, mapcount, hostname="fixture",
                 machine_id="0123456789abcdef0123456789abcdef"):
        self.release = release
        self.boot_id = boot_id
        self.mapcount = mapcount
        self.hostname = hostname
        self.machine_id = machine_id


def write_tree(root, kernel, meminfo, processes, extra_bad=True, kpages=None):
    """(Re)writes the whole tree at root. meminfo: {name: kB} overrides of the template.
    processes: list of dicts with pid, comm, exe, args, unit, start, smaps (dict, or raw text
    with key 'raw_smaps'), and optionally maps (a list for format_maps()) with pagemap (runs
    for write_u64_file(), indexed by virtual page number; the file covers every mapping).
    kpages: optionally {"flags": runs, "count": runs} for /proc/kpageflags and
    /proc/kpagecount, indexed by PFN."""
    if os.path.exists(root):
        shutil.rmtree(root)
    proc = os.path.join(root, "proc")
    sys = os.path.join(root, "sys")
    _write(os.path.join(proc, "sys/kernel/osrelease"), kernel.release + "\n")
    _write(os.path.join(proc, "sys/kernel/random/boot_id"), kernel.boot_id + "\n")
    _write(os.path.join(proc, "sys/kernel/hostname"), kernel.hostname + "\n")
    _write(os.path.join(root, "etc", "machine-id"), kernel.machine_id + "\n")
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
        if "maps" in p:
            _write(os.path.join(d, "maps"), format_maps(p["maps"]))
            end = max((v["end"] for v in p["maps"]), default=0) // PAGE_SIZE
            write_u64_file(os.path.join(d, "pagemap"), p.get("pagemap", []), end)

    if kpages is not None:
        write_u64_file(os.path.join(proc, "kpageflags"), kpages.get("flags", []))
        write_u64_file(os.path.join(proc, "kpagecount"), kpages.get("count", []))


def replace_tree(root, build):
    """Replaces the tree at root by the one build(path) writes, keeping the directories proc/,
    sys/, boot/ and etc/ themselves: a daemon holds them open (O_PATH) and reads the new contents.
    Stop the daemon (SIGSTOP) around it, so that no sweep reads half of each."""
    new = root + ".new"
    build(new)
    for top in ("proc", "sys", "boot", "etc"):
        dst, src = os.path.join(root, top), os.path.join(new, top)
        os.makedirs(dst, exist_ok=True)
        for name in os.listdir(dst):
            path = os.path.join(dst, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        if os.path.isdir(src):
            for name in os.listdir(src):
                os.rename(os.path.join(src, name), os.path.join(dst, name))
    shutil.rmtree(new)


class HangFs:
    """A running hangfs (tests/helpers/hangfs.c) mirroring a directory at `mount`; a thread
    collects what it reports."""

    def __init__(self, proc, mount):
        self.proc = proc
        self.mount = mount
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)                # hangfs ended

    def roots(self):
        """The mirror as daemon arguments: ["--proc-root", …, "--sys-root", …]."""
        return ["--proc-root", os.path.join(self.mount, "proc"),
                "--sys-root", os.path.join(self.mount, "sys")]

    def wait_open(self, pattern=r"blocked ", timeout=30):
        """Waits until hangfs reports a line matching the regular expression pattern
        ("ready" once mounted; "blocked PATH": an open of a hanging path blocks; "delayed
        PATH": an open waits); returns the line, or None when hangfs ended first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("hangfs reported nothing matching %r within %d s"
                                     % (pattern, timeout)) from None
            if line is None or re.match(pattern, line):
                return line


def hangfs_mount(test, source, mount, hang=(), delay_ms=0, enter=()):
    """Mirrors the directory source at mount with hangfs: opening a path of hang (relative to
    source) blocks until the opener is killed or interrupted, as a read from a hung file system
    would, and O_NONBLOCK does not help; every other open first waits delay_ms. enter: a
    command prefix that runs hangfs elsewhere (the systemd sandbox's mount namespace), where
    both paths are. Returns a HangFs once mounted; it is unmounted at the end of the
    unittest.TestCase test, which skips when hangfs is not built (no libfuse3) or cannot mount
    here."""
    hangfs = os.environ.get("MAPSTATD_HANGFS")
    if not hangfs or not os.path.exists(hangfs):
        test.skipTest("hangfs is not built (libfuse3-dev is missing)")
    proc = subprocess.Popen([*enter, hangfs, "--delay", str(delay_ms), source, mount, *hang],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def end():
        proc.stdin.close()          # hangfs unmounts and exits; a blocked opener gets an error
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        if not enter:
            subprocess.run(["umount", "-l", mount], stderr=subprocess.DEVNULL)
    test.addCleanup(end)
    fs = HangFs(proc, mount)
    if fs.wait_open("ready") is None:
        proc.wait(timeout=10)
        test.skipTest("hangfs cannot mount here: " + proc.stderr.read().strip())
    return fs


def hanging_tree(test, hang=("proc/sys/kernel/osrelease",), delay_ms=0):
    """A copy of the captured 6.18 tree behind hangfs_mount(): with the default hang, the first
    read of every sweep (the kernel identity) never returns. Readable by any user. Returns the
    HangFs; all of it is removed at the end of test."""
    tmp = tempfile.mkdtemp(prefix="mapstatd-hang-")
    os.chmod(tmp, 0o755)
    test.addCleanup(shutil.rmtree, tmp, True)
    source, mount = os.path.join(tmp, "source"), os.path.join(tmp, "tree")
    shutil.copytree(os.path.join(FIXTURES, "linux-6.18-page"), source, symlinks=True)
    os.mkdir(mount)
    # Unmounted before the rmtree: cleanups run last in, first out.
    return hangfs_mount(test, source, mount, hang, delay_ms)


def hanging_roots(test):
    """hanging_tree() as daemon arguments: ["--proc-root", …, "--sys-root", …]."""
    return hanging_tree(test).roots()
