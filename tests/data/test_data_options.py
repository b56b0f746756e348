"""data.reindent_tabs and data.truncation_side change the tokens as upstream's loaders do, and the
typed data, model and executor configs refuse a wrong key or type at compose time."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

from execrl.data.reindent import reindent_tabs

from helpers.common import compose

# (input, what salesforce/CodeRL's datasets/utils.py:19 reindent_code returns: datasets/reindent.py
# run() with tabs=True, at commit ec3c526a), computed by running upstream's function
UPSTREAM = [
    (
        "def f(x):\n    if x:\n        return 1\n    return 2",
        "def f(x):\n\tif x:\n\t\treturn 1\n\treturn 2\n",
    ),
    (
        "x = 1\nfor i in range(3):\n  print(i)\n  if i:\n    print('  two  spaces')\n",
        "x = 1\nfor i in range(3):\n\tprint(i)\n\tif i:\n\t\tprint('  two  spaces')\n",
    ),
    ("def g():\n\treturn 1\n", "def g():\n\treturn 1\n"),
    ("a = 1\r\nwhile a:\r\n    a -= 1\r\n", "a = 1\nwhile a:\n\ta -= 1\n"),
    (
        "def h():\n\n    s = '''\n  text\n'''\n      # odd comment\n    return s\n",
        "def h():\n\n\ts = '''\n  text\n'''\n\t  # odd comment\n\treturn s\n",
    ),
    ("", ""),
    ("print(1)", "print(1)\n"),
]


@pytest.mark.parametrize(("code", "upstream"), UPSTREAM)
def test_reindent_is_coderls(code: str, upstream: str) -> None:
    assert reindent_tabs(code) == upstream


def test_reindent_tabs_changes_the_ground_truth_tokens(tmp_path) -> None:
    """MBPP's references are space-indented: with the option the SFT/CE/critic targets (the
    problems' solutions) are upstream's tab-indented programs, and so other tokens."""
    cfgs = {
        on: compose("train", ["data=mbpp", f"data.reindent_tabs={on}"], output_dir=tmp_path)
        for on in (False, True)
    }
    plain, tabbed = (instantiate(cfgs[on].data).problems("train")[:20] for on in (False, True))
    assert [p.task_id for p in plain] == [p.task_id for p in tabbed]
    changed = 0
    for a, b in zip(plain, tabbed):
        assert b.solutions == [reindent_tabs(s) for s in a.solutions]
        changed += any(x != y for x, y in zip(a.solutions, b.solutions))
    assert changed and "\t" in "".join(s for p in tabbed for s in p.solutions)
    actor = instantiate(cfgs[True].model)
    old, _ = actor.encode_responses(plain[0].solutions[:1], max_len=512)
    new, _ = actor.encode_responses(tabbed[0].solutions[:1], max_len=512)
    assert old.tolist() != new.tolist()


@pytest.mark.parametrize("side", ["left", "right"])
def test_truncation_side_picks_the_end_of_a_long_prompt_that_is_kept(side: str, tmp_path) -> None:
    """right (PPOCoder, CodeRL) keeps a too-long prompt's first tokens, left (the default) its last:
    HF tokenizers' truncation_side, set from data.truncation_side for every model preset."""
    for model in ("tiny_t5", "tiny_causal"):
        over = [f"model={model}", "model.max_prompt_len=8"]
        cfg = compose("train", [*over, f"data.truncation_side={side}"], output_dir=tmp_path)
        assert cfg.model.prompt_truncation == side
        assert compose("train", over, output_dir=tmp_path).model.prompt_truncation == "left"
        actor = instantiate(cfg.model)
        prompt = " ".join(f"w{i}" for i in range(40))
        full = actor.tokenizer(actor.format_prompt(prompt), add_special_tokens=False)["input_ids"]
        ids, _ = actor.encode_prompts([prompt])
        assert ids[0].tolist() == (full[:8] if side == "right" else full[-8:])


def test_an_unknown_truncation_side_is_refused(tmp_path) -> None:
    cfg = compose("train", ["data.truncation_side=middle"], output_dir=tmp_path)
    with pytest.raises(Exception, match="truncation_side"):
        instantiate(cfg.data)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("data.truncation_sid=right", "truncation_sid"),
        ("data.batch_size=abc", "batch_size"),
        ("data.reindent_tabs=maybe", "reindent_tabs"),
        ("data.reader.sed=1", "sed"),
        ("data.reader.num_tests=abc", "num_tests"),
        ("model.max_new_tokenz=5", "max_new_tokenz"),
        ("model.max_new_tokens=abc", "max_new_tokens"),
        ("model.lora.r=abc", "lora.r"),
        ("executor.timeout=4", "timeout"),
        ("executor.workers=two", "workers"),
        ("trainer.max_step=1", "max_step"),
        ("trainer.max_steps=abc", "max_steps"),
        ("report.limt=5", "limt"),
    ],
)
def test_a_wrong_key_or_type_fails_at_compose_naming_it(override: str, key: str) -> None:
    with pytest.raises(ConfigCompositionException) as e:
        compose("train", [override])
    assert key in str(e.value) + str(e.value.__cause__)
