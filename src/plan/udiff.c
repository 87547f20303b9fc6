/*
 * Unified diffs of two texts, line by line: Myers' O(ND) algorithm on line
 * hashes, then hunks with context in the format of `diff -u`. When the two sides
 * differ in more than UDIFF_MAX_EDITS lines, the whole text is shown as
 * replaced instead of searching further (readable, and bounded in time and memory).
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#define UDIFF_MAX_EDITS 4000

struct line {
	const char *ptr;
	size_t len; /* without the newline */
	bool newline;
	uint64_t hash;
};

struct lines {
	struct line *items;
	size_t count;
};

static void split_lines(const char *text, size_t len, struct lines *out)
{
	size_t cap = 16, start = 0;

	out->items = xmalloc(cap * sizeof(*out->items));
	out->count = 0;
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct line *l;

		if (out->count == cap) {
			cap *= 2;
			out->items = xrealloc(out->items, cap * sizeof(*out->items));
		}
		l = &out->items[out->count++];
		l->ptr = text + start;
		l->len = end - start;
		l->newline = nl != NULL;
		l->hash = hash_bytes(l->ptr, l->len) ^ (l->newline ? 0 : 0x9e3779b97f4a7c15ULL);
		start = end + 1;
	}
}

static bool line_eq(const struct line *a, const struct line *b)
{
	return a->hash == b->hash && a->len == b->len && a->newline == b->newline &&
	       memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* One edit script entry: ' ' keep, '-' delete from a, '+' insert from b. */
struct edit {
	char op;
	size_t a, b; /* line indexes */
};

/*
 * Myers' greedy forward search, keeping each round's furthest-reaching
 * diagonals to walk the path back. Returns false if more than max edits are needed.
 */
static bool myers(const struct lines *a, const struct lines *b, size_t max, struct edit **out,
		  size_t *out_len)
{
	long n = (long)a->count, m = (long)b->count, offset = (long)max + 1;
	long width = 2 * offset + 1;
	long *v = xcalloc((size_t)width, sizeof(*v));
	long **trace = xcalloc(max + 1, sizeof(*trace));
	long d, found = -1;

	for (d = 0; d <= (long)max && found < 0; d++) {
		for (long k = -d; k <= d; k += 2) {
			long x;

			if (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]))
				x = v[offset + k + 1];
			else
				x = v[offset + k - 1] + 1;
			long y = x - k;

			while (x < n && y < m && line_eq(&a->items[x], &b->items[y])) {
				x++;
				y++;
			}
			v[offset + k] = x;
			if (x >= n && y >= m) {
				found = d;
				break;
			}
		}
		trace[d] = xmalloc((size_t)width * sizeof(long));
		memcpy(trace[d], v, (size_t)width * sizeof(long));
	}
	if (found < 0) {
		for (long i = 0; i < d; i++)
			free(trace[i]);
		free(trace);
		free(v);
		return false;
	}

	/* Walk back from (n, m) to (0, 0), emitting edits in reverse. */
	size_t cap = (size_t)(n + m) + 1, len = 0;
	struct edit *edits = xmalloc(cap * sizeof(*edits));
	long x = n, y = m;

	for (d = found; d >= 0; d--) {
		long k = x - y, prev_k, prev_x, prev_y;
		long *vd = d > 0 ? trace[d - 1] : NULL;

		if (d == 0) {
			prev_k = 0;
			prev_x = 0;
		} else if (k == -d || (k != d && vd[offset + k - 1] < vd[offset + k + 1])) {
			prev_k = k + 1;
			prev_x = vd[offset + prev_k];
		} else {
			prev_k = k - 1;
			prev_x = vd[offset + prev_k];
		}
		prev_y = prev_x - prev_k;
		while (x > prev_x && y > prev_y) {
			x--;
			y--;
			edits[len++] = (struct edit){' ', (size_t)x, (size_t)y};
		}
		if (d > 0) {
			if (x == prev_x)
				edits[len++] = (struct edit){'+', (size_t)x, (size_t)(y - 1)};
			else
				edits[len++] = (struct edit){'-', (size_t)(x - 1), (size_t)y};
			x = prev_x;
			y = prev_y;
		}
	}
	for (size_t i = 0; i < len / 2; i++) {
		struct edit t = edits[i];

		edits[i] = edits[len - 1 - i];
		edits[len - 1 - i] = t;
	}
	for (long i = 0; i <= found; i++)
		free(trace[i]);
	free(trace);
	free(v);
	*out = edits;
	*out_len = len;
	return true;
}

static void add_line(struct buf *out, char op, const struct line *l)
{
	buf_addch(out, op);
	buf_add(out, l->ptr, l->len);
	buf_addch(out, '\n');
	if (!l->newline)
		buf_addstr(out, "\\ No newline at end of file\n");
}

/* "@@ -start,count +start,count @@" with diff -u's conventions for empty ranges. */
static void add_range(struct buf *out, char sign, size_t start, size_t count)
{
	if (count == 1)
		buf_addf(out, "%c%zu", sign, start + 1);
	else
		buf_addf(out, "%c%zu,%zu", sign, count ? start + 1 : start, count);
}

int udiff(const char *a, size_t a_len, const char *b, size_t b_len, const char *label_a,
	  const char *label_b, unsigned context, struct buf *out)
{
	struct lines la, lb;
	struct edit *edits = NULL;
	size_t n_edits = 0, i = 0;
	int changed = 0;

	split_lines(a, a_len, &la);
	split_lines(b, b_len, &lb);
	if (!myers(&la, &lb, UDIFF_MAX_EDITS, &edits, &n_edits)) {
		/* too different to be worth aligning: everything replaced */
		n_edits = la.count + lb.count;
		edits = xmalloc((n_edits + 1) * sizeof(*edits));
		for (size_t k = 0; k < la.count; k++)
			edits[k] = (struct edit){'-', k, 0};
		for (size_t k = 0; k < lb.count; k++)
			edits[la.count + k] = (struct edit){'+', la.count, k};
	}
	for (size_t k = 0; k < n_edits; k++)
		if (edits[k].op != ' ')
			changed = 1;
	if (!changed)
		goto out;
	buf_addf(out, "--- %s\n+++ %s\n", label_a, label_b);
	while (i < n_edits) {
		size_t first, last, k;

		while (i < n_edits && edits[i].op == ' ')
			i++;
		if (i == n_edits)
			break;
		/* a hunk runs until 2*context unchanged lines separate changes */
		first = i > context ? i - context : 0;
		last = i;
		for (k = i; k < n_edits; k++) {
			if (edits[k].op != ' ') {
				last = k;
			} else if (k - last > 2 * context) {
				break;
			}
		}
		size_t end = last + context + 1 < n_edits ? last + context + 1 : n_edits;
		size_t a_start = 0, b_start = 0, a_count = 0, b_count = 0;
		bool a_set = false, b_set = false;

		for (k = first; k < end; k++) {
			const struct edit *e = &edits[k];

			if (e->op != '+') {
				if (!a_set) {
					a_start = e->a;
					a_set = true;
				}
				a_count++;
			}
			if (e->op != '-') {
				if (!b_set) {
					b_start = e->b;
					b_set = true;
				}
				b_count++;
			}
		}
		if (!a_set)
			a_start = edits[first].a;
		if (!b_set)
			b_start = edits[first].b;
		buf_addstr(out, "@@ ");
		add_range(out, '-', a_start, a_count);
		buf_addch(out, ' ');
		add_range(out, '+', b_start, b_count);
		buf_addstr(out, " @@\n");
		for (k = first; k < end; k++) {
			const struct edit *e = &edits[k];

			if (e->op == '+')
				add_line(out, '+', &lb.items[e->b]);
			else
				add_line(out, e->op, &la.items[e->a]);
		}
		i = end;
	}
out:
	free(edits);
	free(la.items);
	free(lb.items);
	return changed;
}
