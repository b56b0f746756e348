"""algo=repair (CodeRL's repair model): pairs from critic labels, one prompt format with Critic
Sampling, and a trained checkpoint that Critic Sampling loads and that repairs what it was taught."""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import torch

from execrl.algos.coderl.critic_sampling import (
    CriticSampler,
    repair_prompt,
)
from execrl.algos.coderl.labels import CriticLabel, label_error_fields
from execrl.algos.coderl.repair import repair_pairs
from execrl.schema.sampling import REPAIR_TEMPLATE, CriticSamplingConfig
from execrl.vocabulary import ExecutionResult, Outcome, Problem, TestResult, Tests

from helpers.common import compose, run_cli

SOLUTION = "def f(x):\n    return x + 1\n"


def test_repair_pairs_hand_built() -> None:
    p = Problem(
        "t1",
        "synth",
        "Write f.\n",
        tests=Tests(style="assert", asserts=["assert f(1) == 2"]),
        solutions=[SOLUTION, "alt"],
    )
    bare = Problem(
        "t2", "synth", "Write g.\n", tests=Tests(style="assert", asserts=["assert g() == 0"])
    )
    labels = [
        CriticLabel(
            "t1",
            "def f(x):\n    return 1/0\n",
            "runtime_error",
            1,
            error_type="ZeroDivisionError",
            error="ZeroDivisionError: division by zero",
        ),
        CriticLabel(
            "t1", "def f(x): return x", "failed", 2
        ),  # evaluate.py's older export: no subtype or message
        CriticLabel("t1", SOLUTION, "passed", 3),  # nothing to repair
        CriticLabel("t2", "def g(): return 1", "failed", 2),  # no reference solution
        CriticLabel("t9", "x", "failed", 2),  # unknown task
    ]
    pairs = repair_pairs(labels, {"t1": p, "t2": bare})
    assert pairs == [
        (
            "Write f.\n# Previous attempt:\ndef f(x):\n    return 1/0\n# It fails with runtime_error (ZeroDivisionError): "
            "ZeroDivisionError: division by zero\n# Corrected program:\n",
            SOLUTION,
        ),
        (
            "Write f.\n# Previous attempt:\ndef f(x): return x\n# It fails with failed (failed): \n# Corrected program:\n",
            SOLUTION,
        ),
    ]
    assert [s for _, s in repair_pairs(labels[:1], {"t1": p}, solutions_per_program=2)] == [
        SOLUTION,
        "alt",
    ]
    # the prompt trained on is the prompt Critic Sampling asks for the same program and error
    res = ExecutionResult(
        Outcome.RUNTIME_ERROR,
        error_type="ZeroDivisionError",
        error="Traceback ...\nZeroDivisionError: division by zero",
    )
    assert repair_prompt(p, labels[0].program, res) == pairs[0][0]


def test_evaluate_export_keeps_subtype_and_message() -> None:
    """evaluate.py's critic_labels.jsonl rows carry what the repair prompt needs, from results.jsonl records."""
    wrong = ExecutionResult(
        Outcome.FAILED,
        tests=[TestResult(Outcome.PASSED), TestResult(Outcome.FAILED, got="3", expected="2")],
    )
    assert label_error_fields(wrong.to_dict()) == {"error_type": None, "error": "expected 2, got 3"}
    crash = ExecutionResult(
        Outcome.RUNTIME_ERROR,
        error_type="ZeroDivisionError",
        error="Traceback ...\nZeroDivisionError: division by zero\n",
    )
    assert label_error_fields(crash.to_dict()) == {
        "error_type": "ZeroDivisionError",
        "error": "ZeroDivisionError: division by zero",
    }


def test_repair_template_is_one_format() -> None:
    assert compose("train", ["algo=repair", "algo.labels_path=x"]).algo.template == REPAIR_TEMPLATE
    assert (
        compose("generate", ["sampling=critic", "sampling.critic_ckpt=x"]).sampling.repair_template
        == REPAIR_TEMPLATE
    )


def test_train_repair_model_and_critic_sampling_loads_it(tmp_path: Path) -> None:
    """Overfit the tiny T5 on one failed program of a synth task; the checkpoint, loaded by Critic
    Sampling as its repair model, greedily writes the task's reference solution from the repair prompt."""
    dm = hydra.utils.instantiate(compose("train", []).data)
    prob = dm.problems(dm.train_split, 1)[0]
    wrong = "def f(x):\n    return x // 0\n"
    label = CriticLabel(
        prob.task_id,
        wrong,
        "runtime_error",
        1,
        error_type="ZeroDivisionError",
        error="ZeroDivisionError: integer division or modulo by zero",
        split=dm.train_split,
    )
    labels = tmp_path / "critic_labels.jsonl"
    labels.write_text(
        json.dumps(label.to_dict())
        + "\n"
        + json.dumps({**label.to_dict(), "class": 3, "outcome": "passed"})
        + "\n"
    )
    r = run_cli(
        "train.py",
        "algo=repair",
        f"algo.labels_path={labels}",
        "algo.batch_size=1",
        "warm_start.enabled=false",
        "trainer.max_steps=80",
        "optimizer.lr=1e-2",
        "++data.train_limit=8",
        "trainer.val_check_interval=1000",
        "logger=csv",
        "executor=none",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "repair pairs: 1 from 2 labels" in r.stdout + r.stderr

    actor = hydra.utils.instantiate(compose("train", []).model)  # the sampling actor: untrained
    # a critic object stands in (its loading is tested elsewhere): the repair model is what is checked here
    sampler = CriticSampler(
        CriticSamplingConfig(repair_ckpt=str(tmp_path / "run" / "checkpoints" / "last.ckpt")),
        critic=torch.nn.Identity(),
    )
    sampler._load(actor)
    assert sampler.repair_actor is not None and sampler.repair_actor is not actor
    res = ExecutionResult(
        Outcome.RUNTIME_ERROR,
        error_type="ZeroDivisionError",
        error="Traceback (most recent call last):\nZeroDivisionError: integer division or modulo by zero",
    )
    text = sampler.repair_actor.generate([repair_prompt(prob, wrong, res)], do_sample=False).texts[
        0
    ]
    assert text.strip() == prob.solutions[0].strip()
