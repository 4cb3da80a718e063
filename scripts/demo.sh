#!/usr/bin/env bash
# Try fleetdeck on a local sandbox fleet: installs what it needs, builds, and opens the
# console on three hosts (each its own sshd and Docker engine). Quit with q; the fleet is
# removed when the console exits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --locked
exec ./target/release/fleetdeck demo "$@"
