"""CodeRL's setup (critic, offline pool) is saved in the run dir when built, and a resume uses it
as it was instead of building it again from the restored RL actor."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from execrl.schema.coderl import CriticConfig

from helpers.common import compose

SMALL = [
    "algo=coderl",
    "warm_start.enabled=false",
    "logger=csv",
    "callbacks=none",
    "print_config=false",
    "report.split=null",
    "trainer.max_steps=2",
    "trainer.val_check_interval=1000",
    "data.batch_size=4",
    "model.max_new_tokens=24",
    "data.reader.sizes={sft:40,rl:20,heldout:10,val:10}",
    "algo.critic_train_steps=3",
    "algo.critic_label_problems=4",
    "algo.offline_problems=4",
    "algo.offline_samples=2",
    "algo.rl_batch_size=4",
    "algo.ce_batch_size=4",
]


def _fit(run_dir: Path, restore_from: Path | None = None, seed: int = 42):
    from execrl.tasks.train import build_executor, fit

    cfg = compose("train", [*SMALL, f"seed={seed}"], output_dir=run_dir)
    executor = build_executor(cfg)

    def before_fit(module, datamodule) -> None:
        if restore_from is not None:
            module.restore_setup(restore_from)

    try:
        _, module, _ = fit(cfg, executor, before_fit=before_fit)
    finally:
        executor.close()
    return module


def test_saved_critic_and_pool_are_what_a_resume_trains_with(tmp_path: Path) -> None:
    from execrl.algos.coderl.critic_model import load_critic

    first = _fit(tmp_path / "first")
    saved = tmp_path / "first" / "coderl"
    rows = [json.loads(line) for line in (saved / "pool.jsonl").read_text().splitlines()]
    assert [r["program"] for r in rows] == [it.program for it in first.pool]
    assert [r["task_id"] for r in rows] == [it.task_id for it in first.pool]
    assert all(r["critic_pass"] is not None for r in rows)
    # the saved critic is an algo=critic-style checkpoint: algo.critic_ckpt=... loads it too
    loaded = load_critic(str(saved / "critic.ckpt"), actor=first.actor)
    for k, v in first.critic.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v.cpu()), k

    # another seed would sample another pool and train another critic: the restored ones win
    second = _fit(tmp_path / "second", restore_from=tmp_path / "first", seed=7)
    for k, v in first.critic.state_dict().items():
        assert torch.equal(second.critic.state_dict()[k].cpu(), v.cpu()), k
    assert [(it.program, it.returns, it.cls) for it in second.pool] == [
        (it.program, it.returns, it.cls) for it in first.pool
    ]
    assert not (tmp_path / "second" / "coderl").exists()  # nothing was built, so nothing saved

    fresh = _fit(tmp_path / "fresh", seed=7)  # the canary: without restoring, seed 7 differs
    assert [it.program for it in fresh.pool] != [it.program for it in first.pool]


def test_a_resumed_critic_run_trains_on_the_labels_it_first_sampled(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from execrl.algos.coderl.critic import CriticModule
    from execrl.algos.coderl.labels import CriticLabel, write_labels
    from execrl.models.actor import build_actor

    cfg = OmegaConf.to_container(compose("train", [], output_dir=tmp_path).model, resolve=True)
    cfg.pop("_target_")
    labels = [CriticLabel("synth/sft/0", "def f(x):\n    return x\n", "passed", 3)]
    write_labels(tmp_path / "critic_labels.jsonl", labels)  # as the first start saved them
    module = CriticModule(build_actor(**cfg))
    module.restore_setup(tmp_path)
    assert module.labels_path == str(tmp_path / "critic_labels.jsonl")
    assert [lab.program for lab in module.labels_file] == [labels[0].program]
    # labels the user named stay theirs
    named = CriticModule(build_actor(**cfg), CriticConfig(labels_path="/data/mine.jsonl"))
    named.restore_setup(tmp_path)
    assert named.labels_path == "/data/mine.jsonl"
