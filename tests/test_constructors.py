"""The actor, the executors and the problem source take their config object: the defaults live in
the dataclass alone, Python callers name what they change, a wrong key is refused by name."""

from __future__ import annotations

import dataclasses
import inspect

import hydra
import pytest
from omegaconf import OmegaConf

from execrl.data.datamodule import ProblemDataModule
from execrl.data.mbpp import MBPPReader
from execrl.data.source import ProblemSource
from execrl.execution.executor import Executor
from execrl.execution.ray_executor import RayExecutor
from execrl.models.actor import Actor, build_actor
from execrl.schema.data import DataConfig
from execrl.schema.executor import ExecutorConfig, RayExecutorConfig
from execrl.schema.model import ModelConfig
from execrl.schema.overrides import configured, defaults

from helpers.common import ROOT, TINY, compose

CONSTRUCTORS = [
    (build_actor, ModelConfig),
    (Actor.__init__, ModelConfig),
    (Executor.__init__, ExecutorConfig),
    (RayExecutor.__init__, RayExecutorConfig),
    (ProblemSource.__init__, DataConfig),
    (ProblemDataModule.__init__, DataConfig),
]


@pytest.mark.parametrize(("fn", "schema"), CONSTRUCTORS, ids=lambda x: x.__qualname__)
def test_no_constructor_repeats_a_default_of_its_config(fn, schema) -> None:
    params = inspect.signature(fn).parameters
    fields = {f.name for f in dataclasses.fields(schema)}
    repeated = [
        name
        for name, p in params.items()
        if name in fields
        and p.default is not p.empty
        and schema.__name__ not in str(p.annotation)  # not the config itself
    ]
    assert len(params) <= 8 and not repeated, f"{repeated} repeat the dataclass's keys"


def test_python_callers_get_the_dataclass_defaults_resolved(tmp_path) -> None:
    """The interpolation default of data.prompt_style resolves as a lone config resolves it."""
    src = ProblemSource(reader=MBPPReader(), path=str(ROOT / "data/mbpp/mbpp.jsonl"))
    assert src.prompt_style == "completion" and src.batch_size == DataConfig.batch_size
    assert src.problems("prompt")[0].prompt.startswith("You are an expert Python programmer")
    base = DataConfig(reader=MBPPReader(), batch_size=3)
    assert ProblemSource(base, seed=5).config == dataclasses.replace(
        defaults(DataConfig), reader=base.reader, batch_size=3, seed=5
    )
    with pytest.raises(ValueError, match="reader"):
        ProblemSource()


def test_a_wrong_key_or_config_type_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="'workerz'"):
        Executor(workerz=2)  # refused before any worker starts
    with pytest.raises(TypeError, match="'batchsize'"):
        ProblemSource(reader=MBPPReader(), batchsize=4)
    with pytest.raises(TypeError, match="'max_new_token'"):
        build_actor("causal", config=TINY["causal"], max_new_token=4)
    with pytest.raises(TypeError, match="expected a RayExecutorConfig"):
        RayExecutor(ExecutorConfig())
    assert configured(ExecutorConfig, ExecutorConfig(workers=3), {"nproc": 8}) == ExecutorConfig(
        workers=3, nproc=8
    )


def test_the_actor_keeps_its_whole_config_and_rebuilds_from_it(tmp_path) -> None:
    """build_cfg names every ModelConfig key: checkpoints rebuild the same actor from it, as from
    the config object itself; the arch alone, positionally, still works."""
    a = build_actor(ModelConfig(arch="causal", config=TINY["causal"]), max_new_tokens=7)
    assert set(a.build_cfg) == {f.name for f in dataclasses.fields(ModelConfig)}
    assert a.build_cfg["lora"] == dataclasses.asdict(ModelConfig().lora)
    b = build_actor(**{k: v for k, v in a.build_cfg.items() if k != "_target_"})
    c = build_actor("causal", config=TINY["causal"], max_new_tokens=7)
    assert a.build_cfg == b.build_cfg == c.build_cfg
    assert (a.max_new_tokens, a.max_prompt_len) == (7, ModelConfig.max_prompt_len)
    # a checkpoint written before the configs were typed: lora null, no _target_
    old = {**a.build_cfg, "lora": None}
    del old["_target_"]
    assert build_actor(**old).max_new_tokens == 7


def test_hydra_instantiates_the_typed_nodes(tmp_path) -> None:
    cfg = compose("train", ["model=tiny_causal", "data=mbpp"], output_dir=tmp_path)
    actor = hydra.utils.instantiate(cfg.model)
    assert actor.build_cfg == {**OmegaConf.to_container(cfg.model, resolve=True)}
    data = hydra.utils.instantiate(cfg.data)
    assert isinstance(data, ProblemDataModule) and data.config.batch_size == cfg.data.batch_size


def test_the_executor_hands_its_keys_to_the_judge_and_the_workers() -> None:
    with Executor(workers=1, timeout_s=1.5, memory_mb=300, nproc=16, compare="apps") as ex:
        assert (ex.judge_cfg.timeout_s, ex.judge_cfg.memory_mb, ex.judge_cfg.compare) == (
            1.5,
            300,
            "apps",
        )
        (w,) = (h.cfg for h in ex._handles)
        assert (w.timeout_s, w.memory_mb, w.nproc, w.cpp_pch) == (1.5, 300, 16, True)
