/* labels, annotations, replicas, images: not built yet. */
#include "kust_int.h"

static int unsupported(struct klevel *lv, const char *field, struct error *err)
{
	if (node_get(lv->k, field))
		return kust_error(lv, NULL, node_get(lv->k, field), ERR_UNSUPPORTED, err,
				  "%s is not supported yet", field);
	return 0;
}

int kust_labels(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "labels", err);
}

int kust_annotations(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "commonAnnotations", err);
}

int kust_replicas(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "replicas", err);
}

int kust_images(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	return unsupported(lv, "images", err);
}
