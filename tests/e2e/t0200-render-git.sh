#!/usr/bin/env bash
# plumb render --repo: real repositories made with git, reached by path and file://,
# every kind of ref, incremental fetches, and the errors a user meets.
. "$(dirname "$0")/lib.sh"

# A work repository with history, pushed to a bare remote.
make_repo work
commit_file work apps/web/cm.yaml "$(cm web-v1)" "Add web v1"
git -C work tag v1.0.0
commit_file work apps/web/cm.yaml "$(cm web-v1-2)" "Release 1.2"
git -C work tag -a v1.2.0 -m "release 1.2.0"
commit_file work apps/web/cm.yaml "$(cm web-v1-10)" "Release 1.10"
git -C work tag v1.10.0
commit_file work apps/web/cm.yaml "$(cm web-v2-rc)" "Try 2.0"
git -C work tag v2.0.0-rc.1
git -C work tag not-a-version
commit_file work apps/api/cm.yaml "$(cm api)" "Add the api"
git -C work checkout -q -b staging
commit_file work apps/web/cm.yaml "$(cm web-staging)" "Stage web"
git -C work checkout -q main
git clone -q --bare work remote.git
URL="file://$TRASH/remote.git"
sha() { git -C work rev-parse "$1^{commit}"; }

test_expect_success 'renders the default branch of a file:// remote, reporting the commit' '
	"$PLUMB" render --repo "$URL" --path apps/web >out 2>err &&
	test_grep "name: web-v2-rc" out &&
	test_grep "at $(sha main | cut -c1-12) \(refs/heads/main\): \"Add the api\" by Ada Author <ada@example.com>, 2026-01-02 03:04:05Z" err
'

test_expect_success 'a branch' '
	"$PLUMB" render -q --repo "$URL" --branch staging --path apps/web >out &&
	test_grep "name: web-staging" out &&
	"$PLUMB" render -q --repo "$URL" --ref branch:staging --path apps/web >out2 &&
	test_cmp out out2
'

test_expect_success 'a lightweight tag and an annotated tag' '
	"$PLUMB" render -q --repo "$URL" --tag v1.0.0 --path apps/web >out &&
	test_grep "name: web-v1$" out &&
	"$PLUMB" render -q --repo "$URL" --ref tag:v1.2.0 --path apps/web >out &&
	test_grep "name: web-v1-2$" out
'

test_expect_success 'a semver range picks the highest matching tag, skipping pre-releases' '
	"$PLUMB" render --repo "$URL" --semver ">=1.0.0 <2.0.0" --path apps/web >out 2>err &&
	test_grep "name: web-v1-10$" out &&
	test_grep "refs/tags/v1.10.0" err &&
	"$PLUMB" render -q --repo "$URL" --semver "~1.2" --path apps/web >out &&
	test_grep "name: web-v1-2$" out &&
	"$PLUMB" render -q --repo "$URL" --semver ">=2.0.0-rc.0" --path apps/web >out &&
	test_grep "name: web-v2-rc$" out
'

test_expect_success 'a full and an abbreviated commit' '
	full=$(sha v1.0.0) &&
	"$PLUMB" render -q --repo "$URL" --commit "$full" --path apps/web >out &&
	test_grep "name: web-v1$" out &&
	"$PLUMB" render -q --repo "$URL" --ref "$(echo "$full" | cut -c1-8)" --path apps/web >out &&
	test_grep "name: web-v1$" out
'

test_expect_success 'a bare name is a branch, else a tag' '
	"$PLUMB" render -q --repo "$URL" --ref staging --path apps/web >out &&
	test_grep "name: web-staging" out &&
	"$PLUMB" render -q --repo "$URL" --ref v1.0.0 --path apps/web >out &&
	test_grep "name: web-v1$" out
'

test_expect_success 'a local path works as a URL, and -o json carries the revision' '
	"$PLUMB" render -q --repo "$TRASH/remote.git" --tag v1.2.0 -o json >out.json &&
	python3 - out.json "$(sha v1.2.0)" <<-PY
	import json, sys
	doc = json.load(open(sys.argv[1]))
	rev = doc["revision"]
	assert rev["sha"] == sys.argv[2], rev
	assert rev["ref"] == "refs/tags/v1.2.0", rev
	assert rev["author"] == "Ada Author" and rev["email"] == "ada@example.com", rev
	assert rev["summary"] == "Release 1.2", rev
	assert rev["time"] == "2026-01-02T03:04:05Z", rev
	assert [o["source"] for o in doc["objects"]] == ["apps/web/cm.yaml:1"], doc["objects"]
	PY
'

test_expect_success 'the cache is a bare repository under the data directory' '
	ls "$PLUMB_DATA_DIR/repos" | grep -v "\.lock$" >caches &&
	test "$(wc -l <caches)" = 2 &&
	for c in $(cat caches); do
		case "$c" in *.lock) continue ;; esac
		test "$(git -C "$PLUMB_DATA_DIR/repos/$c" rev-parse --is-bare-repository)" = true &&
		test_must_fail_quietly test -e "$PLUMB_DATA_DIR/repos/$c/apps"
	done
'

test_expect_success 'a new commit is picked up by an incremental fetch' '
	"$PLUMB" --log-level debug render -q --repo "$URL" --path apps/api >out 2>err1 &&
	test_grep "fetched: received 0 objects" err1 &&
	commit_file work apps/api/cm.yaml "$(cm api-v2)" "Update the api" &&
	git -C work push -q "$TRASH/remote.git" main &&
	"$PLUMB" --log-level debug render -q --repo "$URL" --path apps/api >out 2>err2 &&
	test_grep "name: api-v2" out &&
	n=$(sed -n "s/.*fetched: received \([0-9]*\) objects.*/\1/p" err2) &&
	total=$(git -C remote.git rev-list --objects --all | wc -l) &&
	say "incremental fetch: $n of $total objects" &&
	test "$n" -gt 0 && test "$n" -lt $((total / 2))
'

test_expect_success 'log lines can be JSON' '
	"$PLUMB" --log-format json --log-level debug render -q --repo "$URL" --path apps/api >/dev/null 2>err &&
	python3 -c "
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines and all(l[\"level\"] in (\"debug\", \"info\") and l[\"time\"] for l in lines), lines
assert any(l.get(\"url\", \"\").startswith(\"file://\") for l in lines), lines
" err
'

test_expect_success 'an unknown branch names the close ones' '
	test_expect_code 2 "$PLUMB" render --repo "$URL" --branch stagin 2>err &&
	test_grep "error: .*stagin" err &&
	test_grep "staging" err
'

test_expect_success 'an unknown tag, and a range no tag satisfies' '
	test_expect_code 2 "$PLUMB" render --repo "$URL" --tag v9.9.9 2>err &&
	test_grep "v9\.9\.9" err &&
	test_expect_code 2 "$PLUMB" render --repo "$URL" --semver ">=3.0.0" 2>err &&
	test_grep ">=3\.0\.0" err
'

test_expect_success 'an unknown commit' '
	test_expect_code 2 "$PLUMB" render --repo "$URL" --commit deadbeefdeadbeef 2>err &&
	test_grep "deadbeef" err
'

test_expect_success 'a path that is not in the tree' '
	test_expect_code 2 "$PLUMB" render --repo "$URL" --tag v1.0.0 --path apps/api 2>err &&
	test_grep "path .apps/api. not found in .file://.*@$(sha v1.0.0 | cut -c1-7)." err
'

test_expect_success 'a repository that does not exist' '
	test_expect_code 2 "$PLUMB" render --repo "file://$TRASH/nowhere.git" 2>err &&
	test_grep "nowhere\.git" err &&
	test_expect_code 2 "$PLUMB" render --repo "$TRASH/nowhere-else" 2>err &&
	test_grep "nowhere-else" err &&
	ls "$PLUMB_DATA_DIR/repos" >caches &&
	test_grep_not "nowhere" caches
'

test_expect_success 'an unreachable https remote: clear error, no credentials shown' '
	test_expect_code 2 "$PLUMB" render --repo "https://alice:s3cr3t@127.0.0.1:1/ops.git" 2>err &&
	test_grep "127\.0\.0\.1:1/ops\.git" err &&
	test_grep_not "s3cr3t" err
'

test_expect_success 'authentication failure is named, and the token never printed' '
	port_file=$TRASH/port
	python3 - "$port_file" >/dev/null 2>&1 <<-PY &
	import http.server, socketserver, sys
	class Deny(http.server.BaseHTTPRequestHandler):
	    def do_GET(self):
	        self.send_response(401)
	        self.send_header("WWW-Authenticate", "Basic realm=\"git\"")
	        self.send_header("Content-Length", "0")
	        self.end_headers()
	    do_POST = do_GET
	    def log_message(self, *a): pass
	srv = socketserver.TCPServer(("127.0.0.1", 0), Deny)
	open(sys.argv[1], "w").write(str(srv.server_address[1]))
	srv.timeout = 20
	for _ in range(20):
	    srv.handle_request()
	PY
	server=$! &&
	for i in $(seq 50); do test -s "$port_file" && break; sleep 0.1; done &&
	port=$(cat "$port_file") &&
	PLUMB_GIT_TOKEN=tok-very-secret test_expect_code 2 "$PLUMB" render --repo "http://127.0.0.1:$port/ops.git" 2>err;
	rc=$?; kill $server 2>/dev/null || true; wait $server 2>/dev/null || true
	test $rc = 0 &&
	test_grep "authentication" err &&
	test_grep_not "tok-very-secret" err
'

test_done
