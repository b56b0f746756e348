"""Tiny RL runs for the algorithm tests: fake executors, toy problems, a module built from the
repo's configs, a short fit that returns the logged rows, and a learning check."""

from __future__ import annotations

import csv
from pathlib import Path

import hydra
import lightning as L
import torch
from torch.utils.data import DataLoader

from execrl.schema.build import instantiate
from execrl.vocabulary import ExecutionResult, Outcome, Problem, Tests

from helpers.common import compose


class ParityExecutor:
    """Judges a program by the parity of its length (so sampled groups get different rewards);
    ``infra_every`` > 0 makes every n-th request an infrastructure error."""

    def __init__(self, infra_every: int = 0) -> None:
        self.infra_every, self.requests = infra_every, []

    def run(self, requests):
        out = []
        for r in requests:
            self.requests.append(r)
            n = len(self.requests)
            if self.infra_every and n % self.infra_every == 0:
                out.append(ExecutionResult(outcome=Outcome.INFRA_ERROR))
            elif len(r.program) % 2 == 0:
                out.append(ExecutionResult(outcome=Outcome.PASSED, num_tests=1))
            else:
                out.append(ExecutionResult(outcome=Outcome.COMPILE_ERROR, num_tests=1))
        return out

    def close(self):
        pass


def problems(n: int = 8) -> list[Problem]:
    """Synthesis problems with one assert test and a Python reference solution."""
    return [
        Problem(
            task_id=f"p{i}",
            dataset="fake",
            prompt=f"Write a function that returns {i} plus x.",
            tests=Tests(style="assert", asserts=[f"assert f(1) == {i + 1}"]),
            solutions=[f"def f(x):\n    return x + {i}\n"],
        )
        for i in range(n)
    ]


def translation_problems(n: int = 8) -> list[Problem]:
    """XLCoST-shaped Java -> C++ problems: no tests, a C++ reference translation."""
    return [
        Problem(
            task_id=f"t{i}",
            dataset="fake",
            prompt=f"class A {{ static int f(int x) {{ return x + {i}; }} }}",
            language="cpp",
            source_language="java",
            source_code=f"class A {{ static int f(int x) {{ return x + {i}; }} }}",
            solutions=[f"int f(int x) {{ int y = x + {i}; return y; }}"],
        )
        for i in range(n)
    ]


def build_module(model: str, algo: str, reward: str, executor, extra: list[str] = ()):
    cfg = compose(
        "train",
        [
            f"model={model}",
            f"algo={algo}",
            f"reward={reward}",
            "model.max_new_tokens=8",
            "algo.num_samples=2",
            "algo.minibatch_size=2",
            "algo.completions_every=0",
            *extra,
        ],
    )
    actor = hydra.utils.instantiate(cfg.model)
    module = instantiate(
        cfg.algo,
        actor=actor,
        optimizer=hydra.utils.instantiate(cfg.optimizer),
        scheduler=None,
        executor=executor,
    )
    return cfg, module


def fit(module, tmp_path: Path, steps: int, batch_size: int = 2, data=None):
    trainer = L.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=L.pytorch.loggers.CSVLogger(tmp_path),
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=None,
        default_root_dir=tmp_path,
    )
    loader = DataLoader(data or problems(8), batch_size=batch_size, shuffle=False, collate_fn=list)
    trainer.fit(module, train_dataloaders=loader)
    with open(next(tmp_path.rglob("metrics.csv"))) as fh:
        rows = list(csv.DictReader(fh))
    return trainer, rows


# ---- slow learning check: the fake executor "passes" programs shorter than 12 characters, about half
# of the tiny random actor's top-k samples at the start, so the policy can learn to be terse.
class ShortPasses:
    def run(self, requests):
        return [
            ExecutionResult(
                outcome=Outcome.PASSED if len(r.program) < 12 else Outcome.COMPILE_ERROR
            )
            for r in requests
        ]


class Record(L.Callback):
    def __init__(self):
        self.rows = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def learning_check(algo: str, steps: int):
    """``algo`` (with the repo config) raises a learnable reward within ``steps`` optimizer steps."""
    torch.manual_seed(0)
    extra = [
        "model.max_new_tokens=16",
        "algo.num_samples=4",
        "algo.top_k=5",
        "algo.ce_coef=0",
        "algo.minibatch_size=16",
    ]
    # these come after build_module's own overrides, so they win
    _, module = build_module("tiny_t5", algo, "compiler", ShortPasses(), extra)
    rec = Record()
    trainer = L.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=None,
        callbacks=[rec],
    )
    trainer.fit(
        module,
        train_dataloaders=DataLoader(problems(8) * 50, batch_size=4, shuffle=True, collate_fn=list),
    )
    r = [row["train/reward/mean"] for row in rec.rows]
    first, last = sum(r[:5]) / 5, sum(r[-5:]) / 5
    assert last > first + 0.3, (first, last)
    assert last > 0.8


def grpo_per_token_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    epsilon: float = 0.2,
    epsilon_high: float | None = None,
    delta: float | None = None,
    importance_sampling_level: str = "token",
    ref_logprobs: torch.Tensor | None = None,
    beta: float = 0.0,
    kl_estimator: str = "k3",
    kl_bias_correction: bool = False,
    is_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """TRL GRPOTrainer's per-token loss, as the GRPO module composes it: ``clipped_surrogate``
    then ``penalised`` (execrl.algos.rl_core)."""
    from execrl.algos.rl_core import clipped_surrogate, penalised

    per_token, stats = clipped_surrogate(
        logprobs,
        old_logprobs,
        advantages,
        mask,
        epsilon,
        epsilon_high,
        delta,
        importance_sampling_level,
    )
    per_token, kl_stats = penalised(
        per_token,
        logprobs,
        old_logprobs,
        mask,
        ref_logprobs,
        beta,
        kl_estimator,
        kl_bias_correction,
        importance_sampling_level,
        is_weights,
    )
    return per_token, {**stats, **kl_stats}
