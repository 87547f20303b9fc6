#!/usr/bin/env bash
# plumb serve's access control. The API: every route called with no token, a
# wrong token, and tokens of each role (one operator limited to another
# application), checking the status code, that a refused call changed nothing
# and that every mutating call is in the audit log. Tokens kept as hashes,
# revoked, and their last use. The webhooks: each provider's signature checked
# (valid, wrong secret, missing, tampered body, oversized body), a GitHub ping,
# a daemon without a secret, and the webhook counters of /metrics.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/serve-lib.sh"

unset PLUMB_WEBHOOK_SECRET
SECRET=hook-secret-$$
printf '%s\n' "$SECRET" >secret
mkdir -p roots/web roots/other

# new_repo NAME: a bare repository NAME.git and its clone work/NAME holding one
# File manifest (/motd), pushed.
new_repo() {
	git init -q --bare "$1.git"
	git clone -q "$1.git" "work/$1" 2>/dev/null
	file_m motd /motd "$1 v0" >"work/$1/motd.yaml"
	git -C "work/$1" add -A && git -C "work/$1" commit -q -m "add motd"
	git -C "work/$1" push -q origin HEAD:main
}
# push_motd NAME CONTENT: a new commit of NAME whose /motd holds CONTENT, pushed.
push_motd() {
	file_m motd /motd "$2" >"work/$1/motd.yaml"
	git -C "work/$1" commit -q -am "motd: $2" && git -C "work/$1" push -q origin HEAD:main
}
head_of() { git -C "work/$1" rev-parse HEAD; }
# polled NAME: the daemon has fetched NAME's repository at least once since it started.
polled() {
	local n
	n=$(metric_sample "plumb_git_fetch_duration_seconds_count{repo=\"$TRASH/$1.git\"}")
	[ "${n:-0}" -ge 1 ]
}
has_content() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

new_repo web
new_repo other
{
	application web "$TRASH/web.git" "$TRASH/roots/web" 1h true true
	application other "$TRASH/other.git" "$TRASH/roots/other" 1h true true
} >apps.yaml

# ---- tokens and callers ----

WRONG_TOKEN=plumb_0123456789abcdef0123456789abcdef01234567
# token_of CALLER: the bearer token CALLER sends (none for "none").
token_of() {
	case $1 in
	none) ;;
	wrong) echo "$WRONG_TOKEN" ;;
	admin) admin_token ;;
	*) cat "$TRASH/$1.token" ;;
	esac
}
# actor_of CALLER: the actor the audit log names.
actor_of() {
	case $1 in
	none | wrong) echo - ;;
	*) echo "$1" ;;
	esac
}
caller_label() {
	case $1 in
	none) echo "no token" ;;
	wrong) echo "a wrong token" ;;
	scoped) echo "operator scoped to other" ;;
	*) echo "$1" ;;
	esac
}
role_level() {
	case $1 in
	viewer) echo 1 ;;
	operator | scoped) echo 2 ;;
	admin) echo 3 ;;
	*) echo 0 ;;
	esac
}
# expected_code CALLER NEED APP OK: 401 without a valid token, 403 for a role
# below NEED or an application the caller's token does not cover, else OK.
# "scoped" is an operator limited to the application "other".
expected_code() {
	local caller=$1 need=$2 app=$3 ok=$4
	case $caller in none | wrong)
		echo 401
		return
		;;
	esac
	if [ "$(role_level "$caller")" -lt "$(role_level "$need")" ]; then
		echo 403
	elif [ "$caller" = scoped ] && [ "$app" = web ]; then
		echo 403
	else
		echo "$ok"
	fi
}

# audit_newest_id: the id of the newest audit entry (0 when there is none).
audit_newest_id() { "$PLUMB" audit -n 1 -o json | json_query 'v[0]["id"] if v else 0'; }
# audit_since ID: the entries newer than ID, oldest first, one "actor action app status detail" a line.
audit_since() {
	"$PLUMB" audit -n 0 -o json >"$TRASH/audit.json" || return 1
	json_query <"$TRASH/audit.json" "'\n'.join('%s %s %s %s %s' % (e['actor'], e['action'], e['app'] or '-', e['status'], e['detail'] or '-') for e in reversed(v) if e['id'] > $1)" | sed '/^$/d'
}
# expect_audit ACTOR ACTION APP STATUS: one more entry the whole audit log must hold, in order.
expect_audit() { echo "$1 $2 $3 $4" >>"$TRASH/expected-audit"; }
# check_audit_since ID ACTOR ACTION APP STATUS [DETAIL]: exactly one entry after ID, this one.
check_audit_since() {
	local since=$1 want
	audit_since "$since" >audit-new
	want="$2 $3 $4 $5"
	[ $# -ge 6 ] && want="$want $6"
	if [ "$(wc -l <audit-new)" != 1 ] || ! grep -qxF -- "$want" <(cut -d' ' -f1-$(($# - 1)) audit-new); then
		echo "expected one audit entry '$want' after id $since, got:"
		cat audit-new
		return 1
	fi
	expect_audit "$2" "$3" "$4" "$5"
}
check_no_audit_since() {
	audit_since "$1" >audit-new
	test_must_be_empty audit-new
}
suspended() { [ "$(app_field "$1" suspended)" = True ]; }
not_suspended() { [ "$(app_field "$1" suspended)" = False ]; }
token_names() { "$PLUMB" token list -o json | json_query 'sorted(t["name"] for t in v)'; }
# set_suspended APP true|false: as admin, recorded in the audit log.
set_suspended() {
	local action
	if [ "$2" = true ]; then action=suspend; else action=resume; fi
	api "$(admin_token)" POST "/api/v1/apps/$1/$action" >/dev/null
	[ "$HTTP_STATUS" = 200 ] || { echo "$action $1 as admin: $HTTP_STATUS"; return 1; }
	expect_audit admin "$action" "$1" 200
}

test_expect_success 'serve starts and syncs both applications; tokens of each role are made' '
	start_serve --config apps.yaml --webhook-secret-file secret --verify-interval 1h &&
	wait_for 10 field_is web sync Synced &&
	wait_for 10 field_is other sync Synced &&
	has_content roots/web/motd "web v0" &&
	"$PLUMB" token create viewer --role viewer >viewer.token &&
	"$PLUMB" token create operator --role operator >operator.token &&
	"$PLUMB" token create scoped --role operator --apps "oth*" >scoped.token &&
	for c in viewer operator scoped; do test_grep "^plumb_[0-9a-f]{40}$" $c.token || exit 1; done &&
	for c in none wrong viewer operator admin scoped; do
		"$PLUMB" token create "victim-$c" --role viewer >/dev/null 2>&1 || exit 1
	done &&
	"$PLUMB" token list -o json >tokens.json &&
	test "$(json_query "[t[\"role\"] + \":\" + t[\"apps\"] for t in v if t[\"name\"] == \"scoped\"]" <tokens.json)" = "[\"operator:oth*\"]" &&
	: >expected-audit &&
	run_count web >web-runs &&
	test "$(cat web-runs)" = 1 &&
	"$PLUMB" history web -n 1 -o json | json_query "v[0][\"id\"]" >first-run
'

# ---- the route matrix ----
#
# METHOD PATH NEED APP OK KIND: NEED is the lowest role allowed, APP the
# application the route is about ("-" for none), OK the status when allowed,
# KIND what to check besides the status. {caller} in PATH is the caller's name,
# {run} the first run of web.
ROUTES='
GET    /api/v1/apps                 viewer   -     200 list
GET    /api/v1/apps/web             viewer   web   200 read
GET    /api/v1/apps/other           viewer   other 200 read
GET    /api/v1/apps/web/history     viewer   web   200 read
GET    /api/v1/apps/web/runs/{run}  viewer   web   200 read
GET    /api/v1/apps/web/diff        viewer   web   200 read
POST   /api/v1/apps/web/sync        operator web   202 sync
POST   /api/v1/apps/other/sync      operator other 202 sync
POST   /api/v1/apps/web/rollback    operator web   202 rollback
POST   /api/v1/apps/web/suspend     operator web   200 suspend
POST   /api/v1/apps/other/suspend   operator other 200 suspend
POST   /api/v1/apps/web/resume      operator web   200 resume
GET    /api/v1/events               viewer   -     200 events
GET    /api/v1/events?app=web       viewer   web   200 events
GET    /api/v1/tokens               admin    -     200 tokens
POST   /api/v1/tokens               admin    -     201 token-create
DELETE /api/v1/tokens/victim-{caller} admin  -     200 token-revoke
GET    /api/v1/audit                admin    -     200 audit
'
CALLERS='none wrong viewer operator admin scoped'

# check_cell CALLER METHOD PATH APP WANT KIND: one call and what must follow from it.
# It runs under set -e: each check below is a command of its own (no "a && b",
# no "! a", whose failures set -e would not stop at).
check_cell() {
	local caller=$1 method=$2 path=$3 app=$4 want=$5 kind=$6
	local token actor before_audit before_runs body="" allowed=false trigger new
	path=${path//\{run\}/$(cat first-run)}
	token=$(token_of "$caller")
	actor=$(actor_of "$caller")
	case $want in 2*) allowed=true ;; esac
	case $kind in
	sync | rollback) before_runs=$(run_count "$app") ;;
	suspend) not_suspended "$app" ;;
	resume) set_suspended "$app" true ;;
	token-create) token_names >tokens-before ;;
	token-revoke)
		token_names >tokens-before
		grep -q "\"victim-$caller\"" tokens-before
		;;
	esac
	before_audit=$(audit_newest_id)
	case $kind in
	rollback) body="{\"to\": \"$(cat first-run)\"}" ;;
	token-create) body="{\"name\": \"made-by-$caller\", \"role\": \"viewer\"}" ;;
	esac

	if [ "$kind" = events ]; then
		# a stream: curl gives up after a second (exit 28) with what it got
		HTTP_STATUS=$(curl -s -o reply --max-time 1 -w "%{http_code}" \
			${token:+-H "Authorization: Bearer $token"} "$(serve_url)$path" || true)
	else
		api "$token" "$method" "$path" "$body" >reply
	fi
	if [ "$HTTP_STATUS" != "$want" ]; then
		echo "$method $path as $caller: expected $want, got $HTTP_STATUS:"
		cat reply
		return 1
	fi
	case $want in
	401) test_grep "\"error\":\"a bearer token is required" reply ;;
	403) test_grep "\"error\":\"token .$caller. (has role|is not allowed application)" reply ;;
	esac

	case $kind in
	list)
		if [ "$caller" = scoped ]; then
			test "$(json_query "sorted(a[\"name\"] for a in v)" <reply)" = "[\"other\"]"
		elif $allowed; then
			test "$(json_query "sorted(a[\"name\"] for a in v)" <reply)" = "[\"other\", \"web\"]"
		fi
		;;
	read) if $allowed; then json_query "v" <reply >/dev/null; fi ;;
	events) if $allowed; then test_grep "^: plumb events" reply; fi ;;
	tokens)
		if $allowed; then
			test "$(json_query "\"viewer\" in [t[\"name\"] for t in v]" <reply)" = true
			for c in viewer operator scoped; do test_grep_not "$(cat $c.token)" reply; done
		fi
		;;
	audit) if $allowed; then json_query "v[0][\"action\"]" <reply >/dev/null; fi ;;
	sync | rollback)
		if $allowed; then
			if [ $kind = sync ]; then trigger=manual; else trigger=rollback; fi
			wait_for 10 eval "test \"\$(run_count $app)\" = $((before_runs + 1))"
			wait_for 5 history_has "$app" "\"trigger\":\"$trigger\",\"actor\":\"$actor\".*\"result\":\"succeeded\""
		else
			test "$(run_count "$app")" = "$before_runs"
		fi
		;;
	suspend) if $allowed; then suspended "$app"; else not_suspended "$app"; fi ;;
	resume) if $allowed; then not_suspended "$app"; else suspended "$app"; fi ;;
	token-create)
		token_names >tokens-after
		if $allowed; then
			test "$(echo "[$(cat tokens-before), $(cat tokens-after)]" | json_query "[n for n in v[1] if n not in v[0]]")" = "[\"made-by-$caller\"]"
			new=$(json_query "v[\"token\"]" <reply)
			api "$new" GET /api/v1/apps >/dev/null
			test "$HTTP_STATUS" = 200
		else
			test_cmp tokens-before tokens-after
		fi
		;;
	token-revoke)
		token_names >tokens-after
		if $allowed; then
			test "$(echo "[$(cat tokens-before), $(cat tokens-after)]" | json_query "[n for n in v[0] if n not in v[1]]")" = "[\"victim-$caller\"]"
		else
			test_cmp tokens-before tokens-after
		fi
		;;
	esac

	case $kind in
	sync | rollback | suspend | resume) check_audit_since "$before_audit" "$actor" "$kind" "$app" "$want" ;;
	token-create)
		if $allowed; then
			check_audit_since "$before_audit" "$actor" token.create - "$want" "made-by-$caller"
		else
			check_audit_since "$before_audit" "$actor" token.create - "$want"
		fi
		;;
	token-revoke) check_audit_since "$before_audit" "$actor" token.revoke - "$want" "victim-$caller" ;;
	*) check_no_audit_since "$before_audit" ;;
	esac

	# put things back for the next cell
	case $kind in
	suspend | resume) if suspended "$app"; then set_suspended "$app" false; fi ;;
	esac
}

while read -r method path need app ok kind; do
	[ -n "$method" ] || continue
	for caller in $CALLERS; do
		want=$(expected_code "$caller" "$need" "$app" "$ok")
		p=${path//\{caller\}/$caller}
		test_expect_success "$method $p as $(caller_label "$caller"): $want" "
			check_cell $caller $method '$p' $app $want $kind
		"
	done
done <<<"$ROUTES"

test_expect_success 'no refused call started a run, even later; the audit log holds exactly the mutating calls' '
	sleep 1 && # what a refused call would have queued has had the time to run
	"$PLUMB" history web -n 0 -o json | json_query "\"\\n\".join(\"%s %s\" % (r[\"trigger\"], r[\"actor\"]) for r in reversed(v))" >web-runs.actual &&
	printf "%s\n" "poll plumb" "manual operator" "manual admin" "rollback operator" "rollback admin" >web-runs.expected &&
	test_cmp web-runs.expected web-runs.actual &&
	"$PLUMB" history other -n 0 -o json | json_query "\"\\n\".join(\"%s %s\" % (r[\"trigger\"], r[\"actor\"]) for r in reversed(v))" >other-runs.actual &&
	printf "%s\n" "poll plumb" "manual operator" "manual admin" "manual scoped" >other-runs.expected &&
	test_cmp other-runs.expected other-runs.actual &&
	audit_since 0 | cut -d" " -f1-4 >audit.actual &&
	test_cmp expected-audit audit.actual
'

# ---- tokens at rest, revoked, last used ----

test_expect_success 'tokens are stored hashed: no token text in the database files' '
	test -s "$PLUMB_DATA_DIR/plumb.db" &&
	for c in viewer operator scoped; do
		tok=$(cat $c.token) &&
		hash=$(printf %s "$tok" | sha256sum | cut -d" " -f1) &&
		grep -qaF "$hash" "$PLUMB_DATA_DIR"/plumb.db* &&
		! grep -qaF "$tok" "$PLUMB_DATA_DIR"/plumb.db* &&
		! grep -qaF "${tok#plumb_}" "$PLUMB_DATA_DIR"/plumb.db* || exit 1
	done &&
	! grep -qaF "$(admin_token)" "$PLUMB_DATA_DIR"/plumb.db*
'

test_expect_success 'plumb token revoke: the token is refused with 401 at once, and the refusal is audited' '
	"$PLUMB" token create short-lived --role operator >short.token &&
	api "$(cat short.token)" GET /api/v1/apps >/dev/null && test "$HTTP_STATUS" = 200 &&
	"$PLUMB" token revoke short-lived 2>err &&
	test_grep "revoked token .short-lived." err &&
	api "$(cat short.token)" GET /api/v1/apps >/dev/null && test "$HTTP_STATUS" = 401 &&
	before=$(audit_newest_id) &&
	api "$(cat short.token)" POST /api/v1/apps/web/suspend >/dev/null && test "$HTTP_STATUS" = 401 &&
	not_suspended web &&
	check_audit_since "$before" - suspend web 401 &&
	test_must_fail_quietly "$PLUMB" token revoke short-lived
'

test_expect_success 'plumb token list shows when a token was last used' '
	"$PLUMB" token create fresh --role viewer >fresh.token &&
	"$PLUMB" token list -o json | json_query "[t[\"lastUsed\"] for t in v if t[\"name\"] == \"fresh\"]" >used &&
	test "$(cat used)" = "[\"-\"]" &&
	"$PLUMB" token list >list.txt &&
	test_grep "^fresh +viewer +\\* +[0-9-]+ [0-9:]+Z +-$" list.txt &&
	api "$(cat fresh.token)" GET /api/v1/apps/web >/dev/null && test "$HTTP_STATUS" = 200 &&
	"$PLUMB" token list -o json | json_query "[t[\"lastUsed\"] for t in v if t[\"name\"] == \"fresh\"][0]" >used &&
	test_grep "^$(date -u +%Y-%m-%d) [0-9]{2}:[0-9]{2}:[0-9]{2}Z$" used &&
	"$PLUMB" token list >list.txt &&
	test_grep "^fresh +viewer +\\* +[0-9-]+ [0-9:]+Z +$(date -u +%Y-%m-%d) [0-9:]+Z$" list.txt
'

test_expect_success 'an oversized API body is refused with 413, changes nothing, and is audited' '
	head -c 1100000 /dev/zero | tr "\\0" " " >big-body &&
	before=$(audit_newest_id) && runs=$(run_count web) &&
	code=$(curl -s -o reply -w "%{http_code}" -X POST -H "Authorization: Bearer $(admin_token)" \
		-H "Content-Type: application/json" --data-binary @big-body "$(serve_url)/api/v1/apps/web/suspend") &&
	test "$code" = 413 &&
	not_suspended web &&
	test "$(run_count web)" = "$runs" &&
	check_audit_since "$before" admin suspend web 413
'

# ---- webhooks ----

: >expected-hooks
# count_hook PROVIDER RESULT: one more delivery /metrics must count.
count_hook() { echo "$1 $2" >>"$TRASH/expected-hooks"; }
# unchanged: the pushed commit is not applied and no run was added.
unchanged() {
	local runs
	runs=$(run_count web)
	if ! has_content roots/web/motd "$(cat applied)" || [ "$runs" != "$(cat runs-before)" ]; then
		echo "changed: /motd holds '$(cat roots/web/motd)', $runs runs (was $(cat runs-before)); newest:"
		"$PLUMB" history web -n 1 -o json
		return 1
	fi
}
# stays_unchanged SECONDS: unchanged now and for SECONDS more (what a refused
# delivery would have started has had the time to show).
stays_unchanged() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		unchanged || return 1
		sleep 0.1
	done
}
head -c 1100000 /dev/zero | tr '\0' x >pad
URL=file://$TRASH/web.git
n=0
for provider in github gitlab bitbucket generic; do
	n=$((n + 1))
	test_expect_success "$provider: a new commit is pushed (not applied yet)" "
		cat roots/web/motd >applied &&
		push_motd web '$provider push $n' &&
		head_of web >pushed &&
		run_count web >runs-before &&
		hook_push_body $provider '$URL' >push.json &&
		hook_push_body $provider '$URL/../other.git' >tampered.json &&
		{ head -c -1 push.json && printf ',\"padding\":\"' && cat pad && printf '\"}'; } >big.json &&
		test \$(stat -c %s big.json) -gt 1048576
	"
	test_expect_success "$provider: a wrong secret gets 401 and changes nothing" "
		test \"\$(hook_post $provider push.json \"\$(hook_event_header $provider)\" \
			\"\$(hook_signature $provider wrong-$SECRET push.json)\")\" = 401 &&
		count_hook $provider bad_signature &&
		test_grep 'does not match' .hook-reply &&
		unchanged
	"
	test_expect_success "$provider: no signature header gets 401 and changes nothing" "
		test \"\$(hook_post $provider push.json \"\$(hook_event_header $provider)\")\" = 401 &&
		count_hook $provider bad_signature &&
		test_grep 'missing header' .hook-reply &&
		unchanged
	"
	if [ "$provider" != gitlab ]; then
		# GitLab sends the secret itself, not a signature of the body: nothing to tamper with.
		test_expect_success "$provider: a body that is not the one signed gets 401 and changes nothing" "
			test \"\$(hook_post $provider tampered.json \"\$(hook_event_header $provider)\" \
				\"\$(hook_signature $provider $SECRET push.json)\")\" = 401 &&
			count_hook $provider bad_signature &&
			test_grep 'does not match' .hook-reply &&
			unchanged
		"
	fi
	test_expect_success "$provider: a body over 1 MiB, signed, gets 413 and changes nothing" "
		test \"\$(hook_post $provider big.json \"\$(hook_event_header $provider)\" \
			\"\$(hook_signature $provider $SECRET big.json)\")\" = 413 &&
		count_hook $provider too_large &&
		unchanged
	"
	if [ "$provider" = github ]; then
		test_expect_success 'github: a signed ping gets 200 and does nothing' "
			printf '{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}' >ping.json &&
			test \"\$(hook_post github ping.json 'X-GitHub-Event: ping' \
				\"\$(hook_signature github $SECRET ping.json)\")\" = 200 &&
			count_hook github ignored &&
			test_grep '\"event\":\"ping\"' .hook-reply &&
			unchanged
		"
	fi
	test_expect_success "$provider: after the refused deliveries, still nothing is applied" "
		stays_unchanged 1
	"
	test_expect_success "$provider: a valid delivery gets 202 and the pushed commit is applied" "
		test \"\$(hook_post $provider push.json \"\$(hook_event_header $provider)\" \
			\"\$(hook_signature $provider $SECRET push.json)\")\" = 202 &&
		count_hook $provider accepted &&
		test_grep '\"event\":\"push\",\"queued\":1' .hook-reply &&
		wait_for 5 has_content roots/web/motd '$provider push $n' &&
		wait_for 5 history_has web \"\\\"revision\\\":\\\"\$(cat pushed)\\\".*\\\"trigger\\\":\\\"webhook\\\".*\\\"result\\\":\\\"succeeded\\\"\" &&
		test \"\$(run_count web)\" = \$((\$(cat runs-before) + 1))
	"
done

test_expect_success 'plumb_webhook_requests_total counts every delivery by provider and result' '
	sort expected-hooks | uniq -c |
		awk "{ printf \"plumb_webhook_requests_total{provider=\\\"%s\\\",result=\\\"%s\\\"} %d\\n\", \$2, \$3, \$1 }" |
		sort >hooks.expected &&
	curl -s "$(serve_url)/metrics" >metrics &&
	test_grep "^# TYPE plumb_webhook_requests_total counter$" metrics &&
	grep "^plumb_webhook_requests_total{" metrics | sort >hooks.actual &&
	test_cmp hooks.expected hooks.actual
'

test_expect_success 'without a secret, every provider'"'"'s hooks are refused with 403' '
	stop_serve &&
	start_serve --config apps.yaml --verify-interval 1h &&
	test_grep "no webhook secret .* webhooks are refused" "$SERVE_LOG" &&
	wait_for 5 polled web &&
	cat roots/web/motd >applied &&
	push_motd web "unsigned push" &&
	run_count web >runs-before &&
	for provider in github gitlab bitbucket generic; do
		hook_push_body $provider "file://$TRASH/web.git" >push.json &&
		test "$(hook_post $provider push.json "$(hook_event_header $provider)" \
			"$(hook_signature $provider "$SECRET" push.json)")" = 403 &&
		test_grep "no webhook secret is configured" .hook-reply || exit 1
	done &&
	stays_unchanged 1 &&
	for provider in github gitlab bitbucket generic; do
		test "$(metric_sample "plumb_webhook_requests_total{provider=\"$provider\",result=\"no_secret\"}")" = 1 || exit 1
	done
'

test_expect_success 'with --webhook-insecure an unsigned hook is accepted and applied' '
	stop_serve &&
	start_serve --config apps.yaml --verify-interval 1h --webhook-insecure &&
	wait_for 5 polled web &&
	push_motd web "insecure push" &&
	hook_push_body generic "file://$TRASH/web.git" >push.json &&
	test "$(hook_post generic push.json)" = 202 &&
	wait_for 5 has_content roots/web/motd "insecure push" &&
	history_has web "\"revision\":\"$(head_of web)\".*\"trigger\":\"webhook\"" &&
	test "$(metric_sample "plumb_webhook_requests_total{provider=\"generic\",result=\"accepted\"}")" = 1 &&
	stop_serve
'

test_done
