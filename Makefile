# Two commands on a fresh machine with Python 3.10+: `make demo` and `make test`.
# Every target creates .venv and installs the package with its extras on first use only.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb notebooks/solutions/*.ipynb))

# OpenMP threads sleep instead of spinning when out of work: kernels import torch before kgqa, too
# late for kgqa.threads to choose it (benchmarks/train_speed.py measures why it matters)
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup demo test test-unit test-notebooks test-browser lab notebooks bench-follow bench-qa bench-latency bench-intersection experiments experiments-quick clean

setup: $(STAMP)

# pyproject.toml is the single source of truth for dependencies; torch is pinned to 2.13.0,
# which pip takes as the CPU wheel found on this machine.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing kgqa and its dependencies into $(VENV) (first run only; log: $(VENV)/install.log)"
	@$(PY) -m pip install -e '.[test,dev]' > $(VENV)/install.log 2>&1 || (tail -n 40 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m kgqa demo

test: $(STAMP)
	KGQA_QUICK=1 MPLBACKEND=Agg $(PY) -m pytest tests $(NOTEBOOKS) --nbval-lax --nbval-current-env -p no:cacheprovider --durations=15

test-unit: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest tests

test-notebooks: $(STAMP)
	KGQA_QUICK=1 $(PY) -m pytest $(NOTEBOOKS) --nbval-lax --nbval-current-env

# The widgets in a real browser: JupyterLab on 127.0.0.1 and Debian's chromium driven by Playwright
# (apt-get install chromium; `make test` runs these too, and skips them, saying why, without it).
# Screenshots: build/browser/.
test-browser: $(STAMP)
	KGQA_QUICK=1 MPLBACKEND=Agg $(PY) -m pytest tests/browser -p no:cacheprovider

# As root, JupyterLab needs --allow-root.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ --ip=127.0.0.1 $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# Full-mode run of every notebook, outputs kept for readers, volatile metadata stripped.
notebooks: $(STAMP)
	KGQA_QUICK=0 $(PY) scripts/run_notebooks.py $(NOTEBOOKS)

bench-follow: $(STAMP)
	$(PY) benchmarks/follow.py

# Needs KGQA_DATA. Trains on every real dataset (about an hour on 2 CPU cores).
bench-qa: $(STAMP)
	$(PY) benchmarks/qa_accuracy.py

bench-latency: $(STAMP)
	$(PY) benchmarks/latency.py

bench-intersection: $(STAMP)
	$(PY) benchmarks/intersection.py

# The experiment grid, one JSON per row under benchmarks/results/experiments/; resumable (needs KGQA_DATA).
experiments: $(STAMP)
	$(PY) benchmarks/experiments.py

# The small grid (the toy world, three seeds): under benchmarks/results/experiments-quick/.
experiments-quick: $(STAMP)
	$(PY) benchmarks/experiments.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
