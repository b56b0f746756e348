"""HumanEval's ``check(candidate)`` tests, judged outside the sandbox.

Three real HumanEval problems (openai/human-eval, MIT licence: HumanEval/0, /32, /38), chosen for
what the judge must get right: a plain loop of asserts, a test that calls a helper the prompt
defines (``poly``, ``encode_cyclic``) on the candidate's results, random inputs, ``copy``,
``math``. The program is prompt + canonical solution, as a HumanEval sample is; the test code
(``check`` and the call ``check(entry_point)``) runs in the judge.
"""

from __future__ import annotations

import pytest

from execrl.execution import ExecRequest, Outcome
from execrl.vocabulary import Tests

HE0 = (
    "has_close_elements",
    """from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True
    return False
""",
    """
METADATA = {'author': 'jt', 'dataset': 'test'}


def check(candidate):
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False
    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False
""",
)

HE32 = (
    "find_zero",
    """import math


def poly(xs: list, x: float):
    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])


def find_zero(xs: list):
    begin, end = -1., 1.
    while poly(xs, begin) * poly(xs, end) > 0:
        begin *= 2.0
        end *= 2.0
    while end - begin > 1e-10:
        center = (begin + end) / 2.0
        if poly(xs, center) * poly(xs, begin) > 0:
            begin = center
        else:
            end = center
    return begin
""",
    """
METADATA = {}


def check(candidate):
    import math
    import random
    rng = random.Random(42)
    import copy
    for _ in range(100):
        ncoeff = 2 * rng.randint(1, 4)
        coeffs = []
        for _ in range(ncoeff):
            coeff = rng.randint(-10, 10)
            if coeff == 0:
                coeff = 1
            coeffs.append(coeff)
        solution = candidate(copy.deepcopy(coeffs))
        assert math.fabs(poly(coeffs, solution)) < 1e-4
""",
)

HE38 = (
    "decode_cyclic",
    """def encode_cyclic(s: str):
    groups = [s[(3 * i):min((3 * i + 3), len(s))] for i in range((len(s) + 2) // 3)]
    groups = [(group[1:] + group[0]) if len(group) == 3 else group for group in groups]
    return "".join(groups)


def decode_cyclic(s: str):
    return encode_cyclic(encode_cyclic(s))
""",
    """
METADATA = {}


def check(candidate):
    from random import randint, choice
    import string

    letters = string.ascii_lowercase
    for _ in range(100):
        str = ''.join(choice(letters) for i in range(randint(10, 20)))
        encoded_str = encode_cyclic(str)
        assert candidate(encoded_str) == str
""",
)

# one wrong completion per problem: off by one, the wrong root, one cyclic shift instead of two
WRONG = {
    "has_close_elements": ("distance < threshold", "distance <= threshold / 2"),
    "find_zero": ("return begin", "return begin + 0.5"),
    "decode_cyclic": ("return encode_cyclic(encode_cyclic(s))", "return encode_cyclic(s)"),
}


def _tests_of(entry: str, test: str) -> Tests:
    return Tests(style="assert", asserts=[test + f"\ncheck({entry})\n"], entry_points=[entry])


@pytest.mark.parametrize("problem", [HE0, HE32, HE38], ids=lambda p: p[0])
def test_canonical_solution_passes_and_a_wrong_one_fails(executor, problem) -> None:
    entry, program, test = problem
    old, new = WRONG[entry]
    right, wrong = executor.run(
        [
            ExecRequest(program=program, tests=_tests_of(entry, test)),
            ExecRequest(program=program.replace(old, new), tests=_tests_of(entry, test)),
        ]
    )
    assert right.outcome is Outcome.PASSED, right
    assert wrong.outcome is Outcome.FAILED and wrong.error_type == "AssertionError", wrong
    assert right.weak_tests == 0
