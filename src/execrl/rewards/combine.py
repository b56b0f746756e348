"""Weighted sum of rewards: PPOCoder's ``R = R_compile + R_ast + R_dfg`` (the KL term is the algorithm's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from execrl.execution.protocol import Executor
from execrl.rewards.base import RewardBatch
from execrl.vocabulary import Problem


def _instantiate(obj: Any) -> Any:
    if isinstance(obj, Mapping) and "_target_" in obj:
        import hydra

        return hydra.utils.instantiate(obj)
    return obj


class WeightedSum:
    """``total = sum_i weight_i * reward_i``; ``None`` when any component is ``None`` (sandbox failure).

    ``components`` maps a name to ``(reward, weight)`` or ``{"reward": ..., "weight": ...}``
    (the Hydra form; a reward may still be a config with ``_target_``); a ``None`` spec is skipped, so
    a config can drop a component it inherits (``compiler: null``). Logged components are the
    unweighted per-component scores under their names; ``results`` are the first executing
    component's execution results (for compile-rate logging).
    """

    def __init__(self, components: Mapping[str, Any]) -> None:
        self.components: dict[str, tuple[Any, float]] = {}
        for name, spec in components.items():
            if spec is None:
                continue
            if isinstance(spec, Mapping):
                reward, weight = spec["reward"], spec.get("weight", 1.0)
            else:
                reward, weight = spec
            self.components[str(name)] = (_instantiate(reward), float(weight))
        if not self.components:
            raise ValueError("WeightedSum needs at least one component")

    def score(
        self, problems: list[Problem], programs: list[str], executor: Executor | None
    ) -> RewardBatch:
        n = len(programs)
        total: list[float | None] = [0.0] * n
        comps: dict[str, list[float | None]] = {}
        results: list = [None] * n
        for name, (reward, weight) in self.components.items():
            rb = reward.score(problems, programs, executor)
            comps[name] = list(rb.rewards)
            if all(r is None for r in results) and any(r is not None for r in rb.results):
                results = list(rb.results)
            for i, r in enumerate(rb.rewards):
                total[i] = None if (r is None or total[i] is None) else total[i] + weight * r
        return RewardBatch(rewards=total, components=comps, results=results)
