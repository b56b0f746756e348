"""The real readers on the shipped MBPP, APPS and XLCoST data, and their handling of bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, requires_java_cpp
from execrl.data.apps import APPSReader, read_example_tests
from execrl.data.mbpp import MBPPReader
from execrl.data.problem import DataError
from execrl.data.xlcost import XLCoSTReader, detokenize

DATA = ROOT / "data"
MBPP = DATA / "mbpp" / "mbpp.jsonl"


def _lines(path: Path) -> int:
    return sum(1 for line in open(path) if line.strip())


def test_mbpp_standard_splits_cover_the_file() -> None:
    r = MBPPReader()
    sizes = {s: len(r.read(str(MBPP), s)) for s in ("prompt", "test", "validation", "train", "all")}
    assert sizes == {"prompt": 10, "test": 500, "validation": 90, "train": 374, "all": _lines(MBPP)}
    assert sizes["prompt"] + sizes["test"] + sizes["validation"] + sizes["train"] == sizes["all"]


def test_mbpp_prompt_has_the_description_and_three_tests() -> None:
    p = MBPPReader().read(str(MBPP), "test")[0]
    row = next(json.loads(line) for line in open(MBPP) if json.loads(line)["task_id"] == 11)
    assert p.task_id == "mbpp/11"
    assert row["text"] in p.prompt
    assert all(t in p.prompt for t in row["test_list"]) and len(p.tests.asserts) == 3
    assert p.solutions == [row["code"].replace("\r\n", "\n")]


def test_mbpp_setup_code_is_honoured() -> None:
    rows = [json.loads(line) for line in open(MBPP)]
    with_setup = [r for r in rows if r["test_setup_code"].strip()]
    assert with_setup, "the shipped MBPP has rows with test_setup_code"
    probs = {p.task_id: p for p in MBPPReader().read(str(MBPP), "all")}
    for r in with_setup:
        assert r["test_setup_code"].strip() in probs[f"mbpp/{r['task_id']}"].tests.setup_code


def test_mbpp_sanitized_reads_imports() -> None:
    path = DATA / "mbpp" / "sanitized-mbpp.json"
    probs = MBPPReader().read(str(path), "all")
    assert len(probs) == len(json.loads(path.read_text()))
    assert any("import" in p.tests.setup_code for p in probs)


def test_mbpp_malformed_rows_raise_or_are_counted(tmp_path: Path) -> None:
    good = json.loads(open(MBPP).readline())
    f = tmp_path / "mbpp.jsonl"
    f.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({**good, "test_list": []}) + "\n" + json.dumps({"task_id": 2}) + "\n")
    with pytest.raises(DataError, match=r"mbpp.jsonl \(record line 2\): bad JSON"):
        MBPPReader().read(str(f), "all")
    r = MBPPReader(on_error="skip")
    assert len(r.read(str(f), "all")) == 1 and r.skipped == 3


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.jsonl.*data.path"):
        MBPPReader().read(str(tmp_path / "nope.jsonl"), "test")


def test_apps_folders_both_prompt_formats() -> None:
    probs = {p.task_id.split("/")[-1]: p for p in APPSReader().read(str(DATA / "apps"), "train")}
    assert sorted(probs) == sorted(d.name for d in (DATA / "apps" / "train").iterdir())
    stdin, call = probs["0001"], probs["2404"]
    q = (DATA / "apps" / "train" / "0001" / "question.txt").read_text()
    assert stdin.train_prompt == f"\nQUESTION:\n{q}\n\n\nUse Standard Input format\n\nANSWER:\n"
    assert stdin.prompt == f"\nQUESTION:\n{q}\nUse Standard Input format\nANSWER:\n"
    starter = (DATA / "apps" / "train" / "2404" / "starter_code.py").read_text()
    assert call.prompt.endswith(f"\n{starter}\nUse Call-Based format\nANSWER:\n")
    assert call.train_prompt.endswith(f"\n{starter}\n\nUse Call-Based format\n\nANSWER:\n")
    assert call.tests.style == "call" and call.tests.fn_name == "findKthPositive"
    assert stdin.tests.style == "stdio" and stdin.difficulty == "interview"
    assert len(probs["0001"].solutions) == len(json.loads((DATA / "apps/train/0001/solutions.json").read_text()))


def test_apps_hf_rows_match_folders(tmp_path: Path) -> None:
    rows = []
    for d in sorted((DATA / "apps" / "train").iterdir()):
        starter = (d / "starter_code.py").read_text() if (d / "starter_code.py").exists() else ""
        rows.append({"problem_id": d.name, "question": (d / "question.txt").read_text(), "solutions": (d / "solutions.json").read_text(),
                     "input_output": (d / "input_output.json").read_text(), "difficulty": json.loads((d / "metadata.json").read_text())["difficulty"],
                     "url": "", "starter_code": starter})
    f = tmp_path / "apps.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_rows = APPSReader().read(str(f), "train")
    from_dirs = APPSReader().read(str(DATA / "apps"), "train")
    assert [(p.prompt, p.train_prompt, p.tests, p.solutions) for p in from_rows] == [(p.prompt, p.train_prompt, p.tests, p.solutions) for p in from_dirs]


def test_apps_example_tests_and_bad_problem(tmp_path: Path) -> None:
    ex = read_example_tests(DATA / "apps" / "test_example_tests")
    assert len(ex) == 5000
    d = tmp_path / "test" / "0000"
    d.mkdir(parents=True)
    (d / "question.txt").write_text("Print the sum.")
    (d / "input_output.json").write_text(json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]}))
    probs = APPSReader(example_tests_dir=str(DATA / "apps" / "test_example_tests")).read(str(tmp_path), "test")
    assert probs[0].example_tests is not None and probs[0].example_tests.inputs == ex["0000"]["inputs"]
    (d / "input_output.json").write_text("{broken")
    with pytest.raises(DataError, match="input_output.json.*0000.*bad JSON"):
        APPSReader().read(str(tmp_path), "test")
    r = APPSReader(on_error="skip")
    assert r.read(str(tmp_path), "test") == [] and r.skipped == 1


def test_xlcost_counts_and_pairs() -> None:
    folder = DATA / "xlcost" / "Java-C++"
    for split in ("val", "test"):
        probs = XLCoSTReader("java", "cpp").read(str(DATA / "xlcost"), split)
        assert len(probs) == _lines(folder / f"{split}-Java-C++-tok.cpp")
        assert probs[0].source_language == "java" and probs[0].language == "cpp"
    back = XLCoSTReader("cpp", "java").read(str(DATA / "xlcost"), "test")
    assert back[0].source_code == XLCoSTReader().read(str(DATA / "xlcost"), "test")[0].solutions[0]
    with pytest.raises(DataError, match="train-Java-C\\+\\+-tok.java"):
        XLCoSTReader().read(str(DATA / "xlcost"), "train")


def test_detokenize_layout_and_literals() -> None:
    code = detokenize('#include <iostream> NEW_LINE int main ( ) { cout << " a ▁ , ▁ b " << \' x \' ; }', "cpp")
    assert code == '#include <iostream>\nint main ( ) { cout << "a , b" << \'x\' ; }\n'
    py = detokenize("def f ( x ) : NEW_LINE INDENT return x NEW_LINE DEDENT print ( f ( 1 ) )", "python")
    assert py == "def f ( x ) :\n    return x\nprint ( f ( 1 ) )\n"


@requires_java_cpp
def test_detokenized_xlcost_compiles(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    probs = XLCoSTReader().read(str(DATA / "xlcost"), "test")[:12]

    def compiles(i: int) -> tuple[bool, bool]:
        d = tmp_path / str(i)
        d.mkdir()
        (d / "Main.java").write_text(probs[i].source_code)
        (d / "a.cpp").write_text(probs[i].solutions[0])
        java = subprocess.run(["javac", "-d", str(d), str(d / "Main.java")], capture_output=True).returncode == 0
        cpp = subprocess.run(["g++", "-fsyntax-only", str(d / "a.cpp")], capture_output=True).returncode == 0
        return java, cpp

    with ThreadPoolExecutor(2) as pool:
        res = list(pool.map(compiles, range(len(probs))))
    # the snapshot itself lost some tokens (e.g. `||`), so not every program compiles
    assert sum(j for j, _ in res) >= 10 and sum(c for _, c in res) >= 10, res
