"""pass@k, n@k, APPS accuracies and CodeBLEU against hand-computed values."""

from __future__ import annotations

import itertools
import math

import pytest

from execrl.metrics import (
    Judged,
    codebleu,
    compile_rate,
    exact_match,
    n_at_k,
    pass_at_k,
    synthesis_metrics,
)
from execrl.vocabulary import Outcome


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k)/C(n, k) with exact integers."""
    return 1 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (10, 0, 5, 0.0),  # c = 0
        (10, 3, 1, 0.3),
        (5, 2, 2, 1 - 3 / 10),  # C(3,2)/C(5,2) = 3/10
        (4, 2, 3, 1.0),  # n - c = 2 < k = 3
        (10, 8, 5, 1.0),  # n - c < k
        (200, 1, 100, 0.5),
    ],
)
def test_pass_at_k_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_matches_combinatorial_form_everywhere():
    for n in range(1, 13):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-9)


def test_pass_at_k_rejects_k_above_n():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def brute_n_at_k(passed, scores, n, k):
    """Average over every k-subset of: any of the subset's n best (by score, then index) passes."""
    N = len(passed)
    subsets = list(itertools.combinations(range(N), k))
    hits = 0
    for sub in subsets:
        best = sorted(sub, key=lambda i: (-scores[i], i))[:n]
        hits += any(passed[i] for i in best)
    return hits / len(subsets)


def test_n_at_k_ranking_top_of_all_samples():
    passed = [False, False, True, False]
    # 1@4 submits only the best-scored sample: it fails under one ranking, passes under another
    assert n_at_k(passed, [0.9, 0.1, 0.5, 0.2], n=1, k=4) == 0.0
    assert n_at_k(passed, [0.1, 0.2, 0.9, 0.3], n=1, k=4) == 1.0
    # 2@4 with the pass ranked second
    assert n_at_k(passed, [0.9, 0.1, 0.5, 0.2], n=2, k=4) == 1.0
    # no scores: sample order
    assert n_at_k(passed, None, n=1, k=4) == 0.0
    assert n_at_k(passed, None, n=3, k=4) == 1.0


def test_n_at_k_equals_pass_at_k_when_n_equals_k():
    passed = [True, False, False, True, False, False]
    scores = [0.3, 0.8, 0.1, 0.0, 0.5, 0.5]
    for k in range(1, 7):
        assert n_at_k(passed, scores, n=k, k=k) == pytest.approx(pass_at_k(6, 2, k))


def test_n_at_k_exact_expectation_matches_enumeration():
    passed = [True, False, False, True, False, False, True]
    scores = [0.3, 0.8, 0.1, 0.0, 0.5, 0.5, 0.2]
    for n in (1, 2, 3):
        for k in range(n, 8):
            assert n_at_k(passed, scores, n, k) == pytest.approx(brute_n_at_k(passed, scores, n, k))


def J(tid, i, outcome, frac=0.0, score=None, diff=None):
    return Judged(tid, i, Outcome(outcome), frac, score, diff)


def test_synthesis_metrics_by_difficulty_and_infra_errors_dropped():
    judged = [
        J("a", 0, "passed", 1.0, 0.9, "introductory"),
        J("a", 1, "failed", 0.5, 0.1, "introductory"),
        J("a", 2, "infrastructure_error", 0.0, None, "introductory"),
        J("b", 0, "compile_error", 0.0, 0.2, "interview"),
        J("b", 1, "runtime_error", 0.0, 0.8, "interview"),
        J("b", 2, "passed", 1.0, 0.5, "interview"),
    ]
    m = synthesis_metrics(judged, ks=[1, 2, 3], nks=[(1, 2)])
    # a: n=2 (infra dropped), c=1 -> pass@1 .5, pass@2 1; b: n=3, c=1 -> 1/3, 2/3, 1
    assert m["pass@1"] == pytest.approx((0.5 + 1 / 3) / 2)
    assert m["pass@2"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert m["pass@3"] == pytest.approx(1.0)  # only b has 3 judged samples
    assert m["infrastructure_errors"] == 1
    assert m["outcomes"]["infrastructure_error"]["count"] == 1
    assert m["compile_rate"] == pytest.approx(4 / 5)
    # test-case average: a (1 + .5)/2, b (0 + 0 + 1)/3; strict: a 1/2, b 1/3
    assert m["test_case_average"] == pytest.approx((0.75 + 1 / 3) / 2)
    assert m["strict_accuracy"] == pytest.approx((0.5 + 1 / 3) / 2)
    # 1@2: a's best-scored (passes) is in every 2-subset -> 1; b: subsets {0,1}->1 fails, {0,2}->2 passes, {1,2}->1 fails
    assert m["1@2"] == pytest.approx((1.0 + 1 / 3) / 2)
    assert set(m["by_difficulty"]) == {"introductory", "interview"}
    assert m["by_difficulty"]["interview"]["pass@1"] == pytest.approx(1 / 3)


def test_compile_rate_ignores_infra():
    assert compile_rate(
        [Outcome.PASSED, Outcome.COMPILE_ERROR, Outcome.INFRA_ERROR, Outcome.FAILED]
    ) == pytest.approx(2 / 3)
    assert compile_rate([Outcome.INFRA_ERROR]) is None


def test_codebleu_known_pairs():
    java = "class A { static int f ( int a ) { return a + 1 ; } }"
    same = codebleu([java], [java], "java")
    assert same["codebleu"] == pytest.approx(1.0) and same["ast_match"] == pytest.approx(1.0)
    # a renamed variable keeps the AST and data flow but loses n-grams
    py = codebleu(["def f(x):\n    return x + 1\n"], ["def f(y):\n    return y + 1\n"], "python")
    assert py["ast_match"] == pytest.approx(1.0) and py["dataflow_match"] == pytest.approx(1.0)
    assert py["bleu"] < 1.0 and py["codebleu"] < 1.0
    # an unrelated program scores far lower than a near copy
    ref = "int main ( ) { int s = 0 ; for ( int i = 0 ; i < 10 ; i ++ ) s += i ; cout << s ; return 0 ; }"
    near = ref.replace("s += i", "s += i * 2")
    far = "int main ( ) { return 0 ; }"
    assert (
        codebleu([ref], [near], "cpp")["codebleu"] > codebleu([ref], [far], "cpp")["codebleu"] + 0.2
    )
    assert codebleu([ref], [""], "cpp")["bleu"] == 0.0


def test_codebleu_tokens_scores_xlcost_token_text():
    """Re-tokenized, spacing no longer counts; line breaks still do (NEW_LINE is a token)."""
    from execrl.metrics.translation import codebleu_tokens

    ref = "int f(int x){return x+1;}"
    spaced = "int f ( int x ) { return x + 1 ; }"
    assert (
        codebleu([ref], [spaced], "cpp")["bleu"] < 0.5
    )  # whitespace-split words: 'f(int' against 'f'
    tok = codebleu_tokens([ref], [spaced], "cpp")
    assert tok["bleu"] == pytest.approx(1.0) and tok["codebleu"] == pytest.approx(1.0)
    assert codebleu_tokens([ref], ["int f(int x){\nreturn x+1;}"], "cpp")["bleu"] < 1.0


def test_exact_match_whitespace_insensitive():
    assert exact_match(["a  b\nc", "x y"], ["a b c", "x z"]) == 0.5
