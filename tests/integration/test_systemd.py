"""The installed units under a real systemd 252: each test boots a throwaway container (the
harness of sandbox.py: systemd-nspawn over an overlay of /), installs this build into it with
`meson install`, and drives mapstatd through systemctl, curl and journalctl inside: socket
activation, the service on its own, reload with a valid and an invalid configuration, a clean
stop and its journal lines, the watchdog catching a sweep stuck in a read, the full pagemap
drop-in, the node_exporter textfile drop-in with a real node_exporter, and the unit checks
(systemd-analyze verify and security). Needs root; skips, saying why, when the sandbox cannot
start. Nothing is installed on the host.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

import fixture_tree
import prometheus
import sandbox
from harness import BIN, FIXTURES, SOURCE_ROOT, main

BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(BIN)))
README = os.path.join(SOURCE_ROOT, "README.md")
# Generous: the sanitizer build is several times slower, and systemd and journald add latency.
TIMEOUT = float(os.environ.get("MAPSTATD_SYSTEMD_TEST_TIMEOUT", "60"))
URL = "http://127.0.0.1:9100"
MESSAGE_ID_NEW_EPOCH = "45a729e10d494bd2ac93538d5bee491d"
DROPIN_DIR = "/etc/systemd/system/mapstatd.service.d"
SANITIZER_DROPIN = "zz-sanitizer.conf"     # sorts last: overrides MemoryMax= of other drop-ins

_skip_reason = None


def build_options():
    """The build directory's meson options as {name: value}."""
    out = subprocess.run([shutil.which("meson") or "meson", "introspect", "--buildoptions",
                          BUILD_DIR], capture_output=True, text=True, timeout=60, check=True)
    return {o["name"]: o["value"] for o in json.loads(out.stdout)}


def setUpModule():
    global _skip_reason
    if os.geteuid() != 0:
        _skip_reason = "needs root (systemd-nspawn)"
    elif not shutil.which("meson"):
        _skip_reason = "meson is not in PATH (needed for meson install)"
    elif not os.path.isdir(os.path.join(BUILD_DIR, "meson-private")):
        _skip_reason = "%s is not a meson build directory" % BUILD_DIR
    # meson's timeout sends SIGTERM: stop the container before dying of it.
    sandbox.install_signal_cleanup()


class Sandbox:
    """A running throwaway systemd (sandbox.Sandbox) with this build installed into it."""

    def __init__(self):
        self.box = sandbox.Sandbox()
        self.started = False

    def start(self):
        global _skip_reason
        try:
            self.box.start(timeout=240)
        except sandbox.SandboxUnavailable as e:
            # Once is enough: the other tests skip at once.
            _skip_reason = "the systemd sandbox did not start: %s" % e.reason[-2000:]
            raise unittest.SkipTest(_skip_reason)
        self.started = True
        self.root = self.box.root
        env = dict(os.environ, DESTDIR=self.root)
        res = subprocess.run([shutil.which("meson"), "install", "-C", BUILD_DIR, "--no-rebuild"],
                             env=env, capture_output=True, text=True, timeout=300,
                             stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise AssertionError("meson install into the sandbox failed:\n%s%s"
                                 % (res.stdout, res.stderr))
        self.options = build_options()
        if self.options.get("b_sanitize", "none") not in ("none", "", []):
            # The hardened unit blocks ptrace(), which LeakSanitizer's leak check at exit needs,
            # and sanitizer shadow memory and quarantine exceed MemoryMax=. Keep the leak check
            # and the sanitizer settings of the test run.
            lines = ["SystemCallFilter=ptrace", "MemoryHigh=infinity", "MemoryMax=infinity"]
            for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
                if os.environ.get(var):
                    lines.append('Environment="%s=%s"' % (var, os.environ[var]))
            self.dropin(SANITIZER_DROPIN, "\n".join(lines))
        # Where the daemon reads it: SYSCONFDIR (/etc with --prefix=/usr).
        self.config = self.installed("sysconfdir", "mapstatd", "mapstatd.conf")
        self.write(self.config, "")
        self.systemctl("daemon-reload")
        return self

    def stop(self):
        if self.started:
            self.started = False
            self.box.stop()

    def exec(self, *cmd, check=True, timeout=TIMEOUT):
        try:
            return self.box.exec(*cmd, check=check, timeout=timeout)
        except sandbox.SandboxExecError as e:
            raise AssertionError(str(e)) from None

    def systemctl(self, *args, check=True):
        return self.exec("systemctl", *args, check=check)

    def show(self, unit, prop):
        return self.exec("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()

    def write(self, path, text, mode=0o644):
        """Writes a file inside the container (through its root on the host)."""
        host = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(host), exist_ok=True)
        with open(host, "w") as f:
            f.write(text)
        os.chmod(host, mode)

    def dropin(self, name, service_lines):
        self.write(os.path.join(DROPIN_DIR, name), "[Service]\n%s\n" % service_lines)

    def curl(self, path, check=True, base=URL, max_time=30):
        """GET path inside the container; the parsed JSON, or None when curl failed."""
        res = self.exec("curl", "-sS", "--max-time", str(max_time), "-f" if check else "-s",
                        base + path, check=check)
        if res.returncode != 0:
            return None
        return json.loads(res.stdout) if res.stdout.strip() else None

    def journal(self, *args):
        """journalctl -u mapstatd.service -o json: the entries as dicts."""
        out = self.exec("journalctl", "-u", "mapstatd.service", "-o", "json", "--no-pager",
                        *args).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def unit_path(self, unit):
        return self.show(unit, "FragmentPath")

    def remove(self, path):
        """Removes a file inside the container if it exists."""
        host = os.path.join(self.root, path.lstrip("/"))
        if os.path.exists(host):
            os.remove(host)

    def exposure(self, unit):
        """systemd-analyze security --offline=yes: the overall exposure of unit (name or path)."""
        out = self.exec("systemd-analyze", "security", "--offline=yes", unit).stdout
        m = re.search(r"Overall exposure level for mapstatd.service: (\d+\.\d)", out)
        if not m:
            raise AssertionError("no exposure level in:\n" + out[-1000:])
        return float(m.group(1))

    def installed(self, option, *names):
        """The path inside the container of a file installed under a meson directory option."""
        d = self.options[option]
        return os.path.join(d if os.path.isabs(d) else os.path.join(self.options["prefix"], d),
                            *names)


def wait_until(what, fn, timeout=TIMEOUT, step=0.2):
    """Polls fn() until it returns something true; returns it or fails naming what."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))


def messages(entries, needle):
    return [e for e in entries if needle in str(e.get("MESSAGE", ""))]


def readme_exposure(full=False):
    """The exposure figure the README states for the unit: "`systemd-analyze security
    --offline=yes ...` rates the unit **N.N** (M.M with `full-pagemap.conf`)"."""
    with open(README) as f:
        m = re.search(r"systemd-analyze security --offline=yes[^\n]*\n?[^\n]*?"
                      r"\*\*(\d+\.\d)\*\*\s+\((\d+\.\d) with `full-pagemap.conf`\)", f.read())
    if not m:
        raise AssertionError("README states no exposure figures as **N.N** (M.M with "
                             "`full-pagemap.conf`) after `systemd-analyze security --offline=yes`")
    return float(m.group(2 if full else 1))


class SystemdTest(unittest.TestCase):
    def setUp(self):
        if _skip_reason:
            self.skipTest(_skip_reason)
        self.sb = Sandbox()
        self.addCleanup(self.sb.stop)
        self.sb.start()

    def wait_sweep(self):
        def swept():
            doc = self.sb.curl("/healthz", check=False)
            return doc if doc and doc.get("sweeps_stored", 0) >= 1 else None
        return wait_until("the first sweep (/healthz sweeps_stored >= 1)", swept)

    def assert_real_sweep(self):
        """/report and /processes describe the container's own processes, all readable."""
        health = self.wait_sweep()
        self.assertEqual(health["status"], "ok", health)
        self.assertEqual(health["last_sweep"]["skipped"]["denied"], 0, health)
        # Not processes_without_pagemap == 0: a process that exits between its smaps_rollup and
        # its pagemap (the curl that started the service) counts there. The long-lived
        # processes of other users below must each have their pagemap read.

        report = self.sb.curl("/report")
        self.assertEqual(report["candidate"]["release"], os.uname().release)
        self.assertIsNone(report["baseline"])

        doc = self.sb.curl("/processes?limit=10000")

        def pick(what, pred):
            found = [p for p in doc["processes"] if pred(p)]
            self.assertEqual(len(found), 1, "%s in %s" % (what, [
                (p["identity"]["comm"], p["pids"], p["identity"]["unit"])
                for p in doc["processes"]]))
            return found[0]
        main_pid = int(self.sb.show("mapstatd.service", "MainPID"))
        mine = pick("mapstatd", lambda p: main_pid in p["pids"])
        self.assertEqual(mine["identity"]["unit"], "mapstatd.service")
        # PID 1 and journald are root's, the probe is nobody's: the dynamic user reads their
        # smaps_rollup (CAP_SYS_PTRACE) and pagemap (CAP_DAC_READ_SEARCH) too.
        others = {
            "systemd": pick("PID 1", lambda p: 1 in p["pids"]),
            "journald": pick("journald", lambda p: p["identity"]["unit"] ==
                             "systemd-journald.service"),
            "probe": pick("the probe", lambda p: p["identity"]["unit"] == "probe.service"),
        }
        for name, p in others.items():
            with self.subTest(process=name):
                self.assertGreater(p["smaps_rollup"]["Rss"], 0)
                self.assertIsNotNone(p["pagemap"], p)
                self.assertGreater(p["pagemap"]["anon"]["exclusive_pages"], 0, p)
        return doc

    def start_probe(self):
        """A process of another user (nobody) for the daemon to read."""
        self.sb.exec("systemd-run", "--unit=probe", "-p", "User=nobody", "/bin/sleep", "1h")

    def test_socket_activation(self):
        self.start_probe()
        self.sb.systemctl("enable", "--now", "mapstatd.socket")
        self.assertEqual(self.sb.systemctl("is-active", "mapstatd.service", check=False)
                         .stdout.strip(), "inactive")
        # The first connection starts the service.
        first = self.sb.exec("curl", "-sS", "--max-time", "60", URL + "/report")
        self.assertIn("{", first.stdout)
        self.assertEqual(self.sb.show("mapstatd.service", "ActiveState"), "active")
        # A dynamic user (61184-65519), not root.
        uid = int(self.sb.exec("stat", "-c", "%u", "/proc/%s" % self.sb.show(
            "mapstatd.service", "MainPID")).stdout)
        self.assertTrue(61184 <= uid <= 65519, uid)
        self.assert_real_sweep()

        # A restart, and a stop followed by a new connection, reuse the socket systemd holds:
        # the daemon must leave it listening.
        res = self.sb.systemctl("restart", "mapstatd.service", check=False)
        self.assertEqual(res.returncode, 0, self.sb.exec(
            "journalctl", "-u", "mapstatd.socket", "-u", "mapstatd.service", "--no-pager").stdout)
        self.assertIsNotNone(self.sb.curl("/healthz"))
        self.sb.systemctl("stop", "mapstatd.service")
        self.assertEqual(self.sb.show("mapstatd.socket", "ActiveState"), "active")
        self.assertIsNotNone(self.sb.curl("/healthz"))
        self.assertEqual(self.sb.show("mapstatd.service", "ActiveState"), "active")
        self.assertEqual(self.sb.show("mapstatd.service", "NRestarts"), "0")

    def test_service_without_socket(self):
        self.start_probe()
        self.sb.systemctl("enable", "--now", "mapstatd.service")
        self.assertEqual(self.sb.show("mapstatd.service", "ActiveState"), "active")
        self.assertEqual(self.sb.show("mapstatd.socket", "ActiveState"), "inactive")
        self.assert_real_sweep()
        self.assertTrue(messages(self.sb.journal(), "Listening on 127.0.0.1:9100"))
        # The shipped unit grants no CAP_SYS_ADMIN: the probe says so and the config decides.
        epoch = self.sb.curl("/epochs")["epochs"][-1]
        self.assertEqual(epoch["mapcount"]["probe"], "unknown", epoch)
        self.assertIn("CAP_SYS_ADMIN", epoch["mapcount"]["probe_detail"])
        self.assertEqual(epoch["mapcount_mode"], epoch["mapcount"]["config"])

    def test_reload(self):
        self.sb.write(self.sb.config, "[Daemon]\nInterval=1h\n")
        self.sb.systemctl("enable", "--now", "mapstatd.service")
        self.assertEqual(self.sb.curl("/healthz")["interval_seconds"], 3600)
        pid = self.sb.show("mapstatd.service", "MainPID")

        self.sb.write(self.sb.config, "[Daemon]\nInterval=7s\n")
        self.sb.systemctl("reload", "mapstatd.service")
        wait_until("interval_seconds 7 after the reload",
                   lambda: self.sb.curl("/healthz")["interval_seconds"] == 7)
        wait_until("the reload in the journal",
                   lambda: messages(self.sb.journal(), "Reloaded configuration"))

        self.sb.write(self.sb.config, "[Daemon]\nInterval=banana\n")
        self.sb.systemctl("reload", "mapstatd.service")
        errors = wait_until("the rejected configuration in the journal", lambda: [
            e for e in messages(self.sb.journal(), "Failed to reload configuration")
            if e.get("PRIORITY") == "3"])
        self.assertIn(self.sb.config, errors[0]["MESSAGE"])
        self.assertIn("Interval", errors[0]["MESSAGE"])
        self.assertEqual(self.sb.show("mapstatd.service", "ActiveState"), "active")
        self.assertEqual(self.sb.show("mapstatd.service", "MainPID"), pid)
        self.assertEqual(self.sb.curl("/healthz")["interval_seconds"], 7)

    def test_stop_and_journal(self):
        self.sb.systemctl("enable", "--now", "mapstatd.socket")
        self.sb.curl("/healthz", check=False)
        self.wait_sweep()
        pid = self.sb.show("mapstatd.service", "MainPID")
        self.sb.systemctl("stop", "mapstatd.service", "mapstatd.socket")
        self.assertEqual(self.sb.show("mapstatd.service", "ExecMainStatus"), "0")
        self.assertEqual(self.sb.show("mapstatd.service", "ExecMainCode"), "1")  # CLD_EXITED
        self.assertEqual(self.sb.show("mapstatd.service", "Result"), "success")

        def stopped():
            ours = [e for e in self.sb.journal() if e.get("_PID") == pid]
            return ours if [e for e in ours if e.get("MESSAGE") == "Stopped"] else None
        ours = wait_until("the daemon's last line in the journal", stopped)
        expect = [("Listening on 127.0.0.1:9100", "6"), ("New kernel epoch 1", "5"),
                  ("Received SIGTERM, stopping", "6"), ("Stopped", "6")]
        for needle, prio in expect:
            with self.subTest(message=needle):
                found = messages(ours, needle)
                self.assertTrue(found, [e.get("MESSAGE") for e in ours])
                self.assertEqual(found[0]["PRIORITY"], prio)
        epoch = messages(ours, "New kernel epoch")[0]
        self.assertEqual(epoch["MESSAGE_ID"], MESSAGE_ID_NEW_EPOCH)
        self.assertEqual(epoch["MAPSTATD_EPOCH"], "1")
        self.assertEqual(epoch["MAPSTATD_RELEASE"], os.uname().release)
        self.assertEqual(epoch["_SYSTEMD_UNIT"], "mapstatd.service")
        order = [needle for needle, _ in expect]
        seen = [next(i for i, e in enumerate(ours) if needle in e["MESSAGE"]) for needle in order]
        self.assertEqual(seen, sorted(seen))
        for e in ours:
            self.assertNotRegex(e["MESSAGE"], r"Sanitizer|runtime error")

        # The catalog is installed where journalctl looks for it.
        self.sb.exec("journalctl", "--update-catalog")
        explained = self.sb.exec("journalctl", "-x", "-u", "mapstatd.service",
                                 "--no-pager").stdout
        self.assertIn("mapstatd started a new kernel epoch", explained)

    def test_watchdog(self):
        # A proc root on a hung file system (hangfs, mounted in the container before the
        # service starts): opening osrelease blocks, so the first sweep does, the sweep loop
        # stops pinging the watchdog, and systemd kills and restarts the service.
        source, tree = "/var/lib/mapstatd-stuck-source", "/var/lib/mapstatd-stuck"
        shutil.copytree(os.path.join(FIXTURES, "linux-6.18-page"),
                        os.path.join(self.sb.root, source.lstrip("/")), symlinks=True)
        os.makedirs(os.path.join(self.sb.root, tree.lstrip("/")))
        # nspawn's /dev has no fuse device; hangfs runs in the container's mount namespace.
        self.sb.exec("mknod", "-m", "0600", "/dev/fuse", "c", "10", "229")
        fixture_tree.hangfs_mount(self, source, tree, ["proc/sys/kernel/osrelease"],
                                  enter=self.sb.box.enter_mounts())
        self.sb.write(self.sb.config, "[Daemon]\nProcRoot=%s/proc\nSysRoot=%s/sys\n"
                      % (tree, tree))
        self.sb.dropin("50-stuck.conf", "WatchdogSec=3s\nRestartSec=1s\nTimeoutStopSec=5s\n"
                       "LimitCORE=0")
        self.sb.systemctl("daemon-reload")
        self.sb.systemctl("start", "mapstatd.service")
        wait_until("a restart after the watchdog fired", lambda: int(
            self.sb.show("mapstatd.service", "NRestarts") or 0) >= 1)
        log = self.sb.exec("journalctl", "-u", "mapstatd.service", "--no-pager").stdout
        self.assertIn("Watchdog timeout", log)

    def test_full_pagemap_dropin(self):
        self.start_probe()
        example = self.sb.installed("datadir", "doc", "mapstatd", "full-pagemap.conf")
        with open(os.path.join(self.sb.root, example.lstrip("/"))) as f:
            self.sb.write(os.path.join(DROPIN_DIR, "full-pagemap.conf"), f.read())
        self.sb.systemctl("daemon-reload")
        self.sb.systemctl("enable", "--now", "mapstatd.service")
        health = self.wait_sweep()
        self.assertEqual(health["pagemap"]["mode"], "full")
        self.assertIsNone(health["pagemap"]["reconstruction"], health)
        doc = self.assert_real_sweep()
        systemd = [p for p in doc["processes"] if 1 in p["pids"]][0]
        self.assertGreater(systemd["truth"]["Uss"], 0, systemd)
        # With CAP_SYS_ADMIN the probe runs, and agrees with this kernel's config.
        epoch = self.sb.curl("/epochs")["epochs"][-1]
        self.assertIn(epoch["mapcount"]["probe_detail"], ("pmd-thp", "mthp"), epoch)
        self.assertEqual(epoch["mapcount"]["probe"], epoch["mapcount"]["config"])

        # The unit with the drop-in, and without the test's own drop-in for sanitizer builds.
        self.sb.remove(os.path.join(DROPIN_DIR, SANITIZER_DROPIN))
        self.assertEqual(self.sb.exec("systemd-analyze", "verify", "--man=no",
                                      "mapstatd.service").stderr, "")
        self.assertLessEqual(self.sb.exposure("mapstatd.service"), readme_exposure(full=True))

    def test_node_exporter_textfile_dropin(self):
        """The drop-in and the steps its comment gives, with the user and directory Debian's
        prometheus-node-exporter creates: the dynamic user writes the collector's directory,
        and a real node_exporter running as prometheus serves the file."""
        example = self.sb.installed("datadir", "doc", "mapstatd", "node-exporter-textfile.conf")
        with open(os.path.join(self.sb.root, example.lstrip("/"))) as f:
            dropin = f.read()
        collector = "/var/lib/prometheus/node-exporter"
        # What the package's postinst and its files do.
        self.sb.exec("adduser", "--quiet", "--system", "--home", "/var/lib/prometheus",
                     "--no-create-home", "--group", "prometheus")
        self.sb.exec("mkdir", "-p", collector)
        # The steps.
        steps = [line.strip("# \n") for line in dropin.splitlines()
                 if line.startswith("#     ")]
        self.assertEqual(steps[0], "dpkg-statoverride --update --add root prometheus 0775 "
                         + collector)
        self.sb.exec(*steps[0].split())
        self.sb.write(os.path.join(DROPIN_DIR, "node-exporter-textfile.conf"), dropin)
        self.assertIn("TextfileDirectory=%s" % collector, dropin)
        self.sb.write(self.sb.config + ".d/textfile.conf",
                      "[Web]\nTextfileDirectory=%s\n" % collector)
        exporter = "/usr/local/bin/prometheus-node-exporter"
        self.sb.write(exporter, "", mode=0o755)
        shutil.copy(prometheus.tool("prometheus-node-exporter"),
                    os.path.join(self.sb.root, exporter.lstrip("/")))

        self.sb.systemctl("daemon-reload")
        self.sb.systemctl("enable", "--now", "mapstatd.service")
        self.wait_sweep()
        path = collector + "/mapstatd.prom"
        wait_until(path, lambda: self.sb.exec("test", "-s", path, check=False).returncode == 0)
        self.assertEqual(self.sb.exec("stat", "-c", "%a %U", path).stdout.split(),
                         ["644", "mapstatd"])

        self.sb.exec("systemd-run", "--unit=node-exporter", "-p", "User=prometheus", exporter,
                     "--web.listen-address=127.0.0.1:9101", "--collector.disable-defaults",
                     "--collector.textfile", "--collector.textfile.directory=" + collector)

        def scraped():
            res = self.sb.exec("curl", "-sSf", "--max-time", "5", "http://127.0.0.1:9101/metrics",
                               check=False)
            return res.stdout if res.returncode == 0 and "mapstatd_" in res.stdout else None
        try:
            text = wait_until("node_exporter serving mapstatd's metrics", scraped)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.sb.exec(
                "journalctl", "-u", "node-exporter", "--no-pager", check=False).stdout[-3000:]))
        self.assertRegex(text, r"(?m)^node_textfile_scrape_error 0$")
        self.assertRegex(text, r"(?m)^mapstatd_sweeps_total [1-9]")
        self.assertRegex(text, r'(?m)^mapstatd_kernel_info\{[^}]*release="%s"'
                         % re.escape(os.uname().release))

    def test_address_dropin(self):
        """The README's socket drop-in moves the listener; peers other than loopback addresses
        get nothing until IPAddressAllow= is relaxed in the socket unit."""
        if not shutil.which("ip"):
            self.skipTest("no ip(8) (iproute2) to add a non-loopback address")
        self.sb.exec("ip", "addr", "add", "192.0.2.1/32", "dev", "lo")
        dropins = "/etc/systemd/system/mapstatd.socket.d"
        self.sb.write(dropins + "/listen.conf",
                      "[Socket]\nListenStream=\nListenStream=0.0.0.0:9200\n")
        self.sb.systemctl("daemon-reload")
        self.sb.systemctl("enable", "--now", "mapstatd.socket")
        self.assertIsNotNone(self.sb.curl("/healthz", base="http://127.0.0.1:9200"))
        self.assertIsNone(self.sb.curl("/healthz", check=False, base="http://192.0.2.1:9200",
                                       max_time=3))

        self.sb.write(dropins + "/allow.conf", "[Socket]\nIPAddressAllow=192.0.2.0/24\n")
        self.sb.systemctl("daemon-reload")
        self.sb.systemctl("stop", "mapstatd.service")
        self.sb.systemctl("restart", "mapstatd.socket")
        self.assertIsNotNone(self.sb.curl("/healthz", base="http://192.0.2.1:9200"))

    def test_unit_checks(self):
        # Only the shipped units, without the test's drop-in for sanitizer builds.
        self.sb.remove(os.path.join(DROPIN_DIR, SANITIZER_DROPIN))
        self.sb.systemctl("daemon-reload")
        units = [self.sb.unit_path(u) for u in ("mapstatd.service", "mapstatd.socket")]
        for path in units:
            with self.subTest(unit=path):
                self.assertTrue(path, "unit not installed where systemd looks")
                res = self.sb.exec("systemd-analyze", "verify", "--man=no", path, check=False)
                self.assertEqual(res.stderr, "")
                self.assertEqual(res.returncode, 0)
        text = self.sb.exec("cat", units[0]).stdout
        self.assertIn("\nExecStart=%s " % self.sb.installed("sbindir", "mapstatd"), text)
        self.assertNotRegex(text, r"@\w+@")

        self.assertLessEqual(self.sb.exposure(units[0]), readme_exposure())


if __name__ == "__main__":
    main()
