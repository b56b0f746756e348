"""Rewards: outcome -> value mappings with a fake executor; AST/DFG match with real codebleu."""

from __future__ import annotations

import hydra
import pytest

from execrl.rewards import ASTMatch, CompilerReward, DFGMatch, UnitTestReward, WeightedSum
from execrl.vocabulary import ExecutionResult, Outcome, Problem, TestResult, Tests

from helpers.common import compose


class FakeExecutor:
    """Maps a program text to an outcome; records the requests it was given."""

    def __init__(
        self, outcomes: dict[str, Outcome], passed_of: dict[str, int] | None = None
    ) -> None:
        self.outcomes, self.passed_of, self.calls = outcomes, passed_of or {}, []

    def run(self, requests):
        self.calls.append(list(requests))
        out = []
        for r in requests:
            o = self.outcomes[r.program]
            n = len(r.tests) if r.tests is not None else 0
            k = self.passed_of.get(r.program, n if o is Outcome.PASSED else 0)
            tests = [TestResult(Outcome.PASSED)] * k + (
                [TestResult(o)] if o is not Outcome.PASSED else []
            )
            out.append(ExecutionResult(outcome=o, tests=tests, num_tests=n))
        return out


def _problem(lang="python", tests=True, solution="x = 1\n"):
    t = (
        Tests(style="assert", asserts=["assert 1", "assert 2", "assert 3", "assert 4"])
        if tests
        else Tests()
    )
    return Problem(
        task_id="t", dataset="d", prompt="p", language=lang, tests=t, solutions=[solution]
    )


OUTCOMES = {
    "ce": Outcome.COMPILE_ERROR,
    "re": Outcome.RUNTIME_ERROR,
    "to": Outcome.TIMEOUT,
    "wa": Outcome.FAILED,
    "ok": Outcome.PASSED,
    "infra": Outcome.INFRA_ERROR,
}


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("coderl", [-1.0, -0.6, -0.6, -0.3, 1.0, None]),
        ("binary", [0.0, 0.0, 0.0, 0.0, 1.0, None]),
    ],
)
def test_unit_test_reward_levels(kind, expected):
    ex = FakeExecutor(OUTCOMES)
    progs = list(OUTCOMES)
    rb = UnitTestReward(kind).score([_problem()] * len(progs), progs, ex)
    assert rb.rewards == expected
    assert len(ex.calls) == 1 and all(r.mode == "tests" for r in ex.calls[0])
    assert [r.outcome for r in rb.results] == [OUTCOMES[p] for p in progs]


def test_fraction_reward_runs_all_tests():
    ex = FakeExecutor({"wa": Outcome.FAILED, "ok": Outcome.PASSED}, passed_of={"wa": 3})
    rb = UnitTestReward("fraction").score([_problem()] * 2, ["wa", "ok"], ex)
    assert rb.rewards == [0.75, 1.0]
    assert all(r.early_exit is False for r in ex.calls[0])


def test_compiler_reward_compile_mode_and_test_levels():
    ex = FakeExecutor(
        {
            "ce": Outcome.COMPILE_ERROR,
            "ok": Outcome.PASSED,
            "infra": Outcome.INFRA_ERROR,
            "wa": Outcome.FAILED,
        }
    )
    rb = CompilerReward().score([_problem("java")] * 3, ["ce", "ok", "infra"], ex)
    assert rb.rewards == [-1.0, 1.0, None]
    assert all(r.mode == "compile" and r.language == "java" for r in ex.calls[0])
    # with use_tests, problems with tests get CodeRL's levels; problems without are compiled
    rb = CompilerReward(use_tests=True).score([_problem(), _problem(tests=False)], ["wa", "ok"], ex)
    assert rb.rewards == [-0.3, 1.0]
    assert [r.mode for r in ex.calls[-1]] == ["tests", "compile"]


JAVA = "class A { static int f(int a, int b) { int c = a + b; if (c > 3) { c = c - 1; } return c * 2; } }"
JAVA_RENAMED = "class A { static int f(int x, int y) { int z = x + y; if (z > 3) { z = z - 1; } return z * 2; } }"
CPP = '#include <cstdio>\nint f(int a, int b) { int c = a + b; for (int i = 0; i < b; i++) c += i; return c; }\nint main() { printf("%d", f(1, 2)); }'
CPP_RENAMED = (
    CPP.replace("int a, int b", "int p, int q")
    .replace("a + b", "p + q")
    .replace("i < b", "i < q")
    .replace(" c", " s")
    .replace("(c", "(s")
)
PY = "def f(a, b):\n    c = a + b\n    for i in range(b):\n        c += i\n    return c\n"
PY_RENAMED = "def f(x, y):\n    z = x + y\n    for j in range(y):\n        z += j\n    return z\n"
UNRELATED = {
    "java": 'class B { void g() { System.out.println("hi"); } }',
    "cpp": "int main() { return 0; }",
    "python": "print('hello')\n",
}


@pytest.mark.parametrize(
    "lang, ref, renamed",
    [("java", JAVA, JAVA_RENAMED), ("cpp", CPP, CPP_RENAMED), ("python", PY, PY_RENAMED)],
)
def test_ast_dfg_match_known_pairs(lang, ref, renamed):
    assert renamed != ref
    probs = [_problem(lang, solution=ref)] * 3
    progs = [ref, renamed, UNRELATED[lang]]
    ast = ASTMatch().score(probs, progs, None).rewards
    dfg = DFGMatch().score(probs, progs, None).rewards
    assert ast[0] == 1.0 and dfg[0] == 1.0  # identical code
    assert dfg[1] == 1.0  # renaming variables keeps every data-flow edge
    assert ast[2] < 0.5 and dfg[2] < 0.5  # unrelated program
    # partial program: strictly between
    half = ref[: len(ref) // 2]
    assert 0.0 < ASTMatch().score(probs[:1], [half], None).rewards[0] < 1.0


def test_match_reference_is_not_truncated_at_policy_length():
    """PPOCoder truncated the gold at the policy's EOS: a short prefix then scored as a full match."""
    short = PY.split("\n")[0] + "\n    return a\n"
    assert ASTMatch().score([_problem(solution=PY)], [short], None).rewards[0] < 1.0
    assert DFGMatch().score([_problem(solution=PY)], [short], None).rewards[0] < 1.0


def test_match_unsupported_language_is_an_error():
    with pytest.raises(ValueError, match="grammar"):
        ASTMatch().score([_problem("cobol")], ["x"], None)


def test_weighted_sum_ppocoder_total_and_infra():
    ex = FakeExecutor(
        {PY: Outcome.PASSED, "def f(:": Outcome.COMPILE_ERROR, PY_RENAMED: Outcome.INFRA_ERROR}
    )
    ws = WeightedSum(
        {
            "compiler": (CompilerReward(), 1.0),
            "ast": (ASTMatch(), 0.5),
            "dfg": {"reward": DFGMatch(), "weight": 2.0},
        }
    )
    rb = ws.score([_problem(solution=PY)] * 3, [PY, "def f(:", PY_RENAMED], ex)
    assert rb.rewards[0] == pytest.approx(1.0 + 0.5 + 2.0)
    a, d = rb.components["ast"][1], rb.components["dfg"][1]
    assert rb.rewards[1] == pytest.approx(-1.0 + 0.5 * a + 2.0 * d)
    assert rb.rewards[2] is None  # sandbox failure drops the sample even though AST/DFG scored
    assert rb.components["compiler"] == [1.0, -1.0, None]
    assert rb.results[0].outcome is Outcome.PASSED


@pytest.mark.parametrize(
    "name, cls",
    [
        ("unit_test", UnitTestReward),
        ("binary", UnitTestReward),
        ("compiler", CompilerReward),
        ("ppocoder", WeightedSum),
    ],
)
def test_reward_configs_instantiate(name, cls):
    cfg = compose("train", [f"reward={name}"])
    r = hydra.utils.instantiate(cfg.reward)
    assert isinstance(r, cls)
    if name == "ppocoder":
        assert set(r.components) == {"compiler", "ast", "dfg"}
        assert [w for _, w in r.components.values()] == [1.0, 1.0, 1.0]
        assert isinstance(r.components["dfg"][0], DFGMatch)


def test_default_reward_is_coderl_unit_test():
    r = hydra.utils.instantiate(compose("train").reward)
    assert isinstance(r, UnitTestReward) and r.kind == "coderl"


def test_dfg_match_does_not_depend_on_hash_seed():
    """CodeBLEU orders data-flow parents through set(): without canonical order the renamed copy
    scored 0.9 or 1.0 depending on PYTHONHASHSEED."""
    import os
    import subprocess
    import sys

    code = (
        "from execrl.rewards import dataflow_match\n"
        f"print(dataflow_match({JAVA_RENAMED!r}, {JAVA!r}, 'java'), dataflow_match({CPP_RENAMED!r}, {CPP!r}, 'cpp'))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(s)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for s in range(4)
    }
    assert outs == {"1.0 1.0"}
