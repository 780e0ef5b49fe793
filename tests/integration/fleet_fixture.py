"""Fixture fleets: dozens of hosts, each with its own fixture tree, database and snapshot, made
with the real `mapstatd --once --pagemap full` and `mapstatctl --db … export`.

Every host runs the `--pagemap full` scenario of history_full.py (shmsrv/shmcli: workload W8,
an accounting-only shift of partially shared shmem THPs; grower: a real change, a forked child
sharing its pages on the new kernel) with host-to-host noise (each host's private anon sizes
differ), plus three processes of plain smaps figures:

* cache: a fleet-wide workload change. On every host, whatever its kernel, its Shared share of
  Rss goes from 20% in the first epoch to 40% in the second: not the kernel's doing.
* noisy: fluctuates everywhere (Rss ±10%, Shared 27–33% of it, every sweep).
* stable: the same everywhere.

Roles: "treated" hosts go from kernel A (6.18, page_mapcount) to kernel B (6.19,
no_page_mapcount); "control" hosts reboot onto kernel A again; "single" hosts have one epoch
only (nothing to compare)."""
import json
import os
import random
import subprocess

from fixture_tree import Kernel, write_tree
from harness import BIN, run_once
from history_full import CLI_ANON, GROWER, NOISE, SRV_ANON, build, meminfo

CTL = os.environ.get("MAPSTATCTL_BIN",
                     os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(BIN))), "cli",
                                  "mapstatctl"))
RELEASE_A = "6.18.0-fixture-page"
RELEASE_B = "6.19.0-fixture-nopage"
SWEEPS = 2


def figures(rss, shared):
    private = rss - shared
    return {"Rss": rss, "Pss": private + shared // 2, "Pss_Dirty": private,
            "Pss_Anon": private, "Pss_File": shared // 2, "Pss_Shmem": 0,
            "Shared_Clean": shared, "Shared_Dirty": 0, "Private_Clean": 0,
            "Private_Dirty": private, "Referenced": rss, "Anonymous": private, "KSM": 0,
            "LazyFree": 0, "AnonHugePages": 0, "ShmemPmdMapped": 0, "FilePmdMapped": 0,
            "Shared_Hugetlb": 0, "Private_Hugetlb": 0, "Swap": 0, "SwapPss": 0, "Locked": 0}


def extras(phase, host_rng, rng):
    """The plain processes of one sweep in phase 1 or 2."""
    cache_rss = int(102400 * host_rng)
    share = 0.20 if phase == 1 else 0.40
    noisy_rss = int(300000 * rng.uniform(0.9, 1.1))
    return [
        dict(comm="cache", exe="/usr/bin/cache", args=["--size", "100M"], unit="cache.service",
             smaps=figures(int(cache_rss * rng.uniform(0.999, 1.001)),
                           int(cache_rss * rng.uniform(share - 0.002, share + 0.002)))),
        dict(comm="noisy", exe="/usr/bin/noisy", args=[], unit="noisy.service",
             smaps=figures(noisy_rss, int(noisy_rss * rng.uniform(0.27, 0.33)))),
        dict(comm="stable", exe="/usr/bin/stable", args=["-q"], unit="stable.service",
             smaps=figures(50000, 15000)),
    ]


class FleetHost:
    def __init__(self, root, index, role, seed):
        self.index, self.role = index, role
        self.dir = os.path.join(root, "host-%02d" % index)
        self.db = os.path.join(self.dir, "mapstatd.db")
        self.tree = os.path.join(self.dir, "tree")
        self.rng = random.Random(seed * 1000 + index)
        self.hostname = "host-%02d" % index
        self.machine_id = "%032x" % (0xf1ee7 * 1000 + index)
        # Host-to-host variation: each host's private anon sizes.
        self.offsets = [self.rng.randrange(500) for _ in range(3)]
        self.scale = self.rng.uniform(0.9, 1.1)
        os.makedirs(self.dir)

    def kernel(self, release, mode, boot):
        return Kernel(release, "%08x-0000-4000-8000-%012x" % (self.index, boot), mode,
                      hostname=self.hostname, machine_id=self.machine_id)

    def sweep(self, kernel, mode, phase, i):
        a = SRV_ANON + self.offsets[0] + self.rng.randrange(NOISE)
        b = CLI_ANON + self.offsets[1] + self.rng.randrange(NOISE)
        c = GROWER + self.offsets[2] + self.rng.randrange(NOISE)
        procs, kpages = build(mode, a, b, c)
        procs += extras(phase, self.scale, self.rng)
        for k, p in enumerate(procs):
            p["pid"] = 1000 * phase + 20 * i + k + 10
            p["start"] = 5000 * phase + 100 * i + k
        write_tree(self.tree, kernel, meminfo(a, b, c, mode), procs, kpages=kpages)
        r = run_once(["--db", self.db, "--pagemap", "full", "--proc-root",
                      os.path.join(self.tree, "proc"), "--sys-root",
                      os.path.join(self.tree, "sys")])
        if r.returncode != 0:
            raise AssertionError("mapstatd --once failed on %s: %s" % (self.hostname, r.stderr))

    def run(self):
        first = self.kernel(RELEASE_A, "page", 1)
        for i in range(SWEEPS):
            self.sweep(first, "page", 1, i)
        if self.role == "treated":
            second, mode = self.kernel(RELEASE_B, "no_page", 2), "no_page"
        elif self.role == "control":
            second, mode = self.kernel(RELEASE_A, "page", 3), "page"
        else:
            return
        for i in range(SWEEPS):
            self.sweep(second, mode, 2, i)

    def export(self, path):
        r = subprocess.run([CTL, "--db", self.db, "export", "-o", path], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("mapstatctl export failed on %s: %s" % (self.hostname,
                                                                          r.stderr))
        return path


def make_fleet(root, roles, seed=20261201):
    """Runs every host and exports its snapshot into root/snapshots/; returns that directory
    and the hosts."""
    out = os.path.join(root, "snapshots")
    os.makedirs(out)
    hosts = []
    for index, role in enumerate(roles):
        h = FleetHost(root, index, role, seed)
        h.run()
        h.export(os.path.join(out, "%s.json" % h.hostname))
        hosts.append(h)
    return out, hosts


def load(path):
    with open(path) as f:
        return json.load(f)
