"""Judge samples in the sandbox and report metrics: ``python evaluate.py data=mbpp samples=/path/samples.jsonl``
(``samples=reference`` evaluates the dataset's own solutions).

Start-up is kept short: nothing here or on the judging path imports torch, transformers or Lightning
(tests/evaluation/test_import_cost.py), a plain run composes its config once (Hydra flags such as
``-m`` or ``--cfg`` go through ``@hydra.main`` as always), and the sandbox workers start while the
samples and the dataset load."""

import sys

import hydra
from omegaconf import DictConfig

from execrl.utils.config import fast_exit, run_single_job, set_project_root_env
from execrl.utils.threads import apply_thread_settings

set_project_root_env()


def task(cfg: DictConfig) -> None:
    apply_thread_settings(cfg)  # before numpy loads (torch_threads: conf/evaluate.yaml)
    from execrl.tasks.evaluate import evaluate

    evaluate(cfg)


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    task(cfg)


if __name__ == "__main__":
    ran, _ = run_single_job(task, __file__, "evaluate", sys.argv[1:])
    if not ran:
        main()
    fast_exit(0)
