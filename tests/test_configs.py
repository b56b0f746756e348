"""Every option of every conf/ group composes, and the embedded models instantiate."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from omegaconf import OmegaConf

from helpers.common import ROOT, compose

# groups whose options compose with train.yaml; generate/evaluate-only groups with their own root
TRAIN_GROUPS = [
    "data",
    "model",
    "algo",
    "optimizer",
    "scheduler",
    "reward",
    "executor",
    "rollout",
    "hardware",
    "logger",
    "callbacks",
    "experiment",
    "debug",
    "hparams_search",
    "sweep",
]
OTHER_ROOTS = {"sampling": "generate"}


def _options(group: str) -> list[str]:
    folder = ROOT / "conf" / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.exists() else []


CASES = [(g, o, "train") for g in TRAIN_GROUPS for o in _options(g)] + [
    (g, o, root) for g, root in OTHER_ROOTS.items() for o in _options(g)
]


def _override(group: str, option: str) -> str:
    # sweeps are not in train.yaml's defaults list: they are added with "+sweep=option"
    return f"+{group}={option}" if group == "sweep" else f"{group}={option}"


@pytest.mark.parametrize(("group", "option", "root"), CASES, ids=[f"{g}={o}" for g, o, _ in CASES])
def test_every_group_option_composes(group: str, option: str, root: str, tmp_path: Path) -> None:
    cfg = compose(root, [_override(group, option)], output_dir=tmp_path)
    # resolving catches broken interpolations (e.g. ${trainer.max_steps} in a scheduler)
    body = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    container = OmegaConf.to_container(body, resolve=True)
    assert container  # the composed tree is non-empty and fully resolvable


def test_overrides_compose_together(tmp_path: Path) -> None:
    cfg = compose(
        "train",
        ["data=mbpp", "model=tiny_causal", "algo=sft", "optimizer.lr=5e-4"],
        output_dir=tmp_path,
    )
    assert cfg.data.name == "mbpp"
    assert cfg.model.arch == "causal"
    assert cfg.optimizer.lr == 5e-4
    opt = hydra.utils.instantiate(cfg.optimizer)
    assert opt.func.__name__ == "AdamW" and opt.keywords["lr"] == 5e-4


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_embedded_models_build_without_download(model: str, tmp_path: Path) -> None:
    cfg = compose("train", [f"model={model}"], output_dir=tmp_path)
    actor = hydra.utils.instantiate(cfg.model)
    n_params = sum(p.numel() for p in actor.parameters())
    assert 0.5e6 < n_params < 3e6


def test_hub_model_offline_gives_clear_error(tmp_path: Path) -> None:
    cfg = compose("train", ["model=codet5_base"], output_dir=tmp_path)
    # Hydra wraps the loader's OSError; the message must still say what to do
    with pytest.raises(Exception, match=r"model.pretrained=/path|model.tokenizer=/path"):
        hydra.utils.instantiate(cfg.model)


def test_config_typo_is_a_clear_error(tmp_path: Path) -> None:
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="xlcost_jav_cpp"):
        compose("train", ["data=xlcost_jav_cpp"], output_dir=tmp_path)
