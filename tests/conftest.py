"""Shared fixtures: Hydra compose against the repo's conf/, the project root, fast trainer settings."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here: fail fast instead of retrying
PYTHON = sys.executable

from execrl.utils.config import compose  # noqa: E402  (after the env above; tests import it from here)


def has_toolchain(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


requires_java_cpp = pytest.mark.skipif(
    not has_toolchain("javac", "java", "g++"), reason="Requires: javac, java, g++"
)
requires_csharp = pytest.mark.skipif(
    not has_toolchain("mcs", "mono"), reason="Requires: mcs, mono (apt: mono-mcs mono-runtime)"
)
requires_php = pytest.mark.skipif(not has_toolchain("php"), reason="Requires: php (apt: php-cli)")


@pytest.fixture
def compose_cfg():
    return compose


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


@pytest.fixture(scope="session")
def executor():
    """One sandbox pool shared by the tests that only need default behaviour."""
    from execrl.execution import Executor

    with Executor(workers=2, timeout_s=2.0, memory_mb=256) as ex:
        yield ex


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """As hardware=cpu does: one intra-op thread is several times faster on a shared 2-core CPU."""
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)
