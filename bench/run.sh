#!/bin/sh
# run.sh — the benchmarks under bench/ (see docs/performance.md). Called by
# `make bench`, which installs libxgboost-dev and friends first.
#
#   bench/run.sh            every benchmark
#   bench/run.sh runtime    only the runtime against XGBoost's C predictor
#
# Environment: BENCH_ROWS (100000), BENCH_TREES (500), BENCH_DEPTH (8),
# BENCH_FEATURES (50), BENCH_REPEATS (5), BENCH_BIG_MB (100).
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROWS=${BENCH_ROWS:-100000}
TREES=${BENCH_TREES:-500}
DEPTH=${BENCH_DEPTH:-8}
FEATURES=${BENCH_FEATURES:-50}
REPEATS=${BENCH_REPEATS:-5}
BIG_MB=${BENCH_BIG_MB:-100}
OUT=build/bench
what=${1:-all}

runtime_bench() {
    make -s MODE=release all
    data="$OUT/runtime-$ROWS-$FEATURES-$TREES-$DEPTH"
    if [ ! -f "$data/model.json" ]; then
        $PY bench/runtime/train_bench.py "$data" --rows "$ROWS" --features "$FEATURES" \
            --trees "$TREES" --depth "$DEPTH"
    fi
    big="$OUT/big-${BIG_MB}mb.json"
    if [ ! -f "$big" ]; then
        $PY bench/runtime/make_big_model.py "$big" --mb "$BIG_MB"
    fi
    # Same flags as the release build; the binary links the mops library
    # and XGBoost's own C API.
    cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc -o "$OUT/bench_runtime" \
        bench/runtime/bench_runtime.c build/release/libmops.a -lxgboost -lcsv -lpthread -lm
    echo "== runtime: mops vs XGBoost $(dpkg-query -W -f='${Version}' libxgboost-dev 2>/dev/null) C API"
    echo "   CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
    "$OUT/bench_runtime" "$data/model.json" "$data/rows.f32" "$ROWS" "$FEATURES" "$REPEATS" "$big"
}

mkdir -p "$OUT"
case "$what" in
runtime | all) runtime_bench ;;
*) echo "bench/run.sh: unknown benchmark '$what' (runtime)" >&2; exit 2 ;;
esac
