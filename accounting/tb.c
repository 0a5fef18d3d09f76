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
 * The bucket is full at its ceiling, capacity + burst_room. The room is
 * what keeps a one-time burst whole when spending it takes time. Each token
 * the burst pays opens room for one token of refill above capacity, so the
 * rate earned while the burst is being spent is banked instead of clamped
 * away (with capacity 0, the block device's setting, all of it would be).
 * A charge takes the banked tokens above capacity first, then the burst,
 * then the balance below capacity; each token the balance pays closes one
 * token of room. So the banked refill is spent as it comes and the burst
 * runs out with (almost) nothing banked, the room is opened by at most
 * `burst` tokens over the bucket's life, and the balance plus the unspent
 * burst never exceed capacity + burst. Once the burst is gone the room
 * shrinks to what is banked in it (nothing more is banked) and closes as
 * that is spent: a burst spent at once and followed by idle time banks
 * nothing, and from then on the bucket is a plain one of `capacity`.
 *
 * Admission works on one number, the target: the balance the bucket must
 * have for `amount` to be admitted. With rest = amount - burst_left (the part
 * the burst cannot pay), target = min(rest, ceiling): a request that fits in
 * a full bucket needs `rest` tokens, a larger one needs a full bucket and then
 * goes into debt. The wait for a refused request is the time to refill
 * target - tokens, computed from the same numerator tb_refill() uses, so the
 * retry time is exact by construction.
 */
#include "tb.h"

#include "fs_assert.h"
#include "fs_errors.h"

__extension__ typedef unsigned __int128 u128;

/* Most tokens refill may bring the balance to. <= 2^41. */
static uint64_t tb_ceiling(const struct token_bucket *b)
{
	return b->capacity + b->burst_room;
}

static int tb_limits_ok(uint64_t capacity, uint64_t rate_per_s, uint64_t burst)
{
	if (capacity > TB_CAPACITY_MAX || rate_per_s > TB_RATE_MAX ||
	    burst > TB_BURST_MAX)
		return FS_ERANGE;
	return 0;
}

/* Bring the balance up to `now`, in units of 10^-9 token: the balance grows
 * by elapsed * rate + frac. The bucket holds at most its ceiling
 * (capacity + burst_room, tb_ceiling()), with one
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
	int64_t room, ceiling;
	u128 num, room_scaled;

	if (now <= b->last)
		return;
	num = (u128)(now - b->last) * b->rate_per_s + b->frac;
	b->last = now;
	if (b->rate_per_s == 0)
		return;
	ceiling = (int64_t)tb_ceiling(b);
	room = ceiling - b->tokens; /* < 2^42 */
	if (room <= 0) {
		/* Full (or within a nanosecond of filling) since before b->last
		 * and at least one more nanosecond has passed. */
		b->tokens = ceiling;
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
	num -= room_scaled; /* overflow beyond the ceiling */
	if (num < b->rate_per_s) {
		b->tokens = ceiling + (int64_t)((uint64_t)num / NS_PER_S);
		b->frac = (uint64_t)num % NS_PER_S;
	} else {
		b->tokens = ceiling;
		b->frac = 0;
	}
}

/* Balance needed to admit `amount` (<= TB_AMOUNT_MAX); <= 0 if the burst
 * alone pays for it. The ceiling does not move while a request waits
 * (only charges move it), so the wait for the target is linear. */
static int64_t tb_target(const struct token_bucket *b, uint64_t amount)
{
	uint64_t rest, ceiling = tb_ceiling(b);

	if (amount <= b->burst_left)
		return 0;
	rest = amount - b->burst_left;
	return (int64_t)(rest < ceiling ? rest : ceiling);
}

static bool tb_admits(const struct token_bucket *b, uint64_t amount)
{
	if (b->rate_per_s == 0)
		return true;
	return b->tokens >= tb_target(b, amount);
}

/* Without a burst left, cut the room to what is banked in it: the tokens
 * above capacity, and the fraction of a token beyond them if invariant 4
 * needs a token's room for it (it is refill earned, not dropped). Never
 * widens the room: invariant 4 held before, so the room already covered
 * both. A bucket below capacity gets no room at all. */
static void tb_room_trim(struct token_bucket *b)
{
	uint64_t keep = 0;

	if (b->burst_left != 0)
		return;
	if (b->tokens >= (int64_t)b->capacity)
		keep = (uint64_t)(b->tokens - (int64_t)b->capacity) +
		       (b->frac >= b->rate_per_s ? 1 : 0);
	if (b->burst_room > keep)
		b->burst_room = keep;
}

/* Charge an admitted request: the tokens banked above capacity first, then
 * the burst, then the rest of the balance, which goes negative only for a
 * request larger than burst_left + ceiling taken from a full bucket (stays
 * >= ceiling - TB_AMOUNT_MAX >= -2^40). The balance pays amount - burst
 * paid, as in any order, so admission (tb_target) does not depend on it.
 * What the burst pays opens room, what the balance pays closes it; the
 * balance drops at least as far as the room, so invariant 4 holds. Without
 * a burst left, the room is cut to the tokens banked in it. */
static void tb_charge(struct token_bucket *b, uint64_t amount)
{
	uint64_t banked = 0, from_burst, from_balance;

	if (b->rate_per_s == 0)
		return;
	if (b->tokens > (int64_t)b->capacity)
		banked = (uint64_t)(b->tokens - (int64_t)b->capacity);
	if (banked > amount)
		banked = amount;
	from_burst = amount - banked < b->burst_left ? amount - banked
	                                             : b->burst_left;
	from_balance = amount - from_burst;
	b->burst_left -= from_burst;
	b->burst_room += from_burst;
	b->burst_room -= from_balance < b->burst_room ? from_balance
	                                              : b->burst_room;
	b->tokens -= (int64_t)from_balance;
	tb_room_trim(b);
}

/* Earliest time at which a refused request is admitted, b refilled to at
 * least the caller's `now` (so b->last >= now). We need the smallest dt with
 * floor((dt * rate + frac) / 1e9) >= need, i.e.
 *     dt = ceil((need * 1e9 - frac) / rate),
 * and need >= 1, frac < 1e9 make the numerator positive, so dt >= 1 and the
 * result is > now: never a zero wait. need < 2^42, so the numerator is
 * < 2^72. A result beyond the range of ns_t is reported as NS_INVALID. */
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
	int64_t ceiling;

	if (tb_limits_ok(b->capacity, b->rate_per_s, b->burst_left) != 0 ||
	    b->burst_room > TB_BURST_MAX - b->burst_left)
		return false;
	if (b->tokens < -(int64_t)TB_AMOUNT_MAX || b->frac >= NS_PER_S)
		return false;
	if (b->rate_per_s == 0)
		return b->tokens == (int64_t)b->capacity && b->frac == 0 &&
		       b->burst_room == 0;
	ceiling = (int64_t)tb_ceiling(b);
	if (b->tokens >= ceiling) {
		u128 over = (u128)(uint64_t)(b->tokens - ceiling) * NS_PER_S +
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
	b->burst_room = 0;
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
	/* The room never exceeds what the (new) burst could have opened,
	 * and without a burst left only what is banked in it is kept. */
	if (b->burst_room > burst - b->burst_left)
		b->burst_room = burst - b->burst_left;
	tb_room_trim(b);
	if (rate_per_s == 0 || was_unlimited) {
		/* An unlimited bucket is full; one becoming limited starts
		 * full, as a new bucket would. */
		b->burst_room = 0;
		b->tokens = (int64_t)capacity;
		b->frac = 0;
	} else if (b->tokens >= (int64_t)tb_ceiling(b)) {
		/* Lower ceiling: clamp (and drop any overflow of the last
		 * nanosecond, which the new rate may not cover). A higher one
		 * leaves tokens alone, so the bucket refills at the rate: no
		 * free tokens. */
		b->tokens = (int64_t)tb_ceiling(b);
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
