"""The three entry points set torch's thread count from ``torch_threads`` (execrl.utils.threads),
before their task runs: generate.py used not to, and ran 10-15x slower beside a busy process."""

from __future__ import annotations

import importlib
import os
import runpy
import sys

import pytest
import torch

from execrl.utils.threads import THREAD_ENV, apply_thread_settings

from helpers.common import ROOT


@pytest.fixture
def restore_threads(monkeypatch):
    """Put torch's thread count and the thread variables back as they were."""
    for key in (*THREAD_ENV, "TOKENIZERS_PARALLELISM"):
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("script", "task_module", "task_name", "extra"),
    [
        ("generate.py", "execrl.tasks.generate", "generate", []),
        ("evaluate.py", "execrl.tasks.evaluate", "evaluate", ["samples=reference"]),
        ("train.py", "execrl.tasks.train", "train", []),
    ],
)
def test_entry_point_sets_torch_threads_before_its_task(
    script, task_module, task_name, extra, tmp_path, monkeypatch, restore_threads
):
    task = importlib.import_module(task_module)
    seen = {}

    def fake_task(cfg):
        seen["threads"] = torch.get_num_threads()
        seen["omp"] = os.environ.get("OMP_NUM_THREADS")
        return {}

    monkeypatch.setattr(task, task_name, fake_task)
    torch.set_num_threads(1)
    monkeypatch.setattr(
        sys, "argv", [script, "torch_threads=3", *extra, f"hydra.run.dir={tmp_path}"]
    )
    import execrl.utils.config

    monkeypatch.setattr(
        execrl.utils.config, "fast_exit", lambda code=0: None
    )  # evaluate.py's os._exit
    try:  # as `python <script> torch_threads=3 ...` runs it
        runpy.run_path(str(ROOT / script), run_name="__main__")
    finally:
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()
    assert seen == {"threads": 3, "omp": "3"}


@pytest.mark.parametrize("config", ["generate", "evaluate"])
def test_default_is_one_thread_as_train_hardware_cpu(config, tmp_path):
    from helpers.common import compose

    assert (
        compose(config, ["samples=x"] if config == "evaluate" else [], tmp_path).torch_threads == 1
    )
    assert compose("train", [], tmp_path).torch_threads == 1  # hardware=cpu


def test_null_leaves_torch_and_environment_alone(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    torch.set_num_threads(2)
    assert apply_thread_settings({"torch_threads": None}) is None
    assert torch.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "7"
    # a set value wins over the shell's variable: the same command gives the same speed anywhere
    assert apply_thread_settings({"torch_threads": 1}) == 1
    assert torch.get_num_threads() == 1
    assert all(os.environ[k] == "1" for k in THREAD_ENV)


def test_torch_loaded_after_the_setting_starts_with_it(tmp_path):
    """generate.py applies the setting before torch is imported: torch must pick it up there."""
    import subprocess

    code = (
        "import sys; from execrl.utils.threads import apply_thread_settings; "
        "apply_thread_settings({'torch_threads': 1}); assert 'torch' not in sys.modules; "
        "import torch; print(torch.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "1"
