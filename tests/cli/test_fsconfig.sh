#!/bin/sh
# fsconfig as a user meets it: a good configuration becomes the exact
# grub.cfg, -initrd and hypervisor command line the hypervisor reads; every
# mistake is refused with FILE:LINE: reason, exit status 2, and no output
# file.
. tests/cli/lib.sh
FSCONFIG=build/bin/fsconfig
FIX=tests/cli/fixtures/fsconfig
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img=$tmp/images
mkdir -p "$img"
: >"$img/cpuhog.elf"
: >"$img/waker.elf"

# expect_error NAME LINE PATTERN TEXT  (TEXT: printf format of the file)
expect_error() {
	name=$1 line=$2 pattern=$3
	# shellcheck disable=SC2059
	printf "$4" >"$tmp/$name.conf"
	out=$("$FSCONFIG" --images "$img" "$tmp/$name.conf" \
		--grub "$tmp/$name.cfg" 2>&1)
	rc=$?
	if [ "$rc" -ne 2 ]; then
		not_ok "$name" "exit status $rc, want 2; output: $out"
	elif ! printf '%s' "$out" | grep -qF "$tmp/$name.conf:$line: "; then
		not_ok "$name" "message lacks file:$line: $out"
	elif ! printf '%s' "$out" | grep -qF -- "$pattern"; then
		not_ok "$name" "message lacks '$pattern': $out"
	elif ls "$tmp/$name.cfg"* >/dev/null 2>&1; then
		not_ok "$name" "an output file was written on error"
	else
		ok "$name"
	fi
}

# --- a good configuration ---

out=$("$FSCONFIG" --images "$img" "$FIX/good.conf" --check 2>&1)
if [ "$out" = "$FIX/good.conf: ok, 130 domains" ]; then
	ok check_counts_domains_with_count_expanded
else
	not_ok check_counts_domains_with_count_expanded "got: $out"
fi

if "$FSCONFIG" --images "$img" "$FIX/good.conf" --grub "$tmp/grub.cfg" &&
	diff -u "$FIX/good.grub.cfg" "$tmp/grub.cfg" >"$tmp/diff"; then
	ok grub_cfg_loads_hypervisor_and_one_module_per_section
else
	not_ok grub_cfg_loads_hypervisor_and_one_module_per_section \
		"$(cat "$tmp/diff")"
fi

out=$("$FSCONFIG" --images "$img" "$FIX/good.conf" --append)
if [ "$out" = "ctx_allow_us=2000 run_ms=5000 loglevel=2" ]; then
	ok append_prints_hypervisor_command_line
else
	not_ok append_prints_hypervisor_command_line "got: $out"
fi

out=$("$FSCONFIG" --images "$img" --run-ms 100 "$FIX/good.conf" --append)
case $out in
*" run_ms=100 "*) ok run_ms_option_overrides_the_file ;;
*) not_ok run_ms_option_overrides_the_file "got: $out" ;;
esac

# -initrd carries the same module command lines as grub.cfg, with the path
want=$(sed -n 's|^\tmodule2 /boot/|'"$img"'/|p' "$FIX/good.grub.cfg" |
	paste -sd, -)
out=$("$FSCONFIG" --images "$img" "$FIX/good.conf" --initrd)
if [ "$out" = "$want" ]; then
	ok initrd_matches_grub_modules_comma_separated
else
	not_ok initrd_matches_grub_modules_comma_separated \
		"got: $out; want: $want"
fi

mkdir -p "$tmp/a,b"
: >"$tmp/a,b/cpuhog.elf"
printf '[domain a]\nimage = cpuhog\n' >"$tmp/comma.conf"
out=$("$FSCONFIG" --images "$tmp/a,b" "$tmp/comma.conf" --initrd)
case $out in
"$tmp/a,,b/cpuhog.elf name=a "*) ok initrd_escapes_commas_in_image_dir ;;
*) not_ok initrd_escapes_commas_in_image_dir "got: $out" ;;
esac

# without --images the images are looked up beside build/bin
printf '[domain a]\nimage = no-such-image\n' >"$tmp/noimg.conf"
out=$("$FSCONFIG" "$tmp/noimg.conf" --check 2>&1)
case $out in
*"$PWD/build/guests/no-such-image.elf"*) ok default_image_dir_is_build_guests ;;
*) not_ok default_image_dir_is_build_guests "got: $out" ;;
esac

if out=$("$FSCONFIG" config/demo.conf --check 2>&1); then
	ok demo_config_is_valid_with_built_images
else
	not_ok demo_config_is_valid_with_built_images "$out"
fi

# --- every kind of mistake: FILE:LINE: reason, exit 2, nothing written ---

d='[domain a]\nimage = cpuhog\n'
expect_error unknown_section_rejected 3 "unknown section '[domian b]'" \
	"$d[domian b]\n"
expect_error unknown_domain_key_rejected 3 "unknown key 'cpu_wieght' in [domain a]" \
	"${d}cpu_wieght = 256\n"
expect_error unknown_hypervisor_key_rejected 2 "unknown key 'ctx_allow' in [hypervisor]" \
	"[hypervisor]\nctx_allow = 5\n$d"
expect_error bad_value_gets_domcfg_reason 3 "cpu_weight must be an integer 1..65535" \
	"${d}cpu_weight = 0\n"
expect_error bad_hypervisor_value_gets_hvcfg_reason 2 "run_ms must be an integer" \
	"[hypervisor]\nrun_ms = soon\n$d"
expect_error value_with_odd_characters_rejected 2 "values may hold only" \
	"[domain a]\nimage = cpu#hog\n"
expect_error key_given_twice_rejected 4 "key 'memory_mb' given twice (first on line 3)" \
	"${d}memory_mb = 4\nmemory_mb = 8\n"
expect_error duplicate_domain_rejected 4 "duplicate domain name 'a' (first defined on line 1)" \
	"$d# again\n$d"
expect_error name_made_by_count_clashes 3 "duplicate domain name 'small-1' (first defined on line 1)" \
	"[domain small-1]\nimage = cpuhog\n[domain small]\nimage = cpuhog\ncount = 3\n"
expect_error missing_image_rejected 1 "[domain a] needs image = IMAGE" \
	"[domain a]\nmemory_mb = 4\n[domain b]\nimage = cpuhog\n"
expect_error image_file_missing_rejected 2 "image 'nothere': $img/nothere.elf" \
	"[domain a]\nimage = nothere\n"
expect_error line_not_key_value_rejected 3 "expected 'key = value'" \
	"${d}just some words\n"
expect_error key_with_space_rejected 3 "a key is one word" \
	"${d}cpu weight = 5\n"
expect_error key_before_any_section_rejected 1 "before any [hypervisor] or [domain NAME] section" \
	"image = cpuhog\n$d"
expect_error name_key_rejected 3 "the name is the section's" \
	"${d}name = b\n"
expect_error arg_dot_key_rejected 3 "guest arguments go in one key" \
	"${d}arg.period_us = 5\n"
expect_error args_token_without_value_rejected 3 "args: 'burst' is not key=value" \
	"${d}args = period_us=1 burst\n"
expect_error guest_argument_twice_rejected 3 "args: argument 'a' given twice" \
	"${d}args = a=1 a=2\n"
expect_error count_out_of_range_rejected 3 "count must be an integer 1..4096" \
	"${d}count = 5000\n"
expect_error count_name_too_long_rejected 1 "name too long for count" \
	"[domain aaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\nimage = cpuhog\ncount = 100\n"
expect_error domain_without_name_rejected 1 "[domain] needs a name" \
	"[domain]\nimage = cpuhog\n"
expect_error bad_domain_name_rejected 1 "name must be 1-31 characters" \
	"[domain Web]\nimage = cpuhog\n"
expect_error hypervisor_section_twice_rejected 3 "[hypervisor] given twice (first on line 1)" \
	"[hypervisor]\nrun_ms = 5\n[hypervisor]\n$d"
expect_error unterminated_section_rejected 1 "must end with ']'" \
	"[domain a\nimage = cpuhog\n"
expect_error config_without_domains_rejected 2 "no [domain NAME] section" \
	"[hypervisor]\nrun_ms = 5\n"

printf 'old\n' >"$tmp/keep.cfg"
printf '[domain a]\nimage = nothere\n' >"$tmp/bad.conf"
"$FSCONFIG" --images "$img" "$tmp/bad.conf" --grub "$tmp/keep.cfg" 2>/dev/null
if [ "$(cat "$tmp/keep.cfg")" = old ]; then
	ok error_leaves_existing_output_untouched
else
	not_ok error_leaves_existing_output_untouched "keep.cfg was changed"
fi

out=$("$FSCONFIG" "$tmp/does-not-exist.conf" --check 2>&1); rc=$?
if [ $rc -eq 2 ] && printf '%s' "$out" | grep -q "does-not-exist.conf: No such file"; then
	ok missing_config_file_exit_2
else
	not_ok missing_config_file_exit_2 "rc=$rc out=$out"
fi
out=$("$FSCONFIG" --images "$img" "$FIX/good.conf" --run-ms 1x --append 2>&1); rc=$?
if [ $rc -eq 2 ] && printf '%s' "$out" | grep -q "run_ms must be an integer"; then
	ok bad_run_ms_option_exit_2
else
	not_ok bad_run_ms_option_exit_2 "rc=$rc out=$out"
fi
"$FSCONFIG" "$FIX/good.conf" >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok missing_mode_exit_2; else not_ok missing_mode_exit_2 "rc=$rc"; fi
"$FSCONFIG" "$FIX/good.conf" --check --append >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok two_modes_exit_2; else not_ok two_modes_exit_2 "rc=$rc"; fi
done_testing
