"""A kernel-change history on fixture trees, for every test that needs one: kernel A
(page_mapcount) swept with normal noise, then kernel B (no_page_mapcount), where some processes'
figures move exactly as docs/kernel-semantics.md §8 describes (W5, W6, W8) and others only
fluctuate. History writes the sweeps into a database with `mapstatd --once`."""
import os
import random
import shutil
import statistics
import tempfile

from fixture_tree import Kernel, write_tree
from harness import run_once

KERNEL_A = Kernel("6.18.0-fixture-page", "0b6f3c34-6a38-4e4b-9a49-4ad7a4bb0a01", "page")
KERNEL_B = Kernel("6.19.0-fixture-nopage", "7d1e9a52-30c1-4d7e-8f0e-2be1b0c5f302", "no_page")
SWEEPS = 5
MEMTOTAL = 2 * 1024 * 1024


def figures(rss, pss, shared_dirty=0, private_dirty=0, shared_clean=0, private_clean=0,
            pss_anon=0, pss_file=0, pss_shmem=0, anonymous=0):
    return {"Rss": rss, "Pss": pss, "Pss_Dirty": pss_anon + pss_shmem, "Pss_Anon": pss_anon,
            "Pss_File": pss_file, "Pss_Shmem": pss_shmem, "Shared_Clean": shared_clean,
            "Shared_Dirty": shared_dirty, "Private_Clean": private_clean,
            "Private_Dirty": private_dirty, "Referenced": rss, "Anonymous": anonymous, "KSM": 0,
            "LazyFree": 0, "AnonHugePages": 0, "ShmemPmdMapped": 0, "FilePmdMapped": 0,
            "Shared_Hugetlb": 0, "Private_Hugetlb": 0, "Swap": 0, "SwapPss": 0, "Locked": 0}


# Per 2 MiB folio, in kB, from docs/kernel-semantics.md §8 (PAGE column vs NO column).
def shmem_server(mode):
    """W8, process A, ×100 folios, plus 20 MiB of private anonymous memory."""
    n, anon = 100, 20480
    if mode == "page":
        return figures(rss=2048 * n + anon, pss=1536 * n + anon, shared_dirty=1024 * n,
                       private_dirty=1024 * n + anon, pss_anon=anon, pss_shmem=1536 * n,
                       anonymous=anon)
    return figures(rss=2048 * n + anon, pss=1024 * n + anon, shared_dirty=2048 * n,
                   private_dirty=anon, pss_anon=anon, pss_shmem=1024 * n, anonymous=anon)


def shmem_client(mode):
    """W8, process B: maps the first 1 MiB of each folio; the same in both columns."""
    n, anon = 100, 10240
    return figures(rss=1024 * n + anon, pss=512 * n + anon, shared_dirty=1024 * n,
                   private_dirty=anon, pss_anon=anon, pss_shmem=512 * n, anonymous=anon)


def dualmap(mode):
    """W6: a memfd shmem THP mapped twice in one process, ×50 folios."""
    n = 50
    if mode == "page":
        return figures(rss=4096 * n, pss=2048 * n, shared_dirty=4096 * n, pss_shmem=2048 * n)
    return figures(rss=4096 * n, pss=2048 * n, private_dirty=4096 * n, pss_shmem=2048 * n)


def thp_cache(mode):
    """W5: parent and child each keep 300 pages of a forked THP, ×50 folios, plus 4 MiB private."""
    n, anon = 50, 4096
    per = 600 if mode == "page" else 1200
    return figures(rss=1200 * n + anon, pss=per * n + anon, shared_dirty=1200 * n,
                   private_dirty=anon, pss_anon=per * n + anon, anonymous=1200 * n + anon)


def stable_small(mode):
    return figures(rss=50000, pss=35000, shared_clean=30000, private_dirty=20000,
                   pss_anon=20000, pss_file=15000, anonymous=20000)


def noisy(rng):
    """Same in both kernels, but Rss moves ±10% and the shared share ±3 points every sweep."""
    rss = int(300000 * rng.uniform(0.9, 1.1))
    shared = int(rss * rng.uniform(0.27, 0.33))
    private = rss - shared
    return figures(rss=rss, pss=private + shared // 3, shared_clean=shared, private_dirty=private,
                   pss_anon=private, pss_file=shared // 3, anonymous=private)


def jitter(fig, rng, scale=0.004, split=0.002):
    """Normal noise: every figure ±0.4%, and a little of Shared/Private trades places."""
    f = rng.uniform(1 - scale, 1 + scale)
    out = {k: int(round(v * f)) for k, v in fig.items()}
    move = int(out["Rss"] * rng.uniform(-split, split))
    if out["Shared_Dirty"] >= abs(move) and out["Private_Dirty"] >= abs(move):
        out["Shared_Dirty"] -= move
        out["Private_Dirty"] += move
    return out


def processes(mode, sweep, rng, pid_base):
    """The process table of one sweep; PIDs differ between kernels (matching ignores them)."""
    m = "page" if mode == "page" else "no_page"
    procs = [
        dict(comm="shmsrv", exe="/usr/sbin/shmsrv", args=["--segments", "100"],
             unit="shmsrv.service", smaps=jitter(shmem_server(m), rng)),
        dict(comm="shmcli", exe="/usr/bin/shmcli", args=["--attach", "shmsrv"],
             unit="shmcli.service", smaps=jitter(shmem_client(m), rng)),
        dict(comm="dualmap", exe="/usr/bin/dualmap", args=[], unit="dualmap.service",
             smaps=jitter(dualmap(m), rng)),
        dict(comm="thp-cache", exe="/usr/bin/thp-cache", args=["--workers", "2"],
             unit="thp-cache.service", smaps=jitter(thp_cache(m), rng)),
        dict(comm="thp-cache", exe="/usr/bin/thp-cache", args=["--workers", "2"],
             unit="thp-cache.service", smaps=jitter(thp_cache(m), rng)),
        dict(comm="stable", exe="/usr/bin/stable", args=["-q"], unit="stable.service",
             smaps=jitter(stable_small(m), rng)),
        dict(comm="noisy", exe="/usr/bin/noisy", args=["--port", str(8000 + sweep)],
             unit="noisy.service", smaps=noisy(rng)),
        # Skipped by design or by damage: a kernel thread, a zombie, garbage.
        dict(comm="kworker/0:1", flags=0x00200000, smaps=None, raw_smaps=""),
        dict(comm="zombie", exe="/usr/bin/zombie", state="Z", raw_smaps=""),
        dict(comm="broken", exe="/usr/bin/broken", raw_smaps="garbage\x00\x01 not smaps\n"),
    ]
    if mode == "page":
        procs.append(dict(comm="legacy", exe="/usr/bin/legacy-agent", args=[],
                          unit="legacy.service", smaps=jitter(stable_small(m), rng)))
    else:
        procs.append(dict(comm="newagent", exe="/usr/bin/new-agent", args=[],
                          unit="new-agent.service", smaps=jitter(stable_small(m), rng)))
    for i, p in enumerate(procs):
        p["pid"] = pid_base + i
        p["start"] = 5000 + i
    return procs


def meminfo(mode, rng):
    """AnonPages counts partially mapped THPs whole under NO (§5): W5's 50 folios add
    50 × (2048 - 1200) kB. Mapped and Shmem do not change."""
    j = lambda v: int(v * rng.uniform(0.999, 1.001))
    anon = 900000 + (50 * (2048 - 1200) if mode == "no_page" else 0)
    return {"MemTotal": MEMTOTAL, "AnonPages": j(anon), "Mapped": j(400000),
            "Shmem": j(420000), "MemFree": j(300000)}


def sum_by(procs, exe):
    out = {}
    for p in procs:
        if p.get("exe") == exe and p.get("smaps"):
            for k, v in p["smaps"].items():
                out[k] = out.get(k, 0) + v
    return out



class History:
    """Sweeps of the fixture kernels A and B into a database of a temporary directory."""

    def __init__(self, seed=20261121):
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-history-")
        self.db = os.path.join(self.tmp, "mapstatd.db")
        self.tree = os.path.join(self.tmp, "tree")
        self.rng = random.Random(seed)
        self.history = {"page": [], "no_page": []}
        self.meminfo = {"page": [], "no_page": []}

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def roots(self):
        return ["--proc-root", os.path.join(self.tree, "proc"), "--sys-root",
                os.path.join(self.tree, "sys"), "--boot-root", os.path.join(self.tree, "boot")]

    def write(self, mode, kernel, i):
        """Writes the fixture tree of sweep i of kernel (mode "page" or "no_page")."""
        procs = processes(mode, i, self.rng, 1000 if mode == "page" else 30000)
        mem = meminfo(mode, self.rng)
        write_tree(self.tree, kernel, mem, procs)
        self.history[mode].append(procs)
        self.meminfo[mode].append(mem)

    def sweep(self, mode, kernel, i):
        """Writes sweep i's tree and stores one sweep of it; returns the CompletedProcess."""
        self.write(mode, kernel, i)
        r = run_once(["--db", self.db, *self.roots()])
        if r.returncode != 0:
            raise AssertionError("mapstatd --once failed: %s" % r.stderr)
        return r

    def kernel_change(self, sweeps=SWEEPS):
        """sweeps of kernel A, then sweeps of kernel B."""
        for i in range(sweeps):
            self.sweep("page", KERNEL_A, i)
        for i in range(sweeps):
            self.sweep("no_page", KERNEL_B, i)

    def expected(self, exe, metric):
        """The medians of an identity's metric (Rss, Pss, Shared, Private, …) under A and B."""
        def value(s):
            if metric == "Shared":
                return s["Shared_Clean"] + s["Shared_Dirty"]
            if metric == "Private":
                return s["Private_Clean"] + s["Private_Dirty"]
            return s[metric]
        before = statistics.median(value(sum_by(p, exe)) for p in self.history["page"])
        after = statistics.median(value(sum_by(p, exe)) for p in self.history["no_page"])
        return before, after
