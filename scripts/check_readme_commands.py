"""Check that the commands in README.md (and docs/*.md) run as written.

Every command is taken from the markdown (```bash blocks, and inline `python ...` code spans) and
checked the cheapest way that can fail on a typo:

- ``python train.py|generate.py|evaluate.py ...``: its config is composed with Hydra and resolved,
  as ``--cfg job`` would, so an unknown group option, a misspelled key or ``+`` on a key that
  exists (``+experiment=...``: "Multiple values") fails; ``-m`` sweeps compose their first value.
  With ``--run``, the commands listed in ``CHEAP`` are also run verbatim (a temporary working dir,
  and ``hydra.run.dir`` / ``hydra.sweep.dir`` added only where the command sets none).
- ``python bench|scripts/*.py --flags``: every ``--flag`` must appear in the script's ``--help``.
- ``make <target>``: ``make -n <target>`` (the target exists; nothing runs).
- ``jupyter execute ...``: run verbatim with ``--run``.
- anything else (``wandb sync``, ``pre-commit``, shell assignments) is listed, not checked.

A command holding a placeholder where a config group option goes (``algo=<rl algo>``) is a
template: listed, not composed. Other placeholders (``<run dir>``, ``/path/...``) are values and
compose as they are.

    python scripts/check_readme_commands.py            # compose-only: about a minute
    python scripts/check_readme_commands.py --run      # also the cheap commands (minutes)

Exit status 1 when a check fails; every command is reported."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
ENTRY_POINTS = {"train.py": "train", "generate.py": "generate", "evaluate.py": "evaluate"}
PLACEHOLDER = "PLACEHOLDER"

# Commands run verbatim with --run (normalised: one space between words): each takes seconds to a
# few minutes on 2 cores. Everything else is composed only (trains for minutes to hours, needs a
# GPU, a cluster, a checkpoint from an earlier command or files we do not ship).
CHEAP = {
    "python evaluate.py data=mbpp samples=reference",
    "python evaluate.py data=mbpp samples=reference split=all",
    "python train.py data=mbpp model=tiny_causal algo=sft trainer.max_steps=20",
    "python train.py -m hydra/launcher=local algo=sft trainer.max_steps=2 optimizer.lr=1e-3,2e-3",
}
# an inline span that chooses a config group's option (`+experiment=...`, `debug=fdr`): composed
# with the entry point that has the group (``...``: its first option)
GROUP_CHOICE = re.compile(r"^[+~]?(\w+)=([\w.]+|\.\.\.)$")
# inline spans that show a fragment of a command, not a command: checked as part of the command
# they belong to, where the README gives it whole
NOT_COMMANDS = re.compile(r"^python (train|generate|evaluate)\.py$")


@dataclass
class Command:
    text: str  # as written, continuation lines joined
    where: str  # file:line
    kind: str = ""
    status: str = ""  # ok | FAIL | template | not checked
    detail: str = ""
    seconds: float = 0.0
    argv: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------- extraction
def extract(path: Path) -> list[Command]:
    """Shell commands of a markdown file: lines of ```bash blocks (``\\`` continuations joined,
    comments dropped) and inline code spans that start with ``python`` / ``.venv/bin/python``."""
    text = path.read_text()
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    out: list[Command] = []
    fence = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
    for m in fence.finditer(text):
        if m.group(1) not in ("bash", "sh", "shell", "console"):
            continue
        first = text[: m.start(2)].count("\n") + 1
        pending, start = "", first
        for i, line in enumerate(m.group(2).split("\n")):
            if not pending:
                start = first + i
            stripped = _strip_comment(line).rstrip()
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            cmd = " ".join((pending + stripped).split())
            pending = ""
            if cmd:
                out.append(Command(cmd, f"{rel}:{start}"))
    prose = fence.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", prose):
        span = " ".join(m.group(1).split())
        where = f"{rel}:{prose[: m.start()].count(chr(10)) + 1}"
        if re.match(r"^(\.venv/bin/)?python [\w./-]+\.py\b", span) and not NOT_COMMANDS.match(span):
            out.append(Command(span, where))
        elif GROUP_CHOICE.match(span) and (ROOT / "conf" / GROUP_CHOICE.match(span)[1]).is_dir():
            out.append(Command(span, where, kind="override"))
    return out


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (a ``#`` inside quotes or a word is kept)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def normalise(cmd: str) -> str:
    return " ".join(cmd.replace(".venv/bin/python", "python").split())


def words(cmd: str) -> tuple[list[str], dict[str, str]]:
    """The command's words with ``<placeholders>`` made one word, and its leading ``VAR=value``
    assignments."""
    cmd = re.sub(r"<[^<>]*>", PLACEHOLDER, cmd)
    argv = shlex.split(cmd)
    env = {}
    while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
        key, _, value = argv.pop(0).partition("=")
        env[key] = value
    return argv, env


# ---------------------------------------------------------------------------------- checks
def check_entry_point(c: Command, argv: list[str]) -> None:
    """Compose and resolve the entry point's config with the command's overrides."""
    from omegaconf import OmegaConf

    from execrl.utils.config import compose

    script = Path(argv[1]).name
    overrides = [a for a in argv[2:] if a != "..."]
    flags = [a for a in overrides if a.startswith("-")]
    overrides = [a for a in overrides if not a.startswith("-")]
    if any(f not in ("-m", "--multirun") for f in flags):
        c.status, c.detail = "not checked", f"flags {flags}"
        return
    groups = {p.name for p in (ROOT / "conf").iterdir() if p.is_dir()}
    variables = [o for o in overrides if re.fullmatch(r"\$\{?\w+\}?", o)]
    if variables:  # e.g. a wandb sweep agent's ${args_no_hyphens}
        c.status, c.detail = "template", f"the overrides are a shell variable: {variables[0]}"
        return
    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if PLACEHOLDER in value and (key.split("@")[0] in groups or "/" in key):
            c.status, c.detail = "template", f"a placeholder chooses a config option: {o}"
            return
    overrides = first_of_sweeps(overrides) if flags else overrides
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(ENTRY_POINTS[script], overrides, output_dir=tmp)
        body = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        OmegaConf.to_container(body, resolve=True, throw_on_missing=True)
    c.status = "ok"
    c.detail = "composed" + (" (sweep: first values)" if flags else "")


def first_of_sweeps(overrides: list[str]) -> list[str]:
    """A multirun's overrides with every sweep (``a=1,2``, ``range(...)``) at its first value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out = []
    for o, parsed in zip(overrides, OverridesParser.create().parse_overrides(overrides)):
        if parsed.is_sweep_override():
            first = next(iter(parsed.sweep_string_iterator()))
            key = o.split("=", 1)[0]
            out.append(f"{key}={first}")
        else:
            out.append(o)
    return out


def check_group_choice(c: Command) -> None:
    """An option choice as the README writes it composes with an entry point that has the group."""
    from execrl.utils.config import compose

    m = GROUP_CHOICE.match(c.text)
    group, option = m[1], m[2]
    if option == "...":
        option = sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))[0]
    override = c.text.split("=", 1)[0] + "=" + option
    # the entry point whose defaults list has the group (sampling: generate.py), else train.py
    config = next(
        (
            name
            for name in ENTRY_POINTS.values()
            if re.search(rf"^\s*- {group}\s*:", (ROOT / "conf" / f"{name}.yaml").read_text(), re.M)
        ),
        "train",
    )
    extra = ["samples=x"] if config == "evaluate" else []
    with tempfile.TemporaryDirectory() as tmp:
        compose(config, [override, *extra], output_dir=tmp)
    c.status, c.detail = "ok", f"composed with {config}.yaml as {override}"


def check_script_flags(c: Command, argv: list[str]) -> None:
    """Every ``--flag`` of the command appears in the script's ``--help``."""
    script = ROOT / argv[1]
    if not script.exists():
        c.status, c.detail = "FAIL", f"{argv[1]} does not exist"
        return
    flags = sorted({a.split("=")[0] for a in argv[2:] if a.startswith("--")})
    if not flags:
        c.status, c.detail = "ok", "script exists (no flags)"
        return
    r = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=_env(),
    )
    known = set(re.findall(r"--[\w-]+", r.stdout))
    unknown = [f for f in flags if f not in known]
    if r.returncode != 0 or unknown:
        c.status = "FAIL"
        c.detail = f"unknown flags {unknown}" if unknown else r.stderr[-500:]
    else:
        c.status, c.detail = "ok", f"flags in --help: {' '.join(flags)}"


def check_make(c: Command, argv: list[str]) -> None:
    r = subprocess.run(["make", "-n", *argv[1:]], capture_output=True, text=True, cwd=ROOT)
    c.status = "ok" if r.returncode == 0 else "FAIL"
    c.detail = "make -n" if r.returncode == 0 else r.stderr.strip()[-300:]


def run_verbatim(c: Command, argv: list[str], workdir: Path, env: dict[str, str]) -> None:
    """Run the command as written, in ``workdir`` (its relative run dirs land there), with the
    project's scripts by absolute path and a run dir added where the command names none."""
    argv = list(argv)
    made = set((ROOT / "notebooks").glob("*_executed.ipynb"))
    if argv[0] == "python" or argv[0].endswith("/python"):
        argv[0] = sys.executable
    if len(argv) > 1 and (ROOT / argv[1]).exists():
        argv[1] = str(ROOT / argv[1])
    if argv[0] == "jupyter" or argv[0].endswith("/jupyter"):
        argv[0] = str(Path(sys.executable).parent / "jupyter")
        argv = [a if not (ROOT / a).is_file() else str(ROOT / a) for a in argv]
    elif Path(argv[1]).name in ENTRY_POINTS and not any(
        a.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for a in argv
    ):
        n = len(list(workdir.iterdir()))
        key = "hydra.sweep.dir" if "-m" in argv else "hydra.run.dir"
        argv.append(f"{key}={workdir / f'run{n}'}")
    t0 = time.perf_counter()
    r = subprocess.run(
        argv, capture_output=True, text=True, cwd=workdir, env={**_env(), **env}, timeout=1800
    )
    c.seconds = time.perf_counter() - t0
    for nb in set((ROOT / "notebooks").glob("*_executed.ipynb")) - made:
        nb.unlink()  # jupyter execute writes beside the notebook: leave the tree as it was
    c.status = "ok" if r.returncode == 0 else "FAIL"
    c.detail = f"ran ({c.seconds:.0f} s)" if r.returncode == 0 else (r.stderr or r.stdout)[-1500:]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("WANDB_MODE", "offline")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).strip(
        os.pathsep
    )
    return env


def check(c: Command, run: bool, workdir: Path | None) -> Command:
    try:
        argv, env = words(c.text)
    except ValueError as e:
        c.kind, c.status, c.detail = "shell", "FAIL", f"cannot split: {e}"
        return c
    c.argv = argv
    if c.kind == "override":
        try:
            check_group_choice(c)
        except Exception as e:
            c.status, c.detail = "FAIL", f"{type(e).__name__}: {e}"
        return c
    head = Path(argv[0]).name if argv else ""
    script = argv[1] if len(argv) > 1 else ""
    try:
        if head == "python" and Path(script).name in ENTRY_POINTS and "/" not in script:
            c.kind = "entry point"
            if run and normalise(c.text) in CHEAP and workdir is not None:
                check_entry_point(c, argv)  # fails fast on a typo before minutes of running
                run_verbatim(c, argv, workdir, env)
            else:
                check_entry_point(c, argv)
        elif head == "python" and script.startswith(("bench/", "scripts/")):
            c.kind = "script"
            check_script_flags(c, argv)
        elif head == "make":
            c.kind = "make"
            check_make(c, argv)
        elif head == "jupyter":
            c.kind = "notebook"
            if run and workdir is not None:
                run_verbatim(c, argv, workdir, env)
            else:
                c.status, c.detail = "not checked", "runs with --run"
        else:
            c.kind, c.status, c.detail = "shell", "not checked", ""
    except Exception as e:  # the check's verdict, reported with the command
        c.status, c.detail = "FAIL", f"{type(e).__name__}: {e}"[-1500:]
    return c


def documents() -> list[Path]:
    """README.md and every page under docs/ (globbed, so a new page is checked without a list to
    update)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def check_all(paths: list[Path] | None = None, run: bool = False) -> list[Command]:
    """Every command of ``paths`` (default: ``documents()``), checked; duplicates once."""
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    seen: dict[str, Command] = {}
    cmds = [c for p in (paths or documents()) for c in extract(p)]
    with tempfile.TemporaryDirectory(prefix="readme_commands_") as tmp:
        for c in cmds:
            key = normalise(c.text)
            if key in seen:
                prev = seen[key]
                c.kind, c.status, c.detail = prev.kind, prev.status, f"same as {prev.where}"
                continue
            seen[key] = check(c, run, Path(tmp))
    return cmds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="also run the cheap commands (CHEAP)")
    ap.add_argument("files", nargs="*", help="markdown files (default: README.md, docs/*.md)")
    args = ap.parse_args()
    cmds = check_all([Path(f).resolve() for f in args.files] or None, run=args.run)
    for c in cmds:
        ran = f"   [ran {c.seconds:.0f} s]" if c.seconds else ""
        print(f"{c.status:12} {c.kind:12} {c.where:22} {c.text}{ran}")
        if c.status == "FAIL":
            print("             " + c.detail.replace("\n", "\n             "))
    counts: dict[str, int] = {}
    for c in cmds:
        counts[c.status] = counts.get(c.status, 0) + 1
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return 1 if counts.get("FAIL") else 0


if __name__ == "__main__":
    sys.exit(main())
