"""Critic Sampling: its pure pieces, and the refine and repair branches on a tiny model with the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from execrl.algos.coderl.critic_model import build_critic
from execrl.algos.coderl.critic_sampling import (
    CriticSampler,
    best_prefix_len,
    critic_sampling,
    repair_prompt,
    split_budget,
)
from execrl.judging.requests import example_tests, judge_request
from execrl.schema.coderl import CriticNetConfig
from execrl.schema.sampling import CriticSamplingConfig
from execrl.vocabulary import ExecutionResult, Outcome, Problem, TestResult, Tests

from helpers.common import model_from_conf

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "def f(x):\n    return x + 1\n"


def _problem(task_id: str, shown: str, hidden: list[str]) -> Problem:
    return Problem(
        task_id,
        "synth",
        f"Write a function f(x).\n{shown}\n",
        tests=Tests(style="assert", asserts=[shown, *hidden]),
    )


def test_pure_pieces() -> None:
    assert best_prefix_len([0.1, 0.7, 0.3, 0.7]) == 1  # first argmax
    assert best_prefix_len([]) == 0
    assert split_budget(7, 3) == [3, 2, 2] and sum(split_budget(5, 5)) == 5
    p = _problem("a", "assert f(1) == 2", ["assert f(5) == 6"])
    assert example_tests(p).asserts == ["assert f(1) == 2"]  # only the assert quoted in the prompt
    assert (
        example_tests(p, fallback="compile") is None
        and judge_request(p, "x", "example", example_fallback="compile").mode == "compile"
    )
    p.example_tests = Tests(style="stdio", inputs=["1"], outputs=["2"])
    assert example_tests(p).style == "stdio"
    res = ExecutionResult(Outcome.FAILED, tests=[TestResult(Outcome.FAILED, got="3", expected="2")])
    text = repair_prompt(p, "def f(x): return 2\n", res)
    assert (
        text.startswith(p.prompt.rstrip())
        and "def f(x): return 2" in text
        and "failed" in text
        and "expected 2, got 3" in text
    )
    res = ExecutionResult(
        Outcome.RUNTIME_ERROR,
        error_type="ZeroDivisionError",
        error="Traceback...\nZeroDivisionError: division by zero",
    )
    # the paper's repair input: error type (class), subtype and message
    assert (
        "It fails with runtime_error (ZeroDivisionError): ZeroDivisionError: division by zero"
        in repair_prompt(p, "1/0", res)
    )
    # the class is the first failing test's (CodeRL stops there): a timeout after a wrong answer is "failed"
    res = ExecutionResult(
        Outcome.TIMEOUT,
        tests=[
            TestResult(Outcome.PASSED),
            TestResult(Outcome.FAILED, got="3", expected="2"),
            TestResult(Outcome.TIMEOUT, error_type="TimeoutError"),
        ],
    )
    assert "It fails with failed (failed): expected 2, got 3" in repair_prompt(p, "f", res)


@pytest.fixture(scope="module")
def memorized():
    """A tiny T5 that has memorised PROGRAM for any 'Write a function f(x).' prompt, and a critic."""
    torch.manual_seed(0)
    actor = model_from_conf("tiny_t5", max_new_tokens=32)
    prompts = [_problem("x", f"assert f({i}) == {i + 1}", []).prompt for i in range(4)]
    opt = torch.optim.AdamW(actor.parameters(), lr=1e-2)
    for _ in range(12):
        loss = actor.sft_loss(prompts, [PROGRAM] * len(prompts))
        opt.zero_grad()
        loss.backward()
        opt.step()
    critic = build_critic(CriticNetConfig(binary=True), actor).eval()
    return actor.eval(), critic


def test_refine_branch_resamples_from_critic_chosen_prefixes(memorized, executor) -> None:
    actor, critic = memorized
    p = _problem("refine", "assert f(1) == 2", ["assert f(7) == 8"])
    torch.manual_seed(1)
    cfg = CriticSamplingConfig(n=4, n_refine=6, max_seeds=2, temperature=0.3)
    [pool] = critic_sampling(actor, critic, executor, [p], cfg)
    first, new = pool[:4], pool[4:]
    assert any(s.example_passed for s in first), [s.completion for s in first]
    assert len(new) == 6 and {s.stage for s in new} == {"refine"}
    seeds = {s.parent for s in new}
    assert 1 <= len(seeds) <= 2 and all(first[i].example_passed for i in seeds)
    for s in new:
        seed = first[s.parent]
        t_max = best_prefix_len(seed.token_scores)
        assert s.prefix == seed.ids[:t_max]  # the critic's best-scoring prefix of the seed
        assert s.ids[: len(s.prefix)] == s.prefix  # the continuation starts with it
        assert s.example_passed is not None and s.score is not None
    # the best-scoring passing programs were the seeds
    passing = sorted((s.score for s in first if s.example_passed), reverse=True)
    assert sorted((first[i].score for i in seeds), reverse=True) == passing[: len(seeds)]


def test_repair_branch_rewrites_the_critic_top_failed_program(memorized, executor) -> None:
    actor, critic = memorized
    p = _problem("repair", "assert f(1) == 5", [])  # the memorised program fails this example
    prompts = []

    class SpyActor:  # the repair model: the same tiny actor, recording the prompts it receives
        def __getattr__(self, name):
            return getattr(actor, name)

        def encode_prompts(self, texts):
            prompts.extend(texts)
            return actor.encode_prompts(texts)

    torch.manual_seed(2)
    cfg = CriticSamplingConfig(n=4, n_refine=3, repair_top_m=1)
    [pool] = critic_sampling(actor, critic, executor, [p], cfg, repair_actor=SpyActor())
    first, new = pool[:4], pool[4:]
    assert not any(s.example_passed for s in first) and all(
        s.example_passed is False for s in first
    )
    assert len(new) == 3 and {s.stage for s in new} == {"repair"}
    chosen = {s.parent for s in new}
    assert len(chosen) == 1
    (i,) = chosen
    assert first[i].score == max(s.score for s in first)  # top-1 by the critic's p(passed)
    assert (
        len(prompts) == 1
        and first[i].completion.strip() in prompts[0]
        and "# Corrected program:" in prompts[0]
    )
    assert "failed" in prompts[0] or "error" in prompts[0]
    assert all(s.example_passed is not None for s in new)


def test_sampler_reports_budget_and_requires_a_critic() -> None:
    s = CriticSampler(CriticSamplingConfig(n=4, n_refine=6, rounds=2))
    assert s.n == 16 and s.config()["sampler"] == "critic"
    with pytest.raises(ValueError, match="critic_ckpt"):
        s._load(None)
