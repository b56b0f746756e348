"""Critic Sampling (the CodeRL paper's inference procedure, never released upstream): sample,
test on the example tests, then refine from critic-chosen prefixes of passing programs, or repair
the best failing programs.

Per problem and round:

1. sample ``n`` programs from the actor and run them on the problem's *example* tests (a
   problem without ``example_tests`` uses the hidden asserts quoted in its prompt when
   ``example_fallback=prompt``, else a compile check);
2. **refine** (some program passed): for each passing program (the ``max_seeds`` best by critic
   score), ``q_t = p_critic(passed | prompt, w_<t)`` at every position; the seed is the prefix
   ``w_<t_max`` with ``t_max = argmax_t q_t``; ``n_refine`` continuations are sampled from the
   seeds (about ``n_refine / #seeds`` each);
3. **repair** (none passed): the ``repair_top_m`` failing programs the critic rates most likely
   to pass are rewritten by the repair model (default: the actor itself) from a prompt holding the
   problem, the program, its error class and message; ``n_refine / M`` repairs each.

New programs are judged on the example tests too; with ``rounds > 1`` the next round decides
refine/repair on the whole pool. Every program of the pool is returned, in generation order,
with its stage, parent, example-test verdict and critic score (``score``: pooled p(passed), usable
as evaluate.py's ``rank_by=score``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from execrl.algos.coderl.labels import (
    error_message,  # lives with the other label fields, torch-free
)
from execrl.judging.requests import judge_request
from execrl.rewards.outcome_rewards import CLASS_NAMES
from execrl.rollout.plain import Sample
from execrl.rollout.postprocess import postprocess
from execrl.schema.sampling import REPAIR_TEMPLATE, CriticSamplingConfig
from execrl.vocabulary import ExecutionResult, Outcome, Problem


@dataclass
class CriticSample(Sample):
    """A Critic Sampling program: ``stage`` is ``sample``, ``refine`` or ``repair``; ``parent`` the
    index (in the problem's list) of the seed or repaired program."""

    stage: str = "sample"
    parent: int | None = None
    example_passed: bool | None = None
    outcome: str | None = None  # example-test outcome
    score: float | None = None  # critic's pooled p(passed)
    ids: list[int] = field(default_factory=list, repr=False)  # response token ids (for prefixes)
    prefix: list[int] | None = field(default=None, repr=False)  # refine: the forced prefix
    token_scores: list[float] | None = field(
        default=None, repr=False
    )  # per-position p(passed), seeds only


# ---------------------------------------------------------------------- small pure pieces
def best_prefix_len(token_scores: Sequence[float]) -> int:
    """``t_max = argmax_t q_t`` over the scored positions; the seed is ``ids[:t_max]`` (position t
    has read ``w_<t``, so the last position, at EOS, scores the whole program)."""
    if not token_scores:
        return 0
    return int(max(range(len(token_scores)), key=lambda t: (token_scores[t], -t)))


def repair_prompt(
    problem: Problem,
    program: str,
    result: ExecutionResult | None,
    template: str = REPAIR_TEMPLATE,
) -> str:
    """The repair model's input: problem, failing program, error class (CodeRL's, of the first
    failing test), subtype (e.g. ``ZeroDivisionError``; the class name when there is none) and message."""
    from execrl.algos.coderl.labels import coderl_class, error_subtype

    c = coderl_class(result)
    return format_repair_prompt(
        problem, program, c, error_subtype(result), error_message(result), template
    )


def format_repair_prompt(
    problem: Problem,
    program: str,
    cls: int,
    subtype: str | None,
    message: str | None,
    template: str = REPAIR_TEMPLATE,
) -> str:
    """The repair prompt from its fields: the one format Critic Sampling asks and ``algo=repair`` trains on."""
    name = CLASS_NAMES[cls] if cls >= 0 else "error"
    return template.format(
        prompt=problem.prompt.rstrip("\n"),
        program=program.rstrip("\n"),
        error_class=name,
        error_subtype=subtype or name,
        error=message or "",
    )


def split_budget(total: int, k: int) -> list[int]:
    """``total`` programs over ``k`` seeds, as evenly as possible (earlier seeds get the remainder)."""
    if k <= 0:
        return []
    return [total // k + (i < total % k) for i in range(k)]


# ---------------------------------------------------------------------- the procedure
class _Run:
    def __init__(self, actor, critic, executor, repair_actor, cfg: CriticSamplingConfig) -> None:
        self.actor, self.critic, self.executor = actor, critic, executor
        self.repair_actor = repair_actor or actor
        self.cfg = cfg

    def _post(self, text: str, p: Problem) -> str:
        c = self.cfg
        return postprocess(text, p, c.stop, c.strip_fences, c.untab, c.starter_code)

    def _gen_kwargs(self) -> dict[str, Any]:
        c = self.cfg
        return dict(
            do_sample=True,
            temperature=c.temperature,
            top_p=c.top_p,
            top_k=c.top_k,
            max_new_tokens=c.max_new_tokens,
        )

    @torch.no_grad()
    def score(
        self, problems: list[Problem], samples: list[CriticSample], token_level: bool
    ) -> None:
        """Critic p(passed): pooled into ``score``; per position into ``token_scores`` when asked."""
        if self.critic is None or not samples:
            return
        self.critic.eval()
        k = self.critic.passed_class
        bs = self.cfg.critic_batch_size
        for i in range(0, len(samples), bs):
            chunk, probs = samples[i : i + bs], problems[i : i + bs]
            width = max(len(s.ids) for s in chunk)
            pad, dev = self.actor.pad_id, self.critic.backbone.device
            r_ids = torch.tensor([s.ids + [pad] * (width - len(s.ids)) for s in chunk], device=dev)
            r_mask = torch.tensor(
                [[1] * len(s.ids) + [0] * (width - len(s.ids)) for s in chunk], device=dev
            )
            tok = self.critic.prompt_token_logits([p.prompt for p in probs], r_ids, r_mask)
            pooled = torch.softmax(self.critic.pool(tok, r_mask), -1)[:, k].tolist()
            q = torch.softmax(tok, -1)[..., k].cpu()
            for j, s in enumerate(chunk):
                s.score = float(pooled[j])
                if token_level:
                    s.token_scores = q[j, : len(s.ids)].tolist()

    def judge(
        self, problems: list[Problem], samples: list[CriticSample]
    ) -> dict[int, ExecutionResult]:
        reqs = [
            judge_request(p, s.completion, "example", example_fallback=self.cfg.example_fallback)
            for p, s in zip(problems, samples)
        ]
        results = self.executor.run(reqs) if reqs else []
        for s, r in zip(samples, results):
            s.outcome = r.outcome.value
            s.example_passed = None if r.outcome.is_infra else r.outcome is Outcome.PASSED
        return {id(s): r for s, r in zip(samples, results)}

    def _rows(
        self, actor, prompts: list[str], n: int, prefix: list[int] | None = None
    ) -> list[tuple[str, list[int]]]:
        if n <= 0:
            return []
        p_ids, p_mask = actor.encode_prompts(prompts)
        roll = actor.generate(
            prompt_ids=p_ids,
            prompt_mask=p_mask,
            num_return_sequences=n,
            prefix_ids=None if prefix is None else [prefix] * len(prompts),
            **self._gen_kwargs(),
        )
        out = []
        for ids, m, text in zip(
            roll.response_ids.tolist(), roll.response_mask.tolist(), roll.texts
        ):
            out.append((text, [t for t, keep in zip(ids, m) if keep]))
        return out

    def _made(
        self,
        actor,
        p: Problem,
        prompt: str,
        k: int,
        stage: str,
        parent: int,
        prefix: list[int] | None = None,
    ) -> list[CriticSample]:
        """``k`` new programs for ``p``: sampled by ``actor`` from ``prompt`` (after ``prefix``)."""
        return [
            CriticSample(
                self._post(text, p),
                text,
                None,
                len(ids),
                stage=stage,
                parent=parent,
                ids=ids,
                prefix=prefix,
            )
            for text, ids in self._rows(actor, [prompt], k, prefix=prefix)
        ]

    def initial(self, problems: list[Problem]) -> list[list[CriticSample]]:
        n = self.cfg.n
        rows = self._rows(self.actor, [p.prompt for p in problems], n)
        pools: list[list[CriticSample]] = [[] for _ in problems]
        for j, (text, ids) in enumerate(rows):
            p = problems[j // n]
            pools[j // n].append(CriticSample(self._post(text, p), text, None, len(ids), ids=ids))
        return pools

    def round(
        self,
        problems: list[Problem],
        pools: list[list[CriticSample]],
        results: dict[int, ExecutionResult],
    ) -> list[tuple[Problem, CriticSample]]:
        """One refine-or-repair round for every problem; returns the new (problem, sample) pairs."""
        c = self.cfg
        budget = c.n_refine or c.n
        new: list[tuple[Problem, CriticSample]] = []
        passing = [(p, s) for p, pool in zip(problems, pools) for s in pool if s.example_passed]
        self.score([p for p, _ in passing], [s for _, s in passing], token_level=True)
        for p, pool in zip(problems, pools):
            good = [i for i, s in enumerate(pool) if s.example_passed]
            if good:
                good.sort(key=lambda i: -(pool[i].score or 0.0))
                seeds = good[: c.max_seeds] if c.max_seeds else good
                for i, k in zip(seeds, split_budget(budget, len(seeds))):
                    seed = pool[i]
                    t_max = best_prefix_len(seed.token_scores or [])
                    prefix = seed.ids[:t_max]
                    made = self._made(self.actor, p, p.prompt, k, "refine", i, prefix)
                    new += [(p, s) for s in made]
            else:
                failed = [i for i, s in enumerate(pool) if s.example_passed is False]
                if not failed:
                    continue  # every program hit an infrastructure error: nothing to repair from
                if any(pool[i].score is None for i in failed):
                    self.score([p] * len(failed), [pool[i] for i in failed], token_level=False)
                failed.sort(key=lambda i: -(pool[i].score or 0.0))
                chosen = failed[: max(1, c.repair_top_m)]
                for i, k in zip(chosen, split_budget(budget, len(chosen))):
                    prompt = repair_prompt(
                        p, pool[i].completion, results.get(id(pool[i])), c.repair_template
                    )
                    new += [
                        (p, s) for s in self._made(self.repair_actor, p, prompt, k, "repair", i)
                    ]
        return new


def critic_sampling(
    actor: Any,
    critic: Any,
    executor: Any,
    problems: Sequence[Problem],
    config: CriticSamplingConfig | None = None,
    repair_actor: Any = None,
) -> list[list[CriticSample]]:
    """Critic Sampling for ``problems``; returns each problem's pool (``n + rounds * n_refine``
    programs at most: ``n`` sampled, then ``n_refine`` refined or repaired per round)."""
    problems = list(problems)
    cfg = config or CriticSamplingConfig()
    run = _Run(actor, critic, executor, repair_actor, cfg)
    pools = run.initial(problems)
    flat = [(p, s) for p, pool in zip(problems, pools) for s in pool]
    results = run.judge([p for p, _ in flat], [s for _, s in flat])
    for _ in range(cfg.rounds):
        new = run.round(problems, pools, results)
        if not new:
            break
        results.update(run.judge([p for p, _ in new], [s for _, s in new]))
        index = {id(p): i for i, p in enumerate(problems)}
        for p, s in new:
            pools[index[id(p)]].append(s)
    # every program gets a critic score (for ranking, e.g. evaluate.py rank_by=score)
    todo = [(p, s) for p, pool in zip(problems, pools) for s in pool if s.score is None]
    run.score([p for p, _ in todo], [s for _, s in todo], token_level=False)
    return pools


class CriticSampler:
    """``sampling=critic``: :func:`critic_sampling` with a critic (and optional repair model) loaded
    from checkpoints. ``sample(actor, problems, executor=...)``; without an executor it starts a
    default sandbox pool (closed by :meth:`close`)."""

    needs_executor = True

    def __init__(
        self,
        config: CriticSamplingConfig | None = None,
        *,
        critic: Any = None,
        repair_actor: Any = None,
    ) -> None:
        self.cfg = config or CriticSamplingConfig()
        self.critic, self.repair_actor = critic, repair_actor
        self._own_executor = None

    @property
    def n(self) -> int:
        c = self.cfg
        return c.n + c.rounds * (c.n_refine or c.n)

    def config(self) -> dict:
        """The generation settings recorded beside every sample."""
        return {
            "sampler": "critic",
            **{
                k: v
                for k, v in asdict(self.cfg).items()
                if k not in ("_target_", "repair_template")
            },
        }

    def _load(self, actor: Any) -> None:
        if self.critic is None:
            if not self.cfg.critic_ckpt:
                raise ValueError(
                    "sampling=critic needs sampling.critic_ckpt (an algo=critic checkpoint, binary=true as in the paper)"
                )
            from execrl.algos.coderl.critic_model import load_critic

            self.critic = load_critic(self.cfg.critic_ckpt, actor=actor)
        self.critic.to(actor.device).eval()
        if self.repair_actor is None and self.cfg.repair_ckpt:
            from execrl.models.checkpoint import load_actor

            self.repair_actor = load_actor(self.cfg.repair_ckpt).to(actor.device).eval()

    def sample(
        self, actor: Any, problems: Sequence[Problem], executor: Any = None
    ) -> list[list[CriticSample]]:
        """Each problem's Critic Sampling pool (see the module docstring)."""
        self._load(actor)
        if executor is None:
            if self._own_executor is None:
                from execrl.execution import Executor

                self._own_executor = Executor()
            executor = self._own_executor
        return critic_sampling(actor, self.critic, executor, problems, self.cfg, self.repair_actor)

    def close(self) -> None:
        if self._own_executor is not None:
            self._own_executor.close()
            self._own_executor = None
