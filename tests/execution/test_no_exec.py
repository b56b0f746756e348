"""No program starts another program at the ``sealed`` level, however it names what to run.

Each attack program tries every route in turn, each in a forked child: ``execve``,
``execveat`` (a descriptor, an absolute path beside a made-up descriptor, ``AT_EMPTY_PATH``,
an ``O_PATH`` descriptor), ``/proc/self/fd/N``, ``memfd_create`` + exec, a shebang script it
writes, ``ld.so`` named directly, ``/bin/sh``, and from C++ also ``system()``, the i386
``int 0x80`` ABI and the issue's "translation" that writes Java source and runs the JVM on it.
A route that starts its target prints ``PWNED-<route>``; one that fails prints the errno the
kernel returned (or the signal that ended it). The canary is the same program run outside the
sandbox, where every route prints ``PWNED``: each attack is real, and reached the kernel.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from execrl.execution import ExecRequest, Executor, Outcome
from execrl.execution.sandbox import probe

from helpers.common import has_toolchain

pytestmark = pytest.mark.skipif(
    probe().level != "sealed", reason="needs the sealed level (root, bwrap, libseccomp, cgroup v1)"
)

LDSO = "/lib64/ld-linux-x86-64.so.2"
ROUTES = [
    "execve",
    "execveat_abs_path",
    "execveat_fd",
    "execveat_opath_fd",
    "proc_self_fd",
    "memfd",
    "shebang",
    "ld_so",
    "sh",
]
CPP_ROUTES = [*ROUTES, "system", "i386_int80", "translation_jvm"]

PY_ATTACK = textwrap.dedent(
    """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    ECHO, LDSO, AT_EMPTY_PATH, SYS_execveat = "/bin/echo", %(ldso)r, 0x1000, 322

    def cargv(*a):
        return (ctypes.c_char_p * (len(a) + 1))(*[x.encode() for x in a], None)

    def execveat(fd, path, args):
        envp = (ctypes.c_char_p * 1)(None)
        if libc.syscall(SYS_execveat, fd, path.encode(), cargv(*args), envp, AT_EMPTY_PATH) < 0:
            raise OSError(ctypes.get_errno(), "execveat")

    def memfd(tag):
        m = os.memfd_create("x", 0)
        os.write(m, open(ECHO, "rb").read())
        execveat(m, "", ["echo", tag])

    def shebang(tag):
        with open("s.sh", "w") as f:
            f.write("#!/bin/sh\\necho " + tag + "\\n")
        os.chmod("s.sh", 0o755)
        os.execv("./s.sh", ["s.sh"])

    ROUTES = {
        "execve": lambda t: os.execv(ECHO, ["echo", t]),
        # the hole of old: an absolute path makes the kernel ignore the descriptor
        "execveat_abs_path": lambda t: execveat(1000, ECHO, ["echo", t]),
        "execveat_fd": lambda t: execveat(os.open(ECHO, os.O_RDONLY), "", ["echo", t]),
        "execveat_opath_fd": lambda t: execveat(os.open(ECHO, os.O_PATH), "", ["echo", t]),
        "proc_self_fd": lambda t: os.execv(
            "/proc/self/fd/%%d" %% os.open(ECHO, os.O_RDONLY), ["echo", t]
        ),
        "memfd": memfd,
        "shebang": shebang,
        "ld_so": lambda t: os.execv(LDSO, [LDSO, ECHO, t]),
        "sh": lambda t: os.execv("/bin/sh", ["sh", "-c", "echo " + t]),
    }
    print("CANARY", flush=True)
    for name, route in ROUTES.items():
        pid = os.fork()
        if pid == 0:
            try:
                route("PWNED-" + name)
            except OSError as e:
                print("DENIED", name, e.errno, flush=True)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            print("DENIED", name, "signal", os.WTERMSIG(status), flush=True)
    """
) % {"ldso": LDSO}

CPP_ATTACK = textwrap.dedent(
    r"""
    #include <bits/stdc++.h>
    #include <fcntl.h>
    #include <sys/mman.h>
    #include <sys/stat.h>
    #include <sys/syscall.h>
    #include <sys/wait.h>
    #include <unistd.h>
    using namespace std;
    extern char** environ;
    static const char* ECHO = "/bin/echo";
    static const char* LDSO = "%(ldso)s";

    static long execveat_(int fd, const char* path, char** argv) {
        return syscall(SYS_execveat, fd, path, argv, environ, AT_EMPTY_PATH);
    }

    // returns only if the route failed (errno says why)
    static long attack(const string& name) {
        string tag = "PWNED-" + name;
        char* argv[] = {(char*)"echo", (char*)tag.c_str(), nullptr};
        if (name == "execve") return execve(ECHO, argv, environ);
        if (name == "execveat_abs_path") return execveat_(1000, ECHO, argv);
        if (name == "execveat_fd") return execveat_(open(ECHO, O_RDONLY), "", argv);
        if (name == "execveat_opath_fd") return execveat_(open(ECHO, O_PATH), "", argv);
        if (name == "proc_self_fd") {
            string p = "/proc/self/fd/" + to_string(open(ECHO, O_RDONLY));
            return execve(p.c_str(), argv, environ);
        }
        if (name == "memfd") {
            int src = open(ECHO, O_RDONLY), m = memfd_create("x", 0);
            static char buf[1 << 16];
            for (ssize_t n; (n = read(src, buf, sizeof buf)) > 0;) if (write(m, buf, n) != n) return -1;
            return fexecve(m, argv, environ);
        }
        if (name == "shebang") {
            FILE* f = fopen("s.sh", "w");
            if (!f) return -1;
            fputs("#!/bin/sh\necho PWNED-shebang\n", f);
            fclose(f);
            chmod("s.sh", 0755);
            return execve("./s.sh", argv, environ);
        }
        if (name == "ld_so") {
            char* a[] = {(char*)LDSO, (char*)ECHO, (char*)tag.c_str(), nullptr};
            return execve(LDSO, a, environ);
        }
        if (name == "sh") {
            string c = "echo " + tag;
            char* a[] = {(char*)"sh", (char*)"-c", (char*)c.c_str(), nullptr};
            return execve("/bin/sh", a, environ);
        }
        if (name == "system") {
            int r = system(("echo " + tag).c_str());
            printf("DENIED system status %%d\n", r);
            fflush(stdout);
            _exit(0);
        }
        if (name == "i386_int80") {  // the compat ABI: execve is syscall 11, pointers below 4 GiB
            char* m = (char*)mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
            strcpy(m, ECHO);
            strcpy(m + 64, "echo");
            strcpy(m + 128, tag.c_str());
            uint32_t* av = (uint32_t*)(m + 256);
            av[0] = (uint32_t)(uintptr_t)(m + 64);
            av[1] = (uint32_t)(uintptr_t)(m + 128);
            av[2] = 0;
            uint32_t* ev = (uint32_t*)(m + 512);
            ev[0] = 0;
            long ret;
            asm volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(11), "b"((uint32_t)(uintptr_t)m), "c"((uint32_t)(uintptr_t)av),
                           "d"((uint32_t)(uintptr_t)ev)
                         : "memory");
            errno = (int)-ret;
            return -1;
        }
        if (name == "translation_jvm") {  // write the oracle's Java, run it on the JVM
            ofstream("Main.java") << "public class Main { public static void main(String[] a) {"
                                     " System.out.println(\"PWNED-translation_jvm\"); } }\n";
            char* a[] = {(char*)"java", (char*)"-Xshare:auto", (char*)"Main.java", nullptr};
            return execve("/usr/bin/java", a, environ);
        }
        return -1;
    }

    int main() {
        const char* routes[] = {%(routes)s};
        puts("CANARY");
        fflush(stdout);
        for (const char* r : routes) {
            pid_t pid = fork();
            if (pid == 0) {
                attack(r);
                printf("DENIED %%s %%d\n", r, errno);
                fflush(stdout);
                _exit(0);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            if (WIFSIGNALED(status)) printf("DENIED %%s signal %%d\n", r, WTERMSIG(status));
            fflush(stdout);
        }
    }
    """
) % {"ldso": LDSO, "routes": ", ".join(f'"{r}"' for r in CPP_ROUTES)}


@pytest.fixture(scope="module")
def sealed():
    with Executor(workers=1, timeout_s=10.0, memory_mb=512, min_isolation="sealed") as ex:
        yield ex


def outcomes(stdout: str) -> dict[str, str]:
    """route -> "PWNED" or the errno / signal it failed with."""
    out = {}
    for line in stdout.splitlines():
        if m := re.fullmatch(r"PWNED-(\w+)", line.strip()):
            out[m.group(1)] = "PWNED"
        elif m := re.fullmatch(r"DENIED (\w+) (.+)", line.strip()):
            out.setdefault(m.group(1), m.group(2))
    return out


def test_python_program_starts_nothing(sealed, tmp_path) -> None:
    naive = subprocess.run(
        [sys.executable, "-c", PY_ATTACK], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert outcomes(naive.stdout) == dict.fromkeys(ROUTES, "PWNED"), naive.stdout + naive.stderr
    r = sealed.run([ExecRequest(program=PY_ATTACK, mode="run")])[0]
    assert r.stdout.startswith("CANARY"), (r.outcome, r.error)
    # EPERM from the filter for every route: the call reached the kernel and was refused there
    assert outcomes(r.stdout) == dict.fromkeys(ROUTES, "1"), r.stdout


@pytest.mark.skipif(not has_toolchain("g++", "java"), reason="Requires: g++, java")
def test_cpp_program_starts_nothing(sealed, tmp_path) -> None:
    (tmp_path / "attack.cpp").write_text(CPP_ATTACK)
    subprocess.run(
        ["g++", "-O1", "-std=c++17", "-o", "attack", "attack.cpp"], cwd=tmp_path, check=True
    )
    naive = subprocess.run(["./attack"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert outcomes(naive.stdout) == dict.fromkeys(CPP_ROUTES, "PWNED"), naive.stdout + naive.stderr
    r = sealed.run([ExecRequest(program=CPP_ATTACK, language="cpp", mode="run")])[0]
    assert r.stdout.startswith("CANARY") and r.outcome is Outcome.PASSED, (r.outcome, r.error)
    got = outcomes(r.stdout)
    # the exec gate is shut: ENOSYS (38) for every route, whatever it names; system()'s shell
    # never starts (exit 127); the i386 ABI is killed by the filter (SIGSYS, 31)
    want = dict.fromkeys(ROUTES + ["translation_jvm"], "38")
    want |= {"system": f"status {127 << 8}", "i386_int80": "signal 31"}
    assert got == want, r.stdout


@pytest.mark.skipif(not has_toolchain("g++"), reason="Requires: g++")
def test_the_gate_lets_exactly_the_runners_exec_through(sealed) -> None:
    """The compiled program itself starts (the gate opened once), every run of it again (a
    fresh gate per run), and its own binary cannot be re-executed from inside."""
    prog = (
        "#include <bits/stdc++.h>\n#include <unistd.h>\nint main(int c, char** v) {"
        ' printf("RUN %d\\n", c); fflush(stdout); execv("/proc/self/exe", v);'
        ' printf("AGAIN %d\\n", errno); }\n'
    )
    for _ in range(3):
        r = sealed.run([ExecRequest(program=prog, language="cpp", mode="run")])[0]
        assert r.stdout == "RUN 1\nAGAIN 38\n", (r.outcome, r.stdout, r.error)
    assert sealed.stats["charged_failures"] == 0
