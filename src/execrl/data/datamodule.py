"""LightningDataModule over any reader: batches are plain lists of problems or (problem, solution) pairs."""

from __future__ import annotations

from typing import Any

from lightning import LightningDataModule
from torch.utils.data import DataLoader

from execrl.data.source import ProblemSource


def _collate(items: list[Any]) -> list[Any]:
    return list(items)


class ProblemDataModule(ProblemSource, LightningDataModule):
    """A :class:`ProblemSource` (same arguments, splits, ``items`` and limits) serving Lightning dataloaders."""

    def __init__(self, reader: Any, **kwargs: Any) -> None:
        LightningDataModule.__init__(self)
        ProblemSource.__init__(self, reader, **kwargs)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_items(),
            batch_size=self.batch_size,
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
        return DataLoader(probs, batch_size=self.val_batch_size, collate_fn=_collate) if probs else []
