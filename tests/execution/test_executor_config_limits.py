"""Attack on the typed-config plumbing: an executor built the way train.py builds it (a composed
``executor`` node through Hydra) must enforce the limits the node sets. A program that wins only
if a limit were dropped on its way to the judge or the workers (memory, time) must not pass;
canary: the same programs pass under the defaults, so each really needs the limit to be lost."""

from __future__ import annotations

import hydra

from execrl.execution import ExecRequest, Outcome
from execrl.vocabulary import Tests

from helpers.common import compose

ASSERTS = Tests(style="assert", asserts=["assert f(1) == 2"])
# 300 MB held while answering; then 3 s of sleep before answering
HOG = "blob = bytearray(300 * 1024 * 1024)\ndef f(x):\n    return x + 1 + 0 * len(blob)\n"
SLOW = "import time\ntime.sleep(3)\ndef f(x):\n    return x + 1\n"


def _outcomes(overrides: list[str]) -> list[Outcome]:
    cfg = compose("train", overrides)
    with hydra.utils.instantiate(cfg.executor) as ex:
        return [
            r.outcome for r in ex.run([ExecRequest(program=p, tests=ASSERTS) for p in (HOG, SLOW)])
        ]


def test_a_composed_executors_limits_reach_the_programs() -> None:
    assert _outcomes(["executor.memory_mb=1024", "executor.timeout_s=10"]) == [Outcome.PASSED] * 2
    hog, slow = _outcomes(["executor.memory_mb=128", "executor.timeout_s=1"])
    assert hog != Outcome.PASSED and slow == Outcome.TIMEOUT, (hog, slow)
