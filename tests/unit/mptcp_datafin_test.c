/*
 * mptcp_datafin_test.c - our DATA_FIN reaches the peer's connection level
 * (RFC 8684 section 3.3.3: it takes one DSN and is DATA_ACKed):
 * - every byte DATA_ACKed but not the DATA_FIN for an RTO: it goes again
 *   as a DATA_FIN-only mapping on a pure ACK (Linux __mptcp_retrans), and
 *   a receiver answers a DATA_FIN it has already taken with an ACK;
 * - a reinjected tail carries the DATA_FIN too: Linux 6.18 never acts on
 *   a DATA_FIN it sees only on a copy whose bytes it already has (the
 *   kernel application of tests/test_interop.py waited for EOF forever);
 * - an orphan whose peer never takes the DATA_FIN is reset after the
 *   close timeout (MPXCloseTimeout, MP_FASTCLOSE), like Linux
 *   mptcp_close_tout_expired.
 * Two stacks back to back (mptcp_b2b.h); the hook rewrites the server's
 * DATA_ACK of the DATA_FIN to "all data, no DATA_FIN" (what Linux answers
 * when it ignores the DATA_FIN) and can lose the client's data on path 0.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mptcp_b2b.h"
#include "mpx_test.h"

#define DF_PORT 80

struct df {
    struct b2b b;
    long cid, sid;
    uint64_t fin_dsn; /* the client's DATA_FIN (its write_seq), 0 before */
    int hold;         /* DATA_ACKs of it still to rewrite (-1: all) */
    int held;
    int pure_fin;            /* client pure ACKs with a DATA_FIN-only mapping */
    int fin_maps[B2B_NPATH]; /* client data mappings with the DATA_FIN, per path */
    int early_fin;           /* client subflow FINs before the server closed */
    bool srv_closed;
    bool lose_path0_data;
    int closed_err[2]; /* CONN_CLOSED error per side, 1 = not closed */
    uint8_t buf[70000];
};

static int df_path(const struct b2b *b, const struct mpx_addr *src)
{
    for (int i = 0; i < B2B_NPATH; i++)
        if (mpx_addr_eq(&b->addr[0][i], src))
            return i;
    return -1;
}

static size_t df_mangle(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct df *f = b->arg;
    struct mpx_pkt p;
    struct mpx_opt_dss *d = NULL;
    if (mpx_pkt_decode(pkt, len, true, &p) < 0)
        return len;
    for (uint8_t i = 0; i < p.tcp.opts.n_mptcp; i++)
        if (p.tcp.opts.mptcp[i].subtype == MPX_MPTCP_SUB_DSS)
            d = &p.tcp.opts.mptcp[i].u.dss;
    int path = df_path(b, &p.ip.src);
    if (from == 0) {
        if (d && d->has_map && d->data_fin && d->dll == 1 && d->ssn == 0 && !p.payload_len &&
            !(p.tcp.flags & MPX_TH_FIN))
            f->pure_fin++;
        if (d && d->has_map && d->data_fin && d->dll > 1 && path >= 0)
            f->fin_maps[path]++;
        if ((p.tcp.flags & MPX_TH_FIN) && !f->srv_closed)
            f->early_fin++;
        return f->lose_path0_data && path == 0 && p.payload_len ? 0 : len;
    }
    if (!d || !d->has_ack || !f->fin_dsn || !f->hold || !d->ack64 || d->data_ack != f->fin_dsn + 1)
        return len;
    d->data_ack = f->fin_dsn; /* every byte, not the DATA_FIN */
    if (f->hold > 0)
        f->hold--;
    f->held++;
    int n = mpx_pkt_encode(f->buf, sizeof(f->buf), &p.ip, &p.tcp, p.payload, p.payload_len, NULL);
    if (n <= 0)
        return len;
    memcpy(pkt, f->buf, (size_t)n);
    return (size_t)n;
}

/* Drain both stacks' events, noting each side's CONN_CLOSED. */
static void df_events(struct df *f)
{
    for (int k = 0; k < 2; k++) {
        struct mpx_stack_event ev;
        uint32_t id = (uint32_t)(k ? f->sid : f->cid);
        while (mpx_stack_poll_event(f->b.st[k], &ev) > 0)
            if (ev.type == MPX_SEV_CONN_CLOSED && ev.conn == id)
                f->closed_err[k] = ev.error;
    }
}

static void df_run(struct df *f, uint64_t dt)
{
    uint64_t end = f->b.now + dt;
    while (f->b.now < end) {
        b2b_run(&f->b, f->b.now + 100 * MPX_NS_PER_MS);
        df_events(f);
    }
}

/* A connection on path 0 (with a backup subflow on path 1 if asked) that
 * carried |n| bytes client to server; the client then closes. */
static struct df *df_new(uint64_t seed, bool backup_path1, size_t n, int hold, bool lose0)
{
    struct df *f = calloc(1, sizeof(*f));
    b2b_init(&f->b, seed, NULL, NULL);
    f->b.arg = f;
    f->b.mangle = df_mangle;
    f->closed_err[0] = f->closed_err[1] = 1;
    f->cid = mpx_stack_connect(f->b.st[0], &f->b.addr[0][0], &f->b.addr[1][0], DF_PORT, 0);
    if (f->cid > 0 && backup_path1)
        mpx_conn_add_subflow(f->b.st[0], (uint32_t)f->cid, &f->b.addr[0][1], &f->b.addr[1][1],
                             DF_PORT, true, 0);
    df_run(f, 300 * MPX_NS_PER_MS);
    f->sid = mpx_stack_accept(f->b.st[1], DF_PORT);
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 7);
    f->lose_path0_data = lose0;
    f->hold = hold;
    if (f->cid > 0 && mpx_conn_send(f->b.st[0], (uint32_t)f->cid, data, n, f->b.now) == (long)n) {
        struct mpx_conn_info ci;
        if (mpx_conn_get_info(f->b.st[0], (uint32_t)f->cid, &ci) == 0)
            f->fin_dsn = ci.write_seq;
        mpx_conn_close(f->b.st[0], (uint32_t)f->cid, f->b.now);
    }
    free(data);
    return f;
}

/* The server reads what came; true at EOF after exactly |n| bytes. */
static bool df_read_all(struct df *f, size_t n, size_t *got)
{
    uint8_t buf[4096];
    for (;;) {
        long r = mpx_conn_recv(f->b.st[1], (uint32_t)f->sid, buf, sizeof(buf), f->b.now);
        if (r <= 0)
            return r == 0 && *got == n;
        *got += (size_t)r;
    }
}

/* Run in 100 ms steps, at most |steps| of them, until the server has read
 * exactly |n| bytes and EOF. */
static bool df_wait_eof(struct df *f, size_t n, int steps)
{
    size_t got = 0;
    bool eof = false;
    for (int i = 0; i < steps && !eof; i++) {
        df_run(f, 100 * MPX_NS_PER_MS);
        eof = df_read_all(f, n, &got);
    }
    return eof;
}

MPX_TEST(mptcp_datafin_rtx_on_pure_ack)
{
    struct df *f = df_new(11, false, 5000, 3, false);
    REQUIRE(f->cid > 0 && f->sid > 0 && f->fin_dsn);
    CHECK(df_wait_eof(f, 5000, 200));
    mpx_conn_close(f->b.st[1], (uint32_t)f->sid, f->b.now);
    df_run(f, 20 * MPX_NS_PER_S);
    const struct mpx_mptcp_mib *m0 = mpx_stack_mib(f->b.st[0]);
    CHECK_INT(f->held, 3);   /* three answers said "no DATA_FIN" */
    CHECK(f->pure_fin >= 1); /* so it went again, on pure ACKs */
    CHECK(m0->MPXDataFinRetrans >= 1);
    CHECK_INT(f->closed_err[0], 0); /* and both ends closed cleanly */
    CHECK_INT(f->closed_err[1], 0);
    CHECK_INT((int)m0->MPXCloseTimeout, 0);
    b2b_free(&f->b);
    free(f);
}

/* A shutdown with every byte already mapped sends the DATA_FIN-only
 * mapping on a pure ACK and leaves the subflows open until the peer's
 * DATA_FIN (RFC 8684 3.3.3; Linux mptcp_subflow_shutdown). It went on a
 * subflow FIN, after which that subflow could carry nothing: when the
 * other one died, what it had lost had nowhere to go. */
MPX_TEST(mptcp_datafin_alone_on_pure_ack_no_subflow_fin)
{
    struct df *f = df_new(12, false, 0, 0, false);
    REQUIRE(f->cid > 0 && f->sid > 0 && f->fin_dsn);
    CHECK(df_wait_eof(f, 0, 50));
    CHECK(f->pure_fin >= 1);
    CHECK_INT(f->early_fin, 0); /* no subflow FIN while the server is open */
    f->srv_closed = true;
    mpx_conn_close(f->b.st[1], (uint32_t)f->sid, f->b.now);
    df_run(f, 20 * MPX_NS_PER_S);
    CHECK_INT(f->closed_err[0], 0);
    CHECK_INT(f->closed_err[1], 0);
    CHECK_INT((int)mpx_stack_mib(f->b.st[0])->MPXCloseTimeout, 0);
    b2b_free(&f->b);
    free(f);
}

MPX_TEST(mptcp_datafin_reinjected_tail_carries_it)
{
    /* path 0 loses every data segment of the client: its bytes and the
     * DATA_FIN (folded into their mapping) went there; the bytes reach
     * the server again on the backup subflow, and that reinjected last
     * mapping must carry the DATA_FIN too */
    struct df *f = df_new(12, true, 5000, 0, true);
    REQUIRE(f->cid > 0 && f->sid > 0 && f->fin_dsn);
    size_t got = 0;
    bool eof = false;
    for (int i = 0; i < 300 && !eof; i++) {
        df_run(f, 100 * MPX_NS_PER_MS);
        eof = df_read_all(f, 5000, &got);
    }
    CHECK(eof);
    CHECK_INT((int)got, 5000);
    CHECK(f->fin_maps[0] >= 1); /* first sent on path 0 */
    CHECK(f->fin_maps[1] >= 1); /* the reinjection on path 1 carries it */
    CHECK(mpx_stack_mib(f->b.st[0])->MPTCPRetrans >= 1);
    b2b_free(&f->b);
    free(f);
}

MPX_TEST(mptcp_datafin_orphan_close_timeout)
{
    /* the peer takes every byte but never the DATA_FIN, and its app
     * never closes: the orphan gives up after the close timeout */
    struct df *f = df_new(13, false, 5000, -1, false);
    REQUIRE(f->cid > 0 && f->sid > 0 && f->fin_dsn);
    size_t got = 0;
    df_run(f, 2 * MPX_NS_PER_S);
    (void)df_read_all(f, 5000, &got);
    CHECK_INT((int)got, 5000);
    df_run(f, 50 * MPX_NS_PER_S);
    const struct mpx_mptcp_mib *m0 = mpx_stack_mib(f->b.st[0]);
    CHECK_INT(f->closed_err[0], 1); /* still waiting at 52 s */
    CHECK_INT((int)m0->MPXCloseTimeout, 0);
    df_run(f, 15 * MPX_NS_PER_S);
    m0 = mpx_stack_mib(f->b.st[0]); /* a fresh sum */
    CHECK_INT((int)m0->MPXCloseTimeout, 1);
    CHECK_INT(f->closed_err[0], MPX_ERR_TIMEDOUT);
    CHECK(m0->MPFastcloseTx >= 1);
    CHECK(mpx_stack_mib(f->b.st[1])->MPFastcloseRx >= 1);
    CHECK_INT(f->closed_err[1], MPX_ERR_RESET); /* the server's app hears a reset */
    b2b_free(&f->b);
    free(f);
}
