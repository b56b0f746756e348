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

import json
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import hydra
import torch

from execrl.algos.base import ActorModule
from execrl.algos.coderl.critic import problem_prompts, train_critic
from execrl.algos.coderl.critic_model import Critic, build_critic, load_critic, token_class_probs
from execrl.algos.coderl.labels import coderl_class, read_labels, sample_labels
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
from execrl.schema.algos import ActorModuleConfig
from execrl.utils.config import plain
from execrl.utils.distributed import built_on_rank_zero
from execrl.utils.tracking import log_histogram, staged
from execrl.vocabulary import Problem

log = logging.getLogger("execrl")


@dataclass
class PoolItem:
    """One offline RL sample with its precomputed token returns (the critic is frozen)."""

    prompt: str
    program: str
    cls: int
    reward: float
    baseline_reward: float
    returns: list[float]  # per response token of actor.encode_responses(program)
    task_id: str = ""
    outcome: str | None = None  # the sandbox's verdict (None: read from labels without one)
    critic_pass: float | None = None  # the critic's probability that the program passes


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
        optimizer: Any = None,
        scheduler: Any = None,
        executor: Any = None,
        reward: Any = None,
        mode: str = "offline",
        relative_returns: bool = True,
        token_weights: str = "critic",
        mix: str = "alternate",
        ce_weight: float = 1.0,
        rl_weight: float = 1.0,
        ce_batch_size: int = 16,
        critic: dict | None = None,
        critic_ckpt: str | None = None,
        critic_train_steps: int = 200,
        critic_label_problems: int = 100,
        critic_samples_per_problem: int = 4,
        critic_lr: float = 1e-3,
        critic_weight_decay: float = 0.01,
        critic_batch_size: int = 16,
        num_samples: int = 4,
        temperature: float = 0.6,
        top_p: float = 0.95,
        max_new_tokens: int | None = None,
        baseline_refresh_every: int = 0,
        overlap_execution: bool = True,
        offline_problems: int = 200,
        offline_samples: int = 4,
        offline_labels: str | None = None,
        rl_batch_size: int = 16,
        val_max_new_tokens: int | None = None,
        log_completions: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__(
            actor,
            ActorModuleConfig(
                val_max_new_tokens=val_max_new_tokens, log_completions=log_completions
            ),
            optimizer=optimizer,
            scheduler=scheduler,
            executor=executor,
        )
        if mode not in ("offline", "online"):
            raise ValueError(f"algo.mode must be offline|online, got {mode!r}")
        if token_weights not in ("critic", "uniform"):
            raise ValueError(f"algo.token_weights must be critic|uniform, got {token_weights!r}")
        mix_losses(torch.tensor(0.0), torch.tensor(0.0), 0, mix)  # validates ``mix`` early
        reward = plain(reward)
        if isinstance(reward, dict) and "_target_" in reward:
            reward = hydra.utils.instantiate(reward)
        self.reward = reward or _CodeRLReward()
        self.mode, self.relative, self.token_weights = mode, relative_returns, token_weights
        self.mix, self.ce_weight, self.rl_weight, self.ce_batch_size = (
            mix,
            ce_weight,
            rl_weight,
            ce_batch_size,
        )
        self.critic_cfg = dict(plain(critic) or {})
        self.critic_ckpt, self.critic_train_steps = critic_ckpt, critic_train_steps
        self.critic_label_problems, self.critic_samples_per_problem = (
            critic_label_problems,
            critic_samples_per_problem,
        )
        self.critic_lr, self.critic_batch_size, self.critic_weight_decay = (
            critic_lr,
            critic_batch_size,
            critic_weight_decay,
        )
        self.num_samples, self.temperature, self.top_p, self.max_new_tokens = (
            num_samples,
            temperature,
            top_p,
            max_new_tokens,
        )
        self.baseline_refresh_every, self.overlap_execution = (
            baseline_refresh_every,
            overlap_execution,
        )
        self.offline_problems, self.offline_samples, self.offline_labels = (
            offline_problems,
            offline_samples,
            offline_labels,
        )
        self.rl_batch_size, self.seed = rl_batch_size, seed
        object.__setattr__(self, "critic", None)
        self.pool: list[PoolItem] = []
        self.gt_pairs: list[tuple[str, str]] = []
        self._baselines: dict[
            str, tuple[float | None, int]
        ] = {}  # task_id -> (reward, step computed)
        self._rng = random.Random(seed)
        self._restore_dir: Path | None = None  # restore_setup: the saved critic and pool
        self._micro_step = 0
        self.term_counts = {"ce": 0, "rl": 0}  # micro-batches that trained each loss term
        self._t_backward = 0.0
        self._timings: dict[str, float] = {}
        self.setup_stats: dict[str, float] = {}

    def trainable_parameters(self):
        return [p for p in self.actor.parameters() if p.requires_grad]

    # ----------------------------------------------------------------- fit-time preparation
    def fit_problem_needs(self) -> dict[str, tuple[str, int | None]]:
        needs: dict[str, tuple[str, int | None]] = {"ground_truth": ("train_split", None)}
        if self.token_weights == "critic" and not self.critic_ckpt:
            needs["critic_labels"] = ("train_split", self.critic_label_problems)
        if self.mode == "offline":
            needs["offline_pool"] = ("rl_split", self.offline_problems)
        return needs

    def train_dataset(self) -> list | None:
        """Offline: the fixed pool (built in ``on_fit_start``); online: the datamodule's problems."""
        return self.pool if self.mode == "offline" else None

    @property
    def train_batch_size(self) -> int | None:
        return self.rl_batch_size if self.mode == "offline" else None

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
        if self.critic is None and self.token_weights == "critic":
            t0 = time.perf_counter()
            self.set_critic(self._make_critic())
            self.setup_stats["time_s/critic"] = time.perf_counter() - t0
            log.info(
                "coderl: critic ready in %.1f s (%s)",
                self.setup_stats["time_s/critic"],
                self.critic_ckpt or "trained at fit start",
            )
            self._save_critic()
        if self.mode == "offline" and not self.pool:
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
                "execrl_critic_cfg": {
                    **self.critic_cfg,
                    "backbone": self.critic_cfg.get("backbone") or self.model_cfg,
                },
            },
            root / CRITIC_FILE,
        )

    def _save_pool(self) -> None:
        root = self._setup_dir()
        if root is None:
            return
        root.mkdir(parents=True, exist_ok=True)
        with open(root / POOL_FILE, "w") as f:
            for it in self.pool:
                row = {
                    "task_id": it.task_id,
                    "program": it.program,
                    "outcome": it.outcome,
                    "class": CLASS_NAMES[it.cls] if it.cls >= 0 else None,
                    "reward": it.reward,
                    "baseline_reward": it.baseline_reward,
                    "critic_pass": it.critic_pass,
                    "prompt": it.prompt,
                    "returns": it.returns,
                }
                f.write(json.dumps(row) + "\n")

    def _restore_saved_setup(self) -> None:
        root = self._restore_dir
        if root is None:
            return
        for name, wanted in (
            (CRITIC_FILE, self.critic is None and self.token_weights == "critic"),
            (POOL_FILE, self.mode == "offline" and not self.pool),
        ):
            if wanted and not (root / name).exists():
                log.warning(
                    "coderl: resuming without a saved %s in %s: building it again, from the "
                    "restored actor (not the one this run first built it from)",
                    name,
                    root,
                )
        if self.critic is None and self.token_weights == "critic" and (root / CRITIC_FILE).exists():
            self.set_critic(load_critic(str(root / CRITIC_FILE), actor=self.actor))
            log.info(
                "coderl: critic restored from %s (as this run first built it)", root / CRITIC_FILE
            )
        if self.mode == "offline" and not self.pool and (root / POOL_FILE).exists():

            def read() -> list[PoolItem]:
                with open(root / POOL_FILE) as f:
                    rows = [json.loads(line) for line in f if line.strip()]
                return [
                    PoolItem(
                        r["prompt"],
                        r["program"],
                        CLASS_NAMES.index(r["class"]) if r.get("class") else -1,
                        r["reward"],
                        r["baseline_reward"],
                        r["returns"],
                        r.get("task_id", ""),
                        r.get("outcome"),
                        r.get("critic_pass"),
                    )
                    for r in rows
                ]

            self.pool = built_on_rank_zero(self._trainer, read)
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
        if self.critic_ckpt:
            return load_critic(self.critic_ckpt, actor=self.actor)
        critic = build_critic(actor=self.actor, **self.critic_cfg)
        problems = self.served("critic_labels")
        if not problems or self.executor is None:
            return critic
        labels = sample_labels(
            self.actor,
            problems,
            self.executor,
            n=self.critic_samples_per_problem,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
        )
        losses = train_critic(
            critic,
            labels,
            problem_prompts(problems),
            self.critic_train_steps,
            lr=self.critic_lr,
            batch_size=self.critic_batch_size,
            seed=self.seed,
            weight_decay=self.critic_weight_decay,
        )
        if losses:
            self.setup_stats.update(
                {"critic_loss_first": losses[0], "critic_loss_last": losses[-1]}
            )
        return critic

    @torch.no_grad()
    def critic_token_probs(
        self,
        prompts: list[str],
        response_ids: torch.Tensor,
        response_mask: torch.Tensor,
        classes: list[int],
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """q_t of each row's true class (``None`` rows with class -1 get q = 1), and pooled logits."""
        if self.critic is None:
            return None, None
        self.critic.eval()
        p_ids, p_mask = self.critic.backbone.encode_prompts(prompts)
        tok = self.critic.token_logits(p_ids, p_mask, response_ids, response_mask)
        cls = torch.tensor([max(c, 0) for c in classes], device=tok.device)
        if self.critic.binary:
            cls = (cls == 3).long()
        q = token_class_probs(tok, cls, response_mask)
        unknown = torch.tensor([c < 0 for c in classes], device=q.device)
        q = torch.where(unknown.unsqueeze(-1), response_mask.to(q.dtype), q)
        return q, self.critic.pool(tok, response_mask)

    # ----------------------------------------------------------------- offline pool
    @torch.no_grad()
    def build_offline_pool(self, problems: list[Problem], batch_size: int = 16) -> None:
        """Sample, judge, baseline and critic-score a fixed pool of programs (CodeRL S1, S2, S4)."""
        # (prompt, program, class, reward, baseline reward, task id, outcome)
        items: list[tuple[str, str, int, float, float, str, str | None]] = []
        if self.offline_labels:
            prompts = {p.task_id: p.prompt for p in problems}
            labels = [lab for lab in read_labels(self.offline_labels) if lab.task_id in prompts]
            base = {
                lab.task_id: float(CODERL_REWARDS[lab.cls])
                for lab in labels
                if lab.source == "baseline"
            }
            if self.relative:
                base.update(
                    self.greedy_baselines(
                        [
                            p
                            for p in problems
                            if p.task_id not in base
                            and any(
                                lab.task_id == p.task_id and lab.source == "sample"
                                for lab in labels
                            )
                        ]
                    )
                )
            items = [
                (
                    prompts[lab.task_id],
                    lab.program,
                    lab.cls,
                    float(CODERL_REWARDS[lab.cls]),
                    base.get(lab.task_id, 0.0),
                    lab.task_id,
                    lab.outcome,
                )
                for lab in labels
                if lab.source == "sample"
            ]
        else:
            n = self.offline_samples
            for i in range(0, len(problems), batch_size):
                batch = problems[i : i + batch_size]
                prompts = [p.prompt for p in batch]
                samples = self.actor.generate(
                    prompts,
                    num_return_sequences=n,
                    temperature=self.temperature,
                    top_p=self.top_p,
                    max_new_tokens=self.max_new_tokens,
                ).texts
                greedy = self.actor.generate(
                    prompts, do_sample=False, max_new_tokens=self.max_new_tokens
                ).texts
                rb = score_programs(
                    self.reward,
                    [batch[j // n] for j in range(len(samples))] + batch,
                    samples + greedy,
                    self.executor,
                )
                base = rb.rewards[len(samples) :]
                for j, prog in enumerate(samples):
                    r, res = rb.rewards[j], rb.results[j] if rb.results else None
                    if r is None:
                        continue  # infrastructure error: drop
                    c = coderl_class(res)
                    b = base[j // n]
                    items.append(
                        (
                            prompts[j // n],
                            prog,
                            c,
                            float(r),
                            0.0 if b is None else float(b),
                            batch[j // n].task_id,
                            None if res is None else res.outcome.value,
                        )
                    )
        self.pool = []
        hits = judged = 0
        for i in range(0, len(items), batch_size):
            chunk = items[i : i + batch_size]
            r_ids, r_mask = self.actor.encode_responses([it[1] for it in chunk])
            q, pooled = self.critic_token_probs(
                [it[0] for it in chunk], r_ids, r_mask, [it[2] for it in chunk]
            )
            p_pass: list[float | None] = [None] * len(chunk)
            if pooled is not None:  # saved with the pool: which programs the critic believes in
                p_pass = pooled.float().softmax(-1)[:, self.critic.passed_class].tolist()
            if pooled is not None:  # the frozen critic's accuracy on the pool it weighs
                for pred, it in zip(pooled.argmax(-1).tolist(), chunk):
                    if it[2] >= 0:
                        judged += 1
                        hits += pred == (int(it[2] == 3) if self.critic.binary else it[2])
            seq = sequence_returns(
                torch.tensor([it[3] for it in chunk]),
                torch.tensor([it[4] for it in chunk]),
                self.relative,
            )
            ret = token_returns(seq, r_mask, q).cpu()
            for it, row, m, pp in zip(chunk, ret, r_mask.cpu(), p_pass):
                self.pool.append(
                    PoolItem(
                        it[0],
                        it[1],
                        it[2],
                        it[3],
                        it[4],
                        row[: int(m.sum())].tolist(),
                        task_id=it[5],
                        outcome=it[6],
                        critic_pass=pp,
                    )
                )
        self.setup_stats["pool_size"] = float(len(self.pool))
        if judged:
            self.setup_stats["critic_acc"] = hits / judged

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
                [p.prompt for p in batch], do_sample=False, max_new_tokens=self.max_new_tokens
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
        pairs = self._rng.sample(self.gt_pairs, min(self.ce_batch_size, len(self.gt_pairs)))
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
        n = self.num_samples
        with self.timed("gen", self._timings):
            roll = self.actor.generate(
                [p.prompt for p in problems],
                num_return_sequences=n,
                temperature=self.temperature,
                top_p=self.top_p,
                max_new_tokens=self.max_new_tokens,
            )
            stale = (
                [p for p in problems if self._baseline_stale(p.task_id)] if self.relative else []
            )
            greedy = (
                self.actor.generate(
                    [p.prompt for p in stale], do_sample=False, max_new_tokens=self.max_new_tokens
                ).texts
                if stale
                else []
            )
        rows = [problems[j // n] for j in range(len(roll.texts))]

        def judge():
            t0 = time.perf_counter()
            rb = score_programs(self.reward, rows + stale, roll.texts + greedy, self.executor)
            return rb, time.perf_counter() - t0

        pool = ThreadPoolExecutor(max_workers=1) if self.overlap_execution else None
        fut = pool.submit(judge) if pool is not None else None
        try:
            if fut is None:
                rb, t_reward = judge()
            prompts = [p.prompt for p in rows]
            # the critic's token logits do not depend on the outcome: compute them while the sandbox runs
            tok = None
            if self.critic is not None:
                with torch.no_grad():
                    self.critic.eval()
                    cp_ids, cp_mask = self.critic.backbone.encode_prompts(prompts)
                    tok = self.critic.token_logits(
                        cp_ids, cp_mask, roll.response_ids, roll.response_mask
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
            cls = torch.tensor([max(c, 0) for c in classes], device=tok.device)
            if self.critic.binary:
                cls = (cls == 3).long()
            q = token_class_probs(tok, cls, mask)
            unknown = torch.tensor([c < 0 for c in classes], device=q.device).unsqueeze(-1)
            q = torch.where(unknown, mask.to(q.dtype), q)
            pooled = self.critic.pool(tok, roll.response_mask)
        ret = token_returns(sequence_returns(r_t, b_t, self.relative), mask, q)
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
        every = self.baseline_refresh_every
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
        if uses_rl(step, self.mix):
            rl, stats = (
                self.online_rl_loss(batch) if self.mode == "online" else self.offline_rl_loss(batch)
            )
        if uses_ce(step, self.mix):
            with self.timed("update", self._timings):
                ce = self.ce_loss()
        if ce is None and rl is None:
            return None
        if self.mix == "alternate" and (
            (step % 2 == 0 and ce is None) or (step % 2 == 1 and rl is None)
        ):
            return None
        loss = mix_losses(ce, rl, step, self.mix, self.ce_weight, self.rl_weight)
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
            if self.critic is not None and self.critic.binary:
                y = (y == 3).long()
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
