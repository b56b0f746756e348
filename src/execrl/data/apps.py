"""APPS (Hendrycks et al. 2021): per-problem folders or HF-style rows, with CodeRL's two prompt formats."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from execrl.data import prompting
from execrl.data.conventions import DatasetConventions, register
from execrl.data.reader import Reader
from execrl.schema.data import APPSReaderConfig
from execrl.vocabulary import DataError, Problem, Tests


def training_prompt(question: str, starter: str | None) -> str:
    """CodeRL's training prompt (apps_dataset.py): call-based iff a starter exists; extra newlines."""
    answer_type = "\nUse Call-Based format\n" if starter else "\nUse Standard Input format\n"
    return "\nQUESTION:\n" + question + "\n" + (starter or "") + "\n" + answer_type + "\nANSWER:\n"


def inference_prompt(
    question: str, starter: str | None, fn_name: str | None, has_io: bool = True
) -> str:
    """CodeRL's inference/critic prompt (generate.py): call-based iff ``fn_name`` is set, or,
    without an ``input_output.json``, iff a starter exists."""
    out = "\nQUESTION:\n" + question
    if starter:
        out += "\n" + starter
    call = bool(fn_name) if has_io else bool(starter)
    out += "\nUse Call-Based format" if call else "\nUse Standard Input format"
    return out + "\nANSWER:\n"


def question(prompt: str) -> str:
    """The question of CodeRL's APPS prompt (``\\nQUESTION:\\n...\\nUse ... format\\nANSWER:\\n``)."""
    q = prompt.split("QUESTION:\n", 1)[-1]
    q = re.sub(r"\n(?:Use Call-Based format|Use Standard Input format)?\s*\nANSWER:\n?\s*$", "", q)
    return q.strip()


def instruct_prompt(problem: Problem) -> str:
    """The question (and starter code) in the instruct template; a stdin/stdout problem says
    where its input comes from and its answer opens a script."""
    task = question(problem.prompt)
    if problem.starter_code and problem.starter_code.strip():
        task += f"\nComplete this starter code:\n{problem.starter_code.strip()}"
    if problem.tests.style != "stdio":
        return prompting.task_prompt(problem, task)
    name = prompting.LANG_NAMES.get(problem.language, problem.language)
    user = (
        f"{prompting.INSTRUCTION.format(lang=name)}\n{prompting.block(task)}\nThe script reads its input from standard input "
        "and prints the answer to standard output."
    )
    return prompting.chat_prompt(
        user,
        f"Below is a {name} script that solves the problem:\n{prompting.open_block(problem.language)}",
    )


DATASET = "apps"
# no stop sequences: a program may go on after any line; instruct prompts ask the question
CONVENTIONS = register(DATASET, DatasetConventions(instruct_prompt=instruct_prompt))


def tests_from_io(io: dict[str, Any] | None) -> Tests:
    """``input_output.json`` -> call-based tests when ``fn_name`` is set, else stdin/stdout."""
    if not io:
        return Tests()
    fn = io.get("fn_name")
    if len(io["inputs"]) != len(io["outputs"]):
        raise ValueError(f"{len(io['inputs'])} inputs but {len(io['outputs'])} outputs")
    return Tests(
        style="call" if fn else "stdio",
        inputs=list(io["inputs"]),
        outputs=list(io["outputs"]),
        fn_name=fn,
    )


class APPSReader(Reader):
    """``path`` is a folder holding ``<split>/<id>/`` problem folders, or a ``.jsonl``/``.parquet``
    file of HF-style rows (``problem_id, question, solutions, input_output, difficulty, url,
    starter_code``; JSON columns may be strings). ``example_tests_dir`` is CodeRL's
    ``APPS_test_example_tests`` (``<id>/example_input_output.json``), used by Critic Sampling;
    when unset, ``<path>/<split>_example_tests`` or ``<path>/../APPS_<split>_example_tests`` is
    used if it exists (the shipped ``data/apps/test_example_tests``)."""

    Config = APPSReaderConfig

    def __init__(self, config: APPSReaderConfig | None = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        examples = self.config.example_tests_dir
        self.example_tests_dir = Path(examples) if examples else None
        self.require_tests = self.config.require_tests
        self._examples: Path | None = self.example_tests_dir

    def read(self, path: str | None, split: str) -> list[Problem]:
        root = self.require(path, "an APPS folder (<split>/<id>/) or a jsonl/parquet file")
        self._examples = self.example_tests_dir
        if self._examples is None:
            base = root if root.is_dir() else root.parent
            found = [
                d
                for d in (
                    base / f"{split}_example_tests",
                    base.parent / f"APPS_{split}_example_tests",
                )
                if d.is_dir()
            ]
            self._examples = found[0] if found else None
        if root.is_file():
            return [
                p
                for p in (self._from_row(root, i, row, split) for i, row in self._file_rows(root))
                if p
            ]
        folder = root / split
        if not folder.is_dir():
            raise DataError(
                str(folder),
                None,
                f"no APPS split {split!r} here: expected {folder}/<id>/question.txt (set data.path=...)",
            )
        return [
            p
            for p in (self._from_folder(d, split) for d in sorted(folder.iterdir()) if d.is_dir())
            if p
        ]

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
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                self.bad_record(f, d.name, f"bad JSON: {e}")
                return None
        starter = (d / "starter_code.py").read_text() if (d / "starter_code.py").exists() else None
        example_file = d / "example_input_output.json"
        examples = self._load_examples(example_file, d.name) if example_file.exists() else None
        meta = fields["metadata"] if isinstance(fields["metadata"], dict) else {}
        return self._problem(
            str(d / "input_output.json"),
            d.name,
            split,
            question,
            fields["input_output"],
            fields["solutions"] or [],
            meta.get("difficulty"),
            starter or None,
            meta.get("url"),
            examples,
        )

    def _load_examples(self, f: Path, pid: str) -> dict | None:
        try:
            return json.loads(f.read_text())  # may be JSON null: no examples in the statement
        except json.JSONDecodeError as e:
            self.bad_record(f, pid, f"bad JSON: {e}")
            return None

    # ------------------------------------------------------------------ HF rows
    def _file_rows(self, f: Path):
        if f.suffix == ".parquet":
            try:
                import pandas as pd
            except ImportError as e:  # pandas is a dev extra
                raise DataError(
                    str(f),
                    None,
                    "reading parquet needs pandas and pyarrow (pip install pandas pyarrow)",
                ) from e

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

        record = f"line {i}" if f.suffix != ".parquet" else f"row {i}"
        try:
            pid = row.get("problem_id", i)
            # HF ids are ints; CodeRL folders and example tests use 4-digit names
            pid = f"{int(pid):04d}" if str(pid).isdigit() else str(pid)
            question = row["question"]
            io, sols = js(row.get("input_output")), js(row.get("solutions")) or []
        except (KeyError, json.JSONDecodeError) as e:
            self.bad_record(f, record, f"missing or bad field: {e!r}")
            return None
        if not isinstance(question, str):
            self.bad_record(f, record, "question is not a string")
            return None
        return self._problem(
            f"{f} ({record})",
            pid,
            split,
            question,
            io,
            sols,
            row.get("difficulty"),
            row.get("starter_code") or None,
            row.get("url"),
            None,
        )

    # ------------------------------------------------------------------ shared
    def _problem(
        self, where, pid, split, question, io, sols, difficulty, starter, url, examples
    ) -> Problem | None:
        try:
            tests = tests_from_io(io)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            self.bad_record(where, pid, f"input_output lacks aligned inputs/outputs: {e!r}")
            return None
        if self.require_tests and len(tests) == 0:
            self.bad_record(where, pid, "no tests (input_output.json missing or empty)")
            return None
        if examples is None and self._examples is not None:
            f = self._examples / pid / "example_input_output.json"
            examples = self._load_examples(f, pid) if f.exists() else None
        fn = tests.fn_name
        try:
            example_tests = tests_from_io({**examples, "fn_name": fn}) if examples else None
        except (KeyError, TypeError, ValueError) as e:
            self.bad_record(where, pid, f"example_input_output.json: {e!r}")
            return None
        return Problem(
            task_id=f"apps/{split}/{pid}",
            dataset=DATASET,
            prompt=inference_prompt(question, starter, fn, has_io=bool(io)),
            train_prompt=training_prompt(question, starter),
            language="python",
            tests=tests,
            example_tests=example_tests,
            solutions=[s for s in sols if isinstance(s, str)],
            difficulty=difficulty,
            split=split,
            starter_code=starter,
            meta={"url": url, "problem_id": pid},
        )


def read_example_tests(folder: str | Path) -> dict[str, dict | None]:
    """CodeRL's extracted example tests: ``{problem id: {"inputs", "outputs"} or None}``."""
    out = {}
    for d in sorted(Path(folder).iterdir()):
        f = d / "example_input_output.json"
        if f.exists():
            out[d.name] = json.loads(f.read_text())
    return out
