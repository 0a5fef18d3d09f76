/*
 * The settings language shared by fsconfig and the hypervisor: every key,
 * range and message, and the round trip through a module command line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fs_errors.h"
#include "hypervisor/common/domcfg.h"

static int set(struct domain_settings *d, const char *k, const char *v,
               const char **why)
{
	return domcfg_set(d, k, strlen(k), v, strlen(v), why);
}

static void test_a_module_line_round_trips_through_format_and_parse(void **st)
{
	(void)st;
	struct domain_settings a, b;
	const char *why = 0;
	size_t off;
	domcfg_default(&a);
	assert_int_equal(set(&a, "name", "voip", &why), 0);
	assert_int_equal(set(&a, "image", "waker", &why), 0);
	assert_int_equal(set(&a, "memory_mb", "8", &why), 0);
	assert_int_equal(set(&a, "cpu_weight", "512", &why), 0);
	assert_int_equal(set(&a, "warp_us", "20000", &why), 0);
	assert_int_equal(set(&a, "count", "3", &why), 0);
	assert_int_equal(set(&a, "arg.period_us", "10000", &why), 0);
	assert_int_equal(set(&a, "arg.burst_us", "800", &why), 0);
	assert_string_equal(a.args, "period_us=10000 burst_us=800");
	char line[DOMCFG_CMDLINE_MAX];
	assert_true(domcfg_format_cmdline(&a, line, sizeof(line)) > 0);
	domcfg_default(&b);
	/* the module path GRUB or QEMU puts first is skipped */
	char full[DOMCFG_CMDLINE_MAX + 32] = "/boot/waker.elf ";
	strcat(full, line);
	assert_int_equal(domcfg_parse_cmdline(&b, full, &why, &off), 0);
	assert_string_equal(b.name, "voip");
	assert_string_equal(b.image, "waker");
	assert_string_equal(b.args, a.args);
	assert_int_equal(b.memory_mb, 8);
	assert_int_equal(b.count, 3);
	assert_int_equal(b.sp.cpu_weight, 512);
	assert_int_equal(b.sp.warp_us, 20000);
}

static void test_io_and_memory_keys_round_trip_and_are_checked(void **st)
{
	(void)st;
	struct domain_settings a, b;
	const char *why = 0;
	size_t off;
	domcfg_default(&a);
	assert_int_equal(set(&a, "name", "db", &why), 0);
	assert_int_equal(set(&a, "image", "iohog", &why), 0);
	assert_int_equal(set(&a, "memory_mb", "8", &why), 0);
	assert_int_equal(set(&a, "disk_mb", "64", &why), 0);
	assert_int_equal(set(&a, "disk_image", "testdisk", &why), 0);
	assert_int_equal(set(&a, "io_bps", "8388608", &why), 0);
	assert_int_equal(set(&a, "io_iops", "2000", &why), 0);
	assert_int_equal(set(&a, "io_burst_bytes", "1048576", &why), 0);
	assert_int_equal(set(&a, "io_burst_ops", "100", &why), 0);
	assert_int_equal(set(&a, "memory_max_mb", "32", &why), 0);
	assert_int_equal(set(&a, "mem_growth_pages_per_s", "2560", &why), 0);
	assert_int_equal(set(&a, "mem_growth_burst_pages", "512", &why), 0);
	assert_int_equal(domcfg_check(&a, &why), 0);
	char line[DOMCFG_CMDLINE_MAX];
	assert_true(domcfg_format_cmdline(&a, line, sizeof(line)) > 0);
	domcfg_default(&b);
	assert_int_equal(domcfg_parse_cmdline(&b, line, &why, &off), 0);
	assert_int_equal(b.disk_mb, 64);
	assert_string_equal(b.disk_image, "testdisk");
	assert_int_equal(b.io.io_bps, 8388608);
	assert_int_equal(b.io.io_iops, 2000);
	assert_int_equal(b.io.io_burst_bytes, 1048576);
	assert_int_equal(b.io.io_burst_ops, 100);
	assert_int_equal(b.mem.memory_max_mb, 32);
	assert_int_equal(b.memory_max_set, 1);
	assert_int_equal(b.mem.mem_growth_pages_per_s, 2560);
	assert_int_equal(b.mem.mem_growth_burst_pages, 512);

	/* Without memory_max_mb the ceiling is memory_mb: not emitted. */
	domcfg_default(&b);
	assert_int_equal(set(&b, "name", "x", &why), 0);
	assert_true(domcfg_format_cmdline(&b, line, sizeof(line)) > 0);
	assert_null(strstr(line, "memory_max_mb"));

	/* Cross-field and range errors name the key. */
	assert_int_equal(set(&b, "memory_mb", "16", &why), 0);
	assert_int_equal(set(&b, "memory_max_mb", "8", &why), 0);
	assert_int_equal(domcfg_check(&b, &why), FS_ERANGE);
	assert_non_null(strstr(why, "memory_max_mb"));
	assert_int_equal(set(&b, "memory_max_mb", "0", &why), 0);
	assert_int_equal(domcfg_check(&b, &why), 0); /* 0: no ceiling */
	assert_int_equal(set(&b, "disk_image", "blob", &why), 0);
	assert_int_equal(domcfg_check(&b, &why), FS_EINVAL);
	assert_non_null(strstr(why, "disk_mb"));
	assert_int_equal(set(&b, "io_bps", "12500000001", &why), FS_ERANGE);
	assert_non_null(strstr(why, "io_bps"));
	assert_int_equal(set(&b, "disk_mb", "65537", &why), FS_ERANGE);
	assert_non_null(strstr(why, "disk_mb"));
	assert_int_equal(set(&b, "disk_image", "Bad/Name", &why), FS_EINVAL);
}

static void test_bad_values_name_the_key_and_the_range(void **st)
{
	(void)st;
	struct domain_settings d;
	const char *why = 0;
	domcfg_default(&d);
	assert_int_equal(set(&d, "cpu_weight", "0", &why), FS_ERANGE);
	assert_non_null(strstr(why, "cpu_weight"));
	assert_int_equal(set(&d, "cpu_weight", "65536", &why), FS_ERANGE);
	assert_int_equal(set(&d, "cpu_weight", "12a", &why), FS_EINVAL);
	assert_int_equal(set(&d, "cpu_weight", "-1", &why), FS_EINVAL);
	assert_int_equal(set(&d, "cpu_weight", "99999999999999999999999", &why),
	                 FS_EINVAL);
	assert_int_equal(set(&d, "memory_mb", "", &why), FS_EINVAL);
	assert_non_null(strstr(why, "memory_mb"));
	assert_int_equal(set(&d, "cpu_cap_pct", "101", &why), FS_ERANGE);
	assert_int_equal(set(&d, "name", "Web1", &why), FS_EINVAL);
	assert_int_equal(set(&d, "name", "a-name-that-is-far-too-long-for-it",
	                     &why),
	                 FS_ERANGE);
	assert_int_equal(set(&d, "args", "x", &why), FS_ENOENT);
	assert_non_null(strstr(why, "unknown domain key"));
	assert_int_equal(set(&d, "image", "a,b", &why), FS_EINVAL);
	/* nothing above changed the settings */
	assert_int_equal(d.sp.cpu_weight, SCHED_WEIGHT_DEFAULT);
	assert_int_equal(d.memory_mb, DOMCFG_MEMORY_MB_DEFAULT);
	assert_string_equal(d.name, "");
}

static void test_a_bad_token_is_located_in_the_command_line(void **st)
{
	(void)st;
	struct domain_settings d;
	const char *why = 0;
	size_t off = 0;
	domcfg_default(&d);
	const char *line = "x.elf name=a cpu_weight=256 bogus=1 memory_mb=2";
	assert_int_equal(domcfg_parse_cmdline(&d, line, &why, &off), FS_ENOENT);
	assert_int_equal(off, strlen("x.elf name=a cpu_weight=256 "));
	domcfg_default(&d);
	assert_int_equal(domcfg_parse_cmdline(&d, "memory_mb=2", &why, &off),
	                 FS_EINVAL);
	assert_non_null(strstr(why, "needs a name"));
}

static void test_count_leaves_room_for_the_suffix(void **st)
{
	(void)st;
	struct domain_settings d;
	const char *why = 0;
	domcfg_default(&d);
	assert_int_equal(set(&d, "name", "abcdefghijklmnopqrstuvwxyz01", &why),
	                 0);
	assert_int_equal(set(&d, "count", "128", &why), 0);
	assert_int_equal(domcfg_check(&d, &why), FS_ERANGE); /* 28+1+3 > 31 */
	assert_int_equal(set(&d, "count", "99", &why), 0);
	assert_int_equal(domcfg_check(&d, &why), 0);
	assert_int_equal(set(&d, "count", "4097", &why), FS_ERANGE);

	/* the instance names every tool and the hypervisor agree on */
	char nm[64];
	set(&d, "name", "web", &why);
	set(&d, "count", "128", &why);
	assert_int_equal(domcfg_instance_name(&d, 7, nm, sizeof(nm)), 7);
	assert_string_equal(nm, "web-007");
	assert_int_equal(domcfg_instance_name(&d, 128, nm, sizeof(nm)), 7);
	assert_string_equal(nm, "web-128");
	set(&d, "count", "1", &why);
	assert_int_equal(domcfg_instance_name(&d, 1, nm, sizeof(nm)), 3);
	assert_string_equal(nm, "web");
}

static void test_hypervisor_keys_parse_and_format(void **st)
{
	(void)st;
	struct hv_settings h, h2;
	const char *why = 0;
	size_t off;
	hvcfg_default(&h);
	assert_int_equal(hvcfg_parse_cmdline(&h, "/boot/fairshare.bin "
	                                         "ctx_allow_us=500 run_ms=5000 "
	                                         "poison_free=1",
	                                     &why, &off),
	                 0);
	assert_int_equal(h.sc.ctx_allow_us, 500);
	assert_int_equal(h.run_ms, 5000);
	char line[256];
	assert_true(hvcfg_format_cmdline(&h, line, sizeof(line)) > 0);
	hvcfg_default(&h2);
	assert_int_equal(hvcfg_parse_cmdline(&h2, line, &why, &off), 0);
	assert_int_equal(h2.sc.ctx_allow_us, 500);
	assert_int_equal(h2.run_ms, 5000);
	assert_int_equal(h2.poison_free, 1);
	assert_int_equal(hvcfg_parse_cmdline(&h2, "loglevel=9", &why, &off),
	                 FS_ERANGE);
	assert_int_equal(hvcfg_parse_cmdline(&h2, "cpu_weight=9", &why, &off),
	                 FS_ENOENT);
}

static void test_format_refuses_a_buffer_too_small(void **st)
{
	(void)st;
	struct domain_settings d;
	const char *why;
	domcfg_default(&d);
	set(&d, "name", "web1", &why);
	char small[16];
	assert_int_equal(domcfg_format_cmdline(&d, small, sizeof(small)),
	                 FS_E2BIG);
	assert_int_equal(small[sizeof(small) - 1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_module_line_round_trips_through_format_and_parse),
		cmocka_unit_test(test_io_and_memory_keys_round_trip_and_are_checked),
		cmocka_unit_test(test_bad_values_name_the_key_and_the_range),
		cmocka_unit_test(test_a_bad_token_is_located_in_the_command_line),
		cmocka_unit_test(test_count_leaves_room_for_the_suffix),
		cmocka_unit_test(test_hypervisor_keys_parse_and_format),
		cmocka_unit_test(test_format_refuses_a_buffer_too_small),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}
