/*
 * test_tb_event.c - TensorBoard event files (src/logger/tb_event.c) read
 * back here, in C: every record's framing and both masked CRC-32Cs, each
 * Event unpacked with protobuf-c (the file_version first, then scalars,
 * text, hparams and a SessionLog START as TensorBoard's plugins expect
 * them); the masked CRC against values worked out from its definition;
 * tag validity; file names (the host sanitized, two writers in one
 * directory get two files); a write that fails part way (a file size
 * limit standing for a full disk) leaves the file as it was and the
 * records buffered; the bounded buffer drops the oldest records but not
 * the file_version; a directory that cannot be written gives one line.
 * tests/integration/test_tb_reader.c has TensorBoard itself read them.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "integration/run.h"
#include "logger/tb_event.h"
#include "tensorboard/event.pb-c.h"
#include "tensorboard/plugin_data.pb-c.h"

#define WALL 1700000000.5

static void make_dir(char *dir, size_t size)
{
	cr_assert_eq(tmp_dir_make(dir, size, "tb_event"), 0, "mkdtemp: %s", strerror(errno));
}

static void rm_dir(const char *dir)
{
	tmp_dir_remove(dir);
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The events of the file at path, as many as max: every record must be
 * whole, both CRCs right, and the Event must unpack.  Returns how many;
 * free them with free_events(). */
static size_t read_events(const char *path, Tensorboard__Event **evs, size_t max)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data;
	size_t n = 0, at = 0;
	long size;

	cr_assert(f, "cannot open '%s': %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	data = malloc((size_t)size + 1);
	cr_assert(data);
	cr_assert_eq(fread(data, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	while (at < (size_t)size) {
		uint64_t len;

		cr_assert_leq(at + 12, (size_t)size, "a torn record head at byte %zu", at);
		len = le64(data + at);
		cr_assert_eq(le32(data + at + 8), lt_tb_masked_crc(data + at, 8),
			     "record %zu: the length's CRC", n);
		cr_assert_leq(at + 12 + len + 4, (size_t)size, "record %zu is torn", n);
		cr_assert_eq(le32(data + at + 12 + len), lt_tb_masked_crc(data + at + 12, len),
			     "record %zu: the data's CRC", n);
		cr_assert_lt(n, max, "more than %zu records", max);
		evs[n] = tensorboard__event__unpack(NULL, len, data + at + 12);
		cr_assert(evs[n], "record %zu: not an Event", n);
		n++;
		at += 12 + len + 4;
	}
	free(data);
	return n;
}

static void free_events(Tensorboard__Event **evs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tensorboard__event__free_unpacked(evs[i], NULL);
}

static void expect_file_version(const Tensorboard__Event *ev)
{
	cr_assert_eq(ev->what_case, TENSORBOARD__EVENT__WHAT_FILE_VERSION);
	cr_expect_str_eq(ev->file_version, "brain.Event:2");
	cr_expect_eq(ev->wall_time, WALL);
}

/* The one value of ev's summary, with tag. */
static const Tensorboard__Summary__Value *value_of(const Tensorboard__Event *ev, const char *tag)
{
	cr_assert_eq(ev->what_case, TENSORBOARD__EVENT__WHAT_SUMMARY);
	cr_assert_eq(ev->summary->n_value, 1);
	cr_expect_str_eq(ev->summary->value[0]->tag, tag);
	return ev->summary->value[0];
}

Test(tb_event, masked_crc_is_tensorflows)
{
	/* CRC-32C("123456789") = 0xe3069283, rotated right by 15 bits
	 * (0x2147c60d) plus 0xa282ead8; of nothing: 0, so the constant. */
	cr_expect_eq(lt_tb_masked_crc("123456789", 9), 0xc78ab0e5u);
	cr_expect_eq(lt_tb_masked_crc("", 0), 0xa282ead8u);
}

Test(tb_event, tags_follow_tensorboards_name_rule)
{
	static const char *const good[] = { "loss", "train/acc", "a.b-c_d", "0", "x/" };
	static const char *const bad[] = { "", "/loss", "a b", "loss\n", "naïve", "a:b" };
	char longest[258];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		cr_expect(lt_tb_tag_valid(good[i]), "'%s'", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_expect(!lt_tb_tag_valid(bad[i]), "'%s'", bad[i]);
	memset(longest, 'a', 256);
	longest[256] = '\0';
	cr_expect(lt_tb_tag_valid(longest));
	longest[256] = 'a';
	longest[257] = '\0';
	cr_expect(!lt_tb_tag_valid(longest));
}

Test(tb_event, an_invalid_tag_is_refused_and_nothing_is_buffered)
{
	struct lt_err err = { 0, "" };
	struct lt_tb_writer *w;
	Tensorboard__Event *evs[4];
	char dir[64];
	size_t n;

	make_dir(dir, sizeof(dir));
	w = lt_tb_open(dir, "h", WALL, &err);
	cr_assert(w, "%s", err.msg);
	cr_expect_eq(lt_tb_scalar(w, "bad tag\n", 1, WALL, 1.0f, &err), -1);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect(strstr(err.msg, "invalid TensorBoard tag 'bad tag?'") && !strchr(err.msg, '\n'),
		  "%s", err.msg);
	cr_expect_eq(lt_tb_text(w, "/abs", 1, WALL, "x", &err), -1);
	cr_assert_eq(lt_tb_flush(w, false, &err), 0, "%s", err.msg);
	n = read_events(lt_tb_path(w), evs, 4);
	cr_expect_eq(n, 1, "only the file_version");
	free_events(evs, n);
	lt_tb_close(w);
	rm_dir(dir);
}

Test(tb_event, every_kind_of_record_reads_back)
{
	static const char *const names[] = { "lr", "optimizer", "layers", "nan_is_text" };
	static const char *const values[] = { "0.001", "adamw", "4", "nan" };
	struct lt_err err = { 0, "" };
	Tensorboard__Event *evs[16];
	Tensorboard__Hparams__HParamsPluginData *hp;
	const Tensorboard__Summary__Value *v;
	struct lt_tb_writer *w;
	char dir[64], want[128];
	const char *base;
	size_t n;

	make_dir(dir, sizeof(dir));
	w = lt_tb_open(dir, "node/1\n", WALL, &err);
	cr_assert(w, "%s", err.msg);
	base = strrchr(lt_tb_path(w), '/') + 1;
	snprintf(want, sizeof(want), "events.out.tfevents.1700000000.node_1_.%ld.0", (long)getpid());
	cr_expect_str_eq(base, want, "the host's '/' and newline made '_'");
	for (int s = 0; s < 5; s++)
		cr_assert_eq(lt_tb_scalar(w, "train/loss", s, WALL + s, 1.0f / (float)(s + 3), &err), 0);
	cr_assert_eq(lt_tb_text(w, "config", 0, WALL, "lr = 0.001\n*adamw*", &err), 0);
	cr_assert_eq(lt_tb_hparams(w, names, values, 4, WALL, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_tb_session_start(w, 3, WALL + 9, &err), 0);
	cr_assert_eq(lt_tb_flush(w, true, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_tb_dropped(w), 0);

	n = read_events(lt_tb_path(w), evs, 16);
	cr_assert_eq(n, 9);
	expect_file_version(evs[0]);
	for (int s = 0; s < 5; s++) {
		v = value_of(evs[1 + s], "train/loss");
		cr_expect_eq(evs[1 + s]->step, s);
		cr_expect_eq(evs[1 + s]->wall_time, WALL + s);
		cr_expect_eq(v->value_case, TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE);
		cr_expect_eq(v->simple_value, 1.0f / (float)(s + 3));
	}

	v = value_of(evs[6], "config");
	cr_assert(v->metadata && v->metadata->plugin_data);
	cr_expect_str_eq(v->metadata->plugin_data->plugin_name, "text");
	cr_expect_eq(v->metadata->plugin_data->content.len, 0, "TextPluginData version 0");
	cr_assert_eq(v->value_case, TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR);
	cr_expect_eq(v->tensor->dtype, TENSORBOARD__DATA_TYPE__DT_STRING);
	cr_expect(!v->tensor->tensor_shape || !v->tensor->tensor_shape->n_dim, "a scalar");
	cr_assert_eq(v->tensor->n_string_val, 1);
	cr_expect_eq(v->tensor->string_val[0].len, strlen("lr = 0.001\n*adamw*"));
	cr_expect(!memcmp(v->tensor->string_val[0].data, "lr = 0.001\n*adamw*", 18));

	v = value_of(evs[7], "_hparams_/session_start_info");
	cr_assert(v->metadata && v->metadata->plugin_data);
	cr_expect_str_eq(v->metadata->plugin_data->plugin_name, "hparams");
	cr_assert_eq(v->value_case, TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR);
	cr_expect_eq(v->tensor->dtype, TENSORBOARD__DATA_TYPE__DT_FLOAT);
	cr_assert(v->tensor->tensor_shape && v->tensor->tensor_shape->n_dim == 1);
	cr_expect_eq(v->tensor->tensor_shape->dim[0]->size, 0);
	hp = tensorboard__hparams__hparams_plugin_data__unpack(
		NULL, v->metadata->plugin_data->content.len, v->metadata->plugin_data->content.data);
	cr_assert(hp, "the content is an HParamsPluginData");
	cr_expect_eq(hp->version, 0);
	cr_assert_eq(hp->data_case, TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_SESSION_START_INFO);
	cr_expect_eq(hp->session_start_info->start_time_secs, WALL);
	cr_assert_eq(hp->session_start_info->n_hparams, 4);
	for (size_t i = 0; i < 4; i++) {
		const Tensorboard__Hparams__SessionStartInfo__HparamsEntry *e =
			hp->session_start_info->hparams[i];

		cr_expect_str_eq(e->key, names[i]);
		cr_assert(e->value);
		if (i == 0 || i == 2) {
			cr_expect_eq(e->value->kind_case, TENSORBOARD__HPARAMS__VALUE__KIND_NUMBER_VALUE);
			cr_expect_eq(e->value->number_value, i ? 4.0 : 0.001);
		} else {
			cr_expect_eq(e->value->kind_case, TENSORBOARD__HPARAMS__VALUE__KIND_STRING_VALUE,
				     "%s", names[i]);
			cr_expect_str_eq(e->value->string_value, values[i]);
		}
	}
	tensorboard__hparams__hparams_plugin_data__free_unpacked(hp, NULL);

	cr_assert_eq(evs[8]->what_case, TENSORBOARD__EVENT__WHAT_SESSION_LOG);
	cr_expect_eq(evs[8]->session_log->status, TENSORBOARD__SESSION_LOG__SESSION_STATUS__START);
	cr_expect_eq(evs[8]->step, 3);
	free_events(evs, n);
	lt_tb_close(w);
	rm_dir(dir);
}

Test(tb_event, two_writers_in_one_directory_get_two_files_in_order)
{
	struct lt_err err = { 0, "" };
	struct lt_tb_writer *a, *b;
	char dir[64];
	const char *pa, *pb;

	make_dir(dir, sizeof(dir));
	a = lt_tb_open(dir, "h", WALL, &err);
	b = lt_tb_open(dir, "h", WALL, &err);
	cr_assert(a && b, "%s", err.msg);
	pa = lt_tb_path(a);
	pb = lt_tb_path(b);
	cr_expect_str_neq(pa, pb);
	/* the second sorts after the first, as TensorBoard reads them */
	cr_expect_gt(strcmp(pb, pa), 0, "%s before %s", pb, pa);
	cr_expect_eq(access(pa, F_OK), 0);
	cr_expect_eq(access(pb, F_OK), 0);
	lt_tb_close(a);
	lt_tb_close(b);
	lt_tb_close(NULL);
	rm_dir(dir);
}

/* Makes writes past limit bytes fail with EFBIG, as a full disk fails
 * them with ENOSPC; limit 0 lifts it. */
static void limit_file_size(rlim_t limit)
{
	struct rlimit r;

	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &r), 0);
	r.rlim_cur = limit ? limit : r.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &r), 0);
}

Test(tb_event, a_failed_write_leaves_whole_records_and_keeps_them_buffered)
{
	struct lt_err err = { 0, "" };
	Tensorboard__Event *evs[32];
	struct lt_tb_writer *w;
	struct stat st;
	off_t first;
	char dir[64];
	size_t n;

	signal(SIGXFSZ, SIG_IGN);
	make_dir(dir, sizeof(dir));
	w = lt_tb_open(dir, "h", WALL, &err);
	cr_assert(w, "%s", err.msg);
	cr_assert_eq(lt_tb_flush(w, false, &err), 0, "%s", err.msg);
	cr_assert_eq(stat(lt_tb_path(w), &st), 0);
	first = st.st_size;
	for (int s = 0; s < 20; s++)
		cr_assert_eq(lt_tb_scalar(w, "loss", s, WALL, (float)s, &err), 0);
	/* Room for about one record: the write stops part way. */
	limit_file_size((rlim_t)first + 50);
	cr_expect_eq(lt_tb_flush(w, true, &err), -1);
	limit_file_size(0);
	cr_expect(strstr(err.msg, lt_tb_path(w)) && strstr(err.msg, strerror(EFBIG)) &&
			  !strchr(err.msg, '\n'),
		  "%s", err.msg);
	cr_assert_eq(stat(lt_tb_path(w), &st), 0);
	cr_expect_eq(st.st_size, first, "the part written was cut back");
	cr_assert_eq(lt_tb_flush(w, false, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_tb_dropped(w), 0);
	n = read_events(lt_tb_path(w), evs, 32);
	cr_assert_eq(n, 21);
	expect_file_version(evs[0]);
	for (int s = 0; s < 20; s++) {
		cr_expect_eq(evs[1 + s]->step, s);
		cr_expect_eq(value_of(evs[1 + s], "loss")->simple_value, (float)s);
	}
	free_events(evs, n);
	lt_tb_close(w);
	rm_dir(dir);
}

Test(tb_event, a_full_buffer_drops_the_oldest_but_not_the_file_version)
{
	struct lt_err err = { 0, "" };
	Tensorboard__Event *evs[32];
	struct lt_tb_writer *w;
	size_t len = 1u << 20, n;
	char dir[64], *text;
	uint64_t dropped;

	make_dir(dir, sizeof(dir));
	text = malloc(len + 1);
	cr_assert(text);
	memset(text, 'x', len);
	text[len] = '\0';
	w = lt_tb_open(dir, "h", WALL, &err);
	cr_assert(w, "%s", err.msg);
	/* 12 MiB of text, never flushed: more than the buffer keeps. */
	for (int s = 0; s < 12; s++)
		cr_assert_eq(lt_tb_text(w, "big", s, WALL, text, &err), 0, "%s", err.msg);
	dropped = lt_tb_dropped(w);
	cr_expect(dropped >= 4 && dropped < 12, "%llu dropped", (unsigned long long)dropped);
	cr_assert_eq(lt_tb_flush(w, false, &err), 0, "%s", err.msg);
	n = read_events(lt_tb_path(w), evs, 32);
	cr_assert_eq(n, 1 + 12 - dropped);
	expect_file_version(evs[0]);
	for (size_t i = 1; i < n; i++)
		cr_expect_eq(evs[i]->step, (int64_t)(dropped + i - 1), "the newest are kept, in order");
	free_events(evs, n);
	lt_tb_close(w);
	free(text);
	rm_dir(dir);
}

Test(tb_event, a_directory_that_cannot_be_written_gives_one_line)
{
	struct lt_err err = { 0, "" };
	char dir[64], missing[96];

	make_dir(dir, sizeof(dir));
	snprintf(missing, sizeof(missing), "%s/no/such/dir", dir);
	cr_expect_null(lt_tb_open(missing, "h", WALL, &err));
	cr_expect_eq(err.status, LT_EXIT_FAILURE);
	cr_expect(strstr(err.msg, missing) && strstr(err.msg, strerror(ENOENT)) &&
			  strstr(err.msg, "choose another log directory") && !strchr(err.msg, '\n'),
		  "%s", err.msg);
	if (geteuid()) { /* root writes anywhere */
		cr_assert_eq(chmod(dir, 0500), 0);
		err.msg[0] = '\0';
		cr_expect_null(lt_tb_open(dir, "h", WALL, &err));
		cr_expect(strstr(err.msg, strerror(EACCES)), "%s", err.msg);
		chmod(dir, 0700);
	}
	rm_dir(dir);
}
