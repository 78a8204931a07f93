# lossd: the two commands of the quick start are `make demo` and `make test`.
# Each installs what is missing first (scripts/install-deps.sh; make test also the framework
# packages its tests compare with: scripts/install-deps.sh --frameworks), then builds.

SWIFT ?= swift
PYTHON ?= python3
FUZZ_SECONDS ?= 30
RELEASE_BIN := .build/release/lossd
DEBUG_BIN := .build/debug/lossd

.PHONY: help deps frameworks build release demo test test-swift test-python test-load lint format fuzz bench sample screenshot clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install libzmq, Prometheus (promtool) and the Python test packages if they are missing.
	@PYTHON=$(PYTHON) scripts/install-deps.sh

frameworks: ## Install the test-only framework packages (torch, torchvision, TensorFlow; about 3 GB) if missing.
	@PYTHON=$(PYTHON) scripts/install-deps.sh --frameworks

# Builds name their products: a bare `swift build` (or --build-tests) also builds every executable of
# every dependency, among them swift-protobuf's protoc (C++, about 10 minutes on 2 cores), which
# lossd never needs (its generated code is committed: Sources/TensorBoardEvents/Protos/README.md).
TEST_PRODUCT := lossdPackageTests

build: deps ## Debug build.
	$(SWIFT) build --product lossd

release: deps ## Release build (what demo and bench run).
	$(SWIFT) build -c release --product lossd

demo: release ## Watch lossd work: lossd demo (serve + built-in trainers, a live table, a summary).
	$(RELEASE_BIN) demo

test: deps frameworks ## Every test: Swift (unit and integration), the loss's again on the baseline kernel, and Python with the framework tests.
	$(SWIFT) build --product lossd
	$(SWIFT) build --product $(TEST_PRODUCT)
	$(SWIFT) test --skip-build
	LOSSD_KERNEL=baseline $(SWIFT) test --skip-build --filter SSDLossTests
	$(MAKE) --no-print-directory test-python

test-python: ## The Python tests (they run the debug lossd binary).
	@if ls clients/python/tests/test_*.py >/dev/null 2>&1 || ls tests/python/test_*.py >/dev/null 2>&1; then \
		LOSSD_BIN=$(abspath $(DEBUG_BIN)) $(PYTHON) -m pytest -q $$(ls -d clients/python/tests tests/python 2>/dev/null); \
	else echo "no Python tests yet"; fi

test-load: ## The full-size load run and 2-minute soak (clients/python/tests/test_load.py, LOSSD_LOAD_FULL=1).
	LOSSD_LOAD_FULL=1 LOSSD_BIN=$(abspath $(DEBUG_BIN)) $(PYTHON) -m pytest -q -s clients/python/tests/test_load.py

lint: ## Check the Swift formatting (.swift-format, 120 columns) with the toolchain's swift-format.
	@SWIFT=$(SWIFT) PYTHON=$(PYTHON) scripts/lint.sh lint

format: ## Reformat the Swift sources in place with swift-format (.swift-format).
	@SWIFT=$(SWIFT) scripts/lint.sh format

fuzz: deps ## Build the libFuzzer targets and run each for FUZZ_SECONDS (default 30) seconds.
	@FUZZ_SECONDS=$(FUZZ_SECONDS) PYTHON=$(PYTHON) scripts/fuzz.sh run

bench: release ## Every SPEC performance target, measured against floors in the same run (a few minutes).
	$(RELEASE_BIN) bench

# Examples/sample.lossrec is the same recording in format version 1, as lossd wrote it before version 2:
# it is kept as it is (the compatibility tests compare it with Tests/Fixtures/recordings-v1/manifest.json).
sample: release ## Regenerate Examples/sample-v2.lossrec (format version 2; sample.lossrec stays version 1).
	$(RELEASE_BIN) synth -o Examples/sample-v2.lossrec --count 10 --batch 4 --boxes 128 --classes 6 --positives 0.03 --ignored 0.02 --epoch-size 5 --run sample

screenshot: ## Render the dashboard of a short live run to .build/screenshots/*.png (needs chromium; not in CI).
	$(SWIFT) build --product lossd
	PYTHON=$(PYTHON) LOSSD_BIN=$(DEBUG_BIN) scripts/screenshot.sh

clean: ## Remove build products.
	rm -rf .build
