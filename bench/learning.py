"""Does RL from execution feedback beat more SFT? Held-out pass@1 on synth, several seeds.

Protocol (docs: reference/learning_calibration.md lessons): per seed, SFT to a plateau
(``--sft-steps``), then from that one checkpoint run every method for the *same wall-clock
budget* (``--budget``, Lightning's ``trainer.max_time``): ``sft_more`` (the equal-compute control)
and each RL algorithm on the tests-only ``rl`` split. Every final actor is judged by greedy
decoding on the 1,000 ``heldout`` problems, each program run in the sandbox.

    python bench/learning.py --seeds 0 1 2 --methods sft_more grpo coderl ppo

Translation (issue: behaviour-judged rewards): ``--data synth_translation`` with methods
``ppo_ppocoder`` (compiler + AST + DFG) and ``ppo_equivalence`` (the translation run beside its
source); held-out greedy programs are judged by what they print (computational accuracy, which
is pass@1 against the source's output), by whether they compile, and by CodeBLEU against the
reference translation:

    python bench/learning.py --data synth_translation --seeds 0 1 2 --methods sft_more ppo_ppocoder ppo_equivalence \
        --sft-steps 400 --budget 00:00:05:00 --heldout-limit 150 --curve-every 0 \
        --extra model.max_new_tokens=160 --method-extra data.batch_size=16

(every sample is compiled: 16 problems per iteration give PPO 7-11 iterations in the 5 minutes).
With ``--curve-every N`` (default 30) each run also keeps a checkpoint every N seconds
(``callbacks=timed``) and the JSON gets ``curves``: held-out pass@1 on the first ``--curve-limit``
problems against seconds since launch, drawn by ``notebooks/results.ipynb``.

Prints a table (mean and spread across seeds) and writes bench/results/learning[_<data>].json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

METHOD_OVERRIDES = {
    "sft_more": ["algo=sft"],
    "grpo": ["algo=grpo"],
    "coderl": ["algo=coderl"],
    "coderl_online": ["algo=coderl", "algo.mode=online"],
    "ppo": ["algo=ppo"],
    # PPOCoder's translation reward: compiles or not (+1/-1), AST and DFG match; without use_tests=false its
    # compiler term would grade the tests that synth translation derives from the source's output,
    # i.e. it would be the equivalence reward
    "ppo_ppocoder": ["algo=ppo", "reward=ppocoder", "reward.components.compiler.reward.use_tests=false"],
    "ppo_equivalence": ["algo=ppo", "reward=equivalence"],
}


def train(run_dir: Path, overrides: list[str], log: Path) -> None:
    cmd = [sys.executable, str(ROOT / "train.py"), f"hydra.run.dir={run_dir}", "logger=csv", "warm_start.enabled=false", *overrides]
    env = {**os.environ, "PROJECT_ROOT": str(ROOT), "HYDRA_FULL_ERROR": "1", "WANDB_MODE": "offline"}
    with open(log, "w") as f:
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, check=True)


def judge(ckpt: Path, data: str, seed: int, limit: int | None) -> tuple[list, list[str], list]:
    """The first ``limit`` held-out problems, a checkpoint's greedy programs for them and their
    sandbox outcomes."""
    import hydra

    from execrl.execution import Executor
    from execrl.models.checkpoint import load_actor
    from execrl.tasks.train import greedy_outcomes
    from execrl.utils.config import compose

    cfg = compose("train", [f"data={data}", f"data.reader.seed={seed}", "data.val_limit=null"])
    dm = hydra.utils.instantiate(cfg.data)
    problems = dm.problems(dm.test_split, limit)
    actor = load_actor(ckpt).eval()
    programs: list[str] = []
    with Executor(workers=2) as ex:
        outcomes = greedy_outcomes(actor, problems, ex, programs=programs)
    return problems, programs, outcomes


def rates(judged: tuple[list, list[str], list], n: int | None = None) -> dict[str, float]:
    """pass@1 and compile rate over the first ``n`` judged problems (translation: pass@1 is
    computational accuracy, and CodeBLEU against the reference is added)."""
    from execrl.metrics.translation import codebleu
    from execrl.tasks.train import outcome_rates

    problems, programs, outcomes = (x[:n] for x in judged)
    scores = outcome_rates(outcomes)
    if problems and problems[0].is_translation:
        cb = codebleu([p.solutions[0] for p in problems], programs, problems[0].language)
        if cb is not None:
            scores["codebleu"] = cb["codebleu"]
    return scores


def curve(run_dir: Path, launched: float, start: dict[str, float], last: dict[str, float], data: str, seed: int, limit: int) -> list[dict[str, float]]:
    """Held-out scores of a run's timed checkpoints (``callbacks=timed``) against seconds since the
    run was launched; ``start`` is the point at 0 s (the SFT checkpoint), ``last`` that of last.ckpt."""
    ckpts = sorted((run_dir / "checkpoints" / "timed").glob("*.ckpt"), key=lambda f: f.stat().st_mtime)
    points = [{"seconds": 0.0, **start}, {"seconds": (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime - launched, **last}]
    for c in ckpts:
        points.append({"seconds": c.stat().st_mtime - launched, **rates(judge(c, data, seed, limit))})
    return sorted(points, key=lambda p: p["seconds"])  # last.ckpt can be written before a timed one of the same step


def stats(values: list[float]) -> dict:
    return {"per_seed": values, "mean": statistics.mean(values), "stdev": statistics.stdev(values) if len(values) > 1 else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=["sft_more", "grpo", "coderl", "ppo"])
    ap.add_argument("--data", default="synth")
    ap.add_argument("--sft-steps", type=int, default=600)
    ap.add_argument("--budget", default="00:00:03:00", help="wall clock per method after SFT (DD:HH:MM:SS)")
    ap.add_argument("--heldout-limit", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--extra", nargs="*", default=[], help="overrides added to every run")
    ap.add_argument("--method-extra", nargs="*", default=[], help="overrides added to the runs after SFT only (e.g. a smaller batch)")
    ap.add_argument("--reuse-sft", action="store_true", help="start from an existing sft_seed<N> checkpoint in the runs folder")
    ap.add_argument("--tag", default="", help="suffix of the JSON's name (keeps an earlier table)")
    ap.add_argument("--curve-every", type=int, default=30, help="seconds between timed checkpoints scored for the pass@1-vs-time curve (0: none)")
    ap.add_argument("--curve-limit", type=int, default=300, help="held-out problems each curve point is scored on")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    runs = out / "learning_runs" / args.data  # per dataset: run names (sft_seed0, ...) repeat across them
    runs.mkdir(parents=True, exist_ok=True)
    scores: dict[str, list[dict[str, float]]] = {"sft": []}
    failed: list[str] = []
    t_start = time.time()
    curves: dict[str, list[list[dict[str, float]]]] = {}
    timed = ["callbacks=timed", f"callbacks.timed_checkpoint.seconds={args.curve_every}"] if args.curve_every else []
    for seed in args.seeds:
        common = [f"data={args.data}", f"seed={seed}", f"data.reader.seed={seed}", *args.extra]
        sft_dir = runs / f"sft_seed{seed}"
        sft_ckpt = sft_dir / "checkpoints" / "last.ckpt"
        if not (args.reuse_sft and sft_ckpt.exists()):
            shutil.rmtree(sft_dir, ignore_errors=True)
            train(sft_dir, ["algo=sft", f"trainer.max_steps={args.sft_steps}", *common], runs / f"sft_seed{seed}.log")
        # one judging serves the table and the curve's points (the curve's problems are a prefix of the table's)
        limit = None if args.heldout_limit is None else max(args.heldout_limit, args.curve_limit if args.curve_every else 0)
        sft = judge(sft_ckpt, args.data, seed, limit)
        scores["sft"].append(rates(sft, args.heldout_limit))
        print(f"seed {seed} sft: {scores['sft'][-1]}", flush=True)
        for m in args.methods:
            d = runs / f"{m}_seed{seed}"
            # a fresh run dir: Lightning would write last-v1.ckpt beside an earlier run's last.ckpt,
            # and an earlier run's timed checkpoints would join this curve
            shutil.rmtree(d, ignore_errors=True)
            launched = time.time()
            try:
                train(d, [*METHOD_OVERRIDES[m], f"actor_ckpt={sft_ckpt}", f"+trainer.max_time={args.budget}", "trainer.max_steps=-1",
                          *timed, *common, *args.method_extra], runs / f"{m}_seed{seed}.log")
            except subprocess.CalledProcessError:  # keep the other methods' figures; the log says why
                print(f"seed {seed} {m}: FAILED, see {runs / f'{m}_seed{seed}.log'}", flush=True)
                failed.append(f"{m}_seed{seed}")
                continue
            last = judge(d / "checkpoints" / "last.ckpt", args.data, seed, limit)
            scores.setdefault(m, []).append(rates(last, args.heldout_limit))
            print(f"seed {seed} {m}: {scores[m][-1]}", flush=True)
            if args.curve_every:
                curves.setdefault(m, []).append(curve(d, launched, rates(sft, args.curve_limit), rates(last, args.curve_limit),
                                                      args.data, seed, args.curve_limit))
    table = {m: stats([x["pass@1"] for x in v]) for m, v in scores.items()}
    compile_rate = {m: stats([x["compile_rate"] for x in v]) for m, v in scores.items()}
    extra = {k: {m: stats([x[k] for x in v]) for m, v in scores.items()} for k in ("codebleu",) if all(k in x for v in scores.values() for x in v)}
    print(f"\nheld-out greedy pass@1 on {args.data} ({len(args.seeds)} seeds, {args.budget} per method after {args.sft_steps} SFT steps)")
    cols = [("compiles", compile_rate)] + [(k, v) for k, v in extra.items()]
    print(f"{'method':<16} {'pass@1':>7} {'stdev':>6} " + " ".join(f"{c:>9}" for c, _ in cols) + "  per seed")
    for m, r in table.items():
        delta = "".join(f"  (vs {ref} {r['mean'] - table[ref]['mean']:+.3f})" for ref in ("sft", "sft_more") if ref in table and ref != m)
        print(f"{m:<16} {r['mean']:7.3f} {r['stdev']:6.3f} " + " ".join(f"{v[m]['mean']:9.3f}" for _, v in cols)
              + f"  {' '.join(f'{x:.3f}' for x in r['per_seed'])}{delta}")
    if curves:
        print(f"\npass@1 on the first {args.curve_limit} held-out problems vs seconds since launch (mean over seeds, point by point)")
        for m, runs_ in curves.items():
            n = min(len(c) for c in runs_)
            pts = [(statistics.mean(c[i]["seconds"] for c in runs_), statistics.mean(c[i]["pass@1"] for c in runs_)) for i in range(n)]
            print(f"{m:<16} " + "  ".join(f"{t:4.0f}s {v:.3f}" for t, v in pts))
    name = "learning" + ("" if args.data == "synth" else f"_{args.data}") + (f"_{args.tag}" if args.tag else "") + ".json"
    (out / name).write_text(json.dumps({"args": vars(args), "table": table, "compile_rate": compile_rate, **extra, "curves": curves, "failed": failed,
                                        "seconds": time.time() - t_start, "machine": os.uname().nodename, "cpus": os.cpu_count()}, indent=2))

if __name__ == "__main__":
    main()
