"""A precompiled ``<bits/stdc++.h>`` for the sandboxed C++ compiles.

Nine in ten XLCoST C++ programs start with ``#include <bits/stdc++.h>``, which costs g++ about
2 s of parsing per program; PPOCoder's compiler reward compiles every sample. GCC uses a
``bits/stdc++.h.gch`` found in an ``-I`` directory in place of the header when the header is the
program's first include and the compile flags match, and otherwise reads the header as usual, so
a program's verdict does not change: only its compile time (about 5x shorter here).

The header is built once per host, compiler and flags, by the trusted worker (it compiles a
system header, never a program), into the executor's work-dir base, readable but not writable by
the sandboxed compiler. Any failure leaves compiles as they were (``None``).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger("execrl")

# ``#include_next`` makes the fallback header (used when the .gch does not fit) the system one
WRAPPER = "#pragma GCC system_header\n#include_next <bits/stdc++.h>\n"


def pch_include_dir(base: Path, gxx: str, flags: list[str]) -> Path | None:
    """A directory for ``-I`` holding ``bits/stdc++.h.gch`` built with ``flags``; None if it
    cannot be built (no libstdc++ header, an old compiler, a read-only base)."""
    try:
        version = subprocess.run(
            [gxx, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
        key = hashlib.sha256(
            (version + "\0" + " ".join(flags) + "\0" + WRAPPER).encode()
        ).hexdigest()[:16]
        d = base / f"pch-{key}"
        gch = d / "bits" / "stdc++.h.gch"
        if gch.exists():
            return d
        (d / "bits").mkdir(parents=True, exist_ok=True)
        with open(base / f"pch-{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it right now
            if not gch.exists():
                header = d / "bits" / "stdc++.h"
                header.write_text(WRAPPER)
                tmp = gch.with_name(f"stdc++.h.gch.{os.getpid()}")
                r = subprocess.run(
                    [gxx, *flags, "-x", "c++-header", str(header), "-o", str(tmp)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if r.returncode != 0:
                    log.warning(
                        "precompiled <bits/stdc++.h> not built (compiles stay uncached): %s",
                        r.stderr[-500:],
                    )
                    tmp.unlink(missing_ok=True)
                    return None
                os.replace(tmp, gch)
        for p in (d, d / "bits"):
            os.chmod(p, 0o755)
        for p in (d / "bits").iterdir():
            os.chmod(p, 0o644)
        return d
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("precompiled <bits/stdc++.h> not available: %s", e)
        return None
