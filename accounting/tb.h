/*
 * Token bucket and bucket pair: the rate limiter a domain's block device is
 * charged against.
 *
 * A bucket holds up to `capacity` tokens and refills at `rate_per_s` tokens
 * per second of the caller's nanosecond clock. On top of that it may hold a
 * one-time `burst` credit, spent before the refilling tokens and never
 * refilled. Every token drawn from the burst opens room for one token of
 * refill above `capacity` (burst_room), and every token drawn from the
 * balance closes one again: the rate earned while a burst is being spent is
 * banked, not lost to the capacity, so a caller that always has a request
 * waiting gets rate * T + capacity + burst within one request even when
 * spending the burst takes time. The room never exceeds what was drawn from
 * the burst, so the bucket never offers more at once than capacity + burst,
 * and it is opened by the one-time burst only: once that is gone and the
 * room closed, the bucket is a plain bucket of `capacity`. Everything is integer arithmetic: the refill numerator
 * elapsed_ns * rate_per_s is divided by 10^9 in 128 bits and the remainder
 * (a fraction of a token, in units of 10^-9 token) is carried to the next
 * call, so no refill is ever lost to rounding (Firecracker issue 2176).
 *
 * Admission, for a request of `amount` tokens (avail = burst_left +
 * max(tokens, 0)):
 *   - amount <= avail: admitted; burst_left pays first, then tokens.
 *   - amount > burst_left + capacity (it could never fit): admitted once the
 *     bucket is full, driving tokens negative (debt); the debt is refilled
 *     before anything else is admitted, so the long-run rate holds and large
 *     requests never starve (Firecracker PR 2048).
 *   - otherwise refused: nothing is charged and *retry_at is the exact
 *     earliest time at which the same request is admitted, rounded up to the
 *     next nanosecond and always > now (Firecracker issue 6212).
 * Over any interval of length T from a freshly initialised bucket, the
 * amount admitted never exceeds rate_per_s * T / 10^9 + capacity + burst by
 * more than one request (the debt): the balance only ever holds refill and
 * the initial capacity. A caller that always retries at *retry_at falls
 * short of it by less than one request, however long each request takes to
 * serve, as long as the refill earned while the burst is spent stays within
 * the burst drawn (that is, the caller spends the burst faster than the
 * rate).
 *
 * rate_per_s == 0 means unlimited: every request is admitted, nothing is
 * charged, the bucket reads as full.
 *
 * Limits (checked at configuration time, FS_ERANGE beyond them): capacity and
 * burst <= 2^40 tokens (1 TiB), rate_per_s <= 12.5e9 (100 Gbit/s in bytes;
 * 10 million ops/s is far inside). A single request may be at most
 * TB_AMOUNT_MAX tokens. With these, every intermediate fits (see
 * docs/accounting.md): tokens lie in [-2^40, 2^41 + 13] in an int64_t, the
 * refill numerator is < 2^64 * 2^34 + 10^9 < 2^99 for ANY elapsed ns_t, and a
 * wait's numerator is < 2^41 * 10^9 < 2^71.
 *
 * The caller owns the memory and the clock and serialises calls on one
 * bucket (the bucket takes no lock). `now` may repeat; a `now` earlier than
 * the last one seen is treated as no time passing.
 */
#ifndef TB_H
#define TB_H

#include <stdbool.h>
#include <stdint.h>

#include "fs_types.h"

#define TB_CAPACITY_MAX (1ull << 40)
#define TB_BURST_MAX (1ull << 40)
#define TB_RATE_MAX 12500000000ull
#define TB_AMOUNT_MAX (1ull << 40)

/*
 * Invariants (tb_check() verifies them all):
 *   1. capacity <= TB_CAPACITY_MAX, rate_per_s <= TB_RATE_MAX,
 *      burst_left + burst_room <= TB_BURST_MAX (the room is opened only by
 *      drawing on the burst).
 *   2. tokens >= -TB_AMOUNT_MAX (the deepest debt one request can cause).
 *   3. frac < 10^9.
 *   4. tokens * 10^9 + frac < (capacity + burst_room) * 10^9 + rate_per_s:
 *      a bucket holds at most its capacity and room plus what refilled
 *      within the last nanosecond (kept so that rounding waits up to whole
 *      nanoseconds costs nothing; see tb_refill()). Never more than 13
 *      tokens over capacity + burst_room.
 *   5. rate_per_s == 0  =>  tokens == capacity, frac == 0, burst_room == 0
 *      (unlimited reads as full).
 * All fields are guarded by the caller's serialisation.
 */
struct token_bucket {
	uint64_t capacity;   /* most tokens the bucket holds */
	uint64_t rate_per_s; /* refill, tokens per second; 0 = unlimited */
	uint64_t burst_left; /* one-time credit still unspent; never refills */
	uint64_t burst_room; /* refill allowed above capacity: opened by
	                      * drawing on the burst, closed by drawing on
	                      * the balance */
	int64_t tokens;      /* balance; negative = debt from a large request */
	uint64_t frac;       /* carried refill remainder, in 10^-9 tokens */
	ns_t last;           /* time the balance was last brought up to date */
};

/* Configure a new bucket, full (tokens = capacity, burst_left = burst), as of
 * `now`. Returns 0, or FS_ERANGE if a value is beyond its limit (the bucket is
 * then left untouched). */
int tb_init(struct token_bucket *b, uint64_t capacity, uint64_t rate_per_s,
            uint64_t burst, ns_t now);

/* Change a live bucket's parameters as of `now`, keeping its state. Time up
 * to `now` is first refilled at the old rate. Then: the unspent burst is
 * clamped to `burst` (reconfiguring never grants credit) and the room above
 * capacity to what the new burst leaves (burst - burst_left); a lower
 * capacity or room clamps the tokens, a higher one leaves them (no free
 * refill); debt is kept; the carried fraction is kept (it is a fraction of a
 * token, independent of the rate). Switching from or to unlimited (rate 0) leaves the bucket full and
 * forgives debt. Returns 0, or FS_ERANGE with the bucket untouched. */
int tb_reconfigure(struct token_bucket *b, uint64_t capacity,
                   uint64_t rate_per_s, uint64_t burst, ns_t now);

/* Try to charge `amount` tokens at `now`. Returns true if admitted (and
 * charged). Returns false if not, with nothing charged and *retry_at set to
 * the exact earliest time > now at which this same request is admitted if
 * nothing else is charged meanwhile, or to NS_INVALID if it never can be: an
 * amount > TB_AMOUNT_MAX, or a wait that would end beyond the range of ns_t
 * (only with absurd settings such as 1 token/s and a 2^40 deficit). A zero
 * amount is always admitted. retry_at may be NULL. */
bool tb_consume(struct token_bucket *b, uint64_t amount, ns_t now,
                ns_t *retry_at);

/* Tokens a request could take at `now` without waiting (burst_left plus the
 * non-negative balance, refilled to `now`), UINT64_MAX if unlimited. Does not
 * modify the bucket. */
uint64_t tb_available(const struct token_bucket *b, ns_t now);

/* True if every invariant listed above holds. Called under FS_ASSERT after
 * each change in debug builds; the tests call it directly. */
bool tb_check(const struct token_bucket *b);

/*
 * A pair of buckets charged together, bytes and operations: the unit a
 * domain's block device is limited by. A request is admitted only if both
 * buckets admit it, and then both are charged; otherwise neither is charged
 * and *retry_at is the later of the refusing buckets' earliest times, at which
 * both admit it. Either bucket may be unlimited.
 */
struct tb_pair {
	struct token_bucket bytes;
	struct token_bucket ops;
};

/* One bucket's settings, as tb_init() takes them; named fields so the six
 * numbers of a pair cannot be swapped silently. */
struct tb_limits {
	uint64_t capacity;
	uint64_t rate_per_s; /* 0 = unlimited */
	uint64_t burst;
};

/* tb_init() on both buckets. FS_ERANGE if either is out of range; the pair is
 * then untouched. */
int tb_pair_init(struct tb_pair *p, const struct tb_limits *bytes,
                 const struct tb_limits *ops, ns_t now);

/* tb_reconfigure() on both buckets, all or nothing: FS_ERANGE if either is out
 * of range, and then neither bucket changes. */
int tb_pair_reconfigure(struct tb_pair *p, const struct tb_limits *bytes,
                        const struct tb_limits *ops, ns_t now);

/* Charge `bytes` to p->bytes and `ops` to p->ops at `now`, both or neither.
 * Same contract as tb_consume(); *retry_at (may be NULL) is the later of the
 * two waits, NS_INVALID if either request can never be admitted. */
bool tb_pair_consume(struct tb_pair *p, uint64_t bytes, uint64_t ops, ns_t now,
                     ns_t *retry_at);

/* Both buckets' invariants. */
bool tb_pair_check(const struct tb_pair *p);

#endif
