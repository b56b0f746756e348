"""PPO with a value head on the actor (PPOCoder, Shojaee et al. 2023), for seq2seq and causal actors.

Per iteration: sample (top-k "action space", ``num_samples`` per problem), score with the
reward (PPOCoder: compiler + AST + DFG; program synthesis: unit tests), per-token reward
``-beta * KL_t`` plus the score on the last real response token, GAE, whitened advantages,
``ppo_epochs`` passes of clipped policy + ``vf_coef`` x clipped value loss over minibatches,
then the adaptive KL controller update.

Upstream behaviour is reachable by config (spec 2.7/2.11): ``minibatch_size=1 ppo_epochs=1
whiten=sequence vf_coef=1e-3``. The defaults fix its bugs: truncated responses still get their
score, and the KL statistic ignores padding.
"""

from __future__ import annotations

from typing import Any

import torch

from execrl.algos.rl_base import RLModule, mean_stats
from execrl.algos.rl_core import (
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    kl_controller,
    masked_mean,
    masked_whiten,
    minibatches,
    token_rewards,
    whiten_per_sequence,
)
from execrl.data.problem import Problem
from execrl.models.actor import Actor, Rollout
from execrl.models.value_head import ValueHead
from execrl.rewards.base import RewardBatch


class PPOModule(RLModule):
    """PPOCoder's actor-critic PPO: one backbone, a policy head and a linear value head."""

    def __init__(
        self,
        actor: Actor,
        optimizer: Any = None,
        scheduler: Any = None,
        executor: Any = None,
        reward: Any = None,
        *,
        adaptive_kl: bool = True,
        kl_target: float = 1.0,
        kl_horizon: float = 10000,
        gamma: float = 1.0,
        lam: float = 0.95,
        cliprange_value: float = 0.2,
        vf_coef: float = 0.1,
        whiten: str = "batch",
        value_dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(actor, optimizer, scheduler, executor, reward, **kwargs)
        if whiten not in ("batch", "sequence", "none"):
            raise ValueError(f"whiten must be batch|sequence|none, got {whiten!r}")
        self.value_head = ValueHead(actor.hidden_size, dropout=value_dropout)
        self.kl_ctl = kl_controller(self.kl_coef, adaptive_kl, kl_target, kl_horizon)
        self.gamma, self.lam = float(gamma), float(lam)
        self.cliprange_value, self.vf_coef, self.whiten = float(cliprange_value), float(vf_coef), whiten

    def rl_state(self) -> dict[str, Any]:
        return {"kl_coef": self.kl_ctl.value}

    def load_rl_state(self, state: dict[str, Any]) -> None:
        if "kl_coef" in state:
            self.kl_ctl.value = float(state["kl_coef"])

    def _forward(self, ro: Rollout, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.actor.response_logprobs(
            ro.prompt_ids[idx], ro.prompt_mask[idx], ro.response_ids[idx], ro.response_mask[idx], return_hidden=True
        )
        return out["logprobs"], self.value_head(out["hidden"]) * ro.response_mask[idx]

    def update(self, batch: list[Problem], ro: Rollout, rb: RewardBatch) -> dict[str, float]:
        beta = self.kl_ctl.value
        keep = torch.tensor([r is not None for r in rb.rewards])
        rows, weight = self.update_rows(keep)
        if rows.numel() == 0:  # every sample hit a sandbox failure: nothing to learn from
            self.optimizer_update(None)
            return {"kl": 0.0, "beta": beta}
        dev = rows.device
        mask = ro.response_mask[rows] * weight.long().unsqueeze(1)  # dropped rows (DDP only) weigh 0
        scores = torch.tensor([rb.rewards[i] or 0.0 for i in rows.tolist()], dtype=torch.float, device=dev)
        with torch.no_grad():
            old_lp, old_v = self._forward(ro, rows)
            ref_lp = self.ref_logprobs(ro, rows)
            rewards, _ = token_rewards(scores, old_lp, ref_lp, mask, beta, self.kl_estimator)
            adv, returns = gae(rewards, old_v, mask, self.gamma, self.lam)
            if self.whiten == "batch":
                adv = masked_whiten(adv, mask)
            elif self.whiten == "sequence":
                adv = whiten_per_sequence(adv, mask)
            kl = self.policy_kl(old_lp, ref_lp, mask)
        stats = []
        for _ in range(self.ppo_epochs):
            for mb in minibatches(rows.numel(), self.minibatch_size):
                mb = mb.to(dev)
                lp, v = self._forward(ro, rows[mb])
                m, o_lp, o_v, a, ret, lp, v = self.trim(
                    ro.response_mask[rows[mb]], mask[mb], old_lp[mb], old_v[mb], adv[mb], returns[mb], lp, v
                )
                pg, pst = clipped_policy_loss(lp, o_lp, a, m, self.cliprange)
                vf, vst = clipped_value_loss(v, o_v, ret, m, self.cliprange_value)
                loss = pg + self.vf_coef * vf
                anchor = self.anchor_loss(batch)
                if anchor is not None:
                    loss = loss + self.ce_coef * anchor
                self.optimizer_update(loss)
                stat = {"ppo/loss/policy": pg, "ppo/loss/value": vf, "ppo/loss/total": loss, "ppo/clipfrac": pst["clipfrac"],
                        "ppo/approx_kl": pst["approx_kl"], "ppo/vf_clipfrac": vst["vf_clipfrac"]}
                if anchor is not None:
                    stat["ppo/loss/ce"] = anchor
                stats.append({k: v.detach() for k, v in stat.items()})
        # every rank must move beta the same way: average the KL statistic across processes
        trainer = getattr(self, "_trainer", None)
        if trainer is not None and trainer.world_size > 1:
            kl = trainer.strategy.reduce(kl, reduce_op="mean")
        self.kl_ctl.update(float(kl), n_steps=int(weight.sum().item()))
        out = mean_stats(stats)
        out.update({
            "kl": float(kl),
            "beta": beta,
            "clipfrac": out.get("ppo/clipfrac", 0.0),
            "ppo/returns/mean": float(masked_mean(returns, mask)),
            "ppo/values/mean": float(masked_mean(old_v, mask)),
            "ppo/advantages/mean": float(masked_mean(adv, mask)),
        })
        return out
