"""The embedded synth family: seeded, split by composition, every reference program correct."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import requires_java_cpp
from execrl.data.synth import SynthReader

SMALL = {"sft": 400, "rl": 100, "heldout": 100, "val": 20}


def test_seeded_and_sized() -> None:
    a, b, c = SynthReader(sizes=SMALL), SynthReader(sizes=SMALL), SynthReader(seed=1, sizes=SMALL)
    for split, n in SMALL.items():
        pa = a.read(None, split)
        assert len(pa) == n and len({p.prompt for p in pa}) == n
        assert [p.prompt for p in pa] == [p.prompt for p in b.read(None, split)]
    assert [p.prompt for p in a.read(None, "sft")] != [p.prompt for p in c.read(None, "sft")]


def test_splits_are_disjoint_by_composition() -> None:
    r = SynthReader(sizes=SMALL)
    sigs = {s: {p.meta["signature"] for p in r.read(None, s)} for s in ("sft", "rl", "heldout")}
    assert not sigs["sft"] & sigs["rl"] and not sigs["sft"] & sigs["heldout"] and not sigs["rl"] & sigs["heldout"]
    # sft never contains a novel op pair; rl and heldout always do
    def pairs(sig: str) -> set:
        return {(a, b) for ch in sig.split("|") if ch != "y" for a, b in zip(ch.split(","), ch.split(",")[1:])}

    assert all(not pairs(s) & r.novel for s in sigs["sft"])
    assert all(pairs(s) & r.novel for s in sigs["rl"] | sigs["heldout"])
    # the novel pairs held-out needs are all taught by the rl split
    rl_pairs = set().union(*(pairs(s) & r.novel for s in sigs["rl"]))
    held_pairs = set().union(*(pairs(s) & r.novel for s in sigs["heldout"]))
    assert len(held_pairs - rl_pairs) <= len(held_pairs) // 4


def test_only_sft_has_solutions_and_val_avoids_heldout() -> None:
    r = SynthReader(sizes=SMALL)
    assert all(p.solutions for p in r.read(None, "sft"))
    assert not any(p.solutions for p in r.read(None, "rl") + r.read(None, "heldout"))
    assert not {p.prompt for p in r.read(None, "val")} & {p.prompt for p in r.read(None, "heldout")}


def test_reference_programs_pass_their_asserts(tmp_path: Path) -> None:
    # trusted generated code, run in a subprocess all the same
    r = SynthReader(sizes=SMALL)
    probs = [p for s in ("sft", "rl", "heldout") for p in r.read(None, s)]
    script = "".join(f"def _t{i}():\n" + "".join("    " + line + "\n" for line in p.meta["reference"].splitlines())
                     + "".join(f"    {a}\n" for a in p.tests.asserts) + f"_t{i}()\n" for i, p in enumerate(probs))
    f = tmp_path / "check.py"
    f.write_text(script)
    out = subprocess.run(["python3", str(f)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    bad = probs[0].meta["reference"].replace("return", "return 1 +", 1) + "".join(f"{a}\n" for a in probs[0].tests.asserts)
    assert subprocess.run(["python3", "-c", bad], capture_output=True).returncode != 0


@requires_java_cpp
def test_translation_pairs_agree(tmp_path: Path) -> None:
    probs = SynthReader(task="translation", sizes={"sft": 4, "rl": 1, "heldout": 2, "val": 1}).read(None, "sft")
    for i, p in enumerate(probs):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "Main.java").write_text(p.source_code)
        (d / "a.cpp").write_text(p.meta["reference"])
        subprocess.run(["javac", "-d", str(d), str(d / "Main.java")], check=True)
        subprocess.run(["g++", "-o", str(d / "a"), str(d / "a.cpp")], check=True)
        java = subprocess.run(["java", "-cp", str(d), "Main"], capture_output=True, text=True, check=True).stdout
        cpp = subprocess.run([str(d / "a")], capture_output=True, text=True, check=True).stdout
        assert java == cpp == p.tests.outputs[0]


def test_unknown_split_and_task() -> None:
    with pytest.raises(ValueError, match="heldout"):
        SynthReader().read(None, "test")
    with pytest.raises(ValueError, match="synthesis"):
        SynthReader(task="poetry")
