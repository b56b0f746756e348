"""Where a train.py run starts: fresh, or resumed in the stage it stopped in, said in one line.

A run has up to two stages in one run dir: the warm start (SFT, in ``<run dir>/warm_start``) and
the algorithm (``<run dir>``). ``ckpt_path=last`` resumes the algorithm from its
``checkpoints/last.ckpt``; without one, an unfinished warm start from
``warm_start/checkpoints/last.ckpt`` (the algorithm then starts from its result); without either,
the run starts fresh with a warning -- a requeued job's first start has nothing to resume, and
the same command must serve every start. An explicit ``ckpt_path=<file>`` is the algorithm's
checkpoint and must exist: a typo is an error, never a fresh start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

log = logging.getLogger("execrl")

LAST = Path("checkpoints") / "last.ckpt"


def has_warm_start(cfg: DictConfig) -> bool:
    """The run's algorithm starts from an SFT actor that this run trains first (no ``actor_ckpt``)."""
    ws = cfg.get("warm_start") or {}
    if not ws.get("enabled") or cfg.get("actor_ckpt"):
        return False
    return bool(getattr(hydra.utils.get_class(cfg.algo._target_), "needs_warm_start", False))


def checkpoint_step(path: str | Path) -> int:
    """The optimizer step a Lightning checkpoint was saved at (memory-mapped: no full read)."""
    import torch

    ck = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    return int(ck.get("global_step", 0))


@dataclass
class RunPlan:
    """What this start does. ``origin``: the run dir the checkpoints belong to (the run dir itself,
    or an explicit checkpoint's); ``warm_ckpt``: the warm start's checkpoint, once it exists."""

    run_dir: Path
    origin: Path
    warm_start: bool
    warm_resume: Path | None = None  # resume the unfinished warm start from here
    warm_ckpt: Path | None = None  # the finished warm start (the algorithm starts from it)
    main_resume: Path | None = None  # resume the algorithm from here
    step: int = 0  # the step resumed at

    @property
    def resuming(self) -> bool:
        return self.warm_resume is not None or self.main_resume is not None

    @property
    def run_warm_start(self) -> bool:
        """The warm start still has steps to run (fresh, or resumed)."""
        return self.warm_start and self.main_resume is None and self.warm_ckpt is None


def plan_run(cfg: DictConfig) -> RunPlan:
    """Resolve ``ckpt_path`` against the run dir and log the start line (see the module doc)."""
    run = Path(cfg.paths.output_dir)
    warm = has_warm_start(cfg)
    ckpt = cfg.get("ckpt_path")
    algo = cfg.algo._target_.rsplit(".", 1)[-1].replace("Module", "")
    if not ckpt:
        plan = RunPlan(run, run, warm)
        if (run / LAST).exists() or (run / "warm_start" / LAST).exists():
            log.warning(
                "%s already holds checkpoints: starting fresh anyway (ckpt_path=last resumes them)",
                run,
            )
        else:
            log.info("starting fresh in %s", run)
        return plan
    if ckpt != "last":
        path = Path(ckpt)
        if not path.is_file():
            raise FileNotFoundError(
                f"ckpt_path={ckpt}: no such checkpoint (ckpt_path=last resumes the run in "
                "hydra.run.dir=..., and starts fresh when it has none)"
            )
        origin = path.parent.parent if path.parent.name == "checkpoints" else run
        return _resume_main(RunPlan(run, origin, warm), path, algo)
    if (run / LAST).exists():
        return _resume_main(RunPlan(run, run, warm), run / LAST, algo)
    ws_last = run / "warm_start" / LAST
    if warm and ws_last.exists():
        plan = RunPlan(run, run, warm)
        step, budget = checkpoint_step(ws_last), int(cfg.warm_start.max_steps)
        if step < budget:
            plan.warm_resume, plan.step = ws_last, step
            log.info(
                "resuming from %s at step %d (the warm start, %d steps; then %s from its result)",
                ws_last,
                step,
                budget,
                algo,
            )
        else:
            plan.warm_ckpt = ws_last
            log.info(
                "resuming from %s at step %d (the warm start is done): %s starts from it",
                ws_last,
                step,
                algo,
            )
        return plan
    log.warning(
        "no checkpoint in %s: starting fresh (ckpt_path=last; a mistyped hydra.run.dir lands here)",
        run,
    )
    return RunPlan(run, run, warm)


def _resume_main(plan: RunPlan, path: Path, algo: str) -> RunPlan:
    plan.main_resume, plan.step = path, checkpoint_step(path)
    ws_last = plan.origin / "warm_start" / LAST
    if plan.warm_start and ws_last.exists():
        plan.warm_ckpt = ws_last
    log.info(
        "resuming from %s at step %d (%s%s)",
        path,
        plan.step,
        algo,
        f"; its warm start: {ws_last}" if plan.warm_ckpt else "",
    )
    return plan


def describe(plan: RunPlan) -> dict[str, Any]:
    """The plan as summary.json records it."""
    return {
        "resumed_from": str(plan.warm_resume or plan.main_resume) if plan.resuming else None,
        "resumed_at_step": plan.step if plan.resuming else None,
        "warm_start_ckpt": str(plan.warm_ckpt) if plan.warm_ckpt else None,
    }
