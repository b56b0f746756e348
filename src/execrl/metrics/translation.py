"""Surface metrics of translations against references: exact match, BLEU and CodeBLEU (``codebleu``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger("execrl")

# execrl language names -> codebleu's tree-sitter language names
CODEBLEU_LANG = {
    "python": "python",
    "java": "java",
    "cpp": "cpp",
    "c": "c",
    "csharp": "c_sharp",
    "c_sharp": "c_sharp",
    "php": "php",
    "javascript": "javascript",
    "go": "go",
    "ruby": "ruby",
    "rust": "rust",
}


def exact_match(references: Sequence[str], predictions: Sequence[str]) -> float | None:
    """Share of predictions equal to their reference up to whitespace (XLCoST code is pre-tokenized)."""
    if not predictions:
        return None
    return sum(r.split() == p.split() for r, p in zip(references, predictions, strict=True)) / len(
        predictions
    )


def codebleu(
    references: Sequence[str],
    predictions: Sequence[str],
    language: str,
    weights: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.25),
) -> dict[str, float] | None:
    """Corpus CodeBLEU with its components, as PPOCoder reports it.

    Keys: ``codebleu``, ``bleu`` (n-gram match), ``weighted_bleu`` (keywords weighted),
    ``ast_match`` (syntax match) and ``dataflow_match``. None when there is nothing to score or
    ``language`` has no tree-sitter grammar.
    """
    if not predictions:
        return None
    lang = CODEBLEU_LANG.get(language)
    if lang is None:
        log.warning("CodeBLEU: no grammar for %r", language)
        return None
    from codebleu import calc_codebleu

    # an empty prediction makes codebleu's BLEU divide by zero; one space scores 0 just the same
    preds = [p if p.strip() else " " for p in predictions]
    s = calc_codebleu([[r] for r in references], preds, lang=lang, weights=weights)
    return {
        "codebleu": float(s["codebleu"]),
        "bleu": float(s["ngram_match_score"]),
        "weighted_bleu": float(s["weighted_ngram_match_score"]),
        "ast_match": float(s["syntax_match_score"]),
        "dataflow_match": float(s["dataflow_match_score"]),
    }


def codebleu_tokens(
    references: Sequence[str], predictions: Sequence[str], language: str
) -> dict[str, float] | None:
    """CodeBLEU on XLCoST token text: both sides re-tokenized (:func:`execrl.data.xlcost.retokenize`)
    as the published XLCoST/PPOCoder figures were computed, so spacing cannot move the score."""
    from execrl.data.xlcost import retokenize

    return codebleu(
        [retokenize(r, language) for r in references],
        [retokenize(p, language) for p in predictions],
        language,
    )
