# vault build: `make` builds build/vault; `make SANITIZE=1` builds the same
# with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/.
# `make test` builds and runs the unit and integration tests of that build.

CC       ?= cc
PKGS     := libmicrohttpd jansson libjwt sqlite3 libcrypt libcrypto libcurl md4c
TESTPKGS := criterion libcurl
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wno-missing-field-initializers -pthread -Isrc -DVAULT_VERSION='"$(VERSION)"' \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lstemmer -pthread -lm

ifeq ($(SANITIZE),1)
BUILD    ?= build-asan
CFLAGS   += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
export LSAN_OPTIONS ?= suppressions=$(CURDIR)/tests/lsan.supp
else
BUILD    ?= build
endif

SRC      := $(shell find src -name '*.c' | sort)
LIBSRC   := $(filter-out src/cli/%,$(SRC))
OBJ      := $(SRC:%.c=$(BUILD)/obj/%.o)
LIBOBJ   := $(LIBSRC:%.c=$(BUILD)/obj/%.o)
# tests/common: helpers both suites link, e.g. the fake OpenAI-compatible server.
COMMONSRC := $(sort $(wildcard tests/common/*.c))
UNITSRC  := $(sort $(wildcard tests/unit/*.c)) $(COMMONSRC)
ITSRC    := $(sort $(wildcard tests/integration/*.c)) $(COMMONSRC)
UNITOBJ  := $(UNITSRC:%.c=$(BUILD)/obj/%.o)
ITOBJ    := $(ITSRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all test unit integration clean format format-check

all: $(BUILD)/vault

$(BUILD)/vault: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/tests/%.o: CFLAGS += $(shell pkg-config --cflags $(TESTPKGS)) -Itests

$(BUILD)/unit_tests: $(UNITOBJ) $(LIBOBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(TESTPKGS))

$(BUILD)/integration_tests: $(ITOBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(TESTPKGS))

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests $(TESTFLAGS)

integration: $(BUILD)/vault $(BUILD)/integration_tests
	VAULT_BIN=$(BUILD)/vault $(BUILD)/integration_tests $(TESTFLAGS)

test: unit integration

format:
	clang-format -i $(sort $(SRC) $(UNITSRC) $(ITSRC)) $(shell find src tests -name '*.h')

format-check:
	clang-format --dry-run --Werror $(sort $(SRC) $(UNITSRC) $(ITSRC)) $(shell find src tests -name '*.h')

clean:
	rm -rf build build-asan

-include $(sort $(OBJ:.o=.d) $(UNITOBJ:.o=.d) $(ITOBJ:.o=.d))
