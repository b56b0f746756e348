"""Never root: below ``sealed`` too (the ``process``, ``namespaces`` and ``cgroups`` levels a
cluster may give), a program started by root runs as an unprivileged uid of its worker and
cannot reach the judge or the other worker.

The attack program reports what it could do: its uids, the judge's working directory and
memory through ``/proc``, a signal to every worker, a sweep that kills whatever it can see, and
files dropped into the host's world-writable directories. The canary is the same program run
directly by this (root) process, where every one of these succeeds.
"""

from __future__ import annotations

import errno
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

from execrl.execution import ExecRequest, Executor
from execrl.execution.sandbox import PROGRAM_UID, UID_BLOCK, UID_BLOCKS, level_rank, probe
from execrl.vocabulary import Tests

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the case at issue)")

SHARED_DIRS = ("/tmp", "/var/tmp", "/run/lock", "/dev/shm")
ATTACK = textwrap.dedent(
    """
    import ctypes, json, os, sys
    info = json.loads(sys.stdin.read())
    def errno_of(fn):
        try:
            fn()
            return 0
        except OSError as e:
            return e.errno
    j = info["judge"]
    out = {"euid": os.geteuid(), "uid": os.getuid()}
    out["judge_cwd"] = errno_of(lambda: os.listdir(f"/proc/{j}/cwd"))
    out["judge_mem"] = errno_of(lambda: open(f"/proc/{j}/mem", "rb").close())
    out["judge_visible"] = str(j) in os.listdir("/proc")
    out["signal_workers"] = [errno_of(lambda w=w: os.kill(w, info["sig"])) for w in info["workers"]]
    if info["ptrace"]:
        libc = ctypes.CDLL(None, use_errno=True)
        # PTRACE_SEIZE: the permission check of an attach, without stopping the judge if it works
        out["ptrace_judge"] = 0 if libc.ptrace(0x4206, j, 0, 0) == 0 else ctypes.get_errno()
    for d in info["dirs"]:
        p = os.path.join(d, info["name"])
        try:
            with open(p, "w") as f:
                f.write("x")
            out[d] = ["wrote", os.stat(p).st_uid]
        except OSError as e:
            out[d] = ["denied", e.errno]
    print(json.dumps(out))
    """
)


def _cleanup(name: str) -> list[tuple[str, int]]:
    """Remove what a program dropped into the host's shared dirs; returns (dir, owner) of each."""
    found = []
    for d in SHARED_DIRS:
        p = Path(d, name)
        if p.exists():
            found.append((d, p.stat().st_uid))
            p.unlink()
    return found


def _info(ex: Executor | None, name: str, sig: int, ptrace: bool) -> str:
    workers = [h.proc.pid for h in ex._handles] if ex is not None else [os.getpid()]
    dirs = [d for d in SHARED_DIRS if os.path.isdir(d)]
    return json.dumps(
        {
            "judge": os.getpid(),
            "workers": workers,
            "sig": sig,
            "ptrace": ptrace,
            "dirs": dirs,
            "name": name,
        }
    )


def test_canary_the_attack_succeeds_as_root(tmp_path) -> None:
    name = f"execrl-never-root-naive-{os.getpid()}"
    try:
        r = subprocess.run(
            [sys.executable, "-c", ATTACK],
            input=_info(None, name, 0, ptrace=False),  # signal 0: the permission check alone
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
        out = json.loads(r.stdout)
    finally:
        dropped = _cleanup(name)
    assert out["euid"] == 0 and out["judge_cwd"] == 0 and out["judge_mem"] == 0, out
    assert out["judge_visible"] and out["signal_workers"] == [0], out
    assert all(out[d] == ["wrote", 0] for d in SHARED_DIRS if os.path.isdir(d)), out
    assert dropped and all(uid == 0 for _, uid in dropped)


@pytest.mark.parametrize("level", ["process", "namespaces", "cgroups"])
def test_a_program_started_by_root_is_never_root(level: str) -> None:
    if level_rank(level) > level_rank(probe().level):
        pytest.skip(f"host grants less than {level}")
    name = f"execrl-never-root-{level}-{os.getpid()}"
    try:
        with Executor(workers=2, timeout_s=5.0, isolation=level) as ex:
            stdin = _info(ex, name, signal.SIGSTOP, ptrace=True)
            r = ex.run([ExecRequest(program=ATTACK, mode="run", stdin=stdin)])[0]
            out = json.loads(r.stdout)
            time.sleep(0.1)
            stopped = [
                h.proc.pid
                for h in ex._handles
                if psutil.Process(h.proc.pid).status() == psutil.STATUS_STOPPED
            ]
            ok = ex.run(
                [
                    ExecRequest(
                        program="def f():\n    return 1\n",
                        tests=Tests(style="assert", asserts=["assert f() == 1"]),
                    )
                ]
            )[0]
            charged = ex.stats["charged_failures"]
    finally:
        dropped = _cleanup(name)
    uids = range(PROGRAM_UID, PROGRAM_UID + UID_BLOCK * UID_BLOCKS)
    assert out["euid"] == out["uid"] and out["uid"] in uids, out
    # the judge's cwd and memory: refused (EACCES), or not even visible (hidepid: ENOENT)
    hidden = level != "process"
    assert out["judge_cwd"] == out["judge_mem"] == (errno.ENOENT if hidden else errno.EACCES), out
    assert out["judge_visible"] is not hidden, out
    # SIGSTOP to every worker and PTRACE_SEIZE of the judge: EPERM from the kernel (they exist)
    assert out["signal_workers"] == [errno.EPERM] * 2 and out["ptrace_judge"] == errno.EPERM, out
    assert stopped == [] and ok.passed and charged == 0
    # nothing root-owned anywhere; below namespaces the shared dirs are the host's (the
    # program's uid may write there: the documented limit of `process`), else private tmpfs
    for d in SHARED_DIRS:
        if d in out:
            assert out[d][0] == "denied" or out[d][1] != 0, (d, out[d])
    assert all(uid != 0 for _, uid in dropped), dropped
    if hidden:
        assert dropped == [], dropped


@pytest.mark.parametrize("level", ["process", "namespaces"])
def test_a_program_cannot_kill_the_other_workers_program(level: str) -> None:
    """Two programs at once, one per worker: the victim names itself ``execrl-victim``, the
    other kills every process of that name it can see (only those: were the defence to fail,
    nothing else on the host is hit). The victim still finishes; at ``process`` the killer saw
    it and was refused (EPERM: the canary that the kill reached the kernel), at ``namespaces``
    it cannot even see it (``/proc`` hidepid)."""
    if level_rank(level) > level_rank(probe().level):
        pytest.skip(f"host grants less than {level}")
    victim = textwrap.dedent("""
        import ctypes, time
        ctypes.CDLL(None).prctl(15, b"execrl-victim", 0, 0, 0)  # PR_SET_NAME
        time.sleep(1.5)
        print("ALIVE")
    """)
    killer = textwrap.dedent("""
        import collections, os, signal, time
        time.sleep(0.5)
        seen = collections.Counter()
        for p in os.listdir("/proc"):
            try:
                if not p.isdigit() or open(f"/proc/{p}/comm").read().strip() != "execrl-victim":
                    continue
                os.kill(int(p), signal.SIGKILL)
                seen["killed"] += 1
            except PermissionError:
                seen["refused"] += 1
            except OSError:
                pass
        print(dict(seen))
    """)
    with Executor(workers=2, timeout_s=5.0, isolation=level) as ex:
        a, b = ex.run(
            [ExecRequest(program=victim, mode="run"), ExecRequest(program=killer, mode="run")]
        )
        assert ex.stats["charged_failures"] == 0
    assert a.stdout == "ALIVE\n", (a.outcome, a.error)
    assert eval(b.stdout) == ({"refused": 1} if level == "process" else {}), b.stdout
