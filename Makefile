# The two commands of the README: `make demo` (demo KB -> index -> chat) and `make test`.
# Both set up ./.venv from scratch on a fresh machine; nothing is fetched at run time but packages.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= sqlite:///var/demo.sqlite
INDEX ?= var/demo-index
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo demo-ask test test-slow test-browser bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch, pinned: an unpinned torch pulls several GB of CUDA packages.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all]'
	touch $(STAMP)

setup: $(STAMP)

var/.demo-kb: $(STAMP) $(shell find kb/demo -type f 2>/dev/null)
	$(BIN)/kb ingest kb/demo --origin demo --license "yiju demo data: written from public label knowledge, NOT for clinical use" --db $(DB) --no-update-index
	$(BIN)/retriever build --db $(DB) --index $(INDEX)
	touch $@

demo-ask: var/.demo-kb
	$(BIN)/chat ask "阿莫西林的用法用量是什么？" --db $(DB) --index $(INDEX)
	$(BIN)/chat ask "高血压需要做哪些检查？" --db $(DB) --index $(INDEX)

demo: demo-ask
	$(BIN)/chat ui --db $(DB) --index $(INDEX)

# The browser test runs when Debian's chromium is installed (apt-get install chromium fonts-wqy-microhei)
# and skips with that hint otherwise; CI installs it.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -m browser

clean:
	rm -rf var/demo.sqlite* var/demo-index var/.demo-kb
