/*
 * metrics — counters, gauges and histograms with labels, written in the
 * Prometheus text exposition format (version 0.0.4) for GET /metrics.
 * Thread-safe: the daemon's workers update while the server writes.
 */
#ifndef PLUMB_METRICS_H
#define PLUMB_METRICS_H

#include "core/core.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric; /* one family: a name, its help, its label names, its series */

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * Registers a family (the registry owns it). label_names is a NULL-terminated
 * list (NULL for none). For histograms, buckets holds nbuckets upper bounds in
 * increasing order (+Inf is added); other types pass NULL, 0. Names and labels
 * must be valid Prometheus names (the caller's constants).
 */
struct metric *metrics_family(struct metrics *m, const char *name, const char *help,
			      enum metric_type type, const char *const *label_names,
			      const double *buckets, size_t nbuckets);

/* label_values has one value per label name, in order (NULL when the family has none). */
void metric_add(struct metric *f, const char *const *label_values, double delta);
void metric_set(struct metric *f, const char *const *label_values, double value);
void metric_observe(struct metric *f, const char *const *label_values, double value);
/* Drops one series (an application that was removed). */
void metric_remove(struct metric *f, const char *const *label_values);

/*
 * Appends every family (# HELP, # TYPE, then its series in a stable order:
 * by label values) to out. Label values are escaped (\\, \", \n); numbers are
 * written so that Prometheus reads them back exactly (integers without a
 * fraction, +Inf/-Inf/NaN spelled as Prometheus does).
 */
int metrics_write(struct metrics *m, struct buf *out);

#endif
