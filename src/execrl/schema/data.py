"""Typed configs of the data group (``conf/data``): the problem source and one schema per reader.

A data yaml names ``/schema/data@_here_: source`` and its reader's ``/schema/data/reader@reader``,
then sets only what differs (path, splits, batch sizes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execrl.schema.store import store


@dataclass
class ReaderConfig:
    """What every reader takes."""

    _target_: str = "???"
    on_error: str = "raise"  # or skip: drop malformed records, counted in reader.skipped


@dataclass
class APPSReaderConfig(ReaderConfig):
    _target_: str = "execrl.data.apps.APPSReader"
    # CodeRL's APPS_test_example_tests; null: <path>/<split>_example_tests when it exists
    example_tests_dir: str | None = None
    require_tests: bool = True  # a problem without input_output.json tests is malformed


@dataclass
class HumanEvalReaderConfig(ReaderConfig):
    _target_: str = "execrl.data.humaneval.HumanEvalReader"
    dataset: str = "humaneval"


@dataclass
class MBPPReaderConfig(ReaderConfig):
    _target_: str = "execrl.data.mbpp.MBPPReader"


@dataclass
class SynthReaderConfig(ReaderConfig):
    _target_: str = "execrl.data.synth.SynthReader"
    task: str = "synthesis"  # or translation
    seed: int = 0
    split_seed: int | None = None  # which op pairs are novel; null: follows seed
    sizes: dict[str, int] = field(
        default_factory=lambda: {"sft": 20000, "rl": 2000, "heldout": 1000, "val": 200}
    )
    num_tests: int = 5
    # seeds rl/heldout/val with `seed` (sft stays public): null = this install's secret
    # ($EXECRL_SYNTH_SECRET, else ~/.config/execrl/synth_secret, made on first use); set the same
    # string on every machine whose results you compare
    secret: str | None = None


@dataclass
class XLCoSTReaderConfig(ReaderConfig):
    _target_: str = "execrl.data.xlcost.XLCoSTReader"
    # languages: java, cpp, c, c_sharp, python, php, javascript (the executor runs all but javascript)
    source_lang: str = "java"
    target_lang: str = "cpp"
    detokenize: bool = True  # the tokenised pairs back to compilable source


@dataclass
class DataConfig:
    """A problem source (:class:`execrl.data.source.ProblemSource`; train.py's is the datamodule)."""

    _target_: str = "execrl.data.datamodule.ProblemDataModule"
    reader: Any = None  # a reader schema above
    path: str | None = None
    name: str = ""
    train_split: str = "train"
    # RL algorithms (items=problems) train on this split when set (synth's tests-only split)
    rl_split: str | None = None
    val_split: str | None = None
    test_split: str | None = None
    batch_size: int = 16
    val_batch_size: int | None = None  # null: batch_size
    train_limit: int | None = None
    val_limit: int | None = None
    num_workers: int = 0
    items: str = "solutions"  # or problems (RL); the module being fitted says which
    seed: int = 0
    # completion: the dataset's own prompt; instruct: a chat-model prompt (execrl.data.prompting),
    # set by model configs such as smollm2_135m
    prompt_style: str = "${oc.select:model.prompt_style,completion}"
    # which end of a too-long prompt is kept (the model's prompt_truncation follows this):
    # left truncates the left, keeping the end; right keeps the beginning (PPOCoder, CodeRL)
    truncation_side: str = "left"
    # ground-truth programs reindented to tabs before SFT, CE and critic scoring, as CodeRL's
    # datasets/utils.py reindent_code does (execrl.data.reindent)
    reindent_tabs: bool = False


store("data", "source", DataConfig)
for _name, _node in {
    "apps": APPSReaderConfig,
    "humaneval": HumanEvalReaderConfig,
    "mbpp": MBPPReaderConfig,
    "synth": SynthReaderConfig,
    "xlcost": XLCoSTReaderConfig,
}.items():
    store("data/reader", _name, _node)
