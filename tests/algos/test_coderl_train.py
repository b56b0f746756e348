"""Short CodeRL and critic runs on synth with the tiny actor and the real sandbox."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import open_dict

from execrl.algos.coderl.labels import CriticLabel, write_labels
from execrl.data.synth import SynthReader
from execrl.schema.coderl import CodeRLConfig

from helpers.common import compose, model_from_conf

SMALL = [
    "warm_start.enabled=false",
    "logger=csv",
    "callbacks=none",
    "print_config=false",
    "trainer.max_steps=4",
    "trainer.val_check_interval=4",
    "trainer.log_every_n_steps=1",
    "data.val_limit=4",
    "data.batch_size=4",
    "model.max_new_tokens=24",
    "data.reader.sizes={sft:40,rl:20,heldout:10,val:10}",
]
CODERL = [
    "algo=coderl",
    "algo.critic_train_steps=3",
    "algo.critic_label_problems=4",
    "algo.offline_problems=4",
    "algo.offline_samples=2",
    "algo.num_samples=2",
    "algo.rl_batch_size=4",
    "algo.ce_batch_size=4",
]


def _fit(tmp_path: Path, overrides: list[str]):
    from execrl.tasks.train import build_executor, fit

    cfg = compose("train", [*SMALL, *overrides], output_dir=tmp_path)
    with open_dict(cfg):
        cfg.pop("hydra")  # the CLI hands the task a config without the hydra node
    L.seed_everything(cfg.seed)
    from hydra.utils import instantiate

    init = {k: v.clone() for k, v in instantiate(cfg.model).state_dict().items()}
    executor = build_executor(cfg)
    try:
        _metrics, module, _ = fit(cfg, executor)
    finally:
        executor.close()
    with open(next(tmp_path.glob("csv/*/metrics.csv"))) as fh:
        rows = list(csv.DictReader(fh))
    logged = {k for r in rows for k, v in r.items() if v}
    changed = any(not torch.equal(init[k], v.cpu()) for k, v in module.actor.state_dict().items())
    return module, rows, logged, changed


@pytest.mark.parametrize(
    "mode,relative,mix", [("offline", "false", "alternate"), ("online", "true", "sum")]
)
def test_short_coderl_run_updates_actor_and_logs(
    tmp_path: Path, mode: str, relative: str, mix: str, monkeypatch
) -> None:
    from wandb.sdk.wandb_run import Run

    wandb_keys: set[str] = set()
    real_log = Run.log

    def spy(self, data, *args, **kwargs):
        wandb_keys.update(data)
        return real_log(self, data, *args, **kwargs)

    monkeypatch.setattr(Run, "log", spy)
    # offline with absolute returns: the random tiny actor's samples and greedy baseline mostly
    # share a class, so relative returns would often be 0; online exercises the baseline cache
    logger = "logger=many" if mode == "offline" else "logger=csv"  # wandb (offline) + csv once
    module, rows, logged, changed = _fit(
        tmp_path,
        [
            *CODERL,
            f"algo.mode={mode}",
            f"algo.relative_returns={relative}",
            "algo.baseline_refresh_every=1",
            f"algo.mix={mix}",
            logger,
        ],
    )
    import wandb

    wandb.finish()  # no open run leaks into later tests
    assert changed
    assert type(module.reward).__name__ == "UnitTestReward"  # cfg.reward reached the module
    for key in [
        "train/loss/rl",
        "train/loss/ce",
        "train/reward/mean",
        "train/outcome/compile_error",
        "train/returns/mean",
        "train/returns/min",
        "train/returns/max",
        "train/time_s/update",
        "val/pass@1",
    ]:
        assert key in logged, key
    rl = [float(r["train/loss/rl"]) for r in rows if r.get("train/loss/rl")]
    assert rl
    # alternate: CE on even, RL on odd micro-batches; sum: both every step
    assert module.term_counts == ({"ce": 4, "rl": 4} if mix == "sum" else {"ce": 2, "rl": 2})
    if relative == "false":
        assert all(v != 0.0 for v in rl)  # absolute returns are never all zero
    assert module.critic is not None and all(
        not p.requires_grad for p in module.critic.parameters()
    )
    if mode == "online":
        assert {"train/time_s/gen", "train/time_s/reward", "train/critic_acc"} <= logged
        assert module._baselines  # greedy baselines were computed and cached
        assert max(step for _, step in module._baselines.values()) > 0  # refreshed after step 0
    else:
        assert len(module.pool) == 8 and all(len(it.returns) > 0 for it in module.pool)
        assert module.trainer.train_dataloader.dataset is module.pool  # served in batches
        assert "setup/critic_acc" in logged
        # wandb got the returns histogram and the sampled-programs table
        assert {"train/returns/hist", "val/completions"} <= wandb_keys


def test_rl_gradient_raises_logprob_of_positive_return_and_lowers_negative() -> None:
    from execrl.algos.coderl.module import CodeRLModule
    from execrl.algos.coderl.pool import PoolItem

    torch.manual_seed(0)
    for sign in (1.0, -1.0):
        torch.manual_seed(0)
        actor = model_from_conf("tiny_t5")
        m = CodeRLModule(
            actor, CodeRLConfig(token_weights="uniform", mode="offline", rl_batch_size=1)
        )
        prog, prompt = "def f(x):\n    return x + 1\n", "Write f."
        n = int(actor.encode_responses([prog])[1].sum())
        m.pool = [PoolItem(prompt, prog, 3, sign, 0.0, returns=[sign] * n)]

        def logp(actor=actor, prompt=prompt, prog=prog) -> float:
            p_ids, p_mask = actor.encode_prompts([prompt])
            r_ids, r_mask = actor.encode_responses([prog])
            return float(actor.response_logprobs(p_ids, p_mask, r_ids, r_mask)["logprobs"].sum())

        before = logp()
        loss, stats = m.offline_rl_loss(m.pool)
        opt = torch.optim.SGD(actor.parameters(), lr=0.05)
        loss.backward()
        opt.step()
        assert stats["classes"] == [3] and torch.allclose(stats["returns"], torch.full((n,), sign))
        assert (logp() - before) * sign > 0


def test_critic_module_trains_on_labels_file_and_coderl_loads_it(tmp_path: Path) -> None:
    from execrl.algos.coderl.critic_model import load_critic

    probs = SynthReader(sizes={"sft": 40, "rl": 20, "heldout": 10, "val": 10}).read(None, "sft")
    labels = []
    for p in probs:
        labels.append(CriticLabel(p.task_id, p.solutions[0], "passed", 3, "ground_truth"))
        labels.append(CriticLabel(p.task_id, "def f(x:\n    return (\n", "compile_error", 0))
    path = tmp_path / "critic_labels.jsonl"
    write_labels(path, labels)
    run = tmp_path / "critic"
    module, rows, logged, _ = _fit(
        run,
        [
            "algo=critic",
            f"algo.labels_path={path}",
            "algo.batch_size=8",
            "algo.val_fraction=0.25",
            "trainer.max_steps=30",
            "trainer.val_check_interval=30",
            "optimizer.lr=1e-3",
            "callbacks=default",
        ],
    )
    assert {
        "train/loss",
        "train/critic_acc",
        "val/critic_acc",
        "val/critic_macro_f1",
        "val/critic_f1/passed",
    } <= logged
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert losses[-1] < losses[0]
    assert float([r for r in rows if r.get("val/critic_acc")][-1]["val/critic_acc"]) > 0.5
    assert module.val_labels and not {lab.task_id for lab in module.val_labels} & {
        lab.task_id for lab in module.train_labels
    }
    assert list((run / "critic").glob("confusion_*.json"))
    ckpt = run / "checkpoints" / "last.ckpt"
    critic = load_critic(str(ckpt))
    assert all(
        torch.equal(a, b)
        for a, b in zip(critic.state_dict().values(), module.critic.state_dict().values())
    )
    # the CodeRL module picks the trained critic up from critic_ckpt
    module2, _, logged2, _ = _fit(
        tmp_path / "rl", [*CODERL, f"algo.critic_ckpt={ckpt}", "trainer.max_steps=2"]
    )
    assert all(
        torch.equal(a, b.to(a.device))
        for a, b in zip(critic.state_dict().values(), module2.critic.state_dict().values())
    )
    assert "setup/critic_loss_first" not in logged2  # loaded, not trained


def test_critic_module_labels_actor_samples_at_setup(tmp_path: Path) -> None:
    module, _rows, logged, _ = _fit(
        tmp_path,
        [
            "algo=critic",
            "algo.label_problems=6",
            "algo.samples_per_problem=2",
            "algo.val_fraction=0.0",
            "trainer.max_steps=2",
            "algo.batch_size=4",
        ],
    )
    labels = module.train_labels
    samples = [lab for lab in labels if lab.source == "sample"]
    gt = [lab for lab in labels if lab.source == "ground_truth"]
    assert len(gt) == 6 and all(lab.cls == 3 and lab.outcome == "passed" for lab in gt)
    assert 0 < len(samples) <= 12 and all(0 <= lab.cls <= 3 for lab in samples)
    from execrl.algos.coderl.labels import read_labels
    from execrl.rewards.outcome_rewards import outcome_class
    from execrl.vocabulary import Outcome

    assert all(outcome_class(Outcome(lab.outcome)) == lab.cls for lab in samples)
    assert read_labels(tmp_path / "critic_labels.jsonl") == labels
    assert "train/critic_acc" in logged
