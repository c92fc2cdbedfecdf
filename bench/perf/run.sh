#!/usr/bin/env bash
# The load benchmark of issue 4: builds the binaries, imports the embedded seed and synthetic
# stores of 1k to 1M incidents, and drives six servers with wrk on loopback, the servers
# pinned to one CPU and wrk to the other, taking turns in short rounds: the real server
# with its response cache on (default) and off; the references, the bare ceiling (the
# same answers from plain axum, none of our layers) and mercurius with graphql-jit (Node,
# the same seed in memory); and two diagnostics, the layered ceiling and the naive
# in-memory baseline (bench/servers). Every server's answers must equal the real
# server's before any load. Prints req/s, p50/p99 latency, CPU time a request, RSS and
# errors per store, server and query, the import rate and peak RSS, disk use against the
# logical bytes, reopen time, the ratios and the targets, and writes them as Markdown.
# See README.md in this folder.
#
#   bash bench/perf/run.sh            full run (release build, 1k/10k/100k/1M; about 35 min)
#   bash bench/perf/run.sh --smoke    1 s per case, the seed and 1k, debug build (for CI)
#
# Options (environment variables in brackets):
#   --sizes N,N,...     synthetic stores by incident count [SIZES; 1000,10000,100000,1000000;
#                       smoke 1000]; an empty list runs the embedded seed alone
#   --duration S        measured seconds per case [DURATION; 10, smoke 1]
#   --rounds N          the servers take turns in N rounds of DURATION / N seconds each
#                       [ROUNDS; 5, smoke 1]: the machine is shared and its speed moves
#                       within minutes, so servers measured in turn, seconds apart, meet
#                       the same machine and their ratios hold
#   --warmup S          unmeasured seconds before each case [WARMUP; 2, smoke 0]
#   --connections N     wrk connections [CONNECTIONS; 32]
#   --queries a,b,...   only these queries [QUERIES; a,b,c,d,e]
#   --servers x,y,...   only these of real,real-nocache,bare,mercurius,ceiling,baseline
#                       [SERVERS; all]; mercurius needs Node.js >= 20 and npm (its locked
#                       packages are installed with `npm ci`); a smoke run without them
#                       skips it (SKIPPED), a full run stops
#   --no-seed           skip the store of the embedded seed
#   --keep              keep the stores' data directories
#   --import-runs N     first starts of the largest store [IMPORT_RUNS; 3, smoke 1]: one
#                       import swings by a fifth on a shared machine, so the targets take
#                       the median rate and the highest peak RSS of them all
#   --smoke             the CI run: debug profile, sizes 1000, 1 s per case, no warm-up;
#                       no target is judged
# Work directory [BENCH_DIR; /tmp/kyrgyz-relations-bench]: generated seeds (reused while
# src/generate.rs is unchanged) and one folder per run with its results and logs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

smoke=0
keep=0
with_seed=1
sizes_given=0
if [[ -n "${SIZES+set}" ]]; then sizes_given=1; fi
SIZES="${SIZES-}"
DURATION="${DURATION-}"
ROUNDS="${ROUNDS-}"
WARMUP="${WARMUP-}"
CONNECTIONS="${CONNECTIONS:-32}"
QUERIES="${QUERIES:-a,b,c,d,e}"
SERVERS="${SERVERS:-real,real-nocache,bare,mercurius,ceiling,baseline}"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/kyrgyz-relations-bench}"
RUST_LOG="${RUST_LOG:-info}"
IMPORT_TIMEOUT="${IMPORT_TIMEOUT:-1800}"
IMPORT_RUNS="${IMPORT_RUNS-}"
SERVER_CPU=0
LOAD_CPU=1

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}
while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) smoke=1 ;;
        --sizes) SIZES="$2"; sizes_given=1; shift ;;
        --duration) DURATION="$2"; shift ;;
        --rounds) ROUNDS="$2"; shift ;;
        --warmup) WARMUP="$2"; shift ;;
        --connections) CONNECTIONS="$2"; shift ;;
        --queries) QUERIES="$2"; shift ;;
        --servers) SERVERS="$2"; shift ;;
        --import-runs) IMPORT_RUNS="$2"; shift ;;
        --no-seed) with_seed=0 ;;
        --keep) keep=1 ;;
        -h | --help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
if [[ "$smoke" == 1 ]]; then
    if [[ "$sizes_given" == 0 ]]; then SIZES=1000; fi
    DURATION="${DURATION:-1}"
    ROUNDS="${ROUNDS:-1}"
    WARMUP="${WARMUP:-0}"
    IMPORT_RUNS="${IMPORT_RUNS:-1}"
    profile=debug
else
    if [[ "$sizes_given" == 0 ]]; then SIZES=1000,10000,100000,1000000; fi
    DURATION="${DURATION:-10}"
    ROUNDS="${ROUNDS:-5}"
    WARMUP="${WARMUP:-2}"
    IMPORT_RUNS="${IMPORT_RUNS:-3}"
    profile=release
fi
for number in "$DURATION" "$ROUNDS" "$WARMUP" "$CONNECTIONS" "$IMPORT_RUNS"; do
    [[ "$number" =~ ^[0-9]+$ ]] || { echo "not a whole number: $number" >&2; exit 2; }
done
# The largest synthetic store, whose first start is repeated (`--import-runs`).
largest="$(tr ',' '\n' <<<"$SIZES" | sort -n | tail -1)"
[[ "$DURATION" -ge 1 ]] || { echo "--duration must be at least 1 s" >&2; exit 2; }
[[ "$ROUNDS" -ge 1 && $((DURATION % ROUNDS)) == 0 ]] ||
    { echo "--rounds must divide --duration into whole seconds ($DURATION s, $ROUNDS rounds)" >&2; exit 2; }
IFS=, read -r -a sizes <<<"$SIZES"
for size in "${sizes[@]}"; do
    [[ "$size" =~ ^[0-9]+$ && "$size" -ge 1 ]] || { echo "not an incident count: $size" >&2; exit 2; }
done
wanted() { [[ ",$2," == *",$1,"* ]]; }
for server in ${SERVERS//,/ }; do
    case "$server" in
        real | real-nocache | bare | mercurius | ceiling | baseline) ;;
        *) echo "unknown server: $server (real, real-nocache, bare, mercurius, ceiling, baseline)" >&2; exit 2 ;;
    esac
done

# --- tools -----------------------------------------------------------------------------
sudo_if_needed=""
if [[ "$(id -u)" -ne 0 ]]; then sudo_if_needed="sudo"; fi
apt_updated=0
apt_install() {
    echo "installing $* from Debian's packages" >&2
    if [[ "$apt_updated" == 0 ]]; then
        $sudo_if_needed apt-get update -qq
        apt_updated=1
    fi
    $sudo_if_needed apt-get install -y -qq "$@" >&2
}
# wrk: Debian packages it (so no build and no other registry), it keeps 32 connections
# busy from one thread, and its Lua hooks send varied bodies and report percentiles.
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v python3 >/dev/null 2>&1 || apt_install python3
command -v taskset >/dev/null 2>&1 || apt_install util-linux
if [[ "$(nproc)" -lt 2 ]]; then
    echo "note: $(nproc) CPU; server and wrk share it (the issue measures on 2)" >&2
    LOAD_CPU=0
fi
perf() { python3 "$here/perf.py" "$@"; }
MERCURIUS_DIR="$root/bench/servers/mercurius"
json_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# --- mercurius, the Node peer: Node.js >= 20 and its packages as package-lock.json pins them
# (`npm ci`, only when node_modules is missing or older than the lock). Without Node a
# smoke run skips it and says so; a full run stops before the build, since its targets
# need it.
peer=""
peer_unavailable=""
if wanted mercurius "$SERVERS"; then
    peer_status=0
    peer="$(perf node-setup --dir "$MERCURIUS_DIR")" || peer_status=$?
    if [[ "$peer_status" == 3 ]]; then
        peer_unavailable="$(json_field "$peer" unavailable)"
        if [[ "$smoke" == 1 ]]; then
            echo "SKIPPED mercurius: $peer_unavailable" >&2
        else
            echo "FAIL: the mercurius server cannot run: $peer_unavailable" >&2
            echo "  (its targets need it; --servers without mercurius runs the others)" >&2
            exit 2
        fi
    elif [[ "$peer_status" != 0 ]]; then
        echo "FAIL: cannot install the mercurius server's packages" >&2
        exit 1
    fi
fi

# --- build -------------------------------------------------------------------------------
started_at=$(date +%s)
if [[ "$profile" == release ]]; then
    (cd "$root" && cargo build --release --locked --workspace --bins)
else
    (cd "$root" && cargo build --locked --workspace --bins)
fi
bin_dir="$root/target/$profile"
BIN="$bin_dir/kyrgyz-relations"
BASELINE="$bin_dir/bench-baseline"
CEILING="$bin_dir/bench-ceiling"
BARE="$bin_dir/bench-bare"
for binary in "$BIN" "$BASELINE" "$CEILING" "$BARE"; do
    [[ -x "$binary" ]] || { echo "FAIL: $binary was not built" >&2; exit 1; }
done

# Is the response cache in this binary? Without the flag, "cache off" cannot be measured:
# say so and skip it rather than measure the default server twice under two names.
cache_flag=false
if "$BIN" --help | grep -q -- '--response-cache-mib'; then
    cache_flag=true
fi

# --- work directory ----------------------------------------------------------------------
mkdir -p "$BENCH_DIR/seeds" "$BENCH_DIR/runs"
run="$BENCH_DIR/runs/$(date -u +%Y%m%dT%H%M%SZ)-$([[ $smoke == 1 ]] && echo smoke || echo full)"
mkdir -p "$run/logs" "$run/stores"
results="$run/results.jsonl"
: >"$results"
echo "work directory: $run" >&2
if [[ -n "$peer_unavailable" ]]; then
    perf note --results "$results" type=skip server=mercurius "reason=$peer_unavailable"
elif [[ -n "$peer" ]]; then
    perf note --results "$results" --json "$peer" type=peer
fi

# The server started last (`start_server`), and those kept running beside it (`keep_server`),
# by name: a store's servers run together and take turns under load.
server_pid=""
declare -A kept_pid=() kept_url=() kept_log=()
stop_pid() {
    local pid="$1"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "the server (pid $pid) did not stop within 10 s of SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}
stop_server() {
    if [[ -n "$server_pid" ]]; then
        stop_pid "$server_pid"
        server_pid=""
    fi
}
# keep_server NAME: the server started last stays up, under NAME, until `stop_kept`.
keep_server() {
    kept_pid[$1]="$server_pid"
    kept_url[$1]="$url"
    kept_log[$1]="$server_log"
    server_pid=""
}
# use_server NAME: `url` and `server_log` (for `check_answers`) are a kept server's.
use_server() {
    url="${kept_url[$1]}"
    server_log="${kept_log[$1]}"
}
stop_kept() {
    local name
    for name in "${!kept_pid[@]}"; do
        stop_pid "${kept_pid[$name]}"
        trim_log "${kept_log[$name]}"
    done
    kept_pid=()
    kept_url=()
    kept_log=()
}
cleanup() {
    local status=$?
    stop_server
    for pid in "${kept_pid[@]}"; do stop_pid "$pid"; done
    if [[ "$keep" == 0 ]]; then
        rm -rf "$run"/stores/*/data "$run"/stores/*/data-nocache
    fi
    if [[ "$status" != 0 ]]; then
        echo "FAIL (exit $status); logs in $run/logs" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server LOG COMMAND...: the server on CPU $SERVER_CPU (or $START_CPUS when set),
# at 127.0.0.1:$port.
start_server() {
    local log="$1"
    shift
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    server_log="$log"
    spawned_us=${EPOCHREALTIME/[.,]/}
    NO_COLOR=1 RUST_LOG="$RUST_LOG" taskset -c "${START_CPUS:-$SERVER_CPU}" "$@" --listen "127.0.0.1:$port" >>"$log" 2>&1 &
    server_pid=$!
}

server_failed() {
    echo "FAIL: $1; the server's log ($server_log), last lines:" >&2
    tail -n 20 "$server_log" >&2
    exit 1
}

# A pipe nothing writes to: `read -t` on it is a pause that starts no process.
exec {pause_fd}<> <(:)

# wait_ready TIMEOUT [BODIES]: prints {"seconds", "rss_kib", "hwm_kib"}: the time from the
# spawn until the server listens (every server here listens only once its data is ready;
# one that listened earlier would answer /healthz with another status until it is, and
# `perf wait` waits for its 200), plus, with BODIES, how long the first of them took to
# be answered. The port is polled from bash with builtins only, so no interpreter's
# start-up is counted and the polling takes next to nothing from the server it times: a
# subshell and a `sleep` process per poll every 2 ms took about half a core, which a
# first-start import on two cores lacked (13 s where it took 9 s alone). The pause between polls grows with the time waited, a
# two-hundredth of it, from 1 to 20 ms: the time measured is at most 0.5% late (or 1 ms).
wait_ready() {
    local timeout_s="$1" state now_us listening_us pause_us pause_s
    local deadline_us=$((spawned_us + timeout_s * 1000000))
    while ! { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; do
        state=Z
        read -r _ _ state _ <"/proc/$server_pid/stat" 2>/dev/null || true
        [[ "$state" != Z ]] || server_failed "the server exited before it listened"
        now_us=${EPOCHREALTIME/[.,]/}
        ((now_us < deadline_us)) || server_failed "the server did not listen within $timeout_s s"
        pause_us=$(((now_us - spawned_us) / 200))
        ((pause_us >= 1000)) || pause_us=1000
        ((pause_us <= 20000)) || pause_us=20000
        printf -v pause_s '0.%06d' "$pause_us"
        read -r -t "$pause_s" -u "$pause_fd" _ || true
    done
    listening_us=$((${EPOCHREALTIME/[.,]/} - spawned_us))
    exec 3>&-
    local extra=()
    if [[ $# -ge 2 ]]; then extra=(--body "$2"); fi
    perf wait --url "$url" --pid "$server_pid" --listening-us "$listening_us" --timeout "$timeout_s" "${extra[@]}" ||
        server_failed "the server did not answer"
}

# load_all STORE SERVER...: every query with bodies on the kept servers named, in turns.
load_all() {
    local store="$1" letter name
    shift
    local targets=()
    for name in "$@"; do targets+=(--target "$name,${kept_url[$name]},${kept_pid[$name]}"); done
    for letter in a b c d e; do
        wanted "$letter" "$QUERIES" || continue
        [[ -f "$bodies/$letter.jsonl" ]] || continue
        perf load "${targets[@]}" --bodies "$bodies/$letter.jsonl" --lua "$here/post.lua" \
            --duration $((DURATION / ROUNDS)) --rounds "$ROUNDS" --warmup "$WARMUP" \
            --connections "$CONNECTIONS" --cpu "$LOAD_CPU" --results "$results" \
            --logs "$run/logs" --store "$store" --query "$letter" || {
            for name in "$@"; do
                echo "the $name server's log (${kept_log[$name]}), last lines:" >&2
                tail -n 20 "${kept_log[$name]}" >&2
            done
            exit 1
        }
    done
}

check_answers() {
    perf check --url "$url" --bodies "$bodies" --reference "$reference" --server "$1" "${@:2}" || {
        echo "the server's log ($server_log), last lines:" >&2
        tail -n 20 "$server_log" >&2
        exit 1
    }
}

# Keeps a server's log short after a passing run: its start and its end.
trim_log() {
    if [[ -f "$1" ]] && [[ "$(wc -l <"$1")" -gt 200 ]]; then
        { head -n 50 "$1"; echo "[... trimmed by run.sh ...]"; tail -n 50 "$1"; } >"$1.trimmed"
        mv "$1.trimmed" "$1"
    fi
}

# run_store NAME LABEL INCIDENTS SEED_DIR: every measurement of one store.
run_store() {
    local name="$1" label="$2" incidents="$3" seed_dir="$4"
    local dir="$run/stores/$name"
    local data="$dir/data"
    bodies="$dir/bodies"
    reference="$dir/reference"
    mkdir -p "$dir"
    local seed_args=()
    if [[ -n "$seed_dir" ]]; then seed_args=(--seed-dir "$seed_dir"); fi
    echo "" >&2
    echo "=== store $name: $label ===" >&2
    perf note --results "$results" type=store "store=$name" "label=$label" "incidents=$incidents"

    # 1. First start: validate the seed and import it; peak RSS is VmHWM once ready. It
    # runs on every CPU: no load runs beside it, and the import works on two threads.
    START_CPUS="0-$(($(nproc) - 1))" \
        start_server "$run/logs/$name-import.log" "$BIN" --data-dir "$data" "${seed_args[@]}"
    local ready
    ready="$(wait_ready "$IMPORT_TIMEOUT")"
    local manifest="$data/kyrgyz-relations.manifest.json"
    local counts
    counts="$(python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["records"], m["indexEntries"])' "$manifest")"
    perf note --results "$results" --json "$ready" type=import "store=$name" \
        "records=${counts% *}" "index_entries=${counts#* }"
    echo "  first start (validate + import): $(json_field "$ready" seconds) s, ${counts% *} records, ${counts#* } index entries, peak RSS $(($(json_field "$ready" hwm_kib) / 1024)) MiB" >&2
    # The request bodies come from the store itself; its first answers are the reference.
    local tree=()
    if [[ -z "$seed_dir" ]]; then tree=(--seed-tree); fi
    perf sample --url "$url" --queries "$root/bench/queries" --out "$bodies" "${tree[@]}"
    check_answers real --capture --results "$results" --store "$name"
    stop_server
    trim_log "$run/logs/$name-import.log"
    local bytes
    bytes="$(du -s -B1 "$data" | cut -f1)"
    perf note --results "$results" type=disk "store=$name" "phase=after import" "bytes=$bytes"

    # 1b. The largest store's first start again, into a throwaway directory each time.
    if [[ "$incidents" == "$largest" ]]; then
        local again scratch="$dir/data-again"
        for again in $(seq 2 "$IMPORT_RUNS"); do
            rm -rf "$scratch"
            START_CPUS="0-$(($(nproc) - 1))" \
                start_server "$run/logs/$name-import-$again.log" "$BIN" --data-dir "$scratch" "${seed_args[@]}"
            ready="$(wait_ready "$IMPORT_TIMEOUT")"
            perf note --results "$results" --json "$ready" type=import "store=$name" \
                "records=${counts% *}" "index_entries=${counts#* }" "run=$again"
            echo "  first start $again of $IMPORT_RUNS: $(json_field "$ready" seconds) s, peak RSS $(($(json_field "$ready" hwm_kib) / 1024)) MiB" >&2
            stop_server
            trim_log "$run/logs/$name-import-$again.log"
            rm -rf "$scratch"
        done
    fi

    # 2. The logical bytes of keys and values (from `verify`, which reads every tree).
    local verify_started verify_output logical
    verify_started=$(date +%s%N)
    verify_output="$(timeout "$IMPORT_TIMEOUT" "$BIN" verify --data-dir "$data")" || {
        echo "FAIL: verify found problems in the imported store:" >&2
        echo "$verify_output" >&2
        exit 1
    }
    logical="$(grep -E '^logical size: ' <<<"$verify_output" || true)"
    if [[ "$logical" =~ ^logical\ size:\ ([0-9]+)\ bytes\ in\ ([0-9]+)\ entries\ \(([0-9]+)\ bytes\ of\ keys,\ ([0-9]+)\ of\ values\) ]]; then
        perf note --results "$results" type=logical "store=$name" "bytes=${BASH_REMATCH[1]}" \
            "entries=${BASH_REMATCH[2]}" "keys=${BASH_REMATCH[3]}" "values=${BASH_REMATCH[4]}" \
            "verify_seconds=$(( ($(date +%s%N) - verify_started) / 1000000 ))e-3"
        echo "  verify: sound; logical size ${BASH_REMATCH[1]} bytes in ${BASH_REMATCH[2]} entries; on disk $bytes bytes" >&2
    else
        echo "  verify printed no logical size (an older binary?); the disk ratio is left out" >&2
    fi

    # 3. Reopen with the default flags (response cache on), alone, until (c) is answered.
    # The servers of steps 3 to 6 then stay up together, and take turns under load.
    local loaded=()
    if wanted real-nocache "$SERVERS" && [[ "$cache_flag" == true ]]; then
        # Its own copy: sled locks a data directory to one process.
        rm -rf "$data-nocache"
        cp -a "$data" "$data-nocache"
    fi
    if wanted real "$SERVERS" || [[ -z "$SERVERS" ]]; then
        start_server "$run/logs/$name-real.log" "$BIN" --data-dir "$data" "${seed_args[@]}"
        ready="$(wait_ready 60 "$bodies/c.jsonl")"
        perf note --results "$results" --json "$ready" type=reopen "store=$name"
        echo "  reopen and first answer to (c): $(json_field "$ready" seconds) s" >&2
        check_answers real
        keep_server real
        loaded+=(real)
    fi

    # 4. The same server with the response cache off.
    if wanted real-nocache "$SERVERS"; then
        if [[ "$cache_flag" == true ]]; then
            start_server "$run/logs/$name-real-nocache.log" "$BIN" --data-dir "$data-nocache" \
                --response-cache-mib 0 "${seed_args[@]}"
            wait_ready 60 >/dev/null
            check_answers real-nocache
            keep_server real-nocache
            loaded+=(real-nocache)
        else
            echo "  SKIPPED real-nocache: $BIN has no --response-cache-mib flag, so this build has no response cache to turn off; the 'real' rows run without one" >&2
        fi
    fi

    # 5. The bare ceiling: the captured answers, from memory, from plain axum (no layers).
    if wanted bare "$SERVERS"; then
        start_server "$run/logs/$name-bare.log" "$BARE" --responses "$reference/ceiling.jsonl"
        ready="$(wait_ready 60)"
        perf note --results "$results" --json "$ready" type=start "store=$name" server=bare
        check_answers bare
        keep_server bare
        loaded+=(bare)
    fi

    # 6. mercurius with graphql-jit: the same seed in memory, in Node. Its answers to every
    # body of every query must equal the real server's before any load; each body is sent
    # twice, since graphql-jit compiles a query after its first use.
    if wanted mercurius "$SERVERS" && [[ -z "$peer_unavailable" ]]; then
        start_server "$run/logs/$name-mercurius.log" env NODE_ENV=production \
            node "$MERCURIUS_DIR/server.js" "${seed_args[@]}"
        ready="$(wait_ready "$IMPORT_TIMEOUT")"
        perf note --results "$results" --json "$ready" type=start "store=$name" server=mercurius
        echo "  mercurius: seed loaded into memory in $(json_field "$ready" seconds) s, RSS $(($(json_field "$ready" rss_kib) / 1024)) MiB" >&2
        check_answers mercurius --passes 2
        keep_server mercurius
        loaded+=(mercurius)
    fi

    # 7. Diagnostics. The layered ceiling: the captured answers through the real server's
    # HTTP layers and accept loop (what those layers cost against the bare ceiling).
    if wanted ceiling "$SERVERS"; then
        start_server "$run/logs/$name-ceiling.log" "$CEILING" --responses "$reference/ceiling.jsonl"
        ready="$(wait_ready 60)"
        perf note --results "$results" --json "$ready" type=start "store=$name" server=ceiling
        check_answers ceiling
        keep_server ceiling
        loaded+=(ceiling)
    fi

    # 8. The baseline: the same schema over the seed in plain Vecs, naive resolvers.
    if wanted baseline "$SERVERS"; then
        start_server "$run/logs/$name-baseline.log" "$BASELINE" "${seed_args[@]}"
        ready="$(wait_ready "$IMPORT_TIMEOUT")"
        perf note --results "$results" --json "$ready" type=start "store=$name" server=baseline
        echo "  baseline: seed loaded into memory in $(json_field "$ready" seconds) s, RSS $(($(json_field "$ready" rss_kib) / 1024)) MiB" >&2
        check_answers baseline
        keep_server baseline
        loaded+=(baseline)
    fi

    # 9. Every query on every server, in turns; then the real server's answers again
    # (served from its response cache, when it has one) and its disk use.
    if [[ ${#loaded[@]} -gt 0 ]]; then
        load_all "$name" "${loaded[@]}"
    fi
    if [[ -n "${kept_pid[real]-}" ]]; then
        use_server real
        check_answers real
        bytes="$(du -s -B1 "$data" | cut -f1)"
        perf note --results "$results" type=disk "store=$name" "phase=under load" "bytes=$bytes"
    fi
    stop_kept
    rm -rf "$data-nocache"

    if [[ "$keep" == 0 ]]; then
        rm -rf "$data"
    fi
}

# --- the run -----------------------------------------------------------------------------
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=false
if [[ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ]]; then dirty=true; fi
cpu="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
mem_gib="$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
perf note --results "$results" type=machine "mode=$([[ $smoke == 1 ]] && echo smoke || echo full)" \
    "date=$(date -u '+%Y-%m-%d %H:%M UTC')" "commit=$commit" "dirty=$dirty" "nproc=$(nproc)" \
    "cpu=${cpu:-unknown}" "mem_gib=$mem_gib" "kernel=$(uname -r)" "rustc=$(rustc --version)" \
    "wrk=$(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)" "profile=$profile" \
    "duration=$DURATION" "rounds=$ROUNDS" "warmup=$WARMUP" "connections=$CONNECTIONS" "rust_log=$RUST_LOG" \
    "server_cpu=$SERVER_CPU" "load_cpu=$LOAD_CPU" "cache_flag=$cache_flag" \
    "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "$cache_flag" != true ]] && wanted real-nocache "$SERVERS"; then
    perf note --results "$results" type=skip server=real-nocache \
        "reason=$BIN has no --response-cache-mib flag: this build has no response cache, so the 'real' rows ran without one and stand in for cache off in the ratios"
fi

if [[ "$with_seed" == 1 ]]; then
    run_store seed "the embedded seed" 0 ""
fi
generator="$(sha256sum "$root/src/generate.rs" | cut -c1-12)"
for size in "${sizes[@]}"; do
    # A generated seed is reused while the generator is the same (same file, same output).
    seed_dir="$BENCH_DIR/seeds/incidents-$size-$generator"
    if [[ ! -f "$seed_dir/.complete" ]]; then
        rm -rf "$BENCH_DIR/seeds/incidents-$size-"*
        echo "generating a seed of $size incidents into $seed_dir" >&2
        timeout 1800 "$BIN" generate --incidents "$size" --out "$seed_dir" >&2
        touch "$seed_dir/.complete"
    fi
    name="$size"
    case "$size" in
        *000000) name="$((size / 1000000))M" ;;
        *000) name="$((size / 1000))k" ;;
    esac
    run_store "$name" "synthetic, $(printf "%'d" "$size" 2>/dev/null || echo "$size") incidents" "$size" "$seed_dir"
done

perf note --results "$results" type=end "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)" \
    "seconds=$(($(date +%s) - started_at))"
echo "" >&2
perf report --results "$results" --markdown "$run/results.md"
cp "$run/results.md" "$BENCH_DIR/latest.md"

# Any failed request fails the run (after the report): non-2xx, socket errors, timeouts.
python3 - "$results" <<'EOF'
import json, sys
failed = [r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "load" and r["errors"]]
for r in failed:
    print(f"FAIL: {r['store']} {r['server']} ({r['query']}): {r['errors']} errors "
          f"(non-2xx {r['non_2xx']}, timeouts {r['timeouts']}, connect {r['connect_errors']}, "
          f"read {r['read_errors']}, write {r['write_errors']})", file=sys.stderr)
sys.exit(1 if failed else 0)
EOF
echo "PASS: every answer checked, no failed request; results in $run" >&2
