"""How long a data config's programs are in a model's tokens, against the generation and prompt
lengths a train.py run gets for them (``model.max_new_tokens``, ``model.max_prompt_len``, which a
data config may set: conf/data/xlcost_java_cpp.yaml). The figures in that config come from here.

    python bench/reference_lengths.py --data xlcost_java_cpp --split test     # seconds
    python bench/reference_lengths.py --data synth_translation --split heldout --model tiny_causal

Prints, for the reference solutions (the targets) and the prompts: median, p90, p95, p99, max,
and the share that fits the configured length (and 96, the tiny models' own default).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def quantile(xs: list[int], q: float) -> int:
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def describe(name: str, lengths: list[int], limit: int) -> str:
    xs = sorted(lengths)
    fits = sum(x <= limit for x in xs) / len(xs)
    fits96 = sum(x <= 96 for x in xs) / len(xs)
    return (
        f"{name:<10} n={len(xs)} median={quantile(xs, 0.5)} p90={quantile(xs, 0.9)} "
        f"p95={quantile(xs, 0.95)} p99={quantile(xs, 0.99)} max={xs[-1]}  "
        f"fit {limit}: {fits:.3f}  fit 96: {fits96:.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="xlcost_java_cpp", help="a conf/data option")
    ap.add_argument("--model", default="tiny_t5", help="a conf/model option (its tokenizer)")
    ap.add_argument("--split", default=None, help="default: the data's test split")
    args = ap.parse_args()

    from hydra.utils import instantiate

    from execrl.tasks.evaluate import instantiate_problems
    from execrl.utils.config import compose

    cfg = compose("train", [f"data={args.data}", f"model={args.model}"], output_dir="/tmp")
    split = args.split or cfg.data.test_split
    problems = instantiate_problems(cfg.data).problems(split)
    tok = instantiate(cfg.model).tokenizer
    refs = [p.solutions[0] for p in problems if p.solutions]
    print(f"data={args.data} split={split} model={args.model} ({len(problems)} problems)")
    if refs:
        ids = tok(refs)["input_ids"]
        print(describe("targets", [len(i) for i in ids], cfg.model.max_new_tokens))
    ids = tok([p.prompt for p in problems])["input_ids"]
    print(describe("prompts", [len(i) for i in ids], cfg.model.max_prompt_len))


if __name__ == "__main__":
    main()
