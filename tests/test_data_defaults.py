"""A data config brings what its programs need to a train.py run: the reward, the generation
length, the size of the held-out report; the command line still wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.common import compose, requires_java_cpp, run_cli


def test_ppocoder_command_composes_ppocoders_reward_and_room_for_its_programs(tmp_path) -> None:
    cfg = compose("train", ["algo=ppo", "data=xlcost_java_cpp"], output_dir=tmp_path)
    assert cfg.algo._target_ == "execrl.algos.ppo.PPOModule"
    assert cfg.reward._target_ == "execrl.rewards.WeightedSum"
    assert set(cfg.reward.components) == {"compiler", "ast", "dfg"}  # PPOCoder's three terms
    assert cfg.algo.reward.components.compiler.reward._target_ == "execrl.rewards.CompilerReward"
    assert cfg.model.max_new_tokens == 512 and cfg.model.max_prompt_len == 768
    assert cfg.report.limit == 64 and cfg.report.split == "test"
    # its other spellings inherit it; synthesis data keeps CodeRL's unit-test reward
    for data in ("xlcost", "xlcost_cpp_java"):
        other = compose("train", [f"data={data}"], output_dir=tmp_path)
        assert other.reward._target_ == "execrl.rewards.WeightedSum", data
        assert other.model.max_new_tokens == 512, data
    for data in ("synth", "mbpp", "apps", "humaneval", "mbpp_sanitized"):
        other = compose("train", [f"data={data}"], output_dir=tmp_path)
        assert other.reward._target_ == "execrl.rewards.UnitTestReward", data
        assert other.model.max_new_tokens == 96 and other.report.limit == 1000, data
    assert (
        compose("train", ["data=synth_translation"], output_dir=tmp_path).model.max_new_tokens
        == 160
    )


def test_the_command_line_wins_over_the_data_config(tmp_path) -> None:
    cfg = compose(
        "train",
        [
            "data=xlcost_java_cpp",
            "reward=equivalence",
            "model.max_new_tokens=64",
            "report.limit=8",
            "model=codet5_base",  # a model config chosen on the command line: the data still sets
        ],
        output_dir=tmp_path,
    )
    assert cfg.reward._target_ == "execrl.rewards.EquivalenceReward"
    assert cfg.model.max_new_tokens == 64 and cfg.report.limit == 8
    assert cfg.model.max_prompt_len == 768
    # generate.py and evaluate.py compose the same data configs
    assert compose("generate", ["data=xlcost_java_cpp"], output_dir=tmp_path).data.name
    assert compose("evaluate", ["data=xlcost", "samples=x"], output_dir=tmp_path).data.name


def test_xlcost_lengths_fit_what_the_config_says(tmp_path) -> None:
    """The numbers in conf/data/xlcost_java_cpp.yaml, measured with the default model's tokenizer:
    512 new tokens hold 95%+ of the C++ references (96 held 6%), 768 prompt tokens 99% of the
    Java sources."""
    from hydra.utils import instantiate

    from execrl.tasks.evaluate import instantiate_problems

    cfg = compose("train", ["data=xlcost_java_cpp"], output_dir=tmp_path)
    problems = instantiate_problems(cfg.data).problems("test")
    tok = instantiate(compose("train", [], output_dir=tmp_path).model).tokenizer
    refs = [len(ids) for ids in tok([p.solutions[0] for p in problems])["input_ids"]]
    srcs = [len(ids) for ids in tok([p.prompt for p in problems])["input_ids"]]
    share = lambda xs, n: sum(x <= n for x in xs) / len(xs)  # noqa: E731
    assert share(refs, cfg.model.max_new_tokens) >= 0.95 and share(refs, 96) < 0.1
    assert share(srcs, cfg.model.max_prompt_len) >= 0.99


@requires_java_cpp
def test_ppocoder_run_reports_compile_rate_codebleu_and_computational_accuracy(
    tmp_path: Path,
) -> None:
    # `python train.py algo=ppo data=xlcost_java_cpp`, budgets shrunk: the data config's reward,
    # and a translation report before and after
    proc = run_cli(
        "train.py",
        "algo=ppo",
        "data=xlcost_java_cpp",
        "warm_start.max_steps=1",
        "trainer.max_steps=1",
        "trainer.val_check_interval=1000",
        "trainer.log_every_n_steps=1",
        "report.limit=2",
        "model.max_new_tokens=32",
        "data.batch_size=2",
        "algo.num_samples=2",
        "logger=csv",
        "print_config=false",
        f"hydra.run.dir={tmp_path}",
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    keys = {"compile_rate", "codebleu", "computational_accuracy"}
    assert set(summary["after"]) == keys and set(summary["before"]["metrics"]) == keys
    assert summary["n"] == 2 and summary["split"] == "test"
    assert all(v is not None for v in summary["after"].values())
    assert 0.0 < summary["after"]["codebleu"] <= 1.0  # scored against the references
    header = next((tmp_path / "csv").glob("*/metrics.csv")).read_text().splitlines()[0]
    assert "train/reward/compiler" in header and "train/reward/dfg" in header  # PPOCoder's reward
    block = proc.stdout[proc.stdout.index("held-out on xlcost_java_cpp:test (2 problems)") :]
    for label in ("compile rate", "CodeBLEU", "computational accuracy"):
        assert label in block and "->" in block


def test_a_data_config_without_a_reward_is_a_clear_error(tmp_path: Path) -> None:
    from omegaconf import open_dict

    from execrl.tasks.train import train

    cfg = compose("train", ["algo=grpo"], output_dir=tmp_path)
    with open_dict(cfg):
        del cfg["reward"]  # as a user's own data config without the defaults entry composes
    with pytest.raises(ValueError, match=r"brings none: add `- /reward@_global_\.reward"):
        train(cfg)
