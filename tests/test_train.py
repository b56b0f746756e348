"""The main training job: composes, runs end to end, learns, checkpoints, resumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from helpers.common import compose, run_cli

FAST = ["logger=csv", "callbacks=none", "+trainer.enable_checkpointing=false", "print_config=false"]


def _loss_curve(run_dir: Path) -> list[float]:
    with open(next(run_dir.glob("csv/*/metrics.csv"))) as fh:
        rows = list(csv.DictReader(fh))
    return [float(r["train/loss"]) for r in rows if r.get("train/loss")]


def test_short_sft_run_lowers_training_loss(tmp_path: Path) -> None:
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


def test_cli_mbpp_tiny_causal_runs_and_checkpoints(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py",
        "data=mbpp",
        "model=tiny_causal",
        "algo=sft",
        "trainer.max_steps=20",
        "trainer.val_check_interval=20",
        "data.val_limit=8",
        "logger=csv",
        f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "config_tree.log").exists()
    assert (tmp_path / ".hydra" / "config.yaml").exists()


def test_default_job_warm_starts_then_runs_coderl_and_reports(tmp_path: Path) -> None:
    # the main job (`python train.py`): SFT warm start, then CodeRL from its checkpoint, then
    # held-out pass@1 before/after in summary.json; budgets shrunk, the chain is the real one
    proc = run_cli(
        "train.py",
        "warm_start.max_steps=4",
        "trainer.max_steps=4",
        "trainer.val_check_interval=1000",
        "data.reader.sizes={sft:40,rl:20,heldout:12,val:8}",
        "data.batch_size=4",
        "model.max_new_tokens=24",
        "algo.critic_train_steps=2",
        "algo.critic_label_problems=4",
        "algo.offline_problems=4",
        "algo.offline_samples=2",
        "algo.rl_batch_size=4",
        "algo.ce_batch_size=4",
        "logger=csv",
        f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "warm_start" / "checkpoints" / "last.ckpt").exists()
    warm = (tmp_path / "warm_start" / "config_tree.log").read_text()
    assert "SFTModule" in warm and "max_steps: 4" in warm
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["split"] == "heldout" and summary["n"] == 12
    assert (
        0.0 <= summary["heldout/pass@1_sft"] <= 1.0
        and 0.0 <= summary["heldout/pass@1_coderl"] <= 1.0
    )
    assert "held-out pass@1 on synth:heldout (12 problems): SFT" in proc.stdout


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
