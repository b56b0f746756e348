"""MBPP (Austin et al. 2021): ``mbpp.jsonl`` (974 problems) and ``sanitized-mbpp.json`` (427)."""

from __future__ import annotations

import ast
import builtins

from execrl.data.conventions import DatasetConventions, register
from execrl.data.prompting import task_prompt
from execrl.data.reader import Reader
from execrl.schema.data import MBPPReaderConfig
from execrl.vocabulary import Problem, Tests

# Standard task-id ranges (Austin et al.): prompt 1-10, test 11-510, validation 511-600, train 601-974.
# "trainval": train and validation together (RL on the real model trains on both, judged on test).
SPLITS = {
    "prompt": (1, 10),
    "test": (11, 510),
    "validation": (511, 600),
    "train": (601, 974),
    "trainval": (511, 974),
    "all": (1, 974),
}


def mbpp_prompt(text: str, tests: list[str]) -> str:
    """The Austin et al. prompt up to the code: the description, the three tests the code must
    pass, and the ``[BEGIN]`` marker (a completion ends at ``[DONE]``)."""
    return (
        f"You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:\n\n"
        + "\n".join(tests)
        + "\n[BEGIN]\n"
    )


def mbpp_instruction(text: str, first_test: str) -> str:
    """evalplus' MBPP task: the description and the first test inside a docstring."""
    return f'"""\n{text.strip()}\n{first_test.strip()}\n"""'


def instruct_prompt(problem: Problem) -> str:
    """evalplus' MBPP instruct prompt: the description and the first test only."""
    if not problem.tests.asserts:
        return task_prompt(problem, problem.prompt)
    text = problem.meta.get("text") or problem.prompt
    return task_prompt(problem, mbpp_instruction(text, problem.tests.asserts[0]))


DATASET = "mbpp"
CONVENTIONS = register(
    DATASET,
    DatasetConventions(
        # a completion ends at Austin et al.'s [DONE]; test code the model goes on with is cut
        stop=("[DONE]", "\nassert ", "\nif __name__", "\nprint("),
        instruct_stop=("\nif __name__", "\nassert ", "\nprint("),
        instruct_prompt=instruct_prompt,
    ),
)


def builtin_entry_points(reference: str, tests: list[str]) -> list[str]:
    """Builtin names the tests call that the reference solution defines (MBPP 126's ``sum``):
    those names are the program's in the judge, not the builtins."""
    try:
        defined = {
            n.name
            for n in ast.parse(reference).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))
        }
        called = {
            n.func.id
            for t in tests
            for n in ast.walk(ast.parse(t))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
    except SyntaxError:
        return []
    return sorted(n for n in defined & called if hasattr(builtins, n))


class MBPPReader(Reader):
    """Reads ``mbpp.jsonl`` (fields text/code/test_list/test_setup_code) or the sanitized JSON
    (prompt/code/test_list/test_imports). Splits: ``train``, ``validation``, ``test``, ``prompt``, ``all``."""

    Config = MBPPReaderConfig

    def read(self, path: str | None, split: str) -> list[Problem]:
        p = self.require(path, "mbpp.jsonl or sanitized-mbpp.json")
        if split not in SPLITS:
            raise ValueError(f"MBPP split {split!r} unknown; choose one of {sorted(SPLITS)}")
        lo, hi = SPLITS[split]
        out = []
        for i, row in self.json_rows(p):
            if row is None:
                continue
            try:
                tid = int(row["task_id"])
                text = row.get("text", row.get("prompt"))
                code, tests = row["code"], row["test_list"]
            except (KeyError, TypeError, ValueError) as e:
                self.bad_record(p, i, f"missing or bad field {e}")
                continue
            if not isinstance(code, str) or not isinstance(tests, list):
                self.bad_record(p, i, "code must be a string and test_list a list")
                continue
            if not lo <= tid <= hi:
                continue
            if not isinstance(text, str) or not tests:
                self.bad_record(p, f"task_id {tid}", "empty description or empty test_list")
                continue
            setup = "\n".join(
                [row.get("test_setup_code") or "", *(row.get("test_imports") or [])]
            ).strip()
            out.append(
                Problem(
                    task_id=f"mbpp/{tid}",
                    dataset=DATASET,
                    prompt=mbpp_prompt(text, tests),
                    language="python",
                    tests=Tests(
                        style="assert",
                        asserts=list(tests),
                        setup_code=setup,
                        entry_points=builtin_entry_points(code, tests),
                    ),
                    solutions=[code.replace("\r\n", "\n")],
                    split=split,
                    meta={
                        "text": text,
                        "challenge_test_list": row.get("challenge_test_list") or [],
                    },
                )
            )
        return out
