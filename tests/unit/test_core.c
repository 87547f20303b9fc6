/* Unit tests for src/core: buffers, slices, vectors, maps, errors, arenas, hashing, logging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

static void test_buf_append_and_format(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(buf_addstr(&b, "hello"), 0);
	assert_int_equal(buf_addch(&b, ' '), 0);
	assert_int_equal(buf_addf(&b, "%s-%d", "world", 42), 0);
	assert_string_equal(b.data, "hello world-42");
	assert_int_equal(b.len, 14);
	buf_truncate(&b, 5);
	assert_string_equal(b.data, "hello");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
	assert_null(b.data);
}

static void test_buf_long_format(void **state)
{
	struct buf b = BUF_INIT;
	char big[1000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_addf(&b, "<%s>", big), 0);
	assert_int_equal(b.len, 1001);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[1000], '>');
	assert_int_equal(b.data[1001], '\0');
	buf_release(&b);
}

static void test_buf_cap_refuses_and_keeps_content(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_addstr(&b, "12345678"), 0);
	assert_int_equal(buf_addch(&b, '9'), ERR_TOOBIG);
	assert_int_equal(buf_addf(&b, "%d", 1), ERR_TOOBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	buf_release(&b);
}

static void test_buf_detach_hands_over(void **state)
{
	struct buf b = BUF_INIT;
	size_t len;
	char *s;

	(void)state;
	s = buf_detach(&b, &len);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	buf_addstr(&b, "abc");
	s = buf_detach(&b, &len);
	assert_string_equal(s, "abc");
	assert_int_equal(len, 3);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
}

static void test_buf_json_string_escapes(void **state)
{
	struct buf b = BUF_INIT;
	const char in[] = "a\"b\\c\n\t\x01\x7f\xc3\xa9";

	(void)state;
	buf_add_json_string(&b, in, sizeof(in) - 1);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\x7f\xc3\xa9\"");
	buf_reset(&b);
	buf_add_json_string(&b, "x\0y", 3);
	assert_string_equal(b.data, "\"x\\u0000y\"");
	buf_release(&b);
}

static void test_buf_read_file(void **state)
{
	char path[] = "/tmp/plumb-core-XXXXXX";
	int fd = mkstemp(path);
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	assert_int_equal(buf_read_file(&b, path, &err), 0);
	assert_string_equal(b.data, "0123456789");
	buf_release(&b);
	buf_init(&b, 4);
	assert_int_equal(buf_read_file(&b, path, &err), ERR_TOOBIG);
	assert_non_null(strstr(err.msg, "larger than 4 bytes"));
	buf_release(&b);
	unlink(path);
	assert_int_equal(buf_read_file(&b, path, &err), ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "No such file"));
	assert_int_equal(err.sys_errno, ENOENT);
}

static void test_str_slices(void **state)
{
	struct str head, rest;
	char *dup;

	(void)state;
	assert_true(str_eq(STR_LIT("abc"), str_from("abc")));
	assert_false(str_eq(STR_LIT("abc"), str_from("abcd")));
	assert_true(str_has_prefix(STR_LIT("apps/v1"), "apps/"));
	assert_false(str_has_prefix(STR_LIT("app"), "apps/"));
	assert_true(str_has_suffix(STR_LIT("x.yaml"), ".yaml"));
	assert_false(str_has_suffix(STR_LIT("yaml"), ".yaml"));
	assert_true(str_eq_cstr(str_trim(STR_LIT("  a b \n")), "a b"));
	assert_int_equal(str_trim(STR_LIT("   ")).len, 0);
	assert_true(str_cut(STR_LIT("apps/v1"), '/', &head, &rest));
	assert_true(str_eq_cstr(head, "apps"));
	assert_true(str_eq_cstr(rest, "v1"));
	assert_false(str_cut(STR_LIT("v1"), '/', &head, &rest));
	assert_true(str_eq_cstr(head, "v1"));
	assert_int_equal(rest.len, 0);
	dup = str_dup(str_make("abcdef", 3));
	assert_string_equal(dup, "abc");
	free(dup);
	assert_true(str_cmp(STR_LIT("ab"), STR_LIT("abc")) < 0);
	assert_true(str_cmp(STR_LIT("b"), STR_LIT("abc")) > 0);
	assert_int_equal(str_cmp(STR_LIT("abc"), STR_LIT("abc")), 0);
}

static void test_str_distance(void **state)
{
	(void)state;
	assert_int_equal(str_distance("main", "main"), 0);
	assert_int_equal(str_distance("mian", "main"), 2);
	assert_int_equal(str_distance("mai", "main"), 1);
	assert_int_equal(str_distance("", "abc"), 3);
	assert_int_equal(str_distance("kitten", "sitting"), 3);
}

static int cmp_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_vec(void **state)
{
	struct vec v = VEC_INIT;
	const char *item;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < 100; i++)
		vec_push(&v, xasprintf("%03zu", 99 - i));
	assert_int_equal(v.len, 100);
	vec_sort(&v, cmp_strings);
	assert_string_equal(vec_get(&v, 0), "000");
	assert_string_equal(vec_get(&v, 99), "099");
	vec_foreach (&v, i, item) {
		char want[24];

		snprintf(want, sizeof(want), "%03zu", i);
		assert_string_equal(item, want);
		n++;
	}
	assert_int_equal(n, 100);
	free(vec_pop(&v));
	assert_int_equal(v.len, 99);
	vec_release(&v, free);
	assert_int_equal(v.len, 0);
	assert_null(vec_pop(&v));
}

static void test_map_put_get_delete(void **state)
{
	struct map m = MAP_INIT;
	char key[32];
	int values[5000];

	(void)state;
	assert_null(map_get(&m, "absent"));
	for (int i = 0; i < 5000; i++) {
		values[i] = i;
		snprintf(key, sizeof(key), "key-%d", i);
		assert_null(map_put(&m, key, &values[i]));
	}
	assert_int_equal(m.len, 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_ptr_equal(map_get(&m, key), &values[i]);
	}
	/* replace returns the old value */
	assert_ptr_equal(map_put(&m, "key-7", &values[8]), &values[7]);
	assert_ptr_equal(map_get(&m, "key-7"), &values[8]);
	/* delete half, the other half stays reachable through tombstones */
	for (int i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_non_null(map_del(&m, key));
	}
	assert_int_equal(m.len, 2500);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(map_has(&m, key), i % 2 == 1);
	}
	assert_null(map_del(&m, "key-0"));
	/* churn: reinsert and delete many times without growing without bound */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 5000; i += 2) {
			snprintf(key, sizeof(key), "key-%d", i);
			map_put(&m, key, &values[i]);
		}
		for (int i = 0; i < 5000; i += 2) {
			snprintf(key, sizeof(key), "key-%d", i);
			map_del(&m, key);
		}
	}
	assert_int_equal(m.len, 2500);
	assert_true(m.cap <= 16384);
	map_release(&m, NULL);
	assert_int_equal(m.len, 0);
}

static void test_map_iteration_visits_each_once(void **state)
{
	struct map m = MAP_INIT;
	const char *key;
	void *value;
	size_t pos = 0, seen = 0;
	long sum = 0;

	(void)state;
	for (long i = 1; i <= 100; i++) {
		char k[16];

		snprintf(k, sizeof(k), "%ld", i);
		map_put(&m, k, (void *)i);
	}
	map_del(&m, "50");
	while (map_next(&m, &pos, &key, &value)) {
		seen++;
		sum += (long)value;
		assert_int_equal(atol(key), (long)value);
	}
	assert_int_equal(seen, 99);
	assert_int_equal(sum, 5050 - 50);
	map_release(&m, NULL);
}

static void test_map_owns_values_when_asked(void **state)
{
	struct map m = MAP_INIT;

	(void)state;
	map_put(&m, "a", xstrdup("1"));
	map_put(&m, "b", xstrdup("2"));
	map_release(&m, free); /* leak-checked under ASan */
}

static void test_error_context_and_codes(void **state)
{
	struct error err = ERROR_INIT;

	(void)state;
	assert_int_equal(error_set(&err, ERR_INVALID, "mapping values are not allowed here"),
			 ERR_INVALID);
	assert_int_equal(error_prefix(&err, "deploy.yaml:%d", 12), ERR_INVALID);
	assert_int_equal(error_prefix(&err, "apps/web: render"), ERR_INVALID);
	assert_string_equal(
		err.msg, "apps/web: render: deploy.yaml:12: mapping values are not allowed here");
	errno = EACCES;
	assert_int_equal(error_errno(&err, "cannot open '%s'", "/x"), ERR_AUTH);
	assert_string_equal(err.msg, "cannot open '/x': Permission denied");
	errno = EIO;
	assert_int_equal(error_errno(&err, "read"), ERR_IO);
	assert_int_equal(err.sys_errno, EIO);
	error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
	/* NULL means the caller does not want details, but codes still flow */
	assert_int_equal(error_set(NULL, ERR_NOTFOUND, "x"), ERR_NOTFOUND);
	assert_string_equal(error_code_name(ERR_CONFLICT), "conflict");
	assert_string_equal(error_code_name(ERR_NOTFOUND), "not found");
}

static void test_error_prefix_truncates_safely(void **state)
{
	struct error err = ERROR_INIT;
	char big[ERROR_MSG_MAX + 1000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	error_set(&err, ERR_IO, "%s", big);
	assert_int_equal(strlen(err.msg), ERROR_MSG_MAX - 1);
	error_prefix(&err, "context");
	assert_int_equal(strlen(err.msg), ERROR_MSG_MAX - 1);
	assert_memory_equal(err.msg, "context: aaa", 12);
}

static void test_error_list_gathers_then_counts(void **state)
{
	struct error_list list = {.max = 2};
	struct error err = ERROR_INIT;

	(void)state;
	assert_int_equal(error_list_finish(&list, &err), 0);
	assert_string_equal(err.msg, "");
	error_list_add(&list, ERR_NOTFOUND, "a.yaml:%d: first", 1);
	error_list_add(&list, ERR_INVALID, "b.yaml:2: second");
	error_list_add(&list, ERR_INVALID, "c.yaml:3: third");
	error_list_add(&list, ERR_INVALID, "d.yaml:4: fourth");
	assert_int_equal(error_list_finish(&list, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, "a.yaml:1: first\nb.yaml:2: second\n... and 2 more");
	assert_int_equal(list.count, 0);
	assert_int_equal(hex_digit_value('7'), 7);
	assert_int_equal(hex_digit_value('f'), 15);
	assert_int_equal(hex_digit_value('B'), 11);
	assert_int_equal(hex_digit_value('g'), -1);
}

static void test_sha256_known_vectors(void **state)
{
	uint8_t digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	struct sha256_ctx ctx;

	(void)state;
	sha256("abc", 3, digest);
	hex_encode(digest, SHA256_LEN, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256("", 0, digest);
	hex_encode(digest, SHA256_LEN, hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* streaming gives the same digest as one call */
	sha256_init(&ctx);
	sha256_update(&ctx, "a", 1);
	sha256_update(&ctx, "bc", 2);
	sha256_final(&ctx, digest);
	hex_encode(digest, SHA256_LEN, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_arena(void **state)
{
	struct arena a = ARENA_INIT;
	char *big;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint64_t *p = arena_alloc(&a, sizeof(uint64_t) * 3);

		assert_int_equal((uintptr_t)p % 16, 0);
		assert_int_equal(p[0] | p[1] | p[2], 0);
		p[0] = (uint64_t)i;
	}
	big = arena_alloc(&a, 1 << 20);
	memset(big, 'z', 1 << 20);
	assert_string_equal(arena_strdup(&a, "kept"), "kept");
	assert_string_equal(arena_strndup(&a, "abcdef", 2), "ab");
	assert_true(a.total >= (1 << 20));
	arena_release(&a);
	assert_null(a.head);
}

static void test_log_formats(void **state)
{
	char path[] = "/tmp/plumb-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct log_field fields[] = {{"app", "web"}, {"rev", "abc 123"}, {NULL, NULL}};
	struct buf out = BUF_INIT;
	enum log_level level;
	enum log_format format;

	(void)state;
	assert_int_equal(log_parse_level("warn", &level), 0);
	assert_int_equal(level, LOG_WARN);
	assert_int_equal(log_parse_level("loud", &level), ERR_INVALID);
	assert_int_equal(log_parse_format("json", &format), 0);
	assert_int_equal(log_parse_format("xml", &format), ERR_INVALID);

	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_setup(LOG_INFO, LOG_TEXT);
	log_debug("hidden %d", 1);
	log_fields(LOG_INFO, fields, "synced %d objects", 3);
	log_setup(LOG_DEBUG, LOG_JSON);
	log_fields(LOG_ERROR, fields, "say \"%s\"", "hi");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	log_setup(LOG_INFO, LOG_TEXT);

	assert_int_equal(buf_read_file(&out, path, NULL), 0);
	unlink(path);
	assert_null(strstr(out.data, "hidden"));
	assert_non_null(strstr(out.data, " info  synced 3 objects app=web rev=\"abc 123\"\n"));
	assert_non_null(strstr(out.data, "\"level\":\"error\",\"msg\":\"say \\\"hi\\\"\","
					 "\"app\":\"web\",\"rev\":\"abc 123\"}\n"));
	assert_non_null(strstr(out.data, "{\"time\":\"20"));
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_and_format),
		cmocka_unit_test(test_buf_long_format),
		cmocka_unit_test(test_buf_cap_refuses_and_keeps_content),
		cmocka_unit_test(test_buf_detach_hands_over),
		cmocka_unit_test(test_buf_json_string_escapes),
		cmocka_unit_test(test_buf_read_file),
		cmocka_unit_test(test_str_slices),
		cmocka_unit_test(test_str_distance),
		cmocka_unit_test(test_vec),
		cmocka_unit_test(test_map_put_get_delete),
		cmocka_unit_test(test_map_iteration_visits_each_once),
		cmocka_unit_test(test_map_owns_values_when_asked),
		cmocka_unit_test(test_error_context_and_codes),
		cmocka_unit_test(test_error_prefix_truncates_safely),
		cmocka_unit_test(test_error_list_gathers_then_counts),
		cmocka_unit_test(test_sha256_known_vectors),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_log_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
