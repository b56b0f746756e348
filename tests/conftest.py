"""Shared fixtures: a compose helper, one sandbox pool, one torch thread (the helpers are in tests/helpers/)."""

from __future__ import annotations

import pytest

from helpers.common import compose


@pytest.fixture
def compose_cfg():
    return compose


@pytest.fixture(scope="session")
def executor():
    """One sandbox pool shared by the tests that only need default behaviour."""
    from execrl.execution import Executor

    with Executor(workers=2, timeout_s=2.0, memory_mb=256) as ex:
        yield ex


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """As hardware=cpu does: one intra-op thread is several times faster on a shared 2-core CPU."""
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)
