"""The second attacker's pass over the sandbox and the judge (issue 28 acceptance).

New attacks against the code that closed issue 28's holes, each with a canary proving it really
ran: the same program outside the sandbox (or under a naive harness, or a fresh interpreter)
does what the attack claims. What each found, and what it now gets:

- **A listener of the program's own** (C++): once the exec gate's listener is closed, a program
  stacks a seccomp filter of its own with ``SECCOMP_FILTER_FLAG_NEW_LISTENER``; the kernel hands
  each ``execve`` notification to the newest filter that asks, so the program's own thread
  answered ``CONTINUE`` and ``/bin/echo`` ran (found; fixed: that flag is refused). Exec from a
  thread, through ``vfork`` and ``posix_spawn`` was already refused and still is.
- **An interpreter loaded, not executed** (C++): ``dlopen`` of ``libpython3.so`` or of the JDK's
  ``libjvm.so`` runs Python code, or compiles and runs the oracle's Java source, in the program's
  own process: the issue's translation cheat without any exec (found; open, ``xfail``).
- **Earlier programs in a later one's memory** (Python): a Python program's child is a fork of
  its worker, whose heap still holds what earlier runs sent and printed; a later program reads
  their source, stdin and stdout from its own memory (found; open, ``xfail``).
- **Compile outputs charged to the next program** (C++ then Python): a compiled binary stays
  cached on the worker's tmpfs, its pages charged to the memory cgroup every program runs in; a
  few 24 MB binaries made an honest 96 MB program a ``memory_limit`` (found; fixed: compiles run
  in a cgroup of their own and the cache is capped in bytes).
- **A quadratic reply**: ``Fraction`` replies whose terms have 262,144 bits cost the judge a gcd
  each, seconds of CPU per 16 MiB frame (found; fixed: terms are capped like ints in text).
- **StopIteration out of a call** ends the test's own ``map``/``filter`` iteration, so
  ``assert all(map(lambda x: f(x) == ..., xs))`` passed a wrong program (found, as in the
  official harness; fixed: it reaches the test as a ``RuntimeError``, as PEP 479 does).
- **Plain-Python streams and exit**: ``sys.stdin.mode`` (which the common PyRival fast-I/O
  template reads), buffered ``sys.stdin.buffer``, ``\\r`` kept on input, ``atexit`` handlers
  and non-daemon threads at exit: each differed from a fresh interpreter (found; fixed).
- Held: the cgroup files a program can see are not its to write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest

from execrl.execution import ExecRequest, Executor, Outcome, plain
from execrl.execution.sandbox import probe
from execrl.execution.worker import COMPILE_CACHE_MB
from execrl.vocabulary import Tests

from helpers.common import has_toolchain
from helpers.naive_harness import check_rejected, describe, naive_assert_concat, with_canary

sealed_only = pytest.mark.skipif(
    probe().level != "sealed", reason="needs the sealed level (root, bwrap, libseccomp, cgroup v1)"
)
needs_gxx = pytest.mark.skipif(not has_toolchain("g++"), reason="Requires: g++")


@pytest.fixture(scope="module")
def sealed():
    """One worker, so that programs follow each other on the same worker."""
    with Executor(workers=1, timeout_s=10.0, memory_mb=512, min_isolation="sealed") as ex:
        yield ex


def run_native(tmp_path, source: str, timeout: float = 120) -> str:
    """The canary: compile ``source`` as the executor does and run it here, outside the sandbox."""
    (tmp_path / "main.cpp").write_text(source)
    subprocess.run(["g++", "-O1", "-std=c++17", "-o", "main", "main.cpp"], cwd=tmp_path, check=True)
    return subprocess.run(
        ["./main"], cwd=tmp_path, capture_output=True, text=True, timeout=timeout
    ).stdout


def routes(stdout: str) -> dict[str, str]:
    """route -> "PWNED" or what it failed with (an errno, a signal)."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        if m := re.fullmatch(r"PWNED-(\w+).*", line.strip()):
            out[m.group(1)] = "PWNED"
        elif m := re.fullmatch(r"DENIED (\w+) (.+)", line.strip()):
            out.setdefault(m.group(1), m.group(2))
    return out


# ----------------------------------------------------------------------------- exec, again
EXEC_ROUTES = ["own_listener", "thread_execve", "vfork_execve", "posix_spawn"]
EXEC_ATTACK = textwrap.dedent(
    r"""
    #include <bits/stdc++.h>
    #include <linux/filter.h>
    #include <linux/seccomp.h>
    #include <spawn.h>
    #include <stddef.h>
    #include <sys/ioctl.h>
    #include <sys/prctl.h>
    #include <sys/syscall.h>
    #include <sys/wait.h>
    #include <unistd.h>
    extern char** environ;
    static char* ECHO_ARGV(const char* tag) {
        static char buf[64];
        snprintf(buf, sizeof buf, "PWNED-%s", tag);
        return buf;
    }

    // Stack a filter of our own that sends execve/execveat to a listener we hold, then answer
    // the notification of a child's exec with CONTINUE. Returns only if a step was refused.
    static void own_listener() {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 2, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execveat, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        };
        struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        long lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (lfd < 0) { printf("DENIED own_listener %d\n", errno); return; }
        pid_t pid = fork();
        if (pid == 0) {
            char* argv[] = {(char*)"echo", ECHO_ARGV("own_listener"), nullptr};
            execve("/bin/echo", argv, environ);
            printf("DENIED own_listener exec %d\n", errno);
            fflush(stdout);
            _exit(0);
        }
        struct seccomp_notif req;
        memset(&req, 0, sizeof req);
        if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
            struct seccomp_notif_resp resp;
            memset(&resp, 0, sizeof resp);
            resp.id = req.id;
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        }
        int st;
        waitpid(pid, &st, 0);
    }

    static void thread_execve() {
        int err = 0;
        std::thread t([&] {
            char* argv[] = {(char*)"echo", ECHO_ARGV("thread_execve"), nullptr};
            execve("/bin/echo", argv, environ);
            err = errno;
        });
        t.join();
        printf("DENIED thread_execve %d\n", err);
    }

    static void vfork_execve() {
        static char* argv[] = {(char*)"echo", ECHO_ARGV("vfork_execve"), nullptr};
        static volatile int err = 0;
        pid_t pid = vfork();
        if (pid == 0) {
            execve("/bin/echo", argv, environ);
            err = errno;
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        if (err) printf("DENIED vfork_execve %d\n", err);
    }

    static void posix_spawn_() {
        char* argv[] = {(char*)"echo", ECHO_ARGV("posix_spawn"), nullptr};
        pid_t pid;
        int r = posix_spawn(&pid, "/bin/echo", nullptr, nullptr, argv, environ);
        if (r != 0) { printf("DENIED posix_spawn %d\n", r); return; }
        int st;
        waitpid(pid, &st, 0);
    }

    int main() {
        puts("CANARY");
        fflush(stdout);
        void (*routes[])() = {own_listener, thread_execve, vfork_execve, posix_spawn_};
        for (auto r : routes) {  // each in a child of its own: a filter it stacks stays there
            pid_t pid = fork();
            if (pid == 0) { r(); fflush(stdout); _exit(0); }
            int st;
            waitpid(pid, &st, 0);
            fflush(stdout);
        }
    }
    """
)


@sealed_only
@needs_gxx
def test_a_program_cannot_open_an_exec_gate_of_its_own(sealed, tmp_path) -> None:
    """Before the fix ``own_listener`` printed PWNED sealed: the program's own listener let its
    exec through after the worker's gate had closed (the same holds wherever the gate is: any
    level where libseccomp is, unless a lower level is asked for, which drops the filter)."""
    assert routes(run_native(tmp_path, EXEC_ATTACK)) == dict.fromkeys(EXEC_ROUTES, "PWNED")
    r = sealed.run([ExecRequest(program=EXEC_ATTACK, language="cpp", mode="run")])[0]
    assert r.stdout.startswith("CANARY") and r.outcome is Outcome.PASSED, (r.outcome, r.error)
    # the listener is refused (EPERM); every exec still fails in the kernel (ENOSYS)
    want = {"own_listener": "1", "thread_execve": "38", "vfork_execve": "38", "posix_spawn": "38"}
    assert routes(r.stdout) == want, r.stdout


# ----------------------------------------------------------------------------- the judge
def _fraction_frame(bits: int, count: int = 1) -> bytes:
    """A reply frame ``["ok", [Fraction, ...], []]`` of terms with ``bits`` bits each, coprime."""
    num, den = (1 << bits) - 1, (1 << bits) + 1  # odd neighbours: gcd 1, the gcd runs to the end
    one = ["q", ["I", format(num, "x")], ["I", format(den, "x")]]
    return json.dumps(["l", ["ok", ["l", [one] * count], ["l", []]]]).encode()


def test_a_fraction_with_huge_terms_is_over_budget(monkeypatch) -> None:
    """Building a Fraction takes a gcd, quadratic in its terms: two 262,144-bit terms cost the
    judge ~74 ms each here, ~9 s of CPU per 16 MiB frame (a frame of small tuples: ~3 s). The
    terms are now capped at ``MAX_FRACTION_BITS``; the canary is the same frame decoded with
    the cap lifted, which really builds the Fraction (its terms keep their 262,144 bits)."""
    frame = _fraction_frame(4 * plain.MAX_INT_HEX - 1)  # the widest ints a frame may carry
    with pytest.raises(plain.OverBudget):
        plain.decode(frame)
    with monkeypatch.context() as m:
        m.setattr(plain, "MAX_FRACTION_BITS", 1 << 20)
        (v,) = plain.decode(frame)[1]
        assert type(v) is Fraction and v.denominator.bit_length() == 4 * plain.MAX_INT_HEX
    # at the cap an honest value still decodes
    (v,) = plain.decode(_fraction_frame(plain.MAX_FRACTION_BITS - 1))[1]
    assert v.numerator == (1 << plain.MAX_FRACTION_BITS - 1) - 1


def test_a_program_returning_a_huge_fraction_fails_as_reply_too_large(executor) -> None:
    prog = "from fractions import Fraction\ndef f():\n    return Fraction(2**262000 - 1, 2**262000 + 1)\n"
    t = Tests(style="assert", asserts=["assert f() == 1"])
    (r,) = executor.run([ExecRequest(program=prog, tests=t)])
    assert r.outcome is Outcome.FAILED and r.error_type == "ReplyTooLarge", (r.outcome, r.error)


STOPITERATION = with_canary(
    "stopiteration_ends_the_tests_map", "def f(x):\n    @CANARY@\n    raise StopIteration\n"
)
MAP_ASSERTS = [
    "assert all(map(lambda x: f(x) == x + 1, range(5)))",
    "assert not any(filter(lambda x: f(x) != x + 1, range(5)))",
]


def test_stopiteration_out_of_a_call_does_not_end_the_tests_iteration(executor) -> None:
    """Raised inside the test's own ``map``/``filter``, a StopIteration ended that iteration and
    ``all([])`` passed: execrl judged this program passed, as the official harness does (the
    canary). It now reaches the test as an error of the program's that ends nothing."""
    naive = naive_assert_concat(STOPITERATION, MAP_ASSERTS)
    assert naive.passed and "CANARY:stopiteration_ends_the_tests_map" in naive.stderr
    t = Tests(style="assert", asserts=MAP_ASSERTS)
    (r,) = executor.run([ExecRequest(program=STOPITERATION, tests=t)])
    check_rejected("stopiteration_ends_the_tests_map", r)
    assert r.outcome is Outcome.RUNTIME_ERROR and r.error_type == "StopIteration", describe(r)
    honest = "def f(x):\n    return x + 1\n"
    (r,) = executor.run([ExecRequest(program=honest, tests=t)])
    assert r.outcome is Outcome.PASSED, describe(r)


# ----------------------------------------------------------------------------- plain-Python semantics
PYRIVAL_FASTIO = """import os, sys
from io import BytesIO, IOBase
BUFSIZE = 8192
class FastIO(IOBase):
    newlines = 0
    def __init__(self, file):
        self._fd = file.fileno()
        self.buffer = BytesIO()
        self.writable = "x" in file.mode or "r" not in file.mode
        self.write = self.buffer.write if self.writable else None
    def readline(self):
        while self.newlines == 0:
            b = os.read(self._fd, max(os.fstat(self._fd).st_size, BUFSIZE))
            self.newlines = b.count(b"\\n") + (not b)
            ptr = self.buffer.tell()
            self.buffer.seek(0, 2), self.buffer.write(b), self.buffer.seek(ptr)
        self.newlines -= 1
        return self.buffer.readline()
    def flush(self):
        if self.writable:
            os.write(self._fd, self.buffer.getvalue())
            self.buffer.truncate(0), self.buffer.seek(0)
class IOWrapper(IOBase):
    def __init__(self, file):
        self.buffer = FastIO(file)
        self.flush = self.buffer.flush
        self.writable = self.buffer.writable
        self.write = lambda s: self.buffer.write(s.encode("ascii"))
        self.readline = lambda: self.buffer.readline().decode("ascii")
sys.stdin, sys.stdout = IOWrapper(sys.stdin), IOWrapper(sys.stdout)
input = lambda: sys.stdin.readline().rstrip("\\r\\n")
a, b = map(int, input().split())
print(a + b)
"""
SEMANTICS = {
    # the fast-I/O template common in Codeforces solutions (PyRival): it reads ``file.mode``
    "pyrival_fastio": PYRIVAL_FASTIO,
    "stream_attributes": "import sys\nprint(sys.stdin.mode, sys.stdout.mode, sys.stdin.name,"
    " sys.stdin.errors, sys.stderr.errors, sys.stderr.line_buffering)\n",
    "buffered_layers": "import sys\nprint(type(sys.stdin.buffer).__name__, type(sys.stdout.buffer)"
    ".__name__, sys.stdin.buffer.peek(1)[:1], type(sys.stdin.buffer.raw).__name__)\n",
    "carriage_return_kept": "print(repr(input()))\n",
    "atexit_handler_prints": "import atexit\natexit.register(print, 'from atexit')\nprint('main')\n",
    "non_daemon_thread_prints": "import threading, time\ndef later():\n    time.sleep(0.2)\n"
    "    print('from thread')\nthreading.Thread(target=later).start()\nprint('main')\n",
}
SEMANTICS_STDIN = "3 4\r\nnext\n"


def test_a_script_sees_the_streams_and_exit_of_a_fresh_interpreter(executor) -> None:
    """Each program prints what it sees; the canary is a fresh interpreter (as the naive
    harness starts one: ``LANG=C.UTF-8``, stdin and stdout pipes), which passes every one of
    them. Before: no ``mode`` (the PyRival template died with AttributeError), unbuffered
    ``sys.stdin.buffer`` (no ``peek``), ``\\r`` dropped from input, strict stderr, and nothing
    printed by an ``atexit`` handler or a non-daemon thread after the main module ended."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    fresh = {
        name: subprocess.run(
            [sys.executable, "-c", prog],
            input=SEMANTICS_STDIN.encode(),
            capture_output=True,
            env=env,
            timeout=60,
        )
        for name, prog in SEMANTICS.items()
    }
    assert all(p.returncode == 0 for p in fresh.values()), {k: p.stderr for k, p in fresh.items()}
    rs = executor.run(
        [ExecRequest(program=p, mode="run", stdin=SEMANTICS_STDIN) for p in SEMANTICS.values()]
    )
    got = {name: (r.outcome, r.stdout) for name, r in zip(SEMANTICS, rs)}
    want = {name: (Outcome.PASSED, p.stdout.decode()) for name, p in fresh.items()}
    assert got == want


# ----------------------------------------------------------------------------- an honest neighbour charged
BIG_BINARY = (  # a 24 MiB initialised array: a 24 MiB binary, cached on the worker's tmpfs
    "#include <cstdio>\nchar blob[24 << 20] = {%d};\n"
    'int main(int c, char**) { printf("%%d\\n", blob[(c - 1) * 4096]); }\n'
)
HONEST_96MB = "x = bytearray(96 << 20)\nx[::4096] = b'1' * len(x[::4096])\nprint('ok')\n"


def _cached_bytes(ex: Executor) -> int:
    """What the worker's compile dirs hold, read from outside through the worker's own root."""
    worker = int((ex._handles[0].cgroup.dirs[1] / "cgroup.procs").read_text().split()[0])
    return sum(
        f.stat().st_blocks * 512
        for f in Path(f"/proc/{worker}/root/tmp/execrl").rglob("*")
        if f.is_file()
    )


@sealed_only
@needs_gxx
def test_cached_compile_outputs_charge_no_later_program() -> None:
    """A compiled binary stays cached on the worker's tmpfs, its pages charged to the cgroup that
    wrote them: the program group, before. Eight 24 MiB binaries then made an honest program
    that allocates 96 MiB of its 128 a ``memory_limit``, on every run until 128 compiles had
    passed. Now compiles run in a group of their own and the cache holds at most
    ``COMPILE_CACHE_MB``. The canary: the same honest program passes before the attack, and the
    attack's binaries really are cached (the worker's memory group holds them)."""
    with Executor(workers=1, timeout_s=10.0, memory_mb=128, min_isolation="sealed") as ex:
        honest = ExecRequest(program=HONEST_96MB, mode="run")
        assert ex.run([honest])[0].outcome is Outcome.PASSED
        bigs = [
            ExecRequest(program=BIG_BINARY % i, language="cpp", mode="run") for i in range(1, 9)
        ]
        assert [r.stdout for r in ex.run(bigs)] == [f"{i}\n" for i in range(1, 9)]
        worker_group = ex._handles[0].cgroup.dirs[1]
        assert int((worker_group / "memory.usage_in_bytes").read_text()) > 8 * (24 << 20)
        r = ex.run([honest])[0]
        assert r.outcome is Outcome.PASSED, describe(r)
        # four more: past the cap, the oldest outputs go (the newest always stays)
        more = [
            ExecRequest(program=BIG_BINARY % i, language="cpp", mode="run") for i in range(9, 13)
        ]
        assert all(r.outcome is Outcome.PASSED for r in ex.run(more))
        assert 8 * (24 << 20) < _cached_bytes(ex) <= COMPILE_CACHE_MB << 20


# ----------------------------------------------------------------------------- open: another program without exec
def _libjvm() -> str:
    java = shutil.which("java")
    return (
        str(Path(os.path.realpath(java)).parents[1] / "lib" / "server" / "libjvm.so")
        if java
        else ""
    )


LIBPYTHON = textwrap.dedent(
    r"""
    #include <bits/stdc++.h>
    #include <dlfcn.h>
    int main() {
        puts("CANARY");
        fflush(stdout);
        void* h = dlopen("libpython3.so", RTLD_NOW | RTLD_GLOBAL);
        for (int minor = 8; !h && minor < 20; minor++)
            h = dlopen(("libpython3." + std::to_string(minor) + ".so.1.0").c_str(), RTLD_NOW | RTLD_GLOBAL);
        if (!h) { printf("DENIED libpython %s\n", dlerror()); return 0; }
        ((void (*)())dlsym(h, "Py_Initialize"))();
        ((int (*)(const char*))dlsym(h, "PyRun_SimpleString"))(
            "import sys; print('PWNED-libpython', sys.version.split()[0], flush=True)");
    }
    """
)
# the translation cheat (run the oracle's Java source), with the JVM loaded, not executed:
# JNI_CreateJavaVM, then the JDK's source launcher (what `java Main.java` runs). No <jni.h> (the
# executor compiles without the JDK's include path): the JNI function table by index
LIBJVM = textwrap.dedent(
    r"""
    #include <bits/stdc++.h>
    #include <dlfcn.h>
    #include <unistd.h>
    struct VMOption { const char* s; void* extra; };
    struct VMArgs { int version, n; VMOption* opts; unsigned char ignore; };
    typedef void** Env;
    template <class F> F fn(Env env, int i) { return (F)((void**)*env)[i]; }
    int main() {
        puts("CANARY");
        fflush(stdout);
        std::ofstream("Main.java") << "public class Main { public static void main(String[] a) {"
                                      " System.out.println(\"PWNED-libjvm\"); } }\n";
        void* h = dlopen("%(libjvm)s", RTLD_NOW);
        if (!h) { printf("DENIED libjvm %%s\n", dlerror()); return 0; }
        auto create = (int (*)(void**, void**, void*))dlsym(h, "JNI_CreateJavaVM");
        VMOption o[] = {{"-Xmx32m", 0}, {"-XX:+UseSerialGC", 0}, {"-Xint", 0}, {"-Xss512k", 0},
                        {"-XX:CompressedClassSpaceSize=16m", 0}, {"-XX:ReservedCodeCacheSize=8m", 0},
                        {"-XX:MaxMetaspaceSize=64m", 0}, {"-Xshare:off", 0}};
        VMArgs a{0x000a0000, 8, o, 1};
        void* vm;
        Env env;
        if (create(&vm, (void**)&env, &a) != 0) { puts("DENIED libjvm start"); return 0; }
        void* cls = fn<void* (*)(Env, const char*)>(env, 6)(env, "com/sun/tools/javac/launcher/Main");
        if (!cls) { puts("DENIED libjvm launcher"); return 0; }
        void* m = fn<void* (*)(Env, void*, const char*, const char*)>(env, 113)(
            env, cls, "main", "([Ljava/lang/String;)V");
        void* str = fn<void* (*)(Env, const char*)>(env, 6)(env, "java/lang/String");
        void* s = fn<void* (*)(Env, const char*)>(env, 167)(env, "Main.java");
        void* arr = fn<void* (*)(Env, int, void*, void*)>(env, 172)(env, 1, str, s);
        long long args[1] = {(long long)arr};
        fn<void (*)(Env, void*, void*, long long*)>(env, 143)(env, cls, m, args);
        fflush(stdout);
        _exit(0);
    }
    """
) % {"libjvm": _libjvm()}
INTERPRETERS = {"libpython": LIBPYTHON, "libjvm": LIBJVM}


@pytest.fixture(scope="module")
def interpreter_runs(sealed, tmp_path_factory) -> dict[str, tuple[str, str]]:
    """name -> (stdout outside the sandbox, stdout sealed)."""
    out = {}
    for name, prog in INTERPRETERS.items():
        native = run_native(tmp_path_factory.mktemp(name), prog)
        r = sealed.run([ExecRequest(program=prog, language="cpp", mode="run")])[0]
        out[name] = (native, r.stdout)
    return out


interpreters = pytest.mark.parametrize("name", list(INTERPRETERS))
needs_jvm = pytest.mark.skipif(not _libjvm() or not has_toolchain("g++"), reason="needs g++, a JDK")


@sealed_only
@needs_jvm
@interpreters
def test_an_interpreter_loads_into_a_program_outside_and_sealed(interpreter_runs, name) -> None:
    """The canary of the open attack below: outside the sandbox the program runs Python code, or
    compiles and runs Java source, in its own process; sealed, it runs and gets that far."""
    native, sealed_out = interpreter_runs[name]
    assert routes(native) == {name: "PWNED"}, native
    assert sealed_out.startswith("CANARY"), sealed_out


@sealed_only
@needs_jvm
@interpreters
@pytest.mark.xfail(
    strict=True,
    reason="open: the exec gate stops execve, not code loading. A compiled program dlopens "
    "libpython or the JDK's libjvm (the jail binds /usr and the interpreter's environment) and "
    "runs another language in its own process: a C++ 'translation' still runs the oracle's "
    "Java. Needs each program to see only its own language's runtime (a per-program mount "
    "namespace hiding the others), or static C/C++ binaries with PROT_EXEC mappings refused",
)
def test_no_interpreter_is_loaded_into_a_sealed_program(interpreter_runs, name) -> None:
    _, sealed_out = interpreter_runs[name]
    assert "PWNED" not in sealed_out, sealed_out


# ----------------------------------------------------------------------------- open: a fork remembers
MARK = "NEIGHBOUR-SECRET-7f3a9c"
EARLIER = (  # an earlier program: its marker in its source, its stdin and its stdout
    "import sys\nsys.stdin.read()\nprint('" + MARK + "-OUTPUT')\n# " + MARK + "-SOURCE " + "x" * 600
)
SCAN = textwrap.dedent(
    r"""
    import ctypes, re
    # the marker is built here, so that this program's own text holds none of the three
    pat = re.compile(("NEIGHBOUR-" + "SECRET-7f3a9c-").encode() + rb"(SOURCE|OUTPUT|STDIN|SELF)")
    mine = ("NEIGHBOUR-" + "SECRET-7f3a9c-" + "SELF").encode() * 2  # the scan must find this
    found = set()
    for line in open("/proc/self/maps").read().splitlines():
        parts = line.split()
        name = parts[5] if len(parts) > 5 else ""
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        if "r" not in parts[1] or name.startswith(("/", "[v")) or hi - lo > 1 << 28:
            continue  # files hold no run's data; [vvar] pages fault
        for m in pat.finditer(ctypes.string_at(lo, hi - lo)):
            found.add(m.group(1).decode())
    print("FOUND", " ".join(sorted(found)))
    """
)


@pytest.fixture(scope="module")
def memory_scan(sealed) -> str:
    earlier = sealed.run([ExecRequest(program=EARLIER, mode="run", stdin=MARK + "-STDIN " * 100)])
    assert earlier[0].stdout == MARK + "-OUTPUT\n", earlier
    return sealed.run([ExecRequest(program=SCAN, mode="run")])[0].stdout


@sealed_only
def test_a_memory_scan_finds_what_it_looks_for(memory_scan) -> None:
    """The canary of the open attack below: the scan finds the marker it built itself."""
    assert memory_scan.startswith("FOUND") and "SELF" in memory_scan.split(), memory_scan


@sealed_only
@pytest.mark.xfail(
    strict=True,
    reason="open: a Python program's child is a fork of its worker, whose heap still holds "
    "what earlier runs sent and printed (pickled requests, stdin, stdout, frames); a later "
    "program reads another program's source, input and output from its own memory. Needs the "
    "children forked from a zygote that never receives a run's data (the child reading its "
    "own request), which is a change to how the worker starts children",
)
def test_a_later_program_finds_nothing_of_an_earlier_one_in_its_memory(memory_scan) -> None:
    assert memory_scan.split()[1:] == ["SELF"], memory_scan


# ----------------------------------------------------------------------------- held
CGROUP_ESCAPE = textwrap.dedent(
    r"""
    import errno, json, os
    groups = dict(line.split(":", 2)[1:] for line in open("/proc/self/cgroup").read().splitlines())
    mem, pids = "/sys/fs/cgroup/memory" + groups["memory"], "/sys/fs/cgroup/pids" + groups["pids"]
    attempts = {  # what each write would win: out of the program group, more memory, more pids
        "leave_program_group": (os.path.dirname(mem) + "/cgroup.procs", str(os.getpid())),
        "raise_memory_limit": (mem + "/memory.limit_in_bytes", str(1 << 40)),
        "raise_worker_memory_limit": (os.path.dirname(mem) + "/memory.limit_in_bytes", str(1 << 40)),
        "raise_pids_max": (pids + "/pids.max", "max"),
    }
    out = {}
    for name, (path, value) in attempts.items():
        before = open(path).read()  # the canary: the file is there and readable (else ENOENT)
        try:
            with open(path, "w") as f:
                f.write(value)
            out[name] = "WRITTEN"
        except OSError as e:
            out[name] = errno.errorcode[e.errno]
        assert open(path).read() == before or out[name] == "WRITTEN"
    print(json.dumps(out))
    """
)


@sealed_only
def test_a_program_cannot_rewrite_the_cgroups_it_can_see(sealed) -> None:
    """The worker's cgroup dirs are bound into the jail (the worker moves each program into its
    group): a program reads them, but cannot leave its group or raise a limit."""
    r = sealed.run([ExecRequest(program=CGROUP_ESCAPE, mode="run")])[0]
    assert r.outcome is Outcome.PASSED, describe(r)
    assert json.loads(r.stdout) == {
        "leave_program_group": "EACCES",
        "raise_memory_limit": "EACCES",
        "raise_worker_memory_limit": "EACCES",
        "raise_pids_max": "EACCES",
    }


LIAR_COPIED = with_canary(
    "liar_through_copy",
    "class Liar:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
    "def f(x):\n    @CANARY@\n    return Liar()\n",
)


@pytest.mark.parametrize("wrap", ["copy.deepcopy(f(1))", "copy.copy(f(1))"])
def test_a_copied_program_object_keeps_no_behaviour(executor, wrap) -> None:
    """A test that copies what the program returned: the judge's stand-in for a program object
    must not come out of ``copy`` as something comparable (the canary: in-process, the copy
    keeps the liar's ``__eq__`` and the test passes)."""
    asserts = [f"import copy\nassert {wrap} == 2"]
    assert naive_assert_concat(LIAR_COPIED, asserts).passed
    (r,) = executor.run(
        [ExecRequest(program=LIAR_COPIED, tests=Tests(style="assert", asserts=asserts))]
    )
    check_rejected("liar_through_copy", r)
