"""Hostile programs end in a typed outcome, the host stays unharmed, and nothing is left running."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from execrl.execution import ExecRequest, Outcome
from execrl.execution.sandbox import NOBODY, PROGRAM_UID, UID_BLOCK, UID_BLOCKS
from execrl.vocabulary import Tests

ASSERTS = Tests(style="assert", asserts=["assert f() == 1"])
PASSING = "def f():\n    return 1\n"


def run(executor, program: str, tests: Tests = ASSERTS):
    return executor.run([ExecRequest(program=program, tests=tests)])[0]


def test_infinite_loop_times_out(executor) -> None:
    r = run(executor, "while True:\n    pass\n")
    assert r.outcome is Outcome.TIMEOUT


def test_sleep_past_timeout(executor) -> None:
    t0 = time.monotonic()
    r = run(executor, PASSING + "import time\ntime.sleep(30)\n")
    assert r.outcome is Outcome.TIMEOUT and time.monotonic() - t0 < 10


def test_fork_bomb_is_contained(executor) -> None:
    before = len(psutil.pids())
    r = run(
        executor,
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    )
    assert r.outcome in (Outcome.TIMEOUT, Outcome.RUNTIME_ERROR)
    time.sleep(0.2)
    assert len(psutil.pids()) < before + 10


def test_memory_bomb(executor) -> None:
    r = run(executor, "x = []\nwhile True:\n    x.append(bytearray(10**7))\n")
    assert r.outcome in (Outcome.MEMORY_LIMIT, Outcome.RUNTIME_ERROR)
    assert r.outcome is Outcome.MEMORY_LIMIT or r.error_type == "MemoryError"


def test_deep_recursion(executor) -> None:
    r = run(executor, "import sys\nsys.setrecursionlimit(10**6)\ndef f():\n    return f()\nf()\n")
    assert r.outcome in (Outcome.RUNTIME_ERROR, Outcome.MEMORY_LIMIT, Outcome.TIMEOUT)


def test_huge_output_is_cut(executor) -> None:
    stdio = Tests(style="stdio", inputs=[""], outputs=["1"])
    r = run(
        executor, "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 10**6)\n", stdio
    )
    assert r.outcome in (Outcome.FAILED, Outcome.RUNTIME_ERROR)
    assert r.stdout is None or len(r.stdout) < 2 * 10**6


def test_reads_and_writes_outside_are_blocked(executor, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not delete")
    target = Path("/tmp") / f"execrl_escape_{os.getpid()}"
    prog = (
        f"import os\nopen({str(target)!r}, 'w').write('x')\n"
        f"os.remove({str(secret)!r})\n"
        "def f():\n    return 1\n"
    )
    r = run(executor, prog)
    assert r.outcome is not Outcome.PASSED or executor.caps.level == "process"
    assert secret.exists() and secret.read_text() == "do not delete"
    assert not target.exists()


def test_etc_passwd_is_not_readable_as_root_only_file(executor) -> None:
    # /etc/passwd is world-readable by design; /etc/shadow is what a program must not read
    r = run(executor, "open('/etc/shadow').read()\n" + PASSING)
    if os.geteuid() == 0:  # programs never run as root
        assert r.outcome is Outcome.RUNTIME_ERROR and r.error_type == "PermissionError"


def test_socket_cannot_reach_the_network(executor) -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        prog = (
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n" + PASSING
        )
        r = run(executor, prog)
    if "netns" in executor.isolation_level:
        assert r.outcome is Outcome.RUNTIME_ERROR


@pytest.mark.skipif(not shutil.which("php"), reason="Requires: php")
def test_php_program_is_sandboxed_like_python(executor, tmp_path: Path) -> None:
    # the sandbox is the process, not the language: a PHP program gets the same walls
    secret = tmp_path / "secret.txt"
    secret.write_text("do not delete")
    target = Path("/tmp") / f"execrl_php_escape_{os.getpid()}"
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        prog = (
            f"<?php\n@unlink('{secret}');\n@file_put_contents('{target}', 'x');\n"
            f"$s = @fsockopen('127.0.0.1', {srv.getsockname()[1]}, $errno, $errstr, 1);\necho $s ? 'connected' : 'blocked';\n"
        )
        r = executor.run([ExecRequest(program=prog, language="php", mode="run")])[0]
    assert r.outcome is Outcome.PASSED
    assert secret.exists() and secret.read_text() == "do not delete"
    assert not target.exists()
    if "netns" in executor.isolation_level:
        assert r.stdout == "blocked"


def test_killing_the_parent_does_not_hurt_the_pool(executor) -> None:
    r = run(executor, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + PASSING)
    assert r.outcome in (Outcome.PASSED, Outcome.RUNTIME_ERROR, Outcome.INFRA_ERROR)
    # the pool still works afterwards
    assert run(executor, PASSING).outcome is Outcome.PASSED


def test_detached_background_process_is_killed(executor) -> None:
    marker = f"execrl_daemon_{os.getpid()}"
    prog = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        os.execvp('sleep', ['sleep', '300', '{marker}'])\n    os._exit(0)\n" + PASSING
    )
    r = run(executor, prog)
    assert r.outcome is Outcome.PASSED
    time.sleep(0.3)
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])
    ]


@pytest.mark.parametrize(
    "exit_call",
    ["exit(0)", "import sys; sys.exit(0)", "import os; os._exit(0)", "raise SystemExit"],
)
def test_exit_before_asserts_never_passes(executor, exit_call: str) -> None:
    r = run(executor, PASSING + exit_call + "\n")
    assert r.outcome is Outcome.RUNTIME_ERROR


def test_redefining_builtins_does_not_fake_a_pass(executor) -> None:
    progs = [
        "import builtins\nbuiltins.AssertionError = ZeroDivisionError\ndef f():\n    return 2\n",
        "import builtins\nbuiltins.print = lambda *a: None\ndef f():\n    return 2\n",
        # forged frames on every descriptor: a frame can only say what a call returned, never "pass"
        "import os\nfor fd in range(3, 10):\n    try:\n        os.write(fd, b'\\x07\\x00\\x00\\x00[\"end\"]')\n    except OSError:\n        pass\ndef f():\n    return 2\n",
    ]
    for p in progs:
        assert run(executor, p).outcome in (Outcome.FAILED, Outcome.RUNTIME_ERROR), p


def test_closing_stdout(executor) -> None:
    stdio = Tests(style="stdio", inputs=[""], outputs=["1\n"])
    r = run(executor, "import os\nos.close(1)\nprint(1)\n", stdio)
    assert r.outcome in (Outcome.RUNTIME_ERROR, Outcome.FAILED)
    assert run(executor, "import os\nos.close(1)\n" + PASSING).outcome is Outcome.PASSED


def test_no_stray_processes_after_the_suite(executor) -> None:
    # no program outlives its run: an idle worker's process tree (the jail's init and the worker,
    # where sealed) holds no process of a program's uid
    time.sleep(0.2)
    program_uids = {NOBODY, *range(PROGRAM_UID, PROGRAM_UID + UID_BLOCK * UID_BLOCKS)}
    for h in executor._handles:
        tree = [h.proc.pid] + [c.pid for c in psutil.Process(h.proc.pid).children(recursive=True)]
        assert len(tree) <= 3 and not any(
            psutil.Process(p).uids().real in program_uids for p in tree
        )


@pytest.mark.parametrize("level", ["process", "namespaces", "cgroups"])
def test_isolation_probe_runs_at_every_level_without_harming_the_pool(level) -> None:
    from execrl.execution import Executor
    from execrl.execution.sandbox import level_rank, probe

    if level_rank(level) > level_rank(probe().level):
        pytest.skip(f"host grants less than {level}")
    with Executor(workers=1, timeout_s=2.0, isolation=level) as ex:
        assert len(ex.caps.verified) == 9 and "probe_ran" not in ex.caps.verified, (
            ex.isolation_level
        )
        if (
            os.geteuid() == 0
        ):  # started by root: never root, and the judge out of reach, at every level
            assert ex.caps.verified["never_root"] and ex.caps.verified["judge_unreachable"]
        assert run(ex, PASSING).passed
    # where a probe write could succeed (below sealed) it removes what it wrote
    assert not any(
        Path(d, "execrl-probe").exists() for d in ("/run/lock", "/var/tmp", "/dev/shm", "/tmp")
    )


def test_an_executor_made_in_a_thread_outlives_the_thread() -> None:
    # a jailed worker must not die with the thread that started it (bwrap's --die-with-parent did)
    import threading

    from execrl.execution import Executor

    box: list = []
    t = threading.Thread(target=lambda: box.append(Executor(workers=1, timeout_s=2.0)))
    t.start()
    t.join()
    time.sleep(0.5)
    with box[0] as ex:
        assert run(ex, PASSING).passed and ex.stats["charged_failures"] == 0


def test_leftover_processes_do_not_count_against_the_next_program() -> None:
    """A program that leaves processes behind must not eat the next program's process budget:
    the worker reaps every one of them (they count against pids.max and RLIMIT_NPROC until then)."""
    from execrl.execution import Executor

    # a fork bomb: processes that are forking while the worker kills them, each with memory to give back
    spawner = (
        "import os\nblob = b'x' * (2 << 20)\nfor _ in range(200):\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
        + PASSING
    )
    # the next program needs 45 processes of the 64 allowed: it fails if the 40 above still count
    forker = (
        "import os\npids = []\nfor _ in range(45):\n    p = os.fork()\n    if p == 0:\n        os._exit(0)\n    pids.append(p)\n"
        "for p in pids:\n    os.waitpid(p, 0)\n" + PASSING
    )
    with Executor(workers=1, timeout_s=5.0, nproc=64) as ex:
        for _ in range(5):
            a, b = (
                ex.run([ExecRequest(program=spawner, tests=ASSERTS)])[0],
                ex.run([ExecRequest(program=forker, tests=ASSERTS)])[0],
            )
            assert a.outcome is not Outcome.INFRA_ERROR, (a.outcome, a.error)
            assert b.outcome is Outcome.PASSED, (b.outcome, b.error)


@pytest.mark.parametrize("level", ["process", "namespaces", "cgroups", "sealed"])
def test_a_program_cannot_plant_code_the_worker_imports_later(level, tmp_path) -> None:
    """The worker imports numpy only once a program needs it, and restarts import execrl afresh:
    a program that could write into the interpreter's site-packages or the execrl package would
    run its code in the trusted worker later. Started by root, programs run as their own uid at
    every level and cannot; started by another user, below ``sealed`` they are that user and
    can (the documented limit of those levels, README "Containment levels"). The canary: the
    same program run directly by this process plants both files."""
    import sysconfig

    import execrl
    from execrl.execution import Executor
    from execrl.execution.sandbox import level_rank, probe

    if level_rank(level) > level_rank(probe().level):
        pytest.skip(f"host grants less than {level}")
    name = f"execrl_planted_{os.getpid()}_{level}.py"
    targets = [Path(sysconfig.get_paths()["purelib"]), Path(execrl.__file__).parent]
    prog = "import os\nwrote = []\n"
    for d in targets:
        prog += (
            f"try:\n    open({str(d / name)!r}, 'w').write('raise SystemExit')\n"
            f"    wrote.append({str(d)!r})\nexcept OSError:\n    pass\n"
        )
    prog += "def f():\n    return len(wrote)\n"
    try:
        canary = subprocess.run(
            [sys.executable, "-c", prog + "print(f())\n"], capture_output=True, text=True
        )
        assert canary.stdout == f"{len(targets)}\n", canary
        for d in targets:
            (d / name).unlink()
        with Executor(workers=1, timeout_s=5.0, isolation=level) as ex:
            r = ex.run(
                [
                    ExecRequest(
                        program=prog, tests=Tests(style="assert", asserts=["assert f() == 0"])
                    )
                ]
            )[0]
        planted = [d for d in targets if (d / name).exists()]
        if os.geteuid() == 0 or level_rank(level) >= level_rank("cgroups"):
            assert r.passed and not planted, (r.outcome, r.error, planted)
        else:  # the documented limit of a non-root host
            assert r.outcome is Outcome.FAILED and planted == targets
    finally:
        for d in targets:
            (d / name).unlink(missing_ok=True)
