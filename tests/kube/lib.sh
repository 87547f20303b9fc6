# Shared helpers for tests/kube/{build,start,stop,smoke}. Sourced, not run.
KUBE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null
. "$KUBE_DIR/versions"
# Bump when the build recipe changes in a way that changes the binaries.
KUBE_RECIPE=1
export PATH=/usr/local/go/bin:$PATH
KUBE_CACHE=${PLUMB_KUBE_CACHE:-$HOME/.cache/plumb-kube}
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The Go the control plane is built with when the machine has none recent enough
# (the cache key holds the Go version in use, so it needs no place in versions).
GO_VERSION=1.26.8

# kube_go: a Go of at least GO_VERSION's minor first in PATH. A machine without
# one gets Go's own toolchain module (golang.org/toolchain, as GOTOOLCHAIN
# fetches it) from the Go module proxy into the cache, once.
kube_go() {
	local have want_minor=${GO_VERSION#1.} dir proxy arch zip
	want_minor=${want_minor%%.*}
	have=$(go env GOVERSION 2>/dev/null || true)
	have=${have#go1.}
	[[ ${have%%.*} =~ ^[0-9]+$ ]] && [ "${have%%.*}" -ge "$want_minor" ] && return 0
	dir=$KUBE_CACHE/toolchain/go$GO_VERSION
	if [ ! -x "$dir/bin/go" ]; then
		proxy=${GOPROXY:-https://proxy.golang.org}
		proxy=${proxy%%,*}
		case $proxy in off | direct) proxy=https://proxy.golang.org ;; esac
		case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
		command -v curl >/dev/null && command -v python3 >/dev/null ||
			die "no Go >= 1.$want_minor, and no curl and python3 to fetch it (scripts/install-deps)"
		log "no Go 1.$want_minor or newer here; fetching go$GO_VERSION from $proxy"
		mkdir -p "$KUBE_CACHE/toolchain"
		zip=$(mktemp "$KUBE_CACHE/toolchain/go.XXXXXX")
		curl -fsSL --retry 3 -o "$zip" \
			"$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-$arch.zip" ||
			{ rm -f "$zip"; die "cannot fetch go$GO_VERSION from $proxy"; }
		# the module's files sit under "golang.org/toolchain@<version>/"; keep their modes
		python3 - "$zip" "$dir.tmp" <<'PY' || { rm -rf "$zip" "$dir.tmp"; die "cannot unpack go$GO_VERSION"; }
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for info in z.infolist():
        name = info.filename
        at = name.find("@")
        rel = name[name.index("/", at) + 1:] if at >= 0 and "/" in name[at:] else ""
        if not rel or rel.endswith("/"):
            continue
        path = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(info) as f, open(path, "wb") as out:
            out.write(f.read())
        os.chmod(path, (info.external_attr >> 16) & 0o777 or 0o644)
PY
		rm -f "$zip"
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
	fi
	export PATH=$dir/bin:$PATH GOTOOLCHAIN=local
}
kube_go

kube_key() {
	{ grep -v '^#' "$KUBE_DIR/versions"; echo "recipe=$KUBE_RECIPE"; go env GOVERSION GOOS GOARCH; } |
		sha256sum | cut -c1-16
}
KUBE_BIN=${PLUMB_KUBE_BIN:-$KUBE_CACHE/$(kube_key)/bin}
KUBE_BINARIES="etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok"
now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }'; }
