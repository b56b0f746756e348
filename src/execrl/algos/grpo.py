"""GRPO (Shao et al. 2024): critic-free PPO with group-relative advantages and a KL to the reference.

Per iteration: ``num_samples`` programs per problem, ``A = (r - group mean) / group std``
(``scale_std=false``: Dr. GRPO's plain difference), zero-advantage groups and sandbox failures
dropped, clipped surrogate + ``kl_coef`` x k3 KL to the frozen reference, token-mean loss, and
optionally ``ce_coef`` x CE on SFT solutions (the anchor learning_calibration.md found necessary).
"""

from __future__ import annotations

from typing import Any

import torch

from execrl.algos.rl_base import RLModule, mean_stats
from execrl.algos.rl_core import clipped_policy_loss, group_advantages, kl_estimate, masked_mean, minibatches
from execrl.data.problem import Problem
from execrl.models.actor import Actor, Rollout
from execrl.rewards.base import RewardBatch


class GRPOModule(RLModule):
    """Group-relative policy optimisation over the same rewards as PPO, with no value head."""

    reuse_on_policy_logprobs = True  # tests switch it off to check the shortcut changes nothing

    def __init__(
        self,
        actor: Actor,
        optimizer: Any = None,
        scheduler: Any = None,
        executor: Any = None,
        reward: Any = None,
        *,
        scale_std: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("kl_estimator", "k3")
        super().__init__(actor, optimizer, scheduler, executor, reward, **kwargs)
        self.scale_std = scale_std

    def update(self, batch: list[Problem], ro: Rollout, rb: RewardBatch) -> dict[str, float]:
        rewards = torch.tensor([float("nan") if r is None else r for r in rb.rewards], dtype=torch.float)
        adv, keep = group_advantages(rewards, self.num_samples, scale_std=self.scale_std)
        rows, weight = self.update_rows(keep)
        out = {"grpo/kept_frac": float(keep.float().mean()), "beta": self.kl_coef}
        if rows.numel() == 0:
            # no group had different rewards: only the anchor (if any) has something to teach
            anchor = self.anchor_loss(batch)
            self.optimizer_update(None if anchor is None else self.ce_coef * anchor)
            if anchor is not None:
                out["grpo/loss/ce"] = float(anchor)
            return out
        dev = rows.device
        adv = adv.to(dev)[rows]
        fmask = ro.response_mask[rows]
        mask = fmask * weight.long().unsqueeze(1)  # dropped rows (DDP only) weigh 0
        # one epoch over one minibatch is fully on-policy: the sampling policy's log-probs are the
        # current ones, so the extra no-grad forward pass is skipped (as TRL does for num_iterations=1)
        on_policy = self.reuse_on_policy_logprobs and self.ppo_epochs == 1 and rows.numel() <= self.minibatch_size
        with torch.no_grad():
            old_lp = None if on_policy else self.policy_logprobs(ro, rows)
            ref_lp = self.ref_logprobs(ro, rows)
        stats = []
        for _ in range(self.ppo_epochs):
            for mb in minibatches(rows.numel(), self.minibatch_size):
                mb = mb.to(dev)
                sub = rows[mb]  # rows of the rollout in this minibatch
                lp = self.policy_logprobs(ro, sub)
                if old_lp is None:  # on-policy: mb is a permutation of all rows
                    old_lp = torch.empty_like(lp).index_copy_(0, mb, lp.detach())
                m, o_lp, r_lp, lp = self.trim(fmask[mb], mask[mb], old_lp[mb], ref_lp[mb], lp)
                pg, pst = clipped_policy_loss(lp, o_lp, adv[mb], m, self.cliprange)
                kl = masked_mean(kl_estimate(lp, r_lp, self.kl_estimator), m)
                loss = pg + self.kl_coef * kl
                anchor = self.anchor_loss(batch)
                if anchor is not None:
                    loss = loss + self.ce_coef * anchor
                self.optimizer_update(loss)
                stat = {"grpo/loss/policy": pg, "grpo/loss/kl": kl, "grpo/loss/total": loss,
                        "clipfrac": pst["clipfrac"], "grpo/approx_kl": pst["approx_kl"]}
                if anchor is not None:
                    stat["grpo/loss/ce"] = anchor
                stats.append({k: v.detach() for k, v in stat.items()})
        out.update(mean_stats(stats))
        out["kl"] = float(self.policy_kl(old_lp, ref_lp, mask))  # of the sampling policy, before the update
        out["grpo/advantages/abs_mean"] = float(masked_mean(adv.abs(), weight))
        return out
