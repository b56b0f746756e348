"""``synth``: an embedded, seeded task family that a ~1M-parameter model learns on a CPU in minutes.

Programs are integer functions built from a chain of 1-3 primitive operations (add, subtract,
multiply, floor-divide, modulo, square, abs, negate, max/min with a constant), described in
English with two phrasings per operation and several connectors; 30% take a second argument
``y`` (used by one add/sub/mul/max/min step) and 25% branch on parity. The target is one nested
expression with minimal brackets (``max(abs(x - 18), -1)``; branches become a conditional
expression). ``task="synthesis"`` gives MBPP-shaped problems (Python solution, 5 assert tests);
``task="translation"`` gives XLCoST-shaped Java -> C++ pairs judged by running them.

Splits are disjoint by *composition* (the ordered pairs of adjacent operations). Following the
calibration's lesson 2, the RL split is the only source of a skill that held-out needs:

- the 100 ordered pairs split 50/50 into *base* and *novel* pairs (fixed by ``split_seed``);
- ``sft``: programs whose pairs are all base pairs (with solutions);
- ``rl``: two-op chains containing a novel pair, tests only (no solutions): the only place a
  novel pair is seen in training;
- ``heldout``: novel pairs in settings never trained on with them (three-op chains and parity
  branches), so held-out pass@1 rises beyond SFT only if RL on ``rl`` taught the novel pairs;
- ``val``: drawn like ``sft`` (base pairs) but with programs that never occur in ``sft``.

Only ``sft`` is drawn from the public ``seed``. The judged splits (``rl``, ``heldout``, ``val``)
are drawn from the seed *and this install's secret*: a program that copies this generator (or
imports it) cannot rebuild its own problem and return the assert's expected value. The secret
is ``secret=`` when given (``data.reader.secret=...``), else ``$EXECRL_SYNTH_SECRET``, else the
file ``$XDG_CONFIG_HOME/execrl/synth_secret`` (``~/.config``), created on first use with 128
random bits, readable by its owner only. The same install always reads the same splits; to
compare across machines, give them the same secret (copy the file, or set the variable).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execrl.data.conventions import DatasetConventions, register
from execrl.schema.data import SynthReaderConfig
from execrl.schema.overrides import configured
from execrl.vocabulary import Problem, Tests

OPS = ["add", "sub", "mul", "div", "mod", "square", "abs", "neg", "max", "min"]
# Java/C++ ``int`` would overflow on repeated squaring; translation drops ``square``
TRANSLATION_OPS = [o for o in OPS if o != "square"]
PHRASES = {
    "add": ["add {c}", "increase it by {c}"],
    "sub": ["subtract {c}", "decrease it by {c}"],
    "mul": ["multiply it by {c}", "scale it by {c}"],
    "div": ["floor-divide it by {c}", "integer-divide it by {c}"],
    "mod": ["take it modulo {c}", "keep the remainder after dividing by {c}"],
    "square": ["square it", "raise it to the power 2"],
    "abs": ["take the absolute value", "drop its sign"],
    "neg": ["negate it", "flip its sign"],
    "max": ["take the maximum with {c}", "clamp it from below at {c}"],
    "min": ["take the minimum with {c}", "clamp it from above at {c}"],
}
CONNECTORS = [", then ", ", after that ", " and then ", ", next "]
TAKES_Y = ["add", "sub", "mul", "max", "min"]  # never div/mod: y may be 0
SPLITS = ("sft", "rl", "heldout", "val")
SPLIT_SEEDS = {"sft": 1, "rl": 2, "heldout": 3, "val": 4}
PUBLIC_SPLITS = ("sft",)  # the only split drawn from the seed alone (it carries its solutions)
SECRET_ENV = "EXECRL_SYNTH_SECRET"
DATASET = "synth"  # translation problems are "synth_translation": no conventions of their own
# MBPP-shaped: test code a completion goes on with is cut
CONVENTIONS = register(
    DATASET,
    DatasetConventions(
        stop=("\nassert ", "\nif __name__", "\nprint("),
        instruct_stop=("\nif __name__", "\nassert ", "\nprint("),
    ),
)
TWO_ARG_P, COND_P = 0.3, 0.25


@dataclass
class Step:
    op: str
    arg: int | str | None  # a constant, "y", or None for unary ops


def _const(op: str, rng: random.Random) -> int | None:
    if op in ("add", "sub"):
        return rng.randint(1, 20)
    if op in ("mul", "div"):
        return rng.randint(2, 5)
    if op == "mod":
        return rng.randint(2, 9)
    if op in ("max", "min"):
        return rng.randint(-10, 10)
    return None


# ----------------------------------------------------------------------------- rendering
# Expressions carry a precedence so that brackets appear only where needed.
ATOM, POW, UNARY, MUL, ADD = 100, 95, 90, 80, 70
FUNCS = {
    "python": ("abs", "max", "min"),
    "java": ("Math.abs", "Math.max", "Math.min"),
    "cpp": ("abs", "max", "min"),
}


def _wrap(e: tuple[str, int], need: int) -> str:
    return e[0] if e[1] >= need else f"({e[0]})"


def render(steps: list[Step], var: str, lang: str) -> str:
    """The chain applied to ``var`` as one expression in ``python``, ``java`` or ``cpp``."""
    e: tuple[str, int] = (var, ATOM)
    absf, maxf, minf = FUNCS[lang]
    for s in steps:
        a = str(s.arg)
        neg_const = a.startswith("-")
        if s.op in ("add", "sub"):
            # the right operand of + and - needs brackets when it is a negative constant
            e = (
                f"{_wrap(e, ADD)} {'+' if s.op == 'add' else '-'} {f'({a})' if neg_const else a}",
                ADD,
            )
        elif s.op in ("mul", "div", "mod"):
            sym = {"mul": "*", "div": "//" if lang == "python" else "/", "mod": "%"}[s.op]
            e = (f"{_wrap(e, MUL)} {sym} {f'({a})' if neg_const else a}", MUL)
        elif s.op == "square":  # python only (see TRANSLATION_OPS)
            e = (f"{_wrap(e, ATOM)} ** 2", POW)
        elif s.op == "neg":
            # "-x ** 2" is -(x ** 2) in Python, so a power needs no brackets; "--x" would
            e = (f"-{_wrap(e, POW if lang == 'python' else ATOM)}", UNARY)
        elif s.op == "abs":
            e = (f"{absf}({e[0]})", ATOM)
        else:
            e = (f"{maxf if s.op == 'max' else minf}({e[0]}, {a})", ATOM)
    return e[0]


def evaluate(steps: list[Step], x: int, y: int, lang: str) -> int:
    """Reference semantics: Python floors ``//`` and ``%``; Java and C++ truncate toward zero."""
    v = x
    for s in steps:
        a = y if s.arg == "y" else s.arg
        if s.op == "add":
            v = v + a
        elif s.op == "sub":
            v = v - a
        elif s.op == "mul":
            v = v * a
        elif s.op == "div":
            v = v // a if lang == "python" else int(v / a)
        elif s.op == "mod":
            v = v % a if lang == "python" else v - a * int(v / a)
        elif s.op == "square":
            v = v * v
        elif s.op == "abs":
            v = abs(v)
        elif s.op == "neg":
            v = -v
        elif s.op == "max":
            v = max(v, a)
        elif s.op == "min":
            v = min(v, a)
    return v


def describe(steps: list[Step], rng: random.Random) -> str:
    """English for a chain: one of two phrasings per step, joined by random connectors."""
    parts = [rng.choice(PHRASES[s.op]).format(c=s.arg) for s in steps]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice(CONNECTORS) + p
    return out


# ----------------------------------------------------------------------------- programs
@dataclass
class Program:
    branches: list[list[Step]]  # one chain, or [even chain, odd chain]
    two_args: bool

    def pairs(self) -> set[tuple[str, str]]:
        """Ordered pairs of adjacent operations: the unit of composition the splits separate."""
        return {(a.op, b.op) for ch in self.branches for a, b in itertools.pairwise(ch)}

    @property
    def signature(self) -> str:
        """The composition without constants, e.g. ``abs,max`` or ``add|neg,mod|y``."""
        return "|".join(",".join(s.op for s in ch) for ch in self.branches) + (
            "|y" if self.two_args else ""
        )

    @property
    def difficulty(self) -> str:
        return "cond" if len(self.branches) > 1 else f"{len(self.branches[0])}op"

    def value(self, x: int, y: int, lang: str) -> int:
        ch = self.branches[0] if len(self.branches) == 1 or x % 2 == 0 else self.branches[1]
        return evaluate(ch, x, y, lang)

    def expression(self, lang: str) -> str:
        """The whole function body as one expression."""
        if len(self.branches) == 1:
            return render(self.branches[0], "x", lang)
        even, odd = (render(ch, "x", lang) for ch in self.branches)
        if lang == "python":
            return f"{even} if x % 2 == 0 else {odd}"
        return f"x % 2 == 0 ? {even} : {odd}"


def secret_file() -> Path:
    """Where this install keeps its synth secret (outside the project and the sandbox's view)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "execrl" / "synth_secret"


def install_secret() -> str:
    """``$EXECRL_SYNTH_SECRET``, else the contents of :func:`secret_file`, created on first use
    (atomically, so that concurrent first readers agree; mode 0600 in a 0700 directory)."""
    env = os.environ.get(SECRET_ENV, "").strip()
    if env:
        return env
    path = secret_file()
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        try:
            os.link(tmp, path)  # fails if another process made it first: then theirs is read
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return _read_secret(path)
    except OSError as e:
        raise RuntimeError(
            f"synth: cannot create the install secret {path} ({e}); set {SECRET_ENV} or "
            "data.reader.secret to any string (the same one on every machine you compare)"
        ) from e


def _read_secret(path: Path) -> str:
    text = path.read_text().strip()
    if not text:
        raise RuntimeError(
            f"synth: the install secret {path} is empty; delete it to make a new one"
        )
    return text


def split_pairs(ops: list[str], split_seed: int) -> tuple[set, set]:
    """Ordered op pairs split 50/50 into base (SFT) and novel (RL and held-out) pairs."""
    pairs = [(a, b) for a in ops for b in ops]
    random.Random(split_seed).shuffle(pairs)
    half = len(pairs) // 2
    return set(pairs[:half]), set(pairs[half:])


class SynthReader:
    """Generates the ``synth`` problems of a split (``path`` is ignored: nothing is read).

    ``seed`` changes the instances (and, unless ``split_seed`` is given, which pairs are novel);
    ``sizes`` overrides the number of problems per split; ``num_tests`` asserts per problem;
    ``secret`` seeds the judged splits with ``seed`` (None: this install's, see the module
    docstring). Results are cached per reader, so reading a split twice costs nothing.
    """

    def __init__(self, config: SynthReaderConfig | None = None, /, **overrides: Any) -> None:
        self.config = cfg = configured(SynthReaderConfig, config, overrides)
        task, seed, split_seed = cfg.task, cfg.seed, cfg.split_seed
        if task not in ("synthesis", "translation"):
            raise ValueError(f"synth task must be 'synthesis' or 'translation', got {task!r}")
        self.task, self.seed, self.num_tests = task, seed, cfg.num_tests
        self._secret = None if cfg.secret is None else str(cfg.secret)
        # a partial ``sizes`` changes only the splits it names
        self.sizes = {**SynthReaderConfig().sizes, **(dict(cfg.sizes) if cfg.sizes else {})}
        self.ops = OPS if task == "synthesis" else TRANSLATION_OPS
        self.base, self.novel = split_pairs(
            self.ops, 1234 + seed if split_seed is None else split_seed
        )
        self.on_error = cfg.on_error
        self.skipped = 0  # generated data has no malformed records; kept for the reader interface
        self._cache: dict[str, list[Problem]] = {}

    def split_of(self, prog: Program) -> str:
        """Which split a program's composition belongs to: ``sft`` (base pairs only), ``rl`` (a
        two-op chain with a novel pair) or ``heldout`` (a novel pair in a longer chain or a branch)."""
        if not prog.pairs() & self.novel:
            return "sft"
        if len(prog.branches) == 1 and len(prog.branches[0]) == 2:
            return "rl"
        return "heldout"

    def _chain(self, rng: random.Random, n: int) -> list[Step]:
        return [Step(o, _const(o, rng)) for o in (rng.choice(self.ops) for _ in range(n))]

    def _sample_program(self, rng: random.Random, want: str) -> Program:
        if rng.random() < COND_P and want != "rl":
            branches = [self._chain(rng, rng.randint(1, 2)) for _ in range(2)]
        else:
            # rl is two-op chains only; held-out chains are three ops (a two-op chain with a novel
            # pair is an rl composition)
            n = {"rl": 2, "heldout": 3}.get(want) or rng.randint(1, 3)
            branches = [self._chain(rng, n)]
        two = rng.random() < TWO_ARG_P
        if two:
            # y replaces the constant of one step that takes an operand (made to take one if none does)
            steps = [s for ch in branches for s in ch]
            takers = [s for s in steps if s.op in TAKES_Y]
            step = rng.choice(takers) if takers else rng.choice(steps)
            if step.op not in TAKES_Y:
                step.op = rng.choice(TAKES_Y)
            step.arg = "y"
        return Program(branches, two)

    def read(self, path: str | None = None, split: str = "sft") -> list[Problem]:
        """``sft``, ``rl``, ``heldout`` or ``val``; deterministic in (task, seed, split) and, for
        all but ``sft``, the secret."""
        if split not in SPLITS:
            raise ValueError(f"synth split {split!r} unknown; choose one of {list(SPLITS)}")
        if split not in self._cache:
            self._cache[split] = self._generate(split)
        return list(self._cache[split])

    def _rng(self, split: str) -> random.Random:
        """``sft`` from the public seed; the judged splits from the seed and the secret."""
        if split in PUBLIC_SPLITS:
            return random.Random(self.seed * 1000 + SPLIT_SEEDS[split])
        if self._secret is None:
            self._secret = install_secret()  # read once, only when a judged split is drawn
        key = f"{self._secret}\0{self.task}\0{self.seed}\0{split}".encode()
        return random.Random(int.from_bytes(hashlib.sha256(key).digest(), "big"))

    def _generate(self, split: str) -> list[Problem]:
        target = "sft" if split == "val" else split
        rng = self._rng(split)
        # val instances must be programs sft never shows
        avoid = {p.meta["reference"] for p in self.read(None, "sft")} if split == "val" else set()
        build: Callable = self._synthesis if self.task == "synthesis" else self._translation
        out: list[Problem] = []
        seen: set[str] = set()
        n, tries = self.sizes[split], 0
        while len(out) < n:
            tries += 1
            if tries > 200 * n + 1000:
                raise RuntimeError(f"synth: could not draw {n} distinct {split} problems")
            prog = self._sample_program(rng, target)
            if self.split_of(prog) != target:
                continue
            prob = build(prog, rng, f"synth/{self.task}/{split}/{len(out)}", split)
            if prob.prompt in seen or prob.meta["reference"] in avoid:
                continue
            seen.add(prob.prompt)
            out.append(prob)
        return out

    def _inputs(self, prog: Program, rng: random.Random) -> list[tuple[int, int]]:
        xs = rng.sample(range(-30, 31), self.num_tests)
        return [(x, rng.randint(-10, 10)) for x in xs]

    def _text(self, prog: Program, rng: random.Random) -> str:
        sig = "f(x, y)" if prog.two_args else "f(x)"
        takes = "integers x and y" if prog.two_args else "an integer x"
        if len(prog.branches) == 1:
            return f"Write a function {sig} that takes {takes}, {describe(prog.branches[0], rng)}, and returns the result."
        even, odd = (describe(ch, rng) for ch in prog.branches)
        return f"Write a function {sig} that takes {takes}. If x is even, {even}; otherwise {odd}. Return the result."

    def _synthesis(self, prog: Program, rng: random.Random, tid: str, split: str) -> Problem:
        text = self._text(prog, rng)
        args = "x, y" if prog.two_args else "x"
        code = f"def f({args}):\n    return {prog.expression('python')}\n"
        asserts = []
        for x, y in self._inputs(prog, rng):
            call = f"f({x}, {y})" if prog.two_args else f"f({x})"
            asserts.append(f"assert {call} == {prog.value(x, y, 'python')}")
        # MBPP shape: the description, then one test that shows the name and call
        prompt = f"{text}\n{asserts[0]}\n"
        return Problem(
            task_id=tid,
            dataset=DATASET,
            prompt=prompt,
            language="python",
            tests=Tests(style="assert", asserts=asserts),
            solutions=[] if split == "rl" else [code],
            split=split,
            difficulty=prog.difficulty,
            # reference: for tests and analysis only; training must not read it on the rl split
            meta={"signature": prog.signature, "reference": code, "text": text},
        )

    def _translation(self, prog: Program, rng: random.Random, tid: str, split: str) -> Problem:
        params = "int x, int y" if prog.two_args else "int x"
        inputs = self._inputs(prog, rng)
        calls = [f"f({x}, {y})" if prog.two_args else f"f({x})" for x, y in inputs]
        expected = "".join(f"{prog.value(x, y, 'java')}\n" for x, y in inputs)
        java = (
            "public class Main {\n"
            f"    static int f({params}) {{\n        return {prog.expression('java')};\n    }}\n\n"
            "    public static void main(String[] args) {\n"
            + "".join(f"        System.out.println({c});\n" for c in calls)
            + "    }\n}\n"
        )
        cpp = (
            # the three headers it needs, not <bits/stdc++.h>: compiles ~3x faster in the executor
            "#include <algorithm>\n#include <cstdlib>\n#include <iostream>\nusing namespace std;\n\n"
            f"int f({params}) {{\n    return {prog.expression('cpp')};\n}}\n\n"
            "int main() {\n"
            + "".join(f"    cout << {c} << endl;\n" for c in calls)
            + "    return 0;\n}\n"
        )
        return Problem(
            task_id=tid,
            dataset="synth_translation",
            prompt=java,
            language="cpp",
            tests=Tests(style="stdio", inputs=[""], outputs=[expected]),
            # translation RL keeps the parallel reference: PPOCoder's AST/DFG rewards match against it
            solutions=[cpp],
            source_code=java,
            source_language="java",
            split=split,
            difficulty=prog.difficulty,
            meta={"signature": prog.signature, "reference": cpp},
        )
