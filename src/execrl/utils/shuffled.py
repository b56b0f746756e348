"""Batches from endless reshuffled passes over a pool (each item once per pass)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class ShuffledPasses:
    """Draws ``take(items, n)`` batches: every item once per pass, each pass in a new order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng  # shared with the caller's other draws, so a seed fixes the whole sequence
        self.order: list[int] = []

    def take(self, items: Sequence[T], n: int) -> list[T]:
        out: list[T] = []
        while len(out) < min(n, len(items)):
            if not self.order:
                self.order = list(range(len(items)))
                self.rng.shuffle(self.order)
            out.append(items[self.order.pop()])
        return out

    def restart(self) -> None:
        """Start a new pass (the pool changed)."""
        self.order = []
