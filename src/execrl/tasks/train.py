"""The training task behind ``train.py``: instantiate everything from config, then fit.

RL and critic algorithms start from an SFT actor, as CodeRL and PPOCoder do. When such an
algorithm runs with ``actor_ckpt=null`` and ``warm_start.enabled``, the task is a two-stage
pipeline: the warm-start stage (its own ``warm_start.*`` sections, shared data and model) in
``<run dir>/warm_start``, then the algorithm from that checkpoint. ``ckpt_path=last`` resumes the
stage the run stopped in (:mod:`execrl.tasks.resume`); the run ends with the result of what the
algorithm can change, in ``summary.json`` and printed last (:mod:`execrl.tasks.report`).
"""

from __future__ import annotations

import copy
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf, open_dict

from execrl.models.checkpoint import load_actor_weights
from execrl.schema.build import instantiate
from execrl.tasks import report as rep
from execrl.tasks.resume import RunPlan, describe, plan_run
from execrl.utils.callbacks import FitTimer
from execrl.utils.config import (
    apply_torch_threads,
    instantiate_list,
    is_rank_zero,
    name_wandb_run,
    print_config_tree,
)
from execrl.utils.tracking import finish_wandb

log = logging.getLogger("execrl")


def build_executor(cfg: DictConfig) -> Any:
    """The sandboxed executor, started before any model is built (no CUDA state in its workers)."""
    if cfg.get("executor") and "_target_" in cfg.executor:
        ex = hydra.utils.instantiate(cfg.executor)
        log.info("executor: %s", getattr(ex, "isolation_level", "?"))
        return ex
    return None


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


def outcome_rates(outcomes: list[Any]) -> dict[str, float]:
    """pass@1 and compile rate of one program per problem (infrastructure errors are left out, not failures)."""
    from execrl.vocabulary import Outcome

    judged = [o for o in outcomes if not o.is_infra]
    n = max(len(judged), 1)
    return {
        "pass@1": sum(o is Outcome.PASSED for o in judged) / n,
        "compile_rate": sum(o is not Outcome.COMPILE_ERROR for o in judged) / n,
    }


def fit(
    cfg: DictConfig,
    executor: Any,
    extra_callbacks: list[Any] | None = None,
    ckpt_path: str | Path | None = None,
    before_fit: Any = None,
) -> tuple[dict[str, float], Any, Any]:
    """Instantiate data, model, algorithm, callbacks, loggers, trainer from ``cfg`` and fit.

    ``extra_callbacks`` (Lightning callback objects) join the configured ones, e.g. a benchmark's
    timer; ``ckpt_path``: the checkpoint to resume from; ``before_fit(module, datamodule)`` runs
    once both are built, before training (e.g. to measure the starting actor)."""
    L.seed_everything(cfg.seed, workers=True)
    apply_torch_threads(cfg)
    if cfg.get("print_config"):
        print_config_tree(cfg, save_to=cfg.paths.output_dir)
    datamodule = hydra.utils.instantiate(cfg.data)
    actor = hydra.utils.instantiate(cfg.model)
    if cfg.get("actor_ckpt"):
        load_actor_weights(actor, cfg.actor_ckpt)
        log.info("actor weights loaded from %s", cfg.actor_ckpt)
    module = instantiate(
        cfg.algo,
        actor=actor,
        optimizer=hydra.utils.instantiate(cfg.optimizer),
        scheduler=hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        executor=executor,
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
    if before_fit is not None:
        before_fit(module, datamodule)
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(ckpt_path) if ckpt_path else None)
    save_final_last(trainer)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return metrics, module, datamodule


def save_final_last(trainer: L.Trainer) -> None:
    """Write ``last.ckpt`` at the step training ended on. ``ModelCheckpoint`` saves it only every
    ``every_n_train_steps``: a run stopped by ``trainer.max_time`` (or ``max_steps`` off that grid)
    would otherwise leave the steps after the last save out of ``last.ckpt``, which is what the
    held-out report, resume and the benches judge."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    for cb in trainer.checkpoint_callbacks:
        if not (isinstance(cb, ModelCheckpoint) and cb.save_last and cb.dirpath):
            continue
        if getattr(cb, "_last_global_step_saved", None) != trainer.global_step:
            trainer.save_checkpoint(
                Path(cb.dirpath) / f"{cb.CHECKPOINT_NAME_LAST}{cb.FILE_EXTENSION}"
            )


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.algo`` on ``cfg.data`` with ``cfg.model`` (after an SFT warm start for RL), resuming
    the stage a ``ckpt_path=last`` run stopped in; print and save the result."""
    one_console_copy()
    try:
        metrics, lines, summary = _train(cfg)
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C into SystemExit(1)
        log.warning(
            "stopped: the same command with ckpt_path=last hydra.run.dir=%s resumes it",
            cfg.paths.output_dir,
        )
        raise
    except BaseException:
        # the traceback goes to <run dir>/train.log; the console gets Hydra's single report
        log_to_files("task failed", logging.ERROR, exc_info=sys.exc_info())
        raise
    finally:
        finish_wandb()  # wandb prints its own summary when closing: before the result, not after
    if is_rank_zero():
        print(rep.result_block(lines, Path(cfg.paths.output_dir), summary), flush=True)
    return metrics


def _train(cfg: DictConfig) -> tuple[dict[str, float], list[str], Path]:
    if "reward" in cfg.algo and "reward" not in cfg:
        raise ValueError(
            f"algo={cfg.algo._target_.rsplit('.', 1)[-1]} needs a reward and data={cfg.data.get('name')} "
            "brings none: add `- /reward@_global_.reward: unit_test` to the data config's defaults "
            "(as conf/data/mbpp.yaml does), or pass +reward=<option>"
        )
    if cfg.trainer.get("fast_dev_run"):
        with open_dict(cfg):
            cfg.report.split = None  # a smoke run: no held-out measurement
    run = _Run(cfg, plan_run(cfg), build_executor(cfg))
    try:
        if run.plan.run_warm_start:
            run.warm_start()
        main_cfg = cfg
        if run.plan.warm_ckpt and not run.plan.main_resume:
            main_cfg = copy.deepcopy(cfg)
            with open_dict(main_cfg):
                main_cfg.actor_ckpt = str(run.plan.warm_ckpt)
        metrics, module, datamodule = fit(
            main_cfg, run.executor, ckpt_path=run.plan.main_resume, before_fit=run.before_fit
        )
        return run.report(metrics, module, datamodule)
    finally:
        if run.executor is not None:
            run.executor.close()


class _Run:
    """One start of a train.py run: its stages, and the measures its result compares."""

    def __init__(self, cfg: DictConfig, plan: RunPlan, executor: Any) -> None:
        self.cfg, self.plan, self.executor = cfg, plan, executor
        self.kind = rep.report_kind(hydra.utils.get_class(cfg.algo._target_))
        self.held: rep.HeldOut | None = None
        self.before: dict | None = None  # the starting actor's measure
        self.caveats: list[str] = []
        self.before_path = plan.run_dir / "report_before.json"

    def warm_start(self) -> None:
        """The warm-start stage (fresh or resumed); its actor is measured while at hand."""
        ws_cfg = warm_start_config(self.cfg)
        log.info(
            "warm start: algo=sft for %d steps in %s",
            ws_cfg.trainer.max_steps,
            ws_cfg.paths.output_dir,
        )
        _, warm, datamodule = fit(
            ws_cfg,
            self.executor,
            ckpt_path=self.plan.warm_resume,
            before_fit=lambda m, dm: self.caveats.extend(data_caveats(dm, m)),
        )
        finish_wandb()
        self.plan.warm_ckpt = Path(ws_cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
        if not self.plan.warm_ckpt.exists():  # callbacks without a ModelCheckpoint
            warm.trainer.save_checkpoint(self.plan.warm_ckpt)
        if self.kind == "before_after" and is_rank_zero():  # one rank measures (DDP)
            self.held = rep.HeldOut(self.cfg, datamodule, self.executor)
            if self.held:  # saved: a resumed run reports the same "before"
                self.before = rep.measure_before(
                    self.held, warm.actor, self.before_path, "SFT", str(self.plan.warm_ckpt)
                )

    def before_fit(self, module: Any, datamodule: Any) -> None:
        """The algorithm's stage, built and not yet trained: restore what a resume must not
        rebuild, and measure the starting actor unless it is measured already."""
        plan = self.plan
        self.caveats[:] = self.caveats or data_caveats(datamodule, module)
        if plan.main_resume and hasattr(module, "restore_setup"):
            module.restore_setup(plan.origin)  # e.g. CodeRL's critic and pool, as first built
        if self.kind != "before_after" or self.before is not None or not is_rank_zero():
            return
        self.held = self.held or rep.HeldOut(self.cfg, datamodule, self.executor)
        if not self.held:
            return
        label = "SFT" if plan.warm_start else "start"
        self.before = rep.saved_before(self.held, plan.origin / "report_before.json")
        if self.before is not None:
            return
        if not plan.main_resume and (plan.warm_ckpt or self.cfg.get("actor_ckpt")):
            source, actor = str(plan.warm_ckpt or self.cfg.actor_ckpt), module.actor
        elif plan.warm_ckpt:  # resumed, nothing saved: the warm-start actor, loaded again
            source, actor = str(plan.warm_ckpt), _actor_from(self.cfg, plan.warm_ckpt)
        else:
            return  # an actor trained from scratch: nothing to compare with
        self.before = rep.measure_before(self.held, actor, self.before_path, label, source)

    def report(
        self, metrics: dict[str, float], module: Any, datamodule: Any
    ) -> tuple[dict[str, float], list[str], Path]:
        """What the algorithm changed (``execrl.tasks.report``): summary.json and the result lines."""
        name, before = rep.algo_name(module), self.before
        summary: dict[str, Any] = {
            "algo": name,
            "data": datamodule.name,
            "run_dir": str(self.plan.run_dir),
            "step": int(module.global_step),
            **describe(self.plan),
            "val": {k: v for k, v in metrics.items() if k.startswith("val/")},
            "notes": self.caveats,
        }
        lines: list[str] = []
        if not is_rank_zero():  # one rank measures and reports (DDP)
            return metrics, lines, self.plan.run_dir / "summary.json"
        if self.kind == "critic":
            critic, lines = rep.critic_report(module)
            summary["critic"] = critic
            metrics.update(
                {f"heldout/critic_{k}": v for k, v in critic.items() if isinstance(v, float)}
            )
        elif self.kind in ("after", "before_after"):
            held = self.held or rep.HeldOut(self.cfg, datamodule, self.executor)
            if held:
                after = held.measure(module.actor)
                label = name if before is None else f"{before['label']}+{name}"
                label = label.removeprefix("start+")
                lines = rep.actor_lines(held, before, after, label)
                flat = rep.flat_metrics(held.split, before, after, name)
                summary.update(split=held.split, n=len(held.problems), after=after, **flat)
                if before is not None:
                    summary["before"] = before
                metrics.update(flat)
        if not lines:
            lines = rep.val_lines(metrics)
        lines += [f"note: {c}" for c in self.caveats]
        for line in lines:
            log_to_files(line)  # train.log keeps the result; the console gets it last
        return metrics, lines, rep.write_summary(self.plan.run_dir, summary)


def _actor_from(cfg: DictConfig, ckpt: Path) -> Any:
    actor = hydra.utils.instantiate(cfg.model)
    return load_actor_weights(actor, ckpt)


def data_caveats(datamodule: Any, module: Any) -> list[str]:
    """What a data config does that a user would not guess, said loudly at start and again with
    the result: training on a handful of problems (the shipped APPS sample), validating on the
    training split."""
    name = datamodule.name or "data"
    split = datamodule.train_split
    if getattr(module, "train_items", None) == "problems" and datamodule.rl_split:
        split = datamodule.rl_split
    out = []
    n = len(datamodule.problems(split, datamodule.train_limit))
    if n < 50:
        where = (
            f", read from {datamodule.path}: data.path=... reads another copy"
            if datamodule.path
            else ""
        )
        out.append(f"data={name} trains on {n} problems (its {split!r} split{where})")
    if datamodule.val_split and datamodule.val_split in (datamodule.train_split, split):
        out.append(
            f"data={name} validates on its training split {datamodule.val_split!r}: "
            "val/* measures fitting, not generalisation"
        )
    for line in out:
        log.warning(line)
    return out


def one_console_copy() -> None:
    """Lightning prints its INFO lines through its own console handler *and* passes them to the root
    logger (Hydra's console and file): keep Hydra's, so each line is printed once and still logged."""
    if not logging.getLogger().handlers:
        return  # no Hydra logging (a notebook): Lightning's handler is the only one
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            if type(h) is logging.StreamHandler:
                lg.removeHandler(h)
        lg.propagate = True
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_no_tips)


def _no_tips(record: logging.LogRecord) -> bool:
    """Drop Lightning's advertisement line (a tip to install another logging service)."""
    return not str(record.msg).startswith("💡 Tip")


def log_to_files(msg: str, level: int = logging.INFO, exc_info: Any = None) -> None:
    """Log to the root logger's file handlers only (``<run dir>/train.log``), not to the console."""
    record = log.makeRecord(log.name, level, __file__, 0, msg, (), exc_info)
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.FileHandler):
            h.handle(record)
