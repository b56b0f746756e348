"""A long-lived, pre-warmed worker: receives requests on a pipe and runs each program in a
freshly forked, sandboxed child (``python -m execrl.execution.worker``; started by Executor).

Forking a warm interpreter costs about a millisecond, where starting a new one costs tens, so
the worker is what makes execution fast; the child is what makes it safe. The worker itself
never runs untrusted code.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import os
import pickle
import re
import secrets
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
from typing import Any

from execrl.data.problem import Tests
from execrl.execution import compare, harness, sandbox
from execrl.execution.cpp_pch import pch_include_dir
from execrl.execution.outcomes import ExecutionResult, Outcome, TestResult, worst
from execrl.execution.request import ExecRequest


# ----------------------------------------------------------------------------- framing
def send_msg(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    buf = struct.pack("<Q", len(data)) + data
    while buf:
        n = os.write(fd, buf)
        buf = buf[n:]


def recv_msg(fd: int) -> Any:
    head = _read_exact(fd, 8)
    if head is None:
        return None
    (n,) = struct.unpack("<Q", head)
    body = _read_exact(fd, n)
    return None if body is None else pickle.loads(body)


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        b = os.read(fd, n - got)
        if not b:
            return None
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


# ----------------------------------------------------------------------------- config
@dataclass
class WorkerConfig:
    timeout_s: float = 4.0
    compile_timeout_s: float = 20.0
    memory_mb: int = 512
    max_output_bytes: int = 1 << 20
    early_exit: bool = True
    nproc: int = 64
    cpp_pch: bool = True  # precompiled <bits/stdc++.h> (execution/cpp_pch.py)
    name: str = "w0"
    caps: sandbox.Capabilities = field(default_factory=sandbox.Capabilities)


@dataclass
class Spawned:
    exit_code: int | None = None
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    messages: list[tuple[str, int, str]] = field(default_factory=list)
    timed_out: bool = False
    output_exceeded: bool = False
    memory_hit: bool = False
    elapsed: float = 0.0
    nonce: str = ""  # set for Python harness runs, which must report an end marker


class Worker:
    """Runs requests; one sandboxed child at a time."""

    def __init__(self, cfg: WorkerConfig) -> None:
        self.cfg = cfg
        self.base = sandbox.workdir_base()
        self.cgroup = None
        if cfg.caps.cgroups:
            # JVM and compilers need more than a Python program: the cgroup cap is the larger one
            # the worker sits in its own cgroup so that children inherit it at fork for free; its
            # own ~100 MiB are added to the cap; JVMs and compilers need about 1 GiB
            self.cgroup = sandbox.WorkerCgroup(f"{os.getpid()}-{cfg.name}", max(cfg.memory_mb, 1024) + 256, cfg.nproc + 1)
            self.cgroup.join(os.getpid())
        sandbox.enter_worker_namespaces(cfg.caps)
        self.compiled: OrderedDict[str, tuple[str, list[str] | None, str]] = OrderedDict()
        self._pch: Path | None | bool = None  # built at the first C++ compile; False: unavailable
        sandbox.become_subreaper()

    # ------------------------------------------------------------------ child processes
    def spawn(self, target: tuple, stdin: bytes = b"", timeout: float = 4.0, limits: sandbox.Limits | None = None,
              reset_on_message: bool = False, workdir: str | None = None, nonce: str = "") -> Spawned:
        """Fork a sandboxed child running ``target`` (``("py", fn, args)`` or ``("exec", argv)``)."""
        limits = limits or sandbox.Limits(cpu_s=int(timeout) + 2, memory_mb=self.cfg.memory_mb, nproc=self.cfg.nproc)
        own_dir = workdir is None
        wd = workdir or sandbox.make_workdir(self.base, self.cfg.caps.root and self.cgroup is not None)
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        r_res, w_res = os.pipe()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # ---------------- child
            try:
                os.dup2(r_in, 0)
                os.dup2(w_out, 1)
                os.dup2(w_err, 2)
                os.dup2(w_res, harness.RESULT_FD)
                for fd in os.listdir("/proc/self/fd"):  # cheaper than closerange over every possible fd
                    if int(fd) > harness.RESULT_FD:
                        try:
                            os.close(int(fd))
                        except OSError:
                            pass
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                sandbox.enter(self.cfg.caps, limits, wd, self.cgroup)
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
        for fd in (r_in, w_out, w_err, w_res):
            os.close(fd)
        feeder = None
        if stdin:
            feeder = threading.Thread(target=_feed, args=(w_in, stdin), daemon=True)
            feeder.start()
        else:
            os.close(w_in)
        res = Spawned(nonce=nonce)
        out, err, msgs = bytearray(), bytearray(), bytearray()
        sel = selectors.DefaultSelector()
        for fd, buf in ((r_out, out), (r_err, err), (r_res, msgs)):
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ, buf)
        deadline = t0 + timeout
        open_fds = 3
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                res.timed_out = True
                break
            for key, _ in sel.select(timeout=min(left, 0.5)):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    open_fds -= 1
                    continue
                buf = key.data
                if key.fd == r_res and reset_on_message:
                    deadline = time.monotonic() + timeout
                if key.fd == r_out and len(buf) + len(chunk) > self.cfg.max_output_bytes:
                    res.output_exceeded = True
                    open_fds = 0
                    break
                if key.fd != r_out and len(buf) > 1 << 20:
                    continue  # stderr and messages beyond 1 MiB are dropped, not stored
                buf.extend(chunk)
        sel.close()
        # kill everything the child started, wherever it went
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if res.timed_out or res.output_exceeded:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
        if self.cgroup is not None:
            self.cgroup.kill_all()
            res.memory_hit = self.cgroup.hit_memory_limit()
        if self.cgroup is None:  # without a cgroup, detached grandchildren come back to us (subreaper)
            sandbox.kill_descendants()
        else:
            sandbox.reap()
        sandbox.clear_private_tmp(self.cfg.caps)
        for fd in (r_out, r_err, r_res):
            os.close(fd)
        if feeder is not None:
            feeder.join(timeout=1)
        res.elapsed = time.monotonic() - t0
        if os.WIFSIGNALED(status):
            res.signal = os.WTERMSIG(status)
        else:
            res.exit_code = os.WEXITSTATUS(status)
        res.stdout, res.stderr = bytes(out), bytes(err[-4000:])
        res.messages = _parse_messages(bytes(msgs), nonce)
        if own_dir:
            sandbox.remove_workdir(wd)
        return res

    # ------------------------------------------------------------------ requests
    def run(self, req: ExecRequest) -> ExecutionResult:
        t0 = time.monotonic()
        try:
            res = self._run(req)
        except Exception as e:  # a bug or host failure: never blame the program
            res = ExecutionResult(outcome=Outcome.INFRA_ERROR, error_type=type(e).__name__, error=traceback.format_exc()[-1500:])
        res.time_s = time.monotonic() - t0
        return res

    def _run(self, req: ExecRequest) -> ExecutionResult:
        early = self.cfg.early_exit if req.early_exit is None else req.early_exit
        lang = req.language.lower()
        if lang in ("python", "py", "python3"):
            return self._python(req, early)
        if lang in COMPILED:
            return self._compiled(req, COMPILED[lang], early)
        return ExecutionResult(outcome=Outcome.INFRA_ERROR, error_type="UnsupportedLanguage", error=f"no runner for language {req.language!r}")

    # ------------------------------------------------------------------ python
    def _python(self, req: ExecRequest, early: bool) -> ExecutionResult:
        try:
            compile(req.program, "<program>", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as e:
            wrapped = _apps_wrapped(req) if isinstance(e, SyntaxError) else None
            if wrapped is None:
                return ExecutionResult(outcome=Outcome.COMPILE_ERROR, error_type=type(e).__name__, error=str(e)[:500], num_tests=_n(req.tests))
            req = wrapped
        if req.mode == "compile":
            return ExecutionResult(outcome=Outcome.PASSED, num_tests=0)
        t = req.tests
        if req.mode == "run" or t is None or t.style == "none":
            nonce = secrets.token_hex(8)
            sp = self.spawn(("py", harness.run_stdio, (req.program, nonce, False)), stdin=req.stdin.encode(), timeout=self.cfg.timeout_s, nonce=nonce)
            return self._once_result(sp)
        if t.style == "assert":
            nonce = secrets.token_hex(8)
            sp = self.spawn(("py", harness.run_asserts, (req.program, t.asserts, t.setup_code, nonce, early)),
                            timeout=self.cfg.timeout_s, reset_on_message=True, nonce=nonce)
            return self._from_messages(sp, len(t.asserts), early, kind="assert")
        if t.style == "call":
            nonce = secrets.token_hex(8)
            sp = self.spawn(("py", harness.run_call, (req.program, t.fn_name, t.inputs, nonce, early)),
                            timeout=self.cfg.timeout_s, reset_on_message=True, nonce=nonce)
            return self._from_messages(sp, len(t.inputs), early, kind="call", expected=t.outputs)
        if t.style == "stdio":
            return self._stdio_tests(lambda stdin: self._python_stdio(req.program, stdin), t, early)
        return ExecutionResult(outcome=Outcome.INFRA_ERROR, error_type="BadTests", error=f"unknown test style {t.style!r}")

    def _python_stdio(self, program: str, stdin: str) -> Spawned:
        nonce = secrets.token_hex(8)
        return self.spawn(("py", harness.run_stdio, (program, nonce, True)), stdin=stdin.encode(), timeout=self.cfg.timeout_s, nonce=nonce)

    # ------------------------------------------------------------------ java / c++ / c / c# / php
    def _build_argv(self, program: str, lang: str, d: str) -> tuple[list[str], list[str]]:
        """Write ``program`` into ``d``; return (argv that compiles or checks it, argv that runs it)."""
        tools = sandbox.toolchains()
        if lang == "java":
            name = _java_main_class(program)
            Path(d, f"{name}.java").write_text(program)
            return ([tools["javac"] or "javac", "-J-Xmx512m", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF-8", "-nowarn", "-d", d, f"{d}/{name}.java"],
                    [tools["java"] or "java", "-Xmx256m", "-Xss64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", d, name])
        if lang == "c":
            Path(d, "main.c").write_text(program)
            return [tools["gcc"] or "gcc", "-O1", "-std=gnu11", "-o", f"{d}/main", f"{d}/main.c", "-lm"], [f"{d}/main"]
        if lang == "csharp":
            Path(d, "main.cs").write_text(program)
            return [tools["mcs"] or "mcs", "-nowarn:0162,0168,0219", "-out:" + f"{d}/main.exe", f"{d}/main.cs"], [tools["mono"] or "mono", f"{d}/main.exe"]
        if lang == "php":
            Path(d, "main.php").write_text(program if program.lstrip().startswith("<?") else "<?php\n" + program)
            # warnings go to stderr, as every other language's: stdout is what the program printed
            php = [tools["php"] or "php", "-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "memory_limit=-1"]
            return [*php, "-l", f"{d}/main.php"], [*php, f"{d}/main.php"]
        Path(d, "main.cpp").write_text(program)
        gxx, flags = tools["g++"] or "g++", ["-O1", "-std=c++17"]
        if self._pch is None:
            # a base on the worker's private tmpfs (rootless hosts) is per worker and too small for a .gch
            private = self.cfg.caps.netns and any(Path(t) in self.base.parents for t in sandbox.PRIVATE_TMP)
            self._pch = (self.cfg.cpp_pch and not private and pch_include_dir(self.base, gxx, flags)) or False
        return [gxx, *flags, *(["-I", str(self._pch)] if self._pch else []), "-o", f"{d}/main", f"{d}/main.cpp"], [f"{d}/main"]

    def _compile(self, program: str, lang: str) -> tuple[str | None, list[str] | None, str]:
        """Compile once per distinct program; returns (dir, argv to run, error)."""
        key = hashlib.sha256((lang + "\0" + program).encode()).hexdigest()
        if key in self.compiled:
            self.compiled.move_to_end(key)
            return self.compiled[key]
        d = sandbox.make_workdir(self.base, self.cfg.caps.root and self.cgroup is not None)
        limits = sandbox.Limits(cpu_s=int(self.cfg.compile_timeout_s) + 5, memory_mb=2048, nproc=max(self.cfg.nproc, 512), fsize_mb=64, nofile=256, address_space=False)
        argv, run = self._build_argv(program, lang, d)
        if d and self.cgroup is not None:
            for f in Path(d).iterdir():
                os.chown(f, sandbox.NOBODY, sandbox.NOBODY)
        sp = self.spawn(("exec", argv), timeout=self.cfg.compile_timeout_s, limits=limits, workdir=d)
        err = ""
        if sp.timed_out or sp.exit_code != 0:
            err = (sp.stderr.decode(errors="replace")[-1500:] or "compile timeout") if not sp.timed_out else "compile timeout"
            entry: tuple = (None, None, err)
            sandbox.remove_workdir(d)
        else:
            os.chmod(d, 0o755)
            entry = (d, run, "")
        self.compiled[key] = entry
        while len(self.compiled) > 128:
            _, (old, _, _) = self.compiled.popitem(last=False)
            if old:
                sandbox.remove_workdir(old)
        return entry

    def _compiled(self, req: ExecRequest, lang: str, early: bool) -> ExecutionResult:
        d, run, err = self._compile(req.program, lang)
        if d is None:
            return ExecutionResult(outcome=Outcome.COMPILE_ERROR, error_type="CompileError", error=err, num_tests=_n(req.tests))
        if req.mode == "compile":
            return ExecutionResult(outcome=Outcome.PASSED)
        vm = lang in ("java", "csharp")  # JVM / Mono: many threads and a large address-space reservation
        limits = sandbox.Limits(cpu_s=int(self.cfg.timeout_s) + 2, memory_mb=self.cfg.memory_mb, nproc=max(self.cfg.nproc, 256) if vm else self.cfg.nproc,
                                address_space=not vm)
        timeout = self.cfg.timeout_s + (1.5 if lang == "java" else 0.0)  # JVM start-up is not the program's time

        def once(stdin: str) -> Spawned:
            return self.spawn(("exec", run), stdin=stdin.encode(), timeout=timeout, limits=limits)

        t = req.tests
        if req.mode == "run" or t is None or t.style in ("none",):
            return self._once_result(once(req.stdin))
        if t.style != "stdio":
            return ExecutionResult(outcome=Outcome.INFRA_ERROR, error_type="BadTests", error=f"{lang} programs take stdio tests, not {t.style!r}")
        return self._stdio_tests(once, t, early)

    # ------------------------------------------------------------------ verdicts
    def _stdio_tests(self, run_one, t: Tests, early: bool) -> ExecutionResult:
        tests: list[TestResult] = []
        stdout = ""
        for i, (inp, exp) in enumerate(zip(t.inputs, t.outputs)):
            stdin = "\n".join(inp) if isinstance(inp, list) else str(inp)
            sp = run_one(stdin)
            outcome, err = self._process_outcome(sp)
            if outcome is Outcome.COMPILE_ERROR:
                return ExecutionResult(outcome=outcome, error_type=err, num_tests=len(t.inputs))
            text = sp.stdout.decode("utf-8", errors="replace")
            if outcome is Outcome.PASSED and not compare.stdio_match(text, exp):
                outcome, err = Outcome.FAILED, "WrongAnswer"
            stdout = text
            tests.append(TestResult(outcome=outcome, error_type=err, time_s=sp.elapsed))
            if early and outcome is not Outcome.PASSED:
                break
        return _reduce(tests, len(t.inputs), stdout=stdout[:4000])

    def _process_outcome(self, sp: Spawned) -> tuple[Outcome, str | None]:
        """How one run ended, from the parent's observations (and, for Python, the harness)."""
        kinds = {k for k, _, _ in sp.messages}
        if "C" in kinds:
            return Outcome.COMPILE_ERROR, next(p for k, _, p in sp.messages if k == "C")
        if sp.output_exceeded:
            return Outcome.FAILED, "OutputLimitExceeded"
        if sp.timed_out:
            return Outcome.TIMEOUT, "Timeout"
        if sp.memory_hit:
            return Outcome.MEMORY_LIMIT, "MemoryLimit"
        xs = [p for k, _, p in sp.messages if k == "X"]
        if xs:
            return (Outcome.MEMORY_LIMIT if xs[0] == "MemoryError" else Outcome.RUNTIME_ERROR), xs[0]
        if sp.signal is not None:
            if sp.signal == signal.SIGXCPU:
                return Outcome.TIMEOUT, "CPUTimeLimit"
            return Outcome.RUNTIME_ERROR, f"Signal{sp.signal}"
        if sp.exit_code not in (0, None):
            if sp.exit_code == 111 and b"MemoryError" in sp.stderr:
                return Outcome.MEMORY_LIMIT, "MemoryError"
            return Outcome.RUNTIME_ERROR, f"ExitCode{sp.exit_code}"
        if sp.nonce and "E" not in kinds:
            return Outcome.RUNTIME_ERROR, "ExitedEarly"  # os._exit or a killed harness
        return Outcome.PASSED, None

    def _once_result(self, sp: Spawned) -> ExecutionResult:
        outcome, err = self._process_outcome(sp)
        return ExecutionResult(outcome=outcome, error_type=err, error=sp.stderr.decode(errors="replace")[-1500:] if err else None,
                               stdout=sp.stdout.decode("utf-8", errors="replace")[: self.cfg.max_output_bytes], num_tests=0)

    def _from_messages(self, sp: Spawned, n: int, early: bool, kind: str, expected: list | None = None) -> ExecutionResult:
        msgs = sp.messages
        head = [(k, p) for k, i, p in msgs if i == -1]
        if any(k == "C" for k, _ in head):
            return ExecutionResult(outcome=Outcome.COMPILE_ERROR, error_type=next(p for k, p in head if k == "C"), num_tests=n)
        if any(k == "X" for k, _ in head):
            et = next(p for k, p in head if k == "X")
            oc = Outcome.MEMORY_LIMIT if et == "MemoryError" else Outcome.RUNTIME_ERROR
            return ExecutionResult(outcome=oc, error_type=et, error=sp.stderr.decode(errors="replace")[-1500:], tests=[TestResult(outcome=oc, error_type=et)], num_tests=n)
        per: dict[int, TestResult] = {}
        started: list[int] = []
        for k, i, p in msgs:
            if i < 0:
                continue
            if k == "S":
                started.append(i)
            elif k == "P":
                per[i] = TestResult(outcome=Outcome.PASSED)
            elif k == "F":
                per[i] = TestResult(outcome=Outcome.FAILED, error_type="AssertionError")
            elif k == "X":
                per[i] = TestResult(outcome=Outcome.MEMORY_LIMIT if p == "MemoryError" else Outcome.RUNTIME_ERROR, error_type=p)
            elif k == "O":
                ok = expected is not None and i < len(expected) and compare.call_match(p, expected[i])
                per[i] = TestResult(outcome=Outcome.PASSED if ok else Outcome.FAILED, error_type=None if ok else "WrongAnswer")
        tests = []
        for i in range(n):
            if i in per:
                tests.append(per[i])
                if early and per[i].outcome is not Outcome.PASSED:
                    break
                continue
            # a test that started (or never started) without a verdict: how did the child end?
            ended, et = self._process_outcome(Spawned(exit_code=sp.exit_code, signal=sp.signal, timed_out=sp.timed_out,
                                                      output_exceeded=sp.output_exceeded, memory_hit=sp.memory_hit))
            if ended is Outcome.PASSED:
                ended, et = Outcome.RUNTIME_ERROR, "ExitedEarly"
            tests.append(TestResult(outcome=ended, error_type=et))
            break
        return _reduce(tests, n, stderr=sp.stderr)


def _reduce(tests: list[TestResult], n: int, stdout: str | None = None, stderr: bytes = b"") -> ExecutionResult:
    if not tests:
        return ExecutionResult(outcome=Outcome.RUNTIME_ERROR, error_type="NoTestRan", num_tests=n)
    outcome = worst([t.outcome for t in tests])
    if outcome is Outcome.PASSED and len(tests) < n:
        outcome = Outcome.FAILED
    et = next((t.error_type for t in tests if t.outcome is outcome), None)
    return ExecutionResult(outcome=outcome, tests=tests, error_type=et, error=stderr.decode(errors="replace")[-1500:] if outcome is not Outcome.PASSED else None,
                           stdout=stdout, num_tests=n)


def _apps_wrapped(req: ExecRequest) -> ExecRequest | None:
    """A stdin/stdout program that is only valid inside APPS' ``def code():`` wrapper, wrapped."""
    if req.tests is None or req.tests.style != "stdio":
        return None
    program = harness.apps_wrap(req.program)
    try:
        compile(harness.APPS_PRELUDE + program, "<program>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None
    return dataclasses.replace(req, program=program)


def _n(t: Tests | None) -> int:
    return len(t) if t is not None else 0


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


def _parse_messages(raw: bytes, nonce: str) -> list[tuple[str, int, str]]:
    out = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3 or (nonce and parts[0] != nonce):
            continue  # a forged or garbled line
        try:
            out.append((parts[1], int(parts[2]), (parts[3] if len(parts) > 3 else "").replace("\\n", "\n")))
        except ValueError:
            continue
    return out


# request language -> runner; each has a compile (or syntax-check) step and a run step
COMPILED = {"java": "java", "cpp": "cpp", "c++": "cpp", "c": "c", "c_sharp": "csharp", "csharp": "csharp", "c#": "csharp", "cs": "csharp", "php": "php"}


def _java_main_class(program: str) -> str:
    """The class whose body declares ``main`` (nested helper classes do not count)."""
    main_at = program.find("static void main")
    if main_at < 0:
        m = re.search(r"public\s+(?:final\s+)?class\s+(\w+)", program) or re.search(r"class\s+(\w+)", program)
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


PREIMPORT = ["cmath", "re", "bisect", "heapq", "string", "datetime", "decimal", "fractions", "statistics", "array", "struct", "json",
             "copy", "operator", "functools", "itertools", "collections", "math", "random", "typing", "textwrap", "unicodedata",
             "hashlib", "binascii", "base64", "calendar", "queue", "enum", "dataclasses", "abc", "numbers", "io", "csv", "pprint",
             "difflib", "fnmatch", "glob", "shutil", "tempfile", "threading", "socket", "select", "signal", "subprocess", "zlib",
             "regex", "sys", "os", "time", "numpy", "collections.abc", "itertools", "operator", "locale", "_strptime"]


def main() -> None:
    """Worker loop: ``(config)`` first, then ``(id, ExecRequest)`` -> ``(id, ExecutionResult)``."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    cfg: WorkerConfig = recv_msg(proto_in)
    # warm the zygote: what the children would otherwise import on every run
    import numpy  # noqa: F401

    exec(compile(harness.APPS_PRELUDE, "<prelude>", "exec"), {})
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
            rid, req = msg
            send_msg(proto_out, (rid, worker.run(req)))
    finally:
        sandbox.kill_descendants()
        if worker.cgroup is not None:
            worker.cgroup.remove()
        for d in worker.compiled.values():
            if d[0]:
                sandbox.remove_workdir(d[0])


if __name__ == "__main__":
    main()
