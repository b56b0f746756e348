"""The training task behind ``train.py``: instantiate everything from config, then fit.

RL and critic algorithms start from an SFT actor, as CodeRL and PPOCoder do. When such an
algorithm runs with ``actor_ckpt=null`` and ``warm_start.enabled``, the task is a two-stage
pipeline: the warm-start stage (its own ``warm_start.*`` sections, shared data and model) in
``<run dir>/warm_start``, then the algorithm from that checkpoint; at the end it prints held-out
pass@1 before and after.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf, open_dict

from execrl.models.checkpoint import load_actor_weights
from execrl.utils.callbacks import FitTimer
from execrl.utils.config import (
    apply_torch_threads,
    instantiate_list,
    name_wandb_run,
    print_config_tree,
    task_wrapper,
)
from execrl.utils.tracking import finish_wandb

log = logging.getLogger("execrl")


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """``ckpt_path=last`` resumes from ``<run dir>/checkpoints/last.ckpt`` when it exists."""
    ckpt = cfg.get("ckpt_path")
    if ckpt == "last":
        last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
        return str(last) if last.exists() else None
    return ckpt


def build_executor(cfg: DictConfig) -> Any:
    """The sandboxed executor, started before any model is built (no CUDA state in its workers)."""
    if cfg.get("executor") and "_target_" in cfg.executor:
        ex = hydra.utils.instantiate(cfg.executor)
        log.info("executor: %s", getattr(ex, "isolation_level", "?"))
        return ex
    return None


def needs_warm_start(cfg: DictConfig) -> bool:
    ws = cfg.get("warm_start") or {}
    if not ws.get("enabled") or cfg.get("actor_ckpt") or cfg.get("ckpt_path"):
        return False
    return bool(getattr(hydra.utils.get_class(cfg.algo._target_), "needs_warm_start", False))


def warm_start_config(cfg: DictConfig) -> DictConfig:
    """The warm-start stage's config: the run's shared sections (data, model, hardware, executor,
    seed, logger, callbacks) with the stage's own ``warm_start.algo``, ``.optimizer``,
    ``.scheduler`` and ``.trainer`` in place of the algorithm's, in ``<run dir>/warm_start``."""
    ws = cfg.warm_start
    stage = copy.deepcopy(cfg)
    with open_dict(stage):
        stage.algo = copy.deepcopy(ws.algo)
        stage.optimizer = copy.deepcopy(ws.optimizer)
        stage.scheduler = copy.deepcopy(ws.scheduler)
        stage.trainer = OmegaConf.merge(stage.trainer, ws.get("trainer") or {})
        stage.trainer.max_steps = ws.max_steps
        stage.paths.output_dir = str(Path(cfg.paths.output_dir) / "warm_start")
        stage.warm_start.enabled = False
        stage.actor_ckpt = None
        stage.ckpt_path = None
    return stage


def greedy_outcomes(
    actor: Any,
    problems: list,
    executor: Any,
    batch_size: int = 100,
    programs: list[str] | None = None,
) -> list[Any]:
    """The sandbox outcome of ``actor``'s greedy program for each problem, in order.

    ``programs``: a list that receives the greedy programs themselves (e.g. for CodeBLEU)."""
    from execrl.rollout.judged import sample_and_judge

    judged = sample_and_judge(actor, problems, executor, batch_size=batch_size)
    if programs is not None:
        programs += [j.program for j in judged]
    return [j.outcome for j in judged]


def outcome_rates(outcomes: list[Any]) -> dict[str, float]:
    """pass@1 and compile rate of one program per problem (infrastructure errors are left out, not failures)."""
    from execrl.vocabulary import Outcome

    judged = [o for o in outcomes if not o.is_infra]
    n = max(len(judged), 1)
    return {
        "pass@1": sum(o is Outcome.PASSED for o in judged) / n,
        "compile_rate": sum(o is not Outcome.COMPILE_ERROR for o in judged) / n,
    }


def greedy_pass_at_1(actor: Any, problems: list, executor: Any, batch_size: int = 100) -> float:
    """Held-out greedy pass@1 of ``actor``."""
    return outcome_rates(greedy_outcomes(actor, problems, executor, batch_size))["pass@1"]


def fit(
    cfg: DictConfig, executor: Any, extra_callbacks: list[Any] | None = None
) -> tuple[dict[str, float], Any, Any]:
    """Instantiate data, model, algorithm, callbacks, loggers, trainer from ``cfg`` and fit.

    ``extra_callbacks`` (Lightning callback objects) join the configured ones, e.g. a benchmark's timer."""
    L.seed_everything(cfg.seed, workers=True)
    apply_torch_threads(cfg)
    if cfg.get("print_config"):
        print_config_tree(cfg, save_to=cfg.paths.output_dir)
    datamodule = hydra.utils.instantiate(cfg.data)
    actor = hydra.utils.instantiate(cfg.model)
    if cfg.get("actor_ckpt"):
        load_actor_weights(actor, cfg.actor_ckpt)
        log.info("actor weights loaded from %s", cfg.actor_ckpt)
    module = hydra.utils.instantiate(
        cfg.algo,
        actor=actor,
        optimizer=hydra.utils.instantiate(cfg.optimizer),
        scheduler=hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        executor=executor,
        _recursive_=False,
    )
    callbacks = instantiate_list(cfg.get("callbacks")) + list(extra_callbacks or [])
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    if trainer_cfg.get("max_time"):  # counted from fit start: setup is spent from the budget
        callbacks.append(FitTimer(duration=trainer_cfg.pop("max_time"), interval="step"))
    name_wandb_run(cfg)
    loggers = instantiate_list(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(
        trainer_cfg, callbacks=callbacks, logger=loggers or False
    )
    hparams = OmegaConf.to_container(
        OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True
    )
    for lg in loggers:
        lg.log_hyperparams(hparams)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return metrics, module, datamodule


@task_wrapper
def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.algo`` on ``cfg.data`` with ``cfg.model`` (after an SFT warm-start for RL)."""
    executor = build_executor(cfg)
    try:
        warm = None
        if needs_warm_start(cfg):
            ws_cfg = warm_start_config(cfg)
            log.info(
                "warm start: algo=sft for %d steps in %s",
                ws_cfg.trainer.max_steps,
                ws_cfg.paths.output_dir,
            )
            _, warm, _ = fit(ws_cfg, executor)
            finish_wandb()
            with open_dict(cfg):
                cfg.actor_ckpt = str(Path(ws_cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
        metrics, module, datamodule = fit(cfg, executor)
        if warm is not None and executor is not None and cfg.warm_start.get("report_split"):
            metrics.update(_before_after(cfg, warm, module, datamodule, executor))
        log.info("final metrics: %s", metrics)
        return metrics
    finally:
        if executor is not None:
            executor.close()


def _before_after(
    cfg: DictConfig, warm: Any, module: Any, datamodule: Any, executor: Any
) -> dict[str, float]:
    """Held-out greedy pass@1 of the warm-start actor and of the final actor, printed and saved."""
    split = cfg.warm_start.report_split
    problems = datamodule.problems(split, cfg.warm_start.get("report_limit"))
    before = greedy_pass_at_1(warm.actor.eval(), problems, executor)
    after = greedy_pass_at_1(module.actor.eval(), problems, executor)
    name = type(module).__name__.replace("Module", "")
    out = {f"{split}/pass@1_sft": before, f"{split}/pass@1_{name.lower()}": after}
    summary = f"held-out pass@1 on {datamodule.name}:{split} ({len(problems)} problems): SFT {before:.3f} -> SFT+{name} {after:.3f}"
    log.info(summary)
    print(summary)
    Path(cfg.paths.output_dir, "summary.json").write_text(
        json.dumps({"split": split, "n": len(problems), **out}, indent=2)
    )
    return out
