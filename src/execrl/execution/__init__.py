"""Sandboxed execution of untrusted programs: ``Executor(...).run([ExecRequest, ...])``.

The names below load on first use (PEP 562): a sandbox worker imports ``execrl.execution.worker``
and so this package, and must not pay for the executor, the judge and their imports on start-up."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execrl.execution.executor import Executor, IsolationError
    from execrl.execution.outcomes import ExecutionResult, Outcome, TestResult
    from execrl.execution.request import ExecRequest

_WHERE = {
    "Executor": "executor",
    "IsolationError": "executor",
    "ExecRequest": "request",
    "ExecutionResult": "outcomes",
    "Outcome": "outcomes",
    "TestResult": "outcomes",
}

__all__ = ["ExecRequest", "ExecutionResult", "Executor", "IsolationError", "Outcome", "TestResult"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
