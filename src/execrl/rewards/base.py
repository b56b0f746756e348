"""The reward contract every algorithm uses.

A reward is any object with ``score(problems, programs, executor) -> RewardBatch``. Rewards that
need execution build their own :class:`~execrl.execution.request.ExecRequest` list and call
``executor.run`` once; structural rewards (AST/DFG match) ignore the executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from execrl.vocabulary import ExecutionResult, Problem


@dataclass
class RewardBatch:
    """Scalar rewards per program (``None``: the sandbox failed, drop the sample), named
    components for logging, and the execution results they came from."""

    rewards: list[float | None]
    components: dict[str, list[float | None]] = field(default_factory=dict)
    results: list[ExecutionResult | None] = field(default_factory=list)


class Reward(Protocol):
    def score(self, problems: list[Problem], programs: list[str], executor: Any) -> RewardBatch: ...
