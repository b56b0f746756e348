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
    """The sealed worker runs with PYTHONPATH at the bound runner tree: a program gets none of
    it in its environment and cannot write there (read-only bind); it reports what it tried
    (errno EROFS: the write reached the mount)."""
    from execrl.execution import sandbox

    name = f"planted_{os.getpid()}.py"
    prog = (
        "import errno, os\n"
        "seen = os.environ.get('PYTHONPATH')\n"
        "try:\n"
        f"    open({sandbox.RUNNER_IN_VIEW + '/execrl/' + name!r}, 'w').write('x')\n"
        "    wrote = True\n"
        "except OSError as e:\n"
        "    wrote = errno.errorcode[e.errno]\n"
        "def f(x):\n"
        "    return [seen, wrote]\n"
    )
    host = sandbox.runner_tree(sandbox.cache_dir("execrl-runner")) / "execrl" / name
    try:
        r = sealed.run(
            [
                ExecRequest(
                    program=prog,
                    tests=Tests(style="assert", asserts=["assert f(1) == [None, 'EROFS']"]),
                )
            ]
        )[0]
        assert r.passed, (r.outcome, r.error, r.tests[0].got if r.tests else None)
        assert not host.exists()
    finally:
        host.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- nothing of the project
JAIL_SEARCH = textwrap.dedent(
    """
    import json, os, sys
    print("CANARY", flush=True)
    out = {}
    # the generator of the default training task, found on the import path (importing it needs
    # the venv's packages, which a program's interpreter may not see: reading its source is the attack)
    found = [
        os.path.join(p, "execrl", "data", "synth.py")
        for p in sys.path
        if p and os.path.isfile(os.path.join(p, "execrl", "data", "synth.py"))
    ]
    out["synth"] = found[0] if found else "not found"
    import execrl
    pkg = os.path.dirname(execrl.__file__)
    out["package"] = sorted(
        os.path.relpath(os.path.join(r, f), pkg)
        for r, _, fs in os.walk(pkg)
        for f in fs
        if not f.endswith(".pyc")
    )
    out["others"] = sorted(
        os.path.join(p, "execrl")
        for p in sys.path
        if p and os.path.isdir(os.path.join(p, "execrl")) and os.path.join(p, "execrl") != pkg
    )
    out["paths"] = {p: os.path.exists(p) for p in json.loads(sys.stdin.read())}
    out["listing"] = {p: sorted(os.listdir(p)) for p in out["paths"] if os.path.isdir(p)}
    print(json.dumps(out))
    """
)


def _project_paths() -> list[str]:
    from execrl.execution.sandbox import execrl_dir

    return [
        str(ROOT),
        str(ROOT / "data"),
        str(ROOT / "src" / "execrl" / "data" / "synth.py"),
        str(ROOT / "src"),
        str(Path(execrl_dir(), "execrl")),
    ]


def test_the_jail_holds_the_runner_and_nothing_else_of_the_project(sealed) -> None:
    """No generator that can rebuild tests (``execrl.data.synth``), no data, no project file:
    the package a program finds is the runner's eight modules. The canary: the same program at
    the ``cgroups`` level (no jail) imports the generator and finds the project."""
    import json

    from execrl.execution.sandbox import RUNNER_MODULES

    stdin = json.dumps(_project_paths())
    with Executor(workers=1, timeout_s=5.0, isolation="cgroups") as open_ex:
        seen = json.loads(run(open_ex, JAIL_SEARCH, stdin=stdin).stdout.split("\n", 1)[1])
    assert seen["synth"].endswith("execrl/data/synth.py") and all(seen["paths"].values()), seen
    assert "data/synth.py" in seen["package"], seen
    r = run(sealed, JAIL_SEARCH, stdin=stdin)
    assert r.stdout.startswith("CANARY"), r
    out = json.loads(r.stdout.split("\n", 1)[1])
    assert out["synth"] == "not found", out
    assert out["package"] == sorted(RUNNER_MODULES) and out["others"] == [], out
    # the project root exists in the jail only where the interpreter's environment lives
    # below it (`make install`'s .venv): it then holds that directory and nothing else
    from execrl.execution.sandbox import python_dirs

    bound = {
        Path(d).relative_to(ROOT).parts[0] for d in python_dirs() if Path(d).is_relative_to(ROOT)
    }
    assert not any(v for p, v in out["paths"].items() if p != str(ROOT)), out
    assert set(out["listing"].get(str(ROOT), [])) <= bound, out


@pytest.mark.slow
def test_nothing_in_the_whole_jail_is_project_code_or_data() -> None:
    """Every file a program can see, walked: no file of the project but the runner's modules
    (and the precompiled-header cache, the install's metadata), no ``.jsonl`` data anywhere.
    The canary: the walk finds the runner's modules."""
    prog = textwrap.dedent(
        """
        import os
        hits = []
        for root, dirs, files in os.walk("/"):
            if root in ("/proc", "/sys", "/dev"):
                dirs[:] = []
                continue
            for f in files:
                p = os.path.join(root, f)
                if "execrl" in p or f.endswith(".jsonl") or f == "synth.py":
                    hits.append(p)
        print("\\n".join(sorted(hits)))
        """
    )
    from execrl.execution.sandbox import RUNNER_MODULES

    with Executor(workers=1, timeout_s=60.0, min_isolation="sealed") as ex:  # a few seconds' walk
        r = ex.run([ExecRequest(program=prog, mode="run")])[0]

    hits = r.stdout.splitlines()
    runner = sorted(f"/opt/execrl-runner/execrl/{m}" for m in RUNNER_MODULES)
    assert [h for h in hits if h.startswith("/opt/execrl-runner/")] == runner, (r.outcome, hits)
    allowed = ("/opt/execrl-runner/", "/opt/execrl-cache/pch-", ".dist-info/", "__editable__")
    assert [h for h in hits if not any(a in h for a in allowed)] == [], hits


def test_an_installed_execrl_inside_the_environment_is_hidden(monkeypatch, tmp_path) -> None:
    """Where execrl is installed into the bound environment (not a checkout), the jail lays an
    empty tmpfs over that package: only the runner tree comes in."""
    from execrl.execution import sandbox

    site = Path(sys.prefix, "lib", "site-packages-of-a-test")
    monkeypatch.setattr(sandbox, "execrl_dir", lambda: str(site))
    argv = sandbox.jail_argv(probe(), tmp_path, [], tmp_path / "runner")
    assert ["--tmpfs", str(site / "execrl")] == argv[
        argv.index(str(site / "execrl")) - 1 : argv.index(str(site / "execrl")) + 1
    ]
    assert argv[argv.index(sandbox.RUNNER_IN_VIEW) - 2 :][:3] == [
        "--ro-bind",
        str(tmp_path / "runner"),
        sandbox.RUNNER_IN_VIEW,
    ]


# ----------------------------------------------------------------------------- nothing shared between programs
@pytest.fixture(scope="module")
def one_worker():
    """One worker: every program runs in the same jail, under the same uid, one after another."""
    with Executor(workers=1, timeout_s=5.0, memory_mb=256, min_isolation="sealed") as ex:
        yield ex


@requires_java_cpp
def test_a_compile_dir_is_readable_by_its_own_run_only(one_worker) -> None:
    """The translation oracle's compile dir (``Test.java``, ``Test.class``) is read by the
    oracle's own run (the canary: the files are there, at the path it prints) and refused to
    every later program of the same worker and uid, Python or C++, given that exact path:
    EACCES, where a wrong guess would be ENOENT."""
    import json

    oracle = (
        "import java.nio.file.*; public class Test { public static void main(String[] a)"
        ' throws Exception { String cp = System.getProperty("java.class.path");'
        ' System.out.println(cp + " " + Files.readAllBytes(Paths.get(cp, "Test.java")).length'
        ' + " " + Files.readAllBytes(Paths.get(cp, "Test.class")).length); } }\n'
    )
    first = run(one_worker, oracle, "java").stdout.split()
    assert len(first) == 3 and first[0].startswith("/tmp/execrl/") and int(first[1]) > 0, first
    d = first[0]
    reader = textwrap.dedent(
        f"""
        import json, os
        out = {{}}
        for name, fn in [
            ("list", lambda: os.listdir({d!r})),
            ("source", lambda: open({d!r} + "/Test.java").read()),
            ("class", lambda: open({d!r} + "/Test.class", "rb").read()),
            ("elsewhere", lambda: open({d!r} + "-nonexistent/Test.java").read()),
        ]:
            try:
                fn()
                out[name] = "READ"
            except OSError as e:
                out[name] = e.errno
        st = os.stat({d!r})
        out["dir"] = [oct(st.st_mode & 0o777), st.st_uid]
        print(json.dumps(out))
        """
    )
    r = run(one_worker, reader)
    out = json.loads(r.stdout)
    assert out == {"list": 13, "source": 13, "class": 13, "elsewhere": 2, "dir": ["0o700", 0]}, r
    cpp = (
        '#include <bits/stdc++.h>\nint main() { std::ifstream f("' + d + '/Test.java");'
        ' std::cout << (f.good() ? "READ" : "DENIED") << " " << errno << "\\n"; }\n'
    )
    assert run(one_worker, cpp, "cpp").stdout == "DENIED 13\n"
    again = run(one_worker, oracle, "java").stdout.split()  # the oracle's next run: lent again
    assert again == first, again
