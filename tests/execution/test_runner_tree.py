"""The runner tree a sealed jail holds in place of the execrl package (``sandbox.runner_tree``)."""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

from execrl.execution import sandbox


def _nodes(tree: ast.AST):
    """Every node, but not the bodies of ``if TYPE_CHECKING:`` (never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            yield from (n for o in node.orelse for n in [o, *_nodes(o)])
            continue
        yield node
        yield from _nodes(node)


def _execrl_imports(path: Path, package: str) -> set[str]:
    """Every execrl module a file imports, at any depth (deferred imports too)."""
    out: set[str] = set()
    for node in _nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("execrl")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.startswith("execrl"):
                out.add(base)
                out |= {f"{base}.{a.name}" for a in node.names}
    return out


def test_the_runner_modules_import_nothing_else_of_execrl() -> None:
    """What the worker and its children import, deferred imports included, is inside the
    tree: a sealed worker would otherwise fail to start, or fail on the first program that
    takes the path with the missing import."""
    src = Path(sandbox.execrl_dir(), "execrl")
    mods = {
        ".".join(["execrl", *m.removesuffix(".py").split("/")]).removesuffix(".__init__")
        for m in sandbox.RUNNER_MODULES
    }

    def is_module(name: str) -> bool:
        p = src.joinpath(*name.split(".")[1:])
        return p.with_suffix(".py").exists() or (p / "__init__.py").exists()

    for m in sandbox.RUNNER_MODULES:
        pkg = "execrl." + os.path.dirname(m).replace("/", ".") if "/" in m else "execrl"
        for imp in _execrl_imports(src / m, pkg):
            # ``from execrl.execution import harness`` names a module, ``from x import f`` a name
            assert (imp if is_module(imp) else imp.rsplit(".", 1)[0]) in mods, (m, imp)


def test_the_tree_holds_exactly_the_runner_modules_named_by_their_content(
    tmp_path, monkeypatch
) -> None:
    a = sandbox.runner_tree(tmp_path)
    assert a == sandbox.runner_tree(tmp_path)  # the same modules: the same tree, made once
    files = sorted(str(p.relative_to(a / "execrl")) for p in (a / "execrl").rglob("*.py"))
    assert files == sorted(sandbox.RUNNER_MODULES)
    assert {oct(p.stat().st_mode & 0o777) for p in (a / "execrl").rglob("*.py")} == {"0o644"}
    # a checkout with a changed worker gets a tree of its own
    copy = tmp_path / "checkout"
    shutil.copytree(Path(sandbox.execrl_dir(), "execrl"), copy / "execrl")
    (copy / "execrl" / "execution" / "worker.py").write_text("# changed\n")
    monkeypatch.setattr(sandbox, "execrl_dir", lambda: str(copy))
    b = sandbox.runner_tree(tmp_path)
    assert b != a and (b / "execrl/execution/worker.py").read_text() == "# changed\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("runner-")) == sorted(
        [a.name, b.name]
    )
