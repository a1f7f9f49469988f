/*
 * mptcp_dacksack_test.c - a pure ACK whose 40 option bytes a timestamp
 * and three SACK blocks fill (a receiver with three holes, all through a
 * loss recovery): a DATA_ACK the peer has not heard yet goes out in the
 * room of the last block; a repeated one gives way to the blocks. When
 * every such ACK dropped the DATA_ACK, the sender's DATA_ACK stayed
 * behind its subflow's ACK for a whole recovery: its connection-level
 * timer reinjected data the peer had (one subflow: the fallback to TCP
 * was refused after that, mptcp_fallback2_single_*), or the last
 * DATA_ACK, DATA_FIN included, never came and the peer, closed, reset
 * the sender (mptcp_extkey_sim_newkey_lost).
 */
#include <stdlib.h>
#include <string.h>

#include "mptcp_b2b.h"
#include "mptcp_int.h"
#include "mpx_test.h"

/* A pure ACK's options before the MPTCP hook: timestamp (12 bytes with
 * padding) and three SACK blocks (28), the newest first. */
static void ts_3sack(struct mpx_tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->present = MPX_TCPO_TS | MPX_TCPO_SACK;
    o->ts_val = 1;
    o->ts_ecr = 2;
    o->n_sack = 3;
    for (uint32_t i = 0; i < 3; i++) {
        o->sack[i].left = 10000 - 3000 * i;
        o->sack[i].right = 11000 - 3000 * i;
    }
}

static const struct mpx_opt_dss *dss_of(const struct mpx_tcp_opts *o)
{
    for (uint8_t i = 0; i < o->n_mptcp; i++)
        if (o->mptcp[i].subtype == MPX_MPTCP_SUB_DSS)
            return &o->mptcp[i].u.dss;
    return NULL;
}

MPX_TEST(mptcp_dacksack_new_data_ack_beats_last_sack_block)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 92, NULL, NULL);
    long c = b2b_connect_accept(b, 80);
    REQUIRE(c > 0);
    struct mpx_msk *m = mpx_stack_find(b->st[0], (uint32_t)c);
    REQUIRE(m && m->nsf == 1 && m->sf[0]->fully_est && !m->n_sig);
    struct mpx_sf *sf = m->sf[0];
    struct mpx_tcp_seg_info seg = {.flags = MPX_TH_ACK, .payload_len = 0};
    struct mpx_tcp_opts o;

    /* the peer has heard our DATA_ACK: a dupack keeps its three blocks */
    m->ack_sent = m->rcv_nxt;
    ts_3sack(&o);
    REQUIRE(mpx_tcp_opts_space(&o) == MPX_TCP_MAX_OPT_LEN);
    CHECK_INT(mpx_sf_opt_hook(sf, &seg, &o, 0), 0);
    CHECK(!dss_of(&o));
    CHECK_INT(o.n_sack, 3);

    /* a retransmission filled the first hole: the connection took it in
     * order, the ACK carries the new DATA_ACK and the two newest blocks */
    m->rcv_nxt += 1428;
    ts_3sack(&o);
    CHECK_INT(mpx_sf_opt_hook(sf, &seg, &o, 0), 0);
    const struct mpx_opt_dss *d = dss_of(&o);
    REQUIRE(d);
    CHECK(d->has_ack && !d->has_map);
    CHECK_EQ(d->data_ack, m->rcv_nxt);
    CHECK_INT(o.n_sack, 2);
    CHECK_EQ(o.sack[0].left, 10000);
    CHECK_EQ(o.sack[1].left, 7000);
    CHECK(mpx_tcp_opts_space(&o) <= MPX_TCP_MAX_OPT_LEN);
    CHECK_EQ(m->ack_sent, m->rcv_nxt);

    /* the next dupack says nothing new at the connection level */
    ts_3sack(&o);
    CHECK_INT(mpx_sf_opt_hook(sf, &seg, &o, 0), 0);
    CHECK(!dss_of(&o));
    CHECK_INT(o.n_sack, 3);
    b2b_free(b);
    free(b);
}
