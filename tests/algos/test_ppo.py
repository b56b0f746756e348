"""A few PPO iterations with tiny actors and a fake executor, built from conf/algo/ppo.yaml;
plus a slow learning check (PPO raises a learnable reward)."""

from __future__ import annotations

import pytest
import torch

from execrl.models.checkpoint import actor_state_dict

from helpers.rl import ParityExecutor, build_module, fit, learning_check, translation_problems

METRICS = [
    "train/reward/mean",
    "train/reward/compiler",
    "train/reward/ast",
    "train/reward/dfg",
    "train/compile_rate",
    "train/kl",
    "train/beta",
    "train/clipfrac",
    "train/loss/value",
    "train/time_s/gen",
    "train/time_s/reward",
    "train/time_s/update",
    "train/time_s/old_logprobs",
    "train/time_s/ref",
    "train/time_s/forward",
    "train/time_s/backward",
    "train/time_s/optimizer",
]


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_ppo_few_steps_updates_actor_and_logs(model, tmp_path):
    torch.manual_seed(0)
    ex = ParityExecutor()
    cfg, module = build_module(model, "ppo", "ppocoder", ex, ["algo.ppo_epochs=2"])
    before = {k: v.clone() for k, v in module.actor.state_dict().items()}
    ref_before = {k: v.clone() for k, v in module.ref_actor.state_dict().items()}
    v_before = module.value_head.summary.weight.clone()
    trainer, rows = fit(module, tmp_path, steps=8, data=translation_problems(8))
    # 2 problems x 2 samples = 4 rows, minibatch 2, 2 epochs: 4 optimizer steps per iteration
    assert trainer.global_step == 8 and len(ex.requests) == 2 * 4
    # PPOCoder's translation reward: compile checks (no tests), AST/DFG against the C++ reference
    assert all(r.mode == "compile" and r.language == "cpp" for r in ex.requests)
    changed = sum(not torch.equal(before[k], v) for k, v in module.actor.state_dict().items())
    assert changed > len(before) // 2
    assert torch.equal(
        module.ref_actor.state_dict()[next(iter(ref_before))], next(iter(ref_before.values()))
    )
    assert all(torch.equal(ref_before[k], v) for k, v in module.ref_actor.state_dict().items())
    assert not torch.equal(v_before, module.value_head.summary.weight)
    logged = {k for r in rows for k, v in r.items() if v != ""}
    assert set(METRICS) <= logged, set(METRICS) - logged
    for r in rows:
        if r.get(
            "train/reward/mean"
        ):  # the logged total is the sum of the logged components (weights 1)
            parts = (
                float(r["train/reward/compiler"])
                + float(r["train/reward/ast"])
                + float(r["train/reward/dfg"])
            )
            assert float(r["train/reward/mean"]) == pytest.approx(parts, abs=1e-5)
            assert (
                -1.0 <= float(r["train/reward/compiler"]) <= 1.0
                and 0.0 <= float(r["train/reward/dfg"]) <= 1.0
            )
    betas = [float(r["train/beta"]) for r in rows if r.get("train/beta")]
    assert (
        betas[0] == pytest.approx(cfg.algo.kl_coef) and betas[-1] != betas[0]
    )  # adaptive KL moved beta
    kls = [float(r["train/kl"]) for r in rows if r.get("train/kl")]
    assert kls[0] == pytest.approx(0.0, abs=1e-5) and any(
        abs(k) > 1e-6 for k in kls[1:]
    )  # policy drifts from ref


def test_ppo_unit_test_reward_drops_infra_errors_and_checkpoints(tmp_path):
    torch.manual_seed(0)
    ex = ParityExecutor(infra_every=3)
    _, module = build_module(
        "tiny_t5", "ppo", "unit_test", ex, ["algo.ppo_epochs=1", "algo.minibatch_size=8"]
    )
    trainer, rows = fit(module, tmp_path, steps=3)
    assert all(r.mode == "tests" for r in ex.requests)
    dropped = [float(r["train/dropped"]) for r in rows if r.get("train/dropped")]
    assert sum(dropped) == sum(1 for i in range(len(ex.requests)) if (i + 1) % 3 == 0)
    rewards = [float(r["train/reward/mean"]) for r in rows if r.get("train/reward/mean")]
    assert all(-1.0 <= x <= 1.0 for x in rewards)
    # the checkpoint's actor weights load alone (ref copy and value head live outside "actor.")
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    assert set(actor_state_dict(ckpt)) == set(module.actor.state_dict())
    assert ckpt["execrl_rl_state"]["kl_coef"] == pytest.approx(module.kl_ctl.value)


@pytest.mark.slow
def test_ppo_raises_compile_reward():
    learning_check("ppo", 60)


def test_ppo_refuses_a_reward_kl_without_the_kl_gradient():
    """k3 as a detached reward points about against the KL's gradient (test_rl_core): PPO takes k1 only."""
    with pytest.raises(
        Exception, match="kl_estimator='k3' does not give a KL gradient"
    ):  # hydra wraps the ValueError
        build_module("tiny_t5", "ppo", "unit_test", ParityExecutor(), ["algo.kl_estimator=k3"])
    cfg, module = build_module("tiny_t5", "ppo", "unit_test", ParityExecutor())
    assert cfg.algo.kl_estimator == "k1" and module.config.kl_estimator == "k1"


def test_missing_eos_penalty_and_reward_whitening():
    from execrl.models.actor import Rollout
    from execrl.rewards.base import RewardBatch

    _, module = build_module(
        "tiny_t5",
        "ppo",
        "unit_test",
        ParityExecutor(),
        ["algo.missing_eos_penalty=0.5", "algo.whiten_rewards=true"],
    )
    eos, pad = module.actor.eos_id, module.actor.pad_id
    p_ids, p_mask = module.actor.encode_prompts(["write f", "write f"])
    r_ids = torch.tensor([[7, eos, pad], [7, 8, 9]])  # row 1 was cut at max_new_tokens
    ro = Rollout(p_ids, p_mask, r_ids, module.actor.response_mask(r_ids), ["a", "b"])
    rb = RewardBatch(rewards=[1.0, 1.0])
    assert module.scores(ro, rb, torch.arange(2)).tolist() == [1.0, 0.5]
    pg = module.prepare(ro, rb)
    assert pg.adv.shape == (2, 3) and (pg.adv[0, 2] == 0)  # padding keeps no advantage
    assert pg.stats["beta"] == pytest.approx(module.kl_ctl.value)


def test_ppo_without_a_kl_term_runs_no_reference(tmp_path):
    """KL coefficient 0: no frozen copy, no reference pass, no KL to report; the policy still learns."""
    torch.manual_seed(0)
    _, module = build_module("tiny_causal", "ppo", "ppocoder", ParityExecutor(), ["algo.kl_coef=0"])
    assert module.ref_actor is None
    assert not any(k.startswith("ref_actor.") for k in module.state_dict())
    module.ref_logprobs = lambda *a: pytest.fail("the reference was called")
    before = {k: v.clone() for k, v in module.actor.state_dict().items()}
    _, rows = fit(module, tmp_path, steps=2, data=translation_problems(4))
    assert any(not torch.equal(before[k], v) for k, v in module.actor.state_dict().items())
    logged = {k for r in rows for k, v in r.items() if v != ""}
    assert "train/time_s/old_logprobs" in logged and "train/time_s/ref" not in logged
    assert "train/kl" not in logged and "train/beta" in logged
