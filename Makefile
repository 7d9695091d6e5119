# Makefile - builds ltrun.  On a fresh clone every target first runs
# scripts/bootstrap (Debian packages, autoreconf, configure) to make config.mk.
#
#   make            build/ltrun and the example plugin
#   make demo       build, then show what ltrun would run on this node
#   make check      unit, bad-input, dry-run and fuzz tests, under ASan/UBSan
#   make install    [prefix=/usr/local] [DESTDIR=...]
#
# B is the build directory; SAN=1 builds with AddressSanitizer and UBSan;
# V=1 prints the full commands.

B ?= build
SAN ?=
Q = $(if $(V),,@)
say = $(if $(V)$(findstring s,$(firstword -$(MAKEFLAGS))),,@printf '  %-6s %s\n' $(1) $(2))

all:

-include config.mk
config.mk: configure.ac config.mk.in ltrun.pc.in scripts/bootstrap scripts/packages.txt
	scripts/bootstrap
ltrun.pc: config.mk

SANFLAGS = $(if $(SAN),-fsanitize=address -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
WARN = -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
LT_CPPFLAGS = -Iinclude -Isrc -D_GNU_SOURCE -DLT_VERSION='"$(PACKAGE_VERSION)"' \
	-DLT_PMIX_SONAME='"$(PMIX_SONAME)"'
LT_CFLAGS = $(WARN) -fPIC -fvisibility=hidden $(SANFLAGS) $(CJSON_CFLAGS) $(PMIX_CFLAGS)
LT_LIBS = $(CJSON_LIBS) $(SLURM_LIBS) -ldl -pthread

LIB_SRC := $(sort $(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/*.c tests/integration/*.c))
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(if $(CLANG),$(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%))
PLUGINS := $(B)/examples/plugins/hostfile_env.so
MODELS := $(patsubst examples/models/%.c,$(B)/examples/models/%.so,$(wildcard examples/models/*.c))
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(B)/tests/plugins/%.so,$(wildcard tests/plugins/*.c))

all: $(B)/ltrun $(PLUGINS) $(MODELS)

$(B)/%.o: %.c config.mk
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) $(LT_CFLAGS) -MMD -MP -c $< -o $@

$(B)/ltrun: $(B)/cmd/ltrun.o $(LIB_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -rdynamic -o $@ $^ $(LT_LIBS)

$(B)/examples/plugins/%.so: examples/plugins/%.c include/ltrun/plugin.h config.mk
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) -Iinclude -shared -fPIC -o $@ $<

# Models are built as a user builds them: only ltrun.h, no -l flag.
$(B)/examples/models/%.so: examples/models/%.c include/ltrun.h config.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(WARN) -Iinclude -shared -fPIC -o $@ $<

$(B)/tests/plugins/%.so: tests/plugins/%.c include/ltrun/plugin.h config.mk
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) -Iinclude -shared -fPIC -o $@ $<

# Tests: one Criterion binary, so one summary line closes the run.
$(B)/tests/%.o: LT_CFLAGS += -Itests $(CRITERION_CFLAGS)
$(B)/tests/ltrun-tests: $(TEST_OBJ) $(LIB_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -rdynamic -o $@ $^ $(LT_LIBS) $(CRITERION_LIBS)

# libFuzzer targets: each links every library source, built by clang.
FUZZFLAGS = -g -O1 -fsanitize=fuzzer -fsanitize=address -fsanitize=undefined -fno-sanitize-recover=all
$(B)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) config.mk
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(LT_CPPFLAGS) $(FUZZFLAGS) $(CJSON_CFLAGS) $(PMIX_CFLAGS) -o $@ $< $(LIB_SRC) $(LT_LIBS)

tests: $(B)/ltrun $(PLUGINS) $(MODELS) $(TEST_PLUGINS) $(B)/tests/ltrun-tests $(FUZZ_BIN)

demo: all
	@echo '$$ $(B)/ltrun --dry-run --strategy ddp --devices 4'
	@$(B)/ltrun --dry-run --strategy ddp --devices 4
	@echo
	@echo '$$ $(B)/ltrun --devices 4 $(B)/examples/models/hello.so -- --barriers 3'
	@$(B)/ltrun --devices 4 $(B)/examples/models/hello.so -- --barriers 3

check: config.mk
	$(MAKE) B=build/check SAN=1 tests
	groff -ww -z -man man/ltrun.1
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
		LTRUN_BUILD=build/check build/check/tests/ltrun-tests --jobs=2

install: all
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(includedir)/ltrun \
		$(DESTDIR)$(libdir)/pkgconfig $(DESTDIR)$(mandir)/man1
	install -m 755 $(B)/ltrun $(DESTDIR)$(bindir)/ltrun
	install -m 644 include/ltrun.h $(DESTDIR)$(includedir)/ltrun.h
	install -m 644 include/ltrun/plugin.h $(DESTDIR)$(includedir)/ltrun/plugin.h
	sed -e 's|^prefix=.*|prefix=$(prefix)|' ltrun.pc > $(DESTDIR)$(libdir)/pkgconfig/ltrun.pc
	install -m 644 man/ltrun.1 $(DESTDIR)$(mandir)/man1/ltrun.1

clean:
	rm -rf build

distclean: clean
	rm -rf config.mk config.status config.log configure aclocal.m4 autom4te.cache build-aux ltrun.pc

# ------------------------------------------------------------ benchmarks
# Built on request only (not by `make` nor `make check`); bench/launch runs
# what it finds built.
$(B)/bench/store_scale: bench/store_scale.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) $(LT_CFLAGS) -o $@ $< $(LIB_OBJ) $(LT_LIBS)

.PHONY: all demo check tests install clean distclean
.SUFFIXES:

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(B)/cmd/ltrun.d
