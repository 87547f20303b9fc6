/* Vectors of pointers. */
#include "core.h"

#include <assert.h>
#include <stdlib.h>

void vec_push(struct vec *v, void *item)
{
	if (v->len == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->items = xrealloc(v->items, v->cap * sizeof(*v->items));
	}
	v->items[v->len++] = item;
}

void *vec_pop(struct vec *v)
{
	return v->len ? v->items[--v->len] : NULL;
}

void *vec_get(const struct vec *v, size_t i)
{
	assert(i < v->len);
	return v->items[i];
}

void vec_sort(struct vec *v, int (*cmp)(const void *a, const void *b))
{
	if (v->len > 1)
		qsort(v->items, v->len, sizeof(*v->items), cmp);
}

void vec_release(struct vec *v, void (*free_item)(void *))
{
	if (free_item)
		for (size_t i = 0; i < v->len; i++)
			free_item(v->items[i]);
	FREE_AND_NULL(v->items);
	v->len = 0;
	v->cap = 0;
}
