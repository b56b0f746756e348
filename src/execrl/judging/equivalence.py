"""Translation judged by behaviour: run the source and the candidate, compare what they print.

The source program's output is computed once per problem (two runs, so non-deterministic
sources are caught) and cached. A source that does not compile, crashes, times out, or prints
differently on its two runs is *flagged* and its translations are not scored. A candidate that
runs and prints the source's output (APPS' comparison cascade) is ``passed``; one that prints
something else is ``failed``; otherwise it keeps the executor's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from execrl.execution.compare import stdio_match
from execrl.execution.protocol import Executor
from execrl.execution.request import ExecRequest
from execrl.judging.requests import run_request
from execrl.vocabulary import ExecutionResult, Outcome, Problem, TestResult


@dataclass
class SourceRun:
    """What a problem's source program did: ``flag`` is None when it can serve as the oracle."""

    stdout: str | None
    outcome: Outcome
    flag: str | None = (
        None  # compile_error | runtime_error | timeout | ... | nondeterministic | infrastructure_error
    )
    error: str | None = None  # the failing run's error text (truncated), for flagged sources

    @property
    def ok(self) -> bool:
        return self.flag is None


class SourceOutputs:
    """Cache of source-program outputs, keyed by task id (filled on demand, two runs each)."""

    def __init__(self, executor: Executor, runs: int = 2) -> None:
        self.executor, self.runs = executor, max(1, runs)
        self.cache: dict[str, SourceRun] = {}

    def get(self, problems: Sequence[Problem]) -> dict[str, SourceRun]:
        """The source run of every problem (computed for those not cached yet)."""
        return self.get_with(problems, [])[0]

    def get_with(
        self, problems: Sequence[Problem], extra: Sequence[ExecRequest]
    ) -> tuple[dict[str, SourceRun], list[ExecutionResult]]:
        """Like :meth:`get`, running ``extra`` requests (the candidates) in the first round's
        executor call, so the workers never idle between sources and candidates."""
        todo: list[Problem] = []
        seen: set[str] = set()
        for p in problems:
            if p.task_id not in self.cache and p.task_id not in seen:
                seen.add(p.task_id)
                todo.append(p)
        reqs = [
            run_request(
                p.source_code or "",
                p.source_language or "python",
                p.meta.get("stdin", "") if isinstance(p.meta, dict) else "",
            )
            for p in todo
        ]
        first = self.executor.run(reqs + list(extra)) if reqs or extra else []
        if todo:
            # separate run() calls: the executor deduplicates identical requests within one call
            rounds = [first[: len(reqs)]] + [self.executor.run(reqs) for _ in range(self.runs - 1)]
            for i, p in enumerate(todo):
                self.cache[p.task_id] = _source_run([r[i] for r in rounds])
        return {p.task_id: self.cache[p.task_id] for p in problems}, first[len(reqs) :]

    def flagged(self) -> dict[str, int]:
        """How many cached sources are flagged, by reason."""
        out: dict[str, int] = {}
        for s in self.cache.values():
            if s.flag:
                out[s.flag] = out.get(s.flag, 0) + 1
        return out


def _source_run(results: list[ExecutionResult]) -> SourceRun:
    first = results[0]
    for r in results:
        if r.outcome is not Outcome.PASSED:
            return SourceRun(
                r.stdout, r.outcome, flag=r.outcome.value, error=(r.error or "")[:300] or None
            )
    if any((r.stdout or "") != (first.stdout or "") for r in results[1:]):
        return SourceRun(first.stdout, first.outcome, flag="nondeterministic")
    return SourceRun(first.stdout, Outcome.PASSED)


def equivalence_result(candidate: ExecutionResult, source: SourceRun) -> ExecutionResult:
    """The candidate's verdict against the source's output (call only when ``source.ok``)."""
    if candidate.outcome is not Outcome.PASSED:
        return candidate
    got, want = candidate.stdout or "", source.stdout or ""
    ok = stdio_match(got, want)
    test = TestResult(
        outcome=Outcome.PASSED if ok else Outcome.FAILED,
        got=None if ok else got[:200],
        expected=None if ok else want[:200],
    )
    return ExecutionResult(
        outcome=test.outcome,
        tests=[test],
        stdout=candidate.stdout,
        time_s=candidate.time_s,
        num_tests=1,
    )


def judge_translations(
    problems: Sequence[Problem],
    programs: Sequence[str],
    executor: Executor,
    sources: SourceOutputs | None = None,
) -> list[tuple[ExecutionResult, ExecutionResult | None]]:
    """For each (problem, candidate): the candidate's own run (compile/run outcome) and its
    equivalence verdict (None when the problem's source is flagged)."""
    sources = sources or SourceOutputs(executor)
    src, runs = sources.get_with(
        problems,
        [run_request(prog, p.language) for p, prog in zip(problems, programs, strict=True)],
    )
    out = []
    for p, r in zip(problems, runs):
        s = src[p.task_id]
        out.append((r, equivalence_result(r, s) if s.ok and not r.outcome.is_infra else None))
    return out
