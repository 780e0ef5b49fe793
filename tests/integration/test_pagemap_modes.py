"""The --pagemap modes against the real daemon: what each stores and serves, how the full mode
degrades without CAP_SYS_ADMIN, and how the per-process cap shows in /healthz."""
import subprocess
import unittest

from harness import Daemon, main, run_once


def by_pid(doc, pid):
    for p in doc["processes"]:
        if pid in p["pids"]:
            return p
    raise AssertionError("PID %d not in /processes" % pid)


class PagemapModesTest(unittest.TestCase):
    def test_off(self):
        with Daemon(["--interval", "1h", "--pagemap", "off"]) as d:
            d.wait_sweeps(1)
            _, doc = d.get("/processes?limit=10000")
            me = by_pid(doc, d.proc.pid)
            self.assertIsNone(me["pagemap"])
            self.assertIsNone(me["truth"])
            _, health = d.get("/healthz")
            self.assertEqual(health["pagemap"]["mode"], "off")

    def test_exclusivity_is_the_default(self):
        with Daemon(["--interval", "1h"]) as d:
            d.wait_sweeps(1)
            _, doc = d.get("/processes?limit=10000")
            me = by_pid(doc, d.proc.pid)
            pm = me["pagemap"]
            self.assertEqual(set(pm), {"anon", "file", "shared_file", "shmem", "hugetlb"})
            for cls in pm.values():
                self.assertEqual(set(cls), {"present_pages", "swapped_pages", "exclusive_pages"})
                self.assertLessEqual(cls["exclusive_pages"], cls["present_pages"])
            # The daemon's own heap and stack are private anonymous and written: present, and
            # mapped by it alone, so exclusive.
            self.assertGreater(pm["anon"]["present_pages"], 0)
            self.assertGreater(pm["anon"]["exclusive_pages"], 0)
            # Its binary and libraries are private file mappings.
            self.assertGreater(pm["file"]["present_pages"], 0)
            # Every resident page is present in pagemap; pagemap also shows mappings of the shared
            # zero page, which Rss leaves out (a sanitizer build reads untouched shadow), so
            # present pages may exceed Rss but never fall short of it. The daemon's own memory
            # moves a little during its sweep: 64 kB of slack.
            total = sum(c["present_pages"] for k, c in pm.items() if k != "hugetlb")
            self.assertGreaterEqual(total * 4 + 64, me["smaps_rollup"]["Rss"])
            self.assertIsNone(me["truth"])
            _, health = d.get("/healthz")
            self.assertEqual(health["pagemap"]["mode"], "exclusivity")
            # Other processes here may map more than the default cap (sanitizer shadows do).
            self.assertLess(health["pagemap"]["processes_cut_short"],
                            health["last_sweep"]["processes_sampled"])
            self.assertFalse(health["pagemap"]["budget_exhausted"])

    def test_full_without_cap_sys_admin(self):
        # PFNs read as 0 without CAP_SYS_ADMIN: the sweep keeps the kernel's figures and the
        # pagemap counts, has no reconstruction, and says why, once.
        r = subprocess.run(["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin",
                            "true"], capture_output=True)
        if r.returncode != 0:
            self.skipTest("setpriv cannot drop CAP_SYS_ADMIN here")
        with Daemon(["--interval", "200ms", "--pagemap", "full"],
                    wrapper=["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin"]) as d:
            d.wait_sweeps(3)
            _, health = d.get("/healthz")
            self.assertEqual(health["pagemap"]["mode"], "full")
            self.assertIn("CAP_SYS_ADMIN", health["pagemap"]["reconstruction"])
            _, doc = d.get("/processes?limit=10000")
            me = by_pid(doc, d.proc.pid)
            self.assertIsNotNone(me["pagemap"])
            self.assertIsNone(me["truth"])
            self.assertEqual(d.stop(), 0)
            log = d.log()
        self.assertEqual(log.count("No reconstruction"), 1, log)

    def test_per_process_cap(self):
        # 1 MiB of populated address space per process is less than any process maps: every
        # scan is cut short, and partial figures must never pass for complete ones.
        with Daemon(["--interval", "1h", "--pagemap", "full", "--pagemap-max-scan", "1M"]) as d:
            d.wait_sweeps(1)
            _, health = d.get("/healthz")
            self.assertGreater(health["pagemap"]["processes_cut_short"], 0)
            self.assertFalse(health["pagemap"]["budget_exhausted"])
            _, doc = d.get("/processes?limit=10000")
            me = by_pid(doc, d.proc.pid)
            self.assertIsNone(me["pagemap"])
            self.assertIsNone(me["truth"])
            self.assertIsNone(me["forecast"])

    def test_bad_values(self):
        for args, needle in ((["--pagemap", "some"], "--pagemap"),
                             (["--pagemap-max-scan", "12Q"], "--pagemap-max-scan"),
                             (["--pagemap-budget", "0"], "--pagemap-budget")):
            with self.subTest(args=args):
                r = run_once(["--db", "/nonexistent/x.db", *args])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(needle, r.stderr)


if __name__ == "__main__":
    main()
