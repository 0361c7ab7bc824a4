# The two commands in the README: `make run` and `make test`. Both need only Python 3.11+ (as pyproject.toml says).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= ../shared/data

.PHONY: run test bench train evaluate wheel clean gpu mutate

run: $(VENV)/.run-installed
	$(VENV)/bin/lenet-gui

# Every test: the train extra is installed, so the training tests must run, not skip.
test: $(VENV)/.test-installed
	QT_QPA_PLATFORM=offscreen LENET_GUI_REQUIRE_TRAIN=1 $(PY) -m pytest

bench: $(VENV)/.test-installed
	QT_QPA_PLATFORM=offscreen $(PY) -m benchmarks

# Mutation testing of the Qt-free core (minutes; see docs/testing.md). Prints a score
# per module, a total and the surviving mutants. MODULES="arithmetic preprocess"
# picks modules (default: every module of lenet_gui/core), FUNCTIONS="load_image
# 'image_to_*'" functions in them; FLOOR=95 fails below that score.
MODULES ?=
FUNCTIONS ?=
FLOOR ?=
mutate: $(VENV)/.test-installed
	QT_QPA_PLATFORM=offscreen $(PY) scripts/mutation_report.py $(if $(MODULES),--modules $(MODULES)) \
		$(if $(FUNCTIONS),--functions $(FUNCTIONS)) $(if $(FLOOR),--floor $(FLOOR))

# Retrain the shipped model (needs the train extra: `make test` installs it).
train: $(VENV)/.test-installed
	$(PY) -m lenet_gui.train --mnist $(SHARED)/mnist --pendigits $(SHARED)/pendigits/pendigits-orig.tra --out models/lenet5.onnx

evaluate: $(VENV)/.run-installed
	$(PY) -m lenet_gui.train.evaluate models/lenet5.onnx --mnist $(SHARED)/mnist --pendigits $(SHARED)/pendigits/pendigits-orig.tra

wheel: $(VENV)/.test-installed
	$(PY) -m pip wheel --no-deps --no-build-isolation -w dist .

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "lenet-gui needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1). Try: make run PYTHON=python3.12"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e ".[test,train]"
	touch $@ $(VENV)/.run-installed

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis mutants

# Use the CUDA build of onnxruntime in .venv (the two builds cannot coexist).
gpu: $(VENV)/.run-installed
	$(PY) -m pip uninstall -y onnxruntime
	$(PY) -m pip install onnxruntime-gpu
