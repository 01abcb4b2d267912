#!/bin/sh
# deps.sh <core|test|bench|cross>: installs the Debian packages a target needs
# (core: the compilers, liburing for the io_uring backend, http-parser for
# the HTTP examples, hiredis and redis-server for examples/hooked_redis;
# test: also the real clients and servers of tests/clients: redis, libcurl,
# libpq and PostgreSQL, whose tests start their own servers),
# only those that are missing. Run by the Makefile; safe to run again.
# Debian's postgresql package creates a "main" cluster on port 5432 and,
# where systemd runs, starts it; the tests never use it (they initdb a
# cluster of their own in a temporary directory, on a free port).
set -eu
what=${1:-core}
need="cmake gcc g++ make pkgconf liburing-dev libhttp-parser-dev
libhiredis-dev redis-server"
cross="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
gcc-riscv64-linux-gnu g++-riscv64-linux-gnu libc6-dev-riscv64-cross
qemu-user-static pkgconf"
case "$what" in
  core) ;;
  test) need="$need valgrind gdb pkgconf libc6-dev $cross
    libcurl4-openssl-dev libpq-dev postgresql" ;;
  cross) need="$need $cross" ;;
  bench) need="$need libboost-context-dev valgrind golang-go wrk nginx-light" ;;
  *) echo "deps.sh: unknown target $what" >&2; exit 2 ;;
esac
missing=""
for p in $need; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
