# Helpers for the tests of plumb serve: a daemon on a loopback port, the API
# through curl, webhook signatures through openssl, and waiting with deadlines.
# Source after lib.sh.

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
	start=$(wc -l <"$SERVE_LOG" 2>/dev/null || echo 0)
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

# app_field NAME FIELD: one field of GET /api/v1/apps/NAME's "app" object (admin token).
app_field() {
	api "$(admin_token)" GET "/api/v1/apps/$1" | python3 -c '
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
