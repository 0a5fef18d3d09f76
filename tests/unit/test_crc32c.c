/*
 * CRC32C (accounting/crc32c.h): both implementations must give the standard
 * Castagnoli values, agree with a bit-at-a-time reference and with each
 * other for every length and alignment, and the dispatcher must pick the
 * hardware path exactly when the CPU has SSE4.2. A disagreement here would
 * make one peer of the management link reject every frame of the other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tools/common/rng.h"

#include "accounting/crc32c.h"

/* Bit-at-a-time reference straight from the polynomial. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	return rng_next(&rng_state);
}

static void standard_check_value_matches_rfc3720(void **state)
{
	(void)state;
	assert_int_equal(crc32c_sw(0, "123456789", 9), CRC32C_CHECK);
	assert_int_equal(crc32c(0, "123456789", 9), CRC32C_CHECK);
	if (crc32c_hw_available())
		assert_int_equal(crc32c_hw(0, "123456789", 9), CRC32C_CHECK);
}

/* RFC 3720 appendix B.4 test vectors (32-byte buffers). */
static void iscsi_test_vectors_match(void **state)
{
	uint8_t b[32];

	(void)state;
	memset(b, 0, sizeof(b));
	assert_int_equal(crc32c(0, b, 32), 0x8A9136AAu);
	assert_int_equal(crc32c_sw(0, b, 32), 0x8A9136AAu);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(crc32c(0, b, 32), 0x62A8AB43u);
	assert_int_equal(crc32c_sw(0, b, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, b, 32), 0x46DD794Eu);
	assert_int_equal(crc32c_sw(0, b, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(0, b, 32), 0x113FDB5Cu);
	assert_int_equal(crc32c_sw(0, b, 32), 0x113FDB5Cu);
}

static void empty_buffer_leaves_crc_unchanged(void **state)
{
	(void)state;
	assert_int_equal(crc32c_sw(0, NULL, 0), 0);
	assert_int_equal(crc32c_sw(0x12345678u, NULL, 0), 0x12345678u);
	assert_int_equal(crc32c(0xdeadbeefu, NULL, 0), 0xdeadbeefu);
}

/* Every length 0..1000 at every alignment 0..7: the slicing tables, the
 * head/tail byte loops and the hardware word loop all agree with the
 * reference. */
static void
both_variants_agree_with_reference_at_every_length_and_alignment(void **state)
{
	static uint8_t buf[1000 + 16];
	bool hw = crc32c_hw_available();

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= 1000; len++) {
			uint32_t seed = (uint32_t)rnd();
			uint32_t want = crc_ref(seed, buf + off, len);

			assert_int_equal(crc32c_sw(seed, buf + off, len), want);
			if (hw)
				assert_int_equal(
				    crc32c_hw(seed, buf + off, len), want);
			assert_int_equal(crc32c(seed, buf + off, len), want);
		}
	}
}

/* Summing a buffer in two pieces equals summing it at once, wherever the
 * cut falls: callers checksum a frame header and payload separately. */
static void crc_continues_across_any_split(void **state)
{
	uint8_t buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	uint32_t whole = crc32c(0, buf, sizeof(buf));

	for (size_t cut = 0; cut <= sizeof(buf); cut++) {
		assert_int_equal(crc32c_sw(crc32c_sw(0, buf, cut), buf + cut,
		                           sizeof(buf) - cut),
		                 whole);
		assert_int_equal(
		    crc32c(crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut),
		    whole);
	}
}

static void dispatcher_uses_hardware_exactly_when_cpu_has_sse42(void **state)
{
	(void)state;
#if defined(__x86_64__)
	__builtin_cpu_init();
	assert_int_equal(crc32c_hw_available(),
	                 __builtin_cpu_supports("sse4.2") != 0);
#else
	assert_false(crc32c_hw_available());
#endif
	/* The probe is cached: asking again gives the same answer. */
	assert_int_equal(crc32c_hw_available(), crc32c_hw_available());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(standard_check_value_matches_rfc3720),
	    cmocka_unit_test(iscsi_test_vectors_match),
	    cmocka_unit_test(empty_buffer_leaves_crc_unchanged),
	    cmocka_unit_test(
	        both_variants_agree_with_reference_at_every_length_and_alignment),
	    cmocka_unit_test(crc_continues_across_any_split),
	    cmocka_unit_test(
	        dispatcher_uses_hardware_exactly_when_cpu_has_sse42),
	};

	return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
