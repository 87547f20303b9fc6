/*
 * plan — what a sync would do: the desired object set compared with the live
 * target and with the application's inventory (what plumb applied before).
 * Every object gets exactly one action, and a readable diff says why.
 *
 * A plan is built whole and validated whole before anything is written: one
 * invalid object means no plan, and the error names its file and line.
 */
#ifndef PLUMB_PLAN_H
#define PLUMB_PLAN_H

#include "core/core.h"
#include "render/render.h"
#include "store/store.h"
#include "targets/host/host.h"

struct kube_resource;

enum action {
	ACTION_UNCHANGED,
	ACTION_CREATE,
	ACTION_UPDATE,
	ACTION_DELETE,
};

struct change {
	enum action action;
	char *key;     /* obj_id_key() */
	char *display; /* "File/motd" */
	char *path;    /* on the host */
	enum host_kind kind;
	/* desired side (NULL for a delete) */
	const struct obj *desired;
	struct host_resource *resource;
	/* inventory side (NULL if plumb did not manage it before) */
	const struct inventory_entry *inventory;
	bool take_over;	  /* create where something unmanaged exists: keep the original */
	bool purge_entry; /* a delete found by a Directory's purge, not from the inventory */
	bool orphan;	  /* in the inventory, not desired, and pruning is off: left alone */
	bool moved; /* the old path of an object whose path changed: remove it, keep the entry */
	struct buf summary; /* one line: "content, mode 0644 -> 0600" */
	struct buf diff;    /* unified diff of content and readable lines, may be empty */
	char hash[SHA256_HEX_LEN + 1]; /* desired state hash, for the inventory */
	/* Kubernetes objects (the nodes live in the target's arena) */
	bool kube;
	const struct kube_resource *kres; /* NULL until served (a CRD of this set) */
	char *url;			  /* the object's API path */
	char *body;	     /* the object as applied (JSON: namespace, plumb's label) */
	struct node *live;   /* as the API server holds it, NULL if absent */
	struct node *dryrun; /* what a server-side apply would make of it */
	int stage;     /* 0: CRDs and Namespaces, 1: cluster-scoped, 2: namespaced, 3: workloads */
	bool deferred; /* its namespace or CRD is created by this sync: dry run after stage 0 */
	bool keep;     /* not in Git but not pruned: no plumb label, or prune disabled */
};

struct plan {
	struct vec changes; /* struct change *: applies by path, then deletes deepest first */
	unsigned counts[4]; /* by enum action */
	unsigned orphans;
};

struct plan_opts {
	bool prune; /* delete what the inventory has and the set does not */
	const char *revision;
};

/*
 * Builds the plan for a host target. `tree` resolves File sources; inventory
 * is the application's (struct inventory_entry *). ERR_INVALID lists every
 * invalid object (file:line), two objects with one path, and a parent directory
 * that neither exists nor is declared.
 */
int plan_build_host(struct host_target *target, const struct objset *desired, struct tree *tree,
		    const struct vec *inventory, const struct plan_opts *opts, struct plan *out,
		    struct error *err);
void plan_release(struct plan *plan);
/* Frees one change (struct change *), as plan_release does each. */
void change_free(void *change);
bool plan_has_changes(const struct plan *plan);
const char *action_name(enum action action);

/*
 * Human-readable plan: a line per change (unchanged objects only counted, unless
 * taken over), diffs when `diffs` is set, colour with `color`, then the counts.
 */
void plan_print(const struct plan *plan, bool diffs, bool color, struct buf *out);
/* JSON array of changes: {action, kind, object, key, path, summary, diff, source,
 * takeOver}, and namespace for a Kubernetes object (its path is the namespace too). */
void plan_json(const struct plan *plan, struct buf *out);

/*
 * Appends to out a unified diff (as `diff -u`, with `context` lines) turning a
 * into b, with the given labels. Returns 1 if they differ, 0 if not.
 */
int udiff(const char *a, size_t a_len, const char *b, size_t b_len, const char *label_a,
	  const char *label_b, unsigned context, struct buf *out);

#endif
