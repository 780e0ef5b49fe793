"""A kernel change on fixture trees: kernel A (page_mapcount) is swept several times with
normal noise, then kernel B (no_page_mapcount), where some processes' figures move exactly as
docs/kernel-semantics.md §8 describes (W5, W6, W8) and others only fluctuate. /report must flag
exactly the ones that moved, with the right before/after figures."""
import os
import random
import shutil
import statistics
import tempfile
import unittest

from fixture_tree import Kernel, write_tree
from harness import Daemon, main, run_once

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


class KernelChangeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-kc-")
        self.db = os.path.join(self.tmp, "mapstatd.db")
        self.tree = os.path.join(self.tmp, "tree")
        self.rng = random.Random(20261121)
        self.history = {"page": [], "no_page": []}
        self.meminfo = {"page": [], "no_page": []}

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def roots(self):
        return ["--proc-root", os.path.join(self.tree, "proc"), "--sys-root",
                os.path.join(self.tree, "sys"), "--boot-root", os.path.join(self.tree, "boot")]

    def sweep(self, mode, kernel, i):
        procs = processes(mode, i, self.rng, 1000 if mode == "page" else 30000)
        mem = meminfo(mode, self.rng)
        write_tree(self.tree, kernel, mem, procs)
        self.history[mode].append(procs)
        self.meminfo[mode].append(mem)
        r = run_once(["--db", self.db, *self.roots()])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def expected(self, exe, metric):
        def value(s):
            if metric == "Shared":
                return s["Shared_Clean"] + s["Shared_Dirty"]
            if metric == "Private":
                return s["Private_Clean"] + s["Private_Dirty"]
            return s[metric]
        before = statistics.median(value(sum_by(p, exe)) for p in self.history["page"])
        after = statistics.median(value(sum_by(p, exe)) for p in self.history["no_page"])
        return before, after

    def test_report_flags_exactly_the_moved(self):
        for i in range(SWEEPS):
            self.sweep("page", KERNEL_A, i)
        for i in range(SWEEPS):
            self.sweep("no_page", KERNEL_B, i)
        # The daemon's own first sweep reads the last B tree once more.
        self.history["no_page"].append(self.history["no_page"][-1])
        self.meminfo["no_page"].append(self.meminfo["no_page"][-1])

        with Daemon(["--interval", "1h", *self.roots()], db=self.db) as d:
            d.wait_sweeps(1)
            status, rep = d.get("/report")
            self.assertEqual(status, 200, rep)
            _, health = d.get("/healthz")
            _, epochs = d.get("/epochs")

        self.assertEqual(health["last_sweep"]["skipped"]["malformed"], 1)
        self.assertEqual(health["last_sweep"]["kernel_threads"], 1)
        self.assertEqual(health["last_sweep"]["processes_sampled"], 8)

        self.assertEqual([e["mapcount_mode"] for e in epochs["epochs"]],
                         ["page_mapcount", "no_page_mapcount"])
        self.assertEqual(rep["baseline"]["release"], KERNEL_A.release)
        self.assertEqual(rep["baseline"]["mapcount_mode"], "page_mapcount")
        self.assertEqual(rep["baseline"]["sweeps"], SWEEPS)
        self.assertEqual(rep["candidate"]["release"], KERNEL_B.release)
        self.assertEqual(rep["candidate"]["mapcount_mode"], "no_page_mapcount")
        self.assertEqual(rep["candidate"]["sweeps"], SWEEPS + 1)

        flagged = {e["identity"]["exe"]: e for e in rep["flagged"]}
        self.assertEqual(set(flagged), {"/usr/sbin/shmsrv", "/usr/bin/dualmap",
                                        "/usr/bin/thp-cache"}, rep["flagged"])
        self.assertEqual([i["exe"] for i in rep["appeared"]], ["/usr/bin/new-agent"])
        self.assertEqual([i["exe"] for i in rep["disappeared"]], ["/usr/bin/legacy-agent"])
        # shmcli, stable, noisy and thp-cache's siblings: compared, not flagged.
        self.assertEqual(rep["compared"], 6)

        moved = {
            "/usr/sbin/shmsrv": {"Shared", "Private", "Pss", "Pss_Shmem"},
            "/usr/bin/dualmap": {"Shared", "Private"},
            "/usr/bin/thp-cache": {"Pss", "Pss_Anon"},
        }
        for exe, metrics in moved.items():
            entry = flagged[exe]
            with self.subTest(exe=exe):
                got = {m for m, v in entry["metrics"].items() if v["flagged"]}
                self.assertEqual(got, metrics)
                self.assertEqual(len(entry["reasons"]), len(metrics))
                self.assertEqual(entry["samples"], {"baseline": SWEEPS, "candidate": SWEEPS + 1})
                for m, v in entry["metrics"].items():
                    before, after = self.expected(exe, m)
                    self.assertAlmostEqual(v["before_kb"], before, delta=0.51, msg=m)
                    self.assertAlmostEqual(v["after_kb"], after, delta=0.51, msg=m)
                    self.assertAlmostEqual(v["delta_kb"], after - before, delta=1.01, msg=m)
        self.assertEqual(flagged["/usr/bin/thp-cache"]["processes"],
                         {"baseline": 2, "candidate": 2})
        # W6 from first principles: Shared 204800 kB → 0, Private 0 → 204800 kB (±0.4% noise).
        dm = flagged["/usr/bin/dualmap"]["metrics"]
        self.assertAlmostEqual(dm["Shared"]["before_ratio"], 1.0, delta=0.01)
        self.assertAlmostEqual(dm["Private"]["after_ratio"], 1.0, delta=0.01)
        self.assertAlmostEqual(dm["Shared"]["delta_points"], -100, delta=1)

        system = rep["system"]
        self.assertIn("AnonPages", system["flagged"])
        for field in ("Mapped", "Shmem", "MemFree"):
            self.assertIn(field, system["fields"])
            self.assertNotIn(field, system["flagged"])
        anon = system["fields"]["AnonPages"]
        before = statistics.median(m["AnonPages"] for m in self.meminfo["page"])
        after = statistics.median(m["AnonPages"] for m in self.meminfo["no_page"])
        self.assertAlmostEqual(anon["before_kb"], before, delta=0.51)
        self.assertAlmostEqual(anon["after_kb"], after, delta=0.51)

    def test_unreadable_kernel_identity_is_not_a_storage_failure(self):
        # A tree whose osrelease disappears: the sweep fails for that reason (once in the log,
        # /healthz degraded with sweep_error), the database is not blamed, and it recovers.
        self.sweep("page", KERNEL_A, 0)
        osrelease = os.path.join(self.tree, "proc", "sys", "kernel", "osrelease")
        with Daemon(["--interval", "200ms", *self.roots()], db=self.db) as d:
            d.wait_sweeps(1)
            os.rename(osrelease, osrelease + ".gone")
            for _ in range(3):
                d.wait_for("STATUS=Sweep failed: cannot read the kernel identity")
            status, health = d.get("/healthz")
            self.assertEqual(status, 503)
            self.assertEqual(health["status"], "degraded")
            self.assertIsNone(health["storage_error"])
            self.assertIn("kernel identity", health["sweep_error"])
            os.rename(osrelease + ".gone", osrelease)
            d.wait_for("last sweep")
            status, health = d.get("/healthz")
            self.assertEqual((status, health["status"], health["sweep_error"]), (200, "ok", None))
            self.assertEqual(d.stop(), 0)
            log = d.log()
        self.assertEqual(log.count("cannot read the kernel identity"), 1, log)
        self.assertNotIn("Failed to record sweep", log)
        self.assertEqual(log.count("work again"), 1, log)

    def test_thresholds_from_query(self):
        for i in range(2):
            self.sweep("page", KERNEL_A, i)
        for i in range(2):
            self.sweep("no_page", KERNEL_B, i)
        with Daemon(["--interval", "1h", *self.roots()], db=self.db) as d:
            d.wait_sweeps(1)
            # A huge kB floor suppresses everything; explicit epochs are honoured.
            status, rep = d.get("/report?min_delta_kb=100000000&baseline=1&candidate=2")
            self.assertEqual(status, 200, rep)
            self.assertEqual(rep["flagged"], [])
            self.assertEqual(rep["thresholds"]["min_delta_kb"], 100000000)
            status, rep = d.get("/report?baseline=2&candidate=1")
            self.assertEqual(status, 200)
            self.assertEqual(rep["baseline"]["epoch"], 2)
            status, rep = d.get("/report?baseline=2&candidate=2")
            self.assertEqual(status, 400)


if __name__ == "__main__":
    main()
