"""Rollout engines, judging as generated and async rollouts, without vLLM (fast).

The vLLM client runs against a scripted stand-in server (tests/helpers/fake_vllm_server.py) that
speaks the real protocol; tests/rollout/test_vllm_engine.py runs the real engine."""

from __future__ import annotations

import json
import sys
from concurrent.futures import Future

import pytest
import torch

from execrl.algos.rl_base import score_programs
from execrl.models.actor import Rollout, build_actor
from execrl.rollout.engines import EngineError, HFEngine, VLLMEngine, build_engine
from execrl.rollout.overlap import EarlyJudge, OneStepAhead
from execrl.vocabulary import ExecutionResult, Outcome

from helpers.common import ROOT, TINY
from helpers.rl import build_module, fit, grpo_per_token_loss, problems

FAKE_SERVER = str(ROOT / "tests" / "helpers" / "fake_vllm_server.py")


class SubmitExecutor:
    """Judges by program-length parity, like helpers.rl.ParityExecutor, with ``submit`` (as the
    sandbox pool has); notes how many requests were submitted and run."""

    def __init__(self) -> None:
        self.submitted, self.ran = [], 0

    def verdict(self, req) -> ExecutionResult:
        self.ran += 1
        ok = len(req.program) % 2 == 0
        return ExecutionResult(outcome=Outcome.PASSED if ok else Outcome.COMPILE_ERROR)

    def submit(self, req) -> Future:
        self.submitted.append(req)
        fut: Future = Future()
        fut.set_result(self.verdict(req))
        return fut

    def run(self, requests):
        return [self.verdict(r) for r in requests]


def _actor(**kw):
    torch.manual_seed(0)
    return build_actor("causal", config=TINY["causal"], max_new_tokens=10, **kw).eval()


def test_loop_hands_over_each_row_as_it_ends_with_its_sampling_logprobs() -> None:
    actor = _actor()
    seen: dict[int, str] = {}
    ro = actor.generate(["a", "bb cc"], num_return_sequences=3, on_row=seen.__setitem__)
    assert seen == dict(enumerate(ro.texts))  # every row once, as the rollout has it
    # float32 sampling at T 1: the loop's log-probs are the training model's, token for token
    lp = actor.response_logprobs(ro.prompt_ids, ro.prompt_mask, ro.response_ids, ro.response_mask)
    m = ro.response_mask.bool() & torch.isfinite(ro.sample_logprobs)
    assert m.sum() >= ro.response_mask.sum() - 6  # at most a fill EOS per row is not sampled
    assert torch.allclose(ro.sample_logprobs[m], lp["logprobs"][m], atol=1e-4)
    assert torch.isnan(ro.sample_logprobs[~ro.response_mask.bool()]).all()


def test_early_judge_starts_every_program_before_the_batch_score_and_agrees_with_it() -> None:
    from execrl.rewards import UnitTestReward

    probs = problems(3)
    rows = [p for p in probs for _ in range(2)]
    texts = ["x", "xx", "def f(x): return x", "yy", "", "zzz"]
    ex = SubmitExecutor()
    judge = EarlyJudge(UnitTestReward("coderl"), rows, ex, score_programs)
    for i in reversed(range(len(texts))):  # in the order the engine finished them
        judge.on_row(i, texts[i])
    assert judge.early == len(ex.submitted) == len(texts)  # the canary: judged during generation
    got = score_programs(UnitTestReward("coderl"), rows, texts, judge)
    want = score_programs(UnitTestReward("coderl"), rows, texts, SubmitExecutor())
    assert got.rewards == want.rewards
    assert ex.ran == len(texts)  # each program judged once, by the early run


def test_grpo_step_judges_programs_as_generated(tmp_path) -> None:
    ex = SubmitExecutor()
    _, module = build_module("tiny_causal", "grpo", "unit_test", ex)
    module.skip_zero_rows = False  # every row's log-probs, so the gap is measured every step
    _, logged = fit(module, tmp_path, steps=2)
    early = [
        float(r["train/rollout/judged_early"])
        for r in logged
        if r.get("train/rollout/judged_early")
    ]
    assert early and all(e == 4 for e in early)  # 2 problems x 2 samples, all before the reward
    gaps = [
        float(r["train/engine/logprob_gap"]) for r in logged if r.get("train/engine/logprob_gap")
    ]
    assert gaps and all(g >= 0 for g in gaps)


def test_async_rollouts_train_one_step_behind_from_a_detached_copy(tmp_path) -> None:
    ex = SubmitExecutor()
    _, module = build_module(
        "tiny_causal",
        "grpo",
        "unit_test",
        ex,
        ["algo.async_rollouts=true", "algo.tis_cap=2.0", "algo.minibatch_size=4"],
    )
    module.skip_zero_rows = False
    trainer, logged = fit(module, tmp_path, steps=3)
    assert trainer.global_step == 3
    assert module._engine is None  # torn down at the end of fit
    stale = [float(r["train/staleness"]) for r in logged if r.get("train/staleness")]
    assert stale == [0.0, 1.0, 1.0]  # the first trained rollout was sampled before any update
    weights = [
        float(r["train/engine/is_weight"]) for r in logged if r.get("train/engine/is_weight")
    ]
    assert weights and all(0 < w <= 2.0 for w in weights)


def test_detached_hf_engine_samples_the_weights_of_its_last_sync() -> None:
    actor = _actor()
    engine = HFEngine(actor, detached=True)
    engine.sync(actor)
    before = engine.generate(actor, ["a b"], do_sample=False).response_ids
    with torch.no_grad():
        for p in actor.model.parameters():
            p.add_(torch.randn_like(p))
    assert torch.equal(engine.generate(actor, ["a b"], do_sample=False).response_ids, before)
    engine.sync(actor)  # now the copy has them
    after = engine.generate(actor, ["a b"], do_sample=False).response_ids
    assert torch.equal(after, actor.generate(["a b"], do_sample=False).response_ids)
    assert not torch.equal(after, before) and engine.syncs == 2


def test_tis_weights_scale_the_policy_term_only() -> None:
    lp = torch.tensor([[-1.0, -2.0]])
    adv, m = torch.tensor([1.0]), torch.ones(1, 2)
    w = torch.tensor([[0.5, 2.0]])
    plain, _ = grpo_per_token_loss(lp, lp, adv, m)
    weighted, _ = grpo_per_token_loss(lp, lp, adv, m, is_weights=w)
    assert torch.allclose(weighted, plain * w)
    ref = lp - 0.3
    kl_plain, _ = grpo_per_token_loss(lp, lp, adv, m, ref_logprobs=ref, beta=0.1)
    kl_w, _ = grpo_per_token_loss(lp, lp, adv, m, ref_logprobs=ref, beta=0.1, is_weights=w)
    assert torch.allclose(kl_w - weighted, kl_plain - plain)  # the KL term is not reweighted


def test_engine_correction_is_truncated_importance_sampling() -> None:
    from execrl.algos.grpo import GRPOModule
    from execrl.schema.algos import GRPOConfig, PPOConfig

    module = GRPOModule(_actor(), GRPOConfig(tis_cap=1.5))
    eng = torch.tensor([[-1.0, -1.0, float("nan")], [-3.0, -0.1, -0.2]])
    ro = Rollout(
        torch.zeros(2, 1, dtype=torch.long),
        torch.ones(2, 1),
        torch.zeros(2, 3),
        torch.ones(2, 3),
        ["", ""],
        sample_logprobs=eng,
    )
    old = torch.tensor([[-1.5, -0.5, -0.3], [-1.0, -0.1, -0.2]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    w, st = module.engine_correction(ro, torch.tensor([0, 1]), old, mask)
    want = torch.tensor([[-0.5, 0.5, 0.0], [2.0, 0.0, 0.0]]).exp().clamp(max=1.5)
    want[0, 2] = want[1, 2] = 1.0  # not sampled by the engine / masked: weight 1
    assert torch.allclose(w, want)
    assert st["engine/logprob_gap"].item() == pytest.approx((0.5 + 0.5 + 2.0 + 0.0) / 4)
    with pytest.raises(ValueError, match="GRPO"):
        from execrl.algos.ppo import PPOModule

        PPOModule(_actor(), PPOConfig(tis_cap=2.0))


def test_one_step_ahead_returns_the_previous_launch() -> None:
    ahead = OneStepAhead()
    assert ahead.take() is None
    ahead.launch(lambda: "first", version=0)
    with pytest.raises(RuntimeError):
        ahead.launch(lambda: "again", version=0)
    got, version, waited = ahead.take()
    assert (got, version) == ("first", 0) and waited >= 0
    ahead.close()


# ----------------------------------------------------------------- the vLLM client, scripted server
def _fake_engine(actor, tmp_path, rows, **kw):
    journal = tmp_path / "journal.jsonl"
    engine = VLLMEngine(
        actor,
        python=sys.executable,
        server=FAKE_SERVER,
        weights_dir=str(tmp_path),
        extra={"rows": rows, "journal": str(journal)},
        **kw,
    )
    return engine, journal


def _journal(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_vllm_client_streams_rows_and_stops_at_the_fence_like_the_loop(tmp_path) -> None:
    actor = _actor(prompt_style="instruct")
    tok = actor.tokenizer
    fenced = tok("x = 1\n```", add_special_tokens=False)["input_ids"]
    ended = tok("y = 2", add_special_tokens=False)["input_ids"] + [actor.eos_id]
    cut = tok("z = 3 + 4 + 5 + 6 + 7", add_special_tokens=False)["input_ids"][:10]  # max_new_tokens
    assert len(cut) == 10
    engine, journal = _fake_engine(
        actor, tmp_path, [[fenced, "stop"], [ended, "stop"], [cut, "length"]]
    )
    try:
        order: list[int] = []
        ro = engine.generate(
            actor,
            ["p one", "p two"],
            num_return_sequences=3,
            max_new_tokens=10,
            on_row=lambda i, t: order.append(i),
        )
    finally:
        engine.close()
    assert order == [5, 4, 3, 2, 1, 0]  # handed over as they arrived
    assert ro.texts[0] == "x = 1\n" and ro.texts[1] == "y = 2" and ro.texts[2].startswith("z = 3")
    # the fence row gets the EOS the loop fills in (mask ends right after it), not sampled: NaN
    n0 = len(fenced)
    assert ro.response_ids[0, n0].item() == actor.eos_id and ro.lengths[0].item() == n0 + 1
    assert torch.isnan(ro.sample_logprobs[0, n0]) and (ro.sample_logprobs[0, :n0] == -0.5).all()
    assert ro.lengths[1].item() == len(ended) and ro.lengths[2].item() == len(cut)
    sent = next(m for m in _journal(journal) if m["op"] == "generate")
    assert sent["sampling"]["stop"] == ["```"] and sent["n"] == 3
    want, mask = actor.encode_prompts(["p one"])
    assert sent["prompts"][0] == want[0][mask[0].bool()].tolist()  # token ids, padding removed
    assert not engine.dir.exists()  # close() removed the engine's files


def test_vllm_client_syncs_lora_adapters_and_full_weights_only_when_they_change(tmp_path) -> None:
    lora_actor = build_actor("causal", config=TINY["causal"], lora={"r": 4})
    (tmp_path / "a").mkdir()
    engine, journal = _fake_engine(lora_actor, tmp_path / "a", [[[5, 6], "length"]])
    try:
        engine.generate(lora_actor, ["p"])
        engine.sync(lora_actor)  # unchanged: nothing new
        with torch.no_grad():
            next(p for p in lora_actor.parameters() if p.requires_grad).add_(1.0)
        engine.sync(lora_actor)
        engine.generate(lora_actor, ["p"])
    finally:
        engine.close()
    gens = [m for m in _journal(journal) if m["op"] == "generate"]
    assert [g["lora"]["id"] for g in gens] == [1, 2]  # a new adapter id (and folder) per sync
    assert all("adapter_model.safetensors" in g["lora_files"] for g in gens)
    full = build_actor("causal", config=TINY["causal"])
    (tmp_path / "b").mkdir()
    engine, journal = _fake_engine(full, tmp_path / "b", [[[5], "length"]])
    try:
        with torch.no_grad():
            next(full.parameters()).add_(1.0)
        engine.sync(full)
        engine.sync(full)
    finally:
        engine.close()
    loads = [m for m in _journal(journal) if m["op"] == "load_weights"]
    # the start folder held the weights; one load for the change, none for the repeat
    assert len(loads) == 1 and loads[0]["files"] == ["model.safetensors"]


def test_vllm_engine_without_its_environment_names_the_make_target(tmp_path) -> None:
    with pytest.raises(EngineError, match="make vllm"):
        build_engine(
            {"engine": "vllm", "vllm": {"python": str(tmp_path / "nope" / "python")}}, _actor()
        )
    with pytest.raises(ValueError, match="hf"):
        build_engine({"engine": "sglang"}, _actor())


def test_grpo_fit_drives_the_vllm_client_and_syncs_after_every_update(tmp_path) -> None:
    """The module path with rollout.engine=vllm (scripted server): one generate per step, the
    new adapters before each, the engine's log-probs compared with the trainer's."""
    tok_rows = [[[5, 6, 7], "length"], [[8, 2], "stop"]]
    _, module = build_module(
        "tiny_causal",
        "grpo",
        "unit_test",
        SubmitExecutor(),
        ["model.lora.r=4", "algo.minibatch_size=4", "model.max_new_tokens=3"],
    )
    module.skip_zero_rows = False
    journal = tmp_path / "journal.jsonl"
    module.rollout_cfg = {
        "engine": "vllm",
        "vllm": {
            "python": sys.executable,
            "server": FAKE_SERVER,
            "weights_dir": str(tmp_path),
            "extra": {"rows": tok_rows, "journal": str(journal)},
        },
    }
    _, logged = fit(module, tmp_path, steps=3)
    gens = [m for m in _journal(journal) if m["op"] == "generate"]
    assert [g["lora"]["id"] for g in gens] == [1, 2, 3]  # synced before each step's generation
    gaps = [
        float(r["train/engine/logprob_gap"]) for r in logged if r.get("train/engine/logprob_gap")
    ]
    assert len(gaps) == 3 and all(g > 0 for g in gaps)  # the scripted -0.5s are not the model's
