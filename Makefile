# vault build: `make` builds build/vault; `make SANITIZE=1` builds the same
# with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/;
# `make SANITIZE=thread` with ThreadSanitizer into build-tsan/ (TSan cannot
# share a process with ASan, hence its own build).
# `make test` builds and runs the unit and integration tests of that build.
# `make fuzz` builds the libFuzzer targets of fuzz/ with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer into build-fuzz/fuzz/ (scripts/fuzz runs them).

CC       ?= cc
PKGS     := libmicrohttpd jansson libjwt sqlite3 libpq libcrypt libcrypto libcurl md4c \
            openblas libutf8proc yaml-0.1 poppler-glib libarchive
# md4c-html: only the tests, to check the renderer's markup against md4c's own.
TESTPKGS := criterion libcurl md4c-html cairo-pdf libarchive
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wno-missing-field-initializers -pthread -Isrc -DVAULT_VERSION='"$(VERSION)"' \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lstemmer -pthread -lm

# Hardening, as Debian builds its packages: stack protector, CET, RELRO and
# immediate binding, position-independent; _FORTIFY_SOURCE outside sanitizer
# builds (ASan checks those calls itself).
CFLAGS   += -fstack-protector-strong -fstack-clash-protection -fcf-protection -fPIE \
            -Wformat -Werror=format-security
LDFLAGS  += -pie -Wl,-z,relro -Wl,-z,now

ifeq ($(FUZZ),1)
# Everything instrumented for coverage; only the targets link libFuzzer's main.
CC       := clang
BUILD    ?= build-fuzz
CFLAGS   += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=fuzzer,address,undefined
else ifeq ($(SANITIZE),1)
BUILD    ?= build-asan
CFLAGS   += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
export LSAN_OPTIONS ?= suppressions=$(CURDIR)/tests/lsan.supp
else ifeq ($(SANITIZE),thread)
BUILD    ?= build-tsan
CFLAGS   += -O1 -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=thread
# A race fails the process (the tests and the servers they start, which
# inherit this), with reports for both stacks of a lock-order inversion.
# Options given by the caller come last and win.
export TSAN_OPTIONS := suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1 exitcode=66 \
                       second_deadlock_stack=1 $(TSAN_OPTIONS)
# gcc 12's TSan cannot lay out its shadow memory beside more than 28 bits of
# mmap randomisation (the default of newer kernels): the tests, and the
# servers they start, then run without ASLR.
ifneq ($(shell [ "$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null)" -gt 28 ] 2>/dev/null && echo y),)
RUN      := setarch $(shell uname -m) -R
endif
else
BUILD    ?= build
CFLAGS   += -D_FORTIFY_SOURCE=2
endif

SRC      := $(shell find src -name '*.c' | sort)
LIBSRC   := $(filter-out src/cli/%,$(SRC))
# web/: the page's files, built into the binary as a C table (src/http/web.h).
WEBFILES := $(shell find web -type f | LC_ALL=C sort)
WEBOBJ   := $(BUILD)/obj/gen/web_assets.o
OBJ      := $(SRC:%.c=$(BUILD)/obj/%.o) $(WEBOBJ)
LIBOBJ   := $(LIBSRC:%.c=$(BUILD)/obj/%.o) $(WEBOBJ)
# tests/common: helpers both suites link, e.g. the fake OpenAI-compatible server.
COMMONSRC := $(sort $(wildcard tests/common/*.c))
UNITSRC  := $(sort $(wildcard tests/unit/*.c)) $(COMMONSRC)
ITSRC    := $(sort $(wildcard tests/integration/*.c)) $(COMMONSRC)
UNITOBJ  := $(UNITSRC:%.c=$(BUILD)/obj/%.o)
ITOBJ    := $(ITSRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all test unit integration openapi-lint e2e-tools fuzz fuzz-targets clean format format-check

all: $(BUILD)/vault

# Objects depend on this file too: a change of flags rebuilds them.
$(BUILD)/vault: $(OBJ) Makefile
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/tests/%.o: CFLAGS += $(shell pkg-config --cflags $(TESTPKGS)) -Itests

$(BUILD)/webembed: tools/webembed.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -std=c17 -Wall -Wextra -Werror -o $@ $<

# The API reference at /docs: Swagger UI's files from npm (the exact version
# of tools/apidocs/package-lock.json) around tools/apidocs/docs.js, served
# by vault itself under the page's CSP.
APIDOCS_NPM := tools/apidocs/node_modules/.package-lock.json
SWAGGER_UI  := tools/apidocs/node_modules/swagger-ui-dist
APIDOCS     := /docs=tools/apidocs/docs.html /docs/docs.js=tools/apidocs/docs.js \
               /docs/swagger-ui.css=$(SWAGGER_UI)/swagger-ui.css \
               /docs/swagger-ui-bundle.js=$(SWAGGER_UI)/swagger-ui-bundle.js

$(APIDOCS_NPM): tools/apidocs/package-lock.json
	cd tools/apidocs && npm ci --no-audit --no-fund --loglevel=error

# Depends on web/ itself too, so adding or removing a file rebuilds the table.
$(BUILD)/gen/web_assets.c: $(BUILD)/webembed $(WEBFILES) web $(shell find web -type d) \
                           tools/apidocs/docs.html tools/apidocs/docs.js $(APIDOCS_NPM)
	@mkdir -p $(dir $@)
	$(BUILD)/webembed $@ web $(WEBFILES) $(APIDOCS)

$(WEBOBJ): $(BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The end-to-end tests' helper: the fake OpenAI-compatible server on its own.
$(BUILD)/fake_ai: $(BUILD)/obj/tests/e2e/fake_ai.o $(BUILD)/obj/tests/common/fake_openai.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(TESTPKGS))

e2e-tools: $(BUILD)/vault $(BUILD)/fake_ai

# bench/'s tools: the store's vector search on the anchor's sets (vectors.sh), the corpus
# seeder (search.sh), the embedder's timer (embed.sh).
BENCHBIN := $(addprefix $(BUILD)/bench/,vectors search_corpus embed_speed)
$(BENCHBIN): $(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit_tests: $(UNITOBJ) $(LIBOBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(TESTPKGS))

$(BUILD)/integration_tests: $(ITOBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(TESTPKGS))

# tests/crash: helpers of the durability tests. crashfs.so is preloaded into
# the server: built without the sanitizers (it runs in front of their
# interceptors) and without _FORTIFY_SOURCE (whose inline open() it replaces).
$(BUILD)/crashfs.so: tests/crash/crashfs.c Makefile
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c17 -D_GNU_SOURCE -U_FORTIFY_SOURCE -Wall -Wextra -Werror -Wshadow \
		-Wstrict-prototypes -fPIC -shared -o $@ $< -ldl

# vault itself, its SQLite stores at synchronous=NORMAL (see sync_normal.c).
$(BUILD)/vault_sync_normal: $(OBJ) $(BUILD)/obj/tests/crash/sync_normal.o
	$(CC) $(LDFLAGS) -Wl,--wrap=store_open -o $@ $^ $(LDLIBS)

# SQLite's checks of a database, with vault's tokenizer (see sqlite_check.c).
$(BUILD)/sqlite_check: $(LIBOBJ) $(BUILD)/obj/tests/crash/sqlite_check.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(BUILD)/unit_tests $(BUILD)/vault
	$(RUN) $(BUILD)/unit_tests $(TESTFLAGS)

# tests/openapi: Redocly's linter and ajv from npm, at the exact versions of
# its lockfile. Neither may call home (loopback only in tests).
OPENAPI_NPM := tests/openapi/node_modules/.package-lock.json
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true

$(OPENAPI_NPM): tests/openapi/package-lock.json
	cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error

# Every answer the tests receive is recorded (tests/integration/harness.c),
# then checked against the OpenAPI document: a drift fails the suite.
integration: $(BUILD)/vault $(BUILD)/integration_tests $(BUILD)/crashfs.so \
             $(BUILD)/vault_sync_normal $(BUILD)/sqlite_check $(OPENAPI_NPM)
	rm -rf $(BUILD)/responses && mkdir -p $(BUILD)/responses
	VAULT_BIN=$(BUILD)/vault VAULT_IT_RESPONSES=$(CURDIR)/$(BUILD)/responses \
		$(RUN) $(BUILD)/integration_tests $(TESTFLAGS)
	$(RUN) node tests/openapi/validate.mjs $(BUILD)/vault $(BUILD)/responses

# The document through Redocly's linter, every recommended rule an error.
openapi-lint: $(BUILD)/vault $(OPENAPI_NPM)
	$(RUN) $(BUILD)/vault openapi > $(BUILD)/openapi.json
	cd tests/openapi && npx --no-install redocly lint --config redocly.yaml \
		$(CURDIR)/$(BUILD)/openapi.json

test: unit integration

# fuzz/: one libFuzzer target per parser of untrusted bytes; harness.c is the
# in-process server the HTTP-level targets share. The library goes in as an
# archive so a target takes only the modules it reaches.
FUZZSRC  := $(sort $(wildcard fuzz/*.c))
FUZZOBJ  := $(FUZZSRC:%.c=$(BUILD)/obj/%.o)
FUZZBIN  := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(filter-out fuzz/harness.c,$(FUZZSRC)))

fuzz:
	$(MAKE) FUZZ=1 fuzz-targets

fuzz-targets: $(FUZZBIN)

$(BUILD)/libvault.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZBIN): $(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(BUILD)/libvault.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS)

$(BUILD)/fuzz/body $(BUILD)/fuzz/query $(BUILD)/fuzz/mcp $(BUILD)/fuzz/import $(BUILD)/fuzz/upload: \
    $(BUILD)/obj/fuzz/harness.o

FMTSRC   := $(sort $(SRC) $(UNITSRC) $(ITSRC) $(FUZZSRC) tools/webembed.c tests/e2e/fake_ai.c \
              bench/embed_speed.c bench/vectors.c $(wildcard tests/crash/*.c))

format:
	clang-format -i $(FMTSRC) $(shell find src tests fuzz -name '*.h')

format-check:
	clang-format --dry-run --Werror $(FMTSRC) $(shell find src tests fuzz -name '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(sort $(OBJ:.o=.d) $(UNITOBJ:.o=.d) $(ITOBJ:.o=.d) $(FUZZOBJ:.o=.d) \
                 $(BUILD)/obj/tests/crash/sync_normal.d $(BUILD)/obj/tests/crash/sqlite_check.d)
