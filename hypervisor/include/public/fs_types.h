/*
 * Scalar types shared by the hypervisor, its guests and the tools.
 * Part of the public ABI: fixed widths only, no padding-sensitive structs.
 */
#ifndef FS_TYPES_H
#define FS_TYPES_H

#include <stdint.h>

/* Nanoseconds of hypervisor monotonic time, or a duration in nanoseconds.
 * u64 covers 584 years, so no ns_t in this project ever wraps. */
typedef uint64_t ns_t;
#define NS_INVALID ((ns_t)UINT64_MAX)
#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

/* Domain id; 0 is reserved for the hypervisor itself. */
typedef uint32_t domid_t;
#define DOMID_HYPERVISOR ((domid_t)0)
#define DOMID_INVALID ((domid_t)UINT32_MAX)

_Static_assert(sizeof(ns_t) == 8, "ns_t is part of the ABI");
_Static_assert(sizeof(domid_t) == 4, "domid_t is part of the ABI");

#endif
