# SPDX-License-Identifier: ISC
# encore -- top-level, non-recursive GNU Makefile.
#
#   make             build all binaries into bin/
#   make check       the everyday loop: build, unit and integration tests
#                    (no package install, no fuzzing, no sanitizer pass)
#   make test        the full gate: install missing Debian packages, unit,
#                    fuzz, integration against ASan+UBSan and normal builds
#   make asan        the same tests against an ASan+UBSan build
#   make fuzz        build and run the libFuzzer targets for a bounded time
#   make bench       benchmarks (print "bench: NAME VALUE UNIT")
#   make demo        a local cluster doing real work
#   make install PREFIX=/usr/local
#   V=1              show full commands
#   make deb         Debian packages into build/deb/ (debian/, by packaging/deb.sh)
#   make CROSS=aarch64-linux-gnu   cross-build the worker and CLI (below)
#   NO_PROC2=1       build without libproc2 (Termux): /proc parsers only
#   WORKER_SHA=-lcrypto  link the worker's libcrypto dynamically (where there is
#                    no libcrypto.a: Termux)
#   WERROR=          build without -Werror (the Debian package build does)
#
# CPPFLAGS, CFLAGS and LDFLAGS from the command line or the environment
# (dpkg-buildflags: hardening, optimisation) are honoured: the flags the
# code needs are kept in ENCORE_* variables and come first, the user's
# after, so the user's win where they conflict.

# ---- cross builds ----
# make CROSS=aarch64-linux-gnu (or arm-linux-gnueabihf) builds encore-worker
# and encore for that target into build/$(CROSS)/bin with Debian's cross gcc
# (gcc-$(CROSS)).  Their libraries come from a sysroot of the target's
# packages that packaging/cross-sysroot.sh unpacks into build/sysroot/$(CROSS)
# (why not multiarch -dev packages: see that script); SYSROOT= names another,
# SYSROOT=/ uses installed multiarch -dev packages.  The default goal is then
# `cross` (worker + CLI); the main node and encore-top are not cross-built.
ifneq ($(CROSS),)
CC		:= $(CROSS)-gcc
O		?= build/$(CROSS)
BIN		?= build/$(CROSS)/bin
SYSROOT		?= $(CURDIR)/build/sysroot/$(CROSS)
PKG_CONFIG	?= PKG_CONFIG_SYSROOT_DIR=$(SYSROOT) \
		   PKG_CONFIG_LIBDIR=$(SYSROOT)/usr/lib/$(CROSS)/pkgconfig:$(SYSROOT)/usr/share/pkgconfig \
		   pkg-config
PKGS		:= libevent json-c libproc2
CROSS_LDFLAGS	:= -Wl,-rpath-link,$(SYSROOT)/usr/lib/$(CROSS):$(SYSROOT)/lib/$(CROSS)
# Headers Debian puts under the triplet (openssl/opensslconf.h).
CROSS_INCLUDE	:= -I$(SYSROOT)/usr/include/$(CROSS)
.DEFAULT_GOAL	:= cross
cross:
	@[ "$(SYSROOT)" = / ] || sh packaging/cross-sysroot.sh $(CROSS) $(SYSROOT)
	$(MAKE) CROSS=$(CROSS) SYSROOT=$(SYSROOT) cross-bins
cross-bins: $(BIN)/encore-worker $(BIN)/encore
.PHONY: cross cross-bins
endif
PKG_CONFIG	?= pkg-config

PREFIX	?= /usr/local
SAN	?=
O	?= build
BIN	?= bin

PKGS	?= libevent json-c sqlite3 libproc2 ncursesw
# NO_PROC2=1: no libproc2 (Termux has no package of it); the profiler
# reads the live /proc with its own parsers (profiler/prof-proc.c).
ifneq ($(NO_PROC2),)
PKGS	:= $(filter-out libproc2,$(PKGS))
NO_PROC2_CPPFLAGS := -DENCORE_NO_PROC2
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)

CC	?= cc
WERROR	?= -Werror
WARN	:= -Wall -Wextra $(WERROR) -Wformat=2 -Wmissing-prototypes \
	   -Wstrict-prototypes -Wmissing-declarations -Wwrite-strings \
	   -Wshadow -Wpointer-arith -Wno-unused-parameter
CFLAGS	?= -O2 -g
ENCORE_CPPFLAGS := $(NO_PROC2_CPPFLAGS) -D_GNU_SOURCE -Iprotocol -Iprofiler -Iconfig \
	   $(PKG_CFLAGS) $(CROSS_INCLUDE)
ENCORE_CFLAGS := -std=gnu11 $(WARN) -MMD -MP
ENCORE_LDFLAGS := $(CROSS_LDFLAGS)
ifneq ($(SAN),)
ENCORE_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
ENCORE_LDFLAGS += -fsanitize=address,undefined
endif

LIBEVENT := $(shell $(PKG_CONFIG) --libs libevent 2>/dev/null)
# The worker takes libevent in its parts (core, extra for evdns), not
# libevent.so, which holds core and extra again; and libm only where the
# compiler did not inline what it uses (ceil on ARM, say).
WORKER_EVENT := $(shell $(PKG_CONFIG) --libs libevent_extra libevent_core 2>/dev/null)
comma := ,
# The worker's TLS is Mbed TLS (README, "Dependencies": a Pi 1's memory);
# its SHA-256 is libcrypto's, linked from the static archive, which gives
# the few objects SHA-256 needs and none of OpenSSL's start-up; libproc2
# comes from its archive too, which drops libsystemd and the six
# libraries it loads (libproc2 calls them only for systemd fields the
# profiler never asks for).
MBEDTLS	 := -lmbedtls -lmbedx509 -lmbedcrypto
WORKER_SHA ?= -Wl,-Bstatic -lcrypto -Wl,-Bdynamic
WORKER_PROC2 = $(if $(PROC2),-Wl$(comma)-Bstatic $(PROC2) -Wl$(comma)-Bdynamic)
AS_NEEDED := -Wl,--as-needed
TLSLIBS	 := $(shell $(PKG_CONFIG) --libs libevent_openssl openssl 2>/dev/null)
SSLLIBS	 := $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null)
JSONC	 := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)
SQLITE	 := $(shell $(PKG_CONFIG) --libs sqlite3 2>/dev/null)
PROC2	 := $(if $(NO_PROC2),,$(shell $(PKG_CONFIG) --libs libproc2 2>/dev/null))
CURSES	 := $(shell $(PKG_CONFIG) --libs ncursesw 2>/dev/null)
CMOCKA	 := -lcmocka

ifeq ($(V),1)
Q :=
else
Q := @
endif

# ---- libraries ----
# tls-pin.c needs libcrypto: a library of its own, so that what links
# the protocol library alone (fuzz targets, encore-swarm) need not.
PIN_SRCS	:= protocol/tls-pin.c
PROTO_SRCS	:= $(filter-out $(PIN_SRCS),$(wildcard protocol/*.c))
PROF_SRCS	:= $(wildcard profiler/*.c)
CONF_SRCS	:= $(wildcard config/*.c)
MAIN_SRCS	:= $(filter-out main-node/main-node.c,$(wildcard main-node/*.c))
WORKER_SRCS	:= $(filter-out worker-node/worker-node.c,$(wildcard worker-node/*.c))
CLIENT_SRCS	:= $(filter-out dashboard-tui/cli.c dashboard-tui/dashboard.c \
		     dashboard-tui/tui-%.c,$(wildcard dashboard-tui/*.c))
TUI_SRCS	:= $(wildcard dashboard-tui/tui-*.c)

objs = $(patsubst %.c,$(O)/%.o,$(1))

LIBPROTO	:= $(O)/libprotocol.a
LIBPIN		:= $(O)/libtlspin.a
LIBPROF		:= $(O)/libprofiler.a
LIBCONF		:= $(O)/libconfig.a
LIBMAIN		:= $(O)/libmain.a
LIBWORKER	:= $(O)/libworker.a
LIBCLIENT	:= $(O)/libclient.a
LIBTUI		:= $(O)/libtui.a

PROGS := $(BIN)/encore-main $(BIN)/encore-worker $(BIN)/encore $(BIN)/encore-top

all: $(PROGS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ENCORE_CPPFLAGS) $(CPPFLAGS) $(ENCORE_CFLAGS) $(CFLAGS) \
		-c -o $@ $<

define lib_rule
$(1): $(call objs,$(2))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(eval $(call lib_rule,$(LIBPROTO),$(PROTO_SRCS)))
$(eval $(call lib_rule,$(LIBPIN),$(PIN_SRCS)))
$(eval $(call lib_rule,$(LIBPROF),$(PROF_SRCS)))
$(eval $(call lib_rule,$(LIBCONF),$(CONF_SRCS)))
$(eval $(call lib_rule,$(LIBMAIN),$(MAIN_SRCS)))
$(eval $(call lib_rule,$(LIBWORKER),$(WORKER_SRCS)))
$(eval $(call lib_rule,$(LIBCLIENT),$(CLIENT_SRCS)))
$(eval $(call lib_rule,$(LIBTUI),$(TUI_SRCS)))

# ---- the web dashboard's files, compiled into encore-main (main-node/web.c
# serves them): embed.sh writes them as C arrays with od and awk, so no
# extra package is needed (why: in the script) ----
WEB_ASSETS	:= main-node/web/index.html main-node/web/app.css \
		   main-node/web/app.js main-node/web/favicon.svg
$(O)/main-node/web-assets.c: main-node/web/embed.sh $(WEB_ASSETS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)sh main-node/web/embed.sh $@ $(WEB_ASSETS)
$(O)/main-node/web-assets.o: $(O)/main-node/web-assets.c
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ENCORE_CPPFLAGS) $(CPPFLAGS) -Imain-node $(ENCORE_CFLAGS) \
		$(CFLAGS) -c -o $@ $<
$(LIBMAIN): $(O)/main-node/web-assets.o

link = @mkdir -p $(dir $@); $(if $(Q),echo "  LD      $@";) \
	$(CC) $(CFLAGS) $(ENCORE_LDFLAGS) $(LDFLAGS) -o $@ $^ $(1)

# The worker links no SQLite, no ncurses and no libssl (README,
# "Architecture"); it speaks TLS with a pinned token through Mbed TLS
# (worker-node/upstream-tls.c) and hashes task files with libcrypto's
# SHA-256 from its static archive (worker-node/hash.c).
$(BIN)/encore-main: $(O)/main-node/main-node.o $(LIBMAIN) $(LIBCONF) $(LIBPIN) \
		$(LIBPROTO)
	$(call link,$(SQLITE) $(TLSLIBS) $(LIBEVENT) $(JSONC) -lm)
$(BIN)/encore-worker: $(O)/worker-node/worker-node.o $(LIBWORKER) $(LIBPROF) \
		$(LIBCONF) $(LIBPROTO)
	$(call link,$(WORKER_PROC2) $(WORKER_EVENT) $(MBEDTLS) $(WORKER_SHA) \
	    $(JSONC) $(AS_NEEDED) -lm)
# The clients speak TLS to the main node with OpenSSL (a pinned token,
# README "Security"); encore hashes files and backups with its libcrypto,
# encore-top runs its TLS under libevent's bufferevent_openssl.
$(BIN)/encore: $(O)/dashboard-tui/cli.o $(LIBCLIENT) $(LIBCONF) $(LIBPIN) \
		$(LIBPROTO)
	$(call link,$(LIBEVENT) $(JSONC) $(SSLLIBS) -lm)
$(BIN)/encore-top: $(O)/dashboard-tui/dashboard.o $(LIBTUI) $(LIBCLIENT) \
		$(O)/profiler/prof-format.o $(LIBCONF) $(LIBPIN) $(LIBPROTO)
	$(call link,$(CURSES) $(TLSLIBS) $(LIBEVENT) $(JSONC) -lm)

# ---- unit tests: tests/unit/test-NAME.c, each linked with every library
# it may need (static archives pull in only what is used) ----
UNIT_SRCS	:= $(wildcard tests/unit/test-*.c)
UNIT_BINS	:= $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))
UNIT_LIBS	:= $(LIBMAIN) $(LIBWORKER) $(LIBTUI) $(LIBCLIENT) $(LIBPROF) \
		   $(LIBCONF) $(LIBPIN) $(LIBPROTO)

$(O)/tests/%: $(O)/tests/unit/%.o $(UNIT_LIBS)
	$(call link,$(CMOCKA) $(SQLITE) $(PROC2) $(CURSES) $(TLSLIBS) \
	    $(MBEDTLS) $(LIBEVENT) $(JSONC) -lcrypto -lm)

unit: $(UNIT_BINS)
	@pass=0; fail=0; for t in $(UNIT_BINS); do \
		if ENCORE_SRC=$(CURDIR) $$t; then pass=$$((pass+1)); \
		else fail=$$((fail+1)); echo "FAILED: $$t"; fi; \
	done; echo "unit: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# ---- integration tests (pytest, Debian's interpreter) ----
PYTEST	:= /usr/bin/python3 -m pytest
# -rs: the reason of every skipped test is printed in the summary.
PYTEST_ARGS ?= -q -rs

# Debian packages: `make test` installs everything its tests use, `make
# demo` only what the demo runs (packaging/deps.sh says which is which).
deps:
	@sh packaging/deps.sh test
deps-demo:
	@sh packaging/deps.sh demo

# The everyday loop: build, unit tests, integration tests against this
# build.  No packages installed, no fuzzing, no sanitizer pass: `make test`
# is the full gate.
check:
	$(MAKE) all unit $(BIN)/encore-swarm
	ENCORE_BIN=$(CURDIR)/$(BIN) $(PYTEST) $(PYTEST_ARGS) tests/integration

# Everything: unit tests, the same under ASan+UBSan, a short fuzz run, the
# integration tests against the sanitizer build (any sanitizer report of any
# process fails its test), then against the normal build, whose pytest
# summary is the last line.  The builds use every core (TEST_JOBS); the
# tests run one at a time.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
test: deps
	$(MAKE) -j$(TEST_JOBS) all unit $(BIN)/encore-swarm
	$(MAKE) -j$(TEST_JOBS) fuzz-smoke
	$(MAKE) -j$(TEST_JOBS) asan-integration
	ENCORE_BIN=$(CURDIR)/$(BIN) $(PYTEST) $(PYTEST_ARGS) tests/integration

# Tests under AddressSanitizer + UndefinedBehaviorSanitizer.
ASAN_MAKE := $(MAKE) SAN=1 O=build/asan BIN=build/asan/bin CC=gcc
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan-unit:
	$(ASAN_MAKE) unit
asan-integration:
	$(ASAN_MAKE) all unit build/asan/bin/encore-swarm
	$(ASAN_ENV) ENCORE_BIN=$(CURDIR)/build/asan/bin ENCORE_ASAN=1 \
		$(PYTEST) $(PYTEST_ARGS) tests/integration
asan: deps
	$(MAKE) asan-integration

# ---- fuzzing (clang libFuzzer) ----
FUZZ_SRCS	:= $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_O		:= build/fuzz
FUZZ_BINS	:= $(patsubst tests/fuzz/%.c,$(FUZZ_O)/%,$(FUZZ_SRCS))
FUZZ_TIME	?= 60

# Each target is built with clang from the library sources it may use.
$(FUZZ_O)/%: tests/fuzz/%.c $(PROTO_SRCS) $(CONF_SRCS) $(PROF_SRCS) \
		protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-Iprotocol -Iprofiler -Iconfig $(PKG_CFLAGS) -o $@ $< \
		$(PROTO_SRCS) $(CONF_SRCS) $(PROF_SRCS) \
		$(PROC2) $(LIBEVENT) $(JSONC) -lm

# fuzz-msg-decode needs only the protocol library (so it builds while the
# daemons' sources are in flux); UB is fatal so the fuzzer reports it.
$(FUZZ_O)/fuzz-msg-decode: tests/fuzz/fuzz-msg-decode.c $(PROTO_SRCS) \
		protocol/protocol.h protocol/msg-table.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol $(PKG_CFLAGS) \
		-o $@ $< $(PROTO_SRCS) $(LIBEVENT) $(JSONC) -lm

# fuzz-frames: a session's lines and raw file frames (protocol only).
$(FUZZ_O)/fuzz-frames: tests/fuzz/fuzz-frames.c $(PROTO_SRCS) \
		protocol/protocol.h protocol/msg-table.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol $(PKG_CFLAGS) \
		-o $@ $< $(PROTO_SRCS) $(LIBEVENT) $(JSONC) -lm

# fuzz-text-command: the text-export parser alone (main-node/export-parse.c
# is a pure function; nothing else of the main node is linked).
$(FUZZ_O)/fuzz-text-command: tests/fuzz/fuzz-text-command.c \
		main-node/export-parse.c main-node/main.h protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol -Imain-node \
		$(PKG_CFLAGS) -o $@ $< main-node/export-parse.c

# fuzz-journal: the worker's run journal format alone (worker-node/journal.c
# is pure but for the protocol library's allocators).
$(FUZZ_O)/fuzz-journal: tests/fuzz/fuzz-journal.c worker-node/journal.c \
		worker-node/worker.h $(PROTO_SRCS) protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol -Iprofiler \
		$(PKG_CFLAGS) -o $@ $< worker-node/journal.c $(PROTO_SRCS) \
		$(LIBEVENT) $(JSONC) -lm

# fuzz-cred: the worker's join token, ca.pin and join.secret parsers
# (worker-node/cred.c; its file helpers need util.c) with the protocol
# library.
$(FUZZ_O)/fuzz-cred: tests/fuzz/fuzz-cred.c worker-node/cred.c \
		worker-node/util.c worker-node/worker.h $(PROTO_SRCS) \
		protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol -Iprofiler \
		$(PKG_CFLAGS) -o $@ $< worker-node/cred.c worker-node/util.c \
		$(PROTO_SRCS) $(LIBEVENT) $(JSONC) -lm

# fuzz-cache-index: the worker's cache index format alone
# (worker-node/cache-index.c is pure but for the allocators).
$(FUZZ_O)/fuzz-cache-index: tests/fuzz/fuzz-cache-index.c \
		worker-node/cache-index.c worker-node/worker.h $(PROTO_SRCS) \
		protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol -Iprofiler \
		$(PKG_CFLAGS) -o $@ $< worker-node/cache-index.c $(PROTO_SRCS) \
		$(LIBEVENT) $(JSONC) -lm

# fuzz-policy: the worker's policy alone (worker-node/policy.c is pure but
# for the protocol library's allocators).
$(FUZZ_O)/fuzz-policy: tests/fuzz/fuzz-policy.c worker-node/policy.c \
		worker-node/worker.h $(PROTO_SRCS) protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol -Iprofiler \
		$(PKG_CFLAGS) -o $@ $< worker-node/policy.c $(PROTO_SRCS) \
		$(LIBEVENT) $(JSONC) -lm

# fuzz-client-display: what the clients make of a main node's bytes
# (dashboard-tui/display.c, client.c) with the protocol library.
$(FUZZ_O)/fuzz-client-display: tests/fuzz/fuzz-client-display.c \
		dashboard-tui/display.c dashboard-tui/client.c \
		dashboard-tui/client-tls.c dashboard-tui/client.h \
		$(PIN_SRCS) $(PROTO_SRCS) protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol $(PKG_CFLAGS) \
		-o $@ $< dashboard-tui/display.c dashboard-tui/client.c \
		dashboard-tui/client-tls.c $(PIN_SRCS) \
		$(PROTO_SRCS) $(LIBEVENT) $(JSONC) $(SSLLIBS) -lm

# fuzz-sniff: the first-byte dispatch alone (main-node/sniff.c is pure).
$(FUZZ_O)/fuzz-sniff: tests/fuzz/fuzz-sniff.c main-node/sniff.c \
		main-node/main.h protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol -Imain-node \
		$(PKG_CFLAGS) -o $@ $< main-node/sniff.c

# fuzz-http: the HTTP request head parser alone (main-node/http-parse.c).
$(FUZZ_O)/fuzz-http: tests/fuzz/fuzz-http.c main-node/http-parse.c \
		main-node/main.h $(PROTO_SRCS) protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol -Imain-node \
		$(PKG_CFLAGS) -o $@ $< main-node/http-parse.c $(PROTO_SRCS) \
		$(LIBEVENT) $(JSONC) -lm

# fuzz-cli-spec: submit's --array and --after parsers
# (dashboard-tui/cli-spec.c, pure) with the protocol library.
$(FUZZ_O)/fuzz-cli-spec: tests/fuzz/fuzz-cli-spec.c \
		dashboard-tui/cli-spec.c dashboard-tui/cli.h \
		$(PROTO_SRCS) protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol $(PKG_CFLAGS) \
		-o $@ $< dashboard-tui/cli-spec.c \
		$(PROTO_SRCS) $(LIBEVENT) $(JSONC) -lm

# fuzz-client-session: a main node's bytes through the clients' blocking
# session (dashboard-tui/client.c): lines, and the raw bytes of file
# frames taken or skipped.
$(FUZZ_O)/fuzz-client-session: tests/fuzz/fuzz-client-session.c \
		dashboard-tui/display.c dashboard-tui/client.c \
		dashboard-tui/client-tls.c dashboard-tui/client.h \
		$(PIN_SRCS) $(PROTO_SRCS) protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol $(PKG_CFLAGS) \
		-o $@ $< dashboard-tui/display.c dashboard-tui/client.c \
		dashboard-tui/client-tls.c $(PIN_SRCS) \
		$(PROTO_SRCS) $(LIBEVENT) $(JSONC) $(SSLLIBS) -lm

# fuzz-cli-input: submit's --input PATH[:NAME] splitter and default
# names (dashboard-tui/cli-spec.c, pure) with the protocol library.
$(FUZZ_O)/fuzz-cli-input: tests/fuzz/fuzz-cli-input.c \
		dashboard-tui/cli-spec.c dashboard-tui/cli.h \
		$(PROTO_SRCS) protocol/protocol.h
	@mkdir -p $(dir $@)
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iprotocol $(PKG_CFLAGS) \
		-o $@ $< dashboard-tui/cli-spec.c \
		$(PROTO_SRCS) $(LIBEVENT) $(JSONC) -lm

fuzz-build: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); \
		mkdir -p build/fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_TIME)s (log: build/fuzz/$$n.log)"; \
		if ! $$f -max_total_time=$(FUZZ_TIME) -max_len=70000 \
		    -artifact_prefix=build/fuzz/ build/fuzz/corpus/$$n \
		    tests/fixtures/fuzz/$$n >build/fuzz/$$n.log 2>&1; then \
			tail -60 build/fuzz/$$n.log; exit 1; fi; \
		tail -1 build/fuzz/$$n.log; done
fuzz-smoke:
	$(MAKE) fuzz FUZZ_TIME=5

# The swarm simulator is built for bench and test, not by `all`.
$(BIN)/encore-swarm: $(O)/tests/bench/encore-swarm.o $(LIBPROTO)
	$(call link,$(LIBEVENT) $(JSONC) -lm)
# The spawn limit of this machine (tests/bench/spawn-limit.c).
$(BIN)/encore-spawn-limit: $(O)/tests/bench/spawn-limit.o
	$(call link,-lpthread)

# The worker's TLS handshake against a real main node
# (tests/bench/tls-handshake.c, with the worker's own client session).
$(BIN)/encore-tls-handshake: $(O)/tests/bench/tls-handshake.o $(LIBWORKER) \
		$(LIBPROTO)
	$(call link,$(MBEDTLS) $(WORKER_SHA) $(LIBEVENT) $(JSONC) -lm)

bench: all $(BIN)/encore-swarm $(BIN)/encore-spawn-limit \
		$(BIN)/encore-tls-handshake
	@ENCORE_BIN=$(CURDIR)/$(BIN) sh tests/bench/run.sh

demo: deps-demo
	$(MAKE) all
	@sh packaging/demo.sh

demo-stop:
	@sh packaging/demo-stop.sh

# Binaries, man pages, bash completion and the example configs.
MAN1	:= doc/encore.1 doc/encore-top.1
MAN8	:= doc/encore-main.8 doc/encore-worker.8
MANDIR	?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/encore \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 packaging/bash-completion/encore \
		$(DESTDIR)$(BASHCOMPDIR)/encore
	install -m 0644 config/main.conf config/worker.conf \
		$(DESTDIR)$(PREFIX)/share/encore/

clean:
	rm -rf build bin

# Debian packages encore-main, encore-worker, encore-tools into build/deb/.
deb:
	@sh packaging/deb.sh

.PHONY: all check unit test asan asan-unit asan-integration deps deps-demo fuzz fuzz-build fuzz-smoke bench \
	demo demo-stop install clean deb
.SECONDARY:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
