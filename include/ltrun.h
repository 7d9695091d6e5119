/*
 * ltrun.h - the ABI between ltrun and model shared objects.
 *
 * A model is a shared object built with
 *
 *	cc -shared -fPIC $(pkg-config --cflags ltrun) model.c -o model.so
 *
 * and started by `ltrun [OPTIONS] model.so [-- ARGS]`.  It needs no -l
 * flag: the functions below live in the ltrun process that loads it.
 *
 * Fabric mode (this version): the model exports lt_main() and owns its
 * loop; ltrun has already placed the rank (lt_rank() and friends) and
 * joined the job's rendezvous store when lt_main() is called.  Trainer
 * mode (lt_module_v1(), DESIGN.md) comes with the training runtime.
 */
#ifndef LTRUN_H
#define LTRUN_H

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever this header changes in a way a built model would notice;
 * ltrun refuses a model built for another version, naming both. */
#define LT_ABI_VERSION 1

/* Every model records the version it was built for; including this header
 * is enough (a weak definition, so several files of one model may include
 * it). */
__attribute__((visibility("default"), weak)) const unsigned lt_model_abi_version =
	LT_ABI_VERSION;

typedef struct lt_ctx lt_ctx;

/* The model's entry point in Fabric mode.  argv[0] is the model's path,
 * then the arguments after `--` on ltrun's command line.  Returning 0 ends
 * the rank successfully; any other value is its exit status. */
int lt_main(lt_ctx *ctx, int argc, char **argv);

/* Where this rank is.  Global rank 0..world_size-1; local rank on this
 * node 0..local_world_size-1; node 0..num_nodes-1. */
int lt_rank(const lt_ctx *ctx);
int lt_world_size(const lt_ctx *ctx);
int lt_local_rank(const lt_ctx *ctx);
int lt_local_world_size(const lt_ctx *ctx);
int lt_node_rank(const lt_ctx *ctx);
int lt_num_nodes(const lt_ctx *ctx);
/* How many times the job was restarted after a failure (--max-restarts). */
int lt_restart_count(const lt_ctx *ctx);

/* Blocks until every rank of the job has called it the same number of
 * times.  A rank that cannot reach the others ends through lt_fatal(). */
void lt_barrier(lt_ctx *ctx);

/* Ends this rank with a message, as a failure: ltrun's report shows the
 * message beside the rank's number and host, and tears the job down. */
__attribute__((noreturn, format(printf, 2, 3))) void lt_fatal(lt_ctx *ctx,
							      const char *fmt, ...);

#ifdef __cplusplus
}
#endif

#endif /* LTRUN_H */
