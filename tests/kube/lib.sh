# Shared helpers for tests/kube/{build,start,stop,smoke}. Sourced, not run.
KUBE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null
. "$KUBE_DIR/versions"
# Bump when the build recipe changes in a way that changes the binaries.
KUBE_RECIPE=1
export PATH=/usr/local/go/bin:$PATH
KUBE_CACHE=${PLUMB_KUBE_CACHE:-$HOME/.cache/plumb-kube}
kube_key() {
	{ grep -v '^#' "$KUBE_DIR/versions"; echo "recipe=$KUBE_RECIPE"; go env GOVERSION GOOS GOARCH; } |
		sha256sum | cut -c1-16
}
KUBE_BIN=${PLUMB_KUBE_BIN:-$KUBE_CACHE/$(kube_key)/bin}
KUBE_BINARIES="etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }'; }
