#!/usr/bin/env bash
# Two or more builds of the server side by side on one query: each serves its own store
# of the same seed, pinned to one CPU, and wrk (on the other CPU) loads them in turn, in
# short rounds whose order rotates, so every build meets the same moments of a shared,
# noisy machine: run.sh's rounds (`perf.py load`), on builds instead of references.
# Prints each build's req/s, latency and CPU time per request (user + system, from
# /proc), each round's, and the means' ratios to the first build's (`perf.py compare`).
#
#   bash bench/perf/compare.sh [options] SEED_DIR BODIES BIN [BIN...]
#
# SEED_DIR is a seed (`kyrgyz-relations generate`, or the seeds run.sh keeps under
# $BENCH_DIR/seeds); BODIES a file of request bodies, one JSON body a line, such as the
# stores/<size>/bodies/<query>.jsonl that run.sh writes into its run folder. Each BIN
# imports SEED_DIR into a temporary data directory at its first start.
#
# Options:
#   --seconds S       measured seconds per round and build [5]
#   --rounds N        rounds [4]
#   --warmup S        unmeasured seconds per build before the first round [2]
#   --connections N   wrk connections [32]
#   --flag ARG        pass ARG to every server (repeatable) [--response-cache-mib 0]; the
#                     first --flag replaces the default
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seconds=5
rounds=4
warmup=2
connections=32
flags=(--response-cache-mib 0)
flags_given=0
SERVER_CPU=0
LOAD_CPU=1

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        --warmup) warmup="$2"; shift ;;
        --connections) connections="$2"; shift ;;
        --flag)
            if [[ "$flags_given" == 0 ]]; then flags=(); flags_given=1; fi
            flags+=("$2"); shift ;;
        -h | --help) usage 0 ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) break ;;
    esac
    shift
done
[[ $# -ge 3 ]] || usage
seed="$1" bodies="$2"
shift 2
[[ -d "$seed" ]] || { echo "no seed directory at $seed" >&2; exit 2; }
[[ -s "$bodies" ]] || { echo "no request bodies in $bodies" >&2; exit 2; }
for bin in "$@"; do
    [[ -x "$bin" ]] || { echo "not an executable: $bin" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kyrgyz-relations-compare.XXXXXX")"
pids=()
ports=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

builds=("$@")
for at in "${!builds[@]}"; do
    port="$(free_port)"
    NO_COLOR=1 RUST_LOG=warn taskset -c "$SERVER_CPU" "${builds[$at]}" \
        --data-dir "$work/data-$at" --seed-dir "$seed" --listen "127.0.0.1:$port" "${flags[@]}" \
        >"$work/server-$at.log" 2>&1 &
    pids+=("$!")
    ports+=("$port")
done
for at in "${!builds[@]}"; do
    ready=0
    for _ in $(seq 1 1200); do
        if { exec 3<>"/dev/tcp/127.0.0.1/${ports[$at]}"; } 2>/dev/null; then
            exec 3<&-
            ready=1
            break
        fi
        kill -0 "${pids[$at]}" 2>/dev/null || break
        sleep 0.1
    done
    if [[ "$ready" == 0 ]]; then
        echo "build $at (${builds[$at]}) did not start; its log:" >&2
        cat "$work/server-$at.log" >&2
        exit 1
    fi
done

# The rounds, turns and measurements are run.sh's (`perf.py load`); the servers are
# named build0, build1, ... in the order given.
targets=()
for at in "${!builds[@]}"; do
    echo "build$at: ${builds[$at]}"
    targets+=(--target "build$at,http://127.0.0.1:${ports[$at]},${pids[$at]}")
done
python3 "$here/perf.py" load "${targets[@]}" --bodies "$bodies" --lua "$here/post.lua" \
    --duration "$seconds" --rounds "$rounds" --warmup "$warmup" --connections "$connections" \
    --cpu "$LOAD_CPU" --results "$work/results.jsonl" --logs "$work" --store compare \
    --query "$(basename "$bodies" .jsonl)"
echo
python3 "$here/perf.py" compare --results "$work/results.jsonl"
