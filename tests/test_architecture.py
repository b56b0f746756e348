"""Imports run one way: a layer imports only the layers below it (README, "Architecture").

Every ``import``/``from ... import`` of an execrl module anywhere in ``src/execrl`` counts, those
inside functions too: a deferred import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers.common import ROOT

# bottom to top; packages on one line are peers and may not import each other
LAYERS = [
    ("schema",),  # typed configs: dataclasses only (no torch), stored before any composition
    ("vocabulary", "utils"),  # the words every layer shares; generic helpers
    ("execution", "data"),  # the sandbox (knows no dataset); datasets -> Problems
    ("judging", "models"),  # problem + program -> requests and verdicts; the LMs
    ("rewards", "metrics"),
    ("rollout",),  # sample and judge
    ("algos",),  # LightningModules, CodeRL's namespace included
    ("tasks",),  # pipelines: train, warm start, generate, evaluate
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def package_of(module: str) -> str:
    """``execrl.algos.coderl.module`` -> ``algos``; the root package counts as the bottom layer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "vocabulary"


def imported_modules(path: Path, module: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level if path.name != "__init__.py" else None]
                if path.name == "__init__.py" and node.level > 1:
                    base = base[: -(node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m == "execrl" or m.startswith("execrl.")}


def violations(src: Path) -> list[str]:
    """Every import of a layer at or above the importer's own (same package excepted)."""
    bad = []
    for path in sorted((src / "execrl").rglob("*.py")):
        module = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        pkg = package_of(module)
        if pkg not in RANK:
            bad.append(f"{module}: package {pkg!r} is in no layer (add it to LAYERS)")
            continue
        for dep in sorted(imported_modules(path, module)):
            dep_pkg = package_of(dep)
            if dep_pkg != pkg and RANK.get(dep_pkg, len(LAYERS)) >= RANK[pkg]:
                bad.append(f"{module} imports {dep} ({pkg} -> {dep_pkg})")
    return bad


def test_imports_run_one_way() -> None:
    bad = violations(ROOT / "src")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_the_check_catches_an_upward_import(tmp_path) -> None:
    """The canary: a sandbox module that reaches for a reward is reported, a deferred import too."""
    pkg = tmp_path / "execrl"
    for d in ("execution", "rewards"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "execution" / "worker.py").write_text(
        "def f():\n    from execrl.rewards.unit_test import UnitTestReward\n"
    )
    (pkg / "rewards" / "unit_test.py").write_text("from ..execution import worker\n")
    assert violations(tmp_path) == [
        "execrl.execution.worker imports execrl.rewards.unit_test (execution -> rewards)"
    ]


def datamodule_reads(src: Path) -> list[str]:
    """Algorithms that reach into the datamodule (``<anything>.datamodule``): what a module
    trains on is served to it (``fit_problem_needs``, ``train_dataset``), never pulled."""
    bad = []
    for path in sorted((src / "execrl" / "algos").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr == "datamodule") or (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "getattr"
                and any(getattr(a, "value", None) == "datamodule" for a in node.args)
            ):
                bad.append(f"{path.relative_to(src)}:{node.lineno}")
    return sorted(bad)


def test_algorithms_are_served_their_data() -> None:
    bad = datamodule_reads(ROOT / "src")
    assert not bad, "algorithms reading the datamodule:\n" + "\n".join(bad)


def test_the_datamodule_check_catches_a_pull(tmp_path) -> None:
    """The canary: both spellings of the pull the previous tree used are reported."""
    algos = tmp_path / "execrl" / "algos"
    algos.mkdir(parents=True)
    (algos / "pulls.py").write_text(
        "def a(self):\n    return self.trainer.datamodule.problems('train')\n"
        "def b(self):\n    return getattr(self.trainer, 'datamodule', None)\n"
    )
    assert datamodule_reads(tmp_path) == ["execrl/algos/pulls.py:2", "execrl/algos/pulls.py:4"]
