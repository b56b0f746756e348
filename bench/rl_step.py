"""Where an RL step's time goes: ``--steps`` GRPO steps of the SmolLM2 preset, per phase.

The step is ``bench/learning.py``'s GRPO run on ``--model smollm2_135m --data mbpp`` (its
``MODEL_PRESETS`` overrides: LoRA r=16, 4 MBPP problems x 4 programs, T 0.8, <= 256 tokens, one
optimizer step per round, TRL's objective with beta 0). Each variant is a ``train.py`` run of its
own (same seed, so the first round samples the same programs in every variant) and the JSON keeps
every step's ``train/time_s/*``: gen, reward, update, and inside the update ref, old_logprobs,
forward, anchor, backward, optimizer (the phases that ran). Variants, all on the same objective:

- ``new``: the preset as it ships (bf16 autocast for the update, each prompt once per group, no
  reference pass at beta 0);
- ``fp32``: the same in float32 (``model.autocast=null``);
- ``old`` (``--old``): float32, every row's prompt run again (``model.share_prompts=false``) and a
  reference pass (a KL coefficient of 1e-12: the loss is the same to float precision, but the
  reference is scored and zero-advantage rows are forwarded, as with any KL term);
- ``peer`` (``--peer-src DIR``): the preset on another checkout (e.g. ``git worktree add /tmp/old
  <commit>``), the code before a change; its per-phase keys are whatever that code logs.

    python bench/rl_step.py --steps 6 --old                       # new, fp32 and old
    python bench/rl_step.py --steps 6 --variants new --peer-src /tmp/old

Prints each variant's mean per phase over the steps after the first (the first pays one-time
start-up costs; with ``--steps 1`` it is all there is), and the update's seconds per 1,000
response tokens it ran over (the rows of groups with signal: after the first step each variant
samples its own programs, so lengths differ); writes bench/results/<--name>.json with every
step, the overrides and the load average before and after each variant.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from learning import MODEL_PRESETS  # noqa: E402  (bench/ is on sys.path)

PRESET = MODEL_PRESETS["smollm2_135m"]
VARIANTS = {
    "new": [],
    "fp32": ["model.autocast=null"],
    "old": ["model.autocast=null", "model.share_prompts=false", "algo.kl_coef=1e-12"],
}
PHASES = (
    "gen",
    "reward",
    "update",
    "ref",
    "old_logprobs",
    "forward",
    "anchor",
    "backward",
    "optimizer",
)


def step_overrides(steps: int, seed: int) -> list[str]:
    """The preset's GRPO run, cut to ``steps`` optimizer steps, logging every step, no checkpoints."""
    return [
        "model=smollm2_135m",
        "data=mbpp",
        "algo=grpo",
        f"seed={seed}",
        *PRESET["extra"],
        *PRESET["methods"]["grpo"],
        f"trainer.max_steps={steps}",
        "trainer.log_every_n_steps=1",
        "logger=csv",
        "callbacks=none",
        "warm_start.enabled=false",
        "algo.completions_every=0",
    ]


def preset_value(key: str) -> int:
    """An integer the preset's GRPO overrides set (rows per step)."""
    return next(int(o.split("=")[1]) for o in PRESET["methods"]["grpo"] if o.startswith(key + "="))


def run_variant(
    name: str, overrides: list[str], root: Path, out: Path, args: argparse.Namespace
) -> dict:
    """One ``train.py`` run from checkout ``root``; its per-step timings from the CSV log."""
    run_dir = out / "rl_step_runs" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cmd = [
        sys.executable,
        str(root / "train.py"),
        f"hydra.run.dir={run_dir}",
        *step_overrides(args.steps, args.seed),
        *overrides,
        *args.extra,
    ]
    env = {
        **os.environ,
        "PROJECT_ROOT": str(root),
        "PYTHONPATH": str(root / "src"),  # a peer checkout's execrl, not the installed one
        "HYDRA_FULL_ERROR": "1",
        "WANDB_MODE": "disabled",
        "HF_HUB_OFFLINE": "1",
    }
    t0 = time.perf_counter()
    with open(run_dir / "bench.log", "w") as log:
        subprocess.run(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    wall = time.perf_counter() - t0
    steps = []
    with open(next(run_dir.rglob("metrics.csv"))) as fh:
        for row in csv.DictReader(fh):
            if not row.get("train/time_s/update"):
                continue
            s = {p: float(row[k]) for p in PHASES if (k := f"train/time_s/{p}") in row and row[k]}
            s["step"] = s.get("gen", 0.0) + s.get("reward", 0.0) + s.get("update", 0.0)
            for k in ("train/response_len", "train/signal_frac", "train/reward/mean"):
                if row.get(k):
                    s[k.split("/", 1)[1]] = float(row[k])
            steps.append(s)
    rows = preset_value("data.batch_size") * preset_value("algo.num_samples")
    # tokens the update ran over: at beta 0 the rows of groups with signal, else every row
    every_row = any(o.startswith("algo.kl_coef=") and float(o.split("=")[1]) for o in overrides)
    for s in steps:
        frac = 1.0 if every_row else s.get("signal_frac", 1.0)
        s["update_tokens"] = rows * frac * s.get("response_len", 0.0)
    timed = steps[1:] or steps
    keys = list(dict.fromkeys(k for s in timed for k in s))
    mean = {k: statistics.mean(s.get(k, 0.0) for s in timed) for k in keys}
    if mean.get("update_tokens"):
        mean["update_s_per_1k_tokens"] = 1000 * mean["update"] / mean["update_tokens"]
    return {
        "overrides": overrides,
        "src": str(root),
        "process_s": wall,
        "steps": steps,
        "mean": mean,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6, help="optimizer steps per variant")
    ap.add_argument("--variants", nargs="+", default=["new", "fp32"], choices=sorted(VARIANTS))
    ap.add_argument("--old", action="store_true", help="also the old settings (variant old)")
    ap.add_argument("--peer-src", type=Path, help="a checkout to run the preset on (variant peer)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="rl_step", help="bench/results/<name>.json")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument(
        "--extra", nargs="*", default=[], help="overrides for every variant (e.g. a smaller step)"
    )
    args = ap.parse_args()
    names = list(dict.fromkeys([*args.variants, *(["old"] if args.old else [])]))
    runs = [(n, VARIANTS[n], ROOT) for n in names]
    if args.peer_src:
        runs.append(("peer", [], args.peer_src.resolve()))
    load = [os.getloadavg()]
    results = {}
    for name, overrides, root in runs:
        print(f"{name}: {' '.join(overrides) or '(the preset)'} [{root}]", flush=True)
        results[name] = run_variant(name, overrides, root, args.out, args)
        load.append(os.getloadavg())
    cols = ["step", *PHASES]
    print("\nmean seconds per step, after the first (" + str(max(args.steps - 1, 1)) + " steps)")
    print(
        f"{'variant':<8}"
        + "".join(f"{c:>13}" for c in cols)
        + f"{'resp_len':>10}{'upd_tokens':>11}{'upd_s/1k':>9}"
    )
    for name, r in results.items():
        m = r["mean"]
        cells = "".join(f"{m[c]:>13.2f}" if c in m else f"{'-':>13}" for c in cols)
        print(
            f"{name:<8}{cells}{m.get('response_len', 0):>10.1f}{m.get('update_tokens', 0):>11.0f}"
            f"{m.get('update_s_per_1k_tokens', float('nan')):>9.2f}"
        )
    new = results.get("new", {}).get("mean", {})
    for name, r in results.items():
        if name != "new" and new.get("update") and r["mean"].get("update"):
            per_token = r["mean"].get("update_s_per_1k_tokens", float("nan")) / new.get(
                "update_s_per_1k_tokens", float("nan")
            )
            print(
                f"new against {name}: update {r['mean']['update'] / new['update']:.2f}x faster "
                f"({per_token:.2f}x per token it ran over), step {r['mean']['step'] / new['step']:.2f}x"
            )
    doc = {
        "bench": "rl_step",
        "preset": step_overrides(args.steps, args.seed),
        "extra": args.extra,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "loadavg": load,
        "variants": results,
    }
    path = args.out / f"{args.name}.json"
    path.write_text(json.dumps(doc, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
