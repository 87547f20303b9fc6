/*
 * emit — node trees out as JSON, and as block YAML the way `kubectl kustomize` prints it.
 *
 * kustomize prints each object with go-yaml v2 (sigs.k8s.io/yaml JSONToYAML),
 * so the YAML emitter below is a port of the parts of go-yaml v2's emitter
 * (itself a port of libyaml) that block output of plain data reaches: its
 * scalar analysis, its choice of style, its writers with folding at 80
 * columns, and the quoting of strings that would read back as other types.
 * docs/internals/yaml.md lists the rules and what was checked against kubectl.
 */
#include "yaml/yaml.h"
#include "yaml/yaml_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEST_INDENT 2
#define BEST_WIDTH  80
/* Longer keys, or keys spanning lines, are written as `? key` / `: value`. */
#define SIMPLE_KEY_MAX 128

/* ---- JSON ---- */

static const char *const json_nan_inf[3] = {"\"NaN\"", "\"+Inf\"", "\"-Inf\""};

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? */
static bool is_json_number(const char *s, size_t len)
{
	size_t i = 0, start;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0') {
		i++;
	} else {
		start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	if (i < len && s[i] == '.') {
		start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	return i == len;
}

static int json_float(const struct node *n, struct buf *out)
{
	struct scalar_value v;

	if (n->str && is_json_number(n->str, n->len)) {
		yaml_resolve_core(n->str, n->len, &v);
		if (v.type == NODE_FLOAT && (v.real == n->as.real))
			return buf_add(out, n->str, n->len);
	}
	return yaml_add_float(out, n->as.real, json_nan_inf);
}

static int json_newline(struct buf *out, unsigned indent, unsigned level)
{
	int rc;

	if (!indent)
		return 0;
	rc = buf_addch(out, '\n');
	for (unsigned i = 0; rc == 0 && i < indent * level; i++)
		rc = buf_addch(out, ' ');
	return rc;
}

static int emit_json(const struct node *n, unsigned indent, unsigned level, struct buf *out)
{
	int rc = 0;

	switch (n->type) {
	case NODE_NULL:
		return buf_addstr(out, "null");
	case NODE_BOOL:
		return buf_addstr(out, n->as.boolean ? "true" : "false");
	case NODE_INT:
		return buf_addf(out, "%" PRId64, n->as.integer);
	case NODE_FLOAT:
		return json_float(n, out);
	case NODE_STRING:
		return buf_add_json_string(out, n->str, n->len);
	case NODE_SEQ:
		if (n->count == 0)
			return buf_addstr(out, "[]");
		rc = buf_addch(out, '[');
		for (size_t i = 0; rc == 0 && i < n->count; i++) {
			if (i)
				rc = buf_addch(out, ',');
			if (rc == 0)
				rc = json_newline(out, indent, level + 1);
			if (rc == 0)
				rc = emit_json(n->items[i], indent, level + 1, out);
		}
		if (rc == 0)
			rc = json_newline(out, indent, level);
		return rc ? rc : buf_addch(out, ']');
	case NODE_MAP:
		if (n->count == 0)
			return buf_addstr(out, "{}");
		rc = buf_addch(out, '{');
		for (size_t i = 0; rc == 0 && i < n->count; i++) {
			const struct node *key = n->pairs[i].key;

			if (i)
				rc = buf_addch(out, ',');
			if (rc == 0)
				rc = json_newline(out, indent, level + 1);
			if (rc == 0)
				rc = buf_add_json_string(out, key->str, key->len);
			if (rc == 0)
				rc = buf_addstr(out, indent ? ": " : ":");
			if (rc == 0)
				rc = emit_json(n->pairs[i].value, indent, level + 1, out);
		}
		if (rc == 0)
			rc = json_newline(out, indent, level);
		return rc ? rc : buf_addch(out, '}');
	}
	return ERR_INVALID;
}

int node_emit_json(const struct node *n, unsigned indent, struct buf *out)
{
	return emit_json(n, indent, 0, out);
}

/* ---- go's number parsing and formatting, as go-yaml and encoding/json use them ---- */

static bool go_underscore_ok(const char *s, size_t len)
{
	char saw = '^';
	size_t i = 0;
	bool hex = false;

	if (len >= 1 && (s[0] == '-' || s[0] == '+')) {
		s++;
		len--;
	}
	if (len >= 2 && s[0] == '0' &&
	    (s[1] == 'b' || s[1] == 'B' || s[1] == 'o' || s[1] == 'O' || s[1] == 'x' ||
	     s[1] == 'X')) {
		i = 2;
		saw = '0';
		hex = s[1] == 'x' || s[1] == 'X';
	}
	for (; i < len; i++) {
		char c = s[i];
		char lower = (char)(c | 0x20);

		if ((c >= '0' && c <= '9') || (hex && lower >= 'a' && lower <= 'f')) {
			saw = '0';
			continue;
		}
		if (c == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

/* strconv.ParseUint(s, 0, 64) (sign: ParseInt): false on any error, range included. */
static bool go_parse_int(const char *s, size_t len, bool allow_sign, bool *negative, uint64_t *out)
{
	unsigned base = 10;
	uint64_t acc = 0;
	size_t i = 0;

	*negative = false;
	if (allow_sign && len && (s[0] == '+' || s[0] == '-')) {
		*negative = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return false;
	if (s[i] == '0') {
		char c = i + 1 < len ? (char)(s[i + 1] | 0x20) : 0;

		if (len - i >= 3 && (c == 'b' || c == 'o' || c == 'x')) {
			base = c == 'b' ? 2 : c == 'o' ? 8 : 16;
			i += 2;
		} else {
			base = 8;
			i += 1;
		}
	}
	for (; i < len; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			d = (unsigned)((c | 0x20) - 'a' + 10);
		else
			return false;
		if (d >= base)
			return false;
		if (acc > (UINT64_MAX - d) / base)
			return false;
		acc = acc * base + d;
	}
	*out = acc;
	if (allow_sign)
		return *negative ? acc <= (uint64_t)INT64_MAX + 1 : acc <= (uint64_t)INT64_MAX;
	return true;
}

/* strconv.ParseFloat(s, 64) for decimal text: false on a syntax or range error. */
static bool go_parse_float(const char *s, size_t len, double *out)
{
	char small[128];
	char *copy;
	size_t i = 0, n = 0, digits = 0;
	bool underscores = false, dot = false;
	double v;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < len; i++) {
		if (s[i] == '_') {
			underscores = true;
		} else if (s[i] == '.' && !dot) {
			dot = true;
		} else if (s[i] >= '0' && s[i] <= '9') {
			digits++;
		} else {
			break;
		}
	}
	if (!digits)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp_digits = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len; i++) {
			if (s[i] == '_')
				underscores = true;
			else if (s[i] >= '0' && s[i] <= '9')
				exp_digits++;
			else
				break;
		}
		if (!exp_digits)
			return false;
	}
	if (i != len || (underscores && !go_underscore_ok(s, len)))
		return false;
	copy = len < sizeof(small) ? small : xmalloc(len + 1);
	for (i = 0; i < len; i++)
		if (s[i] != '_')
			copy[n++] = s[i];
	copy[n] = '\0';
	v = yaml_strtod(copy, NULL);
	if (copy != small)
		free(copy);
	if (isinf(v))
		return false;
	*out = v;
	return true;
}

/* strconv.FormatFloat(v, 'g', -1, 64), with go-yaml's names for NaN and infinities. */
static int go_format_float(double v, struct buf *out)
{
	char digits[24];
	int exp10, nd, rc = 0;

	if (isnan(v))
		return buf_addstr(out, ".nan");
	if (isinf(v))
		return buf_addstr(out, v > 0 ? ".inf" : "-.inf");
	if (signbit(v))
		rc |= buf_addch(out, '-');
	if (v == 0)
		return rc || buf_addch(out, '0') ? ERR_TOOBIG : 0;
	yaml_float_digits(v, digits, &exp10);
	nd = (int)strlen(digits);
	if (exp10 < -4 || exp10 >= 6) {
		rc |= buf_addch(out, digits[0]);
		if (nd > 1) {
			rc |= buf_addch(out, '.');
			rc |= buf_add(out, digits + 1, (size_t)nd - 1);
		}
		rc |= buf_addf(out, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (exp10 < 0) {
		rc |= buf_addstr(out, "0.");
		for (int i = 0; i < -exp10 - 1; i++)
			rc |= buf_addch(out, '0');
		rc |= buf_add(out, digits, (size_t)nd);
	} else {
		for (int i = 0; i <= exp10; i++)
			rc |= buf_addch(out, i < nd ? digits[i] : '0');
		if (nd > exp10 + 1) {
			rc |= buf_addch(out, '.');
			rc |= buf_add(out, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
		}
	}
	return rc ? ERR_TOOBIG : 0;
}

/*
 * A float after kustomize's trip through encoding/json and back through
 * go-yaml v2: integral values below 1e21 come back as integers (printed from
 * the shortest digits, as json did), everything else in FormatFloat's 'g' form.
 */
static int kustomize_float(double v, struct buf *out)
{
	static const char int64_max[] = "9223372036854775807";
	static const char int64_min[] = "9223372036854775808";
	static const char uint64_max[] = "18446744073709551615";
	char digits[24], text[32];
	int exp10, nd;
	size_t len;
	bool fits;

	if (!isfinite(v) || v != trunc(v) || fabs(v) >= 1e21)
		return go_format_float(v, out);
	if (v == 0)
		return buf_addch(out, '0');
	yaml_float_digits(v, digits, &exp10);
	nd = (int)strlen(digits);
	for (int i = 0; i <= exp10; i++)
		text[i] = i < nd ? digits[i] : '0';
	len = (size_t)exp10 + 1;
	text[len] = '\0';
	if (v < 0)
		fits = len < 19 || (len == 19 && strcmp(text, int64_min) <= 0);
	else
		fits = len < 19 || (len == 19 && strcmp(text, int64_max) <= 0) || len < 20 ||
		       (len == 20 && strcmp(text, uint64_max) <= 0);
	if (!fits)
		return go_format_float(v, out);
	return buf_addf(out, "%s%s", v < 0 ? "-" : "", text);
}

/* ---- go-yaml's view of plain scalars ---- */

struct timestamp {
	int year, month, day, hour, minute, second;
	long nsec;
	bool has_zone;
	int offset; /* seconds east of UTC */
};

/* Go's getnum(s, false): one or two digits. */
static bool get_num(const char *s, size_t len, size_t *i, int *out)
{
	if (*i >= len || s[*i] < '0' || s[*i] > '9')
		return false;
	*out = s[(*i)++] - '0';
	if (*i < len && s[*i] >= '0' && s[*i] <= '9')
		*out = *out * 10 + (s[(*i)++] - '0');
	return true;
}

static int days_in(int month, int year)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		return 29;
	return days[month - 1];
}

/*
 * go-yaml's parseTimestamp: time.Parse with "2006-1-2T15:4:5.999999999Z07:00"
 * (or 't'), "2006-1-2 15:4:5.999999999" or "2006-1-2".
 */
static bool go_timestamp(const char *s, size_t len, struct timestamp *t)
{
	size_t i = 0;
	char sep;

	memset(t, 0, sizeof(*t));
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		if (i < 4)
			t->year = t->year * 10 + (s[i] - '0');
	if (i != 4 || i == len || s[i] != '-')
		return false;
	i++;
	if (!get_num(s, len, &i, &t->month) || t->month < 1 || t->month > 12)
		return false;
	if (i >= len || s[i++] != '-')
		return false;
	if (!get_num(s, len, &i, &t->day) || t->day < 1 || t->day > days_in(t->month, t->year))
		return false;
	if (i == len)
		return true;
	sep = s[i];
	if (sep != 'T' && sep != 't' && sep != ' ')
		return false;
	i++;
	if (sep == ' ')
		while (i < len && s[i] == ' ')
			i++;
	if (!get_num(s, len, &i, &t->hour) || t->hour > 23 || i >= len || s[i++] != ':')
		return false;
	if (!get_num(s, len, &i, &t->minute) || t->minute > 59 || i >= len || s[i++] != ':')
		return false;
	if (!get_num(s, len, &i, &t->second) || t->second > 59)
		return false;
	if (i + 1 < len && (s[i] == '.' || s[i] == ',') && s[i + 1] >= '0' && s[i + 1] <= '9') {
		int ndigits = 0;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (ndigits < 9) {
				t->nsec = t->nsec * 10 + (s[i] - '0');
				ndigits++;
			}
		for (; ndigits < 9; ndigits++)
			t->nsec *= 10;
	}
	if (sep == ' ')
		return i == len;
	if (i < len && s[i] == 'Z') {
		t->has_zone = true;
		return i + 1 == len;
	}
	if (len - i != 6 || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':')
		return false;
	for (size_t k = 1; k < 6; k++)
		if (k != 3 && (s[i + k] < '0' || s[i + k] > '9'))
			return false;
	{
		int hours = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
		int minutes = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');

		if (hours > 24 || minutes > 60)
			return false;
		t->has_zone = true;
		t->offset = (s[i] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
	}
	return true;
}

/* A time as encoding/json writes it (RFC 3339 with nanoseconds, zeros trimmed). */
static int add_rfc3339(struct buf *out, const struct timestamp *t)
{
	int rc = buf_addf(out, "%04d-%02d-%02dT%02d:%02d:%02d", t->year, t->month, t->day, t->hour,
			  t->minute, t->second);

	if (t->nsec) {
		char frac[16];
		int n = snprintf(frac, sizeof(frac), "%09ld", t->nsec);

		while (n > 0 && frac[n - 1] == '0')
			n--;
		rc |= buf_addch(out, '.');
		rc |= buf_add(out, frac, (size_t)n);
	}
	if (t->offset == 0)
		return rc | buf_addch(out, 'Z');
	return rc | buf_addf(out, "%c%02d:%02d", t->offset < 0 ? '-' : '+', abs(t->offset) / 3600,
			     abs(t->offset) % 3600 / 60);
}

enum go_kind { GO_STRING, GO_OTHER, GO_INT, GO_UINT, GO_FLOAT, GO_TIMESTAMP };

struct go_value {
	enum go_kind kind;
	int64_t integer;
	uint64_t uinteger;
	double real;
	struct timestamp time;
};

/* Does s appear in a NULL-terminated list? */
static bool in_list(const char *s, size_t len, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == len && memcmp(s, *list, len) == 0)
			return true;
	return false;
}

/*
 * go-yaml's resolve() for an untagged plain scalar: v2 (yaml11 true) also
 * reads y/yes/on/n/no/off as booleans, v3 does not.
 */
static void go_resolve(const char *s, size_t len, bool yaml11, struct go_value *v)
{
	static const char *const common[] = {
		"true",	 "True",  "TRUE",  "false", "False", "FALSE", "~",    "null",
		"Null",	 "NULL",  ".nan",  ".NaN",  ".NAN",  ".inf",  ".Inf", ".INF",
		"+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", NULL,
	};
	static const char *const old_bools[] = {
		"y", "Y",  "yes", "Yes", "YES", "on",  "On",  "ON", "n",
		"N", "no", "No",  "NO",	 "off", "Off", "OFF", NULL,
	};
	char small[128];
	char *plain;
	size_t n = 0;
	bool negative;
	uint64_t u;

	memset(v, 0, sizeof(*v));
	v->kind = GO_STRING;
	/* every word in the lists has at most 5 bytes */
	if (len == 0 ||
	    (len <= 5 && (in_list(s, len, common) || (yaml11 && in_list(s, len, old_bools))))) {
		v->kind = GO_OTHER;
		return;
	}
	if (s[0] == '.') {
		if (go_parse_float(s, len, &v->real))
			v->kind = GO_FLOAT;
		return;
	}
	if (!(s[0] == '+' || s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return;
	if (go_timestamp(s, len, &v->time)) {
		v->kind = GO_TIMESTAMP;
		return;
	}
	plain = len < sizeof(small) ? small : xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		if (s[i] != '_')
			plain[n++] = s[i];
	plain[n] = '\0';
	if (go_parse_int(plain, n, true, &negative, &u)) {
		v->kind = GO_INT;
		v->integer = negative ? (int64_t)(0 - u) : (int64_t)u;
	} else if (go_parse_int(plain, n, false, &negative, &u)) {
		v->kind = GO_UINT;
		v->uinteger = u;
	} else if (yaml_match_float(plain, n) && go_parse_float(plain, n, &v->real)) {
		/* go-yaml's float pattern is the core schema's */
		v->kind = GO_FLOAT;
	}
	if (plain != small)
		free(plain);
}

/* go-yaml v2's isBase60Float: ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
static bool is_base60_float(const char *s, size_t len)
{
	size_t i = 0;
	int groups = 0;

	if (len == 0 || !memchr(s, ':', len))
		return false;
	if (s[i] == '+' || s[i] == '-')
		i++;
	if (i >= len || s[i] < '0' || s[i] > '9')
		return false;
	while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
		i++;
	while (i < len && s[i] == ':') {
		i++;
		if (i + 1 < len && s[i] >= '0' && s[i] <= '5' && s[i + 1] >= '0' && s[i + 1] <= '9')
			i += 2;
		else if (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		else
			return false;
		groups++;
	}
	if (!groups)
		return false;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			i++;
	}
	return i == len;
}

/*
 * True if s, written plain, would read back as something other than this
 * string: to go-yaml v2 (which also reads yes/no/on/off as booleans and
 * 1:20 as a number), or to plumb's own parser.
 */
static bool plain_changes_type(const char *s, size_t len)
{
	struct scalar_value core;
	struct go_value go;

	yaml_resolve_core(s, len, &core);
	if (core.type != NODE_STRING)
		return true;
	go_resolve(s, len, true, &go);
	return go.kind != GO_STRING || is_base60_float(s, len);
}

/* ---- the emitter ---- */

enum out_style { OUT_PLAIN, OUT_SINGLE, OUT_DOUBLE, OUT_LITERAL };

struct emitter {
	struct buf *out;
	unsigned flags;
	int rc;
	int indent;
	int column;
	bool whitespace;
	bool indention;
	bool root_context;
	bool mapping_context;
	bool simple_key_context;
	bool after_folded_plain; /* the last line continues a plain scalar */
	struct buf tmp;		 /* scratch for the text of numbers */
};

/* What yaml_emitter_analyze_scalar finds out about a scalar. */
struct analysis {
	bool multiline;
	bool block_plain_allowed;
	bool single_quoted_allowed;
	bool block_allowed;
	bool odd_breaks; /* CR, NEL, LS or PS: see pick_style */
	bool bad_utf8;
};

static unsigned char at(const char *s, size_t len, size_t i)
{
	return i < len ? (unsigned char)s[i] : 0;
}

/* The length of the UTF-8 sequence at s[i], 1 for a byte that starts none. */
static size_t char_width(const char *s, size_t len, size_t i)
{
	unsigned char c = at(s, len, i);
	size_t w = c < 0x80		? 1
		   : (c & 0xE0) == 0xC0 ? 2
		   : (c & 0xF0) == 0xE0 ? 3
		   : (c & 0xF8) == 0xF0 ? 4
					: 1;

	if (i + w > len)
		return 1;
	for (size_t k = 1; k < w; k++)
		if ((at(s, len, i + k) & 0xC0) != 0x80)
			return 1;
	return w;
}

static bool is_valid_char(const char *s, size_t len, size_t i)
{
	unsigned char c = at(s, len, i);

	return c < 0x80 || ((c & 0xC0) == 0xC0 && char_width(s, len, i) > 1);
}

static bool is_break_at(const char *s, size_t len, size_t i)
{
	unsigned char c = at(s, len, i), c1 = at(s, len, i + 1), c2 = at(s, len, i + 2);

	return c == '\r' || c == '\n' || (c == 0xC2 && c1 == 0x85) ||
	       (c == 0xE2 && c1 == 0x80 && (c2 == 0xA8 || c2 == 0xA9));
}

static bool is_space_at(const char *s, size_t len, size_t i)
{
	return at(s, len, i) == ' ';
}

static bool is_blank_at(const char *s, size_t len, size_t i)
{
	return at(s, len, i) == ' ' || at(s, len, i) == '\t';
}

static bool is_blankz_at(const char *s, size_t len, size_t i)
{
	return i >= len || is_blank_at(s, len, i) || is_break_at(s, len, i) || at(s, len, i) == 0;
}

static bool is_printable_at(const char *s, size_t len, size_t i)
{
	unsigned char c = at(s, len, i), c1 = at(s, len, i + 1), c2 = at(s, len, i + 2);

	return c == 0x0A || (c >= 0x20 && c <= 0x7E) || (c == 0xC2 && c1 >= 0xA0) ||
	       (c > 0xC2 && c < 0xED) || (c == 0xED && c1 < 0xA0) || c == 0xEE ||
	       (c == 0xEF && !(c1 == 0xBB && c2 == 0xBF) &&
		!(c1 == 0xBF && (c2 == 0xBE || c2 == 0xBF)));
}

static void analyze(const char *s, size_t len, struct analysis *a)
{
	bool block_indicators = false, line_breaks = false, special = false;
	bool leading_space = false, leading_break = false, trailing_space = false;
	bool trailing_break = false, break_space = false, space_break = false;
	bool preceded_by_whitespace = true, previous_space = false, previous_break = false;

	memset(a, 0, sizeof(*a));
	if (len == 0) {
		a->block_plain_allowed = true;
		a->single_quoted_allowed = true;
		return;
	}
	if (len >= 3 && (memcmp(s, "---", 3) == 0 || memcmp(s, "...", 3) == 0))
		block_indicators = true;
	for (size_t i = 0, w; i < len; i += w) {
		unsigned char c = (unsigned char)s[i];
		bool followed_by_whitespace;

		w = char_width(s, len, i);
		followed_by_whitespace = i + w >= len || is_blank_at(s, len, i + w);
		if (!is_valid_char(s, len, i))
			a->bad_utf8 = true;
		if (c == '\r' || (c != '\n' && is_break_at(s, len, i)))
			a->odd_breaks = true;
		if (i == 0) {
			switch (c) {
			case '#':
			case ',':
			case '[':
			case ']':
			case '{':
			case '}':
			case '&':
			case '*':
			case '!':
			case '|':
			case '>':
			case '\'':
			case '"':
			case '%':
			case '@':
			case '`':
				block_indicators = true;
				break;
			case '?':
			case ':':
			case '-':
				if (followed_by_whitespace)
					block_indicators = true;
				break;
			}
		} else {
			if (c == ':' && followed_by_whitespace)
				block_indicators = true;
			if (c == '#' && preceded_by_whitespace)
				block_indicators = true;
		}
		if (!is_printable_at(s, len, i))
			special = true;
		if (is_space_at(s, len, i)) {
			if (i == 0)
				leading_space = true;
			if (i + w == len)
				trailing_space = true;
			if (previous_break)
				break_space = true;
			previous_space = true;
			previous_break = false;
		} else if (is_break_at(s, len, i)) {
			line_breaks = true;
			if (i == 0)
				leading_break = true;
			if (i + w == len)
				trailing_break = true;
			if (previous_space)
				space_break = true;
			previous_space = false;
			previous_break = true;
		} else {
			previous_space = false;
			previous_break = false;
		}
		preceded_by_whitespace = is_blankz_at(s, len, i);
	}
	a->multiline = line_breaks;
	a->block_plain_allowed = true;
	a->single_quoted_allowed = true;
	a->block_allowed = true;
	if (leading_space || leading_break || trailing_space || trailing_break)
		a->block_plain_allowed = false;
	if (trailing_space)
		a->block_allowed = false;
	if (break_space) {
		a->block_plain_allowed = false;
		a->single_quoted_allowed = false;
	}
	if (space_break || special) {
		a->block_plain_allowed = false;
		a->single_quoted_allowed = false;
		a->block_allowed = false;
	}
	if (line_breaks || block_indicators)
		a->block_plain_allowed = false;
}

static void put(struct emitter *e, char c)
{
	e->rc |= buf_addch(e->out, c);
	e->column++;
}

static void put_break(struct emitter *e)
{
	e->rc |= buf_addch(e->out, '\n');
	e->column = 0;
}

/* Copies the character at s[*i]. */
static void write_char(struct emitter *e, const char *s, size_t len, size_t *i)
{
	size_t w = char_width(s, len, *i);

	e->rc |= buf_add(e->out, s + *i, w);
	e->column++;
	*i += w;
}

static void write_str(struct emitter *e, const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len;)
		write_char(e, s, len, &i);
}

static void write_break(struct emitter *e, const char *s, size_t len, size_t *i)
{
	if (s[*i] == '\n') {
		put_break(e);
		(*i)++;
	} else {
		write_char(e, s, len, i);
		e->column = 0;
	}
}

static void write_indent(struct emitter *e)
{
	int indent = e->indent >= 0 ? e->indent : 0;

	if (!e->indention || e->column > indent || (e->column == indent && !e->whitespace))
		put_break(e);
	while (e->column < indent)
		put(e, ' ');
	e->whitespace = true;
	e->indention = true;
}

static void write_indicator(struct emitter *e, const char *indicator, bool need_whitespace,
			    bool is_whitespace, bool is_indention)
{
	if (need_whitespace && !e->whitespace)
		put(e, ' ');
	write_str(e, indicator);
	e->after_folded_plain = false;
	e->whitespace = is_whitespace;
	e->indention = e->indention && is_indention;
}

static int increase_indent(struct emitter *e, bool flow, bool indentless)
{
	int saved = e->indent;

	if (e->indent < 0)
		e->indent = flow ? BEST_INDENT : 0;
	else if (!indentless)
		e->indent += BEST_INDENT;
	return saved;
}

static void write_plain(struct emitter *e, const char *s, size_t len, bool allow_breaks)
{
	bool spaces = false;
	size_t chars = 0;

	if (!e->whitespace)
		put(e, ' ');
	for (size_t i = 0; i < len; i++)
		chars += ((unsigned char)s[i] & 0xC0) != 0x80;
	if ((size_t)e->column + chars <= BEST_WIDTH + 1) {
		/* no space can come past the width: nothing to fold */
		e->rc |= buf_add(e->out, s, len);
		e->column += (int)chars;
		e->whitespace = false;
		e->indention = false;
		return;
	}
	for (size_t i = 0; i < len;) {
		if (is_space_at(s, len, i)) {
			if (allow_breaks && !spaces && e->column > BEST_WIDTH &&
			    !is_space_at(s, len, i + 1)) {
				write_indent(e);
				e->after_folded_plain = true;
				i++;
			} else {
				write_char(e, s, len, &i);
			}
			spaces = true;
		} else {
			/* no line breaks: they rule out the plain style */
			write_char(e, s, len, &i);
			e->indention = false;
			spaces = false;
		}
	}
	e->whitespace = false;
	e->indention = false;
}

static void write_single(struct emitter *e, const char *s, size_t len, bool allow_breaks)
{
	bool spaces = false, breaks = false;

	write_indicator(e, "'", true, false, false);
	for (size_t i = 0; i < len;) {
		if (is_space_at(s, len, i)) {
			if (allow_breaks && !spaces && e->column > BEST_WIDTH && i > 0 &&
			    i < len - 1 && !is_space_at(s, len, i + 1)) {
				write_indent(e);
				i++;
			} else {
				write_char(e, s, len, &i);
			}
			spaces = true;
		} else if (is_break_at(s, len, i)) {
			if (!breaks && s[i] == '\n')
				put_break(e);
			write_break(e, s, len, &i);
			e->indention = true;
			breaks = true;
		} else {
			if (breaks)
				write_indent(e);
			if (s[i] == '\'')
				put(e, '\'');
			write_char(e, s, len, &i);
			e->indention = false;
			spaces = false;
			breaks = false;
		}
	}
	write_indicator(e, "'", false, false, false);
	e->whitespace = false;
	e->indention = false;
}

static void write_escape(struct emitter *e, uint32_t v)
{
	static const char hex[] = "0123456789ABCDEF";
	char c = 0;
	int digits;

	put(e, '\\');
	switch (v) {
	case 0x00:
		c = '0';
		break;
	case 0x07:
		c = 'a';
		break;
	case 0x08:
		c = 'b';
		break;
	case 0x09:
		c = 't';
		break;
	case 0x0A:
		c = 'n';
		break;
	case 0x0B:
		c = 'v';
		break;
	case 0x0C:
		c = 'f';
		break;
	case 0x0D:
		c = 'r';
		break;
	case 0x1B:
		c = 'e';
		break;
	case 0x22:
		c = '"';
		break;
	case 0x5C:
		c = '\\';
		break;
	case 0x85:
		c = 'N';
		break;
	case 0xA0:
		c = '_';
		break;
	case 0x2028:
		c = 'L';
		break;
	case 0x2029:
		c = 'P';
		break;
	}
	if (c) {
		put(e, c);
		return;
	}
	if (v <= 0xFF) {
		put(e, 'x');
		digits = 2;
	} else if (v <= 0xFFFF) {
		put(e, 'u');
		digits = 4;
	} else {
		put(e, 'U');
		digits = 8;
	}
	for (int k = (digits - 1) * 4; k >= 0; k -= 4)
		put(e, hex[(v >> k) & 0xF]);
}

/* Decodes the character at s[*i]; a byte that starts no valid sequence stands for itself. */
static uint32_t decode_char(const char *s, size_t len, size_t *i)
{
	size_t w = char_width(s, len, *i);
	unsigned char c = (unsigned char)s[*i];
	uint32_t v;

	if (w == 1) {
		(*i)++;
		return c;
	}
	v = c & (w == 2 ? 0x1F : w == 3 ? 0x0F : 0x07);
	for (size_t k = 1; k < w; k++)
		v = (v << 6) | ((unsigned char)s[*i + k] & 0x3F);
	*i += w;
	return v;
}

static void write_double(struct emitter *e, const char *s, size_t len, bool allow_breaks)
{
	/* go-yaml's is_bom() looks at the start of the string, not at i */
	bool bom = len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0;
	bool spaces = false;

	write_indicator(e, "\"", true, false, false);
	for (size_t i = 0; i < len;) {
		if (!is_printable_at(s, len, i) || !is_valid_char(s, len, i) || bom ||
		    is_break_at(s, len, i) || s[i] == '"' || s[i] == '\\') {
			write_escape(e, decode_char(s, len, &i));
			spaces = false;
		} else if (is_space_at(s, len, i)) {
			if (allow_breaks && !spaces && e->column > BEST_WIDTH && i > 0 &&
			    i < len - 1) {
				write_indent(e);
				if (is_space_at(s, len, i + 1))
					put(e, '\\');
				i++;
			} else {
				write_char(e, s, len, &i);
			}
			spaces = true;
		} else {
			write_char(e, s, len, &i);
			spaces = false;
		}
	}
	write_indicator(e, "\"", false, false, false);
	e->whitespace = false;
	e->indention = false;
}

static void write_block_hints(struct emitter *e, const char *s, size_t len)
{
	char chomp = 0;

	if (is_space_at(s, len, 0) || is_break_at(s, len, 0))
		write_indicator(e, "2", false, false, false);
	if (len == 0) {
		chomp = '-';
	} else {
		size_t i = len - 1;

		while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
			i--;
		if (!is_break_at(s, len, i)) {
			chomp = '-';
		} else if (i == 0) {
			chomp = '+';
		} else {
			i--;
			while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
				i--;
			if (is_break_at(s, len, i))
				chomp = '+';
		}
	}
	if (chomp) {
		char hint[2] = {chomp, 0};

		write_indicator(e, hint, false, false, false);
	}
}

static void write_literal(struct emitter *e, const char *s, size_t len)
{
	bool breaks = true;

	write_indicator(e, "|", true, false, false);
	write_block_hints(e, s, len);
	put_break(e);
	e->indention = true;
	e->whitespace = true;
	for (size_t i = 0; i < len;) {
		if (is_break_at(s, len, i)) {
			write_break(e, s, len, &i);
			e->indention = true;
			breaks = true;
		} else {
			if (breaks)
				write_indent(e);
			write_char(e, s, len, &i);
			e->indention = false;
			breaks = false;
		}
	}
}

/*
 * yaml_emitter_select_scalar_style, for block context. Two departures from
 * go-yaml, both so that the output reads back as the same string: text with
 * CR, NEL, LS or PS (which go-yaml would write raw, and a reader would turn
 * into line feeds) and text that is not UTF-8 (go-yaml: !!binary) are
 * double-quoted with escapes.
 */
static enum out_style pick_style(struct emitter *e, const struct analysis *a, size_t len,
				 enum out_style style)
{
	if (a->odd_breaks || a->bad_utf8)
		return OUT_DOUBLE;
	if (e->simple_key_context && a->multiline)
		style = OUT_DOUBLE;
	if (style == OUT_PLAIN) {
		if (!a->block_plain_allowed)
			style = OUT_SINGLE;
		if (len == 0 && e->simple_key_context)
			style = OUT_SINGLE;
	}
	if (style == OUT_SINGLE && !a->single_quoted_allowed)
		style = OUT_DOUBLE;
	if (style == OUT_LITERAL && (!a->block_allowed || e->simple_key_context))
		style = OUT_DOUBLE;
	return style;
}

/* Writes one scalar: text, in the style go-yaml's encoder asks for, adjusted. */
static void emit_scalar(struct emitter *e, const char *s, size_t len, enum out_style requested,
			const struct analysis *a)
{
	enum out_style style = pick_style(e, a, len, requested);
	int saved = increase_indent(e, true, false);
	bool allow_breaks = !e->simple_key_context;

	e->after_folded_plain = false;
	switch (style) {
	case OUT_PLAIN:
		write_plain(e, s, len, allow_breaks);
		break;
	case OUT_SINGLE:
		write_single(e, s, len, allow_breaks);
		break;
	case OUT_DOUBLE:
		write_double(e, s, len, allow_breaks);
		break;
	case OUT_LITERAL:
		write_literal(e, s, len);
		break;
	}
	e->indent = saved;
}

/* go-yaml's stringv: literal if multi-line, plain if that reads back as this string. */
static enum out_style string_style(const char *s, size_t len)
{
	if (memchr(s, '\n', len))
		return OUT_LITERAL;
	if (!plain_changes_type(s, len))
		return OUT_PLAIN;
	return OUT_DOUBLE;
}

/* Text of a scalar that is not a string, into tmp; returns false if it is a string. */
/*
 * True if go-yaml v2 reads text as the float value. For NaN and infinities the
 * caller has checked that the text is one of the core schema's names, which
 * go-yaml reads alike.
 */
static bool go_float_text(const char *s, size_t len, double value)
{
	struct go_value go;

	if (!isfinite(value))
		return true;
	go_resolve(s, len, true, &go);
	return go.kind == GO_FLOAT && go.real == value;
}

static bool scalar_text(struct emitter *e, const struct node *n, struct buf *tmp)
{
	struct scalar_value core;
	struct go_value go = {0};

	buf_reset(tmp);
	if (e->flags & YAML_EMIT_NORMALIZE) {
		/* a plain scalar from the input is re-read the way go-yaml v3 reads it */
		bool plain = n->style == STYLE_PLAIN && n->line != 0 && n->str;

		if (plain &&
		    (n->type == NODE_INT || n->type == NODE_FLOAT || n->type == NODE_STRING)) {
			go_resolve(n->str, n->len, false, &go);
			switch (go.kind) {
			case GO_INT:
				e->rc |= buf_addf(tmp, "%" PRId64, go.integer);
				return true;
			case GO_UINT:
				e->rc |= buf_addf(tmp, "%" PRIu64, go.uinteger);
				return true;
			case GO_FLOAT:
				e->rc |= kustomize_float(go.real, tmp);
				return true;
			case GO_TIMESTAMP:
				e->rc |= add_rfc3339(tmp, &go.time);
				return false;
			default:
				break;
			}
		}
		switch (n->type) {
		case NODE_INT:
			e->rc |= buf_addf(tmp, "%" PRId64, n->as.integer);
			return true;
		case NODE_FLOAT:
			e->rc |= kustomize_float(n->as.real, tmp);
			return true;
		default:
			break;
		}
	}
	switch (n->type) {
	case NODE_NULL:
		e->rc |= buf_addstr(tmp, "null");
		return true;
	case NODE_BOOL:
		e->rc |= buf_addstr(tmp, n->as.boolean ? "true" : "false");
		return true;
	case NODE_INT:
		/* the text as written, if plumb and go-yaml v2 both read it as this number */
		yaml_resolve_core(n->str ? n->str : "", n->str ? n->len : 0, &core);
		if (n->str)
			go_resolve(n->str, n->len, true, &go);
		if (core.type == NODE_INT && core.integer == n->as.integer && go.kind == GO_INT &&
		    go.integer == n->as.integer)
			e->rc |= buf_add(tmp, n->str, n->len);
		else
			e->rc |= buf_addf(tmp, "%" PRId64, n->as.integer);
		return true;
	case NODE_FLOAT: {
		static const char *const yaml_nan_inf[3] = {".nan", ".inf", "-.inf"};

		yaml_resolve_core(n->str ? n->str : "", n->str ? n->len : 0, &core);
		if (core.type == NODE_FLOAT && n->str &&
		    (core.real == n->as.real || (isnan(core.real) && isnan(n->as.real))) &&
		    go_float_text(n->str, n->len, n->as.real))
			e->rc |= buf_add(tmp, n->str, n->len);
		else
			e->rc |= yaml_add_float(tmp, n->as.real, yaml_nan_inf);
		return true;
	}
	default:
		e->rc |= buf_add(tmp, n->str ? n->str : "", n->str ? n->len : 0);
		return false;
	}
}

static void emit_node(struct emitter *e, const struct node *n, bool root, bool mapping,
		      bool simple_key);

static void emit_text_node(struct emitter *e, const struct node *n)
{
	struct analysis a;
	bool other;
	const char *s;
	size_t len;

	if (n->type == NODE_STRING && !(e->flags & YAML_EMIT_NORMALIZE)) {
		s = n->str ? n->str : "";
		len = n->str ? n->len : 0;
		other = false;
	} else {
		other = scalar_text(e, n, &e->tmp);
		s = e->tmp.data ? e->tmp.data : "";
		len = e->tmp.len;
	}
	analyze(s, len, &a);
	emit_scalar(e, s, len, other ? OUT_PLAIN : string_style(s, len), &a);
}

/* go-yaml v2's keyList.Less, for keys that are all strings. */
struct sort_key {
	const struct node_pair *pair;
	uint32_t *runes;
	size_t count;
};

static bool rune_is_digit(uint32_t r)
{
	return r >= '0' && r <= '9';
}

/*
 * unicode.IsLetter, exactly for ASCII and Latin-1, roughly above: non-ASCII
 * runes count as letters except for the punctuation, symbol and emoji blocks.
 */
static bool rune_is_letter(uint32_t r)
{
	if (r < 0x80)
		return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
	if (r < 0xC0)
		return r == 0xAA || r == 0xB5 || r == 0xBA;
	if (r == 0xD7 || r == 0xF7)
		return false;
	if ((r >= 0x2000 && r <= 0x2BFF) || (r >= 0x3000 && r <= 0x303F) ||
	    (r >= 0xE000 && r <= 0xF8FF) || (r >= 0xFE00 && r <= 0xFE6F) ||
	    (r >= 0xFF00 && r <= 0xFF20) || (r >= 0x1F000 && r <= 0x1FAFF) ||
	    (r >= 0x300 && r <= 0x36F))
		return false;
	return true;
}

static bool key_less(const struct sort_key *x, const struct sort_key *y)
{
	const uint32_t *ar = x->runes, *br = y->runes;
	size_t alen = x->count, blen = y->count;

	for (size_t i = 0; i < alen && i < blen; i++) {
		bool al, bl;
		uint64_t an = 0, bn = 0;
		size_t ai, bi;

		if (ar[i] == br[i])
			continue;
		al = rune_is_letter(ar[i]);
		bl = rune_is_letter(br[i]);
		if (al && bl)
			return ar[i] < br[i];
		if (al || bl)
			return bl;
		if (ar[i] == '0' || br[i] == '0') {
			for (size_t j = i; j > 0 && rune_is_digit(ar[j - 1]); j--) {
				if (ar[j - 1] != '0') {
					an = 1;
					bn = 1;
					break;
				}
			}
		}
		for (ai = i; ai < alen && rune_is_digit(ar[ai]); ai++)
			an = an * 10 + (ar[ai] - '0');
		for (bi = i; bi < blen && rune_is_digit(br[bi]); bi++)
			bn = bn * 10 + (br[bi] - '0');
		if (an != bn)
			return (int64_t)an < (int64_t)bn;
		if (ai != bi)
			return ai < bi;
		return ar[i] < br[i];
	}
	return alen < blen;
}

static int compare_keys(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;

	if (key_less(x, y))
		return -1;
	if (key_less(y, x))
		return 1;
	return x->pair < y->pair ? -1 : x->pair > y->pair;
}

static struct sort_key *sorted_pairs(const struct node *n)
{
	struct sort_key *keys = xcalloc(n->count, sizeof(*keys));

	for (size_t i = 0; i < n->count; i++) {
		const struct node *key = n->pairs[i].key;
		const char *s = key->str ? key->str : "";
		size_t len = key->str ? key->len : 0;

		keys[i].pair = &n->pairs[i];
		keys[i].runes = xcalloc(len ? len : 1, sizeof(uint32_t));
		for (size_t k = 0; k < len;)
			keys[i].runes[keys[i].count++] = decode_char(s, len, &k);
	}
	qsort(keys, n->count, sizeof(*keys), compare_keys);
	return keys;
}

static void emit_pair(struct emitter *e, const struct node_pair *pair)
{
	const struct node *key = pair->key;
	const char *s = key->str ? key->str : "";
	size_t len = key->str ? key->len : 0;
	enum out_style style;
	struct analysis a;
	bool simple;

	write_indent(e);
	analyze(s, len, &a);
	simple = !a.multiline && len <= SIMPLE_KEY_MAX;
	style = string_style(s, len);
	/* go-yaml writes a key "<<" plain, which reads back as a merge key: quote it */
	if (len == 2 && memcmp(s, "<<", 2) == 0)
		style = OUT_DOUBLE;
	/*
	 * libfyaml 0.7.12 rejects a line that starts with a plain ":x" right
	 * after the continuation of a folded plain scalar: quote such keys
	 */
	if (e->after_folded_plain && len && s[0] == ':' && style == OUT_PLAIN)
		style = OUT_SINGLE;
	e->root_context = false;
	e->mapping_context = true;
	e->simple_key_context = simple;
	if (simple) {
		emit_scalar(e, s, len, style, &a);
		write_indicator(e, ":", false, false, false);
	} else {
		write_indicator(e, "?", true, false, true);
		emit_scalar(e, s, len, style, &a);
		write_indent(e);
		write_indicator(e, ":", true, false, true);
	}
	emit_node(e, pair->value, false, true, false);
}

static void emit_node(struct emitter *e, const struct node *n, bool root, bool mapping,
		      bool simple_key)
{
	int saved;

	e->root_context = root;
	e->mapping_context = mapping;
	e->simple_key_context = simple_key;
	switch (n->type) {
	case NODE_SEQ:
		if (n->count == 0) {
			write_indicator(e, "[", true, true, false);
			write_indicator(e, "]", false, false, false);
			return;
		}
		saved = increase_indent(e, false, e->mapping_context && !e->indention);
		for (size_t i = 0; i < n->count; i++) {
			write_indent(e);
			write_indicator(e, "-", true, false, true);
			emit_node(e, n->items[i], false, false, false);
		}
		e->indent = saved;
		return;
	case NODE_MAP:
		if (n->count == 0) {
			write_indicator(e, "{", true, true, false);
			write_indicator(e, "}", false, false, false);
			return;
		}
		saved = increase_indent(e, false, false);
		if (e->flags & YAML_EMIT_SORT_KEYS) {
			struct sort_key *keys = sorted_pairs(n);

			for (size_t i = 0; i < n->count; i++)
				emit_pair(e, keys[i].pair);
			for (size_t i = 0; i < n->count; i++)
				free(keys[i].runes);
			free(keys);
		} else {
			for (size_t i = 0; i < n->count; i++)
				emit_pair(e, &n->pairs[i]);
		}
		e->indent = saved;
		return;
	default:
		emit_text_node(e, n);
		return;
	}
}

int node_emit_yaml_flags(const struct node *n, unsigned flags, struct buf *out)
{
	struct emitter e = {0};

	e.out = out;
	e.flags = flags;
	e.indent = -1;
	e.whitespace = true;
	e.indention = true;
	emit_node(&e, n, true, false, false);
	/* the document end: finish the last line */
	write_indent(&e);
	buf_release(&e.tmp);
	return e.rc ? ERR_TOOBIG : 0;
}

int node_emit_yaml(const struct node *n, struct buf *out)
{
	return node_emit_yaml_flags(n, 0, out);
}
