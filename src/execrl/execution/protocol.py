"""What the rest of execrl calls on an executor: the seam judging, rewards and rollout type against.

:class:`execrl.execution.executor.Executor` (the local sandbox pool), :class:`RayExecutor` and
rollout's early judge all satisfy :class:`Executor`; the local pool also :class:`SubmittingExecutor`
(one request at a time, so programs are judged while the rest of a batch decodes)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol, runtime_checkable

from execrl.execution.request import ExecRequest
from execrl.vocabulary import ExecutionResult


@runtime_checkable
class Executor(Protocol):
    """Runs untrusted programs: one :class:`ExecutionResult` per request, in request order. A
    failure of the sandbox itself is an ``Outcome.INFRA_ERROR`` result, never an exception. (Whoever
    builds a pool also closes it; what is handed an executor only runs requests.)"""

    def run(self, requests: list[ExecRequest]) -> list[ExecutionResult]: ...


@runtime_checkable
class SubmittingExecutor(Executor, Protocol):
    """An executor that also takes one request at a time (``rollout.overlap.EarlyJudge``)."""

    def submit(self, req: ExecRequest) -> Future: ...
