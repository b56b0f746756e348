"""LightningDataModule over any reader: batches are plain lists of problems or (problem, solution) pairs,
or of what the module trains on when it brings its own data (critic labels, repair pairs)."""

from __future__ import annotations

from typing import Any

from lightning import LightningDataModule
from torch.utils.data import DataLoader

from execrl.data.source import ProblemSource
from execrl.schema.data import DataConfig


def _collate(items: list[Any]) -> list[Any]:
    return list(items)


class ProblemDataModule(ProblemSource, LightningDataModule):
    """A :class:`ProblemSource` (same arguments, splits, ``items`` and limits) serving Lightning dataloaders."""

    def __init__(self, config: DataConfig | None = None, /, **overrides: Any) -> None:
        LightningDataModule.__init__(self)
        ProblemSource.__init__(self, config, **overrides)

    def setup(self, stage: str) -> None:
        """Hands the module being fitted the problems it builds its own data from
        (``fit_problem_needs``: CE-anchor pairs, CodeRL's offline pool, critic labels), before
        the module's own ``setup``; the module never reads the datamodule."""
        module = self.trainer.lightning_module if self.trainer is not None else None
        if stage == "fit" and hasattr(module, "fit_problem_needs"):
            needs = module.fit_problem_needs()
            module.receive_problems({name: self.serve(*need) for name, need in needs.items()})

    def train_dataloader(self) -> DataLoader:
        """What the module trains on: its own dataset where it builds one at fit start
        (``train_dataset()``), else problems or (problem, solution) pairs as it asks
        (``train_items``), in shuffled passes."""
        module = self.trainer.lightning_module if self.trainer is not None else None
        own = module.train_dataset() if hasattr(module, "train_dataset") else None
        if own is not None:
            items, batch_size = own, module.train_batch_size or self.batch_size
        else:
            self.items = getattr(module, "train_items", self.items)
            items, batch_size = self.train_items(), self.batch_size
        return DataLoader(
            items,
            batch_size=batch_size,
            shuffle=True,
            collate_fn=_collate,
            num_workers=self.num_workers,
            drop_last=False,
        )

    def val_dataloader(self) -> DataLoader | list:
        probs = self.val_problems
        if not probs:
            return []
        return DataLoader(probs, batch_size=self.val_batch_size, shuffle=False, collate_fn=_collate)

    def test_dataloader(self) -> DataLoader | list:
        probs = self.problems(self.test_split)
        return (
            DataLoader(probs, batch_size=self.val_batch_size, collate_fn=_collate) if probs else []
        )
