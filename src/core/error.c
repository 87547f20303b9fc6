/* Errors with a code, the errno behind them and a message that gains context. */
#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void error_clear(struct error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}

static void PRINTF_LIKE(3, 0) error_vset(struct error *err, int code, const char *fmt, va_list ap)
{
	err->code = code;
	err->sys_errno = 0;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int error_set(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	error_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int error_errno(struct error *err, const char *fmt, ...)
{
	int saved = errno;
	int code = ERR_IO;
	size_t len;
	va_list ap;

	if (saved == ENOENT || saved == ENOTDIR)
		code = ERR_NOTFOUND;
	else if (saved == EACCES || saved == EPERM)
		code = ERR_AUTH;
	if (!err)
		return code;
	va_start(ap, fmt);
	error_vset(err, code, fmt, ap);
	va_end(ap);
	err->sys_errno = saved;
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(saved));
	return code;
}

int error_prefix(struct error *err, const char *fmt, ...)
{
	struct buf joined = BUF_INIT;
	va_list ap;

	if (!err)
		return ERR_INTERNAL;
	va_start(ap, fmt);
	buf_vaddf(&joined, fmt, ap);
	va_end(ap);
	buf_addstr(&joined, ": ");
	buf_addstr(&joined, err->msg);
	/* An over-long message is cut at the size of msg. */
	if (joined.len >= sizeof(err->msg))
		buf_truncate(&joined, sizeof(err->msg) - 1);
	memcpy(err->msg, joined.data, joined.len + 1);
	buf_release(&joined);
	return err->code;
}

const char *error_code_name(int code)
{
	switch (code) {
	case ERR_OK:
		return "ok";
	case ERR_INVALID:
		return "invalid";
	case ERR_NOTFOUND:
		return "not found";
	case ERR_CONFLICT:
		return "conflict";
	case ERR_AUTH:
		return "authentication";
	case ERR_TIMEOUT:
		return "timeout";
	case ERR_IO:
		return "i/o";
	case ERR_NETWORK:
		return "network";
	case ERR_UNSUPPORTED:
		return "unsupported";
	case ERR_TOOBIG:
		return "too big";
	case ERR_CANCELED:
		return "canceled";
	default:
		return "internal";
	}
}

void error_list_add(struct error_list *list, int code, const char *fmt, ...)
{
	va_list ap;

	if (!list->count)
		list->first_code = code;
	if (++list->count > (list->max ? list->max : 20))
		return;
	if (list->text.len)
		buf_addch(&list->text, '\n');
	va_start(ap, fmt);
	buf_vaddf(&list->text, fmt, ap);
	va_end(ap);
}

int error_list_finish(struct error_list *list, struct error *err)
{
	unsigned max = list->max ? list->max : 20;
	int code = list->count ? list->first_code : 0;

	if (list->count > max)
		buf_addf(&list->text, "\n... and %u more", list->count - max);
	if (list->count)
		error_set(err, code, "%s", list->text.data);
	buf_release(&list->text);
	list->count = 0;
	return code;
}

int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
