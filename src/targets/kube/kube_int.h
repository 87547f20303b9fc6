/* What client.c and discovery.c share beyond kube.h. */
#ifndef PLUMB_KUBE_INT_H
#define PLUMB_KUBE_INT_H

#include "targets/kube/kube.h"

struct kube_discovery;

/* Discovery keeps its cache in the client: the slot for it, and how to free it. */
struct kube_discovery **kube_client_discovery(struct kube_client *c);
void kube_discovery_free(struct kube_discovery *d);
/* For tests: use only the legacy endpoints from the next kube_discover on. */
void kube_discovery_force_legacy(struct kube_client *c, bool legacy);

#endif
