"""Typed config of the rollout group (``conf/rollout``): which engine samples RL's programs
(:mod:`execrl.rollout.engines`) and the vLLM engine's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execrl.schema.store import store


@dataclass
class VLLMConfig:
    """vLLM as its own process (TRL's server mode), from ``.venv-vllm`` (``make vllm``)."""

    python: str | None = None  # null: <project>/.venv-vllm/bin/python
    dtype: str = "bfloat16"
    threads: int | None = 1  # OMP_NUM_THREADS of the engine process (CPU)
    omp_threads_bind: str = "nobind"  # VLLM_CPU_OMP_THREADS_BIND: nobind | auto | cores, e.g. "1"
    kv_cache_gib: float = 2  # VLLM_CPU_KVCACHE_SPACE (CPU); on a GPU use gpu_memory_utilization
    enable_prefix_caching: bool = True  # the n samples of a prompt share its prefill
    max_num_seqs: int | None = None  # null: vLLM's default batch
    max_model_len: int | None = None  # null: model.max_prompt_len + model.max_new_tokens
    gpu_memory_utilization: float | None = None
    # the engine core inside the server process (VLLM_ENABLE_V1_MULTIPROCESSING=0)
    in_process: bool = True
    # adapter: a LoRARequest per sync | merged: LoRA merged, full weights loaded
    lora_sync: str = "adapter"
    weights_dir: str | None = "/dev/shm"  # where synced weights are written (tmpfs); null: temp dir
    start_timeout_s: float = 900
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # other vllm.LLM(...) arguments
    server: str | None = None  # the server script; null: execrl.rollout.vllm_server (tests swap it)


@dataclass
class RolloutConfig:
    """``rollout.engine=hf``: the actor's own sampling in the training process (bf16 copy,
    decoding loop); ``vllm``: vLLM, weights synced before each step's generation (LoRA adapters,
    or full weights)."""

    engine: str = "hf"
    # submit each program to the sandbox the moment it is decoded, not after the whole batch
    judge_as_generated: bool = True
    vllm: VLLMConfig = field(default_factory=VLLMConfig)


store("rollout", "default", RolloutConfig)
