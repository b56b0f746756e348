"""Post-processing of raw responses and the samples-file reader's validation."""

from __future__ import annotations

import json

import pytest

from execrl.metrics.samples import SamplesFormatError, read_samples
from execrl.rollout.postprocess import (
    cut_at_stop,
    postprocess,
    strip_fences,
    tabs_to_spaces,
    with_starter_code,
)
from execrl.vocabulary import Problem


def test_strip_fences_and_stops():
    raw = "Here you go:\n```python\ndef f(x):\n    return x\n```\nExplanation..."
    assert strip_fences(raw) == "def f(x):\n    return x\n"
    assert strip_fences("```\nprint(1)\n") == "print(1)\n"  # unclosed fence
    assert (
        cut_at_stop("def f():\n    pass\n[DONE]\nassert f()", ["[DONE]", "\nassert"])
        == "def f():\n    pass\n"
    )


def test_postprocess_uses_dataset_stops_and_strips_prompt_echo():
    p = Problem("mbpp/1", "mbpp", prompt="Write f.\n[BEGIN]\n")
    out = postprocess("Write f.\n[BEGIN]\ndef f():\n\treturn 1\n[DONE] junk", p, untab=True)
    assert out == "def f():\n    return 1\n"


def test_starter_code_prepended_only_when_missing():
    starter = "class Solution:\n    def solve(self, a):\n"
    body = "        return a + 1\n"
    assert with_starter_code(body, starter).startswith(
        "class Solution:\n    def solve(self, a):\n        return a"
    )
    full = starter + body
    assert with_starter_code(full, starter) == full
    assert tabs_to_spaces("\t\tx = 1\n\ty") == "        x = 1\n    y"


def _write(tmp_path, lines):
    p = tmp_path / "samples.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_read_samples_merges_single_completion_lines(tmp_path):
    p = _write(
        tmp_path,
        [
            json.dumps({"task_id": "a", "completions": ["x", "y"], "logprobs": [-1.0, -2.0]}),
            json.dumps({"task_id": 7, "completion": "z"}),
            "",
            json.dumps({"task_id": 7, "completion": "w", "score": 0.5}),
        ],
    )
    got = read_samples(p)
    assert [s.task_id for s in got] == ["a", "7"]
    assert got[0].logprobs == [-1.0, -2.0]
    assert got[1].completions == ["z", "w"] and got[1].scores == [None, 0.5]


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ('{"task_id": "a", "completions": ["x"]', "not valid JSON"),
        ('{"completions": ["x"]}', "task_id"),
        ('{"task_id": "a", "completions": [1]}', "list of strings"),
        ('{"task_id": "a"}', "completion"),
        ('{"task_id": "a", "completions": ["x"], "logprobs": [1, 2]}', "logprobs"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad, needle):
    p = _write(tmp_path, [json.dumps({"task_id": "ok", "completion": "pass"}), bad])
    with pytest.raises(SamplesFormatError) as e:
        read_samples(p)
    assert f"{p}:2:" in str(e.value) and needle in str(e.value)
