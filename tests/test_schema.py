"""Typed configs (``execrl.schema``): one source for every default, and mistakes caught at compose time.

- every yaml value under ``conf/`` that lands on a node with a schema differs from the schema's
  default (a value equal to it is written twice: remove it from the yaml);
- no constructor (or function) a schema names as ``_target_`` has a Python keyword default for a
  setting its dataclass holds;
- a wrong type or an unknown key fails at compose time, naming the key.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import hydra
import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.object_type import ObjectType
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf

from execrl.schema import register

from helpers.common import ROOT, compose

CONF = ROOT / "conf"
# groups that compose with train.yaml (conf/hydra configures Hydra itself); sweeps are appended
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("hydra",))
OTHER_ROOTS = {"sampling": "generate"}


def _cases() -> list[tuple[Path, str, list[str]]]:
    """(yaml file, root config, overrides that compose it) for every option of every group."""
    out = []
    for group in GROUPS:
        for f in sorted((CONF / group).glob("*.yaml")):
            root = OTHER_ROOTS.get(group, "train")
            prefix = "+" if group == "sweep" else ""
            out.append((f, root, [f"{prefix}{group}={f.stem}"]))
    return out


def _package(f: Path) -> str:
    """Where a yaml's keys land: ``_global_`` (the root) or its group's path."""
    head = f.read_text().splitlines()[:1]
    if head and head[0].strip() == "# @package _global_":
        return ""
    return ".".join(f.parent.relative_to(CONF).parts)


def _included(f: Path, package: str | None = None) -> list[tuple[Path, str]]:
    """``f`` with the package its keys land in, and the yaml files of its own group its defaults
    list names (``- shared/rl``, ``- synth@data``), each with its package."""
    package = _package(f) if package is None else package
    files = [(f, package)]
    for entry in OmegaConf.load(f).get("defaults") or []:
        if not isinstance(entry, str) or entry == "_self_" or entry.startswith("/"):
            continue
        name, _, pkg = entry.partition("@")
        sub = f.parent / f"{name}.yaml"
        if pkg:
            pkg = package if pkg == "_here_" else ".".join(p for p in (package, pkg) if p)
        files += _included(sub, pkg or None)
    return files


def _leaves(node, path: str):
    if isinstance(node, DictConfig):
        for k in node:
            if k == "defaults":
                continue
            yield from _leaves(node._get_node(k), f"{path}.{k}" if path else str(k))
    else:
        yield path, node._value() if hasattr(node, "_value") else node


def _schema_default(cfg: DictConfig, path: str):
    """(dataclass, its default for ``path``'s key) where ``path``'s parent has a schema, else None."""
    parent, _, key = path.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if not isinstance(node, DictConfig):
        return None
    cls = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(cls) or not cls.__module__.startswith("execrl.schema"):
        return None  # no schema, or one of Hydra's (a plugin's)
    if key not in {f.name for f in dataclasses.fields(cls)}:
        return None
    defaults = OmegaConf.structured(cls)
    value = defaults._get_node(key)
    if isinstance(value, DictConfig):
        return None
    return cls, value._value()


CASES = _cases()


@pytest.mark.parametrize(
    ("path", "root", "overrides"), CASES, ids=[str(f.relative_to(CONF)) for f, _, _ in CASES]
)
def test_no_default_written_twice(path: Path, root: str, overrides: list[str]) -> None:
    cfg = compose(root, overrides)
    twice = []
    for f, package in _included(path):
        raw = OmegaConf.load(f)
        for leaf, value in _leaves(raw, package):
            found = _schema_default(cfg, leaf)
            if found is None:
                continue
            cls, default = found
            if value == default and isinstance(value, bool) == isinstance(default, bool):
                twice.append(f"{f.relative_to(CONF)}: {leaf}={value!r} is {cls.__name__}'s default")
    assert not twice, "\n".join(twice)


def _stored_schemas() -> list[tuple[str, type]]:
    register()
    cs = ConfigStore.instance()
    out = []

    def walk(path: str) -> None:  # groups nest (schema/data/reader)
        for name in cs.list(path):
            if cs.get_type(f"{path}/{name}") is ObjectType.GROUP:
                walk(f"{path}/{name}")
            else:
                node = cs.load(f"{path}/{name}").node
                out.append(
                    (
                        f"{path}/{name}".removeprefix("schema/").removesuffix(".yaml"),
                        OmegaConf.get_type(node),
                    )
                )

    walk("schema")
    return out


@pytest.mark.parametrize(("name", "cls"), _stored_schemas(), ids=lambda x: str(x))
def test_no_keyword_default_repeats_a_schema_field(name: str, cls: type) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    target = OmegaConf.structured(cls).get("_target_")
    if not target or target == "???":
        pytest.skip(f"{name} names no _target_")
    obj = hydra.utils.get_object(target)
    callables = (
        [k.__init__ for k in obj.__mro__ if "__init__" in vars(k)]
        if inspect.isclass(obj)
        else [obj]
    )
    twice = [
        f"{fn.__qualname__}({p.name}={p.default!r})"
        for fn in callables
        if getattr(fn, "__module__", "").startswith("execrl")
        for p in inspect.signature(fn).parameters.values()
        if p.name in fields and p.default is not inspect.Parameter.empty
    ]
    assert not twice, f"keyword defaults that {cls.__name__} holds: {twice}"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["algo=ppo", "algo.lamm=1"], "algo.lamm"),
        (["algo=ppo", "algo.lam=abc"], "algo.lam"),
        (["algo=grpo", "algo.kl_bias_correction=maybe"], "algo.kl_bias_correction"),
        (["algo=grpo", "algo.num_samples=2.5"], "algo.num_samples"),
        (["algo=rloo", "algo.loss_typ=bnpo"], "algo.loss_typ"),
        (["algo=sft", "algo.log_completions=many"], "algo.log_completions"),
        (["warm_start.algo.val_max_new_token=8"], "warm_start.algo.val_max_new_token"),
        (["algo=repair", "algo.batch_size=x"], "algo.batch_size"),
        (["experiment=ppocoder_paper", "algo.vf_coeff=0.1"], "algo.vf_coeff"),
    ],
)
def test_wrong_type_or_unknown_key_fails_at_compose_time(overrides: list[str], key: str) -> None:
    with pytest.raises(ConfigCompositionException) as err:
        compose("train", overrides)
    text = f"{err.value} {err.value.__cause__}"
    assert key in text, text


def test_a_schema_types_what_the_yaml_sets() -> None:
    """The composed nodes are the dataclasses, and values arrive typed (``1`` becomes ``1.0``)."""
    from execrl.schema.algos import GRPOConfig, PPOConfig, SFTConfig

    cfg = compose("train", ["algo=ppo", "algo.lam=1"])
    assert OmegaConf.get_type(cfg.algo) is PPOConfig and isinstance(cfg.algo.lam, float)
    assert OmegaConf.get_type(cfg.warm_start.algo) is SFTConfig
    assert OmegaConf.get_type(compose("train", ["algo=rloo"]).algo) is GRPOConfig
    assert OmegaConf.get_type(compose("train", ["experiment=grpo_execrl"]).algo) is GRPOConfig
