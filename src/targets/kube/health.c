/*
 * health.c — whether a live object has reached the state it was applied for,
 * by kstatus' rules (sigs.k8s.io/cli-utils pkg/kstatus), in kstatus' order:
 *
 *   1. metadata.deletionTimestamp set: Terminating;
 *   2. status.observedGeneration present and != metadata.generation: InProgress;
 *   3. a condition Reconciling=True: InProgress; Stalled=True: Failed;
 *   4. the kind's own rules (matched by group and kind);
 *   5. a Ready condition: True is Current, False or Unknown InProgress;
 *   6. else Current.
 *
 * Counts that are absent read as 0 (spec.replicas as 1, as the controllers
 * default it). Anything not Current gets a short reason appended to *why.
 */
#include "targets/kube/kube.h"

#include "yaml/yaml.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

/* How long a Pending pod may stay unschedulable before it counts as Failed. */
#define POD_SCHEDULE_WINDOW 15

const char *kube_health_name(enum kube_health h)
{
	switch (h) {
	case KUBE_CURRENT:
		return "Current";
	case KUBE_IN_PROGRESS:
		return "InProgress";
	case KUBE_FAILED:
		return "Failed";
	case KUBE_TERMINATING:
		return "Terminating";
	}
	return "Unknown";
}

/* ---- reading the object ---- */

/* The node at a '.'-separated path of mapping keys, NULL if any step is missing. */
static const struct node *node_at(const struct node *n, const char *path)
{
	char key[64];

	while (n && *path) {
		size_t len = strcspn(path, ".");

		if (len >= sizeof(key))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		n = node_get(n, key);
		path += len;
		if (*path == '.')
			path++;
	}
	return n;
}

/* The integer at path, or fallback when it is absent or not an integer. */
static int64_t int_at(const struct node *obj, const char *path, int64_t fallback)
{
	const struct node *n = node_at(obj, path);

	if (!n || n->type != NODE_INT)
		return fallback;
	return n->as.integer;
}

static bool has_int_at(const struct node *obj, const char *path)
{
	const struct node *n = node_at(obj, path);

	return n && n->type == NODE_INT;
}

/* The string at path, or fallback (which may be NULL). */
static const char *string_at(const struct node *obj, const char *path, const char *fallback)
{
	const char *s = node_string(node_at(obj, path));

	return s ? s : fallback;
}

static bool str_is(const char *s, const char *expected)
{
	return s && strcmp(s, expected) == 0;
}

/* A condition's fields; empty strings for the ones it lacks. */
struct condition {
	const char *type;
	const char *status;
	const char *reason;
	const char *message;
};

static struct condition condition_read(const struct node *item)
{
	struct condition c;

	c.type = string_at(item, "type", "");
	c.status = string_at(item, "status", "");
	c.reason = string_at(item, "reason", "");
	c.message = string_at(item, "message", "");
	return c;
}

/* status.conditions, or NULL when the object has none (or they are not a list). */
static const struct node *conditions_of(const struct node *obj)
{
	const struct node *list = node_at(obj, "status.conditions");

	return list && list->type == NODE_SEQ ? list : NULL;
}

/* The first condition of that type; false when there is none. */
static bool condition_find(const struct node *obj, const char *type, struct condition *out)
{
	const struct node *list = conditions_of(obj);

	for (size_t i = 0; list && i < list->count; i++) {
		struct condition c = condition_read(list->items[i]);

		if (strcmp(c.type, type) == 0) {
			*out = c;
			return true;
		}
	}
	return false;
}

static bool condition_is(const struct node *obj, const char *type, const char *status)
{
	struct condition c;

	return condition_find(obj, type, &c) && strcmp(c.status, status) == 0;
}

/*
 * Seconds since the epoch of an RFC 3339 time ("2024-05-01T10:00:00Z",
 * fractions and "+02:00" offsets allowed); false if s is not one.
 */
static bool parse_time(const char *s, int64_t *out)
{
	static const char layout[] = "dddd-dd-ddTdd:dd:dd";
	int fields[6] = {0};
	int field = 0;
	struct tm tm;
	int64_t offset = 0;
	time_t t;

	if (!s)
		return false;
	for (size_t i = 0; i < sizeof(layout) - 1; i++) {
		if (layout[i] == 'd') {
			if (s[i] < '0' || s[i] > '9')
				return false;
			fields[field] = fields[field] * 10 + (s[i] - '0');
		} else {
			if (s[i] != layout[i] &&
			    !(layout[i] == 'T' && (s[i] == 't' || s[i] == ' ')))
				return false;
			field++;
		}
	}
	s += sizeof(layout) - 1;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
		   s[2] <= '9' && s[3] == ':' && s[4] >= '0' && s[4] <= '9' && s[5] >= '0' &&
		   s[5] <= '9') {
		offset = ((s[1] - '0') * 10 + (s[2] - '0')) * 3600 +
			 ((s[4] - '0') * 10 + (s[5] - '0')) * 60;
		if (*s == '-')
			offset = -offset;
		s += 6;
	} else {
		return false;
	}
	if (*s != '\0' || fields[1] < 1 || fields[1] > 12 || fields[2] < 1 || fields[2] > 31 ||
	    fields[3] > 23 || fields[4] > 59 || fields[5] > 60)
		return false;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = fields[0] - 1900;
	tm.tm_mon = fields[1] - 1;
	tm.tm_mday = fields[2];
	tm.tm_hour = fields[3];
	tm.tm_min = fields[4];
	tm.tm_sec = fields[5];
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t - offset;
	return true;
}

/* ---- reasons ---- */

static void why_addf(struct buf *why, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Appends to why when the caller wants a reason (a full buffer just stops growing). */
static void why_addf(struct buf *why, const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return;
	va_start(ap, fmt);
	(void)buf_vaddf(why, fmt, ap);
	va_end(ap);
}

/* ": reason: message", leaving out the parts that are empty. */
static void why_add_detail(struct buf *why, const char *reason, const char *message)
{
	if (*reason)
		why_addf(why, ": %s", reason);
	if (*message)
		why_addf(why, ": %s", message);
}

/* "Type: reason: message", for a condition that decides on its own. */
static void why_add_condition(struct buf *why, const struct condition *c)
{
	why_addf(why, "%s", c->type);
	why_add_detail(why, c->reason, c->message);
}

/* "condition Type is Status: reason: message". */
static void why_add_condition_status(struct buf *why, const struct condition *c)
{
	why_addf(why, "condition %s is %s", c->type, *c->status ? c->status : "unset");
	why_add_detail(why, c->reason, c->message);
}

/* InProgress with "have of want what" ("2 of 3 replicas ready") when have < want. */
static bool short_of(int64_t have, int64_t want, const char *what, struct buf *why)
{
	if (have >= want)
		return false;
	why_addf(why, "%" PRId64 " of %" PRId64 " %s", have, want, what);
	return true;
}

/* InProgress when more replicas run than the spec asks for. */
static bool extra_replicas(int64_t status_replicas, int64_t spec_replicas, struct buf *why)
{
	int64_t extra;

	/* a live object may carry any values: no subtraction that can overflow */
	if (status_replicas <= spec_replicas)
		return false;
	extra = spec_replicas < 0 && status_replicas > INT64_MAX + spec_replicas
			? INT64_MAX
			: status_replicas - spec_replicas;
	why_addf(why, "%" PRId64 " old replica%s pending termination", extra,
		 extra == 1 ? "" : "s");
	return true;
}

/* ---- the kinds' own rules ---- */

static enum kube_health deployment_health(const struct node *obj, struct buf *why)
{
	const struct node *list = conditions_of(obj);
	/* Without a deadline the controller never sets Progressing=NewReplicaSetAvailable. */
	bool progressed = !has_int_at(obj, "spec.progressDeadlineSeconds") ||
			  int_at(obj, "spec.progressDeadlineSeconds", 0) == INT32_MAX;
	bool available = false;
	int64_t spec_replicas = int_at(obj, "spec.replicas", 1);
	int64_t replicas = int_at(obj, "status.replicas", 0);
	int64_t updated = int_at(obj, "status.updatedReplicas", 0);
	int64_t ready = int_at(obj, "status.readyReplicas", 0);
	int64_t available_replicas = int_at(obj, "status.availableReplicas", 0);

	for (size_t i = 0; list && i < list->count; i++) {
		struct condition c = condition_read(list->items[i]);

		if (strcmp(c.type, "Progressing") == 0) {
			if (strcmp(c.reason, "ProgressDeadlineExceeded") == 0) {
				why_add_condition(why, &c);
				return KUBE_FAILED;
			}
			if (strcmp(c.status, "True") == 0 &&
			    strcmp(c.reason, "NewReplicaSetAvailable") == 0)
				progressed = true;
		} else if (strcmp(c.type, "Available") == 0 && strcmp(c.status, "True") == 0) {
			available = true;
		}
	}

	if (short_of(replicas, spec_replicas, "replicas created", why) ||
	    short_of(updated, spec_replicas, "replicas updated", why) ||
	    extra_replicas(replicas, spec_replicas, why) ||
	    short_of(available_replicas, updated, "updated replicas available", why) ||
	    short_of(ready, spec_replicas, "replicas ready", why))
		return KUBE_IN_PROGRESS;
	if (!progressed) {
		why_addf(why, "new replica set not available yet");
		return KUBE_IN_PROGRESS;
	}
	if (!available) {
		why_addf(why, "condition Available is not True");
		return KUBE_IN_PROGRESS;
	}
	return KUBE_CURRENT;
}

static enum kube_health statefulset_health(const struct node *obj, struct buf *why)
{
	int64_t spec_replicas = int_at(obj, "spec.replicas", 1);
	int64_t replicas = int_at(obj, "status.replicas", 0);
	int64_t ready = int_at(obj, "status.readyReplicas", 0);
	int64_t current = int_at(obj, "status.currentReplicas", 0);
	int64_t updated = int_at(obj, "status.updatedReplicas", 0);
	const char *current_revision, *update_revision;

	/* Pods of an OnDelete set are replaced by hand: nothing to wait for. */
	if (str_is(string_at(obj, "spec.updateStrategy.type", NULL), "OnDelete"))
		return KUBE_CURRENT;

	if (short_of(replicas, spec_replicas, "replicas created", why) ||
	    short_of(ready, spec_replicas, "replicas ready", why) ||
	    extra_replicas(replicas, spec_replicas, why))
		return KUBE_IN_PROGRESS;

	if (has_int_at(obj, "spec.updateStrategy.rollingUpdate.partition")) {
		int64_t partition = int_at(obj, "spec.updateStrategy.rollingUpdate.partition", 0);

		/* the API server keeps both at 0 or more; a value that is not is ignored */
		if (partition < 0 || spec_replicas < 0)
			partition = 0;
		if (updated < spec_replicas - partition) {
			why_addf(why,
				 "%" PRId64 " of %" PRId64 " replicas updated (partition %" PRId64
				 ")",
				 updated, spec_replicas - partition, partition);
			return KUBE_IN_PROGRESS;
		}
		return KUBE_CURRENT;
	}

	if (short_of(current, spec_replicas, "replicas at the current revision", why))
		return KUBE_IN_PROGRESS;

	current_revision = string_at(obj, "status.currentRevision", "");
	update_revision = string_at(obj, "status.updateRevision", "");
	if (strcmp(current_revision, update_revision) != 0) {
		why_addf(why, "revision %s not rolled out yet (current %s)", update_revision,
			 current_revision);
		return KUBE_IN_PROGRESS;
	}
	return KUBE_CURRENT;
}

static enum kube_health daemonset_health(const struct node *obj, struct buf *why)
{
	int64_t desired;

	/* The controller always sets these once it has seen the object. */
	if (!has_int_at(obj, "metadata.generation")) {
		why_addf(why, "metadata.generation not set yet");
		return KUBE_IN_PROGRESS;
	}
	if (!has_int_at(obj, "status.observedGeneration")) {
		why_addf(why, "status.observedGeneration not set yet");
		return KUBE_IN_PROGRESS;
	}
	if (!has_int_at(obj, "status.desiredNumberScheduled")) {
		why_addf(why, "status.desiredNumberScheduled not set yet");
		return KUBE_IN_PROGRESS;
	}
	desired = int_at(obj, "status.desiredNumberScheduled", 0);
	if (short_of(int_at(obj, "status.currentNumberScheduled", 0), desired, "pods scheduled",
		     why) ||
	    short_of(int_at(obj, "status.updatedNumberScheduled", 0), desired, "pods updated",
		     why) ||
	    short_of(int_at(obj, "status.numberAvailable", 0), desired, "pods available", why) ||
	    short_of(int_at(obj, "status.numberReady", 0), desired, "pods ready", why))
		return KUBE_IN_PROGRESS;
	return KUBE_CURRENT;
}

static enum kube_health replicaset_health(const struct node *obj, struct buf *why)
{
	int64_t spec_replicas = int_at(obj, "spec.replicas", 1);
	struct condition c;

	/* kstatus counts a failure to create pods (quota, admission) as in progress. */
	if (condition_find(obj, "ReplicaFailure", &c) && strcmp(c.status, "True") == 0) {
		why_add_condition(why, &c);
		return KUBE_IN_PROGRESS;
	}
	if (short_of(int_at(obj, "status.fullyLabeledReplicas", 0), spec_replicas,
		     "replicas fully labeled", why) ||
	    short_of(int_at(obj, "status.availableReplicas", 0), spec_replicas,
		     "replicas available", why) ||
	    short_of(int_at(obj, "status.readyReplicas", 0), spec_replicas, "replicas ready",
		     why) ||
	    extra_replicas(int_at(obj, "status.replicas", 0), spec_replicas, why))
		return KUBE_IN_PROGRESS;
	return KUBE_CURRENT;
}

/*
 * The first container in status.containerStatuses waiting with reason `only`
 * (with any reason when only is NULL): its name and reason; false if none.
 */
static bool container_waiting(const struct node *obj, const char *only, const char **name,
			      const char **reason)
{
	const struct node *list = node_at(obj, "status.containerStatuses");

	for (size_t i = 0; list && list->type == NODE_SEQ && i < list->count; i++) {
		const char *r = string_at(list->items[i], "state.waiting.reason", NULL);

		if (r && (!only || strcmp(r, only) == 0)) {
			*name = string_at(list->items[i], "name", "?");
			*reason = r;
			return true;
		}
	}
	return false;
}

static enum kube_health pod_health(const struct node *obj, int64_t now, struct buf *why)
{
	const char *phase = string_at(obj, "status.phase", "");
	const char *name, *reason;
	struct condition c;

	/* A pod that ran to its end, well or not, has nothing more to become. */
	if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)
		return KUBE_CURRENT;

	if (strcmp(phase, "Running") == 0) {
		if (condition_is(obj, "Ready", "True"))
			return KUBE_CURRENT;
		if (container_waiting(obj, "CrashLoopBackOff", &name, &reason)) {
			why_addf(why, "pod is waiting: %s (container %s)", reason, name);
			return KUBE_FAILED;
		}
		why_addf(why, "pod is running but not ready");
		return KUBE_IN_PROGRESS;
	}

	if (strcmp(phase, "Pending") == 0) {
		if (condition_find(obj, "PodScheduled", &c) && strcmp(c.status, "False") == 0 &&
		    strcmp(c.reason, "Unschedulable") == 0) {
			int64_t created;
			/* A pod without a creation time is as old as can be (as in kstatus). */
			bool known = parse_time(string_at(obj, "metadata.creationTimestamp", NULL),
						&created);
			int64_t age = known ? now - created : INT64_MAX;

			if (known)
				why_addf(why, "unschedulable for %" PRId64 " s", age);
			else
				why_addf(why, "unschedulable");
			if (*c.message)
				why_addf(why, ": %s", c.message);
			return age > POD_SCHEDULE_WINDOW ? KUBE_FAILED : KUBE_IN_PROGRESS;
		}
		why_addf(why, "pod is Pending");
		if (container_waiting(obj, NULL, &name, &reason))
			why_addf(why, ": waiting: %s (container %s)", reason, name);
		return KUBE_IN_PROGRESS;
	}

	if (*phase)
		why_addf(why, "pod phase is %s", phase);
	else
		why_addf(why, "pod has no phase yet");
	return KUBE_IN_PROGRESS;
}

static enum kube_health job_health(const struct node *obj, struct buf *why)
{
	const struct node *list = conditions_of(obj);

	for (size_t i = 0; list && i < list->count; i++) {
		struct condition c = condition_read(list->items[i]);

		if (strcmp(c.status, "True") != 0)
			continue;
		if (strcmp(c.type, "Complete") == 0 || strcmp(c.type, "Suspended") == 0)
			return KUBE_CURRENT;
		if (strcmp(c.type, "Failed") == 0) {
			why_add_condition(why, &c);
			return KUBE_FAILED;
		}
	}
	/* A job that has started counts as current while it runs. */
	if (*string_at(obj, "status.startTime", ""))
		return KUBE_CURRENT;
	why_addf(why, "job not started yet");
	return KUBE_IN_PROGRESS;
}

static enum kube_health service_health(const struct node *obj, struct buf *why)
{
	if (str_is(string_at(obj, "spec.type", NULL), "LoadBalancer") &&
	    !*string_at(obj, "spec.clusterIP", "")) {
		why_addf(why, "load balancer has no cluster IP yet");
		return KUBE_IN_PROGRESS;
	}
	return KUBE_CURRENT;
}

static enum kube_health pvc_health(const struct node *obj, struct buf *why)
{
	const char *phase = string_at(obj, "status.phase", "");

	if (strcmp(phase, "Bound") == 0)
		return KUBE_CURRENT;
	why_addf(why, "not Bound (%s)", *phase ? phase : "no phase yet");
	return KUBE_IN_PROGRESS;
}

static enum kube_health crd_health(const struct node *obj, struct buf *why)
{
	const struct node *list = conditions_of(obj);

	for (size_t i = 0; list && i < list->count; i++) {
		struct condition c = condition_read(list->items[i]);

		if (strcmp(c.type, "NamesAccepted") == 0 && strcmp(c.status, "False") == 0) {
			why_add_condition_status(why, &c);
			return KUBE_FAILED;
		}
		if (strcmp(c.type, "Established") == 0) {
			if (strcmp(c.status, "True") == 0)
				return KUBE_CURRENT;
			if (strcmp(c.status, "False") == 0) {
				why_add_condition_status(why, &c);
				return strcmp(c.reason, "Installing") == 0 ? KUBE_IN_PROGRESS
									   : KUBE_FAILED;
			}
		}
	}
	why_addf(why, "not Established yet");
	return KUBE_IN_PROGRESS;
}

static enum kube_health always_current(const struct node *obj, struct buf *why)
{
	(void)obj;
	(void)why;
	return KUBE_CURRENT;
}

/* ---- dispatch ---- */

/* A kind's rule: health, or timed_health for rules that need the time. */
struct kind_rule {
	const char *group; /* "" for the core group */
	const char *kind;
	enum kube_health (*health)(const struct node *obj, struct buf *why);
	enum kube_health (*timed_health)(const struct node *obj, int64_t now, struct buf *why);
};

static const struct kind_rule kind_rules[] = {
	{"apps", "Deployment", deployment_health, NULL},
	{"extensions", "Deployment", deployment_health, NULL},
	{"apps", "StatefulSet", statefulset_health, NULL},
	{"apps", "DaemonSet", daemonset_health, NULL},
	{"extensions", "DaemonSet", daemonset_health, NULL},
	{"apps", "ReplicaSet", replicaset_health, NULL},
	{"extensions", "ReplicaSet", replicaset_health, NULL},
	{"", "Pod", NULL, pod_health},
	{"batch", "Job", job_health, NULL},
	{"", "Service", service_health, NULL},
	{"", "PersistentVolumeClaim", pvc_health, NULL},
	{"apiextensions.k8s.io", "CustomResourceDefinition", crd_health, NULL},
	{"", "Secret", always_current, NULL},
	{"", "ConfigMap", always_current, NULL},
	{"batch", "CronJob", always_current, NULL},
	{"policy", "PodDisruptionBudget", always_current, NULL},
};

/* The rule for the object's group and kind, NULL if it has none. */
static const struct kind_rule *kind_rule_of(const struct node *obj)
{
	const char *api_version = string_at(obj, "apiVersion", "");
	const char *kind = string_at(obj, "kind", "");
	const char *slash = strchr(api_version, '/');
	/* "apps/v1" is in group "apps"; "v1" is in the core group "". */
	size_t group_len = slash ? (size_t)(slash - api_version) : 0;

	for (size_t i = 0; i < ARRAY_SIZE(kind_rules); i++) {
		const struct kind_rule *rule = &kind_rules[i];

		if (strcmp(rule->kind, kind) == 0 && strlen(rule->group) == group_len &&
		    strncmp(rule->group, api_version, group_len) == 0)
			return rule;
	}
	return NULL;
}

enum kube_health kube_health_of(const struct node *obj, int64_t now, struct buf *why)
{
	const struct node *list;
	const struct kind_rule *rule;
	struct condition c;

	if (*string_at(obj, "metadata.deletionTimestamp", "")) {
		why_addf(why, "being deleted since %s",
			 string_at(obj, "metadata.deletionTimestamp", ""));
		return KUBE_TERMINATING;
	}

	if (has_int_at(obj, "metadata.generation") &&
	    has_int_at(obj, "status.observedGeneration")) {
		int64_t generation = int_at(obj, "metadata.generation", 0);
		int64_t observed = int_at(obj, "status.observedGeneration", 0);

		if (generation != observed) {
			why_addf(why,
				 "generation %" PRId64 " not observed yet (observed %" PRId64 ")",
				 generation, observed);
			return KUBE_IN_PROGRESS;
		}
	}

	list = conditions_of(obj);
	for (size_t i = 0; list && i < list->count; i++) {
		c = condition_read(list->items[i]);
		if (strcmp(c.status, "True") != 0)
			continue;
		if (strcmp(c.type, "Reconciling") == 0) {
			why_add_condition(why, &c);
			return KUBE_IN_PROGRESS;
		}
		if (strcmp(c.type, "Stalled") == 0) {
			why_add_condition(why, &c);
			return KUBE_FAILED;
		}
	}

	rule = kind_rule_of(obj);
	if (rule)
		return rule->timed_health ? rule->timed_health(obj, now, why)
					  : rule->health(obj, why);

	if (condition_find(obj, "Ready", &c)) {
		if (strcmp(c.status, "True") == 0)
			return KUBE_CURRENT;
		why_add_condition_status(why, &c);
		return KUBE_IN_PROGRESS;
	}
	return KUBE_CURRENT;
}
