"""Named settings mean the papers (experiment=ppocoder_paper: tests/test_paper_presets.py): coderl_paper, PPOCoder's LR decay,
CodeRL's offline baselines and its one outcome-class definition."""

from __future__ import annotations

import pytest
import torch

from execrl.algos.coderl.labels import CriticLabel, coderl_class, label_results, write_labels
from execrl.algos.schedules import ppocoder_plateau
from execrl.schema.build import instantiate
from execrl.vocabulary import ExecutionResult, Outcome, TestResult

from helpers.common import compose


def test_coderl_paper_settings():
    c = compose("train", ["experiment=coderl_paper"])
    assert (
        c.optimizer.lr,
        c.optimizer.weight_decay,
        c.algo.critic_lr,
        c.algo.critic_weight_decay,
    ) == (2e-5, 0.05, 2e-5, 0.05)
    assert c.trainer.accumulate_grad_batches == 4 and c.algo.mix == "alternate"
    # the warm start is CodeRL's train_actor.sh: the same lr, weight decay and accumulation
    ws = c.warm_start
    assert (ws.optimizer.lr, ws.optimizer.weight_decay, ws.trainer.accumulate_grad_batches) == (
        2e-5,
        0.05,
        4,
    )
    assert c.algo.offline_samples == 20 and c.algo.critic_samples_per_problem == 20
    assert (
        c.model.prompt_truncation == "right"
        and compose("train", []).model.prompt_truncation == "left"
    )


def test_ppocoder_plateau_matches_reduce_lr_on_plateau():
    """Step for step the LRs of ReduceLROnPlateau(factor 2^-1/3, patience 100) fed a constant metric,
    including where torch stops cutting (cuts below eps)."""
    for base in (1e-6, 1e-4):
        p = torch.nn.Parameter(torch.zeros(1))
        o_ref, o_ours = torch.optim.SGD([p], lr=base), torch.optim.SGD([p], lr=base)
        ref = torch.optim.lr_scheduler.ReduceLROnPlateau(o_ref, factor=2 ** (-1 / 3), patience=100)
        ours = ppocoder_plateau(o_ours)
        for k in range(1, 2500):
            o_ref.step(), o_ours.step()
            ref.step(0.0)
            ours.step()
            assert o_ours.param_groups[0]["lr"] == pytest.approx(
                o_ref.param_groups[0]["lr"], rel=1e-9
            ), k
        if base == 1e-6:
            assert o_ours.param_groups[0]["lr"] == pytest.approx(
                1e-6 * 2 ** (-14 / 3)
            )  # 14 cuts, then below eps


def test_one_outcome_class_first_failing_test():
    """Critic labels and RL pools label a program by its first failing test, as CodeRL (and evaluate.py's export)."""
    r = ExecutionResult(
        Outcome.TIMEOUT,
        tests=[TestResult(Outcome.PASSED), TestResult(Outcome.FAILED), TestResult(Outcome.TIMEOUT)],
    )
    assert coderl_class(r) == 2 and coderl_class(ExecutionResult(Outcome.COMPILE_ERROR)) == 0
    assert coderl_class(ExecutionResult(Outcome.INFRA_ERROR)) == -1 and coderl_class(None) == -1
    (lab,) = label_results(["t"], ["p"], [r])
    assert (lab.outcome, lab.cls) == ("failed", 2)
    e = ExecutionResult(
        Outcome.RUNTIME_ERROR,
        error_type="ZeroDivisionError",
        error="Traceback\nZeroDivisionError: division by zero",
    )
    (lab,) = label_results(["t"], ["1/0"], [e])
    assert (lab.error_type, lab.error) == (
        "ZeroDivisionError",
        "ZeroDivisionError: division by zero",
    )


def test_offline_labels_without_baselines_decode_greedy_ones_or_refuse(tmp_path):
    from helpers.rl import ParityExecutor, problems

    probs = problems(2)
    path = tmp_path / "critic_labels.jsonl"
    write_labels(
        path, [CriticLabel(p.task_id, "x = 1", "failed", 2) for p in probs]
    )  # samples only, no baseline rows
    cfg = compose(
        "train",
        [
            "algo=coderl",
            "model=tiny_t5",
            "model.max_new_tokens=8",
            f"algo.offline_labels={path}",
            "algo.token_weights=uniform",
        ],
    )
    import hydra

    def module(executor):
        return instantiate(
            cfg.algo, actor=hydra.utils.instantiate(cfg.model), optimizer=None, executor=executor
        )

    with pytest.raises(ValueError, match="no baseline rows"):
        module(None).build_offline_pool(probs)
    ex = ParityExecutor()
    m = module(ex)
    m.build_offline_pool(probs)
    assert (
        len(ex.requests) == 2 and m.setup_stats["baselines_decoded"] == 2.0
    )  # one greedy program per problem
    for it in m.pool:  # relative return: R(failed) - R(judged greedy baseline), not R(failed) - 0
        assert it.baseline_reward in (-1.0, 1.0) and it.returns[0] == pytest.approx(
            -0.3 - it.baseline_reward
        )
