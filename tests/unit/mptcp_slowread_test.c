/*
 * mptcp_slowread_test.c - a receiving application that reads slower than
 * the paths deliver (the lab's gnutls-cli read 64 KiB steps about twice a
 * second): the connection-level buffer fills and stays full for seconds
 * while the sender's retransmission timer reinjects on both subflows.
 * The transfer must complete intact, with no subflow reset: RFC 8684
 * section 3.3.4 makes the window shared, so a slow reader is flow
 * control, never an error.
 */
#include <stdlib.h>
#include <string.h>

#include "mptcp_b2b.h"
#include "mptcp_int.h"
#include "mptcp_sim.h"
#include "mpx_test.h"
#include "tcp_int.h"

static struct msim_params slow_reader(uint64_t seed)
{
    /* the e2e TLS lab: 25 Mbit/s at 4 ms and 15 Mbit/s at 12 ms */
    struct msim_params p = {.seed = seed,
                            .bytes = 6000000,
                            .server_sends = true,
                            .n_paths = 2,
                            .join_paths = true,
                            .reader_bps = 4000000,
                            .time_limit_ns = 120 * MPX_NS_PER_S};
    p.path[0].rate_bps = 25000000;
    p.path[0].delay_ns = 2 * MPX_NS_PER_MS;
    p.path[1].rate_bps = 15000000;
    p.path[1].delay_ns = 6 * MPX_NS_PER_MS;
    return p;
}

static void check_clean(const struct msim_result *r)
{
    CHECK(r->completed);
    CHECK(r->hash_ok);
    CHECK(r->both_closed);
    CHECK_EQ(r->cmib.MPRstTx, 0);
    CHECK_EQ(r->cmib.FallbackFailed, 0);
    CHECK_EQ(r->cmib.DSSNotMatching, 0);
    CHECK_EQ(r->smib.MPRstRx, 0);
}

MPX_TEST(mptcp_slowread_completes_without_reset)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct msim_params p = slow_reader(seed);
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        check_clean(&r);
        /* 6 MB at 0.5 MB/s: the reader, not the paths, set the pace */
        CHECK(r.duration_ns >= 10 * MPX_NS_PER_S);
    }
}

/* ---- the pieces, one by one --------------------------------------------- */

/* An RFC 8684 connection with two subflows, established and quiet; the
 * client's connection. */
static struct mpx_msk *two_subflows(struct b2b *b, uint64_t seed)
{
    b2b_init(b, seed, NULL, NULL);
    long sid;
    long c = b2b_connect_two(b, 80, &sid);
    if (c <= 0 || sid <= 0)
        return NULL;
    struct mpx_msk *m = mpx_stack_find(b->st[0], (uint32_t)c);
    return m && m->nsf == 2 && m->sf[1]->mp_ok ? m : NULL;
}

/* RFC 8684 3.3.4: a subflow offers the connection's window, relative to
 * the DATA_ACK. Subflow 1 offered it; then 100 kB came in order on
 * subflow 0 and wait for the reader. Holding subflow 1's own right edge
 * (RFC 9293's rule for plain TCP) offered 100 kB the buffer cannot take:
 * in the lab the peer filled the subflows with it and they stopped. */
MPX_TEST(mptcp_slowread_subflow_offers_connection_window)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    struct mpx_msk *m = two_subflows(b, 31);
    REQUIRE(m);
    struct mpx_tcp_conn *t1 = m->sf[1]->tcp;
    uint32_t w = (uint32_t)mpx_msk_rcv_wnd(m);
    REQUIRE(w > 200000);
    CHECK(mpx_tcp_rcv_window(t1) <= w);
    t1->rcv_adv = t1->rcv_nxt + w; /* as offered */
    t1->wnd_sent = w;
    m->rcv_nxt += 100000;
    CHECK(mpx_tcp_rcv_window(t1) <= mpx_msk_rcv_wnd(m));
    CHECK(mpx_tcp_rcv_window(t1) + 100000 <= w);
    /* the peer was told 0; the reader made room: an update goes out,
     * although the subflow's own edge is still ahead */
    t1->wnd_sent = 0;
    t1->ack_now = false;
    mpx_tcp_window_update(t1);
    CHECK(t1->ack_now);
    b2b_free(b);
    free(b);
}

/* A data segment from the server on the client's initial subflow, at
 * subflow offset |off|, with a DSS mapping of |len| bytes at |dsn|. */
static bool feed_map(struct mpx_sf *sf, uint32_t off, uint64_t dsn, uint16_t len)
{
    struct mpx_tcp_conn *t = sf->tcp;
    struct mpx_pkt p;
    memset(&p, 0, sizeof(p));
    p.tcp.flags = MPX_TH_ACK;
    p.tcp.seq = t->irs + 1 + off;
    p.tcp.ack = t->snd_una;
    p.payload_len = len;
    p.tcp.opts.n_mptcp = 1;
    struct mpx_mptcp_opt *o = &p.tcp.opts.mptcp[0];
    o->subtype = MPX_MPTCP_SUB_DSS;
    o->u.dss.has_map = true;
    o->u.dss.dsn64 = true;
    o->u.dss.dsn = dsn;
    o->u.dss.ssn = off + 1;
    o->u.dss.dll = len;
    return mpx_sf_rx_options(sf, &p, 0);
}

/* Mappings wait in the subflow until the connection takes their bytes.
 * Consecutive ones are remembered as one (a peer reinjecting in 2.8 kB
 * pieces filled the 512 entries in the lab); when no entry is left, the
 * segment is dropped before TCP takes it, and counted: taking its bytes
 * without their mapping stopped the subflow for good, and its next
 * segment without a DSS reset it as middlebox interference. */
MPX_TEST(mptcp_slowread_rx_mappings_merge_then_refuse)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    struct mpx_msk *m = two_subflows(b, 32);
    REQUIRE(m);
    struct mpx_sf *sf = m->sf[0];
    sf->tcp->rcv_adv = sf->tcp->rcv_nxt + (4u << 20);
    uint64_t dsn = m->rcv_nxt + 1000000; /* out of order: nothing drains */
    uint32_t off = sf->rx_off;
    for (int k = 0; k < 1000; k++)
        CHECK(feed_map(sf, off + 100u * (uint32_t)k, dsn + 100u * (uint32_t)k, 100));
    CHECK_INT(sf->rx.n, 1);
    off += 100000;
    dsn += 200000;
    int refused = -1;
    for (int k = 0; k < MPX_SF_MAPS + 10 && refused < 0; k++)
        if (!feed_map(sf, off + 100u * (uint32_t)k, dsn + 200u * (uint32_t)k, 100))
            refused = k;
    CHECK_INT(refused, MPX_SF_MAPS - 1);
    CHECK_INT(sf->rx.n, MPX_SF_MAPS);
    CHECK_EQ(b->st[0]->mib.MPXRxMapsFull, 1);
    CHECK_EQ(b->st[0]->mib.DSSNotMatching, 0);
    /* a retransmission of a merged piece is the same mapping */
    CHECK(feed_map(sf, sf->rx_off + 500, m->rcv_nxt + 1000500, 100));
    CHECK_EQ(b->st[0]->mib.DSSNotMatching, 0);
    b2b_free(b);
    free(b);
}
