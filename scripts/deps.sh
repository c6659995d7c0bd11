#!/bin/sh
# deps.sh — install the Debian packages mops needs, and only those missing.
#
#   scripts/deps.sh [run|test|bench|fuzz|all]   (default: all)
#
# run   : what `make run` needs (compiler, libraries)
# test  : run + what `make test` needs (cmocka, python3 libraries that train
#         the reference models, PostgreSQL, curl, Prometheus' promtool)
# bench : test + reference implementations used by bench/ (libxgboost, wrk,
#         nginx)
# fuzz  : run + clang's libFuzzer runtime
#
# Idempotent: asks dpkg which packages are installed and apt-gets the rest.
set -eu

group=${1:-all}

RUN="build-essential pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev
     libpq-dev libssl-dev libcurl4-openssl-dev libyaml-dev libcsv-dev libpcre2-dev
     libxxhash-dev libgsl-dev"
TEST="libcmocka-dev python3 python3-numpy python3-sklearn python3-xgboost
      python3-scipy python3-onnx postgresql sqlite3 curl prometheus"
BENCH="libxgboost-dev wrk nginx-light hyperfine"
FUZZ="clang libclang-rt-14-dev"

case "$group" in
  run)   want="$RUN" ;;
  test)  want="$RUN $TEST" ;;
  bench) want="$RUN $TEST $BENCH" ;;
  fuzz)  want="$RUN $FUZZ" ;;
  all)   want="$RUN $TEST $BENCH $FUZZ" ;;
  *) echo "deps.sh: unknown group '$group' (use run, test, bench, fuzz or all)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "deps.sh: need root (or sudo) to install:$missing" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be absent or stale on a fresh machine.
$SUDO apt-get update -qq || echo "deps.sh: apt-get update failed; trying with the lists we have" >&2
# (The tests start PostgreSQL clusters of their own; the package's service
# is not needed.)
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps.sh: done" >&2
