"""The training task behind ``train.py``: instantiate everything from config, then fit."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf

from execrl.models.checkpoint import load_actor_weights
from execrl.utils.config import instantiate_list, name_wandb_run, print_config_tree, task_wrapper

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


@task_wrapper
def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.algo`` on ``cfg.data`` with ``cfg.model``; returns the final logged metrics."""
    L.seed_everything(cfg.seed, workers=True)
    if cfg.get("print_config"):
        print_config_tree(cfg, save_to=cfg.paths.output_dir)
    executor = build_executor(cfg)
    try:
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
        module.model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
        datamodule.items = module.train_items
        callbacks = instantiate_list(cfg.get("callbacks"))
        name_wandb_run(cfg)
        loggers = instantiate_list(cfg.get("logger"))
        trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
        for lg in loggers:
            lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        trainer.fit(module, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg))
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        log.info("final metrics: %s", metrics)
        return metrics
    finally:
        if executor is not None:
            executor.close()
