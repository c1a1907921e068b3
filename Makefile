# tdekey — the README's two commands: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

# Debian/Ubuntu packages: SoftHSM2 (the demo and test HSM), OpenSC's pkcs11-tool (benchmark
# baseline), and the libraries eframe loads at run time (X11/GL/xkbcommon, Mesa's software GL).
TEST_PKGS := softhsm2 opensc opensc-pkcs11 opencryptoki
RUN_PKGS  := softhsm2 libgl1 libegl1 libgl1-mesa-dri libx11-xcb1 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0
BENCH_PKGS := softhsm2 opensc sqlite3

define ensure_pkgs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "tdekey needs these packages:$$missing"; \
	    echo "Install them with: sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
endef

.PHONY: run test bench deps-run deps-test deps-bench lint

deps-run:
	$(call ensure_pkgs,$(RUN_PKGS))

deps-test:
	$(call ensure_pkgs,$(TEST_PKGS))
	@command -v cargo-nextest >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked

deps-bench:
	$(call ensure_pkgs,$(BENCH_PKGS))

## Build in release mode, make sure the demo SoftHSM2 token exists, start the window.
run: deps-run
	$(CARGO) build --release
	./target/release/tdekey hsm demo-token
	./target/release/tdekey

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## Every test: unit, SoftHSM2 integration, egui_kittest UI (each test in its own process).
test: deps-test lint
	$(CARGO) nextest run --no-fail-fast

## Benchmarks (figures go in the README's Performance section).
bench: deps-bench
	$(CARGO) bench --bench inventory
	$(CARGO) bench --bench audit
	$(CARGO) bench --bench migration
	$(CARGO) bench --bench rotation
