"""Tokenizers: the embedded one (no download) or any local path / hub id."""

from __future__ import annotations

from importlib import resources

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

BUILTIN = "builtin"


def builtin_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE (2048 tokens, digits split) trained on the shipped data.

    Special ids follow CodeT5: ``<pad>``=0, ``<s>``=1, ``</s>``=2, ``<unk>``=3.
    """
    path = resources.files("execrl") / "assets" / "tokenizer.json"
    return PreTrainedTokenizerFast(
        tokenizer_file=str(path),
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
    )


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """Load ``builtin`` or a tokenizer from a local path / hub id (with a clear offline error)."""
    if name_or_path == BUILTIN:
        return builtin_tokenizer()
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as e:  # hub errors are not all OSErrors
        raise OSError(
            f"could not load tokenizer {name_or_path!r}: not a local directory and the model hub is "
            "unreachable from here. Download it where there is network and set model.tokenizer=/path."
        ) from e
    if tok.pad_token is None:  # causal code LMs often ship without a pad token
        tok.pad_token = tok.eos_token
    return tok
