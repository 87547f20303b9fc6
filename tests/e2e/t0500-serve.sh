#!/usr/bin/env bash
# plumb serve end to end: a real daemon on loopback, real bare Git repositories
# pushed to, a real root in a temp dir. Webhooks, polling, drift (healed and
# reported), suspend and resume, a failing application beside a healthy one,
# SIGTERM mid-sync and SIGKILL followed by a restart.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/serve-lib.sh"

SECRET=hook-secret-$$
printf '%s\n' "$SECRET" >secret
mkdir -p roots/hooked roots/polled roots/report roots/broken

new_repo hooked motd "hello"
new_repo polled banner "v1"
new_repo report notes "original"
git init -q --bare broken.git
git clone -q broken.git work/broken 2>/dev/null
printf 'apiVersion: host.plumb.dev/v1\nkind: File\nmetadata: {name: bad}\nspec: {path: relative/not/allowed, content: x}\n' >work/broken/bad.yaml
git -C work/broken add -A && git -C work/broken commit -q -m broken && git -C work/broken push -q origin HEAD:main

{
	application hooked "$TRASH/hooked.git" "$TRASH/roots/hooked" 1h true true
	application polled "$TRASH/polled.git" "$TRASH/roots/polled" 1s true true
	application report "$TRASH/report.git" "$TRASH/roots/report" 1h true false
	application broken "$TRASH/broken.git" "$TRASH/roots/broken" 1s true true 100
} >apps.yaml

test_expect_success 'a busy or bad --listen address stops serve before it syncs anything' '
	python3 -c "import socket, time; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)" >busy.port &
	holder=$!
	wait_for 5 test -s busy.port &&
	test_expect_code 2 env PLUMB_DATA_DIR="$TRASH/busy-data" "$PLUMB" serve --config apps.yaml \
		--listen "127.0.0.1:$(cat busy.port)" 2>err &&
	kill $holder &&
	test_grep "cannot listen on 127.0.0.1:[0-9]+ \(is another server using it\?\): Address already in use" err &&
	test_expect_code 2 "$PLUMB" serve --config apps.yaml --listen 127.0.0.1:http 2>err &&
	test_grep "listen .127.0.0.1:http.: bad port" err &&
	test_must_fail_quietly test -e "$TRASH/busy-data" &&
	test_must_fail_quietly test -e roots/hooked/motd
'

test_expect_success 'serve starts, writes an admin token and syncs every application' '
	start_serve --config apps.yaml --webhook-secret-file secret --verify-interval 2s &&
	test "$(stat -c %a "$PLUMB_DATA_DIR/admin-token")" = 600 &&
	test_grep "created the first API token \\(admin\\): it is in .*/admin-token" "$SERVE_LOG" &&
	wait_for 10 has_content roots/hooked/motd hello &&
	wait_for 10 has_content roots/polled/banner v1 &&
	wait_for 10 has_content roots/report/notes original &&
	wait_for 5 field_is hooked sync Synced
'

test_expect_success 'a push and a signed webhook make the host match within a second' '
	push_change hooked motd "hello again" &&
	start=$(date +%s%N) &&
	test "$(github_push "$SECRET" "file://$TRASH/hooked.git")" = 202 &&
	wait_for 1 has_content roots/hooked/motd "hello again" &&
	end=$(date +%s%N) &&
	echo "webhook to applied: $(((end - start) / 1000000)) ms"
'

test_expect_success 'polling picks up a commit without a webhook' '
	push_change polled banner v2 &&
	wait_for 5 has_content roots/polled/banner v2 &&
	"$PLUMB" history polled -o json >h.json &&
	test_grep "\"trigger\":\"poll\"" h.json
'

test_expect_success 'a hand edit is put back (selfHeal) and recorded with trigger drift' '
	echo "edited by hand" >roots/hooked/motd &&
	wait_for 3 has_content roots/hooked/motd "hello again" &&
	wait_for 3 history_has hooked "\"trigger\":\"drift\".*\"result\":\"succeeded\""
'

test_expect_success 'a deleted managed file is put back' '
	rm roots/hooked/motd &&
	wait_for 3 has_content roots/hooked/motd "hello again"
'

test_expect_success 'without selfHeal a hand edit is reported, not reverted' '
	echo "tampered" >roots/report/notes &&
	wait_for 3 field_is report sync OutOfSync &&
	app_field report drift >drift &&
	test_grep "File/notes: changed" drift &&
	sleep 0.5 &&
	has_content roots/report/notes tampered &&
	"$PLUMB" history report -o json >h.json &&
	test_grep_not "\"trigger\":\"drift\"" h.json
'

test_expect_success 'suspend stops syncing; resume catches up' '
	api "$(admin_token)" POST /api/v1/apps/polled/suspend >out &&
	test "$HTTP_STATUS" = 200 &&
	push_change polled banner v3 &&
	sleep 2.5 &&
	has_content roots/polled/banner v2 &&
	test "$(app_field polled suspended)" = True &&
	api "$(admin_token)" POST /api/v1/apps/polled/resume >out &&
	wait_for 5 has_content roots/polled/banner v3
'

test_expect_success 'a failing application does not delay a healthy one' '
	wait_for 5 field_is broken lastResult failed &&
	test "$(app_field broken health)" = Degraded &&
	push_change polled banner v4 &&
	wait_for 3 has_content roots/polled/banner v4
'

test_expect_success 'a manual sync through the API is recorded with the token name' '
	api "$(admin_token)" POST /api/v1/apps/report/sync "{}" >out &&
	test "$HTTP_STATUS" = 202 &&
	wait_for 5 has_content roots/report/notes original &&
	wait_for 3 history_has report "\"trigger\":\"manual\",\"actor\":\"admin\"" &&
	"$PLUMB" audit -o json >audit.json &&
	test_grep "\"actor\":\"admin\",\"action\":\"sync\",\"app\":\"report\"" audit.json
'

test_expect_success 'SIGHUP reloads the config: a removed application is no longer synced' '
	application hooked "$TRASH/hooked.git" "$TRASH/roots/hooked" 1h true true >apps.yaml &&
	kill -HUP "$(serve_pid)" &&
	wait_for 3 grep -q "config reloaded: 1 applications" "$SERVE_LOG" &&
	api "$(admin_token)" GET /api/v1/apps/polled >out &&
	test "$HTTP_STATUS" = 404
'

test_expect_success 'SIGTERM stops the daemon cleanly' '
	stop_serve TERM &&
	test_grep "stopping \\(SIGTERM\\)" "$SERVE_LOG"
'

# A large application, to stop in the middle of its sync.
mkdir -p roots/big
git init -q --bare big.git && git clone -q big.git work/big 2>/dev/null
for i in $(seq 1 300); do file_m "f$i" "/f$i" "$(head -c 20000 /dev/urandom | base64 -w0)"; echo ---; done >work/big/files.yaml
git -C work/big add -A && git -C work/big commit -q -m big && git -C work/big push -q origin HEAD:main
application big "$TRASH/big.git" "$TRASH/roots/big" 1h true true 0 >big.yaml
converged() {
	[ "$(ls roots/big | wc -l)" = 300 ] &&
		"$PLUMB" status big -o json | grep -q "\"sync\":\"Synced\"\|\"state\":\"synced\"\|\"inSync\":true"
}
no_running_runs() { ! "$PLUMB" history big -o json | grep -q "\"result\":\"running\""; }

test_expect_success 'SIGTERM mid-sync records the run as interrupted; a restart converges' '
	start_serve --config big.yaml &&
	wait_for 10 test -e roots/big/f1 &&
	stop_serve TERM &&
	"$PLUMB" history big -o json >h.json &&
	{ test_grep "\"result\":\"interrupted\"" h.json || test_grep "\"result\":\"succeeded\"" h.json; } &&
	no_running_runs &&
	start_serve --config big.yaml &&
	wait_for 30 field_is big sync Synced &&
	test "$(ls roots/big | wc -l)" = 300 &&
	stop_serve TERM
'

test_expect_success 'SIGKILL mid-sync, then a restart, converges with a consistent history' '
	rm -rf roots/big && mkdir roots/big &&
	"$PLUMB" history big -o json >before.json &&
	start_serve --config big.yaml &&
	api "$(admin_token)" POST /api/v1/apps/big/sync >/dev/null &&
	wait_for 10 test -e roots/big/f1 &&
	stop_serve KILL &&
	start_serve --config big.yaml &&
	wait_for 30 field_is big sync Synced &&
	test "$(ls roots/big | wc -l)" = 300 &&
	no_running_runs &&
	for f in roots/big/f*; do test -s "$f" || exit 1; done &&
	"$PLUMB" history big -o json >after.json &&
	python3 -c "
import json, sys
runs = json.load(open(\"after.json\"))
assert runs[0][\"result\"] == \"succeeded\", runs[0]
assert all(r[\"result\"] in (\"succeeded\", \"interrupted\") for r in runs), runs
cut = [r for r in runs if r[\"result\"] == \"interrupted\"]
print(len(cut), \"interrupted runs;\", \"resumed\" if any(r[\"trigger\"] == \"resume\" for r in runs) else \"no resume\")
" &&
	stop_serve TERM
'

test_done
