# Makefile — build, test and run mops.
#
#   make run     install missing Debian packages, build, start the demo server
#   make test    install, build, run every test; then all again under ASan+UBSan
#   make         build build/release/mops
#   make asan    build build/asan/mops (AddressSanitizer + UndefinedBehaviorSanitizer)
#   make unit    run the unit tests of one build (MODE=release|asan)
#   make e2e     run the end-to-end tests of one build
#   make fuzz    build the libFuzzer targets with clang and run each for FUZZ_SECONDS
#   make bench   run the benchmarks under bench/ (see docs/performance.md)
#   make clean
#
# Sources are found by wildcard: a new file under src/<module>/ or a new
# tests/unit/test_<name>.c needs no change here.

MODE ?= release
BUILD := build/$(MODE)
PKG_CONFIG ?= pkg-config
PYTHON := /usr/bin/python3
PKGS := libmicrohttpd jansson sqlite3 libpq libcrypto libcurl yaml-0.1 libpcre2-8 libxxhash gsl

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wvla -g \
                 -Isrc $(PKG_CFLAGS) -MMD -MP
ifeq ($(MODE),asan)
CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS_MODE := -fsanitize=address,undefined
else ifeq ($(MODE),debug)
CFLAGS_MODE := -O0
else
CFLAGS_MODE := -O2
endif
ALL_CFLAGS := $(CFLAGS_COMMON) $(CFLAGS_MODE) $(CFLAGS)
LIBS := $(PKG_LIBS) -lcsv -lpthread -lm

SRCS := $(sort $(wildcard src/*/*.c))
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/main.o
LIB := $(BUILD)/libmops.a
BIN := $(BUILD)/mops

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test asan unit e2e check fuzz bench clean deps-run deps-test
.DEFAULT_GOAL := all

all: $(BIN) $(UNIT_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS_MODE) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_MODE) $(LDFLAGS) -o $@ $< $(LIB) $(LIBS) -lcmocka

asan:
	$(MAKE) MODE=asan all

# Run one build's unit tests (cmocka), then its end-to-end tests.
unit: all
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

e2e: all
	MOPS_BIN=$(abspath $(BIN)) MOPS_MODE=$(MODE) $(PYTHON) tests/e2e/run.py

# unit + e2e with a throwaway PostgreSQL cluster (tests/with-pg.sh), so the
# PostgreSQL cases run instead of being skipped.
check: all
	tests/with-pg.sh $(MAKE) --no-print-directory unit e2e

deps-run:
	@scripts/deps.sh run
deps-test:
	@scripts/deps.sh test

# The README's two commands.
run: deps-run
	$(MAKE) MODE=release all
	scripts/run.sh build/release/mops ./var

test: deps-test
	$(MAKE) -j2 MODE=release all
	$(MAKE) MODE=release check
	$(MAKE) -j2 MODE=asan all
	$(MAKE) MODE=asan check

fuzz:
	@scripts/deps.sh fuzz
	tests/fuzz/run.sh

bench:
	@scripts/deps.sh bench
	bench/run.sh

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(MAIN_OBJ:.o=.d)
