# Makefile - builds ltrun.  On a fresh clone every target first runs
# scripts/bootstrap (Debian packages, autoreconf, configure) to make config.mk.
#
#   make            build/ltrun and the example plugin
#   make demo       build, then train the digits MLP on 4 ranks (ddp) and print its accuracy
#   make check      every test under ASan/UBSan (gcc), then the unit tests of a
#                   clang build: both with -Werror
#   make install    [prefix=/usr/local] [DESTDIR=...]
#
# B is the build directory; SAN=1 builds with AddressSanitizer and UBSan;
# WERROR=1 (or ./configure --enable-werror) makes warnings errors;
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

# ./configure --without-criterion: the tests cannot be built, so asking
# for them stops here, on one line, before anything is built.  (Only
# with a config.mk that says so: a fresh clone's first make bootstraps.)
TEST_GOALS := $(filter tests check $(B)/tests/ltrun-tests,$(MAKECMDGOALS))
ifeq ($(origin LT_WITH_CRITERION)$(LT_WITH_CRITERION)$(if $(TEST_GOALS),goal),filegoal)
$(error make $(firstword $(TEST_GOALS)): the tests need Criterion, left out of this build (./configure --without-criterion); rebuild with libcriterion-dev installed)
endif

SANFLAGS = $(if $(SAN),-fsanitize=address -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
# -Werror only when asked: a newer compiler's new warning must not break
# a user's build.  `make check` (and so CI) always asks.
WERROR ?= $(LT_WERROR)
WERROR_FLAG = $(if $(filter 1 yes,$(WERROR)),-Werror)
WARN = -std=gnu11 -Wall -Wextra $(WERROR_FLAG) -Wshadow -Wstrict-prototypes -Wformat=2
# What ./configure built in (config.mk's LT_WITH_X: 1, or empty after
# --without-x), as -DLT_HAVE_X=1 or 0 for the code (src/core/built.h).
lt_have = -DLT_HAVE_$(1)=$(if $(LT_WITH_$(1)),1,0)
LT_HAVE = $(foreach d,SLURM PMIX GLOO MPI CURL ZSTD,$(call lt_have,$(d)))
LT_CPPFLAGS = -Iinclude -Isrc -I$(B)/proto -D_GNU_SOURCE -DLT_VERSION='"$(PACKAGE_VERSION)"' \
	$(if $(LT_WITH_PMIX),-DLT_PMIX_SONAME='"$(PMIX_SONAME)"') -DLT_PLUGIN_DIR='"$(libdir)/ltrun/plugins"' \
	$(LT_HAVE) -DLT_HAVE_CUDA=$(if $(LT_CUDA),1,0)
LT_CFLAGS = $(WARN) -fPIC -fvisibility=hidden $(SANFLAGS) $(CJSON_CFLAGS) $(PMIX_CFLAGS) $(MPI_CFLAGS) $(CURL_CFLAGS) $(HWLOC_CFLAGS) \
	$(PROTOBUF_C_CFLAGS)
LT_LIBS = $(CJSON_LIBS) $(HWLOC_LIBS) $(SLURM_LIBS) $(GLOO_LIBS) $(MPI_LIBS) \
	$(PROTOBUF_C_LIBS) -lm -ldl -pthread
CXXWARN = -std=gnu++17 -Wall -Wextra $(WERROR_FLAG)

# The sources that need a library ./configure left out are not built; the
# registry names what they provided as "not built in this version".
LEFT_OUT_SRC := $(if $(LT_WITH_GLOO),,src/comm/gloo.cc) $(if $(LT_WITH_MPI),,src/comm/mpi.c) \
	$(if $(LT_WITH_CURL),,src/ckpt/http.c src/rdzv/etcd_client.c src/rdzv/rdzv_etcd.c src/core/curl_lib.c) \
	$(if $(LT_WITH_PMIX),,src/rdzv/rdzv_pmix.c)
LIB_SRC := $(filter-out $(LEFT_OUT_SRC),$(sort $(wildcard src/*/*.c)))
LIB_CXX_SRC := $(filter-out $(LEFT_OUT_SRC),$(sort $(wildcard src/*/*.cc)))
# Without the C++ shim (gloo.cc), ltrun links as C: no C++ compiler needed.
LINK = $(if $(LIB_CXX_SRC),$(CXX),$(CC))
# TensorBoard's records (src/logger/tb_event.c): C that protoc-c makes
# from our .proto files, in $(B)/proto (hence -I$(B)/proto).
PROTO_SRC := $(sort $(wildcard proto/tensorboard/*.proto))
PROTO_C := $(PROTO_SRC:proto/%.proto=$(B)/proto/%.pb-c.c)
PROTO_H := $(PROTO_C:.c=.h)
LIB_OBJ = $(LIB_SRC:%.c=$(B)/%.o) $(LIB_CXX_SRC:%.cc=$(B)/%.o) $(PROTO_C:.c=.o) $(CUDA_KERNELS_OBJ)
# test_ckpt_http.c calls the http IO's ops directly.
LEFT_OUT_TEST_SRC := $(if $(LT_WITH_CURL),,tests/integration/test_ckpt_http.c tests/unit/test_curl_lib.c)
TEST_SRC := $(filter-out $(LEFT_OUT_TEST_SRC),$(sort $(wildcard tests/unit/*.c tests/integration/*.c)))
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(if $(CLANG),$(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%))
# zstd_io.so links libzstd: not built after ./configure --without-zstd
# (its tests then skip, as they do when it is missing).
PLUGINS := $(B)/examples/plugins/hostfile_env.so $(B)/examples/plugins/bf16_sr.so \
	$(if $(LT_WITH_ZSTD),$(B)/examples/plugins/zstd_io.so) $(B)/examples/plugins/fp16_compress_ddp.so \
	$(B)/examples/plugins/jsonl_logger.so
MODELS := $(patsubst examples/models/%.c,$(B)/examples/models/%.so,$(wildcard examples/models/*.c))
# examples/NAME/NAME.c is a model built into $(B)/examples/NAME/NAME.so.
EXAMPLE_MODELS := $(foreach d,$(wildcard examples/*/),$(if $(wildcard $(d)$(notdir $(d:/=)).c),$(B)/$(d)$(notdir $(d:/=)).so))
EXAMPLE_DATA := $(B)/examples/data/digits.csv $(B)/examples/data/devil.txt
TEST_MODELS := $(patsubst tests/models/%.c,$(B)/tests/models/%.so,$(wildcard tests/models/*.c))
TEST_PROGS := $(patsubst tests/progs/%.c,$(B)/tests/progs/%,$(wildcard tests/progs/*.c))
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(B)/tests/plugins/%.so,$(wildcard tests/plugins/*.c))

# The CUDA example (host C and kernels, linked with the static CUDA
# runtime), where configure found nvcc.
CUDA_MODELS := $(if $(NVCC),$(B)/examples/mlp_cuda/mlp_cuda.so $(B)/examples/wide_cuda/wide_cuda.so)

all: $(B)/ltrun $(PLUGINS) $(MODELS) $(EXAMPLE_MODELS) $(EXAMPLE_DATA) $(CUDA_MODELS)

# The GPU path: CUDA's and NCCL's headers (configure's --with-cuda) for
# these files only; the libraries are loaded with dlopen.
CUDA_OBJ := $(B)/src/accel/cuda.o $(B)/src/accel/cuda_driver.o $(B)/src/comm/nccl.o
$(CUDA_OBJ): LT_CFLAGS += $(CUDA_CFLAGS)

# The runtime's device kernels (src/accel/cuda_kernels.cu), where configure
# found nvcc: a fatbin (sm_80 and sm_90 code, PTX for sm_75 and newer),
# embedded in ltrun as a C array that cuda.c loads with the driver API.
ifneq ($(NVCC),)
CUDA_KERNELS_OBJ := $(B)/src/accel/cuda_kernels_fatbin.o
$(B)/src/accel/cuda_kernels.fatbin: src/accel/cuda_kernels.cu config.mk
	@mkdir -p $(@D)
	$(call say,NVCC,$@)
	$(Q)$(NVCC) -fatbin -gencode arch=compute_75,code=compute_75 \
		-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -o $@ $<
$(B)/src/accel/cuda_kernels_fatbin.c: $(B)/src/accel/cuda_kernels.fatbin
	$(call say,GEN,$@)
	$(Q){ echo '/* cuda_kernels.cu, as nvcc -fatbin made it (Makefile) */'; \
	  echo 'extern const unsigned char lt_cuda_kernels_fatbin[];'; \
	  echo 'const unsigned char lt_cuda_kernels_fatbin[] __attribute__((aligned(64))) = {'; \
	  od -An -v -tx1 $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '};'; } > $@.tmp && mv $@.tmp $@
$(B)/src/accel/cuda_kernels_fatbin.o: $(B)/src/accel/cuda_kernels_fatbin.c
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -fPIC -c $< -o $@
$(B)/src/accel/cuda.o: LT_CPPFLAGS += -DLT_HAVE_CUDA_KERNELS=1
endif

$(B)/%.o: %.c config.mk
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) $(LT_CFLAGS) -MMD -MP -c $< -o $@

# One protoc-c run makes a .proto's .pb-c.c and .pb-c.h.
$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto config.mk
	@mkdir -p $(B)/proto
	$(call say,PROTOC,$@)
	$(Q)$(PROTOC_C) --proto_path=proto --c_out=$(B)/proto $<

$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c config.mk
	$(call say,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) $(LT_CFLAGS) -MMD -MP -c $< -o $@

# Kept: make would delete them as intermediates after compiling.
.SECONDARY: $(PROTO_C) $(PROTO_H)
# What includes the generated headers waits for all of them (they include
# each other).
$(B)/src/logger/tb_event.o $(B)/tests/unit/test_tb_event.o: $(PROTO_H)

# The optimizer and clipping kernels are loops meant to be vectorised.
$(B)/src/runtime/optim.o $(B)/src/runtime/clip.o: LT_CFLAGS += -O3 -fno-math-errno

$(B)/%.o: %.cc config.mk
	@mkdir -p $(@D)
	$(call say,CXX,$@)
	$(Q)$(CXX) $(CPPFLAGS) $(LT_CPPFLAGS) $(CXXFLAGS) $(CXXWARN) -fPIC -fvisibility=hidden $(SANFLAGS) $(GLOO_CFLAGS) -MMD -MP -c $< -o $@

$(B)/ltrun: $(B)/cmd/ltrun.o $(LIB_OBJ)
	$(call say,LD,$@)
	$(Q)$(LINK) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -rdynamic -o $@ $^ $(LT_LIBS)

$(B)/examples/plugins/%.so: examples/plugins/%.c include/ltrun.h $(wildcard include/ltrun/*.h) config.mk
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) -Iinclude $(PLUGIN_CFLAGS) -shared -fPIC -o $@ $< $(PLUGIN_LIBS)

# The zstd checkpoint IO example links libzstd.
$(B)/examples/plugins/zstd_io.so: PLUGIN_CFLAGS = $(ZSTD_CFLAGS)
$(B)/examples/plugins/zstd_io.so: PLUGIN_LIBS = $(ZSTD_LIBS)

# Models are built as a user builds them: only ltrun.h, no -l flag.
$(B)/examples/models/%.so: examples/models/%.c include/ltrun.h config.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(WARN) -Iinclude -shared -fPIC -o $@ $<

$(B)/examples/%.so: examples/%.c include/ltrun.h $(wildcard examples/common/*.h) config.mk
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) -Iinclude -shared -fPIC -o $@ $< -lm

# each CUDA example: examples/NAME/kernels.cu by nvcc, main.c by cc
define cuda_model
$(B)/examples/$(1)/kernels.o: examples/$(1)/kernels.cu examples/$(1)/kernels.h config.mk
	@mkdir -p $$(@D)
	$$(call say,NVCC,$$@)
	$$(Q)$$(NVCC) -O2 -Xcompiler -fPIC -c -o $$@ $$<
$(B)/examples/$(1)/$(1).so: examples/$(1)/main.c $(B)/examples/$(1)/kernels.o \
		include/ltrun.h $(wildcard examples/common/*.h) config.mk
	$$(call say,CC,$$@)
	$$(Q)$$(CC) $$(CFLAGS) $$(WARN) -Iinclude -shared -fPIC -o $$@ $$< $(B)/examples/$(1)/kernels.o \
		-L$$(CUDA_DIR)/lib64 -lcudart_static -ldl -lrt -lpthread -lm
endef
$(foreach m,mlp_cuda wide_cuda,$(eval $(call cuda_model,$(m))))

$(B)/examples/data/%: examples/data/%.gz
	@mkdir -p $(@D)
	$(call say,GUNZIP,$@)
	$(Q)gzip -dc $< > $@.tmp && mv $@.tmp $@

# The GPT's network is a header of its own, its inner loops vectorised.
$(B)/examples/gpt/gpt.so: examples/gpt/model.h
$(B)/examples/gpt/gpt.so: CFLAGS += -O3 -fopenmp-simd -DGPT_OMP_SIMD

# Test models are models too: only ltrun.h (linreg.c adds the examples' params.h).
$(B)/tests/models/%.so: tests/models/%.c include/ltrun.h examples/common/params.h config.mk
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) -Iinclude -shared -fPIC -o $@ $< -lm

# Test programs link ltrun's library objects (the comm worker...).
$(B)/tests/progs/%: tests/progs/%.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(LINK) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) -x c $(WARN) -fPIC $(SANFLAGS) $(CJSON_CFLAGS) -Itests -o $@ $< -x none $(LIB_OBJ) $(LT_LIBS)

$(B)/tests/plugins/%.so: tests/plugins/%.c $(wildcard include/ltrun/*.h) include/ltrun.h config.mk
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) -Iinclude -shared -fPIC -o $@ $<

# Tests: one Criterion binary, so one summary line closes the run.
$(B)/tests/%.o: LT_CFLAGS += -Itests $(CRITERION_CFLAGS)
$(B)/tests/ltrun-tests: $(TEST_OBJ) $(LIB_OBJ)
	$(call say,LD,$@)
	$(Q)$(LINK) $(CFLAGS) $(SANFLAGS) $(LDFLAGS) -rdynamic -o $@ $^ $(LT_LIBS) $(CRITERION_LIBS)

# libFuzzer targets: each links every library source, built by clang.
FUZZFLAGS = -g -O1 -fsanitize=fuzzer -fsanitize=address -fsanitize=undefined -fno-sanitize-recover=all
FUZZ_CXX_OBJ := $(LIB_CXX_SRC:%.cc=$(B)/fuzz/%.o)
# Built by a pattern rule for the fuzz targets only: keep them, or make
# deletes them as intermediates and a parallel build races for them.
.SECONDARY: $(FUZZ_CXX_OBJ)
$(B)/fuzz/%.o: %.cc config.mk
	@mkdir -p $(@D)
	$(call say,FUZZCXX,$@)
	$(Q)$(CLANG)++ $(LT_CPPFLAGS) -std=gnu++17 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all $(GLOO_CFLAGS) -c -o $@ $<
$(B)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(PROTO_C) $(PROTO_H) $(FUZZ_CXX_OBJ) config.mk
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG)++ $(LT_CPPFLAGS) $(FUZZFLAGS) $(CUDA_CFLAGS) $(CJSON_CFLAGS) $(PMIX_CFLAGS) $(MPI_CFLAGS) $(PROTOBUF_C_CFLAGS) -o $@ -x c $< $(LIB_SRC) $(PROTO_C) -x none $(FUZZ_CXX_OBJ) $(LT_LIBS)

# The bench programs that link the library are built by the tests too, so
# that an interface change cannot leave bench/README.md's commands broken.
BENCH_PROGS := $(B)/bench/store_scale $(B)/bench/comm_allreduce $(B)/bench/ckpt_bw $(B)/bench/crc_bw

tests: all $(TEST_PLUGINS) $(TEST_MODELS) $(TEST_PROGS) $(B)/tests/ltrun-tests $(FUZZ_BIN) $(BENCH_PROGS)

DEMO_FLAGS = --strategy ddp --devices 4 --max-epochs 20 --lr 0.1 \
	--log-dir $(B)/demo-logs --tee --logger csv,tensorboard
demo: all
	@echo '$$ $(B)/ltrun --dry-run $(DEMO_FLAGS)'
	@$(B)/ltrun --dry-run $(DEMO_FLAGS)
	@echo
	@echo '$$ $(B)/ltrun $(DEMO_FLAGS) $(B)/examples/mlp/mlp.so'
	@$(B)/ltrun $(DEMO_FLAGS) $(B)/examples/mlp/mlp.so

# The unit tests' suites (Test(suite, ...) in tests/unit/), for --filter.
# lparen: a bare '(' in the sed script would unbalance make's parentheses.
lparen := (
UNIT_SUITES = $(shell sed -n -e 's/^Test$(lparen)\([a-z0-9_]*\),.*/\1/p' \
	-e 's/^ParameterizedTest$(lparen)[^,]*, *\([a-z0-9_]*\),.*/\1/p' tests/unit/*.c | sort -u | paste -sd '|')

# gcc builds and runs everything under the sanitizers; clang builds
# everything (its own warnings) in build/clang and runs the unit tests.
check: config.mk
	$(MAKE) B=build/check SAN=1 WERROR=1 tests
	groff -ww -z -man man/ltrun.1
	groff -ww -z -man man/ltrun.3
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
		LTRUN_BUILD=build/check build/check/tests/ltrun-tests --jobs=2
	$(if $(CLANG),$(MAKE) B=build/clang CC=$(CLANG) CXX=$(CLANG)++ WERROR=1 FUZZ_BIN= tests,\
		@echo 'check: clang not found: make check builds with clang too (apt-get install -y clang)' >&2; exit 1)
	LTRUN_BUILD=build/clang build/clang/tests/ltrun-tests --jobs=2 --filter '@($(UNIT_SUITES))/*'

install: all
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(includedir)/ltrun \
		$(DESTDIR)$(libdir)/pkgconfig $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man3
	install -m 755 $(B)/ltrun $(DESTDIR)$(bindir)/ltrun
	install -m 644 include/ltrun.h $(DESTDIR)$(includedir)/ltrun.h
	install -m 644 include/ltrun/*.h $(DESTDIR)$(includedir)/ltrun/
	sed -e 's|^prefix=.*|prefix=$(prefix)|' ltrun.pc > $(DESTDIR)$(libdir)/pkgconfig/ltrun.pc
	install -m 644 man/ltrun.1 $(DESTDIR)$(mandir)/man1/ltrun.1
	install -m 644 man/ltrun.3 $(DESTDIR)$(mandir)/man3/ltrun.3

clean:
	rm -rf build

distclean: clean
	rm -rf config.mk config.status config.log configure aclocal.m4 autom4te.cache build-aux ltrun.pc

# ------------------------------------------------------------ benchmarks
# Built on request only (not by `make` nor `make check`); bench/launch runs
# what it finds built.
# Links the C++ shim (gloo.o) too, when built: hence $(LINK).
$(B)/bench/store_scale: bench/store_scale.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(LINK) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) -x c $(LT_CFLAGS) -o $@ $< -x none $(LIB_OBJ) $(LT_LIBS)

# Links the C++ shim (gloo.o) too, when built: hence $(LINK).
$(B)/bench/comm_allreduce: bench/comm_allreduce.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(LINK) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) -x c $(WARN) -fPIC $(SANFLAGS) $(CJSON_CFLAGS) $(MPI_CFLAGS) -o $@ $< -x none $(LIB_OBJ) $(LT_LIBS)

# bench/ckpt's measuring program: checkpoint save/load through the IO plugins.
$(B)/bench/ckpt_bw: bench/workers/ckpt_bw.c bench/timing.h $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(LINK) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) -x c $(WARN) -fPIC $(SANFLAGS) $(CJSON_CFLAGS) -o $@ $< -x none $(LIB_OBJ) $(LT_LIBS)

# ... and its CRC-32C table: every kernel's checksum and copy, beside memcpy.
$(B)/bench/crc_bw: bench/workers/crc_bw.c bench/timing.h $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) $(WARN) $(SANFLAGS) -o $@ $< $(B)/src/ckpt/crc32c.o -lpthread

# offload_optimizer=nvme's memory: VmHWM of AdamW steps, state in memory and in files.
$(B)/bench/offload_rss: bench/workers/offload_rss.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(LINK) $(CPPFLAGS) $(LT_CPPFLAGS) $(CFLAGS) -x c $(WARN) -fPIC $(SANFLAGS) $(CJSON_CFLAGS) -o $@ $< -x none $(LIB_OBJ) $(LT_LIBS)
tests: $(B)/bench/offload_rss

.PHONY: all demo check tests install clean distclean
.SUFFIXES:

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(B)/cmd/ltrun.d
