#!/bin/sh
# Fails if a freestanding object references a symbol that the hypervisor will
# not provide. Allowed: the four mem* routines the hypervisor implements,
# fs_panic() (the hypervisor's panic), and libgcc's integer helpers
# (__udivti3 and friends, linked from libgcc.a into the kernel).
set -eu
obj=$1
bad=$(nm -u "$obj" | awk '{print $NF}' |
	grep -Ev '^(memcpy|memset|memmove|memcmp|fs_panic|__(u?div|u?mod|mul|ashl|ashr|lshr|clz|ctz|popcount|ffs|parity|bswap)[a-z]*[0-9]+)$' || true)
if [ -n "$bad" ]; then
	echo "check-freestanding: $obj references symbols the hypervisor does not provide:" >&2
	echo "$bad" | sed 's/^/  /' >&2
	exit 1
fi
