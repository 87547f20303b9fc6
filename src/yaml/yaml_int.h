/*
 * yaml_int.h — helpers shared by yaml.c and emit.c; not part of the public API.
 */
#ifndef PLUMB_YAML_INT_H
#define PLUMB_YAML_INT_H

#include "yaml/yaml.h"

/* What a plain scalar's text means under the YAML 1.2 core schema. */
struct scalar_value {
	enum node_type type; /* NODE_NULL, NODE_BOOL, NODE_INT, NODE_FLOAT or NODE_STRING */
	bool boolean;
	int64_t integer;
	double real;
};

/* Resolves the text of an untagged plain scalar (see docs/internals/yaml.md). */
void yaml_resolve_core(const char *s, size_t len, struct scalar_value *out);

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? — the core schema's floats. */
bool yaml_match_float(const char *s, size_t len);

/* strtod in the C locale, whatever the process's locale is. s is NUL-terminated. */
double yaml_strtod(const char *s, char **end);

/*
 * The shortest decimal digits that read back as |v| (finite, non-zero): digits
 * (NUL-terminated, no leading or trailing zeros, at most 17) and the exponent
 * of the first digit, so that |v| = d.ddd × 10^exp10.
 */
void yaml_float_digits(double v, char digits[24], int *exp10);

/*
 * Appends v in plumb's canonical float form: the shortest digits that round
 * trip, fixed notation when 1e-7 <= |v| < 1e21 (always with a '.', so `1.0`),
 * else exponent notation (`1e+21`, `1.5e-8`). Non-finite values are written
 * as nan_inf[0] for NaN, nan_inf[1] for +Inf and nan_inf[2] for -Inf.
 */
int yaml_add_float(struct buf *out, double v, const char *const nan_inf[3]);

#endif
