"""Does RL from execution feedback beat more SFT? Held-out pass@1 on synth, several seeds.

Protocol: per seed, SFT to a plateau
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

A real pretrained model (``--model smollm2_135m --data mbpp``): no SFT stage; every method starts
from SmolLM2-135M-Instruct (LoRA r=16, bf16 sampling copy) and gets the same wall clock on the MBPP
train + validation problems (``trainval``, 464: tests only for RL; their reference programs for
``sft_more``, the equal-compute control), judged on the MBPP test split (greedy pass@1 and the
outcome mix; pass@10 from 10 samples on the first ``--passk-problems``). Its preset (below,
``MODEL_PRESETS``: 45 minutes per method, which gives GRPO 100+ optimizer steps with async
rollouts; all 500 test problems; pass@10 on 40; a curve point every 15 minutes on the first 100)
takes about an hour per run on 2 CPU cores, so a table spans sessions: run the same command again
and finished runs are judged from their kept results, an interrupted one resumes from its
``last.ckpt`` with the budget it had left (``--fresh`` starts over):

    python bench/learning.py --model smollm2_135m --data mbpp                       # the preset
    python bench/learning.py --model smollm2_135m --data mbpp --seeds 0 --methods sft_more grpo   # part of it

CodeRL runs online there, with its critic (``coderl_online``: trained at fit start on 32 of the
model's own judged programs, within the budget; the JSON's ``runs[m][i]["setup_s"]`` says how
long it took) and with uniform token weights (``coderl_nocritic``); the published offline pool
(200 problems x 5 programs) would take longer than the budget to sample on this CPU.

The budget (``trainer.max_time``) is counted from fit start (``execrl.utils.callbacks.FitTimer``),
so an algorithm's setup (CodeRL's critic and offline pool) is spent from it like its updates.

Prints a table (mean and spread across seeds) and writes bench/results/learning[_<data>][_<model>].json,
with its figures beside it (``.png``: pass@1 per method; ``_curves.png``: pass@1 against wall clock).
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
    "ppo_ppocoder": [
        "algo=ppo",
        "reward=ppocoder",
        "reward.components.compiler.reward.use_tests=false",
    ],
    "ppo_equivalence": ["algo=ppo", "reward=equivalence"],
    "coderl_nocritic": ["algo=coderl", "algo.mode=online", "algo.token_weights=uniform"],
    # the papers' settings beside the tuned ones (coderl, ppo = ppo_execrl, grpo = TRL's defaults)
    "coderl_paper": ["experiment=coderl_paper"],
    "ppo_paper": ["experiment=ppocoder_paper"],
    "grpo_execrl": ["experiment=grpo_execrl"],
}

# Per model: the defaults of the flags left unset, and overrides added to each method's runs.
MODEL_PRESETS = {
    "smollm2_135m": {
        # RL gets 100+ optimizer steps (GRPO with async rollouts: about 22 s a step on 2 cores),
        # every final actor judged on all 500 MBPP test problems
        "defaults": dict(
            seeds=[0, 1],
            methods=["sft_more", "grpo", "coderl_online"],
            sft_steps=0,
            budget="00:00:45:00",
            heldout_limit=None,
            curve_every=900,
            curve_limit=100,
            passk_problems=40,
        ),
        # RL and the SFT control on MBPP train + validation; no validation loop (greedy decoding of
        # 90 problems would eat the budget); responses up to 256 tokens
        "extra": ["data.train_split=trainval", "data.val_split=null", "model.max_new_tokens=256"],
        "methods": {
            "sft_more": ["optimizer.lr=2e-4", "data.batch_size=8"],
            # groups of 4 programs for 4 problems per step; T 0.8: at 1.0 a 135M model writes little that parses
            "grpo": [
                "algo.num_samples=4",
                "data.batch_size=4",
                "algo.minibatch_size=16",
                "algo.temperature=0.8",
                "algo.async_rollouts=true",  # step t+1 sampled during step t's update (1.9x)
            ],
            "coderl_nocritic": [
                "algo.num_samples=4",
                "data.batch_size=4",
                "algo.ce_batch_size=4",
                "algo.rl_batch_size=16",
            ],
            # CodeRL online with its critic, trained at fit start on 32 of the model's own judged
            # programs (8 trainval problems x 4, 16 critic steps): spent from the same budget
            # (train.py's FitTimer), the JSON's runs[...]["setup_s"] says how much
            "coderl_online": [
                "algo.num_samples=4",
                "data.batch_size=4",
                "algo.ce_batch_size=4",
                "algo.critic_label_problems=8",
                "algo.critic_samples_per_problem=4",
                "algo.critic_train_steps=16",
                "algo.critic_batch_size=8",
            ],
            "ppo": [
                "algo.num_samples=4",
                "data.batch_size=4",
                "algo.minibatch_size=16",
                "algo.temperature=0.8",
                "algo.async_rollouts=true",
            ],
        },
    },
}
DEFAULTS = dict(
    seeds=[0, 1, 2],
    methods=["sft_more", "grpo", "coderl", "ppo"],
    sft_steps=600,
    budget="00:00:03:00",
    heldout_limit=None,
    curve_every=30,
    curve_limit=300,
    passk_problems=0,
)


def train(run_dir: Path, overrides: list[str], log: Path) -> None:
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        f"hydra.run.dir={run_dir}",
        "logger=csv",
        "warm_start.enabled=false",
        "report.split=null",  # the bench judges the checkpoints itself (judge below)
        *overrides,
    ]
    env = {
        **os.environ,
        "PROJECT_ROOT": str(ROOT),
        "HYDRA_FULL_ERROR": "1",
        "WANDB_MODE": "offline",
    }
    with open(log, "w") as f:
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, check=True)


def run_facts(run_dir: Path) -> dict[str, float]:
    """A finished run's optimizer steps (its last checkpoint's) and its setup seconds, part of its
    budget (``setup/time_s/*`` of the final metrics train.py logs)."""
    import ast

    import torch

    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    facts = {"steps": float(ckpt.get("global_step", 0))}
    marker = "final metrics: "
    for line in (run_dir / "train.log").read_text().splitlines():
        if marker in line:
            metrics = ast.literal_eval(line.split(marker, 1)[1])
            facts["setup_s"] = sum(v for k, v in metrics.items() if k.startswith("setup/time_s/"))
    return facts


def data_overrides(data: str, seed: int) -> list[str]:
    return [f"data={data}"] + ([f"data.reader.seed={seed}"] if data.startswith("synth") else [])


def load_judged_actor(ckpt: Path | None, cfg):
    """A checkpoint's actor, or (no checkpoint) the model config's own: the pretrained start."""
    import hydra

    from execrl.models.checkpoint import load_actor

    return (load_actor(ckpt) if ckpt is not None else hydra.utils.instantiate(cfg.model)).eval()


def judge(
    ckpt: Path | None,
    data: str,
    seed: int,
    limit: int | None,
    model: str | None = None,
    model_overrides: list[str] = (),
) -> tuple[list, list[str], list]:
    """The first ``limit`` held-out problems, a checkpoint's greedy programs for them and their
    sandbox outcomes (instruct prompts: post-processed as generate.py does). Without a checkpoint
    the model is the config's with ``model_overrides``: the runs' own (generation length included),
    so that the start is judged as the trained models are."""
    import hydra

    from execrl.execution import Executor
    from execrl.rollout.judged import sample_and_judge
    from execrl.utils.config import compose

    cfg = compose(
        "train",
        [
            *data_overrides(data, seed),
            *([f"model={model}"] if model else []),
            *model_overrides,
            "data.val_limit=null",
        ],
    )
    dm = hydra.utils.instantiate(cfg.data)
    problems = dm.problems(dm.test_split, limit)
    actor = load_judged_actor(ckpt, cfg)
    with Executor(workers=2) as ex:
        judged = sample_and_judge(actor, problems, ex, batch_size=32, postprocess_instruct=True)
    return problems, [j.program for j in judged], [j.outcome for j in judged]


def pass_at_k(
    ckpt: Path | None,
    data: str,
    seed: int,
    n_problems: int,
    model: str | None,
    n: int = 10,
    temperature: float = 0.8,
    model_overrides: list[str] = (),
) -> dict[str, float]:
    """pass@1..n from ``n`` programs sampled (T ``temperature``, top-p 0.95) for each of the first
    ``n_problems`` held-out problems of :func:`judge`'s subset."""
    import hydra

    from execrl.execution import Executor
    from execrl.metrics.passk import mean_pass_at_k
    from execrl.rollout.judged import sample_and_judge
    from execrl.utils.config import compose

    cfg = compose(
        "train",
        [
            *data_overrides(data, seed),
            *([f"model={model}"] if model else []),
            *model_overrides,
            "data.val_limit=null",
        ],
    )
    dm = hydra.utils.instantiate(cfg.data)
    problems = dm.problems(dm.test_split, max(n_problems, 1))[:n_problems]
    actor = load_judged_actor(ckpt, cfg)
    with Executor(workers=2) as ex:
        judged = sample_and_judge(
            actor,
            problems,
            ex,
            n=n,
            do_sample=True,
            batch_size=4,
            postprocess_instruct=True,
            temperature=temperature,
            top_p=0.95,
        )
    counts = []
    for j in range(len(problems)):
        ok = [x.result for x in judged[j * n : (j + 1) * n] if not x.outcome.is_infra]
        counts.append((len(ok), sum(r.passed for r in ok)))
    return {f"pass@{k}": mean_pass_at_k(counts, k) for k in (1, 5, 10) if k <= n}


def rates(judged: tuple[list, list[str], list], n: int | None = None) -> dict[str, float]:
    """pass@1 and compile rate over the first ``n`` judged problems (translation: pass@1 is
    computational accuracy, and CodeBLEU against the reference is added)."""
    from execrl.metrics.translation import codebleu
    from execrl.tasks.train import outcome_rates

    problems, programs, outcomes = (x[:n] for x in judged)
    scores = outcome_rates(outcomes)
    judged_ok = [o for o in outcomes if not o.is_infra]
    for o in (
        "compile_error",
        "runtime_error",
        "timeout",
        "failed",
    ):  # the outcome mix (error classes)
        scores[f"rate_{o}"] = sum(x.value == o for x in judged_ok) / max(len(judged_ok), 1)
    if problems and problems[0].is_translation:
        cb = codebleu([p.solutions[0] for p in problems], programs, problems[0].language)
        if cb is not None:
            scores["codebleu"] = cb["codebleu"]
    return scores


def trained_seconds(ckpt: Path) -> float:
    """Seconds of training (from fit start, ``execrl.utils.callbacks.FitTimer``) when ``ckpt`` was
    saved: the run's own clock, which survives a resume in a later session (file times do not)."""
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=False).get("callbacks", {})
    timer = state.get("FitTimer", {})
    return float(timer.get("time_elapsed", {}).get("train", 0.0))


def cached(path: Path, key: str, compute):
    """``compute()`` once per ``key``, kept in the JSON file ``path``: a bench interrupted (e.g. at
    the end of a session) keeps every judging it finished."""
    memo = json.loads(path.read_text()) if path.exists() else {}
    if key not in memo:
        memo[key] = compute()
        path.write_text(json.dumps(memo, indent=1))
    return memo[key]


def curve(
    run_dir: Path,
    start: dict[str, float],
    last: dict[str, float],
    data: str,
    seed: int,
    limit: int,
    model: str | None = None,
    model_overrides: list[str] = (),
) -> list[dict[str, float]]:
    """Held-out scores of a run's timed checkpoints (``callbacks=timed``) against its seconds of
    training (fit start: setup included); ``start`` is the point at 0 s, ``last`` that of last.ckpt."""
    memo = run_dir / "bench_curve.json"
    points = [
        {"seconds": 0.0, **start},
        {"seconds": trained_seconds(run_dir / "checkpoints" / "last.ckpt"), **last},
    ]
    for c in sorted((run_dir / "checkpoints" / "timed").glob("*.ckpt")):
        points.append(
            {
                "seconds": trained_seconds(c),
                **cached(
                    memo,
                    f"{c.name}@{limit}",
                    lambda c=c: rates(judge(c, data, seed, limit, model, model_overrides)),
                ),
            }
        )
    return sorted(points, key=lambda p: p["seconds"])


def stats(values: list[float]) -> dict:
    return {
        "per_seed": values,
        "mean": statistics.mean(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--model",
        default=None,
        help="a conf/model option (default: the train config's); smollm2_135m has a preset",
    )
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="default [0, 1, 2] (smollm2_135m: [0, 1])",
    )
    ap.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="default sft_more grpo coderl ppo (smollm2_135m: sft_more grpo coderl_online coderl_nocritic)",
    )
    ap.add_argument("--data", default="synth")
    ap.add_argument(
        "--sft-steps",
        type=int,
        default=None,
        help="SFT steps before the methods (600; 0: start from the model itself)",
    )
    ap.add_argument(
        "--budget",
        default=None,
        help="wall clock per method after SFT (DD:HH:MM:SS; 00:00:03:00, smollm2_135m 6 min)",
    )
    ap.add_argument(
        "--heldout-limit",
        type=int,
        default=None,
        help="held-out problems judged (all; smollm2_135m: 60)",
    )
    ap.add_argument(
        "--passk-problems",
        type=int,
        default=None,
        help="held-out problems with pass@10 from 10 samples (0: none)",
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--extra", nargs="*", default=[], help="overrides added to every run")
    ap.add_argument(
        "--method-extra",
        nargs="*",
        default=[],
        help="overrides added to the runs after SFT only (e.g. a smaller batch)",
    )
    ap.add_argument(
        "--reuse-sft",
        action="store_true",
        help="start from an existing sft_seed<N> checkpoint in the runs folder",
    )
    ap.add_argument(
        "--tag",
        default="",
        help="suffix of the JSON's and the runs folder's names (keeps an earlier table)",
    )
    ap.add_argument(
        "--start-only",
        action="store_true",
        help="judge only the starting model (with the preset's model settings), train nothing",
    )
    ap.add_argument(
        "--curve-every",
        type=int,
        default=None,
        help="seconds between timed checkpoints scored for the pass@1-vs-time curve (0: none)",
    )
    ap.add_argument(
        "--curve-limit",
        type=int,
        default=None,
        help="held-out problems each curve point is scored on",
    )
    ap.add_argument(
        "--fresh",
        action="store_true",
        help="train every run from scratch (default: a finished run is judged, not trained again, "
        "and an interrupted one resumes from its last.ckpt: a table can span several sessions)",
    )
    args = ap.parse_args()
    preset = MODEL_PRESETS.get(args.model or "", {})
    for k, v in {**DEFAULTS, **preset.get("defaults", {})}.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.start_only:
        args.methods = []
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    # per dataset (and model): run names (sft_seed0, ...) repeat across them
    runs = (
        out
        / "learning_runs"
        / (
            args.data
            + (f"_{args.model}" if args.model else "")
            + (f"_{args.tag}" if args.tag else "")
        )
    )
    runs.mkdir(parents=True, exist_ok=True)
    start_name = "sft" if args.sft_steps else "start"  # no SFT: the pretrained model itself
    scores: dict[str, list[dict[str, float]]] = {start_name: []}
    passk: dict[str, list[dict[str, float]]] = {}
    failed: list[str] = []
    run_info: dict[str, list[dict[str, float]]] = {}  # steps and setup seconds per run
    t_start = time.time()
    curves: dict[str, list[list[dict[str, float]]]] = {}
    timed = (
        ["callbacks=timed", f"callbacks.timed_checkpoint.seconds={args.curve_every}"]
        if args.curve_every
        else []
    )
    model = [f"model={args.model}"] if args.model else []

    def judged_rates(ckpt: Path | None, memo: Path, seed: int, model_args: list[str]) -> dict:
        """A checkpoint's (None: the pretrained model's) held-out rates on ``--heldout-limit``
        and ``--curve-limit`` problems and its sampled pass@k, each kept in ``memo`` once done."""
        seed_part = seed if args.data.startswith("synth") else "-"  # only synth's problems vary
        key = f"{args.data}:{seed_part}:{args.heldout_limit}:{args.curve_limit if args.curve_every else 0}"
        judged = []  # one greedy judging serves both limits (the curve's problems are a prefix)

        def greedy():
            if not judged:
                judged.append(judge(ckpt, args.data, seed, limit, args.model, model_args))
            return judged[0]

        out = {
            "scores": cached(memo, f"scores:{key}", lambda: rates(greedy(), args.heldout_limit)),
            "curve": cached(memo, f"curve:{key}", lambda: rates(greedy(), args.curve_limit)),
        }
        if args.passk_problems:
            out["passk"] = cached(
                memo,
                f"passk:{args.data}:{seed_part}:{args.passk_problems}",
                lambda: pass_at_k(
                    ckpt,
                    args.data,
                    seed,
                    args.passk_problems,
                    args.model,
                    model_overrides=model_args,
                ),
            )
        return out

    for seed in args.seeds:
        common = [
            *data_overrides(args.data, seed),
            *model,
            f"seed={seed}",
            *preset.get("extra", []),
            *args.extra,
        ]
        # the start model is judged with the runs' model settings (e.g. model.max_new_tokens)
        model_args = [o for o in common if o.lstrip("+~").startswith("model.")]
        sft_ckpt: Path | None = None
        if args.sft_steps:
            sft_dir = runs / f"sft_seed{seed}"
            sft_ckpt = sft_dir / "checkpoints" / "last.ckpt"
            if not (args.reuse_sft and sft_ckpt.exists()):
                shutil.rmtree(sft_dir, ignore_errors=True)
                train(
                    sft_dir,
                    ["algo=sft", f"trainer.max_steps={args.sft_steps}", *common],
                    runs / f"sft_seed{seed}.log",
                )
        # one judging serves the table and the curve's points (the curve's problems are a prefix of the table's)
        limit = (
            None
            if args.heldout_limit is None
            else max(args.heldout_limit, args.curve_limit if args.curve_every else 0)
        )
        # no SFT: the pretrained model, judged once (its memo's keys name synth's seed)
        start_memo = (runs / "start.json") if sft_ckpt is None else sft_dir / "bench_judged.json"
        start_judged = judged_rates(sft_ckpt, start_memo, seed, model_args)
        scores[start_name].append(start_judged["scores"])
        if "passk" in start_judged:
            passk.setdefault(start_name, []).append(start_judged["passk"])
        print(f"seed {seed} {start_name}: {scores[start_name][-1]}", flush=True)
        for m in args.methods:
            d = runs / f"{m}_seed{seed}"
            if args.fresh:
                # Lightning would write last-v1.ckpt beside an earlier run's last.ckpt, and an
                # earlier run's timed checkpoints would join this curve
                shutil.rmtree(d, ignore_errors=True)
            start = [f"actor_ckpt={sft_ckpt}"] if sft_ckpt is not None else []
            last_ckpt = d / "checkpoints" / "last.ckpt"
            done = d / "bench_done"  # the budget the run finished, judged afterwards
            if not (done.exists() and done.read_text().strip() == args.budget):
                for memo in ("bench_judged.json", "bench_curve.json"):  # of an earlier last.ckpt
                    (d / memo).unlink(missing_ok=True)
                # the newest of last.ckpt (saved every model_checkpoint.every_n_train_steps) and
                # the timed checkpoints (every --curve-every seconds, every method alike)
                saved = [last_ckpt, *(d / "checkpoints" / "timed").glob("*.ckpt")]
                saved = [c for c in saved if c.exists()]
                resume = max(saved, key=lambda c: c.stat().st_mtime) if saved else None
                if resume is not None:
                    print(f"seed {seed} {m}: resuming {resume}", flush=True)
                try:
                    train(
                        d,
                        [
                            *METHOD_OVERRIDES[m],
                            *start,
                            # an interrupted run resumes (its budget counts on from the checkpoint)
                            f"ckpt_path={resume or 'last'}",
                            f"+trainer.max_time={args.budget}",
                            "trainer.max_steps=-1",
                            *timed,
                            *common,
                            *preset.get("methods", {}).get(m, []),
                            *args.method_extra,
                        ],
                        d.parent / f"{m}_seed{seed}.log",
                    )
                except subprocess.CalledProcessError:  # keep the other methods' figures
                    print(
                        f"seed {seed} {m}: FAILED, see {runs / f'{m}_seed{seed}.log'}", flush=True
                    )
                    failed.append(f"{m}_seed{seed}")
                    continue
                done.write_text(f"{args.budget}\n")
            run_info.setdefault(m, []).append(
                {**run_facts(d), "trained_s": trained_seconds(last_ckpt)}
            )
            judged = judged_rates(last_ckpt, d / "bench_judged.json", seed, model_args)
            scores.setdefault(m, []).append(judged["scores"])
            print(f"seed {seed} {m}: {scores[m][-1]} {run_info[m][-1]}", flush=True)
            if "passk" in judged:
                passk.setdefault(m, []).append(judged["passk"])
            if args.curve_every:
                curves.setdefault(m, []).append(
                    curve(
                        d,
                        start_judged["curve"],
                        judged["curve"],
                        args.data,
                        seed,
                        args.curve_limit,
                        args.model,
                        model_args,
                    )
                )
    table = {m: stats([x["pass@1"] for x in v]) for m, v in scores.items()}
    compile_rate = {m: stats([x["compile_rate"] for x in v]) for m, v in scores.items()}
    extra = {
        k: {m: stats([x[k] for x in v]) for m, v in scores.items()}
        for k in ("codebleu",)
        if all(k in x for v in scores.values() for x in v)
    }
    outcome_mix = {
        k: {m: stats([x[k] for x in v]) for m, v in scores.items()}
        for k in ("rate_runtime_error", "rate_failed")
    }
    pass_k = {
        f"pass@{k}": {m: stats([x[f"pass@{k}"] for x in v]) for m, v in passk.items()}
        for k in (10,)
        if passk
    }
    print(
        f"\nheld-out greedy pass@1 on {args.data} ({len(args.seeds)} seeds, {args.budget} per method after {args.sft_steps} SFT steps"
        + (f", model {args.model}" if args.model else "")
        + ")"
    )
    cols = [
        ("compiles", compile_rate),
        ("runtime", outcome_mix["rate_runtime_error"]),
        ("wrong", outcome_mix["rate_failed"]),
    ]
    cols += list(extra.items()) + [(f"{k}[{args.passk_problems}]", v) for k, v in pass_k.items()]
    print(
        f"{'method':<16} {'pass@1':>7} {'stdev':>6} "
        + " ".join(f"{c:>9}" for c, _ in cols)
        + "  per seed"
    )
    for m, r in table.items():
        delta = "".join(
            f"  (vs {ref} {r['mean'] - table[ref]['mean']:+.3f})"
            for ref in ("sft", "start", "sft_more")
            if ref in table and ref != m
        )
        print(
            f"{m:<16} {r['mean']:7.3f} {r['stdev']:6.3f} "
            + " ".join(f"{v[m]['mean']:9.3f}" if m in v else f"{'-':>9}" for _, v in cols)
            + f"  {' '.join(f'{x:.3f}' for x in r['per_seed'])}{delta}"
        )
    if curves:
        print(
            f"\npass@1 on the first {args.curve_limit} held-out problems vs seconds of training (mean over seeds, point by point)"
        )
        for m, runs_ in curves.items():
            n = min(len(c) for c in runs_)
            pts = [
                (
                    statistics.mean(c[i]["seconds"] for c in runs_),
                    statistics.mean(c[i]["pass@1"] for c in runs_),
                )
                for i in range(n)
            ]
            print(f"{m:<16} " + "  ".join(f"{t:4.0f}s {v:.3f}" for t, v in pts))
    name = (
        "learning"
        + ("" if args.data == "synth" else f"_{args.data}")
        + (f"_{args.model}" if args.model else "")
        + (f"_{args.tag}" if args.tag else "")
        + ".json"
    )
    result = out / name
    result.write_text(
        json.dumps(
            {
                "args": vars(args),
                "table": table,
                "compile_rate": compile_rate,
                **extra,
                **outcome_mix,
                **pass_k,
                "scores": scores,
                "passk": passk,
                "curves": curves,
                "runs": run_info,
                "failed": failed,
                "seconds": time.time() - t_start,
                "machine": os.uname().nodename,
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )
    from execrl.metrics.plots import save_learning_plots

    print("wrote", result, *save_learning_plots(result))


if __name__ == "__main__":
    main()
