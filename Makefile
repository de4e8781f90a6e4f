# The two commands of the README: `make demo` and `make test` (lint and type check, then the tests).
# Each installs what it needs first.
# torch is pinned and installed first: an unpinned torch (or a package that pulls a newer one)
# brings gigabytes of CUDA wheels. OCTIS, FASTopic, SAELens and sparsify go last, without their declared dependencies,
# whose old pins conflict with numpy 2 / scikit-learn >= 1.4 (see benchmarks/README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH ?= torch==2.13.0

.PHONY: install demo lint test bertopic-suite bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -c constraints.txt -e ".[offline,mtm,bench,test,interop]"
	$(PIP) install -q --no-deps octis==1.14.0 fastopic==1.0.1
	$(PIP) install -q --no-deps sae-lens==6.54.12 eai-sparsify==1.3.3 transformer-lens==3.9.0 wandb==0.19.11
	touch $@

install: $(VENV)/.installed

demo: install
	HF_HUB_OFFLINE=1 $(PY) -m bertopic_sae.demo

# ruff (E, F, I, B, UP at line length 110; see pyproject.toml) and mypy on the public API.
lint: install
	$(PY) -m ruff check bertopic_sae tests benchmarks
	$(PY) -m mypy

test: lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

# BERTopic v0.17.4's own test suite, unmodified, run against the plugin's models (tests/bertopic_suite/).
BERTOPIC_SUITE ?= ../shared/external/bertopic-v0.17.4-tests/tests
bertopic-suite: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -p tests.bertopic_suite.plugin --noconftest --import-mode=importlib \
		-p no:cacheprovider --rootdir=$(BERTOPIC_SUITE) -q $(BERTOPIC_SUITE)

clean:
	rm -rf $(VENV)
