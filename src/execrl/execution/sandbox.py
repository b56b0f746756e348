"""What isolation this host allows, and how a sandboxed child enters it.

Levels, weakest first (``Executor(min_isolation=...)`` refuses to run below one):

- ``process``: own process group, rlimits (CPU, address space, processes, file
  size, open files, no core dumps), a fresh working directory, a scrubbed environment; the
  worker is a child subreaper, so detached grandchildren come back to it and are killed.
- ``namespaces``: also a private network namespace (no network) and a private mount namespace
  with empty tmpfs over ``/tmp``, ``/var/tmp`` and ``/dev/shm`` (needs root or user namespaces).
- ``cgroups``: also a cgroup v1 ``pids`` + ``memory`` group per worker (fork bombs and memory
  bombs are capped by the kernel, every straggler is found and killed), and the program runs as
  ``nobody`` (needs root).
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

LEVELS = ["process", "namespaces", "cgroups"]
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
NOBODY = 65534
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")
CGROUP_ROOT = Path("/sys/fs/cgroup")
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}

_libc = ctypes.CDLL(None, use_errno=True)


def level_rank(level: str) -> int:
    if level not in LEVELS:
        raise ValueError(f"isolation level {level!r} unknown; choose one of {LEVELS}")
    return LEVELS.index(level)


@dataclass
class Limits:
    """Per-program limits (seconds, MiB, counts)."""

    cpu_s: int = 10
    memory_mb: int = 512
    nproc: int = 64
    fsize_mb: int = 16
    nofile: int = 64
    address_space: bool = True  # off for the JVM, which reserves large virtual ranges


@dataclass
class Capabilities:
    """What this host allows a worker to do (probed once)."""

    root: bool = False
    netns: bool = False
    userns: bool = False
    cgroups: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        if self.cgroups and self.netns and self.root:
            return "cgroups"
        if self.netns:
            return "namespaces"
        return "process"

    def describe(self) -> str:
        parts = ["process group", "rlimits", "subreaper"]
        if self.netns:
            parts += ["netns", "mountns+tmpfs"]
        if self.cgroups and self.root:
            parts += ["pids+memory cgroup", "uid nobody"]
        return f"{self.level} ({', '.join(parts)})"


def _try_in_child(fn) -> bool:
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if fn() else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def unshare(flags: int) -> bool:
    return _libc.unshare(flags) == 0


def probe() -> Capabilities:
    """Find out, in throwaway children, which isolation this host grants."""
    caps = Capabilities(root=os.geteuid() == 0)
    if caps.root:
        caps.netns = _try_in_child(lambda: unshare(CLONE_NEWNET | CLONE_NEWNS))
    else:
        caps.userns = _try_in_child(lambda: unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS))
        caps.netns = caps.userns
    caps.cgroups = caps.root and all(os.access(CGROUP_ROOT / c, os.W_OK) for c in ("pids", "memory"))
    if not caps.netns:
        caps.notes.append("no network/mount namespaces (needs root or unprivileged user namespaces)")
    if not caps.cgroups:
        caps.notes.append("no writable cgroup v1 pids+memory hierarchies (needs root)")
    return caps


class WorkerCgroup:
    """A cgroup v1 pids+memory group holding one worker's sandboxed children."""

    def __init__(self, name: str, memory_mb: int, pids: int) -> None:
        self.dirs = [CGROUP_ROOT / c / "execrl" / name for c in ("pids", "memory")]
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
        (self.dirs[0] / "pids.max").write_text(str(pids))
        mem = self.dirs[1]
        (mem / "memory.limit_in_bytes").write_text(str(memory_mb * 1024 * 1024))
        try:  # no swap escape hatch where swap accounting exists
            (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_mb * 1024 * 1024))
        except OSError:
            pass
        self._failcnt = self.failcnt()

    def join(self, pid: int) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.dirs[0] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def failcnt(self) -> int:
        try:
            return int((self.dirs[1] / "memory.failcnt").read_text())
        except (OSError, ValueError):
            return 0

    def hit_memory_limit(self) -> bool:
        """True if the memory limit was hit since the last call."""
        now = self.failcnt()
        hit, self._failcnt = now > self._failcnt, now
        return hit

    def kill_all(self) -> None:
        """Kill every process in the group except the worker that owns it."""
        me = os.getpid()
        for _ in range(50):
            pids = [p for p in self.pids() if p != me]
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.002)

    def remove(self) -> None:
        self.kill_all()
        for c in ("pids", "memory"):  # move ourselves out first, or rmdir fails
            try:
                (CGROUP_ROOT / c / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass
        for d in self.dirs:
            try:
                d.rmdir()
            except OSError:
                pass


def become_subreaper() -> None:
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def kill_descendants() -> None:
    """Kill and reap every descendant of this (subreaper) process."""
    import psutil

    for _ in range(20):
        kids = psutil.Process().children(recursive=True)
        if not kids:
            break
        for k in kids:
            try:
                k.kill()
            except psutil.Error:
                pass
        reap()
        time.sleep(0.002)
    reap()


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def enter_worker_namespaces(caps: Capabilities) -> None:
    """Called once in the worker: a private network and mount namespace (empty tmpfs over the
    shared temp dirs) that every sandboxed child inherits. Creating a network namespace costs
    milliseconds, so it is done per worker, not per program; ``clear_private_tmp`` wipes the
    tmpfs between programs."""
    if not caps.netns:
        return
    if not unshare(CLONE_NEWNET | CLONE_NEWNS | (0 if caps.root else CLONE_NEWUSER)):
        raise OSError(ctypes.get_errno(), "unshare failed")
    _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    for d in PRIVATE_TMP:
        _libc.mount(b"tmpfs", d.encode(), b"tmpfs", 0, b"size=64m,mode=1777")


def clear_private_tmp(caps: Capabilities) -> None:
    if not caps.netns:
        return
    for d in PRIVATE_TMP:
        try:
            for entry in os.scandir(d):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
        except OSError:
            pass


def enter(caps: Capabilities, limits: Limits, workdir: str, cgroup: WorkerCgroup | None) -> None:
    """Called in the forked child, before the untrusted program runs: rlimits, then drop to
    ``nobody``. The child is already in the worker's cgroup (membership is inherited at fork)."""
    os.setpgid(0, 0)  # own process group (setsid costs ~1 ms; the worker has no terminal anyway)
    mem = limits.memory_mb * 1024 * 1024
    rl = [
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_NPROC, limits.nproc),
        (resource.RLIMIT_FSIZE, limits.fsize_mb * 1024 * 1024),
        (resource.RLIMIT_NOFILE, limits.nofile),
        (resource.RLIMIT_CORE, 0),
    ]
    if limits.address_space:
        # a budget on top of what the forked worker already maps, or every import would fail
        rl.append((resource.RLIMIT_AS, _mapped_bytes() + mem))
    for what, value in rl:
        try:
            resource.setrlimit(what, (value, value))
        except (ValueError, OSError):
            pass
    os.chdir(workdir)
    if caps.root and cgroup is not None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    # the worker already runs with SAFE_ENV (+ PYTHONPATH), so this is cheap
    for k in [k for k in os.environ if k not in SAFE_ENV]:
        del os.environ[k]


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def workdir_base() -> Path:
    """Where per-run directories live: outside /tmp, which the mount namespace hides."""
    base = Path("/run/execrl") if os.geteuid() == 0 and Path("/run").is_dir() else Path(os.environ.get("TMPDIR", "/tmp")) / f"execrl-{os.getuid()}"
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)
    return base


def make_workdir(base: Path, owner_nobody: bool) -> str:
    import tempfile

    d = tempfile.mkdtemp(dir=base)
    os.chmod(d, 0o700)
    if owner_nobody:
        os.chown(d, NOBODY, NOBODY)
    return d


def remove_workdir(d: str) -> None:
    shutil.rmtree(d, ignore_errors=True)


def toolchains() -> dict[str, str | None]:
    return {t: shutil.which(t) for t in ("javac", "java", "g++", "gcc", "mcs", "mono", "php")}


