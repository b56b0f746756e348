"""What a dataset's reader says about its problems beyond the :class:`Problem` record: where a
response's program ends (stop sequences), the instruct prompt it is asked with, and how a problem
read as tokens turns back into code. Sampling, prompting and judging ask
:func:`conventions_of` instead of branching on dataset names.

A reader registers its conventions under the ``Problem.dataset`` names it produces
(:func:`register`, at import). A name never registered is looked up once as the module
``execrl.data.<name>`` (the shipped readers live there, so a bare ``Problem("mbpp/1", "mbpp", ...)``
gets MBPP's stops); a dataset nobody registers gets :data:`DEFAULT`: no stops, its own prompt in
the instruct template, no detokenisation."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from execrl.vocabulary import Problem


@dataclass(frozen=True)
class DatasetConventions:
    """One dataset's conventions (every field optional)."""

    # cut a response before the earliest of these when the sampling config leaves stop: null
    stop: tuple[str, ...] = ()
    # the same for instruct prompts: whole programs, so only top-level test code is cut
    # (evalplus' sanitizer keeps definitions too)
    instruct_stop: tuple[str, ...] = ()
    # the instruct prompt of a (non-translation) problem; None: the generic one on Problem.prompt
    instruct_prompt: Callable[[Problem], str] | None = None
    # (text, language) -> code, for problems read as tokens (meta["tokenized"])
    detokenize: Callable[[str, str], str] | None = None

    def stops(self, problem: Problem) -> tuple[str, ...]:
        """The stop sequences of ``problem``'s prompt style."""
        instruct = problem.meta.get("prompt_style") == "instruct"
        return self.instruct_stop if instruct else self.stop


DEFAULT = DatasetConventions()
_REGISTRY: dict[str, DatasetConventions] = {}
_LOOKED_UP: set[str] = set()  # names whose execrl.data.<name> module was tried


def register(dataset: str, conventions: DatasetConventions) -> DatasetConventions:
    """Make ``conventions`` those of ``dataset``'s problems (a reader calls it at import)."""
    _REGISTRY[dataset] = conventions
    return conventions


def conventions_of(problem: Problem | str) -> DatasetConventions:
    """The conventions of a problem (or a dataset name)."""
    name = problem if isinstance(problem, str) else problem.dataset
    if name not in _REGISTRY and name not in _LOOKED_UP:
        _LOOKED_UP.add(name)
        if name.isidentifier():
            try:  # a shipped reader registers when its module is imported
                importlib.import_module(f"{__package__}.{name}")
            except ModuleNotFoundError as e:
                if e.name != f"{__package__}.{name}":
                    raise
    return _REGISTRY.get(name, DEFAULT)


def program_text(problem: Problem, text: str) -> str:
    """What to compile or run for a model output on ``problem``: detokenised when the problem was
    read as tokens and its dataset says how, else ``text`` itself."""
    detok = conventions_of(problem).detokenize if problem.meta.get("tokenized") else None
    return detok(text, problem.language) if detok else text


def executable_problem(problem: Problem) -> Problem:
    """``problem`` with its code fields (source, references) detokenised when it was read as
    tokens, so execution and AST/DFG rewards see code, as for model outputs (:func:`program_text`)."""
    detok = conventions_of(problem).detokenize if problem.meta.get("tokenized") else None
    if detok is None:
        return problem
    src = problem.source_code and detok(problem.source_code, problem.source_language or "java")
    return dataclasses.replace(
        problem,
        source_code=src,
        solutions=[detok(s, problem.language) for s in problem.solutions],
        meta={**problem.meta, "tokenized": False},
    )
