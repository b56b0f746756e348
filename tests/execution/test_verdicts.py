"""Verdicts agree with the reference harnesses on real data: MBPP, APPS, XLCoST."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from execrl.data.apps import APPSReader
from execrl.data.mbpp import MBPPReader
from execrl.data.xlcost import XLCoSTReader
from execrl.execution import ExecRequest, Executor, Outcome
from execrl.judging.requests import judge_request
from execrl.vocabulary import Tests

from helpers.common import ROOT, has_toolchain, requires_csharp, requires_java_cpp, requires_php


@pytest.fixture(scope="module")
def slow_ok_executor():
    # "passes under plain Python" has no time limit: one MBPP reference (task 123) needs ~5 s here
    with Executor(workers=2, timeout_s=15.0) as ex:
        yield ex


@pytest.fixture(scope="module")
def mbpp():
    return MBPPReader().read(str(ROOT / "data/mbpp/mbpp.jsonl"), "all")


def test_all_mbpp_references_pass(slow_ok_executor, mbpp) -> None:
    results = slow_ok_executor.run([judge_request(p, p.solutions[0]) for p in mbpp])
    failed = [
        (p.task_id, r.outcome.value, r.error_type) for p, r in zip(mbpp, results) if not r.passed
    ]
    assert len(mbpp) == 974 and failed == []


def _mutate(code: str) -> str | None:
    for pat, rep in ((r"\+", "-"), (r"==", "!="), (r"<", ">"), (r"\breturn\b", "return None and ")):
        new, n = re.subn(pat, rep, code, count=1)
        if n:
            return new
    return None


def test_mutated_mbpp_programs_fail(executor, mbpp) -> None:
    probs = [p for p in mbpp if p.task_id in {f"mbpp/{i}" for i in range(11, 111)}]
    mutants = [(p, _mutate(p.solutions[0])) for p in probs]
    mutants = [(p, m) for p, m in mutants if m]
    results = executor.run([judge_request(p, m) for p, m in mutants])
    survived = [p.task_id for (p, _), r in zip(mutants, results) if r.passed]
    # a few mutants are equivalent programs (e.g. a flipped comparison the tests never reach)
    assert len(survived) <= len(mutants) // 10, survived


def test_apps_reference_solutions(executor) -> None:
    probs = APPSReader().read(str(ROOT / "data/apps"), "train")
    reqs, owners = [], []
    for p in probs:
        for s in p.solutions[:5]:
            reqs.append(judge_request(p, s))
            owners.append(p.task_id)
    results = executor.run(reqs)
    by_problem: dict[str, list[str]] = {}
    for o, r in zip(owners, results):
        by_problem.setdefault(o, []).append(r.outcome.value)
    # the reference harness passes these shipped solutions (they are APPS' accepted answers)
    assert all(v.count("passed") >= len(v) - 1 for v in by_problem.values()), by_problem
    # a wrong answer is failed, not an error; call-based output compared outside the child
    call = next(p for p in probs if p.tests.style == "call")
    r = executor.run(
        [
            judge_request(
                call, "class Solution:\n    def findKthPositive(self, arr, k):\n        return -1\n"
            )
        ]
    )[0]
    assert r.outcome is Outcome.FAILED


def test_apps_comparison_cascade(executor) -> None:
    t = Tests(style="stdio", inputs=["\n"], outputs=["1.0000001 2\n3\n"])
    assert (
        executor.run([ExecRequest(program="print('1.0 2')\nprint(' 3 ')", tests=t)])[0].outcome
        is Outcome.PASSED
    )
    assert (
        executor.run([ExecRequest(program="print('1.1 2')\nprint(3)", tests=t)])[0].outcome
        is Outcome.FAILED
    )


@requires_java_cpp
def test_xlcost_programs_compile_and_run_like_plain_toolchains(executor, tmp_path) -> None:
    probs = XLCoSTReader().read(str(ROOT / "data/xlcost"), "test")[:3]
    for i, p in enumerate(probs):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "a.cpp").write_text(p.solutions[0])
        plain = (
            subprocess.run(
                ["g++", "-o", str(d / "a"), str(d / "a.cpp")], capture_output=True
            ).returncode
            == 0
        )
        r = executor.run([ExecRequest(program=p.solutions[0], language="cpp", mode="run")])[0]
        assert (r.outcome is not Outcome.COMPILE_ERROR) == plain, (p.task_id, r.error)
        if plain:
            want = subprocess.run([str(d / "a")], capture_output=True, text=True, timeout=10).stdout
            assert r.outcome is Outcome.PASSED and r.stdout == want
    java = executor.run([ExecRequest(program=probs[0].source_code, language="java", mode="run")])[0]
    assert java.outcome is Outcome.PASSED and java.stdout.strip()


@requires_java_cpp
def test_precompiled_stdcpp_header_is_used_and_changes_no_verdict(executor, tmp_path) -> None:
    from execrl.execution import sandbox
    from execrl.execution.cpp_pch import pch_include_dir

    flags = [
        "-O1",
        "-std=c++17",
    ]  # the worker's C++ flags: a .gch only fits the flags it was built with
    inc = pch_include_dir(sandbox.workdir_base(), "g++", flags)
    assert inc is not None and (inc / "bits" / "stdc++.h.gch").is_file()
    prog = "#include <bits/stdc++.h>\nusing namespace std;\nint main() { vector<int> v{3, 1, 2}; sort(v.begin(), v.end()); cout << v[0]; }\n"
    (tmp_path / "a.cpp").write_text(prog)
    # g++ -H marks a precompiled header it uses with "!" (and falls back to the header silently)
    used = subprocess.run(
        ["g++", *flags, "-H", "-I", str(inc), "-fsyntax-only", str(tmp_path / "a.cpp")],
        capture_output=True,
        text=True,
    )
    assert f"! {inc}/bits/stdc++.h.gch" in used.stderr
    # flags it does not fit ("x": rejected): g++ reads the plain header through the wrapper
    other = subprocess.run(
        [
            "g++",
            "-O1",
            "-std=c++14",
            "-H",
            "-I",
            str(inc),
            "-fsyntax-only",
            str(tmp_path / "a.cpp"),
        ],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0 and other.stderr.startswith(f"x {inc}/bits/stdc++.h.gch")
    programs = [
        (prog, Outcome.PASSED),
        (
            "#include <bits/stdc++.h>\nint main() { std::cout << undeclared; }\n",
            Outcome.COMPILE_ERROR,
        ),
        (
            "#include <iostream>\nint main() { std::vector<int> v; }\n",
            Outcome.COMPILE_ERROR,
        ),  # <vector> never included
        (
            "#include <iostream>\n#include <bits/stdc++.h>\nint main() { std::cout << 1; }\n",
            Outcome.PASSED,
        ),  # not first: no .gch
    ]
    with Executor(workers=1, cpp_pch=False) as plain:
        without = plain.run(
            [ExecRequest(program=p, language="cpp", mode="run") for p, _ in programs]
        )
    with_pch = executor.run(
        [ExecRequest(program=p, language="cpp", mode="run") for p, _ in programs]
    )
    assert [r.outcome for r in with_pch] == [r.outcome for r in without] == [o for _, o in programs]
    assert with_pch[0].stdout == without[0].stdout == "1"


def test_infrastructure_error_is_typed_not_raised(executor) -> None:
    r = executor.run([ExecRequest(program="print(1)", language="cobol")])[0]
    assert r.outcome is Outcome.INFRA_ERROR


def test_duplicates_run_once(executor) -> None:
    before = executor.stats["deduplicated"]
    t = Tests(style="assert", asserts=["assert 1"])
    executor.run([ExecRequest(program="x = 1", tests=t)] * 5)
    assert executor.stats["deduplicated"] - before == 4


def test_min_isolation_refuses_weaker_hosts() -> None:
    from execrl.execution import IsolationError

    with pytest.raises(IsolationError, match="min_isolation"):
        Executor(workers=1, isolation="process", min_isolation="cgroups")


def test_java_main_class_skips_nested_helper_classes() -> None:
    from execrl.execution.worker import _java_main_class

    assert (
        _java_main_class(
            "class GFG { static class Node { int x; } public static void main(String[] a) {} }"
        )
        == "GFG"
    )
    assert (
        _java_main_class(
            "class Node { } public class Main { public static void main(String[] a) {} }"
        )
        == "Main"
    )
    assert (
        _java_main_class(
            "class A { void g() { if (x) { } } } class B { static class C {} public static void main(String[] a) {} }"
        )
        == "B"
    )


# Each: a program that doubles the number it reads, a wrong one, one that does not compile, one that crashes.
CSHARP = (
    "using System;\nclass GFG { public static void Main(String[] a) { int n = int.Parse(Console.ReadLine()); Console.WriteLine(n * 2); } }",
    "using System;\nclass GFG { public static void Main(String[] a) { int n = int.Parse(Console.ReadLine()); Console.WriteLine(n + 2); } }",
    "using System;\nclass GFG { public static void Main(String[] a) { int n = ; } }",
    "using System;\nclass GFG { public static void Main(String[] a) { int[] x = new int[1]; x[int.Parse(Console.ReadLine())] = 1; } }",
)
C = (
    '#include <stdio.h>\nint main() { int n; scanf("%d", &n); printf("%d\\n", n * 2); return 0; }',
    '#include <stdio.h>\nint main() { int n; scanf("%d", &n); printf("%d\\n", n + 2); return 0; }',
    "#include <stdio.h>\nint main() { int n = ; }",
    "#include <stdlib.h>\nint main() { abort(); }",
)
PHP = (
    '$n = intval(trim(fgets(STDIN)));\necho $n * 2 . "\\n";',  # XLCoST's PHP has no open tag; the runner adds it
    '<?php\n$n = intval(trim(fgets(STDIN)));\necho $n + 2 . "\\n";',
    "<?php\nfunction f( {",
    "<?php\necho $undefined_is_only_a_warning;\nthrow new Exception('boom');",
)


@pytest.mark.parametrize(
    "language,programs",
    [
        pytest.param(
            "c", C, marks=pytest.mark.skipif(not has_toolchain("gcc"), reason="Requires: gcc")
        ),
        pytest.param("c_sharp", CSHARP, marks=requires_csharp),
        pytest.param("php", PHP, marks=requires_php),
    ],
)
def test_c_csharp_and_php_verdicts(executor, language, programs) -> None:
    tests = Tests(style="stdio", inputs=["3", "10"], outputs=["6", "20"])
    got = executor.run([ExecRequest(program=p, language=language, tests=tests) for p in programs])
    assert [r.outcome for r in got] == [
        Outcome.PASSED,
        Outcome.FAILED,
        Outcome.COMPILE_ERROR,
        Outcome.RUNTIME_ERROR,
    ]
    assert got[0].num_passed == 2
    assert (
        executor.run([ExecRequest(program=programs[0], language=language, mode="compile")])[
            0
        ].outcome
        is Outcome.PASSED
    )


@requires_php
def test_php_warnings_stay_off_stdout(executor) -> None:
    r = executor.run(
        [ExecRequest(program="<?php\necho $undefined;\necho 7;", language="php", mode="run")]
    )[0]
    assert r.outcome is Outcome.PASSED and r.stdout == "7"


def test_both_comparisons_are_reported_and_the_verdict_is_the_first_failure(executor) -> None:
    # test 0: strict fails ("NO\nYES" for "YES\nNO"), the APPS cascade passes; test 1: a timeout.
    # The strict verdict stops at test 0 (failed, not timeout); the apps one runs on to test 1.
    prog = "s = input()\nif s == 'a':\n    print('NO')\n    print('YES')\nelse:\n    while True:\n        pass\n"
    t = Tests(style="stdio", inputs=["a\n", "b\n"], outputs=["YES\nNO\n", "x\n"])
    r = executor.run([ExecRequest(program=prog, tests=t)])[0]
    assert r.outcome is Outcome.FAILED and r.first_failure is Outcome.FAILED and len(r.tests) == 1
    assert r.compare_outcomes == {"strict": "failed", "apps": "timeout"}


# A program that names a missing import only in an annotation: plain Python evaluates the
# annotation when the def runs (NameError); with the harness's ``from __future__ import
# annotations`` inherited by compile(), it would not be evaluated and the program would pass.
ANNOTATION_ONLY = "def total(xs: Dict[str, int]) -> int:\n    return sum(xs.values())\n"
_STYLES = {
    "assert": (Tests(style="assert", asserts=["assert total({'a': 1, 'b': 2}) == 3"]), ""),
    "call": (Tests(style="call", fn_name="total", inputs=[[{"a": 1, "b": 2}]], outputs=[3]), ""),
    "stdio": (
        Tests(style="stdio", inputs=[""], outputs=["3\n"]),
        "print(total({'a': 1, 'b': 2}))\n",
    ),
    "run": (None, "print(total({'a': 1, 'b': 2}))\n"),
}


@pytest.mark.parametrize("style", list(_STYLES))
def test_a_program_passes_exactly_when_it_would_under_plain_python(executor, style) -> None:
    tests, main = _STYLES[style]
    fixed = "from typing import Dict\n\n" + ANNOTATION_ONLY
    plain_python = [
        subprocess.run([sys.executable, "-c", p + main], capture_output=True, text=True)
        for p in (ANNOTATION_ONLY, fixed)
    ]
    assert plain_python[0].returncode != 0 and "NameError" in plain_python[0].stderr
    assert plain_python[1].returncode == 0
    reqs = [
        ExecRequest(program=p + main, tests=tests, mode="run" if tests is None else "tests")
        for p in (ANNOTATION_ONLY, fixed)
    ]
    broken, ok = executor.run(reqs)
    # (call-based: APPS counts a module that fails to build as a compile error)
    want = Outcome.COMPILE_ERROR if style == "call" else Outcome.RUNTIME_ERROR
    assert broken.outcome is want and "NameError" in f"{broken.error_type} {broken.error}", broken
    assert ok.outcome is Outcome.PASSED, ok


def test_dataset_code_runs_as_plain_python_in_the_judge() -> None:
    from execrl.execution.judge import _test_code

    with pytest.raises(NameError):  # not postponed: judge.py's own future import stays there
        exec(_test_code("def helper(x: Undefined) -> None:\n    pass\n", "<setup>"), {})
