"""Critic training data: programs labelled with their execution outcome (CodeRL stage S2/S3).

``critic_labels.jsonl`` has one JSON object per line:

- ``task_id`` (str): the problem's ``Problem.task_id``;
- ``program`` (str): the program text that was executed;
- ``outcome`` (str): an :class:`~execrl.vocabulary.Outcome` value (``compile_error``,
  ``runtime_error``, ``timeout``, ``memory_limit``, ``failed``, ``passed``);
- ``class`` (int): CodeRL's class, ``outcome_class(outcome)``: 0 compile error, 1 runtime error
  (incl. timeout and memory limit), 2 failed, 3 passed (binary critics derive 0/1 from it).

Optional fields: ``source`` (``sample`` / ``ground_truth`` / ``baseline``), ``error_type``
(e.g. ``ZeroDivisionError``), ``error`` (the message, for training a repair model),
``split`` (the data split the task id comes from; evaluate.py's export also has ``index``, ``data``).
Infrastructure errors are never written (they are not the program's fault). Ground-truth
solutions are labelled ``passed`` without running them, as CodeRL does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from execrl.rewards.outcome_rewards import outcome_class
from execrl.vocabulary import ExecutionResult, Outcome, Problem


@dataclass
class CriticLabel:
    """One labelled program (``cls`` is serialised as ``class``)."""

    task_id: str
    program: str
    outcome: str
    cls: int
    source: str = "sample"
    error_type: str | None = None
    split: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["class"] = d.pop("cls")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CriticLabel:
        outcome = Outcome(d["outcome"]).value
        c = d.get("class")
        c = outcome_class(Outcome(outcome)) if c is None else int(c)
        return cls(
            d["task_id"],
            d["program"],
            outcome,
            c,
            d.get("source", "sample"),
            d.get("error_type"),
            d.get("split"),
            d.get("error"),
        )

    def result(self) -> ExecutionResult:
        """The execution result this label records (outcome, error type and message)."""
        return ExecutionResult(
            outcome=Outcome(self.outcome), error_type=self.error_type, error=self.error
        )


def first_failure(result: ExecutionResult) -> Outcome:
    """The outcome CodeRL labels a program with: that of its first failing test (its harness stops
    there, so a timeout after a wrong answer is ``failed``), else the program's outcome."""
    for t in result.tests:
        if t.outcome is not Outcome.PASSED:
            return t.outcome
    return result.outcome


def coderl_class(result: ExecutionResult | None) -> int:
    """CodeRL's class of an executed program (0..3; -1 for none or an infrastructure error): the
    one definition critic labels, RL pools and evaluate.py's export share."""
    if result is None or result.outcome is Outcome.INFRA_ERROR:
        return -1
    c = outcome_class(first_failure(result))
    return -1 if c is None else c


def error_subtype(result: ExecutionResult | None) -> str | None:
    """The error's subtype (exception class, e.g. ``ZeroDivisionError``): the program's, else its first failing test's."""
    if result is None:
        return None
    first = next((t for t in result.tests if t.outcome is not Outcome.PASSED), None)
    return result.error_type or (first.error_type if first is not None else None)


def error_message(result: ExecutionResult | None, limit: int = 300) -> str:
    """A short message for the repair prompt: the error text's tail, or the failing test's diff."""
    if result is None:
        return ""
    if result.error:
        lines = [ln for ln in result.error.strip().splitlines() if ln.strip()]
        return (lines[-1] if lines else "")[-limit:]
    bad = [t for t in result.tests if t.outcome is not Outcome.PASSED]
    if bad:
        t = bad[0]
        return (t.error or f"expected {t.expected}, got {t.got}")[-limit:]
    return result.outcome.value


def label_error_fields(record: dict[str, Any]) -> dict[str, str | None]:
    """``error_type`` (subtype) and ``error`` (message) of a results.jsonl record, as :func:`label_results` writes them."""
    res = ExecutionResult.from_dict(
        {k: record[k] for k in ("outcome", "tests", "error_type", "error") if k in record}
    )
    return {"error_type": error_subtype(res), "error": error_message(res) or None}


def label_results(
    task_ids: list[str],
    programs: list[str],
    results: list[ExecutionResult | None],
    source: str = "sample",
) -> list[CriticLabel]:
    """Labels for executed programs; infrastructure errors (and missing results) are dropped."""
    out = []
    for tid, prog, r in zip(task_ids, programs, results):
        if r is None or r.outcome is Outcome.INFRA_ERROR:
            continue
        o = first_failure(r)
        out.append(
            CriticLabel(
                tid,
                prog,
                o.value,
                coderl_class(r),
                source,
                error_subtype(r),
                error=error_message(r) or None,
            )
        )
    return out


def ground_truth_labels(
    problems: list[Problem], per_problem: int | None = None
) -> list[CriticLabel]:
    """Every ground-truth solution (or the first ``per_problem``) labelled ``passed``."""
    out = []
    for p in problems:
        for s in p.solutions[:per_problem]:
            out.append(CriticLabel(p.task_id, s, Outcome.PASSED.value, 3, "ground_truth"))
    return out


def sample_labels(
    actor: Any,
    problems: list[Problem],
    executor: Any,
    *,
    n: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int | None = None,
    batch_size: int = 16,
    with_ground_truth: bool = True,
) -> list[CriticLabel]:
    """Sample ``n`` programs per problem from ``actor``, judge them in the sandbox (hidden tests),
    and label them; ground-truth solutions are added as ``passed`` when ``with_ground_truth``."""
    from execrl.rollout.judged import sample_and_judge

    judged = sample_and_judge(
        actor,
        problems,
        executor,
        n=n,
        do_sample=True,
        batch_size=batch_size,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
    )
    labels = label_results(
        [j.problem.task_id for j in judged], [j.program for j in judged], [j.result for j in judged]
    )
    if with_ground_truth:
        labels += ground_truth_labels(problems)
    return labels


def write_labels(path: str | Path, labels: list[CriticLabel]) -> None:
    """Write ``critic_labels.jsonl``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for lab in labels:
            f.write(json.dumps(lab.to_dict()) + "\n")


def read_labels(path: str | Path) -> list[CriticLabel]:
    """Read ``critic_labels.jsonl`` (blank lines ignored)."""
    with open(path) as f:
        return [CriticLabel.from_dict(json.loads(line)) for line in f if line.strip()]


def label_problem_needs(labels: list[CriticLabel]) -> dict[str, tuple[str, int | None]]:
    """What a module trained on a labels file asks the datamodule for (``fit_problem_needs``):
    the run's train, RL and validation splits, and every split the labels name."""
    splits = sorted({lab.split for lab in labels if lab.split})
    return {"fit_splits": ("fit_splits", None), **{f"split:{s}": (s, None) for s in splits}}
