# One-command setup: `make test` and `make demo` create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-fast demo bench-tiny bless clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Whole test suite (common, projects, cross-project) plus the ci/ regression checks.
test: $(STAMP)
	OMP_NUM_THREADS=2 $(PY) -m pytest -p no:cacheprovider --durations=15

# The same without the tests marked slow (trained demos, subprocess and multi-process runs): a quick check.
test-fast: $(STAMP)
	OMP_NUM_THREADS=2 $(PY) -m pytest -p no:cacheprovider -m "not slow" --durations=10

demo: $(STAMP)
	OMP_NUM_THREADS=2 $(PY) -m projects.masnet.demo --out demo_runs/masnet

# Every benchmark in its tiny mode (seconds each; results go to the git-ignored benchmarks/results/_tiny).
bench-tiny: $(STAMP)
	OMP_NUM_THREADS=2 $(PY) -m benchmarks.model_speed --tiny
	OMP_NUM_THREADS=2 $(PY) -m benchmarks.loader_speed --tiny
	OMP_NUM_THREADS=2 $(PY) -m benchmarks.attention_kernels --tiny
	OMP_NUM_THREADS=2 $(PY) -m benchmarks.multigrid_speed --tiny

# Re-bless the ci/ golden logits on purpose after an intended model change.
bless: $(STAMP)
	$(PY) -m ci.regression --bless

clean:
	rm -rf demo_runs runs .pytest_cache
