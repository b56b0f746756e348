"""CodeRL's reindentation of ground-truth programs (``data.reindent_tabs``).

CodeRL trains on APPS solutions reindented to tabs (``datasets/utils.py`` ``reindent_code``, which
runs ``datasets/reindent.py`` with ``tabs=True``): the indent unit is the leading whitespace of the
first indented line, and each line's whole multiples of it become one tab per level. This is that
transform line for line, so the actor, the CE anchor and the critic score the tokens upstream's do.
"""

from __future__ import annotations

import io


def reindent_tabs(code: str) -> str:
    """``code`` reindented as CodeRL's ``reindent_code`` does (every line ends in a newline)."""
    out = io.StringIO()
    indent: str | None = None  # the unit, from the first indented line that is not blank
    for line in io.StringIO(code):  # readline: splits at "\n" only, as upstream's loop
        line = line.rstrip("\r\n")
        if indent is None:
            if not (line and line[0] in " \t" and not line.isspace()):
                print(line, file=out)
                continue
            width = len(line) - len(line.lstrip(" \t"))
            # upstream counts spaces and tabs alike, and the unit is of the first character's kind
            indent = ("\t" if line[0] == "\t" else " ") * width
        level = 0
        while line[: len(indent) * (level + 1)] == indent * (level + 1):
            level += 1
        print("\t" * level + line[len(indent) * level :], file=out)
    return out.getvalue()
