"""The equivalence reward: translations scored by running them beside their source program."""

from __future__ import annotations

import hydra

from execrl.rewards import EquivalenceReward, WeightedSum
from execrl.vocabulary import Problem

from helpers.common import compose, requires_java_cpp

SRC = "def total(n):\n    s = 0\n    for i in range(n):\n        s += i * 2\n    return s\nprint(total(10))\n"


def _problem(
    tid: str, source: str, language: str = "python", source_language: str = "python"
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


def test_coderl_levels_from_the_equivalence_run(executor) -> None:
    p = _problem("e/0", SRC)
    programs = [
        SRC,
        SRC.replace("s += i * 2", "s -= i * 2"),
        SRC.replace("print(total(10))", "print(total(10) / 0)"),
        SRC.replace("def total(n):", "def total(n)"),
        SRC.replace("s = 0", "s = 0  # renamed nothing"),
    ]
    rb = EquivalenceReward().score([p] * 5, programs, executor)
    assert rb.rewards == [1.0, -0.3, -0.6, -1.0, 1.0]
    assert [r.outcome.value for r in rb.results] == [
        "passed",
        "failed",
        "runtime_error",
        "compile_error",
        "passed",
    ]
    assert rb.components == {"equivalence_coderl": rb.rewards}
    assert EquivalenceReward(kind="binary").score([p] * 2, programs[:2], executor).rewards == [
        1.0,
        0.0,
    ]


def test_source_output_is_computed_once_per_problem(executor) -> None:
    reward = EquivalenceReward()
    p = _problem("e/cache", SRC)
    reward.score([p], [SRC], executor)
    runs_before = executor.stats["programs"]
    reward.score([p, p], [SRC, SRC], executor)
    assert executor.stats["programs"] - runs_before == 2  # the two candidates, no source rerun
    assert list(reward.sources(executor).cache) == ["e/cache"]


def test_flagged_source_drops_the_sample_unless_the_candidate_does_not_compile(executor) -> None:
    rand = _problem("e/rand", "import random\nprint(random.random())\n")
    rb = EquivalenceReward().score([rand, rand], ["print(0.5)\n", "print(0.5\n"], executor)
    assert rb.rewards == [None, -1.0]
    assert EquivalenceReward(flagged_source=0.0).score(
        [rand], ["print(0.5)\n"], executor
    ).rewards == [0.0]


@requires_java_cpp
def test_java_to_cpp_translation_scored_by_behaviour(executor) -> None:
    java = (
        "public class Main { static int f ( int n ) { int s = 0 ; for ( int i = 1 ; i <= n ; i ++ ) s += i * i ; return s ; } "
        "public static void main ( String [ ] args ) { System . out . println ( f ( 5 ) ) ; } }"
    )
    cpp = (
        "#include <iostream>\nusing namespace std ; int f ( int n ) { int s = 0 ; for ( int i = 1 ; i <= n ; i ++ ) s += i * i ; return s ; } "
        "int main ( ) { cout << f ( 5 ) << endl ; return 0 ; }"
    )
    p = _problem("e/java", java, language="cpp", source_language="java")
    rb = EquivalenceReward().score([p, p], [cpp, cpp.replace("s += i * i", "s += i + i")], executor)
    assert rb.rewards == [1.0, -0.3]


def test_ppocoder_equivalence_config_swaps_the_compile_term(executor) -> None:
    reward = hydra.utils.instantiate(compose("train", ["reward=ppocoder_equivalence"]).reward)
    assert isinstance(reward, WeightedSum) and set(reward.components) == {
        "equivalence",
        "ast",
        "dfg",
    }
    rb = reward.score([_problem("e/mix", SRC)], [SRC], executor)
    assert (
        rb.components["equivalence"] == [1.0]
        and rb.rewards[0] == 1.0 + rb.components["ast"][0] + rb.components["dfg"][0]
    )
