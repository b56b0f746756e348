"""Resume that never lies: train.py interrupted (a real SIGINT, as Ctrl-C) during the warm start
and during RL, then resumed with ``ckpt_path=last``, picks up the stage it stopped in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from execrl.vocabulary import Outcome

from helpers.common import compose, run_cli

# the default job (SFT warm start, then CodeRL) shrunk to seconds; a checkpoint every 2 steps
TINY_JOB = [
    "warm_start.max_steps=4",
    "trainer.max_steps=4",
    "trainer.val_check_interval=1000",
    "data.reader.sizes={sft:40,rl:20,heldout:12,val:8}",
    "data.batch_size=4",
    "model.max_new_tokens=24",
    "algo.critic_train_steps=2",
    "algo.critic_label_problems=4",
    "algo.offline_problems=4",
    "algo.offline_samples=2",
    "algo.rl_batch_size=2",
    "algo.ce_batch_size=4",
    "logger=csv",
    "print_config=false",
    "callbacks.model_checkpoint.every_n_train_steps=2",
]


def _interrupt(module: str, step: int = 3) -> list[str]:
    return [
        "+callbacks.interrupt._target_=execrl.utils.callbacks.InterruptAt",
        f"+callbacks.interrupt.step={step}",
        f"+callbacks.interrupt.module={module}",
    ]


def _step(ckpt: Path) -> int:
    return int(torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"])


def _actor(ckpt: Path) -> dict[str, torch.Tensor]:
    sd = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    return {k: v for k, v in sd.items() if k.startswith("actor.")}


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return sum(float((a[k].float() - b[k].float()).norm()) for k in a)


def test_interrupted_warm_start_resumes_it_then_runs_rl_from_its_result(tmp_path: Path) -> None:
    run = [*TINY_JOB, f"hydra.run.dir={tmp_path}"]
    first = run_cli("train.py", *run, *_interrupt("SFTModule"))
    out = first.stdout + first.stderr
    assert first.returncode != 0, out[-3000:]
    assert "stopped: the same command with ckpt_path=last" in out
    warm_last = tmp_path / "warm_start" / "checkpoints" / "last.ckpt"
    assert _step(warm_last) == 2  # the checkpoint before the interrupt at step 3
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "summary.json").exists()

    second = run_cli("train.py", *run, "ckpt_path=last")
    out = second.stdout + second.stderr
    assert second.returncode == 0, out[-3000:]
    assert f"resuming from {warm_last} at step 2 (the warm start, 4 steps" in out
    assert _step(warm_last) == 4  # the warm start finished
    assert _step(tmp_path / "checkpoints" / "last.ckpt") == 4  # then RL ran its 4 steps

    # RL started from the warm start's actor, not from a random one: after 4 small RL steps
    # the actor is far closer to the finished warm start than to the random init
    import lightning as L
    from hydra.utils import instantiate

    L.seed_everything(42)  # as train.py seeds before it builds the (random) actor
    cfg = compose("train", [*TINY_JOB], output_dir=tmp_path / "probe")
    init = {f"actor.{k}": v for k, v in instantiate(cfg.model).state_dict().items()}
    rl, warm = _actor(tmp_path / "checkpoints" / "last.ckpt"), _actor(warm_last)
    assert _distance(rl, warm) < 0.5 * _distance(rl, init)

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["resumed_from"] == str(warm_last) and summary["resumed_at_step"] == 2
    assert summary["before"]["label"] == "SFT" and summary["before"]["actor"] == str(warm_last)
    assert set(summary["after"]) == {"pass@1", "compile_rate"}
    assert "held-out pass@1 on synth:heldout (12 problems): SFT" in second.stdout
    assert f"summary.json  {tmp_path / 'summary.json'}" in second.stdout


def test_interrupted_rl_resumes_with_the_original_critic_pool_and_before(tmp_path: Path) -> None:
    run = [*TINY_JOB, f"hydra.run.dir={tmp_path}"]
    first = run_cli("train.py", *run, *_interrupt("CodeRLModule"))
    assert first.returncode != 0, (first.stdout + first.stderr)[-3000:]
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert _step(last) == 2 and not (tmp_path / "summary.json").exists()

    # what the first start built is saved in the run dir, the pool readable by a person
    critic, pool = tmp_path / "coderl" / "critic.ckpt", tmp_path / "coderl" / "pool.jsonl"
    rows = [json.loads(line) for line in pool.read_text().splitlines()]
    assert len(rows) == 8  # 4 problems x 2 samples
    for r in rows:
        assert r["task_id"].startswith("synth/") and r["program"] is not None
        assert r["outcome"] in {o.value for o in Outcome if not o.is_infra}
        assert isinstance(r["reward"], float) and 0.0 <= r["critic_pass"] <= 1.0
    critic_bytes = critic.read_bytes()

    # canaries: a resume that rebuilt the pool or measured "before" again would not see them
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    before_file = tmp_path / "report_before.json"
    before = json.loads(before_file.read_text())
    before["metrics"]["pass@1"] = 0.123456
    before_file.write_text(json.dumps(before))

    second = run_cli("train.py", *run, "ckpt_path=last")
    out = second.stdout + second.stderr
    assert second.returncode == 0, out[-3000:]
    assert f"resuming from {last} at step 2 (CodeRL; its warm start:" in out
    assert f"critic restored from {critic}" in out
    assert f"offline pool of 3 programs restored from {pool}" in out
    assert "critic ready in" not in out and "offline pool of 8" not in out  # nothing rebuilt
    assert critic.read_bytes() == critic_bytes
    assert _step(last) == 4

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["before"]["metrics"]["pass@1"] == 0.123456
    assert summary["heldout/pass@1_sft"] == 0.123456 and "heldout/pass@1_coderl" in summary
    assert "SFT 0.123 -> SFT+CodeRL" in second.stdout


@pytest.mark.parametrize("case", ["nothing", "warm_unfinished", "warm_done", "rl"])
def test_ckpt_path_last_resumes_the_stage_the_run_stopped_in(
    tmp_path: Path, case: str, caplog
) -> None:
    from execrl.tasks.resume import plan_run

    ws = tmp_path / "warm_start" / "checkpoints" / "last.ckpt"
    main = tmp_path / "checkpoints" / "last.ckpt"
    if case != "nothing":
        ws.parent.mkdir(parents=True)
        torch.save({"global_step": 600 if case in ("warm_done", "rl") else 250}, ws)
    if case == "rl":
        main.parent.mkdir(parents=True)
        torch.save({"global_step": 400}, main)
    cfg = compose("train", ["ckpt_path=last"], output_dir=tmp_path)
    with caplog.at_level("INFO", logger="execrl"):
        plan = plan_run(cfg)
    said = caplog.text
    if case == "nothing":  # a requeued job's first start: fresh, and it says so
        assert plan.run_warm_start and not plan.resuming
        assert f"no checkpoint in {tmp_path}: starting fresh" in said
        assert any(r.levelname == "WARNING" for r in caplog.records)
    elif case == "warm_unfinished":
        assert plan.warm_resume == ws and plan.run_warm_start and plan.step == 250
        assert f"resuming from {ws} at step 250" in said
    elif case == "warm_done":
        assert not plan.run_warm_start and plan.warm_ckpt == ws and plan.main_resume is None
        assert f"resuming from {ws} at step 600 (the warm start is done)" in said
    else:
        assert plan.main_resume == main and plan.step == 400 and plan.warm_ckpt == ws
        assert not plan.run_warm_start and f"resuming from {main} at step 400" in said


def test_a_checkpoint_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    from execrl.tasks.resume import plan_run

    cfg = compose("train", [f"ckpt_path={tmp_path}/nope.ckpt"], output_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"nope\.ckpt: no such checkpoint"):
        plan_run(cfg)


def test_a_fresh_start_says_so_and_warns_over_existing_checkpoints(tmp_path: Path, caplog) -> None:
    from execrl.tasks.resume import plan_run

    with caplog.at_level("INFO", logger="execrl"):
        plan_run(compose("train", [], output_dir=tmp_path))
    assert f"starting fresh in {tmp_path}" in caplog.text
    (tmp_path / "checkpoints").mkdir()
    torch.save({"global_step": 3}, tmp_path / "checkpoints" / "last.ckpt")
    caplog.clear()
    with caplog.at_level("INFO", logger="execrl"):
        plan_run(compose("train", [], output_dir=tmp_path))
    assert "already holds checkpoints: starting fresh anyway" in caplog.text
