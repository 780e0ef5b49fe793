"""The stall budget on the real /proc: with StallBudget= small enough, helpers whose largest
mapping is larger are read through pagemap, kpagecount and kpageflags instead of smaps_rollup,
and the figures derived for them equal their smaps_rollup read at the same moment, field by
field, for every field derived; the fields not derived are absent, not zero. Needs root (PFNs
and the kpage files)."""
import json
import os

from harness import main, run_once
from test_real_proc import HelperCase

# 1 ms at 80 ns a page: a mapping of more than 12,500 pages (49 MiB) is read through pagemap.
BUDGET = "1ms"
# What pagemap-rollup.h derives; the rest (Referenced, LazyFree, SwapPss, Locked, *_Hugetlb)
# is absent.
DERIVED = ("Rss", "Pss", "Pss_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem", "Shared_Clean",
           "Shared_Dirty", "Private_Clean", "Private_Dirty", "Anonymous", "KSM",
           "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Swap")
NOT_DERIVED = ("Referenced", "LazyFree", "SwapPss", "Locked", "Shared_Hugetlb",
               "Private_Hugetlb")


class StallBudgetTest(HelperCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("PFNs and /proc/kpagecount need root")
        super().setUp()

    def test_derived_equals_live(self):
        # 80 MiB copy-on-write shared with a child, and a MAP_SHARED tmpfs file (shmem);
        # 64 MiB alone; 4 MiB, under the budget: read through smaps_rollup.
        cow = self.spawn("--anon", "81920", "--file", os.path.join(self.tmp, "shm") + ":8192",
                         "--fork")
        alone = self.spawn("--anon", "65536")
        small = self.spawn("--anon", "4096")
        def health_and_metrics(d):
            status, health = d.get("/healthz")
            self.assertEqual(status, 200)
            status, _, metrics = d.request("/metrics", raw=True)
            return health, metrics

        groups, after, (health, metrics) = self.read_settled(["--stall-budget", BUDGET],
                                                             health_and_metrics)
        stored = {}
        for tag, g in groups.items():
            self.assertEqual(len(g), 1, g)
            stored[tag] = g[0]["smaps_rollup"]

        # Parent and child, and the one alone; the small one and the machine's other
        # processes are under the budget.
        self.assertGreaterEqual(health["last_sweep"]["processes_read_through_pagemap"], 3)
        self.assertIn(b"mapstatd_processes_read_through_pagemap_total ", metrics)

        for h in (cow, alone):
            with self.subTest(helper=h.tag):
                live = after[h.tag]
                for field in DERIVED:
                    if field in live:
                        self.assertEqual(stored[h.tag].get(field), live[field], field)
                for field in NOT_DERIVED:
                    self.assertIsNone(stored[h.tag].get(field), field)
        # Under the budget: every field the kernel printed, Referenced included.
        self.assertEqual(stored[small.tag], after[small.tag])

        # From first principles: the copy-on-write pages are Shared and charged half.
        c = stored[cow.tag]
        self.assertGreaterEqual(c["Shared_Dirty"], 2 * 81920)
        self.assertGreaterEqual(c["Pss_Anon"], 81920)
        self.assertLess(c["Pss_Anon"], 81920 + 4096)
        self.assertGreaterEqual(c["Pss_Shmem"], 8192)
        a = stored[alone.tag]
        self.assertGreaterEqual(a["Private_Dirty"], 65536)

    def test_budget_off(self):
        self.spawn("--anon", "65536")
        db = os.path.join(self.tmp, "off.db")
        for budget, derived in (("0", 0), (BUDGET, 1)):
            out = run_once(["--db", db, "--stall-budget", budget])
            self.assertEqual(out.returncode, 0, out.stderr)
            summary = json.loads(out.stdout)
            if derived:
                self.assertGreaterEqual(summary["processes_read_through_pagemap"], derived)
            else:
                self.assertEqual(summary["processes_read_through_pagemap"], 0)

    def test_bad_values(self):
        for value in ("500us", "2min", "-1ms", "soon"):
            out = run_once(["--db", os.path.join(self.tmp, "bad.db"), "--stall-budget", value])
            self.assertEqual(out.returncode, 2, (value, out.stderr))
            self.assertIn("stall-budget", out.stderr)


if __name__ == "__main__":
    main()
