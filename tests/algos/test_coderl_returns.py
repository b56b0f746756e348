"""CodeRL returns, actor loss and CE/RL mixing against hand-worked examples (as in CodeRL's code)."""

from __future__ import annotations

import pytest
import torch

from execrl.algos.coderl.returns import (
    class_rewards,
    coderl_token_returns,
    mix_losses,
    rl_loss,
    sequence_returns,
)

ALL = torch.tensor([0, 1, 2, 3])  # compile error, runtime error, failed, passed
FULL = torch.ones(4, 2)


def test_absolute_returns_all_four_classes() -> None:
    r = coderl_token_returns(ALL, FULL, relative=False)
    assert torch.allclose(r, torch.tensor([[-1.0, -1.0], [-0.6, -0.6], [-0.3, -0.3], [1.0, 1.0]]))


def test_relative_returns_against_failed_baseline() -> None:
    # baseline failed (-0.3): 0 -> -1+0.3, 1 -> -0.6+0.3, 2 -> same class -> 0, 3 -> 1+0.3
    r = coderl_token_returns(ALL, FULL, baseline_classes=torch.full((4,), 2), relative=True)
    assert torch.allclose(r[:, 0], torch.tensor([-0.7, -0.3, 0.0, 1.3]))
    assert torch.equal(r[:, 0], r[:, 1])


def test_relative_returns_same_class_is_zero_and_missing_baseline_counts_zero() -> None:
    assert torch.count_nonzero(coderl_token_returns(ALL, FULL, baseline_classes=ALL)) == 0
    missing = coderl_token_returns(ALL, FULL, baseline_classes=torch.full((4,), -1))
    assert torch.allclose(missing, coderl_token_returns(ALL, FULL, relative=False))
    with pytest.raises(ValueError):
        sequence_returns(class_rewards(ALL), None, relative=True)


def test_token_returns_weighted_by_critic_probability_and_padding_masked() -> None:
    # passed sample vs runtime-error baseline: 1 - (-0.6) = 1.6; q = .5, .25 on real tokens
    q = torch.tensor([[0.5, 0.25, 0.9]])  # the padded position's q must not leak
    mask = torch.tensor([[1, 1, 0]])
    r = coderl_token_returns(torch.tensor([3]), mask, torch.tensor([1]), token_probs=q)
    assert torch.allclose(r, torch.tensor([[0.8, 0.4, 0.0]]))


def test_rl_loss_is_mean_over_valid_tokens_of_the_batch() -> None:
    lp = torch.tensor([[-1.0, -2.0, -5.0], [-3.0, 0.0, 0.0]], requires_grad=True)
    ret = torch.tensor([[1.0, 0.5, 9.0], [2.0, 7.0, 7.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    loss = rl_loss(lp, ret, mask)
    # -((-1)(1) + (-2)(.5) + (-3)(2)) / 3 valid tokens = 8/3 (not the per-sequence mean 2.5)
    assert loss.item() == pytest.approx(8 / 3)
    loss.backward()
    assert torch.allclose(lp.grad, -ret * mask / 3)


def test_loss_mixing_alternate_and_sum() -> None:
    ce, rl = torch.tensor(2.0), torch.tensor(5.0)
    assert (
        mix_losses(ce, rl, step=0, mode="alternate").item() == 2.0
    )  # even step: CE on ground truth
    assert mix_losses(ce, rl, step=1, mode="alternate").item() == 5.0  # odd step: RL on samples
    assert mix_losses(ce, rl, step=3, mode="sum", ce_weight=0.5, rl_weight=2.0).item() == 11.0
    assert mix_losses(None, rl, step=4, mode="sum").item() == 5.0
    with pytest.raises(ValueError):
        mix_losses(None, rl, step=0, mode="alternate")
