"""The shipped Prometheus rules (prometheus/mapstatd.rules.yml): `promtool check rules`, their
promtool unit tests (a shifted and an unshifted workload on synthetic series), that those tests
catch a broken rule, where they are installed, and end to end: a real Prometheus scrapes two
real daemons serving two fixture hosts, one on kernel A (page_mapcount), one on kernel B
(no_page_mapcount), evaluates the rules, and the alerts fire for the shifted workload only.

The hosts run workload W8 of history_full.py: shmsrv's partially shared shmem THPs are half
private on A and all shared on B (its Shared/Rss and the exclusive share of its shmem pages
move); shmcli's 1 MiB windows of the same THPs are shared on both (nothing moves). grower, whose
memory really changes on B, is left out: the ratios cannot tell a real change from an accounting
one, and this test is about which workloads fire, not why."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, SOURCE_ROOT, Daemon, main
from history_full import KERNEL_A, KERNEL_B, FullHistory
from prometheus import Prometheus, enter_private_network, promtool

RULES_DIR = os.path.join(SOURCE_ROOT, "prometheus")
RULES = os.path.join(RULES_DIR, "mapstatd.rules.yml")
RULES_TEST = os.path.join(RULES_DIR, "mapstatd.rules.test.yml")
BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(BIN)))
SHARED_ALERT = "MapstatdSharedRatioDiffersAcrossKernels"
EXCLUSIVE_ALERT = "MapstatdExclusiveRatioDiffersAcrossKernels"


def read(path):
    with open(path) as f:
        return f.read()


class PromtoolTest(unittest.TestCase):
    def test_check_rules(self):
        code, out = promtool("check", "rules", RULES)
        self.assertEqual(code, 0, out)
        self.assertIn("SUCCESS: 9 rules found", out)

    def test_rules_unit_tests(self):
        code, out = promtool("test", "rules", RULES_TEST)
        self.assertEqual(code, 0, out)
        self.assertIn("SUCCESS", out)

    def test_unit_tests_catch_a_broken_rule(self):
        """The same unit tests on a copy of the rules whose threshold lets nothing fire, and on
        one whose median became a mean, fail."""
        text = read(RULES)
        for name, old, new in [("threshold", ">= 0.10", ">= 0.60"),
                               ("median", "(0.5, instance_workload", "(0.9, instance_workload")]:
            with self.subTest(mutation=name), tempfile.TemporaryDirectory() as tmp:
                self.assertIn(old, text)
                with open(os.path.join(tmp, "mapstatd.rules.yml"), "w") as f:
                    f.write(text.replace(old, new))
                shutil.copy(RULES_TEST, tmp)
                code, out = promtool("test", "rules", os.path.join(tmp, "mapstatd.rules.test.yml"))
                self.assertNotEqual(code, 0, out)
                self.assertIn("FAILED", out)

    def test_installed_under_share(self):
        out = subprocess.run(["meson", "introspect", "--installed", BUILD_DIR],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        installed = json.loads(out)
        for path in (RULES, RULES_TEST):
            target = installed.get(path)
            self.assertIsNotNone(target, "%s is not installed" % path)
            self.assertRegex(target, r"/share/mapstatd/prometheus/%s$"
                             % re.escape(os.path.basename(path)))
        readme = read(os.path.join(SOURCE_ROOT, "README.md"))
        self.assertTrue("/usr/share/mapstatd/prometheus/mapstatd.rules.yml" in readme,
                        "the README does not say where the rules are installed")


class EndToEndTest(unittest.TestCase):
    def test_alert_fires_for_the_shifted_workload_only(self):
        hosts = {}
        for seed, (name, mode, kernel) in enumerate([("a", "page", KERNEL_A),
                                                     ("b", "no_page", KERNEL_B)]):
            h = FullHistory(seed=seed)
            self.addCleanup(h.close)
            h.write(mode, kernel, without=("grower", "grower-child"))
            hosts[name] = h

        # The shipped rules, but for 2 s instead of 30 min: the rules' unit tests check the
        # 30 minutes; here the rest of the pipeline is real.
        tmp = tempfile.mkdtemp(prefix="mapstatd-rules-")
        self.addCleanup(shutil.rmtree, tmp, True)
        text = read(RULES)
        self.assertEqual(text.count("for: 30m"), 2)
        rules = os.path.join(tmp, "mapstatd.rules.yml")
        with open(rules, "w") as f:
            f.write(text.replace("for: 30m", "for: 2s"))

        with Daemon(["--interval", "1s", "--pagemap", "full", *hosts["a"].roots()],
                    db=hosts["a"].db) as da, \
                Daemon(["--interval", "1s", "--pagemap", "full", *hosts["b"].roots()],
                       db=hosts["b"].db) as db_, \
                Prometheus(["127.0.0.1:%d" % da.port, "127.0.0.1:%d" % db_.port],
                           rule_files=[rules]) as prom:
            da.wait_sweeps(1)
            db_.wait_sweeps(1)
            # Both hosts' figures are there from the first evaluation on, so every alert that
            # is going to fire is pending at once: once two have fired for a few seconds, all
            # alerts, pending or firing, are the expected ones.
            prom.wait('count(kernel_workload:mapstatd_identity_shared_rss:median) >= 4')
            prom.wait('count(count_over_time(ALERTS{alertstate="firing"}[1m]) >= 3) >= 2',
                      timeout=90)
            got = {(m["alertname"], m["alertstate"], m["comm"], m.get("class"))
                   for m, _ in prom.query("ALERTS")}
            self.assertEqual(got, {(SHARED_ALERT, "firing", "shmsrv", None),
                                   (EXCLUSIVE_ALERT, "firing", "shmsrv", "shmem")})

            # The medians are the hosts' own ratios (one host per kernel).
            for name, d, release in [("a", da, KERNEL_A.release), ("b", db_, KERNEL_B.release)]:
                for comm in ("shmsrv", "shmcli"):
                    with self.subTest(host=name, comm=comm):
                        ratio = self.host_ratio(d, comm)
                        got = prom.query('kernel_workload:mapstatd_identity_shared_rss:median'
                                         '{comm="%s",release="%s"}' % (comm, release))
                        self.assertEqual(len(got), 1, got)
                        self.assertAlmostEqual(got[0][1], ratio, places=9)
            # shmcli's ratio is the same on both kernels but for the hosts' noise: nothing fires.
            self.assertAlmostEqual(self.host_ratio(da, "shmcli"), self.host_ratio(db_, "shmcli"),
                                   delta=0.01)
            self.assertNotAlmostEqual(self.host_ratio(da, "shmsrv"),
                                      self.host_ratio(db_, "shmsrv"), delta=0.10)

    @staticmethod
    def host_ratio(d, comm):
        """Shared/Rss of comm in the daemon's own /metrics."""
        status, _, text = d.request("/metrics", raw=True)
        assert status == 200, status
        values = {}
        for line in text.decode().splitlines():
            m = re.match(r'(mapstatd_identity_(?:shared|rss)_bytes)\{[^}]*comm="%s"[^}]*\} (\S+)$'
                         % re.escape(comm), line)
            if m:
                values[m.group(1)] = float(m.group(2))
        return values["mapstatd_identity_shared_bytes"] / values["mapstatd_identity_rss_bytes"]


if __name__ == "__main__":
    enter_private_network()
    main()
