"""Figures of evaluation and training results (notebooks/results.ipynb, ``evaluate.py plots=true``).

Every function takes already-loaded data and returns a matplotlib ``Figure``; nothing is shown.
Figures are built with ``Figure`` + the Agg canvas rather than pyplot, so no global backend is
switched (a notebook keeps its inline backend) and nothing accumulates in pyplot's figure registry.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PASS_AT_K = re.compile(r"^pass@(\d+)$")
PASS_AT_1 = re.compile(r"pass@1(?!\d)")

# training_curves: panel title -> column names tried in order (the first present wins): the key
# scheme of execrl.utils.tracking first, then the unprefixed names of runs logged before it
TRAINING_PANELS: dict[str, tuple[str, ...]] = {
    "reward": ("train/reward/mean", "train/reward", "reward/mean", "reward"),
    "KL": ("train/kl", "kl"),
    "beta": ("train/beta", "beta", "kl_coef"),
    "loss": ("train/loss",),
}


def _figure(
    nrows: int = 1, ncols: int = 1, width: float = 6.0, height: float = 4.0
) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def pass_at_k_points(metrics: dict[str, Any]) -> list[tuple[int, float]]:
    """Sorted (k, pass@k) pairs of a metrics dict (``pass@<k>`` keys; n@k keys are not pass@k)."""
    pts = []
    for key, v in metrics.items():
        m = PASS_AT_K.match(key)
        if m and isinstance(v, (int, float)) and not isinstance(v, bool):
            pts.append((int(m.group(1)), float(v)))
    return sorted(pts)


def pass_at_k_curve(metrics: dict[str, Any]) -> Figure:
    """pass@k vs k from a metrics.json dict: overall, per difficulty, and per translation pair
    (computational accuracy); a line for each that has pass@k values."""
    series = {"all": pass_at_k_points(metrics)}
    for diff, m in (metrics.get("by_difficulty") or {}).items():
        series[str(diff)] = pass_at_k_points(m)
    for pair, m in (metrics.get("translation") or {}).items():
        series[f"{pair} (computational accuracy)"] = pass_at_k_points(
            m.get("computational_accuracy") or {}
        )
    fig, axes = _figure()
    ax = axes[0, 0]
    for name, pts in series.items():
        if pts:
            ks, vs = zip(*pts)
            ax.plot(ks, vs, marker="o", label=name, linestyle="-" if name == "all" else "--")
    ks_all = sorted({k for pts in series.values() for k, _ in pts})
    if len(ks_all) > 1 and ks_all[-1] / ks_all[0] > 10:
        ax.set_xscale("log")
    if ks_all:
        ax.set_xticks(ks_all, [str(k) for k in ks_all])
    else:
        ax.text(0.5, 0.5, "no pass@k in metrics", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k")
    title = ":".join(str(metrics[k]) for k in ("data", "split") if metrics.get(k))
    ax.set_title(f"pass@k {title}".strip())
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return fig


def outcome_distribution(results: list[dict[str, Any]]) -> Figure:
    """Bar chart of the ``outcome`` counts of results.jsonl records (one bar per outcome seen)."""
    counts = Counter(r.get("outcome", "?") for r in results)
    fig, axes = _figure()
    ax = axes[0, 0]
    names = sorted(counts, key=lambda o: (-counts[o], o))
    bars = ax.bar(names, [counts[o] for o in names], color="tab:blue")
    ax.bar_label(bars)
    ax.set_ylabel("samples")
    ax.set_title(f"outcomes ({sum(counts.values())} samples)")
    ax.tick_params(axis="x", labelrotation=30)
    return fig


def training_columns(columns: list[str]) -> dict[str, str]:
    """Panel title -> metrics.csv column to plot: reward, KL, beta, loss, and every pass@1-like column."""
    out = {}
    for title, candidates in TRAINING_PANELS.items():
        col = next((c for c in candidates if c in columns), None)
        if col is not None:
            out[title] = col
    for c in columns:
        if PASS_AT_1.search(c):
            out[c] = c
    return out


def training_curves(metrics_csv_path: str | Path) -> Figure:
    """One subplot per reward / KL / beta / loss / pass@1-like column of a Lightning CSVLogger
    ``metrics.csv`` against ``step`` (NaNs dropped: train and val rows are logged separately)."""
    import pandas as pd

    df = pd.read_csv(metrics_csv_path)
    x = "step" if "step" in df.columns else None
    panels = {t: c for t, c in training_columns(list(df.columns)).items() if df[c].notna().any()}
    n = max(len(panels), 1)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = _figure(nrows, ncols, width=4.0 * ncols, height=3.0 * nrows)
    flat = list(axes.flat)
    for ax, (title, col) in zip(flat, panels.items()):
        d = df[[c for c in (x, col) if c]].dropna()
        ax.plot(d[x] if x else d.index, d[col], marker="o" if len(d) < 20 else None, markersize=3)
        ax.set_title(title if title == col else f"{title} ({col})", fontsize="medium")
        ax.set_xlabel(x or "row")
        ax.grid(alpha=0.3)
    if not panels:
        flat[0].text(
            0.5,
            0.5,
            "no reward/KL/beta/loss/pass@1 columns",
            ha="center",
            va="center",
            transform=flat[0].transAxes,
        )
    for ax in flat[max(len(panels), 1) :]:
        ax.set_visible(False)
    return fig


def learning_comparison(learning: dict[str, Any]) -> Figure:
    """Mean held-out pass@1 per method (bench/results/learning.json) with stdev error bars and
    one dot per seed."""
    table = learning.get("table") or {}
    methods = list(table)
    fig, axes = _figure(width=max(4.0, 1.4 * len(methods) + 2))
    ax = axes[0, 0]
    means = [float(table[m].get("mean") or 0.0) for m in methods]
    stdevs = [float(table[m].get("stdev") or 0.0) for m in methods]
    ax.bar(
        range(len(methods)),
        means,
        yerr=stdevs,
        capsize=6,
        color="tab:blue",
        alpha=0.6,
        label="mean ± stdev",
    )
    for i, m in enumerate(methods):
        seeds = [float(v) for v in table[m].get("per_seed") or [] if v is not None]
        # spread the dots a little so equal seeds stay visible
        offsets = [(j - (len(seeds) - 1) / 2) * 0.08 for j in range(len(seeds))]
        ax.scatter(
            [i + o for o in offsets],
            seeds,
            color="black",
            s=18,
            zorder=3,
            label="seed" if i == 0 and seeds else None,
        )
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylabel("held-out pass@1")
    ax.set_title("RL vs more SFT (held-out pass@1)")
    ax.grid(axis="y", alpha=0.3)
    if methods:
        ax.legend(fontsize="small")
    return fig


def learning_curves(learning: dict[str, Any]) -> Figure:
    """Held-out pass@1 against wall-clock seconds per method (``curves`` of bench/learning.json):
    one thin line per seed, a thick line for the point-by-point mean."""
    curves = learning.get("curves") or {}
    fig, axes = _figure(width=7.0)
    ax = axes[0, 0]
    for i, (m, seeds) in enumerate(curves.items()):
        color = f"C{i}"
        for c in seeds:
            ax.plot(
                [p["seconds"] for p in c], [p["pass@1"] for p in c], color=color, alpha=0.3, lw=1
            )
        n = min((len(c) for c in seeds), default=0)
        if n:
            mean = [
                [sum(c[j][k] for c in seeds) / len(seeds) for j in range(n)]
                for k in ("seconds", "pass@1")
            ]
            ax.plot(*mean, color=color, lw=2.5, marker="o", label=m)
    ax.set_xlabel("seconds since launch (from the shared starting checkpoint)")
    ax.set_ylabel("held-out pass@1")
    ax.set_title("held-out pass@1 vs wall clock")
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize="small")
    else:
        ax.text(
            0.5,
            0.5,
            "no curves (bench/learning.py --curve-every)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    return fig


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSON Lines file (a torn last line of an interrupted run is skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def save_evaluation_plots(run_dir: str | Path) -> list[Path]:
    """Write ``pass_at_k.png`` and ``outcomes.png`` of an evaluate run dir; returns their paths."""
    run_dir = Path(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    results = read_jsonl(run_dir / "results.jsonl")
    paths = []
    for name, fig in (
        ("pass_at_k.png", pass_at_k_curve(metrics)),
        ("outcomes.png", outcome_distribution(results)),
    ):
        fig.savefig(run_dir / name, dpi=100)
        paths.append(run_dir / name)
    return paths


def save_learning_plots(learning_json: str | Path) -> list[Path]:
    """Write ``<stem>.png`` (pass@1 per method) and, with curves, ``<stem>_curves.png`` beside a
    bench/learning.py JSON; returns their paths."""
    path = Path(learning_json)
    learning = json.loads(path.read_text())
    figures = [(path.with_suffix(".png"), learning_comparison(learning))]
    if learning.get("curves"):
        figures.append((path.with_name(path.stem + "_curves.png"), learning_curves(learning)))
    for out, fig in figures:
        fig.savefig(out, dpi=100)
    return [out for out, _ in figures]
