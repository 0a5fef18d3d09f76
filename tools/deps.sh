#!/bin/sh
# Installs exactly what a fresh Debian 12 machine lacks to build, test, run
# and benchmark Fairshare. As root it runs apt-get; otherwise it prints the
# one apt-get line to run and fails. Quiet and fast when nothing is missing.
#
# Package -> what needs it:
#   gcc make binutils    the build (ld -r and nm for the freestanding check)
#   libcmocka-dev        unit tests (tests/unit/*.c)
#   pkg-config           locating cmocka
#   clang libclang-rt-14-dev  libFuzzer targets (make fuzz)
#   valgrind             instruction counts in make bench (callgrind)
#   python3              tests/cli scripts parse hvsim's JSON; system tests
#   qemu-system-x86      boots the hypervisor (TCG, -icount) for make run/test
#   grub-pc-bin grub-common xorriso mtools   grub-mkrescue builds the ISO
#   libsqlite3-dev sqlite3  billingd's database (and the CLI for inspecting it)
#   libmicrohttpd-dev libjansson-dev libgnutls28-dev  the REST API (HTTPS too)
#   libssl-dev              SHA-256 of API keys (libcrypto)
#   wrk curl openssl        the API benchmark, examples, test certificates
set -eu

PKGS="gcc make binutils libc6-dev libcmocka-dev pkg-config clang \
libclang-rt-14-dev valgrind python3 qemu-system-x86 grub-pc-bin grub-common \
xorriso mtools libsqlite3-dev sqlite3 libmicrohttpd-dev libjansson-dev \
libgnutls28-dev libssl-dev wrk curl openssl"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
