"""Code that runs *inside* the sandboxed child (a fork of a warm worker) for Python programs.

It reports through fd 3 only: ``<nonce> <kind> <test> <payload>`` lines. The parent never takes
the child's word for a pass on stdin/stdout or call-based tests: the child sends what the program
printed or returned and the parent compares it with expected outputs the child never sees. For
assert-style tests (MBPP) the parent requires an explicit pass line for every assert, so a
program that exits, crashes or closes its streams before the asserts finish never passes.
"""

from __future__ import annotations

import io
import json
import os
import sys

RESULT_FD = 3
# bound at import, before any program can rebind the builtins the harness relies on
_AssertionError, _BaseException, _SystemExit = AssertionError, BaseException, SystemExit
_exec, _compile, _type = exec, compile, type

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


def _std_streams() -> None:
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=False)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)


class _Reporter:
    def __init__(self, nonce: str) -> None:
        self._write, self._nonce = os.write, nonce  # bound before untrusted code runs

    def __call__(self, kind: str, test: int = -1, payload: str = "") -> None:
        line = f"{self._nonce} {kind} {test} {payload}".replace("\n", "\\n") + "\n"
        try:
            self._write(RESULT_FD, line.encode("utf-8", "replace"))
        except OSError:
            pass


def _flush() -> None:
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass


def run_asserts(program: str, asserts: list[str], setup: str, nonce: str, early_exit: bool) -> None:
    """MBPP/HumanEval style: setup, the program once, then each assert."""
    report = _Reporter(nonce)
    _std_streams()
    g: dict = {"__name__": "__main__"}
    try:
        code = _compile(program, "<program>", "exec")
    except _BaseException as e:  # SyntaxError, ValueError (null bytes), RecursionError, MemoryError
        report("C", -1, _type(e).__name__)
        return
    try:
        _exec(code, g)
        if setup:  # MBPP's test_setup_code uses the program's definitions: it runs after it
            _exec(_compile(setup, "<setup>", "exec"), g)
    except _BaseException as e:  # incl. SystemExit: an exit before the asserts is not a pass
        report("X", -1, _type(e).__name__)
        _flush()
        return
    for i, a in enumerate(asserts):
        report("S", i)
        try:
            _exec(_compile(a, f"<test {i}>", "exec"), g)
        except _AssertionError:
            report("F", i)
            if early_exit:
                break
            continue
        except _BaseException as e:
            report("X", i, _type(e).__name__)
            if early_exit:
                break
            continue
        report("P", i)
    _flush()


def run_call(program: str, fn_name: str, inputs: list, nonce: str, early_exit: bool) -> None:
    """APPS call-based: build the module (any exception = compile error), call per test, send output."""
    report = _Reporter(nonce)
    _std_streams()
    g: dict = {"__name__": "__main__"}
    try:
        _exec(_compile(APPS_PRELUDE + program, "<program>", "exec"), g)
        obj = g["Solution"]() if "class Solution" in program else None
        method = getattr(obj, fn_name) if obj is not None else g[fn_name]
    except _BaseException as e:
        report("C", -1, _type(e).__name__)
        return
    dumps = json.dumps
    for i, args in enumerate(inputs):
        report("S", i)
        try:
            if isinstance(args, list) and args and isinstance(args[0], dict):
                args = [{int(k) if k.lstrip("-").isdigit() else k: v for k, v in args[0].items()}, *args[1:]]
            out = method(*args)
            if isinstance(out, tuple):
                out = list(out)
            payload = dumps(out)
        except _BaseException as e:
            report("X", i, _type(e).__name__)
            if early_exit:
                break
            continue
        report("O", i, payload)
    _flush()


def run_stdio(program: str, nonce: str, prelude: bool) -> None:
    """Run the program once as a script reading stdin; SystemExit is a normal end (as in APPS)."""
    report = _Reporter(nonce)
    _std_streams()
    src = (APPS_PRELUDE if prelude else "") + program
    try:
        code = _compile(src, "<program>", "exec")
    except _BaseException as e:
        report("C", -1, _type(e).__name__)
        return
    try:
        _exec(code, {"__name__": "__main__"})
    except _SystemExit:
        pass
    except _BaseException as e:
        _flush()
        report("X", 0, _type(e).__name__)
        return
    _flush()
    report("E", 0)


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
