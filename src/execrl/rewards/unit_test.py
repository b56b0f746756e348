"""Execution rewards: unit tests (CodeRL's graded reward, binary, fraction of tests) and compiling."""

from __future__ import annotations

from execrl.execution.protocol import Executor
from execrl.judging.requests import compile_request, judge_request
from execrl.rewards.base import RewardBatch
from execrl.rewards.outcome_rewards import binary_reward, coderl_reward
from execrl.vocabulary import ExecutionResult, Outcome, Problem


class UnitTestReward:
    """``kind="coderl"``: -1 / -0.6 / -0.3 / +1 by outcome class (compile error, runtime error,
    failed, passed); ``"binary"``: 1 if every test passes; ``"fraction"``: share of tests passed
    (asks the executor not to stop at the first failing test)."""

    def __init__(self, kind: str = "coderl") -> None:
        if kind not in ("coderl", "binary", "fraction"):
            raise ValueError(f"unit-test reward kind must be coderl|binary|fraction, got {kind!r}")
        self.kind = kind

    def value(self, r: ExecutionResult) -> float | None:
        if r.outcome is Outcome.INFRA_ERROR:
            return None
        if self.kind == "coderl":
            return coderl_reward(r.outcome)
        if self.kind == "binary":
            return binary_reward(r.outcome)
        return r.pass_fraction

    def score(
        self, problems: list[Problem], programs: list[str], executor: Executor
    ) -> RewardBatch:
        early_exit = False if self.kind == "fraction" else None
        reqs = [
            judge_request(p, prog, early_exit=early_exit) for p, prog in zip(problems, programs)
        ]
        results = executor.run(reqs)
        rewards = [self.value(r) for r in results]
        return RewardBatch(
            rewards=rewards, components={f"unit_test_{self.kind}": rewards}, results=results
        )


class CompilerReward:
    """PPOCoder's compiler signal: ``success`` (+1) if the program compiles, ``failure`` (-1) if not.

    With ``use_tests=True``, problems that have unit tests get CodeRL's four levels instead
    (-1 / -0.6 / -0.3 / +1, PPOCoder's program-synthesis reward); others are compiled only.
    """

    def __init__(
        self, success: float = 1.0, failure: float = -1.0, use_tests: bool = False
    ) -> None:
        self.success, self.failure, self.use_tests = success, failure, use_tests

    def score(
        self, problems: list[Problem], programs: list[str], executor: Executor
    ) -> RewardBatch:
        reqs = [
            judge_request(p, prog) if self.use_tests else compile_request(p, prog)
            for p, prog in zip(problems, programs)
        ]
        results = executor.run(reqs)
        rewards: list[float | None] = []
        for req, r in zip(reqs, results):
            if r.outcome is Outcome.INFRA_ERROR:
                rewards.append(None)
            elif req.mode == "tests":
                rewards.append(coderl_reward(r.outcome))
            else:
                rewards.append(self.success if r.outcome is Outcome.PASSED else self.failure)
        return RewardBatch(rewards=rewards, components={"compiler": rewards}, results=results)
