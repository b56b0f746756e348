"""Rewards: plain callables over (problems, programs, executor) -> :class:`RewardBatch`."""

from execrl.rewards.base import RewardBatch
from execrl.rewards.unit_test import CompilerReward, UnitTestReward

__all__ = ["RewardBatch", "UnitTestReward", "CompilerReward"]
