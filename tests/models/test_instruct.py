"""Instruct-model prompting: evalplus-style prompts per dataset, the chat template, responses as
fenced code blocks (stop at the closing fence, extraction, SFT targets written the same way)."""

from __future__ import annotations

import hydra
import torch

from execrl.data import prompting
from execrl.models.actor import FenceStop, build_actor
from execrl.rollout.postprocess import postprocess

from helpers.common import compose
from tiny_gguf import CHAT_TEMPLATE


def _mbpp(tmp_path, model="smollm2_135m"):
    cfg = compose("generate", [f"model={model}", "data=mbpp"], output_dir=tmp_path)
    return hydra.utils.instantiate(cfg.data).problems("test")


def test_mbpp_instruct_prompt_shows_the_description_and_the_first_test_only(tmp_path) -> None:
    p = _mbpp(tmp_path)[0]
    user, prefix = prompting.split_chat_prompt(p.prompt)
    assert (
        user.startswith("Please provide a self-contained Python script") and p.meta["text"] in user
    )
    assert p.tests.asserts[0] in user and not any(a in user for a in p.tests.asserts[1:])
    assert prefix.endswith("```python\n") and p.meta["prompt_style"] == "instruct"
    # the data config follows the model's prompt style; evaluate.py (no model) keeps the dataset's own
    assert _mbpp(tmp_path, "tiny_causal")[0].prompt.startswith(
        "You are an expert Python programmer"
    )
    assert p.meta["completion_prompt"] == _mbpp(tmp_path, "tiny_causal")[0].prompt


def test_apps_and_translation_instruct_prompts(tmp_path) -> None:
    cfg = compose("generate", ["model=smollm2_135m", "data=apps"], output_dir=tmp_path)
    apps = hydra.utils.instantiate(cfg.data).problems("train")
    stdio = next(p for p in apps if p.tests.style == "stdio")
    user, prefix = prompting.split_chat_prompt(stdio.prompt)
    assert (
        "standard input" in user
        and "QUESTION:" not in user
        and "ANSWER:" not in user
        and prefix.endswith("```python\n")
    )
    assert stdio.train_prompt is None  # one prompt for training and sampling
    cfg = compose("generate", ["model=smollm2_135m", "data=xlcost_java_cpp"], output_dir=tmp_path)
    t = hydra.utils.instantiate(cfg.data).problems("test")[0]
    user, prefix = prompting.split_chat_prompt(t.prompt)
    assert (
        "into C++" in user
        and "```java\n" in user
        and t.source_code.strip()[:40] in user
        and prefix.endswith("```cpp\n")
    )


def test_extract_code_and_targets() -> None:
    assert (
        prompting.extract_code("def f():\n    return 1\n```\nThis function returns 1.")
        == "def f():\n    return 1\n"
    )
    assert (
        prompting.extract_code("```python\ndef g(): pass\n```\ntext") == "def g(): pass\n"
    )  # reopened a block
    assert (
        prompting.extract_code("def f(x):\n    return x") == "def f(x):\n    return x"
    )  # cut at max_new_tokens
    assert prompting.fenced_target("def f():\n    return 1\n\n") == "def f():\n    return 1\n```"
    assert (
        not prompting.closed("def f():")
        and prompting.closed("x = 1\n```")
        and not prompting.closed("```python\nx = 1\n")
    )


def test_fence_stop_fires_at_the_closing_fence_only() -> None:
    actor = build_actor(
        "causal",
        config=dict(
            hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
        ),
    )
    tok = actor.tokenizer
    prompt = tok("prompt ```python\n", add_special_tokens=False)["input_ids"]
    rows = {"done": "x = 1\n```", "open": "```python\nx = 1", "none": "x = `a`"}
    stop = FenceStop(tok, len(prompt))
    for name, text in rows.items():
        ids = torch.tensor([prompt + tok(text, add_special_tokens=False)["input_ids"]])
        fired = [
            bool(stop(ids[:, : len(prompt) + k], None)[0])
            for k in range(1, ids.shape[1] - len(prompt) + 1)
        ]
        assert fired[-1] == (name == "done") and not any(fired[:-1]), name


def test_instruct_actor_uses_the_chat_template_and_fenced_responses() -> None:
    actor = build_actor(
        "causal",
        config=dict(
            hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
        ),
        prompt_style="instruct",
        max_new_tokens=6,
    )
    actor.tokenizer.chat_template = CHAT_TEMPLATE
    prompt = prompting.chat_prompt("Write f.", "Here:\n```python\n")
    text = actor.format_prompt(prompt)
    assert text.startswith("<s>user\nWrite f.</s>\n<s>assistant\n") and text.endswith(
        "Here:\n```python\n"
    )
    ids, mask = actor.encode_responses(["def f():\n    return 1\n"], max_len=40)
    assert (
        actor.tokenizer.decode(ids[0, : int(mask.sum()) - 1]) == "def f():\n    return 1\n```"
        and ids[0, int(mask.sum()) - 1] == actor.eos_id
    )
    roll = actor.generate([prompt], do_sample=False)
    assert roll.raw_texts is not None and roll.texts == [prompting.extract_code(roll.raw_texts[0])]


def test_instruct_postprocessing_keeps_helpers_and_cuts_test_code(tmp_path) -> None:
    p = _mbpp(tmp_path)[0]
    code = "import re\ndef helper(s):\n    return s\n\ndef remove_Occ(s, c):\n    return helper(s)\n\nprint(remove_Occ('a', 'b'))\n"
    assert (
        postprocess(code, p)
        == "import re\ndef helper(s):\n    return s\n\ndef remove_Occ(s, c):\n    return helper(s)\n"
    )
