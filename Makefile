# hellod — plain GNU make. Honours CC, CFLAGS, LDFLAGS, PREFIX, DESTDIR,
# SYSCONFDIR, LOGROTATEDIR.
#
#   make            build build/hellod (optimised, warnings are errors)
#   make run        install missing Debian packages, build, run on defaults
#   make test       install missing Debian packages, build, run every test
#   make test SANITIZE=address,undefined    the same under ASan+UBSan
#   make test DEBUG=1    the same with assert() on (build/debug)
#   make deps       install the Debian packages hellod needs (root or sudo)
#   make fuzz FUZZ_SECONDS=60   libFuzzer on the HTTP + connection layers
#   make fuzz-sim FUZZ_SECONDS=60   libFuzzer choosing the simulator's schedule
#   make chaos      2,000 misbehaving and well-behaved clients for ~20 s
#   make bench      hellod beside nginx: speed, memory and instructions,
#                   report in bench/results/ (QUICK=1: a short smoke run)
#   make bench-memory, make bench-callgrind    one of its steps alone

CC      ?= cc
CFLAGS  ?= -O2 -g
LDFLAGS ?=
PREFIX  ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
# logrotate reads only /etc/logrotate.d, whatever the PREFIX.
LOGROTATEDIR ?= /etc/logrotate.d

# A sanitizer build lives in its own folder so it never mixes objects
# with the normal one: make test SANITIZE=address,undefined
SANITIZE ?=
ifneq ($(DEBUG),)
BUILD   ?= build/debug
SANFLAGS :=
else ifeq ($(SANITIZE),)
BUILD   ?= build
SANFLAGS :=
else
BUILD   ?= build/san-$(subst $(comma),-,$(SANITIZE))
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
comma := ,

LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

# assert() states the invariants (docs/architecture.md): kept in sanitizer
# builds and with DEBUG=1, compiled out of the release build, where a
# broken one must not take every client of the process down with it.
DEBUG ?=
ifeq ($(SANITIZE)$(DEBUG),)
ASSERTS := -DNDEBUG
else
ASSERTS :=
endif

VERSION := 0.1.0
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE    := -std=c11 -D_GNU_SOURCE -DHD_VERSION=\"$(VERSION)\" -pthread \
           -Iinclude -I$(LLHTTP_INC) -MMD -MP
ALL_CFLAGS  := $(BASE) $(WARN) $(ASSERTS) $(CFLAGS) $(SANFLAGS)
ALL_LDFLAGS := -pthread $(LDFLAGS) $(SANFLAGS) -luring

SRCS     := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/main.o
LLHTTP_A := $(BUILD)/libllhttp.a
TEST_SRCS := $(wildcard tests/*.c)
TEST_OBJS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%.o)

# The test suites drive hellod with real clients too (curl, Python's
# http.client, ab from apache2-utils, h2load from nghttp2-client), check
# /metrics with promtool (prometheus), rotate with logrotate, and trace
# system calls against the systemd unit's filter (strace, systemd).
DEB_PKGS := gcc make libc6-dev pkg-config node-llhttp check wrk haproxy \
            curl python3 apache2-utils nghttp2-client \
            prometheus logrotate strace systemd liburing-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all run test install clean deps format format-check fuzz fuzz-sim chaos \
	bench bench-speed bench-memory bench-callgrind

all: $(BUILD)/hellod

$(BUILD)/hellod: $(MAIN_OBJ) $(LIB_OBJS) $(LLHTTP_A)
	$(CC) -o $@ $^ $(ALL_LDFLAGS)

# Objects depend on this file too: a change of flags rebuilds them.
$(BUILD)/obj/%.o: src/%.c Makefile | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Link-time optimisation across hellod's files and llhttp's: the
# per-request calls between them (llhttp's callback wrappers, the Host
# check, the answer, the loop's helpers) inline, about 400 instructions a
# keep-alive request less (callgrind, docs/performance.md). LTO= builds
# without it.
LTO ?= -flto=auto
ALL_CFLAGS  += $(LTO)
# GCC at -Og refuses always_inline across files (http.c's hd_http_feed).
ALL_CFLAGS  += $(if $(filter -Og,$(CFLAGS)),-DHD_NO_CROSS_FILE_INLINE)
ALL_LDFLAGS += $(LTO)

# llhttp is compiled from Debian's node-llhttp sources, in strict mode:
# the loose default accepts request-smuggling payloads (CVE-2023-30589).
# It is third-party code, so it gets no -Werror. With LTO (fat objects,
# so a link without it still works) the wrapper llhttp.c calls in api.c
# or http.c for every callback and span (llhttp__on_url,
# llhttp__after_headers_complete, ...) inlines into the parser: about
# 250 instructions a request.
#
# llhttp's generated parser has SSE4.2 paths (one PCMPESTRI skips 16
# bytes of a header value, name or target where the portable code takes
# a table look-up and a branch per byte): about 55 instructions a
# request for one Host header (docs/performance.md). They are compiled
# in when the CPU that builds has SSE4.2, as hellod is built where it
# runs; LLHTTP_ARCH= builds the portable parser for older x86 CPUs.
LLHTTP_ARCH ?= $(shell grep -qw sse4_2 /proc/cpuinfo 2>/dev/null && echo -msse4.2)

# llhttp's parser calls each callback through a function api.c defines
# (llhttp__on_url, ...): a load of the settings, tests and an indirect
# call, even for callbacks hellod leaves unset. src/http.c defines these
# itself, calling hellod's callbacks directly (about 45 instructions a
# request, docs/performance.md); api.c's own are renamed llhttp_api__*,
# and http.c hands them any parser whose settings are not hellod's (the
# tests' response parser). The list must match http.c's HD_LLHTTP_HOOKS,
# or the link fails.
LLHTTP_HOOKS := on_url on_url_complete on_version_complete on_header_field \
	on_header_field_complete on_header_value on_header_value_complete \
	on_headers_complete on_body on_message_complete on_message_begin \
	on_method on_method_complete on_version on_reset
LLHTTP_RENAME = $(if $(filter api,$(1)),$(foreach h,$(LLHTTP_HOOKS),-Dllhttp__$(h)=llhttp_api__$(h)))
$(LLHTTP_A): Makefile | $(BUILD)/llhttp
	for f in llhttp api http; do \
	  $(CC) -std=c11 -O2 -g -fPIC -DLLHTTP_STRICT_MODE=1 $(LLHTTP_ARCH) -I$(LLHTTP_INC) \
	    $$( [ $$f = api ] && echo '$(call LLHTTP_RENAME,api)' ) \
	    $(if $(LTO),$(LTO) -ffat-lto-objects) $(SANFLAGS) -w -c \
	    -o $(BUILD)/llhttp/$$f.o \
	    $(LLHTTP_SRC)/$$f.c || exit 1; \
	done
	ar rcs $@ $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o

$(BUILD)/obj $(BUILD)/llhttp $(BUILD)/tests:
	mkdir -p $@

# ---- tests -----------------------------------------------------------------
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

$(BUILD)/tests/%.o: tests/%.c Makefile | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -c -o $@ $<

$(BUILD)/run_tests: $(TEST_OBJS) $(LIB_OBJS) $(LLHTTP_A)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CHECK_LIBS)

test: deps
	$(MAKE) --no-print-directory $(BUILD)/hellod $(BUILD)/run_tests
	HELLOD_BIN=$(BUILD)/hellod HELLOD_SRCDIR=$(CURDIR) \
	  $(if $(SANITIZE),HELLOD_SANITIZED=$(SANITIZE)) $(BUILD)/run_tests

run: deps
	$(MAKE) --no-print-directory $(BUILD)/hellod
	$(BUILD)/hellod $(ARGS)

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# ---- benchmarks --------------------------------------------------------------
# bench/run installs what it needs (nginx-light, wrk, gnuplot-nox, strace,
# valgrind), builds its own optimised hellod and stops all it starts.
# Settings pass through: make bench QUICK=1, make bench REPEATS=9 DURATION=10s
BENCH_VARS := QUICK REPEATS DURATION STRACE_DURATION IDLE_CONNS CG_REQUESTS \
              SCENARIOS SERVERS OUT
BENCH_ENV  := $(foreach v,$(BENCH_VARS),$(if $($(v)),$(v)='$($(v))'))

bench:
	$(BENCH_ENV) bench/run

bench-speed bench-memory bench-callgrind: bench-%:
	$(BENCH_ENV) bench/run $*

# The unit and the man page name /usr/local and /etc/logrotate.d paths;
# installed copies name the PREFIX, SYSCONFDIR and LOGROTATEDIR they are
# installed with.
PREFIX_SED := sed -e 's|/etc/logrotate.d|$(LOGROTATEDIR)|g' \
  -e 's|/usr/local/etc|$(SYSCONFDIR)|g' -e 's|/usr/local|$(PREFIX)|g'

install: $(BUILD)/hellod
	install -D -m 0755 $(BUILD)/hellod $(DESTDIR)$(PREFIX)/bin/hellod
	install -D -m 0644 conf/hellod.conf $(DESTDIR)$(SYSCONFDIR)/hellod/hellod.conf
	$(PREFIX_SED) docs/hellod.8 > $(BUILD)/hellod.8
	install -D -m 0644 $(BUILD)/hellod.8 $(DESTDIR)$(PREFIX)/share/man/man8/hellod.8
	$(PREFIX_SED) conf/hellod.service > $(BUILD)/hellod.service
	install -D -m 0644 $(BUILD)/hellod.service $(DESTDIR)$(PREFIX)/lib/systemd/system/hellod.service
	install -D -m 0644 conf/hellod.logrotate $(DESTDIR)$(LOGROTATEDIR)/hellod
	install -D -m 0644 conf/hellod.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/hellod.socket

clean:
	rm -rf build

FORMAT_FILES = src/*.c include/hellod/*.h tests/*.c tests/*.h tests/fuzz/*.c

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

# ---- fuzzing (clang's libFuzzer, with ASan + UBSan) ------------------------
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=all
FUZZ_OBJS    := $(LIB_SRCS:src/%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LLHTTP  := $(addprefix $(FUZZ_DIR)/llhttp/,llhttp.o api.o http.o)

$(FUZZ_DIR)/obj/%.o: src/%.c Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE) $(WARN) $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_DIR)/llhttp/%.o: $(LLHTTP_SRC)/%.c Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -DLLHTTP_STRICT_MODE=1 $(LLHTTP_ARCH) -I$(LLHTTP_INC) \
	  $(call LLHTTP_RENAME,$*) $(FUZZ_FLAGS) -w -c -o $@ $<

$(FUZZ_DIR)/fuzz_hellod: tests/fuzz/fuzz_hellod.c $(FUZZ_OBJS) $(FUZZ_LLHTTP)
	$(FUZZ_CC) $(BASE) $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ \
	  -luring

$(FUZZ_DIR)/fuzz_sim: tests/fuzz/fuzz_sim.c tests/sim.c tests/sim.h \
		$(FUZZ_OBJS) $(FUZZ_LLHTTP)
	$(FUZZ_CC) $(BASE) $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ \
	  tests/fuzz/fuzz_sim.c tests/sim.c $(FUZZ_OBJS) $(FUZZ_LLHTTP) -luring

# Seeds are committed (tests/fuzz/seeds, made by tests/fuzz/make_seeds.sh);
# what the fuzzer finds grows build/fuzz/corpus.
fuzz: $(FUZZ_DIR)/fuzz_hellod
	mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_DIR)/fuzz_hellod -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
	  $(FUZZ_DIR)/corpus tests/fuzz/seeds

# The simulator's schedule from the fuzzer's bytes (tests/fuzz/fuzz_sim.c);
# a crash leaves build/fuzz/sim-crash-*, replayed by passing it as the
# only argument to build/fuzz/fuzz_sim.
fuzz-sim: $(FUZZ_DIR)/fuzz_sim
	mkdir -p $(FUZZ_DIR)/sim-corpus
	$(FUZZ_DIR)/fuzz_sim -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/sim- \
	  $(FUZZ_DIR)/sim-corpus

# ---- chaos: bounded (2,000 connections, ~20 s); see tests/chaos.py --------
chaos: $(BUILD)/hellod
	HELLOD_BIN=$(BUILD)/hellod python3 tests/chaos.py

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d)
