"""The syscall filter of a sandboxed child, and the one-shot gate that lets its runner exec.

Three filters, each compiled to BPF once per worker (libseccomp) and loaded after each fork:

- ``compile``: the deny list below. A compiler is a trusted binary on untrusted input, and
  g++ starts ``cc1plus``, ``as`` and ``ld``: it may exec.
- ``python``: the deny list, and ``execve``/``execveat`` refused outright (a Python program
  runs in the forked runner itself: nothing in its run needs to start a program).
- ``exec``: the deny list, and ``execve``/``execveat`` handed to the worker
  (``SECCOMP_RET_USER_NOTIF``). The runner installs it with a listener, the worker takes the
  listener (:func:`open_exec_gate`), checks that the first exec is the runner's own, of the
  binary it chose, lets exactly that one through and closes the listener. With no listener
  left, the kernel fails every later ``execve``/``execveat`` of the program and all its
  descendants with ``ENOSYS``: whatever the path, descriptor, flags or file type (ELF,
  shebang script, memfd, ``/proc/self/fd/N``, ``ld.so`` named directly). The listener is
  close-on-exec, so the program never holds it. Nor can it make one of its own: a filter it
  stacks with a listener would take the exec notification (the kernel gives it to the newest
  filter that asks) and could let it through, so ``seccomp()`` with
  ``SECCOMP_FILTER_FLAG_NEW_LISTENER`` is refused to every child (a program may still stack
  filters that only restrict it further).

Syscalls of another ABI (i386 ``int 0x80``, x32) do not match the native filter and kill the
process (libseccomp's bad-arch action).
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct

_libc = ctypes.CDLL(None, use_errno=True)

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SYS_SECCOMP, SYS_PIDFD_GETFD, SYS_EXECVE = 317, 438, 59  # x86_64
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER = 1, 8
NOTIF_RECV, NOTIF_SEND = 0xC0502100, 0xC0182101  # _IOWR('!', 0|1, seccomp_notif|_resp)
NOTIF_FLAG_CONTINUE = 1
KINDS = ("compile", "python", "exec")

# Denied to every sandboxed child with EPERM (clone3: ENOSYS, below), grouped by why. What
# outlives a program or is shared by its uid: keyrings, System V IPC, POSIX message queues.
# What the filter cannot see into: io_uring (its operations never pass seccomp). What reaches
# other processes or the kernel's internals: ptrace and friends, namespaces, mounts, modules,
# BPF, perf, userfaultfd, handles, clocks, swap, reboot.
DENY = {
    "other processes": (
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "process_madvise",
        "pidfd_getfd",
        "kcmp",
    ),
    "kernel keyrings": ("add_key", "keyctl", "request_key"),
    "System V IPC and POSIX message queues": (
        "shmget",
        "shmat",
        "shmdt",
        "shmctl",
        "msgget",
        "msgsnd",
        "msgrcv",
        "msgctl",
        "semget",
        "semop",
        "semtimedop",
        "semctl",
        "mq_open",
        "mq_unlink",
        "mq_timedsend",
        "mq_timedreceive",
        "mq_notify",
        "mq_getsetattr",
    ),
    "io_uring": ("io_uring_setup", "io_uring_enter", "io_uring_register"),
    "kernel attack surface": ("userfaultfd", "bpf", "perf_event_open", "fanotify_init"),
    "namespaces and mounts": (
        "unshare",
        "setns",
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "mount_setattr",
        "name_to_handle_at",
        "open_by_handle_at",
    ),
    "the machine": (
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "sethostname",
        "setdomainname",
        "iopl",
        "ioperm",
        "quotactl",
        "syslog",
        "vhangup",
        "lookup_dcookie",
        "uselib",
    ),
}
# clone() with any of these creates a namespace (CLONE_NEWTIME shares its bit with the exit
# signal in clone(): only clone3 and unshare take it, and both are denied)
CLONE_NAMESPACES = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
)


def denied_syscalls() -> list[str]:
    return [name for names in DENY.values() for name in names]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class CompiledFilter:
    """A seccomp filter compiled to BPF once (libseccomp) and loaded after each fork with one
    syscall: libseccomp's own ``load`` recompiles the filter every time (a third of a ms)."""

    def __init__(self, rules) -> None:
        with os.fdopen(
            os.memfd_create("execrl-seccomp"), "w+b"
        ) as fh:  # a pipe would block past 64 KiB
            rules.export_bpf(fh)
            fh.seek(0)
            bpf = fh.read()
        if not bpf or len(bpf) % 8:
            raise OSError("libseccomp exported no BPF program")
        self._buf = ctypes.create_string_buffer(bpf, len(bpf))
        self._prog = _SockFprog(len(bpf) // 8, ctypes.cast(self._buf, ctypes.c_void_p))

    def load(self) -> None:
        """Install the filter on the calling process (after ``PR_SET_NO_NEW_PRIVS``)."""
        if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self._prog), 0, 0) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"seccomp filter not installed: {os.strerror(e)}")

    def load_with_listener(self) -> int:
        """Install the filter and return its notification listener (close-on-exec)."""
        fd = _libc.syscall(
            SYS_SECCOMP,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            ctypes.byref(self._prog),
        )
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"seccomp filter not installed: {os.strerror(e)}")
        return fd


_FILTERS: dict[str, CompiledFilter] = {}


def syscall_filter(kind: str) -> CompiledFilter:
    """The seccomp filter of a child (compiled once per worker, loaded after each fork)."""
    if kind not in _FILTERS:
        _FILTERS[kind] = CompiledFilter(build_filter(kind))
    return _FILTERS[kind]


def build_filter(kind: str):
    import socket

    import pyseccomp as sc

    if kind not in KINDS:
        raise ValueError(f"filter kind {kind!r} unknown; one of {KINDS}")
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    for name in denied_syscalls():
        try:
            f.add_rule(deny, name)
        except (OSError, ValueError, RuntimeError):  # a syscall this architecture lacks
            pass
    for flag in CLONE_NAMESPACES:
        f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, which seccomp cannot read: libc falls back to clone
    # on ENOSYS, where the flags above are checked (Docker's default profile does the same)
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    # no Unix sockets to reach anything by name (a socketpair reaches nothing: the JVM needs one)
    f.add_rule(deny, "socket", sc.Arg(0, sc.EQ, socket.AF_UNIX))
    # no listener of the program's own: once the gate's is closed, a stacked filter with one
    # would receive every exec notification, and its holder could answer CONTINUE
    flag = SECCOMP_FILTER_FLAG_NEW_LISTENER
    f.add_rule(deny, "seccomp", sc.Arg(1, sc.MASKED_EQ, flag, flag))
    if kind != "compile":
        how = sc.NOTIFY if kind == "exec" else deny
        f.add_rule(how, "execve")
        f.add_rule(how, "execveat")
    return f


# ----------------------------------------------------------------------------- the exec gate
def send_listener(gate_fd: int, listener: int) -> None:
    """Child side: tell the worker which descriptor holds the listener, then let go of the pipe."""
    os.write(gate_fd, struct.pack("<i", listener))
    os.close(gate_fd)


def open_exec_gate(pid: int, pidfd: int, gate_fd: int, path: str, timeout: float) -> bool:
    """Worker side: take the child's listener, let its first exec through if it is the
    runner's ``execve`` of ``path`` (refuse it otherwise), and close the listener so that no
    later exec can pass. Returns whether the exec was let through; closes ``gate_fd``."""
    try:
        if not select.select([gate_fd], [], [], timeout)[0]:
            return False
        raw = os.read(gate_fd, 4)
    finally:
        os.close(gate_fd)
    if len(raw) != 4:  # the child ended before its filter went on
        return False
    listener = _libc.syscall(SYS_PIDFD_GETFD, pidfd, struct.unpack("<i", raw)[0], 0)
    if listener < 0:
        return False
    try:
        poll = select.poll()
        poll.register(listener, select.POLLIN)
        if not any(ev & select.POLLIN for _, ev in poll.poll(int(timeout * 1000))):
            return False  # the child ended (POLLHUP) or never asked
        notif = ctypes.create_string_buffer(80)  # struct seccomp_notif, zeroed as the kernel wants
        if _libc.ioctl(listener, NOTIF_RECV, notif) != 0:
            return False
        nid, npid, _, nr = struct.unpack_from("<QIIi", notif.raw)
        pathname = struct.unpack_from("<Q", notif.raw, 32)[0]  # seccomp_data.args[0]
        ok = npid == pid and nr == SYS_EXECVE and _read_string(pid, pathname) == path
        resp = ctypes.create_string_buffer(
            struct.pack("<QqiI", nid, 0, 0, NOTIF_FLAG_CONTINUE)
            if ok
            else struct.pack("<QqiI", nid, 0, -errno.EPERM, 0),
            24,
        )
        if _libc.ioctl(listener, NOTIF_SEND, resp) != 0:
            return False  # the child is gone: its exec never happened
        return ok
    finally:
        os.close(listener)  # from here on every exec in the program's tree fails with ENOSYS


def _read_string(pid: int, addr: int, limit: int = 4096) -> str | None:
    """A NUL-terminated string in process ``pid``'s memory (the path its exec names)."""
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.pread(fd, limit, addr)
    except OSError:
        return None
    finally:
        os.close(fd)
    end = data.find(b"\0")
    return None if end < 0 else data[:end].decode("utf-8", "surrogateescape")
