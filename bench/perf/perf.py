#!/usr/bin/env python3
"""Helpers of bench/perf/run.sh (standard library only). run.sh builds, starts and stops
the servers; this file talks to them:

  wait    checks a server that listens answers (polling /healthz until it says ready),
          and times its first answer to a query
  sample  reads a running store for real ids, names, dates and its largest country, and
          writes the request bodies of queries (a)-(e), one JSON body a line
  check   sends every body to a server and fails on any error, non-200 or null answer;
          with --capture keeps the answers as the reference (and the answers the bare
          and layered ceilings replay), without it compares each answer with the
          reference as JSON and stops at the first difference
  agree   sends every body of a file to a reference server and to others, and fails at
          the first answer that differs from the reference's as JSON (compare.sh)
  node-setup  checks Node.js >= 20 and npm, and installs the mercurius server's locked
          packages with `npm ci` when node_modules is missing or older than the lock
  load    runs wrk (pinned with taskset) for one query on every server given: a warm-up
          each, then rounds in which the servers take turns; records req/s, latency
          percentiles, errors, RSS and the server's CPU time per request per server
  compare prints each server's req/s and CPU time per request from `load`'s records,
          with their ratios to the first server's (bench/perf/compare.sh)
  note    appends a measurement (key=value pairs, or a server's RSS) to the results file
  report  prints the tables and writes them as Markdown

Every server is on 127.0.0.1; nothing here opens another address.
"""

import argparse
import http.client
import json
import os
import random
import re
import resource
import shutil
import subprocess
import statistics
import sys
import time
import urllib.parse

HOST = "127.0.0.1"  # loopback only, by design
QUERIES = ["a", "b", "c", "d", "e"]
QUERY_FILES = {
    "a": "a-seed-tree.graphql",
    "b": "b-node.graphql",
    "c": "c-page.graphql",
    "d": "d-date-range.graphql",
    "e": "e-search.graphql",
}
QUERY_NAMES = {
    "a": "(a) seed tree",
    "b": "(b) node(id:)",
    "c": "(c) nested page",
    "d": "(d) date range",
    "e": "(e) search",
}
SERVER_NAMES = {
    "real": "real, cache on (default)",
    "real-nocache": "real, --response-cache-mib 0",
    "bare": "bare ceiling (captured bytes, plain axum)",
    "mercurius": "mercurius + graphql-jit (Node, in memory)",
    "ceiling": "layered ceiling (captured bytes, our layers)",
    "baseline": "baseline (naive, in-memory Vecs)",
}
# The order of the tables: the real server, the two references the targets use, then the
# two diagnostics.
SERVERS = ["real", "real-nocache", "bare", "mercurius", "ceiling", "baseline"]
# The targets against the references (see target_rows).
BARE_TARGET = 0.75  # cache on: req/s at least this times the bare ceiling's
MERCURIUS_TARGET = 1.5  # cache off: req/s at least this times mercurius', with less CPU a request
# wrk at this share of its CPU or more may bound a case's req/s (said under the table).
WRK_BOUND = 0.9
# A case where the server and wrk both used less than this share of their CPUs was starved
# by other work on the machine (32 connections in a closed loop keep one of them busy).
STARVED = 0.5
# The stores the mercurius target is judged on (by incident count; 0 is the embedded seed).
MERCURIUS_STORES = (0, 10_000, 100_000)


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------
# HTTP


class Client:
    """One keep-alive connection to a server on the loopback interface."""

    def __init__(self, port, timeout=60):
        self.port = port
        self.timeout = timeout
        self.connection = None

    def request(self, method, path, body=None):
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            try:
                headers = {"Accept": "application/json"}
                if body is not None:
                    headers["Content-Type"] = "application/json"
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def graphql(self, body):
        if isinstance(body, str):
            body = body.encode()
        return self.request("POST", "/graphql", body)

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def port_of(url):
    parsed = urllib.parse.urlparse(url)
    if parsed.hostname != HOST:
        raise Failure(f"{url}: only {HOST} is allowed")
    return parsed.port


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by run.sh) is not serving.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def memory_kib(pid):
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


# ---------------------------------------------------------------------------------------
# wait


def wait(args):
    """The server listens (run.sh saw its port open after --listening-us): check it
    answers, and time the first answer to --body's first request when given. A server
    that listens before its data is ready (the Node peer may) answers /healthz with
    something else than 200 until it is: /healthz is polled for up to --timeout s, and
    that wait, when there is one, counts in the time to ready."""
    client = Client(port_of(args.url), timeout=60)
    seconds = args.listening_us / 1e6
    started = time.perf_counter()
    polls = 0
    while True:
        if not alive(args.pid):
            raise Failure(f"the server (pid {args.pid}) is not running")
        polls += 1
        try:
            status, _ = client.request("GET", "/healthz")
        except (OSError, http.client.HTTPException) as problem:
            status = f"no answer ({problem})"
            client.close()
        if status == 200:
            break
        if time.perf_counter() - started > args.timeout:
            raise Failure(f"/healthz answered {status}, not 200, for {args.timeout} s")
        time.sleep(0.02)
    if polls > 1:
        seconds += time.perf_counter() - started
    if args.body:
        with open(args.body) as lines:
            body = next(line.strip() for line in lines if line.strip())
        # A new connection, as a first client's would be.
        client.close()
        started = time.perf_counter()
        status, answer = client.graphql(body)
        seconds += time.perf_counter() - started
        if status != 200 or not no_errors(answer):
            raise Failure(f"the first query failed ({status}): {answer[:300]!r}")
    rss, hwm = memory_kib(args.pid)
    print(json.dumps({"seconds": round(seconds, 4), "rss_kib": rss, "hwm_kib": hwm}))


def no_errors(answer):
    try:
        parsed = json.loads(answer)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "errors" not in parsed and parsed.get("data") is not None


# ---------------------------------------------------------------------------------------
# sample: the request bodies


SAMPLE_QUERY = """
query Sample($after: String) {
  countries(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id code name
      agreements(first: 3) { totalCount nodes { id title } }
      facilities(first: 3) { nodes { id name } }
      incidents(first: 2) { totalCount nodes { id title } }
    }
  }
}
"""

SAMPLE_MORE = """
{
  organizations(first: 20) { nodes { id name } }
  people(first: 20) { nodes { id name } }
  agreements(first: 50) { nodes { id title } }
  facilities(last: 50) { nodes { id name } }
  incidents(last: 50) { nodes { id title } }
  earliest: incidents(first: 20, occurred: {from: "1000"}) {
    nodes { occurredBounds { earliest latest precision } }
  }
  latest: incidents(first: 20, occurred: {from: "1000"}, orderBy: {field: OCCURRED, direction: DESC}) {
    nodes { occurredBounds { earliest latest precision } }
  }
}
"""


def run_query(client, query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}})
    status, answer = client.graphql(body)
    parsed = json.loads(answer)
    if status != 200 or "errors" in parsed:
        raise Failure(f"the sampling query failed ({status}): {answer[:500]!r}")
    return parsed["data"]


def sample(args):
    client = Client(port_of(args.url))
    countries = []
    after = None
    while True:
        page = run_query(client, SAMPLE_QUERY, {"after": after})["countries"]
        countries.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"] or len(countries) >= 1000:
            break
        after = page["pageInfo"]["endCursor"]
    more = run_query(client, SAMPLE_MORE)

    # Real global ids of every kind, spread over the countries and both ends of the lists.
    ids, texts = [], []
    for country in countries:
        ids.append(country["id"])
        texts.append(country["name"])
        for list_name, text_field in (("agreements", "title"), ("facilities", "name"), ("incidents", "title")):
            for node in country[list_name]["nodes"]:
                ids.append(node["id"])
                texts.append(node[text_field])
    for list_name, text_field in (
        ("organizations", "name"),
        ("people", "name"),
        ("agreements", "title"),
        ("facilities", "name"),
        ("incidents", "title"),
    ):
        for node in more[list_name]["nodes"]:
            ids.append(node["id"])
            texts.append(node[text_field])
    shuffle = random.Random(args.seed)
    ids = unique(ids)
    shuffle.shuffle(ids)
    ids = ids[: args.max_ids]
    # Search for names as people type them: the first three words of a name or title.
    texts = unique(" ".join(text.split()[:3]) for text in texts if re.search(r"\w\w", text))
    shuffle.shuffle(texts)
    texts = texts[: args.max_texts]

    # The country with the most agreements (then incidents) fills (c)'s pages best.
    largest = max(
        countries,
        key=lambda c: (c["agreements"]["totalCount"], c["incidents"]["totalCount"], c["code"]),
    )

    # Date ranges over the years the incidents span (from the oldest and newest dates known
    # to a year or better; open intervals and decades say little): one per year, the whole
    # year or its second quarter in turn.
    def years(nodes, bound):
        found = []
        for node in nodes:
            bounds = node["occurredBounds"]
            if bounds and bounds["precision"] != "DECADE" and bounds[bound]:
                found.append(int(bounds[bound][:4]))
        return found

    low = min(years(more["earliest"]["nodes"], "earliest"), default=None)
    high = max(years(more["latest"]["nodes"], "latest"), default=None)
    if low is None or high is None or low > high:
        low = high = 2012
    ranges = []
    for y in range(low, high + 1):
        if y % 2:
            ranges.append({"from": f"{y:04d}-04", "to": f"{y:04d}-06"})
        else:
            ranges.append({"from": f"{y:04d}", "to": f"{y:04d}"})
    shuffle.shuffle(ranges)

    texts_of = {}
    for letter in QUERIES:
        with open(os.path.join(args.queries, QUERY_FILES[letter])) as file:
            texts_of[letter] = file.read()
    bodies = {
        "b": [{"query": texts_of["b"], "variables": {"id": id_}} for id_ in ids],
        "c": [{"query": texts_of["c"], "variables": {"code": largest["code"]}}],
        "d": [{"query": texts_of["d"], "variables": window} for window in ranges],
        "e": [{"query": texts_of["e"], "variables": {"text": text}} for text in texts],
    }
    if args.seed_tree:
        bodies["a"] = [{"query": texts_of["a"]}]
    os.makedirs(args.out, exist_ok=True)
    for letter, items in bodies.items():
        with open(os.path.join(args.out, f"{letter}.jsonl"), "w") as out:
            for item in items:
                out.write(json.dumps(item, separators=(",", ":")) + "\n")
    summary = {
        "countries": len(countries),
        "largest_country": largest["code"],
        "largest_agreements": largest["agreements"]["totalCount"],
        "ids": len(ids),
        "texts": len(texts),
        "years": [low, high],
        "ranges": len(ranges),
        "queries": sorted(bodies),
    }
    with open(os.path.join(args.out, "sample.json"), "w") as out:
        json.dump(summary, out, indent=1)
    print(
        f"  sampled {len(ids)} ids, {len(texts)} search texts, {len(ranges)} date ranges "
        f"({low}-{high}); (c) asks for country {largest['code']} "
        f"({largest['agreements']['totalCount']} agreements)"
    )


def unique(items):
    seen = set()
    kept = []
    for item in items:
        if item not in seen:
            seen.add(item)
            kept.append(item)
    return kept


# ---------------------------------------------------------------------------------------
# check


def check(args):
    client = Client(port_of(args.url))
    letters = [q for q in QUERIES if os.path.exists(os.path.join(args.bodies, f"{q}.jsonl"))]
    if not letters:
        raise Failure(f"no request bodies in {args.bodies}")
    os.makedirs(args.reference, exist_ok=True)
    ceiling = []
    problems = []
    for letter in letters:
        with open(os.path.join(args.bodies, f"{letter}.jsonl")) as lines:
            bodies = [line.rstrip("\n") for line in lines if line.strip()]
        reference_path = os.path.join(args.reference, f"{letter}.jsonl")
        reference = {}
        if not args.capture:
            with open(reference_path) as lines:
                for line in lines:
                    captured = json.loads(line)
                    reference[captured["body"]] = json.loads(captured["response"])
        captured = []
        total_bytes = 0
        # With --passes 2, every body twice: a server that compiles a query after its first
        # use (mercurius with graphql-jit) answers the second from the compiled code.
        for sent, body in enumerate(bodies * args.passes):
            status, answer = client.graphql(body)
            if sent < len(bodies):
                total_bytes += len(answer)
            problem = judge(letter, status, answer)
            if problem is None and not args.capture:
                expected = reference.get(body)
                if expected is None:
                    problem = "no reference answer for this body"
                elif json.loads(answer) != expected:
                    problem = "the answer differs from the real server's: " + first_difference(
                        expected, json.loads(answer)
                    )
            if problem is not None:
                attempt = "" if sent < len(bodies) else " (sent again)"
                problems.append(f"{args.server} {QUERY_NAMES[letter]}{attempt}: {problem}; body {body[:200]}")
                if len(problems) >= 10:
                    break
            if sent < len(bodies):
                captured.append({"body": body, "response": answer.decode()})
        if args.capture:
            with open(reference_path, "w") as out:
                for item in captured:
                    out.write(json.dumps(item) + "\n")
            ceiling.extend(captured)
            if letter == "c" and captured and args.results:
                append(args.results, {"type": "shape", "store": args.store, **page_shape(captured[0]["response"])})
        print(
            f"  {args.server:<13} {QUERY_NAMES[letter]:<16} {len(bodies):>4} bodies"
            + (f" x {args.passes}" if args.passes > 1 else "")
            + f", {total_bytes / max(len(bodies), 1):>9,.0f} bytes an answer: "
            + ("ok" if not problems else "FAILED")
        )
        if problems:
            break
    if args.capture:
        with open(os.path.join(args.reference, "ceiling.jsonl"), "w") as out:
            for item in ceiling:
                out.write(json.dumps(item) + "\n")
    if problems:
        raise Failure("wrong answers:\n    " + "\n    ".join(problems))


def page_shape(answer):
    """How many records each level of query (c)'s answer holds (at most 10, 100, 1,000)."""
    country = json.loads(answer)["data"]["country"] or {}
    agreements = country.get("agreements", {}).get("nodes", [])
    facilities = [f for a in agreements for f in a["facilities"]["nodes"]]
    incidents = [i for f in facilities for i in f["incidents"]["nodes"]]
    return {"agreements": len(agreements), "facilities": len(facilities), "incidents": len(incidents)}


def judge(letter, status, answer):
    """Why an answer is wrong, or None."""
    if status != 200:
        return f"HTTP {status}: {answer[:300]!r}"
    try:
        parsed = json.loads(answer)
    except ValueError:
        return f"not JSON: {answer[:300]!r}"
    if not isinstance(parsed, dict):
        return "not a JSON object"
    if "errors" in parsed:
        return f"errors: {json.dumps(parsed['errors'])[:300]}"
    data = parsed.get("data")
    if not isinstance(data, dict) or not data:
        return "no data"
    empty = [field for field, value in data.items() if value is None]
    if empty:
        return f"null {', '.join(empty)}"
    if letter == "e" and not data["search"]["totalCount"]:
        return "the search found nothing"
    return None


def first_difference(expected, actual, path="answer"):
    if type(expected) is not type(actual):
        return f"at {path}: {json.dumps(expected)[:120]} vs {json.dumps(actual)[:120]}"
    if isinstance(expected, dict):
        for key in list(expected) + [k for k in actual if k not in expected]:
            if key not in expected or key not in actual:
                return f"at {path}: key {key!r} only in one"
            if expected[key] != actual[key]:
                return first_difference(expected[key], actual[key], f"{path}.{key}")
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return f"at {path}: {len(expected)} items vs {len(actual)}"
        for index, (left, right) in enumerate(zip(expected, actual)):
            if left != right:
                return first_difference(left, right, f"{path}[{index}]")
    return f"at {path}: {json.dumps(expected)[:120]} vs {json.dumps(actual)[:120]}"


# ---------------------------------------------------------------------------------------
# agree: other servers' answers against a reference server's (compare.sh)


def agree(args):
    """Every body of --bodies to the --reference server and to each --check and --warn
    server: an answer of a --check server that is not the reference's (as parsed JSON,
    with the same HTTP status) stops at once; a --warn server's difference is reported,
    once, and the check goes on. Every body is sent twice. With --capture, the reference's answers are written
    there as JSON lines `{"body", "response"}`, the bare ceiling's input."""
    with open(args.bodies) as lines:
        bodies = [line.rstrip("\n") for line in lines if line.strip()]
    if not bodies:
        raise Failure(f"no request bodies in {args.bodies}")
    reference = args.reference
    reference_client = Client(port_of(reference["url"]))
    others = [(server, True) for server in args.check] + [(server, False) for server in args.warn]
    clients = {server["name"]: Client(port_of(server["url"])) for server, _ in others}
    differed = set()
    captured = []
    # Every body twice: mercurius compiles a query (graphql-jit) after its first use, so
    # the second answer comes from the compiled code.
    for sent, body in enumerate(bodies * 2):
        status, answer = reference_client.graphql(body)
        if status != 200 or not no_errors(answer):
            raise Failure(f"{reference['name']} failed a body ({status}): {answer[:300]!r}; body {body[:200]}")
        if sent < len(bodies):
            captured.append({"body": body, "response": answer.decode()})
        expected = json.loads(answer)
        for server, strict in others:
            if server["name"] in differed:
                continue
            other_status, other_answer = clients[server["name"]].graphql(body)
            try:
                actual = json.loads(other_answer)
            except ValueError:
                actual = None
            if other_status == status and actual == expected:
                continue
            if other_status != status or actual is None:
                problem = f"HTTP {other_status}: {other_answer[:300]!r}"
            else:
                problem = first_difference(expected, actual)
            message = f"{server['name']} answers differently from {reference['name']}: {problem}; body {body[:200]}"
            if strict:
                raise Failure(message)
            print(f"  note: {message}", file=sys.stderr)
            differed.add(server["name"])
    for server, strict in others:
        if server["name"] not in differed:
            print(f"  {server['name']}: the same answers as {reference['name']} to all {len(bodies)} bodies, sent twice")
    if args.capture:
        with open(args.capture, "w") as out:
            for item in captured:
                out.write(json.dumps(item) + "\n")


# ---------------------------------------------------------------------------------------
# node-setup: the mercurius peer's Node.js and packages

NODE_MAJOR = 20
UNAVAILABLE = 3  # node-setup's exit status when the peer cannot run here (no Node 20, no server)


def node_setup(args):
    """Checks the mercurius server can run (its server.js, Node.js >= 20, npm) and that its
    node_modules holds what package-lock.json pins: `npm ci` when node_modules is missing
    or older than the lock (npm's own record of its last install, node_modules/.package-lock.json,
    is older than package-lock.json or package.json).
    Prints the versions as JSON; when Node, npm or the server is missing, the reason as
    JSON (`{"unavailable": ...}`), and exits with UNAVAILABLE."""
    directory = os.path.abspath(args.dir)
    server = os.path.join(directory, "server.js")
    lock = os.path.join(directory, "package-lock.json")

    def unavailable(reason):
        print(json.dumps({"unavailable": reason}))
        sys.exit(UNAVAILABLE)

    if not os.path.isfile(server):
        unavailable(f"no {server}")
    node = shutil.which("node")
    if node is None:
        unavailable(f"Node.js {NODE_MAJOR} or later is needed, and there is no `node` on PATH "
                    "(Debian: apt-get install nodejs npm; or https://nodejs.org)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < NODE_MAJOR:
        unavailable(f"Node.js {NODE_MAJOR} or later is needed, found {version or 'an unknown version'} at {node}")
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is needed to install the mercurius server's packages, and there is no `npm` on PATH")
    if not os.path.isfile(lock):
        raise Failure(f"no {lock}: the mercurius server's packages must be pinned by a lock file")
    # npm writes node_modules/.package-lock.json at the end of every install: one older
    # than the lock (or package.json), or none, means node_modules is not what is pinned.
    installed = os.path.join(directory, "node_modules", ".package-lock.json")
    newest = max(os.path.getmtime(lock), os.path.getmtime(os.path.join(directory, "package.json")))
    if not os.path.isfile(installed) or os.path.getmtime(installed) < newest:
        print(f"installing the mercurius server's locked packages: npm ci in {directory}", file=sys.stderr)
        try:
            finished = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=directory, stdout=sys.stderr, timeout=900
            )
        except subprocess.TimeoutExpired:
            raise Failure("npm ci did not finish within 900 s")
        if finished.returncode != 0:
            raise Failure(f"npm ci failed (exit {finished.returncode}) in {directory}")
    with open(lock) as file:
        packages = json.load(file).get("packages", {})
    print(json.dumps({
        "node": version,
        "mercurius": packages.get("node_modules/mercurius", {}).get("version", "?"),
        "graphql_jit": packages.get("node_modules/graphql-jit", {}).get("version", "?"),
        "fastify": packages.get("node_modules/fastify", {}).get("version", "?"),
    }))


# ---------------------------------------------------------------------------------------
# load


def run_wrk(args, url, seconds, log):
    command = [
        "taskset", "-c", str(args.cpu),
        "wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s",
        f"--timeout={args.request_timeout}s", "--latency",
        "-s", args.lua, url.rstrip("/") + "/graphql",
    ]
    environment = dict(os.environ, BODIES=os.path.abspath(args.bodies))
    log.write("$ " + " ".join(command) + "\n")
    log.flush()
    # wrk's own CPU time (taskset execs it, so it is the child waited for): near its
    # duration, wrk and not the server may bound the req/s.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        finished = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=seconds + 60
        )
    except subprocess.TimeoutExpired:
        raise Failure(f"wrk did not finish within {seconds + 60} s")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu_us = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e6
    log.write(finished.stdout + finished.stderr + "\n")
    log.flush()
    if finished.returncode != 0:
        raise Failure(f"wrk failed ({finished.returncode}): {finished.stderr.strip()[:500]}")
    lines = [line for line in finished.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise Failure(f"wrk printed no results: {finished.stdout[-500:]}")
    return {**json.loads(lines[-1]), "wrk_cpu_us": wrk_cpu_us}


def cpu_seconds(pid):
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(pid, limit):
    """Waits (at most `limit` s) until the server uses at most a tenth of a CPU over 0.1 s:
    requests wrk gave up on may still be running (a resolver that does not yield cannot
    be cancelled), and must not eat into the next run. Returns the seconds waited."""
    started = time.monotonic()
    before = cpu_seconds(pid)
    while time.monotonic() - started < limit:
        time.sleep(0.1)
        if not alive(pid):
            raise Failure(f"the server (pid {pid}) died")
        after = cpu_seconds(pid)
        # One clock tick (usually 10 ms) or less.
        if after - before <= 1.01 / os.sysconf("SC_CLK_TCK"):
            break
        before = after
    return time.monotonic() - started


# What wrk counts, and the server's CPU time while wrk ran, summed over a case's rounds.
SUMMED = (
    "requests", "duration_us", "bytes", "connect_errors", "read_errors", "write_errors", "non_2xx", "timeouts",
    "cpu_us", "wrk_cpu_us",
)


def target(text):
    """`--target NAME,URL,PID`: one server of the case."""
    try:
        name, url, pid = text.split(",")
        return {"name": name, "url": url, "pid": int(pid)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"not NAME,URL,PID: {text}")


def named_url(text):
    """`NAME,URL`: a server to check."""
    name, comma, url = text.partition(",")
    if not comma or not name or not url:
        raise argparse.ArgumentTypeError(f"not NAME,URL: {text}")
    return {"name": name, "url": url}


def load(args):
    """One query on every server given, interleaved: each server's warm-up, then
    `--rounds` rounds in which every server runs `--duration` s in turn, the order turned
    by one each round. A server that runs a minute after another meets a different
    machine (it is shared); in rounds of a few seconds, every server meets the same
    one, so the ratios between them hold even when the machine's speed moves."""
    targets = args.target
    for server in targets:
        if not alive(server["pid"]):
            raise Failure(f"the {server['name']} server (pid {server['pid']}) is not running")
    with open(args.bodies) as lines:
        bodies = sum(1 for line in lines if line.strip())
    logs = {
        server["name"]: open(os.path.join(args.logs, f"wrk-{args.store}-{server['name']}-{args.query}.log"), "a")
        for server in targets
    }
    rounds = {server["name"]: [] for server in targets}
    try:
        for server in targets:
            drain(server["pid"], args.drain_limit)
            if args.warmup > 0:
                run_wrk(args, server["url"], args.warmup, logs[server["name"]])
                drain(server["pid"], args.drain_limit)
        for turn in range(args.rounds):
            shift = turn % len(targets)
            for server in targets[shift:] + targets[:shift]:
                cpu_before = cpu_seconds(server["pid"])
                result = run_wrk(args, server["url"], args.duration, logs[server["name"]])
                result["cpu_us"] = (cpu_seconds(server["pid"]) - cpu_before) * 1e6
                if not alive(server["pid"]):
                    raise Failure(f"the {server['name']} server (pid {server['pid']}) died under load")
                # Before waiting for the server to go idle: the RSS of a server under load.
                rss, hwm = memory_kib(server["pid"])
                busy_after = drain(server["pid"], args.drain_limit)
                rounds[server["name"]].append({**result, "rss_kib": rss, "hwm_kib": hwm, "busy_after_s": busy_after})
    finally:
        for log in logs.values():
            log.close()
    for server in targets:
        record = combine(rounds[server["name"]])
        record.update({
            "type": "load",
            "store": args.store,
            "server": server["name"],
            "query": args.query,
            "bodies": bodies,
        })
        append(args.results, record)
        busy = record["busy_after_s"]
        print(
            f"  {server['name']:<13} {QUERY_NAMES.get(args.query, args.query):<16} {record['rps']:>9,.0f} req/s  "
            f"p50 {record['p50_us'] / 1000:>7.2f} ms  p99 {record['p99_us'] / 1000:>7.2f} ms  "
            f"RSS {record['rss_kib'] / 1024:>6.1f} MiB  CPU {record['cpu_us_per_request']:>6.1f} µs/req  "
            f"(server {record['cpu_share']:.0%}, wrk {record['wrk_cpu_share']:.0%} of a CPU)  errors {record['errors']}"
            + (f"  rounds {spread(record)}" if len(record["rounds"]) > 1 else "")
            + (f"  (busy {busy:.0f} s after wrk stopped)" if busy >= 1 else "")
        )


def combine(rounds):
    """One case's record from its rounds: counts summed (so req/s is every request over
    every measured second), latency percentiles the median of the rounds' (wrk gives no
    histogram to merge), the mean weighted by requests, RSS after the last round."""
    total = {key: sum(r[key] for r in rounds) for key in SUMMED}
    seconds = total["duration_us"] / 1e6
    requests = total["requests"]
    last = rounds[-1]
    return {
        **total,
        "rps": requests / seconds if seconds else 0.0,
        "cpu_us_per_request": total["cpu_us"] / requests if requests else 0.0,
        # The share of one CPU the server and wrk used while wrk ran.
        "cpu_share": total["cpu_us"] / total["duration_us"] if total["duration_us"] else 0.0,
        "wrk_cpu_share": total["wrk_cpu_us"] / total["duration_us"] if total["duration_us"] else 0.0,
        "errors": sum(total[key] for key in ("connect_errors", "read_errors", "write_errors", "non_2xx", "timeouts")),
        "p50_us": statistics.median(r["p50_us"] for r in rounds),
        "p90_us": statistics.median(r["p90_us"] for r in rounds),
        "p99_us": statistics.median(r["p99_us"] for r in rounds),
        "mean_us": sum(r["mean_us"] * r["requests"] for r in rounds) / requests if requests else 0.0,
        "max_us": max(r["max_us"] for r in rounds),
        "rss_kib": last["rss_kib"],
        "hwm_kib": max(r["hwm_kib"] for r in rounds),
        "bytes_per_answer": total["bytes"] / requests if requests else 0,
        "busy_after_s": round(max(r["busy_after_s"] for r in rounds), 1),
        "rounds": [
            {
                "rps": r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0,
                "cpu_us_per_request": r["cpu_us"] / r["requests"] if r["requests"] else 0.0,
                "p50_us": r["p50_us"],
                "p99_us": r["p99_us"],
            }
            for r in rounds
        ],
    }


def spread(record):
    """The rounds' lowest and highest req/s as percentages of the case's."""
    rates = [r["rps"] for r in record.get("rounds", [])]
    if len(rates) < 2 or not record["rps"]:
        return "-"
    return f"{min(rates) / record['rps'] * 100 - 100:+.0f}%/{max(rates) / record['rps'] * 100 - 100:+.0f}%"


def compare(args):
    """Each loaded server's req/s and CPU time per request, rounds and means, with the
    means' ratios to the first server's."""
    with open(args.results) as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    records = [record for record in records if record.get("type") == "load"]
    if not records:
        raise Failure(f"no load records in {args.results}")
    first = records[0]

    def ratio(value, key):
        return f"{value / first[key]:.2f}x" if first[key] else "-"

    for record in records:
        rounds = "  ".join(
            f"{r['rps']:,.0f}/{r['cpu_us_per_request']:.1f}" for r in record["rounds"]
        )
        print(f"{record['server']:<9} rounds (req/s / µs CPU a request): {rounds}")
    print()
    for record in records:
        print(
            f"{record['server']:<9} {record['rps']:>9,.0f} req/s ({ratio(record['rps'], 'rps')})  "
            f"{record['cpu_us_per_request']:>6.1f} µs CPU a request "
            f"({ratio(record['cpu_us_per_request'], 'cpu_us_per_request')})  "
            f"p50 {record['p50_us'] / 1000:.2f} ms  errors {record['errors']}"
        )



def append(path, record):
    with open(path, "a") as out:
        out.write(json.dumps(record) + "\n")


# Notes that are text whatever they look like: a short commit hash can read as a number
# (`49531e5` did, as 4953100000.0).
TEXT_NOTES = {"commit", "date", "cpu", "kernel", "rustc", "wrk", "node", "mercurius", "graphql_jit", "fastify"}


def note(args):
    record = {}
    for pair in args.pairs:
        key, _, value = pair.partition("=")
        record[key] = value if key in TEXT_NOTES else parse_value(value)
    if args.pid:
        record["rss_kib"], record["hwm_kib"] = memory_kib(args.pid)
    if args.json:
        record.update(json.loads(args.json))
    append(args.results, record)


def parse_value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    return text


# ---------------------------------------------------------------------------------------
# report


def report(args):
    records = []
    with open(args.results) as lines:
        for line in lines:
            if line.strip():
                records.append(json.loads(line))
    machine = next((r for r in records if r["type"] == "machine"), {})
    end = next((r for r in records if r["type"] == "end"), {})
    stores = [r for r in records if r["type"] == "store"]
    by_type = {}
    for record in records:
        by_type.setdefault(record["type"], []).append(record)

    def one(kind, store, **match):
        for record in by_type.get(kind, []):
            if record.get("store") == store and all(record.get(k) == v for k, v in match.items()):
                return record
        return None

    def loads(store):
        return [r for r in by_type.get("load", []) if r["store"] == store]

    def imports(store):
        return [r for r in by_type.get("import", []) if r["store"] == store and r["seconds"]]

    text, markdown = [], []

    def both(line, md=None):
        text.append(line)
        markdown.append(line if md is None else md)

    title = f"kyrgyz-relations load benchmark ({machine.get('mode', 'full')} run)"
    text.append("=" * len(title))
    text.append(title)
    text.append("=" * len(title))
    markdown.append(f"## {title}")
    markdown.append("")
    facts = [
        f"date {machine.get('date')}, commit {machine.get('commit')}"
        + (" (with uncommitted changes)" if machine.get("dirty") else ""),
        f"machine: {machine.get('nproc')} CPUs ({machine.get('cpu')}), {machine.get('mem_gib')} GiB RAM, "
        f"Linux {machine.get('kernel')}; load average {machine.get('loadavg')} at the start, "
        f"{end.get('loadavg', '?')} at the end",
        f"build: {machine.get('profile')} profile, {machine.get('rustc')}; load: {machine.get('wrk')}, "
        f"-t1 -c{machine.get('connections')}; per query, each server's {machine.get('warmup')} s warm-up, "
        f"then {rounds_text(machine)}; server on CPU {machine.get('server_cpu')}, "
        f"wrk on CPU {machine.get('load_cpu')} (a first start, with no load, on every CPU); "
        f"RUST_LOG={machine.get('rust_log')}",
    ]
    if end.get("seconds"):
        facts.append(f"the whole run took {end['seconds'] / 60:.1f} min")
    for fact in facts:
        text.append(fact)
        markdown.append(f"- {fact}")
    cache = machine.get("cache_flag")
    peer = next((r for r in records if r["type"] == "peer"), None)
    peer_text = (
        f"mercurius {peer.get('mercurius')} with graphql-jit {peer.get('graphql_jit')} on fastify "
        f"{peer.get('fastify')}, Node.js {peer.get('node')}, NODE_ENV=production"
        if peer else "mercurius with graphql-jit on Node.js"
    )
    facts = [
        "servers: real = kyrgyz-relations with its default flags"
        + (" (response cache on)" if cache else " (this build has no response cache)")
        + "; real-nocache = the same with --response-cache-mib 0; bare = the real server's "
        "answers replayed from memory by request body by plain axum, none of our layers (the "
        f"bare ceiling); mercurius = {peer_text}, the same seed in memory "
        "(bench/servers/mercurius, pinned by its package-lock.json); diagnostics: ceiling = the "
        "same replay behind the real server's HTTP layers and accept loop, baseline = the same "
        "schema over the seed in plain Vecs, one resolver per field, behind the same layers; "
        "every server's answers equal the real server's, checked before the load",
        "req/s and latency from wrk (closed loop: each connection waits for its answer); CPU "
        "µs/req is the server's user + system time while wrk ran ÷ its requests; RSS is VmRSS "
        "after the case, peak is VmHWM of the server process so far",
    ]
    for fact in facts:
        text.append(fact)
        markdown.append(f"- {fact}")
    for skip in by_type.get("skip", []):
        line = f"SKIPPED {skip.get('server')}: {skip.get('reason')}"
        text.append(line)
        markdown.append(f"- **{line}**")
    text.append("")
    markdown.append("")

    for store in stores:
        name = store["store"]
        label = store.get("label", name)
        text.append(f"--- store {name}: {label} ---")
        markdown.append(f"### Store {name}: {label}")
        markdown.append("")
        store_lines = []
        imported = one("import", name)
        if imported:
            rate = imported["records"] / imported["seconds"] if imported["seconds"] else 0
            entries = imported.get("index_entries") or 0
            store_lines.append(
                f"first start (validate + import): {imported['seconds']:.2f} s for "
                f"{imported['records']:,} records and {entries:,} index entries: "
                f"{rate:,.0f} records/s, {(imported['records'] + entries) / imported['seconds']:,.0f} "
                f"entries/s; peak RSS {imported['hwm_kib'] / 1024:,.1f} MiB"
            )
            again = [r for r in imports(name) if r is not imported]
            if again:
                store_lines.append(
                    "first start again: "
                    + ", ".join(
                        f"{r['seconds']:.2f} s ({r['records'] / r['seconds']:,.0f} records/s, "
                        f"peak RSS {r['hwm_kib'] / 1024:,.1f} MiB)"
                        for r in again
                    )
                )
        logical = one("logical", name)
        for disk in [r for r in by_type.get("disk", []) if r["store"] == name]:
            line = f"disk ({disk['phase']}): {disk['bytes'] / 2**20:,.1f} MiB"
            if logical and logical.get("bytes"):
                line += (
                    f" = {disk['bytes'] / logical['bytes']:.2f}x the logical "
                    f"{logical['bytes'] / 2**20:,.1f} MiB of keys and values "
                    f"({logical['entries']:,} entries)"
                )
            store_lines.append(line)
        shape = one("shape", name)
        if shape:
            store_lines.append(
                f"(c)'s answer holds {shape['agreements']} agreements, {shape['facilities']} facilities "
                f"and {shape['incidents']} incidents (full pages: 10, 100, 1,000)"
            )
        reopen = one("reopen", name)
        if reopen:
            store_lines.append(
                f"reopen and first answer to (c): {reopen['seconds'] * 1000:,.0f} ms "
                f"(RSS then {reopen['rss_kib'] / 1024:,.1f} MiB)"
            )
        for start in [r for r in by_type.get("start", []) if r["store"] == name]:
            store_lines.append(
                f"{start['server']} ready in {start['seconds']:.2f} s, RSS {start['rss_kib'] / 1024:,.1f} MiB"
            )
        for line in store_lines:
            text.append(line)
            markdown.append(f"- {line}")
        markdown.append("")

        rows = loads(name)
        if rows:
            in_rounds = (machine.get("rounds") or 1) > 1
            header = ["query", "server", "req/s"]
            if in_rounds:
                header.append("rounds")
            header += ["p50 ms", "p99 ms", "CPU µs/req", "RSS MiB", "peak MiB", "errors", "bytes/answer", "bodies"]
            table = []
            for letter in QUERIES:
                for server in SERVERS:
                    row = next((r for r in rows if r["query"] == letter and r["server"] == server), None)
                    if row is None:
                        continue
                    cells = [QUERY_NAMES[letter], server, f"{row['rps']:,.0f}"]
                    if in_rounds:
                        cells.append(spread(row))
                    cpu = row.get("cpu_us_per_request")
                    cells += [
                        f"{row['p50_us'] / 1000:.2f}", f"{row['p99_us'] / 1000:.2f}",
                        f"{cpu:,.1f}" if cpu is not None else "-",
                        f"{row['rss_kib'] / 1024:,.1f}", f"{row['hwm_kib'] / 1024:,.1f}", str(row["errors"]),
                        f"{row['bytes_per_answer']:,.0f}", str(row["bodies"]),
                    ]
                    table.append(cells)
            emit_table(text, markdown, header, table)
            busy = [r for r in rows if r.get("busy_after_s", 0) >= 1]
            if busy:
                line = "still busy after wrk stopped (requests wrk gave up on), waited before the next case: " + ", ".join(
                    f"{r['server']} {QUERY_NAMES[r['query']]} {r['busy_after_s']:.0f} s" for r in busy
                )
                text.append(line)
                markdown.append("")
                markdown.append(line)
            bound = [r for r in rows if r.get("wrk_cpu_share", 0) >= WRK_BOUND]
            if bound:
                line = (
                    f"wrk used ≥ {WRK_BOUND:.0%} of its CPU (the load generator, not the server alone, may "
                    "bound these req/s; server's CPU share in brackets): " + ", ".join(
                        f"{r['server']} {QUERY_NAMES[r['query']]} {r['wrk_cpu_share']:.0%} ({r['cpu_share']:.0%})"
                        for r in bound
                    )
                )
                text.append(line)
                markdown.append("")
                markdown.append(line)
            starved = [
                r for r in rows
                if "wrk_cpu_share" in r and r["cpu_share"] < STARVED and r["wrk_cpu_share"] < STARVED
            ]
            if starved:
                line = (
                    f"neither the server nor wrk used {STARVED:.0%} of its CPU (so something else on the "
                    "machine had them; these req/s say little, CPU µs/req more): " + ", ".join(
                        f"{r['server']} {QUERY_NAMES[r['query']]} ({r['cpu_share']:.0%}, wrk {r['wrk_cpu_share']:.0%})"
                        for r in starved
                    )
                )
                text.append(line)
                markdown.append("")
                markdown.append(line)
            ratio_rows = []
            for letter in QUERIES:
                get = lambda server: next((r for r in rows if r["query"] == letter and r["server"] == server), None)
                real, nocache = get("real"), get("real-nocache")
                if not real:
                    continue
                off = nocache or (real if not machine.get("cache_flag") else None)
                stand_in = "" if nocache or not off else " (no cache in binary)"
                mercurius = get("mercurius")
                ratio_rows.append([
                    QUERY_NAMES[letter],
                    ratio(real, get("bare")),
                    ratio(off, mercurius) + (stand_in if mercurius else ""),
                    cpu_ratio(off, mercurius),
                    ratio(real, get("ceiling")),
                    ratio(off, get("baseline")) + (stand_in if get("baseline") else ""),
                    ratio(real, nocache),
                ])
            text.append("")
            markdown.append("")
            on = "cache on" if cache else "real"
            judged = store.get("incidents") in MERCURIUS_STORES
            emit_table(
                text, markdown,
                [
                    "query",
                    f"{on} ÷ bare (≥ {BARE_TARGET})",
                    "off ÷ mercurius" + (f" (≥ {MERCURIUS_TARGET})" if judged else ""),
                    "CPU/req off ÷ mercurius" + (" (< 1)" if judged else ""),
                    f"{on} ÷ ceiling",
                    "off ÷ baseline",
                    "on ÷ off",
                ],
                ratio_rows,
            )
            line = (
                "ratios of req/s (of CPU time a request for CPU/req); on = cache on (`real`), off = "
                "cache off (`real-nocache`); ÷ ceiling (the layered ceiling) and ÷ baseline (the naive "
                "in-memory server) are diagnostics, not judged"
                + ("" if judged else "; the mercurius target is judged on the seed, 10k and 100k stores only")
            )
            text.append(line)
            markdown.append("")
            markdown.append(line)
        text.append("")
        markdown.append("")

    # Across store sizes: query (c)'s p50 latency on the default server.
    synthetic = [s for s in stores if s.get("incidents")]
    scale_rows = []
    for store in synthetic:
        row = next((r for r in loads(store["store"]) if r["query"] == "c" and r["server"] == "real"), None)
        nocache = next((r for r in loads(store["store"]) if r["query"] == "c" and r["server"] == "real-nocache"), None)
        shape = one("shape", store["store"])
        scale_rows.append([
            f"{store['incidents']:,}",
            f"{row['p50_us'] / 1000:.2f}" if row else "-",
            f"{row['p99_us'] / 1000:.2f}" if row else "-",
            f"{nocache['p50_us'] / 1000:.2f}" if nocache else "-",
            f"{nocache['p99_us'] / 1000:.2f}" if nocache else "-",
            f"1+{shape['agreements']}+{shape['facilities']}+{shape['incidents']}" if shape else "-",
        ])
    if scale_rows:
        text.append("--- (c) nested page by store size ---")
        markdown.append("### Query (c) by store size")
        markdown.append("")
        emit_table(
            text, markdown,
            ["incidents", ("cache on" if machine.get("cache_flag") else "real") + " p50 ms", "p99 ms",
             "cache off p50 ms", "p99 ms", "(c) records"],
            scale_rows,
        )
        text.append("")
        markdown.append("")

    targets, summary = target_rows(stores, synthetic, loads, one, imports, machine)
    if targets:
        text.append("--- targets ---")
        markdown.append("### Targets")
        markdown.append("")
        emit_table(text, markdown, ["target", "measured", "result"], targets)
        for line in summary:
            text.append(line)
        if summary:
            markdown.append("")
            markdown.extend(f"- {line}" for line in summary)
        text.append("")
        markdown.append("")

    print("\n".join(text))
    with open(args.markdown, "w") as out:
        out.write("\n".join(markdown) + "\n")
    print(f"Markdown: {args.markdown}")


def rounds_text(machine):
    """How each case was measured, from the run's settings."""
    rounds = machine.get("rounds") or 1
    duration = machine.get("duration")
    if rounds == 1:
        return f"{duration} s measured per case, each server in turn"
    return (
        f"{rounds} rounds of {duration // rounds} s in which the servers take turns "
        f"({duration} s measured per case; `rounds`: the lowest and highest round's req/s "
        f"against the case's)"
    )


def ratio(numerator, denominator):
    if not numerator or not denominator or not denominator["rps"]:
        return "-"
    return f"{numerator['rps'] / denominator['rps']:.2f}"


def cpu_ratio(numerator, denominator):
    """CPU time a request of one case against another's."""
    if not numerator or not denominator or not denominator.get("cpu_us_per_request"):
        return "-"
    if numerator.get("cpu_us_per_request") is None:
        return "-"
    return f"{numerator['cpu_us_per_request'] / denominator['cpu_us_per_request']:.2f}"


def target_rows(stores, synthetic, loads, one, imports, machine):
    """The targets table's rows, and a line per reference target saying in how many cases
    it was met. The references' targets come first, for every store they apply to:
    cache on at least BARE_TARGET x the bare ceiling's req/s (every store); cache off at
    least MERCURIUS_TARGET x mercurius' req/s with less CPU time a request (the seed, 10k
    and 100k). Then issue 4's, on the largest synthetic store. The old ratios against the
    baseline and the layered ceiling are diagnostics: in the per-store tables only."""
    rows = []
    summary = []

    def verdict(ok):
        if machine.get("mode") == "smoke":
            return "not judged (smoke)"
        return "pass" if ok else "FAIL"

    def where(store):
        return "embedded seed" if not store.get("incidents") else f"{store['incidents']:,} incidents"

    def by_query(store):
        found = {}
        for row in loads(store["store"]):
            found.setdefault(row["query"], {})[row["server"]] = row
        return sorted(found.items())

    bare_met, bare_cases = 0, 0
    for store in stores:
        for letter, servers in by_query(store):
            real, bare = servers.get("real"), servers.get("bare")
            if real and bare and bare["rps"]:
                factor = real["rps"] / bare["rps"]
                ok = factor >= BARE_TARGET
                bare_cases += 1
                bare_met += ok
                rows.append([
                    f"cache on ≥ {BARE_TARGET}x bare req/s, {QUERY_NAMES[letter]}, {where(store)}",
                    f"{factor:.2f}x",
                    verdict(ok),
                ])
    mercurius_met, mercurius_cases = 0, 0
    for store in stores:
        if store.get("incidents") not in MERCURIUS_STORES:
            continue
        for letter, servers in by_query(store):
            off = servers.get("real-nocache") or (servers.get("real") if not machine.get("cache_flag") else None)
            peer = servers.get("mercurius")
            if off and peer and peer["rps"] and peer.get("cpu_us_per_request"):
                factor = off["rps"] / peer["rps"]
                cpu = off["cpu_us_per_request"] / peer["cpu_us_per_request"]
                ok = factor >= MERCURIUS_TARGET and cpu < 1
                mercurius_cases += 1
                mercurius_met += ok
                rows.append([
                    f"cache off ≥ {MERCURIUS_TARGET}x mercurius req/s, less CPU/req, "
                    f"{QUERY_NAMES[letter]}, {where(store)}",
                    f"{factor:.2f}x, CPU {cpu:.2f}x",
                    verdict(ok),
                ])
    if bare_cases:
        summary.append(f"cache on ≥ {BARE_TARGET}x the bare ceiling: met in {bare_met} of {bare_cases} cases")
    if mercurius_cases:
        summary.append(
            f"cache off ≥ {MERCURIUS_TARGET}x mercurius with less CPU a request: met in "
            f"{mercurius_met} of {mercurius_cases} cases"
        )
    if summary and machine.get("mode") == "smoke":
        summary = ["a smoke run (debug build, 1 s a case) judges no target"]
    if not synthetic:
        return rows, summary

    small = min(synthetic, key=lambda s: s["incidents"])
    large = max(synthetic, key=lambda s: s["incidents"])
    at = f"at {large['incidents']:,} incidents" + ("" if large["incidents"] >= 1_000_000 else " (the issue names 1M)")

    def c_p50(store):
        row = next((r for r in loads(store["store"]) if r["query"] == "c" and r["server"] == "real"), None)
        return row["p50_us"] if row else None

    if small is not large and c_p50(small) and c_p50(large):
        factor = c_p50(large) / c_p50(small)
        rows.append([
            f"(c) p50 at {large['incidents']:,} within 1.5x of {small['incidents']:,}",
            f"{factor:.2f}x",
            verdict(factor <= 1.5),
        ])
    imported = imports(large["store"])
    if imported:
        # The median rate and the highest peak of every first start.
        rates = [r["records"] / r["seconds"] for r in imported]
        rate = statistics.median(rates)
        peak = max(r["hwm_kib"] for r in imported)
        runs = f" (median of {len(rates)})" if len(rates) > 1 else ""
        rows.append([f"first-start import ≥ 100,000 records/s, {at}{runs}", f"{rate:,.0f}/s", verdict(rate >= 100_000)])
        rows.append([
            f"import peak RSS < 512 MB, {at}" + (f" (highest of {len(rates)})" if len(rates) > 1 else ""),
            f"{peak * 1024 / 1e6:,.0f} MB",
            verdict(peak * 1024 < 512e6),
        ])
    served = [r for r in loads(large["store"]) if r["server"] == "real"]
    if served:
        peak = max(r["hwm_kib"] for r in served)
        rows.append([
            f"RSS under load < 256 MB (default flags), {at}",
            f"{peak * 1024 / 1e6:,.0f} MB peak",
            verdict(peak * 1024 < 256e6),
        ])
    logical = one("logical", large["store"])
    disk = one("disk", large["store"], phase="under load")
    if logical and disk and logical.get("bytes"):
        factor = disk["bytes"] / logical["bytes"]
        rows.append([f"disk < 2.5x logical bytes, {at}", f"{factor:.2f}x", verdict(factor < 2.5)])
    reopen = one("reopen", large["store"])
    if reopen:
        rows.append([
            f"reopen + first query < 1 s, {at}",
            f"{reopen['seconds'] * 1000:,.0f} ms",
            verdict(reopen["seconds"] < 1.0),
        ])
    return rows, summary


def emit_table(text, markdown, header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)] if rows else [len(h) for h in header]
    numeric = [all(re.match(r"^[\d,.x-]+( \(.*\))?$|^-$", str(row[i])) for row in rows) and i > 0 for i in range(len(header))]

    def line(cells):
        return "  ".join(
            str(cell).rjust(width) if right else str(cell).ljust(width)
            for cell, width, right in zip(cells, widths, numeric)
        ).rstrip()

    text.append(line(header))
    for row in rows:
        text.append(line(row))
    markdown.append("| " + " | ".join(header) + " |")
    markdown.append("| " + " | ".join("---:" if right else "---" for right in numeric) + " |")
    for row in rows:
        markdown.append("| " + " | ".join(str(cell) for cell in row) + " |")


# ---------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("wait")
    command.add_argument("--url", required=True)
    command.add_argument("--pid", type=int, required=True)
    command.add_argument("--listening-us", type=int, default=0, help="from spawn to listening")
    command.add_argument("--body", help="a file of bodies: time the answer to the first")
    command.add_argument("--timeout", type=float, default=60, help="seconds /healthz may take to answer 200")

    command = commands.add_parser("sample")
    command.add_argument("--url", required=True)
    command.add_argument("--queries", required=True)
    command.add_argument("--out", required=True)
    command.add_argument("--seed-tree", action="store_true", help="also write (a), the whole seed's tree")
    command.add_argument("--max-ids", type=int, default=400)
    command.add_argument("--max-texts", type=int, default=200)
    command.add_argument("--seed", type=int, default=1)

    command = commands.add_parser("check")
    command.add_argument("--url", required=True)
    command.add_argument("--bodies", required=True)
    command.add_argument("--reference", required=True)
    command.add_argument("--server", required=True)
    command.add_argument("--capture", action="store_true")
    command.add_argument("--passes", type=int, default=1, help="send every body this many times")
    command.add_argument("--results", help="with --capture: where to note (c)'s page shape")
    command.add_argument("--store", help="the store's name, for the note")

    command = commands.add_parser("load")
    command.add_argument(
        "--target", type=target, action="append", required=True,
        help="NAME,URL,PID of a server to load, once per server; they take turns",
    )
    command.add_argument("--bodies", required=True)
    command.add_argument("--lua", required=True)
    command.add_argument("--duration", type=int, required=True, help="seconds of each server's turn in a round")
    command.add_argument("--rounds", type=int, default=1)
    command.add_argument("--warmup", type=int, default=0)
    command.add_argument("--connections", type=int, default=32)
    command.add_argument("--cpu", type=int, default=1)
    command.add_argument("--request-timeout", type=int, default=15)
    command.add_argument("--drain-limit", type=float, default=120)
    command.add_argument("--results", required=True)
    command.add_argument("--logs", required=True, help="directory for wrk's output, a file per server")
    command.add_argument("--store", required=True)
    command.add_argument("--query", required=True)

    command = commands.add_parser("agree")
    command.add_argument("--bodies", required=True)
    command.add_argument("--reference", type=named_url, required=True, help="NAME,URL of the reference server")
    command.add_argument("--check", type=named_url, action="append", default=[],
                         help="NAME,URL of a server whose answers must be the reference's")
    command.add_argument("--warn", type=named_url, action="append", default=[],
                         help="NAME,URL of a server whose differences are only reported")
    command.add_argument("--capture", help="write the reference's answers here (JSON lines body, response)")

    command = commands.add_parser("node-setup")
    command.add_argument("--dir", required=True, help="the mercurius server's directory")

    command = commands.add_parser("compare")
    command.add_argument("--results", required=True)

    command = commands.add_parser("note")
    command.add_argument("--results", required=True)
    command.add_argument("--pid", type=int)
    command.add_argument("--json")
    command.add_argument("pairs", nargs="*")

    command = commands.add_parser("report")
    command.add_argument("--results", required=True)
    command.add_argument("--markdown", required=True)

    args = parser.parse_args()
    try:
        {"wait": wait, "sample": sample, "check": check, "agree": agree, "node-setup": node_setup,
         "load": load, "compare": compare, "note": note, "report": report}[
            args.command
        ](args)
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
