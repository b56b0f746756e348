"""The only values that cross the sandbox boundary: strict plain data, as tagged JSON.

Both sides use this module, but only the judge's side is trusted: :func:`decode` rebuilds
values from bytes a candidate program wrote, so it accepts exact builtin types and a short
list of faithful conversions (numpy scalars and arrays, ``Fraction``, ``Decimal``, the
``collections`` containers), nothing that carries behaviour of the program's choosing.
A value the child cannot encode (a subclass of ``int``, an object with its own ``__eq__``,
a generator) crosses as an opaque reference: the judge can pass it back to the program or
call it, but comparing, hashing, iterating or truth-testing it raises :class:`NotPlainData`.

JSON scalars stand for themselves (ints, floats, strings, booleans, null); containers and
everything else are ``[tag, ...]`` lists, so a string is never mistaken for a tag.
"""

from __future__ import annotations

import collections
import decimal
import fractions
import json
import math
import sys
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 100
MAX_BYTES = 16 << 20  # one frame
# what decoding a reply may allocate beyond the parsed JSON: a floor plus so much per byte received
BUDGET_FLOOR = 8 << 20
BUDGET_PER_BYTE = 32
MAX_INT_HEX = 1 << 16  # hex digits of an int sent as ["I", ...] (262,144 bits)
# a Fraction's terms: building one takes a gcd, quadratic in their size (two 262,144-bit terms:
# 74 ms each, seconds per frame); at 16,384 bits (~4,900 digits, past CPython's own 4,300-digit
# int/str limit) a frame of them costs no more than one of small tuples
MAX_FRACTION_BITS = 1 << 14
MAX_DECIMAL_CHARS = 1 << 16
MAX_DECIMAL_EXPONENT = 4300  # as sys.get_int_max_str_digits(): int() of it stays cheap
MAX_DTYPE_CHARS = 16
MAX_NDIM = 32  # numpy's own limit is 64
MAX_SAME_HASH = 8  # distinct set elements or dict keys that may share one hash
_BIG = 10**4000  # json refuses ints beyond sys.get_int_max_str_digits(): hex has no limit
_NUMPY_KINDS = (
    "biufcU"  # bool, ints, floats, complex, unicode: dtypes with no behaviour of their own
)


class NotPlainData(TypeError):
    """A value that is not plain data was used where the verdict needs one."""


class DecodeError(ValueError):
    """Bytes from the sandbox that are not a well-formed plain value."""


class OverBudget(DecodeError):
    """A well-formed value that would cost the judge more to rebuild than its size allows."""


# ----------------------------------------------------------------------------- encoding
def encode(value: Any, ref: Callable[[Any], Any]) -> bytes:
    """Encode ``value``; ``ref(obj)`` returns the tag list standing for a non-plain ``obj``."""
    return json.dumps(
        _enc(value, ref, 0), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8", "surrogatepass")


def _enc(v: Any, ref: Callable[[Any], Any], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v if -_BIG < v < _BIG else ["I", hex(v)]
    if t is float:
        return v if math.isfinite(v) else ["f", repr(v)]
    d = depth + 1
    if t is list:
        return ["l", [_enc(x, ref, d) for x in v]]
    if t is tuple:
        return ["t", [_enc(x, ref, d) for x in v]]
    if t is dict:
        return ["d", [[_enc(k, ref, d), _enc(x, ref, d)] for k, x in v.items()]]
    if t is set or t is frozenset:
        return ["s" if t is set else "F", [_enc(x, ref, d) for x in v]]
    if t is bytes or t is bytearray:
        return ["b" if t is bytes else "B", v.hex()]
    if t is complex:
        return ["c", _enc(v.real, ref, d), _enc(v.imag, ref, d)]
    if t is range:
        return ["r", v.start, v.stop, v.step]
    if t is fractions.Fraction:
        return ["q", _enc(v.numerator, ref, d), _enc(v.denominator, ref, d)]
    if t is decimal.Decimal:
        return ["m", str(v)]
    if t is collections.OrderedDict or t is collections.Counter or t is collections.defaultdict:
        factory = getattr(v, "default_factory", None)
        fname = factory.__name__ if factory in _FACTORIES.values() else None
        return [
            "D",
            t.__name__,
            fname,
            [[_enc(k, ref, d), _enc(x, ref, d)] for k, x in dict.items(v)],
        ]
    if t is collections.deque:
        return ["Q", v.maxlen, [_enc(x, ref, d) for x in v]]
    mod = getattr(t, "__module__", "")
    if mod == "numpy" and getattr(v, "dtype", None) is not None and v.dtype.kind in _NUMPY_KINDS:
        if t.__name__ == "ndarray":
            return ["a", v.dtype.str, list(v.shape), [_enc(x, ref, d) for x in v.ravel().tolist()]]
        if v.ndim == 0 and t.__name__ != "ndarray":
            return ["n", v.dtype.str, _enc(v.item(), ref, d)]
    return ref(v)


_FACTORIES: dict[str, type] = {
    t.__name__: t for t in (int, float, str, list, dict, set, tuple, bool, bytes)
}


# ----------------------------------------------------------------------------- decoding
def decode(data: bytes, ref: Callable[[Any], Any] | None = None) -> Any:
    """Rebuild a value from untrusted bytes; ``ref(payload)`` builds the stand-in for a reference.

    Bounded: what it builds beyond the parsed JSON costs at most ``BUDGET_FLOOR +
    BUDGET_PER_BYTE * len(data)`` bytes (every container is charged its size, a numpy array its
    buffer before it is allocated, a ``range`` the list it stands for), and every step is at
    most linear in its input (ints, decimals, dtypes, shapes, Fraction terms and hash collisions
    capped), so a reply of n bytes can cost the judge no more than a fixed multiple of n. A
    value over budget raises :class:`OverBudget`, a :class:`DecodeError`."""
    if len(data) > MAX_BYTES:
        raise OverBudget(f"value of {len(data)} bytes exceeds {MAX_BYTES}")
    try:
        parser = _JSON_CHECKED_INTS if _int_digits_uncapped() else _JSON
        raw = parser.decode(data.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError, UnicodeDecodeError, MemoryError) as e:
        raise DecodeError(f"malformed value: {type(e).__name__}") from None
    try:
        return _Decoder(ref, BUDGET_FLOOR + BUDGET_PER_BYTE * len(data)).dec(raw, 0)
    except (DecodeError, NotPlainData):
        raise
    except (
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        OverflowError,
        RecursionError,
        ArithmeticError,
        MemoryError,
    ) as e:
        raise DecodeError(f"malformed value: {type(e).__name__}: {str(e)[:100]}") from None


def _no_object(pairs: list) -> Any:
    raise ValueError("a JSON object")


def _int_digits_uncapped() -> bool:
    # json leaves int literals to int(), whose cost is quadratic in the digits when the
    # interpreter's limit is off (sys.set_int_max_str_digits(0)): then they are checked here
    return getattr(sys, "get_int_max_str_digits", lambda: 0)() not in range(1, 4301)


def _parse_int(s: str) -> int:
    if len(s) > 4300:
        raise ValueError("int literal too long")
    return int(s)


# JSON objects are not part of the format: refused as soon as one is parsed, before it is built.
# Made once: json.loads with any option builds a new decoder per call.
_JSON = json.JSONDecoder(object_pairs_hook=_no_object)
_JSON_CHECKED_INTS = json.JSONDecoder(object_pairs_hook=_no_object, parse_int=_parse_int)


class _Decoder:
    """One decode: the reference factory and what is left of the allocation budget."""

    def __init__(self, ref: Callable[[Any], Any] | None, budget: int) -> None:
        self.ref, self.left = ref, budget

    def charge(self, nbytes: int) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise OverBudget("value costs more to rebuild than its size allows")

    def built(self, obj: Any) -> Any:
        self.charge(sys.getsizeof(obj))
        return obj

    def dec(self, x: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise DecodeError("value nested too deeply")
        t = type(x)
        if x is None or t in (bool, int, float, str):
            return x
        if t is not list or not x or type(x[0]) is not str:
            raise DecodeError("malformed value")
        tag, d = x[0], depth + 1

        def items(i: int) -> list:
            xs = x[i]
            if type(xs) is not list:
                raise DecodeError("malformed container")
            return self.built([self.dec(e, d) for e in xs])

        def pairs(i: int) -> list:
            return self.built([(self.dec(k, d), self.dec(v, d)) for k, v in x[i]])

        if tag == "l":
            return items(1)
        if tag == "t":
            return self.built(tuple(items(1)))
        if tag == "d":
            return self.built(dict(_hashable_pairs(pairs(1))))
        if tag == "s":
            return self.built(set(_hashable(items(1))))
        if tag == "F":
            return self.built(frozenset(_hashable(items(1))))
        if tag == "b":
            return self.built(bytes.fromhex(_str(x[1])))
        if tag == "B":
            return self.built(bytearray.fromhex(_str(x[1])))
        if tag == "I":
            digits = _str(x[1])
            if len(digits) > MAX_INT_HEX:
                raise OverBudget(f"an int of more than {MAX_INT_HEX} hex digits")
            return int(digits, 16)
        if tag == "f":
            s = _str(x[1])
            if s not in ("nan", "inf", "-inf"):
                raise DecodeError("bad float")
            return float(s)
        if tag == "c":
            return complex(_num(self.dec(x[1], d)), _num(self.dec(x[2], d)))
        if tag == "r":
            r = range(*(_int(v) for v in x[1:4]))
            try:
                n = len(r)
            except OverflowError:
                raise OverBudget("a range too long to stand for a list") from None
            self.charge(8 * n)  # a test may turn it into the list it stands for
            return r
        if tag == "q":
            num, den = _int(self.dec(x[1], d)), _int(self.dec(x[2], d))
            if max(num.bit_length(), den.bit_length()) > MAX_FRACTION_BITS:
                raise OverBudget(f"a Fraction term of more than {MAX_FRACTION_BITS} bits")
            return fractions.Fraction(num, den)
        if tag == "m":
            return _decimal(_str(x[1]))
        if tag == "D":
            kind, fname = _str(x[1]), x[2]
            kv = _hashable_pairs(pairs(3))
            if kind == "OrderedDict":
                return self.built(collections.OrderedDict(kv))
            if kind == "Counter":
                c: collections.Counter = collections.Counter()
                dict.update(c, kv)  # Counter(mapping) would add, and require numbers
                return self.built(c)
            if kind == "defaultdict":
                factory = _FACTORIES[fname] if fname is not None else None
                return self.built(collections.defaultdict(factory, kv))
            raise DecodeError("unknown mapping kind")
        if tag == "Q":
            maxlen = x[1]
            return self.built(collections.deque(items(2), None if maxlen is None else _int(maxlen)))
        if tag in ("n", "a"):
            return self.numpy(x, d)
        if tag == "ref":
            if self.ref is None:
                raise DecodeError("unexpected reference")
            return self.ref(x[1:])
        raise DecodeError(f"unknown tag {tag[:20]!r}")

    def numpy(self, x: list, depth: int) -> Any:
        import numpy as np

        spec = _str(x[1])
        if len(spec) > MAX_DTYPE_CHARS:
            raise DecodeError("unsupported dtype")
        dt = np.dtype(spec)
        if dt.kind not in _NUMPY_KINDS or dt.hasobject or dt.shape or dt.names:
            raise DecodeError("unsupported dtype")
        self.charge(dt.itemsize)  # a "<U750000" scalar or element is 3 MB
        if x[0] == "n":
            return dt.type(_scalar(self.dec(x[2], depth)))
        shape = x[2]
        if type(shape) is not list or len(shape) > MAX_NDIM:
            raise DecodeError("bad array shape")
        shape = [_int(s) for s in shape]
        if any(not 0 <= s <= 1 << 40 for s in shape):
            raise DecodeError("bad array shape")
        flat = x[3]
        if type(flat) is not list or math.prod(shape) != len(flat):
            raise DecodeError("array shape does not match its data")
        self.charge(dt.itemsize * len(flat))  # before numpy allocates it
        flat = [_scalar(self.dec(v, depth)) for v in flat]
        return np.array(flat, dtype=dt).reshape(shape)


def _decimal(s: str) -> decimal.Decimal:
    if len(s) > MAX_DECIMAL_CHARS:
        raise OverBudget("a Decimal too long")
    v = decimal.Decimal(s)
    if v.is_finite() and v and abs(v.adjusted()) > MAX_DECIMAL_EXPONENT:
        # int(Decimal("1e999999999")) would allocate a billion digits in the judge
        raise OverBudget("a Decimal exponent out of range")
    return v


def _str(v: Any) -> str:
    if type(v) is not str:
        raise DecodeError("expected a string")
    return v


def _int(v: Any) -> int:
    if type(v) is not int:
        raise DecodeError("expected an int")
    return v


def _num(v: Any) -> int | float:
    if type(v) not in (int, float):
        raise DecodeError("expected a number")
    return v


def _scalar(v: Any) -> Any:
    if type(v) not in (bool, int, float, complex, str):
        raise DecodeError("expected a scalar")
    return v


def _hashable(xs: list) -> list:
    _check_keys(xs)
    return xs


def _hashable_pairs(kv: list) -> list:
    _check_keys([k for k, _ in kv])
    return kv


def _check_keys(keys: list) -> None:
    """Set elements or dict keys: plain (hashing runs only builtin code; references never hash)
    and not crafted to collide (ints equal modulo 2**61 - 1, tuples built to one hash), which
    would make building the set cost the square of its size. An honest encoder sends distinct
    keys, and distinct plain values rarely share a hash."""
    hashes = []
    for v in keys:
        if isinstance(v, RemoteValue):
            raise NotPlainData(
                "a reference to a program object cannot be a set element or dict key"
            )
        hashes.append(hash(v))
    if len(hashes) > MAX_SAME_HASH and max(collections.Counter(hashes).values()) > MAX_SAME_HASH:
        raise OverBudget("set elements or dict keys crafted to share one hash")


class RemoteValue:
    """Base of the judge's stand-ins for objects that stay in the sandbox: none of the
    operations a verdict could rest on is allowed on them."""

    __slots__ = ()

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise NotPlainData(f"the program returned {self._describe()}, which is not plain data")

    def _describe(self) -> str:
        return "an object"

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = __hash__ = (
        _refuse  # RemoteRef: bool, len, iter remote
    )
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = (
        _refuse
    )
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __abs__ = (
        _refuse
    )
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __invert__ = __round__ = _refuse
    __int__ = __float__ = __index__ = __complex__ = __reversed__ = __format__ = _refuse
