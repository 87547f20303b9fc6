#!/usr/bin/env bash
# plumb diff / sync / status / history / rollback against a real root in a temp dir,
# with a real Git repository: create, update, prune, purge, take-over and restore.
. "$(dirname "$0")/lib.sh"

ROOT=$TRASH/root
mkdir -p "$ROOT"
make_repo ops

# host manifests
dir_m() { printf 'apiVersion: host.plumb.dev/v1\nkind: Directory\nmetadata:\n  name: %s\nspec:\n  path: %s\n' "$1" "$2"; [ -n "${3:-}" ] && printf '  mode: "%s"\n' "$3"; true; }
file_m() { printf 'apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: %s\nspec:\n  path: %s\n  mode: "%s"\n  content: |\n' "$1" "$2" "$3"; printf '%s\n' "$4" | sed 's/^/    /'; }
link_m() { printf 'apiVersion: host.plumb.dev/v1\nkind: Symlink\nmetadata:\n  name: %s\nspec:\n  path: %s\n  target: %s\n' "$1" "$2" "$3"; }
SYNC() { "$PLUMB" sync -q --repo "$TRASH/ops" --path host --root "$ROOT" --name web "$@"; }
DIFF() { "$PLUMB" diff --repo "$TRASH/ops" --path host --root "$ROOT" --name web "$@"; }
# snapshot DIR: every path with its type, mode, and content hash or link target
snapshot() { (cd "$1" && find . -printf '%p %y %m %l\n' | sort && find . -type f -exec sha256sum {} + | sort); }

{ dir_m app /srv/app 0750; echo ---; dir_m srv /srv; } >ops/dirs.yaml
mkdir -p ops/host && mv ops/dirs.yaml ops/host/
file_m config /srv/app/config.ini 0640 "[server]
port = 8080" >ops/host/config.yaml
link_m current /srv/current /srv/app >ops/host/link.yaml
git -C ops add -A && git -C ops commit -q -m "First release"

test_expect_success 'diff shows what a first sync creates, exit 1' '
	test_expect_code 1 DIFF >out &&
	test_grep "^\+ create +Directory/srv +/srv$" out &&
	test_grep "^\+ create +File/config +/srv/app/config.ini" out &&
	test_grep "4 to create, 0 to update, 0 to delete, 0 unchanged" out &&
	test_must_fail_quietly test -e "$ROOT/srv"
'

test_expect_success 'sync creates directories, files and symlinks' '
	SYNC >out &&
	test_grep "web: sync 1 succeeded: 4 created" out &&
	test "$(stat -c %a "$ROOT/srv/app")" = 750 &&
	test "$(stat -c %a "$ROOT/srv/app/config.ini")" = 640 &&
	printf "[server]\nport = 8080\n" >expect && test_cmp expect "$ROOT/srv/app/config.ini" &&
	test "$(readlink "$ROOT/srv/current")" = /srv/app
'

test_expect_success 'diff after a sync: nothing differs, exit 0' '
	DIFF >out &&
	test_grep "0 to create, 0 to update, 0 to delete, 4 unchanged" out
'

test_expect_success 'a no-change sync writes nothing' '
	before=$(stat -c %i.%Y "$ROOT/srv/app/config.ini") &&
	SYNC >out &&
	test_grep "0 created, 0 updated, 0 deleted, 4 unchanged" out &&
	test "$(stat -c %i.%Y "$ROOT/srv/app/config.ini")" = "$before"
'

test_expect_success 'a sync of the applied revision notices an edit that keeps size and mtime' '
	f="$ROOT/srv/app/config.ini" &&
	cp -p "$f" saved &&
	sed -i "s/8080/8081/" "$f" && touch -r saved "$f" &&
	test "$(stat -c %s.%Y "$f")" = "$(stat -c %s.%Y saved)" &&
	SYNC >out &&
	test_grep "1 updated" out &&
	test_cmp saved "$f"
'

test_expect_success 'and a mode change made by hand; an owner the manifest does not set is left alone' '
	chmod 0666 "$ROOT/srv/app/config.ini" && chown 1 "$ROOT/srv/app/config.ini" &&
	SYNC >out && test_grep "1 updated" out &&
	test "$(stat -c %a.%u "$ROOT/srv/app/config.ini")" = 640.1 &&
	chown 0 "$ROOT/srv/app/config.ini"
'

test_expect_success 'update content, mode and symlink target: diff shows each, sync applies' '
	file_m config /srv/app/config.ini 0600 "[server]
port = 9090" >ops/host/config.yaml &&
	link_m current /srv/current /srv/app/config.ini >ops/host/link.yaml &&
	git -C ops commit -q -am "Move to port 9090" &&
	test_expect_code 1 DIFF >out &&
	test_grep "^~ update +File/config .*\(content, mode 0640 -> 0600\)" out &&
	test_grep "^    -port = 8080$" out &&
	test_grep "^    \+port = 9090$" out &&
	test_grep "target ./srv/app. -> ./srv/app/config.ini." out &&
	SYNC >out &&
	test_grep "2 updated" out &&
	test "$(stat -c %a "$ROOT/srv/app/config.ini")" = 600 &&
	test_grep "port = 9090" "$ROOT/srv/app/config.ini" &&
	test "$(readlink "$ROOT/srv/current")" = /srv/app/config.ini &&
	test_must_fail_quietly ls "$ROOT"/srv/app/.plumb-tmp.*
'

test_expect_success 'prune: an object removed from Git is removed from the host' '
	git -C ops rm -q host/link.yaml && git -C ops commit -q -m "Drop the link" &&
	test_expect_code 1 DIFF >out &&
	test_grep "^- delete +Symlink/current +/srv/current" out &&
	SYNC >out &&
	test_grep "1 deleted" out &&
	test_must_fail_quietly test -L "$ROOT/srv/current"
'

test_expect_success '--no-prune keeps what Git no longer has, and says so' '
	file_m extra /srv/app/extra.txt 0644 "extra" >ops/host/extra.yaml &&
	git -C ops add -A && git -C ops commit -q -m "Add extra" && SYNC >/dev/null &&
	git -C ops rm -q host/extra.yaml && git -C ops commit -q -m "Remove extra" &&
	SYNC --no-prune >out &&
	test -f "$ROOT/srv/app/extra.txt" &&
	DIFF --no-prune >out &&
	test_grep "^! orphan +File/extra" out &&
	SYNC >/dev/null &&
	test_must_fail_quietly test -e "$ROOT/srv/app/extra.txt"
'

test_expect_success 'purge removes unmanaged entries of a Directory, keeps managed ones' '
	mkdir -p "$ROOT/srv/app/stray-dir/deeper" &&
	echo junk >"$ROOT/srv/app/stray.txt" && echo junk >"$ROOT/srv/app/stray-dir/deeper/x" &&
	{ dir_m app /srv/app 0750; echo "  purge: true"; echo ---; dir_m srv /srv; } >ops/host/dirs.yaml &&
	git -C ops commit -q -am "Purge /srv/app" &&
	test_expect_code 1 DIFF >out &&
	test_grep "^- delete +\(unmanaged\) +/srv/app/stray.txt" out &&
	test_grep "^- delete +\(unmanaged\) +/srv/app/stray-dir +\(purged from /srv/app\)" out &&
	SYNC >/dev/null &&
	test_must_fail_quietly test -e "$ROOT/srv/app/stray.txt" &&
	test_must_fail_quietly test -e "$ROOT/srv/app/stray-dir" &&
	test -f "$ROOT/srv/app/config.ini"
'

test_expect_success 'take over an existing file, then restore it when pruned' '
	mkdir -p "$ROOT/etc" && printf "original motd\n" >"$ROOT/etc/motd" &&
	chmod 0604 "$ROOT/etc/motd" && chown 1:1 "$ROOT/etc/motd" &&
	file_m motd /etc/motd 0644 "managed by plumb" >ops/host/motd.yaml &&
	git -C ops add -A && git -C ops commit -q -m "Manage motd" &&
	test_expect_code 1 DIFF >out &&
	test_grep "^~ update +File/motd +/etc/motd +\(content, mode 0604 -> 0644\)" out &&
	test_grep "^    -original motd$" out &&
	SYNC >/dev/null &&
	test_grep "managed by plumb" "$ROOT/etc/motd" &&
	git -C ops rm -q host/motd.yaml && git -C ops commit -q -m "Unmanage motd" &&
	SYNC >/dev/null &&
	printf "original motd\n" >expect && test_cmp expect "$ROOT/etc/motd" &&
	test "$(stat -c %a.%u.%g "$ROOT/etc/motd")" = 604.1.1
'

test_expect_success 'history lists every run with revision, author, message and counts' '
	"$PLUMB" history web >out &&
	test_grep "^ID +TIME +APP +REVISION +AUTHOR +TRIGGER +RESULT +CHANGES +MESSAGE" out &&
	test_grep "^1 .* web +$(git -C ops rev-parse HEAD~7 | cut -c1-12) +Ada Author +manual +succeeded +\+4 ~0 -0 +First release" out &&
	test_grep "Move to port 9090" out &&
	"$PLUMB" history -o json web | python3 -c "
import json, sys
runs = json.load(sys.stdin)
assert runs[0][\"message\"] == \"Unmanage motd\", runs[0]
assert runs[-1][\"created\"] == 4 and runs[-1][\"result\"] == \"succeeded\", runs[-1]
assert all(r[\"app\"] == \"web\" for r in runs)
"
'

test_expect_success 'history --run shows the objects of one run' '
	"$PLUMB" history --run 3 >out &&
	test_grep "^run 3 of web: succeeded" out &&
	test_grep "update +ok +File/config +/srv/app/config.ini" out
'

test_expect_success 'status: Synced, then OutOfSync after a hand edit, naming the object' '
	"$PLUMB" status >out &&
	test_grep "^web +Synced +$(git -C ops rev-parse HEAD | cut -c1-12)" out &&
	echo "hand edit" >>"$ROOT/srv/app/config.ini" &&
	"$PLUMB" status web >out &&
	test_grep "^application web: OutOfSync" out &&
	test_grep "OutOfSync +File/config +/srv/app/config.ini +\(content\)" out &&
	"$PLUMB" status -o json | python3 -c "
import json, sys
apps = json.load(sys.stdin)
objs = {o[\"object\"]: o[\"state\"] for o in apps[0][\"objects\"]}
assert apps[0][\"state\"] == \"OutOfSync\", apps
assert objs[\"File/config\"] == \"OutOfSync\" and objs[\"Directory/srv\"] == \"Synced\", objs
" &&
	SYNC >/dev/null && "$PLUMB" status web >out && test_grep "^application web: Synced" out
'

test_expect_success 'rollback to a sync id makes the host match that revision' '
	"$PLUMB" rollback web --to 1 -q >out &&
	test_grep "web: rollback [0-9]+ succeeded" out &&
	printf "[server]\nport = 8080\n" >expect && test_cmp expect "$ROOT/srv/app/config.ini" &&
	test "$(stat -c %a "$ROOT/srv/app/config.ini")" = 640 &&
	test "$(readlink "$ROOT/srv/current")" = /srv/app &&
	"$PLUMB" history web -n 1 >out &&
	test_grep "rollback +succeeded .*First release" out
'

test_expect_success 'rollback to a revision, and sync moves forward again' '
	"$PLUMB" rollback web --to "$(git -C ops rev-parse --short HEAD~6)" -q >/dev/null &&
	test_grep "port = 9090" "$ROOT/srv/app/config.ini" &&
	SYNC >/dev/null &&
	test_must_fail_quietly test -e "$ROOT/srv/current" &&
	DIFF >/dev/null
'

test_expect_success 'rollback errors: unknown app, unknown run, bad revision' '
	test_expect_code 2 "$PLUMB" rollback nope --to 1 2>err &&
	test_grep "has not synced an application named .nope." err &&
	test_expect_code 2 "$PLUMB" rollback web --to 999 2>err &&
	test_grep "no sync run 999" err &&
	test_expect_code 2 "$PLUMB" rollback web --to xyz 2>err &&
	test_grep "neither a sync id nor a commit" err
'

test_expect_success 'sync and diff -o json' '
	SYNC -o json >out.json &&
	python3 -c "
import json
r = json.load(open(\"out.json\"))[0]
assert r[\"app\"] == \"web\" and r[\"result\"] == \"succeeded\" and r[\"run\"] > 0, r
assert r[\"revision\"][\"summary\"] == \"Unmanage motd\", r
" &&
	"$PLUMB" diff -o json --repo "$TRASH/ops" --path host --root "$ROOT" --name web >d.json &&
	python3 -c "
import json
r = json.load(open(\"d.json\"))[0]
assert r[\"counts\"][\"unchanged\"] == 3 and all(c[\"action\"] == \"unchanged\" for c in r[\"changes\"]), r
"
'

test_expect_success 'Applications from a file, with --app' '
	cat >apps.yaml <<-EOF &&
	apiVersion: plumb.dev/v1
	kind: Application
	metadata:
	  name: web
	spec:
	  source:
	    repoURL: $TRASH/ops
	    ref: {branch: main}
	    path: host
	  destination:
	    host: {root: $ROOT}
	  syncPolicy:
	    automated: {prune: true}
	---
	apiVersion: plumb.dev/v1
	kind: Application
	metadata:
	  name: other
	spec:
	  source: {repoURL: $TRASH/ops, path: host}
	  destination:
	    host: {root: $TRASH/other-root}
	EOF
	"$PLUMB" diff -f apps.yaml --app web >out &&
	test_grep "3 unchanged" out &&
	test_expect_code 2 "$PLUMB" diff -f apps.yaml --app nope 2>err &&
	test_grep "no application .nope. in .apps.yaml." err
'

test_expect_success 'an Application file with mistakes names each, with file:line' '
	cat >bad-apps.yaml <<-EOF &&
	apiVersion: plumb.dev/v1
	kind: Application
	metadata:
	  name: web
	spec:
	  source:
	    repoURL: x
	    revision: main
	  destination:
	    kubernetes: {namespace: Web_1}
	  syncPolicy:
	    retry: {limit: lots}
	EOF
	test_expect_code 2 "$PLUMB" sync -f bad-apps.yaml 2>err &&
	test_grep "bad-apps.yaml:8:5: unknown field .revision. in .spec.source." err &&
	test_grep "bad-apps.yaml:10:29: .spec.destination.kubernetes.namespace. must be a namespace name" err &&
	test_grep "bad-apps.yaml:12:20: .spec.syncPolicy.retry.limit. must be a number" err
'

test_expect_success 'a pruned directory that still holds unmanaged files is kept, and the run says so' '
	{ dir_m tmpdir /srv/scratch; } >ops/host/scratch.yaml &&
	git -C ops add -A && git -C ops commit -q -m "Add scratch" && SYNC >/dev/null &&
	echo "not plumb" >"$ROOT/srv/scratch/user-file" &&
	git -C ops rm -q host/scratch.yaml && git -C ops commit -q -m "Drop scratch" &&
	SYNC >/dev/null &&
	test -f "$ROOT/srv/scratch/user-file" &&
	"$PLUMB" history --run "$("$PLUMB" history web -n 1 -o json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])")" >out &&
	test_grep "delete +ok +Directory/tmpdir +/srv/scratch +directory ./srv/scratch. is not empty; kept" out
'

test_expect_success 'a second plumb syncing the same application is refused' '
	lock="$PLUMB_DATA_DIR/locks/web.lock"
	flock "$lock" sleep 30 &
	holder=$!
	for i in $(seq 100); do flock -n "$lock" true || break; sleep 0.1; done
	rc=0; SYNC 2>err || rc=$?
	kill $holder 2>/dev/null || true; wait $holder 2>/dev/null || true
	test $rc = 2 &&
	test_grep "another plumb is syncing application .web." err
'

test_done
