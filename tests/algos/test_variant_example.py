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
