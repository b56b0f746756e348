"""``executor.compare=apps executor.apps_compat=true`` agrees with the official APPS harness.

The oracle runs each program the way APPS' ``testing_util.run_test`` does, in one plain
process: the import prelude, standard-input programs wrapped in ``def code()`` and called with a
StringIO stdin, call-based programs built as a module and called per test with ``alarm(4)``,
and the official comparison (``tests/helpers/apps_official.py``). Programs: the shipped APPS
problems' accepted solutions plus behaviour-changing mutants of them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from execrl.data.apps import APPSReader
from execrl.execution import ExecRequest, Executor
from execrl.execution.harness import APPS_PRELUDE, apps_wrap

from helpers.common import ROOT

ORACLE = r"""
import contextlib, io, json, signal, sys
sys.path.insert(0, TESTS_DIR)
from helpers.apps_official import official_call, official_stdio
PRELUDE = PRELUDE_TEXT
def alarm(*_):
    raise TimeoutError
signal.signal(signal.SIGALRM, alarm)
def judge(case):
    results = []
    try:
        signal.alarm(4)
        g = {"__name__": "code"}
        src = PRELUDE + (case["program"] if case["fn_name"] else case["wrapped"])
        exec(compile(src, "<program>", "exec"), g)
        if case["fn_name"]:
            method = getattr(g["Solution"](), case["fn_name"]) if "class Solution" in case["program"] else g[case["fn_name"]]
        else:
            method = g["code"]
        signal.alarm(0)
    except BaseException:
        signal.alarm(0)
        return [-2]
    for inp, exp in zip(case["inputs"], case["outputs"]):
        try:
            signal.alarm(4)
            if case["fn_name"]:
                out = method(*inp)
            else:
                buf = io.StringIO()
                sys.stdin = io.StringIO("\n".join(inp) if isinstance(inp, list) else inp)
                with contextlib.redirect_stdout(buf):
                    try:
                        method()
                    except SystemExit:
                        pass
                sys.stdin = sys.__stdin__
                out = buf.getvalue()
            signal.alarm(0)
        except BaseException:
            signal.alarm(0)
            results.append(-1)
            break
        ok = official_call(out, exp) if case["fn_name"] else official_stdio(out, "\n".join(exp) if isinstance(exp, list) else exp)[0]
        results.append(bool(ok))
        if not ok:
            break
    return results
print(json.dumps([judge(c) for c in json.loads(sys.stdin.read())]))
"""


def _mutants(code: str) -> list[str]:
    out = []
    for pat, rep in ((r"\+ *1\b", "+ 2"), (r"<=", "<"), (r"\bprint\((.+)\)", r"print(\1, 0)")):
        new, n = re.subn(pat, rep, code, count=1)
        if n and new != code:
            out.append(new)
    return out


def _official(cases: list) -> list[bool]:
    """The official harness's verdict on each (problem, program), all in one plain process."""
    payload = []
    for p, program in cases:
        wrapped = apps_wrap(program).removesuffix(
            "\ncode()\n"
        )  # the official harness calls code() per test
        payload.append(
            {
                "program": program,
                "wrapped": wrapped,
                "fn_name": p.tests.fn_name if p.tests.style == "call" else None,
                "inputs": p.tests.inputs,
                "outputs": p.tests.outputs,
            }
        )
    script = ORACLE.replace("TESTS_DIR", repr(str(ROOT / "tests"))).replace(
        "PRELUDE_TEXT", repr(APPS_PRELUDE)
    )
    r = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=600,
    )
    verdicts = json.loads(r.stdout.strip().splitlines()[-1])
    return [
        len(v) == len(p.tests.inputs) and all(x is True for x in v)
        for (p, _), v in zip(cases, verdicts)
    ]


@pytest.fixture(scope="module")
def cases():
    items = []
    for p in APPSReader().read(str(ROOT / "data/apps"), "train"):
        for s in p.solutions[:6]:
            items += [(p, s)] + [(p, m) for m in _mutants(s)[:2]]
    return items


def test_apps_compat_agrees_with_the_official_harness(cases) -> None:
    with Executor(workers=2, timeout_s=4.0, compare="apps", apps_compat=True) as ex:
        ours = ex.run([ExecRequest(program=s, tests=p.tests) for p, s in cases])
    official = _official(cases)
    disagree = [
        (p.task_id, o.outcome.value, off)
        for (p, _), o, off in zip(cases, ours, official)
        if o.passed != off
    ]
    assert len(cases) >= 40 and 0 < sum(official) < len(cases)  # both verdicts occur
    assert disagree == []
