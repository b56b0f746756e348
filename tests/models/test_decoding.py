"""Sampling that drops finished rows decodes what ``transformers``' ``generate`` decodes."""

from __future__ import annotations

import pytest
import torch

from execrl.data import prompting
from execrl.models import decoding
from execrl.models.actor import build_actor

from helpers.common import TINY

PROMPTS = ["Write a function that adds one", "x", "def f(a, b): return", "sort the list"]


@pytest.fixture
def actor():
    torch.manual_seed(0)
    actor = build_actor("causal", config=TINY["causal"], max_new_tokens=24)
    # a random model almost never writes EOS: favour it a little so rows end at different steps
    bias = 0.2 * torch.nn.functional.one_hot(torch.tensor(actor.eos_id), len(actor.tokenizer))
    actor.model.lm_head.register_forward_hook(lambda m, i, out: out + bias.to(out.dtype))
    return actor


def _batch_sizes(actor) -> list[int]:
    seen: list[int] = []
    actor.model.model.register_forward_hook(lambda m, i, out: seen.append(len(out[0])))
    return seen


def test_greedy_responses_equal_generate_and_finished_rows_leave_the_batch(actor) -> None:
    actor.drop_finished = False
    ref = actor.generate(PROMPTS, do_sample=False, num_return_sequences=2)
    actor.drop_finished = True
    seen = _batch_sizes(actor)
    got = actor.generate(PROMPTS, do_sample=False, num_return_sequences=2)
    lengths = ref.lengths.tolist()
    assert len(set(lengths)) > 2  # canary: rows end at different steps
    assert torch.equal(got.response_ids, ref.response_ids) and got.texts == ref.texts
    assert torch.equal(got.response_mask, ref.response_mask)
    # one prefill over the 4 distinct prompts, then a batch that shrinks as rows end
    assert seen[0] == 4 and seen[1] == 8 - lengths.count(1) and seen[-1] < seen[1]
    assert seen[1:] == sorted(seen[1:], reverse=True)
    assert sum(seen[1:]) < 8 * (max(lengths) - 1)


@pytest.mark.parametrize(
    "settings",
    [dict(temperature=0.7, top_p=0.9, top_k=20), dict(temperature=1.3, top_p=1.0, top_k=None)],
)
def test_warpers_are_generates(actor, settings) -> None:
    # generate's output scores are the warped logits it samples from (top_k=None as the actor
    # passes it: left out, generate would apply its default top-k of 50)
    ids, mask = actor.encode_prompts(PROMPTS[:2])
    out = actor.model.generate(
        input_ids=ids,
        attention_mask=mask,
        do_sample=True,
        max_new_tokens=1,
        output_scores=True,
        return_dict_in_generate=True,
        pad_token_id=actor.pad_id,
        **settings,
    )
    _, pre = actor.prefill(ids, mask)
    k = settings.get("top_k")
    mine = decoding.warpers(settings["temperature"], k, settings["top_p"])(None, pre.logits[:, -1])
    assert torch.equal(torch.isinf(mine), torch.isinf(out.scores[0]))
    finite = ~torch.isinf(mine)
    assert torch.allclose(mine[finite], out.scores[0][finite], atol=1e-5)
    if k:
        assert int(finite.sum(-1).max()) <= k


def test_samples_follow_the_warped_distribution(actor) -> None:
    # one step from given logits (40 likely tokens): the model is not called
    _, mask = actor.encode_prompts(PROMPTS[:1])
    rows, vocab = 4000, len(actor.tokenizer)
    torch.manual_seed(1)
    logits = torch.full((vocab,), -20.0)
    logits[:40] = 0.7 * torch.randn(40)
    got = decoding.sample_dropping_finished(
        actor.model,
        None,
        logits.repeat(rows, 1),
        mask.repeat(rows, 1),
        cache_kw=actor.cache_kw,
        max_new_tokens=1,
        eos_id=actor.eos_id,
        fill_id=actor.pad_id,
        temperature=0.5,
        top_p=0.8,
    )
    want = torch.softmax(decoding.warpers(0.5, None, 0.8)(None, logits[None]), -1)[0]
    freq = torch.bincount(got[:, 0], minlength=vocab).float() / rows
    assert 5 < int((want > 0).sum()) < 40  # canary: top-p cut some of the 40, kept several
    assert float((freq - want).abs().sum()) / 2 < 0.05  # total variation
    untempered = torch.softmax(decoding.warpers(1.0, None, 0.8)(None, logits[None]), -1)[0]
    assert float((freq - untempered).abs().sum()) / 2 > 0.1  # the temperature was applied
    assert float(freq[want == 0].sum()) == 0.0  # nothing outside the top-p set


def test_stop_rule_ends_rows_and_fills_after_the_end(actor) -> None:
    ids, mask = actor.encode_prompts(PROMPTS[:1])
    cache, pre = actor.prefill(ids, mask)
    cache.batch_repeat_interleave(3)
    seen = _batch_sizes(actor)

    def stop(responses: torch.Tensor) -> torch.Tensor:  # row r of the live batch stops at step r+1
        return torch.arange(responses.shape[0]) == 0

    out = decoding.sample_dropping_finished(
        actor.model,
        cache,
        pre.logits[:, -1].repeat(3, 1),
        mask.repeat(3, 1),
        cache_kw=actor.cache_kw,
        max_new_tokens=10,
        eos_id=-1,
        fill_id=-7,
        stop=stop,
    )
    assert out.shape == (3, 3) and seen == [2, 1]
    assert (out[0, 1:] == -7).all() and (out[1, 2:] == -7).all() and (out[2] >= 0).all()


def test_instruct_rows_stop_at_the_closing_fence_as_generate_stops_them() -> None:
    torch.manual_seed(0)
    actor = build_actor("causal", config=TINY["causal"], max_new_tokens=24, prompt_style="instruct")
    tick = actor.tokenizer("`", add_special_tokens=False)["input_ids"][0]
    last = {}
    actor.model.register_forward_pre_hook(
        lambda m, args, kw: last.update(ids=kw["input_ids"][:, -1]), with_kwargs=True
    )

    def write_fences(module, inputs, out):  # after some tokens, and after a backtick: a backtick
        out = out.clone()
        out[(last["ids"] % 5 == 0) | (last["ids"] == tick), -1, tick] += 100.0
        return out

    actor.model.lm_head.register_forward_hook(write_fences)
    users = ["Write f.", "Add one to x", "sort a list of numbers", "y"]
    prompts = [prompting.chat_prompt(u, "Here:\n```python\n") for u in users]
    got = {}
    for drop in (False, True):
        actor.drop_finished = drop
        got[drop] = actor.generate(prompts, do_sample=False, num_return_sequences=2)
    lengths = got[False].lengths.tolist()
    assert len(set(lengths)) > 2 and max(lengths) < 24  # canary: fences close at different steps
    assert all(prompting.closed(t) for t in got[False].raw_texts)
    assert torch.equal(got[True].response_ids, got[False].response_ids)
    assert got[True].texts == got[False].texts and torch.equal(
        got[True].response_mask, got[False].response_mask
    )


def test_generation_config_processors_fall_back_to_generate(actor, caplog) -> None:
    # a loop that ignored an instruct checkpoint's repetition penalty would sample another model
    actor.model.generation_config.repetition_penalty = 1.3
    seen = _batch_sizes(actor)
    with caplog.at_level("WARNING", logger="execrl"):
        roll = actor.generate(PROMPTS, do_sample=False, num_return_sequences=2)
    assert "repetition_penalty" in caplog.text
    assert len(set(roll.lengths.tolist())) > 1 and set(seen[1:]) == {8}  # generate: no row dropped
    actor.drop_finished = False
    assert torch.equal(
        actor.generate(PROMPTS, do_sample=False, num_return_sequences=2).response_ids,
        roll.response_ids,
    )
