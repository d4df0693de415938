# Slipway developer entry points. `make test` is what CI runs (through .ci/run).

SWIFT ?= swift
PYTHON ?= python3
# Extra flags for every swift build/test, e.g. SWIFT_BUILD_FLAGS="-c release"
# or "--scratch-path .build-asan -Xswiftc -sanitize=address".
SWIFT_BUILD_FLAGS ?=
# Arguments for `make run`, e.g. RUN_ARGS="--port 8080".
RUN_ARGS ?=

.PHONY: build release run run-debug install install-files test fuzz bench clean

build:
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

# The server keeps its SQLite database in ./data unless --data-dir says otherwise. `make run` runs
# the production build (the one `make bench` measures); `make run-debug` a debug build.
run: release
	"$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/slipway" serve $(RUN_ARGS)

run-debug: build
	"$$($(SWIFT) build $(SWIFT_BUILD_FLAGS) --show-bin-path)/slipway" serve $(RUN_ARGS)

# `make install` (as root): the production build, the templates and a systemd unit, then the
# `slipway` system user if there is none. The settings file is made from packaging/env.example
# only when there is none, and is kept 0600 either way. DESTDIR stages the files elsewhere (and
# then makes no user); BIN installs a binary already built (install-files skips the build).
PREFIX ?= /opt/slipway
CONFIG_DIR ?= /etc/slipway
SYSTEMD_DIR ?= /etc/systemd/system
BIN ?= .build/release/slipway
install: release install-files
	@if [ -z "$(DESTDIR)" ] && ! id slipway >/dev/null 2>&1; then useradd --system --no-create-home --shell /usr/sbin/nologin slipway; fi
	@echo "installed; now: edit $(CONFIG_DIR)/env, then systemctl daemon-reload && systemctl enable --now slipway"

install-files:
	install -d -m 0755 $(DESTDIR)$(PREFIX) $(DESTDIR)$(SYSTEMD_DIR)
	install -d -m 0700 $(DESTDIR)$(CONFIG_DIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/slipway
	rm -rf $(DESTDIR)$(PREFIX)/Templates
	cp -R Templates $(DESTDIR)$(PREFIX)/Templates
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@CONFIG_DIR@|$(CONFIG_DIR)|g' packaging/slipway.service.in > $(DESTDIR)$(SYSTEMD_DIR)/slipway.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_DIR)/slipway.service
	[ -e $(DESTDIR)$(CONFIG_DIR)/env ] || install -m 0600 packaging/env.example $(DESTDIR)$(CONFIG_DIR)/env
	chmod 0600 $(DESTDIR)$(CONFIG_DIR)/env

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

# libFuzzer over the request parser, chunked decoder and JSON parser: the HTTPFuzzer target, built
# from the server's own SlipwayHTTP and SlipwaySystem targets with coverage and AddressSanitizer, in a
# build folder of its own. FUZZ_SECONDS bounds the run; the corpus is copied so the committed one stays as it is.
FUZZ_SECONDS ?= 60
FUZZ_BUILD = .build-fuzz
# The fuzz build starts clean each time: an incremental build of it was seen to drop the coverage
# instrumentation, leaving libFuzzer blind; the check after the build makes sure it is there.
fuzz:
	rm -rf $(FUZZ_BUILD)
	flock /tmp/slipway-swift-build.lock $(SWIFT) build --scratch-path $(FUZZ_BUILD) -c release --product HTTPFuzzer \
		--sanitize fuzzer --sanitize address -Xswiftc -DFUZZING
	$(FUZZ_BUILD)/release/HTTPFuzzer -runs=0 2>&1 | grep -q "inline 8-bit counters" \
		|| { echo "make fuzz: HTTPFuzzer was built without coverage instrumentation" >&2; exit 1; }
	mkdir -p $(FUZZ_BUILD)/corpus
	cp Fuzz/corpus/* $(FUZZ_BUILD)/corpus/
	$(FUZZ_BUILD)/release/HTTPFuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=8192 $(FUZZ_BUILD)/corpus

# Benchmarks: a release build, then the scripts/bench package against it, which writes BENCHMARKS.md
# (about 6 minutes; it reports targets and fails only when something breaks). BENCH_RUNS, BENCH_ONLY,
# BENCH_OUTPUT and BENCH_KEEP pass through the environment (scripts/bench/__init__.py says what they do).
# The build takes /tmp/slipway-swift-build.lock so it never runs at the same time as another build on
# this machine.
bench: release
	SLIPWAY_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/slipway" $(PYTHON) scripts/bench

# The build to run in production. The Swift runtime and FoundationEssentials (Slipway links no other
# part of Foundation, so no ICU either) are linked statically so only
# the code Slipway uses is paged in (about 6 MB less resident memory than shared libraries).
RELEASE_FLAGS = -c release -Xswiftc -static-stdlib -Xlinker --gc-sections
release:
	flock /tmp/slipway-swift-build.lock $(SWIFT) build $(RELEASE_FLAGS)

clean:
	$(SWIFT) package $(SWIFT_BUILD_FLAGS) clean
	rm -rf test-artifacts .pytest_cache Tests/E2E/__pycache__
