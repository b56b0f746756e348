"""Sampling configs (``conf/sampling``, ``generate.py``): plain sampling and CodeRL's Critic Sampling.

What both share (decoding and the per-dataset post-processing of each program) is one dataclass,
:class:`SamplingConfig`; each sampler adds its own keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from execrl.schema.store import store

# the paper's repair input: problem, failed program, error type (class), subtype and message
# (= algo=repair's training format)
REPAIR_TEMPLATE = (
    "{prompt}\n# Previous attempt:\n{program}\n# It fails with {error_class} ({error_subtype}): {error}\n"
    "# Corrected program:\n"
)


@dataclass
class SamplingConfig:
    """Decoding and post-processing, shared by every sampler."""

    n: int = 1  # programs per problem
    temperature: float = 0.6  # CodeRL generate.py: T 0.6, top-p 0.95
    top_p: float = 0.95
    top_k: int = 0
    max_new_tokens: int | None = None  # null: the model config's max_new_tokens
    stop: list[str] | None = None  # null: the dataset's (its reader's execrl.data.conventions)
    strip_fences: bool = True  # keep the body of a ```python block
    untab: bool = False  # leading tabs -> 4 spaces (CodeRL-trained checkpoints indent with tabs)
    starter_code: bool = (
        True  # prepend APPS starter code the program continued instead of repeating
    )


@dataclass
class PlainSamplingConfig(SamplingConfig):
    """``sampling=plain`` (CodeRL generate.py): ``n`` programs per problem in rounds of ``n_per_round``."""

    _target_: str = "execrl.rollout.plain.PlainSampler"
    n_per_round: int | None = None  # null: all n in one generate call per batch
    greedy: bool = False  # the greedy baseline (n must be 1)
    logprobs: bool = True  # record each sample's summed token log-prob (one extra forward pass)


@dataclass
class CriticSamplingConfig(SamplingConfig):
    """``sampling=critic``: the CodeRL paper's Critic Sampling (``execrl.algos.coderl.critic_sampling``)."""

    _target_: str = "execrl.algos.coderl.critic_sampling.CriticSampler"
    n: int = 8  # programs sampled first (paper: N = 200)
    critic_ckpt: str | None = None  # an algo=critic checkpoint (the paper's critic is binary)
    repair_ckpt: str | None = (
        None  # a repair model (actor checkpoint); null: the actor with repair_template
    )
    n_refine: int | None = None  # programs added per refine/repair round; null: n
    rounds: int = 1  # refine/repair rounds (paper: 1)
    max_seeds: int | None = (
        None  # refine from at most this many passing programs (best critic score first)
    )
    repair_top_m: int = 1  # failing programs repaired (paper's best: M = 1)
    repair_template: str = REPAIR_TEMPLATE
    example_fallback: str = (
        "prompt"  # problems without example tests: prompt (asserts quoted in it) | compile
    )
    critic_batch_size: int = 32


store("sampling", "plain", PlainSamplingConfig)
store("sampling", "critic", CriticSamplingConfig)
