/*
 * preempt.c - the preemption signals of a Trainer run (--preempt-signals,
 * SIGUSR1 and SIGTERM by default: Slurm's --signal=USR1@T and its
 * preemption, forwarded by the agent).  A handler only raises a flag; the
 * loop (loop.c) agrees with every rank on the step to stop after, saves
 * and returns LT_EXIT_STOPPED, and rank 0 leaves its agent a note: the
 * step and the checkpoint, for the agent's one line and its requeue.
 */
#include "core/signals.h"
#include "runtime/ctx.h"
#include "trainer/preempt.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t requested;
/* the signals lt_preempt_catch caught, for lt_preempt_release */
static int caught[LT_MAX_SIGNALS], ncaught;

static void on_preempt_signal(int sig)
{
	requested = sig;
}

int lt_preempt_catch(const struct lt_config *cfg, struct lt_err *err)
{
	struct sigaction sa = { .sa_handler = on_preempt_signal };
	int sigs[LT_MAX_SIGNALS];
	int n = lt_signals_parse(cfg->preempt_signals,
				 cfg->source_name[LT_OPT_PREEMPT_SIGNALS], sigs, err);

	if (n < 0)
		return -1;
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (int i = 0; i < n; i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&set, sigs[i]);
		caught[i] = sigs[i];
	}
	ncaught = n;
	/* the agent starts a rank with them blocked: one that came is now
	 * delivered to the handler */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

void lt_preempt_release(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };

	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < ncaught; i++)
		sigaction(caught[i], &sa, NULL);
	ncaught = 0;
	if (requested)
		raise(requested);
}

bool lt_preempt_requested(void)
{
	return requested != 0;
}

/* Written aside and renamed: the agent never reads half a file. */
static void write_note(const char *path, const char *text)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s\n", text);
	if (fclose(f) == 0)
		rename(tmp, path);
}

void lt_preempt_note(const struct lt_ctx *ctx, bool saved)
{
	char where[4200];
	cJSON *json;
	char *text;

	if (ctx->info.rank != 0)
		return;
	if (saved)
		snprintf(where, sizeof(where), "%s/step-%lld", ctx->cfg->ckpt_dir,
			 (long long)ctx->step);
	/* Without an agent to say it (srun or mpirun made the ranks). */
	if (!ctx->info.error_file[0]) {
		fprintf(stderr, "ltrun: preempted at step %lld, %s%s\n", (long long)ctx->step,
			saved ? "checkpoint saved in " : "nothing saved (no --ckpt-dir)",
			saved ? where : "");
		return;
	}
	if (!(json = cJSON_CreateObject()))
		return;
	cJSON_AddNumberToObject(json, LT_PREEMPT_NOTE_STEP, (double)ctx->step);
	if (saved)
		cJSON_AddStringToObject(json, LT_PREEMPT_NOTE_CKPT, where);
	text = cJSON_PrintUnformatted(json);
	cJSON_Delete(json);
	if (text)
		write_note(ctx->info.error_file, text);
	free(text);
}
