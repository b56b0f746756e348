"""What isolation this host allows, and how a sandboxed child enters it.

Levels, weakest first (``Executor(min_isolation=...)`` refuses to run below one):

- ``process``: own process group, rlimits (CPU, address space, processes, file
  size, open files, no core dumps), a fresh working directory, a scrubbed environment; the
  worker is a child subreaper, so detached grandchildren come back to it and are killed. Started
  by root, every program runs as an unprivileged uid of its own worker (never root), at every
  level; started by another user, as that user.
- ``namespaces``: also a private network namespace (no network) and a private mount namespace
  with empty tmpfs over ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run/lock``, and (root) a
  ``/proc`` that shows a program only its own uid's processes (needs root or user namespaces).
- ``cgroups``: also a cgroup v1 ``pids`` + ``memory`` group per worker (fork bombs and memory
  bombs are capped by the kernel, every straggler is found and killed) (needs root).
- ``sealed``: also, per worker, a bubblewrap jail (``bwrap``, the sandbox Flatpak uses): its own
  PID namespace with a fresh ``/proc`` (when the worker goes, everything it started goes; no host
  process is visible), a filesystem view of only the read-only system and Python directories
  a program needs and the runner's own modules (no project tree, no data, no home, no ``/run``,
  no ``/var``) plus a private tmpfs; each program in its own memory cgroup below its worker's,
  the worker shielded from the OOM killer; and a seccomp filter (``execution/seccomp.py``):
  no program starts another, no keyrings, IPC objects, namespaces, io_uring, ptrace and the
  rest of its deny list (needs root, bwrap, libseccomp).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from execrl.execution import seccomp

LEVELS = ["process", "namespaces", "cgroups", "sealed"]
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
NOBODY = 65534
# uids reserved for programs: each executor claims a block of UID_BLOCK (uid_block), worker i of
# it runs its programs as block + i, so no two workers' programs, of one executor or of two
# running side by side, share an identity (signals, /proc, RLIMIT_NPROC and files are per uid)
PROGRAM_UID, UID_BLOCK, UID_BLOCKS = 61000, 64, 60
CACHE_IN_VIEW = "/opt/execrl-cache"  # the host cache dir (precompiled headers), as the jail sees it
RUNNER_IN_VIEW = "/opt/execrl-runner"  # the runner's modules (runner_tree), as the jail sees them
# the execrl modules the worker and its children import: the whole of the project in the jail
RUNNER_MODULES = (
    "__init__.py",
    "execution/__init__.py",
    "execution/worker.py",
    "execution/harness.py",
    "execution/plain.py",
    "execution/sandbox.py",
    "execution/seccomp.py",
    "execution/cpp_pch.py",
)
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # world-writable: per-worker tmpfs
CGROUP_ROOT = Path("/sys/fs/cgroup")
SAFE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/nonexistent",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}

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
    """What this host allows a worker to do (probed once), and what a probe verified."""

    root: bool = False
    netns: bool = False
    userns: bool = False
    cgroups: bool = False
    bwrap: str | None = None  # path of a working bubblewrap
    seccomp: bool = False
    notes: list[str] = field(default_factory=list)
    verified: dict[str, bool] = field(
        default_factory=dict
    )  # property -> held, from Executor's start-up probe

    @property
    def sealed(self) -> bool:
        return bool(self.bwrap and self.seccomp and self.cgroups and self.root)

    @property
    def level(self) -> str:
        if self.sealed:
            return "sealed"
        if self.cgroups and self.netns and self.root:
            return "cgroups"
        if self.netns:
            return "namespaces"
        return "process"

    def describe(self) -> str:
        parts = ["process group", "rlimits", "subreaper"]
        parts += (
            ["uid per worker"]
            if self.root
            else [
                f"programs run as this user (uid {os.getuid()}): they can read and signal its processes"
            ]
        )
        if self.netns:
            parts += ["netns", "mountns+tmpfs"]
            parts += ["/proc hidepid"] if self.root and not self.sealed else []
        if self.cgroups and self.root:
            parts += ["pids+memory cgroup"]
        if self.sealed:
            parts += ["bwrap view", "pid namespace", "memory cgroup per program"]
        if self.seccomp:  # wherever libseccomp is present, not only when sealed
            parts += ["seccomp"]
        out = f"{self.level} ({', '.join(parts)})"
        if self.verified:
            out += "; verified: " + ", ".join(
                f"{k}={'ok' if v else 'FAILED'}" for k, v in self.verified.items()
            )
        return out


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
    caps.cgroups = caps.root and all(
        os.access(CGROUP_ROOT / c, os.W_OK) for c in ("pids", "memory")
    )
    caps.bwrap = _working_bwrap()
    caps.seccomp = _seccomp_available()
    if not caps.netns:
        caps.notes.append(
            "no network/mount namespaces (needs root or unprivileged user namespaces)"
        )
    if not caps.cgroups:
        caps.notes.append("no writable cgroup v1 pids+memory hierarchies (needs root)")
    if not caps.bwrap:
        caps.notes.append(
            "no working bubblewrap (apt: bubblewrap): no PID namespace or filesystem view"
        )
    if not caps.seccomp:
        caps.notes.append("no libseccomp binding (pip: pyseccomp): no syscall filter")
    return caps


def _working_bwrap() -> str | None:
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        r = subprocess.run(
            [
                path,
                "--unshare-pid",
                "--unshare-net",
                "--die-with-parent",
                "--ro-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "true",
            ],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return path if r.returncode == 0 else None


def _seccomp_available() -> bool:
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def jail_argv(
    caps: Capabilities, cache_dir: Path, cgroup_dirs: list[Path], runner: Path
) -> list[str]:
    """The bubblewrap command line a sealed worker runs under: a new PID, network, IPC and UTS
    namespace; read-only system and Python directories; the runner's modules (``runner``, a
    :func:`runner_tree`) at ``RUNNER_IN_VIEW``; a private /tmp; its own cgroup dirs."""
    # no --die-with-parent: its signal follows the *thread* that started bwrap, so an Executor made in
    # a thread that ends would lose its workers; the worker exits at EOF on its pipe, the janitor
    # kills what is left in its cgroup, and the PID namespace takes everything with the worker
    a = [
        caps.bwrap or "bwrap",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--new-session",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "0755",
        "--tmpfs",
        "/dev/shm",
        "--perms",
        "0755",
        "--size",
        str(1 << 30),
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        "/usr",
        "/usr",
        "--ro-bind",
        "/etc",
        "/etc",
    ]
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        p = Path("/", name)
        if p.is_symlink():
            a += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            a += ["--ro-bind", str(p), str(p)]
    pys = python_dirs()
    binds = [("--ro-bind", d, d) for d in pys] + [
        ("--bind", str(cache_dir), CACHE_IN_VIEW),
        ("--ro-bind", str(runner), RUNNER_IN_VIEW),
    ]
    # an execrl installed into the environment (not a checkout) would come in with it: hide it
    installed = Path(execrl_dir(), "execrl")
    if any(str(installed).startswith(d.rstrip("/") + "/") for d in pys):
        binds.append(("--tmpfs", None, str(installed)))
    binds += [("--bind", str(d), str(d)) for d in cgroup_dirs]
    made: set[str] = set()
    for how, src, dest in binds:
        for parent in reversed(Path(dest).parents[:-1]):  # bwrap would make missing parents 0700
            if (
                src is not None  # a tmpfs over a path inside a bound dir: its parents exist
                and str(parent) not in made
                and not parent.is_symlink()
                and str(parent) not in ("/usr", "/etc")
            ):
                a += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        a += [how, dest] if src is None else [how, src, dest]
    if caps.root:
        a += [
            "--cap-add",
            "ALL",
        ]  # the worker itself stays root: it drops each program to its own uid
    return a + ["--setenv", "TMPDIR", "/tmp", "--chdir", "/tmp", "--"]


def execrl_dir() -> str:
    """The directory this process imports the execrl package from (never bound into the jail)."""
    import execrl

    return str(Path(execrl.__file__).resolve().parents[1])


def runner_tree(base: Path) -> Path:
    """A directory holding ``execrl`` with only ``RUNNER_MODULES``, copied from the execrl this
    process imports (a checkout on PYTHONPATH, or the installed one) and named by their content:
    what a sealed worker imports, and all of the project a program can see. Nothing in it
    reads data or generates tests."""
    import hashlib

    src = Path(execrl_dir(), "execrl")
    blobs = {m: (src / m).read_bytes() for m in RUNNER_MODULES}
    h = hashlib.sha256()
    for m, b in blobs.items():
        h.update(m.encode() + b"\0" + hashlib.sha256(b).digest())
    d = base / f"runner-{h.hexdigest()[:20]}"
    if d.is_dir():
        return d
    tmp = base / f".runner-{os.getpid()}-{time.monotonic_ns()}"
    for m, b in blobs.items():
        (tmp / "execrl" / m).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "execrl" / m).write_bytes(b)
    for root, dirs, files in os.walk(tmp):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o755)
        for n in files:
            os.chmod(os.path.join(root, n), 0o644)
    os.chmod(tmp, 0o755)
    try:
        os.rename(tmp, d)
    except OSError:  # another executor made the same tree first
        shutil.rmtree(tmp, ignore_errors=True)
    return d


def python_dirs() -> list[str]:
    """The interpreter and its environment: nothing of the project (the runner comes apart)."""
    dirs = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
    }
    exe = Path(sys.executable).resolve()
    dirs.add(str(exe.parent.parent))
    out: list[str] = []
    for d in sorted(
        dirs, key=len
    ):  # parents first: a child already inside a bound parent is skipped
        if (
            Path(d).is_dir()
            and d not in ("/", "/usr")
            and not any(d.startswith(o.rstrip("/") + "/") for o in out)
        ):
            out.append(d)
    return out


def cache_dir(name: str = "execrl") -> Path:
    """A host directory the trusted worker keeps build caches in (precompiled headers; the
    runner trees under ``execrl-runner``, apart: the cache is bound into the jail whole)."""
    base = (
        Path("/var/cache", name)
        if os.geteuid() == 0
        else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / name
    )
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    return base


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
        self.run_dir: Path | None = None
        self.run_procs = ""
        self.compile_procs = ""
        self._program_mb: int | None = None  # the program group's limit as last written
        self._procs = str(self.dirs[0] / "cgroup.procs")
        self._pids_current = str(self.dirs[0] / "pids.current")
        self._failcnt = self.failcnt()

    def add_program_group(self) -> None:
        """A memory cgroup below this one for the program alone: its OOM stays inside it. And
        one beside it for compiles: what a compiler writes stays cached on the worker's tmpfs,
        and memory stays charged to the cgroup that wrote it, so the program group must never
        be the one (a few large cached binaries made an honest program's run a memory_limit)."""
        self.run_dir = self.dirs[1] / "run"
        self.run_dir.mkdir(exist_ok=True)
        self.run_procs = str(self.run_dir / "cgroup.procs")
        compile_dir = self.dirs[1] / "compile"
        compile_dir.mkdir(exist_ok=True)
        self.compile_procs = str(compile_dir / "cgroup.procs")
        # as a program group's largest: a compiler's OOM stays in its group, never the worker's
        outer = int((self.dirs[1] / "memory.limit_in_bytes").read_text())
        for f in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            try:
                (compile_dir / f).write_text(str(outer - (96 << 20)))
            except OSError:
                pass
        self._failcnt = self.failcnt()

    def set_program_memory(self, memory_mb: int) -> None:
        if self.run_dir is None or memory_mb == self._program_mb:
            return
        self._program_mb = memory_mb
        outer = int((self.dirs[1] / "memory.limit_in_bytes").read_text())
        limit = str(min(memory_mb << 20, outer - (96 << 20)))
        for f in (
            "memory.memsw.limit_in_bytes",
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
        ):
            try:  # memsw must stay >= limit: write in whichever order the current values allow
                (self.run_dir / f).write_text(limit)
            except OSError:
                pass

    def join(self, pid: int) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in _read_file(self._procs).split()]
        except OSError:
            return []

    def failcnt(self) -> int:
        """Times the memory limit was hit, plus OOM kills (the kernel counts them apart)."""
        d = self.run_dir or self.dirs[1]
        n = 0
        try:
            n += int(_read_file(d / "memory.failcnt"))
            for line in _read_file(d / "memory.oom_control").splitlines():
                if line.startswith(b"oom_kill "):
                    n += int(line.split()[1])
        except (OSError, ValueError):
            pass
        return n

    def hit_memory_limit(self) -> bool:
        """True if the memory limit was hit since the last call."""
        now = self.failcnt()
        hit, self._failcnt = now > self._failcnt, now
        return hit

    def kill_all(self) -> None:
        """Kill every process in the group except the worker that owns it."""
        me = os.getpid()
        for _ in range(50):
            # pids outside this PID namespace read as 0; 1 is the jail's init
            pids = [p for p in self.pids() if p > 1 and p != me]
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.002)

    def wait_released(self, timeout: float = 2.0) -> None:
        """Reap until the group holds only the worker's own tasks. A killed program's processes
        count against the next program's process limits (``pids.max``, ``RLIMIT_NPROC``) until
        they are reaped, and some become zombies only after ``kill_all`` saw them leave."""
        deadline = time.monotonic() + timeout
        while True:
            reap()
            try:
                ours = len(os.listdir("/proc/self/task"))  # every thread of the worker counts
                left = int(_read_file(self._pids_current)) - ours
            except (OSError, ValueError):
                return
            if left <= 0 or time.monotonic() > deadline:
                return
            self.kill_all()
            time.sleep(0.0005)

    def remove(self) -> None:
        self.kill_all()
        for c in ("pids", "memory"):  # move ourselves out first, or rmdir fails
            try:
                (CGROUP_ROOT / c / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                pass
        subs = [self.run_dir, self.run_dir.parent / "compile"] if self.run_dir else []
        for d in subs + self.dirs:
            try:
                d.rmdir()
            except OSError:
                pass


# Run as an ordinary program at start-up: each line checks one containment property from the
# inside. ``hidden`` are host paths (the project tree, a marker in the host's /tmp), ``socket`` a
# Unix socket listening on the host, ``judge`` the executor's pid; the verdict is what the
# program could and could not do.
PROBE_PROGRAM = r"""
import ctypes, json, os, socket, subprocess, sys, time
info = json.loads(sys.stdin.read())
def denied(fn):
    try:
        fn()
    except Exception:
        return True
    return False
def write(path):
    with open(path, "w") as f:
        f.write("x")
    os.unlink(path)  # below the sealed level this can succeed: leave nothing behind
def connect_unix():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    s.connect(info["socket"])
libc = ctypes.CDLL(None, use_errno=True)
def judge_unreachable():
    # the judge's working directory and memory (where tests and data are) through /proc
    pid = info["judge"]
    return denied(lambda: os.listdir(f"/proc/{pid}/cwd")) and denied(
        lambda: open(f"/proc/{pid}/mem", "rb").close()
    )
def ptrace_denied():
    # attach to a child of our own (never the worker: that would stop it where ptrace is allowed)
    pid = os.fork()
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    denied = libc.ptrace(16, pid, 0, 0) == -1
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return denied
pids = [p for p in os.listdir("/proc") if p.isdigit()]
print(json.dumps({
    "project_hidden": not any(os.path.exists(p) for p in info["hidden"]),
    "host_processes_hidden": len(pids) <= 4,
    "host_dirs_unwritable": all(denied(lambda d=d: write(os.path.join(d, "execrl-probe"))) for d in ("/run/lock", "/var/tmp", "/dev/shm", "/tmp")),
    "ptrace_denied": ptrace_denied(),
    "unix_socket_denied": denied(connect_unix),
    "network_denied": denied(lambda: socket.create_connection(("1.1.1.1", 53), timeout=1)),
    "exec_denied": denied(lambda: subprocess.run(["/bin/true"], check=True)),
    "never_root": os.geteuid() != 0 and os.getuid() != 0,
    "judge_unreachable": judge_unreachable(),
}))
"""


def start_janitor() -> subprocess.Popen:
    """A detached process that outlives this one: when it exits, however it exits (SIGKILL
    included), the janitor kills whatever is left in this process's worker cgroups and removes
    them. Stale groups of executors that died without one are removed now."""
    sweep_stale_cgroups()
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from execrl.execution.sandbox import janitor; janitor()",
            str(os.getpid()),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def janitor() -> None:
    import select

    owner = int(sys.argv[-1])
    try:
        fd = os.pidfd_open(owner)
        select.select([fd], [], [])
    except ProcessLookupError:
        pass
    remove_cgroups_of(owner)


def remove_cgroups_of(owner: int) -> None:
    for c in ("pids", "memory"):
        for d in sorted((CGROUP_ROOT / c / "execrl").glob(f"{owner}-*"), reverse=True):
            for sub in (d / "run", d / "compile", d):
                if not sub.is_dir():
                    continue
                for _ in range(100):
                    try:
                        pids = [int(x) for x in (sub / "cgroup.procs").read_text().split()]
                    except OSError:
                        pids = []
                    for p in pids:
                        try:
                            os.kill(p, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    try:
                        sub.rmdir()
                        break
                    except OSError:
                        time.sleep(0.02)


def sweep_stale_cgroups() -> None:
    for c in ("pids", "memory"):
        for d in (CGROUP_ROOT / c / "execrl").glob("*-w*"):
            owner = d.name.split("-", 1)[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                remove_cgroups_of(int(owner))


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
        if (
            os.path.isdir(d)
            and _libc.mount(b"tmpfs", d.encode(), b"tmpfs", 0, b"size=64m,mode=1777") == 0
        ):
            _PRIVATE.append(d)
    if caps.root:
        # a /proc of this mount namespace that shows a program only its own uid's processes:
        # not the judge, not the workers, not another worker's programs (root still sees all)
        for opts in (b"hidepid=invisible", b"hidepid=2"):
            if _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) == 0:
                break


_PRIVATE: list[str] = []  # the temp dirs this worker's tmpfs really covers (only these are wiped)


def clear_private_tmp(caps: Capabilities) -> None:
    if not caps.netns:
        return
    for d in _PRIVATE:
        try:
            for entry in os.scandir(d):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
        except OSError:
            pass


def enter(
    caps: Capabilities,
    limits: Limits,
    workdir: str,
    cgroup: WorkerCgroup | None,
    uid: int = NOBODY,
    program_run: bool = False,
    mapped: int = 0,
    gate_fd: int | None = None,
) -> None:
    """Called in the forked child, before the untrusted program runs: its own memory cgroup (a
    compile: the compile group), rlimits, then its worker's uid (whenever the worker is root),
    no new privileges and the syscall filter (``execution/seccomp.py``). ``program_run`` (not a
    compile): the program may not start any program; ``gate_fd`` (a program this child execs):
    the filter's listener goes to the worker through it, which lets exactly the runner's own
    exec through.
    ``mapped``: what the worker maps (the address-space budget comes on top). Raw ``os``
    calls: this runs once per program, and Python's file objects cost a tenth of a ms each."""
    os.setpgid(0, 0)  # own process group (setsid costs ~1 ms; the worker has no terminal anyway)
    if caps.root:  # the OOM killer picks the program, never its worker
        _write_file("/proc/self/oom_score_adj", b"1000")
    if cgroup is not None and cgroup.run_dir is not None:
        _write_file(cgroup.run_procs if program_run else cgroup.compile_procs, b"0", strict=True)
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
        rl.append((resource.RLIMIT_AS, (mapped or mapped_bytes()) + mem))
    for what, value in rl:
        try:
            resource.setrlimit(what, (value, value))
        except (ValueError, OSError):
            pass
    os.chdir(workdir)
    if caps.root:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if caps.seccomp:
        if gate_fd is not None:
            seccomp.send_listener(gate_fd, seccomp.syscall_filter("exec").load_with_listener())
        else:
            seccomp.syscall_filter("python" if program_run else "compile").load()
    # the worker already runs with SAFE_ENV (+ PYTHONPATH), so this is cheap
    for k in [k for k in os.environ if k not in SAFE_ENV]:
        del os.environ[k]


def _write_file(path: str | Path, data: bytes, strict: bool = False) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError:
        if strict:
            raise


def _read_file(path: str | Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def mapped_bytes() -> int:
    try:
        return int(_read_file("/proc/self/statm").split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def workdir_base() -> Path:
    """Where per-run directories live: outside /tmp, which the mount namespace hides."""
    base = (
        Path("/run/execrl")
        if os.geteuid() == 0 and Path("/run").is_dir()
        else Path(os.environ.get("TMPDIR", "/tmp")) / f"execrl-{os.getuid()}"
    )
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)
    return base


def claim_uid_block() -> tuple[int, int]:
    """The first uid of a block of ``UID_BLOCK`` program uids that no other live executor on
    this host holds, and the descriptor whose lock holds it (for this process's life: the
    kernel drops the lock however the process ends). Root only."""
    import fcntl

    d = Path("/run/execrl-uids")
    d.mkdir(mode=0o700, exist_ok=True)
    for k in range(UID_BLOCKS):
        fd = os.open(d / f"block-{k}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return PROGRAM_UID + k * UID_BLOCK, fd
    raise RuntimeError(f"all {UID_BLOCKS} blocks of sandbox uids are held by live executors")


_WORKDIRS = itertools.count()


def make_workdir(base: Path, owner: int | None) -> str:
    """A fresh, private run directory under ``base`` (only the worker creates entries there)."""
    while True:
        d = f"{base}/r{os.getpid()}-{next(_WORKDIRS)}"
        try:
            os.mkdir(d, 0o700)
            break
        except FileExistsError:  # left by an earlier worker of the same pid
            continue
    if owner is not None:
        os.chown(d, owner, owner)
    return d


def seal_dir(d: str, gid: int) -> None:
    """Take a compile directory from the program that compiled it: everything in it root-owned
    and read-only, the directory itself closed (0700) until :func:`lend_dir` opens it to the
    group ``gid`` (the program's own) for the run of what was compiled there, and only that run:
    another program of the same worker cannot read a translation oracle's ``Test.java``, another
    sample's source or binary, however it guesses the name."""
    root = os.geteuid() == 0
    for top, dirs, files in os.walk(d):
        for name in [*dirs, *files]:
            p = os.path.join(top, name)
            if root:
                os.lchown(p, 0, 0)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode & 0o755)
    if root:
        os.chown(d, 0, gid)
    os.chmod(d, 0o700)


def lend_dir(d: str) -> None:
    """Open a sealed compile directory, read-only, to its own program's group for one run."""
    os.chmod(d, 0o750)


def unlend_dir(d: str) -> None:
    os.chmod(d, 0o700)


def remove_workdir(d: str) -> None:
    try:
        os.rmdir(d)  # most runs leave their directory empty
    except OSError:
        shutil.rmtree(d, ignore_errors=True)


def toolchains() -> dict[str, str | None]:
    return {t: shutil.which(t) for t in ("javac", "java", "g++", "gcc", "mcs", "mono", "php")}
