#!/usr/bin/env bash
# plumb render on local directories: output, determinism, .plumbignore, and every error.
. "$(dirname "$0")/lib.sh"

mkdir -p m/apps/web
cat >m/apps/web/deploy.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: 2
---
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
spec:
  ports:
  - port: 80
YAML
cat >m/00-namespace.json <<'JSON'
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
JSON
echo "notes, not a manifest" >m/NOTES.txt

test_expect_success 'renders every manifest as a YAML stream in path order' '
	"$PLUMB" render m >out 2>err &&
	cat >expect <<-EOF &&
	apiVersion: v1
	kind: Namespace
	metadata:
	  name: prod
	---
	apiVersion: apps/v1
	kind: Deployment
	metadata:
	  name: web
	  namespace: prod
	spec:
	  replicas: 2
	---
	apiVersion: v1
	kind: Service
	metadata:
	  name: web
	  namespace: prod
	spec:
	  ports:
	  - port: 80
	EOF
	test_cmp expect out &&
	test_grep "rendered 3 objects" err
'

test_expect_success 'same input, same bytes, every time' '
	"$PLUMB" render m >one 2>/dev/null &&
	"$PLUMB" render m >two 2>/dev/null &&
	"$PLUMB" render -o json m >j1 2>/dev/null &&
	"$PLUMB" render -o json m >j2 2>/dev/null &&
	cmp one two && cmp j1 j2
'

test_expect_success '-o json carries identity, source file:line and sha256' '
	"$PLUMB" render -q -o json m >out.json &&
	python3 - out.json <<-PY
	import json, sys
	doc = json.load(open(sys.argv[1]))
	assert doc["revision"] is None, doc["revision"]
	objs = doc["objects"]
	assert [o["kind"] for o in objs] == ["Namespace", "Deployment", "Service"], objs
	d = objs[1]
	assert (d["group"], d["version"], d["namespace"], d["name"]) == ("apps", "v1", "prod", "web")
	assert d["source"] == "apps/web/deploy.yaml:1", d["source"]
	assert objs[2]["source"] == "apps/web/deploy.yaml:10", objs[2]["source"]
	assert len(d["sha256"]) == 64
	assert d["object"]["spec"]["replicas"] == 2
	PY
'

test_expect_success 'the hash does not change with key order or formatting' '
	mkdir -p f1 f2 &&
	printf "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: x\n  b: y\n" >f1/c.yaml &&
	printf "{\"data\": {\"b\": \"y\", \"a\": \"x\"}, \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}, \"apiVersion\": \"v1\"}" >f2/c.json &&
	"$PLUMB" render -q -o json f1 | grep sha256 >h1 &&
	"$PLUMB" render -q -o json f2 | grep sha256 >h2 &&
	test_cmp h1 h2 &&
	printf "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: x\n  b: z\n" >f1/c.yaml &&
	"$PLUMB" render -q -o json f1 | grep sha256 >h3 &&
	! cmp -s h1 h3
'

test_expect_success '.plumbignore excludes paths with gitignore syntax' '
	mkdir -p ig/drafts ig/keep &&
	cm real >ig/keep/real.yaml &&
	echo "broken: [" >ig/drafts/wip.yaml &&
	echo "broken: [" >ig/keep/old.bak.yaml &&
	printf "drafts/\n*.bak.yaml\n" >ig/.plumbignore &&
	"$PLUMB" render -q ig >out &&
	test_grep "name: real" out
'

test_expect_success 'invalid YAML: exit 2 and the error names file:line:column' '
	mkdir -p bad && cm ok >bad/a.yaml &&
	printf "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: b\n" >bad/b.yaml &&
	test_expect_code 2 "$PLUMB" render bad >out 2>err &&
	test_grep "^error: b\.yaml:[0-9]+:[0-9]+: " err &&
	test_must_be_empty out
'

test_expect_success 'invalid JSON names the file and line' '
	mkdir -p badjson && printf "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \n}\n" >badjson/x.json &&
	test_expect_code 2 "$PLUMB" render badjson 2>err &&
	test_grep "x\.json:[0-9]+:[0-9]+:" err
'

test_expect_success 'a document without apiVersion, kind or metadata.name is refused' '
	mkdir -p miss &&
	printf "kind: ConfigMap\nmetadata:\n  name: a\n" >miss/a.yaml &&
	printf "apiVersion: v1\nmetadata:\n  name: b\n" >miss/b.yaml &&
	printf "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\n" >miss/c.yaml &&
	test_expect_code 2 "$PLUMB" render miss 2>err &&
	test_grep "a\.yaml:1:1: object has no .apiVersion." err &&
	test_grep "b\.yaml:1:1: object has no .kind." err &&
	test_grep "c\.yaml:1:1: object has no .metadata\.name." err
'

test_expect_success 'two objects with one identity: both places are named' '
	mkdir -p dup/x &&
	cm same team >dup/a.yaml &&
	{ echo "# another copy"; cm same team; } >dup/x/b.yaml &&
	test_expect_code 2 "$PLUMB" render dup 2>err &&
	test_grep "x/b\.yaml:2: duplicate object ConfigMap/team/same: already defined at a\.yaml:1" err
'

test_expect_success 'same name in another namespace is a different object' '
	mkdir -p ns &&
	cm same one >ns/a.yaml && cm same two >ns/b.yaml &&
	"$PLUMB" render -q ns >out &&
	test "$(grep -c "name: same" out)" = 2
'

test_expect_success 'a kustomization may not read a file above its directory' '
	mkdir -p kust/overlay &&
	cm base >kust/base.yaml &&
	echo "resources: [../base.yaml]" >kust/overlay/kustomization.yaml &&
	test_expect_code 2 "$PLUMB" render kust/overlay >out 2>err &&
	test_grep "overlay/kustomization\.yaml:1:13: .\.\./base\.yaml. is outside the kustomization.s directory" err &&
	test_must_be_empty out
'

test_expect_success 'a missing directory is a clear error' '
	test_expect_code 2 "$PLUMB" render does-not-exist 2>err &&
	test_grep "error: cannot open directory .does-not-exist.: No such file" err
'

test_expect_success 'a symlink leading out of the directory is not followed' '
	mkdir -p link outside &&
	cm secret >outside/secret.yaml &&
	cm inside >link/inside.yaml &&
	ln -s ../outside/secret.yaml link/escape.yaml &&
	"$PLUMB" render -q link >out &&
	test_grep "name: inside" out &&
	test_grep_not "secret" out
'

test_expect_success 'usage errors and help' '
	test_expect_code 2 "$PLUMB" render 2>err &&
	test_grep "give a directory, or --repo" err &&
	test_expect_code 2 "$PLUMB" render m -o xml 2>err &&
	test_grep "unknown output format .xml." err &&
	test_expect_code 2 "$PLUMB" render m --ref main 2>err &&
	test_grep "need --repo" err &&
	"$PLUMB" render --help >out &&
	test_grep "^usage: plumb render" out &&
	test_grep "Examples:" out &&
	"$PLUMB" --help >out &&
	test_grep "render" out &&
	test_expect_code 2 "$PLUMB" rendr 2>err &&
	test_grep "did you mean .plumb render." err
'

test_expect_success 'an unknown log format is refused' '
	test_expect_code 2 "$PLUMB" --log-format yaml render m 2>err >/dev/null &&
	test_grep "unknown log format .yaml." err
'

test_expect_success 'plumb version' '
	"$PLUMB" version >out &&
	test_grep "^plumb [0-9]+\.[0-9]+\.[0-9]+ \(libgit2 " out &&
	"$PLUMB" version -o json | python3 -c "import json,sys; assert json.load(sys.stdin)[\"version\"]"
'

test_done
