/*
 * hostlist.c - Slurm host lists, checked strictly here and expanded by
 * libslurm, or by ltrun itself in a build without libslurm.
 *
 * The check walks the text once, allocating nothing, and computes for every
 * item how many hosts it names and how long they are.  Only a text that
 * passes goes to slurm_hostlist_create(); its result is then compared with
 * what the check computed (total count, and per item the literal prefix and
 * the name lengths), so that a quirk of libslurm becomes an error, never a
 * wrong host name.  See hostlist.h for the grammar.
 *
 * ltrun's own expansion (expand_own) walks the checked text again and
 * makes every host as libslurm does: each number is padded with zeros to
 * the width of its range's low end ("n[08-10]" is n08 n09 n10), and the
 * bracket groups of an item turn in libslurm's order: the last group
 * fastest, then the first, the second and so on, the one before the last
 * slowest (libslurm pushes the last group as a range under each prefix it
 * makes by expanding the earlier groups from the last one back:
 * "a[1-2]b[3-4]c[5-6]" is a1b3c5 a1b3c6 a2b3c5 a2b3c6 a1b4c5...).
 * It is what a build without libslurm uses (./configure --without-slurm);
 * a build with it keeps it for lt_hostlist_create_own(), which the tests
 * and the fuzz target compare with libslurm's expansion.
 */
#include "env/hostlist.h"
#include "core/built.h"
#include "core/error.h"

#if LT_HAVE_SLURM
#include <slurm/slurm.h>
#endif

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer numbers overflow libslurm's unsigned long and come back mangled. */
#define MAX_DIGITS 18

struct lt_hostlist {
	size_t n;
	char **hosts; /* n strings (slurm_hostlist_shift()'s or strdup()'s), freed with free() */
};

/* A walk over the text: where it is, and the error it fills. */
struct scan {
	const char *what;
	const char *text;
	size_t pos;
	struct lt_err *err;
};

/* What one item names: hosts, their literal prefix (the characters before
 * the first bracket group) and the shortest and longest name. */
struct item {
	size_t start;
	size_t prefix_len;
	bool bracketed;
	uint64_t count;
	size_t min_len, max_len;
};

/* A bracket group: hosts it contributes and the width of its numbers. */
struct group {
	uint64_t count;
	size_t min_width, max_width;
};

/* --- private helpers --- */

static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Slurm separates items with ',', ' ' and '\t' (hostlist.c's "\t, "). */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static size_t skip_blanks(const char *text, size_t pos)
{
	while (is_blank(text[pos]))
		pos++;
	return pos;
}

static size_t count_digits(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Describes c for a message: 'x', space, byte 0x09 or end of text. */
static const char *describe(char *buf, size_t len, char c)
{
	if (c == '\0')
		snprintf(buf, len, "end of text");
	else if (c > ' ' && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else if (c == ' ')
		snprintf(buf, len, "space");
	else
		snprintf(buf, len, "byte 0x%02x", (unsigned char)c);
	return buf;
}

/* Sets "invalid WHAT='TEXT': DETAIL" and returns -1. */
static int LT_PRINTF(2, 3) scan_fail(struct scan *s, const char *fmt, ...)
{
	char detail[320], q[LT_QUOTE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return lt_err_set(s->err, LT_EXIT_FAILURE, "invalid %s='%s': %s", s->what,
			  lt_quote(q, sizeof(q), s->text), detail);
}

static int fail_too_many(struct scan *s)
{
	return scan_fail(s, "it names more than %d hosts, ltrun's limit",
			 LT_HOSTLIST_MAX_HOSTS);
}

/* Reads the digits at s->pos into *value; *len is how many there were. */
static int scan_number(struct scan *s, size_t group, uint64_t *value, size_t *len)
{
	size_t start = s->pos;
	char c = s->text[start], d[24];

	if (!is_digit(c)) {
		if (c == '\0')
			return scan_fail(s, "'[' at offset %zu is never closed", group);
		if (c == '[')
			return scan_fail(s, "'[' at offset %zu is inside the bracket group at offset %zu: groups cannot nest",
					 start, group);
		if (c == ',' || c == ']')
			return scan_fail(s, "empty range at offset %zu: write a number or low-high",
					 start);
		return scan_fail(s, "unexpected %s at offset %zu in a bracket group: ranges are numbers like 7 or 1-4",
				 describe(d, sizeof(d), c), start);
	}
	*value = 0;
	while (is_digit(s->text[s->pos])) {
		if (s->pos - start == MAX_DIGITS)
			return scan_fail(s, "the number at offset %zu has more than %d digits",
					 start, MAX_DIGITS);
		*value = *value * 10 + (uint64_t)(s->text[s->pos] - '0');
		s->pos++;
	}
	*len = s->pos - start;
	return 0;
}

/* One range inside a group: "7" or "1-4".  Adds it to g. */
static int scan_range(struct scan *s, size_t group, struct group *g)
{
	size_t start = s->pos, lo_len, hi_len, w;
	uint64_t lo, hi;

	if (scan_number(s, group, &lo, &lo_len))
		return -1;
	hi = lo;
	if (s->text[s->pos] == '-') {
		s->pos++;
		if (s->text[s->pos] == ',' || s->text[s->pos] == ']')
			return scan_fail(s, "the range at offset %zu ends with '-': write it low-high",
					 start);
		if (scan_number(s, group, &hi, &hi_len))
			return -1;
		if (hi < lo)
			return scan_fail(s, "range %.*s at offset %zu is descending: write it low-high",
					 (int)(s->pos - start), s->text + start, start);
	}
	g->count += hi - lo + 1;
	if (g->count > LT_HOSTLIST_MAX_HOSTS)
		return fail_too_many(s);
	/* libslurm pads every number to the width of the range's low end. */
	w = count_digits(hi) > lo_len ? count_digits(hi) : lo_len;
	if (g->min_width == 0 || lo_len < g->min_width)
		g->min_width = lo_len;
	if (w > g->max_width)
		g->max_width = w;
	return 0;
}

/* A bracket group "[r,r,...]" at s->pos. */
static int scan_group(struct scan *s, struct group *g)
{
	size_t open = s->pos;
	char c, d[24];

	memset(g, 0, sizeof(*g));
	s->pos++;
	for (;;) {
		if (scan_range(s, open, g))
			return -1;
		c = s->text[s->pos];
		if (c == ']')
			break;
		if (c == '\0')
			return scan_fail(s, "'[' at offset %zu is never closed", open);
		if (c != ',')
			return scan_fail(s, "unexpected %s at offset %zu in a bracket group: ranges are numbers like 7 or 1-4",
					 describe(d, sizeof(d), c), s->pos);
		s->pos++;
	}
	s->pos++;
	return 0;
}

/* Host characters at s->pos, up to a '[', a separator or the end. */
static int scan_literal(struct scan *s, struct item *it)
{
	size_t start = s->pos, run = 0;

	while (is_host_char(s->text[s->pos])) {
		run = is_digit(s->text[s->pos]) ? run + 1 : 0;
		if (run > MAX_DIGITS)
			return scan_fail(s, "the number at offset %zu has more than %d digits",
					 s->pos - MAX_DIGITS, MAX_DIGITS);
		s->pos++;
	}
	it->min_len += s->pos - start;
	it->max_len += s->pos - start;
	return 0;
}

/* Checks the part at s->pos: a literal or a group.  Returns 1 at the end of
 * the item (a separator or the end of the text), 0 for more parts, -1 on
 * error. */
static int scan_part(struct scan *s, struct item *it)
{
	struct group g;
	char c = s->text[s->pos], d[24];

	if (c == ',' || c == '\0' || is_blank(c))
		return 1;
	if (c == '[') {
		if (scan_group(s, &g))
			return -1;
		if (!it->bracketed)
			it->prefix_len = it->max_len;
		it->bracketed = true;
		it->count *= g.count; /* both <= 65536: no overflow */
		if (it->count > LT_HOSTLIST_MAX_HOSTS)
			return fail_too_many(s);
		it->min_len += g.min_width;
		it->max_len += g.max_width;
		return 0;
	}
	if (c == ']')
		return scan_fail(s, "']' at offset %zu has no matching '['", s->pos);
	if (!is_host_char(c))
		return scan_fail(s, "unexpected %s at offset %zu: host names use letters, digits, '.', '_' and '-', separated by ',', spaces or tabs",
				 describe(d, sizeof(d), c), s->pos);
	return scan_literal(s, it);
}

/* One item at s->pos, up to the next separator or the end. */
static int scan_item(struct scan *s, struct item *it)
{
	size_t tail = 0;
	char c = s->text[s->pos];
	int rc;

	memset(it, 0, sizeof(*it));
	it->start = s->pos;
	it->count = 1;
	if (c == ',' || c == '\0')
		return scan_fail(s, "empty host name at offset %zu: remove the extra ','",
				 s->pos);
	if (c == '-' || c == '.')
		return scan_fail(s, "the host name at offset %zu starts with '%c'", s->pos, c);
	while ((rc = scan_part(s, it)) == 0)
		tail = s->text[s->pos - 1] == ']' ? s->pos : tail;
	if (rc < 0)
		return -1;
	if (it->bracketed && tail != s->pos)
		return scan_fail(s, "host name characters at offset %zu follow the last bracket group: Slurm host lists have no suffixes, list those hosts one by one",
				 tail);
	if (it->max_len > LT_HOSTLIST_MAX_NAME)
		return scan_fail(s, "the host name at offset %zu is %zu characters long, more than %d",
				 it->start, it->max_len, LT_HOSTLIST_MAX_NAME);
	if (!it->bracketed)
		it->prefix_len = it->max_len;
	return 0;
}

/* Moves s->pos past the separator after an item: blanks, at most one ','
 * and blanks again ("a, b", "a b", "a ,b").  Returns 1 when another item
 * follows, 0 at the end of the text (trailing blanks allowed). */
static int scan_separator(struct scan *s)
{
	s->pos = skip_blanks(s->text, s->pos);
	if (s->text[s->pos] == ',')
		s->pos = skip_blanks(s->text, s->pos + 1);
	else if (s->text[s->pos] == '\0')
		return 0;
	return 1;
}

/* Calls fn on every item of the text, in order, with s->pos just past the
 * item (it->start is its first character); blanks before the first item
 * are skipped.  Returns 0, or -1. */
static int scan_items(struct scan *s, int (*fn)(struct scan *, const struct item *, void *),
		      void *arg)
{
	struct item it;

	s->pos = skip_blanks(s->text, 0);
	do {
		if (scan_item(s, &it) || fn(s, &it, arg))
			return -1;
	} while (scan_separator(s));
	return 0;
}

/* Adds an item's hosts to the total in *arg (a uint64_t). */
static int add_count(struct scan *s, const struct item *it, void *arg)
{
	uint64_t *sum = arg;

	*sum += it->count;
	return *sum > LT_HOSTLIST_MAX_HOSTS ? fail_too_many(s) : 0;
}

/* Checks the whole text; sets *total to the number of hosts it names. */
static int scan_text(struct scan *s, size_t *total)
{
	uint64_t sum = 0;

	if (!s->text[s->pos = skip_blanks(s->text, 0)])
		return scan_fail(s, "the host list is empty: name at least one host");
	if (strnlen(s->text, LT_HOSTLIST_MAX_TEXT + 1) > LT_HOSTLIST_MAX_TEXT)
		return scan_fail(s, "it is longer than %d bytes, ltrun's limit",
				 LT_HOSTLIST_MAX_TEXT);
	if (scan_items(s, add_count, &sum))
		return -1;
	*total = (size_t)sum;
	return 0;
}

#if LT_HAVE_SLURM
/* Host names libslurm returned for one item, compared with what the check
 * computed for it. */
static bool item_matches(const struct scan *s, const struct item *it,
			 char *const *hosts)
{
	uint64_t j;
	size_t len, k;

	for (j = 0; j < it->count; j++) {
		len = strlen(hosts[j]);
		if (len < it->min_len || len > it->max_len ||
		    strncmp(hosts[j], s->text + it->start, it->prefix_len))
			return false;
		for (k = 0; k < len; k++)
			if (!is_host_char(hosts[j][k]))
				return false;
	}
	return true;
}

/* How far verify_hosts() got through hl->hosts. */
struct verify {
	const struct lt_hostlist *hl;
	size_t done;
};

/* Compares one item with the hosts libslurm made of it. */
static int verify_item(struct scan *s, const struct item *it, void *arg)
{
	struct verify *v = arg;
	char q[LT_QUOTE_MAX];

	if (!item_matches(s, it, v->hl->hosts + v->done))
		return scan_fail(s, "libslurm expands the item at offset %zu to hosts like '%s', which it does not name",
				 it->start, lt_quote(q, sizeof(q), v->hl->hosts[v->done]));
	v->done += (size_t)it->count;
	return 0;
}

/* Walks the (already checked) text again, item by item, over hl->hosts. */
static int verify_hosts(struct scan *s, const struct lt_hostlist *hl)
{
	struct verify v = { .hl = hl, .done = 0 };

	return scan_items(s, verify_item, &v);
}

/* Lets libslurm expand the checked text into hl->hosts. */
static int expand(struct scan *s, struct lt_hostlist *hl, size_t total)
{
	hostlist_t sl = slurm_hostlist_create(s->text);
	int rc = -1;
	int n;

	if (!sl)
		return scan_fail(s, "libslurm cannot expand it");
	n = slurm_hostlist_count(sl);
	if (n < 0 || (size_t)n != total) {
		scan_fail(s, "libslurm expands it to %d hosts, not the %zu it names",
			  n, total);
		goto out_destroy;
	}
	hl->hosts = calloc(total, sizeof(*hl->hosts));
	if (!hl->hosts) {
		scan_fail(s, "out of memory for %zu host names", total);
		goto out_destroy;
	}
	for (; hl->n < total; hl->n++) {
		hl->hosts[hl->n] = slurm_hostlist_shift(sl);
		if (!hl->hosts[hl->n]) {
			scan_fail(s, "libslurm stops after %zu of its %zu hosts", hl->n,
				  total);
			goto out_destroy;
		}
	}
	rc = verify_hosts(s, hl);
out_destroy:
	slurm_hostlist_destroy(sl);
	return rc;
}
#endif

/* --- ltrun's own expansion --- */

/* Where one bracket group of an item stands while its hosts are made: the
 * range being walked and its current number. */
struct cursor {
	size_t open;  /* the group's '[' */
	size_t after; /* just past the current range: ',' or ']' */
	uint64_t cur, hi;
	int width;    /* digits of the range's low end: numbers are padded to it */
};

/* Points c at the range whose first digit is at pos (checked text: digits,
 * then optionally '-' and digits, 18 at most). */
static void cursor_load(struct cursor *c, const char *text, size_t pos)
{
	char *end;

	c->cur = strtoull(text + pos, &end, 10);
	c->width = (int)(end - (text + pos));
	c->hi = *end == '-' ? strtoull(end + 1, &end, 10) : c->cur;
	c->after = (size_t)(end - text);
}

/* Moves c to its group's next number.  Returns false when the group is
 * done: c is then back at its first number, and the next group turns. */
static bool cursor_next(struct cursor *c, const char *text)
{
	if (c->cur < c->hi) {
		c->cur++;
		return true;
	}
	if (text[c->after] == ',') {
		cursor_load(c, text, c->after + 1);
		return true;
	}
	cursor_load(c, text, c->open + 1);
	return false;
}

/* Moves the n cursors of an item to its next host, in libslurm's order:
 * the last group turns fastest, then the first, the second... */
static void cursors_next(struct cursor *c, size_t n, const char *text)
{
	size_t k;

	if (n == 0 || cursor_next(&c[n - 1], text))
		return;
	for (k = 0; k + 1 < n && !cursor_next(&c[k], text); k++)
		;
}

/* What expand_own() carries from item to item. */
struct own {
	struct lt_hostlist *hl;
	struct cursor *cursors; /* one per '[' of the text, at most */
};

/* Writes the host the cursors stand at, for the item whose text is
 * [start, end), into name (LT_HOSTLIST_MAX_NAME + 1 bytes).  Returns 0,
 * or -1 for a name that does not fit (the check caps the length first, so
 * never). */
static int make_name(const char *text, size_t start, size_t end, const struct cursor *c,
		     char *name)
{
	size_t pos = start, len = 0;

	while (pos < end && len <= LT_HOSTLIST_MAX_NAME) {
		if (text[pos] == '[') {
			len += (size_t)snprintf(name + len, LT_HOSTLIST_MAX_NAME + 1 - len,
						"%0*" PRIu64, c->width, c->cur);
			pos = (size_t)(strchr(text + pos, ']') - text) + 1;
			c++;
		} else {
			name[len++] = text[pos++];
		}
	}
	if (len > LT_HOSTLIST_MAX_NAME)
		return -1;
	name[len] = '\0';
	return 0;
}

/* Appends one checked item's hosts to o->hl; s->pos is the item's end. */
static int expand_item(struct scan *s, const struct item *it, void *arg)
{
	struct own *o = arg;
	struct cursor *c = o->cursors;
	size_t n = 0, pos, end = s->pos;
	char name[LT_HOSTLIST_MAX_NAME + 1];
	uint64_t j;

	for (pos = it->start; pos < end; pos++)
		if (s->text[pos] == '[') {
			c[n].open = pos;
			cursor_load(&c[n++], s->text, pos + 1);
		}
	for (j = 0; j < it->count; j++) {
		if (make_name(s->text, it->start, end, c, name))
			return scan_fail(s, "the host name at offset %zu is longer than %d characters",
					 it->start, LT_HOSTLIST_MAX_NAME);
		o->hl->hosts[o->hl->n] = strdup(name);
		if (!o->hl->hosts[o->hl->n])
			return scan_fail(s, "out of memory for its host names");
		o->hl->n++;
		cursors_next(c, n, s->text);
	}
	return 0;
}

/* Expands the checked text into hl->hosts without libslurm. */
static int expand_own(struct scan *s, struct lt_hostlist *hl, size_t total)
{
	struct own o = { .hl = hl };
	size_t groups = 0;
	const char *p;
	int rc;

	for (p = s->text; (p = strchr(p, '[')); p++)
		groups++;
	hl->hosts = calloc(total, sizeof(*hl->hosts));
	o.cursors = calloc(groups ? groups : 1, sizeof(*o.cursors));
	if (!hl->hosts || !o.cursors) {
		free(o.cursors);
		return scan_fail(s, "out of memory for %zu host names", total);
	}
	rc = scan_items(s, expand_item, &o);
	free(o.cursors);
	return rc;
}

/* Checks text, then expands it with expand_fn (libslurm's or ltrun's own). */
static struct lt_hostlist *create(const char *what, const char *text,
				  int (*expand_fn)(struct scan *, struct lt_hostlist *, size_t),
				  struct lt_err *err)
{
	struct scan s = { .what = what, .text = text ? text : "", .err = err };
	struct lt_hostlist *hl;
	size_t total = 0;

	if (scan_text(&s, &total))
		return NULL;
	hl = calloc(1, sizeof(*hl));
	if (!hl) {
		scan_fail(&s, "out of memory");
		return NULL;
	}
	if (expand_fn(&s, hl, total)) {
		lt_hostlist_destroy(hl);
		return NULL;
	}
	return hl;
}

/* --- public API --- */

struct lt_hostlist *lt_hostlist_create(const char *what, const char *text,
				       struct lt_err *err)
{
#if LT_HAVE_SLURM
	return create(what, text, expand, err);
#else
	return create(what, text, expand_own, err);
#endif
}

struct lt_hostlist *lt_hostlist_create_own(const char *what, const char *text,
					   struct lt_err *err)
{
	return create(what, text, expand_own, err);
}

size_t lt_hostlist_count(const struct lt_hostlist *hl)
{
	return hl->n;
}

const char *lt_hostlist_nth(const struct lt_hostlist *hl, size_t i)
{
	return i < hl->n ? hl->hosts[i] : NULL;
}

long lt_hostlist_find(const struct lt_hostlist *hl, const char *host)
{
	size_t i;

	for (i = 0; i < hl->n; i++)
		if (!strcmp(hl->hosts[i], host))
			return (long)i;
	return -1;
}

void lt_hostlist_destroy(struct lt_hostlist *hl)
{
	size_t i;

	if (!hl)
		return;
	for (i = 0; i < hl->n; i++)
		free(hl->hosts[i]);
	free(hl->hosts);
	free(hl);
}
