/*
 * tcp_buf.h - byte ring used for the TCP send and receive buffers.
 *
 * Logical offset 0 is the oldest byte (head). The receive side also writes
 * out-of-order data beyond the in-order length (mpx_ring_write_at with an
 * offset >= len), so the ring doubles as the reassembly buffer: no per
 * segment allocation, memory bounded by the advertised window.
 */
#ifndef MPX_TCP_BUF_H
#define MPX_TCP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct mpx_ring {
    uint8_t *buf;
    uint32_t cap;  /* bytes allocated */
    uint32_t head; /* index of logical offset 0 */
    uint32_t len;  /* bytes of valid data from offset 0 (in order) */
};

/* 0 or MPX_ERR_NOMEM. */
int mpx_ring_init(struct mpx_ring *r, uint32_t cap);
void mpx_ring_free(struct mpx_ring *r);
/* Grow to |cap| keeping every byte of the old capacity (also the ones past
 * len) at the same logical offset. No-op if cap is not larger. */
int mpx_ring_grow(struct mpx_ring *r, uint32_t cap);
/* The same, keeping only the first |keep| bytes (the rest of the new ring
 * is undefined): a ring without out-of-order data needs only its len
 * bytes, and an empty one nothing (no copy of the old capacity into fresh
 * pages: 16 page faults per connection when a 64 KB ring grows at SYN). */
int mpx_ring_grow_keep(struct mpx_ring *r, uint32_t cap, uint32_t keep);
/* Copy |n| bytes to/from logical offset |off|; off + n <= cap. */
void mpx_ring_write_at(struct mpx_ring *r, uint32_t off, const uint8_t *src, uint32_t n);
void mpx_ring_read_at(const struct mpx_ring *r, uint32_t off, uint8_t *dst, uint32_t n);
/* Drop |n| bytes from the head (n <= len). */
void mpx_ring_consume(struct mpx_ring *r, uint32_t n);

static inline uint32_t mpx_ring_space(const struct mpx_ring *r)
{
    return r->cap - r->len;
}

#endif /* MPX_TCP_BUF_H */
