"""rl_core against hand-worked values; reward placement on real tiny seq2seq and causal actors."""

from __future__ import annotations

import math

import pytest
import torch

from execrl.algos.rl_core import (
    AdaptiveKLController,
    FixedKLController,
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    group_advantages,
    kl_estimate,
    masked_whiten,
    place_scores,
    token_rewards,
    whiten_per_sequence,
)

T = torch.tensor


def test_gae_hand_values():
    r, v, m = T([[0.0, 0.0, 1.0]]), T([[0.5, 0.6, 0.7]]), T([[1, 1, 1]])
    adv, ret = gae(r, v, m, gamma=1.0, lam=0.5)
    # delta = [0.1, 0.1, 0.3]; A2 = .3, A1 = .1 + .5*.3, A0 = .1 + .5*.25
    assert adv.tolist()[0] == pytest.approx([0.225, 0.25, 0.3])
    assert ret.tolist()[0] == pytest.approx([0.725, 0.85, 1.0])
    # lam = 1: returns are the discounted reward-to-go
    adv, ret = gae(r, v, m, gamma=0.9, lam=1.0)
    assert ret.tolist()[0] == pytest.approx([0.81, 0.9, 1.0])
    assert adv.tolist()[0] == pytest.approx([0.31, 0.3, 0.3])


def test_gae_ignores_padding():
    r, v, m = T([[0.0, 1.0, 5.0]]), T([[0.5, 0.6, 9.0]]), T([[1, 1, 0]])
    adv, ret = gae(r, v, m, gamma=1.0, lam=0.5)
    assert adv.tolist()[0] == pytest.approx([0.3, 0.4, 0.0])  # V after the last token is 0, not 9
    assert ret.tolist()[0] == pytest.approx([0.8, 1.0, 0.0])


def test_masked_whiten_hand_values():
    x, m = T([[1.0, 2.0], [3.0, 100.0]]), T([[1, 1], [1, 0]])
    out = masked_whiten(x, m)
    assert out.tolist() == [pytest.approx([-1.0, 0.0], abs=1e-6), pytest.approx([1.0, 0.0], abs=1e-6)]
    out = masked_whiten(x, m, shift_mean=False)
    assert out[0].tolist() == pytest.approx([1.0, 2.0], abs=1e-6)  # mean kept: -1+2, 0+2
    per_seq = whiten_per_sequence(T([[1.0, 3.0, 0.0], [10.0, 20.0, 30.0]]), T([[1, 1, 0], [1, 1, 1]]))
    assert per_seq[0].tolist() == pytest.approx([-math.sqrt(0.5), math.sqrt(0.5), 0.0], abs=1e-6)
    assert per_seq[1].tolist() == pytest.approx([-1.0, 0.0, 1.0], abs=1e-6)


def test_adaptive_kl_controller_update():
    c = AdaptiveKLController(0.1, target=1.0, horizon=10000)
    c.update(1.5, n_steps=32)  # error 0.5 clipped to 0.2
    assert c.value == pytest.approx(0.1 * (1 + 0.2 * 32 / 10000))
    c = AdaptiveKLController(0.1, target=1.0, horizon=10000)
    c.update(0.9, n_steps=32)  # error -0.1
    assert c.value == pytest.approx(0.1 * (1 - 0.1 * 32 / 10000))
    c.update(0.0, n_steps=10000)  # error -1 clipped to -0.2: one horizon at most -20%
    assert c.value == pytest.approx(0.1 * (1 - 0.1 * 32 / 10000) * 0.8)
    f = FixedKLController(0.05)
    f.update(100.0, 32)
    assert f.value == 0.05


def test_kl_estimators():
    lp, ref = T([[math.log(0.5), math.log(0.25)]]), T([[math.log(0.25), math.log(0.5)]])
    assert kl_estimate(lp, ref, "k1").tolist()[0] == pytest.approx([math.log(2), -math.log(2)])
    # k3 = exp(ref - lp) - (ref - lp) - 1 >= 0
    assert kl_estimate(lp, ref, "k3").tolist()[0] == pytest.approx([0.5 + math.log(2) - 1, 2 - math.log(2) - 1])
    with pytest.raises(ValueError):
        kl_estimate(lp, ref, "k9")


def test_clipped_policy_loss_hand_values_and_gradient():
    old = torch.zeros(1, 5)
    lp = T([[math.log(1.5), math.log(0.5), math.log(0.5), math.log(1.5), 3.0]]).requires_grad_()
    adv = T([[1.0, 1.0, -1.0, -1.0, 7.0]])
    m = T([[1, 1, 1, 1, 0]])
    loss, stats = clipped_policy_loss(lp, old, adv, m, cliprange=0.2)
    # per token: max(-A r, -A clip(r)) = [-1.2 (clip), -0.5, 0.8 (clip), 1.5]; padding ignored
    assert loss.item() == pytest.approx((-1.2 - 0.5 + 0.8 + 1.5) / 4)
    assert stats["clipfrac"].item() == pytest.approx(0.5)
    loss.backward()
    g = lp.grad[0].tolist()
    assert g[0] == 0.0 and g[2] == 0.0 and g[4] == 0.0  # clipped and padded tokens get no gradient
    assert g[1] == pytest.approx(-0.5 / 4) and g[3] == pytest.approx(1.5 / 4)  # d(-A r)/dlogp = -A r / n
    # GRPO form: one advantage per sequence broadcasts over its tokens
    loss_seq, _ = clipped_policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), T([2.0, -1.0]), torch.ones(2, 3))
    assert loss_seq.item() == pytest.approx(-0.5)


def test_clipped_value_loss_hand_values():
    old = torch.zeros(1, 3)
    v = T([[0.5, 0.1, -0.5]])
    ret = T([[1.0, 1.0, -1.0]])
    loss, stats = clipped_value_loss(v, old, ret, torch.ones(1, 3), cliprange_value=0.2)
    # token 0: clip to 0.2 -> max(.25, .64); token 1 inside -> .81; token 2: clip to -0.2 -> max(.25, .64)
    assert loss.item() == pytest.approx(0.5 * (0.64 + 0.81 + 0.64) / 3)
    assert stats["vf_clipfrac"].item() == pytest.approx(2 / 3)


def test_place_scores_and_token_rewards():
    m = T([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    placed = place_scores(T([2.0, 3.0]), m)
    assert placed.tolist() == [[0, 0, 2, 0, 0], [0, 0, 0, 0, 3]]
    lp, ref = torch.full((2, 5), -1.0), torch.full((2, 5), -1.5)
    r, kl = token_rewards(T([2.0, 3.0]), lp, ref, m, beta=0.1)
    assert r[0].tolist() == pytest.approx([-0.05, -0.05, 1.95, 0.0, 0.0])
    assert r[1].tolist() == pytest.approx([-0.05] * 4 + [2.95])
    assert kl.sum().item() == pytest.approx(0.5 * 8)


def test_group_advantages_hand_values():
    nan = float("nan")
    rewards = T([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, nan, 1.0, 0.0])
    adv, keep = group_advantages(rewards, group_size=4)
    s = math.sqrt(3) / 2  # 0.5 / std([1, 0, 0, 1], unbiased)
    assert adv[:4].tolist() == pytest.approx([s, -s, -s, s], abs=1e-4)
    assert keep.tolist() == [True] * 4 + [False] * 4 + [True, False, True, True]  # equal group and NaN dropped
    a = 1 / math.sqrt(3)  # group [0, 1, 0]: dev [-1/3, 2/3, -1/3], std sqrt(1/3)
    assert adv[8:].tolist() == pytest.approx([-a, 0.0, 2 * a, -a], abs=1e-4)
    adv_raw, _ = group_advantages(rewards, group_size=4, scale_std=False)
    assert adv_raw[:4].tolist() == pytest.approx([0.5, -0.5, -0.5, 0.5])
    with pytest.raises(ValueError):
        group_advantages(rewards, group_size=5)


@pytest.fixture(scope="module", params=["tiny_t5", "tiny_causal"])
def actor(request):
    from omegaconf import OmegaConf
    import hydra
    from conftest import ROOT

    torch.manual_seed(0)
    cfg = OmegaConf.load(ROOT / "conf" / "model" / f"{request.param}.yaml")
    return hydra.utils.instantiate(cfg).eval()


def test_reward_lands_on_eos_token(actor):
    """Known responses: the score sits on the EOS token, which the actor's log-probs score."""
    p_ids, p_mask = actor.encode_prompts(["write f", "a much longer prompt that pads the other one"])
    r_ids, r_mask = actor.encode_responses(["x = 1", "def f(a):\n    return a + 1"])
    placed = place_scores(T([1.0, -1.0]), r_mask)
    for i in range(2):
        (pos,) = placed[i].nonzero().flatten().tolist()
        assert r_ids[i, pos].item() == actor.eos_id
        assert r_mask[i, pos + 1 :].sum() == 0
    out = actor.response_logprobs(p_ids, p_mask, r_ids, r_mask, return_hidden=True)
    # the EOS position carries a real log-prob and a hidden state; padding after it scores 0
    assert (out["logprobs"][placed != 0] < 0).all()
    assert out["hidden"].shape[:2] == r_ids.shape
    assert (out["logprobs"][r_mask == 0] == 0).all()


def test_reward_lands_on_last_sampled_token(actor):
    """Sampled rollouts (some truncated without EOS): the score sits on the last real token."""
    torch.manual_seed(1)
    ro = actor.generate(["write f", "another prompt"], num_return_sequences=3, do_sample=True, max_new_tokens=6)
    placed = place_scores(torch.arange(1, 7, dtype=torch.float), ro.response_mask)
    for i in range(6):
        (pos,) = placed[i].nonzero().flatten().tolist()
        assert placed[i, pos].item() == i + 1
        assert pos == int(ro.response_mask[i].sum()) - 1
        has_eos = (ro.response_ids[i] == actor.eos_id).any()
        assert (ro.response_ids[i, pos].item() == actor.eos_id) == bool(has_eos)
