#!/bin/sh
# gen-security-matrix.sh — rewrite the permission table in docs/security.md
# (between the "matrix" markers) from src/auth/perm.c. Run after changing
# the matrix; tests/unit/test_auth.c fails until the two agree.
set -eu
cd "$(dirname "$0")/.."
make -s MODE=release build/release/libmops.a
tool=build/release/tests/print_matrix
cc -std=c11 -D_GNU_SOURCE -Isrc $(pkg-config --cflags jansson libpq) -o "$tool" \
  tests/tools/print_matrix.c build/release/libmops.a \
  $(pkg-config --libs libmicrohttpd jansson sqlite3 libpq libcrypto libcurl yaml-0.1 libpcre2-8 \
  libxxhash gsl) -lcsv -lpthread -lm
"$tool" >build/release/matrix.md
awk -v table=build/release/matrix.md '
  /<!-- matrix -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
  /<!-- \/matrix -->/ { skip = 0 }
  !skip { print }
' docs/security.md >docs/security.md.new
mv docs/security.md.new docs/security.md
echo "docs/security.md: permission table regenerated"
