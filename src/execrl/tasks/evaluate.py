"""The evaluation task behind ``evaluate.py``: judge every sample in the sandbox, then metrics.

Flow: samples (a file, or ``samples=reference``: the dataset's own solutions) -> one executor
request per completion (hidden or example tests; translations: a run compared with the source's
output) -> ``results.jsonl`` appended chunk by chunk -> ``metrics.json``, ``critic_labels.jsonl``
and a rich table. Every metric is computed from the lines of ``results.jsonl`` alone.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from execrl.algos.coderl.labels import label_error_fields
from execrl.data.source import DATAMODULE_TARGET, SOURCE_TARGET
from execrl.execution.protocol import Executor
from execrl.judging.equivalence import SourceOutputs, equivalence_result
from execrl.judging.requests import compile_request, judge_request, run_request
from execrl.metrics.samples import (
    ProblemSamplesIn,
    align_samples,
    prompt_hash,
    random_subset,
    read_samples,
)
from execrl.metrics.summary import Judged, compile_rate, synthesis_metrics
from execrl.metrics.translation import codebleu, codebleu_tokens, exact_match
from execrl.rewards.outcome_rewards import outcome_class
from execrl.utils.config import instantiate_list, print_config_tree, task_wrapper
from execrl.vocabulary import ExecutionResult, Outcome, Problem

log = logging.getLogger("execrl")


# ---------------------------------------------------------------------------------- samples
def reference_samples(problems: list[Problem], n: int = 1) -> list[ProblemSamplesIn]:
    """The dataset's own solutions as samples (up to ``n`` per problem; problems without any are skipped)."""
    out = []
    for p in problems:
        sols = [s for s in p.solutions if isinstance(s, str)][: max(1, n)]
        if sols:
            out.append(
                ProblemSamplesIn(
                    p.task_id, sols, [None] * len(sols), [None] * len(sols), prompt_hash(p.prompt)
                )
            )
    return out


def write_samples(samples: list[ProblemSamplesIn], path: Path, split: str) -> None:
    with path.open("w") as f:
        for s in samples:
            f.write(
                json.dumps(
                    {
                        "task_id": s.task_id,
                        "split": split,
                        "prompt_sha": s.prompt_sha,
                        "completions": s.completions,
                    }
                )
                + "\n"
            )


def match_problems(
    samples: list[ProblemSamplesIn], problems: list[Problem], split: str, path: str
) -> list[Problem]:
    """The problem of every sampled task id, or a clear error naming the unknown ids."""
    by_id = {p.task_id: p for p in problems}
    missing = [s.task_id for s in samples if s.task_id not in by_id]
    if missing:
        raise KeyError(
            f"{path}: {len(missing)} task ids are not in data split {split!r} (e.g. {missing[:3]}); "
            "pass split=... (e.g. split=all for MBPP) or the matching data=..."
        )
    stale = sum(
        1 for s in samples if s.prompt_sha and s.prompt_sha != prompt_hash(by_id[s.task_id].prompt)
    )
    if stale:
        log.warning(
            "%d problems were sampled from a different prompt than this data config builds", stale
        )
    return [by_id[s.task_id] for s in samples]


# ---------------------------------------------------------------------------------- judging
def _record(
    problem: Problem, index: int, program: str, res: ExecutionResult, score: float | None
) -> dict[str, Any]:
    d = res.to_dict()
    return {
        "task_id": problem.task_id,
        "index": index,
        "outcome": d["outcome"],
        "passed": res.passed,
        "num_passed": res.num_passed,
        "num_tests": res.num_tests,
        "pass_fraction": res.pass_fraction,
        "tests": d["tests"],
        "error_type": res.error_type,
        "error": res.error,
        "time_s": res.time_s,
        "score": score,
        "difficulty": problem.difficulty,
        "language": problem.language,
        "program": program,
        "first_failure": None if res.first_failure is None else res.first_failure.value,
        "compare_outcomes": res.compare_outcomes,
        "weak_tests": res.weak_tests,
    }


class Judge:
    """Turns (problem, sample index, program) items into results.jsonl records, one executor call per chunk."""

    def __init__(self, cfg: DictConfig, executor: Executor) -> None:
        self.cfg, self.executor = cfg, executor
        self.sources = SourceOutputs(executor)
        self.which = "example" if cfg.get("tests") == "example" else "tests"

    def __call__(
        self, items: list[tuple[Problem, int, str, float | None, float | None]]
    ) -> list[dict[str, Any]]:
        cfg = self.cfg
        trans = [it for it in items if it[0].is_translation]
        synth = [it for it in items if not it[0].is_translation]
        out: list[dict[str, Any]] = []
        if synth:
            reqs = [
                judge_request(p, prog, self.which, cfg.get("early_exit"))
                for p, _, prog, _, _ in synth
            ]
            rank = cfg.get("rank_by") or "none"
            ex_idx = [
                i
                for i, (p, *_rest) in enumerate(synth)
                if rank == "example_tests" and p.example_tests is not None and len(p.example_tests)
            ]
            ex_reqs = [judge_request(synth[i][0], synth[i][2], "example", False) for i in ex_idx]
            results = self.executor.run(reqs + ex_reqs)
            main, ex = results[: len(reqs)], dict(zip(ex_idx, results[len(reqs) :]))
            for i, ((p, k, prog, lp, sc), r) in enumerate(zip(synth, main)):
                score = {"logprob": lp, "score": sc}.get(rank)
                if rank == "example_tests" and i in ex:
                    score = None if ex[i].outcome.is_infra else ex[i].pass_fraction
                rec = _record(p, k, prog, r, score)
                if i in ex:
                    rec["example"] = {
                        "outcome": ex[i].outcome.value,
                        "pass_fraction": ex[i].pass_fraction,
                    }
                out.append(rec)
        if trans:
            out += self._translations(trans)
        return out

    def _translations(self, items: list) -> list[dict[str, Any]]:
        """Compile rate from each candidate's run; computational accuracy against the source's output."""
        probs = [it[0] for it in items]
        equiv = bool(self.cfg.get("equivalence", True))
        if equiv:
            src, runs = self.sources.get_with(
                probs, [run_request(prog, p.language) for p, _, prog, _, _ in items]
            )
        else:  # only compilation is judged: no need to run the candidate
            src, runs = (
                {},
                self.executor.run([compile_request(p, prog) for p, _, prog, _, _ in items]),
            )
        out = []
        for (p, k, prog, lp, sc), r in zip(items, runs):
            s = src.get(p.task_id)
            scored = s is not None and s.ok and not r.outcome.is_infra
            verdict = equivalence_result(r, s) if scored else r
            score = {"logprob": lp, "score": sc}.get(self.cfg.get("rank_by") or "none")
            rec = _record(p, k, prog, verdict, score)
            rec.update(
                run_outcome=r.outcome.value,
                compiled=None if r.outcome.is_infra else r.outcome is not Outcome.COMPILE_ERROR,
                scored=scored,
                source_language=p.source_language,
                source=None
                if s is None
                else {"outcome": s.outcome.value, "flag": s.flag, "error": s.error},
                reference=p.solutions[0] if p.solutions else None,
            )
            out.append(rec)
        return out


# ---------------------------------------------------------------------------------- metrics
def compute_metrics(
    records: list[dict[str, Any]], ks: list[int], nks: list[list[int]], with_codebleu: bool = True
) -> dict[str, Any]:
    """Every metric from results.jsonl records: synthesis metrics, and per language pair for translation."""
    synth = [r for r in records if r.get("source_language") is None]
    trans = [r for r in records if r.get("source_language") is not None]
    out: dict[str, Any] = {}
    if synth:
        out.update(synthesis_metrics([_judged(r) for r in synth], ks, nks))
        out["judging"] = judging_metrics(synth)
    if trans:
        pairs: dict[str, list[dict]] = defaultdict(list)
        for r in trans:
            pairs[f"{r['source_language']}->{r['language']}"].append(r)
        out["translation"] = {
            pair: _translation_metrics(rs, ks, nks, with_codebleu) for pair, rs in pairs.items()
        }
    return out


def judging_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """How the verdicts were reached: tests judged by the weaker path, and for stdin/stdout and
    call-based tests the pass rate under each comparison (``strict`` and APPS' lenient cascade)."""
    m: dict[str, Any] = {
        "weak_tests": sum(r.get("weak_tests") or 0 for r in records),
        "programs_with_weak_tests": sum(bool(r.get("weak_tests")) for r in records),
    }
    both = [r["compare_outcomes"] for r in records if r.get("compare_outcomes")]
    if both:
        passed = {
            mode: sum(c.get(mode) == Outcome.PASSED.value for c in both)
            for mode in ("strict", "apps")
        }
        m["compare"] = {
            "programs": len(both),
            **{f"pass_rate_{k}": v / len(both) for k, v in passed.items()},
            "lenient_only": sum(
                c.get("apps") == Outcome.PASSED.value and c.get("strict") != Outcome.PASSED.value
                for c in both
            ),
        }
    return m


def _judged(r: dict[str, Any]) -> Judged:
    return Judged(
        r["task_id"],
        r["index"],
        Outcome(r["outcome"]),
        r.get("pass_fraction") or 0.0,
        r.get("score"),
        r.get("difficulty"),
    )


def _translation_metrics(
    recs: list[dict[str, Any]], ks: list[int], nks: list[list[int]], with_codebleu: bool
) -> dict[str, Any]:
    lang = recs[0]["language"]
    m: dict[str, Any] = {"problems": len({r["task_id"] for r in recs}), "samples": len(recs)}
    m["infrastructure_errors"] = sum(r["run_outcome"] == Outcome.INFRA_ERROR.value for r in recs)
    m["compile_rate"] = compile_rate(Outcome(r["run_outcome"]) for r in recs)
    with_ref = [r for r in recs if r.get("reference")]
    refs, preds = [r["reference"] for r in with_ref], [r["program"] for r in with_ref]
    m["exact_match"] = exact_match(refs, preds)
    m["codebleu"] = codebleu(refs, preds, lang) if with_ref and with_codebleu else None
    # on XLCoST token text, comparable with the published XLCoST/PPOCoder CodeBLEU
    m["codebleu_tok"] = codebleu_tokens(refs, preds, lang) if with_ref and with_codebleu else None
    sources: dict[str, dict] = {r["task_id"]: r["source"] for r in recs if r.get("source")}
    if sources:
        judged_src = [s for s in sources.values() if s["outcome"] != Outcome.INFRA_ERROR.value]
        m["source_compile_rate"] = compile_rate(Outcome(s["outcome"]) for s in judged_src)
        flags: dict[str, int] = defaultdict(int)
        for s in sources.values():
            if s["flag"]:
                flags[s["flag"]] += 1
        scored = [r for r in recs if r.get("scored")]
        ca = synthesis_metrics([_judged(r) for r in scored], ks, nks) if scored else {}
        m["computational_accuracy"] = {
            "sources_flagged": dict(flags),
            "problems_scored": ca.get("problems_scored", 0),
            **{k: v for k, v in ca.items() if "@" in k},
            "outcomes": ca.get("outcomes"),
        }
    return m


# ---------------------------------------------------------------------------------- output
def load_results(path: Path) -> list[dict[str, Any]]:
    """Records of a (possibly interrupted) results.jsonl; a torn last line is dropped and rewritten."""
    if not path.exists():
        return []
    recs, lines = [], path.read_text().splitlines(keepends=True)
    for line in lines:
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s: dropping a torn line (interrupted run)", path)
    if len(recs) != len(lines):
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return recs


def write_critic_labels(
    records: list[dict[str, Any]], path: Path, data: str = "", split: str = ""
) -> int:
    """Labelled programs for critic training (CodeRL's four classes); infrastructure errors left out."""
    n = 0
    with path.open("w") as f:
        for r in records:
            # CodeRL labels a program by its first failing test (a timeout after a wrong answer is "failed")
            c = outcome_class(Outcome(r.get("first_failure") or r["outcome"]))
            if c is not None:
                row = {
                    "task_id": r["task_id"],
                    "index": r["index"],
                    "data": data,
                    "split": split,
                    "program": r["program"],
                    "outcome": r["outcome"],
                    "class": c,
                }
                row.update(label_error_fields(r))  # subtype and message, for algo=repair
                f.write(json.dumps(row) + "\n")
                n += 1
    return n


def print_table(metrics: dict[str, Any], title: str) -> None:
    """Rich table: overall and per-difficulty / per-pair numbers."""
    from rich.console import Console
    from rich.table import Table

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

    cols = {"all": metrics, **metrics.get("by_difficulty", {})}
    table = Table(title=title)
    table.add_column("metric")
    for c in cols:
        table.add_column(c, justify="right")
    keys = [k for k, v in metrics.items() if isinstance(v, (int, float)) or v is None]
    for k in keys:
        table.add_row(k, *[fmt(c.get(k)) for c in cols.values()])
    for o, v in (metrics.get("outcomes") or {}).items():
        table.add_row(f"outcome/{o}", fmt(v["fraction"]), *["" for _ in list(cols)[1:]])
    for pair, m in (metrics.get("translation") or {}).items():
        flat = {f"{pair} {k}": v for k, v in m.items() if isinstance(v, (int, float)) or v is None}
        flat.update({f"{pair} {k}": v for k, v in (m.get("codebleu") or {}).items()})
        flat.update({f"{pair} {k}_tok": v for k, v in (m.get("codebleu_tok") or {}).items()})
        ca = m.get("computational_accuracy") or {}
        flat.update(
            {
                f"{pair} computational_accuracy {k}": v
                for k, v in ca.items()
                if isinstance(v, (int, float))
            }
        )
        flat.update(
            {f"{pair} sources_flagged/{k}": v for k, v in (ca.get("sources_flagged") or {}).items()}
        )
        for k, v in flat.items():
            table.add_row(k, fmt(v), *["" for _ in list(cols)[1:]])
    Console().print(table)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves as ``a/b/c`` keys (for loggers)."""
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def log_to_loggers(cfg: DictConfig, metrics: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Metrics and a table of sampled programs with their outcomes (TRL's completions table) to each logger."""
    loggers = instantiate_list(cfg.get("logger"))
    if not loggers:
        return
    cols = ["task_id", "index", "outcome", "pass_fraction", "score", "program", "error"]
    rows = [
        [r.get(c) if c != "error" else (r.get("error") or "")[:500] for c in cols]
        for r in records[: cfg.get("log_table_rows", 200)]
    ]
    for lg in loggers:
        lg.log_metrics({f"eval/{k}": v for k, v in flatten(metrics).items()})
        if hasattr(lg, "log_table"):
            lg.log_table(key="eval/samples", columns=cols, data=rows)
        lg.finalize("success")


# ---------------------------------------------------------------------------------- start-up
def instantiate_problems(data_cfg: DictConfig) -> Any:
    """The ``data`` config's problems without Lightning: the datamodule's target becomes the plain
    :class:`~execrl.data.source.ProblemSource` (same arguments, same splits); other targets are kept."""
    if data_cfg.get("_target_") == DATAMODULE_TARGET:
        data_cfg = OmegaConf.merge(data_cfg, {"_target_": SOURCE_TARGET})
    return hydra.utils.instantiate(data_cfg)


def in_background(fn: Any, *args: Any, daemon: bool = True) -> Future:
    """``fn(*args)`` in a thread; the future holds its result or its exception. A non-daemon
    thread is waited for at interpreter exit, whatever happens in between."""
    fut: Future = Future()

    def run() -> None:
        try:
            fut.set_result(fn(*args))
        except BaseException as e:  # handed to the caller
            fut.set_exception(e)

    threading.Thread(target=run, name=getattr(fn, "__name__", "background"), daemon=daemon).start()
    return fut


def _load(
    cfg: DictConfig, outdir: Path
) -> tuple[Any, str, list[ProblemSamplesIn], Path, list[Problem]]:
    """The data source, split, samples (aligned to the split's ids), samples path and each sample's problem."""
    datamodule = instantiate_problems(cfg.data)
    if str(cfg.samples) == "reference":
        split = cfg.get("split") or datamodule.test_split
        problems = datamodule.problems(split)
        samples = reference_samples(problems, cfg.get("reference_n", 1))
        samples_path = outdir / "samples.jsonl"
        write_samples(samples, samples_path, split)
        log.info(
            "reference: %d solutions of %d problems of %s:%s -> %s",
            sum(len(s.completions) for s in samples),
            len(problems),
            datamodule.name,
            split,
            samples_path,
        )
    else:
        samples_path = Path(str(cfg.samples))
        samples = read_samples(samples_path)
        split = (
            cfg.get("split")
            or next((s.split for s in samples if s.split), None)
            or datamodule.test_split
        )
    # other tools' ids (Mbpp/11, 11; two spellings of one id are one problem) and HumanEval bodies
    samples = align_samples(samples, datamodule.problems(split))
    if cfg.get("limit") is not None:  # the first `limit` problems, as generate.py's limit=
        samples = samples[: int(cfg.limit)]
    seed = cfg.get("subset_seed")
    samples = random_subset(
        samples, cfg.get("subset"), getattr(datamodule, "seed", 0) if seed is None else seed
    )
    problems = match_problems(samples, datamodule.problems(split), split, str(samples_path))
    return datamodule, split, samples, samples_path, problems


def _load_all(
    cfg: DictConfig, outdir: Path
) -> tuple[Any, str, list[ProblemSamplesIn], Path, list[Problem], list[dict[str, Any]]]:
    """:func:`_load` and the records of an earlier run to resume (``resume=false``: removed, none)."""
    loaded = _load(cfg, outdir)
    results_path = outdir / "results.jsonl"
    records = load_results(results_path) if cfg.get("resume", True) else []
    if not cfg.get("resume", True):
        results_path.unlink(missing_ok=True)
    return (*loaded, records)


@task_wrapper
def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Judge every sample of ``cfg.samples`` and write results.jsonl, metrics.json, critic_labels.jsonl."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    if cfg.get("print_config"):
        print_config_tree(cfg, save_to=cfg.paths.output_dir)
    outdir = Path(cfg.paths.output_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    # The samples and the dataset load in a thread while this one starts the sandbox workers (their
    # start mostly waits on the worker processes). The workers must be started by a thread that
    # outlives them: a jailed worker dies with the thread that started it (bwrap --die-with-parent).
    executor_cfg = OmegaConf.to_container(
        cfg.executor, resolve=True
    )  # resolved before the loader reads cfg
    loading = in_background(_load_all, cfg, outdir)
    try:
        executor = hydra.utils.instantiate(executor_cfg)
    except BaseException:
        wait([loading])
        raise
    try:
        datamodule, split, samples, samples_path, problems, records = loading.result()
    except BaseException:
        executor.close()
        raise
    results_path = outdir / "results.jsonl"
    done = {(r["task_id"], r["index"]) for r in records}
    items = [
        (
            p,
            i,
            prog,
            s.logprobs[i] if i < len(s.logprobs) else None,
            s.scores[i] if i < len(s.scores) else None,
        )
        for p, s in zip(problems, samples)
        for i, prog in enumerate(s.completions)
        if (p.task_id, i) not in done
    ]
    if done:
        log.info("resuming: %d samples already judged in %s", len(done), results_path)

    log.info("executor: %s", getattr(executor, "isolation_level", "?"))
    t0, chunk = time.perf_counter(), max(1, int(cfg.get("chunk_size", 64)))
    judge = Judge(cfg, executor)
    try:
        with (
            results_path.open("a") as f,
            Progress(
                TextColumn("evaluate"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                disable=not items,
            ) as bar,
        ):
            task = bar.add_task("eval", total=len(items), rate="")
            # two chunks in flight: the next chunk's programs wait in the executor's queue, so no
            # worker idles while the last programs of a chunk finish or its records are written
            chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
            inflight = deque(in_background(judge, c) for c in chunks[:2])
            for k in range(len(chunks)):
                new = inflight.popleft().result()
                if k + 2 < len(chunks):
                    inflight.append(in_background(judge, chunks[k + 2]))
                for rec in new:
                    f.write(json.dumps(rec) + "\n")
                f.flush()  # a crash keeps every finished chunk, in order (resume=true picks up from here)
                records += new
                bar.update(
                    task,
                    advance=len(new),
                    rate=f"{(k * chunk + len(new)) / max(time.perf_counter() - t0, 1e-9):.1f} programs/s",
                )
        isolation = getattr(executor, "isolation_level", None)
        sandbox_stats = dict(getattr(executor, "stats", {}) or {})
        secs = time.perf_counter() - t0
        closing = in_background(
            executor.close, daemon=False
        )  # the workers shut down while the metrics are computed
    except BaseException:
        executor.close()
        raise

    ks = [int(k) for k in cfg.get("ks") or [1]]
    nks = (
        [[int(n), int(k)] for n, k in (cfg.get("n_at_k") or [])]
        if (cfg.get("rank_by") or "none") != "none"
        else []
    )
    metrics: dict[str, Any] = {
        "data": datamodule.name,
        "split": split,
        "samples_path": str(samples_path),
        "tests": cfg.get("tests", "hidden"),
        "rank_by": cfg.get("rank_by"),
        "executor": isolation,
        **compute_metrics(records, ks, nks, bool(cfg.get("codebleu", True))),
        "seconds": secs,
        "programs_per_s": (len(items) / secs) if secs > 0 else None,
        "charged_sandbox_failures": sandbox_stats.get("charged_failures", 0),
    }
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if cfg.get("critic_labels", True):
        n = write_critic_labels(records, outdir / "critic_labels.jsonl", datamodule.name, split)
        log.info("critic labels: %d programs -> %s", n, outdir / "critic_labels.jsonl")
    print_table(metrics, f"{datamodule.name}:{split} ({samples_path.name})")
    log_to_loggers(cfg, metrics, records)
    print(f"results: {results_path}\nmetrics: {outdir / 'metrics.json'}")
    closing.result()
    if cfg.get("plots"):
        from execrl.metrics.plots import save_evaluation_plots  # matplotlib only when asked for

        print("plots: " + " ".join(str(p) for p in save_evaluation_plots(outdir)))
    return metrics
