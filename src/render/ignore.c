/*
 * .plumbignore: gitignore syntax. Patterns apply below the directory of the file
 * that holds them; the last pattern that matches decides; `!` re-includes; a
 * trailing `/` matches directories only; a pattern with a `/` before its end is
 * anchored to its directory, one without matches a name at any depth; `*` and
 * `?` stop at `/`, `**` crosses it, `[...]` is a character class.
 *
 * Callers check each path as they walk down, skipping excluded directories, so
 * (as in Git) nothing below an excluded directory can be re-included.
 */
#include "render.h"

#include <stdlib.h>
#include <string.h>

struct ignore {
	char *base;    /* directory of the .plumbignore, "" for the top */
	char *pattern; /* without '!', leading '/' and trailing '/' */
	bool negate;
	bool dir_only;
	bool anchored;
	struct ignore *next;
};

/* Matches a bracket expression at *pp against c; advances *pp past it. */
static bool match_class(const char **pp, char c, bool *ok)
{
	const char *p = *pp + 1;
	bool negate = false, found = false;

	if (*p == '!' || *p == '^') {
		negate = true;
		p++;
	}
	for (bool first = true; *p && (first || *p != ']'); first = false) {
		unsigned char lo, hi;

		if (*p == '\\' && p[1])
			p++;
		lo = hi = (unsigned char)*p;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			p += 2;
			if (*p == '\\' && p[1])
				p++;
			hi = (unsigned char)*p;
		}
		if ((unsigned char)c >= lo && (unsigned char)c <= hi)
			found = true;
		p++;
	}
	if (*p != ']') {
		*ok = false; /* unterminated: the '[' is literal */
		return false;
	}
	*ok = true;
	*pp = p + 1;
	return found != negate;
}

/*
 * Glob match of a whole path; see the file comment for the syntax. `budget`
 * bounds the backtracking ("*a*a*a*b" against a long run of "a" would otherwise
 * take exponential time): a pattern that exhausts it does not match.
 */
static bool glob_match(const char *p, const char *s, unsigned long *budget)
{
	if (*budget == 0)
		return false;
	(*budget)--;
	while (*p) {
		if (p[0] == '*' && p[1] == '*') {
			const char *rest = p + 2;

			if (*rest == '/') {
				/* "**\/" matches zero or more whole directories */
				rest++;
				if (glob_match(rest, s, budget))
					return true;
				for (const char *t = s; *t; t++)
					if (*t == '/' && glob_match(rest, t + 1, budget))
						return true;
				return false;
			}
			for (const char *t = s;; t++) {
				if (glob_match(rest, t, budget))
					return true;
				if (!*t)
					return false;
			}
		}
		if (*p == '*') {
			for (const char *t = s;; t++) {
				if (glob_match(p + 1, t, budget))
					return true;
				if (!*t || *t == '/')
					return false;
			}
		}
		if (!*s)
			return false;
		if (*p == '?') {
			if (*s == '/')
				return false;
		} else if (*p == '[') {
			bool ok;
			const char *q = p;

			if (*s == '/')
				return false;
			bool hit = match_class(&q, *s, &ok);

			if (ok) {
				if (!hit)
					return false;
				p = q;
				s++;
				continue;
			}
			if (*s != '[')
				return false;
		} else {
			if (*p == '\\' && p[1])
				p++;
			if (*p != *s)
				return false;
		}
		p++;
		s++;
	}
	return *s == '\0';
}

void ignore_add(struct ignore **list, const char *base, const char *text, size_t len)
{
	struct ignore **tail = list;
	struct str rest = str_make(text, len), line;

	while (*tail)
		tail = &(*tail)->next;
	while (rest.len) {
		str_cut(rest, '\n', &line, &rest);
		if (str_has_suffix(line, "\r"))
			line.len--;
		/* trailing spaces are dropped unless escaped with a backslash */
		while (line.len && line.ptr[line.len - 1] == ' ' &&
		       !(line.len > 1 && line.ptr[line.len - 2] == '\\'))
			line.len--;
		if (!line.len || line.ptr[0] == '#')
			continue;

		struct ignore *ig = xcalloc(1, sizeof(*ig));

		if (line.ptr[0] == '!') {
			ig->negate = true;
			line.ptr++;
			line.len--;
		} else if (line.ptr[0] == '\\' && line.len > 1 &&
			   (line.ptr[1] == '#' || line.ptr[1] == '!')) {
			line.ptr++;
			line.len--;
		}
		if (line.len && line.ptr[line.len - 1] == '/') {
			ig->dir_only = true;
			line.len--;
		}
		if (memchr(line.ptr, '/', line.len))
			ig->anchored = true;
		if (line.len && line.ptr[0] == '/') {
			line.ptr++;
			line.len--;
		}
		if (!line.len) {
			free(ig);
			continue;
		}
		ig->pattern = str_dup(line);
		ig->base = xstrdup(base);
		*tail = ig;
		tail = &ig->next;
	}
}

bool ignore_match(const struct ignore *list, const char *path, bool is_dir)
{
	bool excluded = false;

	for (const struct ignore *ig = list; ig; ig = ig->next) {
		size_t base_len = strlen(ig->base);
		const char *rel = path;

		if (base_len) {
			if (strncmp(path, ig->base, base_len) != 0 || path[base_len] != '/')
				continue;
			rel = path + base_len + 1;
		}
		if (ig->dir_only && !is_dir)
			continue;
		if (!ig->anchored) {
			const char *slash = strrchr(rel, '/');

			rel = slash ? slash + 1 : rel;
		}
		unsigned long budget = 100000;

		if (glob_match(ig->pattern, rel, &budget))
			excluded = !ig->negate;
	}
	return excluded;
}

void ignore_free(struct ignore *list)
{
	while (list) {
		struct ignore *next = list->next;

		free(list->base);
		free(list->pattern);
		free(list);
		list = next;
	}
}
