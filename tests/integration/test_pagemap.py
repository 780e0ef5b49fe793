"""Against the real kernel, with `--pagemap full`: the reference workloads of
docs/kernel-semantics.md §8 (tests/helpers/workload) and every stable process of the machine.
For each workload role: the stored smaps_rollup and pagemap counts equal the live ones; the
kernel's figures for the workload's region equal §8's PAGE column (first principles); the
reconstructed truth equals the kernel's own figures (this is a CONFIG_PAGE_MAPCOUNT kernel, where
the per-page truth is what the kernel reports); the forecast differs from today's figures by
exactly what §8's NO column says for the region. Needs root, THP and /proc/kpageflags."""
import ctypes
import fcntl
import os
import random
import select
import string
import struct
import subprocess
import tempfile
import unittest

from harness import BIN, Daemon, main

WORKLOAD = os.environ.get("MAPSTATD_WORKLOAD", os.path.join(
    os.path.dirname(BIN), "..", "tests", "helpers", "workload"))
THP = "/sys/kernel/mm/transparent_hugepage"
PAGE_KB = 4
PM_PFN_MASK = (1 << 55) - 1
KPF_THP = 22
KPF_ZERO_PAGE = 24
NOT_SCANNED = ("[vsyscall]", "[vvar]", "[vvar_vclock]")
CLASSES = ("anon", "file", "shared_file", "shmem", "hugetlb")
ZERO_COUNTS = {"present_pages": 0, "swapped_pages": 0, "exclusive_pages": 0}

# Pss tolerance, per process: the kernel sums the per-page shares in fixed point and truncates to
# kB once per process; a reconstruction that rounds differently may land 1 kB lower or higher.
# Shared, Private, USS and page counts are whole pages: exact.
PSS_TOLERANCE_KB = 1
# Windows (sweep and query between two live readings) tried before giving up on stable figures.
WINDOWS = 15
# PIDs the daemon itself may allocate (threads) during one quiet window.
QUIET_PIDS = 4


# ---- reading the live kernel, independently of mapstatd ----------------------------------------

def rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f.read().splitlines()[1:]:
            name, rest = line.split(":", 1)
            out[name] = int(rest.split()[0])
    return out


def shared(r):
    return r["Shared_Clean"] + r["Shared_Dirty"]


def private(r):
    return r["Private_Clean"] + r["Private_Dirty"]


def u64s(path, index, n):
    with open(path, "rb", buffering=0) as f:
        f.seek(index * 8)
        data = f.read(n * 8)
    return struct.unpack("<%dQ" % (len(data) // 8), data)


PAGEMAP_SCAN = 0xC0606610       # _IOWR('f', 16, struct pm_scan_arg), 96 bytes
PM_SCAN_PRESENT, PM_SCAN_SWAPPED = 1 << 3, 1 << 4


def populated(pid, start, end):
    """The [start, end) runs of a mapping holding present or swapped pages, with the
    PAGEMAP_SCAN ioctl (Linux 6.7+), so that a sparse terabyte-sized mapping (a sanitizer's
    shadow) is not read page by page; the whole range when the ioctl is not available."""
    regions = (ctypes.c_uint64 * (3 * 256))()
    out = []
    with open("/proc/%d/pagemap" % pid, "rb", buffering=0) as f:
        while start < end:
            arg = (ctypes.c_uint64 * 12)(96, 0, start, end, 0, ctypes.addressof(regions), 256,
                                         0, 0, 0, PM_SCAN_PRESENT | PM_SCAN_SWAPPED,
                                         PM_SCAN_PRESENT | PM_SCAN_SWAPPED)
            try:
                n = fcntl.ioctl(f.fileno(), PAGEMAP_SCAN, arg, True)
            except OSError:
                return [(start, end)] if not out else out
            out += [(regions[3 * i], regions[3 * i + 1]) for i in range(n)]
            if arg[4] <= start:
                break
            start = arg[4]
    return out


def classify(perms, inode, path):
    """collectors/maps.h's rules, restated."""
    if path == "/anon_hugepage (deleted)" or path.startswith("/dev/hugepages/"):
        return "hugetlb"
    if perms[3] == "s":
        if path.startswith(("/memfd:", "/SYSV", "/dev/shm/")) or path == "/dev/zero (deleted)":
            return "shmem"
        return "shared_file"
    if inode == 0 and (path == "" or path.startswith("[")):
        return "anon"
    return "file"


def vmas(pid):
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            fields = line.split(None, 5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            path = fields[5].strip() if len(fields) > 5 else ""
            if path in NOT_SCANNED:
                continue
            out.append({"start": start, "end": end, "path": path,
                        "class": classify(fields[1], int(fields[4]), path)})
    return out


def smaps_vmas(pid):
    """Per-VMA smaps: [{'start', 'end', 'path', field: kB…}]."""
    out = []
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split(None, 5)
            if "-" in head[0] and not head[0].endswith(":"):
                start, end = (int(x, 16) for x in head[0].split("-"))
                out.append({"start": start, "end": end,
                            "path": head[5].strip() if len(head) > 5 else ""})
            elif head[0].endswith(":") and len(head) > 1 and head[1].isdigit():
                out[-1][head[0][:-1]] = int(head[1])
    return out


def live_pagemap(pid, only=None):
    """Per class: present, swapped (PM_SWAP without the guard bit) and PM_MMAP_EXCLUSIVE pages
    over the mapped ranges (only: a predicate on the VMA); also the present PFNs."""
    counts = {c: {"present_pages": 0, "swapped_pages": 0, "exclusive_pages": 0}
              for c in CLASSES}
    pfns = []
    for v in vmas(pid):
        if only and not only(v):
            continue
        c = counts[v["class"]]
        for start, end in populated(pid, v["start"], v["end"]):
            for e in u64s("/proc/%d/pagemap" % pid, start // 4096, (end - start) // 4096):
                if e >> 63:
                    c["present_pages"] += 1
                    c["exclusive_pages"] += e >> 56 & 1
                    if v["class"] != "hugetlb":
                        pfns.append(e & PM_PFN_MASK)
                elif e >> 62 & 1 and not e >> 58 & 1:
                    c["swapped_pages"] += 1
    return counts, pfns


def large_folio_pages(pfns):
    """How many of pfns belong to a large folio (kpageflags THP, not the huge zero page)."""
    n = 0
    with open("/proc/kpageflags", "rb", buffering=0) as f:
        for pfn in pfns:
            f.seek(pfn * 8)
            flags = struct.unpack("<Q", f.read(8))[0]
            if flags >> KPF_THP & 1 and not flags >> KPF_ZERO_PAGE & 1:
                n += 1
    return n


def hidden_pfns():
    """Pages that something this test cannot see also maps: kpagecount (this PAGE kernel's
    per-page count) above the number of present pagemap entries of all readable processes.
    Processes of other PID namespaces sharing this kernel and page cache (containers, sandboxes
    on the same VM) and unreadable ones (here PID 1, which maps the vDSO) are such mappers; a
    reconstruction from pagemaps cannot see them. Returns ({pfn: (seen, kpagecount)},
    {pid: {pfn: entries}})."""
    seen, per_pid = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            _, pfns = live_pagemap(int(name))
        except (OSError, ValueError):
            continue
        mine = per_pid.setdefault(int(name), {})
        for pfn in pfns:
            seen[pfn] = seen.get(pfn, 0) + 1
            mine[pfn] = mine.get(pfn, 0) + 1
    hidden = {}
    with open("/proc/kpagecount", "rb", buffering=0) as f:
        for pfn, n in seen.items():
            f.seek(pfn * 8)
            count = struct.unpack("<Q", f.read(8))[0]
            if count > n:
                hidden[pfn] = (n, count)
    return hidden, per_pid


def out_of_sight(hidden, entries):
    """What the mappers out of sight change in one process's figures, as (Pss, Shared, Private)
    in kB to add to the kernel's figures to get what a reconstruction from the visible
    pagemaps must say: each entry of a hidden page is charged P / seen instead of P / count, and
    is Private instead of Shared when only the visible mappers' count is below 2."""
    pss = shared_kb = private_kb = 0.0
    for pfn, n in entries.items():
        if pfn not in hidden:
            continue
        s, count = hidden[pfn]
        pss += n * (PAGE_KB / s - PAGE_KB / count)
        if s < 2 <= count:
            shared_kb -= n * PAGE_KB
            private_kb += n * PAGE_KB
    return pss, shared_kb, private_kb


def quiet_marker():
    """(the last PID the kernel allocated, the set of processes)."""
    with open("/proc/loadavg") as f:
        last = int(f.read().split()[4])
    return last, frozenset(n for n in os.listdir("/proc") if n.isdigit())


def tag():
    return "t" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))


# ---- the workloads and what §8 says about them -------------------------------------------------

# Per workload: the roles that report, the class and size of the region, and per role what the
# kernel reports for the region (PAGE) and what a NO_PAGE_MAPCOUNT kernel would (NO). kB; pages
# of 4 KiB. "present/excl" are pagemap entries; "pmf" = partially mapped large anon folios.
#
# W1: a 2 MiB THP written, fork, the child unmaps page 0. Page 0 is mapped by the parent's PMD
#   only (count 1), pages 1-511 by the PMD and the child's PTEs (count 2). Parent Pss = 4 +
#   511 × 2 = 1026, Shared 511 × 4 = 2044, Private 4; since 6.15 every PMD entry takes page 0's
#   count for bit 56: 512/512. Child: 511 pages of count 2: Pss 1022, Shared 2044, 0/511.
#   NO: S = 512 + 511 = 1023, avg = (1023 + 256) // 512 = 2 on every page, two MMs: parent Pss
#   2048 / 2 = 1024, Shared 2048, Private 0, 0/512; child unchanged.
# W1b: the child unmaps page 1: parent identical except bit 56, now from page 0 (count 2): 0/512.
# W2: nothing unmapped: every page count 2 in both: Pss 1024, Shared 2048, 0/512; NO the same.
# W3: a 64 KiB mTHP, fork, the child writes page 0 (it gets a new small page). Parent: page 0
#   count 1, pages 1-15 count 2: Pss 4 + 30 = 34, Shared 60, Private 4, 1/16. Child: its small
#   page (private) + pages 1-15: the same figures. NO: S = 1 + 30 = 31, avg = (31 + 8) // 16 = 2:
#   parent Pss 64 / 2 = 32, Shared 64, Private 0, 0/16; the child's figures do not change.
# W4: a THP of which all but page 0 is unmapped: Pss 4, Private 4, 1/1; NO: S = 1, avg 1: same.
# W5: THP, fork, both unmap the last 212 pages: 300 pages of count 2 in each: Pss 600, Shared
#   1200, 0/300. NO: S = 600, avg = (600 + 256) // 512 = 1: Pss 1200 each, Shared 1200.
# W6: a 2 MiB memfd shmem THP mapped twice (both PMD) in one process: 512 pages of count 2,
#   twice: Pss 2 × 1024, Shared 4096, 0/1024. NO: the same Pss; one MM maps the folio: Private
#   4096, Shared 0, 1024/1024.
# W6s: the same with small pages: Pss 2048, Shared 4096, 0/1024 under both.
# W7: a 64 KiB mTHP; A forks B and C, B exits, A unmaps: C maps the folio alone, count 1: Pss 64,
#   Private 64, 16/16. A real NO kernel reports C as Shared 64, 0/16 (stale "maybe shared":
#   three MMs mapped the folio at once, docs/kernel-semantics.md §6); a forecast from one
#   snapshot sees one MM and, by §7's estimate rule, predicts Private 64, 16/16. That estimate
#   is asserted.
# W8: a 2 MiB memfd shmem THP; A maps all (PMD), B its first 1 MiB (PTEs): pages 0-255 count 2,
#   256-511 count 1. A: Pss 512 + 1024 = 1536, Shared 1024, Private 1024, bit 56 from page 0
#   (count 2): 0/512. B: Pss 512, Shared 1024, 0/256. NO: S = 512 + 256 = 768, avg =
#   (768 + 256) // 512 = 2, two MMs: A Pss 1024, Shared 2048, Private 0; B unchanged.
# W9: one 4 KiB page of a file whose page cache holds it in a 64 KiB folio: Pss 4, Private 4,
#   1/1; NO: S = 1, avg = (1 + 8) // 16 = 1, one MM: the same.
def expect(cls, present, excl, pss, sh, pr, no_pss, no_sh, no_pr, no_excl, pmf):
    return {"class": cls, "present": present, "excl": excl, "Pss": pss, "Shared": sh,
            "Private": pr, "NO": {"Pss": no_pss, "Shared": no_sh, "Private": no_pr,
                                  "exclusive_pages": no_excl}, "pmf": pmf}


WORKLOADS = {
    "W1": {"size": 2 << 20, "roles": {
        "parent": expect("anon", 512, 512, 1026, 2044, 4, 1024, 2048, 0, 0, 0),
        "childa": expect("anon", 511, 0, 1022, 2044, 0, 1022, 2044, 0, 0, 1)}},
    "W1b": {"size": 2 << 20, "roles": {
        "parent": expect("anon", 512, 0, 1026, 2044, 4, 1024, 2048, 0, 0, 0),
        "childa": expect("anon", 511, 0, 1022, 2044, 0, 1022, 2044, 0, 0, 1)}},
    "W2": {"size": 2 << 20, "roles": {
        "parent": expect("anon", 512, 0, 1024, 2048, 0, 1024, 2048, 0, 0, 0),
        "childa": expect("anon", 512, 0, 1024, 2048, 0, 1024, 2048, 0, 0, 0)}},
    "W3": {"size": 64 << 10, "roles": {
        "parent": expect("anon", 16, 1, 34, 60, 4, 32, 64, 0, 0, 0),
        "childa": expect("anon", 16, 1, 34, 60, 4, 34, 60, 4, 1, 1)}},
    "W4": {"size": 2 << 20, "roles": {
        "parent": expect("anon", 1, 1, 4, 0, 4, 4, 0, 4, 1, 1)}},
    "W5": {"size": 2 << 20, "roles": {
        "parent": expect("anon", 300, 0, 600, 1200, 0, 1200, 1200, 0, 0, 1),
        "childa": expect("anon", 300, 0, 600, 1200, 0, 1200, 1200, 0, 0, 1)}},
    "W6": {"memfd": True, "roles": {
        "parent": expect("shmem", 1024, 0, 2048, 4096, 0, 2048, 0, 4096, 1024, 0)}},
    "W6s": {"memfd": True, "roles": {
        "parent": expect("shmem", 1024, 0, 2048, 4096, 0, 2048, 4096, 0, 0, 0)}},
    "W7": {"size": 64 << 10, "roles": {
        "parent": None,
        "childb": expect("anon", 16, 16, 64, 0, 64, 64, 0, 64, 16, 0)}},
    "W8": {"memfd": True, "roles": {
        "parent": expect("shmem", 512, 0, 1536, 1024, 1024, 1024, 2048, 0, 0, 0),
        "childa": expect("shmem", 256, 0, 512, 1024, 0, 512, 1024, 0, 0, 0)}},
    "W9": {"size": 4 << 10, "roles": {
        "parent": expect("file", 1, 1, 4, 0, 4, 4, 0, 4, 1, 0)}},
}

PSS_KIND = {"anon": "Pss_Anon", "file": "Pss_File", "shared_file": "Pss_File",
            "shmem": "Pss_Shmem"}


class Workload:
    """One running tests/helpers/workload; .roles = {role: {'pid', 'got_thp', 'region'}} or
    .skipped = reason."""

    def __init__(self, name, workdir, roles):
        self.name = name
        self.tag = tag()
        self.roles = {}
        self.skipped = None
        self.want = roles
        self.proc = subprocess.Popen([WORKLOAD, name, "--tag", self.tag, "--dir", workdir],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def wait_ready(self):
        """Reads the "ready" lines (children print theirs on the same pipe), or "skip"."""
        pending = b""
        fd = self.proc.stdout.fileno()
        while len(self.roles) < self.want:
            while b"\n" not in pending:
                r, _, _ = select.select([fd], [], [], 30)
                chunk = os.read(fd, 4096) if r else b""
                if not chunk:
                    raise AssertionError("workload %s did not report (exit %r)"
                                         % (self.name, self.proc.poll()))
                pending += chunk
            line, pending = pending.split(b"\n", 1)
            line = line.decode().split()
            if line[0] == "skip":
                self.skipped = " ".join(line[1:])
                return self
            kv = dict(x.split("=", 1) for x in line[3:])
            self.roles[line[1]] = {"pid": int(line[2]), "got_thp": kv.get("got_thp") == "1",
                                   "got_mthp": kv.get("got_mthp") == "1",
                                   "region": int(kv["region"], 16)}
        return self

    def region_filter(self, role):
        spec = WORKLOADS[self.name]
        if spec.get("memfd"):
            return lambda v: v["path"].startswith("/memfd:workload")
        start = self.roles[role]["region"]
        end = start + spec["size"]
        return lambda v: v["start"] < end and start < v["end"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


def knob_write(path, value):
    with open(path, "w") as f:
        f.write(value)


def knob_read(path):
    """The selected value of a sysfs choice file ("always [madvise] never" → "madvise")."""
    with open(path) as f:
        text = f.read()
    return text[text.index("[") + 1:text.index("]")]


def find_group(groups, tag_, role):
    found = [g for g in groups if tag_ in g["identity"]["cmdline"]
             and g["identity"]["cmdline"].rstrip().endswith("--role " + role)]
    return found


def partially_mapped(g):
    if "partially_mapped_folios" in g:
        return g["partially_mapped_folios"]
    for k in ("truth", "forecast"):
        if g.get(k) and "partially_mapped_folios" in g[k]:
            return g[k]["partially_mapped_folios"]
    raise AssertionError("no partially_mapped_folios in %r" % sorted(g))


class PagemapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.knobs = []
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (pagemap PFNs, kpageflags, THP knobs)")
        if not os.access(WORKLOAD, os.X_OK):
            raise unittest.SkipTest("workload helper not built at %s" % WORKLOAD)
        try:
            thp = knob_read(THP + "/enabled")
        except OSError:
            raise unittest.SkipTest("kernel without transparent hugepages")
        if thp == "never":
            raise unittest.SkipTest("transparent_hugepage/enabled is never")
        try:
            u64s("/proc/kpageflags", 0, 1)
            u64s("/proc/kpagecount", 0, 1)
        except OSError as e:
            raise unittest.SkipTest("/proc/kpageflags unreadable: %s" % e)
        # mTHP (W3, W7, layout) and shmem THP (W6, W8) need their knobs; set for this test
        # only and restored afterwards.
        for path, value in ((THP + "/hugepages-64kB/enabled", "madvise"),
                            (THP + "/shmem_enabled", "advise")):
            if os.path.exists(path):
                old = knob_read(path)
                knob_write(path, value)
                cls.knobs.append((path, old))

    @classmethod
    def tearDownClass(cls):
        for path, old in reversed(cls.knobs):
            knob_write(path, old)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-pagemap-", dir="/var/tmp")
        self.workloads = []

    def tearDown(self):
        for w in self.workloads:
            w.close()
        subprocess.run(["rm", "-rf", self.tmp])

    def snapshot(self):
        """Live figures of every role of every workload that built."""
        out = {}
        for w in self.workloads:
            for role, r in w.roles.items():
                pid = r["pid"]
                counts, pfns = live_pagemap(pid)
                region, rpfns = live_pagemap(pid, w.region_filter(role)) \
                    if WORKLOADS[w.name]["roles"][role] else (None, [])
                out[(w.name, role)] = {"rollup": rollup(pid), "pagemap": counts,
                                       "region": region, "pfns": pfns, "region_pfns": rpfns}
        return out

    def sweep_between(self, d, before):
        """A /processes document from a sweep that started after before() was called; returns
        (before, doc, after), before and after being None when the window was not quiet: a
        process started or exited meanwhile. Such a process moves the counts of shared pages
        (libc) while the sweep reads them one process after the other, so the daemon's counts
        may differ from the kernel's at both ends even when a helper's figures look unchanged.
        The daemon itself starts a thread or two per window (QUIET_PIDS)."""
        while d._recv(0) is not None:
            pass
        d.messages.clear()
        m0 = quiet_marker()
        b = before()
        # The first STATUS may be of a sweep that started before b was read; the second is not.
        d.wait_sweeps(2)
        status, doc = d.get("/processes?limit=10000")
        self.assertEqual(status, 200)
        a = before()
        m1 = quiet_marker()
        if m0[1] != m1[1] or not 0 <= m1[0] - m0[0] <= QUIET_PIDS:
            return None, doc["processes"], None
        self.hidden, self.hidden_per_pid = hidden_pfns()
        return b, doc["processes"], a

    def test_workloads(self):
        for name, spec in WORKLOADS.items():
            self.workloads.append(Workload(name, self.tmp, len(spec["roles"])))
            self.workloads[-1].wait_ready()
        built = [w for w in self.workloads if not w.skipped]
        for w in self.workloads:
            if w.skipped:
                print("%s: skipped: %s" % (w.name, w.skipped))
            else:
                print("%s: %s" % (w.name, ", ".join(
                    "%s pid %d got_thp=%d" % (k, v["pid"], v["got_thp"])
                    for k, v in sorted(w.roles.items()))))
        if not built:
            self.skipTest("no workload could be built here")

        # Other processes starting and exiting move the counts of shared libc pages, hence the
        # helpers' Pss: a role is checked from the first window (sweep and query between two
        # live readings) in which its live figures did not change.
        todo = {(w.name, role): w for w in built for role in w.roles}
        seen = {}
        # Every sweep reads every process (--max-staleness 0): the figures are compared with
        # live ones exactly, which a reused read need not be (test_steady_state.py).
        with Daemon(["--interval", "200ms", "--pagemap", "full", "--max-staleness", "0"]) as d:
            # Warm the daemon first (see test_real_proc.py): its first sweeps and requests map
            # more shared libc pages, which changes everybody's Pss of those pages.
            d.wait_sweeps(2)
            d.get("/processes?limit=10000")
            for _ in range(WINDOWS):
                before, groups, after = self.sweep_between(d, self.snapshot)
                if before is None:
                    continue
                for key in list(todo):
                    if before[key] == after[key]:
                        pid = next(w.roles[key[1]]["pid"] for w in built if w.name == key[0])
                        after[key]["hidden"] = out_of_sight(self.hidden,
                                                            self.hidden_per_pid.get(pid, {}))
                        seen[key] = (groups, after[key])
                        del todo[key]
                if not todo:
                    break
        if todo:
            self.skipTest("no quiet window for %s" % sorted(todo))

        for w in built:
            for role, spec in WORKLOADS[w.name]["roles"].items():
                with self.subTest(workload=w.name, role=role):
                    groups, live = seen[(w.name, role)]
                    self.check_role(w, role, spec, groups, live)

    def check_truth(self, t, r, hidden):
        """The reconstruction against the kernel's rollup r, corrected by out_of_sight()."""
        self.assertIsNotNone(t)
        d_pss, d_shared, d_private = hidden
        self.assertLessEqual(abs(t["Pss"] - (r["Pss"] + d_pss)), PSS_TOLERANCE_KB,
                             (t, r["Pss"], d_pss))
        self.assertEqual(t["Shared"], shared(r) + d_shared)
        self.assertEqual(t["Private"], private(r) + d_private)
        self.assertEqual(t["Uss"], private(r) + d_private)

    def check_role(self, w, role, spec, groups, live):
        pid = w.roles[role]["pid"]
        found = find_group(groups, w.tag, role)
        self.assertEqual(len(found), 1, [g["identity"] for g in found])
        g = found[0]
        self.assertEqual(g["pids"], [pid])
        r = live["rollup"]

        # Stored = live: every smaps_rollup field, and the pagemap counts per class.
        self.assertEqual(g["smaps_rollup"], r)
        self.assertIsNotNone(g["pagemap"])
        for c in CLASSES:
            self.assertEqual(g["pagemap"].get(c, ZERO_COUNTS), live["pagemap"][c], c)

        # The reconstruction equals the kernel (PAGE kernel: the per-page truth is what smaps
        # reports).
        self.check_truth(g["truth"], r, live["hidden"])

        if spec is None:
            return
        if not w.roles[role]["got_thp"] and w.name != "W6s":
            self.fail("%s %s: large folio lost after the workload reported" % (w.name, role))

        # First principles: the region, as the kernel reports it, is §8's PAGE column.
        region = live["region"]
        cls = spec["class"]
        self.assertEqual(region[cls]["present_pages"], spec["present"])
        self.assertEqual(region[cls]["exclusive_pages"], spec["excl"])
        self.assertEqual(sum(region[c]["present_pages"] for c in CLASSES), spec["present"])
        rv = [v for v in smaps_vmas(pid) if w.region_filter(role)(v)]
        self.assertEqual(sum(v["Pss"] for v in rv), spec["Pss"])
        self.assertEqual(sum(shared(v) for v in rv), spec["Shared"])
        self.assertEqual(sum(private(v) for v in rv), spec["Private"])

        # The forecast differs from today's figures only by the region's NO - PAGE difference,
        # provided nothing else of the process is in a large folio (else its own difference
        # would add in; the helper's libc pages are small folios on this machine).
        outside = large_folio_pages(set(live["pfns"]) - set(live["region_pfns"]))
        if outside:
            self.skipTest("%d pages outside the region are in large folios" % outside)
        f = g["forecast"]
        no = spec["NO"]
        d_pss = no["Pss"] - spec["Pss"]
        self.assertLessEqual(abs(f["Pss"] - (r["Pss"] + d_pss)), PSS_TOLERANCE_KB,
                             (f, r["Pss"], d_pss))
        kind = PSS_KIND[cls]
        for k in ("Pss_Anon", "Pss_File", "Pss_Shmem"):
            want = r[k] + (d_pss if k == kind else 0)
            self.assertLessEqual(abs(f[k] - want), PSS_TOLERANCE_KB, (k, f, r[k]))
        self.assertEqual(f["Shared"], shared(r) + no["Shared"] - spec["Shared"])
        self.assertEqual(f["Private"], private(r) + no["Private"] - spec["Private"])
        exclusive_now = sum(live["pagemap"][c]["exclusive_pages"] for c in CLASSES)
        self.assertEqual(f["exclusive_pages"],
                         exclusive_now + no["exclusive_pages"] - spec["excl"])
        self.assertEqual(partially_mapped(g), spec["pmf"])

    def test_layout(self):
        """The combined layout (private anon, THP, mTHP, CoW after fork, a THP partly unmapped
        in the child, a file mapped twice, a memfd shared by both): the reconstruction equals
        the kernel for both processes, and the child's partly mapped THP is counted."""
        w = Workload("layout", self.tmp, 2)
        self.workloads.append(w)
        w.wait_ready()
        if w.skipped:
            self.skipTest(w.skipped)

        def snap():
            return {role: {"rollup": rollup(r["pid"]), "pagemap": live_pagemap(r["pid"])[0]}
                    for role, r in w.roles.items()}

        with Daemon(["--interval", "200ms", "--pagemap", "full", "--max-staleness", "0"]) as d:
            d.wait_sweeps(2)
            d.get("/processes?limit=10000")
            for _ in range(WINDOWS):
                before, groups, after = self.sweep_between(d, snap)
                if before is not None and before == after:
                    break
            else:
                self.skipTest("no quiet window with settled layout memory")

        for role in ("parent", "childa"):
            with self.subTest(role=role):
                found = find_group(groups, w.tag, role)
                self.assertEqual(len(found), 1)
                g = found[0]
                r = after[role]["rollup"]
                self.assertEqual(g["smaps_rollup"], r)
                for c in CLASSES:
                    self.assertEqual(g["pagemap"].get(c, ZERO_COUNTS), after[role]["pagemap"][c],
                                     c)
                self.check_truth(g["truth"], r, out_of_sight(
                    self.hidden, self.hidden_per_pid.get(w.roles[role]["pid"], {})))
                # The THP (2 MiB) and the mTHP: the parent maps both whole; the child maps the
                # THP but page 0 and has replaced page 0 of the mTHP by a copy: one partly
                # mapped folio for each that was obtained in the child, none in the parent.
                got = w.roles["parent"]
                want = 0 if role == "parent" else int(got["got_thp"]) + int(got["got_mthp"])
                self.assertEqual(partially_mapped(g), want)

    def test_machine(self):
        """Every process whose smaps_rollup did not change around the query: the reconstructed
        truth equals the kernel's Pss (± PSS_TOLERANCE_KB per process), Shared and Private
        (exactly). A mismatch may be a race (a process mapping or exiting during the sweep
        moves other processes' page counts without changing them before and after), so the
        whole check is retried; it fails only if no attempt is clean."""
        def all_rollups():
            out = {}
            for name in os.listdir("/proc"):
                if name.isdigit():
                    try:
                        out[int(name)] = rollup(int(name))
                    except (OSError, ValueError, IndexError):
                        pass
            return out

        # On a quiet machine most processes are idle but few identities exist (all shells are
        # one); idle helpers with distinct tags make sure there are enough to check.
        for i in range(3):
            self.workloads.append(Workload("layout", self.tmp, 2))
            self.workloads[-1].wait_ready()
        failures = None
        d = Daemon(["--interval", "200ms", "--pagemap", "full", "--max-staleness", "0"])
        self.addCleanup(d.close)
        d.start()
        d.wait_sweeps(2)
        d.get("/processes?limit=10000")
        for attempt in range(WINDOWS):
            before, groups, after = self.sweep_between(d, all_rollups)
            if before is None:
                continue
            checked, failures, worst, hidden_ids = 0, [], 0, 0
            for g in groups:
                pids = g["pids"]
                if not g.get("truth") or any(p not in before or before[p] != after.get(p)
                                             for p in pids):
                    continue
                rs = [after[p] for p in pids]
                t = g["truth"]
                hid = [out_of_sight(self.hidden, self.hidden_per_pid.get(p, {})) for p in pids]
                hidden_ids += any(h != (0, 0, 0) for h in hid)
                kernel = {"Pss": sum(r["Pss"] for r in rs) + sum(h[0] for h in hid),
                          "Shared": sum(shared(r) for r in rs) + sum(h[1] for h in hid),
                          "Private": sum(private(r) for r in rs) + sum(h[2] for h in hid)}
                checked += len(pids)
                worst = max(worst, round(abs(t["Pss"] - kernel["Pss"]), 2))
                if abs(t["Pss"] - kernel["Pss"]) > PSS_TOLERANCE_KB * len(pids) or \
                        t["Shared"] != kernel["Shared"] or t["Private"] != kernel["Private"] \
                        or t["Uss"] != kernel["Private"]:
                    failures.append((g["identity"]["cmdline"][:60], pids, t, kernel))
            if checked < 5:
                continue
            print("window %d: %d stable processes checked (%d identities of %d corrected for "
                  "mappers out of sight), largest Pss difference %s kB, "
                  "%d mismatches" % (attempt + 1, checked, hidden_ids, len(groups), worst,
                                      len(failures)))
            if not failures:
                return
        if failures is None or checked < 5:
            self.skipTest("no quiet window with 5 stable processes in %d" % WINDOWS)
        self.fail("truth differs from the kernel (%d identities of %d stable processes):\n%s"
                  % (len(failures), checked, "\n".join(map(repr, failures[:20]))))


if __name__ == "__main__":
    main()
