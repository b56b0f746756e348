"""Laptop-to-cluster paths that run here: DDP over gloo, the submitit multirun, resume, Ray execution."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers.common import run_cli

FAST = [
    "++data.train_limit=64",
    "++data.val_limit=8",
    "trainer.val_check_interval=1000",
    "logger=csv",
    "executor.workers=1",
]


@pytest.mark.parametrize("algo", ["sft", "grpo", "critic", "coderl"])
def test_ddp_cpu_two_processes_train(algo: str, tmp_path: Path) -> None:
    extra = {
        "sft": ["data.batch_size=8"],
        "grpo": ["algo.num_samples=2", "data.batch_size=2", "warm_start.enabled=false"],
        # rank 0 samples and judges the labels, every rank trains on that one set
        "critic": [
            "warm_start.enabled=false",
            "algo.label_problems=4",
            "algo.samples_per_problem=2",
            "algo.batch_size=4",
            "model.max_new_tokens=16",
        ],
        # rank 0 builds the offline pool, the datamodule shards that one pool across ranks
        "coderl": [
            "warm_start.enabled=false",
            "algo.token_weights=uniform",
            "algo.offline_problems=4",
            "algo.offline_samples=2",
            "algo.rl_batch_size=2",
            "model.max_new_tokens=16",
        ],
    }[algo]
    r = run_cli(
        "train.py",
        "hardware=ddp_cpu",
        f"algo={algo}",
        "trainer.max_steps=2",
        *FAST,
        *extra,
        f"hydra.run.dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert (
        "world_size=2" in r.stderr + r.stdout or "distributed_backend=gloo" in r.stderr + r.stdout
    )
    ckpt = torch.load(
        tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    assert ckpt["global_step"] >= 2
    if algo == "critic":
        assert (tmp_path / "critic_labels.jsonl").read_text().count("\n") >= 8  # 4 x 2 + references


def test_local_launcher_multirun_writes_two_run_dirs(tmp_path: Path) -> None:
    r = run_cli(
        "train.py",
        "-m",
        "hydra/launcher=local",
        "algo=sft",
        "trainer.max_steps=2",
        "optimizer.lr=1e-3,2e-3",
        *FAST,
        f"hydra.sweep.dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in runs] == ["0", "1"]
    from omegaconf import OmegaConf

    lrs = set()
    for run in runs:
        assert (run / "checkpoints" / "last.ckpt").exists()
        lrs.add(float(OmegaConf.load(run / ".hydra" / "config.yaml").optimizer.lr))
    assert lrs == {1e-3, 2e-3}  # one job per lr value


def test_resume_continues_step_count(tmp_path: Path) -> None:
    common = [
        "algo=sft",
        *FAST,
        f"hydra.run.dir={tmp_path}",
        "callbacks.model_checkpoint.every_n_train_steps=3",
    ]
    r1 = run_cli("train.py", "trainer.max_steps=3", *common)
    assert r1.returncode == 0, r1.stderr[-3000:]
    r2 = run_cli("train.py", "trainer.max_steps=6", "ckpt_path=last", *common)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert "Restoring states from the checkpoint" in r2.stderr + r2.stdout
    ckpt = torch.load(
        tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    assert ckpt["global_step"] == 6


def test_ray_executor_matches_local_pool() -> None:
    pytest.importorskip("ray")
    from execrl.execution import Executor
    from execrl.execution.ray_executor import RayExecutor
    from execrl.execution.request import ExecRequest
    from execrl.vocabulary import Tests

    tests = Tests(style="assert", asserts=["assert f(2) == 4", "assert f(3) == 9"])
    programs = [
        "def f(x):\n    return x * x\n",
        "def f(x):\n    return x + x\n",
        "def f(x)\n    return 1\n",
        "def f(x):\n    raise ValueError\n",
        "import time\ndef f(x):\n    time.sleep(60)\n",
    ]
    reqs = [ExecRequest(program=p, tests=tests) for p in programs]
    with Executor(workers=1, timeout_s=1.0) as local:
        want = [r.outcome for r in local.run(reqs)]
    with RayExecutor(address=None, num_actors=2, workers=1, timeout_s=1.0) as remote:
        got = [r.outcome for r in remote.run(reqs)]
        assert remote.isolation_level
    assert got == want
    assert [o.value for o in want] == [
        "passed",
        "failed",
        "compile_error",
        "runtime_error",
        "timeout",
    ]


def test_ddp_cpu_ppo_adaptive_kl_beta_agrees_across_ranks(tmp_path: Path, monkeypatch) -> None:
    """Two ranks see different problems (different local KL and sample counts), yet move beta the
    same way: the controller is fed the KL averaged and the samples summed over ranks."""
    import json
    import os

    from helpers.common import ROOT

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    )
    probe = tmp_path / "beta.json"
    target, horizon = 0.05, 40.0  # a short horizon so beta moves visibly in 2 iterations
    r = run_cli(
        "train.py",
        "hardware=ddp_cpu",
        "algo=ppo",
        "trainer.max_steps=2",
        *FAST,
        "algo.num_samples=2",
        "data.batch_size=2",
        "model.max_new_tokens=16",
        "warm_start.enabled=false",
        f"algo.kl_target={target}",
        f"algo.kl_horizon={horizon}",
        "callbacks=none",
        "+callbacks.beta_probe._target_=helpers.beta_probe.BetaProbe",
        f"+callbacks.beta_probe.out={probe}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = json.loads(probe.read_text())
    assert (
        len(ranks) == 2 and len(ranks[0]) == len(ranks[1]) == 2
    )  # one controller update per iteration (1 optimizer step each)
    beta = 0.1  # algo.kl_coef, the initial beta
    for a, b in zip(*ranks):
        assert a["before"] == b["before"] == pytest.approx(beta)
        kl = (a["kl"] + b["kl"]) / 2
        assert a["kl_reduced"] == b["kl_reduced"] == pytest.approx(kl, rel=1e-6)
        err = min(max(kl / target - 1.0, -0.2), 0.2)
        # Ziegler's update on the all-reduced statistics (each rank's own 4 samples would give 1 - 0.2 * 4 / 40)
        beta *= 1.0 + err * (a["n"] + b["n"]) / horizon
        assert a["after"] == b["after"] == pytest.approx(beta, rel=1e-6)
    assert ranks[0][-1]["after"] != pytest.approx(0.1)  # it moved
    assert any(a["kl"] != b["kl"] for a, b in zip(*ranks))  # and the ranks' own statistics differed
