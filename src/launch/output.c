/*
 * output.c - relays the ranks' stdout and stderr line by line: prefixed on
 * the terminal, raw in --log-dir files, never two ranks mid-line.  It keeps
 * the last lines of each stream for the failure report, and holds back
 * from the terminal the line a rank's lt_fatal() printed ("ltrun: rank N:
 * ...", rank/fatal.c): the report shows that message, so the terminal gets
 * it once, from the report or, for a rank the report is not about, from
 * lt_output_release().
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

struct tail {
	char line[LT_OUTPUT_TAIL_LINES][TAIL_LINE_BYTES];
	int next, count;
};

struct rank_output {
	struct stream s[2]; /* stdout, stderr */
	struct tail tail[2];
	char fatal[LINE_MAX_BYTES]; /* the held-back lt_fatal() line, "" */
};

struct lt_output {
	int nranks, first_rank;
	bool terminal;      /* relay to our stdout/stderr */
	char *log_dir;
	struct rank_output *r;
};

void lt_output_set_first_rank(struct lt_output *out, int first_rank)
{
	out->first_rank = first_rank;
}

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
	/* Logging alone failing never stops a run: the output comes here. */
	if (log_dir && mkdir(log_dir, 0755) && errno != EEXIST) {
		lt_warn("cannot create --log-dir '%s': %s; the ranks' output comes to this terminal, and their loggers warn in turn",
			log_dir, strerror(errno));
		free(out->log_dir);
		out->log_dir = NULL;
		out->terminal = true;
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
			if (s->log_fd < 0 && !out->terminal) {
				lt_warn("cannot open log file '%s': %s; the ranks' output comes to this terminal",
					path, strerror(errno));
				out->terminal = true;
			}
		}
	}
	memset(r->tail, 0, sizeof(r->tail));
	r->fatal[0] = '\0';
	return 0;
}

int lt_output_fd(const struct lt_output *out, int local, int stream)
{
	return out->r[local].s[stream - 1].fd;
}

static void remember(struct tail *t, const char *line, size_t n)
{
	if (n > TAIL_LINE_BYTES - 1)
		n = TAIL_LINE_BYTES - 1;
	memcpy(t->line[t->next], line, n);
	t->line[t->next][n] = '\0';
	t->next = (t->next + 1) % LT_OUTPUT_TAIL_LINES;
	if (t->count < LT_OUTPUT_TAIL_LINES)
		t->count++;
}

/* Writes a line on the terminal, "[rank N] " before it, in one write. */
static void to_terminal(const struct lt_output *out, int local, int k, const char *line,
			size_t n)
{
	char buf[LINE_MAX_BYTES + 32];
	int len = snprintf(buf, sizeof(buf), "[rank %d] ", out->first_rank + local);

	memcpy(buf + len, line, n);
	buf[len + (int)n] = '\n';
	/* a closed terminal must not stop the job */
	(void)lt_write_all(k ? STDERR_FILENO : STDOUT_FILENO, buf, (size_t)len + n + 1);
}

/* Whether a stderr line is the one lt_fatal() printed in this rank:
 * "ltrun: rank N: " with the rank's own number. */
static bool fatal_line(const struct lt_output *out, int local, const char *line, size_t n)
{
	char prefix[48];
	int len = snprintf(prefix, sizeof(prefix), "ltrun: rank %d: ", out->first_rank + local);

	return n > (size_t)len && !memcmp(line, prefix, (size_t)len);
}

/* Relays one line (n bytes, without its '\n') in one write per sink. */
static void relay(struct lt_output *out, int local, int k, const char *line, size_t n)
{
	struct rank_output *r = &out->r[local];
	struct stream *s = &r->s[k];
	char buf[LINE_MAX_BYTES + 1];

	if (s->log_fd >= 0) {
		memcpy(buf, line, n);
		buf[n] = '\n';
		(void)lt_write_all(s->log_fd, buf, n + 1);
	}
	if (k == 1 && !r->fatal[0] && fatal_line(out, local, line, n)) {
		memcpy(r->fatal, line, n);
		r->fatal[n] = '\0';
		return;
	}
	if (out->terminal)
		to_terminal(out, local, k, line, n);
	remember(&r->tail[k], line, n);
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

int lt_output_tail(const struct lt_output *out, int local, int stream, const char *indent,
		   char *buf, size_t len)
{
	const struct tail *t = &out->r[local].tail[stream - 1];
	size_t used = 0;
	int first = (t->next - t->count + LT_OUTPUT_TAIL_LINES) % LT_OUTPUT_TAIL_LINES;

	buf[0] = '\0';
	for (int i = 0; i < t->count && used < len; i++) {
		const char *line = t->line[(first + i) % LT_OUTPUT_TAIL_LINES];
		int n = snprintf(buf + used, len - used, "%s%s\n", indent, line);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return t->count;
}

bool lt_output_take_fatal(struct lt_output *out, int local, char *buf, size_t len)
{
	struct rank_output *r = &out->r[local];
	size_t skip = strlen("ltrun: rank : ") + (size_t)snprintf(NULL, 0, "%d",
								    out->first_rank + local);

	if (!r->fatal[0])
		return false;
	snprintf(buf, len, "%s", r->fatal + skip);
	r->fatal[0] = '\0';
	return true;
}

void lt_output_release(struct lt_output *out, int local)
{
	struct rank_output *r = &out->r[local];
	size_t n = strlen(r->fatal);

	if (!n)
		return;
	if (out->terminal)
		to_terminal(out, local, 1, r->fatal, n);
	remember(&r->tail[1], r->fatal, n);
	r->fatal[0] = '\0';
}
