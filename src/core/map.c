/*
 * String-keyed hash map: open addressing with linear probing, FNV-1a hashes,
 * tombstones on delete, and a rehash when live + deleted slots pass 70%.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#define TOMBSTONE ((char *)&map_tombstone)
static char map_tombstone;

uint64_t hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The slot holding key, or the slot where it would go (first tombstone seen, else empty). */
static struct map_entry *map_find(const struct map *m, const char *key, uint64_t hash)
{
	size_t mask = m->cap - 1;
	struct map_entry *grave = NULL;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct map_entry *e = &m->slots[i];

		if (!e->key)
			return grave ? grave : e;
		if (e->key == TOMBSTONE) {
			if (!grave)
				grave = e;
		} else if (e->hash == hash && strcmp(e->key, key) == 0) {
			return e;
		}
	}
}

static void map_resize(struct map *m, size_t cap)
{
	struct map_entry *old = m->slots;
	size_t old_cap = m->cap;

	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->cap = cap;
	m->tombstones = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].key && old[i].key != TOMBSTONE)
			*map_find(m, old[i].key, old[i].hash) = old[i];
	}
	free(old);
}

void *map_get(const struct map *m, const char *key)
{
	struct map_entry *e;

	if (!m->len)
		return NULL;
	e = map_find(m, key, hash_bytes(key, strlen(key)));
	return e->key && e->key != TOMBSTONE ? e->value : NULL;
}

bool map_has(const struct map *m, const char *key)
{
	struct map_entry *e;

	if (!m->len)
		return false;
	e = map_find(m, key, hash_bytes(key, strlen(key)));
	return e->key && e->key != TOMBSTONE;
}

void *map_put(struct map *m, const char *key, void *value)
{
	uint64_t hash = hash_bytes(key, strlen(key));
	struct map_entry *e;

	if ((m->len + m->tombstones + 1) * 10 >= m->cap * 7)
		map_resize(m, m->cap ? (m->len * 2 >= m->cap ? m->cap * 2 : m->cap) : 16);
	e = map_find(m, key, hash);
	if (e->key && e->key != TOMBSTONE) {
		void *old = e->value;

		e->value = value;
		return old;
	}
	if (e->key == TOMBSTONE)
		m->tombstones--;
	e->key = xstrdup(key);
	e->hash = hash;
	e->value = value;
	m->len++;
	return NULL;
}

void *map_del(struct map *m, const char *key)
{
	struct map_entry *e;
	void *old;

	if (!m->len)
		return NULL;
	e = map_find(m, key, hash_bytes(key, strlen(key)));
	if (!e->key || e->key == TOMBSTONE)
		return NULL;
	old = e->value;
	free(e->key);
	e->key = TOMBSTONE;
	e->value = NULL;
	m->len--;
	m->tombstones++;
	return old;
}

bool map_next(const struct map *m, size_t *pos, const char **key, void **value)
{
	while (*pos < m->cap) {
		struct map_entry *e = &m->slots[(*pos)++];

		if (e->key && e->key != TOMBSTONE) {
			if (key)
				*key = e->key;
			if (value)
				*value = e->value;
			return true;
		}
	}
	return false;
}

void map_release(struct map *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->cap; i++) {
		struct map_entry *e = &m->slots[i];

		if (e->key && e->key != TOMBSTONE) {
			if (free_value)
				free_value(e->value);
			free(e->key);
		}
	}
	FREE_AND_NULL(m->slots);
	m->cap = 0;
	m->len = 0;
	m->tombstones = 0;
}
