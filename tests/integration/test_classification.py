"""Classification of a kernel change with `--pagemap full` on fixture trees: kernel A
(page_mapcount) is swept several times, then kernel B (no_page_mapcount). Every process has
maps, a sparse pagemap and smaps_rollup that agree with each other, and the tree has sparse
kpageflags/kpagecount, so the daemon reconstructs the config-independent truth and the
NO_PAGE_MAPCOUNT forecast (docs/kernel-semantics.md §7) in every sweep.

* shmsrv/shmcli are workload W8 (§8): nothing changes in memory, only the accounting of the
  partially shared shmem THPs. shmsrv must be flagged as "accounting", and the forecast taken
  on kernel A must match what kernel B reports.
* grower really changes: on kernel B a forked child shares 12000 of its small anon pages. It
  must be flagged as "behavior" (the truth moved too).

Every expected figure below is worked out by hand from docs/kernel-semantics.md, in the comments;
none is taken from the daemon's output. P = 4 kB (4096-byte pages), N = 512 pages per 2 MiB
folio."""
import unittest

from harness import Daemon, main
from history_full import (FOLIOS, HALF, METRICS, NOISE, P, SWEEPS, FullHistory, child, cli,
                          grower, metric, srv)


class ClassificationTest(unittest.TestCase):
    def setUp(self):
        self.h = FullHistory()

    def tearDown(self):
        self.h.close()

    def test_accounting_and_behavior(self):
        self.h.kernel_change()
        # The daemon's own first sweep reads the last B tree once more.
        self.h.sizes["no_page"].append(self.h.sizes["no_page"][-1])
        a_last, b_last, c_last = self.h.sizes["no_page"][-1]

        with Daemon(["--interval", "1h", "--pagemap", "full", *self.h.roots()],
                    db=self.h.db) as d:
            d.wait_sweeps(1)
            _, health = d.get("/healthz")
            status, rep = d.get("/report")
            self.assertEqual(status, 200, rep)
            status, fc1 = d.get("/forecast?epoch=1")
            self.assertEqual(status, 200, fc1)
            status, fc2 = d.get("/forecast")
            self.assertEqual(status, 200, fc2)
            status, procs = d.get("/processes?limit=100")
            self.assertEqual(status, 200, procs)
            self.assertEqual(d.stop(), 0)

        self.assertEqual(health["pagemap"]["mode"], "full")
        self.assertIsNone(health["pagemap"]["reconstruction"], health)
        self.assertEqual(health["pagemap"]["processes_without_pagemap"], 0)
        self.assertEqual(health["last_sweep"]["processes_sampled"], 4)

        # ---- /report ----
        self.assertEqual(rep["baseline"]["mapcount_mode"], "page_mapcount")
        self.assertEqual(rep["candidate"]["mapcount_mode"], "no_page_mapcount")
        self.assertEqual(rep["candidate"]["sweeps"], SWEEPS + 1)
        self.assertEqual(rep["compared"], 3)        # shmsrv, shmcli, grower
        self.assertEqual([i["comm"] for i in rep["appeared"]], ["grower-child"])
        self.assertEqual(rep["disappeared"], [])
        flagged = {e["identity"]["comm"]: e for e in rep["flagged"]}
        # shmcli's figures are the same on both kernels (W8 "B same"): not flagged.
        self.assertEqual(set(flagged), {"shmsrv", "grower"}, rep["flagged"])
        # Every shmem folio stays fully mapped by shmsrv: Mapped is the same (§5); AnonPages
        # grows by the child's 256 pages only (1024 kB of 8 GiB, far below 1 point).
        self.assertEqual(rep["system"]["flagged"], [])

        # shmsrv: W8. Shared 51200 → 102400, Private 51200 + 4a → 4a, Pss and Pss_Shmem
        # 76800 → 51200 (in kB); Exclusive_Shmem 12800/25600 pages → 0. Nothing in memory
        # moved: the truth is the PAGE figures in both epochs → "accounting".
        e = flagged["shmsrv"]
        got = {m for m, v in e["metrics"].items() if v["flagged"]}
        self.assertEqual(got, {"Shared", "Private", "Pss", "Pss_Shmem", "Exclusive_Shmem"})
        self.assertEqual(e["kind"], "accounting")
        for m in METRICS:
            before = self.h.median("page", lambda a, b, c: metric(srv("page", a)[0], m))
            after = self.h.median("no_page", lambda a, b, c: metric(srv("no_page", a)[0], m))
            with self.subTest(identity="shmsrv", metric=m):
                self.assertAlmostEqual(e["metrics"][m]["before_kb"], before, delta=0.51)
                self.assertAlmostEqual(e["metrics"][m]["after_kb"], after, delta=0.51)
        excl = e["metrics"]["Exclusive_Shmem"]
        self.assertAlmostEqual(excl["before_ratio"], 0.5, delta=1e-4)    # 256 of 512
        self.assertAlmostEqual(excl["after_ratio"], 0.0, delta=1e-4)
        self.assertFalse(e["metrics"]["Exclusive_Anon"]["flagged"])      # 1.0 on both
        for m in ("Shared", "Private", "Pss"):
            tb = self.h.median("page", lambda a, b, c: srv("page", a)[1][m])
            ta = self.h.median("no_page", lambda a, b, c: srv("no_page", a)[1][m])
            with self.subTest(identity="shmsrv", truth=m):
                self.assertFalse(e["truth"][m]["flagged"])
                self.assertAlmostEqual(e["truth"][m]["before_kb"], tb, delta=0.51)
                self.assertAlmostEqual(e["truth"][m]["after_kb"], ta, delta=0.51)
                self.assertLess(abs(ta - tb), P * NOISE)    # noise only
        # The baseline's forecast (NO rules on kernel A's kpagecount) against what kernel B
        # reports: equal but for the anon noise, i.e. |error| < 16 pages = 64 kB.
        for m in METRICS:
            fb = self.h.median("page", lambda a, b, c: srv("page", a)[2][m])
            actual = self.h.median("no_page", lambda a, b, c: metric(srv("no_page", a)[0], m))
            with self.subTest(identity="shmsrv", forecast=m):
                f = e["forecast"][m]
                self.assertAlmostEqual(f["forecast_kb"], fb, delta=0.51)
                self.assertAlmostEqual(f["actual_kb"], actual, delta=0.51)
                self.assertAlmostEqual(f["error_kb"], actual - fb, delta=1.01)
                self.assertLess(abs(f["error_kb"]), P * NOISE)

        # grower: 12000 pages became shared with a child. Shared 0 → 48000, Private 4c →
        # 4c − 48000, Pss/Pss_Anon 4c → 4c − 24000, Exclusive_Anon 1 → (c − 12000)/c ≈ 0.4;
        # the truth moves the same way → "behavior".
        e = flagged["grower"]
        got = {m for m, v in e["metrics"].items() if v["flagged"]}
        self.assertEqual(got, {"Shared", "Private", "Pss", "Pss_Anon", "Exclusive_Anon"})
        self.assertEqual(e["kind"], "behavior")
        for m in ("Shared", "Private", "Pss"):
            tb = self.h.median("page", lambda a, b, c: grower("page", c)[1][m])
            ta = self.h.median("no_page", lambda a, b, c: grower("no_page", c)[1][m])
            with self.subTest(identity="grower", truth=m):
                self.assertTrue(e["truth"][m]["flagged"])
                self.assertAlmostEqual(e["truth"][m]["before_kb"], tb, delta=0.51)
                self.assertAlmostEqual(e["truth"][m]["after_kb"], ta, delta=0.51)
        self.assertAlmostEqual(e["truth"]["Shared"]["after_kb"], 48000, delta=0.51)
        # The forecast cannot foresee a fork: for small folios it is the PAGE figure, so its
        # error is the real change (Shared: 48000 − 0).
        self.assertAlmostEqual(e["forecast"]["Shared"]["forecast_kb"], 0, delta=0.51)
        self.assertAlmostEqual(e["forecast"]["Shared"]["error_kb"], 48000, delta=0.51)

        # ---- /forecast on epoch 1 (page_mapcount) ----
        self.assertTrue(fc1["available"], fc1)
        self.assertEqual(fc1["epoch"]["mapcount_mode"], "page_mapcount")
        self.assertEqual(fc1["compared"], 3)
        # Only shmsrv would move: shmcli's NO figures equal its PAGE figures, and grower has no
        # large folio (forecast = today).
        self.assertEqual([i["identity"]["comm"] for i in fc1["identities"]], ["shmsrv"])
        f = fc1["identities"][0]
        self.assertEqual(f["samples"], SWEEPS)
        today = {m: self.h.median("page", lambda a, b, c, m=m: metric(srv("page", a)[0], m))
                 for m in METRICS}
        fcast = {m: self.h.median("page", lambda a, b, c, m=m: srv("page", a)[2][m])
                 for m in METRICS}
        # Per folio: Shared 1024 → 2048, Private 1024 → 0, Pss/Pss_Shmem 1536 → 1024.
        self.assertEqual(fcast["Shared"] - today["Shared"], FOLIOS * 1024)
        self.assertEqual(fcast["Private"] - today["Private"], -FOLIOS * 1024)
        self.assertEqual(fcast["Pss"] - today["Pss"], -FOLIOS * 512)
        for m in today:
            with self.subTest(forecast_metric=m):
                got = f["metrics"][m]
                self.assertAlmostEqual(got["today_kb"], today[m], delta=0.51)
                self.assertAlmostEqual(got["forecast_kb"], fcast[m], delta=0.51)
                self.assertEqual(got["flagged"], m in ("Shared", "Private", "Pss", "Pss_Shmem"))
        # Exclusive kB: today 12800 shmem + a anon pages, forecast a pages (two MMs map every
        # shmem folio).
        ex = f["metrics"]["Exclusive"]
        self.assertAlmostEqual(ex["today_kb"],
                               self.h.median("page", lambda a, b, c: P * (FOLIOS * HALF + a)),
                               delta=0.51)
        self.assertAlmostEqual(ex["forecast_kb"], self.h.median("page", lambda a, b, c: P * a),
                               delta=0.51)
        self.assertTrue(ex["flagged"])

        # ---- /forecast on epoch 2 (no_page_mapcount): nothing to forecast ----
        self.assertEqual(fc2["epoch"]["mapcount_mode"], "no_page_mapcount")
        self.assertFalse(fc2["available"])
        self.assertEqual(fc2["message"], "the forecast needs a page_mapcount kernel")
        self.assertEqual(fc2["identities"], [])

        # ---- /processes on the last kernel-B tree ----
        by = {p["identity"]["comm"]: p for p in procs["processes"]}
        self.assertEqual(set(by), {"shmsrv", "shmcli", "grower", "grower-child"})
        expected = {"shmsrv": srv("no_page", a_last), "shmcli": cli("no_page", b_last),
                    "grower": grower("no_page", c_last), "grower-child": child()}
        for comm, (reported, truth, _, pagemap) in expected.items():
            g = by[comm]
            with self.subTest(process=comm):
                for k, v in reported.items():
                    self.assertEqual(g["smaps_rollup"].get(k), v, k)
                # Every mapper of these trees is read: nothing unseen.
                self.assertEqual(g["truth"], {**truth, "unseen_pages": 0})
                # Kernel B is no_page_mapcount: its kpagecount already holds folio averages, so
                # there is no forecast to make (the daemon would compute one, meaningless).
                self.assertIsNone(g["forecast"])
                # shmcli maps half of each shmem folio, but they are not anon folios: 0.
                self.assertEqual(g["partially_mapped_folios"], 0)
                for cls in ("anon", "file", "shared_file", "shmem", "hugetlb"):
                    present, exclusive = pagemap.get(cls, (0, 0))
                    self.assertEqual(g["pagemap"][cls], {"present_pages": present,
                                                         "swapped_pages": 0,
                                                         "exclusive_pages": exclusive}, cls)
        self.assertEqual(by["shmsrv"]["pagemap"]["shmem"]["present_pages"], 25600)
        self.assertEqual(by["shmsrv"]["truth"]["Shared"], 51200)


if __name__ == "__main__":
    main()
