"""Containment at the ``sealed`` level: no escape, no survivor, no sample dropped at a program's will.

Each attack prints ``CANARY`` (or its evidence) before the step it attempts, so a test that
finds the defence holding also proves the attack ran. Skipped where the host grants less
than ``sealed`` (the isolation probe then reports what does hold: test_probe_*).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from execrl.execution import ExecRequest, Executor, Outcome
from execrl.execution.sandbox import CGROUP_ROOT, probe
from execrl.vocabulary import Tests

from helpers.common import ROOT, requires_java_cpp

pytestmark = pytest.mark.skipif(
    probe().level != "sealed", reason="needs the sealed level (root, bwrap, libseccomp, cgroup v1)"
)

ASSERTS = Tests(style="assert", asserts=["assert f(1) == 2"])


@pytest.fixture(scope="module")
def sealed():
    with Executor(workers=2, timeout_s=2.0, memory_mb=256, min_isolation="sealed") as ex:
        yield ex


def run(ex, program: str, language: str = "python", stdin: str = "") -> object:
    return ex.run([ExecRequest(program=program, language=language, mode="run", stdin=stdin)])[0]


def test_probe_verifies_every_property(sealed) -> None:
    assert sealed.caps.verified and all(sealed.caps.verified.values()), sealed.isolation_level


# ----------------------------------------------------------------------------- seeing and touching the host
def test_project_tree_and_host_tmp_are_invisible(sealed, tmp_path) -> None:
    marker = tmp_path / "host-secret"
    marker.write_text("secret")
    os.chmod(tmp_path, 0o755)
    os.chmod(marker, 0o644)
    paths = [
        str(ROOT / "data/mbpp/mbpp.jsonl"),
        str(ROOT / "README.md"),
        str(marker),
        "/root/.bash_history",
        "/var/lib",
        "/run",
    ]
    prog = textwrap.dedent(f"""
        import os
        print("CANARY")
        for p in {paths!r}:
            try:
                open(p).read(1)
                print("READ", p)
            except (OSError, IsADirectoryError) as e:
                print("DENIED", p, type(e).__name__, os.path.exists(p))
    """)
    r = run(sealed, prog)
    out = r.stdout.splitlines()
    assert out[0] == "CANARY" and len(out) == 1 + len(paths), r
    assert all(line.startswith("DENIED") and line.endswith("False") for line in out[1:]), out


@pytest.mark.parametrize(
    "path", ["/run/lock", "/var/tmp", "/dev/shm", "/tmp", "/var/lib/php/sessions"]
)
def test_no_write_to_world_writable_host_dirs(sealed, path: str) -> None:
    name = f"execrl-escape-{os.getpid()}"
    prog = f"print('CANARY')\ntry:\n    open({path + '/' + name!r}, 'w').write('x' * 10**6)\n    print('WROTE')\nexcept OSError as e:\n    print('DENIED', e.errno)\n"
    r = run(sealed, prog)
    assert r.stdout.startswith("CANARY\nDENIED"), r
    assert not Path(path, name).exists()


def test_no_host_process_is_visible(sealed) -> None:
    prog = "import os\nprint('CANARY')\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
    r = run(sealed, prog)
    pids = eval(r.stdout.splitlines()[1])
    assert r.stdout.startswith("CANARY") and len(pids) <= 4, (
        pids
    )  # the jail's init, the worker, the program


def test_ptrace_and_process_vm_are_denied(sealed) -> None:
    prog = textwrap.dedent("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        print("CANARY")
        print(libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())  # PTRACE_ATTACH the worker
        print(libc.ptrace(0, 0, 0, 0), ctypes.get_errno())  # PTRACE_TRACEME
    """)
    r = run(sealed, prog)
    lines = r.stdout.splitlines()
    assert lines[0] == "CANARY" and lines[1].startswith("-1 ") and lines[2].startswith("-1 "), r


def test_unix_socket_on_the_host_is_unreachable(sealed, tmp_path) -> None:
    import socket

    os.chmod(tmp_path, 0o755)
    path = str(tmp_path / "s")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    os.chmod(path, 0o777)
    srv.listen(1)
    prog = f"import socket\nprint('CANARY')\ntry:\n    s = socket.socket(socket.AF_UNIX)\n    s.connect({path!r})\n    print('CONNECTED')\nexcept OSError as e:\n    print('DENIED')\n"
    r = run(sealed, prog)
    srv.close()
    assert r.stdout == "CANARY\nDENIED\n", r


def test_signals_cannot_reach_the_worker(sealed) -> None:
    prog = "import os, signal\nprint('CANARY')\nfor pid in (-1, 1, 2, os.getppid()):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
    run(sealed, prog)
    ok = sealed.run([ExecRequest(program="def f(x):\n    return x + 1\n", tests=ASSERTS)])[0]
    assert ok.passed and sealed.stats["charged_failures"] == 0


# ----------------------------------------------------------------------------- the translation oracle
@requires_java_cpp
@pytest.mark.parametrize(
    "language,program",
    [
        (
            "cpp",
            '#include <bits/stdc++.h>\nint main() { std::puts("CANARY"); std::fflush(stdout);'
            ' int a = system("java -version"); int b = execlp("g++", "g++", "--version", (char*)0); std::printf("%d %d\\n", a, b); }\n',
        ),
        (
            "java",
            'public class Main { public static void main(String[] a) { System.out.println("CANARY");'
            ' try { Runtime.getRuntime().exec(new String[]{"g++", "--version"}).waitFor(); System.out.println("RAN"); }'
            ' catch (Exception e) { System.out.println("DENIED"); } } }\n',
        ),
        (
            "python",
            "import subprocess\nprint('CANARY')\ntry:\n    subprocess.run(['javac', '-version'])\n    print('RAN')\nexcept OSError:\n    print('DENIED')\n",
        ),
    ],
)
def test_a_program_cannot_start_another_toolchain(sealed, language: str, program: str) -> None:
    r = run(sealed, program, language)
    assert r.stdout.startswith("CANARY"), r
    assert "RAN" not in r.stdout and "version" not in (r.stdout + (r.error or "")).lower()
    if language == "cpp":
        assert r.stdout.splitlines()[1] in ("-1 -1", "32512 -1", "256 -1"), r.stdout


@requires_java_cpp
def test_compiled_oracle_cannot_be_tampered_with(sealed) -> None:
    # the strongest form: the program knows where its own compiled classes are (its classpath)
    # and tries to replace them; other programs' compile dirs cannot even be listed
    oracle = (
        'import java.io.*; public class Main { public static void main(String[] a) { System.out.println("ORACLE");'
        ' String cp = System.getProperty("java.class.path"); System.out.println("CANARY " + cp);'
        ' try { new FileOutputStream(cp + "/Main.class").write(1); System.out.println("WROTE"); }'
        ' catch (Exception e) { System.out.println("DENIED"); }'
        ' System.out.println(new File(cp).getParentFile().list() == null ? "UNLISTABLE" : "LISTED"); } }\n'
    )
    first = run(sealed, oracle, "java")
    assert first.stdout.startswith("ORACLE\nCANARY /tmp/execrl/"), first
    assert first.stdout.splitlines()[2:] == ["DENIED", "UNLISTABLE"], first.stdout
    again = run(
        sealed, oracle, "java"
    ).stdout.splitlines()  # the cached classes are still the oracle's own
    assert again[0] == "ORACLE" and again[2:] == ["DENIED", "UNLISTABLE"]


# ----------------------------------------------------------------------------- opting out of being scored
def test_leaving_the_process_group_and_hanging_is_a_timeout(sealed) -> None:
    # joining the worker's group is refused (another session); a hanging program is a timeout
    prog = (
        "import os, sys, time\ndef f(x):\n    return x + 1\nsys.stderr.write('CANARY\\n')\n"
        "try:\n    os.setpgid(0, os.getppid())\nexcept OSError:\n    pass\nfor fd in range(5):\n    os.close(fd)\ntime.sleep(60)\n"
    )
    t0 = time.monotonic()
    r = sealed.run([ExecRequest(program=prog, tests=ASSERTS)])[0]
    assert r.outcome is Outcome.TIMEOUT and time.monotonic() - t0 < 8, r
    assert sealed.stats["charged_failures"] == 0


def test_a_detached_grandchild_neither_delays_nor_survives_the_run(sealed) -> None:
    prog = (
        "import os, time\nprint('CANARY', flush=True)\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
        "    os._exit(0)\nprint('done')\n"
    )
    t0 = time.monotonic()
    r = run(sealed, prog)
    assert r.stdout == "CANARY\ndone\n" and time.monotonic() - t0 < 3, r
    assert _processes_of(sealed) == []


def test_a_chatty_program_cannot_postpone_its_deadline(sealed) -> None:
    # frames every 0.3 s on the reply channel: the per-request cap holds regardless
    prog = "import os, struct, time\ndef f(x):\n    os.write(2, b'CANARY\\n')\n    while True:\n        os.write(4, struct.pack('<I', 8) + b'[\"ready\"]')\n        time.sleep(0.3)\n"
    t0 = time.monotonic()
    r = sealed.run([ExecRequest(program=prog, tests=ASSERTS)])[0]
    assert r.outcome is not Outcome.PASSED and r.outcome is not Outcome.INFRA_ERROR
    assert time.monotonic() - t0 < 2.0 * 3 + 5, r


@requires_java_cpp
def test_memory_filling_children_stay_in_their_cgroup(sealed) -> None:
    prog = textwrap.dedent("""
        #include <bits/stdc++.h>
        #include <unistd.h>
        int main() {
            std::puts("CANARY"); std::fflush(stdout);
            for (int i = 0; i < 55; i++) if (fork() == 0) { char* p = (char*)malloc(30 << 20); memset(p, 1, 30 << 20); sleep(30); }
            sleep(30);
        }
    """)
    r = run(sealed, prog, "cpp")
    assert r.outcome in (
        Outcome.TIMEOUT,
        Outcome.MEMORY_LIMIT,
        Outcome.RUNTIME_ERROR,
    ) and r.stdout.startswith("CANARY"), r
    ok = sealed.run([ExecRequest(program="def f(x):\n    return x + 1\n", tests=ASSERTS)])[0]
    assert ok.passed and sealed.stats["charged_failures"] == 0
    assert _processes_of(sealed) == []


def test_oversized_program_and_lone_surrogate_are_the_programs_fault(sealed) -> None:
    big = "x = 1\n" * 400_000  # 2.4 MB: never parsed by the judge or the worker
    r = sealed.run([ExecRequest(program=big, tests=ASSERTS)])[0]
    assert r.outcome is Outcome.COMPILE_ERROR and r.error_type == "ProgramTooLarge"
    r = run(sealed, 'int main() { const char* s = "\ud800"; return 0; }\n', "cpp")
    assert r.outcome is not Outcome.INFRA_ERROR


def _in_groups_of(owner: int) -> list[int]:
    """Processes in any worker cgroup of the executor living in process ``owner`` (other
    executors on this host run programs under the same uids)."""
    out = []
    for q in psutil.process_iter():
        try:
            if f"/execrl/{owner}-" in Path(f"/proc/{q.pid}/cgroup").read_text():
                out.append(q.pid)
        except OSError:
            pass
    return out


def _processes_of(ex) -> list[int]:
    """Processes of this executor's programs: anything in its workers' cgroups but the workers."""
    time.sleep(0.2)
    workers = {
        c.pid for h in ex._handles for c in psutil.Process(h.proc.pid).children(recursive=True)
    }
    inside = {
        int(x) for h in ex._handles for x in (h.cgroup.dirs[0] / "cgroup.procs").read_text().split()
    }
    return sorted(inside - workers)


# ----------------------------------------------------------------------------- nothing outlives the evaluator
DRIVER = """
import sys, time
sys.path.insert(0, {src!r})
from execrl.vocabulary import Tests
from execrl.execution import Executor, ExecRequest
ex = Executor(workers=2, timeout_s=30.0)
print("READY", flush=True)
prog = "import os, time\\nfor _ in range(5):\\n    os.fork()\\ntime.sleep(60)\\n"
ex.run([ExecRequest(program=prog + "# " + str(i), mode="run") for i in range(2)])
"""


def _killed_leaves_nothing(cmd: list[str], ready: callable) -> None:
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ready(p):
        time.sleep(0.2)
    assert (
        len(_in_groups_of(p.pid)) >= 10
    )  # the canary: the programs really started their processes
    p.send_signal(signal.SIGKILL)
    p.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = _in_groups_of(p.pid)
        groups = [
            d for c in ("pids", "memory") for d in (CGROUP_ROOT / c / "execrl").glob(f"{p.pid}-*")
        ]
        if not left and not groups:
            break
        time.sleep(0.2)
    assert left == [] and groups == []


def test_killing_the_executor_process_leaves_nothing_behind() -> None:
    _killed_leaves_nothing(
        [sys.executable, "-c", DRIVER.format(src=str(ROOT / "src"))],
        lambda p: len(_in_groups_of(p.pid)) >= 10,
    )


def test_killing_evaluate_py_mid_run_leaves_nothing_behind(tmp_path) -> None:
    hang = "import os, time\nfor _ in range(5):\n    os.fork()\ntime.sleep(60)\n"
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        "\n".join(
            f'{{"task_id": "mbpp/{i}", "completions": [{json.dumps(hang + "# " + str(i))}]}}'
            for i in (11, 12)
        )
        + "\n"
    )
    cmd = [
        sys.executable,
        str(ROOT / "evaluate.py"),
        "data=mbpp",
        f"samples={samples}",
        "executor.timeout_s=30",
        "logger=none",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    _killed_leaves_nothing(cmd, lambda p: len(_in_groups_of(p.pid)) >= 10)


def test_sealed_worker_runs_the_parents_execrl(tmp_path) -> None:
    """A sealed worker imports the execrl this process imports (a checkout on PYTHONPATH, here a
    copy under /tmp), not whichever one the interpreter has installed."""
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "execrl", copy / "execrl", ignore=shutil.ignore_patterns("__pycache__")
    )
    marker = "# canary: this copy of the worker ran\n"
    worker = copy / "execrl" / "execution" / "worker.py"
    worker.write_text(
        worker.read_text() + "\nimport sys as _s\n_s.stderr.write('COPY_WORKER_RAN\\n')\n" + marker
    )
    probe_prog = textwrap.dedent(
        f"""
        import execrl
        assert execrl.__file__.startswith({str(copy)!r}), execrl.__file__
        from execrl.vocabulary import Tests
        from execrl.execution import ExecRequest, Executor
        with Executor(workers=1, min_isolation="sealed") as ex:
            r = ex.run([ExecRequest(program="def f(x):\\n    return x + 1\\n",
                                    tests=Tests(style="assert", asserts=["assert f(1) == 2"]))])[0]
        print("OUTCOME", r.outcome.value)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(copy)}
    r = subprocess.run(
        [sys.executable, "-c", probe_prog], env=env, capture_output=True, text=True, timeout=120
    )
    assert "OUTCOME passed" in r.stdout, r.stderr[-2000:]
    assert "COPY_WORKER_RAN" in r.stderr  # the canary: the copy's worker module was the one run


def test_a_program_neither_sees_the_workers_pythonpath_nor_writes_its_execrl(sealed) -> None:
    """The sealed worker runs with PYTHONPATH at the bound execrl directory: a program gets none of
    it in its environment and cannot write there (read-only bind); it reports what it tried."""
    from execrl.execution.sandbox import execrl_dir

    target = Path(execrl_dir()) / "execrl" / f"planted_{os.getpid()}.py"
    prog = (
        "import os\n"
        "seen = os.environ.get('PYTHONPATH')\n"
        "try:\n"
        f"    open({str(target)!r}, 'w').write('x')\n"
        "    wrote = True\n"
        "except OSError:\n"
        "    wrote = False\n"
        "def f(x):\n"
        "    return [seen, wrote]\n"
    )
    try:
        r = sealed.run(
            [
                ExecRequest(
                    program=prog,
                    tests=Tests(style="assert", asserts=["assert f(1) == [None, False]"]),
                )
            ]
        )[0]
        assert r.passed, (r.outcome, r.error, r.tests[0].got if r.tests else None)
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)
