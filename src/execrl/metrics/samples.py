"""Reading samples files (docs/formats.md): one JSON object per line with a ``task_id`` and either
``completions`` (list) or ``completion`` (one string; several lines of one task are concatenated)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def prompt_hash(prompt: str) -> str:
    """First 16 hex digits of the prompt's SHA-256: evaluate.py warns when a sample was made from another prompt."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def random_subset(items: list, n: int | None, seed: int) -> list:
    """``n`` of ``items`` drawn with ``seed``, kept in their order (all of them when ``n`` is None or
    not smaller). generate.py and evaluate.py's ``subset=`` (``limit=`` is the first n)."""
    if n is None or int(n) >= len(items):
        return list(items)
    import random

    keep = set(random.Random(seed).sample(range(len(items)), int(n)))
    return [x for i, x in enumerate(items) if i in keep]


class SamplesFormatError(ValueError):
    """A malformed samples file: the message names the file and the line."""


@dataclass
class ProblemSamplesIn:
    """The samples of one problem as read from a file."""

    task_id: str
    completions: list[str] = field(default_factory=list)
    logprobs: list[float | None] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    prompt_sha: str | None = None
    split: str | None = None


def _floats(row: dict, key: str, n: int, where: str) -> list[float | None]:
    vals = row.get(key)
    if vals is None:
        return [None] * n
    if not isinstance(vals, list):
        vals = [vals]
    if len(vals) != n or not all(v is None or isinstance(v, (int, float)) for v in vals):
        raise SamplesFormatError(
            f"{where}: '{key}' must be {n} numbers (or null), one per completion"
        )
    return [None if v is None else float(v) for v in vals]


def read_samples(path: str | Path) -> list[ProblemSamplesIn]:
    """Parse and validate a samples file; problems keep their first-seen order.

    Every problem needs at least one completion: one with none would leave pass@k's denominator
    unseen (write ``""`` for a model that produced nothing: it is judged, and fails)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"samples file not found: {path}")
    out: dict[str, ProblemSamplesIn] = {}
    first_line: dict[str, int] = {}
    with path.open(
        "rb"
    ) as f:  # bytes: a bad byte is named by its line, not a bare UnicodeDecodeError
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise SamplesFormatError(
                    f"{where}: not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
                ) from None
            if not line.strip():
                continue
            try:
                row: Any = json.loads(line)
            except json.JSONDecodeError as e:
                raise SamplesFormatError(
                    f"{where}: not valid JSON ({e.msg} at column {e.colno})"
                ) from None
            if not isinstance(row, dict):
                raise SamplesFormatError(
                    f"{where}: expected a JSON object, got {type(row).__name__}"
                )
            if not isinstance(row.get("task_id"), (str, int)):
                raise SamplesFormatError(f"{where}: missing 'task_id' (a string)")
            if "completions" in row:
                comps = row["completions"]
                if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
                    raise SamplesFormatError(f"{where}: 'completions' must be a list of strings")
                lp, sc = (
                    _floats(row, "logprobs", len(comps), where),
                    _floats(row, "scores", len(comps), where),
                )
            elif isinstance(
                row.get("completion", row.get("solution")), str
            ):  # evalplus writes `solution`
                comps = [row.get("completion", row.get("solution"))]
                lp, sc = _floats(row, "logprob", 1, where), _floats(row, "score", 1, where)
            else:
                raise SamplesFormatError(
                    f"{where}: needs 'completions' (list of strings) or 'completion' / 'solution' (a string)"
                )
            tid = str(row["task_id"])
            first_line.setdefault(tid, lineno)
            p = out.setdefault(
                tid, ProblemSamplesIn(tid, prompt_sha=row.get("prompt_sha"), split=row.get("split"))
            )
            p.completions += comps
            p.logprobs += lp
            p.scores += sc
    if not out:
        raise SamplesFormatError(f"{path}: no samples (the file has no lines)")
    for tid, p in out.items():
        if not p.completions:
            raise SamplesFormatError(
                f"{path}:{first_line[tid]}: task {tid!r} has no completions: it would drop out of "
                'pass@k\'s denominator; give it "" (judged, a failure) or leave the task out'
            )
    return list(out.values())


def task_id_aliases(ids: list[str]) -> dict[str, str]:
    """How other tools spell the data config's task ids: case-insensitively (evalplus' ``Mbpp/11``
    for ``mbpp/11``, ``humaneval/0``), and as the bare trailing number (``11``, an int in the
    file) where only one id of the split ends in it."""
    out: dict[str, str] = {}
    numbers: dict[str, list[str]] = {}
    for tid in ids:
        out.setdefault(tid.lower(), tid)
        m = re.search(r"(\d+)$", tid)
        if m:
            numbers.setdefault(str(int(m.group(1))), []).append(tid)
    for num, owners in numbers.items():
        if len(owners) == 1:
            out.setdefault(num, owners[0])
    return out


def _style_hashes(problem: Any) -> set[str]:
    from execrl.data.prompting import instruct_prompt

    return {
        prompt_hash(problem.meta.get("completion_prompt") or problem.prompt),
        prompt_hash(instruct_prompt(problem)),
    }


def align_samples(samples: list[ProblemSamplesIn], problems: list[Any]) -> list[ProblemSamplesIn]:
    """Samples of another tool made to fit the data config: task ids as the config spells them
    (:func:`task_id_aliases`), and HumanEval-style completions that continue the prompt turned
    into whole programs (:func:`execrl.data.humaneval.complete_program`). Ids that name the same
    problem (``12`` and ``mbpp/12``) become one problem, their completions in file order, so every
    ``(task_id, index)`` is one sample. Unknown ids stay as they are (evaluate.py then names them)."""
    from execrl.data.humaneval import complete_program

    by_id = {p.task_id: p for p in problems}
    aliases = task_id_aliases(list(by_id))
    out: dict[str, ProblemSamplesIn] = {}
    for s in samples:
        tid = s.task_id if s.task_id in by_id else aliases.get(s.task_id.strip().lower(), s.task_id)
        p = by_id.get(tid)
        comps = [complete_program(p, c) for c in s.completions] if p is not None else s.completions
        sha = s.prompt_sha
        if p is not None and sha and sha != prompt_hash(p.prompt) and sha in _style_hashes(p):
            sha = prompt_hash(
                p.prompt
            )  # sampled from this problem's prompt in the other style: not stale
        if tid in out:
            prev = out[tid]
            prev.completions += comps
            prev.logprobs += s.logprobs
            prev.scores += s.scores
        else:
            out[tid] = dataclasses.replace(
                s,
                task_id=tid,
                completions=list(comps),
                logprobs=list(s.logprobs),
                scores=list(s.scores),
                prompt_sha=sha,
            )
    return list(out.values())
