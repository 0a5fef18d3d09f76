/*
 * Benchmark of the management-link wire format (accounting/crc32c.h,
 * accounting/wire.h):
 *
 *   - CRC32C throughput, table-driven (slicing-by-8) and SSE4.2, side by side
 *     on 64 B (a small frame), 4 KiB and 1 MiB buffers, with the ratio, and
 *     which variant the dispatcher picked (CPUID leaf 1, ECX bit 20);
 *   - METER frames of 64 domains (the largest batch): encoded per second and
 *     decoded per second (stream decoder + message decoder).
 *
 * Usage: bench_wire OUT.json. Prints a table and writes
 * {"bench":"wire","results":[...]}. Each figure is the best of five runs of
 * at least 100 ms, so a noisy neighbour inflates no number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounting/crc32c.h"
#include "accounting/wire.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint32_t sink;

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* Bytes per second of fn over buf[0..len). */
static double crc_rate(crc_fn fn, const uint8_t *buf, size_t len)
{
	double best = 0;

	for (int run = 0; run < 5; run++) {
		uint64_t bytes = 0;
		uint32_t c = 0;
		double t0 = now_s(), dt;

		do {
			for (int i = 0; i < 64; i++) {
				c = fn(c, buf, len);
				bytes += len;
			}
			dt = now_s() - t0;
		} while (dt < 0.1);
		sink = c;
		if ((double)bytes / dt > best)
			best = (double)bytes / dt;
	}
	return best;
}

static struct wire_msg meter, decoded;
static struct wire_decoder dec;
static uint8_t frame[WIRE_FRAME_MAX];

static void build_meter(void)
{
	memset(&meter, 0, sizeof(meter));
	meter.type = WIRE_METER;
	meter.u.meter.boot_id = 0x1234;
	meter.u.meter.mono_ns = 5000000000ull;
	meter.u.meter.next = DOMID_INVALID;
	meter.u.meter.count = WIRE_MAX_BATCH;
	for (uint32_t i = 0; i < WIRE_MAX_BATCH; i++) {
		meter.u.meter.e[i].domid = i + 1;
		for (unsigned k = 0; k < USAGE_NFIELDS; k++)
			*usage_field(&meter.u.meter.e[i].c, k) =
			    (uint64_t)i * 1000003u + k;
	}
}

/* Frames per second: encode (check + serialise + two CRCs). */
static double encode_rate(void)
{
	double best = 0;

	for (int run = 0; run < 5; run++) {
		uint64_t n = 0;
		double t0 = now_s(), dt;

		do {
			for (int i = 0; i < 64; i++) {
				int r = wire_encode(&meter, n + 1, 0, frame,
				                    sizeof(frame));
				if (r <= 0)
					abort();
				n++;
			}
			dt = now_s() - t0;
		} while (dt < 0.1);
		if ((double)n / dt > best)
			best = (double)n / dt;
	}
	return best;
}

/* Frames per second: feed one frame, stream-decode, message-decode. */
static double decode_rate(size_t flen)
{
	double best = 0;
	struct wire_rx rx;

	for (int run = 0; run < 5; run++) {
		uint64_t n = 0;
		double t0 = now_s(), dt;

		wire_decoder_init(&dec);
		do {
			for (int i = 0; i < 64; i++) {
				if (wire_decoder_feed(&dec, frame, flen) !=
				        flen ||
				    wire_decoder_next(&dec, &rx) !=
				        WIRE_RX_FRAME ||
				    wire_msg_decode(&rx.frame, &decoded) !=
				        WIRE_OK)
					abort();
				n++;
			}
			dt = now_s() - t0;
		} while (dt < 0.1);
		if ((double)n / dt > best)
			best = (double)n / dt;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {64, 4096, 1 << 20};
	static const char *const size_names[] = {"64B", "4KiB", "1MiB"};
	uint8_t *buf;
	bool hw = crc32c_hw_available();
	FILE *js;
	double enc, decr;
	int flen;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT.json\n", argv[0]);
		return 2;
	}
	js = fopen(argv[1], "w");
	if (!js) {
		perror(argv[1]);
		return 1;
	}
	buf = malloc(1 << 20);
	if (!buf)
		return 1;
	for (size_t i = 0; i < (1u << 20); i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);

	printf("wire: CRC32C dispatcher uses %s (CPUID.1:ECX.SSE4_2 = %d)\n",
	       hw ? "SSE4.2 crc32" : "table (slicing-by-8)", hw);
	printf("%-8s %14s %14s %8s\n", "buffer", "table MB/s", "sse4.2 MB/s",
	       "ratio");
	fprintf(js, "{\"bench\":\"wire\",\"results\":[\n");
	fprintf(js, "{\"name\":\"crc32c_dispatch\",\"value\":\"%s\"},\n",
	        hw ? "sse42" : "table");
	for (int s = 0; s < 3; s++) {
		double sw = crc_rate(crc32c_sw, buf, sizes[s]) / 1e6;
		double hwr = hw ? crc_rate(crc32c_hw, buf, sizes[s]) / 1e6 : 0;

		if (hw)
			printf("%-8s %14.0f %14.0f %7.1fx\n", size_names[s], sw,
			       hwr, hwr / sw);
		else
			printf("%-8s %14.0f %14s %8s\n", size_names[s], sw,
			       "n/a", "-");
		fprintf(js,
		        "{\"name\":\"crc32c_table\",\"bytes\":%zu,"
		        "\"mb_per_s\":%.1f},\n",
		        sizes[s], sw);
		if (hw)
			fprintf(js,
			        "{\"name\":\"crc32c_sse42\",\"bytes\":%zu,"
			        "\"mb_per_s\":%.1f,\"ratio_vs_table\":%.2f},\n",
			        sizes[s], hwr, hwr / sw);
	}

	build_meter();
	flen = wire_encode(&meter, 1, 0, frame, sizeof(frame));
	if (flen <= 0)
		return 1;
	enc = encode_rate();
	decr = decode_rate((size_t)flen);
	printf("\nMETER frame, %u domains, %d bytes\n", WIRE_MAX_BATCH, flen);
	printf("  encode  %12.0f frames/s  (%.0f MB/s)\n", enc,
	       enc * flen / 1e6);
	printf("  decode  %12.0f frames/s  (%.0f MB/s; stream + message)\n",
	       decr, decr * flen / 1e6);
	fprintf(js,
	        "{\"name\":\"meter_encode\",\"domains\":%u,\"frame_bytes\":%d,"
	        "\"frames_per_s\":%.0f},\n",
	        WIRE_MAX_BATCH, flen, enc);
	fprintf(js,
	        "{\"name\":\"meter_decode\",\"domains\":%u,\"frame_bytes\":%d,"
	        "\"frames_per_s\":%.0f}\n",
	        WIRE_MAX_BATCH, flen, decr);
	fprintf(js, "]}\n");
	fclose(js);
	free(buf);
	return 0;
}
