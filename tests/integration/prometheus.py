"""A throwaway real Prometheus (Debian's prometheus 2.42; scripts/dev.sh unpacks the package
into .tools/ rather than installing it, which would start a system-wide service), promtool, and
a real node_exporter (Debian's prometheus-node-exporter 1.5, unpacked the same way) serving a
textfile directory.

Prometheus cannot take its listener from socket activation, so a test that runs it first moves
itself into a private network namespace (enter_private_network()): there the loopback address
and Prometheus' port 9090 belong to the test alone, whatever this machine runs."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from harness import SOURCE_ROOT, stop_process

PORT = 9090
TOOLS = os.path.join(SOURCE_ROOT, ".tools")


def tool(name):
    """The path of prometheus, promtool or prometheus-node-exporter: $MAPSTATD_<NAME> (dashes as
    underscores), .tools/*/usr/bin/, else $PATH."""
    path = os.environ.get("MAPSTATD_" + name.upper().replace("-", "_"))
    for unpacked in sorted(os.listdir(TOOLS)) if not path and os.path.isdir(TOOLS) else ():
        candidate = os.path.join(TOOLS, unpacked, "usr", "bin", name)
        if os.access(candidate, os.X_OK):
            path = candidate
            break
    path = path or shutil.which(name)
    if not path:
        raise AssertionError("%s not found: run scripts/dev.sh test-deps (it unpacks Debian's "
                             "prometheus and prometheus-node-exporter packages into .tools/)"
                             % name)
    return path


def enter_private_network():
    """Re-executes this test in a new network namespace with the loopback up (needs root);
    returns in the re-executed process. MAPSTATD_NETNS marks it."""
    if os.environ.get("MAPSTATD_NETNS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    env = dict(os.environ, MAPSTATD_NETNS="1")
    os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, *sys.argv], env)


class Prometheus:
    """Prometheus scraping its targets (an "ADDR:PORT" or a list of them) every second and
    evaluating rule_files every second, its data in a temporary directory."""

    def __init__(self, targets, metrics_path="/metrics", rule_files=()):
        if isinstance(targets, str):
            targets = [targets]
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-prometheus-")
        self.api = "http://127.0.0.1:%d" % PORT
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "rule_files: [%s]\n"
                    "scrape_configs:\n  - job_name: mapstatd\n"
                    "    metrics_path: %s\n    static_configs:\n"
                    "      - targets: [%s]\n"
                    % (", ".join("'%s'" % r for r in rule_files), metrics_path,
                       ", ".join("'%s'" % t for t in targets)))
        self.log_path = os.path.join(self.tmp, "prometheus.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [tool("prometheus"), "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % PORT, "--log.level=info"],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_ready(self.proc, self.api + "/-/ready", self.log, "Prometheus")

    def log(self):
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def close(self):
        stop_process(self.proc)
        self.log_file.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def query(self, promql):
        """An instant query: a list of (labels, value) with the value as a float."""
        url = self.api + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        if doc.get("status") != "success":
            raise AssertionError("query %r failed: %s" % (promql, doc))
        return [(res["metric"], float(res["value"][1])) for res in doc["data"]["result"]]

    def wait(self, promql, timeout=60):
        """Waits until an instant query returns something; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            res = self.query(promql)
            if res:
                return res
            time.sleep(0.3)
        raise AssertionError("timed out waiting for %r\n%s" % (promql, self.log()))


def wait_ready(proc, url, log, what, timeout=60):
    """Polls url until it answers 200; fails with log() if proc exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("%s exited:\n%s" % (what, log()))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("%s did not become ready:\n%s" % (what, log()))


class NodeExporter:
    """node_exporter with only its textfile collector, reading directory, on 127.0.0.1:port."""

    def __init__(self, directory, port):
        self.url = "http://127.0.0.1:%d/metrics" % port
        self.log_file = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [tool("prometheus-node-exporter"), "--web.listen-address=127.0.0.1:%d" % port,
             "--collector.disable-defaults", "--collector.textfile",
             "--collector.textfile.directory=" + directory],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_ready(self.proc, self.url, self.log, "node_exporter")

    def log(self):
        self.log_file.seek(0)
        return self.log_file.read()[-4000:]

    def scrape(self):
        with urllib.request.urlopen(self.url, timeout=10) as r:
            return r.read().decode()

    def close(self):
        stop_process(self.proc)
        self.log_file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def promtool(*args, input=None):
    """Runs promtool with args; returns (exit code, its output)."""
    res = subprocess.run([tool("promtool"), *args], input=input, capture_output=True, text=True,
                         timeout=60)
    return res.returncode, res.stdout + res.stderr


def promtool_check_metrics(text):
    """Runs `promtool check metrics` on an exposition; returns (exit code, its output)."""
    return promtool("check", "metrics", input=text)
