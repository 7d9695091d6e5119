/*
 * tb_event.h - TensorBoard event files (events.out.tfevents.*), written
 * with protobuf-c from our own .proto files (proto/), wire-compatible
 * with TensorBoard's event.proto and summary.proto.  Each record is
 * framed as TensorFlow's record writer does: the length (8 bytes, little
 * endian), its masked CRC-32C, the Event, the Event's masked CRC-32C.
 *
 * Records are buffered in memory and written by lt_tb_flush() (the
 * tensorboard logger calls it every few seconds and at the end) with one
 * write(2) of whole records, so a crash loses at most what was not
 * flushed and never leaves a torn record in the middle of the file.
 */
#ifndef LT_LOGGER_TB_EVENT_H
#define LT_LOGGER_TB_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ltrun/plugin.h"

struct lt_tb_writer;

/* Creates a new event file in dir (which must exist):
 * "events.out.tfevents.<unix seconds>.<host>.<pid>.<n>", the seconds of
 * wall_time, host with '/' and control bytes made '_' (NULL or empty:
 * "localhost"), the first free n, made with O_EXCL so that two jobs (or
 * two restarts) writing into one directory never share a file; then
 * buffers the first record, the file_version event "brain.Event:2" at
 * wall_time.  Returns NULL with err naming the directory (and the fix)
 * when it cannot be written. */
struct lt_tb_writer *lt_tb_open(const char *dir, const char *host, double wall_time,
				struct lt_err *err);

/* The path of w's file. */
const char *lt_tb_path(const struct lt_tb_writer *w);

/* Buffers one scalar: an Event {wall_time, step, summary {value {tag,
 * simple_value}}}.  tag must be valid (lt_tb_tag_valid).  Returns 0, or
 * -1 with err (out of memory). */
int lt_tb_scalar(struct lt_tb_writer *w, const char *tag, int64_t step, double wall_time,
		 float value, struct lt_err *err);

/* Buffers a text summary (TensorBoard's "text" plugin: a Summary value
 * whose metadata names plugin "text" and whose tensor is a DT_STRING
 * scalar holding text, Markdown). */
int lt_tb_text(struct lt_tb_writer *w, const char *tag, int64_t step, double wall_time,
	       const char *text, struct lt_err *err);

/* Buffers hparams (TensorBoard's "hparams" plugin: the session start info
 * with every name = value, numbers as numbers and the rest as strings),
 * so TensorBoard's HPARAMS tab shows the run's settings.  n pairs.  A
 * number is a finite decimal ("32", "-1e-4"); "nan", "inf" and "0x10"
 * stay strings. */
int lt_tb_hparams(struct lt_tb_writer *w, const char *const *names, const char *const *values,
		  int n, double wall_time, struct lt_err *err);

/* Buffers a SessionLog START at step: TensorBoard drops what an earlier
 * file of the run logged at this step and after (a restart or a resume
 * from an earlier checkpoint), so no step shows twice. */
int lt_tb_session_start(struct lt_tb_writer *w, int64_t step, double wall_time,
			struct lt_err *err);

/* Writes the buffered records (whole records, appended) and fsyncs
 * nothing (fdatasync only with durable).  Returns 0, or -1 with err
 * naming the file and errno's text (ENOSPC: the disk is full); the
 * records stay buffered (up to a bound; past it the oldest are dropped
 * and counted) for the next flush. */
int lt_tb_flush(struct lt_tb_writer *w, bool durable, struct lt_err *err);

/* Records dropped because the buffer (8 MiB) was full while writes
 * failed (or nothing flushed).  The file_version record is never dropped
 * before it is written. */
uint64_t lt_tb_dropped(const struct lt_tb_writer *w);

/* Flushes (errors ignored: the logger flushed first if it cared), closes
 * and frees w; NULL is ignored. */
void lt_tb_close(struct lt_tb_writer *w);

/* Whether TensorBoard takes tag as it is: non-empty, at most 256 bytes,
 * made of [A-Za-z0-9_./-] (its summary name rule), not starting with '/'. */
bool lt_tb_tag_valid(const char *tag);

/* The masked CRC-32C of TensorFlow's record format:
 * ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
uint32_t lt_tb_masked_crc(const void *p, size_t n);

#endif
