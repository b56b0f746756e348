"""Load actors back from Lightning checkpoints (which carry the model config that built them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from execrl.models.actor import Actor, build_actor


def _read(ckpt_path: str | Path) -> dict[str, Any]:
    path = Path(ckpt_path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return torch.load(path, map_location="cpu", weights_only=False)


def actor_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The ``actor.*`` weights of a module checkpoint, with the prefix removed."""
    sd = checkpoint.get("state_dict", checkpoint)
    out = {k[len("actor.") :]: v for k, v in sd.items() if k.startswith("actor.")}
    if not out:
        raise KeyError("checkpoint holds no 'actor.*' weights (is it an execrl module checkpoint?)")
    return out


def load_actor_weights(actor: Actor, ckpt_path: str | Path) -> Actor:
    """Load the actor weights of a checkpoint into an already built actor (strict)."""
    actor.load_state_dict(actor_state_dict(_read(ckpt_path)))
    return actor


def load_actor(ckpt_path: str | Path, model_cfg: dict[str, Any] | None = None) -> Actor:
    """Rebuild the actor a checkpoint was trained with (or ``model_cfg``) and load its weights."""
    checkpoint = _read(ckpt_path)
    cfg = dict(model_cfg or checkpoint.get("execrl_model_cfg") or {})
    if not cfg:
        raise KeyError(f"{ckpt_path} has no saved model config; pass model=... explicitly")
    cfg.pop("_target_", None)
    actor = build_actor(**cfg)
    actor.load_state_dict(actor_state_dict(checkpoint))
    return actor
