"""A callback for DDP tests of PPO's adaptive KL controller: each rank records, per RL iteration,
beta before and after ``finish``, its local controller inputs (KL, samples) and the KL ``finish``
reduced over ranks; at the end the records of every rank are gathered and rank 0 writes them to
``out`` as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch


class BetaProbe(L.Callback):
    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.records: list[dict] = []

    def on_fit_start(self, trainer, pl_module) -> None:
        finish = pl_module.finish

        def recorded(pg, stats):
            before = pl_module.kl_ctl.value
            local = (
                {"kl": float(pg.extra["kl"]), "n": float(pg.extra["weight"].sum())}
                if pg is not None and "kl" in pg.extra
                else {}
            )
            out = finish(pg, stats)
            self.records.append(
                {
                    "before": before,
                    "after": pl_module.kl_ctl.value,
                    "kl_reduced": out.get("kl"),
                    **local,
                }
            )
            return out

        pl_module.finish = recorded  # instance attribute: the shared loop calls self.finish

    def on_train_end(self, trainer, pl_module) -> None:
        ranks = [None] * trainer.world_size
        torch.distributed.all_gather_object(ranks, self.records)
        if trainer.global_rank == 0:
            self.out.write_text(json.dumps(ranks))
