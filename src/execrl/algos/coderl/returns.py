"""CodeRL's returns and actor loss as pure tensor functions (CodeRL's ``datasets/utils.py``,
``apps_dataset.py:sample_rl_task`` and ``trainers/trainer_rl.py``).

- reward of a program: ``R(u)`` for its outcome class ``u`` (-1 compile error, -0.6 runtime
  error, -0.3 failed, +1 passed; ``outcome_rewards.CODERL_REWARDS``);
- sequence return: ``R(u)`` (absolute) or ``R(u) - R(u_b)`` (relative to the greedy baseline
  program's class ``u_b``; a missing baseline, class -1, counts as reward 0);
- token-level return: ``r_t = q_t * return`` with ``q_t`` the critic's probability of the
  program's *true* class at token ``t`` (or ``q_t = 1``: the same return on every token);
- actor loss: ``-mean over valid tokens of the batch of log p(w_t) * r_t``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from execrl.rewards.outcome_rewards import CODERL_REWARDS


def class_rewards(
    classes: torch.Tensor | Sequence[int], rewards: Sequence[float] = CODERL_REWARDS
) -> torch.Tensor:
    """``R(u)`` per row; class ``-1`` (no baseline) gives 0."""
    c = torch.as_tensor(classes, dtype=torch.long)
    table = torch.tensor([*rewards, 0.0], dtype=torch.float32)  # index -1 -> the trailing 0
    return table[c]


def sequence_returns(
    sample_rewards: torch.Tensor,
    baseline_rewards: torch.Tensor | None = None,
    relative: bool = True,
) -> torch.Tensor:
    """``R(sample) - R(baseline)`` when ``relative`` (0 when both share a class), else ``R(sample)``."""
    r = torch.as_tensor(sample_rewards, dtype=torch.float32)
    if not relative:
        return r
    if baseline_rewards is None:
        raise ValueError("relative returns need the baseline programs' rewards")
    return r - torch.as_tensor(baseline_rewards, dtype=torch.float32).to(r.device)


def token_returns(
    seq_returns: torch.Tensor, mask: torch.Tensor, token_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """``[B, T]`` returns: ``q_t * return`` (``token_weights`` = critic's q), or the return on every
    valid token when ``token_weights`` is None; 0 on padding."""
    r = seq_returns.to(mask.device).float().unsqueeze(-1) * mask.float()
    return r if token_weights is None else r * token_weights.float()


def coderl_token_returns(
    sample_classes: torch.Tensor,
    mask: torch.Tensor,
    baseline_classes: torch.Tensor | None = None,
    token_probs: torch.Tensor | None = None,
    relative: bool = True,
    rewards: Sequence[float] = CODERL_REWARDS,
) -> torch.Tensor:
    """Token-level returns from outcome classes (CodeRL's ``rl_rewards``)."""
    base = None if baseline_classes is None else class_rewards(baseline_classes, rewards)
    seq = sequence_returns(class_rewards(sample_classes, rewards), base, relative)
    return token_returns(seq, mask, token_probs)


def rl_loss(logprobs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``-sum(log p * r) / #valid tokens`` over the whole micro-batch (not per sequence)."""
    m = mask.float()
    return -(logprobs * returns.detach() * m).sum() / m.sum().clamp(min=1)


def mix_losses(
    ce: torch.Tensor | None,
    rl: torch.Tensor | None,
    step: int,
    mode: str = "alternate",
    ce_weight: float = 1.0,
    rl_weight: float = 1.0,
) -> torch.Tensor:
    """Combine CE on ground truth and the RL loss.

    ``alternate`` (upstream): even micro-batch steps train CE only, odd steps RL only;
    ``sum``: ``ce_weight * CE + rl_weight * RL`` every step. A missing term counts as 0.
    """
    if mode not in ("alternate", "sum"):
        raise ValueError(f"loss mix must be 'alternate' or 'sum', got {mode!r}")
    terms = []
    if ce is not None and (mode == "sum" or step % 2 == 0):
        terms.append(ce_weight * ce)
    if rl is not None and (mode == "sum" or step % 2 == 1):
        terms.append(rl_weight * rl)
    if not terms:
        raise ValueError(f"no loss term for step {step} in mode {mode!r}")
    return sum(terms[1:], terms[0])


def uses_ce(step: int, mode: str) -> bool:
    return mode == "sum" or step % 2 == 0


def uses_rl(step: int, mode: str) -> bool:
    return mode == "sum" or step % 2 == 1
