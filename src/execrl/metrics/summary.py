"""Program-synthesis metrics over judged samples: pass@k, n@k, APPS accuracies, outcomes, compile rate."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from execrl.metrics.passk import mean_pass_at_k, n_at_k
from execrl.vocabulary import Outcome


@dataclass
class Judged:
    """One judged sample: what evaluate.py keeps per completion to compute metrics."""

    task_id: str
    index: int
    outcome: Outcome
    pass_fraction: float = 0.0  # tests passed / tests the problem has
    score: float | None = None  # ranking score for n@k (higher is better)
    difficulty: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED


@dataclass
class ProblemSamples:
    """The judged samples of one problem, infrastructure errors dropped (never counted as failures)."""

    task_id: str
    samples: list[Judged] = field(default_factory=list)
    infra_errors: int = 0
    difficulty: str | None = None

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def c(self) -> int:
        return sum(s.passed for s in self.samples)


def group(judged: Iterable[Judged]) -> list[ProblemSamples]:
    """Group samples by problem (first-seen order), set aside infrastructure errors."""
    probs: dict[str, ProblemSamples] = {}
    for j in judged:
        p = probs.setdefault(j.task_id, ProblemSamples(j.task_id, difficulty=j.difficulty))
        if Outcome(j.outcome).is_infra:
            p.infra_errors += 1
        else:
            p.samples.append(j)
    for p in probs.values():
        p.samples.sort(key=lambda s: s.index)
    return list(probs.values())


def outcome_distribution(judged: Iterable[Judged]) -> dict[str, dict[str, float]]:
    """Count and share of every outcome over all samples (infrastructure errors included, shown apart)."""
    counts = Counter(Outcome(j.outcome).value for j in judged)
    total = sum(counts.values())
    return {
        o.value: {
            "count": counts.get(o.value, 0),
            "fraction": counts.get(o.value, 0) / total if total else 0.0,
        }
        for o in Outcome
    }


def compile_rate(outcomes: Iterable[Outcome]) -> float | None:
    """Share of judged (non-infrastructure) programs that compiled."""
    judged = [Outcome(o) for o in outcomes if not Outcome(o).is_infra]
    if not judged:
        return None
    return sum(o is not Outcome.COMPILE_ERROR for o in judged) / len(judged)


def apps_accuracy(problems: Sequence[ProblemSamples]) -> dict[str, float | None]:
    """APPS' test-case average (mean share of tests passed) and strict accuracy (all tests pass).

    Both are averaged over a problem's samples, then over problems (APPS reports them for one
    sample per problem, where this is the same thing). Compile and runtime errors count as 0 tests.
    """
    ps = [p for p in problems if p.n]
    if not ps:
        return {"test_case_average": None, "strict_accuracy": None}
    tca = sum(sum(s.pass_fraction for s in p.samples) / p.n for p in ps) / len(ps)
    strict = sum(p.c / p.n for p in ps) / len(ps)
    return {"test_case_average": tca, "strict_accuracy": strict}


def pass_at_ks(problems: Sequence[ProblemSamples], ks: Sequence[int]) -> dict[str, float]:
    """``pass@k`` for every k that at least one problem has samples for."""
    counts = [(p.n, p.c) for p in problems if p.n]
    out = {}
    for k in ks:
        v = mean_pass_at_k(counts, k)
        if v is not None:
            out[f"pass@{k}"] = v
    return out


def n_at_ks(problems: Sequence[ProblemSamples], nks: Sequence[Sequence[int]]) -> dict[str, float]:
    """``n@k`` for every ``(n, k)`` pair, averaged over problems with at least k judged samples."""
    out = {}
    for n, k in nks:
        vals = []
        for p in problems:
            if p.n >= k:
                scores = (
                    None
                    if all(s.score is None for s in p.samples)
                    else [s.score if s.score is not None else float("-inf") for s in p.samples]
                )
                vals.append(n_at_k([s.passed for s in p.samples], scores, n, k))
        if vals:
            out[f"{n}@{k}"] = sum(vals) / len(vals)
    return out


def synthesis_metrics(
    judged: Sequence[Judged], ks: Sequence[int], nks: Sequence[Sequence[int]] = ()
) -> dict:
    """Every synthesis metric, overall and by difficulty (APPS introductory/interview/competition)."""
    problems = group(judged)
    out = _block(problems, ks, nks)
    out["outcomes"] = outcome_distribution(judged)
    out["compile_rate"] = compile_rate(j.outcome for j in judged)
    by_diff: dict[str, list[ProblemSamples]] = defaultdict(list)
    for p in problems:
        if p.difficulty is not None:
            by_diff[str(p.difficulty)].append(p)
    if by_diff:
        out["by_difficulty"] = {d: _block(ps, ks, nks) for d, ps in sorted(by_diff.items())}
    return out


def _block(
    problems: Sequence[ProblemSamples], ks: Sequence[int], nks: Sequence[Sequence[int]]
) -> dict:
    scored = [p for p in problems if p.n]
    return {
        "problems": len(problems),
        "problems_scored": len(scored),
        "samples": sum(p.n for p in problems),
        "infrastructure_errors": sum(p.infra_errors for p in problems),
        **pass_at_ks(problems, ks),
        **n_at_ks(problems, nks),
        **apps_accuracy(problems),
    }
