"""README's worked example: a GRPO variant (RLOO) is one function plus a config file, and both are
the shipped code; the advantages are RLOO's (hand-computed), not GRPO's, and ``algo=rloo`` trains."""

from __future__ import annotations

import re

import torch

from execrl.algos.variants import rloo_advantages
from execrl.models.actor import Rollout
from execrl.rewards.base import RewardBatch

from helpers.common import ROOT
from helpers.rl import ParityExecutor, build_module, fit


def readme_example() -> tuple[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Worked example: a GRPO variant") :]
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    yaml = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return python, yaml


def test_readme_example_is_the_shipped_code() -> None:
    python, yaml = readme_example()
    assert python in (ROOT / "src/execrl/algos/variants.py").read_text()
    assert yaml == (ROOT / "conf/algo/rloo.yaml").read_text()


def test_rloo_advantages_by_hand() -> None:
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 0.0, 5.0, 0.0]])
    valid = torch.tensor([[True] * 4, [True, True, False, True]])
    # group 1: 1 - (0 + 0 + 1) / 3; group 2 leaves the dropped sample out of every baseline
    want = torch.tensor([[2 / 3, -2 / 3, -2 / 3, 2 / 3], [2.0, -1.0, 0.0, -1.0]])
    assert torch.allclose(rloo_advantages(r, valid), want)


def _prepared_advantages(algo: str) -> torch.Tensor:
    _, module = build_module("tiny_causal", algo, "unit_test", ParityExecutor())
    module.skip_zero_rows = False
    ro = module.actor.generate(["a", "b"], num_return_sequences=2, max_new_tokens=4)
    rb = RewardBatch(rewards=[1.0, 0.0, 0.0, 0.0])  # group 1 carries signal, group 2 does not
    assert isinstance(ro, Rollout)
    return module.prepare(ro, rb).adv


def test_algo_rloo_uses_its_function_in_the_grpo_loss() -> None:
    assert torch.allclose(_prepared_advantages("rloo"), torch.tensor([1.0, -1.0, 0.0, 0.0]))
    grpo = _prepared_advantages("grpo")  # group std 1/sqrt(2): +-0.707
    assert torch.allclose(grpo, torch.tensor([0.7071, -0.7071, 0.0, 0.0]), atol=1e-3)


def test_algo_rloo_trains(tmp_path) -> None:
    torch.manual_seed(0)  # an unseeded actor's samples may all score alike: no update to see
    _, module = build_module("tiny_causal", "rloo", "unit_test", ParityExecutor())
    before = [p.detach().clone() for p in module.actor.parameters()]
    rows = fit(module, tmp_path, steps=2)
    assert rows and any(not torch.equal(a, b) for a, b in zip(before, module.actor.parameters()))


def readme_blocks(heading: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index(heading)
    section = text[start : text.index("\n### ", start + 1)]
    return re.findall(r"```(?:python|yaml)\n(.*?)```", section, re.S)


def test_readme_loss_is_the_shipped_code() -> None:
    (python,) = readme_blocks("### Worked example: a new policy loss")
    assert python in (ROOT / "src/execrl/algos/variants.py").read_text()


def test_reinforce_gradient_is_the_clipped_loss_only_while_the_ratio_is_one() -> None:
    from types import SimpleNamespace

    from execrl.algos.rl_core import policy_loss

    cfg = SimpleNamespace(
        cliprange=0.2, epsilon_high=None, delta=None, importance_sampling_level="token"
    )
    adv, mask = torch.tensor([[1.0], [-2.0]]), torch.tensor([[1, 1, 0], [1, 1, 1]])

    def grad(name: str, shift: float) -> torch.Tensor:
        lp = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -1.5, -2.5]], requires_grad=True)
        per_token, _ = policy_loss(name)(lp, lp.detach() - shift, adv, mask, cfg)
        per_token.sum().backward()
        return lp.grad

    assert torch.allclose(grad("reinforce", 0.0), grad("clip", 0.0))
    # ratio e^1 > 1.2: the clipped loss stops the positive-advantage row, REINFORCE does not
    moved_clip, moved_reinforce = grad("clip", 1.0), grad("reinforce", 1.0)
    assert torch.all(moved_clip[0] == 0) and torch.all(moved_reinforce[0, :2] != 0)


def test_reinforce_trains(tmp_path) -> None:
    torch.manual_seed(0)
    _, module = build_module(
        "tiny_causal", "grpo", "unit_test", ParityExecutor(), ["algo.policy_loss=reinforce"]
    )
    before = [p.detach().clone() for p in module.actor.parameters()]
    rows = fit(module, tmp_path, steps=2)
    assert rows and any(not torch.equal(a, b) for a, b in zip(before, module.actor.parameters()))


def test_readme_dataset_is_the_shipped_reader_and_its_yaml_reads_the_toy_file(tmp_path) -> None:
    import hydra
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from execrl.schema import register

    python, yaml = readme_blocks("### Worked example: a new dataset")
    assert python in (ROOT / "tests/helpers/toy_reader.py").read_text()
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "toy.yaml").write_text(yaml)
    toy = tmp_path / "toy.txt"
    toy.write_text("print one|print ( 1 )|1\n")
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = hydra_compose(config_name="toy", overrides=[f"path={toy}"])
    GlobalHydra.instance().clear()
    (p,) = hydra.utils.instantiate(cfg).problems("train")
    assert p.dataset == "toy_lines" and p.solutions == ["print ( 1 )"]
