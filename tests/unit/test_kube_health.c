/* Unit tests for kstatus health rules (src/targets/kube/health.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "targets/kube/kube.h"
#include "yaml/yaml.h"

#include "fixture.h"

/* 2024-05-01T10:00:00Z */
#define NOW 1714557600

struct health_case {
	const char *name;
	const char *object; /* YAML or JSON, as the API server returns it */
	enum kube_health want;
	const char *why; /* a substring of the reason; NULL: no reason at all */
};

static const struct health_case cases[] = {
	/* ---- generic rules, in kstatus' order ---- */
	{"terminating",
	 "apiVersion: v1\n"
	 "kind: ConfigMap\n"
	 "metadata: {name: app, namespace: web, deletionTimestamp: '2024-05-01T09:59:50Z'}\n",
	 KUBE_TERMINATING, "being deleted since 2024-05-01T09:59:50Z"},
	{"terminating before generation",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api, generation: 4, deletionTimestamp: '2024-05-01T09:00:00Z'}\n"
	 "status: {observedGeneration: 3}\n",
	 KUBE_TERMINATING, "being deleted"},
	{"generation not observed",
	 "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\",\n"
	 " \"metadata\": {\"name\": \"api\", \"generation\": 3},\n"
	 " \"spec\": {\"replicas\": 1},\n"
	 " \"status\": {\"observedGeneration\": 2, \"replicas\": 1, \"updatedReplicas\": 1,\n"
	 "            \"readyReplicas\": 1, \"availableReplicas\": 1}}\n",
	 KUBE_IN_PROGRESS, "generation 3 not observed yet (observed 2)"},
	{"generation without observedGeneration",
	 "apiVersion: example.com/v1\n"
	 "kind: Widget\n"
	 "metadata: {name: w, generation: 7}\n"
	 "status: {phase: Whatever}\n",
	 KUBE_CURRENT, NULL},
	{"reconciling true",
	 "apiVersion: example.com/v1\n"
	 "kind: Widget\n"
	 "metadata: {name: w, generation: 2}\n"
	 "status:\n"
	 "  observedGeneration: 2\n"
	 "  conditions:\n"
	 "  - {type: Ready, status: 'True'}\n"
	 "  - {type: Reconciling, status: 'True', reason: Progressing, message: fetching chart}\n",
	 KUBE_IN_PROGRESS, "Reconciling: Progressing: fetching chart"},
	{"stalled true",
	 "apiVersion: example.com/v1\n"
	 "kind: Widget\n"
	 "metadata: {name: w}\n"
	 "status:\n"
	 "  conditions:\n"
	 "  - {type: Stalled, status: 'True', reason: ArtifactFailed, message: chart not found}\n",
	 KUBE_FAILED, "Stalled: ArtifactFailed: chart not found"},
	{"stalled beats kind rules",
	 "apiVersion: v1\n"
	 "kind: ConfigMap\n"
	 "metadata: {name: c}\n"
	 "status:\n"
	 "  conditions: [{type: Stalled, status: 'True', reason: Broken}]\n",
	 KUBE_FAILED, "Stalled: Broken"},
	{"reconciling false and stalled false",
	 "apiVersion: example.com/v1\n"
	 "kind: Widget\n"
	 "metadata: {name: w}\n"
	 "status:\n"
	 "  conditions:\n"
	 "  - {type: Reconciling, status: 'False'}\n"
	 "  - {type: Stalled, status: 'False'}\n"
	 "  - {type: Ready, status: 'True', reason: Succeeded}\n",
	 KUBE_CURRENT, NULL},

	/* ---- custom resources: the Ready condition ---- */
	{"custom ready false",
	 "apiVersion: cert-manager.io/v1\n"
	 "kind: Certificate\n"
	 "metadata: {name: tls, generation: 1}\n"
	 "status:\n"
	 "  conditions:\n"
	 "  - type: Ready\n"
	 "    status: 'False'\n"
	 "    reason: DoesNotExist\n"
	 "    message: Issuing certificate as Secret does not exist\n",
	 KUBE_IN_PROGRESS,
	 "condition Ready is False: DoesNotExist: Issuing certificate as Secret does not exist"},
	{"custom ready unknown",
	 "apiVersion: cert-manager.io/v1\n"
	 "kind: Certificate\n"
	 "metadata: {name: tls}\n"
	 "status: {conditions: [{type: Ready, status: Unknown}]}\n",
	 KUBE_IN_PROGRESS, "condition Ready is Unknown"},
	{"custom ready true",
	 "apiVersion: cert-manager.io/v1\n"
	 "kind: Certificate\n"
	 "metadata: {name: tls}\n"
	 "status: {conditions: [{type: Issuing, status: 'False'}, {type: Ready, status: 'True'}]}\n",
	 KUBE_CURRENT, NULL},
	{"custom no conditions",
	 "apiVersion: example.com/v1\n"
	 "kind: Widget\n"
	 "metadata: {name: w}\n"
	 "spec: {size: 3}\n",
	 KUBE_CURRENT, NULL},
	{"custom kind named like a built-in",
	 "apiVersion: example.com/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: d}\n"
	 "spec: {replicas: 5}\n"
	 "status: {conditions: [{type: Ready, status: 'False', reason: Waiting}]}\n",
	 KUBE_IN_PROGRESS, "condition Ready is False: Waiting"},
	{"pod in another group",
	 "apiVersion: example.com/v1\n"
	 "kind: Pod\n"
	 "metadata: {name: p}\n",
	 KUBE_CURRENT, NULL},

	/* ---- Deployment ---- */
	{"deployment available with deadline",
	 "{\n"
	 "  \"apiVersion\": \"apps/v1\",\n"
	 "  \"kind\": \"Deployment\",\n"
	 "  \"metadata\": {\"name\": \"api\", \"namespace\": \"web\", \"generation\": 2},\n"
	 "  \"spec\": {\"replicas\": 3, \"progressDeadlineSeconds\": 600},\n"
	 "  \"status\": {\n"
	 "    \"observedGeneration\": 2, \"replicas\": 3, \"updatedReplicas\": 3,\n"
	 "    \"readyReplicas\": 3, \"availableReplicas\": 3,\n"
	 "    \"conditions\": [\n"
	 "      {\"type\": \"Available\", \"status\": \"True\",\n"
	 "       \"reason\": \"MinimumReplicasAvailable\"},\n"
	 "      {\"type\": \"Progressing\", \"status\": \"True\",\n"
	 "       \"reason\": \"NewReplicaSetAvailable\",\n"
	 "       \"message\": \"ReplicaSet \\\"api-5d8f\\\" has successfully progressed.\"}\n"
	 "    ]\n"
	 "  }\n"
	 "}\n",
	 KUBE_CURRENT, NULL},
	{"deployment available without deadline",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 2}\n"
	 "status:\n"
	 "  replicas: 2\n"
	 "  updatedReplicas: 2\n"
	 "  readyReplicas: 2\n"
	 "  availableReplicas: 2\n"
	 "  conditions: [{type: Available, status: 'True'}]\n",
	 KUBE_CURRENT, NULL},
	{"deployment deadline set, new replica set not available",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 2, progressDeadlineSeconds: 600}\n"
	 "status:\n"
	 "  replicas: 2\n"
	 "  updatedReplicas: 2\n"
	 "  readyReplicas: 2\n"
	 "  availableReplicas: 2\n"
	 "  conditions:\n"
	 "  - {type: Available, status: 'True'}\n"
	 "  - {type: Progressing, status: 'True', reason: ReplicaSetUpdated}\n",
	 KUBE_IN_PROGRESS, "new replica set not available yet"},
	{"deployment progress deadline exceeded",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api, generation: 5}\n"
	 "spec: {replicas: 3, progressDeadlineSeconds: 60}\n"
	 "status:\n"
	 "  observedGeneration: 5\n"
	 "  replicas: 4\n"
	 "  updatedReplicas: 1\n"
	 "  readyReplicas: 3\n"
	 "  availableReplicas: 3\n"
	 "  conditions:\n"
	 "  - {type: Available, status: 'True', reason: MinimumReplicasAvailable}\n"
	 "  - type: Progressing\n"
	 "    status: 'False'\n"
	 "    reason: ProgressDeadlineExceeded\n"
	 "    message: ReplicaSet \"api-7c9\" has timed out progressing.\n",
	 KUBE_FAILED,
	 "Progressing: ProgressDeadlineExceeded: ReplicaSet \"api-7c9\" has timed out"},
	{"deployment too few replicas",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 3}\n"
	 "status: {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}\n",
	 KUBE_IN_PROGRESS, "1 of 3 replicas created"},
	{"deployment too few updated",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 3}\n"
	 "status: {replicas: 3, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3}\n",
	 KUBE_IN_PROGRESS, "2 of 3 replicas updated"},
	{"deployment old replicas terminating",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 3}\n"
	 "status: {replicas: 4, updatedReplicas: 3, readyReplicas: 4, availableReplicas: 4}\n",
	 KUBE_IN_PROGRESS, "1 old replica pending termination"},
	{"deployment updated not available",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 3}\n"
	 "status: {replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 1}\n",
	 KUBE_IN_PROGRESS, "1 of 3 updated replicas available"},
	{"deployment not ready",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 3}\n"
	 "status: {replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 3}\n",
	 KUBE_IN_PROGRESS, "2 of 3 replicas ready"},
	{"deployment not available condition",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 1}\n"
	 "status:\n"
	 "  replicas: 1\n"
	 "  updatedReplicas: 1\n"
	 "  readyReplicas: 1\n"
	 "  availableReplicas: 1\n"
	 "  conditions: [{type: Available, status: 'False', reason: MinimumReplicasUnavailable}]\n",
	 KUBE_IN_PROGRESS, "condition Available is not True"},
	{"deployment replicas default to one",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {template: {spec: {containers: [{name: app, image: nginx}]}}}\n",
	 KUBE_IN_PROGRESS, "0 of 1 replicas created"},
	{"deployment scaled to zero",
	 "apiVersion: apps/v1\n"
	 "kind: Deployment\n"
	 "metadata: {name: api}\n"
	 "spec: {replicas: 0, progressDeadlineSeconds: 600}\n"
	 "status:\n"
	 "  conditions:\n"
	 "  - {type: Available, status: 'True'}\n"
	 "  - {type: Progressing, status: 'True', reason: NewReplicaSetAvailable}\n",
	 KUBE_CURRENT, NULL},
	{"deployment in extensions group",
	 "apiVersion: extensions/v1beta1\n"
	 "kind: Deployment\n"
	 "metadata: {name: old}\n"
	 "spec: {replicas: 2}\n"
	 "status: {replicas: 2, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 2}\n",
	 KUBE_IN_PROGRESS, "1 of 2 replicas ready"},

	/* ---- StatefulSet ---- */
	{"statefulset on delete",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db}\n"
	 "spec: {replicas: 3, updateStrategy: {type: OnDelete}}\n"
	 "status: {replicas: 3, readyReplicas: 0, currentRevision: db-1, updateRevision: db-2}\n",
	 KUBE_CURRENT, NULL},
	{"statefulset healthy",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db, generation: 1}\n"
	 "spec: {replicas: 3, updateStrategy: {type: RollingUpdate}}\n"
	 "status:\n"
	 "  observedGeneration: 1\n"
	 "  replicas: 3\n"
	 "  readyReplicas: 3\n"
	 "  currentReplicas: 3\n"
	 "  updatedReplicas: 3\n"
	 "  currentRevision: db-6b8f\n"
	 "  updateRevision: db-6b8f\n",
	 KUBE_CURRENT, NULL},
	{"statefulset too few replicas",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db}\n"
	 "spec: {replicas: 3}\n"
	 "status: {replicas: 2, readyReplicas: 2}\n",
	 KUBE_IN_PROGRESS, "2 of 3 replicas created"},
	{"statefulset not ready",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db}\n"
	 "spec: {replicas: 3}\n"
	 "status: {replicas: 3, readyReplicas: 1}\n",
	 KUBE_IN_PROGRESS, "1 of 3 replicas ready"},
	{"statefulset extra pods",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db}\n"
	 "spec: {replicas: 2}\n"
	 "status: {replicas: 4, readyReplicas: 4}\n",
	 KUBE_IN_PROGRESS, "2 old replicas pending termination"},
	{"statefulset partition rolling",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db}\n"
	 "spec:\n"
	 "  replicas: 3\n"
	 "  updateStrategy:\n"
	 "    type: RollingUpdate\n"
	 "    rollingUpdate: {partition: 1}\n"
	 "status: {replicas: 3, readyReplicas: 3, currentReplicas: 2, updatedReplicas: 1,\n"
	 "         currentRevision: db-1, updateRevision: db-2}\n",
	 KUBE_IN_PROGRESS, "1 of 2 replicas updated (partition 1)"},
	{"statefulset partition done",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db}\n"
	 "spec:\n"
	 "  replicas: 3\n"
	 "  updateStrategy:\n"
	 "    type: RollingUpdate\n"
	 "    rollingUpdate: {partition: 1}\n"
	 "status: {replicas: 3, readyReplicas: 3, currentReplicas: 1, updatedReplicas: 2,\n"
	 "         currentRevision: db-1, updateRevision: db-2}\n",
	 KUBE_CURRENT, NULL},
	{"statefulset too few current",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db}\n"
	 "spec: {replicas: 3}\n"
	 "status: {replicas: 3, readyReplicas: 3, currentReplicas: 2, updatedReplicas: 1}\n",
	 KUBE_IN_PROGRESS, "2 of 3 replicas at the current revision"},
	{"statefulset revision mismatch",
	 "apiVersion: apps/v1\n"
	 "kind: StatefulSet\n"
	 "metadata: {name: db}\n"
	 "spec: {replicas: 1}\n"
	 "status: {replicas: 1, readyReplicas: 1, currentReplicas: 1,\n"
	 "         currentRevision: db-5c4, updateRevision: db-7d9}\n",
	 KUBE_IN_PROGRESS, "revision db-7d9 not rolled out yet (current db-5c4)"},

	/* ---- DaemonSet ---- */
	{"daemonset healthy",
	 "{\"apiVersion\": \"apps/v1\", \"kind\": \"DaemonSet\",\n"
	 " \"metadata\": {\"name\": \"agent\", \"generation\": 1},\n"
	 " \"status\": {\"observedGeneration\": 1, \"desiredNumberScheduled\": 3,\n"
	 "   \"currentNumberScheduled\": 3, \"updatedNumberScheduled\": 3,\n"
	 "   \"numberAvailable\": 3, \"numberReady\": 3, \"numberMisscheduled\": 0}}\n",
	 KUBE_CURRENT, NULL},
	{"daemonset missing desiredNumberScheduled",
	 "apiVersion: apps/v1\n"
	 "kind: DaemonSet\n"
	 "metadata: {name: agent, generation: 1}\n"
	 "status: {observedGeneration: 1, currentNumberScheduled: 0}\n",
	 KUBE_IN_PROGRESS, "desiredNumberScheduled not set yet"},
	{"daemonset missing observedGeneration",
	 "apiVersion: apps/v1\n"
	 "kind: DaemonSet\n"
	 "metadata: {name: agent, generation: 1}\n"
	 "status: {desiredNumberScheduled: 0}\n",
	 KUBE_IN_PROGRESS, "status.observedGeneration not set yet"},
	{"daemonset missing generation",
	 "apiVersion: apps/v1\n"
	 "kind: DaemonSet\n"
	 "metadata: {name: agent}\n"
	 "status: {observedGeneration: 1, desiredNumberScheduled: 0}\n",
	 KUBE_IN_PROGRESS, "metadata.generation not set yet"},
	{"daemonset not scheduled",
	 "apiVersion: apps/v1\n"
	 "kind: DaemonSet\n"
	 "metadata: {name: agent, generation: 2}\n"
	 "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 2,\n"
	 "         updatedNumberScheduled: 2, numberAvailable: 2, numberReady: 2}\n",
	 KUBE_IN_PROGRESS, "2 of 3 pods scheduled"},
	{"daemonset not updated",
	 "apiVersion: apps/v1\n"
	 "kind: DaemonSet\n"
	 "metadata: {name: agent, generation: 2}\n"
	 "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3,\n"
	 "         updatedNumberScheduled: 1, numberAvailable: 3, numberReady: 3}\n",
	 KUBE_IN_PROGRESS, "1 of 3 pods updated"},
	{"daemonset not available",
	 "apiVersion: apps/v1\n"
	 "kind: DaemonSet\n"
	 "metadata: {name: agent, generation: 2}\n"
	 "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3,\n"
	 "         updatedNumberScheduled: 3, numberReady: 3}\n",
	 KUBE_IN_PROGRESS, "0 of 3 pods available"},
	{"daemonset not ready",
	 "apiVersion: apps/v1\n"
	 "kind: DaemonSet\n"
	 "metadata: {name: agent, generation: 2}\n"
	 "status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3,\n"
	 "         updatedNumberScheduled: 3, numberAvailable: 3, numberReady: 2}\n",
	 KUBE_IN_PROGRESS, "2 of 3 pods ready"},

	/* ---- ReplicaSet ---- */
	{"replicaset healthy",
	 "apiVersion: apps/v1\n"
	 "kind: ReplicaSet\n"
	 "metadata: {name: api-5d8f, generation: 1}\n"
	 "spec: {replicas: 2}\n"
	 "status: {observedGeneration: 1, replicas: 2, fullyLabeledReplicas: 2,\n"
	 "         readyReplicas: 2, availableReplicas: 2}\n",
	 KUBE_CURRENT, NULL},
	{"replicaset replica failure",
	 "apiVersion: apps/v1\n"
	 "kind: ReplicaSet\n"
	 "metadata: {name: api-5d8f}\n"
	 "spec: {replicas: 2}\n"
	 "status:\n"
	 "  replicas: 0\n"
	 "  conditions:\n"
	 "  - type: ReplicaFailure\n"
	 "    status: 'True'\n"
	 "    reason: FailedCreate\n"
	 "    message: 'pods \"api-5d8f-x\" is forbidden: exceeded quota: compute'\n",
	 KUBE_IN_PROGRESS, "ReplicaFailure: FailedCreate: pods \"api-5d8f-x\" is forbidden"},
	{"replicaset not labeled",
	 "apiVersion: apps/v1\n"
	 "kind: ReplicaSet\n"
	 "metadata: {name: r}\n"
	 "spec: {replicas: 2}\n"
	 "status: {replicas: 2, fullyLabeledReplicas: 1, readyReplicas: 2, availableReplicas: 2}\n",
	 KUBE_IN_PROGRESS, "1 of 2 replicas fully labeled"},
	{"replicaset not available",
	 "apiVersion: apps/v1\n"
	 "kind: ReplicaSet\n"
	 "metadata: {name: r}\n"
	 "spec: {replicas: 2}\n"
	 "status: {replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2}\n",
	 KUBE_IN_PROGRESS, "0 of 2 replicas available"},
	{"replicaset not ready",
	 "apiVersion: apps/v1\n"
	 "kind: ReplicaSet\n"
	 "metadata: {name: r}\n"
	 "status: {replicas: 1, fullyLabeledReplicas: 1, availableReplicas: 1}\n",
	 KUBE_IN_PROGRESS, "0 of 1 replicas ready"},
	{"replicaset extra pods",
	 "apiVersion: apps/v1\n"
	 "kind: ReplicaSet\n"
	 "metadata: {name: r}\n"
	 "spec: {replicas: 1}\n"
	 "status: {replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2}\n",
	 KUBE_IN_PROGRESS, "1 old replica pending termination"},

	/* ---- Pod ---- */
	{"pod running ready",
	 "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n"
	 " \"metadata\": {\"name\": \"web-0\", \"creationTimestamp\": \"2024-05-01T09:00:00Z\"},\n"
	 " \"status\": {\"phase\": \"Running\", \"conditions\": [\n"
	 "   {\"type\": \"Initialized\", \"status\": \"True\"},\n"
	 "   {\"type\": \"Ready\", \"status\": \"True\"},\n"
	 "   {\"type\": \"ContainersReady\", \"status\": \"True\"},\n"
	 "   {\"type\": \"PodScheduled\", \"status\": \"True\"}],\n"
	 "  \"containerStatuses\": [{\"name\": \"app\", \"ready\": true,\n"
	 "   \"state\": {\"running\": {\"startedAt\": \"2024-05-01T09:00:05Z\"}}}]}}\n",
	 KUBE_CURRENT, NULL},
	{"pod running not ready",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0}\n"
	 "status:\n"
	 "  phase: Running\n"
	 "  conditions: [{type: Ready, status: 'False', reason: ContainersNotReady}]\n"
	 "  containerStatuses:\n"
	 "  - {name: app, ready: false, state: {running: {startedAt: '2024-05-01T09:59:00Z'}}}\n",
	 KUBE_IN_PROGRESS, "pod is running but not ready"},
	{"pod crash looping",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0}\n"
	 "status:\n"
	 "  phase: Running\n"
	 "  conditions: [{type: Ready, status: 'False', reason: ContainersNotReady}]\n"
	 "  containerStatuses:\n"
	 "  - name: sidecar\n"
	 "    state: {running: {startedAt: '2024-05-01T09:00:00Z'}}\n"
	 "  - name: app\n"
	 "    restartCount: 5\n"
	 "    state:\n"
	 "      waiting:\n"
	 "        reason: CrashLoopBackOff\n"
	 "        message: back-off 2m40s restarting failed container=app\n",
	 KUBE_FAILED, "pod is waiting: CrashLoopBackOff (container app)"},
	{"pod unschedulable within window",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0, creationTimestamp: '2024-05-01T09:59:55Z'}\n"
	 "status:\n"
	 "  phase: Pending\n"
	 "  conditions:\n"
	 "  - type: PodScheduled\n"
	 "    status: 'False'\n"
	 "    reason: Unschedulable\n"
	 "    message: '0/1 nodes are available: 1 Insufficient cpu.'\n",
	 KUBE_IN_PROGRESS, "unschedulable for 5 s: 0/1 nodes are available"},
	{"pod unschedulable past window",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0, creationTimestamp: '2024-05-01T09:59:40Z'}\n"
	 "status:\n"
	 "  phase: Pending\n"
	 "  conditions:\n"
	 "  - type: PodScheduled\n"
	 "    status: 'False'\n"
	 "    reason: Unschedulable\n"
	 "    message: '0/1 nodes are available: 1 Insufficient cpu.'\n",
	 KUBE_FAILED, "unschedulable for 20 s: 0/1 nodes are available: 1 Insufficient cpu."},
	{"pod unschedulable at window edge",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0, creationTimestamp: '2024-05-01T09:59:45Z'}\n"
	 "status:\n"
	 "  phase: Pending\n"
	 "  conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable}]\n",
	 KUBE_IN_PROGRESS, "unschedulable for 15 s"},
	{"pod unschedulable time with offset and fraction",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0, creationTimestamp: '2024-05-01T11:59:50.123+02:00'}\n"
	 "status:\n"
	 "  phase: Pending\n"
	 "  conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable}]\n",
	 KUBE_IN_PROGRESS, "unschedulable for 10 s"},
	{"pod unschedulable without creation time",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0}\n"
	 "status:\n"
	 "  phase: Pending\n"
	 "  conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable,\n"
	 "                message: 'no nodes'}]\n",
	 KUBE_FAILED, "unschedulable: no nodes"},
	{"pod pending creating containers",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0, creationTimestamp: '2024-05-01T09:00:00Z'}\n"
	 "status:\n"
	 "  phase: Pending\n"
	 "  conditions: [{type: PodScheduled, status: 'True'}]\n"
	 "  containerStatuses:\n"
	 "  - {name: app, state: {waiting: {reason: ContainerCreating}}}\n",
	 KUBE_IN_PROGRESS, "pod is Pending: waiting: ContainerCreating (container app)"},
	{"pod pending image pull back-off",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0, creationTimestamp: '2024-05-01T09:00:00Z'}\n"
	 "status:\n"
	 "  phase: Pending\n"
	 "  containerStatuses:\n"
	 "  - {name: app, state: {waiting: {reason: ImagePullBackOff}}}\n",
	 KUBE_IN_PROGRESS, "waiting: ImagePullBackOff"},
	{"pod succeeded",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: migrate}\n"
	 "status: {phase: Succeeded}\n",
	 KUBE_CURRENT, NULL},
	{"pod failed is current",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: migrate}\n"
	 "status: {phase: Failed, reason: Error}\n",
	 KUBE_CURRENT, NULL},
	{"pod without phase",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0}\n"
	 "spec: {containers: [{name: app, image: nginx}]}\n",
	 KUBE_IN_PROGRESS, "pod has no phase yet"},
	{"pod unknown phase",
	 "apiVersion: v1\n"
	 "kind: Pod\n"
	 "metadata: {name: web-0}\n"
	 "status: {phase: Unknown}\n",
	 KUBE_IN_PROGRESS, "pod phase is Unknown"},

	/* ---- Job ---- */
	{"job complete",
	 "apiVersion: batch/v1\n"
	 "kind: Job\n"
	 "metadata: {name: migrate}\n"
	 "spec: {completions: 1}\n"
	 "status:\n"
	 "  startTime: '2024-05-01T09:00:00Z'\n"
	 "  completionTime: '2024-05-01T09:01:00Z'\n"
	 "  succeeded: 1\n"
	 "  conditions: [{type: Complete, status: 'True'}]\n",
	 KUBE_CURRENT, NULL},
	{"job failed",
	 "apiVersion: batch/v1\n"
	 "kind: Job\n"
	 "metadata: {name: migrate}\n"
	 "status:\n"
	 "  startTime: '2024-05-01T09:00:00Z'\n"
	 "  failed: 7\n"
	 "  conditions:\n"
	 "  - type: Failed\n"
	 "    status: 'True'\n"
	 "    reason: BackoffLimitExceeded\n"
	 "    message: Job has reached the specified backoff limit\n",
	 KUBE_FAILED, "Failed: BackoffLimitExceeded: Job has reached the specified backoff limit"},
	{"job running",
	 "apiVersion: batch/v1\n"
	 "kind: Job\n"
	 "metadata: {name: migrate}\n"
	 "status: {startTime: '2024-05-01T09:59:00Z', active: 1}\n",
	 KUBE_CURRENT, NULL},
	{"job not started",
	 "apiVersion: batch/v1\n"
	 "kind: Job\n"
	 "metadata: {name: migrate}\n"
	 "spec: {parallelism: 1}\n",
	 KUBE_IN_PROGRESS, "job not started yet"},
	{"job suspended",
	 "apiVersion: batch/v1\n"
	 "kind: Job\n"
	 "metadata: {name: migrate}\n"
	 "spec: {suspend: true}\n"
	 "status:\n"
	 "  conditions: [{type: Suspended, status: 'True', reason: JobSuspended}]\n",
	 KUBE_CURRENT, NULL},
	{"job complete false not started",
	 "apiVersion: batch/v1\n"
	 "kind: Job\n"
	 "metadata: {name: migrate}\n"
	 "status:\n"
	 "  conditions: [{type: Complete, status: 'False'}, {type: Failed, status: 'False'}]\n",
	 KUBE_IN_PROGRESS, "job not started yet"},

	/* ---- Service ---- */
	{"service cluster ip",
	 "apiVersion: v1\n"
	 "kind: Service\n"
	 "metadata: {name: web}\n"
	 "spec: {type: ClusterIP, clusterIP: 10.96.0.12, ports: [{port: 80}]}\n",
	 KUBE_CURRENT, NULL},
	{"service load balancer without ip",
	 "apiVersion: v1\n"
	 "kind: Service\n"
	 "metadata: {name: web}\n"
	 "spec: {type: LoadBalancer, ports: [{port: 80}]}\n"
	 "status: {loadBalancer: {}}\n",
	 KUBE_IN_PROGRESS, "load balancer has no cluster IP yet"},
	{"service load balancer with ip",
	 "apiVersion: v1\n"
	 "kind: Service\n"
	 "metadata: {name: web}\n"
	 "spec: {type: LoadBalancer, clusterIP: 10.96.0.13}\n"
	 "status: {loadBalancer: {}}\n",
	 KUBE_CURRENT, NULL},

	/* ---- PersistentVolumeClaim ---- */
	{"pvc bound",
	 "apiVersion: v1\n"
	 "kind: PersistentVolumeClaim\n"
	 "metadata: {name: data}\n"
	 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
	 "status: {phase: Bound, capacity: {storage: 1Gi}}\n",
	 KUBE_CURRENT, NULL},
	{"pvc pending",
	 "apiVersion: v1\n"
	 "kind: PersistentVolumeClaim\n"
	 "metadata: {name: data}\n"
	 "status: {phase: Pending}\n",
	 KUBE_IN_PROGRESS, "not Bound (Pending)"},
	{"pvc without status",
	 "apiVersion: v1\n"
	 "kind: PersistentVolumeClaim\n"
	 "metadata: {name: data}\n",
	 KUBE_IN_PROGRESS, "not Bound (no phase yet)"},

	/* ---- CustomResourceDefinition ---- */
	{"crd established",
	 "apiVersion: apiextensions.k8s.io/v1\n"
	 "kind: CustomResourceDefinition\n"
	 "metadata: {name: widgets.example.com}\n"
	 "status:\n"
	 "  conditions:\n"
	 "  - {type: NamesAccepted, status: 'True', reason: NoConflicts}\n"
	 "  - {type: Established, status: 'True', reason: InitialNamesAccepted}\n",
	 KUBE_CURRENT, NULL},
	{"crd installing",
	 "apiVersion: apiextensions.k8s.io/v1\n"
	 "kind: CustomResourceDefinition\n"
	 "metadata: {name: widgets.example.com}\n"
	 "status:\n"
	 "  conditions:\n"
	 "  - {type: NamesAccepted, status: 'True', reason: NoConflicts}\n"
	 "  - {type: Established, status: 'False', reason: Installing}\n",
	 KUBE_IN_PROGRESS, "condition Established is False: Installing"},
	{"crd names not accepted",
	 "apiVersion: apiextensions.k8s.io/v1\n"
	 "kind: CustomResourceDefinition\n"
	 "metadata: {name: widgets.example.com}\n"
	 "status:\n"
	 "  conditions:\n"
	 "  - type: NamesAccepted\n"
	 "    status: 'False'\n"
	 "    reason: ListKindConflict\n"
	 "    message: '\"WidgetList\" is already in use'\n"
	 "  - {type: Established, status: 'False', reason: NotAccepted}\n",
	 KUBE_FAILED, "condition NamesAccepted is False: ListKindConflict: \"WidgetList\""},
	{"crd not established",
	 "apiVersion: apiextensions.k8s.io/v1\n"
	 "kind: CustomResourceDefinition\n"
	 "metadata: {name: widgets.example.com}\n"
	 "status:\n"
	 "  conditions: [{type: Established, status: 'False', reason: NotAccepted}]\n",
	 KUBE_FAILED, "condition Established is False: NotAccepted"},
	{"crd without conditions",
	 "apiVersion: apiextensions.k8s.io/v1\n"
	 "kind: CustomResourceDefinition\n"
	 "metadata: {name: widgets.example.com}\n",
	 KUBE_IN_PROGRESS, "not Established yet"},

	/* ---- always current ---- */
	{"secret",
	 "apiVersion: v1\n"
	 "kind: Secret\n"
	 "metadata: {name: creds}\n"
	 "type: Opaque\n"
	 "data: {password: aHVudGVyMg==}\n",
	 KUBE_CURRENT, NULL},
	{"configmap with ready false",
	 "apiVersion: v1\n"
	 "kind: ConfigMap\n"
	 "metadata: {name: c}\n"
	 "status: {conditions: [{type: Ready, status: 'False'}]}\n",
	 KUBE_CURRENT, NULL},
	{"cronjob",
	 "apiVersion: batch/v1\n"
	 "kind: CronJob\n"
	 "metadata: {name: nightly}\n"
	 "spec: {schedule: '0 3 * * *'}\n"
	 "status: {active: [{kind: Job, name: nightly-28573}]}\n",
	 KUBE_CURRENT, NULL},
	{"pod disruption budget",
	 "apiVersion: policy/v1\n"
	 "kind: PodDisruptionBudget\n"
	 "metadata: {name: web, generation: 1}\n"
	 "spec: {minAvailable: 2}\n"
	 "status:\n"
	 "  observedGeneration: 1\n"
	 "  currentHealthy: 1\n"
	 "  desiredHealthy: 2\n"
	 "  disruptionsAllowed: 0\n"
	 "  conditions: [{type: DisruptionAllowed, status: 'False', reason: InsufficientPods}]\n",
	 KUBE_CURRENT, NULL},
	/* ---- objects that are not what they claim: an answer, never a crash ---- */
	{"malformed status list", "{kind: Deployment, apiVersion: apps/v1, status: [1, 2]}",
	 KUBE_IN_PROGRESS, "0 of 1 replicas created"},
	{"malformed replicas string",
	 "{kind: Deployment, apiVersion: apps/v1, spec: {replicas: three},"
	 " status: {replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}}",
	 KUBE_IN_PROGRESS, "1 old replica pending termination"},
	{"malformed pod phase",
	 "{kind: Pod, apiVersion: v1, status: {phase: 7, conditions: {Ready: true}}}",
	 KUBE_IN_PROGRESS, "pod has no phase yet"},
	{"malformed creation time",
	 "{kind: Pod, apiVersion: v1, metadata: {creationTimestamp: yesterday},"
	 " status: {phase: Pending, conditions: [{type: PodScheduled, status: 'False',"
	 " reason: Unschedulable}], containerStatuses: 3}}",
	 KUBE_FAILED, "unschedulable"},
	{"malformed update strategy",
	 "{kind: StatefulSet, apiVersion: apps/v1, spec: {updateStrategy: OnDelete}}",
	 KUBE_IN_PROGRESS, "0 of 1 replicas created"},
	{"malformed conditions",
	 "{kind: CustomResourceDefinition, apiVersion: apiextensions.k8s.io/v1,"
	 " status: {conditions: [7, {type: 8}, {type: Established}]}}",
	 KUBE_IN_PROGRESS, "not Established yet"},
	{"malformed metadata",
	 "{kind: 3, apiVersion: [], metadata: {generation: x, deletionTimestamp: 5}}", KUBE_CURRENT,
	 NULL},
	{"malformed not a mapping", "[1, 2, 3]", KUBE_CURRENT, NULL},
};

static void test_case(void **state)
{
	const struct health_case *c = *state;
	struct arena arena = ARENA_INIT;
	struct buf why = BUF_INIT;
	struct node *obj = parse_object(&arena, c->object);
	enum kube_health got = kube_health_of(obj, NOW, &why);

	if (got != c->want)
		fail_msg("%s: got %s (%s), want %s", c->name, kube_health_name(got),
			 why.data ? why.data : "", kube_health_name(c->want));
	if (c->why) {
		if (!why.data || !strstr(why.data, c->why))
			fail_msg("%s: why is '%s', want it to contain '%s'", c->name,
				 why.data ? why.data : "", c->why);
	} else if (why.len != 0) {
		fail_msg("%s: a Current object got a reason: '%s'", c->name, why.data);
	}

	/* The same answer when the caller does not want a reason. */
	assert_int_equal(kube_health_of(obj, NOW, NULL), c->want);

	buf_release(&why);
	arena_release(&arena);
}

static void test_health_names(void **state)
{
	(void)state;
	assert_string_equal(kube_health_name(KUBE_CURRENT), "Current");
	assert_string_equal(kube_health_name(KUBE_IN_PROGRESS), "InProgress");
	assert_string_equal(kube_health_name(KUBE_FAILED), "Failed");
	assert_string_equal(kube_health_name(KUBE_TERMINATING), "Terminating");
	assert_string_equal(kube_health_name((enum kube_health)42), "Unknown");
}

/* A reason is appended to what the buffer holds, and stops at the buffer's cap. */
static void test_why_appends_and_respects_cap(void **state)
{
	static const char pvc[] = "{apiVersion: v1, kind: PersistentVolumeClaim,"
				  " metadata: {name: data}, status: {phase: Lost}}";
	struct arena arena = ARENA_INIT;
	struct buf why = BUF_INIT;
	struct node *obj = parse_object(&arena, pvc);

	(void)state;
	assert_int_equal(buf_addstr(&why, "data: "), 0);
	assert_int_equal(kube_health_of(obj, NOW, &why), KUBE_IN_PROGRESS);
	assert_string_equal(why.data, "data: not Bound (Lost)");
	buf_release(&why);

	buf_init(&why, 4);
	assert_int_equal(kube_health_of(obj, NOW, &why), KUBE_IN_PROGRESS);
	assert_true(why.len <= 4);
	buf_release(&why);
	arena_release(&arena);
}

int main(void)
{
	static struct CMUnitTest tests[ARRAY_SIZE(cases) + 2];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		tests[n].name = cases[i].name;
		tests[n].test_func = test_case;
		tests[n].initial_state = (void *)&cases[i];
		n++;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_health_names);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_why_appends_and_respects_cap);
	return cmocka_run_group_tests_name("kube_health", tests, NULL, NULL);
}
