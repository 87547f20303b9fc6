/* Unit tests for src/server/metrics: the exposition text, escaping, removal, threads. */
#include "core/core.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The registry's whole text, as a new string. */
static char *write_all(struct metrics *m)
{
	struct buf out = BUF_INIT;

	assert_int_equal(metrics_write(m, &out), 0);
	return buf_detach(&out, NULL);
}

static void assert_text(struct metrics *m, const char *expected)
{
	char *text = write_all(m);

	assert_string_equal(text, expected);
	free(text);
}

static void test_small_registry(void **state)
{
	static const char *const sync_labels[] = {"app", "result", NULL};
	static const char *const duration_labels[] = {"app", NULL};
	static const double buckets[] = {0.005, 0.1, 1, 2.5};
	struct metrics *m = metrics_new();
	struct metric *syncs, *up, *duration;

	(void)state;
	syncs = metrics_family(m, "plumb_syncs_total", "Reconciles by application and result.",
			       METRIC_COUNTER, sync_labels, NULL, 0);
	up = metrics_family(m, "plumb_up", "Whether the daemon is running.", METRIC_GAUGE, NULL,
			    NULL, 0);
	duration = metrics_family(m, "plumb_sync_duration_seconds", "Time spent reconciling.",
				  METRIC_HISTOGRAM, duration_labels, buckets, ARRAY_SIZE(buckets));

	metric_add(syncs, (const char *const[]){"web", "ok"}, 1);
	metric_add(syncs, (const char *const[]){"api", "error"}, 1);
	metric_add(syncs, (const char *const[]){"web", "ok"}, 2);
	metric_add(syncs, (const char *const[]){"api", "ok"}, 0.5);
	metric_set(up, NULL, 1);
	metric_observe(duration, (const char *const[]){"web"},
		       0.005); /* on a bound: counts there */
	metric_observe(duration, (const char *const[]){"web"}, 0.25);
	metric_observe(duration, (const char *const[]){"web"}, 2);
	metric_observe(duration, (const char *const[]){"web"}, 30);

	assert_text(m, "# HELP plumb_syncs_total Reconciles by application and result.\n"
		       "# TYPE plumb_syncs_total counter\n"
		       "plumb_syncs_total{app=\"api\",result=\"error\"} 1\n"
		       "plumb_syncs_total{app=\"api\",result=\"ok\"} 0.5\n"
		       "plumb_syncs_total{app=\"web\",result=\"ok\"} 3\n"
		       "# HELP plumb_up Whether the daemon is running.\n"
		       "# TYPE plumb_up gauge\n"
		       "plumb_up 1\n"
		       "# HELP plumb_sync_duration_seconds Time spent reconciling.\n"
		       "# TYPE plumb_sync_duration_seconds histogram\n"
		       "plumb_sync_duration_seconds_bucket{app=\"web\",le=\"0.005\"} 1\n"
		       "plumb_sync_duration_seconds_bucket{app=\"web\",le=\"0.1\"} 1\n"
		       "plumb_sync_duration_seconds_bucket{app=\"web\",le=\"1\"} 2\n"
		       "plumb_sync_duration_seconds_bucket{app=\"web\",le=\"2.5\"} 3\n"
		       "plumb_sync_duration_seconds_bucket{app=\"web\",le=\"+Inf\"} 4\n"
		       "plumb_sync_duration_seconds_sum{app=\"web\"} 32.255\n"
		       "plumb_sync_duration_seconds_count{app=\"web\"} 4\n");
	metrics_free(m);
}

static void test_unlabeled_families_start_at_zero(void **state)
{
	static const char *const labels[] = {"app", NULL};
	static const double buckets[] = {1};
	struct metrics *m = metrics_new();

	(void)state;
	metrics_family(m, "plumb_ready", "Ready.", METRIC_GAUGE, NULL, NULL, 0);
	metrics_family(m, "plumb_wait_seconds", "Waits.", METRIC_HISTOGRAM, NULL, buckets, 1);
	metrics_family(m, "plumb_errors_total", "Errors by app.", METRIC_COUNTER, labels, NULL, 0);
	assert_text(m, "# HELP plumb_ready Ready.\n"
		       "# TYPE plumb_ready gauge\n"
		       "plumb_ready 0\n"
		       "# HELP plumb_wait_seconds Waits.\n"
		       "# TYPE plumb_wait_seconds histogram\n"
		       "plumb_wait_seconds_bucket{le=\"1\"} 0\n"
		       "plumb_wait_seconds_bucket{le=\"+Inf\"} 0\n"
		       "plumb_wait_seconds_sum 0\n"
		       "plumb_wait_seconds_count 0\n"
		       "# HELP plumb_errors_total Errors by app.\n"
		       "# TYPE plumb_errors_total counter\n");
	metrics_free(m);
}

static void test_escaping(void **state)
{
	static const char *const labels[] = {"path", NULL};
	struct metrics *m = metrics_new();
	struct metric *f;

	(void)state;
	f = metrics_family(m, "plumb_files", "Files under C:\\apps.\nSecond \"line\".",
			   METRIC_GAUGE, labels, NULL, 0);
	metric_set(f, (const char *const[]){"a\\b \"quoted\"\nnext"}, 2);
	assert_text(m, "# HELP plumb_files Files under C:\\\\apps.\\nSecond \"line\".\n"
		       "# TYPE plumb_files gauge\n"
		       "plumb_files{path=\"a\\\\b \\\"quoted\\\"\\nnext\"} 2\n");
	metrics_free(m);
}

static void test_remove(void **state)
{
	static const char *const labels[] = {"app", NULL};
	struct metrics *m = metrics_new();
	struct metric *f;

	(void)state;
	f = metrics_family(m, "plumb_apps", "Apps.", METRIC_GAUGE, labels, NULL, 0);
	metric_set(f, (const char *const[]){"web"}, 7);
	metric_set(f, (const char *const[]){"api"}, 8);
	metric_remove(f, (const char *const[]){"web"});
	metric_remove(f, (const char *const[]){"never-seen"});
	assert_text(m, "# HELP plumb_apps Apps.\n"
		       "# TYPE plumb_apps gauge\n"
		       "plumb_apps{app=\"api\"} 8\n");

	/* A series that comes back starts again from zero. */
	metric_add(f, (const char *const[]){"web"}, 1);
	assert_text(m, "# HELP plumb_apps Apps.\n"
		       "# TYPE plumb_apps gauge\n"
		       "plumb_apps{app=\"api\"} 8\n"
		       "plumb_apps{app=\"web\"} 1\n");
	metrics_free(m);
}

static void test_number_formats(void **state)
{
	static const char *const labels[] = {"case", NULL};
	static const struct {
		const char *label;
		double value;
		const char *text;
	} cases[] = {
		{"a", 3, "3"},
		{"b", -42, "-42"},
		{"c", 0.1, "0.1"},
		{"d", 1.0 / 3.0, "0.3333333333333333"},
		{"e", 1e-7, "1e-07"},
		{"f", 2.5e300, "2.5e+300"},
		{"g", 1234567, "1234567"},
		{"h", 9007199254740992.0, "9007199254740992"},
		{"i", 1e20, "1e+20"},
		{"j", INFINITY, "+Inf"},
		{"k", -INFINITY, "-Inf"},
		{"l", NAN, "NaN"},
		{"m", -0.0, "0"},
		{"n", 0.1 + 0.2, "0.30000000000000004"},
		{"o", 5e-324, "5e-324"},
		{"p", 2.2250738585072014e-308, "2.2250738585072014e-308"},
	};
	struct metrics *m = metrics_new();
	struct buf expected = BUF_INIT;
	struct metric *f;
	char *text;

	(void)state;
	f = metrics_family(m, "plumb_value", "Values.", METRIC_GAUGE, labels, NULL, 0);
	buf_addstr(&expected, "# HELP plumb_value Values.\n# TYPE plumb_value gauge\n");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		metric_set(f, (const char *const[]){cases[i].label}, cases[i].value);
		buf_addf(&expected, "plumb_value{case=\"%s\"} %s\n", cases[i].label, cases[i].text);
	}
	text = write_all(m);
	assert_string_equal(text, expected.data);

	/* Every finite value reads back to the same double. */
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (isfinite(cases[i].value))
			assert_true(strtod(cases[i].text, NULL) == cases[i].value);
	}
	free(text);
	buf_release(&expected);
	metrics_free(m);
}

static void test_bucket_bounds(void **state)
{
	static const double buckets[] = {-1,  1e-05, 0.0001,   0.005, 0.1,	 1,
					 2.5, 100,   123456.5, 1e+06, 1234567.5, INFINITY};
	struct metrics *m = metrics_new();
	struct metric *f;

	(void)state;
	/* A trailing +Inf from the caller is not written twice. */
	f = metrics_family(m, "plumb_size", "Sizes.", METRIC_HISTOGRAM, NULL, buckets,
			   ARRAY_SIZE(buckets));
	metric_observe(f, NULL, NAN);
	assert_text(m, "# HELP plumb_size Sizes.\n"
		       "# TYPE plumb_size histogram\n"
		       "plumb_size_bucket{le=\"-1\"} 0\n"
		       "plumb_size_bucket{le=\"1e-05\"} 0\n"
		       "plumb_size_bucket{le=\"0.0001\"} 0\n"
		       "plumb_size_bucket{le=\"0.005\"} 0\n"
		       "plumb_size_bucket{le=\"0.1\"} 0\n"
		       "plumb_size_bucket{le=\"1\"} 0\n"
		       "plumb_size_bucket{le=\"2.5\"} 0\n"
		       "plumb_size_bucket{le=\"100\"} 0\n"
		       "plumb_size_bucket{le=\"123456.5\"} 0\n"
		       "plumb_size_bucket{le=\"1e+06\"} 0\n"
		       "plumb_size_bucket{le=\"1.2345675e+06\"} 0\n"
		       "plumb_size_bucket{le=\"+Inf\"} 1\n"
		       "plumb_size_sum NaN\n"
		       "plumb_size_count 1\n");
	metrics_free(m);
}

static void test_series_sorted_by_label_values(void **state)
{
	static const char *const labels[] = {"app", "kind", NULL};
	struct metrics *m = metrics_new();
	struct metric *f;

	(void)state;
	f = metrics_family(m, "plumb_objects", "Objects.", METRIC_GAUGE, labels, NULL, 0);
	/* Distinct values that a join with a separator, or a sort by key, would mix up. */
	metric_set(f, (const char *const[]){"b", "x"}, 1);
	metric_set(f, (const char *const[]){"ab", "c"}, 2);
	metric_set(f, (const char *const[]){"a", "bc"}, 3);
	metric_set(f, (const char *const[]){"a", "b"}, 4);
	metric_set(f, (const char *const[]){"1:a", ""}, 5);
	metric_set(f, (const char *const[]){"", "1:a"}, 6);
	assert_text(m, "# HELP plumb_objects Objects.\n"
		       "# TYPE plumb_objects gauge\n"
		       "plumb_objects{app=\"\",kind=\"1:a\"} 6\n"
		       "plumb_objects{app=\"1:a\",kind=\"\"} 5\n"
		       "plumb_objects{app=\"a\",kind=\"b\"} 4\n"
		       "plumb_objects{app=\"a\",kind=\"bc\"} 3\n"
		       "plumb_objects{app=\"ab\",kind=\"c\"} 2\n"
		       "plumb_objects{app=\"b\",kind=\"x\"} 1\n");
	metrics_free(m);
}

static void test_long_label_values(void **state)
{
	static const char *const labels[] = {"a", "b", NULL};
	struct metrics *m = metrics_new();
	char long_value[2000];
	struct metric *f;
	char *text;

	(void)state;
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	f = metrics_family(m, "plumb_long", "Long.", METRIC_COUNTER, labels, NULL, 0);
	metric_add(f, (const char *const[]){long_value, "1"}, 1);
	metric_add(f, (const char *const[]){long_value, "1"}, 1);
	metric_add(f, (const char *const[]){long_value, "2"}, 5);
	text = write_all(m);
	assert_non_null(strstr(text, "\",b=\"1\"} 2\n"));
	assert_non_null(strstr(text, "\",b=\"2\"} 5\n"));
	free(text);
	metric_remove(f, (const char *const[]){long_value, "1"});
	text = write_all(m);
	assert_null(strstr(text, "\",b=\"1\"}"));
	assert_non_null(strstr(text, "\",b=\"2\"} 5\n"));
	free(text);
	metrics_free(m);
}

static void test_thousand_applications(void **state)
{
	static const char *const labels[] = {"app", NULL};
	struct metrics *m = metrics_new();
	struct metric *f;
	char name[32];
	char *text;
	size_t lines = 0;

	(void)state;
	f = metrics_family(m, "plumb_app_syncs_total", "Syncs.", METRIC_COUNTER, labels, NULL, 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 1000; i++) {
			snprintf(name, sizeof(name), "app-%04d", i);
			metric_add(f, (const char *const[]){name}, 1);
		}
	}
	for (int i = 1; i < 1000; i += 2) {
		snprintf(name, sizeof(name), "app-%04d", i);
		metric_remove(f, (const char *const[]){name});
	}
	text = write_all(m);
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2 + 500);
	assert_non_null(strstr(text, "# TYPE plumb_app_syncs_total counter\n"
				     "plumb_app_syncs_total{app=\"app-0000\"} 3\n"
				     "plumb_app_syncs_total{app=\"app-0002\"} 3\n"));
	assert_null(strstr(text, "app-0001"));
	assert_non_null(strstr(text, "plumb_app_syncs_total{app=\"app-0998\"} 3\n"));
	free(text);
	metrics_free(m);
}

static void test_write_respects_buffer_cap(void **state)
{
	struct metrics *m = metrics_new();
	struct buf out;

	(void)state;
	metrics_family(m, "plumb_up", "Whether the daemon is running.", METRIC_GAUGE, NULL, NULL,
		       0);
	buf_init(&out, 40);
	assert_int_equal(buf_addstr(&out, "kept"), 0);
	assert_int_equal(metrics_write(m, &out), ERR_TOOBIG);
	assert_string_equal(out.data, "kept");
	buf_release(&out);
	metrics_free(m);
}

#define THREADS		   8
#define UPDATES_PER_THREAD 20000

struct worker {
	struct metric *counter;
	struct metric *histogram;
	int id;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char own[32];

	snprintf(own, sizeof(own), "worker-%d", w->id);
	for (int i = 0; i < UPDATES_PER_THREAD; i++) {
		metric_add(w->counter, (const char *const[]){"shared"}, 1);
		metric_observe(w->histogram, NULL, (i % 2) ? 0.5 : 2);
		/* Series that come and go while others update and the server writes. */
		metric_add(w->counter, (const char *const[]){own}, 1);
		if (i % 100 == 99)
			metric_remove(w->counter, (const char *const[]){own});
	}
	return NULL;
}

struct scraper {
	struct metrics *registry;
	volatile int stop;
	int scrapes;
};

static void *scraper_run(void *arg)
{
	struct scraper *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct buf out = BUF_INIT;

		if (metrics_write(s->registry, &out) == 0)
			s->scrapes++;
		buf_release(&out);
	}
	return NULL;
}

static void test_concurrent_updates(void **state)
{
	static const char *const labels[] = {"app", NULL};
	static const double buckets[] = {1};
	struct metrics *m = metrics_new();
	struct worker workers[THREADS];
	pthread_t threads[THREADS];
	struct scraper scraper = {m, 0, 0};
	pthread_t scraper_thread;
	char expected[256];
	char *text;

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		workers[i].counter = NULL;
		workers[i].histogram = NULL;
		workers[i].id = i;
	}
	workers[0].counter =
		metrics_family(m, "plumb_events_total", "Events.", METRIC_COUNTER, labels, NULL, 0);
	workers[0].histogram = metrics_family(m, "plumb_event_seconds", "Event time.",
					      METRIC_HISTOGRAM, NULL, buckets, ARRAY_SIZE(buckets));
	assert_int_equal(pthread_create(&scraper_thread, NULL, scraper_run, &scraper), 0);
	for (int i = 0; i < THREADS; i++) {
		workers[i].counter = workers[0].counter;
		workers[i].histogram = workers[0].histogram;
		assert_int_equal(pthread_create(&threads[i], NULL, worker_run, &workers[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	__atomic_store_n(&scraper.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(scraper_thread, NULL), 0);
	assert_true(scraper.scrapes > 0);

	text = write_all(m);
	snprintf(expected, sizeof(expected), "plumb_events_total{app=\"shared\"} %d\n",
		 THREADS * UPDATES_PER_THREAD);
	assert_non_null(strstr(text, expected));
	/* UPDATES_PER_THREAD is a multiple of 100: every worker's own series was removed. */
	assert_null(strstr(text, "worker-"));
	snprintf(expected, sizeof(expected),
		 "plumb_event_seconds_bucket{le=\"1\"} %d\n"
		 "plumb_event_seconds_bucket{le=\"+Inf\"} %d\n"
		 "plumb_event_seconds_sum %d\n"
		 "plumb_event_seconds_count %d\n",
		 THREADS * UPDATES_PER_THREAD / 2, THREADS * UPDATES_PER_THREAD,
		 THREADS * UPDATES_PER_THREAD / 2 * 5 / 2, THREADS * UPDATES_PER_THREAD);
	assert_non_null(strstr(text, expected));
	free(text);
	metrics_free(m);
}

static void test_free_null(void **state)
{
	(void)state;
	metrics_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_registry),
		cmocka_unit_test(test_unlabeled_families_start_at_zero),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_number_formats),
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_series_sorted_by_label_values),
		cmocka_unit_test(test_long_label_values),
		cmocka_unit_test(test_thousand_applications),
		cmocka_unit_test(test_write_respects_buffer_cap),
		cmocka_unit_test(test_concurrent_updates),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
