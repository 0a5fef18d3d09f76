#!/bin/sh
# Checks a linked guest image against what the hypervisor's loader accepts
# (hypervisor/include/public/hypercall.h) and what a 1 MiB test domain can
# hold:
#   - a static ELF64 x86-64 executable (ET_EXEC) with its entry inside;
#   - program headers: PT_LOAD only, the first at exactly FS_GUEST_BASE;
#   - every segment inside [FS_GUEST_BASE, FS_GUEST_BASE + 1 MiB);
#   - the whole footprint (code, data and .bss) at most 512 KiB, which
#     leaves the rest of a 1 MiB domain for the stack.
# Usage: check-image.sh IMAGE.elf
set -eu
img=$1
base=$((0x400000))
limit=$((base + 0x100000))
max_footprint=$((512 * 1024))

fail() {
	echo "check-image: $img: $*" >&2
	exit 1
}

hdr=$(readelf -hW "$img") || fail "not an ELF file"
echo "$hdr" | grep -Eq '^ *Class: +ELF64$' || fail "not ELF64"
echo "$hdr" | grep -Eq '^ *Type: +EXEC ' || fail "not ET_EXEC (static, non-PIE)"
echo "$hdr" | grep -Eq '^ *Machine: +Advanced Micro Devices X86-64$' ||
	fail "not x86-64"
entry=$(echo "$hdr" | awk '/Entry point address:/ {print $NF}')

# Program header rows: TYPE OFFSET VADDR PADDR FILESZ MEMSZ FLG... ALIGN
rows=$(readelf -lW "$img" | awk '/^Program Headers:/ {on = 1; next}
	on && /^ *$/ {exit}
	on && $1 != "Type" {print $1, $3, $6}')
[ -n "$rows" ] || fail "no program headers"

first=1
top=$base
echo "$rows" | {
	while read -r type vaddr memsz; do
		[ "$type" = LOAD ] || fail "program header $type (only LOAD allowed)"
		start=$((vaddr))
		end=$((vaddr + memsz))
		if [ $first = 1 ] && [ $start -ne $base ]; then
			fail "first segment at $vaddr, not 0x400000"
		fi
		first=0
		if [ $start -lt $base ] || [ $end -gt $limit ]; then
			fail "segment $vaddr+$memsz outside [0x400000, 0x500000)"
		fi
		[ $end -gt $top ] && top=$end
	done
	[ $((top - base)) -le $max_footprint ] ||
		fail "footprint $((top - base)) bytes > $max_footprint"
}
e=$((entry))
[ $e -ge $base ] && [ $e -lt $limit ] || fail "entry $entry outside the image"
