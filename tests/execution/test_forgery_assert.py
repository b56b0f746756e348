"""Red team for verdict forging (issue 14), assert-style tests (MBPP ``test_list``, HumanEval ``check``).

Every attack is a WRONG program that tries to be judged passed. Each is checked two ways:

1. ``test_attack_is_not_passed``: execrl's executor must not judge it PASSED, must not blame the
   sandbox (INFRA_ERROR: a forged "not my fault" verdict drops the sample instead of penalising
   it), and the program's canary (``CANARY:<name>`` written to fd 2 at the moment the attack
   step runs) must appear in ``result.error`` (the tail of the program's stderr): proof that the
   attack really ran and was defeated, not skipped.
2. ``test_attack_fools_naive_harness``: a naive in-process harness (tests/helpers/naive_harness.py)
   judges the same program PASSED, with the canary on its stderr: proof the attack is real.
   Attacks on execrl's own protocol (fds, nonces, reporters, signals, exits a plain script would
   also treat as failures) have ``naive=None`` and are not run there; the reason is in ``why``.

Semantics decided by Python (documented here, checked below): ``float('nan') == float('nan')`` is
False, so a program returning NaN for ``assert f(x) == float('nan')`` FAILS, as it does in plain
Python; tuples are not lists and ``{"1": 2} != {1: 2}`` in asserts (unlike APPS call-based tests,
which compare JSON-decoded outputs and accept tuples for lists).

Attacks that read a reference solution / test from the project's data/ directory are a
containment problem (issue 15), kept apart at the end of the file.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from execrl.execution import ExecRequest, Outcome
from execrl.execution.sandbox import probe
from execrl.vocabulary import Tests

from helpers.common import ROOT
from helpers.naive_harness import (
    SPRAY_LIB,
    check_rejected,
    describe,
    naive_assert_concat,
    naive_assert_loop,
    with_canary,
)


@dataclass(frozen=True)
class Case:
    name: str
    program: str
    asserts: tuple[str, ...]
    setup: str = ""
    naive: str | None = "concat"  # "concat" | "loop" | None (targets execrl's protocol only)
    why: str = ""

    @property
    def source(self) -> str:
        return with_canary(self.name, self.program)

    def tests(self) -> Tests:
        return Tests(style="assert", asserts=list(self.asserts), setup_code=self.setup)


BASE = ("assert f(1) == 2", "assert f(5) == 6")  # f(x) == x + 1
LIAR = """
class AlwaysEq:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__
"""

ATTACKS: list[Case] = []


def attack(
    name: str,
    program: str,
    asserts=BASE,
    setup: str = "",
    naive: str | None = "concat",
    why: str = "",
) -> None:
    ATTACKS.append(Case(name, program, tuple(asserts), setup, naive, why))


# ----------------------------------------------------------------------------- lying results
attack("eq_always_true", LIAR + "def f(x):\n    @CANARY@\n    return AlwaysEq()\n")
attack(
    "eq_returns_truthy_object",
    """
class Yes:
    def __eq__(self, other):
        return "yes, equal"
    __hash__ = object.__hash__
def f(x):
    @CANARY@
    return Yes()
""",
)
attack(
    "notimplemented_reflected_eq",
    """
class R:
    # int.__eq__(2, R()) is NotImplemented, so Python asks R.__eq__ (reflected): True
    def __eq__(self, other):
        return True if isinstance(other, int) else NotImplemented
    __hash__ = object.__hash__
def f(x):
    @CANARY@
    return R()
""",
    asserts=("assert 2 == f(1)", "assert 6 == f(5)"),
)
attack(
    "int_subclass_lying_eq",
    """
class I(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__
def f(x):
    @CANARY@
    return I(0)
""",
    asserts=("assert f(1) == 2", "assert 6 == f(5)", "assert not (f(5) != 6)"),
)
attack(
    "float_subclass_lying_eq",
    """
class F(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
def half(x):
    @CANARY@
    return F(-1.0)
""",
    asserts=("assert half(3) == 1.5", "assert half(1) == 0.5"),
)
attack(
    "str_subclass_lying_eq",
    """
class S(str):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = str.__hash__
def rev(s):
    @CANARY@
    return S("wrong")
""",
    asserts=('assert rev("ab") == "ba"', 'assert rev("abc") == "cba"'),
)
attack(
    "list_subclass_lying_eq",
    """
class L(list):
    def __eq__(self, other):
        return True
    __hash__ = None
def rev(xs):
    @CANARY@
    return L()
""",
    asserts=("assert rev([1, 2]) == [2, 1]", "assert rev([3]) == [3]"),
)
attack(
    "tuple_subclass_lying_eq",
    """
class T(tuple):
    def __eq__(self, other):
        return True
    __hash__ = tuple.__hash__
def pair(x):
    @CANARY@
    return T()
""",
    asserts=("assert pair(1) == (1, 1)", "assert pair(2) == (2, 2)"),
)
attack(
    "dict_subclass_lying_eq",
    """
class D(dict):
    def __eq__(self, other):
        return True
    __hash__ = None
def square_map(x):
    @CANARY@
    return D()
""",
    asserts=("assert square_map(2) == {2: 4}", "assert square_map(3) == {3: 9}"),
)
attack(
    "abs_sub_lt_chain",
    """
class Z:
    def __sub__(self, o): return self
    def __rsub__(self, o): return self
    def __abs__(self): return self
    def __lt__(self, o): return True
    def __bool__(self): return True
def square(x):
    @CANARY@
    return Z()
""",
    asserts=("assert abs(square(2.0) - 4.0) < 1e-9", "assert abs(square(3.0) - 9.0) < 1e-9"),
)
attack(
    "class_spoof_property",
    """
class Spoof:
    __class__ = property(lambda self: int)   # isinstance(Spoof(), int) is True
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def f(x):
    @CANARY@
    return Spoof()
""",
    asserts=(
        "assert isinstance(f(1), int) and f(1) == 2",
        "assert isinstance(f(5), int) and f(5) == 6",
    ),
)
attack(
    "metaclass_eq_class_object",
    """
class Meta(type):
    def __eq__(cls, other):
        return True
    __hash__ = type.__hash__
def f(x):
    @CANARY@
    return Meta("Anything", (), {})
""",
)
attack(
    "nested_liar_in_plain_list",
    LIAR
    + """
def pair_up(x):
    @CANARY@
    return [AlwaysEq(), AlwaysEq()]
""",
    asserts=("assert pair_up(1) == [1, 2]", "assert pair_up(3) == [3, 4]"),
)
attack(
    "liar_keys_in_plain_dict",
    """
class K:
    def __init__(self, h): self.h = h
    def __hash__(self): return self.h
    def __eq__(self, o): return True
def invert(d):
    @CANARY@
    return {K(hash(k)): AlwaysEq() for k in d.values()}
"""
    + LIAR,
    asserts=("assert invert({'a': 1}) == {1: 'a'}", "assert invert({'b': 2}) == {2: 'b'}"),
)
attack(
    "sorted_lt_eq_liars",
    """
class E:
    def __lt__(self, o): return False
    def __eq__(self, o): return True
    __hash__ = object.__hash__
def dedupe(xs):
    @CANARY@
    return [E(), E()]
""",
    asserts=("assert sorted(dedupe([2, 1, 2])) == [1, 2]",),
)
attack(
    "contains_liar",
    """
class All:
    def __contains__(self, x): return True
def primes_upto(n):
    @CANARY@
    return All()
""",
    asserts=("assert 3 in primes_upto(5)", "assert 5 in primes_upto(5)"),
)
attack(
    "getitem_liar",
    LIAR
    + """
class Seq:
    def __getitem__(self, i): return AlwaysEq()
    def __len__(self): return 2
def squares(n):
    @CANARY@
    return Seq()
""",
    asserts=("assert squares(2)[0] == 0 and squares(2)[1] == 1",),
)
attack(
    "sum_radd_liar",
    LIAR
    + """
class R:
    def __radd__(self, o): return AlwaysEq()
def upto(n):
    @CANARY@
    return [R()]
""",
    asserts=("assert sum(upto(3)) == 6",),
)
attack(
    "gt_liar",
    """
class Big:
    def __gt__(self, o): return True
    def __ge__(self, o): return True
def factorial(n):
    @CANARY@
    return Big()
""",
    asserts=("assert factorial(5) > 100", "assert factorial(6) >= 720"),
)
attack(
    "str_dunder_returns_lying_str",
    """
class S(str):
    def __eq__(self, o): return True
    __hash__ = str.__hash__
class W:
    def __str__(self): return S("nope")
def f(x):
    @CANARY@
    return W()
""",
    asserts=('assert str(f(1)) == "2"', 'assert str(f(5)) == "6"'),
)
attack(
    "iterator_compares_equal",
    """
class It:
    def __iter__(self): return self
    def __next__(self): raise StopIteration
    def __eq__(self, o): return True
    __hash__ = object.__hash__
def evens(n):
    @CANARY@
    return It()
""",
    asserts=("assert evens(4) == [0, 2]",),
)
attack(
    "generator_with_lying_list",
    """
class L(list):
    def __eq__(self, o): return True
    __hash__ = None
def gen(n):
    yield from ()
list = lambda it=(): L()  # noqa: A001  (the assert wraps the result in list(...))
@CANARY@
""",
    asserts=("assert list(gen(3)) == [0, 1, 2]",),
)
attack(
    "numpy_object_array_of_liars",
    LIAR
    + """
import numpy as np
def f(x):
    @CANARY@
    return np.array([AlwaysEq()], dtype=object)   # == gives array([True]); bool(...) is True
""",
)
attack(
    "ndarray_subclass_lying_eq",
    """
import numpy as np
class A(np.ndarray):
    def __eq__(self, o): return True
    __hash__ = None
def f(x):
    @CANARY@
    return np.zeros(1).view(A)
""",
)
attack(
    "fraction_subclass_lying_eq",
    """
from fractions import Fraction
class Fr(Fraction):
    def __eq__(self, o): return True
    __hash__ = Fraction.__hash__
def f(x):
    @CANARY@
    return Fr(0)
""",
)
attack(
    "decimal_subclass_lying_eq",
    """
from decimal import Decimal
class De(Decimal):
    def __eq__(self, o): return True
    __hash__ = Decimal.__hash__
def f(x):
    @CANARY@
    return De(0)
""",
)
attack(
    "numpy_scalar_subclass_lying_eq",
    """
import numpy as np
class N(np.int64):
    def __eq__(self, o): return True
    __hash__ = np.int64.__hash__
def f(x):
    @CANARY@
    return N(0)
""",
)
attack(
    "pickle_reduce_builds_liar_in_judge",
    """
class P:
    # if a judge unpickles results, this builds an always-equal object on the judge's side
    def __reduce__(self):
        return (eval, ("type('E', (), {'__eq__': lambda s, o: True, '__ne__': lambda s, o: False, '__hash__': lambda s: 0})()",))
def f(x):
    @CANARY@
    return P()
""",
    naive=None,
    why="only a judge that unpickles child results runs __reduce__; in-process == is plain identity",
)
attack(
    "pickle_reduce_nested_in_list",
    """
class P:
    def __reduce__(self):
        return (eval, ("type('E', (), {'__eq__': lambda s, o: True, '__hash__': lambda s: 0})()",))
def pair_up(x):
    @CANARY@
    return [P(), P()]
""",
    asserts=("assert pair_up(1) == [1, 2]",),
    naive=None,
    why="targets a pickle channel",
)
attack(
    "del_hook_exit0",
    """
import os
class Bye:
    def __del__(self):
        os._exit(0)   # the failing comparison drops the temporary: exit 0 before the assert raises
def f(x):
    @CANARY@
    return Bye()
""",
)

# ----------------------------------------------------------------------------- encoder confusions (Python says: fail)
attack(
    "tuple_for_list_confusion",
    "def pair(x):\n    @CANARY@\n    return [x, x]\n",
    asserts=("assert pair(1) == (1, 1)",),
    naive=None,
    why="correctly fails in plain Python; forges only an encoder that turns tuples into lists (JSON)",
)
attack(
    "json_key_coercion",
    "def square_map(x):\n    @CANARY@\n    return {str(x): x * x}\n",
    asserts=("assert square_map(2) == {2: 4}",),
    naive=None,
    why="correctly fails in plain Python; forges an encoder that stringifies dict keys (JSON)",
)
attack(
    "str_for_int_confusion",
    "def f(x):\n    @CANARY@\n    return str(x + 1)\n",
    naive=None,
    why="correctly fails in plain Python; forges an encoder that loses the str/int distinction",
)
attack(
    "bytes_for_str_confusion",
    "def rev(s):\n    @CANARY@\n    return s[::-1].encode()\n",
    asserts=('assert rev("ab") == "ba"',),
    naive=None,
    why="correctly fails in plain Python; forges an encoder that decodes bytes to str",
)
attack(
    "nan_equals_nan",
    "def f(x):\n    @CANARY@\n    return float('nan')\n",
    asserts=("assert f(0) == float('nan')",),
    naive=None,
    why="nan != nan in Python: even the 'right' NaN fails; forges a judge that compares NaN by repr/bits",
)

# ----------------------------------------------------------------------------- globals the asserts would run in
attack(
    "shadow_set_global",
    "set = lambda *a: 0  # noqa: A001\n@CANARY@\ndef uniq(xs):\n    return []\n",
    asserts=("assert set(uniq([1, 2, 2])) == set([1, 2])",),
)
attack(
    "shadow_sorted_global",
    "sorted = lambda *a, **k: 0  # noqa: A001\n@CANARY@\ndef uniq(xs):\n    return []\n",
    asserts=("assert sorted(uniq([2, 1, 2])) == sorted([1, 2])",),
)
attack(
    "shadow_len_global",
    "len = lambda x: 3  # noqa: A001\n@CANARY@\ndef upto(n):\n    return []\n",
    asserts=("assert len(upto(3)) == 3",),
)
attack(
    "shadow_abs_global",
    "abs = lambda x: 0  # noqa: A001\n@CANARY@\ndef square(x):\n    return -1.0\n",
    asserts=("assert abs(square(2.0) - 4.0) < 1e-9",),
)
attack(
    "shadow_round_global",
    "round = lambda *a: 3.14  # noqa: A001\n@CANARY@\ndef pi():\n    return 0.0\n",
    asserts=("assert round(pi(), 2) == 3.14",),
)
attack(
    "shadow_isinstance_global",
    "isinstance = lambda *a: True  # noqa: A001\n@CANARY@\ndef to_str(x):\n    return x\n",
    asserts=("assert isinstance(to_str(1), str)",),
)
attack(
    "instancecheck_metaclass_shadow",
    """
class _M(type):
    def __instancecheck__(cls, obj):
        return True
class list(metaclass=_M):  # noqa: A001  (isinstance(anything, list) is now True)
    pass
@CANARY@
def as_list(x):
    return x
""",
    asserts=("assert isinstance(as_list(5), list)",),
)
attack(
    "shadow_stdlib_module_name",
    """
class math:  # noqa: N801  (the assert uses math without importing it)
    isclose = staticmethod(lambda *a, **k: True)
@CANARY@
def f(x):
    return 0.0
""",
    asserts=("assert math.isclose(f(1.0), 2.0)",),
)
attack(
    "dunder_builtins_dict_redefine",
    """
__builtins__ = dict(__import__("builtins").__dict__)
__builtins__["sorted"] = lambda *a, **k: 0
@CANARY@
def uniq(xs):
    return []
""",
    asserts=("assert sorted(uniq([2, 1, 2])) == sorted([1, 2])",),
    naive="loop",
    why="a running frame keeps its builtins: only harnesses that exec each assert in the program's globals fall for it",
)

# The weak path (a test argument that cannot cross, a lambda, makes the child evaluate the call's
# source): only the program's own calls may be evaluated there, never the builtins, stdlib modules
# or helpers around them (the program would answer for those too: issue 28).
attack(
    "weak_path_shadow_len_global",
    "len = lambda x: 3  # noqa: A001\ndef upto(n, key):\n    @CANARY@\n    return []\n",
    asserts=("assert len(upto(3, lambda x: x)) == 3",),
)
attack(
    "weak_path_shadow_stdlib_module",
    """
class math:  # noqa: N801
    floor = staticmethod(lambda *a: 7)
def apply(fn, x):
    @CANARY@
    return 0.5
""",
    asserts=("assert math.floor(apply(lambda v: v * 2, 3.5)) == 7",),
)
attack(
    "weak_path_shadow_setup_helper",
    "def double(x):\n    return 10\ndef apply(fn, x):\n    @CANARY@\n    return 0\n",
    asserts=("assert double(apply(lambda v: v + 1, 4)) == 10",),
    setup="def double(x):\n    return 2 * x\n",
    naive=None,
    why="targets execrl's weak path (which evaluated the whole left side in the child); in-process"
    " harnesses run setup after the program, so the dataset's helper wins there",
)

# ----------------------------------------------------------------------------- builtins / modules replaced after the program ran
for _name, _patch, _prog, _asserts in [
    ("len", "lambda x: 3", "def upto(n):\n    return []\n", ("assert len(upto(3)) == 3",)),
    (
        "sorted",
        "lambda *a, **k: 0",
        "def uniq(xs):\n    return []\n",
        ("assert sorted(uniq([2, 1, 2])) == sorted([1, 2])",),
    ),
    (
        "set",
        "lambda *a: 0",
        "def uniq(xs):\n    return []\n",
        ("assert set(uniq([1, 2, 2])) == set([1, 2])",),
    ),
    (
        "isinstance",
        "lambda *a: True",
        "def to_str(x):\n    return x\n",
        ("assert isinstance(to_str(1), str)",),
    ),
    (
        "type",
        "lambda *a: str",
        "def to_str(x):\n    return x\n",
        ("assert type(to_str(1)) == str",),
    ),
    ("str", "lambda *a, **k: '2'", "def f(x):\n    return 0\n", ('assert str(f(1)) == "2"',)),
    ("repr", "lambda *a: '[2]'", "def f(x):\n    return [0]\n", ('assert repr(f(1)) == "[2]"',)),
    (
        "abs",
        "lambda x: 0",
        "def square(x):\n    return -1.0\n",
        ("assert abs(square(2.0) - 4.0) < 1e-9",),
    ),
    ("round", "lambda *a: 3.14", "def pi():\n    return 0.0\n", ("assert round(pi(), 2) == 3.14",)),
    (
        "all",
        "lambda *a: True",
        "def evens(xs):\n    return [1]\n",
        ("assert all(x % 2 == 0 for x in evens([1, 2]))",),
    ),
]:
    attack(
        f"builtins_{_name}_patched",
        f"import builtins\nbuiltins.{_name} = {_patch}\n@CANARY@\n" + _prog,
        asserts=_asserts,
    )
attack(
    "builtins_enumerate_patched",
    """
import builtins
_real = builtins.enumerate
def fake_enumerate(it, start=0):
    return ((i, "pass") for i, _ in _real(it, start))   # every assert the harness loops over becomes `pass`
builtins.enumerate = fake_enumerate
@CANARY@
def f(x):
    return 0
""",
    naive="loop",
)
attack(
    "builtins_exec_patched",
    "import builtins\nbuiltins.exec = lambda *a, **k: None\n@CANARY@\ndef f(x):\n    return 0\n",
    naive="loop",
)
attack(
    "builtins_compile_patched",
    """
import builtins
_real = builtins.compile
builtins.compile = lambda src, fn, mode, *a, **k: _real("pass", fn, mode)
@CANARY@
def f(x):
    return 0
""",
    naive="loop",
)
attack(
    "builtins_assertionerror_patched",
    """
import builtins
builtins.AssertionError = type("AssertionError", (Exception,), {})   # a judge that catches by name misses the real one
@CANARY@
def f(x):
    return 0
""",
    naive=None,
    why="the assert statement raises the real AssertionError; only harnesses that look it up by name are affected",
)
attack(
    "builtins_print_patched",
    SPRAY_LIB
    + """
import builtins
builtins.print = lambda *a, **k: _spray()
@CANARY@
def f(x):
    print("debug")
    return 0
""",
    naive=None,
    why="targets a child that reports through print",
)
attack(
    "json_pickle_operator_patched",
    """
import json, pickle, operator, marshal
json.dumps = lambda *a, **k: '{"outcome": "passed"}'
json.loads = lambda *a, **k: {"outcome": "passed"}
pickle.dumps = lambda *a, **k: pickle._dumps(("passed", True))
operator.eq = lambda a, b: True
operator.ne = lambda a, b: False
marshal.dumps = lambda *a, **k: b""
@CANARY@
def f(x):
    return 0
""",
    naive=None,
    why="targets a child-side encoder/comparator looked up at call time",
)
attack(
    "math_isclose_patched",
    "import math\nmath.isclose = lambda *a, **k: True\n@CANARY@\ndef f(x):\n    return 0.0\n",
    asserts=("import math\nassert math.isclose(f(1.0), 2.0)",),
)
attack(
    "sys_modules_math_poisoned",
    """
import sys, types
sys.modules["math"] = types.SimpleNamespace(isclose=lambda *a, **k: True, isnan=lambda x: True, inf=float("inf"))
@CANARY@
def f(x):
    return 0.0
""",
    asserts=("import math\nassert math.isclose(f(1.0), 2.0)",),
)
attack(
    "builtins_import_hook",
    """
import builtins, types
_real = builtins.__import__
def hooked(name, *a, **k):
    if name == "math":
        return types.SimpleNamespace(isclose=lambda *a, **k: True)
    return _real(name, *a, **k)
builtins.__import__ = hooked
@CANARY@
def f(x):
    return 0.0
""",
    asserts=("import math\nassert math.isclose(f(1.0), 2.0)",),
)
attack(
    "meta_path_hijack",
    """
import sys, types
class Hijack:
    def find_spec(self, name, path=None, target=None):
        if name in ("fractions", "decimal", "json", "pickle", "marshal", "struct", "math", "operator", "numbers"):
            __import__("os").write(2, b"hijacked import\\n")
        return None
    def find_module(self, *a):
        return None
sys.meta_path.insert(0, Hijack())
for m in ("fractions", "decimal", "json", "pickle", "marshal", "struct"):
    sys.modules.pop(m, None)
@CANARY@
def f(x):
    return 0
""",
    naive=None,
    why="targets modules a child-side encoder imports lazily",
)

# ----------------------------------------------------------------------------- editing the asserts / reading them
EDIT_ASSERT_LISTS = r"""
def _blank(v):
    if isinstance(v, list) and v and all(isinstance(a, str) for a in v) and any("assert" in a for a in v):
        v[:] = ["pass"] * len(v)
        return True
    return False
"""
attack(
    "frame_edit_asserts_getframe",
    EDIT_ASSERT_LISTS
    + """
import sys
_f = sys._getframe()
while _f is not None:
    for _v in list(_f.f_locals.values()):
        _blank(_v)
    _f = _f.f_back
@CANARY@
def f(x):
    return 0
""",
    naive="loop",
)
attack(
    "frame_edit_asserts_inspect_stack",
    EDIT_ASSERT_LISTS
    + """
import inspect
for _fi in inspect.stack(0):
    for _v in list(_fi.frame.f_locals.values()):
        _blank(_v)
@CANARY@
def f(x):
    return 0
""",
    naive="loop",
)
attack(
    "frame_rebind_asserts_locals_to_fast",
    """
import ctypes, sys
_f = sys._getframe().f_back
while _f is not None:
    if "asserts" in _f.f_locals:
        _f.f_locals["asserts"] = []
        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(_f), ctypes.c_int(0))
    _f = _f.f_back
@CANARY@
def f(x):
    return 0
""",
    naive="loop",
)
attack(
    "gc_edit_asserts_lists",
    EDIT_ASSERT_LISTS
    + """
import gc
for _o in gc.get_objects():
    _blank(_o)
@CANARY@
def f(x):
    return 0
""",
    naive="loop",
)
attack(
    "gc_edit_tests_object",
    EDIT_ASSERT_LISTS
    + """
import gc
for _o in gc.get_objects():
    if not isinstance(_o, type) and hasattr(_o, "asserts") and hasattr(_o, "setup_code"):
        _blank(_o.asserts)
@CANARY@
def f(x):
    return 0
""",
    naive=None,
    why="looks for execrl's Tests object in the child's memory",
)
attack(
    "settrace_edits_asserts_later",
    EDIT_ASSERT_LISTS
    + """
import sys
def _tracer(frame, event, arg):
    for _v in list(frame.f_locals.values()):
        _blank(_v)
    return _tracer
_f = sys._getframe()
while _f is not None:          # trace the frames already running (the harness's), line by line
    _f.f_trace = _tracer
    _f.f_trace_lines = True
    _f = _f.f_back
sys.settrace(_tracer)
@CANARY@
def f(x):
    return 0
""",
    naive="loop",
)
attack(
    "setprofile_edits_asserts_on_c_call",
    EDIT_ASSERT_LISTS
    + """
import sys
def _prof(frame, event, arg):
    _f = frame
    while _f is not None:
        for _v in list(_f.f_locals.values()):
            _blank(_v)
        _f = _f.f_back
sys.setprofile(_prof)
@CANARY@
def f(x):
    return 0
""",
    naive="loop",
)
attack(
    "read_expected_from_caller_code_consts",
    """
import sys
def f(x):
    @CANARY@
    consts = [c for c in sys._getframe(1).f_code.co_consts if type(c) is int]
    return consts[consts.index(x) + 1] if x in consts[:-1] else 0   # `assert f(1) == 2`: the 2 follows the 1
""",
)
attack(
    "read_expected_from_caller_bytecode_frames",
    """
import sys, dis
def f(x):
    @CANARY@
    fr = sys._getframe(1)
    vals = [i.argval for i in dis.get_instructions(fr.f_code) if i.opname == "LOAD_CONST" and type(i.argval) is int]
    for a, b in zip(vals, vals[1:]):
        if a == x:
            return b
    return 0
""",
)
attack(
    "gc_call_reporter_then_exit",
    """
import gc, os
@CANARY@
for _o in gc.get_objects():
    if not isinstance(_o, type) and hasattr(_o, "_nonce") and callable(_o):
        for _i in range(-1, 32):
            try:
                _o("P", _i)
            except Exception:
                pass
os._exit(0)
""",
    naive=None,
    why="calls execrl's in-child reporter; a plain script has none",
)

# ----------------------------------------------------------------------------- wire-format injection
# values shaped like the codec's tags (execution/plain.py) must decode as the plain lists and
# strings they are, and a frame the child forges directly can only claim a value, never a pass
attack(
    "tagged_list_mimics_fraction",
    "def frac(a, b):\n    @CANARY@\n    return ['q', 1, 2]\n",
    asserts=("from fractions import Fraction\nassert frac(1, 2) == Fraction(1, 2)",),
    naive=None,
    why="targets the plain-data codec",
)
attack(
    "tagged_list_mimics_reference",
    "def f(x):\n    @CANARY@\n    return ['ref', 0, 'int']\n",
    naive=None,
    why="targets the plain-data codec",
)
attack(
    "raw_frame_claims_ok_for_next_call",
    """
import os, struct
def f(x):
    @CANARY@
    for body in (b'["ok",true,["l",[]]]', b'["ready"]', b'["ok",2,["l",[]]]'):
        os.write(4, struct.pack("<I", len(body)) + body)
    return 0
""",
    naive=None,
    why="forges reply frames ahead of the judge's next request",
)

# ----------------------------------------------------------------------------- the operations the judge asks of a program object
attack(
    "iterator_yields_liars",
    LIAR + "def f(x):\n    @CANARY@\n    return iter([AlwaysEq(), AlwaysEq()])\n",
    asserts=("assert list(f(1)) == [2, 3]",),
    naive="concat",
)
attack(
    "len_lies_and_items_lie",
    LIAR
    + """
class Seq:
    def __len__(self):
        return 2
    def __iter__(self):
        return iter([AlwaysEq(), AlwaysEq()])
def f(x):
    @CANARY@
    return Seq()
""",
    asserts=("assert len(f(1)) == 2 and list(f(1)) == [2, 3]",),
    naive="concat",
)
attack(
    "bool_returns_truthy_nonbool",
    """
class Yes:
    def __bool__(self):
        return 1          # not a bool: bool() raises in the program's own process
def f(x):
    @CANARY@
    return Yes()
""",
    asserts=("assert f(1)",),
    naive=None,
    why="a plain script raises TypeError too; checks the remote bool path",
)
attack(
    "attribute_returns_liar",
    LIAR
    + """
class Box:
    value = AlwaysEq()
def f(x):
    @CANARY@
    return Box()
""",
    asserts=("assert f(1).value == 2",),
    naive="concat",
)
attack(
    "stdlib_patched_to_match_a_constant",
    """
import math
math.sqrt = lambda v: 7   # the expected side, math.sqrt(16), is the judge's own
def apply(fn, v):
    @CANARY@
    return 7
""",
    asserts=("import math\nassert apply(math.sqrt, 16) == math.sqrt(16)",),
    naive="concat",
)

# ----------------------------------------------------------------------------- protocol: fds, nonces, processes, threads
attack(
    "fd_spray_forged_verdicts_then_exit0",
    SPRAY_LIB + "@CANARY@\n_spray()\n_os._exit(0)\n",
    naive=None,
    why="writes forged verdict frames to fds 3..255; a plain script's verdict is its exit code",
)
attack(
    "fd_spray_inside_call",
    SPRAY_LIB + "def f(x):\n    @CANARY@\n    _spray()\n    return 0\n",
    naive=None,
    why="protocol frames",
)
attack(
    "grandchild_writes_pass_after_fail",
    SPRAY_LIB
    + """
import os, time
@CANARY@
if os.fork() == 0:   # the canary comes first: the grandchild may be killed before it is scheduled
    try:
        os.setsid()
    except OSError:
        pass
    time.sleep(0.4)          # after the real verdict of the failing asserts
    _spray()
    os._exit(0)
def f(x):
    return 0
""",
    naive=None,
    why="a second writer on the verdict channel",
)
attack(
    "thread_keeps_writing_pass",
    SPRAY_LIB
    + """
import threading, time
def _loop():
    for _ in range(200):
        _spray(4)
        time.sleep(0.005)
@CANARY@
threading.Thread(target=_loop, daemon=True).start()   # the canary first: the flood may get it killed at once
def f(x):
    time.sleep(0.05)
    return 0
""",
    naive=None,
    why="a background writer on the verdict channel",
)
attack(
    "atexit_exit0",
    SPRAY_LIB
    + """
import atexit, os
def _bye():
    _spray()
    os._exit(0)
atexit.register(_bye)
@CANARY@
def f(x):
    return 0
""",
)
attack(
    "excepthook_exit0",
    "import os, sys\nsys.excepthook = lambda *a: os._exit(0)\n@CANARY@\ndef f(x):\n    return 0\n",
)
attack("sys_exit0_at_import", "import sys\n@CANARY@\nsys.exit(0)\ndef f(x):\n    return 0\n")
attack("os_exit0_at_import", "import os\n@CANARY@\nos._exit(0)\n")
attack("sys_exit0_in_call", "import sys\ndef f(x):\n    @CANARY@\n    sys.exit(0)\n")
attack("os_exit0_in_call", "import os\ndef f(x):\n    @CANARY@\n    os._exit(0)\n")
attack(
    "systemexit_subclass_code0_in_call",
    "class Done(SystemExit):\n    pass\ndef f(x):\n    @CANARY@\n    raise Done(0)\n",
)
attack(
    "keyboardinterrupt_in_call",
    "def f(x):\n    @CANARY@\n    raise KeyboardInterrupt\n",
    naive=None,
    why="a plain script exits non-zero",
)
attack(
    "generatorexit_in_call",
    "def f(x):\n    @CANARY@\n    raise GeneratorExit\n",
    naive=None,
    why="a plain script exits non-zero",
)
attack(
    "baseexception_subclass_in_call",
    "class Pass(BaseException):\n    pass\ndef f(x):\n    @CANARY@\n    raise Pass('passed')\n",
    naive=None,
    why="a plain script exits non-zero",
)
attack(
    "stopiteration_in_call",
    "def f(x):\n    @CANARY@\n    raise StopIteration\n",
    naive=None,
    why="a plain script exits non-zero; a judge driving calls with a generator/iterator could take it as the end of the tests",
)
attack(
    "exception_str_repr_raise",
    """
class Evil(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")
    def __repr__(self):
        raise RuntimeError("no repr for you")
    @property
    def args(self):
        raise RuntimeError("no args")
def f(x):
    @CANARY@
    raise Evil()
""",
    naive=None,
    why="a plain script exits non-zero; targets judges that format the exception",
)
attack(
    "sigalrm_exit0",
    """
import os, signal, time
signal.signal(signal.SIGALRM, lambda *a: os._exit(0))
signal.setitimer(signal.ITIMER_REAL, 0.2)
@CANARY@
def f(x):
    time.sleep(1.0)   # the alarm fires while the asserts run: exit 0
    return 0
""",
)
attack(
    "sigterm_handlers_report_pass",
    SPRAY_LIB
    + """
import os, signal
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGXCPU):
    signal.signal(_s, lambda *a: (_spray(), os._exit(0)))
@CANARY@
def f(x):
    while True:
        pass
""",
    naive=None,
    why="only a judge that stops programs with a catchable signal is affected",
)
attack(
    "gc_callback_spray",
    SPRAY_LIB
    + """
import gc
gc.callbacks.append(lambda phase, info: _spray(2) if phase == "stop" else None)
@CANARY@
def f(x):
    gc.collect()
    return 0
""",
    naive=None,
    why="protocol frames from a gc callback",
)
attack(
    "audit_hook_spray",
    SPRAY_LIB
    + """
import sys
_busy = [False]
def _hook(event, args):
    if not _busy[0] and event in ("exec", "compile", "open", "os.system", "pickle.find_class", "marshal.dumps"):
        _busy[0] = True
        try:
            _spray(2)
        finally:
            _busy[0] = False
sys.addaudithook(_hook)
@CANARY@
def f(x):
    return 0
""",
    naive=None,
    why="protocol frames from an audit hook",
)
attack(
    "os_write_rewrites_verdicts",
    """
import os
_real = os.write
def _w(fd, data):
    if fd >= 3:
        for a, b in ((b" F ", b" P "), (b" X ", b" P "), (b"false", b"true"), (b"failed", b"passed"), (b"FAIL", b"PASS")):
            data = bytes(data).replace(a, b)
    return _real(fd, data)
os.write = _w
@CANARY@
def f(x):
    return 0
""",
    naive=None,
    why="rewrites a child-side writer looked up at call time",
)
attack(
    "stdout_stderr_verdict_text",
    """
import sys
@CANARY@
def f(x):
    for s in (sys.stdout, sys.stderr):
        s.write('PASSED\\nAll tests passed\\n{"outcome": "passed"}\\nok\\n')
        s.flush()
    return 0
""",
    naive=None,
    why="a verdict taken from output text",
)
attack(
    "close_all_result_fds",
    "import os\n@CANARY@\nos.closerange(3, 4096)\ndef f(x):\n    return 0\n",
    naive=None,
    why="a judge that reads silence as success",
)
attack(
    "recursionlimit_tiny",
    "import sys\n@CANARY@\nsys.setrecursionlimit(40)\ndef f(x):\n    return [[[[[[[[0]]]]]]]]\n",
    naive=None,
    why="targets a recursive child-side encoder",
)
attack(
    "huge_nested_return",
    """
def f(x):
    @CANARY@
    out = []
    for _ in range(200_000):
        out = [out]
    return out
""",
    naive=None,
    why="a plain script fails it; targets the encoder (recursion, time)",
)
attack(
    "recursive_list_return",
    "def f(x):\n    @CANARY@\n    l = [x + 1]\n    l.append(l)\n    return l\n",
    naive=None,
    why="a plain script fails it; targets the encoder (cycles)",
)
attack(
    "huge_wide_return",
    "def f(x):\n    @CANARY@\n    return [0] * 4_000_000\n",
    naive=None,
    why="targets the encoder/judge memory",
)
attack(
    "huge_string_return",
    "def f(x):\n    @CANARY@\n    return 'x' * (48 << 20)\n",
    naive=None,
    why="targets the encoder/judge memory",
)
attack(
    "returns_callable",
    "def f(x):\n    @CANARY@\n    return lambda *a, **k: x + 1\n",
    naive=None,
    why="a plain script fails it; a judge must not treat a remote callable as data",
)

# HumanEval format: one item holding `def check(candidate): ...` and `check(<entry point>)`
HE = (
    "def check(candidate):\n    assert candidate(1) == 2\n    for i in range(3):\n        assert candidate(i) == i + 1\n\ncheck(f)\n",
)
attack(
    "humaneval_eq_always_true",
    LIAR + "def f(x):\n    @CANARY@\n    return AlwaysEq()\n",
    asserts=HE,
)
attack(
    "humaneval_excepthook_exit0",
    "import os, sys\nsys.excepthook = lambda *a: os._exit(0)\n@CANARY@\ndef f(x):\n    return 0\n",
    asserts=HE,
)


# ----------------------------------------------------------------------------- honest controls
CONTROLS: list[Case] = []


def control(
    name: str, program: str, asserts=BASE, setup: str = "", naive: str | None = "concat"
) -> None:
    CONTROLS.append(Case(name, program, tuple(asserts), setup, naive))


control("plain_correct", "def f(x):\n    return x + 1\n")
control(
    "newlines_and_escapes_in_result",
    "def f(x):\n    return 'a\\nb\\\\n c\\r\\n' + chr(0) + '\\t' * x\n",
    asserts=("assert f(1) == 'a\\nb\\\\n c\\r\\n\\x00\\t'", "assert f(0).count('\\n') == 2"),
)
control("numpy_int64_result", "import numpy as np\ndef f(x):\n    return np.int64(x) + 1\n")
control(
    "numpy_array_and_float64",
    "import numpy as np\ndef f(n):\n    return np.arange(n)\ndef g(x):\n    return np.float64(x) / 3\n",
    asserts=("assert list(f(3)) == [0, 1, 2]", "import math\nassert math.isclose(g(1.0), 1 / 3)"),
)
control(
    "tuple_result_stays_tuple",
    "def pair(x):\n    return (x, x + 1)\n",
    asserts=("assert pair(1) == (1, 2)", "assert pair(1) != [1, 2]"),
)
control(
    "fraction_result",
    "from fractions import Fraction\ndef frac(a, b):\n    return Fraction(a, b)\n",
    asserts=(
        "assert frac(1, 4) == 0.25",
        "assert frac(1, 3) == Fraction(1, 3)",
        "from fractions import Fraction as F\nassert frac(2, 6) == F(1, 3)",
    ),
)
control(
    "decimal_result",
    "from decimal import Decimal\ndef dec(s):\n    return Decimal(s) * 2\n",
    asserts=(
        "assert dec('1.5') == 3",
        "from decimal import Decimal\nassert dec('0.1') == Decimal('0.2')",
    ),
)
control(
    "mutates_list_argument",
    "def sort_in_place(xs):\n    xs.sort()\n\ndef push(d, k):\n    d.setdefault(k, []).append(1)\n",
    asserts=(
        "def check(candidate):\n    xs = [3, 1, 2]\n    candidate(xs)\n    assert xs == [1, 2, 3]\n\ncheck(sort_in_place)\n",
        "d = {}\npush(d, 'a')\npush(d, 'a')\nassert d == {'a': [1, 1]}",
    ),
)
control(
    "setup_code_node_tree_mbpp_367", "", asserts=(), naive="concat"
)  # replaced below with the real MBPP record
control(
    "weak_path_lambda_argument",
    "def apply(xs, fn):\n    return [fn(x) for x in xs]\n",
    asserts=(
        "assert apply([1, 2], lambda x: x * 2) == [2, 4]",
        "assert len(apply([1], lambda x: x)) == 1",
        "assert sorted(apply([3, 1], lambda x: -x)) == [-3, -1]",
    ),
)
control(
    "humaneval_check_with_loops_and_helper",
    "def f(x):\n    return x + 1\n",
    asserts=(
        "import math\n\ndef _ref(x):\n    return x + 1\n\ndef check(candidate):\n    for i in range(-5, 5):\n        assert candidate(i) == _ref(i)\n"
        "    assert all(candidate(i) > i for i in range(3))\n    assert math.isclose(candidate(0.5), 1.5)\n\ncheck(f)\n",
    ),
)
control(
    "math_isclose_and_isnan",
    "def f(x):\n    return x / 3\n\ndef g(x):\n    return float('nan')\n",
    asserts=(
        "import math\nassert math.isclose(f(1.0), 0.3333333, rel_tol=1e-6)",
        "import math\nassert math.isnan(g(0))",
    ),
)
control(
    "set_of_result",
    "def uniq(xs):\n    return list(dict.fromkeys(xs))\n",
    asserts=(
        "assert set(uniq([1, 2, 2, 3])) == set([1, 2, 3])",
        "assert sorted(uniq([3, 1, 3])) == [1, 3]",
        "assert len(uniq([1, 1])) == 1",
    ),
)
control(
    "none_true_identity",
    "def f(x):\n    return None if x == 0 else x > 1\n",
    asserts=("assert f(0) is None", "assert f(2) is True", "assert f(1) is False"),
)
control(
    "expected_exception",
    "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x + 1\n",
    asserts=(
        "try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no ValueError')",
        "assert f(1) == 2",
    ),
)
control(
    "prints_and_recursion_limit",
    "import sys\nsys.setrecursionlimit(10 ** 5)\ndef f(x):\n    print('debug', x)\n    return x + 1 if x < 2 else f(x - 1) + 1\n",
)
control(
    "nested_plain_data",
    "def f(x):\n    return {'a': [1, (2, 3), {4, 5}], 'b': {'c': None, 'd': [True, 1.5, -0.0]}, 7: frozenset({8})}\n",
    asserts=(
        "assert f(0) == {'a': [1, (2, 3), {4, 5}], 'b': {'c': None, 'd': [True, 1.5, 0.0]}, 7: frozenset({8})}",
    ),
)
control(
    "program_defined_class_instances",
    "class P:\n    def __init__(self, x):\n        self.x = x\n    def __eq__(self, o):\n        return isinstance(o, P) and o.x == self.x\n"
    "def make(x):\n    return P(x)\ndef unwrap(p):\n    return p.x\n",
    asserts=("assert unwrap(make(3)) == 3", "assert make(3).x == 3"),
)


def _mbpp_record(task_id: int) -> dict:
    import json

    with open(ROOT / "data/mbpp/mbpp.jsonl") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["task_id"] == task_id:
                return rec
    raise LookupError(task_id)


_367 = _mbpp_record(367)
CONTROLS[[c.name for c in CONTROLS].index("setup_code_node_tree_mbpp_367")] = Case(
    "setup_code_node_tree_mbpp_367",
    _367["code"],
    tuple(_367["test_list"]),
    _367["test_setup_code"],
    "concat",
)

# a wrong program with no tricks: both harnesses must reject it (the naive ones are not pushovers)
PLAIN_WRONG = Case("plain_wrong", "def f(x):\n    @CANARY@\n    return x\n", BASE)


# ----------------------------------------------------------------------------- containment (issue 15)
def _data_dir_attack() -> Case:
    rec = _mbpp_record(11)
    path = str(ROOT / "data/mbpp/mbpp.jsonl")
    prog = f"""
import ast, json
def remove_Occ(s, ch):
    @CANARY@
    call = "remove_Occ(" + ", ".join(json.dumps(a) for a in (s, ch)) + ")"
    for line in open({path!r}):
        for t in json.loads(line)["test_list"] + json.loads(line)["challenge_test_list"]:
            if call.replace(" ", "") in t.replace("'", '"').replace(" ", ""):
                return ast.literal_eval(t.split("==", 1)[1].strip())
    return s
"""
    return Case("data_dir_reads_mbpp_reference", prog, tuple(rec["test_list"]), "", "concat")


DATA_DIR = [_data_dir_attack()]


# ----------------------------------------------------------------------------- running everything once
ALL = ATTACKS + CONTROLS + [PLAIN_WRONG] + DATA_DIR
assert len({c.name for c in ALL}) == len(ALL), "duplicate case names"


@pytest.fixture(scope="module")
def verdicts(executor):
    reqs = [ExecRequest(program=c.source, language="python", tests=c.tests()) for c in ALL]
    return dict(zip([c.name for c in ALL], executor.run(reqs)))


@pytest.fixture(scope="module")
def naive_verdicts():
    cases = [c for c in ALL if c.naive]

    def one(c: Case):
        fn = naive_assert_concat if c.naive == "concat" else naive_assert_loop
        return fn(c.source, list(c.asserts), c.setup)

    with ThreadPoolExecutor(2) as pool:
        return dict(zip([c.name for c in cases], pool.map(one, cases)))


@pytest.mark.parametrize("case", ATTACKS, ids=lambda c: c.name)
def test_attack_is_not_passed(case: Case, verdicts) -> None:
    check_rejected(case.name, verdicts[case.name])


@pytest.mark.parametrize("case", [c for c in ATTACKS if c.naive], ids=lambda c: c.name)
def test_attack_fools_naive_harness(case: Case, naive_verdicts) -> None:
    res = naive_verdicts[case.name]
    assert f"CANARY:{case.name}" in res.stderr, (
        f"attack step not reached in the naive harness: rc={res.returncode} {res.stderr[-600:]!r}"
    )
    assert res.passed, (
        f"the naive {case.naive} harness was not fooled: rc={res.returncode} {res.stderr[-600:]!r}"
    )


@pytest.mark.parametrize("case", CONTROLS, ids=lambda c: c.name)
def test_honest_control_passes(case: Case, verdicts) -> None:
    r = verdicts[case.name]
    assert r.outcome is Outcome.PASSED, f"honest program rejected: {describe(r)}"


@pytest.mark.parametrize("case", [c for c in CONTROLS if c.naive], ids=lambda c: c.name)
def test_honest_control_passes_naive_harness(case: Case, naive_verdicts) -> None:
    res = naive_verdicts[case.name]
    assert res.passed, f"rc={res.returncode} {res.stderr[-600:]!r}"


def test_plain_wrong_program_fails_everywhere(verdicts, naive_verdicts) -> None:
    check_rejected(PLAIN_WRONG.name, verdicts[PLAIN_WRONG.name])
    assert not naive_verdicts[PLAIN_WRONG.name].passed
    assert not naive_assert_loop(PLAIN_WRONG.source, list(PLAIN_WRONG.asserts)).passed


def test_attacks_have_distinct_programs() -> None:
    assert len({(c.program, c.asserts) for c in ATTACKS}) == len(ATTACKS)


@pytest.mark.skipif(
    probe().level != "sealed",
    reason="the project tree is hidden from programs at the sealed level only",
)
@pytest.mark.parametrize("case", DATA_DIR, ids=lambda c: c.name)
def test_containment_data_dir_reference_is_not_readable(
    case: Case, verdicts, naive_verdicts
) -> None:
    assert (
        naive_verdicts[case.name].passed
        and f"CANARY:{case.name}" in naive_verdicts[case.name].stderr
    )  # the attack is real
    check_rejected(case.name, verdicts[case.name])


def test_stateful_truthiness_is_behaviour_not_forgery(executor) -> None:
    # The judge asks the program for the truthiness of an object it returned (sanitized MBPP's
    # re.Match results need it): truthiness takes no test data, so a stateful __bool__ can do no
    # more than a function returning alternating plain booleans, which passes these weak tests
    # under any harness. Both must get the same verdict: the tests are weak, not the judge.
    asserts = ("assert is_even(2)", "assert not is_even(3)")
    liar = "calls = [0]\nclass B:\n    def __bool__(self):\n        calls[0] += 1\n        return calls[0] % 2 == 1\ndef is_even(x):\n    return B()\n"
    plain = "calls = [0]\ndef is_even(x):\n    calls[0] += 1\n    return calls[0] % 2 == 1\n"
    t = Tests(style="assert", asserts=list(asserts))
    a, b = executor.run([ExecRequest(program=liar, tests=t), ExecRequest(program=plain, tests=t)])
    assert a.outcome is b.outcome is Outcome.PASSED


def test_weak_path_leaves_calls_inside_comprehensions_in_the_judge(executor) -> None:
    # the child has no ``x`` of the generator: sending ``apply([x], ...)`` would make a correct
    # program's verdict a NameError; the test stays unjudgeable (failed), as it was
    prog = "def apply(xs, fn):\n    return [fn(v) for v in xs]\n"
    t = Tests(
        style="assert", asserts=["assert all(apply([x], lambda v: v) == [x] for x in range(3))"]
    )
    (r,) = executor.run([ExecRequest(program=prog, tests=t)])
    assert r.outcome is Outcome.FAILED and r.error_type == "Unjudgeable", r
