"""The policy LM: seq2seq (T5/CodeT5) and causal LMs behind one interface.

Every algorithm talks to an :class:`Actor` in terms of *responses*: token ids that follow a
prompt (the decoder output of a seq2seq model, or the continuation of a causal model). A
response tensor is right-padded with ``pad_token_id`` and its mask covers the tokens up to and
including the first EOS. ``response_logprobs`` scores exactly those tokens, and returns the hidden
state that predicted each of them, so value heads and critics line up for both architectures.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    LlamaConfig,
    PreTrainedModel,
    StoppingCriteria,
    StoppingCriteriaList,
    T5Config,
)

from execrl.data import prompting
from execrl.models import decoding
from execrl.models import lora as lora_lib
from execrl.models.tokenizer import load_tokenizer
from execrl.schema.model import ModelConfig
from execrl.schema.overrides import configured, defaults

log = logging.getLogger("execrl")


@dataclass
class Rollout:
    """Sampled responses. Row ``i`` answers prompt ``i // num_return_sequences``."""

    prompt_ids: torch.Tensor  # [B, P] (each prompt repeated num_return_sequences times)
    prompt_mask: torch.Tensor  # [B, P]
    response_ids: torch.Tensor  # [B, T]
    response_mask: torch.Tensor  # [B, T]; 1 up to and including the first EOS
    texts: list[str]  # the programs (an instruct actor's code block, without the fence)
    raw_texts: list[str] | None = None  # the decoded responses, before extraction
    # [B, T] float: each token's log-prob under the sampler that drew it (the rollout engine's
    # distribution, warpers applied; NaN where nothing was sampled); None when not recorded
    sample_logprobs: torch.Tensor | None = None

    @property
    def lengths(self) -> torch.Tensor:
        return self.response_mask.sum(-1)


class Actor(nn.Module):
    """A code LM plus its tokenizer, with prompt/response handling for both architectures."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: Any,
        config: ModelConfig | None = None,
        *,
        adapters_only: bool = True,
    ) -> None:
        """``config``: the prompt, sampling and precision keys of :class:`ModelConfig` (its
        defaults); ``adapters_only``: a LoRA actor's checkpoints hold its adapters only."""
        super().__init__()
        cfg = config if config is not None else defaults(ModelConfig)
        self.model = model
        self.tokenizer = tokenizer
        self.max_prompt_len = cfg.max_prompt_len
        if cfg.prompt_truncation not in ("left", "right"):
            raise ValueError(
                f"prompt_truncation must be 'left' or 'right', got {cfg.prompt_truncation!r}"
            )
        # the side cut from a long prompt: 'left' keeps its end, 'right' its beginning (CodeRL)
        self.prompt_truncation = cfg.prompt_truncation
        self.max_new_tokens = cfg.max_new_tokens
        self.share_prompts = cfg.share_prompts
        # causal sampling drops finished rows from the batch (execrl.models.decoding); False:
        # transformers' generate, which runs every row until the last one stops
        self.drop_finished = cfg.drop_finished
        self.cache_kw = _cache_kwarg(
            lora_lib.base_model(model)
        )  # fixed per model: not looked up on every forward
        self.is_seq2seq = bool(model.config.is_encoder_decoder)
        self.pad_id = int(tokenizer.pad_token_id)
        self.eos_id = int(tokenizer.eos_token_id)
        if cfg.prompt_style not in prompting.STYLES:
            raise ValueError(
                f"prompt_style must be one of {prompting.STYLES}, got {cfg.prompt_style!r}"
            )
        # instruct: prompts go through the chat template and responses are fenced code blocks
        self.instruct = cfg.prompt_style == "instruct"
        self.system_prompt = cfg.system_prompt
        # the scoring forward (and so its backward) in bfloat16, weights and optimizer in float32
        self.autocast_dtype = _autocast_dtype(cfg.autocast)
        if self.autocast_dtype is not None and not self.is_seq2seq:
            _attention_in_float32_on_cpu(lora_lib.base_model(model))
        # sampling in a lower precision from a synced copy (log-probs stay the training model's)
        sample_dtype = cfg.sample_dtype
        self.sample_dtype = (
            getattr(torch, sample_dtype)
            if isinstance(sample_dtype, str) and sample_dtype != "int8"
            else sample_dtype
        )
        if (
            self.has_adapters and adapters_only
        ):  # checkpoints hold the adapters; the base is rebuilt from the model config
            self.register_state_dict_post_hook(_adapters_only)
            self.register_load_state_dict_post_hook(_base_weights_optional)

    @property
    def has_adapters(self) -> bool:
        return lora_lib.is_peft(self.model)

    def reference_policy(self) -> nn.Module:
        """The frozen reference policy of RL: the model with its adapters disabled (LoRA: no
        second copy of the weights, as TRL does), else a frozen copy of this actor."""
        if self.has_adapters:
            return lora_lib.AdapterDisabled(self)
        ref = copy.deepcopy(self)
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref

    # ------------------------------------------------------------------ tokenization
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def hidden_size(self) -> int:
        cfg = self.model.config
        return int(getattr(cfg, "d_model", None) or cfg.hidden_size)

    def format_prompt(self, prompt: str) -> str:
        """The model input of a prompt: an instruct prompt's user turn through the chat template,
        then the answer prefix (:mod:`execrl.data.prompting`); other prompts as they are."""
        if not self.instruct:
            return prompt
        user, prefix = prompting.split_chat_prompt(prompt)
        if getattr(self.tokenizer, "chat_template", None):
            msgs = (
                [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            ) + [{"role": "user", "content": user}]
            head = self.tokenizer.apply_chat_template(
                msgs, tokenize=False, add_generation_prompt=True
            )
        else:  # a tokenizer without a chat template: plain text turns
            head = (f"{self.system_prompt}\n\n" if self.system_prompt else "") + f"{user}\n\n"
        return head + prefix

    def encode_prompts(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids and mask; left-padded for causal models so responses start aligned."""
        prompts = [self.format_prompt(p) for p in prompts]
        self.tokenizer.padding_side = "right" if self.is_seq2seq else "left"
        self.tokenizer.truncation_side = self.prompt_truncation
        enc = self.tokenizer(
            prompts,
            padding=True,
            truncation=True,
            max_length=self.max_prompt_len,
            add_special_tokens=self.is_seq2seq,
            return_tensors="pt",
        )
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def encode_responses(
        self, texts: list[str], max_len: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Response ids (text + EOS, right-padded) and mask, e.g. for ground-truth programs."""
        max_len = max_len or self.max_new_tokens
        if (
            self.instruct
        ):  # as the actor writes them: the program, then the fence that closes its block
            texts = [prompting.fenced_target(t) for t in texts]
        full = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        cut = sum(len(r) > max_len - 1 for r in full)
        if cut and not getattr(self, "_warned_cut", False):
            # a target the actor can never finish: it learns to stop mid-program (e.g. nothing compiles)
            log.warning(
                "%d of %d target programs are longer than max_new_tokens=%d and are cut: raise model.max_new_tokens",
                cut,
                len(texts),
                max_len,
            )
            self._warned_cut = True
        rows = [r[: max_len - 1] + [self.eos_id] for r in full]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        return ids.to(self.device), mask.to(self.device)

    def decode(
        self, response_ids: torch.Tensor, response_mask: torch.Tensor | None = None
    ) -> list[str]:
        if response_mask is None:
            response_mask = self.response_mask(response_ids)
        out = []
        for ids, m in zip(response_ids.tolist(), response_mask.tolist()):
            toks = [t for t, keep in zip(ids, m) if keep and t not in (self.eos_id, self.pad_id)]
            out.append(self.tokenizer.decode(toks, skip_special_tokens=True))
        return out

    def response_mask(self, response_ids: torch.Tensor) -> torch.Tensor:
        """1 for tokens up to and including the first EOS, 0 after (and for padding)."""
        is_eos = response_ids == self.eos_id
        after_eos = (torch.cumsum(is_eos.long(), dim=-1) - is_eos.long()) > 0
        return (~after_eos).long()

    # ------------------------------------------------------------------ scoring
    def forward_responses(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        response_ids: torch.Tensor,
        response_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[B, T, V]`` scoring each response token, and the hidden states that produced them.

        Rows that repeat a prompt (``num_samples`` programs per problem) share one pass over it:
        the prompt is encoded (seq2seq) or run into a KV cache (causal) once per distinct prompt
        and the result indexed out to its rows, so an RL update costs the responses plus each
        prompt once instead of every prompt ``num_samples`` times. Same logits and gradients.
        With ``autocast`` the pass runs in bfloat16 (the float32 weights cast per op, gradients
        reaching them in float32); the hidden states come back as float32.
        """
        with self.autocast():
            logits, hidden = self._forward_responses(
                prompt_ids, prompt_mask, response_ids, response_mask
            )
        return logits, hidden if self.autocast_dtype is None else hidden.float()

    def autocast(self) -> contextlib.AbstractContextManager:
        """The mixed-precision context of the scoring forward (``model.autocast``), else a no-op."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _forward_responses(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        response_ids: torch.Tensor,
        response_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shared = _shared_rows(prompt_ids, prompt_mask) if self.share_prompts else None
        if self.is_seq2seq:
            start = self.model.config.decoder_start_token_id
            dec_in = torch.cat(
                [torch.full_like(response_ids[:, :1], start), response_ids[:, :-1]], dim=1
            )
            dec_mask = torch.cat(
                [torch.ones_like(response_mask[:, :1]), response_mask[:, :-1]], dim=1
            )
            enc = None
            if shared is not None:
                first, inverse = shared
                enc = (
                    self.model.get_encoder()(
                        input_ids=prompt_ids[first], attention_mask=prompt_mask[first]
                    ).last_hidden_state[inverse],
                )
            out = self.model(
                input_ids=None if enc else prompt_ids,
                encoder_outputs=enc,
                attention_mask=prompt_mask,
                decoder_input_ids=dec_in,
                decoder_attention_mask=dec_mask,
                output_hidden_states=True,
            )
            return out.logits, out.decoder_hidden_states[-1]
        mask = torch.cat([prompt_mask, response_mask], dim=1)
        # left padding: positions count real tokens only, as generate() does
        pos = (torch.cumsum(mask, dim=1) - 1).clamp(min=0)
        p, t = prompt_ids.shape[1], response_ids.shape[1]
        if shared is None:
            # logits of the last t+1 positions only: the prompt's would cost a vocabulary-wide
            # projection per prompt token (SmolLM2: 49k x 576, a fifth of its forward pass)
            out = self.model(
                input_ids=torch.cat([prompt_ids, response_ids], dim=1),
                attention_mask=mask,
                position_ids=pos,
                output_hidden_states=True,
                logits_to_keep=t + 1,
            )
            # position p-1+j predicts response token j
            return out.logits[:, :t], out.hidden_states[-1][:, p - 1 : p - 1 + t]
        first, inverse = shared
        cache, pre = self.prefill(prompt_ids[first], prompt_mask[first], output_hidden_states=True)
        # the prompt's last position predicts response token 0, response position j token j+1
        logits, hidden = pre.logits[inverse, -1:], pre.hidden_states[-1][inverse, -1:]
        if t > 1:
            cache.batch_select_indices(
                inverse
            )  # each row's copy of its prompt's keys and values (differentiable)
            out = self.model(
                input_ids=response_ids[:, :-1],
                attention_mask=mask[:, :-1],
                position_ids=pos[:, p:-1],
                use_cache=True,
                output_hidden_states=True,
                **{self.cache_kw: cache},
            )
            logits, hidden = (
                torch.cat([logits, out.logits], dim=1),
                torch.cat([hidden, out.hidden_states[-1]], dim=1),
            )
        return logits, hidden

    def response_logprobs(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        response_ids: torch.Tensor,
        response_mask: torch.Tensor,
        return_hidden: bool = False,
        return_entropy: bool = False,
        temperature: float = 1.0,
    ) -> dict[str, torch.Tensor]:
        """``logprobs[b, t] = log p(response[b, t] | prompt, response[b, <t])`` (0 where masked),
        under the sampling distribution ``softmax(logits / temperature)`` (as TRL scores GRPO)."""
        logits, hidden = self.forward_responses(
            prompt_ids, prompt_mask, response_ids, response_mask
        )
        if return_entropy:  # needs the whole distribution
            logp = torch.log_softmax(logits.float() / temperature, dim=-1)
            lp = torch.gather(logp, -1, response_ids.unsqueeze(-1)).squeeze(-1)
        else:
            lp = token_logprobs(logits, response_ids, temperature)
        out = {"logprobs": lp * response_mask}
        if return_hidden:
            out["hidden"] = hidden
        if return_entropy:
            out["entropy"] = -(logp.exp() * logp).sum(-1) * response_mask
        return out

    def sft_loss(self, prompts: list[str], targets: list[str]) -> torch.Tensor:
        """Token-mean cross-entropy of ``targets`` (+ EOS) given ``prompts``."""
        p_ids, p_mask = self.encode_prompts(prompts)
        r_ids, r_mask = self.encode_responses(targets)
        logits, _ = self.forward_responses(p_ids, p_mask, r_ids, r_mask)
        labels = r_ids.masked_fill(r_mask == 0, -100)
        return F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100
        )

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate(
        self,
        prompts: list[str] | None = None,
        *,
        prompt_ids: torch.Tensor | None = None,
        prompt_mask: torch.Tensor | None = None,
        num_return_sequences: int = 1,
        do_sample: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        max_new_tokens: int | None = None,
        prefix_ids: list[list[int]] | None = None,
        on_row: Callable[[int, str], None] | None = None,
    ) -> Rollout:
        """Sample (or greedily decode) responses.

        ``prefix_ids`` forces each prompt's response to start with the given tokens (Critic
        Sampling's refine step); the returned response includes the prefix. ``on_row(row,
        program)`` is called as each row ends, when the decoding loop samples (so programs can be
        judged while the others decode); the loop also records ``Rollout.sample_logprobs``.
        """
        if prompt_ids is None:
            prompt_ids, prompt_mask = self.encode_prompts(prompts or [])
        n = num_return_sequences
        max_new = max_new_tokens or self.max_new_tokens
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max_new,
            num_return_sequences=n,
            pad_token_id=self.pad_id,
            eos_token_id=self.eos_id,
            do_sample=do_sample,
        )
        if do_sample:
            kwargs.update(temperature=max(temperature, 1e-5), top_p=top_p, top_k=top_k or None)
        if self.instruct and not self.is_seq2seq:
            # stop a row at the fence that closes its code block; finished rows are filled with EOS
            # (not pad), so the response mask ends right after the fence
            kwargs.update(
                stopping_criteria=StoppingCriteriaList(
                    [FenceStop(self.tokenizer, prompt_ids.shape[1])]
                ),
                pad_token_id=self.eos_id,
            )
        model = self.sampling_model()
        was_training = self.model.training
        self.model.eval()
        sample_lp = None
        try:
            if prefix_ids is not None:
                out, plen = self._generate_with_prefix(
                    model, prompt_ids, prompt_mask, prefix_ids, kwargs
                )
            elif self.drop_finished and not self.is_seq2seq and self._loop_samples_like(model):
                (out, sample_lp), plen = (
                    self._decode_dropping_finished(model, prompt_ids, prompt_mask, kwargs, on_row),
                    0,
                )
            elif n > 1 and self.share_prompts and not self.is_seq2seq and prompt_ids.shape[1] > 1:
                out, plen = (
                    self._generate_from_shared_prefill(model, prompt_ids, prompt_mask, kwargs),
                    prompt_ids.shape[1],
                )
            else:
                out = model.generate(input_ids=prompt_ids, attention_mask=prompt_mask, **kwargs)
                plen = 1 if self.is_seq2seq else prompt_ids.shape[1]
        finally:
            self.model.train(was_training)
        return self.rollout_of(prompt_ids, prompt_mask, out[:, plen:], n, sample_lp)

    def rollout_of(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        response: torch.Tensor,
        n: int,
        sample_logprobs: torch.Tensor | None = None,
    ) -> Rollout:
        """The :class:`Rollout` of sampled ``response`` ids ``[B * n, T]`` for ``B`` prompts
        (a row ends at its first EOS; what follows is padding), whichever engine sampled them."""
        if response.shape[1] == 0:
            response = torch.full(
                (response.shape[0], 1), self.eos_id, dtype=torch.long, device=response.device
            )
            sample_logprobs = None
        mask = self.response_mask(response)
        response = response.masked_fill(mask == 0, self.pad_id)
        if sample_logprobs is not None:
            sample_logprobs = sample_logprobs.masked_fill(mask == 0, float("nan"))
        rep_ids = prompt_ids.repeat_interleave(n, dim=0)
        rep_mask = prompt_mask.repeat_interleave(n, dim=0)
        raw, texts = self.program_texts(response, mask)
        return Rollout(rep_ids, rep_mask, response, mask, texts, raw, sample_logprobs)

    def program_texts(
        self, response: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[list[str], list[str]]:
        """(decoded responses, programs): an instruct actor's program is its code block."""
        raw = self.decode(response, mask)
        return raw, [prompting.extract_code(t) for t in raw] if self.instruct else raw

    def sampling_model(self) -> nn.Module:
        """The model that samples: the training model itself, or with ``sample_dtype`` a copy with
        LoRA adapters merged, in bfloat16 (about twice the tokens/s of float32 on a CPU with
        AVX-512 BF16) or ``int8`` (dynamic int8 quantisation of every linear layer), synced
        whenever the trainable weights changed (their version counters moved). Log-probs for
        learning are always recomputed by the training model (:meth:`response_logprobs`)."""
        want = self.sample_dtype
        if want is None or want == next(self.model.parameters()).dtype:
            return self.model
        trainable = [p for p in self.model.parameters() if p.requires_grad] or list(
            self.model.parameters()
        )
        key = (
            want,
            self.device,
            sum(p._version for p in trainable),
            tuple(id(p) for p in trainable[:4]),
        )
        if self.__dict__.get("_shadow_key") == key:
            return self.__dict__["_shadow"]
        int8 = want == "int8"
        copy_dtype = torch.float32 if int8 else want
        shadow = self.__dict__.get(
            "_shadow_float"
        )  # not a submodule: never saved, trained or counted
        if shadow is None or shadow.device != self.device or shadow.dtype != copy_dtype:
            base = lora_lib.base_model(self.model)
            shadow = type(base)(base.config).to(device=self.device, dtype=copy_dtype).eval()
            shadow.requires_grad_(False)
            shadow.generation_config = base.generation_config
            # buffers (RoPE frequencies) keep their precision: bf16 positions would drift
            for (_, buf), (_, mine) in zip(base.named_buffers(), shadow.named_buffers()):
                mine.data = buf.detach().clone()
        with torch.no_grad():
            params = dict(shadow.named_parameters())
            for name, w in lora_lib.merged_parameters(self.model):
                if name in params:
                    params[name].copy_(w)
        sampler = shadow
        if int8:
            sampler = torch.ao.quantization.quantize_dynamic(
                shadow, {nn.Linear}, dtype=torch.qint8, inplace=False
            )
            sampler.generation_config = shadow.generation_config
        self.__dict__.update(_shadow_float=shadow, _shadow=sampler, _shadow_key=key)
        return sampler

    def _generate_from_shared_prefill(self, model, prompt_ids, prompt_mask, kwargs):
        """Causal sampling of ``n`` responses per prompt with the prompt run once, not ``n`` times:
        all but its last token go into a KV cache that is repeated to the ``n`` rows, and
        ``generate`` continues from it. (Seq2seq ``generate`` already encodes each prompt once.)"""
        n = kwargs.pop("num_return_sequences")
        cache, _ = self.prefill(prompt_ids[:, :-1], prompt_mask[:, :-1], model=model)
        cache.batch_repeat_interleave(n)
        return model.generate(
            input_ids=prompt_ids.repeat_interleave(n, dim=0),
            attention_mask=prompt_mask.repeat_interleave(n, dim=0),
            **{self.cache_kw: cache},
            **kwargs,
        )

    def _loop_samples_like(self, model: nn.Module) -> bool:
        """Whether :mod:`execrl.models.decoding` samples what ``generate`` would for ``model``
        (not when its generation_config adds processors, e.g. a repetition penalty)."""
        extra = decoding.unsupported_processors(getattr(model, "generation_config", None))
        if extra and not self.__dict__.get("_warned_processors"):
            log.warning(
                "the model's generation_config sets %s: sampling with transformers' generate, "
                "which applies them (model.drop_finished has no effect)",
                ", ".join(extra),
            )
            self._warned_processors = True
        return not extra

    def _decode_dropping_finished(self, model, prompt_ids, prompt_mask, kwargs, on_row=None):
        """Causal sampling that removes each row from the batch the step it ends
        (:mod:`execrl.models.decoding`); the prompt runs once per distinct prompt. Returns the
        responses and their sampled tokens' log-probs; ``on_row(row, program)`` as rows end."""
        n = kwargs["num_return_sequences"]
        cache, pre = self.prefill(prompt_ids, prompt_mask, model=model)
        logits = pre.logits[:, -1]
        if n > 1:
            cache.batch_repeat_interleave(n)
            logits = logits.repeat_interleave(n, dim=0)
        # generate's fence criterion, applied to the responses alone
        criteria = kwargs.get("stopping_criteria")
        return decoding.sample_dropping_finished(
            model,
            cache,
            logits,
            prompt_mask.repeat_interleave(n, dim=0),
            cache_kw=self.cache_kw,
            max_new_tokens=kwargs["max_new_tokens"],
            eos_id=self.eos_id,
            fill_id=kwargs["pad_token_id"],
            do_sample=kwargs["do_sample"],
            temperature=kwargs.get("temperature", 1.0),
            top_k=kwargs.get("top_k"),
            top_p=kwargs.get("top_p", 1.0),
            stop=criteria[0].closed_rows if criteria else None,
            on_finish=None if on_row is None else self._row_callback(on_row),
            logprobs=True,
        )

    def _row_callback(self, on_row: Callable[[int, str], None]):
        """The decoding loop's ``on_finish``: each ended row's program, as the final rollout has it."""

        def on_finish(rows: list[int], out: torch.Tensor) -> None:
            for r in rows:
                on_row(r, self.program_texts(out[r : r + 1])[1][0])

        return on_finish

    def prefill(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        output_hidden_states: bool = False,
        model: nn.Module | None = None,
    ) -> tuple[Any, Any]:
        """KV cache of a causal model over left-padded ``ids`` (positions count real tokens, as
        ``generate`` and :meth:`forward_responses` do), and the model output (logits of the last
        position only)."""
        pos = (torch.cumsum(mask, dim=1) - 1).clamp(min=0)
        out = (model or self.model)(
            input_ids=ids,
            attention_mask=mask,
            position_ids=pos,
            use_cache=True,
            logits_to_keep=1,
            output_hidden_states=output_hidden_states,
        )
        return getattr(out, self.cache_kw), out

    def _generate_with_prefix(self, model, prompt_ids, prompt_mask, prefix_ids, kwargs):
        """Generate one prompt at a time with a forced response prefix (prefixes differ in length)."""
        rows = []
        for i, prefix in enumerate(prefix_ids):
            pref = torch.tensor([prefix], dtype=torch.long, device=self.device)
            p_ids, p_mask = prompt_ids[i : i + 1], prompt_mask[i : i + 1]
            if self.is_seq2seq:
                start = torch.full(
                    (1, 1), self.model.config.decoder_start_token_id, device=self.device
                )
                out = model.generate(
                    input_ids=p_ids,
                    attention_mask=p_mask,
                    decoder_input_ids=torch.cat([start, pref], 1),
                    **kwargs,
                )
                rows.append(out[:, 1:])
            else:
                ids = torch.cat([p_ids, pref], 1)
                mask = torch.cat([p_mask, torch.ones_like(pref)], 1)
                out = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
                rows.append(out[:, p_ids.shape[1] :])
        width = max(r.shape[1] for r in rows)
        padded = [F.pad(r, (0, width - r.shape[1]), value=self.pad_id) for r in rows]
        return torch.cat(padded, 0), 0

    def save_pretrained(self, path: str) -> None:
        """Export in Hugging Face format: the model (loadable with ``model.pretrained=path``), or
        for a LoRA actor the peft adapter folder (``model.adapter=path`` on the same base)."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)


class FenceStop(StoppingCriteria):
    """Stops each row once its response (the tokens after position ``start``) has closed its code
    block (:func:`execrl.data.prompting.closed`). Only rows whose last token holds a backtick are
    decoded, so the check costs almost nothing per step."""

    def __init__(self, tokenizer: Any, start: int) -> None:
        self.tokenizer, self.start = tokenizer, start
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        # byte-level BPE spells ` as itself; SentencePiece too
        self.tick = torch.tensor(["`" in (t or "") for t in vocab], dtype=torch.bool)

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        return self.closed_rows(input_ids[:, self.start :])

    def closed_rows(self, responses: torch.Tensor) -> torch.BoolTensor:
        """Which rows of ``responses`` (response tokens only) have closed their code block."""
        done = torch.zeros(responses.shape[0], dtype=torch.bool, device=responses.device)
        last = responses[:, -1].cpu()
        hit = self.tick[last.clamp(max=len(self.tick) - 1)] & (last < len(self.tick))
        for i in hit.nonzero().flatten().tolist():
            done[i] = prompting.closed(
                self.tokenizer.decode(responses[i], skip_special_tokens=True)
            )
        return done


def _adapters_only(
    module: nn.Module, state: dict[str, Any], prefix: str, local_metadata: Any
) -> None:
    """state_dict hook of a LoRA actor: keep the adapters, drop the frozen base weights."""
    for k in [k for k in state if k.startswith(prefix) and not lora_lib.is_adapter_key(k)]:
        del state[k]


def _base_weights_optional(module: nn.Module, incompatible: Any) -> None:
    """load_state_dict hook of a LoRA actor: an adapters-only state dict is complete."""
    base = {
        f"model.{n}" for n in module.model.state_dict() if not lora_lib.is_adapter_key(n)
    }  # tied weights included
    keep = [
        k for k in incompatible.missing_keys if not any(k == n or k.endswith("." + n) for n in base)
    ]
    incompatible.missing_keys[:] = keep


def build_actor(model: ModelConfig | str | None = None, /, **overrides: Any) -> Actor:
    """Build an :class:`Actor` of the model config ``model`` with ``overrides`` (keys, defaults and
    what each does: :class:`ModelConfig`; Hydra passes a node's keys so). A string is the
    ``arch``, as in ``build_actor("causal", config={...})``.

    ``pretrained`` is a hub id, a local folder or ``pkg:<python package>``; with ``gguf_file``
    the weights are that GGUF file, dequantised once into a cached safetensors folder
    (:mod:`execrl.models.gguf`). ``tokenizer=null`` reads the tokenizer from the same place.
    With ``pretrained=None`` the model is randomly initialised from ``config`` (the embedded
    tiny models, or a full-size architecture for memory checks without a download).
    ``lora.r > 0`` trains LoRA adapters (peft) instead of every weight; ``adapter`` loads a
    saved peft adapter folder onto the model. The actor keeps its whole config (``build_cfg``):
    checkpoints save it, so generate.py and evaluate.py rebuild the same model.
    """
    if isinstance(model, str):
        model, overrides = None, {"arch": model, **overrides}
    from execrl.utils.config import plain

    cfg = configured(ModelConfig, model, {k: plain(v) for k, v in overrides.items()})
    lora = dataclasses.asdict(cfg.lora) if dataclasses.is_dataclass(cfg.lora) else cfg.lora
    cfg = dataclasses.replace(cfg, _target_=f"{__name__}.build_actor", lora=lora)
    build_cfg = dataclasses.asdict(cfg)
    from execrl.models.gguf import resolve_pretrained

    location = resolve_pretrained(cfg.pretrained, cfg.gguf_file, cfg.cache_dir)
    tok = load_tokenizer(cfg.tokenizer or location or "builtin")
    if location:
        auto = AutoModelForSeq2SeqLM if cfg.arch == "seq2seq" else AutoModelForCausalLM
        torch_dtype = getattr(torch, cfg.dtype) if cfg.dtype else None
        try:
            lm = auto.from_pretrained(location, dtype=torch_dtype)
        except (OSError, ValueError) as e:  # hub errors are not all OSErrors
            raise OSError(
                f"could not load model {cfg.pretrained!r}: not a local directory and the model hub is "
                "unreachable from here. Download it where there is network and set model.pretrained=/path, "
                "or use an embedded model (model=tiny_t5 / model=tiny_causal / model=smollm2_135m)."
            ) from e
    else:
        arch_cfg = dict(cfg.config or {})
        common = dict(
            vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id
        )
        if cfg.arch == "seq2seq":
            lm = AutoModelForSeq2SeqLM.from_config(
                T5Config(**common, decoder_start_token_id=tok.pad_token_id, **arch_cfg)
            )
        elif cfg.arch == "causal":
            lm = AutoModelForCausalLM.from_config(
                LlamaConfig(**common, bos_token_id=tok.bos_token_id, **arch_cfg)
            )
        else:
            raise ValueError(f"model.arch must be 'seq2seq' or 'causal', got {cfg.arch!r}")
    if cfg.adapter:
        lm = lora_lib.load_adapter(lm, str(cfg.adapter))
    elif lora and int(lora.get("r") or 0) > 0:
        lm = lora_lib.add_lora(
            lm,
            int(lora["r"]),
            lora.get("alpha"),
            float(lora.get("dropout") or 0.0),
            lora.get("target_modules"),
            seq2seq=cfg.arch == "seq2seq",
        )
    # a randomly initialised base cannot be rebuilt: its checkpoints keep it
    actor = Actor(lm, tok, cfg, adapters_only=bool(location))
    actor.build_cfg = build_cfg
    return actor


def token_logprobs(
    logits: torch.Tensor, ids: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """``log_softmax(logits / temperature)`` at ``ids``, in float32, with its gradient: the same
    values as the plain expression, without its two float32 copies of the ``[B, T, V]`` logits
    (a 49k vocabulary makes them the largest tensors of an update). Rows go through in chunks,
    and the backward recomputes each chunk's softmax from its saved log-normaliser."""
    shape = ids.shape
    lp = _TokenLogprobs.apply(
        logits.reshape(-1, logits.shape[-1]), ids.reshape(-1), float(temperature)
    )
    return lp.view(shape)


class _TokenLogprobs(torch.autograd.Function):
    CHUNK = 32  # rows per chunk: a few MB of float32 at a 49k vocabulary, cache-sized

    @staticmethod
    def forward(ctx, logits: torch.Tensor, ids: torch.Tensor, temperature: float) -> torch.Tensor:
        lse = torch.empty(ids.shape, dtype=torch.float32, device=logits.device)
        picked = torch.empty_like(lse)
        for s in range(0, ids.numel(), _TokenLogprobs.CHUNK):
            x = logits[s : s + _TokenLogprobs.CHUNK].to(torch.float32, copy=True).div_(temperature)
            lse[s : s + x.shape[0]] = torch.logsumexp(x, -1)
            picked[s : s + x.shape[0]] = x.gather(-1, ids[s : s + x.shape[0], None]).squeeze(-1)
        ctx.save_for_backward(logits, ids, lse)
        ctx.temperature = temperature
        return picked - lse

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        logits, ids, lse = ctx.saved_tensors
        t = ctx.temperature
        out = torch.empty_like(logits)
        for s in range(0, ids.numel(), _TokenLogprobs.CHUNK):
            e = s + _TokenLogprobs.CHUNK
            g = grad[s:e, None]
            # d lp / d logits = (onehot(id) - softmax(logits / t)) / t
            # a copy: in place on a float32 view would overwrite the saved logits
            p = logits[s:e].to(torch.float32, copy=True).div_(t).sub_(lse[s:e, None]).exp_()
            p.mul_(-g)
            p.scatter_add_(-1, ids[s:e, None], g)
            out[s:e] = p.div_(t)
        return out, None, None


FP32_SDPA = "execrl_sdpa_fp32_cpu"


def _fp32_sdpa_on_cpu(module, query, key, value, attention_mask, **kwargs):
    """transformers' SDPA attention, run in float32 under CPU autocast: torch's CPU flash-attention
    kernel is slower in bfloat16 than in float32 (SmolLM2, 16 x 256 tokens: forward and backward
    1.7 s less of 20 s), and float32 is the more exact. Elsewhere (no autocast: sampling; a GPU)
    it is SDPA unchanged."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    dev = query.device.type
    if dev != "cpu" or not torch.is_autocast_enabled(dev):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    with torch.autocast(dev, enabled=False):
        out, weights = sdpa_attention_forward(
            module, query.float(), key.float(), value.float(), attention_mask, **kwargs
        )
    return out.to(query.dtype), weights


def _attention_in_float32_on_cpu(model: PreTrainedModel) -> None:
    """Switch a causal model on transformers' SDPA attention to :func:`_fp32_sdpa_on_cpu`."""
    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(FP32_SDPA, _fp32_sdpa_on_cpu)
    AttentionMaskInterface.register(FP32_SDPA, sdpa_mask)  # the same masks as SDPA
    model.set_attn_implementation(FP32_SDPA)


AUTOCAST = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16}


def _autocast_dtype(name: str | None) -> torch.dtype | None:
    """``model.autocast``'s dtype (None: float32 throughout). bf16 only: float16 would need a
    loss scaler, and bfloat16 keeps float32's exponent range."""
    if name in (None, False, "none", "null", "fp32", "float32"):
        return None
    if name not in AUTOCAST:
        raise ValueError(f"model.autocast must be bf16 or null, got {name!r}")
    native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)()
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    if not (native or amx or torch.cuda.is_available()):
        log.warning(
            "model.autocast=bf16 on a CPU without AVX512-BF16 or AMX: bfloat16 matmuls are "
            "emulated there and may be slower than float32 (set model.autocast=null)"
        )
    return AUTOCAST[name]


def _cache_kwarg(model: PreTrainedModel) -> str:
    """The KV-cache argument (and output field) name: ``cache`` from transformers 5.x, ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _shared_rows(
    prompt_ids: torch.Tensor, prompt_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(one row index per distinct prompt, each row's distinct-prompt index), or None when no prompt repeats."""
    if prompt_ids.shape[0] < 2:
        return None
    _, inverse = torch.unique(
        torch.cat([prompt_ids, prompt_mask], dim=1), dim=0, return_inverse=True
    )
    u = int(inverse.max()) + 1
    if u == prompt_ids.shape[0]:
        return None
    first = torch.full((u,), prompt_ids.shape[0], dtype=torch.long, device=inverse.device)
    first.scatter_reduce_(
        0, inverse, torch.arange(inverse.numel(), device=inverse.device), reduce="amin"
    )
    return first, inverse
