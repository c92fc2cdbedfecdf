#!/usr/bin/env python3
"""Load-plus-attack driver for kyrgyz-relations (standard library only).

Runs against a server already listening on 127.0.0.1:PORT (bench/attack/run.sh starts
one). Two phases of the same normal traffic, each for --duration seconds:

  baseline  N clients, each on its own keep-alive connection, send realistic queries in
            a loop (a nested Country -> Agreements -> Facilities -> Incidents query, a
            node(id:) lookup, an incidents(occurred:) filter, a search).
  attack    the same, while a separate process (so its CPU use does not stall the
            measuring event loop) runs attackers that send fragment bombs, queries with
            argument values nested 2000 brackets deep and variables nested 2000 deep, in a
            loop, and keeps SLOW connections open that send a partial request header one
            byte a second and never finish it (a new one replaces each one the server
            closes).

A normal request succeeds when it gets HTTP 200 with a JSON body that has `data` and no
`errors`. An attack request counts as refused when it gets a 4xx, or a 200 whose errors
carry extensions.code QUERY_TOO_COMPLEX (or BAD_REQUEST / BAD_USER_INPUT).

Prints a table and exits 1 if any normal request failed in either phase, if any attack
request was not refused, or if a slow-header connection outlived the header timeout by
more than the grace period; 0 otherwise.
"""

import argparse
import asyncio
import json
import math
import multiprocessing
import signal
import statistics
import sys
import time

HOST = "127.0.0.1"  # loopback only, by design

# ---------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client over asyncio streams (keep-alive, Content-Length or chunked).


class HttpError(Exception):
    pass


class Connection:
    def __init__(self, port):
        self.port = port
        self.reader = None
        self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post_json(self, path, payload):
        """Returns (status, body bytes). Reconnects once if the kept-alive connection was
        closed before the request was written."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        if self.writer is None:
            await self.open()
        self.writer.write(head + body)
        await self.writer.drain()
        return await self._read_response()

    async def _read_response(self):
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            self.close()
            raise HttpError(f"connection closed before a response ({len(error.partial)} bytes)")
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            self.close()
            raise HttpError(f"bad status line: {lines[0]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        else:
            body = await self.reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body


# ---------------------------------------------------------------------------------------
# Normal traffic.

NESTED = """{ country(code: "RU") { name agreements { nodes { title facilities { nodes {
  name kind incidents { nodes { title occurred } } } } } } } }"""

NODE = """query Node($id: ID!) { node(id: $id) { id __typename
  ... on Facility { name kind hostCountry { name } incidents { nodes { title occurred } } }
  ... on Country { name code } ... on Agreement { title signed } } }"""

FILTER = """{ incidents(occurred: {from: "2012", to: "2013"}) { totalCount
  nodes { title occurred kind killed { low high exact } facility { name } } } }"""

SEARCH = """{ search(text: "Kant") { totalCount nodes { __typename
  ... on Facility { name kind } ... on Agreement { title } ... on Incident { title } } } }"""

IDS_QUERY = """{ facilities(first: 10) { nodes { id } } agreements(first: 5) { nodes { id } }
  country(code: "KG") { id } }"""


def normal_requests(ids):
    """The mix, in order: the nested query, a node(id:) lookup, the date filter, the
    search; each kind a quarter of the requests, the lookups cycling through the ids."""
    payloads, kinds = [], []
    for node_id in ids:
        for kind, payload in (
            ("nested", {"query": NESTED}),
            ("node", {"query": NODE, "variables": {"id": node_id}}),
            ("filter", {"query": FILTER}),
            ("search", {"query": SEARCH}),
        ):
            payloads.append(json.dumps(payload).encode())
            kinds.append(kind)
    return payloads, kinds


async def fetch_ids(port):
    conn = Connection(port)
    try:
        status, body = await conn.post_json("/graphql", {"query": IDS_QUERY})
    finally:
        conn.close()
    data = json.loads(body)
    if status != 200 or data.get("errors"):
        raise SystemExit(f"cannot fetch ids for node(id:): {status} {body[:300]!r}")
    d = data["data"]
    ids = [n["id"] for n in d["facilities"]["nodes"]] + [n["id"] for n in d["agreements"]["nodes"]]
    ids.append(d["country"]["id"])
    return ids


def judge_normal(status, body):
    """None when the response is a success, else a short reason."""
    if status != 200:
        return f"HTTP {status}: {body[:160]!r}"
    try:
        data = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:160]!r}"
    if data.get("errors"):
        return f"errors: {json.dumps(data['errors'])[:200]}"
    if data.get("data") is None:
        return "no data"
    return None


async def normal_traffic(port, concurrency, duration, payloads, kinds, timeout):
    latencies = []  # seconds, every request, failed ones included
    errors = []  # (kind, reason)
    per_kind = {}
    deadline = time.monotonic() + duration

    async def client(index):
        conn = Connection(port)
        position = index  # stagger the mix across clients
        try:
            while time.monotonic() < deadline:
                payload = payloads[position % len(payloads)]
                kind = kinds[position % len(payloads)]
                position += 1
                started = time.perf_counter()
                try:
                    status, body = await asyncio.wait_for(
                        conn.post_json("/graphql", payload), timeout
                    )
                    reason = judge_normal(status, body)
                except (OSError, HttpError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
                    conn.close()
                    reason = f"{type(error).__name__}: {error}"
                elapsed = time.perf_counter() - started
                latencies.append(elapsed)
                per_kind.setdefault(kind, []).append(elapsed)
                if reason is not None:
                    errors.append((kind, reason))
        finally:
            conn.close()

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    wall = time.monotonic() - started
    return {"latencies": latencies, "errors": errors, "wall": wall, "per_kind": per_kind}


# ---------------------------------------------------------------------------------------
# Attacks.


def fragment_bomb(levels=10, fanout=8):
    """10 levels of fragments, each spreading the next 8 times: 8^10 fields once inlined,
    in about 1 KB of text."""
    text = "query Bomb { ...F0 }\n"
    for level in range(levels):
        spreads = f"...F{level + 1} " * fanout
        text += f"fragment F{level} on Query {{ {spreads}}}\n"
    text += f"fragment F{levels} on Query {{ __typename }}\n"
    return text


def attack_payloads(depth):
    bomb = fragment_bomb()
    nested_argument = "{ nodes(ids: " + "[" * depth + '"x"' + "]" * depth + ") { id } }"
    # JSON variables nested as deep: `[[[...]]]` in the body itself.
    nested_variables = (
        b'{"query": "query($v: [ID!]) { nodes(ids: $v) { id } }", "variables": {"v": '
        + b"[" * depth + b"]" * depth + b"}}"
    )
    return [
        ("fragment_bomb", json.dumps({"query": bomb}).encode()),
        ("nested_argument", json.dumps({"query": nested_argument}).encode()),
        ("nested_variables", nested_variables),
    ]


REFUSAL_CODES = {"QUERY_TOO_COMPLEX", "BAD_REQUEST", "BAD_USER_INPUT"}


def judge_attack(status, body):
    """'refused' or a reason it was not."""
    if 400 <= status < 500:
        return "refused"
    if status != 200:
        return f"HTTP {status}"
    try:
        data = json.loads(body)
    except ValueError:
        return "200 with a body that is not JSON"
    codes = {((e.get("extensions") or {}).get("code")) for e in data.get("errors") or []}
    if codes & REFUSAL_CODES:
        return "refused"
    return f"accepted (200, error codes {sorted(c for c in codes if c)})"


async def attackers(port, count, deadline, payloads, timeout, result):
    async def attacker(index):
        conn = Connection(port)
        position = index
        try:
            while time.monotonic() < deadline:
                kind, payload = payloads[position % len(payloads)]
                position += 1
                started = time.perf_counter()
                try:
                    status, body = await asyncio.wait_for(
                        conn.post_json("/graphql", payload), timeout
                    )
                    verdict = judge_attack(status, body)
                except (OSError, HttpError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
                    conn.close()
                    verdict = f"{type(error).__name__}: {error}"
                result["attack_latencies"].append(time.perf_counter() - started)
                result["attack_sent"] += 1
                result["attack_by_kind"][kind] = result["attack_by_kind"].get(kind, 0) + 1
                if verdict == "refused":
                    result["attack_refused"] += 1
                else:
                    result["attack_not_refused"].append(f"{kind}: {verdict}")
        finally:
            conn.close()

    await asyncio.gather(*(attacker(i) for i in range(count)))


async def slow_headers(port, count, deadline, result):
    """Keeps `count` connections open, each sending a request header one byte a second
    and never finishing it. Records how long each lived before the server closed it."""
    header = (
        f"GET /health HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: slowloris\r\nX-Padding: "
    ).encode() + b"a" * 4096

    async def slot(index):
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
            except OSError as error:
                result["slow_connect_errors"] += 1
                result["slow_notes"].append(f"connect: {error}")
                await asyncio.sleep(0.2)
                continue
            result["slow_opened"] += 1
            opened = time.monotonic()
            closed_by_server = False
            try:
                for byte in header:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    # Wait a second for the next byte, watching for the server's close.
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        data = await asyncio.wait_for(reader.read(1024), min(1.0, remaining))
                    except asyncio.TimeoutError:
                        continue
                    # EOF, or a response (e.g. 408) followed by EOF: closed by the server.
                    closed_by_server = True
                    if data:
                        result["slow_answered"] += 1
                    break
            except (ConnectionResetError, BrokenPipeError, OSError):
                closed_by_server = True
            lifetime = time.monotonic() - opened
            if closed_by_server:
                result["slow_closed"] += 1
                result["slow_lifetimes"].append(lifetime)
            else:
                result["slow_open_at_end"] += 1
                result["slow_open_at_end_ages"].append(lifetime)
            writer.close()

    # Open them a few at a time rather than in one burst of `count` connects.
    tasks = []
    for index in range(count):
        tasks.append(asyncio.create_task(slot(index)))
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks)


def attack_process(port, attackers_count, slow_count, duration, depth, timeout, ready, queue):
    result = {
        "attack_sent": 0,
        "attack_refused": 0,
        "attack_not_refused": [],
        "attack_by_kind": {},
        "attack_latencies": [],
        "slow_opened": 0,
        "slow_closed": 0,
        "slow_answered": 0,
        "slow_lifetimes": [],
        "slow_open_at_end": 0,
        "slow_open_at_end_ages": [],
        "slow_connect_errors": 0,
        "slow_notes": [],
    }

    async def main():
        deadline = time.monotonic() + duration
        slow = asyncio.create_task(slow_headers(port, slow_count, deadline, result))
        await asyncio.sleep(0.5)  # let the slow connections open before the load starts
        ready.set()
        await asyncio.gather(
            attackers(port, attackers_count, deadline, attack_payloads(depth), timeout, result),
            slow,
        )

    asyncio.run(main())
    result["slow_notes"] = result["slow_notes"][:5]
    queue.put(result)


# ---------------------------------------------------------------------------------------
# Reporting.


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    # Nearest rank: the smallest value with at least `fraction` of the values at or below.
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(run):
    values = sorted(run["latencies"])
    return {
        "requests": len(values),
        "errors": len(run["errors"]),
        "p50": percentile(values, 0.50) * 1000,
        "p99": percentile(values, 0.99) * 1000,
        "max": (values[-1] if values else float("nan")) * 1000,
        "rps": len(values) / run["wall"] if run["wall"] else 0.0,
    }


def rss_kib(pid):
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--slow", type=int, default=64, help="slow-header connections")
    parser.add_argument("--depth", type=int, default=2000, help="nesting of the deep payloads")
    parser.add_argument("--timeout", type=float, default=15.0, help="per-request timeout")
    parser.add_argument("--header-timeout", type=float, default=5.0,
                        help="the server's header-read timeout, to judge the slow connections")
    parser.add_argument("--grace", type=float, default=3.0,
                        help="seconds past the header timeout a slow connection may live")
    parser.add_argument("--server-pid", type=int, default=0, help="to report the server's RSS")
    args = parser.parse_args()
    # A TERM (from run.sh's trap or `timeout`) exits through SystemExit, so multiprocessing
    # still stops the attack process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    ids = asyncio.run(fetch_ids(args.port))
    payloads, kinds = normal_requests(ids)

    if args.warmup > 0:
        warm = asyncio.run(normal_traffic(args.port, args.concurrency, args.warmup, payloads, kinds, args.timeout))
        if warm["errors"]:
            print(f"warm-up had {len(warm['errors'])} errors, first: {warm['errors'][0]}", file=sys.stderr)

    print(f"baseline: {args.concurrency} clients for {args.duration:g} s ...", file=sys.stderr, flush=True)
    baseline = asyncio.run(normal_traffic(args.port, args.concurrency, args.duration, payloads, kinds, args.timeout))
    rss_after_baseline = rss_kib(args.server_pid)

    print(f"attack: same load + {args.attackers} attackers + {args.slow} slow-header connections "
          f"for {args.duration:g} s ...", file=sys.stderr, flush=True)
    context = multiprocessing.get_context("fork")
    ready, queue = context.Event(), context.Queue()
    attack_duration = args.duration + 1.0  # covers the normal traffic from start to end
    process = context.Process(
        target=attack_process,
        args=(args.port, args.attackers, args.slow, attack_duration, args.depth, args.timeout, ready, queue),
    )
    process.daemon = True  # dies with this process (Ctrl-C, timeout)
    process.start()
    if not ready.wait(10):
        process.kill()
        raise SystemExit("the attack process did not start")
    attacked = asyncio.run(normal_traffic(args.port, args.concurrency, args.duration, payloads, kinds, args.timeout))
    attack = queue.get(timeout=attack_duration + args.timeout + 30)
    process.join(10)
    rss_after_attack = rss_kib(args.server_pid)

    rows = [("baseline", summarize(baseline)), ("attack", summarize(attacked))]
    print()
    print(f"normal traffic: {args.concurrency} clients, {args.duration:g} s per phase, "
          f"query mix nested/node/filter/search")
    print(f"{'phase':<10}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>9}")
    for name, s in rows:
        print(f"{name:<10}{s['requests']:>10}{s['errors']:>8}{s['p50']:>9.2f}{s['p99']:>9.2f}"
              f"{s['max']:>9.2f}{s['rps']:>9.0f}")
    for name, run in (("baseline", baseline), ("attack", attacked)):
        parts = []
        for kind in ("nested", "node", "filter", "search"):
            values = sorted(run["per_kind"].get(kind, []))
            parts.append(f"{kind} {percentile(values, 0.99) * 1000:.1f}")
        print(f"  p99 by query, {name}: " + ", ".join(parts) + " ms")
    base_p99, attack_p99 = rows[0][1]["p99"], rows[1][1]["p99"]
    if base_p99 > 0:
        print(f"p99 under attack / baseline p99: {attack_p99 / base_p99:.2f}x")

    print()
    a_lat = sorted(attack["attack_latencies"])
    by_kind = ", ".join(f"{k} {v}" for k, v in sorted(attack["attack_by_kind"].items()))
    print(f"attack requests ({args.attackers} clients; {by_kind}):")
    print(f"  sent {attack['attack_sent']}, refused {attack['attack_refused']}, "
          f"not refused {len(attack['attack_not_refused'])}; "
          f"time to refusal p50 {percentile(a_lat, 0.5) * 1000:.2f} ms, p99 {percentile(a_lat, 0.99) * 1000:.2f} ms")
    lifetimes = sorted(attack["slow_lifetimes"])
    overdue = [t for t in lifetimes if t > args.header_timeout + args.grace] + [
        t for t in attack["slow_open_at_end_ages"] if t > args.header_timeout + args.grace
    ]
    print(f"slow-header connections ({args.slow} at a time, 1 byte/s, never finished):")
    young = not [t for t in attack["slow_open_at_end_ages"] if t > args.header_timeout + args.grace]
    closed_after = (
        f" after {lifetimes[0]:.1f}-{lifetimes[-1]:.1f} s (median {statistics.median(lifetimes):.1f} s)"
        if lifetimes else ""
    )
    print(f"  opened {attack['slow_opened']}, closed by the server {attack['slow_closed']}{closed_after}; "
          f"still open at the end {attack['slow_open_at_end']} "
          f"({'all' if young else 'NOT all'} younger than the timeout); overdue {len(overdue)}")
    if attack["slow_connect_errors"]:
        print(f"  connect errors {attack['slow_connect_errors']}: {attack['slow_notes']}")
    if rss_after_baseline and rss_after_attack:
        print(f"server RSS: {rss_after_baseline[0] / 1024:.1f} MiB after baseline, "
              f"{rss_after_attack[0] / 1024:.1f} MiB after attack (peak {rss_after_attack[1] / 1024:.1f} MiB)")

    failed = False
    for name, run in (("baseline", baseline), ("attack", attacked)):
        if run["errors"]:
            failed = True
            print(f"\nFAIL: {len(run['errors'])} normal requests failed in the {name} phase; first ones:")
            for kind, reason in run["errors"][:5]:
                print(f"  {kind}: {reason}")
    if attack["attack_not_refused"]:
        failed = True
        print(f"\nFAIL: {len(attack['attack_not_refused'])} attack requests were not refused; first ones:")
        for line in attack["attack_not_refused"][:5]:
            print(f"  {line}")
    if overdue:
        failed = True
        print(f"\nFAIL: {len(overdue)} slow-header connections lived longer than "
              f"{args.header_timeout + args.grace:g} s")
    if attack["attack_sent"] == 0 or attack["slow_opened"] == 0:
        failed = True
        print("\nFAIL: the attack did not run")
    print("\nresult:", "FAIL" if failed else "PASS (zero errors in normal traffic)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
