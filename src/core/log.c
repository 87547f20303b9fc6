/* Logging to stderr, as "time level message key=value" text or one JSON object a line. */
#include "core.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level log_min_level = LOG_INFO;
static enum log_format log_out_format = LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level level, enum log_format format)
{
	log_min_level = level;
	log_out_format = format;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return ERR_INVALID;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_JSON;
	else
		return ERR_INVALID;
	return 0;
}

bool log_enabled(enum log_level level)
{
	return level >= log_min_level;
}

/* Quotes a text-format value when it holds spaces, quotes or '='. */
static void add_text_value(struct buf *b, const char *value)
{
	if (*value && !strpbrk(value, " \t\n\"="))
		buf_addstr(b, value);
	else
		buf_add_json_string(b, value, strlen(value));
}

void log_fields(enum log_level level, const struct log_field *fields, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	struct buf msg = BUF_INIT;
	char stamp[64];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (!log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + 19, sizeof(stamp) - 19, ".%03dZ", (int)(tv.tv_usec / 1000) % 1000);
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);

	if (log_out_format == LOG_JSON) {
		buf_addf(&line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", stamp,
			 level_names[level]);
		buf_add_json_string(&line, msg.data, msg.len);
		for (const struct log_field *f = fields; f && f->key; f++) {
			buf_addch(&line, ',');
			buf_add_json_string(&line, f->key, strlen(f->key));
			buf_addch(&line, ':');
			buf_add_json_string(&line, f->value ? f->value : "",
					    f->value ? strlen(f->value) : 0);
		}
		buf_addstr(&line, "}\n");
	} else {
		buf_addf(&line, "%s %-5s %s", stamp, level_names[level], msg.data);
		for (const struct log_field *f = fields; f && f->key; f++) {
			buf_addf(&line, " %s=", f->key);
			add_text_value(&line, f->value ? f->value : "");
		}
		buf_addch(&line, '\n');
	}
	fwrite(line.data, 1, line.len, stderr);
	buf_release(&line);
	buf_release(&msg);
}
