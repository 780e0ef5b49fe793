"""Runs the real mapstatd binary for integration tests.

The daemon gets a pre-bound 127.0.0.1:0 listener through the systemd socket-activation protocol
(LISTEN_FDS/LISTEN_PID, fd 3) and a NOTIFY_SOCKET owned by the test, so no port is ever guessed
and readiness and sweeps are awaited through sd_notify messages instead of sleeps. The daemon
is killed on every failure path (context manager).
"""
import http.client
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import contract

BIN = os.environ.get("MAPSTATD_BIN", "build/daemon/mapstatd")
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(SOURCE_ROOT, "tests", "fixtures")
TIMEOUT = float(os.environ.get("MAPSTATD_TEST_TIMEOUT", "60"))

# What ASan, LSan and UBSan print when they find something.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error: ")


def sanitized():
    """Whether the daemon under test is the sanitizer build (its memory is no measure)."""
    return "asan" in BIN or "ASAN_OPTIONS" in os.environ


def raise_nofile(want):
    """Raises this process's limit of open files to at least want (root may raise the hard
    one); the daemons it starts inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))


def run_once(args, timeout=TIMEOUT):
    """Runs `mapstatd --once ARGS`; returns the CompletedProcess (text mode)."""
    return subprocess.run([BIN, "--once", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class Daemon:
    """A running mapstatd with its own listener, notify socket and temp directory."""

    def __init__(self, args=(), db=None, env=None, workdir=None, wrapper=(), host="127.0.0.1"):
        self.tmp = tempfile.mkdtemp(prefix="mapstatd-test-")
        self.host = host                    # the listener's address (requests go to loopback)
        self.db = db or os.path.join(self.tmp, "mapstatd.db")
        self.args = ["--db", self.db, *args]
        self.extra_env = env or {}
        self.wrapper = list(wrapper)        # exec'd in turn, e.g. setpriv: the PID stays
        self.proc = None
        self.messages = []
        self.stderr_path = os.path.join(self.tmp, "stderr")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close(check=exc[0] is None)
        return False

    def start(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((self.host, 0))
        self.listener.listen(1024)
        self.port = self.listener.getsockname()[1]

        self.notify_path = os.path.join(self.tmp, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)

        env = dict(os.environ)
        env.pop("LISTEN_FDS", None)
        env.pop("JOURNAL_STREAM", None)
        env.update({"NOTIFY_SOCKET": self.notify_path, "LISTEN_FDS": "1"})
        env.update(self.extra_env)
        lfd = self.listener.fileno()
        # The listener goes to fd 3 and LISTEN_PID must be the daemon's own PID, known only
        # after fork: a shell moves the fd and execs the daemon in its own PID.
        move = "" if lfd == 3 else "exec 3<&%d %d<&-; " % (lfd, lfd)
        wrapper = move + 'LISTEN_PID=$$ exec "$0" "$@"'
        self.stderr = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen(["/bin/sh", "-c", wrapper, *self.wrapper, BIN, *self.args],
                                     env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr, pass_fds=(lfd,))
        self.wait_for("READY=1")
        return self

    def start_again(self):
        """Starts a new daemon process on the same database after the previous one died."""
        for s in ("listener", "notify"):
            getattr(self, s).close()
        os.unlink(self.notify_path)
        self.stderr.close()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        return self.start()

    def log(self):
        with open(self.stderr_path) as f:
            return f.read()

    def status_kb(self, field):
        """A "kB" field of the daemon's /proc/PID/status: VmRSS, VmHWM, …"""
        with open("/proc/%d/status" % self.proc.pid) as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    def drain(self, timeout=0.05):
        """Reads the notifications waiting, as systemd would: a full notify socket blocks the
        daemon's sd_notify()."""
        while self._recv(timeout):
            pass

    def _recv(self, timeout):
        r, _, _ = select.select([self.notify], [], [], timeout)
        if not r:
            return None
        msg = self.notify.recv(4096).decode()
        self.messages.append(msg)
        return msg

    def wait_for(self, needle, timeout=TIMEOUT):
        """Waits for a notify message containing needle; fails if the daemon exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("mapstatd exited with %d before '%s':\n%s"
                                     % (self.proc.returncode, needle, self.log()))
            msg = self._recv(min(0.5, max(0.0, deadline - time.monotonic())))
            if msg and needle in msg:
                return msg
        raise AssertionError("timed out waiting for '%s'; got %r\n%s"
                             % (needle, self.messages, self.log()))

    def wait_sweeps(self, n=1, timeout=TIMEOUT):
        """Waits until n more sweeps have been reported through STATUS=."""
        for _ in range(n):
            self.wait_for("STATUS=", timeout)
            while "last sweep" not in self.messages[-1] and "Sweep failed" not in self.messages[-1]:
                self.wait_for("STATUS=", timeout)

    def request(self, path, method="GET", body=None, headers=None, raw=False, fresh=True):
        """One request on a new connection. Every response is checked against the API
        contract (docs/openapi.yaml) before the test sees it. Returns (status, headers, body):
        the body as bytes with raw, else as parsed JSON (None when empty).

        fresh sends Cache-Control: no-cache, so that the answer reflects the last sweep even
        while the daemon's refresher is still computing it (without it, the daemon answers
        with the previous one meanwhile, as a browser or Prometheus get it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        headers = dict(headers or {})
        if fresh and not any(k.lower() == "cache-control" for k in headers):
            headers["Cache-Control"] = "no-cache"
        try:
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.HTTPException) as e:
                alive = self.proc.poll() is None
                raise AssertionError("%s %s: %r; the daemon is %s; its log:\n%s"
                                     % (method, path, e, "running" if alive else
                                        "gone (%s)" % self.proc.returncode, self.log()[-6000:]))
            resp_headers = dict(resp.getheaders())
            contract.check(method, path, resp.status, resp_headers, data)
            if raw:
                return resp.status, resp_headers, data
            doc = json.loads(data) if data else None
            return resp.status, resp_headers, doc
        finally:
            conn.close()

    def raw(self, data):
        """Sends data as it is on a new connection, closes the sending side and returns all
        the daemon sent back (b"" when it closed first; the server may answer and close
        before the whole request is sent)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        reply = b""
        try:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except ConnectionResetError:
            pass
        finally:
            s.close()
        return reply

    def get(self, path):
        status, _, doc = self.request(path)
        return status, doc

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        """Sends sig and returns the exit code."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def close(self, check=True):
        """Kills the daemon if it runs and removes its files. With check, fails when a
        sanitizer (the ASan/UBSan build) reported an error in its log, even one that did not
        stop it."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for s in ("listener", "notify"):
            if hasattr(self, s):
                getattr(self, s).close()
        report = None
        if hasattr(self, "stderr"):
            log = self.log()
            if any(m in log for m in SANITIZER_MARKERS):
                report = log[-6000:]
            self.stderr.close()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if check and report:
            raise AssertionError("the daemon's sanitizers reported an error:\n" + report)


def stop_process(proc, timeout=20):
    """SIGTERM, then SIGKILL after timeout seconds; waits for the process."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    """Runs the module's tests; exits 77 (meson's "skipped") when every test skipped."""
    prog = unittest.main(verbosity=2, exit=False)
    result = prog.result
    if not result.wasSuccessful():
        raise SystemExit(1)
    if result.testsRun and len(result.skipped) == result.testsRun:
        raise SystemExit(77)
    raise SystemExit(0)
