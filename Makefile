# schedlife: schedlifed (daemon) and schedctl (its CLI).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
VERSION := 0.1.0

CJSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcjson 2>/dev/null)
CJSON_LIBS := $(shell $(PKG_CONFIG) --libs libcjson 2>/dev/null || echo -lcjson)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
# argp is part of glibc; elsewhere (musl) it comes from argp-standalone.
ARGP_LIBS := $(shell echo 'int main(void){extern int argp_parse(); return argp_parse();}' | \
	$(CC) -x c - -o /dev/null 2>/dev/null || echo -largp)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-format-nonliteral -Wvla
CFLAGS ?= -O2 -g
SAN ?=
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DSCHEDLIFE_VERSION='"$(VERSION)"' $(WARN) \
	-Icommon $(CJSON_CFLAGS) $(CFLAGS)

B := build
COMMON_SRC := $(wildcard common/*.c)
DAEMON_SRC := $(wildcard daemon/*.c)
CMD_SRC := $(wildcard cmd/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(B)/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(B)/%.o)
DAEMON_LIB_OBJ := $(filter-out $(B)/daemon/main.o,$(DAEMON_OBJ))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

all: $(B)/schedlifed $(B)/schedctl $(B)/fake_sched

$(B)/%.o: %.c $(wildcard common/*.h daemon/*.h cmd/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Idaemon -c $< -o $@

$(B)/schedlifed: $(DAEMON_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(ARGP_LIBS)

$(B)/schedctl: $(CMD_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(ARGP_LIBS)

$(B)/fake_sched: tests/fake_sched.c
	@mkdir -p $(B)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/tests/%: tests/unit/%.c $(DAEMON_LIB_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Idaemon $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ $^ \
		$(CMOCKA_LIBS) $(CJSON_LIBS) $(ARGP_LIBS)

unit: $(UNIT_BIN)

check: all unit
	@tests/run-all

clean:
	rm -rf $(B)

.PHONY: all unit check clean

demo: all
	@tools/demo

.PHONY: demo
