/*
 * built.h - what ./configure left out of this build, and the one way to
 * say so.
 *
 * The Makefile defines LT_HAVE_SLURM, LT_HAVE_PMIX, LT_HAVE_GLOO,
 * LT_HAVE_MPI, LT_HAVE_CURL, LT_HAVE_ZSTD (and LT_HAVE_CUDA, the GPU path,
 * whose headers configure looks for): 1 when the library is built
 * in (the default), 0 after ./configure --without-<name> (config.mk's
 * LT_WITH_<NAME> is then empty).  Code that needs a library is either left
 * out of the build by the Makefile (gloo.cc, mpi.c, http.c, the etcd
 * client, rdzv_pmix.c) or guarded with `#if LT_HAVE_<NAME>`; what is left
 * out says so when it is asked for, never silently:
 *
 *   lt_err_set(err, LT_EXIT_USAGE, "--requeue on needs " LT_LEFT_OUT(LT_DEP_SLURM));
 *
 * reads "--requeue on needs libslurm, left out of this build (./configure
 * --without-slurm); rebuild with libslurm-dev installed".  A plugin left
 * out is a registry entry "not built in this version" naming the same
 * flag (struct lt_absent in registry.h, LT_ABSENT_LEFT_OUT).
 */
#ifndef LT_CORE_BUILT_H
#define LT_CORE_BUILT_H

#if !defined(LT_HAVE_SLURM) || !defined(LT_HAVE_PMIX) || !defined(LT_HAVE_GLOO) || \
	!defined(LT_HAVE_MPI) || !defined(LT_HAVE_CURL) || !defined(LT_HAVE_ZSTD)
#error "LT_HAVE_* undefined: build ltrun with make, after ./configure (config.mk says what is built)"
#endif

/* Each dependency configure can leave out: the library as messages name
 * it, the flag that leaves it out, the Debian package that brings it back. */
#define LT_DEP_SLURM "libslurm", "--without-slurm", "libslurm-dev"
#define LT_DEP_PMIX "PMIx", "--without-pmix", "libpmix-dev"
#define LT_DEP_GLOO "libgloo", "--without-gloo", "libgloo-dev"
#define LT_DEP_MPI "Open MPI", "--without-mpi", "libopenmpi-dev"
#define LT_DEP_CURL "libcurl", "--without-curl", "libcurl4-openssl-dev"
#define LT_DEP_ZSTD "libzstd", "--without-zstd", "libzstd-dev"
/* The GPU path (LT_HAVE_CUDA): configure takes it when it finds the
 * toolkit's headers, and leaves it out otherwise too. */
#define LT_DEP_CUDA "CUDA's and NCCL's headers", "--without-cuda, or no toolkit found", \
	"the CUDA toolkit (./configure --with-cuda=DIR)"

/* The phrase that follows "needs": a string literal, so that it can end a
 * format string.  LT_LEFT_OUT(LT_DEP_GLOO) is "libgloo, left out of this
 * build (./configure --without-gloo); rebuild with libgloo-dev installed". */
#define LT_LEFT_OUT(dep) LT_LEFT_OUT_(dep)
#define LT_LEFT_OUT_(lib, flag, package) \
	lib ", left out of this build (./configure " flag "); rebuild with " package " installed"

/* The same as a clause of its own: LT_IS_LEFT_OUT(LT_DEP_PMIX) is "PMIx
 * is left out of this build (./configure --without-pmix; rebuild with
 * libpmix-dev installed)". */
#define LT_IS_LEFT_OUT(dep) LT_IS_LEFT_OUT_(dep)
#define LT_IS_LEFT_OUT_(lib, flag, package) \
	lib " is left out of this build (./configure " flag "; rebuild with " package " installed)"

#endif
