#!/usr/bin/env bash
# Bad input never changes the host: each case exits 2 with a clear error, and the
# root is byte-for-byte as it was.
. "$(dirname "$0")/lib.sh"

ROOT=$TRASH/root
OUTSIDE=$TRASH/outside
mkdir -p "$ROOT/etc" "$OUTSIDE"
echo "keep me" >"$ROOT/etc/existing"
echo "outside" >"$OUTSIDE/untouched"
make_repo ops
good() {
	printf 'apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: good\nspec:\n  path: /etc/good\n  content: "fine"\n'
}
snapshot() { (cd "$1" && find . -printf '%p %y %m %U %l\n' | sort && find . -type f -exec sha256sum {} + | sort); }

# try NAME FILE-CONTENT PATTERN: commits a good object plus the bad one, and
# checks the sync fails naming the problem while nothing changes.
try() {
	local name=$1 content=$2 pattern=$3
	rm -rf ops/host && mkdir -p ops/host &&
	good >ops/host/a-good.yaml &&
	printf '%s\n' "$content" >ops/host/b-bad.yaml &&
	git -C ops add -A && git -C ops commit -q -m "$name" &&
	snapshot "$ROOT" >before && snapshot "$OUTSIDE" >>before &&
	test_expect_code 2 "$PLUMB" sync -q --repo "$TRASH/ops" --path host --root "$ROOT" --name t >out 2>err &&
	test_grep "$pattern" err &&
	snapshot "$ROOT" >after && snapshot "$OUTSIDE" >>after &&
	test_cmp before after &&
	test_expect_code 2 "$PLUMB" diff --repo "$TRASH/ops" --path host --root "$ROOT" --name t >/dev/null 2>&1
}

test_expect_success 'invalid YAML' '
	try yaml "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad
spec: {}" "b-bad\.yaml:[0-9]+:[0-9]+:"
'

test_expect_success 'a path with ..' '
	try dotdot "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /etc/../../outside/x, content: x}" "b-bad\.yaml:[0-9]+:[0-9]+: File/bad: path ./etc/\.\./\.\./outside/x. must not contain .\.\.."
'

test_expect_success 'a relative path' '
	try relative "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: ../outside/x, content: x}" "File/bad: path .\.\./outside/x. must be absolute"
'

test_expect_success 'a source outside the repository (absolute)' '
	try abs-source "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /etc/passwd-copy, source: /etc/passwd}" "File/bad: .*source ./etc/passwd."
'

test_expect_success 'a source that climbs out of the repository' '
	try climb-source "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /etc/x, source: ../../../etc/passwd}" "File/bad: .*source"
'

test_expect_success 'a symlink planted in the root that leads out' '
	ln -s "$OUTSIDE" "$ROOT/escape" &&
	try planted "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /escape/pwned, content: x}" "File/bad: .*/escape/pwned.*symlink that leaves the root" &&
	test_must_fail_quietly test -e "$OUTSIDE/pwned"
'

test_expect_success 'an unknown kind' '
	try kind "apiVersion: host.plumb.dev/v1
kind: Fiel
metadata: {name: bad}
spec: {path: /etc/x}" "b-bad\.yaml:2:7: Fiel/bad: unknown kind .Fiel. of host.plumb.dev/v1 \(known: File, Directory, Symlink\)"
'

test_expect_success 'an object that is not a host resource' '
	try k8s "apiVersion: v1
kind: ConfigMap
metadata: {name: bad}" "b-bad\.yaml:1:13: ConfigMap/bad: apiVersion must be host.plumb.dev/v1"
'

test_expect_success 'an unknown field' '
	try field "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /etc/x, content: x, permissions: \"0644\"}" "b-bad\.yaml:4:34: File/bad: unknown field .spec.permissions."
'

test_expect_success 'a missing source file' '
	try missing "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /etc/x, source: files/nope.conf}" "b-bad\.yaml:[0-9]+:[0-9]+: File/bad: .*files/nope\.conf"
'

test_expect_success 'two objects with one path' '
	try same-path "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /etc/good, content: other}" "path ./etc/good. is also declared by File/good"
'

test_expect_success 'a parent directory that neither exists nor is declared' '
	try parent "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /nowhere/x, content: x}" "parent directory ./nowhere. of ./nowhere/x. does not exist"
'

test_expect_success 'a file where a directory is' '
	try file-over-dir "apiVersion: host.plumb.dev/v1
kind: File
metadata: {name: bad}
spec: {path: /etc, content: x}" "./etc. is a directory on the host"
'

test_expect_success 'an unreachable repository changes nothing' '
	snapshot "$ROOT" >before &&
	test_expect_code 2 "$PLUMB" sync -q --repo "$TRASH/no-such-repo" --root "$ROOT" 2>err &&
	test_grep "no-such-repo" err &&
	snapshot "$ROOT" >after && test_cmp before after
'

test_expect_success 'a root that does not exist is an error, not created' '
	rm -rf ops/host && mkdir -p ops/host && good >ops/host/a.yaml &&
	git -C ops add -A && git -C ops commit -q -m good &&
	test_expect_code 2 "$PLUMB" sync -q --repo "$TRASH/ops" --path host --root "$TRASH/no-root" 2>err &&
	test_grep "no-root" err &&
	test_must_fail_quietly test -e "$TRASH/no-root"
'

test_expect_success 'and with everything fixed, the sync goes through' '
	"$PLUMB" sync -q --repo "$TRASH/ops" --path host --root "$ROOT" --name t >out &&
	test_grep "1 created" out &&
	test "$(cat "$ROOT/etc/good")" = fine &&
	test "$(cat "$OUTSIDE/untouched")" = outside
'

test_done
