"""Paper presets are the papers': every value ``experiment=ppocoder_paper`` runs, on the composed
config, pinned to the line of PPOCoder's released code it comes from
(github:reddy-lab-code-research/PPOCoder at 2ade01c; spec ../shared/reference/coderl_ppocoder_spec.md
part 2). CodeRL's preset is pinned in tests/test_coderl_paper_preset.py."""

from __future__ import annotations

import pytest

from helpers.common import compose


@pytest.mark.parametrize("data", [[], ["data=xlcost_java_cpp", "reward=ppocoder"]])
def test_ppocoder_paper(data: list[str]) -> None:
    c = compose("train", ["experiment=ppocoder_paper", *data])
    a = c.algo
    assert a._target_ == "execrl.algos.ppo.PPOModule"  # model.py:10-16: one backbone, value head
    # rollouts: rl_run.py:195-197 respond_to_batch(..., top_k=args.asp, top_p=1.0), one sample per
    # source per batch; run.sh:6 --asp 5; model.py:32 generate() without a temperature (1.0)
    assert (a.num_samples, a.top_k, a.top_p, a.temperature) == (1, 5, 1.0, 1.0)
    # KL in the reward: ppo.py:154 kl = logprobs - ref_logprobs (k1); run.sh:17 --kl_coef 0.1;
    # rl_run.py:118 "adap_kl_ctrl": True; run.sh:18 --kl_target 1; ppo.py:54 horizon 10000
    assert (a.kl_estimator, a.kl_coef, a.adaptive_kl) == ("k1", 0.1, True)
    assert (a.kl_target, a.kl_horizon) == (1.0, 10000)
    # GAE and clipping: ppo.py:55 gamma 1, ppo.py:56 lam 0.95, ppo.py:57 cliprange 0.2,
    # ppo.py:58 cliprange_value 0.2; run.sh:19 --vf_coef 1e-3
    assert (a.gamma, a.lam, a.cliprange, a.cliprange_value) == (1.0, 0.95, 0.2, 0.2)
    assert a.vf_coef == 1e-3
    # one update per sample, one pass: ppo.py:103-108 (train_minibatch on each row; ppo_epochs in
    # default_params, ppo.py:62, is never read); ppo.py:175 whiten(advantages) of that one sequence
    assert (a.ppo_epochs, a.minibatch_size, a.whiten) == (1, 1, "sequence")
    assert a.policy_loss == "clip" and a.epsilon_high is None and a.delta is None
    # model.py:15 Dropout(0.1) before the value head
    assert a.value_dropout == 0.1
    # ppo.py:197 loss = pg_loss + vf_coef * vf_loss (no CE); ppo.py:146-147 backward, step (no clipping)
    assert a.ce_coef == 0.0 and a.max_grad_norm is None
    assert (
        not a.whiten_rewards and a.missing_eos_penalty is None
    )  # ppo.py:152-160 compute_rewards: neither
    # run.sh:14 --train_batch_size 32; run.sh:7 --ns 10 passes over the data (rl_run.py:188-189)
    assert c.data.batch_size == 32
    assert (c.trainer.max_epochs, c.trainer.max_steps) == (10, -1)
    # run.sh:12-13 --max_source_length 400 --max_target_length 400 (model.py:32-33 max_length);
    # utils.py:108 tokenize(source)[:max_source_length-2]: a long input keeps its beginning
    assert (c.model.max_prompt_len, c.model.max_new_tokens) == (400, 400)
    assert c.data.truncation_side == "right"
    # ppo.py:73 AdamW(lr, eps=adam_eps) (torch's weight decay 0.01); run.sh:16 --lr 1e-6; ppo.py:64 eps 1e-8
    assert c.optimizer._target_ == "torch.optim.AdamW"
    assert (c.optimizer.lr, c.optimizer.weight_decay, c.optimizer.eps) == (1e-6, 0.01, 1e-8)
    # ppo.py:74 ReduceLROnPlateau(factor=1/cbrt(2), patience=100), stepped after every update
    # (ppo.py:148) with the constant metric 0 (ppo.py:75): execrl.algos.schedules.ppocoder_plateau
    assert c.scheduler._target_ == "execrl.algos.schedules.ppocoder_plateau"
    assert (c.scheduler.factor, c.scheduler.patience) == (pytest.approx(2 ** (-1 / 3)), 100)


def test_algo_ppo_is_the_tuned_setting() -> None:
    """``experiment=ppo_execrl`` names algo=ppo's defaults (execrl.schema.algos.PPOConfig)."""
    assert compose("train", ["algo=ppo"]).algo == compose("train", ["experiment=ppo_execrl"]).algo
