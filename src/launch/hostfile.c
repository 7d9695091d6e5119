/*
 * hostfile.c - the hosts of a --hostfile launch.
 *
 * The file is DeepSpeed's and Open MPI's: one host a line, "HOST" or
 * "HOST slots=N [max_slots=M]", '#' comments, blank lines, CRLF.  Names
 * are checked for their characters only, never resolved (that is ssh's
 * business, later).  --include/--exclude follow DeepSpeed's
 * parse_resource_filter(): "host1:0,1@host2", except that both may be
 * given (include first, then exclude), that an IPv6 host may be written
 * "[fe80::1]:0,1", and that a host named twice is refused.  Every error
 * is one line naming the file and line, or the filter and its token.
 */
#include "launch/hostfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/parse.h"

#define LINE_MAX_BYTES 4096
#define FILE_MAX_BYTES (4u << 20)
#define INDEX_SIZE (2 * LT_HOSTFILE_MAX_HOSTS)   /* a power of two */
#define FORM "a line is 'HOST [slots=N] [max_slots=M]'"
#define FILTER_FORM "write 'HOST[:SLOT,SLOT...]@HOST...', e.g. 'node1:0,1@node2'"

/* --------------------------------------------------------- host index */

/* Open addressing over host numbers + 1 (0: empty), keyed by name. */
struct host_index {
	int slot[INDEX_SIZE];
};

static uint32_t name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* Returns the host named s (len bytes), or -1; *at gets its index slot,
 * or the empty one where it would go. */
static int index_find(const struct host_index *idx, const struct lt_hostfile *hf,
		      const char *s, size_t len, size_t *at)
{
	size_t i = name_hash(s, len) & (INDEX_SIZE - 1);
	const char *name;

	for (; idx->slot[i]; i = (i + 1) & (INDEX_SIZE - 1)) {
		name = hf->hosts[idx->slot[i] - 1].name;
		if (!strncmp(name, s, len) && !name[len])
			break;
	}
	if (at)
		*at = i;
	return idx->slot[i] - 1;
}

static void index_build(struct host_index *idx, const struct lt_hostfile *hf)
{
	size_t at;
	int i;

	memset(idx, 0, sizeof(*idx));
	for (i = 0; i < hf->n; i++)
		if (index_find(idx, hf, hf->hosts[i].name, strlen(hf->hosts[i].name), &at) < 0)
			idx->slot[at] = i + 1;
}

/* ----------------------------------------------------------------- file */

struct line {
	const struct lt_hostfile *hf;
	int no;
	const char *host;   /* its first word, for messages */
	struct lt_err *err;
};

static int line_error(const struct line *l, const char *fmt, ...) LT_PRINTF(2, 3);
static int line_error(const struct line *l, const char *fmt, ...)
{
	char q[LT_QUOTE_MAX], detail[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return lt_err_set(l->err, LT_EXIT_USAGE, "hostfile '%s' line %d: %s",
			  lt_quote(q, sizeof(q), l->hf->path), l->no, detail);
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == ':';
}

/* Accepts letters, digits, '.', '-', '_' and ':' (IPv6), at most 255 of
 * them, not starting with '-' (ssh would take it for an option). */
static int check_host(const struct line *l, const char *word)
{
	char q[LT_QUOTE_MAX];
	size_t i;

	lt_quote(q, sizeof(q), word);
	if (strlen(word) >= LT_HOST_NAME_MAX)
		return line_error(l, "host name '%s' is longer than %d bytes (write the host's name or address)",
				  q, LT_HOST_NAME_MAX - 1);
	if (*word == '-')
		return line_error(l, "host name '%s' starts with '-' (write the host's name or address; %s)",
				  q, FORM);
	for (i = 0; word[i]; i++)
		if (!host_char(word[i]))
			return line_error(l, "bad host name '%s': a host is letters, digits, '.', '-', '_' or ':' (%s)",
					  q, FORM);
	return 0;
}

/* Reads the number after "slots=" or "max_slots=" (word) into *out, 1..max. */
static int key_number(const struct line *l, const char *word, const char *value,
		      long max, long *out)
{
	char q[LT_QUOTE_MAX], h[LT_QUOTE_MAX];
	const char *num = value + (*value == '-');
	size_t len = strlen(num);
	long v;

	lt_quote(q, sizeof(q), word);
	if (!len || strspn(num, "0123456789") != len)
		return line_error(l, "%s: not a number (write '%.*s8', a whole number of slots)",
				  q, (int)(value - word), word);
	v = len > 18 ? LONG_MAX : strtol(num, NULL, 10);
	if (num != value || v < 1)   /* negative, or zero */
		return line_error(l, "%s: a host needs at least one slot (write '%s slots=1', or remove the line)",
				  q, lt_quote(h, sizeof(h), l->host));
	if (v > max)
		return line_error(l, "%s: more than %ld slots (write 'HOST slots=N' with N from 1 to %ld)",
				  q, max, max);
	*out = v;
	return 0;
}

/* Parses one line's words after the host: slots=N and max_slots=M. */
static int parse_keys(const struct line *l, char **words, int nwords, int *slots)
{
	char q[LT_QUOTE_MAX];
	long n = 1, m = 0;
	bool have_n = false, have_m = false;
	int i;

	for (i = 1; i < nwords; i++) {
		const char *w = words[i];
		bool is_n = !strncmp(w, "slots=", 6), is_m = !strncmp(w, "max_slots=", 10);

		lt_quote(q, sizeof(q), w);
		if ((is_n && have_n) || (is_m && have_m))
			return line_error(l, "'%s' comes twice (%s)", is_n ? "slots=" : "max_slots=", FORM);
		if (is_n && key_number(l, w, w + 6, LT_HOSTFILE_MAX_SLOTS, &n))
			return -1;
		if (is_m && key_number(l, w, w + 10, INT_MAX, &m))
			return -1;
		if (!is_n && !is_m)
			return line_error(l, strchr(w, '=') ? "unknown key '%s' (%s)" :
					  "unexpected '%s' after the host (one host a line; %s)", q, FORM);
		have_n |= is_n;
		have_m |= is_m;
	}
	if (have_m && m < n)
		return line_error(l, "max_slots=%ld is less than slots=%ld (raise max_slots, or drop it)",
				  m, n);
	*slots = (int)n;
	return 0;
}

/* Splits buf (NUL-terminated, comment already cut) into words in place. */
static int split_words(char *buf, char **words, int max)
{
	int n = 0;
	char *p = buf;

	for (;;) {
		p += strspn(p, " \t\r");
		if (!*p || n == max)
			return n;
		words[n++] = p;
		p += strcspn(p, " \t\r");
		if (*p)
			*p++ = '\0';
	}
}

static int add_host(struct lt_hostfile *hf, struct host_index *idx,
		    const struct line *l, const char *name, int slots)
{
	struct lt_host *h;
	char q[LT_QUOTE_MAX];
	size_t at;
	int old, i;

	old = index_find(idx, hf, name, strlen(name), &at);
	if (old >= 0)
		return line_error(l, "host '%s' is already on line %d (give a host one line, with all its slots: '%s slots=N')",
				  lt_quote(q, sizeof(q), name), hf->hosts[old].line, q);
	if (hf->n == LT_HOSTFILE_MAX_HOSTS)
		return line_error(l, "more than %d hosts (launch at most %d hosts from one hostfile)",
				  LT_HOSTFILE_MAX_HOSTS, LT_HOSTFILE_MAX_HOSTS);
	if (!(hf->n & (hf->n - 1))) {   /* n is 0, 1, 2, 4...: grow */
		h = realloc(hf->hosts, sizeof(*h) * (hf->n ? 2 * (size_t)hf->n : 1));
		if (!h)
			return lt_err_set(l->err, LT_EXIT_FAILURE, "out of memory reading hostfile");
		hf->hosts = h;
	}
	h = &hf->hosts[hf->n];
	memset(h, 0, sizeof(*h));
	h->used = malloc(sizeof(*h->used) * (size_t)slots);
	if (!h->used)
		return lt_err_set(l->err, LT_EXIT_FAILURE, "out of memory reading hostfile");
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->line = l->no;
	h->slots = slots;
	for (i = 0; i < slots; i++)
		h->used[i] = i;
	h->nused = slots;
	idx->slot[at] = ++hf->n;
	return 0;
}

/* Parses one line (len bytes, no '\n'); a blank or comment line adds nothing. */
static int parse_line(struct lt_hostfile *hf, struct host_index *idx, int no,
		      const char *text, size_t len, struct lt_err *err)
{
	char buf[LINE_MAX_BYTES + 1], *words[4], *hash, q[LT_QUOTE_MAX];
	struct line l = { .hf = hf, .no = no, .err = err };
	int nwords, slots = 1;
	size_t i;

	if (len > LINE_MAX_BYTES)
		return line_error(&l, "the line is longer than %d bytes (%s)", LINE_MAX_BYTES, FORM);
	memcpy(buf, text, len);
	buf[len] = '\0';
	hash = memchr(buf, '#', len);
	if (hash) {
		*hash = '\0';
		len = (size_t)(hash - buf);
	}
	for (i = 0; i < len; i++)
		if (!buf[i])   /* a NUL byte: a bad character, not the end */
			buf[i] = '\x01';
	nwords = split_words(buf, words, 4);
	if (!nwords)
		return 0;
	l.host = words[0];
	if (check_host(&l, words[0]) || parse_keys(&l, words, nwords < 4 ? nwords : 3, &slots))
		return -1;
	if (nwords == 4)   /* HOST slots=N max_slots=M, and then? */
		return line_error(&l, "unexpected '%s' after the host (one host a line; %s)",
				  lt_quote(q, sizeof(q), words[3]), FORM);
	return add_host(hf, idx, &l, words[0], slots);
}

int lt_hostfile_parse(const char *text, size_t len, const char *path,
		      struct lt_hostfile *hf, struct lt_err *err)
{
	struct host_index *idx;
	const char *p = text, *end = text + len, *nl;
	char q[LT_QUOTE_MAX];
	int no = 0;

	memset(hf, 0, sizeof(*hf));
	snprintf(hf->path, sizeof(hf->path), "%s", path ? path : "-");
	idx = calloc(1, sizeof(*idx));
	if (!idx)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading hostfile");
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (parse_line(hf, idx, ++no, p, (size_t)(nl - p), err))
			goto out_free;
		p = nl + 1;
	}
	free(idx);
	if (!hf->n) {
		lt_hostfile_free(hf);
		snprintf(hf->path, sizeof(hf->path), "%s", path ? path : "-");
		return lt_err_set(err, LT_EXIT_USAGE, "hostfile '%s' names no host (write one host a line: 'node1 slots=8')",
				  lt_quote(q, sizeof(q), hf->path));
	}
	return 0;

out_free:
	free(idx);
	lt_hostfile_free(hf);
	return -1;
}

/* Reads at most FILE_MAX_BYTES + 1 bytes of fd into a new buffer. */
static char *read_fd(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap), *grown;
	ssize_t r;

	while (buf && n <= FILE_MAX_BYTES) {
		if (n == cap) {
			if (cap > FILE_MAX_BYTES)
				break;
			grown = realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = grown;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

int lt_hostfile_load(const char *path, struct lt_hostfile *hf, struct lt_err *err)
{
	char q[LT_QUOTE_MAX], *text;
	struct stat st;
	size_t len = 0;
	int fd, ret;

	memset(hf, 0, sizeof(*hf));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lt_err_set(err, LT_EXIT_USAGE, "cannot read hostfile '%s': %s",
				  lt_quote(q, sizeof(q), path), strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return lt_err_set(err, LT_EXIT_USAGE, "cannot read hostfile '%s': %s",
				  lt_quote(q, sizeof(q), path), strerror(EISDIR));
	}
	text = read_fd(fd, &len);
	ret = errno;
	close(fd);
	if (!text)
		return lt_err_set(err, LT_EXIT_USAGE, "cannot read hostfile '%s': %s",
				  lt_quote(q, sizeof(q), path), strerror(ret));
	if (len > FILE_MAX_BYTES) {
		free(text);
		return lt_err_set(err, LT_EXIT_USAGE, "hostfile '%s' is larger than %u MiB (give one line a host, 'HOST slots=N')",
				  lt_quote(q, sizeof(q), path), FILE_MAX_BYTES >> 20);
	}
	ret = lt_hostfile_parse(text, len, path, hf, err);
	free(text);
	return ret;
}

void lt_hostfile_free(struct lt_hostfile *hf)
{
	int i;

	if (!hf)
		return;
	for (i = 0; i < hf->n && hf->hosts; i++)
		free(hf->hosts[i].used);
	free(hf->hosts);
	memset(hf, 0, sizeof(*hf));
}

/* --------------------------------------------------------------- filters */

struct filter {
	const struct lt_hostfile *hf;
	const struct host_index *idx;
	const char *flag;      /* "--include" or "--exclude" */
	const char *text;      /* the whole filter */
	bool include;
	char *mask;            /* the slots kept, host after host */
	size_t *base;          /* each host's first byte in mask */
	char *named;           /* hosts this filter has named */
	struct lt_err *err;
};

static int filter_error(const struct filter *f, const char *fmt, ...) LT_PRINTF(2, 3);
static int filter_error(const struct filter *f, const char *fmt, ...)
{
	char q[LT_QUOTE_MAX], detail[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return lt_err_set(f->err, LT_EXIT_USAGE, "%s '%s': %s", f->flag,
			  lt_quote(q, sizeof(q), f->text), detail);
}

/* Quotes len bytes at s (not NUL-terminated) into q. */
static char *quote_n(char q[LT_QUOTE_MAX], const char *s, size_t len)
{
	char t[LT_QUOTE_MAX];

	snprintf(t, sizeof(t), "%.*s", (int)(len < sizeof(t) ? len : sizeof(t) - 1), s);
	if (len >= sizeof(t))
		t[sizeof(t) - 2] = '.';   /* longer: lt_quote() marks it "..." */
	return lt_quote(q, LT_QUOTE_MAX, t);
}

/* "no host 'X' in hostfile 'P' (its hosts: 'a', 'b', 'c', ...)" */
static int unknown_host(const struct filter *f, const char *name, size_t len)
{
	char q[LT_QUOTE_MAX], p[LT_QUOTE_MAX], h[LT_QUOTE_MAX], some[240] = "";
	size_t n = 0;
	int i;

	for (i = 0; i < f->hf->n && i < 3; i++)
		n += (size_t)snprintf(some + n, sizeof(some) - n, "%s'%s'", i ? ", " : "",
				      lt_quote(h, sizeof(h), f->hf->hosts[i].name));
	return filter_error(f, "no host '%s' in hostfile '%s' (its hosts: %s%s)",
			    quote_n(q, name, len), lt_quote(p, sizeof(p), f->hf->path), some,
			    f->hf->n > 3 ? ", ..." : "");
}

/* Reads one slot of host (len bytes at s) into *out. */
static int parse_slot(const struct filter *f, const struct lt_host *host,
		      const char *s, size_t len, long *out)
{
	char q[LT_QUOTE_MAX], h[LT_QUOTE_MAX];

	lt_quote(h, sizeof(h), host->name);
	if (!len)
		return filter_error(f, "an empty slot in '%s:...' (%s)", h, FILTER_FORM);
	if (strspn(s, "0123456789") < len)
		return filter_error(f, "slot '%s' of host '%s' is not a number (slots count from 0: '%s:0,1')",
				    quote_n(q, s, len), h, h);
	*out = len > 9 ? LONG_MAX : strtol(s, NULL, 10);
	if (*out >= host->slots)
		return filter_error(f, "slot %s is past the %d slot%s of host '%s' (use 0 to %d)",
				    quote_n(q, s, len), host->slots, host->slots == 1 ? "" : "s",
				    h, host->slots - 1);
	return 0;
}

/* Keeps (include) or drops host h's slots in the list s (len bytes, "0,2"). */
static int apply_slots(struct filter *f, int h, const char *s, size_t len)
{
	const struct lt_host *host = &f->hf->hosts[h];
	char *mask = f->mask + f->base[h], *seen, q[LT_QUOTE_MAX];
	const char *end = s + len, *comma;
	long v = 0;
	int ret = -1;

	seen = calloc((size_t)host->slots, 1);
	if (!seen)
		return lt_err_set(f->err, LT_EXIT_FAILURE, "out of memory applying %s", f->flag);
	for (; s <= end; s = comma + 1) {
		comma = memchr(s, ',', (size_t)(end - s));
		if (!comma)
			comma = end;
		if (parse_slot(f, host, s, (size_t)(comma - s), &v))
			goto out_free;
		if (seen[v]) {
			filter_error(f, "slot %ld of host '%s' is named twice (name it once)",
				     v, lt_quote(q, sizeof(q), host->name));
			goto out_free;
		}
		seen[v] = 1;
		mask[v] = f->include;
	}
	ret = 0;

out_free:
	free(seen);
	return ret;
}

static bool slot_list(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!strchr("0123456789,", s[i]) || !s[i])
			return false;
	return true;
}

/* Finds the host of one token (n bytes at tok): "[ADDR]..." bracketed,
 * else the whole token when it names a host (an IPv6 address has ':'s),
 * else the part before the last ':'.  Returns the host, with *slots and
 * *slen its slot list (*slots NULL: none), or -1 with f->err set. */
static int token_host(const struct filter *f, const char *tok, size_t n,
		      const char **slots, size_t *slen)
{
	const char *end = tok + n, *colon = NULL, *name = tok, *p;
	size_t len = n;
	char q[LT_QUOTE_MAX];
	int h;

	if (tok[0] == '[') {
		p = memchr(tok, ']', n);
		if (!p || (p + 1 < end && p[1] != ':'))
			return filter_error(f, "bad host '%s' (write an IPv6 host '[ADDR]' or '[ADDR]:0,1')",
					    quote_n(q, tok, n));
		name = tok + 1;
		len = (size_t)(p - name);
		colon = p + 1 < end ? p + 1 : NULL;
	} else if (index_find(f->idx, f->hf, tok, n, NULL) < 0) {
		for (p = tok; p < end; p++)
			if (*p == ':')
				colon = p;
		if (colon)
			len = (size_t)(colon - tok);
	}
	*slots = colon ? colon + 1 : NULL;
	*slen = colon ? (size_t)(end - colon - 1) : 0;
	h = len && !memchr(name, '\0', len) ? index_find(f->idx, f->hf, name, len, NULL) : -1;
	if (h >= 0)
		return h;
	/* "fe80::2", "fe80::x": an address misspelt whole, not "fe80:" */
	if (colon && tok[0] != '[' && (memchr(name, ':', len) || !slot_list(*slots, *slen)))
		return unknown_host(f, tok, n);
	return unknown_host(f, name, len);
}

/* Applies one "@"-separated token (n bytes at tok) of a filter. */
static int apply_token(struct filter *f, const char *tok, size_t n)
{
	const char *slots = NULL;
	char q[LT_QUOTE_MAX];
	size_t slen = 0, i;
	int h;

	if (!n)
		return filter_error(f, "an empty host%s (%s)",
				    *f->text ? " beside an '@'" : "", FILTER_FORM);
	h = token_host(f, tok, n, &slots, &slen);
	if (h < 0)
		return -1;
	lt_quote(q, sizeof(q), f->hf->hosts[h].name);
	if (f->named[h])
		return filter_error(f, "host '%s' is named twice (name it once, with all its slots: '%s:0,1')",
				    q, q);
	f->named[h] = 1;
	if (slots && !slen)
		return filter_error(f, "no slot after '%s:' (write '%s:0,1', or '%s' for all its slots)",
				    q, q, q);
	if (slots)
		return apply_slots(f, h, slots, slen);
	for (i = 0; i < (size_t)f->hf->hosts[h].slots; i++)
		f->mask[f->base[h] + i] = f->include;
	return 0;
}

static int apply_filter(struct filter *f)
{
	const char *p = f->text, *at;

	memset(f->named, 0, (size_t)f->hf->n);
	for (;;) {
		at = strchr(p, '@');
		if (apply_token(f, p, at ? (size_t)(at - p) : strlen(p)))
			return -1;
		if (!at)
			return 0;
		p = at + 1;
	}
}

/* Copies the mask into each host's used[] (which has room for all its slots). */
static void commit_mask(struct lt_hostfile *hf, const char *mask, const size_t *base)
{
	int i, s;

	for (i = 0; i < hf->n; i++) {
		struct lt_host *h = &hf->hosts[i];

		h->nused = 0;
		for (s = 0; s < h->slots; s++)
			if (mask[base[i] + (size_t)s])
				h->used[h->nused++] = s;
	}
}

static int no_host_left(const struct filter *f, const char *include, const char *exclude)
{
	char qi[LT_QUOTE_MAX], qe[LT_QUOTE_MAX], p[LT_QUOTE_MAX];

	if (include)
		return lt_err_set(f->err, LT_EXIT_USAGE, "--include/--exclude leave no host: --exclude '%s' removes every slot --include '%s' keeps (exclude fewer hosts or slots)",
				  lt_quote(qe, sizeof(qe), exclude), lt_quote(qi, sizeof(qi), include));
	return lt_err_set(f->err, LT_EXIT_USAGE, "--include/--exclude leave no host: --exclude '%s' removes every slot of hostfile '%s' (exclude fewer hosts or slots)",
			  lt_quote(qe, sizeof(qe), exclude), lt_quote(p, sizeof(p), f->hf->path));
}

int lt_hostfile_filter(struct lt_hostfile *hf, const char *include,
		       const char *exclude, struct lt_err *err)
{
	struct filter f = { .hf = hf, .err = err };
	struct host_index *idx = NULL;
	size_t total = 0;
	int i, ret = -1;

	if (hf->n <= 0)
		return lt_err_set(err, LT_EXIT_USAGE, "--include/--exclude leave no host: no hostfile was read (give --hostfile FILE)");
	f.base = malloc(sizeof(*f.base) * ((size_t)hf->n + 1));
	f.named = malloc((size_t)hf->n + 1);
	idx = malloc(sizeof(*idx));
	for (i = 0; f.base && i < hf->n; i++) {
		f.base[i] = total;
		total += (size_t)hf->hosts[i].slots;
	}
	f.mask = malloc(total + 1);
	if (!f.base || !f.named || !idx || !f.mask) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory applying --include/--exclude");
		goto out_free;
	}
	index_build(idx, hf);
	f.idx = idx;
	memset(f.mask, !include, total);
	if (include) {
		f.flag = "--include", f.text = include, f.include = true;
		if (apply_filter(&f))
			goto out_free;
	}
	if (exclude) {
		f.flag = "--exclude", f.text = exclude, f.include = false;
		if (apply_filter(&f))
			goto out_free;
	}
	if (!memchr(f.mask, 1, total)) {
		no_host_left(&f, include, exclude ? exclude : "");
		goto out_free;
	}
	commit_mask(hf, f.mask, f.base);
	ret = 0;

out_free:
	free(f.mask);
	free(idx);
	free(f.named);
	free(f.base);
	return ret;
}
