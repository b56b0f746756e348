"""The one policy-gradient loop (manual optimisation) that PPO (PPOCoder) and GRPO share.

One ``training_step`` = one RL iteration on a batch of problems: rollout (sample ``num_samples``
programs per problem, score them with the reward; untrusted code runs only in the executor's
sandbox) -> :meth:`RLModule.prepare` (the algorithm's advantages from the sampling policy and the
frozen reference) -> ``ppo_epochs`` x minibatches of :meth:`RLModule.minibatch_loss` (the
algorithm's loss) plus the shared CE anchor -> :meth:`RLModule.finish` (e.g. the KL controller)
-> stats. An algorithm is its ``prepare`` and ``minibatch_loss`` (verl's "a variant is one
function"); every algorithm logs under one key scheme (:mod:`execrl.utils.tracking`):
``train/loss``, ``train/loss/*``, ``train/kl``, ``train/beta``, ``train/clipfrac``,
``train/approx_kl``, ``train/advantages/*``, ``train/reward/*``, ``train/time_s/*``.

Rollouts come from the engine ``rollout.engine`` names (:mod:`execrl.rollout.engines`: ``hf`` in
process, ``vllm`` as its own process), synced to the policy's weights before each step's
generation; each program is judged as soon as it is decoded (``rollout.judge_as_generated``).
With ``async_rollouts`` the rollouts of step t+1 are generated in the background while step t's
update runs (one step off-policy; ``train/staleness``). Log-probs for learning are the training
model's; the engine's are compared to them (``train/engine/logprob_gap``) and, with ``tis_cap``,
correct the loss by TRL's truncated importance sampling.

``trainer.max_steps`` counts *optimizer* steps (Lightning's manual-optimisation semantics):
an iteration with ``ppo_epochs`` x ``ceil(samples / minibatch_size)`` updates advances it
that many times. An iteration with nothing to learn from (every sample dropped) still makes
one no-op optimizer step, so ``max_steps`` always terminates.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from execrl.algos.base import ActorModule
from execrl.algos.rl_core import kl_estimate, minibatches, policy_loss
from execrl.models.actor import Actor, Rollout
from execrl.rewards.base import Reward, RewardBatch
from execrl.utils.tracking import staged
from execrl.vocabulary import Outcome, Problem

if TYPE_CHECKING:
    from execrl.schema.algos import RLConfig

log = logging.getLogger("execrl")


@dataclass
class PGBatch:
    """What one iteration trains on, indexed by position in ``rows`` (rollout row indices).

    ``mask`` is the loss mask (0 for dropped samples); ``adv`` is ``[R]`` or ``[R, T]``;
    ``old_lp`` is None when the update is fully on-policy (the current log-probs are reused);
    ``forward[i]`` is False for a row whose loss term is exactly 0 (its forward pass is skipped,
    but it still counts in the normalisers, so the loss is unchanged); ``extra`` holds per-row
    tensors of the algorithm (old values, returns).
    """

    rows: torch.Tensor
    mask: torch.Tensor
    adv: torch.Tensor
    old_lp: torch.Tensor | None = None
    ref_lp: torch.Tensor | None = None
    forward: torch.Tensor | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)


def build_reward(reward: Reward | Mapping | None) -> Reward:
    """A reward object from a Hydra config (``_target_``) or an already built object; None: CodeRL's
    graded unit-test reward."""
    if reward is None:
        from execrl.rewards import UnitTestReward

        return UnitTestReward("coderl")
    if isinstance(reward, Mapping) or hasattr(reward, "_metadata"):
        import hydra

        return hydra.utils.instantiate(reward)
    return reward


class RLModule(ActorModule):
    """Rollout -> reward -> reference log-probs -> ``update`` (implemented by subclasses)."""

    train_items = "problems"
    needs_warm_start = True
    supports_tis = False  # the algorithm's loss applies algo.tis_cap
    unsupported_strategies: ClassVar[dict[str, str]] = {
        "fsdp": "the frozen reference copy and generate() need the full actor on every rank",
        "deepspeed_stage_3": "the frozen reference copy and generate() need the full actor on every rank",
    }

    def __init__(
        self,
        actor: Actor,
        config: RLConfig,
        *,
        optimizer: Any = None,
        scheduler: Any = None,
        executor: Any = None,
    ) -> None:
        super().__init__(actor, config, optimizer=optimizer, scheduler=scheduler, executor=executor)
        from execrl.utils.config import plain

        c = config
        self.rollout_cfg = dict(plain(c.rollout) or {})  # conf/rollout: engine and its settings
        if c.tis_cap is not None and not self.supports_tis:
            raise ValueError(f"algo.tis_cap is implemented for GRPO, not {type(self).__name__}")
        self._engine: Any = None
        self._ahead: Any = None
        self.policy_version = 0  # optimizer iterations done: what a rollout's staleness counts
        self.automatic_optimization = False
        self.reward: Reward = build_reward(c.reward)  # a built reward or its config
        self.sampling = dict(
            temperature=c.temperature, top_k=c.top_k, top_p=c.top_p, max_new_tokens=c.max_new_tokens
        )
        # score the ratio under the distribution the samples came from (TRL divides by T too)
        self.lp_temperature = (
            float(c.temperature) if c.logprob_temperature and c.temperature > 0 else 1.0
        )
        self.policy_loss_fn = policy_loss(c.policy_loss)  # execrl.algos.rl_core.POLICY_LOSSES
        # Frozen reference policy for the KL penalty: the actor as handed over (the SFT checkpoint).
        # A registered submodule, so it follows the device and a resumed run keeps the original.
        # LoRA: the adapters switched off, else a frozen copy; put in eval mode at every use
        # (Lightning toggles train()). None when no loss term reads it (KL coefficient 0, TRL's
        # default): no reference pass, and no second copy of a full-weights actor in memory.
        self.ref_actor = actor.reference_policy() if self.needs_reference() else None
        for p in self.ref_actor.parameters() if self.ref_actor is not None else ():
            p.requires_grad_(False)
        self._phase_times: dict[str, float] = {}
        self._anchor: list[tuple[str, str]] = []
        self._rng = random.Random(0)
        self.init_algorithm()

    def init_algorithm(self) -> None:
        """The algorithm's own parts (value head, KL controller, estimators) and the checks of its
        settings, built from ``self.config`` at the end of ``__init__``."""

    # ----------------------------------------------------------------- setup
    def on_fit_start(self) -> None:
        if self.executor is None and not _executor_free(self.reward):
            raise ValueError(
                f"{type(self).__name__} scores programs by running them: set executor=default"
            )
        if self.config.ce_coef > 0:
            self._anchor = self._anchor_pool()
        # the engine starts here: a vLLM engine's start-up (or its error) is part of setup
        self.rollout_engine.sync(self.actor)

    @property
    def rollout_engine(self) -> Any:
        """The engine that samples rollouts (``rollout.engine``), started on first use."""
        if self._engine is None:
            from execrl.rollout.engines import build_engine

            self._engine = build_engine(self.rollout_cfg, self.actor, self.config.async_rollouts)
        return self._engine

    def teardown(self, stage: str) -> None:
        """Stop the engine (a vLLM process) and the rollout in flight."""
        engine, ahead = self._engine, self._ahead
        self._engine = self._ahead = None
        if engine is not None:
            engine.close()
        if ahead is not None:
            ahead.close()

    def fit_problem_needs(self) -> dict[str, tuple[str, int | None]]:
        return {"anchor": ("train_split", None)} if self.config.ce_coef > 0 else {}

    def _anchor_pool(self) -> list[tuple[str, str]]:
        """(training prompt, solution) pairs for the CE anchor: the SFT split's problems."""
        pool = [(p.training_prompt, s) for p in self.served("anchor") for s in p.solutions]
        if not pool:
            log.warning(
                "CE anchor: no solutions in the train split; anchoring on the RL batch's solutions"
            )
        return pool

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["execrl_rl_state"] = self.rl_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.load_rl_state(checkpoint.get("execrl_rl_state") or {})
        self._match_reference_keys(checkpoint.get("state_dict"))

    def _match_reference_keys(self, state: dict[str, Any] | None) -> None:
        """A checkpoint from a run with the other KL setting loads: a saved reference copy is
        dropped when this run has none, and a missing one is this run's (the actor it started
        from, which is what a resumed run's reference is)."""
        if state is None:
            return
        if self.ref_actor is None:
            for k in [k for k in state if k.startswith("ref_actor.")]:
                del state[k]
        elif not any(k.startswith("ref_actor.") for k in state):
            state.update({f"ref_actor.{k}": v for k, v in self.ref_actor.state_dict().items()})

    def needs_reference(self) -> bool:
        """Whether the loss reads the frozen reference's log-probs: only through the KL term."""
        return bool(self.config.kl_coef)

    def rl_state(self) -> dict[str, Any]:
        return {}

    def load_rl_state(self, state: dict[str, Any]) -> None:
        pass

    # ----------------------------------------------------------------- rollouts
    def rollout(
        self, batch: list[Problem], timings: dict[str, float]
    ) -> tuple[Rollout, list[Problem], RewardBatch]:
        """Sample ``num_samples`` programs per problem (rows grouped by problem) with the rollout
        engine and score them; each program is submitted to the sandbox as soon as it is decoded
        (``rollout.judge_as_generated``), the reward waits for the verdicts after generation."""
        from execrl.rollout.overlap import EarlyJudge

        problems = [p for p in batch for _ in range(self.config.num_samples)]
        judge = None
        if self.rollout_cfg.get("judge_as_generated", True) and EarlyJudge.supported(self.executor):
            judge = EarlyJudge(self.reward, problems, self.executor, score_programs)
        with self.timed("gen", timings):
            ro = self.rollout_engine.generate(
                self.actor,
                [p.prompt for p in batch],
                num_return_sequences=self.config.num_samples,
                do_sample=True,
                on_row=None if judge is None else judge.on_row,
                **self.sampling,
            )
        with self.timed("reward", timings):
            rb = score_programs(self.reward, problems, ro.texts, judge or self.executor)
        if judge is not None:
            timings["rollout/judged_early"] = timings.get("rollout/judged_early", 0) + judge.early
        return ro, problems, rb

    def rollout_ahead(
        self, batch: list[Problem], timings: dict[str, float]
    ) -> tuple[tuple[Rollout, list[Problem], RewardBatch], int] | None:
        """``async_rollouts``: launch this batch's rollout in the background with the current
        weights and return the one launched the step before, with its staleness (policy updates
        since its weights), or None at the first step."""
        from execrl.rollout.overlap import OneStepAhead

        if self._ahead is None:
            self._ahead = OneStepAhead()
        prev = self._ahead.take()  # the engine is free again once last step's rollout is in
        self.rollout_engine.sync(self.actor)

        def job() -> tuple:
            own: dict[str, float] = {}
            return (*self.rollout(batch, own), own)

        self._ahead.launch(job, self.policy_version)
        if prev is None:
            return None
        (ro, problems, rb, own), version, waited = prev
        timings.update(own)  # generation and judging times of that rollout, in the background
        timings["time_s/wait_rollout"] = waited
        return (ro, problems, rb), self.policy_version - version

    def forward_rows(
        self, ro: Rollout, idx: torch.Tensor, return_hidden: bool = False
    ) -> dict[str, torch.Tensor]:
        """Current actor's log-probs (and hidden states) of rollout rows ``idx``, with grad unless disabled."""
        return self.actor.response_logprobs(
            ro.prompt_ids[idx],
            ro.prompt_mask[idx],
            ro.response_ids[idx],
            ro.response_mask[idx],
            return_hidden=return_hidden,
            temperature=self.lp_temperature,
        )

    def policy_logprobs(self, ro: Rollout, idx: torch.Tensor) -> torch.Tensor:
        """Log-probs of rollout rows ``idx`` under the current actor (with grad unless disabled)."""
        return self.forward_rows(ro, idx)["logprobs"]

    @torch.no_grad()
    def ref_logprobs(self, ro: Rollout, idx: torch.Tensor) -> torch.Tensor:
        if self.ref_actor is None:
            raise RuntimeError("no reference policy: the KL coefficient is 0")
        self.ref_actor.eval()
        with self.phase("ref"):
            return self.ref_actor.response_logprobs(
                ro.prompt_ids[idx],
                ro.prompt_mask[idx],
                ro.response_ids[idx],
                ro.response_mask[idx],
                temperature=self.lp_temperature,
            )["logprobs"]

    def phase(self, name: str):
        """Times a phase of the update into ``train/time_s/<name>`` (summed over the step)."""
        return self.timed(name, self._phase_times)

    def engine_correction(
        self, ro: Rollout, rows: torch.Tensor, old_lp: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """The rollout engine's log-probs against the trainer's ``old_lp`` on rows ``rows``: the
        gap is logged (``engine/logprob_gap``: mean absolute difference per sampled token), and
        with ``tis_cap`` the per-token weights ``min(exp(old_lp - engine_lp), tis_cap)`` (TRL's
        truncated importance sampling: the samples are the engine's, behind by ``staleness``
        updates, the ratio is the trainer's). Tokens the engine did not sample weigh 1."""
        if ro.sample_logprobs is None:
            return None, {}
        eng = ro.sample_logprobs[rows.to(ro.sample_logprobs.device)][:, : old_lp.shape[1]]
        eng = eng.to(old_lp.device)
        ok = mask.bool() & torch.isfinite(eng)
        if not bool(ok.any()):
            return None, {}
        diff = (old_lp.detach() - eng.nan_to_num(0.0)).float()
        gap = diff[ok].abs()
        stats = {"engine/logprob_gap": gap.mean(), "engine/logprob_gap_max": gap.max()}
        if self.config.tis_cap is None:
            return None, stats
        w = torch.where(ok, diff.exp().clamp(max=self.config.tis_cap), torch.ones_like(diff))
        stats["engine/is_weight"] = w[ok].mean()
        return w, stats

    def has_eos(self, ro: Rollout) -> torch.Tensor:
        """``[B]`` True for responses that ended with EOS (False: cut at max_new_tokens)."""
        return ((ro.response_ids == self.actor.eos_id) & ro.response_mask.bool()).any(-1)

    def reward_metrics(self, ro: Rollout, rb: RewardBatch) -> dict[str, float]:
        """Reward mean and components, compile/pass rate of executed samples, response length."""
        ok = [r for r in rb.rewards if r is not None]
        m: dict[str, float] = {
            "reward/mean": sum(ok) / len(ok) if ok else 0.0,
            "train/dropped": float(len(rb.rewards) - len(ok)),
            "train/response_len": ro.lengths.float().mean().item(),
        }
        for name, vals in rb.components.items():
            vs = [v for v in vals if v is not None]
            if vs:
                m[f"reward/{name}"] = sum(vs) / len(vs)
        judged = [r for r in rb.results if r is not None and r.outcome is not Outcome.INFRA_ERROR]
        if judged:
            m["train/compile_rate"] = sum(
                r.outcome is not Outcome.COMPILE_ERROR for r in judged
            ) / len(judged)
            m["train/pass_rate"] = sum(r.outcome is Outcome.PASSED for r in judged) / len(judged)
        return m

    def maybe_log_completions(
        self, batch_idx: int, problems: list[Problem], ro: Rollout, rb: RewardBatch
    ) -> None:
        if not self.config.completions_every or batch_idx % self.config.completions_every:
            return
        rows = [
            {
                "task_id": p.task_id,
                "completion": t,
                "reward": r,
                "outcome": res.outcome.value if res is not None else None,
            }
            for p, t, r, res in zip(
                problems, ro.texts, rb.rewards, rb.results or [None] * len(problems)
            )
        ]
        self._log_completions_table(rows[: self.config.log_completions], "train/completions")

    # ----------------------------------------------------------------- optimisation
    def optimizer_update(self, loss: torch.Tensor | None) -> None:
        """One optimizer (and LR-scheduler) step; ``loss=None`` is a no-op step that only counts."""
        opt = self.optimizers()
        opt.zero_grad()
        if loss is not None:
            with self.phase("backward"):
                self.manual_backward(loss)
        with self.phase("optimizer"):
            if loss is not None and self.config.max_grad_norm:
                self.clip_gradients(
                    opt, gradient_clip_val=self.config.max_grad_norm, gradient_clip_algorithm="norm"
                )
            opt.step()  # parameters without gradients are left untouched by torch optimizers
            sch = self.lr_schedulers()
            if sch is not None:
                sch.step()

    def anchor_loss(self, batch: list[Problem]) -> torch.Tensor | None:
        """CE on ground-truth solutions: keeps RL from forgetting what SFT taught (``ce_coef``)."""
        if self.config.ce_coef <= 0:
            return None
        pool = self._anchor or [(p.training_prompt, s) for p in batch for s in p.solutions[:1]]
        if not pool:
            return None
        pairs = self._rng.sample(pool, min(self.config.ce_batch_size, len(pool)))
        with self.phase("anchor"):
            return self.actor.sft_loss([a for a, _ in pairs], [b for _, b in pairs])

    def policy_kl(
        self, logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean over kept sequences of the summed per-token k1 KL to the reference (real tokens
        only; PPOCoder summed over padding too)."""
        n = (mask.sum(-1) > 0).sum().clamp(min=1)
        return (kl_estimate(logprobs, ref_logprobs, "k1") * mask).sum() / n

    def update_rows(self, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows to train on and their 0/1 weights.

        One process: only the kept rows (dropped samples cost nothing). Under DDP every rank
        must run the same number of backward passes, so all rows are used and dropped ones get
        weight 0 (their tokens are masked out of every loss).
        """
        trainer = getattr(self, "_trainer", None)
        world = trainer.world_size if trainer is not None else 1
        dev = self.actor.device
        keep = keep.to(dev)
        rows = keep.nonzero().flatten() if world == 1 else torch.arange(keep.numel(), device=dev)
        return rows, keep[rows].float()

    @staticmethod
    def trim(mask: torch.Tensor, *tensors: torch.Tensor) -> list[torch.Tensor]:
        """Drop response columns that are padding in every row of a minibatch."""
        width = max(int(mask.sum(-1).max().item()), 1)
        return [t[:, :width] for t in tensors]

    def world_size(self) -> int:
        trainer = getattr(self, "_trainer", None)
        return trainer.world_size if trainer is not None else 1

    def all_reduce(self, x: torch.Tensor | float, op: str = "mean") -> torch.Tensor:
        """``x`` reduced over DDP ranks (``mean`` or ``sum``); itself on one process."""
        x = torch.as_tensor(x, dtype=torch.float, device=self.actor.device)
        if self.world_size() == 1:
            return x
        from execrl.utils.distributed import all_reduce

        return all_reduce(self.trainer.strategy, x, op)

    def training_step(self, batch: list[Problem], batch_idx: int) -> None:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        self.actor.eval()  # no dropout: old/new log-prob ratios must differ only by the update
        if self.config.async_rollouts:
            got = self.rollout_ahead(batch, timings)
            if got is None:  # the first step only launches: no optimizer step, max_steps unchanged
                return
            (ro, problems, rb), staleness = got
        else:
            self.rollout_engine.sync(
                self.actor
            )  # the policy's current weights (no-op if unchanged)
            ro, problems, rb = self.rollout(batch, timings)
            staleness = 0
        metrics = self.reward_metrics(ro, rb)
        metrics["staleness"] = float(staleness)
        with self.timed("update", timings):
            metrics.update(self.update(batch, ro, rb))
        self.policy_version += 1
        # the step's wall clock in this thread: with async_rollouts, generation is not in it
        timings["time_s/step"] = time.perf_counter() - t0
        metrics.update(timings)
        self.log_dict(
            staged({k: float(v) for k, v in metrics.items()}), on_step=True, batch_size=len(batch)
        )
        self.log(
            "reward", metrics["reward/mean"], prog_bar=True, batch_size=len(batch), logger=False
        )
        self.maybe_log_completions(batch_idx, problems, ro, rb)

    # ----------------------------------------------------------------- the shared loop
    def update(self, batch: list[Problem], ro: Rollout, rb: RewardBatch) -> dict[str, float]:
        """prepare -> epochs x minibatches (algorithm loss + CE anchor, one optimizer step each) ->
        finish. Returns the stats, with the seconds of each phase (``time_s/ref``,
        ``time_s/old_logprobs``, ``time_s/forward``, ``time_s/anchor``, ``time_s/backward``,
        ``time_s/optimizer``) for the phases that ran."""
        self._phase_times = {}
        out = self._update(batch, ro, rb)
        return {**out, **self._phase_times}

    def _update(self, batch: list[Problem], ro: Rollout, rb: RewardBatch) -> dict[str, float]:
        pg = self.prepare(ro, rb)
        if (
            pg is None or pg.rows.numel() == 0
        ):  # nothing to learn from: the anchor (if any) still trains
            anchor = self.anchor_loss(batch)
            self.optimizer_update(None if anchor is None else self.config.ce_coef * anchor)
            out = {} if pg is None else dict(pg.stats)
            if anchor is not None:
                out["loss/ce"] = float(anchor)
            return {**out, **self.finish(pg, [])}
        dev = pg.rows.device
        n = pg.rows.numel()
        on_policy = pg.old_lp is None
        if on_policy and (self.config.ppo_epochs > 1 or n > self.config.minibatch_size):
            raise ValueError("old log-probs are needed for more than one update per rollout")
        stats = []
        for _ in range(self.config.ppo_epochs):
            for mb in minibatches(n, self.config.minibatch_size):
                mb = mb.to(dev)
                fwd = mb if pg.forward is None else mb[pg.forward[mb]]
                with self.phase("forward"):
                    loss, stat = (
                        (None, {}) if fwd.numel() == 0 else self.minibatch_loss(ro, pg, mb, fwd)
                    )
                anchor = self.anchor_loss(batch)
                if anchor is not None:
                    loss = (
                        self.config.ce_coef * anchor
                        if loss is None
                        else loss + self.config.ce_coef * anchor
                    )
                    stat["loss/ce"] = anchor
                self.optimizer_update(loss)
                if loss is not None:
                    stat["loss"] = loss
                stats.append({k: v.detach() if torch.is_tensor(v) else v for k, v in stat.items()})
        out = dict(pg.stats)
        out.update(mean_stats(stats))
        out.update(self.finish(pg, stats))
        return out

    def prepare(self, ro: Rollout, rb: RewardBatch) -> PGBatch | None:
        """The algorithm's advantages and everything its loss needs, without grad."""
        raise NotImplementedError

    def minibatch_loss(
        self, ro: Rollout, pg: PGBatch, mb: torch.Tensor, fwd: torch.Tensor
    ) -> tuple[torch.Tensor, dict]:
        """The algorithm's loss on minibatch ``mb`` (positions in ``pg.rows``); ``fwd`` are the
        positions whose forward pass is needed (the others add exactly 0)."""
        raise NotImplementedError

    def finish(self, pg: PGBatch | None, stats: list[dict]) -> dict[str, float]:
        """After the updates (e.g. the KL controller); returns extra metrics."""
        return {}


def score_programs(
    reward: Reward, problems: list[Problem], texts: list[str], executor: Any
) -> RewardBatch:
    """``reward.score`` on what would be compiled or run: model outputs on XLCoST problems read as
    tokens (``detokenize=false``) are detokenised first, with their references, so the reward
    judges code rather than token text."""
    from execrl.data.conventions import executable_problem, program_text

    if not any(p.meta.get("tokenized") for p in problems):
        return reward.score(problems, texts, executor)
    programs = [program_text(p, t) for p, t in zip(problems, texts)]
    return reward.score([executable_problem(p) for p in problems], programs, executor)


def _executor_free(reward: Reward) -> bool:
    """True for rewards that never execute code (AST/DFG match only)."""
    from execrl.rewards import ASTMatch, DFGMatch, WeightedSum

    if isinstance(reward, WeightedSum):
        return all(_executor_free(r) for r, _ in reward.components.values())
    return isinstance(reward, (ASTMatch, DFGMatch))


def mean_stats(stats: list[dict[str, torch.Tensor | float]]) -> dict[str, float]:
    """Average a list of per-minibatch stat dicts, each key over the minibatches that have it (a
    minibatch of zero-advantage rows only runs no policy loss)."""
    keys = dict.fromkeys(k for s in stats for k in s)
    return {k: sum(float(s[k]) for s in stats if k in s) / sum(k in s for s in stats) for k in keys}


__all__ = ["PGBatch", "RLModule", "build_reward", "mean_stats", "score_programs"]
