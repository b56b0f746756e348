"""HumanEval-style problems (Chen et al. 2021): rows with ``task_id, prompt, test, entry_point``
(and ``canonical_solution``), as in ``HumanEval.jsonl.gz`` and files converted to its format
(MBPP in HumanEval form, MultiPL-E's Python, ...).

A completion is either the body that continues ``prompt`` (HumanEval's own format) or a whole
program (an instruct model's answer): :func:`complete_program` turns both into the program that
is run, the prompt followed by the completion, as the official harness runs it (so a whole
program still gets the prompt's imports and helpers). The tests are ``test``
(``def check(candidate): assert ...``) followed by ``check(<entry_point>)``; a ``test`` without
``check`` is run as it is (plain asserts). The judge runs them after the prompt itself, so the
helpers a test calls (HumanEval/32's ``poly``, /38's ``encode_cyclic``) are the dataset's, never
the program's; only the entry point is the program's.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from execrl.data.conventions import DEFAULT, DatasetConventions, conventions_of, register
from execrl.data.reader import Reader
from execrl.schema.data import HumanEvalReaderConfig
from execrl.vocabulary import Problem, Tests

SPLITS = ("test", "all")  # HumanEval has one split
# a completion continues the prompt's function: whatever starts at column 0 after it ends it
CONVENTIONS = register(
    "humaneval",
    DatasetConventions(
        stop=("\nclass ", "\ndef ", "\n#", "\nif __name__", "\nprint("),
        instruct_stop=("\nif __name__", "\nassert ", "\nprint("),
    ),
)


def check_tests(test: str, entry_point: str, prompt: str = "") -> Tests:
    """HumanEval's ``check(candidate)`` called on the entry point, as one assert-style test, with
    the prompt as the dataset's setup code (its imports and helpers, judge-side) where it is
    Python (a converted dataset's prompt may be prose)."""
    src = test.rstrip()
    if re.search(r"^def check\(", src, re.M):
        src += f"\n\ncheck({entry_point})\n"
    setup = prompt if is_python(prompt) else ""
    return Tests(style="assert", asserts=[src], setup_code=setup, entry_points=[entry_point])


@functools.lru_cache(maxsize=1024)
def is_python(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def defines(program: str, name: str) -> bool:
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", program, re.M) is not None


def complete_program(problem: Problem, completion: str) -> str:
    """The program to run: the HumanEval prompt (imports, helpers, signature, docstring) followed
    by the completion, as the official harness runs it. A completion that defines the entry
    point itself (a whole program) follows the prompt on a new line, and its definition
    replaces the prompt's stub; after a prompt that is not Python, it runs alone."""
    entry = problem.meta.get("entry_point")
    if not entry:
        return completion
    prompt = problem.meta.get("completion_prompt") or problem.prompt
    if defines(completion, entry):
        if not is_python(prompt):
            return completion
        if not prompt.endswith("\n"):
            prompt += "\n"
    return prompt + completion


class HumanEvalReader(Reader):
    """Reads ``.jsonl``, ``.jsonl.gz`` or a ``.json`` list of HumanEval-style rows. Splits: ``test``
    and ``all`` (the same problems). ``dataset`` names the problems' dataset (``humaneval``); a
    dataset registered by no other reader gets HumanEval's conventions (the same prompt format)."""

    Config = HumanEvalReaderConfig

    def __init__(self, config: HumanEvalReaderConfig | None = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.dataset = self.config.dataset
        if conventions_of(self.dataset) is DEFAULT:
            register(self.dataset, CONVENTIONS)

    def read(self, path: str | None, split: str) -> list[Problem]:
        p = self.require(
            path, "HumanEval.jsonl.gz (or any jsonl with task_id/prompt/test/entry_point)"
        )
        if split not in SPLITS:
            raise ValueError(f"HumanEval-style data has splits {SPLITS}, got {split!r}")
        out = []
        for where, row in self.json_rows(p):
            if row is None:
                continue
            try:
                tid, prompt, test, entry = (
                    str(row["task_id"]),
                    row["prompt"],
                    row["test"],
                    row["entry_point"],
                )
            except (KeyError, TypeError) as e:
                self.bad_record(p, where, f"missing field {e}")
                continue
            if not all(isinstance(x, str) and x.strip() for x in (prompt, test, entry)):
                self.bad_record(p, where, "prompt, test and entry_point must be non-empty strings")
                continue
            canonical = row.get("canonical_solution")
            out.append(
                Problem(
                    task_id=tid,
                    dataset=self.dataset,
                    prompt=prompt,
                    language="python",
                    tests=check_tests(test, entry, prompt),
                    solutions=[prompt + canonical] if isinstance(canonical, str) else [],
                    split=split,
                    meta={"entry_point": entry},
                )
            )
        return out
