# plumb's end-to-end test library, in the style of Git's t/test-lib.sh.
#
# A test script sources this file, then calls
#     test_expect_success 'what it checks' '
#             commands that must all succeed
#     '
# and ends with test_done. Each script runs in its own scratch directory
# ($TRASH), with $PLUMB pointing at the binary under test and a private
# data directory in $PLUMB_DATA_DIR. Set VERBOSE=1 to see every command's output.

set -u

TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
: "${PLUMB:?set PLUMB to the plumb binary under test}"
PLUMB=$(cd "$(dirname "$PLUMB")" && pwd)/$(basename "$PLUMB")
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/plumb-$TEST_NAME.XXXXXX")
export PLUMB_DATA_DIR="$TRASH/.data"
export HOME="$TRASH/.home"
mkdir -p "$HOME" "$PLUMB_DATA_DIR"
# Tests never read the user's git configuration or credentials.
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME='Ada Author' GIT_AUTHOR_EMAIL='ada@example.com'
export GIT_COMMITTER_NAME='Cy Committer' GIT_COMMITTER_EMAIL='cy@example.com'
export GIT_AUTHOR_DATE='2026-01-02T03:04:05Z' GIT_COMMITTER_DATE='2026-01-02T03:04:05Z'
unset PLUMB_GIT_TOKEN PLUMB_GIT_USERNAME PLUMB_GIT_PASSWORD PLUMB_GIT_SSH_KEY \
	PLUMB_GIT_CREDENTIALS_FILE 2>/dev/null || true
git config --global init.defaultBranch main
git config --global advice.detachedHead false

test_count=0
test_failures=0
cd "$TRASH" || exit 1

say() { printf '%s\n' "$*"; }

test_expect_success() {
	local desc=$1 body=$2 out
	test_count=$((test_count + 1))
	out=$(cd "$TRASH" && (set -e; eval "$body") 2>&1)
	local rc=$?
	if [ $rc -eq 0 ]; then
		say "ok $test_count - $desc"
		[ "${VERBOSE:-}" = 1 ] && [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/#   /'
	else
		test_failures=$((test_failures + 1))
		say "not ok $test_count - $desc"
		printf '%s\n' "$body" | sed 's/^/#   /'
		say "#   --- output (exit $rc) ---"
		printf '%s\n' "$out" | tail -n 60 | sed 's/^/#   /'
	fi
}

test_done() {
	say "1..$test_count"
	if [ "$test_failures" -eq 0 ]; then
		rm -rf "$TRASH"
		exit 0
	fi
	say "# $TEST_NAME: $test_failures of $test_count failed; scratch kept in $TRASH"
	exit 1
}

# ---- helpers for test bodies ----

# test_expect_code CODE cmd...: runs cmd, fails unless it exits with CODE.
test_expect_code() {
	local want=$1 got
	shift
	"$@" && got=0 || got=$?
	if [ "$got" != "$want" ]; then
		say "expected exit $want, got $got: $*"
		return 1
	fi
}

# test_grep PATTERN FILE: like grep -E, but shows the file when it does not match.
test_grep() {
	if ! grep -E -- "$1" "$2" >/dev/null; then
		say "pattern '$1' not found in $2:"
		cat "$2"
		return 1
	fi
}

# test_grep_not PATTERN FILE
test_grep_not() {
	if grep -E -- "$1" "$2" >/dev/null; then
		say "pattern '$1' unexpectedly found in $2:"
		cat "$2"
		return 1
	fi
}

# test_cmp EXPECTED ACTUAL: diff, showing the difference.
test_cmp() {
	diff -u "$1" "$2"
}

# make_repo DIR: a new non-bare repository with one commit per following call of commit_file.
make_repo() {
	git init -q "$1"
}

# commit_file REPO PATH CONTENT MESSAGE: writes PATH in REPO and commits it.
commit_file() {
	local repo=$1 path=$2 content=$3 msg=$4
	mkdir -p "$repo/$(dirname "$path")"
	printf '%s' "$content" >"$repo/$path"
	git -C "$repo" add "$path"
	git -C "$repo" commit -q -m "$msg"
}

# cm NAME [NAMESPACE]: a ConfigMap manifest.
cm() {
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n' "$1"
	[ -n "${2:-}" ] && printf '  namespace: %s\n' "$2"
	printf 'data:\n  key: value\n'
}

# test_must_be_empty FILE
test_must_be_empty() {
	if [ -s "$1" ]; then
		say "'$1' is not empty:"
		cat "$1"
		return 1
	fi
}

# test_must_fail_quietly cmd...: succeeds when cmd fails.
test_must_fail_quietly() {
	! "$@" 2>/dev/null
}
