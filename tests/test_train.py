"""The main training job: composes, runs end to end, learns, checkpoints, resumes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

from helpers.common import PYTHON, ROOT, compose, run_cli

FAST = [
    "logger=csv",
    "callbacks=none",
    "+trainer.enable_checkpointing=false",
    "print_config=false",
    "report.limit=20",
]


def _loss_curve(run_dir: Path) -> list[float]:
    with open(next(run_dir.glob("csv/*/metrics.csv"))) as fh:
        rows = list(csv.DictReader(fh))
    return [float(r["train/loss"]) for r in rows if r.get("train/loss")]


def test_short_sft_run_lowers_training_loss(tmp_path: Path, capsys) -> None:
    from execrl.tasks.train import train

    cfg = compose(
        "train",
        [
            "algo=sft",
            "trainer.max_steps=60",
            "trainer.val_check_interval=60",
            "trainer.log_every_n_steps=5",
            "data.val_limit=20",
            *FAST,
        ],
        output_dir=tmp_path,
    )
    metrics = train(cfg)
    curve = _loss_curve(tmp_path)
    assert len(curve) >= 5
    assert curve[-1] < 0.6 * curve[0], curve
    assert "val/pass@1" in metrics  # greedy programs were executed in the sandbox
    # algo=sft reports its held-out result (the trained actor's: its random init solves nothing)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["algo"] == "SFT" and summary["split"] == "heldout" and summary["n"] == 20
    assert set(summary["after"]) == {"pass@1", "compile_rate"} and "before" not in summary
    assert metrics["heldout/pass@1_sft"] == summary["after"]["pass@1"]
    out = capsys.readouterr().out
    assert "held-out pass@1 on synth:heldout (20 problems): SFT " in out
    assert f"summary.json  {tmp_path / 'summary.json'}" in out


def test_cli_mbpp_tiny_causal_runs_and_checkpoints(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py",
        "data=mbpp",
        "model=tiny_causal",
        "algo=sft",
        "trainer.max_steps=20",
        "trainer.val_check_interval=20",
        "data.val_limit=8",
        "report.limit=8",
        "logger=csv",
        f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "config_tree.log").exists()
    assert (tmp_path / ".hydra" / "config.yaml").exists()


def test_default_job_warm_starts_then_runs_coderl_and_reports(tmp_path: Path) -> None:
    # the main job (`python train.py`): SFT warm start, then CodeRL from its checkpoint, then
    # held-out pass@1 before/after in summary.json; budgets shrunk, the chain is the real one,
    # with the default logger (wandb, offline) and its console output as a user sees it
    env = {
        **os.environ,
        "PROJECT_ROOT": str(ROOT),
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "false",
    }
    proc = subprocess.run(
        [
            PYTHON,
            str(ROOT / "train.py"),
            "warm_start.max_steps=4",
            "trainer.max_steps=4",
            "trainer.val_check_interval=1000",
            "trainer.log_every_n_steps=1",
            "data.reader.sizes={sft:40,rl:20,heldout:12,val:8}",
            "data.batch_size=4",
            "model.max_new_tokens=24",
            "algo.critic_train_steps=2",
            "algo.critic_label_problems=4",
            "algo.offline_problems=4",
            "algo.offline_samples=2",
            "algo.rl_batch_size=4",
            "algo.ce_batch_size=4",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows it
        text=True,
        timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:]
    assert (tmp_path / "warm_start" / "checkpoints" / "last.ckpt").exists()
    warm = (tmp_path / "warm_start" / "config_tree.log").read_text()
    assert "SFTModule" in warm and "max_steps: 4" in warm
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["split"] == "heldout" and summary["n"] == 12
    assert (
        0.0 <= summary["heldout/pass@1_sft"] <= 1.0
        and 0.0 <= summary["heldout/pass@1_coderl"] <= 1.0
    )
    assert "held-out pass@1 on synth:heldout (12 problems): SFT" in out
    # the result is the last thing printed: after wandb's own summary, then where it lives
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    last_wandb = max(i for i, line in enumerate(lines) if line.startswith("wandb:"))
    headline = next(i for i, line in enumerate(lines) if line.startswith("held-out pass@1"))
    assert last_wandb < headline
    assert lines[-3:-1] == [
        f"run dir       {tmp_path}",
        f"summary.json  {tmp_path / 'summary.json'}",
    ]
    assert "final metrics:" not in out  # no metrics dict
    assert "INFO: " not in out  # each Lightning line once (Hydra's copy, also in train.log)
    assert out.count("Seed set to 42") == 2  # one per stage
    assert "Epoch 0/-2" not in out and "Epoch 1/-2" not in out
    assert "starting fresh in" in out


def test_timed_checkpoints_under_manual_optimisation(tmp_path: Path) -> None:
    """callbacks=timed saves on wall clock for RL modules too (Lightning's ModelCheckpoint does not)."""
    import torch

    from execrl.tasks.train import train

    cfg = compose(
        "train",
        [
            "algo=grpo",
            "warm_start.enabled=false",
            "logger=csv",
            "callbacks=timed",
            "callbacks.timed_checkpoint.seconds=0",
            "print_config=false",
            "trainer.max_steps=3",
            "trainer.val_check_interval=100",
            "report.split=null",
            "data.batch_size=2",
            "algo.num_samples=2",
            "model.max_new_tokens=8",
        ],
        output_dir=tmp_path,
    )
    train(cfg)
    timed = sorted((tmp_path / "checkpoints" / "timed").glob("*.ckpt"))
    # a zero interval: one checkpoint after every iteration, named by the optimizer step reached
    steps = [torch.load(f, map_location="cpu", weights_only=False)["global_step"] for f in timed]
    assert (
        steps == [int(f.stem.split("_")[1]) for f in timed] and len(steps) >= 2 and steps[-1] == 3
    )


def test_last_ckpt_holds_the_step_training_stopped_on(tmp_path: Path) -> None:
    """A run that stops off the checkpoint grid (here max_steps 5, a save every 2 steps; in the
    benches, trainer.max_time) still leaves its final weights in last.ckpt: the report, resume and
    bench/learning.py judge that file. Canary: the periodic save alone stopped at step 4."""
    import torch

    from execrl.tasks.train import train

    cfg = compose(
        "train",
        [
            "algo=sft",
            "logger=csv",
            "print_config=false",
            "trainer.max_steps=5",
            "trainer.val_check_interval=100",
            "callbacks.model_checkpoint.every_n_train_steps=2",
            "report.split=null",
            "data.batch_size=2",
        ],
        output_dir=tmp_path,
    )
    train(cfg)
    ckpts = tmp_path / "checkpoints"
    step = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=False)["global_step"]
    periodic = sorted(int(f.stem.split("_")[1]) for f in ckpts.glob("step_*.ckpt"))
    assert step == 5 and periodic and periodic[-1] == 4, (step, periodic)


def test_warm_start_is_its_own_stage(tmp_path: Path) -> None:
    """An override names the stage it changes: the algorithm's optimizer, reward and trainer
    settings never reach the SFT stage, and ``warm_start.*`` never reaches the algorithm."""
    from omegaconf import OmegaConf

    from execrl.tasks.train import warm_start_config

    cfg = compose(
        "train",
        [
            "algo=grpo",  # its shared/rl sets trainer.gradient_clip_val=null (manual optimisation)
            "optimizer.lr=3e-5",
            "reward=binary",
            "trainer.accumulate_grad_batches=4",
            "warm_start.optimizer.lr=2e-3",
            "warm_start.max_steps=7",
            "data.batch_size=3",  # shared
        ],
        output_dir=tmp_path,
    )
    before = OmegaConf.to_yaml(cfg)
    stage = warm_start_config(cfg)
    assert stage.algo._target_ == "execrl.algos.sft.SFTModule"
    assert stage.optimizer.lr == 2e-3 and cfg.optimizer.lr == 3e-5
    assert stage.trainer.max_steps == 7 and stage.trainer.gradient_clip_val == 1.0
    assert stage.trainer.accumulate_grad_batches == 1 and cfg.trainer.accumulate_grad_batches == 4
    assert stage.data.batch_size == 3 and stage.model == cfg.model
    assert stage.paths.output_dir == str(tmp_path / "warm_start")
    assert stage.trainer.default_root_dir == str(tmp_path / "warm_start")
    assert not stage.warm_start.enabled and stage.actor_ckpt is None
    assert OmegaConf.to_yaml(cfg) == before  # the algorithm's config is left as it was


def test_critic_reports_its_held_out_accuracy_not_the_actors(tmp_path: Path, capsys) -> None:
    """algo=critic cannot change the actor: its result is the critic's accuracy on held-out
    tasks (beside the majority class's), and the warm-start actor is never measured."""
    from execrl.tasks.train import train

    cfg = compose(
        "train",
        [
            "algo=critic",
            "warm_start.max_steps=2",
            "trainer.max_steps=2",
            "trainer.val_check_interval=1000",
            "data.reader.sizes={sft:40,rl:4,heldout:12,val:4}",
            "model.max_new_tokens=16",
            "algo.label_problems=20",
            "algo.samples_per_problem=2",
            "algo.val_fraction=0.3",
            *FAST,
        ],
        output_dir=tmp_path,
    )
    metrics = train(cfg)
    summary = json.loads((tmp_path / "summary.json").read_text())
    critic = summary["critic"]
    assert summary["algo"] == "Critic" and critic["n"] > 0 and critic["tasks"] > 0
    assert 0.0 <= critic["accuracy"] <= 1.0 and 0.0 < critic["majority"] <= 1.0
    assert metrics["heldout/critic_accuracy"] == critic["accuracy"]
    assert "after" not in summary and "before" not in summary
    assert not (tmp_path / "report_before.json").exists()  # the actor was not measured
    out = capsys.readouterr().out
    assert f"critic held-out accuracy on {critic['n']} labelled programs" in out
    assert "held-out pass@1" not in out


def test_shipped_apps_sample_says_it_trains_on_5_problems_and_validates_on_them(
    tmp_path: Path, capsys
) -> None:
    from execrl.tasks.train import train

    cfg = compose(
        "train",
        [
            "data=apps",
            "algo=sft",
            "trainer.max_steps=2",
            "trainer.val_check_interval=2",
            "model.max_new_tokens=16",
            *FAST,
        ],
        output_dir=tmp_path,
    )
    train(cfg)
    notes = json.loads((tmp_path / "summary.json").read_text())["notes"]
    assert any("trains on 5 problems" in n and "data.path=" in n for n in notes), notes
    assert any("validates on its training split 'train'" in n for n in notes), notes
    out = capsys.readouterr().out
    block = out[out.rindex("last validation") :]  # no test split: the validation is the result
    assert "note: data=apps trains on 5 problems" in block and "validates on its training" in block


def test_an_error_prints_one_traceback_and_logs_it(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py",
        "data=mbpp",
        f"data.path={tmp_path}/missing.jsonl",
        "algo=sft",
        "logger=csv",
        "print_config=false",
        f"hydra.run.dir={tmp_path}",
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert out.count("Traceback (most recent call last)") == 1, out[-3000:]
    assert "missing.jsonl: not found" in out
    assert "Traceback" in (tmp_path / "train.log").read_text()  # the log keeps it too


def test_progress_bar_never_reads_epoch_minus_two() -> None:
    from types import SimpleNamespace

    from execrl.utils.callbacks import ProgressBar

    bar = ProgressBar()
    bar._trainer = SimpleNamespace(max_epochs=-1, max_steps=600)
    assert bar._get_train_description(0).strip() == "Epoch 0"
    bar._trainer = SimpleNamespace(max_epochs=3, max_steps=-1)
    assert bar._get_train_description(1).strip() == "Epoch 1/2"  # Lightning's, when it has a last
