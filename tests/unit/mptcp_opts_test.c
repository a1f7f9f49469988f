/*
 * mptcp_opts_test.c - per-connection socket options of the MPTCP stack
 * (mpx_conn_set_nodelay / _cork / _keepalive / _cc): two stacks back to
 * back, packets delivered at once, the client's output counted.
 */
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "mptcp_int.h"
#include "mpx_test.h"

struct pair {
    struct mpx_stack *st[2];
    uint64_t rng, now;
    uint32_t cconn, sconn;
    uint8_t pkt[70000], buf[4096];
};

static uint64_t prand(void *ctx)
{
    struct pair *p = ctx;
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return p->rng;
}

/* Packets host |k| has ready; data segments counted; delivered if |fwd|. */
static int pump(struct pair *p, int k, bool fwd)
{
    int data = 0;
    for (;;) {
        int n = mpx_stack_output(p->st[k], p->pkt, sizeof(p->pkt), p->now);
        if (n <= 0)
            break;
        struct mpx_pkt d;
        if (mpx_pkt_decode(p->pkt, (size_t)n, false, &d) == 0 && d.payload_len)
            data++;
        if (fwd)
            mpx_stack_input(p->st[!k], p->pkt, (size_t)n, p->now);
    }
    return data;
}

static void settle(struct pair *p)
{
    for (int i = 0; i < 50; i++) {
        p->now += MPX_NS_PER_MS;
        mpx_stack_on_timer(p->st[0], p->now);
        mpx_stack_on_timer(p->st[1], p->now);
        pump(p, 0, true);
        pump(p, 1, true);
        if (!p->sconn) {
            long s = mpx_stack_accept(p->st[1], 80);
            if (s > 0)
                p->sconn = (uint32_t)s;
        }
    }
}

static struct pair *pair_new(void)
{
    struct pair *p = calloc(1, sizeof(*p));
    p->rng = 0x1234567;
    for (int k = 0; k < 2; k++) {
        struct mpx_stack_config cfg;
        mpx_stack_config_default(&cfg);
        cfg.rand = prand;
        cfg.rand_ctx = p;
        p->st[k] = mpx_stack_new(&cfg);
        struct mpx_addr a = mpx_addr_v4(0x0a000001u + (uint32_t)k);
        mpx_stack_add_local(p->st[k], &a);
    }
    mpx_stack_listen(p->st[1], 80);
    struct mpx_addr srv = mpx_addr_v4(0x0a000002u);
    long id = mpx_stack_connect(p->st[0], NULL, &srv, 80, p->now);
    p->cconn = id > 0 ? (uint32_t)id : 0;
    settle(p);
    return p;
}

static void pair_free(struct pair *p)
{
    mpx_stack_free(p->st[0]);
    mpx_stack_free(p->st[1]);
    free(p);
}

static long drain(struct pair *p)
{
    long got = 0, r;
    while ((r = mpx_conn_recv(p->st[1], p->sconn, p->buf, sizeof(p->buf), p->now)) > 0)
        got += r;
    return got;
}

/* Nagle by default (Linux): a small write goes at once, a second one waits
 * for the first to be acknowledged; TCP_NODELAY sends both. */
MPX_TEST(mptcp_opts_nagle_and_nodelay)
{
    struct pair *p = pair_new();
    REQUIRE(p->cconn && p->sconn);
    uint8_t small[100] = {1};
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, small, sizeof(small), p->now), 100);
    CHECK_INT(pump(p, 0, false), 1);
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, small, sizeof(small), p->now), 100);
    CHECK_INT(pump(p, 0, false), 0); /* held: 100 bytes unacknowledged */
    CHECK_INT(mpx_conn_set_nodelay(p->st[0], p->cconn, true, p->now), 0);
    CHECK_INT(pump(p, 0, false), 1); /* TCP_NODELAY pushes the tail */
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, small, sizeof(small), p->now), 100);
    CHECK_INT(pump(p, 0, false), 1);
    /* the first segments were not delivered: retransmissions fill in */
    p->now += 2 * MPX_NS_PER_S;
    settle(p);
    CHECK_INT(drain(p), 300);
    CHECK_INT(mpx_conn_set_nodelay(p->st[0], 9999, true, p->now), MPX_ERR_NOENT);
    pair_free(p);
}

/* TCP_CORK holds a partial segment until uncork; a full one goes. */
MPX_TEST(mptcp_opts_cork)
{
    struct pair *p = pair_new();
    REQUIRE(p->cconn && p->sconn);
    uint8_t small[100] = {2};
    CHECK_INT(mpx_conn_set_cork(p->st[0], p->cconn, true, p->now), 0);
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, small, sizeof(small), p->now), 100);
    CHECK_INT(pump(p, 0, false), 0);
    static uint8_t big[3000];
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, big, sizeof(big), p->now), 3000);
    CHECK(pump(p, 0, true) >= 2); /* full segments go, the tail stays */
    settle(p);
    long got = drain(p);
    CHECK(got >= 2000 && got < 3100);
    CHECK_INT(mpx_conn_set_cork(p->st[0], p->cconn, false, p->now), 0);
    settle(p);
    CHECK_INT(got + drain(p), 3100);
    pair_free(p);
}

/* SO_KEEPALIVE and TCP_CONGESTION reach the subflows. */
MPX_TEST(mptcp_opts_keepalive_and_cc)
{
    struct pair *p = pair_new();
    REQUIRE(p->cconn && p->sconn);
    struct mpx_msk *m = mpx_stack_find(p->st[0], p->cconn);
    REQUIRE(m && m->nsf == 1);
    CHECK_INT(mpx_conn_set_keepalive(p->st[0], p->cconn, true, p->now), 0);
    CHECK(m->sf[0]->tcp->cfg.keepalive);
    CHECK_INT(mpx_conn_set_cc(p->st[0], p->cconn, "reno", p->now), 0);
    CHECK(mpx_tcp_cc(m->sf[0]->tcp)->ops == &mpx_cc_reno);
    CHECK_INT(mpx_conn_set_cc(p->st[0], p->cconn, "lia", p->now), 0);
    CHECK(mpx_tcp_cc(m->sf[0]->tcp)->group == &m->ccg);
    CHECK_INT(mpx_conn_set_cc(p->st[0], p->cconn, "nonesuch", p->now), MPX_ERR_NOENT);
    pair_free(p);
}

/* RFC 6191: a SYN on a tuple whose old subflow is in TIME_WAIT, with newer
 * timestamps, takes the tuple over at once (Linux tcp_tw_reuse on the
 * passive side). */
MPX_TEST(mptcp_opts_timewait_reuse)
{
    /* the side that closes last ends its subflow first: TIME_WAIT there */
    for (int server_first = 0; server_first < 2; server_first++) {
        struct pair *p = pair_new();
        REQUIRE(p->cconn && p->sconn);
        uint8_t data[1000] = {3};
        CHECK_INT(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now), 1000);
        settle(p);
        CHECK_INT(drain(p), 1000);
        int first = server_first ? 1 : 0;
        uint32_t ids[2] = {p->cconn, p->sconn};
        CHECK_INT(mpx_conn_close(p->st[first], ids[first], p->now), 0);
        settle(p);
        CHECK_INT(mpx_conn_close(p->st[!first], ids[!first], p->now), 0);
        settle(p);
        int tw = -1;
        uint16_t cport = 0;
        for (int k = 0; k < 2; k++)
            for (struct mpx_msk *m = p->st[k]->msks; m; m = m->next)
                for (uint8_t i = 0; i < m->nsf; i++)
                    if (mpx_tcp_get_state(m->sf[i]->tcp) == MPX_TCP_TIME_WAIT) {
                        tw = k;
                        cport = k ? m->sf[i]->tuple.rport : m->sf[i]->tuple.lport;
                    }
        /* or, the connection freed, as a TIME_WAIT record */
        for (int k = 0; k < 2; k++)
            for (const struct mpx_tw *r = p->st[k]->tw_oldest; r; r = r->newer) {
                tw = k;
                cport = k ? r->tuple.rport : r->tuple.lport;
            }
        REQUIRE(tw >= 0);
        /* the client uses the same port again while the old subflow waits */
        p->st[0]->next_port = cport;
        p->now += 2 * MPX_NS_PER_S;
        struct mpx_addr srv = mpx_addr_v4(0x0a000002u);
        long id = mpx_stack_connect(p->st[0], NULL, &srv, 80, p->now);
        REQUIRE(id > 0);
        p->cconn = (uint32_t)id;
        p->sconn = 0;
        settle(p);
        CHECK(p->sconn != 0);
        struct mpx_conn_info ci;
        REQUIRE(mpx_conn_get_info(p->st[0], p->cconn, &ci) == 0);
        CHECK(ci.established && ci.mptcp);
        printf("  TIME_WAIT on the %s: reused %llu / %llu\n", tw ? "server" : "client",
               (unsigned long long)p->st[0]->mib_tw_reused,
               (unsigned long long)p->st[1]->mib_tw_reused);
        CHECK_EQ(p->st[tw]->mib_tw_reused, 1);
        CHECK_EQ(p->st[!tw]->mib_tw_reused, 0);
        pair_free(p);
    }
}
