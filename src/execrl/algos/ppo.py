"""PPO with a value head on the actor (PPOCoder, Shojaee et al. 2023), for seq2seq and causal actors.

Per iteration: sample (top-k "action space", ``num_samples`` per problem), score with the
reward (PPOCoder: compiler + AST + DFG; program synthesis: unit tests), per-token reward
``-beta * (log pi - log ref)`` (k1, PPOCoder's; the only estimate whose policy gradient is the
KL's) plus the score on the last real response token, GAE, whitened advantages, ``ppo_epochs``
passes of clipped policy + ``vf_coef`` x clipped value loss over minibatches, then the adaptive
KL controller update (statistic and step count reduced over DDP ranks). TRL's options:
``missing_eos_penalty`` (subtracted from the score of responses cut before EOS) and
``whiten_rewards`` (whiten the token rewards before GAE).

``experiment=ppocoder_paper`` is PPOCoder's released setting (spec 2.7); ``algo=ppo``'s defaults
are execrl's measured ones (``conf/algo/ppo.yaml``). Both fix upstream's bugs: truncated
responses still get their score, and the KL statistic ignores padding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from execrl.algos.rl_base import PGBatch, RLModule
from execrl.algos.rl_core import (
    check_kl_estimator,
    clipped_value_loss,
    gae,
    kl_controller,
    masked_mean,
    masked_whiten,
    token_rewards,
    whiten_per_sequence,
)
from execrl.models.actor import Rollout
from execrl.models.value_head import ValueHead
from execrl.rewards.base import RewardBatch

if TYPE_CHECKING:
    from execrl.schema.algos import PPOConfig


class PPOModule(RLModule):
    """PPOCoder's actor-critic PPO: one backbone, a policy head and a linear value head.
    ``PPOModule(actor, PPOConfig(...), optimizer=..., executor=...)``."""

    config: PPOConfig

    def init_algorithm(self) -> None:
        c = self.config
        check_kl_estimator(c.kl_estimator, "reward")
        if c.whiten not in ("batch", "sequence", "none"):
            raise ValueError(f"algo.whiten must be batch|sequence|none, got {c.whiten!r}")
        self.value_head = ValueHead(self.actor.hidden_size, dropout=c.value_dropout)
        self.kl_ctl = kl_controller(c.kl_coef, c.adaptive_kl, c.kl_target, c.kl_horizon)

    def rl_state(self) -> dict[str, Any]:
        return {"kl_coef": self.kl_ctl.value}

    def load_rl_state(self, state: dict[str, Any]) -> None:
        if "kl_coef" in state:
            self.kl_ctl.value = float(state["kl_coef"])

    def _forward(self, ro: Rollout, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.forward_rows(ro, idx, return_hidden=True)
        return out["logprobs"], self.value_head(out["hidden"]) * ro.response_mask[idx]

    def scores(self, ro: Rollout, rb: RewardBatch, rows: torch.Tensor) -> torch.Tensor:
        """The rows' scalar scores; ``missing_eos_penalty`` is subtracted where no EOS was sampled."""
        s = torch.tensor(
            [rb.rewards[i] or 0.0 for i in rows.tolist()], dtype=torch.float, device=rows.device
        )
        if self.config.missing_eos_penalty:
            s = s - self.config.missing_eos_penalty * (~self.has_eos(ro)[rows]).float()
        return s

    def prepare(self, ro: Rollout, rb: RewardBatch) -> PGBatch:
        beta = self.kl_ctl.value
        keep = torch.tensor([r is not None for r in rb.rewards])
        rows, weight = self.update_rows(keep)
        mask = ro.response_mask[rows] * weight.long().unsqueeze(
            1
        )  # dropped rows (DDP only) weigh 0
        if rows.numel() == 0:  # every sample hit a sandbox failure: nothing to learn from
            return PGBatch(
                rows,
                mask,
                torch.zeros(0),
                stats={"kl": 0.0, "beta": beta},
                extra={"weight": weight},
            )
        scores = self.scores(ro, rb, rows)
        with torch.no_grad():
            with self.phase("old_logprobs"):
                old_lp, old_v = self._forward(ro, rows)
            # KL coefficient 0: no reference pass; the KL term of the rewards is exactly 0
            ref_lp = self.ref_logprobs(ro, rows) if self.needs_reference() else old_lp
            rewards, _ = token_rewards(scores, old_lp, ref_lp, mask, beta, self.config.kl_estimator)
            if self.config.whiten_rewards:  # TRL: scale only, the mean stays
                rewards = masked_whiten(rewards, mask, shift_mean=False)
            adv, returns = gae(rewards, old_v, mask, self.config.gamma, self.config.lam)
            if self.config.whiten == "batch":
                adv = masked_whiten(adv, mask)
            elif self.config.whiten == "sequence":
                adv = whiten_per_sequence(adv, mask)
            kl = self.policy_kl(old_lp, ref_lp, mask) if self.ref_actor is not None else None
        stats = {
            "beta": beta,
            "returns/mean": float(masked_mean(returns, mask)),
            "values/mean": float(masked_mean(old_v, mask)),
            "advantages/mean": float(masked_mean(adv, mask)),
        }
        return PGBatch(
            rows,
            mask,
            adv,
            old_lp,
            ref_lp,
            None,
            extra={
                "old_v": old_v,
                "returns": returns,
                "weight": weight,
                **({} if kl is None else {"kl": kl}),
            },
            stats=stats,
        )

    def minibatch_loss(
        self, ro: Rollout, pg: PGBatch, mb: torch.Tensor, fwd: torch.Tensor
    ) -> tuple[torch.Tensor, dict]:
        lp, v = self._forward(ro, pg.rows[mb])
        m, o_lp, o_v, a, ret, lp, v = self.trim(
            ro.response_mask[pg.rows[mb]],
            pg.mask[mb],
            pg.old_lp[mb],
            pg.extra["old_v"][mb],
            pg.adv[mb],
            pg.extra["returns"][mb],
            lp,
            v,
        )
        per_token, pst = self.policy_loss_fn(lp, o_lp, a, m, self.config)
        pl = masked_mean(per_token, m)
        vf, vst = clipped_value_loss(v, o_v, ret, m, self.config.cliprange_value)
        return pl + self.config.vf_coef * vf, {
            "loss/policy": pl,
            "loss/value": vf,
            "clipfrac": pst["clipfrac"],
            "approx_kl": pst["approx_kl"],
            "vf_clipfrac": vst["vf_clipfrac"],
        }

    def finish(self, pg: PGBatch | None, stats: list[dict]) -> dict[str, float]:
        """Adaptive KL: every rank must move beta the same way, so the KL statistic is averaged
        and the step count (samples) summed over ranks. No reference (KL coefficient 0): no
        KL to measure, and beta stays 0."""
        if pg is None or "kl" not in pg.extra:
            return {} if self.ref_actor is None else {"kl": 0.0}
        kl = self.all_reduce(pg.extra["kl"], "mean")
        n_steps = self.all_reduce(pg.extra["weight"].sum(), "sum")
        self.kl_ctl.update(float(kl), n_steps=int(n_steps.item()))
        return {"kl": float(kl)}
