"""The Actor interface behaves the same for seq2seq and causal models."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from execrl.models.actor import build_actor
from execrl.models.checkpoint import load_actor

from helpers.common import TINY


@pytest.fixture(params=["seq2seq", "causal"])
def actor(request):
    torch.manual_seed(0)
    return build_actor(request.param, config=TINY[request.param], max_new_tokens=12)


def test_scoring_matches_greedy_generation(actor) -> None:
    # prompts of different lengths exercise padding (left for causal, right for seq2seq)
    roll = actor.generate(["Write a function that adds one", "x"], do_sample=False)
    logits, hidden = actor.forward_responses(
        roll.prompt_ids, roll.prompt_mask, roll.response_ids, roll.response_mask
    )
    valid = roll.response_mask.bool()
    assert torch.equal(logits.argmax(-1)[valid], roll.response_ids[valid])
    assert hidden.shape[:2] == roll.response_ids.shape and hidden.shape[-1] == actor.hidden_size


def test_response_mask_stops_after_first_eos(actor) -> None:
    e, p = actor.eos_id, actor.pad_id
    ids = torch.tensor([[5, 6, e, 7, 8], [5, e, p, p, p], [5, 6, 7, 8, 9]])
    assert actor.response_mask(ids).tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]


def test_logprobs_are_zero_on_padding_and_negative_elsewhere(actor) -> None:
    roll = actor.generate(["a", "bb"], num_return_sequences=3, temperature=1.0)
    out = actor.response_logprobs(
        roll.prompt_ids,
        roll.prompt_mask,
        roll.response_ids,
        roll.response_mask,
        return_entropy=True,
    )
    lp, m = out["logprobs"], roll.response_mask.bool()
    assert lp.shape == roll.response_ids.shape and roll.prompt_ids.shape[0] == 6
    assert torch.all(lp[~m] == 0) and torch.all(lp[m] < 0)
    assert torch.all(out["entropy"][m] > 0)


def test_sft_overfits_one_program(actor) -> None:
    opt = torch.optim.Adam(actor.parameters(), lr=1e-2)
    prompts, targets = ["add one"], ["def f(x):\n    return x + 1"]
    first = actor.sft_loss(prompts, targets).item()
    for _ in range(60):
        opt.zero_grad()
        loss = actor.sft_loss(prompts, targets)
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    assert actor.generate(prompts, do_sample=False, max_new_tokens=24).texts[0] == targets[0]


def test_prefix_forces_response_start(actor) -> None:
    prefix = actor.tokenizer("def f(", add_special_tokens=False)["input_ids"]
    roll = actor.generate(
        ["p", "q"], prefix_ids=[prefix, prefix[:1]], num_return_sequences=2, max_new_tokens=4
    )
    assert roll.response_ids.shape[0] == 4
    assert roll.response_ids[0, : len(prefix)].tolist() == prefix
    assert roll.response_ids[2, :1].tolist() == prefix[:1]


def test_checkpoint_roundtrip(actor, tmp_path) -> None:
    cfg = {
        "arch": "seq2seq" if actor.is_seq2seq else "causal",
        "config": TINY["seq2seq" if actor.is_seq2seq else "causal"],
        "max_new_tokens": 12,
    }
    sd = {f"actor.{k}": v for k, v in actor.state_dict().items()}
    torch.save({"state_dict": sd, "execrl_model_cfg": cfg}, tmp_path / "m.ckpt")
    loaded = load_actor(tmp_path / "m.ckpt")
    a = actor.generate(["hello"], do_sample=False).texts
    b = loaded.generate(["hello"], do_sample=False).texts
    assert a == b


def test_missing_checkpoint_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_actor(tmp_path / "nope.ckpt")


def test_targets_longer_than_max_new_tokens_are_cut_with_a_warning(actor, caplog) -> None:
    long = "x = 1\n" * 200
    with caplog.at_level("WARNING", logger="execrl"):
        ids, mask = actor.encode_responses(["x = 1\n", long])
        actor.encode_responses([long])  # said once per actor, not per batch
    assert ids.shape[1] == actor.max_new_tokens and int(mask[1].sum()) == actor.max_new_tokens
    warned = [r.getMessage() for r in caplog.records if "max_new_tokens" in r.getMessage()]
    assert warned == [
        f"1 of 2 target programs are longer than max_new_tokens={actor.max_new_tokens} and are cut: raise model.max_new_tokens"
    ]


def test_shared_prompt_scoring_equals_one_pass_per_row(actor) -> None:
    # rows repeat prompts (as num_samples programs per problem do), in no particular order, with
    # prompts of different lengths (padding) and responses of different lengths
    prompts = [
        "Write a function that adds one to x",
        "x",
        "Write a function that adds one to x",
        "x",
        "y = 3",
    ]
    targets = [
        "def f(x):\n    return x + 1\n",
        "a",
        "return 0",
        "def g(a, b): return a + b",
        "pass",
    ]
    p_ids, p_mask = actor.encode_prompts(prompts)
    r_ids, r_mask = actor.encode_responses(targets)

    def score(share):
        actor.zero_grad()
        actor.share_prompts = share
        out = actor.response_logprobs(
            p_ids, p_mask, r_ids, r_mask, return_hidden=True, return_entropy=True
        )
        (out["logprobs"].sum() + out["hidden"][r_mask.bool()].sum()).backward()
        return out, [p.grad.clone() for p in actor.parameters() if p.grad is not None]

    alone, g_alone = score(False)
    shared, g_shared = score(True)
    valid = r_mask.bool()
    assert torch.allclose(alone["logprobs"], shared["logprobs"], atol=1e-5) and torch.allclose(
        alone["entropy"], shared["entropy"], atol=1e-5
    )
    assert torch.allclose(alone["hidden"][valid], shared["hidden"][valid], atol=1e-5)
    assert len(g_alone) == len(g_shared) and all(
        torch.allclose(a, b, atol=1e-5) for a, b in zip(g_alone, g_shared)
    )
    # one-token responses need no second pass
    one = actor.response_logprobs(p_ids, p_mask, r_ids[:, :1], r_mask[:, :1])["logprobs"]
    assert torch.allclose(one, alone["logprobs"][:, :1], atol=1e-5)


def test_shared_prefill_sampling_equals_plain_generate(actor) -> None:
    # both paths expand to the same rows before the sampling loop, so a seed gives the same programs
    # (a long and a short prompt: left padding must not shift the cached positions)
    prompts = [
        "Write a function that adds one to every element of a list and returns the new list",
        "def add two numbers a and b",
    ]
    got = {}
    for share in (False, True):
        actor.share_prompts = share
        torch.manual_seed(3)
        got[share] = actor.generate(prompts, num_return_sequences=4, temperature=0.3)
    assert (
        torch.equal(got[False].response_ids, got[True].response_ids)
        and got[False].texts == got[True].texts
    )
    assert torch.equal(got[False].prompt_ids, got[True].prompt_ids)
    assert len(set(got[True].texts[:4])) > 1  # rows of one prompt still differ


def test_prefill_cache_continues_like_one_forward_pass() -> None:
    # a random tiny model barely reacts to positions, so compare logits, not samples
    torch.manual_seed(0)
    actor = build_actor("causal", config=TINY["causal"])
    ids, mask = actor.encode_prompts(
        ["Write a function that adds one to every element of a list", "def add two numbers a and b"]
    )
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    full = actor.model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1]
    cache, _ = actor.prefill(ids[:, :-1], mask[:, :-1])
    step = actor.model(
        input_ids=ids[:, -1:],
        attention_mask=mask,
        position_ids=pos[:, -1:],
        **{actor.cache_kw: cache},
    ).logits[:, -1]
    assert torch.allclose(step, full, atol=1e-6)


@pytest.mark.parametrize("side", ["left", "right"])
def test_prompt_truncation_side(side) -> None:
    """'right' keeps a long prompt's first tokens (CodeRL), 'left' its last (the default)."""
    for arch in ("seq2seq", "causal"):
        actor = build_actor(arch, config=TINY[arch], max_prompt_len=8, prompt_truncation=side)
        prompt = " ".join(f"w{i}" for i in range(40))
        full = actor.tokenizer(actor.format_prompt(prompt), add_special_tokens=False)["input_ids"]
        assert len(full) == 110  # the builtin tokenizer adds no special tokens (no EOS to keep)
        want = full[:8] if side == "right" else full[-8:]
        ids, mask = actor.encode_prompts([prompt])
        assert ids[0].tolist() == want and mask.sum().item() == 8


def test_prompt_truncation_rejects_unknown_side() -> None:
    with pytest.raises(ValueError, match="prompt_truncation"):
        build_actor("causal", config=TINY["causal"], prompt_truncation="middle")


def _pg_loss_and_grads(actor, ro, adv):
    """A policy-gradient loss (advantage-weighted log-probs, token mean) and its flat gradient."""
    actor.zero_grad()
    lp = actor.response_logprobs(ro.prompt_ids, ro.prompt_mask, ro.response_ids, ro.response_mask)
    loss = -(lp["logprobs"].sum(-1) * adv).sum() / ro.response_mask.sum()
    loss.backward()
    grads = [p.grad for p in actor.parameters() if p.grad is not None]
    return loss.detach(), torch.cat([g.flatten() for g in grads]), grads


def test_bf16_autocast_agrees_with_float32(actor) -> None:
    # the stated tolerance of model.autocast=bf16: loss within 0.1%, gradient norm within 1%,
    # gradient direction cosine >= 0.998 (measured on SmolLM2-135M's own samples: 0.998, 1.1%)
    torch.manual_seed(1)
    ro = actor.generate(
        ["Write a function that adds one to x", "def f(a, b): return"], num_return_sequences=4
    )
    adv = torch.randn(ro.response_ids.shape[0])
    loss32, g32, _ = _pg_loss_and_grads(actor, ro, adv)
    actor.autocast_dtype = torch.bfloat16
    with actor.autocast():  # the context really is bf16 autocast
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    logits, hidden = actor.forward_responses(
        ro.prompt_ids, ro.prompt_mask, ro.response_ids, ro.response_mask
    )
    assert logits.dtype == torch.bfloat16 and hidden.dtype == torch.float32
    loss16, g16, grads = _pg_loss_and_grads(actor, ro, adv)
    # master weights and their gradients stay float32
    assert all(p.dtype == torch.float32 for p in actor.parameters())
    assert all(g.dtype == torch.float32 for g in grads)
    assert not torch.equal(g16, g32)  # a different computation ran
    assert abs(float(loss16 - loss32)) <= 1e-3 * abs(float(loss32))
    assert abs(float(g16.norm() - g32.norm())) <= 1e-2 * float(g32.norm())
    assert float(F.cosine_similarity(g16, g32, dim=0)) >= 0.998


def test_autocast_setting_is_checked_and_kept_in_the_build_config() -> None:
    with pytest.raises(ValueError, match=r"model\.autocast"):
        build_actor("causal", config=TINY["causal"], autocast="float16")
    a = build_actor("causal", config=TINY["causal"], autocast="bf16")
    assert a.autocast_dtype == torch.bfloat16 and a.build_cfg["autocast"] == "bf16"
    assert build_actor("causal", config=TINY["causal"]).autocast_dtype is None


@pytest.mark.parametrize("autocast", [None, "bf16"])
def test_shared_prompt_scoring_with_lora_gives_the_same_logprobs_and_gradients(autocast) -> None:
    # the causal prompt runs once per group into a KV cache that the group's rows reuse: with LoRA
    # adapters (the SmolLM2 preset) the log-probs and the adapters' gradients are those of one
    # plain forward pass per row (bf16: within bf16's rounding, both paths cast the same way)
    torch.manual_seed(0)
    actor = build_actor(
        "causal", config=TINY["causal"], max_new_tokens=16, lora={"r": 4}, autocast=autocast
    )
    with torch.no_grad():  # B = 0 at the start would leave A without a gradient
        for n, p in actor.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    ro = actor.generate(
        ["Write a function that adds one to x", "x"], num_return_sequences=3, temperature=1.0
    )
    adv = torch.randn(ro.response_ids.shape[0])
    got = {}
    for share in (False, True):
        actor.share_prompts = share
        got[share] = _pg_loss_and_grads(actor, ro, adv)[1:]
        got[share] += (
            actor.response_logprobs(
                ro.prompt_ids, ro.prompt_mask, ro.response_ids, ro.response_mask
            )["logprobs"].detach(),
        )
    tol = dict(atol=1e-5, rtol=1e-4) if autocast is None else dict(atol=2e-2, rtol=2e-2)
    (g_plain, grads_plain, lp_plain), (g_shared, grads_shared, lp_shared) = got[False], got[True]
    assert len(grads_plain) == len(grads_shared) > 0  # the adapters only
    torch.testing.assert_close(lp_shared, lp_plain, **tol)
    torch.testing.assert_close(g_shared, g_plain, **tol)
    if autocast is not None:
        assert float(F.cosine_similarity(g_shared, g_plain, dim=0)) >= 0.999


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_token_logprobs_equal_the_log_softmax_and_its_gradient(dtype, temperature) -> None:
    from execrl.models.actor import _TokenLogprobs, token_logprobs

    torch.manual_seed(0)
    logits = (torch.randn(3, 37, 50) * 4).to(dtype).requires_grad_()
    ids = torch.randint(0, 50, (3, 37))
    weights = torch.randn(3, 37)  # an upstream gradient that is not all ones
    want = torch.log_softmax(logits.float() / temperature, -1).gather(-1, ids[..., None])[..., 0]
    (want * weights).sum().backward()
    g_want, logits.grad = logits.grad, None
    kept = logits.detach().clone()
    chunk, _TokenLogprobs.CHUNK = _TokenLogprobs.CHUNK, 16  # several chunks and a ragged last one
    try:
        got = token_logprobs(logits, ids, temperature)
        (got * weights).sum().backward()
    finally:
        _TokenLogprobs.CHUNK = chunk
    assert got.dtype == torch.float32 and logits.grad.dtype == dtype
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits.grad.float(), g_want.float(), atol=1e-5, rtol=1e-2)
    assert torch.equal(logits.detach(), kept)  # the saved logits are not overwritten


def test_bf16_autocast_runs_cpu_attention_in_float32_and_leaves_sampling_alone() -> None:
    # torch's CPU flash attention is slower in bf16 than in float32: under autocast the causal
    # actor's SDPA kernel runs in float32 (autocast off around it); without autocast (sampling)
    # the model's attention is SDPA unchanged
    from transformers.integrations import sdpa_attention

    from execrl.models import lora as lora_lib

    torch.manual_seed(0)
    plain = build_actor("causal", config=TINY["causal"])
    mixed = build_actor("causal", config=TINY["causal"], autocast="bf16")
    mixed.load_state_dict(plain.state_dict())
    assert lora_lib.base_model(mixed.model).config._attn_implementation != "sdpa"
    ids, mask = plain.encode_prompts(["Write a function that adds one to x", "x"])
    r_ids, r_mask = plain.encode_responses(["def f(x):\n    return x + 1\n"] * 2)
    seen = []  # (dtypes of q, k, v, whether autocast is on) at each SDPA call
    inner = sdpa_attention.sdpa_attention_forward

    def spy(module, q, k, v, *args, **kwargs):
        seen.append(({q.dtype, k.dtype, v.dtype}, torch.is_autocast_enabled("cpu")))
        return inner(module, q, k, v, *args, **kwargs)

    sdpa_attention.sdpa_attention_forward = spy
    try:
        assert torch.equal(
            mixed.model(input_ids=ids, attention_mask=mask).logits,
            plain.model(input_ids=ids, attention_mask=mask).logits,
        )
        seen.clear()
        lp = mixed.response_logprobs(ids, mask, r_ids, r_mask)["logprobs"]
    finally:
        sdpa_attention.sdpa_attention_forward = inner
    assert seen and all(d == {torch.float32} and not on for d, on in seen)
    want = plain.response_logprobs(ids, mask, r_ids, r_mask)["logprobs"]
    torch.testing.assert_close(lp, want, atol=2e-2, rtol=1e-2)
    # the bf16 sampling copy is built from the same config: it samples as the plain model's does
    got = {}
    for name, actor in (("plain", plain), ("mixed", mixed)):
        actor.sample_dtype = torch.bfloat16
        torch.manual_seed(5)
        got[name] = actor.generate(["x"], num_return_sequences=2, max_new_tokens=6).response_ids
    assert torch.equal(got["plain"], got["mixed"])
