"""What many tests share: the project root, Hydra compose against the repo's conf/, running an
entry point as a user would, and skip marks for missing toolchains. Importing it sets the test
environment (offline wandb and hub)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

__all__ = [
    "PYTHON",
    "ROOT",
    "TINY",
    "compose",
    "has_toolchain",
    "requires_csharp",
    "requires_java_cpp",
    "requires_php",
    "run_cli",
]

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here: fail fast instead of retrying
PYTHON = sys.executable

# randomly initialised actors small enough for unit tests, by architecture (build_actor config=)
TINY = {
    "seq2seq": dict(
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=4,
        dropout_rate=0.0,
    ),
    "causal": dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
    ),
}

from execrl.utils.config import compose  # noqa: E402  (after the env above)


def has_toolchain(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


requires_java_cpp = pytest.mark.skipif(
    not has_toolchain("javac", "java", "g++"), reason="Requires: javac, java, g++"
)
requires_csharp = pytest.mark.skipif(
    not has_toolchain("mcs", "mono"), reason="Requires: mcs, mono (apt: mono-mcs mono-runtime)"
)
requires_php = pytest.mark.skipif(not has_toolchain("php"), reason="Requires: php (apt: php-cli)")


def run_cli(script: str, *overrides: str, timeout: int = 600, cwd: Path = ROOT):
    """Run a top-level entry point (train.py / generate.py / evaluate.py) like a user would."""
    import subprocess

    env = {
        **os.environ,
        "PROJECT_ROOT": str(ROOT),
        "WANDB_MODE": "offline",
        "HYDRA_FULL_ERROR": "1",
    }
    return subprocess.run(
        [PYTHON, str(ROOT / script), *overrides],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def model_from_conf(name: str = "tiny_t5", **overrides):
    """The actor ``model=<name>`` builds (its composed config, schema defaults included)."""
    import hydra

    return hydra.utils.instantiate(compose("train", [f"model={name}"]).model, **overrides)
