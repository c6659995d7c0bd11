#!/bin/sh
# run.sh — the benchmarks under bench/ (see docs/performance.md). Called by
# `make bench`, which installs libxgboost-dev and friends first.
#
#   bench/run.sh            every benchmark
#   bench/run.sh runtime    only the runtime against XGBoost's C predictor
#   bench/run.sh data       only dataset profiling (wc -l and Python's csv on
#                           the same file for reference)
#   bench/run.sh serve      OIP inference against nginx (wrk), the prediction
#                           log's cost, and the 60 s promote/rollback load test
#   bench/run.sh monitor    serving with monitoring on vs off (wrk), and a drift
#                           report over 1,000,000 rows x 50 features
#
# Environment: BENCH_ROWS (100000), BENCH_TREES (500), BENCH_DEPTH (8),
# BENCH_FEATURES (50), BENCH_REPEATS (5), BENCH_BIG_MB (100),
# BENCH_DATA_MB (300); for serve BENCH_SECONDS (10), BENCH_CONNECTIONS (16),
# BENCH_SERVE_REPEATS (5; monitor: 3), BENCH_LOAD_SECONDS (60).
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROWS=${BENCH_ROWS:-100000}
TREES=${BENCH_TREES:-500}
DEPTH=${BENCH_DEPTH:-8}
FEATURES=${BENCH_FEATURES:-50}
REPEATS=${BENCH_REPEATS:-5}
BIG_MB=${BENCH_BIG_MB:-100}
DATA_MB=${BENCH_DATA_MB:-300}
OUT=build/bench
what=${1:-all}

# The runtime benchmark's model and rows (trained once, kept in build/bench).
bench_model() {
    data="$OUT/runtime-$ROWS-$FEATURES-$TREES-$DEPTH"
    if [ ! -f "$data/model.json" ]; then
        $PY bench/runtime/train_bench.py "$data" --rows "$ROWS" --features "$FEATURES" \
            --trees "$TREES" --depth "$DEPTH"
    fi
}

runtime_bench() {
    make -s MODE=release all
    bench_model
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

data_bench() {
    make -s MODE=release all
    csv="$OUT/data-${DATA_MB}mb.csv"
    if [ ! -f "$csv" ]; then
        $PY bench/data/make_data.py "$csv" --mb "$DATA_MB"
    fi
    cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc \
        $(pkg-config --cflags jansson libpq) -o "$OUT/bench_data" bench/data/bench_data.c \
        build/release/libmops.a $(pkg-config --libs libmicrohttpd jansson sqlite3 libpq \
        libcrypto libcurl yaml-0.1 libpcre2-8 libxxhash gsl) -lcsv -lpthread -lm
    echo "== data: profiling a ${DATA_MB} MB CSV on one core (target: 100 MB/s)"
    echo "   CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
    mb=$(stat -c %s "$csv")
    t0=$(date +%s.%N); wc -l "$csv" >/dev/null; t1=$(date +%s.%N)
    echo "$mb $t0 $t1" | awk '{printf "%-44s %7.1f MB/s\n", "reference: wc -l", $1 / ($3 - $2) / 1e6}'
    $PY bench/data/py_csv.py "$csv"
    mkdir -p "$OUT/work"
    "$OUT/bench_data" "$csv" "$REPEATS" "$OUT/work"
}

serve_bench() {
    make -s MODE=release all
    bench_model
    # The load test's second version: another model on the same features.
    other="$OUT/serve-second"
    if [ ! -f "$other/model.json" ]; then
        $PY bench/runtime/train_bench.py "$other" --rows 20000 --features "$FEATURES" \
            --trees 200 --depth 6 --seed 7
    fi
    BENCH_REPEATS=${BENCH_SERVE_REPEATS:-5} $PY bench/serve/serve_bench.py speed \
        build/release/mops "$data"
    $PY bench/serve/serve_bench.py load build/release/mops "$data" "$other/model.json"
}

monitor_bench() {
    make -s MODE=release all
    bench_model
    BENCH_REPEATS=${BENCH_SERVE_REPEATS:-3} $PY bench/monitor/monitor_bench.py \
        build/release/mops "$data"
}

mkdir -p "$OUT"
case "$what" in
all) runtime_bench; serve_bench; monitor_bench; data_bench ;;
monitor) monitor_bench ;;
runtime) runtime_bench ;;
serve) serve_bench ;;
data) data_bench ;;
*) echo "bench/run.sh: unknown benchmark '$what' (runtime, serve, monitor, data)" >&2; exit 2 ;;
esac
