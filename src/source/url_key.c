/*
 * Repository URL keys: what identifies a repository in its URL, so that a
 * webhook's URLs and applications' repoURLs can be matched whatever their
 * spelling (see source.h).
 */
#include "source/source.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool has_prefix_nocase(struct str s, const char *prefix)
{
	size_t len = strlen(prefix);

	return s.len >= len && strncasecmp(s.ptr, prefix, len) == 0;
}

/* The index of the first of chars in s, or s.len. */
static size_t str_span_until(struct str s, const char *chars)
{
	for (size_t i = 0; i < s.len; i++)
		if (strchr(chars, s.ptr[i]))
			return i;
	return s.len;
}

/* "scheme://": letters, digits, '+', '-', '.', starting with a letter. Sets *rest past it. */
static bool cut_scheme(struct str s, struct str *scheme, struct str *rest)
{
	size_t i = 0;

	if (!s.len || !isalpha((unsigned char)s.ptr[0]))
		return false;
	while (i < s.len && (isalnum((unsigned char)s.ptr[i]) || s.ptr[i] == '+' ||
			     s.ptr[i] == '-' || s.ptr[i] == '.'))
		i++;
	if (s.len - i < 3 || memcmp(s.ptr + i, "://", 3) != 0)
		return false;
	*scheme = str_make(s.ptr, i);
	*rest = str_make(s.ptr + i + 3, s.len - i - 3);
	return true;
}

static void add_lower(struct buf *out, struct str s)
{
	for (size_t i = 0; i < s.len; i++)
		buf_addch(out, (char)tolower((unsigned char)s.ptr[i]));
}

/*
 * Appends path normalised: empty and "." components dropped, ".." removing the
 * component before it (never what out held before), a final ".git" suffix or
 * ".git" component removed ("ops.git" and "ops/.git" name the repository "ops").
 * With leading_slash the result starts with '/' ("/" for an empty path);
 * lower_case folds the components to lower case.
 */
static void add_path(struct buf *out, struct str path, bool leading_slash, bool lower_case)
{
	size_t base = out->len;
	struct str rest = path, part;
	bool more = true;
	size_t last;

	while (more) {
		more = str_cut(rest, '/', &part, &rest);
		if (!part.len || str_eq_cstr(part, "."))
			continue;
		if (str_eq_cstr(part, "..")) {
			size_t len = out->len;

			while (len > base && out->data[len - 1] != '/')
				len--;
			buf_truncate(out, len > base ? len - 1 : base);
			continue;
		}
		buf_addch(out, '/');
		if (lower_case)
			add_lower(out, part);
		else
			buf_add(out, part.ptr, part.len);
	}
	for (last = out->len; last > base && out->data[last - 1] != '/'; last--)
		;
	if (out->len - last >= 4 && strncasecmp(out->data + out->len - 4, ".git", 4) == 0) {
		if (out->len - last == 4)
			buf_truncate(out, last > base ? last - 1 : base);
		else
			buf_truncate(out, out->len - 4);
	}
	if (!leading_slash && out->len > base && out->data[base] == '/') {
		memmove(out->data + base, out->data + base + 1, out->len - base);
		out->len--;
	}
	if (leading_slash && out->len == base)
		buf_addch(out, '/');
}

static bool is_ssh_scheme(struct str scheme)
{
	return str_eq_nocase(scheme, STR_LIT("ssh")) || str_eq_nocase(scheme, STR_LIT("git+ssh")) ||
	       str_eq_nocase(scheme, STR_LIT("ssh+git"));
}

/* The port a scheme implies, so that "https://host:443/x" and "https://host/x" match. */
static bool is_default_port(struct str scheme, struct str port)
{
	unsigned long value = 0;

	if (!port.len)
		return true;
	for (size_t i = 0; i < port.len; i++) {
		if (!isdigit((unsigned char)port.ptr[i]) || value > 65535)
			return false;
		value = value * 10 + (unsigned long)(port.ptr[i] - '0');
	}
	return (str_eq_nocase(scheme, STR_LIT("https")) && value == 443) ||
	       (str_eq_nocase(scheme, STR_LIT("http")) && value == 80) ||
	       (str_eq_nocase(scheme, STR_LIT("git")) && value == 9418);
}

/* "host", "host:port", "[v6]" or "[v6]:port" -> host and port (empty if none). */
static void split_host_port(struct str hostport, struct str *host, struct str *port)
{
	size_t end;

	*port = str_make(hostport.ptr + hostport.len, 0);
	if (hostport.len && hostport.ptr[0] == '[') {
		const char *close = memchr(hostport.ptr, ']', hostport.len);

		end = close ? (size_t)(close - hostport.ptr) + 1 : hostport.len;
	} else {
		end = str_span_until(hostport, ":");
	}
	*host = str_make(hostport.ptr, end);
	if (end < hostport.len && hostport.ptr[end] == ':')
		*port = str_make(hostport.ptr + end + 1, hostport.len - end - 1);
}

/* Drops "user[:password]@" from an authority. */
static struct str strip_userinfo(struct str authority)
{
	for (size_t i = authority.len; i > 0; i--)
		if (authority.ptr[i - 1] == '@')
			return str_make(authority.ptr + i, authority.len - i);
	return authority;
}

static void key_from_url(struct buf *out, struct str scheme, struct str rest)
{
	size_t authority_end = str_span_until(rest, "/?#");
	struct str authority = strip_userinfo(str_make(rest.ptr, authority_end));
	struct str path = str_make(rest.ptr + authority_end, rest.len - authority_end);
	struct str host, port;

	path.len = str_span_until(path, "?#");
	split_host_port(authority, &host, &port);
	add_lower(out, host);
	if (!is_ssh_scheme(scheme) && !is_default_port(scheme, port)) {
		buf_addch(out, ':');
		buf_add(out, port.ptr, port.len);
	}
	add_path(out, path, true, true);
	if (out->len && out->data[out->len - 1] == '/')
		buf_truncate(out, out->len - 1);
}

/*
 * Git's scp-like syntax, "[user@]host:path": a ':' before any '/' (or after a
 * bracketed IPv6 host). Sets host and path when s is one.
 */
static bool cut_scp_like(struct str s, struct str *host, struct str *path)
{
	size_t colon;
	struct str hostpart;

	if (!s.len || s.ptr[0] == '/' || s.ptr[0] == '.')
		return false;
	colon = str_span_until(s, ":/");
	if (colon == s.len || s.ptr[colon] != ':')
		return false;
	hostpart = strip_userinfo(str_make(s.ptr, colon));
	if (hostpart.len && hostpart.ptr[0] == '[') {
		const char *close = memchr(s.ptr, ']', s.len);

		if (!close || (size_t)(close - s.ptr) + 1 >= s.len || close[1] != ':')
			return false;
		colon = (size_t)(close + 1 - s.ptr);
		hostpart = strip_userinfo(str_make(s.ptr, colon));
	}
	if (!hostpart.len)
		return false;
	*host = hostpart;
	*path = str_make(s.ptr + colon + 1, s.len - colon - 1);
	return true;
}

char *source_url_key(const char *url)
{
	struct str s = str_trim(str_from(url ? url : ""));
	struct buf key = BUF_INIT;
	struct str scheme, rest, host, path;

	buf_init(&key, 0);
	if (!s.len)
		return buf_detach(&key, NULL);
	if (has_prefix_nocase(s, "file://")) {
		rest = str_make(s.ptr + 7, s.len - 7);
		if (has_prefix_nocase(rest, "localhost/"))
			rest = str_make(rest.ptr + 9, rest.len - 9);
		add_path(&key, rest, rest.len && rest.ptr[0] == '/', false);
	} else if (cut_scheme(s, &scheme, &rest)) {
		key_from_url(&key, scheme, rest);
	} else if (cut_scp_like(s, &host, &path)) {
		/* scp-like is ssh: no port, the path relative to the login's home or absolute alike
		 */
		add_lower(&key, host);
		add_path(&key, path, true, true);
		if (key.len && key.data[key.len - 1] == '/')
			buf_truncate(&key, key.len - 1);
	} else {
		add_path(&key, s, s.ptr[0] == '/', false);
	}
	return buf_detach(&key, NULL);
}
