# posefix_mm: one command each for set-up, tests and the demo.
# On a fresh machine `make test` or `make demo` runs `make setup` first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
DEPS_STAMP := $(VENV)/.deps-installed
# BlazePose's landmark weights (Apache-2.0), converted once from the
# mediapipe 0.10.21 wheel that pip downloads (no install), into the user's
# folder where the configs find them from anywhere (posefix_mm://...:
# $POSEFIX_MM_HOME, default $XDG_CACHE_HOME/posefix_mm or ~/.cache/posefix_mm)
POSEFIX_MM_HOME ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/posefix_mm
export POSEFIX_MM_HOME
BLAZEPOSE_WEIGHTS := $(POSEFIX_MM_HOME)/pretrained/blazepose_landmark_full.pth
PKG_STAMP := $(VENV)/.posefix_mm-installed
PKG_SOURCES := setup.py README.md model-index.yml $(shell find posefix_mm tools configs \
	\( -name '*.py' -o -name '*.yml' \) -not -path '*/.mim/*' 2>/dev/null)

DATA ?= ../shared/data/coco_mini
EXTRA ?= ../shared/data/coco_extra
LSPET ?= ../shared/data/lspet

.PHONY: setup setup-full test test-fast demo clean blazepose-venv

setup: $(PKG_STAMP) $(BLAZEPOSE_WEIGHTS)

$(PY):
	$(PYTHON) -m venv $(VENV)

# The working set: ordinary packages with their requirements, OpenMMLab
# packages without theirs, xtcocotools built against numpy 2; and the
# optional ONNX export and onnxruntime backend (requirements/onnx.txt).
$(DEPS_STAMP): requirements/base.txt requirements/onnx.txt requirements/pretrained.txt requirements/nodeps.txt requirements/build.txt | $(PY)
	$(PIP) install -r requirements/base.txt -r requirements/onnx.txt \
		-r requirements/pretrained.txt
	$(PIP) install --no-deps -r requirements/nodeps.txt
	$(PIP) install --no-deps --no-build-isolation --no-binary xtcocotools \
		-r requirements/build.txt
	touch $@

# A regular (not editable) install: mim runs the tools and finds the configs
# inside the installed package. Re-installed only when a source changes.
# Then the .pth hook that applies the environment fixes on the first import
# of mmpose or mmdet (posefix_mm/utils/compat_hook.py).
$(PKG_STAMP): $(DEPS_STAMP) $(PKG_SOURCES)
	$(PIP) install --no-deps --no-build-isolation --no-cache-dir .
	rm -rf build posefix_mm.egg-info posefix_mm/.mim
	cd / && $(abspath $(PY)) -I -m posefix_mm.utils.compat_hook
	touch $@

# The pose-pretrained start of the demo model: pip downloads the mediapipe
# wheel next to the weights (docs/pretrained.md: source and license).
$(BLAZEPOSE_WEIGHTS): | $(PKG_STAMP)
	$(PY) tools/convert_blazepose.py --out $@

# Optional: mmcv 2.1.0 with its compiled ops (CPU), about 20 minutes on
# 2 cores, for mmdet detectors that need roi_align & co (Faster R-CNN).
setup-full: setup
	MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 $(PIP) install --no-deps \
		--no-build-isolation mmcv==2.1.0
	$(PIP) uninstall -y mmcv-lite

test: setup
	$(PY) -m pytest tests

# The fast tier: unit tests on data built in memory or in a temporary
# folder; no shared data, no training, no process (tests/conftest.py marks
# the rest `integration`).
test-fast: setup
	$(PY) -m pytest -m "not integration" tests

# The main job: train the demo refiner (reused from work_dirs/demo unless
# RETRAIN=1), refine BlazePose results on coco_mini val, print AP before/after.
demo: setup
	$(PY) tools/demo.py --data $(DATA) --extra $(EXTRA) --lspet $(LSPET) \
		$(if $(RETRAIN),--retrain)

# Optional: MediaPipe BlazePose in .venv-blazepose for
# tools/blazepose_results.py (a real estimator's results on training images,
# to fit error tables to with tools/fit_error_tables.py).
blazepose-venv: .venv-blazepose/.installed

.venv-blazepose/.installed: requirements/blazepose.txt
	$(PYTHON) -m venv .venv-blazepose
	.venv-blazepose/bin/python -m pip --disable-pip-version-check install \
		-r requirements/blazepose.txt
	touch $@

clean:
	rm -rf $(VENV) .venv-blazepose build posefix_mm.egg-info posefix_mm/.mim
