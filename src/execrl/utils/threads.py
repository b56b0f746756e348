"""CPU thread settings, one function for train.py, generate.py and evaluate.py.

torch's intra-op pool (OpenMP) and the BLAS libraries start one spinning thread per core. Beside
the sandbox workers or another job that oversubscribes the CPU: a tiny-model RL step ran 8x slower
with 2 threads than with 1 on 2 cores, and generate.py 10-15x slower (issue 30). ``torch_threads``
(config) decides, the same key and default (1) everywhere; ``torch_threads=null`` leaves torch and
the environment as they are."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

log = logging.getLogger("execrl")

# read once when the library loads: set before torch / numpy are imported to take effect there, and
# inherited by every process started later (DataLoader workers, DDP ranks)
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def apply_thread_settings(cfg: Any) -> int | None:
    """Set the thread count ``cfg.torch_threads`` for torch (now, if it is loaded; else at its import,
    through ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``) and BLAS; returns it (None: nothing set).

    The config wins over those variables in the environment: a command gives the same throughput
    whatever shell it is started from. torch itself is never imported here (evaluate.py stays
    torch-free)."""
    n = cfg.get("torch_threads") if hasattr(cfg, "get") else cfg
    if not n:
        return None
    n = int(n)
    for key in THREAD_ENV:
        os.environ[key] = str(n)
    if n == 1:  # the Rust tokenizers' own pool, for the same reason (and no fork warning)
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    return n
