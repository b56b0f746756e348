"""The problems of a data config without Lightning: ``ProblemSource`` reads splits through a reader.

``ProblemDataModule`` (execrl.data.datamodule) is this plus Lightning's dataloaders; evaluate.py
instantiates the same ``data`` config as a ``ProblemSource`` so judging never imports torch."""

from __future__ import annotations

import random
from typing import Any

from execrl.data.prompting import apply_prompt_style
from execrl.data.reindent import reindent_tabs
from execrl.schema.data import DataConfig
from execrl.schema.overrides import configured
from execrl.vocabulary import Problem

TRUNCATION_SIDES = ("left", "right")

DATAMODULE_TARGET = "execrl.data.datamodule.ProblemDataModule"
SOURCE_TARGET = "execrl.data.source.ProblemSource"


class ProblemSource:
    """Reads problems with ``reader.read(path, split)`` and serves them to an algorithm.

    ``items`` (the datamodule takes it from the module being fitted, its ``train_items``):
    ``"solutions"`` yields one item per ground-truth program (CodeRL's ``uniform_sol`` sampling,
    for SFT), ``"problems"`` yields problems (RL prompts), read from ``rl_split`` when set
    (synth's tests-only ``rl`` split). ``reindent_tabs``: Python ground-truth programs reindented
    to tabs as CodeRL's loader does (:mod:`execrl.data.reindent`); ``truncation_side`` is the end of
    a too-long prompt the actor cuts (``left`` keeps the end), read by the model config.

    ``config`` with ``overrides`` (Hydra passes a node's keys so; ``reader`` is the reader
    object). Defaults and comments: :class:`execrl.schema.data.DataConfig`.
    """

    def __init__(self, config: DataConfig | None = None, /, **overrides: Any) -> None:
        cfg = configured(DataConfig, config, overrides)
        if cfg.reader is None:
            raise ValueError("a problem source needs its reader (data.reader)")
        if cfg.truncation_side not in TRUNCATION_SIDES:
            raise ValueError(
                f"data.truncation_side must be one of {TRUNCATION_SIDES}, got {cfg.truncation_side!r}"
            )
        self.config = cfg
        self.reader, self.path, self.name = cfg.reader, cfg.path, cfg.name
        self.train_split, self.val_split, self.test_split = (
            cfg.train_split,
            cfg.val_split,
            cfg.test_split,
        )
        self.rl_split = cfg.rl_split
        self.batch_size = cfg.batch_size
        self.val_batch_size = cfg.val_batch_size or cfg.batch_size
        self.train_limit, self.val_limit = cfg.train_limit, cfg.val_limit
        self.num_workers = cfg.num_workers
        self.items = cfg.items
        self.seed = cfg.seed
        self.prompt_style = (
            cfg.prompt_style
        )  # "instruct": chat-model prompts (execrl.data.prompting)
        self.truncation_side, self.reindent_tabs = cfg.truncation_side, cfg.reindent_tabs
        self._cache: dict[str, list[Problem]] = {}

    def problems(self, split: str | None, limit: int | None = None) -> list[Problem]:
        """Problems of a split (read once and cached); ``limit`` keeps a seeded random subset."""
        if split is None:
            return []
        if split not in self._cache:
            probs = apply_prompt_style(list(self.reader.read(self.path, split)), self.prompt_style)
            self._cache[split] = self._reindented(probs) if self.reindent_tabs else probs
        probs = self._cache[split]
        if limit is not None and limit < len(probs):
            probs = random.Random(self.seed).sample(probs, limit)
        return probs

    @staticmethod
    def _reindented(probs: list[Problem]) -> list[Problem]:
        """Python problems with their solutions reindented to tabs (CodeRL's APPS loader)."""
        for p in probs:
            if p.language == "python":
                p.solutions = [reindent_tabs(s) if isinstance(s, str) else s for s in p.solutions]
        return probs

    def serve(self, role: str, limit: int | None = None) -> list[Problem]:
        """The problems an algorithm builds its own data from (its ``fit_problem_needs``).

        ``role``: ``"train_split"`` (the SFT split), ``"rl_split"`` (the tests-only RL split, else
        the SFT split), ``"val_split"``, ``"test_split"``, ``"fit_splits"`` (the train, RL and
        validation splits, whole), or a split's own name. The train and RL roles keep
        ``train_limit`` (the problems this run trains on); ``limit`` then keeps a seeded random
        subset of those."""
        if role == "fit_splits":
            names = dict.fromkeys(s for s in (self.train_split, self.rl_split, self.val_split) if s)
            return [p for name in names for p in self.problems(name)]
        if role == "rl_split":
            split = self.rl_split or self.train_split
        elif role in ("train_split", "val_split", "test_split"):
            split = getattr(self, role)
        else:
            split = role
        probs = self.problems(
            split, self.train_limit if role in ("train_split", "rl_split") else None
        )
        if limit is not None and limit < len(probs):
            probs = random.Random(self.seed).sample(probs, limit)
        return probs

    @property
    def train_problems(self) -> list[Problem]:
        split = self.rl_split if self.items == "problems" and self.rl_split else self.train_split
        return self.problems(split, self.train_limit)

    @property
    def val_problems(self) -> list[Problem]:
        return self.problems(self.val_split, self.val_limit)

    def train_items(self) -> list[Any]:
        probs = self.train_problems
        if self.items == "problems":
            return probs
        pairs = [(p, s) for p in probs for s in p.solutions]
        if not pairs:
            raise ValueError(
                f"data split {self.train_split!r} of {self.name or type(self.reader).__name__} has no "
                "solutions to train on (is it a tests-only split such as synth's 'rl'?)"
            )
        return pairs
