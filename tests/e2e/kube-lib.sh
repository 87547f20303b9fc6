# Helpers for the tests of plumb's Kubernetes target: a real control plane
# (tests/kube/start) in $TRASH/kube for the whole script, kubectl as `k`,
# manifests and Applications. Source after lib.sh and serve-lib.sh, with
# tests/kube/lib.sh sourced before lib.sh (see t0600-kube.sh: lib.sh points HOME
# at the scratch directory, and the control plane's binaries are cached under
# the real one).

KUBE_STATE=$TRASH/kube
KUBE_CONFIG=$KUBE_STATE/admin.kubeconfig
KUBE_START_LOG=$TRASH/kube-start.log

# k ARGS...: kubectl of the plane's version, as the plane's admin.
k() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBE_CONFIG" "$@"; }

# kube_start: starts the plane (log in $KUBE_START_LOG); fails when it does not come up.
kube_start() {
	"$KUBE_DIR/start" "$KUBE_STATE" >"$KUBE_START_LOG" 2>&1 && test -s "$KUBE_CONFIG"
}

# kube_stop: stops the plane; idempotent, and a no-op once $TRASH is gone.
kube_stop() {
	[ -d "$KUBE_STATE" ] || return 0
	"$KUBE_DIR/stop" "$KUBE_STATE"
}

# Whatever happens (a failing test, test_done's exit, ^C), the daemon and the
# plane are stopped. This replaces serve-lib.sh's EXIT trap, and does its work too.
kube_cleanup() {
	local p
	p=$(serve_pid 2>/dev/null) || true
	[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	kube_stop >/dev/null 2>&1 || true
}
trap kube_cleanup EXIT
trap 'exit 130' INT TERM HUP

# kube_done: stops the plane as the last test, then test_done. test_done removes
# $TRASH when every test passed, so the plane must be gone before it runs.
kube_done() {
	test_expect_success 'the control plane stops' '
		kube_stop &&
		test_must_fail_quietly test -s "$KUBE_STATE/pids"
	'
	test_done
}

# run_code CODE CMD...: runs CMD with its stdout in ./out and its stderr in ./err;
# fails, showing both, unless CMD exits CODE.
run_code() {
	local want=$1 got=0
	shift
	"$@" >out 2>err || got=$?
	[ "$got" = "$want" ] && return 0
	say "expected exit $want, got $got: $*"
	say "--- stdout:"
	cat out
	say "--- stderr:"
	cat err
	return 1
}

# kj KIND/NAME NAMESPACE JSONPATH: one field of a live object ("" for a
# cluster-scoped object's NAMESPACE).
kj() { k get "$1" ${2:+-n "$2"} -o "jsonpath=$3"; }

# is KIND/NAME NAMESPACE JSONPATH VALUE: that field is VALUE now (for wait_for).
is() { [ "$(kj "$1" "$2" "$3")" = "$4" ]; }

# field_eq KIND/NAME NAMESPACE JSONPATH VALUE: like is, saying what it found instead.
field_eq() {
	local got
	got=$(kj "$1" "$2" "$3") || return 1
	[ "$got" = "$4" ] && return 0
	say "$1${2:+ in $2}: $3 is '$got', expected '$4'"
	return 1
}

# gone KIND/NAME NAMESPACE: the object does not exist (and the API server answered).
gone() {
	local out
	out=$(k get "$1" ${2:+-n "$2"} --ignore-not-found -o name) && [ -z "$out" ]
}

# managed_by APP KIND/NAME [NAMESPACE]: the object carries plumb.dev/app=APP and
# plumb is one of its field managers; says what is wrong otherwise.
managed_by() {
	local label managers
	label=$(kj "$2" "${3:-}" '{.metadata.labels.plumb\.dev/app}') || return 1
	managers=$(kj "$2" "${3:-}" '{.metadata.managedFields[*].manager}') || return 1
	[ "$label" = "$1" ] || { say "$2: label plumb.dev/app is '$label', not '$1'"; return 1; }
	tr ' ' '\n' <<<"$managers" | grep -qx plumb || { say "$2: managers are '$managers', not plumb"; return 1; }
}

# kube_snapshot NAMESPACE: what a failed sync must not change in NAMESPACE:
# every ConfigMap, Service and Widget with its resourceVersion and labels, every
# Deployment with its generation (its status moves with its pods).
kube_snapshot() {
	k get configmaps,services,widgets -n "$1" --sort-by=.metadata.name \
		-o 'jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.resourceVersion} {.metadata.labels}{"\n"}{end}' &&
		k get deployments -n "$1" --sort-by=.metadata.name \
			-o 'jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.generation} {.metadata.labels}{"\n"}{end}'
}

# closed_port: a loopback port nothing listens on (bound, then closed).
closed_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---- manifests ----

ns_m() { printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$1"; }

# crd_m: widgets.example.com, namespaced, v1, spec.size an integer.
crd_m() {
	cat <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
EOF
}

# widget_m NAME NAMESPACE SIZE
widget_m() {
	printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  size: %s\n' "$1" "$2" "$3"
}

# deploy_m NAME IMAGE REPLICAS: a Deployment without a namespace (it gets the destination's).
deploy_m() {
	cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  labels: {app: $1}
spec:
  replicas: $3
  selector:
    matchLabels: {app: $1}
  template:
    metadata:
      labels: {app: $1}
    spec:
      containers:
      - name: $1
        image: $2
        ports:
        - containerPort: 8080
EOF
}

# svc_m NAME: a Service in front of the Deployment NAME.
svc_m() {
	cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $1
spec:
  selector: {app: $1}
  ports:
  - port: 80
    targetPort: 8080
EOF
}

# cm_m NAME KEY VALUE: a ConfigMap without a namespace.
cm_m() { printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  %s: "%s"\n' "$1" "$2" "$3"; }

# kube_app NAME PATH KUBECONFIG NAMESPACE SELFHEAL [LINE...]: an Application of
# the repository $TRASH/repo, its manifests under PATH, syncing to the cluster of
# KUBECONFIG; each LINE goes into spec.destination.kubernetes.
kube_app() {
	local name=$1 path=$2 kubeconfig=$3 ns=$4 selfheal=$5 line
	shift 5
	cat <<EOF
---
apiVersion: plumb.dev/v1
kind: Application
metadata:
  name: $name
spec:
  source:
    repoURL: $TRASH/repo
    path: $path
  destination:
    kubernetes:
      kubeconfig: $kubeconfig
      namespace: $ns
EOF
	for line in "$@"; do printf '      %s\n' "$line"; done
	cat <<EOF
  syncPolicy:
    automated: {prune: true, selfHeal: $selfheal}
  health: {timeout: 60s}
EOF
}

# commit_all MESSAGE: commits everything in $TRASH/repo.
commit_all() { git -C "$TRASH/repo" add -A && git -C "$TRASH/repo" commit -q -m "$1"; }

# runs_json APP: APP's history as JSON ([] when it has none).
runs_json() { "$PLUMB" history "$1" -n 0 -o json 2>/dev/null || echo '[]'; }

# has_run APP TRIGGER RESULT: APP's history has a run with that trigger and result (for wait_for).
has_run() {
	runs_json "$1" | "$PYTHON" -c '
import json, sys
runs = json.load(sys.stdin)
sys.exit(0 if any(r.get("trigger") == sys.argv[1] and r.get("result") == sys.argv[2] for r in runs) else 1)' "$2" "$3"
}
