// Runs every server audit of `graphql-http` (the GraphQL-over-HTTP conformance suite)
// against a running server and prints ONE line of JSON to stdout:
//
//   {"total": N, "results": [{"id", "name", "status": "ok"|"notice"|"warn"|"error", "reason"}]}
//
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
//
// The exit code is 0 whatever the audits find; the caller (tests/it/conformance.rs)
// decides what passes. It is non-zero only when the script cannot run at all.
//
// The audits run one after another, in the package's order. An audit that fails with
// something other than an assertion (a refused connection, a timeout, an unreadable
// body) is reported as an `error` whose reason starts with "fatal:", so one broken
// request never hides the other results.

import { serverAudits } from 'graphql-http';

/** How long one request (headers and body) may take before it is aborted. */
const REQUEST_TIMEOUT_MS = 5_000;

const url = process.argv[2];
if (!url || process.argv.length > 3) {
  process.stderr.write('usage: node audit.mjs http://127.0.0.1:PORT/graphql\n');
  process.exit(2);
}

/** `fetch`, with every request bounded by `REQUEST_TIMEOUT_MS` unless it has its own signal. */
function fetchFn(input, init = {}) {
  return fetch(input, {
    ...init,
    signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

function describe(error) {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}

const audits = serverAudits({ url, fetchFn });
const results = [];
for (const { id, name, fn } of audits) {
  try {
    const result = await fn();
    results.push({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.status === 'ok' ? null : (result.reason ?? null),
    });
  } catch (error) {
    results.push({ id, name, status: 'error', reason: `fatal: ${describe(error)}` });
  }
}

// Exit once stdout is flushed: idle keep-alive sockets must not hold the process open.
process.stdout.write(`${JSON.stringify({ total: audits.length, results })}\n`, () =>
  process.exit(0),
);
