"""Rollout engines: what samples the policy's programs during RL (``rollout.engine``).

- ``hf`` (default): the actor's own sampling in this process (:meth:`Actor.generate`: the bf16
  copy and the decoding loop). ``detached=True`` (``algo.async_rollouts``) samples from a private
  copy of the weights instead, so a background thread can generate while the update runs.
- ``vllm``: vLLM in its own process (TRL's server mode), :mod:`execrl.rollout.vllm_server` run by
  ``.venv-vllm``'s python (``make vllm``: vLLM pins a transformers the project's venv does not
  have). Prompts go as token ids, programs come back as token ids with the engine's log-probs,
  each as soon as it ends. The policy's weights reach it at every :meth:`VLLMEngine.sync`: the
  LoRA adapters (a vLLM ``LoRARequest`` with a new id and folder each time) or, for
  ``model.lora.r=0`` (or ``lora_sync=merged``), the full weights written to ``/dev/shm`` and
  loaded in place. The same code drives vLLM on a GPU.

Every engine returns the :class:`Rollout` the actor returns, with ``sample_logprobs`` (the
engine's log-probs of what it sampled); learning still recomputes log-probs with the training
model (:mod:`execrl.algos.rl_base`).
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import math
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from execrl.data import prompting
from execrl.models import lora as lora_lib
from execrl.models.actor import Actor, Rollout
from execrl.schema.overrides import configured
from execrl.schema.rollout import VLLMConfig

log = logging.getLogger("execrl")

ENGINES = ("hf", "vllm")
SERVER = Path(__file__).with_name("vllm_server.py")
MAKE_TARGET = "make vllm"
_VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)

OnRow = Callable[[int, str], None]


def build_engine(cfg: Mapping[str, Any] | None, actor: Actor, detached: bool = False) -> Any:
    """The engine ``cfg.engine`` names (``hf`` when there is no config), started."""
    cfg = dict(cfg or {})
    name = cfg.get("engine") or "hf"
    if name not in ENGINES:
        raise ValueError(f"rollout.engine must be one of {ENGINES}, got {name!r}")
    if name == "hf":
        return HFEngine(actor, detached=detached)
    return VLLMEngine(actor, **dict(cfg.get("vllm") or {}))  # Hydra's fields, or a Python dict


def trainable_version(actor: Actor) -> tuple:
    """Changes whenever the trainable weights change (in-place updates bump version counters)."""
    params = [p for p in actor.model.parameters() if p.requires_grad] or list(
        actor.model.parameters()
    )
    return (sum(p._version for p in params), tuple(id(p) for p in params[:4]))


def detached_actor(actor: Actor, model: nn.Module) -> Actor:
    """An :class:`Actor` with ``actor``'s settings around ``model``, with its own tokenizer (fast
    tokenizers must not be used from two threads at once) and no sampling copy of its own."""
    view = Actor.__new__(Actor)
    nn.Module.__init__(view)
    for k, v in vars(actor).items():
        if not k.startswith("_") and k != "training":
            view.__dict__[k] = v
    view.model = model
    view.tokenizer = copy.deepcopy(actor.tokenizer)
    view.sample_dtype = None
    return view


class HFEngine:
    """The actor's own sampling (``rollout.engine=hf``); ``detached``: from a private copy of the
    weights in ``model.sample_dtype`` (float32 when null), refreshed by :meth:`sync`."""

    name = "hf"

    def __init__(self, actor: Actor, detached: bool = False) -> None:
        self.detached = detached
        self._copy: Actor | None = None
        self._version: tuple | None = None
        self.syncs = 0

    def sync(self, actor: Actor) -> None:
        """Detached: copy the current (LoRA-merged) weights into the private copy."""
        if not self.detached:
            return
        key = trainable_version(actor)
        if self._copy is not None and key == self._version:
            return
        dtype = actor.sample_dtype if isinstance(actor.sample_dtype, torch.dtype) else None
        if self._copy is None:
            base = lora_lib.base_model(actor.model)
            model = type(base)(base.config).to(device=actor.device, dtype=dtype or torch.float32)
            model.eval().requires_grad_(False)
            model.generation_config = base.generation_config
            # buffers (RoPE frequencies) keep their precision, as the actor's sampling copy does
            for (_, buf), (_, mine) in zip(base.named_buffers(), model.named_buffers()):
                mine.data = buf.detach().clone()
            self._copy = detached_actor(actor, model)
        params = dict(self._copy.model.named_parameters())
        with torch.no_grad():
            for name, w in lora_lib.merged_parameters(actor.model):
                if name in params:
                    params[name].copy_(w)
        self._version = key
        self.syncs += 1

    def generate(self, actor: Actor, prompts: list[str], on_row: OnRow | None = None, **kw: Any):
        sampler = self._copy if self.detached and self._copy is not None else actor
        return sampler.generate(prompts, on_row=on_row, **kw)

    def close(self) -> None:
        self._copy = None


class EngineError(RuntimeError):
    pass


class VLLMEngine:
    """vLLM as a separate process (``rollout.engine=vllm``): see the module docstring."""

    name = "vllm"

    def __init__(self, actor: Actor, config: VLLMConfig | None = None, /, **overrides: Any) -> None:
        c = self.config = configured(VLLMConfig, config, overrides)
        python, dtype, lora_sync, weights_dir = c.python, c.dtype, c.lora_sync, c.weights_dir
        if actor.is_seq2seq:
            raise ValueError("rollout.engine=vllm samples causal models only (model.arch=causal)")
        if lora_sync not in ("adapter", "merged"):
            raise ValueError(f"rollout.vllm.lora_sync must be adapter|merged, got {lora_sync!r}")
        self.python = python or str(_project_root() / ".venv-vllm" / "bin" / "python")
        if not Path(self.python).exists():
            raise EngineError(
                f"rollout.engine=vllm needs vLLM's own environment, and {self.python} does not "
                f"exist: build it with `{MAKE_TARGET}` (make install tries it too), or point "
                "rollout.vllm.python at a python that has vLLM"
            )
        self.view = detached_actor(actor, actor.model)  # its tokenizer is the engine's own
        self.dtype = getattr(torch, dtype)
        self.lora = actor.has_adapters and lora_sync == "adapter"
        base = Path(weights_dir) if weights_dir and Path(weights_dir).is_dir() else None
        self.dir = Path(tempfile.mkdtemp(prefix="execrl-vllm-", dir=base))
        self._version: tuple | None = None
        self.syncs = 0
        self.sync_s = 0.0
        self._lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.conn = None
        atexit.register(self.close)
        model_dir = self.dir / "model"
        write_hf_folder(actor, model_dir, self.dtype, merged=not self.lora)
        cfg = {
            "socket": str(self.dir / "engine.sock"),
            "model": str(model_dir),
            "dtype": dtype,
            "seed": int(c.seed),
            "max_model_len": int(c.max_model_len or _model_len(actor)),
            "enable_prefix_caching": bool(c.enable_prefix_caching),
            "max_num_seqs": c.max_num_seqs,
            "gpu_memory_utilization": c.gpu_memory_utilization,
            "lora_rank": _vllm_lora_rank(actor) if self.lora else None,
            "extra": dict(c.extra or {}),
        }
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # the engine's venv, not the project's packages
        env.update(
            EXECRL_VLLM_AUTHKEY=(key := secrets.token_bytes(32)).hex(),
            VLLM_CPU_KVCACHE_SPACE=str(math.ceil(c.kv_cache_gib)),
            VLLM_CPU_OMP_THREADS_BIND=str(c.omp_threads_bind),
            VLLM_ENABLE_V1_MULTIPROCESSING="0" if c.in_process else "1",
            VLLM_NO_USAGE_STATS="1",
            DO_NOT_TRACK="1",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        if c.threads:
            env["OMP_NUM_THREADS"] = str(int(c.threads))
        self.log_path = self.dir / "engine.log"
        t0 = time.perf_counter()
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(
                [self.python, str(c.server or SERVER), json.dumps(cfg)],
                env=env,
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.conn = self._connect(cfg["socket"], key, c.start_timeout_s)
        ready = self._recv()
        self.start_s = time.perf_counter() - t0
        log.info(
            "vLLM engine ready in %.1f s (pid %s, %s, %s sync; log %s)",
            self.start_s,
            ready.get("pid"),
            dtype,
            "LoRA adapter" if self.lora else "full-weight",
            self.log_path,
        )
        if self.lora:  # the folder holds the base model: the current adapters go with requests
            self.sync(actor)
        else:  # the folder already holds the current weights
            self._version = trainable_version(actor)

    # ----------------------------------------------------------------- process plumbing
    def _connect(self, path: str, key: bytes, timeout: float):
        from multiprocessing.connection import Client

        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            self._check_alive()
            if time.monotonic() > deadline:
                raise EngineError(f"vLLM engine did not start in {timeout:.0f} s: {self._tail()}")
            time.sleep(0.2)
        box: dict[str, Any] = {}

        def connect() -> None:
            try:
                box["conn"] = Client(path, family="AF_UNIX", authkey=key)
            except Exception as e:  # the server died while loading
                box["error"] = e

        t = threading.Thread(target=connect, daemon=True)
        t.start()
        while t.is_alive():  # the handshake completes once the engine is built
            t.join(1.0)
            self._check_alive()
            if time.monotonic() > deadline:
                raise EngineError(f"vLLM engine did not start in {timeout:.0f} s: {self._tail()}")
        if "error" in box:
            raise EngineError(f"could not reach the vLLM engine: {box['error']}: {self._tail()}")
        return box["conn"]

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise EngineError(
                f"the vLLM engine exited with code {self.proc.returncode}: {self._tail()}"
            )

    def _tail(self, n: int = 3000) -> str:
        try:
            return "...\n" + self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no engine log)"

    def _send(self, msg: dict) -> None:
        self.conn.send_bytes(json.dumps(msg).encode())

    def _recv(self) -> dict:
        try:
            msg = json.loads(self.conn.recv_bytes())
        except (EOFError, OSError) as e:
            raise EngineError(f"lost the vLLM engine ({e}): {self._tail()}") from e
        if msg.get("op") == "error":
            raise EngineError(f"vLLM engine: {msg['error']}\n{msg.get('trace', '')}")
        return msg

    # ----------------------------------------------------------------- weights
    def sync(self, actor: Actor) -> None:
        """Hand the engine the actor's current weights, if they changed since the last sync."""
        key = trainable_version(actor)
        if key == self._version:
            return
        t0 = time.perf_counter()
        self.syncs += 1
        with self._lock:
            if self.lora:
                folder = self.dir / f"lora-{self.syncs}"
                actor.model.save_pretrained(str(folder))
                self._lora = {"name": f"policy-{self.syncs}", "id": self.syncs, "path": str(folder)}
            else:
                folder = self.dir / f"weights-{self.syncs}"
                folder.mkdir()
                write_weights(actor, folder / "model.safetensors", self.dtype)
                self._send({"op": "load_weights", "path": str(folder)})
                self._recv()
            # the engine has read (full weights) or will read (the next request's adapter) it;
            # older folders are no longer needed
            for old in self.dir.glob("lora-*" if self.lora else "weights-*"):
                if old != folder:
                    shutil.rmtree(old, ignore_errors=True)
        self._version = key
        self.sync_s += time.perf_counter() - t0

    # ----------------------------------------------------------------- sampling
    def generate(
        self,
        actor: Actor,
        prompts: list[str],
        *,
        num_return_sequences: int = 1,
        do_sample: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        max_new_tokens: int | None = None,
        on_row: OnRow | None = None,
    ) -> Rollout:
        """Sample like :meth:`Actor.generate` (same stop rules: EOS, the closing code fence of an
        instruct prompt, ``max_new_tokens``); ``on_row(row, program)`` as each program ends."""
        view, n = self.view, int(num_return_sequences)
        max_new = int(max_new_tokens or view.max_new_tokens)
        prompt_ids, prompt_mask = view.encode_prompts(prompts)
        ids = [row[m.bool()].tolist() for row, m in zip(prompt_ids.cpu(), prompt_mask.cpu())]
        sampling = {
            "do_sample": bool(do_sample),
            "temperature": max(float(temperature), 1e-5),
            "top_p": float(top_p),
            "top_k": int(top_k or 0),
            "max_new_tokens": max_new,
            "stop_token_ids": [view.eos_id],
            # the loop's FenceStop: a response (started inside the prompt's block) ends at its first fence
            "stop": [prompting.FENCE] if view.instruct else None,
        }
        rows: list[list[int] | None] = [None] * (len(ids) * n)
        lps: list[list[float] | None] = [None] * len(rows)
        with self._lock:
            self._send(
                {
                    "op": "generate",
                    "prompts": ids,
                    "n": n,
                    "sampling": sampling,
                    "lora": getattr(self, "_lora", None) if self.lora else None,
                }
            )
            while True:
                msg = self._recv()
                if msg["op"] == "done":
                    break
                toks, lp = list(msg["tokens"]), [float(x) for x in msg["logprobs"]]
                ended = msg["finish"] == "stop" and (not toks or toks[-1] != view.eos_id)
                if ended and len(toks) < max_new:
                    # a fence stop: the loop fills the row with EOS, so its mask ends right after
                    toks.append(view.eos_id)
                    lp.append(float("nan"))
                rows[msg["row"]], lps[msg["row"]] = toks, lp
                if on_row is not None:
                    resp = torch.tensor([toks or [view.eos_id]])
                    on_row(msg["row"], view.program_texts(resp)[1][0])
        width = max(1, *(len(r or []) for r in rows))
        response = torch.full((len(rows), width), view.pad_id, dtype=torch.long)
        sample_lp = torch.full((len(rows), width), float("nan"))
        for i, (r, lp) in enumerate(zip(rows, lps)):
            response[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            k = min(len(r), len(lp))
            sample_lp[i, :k] = torch.tensor(lp[:k], dtype=torch.float)
        dev = prompt_ids.device
        return view.rollout_of(prompt_ids, prompt_mask, response.to(dev), n, sample_lp.to(dev))

    def close(self) -> None:
        """Stop the engine process (idempotent; also at interpreter exit) and remove its files. A
        generation in flight (an async rollout nobody will take) is cut short: the process ends."""
        proc, self.proc = getattr(self, "proc", None), None
        if proc is not None and proc.poll() is None:
            try:
                if not self._lock.acquire(blocking=False):
                    raise TimeoutError("a request is in flight")
                try:
                    self._send({"op": "close"})
                finally:
                    self._lock.release()
                proc.wait(timeout=30)
            except Exception:  # busy, hung or half-dead: end it
                proc.kill()
                proc.wait()
        if getattr(self, "conn", None) is not None:
            self.conn.close()
            self.conn = None
        if getattr(self, "dir", None) is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------- weights on disk
def _project_root() -> Path:
    env = os.environ.get("PROJECT_ROOT")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for p in here.parents:
        if (p / ".project-root").exists():
            return p
    return Path.cwd()


def _model_len(actor: Actor) -> int:
    """Prompt plus response, within what the model's positions allow."""
    want = actor.max_prompt_len + actor.max_new_tokens
    most = getattr(lora_lib.base_model(actor.model).config, "max_position_embeddings", None)
    return min(want, int(most)) if most else want


def _vllm_lora_rank(actor: Actor) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds the actor's adapters."""
    r = max(int(c.r) for c in actor.model.peft_config.values())
    return next((x for x in _VLLM_LORA_RANKS if x >= r), r)


def base_state_dict(actor: Actor, merged: bool) -> dict[str, torch.Tensor]:
    """Hugging Face names -> weights: the base model's (``merged=False``: a LoRA actor's adapters
    left out) or the policy's (LoRA merged in); a tied output embedding is stored once."""
    base = lora_lib.base_model(actor.model)
    if merged:
        sd = dict(lora_lib.merged_parameters(actor.model))
    else:
        sd = {
            n.replace(".base_layer.", "."): p.detach()
            for n, p in base.named_parameters()
            if not lora_lib.is_adapter_key(n)
        }
    if getattr(base.config, "tie_word_embeddings", False):
        sd.pop("lm_head.weight", None)
    return sd


def write_weights(actor: Actor, path: Path, dtype: torch.dtype, merged: bool = True) -> None:
    from safetensors.torch import save_file

    sd = {k: v.to(dtype).contiguous().cpu() for k, v in base_state_dict(actor, merged).items()}
    save_file(sd, str(path), metadata={"format": "pt"})


def write_hf_folder(actor: Actor, folder: Path, dtype: torch.dtype, merged: bool = True) -> None:
    """A model folder vLLM loads: config, tokenizer and the weights the engine starts from (the
    current policy, LoRA merged; ``merged=False``: the base model, for LoRA adapter syncs)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = lora_lib.base_model(actor.model)
    base.config.save_pretrained(str(folder))
    actor.tokenizer.save_pretrained(str(folder))
    write_weights(actor, folder / "model.safetensors", dtype, merged=merged)


__all__ = [
    "ENGINES",
    "EngineError",
    "HFEngine",
    "VLLMEngine",
    "build_engine",
    "detached_actor",
    "trainable_version",
]
