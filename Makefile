# Everything the project needs is installed by these targets, into .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SE := $(VENV)/bin/searchengine

.PHONY: install test demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

## Install, then run the whole test suite (what CI runs).
test: install
	$(PY) -m pytest -q

## Install, then index the sample media and run a text and an image query.
demo: install
	$(SE) index samples --index demo
	$(SE) search "a cat lying on a rug" --index demo --k 5
	$(SE) search --image samples/images/rocket.jpg --index demo --k 5

## Ingestion throughput, pipeline efficiency, re-index time, query latency.
bench: install
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) indexes/demo
