# schedlife: schedlifed (daemon) and schedctl (its CLI).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
VERSION := 0.2.0

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
# make SAN=1 ...: everything built with ASan and UBSan, in build-san/.
SAN ?=
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
B := build-san
else
B := build
endif
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DSCHEDLIFE_VERSION='"$(VERSION)"' $(WARN) \
	-Icommon $(CJSON_CFLAGS) $(CFLAGS)

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

# Every suite, on the plain build and again under ASan+UBSan (build-san/), ending in one
# line "N passed, N failed". check-fast: the plain build only.
check: all unit
	@$(MAKE) --no-print-directory SAN=1 all unit
	@tests/run-all build build-san

check-fast: all unit
	@tests/run-all $(B)

# The unit and integration suites with the daemon under valgrind (not part of check).
VALGRIND_CMD := valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
check-valgrind: all unit
	@VALGRIND="$(VALGRIND_CMD)" tests/run-all $(B)

# The real-kernel tier (tests/vm/run): Linux 7.3.4 with sched_ext under QEMU, the kernel's
# own schedulers; fetches and builds into VMTEST_CACHE once. Not part of check.
vmtest: all
	@tests/vm/run $(B)

clean:
	rm -rf build build-san

.PHONY: all unit check check-fast check-valgrind clean vmtest

demo: all
	@tools/demo

.PHONY: demo

# ---- install ----
# make install [PREFIX=/usr] [DESTDIR=/tmp/pkg]: the programs, man pages, the systemd
# unit, bash completion and an example config. A real schedlifed.json is never written.
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= /lib/systemd/system
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL ?= install
MAN_PAGES := $(wildcard man/*.[1-8])
CONFDIR := $(SYSCONFDIR)/schedlifed

install: $(B)/schedlifed $(B)/schedctl
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(CONFDIR)
	$(INSTALL) -m 0755 $(B)/schedctl $(DESTDIR)$(BINDIR)/schedctl
	$(INSTALL) -m 0755 $(B)/schedlifed $(DESTDIR)$(SBINDIR)/schedlifed
	for p in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${p##*.}; \
		$(INSTALL) -d "$$d" && $(INSTALL) -m 0644 "$$p" "$$d/" || exit 1; \
	done
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/schedlifed.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/schedlifed.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/schedlifed.service
	$(INSTALL) -m 0644 dist/schedctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/schedctl
	$(INSTALL) -m 0644 dist/schedlifed.json.example $(DESTDIR)$(CONFDIR)/schedlifed.json.example

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/schedctl $(DESTDIR)$(SBINDIR)/schedlifed \
		$(DESTDIR)$(SYSTEMDUNITDIR)/schedlifed.service $(DESTDIR)$(BASHCOMPDIR)/schedctl \
		$(DESTDIR)$(CONFDIR)/schedlifed.json.example
	for p in $(MAN_PAGES); do rm -f $(DESTDIR)$(MANDIR)/man$${p##*.}/$${p##*/}; done
	[ ! -d $(DESTDIR)$(CONFDIR) ] || rmdir $(DESTDIR)$(CONFDIR) 2>/dev/null || true

.PHONY: install uninstall

# ---- fuzz ----
# libFuzzer harnesses (issue 4, tests/fuzz/README). `make fuzz` builds them with clang and
# runs each for FUZZ_SECONDS on a copy of its seed corpus in build/fuzz/corpus-NAME; a
# crash fails the target and leaves the input in build/fuzz/artifacts-NAME/. `make -j2
# fuzz` runs the harnesses side by side; FUZZ_HARNESSES picks some, FUZZ_ARGS adds flags.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES ?= request config
FUZZ_ARGS ?=
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
	-Icommon -Idaemon $(CJSON_CFLAGS)
FUZZ_LIB_SRC := $(wildcard common/*.c) daemon/config.c daemon/config_walk.c \
	daemon/config_entry.c daemon/registry.c daemon/authz.c daemon/identity.c

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_LIB_SRC) \
		$(wildcard common/*.h daemon/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRC) $(CJSON_LIBS) -lm

fuzz-build: $(FUZZ_HARNESSES:%=$(B)/fuzz/fuzz_%)

fuzz: $(FUZZ_HARNESSES:%=fuzz-run-%)

# Not .PHONY: a pattern rule is never searched for a phony target; no such file exists.
fuzz-run-%: $(B)/fuzz/fuzz_%
	@mkdir -p $(B)/fuzz/corpus-$* $(B)/fuzz/artifacts-$*
	@cp tests/fuzz/corpus/$*/* $(B)/fuzz/corpus-$*/
	@echo "fuzz: $* for $(FUZZ_SECONDS)s, log in $(B)/fuzz/$*.log"
	@if $(B)/fuzz/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-dict=tests/fuzz/$*.dict -artifact_prefix=$(B)/fuzz/artifacts-$*/ \
		-print_final_stats=1 $(FUZZ_ARGS) $(B)/fuzz/corpus-$* >$(B)/fuzz/$*.log 2>&1; then \
		grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units' \
			$(B)/fuzz/$*.log | sed 's/^/fuzz: $*: /'; \
	else \
		tail -n 60 $(B)/fuzz/$*.log; \
		echo "fuzz: $* FAILED; reproducer in $(B)/fuzz/artifacts-$*/"; exit 1; \
	fi

.PHONY: fuzz fuzz-build

# Benchmarks against s6, runit and supervisord (issue 6): as root, not part of
# check; installs the peers if missing and writes docs/BENCHMARKS.md.
# bench/hostile then appends the daemon's RSS and CPU under the attacks of issue 11.
bench:
	bench/run
	$(MAKE) --no-print-directory all
	bench/hostile build >>docs/BENCHMARKS.md

.PHONY: bench
