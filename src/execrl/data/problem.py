"""One record type for every dataset: a :class:`Problem` with its :class:`Tests`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

TestStyle = Literal["stdio", "call", "assert", "none"]


@dataclass
class Tests:
    """Unit tests of one problem, in one of three styles.

    - ``stdio``: ``inputs[i]`` is the whole stdin text, ``outputs[i]`` the expected stdout (APPS).
    - ``call``: ``fn_name`` is called with ``*inputs[i]`` and compared with ``outputs[i]``
      (APPS call-based: Codewars functions or LeetCode ``class Solution`` methods).
    - ``assert``: ``asserts`` are Python statements run after ``setup_code`` (MBPP, HumanEval).
      They run in the trusted judge; the program's functions are reached by name. A name in
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
