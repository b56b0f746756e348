"""Plain sampling: ``n`` programs per problem in rounds of ``n_per_round`` (CodeRL's ``num_seqs`` /
``num_seqs_per_iter``), temperature / top-p / top-k or greedy, then per-dataset post-processing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from execrl.rollout.postprocess import postprocess
from execrl.schema.sampling import PlainSamplingConfig
from execrl.vocabulary import Problem


@dataclass
class Sample:
    """One sampled program: ``completion`` is what gets executed, ``raw`` what the model said."""

    completion: str
    raw: str
    logprob: float | None = None  # sum of the response's token log-probs under the model (T = 1)
    num_tokens: int = 0


class PlainSampler:
    """Sample programs for a batch of problems with :meth:`Actor.generate`."""

    def __init__(self, config: PlainSamplingConfig | None = None) -> None:
        c = self.cfg = config or PlainSamplingConfig()
        if c.greedy and c.n != 1:
            raise ValueError("greedy decoding gives one program per problem: use sampling.n=1")
        self.n, self.n_per_round = c.n, min(c.n, c.n_per_round or c.n)

    def config(self) -> dict:
        """The generation settings recorded beside every sample."""
        keys = ("n", "greedy", "temperature", "top_p", "top_k", "max_new_tokens", "stop")
        return {"sampler": "plain", **{k: getattr(self.cfg, k) for k in keys}}

    @torch.no_grad()
    def sample(self, actor, problems: Sequence[Problem]) -> list[list[Sample]]:
        """``n`` samples for each problem, in problem order."""
        c = self.cfg
        out: list[list[Sample]] = [[] for _ in problems]
        prompts = [p.prompt for p in problems]
        for r in range(math.ceil(self.n / self.n_per_round)):
            m = min(self.n_per_round, self.n - r * self.n_per_round)
            roll = actor.generate(
                prompts,
                num_return_sequences=m,
                do_sample=not c.greedy,
                temperature=c.temperature,
                top_p=c.top_p,
                top_k=c.top_k,
                max_new_tokens=c.max_new_tokens,
            )
            lps = [None] * len(roll.texts)
            if c.logprobs:
                lps = summed_logprobs(actor, roll)
            lens = roll.response_mask.sum(-1).cpu().tolist()
            raws = roll.raw_texts or roll.texts
            for i, text in enumerate(roll.texts):
                p = problems[i // m]
                prog = postprocess(text, p, c.stop, c.strip_fences, c.untab, c.starter_code)
                out[i // m].append(Sample(prog, raws[i], lps[i], int(lens[i])))
        return out


def summed_logprobs(actor, roll, max_logit_bytes: int = 2**29) -> list[float]:
    """Each response's summed token log-prob, scored in row chunks whose float32 logits stay under
    ``max_logit_bytes``: 80 responses of 384 tokens over SmolLM2's 49k vocabulary would otherwise
    hold 6 GB of logits and as much again for their log-softmax."""
    vocab = int(actor.model.config.vocab_size)
    per_row = max(1, roll.response_ids.shape[1] * vocab * 4)
    step = max(1, max_logit_bytes // per_row)
    out: list[float] = []
    for i in range(0, roll.response_ids.shape[0], step):
        rows = slice(i, i + step)
        lp = actor.response_logprobs(
            roll.prompt_ids[rows],
            roll.prompt_mask[rows],
            roll.response_ids[rows],
            roll.response_mask[rows],
        )["logprobs"]
        out += lp.sum(-1).float().cpu().tolist()
    return out
