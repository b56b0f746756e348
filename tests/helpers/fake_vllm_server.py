"""A stand-in for execrl/rollout/vllm_server.py that speaks its protocol without vLLM, for fast
tests of the trainer side (:class:`execrl.rollout.engines.VLLMEngine`).

Rows are scripted by the test (``extra.rows``: one ``[tokens, finish]`` per sampled row, cycled),
sent back **last row first** (so a test sees that rows stream in finishing order and land in row
order), with log-prob -0.5 per token. Every message received is appended to ``extra.journal`` as a
JSON line, with the files of a ``load_weights`` folder and of a generate request's LoRA folder as
they were when it arrived."""

from __future__ import annotations

import json
import os
import sys
from multiprocessing.connection import Listener
from pathlib import Path


def main() -> None:
    cfg = json.loads(sys.argv[1])
    extra = cfg["extra"]
    listener = Listener(
        cfg["socket"], family="AF_UNIX", authkey=bytes.fromhex(os.environ["EXECRL_VLLM_AUTHKEY"])
    )
    conn = listener.accept()
    conn.send_bytes(json.dumps({"op": "ready", "pid": os.getpid(), "start_s": 0.0}).encode())
    with open(extra["journal"], "a") as journal:
        serve(conn, extra, journal)


def serve(conn, extra: dict, journal) -> None:
    while True:
        try:
            msg = json.loads(conn.recv_bytes())
        except EOFError:
            break
        note = dict(msg)
        for key in ("path",):
            if msg.get(key):
                note["files"] = sorted(p.name for p in Path(msg[key]).iterdir())
        if msg.get("lora"):
            note["lora_files"] = sorted(p.name for p in Path(msg["lora"]["path"]).iterdir())
        journal.write(json.dumps(note) + "\n")
        journal.flush()
        if msg["op"] == "generate":
            total = len(msg["prompts"]) * msg["n"]
            for row in reversed(range(total)):
                tokens, finish = extra["rows"][row % len(extra["rows"])]
                conn.send_bytes(
                    json.dumps(
                        {
                            "op": "row",
                            "row": row,
                            "tokens": tokens,
                            "logprobs": [-0.5] * len(tokens),
                            "finish": finish,
                            "stop_reason": None,
                        }
                    ).encode()
                )
            conn.send_bytes(json.dumps({"op": "done", "tokens": 0, "seconds": 0.0}).encode())
        elif msg["op"] == "close":
            conn.send_bytes(b'{"op": "ok"}')
            break
        else:
            conn.send_bytes(b'{"op": "ok"}')


if __name__ == "__main__":
    main()
