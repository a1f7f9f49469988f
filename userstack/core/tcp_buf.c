/*
 * tcp_buf.c - byte ring for the TCP send and receive buffers.
 */
#include "tcp_buf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int mpx_ring_init(struct mpx_ring *r, uint32_t cap)
{
    memset(r, 0, sizeof(*r));
    r->buf = malloc(cap ? cap : 1);
    if (!r->buf)
        return MPX_ERR_NOMEM;
    r->cap = cap;
    return 0;
}

void mpx_ring_free(struct mpx_ring *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

int mpx_ring_grow(struct mpx_ring *r, uint32_t cap)
{
    return mpx_ring_grow_keep(r, cap, r->cap);
}

int mpx_ring_grow_keep(struct mpx_ring *r, uint32_t cap, uint32_t keep)
{
    if (cap <= r->cap)
        return 0;
    uint8_t *nb = malloc(cap);
    if (!nb)
        return MPX_ERR_NOMEM;
    assert(keep >= r->len);
    mpx_ring_read_at(r, 0, nb, keep < r->cap ? keep : r->cap);
    free(r->buf);
    r->buf = nb;
    r->cap = cap;
    r->head = 0;
    return 0;
}

void mpx_ring_write_at(struct mpx_ring *r, uint32_t off, const uint8_t *src, uint32_t n)
{
    assert((uint64_t)off + n <= r->cap);
    uint32_t pos = r->head + off;
    if (pos >= r->cap)
        pos -= r->cap;
    uint32_t first = r->cap - pos;
    if (first >= n) {
        memcpy(r->buf + pos, src, n);
        return;
    }
    memcpy(r->buf + pos, src, first);
    memcpy(r->buf, src + first, n - first);
}

void mpx_ring_read_at(const struct mpx_ring *r, uint32_t off, uint8_t *dst, uint32_t n)
{
    assert((uint64_t)off + n <= r->cap);
    uint32_t pos = r->head + off;
    if (pos >= r->cap)
        pos -= r->cap;
    uint32_t first = r->cap - pos;
    if (first >= n) {
        memcpy(dst, r->buf + pos, n);
        return;
    }
    memcpy(dst, r->buf + pos, first);
    memcpy(dst + first, r->buf, n - first);
}

void mpx_ring_consume(struct mpx_ring *r, uint32_t n)
{
    assert(n <= r->len);
    r->head += n;
    if (r->head >= r->cap)
        r->head -= r->cap;
    r->len -= n;
}
