"""Which Lightning strategy a run uses, and a clear refusal where an algorithm does not support it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def strategy_name(trainer: Any) -> str:
    """A short name for the trainer's strategy: ``ddp``, ``fsdp``, ``deepspeed_stage_3``, ``single``..."""
    strategy = getattr(trainer, "strategy", None)
    cls = type(strategy).__name__
    if cls == "DeepSpeedStrategy":
        stage = strategy.config.get("zero_optimization", {}).get("stage", 0)
        offload = bool(strategy.config.get("zero_optimization", {}).get("offload_optimizer"))
        return f"deepspeed_stage_{stage}" + ("_offload" if offload else "")
    if cls == "FSDPStrategy":
        return "fsdp"
    if cls.startswith("DDP"):
        return "ddp"
    return "single"


class UnsupportedStrategyError(RuntimeError):
    """An algorithm was asked to run under a strategy it cannot run correctly under."""


def check_strategy_support(module: Any, trainer: Any) -> None:
    """Raise :class:`UnsupportedStrategyError` if ``module.unsupported_strategies`` names this strategy."""
    name = strategy_name(trainer)
    reasons: dict[str, str] = getattr(module, "unsupported_strategies", {}) or {}
    for prefix, why in reasons.items():
        if name.startswith(prefix):
            raise UnsupportedStrategyError(
                f"{type(module).__name__} does not support hardware strategy {name!r}: {why}. "
                "See README 'Scaling out' for the strategy table."
            )


def all_reduce(strategy: Any, x: Any, op: str = "mean") -> Any:
    """``x`` reduced over the strategy's processes (``mean`` or ``sum``), the same on every rank."""
    if op not in ("mean", "sum"):
        raise ValueError(f"all_reduce op must be mean|sum, got {op!r}")
    return strategy.reduce(x, reduce_op=op)


def built_on_rank_zero(trainer: Any, build: Callable[[], T]) -> T:
    """``build()`` run on rank 0 only and its result broadcast: one dataset for every rank (the
    distributed sampler shards one dataset; ranks with datasets of different lengths would end
    their epochs at different steps)."""
    strategy = getattr(trainer, "strategy", None) if trainer is not None else None
    if strategy is None or strategy.world_size == 1:
        return build()
    return strategy.broadcast(build() if strategy.is_global_zero else None, src=0)
