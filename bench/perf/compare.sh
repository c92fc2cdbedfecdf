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
# The references can take their turns too: --mercurius starts the Node peer
# (bench/servers/mercurius, mercurius with graphql-jit) on SEED_DIR, --bare the bare
# ceiling (target/release/bench-bare, plain axum) replaying build0's answers. Before any
# load, every body is sent (twice) to build0 and to each of them: an answer of mercurius or bare
# that is not build0's (as parsed JSON) stops the run; another build's difference is
# reported and the run goes on.
#
# Options:
#   --mercurius       load mercurius + graphql-jit (Node.js >= 20; `npm ci` of its lock
#                     when node_modules is missing or older than the lock)
#   --bare            load the bare ceiling (cargo build --release -p kyrgyz-relations-bench)
#   --seconds S       measured seconds per round and build [5]
#   --rounds N        rounds [4]
#   --warmup S        unmeasured seconds per build before the first round [2]
#   --connections N   wrk connections [32]
#   --flag ARG        pass ARG to every server (repeatable) [--response-cache-mib 0]; the
#                     first --flag replaces the default
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds=5
rounds=4
warmup=2
connections=32
flags=(--response-cache-mib 0)
flags_given=0
with_mercurius=0
with_bare=0
SERVER_CPU=0
LOAD_CPU=1

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}
while [[ $# -gt 0 ]]; do
    case "$1" in
        --mercurius) with_mercurius=1 ;;
        --bare) with_bare=1 ;;
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
perf() { python3 "$here/perf.py" "$@"; }
BARE="$root/target/release/bench-bare"
if [[ "$with_bare" == 1 && ! -x "$BARE" ]]; then
    echo "no $BARE: cargo build --release -p kyrgyz-relations-bench" >&2
    exit 2
fi
if [[ "$with_mercurius" == 1 ]]; then
    peer_status=0
    peer="$(perf node-setup --dir "$root/bench/servers/mercurius")" || peer_status=$?
    if [[ "$peer_status" != 0 ]]; then
        [[ "$peer_status" != 3 ]] || echo "the mercurius server cannot run: $peer" >&2
        exit 2
    fi
    echo "mercurius: $peer"
fi

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

# spawn NAME COMMAND...: a server on CPU $SERVER_CPU at 127.0.0.1:<a free port>; its pid,
# port and name are appended to pids, ports and names.
names=()
spawn() {
    local name="$1" port
    shift
    port="$(free_port)"
    NO_COLOR=1 RUST_LOG="${SERVER_LOG:-warn}" taskset -c "$SERVER_CPU" "$@" --listen "127.0.0.1:$port" \
        >"$work/server-$name.log" 2>&1 &
    pids+=("$!")
    ports+=("$port")
    names+=("$name")
}
# ready AT: the server spawned AT-th listens within 20 min and answers /healthz with 200.
ready() {
    local at="$1" ok=0
    for _ in $(seq 1 12000); do
        if { exec 3<>"/dev/tcp/127.0.0.1/${ports[$at]}"; } 2>/dev/null; then
            exec 3<&-
            ok=1
            break
        fi
        kill -0 "${pids[$at]}" 2>/dev/null || break
        sleep 0.1
    done
    if [[ "$ok" == 1 ]] && perf wait --url "http://127.0.0.1:${ports[$at]}" --pid "${pids[$at]}" \
        --timeout 600 >/dev/null; then
        return 0
    fi
    echo "${names[$at]} did not start; its log:" >&2
    cat "$work/server-${names[$at]}.log" >&2
    exit 1
}
url_of() { echo "http://127.0.0.1:${ports[$1]}"; }

builds=("$@")
for at in "${!builds[@]}"; do
    spawn "build$at" "${builds[$at]}" --data-dir "$work/data-$at" --seed-dir "$seed" "${flags[@]}"
done
if [[ "$with_mercurius" == 1 ]]; then
    spawn mercurius env NODE_ENV=production node "$root/bench/servers/mercurius/server.js" --seed-dir "$seed"
fi
for at in "${!pids[@]}"; do ready "$at"; done

# Before any load: every build's and mercurius' answers against build0's (which bare
# then replays).
checks=()
for at in "${!names[@]}"; do
    [[ "$at" != 0 ]] || continue
    if [[ "${names[$at]}" == mercurius ]]; then
        checks+=(--check "mercurius,$(url_of "$at")")
    else
        checks+=(--warn "${names[$at]},$(url_of "$at")")
    fi
done
perf agree --bodies "$bodies" --reference "build0,$(url_of 0)" "${checks[@]}" \
    --capture "$work/answers.jsonl"
if [[ "$with_bare" == 1 ]]; then
    spawn bare "$BARE" --responses "$work/answers.jsonl"
    ready $((${#pids[@]} - 1))
    perf agree --bodies "$bodies" --reference "build0,$(url_of 0)" --check "bare,$(url_of $((${#pids[@]} - 1)))"
fi

# The rounds, turns and measurements are run.sh's (`perf.py load`); the builds are named
# build0, build1, ... in the order given, then bare and mercurius.
targets=()
for at in "${!names[@]}"; do
    if [[ "${names[$at]}" == build* ]]; then echo "${names[$at]}: ${builds[${names[$at]#build}]}"; fi
done
for name in build bare mercurius; do
    for at in "${!names[@]}"; do
        [[ "${names[$at]}" == "$name"* ]] || continue
        targets+=(--target "${names[$at]},$(url_of "$at"),${pids[$at]}")
    done
done
perf load "${targets[@]}" --bodies "$bodies" --lua "$here/post.lua" \
    --duration "$seconds" --rounds "$rounds" --warmup "$warmup" --connections "$connections" \
    --cpu "$LOAD_CPU" --results "$work/results.jsonl" --logs "$work" --store compare \
    --query "$(basename "$bodies" .jsonl)"
echo
perf compare --results "$work/results.jsonl"
