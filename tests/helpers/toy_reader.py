"""A dataset that exists only in the tests: its reader and conventions are all it brings (no table
anywhere names it), so sampling, prompting and judging using them proves readers supply them."""

from __future__ import annotations

from execrl.data.conventions import DatasetConventions, register
from execrl.data.prompting import chat_prompt
from execrl.data.reader import Reader
from execrl.vocabulary import Problem, Tests

DATASET = "toy_lines"


def toy_instruct_prompt(problem: Problem) -> str:
    return chat_prompt(f"TOY TASK: {problem.prompt}", "TOY ANSWER:\n")


def toy_detokenize(text: str, language: str) -> str:
    """Token text with ``NL`` between lines."""
    return "\n".join(line.strip() for line in text.split(" NL ")) + "\n"


CONVENTIONS = register(
    DATASET,
    DatasetConventions(
        stop=("\nEND",),
        instruct_stop=("\nSTOP",),
        instruct_prompt=toy_instruct_prompt,
        detokenize=toy_detokenize,
    ),
)


class ToyReader(Reader):
    """``path``: lines ``prompt|reference tokens|expected stdout``, read as tokens."""

    def read(self, path: str | None, split: str) -> list[Problem]:
        p = self.require(path, "a toy file")
        out = []
        for i, line in enumerate(p.read_text().splitlines()):
            prompt, ref, expected = line.split("|")
            out.append(
                Problem(
                    task_id=f"toy/{i}",
                    dataset=DATASET,
                    prompt=prompt,
                    tests=Tests(style="stdio", inputs=[""], outputs=[expected + "\n"]),
                    solutions=[ref],
                    split=split,
                    meta={"tokenized": True},
                )
            )
        return out
