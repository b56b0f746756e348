"""execrl.metrics.plots on hand-made inputs, ``evaluate.py plots=true``, and notebooks/results.ipynb
executed end to end on a tiny evaluate run, a tiny GRPO run and a hand-written learning.json."""

from __future__ import annotations

import json
import math

import pytest

from helpers.common import ROOT, compose

pytest.importorskip("matplotlib")
pytest.importorskip("pandas")

from execrl.metrics import plots

NOTEBOOK = ROOT / "notebooks" / "results.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LEARNING = {
    "args": {"seeds": [0, 1, 2]},
    "table": {
        "sft": {"per_seed": [0.10, 0.12, 0.11], "mean": 0.11, "stdev": 0.01},
        "sft_more": {"per_seed": [0.11, 0.13, 0.12], "mean": 0.12, "stdev": 0.01},
        "grpo": {"per_seed": [0.20, 0.25, 0.22], "mean": 0.2233, "stdev": 0.0252},
    },
    "curves": {
        "grpo": [
            [{"seconds": 0.0, "pass@1": 0.10}, {"seconds": 40.0, "pass@1": 0.20}],
            [
                {"seconds": 0.0, "pass@1": 0.12},
                {"seconds": 50.0, "pass@1": 0.30},
                {"seconds": 90.0, "pass@1": 0.31},
            ],
        ],
    },
}


def _outcomes(counts: dict[str, int]) -> list[dict]:
    return [
        {"task_id": f"t/{i}", "index": 0, "outcome": o} for o, n in counts.items() for i in range(n)
    ]


def _metrics() -> dict:
    return {
        "data": "apps",
        "split": "test",
        "pass@1": 0.2,
        "pass@2": 0.3,
        "pass@5": 0.5,
        "1@5": 0.4,
        "5@5": 0.5,
        "by_difficulty": {
            "introductory": {"pass@1": 0.4, "pass@5": 0.7},
            "interview": {"pass@1": 0.1, "pass@5": 0.3},
        },
        "translation": {
            "java->cpp": {
                "compile_rate": 0.9,
                "computational_accuracy": {"pass@1": 0.6, "outcomes": {}},
            }
        },
    }


# ---------------------------------------------------------------------------------- plot functions
def test_pass_at_k_curve_one_line_per_series_and_no_n_at_k():
    assert plots.pass_at_k_points(_metrics()) == [(1, 0.2), (2, 0.3), (5, 0.5)]
    ax = plots.pass_at_k_curve(_metrics()).axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"all", "introductory", "interview", "java->cpp (computational accuracy)"}
    assert list(lines["all"].get_xdata()) == [1, 2, 5] and list(lines["all"].get_ydata()) == [
        0.2,
        0.3,
        0.5,
    ]
    assert len(plots.pass_at_k_curve({"pass@1": 1.0, "1@5": 0.0}).axes[0].get_lines()) == 1
    assert (
        not plots.pass_at_k_curve({"samples": 0}).axes[0].get_lines()
    )  # no pass@k: an empty plot, no error


def test_outcome_distribution_one_bar_per_outcome():
    ax = plots.outcome_distribution(_outcomes({"failed": 2, "passed": 3, "timeout": 1})).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["passed", "failed", "timeout"]
    assert [p.get_height() for p in ax.patches] == [3, 2, 1]


def test_training_curves_picks_columns_and_drops_nans(tmp_path):
    nan = float("nan")
    rows = [  # train rows and a val row, as Lightning's CSVLogger writes them
        {
            "step": 0,
            "reward/mean": -1.0,
            "kl": 0.0,
            "beta": 0.02,
            "train/loss": 3.0,
            "val/pass@1": nan,
            "val/pass@10": nan,
            "timing_s/gen": 1.0,
        },
        {
            "step": 1,
            "reward/mean": -0.5,
            "kl": 0.1,
            "beta": 0.02,
            "train/loss": 2.0,
            "val/pass@1": nan,
            "val/pass@10": nan,
            "timing_s/gen": 1.0,
        },
        {
            "step": 1,
            "reward/mean": nan,
            "kl": nan,
            "beta": nan,
            "train/loss": nan,
            "val/pass@1": 0.25,
            "val/pass@10": 0.5,
            "timing_s/gen": nan,
        },
    ]
    import pandas as pd

    path = tmp_path / "metrics.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert plots.training_columns(list(rows[0])) == {
        "reward": "reward/mean",
        "KL": "kl",
        "beta": "beta",
        "loss": "train/loss",
        "val/pass@1": "val/pass@1",
    }
    # runs logged with today's key scheme (execrl.utils.tracking); the rows above are an older run's
    assert plots.training_columns(
        ["train/reward/mean", "train/kl", "train/beta", "train/loss"]
    ) == {
        "reward": "train/reward/mean",
        "KL": "train/kl",
        "beta": "train/beta",
        "loss": "train/loss",
    }
    fig = plots.training_curves(path)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5
    data = {ax.get_title(): ax.get_lines()[0].get_ydata() for ax in visible}
    assert len(data["reward (reward/mean)"]) == 2 and len(data["val/pass@1"]) == 1
    assert not any(math.isnan(v) for ys in data.values() for v in ys)
    # an SFT-only csv: just the loss panel
    pd.DataFrame([{"step": 0, "train/loss": 1.0}]).to_csv(path, index=False)
    assert [ax.get_title() for ax in plots.training_curves(path).axes if ax.get_visible()] == [
        "loss (train/loss)"
    ]


def test_learning_comparison_bars_errorbars_and_seed_dots():
    ax = plots.learning_comparison(LEARNING).axes[0]
    from matplotlib.container import BarContainer

    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_height() for b in bars] == [0.11, 0.12, 0.2233]
    assert list(bars.errorbar.lines[2][0].get_segments()[2][:, 1]) == pytest.approx(
        [0.2233 - 0.0252, 0.2233 + 0.0252]
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sft", "sft_more", "grpo"]
    dots = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
    assert sum(len(c.get_offsets()) for c in dots) == 9


def test_learning_curves_a_line_per_seed_and_a_mean_over_common_points():
    ax = plots.learning_curves(LEARNING).axes[0]
    lines = ax.get_lines()
    assert len(lines) == 3
    mean = next(ln for ln in lines if ln.get_label() == "grpo")
    assert list(mean.get_xdata()) == [0.0, 45.0] and list(mean.get_ydata()) == pytest.approx(
        [0.11, 0.25]
    )
    assert not plots.learning_curves({"table": {}}).axes[0].get_lines()


def test_save_evaluation_plots_writes_pngs(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(_metrics()))
    (tmp_path / "results.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in _outcomes({"passed": 1, "failed": 2})) + '{"torn'
    )
    paths = plots.save_evaluation_plots(tmp_path)
    assert [p.name for p in paths] == ["pass_at_k.png", "outcomes.png"]
    for p in paths:
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 1000


def test_save_learning_plots_writes_bars_and_curves_beside_the_json(tmp_path):
    path = tmp_path / "learning_x.json"
    path.write_text(json.dumps(LEARNING))
    paths = plots.save_learning_plots(path)
    assert [p.name for p in paths] == ["learning_x.png", "learning_x_curves.png"]
    for p in paths:
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 1000
    path.write_text(json.dumps({**LEARNING, "curves": {}}))
    assert [p.name for p in plots.save_learning_plots(path)] == ["learning_x.png"]


def test_stored_notebook_has_no_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


# ---------------------------------------------------------------------------------- the notebook
def _execute(env: dict[str, str | None], monkeypatch) -> list[dict]:
    """Run the notebook in a fresh python3 kernel (the venv's: jupyter_client swaps the kernelspec's
    ``python`` for sys.executable) and return every output."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    for k, v in env.items():  # the kernel inherits this process's environment
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, v)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _images(outputs: list[dict]) -> int:
    return sum(o["output_type"] == "display_data" and "image/png" in o["data"] for o in outputs)


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")


def test_notebook_on_tiny_runs(tmp_path, monkeypatch):
    from execrl.tasks.evaluate import evaluate
    from execrl.tasks.train import train

    ev = tmp_path / "eval"
    evaluate(
        compose(
            "evaluate", ["data=mbpp", "samples=reference", "split=all", "limit=3", "plots=true"], ev
        )
    )
    assert all(
        (ev / f).read_bytes()[:8] == PNG_MAGIC for f in ("pass_at_k.png", "outcomes.png")
    )  # evaluate.py plots=true

    tr = tmp_path / "train"
    train(
        compose(
            "train",
            [
                "algo=grpo",
                "warm_start.enabled=false",  # the default logger: wandb offline, and a CSV
                "callbacks=none",
                "+trainer.enable_checkpointing=false",
                "print_config=false",
                "trainer.max_steps=3",
                "trainer.val_check_interval=3",
                "trainer.log_every_n_steps=1",
                "data.val_limit=4",
                "data.batch_size=2",
                "data.val_batch_size=4",
                "algo.num_samples=2",
                "model.max_new_tokens=16",
                "data.reader.sizes={sft:50,rl:20,heldout:20,val:10}",
            ],
            tr,
        )
    )
    assert list(tr.glob("csv/version_*/metrics.csv")) and list(tr.glob("wandb/offline-run-*"))

    learning = tmp_path / "learning.json"
    learning.write_text(json.dumps(LEARNING))
    outputs = _execute(
        {
            "EXECRL_RUN_DIR": str(ev),
            "EXECRL_TRAIN_RUN_DIR": str(tr),
            "EXECRL_LEARNING_JSON": str(learning),
        },
        monkeypatch,
    )
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert "skipped" not in _text(outputs)
    assert (
        _images(outputs) == 5
    )  # pass@k, outcomes, training curves, learning comparison, learning curves
    tables = [o for o in outputs if o["output_type"] == "display_data" and "text/html" in o["data"]]
    assert any("pass@1" in t["data"]["text/html"] for t in tables)


def test_notebook_skips_missing_files(tmp_path, monkeypatch):
    missing = {
        k: str(tmp_path / "nothing" / k)
        for k in ("EXECRL_RUN_DIR", "EXECRL_TRAIN_RUN_DIR", "EXECRL_LEARNING_JSON")
    }
    outputs = _execute(missing, monkeypatch)
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert _images(outputs) == 0 and _text(outputs).count("skipped") == 5


def test_notebook_reads_only_the_runs_it_is_given(tmp_path, monkeypatch):
    """No "newest run" guess: with the run dirs unset, a run under logs/ is not picked up."""
    run = tmp_path / "logs" / "evaluate" / "runs" / "2030-01-01_00-00-00"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(_metrics()))
    outputs = _execute(
        {
            "PROJECT_ROOT": str(tmp_path),
            "EXECRL_RUN_DIR": None,
            "EXECRL_TRAIN_RUN_DIR": None,
            "EXECRL_LEARNING_JSON": None,
        },
        monkeypatch,
    )
    text = _text(outputs)
    assert not [o for o in outputs if o["output_type"] == "error"] and _images(outputs) == 0
    assert "set EXECRL_RUN_DIR" in text and "set EXECRL_TRAIN_RUN_DIR" in text
    assert text.count("skipped") == 5
