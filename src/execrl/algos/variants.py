"""GRPO-style variants, each one advantage function (``algo.advantage_fn``; README, "Architecture").

A function (registered by name in :data:`execrl.algos.rl_core.ADVANTAGES`) takes the rewards of a
step as ``[groups, group_size]`` with ``valid`` (False where a sample was dropped: its reward is 0
there) and returns one advantage per sample. The GRPO module
keeps everything else: sampling, the clipped loss and its ``loss_type``, KL, masks, and zero advantage
for dropped samples and for groups whose rewards all agree."""

from __future__ import annotations

import torch

from execrl.algos.rl_core import register_advantage


@register_advantage("rloo")
def rloo_advantages(rewards: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """RLOO (Ahmadian et al. 2024): each sample's baseline is the mean reward of the *other* valid
    samples of its group, with no std scaling: ``A_i = r_i - mean_{j != i} r_j``."""
    v = valid.to(rewards.dtype)
    n = v.sum(-1, keepdim=True)
    others = ((rewards * v).sum(-1, keepdim=True) - rewards * v) / (n - v).clamp(min=1)
    return (rewards - others) * v
