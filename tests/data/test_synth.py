"""The embedded synth family: seeded, split by composition, every reference program correct."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from execrl.data.synth import SPLIT_SEEDS, SynthReader
from execrl.execution import ExecRequest

from helpers.common import requires_java_cpp
from helpers.naive_harness import check_rejected, with_canary

SMALL = {"sft": 2000, "rl": 2000, "heldout": 300, "val": 100}


def pairs(sig: str) -> set[tuple[str, str]]:
    """Adjacent op pairs of a signature such as ``add,neg|mod|y``."""
    chains = [ch.split(",") for ch in sig.split("|") if ch != "y"]
    return {(a, b) for ch in chains for a, b in itertools.pairwise(ch)}


@pytest.fixture(scope="module")
def small() -> SynthReader:
    return SynthReader(sizes=SMALL)


def test_seeded_and_sized() -> None:
    a, b, c = SynthReader(sizes=SMALL), SynthReader(sizes=SMALL), SynthReader(seed=1, sizes=SMALL)
    for split, n in SMALL.items():
        pa = a.read(None, split)
        assert len(pa) == n and len({p.prompt for p in pa}) == n
        assert [p.prompt for p in pa] == [p.prompt for p in b.read(None, split)]
        assert [p.tests.asserts for p in pa] == [p.tests.asserts for p in b.read(None, split)]
    assert [p.prompt for p in a.read(None, "sft")] != [p.prompt for p in c.read(None, "sft")]


def test_default_sizes_are_fast() -> None:
    t = time.perf_counter()
    r = SynthReader()
    sizes = {s: len(r.read(None, s)) for s in ("sft", "rl", "heldout", "val")}
    elapsed = time.perf_counter() - t
    assert sizes == {"sft": 20000, "rl": 2000, "heldout": 1000, "val": 200}
    assert elapsed < 10, f"generating every split took {elapsed:.1f}s (about 2 s unloaded)"


def test_splits_are_disjoint_by_composition(small: SynthReader) -> None:
    sigs = {
        s: {p.meta["signature"] for p in small.read(None, s)}
        for s in ("sft", "rl", "heldout", "val")
    }
    assert (
        not sigs["sft"] & sigs["rl"]
        and not sigs["sft"] & sigs["heldout"]
        and not sigs["rl"] & sigs["heldout"]
    )
    # sft and val never contain a novel op pair; rl and heldout always do
    assert all(not pairs(s) & small.novel for s in sigs["sft"] | sigs["val"])
    assert all(pairs(s) & small.novel for s in sigs["rl"] | sigs["heldout"])
    # every novel pair held-out needs is taught by the rl split, and only there (lesson 2)
    rl_pairs = set().union(*(pairs(s) & small.novel for s in sigs["rl"]))
    held_pairs = set().union(*(pairs(s) & small.novel for s in sigs["heldout"]))
    assert held_pairs <= rl_pairs and len(rl_pairs) == len(small.novel) == 50
    # held-out settings are new: rl is two-op chains only, held-out is longer chains or branches
    assert {p.difficulty for p in small.read(None, "rl")} == {"2op"}
    assert {p.difficulty for p in small.read(None, "heldout")} == {"3op", "cond"}


def test_family_mix_matches_the_calibration(small: SynthReader) -> None:
    sft = small.read(None, "sft")
    two_arg = sum("|y" in p.meta["signature"] for p in sft) / len(sft)
    cond = sum(p.difficulty == "cond" for p in sft) / len(sft)
    assert 0.25 < two_arg < 0.35 and 0.18 < cond < 0.32, (two_arg, cond)
    assert {p.difficulty for p in sft} == {"1op", "2op", "3op", "cond"}
    assert all(len(p.tests.asserts) == 5 and p.tests.style == "assert" for p in sft)
    # both phrasings of an op occur, and the prompt shows the name and call shape
    texts = " ".join(p.meta["text"] for p in sft)
    assert "negate it" in texts and "flip its sign" in texts
    assert all(p.prompt.splitlines()[-1] == p.tests.asserts[0] for p in sft[:50])


def test_solutions_only_outside_rl_and_val_is_new(small: SynthReader) -> None:
    assert all(
        len(p.solutions) == 1 for s in ("sft", "heldout", "val") for p in small.read(None, s)
    )
    assert not any(p.solutions for p in small.read(None, "rl"))
    full = SynthReader(sizes={**SMALL, "sft": 20000})
    full_sft, val = full.read(None, "sft"), full.read(None, "val")
    assert not {p.meta["reference"] for p in val} & {p.meta["reference"] for p in full_sft}


def test_reference_programs_pass_their_asserts(small: SynthReader, tmp_path: Path) -> None:
    # trusted generated code, run in a subprocess all the same
    probs = [p for s in ("sft", "rl", "heldout", "val") for p in small.read(None, s)]
    script = "".join(
        f"def _t{i}():\n"
        + "".join("    " + line + "\n" for line in p.meta["reference"].splitlines())
        + "".join(f"    {a}\n" for a in p.tests.asserts)
        + f"_t{i}()\n"
        for i, p in enumerate(probs)
    )
    f = tmp_path / "check.py"
    f.write_text(script)
    out = subprocess.run([sys.executable, str(f)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    # the asserts discriminate: an off-by-one program fails
    one = next(p for p in probs if p.difficulty != "cond")
    bad = one.meta["reference"].replace("return", "return 1 +", 1) + "".join(
        f"{a}\n" for a in one.tests.asserts
    )
    assert subprocess.run([sys.executable, "-c", bad], capture_output=True).returncode != 0


@requires_java_cpp
def test_translation_pairs_agree(tmp_path: Path) -> None:
    r = SynthReader(task="translation", sizes={"sft": 2, "rl": 1, "heldout": 2, "val": 1})
    probs = r.read(None, "sft") + r.read(None, "heldout")
    assert all(
        p.solutions for p in r.read(None, "rl")
    )  # unlike synthesis: AST/DFG rewards need the reference
    assert all(
        p.language == "cpp" and p.source_language == "java" and p.prompt == p.source_code
        for p in probs
    )
    assert {p.difficulty for p in r.read(None, "heldout")} <= {"3op", "cond"}
    for i, p in enumerate(probs):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "Main.java").write_text(p.source_code)
        (d / "a.cpp").write_text(p.solutions[0])
        subprocess.run(["g++", "-o", str(d / "a"), str(d / "a.cpp")], check=True)
        # java 11+ runs a single source file directly (one JVM start per program)
        java = subprocess.run(
            ["java", str(d / "Main.java")], capture_output=True, text=True, check=True
        ).stdout
        cpp = subprocess.run([str(d / "a")], capture_output=True, text=True, check=True).stdout
        assert java == cpp == p.tests.outputs[0] and p.tests.inputs == [""]


def test_unknown_split_and_task() -> None:
    with pytest.raises(ValueError, match="heldout"):
        SynthReader().read(None, "test")
    with pytest.raises(ValueError, match="synthesis"):
        SynthReader(task="poetry")


# ----------------------------------------------------------------------------- the judged splits are secret
def test_judged_splits_follow_the_secret_and_sft_does_not() -> None:
    a, b = SynthReader(sizes=SMALL, secret="one"), SynthReader(sizes=SMALL, secret="two")
    assert [p.prompt for p in a.read(None, "sft")] == [p.prompt for p in b.read(None, "sft")]
    for split in ("rl", "heldout", "val"):
        pa, pb = a.read(None, split), b.read(None, split)
        assert [p.prompt for p in pa] != [p.prompt for p in pb], split
        again = SynthReader(sizes=SMALL, secret="one").read(None, split)
        assert [p.tests.asserts for p in again] == [p.tests.asserts for p in pa]  # reproducible


def test_install_secret_is_made_once_private_and_env_wins(tmp_path, monkeypatch) -> None:
    import stat

    from execrl.data import synth

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv(synth.SECRET_ENV, raising=False)
    path = tmp_path / "execrl" / "synth_secret"
    assert synth.secret_file() == path and not path.exists()
    first = synth.install_secret()
    assert path.read_text().strip() == first and len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert synth.install_secret() == first  # the same install reads the same splits
    assert [p.prompt for p in SynthReader(sizes=SMALL).read(None, "rl")] == [
        p.prompt for p in SynthReader(sizes=SMALL, secret=first).read(None, "rl")
    ]
    monkeypatch.setenv(synth.SECRET_ENV, "pinned")
    assert synth.install_secret() == "pinned"
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


# A program that imports the synth generator (or carries a copy of it), regenerates the split
# from the public seed, finds its own problem by the text of its prompt (which the model sees)
# and returns what the reference solution computes. ``_Public`` is the generator as it was
# before issue 28: every split drawn from the seed alone.
REGENERATE = """import os
@CANARY@
import random
from execrl.data.synth import SPLIT_SEEDS, SynthReader

class _Public(SynthReader):
    def _rng(self, split):
        return random.Random(self.seed * 1000 + SPLIT_SEEDS[split])

_ns = {}
for _p in _Public(sizes=SIZES).read(None, SPLIT):
    if _p.meta["text"] == TEXT:
        exec(_p.meta["reference"], _ns)

def f(*args):
    return _ns["f"](*args) if "f" in _ns else None
"""


def _regenerating_program(p, split: str) -> str:
    head = f"SIZES = {SMALL!r}\nSPLIT = {split!r}\nTEXT = {p.meta['text']!r}\n"
    return head + with_canary("synth_regenerate", REGENERATE)


def _plain_python_passes(program: str, asserts: list[str]) -> bool:
    """The program and its asserts in one plain interpreter that can import this checkout."""
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"), "PATH": "/usr/bin:/bin"}
    script = program + "\n" + "\n".join(asserts) + "\n"
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert "CANARY:synth_regenerate" in r.stderr, r.stderr[-2000:]
    return r.returncode == 0


@pytest.mark.parametrize("split", ["heldout", "rl"])
def test_a_program_cannot_regenerate_its_own_problem(executor, split) -> None:
    class _Public(SynthReader):  # the canary's problems: drawn as before issue 28
        def _rng(self, s):
            return random.Random(self.seed * 1000 + SPLIT_SEEDS[s])

    old = _Public(sizes=SMALL).read(None, split)[:3]
    new = SynthReader(sizes=SMALL, secret="not-the-public-seed").read(None, split)[:3]
    # the attack is real: against the fixed seed it passes every problem, with no solution of its own
    assert all(_plain_python_passes(_regenerating_program(p, split), p.tests.asserts) for p in old)
    # against the secret seed it finds nothing, under plain Python and in the sandbox
    assert not any(
        _plain_python_passes(_regenerating_program(p, split), p.tests.asserts) for p in new
    )
    results = executor.run(
        [ExecRequest(program=_regenerating_program(p, split), tests=p.tests) for p in new]
    )
    for r in results:
        check_rejected("synth_regenerate", r)
