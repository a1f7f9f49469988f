/*
 * seq.h - TCP sequence-number arithmetic modulo 2^32 (RFC 9293 section
 * 3.4, RFC 1982 serial numbers). Every comparison of two sequence numbers
 * in the engine goes through these, so wraparound is handled in one place:
 * a < b iff the signed 32-bit difference a - b is negative.
 */
#ifndef MPX_SEQ_H
#define MPX_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline int32_t mpx_seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static inline bool mpx_seq_lt(uint32_t a, uint32_t b)
{
    return mpx_seq_diff(a, b) < 0;
}

static inline bool mpx_seq_leq(uint32_t a, uint32_t b)
{
    return mpx_seq_diff(a, b) <= 0;
}

static inline bool mpx_seq_gt(uint32_t a, uint32_t b)
{
    return mpx_seq_diff(a, b) > 0;
}

static inline bool mpx_seq_geq(uint32_t a, uint32_t b)
{
    return mpx_seq_diff(a, b) >= 0;
}

/* lo <= x <= hi, in sequence space. */
static inline bool mpx_seq_between(uint32_t x, uint32_t lo, uint32_t hi)
{
    return mpx_seq_geq(x, lo) && mpx_seq_leq(x, hi);
}

static inline uint32_t mpx_seq_max(uint32_t a, uint32_t b)
{
    return mpx_seq_gt(a, b) ? a : b;
}

static inline uint32_t mpx_seq_min(uint32_t a, uint32_t b)
{
    return mpx_seq_lt(a, b) ? a : b;
}

#endif /* MPX_SEQ_H */
