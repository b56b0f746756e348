"""Typed configs of train.py's own keys: the Lightning ``trainer``, the ``warm_start`` stage and the
held-out ``report``. Defaults are what ``python train.py`` runs; ``hardware=...`` sets the devices.

Lightning keys not listed here are added with ``+trainer.<key>=...`` (e.g. ``+trainer.max_time``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execrl.schema.store import store


@dataclass
class TrainerConfig:
    """``lightning.Trainer`` arguments (``trainer:``)."""

    _target_: str = "lightning.Trainer"
    default_root_dir: str | None = "${paths.output_dir}"
    max_steps: int = 600
    max_epochs: int = -1
    val_check_interval: Any = 200  # steps (int) or a fraction of an epoch (float)
    check_val_every_n_epoch: int | None = None
    num_sanity_val_steps: int = 0
    log_every_n_steps: int = 10
    gradient_clip_val: float | None = 1.0
    accumulate_grad_batches: int = 1
    deterministic: Any = False  # or "warn"
    # the hardware group's (conf/hardware): cpu, gpu, ddp, fsdp, deepspeed
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: Any = "auto"  # a name or a strategy object (_target_)
    precision: Any = "32-true"
    use_distributed_sampler: bool = True
    fast_dev_run: Any = False  # debug=fdr


@dataclass
class WarmStartConfig:
    """The SFT stage RL and critic algorithms start from when ``actor_ckpt`` is null; its own
    algo, optimizer and scheduler sections, and trainer keys merged onto ``trainer``."""

    enabled: bool = True
    max_steps: int = 600
    trainer: dict[str, Any] = field(
        default_factory=lambda: {
            "max_epochs": -1,
            "gradient_clip_val": 1.0,
            "accumulate_grad_batches": 1,
        }
    )
    algo: Any = None
    optimizer: Any = None
    scheduler: Any = None


@dataclass
class ReportConfig:
    """The held-out report printed last (``<run dir>/summary.json``)."""

    split: str | None = "${data.test_split}"  # null: no held-out report (the last validation's)
    limit: int | None = 1000  # problems, a seeded random subset; null: the whole split
    batch_size: int = 100  # problems per generate call


store("trainer", "lightning", TrainerConfig)
store("trainer", "warm_start", WarmStartConfig)
store("trainer", "report", ReportConfig)
