"""APPS (Hendrycks et al. 2021): per-problem folders or HF-style rows, with CodeRL's two prompt formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from execrl.data.problem import Problem, Tests
from execrl.data.reader import Reader


def training_prompt(question: str, starter: str | None) -> str:
    """CodeRL's training prompt (apps_dataset.py): call-based iff a starter exists; extra newlines."""
    answer_type = "\nUse Call-Based format\n" if starter else "\nUse Standard Input format\n"
    return "\nQUESTION:\n" + question + "\n" + (starter or "") + "\n" + answer_type + "\nANSWER:\n"


def inference_prompt(question: str, starter: str | None, fn_name: str | None) -> str:
    """CodeRL's inference/critic prompt (generate.py): call-based iff ``fn_name`` is set."""
    out = "\nQUESTION:\n" + question
    if starter:
        out += "\n" + starter
    out += "\nUse Call-Based format" if fn_name else "\nUse Standard Input format"
    return out + "\nANSWER:\n"


def tests_from_io(io: dict[str, Any] | None) -> Tests:
    """``input_output.json`` -> call-based tests when ``fn_name`` is set, else stdin/stdout."""
    if not io:
        return Tests()
    fn = io.get("fn_name")
    return Tests(style="call" if fn else "stdio", inputs=list(io["inputs"]), outputs=list(io["outputs"]), fn_name=fn)


class APPSReader(Reader):
    """``path`` is a folder holding ``<split>/<id>/`` problem folders, or a ``.jsonl``/``.parquet``
    file of HF-style rows (``problem_id, question, solutions, input_output, difficulty, url,
    starter_code``; JSON columns may be strings). ``example_tests_dir`` is CodeRL's
    ``APPS_test_example_tests`` (``<id>/example_input_output.json``), used by Critic Sampling."""

    def __init__(self, on_error: str = "raise", example_tests_dir: str | None = None, require_tests: bool = True) -> None:
        super().__init__(on_error)
        self.example_tests_dir = Path(example_tests_dir) if example_tests_dir else None
        self.require_tests = require_tests

    def read(self, path: str | None, split: str) -> list[Problem]:
        root = self.require(path, "an APPS folder (<split>/<id>/) or a jsonl/parquet file")
        if root.is_file():
            return [p for p in (self._from_row(root, i, row, split) for i, row in self._file_rows(root)) if p]
        folder = root / split
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no APPS split {split!r} here (expected {root}/{split}/<id>/question.txt)")
        return [p for p in (self._from_folder(d, split) for d in sorted(folder.iterdir()) if d.is_dir()) if p]

    # ------------------------------------------------------------------ folders
    def _from_folder(self, d: Path, split: str) -> Problem | None:
        try:
            question = (d / "question.txt").read_text()
        except FileNotFoundError:
            self.bad_record(d / "question.txt", d.name, "missing question.txt")
            return None
        fields: dict[str, Any] = {}
        for name in ("input_output", "solutions", "metadata"):
            f = d / f"{name}.json"
            if not f.exists():
                fields[name] = None
                continue
            try:
                fields[name] = json.loads(f.read_text())
            except json.JSONDecodeError as e:
                self.bad_record(f, d.name, f"bad JSON: {e}")
                return None
        starter = (d / "starter_code.py").read_text() if (d / "starter_code.py").exists() else None
        example_file = d / "example_input_output.json"
        return self._problem(
            str(d), d.name, split, question, fields["input_output"], fields["solutions"] or [],
            (fields["metadata"] or {}).get("difficulty"), starter, (fields["metadata"] or {}).get("url"),
            json.loads(example_file.read_text()) if example_file.exists() else None,
        )

    # ------------------------------------------------------------------ HF rows
    def _file_rows(self, f: Path):
        if f.suffix == ".parquet":
            import pandas as pd

            yield from enumerate(pd.read_parquet(f).to_dict("records"))
            return
        with open(f) as fh:
            for i, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield i, json.loads(line)
                    except json.JSONDecodeError as e:
                        self.bad_record(f, f"line {i}", f"bad JSON: {e}")

    def _from_row(self, f: Path, i: int, row: dict[str, Any], split: str) -> Problem | None:
        def js(v: Any) -> Any:
            if isinstance(v, str):
                return json.loads(v) if v.strip() else None
            return v

        try:
            pid = str(row.get("problem_id", i))
            question = row["question"]
            io, sols = js(row.get("input_output")), js(row.get("solutions")) or []
        except (KeyError, json.JSONDecodeError) as e:
            self.bad_record(f, f"line {i}", f"missing or bad field: {e}")
            return None
        return self._problem(str(f), pid, split, question, io, sols, row.get("difficulty"), row.get("starter_code") or None, row.get("url"), None)

    # ------------------------------------------------------------------ shared
    def _problem(self, where, pid, split, question, io, sols, difficulty, starter, url, examples) -> Problem | None:
        try:
            tests = tests_from_io(io)
        except (KeyError, TypeError) as e:
            self.bad_record(where, pid, f"input_output.json lacks inputs/outputs: {e}")
            return None
        if self.require_tests and len(tests) == 0:
            self.bad_record(where, pid, "no tests (input_output.json missing or empty)")
            return None
        if examples is None and self.example_tests_dir is not None:
            f = self.example_tests_dir / pid / "example_input_output.json"
            examples = json.loads(f.read_text()) if f.exists() else None
        fn = tests.fn_name
        example_tests = tests_from_io({**examples, "fn_name": fn}) if examples else None
        return Problem(
            task_id=f"apps/{split}/{pid}",
            dataset="apps",
            prompt=inference_prompt(question, starter, fn),
            train_prompt=training_prompt(question, starter),
            language="python",
            tests=tests,
            example_tests=example_tests,
            solutions=[s for s in sols if isinstance(s, str)],
            difficulty=difficulty,
            split=split,
            starter_code=starter,
            meta={"url": url},
        )


def read_example_tests(folder: str | Path) -> dict[str, dict | None]:
    """CodeRL's extracted example tests: ``{problem id: {"inputs", "outputs"} or None}``."""
    out = {}
    for d in sorted(Path(folder).iterdir()):
        f = d / "example_input_output.json"
        if f.exists():
            out[d.name] = json.loads(f.read_text())
    return out
