"""Shared fakes for the RL algorithm tests: a deterministic fake executor and tiny problems."""

from __future__ import annotations

from execrl.data.problem import Problem, Tests
from execrl.execution.outcomes import ExecutionResult, Outcome


class ParityExecutor:
    """Judges a program by the parity of its length (so sampled groups get different rewards);
    ``infra_every`` > 0 makes every n-th request an infrastructure error."""

    def __init__(self, infra_every: int = 0) -> None:
        self.infra_every, self.requests = infra_every, []

    def run(self, requests):
        out = []
        for r in requests:
            self.requests.append(r)
            n = len(self.requests)
            if self.infra_every and n % self.infra_every == 0:
                out.append(ExecutionResult(outcome=Outcome.INFRA_ERROR))
            elif len(r.program) % 2 == 0:
                out.append(ExecutionResult(outcome=Outcome.PASSED, num_tests=1))
            else:
                out.append(ExecutionResult(outcome=Outcome.COMPILE_ERROR, num_tests=1))
        return out

    def close(self):
        pass


def problems(n: int = 8) -> list[Problem]:
    """Synthesis problems with one assert test and a Python reference solution."""
    return [
        Problem(
            task_id=f"p{i}", dataset="fake", prompt=f"Write a function that returns {i} plus x.",
            tests=Tests(style="assert", asserts=[f"assert f(1) == {i + 1}"]),
            solutions=[f"def f(x):\n    return x + {i}\n"],
        )
        for i in range(n)
    ]


def translation_problems(n: int = 8) -> list[Problem]:
    """XLCoST-shaped Java -> C++ problems: no tests, a C++ reference translation."""
    return [
        Problem(
            task_id=f"t{i}", dataset="fake", prompt=f"class A {{ static int f(int x) {{ return x + {i}; }} }}",
            language="cpp", source_language="java", source_code=f"class A {{ static int f(int x) {{ return x + {i}; }} }}",
            solutions=[f"int f(int x) {{ int y = x + {i}; return y; }}"],
        )
        for i in range(n)
    ]
