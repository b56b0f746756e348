"""Train the embedded byte-level BPE tokenizer shipped as ``src/execrl/assets/tokenizer.json``.

It needs no download: trained on the shipped MBPP, APPS and XLCoST text plus the synth
vocabulary, with digits split one per token (so small models can learn arithmetic).
Re-run after changing the data: ``.venv/bin/python scripts/build_tokenizer.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parents[1]
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]  # ids 0..3, CodeT5's order for pad/bos/eos


def corpus() -> list[str]:
    texts: list[str] = []
    for line in (ROOT / "data/mbpp/mbpp.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts += [row["text"], row["code"].replace("\r\n", "\n"), *row["test_list"]]
    for p in sorted((ROOT / "data/apps/train").glob("*/")):
        texts.append((p / "question.txt").read_text())
        texts += json.loads((p / "solutions.json").read_text())[:5]
    for f in sorted((ROOT / "data/xlcost/Java-C++").glob("val-*-tok.*")):
        texts += f.read_text().splitlines()[:400]
    try:  # the synth family, when its generator is importable
        from execrl.data.synth import SynthReader

        for task in ("synthesis", "translation"):
            for pr in SynthReader(task=task, seed=0).read(None, "sft")[:3000]:
                texts += [pr.prompt, *pr.solutions]
    except Exception as e:  # the tokenizer still covers everything byte-level
        print(f"synth not included: {e}")
    return texts


def main(vocab_size: int = 2048) -> None:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    out = ROOT / "src/execrl/assets/tokenizer.json"
    tok.save(str(out))
    print(f"wrote {out} ({tok.get_vocab_size()} tokens)")


if __name__ == "__main__":
    main()
