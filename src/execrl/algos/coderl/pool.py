"""CodeRL's offline RL pool (stages S1, S2, S4): programs sampled once from the warm actor (or read
from a ``critic_labels.jsonl``), judged, paired with their problem's greedy baseline and weighed by
the frozen critic into per-token returns. The pool is fixed for the whole RL stage; a run saves it
as ``<run dir>/coderl/pool.jsonl``, one :class:`PoolItem` a line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from execrl.algos.coderl.critic_model import Critic
from execrl.algos.coderl.labels import CriticLabel, coderl_class
from execrl.algos.coderl.returns import sequence_returns, token_returns
from execrl.algos.rl_base import score_programs
from execrl.rewards.outcome_rewards import CLASS_NAMES, CODERL_REWARDS
from execrl.vocabulary import Problem


@dataclass
class PoolItem:
    """One offline RL sample; ``returns`` (per response token of ``actor.encode_responses(program)``)
    and ``critic_pass`` are filled in by :func:`weigh_items` (the critic is frozen)."""

    prompt: str
    program: str
    cls: int  # CodeRL's outcome class (-1: unknown)
    reward: float
    baseline_reward: float  # the problem's greedy program's reward (0 without one)
    returns: list[float] = field(default_factory=list)
    task_id: str = ""
    outcome: str | None = None  # the sandbox's verdict (None: read from labels without one)
    critic_pass: float | None = None  # the critic's probability that the program passes

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["class"] = CLASS_NAMES[row.pop("cls")] if self.cls >= 0 else None
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PoolItem:
        row = dict(row)
        name = row.pop("class", None)
        return cls(cls=CLASS_NAMES.index(name) if name else -1, **row)


def write_pool(path: Path, items: list[PoolItem]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for it in items:
            f.write(json.dumps(it.to_row()) + "\n")


def read_pool(path: Path) -> list[PoolItem]:
    with open(path) as f:
        return [PoolItem.from_row(json.loads(line)) for line in f if line.strip()]


def items_from_labels(
    labels: list[CriticLabel], prompts: dict[str, str], baselines: dict[str, float]
) -> list[PoolItem]:
    """The ``source: sample`` rows of a label file as pool items (a task without a baseline: 0)."""
    return [
        PoolItem(
            prompt=prompts[lab.task_id],
            program=lab.program,
            cls=lab.cls,
            reward=float(CODERL_REWARDS[lab.cls]),
            baseline_reward=baselines.get(lab.task_id, 0.0),
            task_id=lab.task_id,
            outcome=lab.outcome,
        )
        for lab in labels
        if lab.source == "sample" and lab.task_id in prompts
    ]


def sample_items(
    actor: Any,
    problems: list[Problem],
    reward: Any,
    executor: Any,
    n: int,
    gen: dict[str, Any],
    batch_size: int = 16,
) -> list[PoolItem]:
    """``n`` sampled programs per problem (``gen``: the sampling settings) and one greedy baseline,
    judged together; a sample whose judging failed (infrastructure error) is dropped."""
    items: list[PoolItem] = []
    for i in range(0, len(problems), batch_size):
        batch = problems[i : i + batch_size]
        prompts = [p.prompt for p in batch]
        samples = actor.generate(prompts, num_return_sequences=n, **gen).texts
        greedy = actor.generate(
            prompts, do_sample=False, max_new_tokens=gen.get("max_new_tokens")
        ).texts
        rows = [batch[j // n] for j in range(len(samples))]
        rb = score_programs(reward, rows + batch, samples + greedy, executor)
        base = rb.rewards[len(samples) :]
        for j, (prog, p) in enumerate(zip(samples, rows)):
            r, res = rb.rewards[j], rb.results[j] if rb.results else None
            if r is None:
                continue
            b = base[j // n]
            items.append(
                PoolItem(
                    prompt=p.prompt,
                    program=prog,
                    cls=coderl_class(res),
                    reward=float(r),
                    baseline_reward=0.0 if b is None else float(b),
                    task_id=p.task_id,
                    outcome=None if res is None else res.outcome.value,
                )
            )
    return items


@torch.no_grad()
def weigh_items(
    items: list[PoolItem],
    actor: Any,
    critic: Critic | None,
    relative: bool,
    batch_size: int = 16,
) -> dict[str, float]:
    """Fill in each item's token returns (``q_t * (R - R_baseline)``; ``q_t = 1`` without a critic)
    and the critic's p(passed); returns the critic's accuracy on the items of known class."""
    hits = judged = 0
    if critic is not None:
        critic.eval()
    for i in range(0, len(items), batch_size):
        chunk = items[i : i + batch_size]
        r_ids, r_mask = actor.encode_responses([it.program for it in chunk])
        q = None
        classes = [it.cls for it in chunk]
        if critic is not None:
            tok = critic.prompt_token_logits([it.prompt for it in chunk], r_ids, r_mask)
            q, pooled = critic.outcome_weights(tok, classes, r_mask)
            p_pass = pooled.float().softmax(-1)[:, critic.passed_class].tolist()
            y = critic.targets(torch.tensor([max(c, 0) for c in classes]))
            for it, pp, pred, t in zip(chunk, p_pass, pooled.argmax(-1).tolist(), y.tolist()):
                it.critic_pass = pp
                if it.cls >= 0:
                    judged += 1
                    hits += pred == t
        seq = sequence_returns(
            torch.tensor([it.reward for it in chunk]),
            torch.tensor([it.baseline_reward for it in chunk]),
            relative,
        )
        ret = token_returns(seq, r_mask, q).cpu()
        for it, row, m in zip(chunk, ret, r_mask.cpu()):
            it.returns = row[: int(m.sum())].tolist()
    return {"critic_acc": hits / judged} if judged else {}
