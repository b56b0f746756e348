"""CodeRL actor-critic finetuning (stage S5): CE on ground truth mixed with a critic-weighted RL loss.

RL loss (CodeRL's ``trainers/trainer_rl.py:compute_loss``): ``-mean over valid tokens of log p(w_t) * r_t`` with token returns
``r_t = q_t * (R(sample) - R(greedy baseline))`` (``relative_returns``; absolute: ``R(sample)``),
``q_t`` the frozen critic's probability of the sample's true outcome class at token ``t``
(``token_weights=uniform``: ``q_t = 1``). CE: token-mean cross-entropy on random ground-truth
programs of the train split (CodeRL pairs each sample with a GT program of *any* problem).
``mix=alternate`` (upstream) trains CE on even and RL on odd micro-batches; ``mix=sum`` adds
``ce_weight * CE + rl_weight * RL`` every step.

Modes:

- ``offline`` (as published): at fit start, the warm actor samples ``offline_samples`` programs
  for ``offline_problems`` RL problems plus a greedy baseline each; the sandbox judges them, the
  frozen critic scores them, and the datamodule serves that fixed pool in shuffled passes of
  ``rl_batch_size`` (with ``mix=alternate`` a CE micro-batch leaves its pool batch unused).
  ``offline_labels`` reads the pool from a ``critic_labels.jsonl`` instead (rows with
  ``source: baseline`` are the greedy baselines; a problem without one has baseline reward 0).
- ``online`` (beyond the paper): every RL step samples from the current actor for the batch's
  problems, judges them through ``reward`` in a background thread while the critic and the
  actor score the samples, then updates. Baselines (greedy programs) are cached per problem and
  recomputed every ``baseline_refresh_every`` steps (0: never, as upstream).

The critic: ``critic_ckpt`` (an ``algo=critic`` checkpoint), else one trained at fit start for
``critic_train_steps`` on labels sampled from the warm actor (``critic`` holds its config, as in
``conf/algo/critic.yaml``).
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import hydra
import torch

from execrl.algos.base import ActorModule
from execrl.algos.coderl.critic import problem_prompts, train_critic
from execrl.algos.coderl.critic_model import (
    Critic,
    build_critic,
    checkpoint_config,
    load_critic,
)
from execrl.algos.coderl.labels import coderl_class, read_labels, sample_labels
from execrl.algos.coderl.pool import (
    PoolItem,
    items_from_labels,
    read_pool,
    sample_items,
    weigh_items,
    write_pool,
)
from execrl.algos.coderl.returns import (
    mix_losses,
    rl_loss,
    sequence_returns,
    token_returns,
    uses_ce,
    uses_rl,
)
from execrl.algos.rl_base import score_programs
from execrl.judging.requests import judge_request
from execrl.rewards.outcome_rewards import CLASS_NAMES, CODERL_REWARDS, coderl_reward
from execrl.schema.coderl import CodeRLConfig
from execrl.utils.config import plain
from execrl.utils.distributed import built_on_rank_zero
from execrl.utils.tracking import log_histogram, staged
from execrl.vocabulary import Problem

log = logging.getLogger("execrl")


#: where a run keeps CodeRL's setup (``<run dir>/coderl/``): the critic (an ``algo=critic``-style
#: checkpoint, also usable as ``algo.critic_ckpt``) and the offline pool, one program a line
CRITIC_FILE, POOL_FILE = "critic.ckpt", "pool.jsonl"


class _CodeRLReward:
    """Fallback when no reward is configured: CodeRL's graded unit-test reward on executor results."""

    def score(self, problems: list[Problem], programs: list[str], executor: Any):
        from execrl.rewards.base import RewardBatch

        results = executor.run([judge_request(p, prog) for p, prog in zip(problems, programs)])
        return RewardBatch(rewards=[coderl_reward(r.outcome) for r in results], results=results)


class CodeRLModule(ActorModule):
    """CodeRL's actor RL objective, offline (published) or online."""

    train_items = "problems"
    needs_warm_start = True
    unsupported_strategies: ClassVar[dict[str, str]] = {
        "deepspeed_stage_3": "the frozen critic would be sharded outside the training graph",
        "fsdp": "the frozen critic would be sharded outside the training graph",
    }

    def __init__(
        self,
        actor: Any,
        config: CodeRLConfig | None = None,
        *,
        optimizer: Any = None,
        scheduler: Any = None,
        executor: Any = None,
    ) -> None:
        c = self.config = config or CodeRLConfig()
        super().__init__(actor, c, optimizer=optimizer, scheduler=scheduler, executor=executor)
        reward = plain(c.reward)
        if isinstance(reward, dict) and "_target_" in reward:
            reward = hydra.utils.instantiate(reward)
        self.reward = reward or _CodeRLReward()
        object.__setattr__(self, "critic", None)
        self.pool: list[PoolItem] = []
        self.gt_pairs: list[tuple[str, str]] = []
        # task_id -> (reward, step computed)
        self._baselines: dict[str, tuple[float | None, int]] = {}
        self._rng = random.Random(c.seed)
        self._restore_dir: Path | None = None  # restore_setup: the saved critic and pool
        self._micro_step = 0
        self.term_counts = {"ce": 0, "rl": 0}  # micro-batches that trained each loss term
        self._t_backward = 0.0
        self._timings: dict[str, float] = {}
        self.setup_stats: dict[str, float] = {}

    @property
    def _gen(self) -> dict[str, Any]:
        """The sampling settings of every sampled (not greedy) program."""
        c = self.config
        return dict(temperature=c.temperature, top_p=c.top_p, max_new_tokens=c.max_new_tokens)

    def trainable_parameters(self):
        return [p for p in self.actor.parameters() if p.requires_grad]

    # ----------------------------------------------------------------- fit-time preparation
    def fit_problem_needs(self) -> dict[str, tuple[str, int | None]]:
        needs: dict[str, tuple[str, int | None]] = {"ground_truth": ("train_split", None)}
        if self.config.token_weights == "critic" and not self.config.critic_ckpt:
            needs["critic_labels"] = ("train_split", self.config.critic_label_problems)
        if self.config.mode == "offline":
            needs["offline_pool"] = ("rl_split", self.config.offline_problems)
        return needs

    def train_dataset(self) -> list | None:
        """Offline: the fixed pool (built in ``on_fit_start``); online: the datamodule's problems."""
        return self.pool if self.config.mode == "offline" else None

    @property
    def train_batch_size(self) -> int | None:
        return self.config.rl_batch_size if self.config.mode == "offline" else None

    def restore_setup(self, run_dir: str | Path) -> None:
        """Use the critic and offline pool saved in ``run_dir`` when this run first built them
        (train.py calls it on resume): the restored RL actor would sample other programs."""
        self._restore_dir = Path(run_dir) / "coderl"

    def on_fit_start(self) -> None:
        """Ground-truth pool, critic, offline pool: built once the module sits on its device
        (or restored, on resume), and saved in ``<run dir>/coderl/``."""
        self._restore_saved_setup()
        if not self.gt_pairs:
            self.gt_pairs = [
                (p.training_prompt, s) for p in self.served("ground_truth") for s in p.solutions
            ]
        if self.critic is None and self.config.token_weights == "critic":
            t0 = time.perf_counter()
            self.set_critic(self._make_critic())
            self.setup_stats["time_s/critic"] = time.perf_counter() - t0
            log.info(
                "coderl: critic ready in %.1f s (%s)",
                self.setup_stats["time_s/critic"],
                self.config.critic_ckpt or "trained at fit start",
            )
            self._save_critic()
        if self.config.mode == "offline" and not self.pool:
            t0 = time.perf_counter()

            def build() -> list[PoolItem]:
                self.build_offline_pool(self.served("offline_pool"))
                return self.pool

            self.pool = built_on_rank_zero(self._trainer, build)  # one pool, sharded across ranks
            self.setup_stats["time_s/offline_pool"] = time.perf_counter() - t0
            if not self.pool:
                raise ValueError(
                    "coderl offline: the pool is empty (no RL problems were served, or no sample "
                    "could be judged); fit it with a datamodule, or use algo.mode=online"
                )
            log.info(
                "coderl: offline pool of %d programs in %.1f s",
                len(self.pool),
                self.setup_stats["time_s/offline_pool"],
            )
            self._save_pool()

    # ----------------------------------------------------------------- saved setup
    def _setup_dir(self) -> Path | None:
        if self._trainer is None or not self.trainer.is_global_zero:
            return None
        return Path(self.trainer.default_root_dir) / "coderl"

    def _save_critic(self) -> None:
        root = self._setup_dir()
        if root is None or self.critic is None:
            return
        root.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "state_dict": {f"critic.{k}": v.cpu() for k, v in self.critic.state_dict().items()},
                "execrl_critic_cfg": checkpoint_config(self.config.critic, self.model_cfg),
            },
            root / CRITIC_FILE,
        )

    def _save_pool(self) -> None:
        root = self._setup_dir()
        if root is not None:
            write_pool(root / POOL_FILE, self.pool)

    def _restore_saved_setup(self) -> None:
        root = self._restore_dir
        if root is None:
            return
        for name, wanted in (
            (CRITIC_FILE, self.critic is None and self.config.token_weights == "critic"),
            (POOL_FILE, self.config.mode == "offline" and not self.pool),
        ):
            if wanted and not (root / name).exists():
                log.warning(
                    "coderl: resuming without a saved %s in %s: building it again, from the "
                    "restored actor (not the one this run first built it from)",
                    name,
                    root,
                )
        wants_critic = self.critic is None and self.config.token_weights == "critic"
        if wants_critic and (root / CRITIC_FILE).exists():
            self.set_critic(load_critic(str(root / CRITIC_FILE), actor=self.actor))
            log.info(
                "coderl: critic restored from %s (as this run first built it)", root / CRITIC_FILE
            )
        if self.config.mode == "offline" and not self.pool and (root / POOL_FILE).exists():
            self.pool = built_on_rank_zero(self._trainer, lambda: read_pool(root / POOL_FILE))
            self.setup_stats["pool_size"] = float(len(self.pool))
            log.info(
                "coderl: offline pool of %d programs restored from %s (as this run first built it)",
                len(self.pool),
                root / POOL_FILE,
            )

    def set_critic(self, critic: Critic) -> None:
        critic.requires_grad_(False)
        # not a registered submodule: the frozen critic stays out of the optimizer, the actor
        # checkpoint and strict resume (it is saved in <run dir>/coderl/ when built, and a
        # resume restores it from there)
        object.__setattr__(self, "critic", critic.to(self.actor.device).eval())

    def _make_critic(self) -> Critic:
        if self.config.critic_ckpt:
            return load_critic(self.config.critic_ckpt, actor=self.actor)
        critic = build_critic(self.config.critic, actor=self.actor)
        problems = self.served("critic_labels")
        if not problems or self.executor is None:
            return critic
        c = self.config
        labels = sample_labels(
            self.actor, problems, self.executor, n=c.critic_samples_per_problem, **self._gen
        )
        losses = train_critic(
            critic,
            labels,
            problem_prompts(problems),
            c.critic_train_steps,
            lr=c.critic_lr,
            batch_size=c.critic_batch_size,
            seed=c.seed,
            weight_decay=c.critic_weight_decay,
        )
        if losses:
            self.setup_stats.update(
                {"critic_loss_first": losses[0], "critic_loss_last": losses[-1]}
            )
        return critic

    # ----------------------------------------------------------------- offline pool
    @torch.no_grad()
    def build_offline_pool(self, problems: list[Problem], batch_size: int = 16) -> None:
        """Sample (or read from ``offline_labels``), judge, baseline and critic-score a fixed pool
        of programs (CodeRL S1, S2, S4): :mod:`execrl.algos.coderl.pool`."""
        c = self.config
        if c.offline_labels:
            prompts = {p.task_id: p.prompt for p in problems}
            labels = [lab for lab in read_labels(c.offline_labels) if lab.task_id in prompts]
            base = {
                lab.task_id: float(CODERL_REWARDS[lab.cls])
                for lab in labels
                if lab.source == "baseline"
            }
            if c.relative_returns:
                sampled = {lab.task_id for lab in labels if lab.source == "sample"}
                todo = [p for p in problems if p.task_id not in base and p.task_id in sampled]
                base.update(self.greedy_baselines(todo))
            items = items_from_labels(labels, prompts, base)
        else:
            items = sample_items(
                self.actor,
                problems,
                self.reward,
                self.executor,
                c.offline_samples,
                self._gen,
                batch_size,
            )
        stats = weigh_items(items, self.actor, self.critic, c.relative_returns, batch_size)
        self.pool = items
        self.setup_stats.update(pool_size=float(len(items)), **stats)

    def greedy_baselines(self, problems: list[Problem], batch_size: int = 16) -> dict[str, float]:
        """Reward of each problem's greedy program (CodeRL's baseline), decoded and judged here:
        relative returns must never fall back to absolute ones silently."""
        if not problems:
            return {}
        if self.executor is None:
            raise ValueError(
                f"offline_labels has no baseline rows for {len(problems)} problems (e.g. {problems[0].task_id}) and "
                "there is no executor to judge greedy baselines: add source=baseline rows, set executor=default, "
                "or algo.relative_returns=false"
            )
        out: dict[str, float] = {}
        for i in range(0, len(problems), batch_size):
            batch = problems[i : i + batch_size]
            greedy = self.actor.generate(
                [p.prompt for p in batch],
                do_sample=False,
                max_new_tokens=self.config.max_new_tokens,
            ).texts
            rb = score_programs(self.reward, batch, greedy, self.executor)
            out.update({p.task_id: float(r) for p, r in zip(batch, rb.rewards) if r is not None})
        log.info(
            "coderl: greedy baselines decoded and judged for %d problems without baseline rows",
            len(out),
        )
        self.setup_stats["baselines_decoded"] = float(len(out))
        return out

    # ----------------------------------------------------------------- losses
    def ce_loss(self) -> torch.Tensor | None:
        if not self.gt_pairs:
            return None
        pairs = self._rng.sample(self.gt_pairs, min(self.config.ce_batch_size, len(self.gt_pairs)))
        return self.actor.sft_loss([p for p, _ in pairs], [s for _, s in pairs])

    def offline_rl_loss(self, items: list[PoolItem]) -> tuple[torch.Tensor | None, dict[str, Any]]:
        if not items:
            return None, {}
        p_ids, p_mask = self.actor.encode_prompts([it.prompt for it in items])
        r_ids, r_mask = self.actor.encode_responses([it.program for it in items])
        ret = torch.zeros(r_ids.shape, device=r_ids.device)
        for i, it in enumerate(items):
            ret[i, : len(it.returns)] = torch.tensor(it.returns[: r_ids.shape[1]])
        with self.timed("update", self._timings):
            lp = self.actor.response_logprobs(p_ids, p_mask, r_ids, r_mask)["logprobs"]
            loss = rl_loss(lp, ret, r_mask)
        return loss, {
            "classes": [it.cls for it in items],
            "rewards": [it.reward for it in items],
            "baselines": [it.baseline_reward for it in items],
            "returns": ret[r_mask.bool()],
            "pooled": None,
        }

    def online_rl_loss(self, problems: list[Problem]) -> tuple[torch.Tensor | None, dict[str, Any]]:
        """Sample, judge (in a thread, overlapped with the critic and actor forward), return the loss."""
        n = self.config.num_samples
        with self.timed("gen", self._timings):
            roll = self.actor.generate(
                [p.prompt for p in problems], num_return_sequences=n, **self._gen
            )
            relative = self.config.relative_returns
            stale = [p for p in problems if relative and self._baseline_stale(p.task_id)]
            greedy = (
                self.actor.generate(
                    [p.prompt for p in stale],
                    do_sample=False,
                    max_new_tokens=self.config.max_new_tokens,
                ).texts
                if stale
                else []
            )
        rows = [problems[j // n] for j in range(len(roll.texts))]

        def judge():
            t0 = time.perf_counter()
            rb = score_programs(self.reward, rows + stale, roll.texts + greedy, self.executor)
            return rb, time.perf_counter() - t0

        pool = ThreadPoolExecutor(max_workers=1) if self.config.overlap_execution else None
        fut = pool.submit(judge) if pool is not None else None
        try:
            if fut is None:
                rb, t_reward = judge()
            # the critic's token logits do not depend on the outcome: compute them while the sandbox runs
            tok = None
            if self.critic is not None:
                with torch.no_grad():
                    tok = self.critic.eval().prompt_token_logits(
                        [p.prompt for p in rows], roll.response_ids, roll.response_mask
                    )
            with self.timed("update", self._timings):
                lp = self.actor.response_logprobs(
                    roll.prompt_ids, roll.prompt_mask, roll.response_ids, roll.response_mask
                )["logprobs"]
            if fut is not None:
                t_wait = time.perf_counter()
                rb, t_reward = fut.result()
                self._timings["time_s/reward_wait"] = time.perf_counter() - t_wait
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        self._timings["time_s/reward"] = self._timings.get("time_s/reward", 0.0) + t_reward
        k = len(roll.texts)
        for p, r in zip(stale, rb.rewards[k:]):
            self._baselines[p.task_id] = (r, int(self.global_step))
        rewards = rb.rewards[:k]
        results = list(rb.results[:k]) if rb.results else [None] * k
        keep = torch.tensor([r is not None for r in rewards], device=lp.device)
        classes = [coderl_class(res) for res in results]
        base = [self._baselines.get(p.task_id, (None, 0))[0] for p in rows]
        r_t = torch.tensor([0.0 if r is None else r for r in rewards])
        b_t = torch.tensor([0.0 if b is None else b for b in base])
        mask = roll.response_mask * keep.unsqueeze(-1).long()
        q, pooled = None, None
        if tok is not None:
            q, pooled = self.critic.outcome_weights(tok, classes, mask)
        ret = token_returns(sequence_returns(r_t, b_t, relative), mask, q)
        if not bool(keep.any()):
            return None, {}
        with self.timed("update", self._timings):
            loss = rl_loss(lp, ret, mask)
        kept = keep.cpu().tolist()
        return loss, {
            "classes": [c for c, k_ in zip(classes, kept) if k_],
            "rewards": [r for r in rewards if r is not None],
            "baselines": [b if b is not None else 0.0 for b, k_ in zip(base, kept) if k_],
            "returns": ret[mask.bool()],
            "pooled": None if pooled is None else pooled[keep],
            "all_classes": classes,
        }

    def _baseline_stale(self, task_id: str) -> bool:
        if task_id not in self._baselines:
            return True
        every = self.config.baseline_refresh_every
        return bool(every) and int(self.global_step) - self._baselines[task_id][1] >= every

    # ----------------------------------------------------------------- steps
    def training_step(
        self, batch: list[Problem] | list[PoolItem], batch_idx: int
    ) -> torch.Tensor | None:
        """Online: ``batch`` is problems to sample; offline: items of the fixed pool."""
        step = self._micro_step
        self._micro_step += 1
        self._timings = {}
        ce = rl = None
        stats: dict[str, Any] = {}
        if uses_rl(step, self.config.mix):
            rl, stats = (
                self.online_rl_loss(batch)
                if self.config.mode == "online"
                else self.offline_rl_loss(batch)
            )
        if uses_ce(step, self.config.mix):
            with self.timed("update", self._timings):
                ce = self.ce_loss()
        if ce is None and rl is None:
            return None
        if self.config.mix == "alternate" and (
            (step % 2 == 0 and ce is None) or (step % 2 == 1 and rl is None)
        ):
            return None
        loss = mix_losses(
            ce, rl, step, self.config.mix, self.config.ce_weight, self.config.rl_weight
        )
        self.term_counts["ce"] += ce is not None
        self.term_counts["rl"] += rl is not None
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        if ce is not None:
            self.log("train/loss/ce", ce, batch_size=len(batch))
        if rl is not None:
            self.log("train/loss/rl", rl, batch_size=len(batch))
            self._log_rl_stats(stats)
        if step == 0:
            for k, v in staged(self.setup_stats, "setup").items():
                self.log(k, v, batch_size=1)
        self._pending_timings = dict(self._timings)
        return loss

    def on_before_backward(self, loss: torch.Tensor) -> None:
        self._t_backward = time.perf_counter()

    def on_after_backward(self) -> None:
        # time_s/update covers the loss forward passes and the backward (verl's update_actor)
        t = getattr(self, "_pending_timings", {})
        t["time_s/update"] = t.get("time_s/update", 0.0) + time.perf_counter() - self._t_backward
        for k, v in staged(t).items():
            self.log(k, v, batch_size=1)
        self._pending_timings = {}

    def _log_rl_stats(self, s: dict[str, Any]) -> None:
        classes, rewards = s.get("classes", []), s.get("rewards", [])
        n = max(len(classes), 1)
        if rewards:
            self.log("train/reward/mean", sum(rewards) / len(rewards), batch_size=len(rewards))
            self.log(
                "train/reward/baseline",
                sum(s["baselines"]) / max(len(s["baselines"]), 1),
                batch_size=len(rewards),
            )
        known = [c for c in classes if c >= 0]
        for k, name in enumerate(CLASS_NAMES):
            frac = sum(c == k for c in known) / n
            self.log(f"train/outcome/{name}", frac, batch_size=n)
            r_k = [r for c, r in zip(classes, rewards) if c == k]
            if r_k:
                self.log(f"train/reward/{name}", sum(r_k) / len(r_k), batch_size=len(r_k))
        pooled = s.get("pooled")
        if pooled is not None and len(known) == len(classes) and len(classes):
            y = torch.tensor(classes, device=pooled.device)
            if self.critic is not None:
                y = self.critic.targets(y)
            self.log(
                "train/critic_acc", (pooled.argmax(-1) == y).float().mean(), batch_size=len(classes)
            )
        self.log_returns(s.get("returns"))

    def log_returns(self, returns: torch.Tensor | None) -> None:
        """min/mean/max of the token returns, and a wandb histogram when wandb logs the run."""
        if returns is None or returns.numel() == 0:
            return
        r = returns.detach().float().cpu()
        self.log("train/returns/min", r.min(), batch_size=r.numel())
        self.log("train/returns/mean", r.mean(), batch_size=r.numel())
        self.log("train/returns/max", r.max(), batch_size=r.numel())
        if self._trainer is None or not self.trainer.is_global_zero:
            return
        if int(self.global_step) % max(int(self.trainer.log_every_n_steps), 1):
            return
        log_histogram(self.loggers, "train/returns/hist", r.numpy(), int(self.global_step))
