"""CodeRL's typed configs (execrl.schema.coderl, execrl.schema.sampling): a wrong key or type fails
at compose time naming it, a wrong choice when the config is built, and the yaml adds nothing to
the dataclass defaults but its interpolations."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from execrl.schema.coderl import CodeRLConfig, CriticConfig
from execrl.schema.sampling import CriticSamplingConfig, PlainSamplingConfig

from helpers.common import compose


@pytest.mark.parametrize(
    "root,overrides,key",
    [
        ("train", ["algo=coderl", "algo.critic_lrr=1"], "critic_lrr"),
        ("train", ["algo=coderl", "algo.critic_lr=abc"], "critic_lr"),
        ("train", ["algo=coderl", "algo.critic.mask_paddin=false"], "mask_paddin"),
        ("train", ["algo=critic", "algo.critic.head_hidden=wide"], "head_hidden"),
        ("train", ["algo=critic", "algo.batchsize=8"], "batchsize"),
        ("generate", ["sampling=critic", "sampling.n_refine=many"], "n_refine"),
        ("generate", ["sampling.temprature=0.2"], "temprature"),
    ],
)
def test_wrong_key_or_type_fails_at_compose_naming_it(root, overrides, key) -> None:
    with pytest.raises(ConfigCompositionException) as e:
        compose(root, overrides)
    assert key in f"{e.value} {e.value.__cause__}"


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["algo=coderl", "algo.mode=offlne"], "algo.mode"),
        (["algo=coderl", "algo.mix=both"], "algo.mix"),
        (["algo=coderl", "algo.critic.init=warm"], "critic.init"),
        (["algo=critic", "algo.critic.pooling=attention"], "critic.pooling"),
    ],
)
def test_wrong_choice_fails_when_the_config_is_built(overrides, key) -> None:
    node = compose("train", overrides).algo
    with pytest.raises(ValueError, match=key):
        OmegaConf.to_object(node)


@pytest.mark.parametrize(
    "root,overrides,node,cls",
    [
        ("train", ["algo=coderl"], "algo", CodeRLConfig),
        ("train", ["algo=critic"], "algo", CriticConfig),
        ("generate", [], "sampling", PlainSamplingConfig),
        (
            "generate",
            ["sampling=critic", "sampling.critic_ckpt=c.ckpt"],
            "sampling",
            CriticSamplingConfig,
        ),
    ],
)
def test_composed_config_is_the_dataclass_defaults(root, overrides, node, cls) -> None:
    """What the group option composes is the dataclass's defaults, but for what the yaml or the
    command sets: one place to read a default."""
    cfg = compose(root, overrides)
    got = OmegaConf.to_object(cfg[node])
    assert type(got) is cls
    want = cls()
    if cls is CodeRLConfig:  # conf/algo/coderl.yaml: the run's reward and seed
        want.reward = OmegaConf.to_container(cfg.reward, resolve=True)
        want.seed = cfg.seed
    if cls is CriticSamplingConfig:
        want.critic_ckpt = "c.ckpt"
    assert got == want
