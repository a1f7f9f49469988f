/*
 * mptcp_scale_test.c - the per-step cost of the stack must not grow with
 * the number of connections in TIME_WAIT (issue 7: one thread opening and
 * closing connections through the engine). Work is counted, not timed:
 * the per-step walks (output, next deadline, timers, gc) go over the
 * active connections (mptcp_active.c), a subset of the live list, so the
 * live list's length bounds the work; the TIME_WAIT records sit in a hash
 * and a FIFO (mptcp_timewait.c) that no step walks, idle connections in
 * a deadline heap.
 */
#include <stdlib.h>

#include "mptcp_b2b.h"
#include "mptcp_int.h"
#include "mpx_test.h"

#define SCALE_CONNS 50000u

static void scale_cfg(int k, struct mpx_stack_config *cfg, void *arg)
{
    (void)k;
    (void)arg;
    cfg->tcp.timewait = 60 * MPX_NS_PER_S; /* the real 2 MSL */
    cfg->sndbuf = cfg->rcvbuf = 16384;
}

/* Entries a per-step walk visits: connections and their subflows. */
static uint32_t walk_len(const struct mpx_stack *st)
{
    uint32_t n = 0;
    for (const struct mpx_msk *m = st->msks; m; m = m->next)
        n += 1u + m->nsf;
    return n;
}

static void walk_sample(const struct b2b *b, uint32_t *max)
{
    uint32_t w = walk_len(b->st[0]) + walk_len(b->st[1]);
    if (max && w > *max)
        *max = w;
}

static uint32_t longest_tw_chain(const struct mpx_stack *st)
{
    uint32_t best = 0;
    for (uint32_t i = 0; i < st->tw_cap; i++) {
        uint32_t n = 0;
        for (const struct mpx_tw *tw = st->tw_hash[i]; tw; tw = tw->hnext)
            n++;
        if (n > best)
            best = n;
    }
    return best;
}

/* One connection opened, used for nothing, closed by the client first
 * (the client keeps the TIME_WAIT), in about 1 ms of virtual time. */
static bool one_conn(struct b2b *b, uint32_t *walk_max)
{
    struct mpx_addr srv = b->addr[1][0];
    long c = mpx_stack_connect(b->st[0], NULL, &srv, 80, b->now);
    if (c <= 0)
        return false;
    b2b_run(b, b->now + 300 * 1000);
    long s = mpx_stack_accept(b->st[1], 80);
    if (s <= 0)
        return false;
    walk_sample(b, walk_max);
    mpx_conn_close(b->st[0], (uint32_t)c, b->now);
    b2b_run(b, b->now + 300 * 1000);
    walk_sample(b, walk_max);
    mpx_conn_close(b->st[1], (uint32_t)s, b->now);
    b2b_run(b, b->now + 400 * 1000);
    walk_sample(b, walk_max);
    return true;
}

MPX_TEST(mptcp_scale_timewait_walks_flat)
{
    struct b2b *b = malloc(sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 7, scale_cfg, NULL);
    uint32_t early_max = 0, late_max = 0, ok = 0;
    for (uint32_t i = 0; i < SCALE_CONNS; i++) {
        if (!one_conn(b, i < 1000 ? &early_max : i >= SCALE_CONNS / 2 ? &late_max : NULL))
            break;
        ok++;
    }
    const struct mpx_stack *cl = b->st[0];
    printf("  %u connections, %.1f s virtual: walk max %u early / %u late, %u TIME_WAIT "
           "records (hash %u, longest chain %u), %u subflows hashed, %llu tuples reused\n",
           ok, (double)b->now / 1e9, early_max, late_max, cl->tw_n, cl->tw_cap,
           longest_tw_chain(cl), cl->hash_n, (unsigned long long)cl->mib_tw_reused);
    CHECK_EQ(ok, SCALE_CONNS);
    /* the client holds tens of thousands of TIME_WAITs (ports wrap after
     * 25535 connections: tuples in TIME_WAIT are taken over) ... */
    CHECK(cl->tw_n > 20000);
    CHECK(cl->mib_tw_reused > 0);
    /* ... and the walks stay as short as with the first connections */
    CHECK(early_max >= 4); /* the sample sees the live connections */
    CHECK(late_max <= early_max);
    CHECK(late_max <= 16);
    CHECK(cl->tw_n <= cl->tw_cap && longest_tw_chain(cl) <= 16);
    CHECK(b->st[1]->tw_n == 0 && b->st[1]->msks == NULL);
    /* the records expire in order, all of them 60 s after the last */
    b2b_run(b, b->now + 61 * MPX_NS_PER_S);
    CHECK_EQ(cl->tw_n, 0);
    CHECK(cl->tw_oldest == NULL && cl->tw_newest == NULL);
    CHECK_EQ(mpx_stack_next_deadline(cl), UINT64_MAX);
    b2b_free(b);
    free(b);
}

/* The last packet with a FIN the server sent. */
struct fin_catch {
    uint8_t pkt[2048];
    size_t len;
};

static size_t catch_fin(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct fin_catch *fc = b->arg;
    struct mpx_pkt p;
    if (from == 1 && len <= sizeof(fc->pkt) && mpx_pkt_decode(pkt, len, true, &p) == 0 &&
        (p.tcp.flags & MPX_TH_FIN)) {
        memcpy(fc->pkt, pkt, len);
        fc->len = len;
    }
    return len;
}

/* A connection closed by the client first: the client's msk is freed and
 * a TIME_WAIT record is left. Returns the client's connection id. */
static uint32_t closed_pair(struct b2b *b, struct fin_catch *fc)
{
    b2b_init(b, 11, scale_cfg, fc);
    b->mangle = catch_fin;
    if (!one_conn(b, NULL))
        return 0;
    return b->st[0]->next_id;
}

static int out_one(struct b2b *b, struct mpx_pkt *p)
{
    int n = mpx_stack_output(b->st[0], b->pkt, sizeof(b->pkt), b->now);
    if (n > 0 && mpx_pkt_decode(b->pkt, (size_t)n, true, p) < 0)
        return -1;
    return n;
}

MPX_TEST(mptcp_scale_timewait_record_reacks_fin)
{
    struct b2b *b = malloc(sizeof(*b));
    struct fin_catch *fc = calloc(1, sizeof(*fc));
    REQUIRE(b && fc);
    uint32_t id = closed_pair(b, fc);
    REQUIRE(id != 0 && fc->len > 0);
    struct mpx_stack *cl = b->st[0];
    CHECK(mpx_stack_find(cl, id) == NULL); /* the connection is freed */
    REQUIRE(cl->tw_n == 1);
    uint64_t exp0 = mpx_tw_deadline(cl);
    CHECK_EQ(exp0 > b->now, true);
    struct mpx_pkt fin;
    REQUIRE(mpx_pkt_decode(fc->pkt, fc->len, true, &fin) == 0);
    /* 10 s later the FIN comes again (our ACK was lost) */
    b->now += 10 * MPX_NS_PER_S;
    CHECK_INT(mpx_stack_input(cl, fc->pkt, fc->len, b->now), 0);
    struct mpx_pkt ack;
    REQUIRE(out_one(b, &ack) > 0);
    CHECK_INT(ack.tcp.flags, MPX_TH_ACK);
    CHECK_EQ(ack.tcp.ack, fin.tcp.seq + (uint32_t)fin.payload_len + 1);
    CHECK_EQ(ack.tcp.seq, fin.tcp.ack);
    CHECK_INT(ack.tcp.sport, fin.tcp.dport);
    CHECK_INT(ack.tcp.dport, fin.tcp.sport);
    CHECK(ack.tcp.opts.n_mptcp == 0);
    if (fin.tcp.opts.present & MPX_TCPO_TS) {
        CHECK(ack.tcp.opts.present & MPX_TCPO_TS);
        CHECK_EQ(ack.tcp.opts.ts_ecr, fin.tcp.opts.ts_val);
    }
    CHECK_INT(out_one(b, &ack), 0); /* one ACK, nothing else */
    /* the 2 MSL wait starts again */
    CHECK_EQ(mpx_tw_deadline(cl), b->now + 60 * MPX_NS_PER_S);
    /* a bare ACK at rcv_nxt draws nothing; a RST there ends the wait */
    struct mpx_pkt seg = fin;
    seg.tcp.flags = MPX_TH_ACK;
    seg.tcp.seq = ack.tcp.ack;
    seg.payload_len = 0;
    uint8_t raw[256];
    int n = mpx_pkt_encode(raw, sizeof(raw), &seg.ip, &seg.tcp, NULL, 0, NULL);
    REQUIRE(n > 0);
    mpx_stack_input(cl, raw, (size_t)n, b->now);
    CHECK_INT(out_one(b, &ack), 0);
    CHECK_INT(cl->tw_n, 1);
    seg.tcp.flags = MPX_TH_RST;
    seg.tcp.opts.n_mptcp = 0;
    n = mpx_pkt_encode(raw, sizeof(raw), &seg.ip, &seg.tcp, NULL, 0, NULL);
    REQUIRE(n > 0);
    mpx_stack_input(cl, raw, (size_t)n, b->now);
    CHECK_INT(out_one(b, &ack), 0);
    CHECK_INT(cl->tw_n, 0);
    CHECK_EQ(mpx_stack_next_deadline(cl), UINT64_MAX);
    b2b_free(b);
    free(b);
    free(fc);
}

/* An old SYN (timestamp not newer) does not take the tuple over: it gets
 * the TIME_WAIT ACK and the record stays (RFC 6191 section 2). */
MPX_TEST(mptcp_scale_timewait_record_old_syn_acked)
{
    struct b2b *b = malloc(sizeof(*b));
    struct fin_catch *fc = calloc(1, sizeof(*fc));
    REQUIRE(b && fc);
    REQUIRE(closed_pair(b, fc) != 0 && fc->len > 0);
    struct mpx_stack *cl = b->st[0];
    REQUIRE(cl->tw_n == 1);
    struct mpx_pkt syn;
    REQUIRE(mpx_pkt_decode(fc->pkt, fc->len, true, &syn) == 0);
    syn.tcp.flags = MPX_TH_SYN;
    syn.tcp.ack = 0;
    syn.tcp.opts.n_mptcp = 0;
    syn.tcp.seq -= 1000; /* below rcv_nxt, and the same old timestamp */
    uint8_t raw[256];
    int n = mpx_pkt_encode(raw, sizeof(raw), &syn.ip, &syn.tcp, NULL, 0, NULL);
    REQUIRE(n > 0);
    mpx_stack_input(cl, raw, (size_t)n, b->now);
    struct mpx_pkt out;
    REQUIRE(out_one(b, &out) > 0);
    CHECK_INT(out.tcp.flags, MPX_TH_ACK);
    CHECK_INT(cl->tw_n, 1);
    CHECK_EQ(cl->mib_tw_reused, 0);
    b2b_free(b);
    free(b);
    free(fc);
}

#define IDLE_CONNS 2000u

struct drop_first {
    int dropped;
};

/* Drops the first client segment that carries data. */
static size_t drop_first_data(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct drop_first *df = b->arg;
    struct mpx_pkt p;
    if (df && !df->dropped && from == 0 && mpx_pkt_decode(pkt, len, true, &p) == 0 &&
        p.payload_len) {
        df->dropped = 1;
        return 0;
    }
    return len;
}

/* Idle established connections are parked: no step visits them, yet an
 * application call and a timer (the RTO of a lost segment) still reach
 * one of them. */
MPX_TEST(mptcp_scale_idle_parked)
{
    struct b2b *b = malloc(sizeof(*b));
    uint32_t *cid = calloc(IDLE_CONNS, sizeof(*cid)), *sid = calloc(IDLE_CONNS, sizeof(*sid));
    struct drop_first df = {0};
    REQUIRE(b && cid && sid);
    b2b_init(b, 5, scale_cfg, &df);
    struct mpx_addr srv = b->addr[1][0];
    uint32_t n = 0;
    for (; n < IDLE_CONNS; n++) {
        long c = mpx_stack_connect(b->st[0], NULL, &srv, 80, b->now);
        b2b_run(b, b->now + 100 * 1000);
        long s = mpx_stack_accept(b->st[1], 80);
        if (c <= 0 || s <= 0)
            break;
        cid[n] = (uint32_t)c;
        sid[n] = (uint32_t)s;
    }
    CHECK_EQ(n, IDLE_CONNS);
    CHECK(b->st[1]->accq_head == NULL); /* the accept queue holds the backlog only */
    b2b_run(b, b->now + MPX_NS_PER_S);  /* delayed ACKs, MP_CAPABLE echo */
    printf("  %u idle connections: active %u / %u, parked with a deadline %u / %u\n", n,
           mpx_act_count(b->st[0]), mpx_act_count(b->st[1]), b->st[0]->heap_n, b->st[1]->heap_n);
    CHECK_INT(mpx_act_count(b->st[0]), 0);
    CHECK_INT(mpx_act_count(b->st[1]), 0);
    /* an application call wakes one connection, and only that one */
    uint8_t data[100] = {9}, got[200];
    uint32_t k = IDLE_CONNS / 2;
    b->mangle = drop_first_data;
    CHECK_INT(mpx_conn_send(b->st[0], cid[k], data, sizeof(data), b->now), 100);
    CHECK_INT(mpx_act_count(b->st[0]), 1);
    b2b_run(b, b->now); /* the segment is lost */
    CHECK_INT(df.dropped, 1);
    CHECK(mpx_conn_recv(b->st[1], sid[k], got, sizeof(got), b->now) <= 0);
    /* parked again, with its retransmission timer in the heap */
    CHECK_INT(mpx_act_count(b->st[0]), 0);
    CHECK(b->st[0]->heap_n >= 1);
    b2b_run(b, b->now + 3 * MPX_NS_PER_S);
    CHECK_INT(mpx_conn_recv(b->st[1], sid[k], got, sizeof(got), b->now), 100);
    CHECK_INT(got[0], 9);
    CHECK_INT(mpx_act_count(b->st[0]), 0);
    CHECK_INT(mpx_act_count(b->st[1]), 1); /* the recv call woke it */
    b2b_free(b);
    free(b);
    free(cid);
    free(sid);
}
