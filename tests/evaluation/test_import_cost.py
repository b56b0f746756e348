"""Judging never imports the ML stack (issue 19): ``evaluate.py`` on a synthesis task, and the
modules it loads, leave torch, transformers, Lightning and wandb unloaded; a sandbox worker loads
neither the executor nor the judge."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.common import ROOT

HEAVY = ("torch", "transformers", "lightning", "pytorch_lightning", "wandb", "codebleu")

# everything a non-translation evaluate.py run touches, imported and exercised in a fresh interpreter
PROBE = r"""
import json, sys
from pathlib import Path
from omegaconf import OmegaConf
import execrl.tasks.evaluate as ev
from execrl.data.mbpp import MBPPReader
from execrl.data.apps import APPSReader
from execrl.data.humaneval import HumanEvalReader
from execrl.data.synth import SynthReader
import execrl.metrics, execrl.execution
from execrl.execution import Executor, ExecRequest, Outcome
from execrl.utils.config import compose

cfg = compose("evaluate", ["data=mbpp", "samples=reference", "executor.workers=1"], output_dir=sys.argv[1])
src = ev.instantiate_problems(cfg.data)
probs = src.problems("test")[:2]
with Executor(workers=1, timeout_s=10) as ex:
    recs = ev.Judge(cfg, ex)([(p, 0, p.solutions[0], None, None) for p in probs])
recs.append({**recs[0], "index": 1, "outcome": "failed", "passed": False, "error": "AssertionError", "error_type": "AssertionError"})
m = ev.compute_metrics(recs, [1], [[1, 1]])
ev.write_critic_labels(recs, Path(sys.argv[1]) / "critic_labels.jsonl", "mbpp", "test")
ev.print_table(m, "probe")
ev.log_to_loggers(cfg, m, recs)
print("LOADED", json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
""" % (HEAVY,)  # noqa: UP031  (a program text: %-formatting leaves its braces alone)


def _loaded(stdout: str) -> list[str]:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("LOADED "))
    return json.loads(line[len("LOADED ") :])


def test_judging_path_imports_no_ml_stack(tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    heavy = sorted({m.split(".")[0] for m in _loaded(r.stdout)})
    assert not heavy, f"the judging path imported {heavy}"


def test_evaluate_cli_imports_no_ml_stack(tmp_path):
    """The whole process, as a user runs it: ``-X importtime`` lists every module it loaded."""
    ref = next(
        json.loads(ln)
        for ln in (ROOT / "data/mbpp/mbpp.jsonl").open()
        if json.loads(ln)["task_id"] == 11
    )
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "mbpp/11", "completions": [ref["code"]]}) + "\n")
    r = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            str(ROOT / "evaluate.py"),
            "data=mbpp",
            f"samples={samples}",
            f"hydra.run.dir={tmp_path / 'run'}",
            "executor.workers=1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PROJECT_ROOT": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    modules = {
        ln.rsplit("|", 1)[1].strip()
        for ln in r.stderr.splitlines()
        if ln.startswith("import time:")
    }
    heavy = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    assert not heavy, f"evaluate.py imported {heavy}"
    rec = json.loads((tmp_path / "run" / "results.jsonl").read_text().splitlines()[0])
    assert rec["outcome"] == "passed"
    assert (tmp_path / "run" / "critic_labels.jsonl").exists() and (
        tmp_path / "run" / ".hydra" / "config.yaml"
    ).exists()


def test_worker_start_imports_neither_executor_nor_judge():
    code = "import sys, execrl.execution.worker; print(sorted(m for m in sys.modules if m.startswith('execrl')))"
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-3000:]
    loaded = eval(r.stdout.strip())  # our own print of a list of names
    assert "execrl.execution.executor" not in loaded and "execrl.execution.judge" not in loaded, (
        loaded
    )


def test_single_run_records_what_hydra_main_records(tmp_path):
    """A plain ``python evaluate.py ...`` composes once (utils.config.run_single_job); ``--run`` (any
    flag) goes through ``@hydra.main``: same .hydra/ files, same log file, same results."""
    ref = next(
        json.loads(ln)
        for ln in (ROOT / "data/mbpp/mbpp.jsonl").open()
        if json.loads(ln)["task_id"] == 12
    )
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "mbpp/12", "completions": [ref["code"]]}) + "\n")
    outs = {}
    for name, flags in (("single", []), ("hydra_main", ["--run"])):
        run = tmp_path / "run"  # the same dir name, so that the recorded paths match
        r = subprocess.run(
            [
                sys.executable,
                str(ROOT / "evaluate.py"),
                *flags,
                "data=mbpp",
                f"samples={samples}",
                f"hydra.run.dir={run}",
                "executor.workers=1",
                "resume=false",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PROJECT_ROOT": str(ROOT)},
        )
        assert r.returncode == 0, r.stderr[-3000:]
        outs[name] = {
            f: (run / ".hydra" / f).read_text()
            for f in ("config.yaml", "hydra.yaml", "overrides.yaml")
        }
        outs[name]["outcome"] = json.loads((run / "results.jsonl").read_text())["outcome"]
        assert (run / "evaluate.log").read_text().count("executor:") >= 1
        (run / "evaluate.log").unlink()
    assert outs["single"] == outs["hydra_main"]
    assert outs["single"]["outcome"] == "passed"
