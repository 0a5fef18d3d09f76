/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
 * management-link frame (accounting/wire.h, docs/management-protocol.md).
 *
 * Castagnoli rather than the zlib CRC32: it detects more error patterns at
 * frame sizes up to a few KiB (Hamming distance 6 up to 5243 bits vs 4) and
 * x86-64 computes it in hardware (SSE4.2 `crc32`, general-purpose registers
 * only, so it is usable inside the hypervisor, which runs without vector
 * state). Two implementations give bit-identical results:
 *
 *   crc32c_sw   slicing-by-8 over eight 1 KiB tables, any CPU
 *   crc32c_hw   the SSE4.2 instruction, 8 bytes per instruction
 *   crc32c      picks crc32c_hw when CPUID (leaf 1, ECX bit 20) says the CPU
 *               has it, else crc32c_sw; the probe runs once and is cached.
 *
 * All three take and return the finished CRC, so a buffer can be summed in
 * pieces: crc32c(crc32c(0, a, n), b, m) == crc32c(0, a || b, n + m).
 * Start with 0. Freestanding: no libc, no heap, no floating point.
 */
#ifndef ACCOUNTING_CRC32C_H
#define ACCOUNTING_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* crc32c(0, "123456789", 9): the standard check value (RFC 3720 B.4). */
#define CRC32C_CHECK 0xE3069283u

/* CRC32C of len bytes at buf, continuing from crc (0 to start). buf may be
 * NULL when len is 0. Dispatches to the fastest variant this CPU has. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* Table-driven variant (slicing-by-8); runs on every CPU. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* SSE4.2 variant. Precondition: crc32c_hw_available(). On other
 * architectures it is crc32c_sw. */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);

/* True when this CPU executes the SSE4.2 crc32 instruction (CPUID leaf 1,
 * ECX bit 20). Probed once, then cached; safe to call concurrently. */
bool crc32c_hw_available(void);

#endif
