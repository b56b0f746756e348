"""PPOCoder's critic: a linear value head on the actor's last hidden states (shared backbone)."""

from __future__ import annotations

import torch
from torch import nn


class ValueHead(nn.Module):
    """``Dropout -> Linear(hidden -> 1)`` per response position.

    Fed ``Actor.response_logprobs(..., return_hidden=True)["hidden"]``: position ``t`` holds the
    state that predicts response token ``t``, so ``value[t]`` is the value of the state before
    emitting token ``t`` for seq2seq and causal actors alike (PPOCoder's convention).
    """

    def __init__(self, hidden_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.summary = nn.Linear(hidden_size, 1)
        # small init: initial values near 0 keep early value-loss gradients from swamping the shared backbone
        nn.init.normal_(self.summary.weight, std=1.0 / (hidden_size + 1))
        nn.init.zeros_(self.summary.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[B, T, H] -> [B, T]`` values (float32)."""
        return self.summary(self.dropout(hidden.to(self.summary.weight.dtype))).squeeze(-1).float()
