/* namespace, name affixes, name references: not built yet. */
#include "kust_int.h"

static int unsupported(struct klevel *lv, const char *field, struct error *err)
{
	if (node_get(lv->k, field))
		return kust_error(lv, NULL, node_get(lv->k, field), ERR_UNSUPPORTED, err,
				  "%s is not supported yet", field);
	return 0;
}

int kust_namespace(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "namespace", err);
}

int kust_name_affixes(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "namePrefix", err);
}

int kust_fix_name_refs(struct kbuild *b, struct vec *set, struct error *err)
{
	(void)b, (void)set, (void)err;
	return 0;
}
