#!/usr/bin/env bash
# Crash safety: plumb is killed with SIGKILL at random instants while it syncs
# large files back and forth between two revisions. After every kill each
# managed file holds exactly one revision's content (never a torn mix), the
# database is intact, and the next sync converges.
. "$(dirname "$0")/lib.sh"

KILLS=${PLUMB_CRASH_KILLS:-40}
FILES=12
ROOT=$TRASH/root
mkdir -p "$ROOT/data"
make_repo ops
mkdir -p ops/host/files
{
	printf 'apiVersion: host.plumb.dev/v1\nkind: Directory\nmetadata: {name: data}\nspec: {path: /data}\n'
	for i in $(seq $FILES); do
		printf -- '---\napiVersion: host.plumb.dev/v1\nkind: File\nmetadata: {name: f%s}\n' "$i"
		printf 'spec: {path: /data/f%s.bin, source: files/f%s.bin, mode: "0640"}\n' "$i" "$i"
	done
} >ops/host/files.yaml
# two revisions of 4 MiB files with different content, hashes kept for the checks
for rev in a b; do
	for i in $(seq $FILES); do
		head -c $((4 * 1024 * 1024)) /dev/urandom >ops/host/files/f$i.bin
		sha256sum <ops/host/files/f$i.bin | cut -d" " -f1 >>"$TRASH/good-hashes"
	done
	git -C ops add -A && git -C ops commit -q -m "revision $rev" && git -C ops tag "rev-$rev"
done

SYNC() { "$PLUMB" sync -q --repo "$TRASH/ops" --path host --root "$ROOT" --name crash "$@"; }

# check_files: every present managed file is exactly one of the known contents
check_files() {
	local f h
	for f in "$ROOT"/data/f*.bin; do
		[ -e "$f" ] || continue
		h=$(sha256sum <"$f" | cut -d" " -f1)
		grep -qx "$h" "$TRASH/good-hashes" || { say "torn file: $f"; return 1; }
	done
}

check_db() {
	python3 -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
" "$PLUMB_DATA_DIR/plumb.db"
}

test_expect_success 'a first full sync, then one to the other revision (timed)' '
	SYNC --ref rev-a >/dev/null && check_files &&
	start=$(date +%s%N) &&
	SYNC --ref rev-b >/dev/null && check_files &&
	echo $(( ($(date +%s%N) - start) / 1000000 )) >"$TRASH/sync-ms"
'
WINDOW_MS=$(cat "$TRASH/sync-ms" 2>/dev/null || echo 600)
[ "$WINDOW_MS" -gt 50 ] || WINDOW_MS=50

test_expect_success "SIGKILL at $KILLS random instants: no torn file, database intact" '
	killed=0 finished=0
	for k in $(seq $KILLS); do
		if [ $((k % 2)) = 0 ]; then ref=rev-a; else ref=rev-b; fi
		"$PLUMB" sync -q --repo "$TRASH/ops" --path host --root "$ROOT" --name crash \
			--ref $ref >/dev/null 2>&1 &
		pid=$!
		# anywhere within the time a full sync takes: fetch, render, or the writes
		ms=$((RANDOM % WINDOW_MS))
		sleep "$((ms / 1000)).$(printf "%03d" $((ms % 1000)))"
		if kill -9 $pid 2>/dev/null; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
		wait $pid 2>/dev/null || true
		check_files || exit 1
		check_db || exit 1
	done
	say "# $killed kills landed during a sync, $finished syncs finished first (window ${WINDOW_MS} ms)"
	echo "$killed" >"$TRASH/killed"
	# a kill after a sync finished proves nothing: a good share must land mid-sync
	test "$killed" -ge $((KILLS / 8))
'

[ -f "$TRASH/killed" ] && say "# SIGKILL landed during $(cat "$TRASH/killed") of $KILLS syncs"

test_expect_success 'SIGTERM finishes the file being written, records the run as interrupted' '
	landed=0
	for k in $(seq 10); do
		if [ $((k % 2)) = 0 ]; then ref=rev-a; else ref=rev-b; fi
		"$PLUMB" sync -q --repo "$TRASH/ops" --path host --root "$ROOT" --name crash \
			--ref $ref >/dev/null 2>term.err &
		pid=$!
		ms=$((WINDOW_MS / 4 + RANDOM % (WINDOW_MS / 2 + 1)))
		sleep "$((ms / 1000)).$(printf "%03d" $((ms % 1000)))"
		kill -TERM $pid 2>/dev/null || true
		rc=0; wait $pid || rc=$?
		check_files || exit 1
		last=$("$PLUMB" history crash -n 1 -o json | python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"result\"])")
		if [ $rc = 2 ]; then
			test_grep "stopped by a signal" term.err || exit 1
			test "$last" = interrupted || { say "run is $last"; exit 1; }
			landed=$((landed + 1))
		else
			test "$last" = succeeded || { say "exit $rc, run is $last"; exit 1; }
		fi
	done
	say "# SIGTERM landed mid-sync $landed of 10 times"
	test $landed -ge 1
'

test_expect_success 'the next sync converges and sweeps leftovers' '
	SYNC --ref rev-b >/dev/null &&
	"$PLUMB" diff --repo "$TRASH/ops" --path host --root "$ROOT" --name crash --ref rev-b >out &&
	test_grep "0 to create, 0 to update, 0 to delete" out &&
	check_files &&
	test_must_fail_quietly ls "$ROOT"/data/.plumb-tmp.* &&
	for i in $(seq $FILES); do cmp -s "$ROOT/data/f$i.bin" <(git -C ops show rev-b:host/files/f$i.bin) || exit 1; done
'

test_expect_success 'interrupted runs are recorded as such, the last one succeeded' '
	"$PLUMB" history crash -n 0 -o json | python3 -c "
import json, sys
runs = json.load(sys.stdin)
assert runs[0][\"result\"] == \"succeeded\", runs[0]
assert all(r[\"result\"] != \"running\" for r in runs), [r[\"result\"] for r in runs]
print(\"#\", sum(r[\"result\"] == \"interrupted\" for r in runs), \"runs recorded as interrupted\")
"
'

test_done
