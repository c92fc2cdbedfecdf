#!/usr/bin/env bash
# Two or more builds of the server side by side on one query: each serves its own store
# of the same seed, pinned to one CPU, and wrk (on the other CPU) loads them in turn, in
# short rounds whose order rotates, so every build meets the same moments of a shared,
# noisy machine. Prints each round's req/s and the server's CPU time per request (from
# /proc, user + system), then each build's means and their ratio to the first build's.
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

# load AT SECONDS: wrk against build AT; prints "requests req/s µs-of-CPU-per-request".
load() {
    local at="$1" secs="$2" stat before after out
    stat="/proc/${pids[$at]}/stat"
    # utime and stime, in clock ticks: fields 14 and 15, counted after the command's ")".
    before="$(sed 's/.*) //' "$stat" | awk '{ print $12 + $13 }')"
    out="$(BODIES="$bodies" taskset -c "$LOAD_CPU" wrk -t1 "-c$connections" "-d${secs}s" \
        -s "$here/post.lua" "http://127.0.0.1:${ports[$at]}")"
    after="$(sed 's/.*) //' "$stat" | awk '{ print $12 + $13 }')"
    awk -v ticks="$(getconf CLK_TCK)" -v cpu="$((after - before))" '
        /requests in/ { requests = $1 }
        /Requests\/sec/ { rate = $2 }
        /Non-2xx|Socket errors/ { errors = errors " " $0 }
        END {
            if (requests == 0) { print "wrk made no requests" > "/dev/stderr"; exit 1 }
            if (errors != "") { print "wrk:" errors > "/dev/stderr"; exit 1 }
            printf "%d %.0f %.1f\n", requests, rate, cpu * 1e6 / ticks / requests
        }' <<<"$out"
}

for at in "${!builds[@]}"; do
    load "$at" "$warmup" >/dev/null
done
declare -a sum_rate sum_cpu
count="${#builds[@]}"
for round in $(seq 1 "$rounds"); do
    for step in $(seq 0 $((count - 1))); do
        at=$(((step + round - 1) % count))
        result="$(load "$at" "$seconds")"
        read -r _ rate cpu <<<"$result"
        sum_rate[$at]=$(awk -v a="${sum_rate[$at]:-0}" -v b="$rate" 'BEGIN { print a + b }')
        sum_cpu[$at]=$(awk -v a="${sum_cpu[$at]:-0}" -v b="$cpu" 'BEGIN { print a + b }')
        printf 'round %d  build %d  %8s req/s  %7s µs CPU a request  %s\n' \
            "$round" "$at" "$rate" "$cpu" "${builds[$at]}"
    done
done
echo
echo "means over $rounds rounds of $seconds s (ratios to build 0):"
for at in "${!builds[@]}"; do
    awk -v n="$rounds" -v r="${sum_rate[$at]}" -v c="${sum_cpu[$at]}" \
        -v r0="${sum_rate[0]}" -v c0="${sum_cpu[0]}" -v at="$at" -v bin="${builds[$at]}" \
        'BEGIN { printf "build %d  %8.0f req/s (%.2fx)  %7.1f µs CPU a request (%.2fx)  %s\n",
                 at, r / n, r / r0, c / n, c / c0, bin }'
done
