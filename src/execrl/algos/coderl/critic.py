"""CodeRL critic training (stage S3): cross-entropy on outcome classes of labelled programs.

Label pool: a ``critic_labels.jsonl`` (``labels_path``, e.g. exported by evaluate.py; the
ground-truth solutions of its tasks are added as ``passed`` unless the file has some) or, with
``labels_path=null``, labels generated at setup: the (warm-start) actor samples programs for
``label_problems`` train problems, the sandbox judges them, and ground-truth solutions are added
as ``passed`` (CodeRL's recipe). A ``val_fraction`` of the tasks is held out; validation reports
accuracy, per-class F1 and the confusion matrix on it (CodeRL never reported critic accuracy).

The labels are the module's dataset (``train_dataset``): the datamodule serves them in shuffled
passes of ``batch_size`` labelled programs (uniform over programs, as CodeRL's ``uniform_sol``).
The actor is frozen.
"""

from __future__ import annotations

import json
import random
import zlib
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import multiclass_confusion_matrix, multiclass_f1_score

from execrl.algos.base import ActorModule
from execrl.algos.coderl.critic_model import Critic, build_critic, checkpoint_config
from execrl.algos.coderl.labels import (
    CriticLabel,
    ground_truth_labels,
    label_problem_needs,
    read_labels,
    sample_labels,
    write_labels,
)
from execrl.schema.coderl import CriticConfig
from execrl.utils.distributed import built_on_rank_zero
from execrl.utils.tracking import log_table
from execrl.vocabulary import Problem


def label_targets(labels: list[CriticLabel], binary: bool) -> torch.Tensor:
    """Class targets: CodeRL's 4 classes, or 1 = passed / 0 = not passed."""
    return torch.tensor(
        [int(lab.cls == 3) if binary else lab.cls for lab in labels], dtype=torch.long
    )


def critic_loss(
    critic: Critic, labels: list[CriticLabel], prompts: dict[str, str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CE of the pooled prediction; returns (loss, pooled logits, targets)."""
    out = critic.score_texts(
        [prompts[lab.task_id] for lab in labels], [lab.program for lab in labels]
    )
    y = label_targets(labels, critic.binary).to(out["logits"].device)
    return F.cross_entropy(out["logits"], y), out["logits"], y


@torch.no_grad()
def evaluate_critic(
    critic: Critic, labels: list[CriticLabel], prompts: dict[str, str], batch_size: int = 32
) -> dict[str, Any]:
    """Accuracy, per-class F1, macro F1 and the confusion matrix (rows: true class)."""
    was = critic.training
    critic.eval()
    preds, ys = [], []
    for i in range(0, len(labels), batch_size):
        _, logits, y = critic_loss(critic, labels[i : i + batch_size], prompts)
        preds.append(logits.argmax(-1).cpu())
        ys.append(y.cpu())
    critic.train(was)
    if not preds:
        return {}
    p, y = torch.cat(preds), torch.cat(ys)
    c = critic.num_classes
    f1 = multiclass_f1_score(p, y, num_classes=c, average=None)
    present = torch.bincount(y, minlength=c) + torch.bincount(p, minlength=c) > 0
    return {
        "accuracy": float((p == y).float().mean()),
        "f1": {name: float(f1[k]) for k, name in enumerate(critic.class_names)},
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "confusion": multiclass_confusion_matrix(p, y, num_classes=c).tolist(),
        "n": len(y),
    }


def split_by_task(
    labels: list[CriticLabel], val_fraction: float
) -> tuple[list[CriticLabel], list[CriticLabel]]:
    """Held-out split by task (a stable hash of task_id), so no problem is in both."""

    def held(tid: str) -> bool:
        return (zlib.crc32(tid.encode()) % 10_000) / 10_000 < val_fraction

    return [lab for lab in labels if not held(lab.task_id)], [
        lab for lab in labels if held(lab.task_id)
    ]


def train_critic(
    critic: Critic,
    labels: list[CriticLabel],
    prompts: dict[str, str],
    steps: int,
    *,
    lr: float,
    batch_size: int,
    seed: int,
    weight_decay: float,
) -> list[float]:
    """A plain AdamW loop (used by CodeRL's online/offline setup when no critic checkpoint is given)."""
    if not labels or steps <= 0:
        return []
    opt = torch.optim.AdamW(
        [p for p in critic.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay
    )
    rng = random.Random(seed)
    critic.train()
    losses = []
    for _ in range(steps):
        loss, _, _ = critic_loss(critic, rng.sample(labels, min(batch_size, len(labels))), prompts)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(critic.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    critic.eval()
    return losses


def problem_prompts(problems: list[Problem]) -> dict[str, str]:
    """task_id -> inference prompt (CodeRL's critic reads the inference-format prompt)."""
    return {p.task_id: p.prompt for p in problems}


class CriticModule(ActorModule):
    """Train a :class:`Critic` to predict the outcome class of (problem, program)."""

    train_items = "solutions"
    needs_warm_start = True
    unsupported_strategies: ClassVar[dict[str, str]] = {
        "deepspeed_stage_3": "the frozen actor that samples label programs must stay whole",
        "fsdp": "the frozen actor that samples label programs must stay whole",
    }

    def __init__(
        self,
        actor: Any,
        config: CriticConfig | None = None,
        *,
        optimizer: Any = None,
        scheduler: Any = None,
        executor: Any = None,
    ) -> None:
        c = self.config = config or CriticConfig()
        super().__init__(actor, c, optimizer=optimizer, scheduler=scheduler, executor=executor)
        self.critic = build_critic(c.critic, actor=actor)
        self.actor.requires_grad_(False)
        self.labels_path = c.labels_path  # restore_setup points it at the run's saved labels
        self.train_labels: list[CriticLabel] = []
        self.val_labels: list[CriticLabel] = []
        self.prompts: dict[str, str] = {}

    def trainable_parameters(self):
        return [p for p in self.critic.parameters() if p.requires_grad]

    @property
    def train_batch_size(self) -> int:
        return self.config.batch_size

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["execrl_critic_cfg"] = checkpoint_config(self.config.critic, self.model_cfg)

    # ----------------------------------------------------------------- data
    def fit_problem_needs(self) -> dict[str, tuple[str, int | None]]:
        if self.train_labels:
            return {}
        if not self.labels_path:
            return {"label": ("train_split", self.config.label_problems)}
        return label_problem_needs(self.labels_file)

    @cached_property
    def labels_file(self) -> list[CriticLabel]:
        return read_labels(self.labels_path)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.train_labels or stage != "fit":
            return
        self.set_labels(*self._load_labels())

    def _load_labels(self) -> tuple[list[CriticLabel], dict[str, str]]:
        if self.labels_path:
            labels = list(self.labels_file)
            problems = self.served_problems()
            if not problems:
                raise ValueError(
                    "algo=critic with labels_path needs the datamodule the labels' task ids come from"
                )
            if self.config.add_ground_truth and not any(
                lab.source == "ground_truth" for lab in labels
            ):
                tasks = {lab.task_id for lab in labels}
                labels += ground_truth_labels([p for p in problems if p.task_id in tasks])
            return labels, problem_prompts(problems)
        problems = self.served("label")
        if not problems or self.executor is None:
            raise ValueError(
                "algo=critic without labels_path needs a datamodule and an executor to label samples"
            )

        def sample() -> list[CriticLabel]:
            labels = sample_labels(
                self.actor,
                problems,
                self.executor,
                n=self.config.samples_per_problem,
                temperature=self.config.temperature,
                top_p=self.config.top_p,
            )
            if self.config.save_labels and self._trainer is not None:
                write_labels(Path(self.trainer.default_root_dir) / "critic_labels.jsonl", labels)
            return labels

        labels = built_on_rank_zero(self._trainer, sample)
        return labels, problem_prompts(problems)

    def set_labels(self, labels: list[CriticLabel], prompts: dict[str, str]) -> None:
        """Use ``labels`` (programs of tasks in ``prompts``) as the pool; hold out ``val_fraction``."""
        missing = {lab.task_id for lab in labels} - set(prompts)
        labels = [lab for lab in labels if lab.task_id in prompts]
        if not labels:
            raise ValueError(
                f"no critic labels match the data's problems (unknown task ids e.g. {sorted(missing)[:3]})"
            )
        self.prompts = prompts
        self.train_labels, self.val_labels = split_by_task(labels, self.config.val_fraction)
        if not self.train_labels:
            self.train_labels = labels

    def train_dataset(self) -> list[CriticLabel]:
        return self.train_labels

    def restore_setup(self, run_dir: str | Path) -> None:
        """On resume, train on the labels this run sampled when it started (saved as
        ``critic_labels.jsonl``), not on new samples: train.py calls it before fitting."""
        saved = Path(run_dir) / "critic_labels.jsonl"
        if not self.labels_path and saved.exists():
            self.labels_path = str(saved)

    def heldout_metrics(self) -> dict[str, Any]:
        """The critic's accuracy and macro F1 on the held-out tasks' labelled programs, beside the
        accuracy of always predicting their most common class (what a useless critic scores)."""
        if not self.val_labels:
            return {}
        m = evaluate_critic(self.critic, self.val_labels, self.prompts)
        y = label_targets(self.val_labels, self.critic.binary)
        return {
            "accuracy": m["accuracy"],
            "macro_f1": m["macro_f1"],
            "majority": float(torch.bincount(y).max()) / len(y),
            "n": m["n"],
            "tasks": len({lab.task_id for lab in self.val_labels}),
            "f1": m["f1"],
            "confusion": m["confusion"],
        }

    # ----------------------------------------------------------------- steps
    def training_step(self, labels: list[CriticLabel], batch_idx: int) -> torch.Tensor:
        loss, logits, y = critic_loss(self.critic, labels, self.prompts)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(labels))
        self.log(
            "train/critic_acc", (logits.argmax(-1) == y).float().mean(), batch_size=len(labels)
        )
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if batch_idx != 0 or not self.val_labels:
            return  # the held-out label pool is evaluated once per validation run
        m = evaluate_critic(self.critic, self.val_labels, self.prompts)
        self.log("val/critic_acc", m["accuracy"], batch_size=m["n"])
        self.log("val/critic_macro_f1", m["macro_f1"], batch_size=m["n"])
        for name, v in m["f1"].items():
            self.log(f"val/critic_f1/{name}", v, batch_size=m["n"])
        self._log_confusion(m["confusion"])

    def _log_confusion(self, matrix: list[list[int]]) -> None:
        if self._trainer is None or not self.trainer.is_global_zero:
            return
        names = self.critic.class_names
        root = Path(self.trainer.default_root_dir) / "critic"
        root.mkdir(parents=True, exist_ok=True)
        (root / f"confusion_{int(self.global_step):06d}.json").write_text(
            json.dumps({"classes": names, "matrix": matrix})
        )
        log_table(
            self.loggers,
            "val/critic_confusion",
            ["true", *names],
            [[n, *row] for n, row in zip(names, matrix)],
        )
