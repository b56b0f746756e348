"""What each layer of a program's launch costs (the layers of issue 28), one at a time.

    python bench/sandbox_launch.py [--n 300]

Each row is the median over ``--n`` repetitions, in microseconds, of one step done the way a
worker does it: a fork and exit (the floor every program pays); the same with the ``python``
seccomp filter loaded (every Python program); a fork that execs ``/bin/true`` under the
``compile`` filter (exec allowed) and through the one-shot exec gate (every compiled program's
run: the listener handed over with ``pidfd_getfd``, the path read and checked, the exec let
through); lending and taking back a compile dir (two ``chmod``); and the filter's cost per
system call (``getppid`` with and without the filter). Needs root and libseccomp; writes
bench/results/sandbox_launch.json.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from execrl.execution import seccomp  # noqa: E402

libc = ctypes.CDLL(None, use_errno=True)


def _fork(child) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            child()
        finally:
            os._exit(0)
    return pid


def fork_exit() -> None:
    os.waitpid(_fork(lambda: None), 0)


def fork_filter() -> None:
    def child():
        libc.prctl(38, 1, 0, 0, 0)
        seccomp.syscall_filter("python").load()

    os.waitpid(_fork(child), 0)


def exec_plain() -> None:
    def child():
        libc.prctl(38, 1, 0, 0, 0)
        seccomp.syscall_filter("compile").load()
        os.execv("/bin/true", ["true"])

    os.waitpid(_fork(child), 0)


def exec_gated() -> None:
    r, w = os.pipe()

    def child():
        os.close(r)
        libc.prctl(38, 1, 0, 0, 0)
        seccomp.send_listener(w, seccomp.syscall_filter("exec").load_with_listener())
        os.execv("/bin/true", ["true"])

    pid = _fork(child)
    os.close(w)
    pidfd = os.pidfd_open(pid)
    assert seccomp.open_exec_gate(pid, pidfd, r, "/bin/true", 10.0)
    os.close(pidfd)
    os.waitpid(pid, 0)


def lend(d: str) -> None:
    os.chmod(d, 0o750)
    os.chmod(d, 0o700)


def syscalls(filtered: bool, n: int = 20000) -> float:
    """Microseconds per getppid() in a child, with or without the filter."""
    r, w = os.pipe()

    def child():
        if filtered:
            libc.prctl(38, 1, 0, 0, 0)
            seccomp.syscall_filter("python").load()
        t0 = time.perf_counter()
        for _ in range(n):
            libc.getppid()
        os.write(w, str((time.perf_counter() - t0) / n * 1e6).encode())

    pid = _fork(child)
    os.close(w)
    out = os.read(r, 100)
    os.close(r)
    os.waitpid(pid, 0)
    return float(out)


def medians_us(steps: dict, n: int) -> dict[str, float]:
    """Median microseconds of each step, the steps taken in turn (a load that comes and goes
    falls on every step alike)."""
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(n):
        for k, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: 1e6 * statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--out", default=str(ROOT / "bench/results/sandbox_launch.json"))
    args = ap.parse_args()
    for kind in seccomp.KINDS:
        seccomp.syscall_filter(kind)  # compiled once per worker, as the worker does
    with tempfile.TemporaryDirectory() as d:
        rows = medians_us(
            {
                "fork + exit": fork_exit,
                "fork + python filter + exit": fork_filter,
                "fork + exec /bin/true (compile filter)": exec_plain,
                "fork + exec /bin/true through the gate": exec_gated,
                "lend + take back a compile dir": lambda: lend(d),
            },
            args.n,
        )
        per_call = {False: [], True: []}
        for _ in range(7):
            for filtered in (False, True):
                per_call[filtered].append(syscalls(filtered))
        rows["getppid, no filter"] = statistics.median(per_call[False])
        rows["getppid, python filter"] = statistics.median(per_call[True])
    for k, v in rows.items():
        print(f"{k:<42} {v:9.2f} us")
    print(
        f"{'the gate, per compiled run':<42} "
        f"{rows['fork + exec /bin/true through the gate'] - rows['fork + exec /bin/true (compile filter)']:9.2f} us"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"n": args.n, "median_us": rows}, indent=2))


if __name__ == "__main__":
    main()
