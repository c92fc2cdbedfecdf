#!/usr/bin/env bash
# Schema change safety: compares schema.graphql at HEAD with the base commit's (HEAD~1, or
# $SCHEMA_BASE, e.g. SCHEMA_BASE=origin/main for a pull request) using the pinned npm package
# @graphql-inspector/cli. Breaking changes fail unless the commits since the base add a
# "- BREAKING:" line under "## Unreleased" in CHANGELOG.md. Dangerous changes (a new enum
# value, a changed default) are printed but pass.
#
# It reads both files from commits, not from the working tree: commit first, then run it.
# Run from anywhere inside the repository; it finds its own node_modules beside this script.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
schema="schema.graphql"
changelog="CHANGELOG.md"
base="${SCHEMA_BASE:-HEAD~1}"

say() { echo "schema-check: $*"; }
fail() { echo "schema-check: $*" >&2; exit 1; }

cd "$(git rev-parse --show-toplevel)"
git rev-parse --verify --quiet HEAD >/dev/null || fail "there is no commit to check yet"

# Nothing to compare: print why and pass. An explicit SCHEMA_BASE that does not resolve is
# an error instead, since the caller asked for that comparison.
if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
    if [ -n "${SCHEMA_BASE:-}" ]; then
        fail "SCHEMA_BASE=$SCHEMA_BASE is not a commit here (fetch it first, e.g. git fetch origin main)"
    fi
    if [ "$(git rev-parse --is-shallow-repository)" = "true" ]; then
        say "HEAD's parent is not in this shallow clone; nothing to compare (fetch with --depth=2 or more to check)"
    else
        say "HEAD has no parent commit; nothing to compare"
    fi
    exit 0
fi
if ! git cat-file -e "$base:$schema" 2>/dev/null; then
    say "$base has no $schema; nothing to compare"
    exit 0
fi
git cat-file -e "HEAD:$schema" 2>/dev/null || fail "HEAD has no $schema"

# The pinned packages, installed once from package-lock.json.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    fail "needs Node.js 20+ and npm on PATH (e.g. from https://nodejs.org; Debian 12's nodejs is 18)"
pinned() { (cd "$here" && node -p "$1" 2>/dev/null) || true; }
wanted="$(pinned 'require("./package.json").dependencies["@graphql-inspector/cli"]')"
installed="$(pinned 'require("./node_modules/@graphql-inspector/cli/package.json").version')"
if [ "$installed" != "$wanted" ]; then
    say "installing @graphql-inspector/cli $wanted in $here (npm ci)"
    (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The .graphql extension tells graphql-inspector's loader what the files hold.
git show "$base:$schema" >"$work/old.graphql"
git show "HEAD:$schema" >"$work/new.graphql"

say "comparing $schema at $base ($(git rev-parse --short "$base")) with HEAD ($(git rev-parse --short HEAD))"
status=0
"$here/node_modules/.bin/graphql-inspector" diff "$work/old.graphql" "$work/new.graphql" \
    >"$work/report" 2>&1 || status=$?
cat "$work/report"
if [ "$status" -eq 0 ]; then
    exit 0
fi
# It exits 1 both for breaking changes and when it cannot load a schema; only the first
# reports "Detected N breaking change(s)".
if ! grep -Eq 'Detected [0-9]+ breaking changes?' "$work/report"; then
    fail "graphql-inspector failed (exit $status); see its output above"
fi

# The CHANGELOG rule: some "- BREAKING:" line of the "## Unreleased" section at HEAD is not
# in that section at the base, i.e. the commits since the base added it.
breaking_entries() { # revision; a revision without the file has none
    { git show "$1:$changelog" 2>/dev/null || true; } |
        awk '/^## / { unreleased = ($0 ~ /^## Unreleased[[:space:]]*$/) } unreleased && /^- BREAKING:/' |
        sort -u
}
breaking_entries "$base" >"$work/before"
breaking_entries HEAD >"$work/after"
added="$(comm -13 "$work/before" "$work/after")"
if [ -n "$added" ]; then
    say "breaking changes recorded in $changelog:"
    echo "$added"
    exit 0
fi

{
    echo
    echo "schema-check: $schema has breaking changes since $base (marked ✖ above), and no"
    echo "commit since $base records them in $changelog. If the break is intended, tell"
    echo "clients: under the '## Unreleased' heading of $changelog add one line per breaking"
    echo "change, starting with '- BREAKING:', and commit it with the change (git commit"
    echo "--amend). For example:"
    echo
    # The ✖ lines of the report (× where the terminal lacks Unicode), as entries.
    sed -E -e 's/\x1b\[[0-9;]*m//g' -n -e 's/^\[log\] (✖|×) +(.*)$/- BREAKING: \2./p' "$work/report"
    echo
    echo "Better still, deprecate first and remove later: see the rules at the top of $changelog."
} >&2
exit 1
