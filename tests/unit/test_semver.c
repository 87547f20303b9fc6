/* Unit tests for semantic versions and version ranges (src/source/semver.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "source/source.h"

static void test_parse_valid(void **state)
{
	static const struct {
		const char *text;
		uint64_t major, minor, patch;
		const char *prerelease;
	} cases[] = {
		{"1.2.3", 1, 2, 3, NULL},
		{"v1.2.3", 1, 2, 3, NULL},
		{"0.0.0", 0, 0, 0, NULL},
		{"10.20.30", 10, 20, 30, NULL},
		{"1.2.3-rc.1", 1, 2, 3, "rc.1"},
		{"v2.0.0-rc.1+build.5", 2, 0, 0, "rc.1"},
		{"1.2.3+build", 1, 2, 3, NULL},
		{"1.2.3+001", 1, 2, 3, NULL},
		{"1.0.0-alpha-a.b-c", 1, 0, 0, "alpha-a.b-c"},
		{"1.0.0-0.3.7", 1, 0, 0, "0.3.7"},
		{"18446744073709551615.0.0", UINT64_MAX, 0, 0, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct semver v;

		if (semver_parse(cases[i].text, &v) != 0)
			fail_msg("'%s' should parse", cases[i].text);
		assert_int_equal(v.major, cases[i].major);
		assert_int_equal(v.minor, cases[i].minor);
		assert_int_equal(v.patch, cases[i].patch);
		if (cases[i].prerelease)
			assert_string_equal(v.prerelease, cases[i].prerelease);
		else
			assert_null(v.prerelease);
		semver_release(&v);
		assert_null(v.prerelease);
	}
}

static void test_parse_invalid(void **state)
{
	static const char *const cases[] = {
		"",
		"1",
		"1.2",
		"1.2.3.4",
		"01.2.3",
		"1.02.3",
		"1.2.03",
		"1.2.3-",
		"1.2.3-01",
		"1.2.3-rc..1",
		"1.2.3-rc.",
		"1.2.3+",
		"1.2.3-rc.1+",
		"1.2.3+a..b",
		"v",
		"vv1.2.3",
		"1.2.x",
		"*",
		"a.b.c",
		" 1.2.3",
		"1.2.3 ",
		"=1.2.3",
		"18446744073709551616.0.0",
		"1.2.3-r\xc3\xbc",
		"release-1.0.0",
		"1.2.3_4",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct semver v;

		if (semver_parse(cases[i], &v) != ERR_INVALID)
			fail_msg("'%s' should be rejected", cases[i]);
		assert_null(v.prerelease);
	}
	{
		struct semver v;

		assert_int_equal(semver_parse(NULL, &v), ERR_INVALID);
	}
}

static int cmp_texts(const char *a, const char *b)
{
	struct semver va, vb;
	int c;

	assert_int_equal(semver_parse(a, &va), 0);
	assert_int_equal(semver_parse(b, &vb), 0);
	c = semver_cmp(&va, &vb);
	semver_release(&va);
	semver_release(&vb);
	return c;
}

/* The ordering example from semver.org §11, plus numeric (not textual) parts. */
static void test_precedence(void **state)
{
	static const char *const ordered[] = {
		"0.9.9",
		"1.0.0-0",
		"1.0.0-9",
		"1.0.0-10",
		"1.0.0-99999999999999999999999",
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"1.0.1",
		"1.2.0",
		"1.9.0",
		"1.10.0",
		"2.0.0-rc.1",
		"2.0.0",
		"18446744073709551615.0.0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ordered) / sizeof(ordered[0]); i++) {
		assert_int_equal(cmp_texts(ordered[i], ordered[i]), 0);
		for (size_t j = i + 1; j < sizeof(ordered) / sizeof(ordered[0]); j++) {
			if (cmp_texts(ordered[i], ordered[j]) >= 0)
				fail_msg("'%s' should rank below '%s'", ordered[i], ordered[j]);
			if (cmp_texts(ordered[j], ordered[i]) <= 0)
				fail_msg("'%s' should rank above '%s'", ordered[j], ordered[i]);
		}
	}
	/* build metadata and the 'v' do not change precedence */
	assert_int_equal(cmp_texts("1.0.0+a", "1.0.0+b"), 0);
	assert_int_equal(cmp_texts("v1.0.0", "1.0.0"), 0);
	assert_int_equal(cmp_texts("1.0.0-rc.1+x", "1.0.0-rc.1"), 0);
}

static bool satisfies(const char *version, const char *range)
{
	struct error err = ERROR_INIT;
	struct semver v;
	bool ok = false;

	if (semver_parse(version, &v) != 0)
		fail_msg("bad test version '%s'", version);
	if (semver_satisfies(&v, range, &ok, &err) != 0)
		fail_msg("range '%s' was rejected: %s", range, err.msg);
	semver_release(&v);
	return ok;
}

struct range_case {
	const char *range;
	const char *version;
	bool expected;
};

static void check_cases(const struct range_case *cases, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (satisfies(cases[i].version, cases[i].range) != cases[i].expected)
			fail_msg("'%s' %s satisfy '%s'", cases[i].version,
				 cases[i].expected ? "should" : "should not", cases[i].range);
	}
}

static void test_range_comparators(void **state)
{
	static const struct range_case cases[] = {
		{"1.2.3", "1.2.3", true},
		{"1.2.3", "1.2.4", false},
		{"=1.2.3", "1.2.3", true},
		{"=1.2.3", "1.2.2", false},
		{"v1.2.3", "1.2.3", true},
		{"1.2.3+build", "1.2.3", true},
		{">1.2.3", "1.2.4", true},
		{">1.2.3", "1.2.3", false},
		{">=1.2.3", "1.2.3", true},
		{">=1.2.3", "1.2.2", false},
		{"<1.2.3", "1.2.2", true},
		{"<1.2.3", "1.2.3", false},
		{"<=1.2.3", "1.2.3", true},
		{"<=1.2.3", "1.2.4", false},
		{">=1.2.3 <2.0.0", "1.2.3", true},
		{">=1.2.3 <2.0.0", "1.99.99", true},
		{">=1.2.3 <2.0.0", "2.0.0", false},
		{">=1.2.3 <2.0.0", "1.2.2", false},
		{">= 1.2.3  < 2", "1.5.0", true},
		{">= 1.2.3  < 2", "2.0.0", false},
		{">=1.2.0, <2.0.0", "1.5.0", true},
		{">=1.2.0, <2.0.0", "2.0.0", false},
		{">=v1.2.0", "1.2.0", true},
		{"\t>=1.0.0\n", "1.0.0", true},
		{">1.0.0 <1.0.0", "1.0.0", false},
		{">=18446744073709551615.0.0", "18446744073709551615.0.0", true},
	};

	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_range_tilde_caret(void **state)
{
	static const struct range_case cases[] = {
		{"~1.2.3", "1.2.3", true},
		{"~1.2.3", "1.2.9", true},
		{"~1.2.3", "1.3.0", false},
		{"~1.2.3", "1.2.2", false},
		{"~1.2", "1.2.0", true},
		{"~1.2", "1.3.0", false},
		{"~1", "1.9.0", true},
		{"~1", "2.0.0", false},
		{"~0.2.3", "0.2.5", true},
		{"~0.2.3", "0.3.0", false},
		{"~>1.2.3", "1.2.9", true},
		{"~>1.2.3", "1.3.0", false},
		{"^1.2.3", "1.2.3", true},
		{"^1.2.3", "1.9.9", true},
		{"^1.2.3", "2.0.0", false},
		{"^1.2.3", "1.2.2", false},
		{"^0.2.3", "0.2.9", true},
		{"^0.2.3", "0.3.0", false},
		{"^0.2.3", "0.2.2", false},
		{"^0.0.3", "0.0.3", true},
		{"^0.0.3", "0.0.4", false},
		{"^0.0", "0.0.9", true},
		{"^0.0", "0.1.0", false},
		{"^0", "0.9.0", true},
		{"^0", "1.0.0", false},
		{"^1.x", "1.5.0", true},
		{"^1.x", "2.0.0", false},
		{"^1.2", "1.9.0", true},
		{"^1.2", "1.1.0", false},
		{"^ 1.2.3", "1.5.0", true},
		{"^18446744073709551615.0.0", "18446744073709551615.9.0", true},
	};

	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_range_partials(void **state)
{
	static const struct range_case cases[] = {
		{"*", "0.0.0", true},
		{"*", "99.1.2", true},
		{"x", "1.2.3", true},
		{"1.x", "1.0.0", true},
		{"1.x", "1.99.0", true},
		{"1.x", "2.0.0", false},
		{"1.x", "0.9.9", false},
		{"1.X", "1.4.0", true},
		{"1.*", "1.4.0", true},
		{"1", "1.4.0", true},
		{"1", "2.0.0", false},
		{"1.2.x", "1.2.5", true},
		{"1.2.x", "1.3.0", false},
		{"1.2", "1.2.5", true},
		{"1.2", "1.3.0", false},
		{"=1.2", "1.2.7", true},
		{">1.2", "1.2.9", false},
		{">1.2", "1.3.0", true},
		{">1", "1.9.9", false},
		{">1", "2.0.0", true},
		{">=1.2", "1.2.0", true},
		{">=1.2", "1.1.9", false},
		{"<1.2", "1.1.9", true},
		{"<1.2", "1.2.0", false},
		{"<=1.2", "1.2.9", true},
		{"<=1.2", "1.3.0", false},
		{"<=1", "1.9.9", true},
		{"<=1", "2.0.0", false},
		{">*", "1.0.0", false},
		{"<*", "0.0.0", false},
		{">=*", "1.0.0", true},
		{"1.2.3 - 2.3.4", "1.2.3", true},
		{"1.2.3 - 2.3.4", "2.3.4", true},
		{"1.2.3 - 2.3.4", "2.3.5", false},
		{"1.2.3 - 2.3.4", "1.2.2", false},
		{"1.2 - 2.3", "1.2.0", true},
		{"1.2 - 2.3", "2.3.9", true},
		{"1.2 - 2.3", "2.4.0", false},
		{"1.2.3 - 2", "2.9.9", true},
		{"1.2.3 - 2", "3.0.0", false},
		{"* - 2", "0.0.1", true},
		{"<1.0.0 || >=2.0.0", "0.9.0", true},
		{"<1.0.0 || >=2.0.0", "1.5.0", false},
		{"<1.0.0 || >=2.0.0", "2.0.0", true},
		{"1.x||3.x", "3.1.0", true},
		{"1.x||3.x", "2.0.0", false},
		{"1.2.3 - 1.2.5 || 2.x", "1.2.4", true},
		{"1.2.3 - 1.2.5 || 2.x", "2.2.0", true},
		{"1.2.3 - 1.2.5 || 2.x", "1.2.6", false},
	};

	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A pre-release only matches a range that names a pre-release of the same x.y.z. */
static void test_range_prerelease(void **state)
{
	static const struct range_case cases[] = {
		{"*", "1.2.3-rc.1", false},
		{">=1.0.0", "2.0.0-rc.1", false},
		{"<2.0.0", "2.0.0-rc.1", false},
		{"<1.2.3", "1.2.3-rc.1", false},
		{"^1.0.0", "1.5.0-beta", false},
		{"2.0.0-rc.1", "2.0.0-rc.1", true},
		{"2.0.0-rc.1", "2.0.0-rc.2", false},
		{">=1.2.3-rc.1 <2.0.0", "1.2.3-rc.2", true},
		{">=1.2.3-rc.1 <2.0.0", "1.2.3", true},
		{">=1.2.3-rc.1 <2.0.0", "1.2.4-rc.1", false},
		{">=1.2.3-rc.1 <2.0.0", "1.2.3-beta", false},
		{"^2.0.0-rc.1", "2.0.0-rc.1", true},
		{"^2.0.0-rc.1", "2.0.0-rc.2", true},
		{"^2.0.0-rc.1", "2.0.0", true},
		{"^2.0.0-rc.1", "2.1.0-rc.1", false},
		{"~1.2.3-beta.2", "1.2.3-beta.4", true},
		{"~1.2.3-beta.2", "1.2.3-beta.10", true},
		{"~1.2.3-beta.2", "1.2.3-beta.1", false},
		{"~1.2.3-beta.2", "1.2.4-beta.2", false},
		{">=2.0.0-0", "2.0.0-rc.1", true},
		{"1.x || 2.0.0-rc.1", "2.0.0-rc.1", true},
		{"1.x || >=2.0.0-rc.1", "2.0.0-rc.5", true},
		{"1.x || >=2.0.0-rc.1", "2.1.0-rc.5", false},
	};

	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_range_invalid(void **state)
{
	static const char *const cases[] = {
		"",
		"   ",
		">=",
		">= ",
		"abc",
		"1.2.3.4",
		">>1.2.3",
		"=>1.2.3",
		"1.2.3 -",
		"- 1.2.3",
		">=1.0.0 - 2.0.0",
		"1.x.3",
		"1.2-rc",
		"1.2.3 |",
		"1.2.3 | 2.0.0",
		"1.2.3 ||",
		"|| 1.2.3",
		"1.x || || 2.x",
		"^",
		"~",
		"01.2.3",
		"1.x || >=abc",
		">=1.0.0-",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct error err = ERROR_INIT;
		struct semver v;
		bool ok = true;

		assert_int_equal(semver_parse("1.5.0", &v), 0);
		if (semver_satisfies(&v, cases[i], &ok, &err) != ERR_INVALID)
			fail_msg("range '%s' should be rejected", cases[i]);
		assert_int_equal(err.code, ERR_INVALID);
		assert_false(ok);
		assert_non_null(strstr(err.msg, "range"));
		semver_release(&v);
	}
}

/* The message says which range and which part of it is wrong. */
static void test_range_error_message(void **state)
{
	struct error err = ERROR_INIT;
	struct semver v;
	bool ok;

	(void)state;
	assert_int_equal(semver_parse("1.0.0", &v), 0);
	assert_int_equal(semver_satisfies(&v, ">=1.0 <abc", &ok, &err), ERR_INVALID);
	assert_string_equal(err.msg, "invalid version range '>=1.0 <abc': 'abc' is not a version");
	assert_int_equal(semver_satisfies(&v, "", &ok, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "'*'"));
	assert_int_equal(semver_satisfies(&v, "1.0.0 | 2.0.0", &ok, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "'||'"));
	/* a NULL error is allowed */
	assert_int_equal(semver_satisfies(&v, "junk", &ok, NULL), ERR_INVALID);
	semver_release(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_range_comparators),
		cmocka_unit_test(test_range_tilde_caret),
		cmocka_unit_test(test_range_partials),
		cmocka_unit_test(test_range_prerelease),
		cmocka_unit_test(test_range_invalid),
		cmocka_unit_test(test_range_error_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
