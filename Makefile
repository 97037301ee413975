# fwctl — plain GNU make.  `make`, `make check`, `make install`.
#
#   make              build daemon/fwctld and cli/fwctl
#   make check        install missing dependencies (as root), build, run
#                     every test, the Debian package's (check-package), then
#                     the unit suites again under ASan+UBSan
#   make check-san    every test (lab tests included) under ASan+UBSan
#   make check-stress the lab suites three times in a row beside two
#                     CPU-burning processes, with waits scaled (README)
#   make demo         see README
#   make fuzz         run every fuzz/fuzz_*.c harness (clang, FUZZ_TIME=60 each)
#   make bench        see BENCHMARKS.md
#   make install      honours PREFIX and DESTDIR (uninstall too)
#   V=1               show the commands

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
DATADIR	?= $(PREFIX)/share
SYSCONFDIR ?= /etc
UNITDIR	?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
RULESDIR := $(SYSCONFDIR)/fwctl/rules.d

VERSION	:= 0.1.0
CC	?= cc
PKG_CONFIG ?= pkg-config

WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wcast-qual -Wformat=2 -Wundef -Wvla \
	   -Wno-unused-parameter
CFLAGS	?= -O2 -g
ifeq ($(SAN),1)
B	:= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
CFLAGS	:= -O1 -g
else
B	:= build/obj
SANFLAGS :=
endif
ifeq ($(WERROR),1)
WARN	+= -Werror
endif

# Lazily expanded: the dependencies may be installed by `make deps` first.
DAEMON_PKGS = libnftnl libmnl libmicrohttpd jansson libsystemd libcap-ng libcrypt libseccomp \
	      libnetfilter_conntrack
CLI_PKGS = libcurl jansson
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

ALL_CFLAGS = -std=gnu11 $(WARN) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) -Iinclude -MMD -MP \
	     -D_GNU_SOURCE -DFWCTL_VERSION='"$(VERSION)"' \
	     -DFWCTL_UI_DIR='"$(DATADIR)/fwctl/ui"'
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

DAEMON_SRC := $(filter-out daemon/fwctld.c,$(wildcard daemon/*.c)) \
	      $(wildcard daemon/nft/*.c)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(B)/%.o)
CLI_SRC	:= $(wildcard cli/*.c)
CLI_OBJ	:= $(CLI_SRC:%.c=$(B)/%.o)
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/check_*.c)
LAB_SRC	:= $(wildcard tests/lab_*.c)
UNIT_BIN := $(UNIT_SRC:tests/%.c=$(B)/tests/%)
LAB_BIN	:= $(LAB_SRC:tests/%.c=$(B)/tests/%)
MAN5	:= $(wildcard man/*.5)
MAN8	:= $(wildcard man/*.8)
RULES_DEFAULT := $(wildcard contrib/rules.d/*.rules)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(B)/tools/%)
LIBFWCTLD := $(B)/libfwctld.a

ifeq ($(SAN),1)
FWCTLD	:= $(B)/fwctld
FWCTL	:= $(B)/fwctl
else
FWCTLD	:= daemon/fwctld
FWCTL	:= cli/fwctl
endif

.PHONY: all check check-run check-package check-unit check-san check-stress \
	deps deps-bench demo install uninstall clean fuzz bench
.DEFAULT_GOAL := all

all: $(FWCTLD) $(FWCTL)

$(B)/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(call pc_cflags,$(DAEMON_PKGS) $(CLI_PKGS) check) -c -o $@ $<

$(LIBFWCTLD): $(DAEMON_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FWCTLD): $(B)/daemon/fwctld.o $(LIBFWCTLD)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,$(DAEMON_PKGS)) -lpthread

$(FWCTL): $(CLI_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,$(CLI_PKGS))

$(B)/tests/%: $(B)/tests/%.o $(TESTLIB_OBJ) $(LIBFWCTLD)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,$(DAEMON_PKGS) check) -lpthread

$(B)/tools/%: tests/tools/%.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(call pc_libs,jansson)

# Installs what is missing (apt, as root), then builds and runs every test.
check: deps
	$(Q)$(MAKE) --no-print-directory check-run
	$(Q)$(MAKE) --no-print-directory check-package
	$(Q)$(MAKE) --no-print-directory SAN=1 check-unit

# Every reply of the lab suites is recorded and checked against
# docs/openapi.yaml, which is linted too (tools/openapi/run).
check-run: all $(UNIT_BIN) $(LAB_BIN) $(TOOL_BIN)
	$(Q)rm -f $(B)/api-trace.jsonl
	$(Q)FWCTLD=$(abspath $(FWCTLD)) FWCTL=$(abspath $(FWCTL)) \
	  FWCTL_TOOLS=$(abspath $(B)/tools) FWCTL_SRC=$(CURDIR) \
	  FWCTLD_API_TRACE=$(abspath $(B))/api-trace.jsonl \
	  tests/run $(UNIT_BIN) $(LAB_BIN)
	$(Q)tools/openapi/run lint
	$(Q)tools/openapi/run replies $(B)/api-trace.jsonl

# The Debian package built from a clean clone of HEAD, installed into a
# throwaway Debian root (tests/package; cached in /var/cache/fwctl-pkgtest)
check-package:
	$(Q)FWCTL_SRC=$(CURDIR) tests/package

check-unit: all $(UNIT_BIN)
	$(Q)FWCTLD=$(abspath $(FWCTLD)) FWCTL=$(abspath $(FWCTL)) \
	  FWCTL_SRC=$(CURDIR) tests/run $(UNIT_BIN)

check-san: deps
	$(Q)$(MAKE) --no-print-directory SAN=1 check-run

# A busy machine: STRESS_SUITES (the lab suites, where timing matters)
# STRESS_RUNS times in a row beside STRESS_BURNERS processes that burn a
# CPU each; every wait for what must happen is STRESS_SCALE times longer
# (FWCTL_TEST_TIMEOUT_SCALE, tests/lib/lab.h).
STRESS_RUNS ?= 3
STRESS_BURNERS ?= 2
STRESS_SCALE ?= 4
STRESS_SUITES ?= $(LAB_BIN)
check-stress: deps
	$(Q)$(MAKE) --no-print-directory all $(STRESS_SUITES) $(TOOL_BIN)
	$(Q)FWCTLD=$(abspath $(FWCTLD)) FWCTL=$(abspath $(FWCTL)) \
	  FWCTL_TOOLS=$(abspath $(B)/tools) FWCTL_SRC=$(CURDIR) \
	  FWCTL_TEST_TIMEOUT_SCALE=$(STRESS_SCALE) \
	  tests/stress $(STRESS_RUNS) $(STRESS_BURNERS) \
	  tests/run $(STRESS_SUITES)

deps:
	$(Q)tools/deps check

# the benchmark's peers (iptables) besides what the tests need
deps-bench:
	$(Q)tools/deps bench

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(TOOL_BIN)
	$(Q)FWCTLD=$(abspath $(FWCTLD)) FWCTL=$(abspath $(FWCTL)) \
	  FWCTL_TOOLS=$(abspath $(B)/tools) KEEP=$(KEEP) tools/demo

# libFuzzer harnesses (clang), one per fuzz/fuzz_NAME.c, each run for
# FUZZ_TIME seconds: `make fuzz FUZZ_TIME=300`; see fuzz/README
CLANG	?= clang
FUZZ_TIME ?= 60
FUZZ_BIN := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))
build/fuzz/fuzz_%: fuzz/fuzz_%.c $(DAEMON_SRC)
	$(call msg,FUZZ,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
	  -Iinclude -D_GNU_SOURCE -DFWCTL_VERSION='"$(VERSION)"' \
	  $(call pc_cflags,$(DAEMON_PKGS)) -o $@ $< $(DAEMON_SRC) \
	  $(call pc_libs,$(DAEMON_PKGS)) -lpthread
# fuzz_cli #includes the CLI's formatters
build/fuzz/fuzz_cli: cli/output.c cli/text.c cli/fwctl.h

fuzz: $(FUZZ_BIN)
	set -e; for f in $(FUZZ_BIN); do n=$${f#build/fuzz/fuzz_}; \
	  mkdir -p build/fuzz/corpus/$$n; \
	  cp -n fuzz/corpus/$$n/* build/fuzz/corpus/$$n/ 2>/dev/null || true; \
	  $$f -max_total_time=$(FUZZ_TIME) \
	    $$(test -e fuzz/$$n.dict && echo -dict=fuzz/$$n.dict) \
	    build/fuzz/corpus/$$n; done

# DESTDIR stages (the Debian package uses it); PREFIX, SBINDIR... place.
# Rules files an administrator already has are never overwritten, and
# uninstall removes only those that are still as installed.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 daemon/fwctld $(DESTDIR)$(SBINDIR)/fwctld
	install -m 0755 cli/fwctl $(DESTDIR)$(BINDIR)/fwctl
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' contrib/fwctld.service \
	  > $(DESTDIR)$(UNITDIR)/fwctld.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/fwctld.service
	install -d $(DESTDIR)$(SYSUSERSDIR)
	install -m 0644 contrib/fwctl.sysusers $(DESTDIR)$(SYSUSERSDIR)/fwctl.conf
	install -d $(DESTDIR)$(COMPLETIONDIR)
	install -m 0644 contrib/fwctl.bash-completion $(DESTDIR)$(COMPLETIONDIR)/fwctl
	install -d $(DESTDIR)$(RULESDIR)
	for f in $(RULES_DEFAULT); do t=$(DESTDIR)$(RULESDIR)/$${f##*/}; \
	  if [ -e "$$t" ]; then echo "keeping $$t"; \
	  else install -m 0644 "$$f" "$$t"; fi; done
	install -d $(DESTDIR)$(DATADIR)/fwctl/ui
	install -m 0644 contrib/ui/index.html contrib/ui/fwctl.js \
	  contrib/ui/fwctl.css $(DESTDIR)$(DATADIR)/fwctl/ui/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/fwctld $(DESTDIR)$(BINDIR)/fwctl
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8)))
	rm -f $(DESTDIR)$(UNITDIR)/fwctld.service
	rm -f $(DESTDIR)$(SYSUSERSDIR)/fwctl.conf
	rm -f $(DESTDIR)$(COMPLETIONDIR)/fwctl
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/fwctl/ui/,index.html fwctl.js \
	  fwctl.css)
	rmdir $(DESTDIR)$(DATADIR)/fwctl/ui $(DESTDIR)$(DATADIR)/fwctl \
	  2>/dev/null || true
	for f in $(RULES_DEFAULT); do t=$(DESTDIR)$(RULESDIR)/$${f##*/}; \
	  if cmp -s "$$f" "$$t"; then rm -f "$$t"; \
	  elif [ -e "$$t" ]; then echo "keeping $$t: changed"; fi; done
	rmdir $(DESTDIR)$(RULESDIR) $(DESTDIR)$(SYSCONFDIR)/fwctl 2>/dev/null || true

# bench/README.md: fwctl against nft -f and iptables-restore, as root.
# BENCH_ARGS: e.g. --sizes 1000,10000 --runs 3
$(B)/bench/bench: $(B)/bench/bench.o $(B)/bench/gen.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libcurl jansson)

bench: deps-bench
	$(Q)$(MAKE) --no-print-directory all $(B)/bench/bench
	$(Q)$(B)/bench/bench --fwctld $(FWCTLD) --fwctl $(FWCTL) $(BENCH_ARGS)

clean:
	rm -rf build daemon/fwctld cli/fwctl

-include $(shell find build -name '*.d' 2>/dev/null)
