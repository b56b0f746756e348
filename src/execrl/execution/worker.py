"""A long-lived, pre-warmed worker: runs untrusted programs in freshly forked, sandboxed
children and relays what they say (started by the Executor as its own process).

Forking a warm interpreter costs about a millisecond, where starting a new one costs tens, so
the worker is what makes execution fast; the child is what makes it safe. The worker never
holds a test: it receives a program and its inputs (:class:`RunSpec`), and the judge's
questions as opaque frames; it returns how each run ended (:class:`RunReport`) and the child's
frames, undecoded. Whatever a child writes is bounded, and a child's run always ends by the
deadline the judge set, which nothing the child says can extend.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import re
import select
import selectors
import signal
import struct
import sys
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from execrl.execution import harness, plain, sandbox, seccomp
from execrl.execution.cpp_pch import pch_include_dir


# ----------------------------------------------------------------------------- framing (judge <-> worker: both trusted)
def send_msg(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    buf = struct.pack("<Q", len(data)) + data
    while buf:
        n = os.write(fd, buf)
        buf = buf[n:]


def recv_msg(fd: int, timeout: float | None = None) -> Any:
    """One message, or None if the peer is gone; ``TimeoutError`` past ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    head = _read_exact(fd, 8, deadline)
    if head is None:
        return None
    (n,) = struct.unpack("<Q", head)
    body = _read_exact(fd, n, deadline)
    return None if body is None else pickle.loads(body)


def _read_exact(fd: int, n: int, deadline: float | None = None) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no reply from the sandbox worker")
        b = os.read(fd, n - got)
        if not b:
            return None
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


# ----------------------------------------------------------------------------- what is asked, what comes back
@dataclass
class WorkerConfig:
    timeout_s: float = 4.0
    compile_timeout_s: float = 20.0
    memory_mb: int = 512
    max_output_bytes: int = 1 << 20
    nproc: int = 64
    cpp_pch: bool = True  # precompiled <bits/stdc++.h> (execution/cpp_pch.py)
    name: str = "w0"
    caps: sandbox.Capabilities = field(default_factory=sandbox.Capabilities)
    cgroup: str | None = None  # the worker's cgroup, made by the Executor (which also removes it)
    uid: int = sandbox.NOBODY  # the identity its programs run under


@dataclass
class RunSpec:
    """Run one program: no tests, no expected output, only the program and what to feed it.

    - ``kind="script"``: run it once on ``stdin`` (compiled languages: compile first, cached).
    - ``kind="module"``: build it as a Python module and keep it alive to answer requests.
    - ``kind="compile"``: compile (Python: byte-compile) only.
    """

    kind: Literal["script", "module", "compile"]
    program: str
    language: str = "python"
    stdin: str = ""
    prelude: bool = False  # APPS' import block before the program
    apps_compat: bool = False  # run as APPS' harness does (scripts only)
    wrap_fallback: bool = False  # a script that only compiles inside APPS' def code(): wrapper
    module_name: str = "solution"
    timeout_s: float = 4.0  # per run, or per module build and per request
    total_s: float = 8.0  # the whole run or session, whatever the child says
    memory_mb: int | None = None  # None: the worker's default; 0: no address-space cap


@dataclass
class RunReport:
    """How a child's run ended, from the worker's own observations, plus the child's frames."""

    exit_code: int | None = None
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    frames: list[bytes] = field(default_factory=list)
    timed_out: bool = False
    output_exceeded: bool = False
    memory_hit: bool = False
    compile_error: str | None = None  # compiled languages: the compiler's message
    elapsed: float = 0.0


class _Child:
    """A running sandboxed child and the pipes the worker watches."""

    def __init__(self, pid: int, fds: dict[str, int], total_s: float, workdir: str | None) -> None:
        self.pid, self.fds, self.workdir = pid, fds, workdir
        self.t0 = time.monotonic()
        self.cap = self.t0 + total_s
        self.stdout, self.stderr, self.chan = bytearray(), bytearray(), bytearray()
        self.frames: list[bytes] = []
        self.pending = b""  # request bytes not yet written to the child
        self.spec: RunSpec | None = None
        self.feeder: threading.Thread | None = None
        self.exited = self.timed_out = self.output_exceeded = False
        self.pidfd = os.pidfd_open(pid)
        self.sel = selectors.DefaultSelector()
        for name in ("out", "err", "chan"):
            os.set_blocking(fds[name], False)
            self.sel.register(fds[name], selectors.EVENT_READ, name)
        self.sel.register(self.pidfd, selectors.EVENT_READ, "pid")
        if "req" in fds:
            os.set_blocking(fds["req"], False)


class Worker:
    """Runs one sandboxed child at a time; keeps compiled programs for reuse."""

    def __init__(self, cfg: WorkerConfig) -> None:
        self.cfg = cfg
        self.sealed = cfg.caps.sealed
        # sealed: the jail's private /tmp; otherwise a host dir outside the /tmp the mount namespace hides
        self.base = Path("/tmp/execrl") if self.sealed else sandbox.workdir_base()
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o711)
        self.cache = Path(sandbox.CACHE_IN_VIEW) if self.sealed else self.base
        self.cgroup = None
        if cfg.cgroup is not None:
            # the worker sits in its cgroup so that children inherit it at fork for free; sealed,
            # each program then moves to a memory group of its own below it
            self.cgroup = sandbox.WorkerCgroup(cfg.cgroup, worker_memory_mb(cfg), cfg.nproc + 1)
            if self.sealed:
                self.cgroup.add_program_group()
            self.cgroup.join(os.getpid())
        if cfg.caps.root:  # the OOM killer takes programs (1000, sandbox.enter), not the worker
            try:
                Path("/proc/self/oom_score_adj").write_text("-1000")
            except (
                OSError
            ):  # some hosts refuse negative values even to root: programs at 1000 still go first
                pass
        if not self.sealed:  # sealed: bubblewrap already made the namespaces
            sandbox.enter_worker_namespaces(cfg.caps)
        if cfg.caps.seccomp:
            for kind in seccomp.KINDS:
                seccomp.syscall_filter(kind)
        self.compiled: OrderedDict[str, tuple[str | None, list[str] | None, str]] = OrderedDict()
        self._compiled_bytes: dict[str, int] = {}  # what each cached compile dir holds
        self._pch: Path | bool | None = None  # built at the first C++ compile; False: unavailable
        self.session: _Child | None = None
        self._numpy_warm = False
        sandbox.become_subreaper()

    def _warm_numpy(self) -> None:
        """Import numpy into the zygote, once, when the first program needs it (APPS' prelude
        imports it): it would cost each such program ~50 ms, and every other one a larger fork."""
        self._numpy_warm = True
        try:
            import numpy  # noqa: F401
        except ImportError:
            return
        gc.freeze()

    # ------------------------------------------------------------------ messages from the judge
    def handle(self, msg: tuple) -> tuple:
        """``script``/``compile`` -> report; ``open``/``req`` -> frame or report; ``close`` -> report."""
        op = msg[0]
        try:
            if op == "script":
                return ("report", self.script(msg[1]))
            if op == "compile":
                return ("report", self.compile_only(msg[1]))
            if op == "open":
                self.close_session()
                return self.open_session(msg[1])
            if op == "req":
                return self.request(msg[1])
            if op == "close":
                return ("report", self.close_session() or RunReport())
            return ("error", f"unknown message {op!r}")
        except Exception:
            self.close_session()
            return ("error", traceback.format_exc()[-1500:])

    def script(self, spec: RunSpec) -> RunReport:
        lang = _language(spec.language)
        if lang == "python":
            target = (
                "py",
                harness.run_script,
                (spec.program, spec.prelude, spec.apps_compat, spec.wrap_fallback),
            )
            child = self.start(target, spec.stdin.encode("utf-8", "surrogatepass"), spec)
            self.pump(child, child.cap, until_frame=False)
            return self.finish(child)
        d, run, err = self._compile(spec.program, lang)
        if d is None:
            return RunReport(compile_error=err)
        vm = lang in (
            "java",
            "csharp",
        )  # JVM / Mono: many threads and a large address-space reservation
        limits = sandbox.Limits(
            cpu_s=int(spec.total_s) + 2,
            memory_mb=self.cfg.memory_mb,
            nproc=max(self.cfg.nproc, 256) if vm else self.cfg.nproc,
            address_space=not vm,
        )
        sandbox.lend_dir(d)  # this run alone may read what was compiled for it
        try:
            child = self.start(
                ("exec", run), spec.stdin.encode("utf-8", "surrogatepass"), spec, limits
            )
            self.pump(child, child.cap, until_frame=False)
            return self.finish(child)  # every process of the run is gone when it returns
        finally:
            sandbox.unlend_dir(d)

    def compile_only(self, spec: RunSpec) -> RunReport:
        lang = _language(spec.language)
        if lang == "python":
            child = self.start(("py", harness.check_syntax, (spec.program,)), b"", spec)
            self.pump(child, child.cap, until_frame=False)
            return self.finish(child)
        _, _, err = self._compile(spec.program, lang)
        return RunReport(compile_error=err or None, exit_code=0)

    def open_session(self, spec: RunSpec) -> tuple:
        child = self.start(
            ("py", harness.serve_module, (spec.program, spec.prelude, spec.module_name)),
            b"",
            spec,
            module=True,
        )
        self.session = child
        frame = self.pump(
            child, min(child.cap, time.monotonic() + spec.timeout_s), until_frame=True
        )
        if frame is None:
            return ("report", self.close_session())
        return ("frame", frame)

    def request(self, data: bytes) -> tuple:
        child = self.session
        if child is None:
            return ("report", RunReport(exit_code=None))
        child.pending += struct.pack("<I", len(data)) + data
        frame = self.pump(
            child, min(child.cap, time.monotonic() + child.spec.timeout_s), until_frame=True
        )
        if frame is None:
            return ("report", self.close_session())
        return ("frame", frame)

    def close_session(self) -> RunReport | None:
        child, self.session = self.session, None
        return None if child is None else self.finish(child)

    # ------------------------------------------------------------------ child processes
    def start(
        self,
        target: tuple,
        stdin: bytes,
        spec: RunSpec,
        limits: sandbox.Limits | None = None,
        module: bool = False,
        workdir: str | None = None,
    ) -> _Child:
        """Fork a sandboxed child running ``target`` (``("py", fn, args)`` or ``("exec", argv)``)."""
        if limits is None:
            mem = self.cfg.memory_mb if spec.memory_mb is None else spec.memory_mb
            limits = sandbox.Limits(
                cpu_s=int(spec.total_s) + 2,
                memory_mb=mem or self.cfg.memory_mb,
                nproc=self.cfg.nproc,
                address_space=bool(mem),
            )
        owner = self.cfg.uid if self.cfg.caps.root else None
        wd = workdir or sandbox.make_workdir(self.base, owner)
        program_run = spec.kind != "compile"
        if self.cgroup is not None and program_run:  # compiles run in the compile group
            # above the address-space budget, so that a Python program meets its MemoryError first
            self.cgroup.set_program_memory(
                limits.memory_mb + 128 if limits.address_space else max(limits.memory_mb, 1024)
            )
        if not self._numpy_warm and target[0] == "py" and (spec.prelude or "numpy" in spec.program):
            self._warm_numpy()
        mapped = (
            sandbox.mapped_bytes() if limits.address_space else 0
        )  # the child's map, as of the fork
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        r_req, w_req = os.pipe()
        r_chan, w_chan = os.pipe()
        # a program this child execs: its runner's one exec passes the worker's gate (seccomp.py)
        gated = target[0] == "exec" and program_run and self.cfg.caps.seccomp
        r_gate, w_gate = os.pipe() if gated else (-1, -1)
        pid = os.fork()
        if pid == 0:  # ---------------- child
            try:
                for src, dst in (
                    (r_in, 0),
                    (w_out, 1),
                    (w_err, 2),
                    (r_req, harness.CHAN_IN),
                    (w_chan, harness.CHAN_OUT),
                ):
                    os.dup2(src, dst)
                if gated and w_gate != GATE_FD:  # pipes lie above the worker's own fds 0-5
                    os.dup2(w_gate, GATE_FD, inheritable=False)
                os.closerange(GATE_FD + 1 if gated else GATE_FD, _max_fd())
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                sandbox.enter(
                    self.cfg.caps,
                    limits,
                    wd,
                    self.cgroup,
                    uid=self.cfg.uid,
                    program_run=program_run,
                    mapped=mapped,
                    gate_fd=GATE_FD if gated else None,
                )
                if target[0] == "exec":
                    os.execve(target[1][0], target[1], dict(os.environ))
                target[1](*target[2])
                os._exit(0)
            except BaseException:
                try:
                    os.write(2, traceback.format_exc().encode()[-2000:])
                finally:
                    os._exit(111)
        # ---------------------------- parent
        for fd in (r_in, w_out, w_err, r_req, w_chan, *((w_gate,) if gated else ())):
            os.close(fd)
        if not module:
            os.close(w_req)
        fds = {"out": r_out, "err": r_err, "chan": r_chan, **({"req": w_req} if module else {})}
        child = _Child(pid, fds, spec.total_s, wd if workdir is None else None)
        child.spec = spec
        if gated:  # before any input: the child waits at its exec until the gate answers
            seccomp.open_exec_gate(pid, child.pidfd, r_gate, target[1][0], spec.timeout_s + 5)
        if stdin:
            child.feeder = threading.Thread(target=_feed, args=(w_in, stdin), daemon=True)
            child.feeder.start()
        else:
            os.close(w_in)
        return child

    def pump(self, c: _Child, deadline: float, until_frame: bool) -> bytes | None:
        """Collect the child's output until it sends a frame (``until_frame``) or exits, or until
        ``deadline``; returns the frame, or None once the child is gone or cut off."""
        while True:
            if until_frame and c.frames:
                return c.frames.pop(0)
            if c.exited or c.timed_out or c.output_exceeded:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                c.timed_out = True
                return None
            if c.pending:
                self._write_pending(c)
            for key, _ in c.sel.select(timeout=min(left, 1.0)):
                if key.data == "pid":
                    c.exited = True
                    self._drain(c)
                    break
                self._read(c, key.fd, key.data)

    def _write_pending(self, c: _Child) -> None:
        fd = c.fds["req"]
        while c.pending:
            if not select.select([], [fd], [], 0)[1]:
                return  # the child is not reading: keep the rest for the next turn
            try:
                n = os.write(fd, c.pending[: 1 << 16])
            except BlockingIOError:
                return
            except OSError:
                c.pending = b""
                return
            c.pending = c.pending[n:]

    def _read(self, c: _Child, fd: int, name: str) -> bool:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return False
        if not chunk:
            c.sel.unregister(fd)
            return False
        if name == "out":
            if len(c.stdout) + len(chunk) > self.cfg.max_output_bytes:
                c.output_exceeded = True
            else:
                c.stdout.extend(chunk)
        elif name == "err":
            c.stderr.extend(chunk)
            if len(c.stderr) > 1 << 16:  # keep the tail: that is where the traceback is
                del c.stderr[: len(c.stderr) - 8192]
        elif not c.output_exceeded:  # past the limit, frames are dropped unread
            c.chan.extend(chunk)
            while len(c.chan) >= 4:
                (n,) = struct.unpack("<I", c.chan[:4])
                if n > plain.MAX_BYTES:
                    c.output_exceeded = True
                    break
                if len(c.chan) < 4 + n:
                    break
                c.frames.append(bytes(c.chan[4 : 4 + n]))
                del c.chan[: 4 + n]
                # frames nobody asked for: a count, and a total (each frame alone is bounded)
                if len(c.frames) > 64 or sum(map(len, c.frames)) > plain.MAX_BYTES + (1 << 16):
                    c.output_exceeded = True
                    break
        return True

    def _drain(self, c: _Child) -> None:
        """Read what an exited child left in its pipes (grandchildren may hold them open)."""
        for key in list(c.sel.get_map().values()):
            if key.data == "pid":
                continue
            for _ in range(64):
                if not self._read(c, key.fd, key.data):
                    break

    def finish(self, c: _Child) -> RunReport:
        """Kill the child and everything it started, reap it, and report how its run ended."""
        if not c.exited:
            self._drain(c)
        for kill in (
            lambda: os.kill(c.pid, signal.SIGKILL),
            lambda: os.killpg(c.pid, signal.SIGKILL),
        ):
            try:
                kill()
            except (ProcessLookupError, PermissionError):
                pass
        _, status = os.waitpid(
            c.pid, 0
        )  # returns at once: it was SIGKILLed, whatever group it moved to
        if (
            self.sealed
        ):  # alone in its PID namespace with its init: every other process is the program's
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroup is not None:
            self.cgroup.kill_all()
        else:  # without a cgroup, detached grandchildren come back to us (subreaper)
            sandbox.kill_descendants()
        sandbox.reap()
        if c.feeder is not None:
            c.feeder.join(timeout=1)
            c.feeder = None
        if self.cgroup is not None:
            self.cgroup.wait_released()
        memory_hit = self.cgroup.hit_memory_limit() if self.cgroup is not None else False
        if not self.sealed:  # sealed, programs can write nowhere but their own work dir
            sandbox.clear_private_tmp(self.cfg.caps)
        c.sel.close()
        for fd in (*c.fds.values(), c.pidfd):
            try:
                os.close(fd)
            except OSError:
                pass
        if c.workdir:
            sandbox.remove_workdir(c.workdir)
        rep = RunReport(
            stdout=bytes(c.stdout),
            stderr=bytes(c.stderr[-4000:]),
            frames=c.frames,
            timed_out=c.timed_out,
            output_exceeded=c.output_exceeded,
            memory_hit=memory_hit,
            elapsed=time.monotonic() - c.t0,
        )
        if not c.exited and not c.timed_out and not c.output_exceeded:
            rep.timed_out = True  # cut off by the session's end while still running
        if os.WIFSIGNALED(status):
            rep.signal = os.WTERMSIG(status)
        else:
            rep.exit_code = os.WEXITSTATUS(status)
        return rep

    # ------------------------------------------------------------------ java / c++ / c / c# / php
    def _build_argv(self, program: bytes, lang: str, d: str) -> tuple[list[str], list[str]]:
        """Write ``program`` into ``d``; return (argv that compiles or checks it, argv that runs it)."""
        tools = sandbox.toolchains()
        if lang == "java":
            name = _java_main_class(program.decode("utf-8", "replace"))
            Path(d, f"{name}.java").write_bytes(program)
            return (
                [
                    tools["javac"] or "javac",
                    "-J-Xmx512m",
                    "-J-XX:+UseSerialGC",
                    "-J-XX:TieredStopAtLevel=1",
                    "-encoding",
                    "UTF-8",
                    "-nowarn",
                    "-d",
                    d,
                    f"{d}/{name}.java",
                ],
                [
                    tools["java"] or "java",
                    "-Xmx256m",
                    "-Xss64m",
                    "-XX:+DisableAttachMechanism",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-Xshare:auto",
                    "-cp",
                    d,
                    name,
                ],
            )
        if lang == "c":
            Path(d, "main.c").write_bytes(program)
            return [
                tools["gcc"] or "gcc",
                "-O1",
                "-std=gnu11",
                "-o",
                f"{d}/main",
                f"{d}/main.c",
                "-lm",
            ], [f"{d}/main"]
        if lang == "csharp":
            Path(d, "main.cs").write_bytes(program)
            return [
                tools["mcs"] or "mcs",
                "-nowarn:0162,0168,0219",
                "-out:" + f"{d}/main.exe",
                f"{d}/main.cs",
            ], [tools["mono"] or "mono", f"{d}/main.exe"]
        if lang == "php":
            Path(d, "main.php").write_bytes(
                program if program.lstrip().startswith(b"<?") else b"<?php\n" + program
            )
            # warnings go to stderr, as every other language's: stdout is what the program printed
            php = [
                tools["php"] or "php",
                "-d",
                "display_errors=stderr",
                "-d",
                "log_errors=0",
                "-d",
                "memory_limit=-1",
            ]
            return [*php, "-l", f"{d}/main.php"], [*php, f"{d}/main.php"]
        Path(d, "main.cpp").write_bytes(program)
        gxx, flags = tools["g++"] or "g++", ["-O1", "-std=c++17"]
        if self._pch is None:
            # a base on the worker's private tmpfs (rootless hosts) is per worker and too small for a .gch
            private = (
                not self.sealed
                and self.cfg.caps.netns
                and any(Path(t) in self.base.parents for t in sandbox.PRIVATE_TMP)
            )
            self._pch = (
                self.cfg.cpp_pch and not private and pch_include_dir(self.cache, gxx, flags)
            ) or False
        return [
            gxx,
            *flags,
            *(["-I", str(self._pch)] if self._pch else []),
            "-o",
            f"{d}/main",
            f"{d}/main.cpp",
        ], [f"{d}/main"]

    def _compile(self, program: str, lang: str) -> tuple[str | None, list[str] | None, str]:
        """Compile once per distinct program; returns (dir, argv to run, error)."""
        source = program.encode(
            "utf-8", "surrogatepass"
        )  # a lone surrogate is the compiler's problem
        key = hashlib.sha256(lang.encode() + b"\0" + source).hexdigest()
        if key in self.compiled:
            self.compiled.move_to_end(key)
            return self.compiled[key]
        owner = self.cfg.uid if self.cfg.caps.root else None
        d = sandbox.make_workdir(self.base, owner)
        limits = sandbox.Limits(
            cpu_s=int(self.cfg.compile_timeout_s) + 5,
            memory_mb=2048,
            nproc=max(self.cfg.nproc, 512),
            fsize_mb=64,
            nofile=256,
            address_space=False,
        )
        argv, run = self._build_argv(source, lang, d)
        if owner is not None:
            for f in Path(d).iterdir():
                os.chown(f, owner, owner)
        spec = RunSpec(
            kind="compile",
            program="",
            timeout_s=self.cfg.compile_timeout_s,
            total_s=self.cfg.compile_timeout_s,
        )
        child = self.start(("exec", argv), b"", spec, limits, workdir=d)
        self.pump(child, child.cap, until_frame=False)
        rep = self.finish(child)
        err = ""
        if rep.timed_out or rep.exit_code != 0:
            err = (
                "compile timeout"
                if rep.timed_out
                else (rep.stderr.decode(errors="replace")[-1500:] or "compile error")
            )
            entry: tuple = (None, None, err)
            sandbox.remove_workdir(d)
        else:
            # compile outputs belong to the judge: no program may change them (an oracle's
            # Test.class), and only the run of what was compiled here may read them (lend_dir)
            sandbox.seal_dir(d, self.cfg.uid)
            entry = (d, run, "")
        self.compiled[key] = entry
        self._compiled_bytes[key] = _tree_bytes(d) if entry[0] else 0
        # at most 128 programs and COMPILE_CACHE_MB of outputs (a binary can be 64 MiB: 128 of
        # them would fill the worker's tmpfs, or the host's /run below sealed); the newest stays
        while len(self.compiled) > 1 and (
            len(self.compiled) > 128 or sum(self._compiled_bytes.values()) > COMPILE_CACHE_MB << 20
        ):
            old_key, (old, _, _) = self.compiled.popitem(last=False)
            del self._compiled_bytes[old_key]
            if old:
                sandbox.remove_workdir(old)
        return entry


COMPILE_CACHE_MB = 256  # compile outputs a worker keeps (on its tmpfs, charged to its cgroup)


def worker_memory_mb(cfg: WorkerConfig) -> int:
    """The worker cgroup's cap: the largest program (JVMs and compilers need about 1 GiB) plus
    the worker's own ~100 MiB, plus the compile outputs it keeps."""
    return max(cfg.memory_mb, 1024) + 256 + COMPILE_CACHE_MB


def _tree_bytes(d: str) -> int:
    """The space the files under ``d`` take (blocks, as tmpfs charges them)."""
    n = 0
    for top, _, files in os.walk(d):
        for f in files:
            try:
                n += os.lstat(os.path.join(top, f)).st_blocks * 512
            except OSError:
                pass
    return n


GATE_FD = harness.CHAN_OUT + 1  # in a gated child, until its exec: the pipe to the exec gate


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 1024


def _feed(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError:
        pass
    finally:
        os.close(fd)


# request language -> runner; each has a compile (or syntax-check) step and a run step
COMPILED = {
    "java": "java",
    "cpp": "cpp",
    "c++": "cpp",
    "c": "c",
    "c_sharp": "csharp",
    "csharp": "csharp",
    "c#": "csharp",
    "cs": "csharp",
    "php": "php",
}


def _language(lang: str) -> str:
    low = lang.lower()
    if low in ("python", "py", "python3"):
        return "python"
    if low in COMPILED:
        return COMPILED[low]
    raise ValueError(f"no runner for language {lang!r}")


def _java_main_class(program: str) -> str:
    """The class whose body declares ``main`` (nested helper classes do not count)."""
    main_at = program.find("static void main")
    if main_at < 0:
        m = re.search(r"public\s+(?:final\s+)?class\s+(\w+)", program) or re.search(
            r"class\s+(\w+)", program
        )
        return m.group(1) if m else "Main"
    stack: list[tuple[str, int]] = []
    depth, pending = 0, None
    for m in re.finditer(r"\b(?:class|interface|enum)\s+(\w+)|[{}]", program[:main_at]):
        tok = m.group(0)
        if tok == "{":
            depth += 1
            if pending:
                stack.append((pending, depth))
                pending = None
        elif tok == "}":
            if stack and stack[-1][1] == depth:
                stack.pop()
            depth -= 1
        else:
            pending = m.group(1)
    return stack[-1][0] if stack else "Main"


PREIMPORT = [
    "cmath",
    "re",
    "bisect",
    "heapq",
    "string",
    "datetime",
    "decimal",
    "fractions",
    "statistics",
    "array",
    "struct",
    "json",
    "copy",
    "operator",
    "functools",
    "itertools",
    "collections",
    "math",
    "random",
    "typing",
    "textwrap",
    "unicodedata",
    "hashlib",
    "binascii",
    "base64",
    "calendar",
    "queue",
    "enum",
    "dataclasses",
    "abc",
    "numbers",
    "io",
    "csv",
    "pprint",
    "difflib",
    "fnmatch",
    "glob",
    "shutil",
    "tempfile",
    "threading",
    "socket",
    "select",
    "signal",
    "subprocess",
    "zlib",
    "regex",
    "sys",
    "os",
    "time",
    "collections.abc",
    "locale",
    "_strptime",
]


def main() -> None:
    """Worker loop: ``(config)`` first, then judge messages (see :meth:`Worker.handle`)."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    cfg: WorkerConfig = recv_msg(proto_in)
    # ``python -c`` puts the working directory first on sys.path: the worker imports later (numpy on
    # first need), and below the sealed level a program may be able to write there
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    # warm the zygote: what the children would otherwise import on every run (numpy on first need:
    # Worker.start; every page the zygote holds is copied at each fork and freed at each exit)
    for name in PREIMPORT:  # the stdlib may not be readable by the sandbox user (e.g. under /root)
        try:
            __import__(name)
        except ImportError:
            pass
    worker = Worker(cfg)
    gc.freeze()  # forked children then do not copy pages just to update GC bookkeeping
    send_msg(proto_out, ("ready", os.getpid()))
    try:
        while True:
            msg = recv_msg(proto_in)
            if msg is None:
                break
            send_msg(proto_out, worker.handle(msg))
    finally:
        worker.close_session()
        if worker.cgroup is not None:
            worker.cgroup.kill_all()
        sandbox.kill_descendants()
        for d in worker.compiled.values():
            if d[0]:
                sandbox.remove_workdir(d[0])


if __name__ == "__main__":
    main()
