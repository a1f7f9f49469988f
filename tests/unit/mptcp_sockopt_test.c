/*
 * mptcp_sockopt_test.c - the socket options the shim forwards to the stack
 * beyond nodelay/cork/keepalive/cc (mptcp_opts_test.c): keepalive timers,
 * TCP_USER_TIMEOUT, SO_LINGER {1, 0}, IP_TOS / IP_TTL, and the read-back
 * (mpx_conn_get_opts). Two stacks back to back, packets delivered at once
 * unless a test holds the client's output back.
 */
#include <stdlib.h>

#include "err.h"
#include "mptcp_b2b.h"
#include "mptcp_int.h"
#include "mpx_test.h"

struct sopair {
    struct mpx_stack *st[2];
    uint64_t rng, now;
    uint32_t cconn, sconn;
    struct mpx_ip_hdr last_ip; /* of the client's last data segment */
    bool closed_ev[2];
    int closed_err[2];
    uint8_t pkt[70000], buf[4096];
};

static uint64_t sorand(void *ctx)
{
    struct sopair *p = ctx;
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return p->rng;
}

/* Every packet host |k| has ready (returned as a count), delivered if
 * |fwd|; the IP header of the last data segment is kept. */
static int sopump(struct sopair *p, int k, bool fwd)
{
    int all = 0;
    for (;;) {
        int n = mpx_stack_output(p->st[k], p->pkt, sizeof(p->pkt), p->now);
        if (n <= 0)
            break;
        struct mpx_pkt d;
        all++;
        if (mpx_pkt_decode(p->pkt, (size_t)n, false, &d) == 0 && d.payload_len && k == 0)
            p->last_ip = d.ip;
        if (fwd)
            mpx_stack_input(p->st[!k], p->pkt, (size_t)n, p->now);
    }
    return all;
}

static void soevents(struct sopair *p)
{
    struct mpx_stack_event ev;
    for (int k = 0; k < 2; k++)
        while (mpx_stack_poll_event(p->st[k], &ev) == 1)
            if (ev.type == MPX_SEV_CONN_CLOSED) {
                p->closed_ev[k] = true;
                p->closed_err[k] = ev.error;
            }
}

/* |ms| steps of 1 ms; the client's packets reach the server if |fwd|. */
static int sorun(struct sopair *p, int ms, bool fwd)
{
    int sent = 0;
    for (int i = 0; i < ms; i++) {
        p->now += MPX_NS_PER_MS;
        mpx_stack_on_timer(p->st[0], p->now);
        mpx_stack_on_timer(p->st[1], p->now);
        sent += sopump(p, 0, fwd);
        sopump(p, 1, true);
        if (!p->sconn) {
            long s = mpx_stack_accept(p->st[1], 80);
            if (s > 0)
                p->sconn = (uint32_t)s;
        }
        soevents(p);
    }
    return sent;
}

static struct sopair *sopair_new(void)
{
    struct sopair *p = calloc(1, sizeof(*p));
    p->rng = 0x5eed;
    for (int k = 0; k < 2; k++) {
        struct mpx_stack_config cfg;
        mpx_stack_config_default(&cfg);
        cfg.rand = sorand;
        cfg.rand_ctx = p;
        p->st[k] = mpx_stack_new(&cfg);
        struct mpx_addr a = mpx_addr_v4(0x0a000001u + (uint32_t)k);
        mpx_stack_add_local(p->st[k], &a);
    }
    mpx_stack_listen(p->st[1], 80);
    struct mpx_addr srv = mpx_addr_v4(0x0a000002u);
    long id = mpx_stack_connect(p->st[0], NULL, &srv, 80, p->now);
    p->cconn = id > 0 ? (uint32_t)id : 0;
    sorun(p, 50, true);
    return p;
}

static void sopair_free(struct sopair *p)
{
    mpx_stack_free(p->st[0]);
    mpx_stack_free(p->st[1]);
    free(p);
}

/* Defaults are the template's (Linux: 7200 s / 75 s / 9, TOS 0, TTL 64,
 * cubic); what the setters change reads back; unknown ids and bad values
 * are refused. */
MPX_TEST(mptcp_sockopt_get_opts_defaults_and_changes)
{
    struct sopair *p = sopair_new();
    REQUIRE(p->cconn && p->sconn);
    struct mpx_conn_opts o;
    REQUIRE(mpx_conn_get_opts(p->st[0], p->cconn, &o) == 0);
    CHECK(!o.nodelay && !o.cork && !o.keepalive && !o.linger_abort);
    CHECK_EQ(o.keep_idle, 7200 * MPX_NS_PER_S);
    CHECK_EQ(o.keep_intvl, 75 * MPX_NS_PER_S);
    CHECK_INT(o.keep_cnt, 9);
    CHECK_INT(o.tos, 0);
    CHECK_INT(o.ttl, 64);
    CHECK_EQ(o.user_timeout, 0);
    CHECK(o.cc && !strcmp(o.cc, "cubic"));

    CHECK_INT(mpx_conn_set_cc(p->st[0], p->cconn, "reno", p->now), 0);
    CHECK_INT(mpx_conn_set_nodelay(p->st[0], p->cconn, true, p->now), 0);
    CHECK_INT(mpx_conn_set_linger_abort(p->st[0], p->cconn, true), 0);
    CHECK_INT(mpx_conn_set_user_timeout(p->st[0], p->cconn, 3 * MPX_NS_PER_S, p->now), 0);
    REQUIRE(mpx_conn_get_opts(p->st[0], p->cconn, &o) == 0);
    CHECK(o.nodelay && o.linger_abort);
    CHECK(!strcmp(o.cc, "reno"));
    CHECK_EQ(o.user_timeout, 3 * MPX_NS_PER_S);

    CHECK_INT(mpx_conn_set_ip(p->st[0], p->cconn, -1, 0), MPX_ERR_INVAL);
    CHECK_INT(mpx_conn_set_ip(p->st[0], p->cconn, 256, -1), MPX_ERR_INVAL);
    CHECK_INT(mpx_conn_set_ip(p->st[0], p->cconn, -1, 256), MPX_ERR_INVAL);
    CHECK_INT(mpx_conn_get_opts(p->st[0], 9999, &o), MPX_ERR_NOENT);
    CHECK_INT(mpx_conn_set_keepalive_timers(p->st[0], 9999, 1, 1, 1, p->now), MPX_ERR_NOENT);
    CHECK_INT(mpx_conn_set_user_timeout(p->st[0], 9999, 1, p->now), MPX_ERR_NOENT);
    CHECK_INT(mpx_conn_set_linger_abort(p->st[0], 9999, true), MPX_ERR_NOENT);
    CHECK_INT(mpx_conn_set_ip(p->st[0], 9999, 1, 1), MPX_ERR_NOENT);
    sopair_free(p);
}

/* IP_TOS and IP_TTL show in the IP header of the next data segment; -1
 * leaves the other one alone. */
MPX_TEST(mptcp_sockopt_ip_tos_ttl_on_the_wire)
{
    struct sopair *p = sopair_new();
    REQUIRE(p->cconn && p->sconn);
    uint8_t data[200] = {7};
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now), 200);
    sorun(p, 5, true);
    CHECK_INT(p->last_ip.tos, 0);
    CHECK_INT(p->last_ip.ttl, 64);
    CHECK_INT(mpx_conn_set_ip(p->st[0], p->cconn, 0x28, 7), 0);
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now), 200);
    sorun(p, 5, true);
    CHECK_INT(p->last_ip.tos, 0x28);
    CHECK_INT(p->last_ip.ttl, 7);
    CHECK_INT(mpx_conn_set_ip(p->st[0], p->cconn, -1, 33), 0);
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now), 200);
    sorun(p, 5, true);
    CHECK_INT(p->last_ip.tos, 0x28);
    CHECK_INT(p->last_ip.ttl, 33);
    sopair_free(p);
}

/* TCP_KEEPIDLE/INTVL/CNT reach the live subflow and re-arm its timer: an
 * idle connection sends its first probe after the new idle time (1 s
 * instead of 2 hours), and with the peer silent gives up after CNT probes. */
MPX_TEST(mptcp_sockopt_keepalive_timers)
{
    struct sopair *p = sopair_new();
    REQUIRE(p->cconn && p->sconn);
    struct mpx_msk *m = mpx_stack_find(p->st[0], p->cconn);
    REQUIRE(m && m->nsf == 1);
    CHECK_INT(mpx_conn_set_keepalive(p->st[0], p->cconn, true, p->now), 0);
    CHECK_INT(mpx_conn_set_keepalive_timers(p->st[0], p->cconn, MPX_NS_PER_S, 200 * MPX_NS_PER_MS,
                                            2, p->now),
              0);
    CHECK_EQ(m->sf[0]->tcp->cfg.keep_idle, MPX_NS_PER_S);
    CHECK_EQ(m->sf[0]->tcp->cfg.keep_intvl, 200 * MPX_NS_PER_MS);
    CHECK_INT(m->sf[0]->tcp->cfg.keep_cnt, 2);
    CHECK_INT(sorun(p, 900, true), 0); /* quiet before the idle time */
    CHECK(sorun(p, 200, true) >= 1);   /* the first probe, answered */
    CHECK(!p->closed_ev[0]);
    /* 0 leaves a value unchanged */
    CHECK_INT(mpx_conn_set_keepalive_timers(p->st[0], p->cconn, 0, 0, 3, p->now), 0);
    CHECK_EQ(m->sf[0]->tcp->cfg.keep_idle, MPX_NS_PER_S);
    CHECK_INT(m->sf[0]->tcp->cfg.keep_cnt, 3);
    /* the peer goes silent: idle + 3 probes 200 ms apart, then failure */
    sorun(p, 2500, false);
    CHECK(p->closed_ev[0]);
    sopair_free(p);
}

/* TCP_USER_TIMEOUT: data that stays unacknowledged longer fails the
 * connection with ETIMEDOUT at that time, far before the retransmission
 * limits would; progress restarts the clock. */
MPX_TEST(mptcp_sockopt_user_timeout)
{
    struct sopair *p = sopair_new();
    REQUIRE(p->cconn && p->sconn);
    CHECK_INT(mpx_conn_set_user_timeout(p->st[0], p->cconn, 800 * MPX_NS_PER_MS, p->now), 0);
    uint8_t data[1000] = {9};
    /* acknowledged data for longer than the timeout: no failure */
    for (int i = 0; i < 5; i++) {
        CHECK_INT(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now), 1000);
        sorun(p, 300, true);
        while (mpx_conn_recv(p->st[1], p->sconn, p->buf, sizeof(p->buf), p->now) > 0)
            ;
    }
    CHECK(!p->closed_ev[0]);
    /* now the path eats the client's packets */
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now), 1000);
    sorun(p, 700, false);
    CHECK(!p->closed_ev[0]);
    sorun(p, 200, false);
    CHECK(p->closed_ev[0]);
    CHECK_INT(p->closed_err[0], MPX_ERR_TIMEDOUT);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(p->st[0], p->cconn, &ci) == 0);
    CHECK(ci.closed);
    CHECK_INT(ci.error, MPX_ERR_TIMEDOUT);
    CHECK_INT(mpx_conn_recv(p->st[0], p->cconn, p->buf, sizeof(p->buf), p->now), MPX_ERR_TIMEDOUT);
    sopair_free(p);
}

/* Without the option the same outage does not end the connection. */
MPX_TEST(mptcp_sockopt_user_timeout_off)
{
    struct sopair *p = sopair_new();
    REQUIRE(p->cconn && p->sconn);
    uint8_t data[1000] = {9};
    CHECK_INT(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now), 1000);
    sorun(p, 1500, false);
    CHECK(!p->closed_ev[0]);
    sopair_free(p);
}

/* SO_LINGER {1, 0}: close() resets at once (MP_FASTCLOSE), the peer sees
 * the connection closed with an error; a normal close lets it finish. */
MPX_TEST(mptcp_sockopt_linger_abort)
{
    for (int linger = 0; linger < 2; linger++) {
        struct sopair *p = sopair_new();
        REQUIRE(p->cconn && p->sconn);
        if (linger)
            CHECK_INT(mpx_conn_set_linger_abort(p->st[0], p->cconn, true), 0);
        uint64_t fc = p->st[0]->mib.MPFastcloseTx;
        CHECK_INT(mpx_conn_close(p->st[0], p->cconn, p->now), 0);
        sorun(p, 20, true);
        CHECK_EQ(p->st[0]->mib.MPFastcloseTx - fc, (uint64_t)linger);
        if (linger) {
            CHECK(p->closed_ev[1]);
            CHECK(p->closed_err[1] != 0);
        } else {
            CHECK(!p->closed_ev[1]); /* DATA_FIN only: the server may still send */
        }
        sopair_free(p);
    }
}

/* Options set on the connection are the template of its later subflows
 * (Linux sync_socket_options on a new subflow): a join made after them
 * carries the keepalive timers, TOS and TTL. */
MPX_TEST(mptcp_sockopt_new_subflow_inherits)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 81, NULL, NULL);
    long c = mpx_stack_connect(b->st[0], &b->addr[0][0], &b->addr[1][0], 80, b->now);
    REQUIRE(c > 0);
    b2b_run(b, 20 * MPX_NS_PER_MS);
    REQUIRE(mpx_stack_accept(b->st[1], 80) > 0);
    CHECK_INT(mpx_conn_set_keepalive(b->st[0], (uint32_t)c, true, b->now), 0);
    CHECK_INT(mpx_conn_set_keepalive_timers(b->st[0], (uint32_t)c, 11 * MPX_NS_PER_S,
                                            3 * MPX_NS_PER_S, 5, b->now),
              0);
    CHECK_INT(mpx_conn_set_ip(b->st[0], (uint32_t)c, 0x48, 17), 0);
    CHECK_INT(mpx_conn_add_subflow(b->st[0], (uint32_t)c, &b->addr[0][1], &b->addr[1][1], 80, false,
                                   b->now),
              0);
    b2b_run(b, b->now + 50 * MPX_NS_PER_MS);
    struct mpx_msk *m = mpx_stack_find(b->st[0], (uint32_t)c);
    REQUIRE(m && m->nsf == 2);
    for (int i = 0; i < 2; i++) {
        const struct mpx_tcp_config *t = &m->sf[i]->tcp->cfg;
        CHECK(t->keepalive);
        CHECK_EQ(t->keep_idle, 11 * MPX_NS_PER_S);
        CHECK_EQ(t->keep_intvl, 3 * MPX_NS_PER_S);
        CHECK_INT(t->keep_cnt, 5);
        CHECK_INT(t->tos, 0x48);
        CHECK_INT(t->ttl, 17);
    }
    CHECK(m->sf[1]->join);
    b2b_free(b);
    free(b);
}
