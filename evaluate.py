"""Judge samples in the sandbox and report metrics: ``python evaluate.py data=mbpp samples=/path/samples.jsonl``
(``samples=reference`` evaluates the dataset's own solutions)."""

import hydra
from omegaconf import DictConfig

from execrl.utils.config import set_project_root_env

set_project_root_env()


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from execrl.tasks.evaluate import evaluate

    evaluate(cfg)


if __name__ == "__main__":
    main()
