"""Sandboxed execution of untrusted programs: ``Executor(...).run([ExecRequest, ...])``.

The names below load on first use (PEP 562): a sandbox worker imports ``execrl.execution.worker``
and so this package, and must not pay for the executor, the judge and their imports on start-up."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execrl.execution.executor import Executor, IsolationError
    from execrl.execution.request import ExecRequest
    from execrl.vocabulary import ExecutionResult, Outcome, TestResult

_WHERE = {
    "Executor": "executor",
    "IsolationError": "executor",
    "ExecRequest": "request",
}
_VOCABULARY = ("ExecutionResult", "Outcome", "TestResult")  # re-exported from execrl.vocabulary

__all__ = ["ExecRequest", "ExecutionResult", "Executor", "IsolationError", "Outcome", "TestResult"]


def __getattr__(name: str) -> Any:
    if name in _VOCABULARY:
        value = getattr(importlib.import_module("execrl.vocabulary"), name)
    elif name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
