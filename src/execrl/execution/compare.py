"""Verdicts computed outside the sandboxed child: the APPS comparison cascade (CodeRL's
``testing_util.run_test``) for stdin/stdout tests, and its call-based comparison."""

from __future__ import annotations

import json
import math
from typing import Any


def _floats(xs: list[str]) -> list[float] | None:
    try:
        return [float(x) for x in xs]
    except (ValueError, TypeError):
        return None


def _allclose(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-8) for x, y in zip(a, b))


def stdio_match(output: str, expected: Any) -> bool:
    """True if a program's stdout matches the expected output under APPS' cascade."""
    if isinstance(expected, list):
        expected = "\n".join(str(e) for e in expected)
    expected = str(expected)
    out_lines = output.splitlines()
    # 1. custom_compare_: whole text, then line-stripped
    if "\n".join(out_lines).strip() == expected.strip():
        return True
    if "\n".join(x.strip() for x in out_lines).strip() == expected.strip():
        return True
    # 2-3. line lists, stripped, empty lines dropped
    exp_lines = [e.strip() for e in expected.split("\n") if e.strip()]
    got_lines = [o.strip() for o in out_lines if o.strip()]
    if got_lines == exp_lines:
        return True
    # 4. float comparison, whole and per line
    got_f, exp_f = _floats(got_lines), _floats(exp_lines)
    if got_f is not None and exp_f is not None and _allclose(got_f, exp_f):
        return True
    got_tok = [o.split() for o in got_lines]
    exp_tok = [e.split() for e in exp_lines]
    if len(got_tok) == len(exp_tok):
        ok = True
        for g, e in zip(got_tok, exp_tok):
            gf, ef = _floats(g), _floats(e)
            if not (g == e or (gf is not None and ef is not None and _allclose(gf, ef))):
                ok = False
                break
        if ok and got_tok:
            return True
    # 5. whitespace-token set comparison, then with tokens rounded to 3 decimals
    exp_set = set(expected.split())
    got_set = {frozenset(o.split()) for o in got_lines}
    if got_set == {frozenset(exp_set)} and exp_set:
        return True

    def rounded(tokens) -> frozenset | None:
        try:
            return frozenset(round(float(t), 3) for t in tokens)
        except ValueError:
            return None

    er = rounded(exp_set)
    gr = {rounded(o.split()) for o in got_lines}
    return er is not None and None not in gr and gr == {er}


def _intkeys(x: Any) -> Any:
    if isinstance(x, dict):
        try:
            return {int(k): v for k, v in x.items()}
        except (ValueError, TypeError):
            return x
    if isinstance(x, list) and x and all(isinstance(i, dict) for i in x):
        return [_intkeys(i) for i in x]
    return x


def call_match(output_json: str, expected: Any) -> bool:
    """APPS call-based comparison on the JSON the child sent (tuples arrive as lists)."""
    try:
        output = json.loads(output_json)
    except (TypeError, ValueError):
        return False
    expected = _intkeys(expected)
    output = _intkeys(output)
    if output == expected:
        return True
    if isinstance(expected, list) and expected:
        if output == expected[0]:
            return True
        if isinstance(output, list) and all(isinstance(x, list) for x in output) and output == expected[0]:
            return True
    return False
