/*
 * mptcp_dataplane_test.c - connection-level details of the data plane:
 * the TCP_CORK timeout, and the initial subflow re-created by the path
 * manager when its path comes back.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mptcp_b2b.h"
#include "mptcp_sim.h"
#include "mpx_test.h"

#define MBIT 1000000ull

static long recv_all(struct b2b *b, uint32_t conn)
{
    static uint8_t buf[65536];
    long got = 0, r;
    while ((r = mpx_conn_recv(b->st[1], conn, buf, sizeof(buf), b->now)) > 0)
        got += r;
    return got;
}

/* TCP_CORK holds a partial segment at most 200 ms (Linux tcp(7)): the
 * full segments of a write go at once, the tail after the cork timeout
 * although the cork is still on; a later tail waits its own 200 ms. */
MPX_TEST(mptcp_dataplane_cork_timeout)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 70, NULL, NULL);
    long c = mpx_stack_connect(b->st[0], &b->addr[0][0], &b->addr[1][0], 80, b->now);
    REQUIRE(c > 0);
    b2b_run(b, 20 * MPX_NS_PER_MS);
    long s = mpx_stack_accept(b->st[1], 80);
    REQUIRE(s > 0);
    CHECK_INT(mpx_conn_set_cork(b->st[0], (uint32_t)c, true, b->now), 0);
    static uint8_t data[5000];
    uint64_t t0 = b->now;
    CHECK_INT(mpx_conn_send(b->st[0], (uint32_t)c, data, sizeof(data), b->now), 5000);
    b2b_run(b, t0 + 150 * MPX_NS_PER_MS);
    long got = recv_all(b, (uint32_t)s);
    CHECK(got >= 2000 && got < 5000); /* full segments only */
    b2b_run(b, t0 + 199 * MPX_NS_PER_MS);
    CHECK_INT(recv_all(b, (uint32_t)s), 0);
    b2b_run(b, t0 + 210 * MPX_NS_PER_MS);
    got += recv_all(b, (uint32_t)s);
    CHECK_INT(got, 5000); /* the tail went at 200 ms, still corked */
    /* a new small write waits again */
    uint64_t t1 = b->now;
    CHECK_INT(mpx_conn_send(b->st[0], (uint32_t)c, data, 100, b->now), 100);
    b2b_run(b, t1 + 100 * MPX_NS_PER_MS);
    CHECK_INT(recv_all(b, (uint32_t)s), 0);
    b2b_run(b, t1 + 220 * MPX_NS_PER_MS);
    CHECK_INT(recv_all(b, (uint32_t)s), 100);
    /* nothing left to time: no deadline spins at the current time */
    CHECK(mpx_stack_next_deadline(b->st[0]) > b->now);
    b2b_free(b);
    free(b);
}

/* The initial subflow's path goes down (link-down event: the subflow is
 * reset at once, its data moves to the join) and comes back: the path
 * manager opens a new subflow (MP_JOIN) on it, like for any other path,
 * and that path carries data again. */
static void path0_ev(void *arg, struct mpx_sim *sim, uint64_t now, bool up)
{
    struct msim *h = arg;
    (void)sim;
    struct mpx_addr a = mpx_addr_v4(0x0a000001u); /* the client on path 0 */
    mpx_stack_path_event(msim_stack(h, 0), &a, up, now);
}

static void path0_down(void *arg, struct mpx_sim *sim, uint64_t now)
{
    path0_ev(arg, sim, now, false);
}

static void path0_up(void *arg, struct mpx_sim *sim, uint64_t now)
{
    path0_ev(arg, sim, now, true);
}

static void comeback0_hook(struct msim *h, void *arg)
{
    (void)arg;
    mpx_sim_at(msim_sim(h), 1 * MPX_NS_PER_S, path0_down, h);
    mpx_sim_at(msim_sim(h), 2 * MPX_NS_PER_S, path0_up, h);
}

MPX_TEST(mptcp_dataplane_initial_subflow_comeback)
{
    struct msim_params p = {.seed = 71, .bytes = 20000000, .n_paths = 2, .join_paths = true};
    for (int i = 0; i < 2; i++) {
        p.path[i].rate_bps = 50 * MBIT;
        p.path[i].delay_ns = 5 * MPX_NS_PER_MS;
    }
    p.path[0].down_at = 1 * MPX_NS_PER_S;
    p.path[0].up_at = 2 * MPX_NS_PER_S;
    p.probe_ns = 2 * MPX_NS_PER_S;
    p.gap_from_ns = 900 * MPX_NS_PER_MS;
    p.setup_hook = comeback0_hook;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    printf("  path 0 (initial subflow) down 1 s, then up: stall %llu ms, joins %llu, path 0 "
           "%.1f MB after comeback\n",
           (unsigned long long)(r.max_gap_ns / MPX_NS_PER_MS),
           (unsigned long long)r.smib.MPJoinAckRx,
           (double)(r.path_bytes[0] - r.path_bytes_probe[0]) / 1e6);
    CHECK_EQ(r.smib.MPJoinAckRx, 2); /* path 1, then path 0 again */
    CHECK(r.path_bytes[0] > r.path_bytes_probe[0] + 2000000);
    CHECK(r.max_gap_ns <= 200 * MPX_NS_PER_MS);
}

/* RFC 7323 section 5.4: TSvals never go back, also when the owner hands
 * in an older |now| than before (two clock reads racing in a daemon):
 * the peer's PAWS test would drop such segments (TcpExtPAWSEstab). */
struct tsrec {
    uint32_t last;
    bool have, went_back;
    int n;
};

static size_t ts_watch(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct tsrec *t = b->arg;
    struct mpx_pkt p;
    if (from != 0 || mpx_pkt_decode(pkt, len, false, &p) < 0 || !(p.tcp.opts.present & MPX_TCPO_TS))
        return len;
    if (t->have && (int32_t)(p.tcp.opts.ts_val - t->last) < 0)
        t->went_back = true;
    t->last = p.tcp.opts.ts_val;
    t->have = true;
    t->n++;
    return len;
}

MPX_TEST(mptcp_dataplane_tsval_monotonic)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    struct tsrec t = {0};
    b2b_init(b, 72, NULL, &t);
    b->mangle = ts_watch;
    b->now = 1 * MPX_NS_PER_S;
    long c = mpx_stack_connect(b->st[0], &b->addr[0][0], &b->addr[1][0], 80, b->now);
    REQUIRE(c > 0);
    b2b_run(b, b->now + 20 * MPX_NS_PER_MS);
    static uint8_t data[3000];
    CHECK_INT(mpx_conn_send(b->st[0], (uint32_t)c, data, sizeof(data), b->now), 3000);
    b2b_run(b, b->now);
    int before = t.n;
    b->now -= 5 * MPX_NS_PER_MS; /* the owner's clock read went back */
    CHECK_INT(mpx_conn_send(b->st[0], (uint32_t)c, data, sizeof(data), b->now), 3000);
    b2b_run(b, b->now);
    CHECK(t.n > before);
    CHECK(!t.went_back);
    b2b_free(b);
    free(b);
}
