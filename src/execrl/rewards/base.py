"""The reward contract every algorithm uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from execrl.execution.outcomes import ExecutionResult


@dataclass
class RewardBatch:
    """Scalar rewards per program (``None``: the sandbox failed, drop the sample), named
    components for logging, and the execution results they came from."""

    rewards: list[float | None]
    components: dict[str, list[float | None]] = field(default_factory=dict)
    results: list[ExecutionResult | None] = field(default_factory=list)
