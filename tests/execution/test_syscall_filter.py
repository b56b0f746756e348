"""The seccomp deny list (``execution/seccomp.py``), one syscall at a time, and what it stops a
sealed program from keeping or sharing.

``test_each_denied_syscall_*``: two forked children make every denied call with harmless
arguments (bad pointers, descriptors or magic numbers: nothing happens even as root), one
under the filter the workers load and one without. Without it the kernel answers each call
itself (success, EFAULT, EBADF, EINVAL...: never EPERM); under it every call gets the
filter's EPERM (clone3: ENOSYS). So each rule is shown to be what refuses its call.

``test_a_sealed_program_*``: the calls that succeed for an unprivileged user on this host
(keyrings, System V IPC, POSIX message queues, io_uring, user namespaces, userfaultfd, perf)
made by a sealed program, against the same program run as an unprivileged uid with no filter
(the canary: there each succeeds).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import subprocess
import sys
import textwrap

import pytest

from execrl.execution import ExecRequest, Executor
from execrl.execution.sandbox import probe
from execrl.execution.seccomp import CLONE_NAMESPACES, KINDS, denied_syscalls, syscall_filter

root_with_seccomp = pytest.mark.skipif(
    os.geteuid() != 0 or not probe().seccomp, reason="needs root and libseccomp"
)
sealed_only = pytest.mark.skipif(
    probe().level != "sealed", reason="needs the sealed level (root, bwrap, libseccomp, cgroup v1)"
)

CLONE_THREAD = 0x00010000
# harmless arguments per syscall (default: all zero): each call fails or does nothing, as root too
ARGS = {
    "ptrace": (16, 0x7FFFFFFF),  # PTRACE_ATTACH to no process: ESRCH
    "process_vm_readv": (0x7FFFFFFF, 0, 0, 0, 0, 0),
    "process_vm_writev": (0x7FFFFFFF, 0, 0, 0, 0, 0),
    "process_madvise": (-1, 0, 0, 0, 0),
    "pidfd_getfd": (-1, 0, 0),
    "kcmp": (0x7FFFFFFF, 0x7FFFFFFF, 0, 0, 0),
    "keyctl": (0xDEAD,),
    "shmget": (0x7E57, 0, 0),  # a key nobody made, no IPC_CREAT: ENOENT
    "shmat": (-1, 0, 0),
    "shmctl": (-1, 0, 0),
    "msgget": (0x7E57, 0),
    "msgsnd": (-1, 0, 0, 0),
    "msgrcv": (-1, 0, 0, 0, 0),
    "msgctl": (-1, 0, 0),
    "semget": (0x7E57, 0, 0),
    "semop": (-1, 0, 0),
    "semtimedop": (-1, 0, 0, 0),
    "semctl": (-1, 0, 0),
    "mq_timedsend": (-1, 0, 0, 0, 0),
    "mq_timedreceive": (-1, 0, 0, 0, 0),
    "mq_notify": (-1, 0),
    "mq_getsetattr": (-1, 0, 0),
    "io_uring_enter": (-1, 0, 0, 0, 0, 0),
    "io_uring_register": (-1, 0, 0, 0),
    "bpf": (0xDEAD, 0, 0),
    "perf_event_open": (0, 0, -1, -1, 0),
    "fanotify_init": (0xFFFFFFFF, 0),
    "setns": (-1, 0),
    "fsconfig": (-1, 0, 0, 0, 0),
    "fsmount": (-1, 0, 0),
    "fspick": (-1, 0, 0),
    "move_mount": (-1, 0, -1, 0, 0),
    "open_tree": (-1, 0, 0),
    "mount_setattr": (-1, 0, 0, 0, 0),
    "name_to_handle_at": (-1, 0, 0, 0, 0),
    "open_by_handle_at": (-1, 0, 0),
    "kexec_load": (0, 0, 0, 0xFFFFFFFF),  # invalid flags: EINVAL (zero segments would unload)
    "kexec_file_load": (-1, -1, 0, 0, 0xFFFFFFFF),
    "finit_module": (-1, 0, 0),
    "reboot": (0, 0, 0, 0),  # wrong magic: EINVAL
    "acct": (1,),  # a bad pointer: EFAULT (NULL would switch accounting off)
    "settimeofday": (1, 0),
    "sethostname": (1, 4),
    "setdomainname": (1, 4),
    "syslog": (0xDEAD, 0, 0),
}
CALLS = (
    [(n, ARGS.get(n, ())) for n in denied_syscalls()]
    + [(f"clone+{f:#x}", (f | CLONE_THREAD, 0, 0, 0, 0)) for f in CLONE_NAMESPACES]
    + [("clone3", (0, 0)), ("socket_unix", (1, 1, 0)), ("execve", (0, 0, 0))]
)
SYSCALL_OF = {"socket_unix": "socket"}


def _errnos(kind: str | None) -> dict[str, int]:
    """Every call of CALLS in a forked child (a new session, UTS, IPC and mount namespace, so
    that nothing could leave it even by mistake), under the filter ``kind`` or none."""
    import pyseccomp as sc

    arch = sc.system_arch()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setsid()
            libc = ctypes.CDLL(None, use_errno=True)
            libc.unshare(0x04000000 | 0x08000000 | 0x00020000)
            libc.prctl(38, 1, 0, 0, 0)
            if kind is not None:
                syscall_filter(kind).load()
            out = {}
            for name, args in CALLS:
                nr = sc.resolve_syscall(arch, SYSCALL_OF.get(name, name.split("+")[0]))
                # all six registers set: an argument left out would be whatever the caller's
                # registers held (a stack address adjtimex or io_uring_setup then writes into)
                full = (*args, *(0,) * (6 - len(args)))
                ctypes.set_errno(0)
                ret = libc.syscall(nr, *(ctypes.c_long(a) for a in full))
                out[name] = ctypes.get_errno() if ret == -1 else 0
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


@root_with_seccomp
@pytest.mark.parametrize("kind", KINDS)
def test_each_denied_syscall_is_refused_by_the_filter(kind: str) -> None:
    free, filtered = _errnos(None), _errnos(kind)
    assert set(free) == set(filtered) == {n for n, _ in CALLS}
    for name, _ in CALLS:
        # the canary: with no filter the kernel itself answers, and never with EPERM
        assert free[name] != errno.EPERM, (name, free[name])
        if name == "clone3":
            want = errno.ENOSYS  # libc falls back to clone, whose flags the filter reads
        elif name == "execve":
            want = {"compile": free[name], "python": errno.EPERM, "exec": errno.ENOSYS}[kind]
        else:
            want = errno.EPERM
        assert filtered[name] == want, (kind, name, filtered[name], free[name])


@root_with_seccomp
def test_threads_and_fork_still_work_under_the_filter() -> None:
    """clone3 is ENOSYS and clone without namespace flags is allowed: threads and fork work."""
    prog = textwrap.dedent("""
        import os, threading
        box = []
        t = threading.Thread(target=lambda: box.append(1))
        t.start()
        t.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        os.write(OUT, f"{box} {code}".encode())
    """)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)
            syscall_filter("python").load()
            exec(compile(prog, "<prog>", "exec"), {"OUT": w})
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 1000).decode()
    os.waitpid(pid, 0)
    assert out == "[1] 7"


# ----------------------------------------------------------------------------- in a sealed program
KERNEL_OBJECTS = textwrap.dedent(
    r"""
    import ctypes, os, struct
    libc = ctypes.CDLL(None, use_errno=True)
    def call(nr, *args):
        ctypes.set_errno(0)
        ret = libc.syscall(nr, *(ctypes.c_long(a) for a in args))
        return ret, ctypes.get_errno()
    out = {}
    def report(name, ret, err):
        out[name] = "ok" if ret >= 0 else err
    # a key in a keyring (the process keyring here: the canary leaves nothing behind)
    ret, err = call(248, ctypes.cast(ctypes.c_char_p(b"user"), ctypes.c_void_p).value,
                    ctypes.cast(ctypes.c_char_p(b"execrl-canary"), ctypes.c_void_p).value,
                    ctypes.cast(ctypes.c_char_p(b"x"), ctypes.c_void_p).value, 1, -2)
    report("add_key", ret, err)
    report("keyctl", *call(250, 0, -2, 1))  # KEYCTL_GET_KEYRING_ID of the process keyring
    # System V IPC and POSIX message queues (removed at once where they are made)
    ret, err = call(29, 0, 4096, 0o600)
    report("shmget", ret, err)
    if ret >= 0: call(31, ret, 0, 0)
    ret, err = call(68, 0, 0o600)
    report("msgget", ret, err)
    if ret >= 0: call(71, ret, 0, 0)
    ret, err = call(64, 0, 1, 0o600)
    report("semget", ret, err)
    if ret >= 0: call(66, ret, 0, 0)
    name = b"execrl-canary-%d" % os.getpid()  # the raw syscall takes no leading slash
    ret, err = call(240, ctypes.cast(ctypes.c_char_p(name), ctypes.c_void_p).value, 0o102, 0o600, 0)
    report("mq_open", ret, err)
    if ret >= 0: call(241, ctypes.cast(ctypes.c_char_p(name), ctypes.c_void_p).value)
    params = ctypes.create_string_buffer(120)
    report("io_uring_setup", *call(425, 4, ctypes.addressof(params)))
    report("userfaultfd", *call(323, 1))  # UFFD_USER_MODE_ONLY
    # perf_event_attr: software task clock of this process, user space only (exclude_kernel, _hv)
    attr = ctypes.create_string_buffer(struct.pack("<IIQQQQQ", 1, 128, 1, 0, 0, 0, 0x60), 128)
    report("perf_event_open", *call(298, ctypes.addressof(attr), 0, -1, -1, 0))
    # clone and clone3 into a new user namespace: a child that leaves at once
    ret, err = call(56, 0x10000000 | 17, 0, 0, 0, 0)
    if ret == 0: os._exit(0)
    report("clone_newuser", ret, err)
    args = ctypes.create_string_buffer(struct.pack("<QQQQQQQQQQQ", 0x10000000, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0), 88)
    ret, err = call(435, ctypes.addressof(args), 88)
    if ret == 0: os._exit(0)
    report("clone3_newuser", ret, err)
    report("unshare_user", *call(272, 0x10000000))  # last: a nested one would need a uid map
    print("CANARY", sorted(out.items()))
    """
)
OBJECTS = [
    "add_key",
    "keyctl",
    "shmget",
    "msgget",
    "semget",
    "mq_open",
    "io_uring_setup",
    "userfaultfd",
    "perf_event_open",
    "unshare_user",
    "clone_newuser",
    "clone3_newuser",
]


# the canary runs as an unprivileged uid, in a fresh IPC namespace so that nothing it makes could
# outlive it (the uid is dropped in the program: the interpreter may live where that uid cannot read)
DROP = "import ctypes, os\nctypes.CDLL(None).unshare(0x08000000)\nos.setgroups([])\nos.setgid(65533)\nos.setuid(65533)\n"


@sealed_only
def test_a_sealed_program_keeps_and_shares_no_kernel_object(tmp_path) -> None:
    os.chmod(tmp_path, 0o755)
    naive = subprocess.run(
        [sys.executable, "-c", DROP + KERNEL_OBJECTS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert naive.stdout == f"CANARY {sorted((o, 'ok') for o in OBJECTS)}\n", naive
    with Executor(workers=1, timeout_s=5.0, min_isolation="sealed") as ex:
        r = ex.run([ExecRequest(program=KERNEL_OBJECTS, mode="run")])[0]
    want = dict.fromkeys(OBJECTS, errno.EPERM) | {"clone3_newuser": errno.ENOSYS}
    assert r.stdout == f"CANARY {sorted(want.items())}\n", (r.outcome, r.stdout, r.error)
