"""XLCoST program-level translation pairs (Zhu et al. 2022), as PPOCoder uses them.

Layout under ``path``: ``{A}-{B}/{split}-{A}-{B}-tok.{ext}`` (one pre-tokenised program per
line, line i of one language translates line i of the other) and ``{split}-{Lang}-map.jsonl``
(one problem id per line). The directory may be named either way round (``Java-C++`` or
``C++-Java``).
"""

from __future__ import annotations

from pathlib import Path

from execrl.data.problem import DataError, Problem, Tests
from execrl.data.reader import Reader

DIR_NAME = {"javascript": "Javascript", "java": "Java", "c_sharp": "C#", "php": "PHP", "python": "Python", "c": "C", "cpp": "C++"}
EXT = {"javascript": "js", "java": "java", "c_sharp": "cs", "php": "php", "python": "py", "c": "c", "cpp": "cpp"}
QUOTES = ('"', "'")


def detokenize(line: str, language: str = "cpp") -> str:
    """XLCoST tokens -> source code: ``NEW_LINE``/``INDENT``/``DEDENT`` become layout, string and
    char literals are re-joined (``▁`` is a space inside them, ``STRNEWLINE`` a ``\\n`` escape)."""
    tokens = line.strip().split()
    lines: list[str] = []
    cur: list[str] = []
    indent = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "NEW_LINE":
            lines.append("    " * indent + " ".join(cur))
            cur = []
        elif tok == "INDENT":
            indent += 1
        elif tok == "DEDENT":
            indent = max(0, indent - 1)
        elif tok in QUOTES:
            j = i + 1
            while j < len(tokens) and tokens[j] != tok:
                j += 1
            body = "".join(tokens[i + 1 : j]).replace("▁", " ").replace("STRNEWLINE", "\\n")
            cur.append(tok + body + tok)
            i = j
        else:
            cur.append(tok.replace("▁", " ") if "▁" in tok else tok)
        i += 1
    if cur:
        lines.append("    " * indent + " ".join(cur))
    return "\n".join(lines).strip("\n") + "\n"


class XLCoSTReader(Reader):
    """Pairs ``source_lang -> target_lang`` of a split (``train``, ``val``, ``test``).

    Each :class:`Problem` has ``source_code`` (the program to translate, detokenised), ``prompt``
    (the same text: the model input), ``solutions=[reference translation]``, ``language=target``,
    and no unit tests (translations are judged by compiling, by CodeBLEU, and by comparing what
    source and translation print).
    """

    def __init__(self, source_lang: str = "java", target_lang: str = "cpp", on_error: str = "raise", detokenize: bool = True) -> None:
        super().__init__(on_error)
        for lang in (source_lang, target_lang):
            if lang not in DIR_NAME:
                raise ValueError(f"XLCoST language {lang!r} unknown; choose from {sorted(DIR_NAME)}")
        self.source_lang, self.target_lang, self.detok = source_lang, target_lang, detokenize

    def files(self, root: Path, split: str) -> tuple[Path, Path, Path | None]:
        """The two program files and the id map of ``split`` (either directory order)."""
        a, b = DIR_NAME[self.source_lang], DIR_NAME[self.target_lang]
        for x, y in ((a, b), (b, a)):
            d = root / f"{x}-{y}"
            if d.is_dir():
                src = d / f"{split}-{x}-{y}-tok.{EXT[self.source_lang]}"
                tgt = d / f"{split}-{x}-{y}-tok.{EXT[self.target_lang]}"
                ids = d / f"{split}-{a}-map.jsonl"
                return src, tgt, ids if ids.exists() else None
        raise DataError(str(root), None, f"no {a}-{b} (or {b}-{a}) folder: expected {root}/{a}-{b}/{split}-{a}-{b}-tok.{EXT[self.source_lang]}")

    def read(self, path: str | None, split: str) -> list[Problem]:
        root = self.require(path, "the XLCoST pair folder root (holding e.g. Java-C++/)")
        src_f, tgt_f, map_f = self.files(root, split)
        for f in (src_f, tgt_f):
            if not f.exists():
                raise DataError(str(f), None, f"missing XLCoST file for split {split!r} (the shipped snapshot lacks the Java side of train)")
        src_lines = src_f.read_text().splitlines()
        tgt_lines = tgt_f.read_text().splitlines()
        if len(src_lines) != len(tgt_lines):
            raise DataError(str(tgt_f), None, f"{len(tgt_lines)} lines but {src_f.name} has {len(src_lines)}: files are not line-aligned")
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
                    dataset="xlcost",
                    prompt=src,
                    language=self.target_lang,
                    tests=Tests(style="none"),
                    solutions=[tgt],
                    source_code=src,
                    source_language=self.source_lang,
                    split=split,
                    meta={"problem_id": pid, "line": i + 1},
                )
            )
        return out
