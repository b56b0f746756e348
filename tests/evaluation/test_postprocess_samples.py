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


# ---------------------------------------------------------------------------------- issue 30, item 12
def _completion_problem(language: str = "python") -> Problem:
    """A completion-style prompt (no prompt_style in meta): the response continues its code."""
    return Problem(
        "HumanEval/0",
        "humaneval",
        prompt='def sort_list(xs):\n    """Return xs sorted."""\n',
        language=language,
    )


@pytest.mark.parametrize(
    "after",
    [
        "\n\nThis function sorts the list with Python's built-in sorted.\n",
        "\n\nExample usage:\n```python\nprint(sort_list([3, 1]))\n```\n",
        "",  # the response ends at the fence
    ],
)
def test_completion_style_keeps_the_code_before_the_fence_that_closes_it(after):
    """SmolLM2 in completion style writes the body, closes a fence it never opened, then prose:
    the body is the program (it used to be swapped for the prose after the fence)."""
    raw = "    return sorted(xs)\n```" + after
    assert strip_fences(raw, continues_code=True) == "    return sorted(xs)\n"
    assert postprocess(raw, _completion_problem()) == "    return sorted(xs)\n"


def test_completion_style_still_reads_a_block_the_response_opens():
    p = _completion_problem()
    tagged = "Here you go:\n```python\ndef sort_list(xs):\n    return sorted(xs)\n```\nDone."
    bare_after_prose = (
        "Sure! Here is the code\n```\ndef sort_list(xs):\n    return sorted(xs)\n```\n"
    )
    for raw in (tagged, bare_after_prose, "```python\ndef sort_list(xs):\n    return sorted(xs)\n"):
        assert postprocess(raw, p) == "def sort_list(xs):\n    return sorted(xs)\n"
    # another language: a bare fence after code closes it; a tagged one opens a block
    cpp = _completion_problem("cpp")
    assert strip_fences("int main() { return 0; }\n```\nThis program returns 0.", True, False) == (
        "int main() { return 0; }\n"
    )
    assert postprocess("Translation:\n```cpp\nint main() {}\n```", cpp) == "int main() {}\n"


def test_instruct_style_is_unchanged():
    """An instruct prompt's response starts inside the block the prompt opened (the actor's
    extract_code cuts it); what reaches postprocess is read as before."""
    p = Problem(
        "mbpp/1", "mbpp", prompt="...", meta={"prompt_style": "instruct"}, language="python"
    )
    assert postprocess("def f(x):\n    return x\n\nprint(f(1))\n", p) == "def f(x):\n    return x\n"
    assert postprocess("Here:\n```python\ndef f():\n    return 1\n```\nmore", p) == (
        "def f():\n    return 1\n"
    )


# ---------------------------------------------------------------------------------- issue 30, item 9
def test_non_utf8_byte_names_file_and_line(tmp_path):
    p = tmp_path / "samples.jsonl"
    p.write_bytes(
        json.dumps({"task_id": "a", "completion": "pass"}).encode()
        + b'\n{"task_id": "b", "completion": "x = \'\xff\'"}\n'
    )
    with pytest.raises(SamplesFormatError, match=f"{p}:2: not UTF-8 \\(byte 0xff"):
        read_samples(p)


def test_empty_completions_and_empty_file_are_errors(tmp_path):
    p = _write(
        tmp_path,
        [
            json.dumps({"task_id": "a", "completions": ["x"]}),
            json.dumps({"task_id": "b", "completions": []}),
        ],
    )
    with pytest.raises(SamplesFormatError, match=f"{p}:2: task 'b' has no completions"):
        read_samples(p)
    # an empty list beside another line of the same task is harmless
    p = _write(
        tmp_path,
        [
            json.dumps({"task_id": "b", "completions": []}),
            json.dumps({"task_id": "b", "completion": "y"}),
        ],
    )
    assert read_samples(p)[0].completions == ["y"]
    for text in ("", "\n\n"):
        p.write_text(text)
        with pytest.raises(SamplesFormatError, match="no samples"):
            read_samples(p)
