"""RL step throughput: our GRPO (Lightning module) vs TRL's ``GRPOTrainer``, same run, same settings.

Both sides get the same tiny causal actor (the same SFT checkpoint, so some programs pass and
groups have signal), the same ``rl`` problems of ``data=synth``, ``--problems`` prompts x
``--group`` samples per step, ``--max-new-tokens``, one optimizer step per generation round, the
same reward (each program run by our sandboxed executor against the problem's unit tests: 1 if
all pass, else 0) and the same objective, every knob set explicitly on both sides (:data:`OBJECTIVE`:
TRL 1.16's defaults, except beta 0.02 to a frozen reference, so the KL path is timed too).
What differs is the framework: generation, reward plumbing, log-prob and update code.

    python bench/rl_throughput.py [--steps 6] [--problems 8] [--group 8] [--max-new-tokens 96] [--scaling]

``--scaling`` also times our step alone while the group size and the generation length grow
(each from the settings above), to show which stage stops scaling.

The first step of each side is a warm-up and is not counted. Prints samples/s, tokens/s,
the per-stage breakdown (gen / reward / update) and the ratio; writes
bench/results/rl_throughput.json. Needs `make install-bench` (PyPI trl).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from learning import train  # noqa: E402  (bench/ is on sys.path when run as a script)

COMMON = ["data=synth", "model=tiny_causal"]

# One GRPO objective for both sides (TRL 1.16 GRPOConfig defaults: loss_type dapo, beta 0.0,
# scale_rewards group, epsilon 0.2, epsilon_high = epsilon, use_bias_correction_kl True, temperature
# 1.0; TrainingArguments: weight_decay 0.0, max_grad_norm 1.0, linear LR decay). Only beta differs
# from TRL's default; the LR is held constant on both sides.
OBJECTIVE = dict(
    loss_type="dapo",
    beta=0.02,
    scale_rewards="group",
    epsilon=0.2,
    epsilon_high=0.2,
    use_bias_correction_kl=True,
    temperature=1.0,
    top_p=1.0,
    top_k=0,
    importance_sampling_level="token",
    mask_truncated_completions=False,
    weight_decay=0.0,
    max_grad_norm=1.0,
)


def sft_checkpoint(out: Path, steps: int) -> Path:
    run = out / "rl_throughput_sft"
    ckpt = run / "checkpoints" / "last.ckpt"
    if not ckpt.exists():
        train(
            run,
            [
                *COMMON,
                "algo=sft",
                f"trainer.max_steps={steps}",
                "trainer.val_check_interval=100000",
            ],
            out / "rl_throughput_sft.log",
        )
    return ckpt


def summarize(steps: list[dict[str, float]], samples_per_step: int) -> dict[str, float]:
    """Per-step means after the warm-up step."""
    timed = steps[1:]
    wall = statistics.mean(s["wall"] for s in timed)
    out = {
        "steps": len(timed),
        "step_s": wall,
        "samples_per_s": samples_per_step / wall,
        "tokens_per_s": statistics.mean(s["tokens"] for s in timed) / wall,
    }
    for stage in ("gen", "reward", "update"):
        out[f"{stage}_s"] = statistics.mean(s.get(stage, 0.0) for s in timed)
    return out


def run_ours(ckpt: Path, args: argparse.Namespace, executor) -> list[dict[str, float]]:
    import lightning as L

    from execrl.tasks.train import fit
    from execrl.utils.config import compose

    class StepTimer(L.Callback):
        def __init__(self) -> None:
            self.steps: list[dict[str, float]] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            m = {k: float(v) for k, v in trainer.callback_metrics.items()}
            self.steps.append(
                {
                    "wall": time.perf_counter() - self.t0,
                    "tokens": m["train/response_len"] * args.problems * args.group,
                    **{s: m.get(f"train/time_s/{s}", 0.0) for s in ("gen", "reward", "update")},
                }
            )
            if len(self.steps) > args.steps:
                trainer.should_stop = True

    n = args.problems * args.group
    o = OBJECTIVE
    cfg = compose(
        "train",
        [
            *COMMON,
            "algo=grpo",
            f"actor_ckpt={ckpt}",
            "warm_start.enabled=false",
            "logger=none",
            "callbacks=none",
            "print_config=false",
            "hardware=cpu",
            f"data.batch_size={args.problems}",
            f"algo.num_samples={args.group}",
            f"algo.max_new_tokens={args.max_new_tokens}",
            f"algo.minibatch_size={n}",
            "algo.ppo_epochs=1",
            "algo.ce_coef=0",
            "algo.completions_every=1000000",
            f"optimizer.lr={args.lr}",
            "scheduler=constant",
            f"algo.loss_type={o['loss_type']}",
            f"algo.kl_coef={o['beta']}",
            "algo.kl_estimator=k3",
            f"algo.scale_rewards={o['scale_rewards']}",
            f"algo.cliprange={o['epsilon']}",
            f"algo.epsilon_high={o['epsilon_high']}",
            f"algo.kl_bias_correction={o['use_bias_correction_kl']}",
            f"algo.temperature={o['temperature']}",
            f"algo.top_p={o['top_p']}",
            f"algo.top_k={o['top_k']}",
            f"algo.importance_sampling_level={o['importance_sampling_level']}",
            f"algo.mask_truncated_completions={o['mask_truncated_completions']}",
            "algo.delta=null",
            "algo.drop_zero_advantage_rows=false",
            "algo.dynamic_sampling=false",
            "algo.overlong_buffer=0",
            f"optimizer.weight_decay={o['weight_decay']}",
            f"algo.max_grad_norm={o['max_grad_norm']}",
            "trainer.max_steps=-1",
            "trainer.val_check_interval=null",
            "+trainer.limit_val_batches=0",
            "+trainer.enable_checkpointing=false",
            "+trainer.enable_progress_bar=false",
        ],
        output_dir=args.out / "rl_throughput_ours",
    )
    timer = StepTimer()
    fit(cfg, executor, extra_callbacks=[timer])
    return timer.steps


def run_trl(ckpt: Path, args: argparse.Namespace, executor) -> list[dict[str, float]]:
    import hydra
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from execrl.execution import Outcome
    from execrl.judging.requests import judge_request
    from execrl.models.checkpoint import load_actor
    from execrl.utils.config import compose

    actor = load_actor(ckpt)
    hf_dir = (
        args.out / "rl_throughput_trl" / "actor_hf"
    )  # TRL builds its reference model from a path
    actor.save_pretrained(str(hf_dir))
    tok = actor.tokenizer
    dm = hydra.utils.instantiate(compose("train", COMMON).data)
    problems = dm.problems(dm.rl_split, None)
    by_id = {p.task_id: p for p in problems}
    stage: dict[str, float] = {}

    def unit_test_reward(prompts, completions, task_id, **_) -> list[float]:
        t0 = time.perf_counter()
        res = executor.run([judge_request(by_id[t], c) for t, c in zip(task_id, completions)])
        stage["reward"] = stage.get("reward", 0.0) + time.perf_counter() - t0
        return [1.0 if r.outcome is Outcome.PASSED else 0.0 for r in res]

    def timed_generate(*a, **kw):
        t0 = time.perf_counter()
        out = generate(*a, **kw)
        stage["gen"] = stage.get("gen", 0.0) + time.perf_counter() - t0
        new = out[
            :, kw["input_ids"].shape[1] :
        ]  # TRL passes input_ids by keyword; HF pads after EOS
        stage["tokens"] = stage.get("tokens", 0.0) + float((new != tok.pad_token_id).sum())
        return out

    steps: list[dict[str, float]] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            stage.clear()
            self.t0 = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            wall = time.perf_counter() - self.t0
            steps.append(
                {
                    "wall": wall,
                    "tokens": stage.get("tokens", 0.0),
                    "gen": stage.get("gen", 0.0),
                    "reward": stage.get("reward", 0.0),
                    "update": wall - stage.get("gen", 0.0) - stage.get("reward", 0.0),
                }
            )

    n = args.problems * args.group
    config = GRPOConfig(
        output_dir=str(args.out / "rl_throughput_trl"),
        per_device_train_batch_size=n,
        num_generations=args.group,
        steps_per_generation=1,
        num_iterations=1,
        gradient_accumulation_steps=1,
        max_completion_length=args.max_new_tokens,
        **OBJECTIVE,
        delta=None,
        learning_rate=args.lr,
        lr_scheduler_type="constant",
        max_steps=args.steps + 1,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        bf16=False,
        fp16=False,
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
        log_completions=False,
    )
    data = Dataset.from_list([{"prompt": p.prompt, "task_id": p.task_id} for p in problems])
    torch.set_num_threads(1)
    trainer = GRPOTrainer(
        model=str(hf_dir),
        reward_funcs=unit_test_reward,
        args=config,
        train_dataset=data,
        processing_class=tok,
        callbacks=[StepTimer()],
    )
    generate = trainer.model.generate
    trainer.model.generate = timed_generate
    trainer.train()
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--steps", type=int, default=6, help="timed steps per side (after one warm-up step)"
    )
    ap.add_argument("--problems", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument(
        "--sft-steps", type=int, default=400, help="SFT steps for the shared starting checkpoint"
    )
    ap.add_argument(
        "--scaling",
        action="store_true",
        help="also time our step over group sizes and generation lengths",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    import torch

    from execrl.execution import Executor

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "learning_runs").mkdir(exist_ok=True)
    ckpt = sft_checkpoint(args.out / "learning_runs", args.sft_steps)
    n = args.problems * args.group
    with Executor(workers=2, timeout_s=2.0) as ex:
        ours = summarize(run_ours(ckpt, args, ex), n)
        trl = summarize(run_trl(ckpt, args, ex), n)
        scaling = []
        if args.scaling:
            for group, new in [(g, args.max_new_tokens) for g in (4, 8, 16)] + [
                (args.group, t) for t in (32, 64, 128)
            ]:
                a = argparse.Namespace(
                    **{
                        **vars(args),
                        "group": group,
                        "max_new_tokens": new,
                        "steps": max(2, args.steps // 2),
                    }
                )
                scaling.append(
                    {
                        "group": group,
                        "max_new_tokens": new,
                        **summarize(run_ours(ckpt, a, ex), args.problems * group),
                    }
                )
    import trl as trl_pkg

    print(
        f"\nRL step throughput, {args.problems} prompts x {args.group} samples, <= {args.max_new_tokens} new tokens, tiny_causal on CPU"
    )
    print(
        f"{'':<14} {'samples/s':>10} {'tokens/s':>10} {'step s':>8} {'gen s':>7} {'reward s':>9} {'update s':>9}"
    )
    for name, r in (("execrl GRPO", ours), (f"TRL {trl_pkg.__version__}", trl)):
        print(
            f"{name:<14} {r['samples_per_s']:10.1f} {r['tokens_per_s']:10.0f} {r['step_s']:8.2f} {r['gen_s']:7.2f} {r['reward_s']:9.2f} {r['update_s']:9.2f}"
        )
    for r in scaling:
        print(
            f"scaling: group {r['group']:>2}, <= {r['max_new_tokens']:>3} tokens: {r['samples_per_s']:6.1f} samples/s, step {r['step_s']:.2f} s "
            f"(gen {r['gen_s']:.2f}, reward {r['reward_s']:.2f}, update {r['update_s']:.2f})"
        )
    ratio = ours["samples_per_s"] / trl["samples_per_s"]
    print(f"ratio (samples/s, execrl / TRL): {ratio:.2f}x")
    fig = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "objective": OBJECTIVE,
        "execrl": ours,
        "trl": trl,
        "ratio_samples_per_s": ratio,
        "scaling": scaling,
        "trl_version": trl_pkg.__version__,
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "torch_threads": 1,
    }
    (args.out / "rl_throughput.json").write_text(json.dumps(fig, indent=2))


if __name__ == "__main__":
    main()
