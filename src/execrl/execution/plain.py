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
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 100
MAX_BYTES = 16 << 20
_BIG = 10**4000  # json refuses ints beyond sys.get_int_max_str_digits(): hex has no limit
_NUMPY_KINDS = (
    "biufcU"  # bool, ints, floats, complex, unicode: dtypes with no behaviour of their own
)


class NotPlainData(TypeError):
    """A value that is not plain data was used where the verdict needs one."""


class DecodeError(ValueError):
    """Bytes from the sandbox that are not a well-formed plain value."""


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
    """Rebuild a value from untrusted bytes; ``ref(payload)`` builds the stand-in for a reference."""
    if len(data) > MAX_BYTES:
        raise DecodeError("value too large")
    try:
        raw = json.loads(data.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise DecodeError(f"malformed value: {type(e).__name__}") from None
    try:
        return _dec(raw, ref, 0)
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


def _dec(x: Any, ref: Callable[[Any], Any] | None, depth: int) -> Any:
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
        return [_dec(e, ref, d) for e in xs]

    def pairs(i: int) -> list:
        return [(_dec(k, ref, d), _dec(v, ref, d)) for k, v in x[i]]

    if tag == "l":
        return items(1)
    if tag == "t":
        return tuple(items(1))
    if tag == "d":
        return dict(_hashable_pairs(pairs(1)))
    if tag == "s":
        return set(_hashable(items(1)))
    if tag == "F":
        return frozenset(_hashable(items(1)))
    if tag == "b":
        return bytes.fromhex(_str(x[1]))
    if tag == "B":
        return bytearray.fromhex(_str(x[1]))
    if tag == "I":
        return int(_str(x[1]), 16)
    if tag == "f":
        s = _str(x[1])
        if s not in ("nan", "inf", "-inf"):
            raise DecodeError("bad float")
        return float(s)
    if tag == "c":
        return complex(_num(_dec(x[1], ref, d)), _num(_dec(x[2], ref, d)))
    if tag == "r":
        return range(*(_int(v) for v in x[1:4]))
    if tag == "q":
        return fractions.Fraction(_int(_dec(x[1], ref, d)), _int(_dec(x[2], ref, d)))
    if tag == "m":
        return decimal.Decimal(_str(x[1]))
    if tag == "D":
        kind, fname = _str(x[1]), x[2]
        kv = _hashable_pairs(pairs(3))
        if kind == "OrderedDict":
            return collections.OrderedDict(kv)
        if kind == "Counter":
            c: collections.Counter = collections.Counter()
            dict.update(c, kv)  # Counter(mapping) would add, and require numbers
            return c
        if kind == "defaultdict":
            return collections.defaultdict(_FACTORIES[fname] if fname is not None else None, kv)
        raise DecodeError("unknown mapping kind")
    if tag == "Q":
        maxlen = x[1]
        return collections.deque(items(2), None if maxlen is None else _int(maxlen))
    if tag in ("n", "a"):
        return _numpy(x, ref, d)
    if tag == "ref":
        if ref is None:
            raise DecodeError("unexpected reference")
        return ref(x[1:])
    raise DecodeError(f"unknown tag {tag[:20]!r}")


def _numpy(x: list, ref, depth: int) -> Any:
    import numpy as np

    dt = np.dtype(_str(x[1]))
    if dt.kind not in _NUMPY_KINDS or dt.hasobject:
        raise DecodeError("unsupported dtype")
    if x[0] == "n":
        return dt.type(_scalar(_dec(x[2], ref, depth)))
    shape = [_int(s) for s in x[2]]
    flat = [_scalar(_dec(v, ref, depth)) for v in x[3]]
    if math.prod(shape) != len(flat):
        raise DecodeError("array shape does not match its data")
    return np.array(flat, dtype=dt).reshape(shape)


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
    for v in xs:
        _check_hashable(v)
    return xs


def _hashable_pairs(kv: list) -> list:
    for k, _ in kv:
        _check_hashable(k)
    return kv


def _check_hashable(v: Any) -> None:
    # decoded values are plain, so hashing runs only builtin code; references never hash
    if isinstance(v, RemoteValue):
        raise NotPlainData("a reference to a program object cannot be a set element or dict key")
    hash(v)


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
