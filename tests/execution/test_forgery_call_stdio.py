"""Red team for verdict forging (issue 14), APPS call-based and standard-input tests.

Same structure as test_forgery_assert.py: every attack is a WRONG program; execrl must not judge
it PASSED (nor INFRA_ERROR) and must show the program's ``CANARY:<name>`` line in
``result.error``; a naive in-process APPS harness (tests/helpers/naive_harness.py) must be fooled
by the same program (attacks on execrl's own protocol have ``naive=None`` and say why).

APPS semantics kept (honest controls): call-based outputs compare after JSON-style decoding, so a
tuple result matches a list and an output equal to ``expected[0]`` passes; standard-input
outputs compare under APPS' whitespace/float cascade.

Attacks that read the expected output from the project's data/ directory are a containment
problem (issue 15): separate, at the end.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from execrl.execution import ExecRequest, Outcome
from execrl.execution.sandbox import probe
from execrl.vocabulary import Tests

from helpers.common import ROOT
from helpers.naive_harness import (
    FIND_EXPECTED_LIB,
    SPRAY_LIB,
    check_rejected,
    describe,
    naive_call,
    naive_stdio,
    with_canary,
)


@dataclass(frozen=True)
class Case:
    name: str
    program: str
    style: str  # "call" | "stdio"
    inputs: tuple
    outputs: tuple
    fn_name: str | None = None
    naive: bool = True  # False: targets execrl's protocol only (see why)
    why: str = ""

    @property
    def source(self) -> str:
        return with_canary(self.name, self.program)

    def tests(self) -> Tests:
        return Tests(
            style=self.style,
            inputs=json.loads(json.dumps(list(self.inputs))),
            outputs=json.loads(json.dumps(list(self.outputs))),
            fn_name=self.fn_name,
        )


CALL_IN, CALL_OUT = ([1], [5]), (2, 6)  # f(x) == x + 1
STR_IN, STR_OUT = (["ab"], ["abc"]), ("ba", "cba")  # rev(s) == s[::-1]
IO_IN, IO_OUT = ("3 4\n", "10 20\n"), ("7\n", "30\n")  # print(a + b)

ATTACKS: list[Case] = []


def call_attack(
    name: str,
    program: str,
    fn_name: str = "f",
    inputs: tuple = CALL_IN,
    outputs: tuple = CALL_OUT,
    naive: bool = True,
    why: str = "",
) -> None:
    ATTACKS.append(Case(name, program, "call", inputs, outputs, fn_name, naive, why))


def stdio_attack(
    name: str,
    program: str,
    naive: bool = True,
    why: str = "",
    inputs: tuple = IO_IN,
    outputs: tuple = IO_OUT,
) -> None:
    ATTACKS.append(Case(name, program, "stdio", inputs, outputs, None, naive, why))


LIAR = """
class AlwaysEq:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__
"""

# ----------------------------------------------------------------------------- call-based: lying results
call_attack("call_eq_always_true", LIAR + "def f(x):\n    @CANARY@\n    return AlwaysEq()\n")
call_attack(
    "call_eq_returns_truthy_object",
    "class Y:\n    def __eq__(self, o):\n        return [1]\n    __hash__ = object.__hash__\n"
    "def f(x):\n    @CANARY@\n    return Y()\n",
)
call_attack(
    "call_int_subclass_lying_eq",
    "class I(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
    "def f(x):\n    @CANARY@\n    return I(0)\n",
)
call_attack(
    "call_float_subclass_lying_eq",
    "class F(float):\n    def __eq__(self, o):\n        return True\n    __hash__ = float.__hash__\n"
    "def f(x):\n    @CANARY@\n    return F(0.5)\n",
)
call_attack(
    "call_str_subclass_lying_eq",
    "class S(str):\n    def __eq__(self, o):\n        return True\n    __hash__ = str.__hash__\n"
    "def rev(s):\n    @CANARY@\n    return S('nope')\n",
    fn_name="rev",
    inputs=STR_IN,
    outputs=STR_OUT,
)
call_attack(
    "call_list_subclass_lying_eq",
    "class L(list):\n    def __eq__(self, o):\n        return True\n    __hash__ = None\n"
    "def rev(xs):\n    @CANARY@\n    return L()\n",
    fn_name="rev",
    inputs=([[1, 2]], [[3, 4, 5]]),
    outputs=([2, 1], [5, 4, 3]),
)
call_attack(
    "call_tuple_subclass_lying_eq",
    "class T(tuple):\n    def __eq__(self, o):\n        return True\n    __hash__ = tuple.__hash__\n"
    "def rev(xs):\n    @CANARY@\n    return T()\n",
    fn_name="rev",
    inputs=([[1, 2]],),
    outputs=([2, 1],),
    why="the naive harness turns tuples into lists (losing the lie), so only the __eq__ of the list subclass... n/a",
    naive=False,
)
call_attack(
    "call_class_spoof_property",
    "class C:\n    __class__ = property(lambda s: int)\n    def __eq__(self, o):\n        return True\n"
    "    __hash__ = object.__hash__\ndef f(x):\n    @CANARY@\n    return C()\n",
)
call_attack(
    "call_solution_method_returns_liar",
    LIAR + "class Solution:\n    def f(self, x):\n        @CANARY@\n        return AlwaysEq()\n",
)
call_attack(
    "call_nested_liars_in_plain_list",
    LIAR + "def rev(xs):\n    @CANARY@\n    return [AlwaysEq() for _ in range(len(xs))]\n",
    fn_name="rev",
    inputs=([[1, 2]], [[3, 4, 5]]),
    outputs=([2, 1], [5, 4, 3]),
)
call_attack(
    "call_numpy_object_array_of_liars",
    LIAR
    + "import numpy as np\ndef f(x):\n    @CANARY@\n    return np.array([AlwaysEq()], dtype=object)\n",
)
call_attack(
    "call_iterator_compares_equal",
    "class It:\n    def __iter__(self):\n        return iter(())\n    def __eq__(self, o):\n        return True\n"
    "    __hash__ = object.__hash__\ndef f(x):\n    @CANARY@\n    return It()\n",
)
call_attack(
    "call_del_hook_exit0",
    "import os\nclass Bye:\n    def __del__(self):\n        os._exit(0)\ndef f(x):\n    @CANARY@\n    return Bye()\n",
)
call_attack(
    "call_pickle_reduce_builds_liar_in_judge",
    """
class P:
    def __reduce__(self):
        return (eval, ("type('E', (), {'__eq__': lambda s, o: True, '__ne__': lambda s, o: False, '__hash__': lambda s: 0})()",))
def f(x):
    @CANARY@
    return P()
""",
    naive=False,
    why="only a judge that unpickles results runs __reduce__",
)
call_attack(
    "call_str_for_int_confusion",
    "def f(x):\n    @CANARY@\n    return str(x + 1)\n",
    naive=False,
    why="fails in APPS too; forges an encoder that loses the str/int distinction",
)
call_attack(
    "call_huge_nested_return",
    "def f(x):\n    @CANARY@\n    out = []\n    for _ in range(200_000):\n        out = [out]\n    return out\n",
    naive=False,
    why="targets the encoder (recursion, time)",
)
call_attack(
    "call_recursive_list_return",
    "def f(x):\n    @CANARY@\n    l = [x + 1]\n    l.append(l)\n    return l\n",
    naive=False,
    why="targets the encoder (cycles)",
)
call_attack(
    "call_returns_callable",
    "def f(x):\n    @CANARY@\n    return lambda *a: x + 1\n",
    naive=False,
    why="a remote callable is not data",
)

# ----------------------------------------------------------------------------- call-based: reading the expected outputs
call_attack(
    "call_frame_walk_expected",
    FIND_EXPECTED_LIB
    + """
def f(x):
    @CANARY@
    ok, v = _find_expected([x], where=("frames",))
    return v if ok else 0
""",
)
call_attack(
    "call_gc_expected_search",
    FIND_EXPECTED_LIB
    + """
def f(x):
    @CANARY@
    ok, v = _find_expected([x], where=("gc",))
    return v if ok else 0
""",
)
call_attack(
    "call_gc_equal_length_lists",
    """
import gc
def f(x):
    @CANARY@
    for ins in [o for o in gc.get_objects() if type(o) is list]:
        if [x] in ins and all(type(i) is list for i in ins):
            k = ins.index([x])
            for holder in gc.get_referrers(ins):   # whatever holds the inputs holds the outputs too
                vals = holder.values() if isinstance(holder, dict) else getattr(holder, "__dict__", {}).values()
                for outs in vals:
                    if type(outs) is list and outs is not ins and len(outs) == len(ins):
                        return outs[k]
    return 0
""",
)
call_attack(
    "call_frame_locals_named_outputs",
    """
import sys
def f(x):
    @CANARY@
    fr = sys._getframe(1)
    while fr is not None:
        loc = fr.f_locals
        if "expected" in loc and "outputs" not in loc:
            return loc["expected"]
        for name in ("outputs", "expected_outputs", "in_outs"):
            if name in loc:
                outs = loc[name]["outputs"] if name == "in_outs" else loc[name]
                return outs[loc.get("index", 0)]
        fr = fr.f_back
    return 0
""",
)

# ----------------------------------------------------------------------------- call-based: exits, hooks, protocol
call_attack(
    "call_builtins_all_patched",
    "import builtins\nbuiltins.all = lambda *a: True\n@CANARY@\ndef f(x):\n    return 0\n",
)
call_attack("call_sys_exit0_in_call", "import sys\ndef f(x):\n    @CANARY@\n    sys.exit(0)\n")
call_attack("call_os_exit0_in_call", "import os\ndef f(x):\n    @CANARY@\n    os._exit(0)\n")
call_attack(
    "call_os_exit0_at_import", "import os\n@CANARY@\nos._exit(0)\ndef f(x):\n    return 0\n"
)
call_attack(
    "call_atexit_exit0",
    "import atexit, os\natexit.register(lambda: os._exit(0))\n@CANARY@\ndef f(x):\n    return 0\n",
)
call_attack(
    "call_sigalrm_exit0",
    "import os, signal, time\nsignal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
    "signal.setitimer(signal.ITIMER_REAL, 0.2)\n@CANARY@\ndef f(x):\n    time.sleep(1.0)\n    return 0\n",
)
call_attack(
    "call_keyboardinterrupt_in_call",
    "def f(x):\n    @CANARY@\n    raise KeyboardInterrupt\n",
    naive=False,
    why="APPS fails it",
)
call_attack(
    "call_baseexception_subclass_in_call",
    "class Pass(BaseException):\n    pass\ndef f(x):\n    @CANARY@\n    raise Pass()\n",
    naive=False,
    why="APPS fails it",
)
call_attack(
    "call_fd_spray_then_exit0",
    SPRAY_LIB + "def f(x):\n    @CANARY@\n    _spray()\n    _os._exit(0)\n",
    naive=False,
    why="protocol frames",
)
call_attack(
    "call_grandchild_spray_after_fail",
    SPRAY_LIB
    + """
import os, time
@CANARY@
if os.fork() == 0:   # the canary comes first: the grandchild may be killed before it is scheduled
    try:
        os.setsid()
    except OSError:
        pass
    time.sleep(0.4)
    _spray()
    os._exit(0)
def f(x):
    return 0
""",
    naive=False,
    why="a second writer on the verdict channel",
)
call_attack(
    "call_encoders_patched",
    """
import json, pickle, operator, builtins
json.dumps = lambda *a, **k: '"__PASS__"'
pickle.dumps = lambda *a, **k: pickle._dumps(True)
operator.eq = lambda a, b: True
builtins.isinstance = lambda *a: True
@CANARY@
def f(x):
    return 0
""",
    naive=False,
    why="targets a child-side encoder looked up at call time",
)

# ----------------------------------------------------------------------------- standard input
stdio_attack(
    "stdio_frame_walk_expected",
    FIND_EXPECTED_LIB
    + """
import sys
@CANARY@
ok, v = _find_expected(sys.stdin.read(), where=("frames",))
print(v if ok else 0, end="")
""",
)
stdio_attack(
    "stdio_gc_expected_search",
    FIND_EXPECTED_LIB
    + """
import sys
@CANARY@
ok, v = _find_expected(sys.stdin.read(), where=("gc",))
print(v if ok else 0, end="")
""",
)
stdio_attack("stdio_os_exit0", "import os\n@CANARY@\nprint(0)\nos._exit(0)\n")
stdio_attack(
    "stdio_atexit_exit0",
    "import atexit, os\natexit.register(lambda: os._exit(0))\n@CANARY@\nprint(0)\n",
)
stdio_attack(
    "stdio_builtins_all_patched",
    "import builtins\nbuiltins.all = lambda *a: True\n@CANARY@\nprint(0)\n",
)
stdio_attack(
    "stdio_sigalrm_exit0",
    "import os, signal, time\nsignal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
    "signal.setitimer(signal.ITIMER_REAL, 0.05)\n@CANARY@\nprint(0)\ntime.sleep(0.5)\n",
)
stdio_attack(
    "stdio_proc_ppid_mem_scan",
    r"""
import os, re, sys
data = sys.stdin.read()
@CANARY@
found = None
for pid in (os.getppid(), os.getpid()):
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", 0)
    except OSError:
        continue
    key = b"\x8c\x07outputs"          # a pickled Tests/request: 'outputs' then its strings
    for line in maps:
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        if "rw" not in line.split()[1] or hi - lo > 64 << 20:
            continue
        try:
            mem.seek(lo)
            chunk = mem.read(hi - lo)
        except (OSError, ValueError, OverflowError):
            continue
        at = chunk.find(key)
        if at >= 0:
            m = re.search(rb"\x8c(.)", chunk[at + len(key):at + 200], re.S)
            if m:
                n = m.group(1)[0]
                found = chunk[at + len(key) + m.end():at + len(key) + m.end() + n].decode(errors="replace")
                break
    if found:
        break
print(found if found else 0, end="")
""",
    naive=False,
    why="reads the judge's memory; a naive in-process harness is not a separate process",
)
stdio_attack(
    "stdio_proc_cmdline_environ_scan",
    r"""
import json, os, sys
data = sys.stdin.read()
@CANARY@
blobs = [json.dumps(dict(os.environ))]
for pid in ("self", str(os.getppid())):
    for what in ("cmdline", "environ"):
        try:
            blobs.append(open(f"/proc/{pid}/{what}", "rb").read().decode(errors="replace"))
        except OSError:
            pass
answer = "0"
for b in blobs:
    for part in b.replace("\0", "\n").split("\n"):
        try:
            d = json.loads(part.split("=", 1)[-1])
            answer = d["outputs"][d["inputs"].index(data)]
        except Exception:
            pass
print(answer, end="")
""",
    naive=False,
    why="looks for expected outputs passed through argv/env",
)
stdio_attack(
    "stdio_inherited_fds_read",
    r"""
import os, sys
data = sys.stdin.read()
@CANARY@
seen = b""
for fd in range(3, 256):
    try:
        os.set_blocking(fd, False)
        seen += os.read(fd, 1 << 16)
    except OSError:
        pass
print(0)
""",
    naive=False,
    why="reads whatever the judge left open",
)
stdio_attack(
    "stdio_scratch_files_scan",
    r"""
import os, sys
data = sys.stdin.read()
@CANARY@
for d in (".", "/tmp", "/dev/shm", "/var/tmp", os.environ.get("TMPDIR", "/tmp")):
    try:
        for root, dirs, files in os.walk(d):
            for fn in files[:200]:
                try:
                    txt = open(os.path.join(root, fn), errors="replace").read(1 << 16)
                except OSError:
                    continue
            break
    except OSError:
        pass
print(0)
""",
    naive=False,
    why="looks for test files next to the program",
)
stdio_attack(
    "stdio_fd_spray_then_exit0",
    SPRAY_LIB + "@CANARY@\nprint(0)\n_spray()\n_os._exit(0)\n",
    naive=False,
    why="protocol frames",
)
stdio_attack(
    "stdio_builtins_print_patched",
    SPRAY_LIB
    + """
import builtins
_real = builtins.print
builtins.print = lambda *a, **k: (_spray(2), _real(*a, **k))
@CANARY@
print(0)
""",
    naive=False,
    why="targets a child that reports through print",
)
stdio_attack(
    "stdio_grandchild_spray_after_exit",
    SPRAY_LIB
    + """
import os, time
@CANARY@
if os.fork() == 0:   # the canary comes first: the grandchild may be killed before it is scheduled
    try:
        os.setsid()
    except OSError:
        pass
    time.sleep(0.4)
    _spray()
    os._exit(0)
print(0)
""",
    naive=False,
    why="a second writer on the verdict channel after the program ended",
)


# ----------------------------------------------------------------------------- honest controls
CONTROLS: list[Case] = []


def call_control(
    name: str, program: str, fn_name: str = "f", inputs: tuple = CALL_IN, outputs: tuple = CALL_OUT
) -> None:
    CONTROLS.append(Case(name, program, "call", inputs, outputs, fn_name))


def stdio_control(
    name: str, program: str, inputs: tuple = IO_IN, outputs: tuple = IO_OUT, naive: bool = True
) -> None:
    CONTROLS.append(Case(name, program, "stdio", inputs, outputs, None, naive))


call_control("call_plain_correct", "def f(x):\n    return x + 1\n")
call_control("call_numpy_int64", "import numpy as np\ndef f(x):\n    return np.int64(x) + 1\n")
call_control(
    "call_tuple_for_list_apps_allows",
    "def rev(xs):\n    return tuple(reversed(xs))\n",
    fn_name="rev",
    inputs=([[1, 2]], [[3, 4, 5]]),
    outputs=([2, 1], [5, 4, 3]),
)
call_control(
    "call_solution_class_method",
    "class Solution:\n    def f(self, x: int) -> int:\n        return self._g(x)\n    def _g(self, x):\n        return x + 1\n",
)
call_control(
    "call_string_with_newlines",
    "def rev(s):\n    return s[::-1] + '\\n\\\\n'\n",
    fn_name="rev",
    inputs=STR_IN,
    outputs=("ba\n\\n", "cba\n\\n"),
)
call_control(
    "call_output_equals_expected_first",
    "def f(x):\n    return [x, x + 1]\n",
    inputs=([1],),
    outputs=([[1, 2]],),
)
call_control(
    "call_mutates_its_argument",
    "def rev(xs):\n    xs.reverse()\n    return xs\n",
    fn_name="rev",
    inputs=([[1, 2]], [[3, 4, 5]]),
    outputs=([2, 1], [5, 4, 3]),
)
call_control(
    "call_bool_and_float",
    "def f(x):\n    return [x > 1, x / 2, None]\n",
    inputs=([1], [3]),
    outputs=([False, 0.5, None], [True, 1.5, None]),
)
stdio_control("stdio_plain_correct", "a, b = map(int, input().split())\nprint(a + b)\n")
stdio_control(
    "stdio_sys_stdin_read_and_whitespace",
    "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b, '  ')\nprint()\n",
)
stdio_control(
    "stdio_top_level_return_apps_wrap",
    "a, b = map(int, input().split())\nif a + b:\n    print(a + b)\n    return\nprint('unreachable')\n",
    naive=False,
)
stdio_control(
    "stdio_numpy_int64",
    "import numpy as np\na, b = np.array(input().split(), dtype=np.int64)\nprint(a + b)\n",
)
stdio_control(
    "stdio_sys_exit0_after_print",
    "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\n",
)
stdio_control(
    "stdio_float_tolerance",
    "a, b = map(int, input().split())\nprint('%.9f' % (a / b))\n",
    inputs=("1 3\n",),
    outputs=("0.3333333333\n",),
    naive=False,
)


def _apps(pid: str) -> tuple[dict, list]:
    d = ROOT / "data/apps/train" / pid
    return json.loads((d / "input_output.json").read_text()), json.loads(
        (d / "solutions.json").read_text()
    )


_io1, _sol1 = _apps("0001")
stdio_control(
    "stdio_apps_0001_reference",
    _sol1[0],
    inputs=tuple(_io1["inputs"]),
    outputs=tuple(_io1["outputs"]),
)

PLAIN_WRONG = [
    Case(
        "call_plain_wrong",
        "def f(x):\n    @CANARY@\n    return x\n",
        "call",
        CALL_IN,
        CALL_OUT,
        "f",
    ),
    Case("stdio_plain_wrong", "@CANARY@\nprint(0)\n", "stdio", IO_IN, IO_OUT),
]


# ----------------------------------------------------------------------------- containment (issue 15)
_io4184, _ = _apps("4184")
DATA_DIR = [
    Case(
        "stdio_data_dir_reads_apps_reference",
        f"""
import glob, json, sys
data = sys.stdin.read()
@CANARY@
for p in glob.glob({str(ROOT / "data/apps")!r} + "/*/*/input_output.json"):
    d = json.load(open(p))
    if data in d.get("inputs", []):
        print(d["outputs"][d["inputs"].index(data)], end="")
        break
""",
        "stdio",
        tuple(_io1["inputs"]),
        tuple(_io1["outputs"]),
    ),
    Case(
        "call_data_dir_reads_apps_reference",
        f"""
import glob, json
def is_prime(n):
    @CANARY@
    for p in glob.glob({str(ROOT / "data/apps")!r} + "/*/*/input_output.json"):
        d = json.load(open(p))
        if d.get("fn_name") == "is_prime" and [n] in d["inputs"]:
            out = d["outputs"][d["inputs"].index([n])]
            return out[0] if isinstance(out, list) else out
    return None
""",
        "call",
        tuple(_io4184["inputs"]),
        tuple(_io4184["outputs"]),
        "is_prime",
    ),
]


# ----------------------------------------------------------------------------- running everything once
ALL = ATTACKS + CONTROLS + PLAIN_WRONG + DATA_DIR
assert len({c.name for c in ALL}) == len(ALL), "duplicate case names"


@pytest.fixture(scope="module")
def verdicts(executor):
    reqs = [ExecRequest(program=c.source, language="python", tests=c.tests()) for c in ALL]
    return dict(zip([c.name for c in ALL], executor.run(reqs)))


def _naive(c: Case):
    if c.style == "call":
        return naive_call(c.source, c.fn_name, list(c.inputs), list(c.outputs))
    return naive_stdio(c.source, list(c.inputs), list(c.outputs))


@pytest.fixture(scope="module")
def naive_verdicts():
    cases = [c for c in ALL if c.naive]
    with ThreadPoolExecutor(2) as pool:
        return dict(zip([c.name for c in cases], pool.map(_naive, cases)))


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
        f"the naive {case.style} harness was not fooled: rc={res.returncode} {res.stderr[-600:]!r}"
    )


@pytest.mark.parametrize("case", CONTROLS, ids=lambda c: c.name)
def test_honest_control_passes(case: Case, verdicts) -> None:
    r = verdicts[case.name]
    assert r.outcome is Outcome.PASSED, f"honest program rejected: {describe(r)}"


@pytest.mark.parametrize("case", [c for c in CONTROLS if c.naive], ids=lambda c: c.name)
def test_honest_control_passes_naive_harness(case: Case, naive_verdicts) -> None:
    res = naive_verdicts[case.name]
    assert res.passed, f"rc={res.returncode} {res.stderr[-600:]!r}"


@pytest.mark.parametrize("case", PLAIN_WRONG, ids=lambda c: c.name)
def test_plain_wrong_program_fails_everywhere(case: Case, verdicts, naive_verdicts) -> None:
    check_rejected(case.name, verdicts[case.name])
    assert not naive_verdicts[case.name].passed


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
