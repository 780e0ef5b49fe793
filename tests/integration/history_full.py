"""A kernel-change history with `--pagemap full` on fixture trees, for every test that needs
one with pagemaps and reconstructions: kernel A (page_mapcount), then kernel B
(no_page_mapcount). Every process has maps, a sparse pagemap and smaps_rollup that agree with
each other, and the tree has sparse kpageflags/kpagecount, so the daemon reconstructs the
config-independent truth and the NO_PAGE_MAPCOUNT forecast (docs/kernel-semantics.md §7).

* shmsrv/shmcli are workload W8 (§8): nothing changes in memory, only the accounting of the
  partially shared shmem THPs.
* grower really changes: on kernel B a forked child shares 12000 of its small anon pages.

Every expected figure is worked out by hand from docs/kernel-semantics.md, in the comments. P =
4 kB (4096-byte pages), N = 512 pages per 2 MiB folio."""
import os
import random
import shutil
import statistics
import tempfile

from fixture_tree import (Kernel, KPF_ANON, KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_DIRTY,
                          KPF_LRU, KPF_MMAP, KPF_SWAPBACKED, KPF_THP, KPF_UPTODATE, PAGE_SIZE,
                          kpf, pagemap_entry, replace_tree, write_tree)
from harness import Daemon, run_once

KERNEL_A = Kernel("6.18.0-fixture-page", "5b7e2f10-8c1d-4e6a-9f3b-0c2d4e6f8a01", "page")
KERNEL_B = Kernel("6.19.0-fixture-nopage", "a41c9e7d-2b3f-4a5c-8d6e-7f8091a2b302", "no_page")
SWEEPS = 5
MEMTOTAL = 8 * 1024 * 1024
P = 4                           # kB per page
N = 512                         # pages per PMD-sized folio
HALF = N // 2                   # shmcli maps the first 256 pages (1 MiB) of every folio
FOLIOS = 50
NOISE = 16                      # every sweep adds 0..15 pages to each process's private anon

# The memory of the scenario. Anonymous pages are small folios (order 0).
SRV_ANON = 2048                 # shmsrv's private anon pages, before noise
CLI_ANON = 1024                 # shmcli's
GROWER = 20000                  # grower's private anon pages, before noise
SHARED_WITH_CHILD = 12000       # kernel B: pages 0..11999 of grower also mapped by its child
CHILD_OWN = 256                 # the child's own private anon pages

# Physical layout (PFNs). Shmem folio i is [SHMEM_PFN + i·N, +N): 2 MiB-aligned.
SHMEM_PFN = 0x80000
SRV_ANON_PFN = 0x100000
CLI_ANON_PFN = 0x110000
GROWER_PFN = 0x120000
CHILD_PFN = 0x130000

# Virtual layout. shmsrv maps the whole memfd (FOLIOS × 2 MiB) at an address 4 KiB past a
# 2 MiB boundary: virtual address and file offset are not congruent modulo 2 MiB, so the kernel
# maps its folios with PTEs, never a PMD (ShmemPmdMapped 0), and the PAGE exclusivity rule is
# the per-page one of §3.2 ("PTE of large folio: this page's count == 1"), not the 6.15+ PMD
# rule. shmcli maps 1 MiB windows (file offset i × 2 MiB): too small for a PMD either.
SRV_HEAP = 0x55d0c1000000
SRV_SHM = 0x7f3a00001000
CLI_HEAP = 0x5611aa000000
CLI_SHM = 0x7f5c00000000
GROWER_HEAP = 0x55e0d0000000
CHILD_ANON = 0x7f1100000000
HEAP_PAGES = 4096               # size of the shmsrv/shmcli heap VMAs (partly populated)
GROWER_VMA_PAGES = 20480        # size of grower's heap VMA (≥ GROWER + NOISE)
MEMFD = dict(perms="rw-s", dev="00:01", inode=2049, path="/memfd:seg (deleted)")

# kpageflags of what is mapped (every flag is folio-wide, §4.1; MMAP is on every page of a
# mapped folio). Shmem: SWAPBACKED without ANON.
ANON_FLAGS = kpf(KPF_UPTODATE, KPF_DIRTY, KPF_LRU, KPF_MMAP, KPF_ANON, KPF_SWAPBACKED)
SHMEM_HEAD = kpf(KPF_UPTODATE, KPF_DIRTY, KPF_LRU, KPF_MMAP, KPF_SWAPBACKED, KPF_COMPOUND_HEAD,
                 KPF_THP)
SHMEM_TAIL = kpf(KPF_UPTODATE, KPF_DIRTY, KPF_LRU, KPF_MMAP, KPF_SWAPBACKED, KPF_COMPOUND_TAIL,
                 KPF_THP)

SRV_EXE, CLI_EXE, GROWER_EXE = "/usr/sbin/shmsrv", "/usr/bin/shmcli", "/usr/bin/grower"


def rollup(rss, pss, shared, private, pss_anon=0, pss_shmem=0, anonymous=0):
    """smaps_rollup with every page dirty (written memory): Pss_Dirty = Pss, Shared/Private all
    *_Dirty; every page referenced; no THP mapped by PMD, no swap."""
    return {"Rss": rss, "Pss": pss, "Pss_Dirty": pss, "Pss_Anon": pss_anon, "Pss_File": 0,
            "Pss_Shmem": pss_shmem, "Shared_Clean": 0, "Shared_Dirty": shared,
            "Private_Clean": 0, "Private_Dirty": private, "Referenced": rss,
            "Anonymous": anonymous, "KSM": 0, "LazyFree": 0, "AnonHugePages": 0,
            "ShmemPmdMapped": 0, "FilePmdMapped": 0, "Shared_Hugetlb": 0, "Private_Hugetlb": 0,
            "Swap": 0, "SwapPss": 0, "Locked": 0}


METRICS = ("Shared", "Private", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem")


def metric(smaps, m):
    """A compared metric of a rollup: Shared/Private sum their _Clean and _Dirty parts."""
    if m in ("Shared", "Private"):
        return smaps[m + "_Clean"] + smaps[m + "_Dirty"]
    return smaps[m]


# ---- expected figures, by hand -------------------------------------------------------------
#
# Page counts (the PAGE per-page mapcount = what the pagemaps of all processes say, §7):
#   shmem folio pages 0..255: shmsrv + shmcli = 2; pages 256..511: shmsrv only = 1.
#   S(folio) = 256·2 + 256·1 = 768 → avg = max(1, ⌊(768 + 256) / 512⌋) = 2 (§2.2).
#   Under NO every page of the folio reads kpagecount = avg = 2 (§4.3).
#   Anon pages: 1, except grower's first 12000 on kernel B: 2 (shared with the child).
#
# Per shmem folio (§2.2/§2.3, = §8 W8):
#   shmsrv PAGE: pages 0..255 Pss 4/2 = 2 kB each, Shared; 256..511 Pss 4 kB each, Private
#                → Pss 512 + 1024 = 1536, Shared 1024, Private 1024, Rss 2048.
#   shmsrv NO:   m = avg 2 on all 512 → Pss 512·2 = 1024; the folio is mapped by two MMs
#                → all Shared: Shared 2048, Private 0.
#   shmcli both: 256 pages at m = 2 → Pss 512, Shared 1024, Private 0, Rss 1024.
# Exclusivity (§3.2): PAGE, PTE of a large folio: page count == 1 → shmsrv's pages 256..511
#   (256 of 512 per folio), none of shmcli's; NO: folio mapped by two MMs → none.
#   Small anon folio (both): count == 1.


def srv(mode, a):
    """shmsrv with a private anon pages. Returns reported rollup, truth, forecast, pagemap."""
    shm = FOLIOS * N * P                                    # 102400 kB of shmem mapped
    if mode == "page":
        reported = rollup(rss=shm + P * a, pss=FOLIOS * 1536 + P * a, shared=FOLIOS * 1024,
                          private=FOLIOS * 1024 + P * a, pss_anon=P * a,
                          pss_shmem=FOLIOS * 1536, anonymous=P * a)
        shm_excl = FOLIOS * HALF                           # 12800 pages
    else:
        reported = rollup(rss=shm + P * a, pss=FOLIOS * 1024 + P * a, shared=FOLIOS * 2048,
                          private=P * a, pss_anon=P * a, pss_shmem=FOLIOS * 1024,
                          anonymous=P * a)
        shm_excl = 0
    # The truth counts pagemap entries, the same in both trees: the PAGE figures.
    truth = {"Pss": FOLIOS * 1536 + P * a, "Uss": FOLIOS * 1024 + P * a,
             "Shared": FOLIOS * 1024, "Private": FOLIOS * 1024 + P * a}
    # The forecast applies the NO rules: avg(F) = 2 from either tree's kpagecount (PAGE:
    # S = 768; NO: S = 1024 → ⌊1280/512⌋ = 2), two MMs → Shared; anon small, count 1.
    forecast = {"Pss": FOLIOS * 1024 + P * a, "Pss_Anon": P * a, "Pss_File": 0,
                "Pss_Shmem": FOLIOS * 1024, "Shared": FOLIOS * 2048, "Private": P * a,
                "exclusive_pages": a}
    pagemap = {"anon": (a, a), "shmem": (FOLIOS * N, shm_excl)}
    return reported, truth, forecast, pagemap


def cli(mode, b):
    """shmcli with b private anon pages: the same on both kernels (§8 W8 "B same")."""
    reported = rollup(rss=FOLIOS * 1024 + P * b, pss=FOLIOS * 512 + P * b,
                      shared=FOLIOS * 1024, private=P * b, pss_anon=P * b,
                      pss_shmem=FOLIOS * 512, anonymous=P * b)
    truth = {"Pss": FOLIOS * 512 + P * b, "Uss": P * b, "Shared": FOLIOS * 1024,
             "Private": P * b}
    forecast = {"Pss": FOLIOS * 512 + P * b, "Pss_Anon": P * b, "Pss_File": 0,
                "Pss_Shmem": FOLIOS * 512, "Shared": FOLIOS * 1024, "Private": P * b,
                "exclusive_pages": b}
    pagemap = {"anon": (b, b), "shmem": (FOLIOS * HALF, 0)}
    return reported, truth, forecast, pagemap


def grower(mode, c):
    """grower with c private anon pages (small folios: PAGE = NO, forecast = reported).
    Kernel A: all mapped once → Pss = Private = Rss = 4c, exclusive c.
    Kernel B: pages 0..11999 mapped by the child too (count 2): Shared 12000·4 = 48000,
    Private 4(c − 12000), Pss 4(c − 12000) + 12000·2 = 4c − 24000, exclusive c − 12000."""
    if mode == "page":
        shared_pages = 0
    else:
        shared_pages = SHARED_WITH_CHILD
    pss = P * (c - shared_pages) + shared_pages * P // 2
    reported = rollup(rss=P * c, pss=pss, shared=P * shared_pages,
                      private=P * (c - shared_pages), pss_anon=pss, anonymous=P * c)
    truth = {"Pss": pss, "Uss": P * (c - shared_pages), "Shared": P * shared_pages,
             "Private": P * (c - shared_pages)}
    forecast = {"Pss": pss, "Pss_Anon": pss, "Pss_File": 0, "Pss_Shmem": 0,
                "Shared": P * shared_pages, "Private": P * (c - shared_pages),
                "exclusive_pages": c - shared_pages}
    pagemap = {"anon": (c, c - shared_pages)}
    return reported, truth, forecast, pagemap


def child():
    """grower's child on kernel B: 12000 pages shared with its parent (count 2) and 256 of its
    own: Rss 48000 + 1024 = 49024, Pss 12000·2 + 1024 = 25024, Shared 48000, Private 1024."""
    reported = rollup(rss=49024, pss=25024, shared=48000, private=1024, pss_anon=25024,
                      anonymous=49024)
    truth = {"Pss": 25024, "Uss": 1024, "Shared": 48000, "Private": 1024}
    forecast = {"Pss": 25024, "Pss_Anon": 25024, "Pss_File": 0, "Pss_Shmem": 0,
                "Shared": 48000, "Private": 1024, "exclusive_pages": CHILD_OWN}
    pagemap = {"anon": (SHARED_WITH_CHILD + CHILD_OWN, CHILD_OWN)}
    return reported, truth, forecast, pagemap


# ---- the trees (mechanical: PFNs, entries and counts of the layout above) -------------------

def anon_run(vaddr, pfn, n, exclusive):
    """pagemap run of n present anon pages from vaddr on PFNs pfn.., exclusive(i) per page."""
    return (vaddr // PAGE_SIZE, [pagemap_entry(pfn + i, exclusive=exclusive(i)) for i in range(n)])


def build(mode, a, b, c):
    """The process table and kpage* runs of one sweep on kernel mode."""
    page = mode == "page"

    srv_shm_entries = []
    for f in range(FOLIOS):
        for i in range(N):
            # §3.2: PAGE per-page rule (count 1 only for pages 256..511); NO: two MMs → never.
            srv_shm_entries.append(pagemap_entry(SHMEM_PFN + f * N + i, file=True,
                                                 exclusive=page and i >= HALF))
    procs = [dict(
        comm="shmsrv", exe=SRV_EXE, args=["--segments", str(FOLIOS)], unit="shmsrv.service",
        maps=[dict(start=SRV_HEAP, end=SRV_HEAP + HEAP_PAGES * PAGE_SIZE, perms="rw-p",
                   path="[heap]"),
              dict(start=SRV_SHM, end=SRV_SHM + FOLIOS * N * PAGE_SIZE, **MEMFD)],
        pagemap=[anon_run(SRV_HEAP, SRV_ANON_PFN, a, lambda i: True),
                 (SRV_SHM // PAGE_SIZE, srv_shm_entries)],
        smaps=srv(mode, a)[0])]

    cli_maps = [dict(start=CLI_HEAP, end=CLI_HEAP + HEAP_PAGES * PAGE_SIZE, perms="rw-p",
                     path="[heap]")]
    cli_pagemap = [anon_run(CLI_HEAP, CLI_ANON_PFN, b, lambda i: True)]
    for f in range(FOLIOS):
        start = CLI_SHM + f * 2 * N * PAGE_SIZE
        cli_maps.append(dict(start=start, end=start + HALF * PAGE_SIZE,
                             offset=f * N * PAGE_SIZE, **MEMFD))
        cli_pagemap.append((start // PAGE_SIZE,
                            [pagemap_entry(SHMEM_PFN + f * N + i, file=True, exclusive=False)
                             for i in range(HALF)]))
    procs.append(dict(comm="shmcli", exe=CLI_EXE, args=["--attach", "shmsrv"],
                      unit="shmcli.service", maps=cli_maps, pagemap=cli_pagemap,
                      smaps=cli(mode, b)[0]))

    shared = 0 if page else SHARED_WITH_CHILD
    grower_heap = dict(start=GROWER_HEAP, end=GROWER_HEAP + GROWER_VMA_PAGES * PAGE_SIZE,
                       perms="rw-p", path="[heap]")
    procs.append(dict(comm="grower", exe=GROWER_EXE, args=["--size", "80M"],
                      unit="grower.service", maps=[grower_heap],
                      pagemap=[anon_run(GROWER_HEAP, GROWER_PFN, c, lambda i: i >= shared)],
                      smaps=grower(mode, c)[0]))
    if not page:
        # The forked child keeps the inherited heap VMA with its first 12000 pages (it dropped
        # the rest) and wrote 256 pages of its own.
        procs.append(dict(
            comm="grower-child", exe=GROWER_EXE, args=["--child", "--worker", "1"],
            unit="grower.service",
            maps=[grower_heap, dict(start=CHILD_ANON, end=CHILD_ANON + CHILD_OWN * PAGE_SIZE,
                                    perms="rw-p")],
            pagemap=[anon_run(GROWER_HEAP, GROWER_PFN, SHARED_WITH_CHILD, lambda i: False),
                     anon_run(CHILD_ANON, CHILD_PFN, CHILD_OWN, lambda i: True)],
            smaps=child()[0]))

    shm_flags = []
    shm_count = []
    for f in range(FOLIOS):
        shm_flags += [SHMEM_HEAD] + [SHMEM_TAIL] * (N - 1)
        # PAGE: each page's own count; NO: the folio average on every page (§4.3).
        shm_count += [2] * HALF + [1] * HALF if page else [2] * N
    flags = [(SHMEM_PFN, shm_flags), (SRV_ANON_PFN, [ANON_FLAGS] * a),
             (CLI_ANON_PFN, [ANON_FLAGS] * b), (GROWER_PFN, [ANON_FLAGS] * c)]
    count = [(SHMEM_PFN, shm_count), (SRV_ANON_PFN, [1] * a), (CLI_ANON_PFN, [1] * b),
             (GROWER_PFN, [2] * shared + [1] * (c - shared))]
    if not page:
        flags.append((CHILD_PFN, [ANON_FLAGS] * CHILD_OWN))
        count.append((CHILD_PFN, [1] * CHILD_OWN))
    return procs, {"flags": flags, "count": count}


def meminfo(a, b, c, mode):
    """AnonPages counts anon pages once however often mapped; Mapped counts the mapped shmem:
    every folio is fully mapped by shmsrv, so PAGE and NO count all of it (§5)."""
    child_own = 0 if mode == "page" else CHILD_OWN
    return {"MemTotal": MEMTOTAL, "MemFree": 4000000,
            "AnonPages": 900000 + P * (a + b + c + child_own),
            "Mapped": 300000 + FOLIOS * N * P, "Shmem": 100000 + FOLIOS * N * P}



class FullHistory:
    """Sweeps of the scenario into a database of a temporary directory; sizes[mode] holds the
    (a, b, c) private anon page counts of every sweep, for the expected figures."""

    def __init__(self, seed=20261122):
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-full-")
        self.db = os.path.join(self.tmp, "mapstatd.db")
        self.tree = os.path.join(self.tmp, "tree")
        self.rng = random.Random(seed)
        self.sizes = {"page": [], "no_page": []}

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def roots(self):
        return ["--proc-root", os.path.join(self.tree, "proc"), "--sys-root",
                os.path.join(self.tree, "sys"), "--boot-root", os.path.join(self.tree, "boot")]

    def write(self, mode, kernel, in_place=False, without=()):
        """Writes the tree of the next sweep of kernel (mode "page" or "no_page"); in_place
        keeps the tree's directories for a daemon that holds them (fixture_tree.replace_tree);
        the processes whose comm is in without are left out."""
        a = SRV_ANON + self.rng.randrange(NOISE)
        b = CLI_ANON + self.rng.randrange(NOISE)
        c = GROWER + self.rng.randrange(NOISE)
        procs, kpages = build(mode, a, b, c)
        procs = [p for p in procs if p["comm"] not in without]
        base = 1000 if mode == "page" else 30000
        for i, p in enumerate(procs):
            p["pid"] = base + 10 * len(self.sizes[mode]) + i
            p["start"] = 5000 + 100 * len(self.sizes[mode]) + i
        mem = meminfo(a, b, c, mode)
        if in_place:
            replace_tree(self.tree, lambda root: write_tree(root, kernel, mem, procs,
                                                             kpages=kpages))
        else:
            write_tree(self.tree, kernel, mem, procs, kpages=kpages)
        self.sizes[mode].append((a, b, c))

    def sweep(self, mode, kernel):
        """Writes the next tree and stores one `--pagemap full` sweep of it."""
        self.write(mode, kernel)
        r = run_once(["--db", self.db, "--pagemap", "full", *self.roots()])
        if r.returncode != 0:
            raise AssertionError("mapstatd --once failed: %s" % r.stderr)

    def kernel_change(self, sweeps=SWEEPS):
        for _ in range(sweeps):
            self.sweep("page", KERNEL_A)
        for _ in range(sweeps):
            self.sweep("no_page", KERNEL_B)

    def median(self, mode, fn):
        return statistics.median(fn(*s) for s in self.sizes[mode])


class ServedKernelChange:
    """A mixin for a TestCase whose tests share one daemon serving a kernel change of three
    sweeps per kernel (`--pagemap full`, interval 1h) after its own first sweep: cls.h (the
    FullHistory), cls.d (the Daemon) and cls.url (its base URL, no trailing slash)."""

    @classmethod
    def setUpClass(cls):
        cls.h = FullHistory()
        try:
            cls.h.kernel_change(sweeps=3)
            cls.d = Daemon(["--interval", "1h", "--pagemap", "full", *cls.h.roots()],
                           db=cls.h.db).start()
        except BaseException:
            cls.h.close()
            raise
        cls.d.wait_sweeps(1)
        cls.url = "http://127.0.0.1:%d" % cls.d.port

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        cls.h.close()
