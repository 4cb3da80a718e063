#!/usr/bin/env bash
# Run every test: unit, snapshot, config-file, real end-to-end (sshd + dockerd per sandbox
# host) and the tmux test that drives the real binary. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export INSTA_UPDATE=no
# Benchmarks are not tests (scripts/bench.sh runs them); make sure they still compile.
cargo check --benches --locked
# The e2e tests start several Docker engines each; two at a time suits a 2-core machine.
cargo test --lib --bins --tests --locked -- --test-threads=2
