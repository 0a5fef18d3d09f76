#!/bin/sh
# The portable core must link into the hypervisor: its freestanding build may
# reference only mem*, fs_panic and libgcc helpers, and may not see libc
# headers at all.
. tests/cli/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
FREE="gcc -ffreestanding -nostdlib -fno-builtin -mno-red-zone -mgeneral-regs-only -nostdinc -isystem $(gcc -print-file-name=include) -c"

if tools/check-freestanding.sh build/free/portable.o 2>"$tmp/err"; then
	ok portable_core_references_only_allowed_symbols
else
	not_ok portable_core_references_only_allowed_symbols "$(cat "$tmp/err")"
fi

printf 'int puts(const char *);\nint f(void) { return puts("x"); }\n' >"$tmp/bad.c"
$FREE "$tmp/bad.c" -o "$tmp/bad.o"
if tools/check-freestanding.sh "$tmp/bad.o" 2>"$tmp/err"; then
	not_ok libc_call_fails_the_build "check passed an object calling puts"
elif grep -q puts "$tmp/err"; then
	ok libc_call_fails_the_build
else
	not_ok libc_call_fails_the_build "error does not name puts: $(cat "$tmp/err")"
fi

printf '#include <stdio.h>\nint f(void);\n' >"$tmp/hdr.c"
if $FREE "$tmp/hdr.c" -o "$tmp/hdr.o" 2>/dev/null; then
	not_ok libc_header_unavailable_freestanding "stdio.h was found"
else
	ok libc_header_unavailable_freestanding
fi

printf '#include <stdint.h>\n#include <stddef.h>\n#include <stdbool.h>\nvoid *memcpy(void *, const void *, size_t);\nvoid g(uint64_t *a, uint64_t *b) { memcpy(a, b, 8); }\n' >"$tmp/ok.c"
$FREE "$tmp/ok.c" -o "$tmp/ok.o"
if tools/check-freestanding.sh "$tmp/ok.o"; then
	ok memcpy_and_compiler_headers_allowed
else
	not_ok memcpy_and_compiler_headers_allowed "rejected"
fi
done_testing
