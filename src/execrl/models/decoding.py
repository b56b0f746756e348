"""Sampling from a causal LM that drops finished rows from the batch.

``transformers``' ``generate`` runs every row until the last one stops: with sampled code, where
one response in ten runs to the token limit while the median stops at a third of it, most of the
batch's compute goes to rows that are already done. :func:`sample_dropping_finished` decodes the
same distribution (the same ``transformers`` logits warpers, in the same order) but removes a row
from the batch and from its KV cache (``Cache.batch_select_indices``) the step it ends.
``bench/generation_speed.py`` measures it against ``generate``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers.generation import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

# generation_config fields that make ``generate`` add logits processors this loop does not apply
_PROCESSOR_FIELDS = {
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "sequence_bias": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "min_length": 0,
    "min_new_tokens": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "min_p": None,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "top_h": None,
    "exponential_decay_length_penalty": None,
    "guidance_scale": 1.0,
    "remove_invalid_values": False,
}


def unsupported_processors(generation_config: object) -> list[str]:
    """The fields of a model's ``generation_config`` (e.g. an instruct checkpoint's
    ``repetition_penalty``) under which ``generate`` would sample differently from this loop."""
    return [
        name
        for name, neutral in _PROCESSOR_FIELDS.items()
        if getattr(generation_config, name, None) not in (None, neutral)
    ]


def warpers(temperature: float, top_k: int | None, top_p: float) -> LogitsProcessorList:
    """The sampling warpers ``generate`` applies for these settings, in its order."""
    out = LogitsProcessorList()
    if temperature != 1.0:
        out.append(TemperatureLogitsWarper(temperature))
    if top_k:
        out.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        out.append(TopPLogitsWarper(top_p))
    return out


@torch.no_grad()
def sample_dropping_finished(
    model: nn.Module,
    cache: object,
    next_logits: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    cache_kw: str,
    max_new_tokens: int,
    eos_id: int,
    fill_id: int,
    do_sample: bool = True,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    stop: Callable[[torch.Tensor], torch.Tensor] | None = None,
    on_finish: Callable[[list[int], torch.Tensor], None] | None = None,
    logprobs: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Decode from a prefilled KV cache; returns the responses ``[R, T]`` (with ``logprobs``,
    also ``[R, T]`` float32: each sampled token's log-prob under the distribution it was drawn
    from, warpers applied, NaN where nothing was sampled).

    ``cache`` and ``next_logits`` (``[R, V]``, the logits after each row's last prompt token)
    come from a prefill over left-padded prompts with ``attention_mask`` ``[R, P]``. A row ends
    at ``eos_id``, when ``stop(responses_so_far)`` flags it, or after ``max_new_tokens``; after
    its end it holds ``fill_id``, as ``generate`` pads finished rows with ``pad_token_id``.
    ``on_finish(rows, responses)`` is called the step rows end (so a caller can judge them
    while the others decode).
    """
    rows = next_logits.shape[0]
    device = next_logits.device
    out = torch.full((rows, max_new_tokens), fill_id, dtype=torch.long, device=device)
    lp_out = torch.full((rows, max_new_tokens), float("nan"), device=device) if logprobs else None
    live = torch.arange(rows, device=device)
    mask = attention_mask
    position = attention_mask.sum(1, keepdim=True)  # positions count real tokens only
    warp = warpers(temperature, top_k, top_p) if do_sample else None
    logits = next_logits
    steps = 0
    for t in range(max_new_tokens):
        steps = t + 1
        scores = logits.float()
        if warp is not None:
            probs = torch.softmax(warp(None, scores), dim=-1)
            token = torch.multinomial(probs, num_samples=1).squeeze(1)
            if lp_out is not None:
                lp_out[live, t] = probs.gather(1, token[:, None]).squeeze(1).log()
        else:
            token = scores.argmax(-1)
            if lp_out is not None:
                lp_out[live, t] = torch.log_softmax(scores, -1).gather(1, token[:, None]).squeeze(1)
        out[live, t] = token
        done = token == eos_id
        if stop is not None:
            done |= stop(out[live, : t + 1]).to(device)
        if done.any():
            if on_finish is not None:
                on_finish(live[done].tolist(), out)
            keep = (~done).nonzero().squeeze(1)
            live, token, mask, position = live[keep], token[keep], mask[keep], position[keep]
            if keep.numel() == 0:
                break
            cache.batch_select_indices(keep)
        if t + 1 == max_new_tokens:
            break
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        step = model(
            input_ids=token.unsqueeze(1),
            attention_mask=mask,
            position_ids=position,
            use_cache=True,
            **{cache_kw: cache},
        )
        cache = getattr(step, cache_kw)
        logits = step.logits[:, -1]
        position = position + 1
    if on_finish is not None and live.numel():  # rows cut at max_new_tokens
        on_finish(live.tolist(), out)
    if lp_out is not None:
        return out[:, :steps], lp_out[:, :steps]
    return out[:, :steps]
