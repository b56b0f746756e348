"""GRPO (Shao et al. 2024) and its modern variants, with the loss of TRL's ``GRPOTrainer``.

Per iteration: ``num_samples`` programs per problem, group-relative advantages
(``scale_rewards``: group std, batch std, or none as in Dr. GRPO), then the clipped surrogate
``-min(w A, clip(w, 1 - eps, 1 + eps_high) A) + beta * KL_t`` (k3 to the frozen reference, in the
loss) reduced by ``loss_type``: ``grpo`` (per-sequence mean), ``bnpo`` (token mean), ``dr_grpo``
(constant normaliser), ``dapo`` (sum over the tokens of the generation batch). Options: ``epsilon_high``
(DAPO's clip-higher), ``delta`` (two-sided clip), ``importance_sampling_level=sequence`` (GSPO),
``mask_truncated_completions``, DAPO's soft overlong penalty (``overlong_buffer``) and dynamic
sampling (refill the batch with groups whose rewards differ). ``loss_normalizer_scope``: dapo's token
count is the generation batch's (TRL's ``num_items_in_batch``) or the minibatch's. A variant with its
own advantages is one registered function (``advantage_fn``, :data:`execrl.algos.rl_core.ADVANTAGES`,
:mod:`execrl.algos.variants`) plus a config file (``algo=rloo``); a new loss one registered function
(``policy_loss``, :data:`execrl.algos.rl_core.POLICY_LOSSES`). Every sampled row stays in the loss;
rows with zero advantage and ``beta == 0`` add exactly 0, so their forward pass is skipped while
they still count in the normaliser. ``ce_coef`` adds execrl's CE anchor on SFT solutions.
Defaults are TRL's (:class:`execrl.schema.algos.GRPOConfig`).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import torch

from execrl.algos.rl_base import PGBatch, RLModule
from execrl.algos.rl_core import (
    LOSS_TYPES,
    advantage_estimator,
    aggregate_loss,
    check_kl_estimator,
    group_advantages,
    masked_mean,
    penalised,
    soft_overlong_penalty,
)
from execrl.models.actor import Rollout
from execrl.rewards.base import RewardBatch
from execrl.vocabulary import Problem

if TYPE_CHECKING:
    from execrl.schema.algos import GRPOConfig


class GRPOModule(RLModule):
    """Group-relative policy optimisation over the same rewards as PPO, with no value head.
    ``GRPOModule(actor, GRPOConfig(...), optimizer=..., executor=...)``."""

    reuse_on_policy_logprobs = True  # tests switch it off to check the shortcut changes nothing
    supports_tis = True
    skip_zero_rows = True  # tests switch it off to check that skipping leaves the update unchanged

    config: GRPOConfig

    def init_algorithm(self) -> None:
        c = self.config
        if c.loss_type not in LOSS_TYPES:
            raise ValueError(f"algo.loss_type must be one of {LOSS_TYPES}, got {c.loss_type!r}")
        if c.loss_normalizer_scope not in ("generation_batch", "minibatch"):
            raise ValueError(
                "algo.loss_normalizer_scope must be generation_batch|minibatch, "
                f"got {c.loss_normalizer_scope!r}"
            )
        if c.kl_coef:
            check_kl_estimator(c.kl_estimator, "loss")
        group_advantages(torch.zeros(1), 1, c.scale_rewards)  # validates scale_rewards early
        self.advantage_fn = advantage_estimator(c.advantage_fn)  # rl_core.ADVANTAGES
        self._refill_rng = random.Random(0)

    @property
    def max_completion_length(self) -> int:
        return int(self.sampling["max_new_tokens"] or self.actor.max_new_tokens)

    # ----------------------------------------------------------------- rewards and rollouts
    def shaped_rewards(self, ro: Rollout, rb: RewardBatch) -> torch.Tensor:
        """``[B]`` rewards (NaN: dropped sample) plus DAPO's soft overlong penalty."""
        r = torch.tensor([float("nan") if x is None else x for x in rb.rewards], dtype=torch.float)
        if self.config.overlong_buffer:
            r = r + soft_overlong_penalty(
                ro.lengths.cpu(),
                self.max_completion_length,
                self.config.overlong_buffer,
                self.config.overlong_penalty,
            )
        return r

    def signal_groups(self, ro: Rollout, rb: RewardBatch) -> torch.Tensor:
        """``[groups]`` True where the group's rewards differ."""
        _, valid, informative = group_advantages(
            self.shaped_rewards(ro, rb), self.config.num_samples, "none"
        )
        return (valid & informative).view(-1, self.config.num_samples).any(-1)

    def rollout(
        self, batch: list[Problem], timings: dict[str, float]
    ) -> tuple[Rollout, list[Problem], RewardBatch]:
        """With ``dynamic_sampling`` (DAPO), groups without signal are replaced by groups of
        freshly drawn problems until the batch is full of groups with signal (or
        ``dynamic_sampling_max_rounds`` extra rounds were sampled)."""
        parts = [super().rollout(batch, timings)]
        if not self.config.dynamic_sampling:
            return parts[0]
        keep = [
            (0, g)
            for g in self.signal_groups(parts[0][0], parts[0][2]).nonzero().flatten().tolist()
        ]
        rounds = 0
        while len(keep) < len(batch) and rounds < self.config.dynamic_sampling_max_rounds:
            rounds += 1
            parts.append(
                super().rollout(self.refill_problems(batch, len(batch) - len(keep)), timings)
            )
            keep += [
                (len(parts) - 1, g)
                for g in self.signal_groups(parts[-1][0], parts[-1][2]).nonzero().flatten().tolist()
            ]
        self._dynamic_stats = {
            "train/dynamic_rounds": float(rounds),
            "train/signal_groups": float(len(keep)),
        }
        if not keep:
            return parts[0]
        return self.concat_groups(parts, keep[: len(batch)])

    def fit_problem_needs(self) -> dict[str, tuple[str, int | None]]:
        needs = super().fit_problem_needs()
        return {**needs, "refill": ("rl_split", None)} if self.config.dynamic_sampling else needs

    def refill_problems(self, batch: list[Problem], k: int) -> list[Problem]:
        """``k`` problems for dynamic sampling: drawn from the RL split, else from the batch."""
        pool = self.served("refill") or batch
        return [pool[self._refill_rng.randrange(len(pool))] for _ in range(k)]

    def concat_groups(
        self, parts: list[tuple[Rollout, list[Problem], RewardBatch]], keep: list[tuple[int, int]]
    ):
        """The rollout made of groups ``keep`` = [(part, group index)], padded to common widths."""
        n = self.config.num_samples
        rows = [(i, g * n + j) for i, g in keep for j in range(n)]
        left = not self.actor.is_seq2seq  # causal prompts are left-padded

        def stack(get, pad_value, pad_left):
            width = max(get(parts[i][0]).shape[1] for i, _ in rows)
            out = []
            for i, r in rows:
                x = get(parts[i][0])[r]
                pad = x.new_full((width - x.shape[0],), pad_value)
                out.append(torch.cat([pad, x]) if pad_left else torch.cat([x, pad]))
            return torch.stack(out)

        pad = self.actor.pad_id
        ro = Rollout(
            stack(lambda o: o.prompt_ids, pad, left),
            stack(lambda o: o.prompt_mask, 0, left),
            stack(lambda o: o.response_ids, pad, False),
            stack(lambda o: o.response_mask, 0, False),
            [parts[i][0].texts[r] for i, r in rows],
            sample_logprobs=(
                stack(lambda o: o.sample_logprobs, float("nan"), False)
                if all(p[0].sample_logprobs is not None for p in parts)
                else None
            ),
        )
        problems = [parts[i][1][r] for i, r in rows]
        names = parts[0][2].components.keys()
        rb = RewardBatch(
            rewards=[parts[i][2].rewards[r] for i, r in rows],
            components={k: [parts[i][2].components[k][r] for i, r in rows] for k in names},
            results=[parts[i][2].results[r] if parts[i][2].results else None for i, r in rows],
        )
        return ro, problems, rb

    # ----------------------------------------------------------------- the algorithm
    def prepare(self, ro: Rollout, rb: RewardBatch) -> PGBatch:
        dev = self.actor.device
        rewards = self.shaped_rewards(ro, rb)
        n = self.config.num_samples
        # which samples count (valid) and which groups carry signal (informative)
        _, valid, informative = group_advantages(rewards, n, "none")
        groups = valid.view(-1, n)
        adv = self.advantage_fn(
            torch.where(groups, rewards.view_as(groups), 0.0), groups, self.config
        ).reshape(-1)
        adv = torch.where(valid & informative, adv, torch.zeros_like(adv))
        mask = ro.response_mask * valid.to(dev).unsqueeze(1).long()
        if self.config.mask_truncated_completions:
            mask = mask * self.has_eos(ro).long().unsqueeze(1)
        stats = {
            "train/signal_frac": float((valid & informative).float().mean()),
            "beta": self.config.kl_coef,
            **getattr(self, "_dynamic_stats", {}),
        }
        # one process: dropped samples are no rows at all; DDP: every rank runs the same number of
        # minibatches over all rows (dropped ones masked), and every row's forward pass
        ddp = self.world_size() > 1
        kept = valid & informative if self.config.drop_zero_advantage_rows else valid
        rows = torch.arange(valid.numel(), device=dev) if ddp else kept.nonzero().flatten().to(dev)
        if ddp and self.config.drop_zero_advantage_rows:
            mask = mask * (valid & informative).to(dev).unsqueeze(1).long()
        adv, valid, informative, mask = (
            adv.to(dev)[rows],
            valid.to(dev)[rows],
            informative.to(dev)[rows],
            mask[rows],
        )
        forward = None
        if self.skip_zero_rows and not ddp and not self.config.kl_coef:
            forward = informative & (mask.sum(-1) > 0)  # the others add exactly 0 to the loss
        on_policy = (
            self.reuse_on_policy_logprobs
            and self.config.ppo_epochs == 1
            and rows.numel() <= self.config.minibatch_size
        )
        old_lp = ref_lp = None
        with torch.no_grad():
            # one epoch over one minibatch is fully on-policy: the sampling policy's log-probs are
            # the current ones, so the extra forward pass is skipped (as TRL does for num_iterations=1)
            if not on_policy and rows.numel():
                with self.phase("old_logprobs"):
                    old_lp = self.policy_logprobs(ro, rows)
            if self.needs_reference() and rows.numel():
                ref_lp = self.ref_logprobs(ro, rows)
        if ref_lp is not None and old_lp is not None:  # on-policy: measured in the one minibatch
            stats["kl"] = float(self.policy_kl(old_lp, ref_lp, mask))
        if rows.numel():
            stats["advantages/abs_mean"] = (
                float(adv[valid].abs().mean()) if bool(valid.any()) else 0.0
            )
        return PGBatch(
            rows, mask, adv, old_lp, ref_lp, forward, extra={"valid": valid}, stats=stats
        )

    def minibatch_loss(
        self, ro: Rollout, pg: PGBatch, mb: torch.Tensor, fwd: torch.Tensor
    ) -> tuple[torch.Tensor, dict]:
        lp = self.policy_logprobs(ro, pg.rows[fwd])
        old = lp.detach() if pg.old_lp is None else pg.old_lp[fwd]
        ref = None if pg.ref_lp is None else pg.ref_lp[fwd]
        m = pg.mask[fwd]
        tis, engine_stats = self.engine_correction(ro, pg.rows[fwd], old, m)
        c = self.config
        per_token, st = self.policy_loss_fn(lp, old, pg.adv[fwd], m, c)
        per_token, kl_st = penalised(
            per_token,
            lp,
            old,
            m,
            ref,
            c.kl_coef,
            c.kl_estimator,
            c.kl_bias_correction,
            c.importance_sampling_level,
            is_weights=tis,
        )
        st.update(kl_st)
        num_tokens = None
        if c.loss_type == "dapo":
            # TRL: the tokens of the generation batch (num_items_in_batch) over all ranks, per
            # rank; loss_normalizer_scope=minibatch: this optimizer step's tokens only
            scope = pg.mask if c.loss_normalizer_scope == "generation_batch" else pg.mask[mb]
            num_tokens = self.all_reduce(scope.sum().float(), "sum") / self.world_size()
        loss = aggregate_loss(
            per_token,
            m,
            self.config.loss_type,
            self.max_completion_length,
            num_rows=int(pg.extra["valid"][mb].sum()),
            num_tokens=num_tokens,
        )
        stat = {"loss/policy": loss, "clipfrac": st["clipfrac"], "approx_kl": st["approx_kl"]}
        stat.update(engine_stats)
        if "kl" in st:
            stat["loss/kl"] = st["kl"]
            if (
                pg.old_lp is None
            ):  # summed k1 of the sampling policy (= the current one) to the reference
                stat["kl"] = self.policy_kl(lp.detach(), ref, m)
        return loss, stat

    def finish(self, pg: PGBatch | None, stats: list[dict]) -> dict[str, float]:
        out = {"beta": self.config.kl_coef}
        if pg is None or pg.rows.numel() == 0:
            out["train/signal_frac"] = 0.0
        return out


__all__ = ["GRPOModule", "masked_mean"]
