"""Typed execution outcomes, and the one place that maps them to CodeRL codes, classes and rewards."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Outcome(str, Enum):
    """What happened to one program (or one test of it)."""

    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    FAILED = "failed"
    PASSED = "passed"
    # The sandbox itself failed: never a reward, never a failure; dropped and counted.
    INFRA_ERROR = "infrastructure_error"

    @property
    def is_infra(self) -> bool:
        return self is Outcome.INFRA_ERROR


# Severity order used to reduce per-test outcomes to one program outcome (worst first).
SEVERITY = [
    Outcome.INFRA_ERROR,
    Outcome.COMPILE_ERROR,
    Outcome.RUNTIME_ERROR,
    Outcome.MEMORY_LIMIT,
    Outcome.TIMEOUT,
    Outcome.FAILED,
    Outcome.PASSED,
]

# CodeRL result codes: -2 compile error, -1 runtime error (incl. timeout / memory), False, True.
_CODERL_CODE: dict[Outcome, int | bool | None] = {
    Outcome.COMPILE_ERROR: -2,
    Outcome.RUNTIME_ERROR: -1,
    Outcome.TIMEOUT: -1,
    Outcome.MEMORY_LIMIT: -1,
    Outcome.FAILED: False,
    Outcome.PASSED: True,
    Outcome.INFRA_ERROR: None,
}

# CodeRL's four critic classes (datasets/utils.py:get_error_type) and their rewards.
CLASS_NAMES = ["compile_error", "runtime_error", "failed", "passed"]
_CLASS: dict[Outcome, int | None] = {
    Outcome.COMPILE_ERROR: 0,
    Outcome.RUNTIME_ERROR: 1,
    Outcome.TIMEOUT: 1,
    Outcome.MEMORY_LIMIT: 1,
    Outcome.FAILED: 2,
    Outcome.PASSED: 3,
    Outcome.INFRA_ERROR: None,
}
CODERL_REWARDS = (-1.0, -0.6, -0.3, 1.0)


def coderl_code(outcome: Outcome) -> int | bool | None:
    """CodeRL's ``-2/-1/False/True`` code for an outcome (``None`` for infrastructure errors)."""
    return _CODERL_CODE[Outcome(outcome)]


def outcome_class(outcome: Outcome, binary: bool = False) -> int | None:
    """Critic class: 0..3 (compile, runtime, failed, passed), or 0/1 when ``binary``."""
    c = _CLASS[Outcome(outcome)]
    if c is None or not binary:
        return c
    return int(c == 3)


def class_from_coderl_code(code: int | bool) -> int:
    """Inverse used when reading CodeRL's own ``gen_solutions.json`` (checks -2/-1 before bools)."""
    if code is True:
        return 3
    if code is False:
        return 2
    if code == -2:
        return 0
    if code == -1:
        return 1
    raise ValueError(f"unknown CodeRL result code {code!r}")


def coderl_reward(outcome: Outcome, rewards: tuple[float, ...] = CODERL_REWARDS) -> float | None:
    """CodeRL's scalar reward (-1, -0.6, -0.3, +1); ``None`` for infrastructure errors."""
    c = outcome_class(outcome)
    return None if c is None else float(rewards[c])


def binary_reward(outcome: Outcome) -> float | None:
    """1.0 if every test passed, 0.0 otherwise; ``None`` for infrastructure errors."""
    o = Outcome(outcome)
    return None if o.is_infra else float(o is Outcome.PASSED)


def worst(outcomes: list[Outcome]) -> Outcome:
    """Reduce per-test outcomes to the program outcome: the most severe one."""
    if not outcomes:
        return Outcome.PASSED
    return min((Outcome(o) for o in outcomes), key=SEVERITY.index)


@dataclass
class TestResult:
    """Outcome of one test case. ``got``/``expected`` are truncated reprs for failed tests."""

    outcome: Outcome
    got: str | None = None
    expected: str | None = None
    error: str | None = None
    time_s: float = 0.0
    error_type: str | None = None


@dataclass
class ExecutionResult:
    """Outcome of one program against its tests (or of a compile/run-only request)."""

    outcome: Outcome
    tests: list[TestResult] = field(default_factory=list)
    error_type: str | None = (
        None  # exception class name for runtime errors, e.g. "ZeroDivisionError"
    )
    error: str | None = None  # traceback / compiler output / sandbox message (truncated)
    stdout: str | None = None  # for run-only requests (translation equivalence)
    time_s: float = 0.0
    num_tests: int = 0  # tests the problem has (tests may stop early at the first failure)
    compare_outcomes: dict[str, str] | None = (
        None  # stdin/stdout and call-based: the verdict under each comparison
    )
    weak_tests: int = 0  # tests judged by the weaker path (execution/judge.py)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    @property
    def first_failure(self) -> Outcome | None:
        """The outcome of the first test that did not pass (CodeRL's error class), or of the
        whole program where no test ran; None if it passed."""
        if self.outcome is Outcome.PASSED:
            return None
        return next(
            (t.outcome for t in self.tests if t.outcome is not Outcome.PASSED), self.outcome
        )

    @property
    def num_passed(self) -> int:
        return sum(t.outcome is Outcome.PASSED for t in self.tests)

    @property
    def pass_fraction(self) -> float:
        return self.num_passed / self.num_tests if self.num_tests else float(self.passed)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["outcome"] = self.outcome.value
        for t in d["tests"]:
            t["outcome"] = Outcome(t["outcome"]).value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExecutionResult:
        d = dict(d)
        d["outcome"] = Outcome(d["outcome"])
        d["tests"] = [
            TestResult(**{**t, "outcome": Outcome(t["outcome"])}) for t in d.get("tests", [])
        ]
        return cls(**d)
