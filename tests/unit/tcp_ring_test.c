/*
 * tcp_ring_test.c - the byte ring of the TCP buffers (tcp_buf.h): growing
 * keeps the bytes it must (all of the old capacity, or only the first
 * |keep|: mpx_ring_grow_keep, which skips copying an empty ring's 64 KB
 * into fresh pages at every SYN: issue 7, connection rate).
 */
#include <string.h>

#include "mpx_test.h"
#include "tcp_buf.h"

static void fill(struct mpx_ring *r, uint32_t off, uint32_t n, uint8_t seed)
{
    uint8_t b[256];
    for (uint32_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i);
    mpx_ring_write_at(r, off, b, n);
}

static bool same(const struct mpx_ring *r, uint32_t off, uint32_t n, uint8_t seed)
{
    uint8_t b[256];
    mpx_ring_read_at(r, off, b, n);
    for (uint32_t i = 0; i < n; i++)
        if (b[i] != (uint8_t)(seed + i))
            return false;
    return true;
}

MPX_TEST(tcp_ring_grow_keeps_wrapped_and_out_of_order_bytes)
{
    struct mpx_ring r;
    REQUIRE(mpx_ring_init(&r, 64) == 0);
    fill(&r, 0, 48, 1);
    r.len = 48;
    mpx_ring_consume(&r, 40); /* head moves: the next bytes wrap */
    fill(&r, 8, 50, 7);
    r.len = 58;
    fill(&r, 60, 4, 99); /* out of order, past len */
    REQUIRE(mpx_ring_grow(&r, 200) == 0);
    CHECK_INT(r.cap, 200);
    CHECK_INT(r.len, 58);
    CHECK(same(&r, 8, 50, 7));
    CHECK(same(&r, 60, 4, 99));
    mpx_ring_free(&r);
}

MPX_TEST(tcp_ring_grow_keep_copies_only_what_is_kept)
{
    struct mpx_ring r;
    REQUIRE(mpx_ring_init(&r, 64) == 0);
    fill(&r, 0, 20, 3);
    r.len = 20;
    fill(&r, 30, 10, 50); /* would be out-of-order data: not kept below */
    REQUIRE(mpx_ring_grow_keep(&r, 128, r.len) == 0);
    CHECK_INT(r.cap, 128);
    CHECK_INT(r.len, 20);
    CHECK(same(&r, 0, 20, 3));
    /* not larger: nothing happens */
    CHECK_INT(mpx_ring_grow_keep(&r, 100, 0), 0);
    CHECK_INT(r.cap, 128);
    CHECK(same(&r, 0, 20, 3));
    mpx_ring_free(&r);
    /* an empty ring grows without a copy, and is usable */
    REQUIRE(mpx_ring_init(&r, 64) == 0);
    REQUIRE(mpx_ring_grow_keep(&r, 4096, 0) == 0);
    fill(&r, 4000, 96, 9);
    CHECK(same(&r, 4000, 96, 9));
    mpx_ring_free(&r);
}
