# lossd: the two commands of the quick start are `make demo` and `make test`.
# Each installs what is missing first (scripts/install-deps.sh), then builds.

SWIFT ?= swift
PYTHON ?= python3
FUZZ_SECONDS ?= 30
RELEASE_BIN := .build/release/lossd
DEBUG_BIN := .build/debug/lossd

.PHONY: help deps build release demo test test-swift test-python test-load fuzz bench sample screenshot clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install libzmq, Prometheus (promtool) and the Python test packages if they are missing.
	@PYTHON=$(PYTHON) scripts/install-deps.sh

build: deps ## Debug build.
	$(SWIFT) build

release: deps ## Release build (what demo and bench run).
	$(SWIFT) build -c release --product lossd

demo: release ## Watch lossd work: lossd demo (serve + built-in trainers, a live table, a summary).
	$(RELEASE_BIN) demo

test: deps ## Every test: Swift (unit and integration), the loss's again on the baseline kernel, and Python.
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	LOSSD_KERNEL=baseline $(SWIFT) test --skip-build --filter SSDLossTests
	$(MAKE) --no-print-directory test-python

test-python: ## The Python tests (they run the debug lossd binary).
	@if ls clients/python/tests/test_*.py >/dev/null 2>&1 || ls tests/python/test_*.py >/dev/null 2>&1; then \
		LOSSD_BIN=$(abspath $(DEBUG_BIN)) $(PYTHON) -m pytest -q $$(ls -d clients/python/tests tests/python 2>/dev/null); \
	else echo "no Python tests yet"; fi

test-load: ## The full-size load run and 2-minute soak (clients/python/tests/test_load.py, LOSSD_LOAD_FULL=1).
	LOSSD_LOAD_FULL=1 LOSSD_BIN=$(abspath $(DEBUG_BIN)) $(PYTHON) -m pytest -q -s clients/python/tests/test_load.py

fuzz: deps ## Build the libFuzzer targets and run each for FUZZ_SECONDS (default 30) seconds.
	@FUZZ_SECONDS=$(FUZZ_SECONDS) PYTHON=$(PYTHON) scripts/fuzz.sh run

bench: release ## Every SPEC performance target, measured against floors in the same run (a few minutes).
	$(RELEASE_BIN) bench

sample: release ## Regenerate Examples/sample.lossrec.
	$(RELEASE_BIN) synth -o Examples/sample.lossrec --count 10 --batch 4 --boxes 128 --classes 6 --positives 0.03 --ignored 0.02 --epoch-size 5 --run sample

screenshot: ## Render the dashboard of a short live run to .build/screenshots/*.png (needs chromium; not in CI).
	$(SWIFT) build --product lossd
	PYTHON=$(PYTHON) LOSSD_BIN=$(DEBUG_BIN) scripts/screenshot.sh

clean: ## Remove build products.
	rm -rf .build
