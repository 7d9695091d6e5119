/*
 * loop.c - the Trainer-mode loop: epochs and steps, the distributed
 * sampler, gradient accumulation, synchronisation through the strategy,
 * the optimizer and its schedule, validation, logging and progress.
 *
 * One optimizer step is --accumulate-grad-batches micro-batches of
 * --batch-size samples per rank.  The sampler gives every rank a disjoint
 * share of the epoch (sampler.h); at the end of an epoch shares can differ
 * by one sample, so the last micro-batches of some ranks are smaller or
 * empty.  The loss scale each micro-batch is given (lt_loss_scale) is its
 * share of the samples of the whole step on every rank (times the loss
 * scaler's scale under 16-mixed), so that the strategy's sum over ranks
 * is exactly the mean gradient over every sample of the step: ddp on N
 * ranks with batch B computes what single_device computes with batch
 * N x B.
 *
 * The plan (epochs, steps per epoch, the total) is a pure function of the
 * options and the model's sample counts, so the run's facts
 * (lt_total_steps, lt_samples_per_rank) can make it from init on: the
 * counts are asked once, with the self init stored.  --max-steps without
 * --max-epochs lifts the epoch limit, as Lightning does.
 *
 * With --ckpt-dir, rank 0 saves a checkpoint every --ckpt-every-n-steps
 * steps, at the end of each epoch and of the run (checkpoint.c); with
 * --resume the loop goes on from where the checkpoint was taken.  A
 * preemption signal (preempt.h: SIGUSR1, SIGTERM) makes every rank finish
 * its step, save, and return LT_EXIT_STOPPED.
 *
 * Validation runs every --val-every-n-steps steps (0: at the end of each
 * epoch) on every rank's share of the validation split; its metrics are
 * summed across ranks, weighted by batch size.  Rank 0 shows progress and
 * hands each row of metrics to the --logger loggers (logger/logger.h).
 */
#include "comm/comm.h"
#include "core/clock.h"
#include "core/error.h"
#include "trainer/checkpoint.h"
#include "trainer/init_weights.h"
#include "logger/logger.h"
#include "trainer/progress.h"
#include "runtime/guards.h"
#include "runtime/ready.h"
#include "runtime/runtime.h"
#include "trainer/loop.h"
#include "trainer/preempt.h"
#include "trainer/sampler.h"
#include "trainer/state.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct plan {
	int64_t n_train, n_val;
	int64_t per_rank_max;    /* the largest share of an epoch (rank 0's) */
	int64_t micro_per_epoch; /* micro-batches of the largest share */
	int64_t steps_per_epoch;
	int64_t total_steps;
	int max_epochs;          /* INT_MAX: --max-steps alone, as many as its steps need */
	int batch, accumulate, world;
};

struct loop {
	struct lt_ctx *ctx;
	const struct lt_module *m;
	void *self;
	struct plan p;
	int64_t *idx;            /* this rank's share of the epoch */
	int64_t *vidx;           /* its share of the validation split */
	struct lt_loggers *loggers; /* rank 0 with --log-dir; else NULL */
	struct row {                /* the metrics of the row being made */
		const char *names[8 + 2 * LT_MAX_METRICS];
		double values[8 + 2 * LT_MAX_METRICS];
		int n;
	} row;
	struct lt_progress *progress;
	FILE *bar;               /* the agent's terminal, or NULL */
	/* the logging interval */
	double loss_sum, samples, t_start, t_interval, step_time_s;
	int64_t interval_steps;
	int64_t last_val_step;
	int64_t saved_step;      /* the step of the last checkpoint, or -1 */
};

static bool is_rank0(const struct loop *l)
{
	return l->ctx->info.rank == 0;
}

/* Sets column name of the row (name must live until the row is logged);
 * a later set of the same name wins. */
static void row_set(struct loop *l, const char *name, double value)
{
	struct row *r = &l->row;
	int i;

	for (i = 0; i < r->n && strcmp(r->names[i], name); i++)
		;
	if (i == (int)(sizeof(r->names) / sizeof(r->names[0])))
		return;
	r->names[i] = name;
	r->values[i] = value;
	if (i == r->n)
		r->n++;
}

/* Samples of micro-batch k of an epoch for a rank with `share` samples. */
static int micro_size(const struct plan *p, int64_t share, int64_t k)
{
	int64_t left = share - k * p->batch;

	return left <= 0 ? 0 : (int)(left < p->batch ? left : p->batch);
}

/* Asks the model's num_samples() of each split once, with the self its
 * init stored (so far, when the run's facts ask from init). */
static void count_samples(struct lt_ctx *ctx)
{
	const struct lt_module *m = ctx->module;

	if (ctx->counted)
		return;
	ctx->n_samples[LT_TRAIN] = m->num_samples(ctx, *ctx->self, LT_TRAIN);
	ctx->n_samples[LT_VAL] = m->val_step ? m->num_samples(ctx, *ctx->self, LT_VAL) : 0;
	ctx->counted = true;
}

/* The epochs and steps of the run, from the model's sample counts and the
 * options; a pure function of them, made again whenever asked. */
static void make_plan(struct lt_ctx *ctx, struct plan *p)
{
	const struct lt_config *c = ctx->cfg;
	const char *name = ctx->module->name ? ctx->module->name : "?";

	count_samples(ctx);
	p->world = ctx->info.world_size;
	p->batch = c->batch_size;
	p->accumulate = c->accumulate;
	p->n_train = ctx->n_samples[LT_TRAIN];
	p->n_val = ctx->n_samples[LT_VAL];
	if (p->n_train <= 0)
		lt_fatal(ctx, "model '%s' has %lld training samples: num_samples(LT_TRAIN) must be positive",
			 name, (long long)p->n_train);
	if (p->n_val < 0)
		p->n_val = 0;
	p->per_rank_max = lt_sampler_count(p->n_train, p->world, 0);
	if (p->per_rank_max == 0)
		lt_fatal(ctx, "%lld training samples for %d ranks: every rank needs at least one (use fewer --devices)",
			 (long long)p->n_train, p->world);
	p->micro_per_epoch = (p->per_rank_max + p->batch - 1) / p->batch;
	p->steps_per_epoch = (p->micro_per_epoch + p->accumulate - 1) / p->accumulate;
	/* --max-steps without --max-epochs runs to max-steps (Lightning's
	 * max_epochs is unlimited when max_steps is set); with both, the
	 * sooner wins */
	p->max_epochs = c->max_epochs;
	if (c->max_steps > 0 && c->source[LT_OPT_MAX_EPOCHS] == LT_SRC_DEFAULT)
		p->max_epochs = INT_MAX;
	p->total_steps = p->max_epochs == INT_MAX ? c->max_steps
						  : (int64_t)p->max_epochs * p->steps_per_epoch;
	if (c->max_steps > 0 && c->max_steps < p->total_steps)
		p->total_steps = c->max_steps;
}

/* The plan for a fact the model asks (abi_facts.c); fn names the call.
 * From init, the counts need the self it stored. */
static void plan_for_model(struct lt_ctx *ctx, const char *fn, struct plan *p)
{
	if (!ctx->counted && !*ctx->self)
		lt_fatal(ctx, "%s() in init: set *self and load the data first (ltrun asks num_samples with it)",
			 fn);
	make_plan(ctx, p);
}

int64_t lt_trainer_total_steps(struct lt_ctx *ctx)
{
	struct plan p;

	plan_for_model(ctx, "lt_total_steps", &p);
	return p.total_steps;
}

int64_t lt_trainer_samples_per_rank(struct lt_ctx *ctx, enum lt_split split)
{
	struct plan p;

	plan_for_model(ctx, "lt_samples_per_rank", &p);
	return lt_sampler_count(split == LT_VAL ? p.n_val : p.n_train, p.world, ctx->info.rank);
}

/* Samples of micro-batches [m0, m1) of the epoch on every rank. */
static int64_t step_samples(const struct plan *p, int64_t m0, int64_t m1)
{
	int64_t total = 0;

	for (int r = 0; r < p->world; r++) {
		int64_t share = lt_sampler_count(p->n_train, p->world, r);
		for (int64_t k = m0; k < m1; k++)
			total += micro_size(p, share, k);
	}
	return total;
}

/* --- validation --- */

static void show_validation(struct loop *l, const double *v, int epoch)
{
	struct lt_ctx *ctx = l->ctx;
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "epoch %d step %lld: val_loss %.4f", epoch,
		     (long long)ctx->step, v[1] > 0 ? v[0] / v[1] : NAN);
	row_set(l, "val_loss", v[1] > 0 ? v[0] / v[1] : NAN);
	for (int i = 0; i < ctx->nval_metrics; i++) {
		double value = v[3 + 2 * i] > 0 ? v[2 + 2 * i] / v[3 + 2 * i] : NAN;
		if (n < (int)sizeof(line))
			n += snprintf(line + n, sizeof(line) - (size_t)n, " %s %.4f",
				      ctx->val_metrics[i].name, value);
		row_set(l, ctx->val_metrics[i].name, value);
	}
	if (l->progress)
		lt_progress_note(l->progress, line);
	else
		fprintf(stderr, "%s\n", line);
}

/* Runs validation unless there is no split or this step was validated.
 * Returns whether it ran. */
static bool validate(struct loop *l, int epoch)
{
	struct lt_ctx *ctx = l->ctx;
	const struct plan *p = &l->p;
	double v[2 + 2 * LT_MAX_METRICS] = { 0 };
	struct lt_err err = { 0 };
	int64_t count, batches, last;

	if (!p->n_val || l->last_val_step == ctx->step)
		return false;
	l->last_val_step = ctx->step;
	count = lt_sampler_shard(p->n_val, p->world, ctx->info.rank, 0, 0, false, l->vidx);
	if (count < 0)
		lt_fatal(ctx, "out of memory for the validation split's %lld indices",
			 (long long)p->n_val);
	/* Under sharded values a val_step begins units, which gathers them
	 * collectively: every rank runs as many as rank 0, which has the most
	 * samples, a rank out of samples repeating its last one (or the
	 * split's first) with its loss and metrics left out. */
	batches = (count + p->batch - 1) / p->batch;
	if (ctx->layout.values_sharded)
		batches = (lt_sampler_count(p->n_val, p->world, 0) + p->batch - 1) / p->batch;
	last = count ? l->vidx[count - 1] : 0;
	ctx->in_val = true;
	ctx->nval_metrics = 0;
	for (int64_t k = 0; k < batches; k++) {
		bool pad = k * p->batch >= count;
		int size = pad ? 1 : micro_size(p, count, k);
		struct lt_batch b = { .index = pad ? &last : l->vidx + k * p->batch, .size = size,
				      .split = LT_VAL, .epoch = epoch, .step = ctx->step };
		double loss = 0.0;
		ctx->cur_batch_size = size;
		ctx->val_padding = pad;
		if (l->m->val_step(ctx, l->self, &b, &loss))
			lt_fatal(ctx, "val_step of model '%s' failed at step %lld", l->m->name,
				 (long long)ctx->step);
		if (!pad) {
			v[0] += loss * size;
			v[1] += size;
		}
	}
	ctx->val_padding = false;
	ctx->in_val = false;
	for (int i = 0; i < ctx->nval_metrics; i++) {
		v[2 + 2 * i] = ctx->val_metrics[i].sum;
		v[3 + 2 * i] = ctx->val_metrics[i].weight;
	}
	if (lt_comm_all_reduce(ctx->comm, v, 2 + 2 * (size_t)LT_MAX_METRICS, LT_F64, LT_SUM, &err))
		lt_fatal(ctx, "summing validation metrics: %s", err.msg);
	if (is_rank0(l))
		show_validation(l, v, epoch);
	return true;
}

/* --- logging --- */

static void log_interval(struct loop *l, int epoch, double lr)
{
	struct lt_ctx *ctx = l->ctx;
	double v[2] = { l->loss_sum, l->samples }, t = lt_now_s(), loss, rate;
	struct lt_err err = { 0 };

	if (lt_comm_all_reduce(ctx->comm, v, 2, LT_F64, LT_SUM, &err))
		lt_fatal(ctx, "summing the training loss: %s", err.msg);
	loss = v[1] > 0 ? v[0] / v[1] : NAN;
	rate = t > l->t_interval ? v[1] / (t - l->t_interval) : 0.0;
	if (is_rank0(l)) {
		row_set(l, "loss", loss);
		row_set(l, "lr", lr);
		row_set(l, "samples_per_s", rate);
		if (ctx->precision->scaler) {
			row_set(l, "loss_scale", ctx->scaler.st.scale);
			row_set(l, "skipped_steps", (double)ctx->scaler.st.skipped);
		}
		for (int i = 0; i < ctx->ntrain_metrics; i++)
			row_set(l, ctx->train_metrics[i].name,
				ctx->train_metrics[i].weight > 0
					? ctx->train_metrics[i].sum / ctx->train_metrics[i].weight
					: NAN);
		if (l->progress && ctx->precision->scaler) {
			char extra[64];
			snprintf(extra, sizeof(extra), "scale %g skipped %lld", ctx->scaler.st.scale,
				 (long long)ctx->scaler.st.skipped);
			lt_progress_set_extra(l->progress, extra);
		}
		if (l->progress)
			lt_progress_step(l->progress, ctx->step, epoch, loss, lr, rate);
	}
	ctx->ntrain_metrics = 0;
	l->loss_sum = l->samples = 0.0;
	l->t_interval = t;
}

static void commit_metrics(struct loop *l, int epoch)
{
	struct timespec now;

	if (l->row.n && l->loggers) {
		clock_gettime(CLOCK_REALTIME, &now);
		lt_loggers_log(l->loggers, l->ctx->step, epoch,
			       (double)now.tv_sec + (double)now.tv_nsec / 1e9, l->row.names,
			       l->row.values, l->row.n);
	}
	l->row.n = 0;
}

/* --- one step --- */

static void run_step(struct loop *l, int epoch, int64_t s)
{
	struct lt_ctx *ctx = l->ctx;
	const struct plan *p = &l->p;
	int64_t m0 = s * p->accumulate, m1 = m0 + p->accumulate;
	int64_t share = lt_sampler_count(p->n_train, p->world, ctx->info.rank), total;
	struct lt_err err = { 0 };
	double t0 = lt_now_s(), lr;
	bool row = false;

	if (m1 > p->micro_per_epoch)
		m1 = p->micro_per_epoch;
	total = step_samples(p, m0, m1);
	for (int64_t k = m0; k < m1; k++) {
		int size = micro_size(p, share, k);
		struct lt_batch b = { .index = l->idx + k * p->batch, .size = size,
				      .split = LT_TRAIN, .epoch = epoch, .step = ctx->step,
				      .micro = (int)(k - m0) };
		double loss = 0.0;

		ctx->syncing = k == m1 - 1;
		if (!size)
			continue;
		ctx->sample_weight = (double)size / (double)total;
		lt_runtime_update_loss_scale(ctx);
		ctx->cur_batch_size = size;
		lt_guard_probe(ctx, l->m, l->self, &b);
		if (l->m->train_step(ctx, l->self, &b, &loss))
			lt_fatal(ctx, "train_step of model '%s' failed at step %lld", l->m->name,
				 (long long)ctx->step);
		lt_ready_micro_done(ctx, l->m->name);
		if (k < m1 - 1 && lt_runtime_micro_done(ctx, &err))
			lt_fatal(ctx, "gradient reduction of micro-batch %lld at step %lld: %s",
				 (long long)(k - m0), (long long)ctx->step, err.msg);
		if (!isfinite(loss))
			lt_warn("rank %d: loss is %g at step %lld", ctx->info.rank, loss,
				(long long)ctx->step);
		l->loss_sum += loss * size;
		l->samples += size;
	}
	if (lt_runtime_sync(ctx, &err))
		lt_fatal(ctx, "gradient synchronisation at step %lld: %s", (long long)ctx->step,
			 err.msg);
	lr = lt_runtime_lr(ctx, p->total_steps);
	if (lt_runtime_optimizer_step(ctx, lr, &err))
		lt_fatal(ctx, "optimizer step %lld: %s", (long long)ctx->step, err.msg);
	l->step_time_s += lt_now_s() - t0;
	if (ctx->step % ctx->cfg->log_every == 0 || ctx->step == p->total_steps) {
		log_interval(l, epoch, lr);
		row = true;
	}
	if (ctx->cfg->val_every > 0 && ctx->step % ctx->cfg->val_every == 0)
		row |= validate(l, epoch);
	if (row)
		commit_metrics(l, epoch);
}

/* --- the run --- */

/* Where rank 0's progress goes: the terminal the agent handed over
 * (LTRUN_PROGRESS_FD), else stderr. */
static FILE *progress_stream(struct loop *l)
{
	const char *fd = getenv(LT_ENV_PROGRESS_FD);
	char *end;
	long n;

	if (!fd)
		return stderr;
	n = strtol(fd, &end, 10);
	if (*end || n < 3 || n > 65535 || !isatty((int)n))
		return stderr;
	l->bar = fdopen((int)n, "w");
	return l->bar ? l->bar : stderr;
}

/* The settings a logger records (TensorBoard's hparams): what places
 * and trains the model, and the world size. */
static const enum lt_opt_id logged_options[] = {
	LT_OPT_STRATEGY, LT_OPT_ACCELERATOR, LT_OPT_PRECISION, LT_OPT_MAX_EPOCHS,
	LT_OPT_MAX_STEPS, LT_OPT_BATCH_SIZE, LT_OPT_ACCUMULATE, LT_OPT_SEED,
	LT_OPT_OPTIMIZER, LT_OPT_LR, LT_OPT_MOMENTUM, LT_OPT_WEIGHT_DECAY,
	LT_OPT_LR_SCHEDULE, LT_OPT_WARMUP_STEPS, LT_OPT_MIN_LR, LT_OPT_ADAM_BETAS,
	LT_OPT_ADAM_EPS, LT_OPT_WEIGHT_DECAY_ON, LT_OPT_CLIP_VAL, LT_OPT_CLIP_ALGORITHM,
};
#define NLOGGED (sizeof(logged_options) / sizeof(logged_options[0]))

/* Rank 0's loggers in --log-dir (made if missing).  A logger that cannot
 * start is warned about, and the run goes on without it. */
static void open_loggers(struct loop *l)
{
	struct lt_ctx *ctx = l->ctx;
	static char values[NLOGGED + 1][256], world[32];
	static const char *names[NLOGGED + 1], *vals[NLOGGED + 1];
	struct lt_logger_run run = { .log_dir = ctx->cfg->log_dir, .host = ctx->host,
				     .run_id = ctx->info.run_id, .world_size = ctx->info.world_size,
				     .first_step = ctx->resumed ? ctx->step : 0,
				     .restart = ctx->info.restart_count, .config_names = names,
				     .config_values = vals };
	struct timespec now;

	for (size_t i = 0; i < NLOGGED; i++) {
		const struct lt_option *o = &lt_options[logged_options[i]];
		names[i] = o->name;
		vals[i] = lt_config_value(ctx->cfg, o, values[i], sizeof(values[i]));
	}
	snprintf(world, sizeof(world), "%d", ctx->info.world_size);
	names[NLOGGED] = "world_size";
	vals[NLOGGED] = world;
	run.nconfig = (int)NLOGGED + 1;
	clock_gettime(CLOCK_REALTIME, &now);
	run.wall_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	if (mkdir(ctx->cfg->log_dir, 0777) && errno != EEXIST)
		lt_warn("cannot create --log-dir '%s': %s", ctx->cfg->log_dir, strerror(errno));
	l->loggers = lt_loggers_open(ctx->reg, ctx->cfg->logger, &run, stderr);
	if (!l->loggers)
		lt_fatal(ctx, "out of memory for the loggers");
}

static void open_outputs(struct loop *l)
{
	struct lt_ctx *ctx = l->ctx;

	if (!is_rank0(l))
		return;
	if (ctx->cfg->log_dir)
		open_loggers(l);
	l->progress = lt_progress_new(progress_stream(l), l->bar != NULL || isatty(STDERR_FILENO),
				      l->p.total_steps, ctx->cfg->log_every);
	if (!l->progress)
		lt_fatal(ctx, "out of memory for the progress display");
}

static void summary(struct loop *l, double elapsed)
{
	struct lt_ctx *ctx = l->ctx;
	int64_t steps = ctx->step;

	if (!is_rank0(l))
		return;
	/* grad_mb: the gradient bytes one step all-reduces (in the compute
	 * dtype); skipped: steps the loss scaler skipped. */
	fprintf(stderr, "ltrun: trained %lld steps in %.2f s: steps=%lld step_ms=%.3f comm_wait_ms=%.3f grad_mb=%.3f skipped=%lld\n",
		(long long)steps, elapsed, (long long)steps,
		steps ? 1e3 * l->step_time_s / (double)steps : 0.0,
		steps ? 1e3 * ctx->comm_wait_s / (double)steps : 0.0,
		ctx->info.world_size > 1 ? (double)ctx->grad_arena.used / 1048576.0 : 0.0,
		(long long)ctx->scaler.st.skipped);
}

/* --- stopping on a preemption signal (preempt.c) --- */

/* Whether any rank was asked to stop: every rank leaves after the same
 * step. */
static bool stop_agreed(struct loop *l)
{
	struct lt_ctx *ctx = l->ctx;
	struct lt_err err = { 0 };
	int32_t flag = lt_preempt_requested();

	if (ctx->info.world_size > 1 &&
	    lt_comm_all_reduce(ctx->comm, &flag, 1, LT_I32, LT_MAX, &err))
		lt_fatal(ctx, "agreeing on a stop: %s", err.msg);
	return flag != 0;
}

/* --- checkpoints --- */

static void save(struct loop *l, int epoch, int64_t steps_done)
{
	struct lt_ctx *ctx = l->ctx;
	struct lt_ckpt_pos pos = { .epoch = epoch, .step_in_epoch = steps_done };
	struct lt_err err = { 0 };

	if (!ctx->cfg->ckpt_dir || l->saved_step == ctx->step)
		return;
	if (steps_done >= l->p.steps_per_epoch)
		pos = (struct lt_ckpt_pos){ .epoch = epoch + 1, .step_in_epoch = 0 };
	/* every rank: rank 0's blobs are saved */
	if (l->m->on_save && !(ctx->save_state = lt_state_create()))
		lt_fatal(ctx, "out of memory for the model's state");
	if (l->m->on_save && l->m->on_save(ctx, l->self, ctx->save_state))
		lt_fatal(ctx, "on_save of model '%s' failed at step %lld", l->m->name,
			 (long long)ctx->step);
	if (lt_trainer_ckpt_save(ctx, &pos, &err))
		lt_fatal(ctx, "checkpoint at step %lld: %s", (long long)ctx->step, err.msg);
	lt_state_destroy(ctx->save_state);
	ctx->save_state = NULL;
	l->saved_step = ctx->step;
}

/* Runs the epochs from pos on.  Returns false when stopped by a signal. */
static bool train_epochs(struct loop *l, struct lt_ckpt_pos pos, int *last_epoch)
{
	struct lt_ctx *ctx = l->ctx;
	int every = ctx->cfg->ckpt_every;

	for (int epoch = pos.epoch; epoch < l->p.max_epochs && ctx->step < l->p.total_steps;
	     epoch++) {
		*last_epoch = epoch;
		if (lt_sampler_shard(l->p.n_train, l->p.world, ctx->info.rank,
				     (uint64_t)ctx->cfg->seed, epoch, true, l->idx) < 0)
			lt_fatal(ctx, "out of memory for the permutation of %lld samples",
				 (long long)l->p.n_train);
		int64_t s;

		for (s = epoch == pos.epoch ? pos.step_in_epoch : 0;
		     s < l->p.steps_per_epoch && ctx->step < l->p.total_steps; s++) {
			run_step(l, epoch, s);
			if (every > 0 && ctx->step % every == 0)
				save(l, epoch, s + 1);
			if (stop_agreed(l)) {
				save(l, epoch, s + 1);
				return false;
			}
		}
		if (ctx->cfg->val_every == 0 && validate(l, epoch))
			commit_metrics(l, epoch);
		/* s < steps_per_epoch when --max-steps cut the epoch short. */
		save(l, epoch, s);
	}
	return true;
}

int lt_trainer_run(struct lt_ctx *ctx, const struct lt_module *m, int argc, char **argv)
{
	struct loop l = { .ctx = ctx, .m = m, .last_val_step = -1, .saved_step = -1 };
	struct lt_ckpt_pos pos = { 0 };
	struct lt_err err = { 0 };
	int epoch = 0;
	bool finished;

	/* the preemption signals are caught already (lt_rank_run) */
	/* before anything costly: a second run on one --ckpt-dir stops here */
	if (lt_trainer_ckpt_lock(ctx, &err))
		lt_fatal(ctx, "%s", err.msg);
	ctx->module = m;
	ctx->self = &l.self;
	if (m->init(ctx, argc, argv, &l.self))
		lt_fatal(ctx, "init of model '%s' failed", m->name ? m->name : argv[0]);
	lt_init_weights_apply(ctx); /* --init-weights: rank 0 reads, setup shares */
	ctx->groups_fixed = true;
	make_plan(ctx, &l.p);
	ctx->planned_steps = l.p.total_steps;
	if (lt_runtime_setup(ctx, &err) || lt_trainer_ckpt_resume(ctx, &pos, &err))
		lt_fatal(ctx, "%s", err.msg);
	if (ctx->loaded_state && m->on_load && m->on_load(ctx, l.self, ctx->loaded_state))
		lt_fatal(ctx, "on_load of model '%s' failed after resuming step %lld", m->name,
			 (long long)ctx->step);
	lt_trainer_ckpt_clean(ctx);
	l.saved_step = ctx->resumed ? ctx->step : -1;
	l.idx = calloc((size_t)l.p.per_rank_max, sizeof(*l.idx));
	l.vidx = calloc((size_t)lt_sampler_count(l.p.n_val, l.p.world, 0) + 1, sizeof(*l.vidx));
	if (!l.idx || !l.vidx)
		lt_fatal(ctx, "out of memory for the sampler");
	open_outputs(&l);
	l.t_start = l.t_interval = lt_now_s();
	epoch = pos.epoch;
	finished = train_epochs(&l, pos, &epoch);
	/* The run ends validated, whatever cut it short (but a signal). */
	if (finished && validate(&l, epoch))
		commit_metrics(&l, epoch);
	if (finished)
		save(&l, epoch, l.p.steps_per_epoch);
	if (l.progress)
		lt_progress_free(l.progress);
	if (l.bar)
		fclose(l.bar);
	if (lt_trainer_ckpt_finish(ctx, &err))
		lt_fatal(ctx, "checkpoint: %s", err.msg);
	if (!finished) /* every save is complete now (async IO included) */
		lt_preempt_note(ctx, ctx->cfg->ckpt_dir != NULL);
	summary(&l, lt_now_s() - l.t_start);
	if (m->fini)
		m->fini(ctx, l.self);
	lt_loggers_close(l.loggers);
	free(l.idx);
	free(l.vidx);
	return finished ? 0 : LT_EXIT_STOPPED;
}
