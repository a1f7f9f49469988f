# mptcpext - top-level build. `make` builds, `make test` installs what is
# missing (Debian packages) and runs the whole suite, `make lint` checks.

CC       ?= gcc
CLANG    ?= clang
PYTHON   := /usr/bin/python3
BUILD    := build
ASAN_DIR := $(BUILD)/asan

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-missing-field-initializers
CFLAGS_BASE := -std=gnu11 -g $(WARN) -Iuserstack/core -Iuserstack/io -Itests/unit \
            -Iuserstack -Iuserstack/daemon
CFLAGS   ?= -O2
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LIBS     := -lcrypto -lm -luring

CORE_SRC := $(sort $(wildcard userstack/core/*.c))
IO_SRC   := $(sort $(wildcard userstack/io/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
HDRS     := $(wildcard userstack/core/*.h userstack/io/*.h tests/unit/*.h userstack/*.h \
              userstack/daemon/*.h userstack/cli/*.h)
# Daemon/CLI (issue 6): rpc.c and the daemon's config parser are shared with
# the unit tests; the rest of userstack/daemon and userstack/cli make the binaries.
SHARED_SRC := userstack/rpc.c userstack/daemon/config.c
DAEMON_SRC := $(filter-out $(SHARED_SRC),$(sort $(wildcard userstack/daemon/*.c)))
CLI_SRC    := $(sort $(wildcard userstack/cli/*.c))
SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/%.o)
SHARED_AOBJ := $(SHARED_SRC:%.c=$(ASAN_DIR)/%.o)

# The shim (issue 7), see libmptcpext.so below.
SHIM_SRC   := $(sort $(wildcard shim/*.c))
SHIM_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/%,$(wildcard tests/tools/shim_*.c))
SHIM_ALL   := $(if $(SHIM_SRC),$(BUILD)/libmptcpext.so $(SHIM_TOOLS))

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
IO_OBJ   := $(IO_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
CORE_AOBJ := $(CORE_SRC:%.c=$(ASAN_DIR)/%.o)
IO_AOBJ   := $(IO_SRC:%.c=$(ASAN_DIR)/%.o)
UNIT_AOBJ := $(UNIT_SRC:%.c=$(ASAN_DIR)/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20

.PHONY: all asan test unit lint format deps fuzz fuzz-build bench bench-lab bench-shim soak clean demo
all: $(BUILD)/libmpxcore.a $(BUILD)/unit_tests $(BUILD)/mptcpextd $(BUILD)/mptcpext $(BUILD)/codec_oracle $(BUILD)/linkemu $(BUILD)/tun_probe \
     $(BUILD)/libmpxtlsh_test.so $(BUILD)/tlsh_cbapp $(SHIM_ALL)

# --- objects -------------------------------------------------------------
$(BUILD)/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -c $< -o $@

$(ASAN_DIR)/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 $(SAN) -c $< -o $@

$(BUILD)/libmpxcore.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/unit_tests: $(UNIT_OBJ) $(SHARED_OBJ) $(IO_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(ASAN_DIR)/unit_tests: $(UNIT_AOBJ) $(SHARED_AOBJ) $(IO_AOBJ) $(CORE_AOBJ)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

asan: $(ASAN_DIR)/unit_tests $(ASAN_DIR)/mptcpextd $(ASAN_DIR)/mptcpext

# Sanitizer builds of the daemon and the CLI: MPTCPEXTD=build/asan/mptcpextd
# MPTCPEXT=build/asan/mptcpext pytest tests/test_daemon.py runs the lab tests on them.
$(ASAN_DIR)/mptcpextd: $(DAEMON_SRC:%.c=$(ASAN_DIR)/%.o) $(SHARED_AOBJ) $(IO_AOBJ) $(CORE_AOBJ)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

$(ASAN_DIR)/mptcpext: $(CLI_SRC:%.c=$(ASAN_DIR)/%.o) $(ASAN_DIR)/userstack/rpc.o $(CORE_AOBJ)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

# The engine daemon and the command-line tool (issue 6).
$(BUILD)/mptcpextd: $(DAEMON_SRC:%.c=$(BUILD)/%.o) $(SHARED_OBJ) $(IO_OBJ) $(BUILD)/libmpxcore.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/mptcpext: $(CLI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/userstack/rpc.o $(BUILD)/libmpxcore.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# Encodes every MPTCP option form into a pcap for tests/test_codec_tshark.py.
$(BUILD)/codec_oracle: tests/tools/codec_oracle.c $(BUILD)/libmpxcore.a $(HDRS) Makefile
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $< $(BUILD)/libmpxcore.a $(LIBS)

# tlshooks/ (OpenSSL/GnuTLS exporter hooks) with the TEST host, preloaded by
# tests/test_tlshooks.py; the shim will link tlshooks/ with its own host.
# Never -lssl/-lgnutls: the real functions are found at run time.
TLSH_SRC := $(sort $(wildcard tlshooks/*.c)) tests/tools/tlsh_testhost.c
$(BUILD)/libmpxtlsh_test.so: $(TLSH_SRC) $(wildcard tlshooks/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -Itlshooks -shared -fPIC -fvisibility=hidden -o $@ \
	    $(TLSH_SRC) -ldl -lpthread

# libmptcpext.so (issue 7): the LD_PRELOAD shim, with tlshooks/ and the shim's
# TLS host, and rpc.c. -fvisibility=hidden: only the interposed libc and TLS
# functions (marked default) are exported. tests/tools/shim_*.c are test
# programs run under the shim by tests/test_shim*.py.
$(BUILD)/libmptcpext.so: $(SHIM_SRC) $(sort $(wildcard tlshooks/*.c)) userstack/rpc.c \
                         $(wildcard shim/*.h tlshooks/*.h) userstack/rpc.h Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -Itlshooks -Ishim -shared -fPIC -fvisibility=hidden \
	    -Wl,-z,defs -o $@ $(SHIM_SRC) $(sort $(wildcard tlshooks/*.c)) userstack/rpc.c -ldl -lpthread

$(BUILD)/shim_%: tests/tools/shim_%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -Ishim -o $@ $< -lpthread

# An OpenSSL app (linked normally: it is not the hook) for test_tlshooks.py:
# callback chaining, bypassed SSL_new, renegotiation, error queue.
$(BUILD)/tlsh_cbapp: tests/tools/tlsh_cbapp.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $< -lssl -lcrypto -ldl

# Drives userstack/io/tun.c against the real kernel for tests/test_tun.py.
$(BUILD)/tun_probe: tests/tools/tun_probe.c $(IO_OBJ) $(BUILD)/libmpxcore.a $(HDRS) Makefile
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $< $(IO_OBJ) $(BUILD)/libmpxcore.a $(LIBS)

# Userspace link emulator (delay/jitter/loss) for the netlab router namespaces.
$(BUILD)/linkemu: lab/linkemu.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $< -lnetfilter_queue -lmnl -lm

# --- fuzzing (libFuzzer, clang) -----------------------------------------
$(BUILD)/fuzz/%: tests/fuzz/%.c $(CORE_SRC) $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CLANG) -std=gnu11 -g -O1 -Iuserstack/core -Iuserstack -Iuserstack/daemon \
	    -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -o $@ $< $(CORE_SRC) $(LIBS)

fuzz-build: $(FUZZ_BIN)

# Run every fuzz target for FUZZ_SECONDS each, from its committed corpus.
fuzz: deps $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	    n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    echo "== $$n for $(FUZZ_SECONDS) s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# --- benchmark (not a test) ---------------------------------------------
$(BUILD)/tcp_bench: bench/tcp_bench.c $(CORE_OBJ) $(HDRS)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ bench/tcp_bench.c $(CORE_OBJ) $(LIBS)

bench: $(BUILD)/tcp_bench
	$(BUILD)/tcp_bench

# Engine against kernel MPTCP in the netlab (root): bench/README.md.
# BENCH_LAB_ARGS e.g. "--runs 5 --scenario cut --json".
BENCH_LAB_ARGS ?=
bench-lab: $(BUILD)/mptcpextd $(BUILD)/mptcpext $(BUILD)/linkemu
	/usr/bin/python3 bench/lab_bench.py $(BENCH_LAB_ARGS)

# The shim's connection-rate / bulk client and server (bench/shim_bench.py).
$(BUILD)/conn_rate: bench/conn_rate.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $<

# The shim against mptcpext connect and kernel MPTCP (root): bench/README.md.
BENCH_SHIM_ARGS ?=
bench-shim: all $(BUILD)/conn_rate
	/usr/bin/python3 bench/shim_bench.py $(BENCH_SHIM_ARGS)

# Longer randomised runs of the simulated-network scenarios (not part of
# `make test`): SOAK_SEEDS seeds per soak test.
SOAK_SEEDS ?= 200
soak: $(BUILD)/unit_tests
	MPX_SOAK_SEEDS=$(SOAK_SEEDS) $(BUILD)/unit_tests tcp_soak

# --- tests ---------------------------------------------------------------
deps:
	@sh scripts/deps.sh

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

# pytest exits 5 when it collected no test: that is a failure here.
test: deps all asan fuzz-build
	@$(PYTHON) -m pytest -q -rsxX tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest ran no tests" >&2; exit 1; fi; exit $$rc

# nginx -> curl over TLS under the shim, two lab paths, external keys from the
# TLS exporter; prints subflows, keys, bytes per path; plot in build/demo.png
# (root). DEMO_ARGS e.g. "--size-mb 20" or "--data-path cli".
DEMO_ARGS ?=
demo: deps all
	$(PYTHON) lab/demo.py $(DEMO_ARGS)

# --- checks --------------------------------------------------------------
SRC_ALL := $(CORE_SRC) $(IO_SRC) $(UNIT_SRC) $(FUZZ_SRC) $(HDRS) $(SHARED_SRC) $(DAEMON_SRC) $(CLI_SRC) $(wildcard bench/*.c) \
           $(TLSH_SRC) $(wildcard tlshooks/*.h) tests/tools/tlsh_cbapp.c \
           $(SHIM_SRC) $(wildcard shim/*.h) $(wildcard tests/tools/shim_*.c)

lint: deps
	clang-format --dry-run --Werror $(SRC_ALL)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --std=c11 --inline-suppr -Iuserstack/core -Iuserstack/io \
	    --suppress=missingIncludeSystem userstack $(wildcard shim) tests/unit tests/fuzz
	@$(PYTHON) scripts/funclen.py $(CORE_SRC) $(IO_SRC)

format:
	clang-format -i $(SRC_ALL)

clean:
	rm -rf $(BUILD)
