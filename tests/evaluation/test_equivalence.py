"""Computational accuracy: a translation is judged by running it beside its source program."""

from __future__ import annotations

import pytest

from execrl.judging.equivalence import SourceOutputs, judge_translations
from execrl.vocabulary import Outcome, Problem

from helpers.common import compose, requires_csharp, requires_java_cpp, requires_php

PY_SRC = "def total(n):\n    s = 0\n    for i in range(n):\n        s += i * 2\n    return s\nprint(total(10))\nprint(total(3) - 1)\n"


def _problem(
    tid: str, source: str, source_language: str = "python", language: str = "python"
) -> Problem:
    return Problem(
        tid,
        "xlcost",
        prompt=source,
        language=language,
        source_code=source,
        source_language=source_language,
        solutions=[source],
    )


def test_flipped_operator_fails_and_copy_passes(executor):
    p = _problem("t/0", PY_SRC)
    flipped = PY_SRC.replace("s += i * 2", "s -= i * 2")
    crash = PY_SRC.replace("print(total(10))", "print(total(10) / 0)")
    broken = PY_SRC.replace("def total(n):", "def total(n)")
    sources = SourceOutputs(executor)
    got = judge_translations([p] * 4, [PY_SRC, flipped, crash, broken], executor, sources)
    verdicts = [v.outcome for _, v in got]
    assert verdicts == [
        Outcome.PASSED,
        Outcome.FAILED,
        Outcome.RUNTIME_ERROR,
        Outcome.COMPILE_ERROR,
    ]
    assert got[1][1].tests[0].expected.startswith("90")  # the source printed 90, the flip -90
    assert sources.cache["t/0"].ok and sources.flagged() == {}


def test_nondeterministic_and_broken_sources_are_flagged_not_scored(executor):
    rand = _problem("t/rand", "import random\nprint(random.random())\n")
    clock = _problem("t/clock", "import time\nprint(time.perf_counter_ns())\n")
    bad = _problem("t/bad", "print(1/0)\n")
    sources = SourceOutputs(executor)
    got = judge_translations(
        [rand, clock, bad], ["print(0.5)\n", "print(1)\n", "print(1)\n"], executor, sources
    )
    assert all(verdict is None for _, verdict in got)
    assert all(
        run.outcome is Outcome.PASSED for run, _ in got
    )  # the candidates themselves ran fine
    assert sources.flagged() == {"nondeterministic": 2, "runtime_error": 1}


@requires_java_cpp
def test_java_to_cpp_flipped_operator(executor):
    java = (
        "public class Main { static int f ( int n ) { int s = 0 ; for ( int i = 1 ; i <= n ; i ++ ) s += i * i ; return s ; } "
        "public static void main ( String [ ] args ) { System . out . println ( f ( 5 ) ) ; } }"
    )
    cpp = (
        "#include <iostream>\nusing namespace std ; int f ( int n ) { int s = 0 ; for ( int i = 1 ; i <= n ; i ++ ) s += i * i ; return s ; } "
        "int main ( ) { cout << f ( 5 ) << endl ; return 0 ; }"
    )
    p = _problem("t/java", java, source_language="java", language="cpp")
    got = judge_translations([p, p], [cpp, cpp.replace("s += i * i", "s += i + i")], executor)
    assert [v.outcome for _, v in got] == [Outcome.PASSED, Outcome.FAILED]


# PY_SRC translated (XLCoST's token spacing), as XLCoST's C# and PHP columns hold it
CSHARP = (
    "using System ; class GFG { static int total ( int n ) { int s = 0 ; for ( int i = 0 ; i < n ; i ++ ) s += i * 2 ; return s ; } "
    "public static void Main ( String [ ] args ) { Console . WriteLine ( total ( 10 ) ) ; Console . WriteLine ( total ( 3 ) - 1 ) ; } }"
)
PHP = 'function total ( $n ) { $s = 0 ; for ( $i = 0 ; $i < $n ; $i ++ ) $s += $i * 2 ; return $s ; } echo total ( 10 ) , "\\n" ; echo total ( 3 ) - 1 , "\\n" ;'


@pytest.mark.parametrize(
    "language,translation",
    [
        pytest.param("c_sharp", CSHARP, marks=requires_csharp),
        pytest.param("php", PHP, marks=requires_php),
    ],
)
def test_python_to_csharp_and_php_flipped_operator(executor, language, translation):
    p = _problem(f"t/{language}", PY_SRC, language=language)
    got = judge_translations([p, p], [translation, translation.replace("+=", "-=")], executor)
    assert [v.outcome for _, v in got] == [Outcome.PASSED, Outcome.FAILED]


# Two XLCoST-format (tokenised) pairs: sum of squares and a string literal with spaces
PY_TOK = [
    "def f ( n ) : NEW_LINE INDENT s = 0 NEW_LINE for i in range ( 1 , n + 1 ) : NEW_LINE INDENT s += i * i NEW_LINE DEDENT return s NEW_LINE DEDENT print ( f ( 5 ) ) NEW_LINE",
    'print ( " a ▁ b " ) NEW_LINE',
]
PAIR_TOK = {
    "c_sharp": (
        "C#",
        "cs",
        [
            "using System ; class GFG { static int f ( int n ) { int s = 0 ; for ( int i = 1 ; i <= n ; i ++ ) s += i * i ; return s ; } "
            "public static void Main ( ) { Console . WriteLine ( f ( 5 ) ) ; } }",
            'using System ; class GFG { public static void Main ( ) { Console . WriteLine ( " a ▁ b " ) ; } }',
        ],
    ),
    "php": (
        "PHP",
        "php",
        [
            'function f ( $n ) { $s = 0 ; for ( $i = 1 ; $i <= $n ; $i ++ ) $s += $i * $i ; return $s ; } echo f ( 5 ) , " STRNEWLINE " ;',
            'echo " a ▁ b STRNEWLINE " ;',
        ],
    ),
}


@pytest.mark.parametrize(
    "target",
    [pytest.param("c_sharp", marks=requires_csharp), pytest.param("php", marks=requires_php)],
)
def test_evaluate_reference_translations_of_other_xlcost_pairs(tmp_path, target):
    from execrl.tasks.evaluate import evaluate

    name, ext, tgt = PAIR_TOK[target]
    pair = tmp_path / f"Python-{name}"
    pair.mkdir()
    (pair / f"test-Python-{name}-tok.py").write_text("\n".join(PY_TOK) + "\n")
    (pair / f"test-Python-{name}-tok.{ext}").write_text("\n".join(tgt) + "\n")
    m = evaluate(
        compose(
            "evaluate",
            [
                "data=xlcost",
                f"data.path={tmp_path}",
                "data.reader.source_lang=python",
                f"data.reader.target_lang={target}",
                "samples=reference",
                "split=test",
            ],
            tmp_path / "run",
        )
    )
    t = m["translation"][f"python->{target}"]
    assert t["problems"] == 2 and t["compile_rate"] == 1.0
    assert (
        t["computational_accuracy"]["problems_scored"] == 2
        and t["computational_accuracy"]["pass@1"] == 1.0
    )
