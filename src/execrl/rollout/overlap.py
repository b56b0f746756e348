"""Overlap in RL's rollout: programs judged as they come out of generation, and one step's
rollouts generated while the previous step's update runs (``algo.async_rollouts``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from execrl.execution.protocol import Executor, SubmittingExecutor
from execrl.rewards.base import Reward
from execrl.vocabulary import ExecutionResult, Outcome, Problem


class _Recorder:
    """An executor that runs nothing: it notes the requests a reward asks for."""

    def __init__(self) -> None:
        self.requests: list = []

    def run(self, requests: list) -> list[ExecutionResult]:
        self.requests += requests
        return [ExecutionResult(outcome=Outcome.INFRA_ERROR) for _ in requests]


class EarlyJudge:
    """Starts judging each program the moment the engine hands it over (:meth:`on_row`), so the
    sandbox works while the rest of the batch decodes.

    The reward still scores the whole batch, with this object as its executor: :meth:`run`
    answers each request from the run started early (same request key: the same verdict), and
    starts any it has not seen. Which requests a program needs is found by scoring it alone
    against a recorder (a reward builds its requests and calls ``executor.run``), so every reward
    works unchanged. Needs an executor with ``submit`` (the local sandbox pool)."""

    def __init__(
        self,
        reward: Reward,
        problems: list[Problem],
        executor: SubmittingExecutor,
        score: Callable[[Reward, list[Problem], list[str], Executor], Any],
    ) -> None:
        self.reward, self.problems, self.executor, self.score = reward, problems, executor, score
        self.futures: dict[Any, Future] = {}
        self.early = 0  # requests started before generation ended
        self._lock = threading.Lock()

    @staticmethod
    def supported(executor: Executor | None) -> bool:
        return executor is not None and callable(getattr(executor, "submit", None))

    def on_row(self, row: int, program: str) -> None:
        rec = _Recorder()
        try:
            self.score(self.reward, [self.problems[row]], [program], rec)
            for req in rec.requests:
                self._submit(req, early=True)
        except Exception:  # only a head start: the batch score judges it anyway
            return

    def _submit(self, req: Any, early: bool = False) -> Future:
        key = req.key()
        with self._lock:
            fut = self.futures.get(key)
            if fut is None:
                fut = self.futures[key] = self.executor.submit(req)
                self.early += early
        return fut

    def run(self, requests: list) -> list[ExecutionResult]:
        """The executor's ``run``: results in request order, duplicates judged once."""
        futs = [self._submit(r) for r in requests]
        out = [f.result() for f in futs]
        stats = getattr(self.executor, "stats", None)
        if isinstance(stats, dict) and "programs" in stats:
            stats["programs"] += len(requests)
            stats["deduplicated"] += len(requests) - len({r.key() for r in requests})
            stats["infra_errors"] += sum(r.outcome is Outcome.INFRA_ERROR for r in out)
        return out


class OneStepAhead:
    """One rollout in flight in a background thread: launched at step ``t`` with the weights of
    step ``t``, taken at step ``t + 1`` while the next one is launched (one step off-policy, as
    verl's one-step-off and TRL's async GRPO)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="execrl-rollout")
        self._pending: tuple[Future, int] | None = None

    def launch(self, fn: Callable[[], Any], version: int) -> None:
        if self._pending is not None:
            raise RuntimeError("a rollout is already in flight: take() it first")
        self._pending = (self._pool.submit(fn), version)

    def take(self) -> tuple[Any, int, float] | None:
        """(the rollout launched last, the policy version it sampled from, seconds waited for it),
        or None when none is in flight."""
        if self._pending is None:
            return None
        fut, version = self._pending
        self._pending = None
        t0 = time.perf_counter()
        result = fut.result()
        return result, version, time.perf_counter() - t0

    def close(self) -> None:
        """Wait for the rollout in flight (its result is dropped) and stop the thread."""
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                pending[0].result()
            except Exception:
                pass
        self._pool.shutdown(wait=True)


__all__ = ["EarlyJudge", "OneStepAhead"]
