"""A few GRPO iterations with tiny actors and a fake executor, built from conf/algo/grpo.yaml."""

from __future__ import annotations

import pytest
import torch

from helpers.rl import ParityExecutor, build_module, fit, learning_check, problems


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_grpo_few_steps_updates_actor_and_logs(model, tmp_path):
    torch.manual_seed(0)
    ex = ParityExecutor()
    _cfg, module = build_module(
        model,
        "grpo",
        "binary",
        ex,
        ["algo.num_samples=4", "algo.minibatch_size=64", "algo.ce_coef=1.0", "algo.kl_coef=0.02"],
    )
    assert not hasattr(module, "value_head")
    before = {k: v.clone() for k, v in module.actor.state_dict().items()}
    trainer, rows = fit(module, tmp_path, steps=4)
    assert trainer.global_step == 4 and len(ex.requests) == 4 * 2 * 4
    changed = sum(not torch.equal(before[k], v) for k, v in module.actor.state_dict().items())
    assert changed > len(before) // 2
    assert all(torch.equal(before[k], v) for k, v in module.ref_actor.state_dict().items())
    logged = {k for r in rows for k, v in r.items() if v != ""}
    for key in [
        "train/reward/mean",
        "train/kl",
        "train/beta",
        "train/clipfrac",
        "train/signal_frac",
        "train/loss/ce",
        "train/loss/kl",
        "train/loss/policy",
        "train/time_s/gen",
        "train/time_s/reward",
        "train/time_s/update",
        "train/time_s/ref",
        "train/time_s/forward",
        "train/time_s/anchor",
        "train/time_s/backward",
        "train/time_s/optimizer",
        "train/pass_rate",
    ]:
        assert key in logged, key
    kept = [float(r["train/signal_frac"]) for r in rows if r.get("train/signal_frac")]
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
    _, module = build_module("tiny_t5", "grpo", "binary", AllFail(), ["algo.ce_coef=0.0"])
    before = {k: v.clone() for k, v in module.actor.state_dict().items()}
    trainer, rows = fit(module, tmp_path, steps=2)
    assert trainer.global_step == 2
    assert all(torch.equal(before[k], v) for k, v in module.actor.state_dict().items())
    assert all(float(r["train/signal_frac"]) == 0.0 for r in rows if r.get("train/signal_frac"))


@pytest.mark.slow
def test_grpo_raises_compile_reward():
    learning_check("grpo", 20)


def test_on_policy_shortcut_gives_the_same_update(tmp_path):
    """One epoch over one minibatch reuses the current log-probs as the sampling ones: same weights as two passes."""
    finals = []
    for reuse in (True, False):
        torch.manual_seed(0)
        _, module = build_module(
            "tiny_causal",
            "grpo",
            "binary",
            ParityExecutor(),
            ["algo.num_samples=4", "algo.minibatch_size=64", "algo.ce_coef=0.0"],
        )
        module.reuse_on_policy_logprobs = reuse
        calls = []
        inner = module.policy_logprobs
        module.policy_logprobs = lambda ro, idx, calls=calls, inner=inner: (
            calls.append(len(idx)) or inner(ro, idx)
        )
        _, rows = fit(module, tmp_path / str(reuse), steps=2)
        assert any(float(r["train/signal_frac"]) > 0 for r in rows if r.get("train/signal_frac"))
        assert len(calls) == (2 if reuse else 4)  # one forward per update instead of two
        finals.append(module.actor.state_dict())
    for k in finals[0]:
        torch.testing.assert_close(finals[0][k], finals[1][k], rtol=1e-5, atol=1e-6)


class OneAlwaysPasses(ParityExecutor):
    """Problem p0 (its test says ``== 1``) always passes, so its group has zero advantage; others by parity."""

    def run(self, requests):
        res = super().run(requests)
        for req, r in zip(requests, res):
            if req.tests is not None and req.tests.asserts[0].endswith("== 1"):
                r.outcome = type(r.outcome)("passed")
        return res


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
def test_skipping_zero_advantage_rows_leaves_the_update_unchanged(loss_type, tmp_path):
    """Zero-advantage rows (beta 0) add exactly 0 but count in the normaliser: skipping their forward
    pass gives the same weights as running it; dropping them from the loss (the old objective) does not."""
    finals, forwarded = {}, {}
    for mode in ("skip", "full", "drop"):
        torch.manual_seed(0)
        extra = [
            "algo.num_samples=4",
            "algo.minibatch_size=64",
            "algo.ce_coef=0.0",
            f"algo.loss_type={loss_type}",
            f"algo.drop_zero_advantage_rows={mode == 'drop'}",
        ]
        _, module = build_module("tiny_causal", "grpo", "binary", OneAlwaysPasses(), extra)
        module.skip_zero_rows = mode != "full"
        calls = []
        inner = module.policy_logprobs
        module.policy_logprobs = lambda ro, idx, calls=calls, inner=inner: (
            calls.append(len(idx)) or inner(ro, idx)
        )
        fit(module, tmp_path / mode, steps=1)
        finals[mode], forwarded[mode] = module.actor.state_dict(), calls
    assert forwarded["full"] == [8] and forwarded["skip"][0] <= 4  # p0's 4 rows were not run
    for k in finals["full"]:
        torch.testing.assert_close(finals["skip"][k], finals["full"][k], rtol=1e-5, atol=1e-7)
    # every loss type divides by something that counts p0's rows, so dropping them changes the update
    assert any(
        not torch.allclose(finals["drop"][k], finals["full"][k], rtol=1e-5, atol=1e-7)
        for k in finals["full"]
    )


def test_dynamic_sampling_refills_with_signal(tmp_path):
    """Both batch problems always pass (no signal): dynamic sampling draws other problems until the
    batch holds two groups whose rewards differ."""

    class FirstTwoPass(ParityExecutor):
        def run(self, requests):
            res = super().run(requests)
            for req, r in zip(requests, res):
                if req.tests.asserts[0].endswith(("== 1", "== 2")):
                    r.outcome = type(r.outcome)("passed")
            return res

    torch.manual_seed(0)
    ex = FirstTwoPass()
    _, module = build_module(
        "tiny_causal",
        "grpo",
        "binary",
        ex,
        [
            "algo.num_samples=4",
            "algo.minibatch_size=64",
            "algo.ce_coef=0.0",
            "algo.dynamic_sampling=true",
            "algo.dynamic_sampling_max_rounds=10",
        ],
    )
    module.receive_problems({"refill": problems(8)[2:]})  # as the datamodule serves them
    _, rows = fit(module, tmp_path, steps=1)
    row = next(r for r in rows if r.get("train/signal_groups"))
    assert float(row["train/signal_groups"]) >= 2 and float(row["train/signal_frac"]) == 1.0
    assert len(ex.requests) > 2 * 4 and float(row["train/dynamic_rounds"]) >= 1


def test_ratio_logprobs_use_the_sampling_temperature():
    _, module = build_module(
        "tiny_t5", "grpo", "binary", ParityExecutor(), ["algo.temperature=0.5", "algo.kl_coef=0.04"]
    )
    ro = module.actor.generate(
        ["write f"], num_return_sequences=2, do_sample=True, max_new_tokens=4
    )
    idx = torch.arange(2)
    logits, _ = module.actor.forward_responses(
        ro.prompt_ids, ro.prompt_mask, ro.response_ids, ro.response_mask
    )
    want = (
        torch.log_softmax(logits / 0.5, -1).gather(-1, ro.response_ids.unsqueeze(-1)).squeeze(-1)
        * ro.response_mask
    )
    torch.testing.assert_close(module.policy_logprobs(ro, idx), want)
    torch.testing.assert_close(module.ref_logprobs(ro, idx), want)


def test_kl_bias_correction_reaches_the_update(tmp_path):
    """TRL 1.16's use_bias_correction_kl (algo.kl_bias_correction, on by default as in TRL) changes the
    update once the policy has left the reference (step 2): k3 times the ratio has another gradient."""
    finals = {}
    for on in (True, False):
        torch.manual_seed(0)
        _cfg, module = build_module(
            "tiny_causal",
            "grpo",
            "binary",
            ParityExecutor(),
            [
                "algo.num_samples=4",
                "algo.minibatch_size=64",
                "algo.ce_coef=0.0",
                "algo.kl_coef=0.5",
                f"algo.kl_bias_correction={on}",
            ],
        )
        assert module.config.kl_bias_correction is on
        fit(module, tmp_path / str(on), steps=2)
        finals[on] = module.actor.state_dict()
    assert any(
        not torch.allclose(finals[True][k], finals[False][k], rtol=1e-6, atol=1e-8)
        for k in finals[True]
    )
    assert (
        build_module("tiny_causal", "grpo", "binary", ParityExecutor())[1].config.kl_bias_correction
        is True
    )


@pytest.mark.parametrize("kl", [0.0, 0.04])
@pytest.mark.parametrize("lora", [0, 4])
def test_the_reference_runs_only_for_a_kl_term(kl, lora, tmp_path):
    """KL coefficient 0 (TRL's default): the reference policy is never called and a full-weights
    actor gets no frozen copy; with a KL term it is called once per update, and timed."""
    from execrl.models.actor import Actor

    torch.manual_seed(0)
    _, module = build_module(
        "tiny_causal",
        "grpo",
        "binary",
        ParityExecutor(),
        [
            "algo.num_samples=4",
            "algo.minibatch_size=64",
            f"algo.kl_coef={kl}",
            f"model.lora.r={lora}",
        ],
    )
    ref_keys = [k for k in module.state_dict() if k.startswith("ref_actor.")]
    assert (module.ref_actor is not None) is bool(kl)
    assert bool(ref_keys) is bool(kl and not lora)  # LoRA's reference is the adapters switched off
    scored = []  # every actor scoring, and whether it ran as the reference
    inner = Actor.response_logprobs

    def spy(self, *args, **kwargs):
        off = lora and all(m.disable_adapters for m in _lora_layers(module.actor))
        scored.append(self is not module.actor or bool(off))
        return inner(self, *args, **kwargs)

    Actor.response_logprobs = spy
    try:
        _, rows = fit(module, tmp_path, steps=2)
    finally:
        Actor.response_logprobs = inner
    assert scored and sum(scored) == (2 if kl else 0)
    timed_ref = [r for r in rows if r.get("train/time_s/ref")]
    assert bool(timed_ref) is bool(kl)
    assert any(r.get("train/time_s/forward") for r in rows)


def _lora_layers(actor):
    from peft.tuners.lora import LoraLayer

    return [m for m in actor.model.modules() if isinstance(m, LoraLayer)]


def test_a_checkpoint_loads_across_kl_settings():
    """A run resumed with the other KL setting loads the saved state: a saved reference copy is
    dropped (KL 0), a missing one is the new run's own (the actor it starts from)."""
    torch.manual_seed(0)
    _, with_kl = build_module(
        "tiny_causal", "grpo", "binary", ParityExecutor(), ["algo.kl_coef=0.04"]
    )
    _, without = build_module("tiny_causal", "grpo", "binary", ParityExecutor())
    saved = {"state_dict": with_kl.state_dict()}
    assert any(k.startswith("ref_actor.") for k in saved["state_dict"])
    without.on_load_checkpoint(saved)
    without.load_state_dict(saved["state_dict"])  # strict
    torch.testing.assert_close(without.actor.state_dict(), with_kl.actor.state_dict())
    _, with_kl2 = build_module(
        "tiny_causal", "grpo", "binary", ParityExecutor(), ["algo.kl_coef=0.04"]
    )
    ref_before = {k: v.clone() for k, v in with_kl2.ref_actor.state_dict().items()}
    saved = {"state_dict": without.state_dict()}
    with_kl2.on_load_checkpoint(saved)
    with_kl2.load_state_dict(saved["state_dict"])
    torch.testing.assert_close(with_kl2.ref_actor.state_dict(), ref_before)
    torch.testing.assert_close(with_kl2.actor.state_dict(), with_kl.actor.state_dict())


@pytest.mark.parametrize("scope", ["generation_batch", "minibatch"])
def test_dapo_step_gradient_is_trls_formula(scope):
    """loss_type=dapo: one optimizer step's loss is the sum of its rows' token losses over the token
    count of the whole generation batch (TRL's num_items_in_batch, grpo_trainer.py:2427, 3139-3141)
    when one rollout spans several minibatches; loss_normalizer_scope=minibatch: over the step's own."""
    from execrl.models.actor import Rollout
    from execrl.rewards.base import RewardBatch

    torch.manual_seed(0)
    _, module = build_module(
        "tiny_causal",
        "grpo",
        "binary",
        ParityExecutor(),
        ["algo.num_samples=4", "algo.minibatch_size=4", f"algo.loss_normalizer_scope={scope}"],
    )
    assert module.config.loss_type == "dapo"
    module.skip_zero_rows = False
    ro = module.actor.generate(["a", "b"], num_return_sequences=4, do_sample=True, max_new_tokens=6)
    mask = ro.response_mask.clone()
    mask[0, 2:] = mask[5, 4:] = 0  # responses of other lengths (as if EOS came earlier)
    ro = Rollout(ro.prompt_ids, ro.prompt_mask, ro.response_ids, mask, ro.texts)
    pg = module.prepare(ro, RewardBatch(rewards=[1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]))
    mb = torch.arange(4)  # the first optimizer step's rows (of 8: two steps)
    assert pg.old_lp is not None  # two steps per rollout: not on-policy
    params = [p for p in module.actor.parameters() if p.requires_grad]

    def grad(loss):
        return torch.autograd.grad(loss, params, allow_unused=True)

    ours, _ = module.minibatch_loss(ro, pg, mb, mb)
    # TRL by hand: ratio exp(lp - old) = 1 at the sampling policy, so no clipping: -A * ratio per token
    lp = module.policy_logprobs(ro, pg.rows[mb])
    per_token = -pg.adv[mb].unsqueeze(1) * torch.exp(lp - pg.old_lp[mb])
    tokens = pg.mask.sum() if scope == "generation_batch" else pg.mask[mb].sum()
    trl = (per_token * pg.mask[mb]).sum() / tokens
    assert ours.item() == pytest.approx(trl.item(), abs=1e-6)
    for a, b in zip(grad(ours), grad(trl)):
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-8)
    assert pg.mask.sum() > pg.mask[mb].sum()  # the scopes divide by different counts


def test_a_registered_policy_loss_is_chosen_by_config(tmp_path):
    """A new policy loss is one registered function plus ``algo.policy_loss=<name>``."""
    from execrl.algos.rl_core import POLICY_LOSSES, register_policy_loss

    calls = []  # canary: the new loss really ran in the update

    @register_policy_loss("reinforce_test")
    def reinforce(logprobs, old_logprobs, advantages, mask, config):
        calls.append(config.policy_loss)
        a = advantages if advantages.dim() == 2 else advantages.unsqueeze(-1)
        zero = torch.zeros(())
        return -a * logprobs * mask, {"clipfrac": zero, "approx_kl": zero}

    try:
        for algo in ("grpo", "ppo"):
            torch.manual_seed(0)
            _, module = build_module(
                "tiny_causal",
                algo,
                "binary",
                ParityExecutor(),
                ["algo.num_samples=4", "algo.policy_loss=reinforce_test", "algo.ce_coef=0"],
            )
            before = {k: v.clone() for k, v in module.actor.state_dict().items()}
            n = len(calls)
            fit(module, tmp_path / algo, steps=1)
            assert len(calls) > n and calls[-1] == "reinforce_test"
            assert any(not torch.equal(before[k], v) for k, v in module.actor.state_dict().items())
    finally:
        POLICY_LOSSES.pop("reinforce_test")
    with pytest.raises(ValueError, match=r"algo\.policy_loss='nope'"):
        build_module("tiny_causal", "grpo", "binary", ParityExecutor(), ["algo.policy_loss=nope"])
