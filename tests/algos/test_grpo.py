"""A few GRPO iterations with tiny actors and a fake executor, built from conf/algo/grpo.yaml."""

from __future__ import annotations

import pytest
import torch

from test_ppo import ParityExecutor, _fit, _learning_check, _module


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_grpo_few_steps_updates_actor_and_logs(model, tmp_path):
    torch.manual_seed(0)
    ex = ParityExecutor()
    cfg, module = _module(model, "grpo", "binary", ex, ["algo.num_samples=4", "algo.minibatch_size=64", "algo.ce_coef=1.0"])
    assert not hasattr(module, "value_head")
    before = {k: v.clone() for k, v in module.actor.state_dict().items()}
    trainer, rows = _fit(module, tmp_path, steps=4)
    assert trainer.global_step == 4 and len(ex.requests) == 4 * 2 * 4
    changed = sum(not torch.equal(before[k], v) for k, v in module.actor.state_dict().items())
    assert changed > len(before) // 2
    assert all(torch.equal(before[k], v) for k, v in module.ref_actor.state_dict().items())
    logged = {k for r in rows for k, v in r.items() if v != ""}
    for key in ["reward/mean", "kl", "beta", "clipfrac", "grpo/kept_frac", "grpo/loss/ce", "grpo/loss/kl", "timing_s/gen",
                "timing_s/reward", "timing_s/update", "train/pass_rate"]:
        assert key in logged, key
    kept = [float(r["grpo/kept_frac"]) for r in rows if r.get("grpo/kept_frac")]
    assert any(k > 0 for k in kept)


def test_grpo_all_equal_rewards_make_a_noop_step(tmp_path):
    """Every group scores the same: no policy update (parameters unchanged) but max_steps still ends the run."""

    class AllFail(ParityExecutor):
        def run(self, requests):
            res = super().run(requests)
            for r in res:
                r.outcome = type(r.outcome)("compile_error")
            return res

    torch.manual_seed(0)
    _, module = _module("tiny_t5", "grpo", "binary", AllFail(), ["algo.ce_coef=0.0"])
    before = {k: v.clone() for k, v in module.actor.state_dict().items()}
    trainer, rows = _fit(module, tmp_path, steps=2)
    assert trainer.global_step == 2
    assert all(torch.equal(before[k], v) for k, v in module.actor.state_dict().items())
    assert all(float(r["grpo/kept_frac"]) == 0.0 for r in rows if r.get("grpo/kept_frac"))


@pytest.mark.slow
def test_grpo_raises_compile_reward():
    _learning_check("grpo", 20)


def test_on_policy_shortcut_gives_the_same_update(tmp_path):
    """One epoch over one minibatch reuses the current log-probs as the sampling ones: same weights as two passes."""
    finals = []
    for reuse in (True, False):
        torch.manual_seed(0)
        _, module = _module("tiny_causal", "grpo", "binary", ParityExecutor(), ["algo.num_samples=4", "algo.minibatch_size=64", "algo.ce_coef=0.0"])
        module.reuse_on_policy_logprobs = reuse
        calls = []
        inner = module.policy_logprobs
        module.policy_logprobs = lambda ro, idx: calls.append(len(idx)) or inner(ro, idx)
        _, rows = _fit(module, tmp_path / str(reuse), steps=2)
        assert any(float(r["grpo/kept_frac"]) > 0 for r in rows if r.get("grpo/kept_frac"))
        assert len(calls) == (2 if reuse else 4)  # one forward per update instead of two
        finals.append(module.actor.state_dict())
    for k in finals[0]:
        torch.testing.assert_close(finals[0][k], finals[1][k], rtol=1e-5, atol=1e-6)
