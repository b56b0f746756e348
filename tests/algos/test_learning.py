"""Slow learning checks: PPO and GRPO raise a learnable reward with a tiny actor (about a minute each).

The fake executor "passes" programs shorter than 12 characters: about half of the tiny random
actor's top-k samples at the start, so groups have signal and the policy can learn to be terse.
"""

from __future__ import annotations

import hydra
import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import compose
from execrl.execution.outcomes import ExecutionResult, Outcome
from fakes import problems


class ShortPasses:
    def run(self, requests):
        return [ExecutionResult(outcome=Outcome.PASSED if len(r.program) < 12 else Outcome.COMPILE_ERROR) for r in requests]


class Record(L.Callback):
    def __init__(self):
        self.rows = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items()})


@pytest.mark.slow
@pytest.mark.parametrize("algo, steps", [("ppo", 60), ("grpo", 20)])
def test_rl_raises_compile_reward(algo, steps):
    torch.manual_seed(0)
    cfg = compose("train", ["model=tiny_t5", f"algo={algo}", "reward=compiler", "model.max_new_tokens=16", "algo.num_samples=4",
                            "algo.top_k=5", "algo.completions_every=0", "algo.ce_coef=0", "algo.minibatch_size=16"])
    actor = hydra.utils.instantiate(cfg.model)
    module = hydra.utils.instantiate(cfg.algo, actor=actor, optimizer=hydra.utils.instantiate(cfg.optimizer), scheduler=None,
                                     executor=ShortPasses(), _recursive_=False)
    rec = Record()
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, gradient_clip_val=None, callbacks=[rec])
    trainer.fit(module, train_dataloaders=DataLoader(problems(8) * 50, batch_size=4, shuffle=True, collate_fn=list))
    r = [row["reward/mean"] for row in rec.rows]
    first, last = sum(r[:5]) / 5, sum(r[-5:]) / 5
    assert last > first + 0.3, (first, last)
    assert last > 0.8
