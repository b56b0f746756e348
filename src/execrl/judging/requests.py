"""Which request judges a program on a problem: its hidden or example tests, else a compile check."""

from __future__ import annotations

from typing import Literal

from execrl.data.conventions import program_text
from execrl.execution.protocol import Executor
from execrl.execution.request import ExecRequest
from execrl.vocabulary import ExecutionResult, Problem, Tests

Which = Literal["tests", "example"]


def example_tests(problem: Problem, fallback: str = "prompt") -> Tests | None:
    """The problem's example tests; with ``fallback=prompt`` the hidden asserts its prompt quotes
    (MBPP and HumanEval prompts show some of their tests)."""
    ex = problem.example_tests
    if ex is not None and len(ex):
        return ex
    t = problem.tests
    if fallback == "prompt" and t is not None and t.style == "assert":
        shown = [a for a in t.asserts if a.strip() and a.strip() in problem.prompt]
        if shown:
            return Tests(
                style="assert", asserts=shown, setup_code=t.setup_code, entry_points=t.entry_points
            )
    return None


def judge_request(
    problem: Problem,
    program: str,
    which: Which = "tests",
    early_exit: bool | None = None,
    example_fallback: str | None = None,
) -> ExecRequest:
    """The request that judges ``program`` on ``problem``: its hidden tests (``which="tests"``) or
    its example tests (``"example"``; with ``example_fallback="prompt"`` the tests its prompt
    quotes), else a compile check. ``early_exit=False`` runs every test (fraction rewards)."""
    if which == "example":
        tests = example_tests(problem, example_fallback or "none")
    elif which == "tests":
        tests = problem.tests
    else:
        raise ValueError(f"which must be 'tests' or 'example', got {which!r}")
    if tests is not None and len(tests):
        return ExecRequest(
            program=program,
            language=problem.language,
            tests=tests,
            mode="tests",
            early_exit=early_exit,
        )
    return compile_request(problem, program)


def compile_request(problem: Problem, program: str) -> ExecRequest:
    """Compile only (Python: byte-compile): PPOCoder's compiler signal."""
    return ExecRequest(program=program, language=problem.language, mode="compile")


def run_request(program: str, language: str, stdin: str = "") -> ExecRequest:
    """Compile and run once with ``stdin``; the verdict carries what it printed (translation)."""
    return ExecRequest(program=program, language=language, mode="run", stdin=stdin)


def judge_programs(
    problems: list[Problem],
    programs: list[str],
    executor: Executor,
    which: Which = "tests",
    early_exit: bool | None = None,
) -> list[ExecutionResult]:
    """Judge model outputs, ``programs[i]`` on ``problems[i]``, in one executor call (an XLCoST
    problem read as tokens gets its program detokenised first, as its references are)."""
    return executor.run(
        [
            judge_request(p, program_text(p, prog), which, early_exit)
            for p, prog in zip(problems, programs, strict=True)
        ]
    )
