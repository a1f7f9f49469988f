# mptcpext - top-level build. `make` builds, `make test` installs what is
# missing (Debian packages) and runs the whole suite, `make lint` checks.

CC       ?= gcc
CLANG    ?= clang
PYTHON   := /usr/bin/python3
BUILD    := build
ASAN_DIR := $(BUILD)/asan

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-missing-field-initializers
CFLAGS_BASE := -std=gnu11 -g $(WARN) -Iuserstack/core -Iuserstack/io -Itests/unit
CFLAGS   ?= -O2
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LIBS     := -lcrypto -lm

CORE_SRC := $(sort $(wildcard userstack/core/*.c))
IO_SRC   := $(sort $(wildcard userstack/io/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
HDRS     := $(wildcard userstack/core/*.h userstack/io/*.h tests/unit/*.h)

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
IO_OBJ   := $(IO_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
CORE_AOBJ := $(CORE_SRC:%.c=$(ASAN_DIR)/%.o)
IO_AOBJ   := $(IO_SRC:%.c=$(ASAN_DIR)/%.o)
UNIT_AOBJ := $(UNIT_SRC:%.c=$(ASAN_DIR)/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20

.PHONY: all asan test unit lint format deps fuzz fuzz-build bench clean demo
all: $(BUILD)/libmpxcore.a $(BUILD)/unit_tests

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

$(BUILD)/unit_tests: $(UNIT_OBJ) $(IO_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(ASAN_DIR)/unit_tests: $(UNIT_AOBJ) $(IO_AOBJ) $(CORE_AOBJ)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

asan: $(ASAN_DIR)/unit_tests

# --- fuzzing (libFuzzer, clang) -----------------------------------------
$(BUILD)/fuzz/%: tests/fuzz/%.c $(CORE_SRC) $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CLANG) -std=gnu11 -g -O1 -Iuserstack/core -fsanitize=fuzzer,address,undefined \
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

# --- tests ---------------------------------------------------------------
deps:
	@sh scripts/deps.sh

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

# pytest exits 5 when it collected no test: that is a failure here.
test: deps all asan fuzz-build
	@$(PYTHON) -m pytest -q -rs tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest ran no tests" >&2; exit 1; fi; exit $$rc

# --- checks --------------------------------------------------------------
SRC_ALL := $(CORE_SRC) $(IO_SRC) $(UNIT_SRC) $(FUZZ_SRC) $(HDRS) $(wildcard bench/*.c)

lint: deps
	clang-format --dry-run --Werror $(SRC_ALL)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --std=c11 --inline-suppr -Iuserstack/core -Iuserstack/io \
	    --suppress=missingIncludeSystem userstack tests/unit tests/fuzz
	@$(PYTHON) scripts/funclen.py $(CORE_SRC) $(IO_SRC)

format:
	clang-format -i $(SRC_ALL)

clean:
	rm -rf $(BUILD)
