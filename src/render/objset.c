/* Object sets: lookup, identities, and writing a set as YAML or JSON. */
#include "render.h"

#include <stdlib.h>
#include <string.h>

void objset_free(struct objset *set)
{
	if (!set)
		return;
	vec_release(&set->objs, NULL);
	map_release(&set->by_id, NULL);
	arena_release(&set->arena);
	free(set);
}

char *obj_id_key(const struct obj_id *id)
{
	return xasprintf("%s/%s/%s/%s/%s", id->group, id->version, id->kind, id->namespace,
			 id->name);
}

struct obj *objset_find(const struct objset *set, const struct obj_id *id)
{
	char *key = obj_id_key(id);
	struct obj *obj = map_get(&set->by_id, key);

	free(key);
	return obj;
}

char *obj_id_display(const struct obj_id *id)
{
	if (id->namespace[0])
		return xasprintf("%s/%s/%s", id->kind, id->namespace, id->name);
	return xasprintf("%s/%s", id->kind, id->name);
}

static void map_add(struct arena *arena, struct node *map, const char *key, struct node *value)
{
	struct node_pair *pair = &map->pairs[map->count++];

	pair->key = node_new_string(arena, key, strlen(key));
	pair->value = value;
}

static struct node *string_node(struct arena *arena, const char *s)
{
	return node_new_string(arena, s, strlen(s));
}

/* The JSON form wraps each object with its identity, location and hash. */
static int write_json(const struct objset *set, const char *revision_json, struct buf *out)
{
	struct arena arena = ARENA_INIT;
	struct node *top = node_new_map(&arena, 2);
	struct node *objects = node_new_seq(&arena, set->objs.len);
	struct node *revision = NULL;
	struct obj *obj;
	size_t i;
	int rc;

	if (revision_json) {
		struct vec docs = VEC_INIT;

		if (yaml_parse(&arena, "revision", revision_json, strlen(revision_json), NULL,
			       &docs, NULL) == 0 &&
		    docs.len)
			revision = ((struct yaml_doc *)docs.items[0])->root;
		vec_release(&docs, NULL);
	}
	if (!revision) {
		revision = arena_alloc(&arena, sizeof(*revision));
		revision->type = NODE_NULL;
		revision->str = "null";
		revision->len = 4;
	}
	vec_foreach (&set->objs, i, obj) {
		struct node *entry = node_new_map(&arena, 8);
		char hex[SHA256_HEX_LEN + 1];
		char *source = xasprintf("%s:%u", obj->file, obj->line);

		hex_encode(obj->hash, SHA256_LEN, hex);
		map_add(&arena, entry, "group", string_node(&arena, obj->id.group));
		map_add(&arena, entry, "version", string_node(&arena, obj->id.version));
		map_add(&arena, entry, "kind", string_node(&arena, obj->id.kind));
		map_add(&arena, entry, "namespace", string_node(&arena, obj->id.namespace));
		map_add(&arena, entry, "name", string_node(&arena, obj->id.name));
		map_add(&arena, entry, "source", string_node(&arena, source));
		map_add(&arena, entry, "sha256", string_node(&arena, hex));
		map_add(&arena, entry, "object", obj->root);
		free(source);
		objects->items[objects->count++] = entry;
	}
	map_add(&arena, top, "revision", revision);
	map_add(&arena, top, "objects", objects);
	rc = node_emit_json(top, 2, out);
	if (rc == 0)
		rc = buf_addch(out, '\n');
	arena_release(&arena);
	return rc;
}

int objset_write(const struct objset *set, enum render_format format, const char *revision_json,
		 struct buf *out)
{
	struct obj *obj;
	size_t i;
	int rc = 0;

	if (format == RENDER_JSON)
		return write_json(set, revision_json, out);
	vec_foreach (&set->objs, i, obj) {
		if (i && (rc = buf_addstr(out, "---\n")) < 0)
			break;
		if ((rc = node_emit_yaml_flags(obj->root, set->emit_flags, out)) < 0)
			break;
	}
	return rc;
}
