"""``experiment=coderl_paper`` is CodeRL's released setting: every value the preset sets (or keeps
from algo=coderl's defaults) pinned to its upstream source, and the paper's options really change
what runs (critic initialisation, critic pooling over padding).

Upstream: salesforce/CodeRL at ec3c526 (``fetch github:salesforce/CodeRL``); the spec
``shared/reference/coderl_ppocoder_spec.md`` part 1 quotes the same lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from execrl.algos.coderl.critic_model import build_critic
from execrl.models.actor import build_actor
from execrl.schema.build import instantiate
from execrl.schema.coderl import CriticNetConfig

from helpers.common import compose


@pytest.fixture(scope="module")
def paper():
    return compose("train", ["experiment=coderl_paper"])


def test_actor_rl_stage_is_train_actor_rl_sh(paper) -> None:
    a = paper.algo
    assert a._target_ == "execrl.algos.coderl.module.CodeRLModule"
    # scripts/train_actor_rl.sh:11 --batch-size-per-replica 1 --grad-acc-steps 4
    assert (a.ce_batch_size, a.rl_batch_size, paper.trainer.accumulate_grad_batches) == (1, 1, 4)
    # scripts/train_actor_rl.sh:12 --lr 2e-5
    assert paper.optimizer.lr == 2e-5
    # train.py:67 weight_decay=0.05 (HF TrainingArguments); train.py:68 constant_with_warmup, no warmup
    assert paper.optimizer.weight_decay == 0.05 and paper.optimizer._target_.endswith("AdamW")
    assert paper.scheduler._target_ == compose("train", ["scheduler=constant"]).scheduler._target_
    # train.py: HF TrainingArguments' max_grad_norm default 1.0 (not overridden upstream)
    assert paper.trainer.gradient_clip_val == 1.0
    # scripts/train_actor_rl.sh:17 --relative_returns
    assert a.relative_returns is True
    # trainers/trainer_rl.py: compute_loss, CE on even and RL on odd steps, equal weights;
    # the critic's token probabilities of the true class weigh each token's return
    assert (a.mix, a.ce_weight, a.rl_weight, a.token_weights) == ("alternate", 1.0, 1.0, "critic")
    # offline: a fixed pool of programs generated once (maintainer, CodeRL issue #26)
    assert a.mode == "offline" and a.baseline_refresh_every == 0
    # configs/generate_configs.py:26 --temperature 0.6; generate.py:197 top_p=0.95
    assert (a.temperature, a.top_p) == (0.6, 0.95)
    # README.md:176 "On average, we generate 20 programs per training sample"
    assert a.offline_samples == 20 and a.critic_samples_per_problem == 20


def test_critic_stage_is_train_critic_sh(paper) -> None:
    a, c = paper.algo, paper.algo.critic
    # scripts/train_critic.sh:14 --model codet5-base: the pretrained model (train.py:33-35
    # from_pretrained('Salesforce/codet5-base')), not the warm-started actor
    assert c.init == "base" and compose("train", ["algo=coderl"]).algo.critic.init == "actor"
    # transformers/src/transformers/models/t5/modeling_t5.py:1672 error_states.max(1): every
    # position, padding included
    assert c.mask_padding is False and c.pooling == "max"
    # modeling_t5.py:1469-1473 Linear(d_model, 128) -> ReLU -> Linear(128, 4); 1660 rescale d^-0.5
    assert (c.head_hidden, c.num_classes, c.binary, c.rescale_hidden) == (128, 4, False, True)
    # scripts/train_critic.sh:11-12 --batch-size-per-replica 8 --grad-acc-steps 1 --lr 2e-5;
    # train.py:67 weight_decay=0.05
    assert (a.critic_batch_size, a.critic_lr, a.critic_weight_decay) == (8, 2e-5, 0.05)


def test_warm_start_is_train_actor_sh(paper) -> None:
    ws = paper.warm_start
    # scripts/train_actor.sh:11-12 --batch-size-per-replica 1 --grad-acc-steps 4 --lr 2e-5
    assert paper.data.batch_size == 1 and ws.trainer.accumulate_grad_batches == 4
    assert ws.optimizer.lr == 2e-5
    # train.py:67 weight_decay=0.05
    assert ws.optimizer.weight_decay == 0.05


def test_data_execution_and_prompts_are_upstreams(paper) -> None:
    # datasets/apps_dataset.py:77 (SFT and CE) and generate.py:69-71 (critic scoring) call
    # reindent_code, datasets/utils.py:35 "tabs": True: ground truth reindented to tabs
    assert paper.data.reindent_tabs is True
    # datasets/apps_dataset.py:346 input_ids[:input_ids_max_len] and generate.py:56
    # encode(..., max_length=args.source_len): a long prompt keeps its beginning
    assert paper.data.truncation_side == "right" and paper.model.prompt_truncation == "right"
    assert compose("train", []).model.prompt_truncation == "left"
    # test_one_solution.py -> utils/testing_util.py: the official APPS cascade, programs
    # wrapped in def code() and run without a memory cap (the sandbox's apps mode)
    assert (paper.executor.compare, paper.executor.apps_compat) == ("apps", True)
    assert (compose("train", []).executor.compare, compose("train", []).executor.apps_compat) == (
        "strict",
        False,
    )


# ------------------------------------------------------------------ the options change behaviour
def _pretrained_tiny(tmp_path: Path):
    """A tiny T5 saved as a 'pretrained' model, and an actor loaded from it then changed (as the
    warm start changes it)."""
    cfg = OmegaConf.to_container(compose("train", []).model, resolve=True)
    cfg.pop("_target_")
    torch.manual_seed(0)
    build_actor(**cfg).save_pretrained(str(tmp_path / "base"))
    base = {**cfg, "pretrained": str(tmp_path / "base"), "tokenizer": str(tmp_path / "base")}
    actor = build_actor(**{**base, "config": None})
    with torch.no_grad():
        for p in actor.parameters():
            p.add_(0.01)  # the warm start moved every weight
    return actor


def test_critic_init_base_reads_the_pretrained_weights_not_the_actors(tmp_path: Path) -> None:
    actor = _pretrained_tiny(tmp_path)
    base_cfg = {k: v for k, v in actor.build_cfg.items() if k != "_target_"}
    pretrained = dict(build_actor(**base_cfg).named_parameters())
    warm = dict(actor.named_parameters())
    for init, same_as in (("base", pretrained), ("actor", warm)):
        critic = build_critic(CriticNetConfig(init=init), actor)
        got = dict(critic.backbone.named_parameters())
        assert got.keys() == warm.keys()
        assert all(torch.equal(got[k], same_as[k]) for k in got), init
        assert init == "actor" or not any(torch.equal(got[k], warm[k]) for k in got)


def test_paper_module_builds_its_critic_from_the_base_model(tmp_path: Path) -> None:
    """Through the composed preset: CodeRL's module (no labels served: the critic untrained)."""
    actor = _pretrained_tiny(tmp_path)
    warm = dict(actor.named_parameters())
    for exp, differs in (("experiment=coderl_paper", True), ("algo=coderl", False)):
        cfg = compose("train", [exp])
        module = instantiate(cfg.algo, actor=actor, optimizer=None, executor=None)
        critic = dict(module._make_critic().backbone.named_parameters())
        assert any(not torch.equal(critic[k], warm[k]) for k in warm) == differs, exp


def test_paper_critic_pools_over_padding(tmp_path: Path) -> None:
    """On a padded batch the paper critic's prediction for the short program reads the padded
    positions (upstream's max over the whole length); algo=coderl's reads the program only. The
    long row (no padding) is the same under both."""
    cfg = OmegaConf.to_container(compose("train", []).model, resolve=True)
    cfg.pop("_target_")
    torch.manual_seed(0)
    actor = build_actor(**cfg)
    paper_cfg = OmegaConf.to_object(compose("train", ["experiment=coderl_paper"]).algo.critic)
    ours_cfg = OmegaConf.to_object(compose("train", ["algo=coderl"]).algo.critic)
    paper_cfg.init = ours_cfg.init = "actor"  # the same weights: only the pooling differs
    torch.manual_seed(1)
    paper = build_critic(paper_cfg, actor).eval()
    torch.manual_seed(1)
    ours = build_critic(ours_cfg, actor).eval()
    prompts, programs = ["Write f.", "Write g."], ["x = 1\n", "y = 2\n" * 20]
    with torch.no_grad():
        p_out, o_out = paper.score_texts(prompts, programs), ours.score_texts(prompts, programs)
    mask = p_out["response_mask"]
    assert mask[0].sum() < mask.shape[1] and mask[1].sum() == mask.shape[1]  # row 0 is padded
    assert torch.equal(p_out["token_logits"], o_out["token_logits"])
    assert torch.equal(p_out["logits"], p_out["token_logits"].max(dim=1).values)
    assert not torch.equal(p_out["logits"][0], o_out["logits"][0])
    assert torch.equal(p_out["logits"][1], o_out["logits"][1])
