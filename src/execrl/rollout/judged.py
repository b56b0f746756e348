"""Sample and judge: the one loop that decodes programs for problems and has the sandbox judge them,
used by CodeRL's critic labels, the held-out report of train.py and bench/learning.py.

(Validation decodes with its own length and also scores the loss, and RL's rollout keeps token ids
and log-probs, so both sample with :meth:`Actor.generate`; every path ends in
:func:`execrl.judging.requests.judge_programs`, RL's through its reward.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from execrl.execution.protocol import Executor
from execrl.judging.requests import judge_programs
from execrl.rollout.postprocess import postprocess
from execrl.vocabulary import ExecutionResult, Problem


@dataclass
class JudgedProgram:
    """One decoded program for ``problem`` and its verdict."""

    problem: Problem
    program: str
    result: ExecutionResult

    @property
    def outcome(self):
        return self.result.outcome


def sample_and_judge(
    actor: Any,
    problems: list[Problem],
    executor: Executor,
    n: int = 1,
    do_sample: bool = False,
    batch_size: int = 16,
    postprocess_instruct: bool = False,
    **generate_kwargs: Any,
) -> list[JudgedProgram]:
    """``n`` programs per problem from ``actor`` (greedy unless ``do_sample``; ``generate_kwargs``
    go to :meth:`Actor.generate`: temperature, top_p, max_new_tokens), judged on each problem's
    hidden tests. Rows come problem by problem, ``n`` per problem, in order.

    ``postprocess_instruct``: cut an instruct prompt's program as generate.py does (top-level test
    code after the definitions; :func:`execrl.rollout.postprocess.postprocess`)."""
    out: list[JudgedProgram] = []
    for i in range(0, len(problems), batch_size):
        batch = problems[i : i + batch_size]
        texts = actor.generate(
            [p.prompt for p in batch],
            num_return_sequences=n,
            do_sample=do_sample,
            **generate_kwargs,
        ).texts
        rows = [batch[j // n] for j in range(len(texts))]
        if postprocess_instruct:
            texts = [
                postprocess(t, p) if p.meta.get("prompt_style") == "instruct" else t
                for p, t in zip(rows, texts)
            ]
        results = judge_programs(rows, texts, executor)
        out += [JudgedProgram(p, t, r) for p, t, r in zip(rows, texts, results)]
    return out
