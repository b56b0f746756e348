"""The sampling task behind ``generate.py``: n programs per problem into ``samples.jsonl``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from execrl.metrics.samples import prompt_hash, random_subset
from execrl.schema.build import instantiate
from execrl.utils.config import print_config_tree, task_wrapper
from execrl.utils.threads import apply_thread_settings

log = logging.getLogger("execrl")


def select_problems(
    datamodule: Any,
    split: str,
    start: int = 0,
    end: int | None = None,
    limit: int | None = None,
    subset: int | None = None,
    subset_seed: int | None = None,
) -> list:
    """The ``[start, end)`` range of a split, its first ``limit`` problems (as evaluate.py and
    lm-evaluation-harness read ``limit``), then a random ``subset`` of that many, in split order,
    drawn with ``subset_seed`` (None: the data config's seed)."""
    problems = datamodule.problems(split)[start:end]
    if limit is not None:
        problems = problems[: int(limit)]
    seed = getattr(datamodule, "seed", 0) if subset_seed is None else subset_seed
    return random_subset(problems, subset, seed)


def load_model(cfg: DictConfig) -> Any:
    """The actor of ``cfg.ckpt`` (a train.py checkpoint: full weights, or LoRA adapters on the
    base its model config names; or a peft adapter folder, put on ``cfg.model``), else
    ``cfg.model`` built from config."""
    if cfg.get("ckpt") and (Path(cfg.ckpt) / "adapter_config.json").exists():
        log.info("peft adapter %s on %s", cfg.ckpt, cfg.model.get("pretrained"))
        return hydra.utils.instantiate(cfg.model, adapter=str(cfg.ckpt))
    if cfg.get("ckpt"):
        from execrl.models.checkpoint import load_actor

        log.info("actor from checkpoint %s", cfg.ckpt)
        return load_actor(cfg.ckpt)
    if cfg.model.get("pretrained"):
        log.info("no ckpt: the pretrained model %s, as it is", cfg.model.pretrained)
    else:
        log.info("no ckpt: building %s from config (untrained)", cfg.model.get("arch", "model"))
    return hydra.utils.instantiate(cfg.model)


def written_task_ids(path: Path) -> set[str]:
    """Task ids already in a (possibly half-written) samples file; a torn last line is dropped."""
    done: set[str] = set()
    if not path.exists():
        return done
    lines = path.read_text().splitlines(keepends=True)
    good = []
    for line in lines:
        try:
            done.add(json.loads(line)["task_id"])
            good.append(line)
        except (json.JSONDecodeError, KeyError):
            log.warning("%s: dropping a torn line (interrupted run)", path)
    if len(good) != len(lines):
        path.write_text("".join(good))
    return done


@task_wrapper
def generate(cfg: DictConfig) -> dict[str, Any]:
    """Sample ``sampling.n`` programs for each selected problem and append them to samples.jsonl."""
    import lightning as L
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    L.seed_everything(cfg.seed, workers=True)
    # generate.py did it before torch loaded; again here for in-process callers (tests, notebooks)
    apply_thread_settings(cfg)
    log.info(
        "torch threads: %d (torch_threads=%s)", torch.get_num_threads(), cfg.get("torch_threads")
    )
    if cfg.get("print_config"):
        print_config_tree(cfg, save_to=cfg.paths.output_dir)
    device = cfg.get("device") or "auto"
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    actor = load_model(cfg).to(device).eval()
    # prompts in the style the actor was built for (a checkpoint's model config may differ from cfg.model's)
    datamodule = hydra.utils.instantiate(
        cfg.data, prompt_style="instruct" if getattr(actor, "instruct", False) else "completion"
    )
    split = cfg.get("split") or datamodule.test_split
    problems = select_problems(
        datamodule,
        split,
        cfg.get("start") or 0,
        cfg.get("end"),
        cfg.get("limit"),
        cfg.get("subset"),
        cfg.get("subset_seed"),
    )
    out = Path(cfg.get("output") or Path(cfg.paths.output_dir) / "samples.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    done = written_task_ids(out) if cfg.get("resume", True) else set()
    if not cfg.get("resume", True):
        out.unlink(missing_ok=True)
    todo = [p for p in problems if p.task_id not in done]
    log.info(
        "%s:%s: %d problems, %d already in %s",
        datamodule.name,
        split,
        len(problems),
        len(problems) - len(todo),
        out,
    )

    sampler = instantiate(cfg.sampling)
    model_name = None if cfg.get("ckpt") else (cfg.model.get("pretrained") or cfg.model.get("arch"))
    gen_cfg = {
        **sampler.config(),
        "ckpt": cfg.get("ckpt"),
        "model": model_name,
        "seed": cfg.seed,
        "data": datamodule.name,
    }

    programs, t0 = 0, time.perf_counter()
    bs = max(1, int(cfg.batch_size))
    with (
        out.open("a") as f,
        Progress(
            TextColumn("generate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            disable=not todo,
        ) as bar,
    ):
        task = bar.add_task("gen", total=len(todo), rate="")
        for i in range(0, len(todo), bs):
            batch = todo[i : i + bs]
            for p, samples in zip(batch, sampler.sample(actor, batch)):
                row = {
                    "task_id": p.task_id,
                    "dataset": p.dataset,
                    "split": split,
                    "prompt": p.prompt,
                    "prompt_sha": prompt_hash(p.prompt),
                    "completions": [s.completion for s in samples],
                    "raw_completions": [s.raw for s in samples],
                    "logprobs": [s.logprob for s in samples],
                    "num_tokens": [s.num_tokens for s in samples],
                    "generation": gen_cfg,
                }
                f.write(json.dumps(row) + "\n")
                programs += len(samples)
            f.flush()  # each finished batch survives a crash (resume skips it)
            rate = programs / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, advance=len(batch), rate=f"{rate:.1f} programs/s")
    secs = time.perf_counter() - t0
    stats = {
        "problems": len(problems),
        "generated_problems": len(todo),
        "programs": programs,
        "seconds": secs,
        "programs_per_s": programs / secs if secs > 0 else 0.0,
        "samples_path": str(out),
    }
    log.info(
        "wrote %d programs for %d problems to %s (%.1f programs/s)",
        programs,
        len(todo),
        out,
        stats["programs_per_s"],
    )
    print(f"samples: {out}")
    return stats
