"""Every conf/data option instantiates its datamodule and reads the shipped data; data.path works."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from hydra.utils import instantiate

from helpers.common import ROOT, compose

OPTIONS = sorted(p.stem for p in (ROOT / "conf" / "data").glob("*.yaml"))
SMALL_SYNTH = [
    "data.reader.sizes.sft=200",
    "data.reader.sizes.rl=50",
    "data.reader.sizes.heldout=50",
    "data.reader.sizes.val=20",
]


@pytest.mark.parametrize("option", OPTIONS)
def test_data_option_reads_its_train_and_val_splits(option: str, tmp_path) -> None:
    overrides = [f"data={option}"] + (SMALL_SYNTH if option.startswith("synth") else [])
    dm = instantiate(compose("train", overrides, output_dir=tmp_path).data)
    train = dm.problems(dm.train_split)
    assert train and all(p.solutions for p in train), option
    assert dm.problems(dm.val_split, dm.val_limit)
    items = dm.train_items()
    assert (
        len(items) == sum(len(p.solutions) for p in train) and items[0][1] in items[0][0].solutions
    )


def test_data_path_override_points_a_config_at_another_file(tmp_path) -> None:
    sanitized = ROOT / "data" / "mbpp" / "sanitized-mbpp.json"
    cfg = compose("train", ["data=mbpp", f"data.path={sanitized}"], output_dir=tmp_path)
    dm = instantiate(cfg.data)
    rows = json.loads(sanitized.read_text())
    assert len(dm.problems("train")) == sum(601 <= r["task_id"] <= 974 for r in rows)
    cfg = compose(
        "train",
        ["data=xlcost_cpp_java", f"data.path={ROOT / 'data' / 'xlcost' / 'Java-C++'}"],
        output_dir=tmp_path,
    )
    p = instantiate(cfg.data).problems("val")[0]
    assert p.source_language == "cpp" and p.language == "java"


def test_synth_rl_split_serves_problems_without_solutions(tmp_path) -> None:
    dm = instantiate(compose("train", ["data=synth", *SMALL_SYNTH], output_dir=tmp_path).data)
    dm.items = "problems"  # what an RL module asks for (its train_items)
    probs = dm.train_items()
    assert len(probs) == 50 and all(not p.solutions and p.split == "rl" for p in probs)
    cfg = compose(
        "train", ["data=synth_translation", "data.reader.seed=3", *SMALL_SYNTH], output_dir=tmp_path
    )
    p = instantiate(cfg.data).problems("sft")[0]
    assert p.language == "cpp" and p.tests.style == "stdio" and "public class Main" in p.prompt


def test_the_datamodule_serves_what_the_module_trains_on(tmp_path) -> None:
    """The datamodule asks the module being fitted: problems or pairs (``train_items``), or the
    module's own dataset (critic labels, repair pairs), in shuffled passes of its batch size."""
    from types import SimpleNamespace

    from execrl.vocabulary import Problem

    dm = instantiate(
        compose(
            "train", ["data=synth", *SMALL_SYNTH, "data.batch_size=4"], output_dir=tmp_path
        ).data
    )

    class RL:
        train_items = "problems"

        def train_dataset(self):
            return None

    dm.trainer = SimpleNamespace(lightning_module=RL())
    batch = next(iter(dm.train_dataloader()))
    assert len(batch) == 4 and all(isinstance(p, Problem) and p.split == "rl" for p in batch)

    class Own(RL):
        train_batch_size = 3

        def train_dataset(self):
            return list(range(10))

    dm.trainer = SimpleNamespace(lightning_module=Own())
    batches = list(dm.train_dataloader())
    assert [len(b) for b in batches] == [3, 3, 3, 1] and sorted(
        x for b in batches for x in b
    ) == list(range(10))


def test_the_datamodule_serves_the_problems_a_module_builds_its_data_from(tmp_path) -> None:
    """``fit_problem_needs`` -> ``receive_problems`` at ``setup("fit")``: roles pick splits, the
    train and RL roles keep ``train_limit``, a limit keeps a seeded subset of those."""
    from types import SimpleNamespace

    overrides = ["data=synth", *SMALL_SYNTH, "++data.train_limit=12"]
    dm = instantiate(compose("train", overrides, output_dir=tmp_path).data)

    class Needs:
        received: ClassVar[dict] = {}

        def fit_problem_needs(self):
            return {
                "anchor": ("train_split", None),
                "pool": ("rl_split", 5),
                "all": ("fit_splits", None),
                "named": ("heldout", None),
            }

        def receive_problems(self, sets):
            self.received = sets

    module = Needs()
    dm.trainer = SimpleNamespace(lightning_module=module)
    dm.setup("fit")
    got = module.received
    assert {p.split for p in got["anchor"]} == {"sft"} and len(got["anchor"]) == 12
    assert {p.split for p in got["pool"]} == {"rl"} and len(got["pool"]) == 5
    assert {p.task_id for p in got["pool"]} <= {p.task_id for p in dm.serve("rl_split")}
    assert got["pool"] == dm.serve("rl_split", 5)  # seeded: the same subset every time
    splits = {p.split for p in got["all"]}
    assert splits == {"sft", "rl", "val"} and len(got["all"]) > 12  # whole splits, no limit
    assert {p.split for p in got["named"]} == {"heldout"}
    dm.setup("validate")  # only fitting hands data over
    assert module.received is got
