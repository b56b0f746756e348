"""Put a model config's weights in place: ``python scripts/prepare_model.py smollm2_135m``.

For a GGUF model this converts the file once into the cached safetensors folder that every later
load reads (execrl.models.gguf); it prints the folder. Run by ``make install``.
"""

import sys

from execrl.models.gguf import resolve_pretrained
from execrl.utils.config import compose, set_project_root_env

if __name__ == "__main__":
    set_project_root_env()
    name = sys.argv[1] if len(sys.argv) > 1 else "smollm2_135m"
    cfg = compose("train", [f"model={name}", *sys.argv[2:]]).model
    print(resolve_pretrained(cfg.get("pretrained"), cfg.get("gguf_file"), cfg.get("cache_dir")))
