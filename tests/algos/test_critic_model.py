"""The CodeRL critic: token logits, pooling/masking flags, class probabilities, label files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from execrl.algos.coderl.critic_model import build_critic, pool_logits, token_class_probs
from execrl.algos.coderl.labels import (
    CriticLabel,
    ground_truth_labels,
    label_results,
    read_labels,
    write_labels,
)
from execrl.schema.coderl import CriticNetConfig
from execrl.vocabulary import ExecutionResult, Outcome, Problem

from helpers.common import model_from_conf

ROOT = Path(__file__).resolve().parents[2]


def tiny_actor(name: str = "tiny_t5"):
    torch.manual_seed(0)
    return model_from_conf(name)


def test_pool_logits_flags_on_handmade_logits() -> None:
    tok = torch.tensor([[[1.0, 0.0], [3.0, -1.0], [50.0, 50.0]]])  # last position is padding
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(pool_logits(tok, mask, "max", True), torch.tensor([[3.0, 0.0]]))
    assert torch.equal(
        pool_logits(tok, mask, "max", False), torch.tensor([[50.0, 50.0]])
    )  # upstream quirk
    assert torch.allclose(pool_logits(tok, mask, "mean", True), torch.tensor([[2.0, -0.5]]))
    assert torch.allclose(pool_logits(tok, mask, "mean", False), torch.tensor([[18.0, 49.0 / 3]]))


def test_token_class_probs_gathers_the_given_class_and_zeroes_padding() -> None:
    tok = torch.log(torch.tensor([[[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1], [0.25] * 4]]))
    q = token_class_probs(tok, torch.tensor([0]), torch.tensor([[1, 1, 0]]))
    assert torch.allclose(q, torch.tensor([[0.1, 0.7, 0.0]]))


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_critic_masked_pooling_ignores_padding_of_the_batch(model: str) -> None:
    actor = tiny_actor(model)
    critic = build_critic(CriticNetConfig(pooling="max", mask_padding=True), actor).eval()
    prompts, programs = ["Write f.", "Write g."], ["def f(x):\n    return x\n", "x = 1\n" * 12]
    with torch.no_grad():
        both = critic.score_texts(prompts, programs)
        alone = critic.score_texts(prompts[:1], programs[:1])
    assert (
        both["token_logits"].shape[:2] == both["response_ids"].shape
        and both["token_logits"].shape[-1] == 4
    )
    n = int(alone["response_mask"].sum())
    assert (
        int(both["response_mask"][0].sum()) == n < both["response_ids"].shape[1]
    )  # row 0 is padded
    # masked max-pool of the padded row equals the pool of the unpadded row (padding excluded)
    assert torch.allclose(both["logits"][0], alone["logits"][0], atol=1e-4)
    assert torch.allclose(both["token_logits"][0, :n], alone["token_logits"][0], atol=1e-4)
    # unmasked (upstream) pooling reads every position, padding included
    critic.mask_padding = False
    assert torch.allclose(
        critic.pool(both["token_logits"], both["response_mask"])[0],
        both["token_logits"][0].max(0).values,
    )
    critic.pooling = "mean"
    assert torch.allclose(
        critic.pool(both["token_logits"], both["response_mask"])[0], both["token_logits"][0].mean(0)
    )


def test_critic_copies_actor_weights_binary_head_and_gradients_reach_backbone() -> None:
    actor = tiny_actor()
    critic = build_critic(CriticNetConfig(binary=True), actor)
    assert critic.num_classes == 2 and critic.class_names == ["not_passed", "passed"]
    a, c = dict(actor.named_parameters()), dict(critic.backbone.named_parameters())
    assert all(torch.equal(a[k], c[k]) and a[k].data_ptr() != c[k].data_ptr() for k in a)
    out = critic.score_texts(["p"], ["print(1)\n"])
    torch.nn.functional.cross_entropy(out["logits"], torch.tensor([1])).backward()
    assert critic.backbone.model.lm_head.weight.grad is not None or any(
        p.grad is not None for p in critic.backbone.parameters()
    )
    assert all(p.grad is None for p in actor.parameters())  # the actor is untouched
    with pytest.raises(ValueError):
        build_critic(CriticNetConfig(pooling="attention"), actor)


def test_critic_labels_roundtrip_and_infra_errors_dropped(tmp_path: Path) -> None:
    results = [
        ExecutionResult(Outcome.TIMEOUT),
        ExecutionResult(Outcome.INFRA_ERROR),
        ExecutionResult(Outcome.FAILED),
        None,
    ]
    labs = label_results(["a", "a", "b", "c"], ["p1", "p2", "p3", "p4"], results)
    assert [(lab.task_id, lab.outcome, lab.cls) for lab in labs] == [
        ("a", "timeout", 1),
        ("b", "failed", 2),
    ]
    gt = ground_truth_labels([Problem("c", "synth", "prompt", solutions=["s1", "s2"])])
    assert [(lab.program, lab.cls, lab.source) for lab in gt] == [
        ("s1", 3, "ground_truth"),
        ("s2", 3, "ground_truth"),
    ]
    path = tmp_path / "critic_labels.jsonl"
    write_labels(path, labs + gt)
    first = path.read_text().splitlines()[0]
    assert '"class": 1' in first and '"task_id": "a"' in first and '"outcome": "timeout"' in first
    assert read_labels(path) == labs + gt
    assert (
        CriticLabel.from_dict({"task_id": "x", "program": "p", "outcome": "compile_error"}).cls == 0
    )
