#!/usr/bin/env bash
# The Kubernetes REST client and discovery (tests/kube/test_client.c) against a
# real control plane, each cmocka case reported as a TAP line.

# The plane's binaries are cached under the real $HOME, which lib.sh replaces.
. "$(dirname "$0")/../kube/lib.sh"
export PLUMB_KUBE_CACHE=$KUBE_CACHE PLUMB_KUBE_BIN=$KUBE_BIN
. "$(dirname "$0")/lib.sh"

bin=$(dirname "$PLUMB")/test_kube_client
if [ ! -x "$bin" ]; then
	say "not ok 1 - $bin is built (meson with tests enabled)"
	test_count=1 test_failures=1
	test_done
fi
KUBE_TEST_DIR="$TRASH/kube" "$TEST_DIR/../kube/client-test" "$bin" >client.log 2>&1
rc=$?
while read -r status name; do
	test_count=$((test_count + 1))
	if [ "$status" = OK ]; then
		say "ok $test_count - $name"
	else
		test_failures=$((test_failures + 1))
		say "not ok $test_count - $name"
	fi
done < <(sed -n 's/^\[ *\(OK\|FAILED\) *\] \([A-Za-z_][A-Za-z0-9_]*\)$/\1 \2/p' client.log | sort -u -k2,2)
if [ "$test_count" -eq 0 ] || { [ "$rc" -ne 0 ] && [ "$test_failures" -eq 0 ]; }; then
	test_count=$((test_count + 1))
	test_failures=$((test_failures + 1))
	say "not ok $test_count - the client tests ran to the end (exit $rc)"
fi
[ "$test_failures" -eq 0 ] || sed 's/^/# /' client.log | tail -n 60
test_done
