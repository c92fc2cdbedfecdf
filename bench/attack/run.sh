#!/usr/bin/env bash
# Load-plus-attack run: realistic queries at steady concurrency, first alone (baseline),
# then while fragment bombs, deeply nested arguments and slow-header connections arrive.
# Loopback only; bounded in time (about 30 s with the defaults). Exits non-zero if any
# normal request failed, an attack request was not refused, a slow-header connection
# outlived the header timeout, or the server died. See README.md in this folder.
#
# Environment (defaults in brackets):
#   CONCURRENCY [16]  normal clients        DURATION [10]  seconds per phase
#   WARMUP [2]        unmeasured warm-up s  ATTACKERS [4]  clients sending bombs
#   SLOW [64]         slow-header conns     DEPTH [2000]   nesting of the deep payloads
#   BIN [target/release/kyrgyz-relations]   the default is rebuilt with `cargo build --release`
#   RUST_LOG [info]   the server's log level (the log goes to a temporary file)
#   KYRGYZ_RELATIONS_* are passed to the server as usual; the header-read timeout used to
#   judge slow connections is KYRGYZ_RELATIONS_HEADER_TIMEOUT_SECS [5].
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
ATTACKERS="${ATTACKERS:-4}"
SLOW="${SLOW:-64}"
DEPTH="${DEPTH:-2000}"
custom_bin="${BIN:-}"
BIN="${BIN:-$root/target/release/kyrgyz-relations}"
HEADER_TIMEOUT="${KYRGYZ_RELATIONS_HEADER_TIMEOUT_SECS:-5}"

# The default binary is always brought up to date (a no-op when it is), so a run never
# measures stale code; a BIN given by the caller is used as it is.
if [[ -z "$custom_bin" ]]; then
    (cd "$root" && cargo build --release --locked)
elif [[ ! -x "$BIN" ]]; then
    echo "BIN=$BIN is not an executable" >&2
    exit 1
fi

# Enough descriptors for the slow connections (server and client share the limit).
ulimit -n 4096 2>/dev/null || true

work="$(mktemp -d "${TMPDIR:-/tmp}/kyrgyz-attack.XXXXXX")"
server_pid=""
driver_pid=""
cleanup() {
    local status=$?
    if [[ -n "$driver_pid" ]] && kill -0 "$driver_pid" 2>/dev/null; then
        kill "$driver_pid" 2>/dev/null || true
        wait "$driver_pid" 2>/dev/null || true
    fi
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port on the loopback interface.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" "$BIN" --listen "127.0.0.1:$port" --data-dir "$work/data" \
    >"$work/server.log" 2>&1 &
server_pid=$!

# Wait for /health (the first start seeds the temporary store).
for attempt in $(seq 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited before serving; its log:" >&2
        tail -n 30 "$work/server.log" >&2
        exit 1
    fi
    if python3 - "$port" <<'EOF' 2>/dev/null; then break; fi
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1) as r:
    sys.exit(0 if json.load(r).get("status") == "ok" else 1)
EOF
    if [[ "$attempt" == 300 ]]; then
        echo "the server did not become healthy in 30 s; its log:" >&2
        tail -n 30 "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
done

echo "server pid $server_pid on 127.0.0.1:$port ($(nproc) CPUs), binary $BIN" >&2

# The whole run is bounded even if something hangs.
limit=$(python3 -c "print(int(2 * $DURATION + $WARMUP + 60))")
# In the background and waited for, so that Ctrl-C or a TERM reaches the traps at once.
timeout "$limit" python3 "$here/loadattack.py" \
    --port "$port" --server-pid "$server_pid" \
    --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
    --attackers "$ATTACKERS" --slow "$SLOW" --depth "$DEPTH" \
    --header-timeout "$HEADER_TIMEOUT" &
driver_pid=$!
status=0
wait "$driver_pid" || status=$?
driver_pid=""
if [[ "$status" == 124 ]]; then
    echo "FAIL: the run did not finish within $limit s" >&2
fi

# The server must have survived, and logged no panic.
if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAIL: the server died during the run; its log:" >&2
    tail -n 30 "$work/server.log" >&2
    status=1
fi
panics=$(grep -c "panicked" "$work/server.log" || true)
if [[ "$panics" != 0 ]]; then
    echo "FAIL: the server logged $panics panics" >&2
    grep -m 5 "panicked" "$work/server.log" >&2
    status=1
fi
if [[ "$status" != 0 ]]; then
    echo "last lines of the server log:" >&2
    tail -n 10 "$work/server.log" >&2
fi
exit "$status"
