/*
 * Applications: what to sync from where to where, read from YAML files
 * (apiVersion plumb.dev/v1, kind Application, several per file) or built from
 * command-line flags. Field names follow Argo CD and Flux where they have good ones.
 */
#ifndef PLUMB_APP_H
#define PLUMB_APP_H

#include "core/core.h"
#include "source/source.h"

struct app {
	char *name;
	char *repo_url;
	enum ref_kind ref_kind;
	char *ref_value; /* NULL for the default branch */
	char *path;	 /* inside the repository, "" for the top */
	uint64_t interval_ms;
	char *root; /* destination.host.root */
	/* destination.kubernetes (kube set): where and how to apply */
	bool kube;
	char *kubeconfig;     /* absolute; NULL: $KUBECONFIG, else ~/.kube/config */
	char *kube_context;   /* NULL: the kubeconfig's current-context */
	char *kube_namespace; /* for objects without one; NULL: the context's */
	bool force_conflicts; /* take fields over from other field managers (default) */
	bool automated;
	bool prune;
	bool self_heal;
	unsigned retry_limit;
	uint64_t retry_backoff_ms;
	double retry_factor;
	uint64_t retry_max_backoff_ms;
	uint64_t health_timeout_ms;
	char *file; /* where it was defined ("" for flags) */
	unsigned line;
};

/* The application as a JSON Application document, as stored with each sync. Caller frees. */
char *app_to_json(const struct app *app);

/*
 * Reads every Application of a YAML file into out (struct app *). Errors name
 * file:line:col and the field: unknown fields, missing repoURL or name, bad
 * durations, both a host and a Kubernetes destination, duplicate names. A
 * relative destination.kubernetes.kubeconfig is made absolute against the
 * file's directory.
 */
int app_load_file(const char *file, struct vec *out, struct error *err);
/* Rebuilds an application from the JSON of app_to_json. */
int app_from_json(const char *json, struct app **out, struct error *err);

struct app_flags {
	const char *name; /* default: the repository's name */
	const char *repo;
	const char *ref; /* as for source_parse_ref; NULL for the default branch */
	const char *path;
	const char *root; /* default "/" */
};

/* An application from command-line flags (automated off, prune on). */
int app_from_flags(const struct app_flags *flags, struct app **out, struct error *err);
void app_free(void *app);

/* Parses "90s", "5m", "1h30m", "250ms" into milliseconds; ERR_INVALID otherwise. */
int parse_duration(const char *s, uint64_t *out_ms);

#endif
