"""Shared LightningModule plumbing: optimizers, checkpointed model config, greedy validation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from lightning import LightningModule

from execrl.judging.requests import judge_programs
from execrl.models.actor import Actor
from execrl.utils.tracking import log_table
from execrl.vocabulary import Outcome, Problem

if TYPE_CHECKING:
    from execrl.schema.algos import ActorModuleConfig


class ActorModule(LightningModule):
    """Base of every algorithm that trains an :class:`Actor`."""

    #: what the datamodule serves: "solutions" (pairs) or "problems" (prompts only), unless
    #: ``train_dataset`` returns the module's own data
    train_items = "solutions"
    #: RL and critic algorithms start from an SFT actor (train.py runs the warm-start first)
    needs_warm_start = False
    #: strategy-name prefix -> why this algorithm refuses it (checked in ``setup``)
    unsupported_strategies: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        actor: Actor,
        config: ActorModuleConfig,
        *,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        executor: Any = None,  # the sandbox (execrl.execution); None: no execution
    ) -> None:
        super().__init__()
        self.actor = actor
        self.config = config  # the algorithm's settings (execrl.schema.algos)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.executor = executor  # not an nn.Module; never checkpointed
        # how the actor was built (models.actor.build_actor); saved in checkpoints for generate.py
        self.model_cfg: dict | None = getattr(actor, "build_cfg", None)
        self._val_rows: list[dict] = []

    def train_dataset(self) -> list | None:
        """The module's own training data, built by ``setup``/``on_fit_start`` (which run before the
        datamodule's ``train_dataloader``) and served by the datamodule in batches of
        ``train_batch_size``; ``None``: the datamodule's problems or pairs."""
        return None

    @property
    def train_batch_size(self) -> int | None:
        return getattr(self, "batch_size", None)

    def fit_problem_needs(self) -> dict[str, tuple[str, int | None]]:
        """Problem sets the module builds its own data from at fit start: name -> (role, limit),
        roles as ``ProblemSource.serve``. The datamodule serves them through ``receive_problems``
        before ``setup``."""
        return {}

    def receive_problems(self, sets: dict[str, list[Problem]]) -> None:
        self._served = dict(sets)

    def served(self, name: str) -> list[Problem]:
        """The problems served for ``name`` (empty when fitted without a datamodule)."""
        return getattr(self, "_served", {}).get(name, [])

    def served_problems(self) -> list[Problem]:
        """Every served set's problems, one per (split, task)."""
        sets = getattr(self, "_served", {}).values()
        return list({(p.split, p.task_id): p for probs in sets for p in probs}.values())

    def setup(self, stage: str) -> None:
        from execrl.utils.distributed import check_strategy_support

        if self.trainer is not None:
            check_strategy_support(self, self.trainer)

    # ----------------------------------------------------------------- optimisation
    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            raise ValueError("no optimizer configured (set optimizer=adamw)")
        opt = self.optimizer_factory(params=self.trainable_parameters())
        if self.scheduler_factory is None:
            return opt
        sched = self.scheduler_factory(optimizer=opt)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["execrl_model_cfg"] = self.model_cfg

    @contextmanager
    def timed(self, stage: str, store: dict[str, float]):
        """verl-style stage timer: adds ``time_s/<stage>`` to ``store``."""
        t0 = time.perf_counter()
        yield
        store[f"time_s/{stage}"] = store.get(f"time_s/{stage}", 0.0) + time.perf_counter() - t0

    # ----------------------------------------------------------------- validation
    def validation_step(self, batch: list[Problem], batch_idx: int) -> None:
        """Greedy-decode each problem; judge by execution (pass@1) when an executor is set."""
        rollout = self.actor.generate(
            [p.prompt for p in batch],
            do_sample=False,
            max_new_tokens=self.config.val_max_new_tokens,
        )
        programs = rollout.texts
        with_solution = [(p, s) for p, s in zip(batch, programs) if p.solutions]
        if with_solution:
            loss = self.actor.sft_loss(
                [p.training_prompt for p, _ in with_solution],
                [p.solutions[0] for p, _ in with_solution],
            )
            self.log("val/loss", loss, batch_size=len(with_solution), sync_dist=True)
        results = None
        if self.executor is not None:
            results = judge_programs(batch, programs, self.executor)
        for i, (p, prog) in enumerate(zip(batch, programs)):
            row = {
                "task_id": p.task_id,
                "prompt": p.prompt,
                "completion": prog,
                "exact_match": float(bool(p.solutions) and prog.strip() == p.solutions[0].strip()),
            }
            if results is not None:
                row["outcome"] = results[i].outcome.value
            self._val_rows.append(row)

    def on_validation_epoch_end(self) -> None:
        rows, self._val_rows = self._val_rows, []
        if not rows:
            return
        n = len(rows)
        metrics = {"val/exact_match": sum(r["exact_match"] for r in rows) / n}
        judged = [r for r in rows if "outcome" in r and r["outcome"] != Outcome.INFRA_ERROR.value]
        if judged:
            metrics["val/pass@1"] = sum(r["outcome"] == Outcome.PASSED.value for r in judged) / len(
                judged
            )
            metrics["val/compile_rate"] = sum(
                r["outcome"] != Outcome.COMPILE_ERROR.value for r in judged
            ) / len(judged)
            metrics["val/infrastructure_errors"] = float(n - len(judged))
        for k, v in metrics.items():
            self.log(k, v, sync_dist=True)
        self._log_completions_table(rows[: self.config.log_completions], "val/completions")

    def _log_completions_table(self, rows: list[dict], key: str) -> None:
        """TRL-style completions table: wandb when present, and a JSONL file in the run dir."""
        if not rows or self.trainer is None or not self.trainer.is_global_zero:
            return
        step = int(self.global_step)
        rows = [{"step": step, **r} for r in rows]
        root = Path(self.trainer.default_root_dir) / "completions"
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{key.replace('/', '_')}_{step:06d}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        cols = list(rows[0].keys())
        log_table(self.loggers, key, cols, [[r.get(c) for c in cols] for r in rows])


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)
