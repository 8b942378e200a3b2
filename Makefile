# mmpad: the two commands of the README, plus helpers.
#   make demo   - generate the embedded infrared data and run the pipeline on it
#   make test   - run the test suite
# Both first create/refresh the project virtualenv (.venv) with tools/install_env.sh.
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: env demo test test-fast bench clean

env:
	@bash tools/install_env.sh

demo: env
	$(PY) tools/demo.py $(DEMO_ARGS)

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

bench: env
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf work_dirs
