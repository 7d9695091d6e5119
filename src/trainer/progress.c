/*
 * progress.c - rank 0's progress display.  The same line serves both
 * modes; on a terminal it is redrawn in place ("\r", then the line, then
 * "clear to end of line"), elsewhere it is printed every log_every steps.
 * The clock is CLOCK_MONOTONIC; the ETA is the steps left over the step
 * rate since the first step shown.
 */
#include "core/clock.h"
#include "trainer/progress.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REDRAW_S 0.1 /* at most 10 redraws a second */

struct lt_progress {
	FILE *out;
	bool tty;
	int64_t total;
	int log_every;
	double (*clock)(void); /* seconds, monotonic */
	double t0, last_draw; /* seconds; t0 at the first step */
	int64_t step0;        /* steps done at t0 */
	bool started, drawn;  /* a step was seen; the bar is on screen */
	char line[320];       /* the last bar text, redrawn after a note */
	char extra[64];       /* appended to every line (lt_progress_set_extra) */
	struct {              /* the latest step, not drawn yet (tty) */
		bool due;
		int64_t step;
		int epoch;
		double loss, lr, sps;
	} pending;
};

struct lt_progress *lt_progress_new(FILE *out, bool tty, int64_t total_steps,
				    int log_every)
{
	struct lt_progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->out = out;
	p->tty = tty;
	/* A rank is never the terminal's foreground job: with 'stty tostop'
	 * the bar's first write would stop it, and every rank waiting for it.
	 * Ignored, SIGTTOU lets the write through. */
	if (tty)
		signal(SIGTTOU, SIG_IGN);
	p->total = total_steps > 0 ? total_steps : -1;
	p->log_every = log_every > 0 ? log_every : 1;
	p->clock = lt_now_s;
	return p;
}

void lt_progress_set_clock(struct lt_progress *p, double (*clock)(void))
{
	p->clock = clock ? clock : lt_now_s;
}

/* "1:02:03" or "2:03" for s seconds, into buf. */
static void format_eta(double s, char *buf, size_t len)
{
	long t = (long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* The progress line of this step into p->line. */
static void format_line(struct lt_progress *p, int64_t step, int epoch, double loss,
			double lr, double sps, double now)
{
	char eta[32] = "?";
	int n;

	if (p->total > 0)
		n = snprintf(p->line, sizeof(p->line), "step %lld/%lld (%d%%)", (long long)step,
			     (long long)p->total, (int)(100 * step / p->total));
	else
		n = snprintf(p->line, sizeof(p->line), "step %lld", (long long)step);
	n += snprintf(p->line + n, sizeof(p->line) - (size_t)n,
		      " epoch %d loss %.4g lr %.3g samples/s %.*f", epoch, loss, lr,
		      sps < 10 ? 1 : 0, sps);
	if (p->total > 0 && step > p->step0 && now > p->t0) {
		double rate = (double)(step - p->step0) / (now - p->t0);
		format_eta((double)(p->total - step) / rate, eta, sizeof(eta));
	}
	if (p->extra[0] && (size_t)n < sizeof(p->line))
		n += snprintf(p->line + n, sizeof(p->line) - (size_t)n, " %s", p->extra);
	if (p->total > 0 && (size_t)n < sizeof(p->line))
		snprintf(p->line + n, sizeof(p->line) - (size_t)n, " eta %s", eta);
}

void lt_progress_set_extra(struct lt_progress *p, const char *text)
{
	snprintf(p->extra, sizeof(p->extra), "%s", text ? text : "");
}

static void draw(struct lt_progress *p, double now)
{
	fprintf(p->out, "\r%s\033[K", p->line);
	fflush(p->out);
	p->drawn = true;
	p->last_draw = now;
}

void lt_progress_step(struct lt_progress *p, int64_t step, int epoch,
		      double loss, double lr, double samples_per_s)
{
	double now = p->clock();
	bool last = p->total > 0 && step >= p->total;

	if (!p->started) {
		p->started = true;
		p->t0 = now;
		p->step0 = step; /* when the first step began is unknown: rate from its end */
	}
	if (p->tty) {
		if (p->drawn && !last && now - p->last_draw < REDRAW_S) {
			p->pending.due = true;
			p->pending.step = step;
			p->pending.epoch = epoch;
			p->pending.loss = loss;
			p->pending.lr = lr;
			p->pending.sps = samples_per_s;
			return;
		}
		p->pending.due = false;
		format_line(p, step, epoch, loss, lr, samples_per_s, now);
		draw(p, now);
		return;
	}
	if (step % p->log_every && !last)
		return;
	format_line(p, step, epoch, loss, lr, samples_per_s, now);
	fprintf(p->out, "%s\n", p->line);
	fflush(p->out);
}

void lt_progress_note(struct lt_progress *p, const char *line)
{
	size_t n = strlen(line);
	bool nl = n && line[n - 1] == '\n';

	if (p->tty && p->drawn)
		fputs("\r\033[K", p->out);
	fprintf(p->out, "%s%s", line, nl ? "" : "\n");
	if (p->tty && p->drawn)
		fprintf(p->out, "%s\033[K", p->line);
	fflush(p->out);
}

void lt_progress_free(struct lt_progress *p)
{
	if (!p)
		return;
	if (p->tty && p->pending.due) {
		double now = p->clock();
		format_line(p, p->pending.step, p->pending.epoch, p->pending.loss, p->pending.lr,
			    p->pending.sps, now);
		draw(p, now);
	}
	if (p->tty && p->drawn) {
		fputc('\n', p->out);
		fflush(p->out);
	}
	free(p);
}
