"""Plain sampler rounds / greedy, and n@k ranking by example tests inside evaluate's judge."""

from __future__ import annotations

import hydra
import pytest
from omegaconf import OmegaConf

from execrl.rollout.plain import PlainSampler, summed_logprobs
from execrl.schema.sampling import PlainSamplingConfig
from execrl.tasks.evaluate import Judge, compute_metrics
from execrl.vocabulary import Problem, Tests

from helpers.common import compose


@pytest.fixture(scope="module")
def tiny_actor(tmp_path_factory):
    cfg = compose(
        "generate", ["model=tiny_causal", "model.max_new_tokens=8"], tmp_path_factory.mktemp("g")
    )
    return hydra.utils.instantiate(cfg.model).eval()


def test_sampler_rounds_and_greedy(tiny_actor):
    probs = [Problem(f"synth/{i}", "synth", prompt=f"Write f{i}.\n") for i in range(2)]
    out = PlainSampler(PlainSamplingConfig(n=3, n_per_round=2, temperature=1.0)).sample(
        tiny_actor, probs
    )
    assert [len(s) for s in out] == [3, 3]  # rounds of 2 and 1
    assert all(
        s.logprob is not None and s.logprob <= 0 and s.num_tokens >= 1 for row in out for s in row
    )
    g1 = PlainSampler(PlainSamplingConfig(n=1, greedy=True)).sample(tiny_actor, probs)
    g2 = PlainSampler(PlainSamplingConfig(n=1, greedy=True)).sample(tiny_actor, probs)
    assert [r[0].raw for r in g1] == [r[0].raw for r in g2]  # greedy is deterministic
    with pytest.raises(ValueError):
        PlainSampler(PlainSamplingConfig(n=2, greedy=True))


def test_logprobs_are_scored_in_row_chunks_that_bound_the_logits(tiny_actor):
    roll = tiny_actor.generate(["Write f.", "g"], num_return_sequences=3)
    whole = summed_logprobs(tiny_actor, roll)
    row_bytes = roll.response_ids.shape[1] * tiny_actor.model.config.vocab_size * 4
    scored = []
    original = tiny_actor.response_logprobs
    tiny_actor.response_logprobs = lambda *a: scored.append(len(a[0])) or original(*a)
    chunked = summed_logprobs(tiny_actor, roll, max_logit_bytes=2 * row_bytes)
    del tiny_actor.response_logprobs
    assert scored == [2, 2, 2] and len(whole) == 6
    assert chunked == pytest.approx(whole, abs=1e-4)


def test_example_test_ranking_gives_filtered_1_at_k(executor, tmp_path):
    hidden = Tests(
        style="assert", asserts=["assert f(1) == 2", "assert f(5) == 6", "assert f(-3) == -2"]
    )
    example = Tests(style="assert", asserts=["assert f(1) == 2"])
    p = Problem("toy/0", "toy", prompt="f adds one", tests=hidden, example_tests=example)
    programs = [
        "def f(x):\n    return x * 2\n",  # passes the example (1*2 == 2), fails hidden
        "def f(x):\n    return 0\n",  # fails everything
        "def f(x):\n    return x + 1\n",  # passes everything
    ]
    cfg = OmegaConf.create(
        {"tests": "hidden", "rank_by": "example_tests", "early_exit": False, "equivalence": True}
    )
    recs = Judge(cfg, executor)([(p, i, prog, None, None) for i, prog in enumerate(programs)])
    assert [r["outcome"] for r in recs] == ["failed", "failed", "passed"]
    assert [r["score"] for r in recs] == [1.0, 0.0, 1.0]
    assert recs[0]["pass_fraction"] == pytest.approx(1 / 3)  # every test ran (early_exit=false)
    m = compute_metrics(recs, ks=[1, 3], nks=[[1, 3], [2, 3]])
    # ranking [0, 2, 1]: 1@3 submits program 0 (fails); 2@3 also submits program 2 (passes)
    assert m["1@3"] == 0.0 and m["2@3"] == 1.0 and m["pass@1"] == pytest.approx(1 / 3)
    assert m["test_case_average"] == pytest.approx((1 / 3 + 0 + 1) / 3)


def test_generate_loads_actor_from_checkpoint(tiny_actor, tmp_path):
    """generate.py ckpt=...: the actor is rebuilt from the checkpoint's model config with its weights."""
    import json

    import torch

    from execrl.tasks.generate import generate

    model_cfg = {
        "arch": "causal",
        "tokenizer": "builtin",
        "max_prompt_len": 256,
        "max_new_tokens": 8,
        "config": {
            "hidden_size": 128,
            "intermediate_size": 384,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "max_position_embeddings": 1024,
            "tie_word_embeddings": True,
        },
    }
    ckpt = tmp_path / "last.ckpt"
    torch.save(
        {
            "state_dict": {f"actor.{k}": v for k, v in tiny_actor.state_dict().items()},
            "execrl_model_cfg": model_cfg,
        },
        ckpt,
    )
    # a different model group: the checkpoint's config must win
    cfg = compose(
        "generate",
        [
            "data=synth",
            "data.reader.sizes.heldout=20",
            "limit=2",
            "sampling.greedy=true",
            "model=tiny_t5",
            f"ckpt={ckpt}",
        ],
        tmp_path / "g",
    )
    generate(cfg)
    rows = [json.loads(x) for x in (tmp_path / "g" / "samples.jsonl").read_text().splitlines()]
    probs = {p.task_id: p for p in hydra.utils.instantiate(cfg.data).problems("heldout")}
    want = tiny_actor.generate([probs[r["task_id"]].prompt for r in rows], do_sample=False).texts
    assert [r["raw_completions"][0] for r in rows] == want
    assert rows[0]["generation"]["ckpt"] == str(ckpt) and rows[0]["generation"]["greedy"] is True
