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

from execrl.vocabulary import Problem

STYLES = ("completion", "instruct")
ASSISTANT = "<|assistant|>"  # separates the user turn from the assistant's answer prefix
FENCE = "```"
INSTRUCTION = "Please provide a self-contained {lang} script that solves the following problem in a markdown code block:"
RESPONSE = "Below is a {lang} script with a self-contained function that solves the problem and passes corresponding tests:"

LANG_NAMES = {"python": "Python", "java": "Java", "cpp": "C++", "c": "C", "csharp": "C#", "php": "PHP", "javascript": "JavaScript"}
FENCE_TAGS = {"python": "python", "java": "java", "cpp": "cpp", "c": "c", "csharp": "csharp", "php": "php", "javascript": "javascript"}


def chat_prompt(user: str, response_prefix: str) -> str:
    """An instruct prompt: the user turn, :data:`ASSISTANT`, the start of the answer."""
    return f"{user.rstrip()}\n{ASSISTANT}{response_prefix}"


def split_chat_prompt(prompt: str) -> tuple[str, str]:
    """(user turn, answer prefix); a prompt without :data:`ASSISTANT` is all user turn."""
    user, _, prefix = prompt.partition(ASSISTANT)
    return user.rstrip(), prefix


def _block(text: str, tag: str = "") -> str:
    return f"{FENCE}{tag}\n{text.strip()}\n{FENCE}"


def _open(lang: str) -> str:
    return f"{FENCE}{FENCE_TAGS.get(lang, lang)}\n"


def mbpp_instruction(text: str, first_test: str) -> str:
    """evalplus' MBPP task: the description and the first test inside a docstring."""
    return f'"""\n{text.strip()}\n{first_test.strip()}\n"""'


def _apps_question(prompt: str) -> str:
    """The question of CodeRL's APPS prompt (``\\nQUESTION:\\n...\\nUse ... format\\nANSWER:\\n``)."""
    q = prompt.split("QUESTION:\n", 1)[-1]
    q = re.sub(r"\n(?:Use Call-Based format|Use Standard Input format)?\s*\nANSWER:\n?\s*$", "", q)
    return q.strip()


def instruct_prompt(problem: Problem) -> str:
    """The instruct prompt of ``problem`` (see the module docstring), per dataset."""
    lang = problem.language
    name = LANG_NAMES.get(lang, lang)
    ds = problem.dataset
    if problem.is_translation:
        src = problem.source_language or "source"
        user = (f"Translate the following {LANG_NAMES.get(src, src)} program into {name}. The {name} program must print "
                f"exactly what the original prints.\n{_block(problem.source_code or '', FENCE_TAGS.get(src, src))}")
        return chat_prompt(user, f"Below is the {name} program:\n{_open(lang)}")
    if ds.startswith("mbpp") and problem.tests.asserts:
        task = mbpp_instruction(problem.meta.get("text") or problem.prompt, problem.tests.asserts[0])
    elif ds == "apps":
        task = _apps_question(problem.prompt)
        if problem.starter_code and problem.starter_code.strip():
            task += f"\nComplete this starter code:\n{problem.starter_code.strip()}"
        if problem.tests.style == "stdio":
            user = (f"{INSTRUCTION.format(lang=name)}\n{_block(task)}\nThe script reads its input from standard input "
                    "and prints the answer to standard output.")
            return chat_prompt(user, f"Below is a {name} script that solves the problem:\n{_open(lang)}")
    else:  # HumanEval (signature + docstring), synth (description + one test), others: the prompt
        task = problem.prompt
    return chat_prompt(f"{INSTRUCTION.format(lang=name)}\n{_block(task)}", f"{RESPONSE.format(lang=name)}\n{_open(lang)}")


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
