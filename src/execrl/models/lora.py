"""LoRA through ``peft``: wrapping, the reference policy as the adapters switched off, merged weights.

With ``model.lora.r > 0`` the actor's model is a ``peft`` model whose only trainable parameters are
the adapters. Then:

- the frozen reference policy of RL (KL penalty, PPO's reference) is the same model with the
  adapters disabled (:class:`AdapterDisabled`), as TRL does: no second copy of the weights;
- checkpoints hold the adapters only (:func:`adapter_state_dict`), the base weights are rebuilt
  from the model config that every checkpoint carries;
- a bf16 sampling copy gets the merged weights ``W + B A * scale`` (:func:`merged_parameters`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def is_peft(model: nn.Module) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def base_model(model: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (the model itself otherwise)."""
    return model.get_base_model() if is_peft(model) else model


def add_lora(
    model: nn.Module,
    r: int,
    alpha: float | None = None,
    dropout: float = 0.0,
    target_modules: Sequence[str] | str | None = None,
    seq2seq: bool = False,
) -> nn.Module:
    """``model`` with fresh LoRA adapters of rank ``r`` on ``target_modules`` (B = 0: same outputs)."""
    from peft import LoraConfig, TaskType, get_peft_model

    targets = (
        list(target_modules)
        if target_modules and not isinstance(target_modules, str)
        else (target_modules or list(DEFAULT_TARGETS))
    )
    cfg = LoraConfig(
        r=int(r),
        lora_alpha=float(alpha if alpha is not None else 2 * r),
        lora_dropout=float(dropout),
        target_modules=targets,
        task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM,
    )
    return get_peft_model(model, cfg)


def load_adapter(model: nn.Module, path: str, trainable: bool = True) -> nn.Module:
    """``model`` with the peft adapter saved in folder ``path`` (``adapter_config.json`` + weights)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, path, is_trainable=trainable)


def is_adapter_key(key: str) -> bool:
    return "lora_" in key


def adapter_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if is_adapter_key(k)}


class AdapterDisabled(nn.Module):
    """The reference policy of a LoRA actor: the actor's own model with its adapters switched off.

    Has no parameters of its own (so nothing is saved twice, trained or moved); every method of
    the actor is available and runs with the adapters disabled and without gradients.
    """

    def __init__(self, actor: nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, "_actor", actor)  # not a submodule: its weights stay the actor's

    def __getattr__(self, name: str) -> Any:
        attr = getattr(object.__getattribute__(self, "_actor"), name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with torch.no_grad(), self._actor.model.disable_adapter():
                return attr(*args, **kwargs)

        return call


def merged_parameters(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """``(name in the base model, weight)`` for every parameter, LoRA layers merged (``W + delta``)."""
    if not is_peft(model):
        yield from ((n, p.detach()) for n, p in model.named_parameters())
        return
    from peft.tuners.lora import LoraLayer

    base = base_model(model)
    merged: dict[str, torch.Tensor] = {}
    for name, module in base.named_modules():
        if isinstance(module, LoraLayer):
            w = module.get_base_layer().weight.detach()
            for adapter in module.active_adapters:
                if adapter in module.lora_A:
                    w = w + module.get_delta_weight(adapter).detach().to(w.dtype)
            merged[f"{name}.base_layer.weight"] = w
    for name, p in base.named_parameters():
        if is_adapter_key(name):
            continue
        w = merged.get(name, p.detach())
        yield name.replace(".base_layer.", "."), w
