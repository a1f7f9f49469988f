/*
 * mptcp_hs_test.c - MPTCP handshakes between two stacks wired back to
 * back (no simnet), with a packet hook that can inspect, rewrite or drop
 * every packet: unacceptable MP_CAPABLE flags, MP_JOIN rejections with
 * MP_TCPRST, a middlebox stripping MPTCP options, lost third ACKs, data on
 * the third ACK, checksum negotiation.
 */
#include <stdlib.h>

#include "err.h"
#include "mpx_test.h"
#include "mptcp_b2b.h"
#include "mptcp_stack.h"

#define NPATH B2B_NPATH

struct csum_cfg {
    bool client, server;
};

static void csum_tweak(int k, struct mpx_stack_config *cfg, void *arg)
{
    const struct csum_cfg *c = arg;
    cfg->checksum = k ? c->server : c->client;
}

static void pair_init(struct b2b *pr, uint64_t seed, bool csum_client, bool csum_server)
{
    struct csum_cfg c = {csum_client, csum_server};
    b2b_init(pr, seed, csum_tweak, &c);
    pr->arg = NULL; /* |c| lives on this stack frame only */
}

/* Decode, let |edit| change the packet, re-encode. */
static size_t rewrite(uint8_t *pkt, size_t len, void (*edit)(struct mpx_pkt *p))
{
    struct mpx_pkt p;
    static uint8_t payload[70000];
    if (mpx_pkt_decode(pkt, len, true, &p) < 0)
        return len;
    memcpy(payload, p.payload, p.payload_len);
    edit(&p);
    int n = mpx_pkt_encode(pkt, 70000, &p.ip, &p.tcp, payload, p.payload_len, NULL);
    return n > 0 ? (size_t)n : 0;
}

static const struct mpx_mptcp_opt *opt_of(const struct mpx_pkt *p, enum mpx_mptcp_subtype st)
{
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
        if (p->tcp.opts.mptcp[i].subtype == st)
            return &p->tcp.opts.mptcp[i];
    return NULL;
}

/* A SYN from 10.0.0.9:1234 to the server with |o| (if any). */
static size_t craft_syn(uint8_t *out, size_t cap, const struct mpx_mptcp_opt *o)
{
    struct mpx_ip_hdr ip = {.version = 4, .ttl = 64, .proto = MPX_IPPROTO_TCP, .df = true};
    ip.src = mpx_addr_v4(0x0a000009u);
    ip.dst = mpx_addr_v4(0x0a000002u);
    struct mpx_tcp_hdr th = {
        .sport = 1234, .dport = 80, .seq = 1000, .flags = MPX_TH_SYN, .win = 65535};
    th.opts.present = MPX_TCPO_MSS;
    th.opts.mss = 1460;
    if (o) {
        th.opts.n_mptcp = 1;
        th.opts.mptcp[0] = *o;
    }
    int n = mpx_pkt_encode(out, cap, &ip, &th, NULL, 0, NULL);
    return n > 0 ? (size_t)n : 0;
}

/* Feed one crafted SYN to a server; decode its answer into |ans|. */
static bool syn_answer(uint64_t seed, const struct mpx_mptcp_opt *o, struct mpx_pkt *ans,
                       struct mpx_mptcp_mib *mib)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, seed, false, false);
    size_t n = craft_syn(pr->pkt, sizeof(pr->pkt), o);
    mpx_stack_input(pr->st[1], pr->pkt, n, 0);
    int len = mpx_stack_output(pr->st[1], pr->pkt, sizeof(pr->pkt), 0);
    bool ok = len > 0 && mpx_pkt_decode(pr->pkt, (size_t)len, true, ans) == 0;
    /* the payload pointer is not used by the callers */
    ans->payload = NULL;
    *mib = *mpx_stack_mib(pr->st[1]);
    b2b_free(pr);
    free(pr);
    return ok;
}

/* NOTES 4.1, the Linux 6.18 matrix: which SYN MP_CAPABLE gets one back. */
MPX_TEST(mptcp_hs_syn_flags_like_linux)
{
    static const struct {
        uint8_t version, flags;
        bool mpc_back;
    } t[] = {
        {1, MPX_MPC_F_H, true},
        {1, MPX_MPC_F_A | MPX_MPC_F_H, true},
        {1, MPX_MPC_F_C | MPX_MPC_F_H, true},
        {2, MPX_MPC_F_H, true},
        {1, MPX_MPC_F_D | MPX_MPC_F_H, false},
        {1, MPX_MPC_F_F | MPX_MPC_F_H, false},
        {1, MPX_MPC_F_G | MPX_MPC_F_H, false},
        {1, MPX_MPC_F_B | MPX_MPC_F_H, false},
        {1, 0x00, false},
        {0, MPX_MPC_F_H, false},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct mpx_mptcp_opt o = {.subtype = MPX_MPTCP_SUB_CAPABLE};
        o.u.mpc.form = MPX_FORM_SYN;
        o.u.mpc.version = t[i].version;
        o.u.mpc.flags = t[i].flags;
        struct mpx_pkt ans;
        struct mpx_mptcp_mib mib;
        REQUIRE(syn_answer(i + 1, &o, &ans, &mib));
        CHECK_EQ(ans.tcp.flags, MPX_TH_SYN | MPX_TH_ACK);
        const struct mpx_mptcp_opt *m = opt_of(&ans, MPX_MPTCP_SUB_CAPABLE);
        CHECK_EQ(m != NULL, t[i].mpc_back);
        CHECK_EQ(mib.MPCapableSYNRX, t[i].mpc_back);
        if (m) {
            CHECK_EQ(m->u.mpc.version, 1);
            CHECK_EQ(m->u.mpc.flags & 0x1f, MPX_MPC_F_H);
            CHECK_EQ(!!(m->u.mpc.flags & MPX_MPC_F_A), !!(t[i].flags & MPX_MPC_F_A));
        }
    }
}

/* RFC 8684 section 3.2: a join for an unknown token is reset, MP_TCPRST
 * reason 1 (Linux MPJoinNoTokenFound). */
MPX_TEST(mptcp_hs_join_unknown_token)
{
    struct mpx_mptcp_opt o = {.subtype = MPX_MPTCP_SUB_JOIN};
    o.u.join.form = MPX_FORM_SYN;
    o.u.join.token = 0x12345678;
    o.u.join.nonce = 42;
    struct mpx_pkt ans;
    struct mpx_mptcp_mib mib;
    REQUIRE(syn_answer(3, &o, &ans, &mib));
    CHECK(ans.tcp.flags & MPX_TH_RST);
    CHECK_EQ(ans.tcp.ack, 1001);
    const struct mpx_mptcp_opt *r = opt_of(&ans, MPX_MPTCP_SUB_TCPRST);
    REQUIRE(r != NULL);
    CHECK_EQ(r->u.tcprst.reason, MPX_RST_EMPTCP);
    CHECK_EQ(mib.MPJoinNoTokenFound, 1);
    CHECK_EQ(mib.MPJoinSynRx, 1);
    CHECK_EQ(mib.MPRstTx, 1);
}

/* --- full handshakes ------------------------------------------------------ */

struct xfer {
    uint32_t cconn, sconn;
    uint64_t sent, got;
    bool eof;
};

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i * 131 + (i >> 9));
}

/* Client connects and sends |bytes| (patterned) then shuts down; the
 * server accepts and reads; returns true if every byte arrived intact. */
static bool run_xfer(struct b2b *pr, uint64_t bytes, struct xfer *x, uint64_t limit)
{
    uint8_t buf[16384];
    memset(x, 0, sizeof(*x));
    long id = mpx_stack_connect(pr->st[0], &pr->addr[0][0], &pr->addr[1][0], 80, pr->now);
    if (id <= 0)
        return false;
    x->cconn = (uint32_t)id;
    bool ok = true, shut = false;
    for (int step = 0; step < 20000 && pr->now < limit && !x->eof; step++) {
        while (x->sent < bytes) {
            size_t n = bytes - x->sent < sizeof(buf) ? (size_t)(bytes - x->sent) : sizeof(buf);
            for (size_t i = 0; i < n; i++)
                buf[i] = pattern(x->sent + i);
            long w = mpx_conn_send(pr->st[0], x->cconn, buf, n, pr->now);
            if (w <= 0)
                break;
            x->sent += (uint64_t)w;
        }
        if (x->sent == bytes && !shut) {
            shut = true;
            mpx_conn_shutdown(pr->st[0], x->cconn, pr->now);
        }
        if (!x->sconn) {
            long s = mpx_stack_accept(pr->st[1], 80);
            if (s > 0)
                x->sconn = (uint32_t)s;
        }
        for (long r; x->sconn &&
                     (r = mpx_conn_recv(pr->st[1], x->sconn, buf, sizeof(buf), pr->now)) >= 0;) {
            if (r == 0) {
                x->eof = true;
                break;
            }
            for (long i = 0; i < r; i++)
                ok &= buf[i] == pattern(x->got + (uint64_t)i);
            x->got += (uint64_t)r;
        }
        b2b_run(pr, pr->now + 10 * MPX_NS_PER_MS);
    }
    return ok && x->eof && x->got == bytes;
}

static void strip_mptcp(struct mpx_pkt *p)
{
    p->tcp.opts.n_mptcp = 0;
}

/* A middlebox removes MPTCP options from the SYN/ACK: the client falls
 * back to TCP (MPCapableFallbackSYNACK), and so does the server when the
 * third ACK comes without MP_CAPABLE (MPCapableFallbackACK). */
static size_t strip_synack(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    (void)pr;
    if (from == 1 && (pkt[33] & (MPX_TH_SYN | MPX_TH_ACK)) == (MPX_TH_SYN | MPX_TH_ACK))
        return rewrite(pkt, len, strip_mptcp);
    return len;
}

MPX_TEST(mptcp_hs_synack_stripped_fallback)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 5, false, false);
    pr->mangle = strip_synack;
    struct xfer x;
    CHECK(run_xfer(pr, 300000, &x, 20 * MPX_NS_PER_S));
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(pr->st[0]), *sm = mpx_stack_mib(pr->st[1]);
    CHECK_EQ(cm->MPCapableSYNTX, 1);
    CHECK_EQ(cm->MPCapableFallbackSYNACK, 1);
    CHECK_EQ(sm->MPCapableSYNRX, 1);
    CHECK_EQ(sm->MPCapableFallbackACK, 1);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(pr->st[0], x.cconn, &ci) == 0);
    CHECK(ci.fallback && !ci.mptcp);
    b2b_free(pr);
    free(pr);
}

/* The third ACK (MP_CAPABLE with both keys) is lost and the client has
 * nothing to send: the server repeats its SYN/ACK, the client's next ACK
 * carries MP_CAPABLE again, no fallback. */
static size_t drop_first_ack(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    if (from == 0 && mpx_pkt_decode(pkt, len, true, &p) == 0 && p.tcp.flags == MPX_TH_ACK &&
        !p.payload_len && opt_of(&p, MPX_MPTCP_SUB_CAPABLE) && pr->count++ == 0)
        return 0;
    return len;
}

MPX_TEST(mptcp_hs_third_ack_lost)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 6, false, false);
    pr->mangle = drop_first_ack;
    long id = mpx_stack_connect(pr->st[0], &pr->addr[0][0], &pr->addr[1][0], 80, 0);
    REQUIRE(id > 0);
    b2b_run(pr, 3 * MPX_NS_PER_S);
    CHECK_EQ(pr->count, 2); /* dropped one, saw its repetition */
    const struct mpx_mptcp_mib *sm = mpx_stack_mib(pr->st[1]);
    CHECK_EQ(sm->MPCapableACKRX, 1);
    CHECK_EQ(sm->MPCapableFallbackACK, 0);
    long s = mpx_stack_accept(pr->st[1], 80);
    REQUIRE(s > 0);
    struct mpx_conn_info si;
    REQUIRE(mpx_conn_get_info(pr->st[1], (uint32_t)s, &si) == 0);
    CHECK(si.mptcp);
    b2b_free(pr);
    free(pr);
}

/* Data right at connect rides on the third ACK: MP_CAPABLE with the
 * Data-Level Length (RFC 8684 section 3.1), DSN = IDSN + 1. */
static size_t watch_mpc_data(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    if (from == 0 && mpx_pkt_decode(pkt, len, true, &p) == 0 && p.payload_len) {
        const struct mpx_mptcp_opt *o = opt_of(&p, MPX_MPTCP_SUB_CAPABLE);
        if (o && o->u.mpc.has_dll && o->u.mpc.dll == p.payload_len)
            pr->count++;
    }
    return len;
}

MPX_TEST(mptcp_hs_data_on_third_ack)
{
    for (int csum = 0; csum <= 1; csum++) {
        struct b2b *pr = calloc(1, sizeof(*pr));
        pair_init(pr, 7, csum, false);
        pr->mangle = watch_mpc_data;
        struct xfer x;
        CHECK(run_xfer(pr, 1000, &x, 5 * MPX_NS_PER_S));
        CHECK(pr->count >= 1);
        struct mpx_conn_info si;
        REQUIRE(mpx_conn_get_info(pr->st[1], x.sconn, &si) == 0);
        CHECK(si.mptcp);
        CHECK_EQ(si.csum_enabled, csum);
        CHECK_EQ(mpx_stack_mib(pr->st[1])->DataCsumErr, 0);
        b2b_free(pr);
        free(pr);
    }
}

/* Checksums (A flag): either side asking is enough (RFC 8684 section 3.1);
 * a transfer with checksums on every mapping arrives intact. */
MPX_TEST(mptcp_hs_checksum_negotiation)
{
    static const bool t[][3] = {
        {false, false, false}, {true, false, true}, {false, true, true}, {true, true, true}};
    for (size_t i = 0; i < 4; i++) {
        struct b2b *pr = calloc(1, sizeof(*pr));
        pair_init(pr, 8 + i, t[i][0], t[i][1]);
        struct xfer x;
        CHECK(run_xfer(pr, 400000, &x, 20 * MPX_NS_PER_S));
        struct mpx_conn_info ci, si;
        REQUIRE(mpx_conn_get_info(pr->st[0], x.cconn, &ci) == 0);
        REQUIRE(mpx_conn_get_info(pr->st[1], x.sconn, &si) == 0);
        CHECK_EQ(ci.csum_enabled, t[i][2]);
        CHECK_EQ(si.csum_enabled, t[i][2]);
        CHECK(ci.mptcp && si.mptcp);
        b2b_free(pr);
        free(pr);
    }
}

/* A join whose third-ACK HMAC is corrupted is reset with MP_TCPRST
 * (MPJoinAckHMacFailure); the connection goes on over the first path. */
static void flip_join_hmac(struct mpx_pkt *p)
{
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
        if (p->tcp.opts.mptcp[i].subtype == MPX_MPTCP_SUB_JOIN &&
            p->tcp.opts.mptcp[i].u.join.form == MPX_FORM_ACK)
            p->tcp.opts.mptcp[i].u.join.hmac[3] ^= 0x40;
}

static size_t bad_join_ack(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    (void)pr;
    if (from == 0)
        return rewrite(pkt, len, flip_join_hmac);
    return len;
}

MPX_TEST(mptcp_hs_join_bad_hmac)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 9, false, false);
    pr->mangle = bad_join_ack;
    long id = mpx_stack_connect(pr->st[0], &pr->addr[0][0], &pr->addr[1][0], 80, 0);
    REQUIRE(id > 0);
    REQUIRE(mpx_conn_add_subflow(pr->st[0], (uint32_t)id, &pr->addr[0][1], &pr->addr[1][1], 80,
                                 false, 0) == 0);
    b2b_run(pr, 2 * MPX_NS_PER_S);
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(pr->st[0]), *sm = mpx_stack_mib(pr->st[1]);
    CHECK_EQ(sm->MPJoinSynRx, 1);
    CHECK_EQ(cm->MPJoinSynAckRx, 1);
    CHECK_EQ(sm->MPJoinAckHMacFailure, 1);
    CHECK_EQ(sm->MPJoinAckRx, 0);
    CHECK_EQ(sm->MPRstTx, 1);
    CHECK_EQ(cm->MPRstRx, 1);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(pr->st[0], (uint32_t)id, &ci) == 0);
    CHECK(ci.mptcp && !ci.closed);
    CHECK_EQ(ci.subflows, 1);
    b2b_free(pr);
    free(pr);
}

/* MP_FASTCLOSE (RFC 8684 section 3.5): the client aborts mid-transfer;
 * the server checks the key and resets the connection. */
MPX_TEST(mptcp_hs_fastclose)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 10, false, false);
    long id = mpx_stack_connect(pr->st[0], &pr->addr[0][0], &pr->addr[1][0], 80, 0);
    REQUIRE(id > 0);
    REQUIRE(mpx_conn_add_subflow(pr->st[0], (uint32_t)id, &pr->addr[0][1], &pr->addr[1][1], 80,
                                 false, 0) == 0);
    static uint8_t buf[200000];
    REQUIRE(mpx_conn_send(pr->st[0], (uint32_t)id, buf, sizeof(buf), 0) > 0);
    b2b_run(pr, 30 * MPX_NS_PER_MS);
    long s = mpx_stack_accept(pr->st[1], 80);
    REQUIRE(s > 0);
    REQUIRE(mpx_conn_abort(pr->st[0], (uint32_t)id, pr->now) == 0);
    b2b_run(pr, pr->now + 1 * MPX_NS_PER_S);
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(pr->st[0]), *sm = mpx_stack_mib(pr->st[1]);
    CHECK_EQ(cm->MPFastcloseTx, 2); /* one per subflow */
    CHECK(sm->MPFastcloseRx >= 1);
    /* the second RST finds its subflow already reset by the MP_FASTCLOSE
     * of the first: not acceptable any more, ignored (Linux: no socket) */
    CHECK_EQ(sm->MPRstRx, 1);
    struct mpx_conn_info si;
    REQUIRE(mpx_conn_get_info(pr->st[1], (uint32_t)s, &si) == 0);
    CHECK(si.closed);
    CHECK_EQ(si.error, MPX_ERR_RESET);
    CHECK_EQ(si.subflows, 0);
    b2b_free(pr);
    free(pr);
}

/* A middlebox starts stripping every MPTCP option once data flows (RFC
 * 8684 section 3.7): with one subflow both ends fall back to TCP and the
 * transfer completes (Linux DssFallback). */
static size_t strip_after(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    (void)from;
    struct mpx_pkt p;
    if (mpx_pkt_decode(pkt, len, true, &p) == 0 && p.payload_len && pr->count < 30)
        pr->count++;
    if (pr->count >= 30)
        return rewrite(pkt, len, strip_mptcp);
    return len;
}

MPX_TEST(mptcp_hs_options_stripped_later_fallback)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 11, false, false);
    pr->mangle = strip_after;
    struct xfer x;
    CHECK(run_xfer(pr, 600000, &x, 30 * MPX_NS_PER_S));
    CHECK_EQ(x.got, 600000);
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(pr->st[0]), *sm = mpx_stack_mib(pr->st[1]);
    CHECK_EQ(sm->MPCapableACKRX, 1);
    CHECK_EQ(sm->DssFallback, 1);
    CHECK_EQ(cm->DssFallback, 1);
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(pr->st[0], x.cconn, &ci) == 0);
    REQUIRE(mpx_conn_get_info(pr->st[1], x.sconn, &si) == 0);
    CHECK(ci.fallback && si.fallback);
    b2b_free(pr);
    free(pr);
}

/* A middlebox rewrites one payload byte (fixing the TCP checksum) while
 * DSS checksums are on (RFC 8684 section 3.7). One subflow: the receiver
 * sends MP_FAIL, the sender an infinite mapping, both go on as TCP. */
static size_t corrupt_once(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    if (from == 0 && mpx_pkt_decode(pkt, len, true, &p) == 0 && p.payload_len > 100 &&
        p.payload_len < 2000 && ++pr->count == 40) {
        uint8_t payload[2000];
        memcpy(payload, p.payload, p.payload_len);
        payload[p.payload_len / 2] ^= 0xff;
        int n = mpx_pkt_encode(pkt, 70000, &p.ip, &p.tcp, payload, p.payload_len, NULL);
        return n > 0 ? (size_t)n : 0;
    }
    return len;
}

MPX_TEST(mptcp_hs_csum_fail_single_subflow_fallback)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 12, true, true);
    pr->mangle = corrupt_once;
    struct xfer x;
    bool intact = run_xfer(pr, 500000, &x, 30 * MPX_NS_PER_S);
    CHECK(!intact); /* the rewritten byte is delivered, as TCP would */
    CHECK(x.eof);
    CHECK_EQ(x.got, 500000);
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(pr->st[0]), *sm = mpx_stack_mib(pr->st[1]);
    CHECK_EQ(sm->DataCsumErr, 1);
    CHECK_EQ(sm->MPFailTx, 1);
    CHECK_EQ(cm->MPFailRx, 1);
    CHECK_EQ(cm->InfiniteMapTx, 1);
    CHECK_EQ(sm->InfiniteMapRx, 1);
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(pr->st[0], x.cconn, &ci) == 0);
    REQUIRE(mpx_conn_get_info(pr->st[1], x.sconn, &si) == 0);
    CHECK(ci.fallback && si.fallback);
    b2b_free(pr);
    free(pr);
}

/* Same with two subflows: the subflow is reset with MP_TCPRST 6
 * (middlebox interference) and its data arrives intact via the other. */
static size_t corrupt_join_once(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    if (from == 0 && mpx_pkt_decode(pkt, len, true, &p) == 0 && p.payload_len > 100 &&
        p.payload_len < 2000 && p.ip.src.a[2] == 1 && ++pr->count == 10) {
        uint8_t payload[2000];
        memcpy(payload, p.payload, p.payload_len);
        payload[3] ^= 0x01;
        int n = mpx_pkt_encode(pkt, 70000, &p.ip, &p.tcp, payload, p.payload_len, NULL);
        return n > 0 ? (size_t)n : 0;
    }
    return len;
}

MPX_TEST(mptcp_hs_csum_fail_two_subflows_reset)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 13, true, false);
    pr->mangle = corrupt_join_once;
    long id = mpx_stack_connect(pr->st[0], &pr->addr[0][0], &pr->addr[1][0], 80, 0);
    REQUIRE(id > 0);
    REQUIRE(mpx_conn_add_subflow(pr->st[0], (uint32_t)id, &pr->addr[0][1], &pr->addr[1][1], 80,
                                 false, 0) == 0);
    b2b_run(pr, 200 * MPX_NS_PER_MS);
    /* run_xfer opens its own connection; use a bare loop here */
    static uint8_t buf[16384];
    uint64_t sent = 0, got = 0;
    bool ok = true, eof = false;
    long s = mpx_stack_accept(pr->st[1], 80);
    REQUIRE(s > 0);
    for (int step = 0; step < 3000 && !eof; step++) {
        while (sent < 800000) {
            for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = pattern(sent + i);
            long w = mpx_conn_send(pr->st[0], (uint32_t)id, buf, sizeof(buf), pr->now);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
            if (sent >= 800000)
                mpx_conn_shutdown(pr->st[0], (uint32_t)id, pr->now);
        }
        for (long r; (r = mpx_conn_recv(pr->st[1], (uint32_t)s, buf, sizeof(buf), pr->now)) >= 0;) {
            if (r == 0) {
                eof = true;
                break;
            }
            for (long i = 0; i < r; i++)
                ok &= buf[i] == pattern(got + (uint64_t)i);
            got += (uint64_t)r;
        }
        b2b_run(pr, pr->now + 10 * MPX_NS_PER_MS);
    }
    CHECK(eof);
    CHECK(ok);
    CHECK_EQ(got, sent);
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(pr->st[0]), *sm = mpx_stack_mib(pr->st[1]);
    CHECK_EQ(sm->DataCsumErr, 1);
    CHECK_EQ(sm->MPFailTx, 0);
    CHECK_EQ(sm->MPRstTx, 1);
    CHECK_EQ(cm->MPRstRx, 1);
    struct mpx_conn_info si;
    REQUIRE(mpx_conn_get_info(pr->st[1], (uint32_t)s, &si) == 0);
    CHECK(si.mptcp && !si.fallback);
    b2b_free(pr);
    free(pr);
}

/* Linux syn_retrans_before_tcp_fallback (2): SYNs with MP_CAPABLE get lost
 * (a middlebox drops them); the third retransmission goes without it and
 * the connection is plain TCP (MPCapableSYNTXDrop). */
static size_t drop_mpc_syns(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    if (from == 0 && mpx_pkt_decode(pkt, len, true, &p) == 0 && p.tcp.flags == MPX_TH_SYN &&
        opt_of(&p, MPX_MPTCP_SUB_CAPABLE)) {
        pr->count++;
        return 0;
    }
    return len;
}

MPX_TEST(mptcp_hs_syn_mpc_dropped_then_plain)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 14, false, false);
    pr->mangle = drop_mpc_syns;
    struct xfer x;
    CHECK(run_xfer(pr, 100000, &x, 30 * MPX_NS_PER_S));
    CHECK_EQ(pr->count, 3); /* the SYN and two retransmissions */
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(pr->st[0]), *sm = mpx_stack_mib(pr->st[1]);
    CHECK_EQ(cm->MPCapableSYNTX, 1);
    CHECK_EQ(cm->MPCapableSYNTXDrop, 1);
    CHECK_EQ(sm->MPCapableSYNRX, 0);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(pr->st[0], x.cconn, &ci) == 0);
    CHECK(ci.fallback);
    b2b_free(pr);
    free(pr);
}

/* Lab 50d20+50: a pure third ACK completes the handshake, our DSS answer
 * is late (dropped here), so the client's first data repeats MP_CAPABLE
 * with the Data-Level Length of a mapping of several segments (section
 * 3.1) and elides it on the next ones. The server must take that mapping
 * although it is already ESTABLISHED, not fall back alone (DssFallback)
 * while the client stays MPTCP with its DATA_ACKs never coming. */
static size_t hold_server_acks(struct b2b *pr, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    if (mpx_pkt_decode(pkt, len, true, &p) < 0 || (p.tcp.flags & MPX_TH_SYN))
        return len;
    if (from == 0 && p.payload_len)
        pr->count = 1; /* the client's data is out: let the ACKs go */
    if (from == 1 && !p.payload_len && !pr->count)
        return 0;
    return len;
}

MPX_TEST(mptcp_hs_mpc_data_after_pure_third_ack)
{
    struct b2b *pr = calloc(1, sizeof(*pr));
    pair_init(pr, 8, false, false);
    pr->mangle = hold_server_acks;
    long c = mpx_stack_connect(pr->st[0], &pr->addr[0][0], &pr->addr[1][0], 80, pr->now);
    REQUIRE(c > 0);
    b2b_run(pr, pr->now + 100 * MPX_NS_PER_MS);
    long s = mpx_stack_accept(pr->st[1], 80);
    REQUIRE(s > 0);
    CHECK_EQ(mpx_stack_mib(pr->st[1])->MPCapableACKRX, 1);
    uint8_t buf[16384];
    uint64_t sent = 0, got = 0;
    bool ok = true;
    for (int step = 0; step < 2000 && got < 200000; step++) {
        while (sent < 200000) {
            size_t n = 200000 - sent < sizeof(buf) ? (size_t)(200000 - sent) : sizeof(buf);
            for (size_t i = 0; i < n; i++)
                buf[i] = pattern(sent + i);
            long w = mpx_conn_send(pr->st[0], (uint32_t)c, buf, n, pr->now);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
        }
        for (long r; (r = mpx_conn_recv(pr->st[1], (uint32_t)s, buf, sizeof(buf), pr->now)) > 0;) {
            for (long i = 0; i < r; i++)
                ok &= buf[i] == pattern(got + (uint64_t)i);
            got += (uint64_t)r;
        }
        b2b_run(pr, pr->now + 10 * MPX_NS_PER_MS);
    }
    CHECK(ok);
    CHECK_EQ(got, 200000);
    CHECK_EQ(pr->count, 1);
    CHECK_EQ(mpx_stack_mib(pr->st[1])->DssFallback, 0);
    struct mpx_conn_info si, ci;
    REQUIRE(mpx_conn_get_info(pr->st[1], (uint32_t)s, &si) == 0);
    REQUIRE(mpx_conn_get_info(pr->st[0], (uint32_t)c, &ci) == 0);
    CHECK(si.mptcp && !si.fallback);
    CHECK(ci.mptcp && !ci.fallback);
    CHECK_EQ(si.bytes_received, 200000);
    b2b_free(pr);
    free(pr);
}
