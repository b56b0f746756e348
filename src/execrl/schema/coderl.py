"""CodeRL's configs: the critic network, ``algo=critic`` (stage S3) and ``algo=coderl`` (stage S5).

Each default is what ``train.py algo=...`` runs; the paper's values are in
``conf/experiment/coderl_paper.yaml`` (pinned to upstream in tests/test_coderl_paper_preset.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execrl.schema.algos import ActorModuleConfig
from execrl.schema.store import store


def _one_of(key: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{key} must be {'|'.join(map(str, allowed))}, got {value!r}")


@dataclass
class CriticNetConfig:
    """The critic network (``execrl.algos.coderl.critic_model``): a code LM plus an error head."""

    # null: the actor's architecture (cfg.model); or a model config, e.g. CodeT5-base's
    backbone: Any | None = None
    # backbone=null only: actor (a copy of the warm-start actor's weights) | base (the model
    # config's own weights, before the warm start: upstream's train_critic.sh --model codet5-base)
    # | random (re-initialised)
    init: str = "actor"
    num_classes: int = 4  # CodeRL's classes: compile_error, runtime_error, failed, passed
    binary: bool = False  # true: passed vs not (Critic Sampling's critic)
    head_hidden: int = 128  # error head: Linear(d, 128) -> ReLU -> Linear(128, C)
    pooling: str = "max"  # max (CodeRL) | mean: token logits -> sequence prediction
    mask_padding: bool = True  # false reproduces upstream: max-pool includes padded positions
    rescale_hidden: bool = True  # T5 tied embeddings: head reads hidden * d^-0.5, as upstream

    def __post_init__(self) -> None:
        _one_of("critic.init", self.init, ("actor", "base", "random"))
        _one_of("critic.pooling", self.pooling, ("max", "mean"))
        _one_of("critic.num_classes", self.num_classes, (4, 2))


@dataclass
class CriticConfig(ActorModuleConfig):
    """``algo=critic``: train a critic on labelled programs (``execrl.algos.coderl.critic``)."""

    _target_: str = "execrl.algos.coderl.critic.CriticModule"
    critic: CriticNetConfig = field(default_factory=CriticNetConfig)
    labels_path: str | None = (
        None  # critic_labels.jsonl (task_id, program, outcome, class); null: sample at setup
    )
    add_ground_truth: bool = (
        True  # labels_path: add the tasks' ground-truth solutions as passed (CodeRL)
    )
    label_problems: int = 200  # train problems sampled for labels when labels_path=null
    samples_per_problem: int = 4  # CodeRL: ~20 per train problem
    temperature: float = 0.6
    top_p: float = 0.95
    batch_size: int = 16  # labelled programs per step (CodeRL: 8)
    val_fraction: float = 0.1  # tasks held out for val/critic_acc, per-class F1, confusion matrix
    save_labels: bool = True  # write <run dir>/critic_labels.jsonl when sampled


@dataclass
class CodeRLConfig(ActorModuleConfig):
    """``algo=coderl``: CE on ground truth + critic-weighted RL (``execrl.algos.coderl.module``)."""

    _target_: str = "execrl.algos.coderl.module.CodeRLModule"
    reward: Any | None = None  # a reward config; null: CodeRL's graded unit-test reward
    mode: str = "offline"  # offline (fixed pool, published) | online (sample every RL step)
    relative_returns: bool = (
        True  # r = R(sample) - R(greedy baseline) (CodeRL --relative_returns); false: R(sample)
    )
    token_weights: str = (
        "critic"  # critic: r_t = q_t * r (q_t = critic prob. of the true class) | uniform: r_t = r
    )
    mix: str = (
        "alternate"  # alternate: CE on even, RL on odd micro-batches (upstream) | sum: every step
    )
    ce_weight: float = 1.0  # the paper weighs L_ce and L_rl equally
    rl_weight: float = 1.0
    ce_batch_size: int = (
        16  # ground-truth programs per CE micro-batch (random problems, as upstream)
    )
    # used when critic_ckpt=null: trained at fit start (see conf/algo/critic.yaml)
    critic: CriticNetConfig = field(default_factory=CriticNetConfig)
    critic_ckpt: str | None = None  # an algo=critic checkpoint
    critic_train_steps: int = 200
    critic_label_problems: int = 100  # train problems sampled to label programs for that critic
    critic_samples_per_problem: int = 4
    critic_lr: float = 1e-3
    critic_weight_decay: float = 0.01
    critic_batch_size: int = 16
    num_samples: int = 4  # online: programs per problem per RL step
    temperature: float = 0.6  # CodeRL sampling: T 0.6, top-p 0.95
    top_p: float = 0.95
    max_new_tokens: int | None = None  # null: the model's max_new_tokens
    baseline_refresh_every: int = (
        0  # online: recompute a problem's greedy baseline after N steps; 0 never (upstream)
    )
    overlap_execution: bool = (
        True  # online: judge in a thread while the critic and actor score the samples
    )
    offline_problems: int = 200  # offline: RL problems in the fixed pool
    offline_samples: int = 4  # offline: programs per problem (+1 greedy baseline)
    offline_labels: str | None = (
        None  # offline: read the pool from critic_labels.jsonl (source sample/baseline)
    )
    rl_batch_size: int = 16  # offline: pool programs per RL micro-batch
    seed: int = 0

    def __post_init__(self) -> None:
        _one_of("algo.mode", self.mode, ("offline", "online"))
        _one_of("algo.token_weights", self.token_weights, ("critic", "uniform"))
        _one_of("algo.mix", self.mix, ("alternate", "sum"))


store("algo", "critic", CriticConfig)
store("algo", "coderl", CodeRLConfig)
