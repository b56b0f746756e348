"""The algorithms' settings: SFT, repair, and the policy-gradient family (PPO, GRPO and its variants).

Each dataclass is the one source of its algorithm's defaults, the values ``train.py algo=<name>``
runs; ``conf/algo/<name>.yaml`` names it and keeps only what it changes, and a paper preset
(``conf/experiment/*_paper.yaml``) only what the paper changes. The modules take these objects
(``execrl.schema.build.instantiate``). Torch-free: composing a config stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from execrl.schema.sampling import REPAIR_TEMPLATE  # one format: algo=repair trains on it
from execrl.schema.store import store


@dataclass
class ActorModuleConfig:
    """What every algorithm that trains an actor has (``execrl.algos.base.ActorModule``)."""

    _target_: str = MISSING
    val_max_new_tokens: int | None = (
        None  # greedy validation length; null: the model's max_new_tokens
    )
    log_completions: int = 8  # rows of the completions tables (validation, and RL's training ones)


@dataclass
class SFTConfig(ActorModuleConfig):
    """Supervised warm start: CE on ground-truth programs (CodeRL stage S0); also ``warm_start.algo``."""

    _target_: str = "execrl.algos.sft.SFTModule"


@dataclass
class RepairConfig(ActorModuleConfig):
    """CodeRL's program repair model: SFT on (problem + failed program + its error -> a reference
    solution), pairs built from a ``critic_labels.jsonl``."""

    _target_: str = "execrl.algos.coderl.repair.RepairModule"
    labels_path: str = MISSING  # critic_labels.jsonl (evaluate.py's export or an algo=critic run's)
    solutions_per_program: int = 1  # reference solutions paired with each failed program
    template: str = REPAIR_TEMPLATE  # = sampling=critic's repair prompt
    batch_size: int = 16  # pairs per step


@dataclass
class RLConfig(ActorModuleConfig):
    """What PPO and GRPO share (``execrl.algos.rl_base.RLModule``): rollouts, the KL reference,
    the update loop, the CE anchor. Not an algorithm by itself."""

    # conf/algo/shared/rl.yaml points both at the run's sections (${reward}, ${rollout})
    reward: Any | None = None  # a reward config; null: CodeRL's graded unit-test reward
    rollout: Any | None = None  # the rollout engine's config; null: rollout.engine=hf's defaults
    # rollouts
    num_samples: int = 4  # programs per problem per iteration
    temperature: float = (
        1.0  # also divides the logits of the log-probs in the ratio and KL (as TRL)
    )
    top_k: int = 0
    top_p: float = 1.0
    max_new_tokens: int | None = None  # null: the model's max_new_tokens
    logprob_temperature: bool = (
        True  # score the ratio under the sampling temperature (TRL divides by T too)
    )
    # KL to the frozen reference (the SFT actor); coefficient 0: no reference pass, no frozen copy
    kl_coef: float = 0.0
    kl_estimator: str = "k3"  # reward term (PPO): k1 only; loss term (GRPO): k3 | mse
    # the update: ppo_epochs passes over the rollouts in minibatches, one optimizer step each
    ppo_epochs: int = 1  # TRL num_iterations
    minibatch_size: int = 64
    # the policy loss (execrl.algos.rl_core.POLICY_LOSSES) and the clipped surrogate's settings
    policy_loss: str = "clip"
    cliprange: float = 0.2  # epsilon (low)
    epsilon_high: float | None = None  # clip-higher (DAPO: 0.28); null = epsilon
    delta: float | None = None  # two-sided clip: cap on the unclipped ratio
    importance_sampling_level: str = "token"  # token | sequence (GSPO)
    max_grad_norm: float | None = (
        1.0  # clipping is done by the module (manual optimisation); null: none
    )
    # execrl's CE anchor on SFT solutions (0: none)
    ce_coef: float = 0.0
    ce_batch_size: int = 16
    completions_every: int = 50  # log a training completions table every N steps; 0 never
    # step t+1's rollouts generated while step t's update runs: one step off-policy (train/staleness)
    async_rollouts: bool = False
    # TRL's truncated importance sampling: the loss weighted by min(exp(trainer lp - engine lp), cap)
    # (GRPO; null: off; the gap itself is always logged as train/engine/logprob_gap)
    tis_cap: float | None = None


@dataclass
class PPOConfig(RLConfig):
    """PPO with a value head on the actor (PPOCoder's algorithm), with execrl's measured settings
    (README "Performance"); PPOCoder's released ones are ``experiment=ppocoder_paper``."""

    _target_: str = "execrl.algos.ppo.PPOModule"
    top_k: int = 5  # PPOCoder's "action space size" (asp)
    kl_coef: float = 0.1  # initial beta (PPOCoder run.sh)
    adaptive_kl: bool = True  # Ziegler et al.'s controller
    kl_target: float = 1.0
    kl_horizon: float = 10000
    # the per-token reward penalty: only k1 (log pi - log ref) gives the KL's gradient as a
    # detached reward (k3 there points about the opposite way; tests/algos)
    kl_estimator: str = "k1"
    gamma: float = 1.0
    # upstream 0.95: with an untrained value head, lam<1 shrinks early tokens' credit by lam^(T-t)
    lam: float = 1.0
    cliprange_value: float = 0.2
    vf_coef: float = 0.1  # upstream 1e-3
    whiten: str = "batch"  # advantages: batch | sequence (upstream) | none
    whiten_rewards: bool = False  # TRL option: whiten token rewards (scale only) before GAE
    missing_eos_penalty: float | None = (
        None  # TRL option: subtracted from the score of a response cut before EOS
    )
    value_dropout: float = 0.0  # upstream 0.1
    ce_coef: float = 1.0  # CE anchor on SFT solutions (as CodeRL mixes CE); 0: pure PPO


@dataclass
class GRPOConfig(RLConfig):
    """GRPO with TRL GRPOTrainer's objective and defaults (loss_type dapo, beta 0, group-std
    advantages, eps 0.2, temperature 1.0, every sampled row in the loss)."""

    _target_: str = "execrl.algos.grpo.GRPOModule"
    num_samples: int = 8  # group size (TRL num_generations)
    loss_type: str = "dapo"  # grpo | bnpo | dr_grpo | dapo (TRL's default)
    # dapo's token count: of the whole generation batch, as TRL's num_items_in_batch (when a
    # step's rollouts span several minibatches, each optimizer step's loss is its share of that
    # token mean) | of the minibatch (execrl before: each step a token mean of its own)
    loss_normalizer_scope: str = "generation_batch"
    scale_rewards: str = "group"  # group | batch | none (Dr. GRPO)
    # the advantages (execrl.algos.rl_core.ADVANTAGES, or a dotted path of f(rewards, valid)):
    # grpo (group mean and scale_rewards) | rloo (conf/algo/rloo.yaml)
    advantage_fn: str = "grpo"
    # TRL 1.16's use_bias_correction_kl: KL_t times the ratio (same value, reverse-KL gradient)
    kl_bias_correction: bool = True
    mask_truncated_completions: bool = False
    overlong_buffer: int = 0  # DAPO soft overlong penalty over the last N tokens; 0 off
    overlong_penalty: float = 1.0
    dynamic_sampling: bool = False  # DAPO: refill the batch with groups whose rewards differ
    dynamic_sampling_max_rounds: int = 3
    # true: execrl's earlier objective (not TRL's): zero-advantage groups leave the loss
    drop_zero_advantage_rows: bool = False


store("algo", "sft", SFTConfig)
store("algo", "repair", RepairConfig)
store("algo", "ppo", PPOConfig)
store("algo", "grpo", GRPOConfig)
