"""Constructors that take their config object: ``X(config: XConfig | None = None, **overrides)``.

Hydra instantiates a node by passing its fields as keyword arguments, Python callers name the few
they change: both land in :func:`configured`, so the defaults stay in the dataclass alone."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, TypeVar

from omegaconf import OmegaConf

T = TypeVar("T")


@functools.cache
def _interpolations(cls: type) -> dict[str, tuple[str, Any]]:
    """``{field: (its interpolation default, that resolved as in a config of its own)}``, e.g.
    ``${oc.select:model.prompt_style,completion}`` -> ``completion``."""
    base = cls()
    return {
        f.name: (v, OmegaConf.create({"v": v}).v)
        for f in dataclasses.fields(cls)
        if isinstance(v := getattr(base, f.name), str) and "${" in v
    }


def defaults(cls: type[T]) -> T:
    """A fresh ``cls()`` with its interpolations resolved: what a Python caller gets."""
    return _resolve(cls, cls())


def _resolve(cls: type[T], config: T) -> T:
    """``config`` with the interpolation defaults it still holds resolved (outside a composed
    config nothing else would)."""
    lone = {k: v for k, (raw, v) in _interpolations(cls).items() if getattr(config, k) == raw}
    return dataclasses.replace(config, **lone) if lone else config


def configured(cls: type[T], config: T | None, overrides: dict[str, Any]) -> T:
    """``config`` (else the defaults of ``cls``) with ``overrides``; an unknown key is a TypeError
    naming it."""
    if config is not None and not isinstance(config, cls):
        raise TypeError(f"expected a {cls.__name__}, got {type(config).__name__}")
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(map(repr, unknown))}")
    return _resolve(cls, dataclasses.replace(config if config is not None else cls(), **overrides))


def subset(cls: type[T], config: Any, **extra: Any) -> T:
    """A ``cls`` of the keys it shares with ``config`` (its ``_target_`` aside), plus ``extra``:
    the part of a config one component takes (the sandbox worker's limits, a Ray actor's pool)."""
    shared = {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(cls)
        if not f.name.startswith("_") and hasattr(config, f.name)
    }
    return cls(**{**shared, **extra})
