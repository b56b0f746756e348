"""Sample programs from an actor: ``python generate.py data=mbpp ckpt=/path/last.ckpt sampling.n=20``."""

import hydra
from omegaconf import DictConfig

from execrl.utils.config import set_project_root_env
from execrl.utils.threads import apply_thread_settings

set_project_root_env()


@hydra.main(version_base="1.3", config_path="conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    apply_thread_settings(cfg)  # before torch loads (torch_threads: conf/generate.yaml)
    from execrl.tasks.generate import generate

    generate(cfg)


if __name__ == "__main__":
    main()
