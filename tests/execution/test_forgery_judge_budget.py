"""Attacks on the trusted judge's memory (issue 28): a reply or status frame that costs the
judge far more to decode than its size.

The judge decodes what a program sends (``execution/plain.py``). Before the budget, a 16 KB
reply ``["a", "<U750000", [1000], [...]]`` made it allocate 3 GB. The bound stated and
checked here: decoding ``n`` bytes peaks at no more than ``BOUND_PER_BYTE * n + BOUND_FLOOR``
(the parsed JSON, at most ~25 bytes per byte, plus the decoder's budget, ``plain.BUDGET_FLOOR``
+ ``plain.BUDGET_PER_BYTE`` per byte), measured with tracemalloc in a fresh interpreter; an
over-budget reply is a typed outcome for its program (``failed``, ``ReplyTooLarge``).
Each budget-bound shape is also decoded with the budget switched off: that it then exceeds the
bound is the canary proving the shape really amplifies.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

import pytest

from execrl.execution import ExecRequest, Outcome, plain
from execrl.vocabulary import Tests

from helpers.common import ROOT
from helpers.naive_harness import check_rejected

BOUND_PER_BYTE = 64
BOUND_FLOOR = 16 << 20
P = (1 << 61) - 1  # ints equal modulo P share a hash

# name -> (JSON text of a hostile frame, does the budget (not a cap) stop it)
SHAPES: dict[str, tuple[str, bool]] = {
    "wide_dtype_array": (json.dumps(["a", "<U40000", [200], ["a"] * 200]), True),
    "wide_dtype_scalars": (json.dumps(["l", [["n", "<U40000", "a"]] * 2000]), False),
    "huge_shape_tiny_data": (json.dumps(["a", "<f8", [1 << 40], [1.0]]), False),
    "too_many_dims": (json.dumps(["a", "<f8", [1] * 60, [1.0]]), False),
    "long_dtype_string": (json.dumps(["a", "<U" + "0" * 100000 + "1", [1], ["a"]]), False),
    "deep_raw_nesting": ("[" * 200000 + "]" * 200000, False),
    "deep_tagged_nesting": ('["l",[' * 5000 + "1" + "]]" * 5000, False),
    "huge_int_literal": ("1" * 1_000_000, False),
    "huge_hex_int": (json.dumps(["I", "f" * 1_000_000]), False),
    "decimal_exponent": (json.dumps(["m", "1e999999999999"]), False),
    # decoding a range allocates nothing, but a test may make it the list it stands for
    "long_range": (json.dumps(["r", 0, 10**18, 1]), False),
    "colliding_set": (json.dumps(["s", [["I", hex(5 + k * P)] for k in range(1, 20001)]]), False),
    "colliding_dict_keys": (
        json.dumps(["d", [[["t", [["I", hex(5 + k * P)]]], 0] for k in range(1, 2001)]]),
        False,
    ),
    "empty_deques": (json.dumps(["l", [["Q", None, []]] * 60000]), False),  # 624 bytes each
}

_MEASURE = r"""
import json, sys, tracemalloc
sys.set_int_max_str_digits(0)  # the decoder must not rely on the interpreter's own int limit
from execrl.execution import plain
from execrl.execution.judge import run_outcome
from execrl.execution.worker import RunReport

def peak(fn):
    tracemalloc.start()
    try:
        fn()
        res = "accepted"
    except plain.DecodeError as e:
        res = type(e).__name__
    p = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return res, p

out = {}
for name, (text, budget) in json.loads(sys.stdin.read()).items():
    data = text.encode()
    res, p = peak(lambda: plain.decode(data))
    unbounded = None
    if budget:  # the canary: with the budget off, the same frame costs more than the bound
        plain.BUDGET_FLOOR = 1 << 62
        unbounded = peak(lambda: plain.decode(data))
        plain.BUDGET_FLOOR = 8 << 20
    out[name] = [len(data), res, p, unbounded]
# many frames: a script's report holding every frame its program wrote
wide = json.dumps(["a", "<U40000", [200], ["a"] * 200]).encode()
rep = RunReport(frames=[wide] * 100000, exit_code=0)
res, p = peak(lambda: run_outcome(rep))
out["many_status_frames"] = [len(wide), res, p, None]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def measured() -> dict:
    env_path = f"{ROOT / 'src'}"
    r = subprocess.run(
        [sys.executable, "-c", _MEASURE],
        input=json.dumps(SHAPES),
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def _bound(n: int) -> int:
    return BOUND_PER_BYTE * n + BOUND_FLOOR


@pytest.mark.parametrize("shape", [*SHAPES, "many_status_frames"])
def test_decoding_a_hostile_frame_stays_within_the_bound(measured, shape) -> None:
    n, res, peak, unbounded = measured[shape]
    assert peak <= _bound(n), f"{shape}: {n} bytes cost {peak} bytes (bound {_bound(n)})"
    if shape == "many_status_frames":
        assert res == "accepted"  # run_outcome returns a verdict; it decoded only the first frames
        return
    assert res in ("OverBudget", "DecodeError"), f"{shape} was accepted"
    if unbounded is not None:
        assert unbounded[0] == "accepted" and unbounded[1] > _bound(n), (
            f"{shape} is no attack: without the budget it costs {unbounded[1]} bytes"
        )


def test_colliding_keys_really_share_a_hash() -> None:
    # the canary for the collision shapes: every key hashes alike, so a set of them is quadratic
    assert len({hash(5 + k * P) for k in range(1, 20001)}) == 1
    assert len({hash((5 + k * P,)) for k in range(1, 2001)}) == 1


def test_honest_values_of_every_kind_still_decode() -> None:
    import collections
    import decimal
    import fractions

    import numpy as np

    values = [
        [1, -1, -2, 2**70, -(10**5000), 1.5, float("inf"), "x", None, True],
        (1, (2, 3)),
        {1: "a", (1, 2): [3]},
        {-1, -2, 2**61 - 1, 0},  # -1 and -2 share a hash: a few sharing is honest
        frozenset({1}),
        b"\x00\xff",
        bytearray(b"ab"),
        1 + 2j,
        range(0, 10, 3),
        fractions.Fraction(2**100, 3),
        decimal.Decimal("-1.25E+40"),
        collections.Counter("abca"),
        collections.OrderedDict(a=1),
        collections.defaultdict(list, a=[1]),
        collections.deque([1, 2], maxlen=5),
        [set() for _ in range(10000)],
    ]
    for v in values:
        assert plain.decode(plain.encode(v, lambda o: ["ref", 0])) == v
    arr = np.arange(100000, dtype=np.float64).reshape(100, 1000)
    got = plain.decode(plain.encode(arr, lambda o: ["ref", 0]))
    assert got.dtype == arr.dtype and (got == arr).all()
    words = np.array(["ab", "c" * 300])
    assert (plain.decode(plain.encode(words, lambda o: ["ref", 0])) == words).all()


# ----------------------------------------------------------------------------- through the sandbox
WIDE_REPLY = """import json, os, struct
def f(x):
    os.write(2, b"CANARY:wide_reply\\n")
    data = json.dumps(["l", ["ok", ["a", "<U4000", [1000], ["a"] * 1000], ["l", []]]]).encode()
    os.write(4, struct.pack("<I", len(data)) + data)  # answers before the harness does
    return 0
"""
WIDE_STATUS = """import json, os, struct
os.write(2, b"CANARY:wide_status\\n")
data = json.dumps(["a", "<U4000", [1000], ["a"] * 1000]).encode()
for _ in range(3):
    os.write(4, struct.pack("<I", len(data)) + data)
print(input())
"""
FRAME_FLOOD = """import os, struct
os.write(2, b"CANARY:frame_flood\\n")
os.write(4, (struct.pack("<I", 2) + b"[]") * 100000)
print(input())
"""


def test_hostile_frames_from_a_sandboxed_program_are_typed_outcomes(executor) -> None:
    reqs = [
        ExecRequest(program=WIDE_REPLY, tests=Tests(style="assert", asserts=["assert f(1) == 0"])),
        ExecRequest(program=WIDE_STATUS, tests=Tests(style="stdio", inputs=["hi"], outputs=["hi"])),
        ExecRequest(program=FRAME_FLOOD, tests=Tests(style="stdio", inputs=["hi"], outputs=["hi"])),
    ]
    tracemalloc.start()
    try:
        wide, status, flood = executor.run(reqs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # each frame alone would be 16 MB decoded (4000 chars * 4 bytes * 1000) from 6 KB
    assert peak <= _bound(3 * 6100), peak
    check_rejected("wide_reply", wide)
    assert wide.outcome is Outcome.FAILED and wide.error_type == "ReplyTooLarge", wide
    # a status frame is the program's word: unreadable ones are skipped, the output decides
    assert status.outcome is Outcome.PASSED, status
    check_rejected("frame_flood", flood)
    assert flood.error_type == "OutputLimitExceeded", flood
