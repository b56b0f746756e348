"""Where the schemas go: Hydra's ConfigStore, under ``schema/<group>``."""

from __future__ import annotations

from typing import Any

from hydra.core.config_store import ConfigStore


def store(group: str, name: str, node: Any) -> None:
    """Store ``node`` (a dataclass) as ``schema/<group>/<name>``: a yaml names it in its defaults,
    e.g. ``- /schema/algo@algo: ppo``."""
    ConfigStore.instance().store(group=f"schema/{group}", name=name, node=node)
