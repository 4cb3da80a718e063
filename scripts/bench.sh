#!/usr/bin/env bash
# Runs fleetdeck's benchmarks against a local sandbox fleet (real sshd + dockerd on loopback)
# and prints a summary table. Numbers are printed, never asserted.
#
#   scripts/bench.sh              # startup, idle, log_throughput, then deploy_vs_compose (about 25 minutes)
#   scripts/bench.sh startup      # only one (each is also `cargo bench --bench NAME`); other
#                                 # [[bench]] targets of Cargo.toml can be named as well
#
#   startup  time to a complete dashboard for 1, 10 and 50 hosts (50 sshd over 5 engines),
#            in process and with the release binary's `status`, beside the OpenSSH client
#            running `docker ps` on each host one after another and all at once
#   idle     what watching 200 containers over 5 hosts costs for 60 s: fleetdeck TUI's own
#            CPU and RSS, the CPU it causes in the engines, beside 5 oxker instances
#   log_throughput  lines/s from 1 and 20 containers writing as fast as they can, through SSH
#            into the log view's buffer with a filter on, beside `ssh HOST docker logs -f` on
#            the same containers (ratio); CPU, RSS, key latency while ingesting, render time
#            with 100,000 lines buffered
#   deploy_vs_compose
#            two web replicas behind nginx under 50 req/s: `fleetdeck deploy` v1 -> v2 beside
#            `docker-compose up -d --force-recreate` of the same replicas: failed requests,
#            duration, fleetdeck's overhead per replica beyond health waits and graceful stops
#
# Settings (environment): FLEETDECK_BENCH_RUNS, FLEETDECK_BENCH_HOSTS, FLEETDECK_BENCH_ENGINES,
# FLEETDECK_BENCH_WORKERS, FLEETDECK_BENCH_USER_HOME (startup); FLEETDECK_IDLE_SECS,
# FLEETDECK_IDLE_WARMUP, FLEETDECK_IDLE_HOSTS, FLEETDECK_IDLE_PER_HOST,
# FLEETDECK_IDLE_BREAKDOWN, OXKER (idle); FLEETDECK_LOGBENCH_LINES, FLEETDECK_LOGBENCH_CONTAINERS,
# FLEETDECK_LOGBENCH_ROUNDS, FLEETDECK_LOGBENCH_TIMEOUT, FLEETDECK_LOGBENCH_FILTER,
# FLEETDECK_LOGBENCH_LOG_MAX_SIZE (log_throughput); FLEETDECK_DEPLOY_BENCH_ROUNDS,
# FLEETDECK_DEPLOY_BENCH_RATE, DOCKER_COMPOSE (deploy_vs_compose). See the header of each
# benches/NAME.rs.
#
# Needs what the end-to-end tests need (root, dockerd, sshd, busybox-static, tmux: see
# scripts/install-deps.sh) and, for the idle comparison, oxker (installed here with
# `cargo install oxker --locked` when missing); deploy_vs_compose needs docker-compose 1.x
# (Debian's package, installed here when missing; it is only pointed at the sandbox's
# engine). Every benchmark removes its sandbox, tmux servers, watchers and compose project
# when it ends, fails or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
    benches=(startup idle log_throughput deploy_vs_compose)
fi
# Other [[bench]] targets of Cargo.toml can be named too; they are run, and their own output is
# their result (those that write a .tsv table are summarised below).
known=$(awk '/^\[\[bench\]\]/ {b=1; next} b && /^name *=/ {gsub(/[" ]/, "", $0); sub(/name=/, ""); print; b=0}' Cargo.toml)
for b in "${benches[@]}"; do
    if ! printf '%s\n' $known | grep -qx "$b"; then
        echo "unknown benchmark: $b (known: $(echo $known))" >&2
        exit 2
    fi
done

sh scripts/install-deps.sh
for b in "${benches[@]}"; do
    if [ "$b" = idle ] && ! command -v oxker >/dev/null 2>&1 && ! [ -x "$HOME/.cargo/bin/oxker" ] &&
        [ -z "${OXKER:-}" ]; then
        echo "installing oxker (the idle benchmark's comparison) ..."
        cargo install oxker --locked || echo "warning: cannot install oxker; its window will be skipped" >&2
    fi
    if [ "$b" = deploy_vs_compose ] && ! command -v docker-compose >/dev/null 2>&1 && [ -z "${DOCKER_COMPOSE:-}" ]; then
        echo "installing docker-compose (the deploy benchmark's comparison) ..."
        if [ "$(id -u)" -eq 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y docker-compose
        else
            sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y docker-compose
        fi
    fi
done

# The binary the benchmarks run (cargo bench builds it with the same optimisation settings).
cargo build --release --locked
results=target/bench-results
mkdir -p "$results"

status=0
for b in "${benches[@]}"; do
    rm -f "$results/$b.tsv"
    echo
    echo "=== cargo bench --bench $b"
    if ! cargo bench --locked --bench "$b" 2>&1 | tee "$results/$b.log"; then
        echo "benchmark $b failed (its log: $results/$b.log)" >&2
        status=1
    fi
done

echo
echo "=================================================================== summary"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
for b in "${benches[@]}"; do
    echo
    echo "--- $b"
    if [ -f "$results/$b.tsv" ]; then
        # what / value / target (the "how" column is in the .tsv file)
        cut -f1-3 "$results/$b.tsv" | column -t -s $'\t'
    else
        echo "(no table: see $results/$b.log)"
    fi
done
echo
echo "full results (with how each number was measured): $results/*.tsv; logs: $results/*.log"
echo "reproduce: scripts/bench.sh [startup] [idle] [log_throughput] [deploy_vs_compose]   or   cargo bench --bench NAME"
exit $status
