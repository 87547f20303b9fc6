/* Growable, NUL-terminated byte buffers with an optional size cap. */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	FREE_AND_NULL(b->data);
	b->len = 0;
	b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *buf_detach(struct buf *b, size_t *len_out)
{
	char *data = b->data;

	if (len_out)
		*len_out = b->len;
	if (!data)
		data = xstrdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return data;
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		return ERR_TOOBIG;
	need = b->len + extra;
	if (b->max && need > b->max)
		return ERR_TOOBIG;
	if (need + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need + 1)
		cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) < 0)
		return ERR_TOOBIG;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(small, sizeof(small), fmt, copy);
	va_end(copy);
	if (n < 0)
		return ERR_INVALID;
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, (size_t)n);
	if (buf_grow(b, (size_t)n) < 0)
		return ERR_TOOBIG;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0';
}

int buf_read_file(struct buf *b, const char *path, struct error *err)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return error_errno(err, "cannot open '%s'", path);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = error_errno(err, "cannot read '%s'", path);
			break;
		}
		if (n == 0)
			break;
		if (buf_add(b, chunk, (size_t)n) < 0) {
			rc = error_set(err, ERR_TOOBIG, "'%s' is larger than %zu bytes", path,
				       b->max);
			break;
		}
	}
	close(fd);
	if (rc == 0 && !b->data)
		buf_add(b, "", 0);
	return rc;
}

int buf_add_json_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;

	if (buf_addch(b, '"') < 0)
		return ERR_TOOBIG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t esc_len = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_add(b, s + start, i - start) < 0)
			return ERR_TOOBIG;
		esc[0] = '\\';
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc_len = 6;
		}
		if (buf_add(b, esc, esc_len) < 0)
			return ERR_TOOBIG;
		start = i + 1;
	}
	if (buf_add(b, s + start, len - start) < 0)
		return ERR_TOOBIG;
	return buf_addch(b, '"');
}
