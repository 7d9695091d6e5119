/*
 * output.c - relays the ranks' stdout and stderr line by line: prefixed on
 * the terminal, raw in --log-dir files, never two ranks mid-line.
 */
#include "core/io.h"
#include "launch/output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A line longer than this is relayed in pieces, each prefixed. */
#define LINE_MAX_BYTES 8192
#define TAIL_LINE_BYTES 240

struct stream {
	int fd;             /* read end, -1 at end of file */
	int log_fd;         /* rank-N.out/.err, -1 without --log-dir */
	size_t used;
	char buf[LINE_MAX_BYTES];
};

struct rank_output {
	struct stream s[2]; /* stdout, stderr */
	char tail[LT_OUTPUT_TAIL_LINES][TAIL_LINE_BYTES];
	int tail_next, tail_count;
};

struct lt_output {
	int nranks, first_rank;
	bool terminal;      /* relay to our stdout/stderr */
	char *log_dir;
	struct rank_output *r;
};

struct lt_output *lt_output_new(int nranks, int first_rank, const char *log_dir,
				bool tee, struct lt_err *err)
{
	struct lt_output *out = calloc(1, sizeof(*out));

	if (!out || !(out->r = calloc((size_t)nranks, sizeof(*out->r))) ||
	    (log_dir && !(out->log_dir = strdup(log_dir)))) {
		lt_output_free(out);
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	out->nranks = nranks;
	out->first_rank = first_rank;
	out->terminal = !log_dir || tee;
	for (int i = 0; i < nranks; i++)
		for (int k = 0; k < 2; k++)
			out->r[i].s[k].fd = out->r[i].s[k].log_fd = -1;
	if (log_dir && mkdir(log_dir, 0755) && errno != EEXIST) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot create --log-dir '%s': %s", log_dir,
			   strerror(errno));
		lt_output_free(out);
		return NULL;
	}
	return out;
}

static void close_stream(struct stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->fd = s->log_fd = -1;
	s->used = 0;
}

void lt_output_free(struct lt_output *out)
{
	if (!out)
		return;
	for (int i = 0; out->r && i < out->nranks; i++)
		for (int k = 0; k < 2; k++)
			close_stream(&out->r[i].s[k]);
	free(out->r);
	free(out->log_dir);
	free(out);
}

int lt_output_start(struct lt_output *out, int local, int child_fds[2],
		    struct lt_err *err)
{
	static const char *const ext[2] = { "out", "err" };
	struct rank_output *r = &out->r[local];

	for (int k = 0; k < 2; k++) {
		struct stream *s = &r->s[k];
		int p[2];

		close_stream(s);
		if (pipe2(p, O_CLOEXEC))
			return lt_err_set(err, LT_EXIT_FAILURE, "cannot make a pipe for rank %d: %s",
					  out->first_rank + local, strerror(errno));
		/* Only our end is nonblocking: the rank's writes must wait. */
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		s->fd = p[0];
		child_fds[k] = p[1];
		if (out->log_dir) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/rank-%d.%s", out->log_dir,
				 out->first_rank + local, ext[k]);
			s->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (s->log_fd < 0) {
				close(p[1]);
				if (k)
					close(child_fds[0]);
				return lt_err_set(err, LT_EXIT_FAILURE, "cannot open log file '%s': %s",
						  path, strerror(errno));
			}
		}
	}
	r->tail_count = r->tail_next = 0;
	return 0;
}

int lt_output_fd(const struct lt_output *out, int local, int stream)
{
	return out->r[local].s[stream - 1].fd;
}

static void remember(struct rank_output *r, const char *line, size_t n)
{
	if (n > TAIL_LINE_BYTES - 1)
		n = TAIL_LINE_BYTES - 1;
	memcpy(r->tail[r->tail_next], line, n);
	r->tail[r->tail_next][n] = '\0';
	r->tail_next = (r->tail_next + 1) % LT_OUTPUT_TAIL_LINES;
	if (r->tail_count < LT_OUTPUT_TAIL_LINES)
		r->tail_count++;
}

/* Relays one line (n bytes, without its '\n') in one write per sink. */
static void relay(struct lt_output *out, int local, int k, const char *line, size_t n)
{
	struct rank_output *r = &out->r[local];
	struct stream *s = &r->s[k];
	char buf[LINE_MAX_BYTES + 32];
	int len;

	if (s->log_fd >= 0) {
		memcpy(buf, line, n);
		buf[n] = '\n';
		(void)lt_write_all(s->log_fd, buf, n + 1);
	}
	if (out->terminal) {
		len = snprintf(buf, sizeof(buf), "[rank %d] ", out->first_rank + local);
		memcpy(buf + len, line, n);
		buf[len + (int)n] = '\n';
		/* a closed terminal must not stop the job */
		(void)lt_write_all(k ? STDERR_FILENO : STDOUT_FILENO, buf, (size_t)len + n + 1);
	}
	if (k == 1)
		remember(r, line, n);
}

int lt_output_read(struct lt_output *out, int local, int stream)
{
	struct stream *s = &out->r[local].s[stream - 1];
	size_t start = 0;
	ssize_t got;

	if (s->fd < 0)
		return -1;
	got = read(s->fd, s->buf + s->used, sizeof(s->buf) - s->used);
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (got <= 0) {
		if (s->used)
			relay(out, local, stream - 1, s->buf, s->used);
		close(s->fd);
		s->fd = -1;
		s->used = 0;
		return -1;
	}
	s->used += (size_t)got;
	for (size_t i = 0; i < s->used; i++)
		if (s->buf[i] == '\n') {
			relay(out, local, stream - 1, s->buf + start, i - start);
			start = i + 1;
		}
	if (start == 0 && s->used == sizeof(s->buf)) {
		relay(out, local, stream - 1, s->buf, s->used);
		start = s->used;
	}
	memmove(s->buf, s->buf + start, s->used - start);
	s->used -= start;
	return 1;
}

void lt_output_drain(struct lt_output *out, int local)
{
	for (int k = 1; k <= 2; k++)
		while (lt_output_read(out, local, k) > 0)
			;
}

int lt_output_tail(const struct lt_output *out, int local, const char *indent,
		   char *buf, size_t len)
{
	const struct rank_output *r = &out->r[local];
	size_t used = 0;
	int first = (r->tail_next - r->tail_count + LT_OUTPUT_TAIL_LINES) % LT_OUTPUT_TAIL_LINES;

	buf[0] = '\0';
	for (int i = 0; i < r->tail_count && used < len; i++) {
		const char *line = r->tail[(first + i) % LT_OUTPUT_TAIL_LINES];
		int n = snprintf(buf + used, len - used, "%s%s\n", indent, line);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return r->tail_count;
}
