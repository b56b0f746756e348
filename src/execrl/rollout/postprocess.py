"""Turn a raw model response into a program: strip prompt echo and markdown fences, cut at stop
sequences, undo CodeRL's tab indentation, prepend APPS starter code where the model continued it."""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence

from execrl.data.conventions import conventions_of
from execrl.vocabulary import Problem


def default_stop(problem: Problem) -> tuple[str, ...]:
    """Stop sequences of ``problem``'s dataset and prompt style, as its reader registered them
    (:class:`execrl.data.conventions.DatasetConventions`)."""
    return conventions_of(problem).stops(problem)


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+#-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)
_FENCE_TAG = re.compile(r"```[ \t]*([A-Za-z0-9_+#-]*)")


def _is_code(text: str) -> bool:
    """Python that parses and does something (a lone word such as ``Solution`` parses too)."""
    try:
        tree = ast.parse(textwrap.dedent(text))
    except (SyntaxError, ValueError):
        return False
    return any(
        not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Name | ast.Constant))
        for st in tree.body
    )


def _closes_code(before: str, after: str, python: bool) -> bool:
    """Whether a fence that follows ``before`` closes the code a completion-style response was
    writing (rather than opening a block that prose introduces). A fence with a language tag opens
    a block, so does one after a line ending in ``:`` (a code line there would lack its body); for
    Python, prose that does not parse before a block that does."""
    tag = _FENCE_TAG.match(after)
    if not before.strip() or (tag is not None and tag.group(1)):
        return False
    if before.rstrip().endswith(":"):
        return False
    if python and not _is_code(before):
        body = after[tag.end() if tag else 3 :].split("```", 1)[0]
        return not _is_code(body)
    return True


def strip_fences(text: str, continues_code: bool = False, python: bool = True) -> str:
    """The body of the first fenced code block (an unclosed fence runs to the end); else ``text``.

    ``continues_code`` (a completion-style prompt, whose response goes on with the prompt's code):
    a bare fence after that code closes it, so the program is the text before the fence and what
    follows (prose, usage examples) is dropped (:func:`_closes_code`); a response that opens a
    block of its own is read as before."""
    i = text.find("```")
    if continues_code and i > 0 and _closes_code(text[:i], text[i:], python):
        return text[:i]
    m = _FENCE.search(text)
    return m.group(2) if m else text


def strip_prompt_echo(text: str, prompt: str) -> str:
    """Drop a copy of the prompt at the start of the response (some causal models repeat it)."""
    p = prompt.strip()
    return text.lstrip()[len(p) :] if p and text.lstrip().startswith(p) else text


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut before the earliest stop sequence."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def tabs_to_spaces(text: str, width: int = 4) -> str:
    """Leading tabs -> spaces (CodeRL-trained models indent with tabs; starter code uses spaces)."""
    return "\n".join(
        re.sub(r"^\t+", lambda m: " " * width * len(m.group(0)), line) for line in text.split("\n")
    )


def _defined_names(code: str) -> list[str]:
    return re.findall(r"^\s*(?:def|class)\s+(\w+)", code, re.M)


def with_starter_code(program: str, starter_code: str | None) -> str:
    """Prepend ``starter_code`` when the program does not define what the starter declares
    (the model continued the starter's body instead of repeating it)."""
    if not starter_code or not starter_code.strip():
        return program
    names = _defined_names(starter_code)
    if names and all(
        re.search(rf"^\s*(?:def|class)\s+{re.escape(n)}\b", program, re.M) for n in names
    ):
        return program
    return starter_code.rstrip() + "\n" + program


def postprocess(
    text: str,
    problem: Problem | None = None,
    stop: Sequence[str] | None = None,
    fences: bool = True,
    untab: bool = False,
    starter_code: bool = True,
) -> str:
    """The program to execute for one raw response of ``problem``'s prompt."""
    out = text
    if problem is not None:
        out = strip_prompt_echo(out, problem.prompt)
    if fences and "```" in out:
        completion = problem is not None and problem.meta.get("prompt_style") != "instruct"
        python = problem is None or problem.language == "python"
        out = strip_fences(out, continues_code=completion, python=python)
    if stop is None:
        stop = default_stop(problem) if problem is not None else ()
    out = cut_at_stop(out, stop)
    out = re.sub(
        r"^(?:[ \t]*\n)+", "", out
    )  # blank leading lines only: a body keeps its indentation
    if untab:
        out = tabs_to_spaces(out)
    if starter_code and problem is not None and problem.language == "python":
        out = with_starter_code(out, problem.starter_code)
    return out.rstrip() + "\n" if out.strip() else ""
