/*
 * Token bucket: integer refill with carried remainders, debt for oversized
 * requests, exact wait times. The contract and the limits are in tb.h; the
 * arithmetic and why it cannot overflow are in docs/accounting.md.
 *
 * Every public entry point first brings the balance up to `now`
 * (tb_refill), then decides. Refilling is exact and associative: refilling
 * to t1 and then to t2 leaves the same state as refilling to t2 at once,
 * because the fraction of a token is carried (and a bucket that overflows
 * its capacity ends up clamped the same way either way, see tb_refill()). So
 * a refused call, which only refills,
 * changes nothing a later call could observe: "nothing is charged".
 *
 * Admission works on one number, the target: the balance the bucket must
 * have for `amount` to be admitted. With rest = amount - burst_left (the part
 * the burst cannot pay), target = min(rest, capacity): a request that fits in
 * a full bucket needs `rest` tokens, a larger one needs a full bucket and then
 * goes into debt. The wait for a refused request is the time to refill
 * target - tokens, computed from the same numerator tb_refill() uses, so the
 * retry time is exact by construction.
 */
#include "tb.h"

#include "fs_assert.h"
#include "fs_errors.h"

__extension__ typedef unsigned __int128 u128;

static int tb_limits_ok(uint64_t capacity, uint64_t rate_per_s, uint64_t burst)
{
	if (capacity > TB_CAPACITY_MAX || rate_per_s > TB_RATE_MAX ||
	    burst > TB_BURST_MAX)
		return FS_ERANGE;
	return 0;
}

/* Bring the balance up to `now`, in units of 10^-9 token: the balance grows
 * by elapsed * rate + frac. The bucket holds at most `capacity`, with one
 * exception: overflow that arrived within the last nanosecond (excess < rate)
 * is kept. The clock cannot name the fractional instant at which the bucket
 * filled, so a caller who slept until the rounded-up retry_at must not lose
 * the refill of that partial nanosecond; without this, a bucket whose
 * capacity equals the request size (3000 IOPS, capacity 1) would fall behind
 * its rate by up to one nanosecond's refill per request, without bound.
 * Overflow older than a nanosecond is dropped: the bucket was full and idle.
 *
 * A `now` before b->last counts as no time passing. The numerator is
 * < 2^64 * 2^34 + 2^30 for any elapsed ns_t, inside 128 bits, and is compared
 * with the room left before anything is narrowed. */
static void tb_refill(struct token_bucket *b, ns_t now)
{
	int64_t room;
	u128 num, room_scaled;

	if (now <= b->last)
		return;
	num = (u128)(now - b->last) * b->rate_per_s + b->frac;
	b->last = now;
	if (b->rate_per_s == 0)
		return;
	room = (int64_t)b->capacity - b->tokens; /* <= 2^41 */
	if (room <= 0) {
		/* Full (or within a nanosecond of filling) since before b->last
		 * and at least one more nanosecond has passed. */
		b->tokens = (int64_t)b->capacity;
		b->frac = 0;
		return;
	}
	room_scaled = (u128)(uint64_t)room * NS_PER_S;
	if (num < room_scaled) {
		if (num >> 64 == 0) {
			/* Common case: a 64-bit division, not __udivti3. */
			b->tokens += (int64_t)((uint64_t)num / NS_PER_S);
			b->frac = (uint64_t)num % NS_PER_S;
		} else {
			b->tokens += (int64_t)(num / NS_PER_S);
			b->frac = (uint64_t)(num % NS_PER_S);
		}
		return;
	}
	num -= room_scaled; /* overflow beyond capacity */
	if (num < b->rate_per_s) {
		b->tokens = (int64_t)(b->capacity + (uint64_t)num / NS_PER_S);
		b->frac = (uint64_t)num % NS_PER_S;
	} else {
		b->tokens = (int64_t)b->capacity;
		b->frac = 0;
	}
}

/* Balance needed to admit `amount` (<= TB_AMOUNT_MAX); <= 0 if the burst
 * alone pays for it. */
static int64_t tb_target(const struct token_bucket *b, uint64_t amount)
{
	uint64_t rest;

	if (amount <= b->burst_left)
		return 0;
	rest = amount - b->burst_left;
	return (int64_t)(rest < b->capacity ? rest : b->capacity);
}

static bool tb_admits(const struct token_bucket *b, uint64_t amount)
{
	if (b->rate_per_s == 0)
		return true;
	return b->tokens >= tb_target(b, amount);
}

/* Charge an admitted request: burst first, then the balance, which goes
 * negative only for a request larger than burst_left + capacity taken from
 * a full bucket. Stays >= capacity - TB_AMOUNT_MAX >= -2^40. */
static void tb_charge(struct token_bucket *b, uint64_t amount)
{
	uint64_t from_burst;

	if (b->rate_per_s == 0)
		return;
	from_burst = amount < b->burst_left ? amount : b->burst_left;
	b->burst_left -= from_burst;
	b->tokens -= (int64_t)(amount - from_burst);
}

/* Earliest time at which a refused request is admitted, b refilled to at
 * least the caller's `now` (so b->last >= now). We need the smallest dt with
 * floor((dt * rate + frac) / 1e9) >= need, i.e.
 *     dt = ceil((need * 1e9 - frac) / rate),
 * and need >= 1, frac < 1e9 make the numerator positive, so dt >= 1 and the
 * result is > now: never a zero wait. need <= 2^41, so the numerator is
 * < 2^71. A result beyond the range of ns_t is reported as NS_INVALID. */
static ns_t tb_wait_until(const struct token_bucket *b, uint64_t amount)
{
	uint64_t need;
	u128 num, dt;

	need = (uint64_t)(tb_target(b, amount) - b->tokens);
	FS_ASSERT(need >= 1 && b->rate_per_s != 0);
	num = (u128)need * NS_PER_S - b->frac + (b->rate_per_s - 1);
	if (num >> 64 == 0) /* need < 18e9 tokens: 64-bit division */
		dt = (uint64_t)num / b->rate_per_s;
	else
		dt = num / b->rate_per_s;
	if (dt >= (u128)(NS_INVALID - b->last))
		return NS_INVALID;
	return b->last + (ns_t)dt;
}

bool tb_check(const struct token_bucket *b)
{
	if (tb_limits_ok(b->capacity, b->rate_per_s, b->burst_left) != 0)
		return false;
	if (b->tokens < -(int64_t)TB_AMOUNT_MAX || b->frac >= NS_PER_S)
		return false;
	if (b->rate_per_s == 0)
		return b->tokens == (int64_t)b->capacity && b->frac == 0;
	if (b->tokens >= (int64_t)b->capacity) {
		u128 over = (u128)(uint64_t)(b->tokens - (int64_t)b->capacity) *
		                NS_PER_S +
		            b->frac;

		if (over >= b->rate_per_s)
			return false;
	}
	return true;
}

int tb_init(struct token_bucket *b, uint64_t capacity, uint64_t rate_per_s,
            uint64_t burst, ns_t now)
{
	int err = tb_limits_ok(capacity, rate_per_s, burst);

	if (err)
		return err;
	b->capacity = capacity;
	b->rate_per_s = rate_per_s;
	b->burst_left = burst;
	b->tokens = (int64_t)capacity;
	b->frac = 0;
	b->last = now;
	FS_ASSERT(tb_check(b));
	return 0;
}

int tb_reconfigure(struct token_bucket *b, uint64_t capacity,
                   uint64_t rate_per_s, uint64_t burst, ns_t now)
{
	int err = tb_limits_ok(capacity, rate_per_s, burst);
	bool was_unlimited = b->rate_per_s == 0;

	if (err)
		return err;
	tb_refill(b, now); /* time so far accrues at the old rate */
	b->capacity = capacity;
	b->rate_per_s = rate_per_s;
	if (b->burst_left > burst)
		b->burst_left = burst;
	if (rate_per_s == 0 || was_unlimited) {
		/* An unlimited bucket is full; one becoming limited starts
		 * full, as a new bucket would. */
		b->tokens = (int64_t)capacity;
		b->frac = 0;
	} else if (b->tokens >= (int64_t)capacity) {
		/* Lower capacity: clamp (and drop any overflow of the last
		 * nanosecond, which the new rate may not cover). A higher one
		 * leaves tokens alone, so the bucket refills at the rate: no
		 * free tokens. */
		b->tokens = (int64_t)capacity;
		b->frac = 0;
	}
	FS_ASSERT(tb_check(b));
	return 0;
}

bool tb_consume(struct token_bucket *b, uint64_t amount, ns_t now,
                ns_t *retry_at)
{
	if (amount > TB_AMOUNT_MAX) {
		if (retry_at)
			*retry_at = NS_INVALID;
		return false;
	}
	tb_refill(b, now);
	if (tb_admits(b, amount)) {
		tb_charge(b, amount);
		FS_ASSERT(tb_check(b));
		return true;
	}
	if (retry_at)
		*retry_at = tb_wait_until(b, amount);
	FS_ASSERT(tb_check(b));
	return false;
}

uint64_t tb_available(const struct token_bucket *b, ns_t now)
{
	struct token_bucket c = *b;

	if (c.rate_per_s == 0)
		return UINT64_MAX;
	tb_refill(&c, now);
	return c.burst_left + (c.tokens > 0 ? (uint64_t)c.tokens : 0);
}

int tb_pair_init(struct tb_pair *p, const struct tb_limits *bytes,
                 const struct tb_limits *ops, ns_t now)
{
	if (tb_limits_ok(bytes->capacity, bytes->rate_per_s, bytes->burst) ||
	    tb_limits_ok(ops->capacity, ops->rate_per_s, ops->burst))
		return FS_ERANGE;
	tb_init(&p->bytes, bytes->capacity, bytes->rate_per_s, bytes->burst,
	        now);
	tb_init(&p->ops, ops->capacity, ops->rate_per_s, ops->burst, now);
	return 0;
}

int tb_pair_reconfigure(struct tb_pair *p, const struct tb_limits *bytes,
                        const struct tb_limits *ops, ns_t now)
{
	if (tb_limits_ok(bytes->capacity, bytes->rate_per_s, bytes->burst) ||
	    tb_limits_ok(ops->capacity, ops->rate_per_s, ops->burst))
		return FS_ERANGE;
	tb_reconfigure(&p->bytes, bytes->capacity, bytes->rate_per_s,
	               bytes->burst, now);
	tb_reconfigure(&p->ops, ops->capacity, ops->rate_per_s, ops->burst,
	               now);
	return 0;
}

bool tb_pair_consume(struct tb_pair *p, uint64_t bytes, uint64_t ops, ns_t now,
                     ns_t *retry_at)
{
	bool bytes_ok, ops_ok;
	ns_t wait = 0;

	if (bytes > TB_AMOUNT_MAX || ops > TB_AMOUNT_MAX) {
		if (retry_at)
			*retry_at = NS_INVALID;
		return false;
	}
	tb_refill(&p->bytes, now);
	tb_refill(&p->ops, now);
	bytes_ok = tb_admits(&p->bytes, bytes);
	ops_ok = tb_admits(&p->ops, ops);
	if (bytes_ok && ops_ok) {
		tb_charge(&p->bytes, bytes);
		tb_charge(&p->ops, ops);
		FS_ASSERT(tb_pair_check(p));
		return true;
	}
	/* A bucket that admits now admits at any later time too (its balance
	 * only grows while nothing is charged), so the later of the refusing
	 * buckets' times is when both admit. */
	if (!bytes_ok)
		wait = tb_wait_until(&p->bytes, bytes);
	if (!ops_ok) {
		ns_t w = tb_wait_until(&p->ops, ops);

		if (w > wait)
			wait = w;
	}
	if (retry_at)
		*retry_at = wait;
	FS_ASSERT(tb_pair_check(p));
	return false;
}

bool tb_pair_check(const struct tb_pair *p)
{
	return tb_check(&p->bytes) && tb_check(&p->ops);
}
