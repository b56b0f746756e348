"""Every command in README.md and docs/ runs as written (scripts/check_readme_commands.py): the fast
test composes every entry point's config; the slow one also runs the cheap commands verbatim."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from helpers.common import ROOT


def _checker():
    spec = importlib.util.spec_from_file_location(
        "check_readme_commands", ROOT / "scripts" / "check_readme_commands.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _failures(cmds) -> list[str]:
    return [f"{c.where}: {c.text}\n{c.detail}" for c in cmds if c.status == "FAIL"]


def test_every_readme_command_composes():
    cmds = _checker().check_all(run=False)
    assert not _failures(cmds), "\n\n".join(_failures(cmds))
    kinds = {c.kind for c in cmds}
    assert {"entry point", "script", "make", "override"} <= kinds
    # the commands of the README's own sections are among them
    texts = {c.text for c in cmds}
    assert "python evaluate.py data=mbpp samples=reference split=all" in texts
    assert "python train.py algo=ppo" in texts and "debug=fdr" in texts
    # and every docs/ page's: the pages the README links to, not a list kept by hand
    pages = {c.where.split(":")[0] for c in cmds}
    assert {"docs/performance.md", "docs/real_models.md", "docs/learning.md"} <= pages
    assert "python bench/rl_throughput.py" in texts  # docs/performance.md's


def test_the_checker_catches_what_used_to_be_wrong(tmp_path):
    """The README's config table gave ``+experiment=...`` and ``+debug=fdr`` (both fail with
    "Multiple values"); a typo in an option or a key, or an unknown bench flag, fails too."""
    doc = tmp_path / "doc.md"
    doc.write_text(
        "| `experiment`, `debug` | `+experiment=...`, `+debug=fdr`, `+sweep=seeds` |\n\n"
        "```bash\n"
        "python train.py algo=ppoo             # a typo in an option\n"
        "python generate.py sampling.nn=3\n"
        "python evaluate.py data=mbpp samples=reference lmit=3\n"
        "python train.py -m hydra/launcher=local optimizer.lr=1e-3,2e-3 trainer.max_steps=2\n"
        "python bench/learning.py --seeds 0 --no-such-flag\n"
        "python train.py ${args_no_hyphens}\n"
        "```\n"
        "and inline: `python train.py algo=<rl algo>`, `python generate.py limit=2 subset=1`\n"
    )
    got = {c.text: c.status for c in _checker().check_all([doc])}
    assert got == {
        "+experiment=...": "FAIL",
        "+debug=fdr": "FAIL",
        "+sweep=seeds": "ok",
        "python train.py algo=ppoo": "FAIL",
        "python generate.py sampling.nn=3": "FAIL",
        "python evaluate.py data=mbpp samples=reference lmit=3": "FAIL",
        "python train.py -m hydra/launcher=local optimizer.lr=1e-3,2e-3 trainer.max_steps=2": "ok",
        "python bench/learning.py --seeds 0 --no-such-flag": "FAIL",
        "python train.py ${args_no_hyphens}": "template",
        "python train.py algo=<rl algo>": "template",
        "python generate.py limit=2 subset=1": "ok",
    }


@pytest.mark.slow
def test_cheap_readme_commands_run_as_written():
    cmds = _checker().check_all(run=True)
    assert not _failures(cmds), "\n\n".join(_failures(cmds))
    ran = [c for c in cmds if c.detail.startswith("ran")]
    assert len(ran) >= 5  # CHEAP and the notebook
