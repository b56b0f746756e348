"""CodeRL's critic: a code LM that reads (problem, program) and predicts the program's outcome class.

Architecture (CodeRL's ``modeling_t5.py`` and ``trainers/trainer_rl.py:compute_loss``): the backbone is teacher-forced on the
candidate program; an error head ``Linear(d -> 128) -> ReLU -> Linear(128 -> C)`` is applied to
every response position's final hidden state (after T5's tied-embedding rescale ``d^-0.5``),
giving per-token class logits ``[B, T, C]``. The sequence prediction pools those token logits
over time. ``C`` is 4 (``outcomes.CLASS_NAMES``: compile error, runtime error, failed, passed) or 2
(binary: not passed / passed, the critic of Critic Sampling).

Flags for the upstream quirks:

- ``pooling``: ``max`` (upstream) or ``mean`` over time.
- ``mask_padding``: upstream max-pools over padded positions too (``False`` reproduces it);
  ``True`` (default) pools over the response tokens only.

The backbone is an :class:`~execrl.models.actor.Actor` (built like the actor, or a copy of it), so
the critic's token positions line up with the actor's response tokens, which the token-level
returns need.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from execrl.models.actor import Actor, build_actor
from execrl.rewards.outcome_rewards import CLASS_NAMES
from execrl.schema.coderl import CriticNetConfig

BINARY_CLASS_NAMES = ["not_passed", "passed"]


class Critic(nn.Module):
    """Per-token outcome-class logits and a pooled sequence prediction over an actor-like backbone."""

    def __init__(
        self,
        backbone: Actor,
        *,
        num_classes: int,
        head_hidden: int,
        pooling: str,
        mask_padding: bool,
        rescale_hidden: bool,
    ) -> None:
        super().__init__()
        if pooling not in ("max", "mean"):
            raise ValueError(f"critic pooling must be 'max' or 'mean', got {pooling!r}")
        if num_classes not in (2, 4):
            raise ValueError(
                f"critic num_classes must be 4 (CodeRL classes) or 2 (binary), got {num_classes}"
            )
        self.backbone = backbone
        self.num_classes = num_classes
        self.pooling = pooling
        self.mask_padding = mask_padding
        cfg = backbone.model.config
        # T5 rescales the tied decoder output by d^-0.5 before the LM head; CodeRL's error head
        # reads that rescaled state.
        self.scale = (
            backbone.hidden_size**-0.5
            if (
                rescale_hidden
                and backbone.is_seq2seq
                and getattr(cfg, "tie_word_embeddings", False)
            )
            else 1.0
        )
        self.head = nn.Sequential(
            nn.Linear(backbone.hidden_size, head_hidden),
            nn.ReLU(),
            nn.Linear(head_hidden, num_classes),
        )

    @property
    def binary(self) -> bool:
        return self.num_classes == 2

    @property
    def class_names(self) -> list[str]:
        return BINARY_CLASS_NAMES if self.binary else CLASS_NAMES

    @property
    def passed_class(self) -> int:
        return self.num_classes - 1

    def targets(self, classes: torch.Tensor) -> torch.Tensor:
        """CodeRL class indices (0..3) as this critic's classes (binary: 1 = passed)."""
        return (classes == len(CLASS_NAMES) - 1).long() if self.binary else classes.long()

    # ------------------------------------------------------------------ forward
    def token_logits(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        response_ids: torch.Tensor,
        response_mask: torch.Tensor,
    ) -> torch.Tensor:
        """``[B, T, C]`` class logits; position ``t`` has read the prompt and ``response[:t]``."""
        _, hidden = self.backbone.forward_responses(
            prompt_ids, prompt_mask, response_ids, response_mask
        )
        return self.head(hidden.float() * self.scale)

    def prompt_token_logits(
        self, prompts: list[str], response_ids: torch.Tensor, response_mask: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`token_logits` for text prompts (encoded by the critic's backbone) and response ids
        (the actor's: the critic shares its tokenizer, so positions line up)."""
        p_ids, p_mask = self.backbone.encode_prompts(prompts)
        return self.token_logits(p_ids, p_mask, response_ids, response_mask)

    def pool(self, token_logits: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
        """Sequence logits ``[B, C]`` from token logits, per the ``pooling``/``mask_padding`` flags."""
        return pool_logits(token_logits, response_mask, self.pooling, self.mask_padding)

    def forward(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        response_ids: torch.Tensor,
        response_mask: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        tok = self.token_logits(prompt_ids, prompt_mask, response_ids, response_mask)
        return {"token_logits": tok, "logits": self.pool(tok, response_mask)}

    def outcome_weights(
        self, token_logits: torch.Tensor, classes: list[int], mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CodeRL's token weights and the pooled prediction: ``q[b, t] = softmax(token_logits[b,
        t])[classes[b]]`` of each row's true outcome class (CodeRL's ``generate.py:
        generate_critic_inputs``), 0 on padding; a row of unknown class (-1) weighs each token 1."""
        cls = self.targets(torch.tensor([max(c, 0) for c in classes], device=token_logits.device))
        q = token_class_probs(token_logits, cls, mask)
        unknown = torch.tensor([c < 0 for c in classes], device=q.device).unsqueeze(-1)
        return torch.where(unknown, mask.to(q.dtype), q), self.pool(token_logits, mask)

    # ------------------------------------------------------------------ text helpers
    def encode(self, prompts: list[str], programs: list[str]) -> tuple[torch.Tensor, ...]:
        """Prompt and response tensors for text pairs, tokenized like the actor's ground truth."""
        p_ids, p_mask = self.backbone.encode_prompts(prompts)
        r_ids, r_mask = self.backbone.encode_responses(programs)
        return p_ids, p_mask, r_ids, r_mask

    def score_texts(self, prompts: list[str], programs: list[str]) -> dict[str, torch.Tensor]:
        """Forward on text pairs; also returns the response ids and mask used."""
        p_ids, p_mask, r_ids, r_mask = self.encode(prompts, programs)
        out = self(p_ids, p_mask, r_ids, r_mask)
        out.update(response_ids=r_ids, response_mask=r_mask)
        return out


def pool_logits(
    token_logits: torch.Tensor, mask: torch.Tensor, pooling: str, mask_padding: bool
) -> torch.Tensor:
    """Max- or mean-pool ``[B, T, C]`` over time; with ``mask_padding=False`` padded positions count
    too (upstream CodeRL max-pools the whole padded length)."""
    if not mask_padding:
        return token_logits.max(dim=1).values if pooling == "max" else token_logits.mean(dim=1)
    m = mask.bool().unsqueeze(-1)
    if pooling == "max":
        return token_logits.masked_fill(~m, torch.finfo(token_logits.dtype).min).max(dim=1).values
    mf = m.to(token_logits.dtype)
    return (token_logits * mf).sum(1) / mf.sum(1).clamp(min=1)


def token_class_probs(
    token_logits: torch.Tensor, classes: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Per-token probability of each row's class, zero where ``mask`` is 0."""
    probs = torch.softmax(token_logits.float(), dim=-1)
    idx = classes.long().to(probs.device).view(-1, 1, 1).expand(-1, probs.shape[1], 1)
    return probs.gather(-1, idx).squeeze(-1) * mask.to(probs.dtype)


def build_critic(config: CriticNetConfig, actor: Actor | None = None) -> Critic:
    """Build a critic.

    - ``config.backbone``: a model config (as ``conf/model/*.yaml``) for ``build_actor``, e.g.
      CodeT5-base; it then loads/initialises independently of the actor.
    - otherwise the backbone shares the actor's architecture: ``init="actor"`` copies the actor's
      weights (in the embedded setting there is no pretrained critic LM, and the warm-start actor
      is the best code LM available), ``init="base"`` builds it from the actor's model config (its
      pretrained weights, before any warm start: upstream trains its critic from ``codet5-base``),
      ``init="random"`` re-initialises it from the same config.
    """
    if config.backbone:
        bb = build_actor(**{k: v for k, v in dict(config.backbone).items() if k != "_target_"})
    elif actor is None:
        raise ValueError("build_critic needs an actor to copy or a backbone model config")
    elif config.init == "base":
        if not getattr(actor, "build_cfg", None):
            raise ValueError("critic init=base needs the actor's model config (actor.build_cfg)")
        bb = build_actor(**{k: v for k, v in actor.build_cfg.items() if k != "_target_"})
    else:
        bb = copy.deepcopy(actor)
        if config.init == "random":
            bb.model = type(actor.model)(actor.model.config)
    return Critic(
        bb,
        num_classes=2 if config.binary else config.num_classes,
        head_hidden=config.head_hidden,
        pooling=config.pooling,
        mask_padding=config.mask_padding,
        rescale_hidden=config.rescale_hidden,
    )


def checkpoint_config(config: CriticNetConfig, model_cfg: dict | None) -> dict[str, Any]:
    """What a critic checkpoint records to rebuild it (``execrl_critic_cfg``): its config, with
    the backbone's model config written out (the actor's when the critic shares its shape)."""
    return {**asdict(config), "backbone": config.backbone or model_cfg}


def load_critic(ckpt_path: str, actor: Actor | None = None) -> Critic:
    """Rebuild a critic from an ``algo=critic`` checkpoint (its saved config, or ``actor``'s shape)."""
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    cfg = dict(ck.get("execrl_critic_cfg") or {})
    if cfg.get("backbone") is None and actor is None:
        raise KeyError(
            f"{ckpt_path} saved no critic backbone config; pass the actor whose shape it shares"
        )
    cfg["init"] = "actor"  # weights come from the checkpoint below
    critic = build_critic(CriticNetConfig(**cfg), actor=actor)
    sd = {k[len("critic.") :]: v for k, v in ck["state_dict"].items() if k.startswith("critic.")}
    if not sd:
        raise KeyError(
            f"{ckpt_path} holds no 'critic.*' weights (is it an algo=critic checkpoint?)"
        )
    critic.load_state_dict(sd)
    return critic
