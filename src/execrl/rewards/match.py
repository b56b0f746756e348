"""PPOCoder's structural rewards: AST subtree match and data-flow match against the reference.

Both wrap CodeBLEU's own functions (``codebleu`` package, pinned tree-sitter grammars):
``ASTMatch`` is the share of the reference's non-leaf subtrees found in the candidate
(CodeBLEU syntax match) and ``DFGMatch`` the share of the reference's normalised data-flow
edges found in the candidate (variable names are normalised, so renaming keeps the score;
the count is CodeBLEU's ``corpus_dataflow_match`` made hash-seed independent, see ``_dataflow``).
C and C++ use CodeBLEU's C# data-flow extractor, as XLCoST/PPOCoder do.

Fixes PPOCoder's bug (spec 2.5/2.11.1): the reference is ``problem.solutions[0]`` in full,
never truncated at the policy's EOS position.
"""

from __future__ import annotations

import functools
import logging

from execrl.execution.protocol import Executor
from execrl.rewards.base import RewardBatch
from execrl.vocabulary import Problem

log = logging.getLogger(__name__)

#: languages with a tree-sitter grammar in the ``codebleu`` package (execrl names -> codebleu names)
LANGS = {
    "python": "python",
    "java": "java",
    "cpp": "cpp",
    "c": "c",
    "c_sharp": "c_sharp",
    "csharp": "c_sharp",
    "javascript": "javascript",
    "php": "php",
}


@functools.cache
def _language(lang: str):
    from codebleu.utils import get_tree_sitter_language

    return get_tree_sitter_language(lang)


def _lang(language: str) -> str:
    try:
        return LANGS[language]
    except KeyError:
        raise ValueError(
            f"no tree-sitter grammar for {language!r}; AST/DFG match supports {sorted(LANGS)}"
        ) from None


def syntax_match(candidate: str, reference: str, language: str) -> float:
    """CodeBLEU syntax match of ``candidate`` against ``reference`` in [0, 1]."""
    from codebleu.syntax_match import corpus_syntax_match

    lang = _lang(language)
    return float(
        corpus_syntax_match([[reference]], [candidate], lang, tree_sitter_language=_language(lang))
    )


def _dataflow(code: str, lang: str) -> list:
    """Normalised data-flow edges of ``code`` (CodeBLEU's extractor and normaliser).

    CodeBLEU merges parent lists through ``set()``, so their order (and hence the normalised
    names) depends on the string hash seed: a renamed copy then scores 0.9 or 1.0 from run to
    run. Parents are put in first-definition order first, which is deterministic and rename-invariant.
    """
    from codebleu.dataflow_match import dfg_function, get_data_flow, normalize_dataflow
    from codebleu.parser import remove_comments_and_docstrings
    from tree_sitter import Parser

    try:
        code = remove_comments_and_docstrings(code, lang)
    except Exception:  # CodeBLEU ignores comment-stripping failures too
        pass
    parser = Parser()
    parser.language = _language(lang)
    dfg = get_data_flow(code, [parser, dfg_function[lang]])
    first: dict[str, int] = {}
    for d in dfg:
        first[d[0]] = min(first.get(d[0], d[1]), d[1])
    big = 1 << 60
    dfg = [
        (d[0], d[1], d[2], sorted(d[3], key=lambda n: (first.get(n, big), n)), d[4]) for d in dfg
    ]
    return normalize_dataflow(dfg)


def dataflow_match(
    candidate: str, reference: str, language: str, empty_reference: float = 0.0
) -> float:
    """CodeBLEU data-flow match in [0, 1]: the share of reference edges found in the candidate
    (each candidate edge matched once); ``empty_reference`` when the reference has no data flow
    (CodeBLEU scores that case 0 and warns)."""
    lang = _lang(language)
    ref = _dataflow(reference, lang)
    if not ref:
        return float(empty_reference)
    cand = _dataflow(candidate, lang)
    matched = 0
    for edge in ref:
        if edge in cand:
            matched += 1
            cand.remove(edge)
    return matched / len(ref)


class _MatchReward:
    """Shared scoring loop: one score per (problem reference, program); no execution needed."""

    name = "match"

    def __init__(self, missing_reference: float = 0.0) -> None:
        # problems without a reference solution cannot be matched: score them ``missing_reference``
        self.missing_reference = missing_reference

    def match(self, candidate: str, reference: str, language: str) -> float:
        raise NotImplementedError

    def score(
        self, problems: list[Problem], programs: list[str], executor: Executor | None = None
    ) -> RewardBatch:
        rewards: list[float | None] = []
        for p, prog in zip(problems, programs):
            if not p.solutions:
                rewards.append(float(self.missing_reference))
                continue
            try:
                rewards.append(self.match(prog, p.solutions[0], p.language))
            except ValueError:
                raise
            except (
                Exception
            ) as e:  # a parser crash on garbage output is a zero match, not a failed run
                log.debug("%s failed on %s: %s", self.name, p.task_id, e)
                rewards.append(0.0)
        return RewardBatch(
            rewards=rewards, components={self.name: rewards}, results=[None] * len(rewards)
        )


class ASTMatch(_MatchReward):
    """Share of the reference's AST subtrees present in the program (PPOCoder's syntactic reward)."""

    name = "ast_match"

    def match(self, candidate: str, reference: str, language: str) -> float:
        return syntax_match(candidate, reference, language)


class DFGMatch(_MatchReward):
    """Share of the reference's data-flow edges present in the program (PPOCoder's semantic reward)."""

    name = "dfg_match"

    def __init__(self, missing_reference: float = 0.0, empty_reference: float = 0.0) -> None:
        super().__init__(missing_reference)
        self.empty_reference = empty_reference

    def match(self, candidate: str, reference: str, language: str) -> float:
        return dataflow_match(candidate, reference, language, self.empty_reference)
