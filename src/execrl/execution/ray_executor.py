"""Program execution on a Ray cluster: one sandboxed :class:`Executor` pool per Ray actor.

The sandbox is unchanged (each actor runs the same local pool with the same isolation); Ray only
spreads batches of requests over nodes, so reward computation scales past one machine's cores.
"""

from __future__ import annotations

from typing import Any

from execrl.execution.request import ExecRequest
from execrl.schema.executor import ExecutorConfig, RayExecutorConfig
from execrl.schema.overrides import configured, subset
from execrl.vocabulary import ExecutionResult, Outcome


class RayExecutor:
    """Drop-in replacement for :class:`execrl.execution.Executor` backed by Ray actors.

    ``config`` (defaults: :class:`RayExecutorConfig`) with ``overrides``: ``address`` (``None``
    starts or joins a local Ray; ``"auto"`` joins the cluster of a Ray job), and ``num_actors``
    pools, each a local executor with the remaining keys.
    """

    def __init__(self, config: RayExecutorConfig | None = None, /, **overrides: Any) -> None:
        import ray

        cfg = configured(RayExecutorConfig, config, overrides)
        self.config = cfg
        local = subset(ExecutorConfig, cfg)  # what each actor's pool takes
        if not ray.is_initialized():
            ray.init(
                address=cfg.address,
                include_dashboard=False,
                log_to_driver=False,
                ignore_reinit_error=True,
            )
        self._ray = ray
        pool_cls = ray.remote(num_cpus=cfg.num_cpus_per_actor)(_PoolActor)
        self._actors = [pool_cls.remote(local) for _ in range(max(1, cfg.num_actors))]
        self.isolation_level = ray.get(self._actors[0].isolation_level.remote())

    def run(self, requests: list[ExecRequest]) -> list[ExecutionResult]:
        """Results in request order; a lost actor turns its share into infrastructure errors."""
        if not requests:
            return []
        n = len(self._actors)
        shards = [list(range(i, len(requests), n)) for i in range(n)]
        futures = [a.run.remote([requests[j] for j in idx]) for a, idx in zip(self._actors, shards)]
        out: list[ExecutionResult | None] = [None] * len(requests)
        for idx, fut in zip(shards, futures):
            try:
                results = self._ray.get(fut)
            except (
                Exception
            ) as e:  # actor died or the cluster lost a node: the sandbox, not the program
                results = [
                    ExecutionResult(
                        outcome=Outcome.INFRA_ERROR, error_type="RayError", error=str(e)[:500]
                    )
                    for _ in idx
                ]
            for j, r in zip(idx, results):
                out[j] = r
        return out  # type: ignore[return-value]

    def close(self) -> None:
        for a in getattr(self, "_actors", []):
            try:
                self._ray.get(a.close.remote())
                self._ray.kill(a)
            except Exception:
                pass
        self._actors = []

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _PoolActor:
    """A local sandbox pool living in a Ray worker process."""

    def __init__(self, config: ExecutorConfig) -> None:
        from execrl.execution import Executor

        self.executor = Executor(config)

    def isolation_level(self) -> str:
        return self.executor.isolation_level

    def run(self, requests: list[ExecRequest]) -> list[ExecutionResult]:
        return self.executor.run(requests)

    def close(self) -> None:
        self.executor.close()
