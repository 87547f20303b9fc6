/*
 * kube — the Kubernetes target's connection: kubeconfig (files, the KUBECONFIG
 * list, contexts, CA and client certificates, tokens, exec credential plugins)
 * and in-cluster service-account config; a REST client over libcurl (TLS
 * verified, keep-alive, HTTP/2, requests in parallel); and discovery (kind ->
 * resource and scope, aggregated discovery with the legacy fallback).
 */
#ifndef PLUMB_KUBE_H
#define PLUMB_KUBE_H

#include "core/core.h"

/* ---- kubeconfig.c ---- */

struct kube_exec; /* an exec credential plugin (kubeconfig.c) */

struct kube_config {
	char *source;	 /* where it came from: the file(s), or "in-cluster" */
	char *context;	 /* the context used ("" in-cluster) */
	char *server;	 /* "https://127.0.0.1:6443" */
	char *namespace; /* the context's namespace, else "default" */
	/* TLS: PEM bytes read from *-data fields or files (NULL: the system's roots) */
	char *ca_pem;
	size_t ca_len;
	bool insecure_skip_verify;
	char *tls_server_name; /* NULL unless set */
	char *cert_pem;	       /* client certificate and key, or NULL */
	size_t cert_len;
	char *key_pem;
	size_t key_len;
	/* credentials */
	char *token;	  /* bearer token, or NULL */
	char *token_file; /* re-read when the server says 401 (tokens rotate), or NULL */
	char *username;	  /* basic auth, or NULL */
	char *password;
	struct kube_exec *exec; /* or NULL */
};

struct kube_config_opts {
	/* a file, or a ':'-separated list merged as kubectl merges KUBECONFIG (the
	 * first occurrence of a name wins); NULL: $KUBECONFIG, else ~/.kube/config */
	const char *kubeconfig;
	const char *context; /* NULL: current-context */
	/* the directory of the service-account files for in-cluster config (NULL:
	 * /var/run/secrets/kubernetes.io/serviceaccount); tests point it elsewhere */
	const char *service_account_dir;
};

/*
 * Loads the config to use. Relative paths in a file resolve against its
 * directory. Errors name the file and what is wrong or missing: no such
 * context (listing the ones there are), a user or cluster the context names
 * but no file defines, unreadable certificate files, invalid base64, an
 * auth-provider (not supported: use an exec plugin).
 */
int kube_config_load(const struct kube_config_opts *opts, struct kube_config **out,
		     struct error *err);
/* In-cluster: KUBERNETES_SERVICE_HOST/PORT, and token, ca.crt and namespace from the dir. */
int kube_config_in_cluster(const struct kube_config_opts *opts, struct kube_config **out,
			   struct error *err);
/*
 * The config a client uses when told nothing more, as client-go decides: the
 * kubeconfig of opts, else $KUBECONFIG, else ~/.kube/config, else (in a pod:
 * KUBERNETES_SERVICE_HOST set and no ~/.kube/config) the in-cluster config.
 */
int kube_config_default(const struct kube_config_opts *opts, struct kube_config **out,
			struct error *err);
/*
 * Runs the exec plugin (when there is one and its credential is missing or
 * expired, or when force is set: after a 401) and sets token or cert/key from
 * its ExecCredential; re-reads token_file when force is set. 1 when
 * credentials were (re)loaded, 0 when nothing needed doing, <0 on error (the
 * message names the command and shows its stderr). kube_config_load never runs
 * a plugin: call this before the first request. Not thread-safe: it replaces
 * token, cert_pem and key_pem in place.
 */
int kube_config_refresh(struct kube_config *cfg, bool force, struct error *err);
void kube_config_free(struct kube_config *cfg);

/* ---- client.c ---- */

struct kube_client;

struct kube_response {
	long status;	      /* HTTP status */
	struct buf body;      /* the response body */
	char *content_type;   /* or NULL */
	char *warnings;	      /* "Warning:" header texts joined by "\n", or NULL */
	unsigned retry_after; /* seconds of a Retry-After header (429, 503), 0 if none */
};

/* A client for cfg (which must outlive it). */
int kube_client_new(struct kube_config *cfg, struct kube_client **out, struct error *err);
void kube_client_free(struct kube_client *c);

/*
 * One request: method ("GET", "PATCH", "DELETE", ...), path with query
 * ("/api/v1/namespaces/x/configmaps/y?dryRun=All"), optional body with its
 * content type, extra Accept (NULL: application/json). 0 whenever the server
 * answered (whatever the status: the caller reads out->status); ERR_NETWORK
 * when it could not be reached (naming the server and curl's reason),
 * ERR_TIMEOUT. A 401 refreshes the credentials once and retries. A server too
 * busy to answer (429, 503, 504) is asked again after its Retry-After, else
 * after 0.25, 0.5, 1, 2, 4 and 5 s, six times at most; the last answer stands.
 */
int kube_request(struct kube_client *c, const char *method, const char *path,
		 const char *content_type, const char *body, size_t len, const char *accept,
		 struct kube_response *out, struct error *err);
void kube_response_release(struct kube_response *r);

/*
 * Many requests at once over a few connections (HTTP/2 streams when offered),
 * with kube_request's retries (401, busy servers: the calls a server was too
 * busy for are sent again with a quarter as many in flight each time). The
 * calls must be idempotent (GET, DELETE, server-side apply): one may be sent
 * again.
 */
struct kube_call {
	const char *method;
	const char *path;
	const char *content_type;
	const char *body;
	size_t len;
	struct kube_response response; /* out */
	struct error err;	       /* out */
	int rc;			       /* out: as kube_request */
};
void kube_request_many(struct kube_client *c, struct kube_call *calls, size_t n, unsigned parallel);

/*
 * A failed response (a Status object) as an error message: its message, reason
 * and causes (field and message each), e.g. "422 Invalid: spec.replicas:
 * Invalid value: -1: must be greater than or equal to 0". The caller prefixes
 * the object and its file:line. The code: ERR_CONFLICT (409), ERR_INVALID
 * (400, 422), ERR_AUTH (401, 403), ERR_NOTFOUND (404), ERR_NETWORK (5xx, 429).
 */
int kube_status_error(const struct kube_response *r, struct error *err);

/* ---- discovery.c ---- */

struct kube_resource {
	const char *group; /* "" for the core group */
	const char *version;
	const char *kind;
	const char *resource; /* the plural used in URLs */
	bool namespaced;
};

/*
 * Reads what the server serves (aggregated discovery, else the legacy
 * endpoints), once; again when refresh is set (after a CRD is applied, or when
 * a kind is not found).
 */
int kube_discover(struct kube_client *c, bool refresh, struct error *err);
/*
 * The resource serving (group, version, kind); NULL if the server has none
 * (the caller may refresh once, then report an unknown kind naming the file).
 */
const struct kube_resource *kube_resource_find(struct kube_client *c, const char *group,
					       const char *version, const char *kind);
/* The URL path of an object: "/apis/apps/v1/namespaces/web/deployments/api" (caller frees). */
char *kube_object_path(const struct kube_resource *res, const char *namespace, const char *name);

/* ---- health.c: kstatus rules ---- */

struct node;

enum kube_health {
	KUBE_CURRENT,	  /* reconciled and ready */
	KUBE_IN_PROGRESS, /* not yet (rolling out, scheduling, ...) */
	KUBE_FAILED,	  /* will not get there without a change (deadline exceeded, ...) */
	KUBE_TERMINATING, /* being deleted */
};

const char *kube_health_name(enum kube_health h); /* "Current", "InProgress", ... */

/*
 * The health of a live object (as the API server returns it), by kstatus'
 * rules: deletionTimestamp, observedGeneration, Reconciling/Stalled, the
 * kind's own rules (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Job,
 * Service, PersistentVolumeClaim, CustomResourceDefinition; Secret, ConfigMap,
 * CronJob and PodDisruptionBudget are always current), else a Ready condition.
 * now (seconds since the epoch) is for rules with a grace period (a Pod
 * unschedulable for more than 15 s after its creation). When the result is not
 * Current, a short reason is appended to why (which may be NULL), e.g. "1 of 3
 * replicas ready", "Progressing: ProgressDeadlineExceeded".
 */
enum kube_health kube_health_of(const struct node *obj, int64_t now, struct buf *why);

/* ---- compare.c: what differs between a live object and what Git wants ---- */

struct arena;

/*
 * A deep copy of a Kubernetes object (in arena) without what the API server
 * manages: metadata.managedFields, resourceVersion, uid, generation,
 * creationTimestamp and selfLink, and status. Empty labels or annotations
 * left behind are dropped too.
 */
struct node *kube_strip_server_fields(struct arena *arena, const struct node *obj);

/*
 * Compares two stripped objects field by field: 1 if they differ, 0 if not.
 * Appends to summary (if not NULL) each differing field as "spec.replicas: 3
 * -> 1" ("added", "removed", "changed" for long or non-scalar values; at most
 * 8, then "and N more"), and to diff (if not NULL) a unified diff of the two as
 * YAML, labelled live/<label> and git/<label>. live may be NULL (absent).
 */
int kube_compare(const struct node *live, const struct node *want, const char *label,
		 struct buf *summary, struct buf *diff);

#endif
