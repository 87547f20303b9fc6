#!/usr/bin/env bash
# plumb against a real Kubernetes control plane (tests/kube: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok on loopback), with a real Git
# repository: one sync of a Namespace, a CRD and its custom resource, a
# Deployment, a Service and ConfigMaps; health; update; prune; rollback; drift
# from the CLI and in the daemon; invalid objects, unknown kinds, field-manager
# conflicts and an unreachable API server, each changing nothing.

# The plane's binaries are cached under the real $HOME, which lib.sh replaces.
. "$(dirname "$0")/../kube/lib.sh"
export PLUMB_KUBE_CACHE=$KUBE_CACHE PLUMB_KUBE_BIN=$KUBE_BIN
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/serve-lib.sh"
. "$TEST_DIR/kube-lib.sh"

if ! kube_start; then
	test_expect_success 'a Kubernetes control plane starts (tests/kube/start)' '
		for f in "$KUBE_STATE"/logs/*.log; do
			[ -s "$f" ] && { echo "== ${f#$TRASH/}"; tail -n 5 "$f"; }
		done
		echo "== tests/kube/start"
		cat "$KUBE_START_LOG"
		false
	'
	test_done
fi

# The repository: the application "shop" under shop/, one object a file.
make_repo repo
mkdir -p repo/shop apps
ns_m demo >repo/shop/namespace.yaml
crd_m >repo/shop/crd.yaml
widget_m w1 demo 3 >repo/shop/widget.yaml
deploy_m web registry.example/web:1 2 >repo/shop/web.yaml
svc_m web >repo/shop/service.yaml
cm_m web-config greeting hello >repo/shop/config.yaml
cm_m settings color blue >repo/shop/settings.yaml
cm_m keep-me note "kept when pruned" >repo/shop/keep-me.yaml
commit_all "First release"

# Applications live in apps/: a relative kubeconfig is relative to that directory.
kube_app shop shop ../kube/admin.kubeconfig demo true >apps/shop.yaml
SHOP=$TRASH/apps/shop.yaml
sync_shop() { "$PLUMB" sync -f "$SHOP" "$@"; }
diff_shop() { "$PLUMB" diff -f "$SHOP" "$@"; }

test_expect_success 'one sync --wait applies a Namespace, a CRD, its custom resource and the workload' '
	run_code 0 sync_shop --wait &&
	for o in Namespace/demo CustomResourceDefinition/widgets.example.com Widget/w1 \
		Deployment/web Service/web ConfigMap/web-config ConfigMap/settings ConfigMap/keep-me; do
		test_grep "$o" out || exit 1
	done &&
	managed_by shop namespace/demo &&
	managed_by shop crd/widgets.example.com &&
	for o in widget/w1 deployment/web service/web configmap/web-config configmap/settings configmap/keep-me; do
		managed_by shop $o demo || exit 1
	done &&
	field_eq widget/w1 demo {.spec.size} 3 &&
	field_eq deployment/web demo "{.spec.template.spec.containers[0].image}" registry.example/web:1 &&
	field_eq configmap/web-config demo {.data.greeting} hello &&
	test -n "$(kj service/web demo {.spec.clusterIP})" &&
	runs_json shop >h.json &&
	python3 -c "
import json
runs = json.load(open(\"h.json\"))
assert len(runs) == 1 and runs[0][\"result\"] == \"succeeded\", runs
"
'

test_expect_success 'after sync --wait the Deployment is ready, and status says Healthy' '
	field_eq deployment/web demo {.status.readyReplicas} 2 &&
	run_code 0 "$PLUMB" status shop &&
	test_grep "health: *Healthy" out &&
	test_grep "Deployment/web" out
'

test_expect_success 'update: diff names the changed fields (exit 1), sync applies them, diff is then clean' '
	cm_m web-config greeting "hello again" >repo/shop/config.yaml &&
	deploy_m web registry.example/web:2 2 >repo/shop/web.yaml &&
	commit_all "Web 2, new greeting" &&
	run_code 1 diff_shop &&
	test_grep "ConfigMap/web-config" out &&
	test_grep "data\.greeting" out &&
	test_grep "Deployment/web" out &&
	test_grep "containers.*image" out &&
	test_grep_not "ConfigMap/settings" out &&
	run_code 1 diff_shop -o json &&
	python3 -c "
import json
res = json.load(open(\"out\"))
changes = {c[\"object\"]: c for r in res for c in r[\"changes\"]}
web = changes[\"Deployment/web\"]
assert web[\"action\"] == \"update\" and web[\"kind\"] == \"Deployment\", web
assert web[\"namespace\"] == \"demo\" and web[\"key\"] == \"demo_web_apps_Deployment\", web
assert web[\"source\"].startswith(\"shop/web.yaml:\"), web
assert \"registry.example/web:2\" in web[\"diff\"], web
" &&
	run_code 0 sync_shop --wait &&
	field_eq configmap/web-config demo {.data.greeting} "hello again" &&
	field_eq deployment/web demo "{.spec.template.spec.containers[0].image}" registry.example/web:2 &&
	field_eq deployment/web demo {.status.updatedReplicas} 2 &&
	run_code 0 diff_shop
'

test_expect_success 'prune: what Git dropped goes; hand-made and prune-disabled objects stay' '
	k create configmap hand-made -n demo --from-literal=owner=ops-team &&
	hand_rv=$(kj configmap/hand-made demo {.metadata.resourceVersion}) &&
	k annotate configmap keep-me -n demo plumb.dev/prune=disabled &&
	git -C repo rm -q shop/config.yaml shop/service.yaml shop/keep-me.yaml &&
	commit_all "Drop the greeting, the Service and keep-me" &&
	run_code 1 diff_shop &&
	test_grep "ConfigMap/web-config" out &&
	test_grep "Service/web" out &&
	run_code 0 sync_shop &&
	test_grep "ConfigMap/web-config" out &&
	wait_for 15 gone configmap/web-config demo &&
	wait_for 15 gone service/web demo &&
	field_eq configmap/keep-me demo {.data.note} "kept when pruned" &&
	field_eq configmap/hand-made demo {.metadata.resourceVersion} "$hand_rv" &&
	test -z "$(kj configmap/hand-made demo "{.metadata.labels.plumb\.dev/app}")" &&
	field_eq deployment/web demo {.spec.replicas} 2 &&
	field_eq configmap/settings demo {.data.color} blue
'

test_expect_success 'rollback to the first sync restores its ConfigMap, Service and image; sync moves forward' '
	runs_json shop >h.json &&
	first=$(python3 -c "import json; print(json.load(open(\"h.json\"))[-1][\"id\"])") &&
	run_code 0 "$PLUMB" rollback shop --to "$first" --wait &&
	test_grep "shop: healthy" out &&
	field_eq deployment/web demo {.status.updatedReplicas} 2 &&
	field_eq configmap/web-config demo {.data.greeting} hello &&
	test -n "$(kj service/web demo {.spec.clusterIP})" &&
	managed_by shop service/web demo &&
	field_eq deployment/web demo "{.spec.template.spec.containers[0].image}" registry.example/web:1 &&
	run_code 0 "$PLUMB" history shop -n 1 &&
	test_grep "rollback" out &&
	run_code 1 diff_shop &&
	run_code 0 sync_shop --wait &&
	wait_for 15 gone configmap/web-config demo &&
	wait_for 15 gone service/web demo &&
	field_eq deployment/web demo "{.spec.template.spec.containers[0].image}" registry.example/web:2 &&
	run_code 0 diff_shop
'

test_expect_success 'rollback to a revision works as well' '
	rev=$(git -C repo rev-parse HEAD~1) &&
	run_code 0 "$PLUMB" rollback shop --to "$rev" &&
	field_eq configmap/web-config demo {.data.greeting} "hello again" &&
	test -n "$(kj service/web demo {.spec.clusterIP})" &&
	run_code 0 sync_shop --wait &&
	wait_for 15 gone configmap/web-config demo &&
	wait_for 15 gone service/web demo
'

test_expect_success 'drift from the CLI: a hand scale shows in diff, sync puts it back' '
	k scale deployment web -n demo --replicas=5 &&
	run_code 1 diff_shop &&
	test_grep "Deployment/web" out &&
	test_grep "spec\.replicas" out &&
	run_code 0 sync_shop --wait &&
	field_eq deployment/web demo {.spec.replicas} 2 &&
	run_code 0 diff_shop
'

# For the daemon: "shop" heals drift, "watch" (its own namespace) only reports it.
mkdir -p repo/watch
ns_m watch >repo/watch/namespace.yaml
cm_m notes text original >repo/watch/notes.yaml
commit_all "Add the watch application"
kube_app watch watch ../kube/admin.kubeconfig watch false >apps/watch.yaml
cat apps/shop.yaml apps/watch.yaml >apps/serve.yaml

test_expect_success 'serve with selfHeal: a removed label and a hand scale are put back, as drift runs' '
	start_serve --config apps/serve.yaml --data-dir "$PLUMB_DATA_DIR" --verify-interval 2s &&
	wait_for 30 field_is shop sync Synced &&
	wait_for 30 field_is watch sync Synced &&
	wait_for 10 is configmap/notes watch {.data.text} original &&
	k label deployment web -n demo plumb.dev/app- &&
	wait_for 20 is deployment/web demo "{.metadata.labels.plumb\.dev/app}" shop &&
	k scale deployment web -n demo --replicas=4 &&
	wait_for 20 is deployment/web demo {.spec.replicas} 2 &&
	wait_for 10 has_run shop drift succeeded
'

test_expect_success 'serve without selfHeal: a hand edit is reported, not reverted' '
	k patch configmap notes -n watch --type merge -p "{\"data\":{\"text\":\"tampered\"}}" &&
	wait_for 20 field_is watch sync OutOfSync &&
	app_field watch drift >drift &&
	test_grep "ConfigMap/notes" drift &&
	sleep 3 &&
	field_eq configmap/notes watch {.data.text} tampered &&
	run_code 1 "$PLUMB" diff -f apps/watch.yaml &&
	test_grep "ConfigMap/notes" out &&
	runs_json watch >h.json &&
	test_grep_not "\"trigger\":\"drift\"" h.json &&
	stop_serve TERM
'

test_expect_success 'an invalid object fails the dry run: exit 2, file:line named, nothing applied' '
	kube_snapshot demo >before &&
	cm_m settings color red >repo/shop/settings.yaml &&
	deploy_m broken registry.example/broken:1 -1 >repo/shop/broken.yaml &&
	commit_all "Red settings, and a broken Deployment" &&
	run_code 2 sync_shop &&
	test_grep "Deployment/broken" err &&
	test_grep "broken\.yaml:[0-9]+" err &&
	test_grep "spec\.replicas" err &&
	field_eq configmap/settings demo {.data.color} blue &&
	gone deployment/broken demo &&
	kube_snapshot demo >after &&
	test_cmp before after &&
	git -C repo revert --no-edit HEAD >/dev/null
'

test_expect_success 'an unknown kind: exit 2 naming the kind and its file, nothing applied' '
	kube_snapshot demo >before &&
	cm_m settings color green >repo/shop/settings.yaml &&
	printf "apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g1\nspec:\n  size: 1\n" >repo/shop/gizmo.yaml &&
	commit_all "Green settings, and a Gizmo" &&
	run_code 2 sync_shop &&
	test_grep "Gizmo" err &&
	test_grep "gizmo\.yaml" err &&
	field_eq configmap/settings demo {.data.color} blue &&
	kube_snapshot demo >after &&
	test_cmp before after &&
	git -C repo revert --no-edit HEAD >/dev/null &&
	run_code 0 sync_shop &&
	run_code 0 diff_shop
'

# Should a serve test have failed before stopping it, the daemon must not
# fight the tests that follow.
stop_serve KILL >/dev/null 2>&1 || true

mkdir -p repo/strict
cm_m limits max 10 >repo/strict/limits.yaml
commit_all "Add the strict application"
kube_app strict strict ../kube/admin.kubeconfig demo true "forceConflicts: false" >apps/strict.yaml
kube_app strict strict ../kube/admin.kubeconfig demo true >apps/strict-force.yaml

test_expect_success 'forceConflicts false: a field another manager owns stops the sync, naming both' '
	k apply --server-side --field-manager=ops -f - <<-EOF &&
	apiVersion: v1
	kind: ConfigMap
	metadata:
	  name: limits
	  namespace: demo
	data:
	  max: "99"
	EOF
	kj configmap/limits demo "{.metadata.managedFields[?(@.manager==\"ops\")].fieldsV1}" >ops-fields &&
	test_grep "\"f:max\"" ops-fields &&
	run_code 2 "$PLUMB" sync -f apps/strict.yaml &&
	test_grep "\bops\b" err &&
	test_grep "data\.max" err &&
	field_eq configmap/limits demo {.data.max} 99
'

test_expect_success 'forceConflicts true (the default): the same sync takes the field over' '
	run_code 0 "$PLUMB" sync -f apps/strict-force.yaml &&
	field_eq configmap/limits demo {.data.max} 10 &&
	managed_by strict configmap/limits demo &&
	kj configmap/limits demo "{.metadata.managedFields[?(@.manager==\"plumb\")].fieldsV1}" >plumb-fields &&
	test_grep "\"f:max\"" plumb-fields &&
	kj configmap/limits demo "{.metadata.managedFields[?(@.manager==\"ops\")].fieldsV1}" >ops-fields &&
	test_grep_not "\"f:max\"" ops-fields
'

test_expect_success 'a user the API server forbids to write: exit 2 naming the object and 403, nothing applied' '
	C=$KUBE_STATE/certs &&
	openssl ecparam -name prime256v1 -genkey -noout -out reader.key 2>/dev/null &&
	openssl req -new -key reader.key -subj "/CN=reader" -out reader.csr 2>/dev/null &&
	printf "extendedKeyUsage=clientAuth\n" >reader.ext &&
	openssl x509 -req -in reader.csr -CA "$C/ca.crt" -CAkey "$C/ca.key" -CAcreateserial \
		-days 1 -sha256 -extfile reader.ext -out reader.crt 2>/dev/null &&
	k create clusterrolebinding reader-view --clusterrole=view --user=reader >/dev/null &&
	python3 - "$KUBE_CONFIG" reader.crt reader.key >reader.kubeconfig <<-\PY &&
	import base64, re, sys
	text = open(sys.argv[1]).read()
	b64 = lambda f: base64.b64encode(open(f, "rb").read()).decode()
	text = re.sub(r"client-certificate-data: .*", "client-certificate-data: " + b64(sys.argv[2]), text)
	text = re.sub(r"client-key-data: .*", "client-key-data: " + b64(sys.argv[3]), text)
	print(text, end="")
	PY
	kube_app reader shop "$TRASH/reader.kubeconfig" demo true >apps/reader.yaml &&
	before=$(kube_snapshot demo) &&
	run_code 2 "$PLUMB" sync -f apps/reader.yaml &&
	test_grep "403 Forbidden" err &&
	test_grep "(Deployment|ConfigMap|Widget)/" err &&
	test_grep "RBAC" err &&
	test "$(kube_snapshot demo)" = "$before"
'

test_expect_success 'sync --wait gives up after health.timeout, naming what is not healthy and why' '
	mkdir -p repo/pending &&
	cat >repo/pending/claim.yaml <<-\EOF &&
	apiVersion: v1
	kind: PersistentVolumeClaim
	metadata:
	  name: data
	spec:
	  accessModes: [ReadWriteOnce]
	  resources: {requests: {storage: 1Gi}}
	EOF
	commit_all "A claim no provisioner will bind" &&
	kube_app pending pending ../kube/admin.kubeconfig demo false |
		sed "s/timeout: 60s/timeout: 3s/" >apps/pending.yaml &&
	start=$(date +%s) &&
	run_code 2 "$PLUMB" sync -f apps/pending.yaml --wait &&
	test $(($(date +%s) - start)) -lt 30 &&
	test_grep "pending: sync [0-9]+ succeeded" out &&
	test_grep "not healthy after 3s" err &&
	test_grep "PersistentVolumeClaim/data \(demo\): InProgress" err &&
	run_code 0 "$PLUMB" status pending &&
	test_grep "health: *Progressing" out &&
	test_grep "PersistentVolumeClaim/data" out
'

test_expect_success 'the bundled example (examples/kubernetes) syncs and becomes healthy' '
	mkdir -p example/examples &&
	cp -R "$TEST_DIR/../../examples/kubernetes" example/examples/ &&
	git -C example init -q && git -C example add -A && git -C example commit -q -m example &&
	sed -e "s|repoURL: .*|repoURL: $TRASH/example|" \
		-e "s|namespace: shop.*|namespace: shop\n      kubeconfig: $KUBE_CONFIG|" \
		"$TEST_DIR/../../examples/kubernetes/apps.yaml" >apps/example.yaml &&
	# its own data directory: the application is also called shop
	PLUMB_DATA_DIR=$TRASH/.example-data run_code 0 "$PLUMB" sync -f apps/example.yaml --wait &&
	test_grep "shop: healthy" out &&
	field_eq deployment/web shop {.status.readyReplicas} 2 &&
	managed_by shop service/web shop
'

test_expect_success 'an unreachable API server: exit 2 within 30 s naming the server, nothing applied' '
	port=$(closed_port) &&
	sed "s|server: https://127\.0\.0\.1:[0-9]*|server: https://127.0.0.1:$port|" kube/admin.kubeconfig >offline.kubeconfig &&
	test_grep "server: https://127.0.0.1:$port\$" offline.kubeconfig &&
	kube_app offline shop "$TRASH/offline.kubeconfig" demo true >apps/offline.yaml &&
	start=$(date +%s) &&
	run_code 2 "$PLUMB" sync -f apps/offline.yaml &&
	took=$(($(date +%s) - start)) &&
	echo "failed after ${took}s" &&
	test "$took" -lt 30 &&
	test_grep "127\.0\.0\.1:$port" err &&
	runs_json offline >h.json &&
	python3 -c "
import json
runs = json.load(open(\"h.json\"))
for r in runs:
    assert r[\"result\"] != \"succeeded\", r
    assert not r.get(\"created\") and not r.get(\"updated\") and not r.get(\"deleted\"), r
"
'

kube_done
