/*
 * splitmix64: the one deterministic generator of the tests and benches, so
 * a failing seed replays exactly. Not for anything that needs secrecy.
 */
#ifndef FS_TEST_RNG_H
#define FS_TEST_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
