/* configMapGenerator, secretGenerator and generatorOptions: not built yet. */
#include "kust_int.h"

int kust_generate(struct klevel *lv, struct vec *set, struct error *err)
{
	(void)set;
	if (node_get(lv->k, "configMapGenerator") || node_get(lv->k, "secretGenerator"))
		return kust_error(lv, NULL, NULL, ERR_UNSUPPORTED, err,
				  "generators are not supported yet");
	return 0;
}

int kust_hash_names(struct kbuild *b, struct vec *set, struct error *err)
{
	(void)b, (void)set, (void)err;
	return 0;
}
