"""Prompts for instruction-tuned (chat) models, and the fenced-code response format they answer in.

``prompt_style=completion`` keeps each dataset's own prompt (CodeRL's APPS format, Austin et al.'s
MBPP prompt, the source program for translation). ``prompt_style=instruct`` replaces
``Problem.prompt`` by an instruction in evalplus' style: the task inside a markdown block, then
the start of the assistant's answer, which opens a code block::

    Please provide a self-contained Python script that solves the following problem in a markdown code block:
    ```
    \"\"\"
    Write a function to find the shared elements from the given two lists.
    assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))
    \"\"\"
    ```
    <|assistant|>Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:
    ```python

MBPP shows the description and the first test (evalplus, bigcode-evaluation-harness); HumanEval
the signature and docstring. The text after :data:`ASSISTANT` is not part of the user turn: the
actor puts the user turn through the model's chat template and appends it, so every response
starts inside a code block (evalplus' ``response_prefix``). A response is then the program, a
closing fence and end-of-sequence: generation stops at the fence, :func:`extract_code` keeps what
came before it, and :func:`fenced_target` writes ground-truth programs the same way for SFT.
"""

from __future__ import annotations

import dataclasses
import re

from execrl.data.conventions import conventions_of
from execrl.vocabulary import Problem

STYLES = ("completion", "instruct")
ASSISTANT = "<|assistant|>"  # separates the user turn from the assistant's answer prefix
FENCE = "```"
INSTRUCTION = "Please provide a self-contained {lang} script that solves the following problem in a markdown code block:"
RESPONSE = "Below is a {lang} script with a self-contained function that solves the problem and passes corresponding tests:"

LANG_NAMES = {
    "python": "Python",
    "java": "Java",
    "cpp": "C++",
    "c": "C",
    "csharp": "C#",
    "php": "PHP",
    "javascript": "JavaScript",
}
FENCE_TAGS = {
    "python": "python",
    "java": "java",
    "cpp": "cpp",
    "c": "c",
    "csharp": "csharp",
    "php": "php",
    "javascript": "javascript",
}


def chat_prompt(user: str, response_prefix: str) -> str:
    """An instruct prompt: the user turn, :data:`ASSISTANT`, the start of the answer."""
    return f"{user.rstrip()}\n{ASSISTANT}{response_prefix}"


def split_chat_prompt(prompt: str) -> tuple[str, str]:
    """(user turn, answer prefix); a prompt without :data:`ASSISTANT` is all user turn."""
    user, _, prefix = prompt.partition(ASSISTANT)
    return user.rstrip(), prefix


def block(text: str, tag: str = "") -> str:
    """``text`` in a markdown code block."""
    return f"{FENCE}{tag}\n{text.strip()}\n{FENCE}"


def open_block(lang: str) -> str:
    """The opening fence of a ``lang`` code block (an answer prefix ends with it)."""
    return f"{FENCE}{FENCE_TAGS.get(lang, lang)}\n"


def task_prompt(problem: Problem, task: str) -> str:
    """The generic instruct prompt: ``task`` inside a markdown block, an answer opening a code block."""
    name = LANG_NAMES.get(problem.language, problem.language)
    return chat_prompt(
        f"{INSTRUCTION.format(lang=name)}\n{block(task)}",
        f"{RESPONSE.format(lang=name)}\n{open_block(problem.language)}",
    )


def instruct_prompt(problem: Problem) -> str:
    """The instruct prompt of ``problem`` (see the module docstring): a translation's, else its
    dataset's (:class:`execrl.data.conventions.DatasetConventions`), else :func:`task_prompt` on
    its own prompt (HumanEval's signature and docstring, synth's description and one test)."""
    if problem.is_translation:
        lang = problem.language
        name = LANG_NAMES.get(lang, lang)
        src = problem.source_language or "source"
        user = (
            f"Translate the following {LANG_NAMES.get(src, src)} program into {name}. The {name} program must print "
            f"exactly what the original prints.\n{block(problem.source_code or '', FENCE_TAGS.get(src, src))}"
        )
        return chat_prompt(user, f"Below is the {name} program:\n{open_block(lang)}")
    own = conventions_of(problem).instruct_prompt
    return own(problem) if own is not None else task_prompt(problem, problem.prompt)


def apply_prompt_style(problems: list[Problem], style: str) -> list[Problem]:
    """``problems`` with prompts of ``style`` (copies; the dataset's own prompt stays in ``meta``)."""
    if style not in STYLES:
        raise ValueError(f"prompt_style must be one of {STYLES}, got {style!r}")
    if style == "completion":
        return problems
    out = []
    for p in problems:
        meta = {**p.meta, "completion_prompt": p.prompt, "prompt_style": style}
        # one prompt for training too: CodeRL's APPS training format is a completion-model format
        out.append(dataclasses.replace(p, prompt=instruct_prompt(p), train_prompt=None, meta=meta))
    return out


# ------------------------------------------------------------------ the response format
def extract_code(response: str) -> str:
    """The program of a response that started inside a code block: everything before the closing
    fence. A response that opens a block of its own (```python ...) gives that block's body."""
    text = response.lstrip("\n")
    if text.startswith(FENCE):
        m = re.match(r"```[^\n]*\n(.*?)(?:```|\Z)", text, re.S)
        return m.group(1) if m else ""
    return text.split(FENCE, 1)[0]


def fenced_target(program: str) -> str:
    """A ground-truth program as the model should write it after the prompt's opening fence."""
    return program.rstrip("\n") + "\n" + FENCE


def closed(response: str) -> bool:
    """True once a response (started inside a block) has closed its code block."""
    text = response.lstrip("\n")
    return text.count(FENCE) >= (2 if text.startswith(FENCE) else 1)
