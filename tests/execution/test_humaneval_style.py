"""HumanEval's ``check(candidate)`` tests, judged outside the sandbox.

Five problems in HumanEval's shape (after openai/human-eval, MIT licence: HumanEval/0, /10, /32,
/38, /50; docstrings shortened), chosen for what the judge must get right: a plain loop of
asserts, a prompt whose helpers the solution uses (``is_palindrome``, ``poly``), a test that
calls a helper the prompt defines on the candidate's results (``poly``, ``encode_cyclic``,
``encode_shift``), random inputs, ``copy``, ``math``. Problems are built as the HumanEval reader
builds them (:func:`execrl.data.humaneval.check_tests`) and programs as a sample is turned into
one (:func:`execrl.data.humaneval.complete_program`). The official harness (prompt + completion +
test + ``check(entry_point)`` in one namespace) is run beside execrl as the reference.
"""

from __future__ import annotations

import pytest

from execrl.data.humaneval import check_tests, complete_program
from execrl.execution import ExecRequest, Outcome
from execrl.vocabulary import Problem

from helpers.naive_harness import check_rejected, naive_assert_concat, with_canary

# (entry point, prompt, canonical completion, test)
HE0 = (
    "has_close_elements",
    '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    """
''',
    """    for idx, elem in enumerate(numbers):
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

HE10 = (
    "make_palindrome",
    '''

def is_palindrome(string: str) -> bool:
    """ Test if given string is a palindrome """
    return string == string[::-1]


def make_palindrome(string: str) -> str:
    """ Find the shortest palindrome that begins with a supplied string.
    >>> make_palindrome('cat')
    'catac'
    """
''',
    """    if not string:
        return ''

    beginning_of_suffix = 0

    while not is_palindrome(string[beginning_of_suffix:]):
        beginning_of_suffix += 1

    return string + string[:beginning_of_suffix][::-1]
""",
    """

METADATA = {
    'author': 'jt',
    'dataset': 'test'
}


def check(candidate):
    assert candidate('') == ''
    assert candidate('x') == 'x'
    assert candidate('xyz') == 'xyzyx'
    assert candidate('xyx') == 'xyx'
    assert candidate('jerry') == 'jerryrrej'
""",
)

HE32 = (
    "find_zero",
    '''import math


def poly(xs: list, x: float):
    """
    Evaluates polynomial with coefficients xs at point x.
    """
    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])


def find_zero(xs: list):
    """ xs are coefficients of a polynomial; find_zero finds x such that poly(x) = 0. """
''',
    """    begin, end = -1., 1.
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
    '''

def encode_cyclic(s: str):
    """
    returns encoded string by cycling groups of three characters.
    """
    # split string to groups. Each of length 3.
    groups = [s[(3 * i):min((3 * i + 3), len(s))] for i in range((len(s) + 2) // 3)]
    # cycle elements in each group. Unless group has fewer elements than 3.
    groups = [(group[1:] + group[0]) if len(group) == 3 else group for group in groups]
    return "".join(groups)


def decode_cyclic(s: str):
    """
    takes as input string encoded with encode_cyclic function. Returns decoded string.
    """
''',
    "    return encode_cyclic(encode_cyclic(s))\n",
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

HE50 = (
    "decode_shift",
    '''

def encode_shift(s: str):
    """
    returns encoded string by shifting every character by 5 in the alphabet.
    """
    return "".join([chr(((ord(ch) + 5 - ord("a")) % 26) + ord("a")) for ch in s])


def decode_shift(s: str):
    """
    takes as input string encoded with encode_shift function. Returns decoded string.
    """
''',
    '    return "".join([chr(((ord(ch) - 5 - ord("a")) % 26) + ord("a")) for ch in s])\n',
    """

METADATA = {}


def check(candidate):
    from random import randint, choice
    import copy
    import string

    letters = string.ascii_lowercase
    for _ in range(100):
        str = ''.join(choice(letters) for i in range(randint(10, 20)))
        encoded_str = encode_shift(str)
        assert candidate(copy.deepcopy(encoded_str)) == str
""",
)

PROBLEMS = {p[0]: p for p in (HE0, HE10, HE32, HE38, HE50)}

# one wrong completion per problem: off by one, the wrong root, one cyclic shift instead of two
WRONG = {
    "has_close_elements": ("distance < threshold", "distance <= threshold / 2"),
    "make_palindrome": ("[:beginning_of_suffix][::-1]", "[:beginning_of_suffix]"),
    "find_zero": ("return begin", "return begin + 0.5"),
    "decode_cyclic": ("return encode_cyclic(encode_cyclic(s))", "return encode_cyclic(s)"),
    "decode_shift": ("- 5 -", "- 4 -"),
}

# What an instruct model writes: the entry point alone, leaning on the prompt's imports and
# helpers as the official harness provides them (HumanEval/0: ``List`` only in an annotation).
ENTRY_ONLY = {
    "has_close_elements": "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n",
    "make_palindrome": "def make_palindrome(string: str) -> str:\n"
    "    i = 0\n    while not is_palindrome(string[i:]):\n        i += 1\n"
    "    return string + string[:i][::-1]\n",
    "find_zero": "def find_zero(xs: list):\n"
    "    lo, hi = -1.0, 1.0\n    while poly(xs, lo) * poly(xs, hi) > 0:\n        lo, hi = 2 * lo, 2 * hi\n"
    "    while hi - lo > 1e-10:\n        mid = (lo + hi) / 2\n"
    "        if poly(xs, mid) * poly(xs, lo) > 0:\n            lo = mid\n        else:\n            hi = mid\n"
    "    return lo\n",
    "decode_cyclic": "def decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n",
    "decode_shift": "def decode_shift(s: str):\n"
    '    return "".join(chr((ord(ch) - ord("a") - 5) % 26 + ord("a")) for ch in s)\n',
}

# No solution at all: the program redefines the helpers the test calls so that anything passes
# (poly returns 0, identity encoders). The official harness, running test and program in one
# namespace, takes the program's helpers and passes them; here the helpers are the dataset's.
HELPER_ATTACKS = {
    "find_zero": "def poly(xs, x):\n    return 0.0\n\n\ndef find_zero(xs):\n    @CANARY@\n    return 0.0\n",
    "decode_cyclic": "def encode_cyclic(s):\n    return s\n\n\ndef decode_cyclic(s):\n    @CANARY@\n    return s\n",
    "decode_shift": "def encode_shift(s):\n    return s\n\n\ndef decode_shift(s):\n    @CANARY@\n    return s\n",
}


def _problem(entry: str) -> Problem:
    _, prompt, canonical, test = PROBLEMS[entry]
    return Problem(
        task_id=f"HumanEvalStyle/{entry}",
        dataset="humaneval",
        prompt=prompt,
        tests=check_tests(test, entry, prompt),
        solutions=[prompt + canonical],
        meta={"entry_point": entry},
    )


def _request(entry: str, completion: str) -> ExecRequest:
    p = _problem(entry)
    return ExecRequest(program=complete_program(p, completion), tests=p.tests)


def _official(entry: str, completion: str):
    """The official harness: ``prompt + completion + test + check(entry)``, one namespace."""
    p = _problem(entry)
    return naive_assert_concat(complete_program(p, completion), p.tests.asserts)


@pytest.mark.parametrize("entry", list(PROBLEMS))
def test_canonical_solution_passes_and_a_wrong_one_fails(executor, entry) -> None:
    canonical = PROBLEMS[entry][2]
    old, new = WRONG[entry]
    assert old in canonical
    right, wrong = executor.run(
        [_request(entry, canonical), _request(entry, canonical.replace(old, new))]
    )
    assert right.outcome is Outcome.PASSED, right
    assert wrong.outcome is Outcome.FAILED and wrong.error_type == "AssertionError", wrong
    assert right.weak_tests == 0


@pytest.mark.parametrize("entry", list(ENTRY_ONLY))
def test_entry_only_program_gets_the_prompts_imports_and_helpers(executor, entry) -> None:
    # the official harness passes these (the prompt comes first); so must execrl
    program = ENTRY_ONLY[entry]
    assert _official(entry, program).passed
    (r,) = executor.run([_request(entry, program)])
    assert r.outcome is Outcome.PASSED, r
    if entry == "decode_shift":  # it needs only the test's encode_shift, which is the judge's
        return
    # the prompt is really needed: alone, the program fails (NameError: List, a helper)
    p = _problem(entry)
    (alone,) = executor.run([ExecRequest(program=program, tests=p.tests)])
    assert alone.outcome is Outcome.RUNTIME_ERROR and alone.error_type == "NameError", alone


@pytest.mark.parametrize("entry", list(HELPER_ATTACKS))
def test_a_program_cannot_replace_the_helpers_a_test_calls(executor, entry) -> None:
    name = f"helper_{entry}"
    program = with_canary(name, HELPER_ATTACKS[entry])
    official = _official(entry, program)
    assert official.passed and f"CANARY:{name}" in official.stderr  # the attack is real
    (r,) = executor.run([_request(entry, program)])
    check_rejected(name, r)
    assert r.outcome is Outcome.FAILED and r.error_type == "AssertionError", r


def test_only_the_entry_point_is_the_programs_in_the_judge(executor) -> None:
    # the prompt's stub of the entry point is replaced by the program's; its helpers are not
    p = _problem("decode_cyclic")
    ns_names = {"encode_cyclic", "decode_cyclic"}
    assert p.tests.entry_points == ["decode_cyclic"] and all(
        n in p.tests.setup_code for n in ns_names
    )
    program = "def decode_cyclic(s):\n    return encode_cyclic(encode_cyclic(s))\n\ndef encode_cyclic(s):\n    return s\n"
    # the program's own encode_cyclic (the identity) is what its decode_cyclic calls: it fails
    (r,) = executor.run([_request("decode_cyclic", program)])
    assert r.outcome is Outcome.FAILED, r


def test_a_prose_prompt_is_neither_setup_code_nor_prepended() -> None:
    # converted datasets (MBPP in HumanEval form) may carry a prompt that is not Python
    prose = "Write a function add(x, y) that returns the sum.\n"
    t = check_tests("def check(candidate):\n    assert candidate(1, 2) == 3\n", "add", prose)
    assert t.setup_code == "" and t.entry_points == ["add"]
    p = Problem(
        task_id="X/0", dataset="humaneval", prompt=prose, tests=t, meta={"entry_point": "add"}
    )
    whole = "def add(x, y):\n    return x + y\n"
    assert complete_program(p, whole) == whole
    python = _problem("decode_cyclic")
    assert complete_program(python, whole) == python.prompt + whole  # a Python prompt comes first
