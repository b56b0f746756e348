"""The one wandb helper: tables and histograms reach wandb loggers only, and closing a run never imports wandb."""

from __future__ import annotations

import subprocess
import sys

from lightning.pytorch.loggers import CSVLogger, WandbLogger

from execrl.utils.tracking import log_table, wandb_loggers


class _Recorder(WandbLogger):
    """A WandbLogger that records instead of starting a run."""

    def __init__(self) -> None:  # no wandb run
        self.tables: list[tuple] = []

    def log_table(self, key, columns=None, data=None, **_):
        self.tables.append((key, columns, data))


def test_tables_go_to_wandb_loggers_only(tmp_path) -> None:
    wb, csv = _Recorder(), CSVLogger(tmp_path)
    assert wandb_loggers([csv, wb]) == [wb]
    log_table([csv, wb], "k", ["a", "b"], [[1, 2]])
    assert wb.tables == [("k", ["a", "b"], [[1, 2]])]


def test_finishing_without_a_run_never_imports_wandb() -> None:
    code = "import sys\nfrom execrl.utils.tracking import finish_wandb\nfinish_wandb()\nprint('wandb' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"


def test_staged_keys_follow_one_scheme() -> None:
    from execrl.utils.tracking import staged

    got = staged(
        {"loss/policy": 1, "kl": 2, "train/pass_rate": 3, "val/pass@1": 4, "time_s/gen": 5}
    )
    assert got == {
        "train/loss/policy": 1,
        "train/kl": 2,
        "train/pass_rate": 3,
        "val/pass@1": 4,
        "train/time_s/gen": 5,
    }
    assert staged({"time_s/critic": 1.0}, "setup") == {"setup/time_s/critic": 1.0}
