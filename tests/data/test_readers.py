"""The real readers on the shipped MBPP, APPS and XLCoST data, and their handling of bad input."""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import pytest

from execrl.data.apps import APPSReader, read_example_tests
from execrl.data.mbpp import MBPPReader
from execrl.data.xlcost import XLCoSTReader, detokenize
from execrl.vocabulary import DataError

from helpers.common import ROOT, requires_java_cpp

DATA = ROOT / "data"
MBPP = DATA / "mbpp" / "mbpp.jsonl"
SANITIZED = DATA / "mbpp" / "sanitized-mbpp.json"
APPS = DATA / "apps"


def _lines(path: Path) -> int:
    return sum(1 for line in open(path) if line.strip())


# ----------------------------------------------------------------------------- MBPP
def test_mbpp_standard_splits_cover_the_file() -> None:
    r = MBPPReader()
    sizes = {s: len(r.read(str(MBPP), s)) for s in ("prompt", "test", "validation", "train", "all")}
    assert sizes == {"prompt": 10, "test": 500, "validation": 90, "train": 374, "all": _lines(MBPP)}
    ids = {int(p.task_id.split("/")[1]) for p in r.read(str(MBPP), "validation")}
    assert min(ids) == 511 and max(ids) == 600


def test_mbpp_prompt_is_the_austin_format() -> None:
    p = MBPPReader().read(str(MBPP), "test")[0]
    row = next(
        json.loads(line)
        for line in MBPP.read_text().splitlines()
        if json.loads(line)["task_id"] == 11
    )
    assert p.task_id == "mbpp/11" and p.dataset == "mbpp" and p.language == "python"
    assert p.prompt == (
        f"You are an expert Python programmer, and here is your task: {row['text']} "
        "Your code should pass these tests:\n\n" + "\n".join(row["test_list"]) + "\n[BEGIN]\n"
    )
    assert p.tests.style == "assert" and p.tests.asserts == row["test_list"] and len(p.tests) == 3
    assert p.solutions == [row["code"].replace("\r\n", "\n")]


def test_mbpp_setup_code_is_honoured() -> None:
    rows = [json.loads(line) for line in MBPP.read_text().splitlines()]
    with_setup = [r for r in rows if r["test_setup_code"].strip()]
    assert with_setup, "the shipped MBPP has rows with test_setup_code"
    probs = {p.task_id: p for p in MBPPReader().read(str(MBPP), "all")}
    for r in with_setup:
        assert probs[f"mbpp/{r['task_id']}"].tests.setup_code == r["test_setup_code"].strip()


def test_mbpp_entry_points_that_shadow_builtins_reach_the_example_tests() -> None:
    from execrl.judging.requests import example_tests

    p = {p.task_id: p for p in MBPPReader().read(str(MBPP), "all")}["mbpp/126"]
    assert p.tests.entry_points == ["sum"]  # its tests call the program's sum, not the builtin
    assert example_tests(p).entry_points == ["sum"]


def test_mbpp_sanitized_reads_prompt_and_imports() -> None:
    rows = json.loads(SANITIZED.read_text())
    probs = MBPPReader().read(str(SANITIZED), "all")
    assert len(probs) == len(rows)
    by_id = {p.task_id: p for p in probs}
    row = next(r for r in rows if r["test_imports"])
    p = by_id[f"mbpp/{row['task_id']}"]
    assert row["prompt"] in p.prompt and p.tests.setup_code == "\n".join(row["test_imports"])
    # the sanitized subset keeps the standard split ranges
    assert len(MBPPReader().read(str(SANITIZED), "test")) == sum(
        11 <= r["task_id"] <= 510 for r in rows
    )


def test_mbpp_malformed_rows_raise_or_are_counted(tmp_path: Path) -> None:
    good = json.loads(MBPP.read_text().splitlines()[0])
    f = tmp_path / "mbpp.jsonl"
    rows = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "task_id": 2, "test_list": []}),
        json.dumps({"task_id": 3}),
    ]
    f.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"mbpp.jsonl \(record line 2\): bad JSON"):
        MBPPReader().read(str(f), "all")
    f.write_text("\n".join(rows[:1] + rows[2:]) + "\n")
    with pytest.raises(DataError, match=r"mbpp.jsonl \(record task_id 2\): empty .*test_list"):
        MBPPReader().read(str(f), "all")
    f.write_text("\n".join(rows[:1] + rows[3:]) + "\n")
    with pytest.raises(DataError, match=r"mbpp.jsonl \(record line 2\): missing .*'code'"):
        MBPPReader().read(str(f), "all")
    f.write_text("\n".join(rows) + "\n")
    r = MBPPReader(on_error="skip")
    assert [p.task_id for p in r.read(str(f), "all")] == [
        f"mbpp/{good['task_id']}"
    ] and r.skipped == 3


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.jsonl.*data\.path"):
        MBPPReader().read(str(tmp_path / "nope.jsonl"), "test")
    with pytest.raises(DataError, match=r"data\.path"):
        MBPPReader().read(None, "test")
    with pytest.raises(ValueError, match="validation"):
        MBPPReader().read(str(MBPP), "dev")


# ----------------------------------------------------------------------------- APPS
def test_apps_folders_both_prompt_formats() -> None:
    probs = {p.task_id.split("/")[-1]: p for p in APPSReader().read(str(APPS), "train")}
    assert sorted(probs) == sorted(d.name for d in (APPS / "train").iterdir())
    stdin, call = probs["0001"], probs["2404"]
    q = (APPS / "train" / "0001" / "question.txt").read_text()
    assert stdin.train_prompt == f"\nQUESTION:\n{q}\n\n\nUse Standard Input format\n\nANSWER:\n"
    assert stdin.prompt == f"\nQUESTION:\n{q}\nUse Standard Input format\nANSWER:\n"
    starter = (APPS / "train" / "2404" / "starter_code.py").read_text()
    q2 = (APPS / "train" / "2404" / "question.txt").read_text()
    assert call.prompt == f"\nQUESTION:\n{q2}\n{starter}\nUse Call-Based format\nANSWER:\n"
    assert (
        call.train_prompt == f"\nQUESTION:\n{q2}\n{starter}\n\nUse Call-Based format\n\nANSWER:\n"
    )
    assert call.tests.style == "call" and call.tests.fn_name == "findKthPositive"
    assert stdin.tests.style == "stdio" and stdin.difficulty == "interview"
    assert probs["2287"].difficulty == "competition" and len(probs["2287"].tests) == 3
    for pid, p in probs.items():
        io = json.loads((APPS / "train" / pid / "input_output.json").read_text())
        assert p.tests.inputs == io["inputs"] and p.tests.outputs == io["outputs"]
        assert p.solutions == json.loads((APPS / "train" / pid / "solutions.json").read_text())


def _hf_rows() -> list[dict]:
    rows = []
    for d in sorted((APPS / "train").iterdir()):
        starter = (d / "starter_code.py").read_text() if (d / "starter_code.py").exists() else ""
        rows.append(
            {
                "problem_id": int(d.name),
                "question": (d / "question.txt").read_text(),
                "solutions": (d / "solutions.json").read_text(),
                "input_output": (d / "input_output.json").read_text(),
                "difficulty": json.loads((d / "metadata.json").read_text())["difficulty"],
                "url": "",
                "starter_code": starter,
            }
        )
    return rows


def _key(p):
    return (p.task_id, p.prompt, p.train_prompt, p.tests, p.solutions, p.difficulty)


def test_apps_hf_rows_match_folders(tmp_path: Path) -> None:
    f = tmp_path / "apps.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in _hf_rows()))
    from_dirs = [_key(p) for p in APPSReader().read(str(APPS), "train")]
    assert [_key(p) for p in APPSReader().read(str(f), "train")] == from_dirs
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame(_hf_rows()).to_parquet(tmp_path / "apps.parquet")
    assert [
        _key(p) for p in APPSReader().read(str(tmp_path / "apps.parquet"), "train")
    ] == from_dirs


def test_apps_example_tests_are_found_for_the_test_split(tmp_path: Path) -> None:
    ex = read_example_tests(APPS / "test_example_tests")
    assert len(ex) == 5000 and sum(v is None for v in ex.values()) == 63
    d = tmp_path / "test" / "0000"
    d.mkdir(parents=True)
    (d / "question.txt").write_text("Print the sum.")
    (d / "input_output.json").write_text(json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]}))
    probs = APPSReader(example_tests_dir=str(APPS / "test_example_tests")).read(
        str(tmp_path), "test"
    )
    assert (
        probs[0].example_tests.inputs == ex["0000"]["inputs"]
        and probs[0].example_tests.style == "stdio"
    )
    # CodeRL's layout <root>/<split>_example_tests is picked up without configuration
    (tmp_path / "test_example_tests").symlink_to(APPS / "test_example_tests")
    assert (
        APPSReader().read(str(tmp_path), "test")[0].example_tests.outputs == ex["0000"]["outputs"]
    )
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps(
            {
                "problem_id": 0,
                "question": "q",
                "input_output": {"inputs": ["1\n"], "outputs": ["1\n"]},
            }
        )
        + "\n"
    )
    assert APPSReader().read(str(rows), "test")[0].example_tests.inputs == ex["0000"]["inputs"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"input_output.json": "{broken"}, r"input_output.json \(record 0007\): bad JSON"),
        (
            {"input_output.json": json.dumps({"inputs": [], "outputs": []})},
            r"input_output.json \(record 0007\): no tests",
        ),
        (
            {"input_output.json": json.dumps({"inputs": ["1"]})},
            r"input_output.json \(record 0007\): .*outputs",
        ),
        (
            {"input_output.json": json.dumps({"inputs": ["1", "2"], "outputs": ["1"]})},
            r"record 0007.*2 inputs but 1 outputs",
        ),
        ({"question.txt": None}, r"question.txt \(record 0007\): missing question.txt"),
        ({"solutions.json": "[oops"}, r"solutions.json \(record 0007\): bad JSON"),
    ],
)
def test_apps_malformed_problem_raises_or_is_skipped(
    tmp_path: Path, files: dict, message: str
) -> None:
    for pid in ("0006", "0007"):
        d = tmp_path / "train" / pid
        d.mkdir(parents=True)
        (d / "question.txt").write_text("Print the input.")
        (d / "input_output.json").write_text(json.dumps({"inputs": ["1\n"], "outputs": ["1\n"]}))
    bad = tmp_path / "train" / "0007"
    for name, text in files.items():
        if text is None:
            (bad / name).unlink()
        else:
            (bad / name).write_text(text)
    with pytest.raises(DataError, match=message):
        APPSReader().read(str(tmp_path), "train")
    r = APPSReader(on_error="skip")
    assert [p.task_id for p in r.read(str(tmp_path), "train")] == [
        "apps/train/0006"
    ] and r.skipped == 1


def test_apps_malformed_rows(tmp_path: Path) -> None:
    good = _hf_rows()[0]
    f = tmp_path / "apps.jsonl"
    f.write_text(
        json.dumps(good)
        + "\n"
        + json.dumps({k: v for k, v in good.items() if k != "question"})
        + "\n{bad\n"
    )
    with pytest.raises(DataError, match=r"apps.jsonl \(record line 2\): missing .*question"):
        APPSReader().read(str(f), "train")
    r = APPSReader(on_error="skip")
    assert len(r.read(str(f), "train")) == 1 and r.skipped == 2
    with pytest.raises(DataError, match=r"apps/test: no APPS split 'test'"):
        APPSReader().read(str(APPS), "test")  # the shipped snapshot has no test questions


# ----------------------------------------------------------------------------- XLCoST
def test_xlcost_counts_and_pairs() -> None:
    folder = DATA / "xlcost" / "Java-C++"
    for split in ("val", "test"):
        probs = XLCoSTReader(source_lang="java", target_lang="cpp").read(
            str(DATA / "xlcost"), split
        )
        assert (
            len(probs)
            == _lines(folder / f"{split}-Java-C++-tok.cpp")
            == _lines(folder / f"{split}-Java-map.jsonl")
        )
        p = probs[0]
        assert p.source_language == "java" and p.language == "cpp" and p.tests.style == "none"
        assert p.prompt == p.source_code and len(p.solutions) == 1 and p.split == split
        assert p.meta["problem_id"] == (folder / f"{split}-Java-map.jsonl").read_text().split()[0]
        assert (
            p.meta["source_tok"]
            == (folder / f"{split}-Java-C++-tok.java").read_text().splitlines()[0].strip()
        )
    back = XLCoSTReader(source_lang="cpp", target_lang="java").read(
        str(folder), "test"
    )  # data.path may be the pair folder itself
    assert back[0].source_code == XLCoSTReader().read(str(DATA / "xlcost"), "test")[0].solutions[0]


def test_xlcost_missing_files_name_the_expected_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train-Java-C\+\+-tok.java"):
        XLCoSTReader().read(
            str(DATA / "xlcost"), "train"
        )  # the snapshot lacks the Java side of train
    with pytest.raises(DataError, match=r"Python-Java/test-Python-Java-tok.py"):
        XLCoSTReader(source_lang="python", target_lang="java").read(str(DATA / "xlcost"), "test")
    d = tmp_path / "Java-C++"
    d.mkdir()
    (d / "val-Java-C++-tok.java").write_text("class A { }\nclass B { }\n")
    (d / "val-Java-C++-tok.cpp").write_text("int a ;\n\n")
    with pytest.raises(DataError, match=r"val-Java-C\+\+-tok.cpp \(record 2\): empty"):
        XLCoSTReader().read(str(tmp_path), "val")
    r = XLCoSTReader(on_error="skip")
    assert len(r.read(str(tmp_path), "val")) == 1 and r.skipped == 1
    (d / "val-Java-C++-tok.cpp").write_text("int a ;\n")
    with pytest.raises(DataError, match="not line-aligned"):
        XLCoSTReader().read(str(tmp_path), "val")


def test_detokenize_layout_and_literals() -> None:
    code = detokenize(
        '#include <iostream> NEW_LINE using namespace std ; #define N 5 NEW_LINE int main ( ) { cout << " a ▁ , ▁ b STRNEWLINE " << \' x \' << " - 1" << "12" ; }',
        "cpp",
    )
    assert (
        code
        == '#include <iostream>\nusing namespace std ;\n#define N 5\nint main ( ) { cout << "a , b\\n" << \'x\' << "-1" << "12" ; }\n'
    )
    py = detokenize(
        "def f ( x ) : NEW_LINE INDENT if x : NEW_LINE INDENT return ' ▁ ' NEW_LINE DEDENT return x NEW_LINE DEDENT print ( f ( 1 ) )",
        "python",
    )
    assert py == "def f ( x ) :\n    if x :\n        return ' '\n    return x\nprint ( f ( 1 ) )\n"
    compile(py, "<xlcost>", "exec")
    assert detokenize("echo 1 ;", "php").startswith("<?php\n")


JAVA_BATCH = """
import javax.tools.*;
import java.io.*;
public class BatchCompile {
    public static void main(String[] args) {
        JavaCompiler c = ToolProvider.getSystemJavaCompiler();
        for (String f : args) {
            int rc = c.run(null, null, new ByteArrayOutputStream(), "-nowarn", "-d", new File(f).getParent(), f);
            System.out.println(rc + "\\t" + f);
        }
    }
}
"""


def compile_rates(probs, tmp_path: Path, n_cpp: int | None = None) -> tuple[float, float]:
    """Fractions of detokenized Java sources and C++ references that compile. One JVM compiles
    every Java file (javax.tools) and one g++ call checks every C++ file with a precompiled
    <bits/stdc++.h>, which keeps 50 programs at seconds rather than a minute. C++ is checked on
    the first ``n_cpp`` programs only (g++ costs ~0.3 s a file even so)."""
    jf, cf = [], []
    for i, p in enumerate(probs):
        d = tmp_path / str(i)
        d.mkdir()
        # PPOCoder drops `public` so the class name need not match the file name
        (d / "Main.java").write_text(p.source_code.replace("public class", "class"))
        (d / "a.cpp").write_text(p.solutions[0])
        jf.append(str(d / "Main.java"))
        cf.append(str(d / "a.cpp"))
    (tmp_path / "BatchCompile.java").write_text(JAVA_BATCH)
    out = subprocess.run(
        ["java", str(tmp_path / "BatchCompile.java"), *jf],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    java_ok = sum(line.startswith("0\t") for line in out.splitlines())
    assert len(out.splitlines()) == len(jf)
    pch = tmp_path / "pch" / "bits"
    pch.mkdir(parents=True)
    src = next(Path("/usr/include").glob("*/c++/*/bits/stdc++.h"), None)
    if src is not None:
        subprocess.run(
            ["g++", "-x", "c++-header", str(src), "-o", str(pch / "stdc++.h.gch")], check=True
        )
    cf = cf[:n_cpp]
    res = subprocess.run(
        ["g++", "-fsyntax-only", "-w", "-I", str(tmp_path / "pch"), *cf],
        capture_output=True,
        text=True,
    )
    bad = set(re.findall(r"^(\S+?\.cpp):\d+:\d+: (?:fatal )?error", res.stderr, re.M))
    assert bad <= set(cf) and (res.returncode == 0) == (not bad)
    return java_ok / len(probs), (len(cf) - len(bad)) / len(cf)


@requires_java_cpp
def test_detokenized_xlcost_compiles(tmp_path: Path) -> None:
    probs = random.Random(0).sample(XLCoSTReader().read(str(DATA / "xlcost"), "test"), 50)
    java, cpp = compile_rates(probs, tmp_path, n_cpp=20)
    print(f"XLCoST test, random pairs: javac accepts {java:.0%} of 50, g++ {cpp:.0%} of 20")
    # the snapshot itself lost some tokens (e.g. `||`, `<<`), so not every program compiles
    assert java >= 0.8 and cpp >= 0.8, (java, cpp)


@pytest.mark.slow
@requires_java_cpp
@pytest.mark.parametrize("split", ["val", "test"])
def test_detokenized_xlcost_compile_rate_100(tmp_path: Path, split: str) -> None:
    probs = random.Random(1).sample(XLCoSTReader().read(str(DATA / "xlcost"), split), 100)
    java, cpp = compile_rates(probs, tmp_path)
    print(f"XLCoST {split}, 100 random pairs: javac accepts {java:.0%}, g++ accepts {cpp:.0%}")
    assert java >= 0.75 and cpp >= 0.8, (java, cpp)


def test_detokenize_keeps_code_glued_after_a_literal() -> None:
    """XLCoST glues code to a closing quote (``"NEW_LINE");``): 38 val and 53 test Java programs. The
    literal ends at its quote and the rest stays code (it used to swallow every token up to the
    next quote)."""
    line = 'System . out . print ( minWei + " ▁ " + maxWei + "NEW_LINE"); } else { int x = 1 ; }'
    assert (
        detokenize(line, "java")
        == 'System . out . print ( minWei + " " + maxWei + "\\n" ); } else { int x = 1 ; }\n'
    )
    assert (
        detokenize('printf ( "%dNEW_LINE", x ) ; NEW_LINE return 0 ;', "cpp")
        == 'printf ( "%d\\n" , x ) ;\nreturn 0 ;\n'
    )
    assert (
        detokenize('s = "a\\"b" ; t = 1 ;', "java") == 's = "a\\"b" ; t = 1 ;\n'
    )  # an escaped quote does not close


def test_detokenize_prefixed_literals() -> None:
    py = detokenize(
        "print ( f\" x ▁ = ▁ { x } \" ) NEW_LINE y = r'a\\d' NEW_LINE z = b' ▁ ' NEW_LINE w = 1",
        "python",
    )
    assert py == "print ( f\"x = {x}\" )\ny = r'a\\d'\nz = b' '\nw = 1\n"
    compile(py, "<xlcost>", "exec")
    assert (
        detokenize('wchar_t * s = L" a ▁ b " ; int n = 2 ;', "cpp")
        == 'wchar_t * s = L"a b" ; int n = 2 ;\n'
    )


def test_detokenize_fixes_every_glued_java_program_of_the_snapshot() -> None:
    """No detokenised Java program of the shipped pairs keeps a NEW_LINE marker or loses its tail."""
    for split, glued in (("val", 38), ("test", 53)):
        probs = XLCoSTReader().read(str(DATA / "xlcost"), split)
        hit = [p for p in probs if re.search(r'"[^ ]*NEW_LINE[^ ]*"[^ ]', p.meta["source_tok"])]
        assert len(hit) == glued
        for p in hit:
            assert "NEW_LINE" not in p.source_code
            assert p.source_code.rstrip().endswith(
                "}"
            )  # the class is closed: nothing was swallowed


def test_retokenize_matches_xlcost_tokens() -> None:
    """Code -> XLCoST token text, for CodeBLEU comparable with published XLCoST/PPOCoder figures."""
    from execrl.data.xlcost import retokenize

    assert retokenize(
        '#include <bits/stdc++.h>\nint main() {\n  cout << "a b\\n" << x;\n}\n', "cpp"
    ) == (
        '#include <bits/stdc++.h> NEW_LINE int main ( ) { NEW_LINE cout << " a ▁ b STRNEWLINE " << x ; NEW_LINE }'
    )
    py = "def f(x):\n    if x:\n        return 1\n    return x\nprint(f(1))\n"
    assert (
        retokenize(py, "python")
        == "def f ( x ) : NEW_LINE INDENT if x : NEW_LINE INDENT return 1 NEW_LINE DEDENT return x NEW_LINE DEDENT print ( f ( 1 ) )"
    )
    probs = XLCoSTReader().read(str(DATA / "xlcost"), "val")
    assert (
        sum(retokenize(p.solutions[0], "cpp") == p.meta["target_tok"] for p in probs) >= 500
    )  # of 792 (rest: `-1` glued)


def test_tokenized_xlcost_outputs_are_detokenized_before_running() -> None:
    from execrl.data.xlcost import executable_problem, program_text

    p = XLCoSTReader(detokenize=False).read(str(DATA / "xlcost"), "val")[0]
    assert p.meta["tokenized"] and "NEW_LINE" in p.solutions[0]
    out = program_text(p, p.solutions[0])
    assert "NEW_LINE" not in out and out == detokenize(p.meta["target_tok"], "cpp")
    ex = executable_problem(p)
    assert ex.solutions[0] == out and "NEW_LINE" not in ex.source_code and not ex.meta["tokenized"]
    q = XLCoSTReader().read(str(DATA / "xlcost"), "val")[0]
    assert program_text(q, "int x ;") == "int x ;" and executable_problem(q) is q
