# Helpers for the tests of plumb serve: a daemon on a loopback port, the API
# through curl, webhook signatures through openssl, and waiting with deadlines.
# Source after lib.sh.

# python3 itself, not a version manager's shim, which costs 0.1 s a call.
PYTHON=$(python3 -c 'import sys; print(sys.executable)')

# Test bodies run in subshells: the daemon's pid, URL and admin token are kept
# in files, read by each helper.
SERVE_LOG=$TRASH/serve.log
SERVE_STATE=$TRASH/.serve
serve_pid() { cat "$SERVE_STATE.pid" 2>/dev/null; }
serve_url() { cat "$SERVE_STATE.url"; }
admin_token() { cat "$PLUMB_DATA_DIR/admin-token"; }

# start_serve ARGS...: starts plumb serve on 127.0.0.1 (a free port) with ARGS
# and waits until it answers /readyz. Its log is $SERVE_LOG (appended to).
start_serve() {
	local port="" pid i start
	start=$( (wc -l <"$SERVE_LOG") 2>/dev/null || echo 0)
	# setsid: the daemon outlives the test body's subshell, and nothing waits on its output
	setsid "$PLUMB" serve --listen 127.0.0.1:0 "$@" >>"$SERVE_LOG" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$SERVE_STATE.pid"
	for i in $(seq 1 200); do
		port=$(tail -n +"$((start + 1))" "$SERVE_LOG" |
			sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' | tail -n 1)
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$SERVE_LOG"; return 1; }
		sleep 0.05
	done
	[ -n "$port" ] || { echo "plumb serve did not start"; cat "$SERVE_LOG"; return 1; }
	echo "http://127.0.0.1:$port" >"$SERVE_STATE.url"
	wait_for 10 curl -sf "$(serve_url)/readyz" >/dev/null
}

# stop_serve [SIGNAL]: signals the daemon (TERM by default) and waits until it is
# gone; for TERM, fails unless its log says it stopped.
stop_serve() {
	local pid
	pid=$(serve_pid)
	[ -n "$pid" ] || return 0
	kill -"${1:-TERM}" "$pid" 2>/dev/null || true
	rm -f "$SERVE_STATE.pid"
	wait_for 30 eval "! kill -0 $pid"
	[ "${1:-TERM}" = KILL ] && return 0
	tail -n 1 "$SERVE_LOG" | grep -q "stopped$" || {
		echo "plumb serve did not log that it stopped:"
		tail -n 5 "$SERVE_LOG"
		return 1
	}
}
trap 'p=$(serve_pid); [ -n "$p" ] && kill -9 "$p" 2>/dev/null' EXIT

# wait_for SECONDS CMD...: runs CMD every 50 ms until it succeeds; fails after SECONDS.
wait_for() {
	local limit=$1 start now
	shift
	start=$(date +%s%N)
	while ! "$@" 2>/dev/null; do
		now=$(date +%s%N)
		if [ $(((now - start) / 1000000)) -ge $((limit * 1000)) ]; then
			echo "timed out after ${limit}s waiting for: $*"
			return 1
		fi
		sleep 0.05
	done
}

# api TOKEN METHOD PATH [BODY]: prints the body; HTTP_STATUS gets the status code.
api() {
	local token=$1 method=$2 path=$3 body=${4:-}
	local auth=()
	[ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
	HTTP_STATUS=$(curl -s -o "$TRASH/.api-body" -w '%{http_code}' -X "$method" "${auth[@]}" \
		${body:+-H 'Content-Type: application/json' --data "$body"} "$(serve_url)$path")
	cat "$TRASH/.api-body"
}

# hmac_sha256 SECRET FILE: the hex HMAC-SHA256 of FILE's bytes.
hmac_sha256() {
	openssl dgst -sha256 -hmac "$1" -r "$2" | cut -d' ' -f1
}

# github_push SECRET REPO_URL: posts a signed GitHub push event; prints the status code.
github_push() {
	local secret=$1 url=$2 body=$TRASH/.hook-body
	printf '{"ref":"refs/heads/main","after":"%s","repository":{"clone_url":"%s","html_url":"%s"}}' \
		"$(printf '%040d' 0)" "$url" "$url" >"$body"
	curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' \
		-H "X-Hub-Signature-256: sha256=$(hmac_sha256 "$secret" "$body")" \
		-H 'Content-Type: application/json' --data-binary @"$body" "$(serve_url)/hooks/github"
}

# json_query EXPR: evaluates the Python expression EXPR with v bound to the JSON
# read from stdin and prints the result (lists and dicts as JSON, None as "").
json_query() {
	"$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
r = eval(sys.argv[1])
if r is None:
    print("")
elif isinstance(r, bool):
    print("true" if r else "false")
elif isinstance(r, (list, dict)):
    print(json.dumps(r, sort_keys=True))
else:
    print(r)' "$1"
}

# run_count APP: how many sync runs APP has in its history.
run_count() { "$PLUMB" history "$1" -n 0 -o json | json_query 'len(v)'; }

# metric_sample 'NAME{LABELS}': the value of one sample of GET /metrics, written
# exactly as plumb writes it (labels in order); prints nothing when it is absent.
metric_sample() {
	curl -s "$(serve_url)/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

# Webhook deliveries as each provider makes them.
ZERO_SHA=0000000000000000000000000000000000000000

# hook_push_body PROVIDER URL: the JSON body of PROVIDER's push event for the
# repository at URL, branch main.
hook_push_body() {
	case $1 in
	github) printf '{"ref":"refs/heads/main","after":"%s","repository":{"clone_url":"%s","html_url":"%s"}}' \
		"$ZERO_SHA" "$2" "$2" ;;
	gitlab) printf '{"object_kind":"push","ref":"refs/heads/main","after":"%s","project":{"git_http_url":"%s"}}' \
		"$ZERO_SHA" "$2" ;;
	bitbucket) printf '{"eventKey":"repo:refs_changed","repository":{"links":{"clone":[{"href":"%s","name":"http"}]}},"changes":[{"refId":"refs/heads/main","toHash":"%s"}]}' \
		"$2" "$ZERO_SHA" ;;
	generic) printf '{"repository":"%s","ref":"refs/heads/main","after":"%s"}' "$2" "$ZERO_SHA" ;;
	esac
}

# hook_event_header PROVIDER: the header that says "this is a push" (none for generic).
hook_event_header() {
	case $1 in
	github) echo 'X-GitHub-Event: push' ;;
	gitlab) echo 'X-Gitlab-Event: Push Hook' ;;
	bitbucket) echo 'X-Event-Key: repo:refs_changed' ;;
	esac
}

# hook_signature PROVIDER SECRET FILE: the "Header: value" signing FILE's bytes
# with SECRET as PROVIDER does (GitLab sends the secret itself).
hook_signature() {
	case $1 in
	github) echo "X-Hub-Signature-256: sha256=$(hmac_sha256 "$2" "$3")" ;;
	gitlab) echo "X-Gitlab-Token: $2" ;;
	bitbucket) echo "X-Hub-Signature: sha256=$(hmac_sha256 "$2" "$3")" ;;
	generic) echo "X-Plumb-Signature: sha256=$(hmac_sha256 "$2" "$3")" ;;
	esac
}

# hook_post PROVIDER FILE [HEADER...]: posts FILE to /hooks/PROVIDER with the
# headers (empty ones skipped); prints the status code. The reply's body is
# left in $TRASH/.hook-reply.
hook_post() {
	local provider=$1 file=$2 header args=()
	shift 2
	for header in "$@"; do
		[ -n "$header" ] && args+=(-H "$header")
	done
	curl -s -o "$TRASH/.hook-reply" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		"${args[@]}" --data-binary @"$file" "$(serve_url)/hooks/$provider"
}

# app_field NAME FIELD: one field of GET /api/v1/apps/NAME's "app" object (admin token).
app_field() {
	api "$(admin_token)" GET "/api/v1/apps/$1" | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)["app"].get(sys.argv[1])
print("" if v is None else v)' "$2"
}

# field_is NAME FIELD VALUE: the application's FIELD is VALUE now (for wait_for).
field_is() { [ "$(app_field "$1" "$2")" = "$3" ]; }
# history_has NAME PATTERN: the newest run of NAME matches PATTERN (for wait_for).
history_has() { "$PLUMB" history "$1" -n 1 -o json | grep -qE -- "$2"; }

# host manifests
file_m() { printf 'apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: %s\nspec:\n  path: %s\n  content: |\n' "$1" "$2"; printf '%s\n' "$3" | sed 's/^/    /'; }
dir_m() { printf 'apiVersion: host.plumb.dev/v1\nkind: Directory\nmetadata:\n  name: %s\nspec:\n  path: %s\n' "$1" "$2"; }

# application NAME REPO ROOT INTERVAL AUTOMATED SELFHEAL [RETRY_LIMIT]
application() {
	cat <<APP
---
apiVersion: plumb.dev/v1
kind: Application
metadata:
  name: $1
spec:
  source:
    repoURL: $2
    interval: $4
  destination:
    host: {root: $3}
  syncPolicy:
APP
	if [ "$5" = true ]; then
		printf '    automated: {prune: true, selfHeal: %s}\n' "$6"
	fi
	printf '    retry: {limit: %s, backoff: {duration: 1s, factor: 2, maxDuration: 4s}}\n' "${7:-2}"
}

# new_repo NAME FILE CONTENT: a bare repository NAME.git and a clone work/NAME holding
# one File manifest (path /FILE with CONTENT), pushed.
new_repo() {
	git init -q --bare "$1.git"
	git clone -q "$1.git" "work/$1" 2>/dev/null
	file_m "$2" "/$2" "$3" >"work/$1/$2.yaml"
	git -C "work/$1" add -A && git -C "work/$1" commit -q -m "add $2"
	git -C "work/$1" push -q origin HEAD:main
}
# push_change NAME FILE CONTENT: a new commit changing the file's content, pushed.
push_change() {
	file_m "$2" "/$2" "$3" >"work/$1/$2.yaml"
	git -C "work/$1" commit -q -am "change $2" && git -C "work/$1" push -q origin HEAD:main
}
has_content() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
