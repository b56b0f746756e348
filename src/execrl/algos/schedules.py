"""Learning-rate schedules the papers used, as LambdaLR factories (``scheduler._partial_``)."""

from __future__ import annotations

import math

import torch


def ppocoder_plateau(
    optimizer: torch.optim.Optimizer,
    factor: float = 2 ** (-1 / 3),
    patience: int = 100,
    eps: float = 1e-8,
) -> torch.optim.lr_scheduler.LambdaLR:
    """PPOCoder's ``ReduceLROnPlateau(factor=2^(-1/3), patience=100)`` stepped after every update
    with a constant metric 0: the first step sets the best value, every later one is "bad", so the
    LR shrinks by ``factor`` at step 102 and every 101 steps after, until a cut would be no larger
    than ``eps`` (torch skips those). The same LRs as that scheduler, step for step (tested)."""
    base = optimizer.param_groups[0]["lr"]
    # the last cut torch makes: lr * factor^n * (1 - factor) must stay above eps
    n_max = (
        max(0, math.floor(math.log(eps / (base * (1 - factor))) / math.log(factor)) + 1)
        if base * (1 - factor) > eps
        else 0
    )

    def scale(k: int) -> float:
        return factor ** min(max(0, k - 1) // (patience + 1), n_max)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, scale)
