# mmpad: the two commands of the README, plus helpers.
#   make demo   - generate the embedded infrared data and run the pipeline on it
#   make test   - run the test suite
#   make smoke  - train every shipped full-size config 2 iterations on generated data
#                 (SMOKE_ARGS: e.g. --part ci, --only PATTERN, --list)
# Each first creates / refreshes the project virtualenv (.venv) with tools/install_env.sh.
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: env demo test test-fast bench smoke clean

env:
	@bash tools/install_env.sh

demo: env
	$(PY) tools/demo.py $(DEMO_ARGS)

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

smoke: env
	$(PY) tools/smoke_configs.py $(SMOKE_ARGS)

bench: env
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf work_dirs
