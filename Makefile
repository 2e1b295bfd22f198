# `make book` installs everything into .venv and builds the site;
# `make test` installs what it needs and runs the whole test suite.
VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.installed

.PHONY: install mathjax book test browser-deps serve clean bench cifar linkcheck src-hash execution-cache

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

mathjax:
	bash scripts/install_mathjax.sh

# The execution cache is keyed on the pages' code cells only, so a change to
# the library would leave stale outputs: clear it when src/ changes.
SRC_HASH = $(shell find src -name '*.py' -type f | sort | xargs cat | sha256sum | cut -c1-16)

src-hash:
	@echo $(SRC_HASH)

execution-cache:
	@if [ "$$(cat _build/.src-hash 2>/dev/null)" != "$(SRC_HASH)" ] && [ -d _build/.jupyter_cache ]; then \
	  echo "src/ changed since the last build: clearing the execution cache"; \
	  rm -rf _build/.jupyter_cache; fi

book: install mathjax execution-cache
	$(JB) build . -W --keep-going
	@echo "$(SRC_HASH)" > _build/.src-hash
	@echo "Book built: $(CURDIR)/_build/html/index.html  (view it with: make serve)"

browser-deps:
	bash scripts/install_browser_deps.sh

test: install browser-deps
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	exit $$rc

serve:
	@echo "Serving on http://127.0.0.1:8000"
	$(PY) -m http.server -d _build/html --bind 127.0.0.1 8000

clean:
	rm -rf _build

linkcheck: install   # external links; needs network (internal links are checked by the tests)
	$(JB) build . --builder linkcheck

bench: install
	$(PY) scripts/bench.py

cifar: install   # about an hour on 2 CPU cores; see the README
	$(PY) -m cnn_tutorial.cifar --images ../shared/data/cifar10-jpeg.tar.gz
