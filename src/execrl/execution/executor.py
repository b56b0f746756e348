"""The executor the trainer talks to: a pool of warm sandbox workers behind ``run(requests)``."""

from __future__ import annotations

import atexit
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any

from execrl.execution import sandbox
from execrl.execution.outcomes import ExecutionResult, Outcome
from execrl.execution.request import ExecRequest
from execrl.execution.worker import WorkerConfig, recv_msg, send_msg

log = logging.getLogger("execrl")


class IsolationError(RuntimeError):
    """The host grants less isolation than ``min_isolation`` asks for."""


class _WorkerHandle:
    """One ``python -m execrl.execution.worker`` process and the thread that feeds it."""

    def __init__(self, cfg: WorkerConfig, hard_timeout_s: float) -> None:
        self.cfg, self.hard_timeout_s = cfg, hard_timeout_s
        self.proc: subprocess.Popen | None = None
        self.restarts = -1
        self.start()

    def start(self) -> None:
        self.stop()
        # sandboxed children inherit the worker's environment: keep it minimal
        env = {**sandbox.SAFE_ENV, **{k: os.environ[k] for k in ("PYTHONPATH", "TMPDIR") if k in os.environ}}
        self.proc = subprocess.Popen([sys.executable, "-c", "from execrl.execution.worker import main; main()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, close_fds=True, start_new_session=True)
        send_msg(self.proc.stdin.fileno(), self.cfg)
        ready = recv_msg(self.proc.stdout.fileno())
        if not ready or ready[0] != "ready":
            raise RuntimeError("sandbox worker failed to start")
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def run(self, rid: int, req: ExecRequest) -> ExecutionResult:
        """Send one request; a worker that dies or hangs becomes an infrastructure error and is restarted."""
        try:
            send_msg(self.proc.stdin.fileno(), (rid, req))
            box: list = []
            reader = threading.Thread(target=lambda: box.append(recv_msg(self.proc.stdout.fileno())), daemon=True)
            reader.start()
            reader.join(self.hard_timeout_s)
            if reader.is_alive() or not box or box[0] is None:
                raise RuntimeError("sandbox worker died or hung" if not reader.is_alive() else "sandbox worker exceeded the hard timeout")
            return box[0][1]
        except Exception as e:
            log.warning("sandbox worker failure (%s); restarting it", e)
            if self.proc is not None:
                self.proc.kill()
                self.proc.wait()
                self.proc = None
            try:
                self.start()
            except Exception as e2:  # the next request will try again
                log.error("could not restart sandbox worker: %s", e2)
            return ExecutionResult(outcome=Outcome.INFRA_ERROR, error_type=type(e).__name__, error=str(e))


class Executor:
    """Run untrusted programs in sandboxed, pre-warmed worker processes.

    ``run(requests)`` returns one :class:`ExecutionResult` per request, in order; identical
    requests run once. Failures of the sandbox itself come back as
    ``Outcome.INFRA_ERROR`` results, never as exceptions. ``isolation_level`` says what the host
    granted (see :mod:`execrl.execution.sandbox`); ``min_isolation`` refuses to start below it.
    """

    def __init__(self, workers: int = 2, timeout_s: float = 4.0, compile_timeout_s: float = 20.0, memory_mb: int = 512,
                 max_output_bytes: int = 1 << 20, early_exit: bool = True, nproc: int = 64, min_isolation: str | None = None,
                 isolation: str = "auto", cpp_pch: bool = True) -> None:
        caps = sandbox.probe()
        if isolation != "auto":  # ask for less than the host allows (e.g. to compare levels)
            want = sandbox.level_rank(isolation)
            if want < sandbox.level_rank("cgroups"):
                caps.cgroups = False
            if want < sandbox.level_rank("namespaces"):
                caps.netns = caps.userns = False
        self.caps = caps
        if min_isolation is not None and sandbox.level_rank(caps.level) < sandbox.level_rank(min_isolation):
            raise IsolationError(f"sandbox isolation {caps.level!r} is below executor.min_isolation={min_isolation!r}: {'; '.join(caps.notes)}")
        self.timeout_s = timeout_s
        self.stats: dict[str, Any] = {"programs": 0, "deduplicated": 0, "infra_errors": 0, "seconds": 0.0}
        cfgs = [WorkerConfig(timeout_s=timeout_s, compile_timeout_s=compile_timeout_s, memory_mb=memory_mb, max_output_bytes=max_output_bytes,
                             early_exit=early_exit, nproc=nproc, cpp_pch=cpp_pch, name=f"w{i}", caps=caps) for i in range(max(1, workers))]
        # no honest program needs longer than this; beyond it the worker itself is stuck
        hard = 60.0 + compile_timeout_s + timeout_s * 50
        self._handles = [_WorkerHandle(c, hard) for c in cfgs]
        self._jobs: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._loop, args=(h,), daemon=True) for h in self._handles]
        for t in self._threads:
            t.start()
        self._closed = False
        self._rid = 0
        atexit.register(self.close)

    @property
    def isolation_level(self) -> str:
        return self.caps.describe()

    def _loop(self, handle: _WorkerHandle) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            rid, req, fut = job
            fut.set_result(handle.run(rid, req))

    def submit(self, req: ExecRequest) -> Future:
        """Queue one request; the future resolves to its :class:`ExecutionResult`."""
        if self._closed:
            raise RuntimeError("executor is closed")
        fut: Future = Future()
        self._rid += 1
        self._jobs.put((self._rid, req, fut))
        return fut

    def run(self, requests: list[ExecRequest]) -> list[ExecutionResult]:
        """Run every request (duplicates once) and return results in request order."""
        t0 = time.perf_counter()
        futures: dict[tuple, Future] = {}
        order = []
        for r in requests:
            k = r.key()
            if k not in futures:
                futures[k] = self.submit(r)
            order.append(k)
        results = {k: f.result() for k, f in futures.items()}
        out = [results[k] for k in order]
        self.stats["programs"] += len(requests)
        self.stats["deduplicated"] += len(requests) - len(futures)
        self.stats["infra_errors"] += sum(r.outcome is Outcome.INFRA_ERROR for r in results.values())
        self.stats["seconds"] += time.perf_counter() - t0
        return out

    def close(self) -> None:
        """Stop the workers (idempotent; also runs at interpreter exit)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join(timeout=5)
        for h in self._handles:
            h.stop()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
