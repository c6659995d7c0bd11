#!/bin/sh
# with-pg.sh CMD... — run CMD with a throwaway PostgreSQL cluster whose admin
# URI is in MOPS_TEST_PG_URI. MOPS_TEST_REQUIRE_PG=1 tells tests that a
# missing cluster is a failure, not a reason to skip.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/mops-pg.XXXXXX)
trap '"$here/pg.sh" stop "$dir"' EXIT INT TERM
MOPS_TEST_PG_URI=$("$here/pg.sh" start "$dir")
MOPS_TEST_REQUIRE_PG=1
export MOPS_TEST_PG_URI MOPS_TEST_REQUIRE_PG
"$@"
