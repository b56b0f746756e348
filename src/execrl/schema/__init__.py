"""Typed configs: one dataclass per configurable part, the single source of its defaults.

Each submodule defines its dataclasses and stores them in Hydra's ConfigStore under
``schema/<group>`` when imported (``execrl.schema.store.store``); a yaml file in ``conf/`` names its
schema in its defaults list and keeps only what it changes. This package imports no torch, so
composing a config stays fast. ``register()`` runs before any composition (the entry points and
``execrl.utils.config.compose``).
"""

from __future__ import annotations

import importlib

# the submodules whose dataclasses are stored (each stores its own on import)
SUBMODULES: tuple[str, ...] = (
    "algos",
    "coderl",
    "data",
    "executor",
    "model",
    "rollout",
    "sampling",
    "trainer",
)


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    for name in SUBMODULES:
        importlib.import_module(f"execrl.schema.{name}")
