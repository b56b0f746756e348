"""execrl.utils.callbacks: the budget clock that counts an algorithm's setup."""

from __future__ import annotations

import time

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer

from execrl.utils.callbacks import FitTimer

SETUP_S, STEP_S = 1.2, 0.05


class SlowSetup(L.LightningModule):
    """Setup in on_fit_start (as CodeRL builds its critic) longer than the whole budget."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def on_fit_start(self) -> None:
        time.sleep(SETUP_S)

    def training_step(self, batch, batch_idx):
        time.sleep(STEP_S)
        return (self.w - batch[0]).pow(2).sum()

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.ones(64, 1), batch_size=1)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _steps(timer: Timer) -> int:
    trainer = L.Trainer(
        callbacks=[timer],
        max_steps=10,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(SlowSetup())
    return trainer.global_step


def test_the_budget_counts_setup_only_with_fit_timer() -> None:
    # a 1 s budget: Lightning's Timer starts at train start, so the 1.2 s setup is free and the
    # run takes several steps (the canary: setup really escapes that clock); FitTimer starts at
    # fit start, the budget is spent before the first step ends, and one step is all it gets
    assert _steps(Timer(duration="00:00:00:01", interval="step")) > 1
    assert _steps(FitTimer(duration="00:00:00:01", interval="step")) == 1
