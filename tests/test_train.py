"""The main training job: composes, runs end to end, learns, checkpoints, resumes."""

from __future__ import annotations

import csv
from pathlib import Path

from conftest import compose, run_cli

FAST = ["logger=csv", "callbacks=none", "+trainer.enable_checkpointing=false", "print_config=false"]


def _loss_curve(run_dir: Path) -> list[float]:
    rows = list(csv.DictReader(open(next(run_dir.glob("csv/*/metrics.csv")))))
    return [float(r["train/loss"]) for r in rows if r.get("train/loss")]


def test_short_sft_run_lowers_training_loss(tmp_path: Path) -> None:
    from execrl.tasks.train import train

    cfg = compose(
        "train",
        ["trainer.max_steps=60", "trainer.val_check_interval=60", "trainer.log_every_n_steps=5", "data.val_limit=20", *FAST],
        output_dir=tmp_path,
    )
    metrics = train(cfg)
    curve = _loss_curve(tmp_path)
    assert len(curve) >= 5
    assert curve[-1] < 0.6 * curve[0], curve
    assert "val/pass@1" in metrics  # greedy programs were executed in the sandbox


def test_cli_mbpp_tiny_causal_runs_and_checkpoints(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py", "data=mbpp", "model=tiny_causal", "trainer.max_steps=20", "trainer.val_check_interval=20",
        "data.val_limit=8", "logger=csv", f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "config_tree.log").exists()
    assert (tmp_path / ".hydra" / "config.yaml").exists()
