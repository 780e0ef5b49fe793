"""mapstatctl fleet compare on a fixture fleet (fleet_fixture.py): 24 hosts made with the real
daemon and exported with the real mapstatctl, 14 that change kernel (A → B), 7 that reboot onto
A (the control group), 3 with one epoch only; plus snapshots that must be skipped with a clear
reason (malformed, truncated, a second snapshot of one machine, a newer version, not a
snapshot). The comparison must flag exactly the identities the kernel moved, with the right
classification, and list apart the fleet-wide workload change; every exported snapshot must be
valid against docs/snapshot.schema.json."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from fleet_fixture import CTL, RELEASE_A, RELEASE_B, load, make_fleet
from harness import main
from test_ctl import validate_snapshot

ROLES = ["treated"] * 14 + ["control"] * 7 + ["single"] * 3


def fleet(*args):
    return subprocess.run([CTL, "fleet", "compare", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mapstatd-fleet-")
        cls.snapshots, cls.hosts = make_fleet(cls.tmp, ROLES)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def compare_json(self, *args):
        r = subprocess.run([CTL, "--format", "json", "fleet", "compare", *args],
                           capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        return r, (json.loads(r.stdout) if r.stdout else None)

    def test_snapshots_are_valid(self):
        for name in sorted(os.listdir(self.snapshots)):
            with self.subTest(snapshot=name):
                doc = load(os.path.join(self.snapshots, name))
                validate_snapshot(doc)
                self.assertEqual(doc["host"]["hostname"], name[:-5])

    def test_flags_exactly_the_kernel_shifts(self):
        r, doc = self.compare_json(self.snapshots)
        self.assertEqual(r.returncode, 1, r.stderr)                 # flagged, nothing skipped
        self.assertEqual(r.stderr, "")
        self.assertEqual((doc["baseline"]["release"], doc["candidate"]["release"]),
                         (RELEASE_A, RELEASE_B))
        self.assertEqual(doc["hosts"], {"read": 24, "skipped": 0, "changed_kernel": 14,
                                        "control": 7, "unpaired": 3})
        flagged = {i["comm"]: i for i in doc["flagged"]}
        self.assertEqual(set(flagged), {"shmsrv", "grower"})
        # shmsrv: W8, accounting only, on every host that changed kernel.
        s = flagged["shmsrv"]
        self.assertEqual(s["hosts"], {"treated": 14, "control": 7})
        self.assertEqual(s["classified"], {"accounting": 14, "behavior": 0, "mixed": 0,
                                           "unknown": 0})
        shared = s["figures"]["Shared"]
        self.assertTrue(shared["flagged"])
        # Per host, Shared goes 50 → 100 MiB of Rss = 100 MiB + private anon: about +46
        # points; the interval holds the estimate and excludes 0.
        self.assertAlmostEqual(shared["shift_points"], 46, delta=1.5)
        self.assertAlmostEqual(shared["shift_kb"], 50 * 1024, delta=1)
        self.assertTrue(0 < shared["low_points"] <= shared["shift_points"] <=
                        shared["high_points"])
        self.assertTrue(s["figures"]["Exclusive_Shmem"]["flagged"])
        # grower: a real change (its child shares 12000 pages): behavior everywhere.
        g = flagged["grower"]
        self.assertEqual(g["classified"]["behavior"], 14)
        self.assertEqual(g["classified"]["accounting"], 0)
        self.assertAlmostEqual(g["figures"]["Shared"]["shift_kb"], 48000, delta=1)
        # cache moved on every host, kernel or not: difference in differences ~0, listed apart.
        both = {i["comm"]: i for i in doc["changed_in_both"]}
        self.assertEqual(set(both), {"cache"})
        c = both["cache"]["figures"]["Shared"]
        self.assertFalse(c["flagged"])
        self.assertTrue(c["control_moved"])
        self.assertAlmostEqual(c["treated"]["median_points"], 20, delta=0.5)
        self.assertAlmostEqual(c["control"]["median_points"], 20, delta=0.5)
        self.assertLess(abs(c["shift_points"]), 0.5)

    def test_table(self):
        r = fleet(self.snapshots)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Hosts      24 read (0 skipped): 14 changed kernel, 7 control, 3 neither",
                      r.stdout)
        self.assertRegex(r.stdout, r"shmsrv +Shared +14/7 +\+4\d\.\d pt .* 14 acc\n")
        self.assertRegex(r.stdout, r"grower +Shared +14/7 .* 14 beh\n")
        self.assertRegex(r.stdout, r"cache +Shared +14/7 +\+20\.0 pt")
        self.assertNotIn("noisy", r.stdout)
        self.assertNotIn("stable", r.stdout)
        for line in r.stdout.splitlines():
            self.assertLessEqual(len(line), 80, line)

    def test_releases_and_min_hosts(self):
        r, doc = self.compare_json("--baseline", RELEASE_A, "--candidate", RELEASE_B,
                                   self.snapshots)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual({i["comm"] for i in doc["flagged"]}, {"shmsrv", "grower"})
        # More hosts asked for than changed kernel: nothing is flagged.
        r, doc = self.compare_json("--min-hosts", "15", self.snapshots)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(doc["flagged"], [])
        r = fleet("--baseline", RELEASE_B, "--candidate", RELEASE_A, self.snapshots)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no host went from %s to %s" % (RELEASE_B, RELEASE_A), r.stderr)

    def test_bad_snapshots_are_skipped(self):
        with tempfile.TemporaryDirectory() as tmp:
            files = [os.path.join(self.snapshots, n) for n in sorted(os.listdir(self.snapshots))]
            first = load(files[0])
            bad = {
                "garbage.json": "{not json",
                "truncated.json": open(files[1]).read()[:500],
                "duplicate.json": json.dumps(first),
                "future.json": json.dumps(dict(first, version=2)),
                "other.json": json.dumps({"format": "something-else"}),
            }
            for name, text in bad.items():
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text)
            # A FIFO nobody writes: refused at once, not waited on.
            os.mkfifo(os.path.join(tmp, "fifo.json"))
            bad["fifo.json"] = None
            r, doc = self.compare_json(*files, *[os.path.join(tmp, n) for n in sorted(bad)])
            self.assertEqual(r.returncode, 4, r.stderr)          # flagged, and some skipped
            self.assertEqual(doc["hosts"]["read"], 24)
            self.assertEqual(doc["hosts"]["skipped"], 6)
            reasons = {os.path.basename(s["file"]): s["error"] for s in doc["skipped"]}
            self.assertIn("not a JSON document", reasons["garbage.json"])
            self.assertIn("not a JSON document", reasons["truncated.json"])
            self.assertIn("was read already", reasons["duplicate.json"])
            self.assertIn("version newer", reasons["future.json"].replace("snapshot ", ""))
            self.assertIn("not a mapstatd snapshot", reasons["other.json"])
            self.assertIn("not a regular file", reasons["fifo.json"])
            for name in bad:
                self.assertIn("skipping '%s'" % os.path.join(tmp, name), r.stderr)
            # The comparison itself is the same.
            self.assertEqual({i["comm"] for i in doc["flagged"]}, {"shmsrv", "grower"})
            # Nothing usable at all.
            r = fleet(os.path.join(tmp, "garbage.json"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("no usable snapshot", r.stderr)
            # Only one kernel anywhere.
            r = fleet(*[files[i] for i, role in enumerate(ROLES) if role != "treated"])
            self.assertEqual(r.returncode, 2)
            self.assertIn("no host ran two kernels", r.stderr)


if __name__ == "__main__":
    main()
