/*
 * What the two halves of the hostile image share: hostile.c (the generic
 * hypercall attacks, the arguments and the ends) and hostile_io.c (attacks
 * on the block ring and the memory reservation calls).
 */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include <stdint.h>

/* Tells hostile_io.c where the domain's initial memory ends. */
void hostile_io_init(uint64_t mem_hi);

/* Counts a call known to be invalid: refused (< 0) or, if it returned
 * >= 0, one more bad_ok (the first few printed with what). */
void hostile_bad(const char *what, int64_t ret);

/* Counts a legal call that must succeed: a failure is one more good_err
 * (printed). Returns ret >= 0. */
int hostile_good(const char *what, int64_t ret);

/* Counts a request the back end never answered (no_rsp). */
void hostile_no_rsp(const char *what);

/* Block ring attacks. hostile_blk_setup() tries bad ring pages, then
 * registers the real one; returns 0, or < 0 if the domain has no disk (or
 * the good setup failed), after which the other calls do nothing.
 * One round sends every kind of bad request once, plus legal requests and a
 * completely full ring that must all succeed. */
int hostile_blk_setup(void);
void hostile_blk_round(void);

/* Memory reservation attacks; one round leaves the domain's memory as it
 * found it. */
void hostile_mem_round(void);

/* The ring ends: each must get the domain killed. They return if it was
 * not (the caller shuts down with an error), or for ringfree also when the
 * hypervisor refused to take the ring page back (returns 1: that is a
 * correct refusal, the domain may exit normally). */
int hostile_end_ring_overflow(void);
int hostile_end_rsp_ahead(void);
int hostile_end_ring_free(void);

#endif
