"""The trusted judge: holds the tests, asks the sandbox to run programs, decides verdicts.

Nothing here runs candidate code, and nothing the sandbox receives holds an expected output,
an assert or setup code. How each test style is judged:

- **stdin/stdout**: the sandbox runs the program on each input and returns what it printed;
  the judge compares (``execution/compare.py``, ``strict`` or the ``apps`` cascade).
- **call-based**: the program is built as a module in a sandboxed child kept alive for the
  problem; the judge calls ``fn_name`` there with each input and compares the returned plain
  value here.
- **assert-style** (MBPP, HumanEval ``check(candidate)``, synth): the judge executes the
  assert text itself, in a namespace where the builtins and stdlib modules are its own and
  every other free name is a :class:`RemoteRef` into the program. Calling one sends plain
  arguments to the child and brings the result back as plain data (``execution/plain.py``);
  a result that is not plain data stays in the child as a reference, and a verdict cannot
  rest on it. Arguments the test mutates in place come back too.

A test whose arguments cannot cross as plain data (a lambda the test passes, say) is judged
by a weaker path that sends the call expression's source (not the expected side) to the
child; such tests are counted in ``ExecutionResult.weak_tests``.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from execrl.execution import compare, plain
from execrl.execution.request import ExecRequest
from execrl.execution.worker import RunReport, RunSpec, _language
from execrl.vocabulary import ExecutionResult, Outcome, TestResult, worst

Ask = Callable[[tuple, float], tuple]  # one message to the worker -> its reply (within a timeout)
_SLACK_S = 10.0  # the worker's own deadlines come first; past this it is stuck


@dataclass
class JudgeConfig:
    timeout_s: float = 4.0
    compile_timeout_s: float = 20.0
    early_exit: bool = True
    compare: str = "strict"  # stdin/stdout and call-based comparison: strict | apps
    apps_compat: bool = False  # run APPS programs as its harness does (execution fidelity mode)
    max_program_bytes: int = 1 << 20
    memory_mb: int = 512


class WorkerLost(Exception):
    """The worker died or hung while a program ran; the program is charged, not dropped."""


class ChildGone(BaseException):
    """The program's child ended (timeout, memory, crash, exit) before answering. A
    BaseException, so that a test's own ``except Exception`` cannot swallow it."""

    def __init__(
        self, outcome: Outcome, error_type: str | None, report: RunReport | None = None
    ) -> None:
        super().__init__(error_type)
        self.outcome, self.error_type, self.report = outcome, error_type, report


class ProgramExit(BaseException):
    """The program raised SystemExit (or the like) inside a call."""


class ProgramError(Exception):
    """An exception of the program's own class, raised inside a call."""


class Unjudgeable(Exception):
    """A judge-side value that cannot be sent to the program as plain data."""


# ----------------------------------------------------------------------------- entry point
def judge(req: ExecRequest, ask: Ask, cfg: JudgeConfig) -> ExecutionResult:
    """Judge one request; never raises for anything a program does."""
    if len(req.program) > cfg.max_program_bytes:
        return ExecutionResult(
            outcome=Outcome.COMPILE_ERROR,
            error_type="ProgramTooLarge",
            num_tests=num_tests(req.tests),
            error=f"program of {len(req.program)} characters exceeds executor.max_program_bytes={cfg.max_program_bytes}",
        )
    try:
        lang = _language(req.language)
    except ValueError as e:
        return ExecutionResult(
            outcome=Outcome.INFRA_ERROR, error_type="UnsupportedLanguage", error=str(e)
        )
    early = cfg.early_exit if req.early_exit is None else req.early_exit
    t = req.tests
    spec = RunSpec(
        kind="script",
        program=req.program,
        language=lang,
        timeout_s=cfg.timeout_s,
        total_s=cfg.timeout_s,
    )
    if lang == "java":
        spec.total_s = spec.timeout_s = (
            cfg.timeout_s + 1.5
        )  # JVM start-up is not the program's time
    if req.mode == "compile":
        spec.kind, spec.total_s = "compile", cfg.compile_timeout_s
        rep = _report(ask(("compile", spec), cfg.compile_timeout_s * 3 + _SLACK_S))
        outcome, et, err = run_outcome(rep)
        return ExecutionResult(
            outcome=Outcome.COMPILE_ERROR if outcome is Outcome.COMPILE_ERROR else Outcome.PASSED,
            error_type=et if outcome is Outcome.COMPILE_ERROR else None,
            error=err if outcome is Outcome.COMPILE_ERROR else None,
        )
    if req.mode == "run" or t is None or t.style == "none":
        spec.stdin = req.stdin
        rep = _script(ask, spec, cfg)
        outcome, et, err = run_outcome(rep)
        return ExecutionResult(
            outcome=outcome,
            error_type=et,
            error=err,
            stdout=rep.stdout.decode("utf-8", "replace")[: 1 << 20],
        )
    if t.style == "stdio":
        return _stdio_tests(ask, spec, t, early, cfg)
    if lang != "python":
        return ExecutionResult(
            outcome=Outcome.INFRA_ERROR,
            error_type="BadTests",
            error=f"{lang} programs take stdio tests, not {t.style!r}",
        )
    if t.style == "call":
        return _call_tests(ask, req.program, t, early, cfg)
    if t.style == "assert":
        return _assert_tests(ask, req.program, t, early, cfg)
    return ExecutionResult(
        outcome=Outcome.INFRA_ERROR, error_type="BadTests", error=f"unknown test style {t.style!r}"
    )


def _report(reply: tuple) -> RunReport:
    if reply[0] == "report":
        return reply[1]
    raise WorkerLost(reply[1] if reply[0] == "error" else f"unexpected worker reply {reply[0]!r}")


def _script(ask: Ask, spec: RunSpec, cfg: JudgeConfig) -> RunReport:
    budget = spec.total_s + (cfg.compile_timeout_s if spec.language != "python" else 0.0)
    return _report(ask(("script", spec), budget + _SLACK_S))


# ----------------------------------------------------------------------------- how a run ended
_STATUS_FRAMES = 4  # a script's status frame comes first; frames the program wrote itself after it


def _status_frame(rep: RunReport) -> list | None:
    """The first of a script's first few frames that reads as a status (a list of strings).
    Frames are the program's word: past the first few, nobody decodes them."""
    for f in rep.frames[:_STATUS_FRAMES]:
        try:
            v = plain.decode(f)
        except (plain.DecodeError, plain.NotPlainData):
            continue
        if type(v) is list and v and all(type(x) is str for x in v):
            return v
    return None


def run_outcome(rep: RunReport) -> tuple[Outcome, str | None, str | None]:
    """(outcome, error type, message) of one run, from the worker's observations first and the
    program's status frame (which can only make its own verdict worse) second."""
    stderr = rep.stderr.decode("utf-8", "replace")[-2000:]
    if rep.compile_error is not None:
        return Outcome.COMPILE_ERROR, "CompileError", rep.compile_error
    status = _status_frame(rep)
    if status and status[0] == "compile_error":
        return (
            Outcome.COMPILE_ERROR,
            status[1] if len(status) > 1 else "SyntaxError",
            "\n".join(status[2:3] + [stderr]),
        )
    if rep.output_exceeded:
        return Outcome.FAILED, "OutputLimitExceeded", stderr
    if rep.timed_out:
        return Outcome.TIMEOUT, "Timeout", stderr
    if rep.memory_hit:
        return Outcome.MEMORY_LIMIT, "MemoryLimit", stderr
    if status and status[0] == "exception":
        et = status[1] if len(status) > 1 else "Exception"
        msg = "\n".join(x for x in (status[2] if len(status) > 2 else "", stderr) if x)
        return (Outcome.MEMORY_LIMIT if et == "MemoryError" else Outcome.RUNTIME_ERROR), et, msg
    if rep.signal is not None:
        if rep.signal == signal.SIGXCPU:
            return Outcome.TIMEOUT, "CPUTimeLimit", stderr
        return Outcome.RUNTIME_ERROR, f"Signal{rep.signal}", stderr
    if rep.exit_code not in (0, None):
        if (
            b"MemoryError" in rep.stderr
            or b"std::bad_alloc" in rep.stderr
            or b"OutOfMemoryError" in rep.stderr
        ):
            return Outcome.MEMORY_LIMIT, "MemoryError", stderr
        return Outcome.RUNTIME_ERROR, f"ExitCode{rep.exit_code}", stderr
    return Outcome.PASSED, None, None


# ----------------------------------------------------------------------------- stdin/stdout
def _stdio_tests(ask: Ask, spec: RunSpec, t, early: bool, cfg: JudgeConfig) -> ExecutionResult:
    python = spec.language == "python"
    spec.prelude = python  # APPS prepends its import block to every program
    spec.apps_compat = python and cfg.apps_compat
    spec.wrap_fallback = python
    if spec.apps_compat:
        spec.memory_mb = 0  # APPS' harness sets no memory cap
    other = "apps" if cfg.compare == "strict" else "strict"
    tests: list[TestResult] = []
    alt: list[Outcome] = []
    stdout = ""
    for inp, exp in zip(t.inputs, t.outputs):
        spec.stdin = "\n".join(inp) if isinstance(inp, list) else str(inp)
        rep = _script(ask, spec, cfg)
        outcome, et, err = run_outcome(rep)
        if outcome is Outcome.COMPILE_ERROR:
            return ExecutionResult(
                outcome=outcome, error_type=et, error=err, num_tests=len(t.inputs)
            )
        text = rep.stdout.decode("utf-8", errors="replace")
        expected = "\n".join(str(e) for e in exp) if isinstance(exp, list) else str(exp)
        err = err or rep.stderr.decode("utf-8", "replace")[-2000:] or None
        alt_outcome = outcome
        if outcome is Outcome.PASSED:
            if not compare.stdio_match(text, exp, other):
                alt_outcome = Outcome.FAILED
            if not compare.stdio_match(text, exp, cfg.compare):
                outcome, et = Outcome.FAILED, "WrongAnswer"
        if not (
            early and tests and tests[-1].outcome is not Outcome.PASSED
        ):  # past the first failure: the other mode only
            stdout = text
            tests.append(
                TestResult(
                    outcome=outcome,
                    error_type=et,
                    error=err,
                    time_s=rep.elapsed,
                    got=text[:500] if outcome is not Outcome.PASSED else None,
                    expected=expected[:500] if outcome is not Outcome.PASSED else None,
                )
            )
        alt.append(alt_outcome)
        # keep going while the other comparison still passes, so both verdicts are known
        if early and outcome is not Outcome.PASSED and alt_outcome is not Outcome.PASSED:
            break
    res = _reduce(tests, len(t.inputs), stdout=stdout[:4000])
    res.compare_outcomes = {
        cfg.compare: res.outcome.value,
        other: _reduce_outcomes(alt, len(t.inputs)).value,
    }
    return res


# ----------------------------------------------------------------------------- sessions with a live module
class RemoteRef(plain.RemoteValue):
    """The judge's handle on an object that lives in the program's child."""

    __slots__ = ("_kind", "_payload", "_session")

    def __init__(self, session: Session, payload: list, kind: str) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_payload", payload)
        object.__setattr__(self, "_kind", kind)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocol probes (numpy, copy, pickle) never reach the program
            raise AttributeError(name)
        return self._session.request(["getattr", self, name])[1]

    def __bool__(self) -> bool:
        # truthiness and length involve no test data: the program answers them (a re.Match is truthy)
        return self._session.request(["bool", self])[1] is True

    def __len__(self) -> int:
        n = self._session.request(["len", self])[1]
        if type(n) is not int or n < 0:
            raise plain.NotPlainData("len() of a program object did not give a non-negative int")
        return n

    def __iter__(self) -> Any:
        # iterating a program's iterator (a generator, a map) brings its items over as plain data
        return iter(self._session.request(["iter", self])[1])

    def __setattr__(self, name: str, value: Any) -> None:
        self._session.request(["setattr", self, name, value])

    def __repr__(self) -> str:
        return f"<program object: {self._kind}>"

    def _describe(self) -> str:
        return f"an object of type {self._kind!r}"


class Session:
    """A program built as a module in a live sandboxed child, and the judge's requests to it."""

    def __init__(self, ask: Ask, spec: RunSpec) -> None:
        self.ask, self.spec = ask, spec
        self.report: RunReport | None = None
        self.last_value: Any = None
        self.weak = 0
        try:
            self.open_status = self._frame(ask(("open", spec), spec.timeout_s + _SLACK_S))
        except (_Malformed, plain.NotPlainData) as e:  # its stderr still goes into the verdict
            et = getattr(e, "error_type", "MalformedReply")
            self.open_status = ["exception", et, str(e), str(e)]

    def _frame(self, reply: tuple) -> list:
        if reply[0] == "frame":
            try:
                v = plain.decode(reply[1], self._ref)
            except plain.OverBudget as e:
                raise _Malformed(str(e), "ReplyTooLarge") from None
            except plain.DecodeError as e:
                raise _Malformed(str(e)) from None
            if type(v) is not list or not v or type(v[0]) is not str:
                raise _Malformed("not a reply")
            return v
        self.report = _report(reply)
        outcome, et, _ = run_outcome(self.report)
        if (
            outcome is Outcome.PASSED
        ):  # it ended without answering: sys.exit / os._exit / a closed channel
            outcome, et = Outcome.RUNTIME_ERROR, "ExitedEarly"
        raise ChildGone(outcome, et, self.report)

    def _ref(self, payload: list) -> RemoteRef:
        if len(payload) < 1 or type(payload[0]) is not int:
            raise plain.DecodeError("bad reference")
        kind = payload[1] if len(payload) > 1 and type(payload[1]) is str else "object"
        return RemoteRef(self, [payload[0]], kind)

    def request(self, req: list) -> Any:
        if self.report is not None:
            raise ChildGone(Outcome.RUNTIME_ERROR, "ExitedEarly", self.report)
        try:
            data = plain.encode(req, _send_ref)
        except (ValueError, RecursionError) as e:
            raise Unjudgeable(f"a test value cannot be sent to the program: {e}") from None
        reply = self._frame(self.ask(("req", data), self.spec.timeout_s + _SLACK_S))
        if reply[0] == "ok" and len(reply) == 3:
            self.last_value = reply[1]
            return reply
        if reply[0] == "raise" and len(reply) >= 3:
            raise _program_exception(reply[1], reply[2])
        raise _Malformed("unexpected reply")

    def call(self, fn: RemoteRef, args: tuple, kwargs: dict) -> Any:
        _, value, after = self.request(["call", fn, list(args), dict(kwargs)])
        if type(after) is list:  # arguments the program changed in place, changed here too
            for a, new in zip(args, after):
                _sync(a, new)
        return value

    def close(self) -> RunReport:
        if self.report is None:
            self.report = _report(self.ask(("close",), _SLACK_S))
        return self.report


class _Malformed(Exception):
    """The child answered with something that is not a well-formed reply (or one too costly to
    rebuild: ``ReplyTooLarge``)."""

    def __init__(self, message: str, error_type: str = "MalformedReply") -> None:
        super().__init__(message)
        self.error_type = error_type


def _send_ref(obj: Any) -> list:
    if type(obj) is RemoteRef:
        return ["ref", *obj._payload]
    # a builtin or stdlib function or type a test passes (MBPP 533: remove_datatype(t, int)) goes by name
    name, mod = getattr(obj, "__name__", None), getattr(obj, "__module__", None) or "builtins"
    if isinstance(name, str) and (mod == "builtins" or mod in sys.stdlib_module_names):
        try:
            if getattr(importlib.import_module(mod), name) is obj:
                return ["ref", "m", mod, name]
        except (ImportError, AttributeError):
            pass
    raise ValueError(f"{type(obj).__name__} is not plain data")


def _global(session: Session, name: str) -> RemoteRef:
    return RemoteRef(session, ["g", name], "global")


def _lookup(session: Session, name: str) -> Any:
    """The program's global ``name`` itself (a NameError if it has none)."""
    return session.request(["get", _global(session, name)])[1]


def _sync(arg: Any, new: Any) -> None:
    t = type(arg)
    if new is None or type(new) is not t:
        return
    if t is list or t is bytearray:
        arg[:] = new
    elif t is dict or t is set:
        arg.clear()
        arg.update(new)


def _program_exception(type_name: str, message: str) -> BaseException:
    if type_name in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        return ProgramExit(type_name)
    cls = getattr(builtins, type_name, None)
    if cls is StopIteration or cls is StopAsyncIteration:
        # raised in the test's own map/filter/iter(callable, ...), it would end that iteration
        # early: `all(map(lambda x: f(x) == ..., xs))` passed with no answer. An error that
        # ends nothing instead, as PEP 479 makes a StopIteration leaving a generator
        cls = None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            e = cls(message)
        except Exception:
            e = ProgramError(f"{type_name}: {message}")
    else:
        e = ProgramError(f"{type_name}: {message}")
    e.program_type = type_name  # type: ignore[attr-defined]
    return e


def _open(ask: Ask, program: str, prelude: bool, cfg: JudgeConfig, n_tests: int) -> Session:
    spec = RunSpec(
        kind="module",
        program=program,
        prelude=prelude,
        module_name="solution",
        timeout_s=cfg.timeout_s,
        total_s=cfg.timeout_s * (n_tests + 2),
        memory_mb=0 if (prelude and cfg.apps_compat) else None,
    )
    return Session(ask, spec)


def _test_failure(e: BaseException, session: Session) -> TestResult:
    """The verdict of one test that raised ``e`` in the judge."""
    if isinstance(e, ChildGone):
        return TestResult(outcome=e.outcome, error_type=e.error_type)
    if isinstance(e, AssertionError):
        return TestResult(
            outcome=Outcome.FAILED, error_type="AssertionError", got=_short(session.last_value)
        )
    if isinstance(e, plain.NotPlainData):
        return TestResult(outcome=Outcome.FAILED, error_type="NotPlainData", error=str(e))
    if isinstance(e, _Malformed):
        return TestResult(outcome=Outcome.FAILED, error_type=e.error_type, error=str(e))
    if isinstance(e, plain.DecodeError):
        et = "ReplyTooLarge" if isinstance(e, plain.OverBudget) else "MalformedReply"
        return TestResult(outcome=Outcome.FAILED, error_type=et, error=str(e))
    if isinstance(e, Unjudgeable):
        return TestResult(outcome=Outcome.FAILED, error_type="Unjudgeable", error=str(e))
    et = getattr(e, "program_type", None) or type(e).__name__
    if isinstance(e, ProgramExit):
        et = str(e)
    return TestResult(
        outcome=Outcome.MEMORY_LIMIT if et == "MemoryError" else Outcome.RUNTIME_ERROR,
        error_type=et,
        error=str(e)[:500],
    )


def _short(v: Any) -> str | None:
    if v is None:
        return None
    try:
        return repr(v)[:500]
    except Exception:
        return None


def _finish(
    session: Session | None, tests: list[TestResult], n: int, head: ExecutionResult | None = None
) -> ExecutionResult:
    """Close the session and build the verdict; a non-passing one carries the program's stderr."""
    rep = session.close() if session is not None else None
    stderr = rep.stderr.decode("utf-8", "replace")[-2000:] if rep is not None else ""
    res = head if head is not None else _reduce(tests, n)
    if res.outcome is not Outcome.PASSED:
        res.error = "\n".join(x for x in (res.error, stderr) if x)[-4000:] or None
    if session is not None:
        res.weak_tests = session.weak
    return res


def _open_failure(e: ChildGone, n: int) -> ExecutionResult:
    """The verdict when the module's child ended before it was built."""
    rep = e.report
    return ExecutionResult(
        outcome=e.outcome,
        error_type=e.error_type,
        num_tests=n,
        error=rep.stderr.decode("utf-8", "replace")[-2000:] if rep is not None else None,
        tests=[TestResult(outcome=e.outcome, error_type=e.error_type)],
    )


def _status_failure(status: list, n: int, build_error_is_compile: bool) -> ExecutionResult | None:
    if status[0] == "ready":
        return None
    et = status[1] if len(status) > 1 else "Exception"
    msg = status[3] if len(status) > 3 else ""
    if status[0] == "compile_error" or build_error_is_compile:
        return ExecutionResult(outcome=Outcome.COMPILE_ERROR, error_type=et, error=msg, num_tests=n)
    oc = Outcome.MEMORY_LIMIT if et == "MemoryError" else Outcome.RUNTIME_ERROR
    return ExecutionResult(
        outcome=oc,
        error_type=et,
        error=msg,
        num_tests=n,
        tests=[TestResult(outcome=oc, error_type=et)],
    )


# ----------------------------------------------------------------------------- call-based
def _call_tests(ask: Ask, program: str, t, early: bool, cfg: JudgeConfig) -> ExecutionResult:
    n = len(t.inputs)
    try:
        s = _open(ask, program, True, cfg, n)
    except ChildGone as e:
        # APPS: anything that stops the module's build (an exit, its 4 s alarm) is a compile error (-2)
        res = _open_failure(e, n)
        res.outcome, res.tests = Outcome.COMPILE_ERROR, []
        return res
    head = _status_failure(s.open_status, n, build_error_is_compile=True)
    if head is not None:
        return _finish(s, [], n, head)
    other = "apps" if cfg.compare == "strict" else "strict"
    tests: list[TestResult] = []
    alt: list[Outcome] = []
    try:
        if "class Solution" in program:  # LeetCode style, as APPS does it
            fn = getattr(_lookup(s, "Solution")(), t.fn_name)
        else:
            fn = _lookup(s, t.fn_name)
    except BaseException as e:  # a missing entry point is the program's fault
        if isinstance(e, WorkerLost):
            raise
        r = _test_failure(e, s)
        return _finish(
            s,
            [],
            n,
            ExecutionResult(
                outcome=Outcome.COMPILE_ERROR, error_type=r.error_type, error=r.error, num_tests=n
            ),
        )
    past_first_failure = False
    for args, exp in zip(t.inputs, t.outputs):
        args = _intkeys_args(args)
        try:
            value = fn(*args) if isinstance(args, list) else fn(args)
        except BaseException as e:
            if isinstance(e, WorkerLost):
                raise
            r = _test_failure(e, s)
            if not past_first_failure:
                tests.append(r)
            alt.append(r.outcome)
            if isinstance(e, ChildGone) or early:
                break
            continue
        ok, ok_alt = _call_verdict(value, exp, cfg.compare), _call_verdict(value, exp, other)
        if not past_first_failure:  # past it, only the other comparison's verdict is still open
            tests.append(
                TestResult(
                    outcome=Outcome.PASSED if ok else Outcome.FAILED,
                    error_type=None if ok else "WrongAnswer",
                    got=None if ok else _short(value),
                    expected=None if ok else _short(exp),
                )
            )
        past_first_failure = early and (past_first_failure or not ok)
        alt.append(Outcome.PASSED if ok_alt else Outcome.FAILED)
        if early and not ok and not ok_alt:
            break
    res = _finish(s, tests, n)
    res.compare_outcomes = {cfg.compare: res.outcome.value, other: _reduce_outcomes(alt, n).value}
    return res


def _call_verdict(value: Any, expected: Any, mode: str) -> bool:
    if _contains_ref(value):
        return False
    return compare.call_match(value, expected, mode)


def _contains_ref(v: Any, depth: int = 0) -> bool:
    if isinstance(v, RemoteRef):
        return True
    if depth > 50:
        return False
    if type(v) in (list, tuple, set, frozenset):
        return any(_contains_ref(x, depth + 1) for x in v)
    if type(v) is dict:
        return any(_contains_ref(x, depth + 1) for x in v.values())
    return False


def _intkeys_args(args: Any) -> Any:
    # APPS repairs JSON's string keys: a dict first argument gets int keys where they look like ints
    if isinstance(args, list) and args and isinstance(args[0], dict):
        return [
            {
                int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k: v
                for k, v in args[0].items()
            },
            *args[1:],
        ]
    return args


# ----------------------------------------------------------------------------- assert-style
class _Namespace(dict):
    """The globals the judge runs test code in: its own builtins and stdlib modules, and what
    the dataset's own code defines (setup code, a HumanEval prompt's imports and helpers, the
    test's ``check``); every other free name, and any entry point the dataset names, is the
    program's."""

    def __init__(self, session: Session, modules: set[str], entry_points: set[str]) -> None:
        super().__init__()
        self._session, self._modules, self._entry_points = session, modules, entry_points
        self.bind_entry_points()

    def bind_entry_points(self) -> None:
        """The entry points are the program's, even where dataset code defined them (a HumanEval
        prompt's stub of the function under test) or where they shadow a builtin."""
        for name in self._entry_points:
            self[name] = _global(self._session, name)

    def __missing__(self, name: str) -> Any:
        if hasattr(builtins, name):
            return getattr(builtins, name)
        if name in self._modules:
            mod = importlib.import_module("numpy" if name == "np" else name)
            self[name] = mod
            return mod
        ref = self[name] = _global(self._session, name)
        return ref


@functools.lru_cache(maxsize=4096)
def _test_code(src: str, name: str) -> CodeType:
    """A test's code object, compiled once per distinct text (every program of a problem runs it).
    ``dont_inherit``: dataset code runs as plain Python, without this module's future imports."""
    return compile(src, name, "exec", dont_inherit=True)


@functools.lru_cache(maxsize=4096)
def _module_names(sources: tuple[str, ...]) -> frozenset[str]:
    """Stdlib modules the tests use as ``mod.attr`` (``math.isclose``): the judge's own."""
    used: set[str] = set()
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                used.add(node.value.id)
    return frozenset(n for n in used if n in sys.stdlib_module_names or n in ("np", "numpy"))


def _assert_tests(ask: Ask, program: str, t, early: bool, cfg: JudgeConfig) -> ExecutionResult:
    n = len(t.asserts)
    try:
        s = _open(ask, program, False, cfg, n)
    except ChildGone as e:
        return _open_failure(e, n)
    head = _status_failure(s.open_status, n, build_error_is_compile=False)
    if head is not None:
        return _finish(s, [], n, head)
    ns = _Namespace(
        s, _module_names((t.setup_code, *t.asserts)), set(getattr(t, "entry_points", None) or ())
    )
    tests: list[TestResult] = []
    try:
        if t.setup_code:  # MBPP's test_setup_code (on the program's classes), a HumanEval prompt
            exec(_test_code(t.setup_code, "<setup>"), ns)
            ns.bind_entry_points()
    except BaseException as e:
        if isinstance(e, WorkerLost | KeyboardInterrupt):
            raise
        r = _test_failure(e, s)
        return _finish(s, [r], n)
    for i, src in enumerate(t.asserts):
        r = _one_assert(s, ns, src, i)
        tests.append(r)
        if r.outcome is not Outcome.PASSED and (early or s.report is not None):
            break
    return _finish(s, tests, n)


def _one_assert(s: Session, ns: _Namespace, src: str, i: int) -> TestResult:
    s.last_value = None
    try:
        code = _test_code(src, f"<test {i}>")
    except SyntaxError as e:
        return TestResult(
            outcome=Outcome.INFRA_ERROR, error_type="BadTest", error=f"test {i} does not parse: {e}"
        )
    try:
        exec(code, ns)
        return TestResult(outcome=Outcome.PASSED)
    except Unjudgeable:
        weak = _weak_assert(s, ns, src)
        if weak is not None:
            s.weak += 1
            return weak
        return TestResult(
            outcome=Outcome.FAILED,
            error_type="Unjudgeable",
            error=f"test {i}: an argument is not plain data",
        )
    except BaseException as e:  # the test's own exceptions are its verdict
        if isinstance(e, WorkerLost | KeyboardInterrupt):
            raise
        return _test_failure(e, s)


def _weak_assert(s: Session, ns: _Namespace, src: str) -> TestResult | None:
    """A one-line ``assert`` whose call takes a value that cannot cross (a lambda): each call of
    a program name in it is sent as source and evaluated in the child; the rest of the assert
    (builtins, dataset helpers, the expected side, the comparison) still runs here, so the
    program answers only for what its own function returned."""
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    remote = _RemoteCalls(ns)
    tree = ast.fix_missing_locations(remote.visit(tree))
    if not remote.sent:
        return None
    ns[_REMOTE_EVAL] = lambda code: s.request(["eval", code])[1]
    try:
        exec(compile(tree, "<weak test>", "exec", dont_inherit=True), ns)
        return TestResult(outcome=Outcome.PASSED)
    except Unjudgeable:
        return None
    except BaseException as e:
        if isinstance(e, WorkerLost | KeyboardInterrupt):
            raise
        return _test_failure(e, s)


_REMOTE_EVAL = "__execrl_remote_eval__"


class _RemoteCalls(ast.NodeTransformer):
    """Replaces each outermost call of a program name (``f(...)``, ``Solution().m(...)``) with
    ``__execrl_remote_eval__("<its source>")``."""

    def __init__(self, ns: _Namespace) -> None:
        self.ns, self.sent = ns, 0

    def visit_Call(self, node: ast.Call) -> ast.AST:
        root = node.func
        while not isinstance(root, ast.Name):
            if isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            elif isinstance(root, ast.Call):
                root = root.func
            else:
                return self.generic_visit(node)
        if type(self.ns[root.id]) is not RemoteRef:  # a builtin, a module, a dataset helper
            return self.generic_visit(node)
        self.sent += 1
        return ast.Call(
            func=ast.Name(_REMOTE_EVAL, ast.Load()),
            args=[ast.Constant(ast.unparse(node))],
            keywords=[],
        )

    def _keep(self, node: ast.AST) -> ast.AST:
        return node  # its calls may use names bound in it, which the child would not have

    visit_Lambda = visit_GeneratorExp = visit_ListComp = visit_SetComp = visit_DictComp = _keep


# ----------------------------------------------------------------------------- reduction
def _reduce(tests: list[TestResult], n: int, stdout: str | None = None) -> ExecutionResult:
    if not tests:
        return ExecutionResult(outcome=Outcome.RUNTIME_ERROR, error_type="NoTestRan", num_tests=n)
    outcome = _reduce_outcomes([t.outcome for t in tests], n)
    first_bad = next((t for t in tests if t.outcome is not Outcome.PASSED), None)
    et = next((t.error_type for t in tests if t.outcome is outcome), None)
    return ExecutionResult(
        outcome=outcome,
        tests=tests,
        error_type=et,
        error=first_bad.error if first_bad else None,
        stdout=stdout,
        num_tests=n,
    )


def _reduce_outcomes(outcomes: list[Outcome], n: int) -> Outcome:
    """The program's outcome: the worst test's, and ``failed`` where tests are missing."""
    if not outcomes:
        return Outcome.RUNTIME_ERROR
    outcome = worst(outcomes)
    if outcome is Outcome.PASSED and len(outcomes) < n:
        outcome = Outcome.FAILED
    return outcome


def num_tests(t) -> int:
    """How many tests a request carries (0 for compile/run requests)."""
    return len(t) if t is not None else 0
