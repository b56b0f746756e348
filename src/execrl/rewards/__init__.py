"""Rewards: plain callables over (problems, programs, executor) -> :class:`RewardBatch`.

The names below load on first use (PEP 562), so that the judging path can read CodeRL's outcome
table (:mod:`execrl.rewards.outcome_rewards`) without loading the AST/data-flow matchers."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execrl.rewards.base import Reward, RewardBatch
    from execrl.rewards.combine import WeightedSum
    from execrl.rewards.equivalence import EquivalenceReward
    from execrl.rewards.match import ASTMatch, DFGMatch, dataflow_match, syntax_match
    from execrl.rewards.unit_test import CompilerReward, UnitTestReward

_WHERE = {
    "ASTMatch": "match",
    "CompilerReward": "unit_test",
    "DFGMatch": "match",
    "EquivalenceReward": "equivalence",
    "Reward": "base",
    "RewardBatch": "base",
    "UnitTestReward": "unit_test",
    "WeightedSum": "combine",
    "dataflow_match": "match",
    "syntax_match": "match",
}

__all__ = [
    "ASTMatch",
    "CompilerReward",
    "DFGMatch",
    "EquivalenceReward",
    "Reward",
    "RewardBatch",
    "UnitTestReward",
    "WeightedSum",
    "dataflow_match",
    "syntax_match",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
