"""The actor, the executors, the problem source and the dataset readers take their config object:
the defaults live in the dataclass alone, Python callers name what they change, a wrong key is
refused by name."""

from __future__ import annotations

import dataclasses
import inspect

import hydra
import pytest
from omegaconf import OmegaConf

from execrl.data.apps import APPSReader
from execrl.data.datamodule import ProblemDataModule
from execrl.data.humaneval import HumanEvalReader
from execrl.data.mbpp import MBPPReader
from execrl.data.reader import Reader
from execrl.data.source import ProblemSource
from execrl.data.synth import SynthReader
from execrl.data.xlcost import XLCoSTReader
from execrl.execution.executor import Executor
from execrl.execution.ray_executor import RayExecutor
from execrl.models.actor import Actor, build_actor
from execrl.schema.data import (
    APPSReaderConfig,
    DataConfig,
    HumanEvalReaderConfig,
    MBPPReaderConfig,
    ReaderConfig,
    SynthReaderConfig,
    XLCoSTReaderConfig,
)
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
    (Reader.__init__, ReaderConfig),
    (APPSReader.__init__, APPSReaderConfig),
    (HumanEvalReader.__init__, HumanEvalReaderConfig),
    (MBPPReader.__init__, MBPPReaderConfig),
    (SynthReader.__init__, SynthReaderConfig),
    (XLCoSTReader.__init__, XLCoSTReaderConfig),
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


def test_a_reader_takes_its_config_object_and_the_keys_it_changes() -> None:
    assert APPSReader().config == APPSReaderConfig() and APPSReader().require_tests
    r = XLCoSTReader(XLCoSTReaderConfig(source_lang="cpp", detokenize=False), target_lang="java")
    assert (r.source_lang, r.target_lang, r.detok) == ("cpp", "java", False)
    assert r.config == XLCoSTReaderConfig(source_lang="cpp", target_lang="java", detokenize=False)
    skip = MBPPReader(MBPPReaderConfig(on_error="skip"))
    assert (skip.on_error, skip.skipped) == ("skip", 0)
    # a partial sizes changes only the splits it names
    assert SynthReader(sizes={"rl": 3}).sizes == {**SynthReaderConfig().sizes, "rl": 3}
    assert SynthReader(SynthReaderConfig(seed=4), task="translation").seed == 4
    assert HumanEvalReader(HumanEvalReaderConfig(on_error="skip")).dataset == "humaneval"
    with pytest.raises(TypeError, match="'on_eror'"):
        MBPPReader(on_eror="skip")
    with pytest.raises(TypeError, match="'sise'"):
        SynthReader(sise=3)
    with pytest.raises(TypeError, match="expected a XLCoSTReaderConfig"):
        XLCoSTReader("java")  # the languages are named: source_lang=..., target_lang=...
    with pytest.raises(TypeError, match="expected a APPSReaderConfig"):
        APPSReader(MBPPReaderConfig())
    with pytest.raises(ValueError, match="on_error"):
        APPSReader(on_error="ignore")


@pytest.mark.parametrize(
    "data", ["apps", "humaneval", "mbpp", "mbpp_sanitized", "synth", "synth_translation", "xlcost"]
)
def test_hydra_builds_each_reader_from_its_data_config(data: str, tmp_path) -> None:
    cfg = compose("train", [f"data={data}", "data.reader.on_error=skip"], output_dir=tmp_path)
    reader = hydra.utils.instantiate(cfg.data.reader)
    assert f"{type(reader).__module__}.{type(reader).__name__}" == cfg.data.reader._target_
    assert reader.config == OmegaConf.to_object(cfg.data.reader) and reader.on_error == "skip"
