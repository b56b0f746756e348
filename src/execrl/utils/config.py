"""Config helpers: rich config tree, instantiation of callbacks/loggers, the task wrapper."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from execrl.utils.tracking import finish_wandb

log = logging.getLogger("execrl")

PRINT_ORDER = (
    "data",
    "model",
    "algo",
    "optimizer",
    "scheduler",
    "reward",
    "executor",
    "trainer",
    "hardware",
    "callbacks",
    "logger",
    "paths",
)


def plain(value: Any) -> Any:
    """``value`` as plain Python containers where it is a config node (Hydra passes nested
    config sections to constructors as ``DictConfig``/``ListConfig``; a typed config built with
    ``OmegaConf.to_object`` holds nested dataclasses), else ``value`` itself."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def project_root() -> Path:
    """Repository root (the folder holding ``.project-root``), exported as ``PROJECT_ROOT``."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / ".project-root").exists():
            return parent
    return Path.cwd()


def set_project_root_env() -> None:
    """Set ``$PROJECT_ROOT`` (the configs' paths) and store the typed configs (``execrl.schema``):
    what every entry point does before Hydra composes."""
    os.environ.setdefault("PROJECT_ROOT", str(project_root()))
    from execrl.schema import register

    register()


def compose(
    config_name: str = "train",
    overrides: list[str] | None = None,
    output_dir: str | Path | None = None,
) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` like the CLI does, outside ``@hydra.main`` (tests, benches).

    A Hydra runtime is set so ``${hydra:...}`` resolves; ``output_dir`` becomes the run dir."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    set_project_root_env()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(project_root() / "conf"), version_base="1.3"):
        cfg = hydra_compose(
            config_name=config_name, overrides=overrides or [], return_hydra_config=True
        )
    if output_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(output_dir)
            cfg.hydra.run.dir = str(output_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


def run_single_job(
    task_function: Callable[[DictConfig], Any],
    script: str | Path,
    config_name: str,
    argv: Sequence[str],
) -> tuple[bool, Any]:
    """``@hydra.main``'s single run, composing the config once: returns ``(True, task's result)``.

    ``@hydra.main`` composes every config twice (once only to learn ``hydra.mode``); this is Hydra's
    own ``Hydra.run`` (same search path, run dir, ``.hydra/`` files, logging, callbacks) after one
    composition. ``(False, None)`` -- nothing has run -- when the command line has a flag (``-m``,
    ``--cfg``, ``--help``, ...), the config asks for a multirun, this Hydra is not the 1.3 line, or
    composing fails (``@hydra.main`` then reports the error its own way): the caller runs
    ``@hydra.main``. A task that raises raises here, as with ``@hydra.main``."""
    if any(a.startswith("-") for a in argv):
        return False, None
    try:
        import hydra
        from hydra._internal.callbacks import Callbacks
        from hydra._internal.hydra import Hydra
        from hydra._internal.utils import (
            create_automatic_config_search_path,
            detect_task_name,
            run_and_report,
        )
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.utils import run_job
        from hydra.types import HydraContext, RunMode
        from omegaconf import open_dict, read_write

        if not hydra.__version__.startswith("1.3."):
            return False, None
        from hydra import version

        script = str(Path(script).resolve())
        version.setbase("1.3")
        app = Hydra.create_main_hydra2(
            task_name=detect_task_name(script, None),
            config_search_path=create_automatic_config_search_path(script, None, "conf"),
        )
        overrides = list(argv)
        cfg = app.compose_config(
            config_name=config_name,
            overrides=overrides,
            run_mode=RunMode.RUN,
            with_log_configuration=True,
        )
        if cfg.hydra.mode not in (None, RunMode.RUN):
            GlobalHydra.instance().clear()
            return False, None
        with read_write(cfg.hydra), open_dict(cfg.hydra):  # as @hydra.main records a plain run
            cfg.hydra.mode = RunMode.RUN
            cfg.hydra.overrides.hydra.append("hydra.mode=RUN")
    except Exception:  # @hydra.main composes again and reports it
        try:
            from hydra.core.global_hydra import GlobalHydra

            GlobalHydra.instance().clear()
        except Exception:
            pass
        return False, None

    def run() -> Any:
        callbacks = Callbacks(cfg)
        callbacks.on_run_start(config=cfg, config_name=config_name)
        ret = run_job(
            hydra_context=HydraContext(config_loader=app.config_loader, callbacks=callbacks),
            task_function=task_function,
            config=cfg,
            job_dir_key="hydra.run.dir",
            job_subdir_key=None,
            configure_logging=True,
        )
        callbacks.on_run_end(config=cfg, config_name=config_name, job_return=ret)
        return ret.return_value  # raises the task's exception

    try:
        return True, run_and_report(
            run
        )  # a failure is reported as @hydra.main does (HYDRA_FULL_ERROR=1: the whole trace), exit 1
    finally:
        GlobalHydra.instance().clear()


def fast_exit(code: int = 0) -> None:
    """End a finished command-line run now: exit handlers, logging and stdio flushed, then ``os._exit``
    -- skipping the interpreter's teardown of every loaded module (about 0.1 s of a short run)."""
    import atexit

    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def is_rank_zero() -> bool:
    """Lightning's ``rank_zero_only`` test without importing Lightning (and torch) for it: once Lightning
    is loaded its rank (set by the strategy) decides; before that, the launcher's rank variables."""
    if "lightning" in sys.modules:
        from lightning.pytorch.utilities import rank_zero_only

        return getattr(rank_zero_only, "rank", 0) == 0
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(key):
            return int(os.environ[key]) == 0
    return True


def print_config_tree(
    cfg: DictConfig, save_to: str | Path | None = None, order: Sequence[str] = PRINT_ORDER
) -> None:
    """Print the composed config as a rich tree and save it as ``config_tree.log`` (rank zero only)."""
    if not is_rank_zero():
        return
    import rich
    import rich.syntax
    import rich.tree

    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    keys = [k for k in order if k in cfg] + [k for k in cfg if k not in order and k != "hydra"]
    for key in keys:
        branch = tree.add(str(key), style="bold", guide_style="dim")
        value = cfg[key]
        text = (
            OmegaConf.to_yaml(value, resolve=False) if isinstance(value, DictConfig) else str(value)
        )
        branch.add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)
    if save_to is not None:
        Path(save_to).mkdir(parents=True, exist_ok=True)
        with open(Path(save_to) / "config_tree.log", "w") as f:
            rich.print(tree, file=f)


def instantiate_list(cfg: DictConfig | None) -> list[Any]:
    """Instantiate every entry with a ``_target_`` (callbacks, loggers)."""
    out: list[Any] = []
    if not cfg:
        return out
    import hydra

    for _, conf in cfg.items():
        if isinstance(conf, DictConfig) and "_target_" in conf:
            out.append(hydra.utils.instantiate(conf))
    return out


def task_wrapper(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Log failures and always close wandb, so one failed multirun job does not poison the next."""

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> Any:
        try:
            return task(cfg)
        except Exception:
            log.exception("task failed")
            raise
        finally:
            finish_wandb()

    return wrapped


def name_wandb_run(cfg: DictConfig) -> None:
    """Fill unset wandb ``name``/``group`` from Hydra: one group per multirun, names from overrides."""
    wb = (cfg.get("logger") or {}).get("wandb")
    if wb is None:
        return
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
    except ValueError:  # no Hydra runtime (plain compose in a notebook)
        return
    from omegaconf import open_dict

    with open_dict(wb):
        if wb.get("name") is None and hc.job.override_dirname:
            wb.name = hc.job.override_dirname
        if wb.get("group") is None and hc.mode == RunMode.MULTIRUN:
            wb.group = f"{cfg.task_name}-{Path(hc.sweep.dir).name}"


def apply_torch_threads(cfg: DictConfig) -> None:
    """Set torch's intra-op threads (and the OpenMP/BLAS variables) from ``torch_threads``, if given:
    :func:`execrl.utils.threads.apply_thread_settings`, shared by the three entry points."""
    from execrl.utils.threads import apply_thread_settings

    apply_thread_settings(cfg)
