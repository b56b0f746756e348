"""The vLLM rollout engine as its own process (``rollout.engine=vllm``), TRL's server mode.

Run by ``.venv-vllm``'s python (``make vllm``), never imported by execrl: vLLM pins a
transformers the project's venv does not have, so this file imports only the standard library,
vLLM and safetensors. The trainer (:class:`execrl.rollout.engines.VLLMEngine`) starts it and talks
to it over a ``multiprocessing.connection`` socket (authenticated with a key it passes in
``EXECRL_VLLM_AUTHKEY``), one JSON message per ``send_bytes``:

- ``{"op": "generate", "prompts": [[ids]], "n", "sampling": {...}, "lora": {name, id, path}|null}``
  -> one ``{"op": "row", "row", "tokens", "logprobs", "finish"}`` per sampled program **as soon as
  it finishes** (so the trainer judges it while the rest decode), then ``{"op": "done"}``;
- ``{"op": "load_weights", "path": folder}`` -> the folder's safetensors loaded in place
  (``reload_weights``), the prefix cache reset, ``{"op": "ok"}``;
- ``{"op": "close"}``.

Each program is its own request (``n=1``, the prompt shared through the prefix cache), so it comes
back the step it ends. No per-request ``seed``: it kills the CPU engine ("CPU Generator does not
use offset"); the engine's own seed is set once. Log-probs are vLLM's ``processed_logprobs``: the
sampled token's log-prob under the distribution it was drawn from (temperature, top-k, top-p).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from multiprocessing.connection import Listener


def send(conn, msg: dict) -> None:
    conn.send_bytes(json.dumps(msg).encode())


def build_llm(cfg: dict):
    from vllm import LLM

    kw = dict(
        model=cfg["model"],
        dtype=cfg.get("dtype", "bfloat16"),
        seed=int(cfg.get("seed", 0)),
        max_model_len=int(cfg["max_model_len"]),
        enable_prefix_caching=bool(cfg.get("enable_prefix_caching", True)),
        logprobs_mode="processed_logprobs",
        generation_config="vllm",  # the trainer's sampling settings only, not the model's defaults
        disable_log_stats=True,
    )
    if cfg.get("max_num_seqs"):
        kw["max_num_seqs"] = int(cfg["max_num_seqs"])
    if cfg.get("gpu_memory_utilization"):
        kw["gpu_memory_utilization"] = float(cfg["gpu_memory_utilization"])
    if cfg.get("lora_rank"):
        kw.update(enable_lora=True, max_lora_rank=int(cfg["lora_rank"]), max_loras=1)
    kw.update(cfg.get("extra") or {})
    return LLM(**kw)


def generate(llm, conn, msg: dict, counter: list[int]) -> None:
    from vllm import SamplingParams
    from vllm.lora.request import LoRARequest
    from vllm.sampling_params import RequestOutputKind

    s = msg["sampling"]
    params = SamplingParams(
        n=1,
        temperature=float(s.get("temperature", 1.0)) if s.get("do_sample", True) else 0.0,
        top_p=float(s.get("top_p", 1.0)),
        top_k=int(s.get("top_k") or 0),
        max_tokens=int(s["max_new_tokens"]),
        stop=s.get("stop") or None,
        stop_token_ids=s.get("stop_token_ids") or None,
        logprobs=0,
        output_kind=RequestOutputKind.FINAL_ONLY,
    )
    lora = msg.get("lora")
    lora_req = LoRARequest(lora["name"], int(lora["id"]), lora["path"]) if lora else None
    engine = llm.llm_engine
    n = int(msg["n"])
    rows: dict[str, int] = {}
    for i, ids in enumerate(msg["prompts"]):
        for j in range(n):
            counter[0] += 1
            rid = f"r{counter[0]}"
            rows[rid] = i * n + j
            engine.add_request(rid, {"prompt_token_ids": ids}, params, lora_request=lora_req)
    t0, tokens = time.perf_counter(), 0
    while engine.has_unfinished_requests():
        for out in engine.step():
            if not out.finished or out.request_id not in rows:
                continue
            comp = out.outputs[0]
            lps = [
                d[tok].logprob if d and tok in d else float("nan")
                for tok, d in zip(comp.token_ids, comp.logprobs or [])
            ]
            tokens += len(comp.token_ids)
            send(
                conn,
                {
                    "op": "row",
                    "row": rows.pop(out.request_id),
                    "tokens": list(comp.token_ids),
                    "logprobs": lps,
                    "finish": comp.finish_reason,
                    "stop_reason": comp.stop_reason
                    if isinstance(comp.stop_reason, (int, str))
                    else None,
                },
            )
    send(conn, {"op": "done", "tokens": tokens, "seconds": time.perf_counter() - t0})


def load_weights(llm, path: str) -> None:
    """New weights in place (checkpoint-format safetensors in folder ``path``); the cached
    prefixes were computed with the old ones."""
    llm.collective_rpc("reload_weights", kwargs={"weights_path": path})
    llm.reset_prefix_cache()


def watch_parent(ppid: int) -> None:
    """Exit when the trainer is gone, however it died (no orphaned engine holding memory)."""
    while True:
        if os.getppid() != ppid:
            os._exit(0)
        time.sleep(2)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    key = bytes.fromhex(os.environ.pop("EXECRL_VLLM_AUTHKEY"))
    listener = Listener(cfg["socket"], family="AF_UNIX", authkey=key)
    t0 = time.perf_counter()
    llm = build_llm(cfg)
    ready = time.perf_counter() - t0
    conn = listener.accept()
    send(conn, {"op": "ready", "start_s": ready, "pid": os.getpid()})
    counter = [0]
    while True:
        try:
            msg = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            break
        op = msg.get("op")
        try:
            if op == "generate":
                generate(llm, conn, msg, counter)
            elif op == "load_weights":
                load_weights(llm, msg["path"])
                send(conn, {"op": "ok"})
            elif op == "close":
                send(conn, {"op": "ok"})
                break
            else:
                send(conn, {"op": "error", "error": f"unknown op {op!r}"})
        except Exception as e:  # the trainer raises it; the engine stays up for the next message
            import traceback

            send(
                conn,
                {
                    "op": "error",
                    "error": f"{type(e).__name__}: {e}",
                    "trace": traceback.format_exc()[-4000:],
                },
            )
    conn.close()
    listener.close()


if __name__ == "__main__":  # vLLM spawns its engine process: the guard is required
    main()
