"""Typed config of the model group (``conf/model``): the actor :func:`execrl.models.actor.build_actor`
builds. A model yaml names ``/schema/model@_here_: actor`` (or another preset) and sets what differs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execrl.schema.store import store


@dataclass
class LoraConfig:
    """LoRA through peft: r > 0 trains adapters on target_modules only (execrl.models.lora)."""

    r: int = 0
    alpha: int | None = None  # null: 2 * r
    dropout: float = 0.0
    target_modules: list[str] = field(
        default_factory=lambda: [
            "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"
        ]
    )  # fmt: skip


@dataclass
class ModelConfig:
    """The actor: a pretrained model (hub id, local folder or ``pkg:<package>``) or one built from
    ``config`` with random init."""

    _target_: str = "execrl.models.actor.build_actor"
    arch: str = "seq2seq"  # or causal
    pretrained: str | None = None
    tokenizer: str | None = "builtin"  # null: the model's own (from pretrained)
    config: dict[str, Any] | None = None  # the architecture, when pretrained is null
    dtype: str | None = None  # the weights' dtype when loading (null: float32)
    gguf_file: str | None = None  # the weights as a GGUF file inside pretrained (null: safetensors)
    cache_dir: str | None = None  # null: $EXECRL_CACHE_DIR/models or ~/.cache/execrl/models
    max_prompt_len: int = 256
    # side cut from a long prompt: left keeps its end, right its beginning; every model follows
    # data.truncation_side (a Python caller without a data config gets left)
    prompt_truncation: str = "${oc.select:data.truncation_side,left}"
    max_new_tokens: int = 96
    # bf16: score responses (the RL/SFT forward and backward) under bfloat16 autocast, weights and
    # optimizer in float32; null: exact float32
    autocast: str | None = None
    # sample from a lower-precision copy (synced after every update); null: the training dtype
    sample_dtype: str | None = None
    # rows that repeat a prompt share one pass over it when scoring (same logits and gradients)
    share_prompts: bool = True
    # sampling removes each row from the batch and its KV cache the step it ends
    # (execrl.models.decoding); false: transformers' generate, which runs every row to the last one's end
    drop_finished: bool = True
    # completion: the dataset's prompt; instruct: chat prompts, fenced code answers (data follows)
    prompt_style: str = "completion"
    system_prompt: str | None = None  # null: the chat template's own
    lora: LoraConfig = field(default_factory=LoraConfig)
    adapter: str | None = None  # a saved peft adapter folder to load onto the model


store("model", "actor", ModelConfig)
