/*
 * rank.c - the rank process: its identity, the model it loads, its
 * rendezvous, communicator and runtime.  The functions of ltrun.h a model
 * calls are abi.c's; how a rank dies (lt_fatal's path) is fatal.c's.
 *
 * An exec'ed or forked rank learns who it is from the environment the
 * agent set (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, NODE_RANK,
 * MASTER_ADDR, MASTER_PORT, as torchrun sets them, and LTRUN_RUN_ID,
 * LTRUN_RESTART_COUNT, LTRUN_NODE_COUNT, LTRUN_STORE_ADDR, LTRUN_STORE_PORT,
 * LTRUN_STORE_TOKEN, LTRUN_ERROR_FILE, LTRUN_RDZV_TIMEOUT for ltrun's own
 * state).  Store keys of one attempt start with "r<restart count>/", so a
 * restarted job never reads its predecessor's keys.
 *
 * Then the rank opens the communicator (--comm; auto: shm inside a node,
 * tcp or mpi between nodes), reserves the parameter arenas, and runs the
 * model: lt_module_v1() (Trainer mode, loop.c) or lt_main() (Fabric
 * mode).  The settings of the run reach an exec'ed rank as LTRUN_*
 * variables the agent exported (lt_config_export).
 */
#include "rank/rank.h"
#include "comm/comm.h"
#include "rdzv/rdzv.h"
#include "rdzv/store.h"
#include "core/signals.h"
#include "core/error.h"
#include "core/parse.h"
#include "rank/abi.h"
#include "rank/fatal.h"
#include "rank/watchdog.h"
#include "runtime/runtime.h"
#include "trainer/loop.h"
#include "trainer/preempt.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ltrun.h"

typedef int (*lt_main_fn)(lt_ctx *, int, char **);
typedef const struct lt_module *(*lt_module_fn)(void);

/* What the model exports: one of the two entry points. */
struct model_entry {
	lt_main_fn main_fn;
	const struct lt_module *module;
};

/* Address space reserved for each parameter arena (runtime.h): committed
 * only as parameters are registered. */
#define ARENA_RESERVE ((size_t)256 << 30)

/* --- the model --- */

/* Trainer mode's table: this ABI's size (the loop reads every field) and
 * the required callbacks. */
static void check_module(struct lt_ctx *ctx, const char *q, const struct lt_module *m)
{
	if (!m)
		lt_fatal(ctx, "model '%s': lt_module_v1() returned NULL: return a pointer to a static struct lt_module",
			 q);
	if (m->size != sizeof(struct lt_module))
		lt_fatal(ctx, "model '%s': lt_module_v1()'s table has size %zu, but struct lt_module of ltrun ABI %u has %zu bytes: set .size = sizeof(struct lt_module) and rebuild against this ltrun's ltrun.h",
			 q, m->size, LT_ABI_VERSION, sizeof(struct lt_module));
	if (!m->init || !m->num_samples || !m->train_step)
		lt_fatal(ctx, "model '%s': lt_module_v1()'s table must set init, num_samples and train_step",
			 q);
}

static void load_model(struct lt_ctx *ctx, const char *path, struct model_entry *e)
{
	const unsigned *abi;
	void *handle, *sym;
	char q[LT_QUOTE_MAX];

	lt_quote(q, sizeof(q), path);
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		lt_fatal(ctx, "cannot load model '%s': %s", q, dlerror());
	abi = dlsym(handle, "lt_model_abi_version");
	if (!abi)
		lt_fatal(ctx, "model '%s' does not say which ltrun ABI it was built for: include <ltrun.h> in it and rebuild",
			 q);
	if (*abi != LT_ABI_VERSION)
		lt_fatal(ctx, "model '%s' was built for ltrun ABI %u, but this ltrun has ABI %u: rebuild it against this ltrun's ltrun.h",
			 q, *abi, LT_ABI_VERSION);
	memset(e, 0, sizeof(*e));
	sym = dlsym(handle, "lt_module_v1");
	if (sym) {
		e->module = ((lt_module_fn)sym)();
		check_module(ctx, q, e->module);
		return;
	}
	sym = dlsym(handle, "lt_main");
	/* lt_model_abi_version is exported whatever the flags (ltrun.h marks
	 * it so), the entry points are not under -fvisibility=hidden */
	if (!sym)
		lt_fatal(ctx, "model '%s' exports neither lt_module_v1() (Trainer mode) nor lt_main() (Fabric mode): define one of them (see ltrun(3)); if it is defined, mark it __attribute__((visibility(\"default\"))) (built with -fvisibility=hidden?) and check with 'nm -D %s | grep lt_'",
			 q, q);
	e->main_fn = (lt_main_fn)sym;
}

/* Options only Trainer mode's loop reads (src/trainer/loop.c): a Fabric
 * model runs its own loop.  Every other training option reaches Fabric
 * mode through lt_optimizer_step, lt_shard, the facts of ltrun.h or its
 * checkpoints. */
static const enum lt_opt_id fabric_ignores[] = {
	LT_OPT_MAX_EPOCHS,
	LT_OPT_VAL_EVERY,
	LT_OPT_LOG_EVERY,
};

/* Rank 0 refuses a run whose settings include an option the model's mode
 * ignores, set by the user (a flag, LTRUN_*, the config file), rather than
 * running without it: exit status 2 and one line naming the options. */
static void refuse_ignored_options(struct lt_ctx *ctx, const char *path,
				   const struct model_entry *e)
{
	char names[256] = "", q[LT_QUOTE_MAX], msg[1024];
	size_t n = 0, count = 0;

	if (ctx->info.rank != 0 || e->module)
		return;
	for (size_t i = 0; i < sizeof(fabric_ignores) / sizeof(fabric_ignores[0]); i++) {
		enum lt_opt_id id = fabric_ignores[i];
		if (ctx->cfg->source[id] == LT_SRC_DEFAULT)
			continue;
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s--%s", count ? ", " : "",
				      lt_options[id].name);
		count++;
	}
	if (!count)
		return;
	lt_quote(q, sizeof(q), path);
	snprintf(msg, sizeof(msg),
		 "%s %s no effect in Fabric mode (model '%s' exports lt_main, which runs its own loop): remove %s",
		 names, count == 1 ? "has" : "have", q, count == 1 ? "it" : "them");
	lt_fatal_exit_status(ctx, LT_EXIT_USAGE, msg);
}

/* --- the communicator --- */

/* The address of this host's interface that routes to `peer` (no packet
 * is sent: a UDP socket is only connected). */
static void local_addr_towards(const char *peer, char *buf, size_t len)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	struct sockaddr_in me;
	socklen_t melen = sizeof(me);
	int fd = -1;

	snprintf(buf, len, "%s", peer);
	if (getaddrinfo(peer, "9", &hints, &ai) || !ai)
		return;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !connect(fd, ai->ai_addr, ai->ai_addrlen) &&
	    !getsockname(fd, (struct sockaddr *)&me, &melen))
		inet_ntop(AF_INET, &me.sin_addr, buf, (socklen_t)len);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
}

/* The rank's device, before the communicator (nccl opens on it) and the
 * arenas. */
static void open_accelerator(struct lt_ctx *ctx)
{
	struct lt_err err = { 0 };

	ctx->accel = lt_accel_of(&ctx->choice[LT_KIND_ACCELERATOR]);
	if (ctx->accel->open &&
	    ctx->accel->open(ctx->info.local_rank, ctx->info.local_world_size, &err))
		lt_fatal(ctx, "%s", err.msg);
}

/* The run's communicator, as the registry resolved --comm: under a GPU
 * accelerator, auto is nccl, and a backend must move device memory. */
static const struct lt_comm_ops *choose_comm(struct lt_ctx *ctx)
{
	const struct lt_choice *c = &ctx->choice[LT_KIND_COMM];
	bool device = !ctx->accel->host_access;

#if LT_HAVE_CUDA
	if (device && lt_comm_of(c) == &lt_comm_auto)
		return &lt_comm_nccl;
#endif
	if (device && !lt_comm_of(c)->device_buffers)
		lt_fatal(ctx, "communicator '%s' moves host memory, but --accelerator %s puts the tensors in device memory: use --comm auto (nccl)",
			 c->named->name, ctx->choice[LT_KIND_ACCELERATOR].named->name);
	if (!device && lt_comm_of(c)->device_buffers)
		lt_fatal(ctx, "communicator '%s' moves GPU memory: it needs --accelerator cuda",
			 c->named->name);
	if (!lt_comm_of(c)->inter_node && ctx->info.num_nodes > 1)
		lt_fatal(ctx, "communicator '%s' carries collectives between the ranks of one node, but this job has %d nodes: use --comm auto (or tcp)",
			 c->named->name, ctx->info.num_nodes);
	return lt_comm_of(c);
}

static void open_comm(struct lt_ctx *ctx)
{
	struct lt_err err = { 0 };
	int *members;
	struct lt_comm_args args;

	members = calloc((size_t)ctx->info.world_size, sizeof(*members));
	if (!members)
		lt_fatal(ctx, "out of memory");
	for (int i = 0; i < ctx->info.world_size; i++)
		members[i] = i;
	local_addr_towards(ctx->info.store_host, ctx->addr, sizeof(ctx->addr));
	args = (struct lt_comm_args){
		.rank = ctx->info.rank,
		.size = ctx->info.world_size,
		.scope = "world",
		.rz = &ctx->rz,
		.run_id = ctx->info.run_id,
		.host = ctx->addr,
		.timeout_ms = lt_comm_timeout_ms(ctx->cfg->timeout),
		.global_rank = members,
		.check_calls = ctx->cfg->debug_collectives,
	};
	ctx->comm = lt_comm_open(choose_comm(ctx), ctx->choice[LT_KIND_COMM].base->name, &args,
				 &err);
	free(members);
	if (!ctx->comm)
		lt_fatal(ctx, "cannot open communicator '%s': %s", ctx->cfg->comm, err.msg);
}

/* Resolves the run's plugin of every kind the rank runs through the
 * registry: the built-ins and the --plugin files, in the launcher's order. */
static void choose_plugins(struct lt_ctx *ctx)
{
	static const struct { enum lt_kind kind; size_t off; } named[] = {
		{ LT_KIND_STRATEGY, offsetof(struct lt_config, strategy) },
		{ LT_KIND_PRECISION, offsetof(struct lt_config, precision) },
		{ LT_KIND_ACCELERATOR, offsetof(struct lt_config, accelerator) },
		{ LT_KIND_COMM, offsetof(struct lt_config, comm) },
		{ LT_KIND_CKPT_IO, offsetof(struct lt_config, ckpt_io) },
	};
	struct lt_err err = { 0 };

	ctx->reg = lt_registry_load(ctx->cfg, &err);
	if (!ctx->reg)
		lt_fatal(ctx, "%s", err.msg);
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		enum lt_kind k = named[i].kind;
		const char *name = lt_registry_auto(
			ctx->reg, k, *(char *const *)((const char *)ctx->cfg + named[i].off),
			ctx->info.world_size);

		if (lt_registry_resolve(ctx->reg, k, name, &ctx->choice[k], &err))
			lt_fatal(ctx, "%s", err.msg);
	}
}

/* The run's strategy, as the registry resolved it (a --plugin one
 * included): its ops, NULL ones the replicated default's. */
static void setup_strategy(struct lt_ctx *ctx)
{
	const struct lt_choice *c = &ctx->choice[LT_KIND_STRATEGY];
	struct lt_err err = { 0 };

	if (lt_runtime_strategy_init(ctx, c->base->name, c->base->ops, lt_strategy_default(),
				     c->params, &err))
		lt_fatal(ctx, "%s", err.msg);
}

/* What the runtime does on the host that a device accelerator (no host
 * access to its arenas) does not have yet: said before anything runs. */
static void refuse_on_device(struct lt_ctx *ctx)
{
	const char *accel = ctx->choice[LT_KIND_ACCELERATOR].named->name;
	const char *strategy = ctx->choice[LT_KIND_STRATEGY].base->name;

	if (ctx->accel->host_access)
		return;
	/* 32-true, or mixed with the built-in rounding (device kernels) */
	if (ctx->precision->mixed ? ctx->precision->to_compute ||
					    (ctx->dtype != LT_F16 && ctx->dtype != LT_BF16)
				  : ctx->dtype != LT_F32)
		lt_fatal(ctx, "precision '%s' with --accelerator %s is not built in this version (its arithmetic runs on the host): use --precision 32-true, 16-mixed or bf16-mixed",
			 ctx->choice[LT_KIND_PRECISION].named->name, accel);
	if (ctx->cfg->debug || ctx->cfg->check_replicas > 0)
		lt_fatal(ctx, "%s with --accelerator %s is not built in this version: its checks read the parameters and gradients on the host",
			 ctx->cfg->debug ? "--debug" : "--check-replicas", accel);
	if (strcmp(strategy, "ddp") && strcmp(strategy, "single_device"))
		lt_fatal(ctx, "strategy '%s' with --accelerator %s is not built in this version (its sharding works on host memory): use --strategy ddp",
			 ctx->choice[LT_KIND_STRATEGY].named->name, accel);
}

static void setup_runtime(struct lt_ctx *ctx)
{
	struct lt_err err = { 0 };

	if (lt_precision_check(&ctx->choice[LT_KIND_PRECISION], &err))
		lt_fatal(ctx, "%s", err.msg);
	ctx->precision = lt_precision_of(&ctx->choice[LT_KIND_PRECISION]);
	ctx->dtype = ctx->precision->compute;
	lt_scaler_init(&ctx->scaler);
	/* Fabric mode: a model seeding backward with lt_loss_scale() gets its
	 * gradient divided by the world size, so that the strategy's sum is
	 * the average (Trainer mode sets a weight per micro-batch). */
	ctx->sample_weight = 1.0 / ctx->info.world_size;
	lt_runtime_update_loss_scale(ctx);
	if (ctx->precision->warning && ctx->info.rank == 0)
		lt_warn("%s", ctx->precision->warning);
	refuse_on_device(ctx);
	if (ctx->accel->reserve(&ctx->data_arena, ARENA_RESERVE, &err) ||
	    ctx->accel->reserve(&ctx->grad_arena, ARENA_RESERVE, &err) ||
	    (ctx->precision->mixed &&
	     (ctx->accel->reserve(&ctx->master_arena, ARENA_RESERVE, &err) ||
	      ctx->accel->reserve(&ctx->master_grad_arena, ARENA_RESERVE, &err))))
		lt_fatal(ctx, "%s", err.msg);
	/* packed: arena element k is flat element k (accel.h) */
	ctx->data_arena.align = ctx->grad_arena.align = 1;
	ctx->master_arena.align = ctx->master_grad_arena.align = 1;
	setup_strategy(ctx);
}

/* --- the run --- */

static int env_int(const char *name, long min, long max, int *out, struct lt_err *err)
{
	long v;
	int rc = lt_env_int(NULL, name, min, max, &v, err);

	if (rc == 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s is not set: this process was not started by an ltrun agent", name);
	if (rc < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int env_text(const char *name, char *buf, size_t len, bool required,
		    struct lt_err *err)
{
	const char *v = lt_env_get(NULL, name);

	if (!v && required)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s is not set: this process was not started by an ltrun agent", name);
	snprintf(buf, len, "%s", v ? v : "");
	return 0;
}

int lt_rank_info_from_env(struct lt_rank_info *info, struct lt_err *err)
{
	char token[LT_STORE_TOKEN_HEX + 8];

	memset(info, 0, sizeof(*info));
	if (env_int("RANK", 0, 1 << 24, &info->rank, err) ||
	    env_int("WORLD_SIZE", 1, 1 << 24, &info->world_size, err) ||
	    env_int("LOCAL_RANK", 0, 1 << 24, &info->local_rank, err) ||
	    env_int("LOCAL_WORLD_SIZE", 1, 1 << 24, &info->local_world_size, err) ||
	    env_int("NODE_RANK", 0, 1 << 24, &info->node_rank, err) ||
	    env_int(LT_ENV_NODE_COUNT, 1, 1 << 24, &info->num_nodes, err) ||
	    env_int(LT_ENV_RESTART_COUNT, 0, 1 << 20, &info->restart_count, err) ||
	    env_int(LT_ENV_STORE_PORT, 1, 65535, &info->store_port, err) ||
	    env_int(LT_ENV_RDZV_TIMEOUT, 1, 86400, &info->rdzv_timeout_s, err) ||
	    env_text(LT_ENV_STORE_ADDR, info->store_host, sizeof(info->store_host), true, err) ||
	    env_text(LT_ENV_RUN_ID, info->run_id, sizeof(info->run_id), true, err) ||
	    env_text(LT_ENV_ERROR_FILE, info->error_file, sizeof(info->error_file), false, err) ||
	    env_text(LT_ENV_STORE_TOKEN, token, sizeof(token), true, err) ||
	    env_text(LT_ENV_RDZV, info->rdzv, sizeof(info->rdzv), false, err))
		return -1;
	if (!info->rdzv[0])
		snprintf(info->rdzv, sizeof(info->rdzv), "auto");
	return lt_store_token_parse(token, LT_ENV_STORE_TOKEN, info->token, err);
}

int lt_rank_run(const struct lt_rank_info *info, const struct lt_config *cfg,
		const char *model, int argc, char **argv)
{
	static struct lt_ctx ctx;
	struct lt_err err = { 0 };
	struct model_entry entry;
	int rc;

	ctx.info = *info;
	ctx.cfg = cfg;
	if (gethostname(ctx.host, sizeof(ctx.host) - 1))
		snprintf(ctx.host, sizeof(ctx.host), "unknown");
	lt_fatal_setup(&ctx);
	/* A preemption signal from the first moment on is a stop at the first
	 * step, not a death (Trainer mode; a Fabric model's own code decides,
	 * so it gets them back, and one that came already, once loaded). */
	if (lt_preempt_catch(cfg, &err))
		lt_fatal(&ctx, "%s", err.msg);
	load_model(&ctx, model, &entry);
	if (!entry.module)
		lt_preempt_release();
	refuse_ignored_options(&ctx, model, &entry);
	/* the rendezvous comes before choose_plugins (which loads the
	 * --plugin files): only the built-in backends */
	ctx.reg = lt_registry_new(&err);
	if (!ctx.reg || lt_rdzv_lookup(ctx.reg, info->rdzv, info->adopted, &ctx.rz.ops, &err))
		lt_fatal(&ctx, "%s (LTRUN_RDZV)", err.msg);
	lt_registry_free(ctx.reg);
	ctx.reg = NULL;
	ctx.rz.info = &ctx.info;
	ctx.rz.timeout_ms = info->rdzv_timeout_s * 1000;
	snprintf(ctx.rz.who, sizeof(ctx.rz.who), "rank %d", info->rank);
	if (ctx.rz.ops->open(&ctx.rz, &ctx.info, ctx.rz.who, &err))
		lt_fatal(&ctx, "cannot join the job: %s", err.msg);
	lt_barrier(&ctx);
	choose_plugins(&ctx);
	open_accelerator(&ctx);
	open_comm(&ctx);
	lt_watchdog_start(&ctx);
	setup_runtime(&ctx);

	if (entry.module) {
		rc = lt_trainer_run(&ctx, entry.module, argc, argv);
	} else {
		lt_fabric_ckpt_begin(&ctx);
		rc = entry.main_fn(&ctx, argc, argv);
		lt_fabric_ckpt_end(&ctx);
	}
	fflush(NULL);
	lt_runtime_free(&ctx);
	lt_watchdog_stop();
	lt_comm_close(ctx.comm);
	ctx.comm = NULL;
	for (int k = 0; k < LT_KIND_COUNT; k++)
		lt_choice_free(&ctx.choice[k]);
	lt_registry_free(ctx.reg);
	ctx.reg = NULL;
	if (ctx.rz.ops->close(&ctx.rz, &err))
		lt_fatal(&ctx, "at exit: %s", err.msg);
	return rc;
}

int lt_rank_entry(int argc, char **argv)
{
	static struct lt_config cfg;
	struct lt_rank_info info;
	struct lt_err err = { 0 };
	int status;

	unsetenv(LT_ENV_RANK_ENTRY);
	if (argc < 2)
		lt_die(LT_EXIT_USAGE, "%s is set but no model was given", LT_ENV_RANK_ENTRY);
	if (lt_rank_info_from_env(&info, &err) || lt_config_init(&cfg, &err) ||
	    lt_config_load_env(&cfg, NULL, &err) || lt_config_check(&cfg, &err))
		lt_die_err(&err);
	status = lt_rank_run(&info, &cfg, argv[1], argc - 1, argv + 1);
	lt_config_free(&cfg);
	return status;
}
