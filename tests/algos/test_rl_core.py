"""rl_core against hand-worked values; reward placement on real tiny seq2seq and causal actors."""

from __future__ import annotations

import math

import pytest
import torch

from execrl.algos.rl_core import (
    AdaptiveKLController,
    FixedKLController,
    aggregate_loss,
    check_kl_estimator,
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    group_advantages,
    kl_estimate,
    masked_whiten,
    place_scores,
    soft_overlong_penalty,
    token_rewards,
    whiten_per_sequence,
)

from helpers.common import model_from_conf
from helpers.rl import grpo_per_token_loss

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
    assert out.tolist() == [
        pytest.approx([-1.0, 0.0], abs=1e-6),
        pytest.approx([1.0, 0.0], abs=1e-6),
    ]
    out = masked_whiten(x, m, shift_mean=False)
    assert out[0].tolist() == pytest.approx([1.0, 2.0], abs=1e-6)  # mean kept: -1+2, 0+2
    per_seq = whiten_per_sequence(
        T([[1.0, 3.0, 0.0], [10.0, 20.0, 30.0]]), T([[1, 1, 0], [1, 1, 1]])
    )
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
    assert kl_estimate(lp, ref, "k3").tolist()[0] == pytest.approx(
        [0.5 + math.log(2) - 1, 2 - math.log(2) - 1]
    )
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
    assert g[1] == pytest.approx(-0.5 / 4) and g[3] == pytest.approx(
        1.5 / 4
    )  # d(-A r)/dlogp = -A r / n
    # GRPO form: one advantage per sequence broadcasts over its tokens
    loss_seq, _ = clipped_policy_loss(
        torch.zeros(2, 3), torch.zeros(2, 3), T([2.0, -1.0]), torch.ones(2, 3)
    )
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
    adv, valid, informative = group_advantages(rewards, group_size=4)
    s = 0.5 / (math.sqrt(1 / 3) + 1e-4)  # dev 0.5 over std([1, 0, 0, 1], unbiased) + TRL's eps
    assert adv[:4].tolist() == pytest.approx([s, -s, -s, s], abs=1e-6)
    assert valid.tolist() == [True] * 9 + [False, True, True]
    assert (
        informative.tolist() == [True] * 4 + [False] * 4 + [True] * 4
    )  # the all-equal group has no signal
    a = (1 / 3) / (math.sqrt(1 / 3) + 1e-4)  # group [0, 1, 0]: dev [-1/3, 2/3, -1/3], std sqrt(1/3)
    assert adv[8:].tolist() == pytest.approx([-a, 0.0, 2 * a, -a], abs=1e-6)
    adv_raw, _, _ = group_advantages(rewards, group_size=4, scale="none")
    assert adv_raw[:4].tolist() == pytest.approx([0.5, -0.5, -0.5, 0.5])
    with pytest.raises(ValueError):
        group_advantages(rewards, group_size=5)


def test_group_advantages_batch_scale():
    """scale_rewards=batch: group mean, std of all rewards of the batch (TRL)."""
    adv, _, _ = group_advantages(T([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]), 4, scale="batch")
    std = math.sqrt(
        1.5 / 7
    )  # rewards' mean 0.75: squared deviations 2 * .5625 + 6 * .0625 = 1.5, over n - 1
    b = 0.5 / (std + 1e-4)
    assert adv.tolist() == pytest.approx([b, -b, -b, b, 0, 0, 0, 0], abs=1e-6)
    with pytest.raises(ValueError):
        group_advantages(T([1.0]), 1, scale="rank")


def test_soft_overlong_penalty_hand_values():
    # max 10 tokens, buffer 4: free up to 6, then linear to -factor at 10
    assert soft_overlong_penalty(T([5, 6, 8, 10]), 10, 4, factor=2.0).tolist() == pytest.approx(
        [0, 0, -1.0, -2.0]
    )
    assert soft_overlong_penalty(T([10]), 10, 0).tolist() == [0.0]


# a fixed batch for the GRPO loss: old log-probs 0, ratios [1.5, .5, 1] and [1.1, 1, pad], A = [1, -2]
LP = T([[math.log(1.5), math.log(0.5), 0.0], [math.log(1.1), 0.0, 5.0]])
MASK = T([[1, 1, 1], [1, 1, 0]])
ADV = T([1.0, -2.0])
# per token -min(r A, clip(r, .8, 1.2) A): row 0 [-1.2, -0.5, -1.0] (sum -2.7), row 1 [2.2, 2.0] (sum 4.2)


@pytest.mark.parametrize(
    "loss_type, kw, expected",
    [
        ("grpo", {}, (-2.7 / 3 + 4.2 / 2) / 2),  # per-sequence token mean, mean over sequences
        ("bnpo", {}, (-2.7 + 4.2) / 5),  # token mean over the batch
        ("dr_grpo", {"max_completion_length": 4}, 1.5 / (2 * 4)),  # over B * max length
        (
            "dapo",
            {"num_tokens": 10},
            1.5 / 10,
        ),  # over the step's tokens (e.g. two minibatches of 5)
        ("dapo", {}, 1.5 / 5),
        ("grpo", {"num_rows": 4}, (-2.7 / 3 + 4.2 / 2) / 4),  # two more rows that add exactly 0
    ],
)
def test_grpo_loss_types_match_trl_formula(loss_type, kw, expected):
    per_token, st = grpo_per_token_loss(LP, torch.zeros(2, 3), ADV, MASK)
    assert aggregate_loss(per_token, MASK, loss_type, **kw).item() == pytest.approx(
        expected, abs=1e-6
    )
    assert st["clipfrac"].item() == pytest.approx(
        1 / 5
    )  # ratio 1.5 with A > 0; 0.5 with A > 0 is not clipped
    with pytest.raises(ValueError):
        aggregate_loss(per_token, MASK, "sum")


def test_grpo_loss_options_hand_values():
    old = torch.zeros(2, 3)
    bnpo = lambda pt: aggregate_loss(pt, MASK, "bnpo").item()  # noqa: E731
    # clip-higher: 1.5 is inside [0.8, 1.6], so row 0 token 0 gives -1.5 instead of -1.2
    assert bnpo(grpo_per_token_loss(LP, old, ADV, MASK, epsilon_high=0.6)[0]) == pytest.approx(
        (-3.0 + 4.2) / 5
    )
    # two-sided clip delta=1.05 caps the unclipped ratio: row 0 token 0 -1.05; row 1 keeps the clipped 2.2
    assert bnpo(grpo_per_token_loss(LP, old, ADV, MASK, delta=1.05)[0]) == pytest.approx(
        (-2.55 + 4.2) / 5
    )
    # k3 KL in the loss: ref = log 2 on row 0 token 2 (lp 0): 2 - log 2 - 1 per token, times beta
    ref = LP.clone()
    ref[0, 2] = math.log(2)
    pt, st = grpo_per_token_loss(LP, old, ADV, MASK, ref_logprobs=ref, beta=0.1)
    assert bnpo(pt) == pytest.approx((-2.7 + 0.1 * (1 - math.log(2)) + 4.2) / 5)
    assert st["kl"].item() == pytest.approx((1 - math.log(2)) / 5)
    with pytest.raises(ValueError):
        grpo_per_token_loss(LP, old, ADV, MASK, ref_logprobs=ref, beta=0.1, kl_estimator="k1")
    # GSPO: one ratio per sequence, exp(mean log ratio): 0.75^(1/3) and 1.1^(1/2), inside the clip range
    pt, _ = grpo_per_token_loss(LP, old, ADV, MASK, importance_sampling_level="sequence")
    w0, w1 = 0.75 ** (1 / 3), 1.1**0.5
    assert pt[0].tolist() == pytest.approx([-w0] * 3) and pt[1].tolist() == pytest.approx(
        [2 * w1, 2 * w1, 0.0]
    )
    assert aggregate_loss(pt, MASK, "grpo").item() == pytest.approx((-w0 + 2 * w1) / 2)


def _expected_update(theta: torch.Tensor, ref_logp: torch.Tensor, kind: str) -> torch.Tensor:
    """Exact E_{a ~ pi}[-KL_t(a) * grad log pi(a)]: where a detached per-token reward -KL_t moves
    the logits of a softmax policy pi = softmax(theta) under the policy gradient."""
    theta = theta.clone().requires_grad_()
    logp = torch.log_softmax(theta, -1)
    penalty = kl_estimate(logp.detach(), ref_logp, kind)
    (g,) = torch.autograd.grad((logp.exp().detach() * -penalty * logp).sum(), theta)
    return g


def test_reward_kl_penalty_gradient_direction():
    """PPO puts -beta * KL_t in the reward: with k1 the expected update is exactly -grad KL(pi || ref);
    with k3 it points about the opposite way (so PPO refuses k3 there)."""
    theta, ref = T([2.0, 0.0, -1.0]), torch.log_softmax(T([0.0, 1.0, 0.5]), -1)
    th = theta.clone().requires_grad_()
    logp = torch.log_softmax(th, -1)
    (descent,) = torch.autograd.grad(-(logp.exp() * (logp - ref)).sum(), th)
    torch.testing.assert_close(_expected_update(theta, ref, "k1"), descent)
    assert torch.cosine_similarity(_expected_update(theta, ref, "k3"), descent, 0).item() < -0.9
    assert check_kl_estimator("k1", "reward") == "k1"
    with pytest.raises(ValueError):
        check_kl_estimator("k3", "reward")


def test_loss_kl_gradient_is_a_kl_gradient():
    """In the loss (GRPO), mse's expected gradient is grad KL(pi || ref) and k3's grad KL(ref || pi)."""
    theta, ref = T([2.0, 0.0, -1.0]), torch.log_softmax(T([0.0, 1.0, 0.5]), -1)

    def expected_loss_grad(kind):
        th = theta.clone().requires_grad_()
        logp = torch.log_softmax(th, -1)
        (g,) = torch.autograd.grad((logp.exp().detach() * kl_estimate(logp, ref, kind)).sum(), th)
        return g

    def kl_grad(forward: bool):
        th = theta.clone().requires_grad_()
        logp = torch.log_softmax(th, -1)
        kl = (logp.exp() * (logp - ref)).sum() if forward else (ref.exp() * (ref - logp)).sum()
        return torch.autograd.grad(kl, th)[0]

    torch.testing.assert_close(expected_loss_grad("mse"), kl_grad(True))
    torch.testing.assert_close(expected_loss_grad("k3"), kl_grad(False))
    assert expected_loss_grad("k1").abs().max() < 1e-6  # k1 in the loss has no expected gradient

    # TRL 1.16's use_bias_correction_kl: k3 times the on-policy ratio exp(logp - logp.detach()) (= 1)
    # turns k3's expected gradient into the reverse KL's, grad KL(pi || ref)
    th = theta.clone().requires_grad_()
    logp = torch.log_softmax(th, -1)
    w = torch.exp(logp - logp.detach())
    (g,) = torch.autograd.grad((logp.exp().detach() * w * kl_estimate(logp, ref, "k3")).sum(), th)
    torch.testing.assert_close(g, kl_grad(True))


def test_grpo_kl_bias_correction_hand_value():
    """With the correction the k3 term is weighted by the token's unclipped ratio (1.5 here)."""
    ref = LP.clone()
    ref[0, 0] = math.log(3.0)  # log ratio log 1.5 - log 3 = -log 2: k3 = 2 - 1 - log 2
    pt, _ = grpo_per_token_loss(
        LP, torch.zeros(2, 3), ADV, MASK, ref_logprobs=ref, beta=0.1, kl_bias_correction=True
    )
    assert aggregate_loss(pt, MASK, "bnpo").item() == pytest.approx(
        (-2.7 + 0.1 * 1.5 * (1 - math.log(2)) + 4.2) / 5
    )
    pt, _ = grpo_per_token_loss(LP, torch.zeros(2, 3), ADV, MASK, ref_logprobs=ref, beta=0.1)
    assert aggregate_loss(pt, MASK, "bnpo").item() == pytest.approx(
        (-2.7 + 0.1 * (1 - math.log(2)) + 4.2) / 5
    )


@pytest.fixture(scope="module", params=["tiny_t5", "tiny_causal"])
def actor(request):
    torch.manual_seed(0)
    return model_from_conf(request.param).eval()


def test_reward_lands_on_eos_token(actor):
    """Known responses: the score sits on the EOS token, which the actor's log-probs score."""
    p_ids, p_mask = actor.encode_prompts(
        ["write f", "a much longer prompt that pads the other one"]
    )
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
    ro = actor.generate(
        ["write f", "another prompt"], num_return_sequences=3, do_sample=True, max_new_tokens=6
    )
    placed = place_scores(torch.arange(1, 7, dtype=torch.float), ro.response_mask)
    for i in range(6):
        (pos,) = placed[i].nonzero().flatten().tolist()
        assert placed[i, pos].item() == i + 1
        assert pos == int(ro.response_mask[i].sum()) - 1
        has_eos = (ro.response_ids[i] == actor.eos_id).any()
        assert (ro.response_ids[i, pos].item() == actor.eos_id) == bool(has_eos)
