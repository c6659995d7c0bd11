#!/bin/sh
# run.sh — build the libFuzzer targets with clang and run each for
# $FUZZ_SECONDS (default 60). Called by `make fuzz`; not part of CI.
#
#   tests/fuzz/run.sh [TARGET...]      targets: xgboost sklearn csv dataset (default: all)
#
# Each target starts from its committed seed corpus tests/fuzz/corpus/<target>
# and explores in build/fuzz/work/<target>. Afterwards the inputs that reach
# new code are merged back into tests/fuzz/corpus/<target> (commit them: the
# unit tests replay every file there), and any crashing input is saved in
# tests/fuzz/corpus/<target> as crash-* too, so it becomes a regression test
# once fixed.
set -eu
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
OUT=build/fuzz
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
RUNTIME_SRCS="src/runtime/jsonpull.c src/runtime/kernels.c src/runtime/load.c src/runtime/simd.c
              src/runtime/load_sklearn.c src/runtime/load_xgboost.c src/runtime/model.c
              src/runtime/predict.c src/core/error.c src/core/mem.c"
DATASET_SRCS="src/data/analyze.c src/data/values.c src/data/pii.c src/stats/codec.c
              src/stats/column.c src/stats/hist.c src/stats/hll.c src/stats/kll.c
              src/stats/moments.c src/stats/topk.c src/store/blob.c src/core/csv.c
              src/core/crypto.c src/core/error.c src/core/fs.c src/core/json.c src/core/mem.c
              src/core/text.c src/core/time.c"
targets=${*:-"xgboost sklearn csv dataset"}
status=0
for t in $targets; do
    case "$t" in
    csv) srcs="src/core/csv.c src/core/error.c src/core/mem.c" ;;
    dataset) srcs="$DATASET_SRCS" ;;
    xgboost|sklearn) srcs="$RUNTIME_SRCS" ;;
    *) echo "run.sh: unknown target '$t'" >&2; exit 2 ;;
    esac
    echo "== building fuzz_$t"
    # shellcheck disable=SC2086
    $CC $CFLAGS $(pkg-config --cflags jansson) -o "$OUT/fuzz_$t" "tests/fuzz/fuzz_$t.c" $srcs \
        -lcsv -ljansson -lxxhash -lcrypto -lm -lpthread
    work="$OUT/work/$t"
    corpus="tests/fuzz/corpus/$t"
    mkdir -p "$work" "$corpus"
    echo "== fuzzing $t for ${SECONDS_EACH}s"
    if ! "$OUT/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
            -rss_limit_mb=2048 -artifact_prefix="$corpus/" -print_final_stats=1 \
            "$work" "$corpus"; then
        echo "run.sh: fuzz_$t found a failing input; it is in $corpus/ (crash-*, leak-*, timeout-*)" >&2
        status=1
    fi
    # Keep the corpus minimal: the named seeds and regression inputs
    # (crash-*, leak-*, timeout-*) stay; the found inputs are replaced by the
    # smallest set of corpus + work inputs that covers what they all cover.
    before=$(ls "$corpus" | wc -l)
    fresh="$OUT/merged/$t"
    rm -rf "$fresh" "$OUT/found/$t"
    mkdir -p "$fresh" "$OUT/found/$t"
    for f in "$corpus"/*; do
        case "$(basename "$f")" in
        [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) mv "$f" "$OUT/found/$t/" ;;
        *) cp "$f" "$fresh/" ;;
        esac
    done
    # Edges only (no hit counts): a corpus of hundreds, not thousands, of files.
    "$OUT/fuzz_$t" -merge=1 -use_counters=0 "$fresh" "$OUT/found/$t" "$work" >/dev/null 2>&1 || true
    for f in "$fresh"/*; do
        [ -e "$corpus/$(basename "$f")" ] || cp "$f" "$corpus/"
    done
    after=$(ls "$corpus" | wc -l)
    echo "== $t: corpus $before -> $after files (commit them; the unit tests replay every one)"
done
exit $status
