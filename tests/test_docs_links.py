"""Every relative link in README.md and docs/*.md resolves: the file or folder it names exists, and
an ``#anchor`` is a heading of the page it points into, slugged as GitHub renders it."""

from __future__ import annotations

import re
from pathlib import Path

from helpers.common import ROOT

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
# a run of backticks opens a code span closed by a run of the same length, within its paragraph
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose(text: str) -> str:
    """The markdown without fenced blocks and code spans (same line count: links keep their line)."""
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))  # noqa: E731
    return CODE_SPAN.sub(blank, FENCE.sub(blank, text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text (code marks, emphasis and link syntax
    gone), lower-cased, punctuation but ``-`` and ``_`` dropped, each space a ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*]", "", text).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown page's headings; a repeated slug gets ``-1``, ``-2``, ... ."""
    seen: dict[str, int] = {}
    out = set()
    for m in HEADING.finditer(FENCE.sub("", path.read_text())):
        s = slug(m.group(2))
        out.add(f"{s}-{seen[s]}" if s in seen else s)
        seen[s] = seen.get(s, 0) + 1
    return out


def broken(paths: list[Path], root: Path = ROOT) -> list[str]:
    """``file:line: target (why)`` for every relative link or anchor that does not resolve."""
    bad = []
    for path in paths:
        text = prose(path.read_text())
        for m in LINK.finditer(text):
            target = m.group(1)
            if re.match(r"^[a-zA-Z][\w+.-]*:", target):  # http:, https:, mailto:
                continue
            where = f"{path.relative_to(root)}:{text[: m.start()].count(chr(10)) + 1}: {target}"
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.is_relative_to(root.resolve()) or not dest.exists():
                bad.append(f"{where} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{where} (no heading {anchor!r} in {dest.name})")
    return bad


def test_every_relative_link_and_anchor_resolves() -> None:
    docs = documents()
    assert len(docs) >= 10  # README and the docs/ pages it links to
    assert not broken(docs), "\n".join(broken(docs))


def test_the_checker_finds_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "# A page\n\n## Speed: `rl_step` (2x)\n\n## Speed: `rl_step` (2x)\n"
    )
    (tmp_path / "README.md").write_text(
        "# Top\n\n## The sandbox\n\n"
        "[ok](#the-sandbox) [ok](docs/page.md#speed-rl_step-2x) [ok](docs/page.md#speed-rl_step-2x-1)\n"
        "[ok](docs/) ![ok](docs/page.md) [ok](https://example.com/x#y) `[in code](#nowhere)`\n"
        "[bad anchor](#sandbox) [bad page](docs/nope.md) [bad anchor](docs/page.md#speed)\n"
        "[outside the tree](../../etc/passwd)\n"
        'an unclosed run: "...:\\n```python" is no code span: [bad](#after-backticks)\n'
        "```bash\n[in a block](#nowhere)\n# A heading in a block is no heading\n```\n"
        "[bad](#a-heading-in-a-block-is-no-heading)\n"
    )
    got = broken([tmp_path / "README.md", tmp_path / "docs" / "page.md"], root=tmp_path)
    assert [g.split(": ", 1)[1] for g in got] == [
        "#sandbox (no heading 'sandbox' in README.md)",
        "docs/nope.md (no such file)",
        "docs/page.md#speed (no heading 'speed' in page.md)",
        "../../etc/passwd (no such file)",
        "#after-backticks (no heading 'after-backticks' in README.md)",
        "#a-heading-in-a-block-is-no-heading (no heading 'a-heading-in-a-block-is-no-heading' in README.md)",
    ]
