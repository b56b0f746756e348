"""Code that runs *inside* the sandboxed child (a fork of a warm worker), for Python programs.

The child never holds a test: it runs a program and answers the judge's questions about it
in plain data (``execution/plain.py``). Two shapes:

- :func:`run_script`: the program as a script reading stdin (stdin/stdout tests, translation).
  It writes one status frame (``end``, ``exception``, ``compile_error``) on ``CHAN_OUT``.
- :func:`serve_module`: the program as a module, then a loop answering requests from the judge
  on ``CHAN_IN``: call a global or a referenced object, get or set an attribute. Results go
  back as plain data, anything else as an opaque reference.

Every frame is the candidate's word and is treated as such by the judge: a frame can claim
what a call returned, never that a test passed. The program can tamper with everything here.
"""

from __future__ import annotations

import atexit
import io
import os
import struct
import sys
import threading
import traceback
from itertools import islice as _islice

from execrl.execution import plain

CHAN_IN, CHAN_OUT = 3, 4  # requests from the worker, frames to the worker
ITER_LIMIT = 1 << 20  # items taken from an iterator the judge iterates
_BaseException, _SystemExit, _exec, _type = BaseException, SystemExit, exec, type
_builtin_compile = compile
_write, _read = os.write, os.read


def _compile(source: str, filename: str, mode: str):
    """Compile program text as a fresh interpreter would: ``dont_inherit`` keeps this module's
    ``from __future__ import annotations`` out of it (a program whose annotation names a
    missing import must fail here as it fails under plain Python)."""
    return _builtin_compile(source, filename, mode, dont_inherit=True)


# CodeRL/APPS prepend this import block to every program (testing_util.py).
APPS_PRELUDE = """import sys
import time
import itertools
from itertools import accumulate, product, permutations, combinations
import collections
from collections import Counter, OrderedDict, deque, defaultdict, ChainMap
from functools import lru_cache
import math
from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2
import fractions
from typing import List, Tuple
import numpy as np
import random
import heapq
from heapq import *
"""


# ----------------------------------------------------------------------------- frames
def send_frame(fd: int, data: bytes) -> None:
    buf = struct.pack("<I", len(data)) + data
    while buf:
        try:
            n = _write(fd, buf)
        except OSError:
            return
        buf = buf[n:]


def read_frame(fd: int) -> bytes | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (n,) = struct.unpack("<I", head)
    return _read_exact(fd, n)


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        try:
            b = _read(fd, n - got)
        except OSError:
            return None
        if not b:
            return None
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def _status(*parts) -> None:
    send_frame(CHAN_OUT, plain.encode(list(parts), _no_ref))


def _no_ref(obj):
    return ["ref", -1]


def _exc_info(e: BaseException) -> list:
    try:
        msg = str(e)[:500]
    except _BaseException:
        msg = ""
    try:
        tb = traceback.format_exc()[-1500:]
    except _BaseException:
        tb = ""
    return [_type(e).__name__, msg, tb]


def _std_streams(apps_stdin: bool = False) -> None:
    if apps_stdin:  # APPS patches sys.stdin with a StringIO: no .buffer, no fileno
        sys.stdin = io.StringIO(os.fdopen(0, "r", closefd=False).read())
    else:
        sys.stdin = _stdio(0, "r", "<stdin>")
    sys.stdout = _stdio(1, "w", "<stdout>")
    sys.stderr = _stdio(2, "w", "<stderr>")


def _stdio(fd: int, mode: str, name: str) -> io.TextIOWrapper:
    """A standard stream as a fresh interpreter makes it on a pipe (CPython's ``create_stdio``):
    a buffered binary layer (``peek``, ``read1``, ``raw``), ``mode`` and ``name`` set (the
    PyRival fast-I/O template reads ``file.mode``), no newline translation (``input()`` keeps a
    ``\\r``), the interpreter's encoding and errors, stderr line-buffered with
    ``backslashreplace``. The worker is such an interpreter, started in the sandbox's
    environment: its own original streams say which encoding and errors."""
    like = (sys.__stdin__, sys.__stdout__, sys.__stderr__)[fd]
    raw = io.FileIO(fd, mode, closefd=False)
    raw.name = name
    buf = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    text = io.TextIOWrapper(
        buf,
        encoding=getattr(like, "encoding", None) or "utf-8",
        errors="backslashreplace" if fd == 2 else (getattr(like, "errors", None) or "strict"),
        newline="\n",
        line_buffering=fd == 2,
    )
    text.mode = mode
    return text


def _at_exit() -> None:
    """What a fresh interpreter does after its main module ends: wait for the program's
    non-daemon threads, then run its ``atexit`` handlers (a program may print from either).
    The worker's own handlers were dropped at the start of the run."""
    try:
        threading._shutdown()
    except _BaseException:
        pass
    atexit._run_exitfuncs()


def _flush() -> None:
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except _BaseException:
            pass


# ----------------------------------------------------------------------------- scripts
def check_syntax(program: str) -> None:
    """Byte-compile only (PPOCoder's compiler reward for Python), in the sandbox's memory."""
    try:
        _compile(program, "<program>", "exec")
    except _BaseException as e:
        _status("compile_error", *_exc_info(e))
        return
    _status("end")


def run_script(
    program: str, prelude: bool, apps_compat: bool = False, wrap_fallback: bool = False
) -> None:
    """Run the program once as a script reading stdin; SystemExit is a normal end (as in APPS).

    ``apps_compat`` runs it as APPS' harness does: wrapped in ``def code()``, in a namespace
    whose ``__name__`` is not ``__main__``, with a StringIO stdin. ``wrap_fallback`` runs a
    program that does not compile as it is (say, a top-level ``return``) in that wrapper."""
    atexit._clear()  # the worker's handlers, inherited at fork, are not the program's
    _std_streams(apps_stdin=apps_compat)
    head = APPS_PRELUDE if (prelude or apps_compat) else ""
    try:
        code = _compile(
            head + (apps_wrap(program) if apps_compat else program), "<program>", "exec"
        )
    except _BaseException as e:
        code = None
        if wrap_fallback and not apps_compat and _type(e) is SyntaxError:
            try:
                code = _compile(head + apps_wrap(program), "<program>", "exec")
            except _BaseException:
                pass
        if code is None:
            _status("compile_error", *_exc_info(e))
            return
    try:
        _exec(code, {"__name__": "code" if apps_compat else "__main__"})
    except _SystemExit:
        pass
    except _BaseException as e:
        _flush()
        sys.stderr.write(traceback.format_exc()[-2000:])
        _flush()
        _status("exception", *_exc_info(e))
        return
    if not apps_compat:  # APPS' harness runs the program in its own process, which goes on
        _at_exit()
    _flush()
    _status("end")


def apps_wrap(program: str) -> str:
    """APPS' standard-input wrapping (testing_util.py): leading imports stay at top level, the
    rest becomes the body of ``def code():``, which is then called. Programs written for that
    harness (e.g. with a top-level ``return``) only run this way."""
    out: list[str] = []
    started = False
    for line in program.split("\n"):
        if not started and (line.startswith("from ") or line.startswith("import ")):
            out.append(line)
            continue
        if not started:
            out += ["stdin = sys.stdin", "stdout = sys.stdout", "def code():"]
            started = True
        out.append("\t" + line)
    if not started:
        return program
    return "\n".join(out) + "\ncode()\n"


# ----------------------------------------------------------------------------- modules
class _Objects:
    """The child's table of objects the judge holds references to."""

    def __init__(self) -> None:
        self.table: list = []

    def ref(self, obj) -> list:
        self.table.append(obj)
        return ["ref", len(self.table) - 1, _type(obj).__name__[:60]]

    def get(self, payload: list):
        return self.table[payload[0]]


def serve_module(program: str, prelude: bool, module_name: str) -> None:
    """Build the program as a module, then answer the judge's requests until it hangs up."""
    _std_streams()
    objs = _Objects()
    g: dict = {"__name__": module_name}
    try:
        code = _compile((APPS_PRELUDE if prelude else "") + program, "<program>", "exec")
    except _BaseException as e:
        _status("compile_error", *_exc_info(e))
        return
    try:
        _exec(code, g)
    except _BaseException as e:  # incl. SystemExit: an exit before the tests is not a pass
        _flush()
        _status("exception", *_exc_info(e))
        return
    _flush()
    _status("ready")

    def resolve(p: list):
        if p[0] == "m":  # a builtin or stdlib object the test passed by name
            return getattr(__import__(p[1], fromlist=["_"]), p[2])
        if p[0] == "g":
            if p[1] not in g:
                raise NameError(f"name {p[1]!r} is not defined")
            return g[p[1]]
        return objs.get(p)

    while True:
        raw = read_frame(CHAN_IN)
        if raw is None:
            return
        try:
            req = plain.decode(raw, _Ref)
        except _BaseException:
            return
        reply = _answer(req, objs, resolve, g)
        _flush()
        send_frame(CHAN_OUT, reply)


class _Ref:
    """A reference the judge sent: a global of the program or an object in the table."""

    __slots__ = ("payload",)

    def __init__(self, payload: list) -> None:
        self.payload = payload


def _answer(req: list, objs: _Objects, resolve, g: dict) -> bytes:
    def unwrap(v):
        t = _type(v)
        if t is _Ref:
            return resolve(v.payload)
        if t is list:
            return [unwrap(x) for x in v]
        if t is tuple:
            return tuple(unwrap(x) for x in v)
        if t is dict:
            return {k: unwrap(x) for k, x in v.items()}
        return v

    try:
        op, target = req[0], unwrap(req[1])
        if op == "call":
            args, kwargs = unwrap(req[2]), unwrap(req[3])
            value = target(*args, **kwargs)
            # mutated list/dict/set arguments go back so that asserts on them see the change
            after = [a if _type(a) in (list, dict, set, bytearray) else None for a in args]
            return plain.encode(["ok", value, after], objs.ref)
        if op == "get":
            return plain.encode(["ok", target, []], objs.ref)
        if op == "eval":  # the weaker path: a call expression whose arguments cannot cross
            return plain.encode(["ok", eval(_compile(target, "<test>", "eval"), g), []], objs.ref)
        if op == "bool":
            return plain.encode(["ok", bool(target), []], objs.ref)
        if op == "len":
            return plain.encode(["ok", len(target), []], objs.ref)
        if op == "iter":
            return plain.encode(["ok", list(_islice(target, ITER_LIMIT)), []], objs.ref)
        if op == "getattr":
            return plain.encode(["ok", getattr(target, req[2]), []], objs.ref)
        if op == "setattr":
            setattr(target, req[2], unwrap(req[3]))
            return plain.encode(["ok", None, []], objs.ref)
        return plain.encode(["error", "unknown request"], objs.ref)
    except _BaseException as e:
        return plain.encode(["raise", *_exc_info(e)], objs.ref)
