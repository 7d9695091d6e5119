/*
 * progress.h - what rank 0 shows while it trains: on a terminal a live bar
 * redrawn in place (at most about 10 times a second), otherwise (a log
 * file, a batch job's output) one plain line every log_every steps.
 * Validation results and other notes are printed above the bar.
 */
#ifndef LT_TRAINER_PROGRESS_H
#define LT_TRAINER_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct lt_progress; /* opaque */

/* Progress shown on out (usually stderr, never closed here).  tty: out is
 * a terminal, so a bar is redrawn with '\r'; else plain lines every
 * log_every steps (values below 1 count as 1).  total_steps may be -1
 * (unknown: no percentage, no ETA).  With tty, SIGTTOU is ignored in this
 * process from then on, so that drawing from the background never stops
 * it.  Returns NULL only when out of memory (the caller may go on without
 * progress). */
struct lt_progress *lt_progress_new(FILE *out, bool tty, int64_t total_steps,
				    int log_every);

/* After each optimizer step: step is the count of steps done, loss the
 * mean training loss of the interval, lr the learning rate used,
 * samples_per_s the global throughput.  Shows step/total, epoch, loss, lr,
 * samples/s and the ETA (from the step rate since the first call).
 *
 *   step 120/1000 (12%) epoch 1 loss 0.1234 lr 0.01 samples/s 5120 eta 0:01:23
 */
void lt_progress_step(struct lt_progress *p, int64_t step, int epoch,
		      double loss, double lr, double samples_per_s);

/* Text shown after the learning rate on every later line, e.g. the loss
 * scaler's "scale 65536 skipped 2" (NULL or "" for none; at most 63
 * characters are kept). */
void lt_progress_set_extra(struct lt_progress *p, const char *text);

/* Prints line (no newline needed) above the bar, which is then redrawn:
 * "epoch 1 step 120: val_loss 0.12 val_acc 0.961". */
void lt_progress_note(struct lt_progress *p, const char *line);

/* Replaces the clock (seconds, monotonic; NULL: CLOCK_MONOTONIC), for
 * tests that need the redraws to be predictable. */
void lt_progress_set_clock(struct lt_progress *p, double (*clock)(void));

/* Ends the bar with a newline (after a last redraw) and frees p; NULL is
 * ignored. */
void lt_progress_free(struct lt_progress *p);

#endif
