"""XLCoST program-level translation pairs (Zhu et al. 2022), as PPOCoder uses them.

Layout under ``path``: ``{A}-{B}/{split}-{A}-{B}-tok.{ext}`` (one pre-tokenised program per
line, line i of one language translates line i of the other) and ``{split}-{Lang}-map.jsonl``
(one problem id per line). The directory may be named either way round (``Java-C++`` or
``C++-Java``).

PPOCoder feeds the raw token lines to CodeT5; here prompts and solutions are detokenised code by
default (what a compiler or the executor takes); ``detokenize=False`` keeps the raw lines, and
``meta["source_tok"]``/``meta["target_tok"]`` always hold them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from execrl.data.conventions import (  # program_text, executable_problem: importable from here too
    DatasetConventions,
    executable_problem,  # noqa: F401
    program_text,  # noqa: F401
    register,
)
from execrl.data.reader import Reader
from execrl.schema.data import XLCoSTReaderConfig
from execrl.vocabulary import DataError, Problem, Tests

DIR_NAME = {
    "javascript": "Javascript",
    "java": "Java",
    "c_sharp": "C#",
    "php": "PHP",
    "python": "Python",
    "c": "C",
    "cpp": "C++",
}
EXT = {
    "javascript": "js",
    "java": "java",
    "c_sharp": "cs",
    "php": "php",
    "python": "py",
    "c": "c",
    "cpp": "cpp",
}
QUOTES = ('"', "'")
# markers XLCoST puts inside string and char literals, and the escapes they stand for
LITERAL_MARKERS = {"STRNEWLINE": "\\n", "TABSYMBOL": "\\t", "STRTAB": "\\t"}
C_LIKE = {"cpp", "c", "c_sharp"}


# a literal's opening: an optional prefix (Python f/r/b/u and pairs such as rb, C/C++ L/u/U/u8) and the quote
OPEN = re.compile(r"^(u8|[rRbBuUfFL]{1,2})?([\"'])")


def _literal(tokens: list[str], quote: str) -> str:
    """Re-join the tokens of one string/char literal (``▁`` marks a space; ``NEW_LINE`` glued into a
    literal, as in ``"%dNEW_LINE"``, stands for ``\\n``)."""
    body = (
        "".join(LITERAL_MARKERS.get(t, t) for t in tokens)
        .replace("▁", " ")
        .replace("NEW_LINE", "\\n")
    )
    return quote + body + quote


def _close_at(tok: str, quote: str) -> int:
    """Index of the first unescaped ``quote`` in ``tok``, or -1."""
    i = 0
    while i < len(tok):
        if tok[i] == "\\":
            i += 2
        elif tok[i] == quote:
            return i
        else:
            i += 1
    return -1


def detokenize(line: str, language: str = "cpp") -> str:
    """XLCoST tokens -> source code that compiles: ``NEW_LINE``/``INDENT``/``DEDENT`` become layout,
    string and char literals are re-joined (``▁`` a space, ``STRNEWLINE``/``TABSYMBOL`` escapes,
    quotes glued to a digit as in ``" - 1"`` -> ``"``, ``-``, ``1"``; code glued after the closing
    quote, as in ``"NEW_LINE");``, stays code; prefixed literals such as ``f"``, ``r'``, ``L"``),
    and C-family preprocessor directives (``#define`` ...) start a line of their own."""
    tokens = line.strip().split()
    lines: list[str] = []
    cur: list[str] = []
    indent = 0
    i = 0

    def flush() -> None:
        nonlocal cur
        if cur:
            lines.append("    " * indent + " ".join(cur))
        cur = []

    while i < len(tokens):
        tok = tokens[i]
        opening = OPEN.match(tok)
        if tok == "NEW_LINE":
            flush()
        elif tok == "INDENT":
            indent += 1
        elif tok == "DEDENT":
            indent = max(0, indent - 1)
        elif opening:
            # a literal, maybe spread over tokens: the opening token may carry its first piece, the
            # closing one its last piece and then code (``"NEW_LINE");``)
            prefix, q = opening.group(1) or "", opening.group(2)
            rest, body, j = tok[opening.end() :], [], i
            k = _close_at(rest, q)
            while k < 0 and j + 1 < len(tokens):
                body.append(rest)
                j += 1
                rest = tokens[j]
                k = _close_at(rest, q)
            if k < 0:  # never closed: keep what there is
                body.append(rest)
                rest, k = "", -1
            else:
                body.append(rest[:k])
                rest = rest[k + 1 :]
            cur.append(prefix + _literal(body, q))
            if rest:  # code glued after the closing quote: read it as the next token
                tokens[j] = rest
                i = j
                continue
            i = j
        else:
            if language in C_LIKE and tok[0] == "#" and tok[1:2].isalpha():
                flush()  # a directive only works at the start of a line
            cur.append(tok.replace("▁", " ") if "▁" in tok else tok)
        i += 1
    flush()
    code = "\n".join(lines).strip("\n") + "\n"
    if language == "php" and not code.lstrip().startswith("<?php"):
        code = "<?php\n" + code  # as PPOCoder does: XLCoST's PHP lacks the open tag
    return code


def retokenize(code: str, language: str = "cpp") -> str:
    """Code -> XLCoST-style token text (one line, ``NEW_LINE`` between lines, ``INDENT``/``DEDENT``
    for Python, ``▁`` for spaces inside literals), so CodeBLEU can be computed on the text the
    published XLCoST/PPOCoder figures were computed on."""
    out: list[str] = []
    levels = [0]
    for raw in code.splitlines():
        if not raw.strip():
            continue
        if language == "python":
            width = len(raw) - len(raw.lstrip())
            if width > levels[-1]:
                levels.append(width)
                out.append("INDENT")
            while width < levels[-1]:
                levels.pop()
                out.append("DEDENT")
        line = raw.strip()
        header = re.match(r"#\s*include\s*(<[^>]+>)", line)
        out += ["#include", header.group(1)] if header else _code_tokens(line)
        out.append("NEW_LINE")
    if out and out[-1] == "NEW_LINE":
        out.pop()
    return " ".join(out)


_LITERAL = r"""(?:u8|[rRbBuUfFL]{1,2})?(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')"""
_TOKEN = re.compile(
    _LITERAL + r"|#\w+|\w+|<<=|>>=|::|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|\S"
)


def _code_tokens(line: str) -> list[str]:
    """Split one line into tokens; a literal's inside is split into words and punctuation, with
    ``▁`` for each space and ``STRNEWLINE`` for ``\\n``, as XLCoST writes it."""
    toks = []
    for t in _TOKEN.findall(line):
        q = OPEN.match(t)
        if q and len(t) > len(q.group(0)):
            inner = t[q.end() : -1].replace("\\n", "\0")
            parts = [
                "▁" if c == " " else "STRNEWLINE" if c == "\0" else c
                for c in re.findall(r"\w+|\s|\S", inner)
            ]
            t = " ".join([q.group(0), *parts, t[-1]]) if parts else t
        toks.append(t)
    return toks


# detokenise model outputs and references of problems read as tokens (``detokenize=false``)
DATASET = "xlcost"
CONVENTIONS = register(DATASET, DatasetConventions(detokenize=detokenize))


class XLCoSTReader(Reader):
    """Pairs ``source_lang -> target_lang`` of a split (``train``, ``val``, ``test``).

    Each :class:`Problem` has ``source_code`` (the program to translate, detokenised), ``prompt``
    (the same text: the model input), ``solutions=[reference translation]``, ``language=target``,
    and no unit tests (translations are judged by compiling, by CodeBLEU, and by comparing what
    source and translation print).
    """

    Config = XLCoSTReaderConfig

    def __init__(self, config: XLCoSTReaderConfig | None = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        for lang in (cfg.source_lang, cfg.target_lang):
            if lang not in DIR_NAME:
                raise ValueError(
                    f"XLCoST language {lang!r} unknown; choose from {sorted(DIR_NAME)}"
                )
        self.source_lang, self.target_lang = cfg.source_lang, cfg.target_lang
        self.detok = cfg.detokenize

    def files(self, root: Path, split: str) -> tuple[Path, Path, Path | None]:
        """The two program files and the id map of ``split``. ``root`` holds the pair folder (named
        either way round) or is that folder; PPOCoder's copies add a ``.txt`` suffix, also accepted."""
        a, b = DIR_NAME[self.source_lang], DIR_NAME[self.target_lang]
        for x, y in ((a, b), (b, a)):
            d = root if root.name == f"{x}-{y}" else root / f"{x}-{y}"
            if d.is_dir():
                src = d / f"{split}-{x}-{y}-tok.{EXT[self.source_lang]}"
                tgt = d / f"{split}-{x}-{y}-tok.{EXT[self.target_lang]}"
                src, tgt = (
                    f
                    if f.exists() or not f.with_name(f.name + ".txt").exists()
                    else f.with_name(f.name + ".txt")
                    for f in (src, tgt)
                )
                ids = d / f"{split}-{a}-map.jsonl"
                return src, tgt, ids if ids.exists() else None
        raise DataError(
            str(root),
            None,
            f"no {a}-{b} (or {b}-{a}) folder: expected {root}/{a}-{b}/{split}-{a}-{b}-tok.{EXT[self.source_lang]}",
        )

    def read(self, path: str | None, split: str) -> list[Problem]:
        root = self.require(path, "the XLCoST pair folder root (holding e.g. Java-C++/)")
        src_f, tgt_f, map_f = self.files(root, split)
        for f in (src_f, tgt_f):
            if not f.exists():
                raise DataError(
                    str(f),
                    None,
                    f"missing XLCoST file of split {split!r} (expected this path; data.path={root})",
                )
        src_lines = src_f.read_text().splitlines()
        tgt_lines = tgt_f.read_text().splitlines()
        if len(src_lines) != len(tgt_lines):
            raise DataError(
                str(tgt_f),
                None,
                f"{len(tgt_lines)} lines but {src_f.name} has {len(src_lines)}: files are not line-aligned",
            )
        ids = map_f.read_text().split() if map_f else [str(i) for i in range(len(src_lines))]
        out = []
        for i, (s, t) in enumerate(zip(src_lines, tgt_lines)):
            if not s.strip() or not t.strip():
                self.bad_record(src_f if not s.strip() else tgt_f, i + 1, "empty program line")
                continue
            src = detokenize(s, self.source_lang) if self.detok else s
            tgt = detokenize(t, self.target_lang) if self.detok else t
            pid = ids[i] if i < len(ids) else str(i)
            out.append(
                Problem(
                    task_id=f"xlcost/{self.source_lang}-{self.target_lang}/{split}/{i}",
                    dataset=DATASET,
                    prompt=src,
                    language=self.target_lang,
                    tests=Tests(style="none"),
                    solutions=[tgt],
                    source_code=src,
                    source_language=self.source_lang,
                    split=split,
                    # the raw token lines are PPOCoder's model input/target format
                    meta={
                        "problem_id": pid,
                        "line": i + 1,
                        "source_tok": s.strip(),
                        "target_tok": t.strip(),
                        "tokenized": not self.detok,
                    },
                )
            )
        return out
