/*
 * Semantic versions (semver 2.0.0) and npm-style version ranges, used to pick
 * the highest tag that satisfies a `semver:` ref.
 *
 * A range is one or more comparator sets joined by "||"; a set is terms joined
 * by whitespace (or commas, as Flux writes them). Each term turns into at most
 * two plain comparators (op, version), the way npm's node-semver desugars them:
 * "~1.2" is ">=1.2.0 <1.3.0-0", "^0.2.3" is ">=0.2.3 <0.3.0-0", "1.x" is
 * ">=1.0.0 <2.0.0-0". Evaluation needs no allocation: versions inside a range
 * are slices of the range string.
 */
#include "source.h"

#include <stdlib.h>
#include <string.h>

/* A version whose pre-release is a slice (empty when there is none). */
struct version {
	uint64_t major, minor, patch;
	struct str prerelease;
};

/* A version as written in a range: "1", "1.2", "1.2.x", "*", "1.2.3-rc.1". */
struct partial {
	uint64_t num[3];
	int parts; /* how many numbers were given; the rest are wildcards */
	struct str prerelease;
};

enum op { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE, OP_TILDE, OP_CARET, OP_NONE };

struct comparator {
	enum op op; /* OP_EQ, OP_LT, OP_LE, OP_GT or OP_GE */
	struct version v;
	bool synthetic; /* an upper bound we made up ("<2.0.0-0"), not one the user named */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static bool all_digits(struct str s)
{
	for (size_t i = 0; i < s.len; i++) {
		if (!is_digit(s.ptr[i]))
			return false;
	}
	return s.len > 0;
}

/* Parses a numeric part without leading zeros at s[*pos], advancing *pos. */
static bool parse_number(struct str s, size_t *pos, uint64_t *out)
{
	size_t start = *pos;
	uint64_t n = 0;

	while (*pos < s.len && is_digit(s.ptr[*pos])) {
		unsigned d = (unsigned)(s.ptr[*pos] - '0');

		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
		(*pos)++;
	}
	if (*pos == start)
		return false;
	if (s.ptr[start] == '0' && *pos - start > 1)
		return false;
	*out = n;
	return true;
}

/*
 * Whether s is a valid dot-separated list of identifiers: non-empty, made of
 * [0-9A-Za-z-]; with `strict_numbers`, numeric identifiers have no leading zero
 * (pre-release rules; build metadata allows them).
 */
static bool valid_identifiers(struct str s, bool strict_numbers)
{
	struct str rest = s, ident;

	if (s.len == 0)
		return false;
	while (rest.len) {
		bool more = str_cut(rest, '.', &ident, &rest);

		if (ident.len == 0 || (more && rest.len == 0))
			return false;
		for (size_t i = 0; i < ident.len; i++) {
			if (!is_ident_char(ident.ptr[i]))
				return false;
		}
		if (strict_numbers && all_digits(ident) && ident.len > 1 && ident.ptr[0] == '0')
			return false;
	}
	return true;
}

/*
 * Parses a version into p. With allow_partial, trailing numbers may be left
 * out or written as x, X or * ("1", "1.2.x", "*"); a pre-release needs all
 * three numbers. A leading 'v' is accepted. Build metadata is checked and
 * dropped.
 */
static bool parse_partial(struct str s, bool allow_partial, struct partial *p)
{
	size_t pos = 0;
	bool wildcard = false;

	memset(p, 0, sizeof(*p));
	if (pos < s.len && (s.ptr[pos] == 'v' || s.ptr[pos] == 'V'))
		pos++;
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (pos == s.len && allow_partial)
				break;
			if (pos == s.len || s.ptr[pos] != '.')
				return false;
			pos++;
		}
		if (pos < s.len && (s.ptr[pos] == 'x' || s.ptr[pos] == 'X' || s.ptr[pos] == '*')) {
			if (!allow_partial)
				return false;
			wildcard = true;
			pos++;
			continue;
		}
		/* After a wildcard, only wildcards: "1.x.3" says two things at once. */
		if (wildcard || !parse_number(s, &pos, &p->num[i]))
			return false;
		p->parts = i + 1;
	}
	if (pos < s.len && s.ptr[pos] == '-') {
		size_t start = ++pos;

		while (pos < s.len && s.ptr[pos] != '+')
			pos++;
		p->prerelease = str_make(s.ptr + start, pos - start);
		if (p->parts != 3 || !valid_identifiers(p->prerelease, true))
			return false;
	}
	if (pos < s.len && s.ptr[pos] == '+') {
		pos++;
		if (p->parts != 3 || !valid_identifiers(str_make(s.ptr + pos, s.len - pos), false))
			return false;
		pos = s.len;
	}
	return pos == s.len;
}

int semver_parse(const char *s, struct semver *out)
{
	struct partial p;

	memset(out, 0, sizeof(*out));
	if (!s || !parse_partial(str_from(s), false, &p) || p.parts != 3)
		return ERR_INVALID;
	out->major = p.num[0];
	out->minor = p.num[1];
	out->patch = p.num[2];
	if (p.prerelease.len)
		out->prerelease = str_dup(p.prerelease);
	return 0;
}

void semver_release(struct semver *v)
{
	if (!v)
		return;
	FREE_AND_NULL(v->prerelease);
	v->major = v->minor = v->patch = 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Compares two pre-release identifiers: numbers numerically, below any text. */
static int identifier_cmp(struct str a, struct str b)
{
	bool a_num = all_digits(a), b_num = all_digits(b);
	int c;

	if (a_num && b_num) {
		/* No leading zeros, so a longer number is a larger one; this also
		 * works for numbers wider than 64 bits. */
		if (a.len != b.len)
			return a.len < b.len ? -1 : 1;
		c = memcmp(a.ptr, b.ptr, a.len);
		return c < 0 ? -1 : c > 0;
	}
	if (a_num != b_num)
		return a_num ? -1 : 1;
	c = str_cmp(a, b);
	return c < 0 ? -1 : c > 0;
}

/* semver 2.0 §11: a version without pre-release ranks above one with it;
 * otherwise identifiers compare left to right and a longer list wins ties. */
static int prerelease_cmp(struct str a, struct str b)
{
	struct str ia, ib;

	if (a.len == 0 || b.len == 0)
		return a.len == b.len ? 0 : a.len == 0 ? 1 : -1;
	while (a.len && b.len) {
		int c;

		str_cut(a, '.', &ia, &a);
		str_cut(b, '.', &ib, &b);
		c = identifier_cmp(ia, ib);
		if (c)
			return c;
	}
	return a.len == b.len ? 0 : a.len ? 1 : -1;
}

static int version_cmp(const struct version *a, const struct version *b)
{
	int c = cmp_u64(a->major, b->major);

	if (!c)
		c = cmp_u64(a->minor, b->minor);
	if (!c)
		c = cmp_u64(a->patch, b->patch);
	if (!c)
		c = prerelease_cmp(a->prerelease, b->prerelease);
	return c;
}

static struct version version_of(const struct semver *v)
{
	struct version out = {v->major, v->minor, v->patch,
			      str_from(v->prerelease ? v->prerelease : "")};

	return out;
}

int semver_cmp(const struct semver *a, const struct semver *b)
{
	struct version va = version_of(a), vb = version_of(b);

	return version_cmp(&va, &vb);
}

/* ---- ranges ---- */

struct range_ctx {
	const char *range;
	struct error *err;
	const struct version *v;
	bool set_ok;	    /* every comparator so far holds */
	bool prerelease_ok; /* a comparator names a pre-release of v's major.minor.patch */
	bool never;	    /* a term nothing satisfies (">*") */
};

/* Fails with ERR_INVALID, naming the range and what is wrong with it. */
static int PRINTF_LIKE(2, 3) range_invalid(struct range_ctx *ctx, const char *fmt, ...)
{
	struct buf reason = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&reason, fmt, ap);
	va_end(ap);
	error_set(ctx->err, ERR_INVALID, "invalid version range '%s': %s", ctx->range,
		  reason.data ? reason.data : "");
	buf_release(&reason);
	return ERR_INVALID;
}

/* Applies one comparator to the version under test. */
static void check(struct range_ctx *ctx, enum op op, struct version bound, bool synthetic)
{
	int c = version_cmp(ctx->v, &bound);
	bool ok = false;

	switch (op) {
	case OP_EQ:
		ok = c == 0;
		break;
	case OP_LT:
		ok = c < 0;
		break;
	case OP_LE:
		ok = c <= 0;
		break;
	case OP_GT:
		ok = c > 0;
		break;
	case OP_GE:
		ok = c >= 0;
		break;
	default:
		break;
	}
	if (!ok)
		ctx->set_ok = false;
	if (!synthetic && bound.prerelease.len && bound.major == ctx->v->major &&
	    bound.minor == ctx->v->minor && bound.patch == ctx->v->patch)
		ctx->prerelease_ok = true;
}

/* The lowest version a partial stands for: "1.2" -> 1.2.0. */
static struct version low(const struct partial *p)
{
	struct version v = {p->num[0], p->num[1], p->num[2], p->prerelease};

	return v;
}

/*
 * The exclusive upper bound "<X-0" that ends the versions sharing the first
 * `keep` numbers of p: keep 1 with 1.2.3 gives 2.0.0-0, keep 2 gives 1.3.0-0,
 * keep 3 gives 1.2.4-0. Applies it unless the number would overflow (then there
 * is no upper bound).
 */
static void check_below_next(struct range_ctx *ctx, const struct partial *p, int keep)
{
	struct version next = {0, 0, 0, STR_LIT("0")};

	if (p->num[keep - 1] == UINT64_MAX)
		return;
	next.major = p->num[0];
	if (keep >= 2)
		next.minor = p->num[1];
	if (keep >= 3)
		next.patch = p->num[2];
	if (keep == 1)
		next.major++;
	else if (keep == 2)
		next.minor++;
	else
		next.patch++;
	check(ctx, OP_LT, next, true);
}

/* Turns one term (an operator and a partial version) into comparators and applies them. */
static void check_term(struct range_ctx *ctx, enum op op, const struct partial *p)
{
	int parts = p->parts;

	if (parts == 0) {
		/* "*", ">=*", "~*" and friends allow everything; ">*" and "<*" nothing. */
		if (op == OP_GT || op == OP_LT)
			ctx->never = true;
		return;
	}
	switch (op) {
	case OP_NONE:
	case OP_EQ:
		if (parts == 3) {
			check(ctx, OP_EQ, low(p), false);
		} else {
			check(ctx, OP_GE, low(p), false);
			check_below_next(ctx, p, parts);
		}
		break;
	case OP_GT:
		if (parts == 3) {
			check(ctx, OP_GT, low(p), false);
		} else {
			/* ">1.2" is ">=1.3.0": anything above every 1.2.x */
			struct partial above = *p;

			if (above.num[parts - 1] == UINT64_MAX) {
				ctx->never = true;
				break;
			}
			above.num[parts - 1]++;
			check(ctx, OP_GE, low(&above), false);
		}
		break;
	case OP_GE:
		check(ctx, OP_GE, low(p), false);
		break;
	case OP_LT:
		if (parts == 3) {
			check(ctx, OP_LT, low(p), false);
		} else {
			struct version bound = low(p);

			bound.prerelease = STR_LIT("0");
			check(ctx, OP_LT, bound, true);
		}
		break;
	case OP_LE:
		if (parts == 3)
			check(ctx, OP_LE, low(p), false);
		else
			check_below_next(ctx, p, parts);
		break;
	case OP_TILDE:
		check(ctx, OP_GE, low(p), false);
		check_below_next(ctx, p, parts == 1 ? 1 : 2);
		break;
	case OP_CARET:
		check(ctx, OP_GE, low(p), false);
		/* The first non-zero number given is the one that may not change. */
		if (p->num[0] > 0 || parts == 1)
			check_below_next(ctx, p, 1);
		else if (p->num[1] > 0 || parts == 2)
			check_below_next(ctx, p, 2);
		else
			check_below_next(ctx, p, 3);
		break;
	}
}

/* The upper end of a hyphen range "A - B": B inclusive, "1.2.3 - 2.3" is "<2.4.0-0". */
static void check_hyphen_high(struct range_ctx *ctx, const struct partial *high)
{
	if (high->parts == 0)
		return;
	if (high->parts == 3)
		check(ctx, OP_LE, low(high), false);
	else
		check_below_next(ctx, high, high->parts);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',';
}

/* The next whitespace-separated token of s at *pos; false at the end. */
static bool next_token(struct str s, size_t *pos, struct str *tok)
{
	size_t start;

	while (*pos < s.len && is_space(s.ptr[*pos]))
		(*pos)++;
	if (*pos == s.len)
		return false;
	start = *pos;
	while (*pos < s.len && !is_space(s.ptr[*pos]))
		(*pos)++;
	*tok = str_make(s.ptr + start, *pos - start);
	return true;
}

/* Splits the operator off the front of a token. */
static enum op split_op(struct str *tok)
{
	static const struct {
		const char *text;
		enum op op;
	} ops[] = {
		{">=", OP_GE}, {"<=", OP_LE}, {"~>", OP_TILDE}, {">", OP_GT},
		{"<", OP_LT},  {"=", OP_EQ},  {"~", OP_TILDE},	{"^", OP_CARET},
	};

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		size_t len = strlen(ops[i].text);

		if (str_has_prefix(*tok, ops[i].text)) {
			tok->ptr += len;
			tok->len -= len;
			return ops[i].op;
		}
	}
	return OP_NONE;
}

/* Parses and applies one comparator set (the text between "||"). */
static int check_set(struct range_ctx *ctx, struct str set)
{
	size_t pos = 0, peek;
	struct str tok, text, next;
	struct partial p, high;
	int terms = 0;

	while (next_token(set, &pos, &tok)) {
		enum op op;

		text = tok;
		op = split_op(&text);
		if (op != OP_NONE && text.len == 0) {
			/* ">= 1.2.3": the version is the next token */
			if (!next_token(set, &pos, &text))
				return range_invalid(ctx, "'%.*s' needs a version", (int)tok.len,
						     tok.ptr);
		}
		if (str_eq_cstr(text, "-"))
			return range_invalid(ctx, "'-' needs a version on its left");
		if (!parse_partial(text, true, &p))
			return range_invalid(ctx, "'%.*s' is not a version", (int)text.len,
					     text.ptr);
		terms++;
		peek = pos;
		if (op == OP_NONE && next_token(set, &peek, &next) && str_eq_cstr(next, "-")) {
			/* hyphen range "A - B" */
			pos = peek;
			if (!next_token(set, &pos, &text))
				return range_invalid(ctx, "'%.*s -' needs a version on its right",
						     (int)tok.len, tok.ptr);
			if (!parse_partial(text, true, &high))
				return range_invalid(ctx, "'%.*s' is not a version", (int)text.len,
						     text.ptr);
			check_term(ctx, OP_GE, &p);
			check_hyphen_high(ctx, &high);
			continue;
		}
		check_term(ctx, op, &p);
	}
	if (terms == 0)
		return range_invalid(ctx, "an alternative is empty");
	return 0;
}

int semver_satisfies(const struct semver *v, const char *range, bool *out, struct error *err)
{
	struct version version = version_of(v);
	struct range_ctx ctx = {range, err, &version, true, false, false};
	struct str rest = str_from(range), set;
	bool any = false;

	*out = false;
	if (str_trim(rest).len == 0)
		return error_set(err, ERR_INVALID, "empty version range; use '*' for any version");
	for (;;) {
		const char *bar = memchr(rest.ptr, '|', rest.len);
		size_t len = bar ? (size_t)(bar - rest.ptr) : rest.len;
		int rc;

		if (bar && (len + 1 == rest.len || bar[1] != '|'))
			return range_invalid(&ctx, "'|' is not an operator; use '||'");
		set = str_make(rest.ptr, len);
		ctx.set_ok = true;
		ctx.prerelease_ok = false;
		ctx.never = false;
		rc = check_set(&ctx, set);
		if (rc < 0)
			return rc;
		/* Every set is checked, even after a match, so a bad range is always an error. */
		if (ctx.set_ok && !ctx.never && (version.prerelease.len == 0 || ctx.prerelease_ok))
			any = true;
		if (!bar)
			break;
		rest = str_make(bar + 2, rest.len - len - 2);
	}
	*out = any;
	return 0;
}
