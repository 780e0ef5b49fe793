"""Headless Chromium (Debian's chromium) driven through the DevTools protocol over a pipe
(--remote-debugging-pipe: commands on fd 3, replies and events on fd 4, NUL-separated JSON), so
no debugging port is opened. One Browser is one Chromium with one page; every console error,
uncaught exception and failed load of the page is collected in .errors."""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

from harness import stop_process

CHROMIUM = os.environ.get("MAPSTATD_CHROMIUM") or shutil.which("chromium")
TIMEOUT = 60


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, width=1366, height=900):
        if not CHROMIUM:
            raise BrowserError("chromium not found (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="mapstatd-chromium-")
        r, self._to_child = os.pipe()
        self._from_child, w = os.pipe()
        # Chromium wants them as fds 3 and 4: move them above those first, then let bash (dash takes one-digit fds only)
        # put them in place and exec Chromium.
        to_child_r = fcntl.fcntl(r, fcntl.F_DUPFD, 10)
        from_child_w = fcntl.fcntl(w, fcntl.F_DUPFD, 10)
        os.close(r)
        os.close(w)
        move = "exec 3<&%d 4>&%d %d<&- %d>&-; exec \"$0\" \"$@\"" % (
            to_child_r, from_child_w, to_child_r, from_child_w)

        # --no-sandbox: tests run as root, which Chromium's sandbox refuses.
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", move, CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update",
             "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.profile, "stderr"), "w"),
            pass_fds=(to_child_r, from_child_w))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events = []
        self.errors = []
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def close(self):
        try:
            os.close(self._to_child)
        except OSError:
            pass
        stop_process(self.proc, timeout=10)
        os.close(self._from_child)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- the protocol ----

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for Chromium")
            r, _, _ = select.select([self._from_child], [], [], left)
            if not r:
                continue
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium exited: %s" % self.stderr_tail())
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def stderr_tail(self):
        try:
            with open(os.path.join(self.profile, "stderr")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def _event(self, msg):
        self.events.append(msg)
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            self.errors.append("exception: %s %s" % (d.get("text"),
                                                     d.get("exception", {}).get("description")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console.%s: %s" % (params["type"], " ".join(
                str(a.get("value", a.get("description"))) for a in params.get("args", []))))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append("log: %s %s" % (params["entry"]["text"],
                                               params["entry"].get("url", "")))
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.errors.append("load failed: %s" % params.get("errorText"))

    def call(self, method, params=None, timeout=TIMEOUT):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise BrowserError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self._event(reply)

    def wait_event(self, method, timeout=TIMEOUT):
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_message(deadline)
            if msg.get("method") == method:
                self._event(msg)
                return msg
            self._event(msg)

    # ---- conveniences ----

    def open(self, url):
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def eval(self, expression, await_promise=True):
        """The value of a JavaScript expression (promises awaited); raises on exceptions."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": await_promise})
        if "exceptionDetails" in r:
            raise BrowserError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def key(self, key, code=None, key_code=None):
        """Presses and releases one key in the page (Tab, Enter, …)."""
        codes = {"Tab": 9, "Enter": 13, " ": 32}
        base = {"key": key, "code": code or key,
                "windowsVirtualKeyCode": key_code or codes.get(key, 0)}
        down = dict(base, type="keyDown")
        if key == "Enter":
            down["text"] = "\r"
        self.call("Input.dispatchKeyEvent", down)
        self.call("Input.dispatchKeyEvent", dict(base, type="keyUp"))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path
