# env.sh: sourced (`. env.sh`) by the scripts that build the Go side of the
# benchmarks (run.sh here, ../net/run.sh). It sets up an offline build that
# needs no writable home: the Go caches live under /tmp, per user, and the
# proxy is off, so it works without network and as any user.
# -buildvcs=false because stamping runs git, which refuses a checkout owned
# by another user (and git need not be installed). -mod=mod: go.mod here
# lists no dependencies (standard library only), so nothing is fetched.
gotmp=/tmp/corun-go-$(id -u)
GOPATH=$gotmp/path
GOCACHE=$gotmp/cache
GOFLAGS='-mod=mod -buildvcs=false'
GOPROXY=off
GOSUMDB=off
GOENV=off
GO111MODULE=on
export GOPATH GOCACHE GOFLAGS GOPROXY GOSUMDB GOENV GO111MODULE
mkdir -p "$GOPATH" "$GOCACHE"
