"""Train an actor, critic or RL algorithm: ``python train.py algo=ppo data=xlcost_java_cpp``."""

import hydra
from omegaconf import DictConfig

from execrl.utils.config import set_project_root_env
from execrl.utils.threads import apply_thread_settings

set_project_root_env()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    apply_thread_settings(cfg)  # before torch loads (torch_threads: hardware=cpu)
    from execrl.tasks.train import train

    metrics = train(cfg)
    return metrics.get(cfg.get("optimized_metric") or "", None)


if __name__ == "__main__":
    main()
