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
    python bench/rl_step.py --update-only --old --peer-src /tmp/old --repeats 3

``--update-only`` times the policy's forward and backward alone, on one fixed batch for every
variant (the preset's 4 x 4 rows: the first 4 training prompts, ``--tokens`` random response
tokens per row, every row full length; ``old`` adds a no-grad reference pass): wall and CPU seconds
per repeat (CPU seconds are the steadier figure on a shared machine) and the peak RSS.

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
        # no held-out report (train.py's before/after on MBPP's 500 test problems: an hour of
        # greedy decoding on SmolLM2); ++ so a peer checkout without the key takes it too
        "++report.split=null",
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
            # the step's wall clock where the checkout logs it (with async_rollouts generation
            # overlaps the update, so the phases no longer add up to it); else their sum
            wall_step = row.get("train/time_s/step")
            s["step"] = (
                float(wall_step)
                if wall_step
                else s.get("gen", 0.0) + s.get("reward", 0.0) + s.get("update", 0.0)
            )
            if row.get("train/time_s/wait_rollout"):
                s["wait_rollout"] = float(row["train/time_s/wait_rollout"])
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


def update_worker(name: str, tokens: int, repeats: int, seed: int) -> None:
    """In a fresh process on one checkout: time the update's forward and backward (prints JSON)."""
    import resource

    # learning.py put this checkout's src first on the path: the worker's checkout (PYTHONPATH)
    # must be the one imported
    sys.path[:0] = [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]
    import hydra
    import torch

    from execrl.utils.config import compose

    overrides = [] if name == "peer" else VARIANTS[name]
    cfg = compose("train", [*step_overrides(1, seed), *overrides])
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    actor = hydra.utils.instantiate(cfg.model)
    dm = hydra.utils.instantiate(cfg.data)
    rows, group = preset_value("data.batch_size"), preset_value("algo.num_samples")
    p_ids, p_mask = actor.encode_prompts(
        [p.prompt for p in dm.problems(cfg.data.train_split)][:rows]
    )
    p_ids, p_mask = p_ids.repeat_interleave(group, 0), p_mask.repeat_interleave(group, 0)
    gen = torch.Generator().manual_seed(seed)
    r_ids = torch.randint(100, len(actor.tokenizer) - 100, (rows * group, tokens), generator=gen)
    r_mask, adv = torch.ones_like(r_ids), torch.randn(rows * group, generator=gen)
    ref = actor.reference_policy() if name == "old" else None
    temperature = float(
        next(o.split("=")[1] for o in PRESET["methods"]["grpo"] if "temperature" in o)
    )
    reps = []
    for _ in range(repeats):
        actor.zero_grad()
        t0, c0 = time.perf_counter(), time.process_time()
        if ref is not None:
            with torch.no_grad():
                ref.response_logprobs(p_ids, p_mask, r_ids, r_mask, temperature=temperature)
        lp = actor.response_logprobs(p_ids, p_mask, r_ids, r_mask, temperature=temperature)
        loss = -(lp["logprobs"].sum(-1) * adv).sum() / r_mask.sum()
        t1, c1 = time.perf_counter(), time.process_time()
        loss.backward()
        t2, c2 = time.perf_counter(), time.process_time()
        reps.append(
            {
                "forward_s": t1 - t0,
                "backward_s": t2 - t1,
                "total_s": t2 - t0,
                "forward_cpu_s": c1 - c0,
                "backward_cpu_s": c2 - c1,
                "total_cpu_s": c2 - c0,
            }
        )
    import execrl

    out = {
        "execrl": str(Path(execrl.__file__).parent),
        "prompt_tokens": p_mask[::group].sum(-1).tolist(),
        "rows": rows * group,
        "tokens": tokens,
        "repeats": reps,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    print("UPDATE_ONLY " + json.dumps(out), flush=True)


def run_update_only(name: str, root: Path, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker-update",
        name,
        "--tokens",
        str(args.tokens),
        "--repeats",
        str(args.repeats),
        "--seed",
        str(args.seed),
    ]
    env = {
        **os.environ,
        "PROJECT_ROOT": str(root),
        "PYTHONPATH": str(root / "src"),
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "disabled",
    }
    res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    line = next((x for x in res.stdout.splitlines() if x.startswith("UPDATE_ONLY ")), None)
    if line is None:
        raise RuntimeError(f"{name}: the update-only worker failed:\n{res.stderr[-3000:]}")
    out = json.loads(line.split(" ", 1)[1])
    timed = out["repeats"][1:] or out["repeats"]  # the first repeat pays one-time costs
    out["mean"] = {k: statistics.mean(r[k] for r in timed) for k in timed[0]}
    return {"overrides": [] if name == "peer" else VARIANTS[name], "src": str(root), **out}


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
    ap.add_argument("--update-only", action="store_true", help="time the update alone")
    ap.add_argument("--tokens", type=int, default=256, help="--update-only: tokens per response")
    ap.add_argument("--repeats", type=int, default=3, help="--update-only: timed passes")
    ap.add_argument("--worker-update", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_update:
        update_worker(args.worker_update, args.tokens, args.repeats, args.seed)
        return
    names = list(dict.fromkeys([*args.variants, *(["old"] if args.old else [])]))
    runs = [(n, VARIANTS[n], ROOT) for n in names]
    if args.peer_src:
        runs.append(("peer", [], args.peer_src.resolve()))
    load = [os.getloadavg()]
    results = {}
    if args.update_only:
        print("update only: forward + backward, seconds (mean after the first repeat)")
        for name, _, root in runs:
            r = results[name] = run_update_only(name, root, args)
            load.append(os.getloadavg())
            m = r["mean"]
            print(
                f"{name:<6} wall {m['total_s']:7.2f} (fwd {m['forward_s']:.2f} bwd "
                f"{m['backward_s']:.2f})  cpu {m['total_cpu_s']:7.2f}  peak RSS "
                f"{r['peak_rss_gb']:.1f} GB  [{' '.join(r['overrides']) or '-'}; {r['execrl']}]",
                flush=True,
            )
        doc = {
            "bench": "rl_step --update-only",
            "tokens": args.tokens,
            "loadavg": load,
            "variants": results,
        }
        path = args.out / f"{args.name}.json"
        path.write_text(json.dumps(doc, indent=1))
        print(f"load average {load[0][0]:.2f} -> {load[-1][0]:.2f}; wrote {path}")
        return
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
