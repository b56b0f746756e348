"""The real vLLM engine (``rollout.engine=vllm``) on a tiny model saved as a Hugging Face folder:
weights reach it. Skipped where ``.venv-vllm`` is absent (``make vllm`` builds it); each test
starts an engine (about 15 s on a quiet 2-core machine, up to a minute under load)."""

from __future__ import annotations

import pytest
import torch

from execrl.models.actor import build_actor
from execrl.rollout.engines import VLLMEngine

from helpers.common import ROOT, TINY

requires_vllm = pytest.mark.skipif(
    not (ROOT / ".venv-vllm" / "bin" / "python").exists(),
    reason=".venv-vllm is absent (make vllm builds it)",
)
PROMPTS = ["def add(a, b):", "Write a function that returns x"]
# TINY's causal model with heads of 32 (vLLM's CPU attention has no kernel for head_dim 8)
CONFIG = dict(TINY["causal"], num_attention_heads=1, num_key_value_heads=1)


def _greedy(engine, actor):
    return engine.generate(actor, PROMPTS, do_sample=False, max_new_tokens=12)


def _gap(actor, ro) -> float:
    """Mean |trainer log-prob - engine log-prob| over the engine's own greedy tokens (T 1)."""
    with torch.no_grad():
        lp = actor.response_logprobs(
            ro.prompt_ids, ro.prompt_mask, ro.response_ids, ro.response_mask
        )["logprobs"]
    ok = ro.response_mask.bool() & torch.isfinite(ro.sample_logprobs)
    return float((lp - ro.sample_logprobs)[ok].abs().mean())


@requires_vllm
def test_lora_sync_changes_what_the_engine_samples(tmp_path) -> None:
    torch.manual_seed(0)
    actor = build_actor("causal", config=CONFIG, lora={"r": 8}).eval()
    engine = VLLMEngine(actor, weights_dir=str(tmp_path))
    try:
        before = _greedy(engine, actor)
        assert _gap(actor, before) < 0.05  # bf16 engine, float32 trainer: the same policy
        with torch.no_grad():  # an update that moves the adapters far
            for name, p in actor.model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.3)
        engine.sync(actor)
        after = _greedy(engine, actor)
        assert not torch.equal(after.response_ids, before.response_ids)
        synced = _gap(actor, after)
        assert synced < 0.05  # the engine samples the trainer's new policy ...
        with actor.model.disable_adapter():
            assert _gap(actor, after) > 10 * synced  # ... not the one it started from
    finally:
        engine.close()
    assert engine.syncs == 2 and not engine.dir.exists()


@requires_vllm
def test_full_weight_sync_after_optimizer_steps(tmp_path) -> None:
    torch.manual_seed(0)
    actor = build_actor("causal", config=CONFIG, max_new_tokens=12)
    engine = VLLMEngine(actor, weights_dir=str(tmp_path))
    try:
        actor.eval()
        before = _greedy(engine, actor)
        old = [p.detach().clone() for p in actor.parameters()]
        opt = torch.optim.Adam(actor.parameters(), lr=0.03)
        for _ in range(5):  # model.lora.r=0: every weight trains
            opt.zero_grad()
            actor.sft_loss(PROMPTS, ["return a + b", "return x"]).backward()
            opt.step()
        assert any(not torch.equal(o, p) for o, p in zip(old, actor.parameters()))
        engine.sync(actor)
        after = _greedy(engine, actor)
        assert not torch.equal(after.response_ids, before.response_ids)
        assert _gap(actor, after) < 0.05
        engine.sync(actor)  # unchanged weights: nothing is sent
        assert engine.syncs == 1  # the start folder held the first weights
    finally:
        engine.close()
