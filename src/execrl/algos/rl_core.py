"""Pure RL building blocks shared by PPO (PPOCoder) and GRPO: no Lightning, no models.

Tensors are ``[B, T]`` over *response* tokens with a ``mask`` that is 1 on real response
tokens (``Actor.response_mask``: up to and including the first EOS) and 0 on padding. The
formulas follow PPOCoder's ``ppo.py`` (itself the early TRL PPOTrainer) with the upstream
bugs fixed: rewards sit on the last *real* token, KL statistics ignore padding.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch

# ---------------------------------------------------------------------------------- masking


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over positions where ``mask`` is 1 (0 when the mask is empty)."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of the masked entries (Bessel-corrected like TRL when ``unbiased``)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    n = mask.sum()
    if unbiased and n > 1:
        var = var * n / (n - 1)
    return var


def masked_whiten(
    x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """``(x - mean) / sqrt(var + eps)`` over the masked entries; padding stays 0."""
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    if not torch.isfinite(var):
        var = torch.ones_like(var)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask.to(x.dtype)


def whiten_per_sequence(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """PPOCoder's upstream whitening: each sequence on its own (its minibatch size was 1)."""
    return torch.stack([masked_whiten(x[i], mask[i], eps=eps) for i in range(x.shape[0])])


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last real token of each row (0 for an empty row)."""
    return (mask.long().sum(-1) - 1).clamp(min=0)


# ---------------------------------------------------------------------------------- KL


def kl_estimate(
    logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: str = "k1"
) -> torch.Tensor:
    """Per-token KL(pi || ref) estimate from sampled-token log-probs (Schulman's k1 / k2 / k3).

    ``k1 = log pi - log ref``; ``k3 = exp(log ref - log pi) - (log ref - log pi) - 1``;
    ``mse`` (k2) ``= 0.5 (log pi - log ref)^2``. Where an estimate may go is fixed by what its
    gradient does (see :data:`REWARD_KL` and :data:`LOSS_KL`).
    """
    log_ratio = logprobs - ref_logprobs
    if kind == "k1":
        return log_ratio
    if kind == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    if kind == "abs":
        return log_ratio.abs()
    if kind == "mse":
        return 0.5 * log_ratio**2
    raise ValueError(f"KL estimator must be k1|k3|abs|mse, got {kind!r}")


# A detached per-token reward -beta * KL_t gives the policy gradient E[KL_t * grad log pi]: that is
# grad KL(pi || ref) only for k1 (PPOCoder, TRL's PPO). k3 there points about the opposite way
# (tests/algos/test_rl_core.py). Inside the loss, differentiated through log pi, k1 has zero
# expected gradient, while k3 gives grad KL(ref || pi) and mse gives grad KL(pi || ref) (GRPO).
REWARD_KL = ("k1",)
LOSS_KL = ("k3", "mse")


def check_kl_estimator(kind: str, where: str) -> str:
    """``kind`` if it is a KL estimate whose gradient is a KL's where it is used (``reward``|``loss``)."""
    allowed = REWARD_KL if where == "reward" else LOSS_KL
    if kind not in allowed:
        raise ValueError(
            f"kl_estimator={kind!r} does not give a KL gradient as a {where} term; use one of {allowed}"
        )
    return kind


class FixedKLController:
    """Constant KL coefficient ``beta``."""

    def __init__(self, kl_coef: float) -> None:
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        pass


class AdaptiveKLController:
    """Ziegler et al. (2019) proportional controller, as in PPOCoder/TRL.

    ``beta <- beta * (1 + clip(KL / target - 1, -0.2, 0.2) * n_steps / horizon)``
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: float) -> None:
        if target <= 0 or horizon <= 0:
            raise ValueError("adaptive KL needs target > 0 and horizon > 0")
        self.value, self.target, self.horizon = float(init_kl_coef), float(target), float(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        proportional_error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon


def kl_controller(
    kl_coef: float, adaptive: bool = True, target: float | None = 1.0, horizon: float = 10000
):
    """The adaptive controller when ``adaptive`` and a target is set, else a fixed coefficient."""
    if adaptive and target:
        return AdaptiveKLController(kl_coef, target, horizon)
    return FixedKLController(kl_coef)


# ---------------------------------------------------------------------------------- rewards


def place_scores(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B]`` scalar scores -> ``[B, T]`` with each score on its row's last real response token.

    ``Actor.response_mask`` covers the tokens up to and including EOS for both seq2seq and
    causal actors, so this is the EOS token (or the last token of a truncated response, which
    upstream PPOCoder missed: it put it on token 0).
    """
    out = torch.zeros(mask.shape, dtype=scores.dtype, device=scores.device)
    out.scatter_(1, last_token_index(mask).unsqueeze(1), scores.unsqueeze(1))
    return out * mask.to(scores.dtype)


def token_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
    kl_kind: str = "k1",
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPOCoder's per-token reward ``r_t = -beta * KL_t + score * [t = last]``; returns (rewards, KL_t)."""
    kl = kl_estimate(logprobs, ref_logprobs, kl_kind) * mask
    return place_scores(scores, mask) - beta * kl, kl


# ---------------------------------------------------------------------------------- advantages


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over response tokens.

    ``delta_t = r_t + gamma * V_{t+1} - V_t`` with ``V`` = 0 after the last real token,
    ``A_t = delta_t + gamma * lam * A_{t+1}``; returns ``(advantages, returns = A + V)``,
    both 0 on padding.
    """
    m = mask.to(values.dtype)
    r, v = rewards * m, values * m
    T = r.shape[1]
    adv = torch.zeros_like(v)
    last = torch.zeros_like(v[:, 0])
    for t in reversed(range(T)):
        next_v = v[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = r[:, t] + gamma * next_v - v[:, t]
        last = delta + gamma * lam * last
        last = last * m[:, t]  # padding contributes nothing and resets the recursion
        adv[:, t] = last
    return adv, (adv + v) * m


def group_advantages(
    rewards: torch.Tensor, group_size: int, scale: str = "group", eps: float = 1e-4
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GRPO: ``A_i = (r_i - mean_group) / (std + eps)`` over consecutive groups of ``group_size``.

    ``scale`` (TRL's ``scale_rewards``): ``group`` divides by the group's std, ``batch`` by the std
    of all rewards of the batch, ``none`` not at all (Dr. GRPO). Stds are Bessel-corrected and
    ``eps`` is TRL's. ``rewards`` holds NaN for dropped samples (sandbox failures), which are left
    out of every statistic. Returns ``(advantages, valid, informative)``: ``valid`` is False for
    dropped samples, ``informative`` for samples of a group whose valid rewards all agree (zero
    advantage: nothing to learn, but they still count in the loss's normaliser and KL term).
    """
    if scale not in ("group", "batch", "none"):
        raise ValueError(f"scale_rewards must be group|batch|none, got {scale!r}")
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    r = rewards.view(-1, group_size)
    valid = ~torch.isnan(r)
    n = valid.sum(-1, keepdim=True)
    filled = torch.where(valid, r, torch.zeros_like(r))
    mean = filled.sum(-1, keepdim=True) / n.clamp(min=1)
    dev = torch.where(valid, r - mean, torch.zeros_like(r))
    if scale == "group":
        adv = dev / ((dev**2).sum(-1, keepdim=True) / (n - 1).clamp(min=1)).sqrt().add(eps)
    elif scale == "batch":
        adv = dev / (r[valid].std() if int(valid.sum()) > 1 else torch.zeros(())).add(eps)
    else:
        adv = dev
    informative = ((dev.abs() > 1e-8).any(-1, keepdim=True) & (n > 1)).expand_as(r)
    adv = torch.where(valid & informative, adv, torch.zeros_like(adv))
    return adv.reshape(-1), valid.reshape(-1), informative.reshape(-1)


def soft_overlong_penalty(
    lengths: torch.Tensor, max_len: int, buffer: int, factor: float = 1.0
) -> torch.Tensor:
    """DAPO's soft overlong punishment: 0 up to ``max_len - buffer`` tokens, then falling linearly
    to ``-factor`` at ``max_len`` (and ``-factor`` beyond)."""
    if buffer <= 0:
        return torch.zeros(lengths.shape, dtype=torch.float)
    start = max_len - buffer
    over = (lengths.float() - start).clamp(min=0) / buffer
    return -factor * over.clamp(max=1.0)


# ---------------------------------------------------------------------------------- losses


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cliprange: float = 0.2,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO's clipped surrogate ``mean(max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)))``: the
    token mean of :func:`clipped_surrogate`. ``advantages`` is ``[B, T]`` (PPO) or ``[B]`` (GRPO,
    broadcast over tokens). Stats: ``clipfrac`` (share of tokens where the clip was active) and
    ``approx_kl`` (``0.5 * mean((log ratio)^2)``, TRL's policy drift estimate)."""
    per_token, stats = clipped_surrogate(logprobs, old_logprobs, advantages, mask, cliprange)
    return masked_mean(per_token, mask), stats


def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    cliprange_value: float = 0.2,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``0.5 * mean(max((V - R)^2, (clip(V, V_old +- eps) - R)^2))`` and the value clip fraction."""
    clipped = old_values + torch.clamp(values - old_values, -cliprange_value, cliprange_value)
    l1 = (values - returns) ** 2
    l2 = (clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(l1, l2), mask)
    with torch.no_grad():
        stats = {"vf_clipfrac": masked_mean((l2 > l1).float(), mask)}
    return loss, stats


def minibatches(n: int, size: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """A random partition of ``range(n)`` into index tensors of at most ``size``."""
    size = max(1, min(size, n)) if n else 1
    perm = torch.randperm(n, generator=generator)
    return [perm[i : i + size] for i in range(0, n, size)] if n else []


def num_minibatches(n: int, size: int) -> int:
    return math.ceil(n / max(1, size)) if n else 0


# ---------------------------------------------------------------------------------- GRPO loss

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")


def aggregate_loss(
    per_token: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str,
    max_completion_length: int | None = None,
    num_rows: int | None = None,
    num_tokens: float | None = None,
) -> torch.Tensor:
    """TRL GRPOTrainer's reductions of a ``[B, T]`` per-token loss.

    ``grpo``: each sequence's token mean, averaged over sequences; ``bnpo``: mean over the tokens
    of the batch; ``dr_grpo``: sum over ``B * max_completion_length`` (a constant); ``dapo``: sum
    over ``num_tokens`` (TRL: the tokens of the whole optimizer step across ranks / ranks).
    ``num_rows`` / ``num_tokens`` count rows that were left out of ``per_token`` because they add
    exactly 0 (so leaving them out keeps the loss unchanged).
    """
    m = mask.to(per_token.dtype)
    rows = per_token.shape[0] if num_rows is None else num_rows
    tokens = m.sum() if num_tokens is None else torch.as_tensor(num_tokens, dtype=per_token.dtype)
    if loss_type == "grpo":
        return ((per_token * m).sum(-1) / m.sum(-1).clamp(min=1)).sum() / max(rows, 1)
    if loss_type in ("bnpo", "dapo"):
        return (per_token * m).sum() / tokens.clamp(min=1)
    if loss_type == "dr_grpo":
        if not max_completion_length:
            raise ValueError("dr_grpo needs max_completion_length")
        return (per_token * m).sum() / (max(rows, 1) * max_completion_length)
    raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")


def importance_log_ratio(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, mask: torch.Tensor, level: str = "token"
) -> torch.Tensor:
    """``log w``: per token (``[B, T]``), or with ``level=sequence`` (GSPO) the sequence's mean
    log-ratio (``[B, 1]``)."""
    m = mask.to(logprobs.dtype)
    log_ratio = (logprobs - old_logprobs) * m
    if level == "sequence":
        return (log_ratio.sum(-1) / m.sum(-1).clamp(min=1)).unsqueeze(-1)
    if level == "token":
        return log_ratio
    raise ValueError(f"importance_sampling_level must be token|sequence, got {level!r}")


def clipped_surrogate(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    epsilon: float = 0.2,
    epsilon_high: float | None = None,
    delta: float | None = None,
    importance_sampling_level: str = "token",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``-min(w A, clip(w, 1 - eps, 1 + eps_high) A)`` per token (0 on padding), as TRL computes it.

    ``w`` is the token ratio, or with ``importance_sampling_level=sequence`` (GSPO) the exp of the
    sequence's mean log-ratio; ``delta`` caps the unclipped ``w`` from above (two-sided clip).
    ``advantages`` is ``[B]`` or ``[B, T]``. Stats: ``clipfrac`` (tokens in a clipped region) and
    ``approx_kl`` (``0.5 mean(log ratio^2)``).
    """
    eps_high = epsilon if epsilon_high is None else epsilon_high
    m = mask.to(logprobs.dtype)
    log_w = importance_log_ratio(logprobs, old_logprobs, mask, importance_sampling_level)
    a = advantages if advantages.dim() == 2 else advantages.unsqueeze(-1)
    coef_1 = torch.exp(log_w)
    coef_2 = torch.clamp(coef_1, 1 - epsilon, 1 + eps_high)
    if delta is not None:
        coef_1 = torch.clamp(coef_1, max=delta)
    per_token = -torch.min(coef_1 * a, coef_2 * a)
    with torch.no_grad():
        w = torch.exp(log_w).expand_as(logprobs)
        clipped = ((w < 1 - epsilon) & (a < 0)) | ((w > 1 + eps_high) & (a > 0))
        log_ratio = (logprobs - old_logprobs) * m
        stats = {
            "clipfrac": masked_mean(clipped.float(), m),
            "approx_kl": masked_mean(0.5 * log_ratio**2, m),
        }
    return per_token * m, stats


def penalised(
    per_token: torch.Tensor,
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    mask: torch.Tensor,
    ref_logprobs: torch.Tensor | None = None,
    beta: float = 0.0,
    kl_estimator: str = "k3",
    kl_bias_correction: bool = False,
    importance_sampling_level: str = "token",
    is_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A policy loss's ``per_token`` with TRL's additions: ``is_weights`` (truncated importance
    sampling of the rollout engine) scale it, then ``beta * KL_t`` (to the frozen reference, in the
    loss) is added; ``kl_bias_correction`` (TRL 1.16's ``use_bias_correction_kl``) multiplies
    ``KL_t`` by the unclipped ratio ``w``: equal to 1 on-policy, but its gradient makes k3's
    expected gradient the reverse KL's. Stats: ``kl`` (the penalty's mean, when ``beta``)."""
    m = mask.to(logprobs.dtype)
    if is_weights is not None:
        per_token = per_token * is_weights
    stats: dict[str, torch.Tensor] = {}
    if beta:
        kl = kl_estimate(logprobs, ref_logprobs, check_kl_estimator(kl_estimator, "loss"))
        stats["kl"] = masked_mean(kl.detach(), m)
        if kl_bias_correction:
            kl = kl * torch.exp(
                importance_log_ratio(logprobs, old_logprobs, mask, importance_sampling_level)
            )
        per_token = per_token + beta * kl
    return per_token * m, stats


# ---------------------------------------------------------------------------------- the tables
# As verl's core_algos: a policy loss or an advantage estimator is one registered function, chosen
# by name in the algorithm's config (``algo.policy_loss``, ``algo.advantage_fn``); a dotted path
# names a function outside the tables (its module is imported, so its registrations run too).

#: name -> ``f(logprobs, old_logprobs, advantages, mask, config) -> (per_token [B, T], stats)``,
#: ``per_token`` 0 on padding; ``stats`` with ``clipfrac`` and ``approx_kl``
POLICY_LOSSES: dict[str, Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]]] = {}
#: name -> ``f(rewards [groups, group_size], valid[, config]) -> advantages [groups, group_size]``
#: (``rewards`` 0 where ``valid`` is False: a dropped sample)
ADVANTAGES: dict[str, Callable[..., torch.Tensor]] = {}


def register_policy_loss(name: str) -> Callable[[Callable], Callable]:
    """Decorator: the function becomes the policy loss ``algo.policy_loss=<name>``."""

    def add(fn: Callable) -> Callable:
        POLICY_LOSSES[name] = fn
        return fn

    return add


def register_advantage(name: str) -> Callable[[Callable], Callable]:
    """Decorator: the function becomes the advantage estimator ``algo.advantage_fn=<name>``."""

    def add(fn: Callable) -> Callable:
        ADVANTAGES[name] = fn
        return fn

    return add


def _lookup(table: dict[str, Callable], name: str, key: str) -> Callable:
    if name not in table:
        import execrl.algos.variants  # noqa: F401  (the shipped variants register on import)
    if name in table:
        return table[name]
    if "." in name:
        import hydra

        return hydra.utils.get_method(name)
    raise ValueError(f"algo.{key}={name!r}: not one of {sorted(table)} nor a dotted path")


def policy_loss(name: str) -> Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """The policy loss ``name`` (:data:`POLICY_LOSSES`, or a dotted path)."""
    return _lookup(POLICY_LOSSES, name, "policy_loss")


def advantage_estimator(name: str) -> Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor]:
    """The estimator ``name`` (:data:`ADVANTAGES`, or a dotted path) as ``f(rewards, valid, config)``:
    a function of ``(rewards, valid)`` alone is called without the config."""
    fn = _lookup(ADVANTAGES, name, "advantage_fn")
    if len(inspect.signature(fn).parameters) >= 3:
        return fn
    return lambda rewards, valid, config: fn(rewards, valid)


@register_policy_loss("clip")
def clip_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    config: Any,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO's clipped surrogate (PPOCoder, TRL's GRPO): :func:`clipped_surrogate` with the config's
    ``cliprange``, ``epsilon_high``, ``delta`` and ``importance_sampling_level``."""
    return clipped_surrogate(
        logprobs,
        old_logprobs,
        advantages,
        mask,
        config.cliprange,
        config.epsilon_high,
        config.delta,
        config.importance_sampling_level,
    )


@register_advantage("grpo")
def grpo_advantages(rewards: torch.Tensor, valid: torch.Tensor, config: Any) -> torch.Tensor:
    """GRPO's group-relative advantages, scaled as ``config.scale_rewards`` (:func:`group_advantages`)."""
    r = torch.where(valid, rewards, torch.full_like(rewards, float("nan")))
    adv, _, _ = group_advantages(r.reshape(-1), rewards.shape[1], config.scale_rewards)
    return adv.view_as(rewards)
