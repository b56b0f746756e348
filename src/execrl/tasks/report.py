"""The result of a train.py run: what the algorithm can change, measured where it did not train,
written to ``<run dir>/summary.json`` and printed as the run's last lines.

- actor algorithms (RL, CodeRL): the starting actor (the warm start's, or ``actor_ckpt``'s) and the
  final actor, greedy, on ``report.limit`` problems of ``report.split``: pass@1 and compile rate,
  or for translation compile rate, CodeBLEU and computational accuracy (evaluate.py's own
  judging and metrics). The starting actor is measured once and saved
  (``<run dir>/report_before.json``), so a resumed run reports the same "before";
- ``algo=sft``: the trained actor alone (the random init it starts from solves nothing);
- ``algo=critic``: the critic's accuracy on its held-out labelled programs (the actor is frozen);
- anything else (``algo=repair``): the last validation metrics.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from execrl.execution.protocol import Executor

log = logging.getLogger("execrl")

#: metric -> how the result block names it
LABELS = {
    "pass@1": "pass@1",
    "compile_rate": "compile rate",
    "codebleu": "CodeBLEU",
    "computational_accuracy": "computational accuracy",
}


def report_kind(module: Any) -> str:
    """``before_after`` | ``after`` | ``critic`` | ``val``: what the training of ``module`` (an
    algorithm's module, or its class) can change."""
    from execrl.algos.coderl.critic import CriticModule
    from execrl.algos.coderl.repair import RepairModule
    from execrl.algos.sft import SFTModule

    cls = module if isinstance(module, type) else type(module)
    if issubclass(cls, CriticModule):
        return "critic"
    if issubclass(cls, RepairModule):
        return "val"
    if issubclass(cls, SFTModule):
        return "after"
    return "before_after"


def algo_name(module: Any) -> str:
    return type(module).__name__.replace("Module", "")


class HeldOut:
    """The held-out problems of the report and the measure of one actor on them."""

    def __init__(self, cfg: DictConfig, datamodule: Any, executor: Executor | None) -> None:
        rep = cfg.get("report") or {}
        self.split = rep.get("split")
        self.data = datamodule.name or cfg.data.get("name", "")
        self.problems = (
            datamodule.problems(self.split, rep.get("limit"))
            if self.split and executor is not None
            else []
        )
        self.executor = executor
        self.batch_size = int(rep.get("batch_size") or 16)
        self._judge = None  # evaluate.py's translation judge: source outputs cached across calls

    @property
    def translation(self) -> bool:
        return bool(self.problems) and self.problems[0].is_translation

    def __bool__(self) -> bool:
        return bool(self.problems)

    def measure(self, actor: Any) -> dict[str, float | None]:
        """Greedy programs of ``actor`` for every problem, judged in the sandbox."""
        was = actor.training
        actor.eval()
        try:
            return self._translation(actor) if self.translation else self._synthesis(actor)
        finally:
            actor.train(was)

    def _synthesis(self, actor: Any) -> dict[str, float | None]:
        from execrl.rollout.judged import sample_and_judge
        from execrl.tasks.train import outcome_rates

        judged = sample_and_judge(actor, self.problems, self.executor, batch_size=self.batch_size)
        return dict(outcome_rates([j.outcome for j in judged]))

    def _translation(self, actor: Any) -> dict[str, float | None]:
        from execrl.data.conventions import executable_problem, program_text
        from execrl.tasks.evaluate import Judge, compute_metrics

        if self._judge is None:
            self._judge = Judge({"equivalence": True}, self.executor)
        items = []
        for i in range(0, len(self.problems), self.batch_size):
            batch = self.problems[i : i + self.batch_size]
            texts = actor.generate([p.prompt for p in batch], do_sample=False).texts
            items += [
                (executable_problem(p), 0, program_text(p, t), None, None)
                for p, t in zip(batch, texts)
            ]
        metrics = compute_metrics(self._judge(items), ks=[1], nks=[])
        (pair,) = metrics["translation"].values()
        return {
            "compile_rate": pair.get("compile_rate"),
            "codebleu": (pair.get("codebleu") or {}).get("codebleu"),
            "computational_accuracy": (pair.get("computational_accuracy") or {}).get("pass@1"),
        }

    def header(self) -> str:
        return f"{self.data}:{self.split} ({len(self.problems)} problems)"


def measure_before(held: HeldOut, actor: Any, path: Path, label: str, source: str) -> dict:
    """The starting actor's measure, saved to ``path`` (a resumed run reads it back)."""
    before = {
        "label": label,
        "actor": source,
        "split": held.split,
        "n": len(held.problems),
        "metrics": held.measure(actor),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(before, indent=2))
    return before


def saved_before(held: HeldOut, path: Path) -> dict | None:
    """The starting actor's saved measure, if it was taken on these held-out problems."""
    if not path.exists():
        return None
    before = json.loads(path.read_text())
    if before.get("split") != held.split or before.get("n") != len(held.problems):
        return None
    return before


def fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def actor_lines(held: HeldOut, before: dict | None, after: dict, after_label: str) -> list[str]:
    """The result block's lines for an actor: a headline, then one line per metric."""
    keys = list(after)
    head = keys[0] if not held.translation else None
    b = (before or {}).get("metrics") or {}
    if head is not None:  # synthesis: pass@1 is the headline, as it always was
        line = f"held-out {LABELS[head]} on {held.header()}: "
        line += (
            f"{before['label']} {fmt(b.get(head))} -> {after_label} {fmt(after[head])}"
            if before
            else f"{after_label} {fmt(after[head])}"
        )
        lines = [line]
        rest = keys[1:]
    else:
        who = f"{before['label']} -> {after_label}" if before else after_label
        lines = [f"held-out on {held.header()}, greedy: {who}"]
        rest = keys
    width = max((len(LABELS.get(k, k)) for k in rest), default=0)
    for k in rest:
        value = f"{fmt(b.get(k))} -> {fmt(after[k])}" if before else fmt(after[k])
        lines.append(f"  {LABELS.get(k, k):<{width}}  {value}")
    return lines


def critic_report(module: Any) -> tuple[dict[str, Any], list[str]]:
    """``algo=critic``: accuracy on the held-out labelled programs, beside the majority class's."""
    m = module.heldout_metrics()
    if not m:
        return {}, [
            "critic: no held-out labelled programs to report on (algo.val_fraction=0, or too few tasks)"
        ]
    line = (
        f"critic held-out accuracy on {m['n']} labelled programs of {m['tasks']} held-out tasks: "
        f"{m['accuracy']:.3f} (majority class {m['majority']:.3f}, macro F1 {m['macro_f1']:.3f})"
    )
    return m, [line]


def val_lines(metrics: dict[str, float]) -> list[str]:
    val = {k: v for k, v in metrics.items() if k.startswith("val/")}
    if not val:
        return ["no held-out report (report.split=null, or no executor) and no validation ran"]
    return ["last validation: " + ", ".join(f"{k} {fmt(v)}" for k, v in sorted(val.items()))]


def flat_metrics(split: str, before: dict | None, after: dict, name: str) -> dict[str, float]:
    """``<split>/<metric>_<stage>`` keys (``heldout/pass@1_sft``, ``heldout/pass@1_coderl``) for
    the returned metrics and sweepers."""
    out = {}
    for k, v in after.items():
        if v is not None:
            out[f"{split}/{k}_{name.lower()}"] = float(v)
    for k, v in ((before or {}).get("metrics") or {}).items():
        if v is not None:
            out[f"{split}/{k}_{'sft' if before['label'] == 'SFT' else 'start'}"] = float(v)
    return out


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    path = run_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    return path


def result_block(lines: list[str], run_dir: Path, summary: Path) -> str:
    """The run's last lines: its result, where it lives."""
    rule = "─" * 72
    body = "\n".join(lines)
    return f"{rule}\n{body}\nrun dir       {run_dir}\nsummary.json  {summary}\n{rule}"
