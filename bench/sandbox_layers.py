"""What each sandbox level costs: median wall time per program, one worker, same programs.

    python bench/sandbox_layers.py [--programs 300] [--levels cgroups sealed] [--src DIR]

``--src`` judges with another checkout's execrl (e.g. ``git worktree add /tmp/old 03d6c64`` and
``--src /tmp/old/src --levels cgroups``: the executor before the judge/runner split). Every level judges the same MBPP reference programs (their own asserts, all passing), one
worker, one request at a time, so the figure is the per-program latency a level adds. Writes
bench/results/sandbox_layers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", type=int, default=300)
    ap.add_argument(
        "--levels", nargs="*", default=None, help="default: every level the host grants"
    )
    ap.add_argument("--src", default=str(ROOT / "src"), help="the execrl source tree to measure")
    ap.add_argument("--out", default=str(ROOT / "bench/results/sandbox_layers.json"))
    args = ap.parse_args()
    sys.path.insert(0, args.src)
    os.environ["PYTHONPATH"] = args.src  # the workers import the same tree
    from execrl.data.mbpp import MBPPReader
    from execrl.execution import ExecRequest, Executor, sandbox

    probs = MBPPReader().read(str(ROOT / "data/mbpp/mbpp.jsonl"), "test")[: args.programs]
    reqs = [ExecRequest(program=p.solutions[0], tests=p.tests) for p in probs]
    host = sandbox.probe().level
    rows = []
    for level in args.levels or sandbox.LEVELS[: sandbox.level_rank(host) + 1]:
        with Executor(workers=1, timeout_s=10.0, isolation=level) as ex:
            ex.run(reqs[:5])  # warm
            times, passed = [], 0
            for r in reqs:
                t0 = time.perf_counter()
                passed += ex.run([r])[0].passed
                times.append(time.perf_counter() - t0)
            rows.append(
                {
                    "src": args.src,
                    "level": level,
                    "median_ms": 1000 * statistics.median(times),
                    "mean_ms": 1000 * statistics.fmean(times),
                    "passed": passed,
                    "programs": len(reqs),
                    "isolation": ex.isolation_level,
                }
            )
        print(
            f"{level:<11} median {rows[-1]['median_ms']:6.2f} ms  mean {rows[-1]['mean_ms']:6.2f} ms  passed {passed}/{len(reqs)}"
        )
    Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
