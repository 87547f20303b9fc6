#!/usr/bin/env bash
# diff, sync, status, history and rollback with --server: the commands act
# through a real plumb serve on loopback (real bare Git repositories, a real
# root in a temp dir), with the bearer token of $PLUMB_TOKEN or --token-file.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/serve-lib.sh"

mkdir -p roots/web roots/broken

new_repo web motd "hello"
FIRST_SHA=$(git -C work/web rev-parse HEAD)
git init -q --bare broken.git
git clone -q broken.git work/broken 2>/dev/null
printf 'apiVersion: host.plumb.dev/v1\nkind: File\nmetadata: {name: bad}\nspec: {path: relative/not/allowed, content: x}\n' >work/broken/bad.yaml
git -C work/broken add -A && git -C work/broken commit -q -m broken && git -C work/broken push -q origin HEAD:main

# Neither is automated: only what the tests ask for is synced.
{
	application web "$TRASH/web.git" "$TRASH/roots/web" 1h false false
	application broken "$TRASH/broken.git" "$TRASH/roots/broken" 1h false false
} >apps.yaml

test_expect_success 'serve starts with two applications, nothing synced' '
	start_serve --config apps.yaml &&
	test ! -e roots/web/motd
'

URL=$(serve_url)
export PLUMB_TOKEN
PLUMB_TOKEN=$(admin_token)

test_expect_success 'status --server lists the applications of the server' '
	"$PLUMB" status --server "$URL" >out &&
	test_grep "^APP +SYNC +HEALTH +REVISION +RUN +RESULT" out &&
	test_grep "^web +[A-Za-z]+ +[A-Za-z]+ +- +- +-" out &&
	test_grep "^broken " out &&
	test "$(wc -l <out)" = 3
'

test_expect_success 'status --server -o json is the API JSON as it is' '
	"$PLUMB" status --server "$URL" -o json >out.json &&
	test "$(json_query "sorted(a[\"name\"] for a in v)" <out.json)" = "[\"broken\", \"web\"]"
'

test_expect_success 'diff --server shows the plan and exits 1 when something differs' '
	test_expect_code 1 "$PLUMB" diff --server "$URL" web >out &&
	test_grep "^web: [0-9a-f]{12} on $URL" out &&
	test_grep "^\\+ create +File/motd +/motd$" out &&
	test_grep "^1 to create, 0 to update, 0 to delete, 0 unchanged$" out &&
	test ! -e roots/web/motd
'

test_expect_success 'diff --server -o json is the plan as the API gives it' '
	test_expect_code 1 "$PLUMB" diff --server "$URL" web -o json >out.json &&
	test "$(json_query "v[\"revision\"]" <out.json)" = "$FIRST_SHA" &&
	test "$(json_query "[c[\"action\"] for c in v[\"plan\"]]" <out.json)" = "[\"create\"]"
'

test_expect_success 'sync --server waits for the run and prints its result' '
	"$PLUMB" sync --server "$URL" web >out 2>err &&
	has_content roots/web/motd hello &&
	test_grep "^web: .*web.git at [0-9a-f]{12} \\(.*\\): \"add motd\" by Ada Author$" out &&
	test_grep "^\\+ create +File/motd" out &&
	test_grep "^web: sync [0-9]+ succeeded: 1 created, 0 updated, 0 deleted, 0 unchanged$" out &&
	test_grep "waiting for it to finish" err &&
	history_has web "\"trigger\":\"manual\",\"actor\":\"admin\".*\"result\":\"succeeded\""
'

test_expect_success 'diff --server exits 0 once the host matches' '
	"$PLUMB" diff --server "$URL" web >out &&
	test_grep "^0 to create, 0 to update, 0 to delete, 1 unchanged$" out
'

test_expect_success 'status --server <app> shows its state and objects' '
	"$PLUMB" status --server "$URL" web >out &&
	test_grep "^application web: Synced, Healthy" out &&
	test_grep "^revision: +$FIRST_SHA$" out &&
	test_grep "^last sync: +[0-9]+: succeeded$" out &&
	test_grep "^  Synced +File/motd +.*/roots/web/motd$" out &&
	"$PLUMB" status --server "$URL" web -o json >out.json &&
	test "$(json_query "v[\"app\"][\"sync\"]" <out.json)" = Synced &&
	test "$(json_query "len(v[\"objects\"])" <out.json)" = 1
'

test_expect_success 'sync --server -o json after a push: the new revision, with the run' '
	push_change web motd "hello again" &&
	"$PLUMB" sync --server "$URL" web -o json >out.json &&
	has_content roots/web/motd "hello again" &&
	test "$(json_query "v[0][\"result\"]" <out.json)" = succeeded &&
	test "$(json_query "v[0][\"details\"][\"run\"][\"updated\"]" <out.json)" = 1 &&
	test "$(json_query "v[0][\"details\"][\"run\"][\"revision\"]" <out.json)" = "$(git -C work/web rev-parse HEAD)"
'

test_expect_success 'history --server <app> is the table of runs, newest first' '
	"$PLUMB" history --server "$URL" web >out &&
	test_grep "^ID +TIME +APP +REVISION +AUTHOR +TRIGGER +RESULT +CHANGES +MESSAGE$" out &&
	test "$(wc -l <out)" = 3 &&
	sed -n 2p out | grep -E "^[0-9]+ +2[0-9-]+ [0-9:]+Z +web +[0-9a-f]{12} +Ada Author +manual +succeeded +\\+0 ~1 -0 +change motd$" &&
	sed -n 3p out | grep -E " manual +succeeded +\\+1 ~0 -0 +add motd$" &&
	"$PLUMB" history --server "$URL" web -n 1 >out &&
	test "$(wc -l <out)" = 2 &&
	"$PLUMB" history --server "$URL" web -o json >out.json &&
	test "$(json_query "[r[\"message\"] for r in v]" <out.json)" = "[\"change motd\", \"add motd\"]"
'

test_expect_success 'sync --server --revision syncs that commit' '
	"$PLUMB" sync --server "$URL" web --revision "$FIRST_SHA" -q >out &&
	has_content roots/web/motd hello &&
	test_grep "^web: sync [0-9]+ succeeded: 0 created, 1 updated" out &&
	"$PLUMB" sync --server "$URL" web -q >out &&
	has_content roots/web/motd "hello again"
'

test_expect_success 'rollback --server --to <run> goes back to that run'"'"'s revision' '
	first=$("$PLUMB" history --server "$URL" web -o json | json_query "v[-1][\"id\"]") &&
	"$PLUMB" rollback --server "$URL" web --to "$first" >out &&
	has_content roots/web/motd hello &&
	test_grep "^web: rollback [0-9]+ succeeded: 0 created, 1 updated, 0 deleted, 0 unchanged$" out &&
	history_has web "\"revision\":\"$FIRST_SHA\".*\"trigger\":\"rollback\".*\"result\":\"succeeded\""
'

test_expect_success 'rollback --server to a run the server does not have: exit 2, its message' '
	test_expect_code 2 "$PLUMB" rollback --server "$URL" web --to 999 2>err &&
	test_grep "^error: sync run 999 not found$" err
'

test_expect_success 'a failing sync --server exits 2 with the server'"'"'s error' '
	test_expect_code 2 "$PLUMB" sync --server "$URL" broken >out 2>err &&
	test_grep "^error: broken: .*relative/not/allowed" err &&
	test "$(app_field broken lastResult)" = failed &&
	test_expect_code 2 "$PLUMB" sync --server "$URL" broken -o json >out.json 2>err &&
	test "$(json_query "v[0][\"result\"]" <out.json)" = failed
'

test_expect_success 'an application the server does not have: exit 2 with its message' '
	test_expect_code 2 "$PLUMB" status --server "$URL" nosuch 2>err &&
	test_grep "^error: no application named .nosuch.$" err &&
	test_expect_code 2 "$PLUMB" sync --server "$URL" nosuch 2>err &&
	test_grep "^error: no application named .nosuch.$" err
'

test_expect_success 'without a token: exit 2 and where to get one' '
	test_expect_code 2 env -u PLUMB_TOKEN "$PLUMB" status --server "$URL" 2>err &&
	test_grep "^error: no API token for plumb serve at $URL: set PLUMB_TOKEN \\(see .plumb token create.\\)" err
'

test_expect_success 'a wrong token: exit 2, the server refused it' '
	test_expect_code 2 env PLUMB_TOKEN=not-a-token "$PLUMB" history --server "$URL" web 2>err &&
	test_grep "^error: the server refused the token: set PLUMB_TOKEN \\(see .plumb token create.\\)$" err &&
	test_expect_code 2 env PLUMB_TOKEN=not-a-token "$PLUMB" sync --server "$URL" web 2>err &&
	test_grep "refused the token" err
'

test_expect_success 'a viewer token may look but not sync (403 and the server'"'"'s reason)' '
	"$PLUMB" token create looker --role viewer 2>/dev/null >viewer-token &&
	env -u PLUMB_TOKEN "$PLUMB" status --server "$URL" --token-file viewer-token >out &&
	test_grep "^web " out &&
	test_expect_code 2 env -u PLUMB_TOKEN "$PLUMB" sync --server "$URL" --token-file viewer-token web 2>err &&
	test_grep "^error: token .looker. has role viewer; this needs operator$" err
'

test_expect_success 'PLUMB_SERVER stands for --server' '
	PLUMB_SERVER=$URL "$PLUMB" status web >out &&
	test_grep "^application web: Synced" out
'

test_expect_success 'an unreachable server: exit 2 naming the URL' '
	port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	test_expect_code 2 "$PLUMB" status --server "http://127.0.0.1:$port" 2>err &&
	test_grep "^error: cannot reach plumb serve at http://127.0.0.1:$port: " err &&
	test_expect_code 2 "$PLUMB" sync --server "http://127.0.0.1:$port/" web 2>err &&
	test_grep "^error: cannot reach plumb serve at http://127.0.0.1:$port: " err
'

test_expect_success '--server with an option that only works locally is a usage error' '
	test_expect_code 2 "$PLUMB" sync --server "$URL" --repo "$TRASH/web.git" web 2>err &&
	test_grep "^error: --repo .*--server" err &&
	test_grep "run .plumb sync --help. for usage" err &&
	test_expect_code 2 "$PLUMB" diff --server "$URL" -f apps.yaml 2>err &&
	test_grep "^error: -f/--file .*--server" err &&
	test_expect_code 2 "$PLUMB" rollback --server "$URL" web --to 1 --dry-run 2>err &&
	test_grep "^error: --dry-run .*--server" err &&
	test_expect_code 2 "$PLUMB" sync --server "$URL" 2>err &&
	test_grep "^error: name the application" err &&
	test_expect_code 2 "$PLUMB" sync --revision abc -f apps.yaml 2>err &&
	test_grep "^error: --revision goes with --server" err
'

test_expect_success 'each command'"'"'s help says what --server does and where the token is' '
	for c in diff sync status history rollback; do
		"$PLUMB" $c --help >help &&
		test_grep "^      --server <url> +act through the API of a running .plumb serve." help &&
		test_grep "PLUMB_TOKEN" help || return 1
	done
'

test_expect_success 'serve stops cleanly' '
	stop_serve TERM
'

test_done
