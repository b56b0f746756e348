"""The words every layer shares, importing nothing of execrl: a :class:`Problem` with its
:class:`Tests` (one record type for every dataset), and what running a program came to
(:class:`Outcome`, :class:`TestResult`, :class:`ExecutionResult`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

TestStyle = Literal["stdio", "call", "assert", "none"]


@dataclass
class Tests:
    """Unit tests of one problem, in one of three styles.

    - ``stdio``: ``inputs[i]`` is the whole stdin text, ``outputs[i]`` the expected stdout (APPS).
    - ``call``: ``fn_name`` is called with ``*inputs[i]`` and compared with ``outputs[i]``
      (APPS call-based: Codewars functions or LeetCode ``class Solution`` methods).
    - ``assert``: ``asserts`` are Python statements run after ``setup_code`` (MBPP, HumanEval).
      They run in the trusted judge; the program's functions are reached by name. ``setup_code``
      is the dataset's own code (MBPP's ``test_setup_code``, a HumanEval prompt's imports and
      helpers), run in the judge too: what it defines is never the program's. A name in
      ``entry_points`` is the program's even where it shadows a builtin (MBPP 126 tests a
      function called ``sum``); any other builtin name in a test is the judge's own.
    - ``none``: no tests (translation problems compare against the source program instead).
    """

    style: TestStyle = "none"
    inputs: list[Any] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    fn_name: str | None = None
    asserts: list[str] = field(default_factory=list)
    setup_code: str = ""
    entry_points: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.asserts) if self.style == "assert" else len(self.inputs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Tests | None:
        return None if d is None else cls(**d)


@dataclass
class Problem:
    """A program-synthesis or translation problem, dataset-agnostic.

    ``prompt`` is the model input used at inference (and by default in training);
    ``train_prompt`` is set where a dataset trains with a different string (CodeRL's APPS
    training format). ``source_code``/``source_language`` are set for translation.
    """

    task_id: str
    dataset: str
    prompt: str
    language: str = "python"
    tests: Tests = field(default_factory=Tests)
    example_tests: Tests | None = None
    solutions: list[str] = field(default_factory=list)
    train_prompt: str | None = None
    source_code: str | None = None
    source_language: str | None = None
    difficulty: str | None = None
    split: str | None = None
    starter_code: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def training_prompt(self) -> str:
        return self.train_prompt if self.train_prompt is not None else self.prompt

    @property
    def is_translation(self) -> bool:
        return self.source_code is not None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        d = dict(d)
        d["tests"] = Tests.from_dict(d.get("tests")) or Tests()
        d["example_tests"] = Tests.from_dict(d.get("example_tests"))
        return cls(**d)


class DataError(ValueError):
    """A malformed dataset record: the message names the file and the record."""

    def __init__(self, path: str, record: str | int | None, reason: str):
        where = f"{path}" + (f" (record {record})" if record is not None else "")
        super().__init__(f"{where}: {reason}")
        self.path, self.record, self.reason = path, record, reason


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
