"""compare.py: a differential test of ``mode="apps"`` against a port of the official APPS/CodeRL
``testing_util.run_test`` comparison, and hand-written cases for ``mode="strict"``."""

from __future__ import annotations

import copy
import math
import random
from collections import Counter
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from execrl.execution import compare
from execrl.execution.compare import MODES, call_match, lenient_only, stdio_match

# the oracle: a port of the official code
from helpers.apps_official import official_call, official_stdio


def _recorded_true(fn, *args) -> bool:
    """The oracle's verdict: a crash or a -1 is a failure, and only a recorded True passes."""
    try:
        r = fn(*args)
    except Exception:
        return False
    r = r[0] if isinstance(r, tuple) else r
    return isinstance(r, (bool, np.bool_)) and bool(r)


# ============================================================================ generators
_WORDS = [
    "YES",
    "NO",
    "Yes",
    "yes",
    "no",
    "abc",
    "x",
    "-",
    "é",
    "日本",
    "∞",
    "1_000",
    "١٢",
    "0x10",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "None",
    "True",
]


def _number(rng: random.Random) -> str:
    k = rng.randrange(9)
    if k == 0:
        return str(rng.randrange(10))
    if k == 1:
        return str(rng.randrange(-1000, 1000))
    if k == 2:
        return str(rng.randrange(10 ** rng.randrange(5, 25)))
    if k == 3:
        return str(rng.choice([1, -1]) * 10**400 + rng.randrange(10))  # float() gives inf
    x = rng.uniform(-1e4, 1e4) * 10 ** rng.randrange(-8, 3)
    if k == 4:
        return repr(x)
    if k == 5:
        return f"{x:.{rng.randrange(0, 9)}f}"
    if k == 6:
        return f"{x:.3e}"
    if k == 7:
        return rng.choice([".5", "5.", "-0.0", "0.0005", "0.0004999", "1e5", "+3", "007", "1.0"])
    return f"{rng.randrange(100)}.{rng.randrange(1000):03d}"


def _token(rng: random.Random) -> str:
    return _number(rng) if rng.random() < 0.7 else rng.choice(_WORDS)


def _expected_text(rng: random.Random) -> str:
    kind = rng.randrange(6)
    n = rng.randrange(0, 7)
    if kind == 0:  # YES/NO answers
        lines = [rng.choice(["YES", "NO"]) for _ in range(n)]
    elif kind == 1:  # one number per line (sorted sometimes)
        lines = [_number(rng) for _ in range(n)]
        if rng.random() < 0.5:
            lines = [str(v) for v in sorted(rng.randrange(100) for _ in range(n))]
    elif kind == 2:  # a single line of numbers
        lines = [" ".join(_number(rng) for _ in range(rng.randrange(1, 6)))]
    else:
        lines = [" ".join(_token(rng) for _ in range(rng.randrange(0, 5))) for _ in range(n)]
    if lines and rng.random() < 0.15:
        lines.insert(rng.randrange(len(lines)), rng.choice(["", "  ", "\t"]))
    text = "\n".join(lines)
    return text + rng.choice(["", "\n", "\n", "\n\n", " \n"])


def _perturb_num(tok: str, rng: random.Random) -> str:
    try:
        v = float(tok)
    except ValueError:
        return tok
    if not math.isfinite(v):  # nan, inf, -inf
        return tok
    k = rng.randrange(7)
    if k == 0:
        return repr(v * (1 + rng.choice([1e-9, 1e-7, 1e-6, 5e-6, 2e-5, 1e-4, 1e-2])))
    if k == 1:
        return repr(v + rng.choice([1e-9, 1e-7, 1e-6, 1e-4, 0.0004, 1.0]))
    if k == 2:
        return f"{v:.3f}"
    if k == 3:
        try:
            n = int(tok)
            return str(
                n + max(1, abs(n) // rng.choice([10**5, 10**6, 10**7, 10]))
            )  # 7n + 5000 style
        except ValueError:
            return repr(v)
    if k == 4:
        return f"{v:.1f}"
    if k == 5:
        return str(round(v))
    return tok + ".0" if "." not in tok and "e" not in tok else tok


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    k = rng.randrange(26)
    if k == 0:
        rng.shuffle(lines)
    elif k == 1:
        lines = [" ".join(rng.sample(t := ln.split(), len(t))) for ln in lines]
    elif k == 2:
        lines = [" ".join(text.split())]
    elif k == 3:
        lines = text.split()
    elif k == 4:
        lines = [rng.choice(["  ", "\t", " \t "]).join(ln.split()) for ln in lines]
    elif k == 5:
        lines = [ln + rng.choice([" ", "  ", "\t"]) for ln in lines]
    elif k == 6:
        lines = [rng.choice([" ", "   "]) + ln for ln in lines]
    elif k == 7:
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(["", " ", "\t"]))
    elif k == 8:
        lines.append(rng.choice(["", "", " "]))
    elif k == 9:
        return "\r\n".join(lines)
    elif k in (10, 11, 12):
        lines = [
            " ".join(_perturb_num(t, rng) if rng.random() < 0.6 else t for t in ln.split(" "))
            for ln in lines
        ]
    elif k == 13 and lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif k == 14 and lines:
        del lines[rng.randrange(len(lines))]
    elif k == 15:
        return rng.choice(["", "\n", " ", "\n\n"])
    elif k == 16:
        lines = [ln.swapcase() if rng.random() < 0.5 else ln for ln in lines]
    elif k == 17:
        return rng.choice(["\u2028", "\x0b", "\x0c", "\x1c", "\x85", "\r"]).join(lines)
    elif k == 18:
        lines = [ln.replace(" ", rng.choice(["\u3000", "\xa0", "\u2003"])) for ln in lines]
    elif k == 19 and lines:
        i = rng.randrange(len(lines))
        lines[i] = " ".join(_token(rng) for _ in range(rng.randrange(3)))
    elif k == 20:
        lines = lines[::-1]
    elif k == 21:
        lines = [" ".join(ln.split()[::-1]) for ln in lines]
    elif k == 22:
        lines = [
            " ".join(f"{float(t):.3f}" if _isfloat(t) else t for t in ln.split()) for ln in lines
        ]
    elif k == 23:
        lines = [ln for ln in lines if ln.strip()]
    elif k == 24:
        rng.shuffle(lines)
        lines = [" ".join(rng.sample(t := ln.split(), len(t))) for ln in lines]
    return "\n".join(lines)


def _isfloat(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


_ODD_EXPECTED = [
    None,
    5,
    1.5,
    {"1": "a"},
    {"x": "a"},
    ["a", 1],
    [{"1": "2"}],
    [],
    [""],
    ("a",),
    b"1",
    ["1\n2", "3"],
    ["YES", "NO"],
    ["1 ", " 2"],
]


def _stdio_pairs(n: int, seed: int = 1234):
    rng = random.Random(seed)
    for _ in range(n):
        r = rng.random()
        if r < 0.03:  # odd expected values, with an output that would match their text
            exp = rng.choice(_ODD_EXPECTED)
            out = "\n".join(map(str, exp)) if isinstance(exp, (list, tuple)) else str(exp)
            yield (_mutate(out, rng) if rng.random() < 0.5 else out), copy.deepcopy(exp)
            continue
        exp = _expected_text(rng)
        out = exp
        for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
            out = _mutate(out, rng)
        if r < 0.05:
            out = _expected_text(rng)  # unrelated
        if rng.random() < 0.2:  # expected as a list of lines, as APPS sometimes stores it
            exp = exp.split("\n") if rng.random() < 0.7 else [ln + "\n" for ln in exp.split("\n")]
        yield out, exp


def _json_value(rng: random.Random, depth: int = 0):
    k = rng.randrange(9 if depth < 3 else 5)
    if k == 0:
        return rng.randrange(-5, 10 ** rng.randrange(1, 12))
    if k == 1:
        return rng.choice([0.5, 1.0, 2.0, -3.25, 1e-7, 1e20, rng.uniform(-100, 100)])
    if k == 2:
        return rng.choice([True, False])
    if k == 3:
        return rng.choice(["", "a", "abc", "YES", "1", "é"])
    if k == 4:
        return rng.choice([None, 0, 1])
    if k in (5, 6):
        return [_json_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if k == 7:
        return {
            str(rng.randrange(-3, 20)): _json_value(rng, depth + 1)
            for _ in range(rng.randrange(0, 3))
        }
    return {
        rng.choice(["a", "b", "01", " 2"]): _json_value(rng, depth + 1)
        for _ in range(rng.randrange(1, 3))
    }


def _tuplify(x, rng):
    if isinstance(x, list):
        y = [_tuplify(v, rng) for v in x]
        return tuple(y) if rng.random() < 0.6 else y
    return x


def _intkeys(x):
    if isinstance(x, dict):
        try:
            return {int(k): v for k, v in x.items()}
        except ValueError:
            return x
    return x


def _call_output(exp, rng: random.Random):
    k = rng.randrange(18)
    if k == 0:
        return copy.deepcopy(exp)
    if k == 1 and isinstance(exp, list) and exp:
        return copy.deepcopy(exp[0])
    if k == 2:
        return _tuplify(copy.deepcopy(exp), rng)
    if k == 3 and isinstance(exp, list) and exp and isinstance(exp[0], list):
        return [tuple(v) if isinstance(v, list) else v for v in exp[0]]
    if k == 4:
        return _intkeys(copy.deepcopy(exp[0] if isinstance(exp, list) and exp else exp))
    if k == 5:
        if isinstance(exp, bool):
            return int(exp)
        return bool(exp) if exp in (0, 1) and isinstance(exp, int) else exp
    if k == 6 and isinstance(exp, float):
        return exp * (1 + rng.choice([1e-9, 1e-7, 1e-5, 1e-3]))
    if k == 7 and isinstance(exp, (int, float)) and not isinstance(exp, bool):
        try:
            return rng.choice([np.int64, np.float64, np.float32, Fraction, Decimal])(exp)
        except OverflowError:
            return exp
    if k == 8:
        try:
            return np.array(exp[0] if isinstance(exp, list) and exp else exp)
        except Exception:
            return exp
    if k == 9 and isinstance(exp, list):
        return {v for v in exp if not isinstance(v, (list, dict))}
    if k == 10:
        return _json_value(rng)
    if k == 11:
        return rng.choice(
            [
                Decimal("sNaN"),
                Decimal("NaN"),
                float("nan"),
                np.bool_(True),
                np.int64(1),
                "1",
                (),
                ((1, 2),),
            ]
        )
    if k == 12:
        return [exp]
    if k == 13 and isinstance(exp, int) and not isinstance(exp, bool):
        return exp + max(1, abs(exp) // 10**6)
    if k == 14 and isinstance(exp, list) and len(exp) == 1:
        return _tuplify(copy.deepcopy(exp[0]), rng)
    return copy.deepcopy(exp)


def _call_pairs(n: int, seed: int = 99):
    rng = random.Random(seed)
    for _ in range(n):
        exp = _json_value(rng)
        if rng.random() < 0.35:
            exp = [exp]  # APPS codewars wraps every answer
        if rng.random() < 0.08:
            exp = [{str(rng.randrange(5)): _json_value(rng, 2)} for _ in range(rng.randrange(1, 3))]
        yield _call_output(exp, rng), exp


# ============================================================================ differential tests
def test_stdio_apps_matches_official_harness() -> None:
    steps, n = Counter(), 0
    for out, exp in _stdio_pairs(24_000):
        want = _recorded_true(official_stdio, out, copy.deepcopy(exp))
        before = copy.deepcopy(exp)
        got = stdio_match(out, exp, "apps")
        assert got is want, (out, exp)
        assert exp == before  # never mutates the caller's expected
        assert isinstance(stdio_match(out, exp), bool)
        try:
            steps[official_stdio(out, copy.deepcopy(exp))[1]] += 1
        except Exception:
            steps["crash"] += 1
        n += 1
    assert n >= 20_000
    # the corpus reaches every step that can pass, and plenty of failures
    for step in ("custom", "check2", "check3", "float", "sets", "rounded", "fail", "crash"):
        assert steps[step] >= 30, steps
    assert steps["nested-float"] == steps["check4"] == steps["check4-skip"] == steps["check1"] == 0


def test_call_apps_matches_official_harness() -> None:
    n = passed = 0
    for out, exp in _call_pairs(20_000):
        want = _recorded_true(official_call, copy.deepcopy(out), copy.deepcopy(exp))
        before = copy.deepcopy(exp)
        got = call_match(out, exp, "apps")
        assert got is want, (out, exp)
        assert repr(exp) == repr(before)
        assert isinstance(call_match(out, exp), bool)
        n, passed = n + 1, passed + want
    assert n >= 20_000 and 2_000 < passed < n - 2_000


# ============================================================================ the named cases
def test_issue_cases() -> None:
    assert not stdio_match("3 2 1", "1\n2\n3", "apps") and not stdio_match("3 2 1", "1\n2\n3")
    assert stdio_match("NO\nYES", "YES\nNO", "apps") and not stdio_match("NO\nYES", "YES\nNO")
    assert lenient_only("NO\nYES\n", "YES\nNO\n")
    # unsorted output for a sorted-numbers answer (one number per line, and one line)
    assert lenient_only("3\n1\n2\n", "1\n2\n3\n") and lenient_only("3 1 2", "1 2 3")
    # np.allclose rtol 1e-5 on integers: 7n + 5000 for 7n passes APPS
    n = 7 * 10**9
    assert lenient_only(str(n + 5000), str(n)) and lenient_only(f"{n + 5000}\n5", f"{n}\n5")
    # a list answer equal to expected[0]: APPS' call-based rule
    assert lenient_only([1, 2], [[1, 2], [3, 4]], call=True)
    assert lenient_only(7, [7, 8], call=True)
    assert lenient_only([(1, 2)], [[[1, 2]], [[3]]], call=True)


def test_apps_quirks() -> None:
    assert stdio_match("0.333", "0.3334", "apps")  # rounded to 3 decimals
    assert stdio_match("1 2\n2 1", "2 1", "apps")  # duplicate line, token order: one set
    assert stdio_match("1" * 400, "2" * 400, "apps")  # both parse to inf
    assert not stdio_match(
        "1\n2", "1\n \n2", "apps"
    )  # whitespace-only expected line -> frozenset()
    assert stdio_match("1\n\n2", "1\n \n2", "apps")  # but the raw lines equal the stripped ones
    assert stdio_match("YES", ["YES\n"], "apps") and not stdio_match("1", {"1": "1"}, "apps")
    assert call_match(True, 1, "apps") and call_match(1.0, 1, "apps")  # Python ==
    assert call_match({1: "a"}, {"1": "a"}, "apps")  # int-key repair (wrapped, then expected[0])
    assert not call_match({"1": "a"}, {"1": "a"}, "apps")  # ...so string keys fail
    assert call_match({1: 2}, [{"1": 2}, {"3": 4}], "apps")  # only element 0 survives the repair
    assert call_match(np.int64(3), 3, "apps") and not call_match(np.array([3, 3]), 3, "apps")
    assert not call_match(Decimal("sNaN"), 1.0, "apps") and not call_match(Decimal("sNaN"), 1.0)


# ============================================================================ strict
@pytest.mark.parametrize(
    "out, exp",
    [
        ("1 2 3\n", "1 2 3"),
        ("1 2 3  \n\n\n", "1 2 3\n"),
        ("1   2\t3\r\n4\r\n", "1 2 3\n4"),
        (" 1 2", "1 2"),
        ("1\n\n2", "1\n\n2"),
        ("", ""),
        ("\n\n", ""),
        ("", "\n"),
        ("0.3333333", "0.333333333"),
        ("0.1234565", "0.123456"),
        ("1000000.9", "1000000.0"),
        ("1.5e3", "1500.0"),
        ("2.", "2.0"),
        ("YES\nNO", ["YES", "NO"]),
        ("a b\n", ["a b\n", ""]),
        ("é 日本", "é 日本"),
        ("-0.0000005", "0.0"),
    ],
)
def test_strict_stdio_passes(out, exp) -> None:
    assert stdio_match(out, exp) and stdio_match(out, exp, "strict")


@pytest.mark.parametrize(
    "out, exp",
    [
        ("3 2 1", "1\n2\n3"),
        ("1\n2\n3", "1 2 3"),
        ("NO\nYES", "YES\nNO"),
        ("2 1", "1 2"),
        ("1\n2", "1\n\n2"),
        ("\n1", "1"),
        ("1\n1\n2", "1\n2"),
        ("1", "1\n2"),
        ("", "0"),
        ("5.0", "5"),
        ("05", "5"),
        ("+5", "5"),
        ("7000005000", "7000000000"),
        ("1.0000001", "1"),
        ("0.123458", "0.123456"),
        ("1000002", "1000000.0"),
        ("inf", "1e400"),
        ("nan", "nan0"),
        ("yes", "YES"),
        ("1\u00a02", "1 2"),
        ("1\u20282", "1\n2"),
        ("0.333", "0.3334"),
        ("1.000", "1.0001"),
        ("1", None),
        ("1", 1),
        ("1", {"1": "1"}),
        ("1", ["1", 2]),
        (None, "1"),
        ("0x10", "16.0"),
        ("1_0", "10.0"),
        ("١", "1.0"),  # noqa: RUF001  (an Arabic-Indic digit, on purpose)
    ],
)
def test_strict_stdio_fails(out, exp) -> None:
    assert not stdio_match(out, exp)


@pytest.mark.parametrize(
    "out, exp",
    [
        (5, 5),
        (5.0, 5),
        (Fraction(10, 2), 5),
        (np.int64(5), 5),
        (0.1 + 0.2, 0.3),
        (1, 1.0),
        (np.float32(0.1), 0.1),
        (Decimal("2.5"), 2.5),
        ((1, (2, 3)), [1, [2, 3]]),
        (np.array([[1, 2]]), [[1, 2]]),
        (True, True),
        (np.bool_(False), False),
        ({1: [1, 2]}, {"1": [1, 2]}),
        ({"1": 2}, {"1": 2}),
        ({"a": (1,)}, {"a": [1]}),
        (None, None),
        ("x", "x"),
        (False, [False]),
        ([1, 2], [[1, 2]]),
        (float("nan"), float("nan")),
        (1e20 * (1 + 1e-7), 1e20),
        (10**20, 1e20),
    ],
)
def test_strict_call_passes(out, exp) -> None:
    assert call_match(out, exp)


@pytest.mark.parametrize(
    "out, exp",
    [
        (True, 1),
        (1, True),
        (False, 0),
        (0, False),
        (np.bool_(True), 1),
        (np.int64(1), True),
        ([True], [1]),
        (5.5, 5),
        (10**20 + 1, 10**20),
        ("5", 5),
        (5, "5"),
        (1.001, 1.0),
        (None, 0),
        (7, [7, 8]),
        ([1, 2], [[1, 2], [3, 4]]),
        ([1, 2, 3], [1, 2]),
        ({1, 2}, [1, 2]),
        ({1: 2}, {"1": 2, "2": 3}),
        ({"01": 1}, {1: 1}),
        (np.array([3, 3]), 3),
        (Decimal("sNaN"), 1.0),
        (float("inf"), 1e308),
        ([[1, 2]], [1, 2]),
    ],
)
def test_strict_call_fails(out, exp) -> None:
    assert not call_match(out, exp)


def test_strict_is_total_and_lenient_only() -> None:
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    for mode in MODES:
        assert call_match(deep, deep, mode) in (True, False)
        assert stdio_match(object(), object(), mode) is False
    assert not lenient_only("1 2 3", "1 2 3") and not lenient_only("1 2", "3 4")
    assert not lenient_only([1], [1], call=True)
    with pytest.raises(ValueError, match="mode"):
        stdio_match("1", "1", "lenient")
    assert compare.TOL == 1e-6
