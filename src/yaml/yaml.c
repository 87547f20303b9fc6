/*
 * yaml — YAML streams and JSON into plumb's node trees, with libfyaml's event parser.
 *
 * libfyaml tokenises and reports syntax errors; everything above the events is
 * ours: nodes in the caller's arena, scalar typing (YAML 1.2 core schema),
 * anchors and aliases, merge keys, duplicate keys, limits. Design notes:
 * docs/internals/yaml.md.
 */
#include "yaml/yaml.h"
#include "yaml/yaml_int.h"

#include <inttypes.h>
#include <libfyaml.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YAML_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define YAML_DEFAULT_MAX_DEPTH 256
/* Mappings with more keys than this find duplicates with a hash table. */
#define KEYSET_LINEAR_MAX 16

#define TAG_PREFIX "tag:yaml.org,2002:"

/*
 * A merge key `<<` is recognised by the address of its text: the parser points
 * such keys at this array, while a quoted or tagged "<<" gets its own copy.
 */
static const char merge_key_text[] = "<<";

/* ---- locale-independent numbers ---- */

static locale_t c_locale(void)
{
	static locale_t cached;
	locale_t loc = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
	locale_t expected = (locale_t)0;
	locale_t fresh;

	if (loc)
		return loc;
	fresh = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!fresh)
		die("cannot create the C locale");
	if (!__atomic_compare_exchange_n(&cached, &expected, fresh, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		freelocale(fresh);
		return expected;
	}
	return fresh;
}

double yaml_strtod(const char *s, char **end)
{
	return strtod_l(s, end, c_locale());
}

void yaml_float_digits(double v, char digits[24], int *exp10)
{
	locale_t old = uselocale(c_locale());
	char tmp[40];
	size_t nd = 0;
	char *e;

	v = fabs(v);
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (yaml_strtod(tmp, NULL) == v)
			break;
	}
	uselocale(old);
	/* tmp is "d.ddde±XX" or "de±XX" */
	for (const char *p = tmp; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	e = strchr(tmp, 'e');
	*exp10 = e ? (int)strtol(e + 1, NULL, 10) : 0;
}

int yaml_add_float(struct buf *out, double v, const char *const nan_inf[3])
{
	char digits[24];
	int exp10;
	int nd;
	int rc = 0;

	if (isnan(v))
		return buf_addstr(out, nan_inf[0]);
	if (isinf(v))
		return buf_addstr(out, nan_inf[v > 0 ? 1 : 2]);
	if (signbit(v))
		rc |= buf_addch(out, '-');
	if (v == 0)
		return rc || buf_addstr(out, "0.0") ? ERR_TOOBIG : 0;
	yaml_float_digits(v, digits, &exp10);
	nd = (int)strlen(digits);
	if (exp10 >= -7 && exp10 < 21) {
		if (exp10 < 0) {
			rc |= buf_addstr(out, "0.");
			for (int i = 0; i < -exp10 - 1; i++)
				rc |= buf_addch(out, '0');
			rc |= buf_add(out, digits, (size_t)nd);
		} else {
			for (int i = 0; i <= exp10; i++)
				rc |= buf_addch(out, i < nd ? digits[i] : '0');
			rc |= buf_addch(out, '.');
			if (nd > exp10 + 1)
				rc |= buf_add(out, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
			else
				rc |= buf_addch(out, '0');
		}
	} else {
		rc |= buf_addch(out, digits[0]);
		if (nd > 1) {
			rc |= buf_addch(out, '.');
			rc |= buf_add(out, digits + 1, (size_t)(nd - 1));
		}
		rc |= buf_addf(out, "e%c%d", exp10 < 0 ? '-' : '+', abs(exp10));
	}
	return rc ? ERR_TOOBIG : 0;
}

/* ---- scalar typing: the YAML 1.2 core schema ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool text_is(const char *s, size_t len, const char *const *words)
{
	if (len > 6) /* the longest word is "+.inf" */
		return false;
	for (; *words; words++)
		if (strlen(*words) == len && memcmp(s, *words, len) == 0)
			return true;
	return false;
}

static const char *const null_words[] = {"null", "Null", "NULL", "~", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const inf_words[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
static const char *const ninf_words[] = {"-.inf", "-.Inf", "-.INF", NULL};
static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
bool yaml_match_float(const char *s, size_t len)
{
	size_t i = 0, start;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i < len && s[i] == '.') {
		i++;
		start = i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
	} else {
		start = i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
		if (i < len && s[i] == '.') {
			i++;
			while (i < len && is_digit(s[i]))
				i++;
		}
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		start = i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			return false;
	}
	return i == len;
}

/* Parses s (NUL-terminated after len) as a float; the text has matched match_float. */
static double text_to_double(const char *s, size_t len)
{
	char small[64];
	char *copy;
	double v;

	if (s[len] == '\0')
		return yaml_strtod(s, NULL);
	copy = len < sizeof(small) ? small : xmalloc(len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	v = yaml_strtod(copy, NULL);
	if (copy != small)
		free(copy);
	return v;
}

/*
 * Integers: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. Returns false if s is not
 * one; sets *out, or *overflow and *approx when the value does not fit int64.
 */
static bool parse_int(const char *s, size_t len, int64_t *out, bool *overflow, double *approx)
{
	unsigned base = 10;
	bool negative = false;
	uint64_t limit, acc = 0;
	double real = 0;
	size_t i = 0;

	*overflow = false;
	if (len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		base = s[1] == 'o' ? 8 : 16;
		i = 2;
	} else if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		negative = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return false;
	limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		int d = hex_digit_value(s[i]);

		if (d < 0 || (unsigned)d >= base)
			return false;
		real = real * base + d;
		if (!*overflow && acc > (limit - (uint64_t)d) / base)
			*overflow = true;
		if (!*overflow)
			acc = acc * base + (uint64_t)d;
	}
	if (*overflow) {
		*approx = negative ? -real : real;
		return true;
	}
	if (negative)
		*out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		*out = (int64_t)acc;
	return true;
}

void yaml_resolve_core(const char *s, size_t len, struct scalar_value *v)
{
	int64_t integer;
	bool overflow;
	double approx;

	memset(v, 0, sizeof(*v));
	v->type = NODE_STRING;
	if (len == 0) {
		v->type = NODE_NULL;
		return;
	}
	switch (s[0]) {
	case 'n':
	case 'N':
	case '~':
		if (text_is(s, len, null_words))
			v->type = NODE_NULL;
		return;
	case 't':
	case 'T':
	case 'f':
	case 'F':
		if (text_is(s, len, true_words) || text_is(s, len, false_words)) {
			v->type = NODE_BOOL;
			v->boolean = s[0] == 't' || s[0] == 'T';
		}
		return;
	case '.':
	case '+':
	case '-':
		if (text_is(s, len, inf_words)) {
			v->type = NODE_FLOAT;
			v->real = INFINITY;
			return;
		}
		if (text_is(s, len, ninf_words)) {
			v->type = NODE_FLOAT;
			v->real = -INFINITY;
			return;
		}
		if (text_is(s, len, nan_words)) {
			v->type = NODE_FLOAT;
			v->real = NAN;
			return;
		}
		break;
	default:
		if (!is_digit(s[0]))
			return;
	}
	if (parse_int(s, len, &integer, &overflow, &approx)) {
		if (overflow) {
			v->type = NODE_FLOAT;
			/* decimal text reads more exactly with strtod */
			v->real = yaml_match_float(s, len) ? text_to_double(s, len) : approx;
		} else {
			v->type = NODE_INT;
			v->integer = integer;
		}
		return;
	}
	if (yaml_match_float(s, len)) {
		v->type = NODE_FLOAT;
		v->real = text_to_double(s, len);
	}
}

/* ---- the parser ---- */

struct anchor {
	struct node *node; /* NULL while the anchored collection is still open */
	uint64_t weight;
};

/* A collection being built; its children sit on parser.stack from `base`. */
struct frame {
	struct node *node;
	size_t base;
	uint64_t weight;
	struct anchor *anchor;
};

struct parser {
	struct arena *arena;
	const char *file;
	const char *data;
	size_t len;
	size_t max_bytes;
	unsigned max_depth;
	struct vec *docs;
	struct error *err;

	struct node **stack;
	size_t stack_len, stack_cap;
	struct frame *frames;
	size_t depth, frames_cap;

	struct map anchors; /* name → struct anchor *, for the current document */
	struct buf name;    /* scratch: NUL-terminated anchor names */
	uint64_t expanded;  /* bytes that aliases have added so far */
	size_t token_end;   /* where the latest token ended, for block scalar headers */
	uint32_t last_line; /* position after the latest token, for empty scalars */
	uint32_t last_col;
};

/* Shortens s for a message: at most 64 bytes, control characters as '?'. */
static const char *shown(const char *s, size_t len, char out[80])
{
	size_t n = len > 64 ? 64 : len;

	/* cut at a character boundary */
	while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
	if (n < len)
		memcpy(out + n, "...", 4);
	else
		out[n] = '\0';
	return out;
}

static int fail_at(struct parser *p, int code, uint32_t line, uint32_t col, const char *fmt, ...)
	PRINTF_LIKE(5, 6);

static int fail_at(struct parser *p, int code, uint32_t line, uint32_t col, const char *fmt, ...)
{
	char msg[ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(p->err, code, "%s:%u:%u: %s", p->file, line, col, msg);
}

/* Line and column (1-based, columns in characters) of a byte offset. */
static void offset_position(const char *data, size_t offset, uint32_t *line, uint32_t *col)
{
	size_t line_start = 0;
	uint32_t lines = 1, cols = 1;

	for (size_t i = 0; i < offset; i++)
		if (data[i] == '\n') {
			lines++;
			line_start = i + 1;
		}
	for (size_t i = line_start; i < offset; i++)
		if (((unsigned char)data[i] & 0xC0) != 0x80)
			cols++;
	*line = lines;
	*col = cols;
}

/* The offset of the first NUL or invalid UTF-8 sequence, or len. */
static size_t utf8_invalid_offset(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xBF;
		size_t need;

		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			return i;
		}
		if (len - i <= need)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
		i += need + 1;
	}
	return len;
}

static void mark_position(const struct fy_mark *m, uint32_t *line, uint32_t *col)
{
	*line = (uint32_t)m->line + 1;
	*col = (uint32_t)m->column + 1;
}

/* Moves *col back one if the byte before the mark is c. */
static void step_back_over(struct parser *p, const struct fy_mark *m, char c, uint32_t *col)
{
	if (m->input_pos > 0 && m->input_pos <= p->len && p->data[m->input_pos - 1] == c &&
	    *col > 1)
		(*col)--;
}

static void note_token_end(struct parser *p, struct fy_token *t)
{
	const struct fy_mark *m = t ? fy_token_end_mark(t) : NULL;

	if (m && m->input_pos > p->token_end && m->input_pos <= p->len)
		p->token_end = m->input_pos;
}

/*
 * Records where an event ended: the position that empty scalars get and, for
 * scalars, aliases and document starts (tokens that can precede a block
 * scalar's header on its line), the lower bound of the header search.
 */
static void note_event_end(struct parser *p, struct fy_event *fye, bool token)
{
	const struct fy_mark *m = fy_event_end_mark(fye);

	if (!m)
		return;
	if (token && m->input_pos > p->token_end && m->input_pos <= p->len)
		p->token_end = m->input_pos;
	mark_position(m, &p->last_line, &p->last_col);
}

/*
 * libfyaml marks a block scalar where its content starts, the line after the
 * `|` or `>` header. Find the indicator: the first '|' or '>' outside a
 * comment after the previous token, before the content. Returns its offset
 * (SIZE_MAX if not found, and then the position stays the content's).
 */
static size_t block_scalar_position(struct parser *p, const struct fy_mark *content, uint32_t *line,
				    uint32_t *col)
{
	size_t end = content->input_pos <= p->len ? content->input_pos : p->len;
	size_t lines = 0, found = end;
	bool after_space = true;

	mark_position(content, line, col);
	for (size_t i = p->token_end; i < end; i++) {
		char c = p->data[i];

		if (c == '#' && after_space) {
			while (i < end && p->data[i] != '\n')
				i++;
			after_space = true;
			continue;
		}
		if (c == '|' || c == '>') {
			found = i;
			break;
		}
		after_space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
	}
	if (found == end)
		return SIZE_MAX;
	for (size_t i = found; i < end; i++)
		if (p->data[i] == '\n')
			lines++;
	if (lines > (size_t)content->line)
		return SIZE_MAX;
	*line = (uint32_t)(content->line - lines) + 1;
	*col = 1;
	for (size_t i = found; i > 0 && p->data[i - 1] != '\n'; i--)
		if (((unsigned char)p->data[i - 1] & 0xC0) != 0x80)
			(*col)++;
	return found;
}

static void stack_push(struct parser *p, struct node *n)
{
	if (p->stack_len == p->stack_cap) {
		p->stack_cap = p->stack_cap ? p->stack_cap * 2 : 256;
		p->stack = xrealloc(p->stack, p->stack_cap * sizeof(*p->stack));
	}
	p->stack[p->stack_len++] = n;
}

static struct frame *top_frame(struct parser *p)
{
	return p->depth ? &p->frames[p->depth - 1] : NULL;
}

/* True if the next node completes a key of the innermost mapping. */
static bool at_key(struct parser *p)
{
	struct frame *f = top_frame(p);

	return f && f->node->type == NODE_MAP && (p->stack_len - f->base) % 2 == 0;
}

static uint64_t scalar_weight(const struct node *n)
{
	return n->len + 2;
}

/* Hands a finished node to its parent, or makes it a document. */
static void deliver(struct parser *p, struct node *n, uint64_t weight)
{
	struct frame *f = top_frame(p);

	if (f) {
		stack_push(p, n);
		f->weight += weight;
		return;
	}
	if (n->type != NODE_NULL) {
		struct yaml_doc *doc = arena_alloc(p->arena, sizeof(*doc));

		doc->root = n;
		doc->line = n->line;
		vec_push(p->docs, doc);
	}
}

static const char *token_text(struct fy_token *t, size_t *len)
{
	const char *s = t ? fy_token_get_text(t, len) : NULL;

	if (!s) {
		*len = 0;
		return "";
	}
	return s;
}

/* Registers an anchor for n (NULL while its collection is open). */
static struct anchor *anchor_define(struct parser *p, struct fy_token *t)
{
	struct anchor *a;
	size_t len;
	const char *name = token_text(t, &len);

	buf_reset(&p->name);
	buf_add(&p->name, name, len);
	a = arena_alloc(p->arena, sizeof(*a));
	map_put(&p->anchors, p->name.data ? p->name.data : "", a);
	return a;
}

enum tag_kind { TAG_NONE, TAG_STR, TAG_INT, TAG_FLOAT, TAG_BOOL, TAG_NULL, TAG_OTHER };

static enum tag_kind tag_kind(struct fy_token *t)
{
	static const struct {
		const char *suffix;
		enum tag_kind kind;
	} known[] = {
		{"str", TAG_STR},   {"int", TAG_INT},	{"float", TAG_FLOAT},
		{"bool", TAG_BOOL}, {"null", TAG_NULL},
	};
	size_t len, plen = strlen(TAG_PREFIX);
	const char *s;

	if (!t)
		return TAG_NONE;
	s = token_text(t, &len);
	if (len <= plen || memcmp(s, TAG_PREFIX, plen) != 0)
		return TAG_OTHER;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strlen(known[i].suffix) == len - plen &&
		    memcmp(s + plen, known[i].suffix, len - plen) == 0)
			return known[i].kind;
	return TAG_OTHER;
}

static enum scalar_style map_style(enum fy_scalar_style style)
{
	switch (style) {
	case FYSS_SINGLE_QUOTED:
		return STYLE_SINGLE;
	case FYSS_DOUBLE_QUOTED:
		return STYLE_DOUBLE;
	case FYSS_LITERAL:
		return STYLE_LITERAL;
	case FYSS_FOLDED:
		return STYLE_FOLDED;
	default:
		return STYLE_PLAIN;
	}
}

/* Types a scalar by its tag, or by its text if it is plain and untagged. */
static int type_scalar(struct parser *p, struct node *n, enum tag_kind tag)
{
	static const char *const tag_names[] = {
		[TAG_INT] = "!!int",
		[TAG_FLOAT] = "!!float",
		[TAG_BOOL] = "!!bool",
		[TAG_NULL] = "!!null",
	};
	struct scalar_value v;
	bool overflow;
	char tmp[80];

	if (tag == TAG_STR || tag == TAG_OTHER || (tag == TAG_NONE && n->style != STYLE_PLAIN)) {
		n->type = NODE_STRING;
		return 0;
	}
	yaml_resolve_core(n->str, n->len, &v);
	if (tag == TAG_FLOAT && v.type == NODE_INT) {
		v.type = NODE_FLOAT;
		v.real = (double)v.integer;
	}
	if (tag != TAG_NONE) {
		bool ok = (tag == TAG_INT && v.type == NODE_INT) ||
			  (tag == TAG_FLOAT && v.type == NODE_FLOAT) ||
			  (tag == TAG_BOOL && v.type == NODE_BOOL) ||
			  (tag == TAG_NULL && v.type == NODE_NULL);

		if (tag == TAG_INT && v.type == NODE_FLOAT &&
		    parse_int(n->str, n->len, &v.integer, &overflow, &v.real))
			return fail_at(p, ERR_INVALID, n->line, n->col,
				       "!!int value '%s' is out of range",
				       shown(n->str, n->len, tmp));
		if (!ok)
			return fail_at(p, ERR_INVALID, n->line, n->col, "invalid %s value '%s'",
				       tag_names[tag], shown(n->str, n->len, tmp));
	}
	n->type = v.type;
	switch (v.type) {
	case NODE_BOOL:
		n->as.boolean = v.boolean;
		break;
	case NODE_INT:
		n->as.integer = v.integer;
		break;
	case NODE_FLOAT:
		n->as.real = v.real;
		break;
	default:
		break;
	}
	return 0;
}

/* The text between the quotes of a single-quoted scalar token, as written. */
static bool single_quoted_raw(struct parser *p, struct fy_token *t, const char **raw, size_t *len)
{
	const struct fy_mark *start = fy_token_start_mark(t), *end = fy_token_end_mark(t);

	/* libfyaml's marks hold the text between the quotes */
	if (!start || !end || end->input_pos >= p->len || start->input_pos == 0 ||
	    start->input_pos > end->input_pos || p->data[start->input_pos - 1] != '\'' ||
	    p->data[end->input_pos] != '\'')
		return false;
	*raw = p->data + start->input_pos;
	*len = end->input_pos - start->input_pos;
	return true;
}

/*
 * Decodes the inside of a single-quoted scalar: '' is a quote, and line breaks
 * fold (one break and the white space around it is a space, n+1 breaks are n
 * newlines). libfyaml 0.7.12 garbles the text after two adjacent '' escapes
 * ('a''''b' reads as "a'''") and leaks memory on escapes in folded lines, so
 * single-quoted scalars are decoded here instead.
 */
static const char *decode_single_quoted(struct parser *p, const char *raw, size_t len,
					size_t *out_len)
{
	char *out = arena_alloc(p->arena, len + 1);
	size_t n = 0, line_start = 0;

	for (size_t i = 0; i < len;) {
		size_t breaks = 0;

		if (raw[i] == '\'' && i + 1 < len && raw[i + 1] == '\'') {
			out[n++] = '\'';
			i += 2;
			continue;
		}
		if (raw[i] != '\n' && raw[i] != '\r') {
			out[n++] = raw[i++];
			continue;
		}
		/* the line's trailing white space goes, then every blank line */
		while (n > line_start && (out[n - 1] == ' ' || out[n - 1] == '\t'))
			n--;
		while (i < len) {
			if (raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n')
				i++;
			if (raw[i] != '\n' && raw[i] != '\r')
				break;
			i++;
			breaks++;
			while (i < len && (raw[i] == ' ' || raw[i] == '\t'))
				i++;
		}
		if (breaks == 1) {
			out[n++] = ' ';
		} else {
			for (size_t k = 1; k < breaks; k++)
				out[n++] = '\n';
		}
		line_start = n;
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

/* The text between the quotes of a double-quoted scalar token, as written. */
static bool double_quoted_raw(struct parser *p, struct fy_token *t, const char **raw, size_t *len)
{
	const struct fy_mark *start = fy_token_start_mark(t), *end = fy_token_end_mark(t);

	if (!start || !end || end->input_pos >= p->len || start->input_pos == 0 ||
	    start->input_pos > end->input_pos || p->data[start->input_pos - 1] != '"' ||
	    p->data[end->input_pos] != '"')
		return false;
	*raw = p->data + start->input_pos;
	*len = end->input_pos - start->input_pos;
	return true;
}

static void add_utf8(struct buf *out, uint32_t c)
{
	char b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xC0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xE0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (char)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | (c >> 18));
		b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[3] = (char)(0x80 | (c & 0x3F));
		n = 4;
	}
	buf_add(out, b, n);
}

/*
 * Decodes the inside of a double-quoted scalar (libfyaml has checked its
 * syntax): escapes, escaped line breaks, and line folding as in single
 * quotes, where white space that an escape wrote is not trimmed. libfyaml
 * 0.7.12 returns dropped text and bytes it never wrote for some multi-line
 * double-quoted scalars with escapes, so all of them are decoded here.
 */
static int decode_double_quoted(struct parser *p, struct node *n, const char *raw, size_t len)
{
	static const char simple_from[] = "0abtnvfre \"/\\\t";
	static const char simple_to[] = "\0\a\b\t\n\v\f\r\x1b \"/\\\t";
	struct buf out = BUF_INIT;
	size_t keep = 0; /* bytes of out that trailing white space trimming must not touch */
	int rc = 0;

	for (size_t i = 0; i < len;) {
		char c = raw[i];

		if (c == '\\' && i + 1 < len) {
			char e = raw[i + 1];
			const char *simple = e ? strchr(simple_from, e) : NULL;
			unsigned digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;

			if (e == '\n' || e == '\r') {
				/* an escaped line break: it and the next lines' indentation vanish
				 */
				i += 2;
				while (i < len && (raw[i] == ' ' || raw[i] == '\t' ||
						   raw[i] == '\n' || raw[i] == '\r')) {
					if (raw[i] == '\n')
						buf_addch(&out, '\n');
					i++;
				}
				keep = out.len;
				continue;
			}
			i += 2;
			if (simple) {
				buf_addch(&out, simple_to[simple - simple_from]);
			} else if (e == 'N') {
				add_utf8(&out, 0x85);
			} else if (e == '_') {
				add_utf8(&out, 0xA0);
			} else if (e == 'L') {
				add_utf8(&out, 0x2028);
			} else if (e == 'P') {
				add_utf8(&out, 0x2029);
			} else if (digits && i + digits <= len) {
				uint32_t code = 0;

				for (unsigned k = 0; k < digits; k++) {
					int d = hex_digit_value(raw[i + k]);

					if (d < 0)
						goto bad;
					code = code * 16 + (uint32_t)d;
				}
				i += digits;
				/* JSON writes characters past U+FFFF as a pair of \u surrogates */
				if (code >= 0xD800 && code <= 0xDBFF && i + 6 <= len &&
				    raw[i] == '\\' && raw[i + 1] == 'u') {
					uint32_t low = 0;

					for (unsigned k = 2;
					     k < 6 && hex_digit_value(raw[i + k]) >= 0; k++)
						low = low * 16 +
						      (uint32_t)hex_digit_value(raw[i + k]);
					if (low >= 0xDC00 && low <= 0xDFFF) {
						code = 0x10000 + ((code - 0xD800) << 10) +
						       (low - 0xDC00);
						i += 6;
					}
				}
				if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
					goto bad;
				add_utf8(&out, code);
			} else {
				goto bad;
			}
			keep = out.len;
			continue;
		}
		if (c != '\n' && c != '\r') {
			buf_addch(&out, c);
			i++;
			continue;
		}
		{
			size_t breaks = 0;

			/* the line's trailing white space goes, then every blank line */
			while (out.len > keep &&
			       (out.data[out.len - 1] == ' ' || out.data[out.len - 1] == '\t'))
				buf_truncate(&out, out.len - 1);
			while (i < len && (raw[i] == '\n' || raw[i] == '\r')) {
				if (raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n')
					i++;
				i++;
				breaks++;
				while (i < len && (raw[i] == ' ' || raw[i] == '\t'))
					i++;
			}
			if (breaks == 1)
				buf_addch(&out, ' ');
			for (size_t k = 1; k < breaks; k++)
				buf_addch(&out, '\n');
			keep = out.len;
		}
	}
	n->str = arena_strndup(p->arena, out.data ? out.data : "", out.len);
	n->len = out.len;
	goto out;
bad:
	rc = fail_at(p, ERR_INVALID, n->line, n->col, "invalid escape in double-quoted scalar");
out:
	buf_release(&out);
	return rc;
}

/* One line of a block scalar's body. */
struct body_line {
	size_t start;  /* first byte */
	size_t spaces; /* leading spaces */
	size_t end;    /* before the line break */
	bool blank;    /* nothing but spaces */
	bool has_break;
};

static size_t next_line(struct parser *p, size_t i, struct body_line *l)
{
	l->start = i;
	while (i < p->len && p->data[i] == ' ')
		i++;
	l->spaces = i - l->start;
	while (i < p->len && p->data[i] != '\n' && p->data[i] != '\r')
		i++;
	l->end = i;
	l->blank = l->start + l->spaces == l->end;
	l->has_break = i < p->len;
	if (i < p->len && p->data[i] == '\r' && i + 1 < p->len && p->data[i + 1] == '\n')
		i++;
	return i < p->len ? i + 1 : i;
}

/* A text line's content after the indentation, and whether it starts with white space. */
static bool body_text(struct parser *p, const struct body_line *l, size_t indent, struct buf *out)
{
	size_t from = l->start + (l->spaces < indent ? l->spaces : indent);

	buf_add(out, p->data + from, l->end - from);
	return from < l->end && (p->data[from] == ' ' || p->data[from] == '\t');
}

static void add_newlines(struct buf *out, size_t count)
{
	while (count--)
		buf_addch(out, '\n');
}

/*
 * Decodes a block scalar from the input, its header at data[header]. libfyaml
 * 0.7.12 garbles block scalars in several ways (more-indented lines after a
 * header alone on its line, empty lines before more-indented lines of a
 * folded scalar, an empty scalar at the end of input): it drops lines and
 * returns bytes it never wrote. So every block scalar is decoded here, after
 * YAML 1.2 and libfyaml's own conventions: the body is every line up to the
 * last whose first non-space byte is before text_end (where libfyaml ends
 * the token); "clip" adds a line feed even at the end of input; "keep"
 * counts the blank lines that end with a line break; an indentation
 * indicator counts from the enclosing collection's column (from 0 at the top).
 */
static int decode_block_scalar(struct parser *p, struct node *n, size_t header, size_t text_end,
			       size_t parent_indent)
{
	bool folded = p->data[header] == '>', prev_spaced = false;
	struct buf out = BUF_INIT, text = BUF_INIT;
	size_t i = header + 1, indent = 0, pending = 0, trailing = 0;
	char chomp = 0;
	struct body_line l;
	bool any_text = false, last_break = false, explicit_indent = false;

	for (int k = 0; k < 2 && i < p->len; k++, i++) {
		char c = p->data[i];

		if (c >= '1' && c <= '9') {
			/* like libfyaml: relative to the enclosing collection, or to 0 */
			indent = parent_indent + (size_t)(c - '0');
			explicit_indent = true;
		} else if (c == '+' || c == '-') {
			chomp = c;
		} else {
			break;
		}
	}
	/* the rest of the header line: spaces and maybe a comment */
	while (i < p->len && p->data[i] != '\n' && p->data[i] != '\r')
		i++;
	if (i < p->len && p->data[i] == '\r' && i + 1 < p->len && p->data[i + 1] == '\n')
		i++;
	if (i < p->len)
		i++;
	while (i < p->len) {
		size_t next = next_line(p, i, &l);

		if (!l.blank && l.start + l.spaces >= text_end)
			break;
		if (l.blank && ((!any_text && !explicit_indent) || l.spaces <= indent)) {
			/* an empty line: held until the next text line shows it is inside */
			if (l.has_break)
				pending++;
			i = next;
			continue;
		}
		if (!any_text) {
			if (!explicit_indent)
				indent = l.spaces;
			add_newlines(&out, pending);
		} else if (!folded) {
			add_newlines(&out, pending + 1);
		}
		buf_reset(&text);
		{
			bool spaced = body_text(p, &l, indent, &text);

			if (any_text && folded) {
				if (prev_spaced || spaced)
					add_newlines(&out, pending + 1);
				else if (pending)
					add_newlines(&out, pending);
				else
					buf_addch(&out, ' ');
			}
			prev_spaced = spaced;
		}
		buf_add(&out, text.data ? text.data : "", text.len);
		any_text = true;
		last_break = l.has_break;
		pending = 0;
		i = next;
	}
	trailing = pending;
	if (chomp == '+')
		add_newlines(&out, (any_text && last_break ? 1 : 0) + trailing);
	else if (chomp == 0 && any_text)
		buf_addch(&out, '\n');
	n->str = arena_strndup(p->arena, out.data ? out.data : "", out.len);
	n->len = out.len;
	buf_release(&out);
	buf_release(&text);
	return 0;
}

static int on_scalar(struct parser *p, struct fy_event *fye)
{
	struct fy_token *value = fye->scalar.value;
	const struct fy_mark *mark = fy_event_start_mark(fye);
	struct node *n = arena_alloc(p->arena, sizeof(*n));
	enum tag_kind tag = tag_kind(fye->scalar.tag);
	const struct fy_mark *end;
	bool key = at_key(p);
	const char *text, *raw;
	size_t len, raw_len, header = SIZE_MAX;
	int rc;

	note_token_end(p, fye->scalar.anchor);
	note_token_end(p, fye->scalar.tag);
	n->style = map_style(fy_token_scalar_style(value));
	if (!mark) {
		n->line = p->last_line;
		n->col = p->last_col;
	} else if (n->style == STYLE_LITERAL || n->style == STYLE_FOLDED) {
		header = block_scalar_position(p, mark, &n->line, &n->col);
	} else {
		mark_position(mark, &n->line, &n->col);
		/* libfyaml marks a quoted scalar's text; the node starts at its quote */
		if (n->style != STYLE_PLAIN)
			step_back_over(p, mark, n->style == STYLE_SINGLE ? '\'' : '"', &n->col);
	}
	/*
	 * libfyaml 0.7.12's text for quoted and block scalars can be wrong (see
	 * the decoders), so it is not even asked for them
	 */
	if (n->style == STYLE_SINGLE && single_quoted_raw(p, value, &raw, &raw_len)) {
		if (memchr(raw, '\n', raw_len) || memchr(raw, '\'', raw_len)) {
			n->str = decode_single_quoted(p, raw, raw_len, &len);
			n->len = len;
		} else {
			n->str = arena_strndup(p->arena, raw, raw_len);
			n->len = raw_len;
		}
	} else if (n->style == STYLE_DOUBLE && double_quoted_raw(p, value, &raw, &raw_len)) {
		if (memchr(raw, '\n', raw_len) || memchr(raw, '\\', raw_len)) {
			rc = decode_double_quoted(p, n, raw, raw_len);
			if (rc)
				return rc;
		} else {
			/* nothing to decode: the text is the value */
			n->str = arena_strndup(p->arena, raw, raw_len);
			n->len = raw_len;
		}
	} else if (header != SIZE_MAX && (end = fy_token_end_mark(value)) != NULL) {
		struct frame *parent = top_frame(p);

		rc = decode_block_scalar(p, n, header, end->input_pos,
					 parent && parent->node->col ? parent->node->col - 1 : 0);
		if (rc)
			return rc;
	} else {
		text = token_text(value, &len);
		if (key && tag == TAG_NONE && n->style == STYLE_PLAIN && len == 2 &&
		    memcmp(text, "<<", 2) == 0)
			n->str = merge_key_text;
		else
			n->str = arena_strndup(p->arena, text, len);
		n->len = len;
	}
	rc = type_scalar(p, n, tag);
	if (rc)
		return rc;
	if (fye->scalar.anchor) {
		struct anchor *a = anchor_define(p, fye->scalar.anchor);

		a->node = n;
		a->weight = scalar_weight(n);
	}
	note_event_end(p, fye, true);
	deliver(p, n, scalar_weight(n));
	return 0;
}

static int on_alias(struct parser *p, struct fy_event *fye)
{
	const struct fy_mark *mark = fy_event_start_mark(fye);
	uint32_t line = p->last_line, col = p->last_col;
	struct anchor *a;
	size_t len;
	const char *name = token_text(fye->alias.anchor, &len);
	char tmp[80];

	if (mark) {
		mark_position(mark, &line, &col);
		/* the mark is on the name; the alias starts at its '*' */
		step_back_over(p, mark, '*', &col);
	}
	buf_reset(&p->name);
	buf_add(&p->name, name, len);
	a = map_get(&p->anchors, p->name.data ? p->name.data : "");
	if (!a)
		return fail_at(p, ERR_INVALID, line, col, "undefined alias '%s'",
			       shown(name, len, tmp));
	if (!a->node)
		return fail_at(p, ERR_INVALID, line, col,
			       "alias '%s' refers to a node that contains it",
			       shown(name, len, tmp));
	if (at_key(p) && (a->node->type == NODE_SEQ || a->node->type == NODE_MAP))
		return fail_at(p, ERR_INVALID, line, col, "complex mapping keys are not supported");
	p->expanded += a->weight;
	if (p->expanded > p->max_bytes)
		return fail_at(p, ERR_TOOBIG, line, col, "aliases expand the input past %zu bytes",
			       p->max_bytes);
	note_event_end(p, fye, true);
	deliver(p, a->node, a->weight);
	return 0;
}

static int on_collection_start(struct parser *p, struct fy_event *fye, enum node_type type)
{
	const struct fy_mark *mark = fy_event_start_mark(fye);
	struct fy_token *anchor = fy_event_get_anchor_token(fye);
	struct node *n;
	struct frame *f;
	uint32_t line = p->last_line, col = p->last_col;

	if (mark)
		mark_position(mark, &line, &col);
	if (at_key(p))
		return fail_at(p, ERR_INVALID, line, col, "complex mapping keys are not supported");
	if (p->depth >= p->max_depth)
		return fail_at(p, ERR_INVALID, line, col, "nesting deeper than %u levels",
			       p->max_depth);
	note_token_end(p, anchor);
	note_token_end(p, fy_event_get_tag_token(fye));
	note_event_end(p, fye, false);
	n = arena_alloc(p->arena, sizeof(*n));
	n->type = type;
	n->line = line;
	n->col = col;
	n->str = "";
	if (p->depth == p->frames_cap) {
		p->frames_cap = p->frames_cap ? p->frames_cap * 2 : 16;
		p->frames = xrealloc(p->frames, p->frames_cap * sizeof(*p->frames));
	}
	f = &p->frames[p->depth++];
	f->node = n;
	f->base = p->stack_len;
	f->weight = 2;
	f->anchor = anchor ? anchor_define(p, anchor) : NULL;
	return 0;
}

/*
 * A set of mapping keys compared by text: a list while small, then an
 * open-addressing hash table of pointers.
 */
struct keyset {
	const struct node **slots;
	size_t count, cap; /* cap: table size, 0 while linear */
	const struct node *small[KEYSET_LINEAR_MAX];
};

static bool same_key(const struct node *a, const struct node *b)
{
	return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

static void keyset_insert_hashed(struct keyset *ks, const struct node *key)
{
	size_t i = hash_bytes(key->str, key->len) & (ks->cap - 1);

	while (ks->slots[i])
		i = (i + 1) & (ks->cap - 1);
	ks->slots[i] = key;
}

/* Adds key, or returns the key already there with the same text. */
static const struct node *keyset_add(struct keyset *ks, const struct node *key)
{
	if (!ks->cap) {
		for (size_t i = 0; i < ks->count; i++)
			if (same_key(ks->small[i], key))
				return ks->small[i];
		if (ks->count < KEYSET_LINEAR_MAX) {
			ks->small[ks->count++] = key;
			return NULL;
		}
		ks->cap = 64;
		ks->slots = xcalloc(ks->cap, sizeof(*ks->slots));
		for (size_t i = 0; i < ks->count; i++)
			keyset_insert_hashed(ks, ks->small[i]);
	}
	for (size_t i = hash_bytes(key->str, key->len) & (ks->cap - 1); ks->slots[i];
	     i = (i + 1) & (ks->cap - 1))
		if (same_key(ks->slots[i], key))
			return ks->slots[i];
	if ((ks->count + 1) * 2 > ks->cap) {
		const struct node **old = ks->slots;
		size_t old_cap = ks->cap;

		ks->cap *= 2;
		ks->slots = xcalloc(ks->cap, sizeof(*ks->slots));
		for (size_t i = 0; i < old_cap; i++)
			if (old[i])
				keyset_insert_hashed(ks, old[i]);
		free(old);
	}
	keyset_insert_hashed(ks, key);
	ks->count++;
	return NULL;
}

static void keyset_release(struct keyset *ks)
{
	FREE_AND_NULL(ks->slots);
	ks->count = 0;
	ks->cap = 0;
}

/* Appends the pairs that the merge value v brings, unless keys has them. */
static int merge_into(struct parser *p, struct keyset *keys, const struct node *key,
		      const struct node *v, struct node_pair *pairs, size_t *count)
{
	const struct node *const *sources = &v;
	size_t nsources = 1;

	if (v->type == NODE_SEQ) {
		sources = (const struct node *const *)v->items;
		nsources = v->count;
	}
	for (size_t s = 0; s < nsources; s++) {
		const struct node *src = sources[s];

		if (src->type != NODE_MAP)
			return fail_at(p, ERR_INVALID, key->line, key->col,
				       "merge key '<<' needs a mapping or a sequence of mappings");
		for (size_t i = 0; i < src->count; i++) {
			if (keyset_add(keys, src->pairs[i].key))
				continue;
			pairs[(*count)++] = src->pairs[i];
		}
	}
	return 0;
}

static size_t merged_capacity(const struct node *v)
{
	size_t total = 0;

	if (v->type == NODE_MAP)
		return v->count;
	if (v->type == NODE_SEQ)
		for (size_t i = 0; i < v->count; i++)
			if (v->items[i]->type == NODE_MAP)
				total += v->items[i]->count;
	return total;
}

static int finish_map(struct parser *p, struct frame *f)
{
	struct node **kids = p->stack ? p->stack + f->base : NULL;
	size_t n = (p->stack_len - f->base) / 2, count = 0, cap = n;
	struct keyset keys = {0};
	bool merges = false;
	int rc = 0;
	char tmp[80];

	for (size_t i = 0; i < n; i++) {
		const struct node *key = kids[2 * i];
		const struct node *first = keyset_add(&keys, key);

		if (first) {
			rc = fail_at(p, ERR_INVALID, key->line, key->col,
				     "duplicate key '%s' (first at line %u)",
				     shown(key->str, key->len, tmp), first->line);
			goto out;
		}
		if (key->str == merge_key_text) {
			merges = true;
			cap += merged_capacity(kids[2 * i + 1]);
		}
	}
	f->node->pairs = arena_alloc(p->arena, (cap ? cap : 1) * sizeof(struct node_pair));
	for (size_t i = 0; i < n; i++) {
		struct node *key = kids[2 * i], *value = kids[2 * i + 1];

		if (merges && key->str == merge_key_text) {
			rc = merge_into(p, &keys, key, value, f->node->pairs, &count);
			if (rc)
				goto out;
			continue;
		}
		f->node->pairs[count].key = key;
		f->node->pairs[count].value = value;
		count++;
	}
	f->node->count = count;
out:
	keyset_release(&keys);
	return rc;
}

static int on_collection_end(struct parser *p, struct fy_event *fye)
{
	struct frame *f = top_frame(p);
	struct node *n;
	uint64_t weight;
	int rc = 0;

	note_event_end(p, fye, false);
	if (!f)
		return error_set(p->err, ERR_INTERNAL, "%s: unbalanced YAML events", p->file);
	n = f->node;
	if (n->type == NODE_MAP) {
		rc = finish_map(p, f);
		if (rc)
			return rc;
	} else {
		n->count = p->stack_len - f->base;
		n->items = arena_alloc(p->arena, (n->count ? n->count : 1) * sizeof(*n->items));
		if (n->count)
			memcpy(n->items, p->stack + f->base, n->count * sizeof(*n->items));
	}
	weight = f->weight;
	if (f->anchor) {
		f->anchor->node = n;
		f->anchor->weight = weight;
	}
	p->stack_len = f->base;
	p->depth--;
	deliver(p, n, weight);
	return rc;
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

static int syntax_error(struct parser *p, struct fy_diag *diag)
{
	struct fy_diag_error *de;
	void *iter = NULL;

	while ((de = fy_diag_errors_iterate(diag, &iter)) != NULL) {
		if (de->type < FYET_ERROR || !de->msg)
			continue;
		return error_set(p->err, ERR_INVALID, "%s:%d:%d: %s", p->file,
				 de->line > 0 ? de->line : 1, de->column > 0 ? de->column : 1,
				 de->msg);
	}
	return error_set(p->err, ERR_INVALID, "%s:%u:%u: invalid YAML", p->file, p->last_line,
			 p->last_col);
}

static bool is_json_file(const char *file)
{
	size_t len = strlen(file);

	return len >= 5 && strcasecmp(file + len - 5, ".json") == 0;
}

static int run_events(struct parser *p, struct fy_parser *fyp, struct fy_diag *diag)
{
	struct fy_event *fye;
	int rc = 0;

	while (rc == 0 && (fye = fy_parser_parse(fyp)) != NULL) {
		switch (fye->type) {
		case FYET_DOCUMENT_START:
			map_release(&p->anchors, NULL);
			note_event_end(p, fye, true);
			break;
		case FYET_MAPPING_START:
			rc = on_collection_start(p, fye, NODE_MAP);
			break;
		case FYET_SEQUENCE_START:
			rc = on_collection_start(p, fye, NODE_SEQ);
			break;
		case FYET_MAPPING_END:
		case FYET_SEQUENCE_END:
			rc = on_collection_end(p, fye);
			break;
		case FYET_SCALAR:
			rc = on_scalar(p, fye);
			break;
		case FYET_ALIAS:
			rc = on_alias(p, fye);
			break;
		default:
			break;
		}
		fy_parser_event_free(fyp, fye);
	}
	if (rc == 0 && (fy_parser_get_stream_error(fyp) || fy_diag_got_error(diag)))
		rc = syntax_error(p, diag);
	return rc;
}

int yaml_parse(struct arena *arena, const char *file, const char *data, size_t len,
	       const struct yaml_opts *opts, struct vec *docs, struct error *err)
{
	struct parser p = {0};
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg cfg = {0};
	struct fy_diag *diag = NULL;
	struct fy_parser *fyp = NULL;
	size_t ndocs = docs->len, bad;
	char *normalized = NULL;
	int rc = 0;

	p.arena = arena;
	p.file = file ? file : "<input>";
	p.data = data;
	p.len = len;
	p.docs = docs;
	p.err = err;
	p.max_bytes = opts && opts->max_bytes ? opts->max_bytes : YAML_DEFAULT_MAX_BYTES;
	p.max_depth = opts && opts->max_depth ? opts->max_depth : YAML_DEFAULT_MAX_DEPTH;
	p.last_line = 1;
	p.last_col = 1;

	if (len > p.max_bytes)
		return error_set(err, ERR_TOOBIG,
				 "%s: input is %zu bytes, more than the limit of %zu", p.file, len,
				 p.max_bytes);
	if (len == 0)
		return 0;
	/* libfyaml stops silently at a NUL or at some invalid UTF-8: refuse both first. */
	bad = utf8_invalid_offset((const unsigned char *)data, len);
	if (bad < len) {
		uint32_t line, col;

		offset_position(data, bad, &line, &col);
		if (data[bad] == '\0')
			return fail_at(&p, ERR_INVALID, line, col, "NUL character in input");
		return fail_at(&p, ERR_INVALID, line, col, "invalid UTF-8 (byte 0x%02x)",
			       (unsigned char)data[bad]);
	}

	/*
	 * Line breaks become plain line feeds: the same line breaks to YAML, and
	 * libfyaml 0.7.12 reads 'a\r\n  ' (a quoted scalar whose last line holds
	 * only its closing quote) as "a\n" where 'a\n  ' reads as "a ". Lines and
	 * columns stay as they were; byte offsets are into the copy.
	 */
	if (memchr(data, '\r', len)) {
		char *copy = xmalloc(len);
		size_t n = 0;

		for (size_t i = 0; i < len; i++) {
			if (data[i] != '\r')
				copy[n++] = data[i];
			else if (i + 1 == len || data[i + 1] != '\n')
				copy[n++] = '\n';
		}
		normalized = copy;
		p.data = copy;
		p.len = n;
	}

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_discard;
	dcfg.user = NULL;
	dcfg.level = FYET_ERROR;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag) {
		rc = error_set(err, ERR_INTERNAL, "%s: cannot set up the YAML parser", p.file);
		goto out;
	}
	fy_diag_set_collect_errors(diag, true);

	cfg.flags = FYPCF_QUIET | FYPCF_DISABLE_DEPTH_LIMIT |
		    (is_json_file(p.file) ? FYPCF_JSON_FORCE : FYPCF_JSON_NONE);
	cfg.diag = diag;
	fyp = fy_parser_create(&cfg);
	if (!fyp || fy_parser_set_string(fyp, p.data, p.len) != 0) {
		rc = error_set(err, ERR_INTERNAL, "%s: cannot set up the YAML parser", p.file);
		goto out;
	}
	rc = run_events(&p, fyp, diag);
out:
	if (fyp)
		fy_parser_destroy(fyp);
	if (diag)
		fy_diag_destroy(diag);
	map_release(&p.anchors, NULL);
	buf_release(&p.name);
	free(p.stack);
	free(p.frames);
	free(normalized);
	if (rc)
		docs->len = ndocs;
	return rc;
}

/* ---- accessors and constructors ---- */

struct node *node_get(const struct node *map, const char *key)
{
	size_t len;

	if (!map || map->type != NODE_MAP || !key)
		return NULL;
	len = strlen(key);
	for (size_t i = 0; i < map->count; i++) {
		const struct node *k = map->pairs[i].key;

		if (k->len == len && memcmp(k->str, key, len) == 0)
			return map->pairs[i].value;
	}
	return NULL;
}

const char *node_string(const struct node *n)
{
	return n && n->type == NODE_STRING ? n->str : NULL;
}

const char *node_type_name(enum node_type type)
{
	switch (type) {
	case NODE_NULL:
		return "null";
	case NODE_BOOL:
		return "a boolean";
	case NODE_INT:
		return "an integer";
	case NODE_FLOAT:
		return "a number";
	case NODE_STRING:
		return "a string";
	case NODE_SEQ:
		return "a sequence";
	case NODE_MAP:
		return "a mapping";
	}
	return "a node";
}

struct node *node_new_string(struct arena *arena, const char *s, size_t len)
{
	struct node *n = arena_alloc(arena, sizeof(*n));

	n->type = NODE_STRING;
	n->style = STYLE_PLAIN;
	n->str = arena_strndup(arena, s, len);
	n->len = len;
	return n;
}

struct node *node_new_map(struct arena *arena, size_t capacity)
{
	struct node *n = arena_alloc(arena, sizeof(*n));

	n->type = NODE_MAP;
	n->str = "";
	n->pairs = arena_alloc(arena, (capacity ? capacity : 1) * sizeof(*n->pairs));
	return n;
}

struct node *node_new_seq(struct arena *arena, size_t capacity)
{
	struct node *n = arena_alloc(arena, sizeof(*n));

	n->type = NODE_SEQ;
	n->str = "";
	n->items = arena_alloc(arena, (capacity ? capacity : 1) * sizeof(*n->items));
	return n;
}

struct node *node_new_int(struct arena *arena, int64_t value)
{
	struct node *n = arena_alloc(arena, sizeof(*n));
	char text[24];
	int len = snprintf(text, sizeof(text), "%" PRId64, value);

	n->type = NODE_INT;
	n->as.integer = value;
	n->str = arena_strndup(arena, text, (size_t)len);
	n->len = (size_t)len;
	return n;
}

struct node *node_new_bool(struct arena *arena, bool value)
{
	struct node *n = arena_alloc(arena, sizeof(*n));

	n->type = NODE_BOOL;
	n->as.boolean = value;
	n->str = value ? "true" : "false";
	n->len = strlen(n->str);
	return n;
}

struct node *node_new_null(struct arena *arena)
{
	struct node *n = arena_alloc(arena, sizeof(*n));

	n->type = NODE_NULL;
	n->str = "null";
	n->len = 4;
	return n;
}

/* ---- canonical JSON ---- */

static const char *const json_nan_inf[3] = {"\"NaN\"", "\"+Inf\"", "\"-Inf\""};

int node_pair_cmp(const void *a, const void *b)
{
	const struct node_pair *x = *(const struct node_pair *const *)a;
	const struct node_pair *y = *(const struct node_pair *const *)b;
	size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
	int c = memcmp(x->key->str, y->key->str, n);

	if (c)
		return c;
	if (x->key->len != y->key->len)
		return x->key->len < y->key->len ? -1 : 1;
	/* equal keys (only in maps built in code): keep their order */
	return x < y ? -1 : x > y;
}

int node_canonical_json(const struct node *n, struct buf *out)
{
	const struct node_pair **sorted;
	int rc = 0;

	switch (n->type) {
	case NODE_NULL:
		return buf_addstr(out, "null");
	case NODE_BOOL:
		return buf_addstr(out, n->as.boolean ? "true" : "false");
	case NODE_INT:
		return buf_addf(out, "%" PRId64, n->as.integer);
	case NODE_FLOAT:
		return yaml_add_float(out, n->as.real, json_nan_inf);
	case NODE_STRING:
		return buf_add_json_string(out, n->str, n->len);
	case NODE_SEQ:
		rc = buf_addch(out, '[');
		for (size_t i = 0; rc == 0 && i < n->count; i++) {
			if (i)
				rc = buf_addch(out, ',');
			if (rc == 0)
				rc = node_canonical_json(n->items[i], out);
		}
		return rc ? rc : buf_addch(out, ']');
	case NODE_MAP:
		break;
	}
	sorted = xmalloc((n->count ? n->count : 1) * sizeof(*sorted));
	for (size_t i = 0; i < n->count; i++)
		sorted[i] = &n->pairs[i];
	qsort(sorted, n->count, sizeof(*sorted), node_pair_cmp);
	rc = buf_addch(out, '{');
	for (size_t i = 0; rc == 0 && i < n->count; i++) {
		if (i)
			rc = buf_addch(out, ',');
		if (rc == 0)
			rc = buf_add_json_string(out, sorted[i]->key->str, sorted[i]->key->len);
		if (rc == 0)
			rc = buf_addch(out, ':');
		if (rc == 0)
			rc = node_canonical_json(sorted[i]->value, out);
	}
	free(sorted);
	return rc ? rc : buf_addch(out, '}');
}

/* ---- editing trees built or copied in an arena ---- */

struct node *node_clone(struct arena *arena, const struct node *n)
{
	struct node *c;

	if (!n)
		return NULL;
	c = arena_alloc(arena, sizeof(*c));
	*c = *n;
	if (n->type == NODE_MAP) {
		c->pairs = arena_alloc(arena, (n->count ? n->count : 1) * sizeof(*c->pairs));
		for (size_t i = 0; i < n->count; i++) {
			c->pairs[i].key = n->pairs[i].key;
			c->pairs[i].value = node_clone(arena, n->pairs[i].value);
		}
	} else if (n->type == NODE_SEQ) {
		c->items = arena_alloc(arena, (n->count ? n->count : 1) * sizeof(*c->items));
		for (size_t i = 0; i < n->count; i++)
			c->items[i] = node_clone(arena, n->items[i]);
	}
	return c;
}

struct node *node_new_cstr(struct arena *arena, const char *s)
{
	return node_new_string(arena, s, strlen(s));
}

ssize_t node_map_index_len(const struct node *map, const char *key, size_t len)
{
	if (!map || map->type != NODE_MAP)
		return -1;
	for (size_t i = 0; i < map->count; i++) {
		const struct node *k = map->pairs[i].key;

		if (k->len == len && memcmp(k->str, key, len) == 0)
			return (ssize_t)i;
	}
	return -1;
}

ssize_t node_map_index(const struct node *map, const char *key)
{
	return node_map_index_len(map, key, strlen(key));
}

void node_map_set(struct arena *arena, struct node *map, const char *key, struct node *value)
{
	ssize_t i = node_map_index(map, key);
	struct node_pair *pairs;

	if (i >= 0) {
		map->pairs[i].value = value;
		return;
	}
	pairs = arena_alloc(arena, (map->count + 1) * sizeof(*pairs));
	if (map->count)
		memcpy(pairs, map->pairs, map->count * sizeof(*pairs));
	pairs[map->count].key = node_new_cstr(arena, key);
	pairs[map->count].value = value;
	map->pairs = pairs;
	map->count++;
}

bool node_map_del(struct node *map, const char *key)
{
	ssize_t i = node_map_index(map, key);

	if (i < 0)
		return false;
	memmove(&map->pairs[i], &map->pairs[i + 1],
		(map->count - (size_t)i - 1) * sizeof(*map->pairs));
	map->count--;
	return true;
}

struct node *node_map_child(struct arena *arena, struct node *map, const char *key)
{
	struct node *child = node_get(map, key);

	if (child && child->type == NODE_MAP)
		return child;
	child = node_new_map(arena, 0);
	node_map_set(arena, map, key, child);
	return child;
}

void node_seq_insert(struct arena *arena, struct node *seq, size_t at, struct node *item)
{
	struct node **items = arena_alloc(arena, (seq->count + 1) * sizeof(*items));

	if (at > seq->count)
		at = seq->count;
	if (at)
		memcpy(items, seq->items, at * sizeof(*items));
	items[at] = item;
	if (seq->count > at)
		memcpy(items + at + 1, seq->items + at, (seq->count - at) * sizeof(*items));
	seq->items = items;
	seq->count++;
}

void node_seq_push(struct arena *arena, struct node *seq, struct node *item)
{
	node_seq_insert(arena, seq, seq->count, item);
}

void node_seq_del(struct node *seq, size_t at)
{
	if (at >= seq->count)
		return;
	memmove(&seq->items[at], &seq->items[at + 1], (seq->count - at - 1) * sizeof(*seq->items));
	seq->count--;
}

bool node_equal(const struct node *a, const struct node *b)
{
	if (a == b)
		return true;
	if (!a || !b)
		return false;
	switch (a->type) {
	case NODE_NULL:
		return b->type == NODE_NULL;
	case NODE_BOOL:
		return b->type == NODE_BOOL && a->as.boolean == b->as.boolean;
	case NODE_INT:
		if (b->type == NODE_FLOAT)
			return (double)a->as.integer == b->as.real;
		return b->type == NODE_INT && a->as.integer == b->as.integer;
	case NODE_FLOAT:
		if (b->type == NODE_INT)
			return a->as.real == (double)b->as.integer;
		return b->type == NODE_FLOAT && a->as.real == b->as.real;
	case NODE_STRING:
		return b->type == NODE_STRING && a->len == b->len &&
		       memcmp(a->str, b->str, a->len) == 0;
	case NODE_SEQ:
		if (b->type != NODE_SEQ || a->count != b->count)
			return false;
		for (size_t i = 0; i < a->count; i++)
			if (!node_equal(a->items[i], b->items[i]))
				return false;
		return true;
	case NODE_MAP:
		if (b->type != NODE_MAP || a->count != b->count)
			return false;
		for (size_t i = 0; i < a->count; i++) {
			ssize_t j =
				node_map_index_len(b, a->pairs[i].key->str, a->pairs[i].key->len);

			if (j < 0 || !node_equal(a->pairs[i].value, b->pairs[j].value))
				return false;
		}
		return true;
	}
	return false;
}
