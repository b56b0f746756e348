"""Sandboxed execution of untrusted programs: ``Executor(...).run([ExecRequest, ...])``."""

from execrl.execution.executor import Executor, IsolationError
from execrl.execution.outcomes import ExecutionResult, Outcome, TestResult
from execrl.execution.request import ExecRequest

__all__ = ["Executor", "IsolationError", "ExecRequest", "ExecutionResult", "Outcome", "TestResult"]
