"""Generation speed of SmolLM2-135M-Instruct on this CPU: plain float32 ``generate`` against the
sampling copies execrl ships (``model.sample_dtype``: bfloat16, int8) and its decoding loop that
drops finished rows from the batch (``model.drop_finished``), in the same run.

A variant is ``<dtype>`` (execrl's decoding loop), ``<dtype>:generate`` (``transformers``'
``generate``) or ``vllm`` / ``vllm:<dtype>`` (the vLLM rollout engine, ``rollout.engine=vllm``: its
own process from ``.venv-vllm``, started once before the clock, with ``--threads`` OpenMP threads;
its start-up time is reported apart). Workload: the instruct MBPP prompts of the first ``--problems`` test problems,
``--batch`` problems per call, greedy decoding (or ``--samples N`` samples per problem at
temperature 0.8, top-p 0.95, as generate.py's pass@k runs) with the stop rule at the closing code
fence (what the RL rollouts and generate.py run), one torch thread. Variants run interleaved, ``--repeats`` times, so
machine load hits them alike. tokens/s counts generated tokens (each response up to its stop).
Correctness: every variant's programs are run in the sandbox (pass count, outcome mix), compared
with float32's programs, and scored by the float32 model (the log-probs RL learns from), whose
mean per-token NLL says how far the cheaper sampler's outputs are from float32's; the samplers
that record their log-probs (the loop, vLLM) are also compared token by token with the float32
model at the sampling temperature (``sampler_lp_gap``: mean absolute difference, what RL's
``train/engine/logprob_gap`` logs).

    python bench/generation_speed.py                       # ~5 min here
    python bench/generation_speed.py --problems 64 --repeats 3 --batch 32
    python bench/generation_speed.py --samples 10 --problems 8 --batch 4 \
        --variants float32:generate bfloat16:generate bfloat16
    python bench/generation_speed.py --samples 4 --problems 16 --batch 16 --repeats 1 \
        --threads 2 --variants bfloat16 vllm          # the loop against the vLLM engine
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("PROJECT_ROOT", str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="smollm2_135m")
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument(
        "--variants", nargs="+", default=["float32:generate", "bfloat16:generate", "bfloat16"]
    )
    ap.add_argument("--samples", type=int, default=1, help="1: greedy; N: N samples at T 0.8")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vllm-kv-gib", type=float, default=2, help="VLLM_CPU_KVCACHE_SPACE")
    ap.add_argument("--vllm-bind", default="nobind", help="VLLM_CPU_OMP_THREADS_BIND")
    ap.add_argument("--vllm-max-num-seqs", type=int, default=None)
    ap.add_argument("--vllm-no-prefix-caching", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "generation_speed.json"))
    args = ap.parse_args()

    import hydra
    import torch

    from execrl.execution import Executor
    from execrl.judging.requests import judge_request
    from execrl.rollout.postprocess import postprocess
    from execrl.tasks.train import outcome_rates
    from execrl.utils.config import compose

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = compose(
        "generate",
        [f"model={args.model}", "data=mbpp", "model.lora.r=0", "model.sample_dtype=null"],
    )
    problems = hydra.utils.instantiate(cfg.data).problems("test")[: args.problems]
    actor = hydra.utils.instantiate(cfg.model).eval()
    batches = [problems[i : i + args.batch] for i in range(0, len(problems), args.batch)]

    sampling = (
        dict(do_sample=False)
        if args.samples == 1
        else dict(num_return_sequences=args.samples, temperature=0.8, top_p=0.95)
    )
    engines: dict[str, object] = {}
    engine_start: dict[str, float] = {}
    for v in args.variants:
        if v.split(":")[0] == "vllm":
            from execrl.rollout.engines import VLLMEngine

            t0 = time.perf_counter()
            engines[v] = VLLMEngine(
                actor,
                dtype=v.partition(":")[2] or "bfloat16",
                threads=args.threads,
                omp_threads_bind=args.vllm_bind,
                kv_cache_gib=args.vllm_kv_gib,
                enable_prefix_caching=not args.vllm_no_prefix_caching,
                max_num_seqs=args.vllm_max_num_seqs,
                max_model_len=actor.max_prompt_len + args.max_new_tokens,
            )
            engine_start[v] = time.perf_counter() - t0
            print(f"{v}: engine started in {engine_start[v]:.1f} s", flush=True)

    def run(variant: str) -> tuple[float, int, list]:
        if variant in engines:
            engine, rolls, tokens, t0 = engines[variant], [], 0, time.perf_counter()
            for b in batches:
                ro = engine.generate(
                    actor, [p.prompt for p in b], max_new_tokens=args.max_new_tokens, **sampling
                )
                tokens += int(ro.response_mask.sum())
                rolls.append(ro)
            return time.perf_counter() - t0, tokens, rolls
        dtype, _, decoder = variant.partition(":")
        actor.drop_finished = decoder != "generate"
        actor.sample_dtype = (
            None if dtype == "float32" else (dtype if dtype == "int8" else getattr(torch, dtype))
        )
        actor.sampling_model()  # the copy is built (or found up to date) before the clock starts
        rolls, tokens, t0 = [], 0, time.perf_counter()
        for b in batches:
            ro = actor.generate(
                [p.prompt for p in b], max_new_tokens=args.max_new_tokens, **sampling
            )
            tokens += int(ro.response_mask.sum())
            rolls.append(ro)
        return time.perf_counter() - t0, tokens, rolls

    times: dict[str, list[float]] = {v: [] for v in args.variants}
    last: dict[str, tuple[int, list]] = {}
    for r in range(args.repeats):
        for v in args.variants if r % 2 == 0 else list(reversed(args.variants)):
            secs, tokens, rolls = run(v)
            times[v].append(tokens / secs)
            last[v] = (tokens, rolls)
            print(
                f"repeat {r} {v:<17} {tokens} tokens in {secs:6.1f} s: {tokens / secs:6.1f} tokens/s",
                flush=True,
            )

    for engine in engines.values():
        engine.close()
    actor.sample_dtype = None
    temperature = 1.0 if args.samples == 1 else 0.8
    rows: dict[str, dict] = {}
    base_programs = None
    with Executor(workers=2) as ex:
        for v in args.variants:
            tokens, rolls = last[v]
            programs, nll, gaps = [], [], []
            for b, ro in zip(batches, rolls):
                rows_of = [p for p in b for _ in range(args.samples)]
                programs += [postprocess(t, p) for p, t in zip(rows_of, ro.texts)]
                with (
                    torch.no_grad()
                ):  # what RL learns from: the float32 model's log-probs of these tokens
                    lp = actor.response_logprobs(
                        ro.prompt_ids, ro.prompt_mask, ro.response_ids, ro.response_mask
                    )["logprobs"]
                nll.append(float(-lp.sum() / ro.response_mask.sum()))
                if ro.sample_logprobs is not None:  # the sampler's own log-probs, token by token
                    with torch.no_grad():
                        lp_t = actor.response_logprobs(
                            ro.prompt_ids,
                            ro.prompt_mask,
                            ro.response_ids,
                            ro.response_mask,
                            temperature=temperature,
                        )["logprobs"]
                    ok = ro.response_mask.bool() & torch.isfinite(ro.sample_logprobs)
                    gaps.append(float((lp_t - ro.sample_logprobs)[ok].abs().mean()))
            asked = [p for p in problems for _ in range(args.samples)]
            results = ex.run([judge_request(p, prog) for p, prog in zip(asked, programs)])
            base_programs = base_programs or programs
            rows[v] = {
                "tokens_per_s": statistics.mean(times[v]),
                "per_repeat": times[v],
                "tokens": tokens,
                **outcome_rates([r.outcome for r in results]),
                "outcomes": dict(Counter(r.outcome.value for r in results)),
                # greedy only: independent samples differ whatever the sampler
                "same_program_as_first": (
                    sum(a == b for a, b in zip(programs, base_programs)) / len(programs)
                    if args.samples == 1
                    else None
                ),
                "float32_nll_per_token": statistics.mean(nll),
                # T 0.8, top-p 0.95: the sampler's log-probs are renormalised over the nucleus
                "sampler_lp_gap": statistics.mean(gaps) if gaps else None,
                "engine_start_s": engine_start.get(v),
            }
    ref = rows[args.variants[0]]["tokens_per_s"]
    print(
        f"\n{args.model}: {len(problems)} MBPP test problems, batch {args.batch}, {'greedy' if args.samples == 1 else f'{args.samples} samples T 0.8'}, <= {args.max_new_tokens} new tokens, "
        f"{args.threads} thread(s), {args.repeats} repeats interleaved"
    )
    print(
        f"{'variant':<18} {'tokens/s':>9} {'ratio':>6} {'pass@1':>7} {'same prog':>9} {'fp32 NLL/tok':>12} {'lp gap':>7}  outcomes"
    )
    for v, m in rows.items():
        m["ratio_vs_" + args.variants[0]] = m["tokens_per_s"] / ref
        same = "-" if m["same_program_as_first"] is None else f"{m['same_program_as_first']:.2f}"
        gap = "-" if m["sampler_lp_gap"] is None else f"{m['sampler_lp_gap']:.3f}"
        print(
            f"{v:<18} {m['tokens_per_s']:9.1f} {m['tokens_per_s'] / ref:6.2f} {m['pass@1']:7.3f} {same:>9} "
            f"{m['float32_nll_per_token']:12.3f} {gap:>7}  {m['outcomes']}"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "args": vars(args),
                "variants": rows,
                "machine": os.uname().nodename,
                "cpus": os.cpu_count(),
                "torch": torch.__version__,
                "loadavg_at_end": os.getloadavg(),
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
