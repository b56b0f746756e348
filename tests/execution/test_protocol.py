"""The typed seams: what judging, rewards and rollout call on an executor and a reward."""

from __future__ import annotations

from execrl.execution.executor import Executor as LocalExecutor
from execrl.execution.protocol import Executor, SubmittingExecutor
from execrl.execution.ray_executor import RayExecutor
from execrl.rewards.base import Reward
from execrl.rewards.combine import WeightedSum
from execrl.rewards.equivalence import EquivalenceReward
from execrl.rewards.match import ASTMatch, DFGMatch
from execrl.rewards.unit_test import CompilerReward, UnitTestReward
from execrl.rollout.overlap import EarlyJudge


def test_every_executor_satisfies_the_protocol() -> None:
    # checked on the classes' methods: no sandbox pool or Ray cluster is started
    for cls in (LocalExecutor, RayExecutor, EarlyJudge):
        assert isinstance(object.__new__(cls), Executor), cls
    assert isinstance(object.__new__(LocalExecutor), SubmittingExecutor)
    assert isinstance(object.__new__(RayExecutor), Executor)
    assert not isinstance(object.__new__(RayExecutor), SubmittingExecutor)


def test_the_protocol_rejects_what_is_no_executor() -> None:
    class SubmitsOnly:
        def submit(self, req):
            return None

    assert not isinstance(SubmitsOnly(), Executor)
    assert not isinstance(object(), Executor)


def test_every_reward_satisfies_the_protocol() -> None:
    for cls in (UnitTestReward, CompilerReward, EquivalenceReward, ASTMatch, DFGMatch, WeightedSum):
        assert isinstance(object.__new__(cls), Reward), cls
    assert not isinstance(object(), Reward)
