"""End to end: generate.py then evaluate.py with the tiny model, writing the files of docs/formats.md."""

from __future__ import annotations

import json

import pytest

from execrl.rewards.outcome_rewards import CLASS_NAMES
from execrl.vocabulary import Outcome

from helpers.common import ROOT, compose, requires_java_cpp, run_cli


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_results(outdir, n_problems, n):
    results = _lines(outdir / "results.jsonl")
    assert len(results) == n_problems * n
    for r in results:
        assert {"task_id", "index", "outcome", "tests", "error", "program"} <= set(r)
        Outcome(r["outcome"])
    metrics = json.loads((outdir / "metrics.json").read_text())
    labels = _lines(outdir / "critic_labels.jsonl")
    assert all(CLASS_NAMES[row["class"]] in (row["outcome"], "runtime_error") for row in labels)
    return results, metrics


def test_cli_generate_then_evaluate_mbpp(tmp_path):
    gen = tmp_path / "gen"
    r = run_cli(
        "generate.py",
        "data=mbpp",
        "limit=3",
        "sampling.n=2",
        "model.max_new_tokens=24",
        f"hydra.run.dir={gen}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows = _lines(gen / "samples.jsonl")
    assert len(rows) == 3 and all(
        len(x["completions"]) == 2 and len(x["logprobs"]) == 2 for x in rows
    )
    assert all(x["split"] == "test" and x["generation"]["n"] == 2 for x in rows)
    ev = tmp_path / "eval"
    r = run_cli(
        "evaluate.py", "data=mbpp", f"samples={gen / 'samples.jsonl'}", f"hydra.run.dir={ev}"
    )
    assert r.returncode == 0, r.stderr[-3000:]
    _results, metrics = _check_results(ev, 3, 2)
    assert metrics["samples"] == 6 and metrics["problems"] == 3
    assert set(metrics) >= {
        "pass@1",
        "pass@2",
        "outcomes",
        "compile_rate",
        "test_case_average",
        "strict_accuracy",
    }
    assert sum(v["count"] for v in metrics["outcomes"].values()) == 6
    assert "pass@1" in r.stdout  # the rich table


def test_generate_then_evaluate_synth_in_process_and_resume(tmp_path):
    from execrl.tasks.evaluate import evaluate
    from execrl.tasks.generate import generate

    gen = tmp_path / "gen"
    cfg = compose(
        "generate",
        [
            "data=synth",
            "limit=4",
            "sampling.n=2",
            "model=tiny_causal",
            "model.max_new_tokens=16",
            "data.reader.sizes.heldout=20",
        ],
        gen,
    )
    stats = generate(cfg)
    assert stats["programs"] == 8
    # rerun: every problem is already written
    assert generate(cfg)["programs"] == 0
    ev = tmp_path / "eval"
    ecfg = compose(
        "evaluate",
        [
            "data=synth",
            "data.reader.sizes.heldout=20",
            f"samples={gen / 'samples.jsonl'}",
            "rank_by=logprob",
            "n_at_k=[[1,2]]",
        ],
        ev,
    )
    m1 = evaluate(ecfg)
    results, _ = _check_results(ev, 4, 2)
    assert "1@2" in m1 and all(r["score"] is not None for r in results)
    assert set(m1["by_difficulty"]) <= {"1op", "2op", "3op", "cond"}
    # a crash mid-line: the torn line is dropped and only that sample is judged again
    text = (ev / "results.jsonl").read_text()
    (ev / "results.jsonl").write_text(text[: len(text) - 40])
    m2 = evaluate(ecfg)
    assert len(_lines(ev / "results.jsonl")) == 8
    assert m2["pass@1"] == m1["pass@1"] and m2["outcomes"] == m1["outcomes"]


def test_reference_mbpp_subset_passes(tmp_path):
    from execrl.tasks.evaluate import evaluate

    m = evaluate(
        compose("evaluate", ["data=mbpp", "samples=reference", "split=all", "limit=50"], tmp_path)
    )
    assert m["problems"] == 50 and m["pass@1"] == 1.0 and m["infrastructure_errors"] == 0


@pytest.mark.slow
def test_reference_mbpp_all_974_pass(tmp_path):
    r = run_cli(
        "evaluate.py", "data=mbpp", "samples=reference", "split=all", f"hydra.run.dir={tmp_path}"
    )
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["problems"] == 974 and m["pass@1"] == 1.0


def test_unknown_task_ids_and_malformed_file_fail_clearly(tmp_path):
    from execrl.metrics.samples import SamplesFormatError
    from execrl.tasks.evaluate import evaluate

    bad = tmp_path / "s.jsonl"
    bad.write_text(json.dumps({"task_id": "mbpp/9999", "completion": "x"}) + "\n")
    with pytest.raises(KeyError, match="not in data split"):
        evaluate(compose("evaluate", ["data=mbpp", f"samples={bad}"], tmp_path / "a"))
    bad.write_text("{oops\n")
    with pytest.raises(SamplesFormatError, match=f"{bad}:1:"):
        evaluate(compose("evaluate", ["data=mbpp", f"samples={bad}"], tmp_path / "b"))


@pytest.mark.slow
@requires_java_cpp
def test_reference_xlcost_reports_compile_rate_and_computational_accuracy(tmp_path):
    from execrl.tasks.evaluate import evaluate

    m = evaluate(
        compose("evaluate", ["data=xlcost_java_cpp", "samples=reference", "limit=6"], tmp_path)
    )
    t = m["translation"]["java->cpp"]
    assert t["problems"] == 6 and 0.5 <= t["compile_rate"] <= 1.0
    assert t["exact_match"] == 1.0 and t["codebleu"]["codebleu"] == pytest.approx(1.0)
    assert t["codebleu_tok"]["codebleu"] == pytest.approx(1.0)  # the same on XLCoST token text
    ca = t["computational_accuracy"]
    assert ca["problems_scored"] + sum(ca["sources_flagged"].values()) == 6


# ---------------------------------------------------------------------------------- issue 30, items 9-10
def test_two_spellings_of_one_id_are_one_problem_and_time_s_is_recorded(tmp_path):
    """``12`` and ``mbpp/12`` are one problem (one row per (task_id, index)), and every row has its
    time on the sandbox worker: a timeout takes at least the time limit (it used to read 0.0)."""
    from execrl.tasks.evaluate import evaluate

    mbpp = {
        json.loads(line)["task_id"]: json.loads(line)["code"]
        for line in (ROOT / "data" / "mbpp" / "mbpp.jsonl").open()
    }
    hang = "def sort_matrix(m):\n    import time\n    time.sleep(60)\n"
    samples = tmp_path / "s.jsonl"
    samples.write_text(
        json.dumps({"task_id": 12, "completions": [mbpp[12]]})
        + "\n"
        + json.dumps({"task_id": "mbpp/12", "completions": [hang]})
        + "\n"
    )
    m = evaluate(
        compose(
            "evaluate",
            ["data=mbpp", f"samples={samples}", "executor.timeout_s=1.0", "rank_by=none"],
            tmp_path / "ev",
        )
    )
    rows = _lines(tmp_path / "ev" / "results.jsonl")
    assert sorted((r["task_id"], r["index"], r["outcome"]) for r in rows) == [
        ("mbpp/12", 0, "passed"),
        ("mbpp/12", 1, "timeout"),
    ]
    assert m["problems"] == 1 and m["samples"] == 2 and m["pass@1"] == 0.5
    assert all(r["time_s"] > 0 for r in rows)
    assert next(r for r in rows if r["outcome"] == "timeout")["time_s"] >= 1.0


def test_empty_samples_file_exits_nonzero_with_a_clear_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    r = run_cli("evaluate.py", "data=mbpp", f"samples={empty}", f"hydra.run.dir={tmp_path / 'ev'}")
    assert r.returncode != 0
    assert f"{empty}: no samples" in r.stderr + r.stdout


def test_limit_is_the_first_n_and_subset_a_seeded_draw():
    """``limit=`` is the first N problems in generate.py as in evaluate.py (and
    lm-evaluation-harness); ``subset=`` draws N at random, as generate.py's ``limit=`` used to."""
    import random

    from execrl.tasks.evaluate import instantiate_problems
    from execrl.tasks.generate import select_problems

    dm = instantiate_problems(compose("evaluate", ["data=mbpp", "samples=x"]).data)
    test = dm.problems("test")
    ids = lambda ps: [p.task_id for p in ps]  # noqa: E731
    assert ids(select_problems(dm, "test", limit=5)) == ids(test[:5])
    assert ids(select_problems(dm, "test", start=10, limit=3)) == ids(test[10:13])
    drawn = select_problems(dm, "test", subset=5)
    keep = sorted(random.Random(dm.seed).sample(range(len(test)), 5))  # the old limit=5
    assert ids(drawn) == [test[i].task_id for i in keep] != ids(test[:5])
    assert ids(select_problems(dm, "test", subset=5, subset_seed=1)) != ids(drawn)


def test_evaluate_subset_draws_from_the_samples_file(tmp_path):
    from execrl.tasks.evaluate import evaluate

    m = evaluate(
        compose(
            "evaluate",
            ["data=mbpp", "samples=reference", "split=all", "subset=3", "subset_seed=5"],
            tmp_path,
        )
    )
    ids = [r["task_id"] for r in _lines(tmp_path / "results.jsonl")]
    assert m["problems"] == 3 and len(set(ids)) == 3 and ids != ["mbpp/1", "mbpp/2", "mbpp/3"]
