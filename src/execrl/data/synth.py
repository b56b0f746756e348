"""``synth``: an embedded, seeded task family that a ~1M-parameter model learns on a CPU in minutes.

Programs are integer functions built from a chain of primitive operations (add, subtract,
multiply, floor-divide, modulo, square, abs, negate, max/min with a constant), described in
English with two phrasings per operation and several connectors; 30% take two arguments and
25% branch on parity. ``task="synthesis"`` gives MBPP-shaped problems (Python solution, 5 assert
tests); ``task="translation"`` gives XLCoST-shaped Java -> C++ pairs judged by running them.

Splits are disjoint by *composition* (the ordered pairs of adjacent operations):

- the 100 ordered pairs split 50/50 into *base* and *novel* pairs (fixed by ``split_seed``);
- ``sft``: programs whose pairs are all base pairs (with solutions);
- ``rl``: two-op chains with a novel pair, tests only (no solutions): the only place a novel
  pair is seen in training;
- ``heldout``: novel pairs in settings never trained on (three-op chains, parity branches),
  so held-out pass@1 rises only if RL on ``rl`` taught the novel compositions;
- ``val``: drawn like ``heldout`` with other seeds and constants (for validation curves).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from execrl.data.problem import Problem, Tests

OPS = ["add", "sub", "mul", "div", "mod", "square", "abs", "neg", "max", "min"]
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
CONNECTORS = [", then ", ", after that ", " and then "]
TAKES_Y = {"add", "sub", "mul", "max", "min"}
DEFAULT_SIZES = {"sft": 20000, "rl": 2000, "heldout": 1000, "val": 200}
SPLIT_SEEDS = {"sft": 1, "rl": 2, "heldout": 3, "val": 4}


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


def _wrap(e: tuple[str, int], need: int) -> str:
    return e[0] if e[1] >= need else f"({e[0]})"


def render(steps: list[Step], var: str, lang: str) -> str:
    """The chain applied to ``var`` as one expression in ``python``, ``java`` or ``cpp``."""
    e: tuple[str, int] = (var, ATOM)
    div = "//" if lang == "python" else "/"
    absf, maxf, minf = {"python": ("abs", "max", "min"), "java": ("Math.abs", "Math.max", "Math.min"), "cpp": ("abs", "max", "min")}[lang]
    for s in steps:
        a = str(s.arg)
        if s.op in ("add", "sub"):
            e = (f"{_wrap(e, ADD)} {'+' if s.op == 'add' else '-'} {_wrap((a, ATOM if not a.startswith('-') else UNARY), MUL)}", ADD)
        elif s.op in ("mul", "div", "mod"):
            sym = {"mul": "*", "div": div, "mod": "%"}[s.op]
            e = (f"{_wrap(e, MUL)} {sym} {a if not a.startswith('-') else '(' + a + ')'}", MUL)
        elif s.op == "square":
            e = (f"{_wrap(e, ATOM)} ** 2", POW)
        elif s.op == "neg":
            e = (f"-{_wrap(e, ATOM if e[1] == UNARY else UNARY + 1)}", UNARY)
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
        return {(a.op, b.op) for ch in self.branches for a, b in zip(ch, ch[1:])}

    @property
    def signature(self) -> str:
        return "|".join(",".join(s.op for s in ch) for ch in self.branches) + ("|y" if self.two_args else "")

    def value(self, x: int, y: int, lang: str) -> int:
        ch = self.branches[0] if len(self.branches) == 1 or x % 2 == 0 else self.branches[1]
        return evaluate(ch, x, y, lang)


def split_pairs(ops: list[str], split_seed: int) -> tuple[set, set]:
    """Ordered op pairs split 50/50 into base (SFT) and novel (RL/held-out) pairs."""
    pairs = [(a, b) for a in ops for b in ops]
    random.Random(split_seed).shuffle(pairs)
    half = len(pairs) // 2
    return set(pairs[:half]), set(pairs[half:])


class SynthReader:
    """Generates the ``synth`` problems of a split (``path`` is ignored: nothing is read)."""

    def __init__(self, task: str = "synthesis", seed: int = 0, split_seed: int = 1234, sizes: dict | None = None, num_tests: int = 5, on_error: str = "raise") -> None:
        if task not in ("synthesis", "translation"):
            raise ValueError(f"synth task must be 'synthesis' or 'translation', got {task!r}")
        self.task, self.seed, self.num_tests = task, seed, num_tests
        self.sizes = {**DEFAULT_SIZES, **(sizes or {})}
        self.ops = OPS if task == "synthesis" else TRANSLATION_OPS
        self.base, self.novel = split_pairs(self.ops, split_seed)
        self.skipped = 0

    # which split a sampled program belongs to (None: discard)
    def _split_of(self, prog: Program) -> str | None:
        pairs = prog.pairs()
        novel = pairs & self.novel
        if not novel:
            return "sft"
        n_ops = sum(len(ch) for ch in prog.branches)
        if len(prog.branches) == 1 and n_ops == 2:
            return "rl"
        return "heldout"

    def _sample_program(self, rng: random.Random, want: str) -> Program:
        cond = rng.random() < 0.25
        if cond:
            branches = [self._chain(rng, rng.randint(1, 2)) for _ in range(2)]
        else:
            length = 2 if want == "rl" else (3 if want in ("heldout", "val") and rng.random() < 0.8 else rng.randint(1, 3))
            branches = [self._chain(rng, length)]
        two = rng.random() < 0.3 and branches[0][0].op in TAKES_Y
        if two:
            branches[0][0].arg = "y"
        return Program(branches, two)

    def _chain(self, rng: random.Random, n: int) -> list[Step]:
        ops = [rng.choice(self.ops) for _ in range(n)]
        return [Step(o, _const(o, rng)) for o in ops]

    def read(self, path: str | None, split: str) -> list[Problem]:
        """``sft``, ``rl``, ``heldout`` or ``val``; deterministic in (seed, split)."""
        if split not in DEFAULT_SIZES:
            raise ValueError(f"synth split {split!r} unknown; choose one of {sorted(DEFAULT_SIZES)}")
        target = "heldout" if split == "val" else split
        rng = random.Random(self.seed * 1000 + SPLIT_SEEDS[split])
        # val must not repeat a heldout instance: remember heldout texts
        avoid = {p.prompt for p in self.read(path, "heldout")} if split == "val" else set()
        out: list[Problem] = []
        seen: set[str] = set()
        build: Callable = self._synthesis if self.task == "synthesis" else self._translation
        tries = 0
        while len(out) < self.sizes[split]:
            tries += 1
            if tries > 200 * self.sizes[split]:
                raise RuntimeError(f"synth: could not draw {self.sizes[split]} distinct {split} problems")
            prog = self._sample_program(rng, target)
            if self._split_of(prog) != target:
                continue
            prob = build(prog, rng, f"synth/{self.task}/{split}/{len(out)}", split)
            if prob is None or prob.prompt in seen or prob.prompt in avoid:
                continue
            seen.add(prob.prompt)
            out.append(prob)
        return out

    def _inputs(self, prog: Program, rng: random.Random) -> list[tuple[int, int]]:
        xs = rng.sample(range(-30, 31), self.num_tests)
        return [(x, rng.randint(-10, 10)) for x in xs]

    def _synthesis(self, prog: Program, rng: random.Random, tid: str, split: str) -> Problem:
        sig = "f(x, y)" if prog.two_args else "f(x)"
        args = "x, y" if prog.two_args else "x"
        takes = "integers x and y" if prog.two_args else "an integer x"
        if len(prog.branches) == 1:
            text = f"Write a function {sig} that takes {takes}, {describe(prog.branches[0], rng)}, and returns the result."
            body = f"    return {render(prog.branches[0], 'x', 'python')}\n"
        else:
            even, odd = (describe(ch, rng) for ch in prog.branches)
            text = f"Write a function {sig} that takes {takes}. If x is even, {even}; otherwise {odd}. Return the result."
            body = (f"    if x % 2 == 0:\n        return {render(prog.branches[0], 'x', 'python')}\n"
                    f"    return {render(prog.branches[1], 'x', 'python')}\n")
        code = f"def f({args}):\n{body}"
        asserts = []
        for x, y in self._inputs(prog, rng):
            call = f"f({x}, {y})" if prog.two_args else f"f({x})"
            asserts.append(f"assert {call} == {prog.value(x, y, 'python')}")
        prompt = f"{text}\n{asserts[0]}\n"
        return Problem(
            task_id=tid, dataset="synth", prompt=prompt, language="python",
            tests=Tests(style="assert", asserts=asserts), solutions=[code] if split == "sft" else [],
            split=split, meta={"signature": prog.signature, "reference": code},
        )

    def _translation(self, prog: Program, rng: random.Random, tid: str, split: str) -> Problem:
        params = {"java": "int x, int y" if prog.two_args else "int x", "cpp": "int x, int y" if prog.two_args else "int x"}
        inputs = self._inputs(prog, rng)
        calls = [f"f({x}, {y})" if prog.two_args else f"f({x})" for x, y in inputs]
        expected = "".join(f"{prog.value(x, y, 'java')}\n" for x, y in inputs)

        def body(lang: str, ind: str) -> str:
            if len(prog.branches) == 1:
                return f"{ind}return {render(prog.branches[0], 'x', lang)};\n"
            return (f"{ind}if (x % 2 == 0) {{\n{ind}    return {render(prog.branches[0], 'x', lang)};\n{ind}}}\n"
                    f"{ind}return {render(prog.branches[1], 'x', lang)};\n")

        java = ("public class Main {\n    static int f(" + params["java"] + ") {\n" + body("java", "        ") + "    }\n"
                "    public static void main(String[] args) {\n"
                + "".join(f"        System.out.println({c});\n" for c in calls) + "    }\n}\n")
        cpp = ("#include <bits/stdc++.h>\nusing namespace std;\n\nint f(" + params["cpp"] + ") {\n" + body("cpp", "    ") + "}\n\n"
               "int main() {\n" + "".join(f"    cout << {c} << endl;\n" for c in calls) + "    return 0;\n}\n")
        return Problem(
            task_id=tid, dataset="synth_translation", prompt=java, language="cpp",
            tests=Tests(style="stdio", inputs=[""], outputs=[expected]),
            solutions=[cpp] if split == "sft" else [], source_code=java, source_language="java",
            split=split, meta={"signature": prog.signature, "reference": cpp},
        )
