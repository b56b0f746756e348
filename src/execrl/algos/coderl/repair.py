"""CodeRL's program repair model: SFT on (failed program + its error -> the problem's reference solution).

Pairs come from a ``critic_labels.jsonl`` (``labels_path``: evaluate.py's export or an
``algo=critic`` run's): every program that did not pass, with its error class, subtype and message,
becomes a repair prompt in the format Critic Sampling asks it
(:func:`~execrl.algos.coderl.critic_sampling.format_repair_prompt`), whose target is a reference
solution of its problem. Load the result with
``python generate.py sampling=critic sampling.repair_ckpt=<run>/checkpoints/last.ckpt``.

As the critic's labels, the pairs are the module's dataset (``train_dataset``): the datamodule
serves them in shuffled passes of ``batch_size``.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

import torch

from execrl.algos.coderl.critic_sampling import format_repair_prompt
from execrl.algos.coderl.labels import CriticLabel, label_problem_needs, read_labels
from execrl.algos.sft import SFTModule
from execrl.schema.algos import RepairConfig
from execrl.schema.sampling import REPAIR_TEMPLATE
from execrl.vocabulary import Problem

log = logging.getLogger("execrl")

PASSED = 3  # CodeRL's class of a passing program: nothing to repair


def repair_pairs(
    labels: list[CriticLabel],
    problems: dict[str, Problem],
    solutions_per_program: int = 1,
    template: str = REPAIR_TEMPLATE,
) -> list[tuple[str, str]]:
    """(repair prompt, reference solution) for every failed label whose problem has solutions."""
    pairs = []
    for lab in labels:
        p = problems.get(lab.task_id)
        if lab.cls == PASSED or lab.cls < 0 or p is None or not p.solutions:
            continue
        prompt = format_repair_prompt(p, lab.program, lab.cls, lab.error_type, lab.error, template)
        pairs += [(prompt, s) for s in p.solutions[:solutions_per_program]]
    return pairs


class RepairModule(SFTModule):
    """Finetune the actor as a repair model on pairs built from ``labels_path``."""

    needs_warm_start = True  # starts from the SFT actor, as CodeRL's repair model from its warm-up

    def __init__(
        self,
        actor: Any,
        config: RepairConfig,
        *,
        optimizer: Any = None,
        scheduler: Any = None,
        executor: Any = None,
    ) -> None:
        super().__init__(actor, config, optimizer=optimizer, scheduler=scheduler, executor=executor)
        self.pairs: list[tuple[str, str]] = []

    @property
    def train_batch_size(self) -> int:
        return self.config.batch_size

    @cached_property
    def labels_file(self) -> list[CriticLabel]:
        return read_labels(self.config.labels_path)

    def fit_problem_needs(self) -> dict[str, tuple[str, int | None]]:
        return {} if self.pairs else label_problem_needs(self.labels_file)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.pairs or stage != "fit":
            return
        labels = self.labels_file
        problems = {p.task_id: p for p in self.served_problems()}
        if not problems:
            raise ValueError("algo=repair needs the datamodule the labels' task ids come from")
        self.set_pairs(
            repair_pairs(labels, problems, self.config.solutions_per_program, self.config.template)
        )
        log.info(
            "repair pairs: %d from %d labels (%s)",
            len(self.pairs),
            len(labels),
            self.config.labels_path,
        )

    def set_pairs(self, pairs: list[tuple[str, str]]) -> None:
        if not pairs:
            raise ValueError(
                f"no repair pairs in {self.config.labels_path}: no failed program of a problem with a reference solution"
            )
        self.pairs = pairs

    def train_dataset(self) -> list[tuple[str, str]]:
        return self.pairs

    def training_step(self, pairs: list[tuple[str, str]], batch_idx: int) -> torch.Tensor:
        loss = self.actor.sft_loss([p for p, _ in pairs], [s for _, s in pairs])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(pairs))
        return loss
