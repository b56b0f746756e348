"""The reward contract every algorithm uses.

A reward is any object with ``score(problems, programs, executor) -> RewardBatch`` (:class:`Reward`).
Rewards that need execution build their own :class:`~execrl.execution.request.ExecRequest` list and
call ``executor.run`` once (:class:`~execrl.execution.protocol.Executor`); structural rewards
(AST/DFG match) ignore the executor, which may then be ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from execrl.execution.protocol import Executor
from execrl.vocabulary import ExecutionResult, Problem


@dataclass
class RewardBatch:
    """Scalar rewards per program (``None``: the sandbox failed, drop the sample), named
    components for logging, and the execution results they came from."""

    rewards: list[float | None]
    components: dict[str, list[float | None]] = field(default_factory=dict)
    results: list[ExecutionResult | None] = field(default_factory=list)


@runtime_checkable
class Reward(Protocol):
    """Scores ``programs[i]`` written for ``problems[i]``."""

    def score(
        self, problems: list[Problem], programs: list[str], executor: Executor | None
    ) -> RewardBatch: ...
