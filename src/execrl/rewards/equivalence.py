"""Translation judged by behaviour as a reward: run the candidate beside its source program.

The verdict is :func:`execrl.judging.equivalence.judge_translations`' (the metric's own code):
a candidate that prints what the source prints is ``passed``, one that prints something else is
``failed``, otherwise it keeps its compile/run outcome. The source's output is cached per
problem for the reward's lifetime (two runs each, so non-deterministic sources are caught).
"""

from __future__ import annotations

from execrl.execution.protocol import Executor
from execrl.judging.equivalence import SourceOutputs, judge_translations
from execrl.rewards.base import RewardBatch
from execrl.rewards.outcome_rewards import binary_reward, coderl_reward
from execrl.vocabulary import ExecutionResult, Outcome, Problem


class EquivalenceReward:
    """``kind="coderl"``: -1 / -0.6 / -0.3 / +1 for a candidate that does not compile, crashes or
    times out, prints something else, or prints what the source prints; ``"binary"``: 1 only for
    the last. A problem whose source is flagged (does not compile or run, or is non-deterministic)
    cannot say what is right: its candidates get ``flagged_source`` (None: dropped from the update),
    except those that do not even compile, which get the compile-error level."""

    def __init__(
        self, kind: str = "coderl", flagged_source: float | None = None, source_runs: int = 2
    ) -> None:
        if kind not in ("coderl", "binary"):
            raise ValueError(f"equivalence reward kind must be coderl|binary, got {kind!r}")
        self.kind, self.flagged_source, self.source_runs = kind, flagged_source, source_runs
        self._sources: SourceOutputs | None = None

    def value(self, outcome: Outcome) -> float:
        return coderl_reward(outcome) if self.kind == "coderl" else binary_reward(outcome)

    def sources(self, executor: Executor) -> SourceOutputs:
        """The per-problem source-output cache (rebuilt if the executor changes)."""
        if self._sources is None or self._sources.executor is not executor:
            self._sources = SourceOutputs(executor, runs=self.source_runs)
        return self._sources

    def score(
        self, problems: list[Problem], programs: list[str], executor: Executor
    ) -> RewardBatch:
        judged = judge_translations(problems, programs, executor, self.sources(executor))
        rewards: list[float | None] = []
        results: list[ExecutionResult] = []
        for own, verdict in judged:
            results.append(verdict if verdict is not None else own)
            if own.outcome is Outcome.INFRA_ERROR:
                rewards.append(None)
            elif verdict is not None:
                rewards.append(self.value(verdict.outcome))
            elif own.outcome is Outcome.COMPILE_ERROR:
                rewards.append(self.value(Outcome.COMPILE_ERROR))
            else:
                rewards.append(self.flagged_source)
        return RewardBatch(
            rewards=rewards, components={f"equivalence_{self.kind}": rewards}, results=results
        )
