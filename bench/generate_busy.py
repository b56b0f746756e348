"""generate.py's throughput beside a busy process, as a user runs it: the command as the README
writes it (its default ``torch_threads: 1``) against the same command with ``torch_threads=null``
(torch's default: a thread per core, what generate.py did before issue 30), interleaved, each in a
fresh process, while ``--busy`` processes spin on the CPU (another job on a shared machine).

programs/s is what generate.py itself reports (generation only: the model load and start-up are
not in it); the load average is read before and after each run.

    python bench/generate_busy.py                                   # tiny model, ~3 min here
    python bench/generate_busy.py --problems 3 --overrides model=smollm2_135m data=mbpp \\
        sampling.greedy=true --repeats 1                            # SmolLM2 greedy, ~10 min
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATE = re.compile(r"wrote (\d+) programs for \d+ problems .*\(([\d.]+) programs/s\)")
DEFAULT = [
    "data=mbpp",
    "model=tiny_causal",
    "sampling.n=10",
    "sampling.temperature=0.8",
    "sampling.top_p=0.95",
]


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def run_generate(overrides: list[str], run_dir: Path) -> dict:
    """One ``python generate.py`` run; its programs, programs/s and the load around it."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.setdefault("PROJECT_ROOT", str(ROOT))
    before = loadavg()
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), *overrides, f"hydra.run.dir={run_dir}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    m = RATE.search(r.stdout + r.stderr)
    if r.returncode != 0 or m is None:
        raise RuntimeError(f"generate.py failed:\n{(r.stderr or r.stdout)[-3000:]}")
    return {
        "programs": int(m[1]),
        "programs_per_s": float(m[2]),
        "wall_s": wall,
        "load_before": before,
        "load_after": loadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--problems", type=int, default=8, help="limit= (the first N test problems)")
    ap.add_argument("--overrides", nargs="*", default=DEFAULT, help="generate.py overrides")
    ap.add_argument("--busy", type=int, default=1, help="spinning processes beside generate.py")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "generate_busy.json"))
    args = ap.parse_args()

    variants = {
        "torch_threads=1 (default)": [],
        "torch_threads=null (before)": ["torch_threads=null"],
    }
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    try:
        time.sleep(2 if busy else 0)
        with tempfile.TemporaryDirectory(prefix="generate_busy_") as tmp:
            for rep in range(args.repeats):
                for name, extra in variants.items():
                    run_dir = Path(tmp) / f"{rep}_{'null' if extra else 'default'}"
                    res = run_generate([*args.overrides, f"limit={args.problems}", *extra], run_dir)
                    runs[name].append(res)
                    print(
                        f"repeat {rep} {name}: {res['programs']} programs, "
                        f"{res['programs_per_s']:.2f} programs/s (load {res['load_before']:.1f} -> "
                        f"{res['load_after']:.1f})",
                        flush=True,
                    )
    finally:
        for p in busy:
            p.kill()
            p.wait()
    table = {
        name: {
            "programs_per_s": statistics.mean(r["programs_per_s"] for r in rs),
            "per_run": [round(r["programs_per_s"], 3) for r in rs],
            "load": [r["load_before"] for r in rs],
        }
        for name, rs in runs.items()
    }
    a, b = (table[n]["programs_per_s"] for n in variants)
    print(
        f"\ngenerate.py {' '.join(args.overrides)} limit={args.problems}, {args.busy} busy process(es), {os.cpu_count()} CPUs"
    )
    for name, row in table.items():
        print(f"  {name:28} {row['programs_per_s']:8.2f} programs/s  {row['per_run']}")
    print(f"  speed-up of the default: {a / b:.2f}x" if b else "")
    out = {"args": vars(args), "cpus": os.cpu_count(), "table": table, "runs": runs}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
