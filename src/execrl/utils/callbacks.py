"""Lightning callbacks that Lightning's own do not cover."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar, Timer
from lightning.pytorch.trainer.states import RunningStage


class TimedCheckpoint(L.Callback):
    """Save a checkpoint every ``seconds`` of training wall clock, keeping all of them
    (``<dirpath>/step_XXXXXX.ckpt``), for learning curves against time.

    Lightning's ``ModelCheckpoint(train_time_interval=...)`` does the same for automatic
    optimisation only: under manual optimisation (every RL module here) it saves on step counts
    alone, so the time interval never fires.
    """

    def __init__(self, dirpath: str, seconds: float = 30.0) -> None:
        self.dirpath, self.seconds = Path(dirpath), float(seconds)
        self._last = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last = time.monotonic()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        # every rank must take the same decision: save_checkpoint is collective
        due = trainer.strategy.broadcast(time.monotonic() - self._last >= self.seconds)
        if due:
            self._last = time.monotonic()
            trainer.save_checkpoint(self.dirpath / f"step_{trainer.global_step:06d}.ckpt")


class FitTimer(Timer):
    """Lightning's ``Timer`` (what ``trainer.max_time`` builds) with the training clock started at
    fit start instead of train start, so the setup an algorithm does in ``on_fit_start`` (CodeRL's
    critic training and offline pool) is spent from the budget like its updates: an equal
    wall-clock comparison then is one. ``Timer`` has no public way to move its start, hence the
    write to its ``_start_time``."""

    def on_fit_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        self._start_time[RunningStage.TRAINING] = time.monotonic()
        super().on_fit_start(trainer, *args, **kwargs)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Nothing: the clock has run since fit start (``Timer`` would restart it here)."""


class ProgressBar(RichProgressBar):
    """Lightning's rich progress bar without its ``Epoch 0/-2``: with ``max_epochs=-1`` (training
    bounded by ``max_steps``, as every execrl config is) there is no last epoch to name."""

    def _get_train_description(self, current_epoch: int) -> str:
        if self.trainer.max_epochs is not None and self.trainer.max_epochs >= 0:
            return super()._get_train_description(current_epoch)
        text = f"Epoch {current_epoch}"
        if len(self.validation_description) > len(text):  # as Lightning pads it: no flicker
            text = f"{text:{len(self.validation_description)}}"
        return text


class InterruptAt(L.Callback):
    """Send this process SIGINT (a Ctrl-C) once training reaches optimizer step ``step``, in the
    stage whose module class is named ``module`` (any stage when None): interruption and resume
    tested as a user meets them, e.g.
    ``+callbacks.interrupt._target_=execrl.utils.callbacks.InterruptAt +callbacks.interrupt.step=3``."""

    def __init__(self, step: int, module: str | None = None) -> None:
        self.step, self.module = int(step), module

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.module not in (None, type(pl_module).__name__):
            return
        if trainer.global_step >= self.step:
            signal.raise_signal(signal.SIGINT)
