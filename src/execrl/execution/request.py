"""What the trainer asks the executor to do: one :class:`ExecRequest` per program."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from execrl.vocabulary import Tests

Mode = Literal["tests", "compile", "run"]


@dataclass
class ExecRequest:
    """Run one untrusted program.

    - ``mode="tests"``: compile (Java/C++) then run ``tests``; the result has one TestResult per
      test run (stops at the first failure when ``early_exit``).
    - ``mode="compile"``: compile only (PPOCoder's compiler reward; Python: byte-compile).
    - ``mode="run"``: compile and run once with ``stdin``; ``ExecutionResult.stdout`` is set.
    """

    program: str
    language: str = "python"
    tests: Tests | None = None
    mode: Mode = "tests"
    stdin: str = ""
    early_exit: bool | None = None  # None: the executor's configured default

    def key(self) -> tuple:
        """Identity used to run duplicate programs of one batch only once."""
        t = self.tests
        tkey = None if t is None else repr(t.to_dict())
        return (self.program, self.language, self.mode, self.stdin, self.early_exit, tkey)
