"""The one place that talks to wandb beyond Lightning's logger: tables, histograms, and closing a run.

Nothing here imports wandb unless a wandb logger is in use (evaluation and tests never pay for it)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


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
