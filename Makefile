# `make book` installs everything into .venv and builds the site;
# `make test` installs what it needs and runs the whole test suite.
VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.installed

.PHONY: install book pdf test browser-deps serve clean bench cifar linkcheck lib-hash

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The execution cache is keyed on the pages' code cells, and Sphinx re-renders
# only pages whose source changed, so a library edit would leave stale pages:
# when src/ or the book's extensions change, re-execute and re-render all.
LIB_HASH = $(shell find src book/_ext -name '*.py' -type f | sort | xargs cat | sha256sum | cut -c1-16)
STALE := $(shell [ "$$(cat _build/.lib-hash 2>/dev/null)" = "$(LIB_HASH)" ] || echo yes)

lib-hash:
	@echo $(LIB_HASH)

book: install
ifeq ($(STALE),yes)
	@echo "src/ or book/_ext/ changed since the last build: re-executing and re-rendering every page"
	rm -rf _build/.jupyter_cache
endif
	$(JB) build . -W --keep-going $(if $(STALE),--all)
	@echo "$(LIB_HASH)" > _build/.lib-hash
	@echo "Book built: $(CURDIR)/_build/html/index.html  (view it with: make serve)"

# The whole book as one PDF (_build/html/tutorial-04-cnns.pdf, published with
# the site), printed from the built pages by the system's Chromium; offline.
pdf: book
	$(PY) scripts/make_pdf.py

browser-deps:
	bash scripts/install_browser_deps.sh

# The suite checks the book that `make book` just built (BUILT_BOOK) and the
# PDF printed from it (BUILT_PDF_REPORT): each is made once per run, and CI
# deploys that same build. Without Chromium nothing is printed (the browser
# tests skip); a print that fails leaves no report, and test_pdf prints
# again and fails there, while the rest of the suite runs.
test: install browser-deps book
	@rm -f _build/pdf-report.json
	-$(PY) scripts/make_pdf.py --skip-without-browser
	BUILT_BOOK=$(CURDIR)/_build/html \
	BUILT_PDF_REPORT=$(CURDIR)/_build/pdf-report.json $(PY) -m pytest; rc=$$?; \
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

cifar: install   # several hours on 2 CPU cores; see the README
	$(PY) -m cnn_tutorial.cifar --images ../shared/data/cifar10-jpeg.tar.gz --no-progress
