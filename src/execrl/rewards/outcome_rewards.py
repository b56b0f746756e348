"""CodeRL's view of an outcome: its result code, its four critic classes and their rewards
(CodeRL's ``datasets/utils.py:get_error_type``), and the binary pass reward."""

from __future__ import annotations

from execrl.vocabulary import Outcome

# CodeRL result codes: -2 compile error, -1 runtime error (incl. timeout / memory), False, True.
_CODERL_CODE: dict[Outcome, int | bool | None] = {
    Outcome.COMPILE_ERROR: -2,
    Outcome.RUNTIME_ERROR: -1,
    Outcome.TIMEOUT: -1,
    Outcome.MEMORY_LIMIT: -1,
    Outcome.FAILED: False,
    Outcome.PASSED: True,
    Outcome.INFRA_ERROR: None,
}

# CodeRL's four critic classes (datasets/utils.py:get_error_type) and their rewards.
CLASS_NAMES = ["compile_error", "runtime_error", "failed", "passed"]
_CLASS: dict[Outcome, int | None] = {
    Outcome.COMPILE_ERROR: 0,
    Outcome.RUNTIME_ERROR: 1,
    Outcome.TIMEOUT: 1,
    Outcome.MEMORY_LIMIT: 1,
    Outcome.FAILED: 2,
    Outcome.PASSED: 3,
    Outcome.INFRA_ERROR: None,
}
CODERL_REWARDS = (-1.0, -0.6, -0.3, 1.0)


def coderl_code(outcome: Outcome) -> int | bool | None:
    """CodeRL's ``-2/-1/False/True`` code for an outcome (``None`` for infrastructure errors)."""
    return _CODERL_CODE[Outcome(outcome)]


def outcome_class(outcome: Outcome, binary: bool = False) -> int | None:
    """Critic class: 0..3 (compile, runtime, failed, passed), or 0/1 when ``binary``."""
    c = _CLASS[Outcome(outcome)]
    if c is None or not binary:
        return c
    return int(c == 3)


def class_from_coderl_code(code: int | bool) -> int:
    """Inverse used when reading CodeRL's own ``gen_solutions.json`` (checks -2/-1 before bools)."""
    if code is True:
        return 3
    if code is False:
        return 2
    if code == -2:
        return 0
    if code == -1:
        return 1
    raise ValueError(f"unknown CodeRL result code {code!r}")


def coderl_reward(outcome: Outcome, rewards: tuple[float, ...] = CODERL_REWARDS) -> float | None:
    """CodeRL's scalar reward (-1, -0.6, -0.3, +1); ``None`` for infrastructure errors."""
    c = outcome_class(outcome)
    return None if c is None else float(rewards[c])


def binary_reward(outcome: Outcome) -> float | None:
    """1.0 if every test passed, 0.0 otherwise; ``None`` for infrastructure errors."""
    o = Outcome(outcome)
    return None if o.is_infra else float(o is Outcome.PASSED)
