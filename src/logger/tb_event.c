/*
 * tb_event.c - TensorBoard event files (tb_event.h): Events packed with
 * protobuf-c from the .proto files of proto/tensorboard/, framed as
 * TensorFlow's record writer frames them, buffered in memory and appended
 * whole by lt_tb_flush().
 *
 * The buffer holds framed records back to back, oldest first; past
 * LT_TB_BUF_MAX bytes the oldest are dropped (and counted), never the
 * file_version record while the file is still empty, so that a file
 * always starts with it.
 */
#include "logger/tb_event.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/crc32c.h"
#include "core/buf.h"
#include "core/io.h"
#include "tensorboard/event.pb-c.h"
#include "tensorboard/plugin_data.pb-c.h"

/* Bytes of records kept while writes fail: some 100000 scalars. */
#define LT_TB_BUF_MAX (8u << 20)
/* A record's framing: length, its CRC, then the data's CRC. */
#define LT_TB_HEAD 12
#define LT_TB_TAIL 4
/* The longest host part of a file name (NAME_MAX is 255). */
#define LT_TB_HOST_MAX 64
/* Files tried in one directory for one second, host and pid. */
#define LT_TB_TRIES 1000

struct lt_tb_writer {
	int fd;
	char *path;
	struct lt_buf buf;  /* framed records not yet written */
	bool written;       /* the file holds at least the file_version record */
	uint64_t dropped;   /* records dropped from a full buffer */
};

uint32_t lt_tb_masked_crc(const void *p, size_t n)
{
	uint32_t crc = lt_crc32c(0, p, n);

	return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

bool lt_tb_tag_valid(const char *tag)
{
	size_t n = strlen(tag);

	if (!n || n > 256 || tag[0] == '/')
		return false;
	return strspn(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789_./-") == n;
}

const char *lt_tb_path(const struct lt_tb_writer *w)
{
	return w->path;
}

uint64_t lt_tb_dropped(const struct lt_tb_writer *w)
{
	return w->dropped;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The size of the framed record at p (which holds at least a head). */
static size_t record_size(const unsigned char *p)
{
	uint64_t n = 0;

	for (int i = 7; i >= 0; i--)
		n = n << 8 | p[i];
	return LT_TB_HEAD + (size_t)n + LT_TB_TAIL;
}

/* Drops the oldest records until n more bytes fit under LT_TB_BUF_MAX
 * (or nothing droppable is left: one record larger than the bound is
 * kept whole). */
static void make_room(struct lt_tb_writer *w, size_t n)
{
	size_t keep = 0, cut = 0;

	if (!w->written && w->buf.len)
		keep = record_size((unsigned char *)w->buf.data);
	while (w->buf.len - cut > keep && w->buf.len - cut + n > LT_TB_BUF_MAX) {
		cut += record_size((unsigned char *)w->buf.data + keep + cut);
		w->dropped++;
	}
	if (!cut)
		return;
	memmove(w->buf.data + keep, w->buf.data + keep + cut, w->buf.len - keep - cut);
	w->buf.len -= cut;
	w->buf.data[w->buf.len] = '\0';
}

/* Packs ev and appends it to w's buffer as one framed record. */
static int add_event(struct lt_tb_writer *w, const Tensorboard__Event *ev, struct lt_err *err)
{
	size_t n = tensorboard__event__get_packed_size(ev);
	size_t total = LT_TB_HEAD + n + LT_TB_TAIL;
	unsigned char *p;

	make_room(w, total);
	if (lt_buf_reserve(&w->buf, total))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "out of memory buffering a TensorBoard event for '%s'", w->path);
	p = (unsigned char *)w->buf.data + w->buf.len;
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)((uint64_t)n >> (8 * i));
	put_le32(p + 8, lt_tb_masked_crc(p, 8));
	tensorboard__event__pack(ev, p + LT_TB_HEAD);
	put_le32(p + LT_TB_HEAD + n, lt_tb_masked_crc(p + LT_TB_HEAD, n));
	w->buf.len += total;
	w->buf.data[w->buf.len] = '\0';
	return 0;
}

/* Copies s into out (size LT_TB_HOST_MAX + 1) as a file name may hold it:
 * '/', control bytes and DEL made '_'; NULL or empty: "localhost". */
static void host_part(char *out, const char *s)
{
	size_t i;

	if (!s || !*s)
		s = "localhost";
	for (i = 0; s[i] && i < LT_TB_HOST_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c == '/' || c < 0x20 || c == 0x7f ? '_' : (char)c;
	}
	out[i] = '\0';
}

/* The latest <secs> of the event files in dir, or -1.  TensorBoard reads
 * a run's files in the order of their names: a new file must sort after
 * every file there, or a restart's SessionLog START would be read before
 * the steps it is to drop. */
static long long latest_secs(const char *dir)
{
	static const char prefix[] = "events.out.tfevents.";
	DIR *d = opendir(dir);
	struct dirent *e;
	long long latest = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char *end;
		long long t;

		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1))
			continue;
		t = strtoll(e->d_name + sizeof(prefix) - 1, &end, 10);
		if (*end == '.' && t > latest)
			latest = t;
	}
	closedir(d);
	return latest;
}

/* Creates dir's first free "events.out.tfevents.<secs>.<host>.<pid>.<n>"
 * into w (fd, path); secs is wall_time's, or one past the latest file's
 * when that is not earlier (the same second, a clock set back). */
static int create_file(struct lt_tb_writer *w, const char *dir, const char *host,
		       double wall_time, struct lt_err *err)
{
	char hostname[LT_TB_HOST_MAX + 1];
	long long secs = isfinite(wall_time) && wall_time > 0 ? (long long)wall_time : 0;
	long long latest = latest_secs(dir);
	struct lt_buf name = LT_BUF_INIT;

	if (latest >= secs)
		secs = latest + 1;

	host_part(hostname, host);
	for (int n = 0; n < LT_TB_TRIES; n++) {
		name.len = 0;
		if (lt_buf_printf(&name, "%s/events.out.tfevents.%lld.%s.%ld.%d", dir, secs,
				  hostname, (long)getpid(), n)) {
			lt_buf_free(&name);
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "out of memory naming an event file in '%s'", dir);
		}
		w->fd = open(name.data, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
		if (w->fd >= 0) {
			w->path = lt_buf_detach(&name);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	lt_buf_free(&name);
	if (errno == EEXIST)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot create a TensorBoard event file in '%s': %d files of this second, host and process exist already: give this run a directory of its own",
				  dir, LT_TB_TRIES);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "cannot create a TensorBoard event file in '%s': %s (create that directory, make it writable, or choose another log directory)",
			  dir, strerror(errno));
}

struct lt_tb_writer *lt_tb_open(const char *dir, const char *host, double wall_time,
				struct lt_err *err)
{
	Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
	struct lt_tb_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening an event file in '%s'", dir);
		return NULL;
	}
	w->fd = -1;
	if (create_file(w, dir, host, wall_time, err))
		goto out_free;
	ev.wall_time = wall_time;
	ev.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
	ev.file_version = (char *)"brain.Event:2";
	if (add_event(w, &ev, err))
		goto out_unlink;
	return w;

out_unlink:
	unlink(w->path);
	close(w->fd);
	free(w->path);
out_free:
	free(w);
	return NULL;
}

/* An Event at step holding the one summary value v. */
static int add_value(struct lt_tb_writer *w, Tensorboard__Summary__Value *v, int64_t step,
		     double wall_time, struct lt_err *err)
{
	Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
	Tensorboard__Summary summary = TENSORBOARD__SUMMARY__INIT;

	summary.n_value = 1;
	summary.value = &v;
	ev.wall_time = wall_time;
	ev.step = step;
	ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
	ev.summary = &summary;
	return add_event(w, &ev, err);
}

/* Fails for an invalid tag, quoting its printable start. */
static int check_tag(const char *tag, struct lt_err *err)
{
	char shown[65];
	size_t i;

	if (lt_tb_tag_valid(tag))
		return 0;
	for (i = 0; tag[i] && i < sizeof(shown) - 1; i++)
		shown[i] = (unsigned char)tag[i] < 0x20 || tag[i] == 0x7f ? '?' : tag[i];
	shown[i] = '\0';
	return lt_err_set(err, LT_EXIT_USAGE,
			  "invalid TensorBoard tag '%s': use 1 to 256 letters, digits, '_', '.', '/' or '-', not starting with '/'",
			  shown);
}

int lt_tb_scalar(struct lt_tb_writer *w, const char *tag, int64_t step, double wall_time,
		 float value, struct lt_err *err)
{
	Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;

	if (check_tag(tag, err))
		return -1;
	v.tag = (char *)tag;
	v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
	v.simple_value = value;
	return add_value(w, &v, step, wall_time, err);
}

int lt_tb_text(struct lt_tb_writer *w, const char *tag, int64_t step, double wall_time,
	       const char *text, struct lt_err *err)
{
	Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
	Tensorboard__SummaryMetadata meta = TENSORBOARD__SUMMARY_METADATA__INIT;
	Tensorboard__SummaryMetadata__PluginData plugin =
		TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
	Tensorboard__TensorProto tensor = TENSORBOARD__TENSOR_PROTO__INIT;
	Tensorboard__TensorShapeProto scalar = TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
	ProtobufCBinaryData s = { .len = strlen(text), .data = (uint8_t *)text };

	if (check_tag(tag, err))
		return -1;
	/* The text plugin's content is its TextPluginData at version 0:
	 * every field at its default, so no bytes. */
	plugin.plugin_name = (char *)"text";
	meta.plugin_data = &plugin;
	tensor.dtype = TENSORBOARD__DATA_TYPE__DT_STRING;
	tensor.tensor_shape = &scalar;
	tensor.n_string_val = 1;
	tensor.string_val = &s;
	v.tag = (char *)tag;
	v.metadata = &meta;
	v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
	v.tensor = &tensor;
	return add_value(w, &v, step, wall_time, err);
}

/* Whether s is a plain decimal number ("3", "-0.5", "1e-4"), stored in
 * *d: not "nan", "inf", hexadecimal or with spaces around it. */
static bool plain_number(const char *s, double *d)
{
	char *end;

	if (!s[0] || !strchr("+-.0123456789", s[0]) || strpbrk(s, "xX"))
		return false;
	errno = 0;
	*d = strtod(s, &end);
	return !*end && !errno && isfinite(*d);
}

int lt_tb_hparams(struct lt_tb_writer *w, const char *const *names, const char *const *values,
		  int n, double wall_time, struct lt_err *err)
{
	Tensorboard__Hparams__SessionStartInfo start = TENSORBOARD__HPARAMS__SESSION_START_INFO__INIT;
	Tensorboard__Hparams__HParamsPluginData data = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__INIT;
	Tensorboard__Hparams__SessionStartInfo__HparamsEntry *entries, **ptrs;
	Tensorboard__Hparams__Value *vals;
	Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
	Tensorboard__SummaryMetadata meta = TENSORBOARD__SUMMARY_METADATA__INIT;
	Tensorboard__SummaryMetadata__PluginData plugin =
		TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
	Tensorboard__TensorProto tensor = TENSORBOARD__TENSOR_PROTO__INIT;
	Tensorboard__TensorShapeProto shape = TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
	Tensorboard__TensorShapeProto__Dim dim0 = TENSORBOARD__TENSOR_SHAPE_PROTO__DIM__INIT;
	Tensorboard__TensorShapeProto__Dim *dims = &dim0;
	size_t count = n > 0 ? (size_t)n : 0;
	uint8_t *content = NULL;
	int rc = -1;

	entries = calloc(count + 1, sizeof(*entries));
	ptrs = calloc(count + 1, sizeof(*ptrs));
	vals = calloc(count + 1, sizeof(*vals));
	if (!entries || !ptrs || !vals)
		goto out_nomem;
	for (size_t i = 0; i < count; i++) {
		Tensorboard__Hparams__SessionStartInfo__HparamsEntry e =
			TENSORBOARD__HPARAMS__SESSION_START_INFO__HPARAMS_ENTRY__INIT;
		Tensorboard__Hparams__Value x = TENSORBOARD__HPARAMS__VALUE__INIT;

		if (plain_number(values[i], &x.number_value)) {
			x.kind_case = TENSORBOARD__HPARAMS__VALUE__KIND_NUMBER_VALUE;
		} else {
			x.kind_case = TENSORBOARD__HPARAMS__VALUE__KIND_STRING_VALUE;
			x.string_value = (char *)values[i];
		}
		vals[i] = x;
		e.key = (char *)names[i];
		e.value = &vals[i];
		entries[i] = e;
		ptrs[i] = &entries[i];
	}
	start.n_hparams = count;
	start.hparams = ptrs;
	start.start_time_secs = wall_time;
	data.version = 0;
	data.data_case = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_SESSION_START_INFO;
	data.session_start_info = &start;
	content = malloc(tensorboard__hparams__hparams_plugin_data__get_packed_size(&data) + 1);
	if (!content)
		goto out_nomem;
	plugin.plugin_name = (char *)"hparams";
	plugin.content.data = content;
	plugin.content.len = tensorboard__hparams__hparams_plugin_data__pack(&data, content);
	meta.plugin_data = &plugin;
	/* The plugin's own summaries carry an empty float tensor, shape (0). */
	shape.n_dim = 1;
	shape.dim = &dims;
	tensor.dtype = TENSORBOARD__DATA_TYPE__DT_FLOAT;
	tensor.tensor_shape = &shape;
	v.tag = (char *)"_hparams_/session_start_info";
	v.metadata = &meta;
	v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
	v.tensor = &tensor;
	rc = add_value(w, &v, 0, wall_time, err);
	goto out_free;

out_nomem:
	lt_err_set(err, LT_EXIT_FAILURE, "out of memory buffering hparams for '%s'", w->path);
out_free:
	free(content);
	free(vals);
	free(ptrs);
	free(entries);
	return rc;
}

int lt_tb_session_start(struct lt_tb_writer *w, int64_t step, double wall_time,
			struct lt_err *err)
{
	Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
	Tensorboard__SessionLog log = TENSORBOARD__SESSION_LOG__INIT;

	log.status = TENSORBOARD__SESSION_LOG__SESSION_STATUS__START;
	ev.wall_time = wall_time;
	ev.step = step;
	ev.what_case = TENSORBOARD__EVENT__WHAT_SESSION_LOG;
	ev.session_log = &log;
	return add_event(w, &ev, err);
}

int lt_tb_flush(struct lt_tb_writer *w, bool durable, struct lt_err *err)
{
	struct stat st;
	int saved;

	if (!w->buf.len)
		return 0;
	if (fstat(w->fd, &st))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot stat event file '%s': %s",
				  w->path, strerror(errno));
	if (lt_write_all(w->fd, w->buf.data, w->buf.len)) {
		saved = errno;
		/* Whatever part went in comes out again: the records stay
		 * whole, in the buffer, for the next flush. */
		if (ftruncate(w->fd, st.st_size))
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "cannot write event file '%s': %s, then cannot cut it back to %lld bytes: %s",
					  w->path, strerror(saved), (long long)st.st_size,
					  strerror(errno));
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot write event file '%s': %s (the events stay buffered: free space on its disk)",
				  w->path, strerror(saved));
	}
	w->written = true;
	w->buf.len = 0;
	w->buf.data[0] = '\0';
	if (durable && fdatasync(w->fd))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot sync event file '%s' to its disk: %s",
				  w->path, strerror(errno));
	return 0;
}

void lt_tb_close(struct lt_tb_writer *w)
{
	struct lt_err ignored;

	if (!w)
		return;
	lt_tb_flush(w, false, &ignored);
	close(w->fd);
	lt_buf_free(&w->buf);
	free(w->path);
	free(w);
}
