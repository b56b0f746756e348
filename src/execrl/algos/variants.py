"""GRPO-style variants, each one function: an advantage estimator (``algo.advantage_fn``) or a
policy loss (``algo.policy_loss``); README, "Architecture".

A function (registered by name in :data:`execrl.algos.rl_core.ADVANTAGES`) takes the rewards of a
step as ``[groups, group_size]`` with ``valid`` (False where a sample was dropped: its reward is 0
there) and returns one advantage per sample. The GRPO module
keeps everything else: sampling, the clipped loss and its ``loss_type``, KL, masks, and zero advantage
for dropped samples and for groups whose rewards all agree."""

from __future__ import annotations

import torch

from execrl.algos.rl_core import masked_mean, register_advantage, register_policy_loss


@register_advantage("rloo")
def rloo_advantages(rewards: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """RLOO (Ahmadian et al. 2024): each sample's baseline is the mean reward of the *other* valid
    samples of its group, with no std scaling: ``A_i = r_i - mean_{j != i} r_j``."""
    v = valid.to(rewards.dtype)
    n = v.sum(-1, keepdim=True)
    others = ((rewards * v).sum(-1, keepdim=True) - rewards * v) / (n - v).clamp(min=1)
    return (rewards - others) * v


@register_policy_loss("reinforce")
def reinforce_loss(logprobs, old_logprobs, advantages, mask, config):
    """REINFORCE with the estimator's baseline: ``-A * log pi`` per token, no ratio, no clipping.
    On the first minibatch of a step its gradient is the clipped loss's (the ratio is 1 there);
    once the policy has moved (later minibatches, ``ppo_epochs`` > 1) nothing holds it back."""
    a = advantages if advantages.dim() == 2 else advantages.unsqueeze(-1)  # per token or per row
    approx_kl = masked_mean(0.5 * (logprobs - old_logprobs) ** 2, mask)
    return -a * logprobs * mask, {"clipfrac": torch.zeros_like(approx_kl), "approx_kl": approx_kl}
