"""mapstatctl against a real daemon (--url) and its database file (--db), on the `--pagemap
full` kernel-change history: the same answers both ways, tables that fit 80 columns without
colour when not on a terminal, JSON output, exit codes for scripts, errors that say what went
wrong, and `export` writing the snapshot the daemon serves, valid against
docs/snapshot.schema.json."""
import json
import os
import re
import subprocess
import tempfile
import unittest

import jsonschema

from fleet_fixture import CTL
from harness import SOURCE_ROOT, main
from history_full import KERNEL_A, KERNEL_B, ServedKernelChange, srv

SCHEMA = os.path.join(SOURCE_ROOT, "docs", "snapshot.schema.json")


def ctl(*args, env=None):
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.update(env or {})
    return subprocess.run([CTL, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=e)


def validate_snapshot(doc):
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)


class CtlTest(ServedKernelChange, unittest.TestCase):

    def both(self, *args):
        """The command over HTTP and on the database; both results."""
        return ctl("--url", self.url, *args), ctl("--db", self.h.db, *args)

    def test_report(self):
        for r in self.both("report"):
            self.assertEqual(r.returncode, 1, r.stderr)        # something was flagged
            self.assertIn("Baseline   epoch 1, %s (page_mapcount)" % KERNEL_A.release, r.stdout)
            self.assertIn("Candidate  epoch 2, %s (no_page_mapcount)" % KERNEL_B.release,
                          r.stdout)
            self.assertIn("2 of 3 identities flagged", r.stdout)
            self.assertRegex(r.stdout, r"#\d+ shmsrv +Shared +50\.0 MiB +100\.0 MiB "
                                       r"+\+50\.0 MiB +accounting")
            self.assertRegex(r.stdout, r"#\d+ grower +Shared .* behavior")
            self.assertNotIn("\033[", r.stdout)                 # not a terminal: no colour
            for line in r.stdout.splitlines():
                self.assertLessEqual(len(line), 80, line)
        # Thresholds pass through; nothing flagged exits 0.
        for r in self.both("report", "--min-delta-kb", "1e12"):
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("0 of 3 identities flagged", r.stdout)

    def test_same_answers_both_ways(self):
        for args in (["report"], ["forecast", "--epoch", "1"], ["epochs"],
                     ["processes", "--sort", "rss"], ["show", "1"]):
            with self.subTest(args=args):
                http, db = self.both("--format", "json", *args)
                self.assertEqual(http.returncode, db.returncode, (http.stderr, db.stderr))
                a, b = json.loads(http.stdout), json.loads(db.stdout)
                if args[0] == "show":      # the range ends now, a moment apart
                    a.pop("to")
                    b.pop("to")
                self.assertEqual(a, b)

    def test_forecast(self):
        r = ctl("--url", self.url, "forecast", "--epoch", "1")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stdout, r"#\d+ shmsrv +Shared +50\.0 MiB +100\.0 MiB")
        r = ctl("--url", self.url, "forecast")               # epoch 2: no_page_mapcount
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the forecast needs a page_mapcount kernel", r.stdout)

    def test_status_epochs_processes_show(self):
        r = ctl("--url", self.url, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"status +ok")
        self.assertIn("2: %s (no_page_mapcount)" % KERNEL_B.release, r.stdout)
        r = ctl("--db", self.h.db, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("last sweep", r.stdout)       # a file has no daemon
        r = ctl("--url", self.url, "epochs")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^ 1  %s +page_mapcount +fixture +3 " % KERNEL_A.release)
        r = ctl("--url", self.url, "processes", "--sort", "rss", "--limit", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [l for l in r.stdout.splitlines() if re.match(r" *\d+  ", l)]
        self.assertEqual([row.split()[1] for row in rows], ["shmsrv", "grower"])
        self.assertIn("2 of 4 identities", r.stdout)
        a = self.h.sizes["no_page"][-1][0]
        rss = srv("no_page", a)[0]["Rss"] / 1024
        self.assertIn("%.1f MiB" % rss, rows[0])
        r = ctl("--url", self.url, "show", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("exe-args:/usr/sbin/shmsrv --segments #", r.stdout)
        self.assertEqual(len(re.findall(r"(?m)^ +[12]  ", r.stdout)), 2)

    def test_export(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "host.json")
            # Through a symlink planted at the output path: replaced, never followed; and
            # readable by its owner only.
            elsewhere = os.path.join(tmp, "elsewhere")
            os.symlink(elsewhere, out)
            r = ctl("--db", self.h.db, "export", "-o", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(os.path.lexists(elsewhere))
            self.assertFalse(os.path.islink(out))
            self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
            with open(out) as f:
                snap = json.load(f)
            validate_snapshot(snap)
            self.assertEqual(snap["host"], {"hostname": "fixture",
                                            "machine_id": KERNEL_A.machine_id})
            self.assertEqual([e["release"] for e in snap["epochs"]],
                             [KERNEL_A.release, KERNEL_B.release])
            # What the daemon serves, but for the time it was made.
            _, _, body = self.d.request("/snapshot", raw=True)
            served = json.loads(body)
            for doc in (served, snap):
                doc.pop("created")
            self.assertEqual(served, snap)
            # shmsrv's Shared on kernel A: the W8 figure, 50 folios × 1024 kB, every sweep.
            shmsrv = [i for i in snap["epochs"][0]["identities"] if i["comm"] == "shmsrv"][0]
            self.assertEqual(shmsrv["key"], "exe-args:/usr/sbin/shmsrv --segments #")
            self.assertEqual(shmsrv["samples"], 3)
            self.assertEqual(shmsrv["metrics"]["Shared"][0], 50 * 1024)
            self.assertIsNotNone(shmsrv["truth"])
            self.assertIsNotNone(shmsrv["forecast"])
            self.assertEqual(shmsrv["forecast"]["Shared"][0], 50 * 2048)
            self.assertIsNone([i for i in snap["epochs"][1]["identities"]
                               if i["comm"] == "shmsrv"][0]["forecast"])
            # One epoch; stdout.
            r = ctl("--url", self.url, "export", "--epoch", "2")
            self.assertEqual(r.returncode, 0, r.stderr)
            one = json.loads(r.stdout)
            validate_snapshot(one)
            self.assertEqual([e["release"] for e in one["epochs"]], [KERNEL_B.release])
            r = ctl("--url", self.url, "export", "--epoch", "9")
            self.assertEqual(r.returncode, 2)
            self.assertIn("unknown epoch 9", r.stderr)

    def test_errors(self):
        cases = [
            (["--url", "http://127.0.0.1:1", "status"], "cannot reach http://127.0.0.1:1"),
            (["--url", "ftp://x", "status"], "invalid URL"),
            (["--db", "/nonexistent/m.db", "report"], "cannot open database '/nonexistent/m.db'"),
            (["--url", self.url, "frobnicate"], "unknown command 'frobnicate'"),
            (["--url", self.url, "report", "--bogus"], "unknown option '--bogus'"),
            (["--url", self.url, "report", "--baseline", "x"], "invalid epoch 'x'"),
            (["--url", self.url, "report", "--baseline", "9"], "unknown epoch 9 (HTTP 400)"),
            (["--url", self.url, "show", "999"], "no identity 999 (HTTP 404)"),
            (["--url", self.url, "processes", "--sort", "size"], "'sort'"),
            (["--format", "yaml", "status"], "invalid value 'yaml' for --format"),
            (["--config", "/x.conf", "status"], "--config applies to --db only"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                r = ctl(*args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertTrue(r.stderr.startswith("mapstatctl"), r.stderr)

    def test_help_and_version(self):
        r = ctl("--help")
        self.assertEqual(r.returncode, 0)
        for name in ("status", "epochs", "report", "forecast", "processes", "show", "export",
                     "fleet"):
            self.assertRegex(r.stdout, r"(?m)^  %s " % name)
            sub = ctl(name, "--help") if name != "fleet" else ctl("fleet", "--help")
            self.assertEqual(sub.returncode, 0, sub.stderr)
            self.assertIn("Usage: mapstatctl [OPTIONS] %s" % name, sub.stdout)
        for line in r.stdout.splitlines():
            self.assertLessEqual(len(line), 80, line)
        r = ctl("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^mapstatctl \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    main()
