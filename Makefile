# tdekey — the README's two commands: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

# Debian/Ubuntu packages: SoftHSM2 (the demo and test HSM), OpenSC's pkcs11-tool (benchmark
# baseline) and pkcs11-spy (opensc-pkcs11: the benchmarks count PKCS#11 calls through it),
# rsyslog (the SIEM `audit forward`'s tests and benchmark send to, with its TLS driver
# and the openssl command line for the tests' CA), and the libraries eframe loads at run time
# (X11/GL/xkbcommon, Mesa's software GL). PostgreSQL for the shared-store tests
# (tests/common/pg.rs starts throwaway clusters; no cluster of the package's own is created); the
# system OpenSSL's headers for the build (the PostgreSQL client's TLS links it).
BUILD_PKGS := libssl-dev pkg-config
TEST_PKGS := softhsm2 opensc opensc-pkcs11 opencryptoki rsyslog rsyslog-gnutls openssl
TEST_PKGS += postgresql
RUN_PKGS  := softhsm2 libgl1 libegl1 libgl1-mesa-dri libx11-xcb1 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0
BENCH_PKGS := softhsm2 opensc opensc-pkcs11 sqlite3 rsyslog
BENCH_PKGS += postgresql
PACKAGE_PKGS := dpkg-dev lintian desktop-file-utils appstream

# Installing postgresql would create and start a cluster on port 5432: postgresql-common's
# createcluster.d setting stops that (written only when root and not there yet).
define ensure_pkgs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    case " $$missing " in *" postgresql "*) \
	      conf=/etc/postgresql-common/createcluster.d/tdekey.conf; \
	      [ -e $$conf ] || { mkdir -p $${conf%/*} && echo "create_main_cluster = false" > $$conf; };; \
	    esac; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "tdekey needs these packages:$$missing"; \
	    echo "Install them with: sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
endef

.PHONY: run test bench deps-run deps-test deps-bench lint package package-test icons docs check-platforms

deps-run:
	$(call ensure_pkgs,$(BUILD_PKGS) $(RUN_PKGS))

deps-test:
	$(call ensure_pkgs,$(BUILD_PKGS) $(TEST_PKGS))
	@command -v cargo-nextest >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked

deps-bench:
	$(call ensure_pkgs,$(BUILD_PKGS) $(BENCH_PKGS))

## Build in release mode, make sure the demo SoftHSM2 token exists, start the window.
run: deps-run
	$(CARGO) build --release
	./target/release/tdekey hsm demo-token
	./target/release/tdekey

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features failpoints -- -D warnings

## Every test: unit, SoftHSM2 integration, egui_kittest UI (each test in its own process),
## built with the fault points (`--features failpoints`: the crash tests stop the real binary
## at named points; release builds have none).
## The tests marked #[ignore = "Needs root…"] run too when root (as CI is); the summary at
## the end names every test that did not run and why. The journald tests need systemd-journald's
## socket: without it they are left out (and named), as root too.
test: deps-test lint
	@if [ "$$(id -u)" = 0 ]; then which=all; else which=default; fi; \
	filter=(); [ -S /run/systemd/journal/socket ] || filter=(-E 'not test(/journald/)'); \
	$(CARGO) nextest run --features failpoints --no-fail-fast --run-ignored $$which "$${filter[@]}"; rc=$$?; \
	echo; bash tests/not-run.sh $$which; exit $$rc

## Benchmarks (figures go in the README's Performance section).
bench: deps-bench
	$(CARGO) bench --bench inventory
	$(CARGO) bench --bench audit
	$(CARGO) bench --bench migration
	$(CARGO) bench --bench rotation
	$(CARGO) bench --bench forward
	$(CARGO) bench --bench ui
	$(CARGO) bench --bench recoverability

## The Debian package, target/debian/tdekey_<version>_<arch>.deb (cargo-deb; the man pages and
## completions generated from the command line's definition; the desktop files validated).
package: deps-run
	$(call ensure_pkgs,$(BUILD_PKGS) $(PACKAGE_PKGS))
	@command -v cargo-deb >/dev/null 2>&1 || $(CARGO) install cargo-deb --locked
	$(CARGO) build --release
	rm -rf target/docs
	./target/release/tdekey generate-docs --out target/docs
	desktop-file-validate packaging/linux/io.github.tdekey.Tdekey.desktop
	appstreamcli validate --no-net packaging/linux/io.github.tdekey.Tdekey.metainfo.xml
	$(CARGO) deb --no-build

## As root: install the package, use it as an unprivileged user, check where its files
## landed, run lintian, remove it.
package-test: package
	bash packaging/test-deb.sh target/debian/tdekey_*.deb

## The icon's PNG sizes and the window's raw RGBA, from assets/icon.svg (ImageMagick).
icons:
	$(call ensure_pkgs,imagemagick librsvg2-bin)
	cp assets/icon.svg assets/icons/icon.svg
	for n in 256 128 64 48; do rsvg-convert -w $$n -h $$n assets/icon.svg -o assets/icons/icon-$$n.png; done
	convert assets/icons/icon-64.png -depth 8 RGBA:assets/icons/icon-64.rgba

## The command-line reference docs/cli.md and the README's table of commands, from the clap
## definition (tests/docs.rs fails when they are out of date).
docs:
	$(CARGO) build
	rm -rf target/docs
	$${CARGO_TARGET_DIR:-target}/debug/tdekey generate-docs --out target/docs
	cp target/docs/cli.md docs/cli.md
	awk -v table=target/docs/commands.md \
	  '/<!-- commands:end -->/ { while ((getline line < table) > 0) print line; skip = 0 } \
	   !skip { print } /<!-- commands:begin -->/ { skip = 1 }' README.md > target/docs/README.md
	mv target/docs/README.md README.md

## `cargo check` of the library and the binary for Windows and macOS (not run there). The
## bundled SQLite is C: MinGW compiles it for Windows, zig (PyPI's ziglang) for macOS.
check-platforms:
	$(call ensure_pkgs,gcc-mingw-w64-x86-64)
	rustup target add x86_64-pc-windows-gnu x86_64-apple-darwin
	@python3 -m ziglang version >/dev/null 2>&1 || python3 -m pip install --quiet ziglang
	$(CARGO) check --target x86_64-pc-windows-gnu --lib --bins
	CC_x86_64_apple_darwin=$(CURDIR)/packaging/cross/zig-cc-macos \
	AR_x86_64_apple_darwin=$(CURDIR)/packaging/cross/zig-ar \
	  $(CARGO) check --target x86_64-apple-darwin --lib --bins
