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
    load_state(actor, actor_state_dict(_read(ckpt_path)))
    return actor


def load_state(actor: Actor, state: dict[str, torch.Tensor]) -> None:
    """Strict load; a LoRA actor also takes a full model's weights (e.g. an SFT checkpoint trained
    without adapters) into its base model, its adapters left as they are."""
    from execrl.models import lora

    if actor.has_adapters and not any(lora.is_adapter_key(k) for k in state):
        base = lora.base_model(actor.model)
        names = {
            k.replace(".base_layer.", "."): k
            for k in base.state_dict()
            if not lora.is_adapter_key(k)
        }
        mapped = {
            names[k[len("model.") :]]: v
            for k, v in state.items()
            if k.startswith("model.") and k[len("model.") :] in names
        }
        missing, _unexpected = base.load_state_dict(mapped, strict=False)
        missing = [k for k in missing if not lora.is_adapter_key(k)]
        if missing or len(mapped) != len(state):
            raise KeyError(
                f"checkpoint does not fit the actor's base model (missing {missing[:3]}, "
                f"unused {[k for k in state if k[len('model.') :] not in names][:3]})"
            )
        return
    actor.load_state_dict(state)


def load_actor(ckpt_path: str | Path, model_cfg: dict[str, Any] | None = None) -> Actor:
    """Rebuild the actor a checkpoint was trained with (or ``model_cfg``) and load its weights."""
    checkpoint = _read(ckpt_path)
    cfg = dict(model_cfg or checkpoint.get("execrl_model_cfg") or {})
    if not cfg:
        raise KeyError(f"{ckpt_path} has no saved model config; pass model=... explicitly")
    cfg.pop("_target_", None)
    actor = build_actor(**cfg)
    load_state(actor, actor_state_dict(checkpoint))
    return actor
