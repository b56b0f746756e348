"""Build an object from a structured config node: its class (``_target_``) takes the dataclass."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


def instantiate(node: DictConfig, **deps: Any) -> Any:
    """``cls(config=<the node as its dataclass>, **deps)`` for a node with a schema; a plain node
    (no dataclass behind it) goes through ``hydra.utils.instantiate`` with ``deps`` as keywords."""
    import hydra

    if OmegaConf.get_type(node) in (dict, None):
        return hydra.utils.instantiate(node, **deps, _recursive_=False)
    cls = hydra.utils.get_class(node._target_)
    return cls(config=OmegaConf.to_object(node), **deps)
