/*
 * metrics — a registry of Prometheus counters, gauges and histograms.
 *
 * A registry holds its families in registration order and one mutex that
 * guards all of them. Each family keeps its series in a struct map keyed by
 * the series' label values, joined without ambiguity ("<len>:<bytes>" per
 * value), so an update costs one hash lookup. The key is built on the stack
 * before the lock is taken; an update of an existing series allocates nothing
 * unless its key outgrows KEY_STACK_MAX bytes (label values of some hundreds
 * of bytes in all).
 *
 * metrics_write sorts each family's series by label values at write time;
 * a scrape is rare next to updates, and the daemon has about a thousand
 * applications, so sorting then is cheaper than keeping the order on insert.
 *
 * Numbers use the C locale's decimal point: plumb never calls setlocale for
 * LC_NUMERIC.
 */

#include "core/core.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_STACK_MAX 512
/* Long enough for "-1.2345678901234567e-308" and for any uint64_t. */
#define NUMBER_MAX 32

struct metrics {
	pthread_mutex_t lock;
	struct vec families; /* struct metric *, in registration order */
};

struct series {
	char **label_values; /* one per label name, then NULL; owned */
	double value;	     /* counters and gauges */
	double sum;	     /* histograms: sum of observations */
	uint64_t count;	     /* histograms: number of observations */
	uint64_t buckets[];  /* histograms: nbounds + 1 counts, not cumulative; the last is +Inf */
};

struct metric {
	struct metrics *registry;
	char *name;
	char *help;
	enum metric_type type;
	char **label_names; /* nlabels names, owned */
	size_t nlabels;
	double *bounds; /* histograms: finite upper bounds, increasing, owned */
	size_t nbounds;
	struct map series; /* joined label values -> struct series * */
};

static void registry_lock(struct metrics *m)
{
	if (pthread_mutex_lock(&m->lock) != 0)
		die("metrics: cannot lock the registry");
}

static void registry_unlock(struct metrics *m)
{
	if (pthread_mutex_unlock(&m->lock) != 0)
		die("metrics: cannot unlock the registry");
}

/* ---- checks of the caller's constants (asserts, so absent under NDEBUG) ---- */

#ifndef NDEBUG

static bool name_is_valid(const char *name, bool colon_allowed)
{
	if (!name[0] || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (colon_allowed && c == ':')))
			return false;
	}
	return true;
}

static bool label_name_is_valid(const char *name, enum metric_type type)
{
	if (!name_is_valid(name, false) || strncmp(name, "__", 2) == 0)
		return false;
	return type != METRIC_HISTOGRAM || strcmp(name, "le") != 0;
}

/* Whether m already holds a family called name; the registry lock is held. */
static bool family_exists(const struct metrics *m, const char *name)
{
	const struct metric *f;
	size_t i;

	vec_foreach (&m->families, i, f) {
		if (strcmp(f->name, name) == 0)
			return true;
	}
	return false;
}
#endif

/* ---- series keys ---- */

/*
 * Writes the key of a series into stack (stack_size bytes) when it fits, else
 * into a new allocation; returns the key, which the caller frees with
 * key_release. Each value is written as its decimal length, ':', its bytes, so
 * that no two lists of values share a key.
 */
static char *key_build(const struct metric *f, const char *const *label_values, char *stack,
		       size_t stack_size)
{
	size_t need = 1;
	char *key;
	size_t pos = 0;

	assert(f->nlabels == 0 || label_values);
	for (size_t i = 0; i < f->nlabels; i++) {
		assert(label_values[i]);
		need += strlen(label_values[i]) + 21; /* up to 20 digits of length, ':' */
	}
	key = need <= stack_size ? stack : xmalloc(need);
	for (size_t i = 0; i < f->nlabels; i++) {
		size_t len = strlen(label_values[i]);
		int n = snprintf(key + pos, need - pos, "%zu:", len);

		assert(n > 0 && (size_t)n < need - pos);
		pos += (size_t)n;
		memcpy(key + pos, label_values[i], len);
		pos += len;
	}
	key[pos] = '\0';
	return key;
}

/* Frees a key from key_build unless it lives in the caller's stack buffer. */
static void key_release(char *key, const char *stack)
{
	if (key != stack)
		free(key);
}

/* ---- series ---- */

/* A new series of family f at zero, holding copies of label_values; the caller owns it. */
static struct series *series_new(const struct metric *f, const char *const *label_values)
{
	size_t nbuckets = f->type == METRIC_HISTOGRAM ? f->nbounds + 1 : 0;
	struct series *s = xcalloc(1, sizeof(*s) + nbuckets * sizeof(s->buckets[0]));

	s->label_values = xcalloc(f->nlabels + 1, sizeof(*s->label_values));
	for (size_t i = 0; i < f->nlabels; i++)
		s->label_values[i] = xstrdup(label_values[i]);
	return s;
}

/* Frees a series and its label values (a map_release callback, hence void *). */
static void series_free(void *item)
{
	struct series *s = item;

	if (!s)
		return;
	for (size_t i = 0; s->label_values[i]; i++)
		free(s->label_values[i]);
	free(s->label_values);
	free(s);
}

/*
 * The series for label_values, created (at zero) if absent. The registry lock
 * must be held; key is key_build's result for the same values.
 */
static struct series *series_get(struct metric *f, const char *key, const char *const *label_values)
{
	struct series *s = map_get(&f->series, key);

	if (!s) {
		s = series_new(f, label_values);
		map_put(&f->series, key, s);
	}
	return s;
}

/* ---- registry ---- */

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	if (pthread_mutex_init(&m->lock, NULL) != 0)
		die("metrics: cannot create a mutex");
	return m;
}

/* Frees a family with all of its series. */
static void family_free(struct metric *f)
{
	map_release(&f->series, series_free);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->label_names[i]);
	free(f->label_names);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void metrics_free(struct metrics *m)
{
	struct metric *f;
	size_t i;

	if (!m)
		return;
	vec_foreach (&m->families, i, f)
		family_free(f);
	vec_release(&m->families, NULL);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

struct metric *metrics_family(struct metrics *m, const char *name, const char *help,
			      enum metric_type type, const char *const *label_names,
			      const double *buckets, size_t nbuckets)
{
	struct metric *f = xcalloc(1, sizeof(*f));
	size_t i;

	assert(name && name_is_valid(name, true));
	assert(help);
	assert(type == METRIC_COUNTER || type == METRIC_GAUGE || type == METRIC_HISTOGRAM);
	assert(type == METRIC_HISTOGRAM || (!buckets && nbuckets == 0));
	assert(nbuckets == 0 || buckets);

	f->registry = m;
	f->name = xstrdup(name);
	f->help = xstrdup(help);
	f->type = type;
	while (label_names && label_names[f->nlabels])
		f->nlabels++;
	f->label_names = xcalloc(f->nlabels ? f->nlabels : 1, sizeof(*f->label_names));
	for (i = 0; i < f->nlabels; i++) {
		assert(label_name_is_valid(label_names[i], type));
		for (size_t j = 0; j < i; j++)
			assert(strcmp(label_names[j], label_names[i]) != 0);
		f->label_names[i] = xstrdup(label_names[i]);
	}
	/* A trailing +Inf from the caller is the one every histogram gets anyway. */
	if (nbuckets && isinf(buckets[nbuckets - 1]) && buckets[nbuckets - 1] > 0)
		nbuckets--;
	f->bounds = xcalloc(nbuckets ? nbuckets : 1, sizeof(*f->bounds));
	for (i = 0; i < nbuckets; i++) {
		assert(isfinite(buckets[i]));
		assert(i == 0 || buckets[i - 1] < buckets[i]);
		f->bounds[i] = buckets[i];
	}
	f->nbounds = nbuckets;
	/* A family without labels has its one series from the start, at zero, as
	 * Prometheus client libraries do. */
	if (f->nlabels == 0)
		map_put(&f->series, "", series_new(f, NULL));

	registry_lock(m);
	assert(!family_exists(m, name));
	vec_push(&m->families, f);
	registry_unlock(m);
	return f;
}

/* ---- updates ---- */

void metric_add(struct metric *f, const char *const *label_values, double delta)
{
	char stack[KEY_STACK_MAX];
	char *key;

	assert(f->type == METRIC_COUNTER || f->type == METRIC_GAUGE);
	/* A counter only goes up; "!(delta < 0)" lets NaN through, as a gauge would. */
	assert(f->type != METRIC_COUNTER || !(delta < 0));
	key = key_build(f, label_values, stack, sizeof(stack));
	registry_lock(f->registry);
	series_get(f, key, label_values)->value += delta;
	registry_unlock(f->registry);
	key_release(key, stack);
}

/* Counters may be set too, for totals that are counted elsewhere and copied in. */
void metric_set(struct metric *f, const char *const *label_values, double value)
{
	char stack[KEY_STACK_MAX];
	char *key;

	assert(f->type == METRIC_COUNTER || f->type == METRIC_GAUGE);
	key = key_build(f, label_values, stack, sizeof(stack));
	registry_lock(f->registry);
	series_get(f, key, label_values)->value = value;
	registry_unlock(f->registry);
	key_release(key, stack);
}

void metric_observe(struct metric *f, const char *const *label_values, double value)
{
	char stack[KEY_STACK_MAX];
	struct series *s;
	size_t bucket = 0;
	char *key;

	assert(f->type == METRIC_HISTOGRAM);
	/* The first bound at or above value; NaN lands in +Inf, as in the Go client. */
	while (bucket < f->nbounds && !(value <= f->bounds[bucket]))
		bucket++;
	key = key_build(f, label_values, stack, sizeof(stack));
	registry_lock(f->registry);
	s = series_get(f, key, label_values);
	s->buckets[bucket]++;
	s->count++;
	s->sum += value;
	registry_unlock(f->registry);
	key_release(key, stack);
}

void metric_remove(struct metric *f, const char *const *label_values)
{
	char stack[KEY_STACK_MAX];
	struct series *s;
	char *key;

	key = key_build(f, label_values, stack, sizeof(stack));
	registry_lock(f->registry);
	s = map_del(&f->series, key);
	registry_unlock(f->registry);
	key_release(key, stack);
	series_free(s);
}

/* ---- number formats ---- */

/* "+Inf", "-Inf" or "NaN" for the values that have no digits; NULL otherwise. */
static const char *number_special(double v)
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	return NULL;
}

/*
 * A sample value: integers up to 2^53 in full ("3", "1000000"), others with the
 * fewest significant digits that read back to the same double ("0.1",
 * "0.30000000000000004", "1e-07", "1e+20").
 */
static void format_value(double v, char out[NUMBER_MAX])
{
	const char *special = number_special(v);

	if (special) {
		snprintf(out, NUMBER_MAX, "%s", special);
		return;
	}
	if (v == 0) {
		snprintf(out, NUMBER_MAX, "0"); /* -0 too, as the Go client writes it */
		return;
	}
	if (fabs(v) <= 9007199254740992.0 && v == trunc(v)) {
		snprintf(out, NUMBER_MAX, "%" PRId64, (int64_t)v);
		return;
	}
	/*
	 * A normal double whose shortest form has at most 15 digits prints as that
	 * form with "%.15g" (15 digits always read back exactly), so the search
	 * starts there; subnormals carry fewer digits and start from 1.
	 */
	for (int precision = fpclassify(v) == FP_SUBNORMAL ? 1 : 15; precision <= 17; precision++) {
		snprintf(out, NUMBER_MAX, "%.*g", precision, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/*
 * A bucket bound, the way the Go and Python clients write `le`: the shortest
 * digits that read back exactly, in exponent form when the decimal exponent is
 * below -4 or at least 6 ("0.005", "2.5", "100", "1e+06", "1e-05").
 */
static void format_bound(double v, char out[NUMBER_MAX])
{
	const char *special = number_special(v);
	char scientific[NUMBER_MAX];
	char digits[NUMBER_MAX];
	size_t ndigits = 0;
	size_t pos = 0;
	char *mark;
	long exponent;

	if (special) {
		snprintf(out, NUMBER_MAX, "%s", special);
		return;
	}
	if (v == 0) {
		snprintf(out, NUMBER_MAX, "0");
		return;
	}
	for (int precision = 1; precision <= 17; precision++) {
		snprintf(scientific, sizeof(scientific), "%.*e", precision - 1, v);
		if (strtod(scientific, NULL) == v)
			break;
	}
	/* scientific is "[-]d[.ddd]e±XX": collect the digits and the exponent. */
	mark = strchr(scientific, 'e');
	assert(mark);
	exponent = strtol(mark + 1, NULL, 10);
	for (const char *p = scientific; p < mark; p++)
		if (*p >= '0' && *p <= '9')
			digits[ndigits++] = *p;
	while (ndigits > 1 && digits[ndigits - 1] == '0')
		ndigits--;

	if (v < 0)
		out[pos++] = '-';
	if (exponent < -4 || exponent >= 6) {
		out[pos++] = digits[0];
		if (ndigits > 1) {
			out[pos++] = '.';
			memcpy(out + pos, digits + 1, ndigits - 1);
			pos += ndigits - 1;
		}
		snprintf(out + pos, NUMBER_MAX - pos, "e%c%02ld", exponent < 0 ? '-' : '+',
			 labs(exponent));
		return;
	}
	if (exponent < 0) {
		/* 0.000ddd: -exponent - 1 zeros after the point. */
		out[pos++] = '0';
		out[pos++] = '.';
		for (long i = 0; i < -exponent - 1; i++)
			out[pos++] = '0';
		memcpy(out + pos, digits, ndigits);
		pos += ndigits;
	} else {
		/* exponent + 1 digits before the point, padded with zeros. */
		for (size_t i = 0; i < (size_t)exponent + 1; i++)
			out[pos++] = i < ndigits ? digits[i] : '0';
		if (ndigits > (size_t)exponent + 1) {
			out[pos++] = '.';
			memcpy(out + pos, digits + exponent + 1, ndigits - (size_t)exponent - 1);
			pos += ndigits - (size_t)exponent - 1;
		}
	}
	out[pos] = '\0';
}

/* ---- writing ---- */

/* Appends s with each backslash and newline escaped, and '"' too if quote is set. */
static int write_escaped(struct buf *out, const char *s, bool quote)
{
	size_t start = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		const char *escape;

		if (s[i] == '\\')
			escape = "\\\\";
		else if (s[i] == '\n')
			escape = "\\n";
		else if (s[i] == '"' && quote)
			escape = "\\\"";
		else
			continue;
		if (buf_add(out, s + start, i - start) < 0 || buf_addstr(out, escape) < 0)
			return ERR_TOOBIG;
		start = i + 1;
	}
	return buf_add(out, s + start, i - start);
}

/*
 * Appends "{name="value",...}" for a series, with le="bound" last when bound is
 * not NULL; nothing at all when there are no labels and no bound.
 */
static int write_labels(struct buf *out, const struct metric *f, const struct series *s,
			const char *bound)
{
	if (f->nlabels == 0 && !bound)
		return 0;
	if (buf_addch(out, '{') < 0)
		return ERR_TOOBIG;
	for (size_t i = 0; i < f->nlabels; i++) {
		if (buf_addf(out, "%s%s=\"", i ? "," : "", f->label_names[i]) < 0 ||
		    write_escaped(out, s->label_values[i], true) < 0 || buf_addch(out, '"') < 0)
			return ERR_TOOBIG;
	}
	if (bound && buf_addf(out, "%sle=\"%s\"", f->nlabels ? "," : "", bound) < 0)
		return ERR_TOOBIG;
	return buf_addch(out, '}');
}

/* Appends "<name><suffix>{labels} <number>\n". */
static int write_sample(struct buf *out, const struct metric *f, const char *suffix,
			const struct series *s, const char *bound, const char *number)
{
	if (buf_addstr(out, f->name) < 0 || buf_addstr(out, suffix) < 0 ||
	    write_labels(out, f, s, bound) < 0 || buf_addf(out, " %s\n", number) < 0)
		return ERR_TOOBIG;
	return 0;
}

static int write_series(struct buf *out, const struct metric *f, const struct series *s)
{
	char number[NUMBER_MAX];
	char bound[NUMBER_MAX];
	uint64_t cumulative = 0;

	if (f->type != METRIC_HISTOGRAM) {
		format_value(s->value, number);
		return write_sample(out, f, "", s, NULL, number);
	}
	for (size_t i = 0; i <= f->nbounds; i++) {
		cumulative += s->buckets[i];
		if (i < f->nbounds)
			format_bound(f->bounds[i], bound);
		else
			snprintf(bound, sizeof(bound), "+Inf");
		snprintf(number, sizeof(number), "%" PRIu64, cumulative);
		if (write_sample(out, f, "_bucket", s, bound, number) < 0)
			return ERR_TOOBIG;
	}
	format_value(s->sum, number);
	if (write_sample(out, f, "_sum", s, NULL, number) < 0)
		return ERR_TOOBIG;
	snprintf(number, sizeof(number), "%" PRIu64, s->count);
	return write_sample(out, f, "_count", s, NULL, number);
}

/* Orders the series of one family by their label values, first label first. */
static int series_cmp(const void *a, const void *b)
{
	const struct series *left = *(const struct series *const *)a;
	const struct series *right = *(const struct series *const *)b;

	for (size_t i = 0; left->label_values[i]; i++) {
		int diff = strcmp(left->label_values[i], right->label_values[i]);

		if (diff)
			return diff;
	}
	return 0;
}

static const char *type_name(enum metric_type type)
{
	switch (type) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	assert(!"unknown metric type");
	return "untyped";
}

/* Appends one family; the registry lock is held. */
static int write_family(struct buf *out, const struct metric *f, struct vec *sorted)
{
	struct series *s;
	size_t pos = 0;
	void *value;
	size_t i;

	if (buf_addf(out, "# HELP %s ", f->name) < 0 || write_escaped(out, f->help, false) < 0 ||
	    buf_addf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type)) < 0)
		return ERR_TOOBIG;
	sorted->len = 0;
	while (map_next(&f->series, &pos, NULL, &value))
		vec_push(sorted, value);
	vec_sort(sorted, series_cmp);
	vec_foreach (sorted, i, s) {
		if (write_series(out, f, s) < 0)
			return ERR_TOOBIG;
	}
	return 0;
}

int metrics_write(struct metrics *m, struct buf *out)
{
	struct vec sorted = VEC_INIT;
	size_t start = out->len;
	struct metric *f;
	int rc = 0;
	size_t i;

	registry_lock(m);
	vec_foreach (&m->families, i, f) {
		rc = write_family(out, f, &sorted);
		if (rc < 0)
			break;
	}
	registry_unlock(m);
	vec_release(&sorted, NULL);
	if (rc < 0)
		buf_truncate(out, start);
	return rc;
}
