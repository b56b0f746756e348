"""Shared behaviour of every dataset reader: malformed records raise or are skipped and counted."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

from execrl.schema.data import ReaderConfig
from execrl.schema.overrides import configured
from execrl.vocabulary import DataError

log = logging.getLogger("execrl")


class Reader:
    """Base of the readers: ``read(path, split) -> list[Problem]``.

    Built as ``R(config: R.Config | None = None, /, **overrides)`` (Hydra passes the fields of
    ``conf/data``'s reader node as overrides); the defaults live in ``Config``
    (:mod:`execrl.schema.data`), the whole config is kept as ``self.config``.

    ``on_error="raise"`` (default) stops at the first malformed record with a
    :class:`DataError` naming the file and the record; ``"skip"`` drops it and counts it in
    ``skipped`` (a warning names each one).
    """

    Config: type[ReaderConfig] = ReaderConfig

    def __init__(self, config: ReaderConfig | None = None, /, **overrides: Any) -> None:
        self.config = cfg = configured(self.Config, config, overrides)
        if cfg.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {cfg.on_error!r}")
        self.on_error = cfg.on_error
        self.skipped = 0

    def bad_record(self, path: str | Path, record: str | int | None, reason: str) -> None:
        """Raise :class:`DataError`, or count and log the skip."""
        err = DataError(str(path), record, reason)
        if self.on_error == "raise":
            raise err
        self.skipped += 1
        log.warning("skipped malformed record: %s", err)

    @staticmethod
    def require(path: str | Path | None, what: str) -> Path:
        """The data path, or a clear error saying which file or folder is expected."""
        if path is None:
            raise DataError("<data.path>", None, f"no path given: set data.path=/path/to/{what}")
        p = Path(path)
        if not p.exists():
            raise DataError(str(p), None, f"not found: expected {what} (set data.path=...)")
        return p

    def json_rows(self, p: Path):
        """``(where, row)`` for each record of a JSON list, or of a JSON Lines file (``.gz`` too);
        a malformed line is a :meth:`bad_record` and comes back as ``(where, None)``."""
        if p.suffix == ".json":
            try:
                rows = json.loads(p.read_text())
            except json.JSONDecodeError as e:
                raise DataError(str(p), None, f"bad JSON: {e}") from e
            if not isinstance(rows, list):
                raise DataError(str(p), None, "expected a JSON list of problems")
            yield from ((f"item {i}", r) for i, r in enumerate(rows, 1))
            return
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield f"line {i}", json.loads(line)
                except json.JSONDecodeError as e:
                    self.bad_record(p, f"line {i}", f"bad JSON: {e}")
                    yield f"line {i}", None
