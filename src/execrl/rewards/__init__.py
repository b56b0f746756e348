"""Rewards: plain callables over (problems, programs, executor) -> :class:`RewardBatch`."""

from execrl.rewards.base import Reward, RewardBatch
from execrl.rewards.combine import WeightedSum
from execrl.rewards.equivalence import EquivalenceReward
from execrl.rewards.match import ASTMatch, DFGMatch, dataflow_match, syntax_match
from execrl.rewards.unit_test import CompilerReward, UnitTestReward

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
