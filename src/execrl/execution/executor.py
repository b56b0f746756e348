"""The executor the trainer talks to: a pool of warm sandbox workers behind ``run(requests)``."""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any

from execrl.execution import sandbox
from execrl.execution.judge import JudgeConfig, WorkerLost, judge, num_tests
from execrl.execution.request import ExecRequest
from execrl.execution.worker import WorkerConfig, recv_msg, send_msg, worker_memory_mb
from execrl.schema.executor import ExecutorConfig
from execrl.schema.overrides import configured, subset
from execrl.vocabulary import ExecutionResult, Outcome

log = logging.getLogger("execrl")
_GROUP_IDS = itertools.count()  # cgroup names unique per process: several executors may share one


class IsolationError(RuntimeError):
    """The host grants less isolation than ``min_isolation`` asks for."""


class _WorkerHandle:
    """One ``python -m execrl.execution.worker`` process and the thread that feeds it."""

    def __init__(self, cfg: WorkerConfig) -> None:
        self.cfg = cfg
        self._lost: str | None = None
        self.proc: subprocess.Popen | None = None
        self.cgroup: sandbox.WorkerCgroup | None = None
        self.restarts = -1
        self.launch()

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the worker process; ``wait_ready`` then waits for its warm-up (so that a pool's
        workers warm up side by side)."""
        self.stop()
        caps = self.cfg.caps
        # sandboxed children inherit the worker's environment: keep it minimal
        env = {
            **sandbox.SAFE_ENV,
            **{k: os.environ[k] for k in ("PYTHONPATH", "TMPDIR") if k in os.environ},
        }
        argv = [sys.executable, "-c", "from execrl.execution.worker import main; main()"]
        if caps.cgroups:  # named after the executor, so that its janitor finds it (sandbox.janitor)
            self.cfg.cgroup = f"{os.getpid()}-{next(_GROUP_IDS)}-{self.cfg.name}"
            self.cgroup = sandbox.WorkerCgroup(
                self.cfg.cgroup, worker_memory_mb(self.cfg), self.cfg.nproc + 1
            )
            if caps.sealed:
                self.cgroup.add_program_group()
        if caps.sealed:
            # the jail holds the interpreter and the runner's modules, copied from the execrl this
            # process imports (a checkout on PYTHONPATH or the installed one), nothing else
            runner = sandbox.runner_tree(sandbox.cache_dir("execrl-runner"))
            env["PYTHONPATH"] = sandbox.RUNNER_IN_VIEW
            env["TMPDIR"] = "/tmp"
            argv = sandbox.jail_argv(caps, sandbox.cache_dir(), self.cgroup.dirs, runner) + argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        send_msg(self.proc.stdin.fileno(), self.cfg)

    def wait_ready(self) -> None:
        ready = recv_msg(self.proc.stdout.fileno())
        if not ready or ready[0] != "ready":  # no program caused this: an infrastructure error
            self.proc.kill()
            self.proc = None
            raise RuntimeError("sandbox worker failed to start")
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is not None:
            try:
                if not self.proc.stdin.closed:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except Exception:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def ask(self, msg: tuple, timeout: float) -> tuple:
        """One message to the worker and its reply; a dead or stuck worker raises WorkerLost."""
        if self.proc is None:
            self.start()  # fails with RuntimeError (an infrastructure error) if it cannot start
        try:
            send_msg(self.proc.stdin.fileno(), msg)
            reply = recv_msg(self.proc.stdout.fileno(), timeout=timeout)
        except TimeoutError:
            self._lost = "hung"
            raise WorkerLost("sandbox worker exceeded the hard timeout") from None
        except OSError as e:
            self._lost = "died"
            raise WorkerLost(f"sandbox worker pipe failed: {e}") from None
        if reply is None:
            self._lost = "died"
            raise WorkerLost("sandbox worker died")
        return reply

    def run(self, req: ExecRequest, cfg: JudgeConfig) -> tuple[ExecutionResult, bool]:
        """Judge one request. A worker lost while the program ran is charged to the program
        (returned flag True), restarted, and never turns the sample into a dropped one."""
        self._lost = None
        try:
            return judge(req, self.ask, cfg), False
        except WorkerLost as e:
            log.warning(
                "sandbox worker lost while a program ran (%s); charging the program and restarting the worker",
                e,
            )
            code = self.proc.poll() if self.proc is not None else None
            self._restart()
            if self._lost == "hung":
                return ExecutionResult(
                    outcome=Outcome.TIMEOUT,
                    error_type="SandboxTimeout",
                    error=str(e),
                    num_tests=num_tests(req.tests),
                ), True
            oc = Outcome.MEMORY_LIMIT if code == -signal.SIGKILL else Outcome.RUNTIME_ERROR
            return ExecutionResult(
                outcome=oc,
                error_type="SandboxKilled" if code == -signal.SIGKILL else "SandboxFailure",
                error=str(e),
                num_tests=num_tests(req.tests),
            ), True

    def _restart(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        try:  # start() removes the old cgroup (and whatever is left in it) first
            self.start()
        except Exception as e2:  # the next request will try again
            log.error("could not restart sandbox worker: %s", e2)


class Executor:
    """Run untrusted programs in sandboxed, pre-warmed worker processes.

    ``run(requests)`` returns one :class:`ExecutionResult` per request, in order; identical
    requests run once. Failures of the sandbox itself come back as
    ``Outcome.INFRA_ERROR`` results, never as exceptions. ``isolation_level`` says what the host
    granted (see :mod:`execrl.execution.sandbox`); ``min_isolation`` refuses to start below it.
    """

    def __init__(self, config: ExecutorConfig | None = None, /, **overrides: Any) -> None:
        """``config`` (defaults and what each key does: :class:`ExecutorConfig`) with ``overrides``
        (``Executor(workers=4)``; Hydra passes a node's keys so)."""
        cfg = configured(ExecutorConfig, config, overrides)
        self.config = cfg
        if cfg.compare not in ("strict", "apps"):
            raise ValueError(
                f"executor.compare={cfg.compare!r}: choose strict (exact up to whitespace) or apps (APPS' lenient cascade)"
            )
        caps = sandbox.probe()
        if cfg.isolation != "auto":  # ask for less than the host allows (e.g. to compare levels)
            want = sandbox.level_rank(cfg.isolation)
            if want < sandbox.level_rank("sealed"):
                caps.bwrap, caps.seccomp = None, False
            if want < sandbox.level_rank("cgroups"):
                caps.cgroups = False
            if want < sandbox.level_rank("namespaces"):
                caps.netns = caps.userns = False
        self.caps = caps
        if cfg.min_isolation is not None and sandbox.level_rank(caps.level) < sandbox.level_rank(
            cfg.min_isolation
        ):
            raise IsolationError(
                f"sandbox isolation {caps.level!r} is below executor.min_isolation={cfg.min_isolation!r}: {'; '.join(caps.notes)}"
            )
        self.timeout_s = cfg.timeout_s
        self.judge_cfg = subset(JudgeConfig, cfg)
        # charged_failures: programs during whose run the worker died or hung (charged, never dropped)
        self.stats: dict[str, Any] = {
            "programs": 0,
            "deduplicated": 0,
            "infra_errors": 0,
            "charged_failures": 0,
            "weak_tests": 0,
            "seconds": 0.0,
        }
        if caps.root and cfg.workers > sandbox.UID_BLOCK:
            raise ValueError(f"executor.workers={cfg.workers}: at most {sandbox.UID_BLOCK}")
        # started by root, programs run as a block of uids this executor alone holds
        uid0, self._uid_lock = sandbox.claim_uid_block() if caps.root else (os.getuid(), None)
        cfgs = [
            subset(WorkerConfig, cfg, name=f"w{i}", caps=caps, uid=uid0 + i if caps.root else uid0)
            for i in range(max(1, cfg.workers))
        ]
        self._janitor = sandbox.start_janitor() if caps.cgroups else None
        self._handles = [_WorkerHandle(c) for c in cfgs]
        for h in self._handles:
            h.wait_ready()
        self._jobs: queue.Queue = queue.Queue()
        self._threads = [
            threading.Thread(target=self._loop, args=(h,), daemon=True) for h in self._handles
        ]
        for t in self._threads:
            t.start()
        self._closed = False
        self._lock = threading.Lock()
        atexit.register(self.close)
        self.caps.verified = self.verify_isolation()
        broken = [k for k, ok in self.caps.verified.items() if not ok]
        if broken and self.caps.sealed:
            log.warning(
                "sandbox level sealed, but the start-up probe found these properties broken: %s",
                broken,
            )
            if cfg.min_isolation == "sealed":
                self.close()
                raise IsolationError(
                    f"executor.min_isolation=sealed, but the probe found {broken} broken on this host"
                )

    def verify_isolation(self) -> dict[str, bool]:
        """Run the containment probe (``sandbox.PROBE_PROGRAM``) as a program: what it verified
        from the inside, not what was configured."""
        import json
        import socket
        import tempfile

        import execrl

        with tempfile.TemporaryDirectory(prefix="execrl-probe-") as tmp:
            marker = os.path.join(tmp, "marker")
            open(marker, "w").close()
            server = socket.socket(socket.AF_UNIX)
            server.bind(os.path.join(tmp, "sock"))
            server.listen(1)
            project = os.path.dirname(
                os.path.dirname(os.path.dirname(os.path.abspath(execrl.__file__)))
            )
            candidates = [
                marker,
                *(
                    os.path.join(project, f)
                    for f in ("data", "README.md", "pyproject.toml", "conf")
                ),
                os.path.expanduser("~/.bash_history"),
            ]
            hidden = [p for p in candidates if os.path.exists(p)]
            stdin = json.dumps(
                {"hidden": hidden, "socket": server.getsockname(), "judge": os.getpid()}
            )
            res = self.run([ExecRequest(program=sandbox.PROBE_PROGRAM, mode="run", stdin=stdin)])[0]
            server.close()
        try:
            return {k: bool(v) for k, v in json.loads(res.stdout or "").items()}
        except ValueError:
            log.warning(
                "isolation probe failed: %s %s", res.outcome.value, (res.error or "")[-300:]
            )
            return {"probe_ran": False}

    @property
    def isolation_level(self) -> str:
        return self.caps.describe()

    def _loop(self, handle: _WorkerHandle) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            req, fut = job
            t0 = time.perf_counter()
            try:
                res, charged = handle.run(req, self.judge_cfg)
            except (
                Exception
            ) as e:  # a bug of ours, before any program ran: never the program's fault
                log.exception("judging failed")
                res, charged = (
                    ExecutionResult(
                        outcome=Outcome.INFRA_ERROR,
                        error_type=type(e).__name__,
                        error=str(e)[:1500],
                    ),
                    False,
                )
            # the request's wall time on its worker (compile and every test); the judge's verdicts
            # carry no time of their own, so without this results.jsonl's time_s read 0.0 everywhere
            res.time_s = res.time_s or time.perf_counter() - t0
            with self._lock:
                self.stats["charged_failures"] += charged
                self.stats["weak_tests"] += res.weak_tests
            fut.set_result(res)

    def submit(self, req: ExecRequest) -> Future:
        """Queue one request; the future resolves to its :class:`ExecutionResult`."""
        if self._closed:
            raise RuntimeError("executor is closed")
        fut: Future = Future()
        self._jobs.put((req, fut))
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
        self.stats["infra_errors"] += sum(
            r.outcome is Outcome.INFRA_ERROR for r in results.values()
        )
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
        for h in self._handles:  # every worker sees EOF at once, then each is waited for
            if h.proc is not None:
                try:
                    h.proc.stdin.close()
                except OSError:
                    pass
        for h in self._handles:
            h.stop()
        if self._janitor is not None:  # nothing left for it to clean
            self._janitor.kill()
            self._janitor.wait()
        if self._uid_lock is not None:  # no program of ours is left to run under these uids
            os.close(self._uid_lock)
            self._uid_lock = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
