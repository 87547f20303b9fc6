#!/usr/bin/env bash
# Differential tests of the kustomize engine: every case under tests/kustomize/cases
# is rendered by plumb and compared, byte for byte, with what `kubectl kustomize`
# prints (kept in tests/kustomize/expected and checked against kubectl itself
# when it is on PATH).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v kubectl >/dev/null 2>&1; then
	echo "# kubectl is not on PATH: comparing with the kept kubectl output only"
fi
exec "$here/../kustomize/check" "${PLUMB:?PLUMB must name the plumb binary}"
