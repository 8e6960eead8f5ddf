# Two commands for a fresh machine with Python 3.11 (see README.md):
#   make book   set up, then build the site, the per-framework notebooks and PDFs
#   make test   set up, then build and run every test
# SKIP=mxnet builds without the MXNet environment (e.g. no Python 3.11 there).

PYTHON ?= python3.11
SKIP ?=
VENV := .venv
PY := $(VENV)/bin/python
MXNET_ENV := $(if $(findstring mxnet,$(SKIP)),,.venv-mxnet/.installed)
export BOOKMACHINE_SKIP := $(SKIP)

.PHONY: setup book execute test browser newest-releases runtimes benchmark clean

setup: $(VENV)/.installed $(MXNET_ENV) $(VENV)/.kernels node_modules/.installed browser

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# MXNet 1.9.1 needs numpy<1.24, so it gets an environment and kernel of its own.
.venv-mxnet/.installed: requirements-mxnet.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "MXNet 1.9.1 needs Python 3.11 ($(PYTHON)), not found. \
	Install it, or build without MXNet: make book SKIP=mxnet (make test SKIP=mxnet)"; exit 1; }
	test -x .venv-mxnet/bin/python || $(PYTHON) -m venv .venv-mxnet
	.venv-mxnet/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-mxnet.txt
	.venv-mxnet/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.kernels: $(VENV)/.installed $(MXNET_ENV) _config.yml
	$(PY) -m bookmachine kernels
	touch $@

# MathJax (and nothing else) from npm, served by the site itself: see package.json.
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian's Chromium, which prints the PDFs and runs the browser tests (no browser download).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# CACHE_FROM="DIR ..." merges executed results from other machines first (see `execute`).
book: setup
	$(PY) -m bookmachine build $(if $(CACHE_FROM),--cache-from $(CACHE_FROM))
	$(PY) -m bookmachine pdf

# One machine's share of a build spread over several: run only FRAMEWORKS' notebooks
# (comma-separated keys) into the cache and CACHE_OUT, without Sphinx; another machine's
# `make book CACHE_FROM=...` merges them. Sets up only the environments those need.
FRAMEWORKS ?=
execute: $(VENV)/.installed $(if $(findstring mxnet,$(FRAMEWORKS)),.venv-mxnet/.installed)
	$(PY) -m bookmachine kernels
	$(PY) -m bookmachine execute --frameworks "$(FRAMEWORKS)" $(if $(CACHE_OUT),--cache-out $(CACHE_OUT))

# Times its set-up stage so pytest can print the wall time of every stage.
test:
	@start=$$(date +%s); $(MAKE) --no-print-directory setup && \
	BOOK_SETUP_SECONDS=$$(( $$(date +%s) - start )) $(PY) -m pytest

# Every exported notebook against the newest framework releases (what Colab
# readers get). Not part of `make test`: it downloads several GB.
newest-releases: book
	$(PY) checks/newest_releases.py

# Every launchable notebook where readers open it (runtimes/: Colab, Studio Lab, a
# plain local Jupyter), each through its own set-up cell. Not part of `make test`
# (Colab's and Studio Lab's frameworks are several GB); `make test` runs the local one.
runtimes: book
	$(PY) checks/runtimes.py

benchmark: setup
	$(PY) benchmarks/build_speed.py

clean:
	rm -rf _build
