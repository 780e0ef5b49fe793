"""A throwaway real systemd for the integration tests: systemd 252 booted as PID 1 of a
systemd-nspawn container whose root is a writable overlay of the host's "/". Root only.

* State lives in a tmpfs at /var/tmp/mapstatd-sandbox/NAME: the overlay's upper and work
  directories, the merged root (`root`), the console log and "PID STARTTIME" files. All writes,
  the container's and the tests', land there; the host's root is never modified.
* The merged root gets a fresh /etc/machine-id and a minimal boot target, sandbox.target
  (basic.target only); the host's enabled units (/etc/systemd/system/*.wants, *.requires) are
  hidden and the SysV generator is masked, so only what a test enables runs.
* The launcher joins dedicated cgroup directories (mapstatd-sandbox-NAME: on cgroup2, or on a
  hybrid host in both the "unified" and the name=systemd hierarchies), so the container never
  touches the host's own cgroups, then execs `unshare --mount --propagation private` with a
  fresh tmpfs on /run (nspawn keeps and wipes bookkeeping there) and systemd-nspawn
  --register=no --keep-unit (no machined or host systemd needed) --private-network (the
  container's 127.0.0.1:9100 is its own) --console=read-only --system-call-filter=bpf (so
  IPAddressDeny= works as on a real host) -b systemd.unit=sandbox.target.
* The container's PID 1, the "leader", is the child of systemd-nspawn whose innermost NSpid is
  1; the sandbox is up once `systemctl is-system-running` there says running or degraded.
  exec() runs commands through nsenter in all of the leader's namespaces and root, with a
  clean environment.
* stop() sends SIGTERM to systemd-nspawn (an orderly halt), SIGKILL to the leader if it lingers
  (that kills the whole PID namespace), then unmounts and removes the state and the cgroup
  directories. Only processes started here are ever signalled: each PID is checked against its
  recorded start time first. A registry lets an atexit handler, and the SIGTERM handler of
  install_signal_cleanup() (meson's test timeout), stop every running sandbox; state left by
  a crashed run (same name, or an owner process that is gone) is cleaned up at start.
"""
import atexit
import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

STATE_BASE = "/var/tmp/mapstatd-sandbox"
INNER_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "LANG": "C.UTF-8", "TERM": "dumb", "SYSTEMD_PAGER": "cat", "SYSTEMD_COLORS": "0",
             "SYSTEMD_LESS": ""}
SANDBOX_TARGET = """[Unit]
Description=Test sandbox (basic system only)
Requires=basic.target
After=basic.target
AllowIsolate=yes
"""
HALT_TIMEOUT = 30           # seconds an orderly halt may take before the leader is killed

_active = {}                # name -> running (or starting) Sandbox
_signals_installed = {}     # signum -> the handler it replaced


class SandboxUnavailable(Exception):
    """This machine cannot run the sandbox; `reason` says why (tests skip with it)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class SandboxExecError(subprocess.CalledProcessError):
    """A command run with Sandbox.exec(check=True) failed; str() includes its output."""

    def __str__(self):
        return "%s\n--- stdout:\n%s--- stderr:\n%s" % (
            super().__str__(), (self.stdout or "")[-3000:], (self.stderr or "")[-3000:])


# ------------------------------------------------------------------ process helpers
def _starttime(pid):
    """Start time (clock ticks since boot) of a live process; None if gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _ident(pid):
    """(PID, start time): names one process for good; None if it is gone."""
    start = _starttime(pid)
    return (pid, start) if start else None


def _alive(ident):
    return ident is not None and _starttime(ident[0]) == ident[1]


def _save_ident(path, ident):
    with open(path, "w") as f:
        f.write("%d %s\n" % ident)


def _load_ident(path):
    try:
        with open(path) as f:
            pid, start = f.read().split()
        return int(pid), start
    except (OSError, ValueError):
        return None


def _signal(ident, sig):
    """Sends sig to that very process if it is still alive (never to a reused PID)."""
    if not _alive(ident):
        return False
    try:
        os.kill(ident[0], sig)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(ident, seconds, proc=None):
    """Waits until the process has exited, reaping proc (our child) meanwhile."""
    deadline = time.monotonic() + seconds
    while _alive(ident) and time.monotonic() < deadline:
        if proc is not None:
            proc.poll()
        time.sleep(0.05)
    return not _alive(ident)


def _find_leader(parent):
    """The child of `parent` that is PID 1 of its own PID namespace, or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if (fields.get("PPid", "").strip() == str(parent)
                and fields.get("NSpid", "").split()[-1:] == ["1"]):
            return int(entry)
    return None


# ------------------------------------------------------------------ mount and cgroup helpers
def _mounts_under(path):
    """Mount points at or below path in this mount namespace, deepest first."""
    with open("/proc/self/mountinfo") as f:
        points = [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
                  for line in f]     # a point twice = two stacked mounts, two umounts
    return sorted((p for p in points if p == path or p.startswith(path + "/")),
                  key=len, reverse=True)


def _run_quiet(*argv):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60)


def _cgroup_dirs(name):
    """This host's cgroup directories for sandbox `name`, below this process's own cgroups."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            hier_id, controllers, rel = line.rstrip("\n").split(":", 2)
            own[controllers if hier_id != "0" else ""] = rel.rstrip("/")
    leaf = "mapstatd-sandbox-" + name
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):        # unified (cgroup2 only)
        return ["/sys/fs/cgroup%s/%s" % (own.get("", ""), leaf)]
    dirs = []
    if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):  # hybrid
        dirs.append("/sys/fs/cgroup/unified%s/%s" % (own.get("", ""), leaf))
    if os.path.isdir("/sys/fs/cgroup/systemd") and "name=systemd" in own:
        dirs.append("/sys/fs/cgroup/systemd%s/%s" % (own["name=systemd"], leaf))
    return dirs


def _remove_cgroup_tree(top, name):
    """rmdir depth-first, retrying while dying processes leave; only our own directory."""
    if (os.path.basename(top) != "mapstatd-sandbox-" + name
            or not top.startswith("/sys/fs/cgroup/")):
        return
    for _ in range(50):
        for d, _subdirs, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        if not os.path.isdir(top):
            return
        time.sleep(0.1)


# ------------------------------------------------------------------ the sandbox
class Sandbox:
    """A throwaway systemd 252 container over a writable overlay of the host's "/"."""

    def __init__(self, name=None):
        self.name = name or "mapstatd-t%d" % os.getpid()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}", self.name):
            raise ValueError("bad sandbox name %r (letters, digits, '-')" % self.name)
        self.state_dir = os.path.join(STATE_BASE, self.name)
        self._proc = None       # the systemd-nspawn Popen while we are its parent

    @property
    def root(self):
        """Host path of the container's writable root (valid while the sandbox runs)."""
        return os.path.join(self.state_dir, "root")

    def _file(self, name):
        return os.path.join(self.state_dir, name)

    def start(self, timeout=90):
        """Boots the container and returns self once systemd says running or degraded.
        Raises SandboxUnavailable when this machine cannot run it (not root, no
        systemd-nspawn, nsenter or unshare, no overlayfs, boot failed or timed out)."""
        if os.geteuid() != 0:
            raise SandboxUnavailable("needs root (systemd-nspawn, mounts, cgroups)")
        for tool in ("systemd-nspawn", "nsenter", "unshare", "mount", "umount"):
            if not shutil.which(tool):
                raise SandboxUnavailable("no %s in PATH (Debian: apt-get install %s)" % (
                    tool, "systemd-container" if tool == "systemd-nspawn" else "util-linux"))
        if not os.access("/lib/systemd/systemd", os.X_OK):
            raise SandboxUnavailable("no /lib/systemd/systemd on this host")
        with open("/proc/filesystems") as f:
            has_overlay = "\toverlay\n" in f.read()
        if not has_overlay and _run_quiet("modprobe", "overlay").returncode != 0:
            raise SandboxUnavailable("the kernel has no overlayfs")
        if _active.get(self.name) is not None:
            raise RuntimeError("sandbox %r is already running in this process" % self.name)
        _reap_orphans(self.name)
        _active[self.name] = self           # from here on, atexit/SIGTERM clean up after us
        try:
            return self._boot(timeout)
        except BaseException:
            self.stop()
            raise

    def _boot(self, timeout):
        sd, root = self.state_dir, self.root
        os.makedirs(sd, exist_ok=True)
        res = _run_quiet("mount", "-t", "tmpfs", "-o", "mode=0755",
                         "mapstatd-sandbox-" + self.name, sd)
        if res.returncode != 0:
            raise SandboxUnavailable("tmpfs mount on %s failed: %s" % (sd, res.stderr.strip()))
        _save_ident(self._file("owner.pid"), _ident(os.getpid()))
        for d in ("upper", "work", "root"):
            os.mkdir(os.path.join(sd, d))
        res = _run_quiet("mount", "-t", "overlay", "overlay", "-o", "lowerdir=/,upperdir=%s,"
                         "workdir=%s" % (self._file("upper"), self._file("work")), root)
        if res.returncode != 0:
            raise SandboxUnavailable("overlay mount of / failed: " + res.stderr.strip())
        self._prepare_root(root)

        cgroups = _cgroup_dirs(self.name)
        with open(self._file("cgroups"), "w") as f:
            f.write("".join(cg + "\n" for cg in cgroups))
        for cg in cgroups:
            os.makedirs(cg, exist_ok=True)
        nspawn = ["systemd-nspawn", "--directory=" + root, "--machine=" + self.name,
                  "--register=no", "--keep-unit", "--link-journal=no", "--console=read-only",
                  "--system-call-filter=bpf", "--private-network",
                  "-b", "systemd.unit=sandbox.target"]
        script = "".join("echo $$ > '%s/cgroup.procs' && " % cg for cg in cgroups) + \
            'mount -t tmpfs -o mode=0755 nspawn-run /run && exec "$@"'
        argv = ["unshare", "--mount", "--propagation", "private", "--",
                "sh", "-c", script, "sh", *nspawn]
        # SIGTERM stays blocked until the PID file is written, so the handler always finds
        # it; the child gets a clean signal mask and its own session.
        def child_setup():
            os.setsid()
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            with open(self._file("console.log"), "wb") as log:
                self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, preexec_fn=child_setup)
            _save_ident(self._file("nspawn.pid"), _ident(self._proc.pid))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

        deadline, state, leader = time.monotonic() + timeout, "unknown", None
        while True:
            if self._proc.poll() is not None:
                raise SandboxUnavailable("systemd-nspawn exited with status %d during boot:\n%s"
                                         % (self._proc.returncode, self.console(40)))
            if not _alive(leader):
                found = _find_leader(self._proc.pid)
                leader = found and _ident(found)
                if leader:
                    _save_ident(self._file("leader.pid"), leader)
            # systemctl can talk to PID 1 once its private socket exists (/run starts empty)
            if _alive(leader) and os.path.exists("/proc/%d/root/run/systemd/private" % leader[0]):
                try:
                    state = self.exec("systemctl", "is-system-running", check=False,
                                      timeout=15).stdout.strip() or state
                except subprocess.TimeoutExpired:
                    state = "not answering"
                if state in ("running", "degraded"):
                    open(self._file("ready"), "w").close()     # stop() may now halt it
                    return self
            if time.monotonic() > deadline:
                raise SandboxUnavailable("boot did not finish within %ss (state: %s):\n%s"
                                         % (timeout, state, self.console(40)))
            time.sleep(0.1)

    @staticmethod
    def _prepare_root(root):
        """Fresh identity, the sandbox.target, and none of the host's enabled units."""
        units = os.path.join(root, "etc/systemd/system")
        machine_id = os.path.join(root, "etc/machine-id")
        sysv = os.path.join(root, "etc/systemd/system-generators/systemd-sysv-generator")
        os.makedirs(os.path.dirname(sysv), exist_ok=True)
        for path in [machine_id, sysv] + glob.glob(units + "/*.wants") + \
                glob.glob(units + "/*.requires"):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)         # whiteouts in the overlay; the host keeps them
            elif os.path.lexists(path):
                os.unlink(path)
        with open(machine_id, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        with open(os.path.join(units, "sandbox.target"), "w") as f:
            f.write(SANDBOX_TARGET)
        os.symlink("/dev/null", sysv)

    def console(self, lines=None):
        """The container's console output so far, without colours (the last `lines` lines
        if given)."""
        try:
            with open(self._file("console.log"), errors="replace", newline="") as f:
                text = re.sub(r"\x1b\[[0-9;]*m|\r", "", f.read())
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:] if lines else text.splitlines())

    def enter_mounts(self):
        """A command prefix that runs a host process (in the host's PIDs and cgroup, with the
        caller's environment) in the container's mount namespace and root: a file system
        mounted by it is the container's."""
        leader = _load_ident(self._file("leader.pid"))
        if not _alive(leader):
            raise RuntimeError("sandbox %r is not running" % self.name)
        return ["nsenter", "-t", str(leader[0]), "-m", "-r", "-w", "--"]

    def exec(self, *cmd, check=True, timeout=60, env=None):
        """Runs cmd inside the container (all its namespaces and root) with a clean
        environment (PATH, LANG=C.UTF-8, SYSTEMD_PAGER=cat, SYSTEMD_COLORS=0, plus `env`).
        Returns a text-mode subprocess.CompletedProcess with stdout and stderr captured; raises
        SandboxExecError on a non-zero status if check, subprocess.TimeoutExpired on timeout."""
        leader = _load_ident(self._file("leader.pid"))
        if not _alive(leader):
            raise RuntimeError("sandbox %r is not running" % self.name)
        variables = ["%s=%s" % kv for kv in dict(INNER_ENV, **(env or {})).items()]
        argv = ["nsenter", "-t", str(leader[0]), "-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w",
                "--", "env", "-i", *variables, *cmd]
        with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors="replace",
                              start_new_session=True) as p:
            try:
                out, err = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)    # nsenter and the command it forked
                out, err = p.communicate(timeout=10)
                raise subprocess.TimeoutExpired(list(cmd), timeout, out, err) from None
        if check and p.returncode != 0:
            raise SandboxExecError(p.returncode, list(cmd), out, err)
        return subprocess.CompletedProcess(list(cmd), p.returncode, out, err)

    def stop(self):
        """Halts the container and removes its mounts, state and cgroup directories.
        Safe to call at any time and more than once; never raises."""
        try:
            _teardown(self.name, self._proc)
        except Exception as e:      # noqa: BLE001 - cleanup must not mask the real failure
            sys.stderr.write("sandbox %s: cleanup failed: %r\n" % (self.name, e))
        self._proc = None
        if _active.get(self.name) is self:
            del _active[self.name]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _teardown(name, proc=None):
    """Stops whatever is left of sandbox `name` (this run's or a crashed one's) and removes it."""
    sd = os.path.join(STATE_BASE, name)
    nspawn = _load_ident(os.path.join(sd, "nspawn.pid"))
    leader = _load_ident(os.path.join(sd, "leader.pid"))
    cgroups = set(_cgroup_dirs(name))
    with contextlib.suppress(OSError), open(os.path.join(sd, "cgroups")) as f:
        cgroups.update(line.strip() for line in f if line.strip())
    if os.path.exists(os.path.join(sd, "ready")) and _signal(nspawn, signal.SIGTERM):
        _wait_gone(nspawn, HALT_TIMEOUT, proc)              # orderly halt of the container
    # Still booting (an early init ignores the halt signal) or the halt timed out: SIGKILL to
    # the leader takes its whole PID namespace down, and systemd-nspawn then exits by itself.
    deadline = time.monotonic() + 10
    while _alive(nspawn) and time.monotonic() < deadline:
        if not _alive(leader):
            found = _find_leader(nspawn[0])
            leader = (found and _ident(found)) or leader
        _signal(leader, signal.SIGKILL)
        if proc is not None:
            proc.poll()
        time.sleep(0.05)
    if _signal(leader, signal.SIGKILL):     # nspawn died but left its container behind
        _wait_gone(leader, 10)
    if _signal(nspawn, signal.SIGKILL):
        _wait_gone(nspawn, 10, proc)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    for point in _mounts_under(sd):
        if _run_quiet("umount", point).returncode != 0:
            _run_quiet("umount", "-l", point)
    if os.path.isdir(sd) and not _mounts_under(sd):  # never recurse into a mounted overlay
        shutil.rmtree(sd, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(STATE_BASE)
    for cg in cgroups:
        _remove_cgroup_tree(cg, name)


def _reap_orphans(name):
    """Cleans up the state of sandbox `name` left by an earlier run, and that of any sandbox
    whose owning process has died. Refuses to touch `name` while another process owns it."""
    for other in sorted(os.listdir(STATE_BASE)) if os.path.isdir(STATE_BASE) else []:
        owner_file = os.path.join(STATE_BASE, other, "owner.pid")
        owner = _load_ident(owner_file)
        if _alive(owner) and owner[0] != os.getpid():
            if other == name:
                raise RuntimeError("sandbox %r is in use by process %d" % (name, owner[0]))
        elif (other == name or os.path.exists(owner_file)) and _active.get(other) is None:
            _teardown(other)


def stop_all():
    """Stops every sandbox this process started that is still running."""
    for sandbox in list(_active.values()):
        sandbox.stop()


def install_signal_cleanup(signums=(signal.SIGTERM,)):
    """Makes SIGTERM (meson's test timeout) stop every running sandbox before the previous
    handler runs or, if that was the default, the process dies of the signal. Call it from the
    main thread; calling it again is harmless."""
    def handler(signum, frame):
        stop_all()
        previous = _signals_installed[signum]
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for signum in signums:
        if signum not in _signals_installed:
            _signals_installed[signum] = signal.signal(signum, handler)


atexit.register(stop_all)
