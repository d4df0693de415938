# Slipway developer entry points. `make test` is what CI runs (through .ci/run).

SWIFT ?= swift
PYTHON ?= python3
# Extra flags for every swift build/test, e.g. SWIFT_BUILD_FLAGS="-c release"
# or "--scratch-path .build-asan -Xswiftc -sanitize=address".
SWIFT_BUILD_FLAGS ?=
# Arguments for `make run`, e.g. RUN_ARGS="--port 8080".
RUN_ARGS ?=

.PHONY: build run test clean

build:
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

# The server keeps its SQLite database in ./data unless --data-dir says otherwise.
run: build
	"$$($(SWIFT) build $(SWIFT_BUILD_FLAGS) --show-bin-path)/slipway" serve $(RUN_ARGS)

# Every step must pass, and the cleanup of test containers and images runs
# whatever happened before it; the first failure's exit code is kept.
# SLIPWAY_BIN points the E2E tests at the binary these flags built.
test:
	@status=0; \
	{ bash scripts/test-env.sh \
	  && $(SWIFT) build $(SWIFT_BUILD_FLAGS) --build-tests \
	  && $(SWIFT) test $(SWIFT_BUILD_FLAGS) --skip-build \
	  && SLIPWAY_BIN="$$($(SWIFT) build $(SWIFT_BUILD_FLAGS) --show-bin-path)/slipway" \
	     $(PYTHON) -m pytest -q Tests/E2E; \
	} || status=$$?; \
	bash scripts/test-cleanup.sh || { [ "$$status" -ne 0 ] || status=1; }; \
	exit $$status

clean:
	$(SWIFT) package $(SWIFT_BUILD_FLAGS) clean
	rm -rf test-artifacts .pytest_cache Tests/E2E/__pycache__
