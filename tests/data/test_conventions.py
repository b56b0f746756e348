"""Dataset conventions (stop sequences, instruct prompt, detokenisation) come from each dataset's
reader (execrl.data.conventions): a new dataset's reader is all it takes, end to end."""

from __future__ import annotations

import subprocess
import sys

import hydra
from omegaconf import OmegaConf

from execrl.data.conventions import DEFAULT, conventions_of, executable_problem
from execrl.data.humaneval import HumanEvalReader
from execrl.data.prompting import split_chat_prompt
from execrl.data.source import SOURCE_TARGET
from execrl.judging.requests import judge_programs
from execrl.rollout.postprocess import default_stop, postprocess
from execrl.vocabulary import ExecutionResult, Outcome, Problem

from helpers.common import ROOT


class Recorder:
    """An executor that records what it is asked to run."""

    def __init__(self) -> None:
        self.requests = []

    def run(self, requests):
        self.requests += requests
        return [ExecutionResult(Outcome.PASSED) for _ in requests]


def _toy_source(tmp_path, style: str):
    f = tmp_path / "toy.txt"
    f.write_text("print one then two|print ( 1 ) NL print ( 2 )|1\n")
    node = {
        "_target_": SOURCE_TARGET,
        "reader": {"_target_": "helpers.toy_reader.ToyReader"},
        "path": str(f),
        "prompt_style": style,
    }
    return hydra.utils.instantiate(OmegaConf.create(node))


def test_a_new_readers_conventions_are_used_end_to_end(tmp_path) -> None:
    """The toy dataset (tests/helpers/toy_reader.py), named in no table of execrl: its stops cut
    the responses, its instruct prompt is asked, its token text is detokenised before judging."""
    (p,) = _toy_source(tmp_path, "completion").problems("train")
    assert p.dataset == "toy_lines" and default_stop(p) == ("\nEND",)
    assert postprocess("print(1)\nEND\nprint(3)\nSTOP", p) == "print(1)\n"

    (q,) = _toy_source(tmp_path, "instruct").problems("train")
    user, prefix = split_chat_prompt(q.prompt)
    assert user == "TOY TASK: print one then two" and prefix == "TOY ANSWER:\n"
    assert postprocess("print(1)\nSTOP\nprint(3)\nEND", q) == "print(1)\n"

    ex = Recorder()
    judge_programs([p], ["print ( 7 ) NL print ( 8 )"], ex)
    assert ex.requests[0].program == "print ( 7 )\nprint ( 8 )\n"
    assert executable_problem(p).solutions == ["print ( 1 )\nprint ( 2 )\n"]


def test_rewards_score_detokenised_programs_and_references(tmp_path) -> None:
    from execrl.algos.rl_base import score_programs

    seen = {}

    class Reward:
        def score(self, problems, programs, executor):
            seen.update(problems=problems, programs=programs)

    (p,) = _toy_source(tmp_path, "completion").problems("train")
    score_programs(Reward(), [p], ["x = 1 NL y = 2"], Recorder())
    assert seen["programs"] == ["x = 1\ny = 2\n"]
    assert seen["problems"][0].solutions == ["print ( 1 )\nprint ( 2 )\n"]


def test_a_shipped_dataset_is_found_by_name_without_importing_its_reader() -> None:
    """A bare Problem of a shipped dataset gets its reader's conventions in a fresh interpreter
    where nothing imported the reader (the canary: it was not imported before the lookup)."""
    code = (
        "import sys\n"
        "from execrl.rollout.postprocess import default_stop\n"
        "from execrl.vocabulary import Problem\n"
        "assert 'execrl.data.mbpp' not in sys.modules\n"
        "print(default_stop(Problem('mbpp/1', 'mbpp', prompt='')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
    )
    assert out.stdout.strip() == repr(("[DONE]", "\nassert ", "\nif __name__", "\nprint("))


def test_unknown_datasets_and_humaneval_style_files() -> None:
    """A dataset nobody registers has none; a HumanEval-style file naming its own dataset gets
    HumanEval's conventions, and never overrides another reader's."""
    assert conventions_of(Problem("x/1", "no_such_dataset", prompt="")) is DEFAULT
    assert conventions_of("synth_translation") is DEFAULT
    HumanEvalReader(dataset="he_style_file")
    assert conventions_of("he_style_file") is conventions_of("humaneval")
    HumanEvalReader(dataset="mbpp")
    assert conventions_of("mbpp").stop[0] == "[DONE]"
