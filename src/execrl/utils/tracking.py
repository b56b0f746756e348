"""Metric keys, and the one place that talks to wandb beyond Lightning's logger: tables, histograms,
and closing a run.

Every logged key is ``<stage>/<name>``: ``train`` (per step or iteration), ``val`` (per validation
run) or ``setup`` (measured once before training: critic pre-training, CodeRL's offline pool); a
name may have a group: ``train/loss`` (what was optimised) and ``train/loss/{policy,value,kl,ce,rl}``,
``train/reward/mean`` and ``train/reward/<component or class>``, ``train/kl``, ``train/beta``,
``train/time_s/{gen,reward,update}``, ``setup/time_s/critic``. :func:`staged` applies it.

Nothing here imports wandb unless a wandb logger is in use (evaluation and tests never pay for it)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

STAGES = ("train", "val", "setup", "test")


def staged(metrics: dict[str, Any], stage: str = "train") -> dict[str, Any]:
    """``metrics`` with every key under ``stage/`` (keys that already name a stage are kept)."""
    return {k if k.split("/", 1)[0] in STAGES else f"{stage}/{k}": v for k, v in metrics.items()}


def wandb_loggers(loggers: Iterable[Any]) -> list[Any]:
    """The Lightning ``WandbLogger`` instances among ``loggers``."""
    from lightning.pytorch.loggers import (
        WandbLogger,  # lightning imports wandb only when one is made
    )

    return [lg for lg in loggers if isinstance(lg, WandbLogger)]


def log_table(loggers: Iterable[Any], key: str, columns: list[str], data: list[list[Any]]) -> None:
    """A table on every wandb logger (other loggers have no tables)."""
    for lg in wandb_loggers(loggers):
        lg.log_table(key=key, columns=columns, data=data)


def log_histogram(loggers: Iterable[Any], key: str, values: Any, step: int) -> None:
    """A histogram of ``values`` (a numpy array) on every wandb logger, at trainer step ``step``."""
    for lg in wandb_loggers(loggers):
        import wandb

        lg.experiment.log({key: wandb.Histogram(values), "trainer/global_step": step})


def finish_wandb() -> None:
    """Close the active wandb run, if any; never imports wandb (no run without it imported)."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()
