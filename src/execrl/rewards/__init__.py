"""Rewards: plain callables over (problems, programs, executor) -> :class:`RewardBatch`."""

from execrl.rewards.base import Reward, RewardBatch
from execrl.rewards.combine import WeightedSum
from execrl.rewards.equivalence import EquivalenceReward
from execrl.rewards.match import ASTMatch, DFGMatch, dataflow_match, syntax_match
from execrl.rewards.unit_test import CompilerReward, UnitTestReward

__all__ = [
    "Reward",
    "RewardBatch",
    "UnitTestReward",
    "CompilerReward",
    "EquivalenceReward",
    "ASTMatch",
    "DFGMatch",
    "WeightedSum",
    "syntax_match",
    "dataflow_match",
]
