"""Memory cgroup hierarchies and THP statistics written into fixture trees (sys/fs/cgroup and
sys/kernel/mm/transparent_hugepage), in the files' real formats, for the three layouts
collectors/cgroup.h detects. Figures are given per cgroup in the v2 vocabulary (bytes); the v1
writer prints them under v1's names, the hierarchical ones as the total_* forms."""
import os

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
