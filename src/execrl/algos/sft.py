"""Supervised warm-start (CodeRL's stage S0): cross-entropy on ground-truth programs."""

from __future__ import annotations

from typing import Any

from execrl.algos.base import ActorModule
from execrl.vocabulary import Problem


class SFTModule(ActorModule):
    """Finetune the actor with token-mean CE on (training prompt, solution) pairs."""

    train_items = "solutions"

    def training_step(self, batch: list[tuple[Problem, str]], batch_idx: int) -> Any:
        prompts = [p.training_prompt for p, _ in batch]
        targets = [s for _, s in batch]
        loss = self.actor.sft_loss(prompts, targets)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss
