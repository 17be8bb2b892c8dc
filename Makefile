# The two commands of the README: `make demo` (demo KB -> index -> chat) and `make test`.
# Both set up ./.venv from scratch on a fresh machine; nothing is fetched at run time but packages.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo KB sits where every command looks by default, so the README's commands work right after `make demo`.
DB ?= sqlite:///var/kb.sqlite
INDEX ?= var/index
# The full KB (demo + xywy + CMeKG + everyday names), for measuring on real questions (`make eval-real`).
FULL_DB ?= sqlite:///var/full.sqlite
FULL_INDEX ?= var/full-index
COLLOQUIAL_LICENSE := yiju colloquial names (kb/colloquial): written by the yiju project, Apache-2.0; reviewed against the KB, not a clinical source
REAL := ../shared/data/toyhom-im-sample/内科5000-6000.csv
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup setup-llama demo demo-ask model test test-slow test-browser test-readme bench clean full-kb eval-real

# pip shows what it downloads and installs as it goes (about 80 s of a fresh `make demo`, longer on a slow link).
$(STAMP): pyproject.toml
	@echo "setting up $(VENV): pip, the CPU build of torch, then yiju with its 'all' extra (about 1-2 minutes on a fresh machine)"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch, pinned: an unpinned torch pulls several GB of CUDA packages.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[all]'
	touch $(STAMP)

setup: $(STAMP)

# llama-cpp-python (the `llama` extra): compiled from source, 10-17 min on 2 shared cores. Built without AMX on
# x86-64: llama.cpp's AMX kernels died with "Illegal instruction" on the first token on the Xeon VM where this
# was measured (ggml-org/llama.cpp#26954). --no-cache-dir: never a cached wheel built without these flags.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' -DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'
endif
LLAMA_STAMP := $(VENV)/.installed-llama
$(LLAMA_STAMP): $(STAMP)
	@echo "llama-cpp-python: pip downloads it and compiles llama.cpp, 7-17 minutes on 2 cores with no output while it compiles (pip's 'Building wheel' line)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --no-cache-dir -e '.[llama]'
	touch $@

setup-llama: $(LLAMA_STAMP)

var/.demo-kb: $(STAMP) $(shell find kb/demo -type f 2>/dev/null)
	$(BIN)/kb ingest kb/demo --origin demo --license "yiju demo data: written from public label knowledge, NOT for clinical use" --db $(DB) --no-update-index
	$(BIN)/kb ingest kb/colloquial --origin colloquial --license "$(COLLOQUIAL_LICENSE)" --db $(DB) --no-update-index
	$(BIN)/retriever build --db $(DB) --index $(INDEX)
	touch $@

# demo + xywy (../shared/data) + CMeKG (pycmekg) + everyday names -> var/full.sqlite and var/full-index (~5 min)
var/.full-kb: $(STAMP) $(shell find kb/demo kb/colloquial -type f 2>/dev/null)
	$(BIN)/kb ingest kb/demo --origin demo --license "yiju demo data: written from public label knowledge, NOT for clinical use" --db $(FULL_DB) --no-update-index
	$(BIN)/kb ingest ../shared/data/xywy-disease-kb --db $(FULL_DB) --no-update-index
	$(BIN)/kb ingest --source cmekg --db $(FULL_DB) --no-update-index
	$(BIN)/kb ingest kb/colloquial --origin colloquial --license "$(COLLOQUIAL_LICENSE)" --db $(FULL_DB) --no-update-index
	$(BIN)/retriever build --db $(FULL_DB) --index $(FULL_INDEX)
	touch $@

full-kb: var/.full-kb

# 500 real questions of the development set through the full KB, with 30 answers beside the doctors' replies
eval-real: var/.full-kb
	$(BIN)/chat eval --real $(REAL) --n 500 --seed 0 --db $(FULL_DB) --index $(FULL_INDEX) --report var/real-questions.md

demo-ask: var/.demo-kb
	$(BIN)/chat ask "阿莫西林的用法用量是什么？" --db $(DB) --index $(INDEX)
	$(BIN)/chat ask "高血压需要做哪些检查？" --db $(DB) --index $(INDEX)

# One command from nothing to a tuned model that `chat ask --generator tuned` uses: Gemma-3-270M, training data
# from the KB (and the real questions when ../shared has them), LoRA for MINUTES, merge, register. Rerun to continue.
MINUTES ?= 60
model: var/.demo-kb
	$(BIN)/finetune recipe --minutes $(MINUTES) --db $(DB) --index $(INDEX) $(if $(wildcard $(REAL)),--real $(REAL),)

demo: demo-ask
	$(BIN)/chat ui --db $(DB) --index $(INDEX)

# The browser test runs when Debian's chromium is installed (apt-get install chromium fonts-wqy-microhei
# fonts-noto-color-emoji) and skips with that hint otherwise; CI installs it. The README test (marker readme)
# runs `make demo-ask` and then the README's commands as written, in a checkout of its own under pytest's temp
# folder (links to kb/ and ../shared, a var/ of its own: ./var is never read or written): 1-3 minutes more.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -m browser

test-readme: $(STAMP)
	$(BIN)/python -m pytest -q -m readme

clean:
	rm -rf var/kb.sqlite* var/index var/.demo-kb var/full.sqlite* var/full-index var/.full-kb
