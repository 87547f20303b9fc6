/* patches: not built yet. */
#include "kust_int.h"

static int unsupported(struct klevel *lv, const char *field, struct error *err)
{
	if (node_get(lv->k, field))
		return kust_error(lv, NULL, node_get(lv->k, field), ERR_UNSUPPORTED, err,
				  "%s is not supported yet", field);
	return 0;
}

int kust_patches_strategic_merge(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "patchesStrategicMerge", err);
}

int kust_patches(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "patches", err);
}

int kust_patches_json6902(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "patchesJson6902", err);
}

int kust_strategic_merge(struct kbuild *b, struct node *target, const struct node *patch,
			 struct error *err)
{
	(void)b, (void)target, (void)patch;
	return error_set(err, ERR_UNSUPPORTED, "strategic merge is not supported yet");
}
