"""Memory cgroup hierarchies and THP statistics written into fixture trees (sys/fs/cgroup and
sys/kernel/mm/transparent_hugepage), in the files' real formats, for the three layouts
collectors/cgroup.h detects. Figures are given per cgroup in the v2 vocabulary (bytes); the v1
writer prints them under v1's names, the hierarchical ones as the total_* forms."""
import os

from harness import run_once
from history import History, KERNEL_A, KERNEL_B, SWEEPS

# v2 name → v1 name (the total_* form carries the hierarchical figure), as collectors/cgroup.h.
V1_NAMES = {"anon": "rss", "file": "cache", "file_mapped": "mapped_file", "shmem": "shmem",
            "anon_thp": "rss_huge", "file_dirty": "dirty", "file_writeback": "writeback"}
V2_ORDER = ["anon", "file", "kernel", "kernel_stack", "pagetables", "sec_pagetables", "percpu",
            "sock", "vmalloc", "shmem", "zswap", "zswapped", "file_mapped", "file_dirty",
            "file_writeback", "swapcached", "anon_thp", "file_thp", "shmem_thp",
            "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable",
            "slab_reclaimable", "slab_unreclaimable", "slab", "pgfault", "pgmajfault"]


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _complete(fig):
    """Every v2 line from the few figures given: derived ones filled in consistently."""
    out = {k: 0 for k in V2_ORDER}
    out.update(fig)
    out["active_anon"] = out["anon"] // 2
    out["inactive_anon"] = out["anon"] - out["active_anon"]
    out["active_file"] = out["file"] // 3
    out["inactive_file"] = out["file"] - out["active_file"]
    out.setdefault("pgfault", 1000)
    return out


def write_cgroups(sys_root, layout, cgroups):
    """cgroups: {path: {"usage": bytes, v2 name: bytes, …}}, "/" included; a child's figures are
    part of its parent's (the caller sums them, as the kernel does). layout: "unified",
    "hybrid" or "legacy"."""
    base = os.path.join(sys_root, "fs", "cgroup")
    if layout == "unified":
        _write(os.path.join(base, "cgroup.controllers"), "cpuset cpu io memory pids\n")
        mem = base
    else:
        if layout == "hybrid":
            _write(os.path.join(base, "unified", "cgroup.controllers"), "")
        mem = os.path.join(base, "memory")
    for path, fig in cgroups.items():
        d = os.path.join(mem, path.lstrip("/"))
        os.makedirs(d, exist_ok=True)
        full = _complete({k: v for k, v in fig.items() if k != "usage"})
        if layout == "unified":
            _write(os.path.join(d, "memory.stat"),
                   "".join("%s %d\n" % (k, full[k]) for k in V2_ORDER))
            if path != "/":
                _write(os.path.join(d, "memory.current"), "%d\n" % fig["usage"])
        else:
            # The local counters are not what is compared; any value does.
            local = ["%s %d\n" % (V1_NAMES.get(k, k), full[k] // 2)
                     for k in ("file", "anon", "anon_thp", "shmem", "file_mapped",
                               "file_dirty", "file_writeback", "pgfault")]
            total = ["total_%s %d\n" % (V1_NAMES.get(k, k), full[k])
                     for k in ("file", "anon", "anon_thp", "shmem", "file_mapped",
                               "file_dirty", "file_writeback", "pgfault")]
            _write(os.path.join(d, "memory.stat"),
                   "".join(local) + "hierarchical_memory_limit 9223372036854771712\n"
                   + "".join(total))
            _write(os.path.join(d, "memory.usage_in_bytes"), "%d\n" % fig["usage"])


def write_thp(sys_root, sizes):
    """sizes: {size_kb: (enabled, {counter: value})}; an empty dict of counters writes no
    stats/ directory (kernels before 6.11)."""
    base = os.path.join(sys_root, "kernel", "mm", "transparent_hugepage")
    for size_kb, (enabled, counters) in sizes.items():
        d = os.path.join(base, "hugepages-%dkB" % size_kb)
        choices = ["always", "inherit", "madvise", "never"]
        _write(os.path.join(d, "enabled"),
               " ".join("[%s]" % c if c == enabled else c for c in choices) + "\n")
        for name, value in counters.items():
            _write(os.path.join(d, "stats", name), "%d\n" % value)


# A kernel change of the cgroups: kernel A (page_mapcount) on the hybrid layout, kernel B
# (no_page_mapcount) on the unified one, as hosts moving to a newer distribution do.
MiB = 1024 * 1024
CONTAINER = "0123456789abcdef" * 4
# THP counters of the 2 MiB size: nr_anon_partially_mapped is a level (folios now), the others
# count events (per second at RATE[mode] for anon_fault_alloc).
RATE = {"page": 10, "no_page": 40}


def figures(mode, i, rng):
    """The cgroups of sweep i: usage is charged memory, the same on both kernels; anon of
    thp-app counts 160 MiB more under NO."""
    j = lambda v: int(v * rng.uniform(0.995, 1.005))
    app = {"usage": j(900 * MiB), "anon": j((400 + (160 if mode == "no_page" else 0)) * MiB),
           "file": j(300 * MiB), "file_mapped": j(120 * MiB), "shmem": j(16 * MiB),
           "anon_thp": j(380 * MiB)}
    steady = {"usage": j(600 * MiB), "anon": j(350 * MiB), "file": j(200 * MiB),
              "file_mapped": j(90 * MiB), "shmem": j(8 * MiB), "anon_thp": 0}
    others = {"/system.slice/thp-app.service": app, "/system.slice/steady.service": steady}
    if mode == "page":
        others["/system.slice/legacy.service"] = {"usage": 50 * MiB, "anon": 30 * MiB,
                                                  "file": 10 * MiB}
    else:
        others["/system.slice/docker-%s.scope" % CONTAINER] = {"usage": 40 * MiB,
                                                               "anon": 20 * MiB,
                                                               "file": 10 * MiB}
    keys = ("usage", "anon", "file", "file_mapped", "shmem", "anon_thp")
    slice_ = {k: sum(c.get(k, 0) for c in others.values()) for k in keys}
    root = {k: slice_[k] + 100 * MiB for k in keys}
    return {"/": root, "/system.slice": slice_, **others}


class CgroupHistory(History):
    """The fixture history of history.py (processes and meminfo) with the cgroups and THP
    counters above, SWEEPS sweeps of each kernel stored with `mapstatd --once`. stored[mode]
    is the list of figures() written, one per sweep."""

    def __init__(self, seed=20261201):
        super().__init__(seed=seed)
        self.stored = {"page": [], "no_page": []}
        t = {"page": 0, "no_page": 0}
        for mode, kernel, layout in (("page", KERNEL_A, "hybrid"),
                                     ("no_page", KERNEL_B, "unified")):
            for i in range(SWEEPS):
                self.write(mode, kernel, i)
                sys_root = os.path.join(self.tree, "sys")
                cg = figures(mode, i, self.rng)
                write_cgroups(sys_root, layout, cg)
                t[mode] += 1
                write_thp(sys_root, {
                    2048: ("inherit" if mode == "page" else "always",
                           {"nr_anon": 200, "nr_anon_partially_mapped": 40 if mode == "page"
                            else 0, "anon_fault_alloc": 1000 + RATE[mode] * t[mode]}),
                    64: ("never", {"nr_anon": 0}),
                    # A size the kernel lists with no stats/ (before 6.11): no counters.
                    16: ("never", {}),
                })
                self.stored[mode].append(cg)
                r = run_once(["--db", self.db, *self.roots()])
                if r.returncode != 0:
                    raise AssertionError("mapstatd --once failed: %s" % r.stderr)
