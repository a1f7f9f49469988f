/*
 * mptcp_fallback2_test.c - RFC 8684 section 3.7 in the simulated network:
 * data or ACKs that lose their DSS after the handshake. With other
 * subflows (or one possible) the subflow is reset with MP_TCPRST
 * "middlebox interference" and the transfer completes on the others;
 * with one subflow and no join possible both ends fall back to TCP
 * together (MP_FAIL answered by an infinite mapping, or an infinite
 * mapping), never one end alone. Every transfer checks SHA-256.
 */
#include <stdlib.h>
#include <string.h>

#include "mptcp_b2b.h"
#include "mptcp_sim.h"
#include "mpx_test.h"

#define MBIT 1000000ull

/* The middlebox: from |from_ns| on it removes the DSS option from the
 * packets host |node| sends on path |path| (all of them, or only those
 * with payload), and records the MP_TCPRST reasons it sees go by. */
struct strip {
    int node, path;
    bool data_only;
    uint64_t from_ns;
    int stripped;
    int rst_reason[2]; /* last MP_TCPRST reason sent by host k, -1 none */
};

static bool strip_filter(struct msim *h, void *arg, int node, const uint8_t *pkt, size_t len,
                         uint64_t now)
{
    struct strip *s = arg;
    struct mpx_pkt p;
    if (mpx_pkt_decode(pkt, len, false, &p) < 0)
        return true;
    for (uint8_t i = 0; i < p.tcp.opts.n_mptcp; i++)
        if ((p.tcp.flags & MPX_TH_RST) && p.tcp.opts.mptcp[i].subtype == MPX_MPTCP_SUB_TCPRST)
            s->rst_reason[node] = p.tcp.opts.mptcp[i].u.tcprst.reason;
    struct mpx_addr src = mpx_addr_v4(0x0a000001u + ((uint32_t)s->path << 8) + (uint32_t)node);
    if (node != s->node || now < s->from_ns || !mpx_addr_eq(&p.ip.src, &src) ||
        (s->data_only && !p.payload_len) || (p.tcp.flags & (MPX_TH_SYN | MPX_TH_RST)))
        return true;
    uint8_t k = 0;
    for (uint8_t i = 0; i < p.tcp.opts.n_mptcp; i++)
        if (p.tcp.opts.mptcp[i].subtype != MPX_MPTCP_SUB_DSS)
            p.tcp.opts.mptcp[k++] = p.tcp.opts.mptcp[i];
    if (k == p.tcp.opts.n_mptcp)
        return true;
    p.tcp.opts.n_mptcp = k;
    uint8_t out[MPX_SIM_MAX_PKT];
    int n = mpx_pkt_encode(out, sizeof(out), &p.ip, &p.tcp, p.payload, p.payload_len, NULL);
    if (n > 0) {
        mpx_sim_send(msim_sim(h), msim_node(h, node), out, (size_t)n);
        s->stripped++;
    }
    return false;
}

static struct msim_params paths(uint64_t seed, int n, struct strip *s)
{
    struct msim_params p = {.seed = seed, .bytes = 12000000, .n_paths = n, .join_paths = n > 1};
    for (int i = 0; i < n; i++) {
        p.path[i].rate_bps = 50 * MBIT;
        p.path[i].delay_ns = 5 * MPX_NS_PER_MS;
    }
    s->rst_reason[0] = s->rst_reason[1] = -1;
    p.filter = strip_filter;
    p.hook_arg = s;
    p.time_limit_ns = 30 * MPX_NS_PER_S;
    return p;
}

/* A join exists; from 1 s a middlebox strips the DSS from the client's
 * data on path 1. The server finds data outside every mapping on the
 * join: no fallback is possible, so that subflow is reset with
 * MP_TCPRST 6 (Linux MAPPING_NODSS, FallbackFailed) and its data is
 * reinjected on path 0. Nobody falls back. */
MPX_TEST(mptcp_fallback2_join_dss_stripped_resets_subflow)
{
    struct strip s = {.node = 0, .path = 1, .data_only = true, .from_ns = MPX_NS_PER_S};
    struct msim_params p = paths(60, 2, &s);
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(s.stripped > 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK(r.smib.FallbackFailed >= 1);
    CHECK(r.smib.MPRstTx >= 1);
    CHECK(r.cmib.MPRstRx >= 1);
    CHECK_INT(s.rst_reason[1], MPX_RST_EMIDDLEBOX);
    CHECK_EQ(r.smib.DssFallback + r.cmib.DssFallback, 0);
    CHECK_EQ(r.smib.MPFailTx + r.cmib.MPFailTx, 0);
    CHECK(!r.cinfo.fallback && !r.sinfo.fallback);
    CHECK(r.cmib.MPTCPRetrans >= 1); /* the reset subflow's data went again */
}

/* The same on the initial subflow (path 0) while the join lives: the
 * initial subflow is reset, the transfer completes on the join. */
MPX_TEST(mptcp_fallback2_initial_dss_stripped_with_join_resets)
{
    struct strip s = {.node = 0, .path = 0, .data_only = true, .from_ns = MPX_NS_PER_S};
    struct msim_params p = paths(61, 2, &s);
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(s.stripped > 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.smib.FallbackFailed >= 1);
    CHECK_INT(s.rst_reason[1], MPX_RST_EMIDDLEBOX);
    CHECK_EQ(r.smib.DssFallback + r.cmib.DssFallback, 0);
    CHECK(!r.cinfo.fallback && !r.sinfo.fallback);
}

/* One subflow, no join possible; the client's data loses its DSS from 1 s
 * (the other direction keeps its options). The server falls back and
 * says MP_FAIL; the client answers with an infinite mapping (stripped
 * with its data: the server needs none) and falls back too; the stream
 * goes on intact as TCP. */
MPX_TEST(mptcp_fallback2_single_data_stripped_mp_fail)
{
    struct strip s = {.node = 0, .path = 0, .data_only = true, .from_ns = MPX_NS_PER_S};
    struct msim_params p = paths(62, 1, &s);
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(s.stripped > 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK_EQ(r.smib.DssFallback, 1);
    CHECK_EQ(r.smib.MPFailTx, 1);
    CHECK_EQ(r.cmib.MPFailRx, 1);
    CHECK_EQ(r.cmib.InfiniteMapTx, 1);
    CHECK_EQ(r.smib.FallbackFailed + r.cmib.FallbackFailed, 0);
    CHECK_EQ(r.smib.MPRstTx + r.cmib.MPRstTx, 0);
    CHECK(r.cinfo.fallback && r.sinfo.fallback);
}

/* One subflow; the server's ACKs lose their DSS from 1 s (the data keeps
 * it): the client sees pure ACKs without DATA_ACK, falls back and sends
 * an infinite mapping, on which the server falls back too. */
MPX_TEST(mptcp_fallback2_single_acks_stripped_infinite_map)
{
    struct strip s = {.node = 1, .path = 0, .data_only = false, .from_ns = MPX_NS_PER_S};
    struct msim_params p = paths(63, 1, &s);
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(s.stripped > 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK_EQ(r.cmib.DssFallback, 1);
    CHECK_EQ(r.cmib.InfiniteMapTx, 1);
    CHECK_EQ(r.smib.InfiniteMapRx, 1);
    CHECK_EQ(r.smib.FallbackFailed + r.cmib.FallbackFailed, 0);
    CHECK(r.cinfo.fallback && r.sinfo.fallback);
}

/* One subflow, but the server announced a second address (ADD_ADDR), so
 * the client may be opening a join to it: the server must not fall back
 * on DSS-less data. It resets the subflow (the connection had no other)
 * instead of going on alone: the transfer fails cleanly on both ends. */
static void announce(struct msim *h, void *arg)
{
    (void)arg;
    struct mpx_pm_endpoint ep = {.flags = MPX_PM_F_SIGNAL, .addr = mpx_addr_v4(0x0a000102u)};
    mpx_stack_endpoint_add(msim_stack(h, 1), &ep, 0);
}

MPX_TEST(mptcp_fallback2_single_but_announced_no_fallback)
{
    struct strip s = {.node = 0, .path = 0, .data_only = true, .from_ns = MPX_NS_PER_S};
    struct msim_params p = paths(64, 2, &s);
    p.join_paths = false;
    p.setup_hook = announce;
    p.time_limit_ns = 10 * MPX_NS_PER_S;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(s.stripped > 0);
    CHECK(r.smib.AddAddrTx >= 1);
    CHECK(!r.completed);
    CHECK_EQ(r.smib.DssFallback + r.cmib.DssFallback, 0);
    CHECK(r.smib.FallbackFailed >= 1);
    CHECK_INT(s.rst_reason[1], MPX_RST_EMIDDLEBOX);
    CHECK(!r.sinfo.fallback && !r.cinfo.fallback);
}

/* Reordering at the start: the client's first data segment, which is its
 * third ACK with MP_CAPABLE, is lost, so its next data segments (DSS
 * only) reach the server first, in SYN_RECEIVED. The server must not fall back
 * on them (it would alone: the client goes on with MPTCP and waits for
 * DATA_ACKs forever, measured with 1 ms of jitter); it drops them until
 * the MP_CAPABLE comes again. */
static size_t lose_mpc(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    if (from != 0 || mpx_pkt_decode(pkt, len, false, &p) < 0 || (p.tcp.flags & MPX_TH_SYN))
        return len;
    for (uint8_t i = 0; i < p.tcp.opts.n_mptcp; i++) {
        if (p.tcp.opts.mptcp[i].subtype != MPX_MPTCP_SUB_CAPABLE)
            continue;
        int bit = p.payload_len ? 2 : 1;
        if (b->count & bit)
            return len;
        b->count |= bit; /* the first of each */
        return 0;
    }
    return len;
}

MPX_TEST(mptcp_fallback2_third_ack_overtaken_no_fallback)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 65, NULL, NULL);
    b->mangle = lose_mpc;
    long c = mpx_stack_connect(b->st[0], &b->addr[0][0], &b->addr[1][0], 80, b->now);
    REQUIRE(c > 0);
    static uint8_t data[100000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
    long w = mpx_conn_send(b->st[0], (uint32_t)c, data, sizeof(data), b->now);
    CHECK_INT(w, (long)sizeof(data));
    long s = 0;
    static uint8_t got[sizeof(data)];
    size_t n = 0;
    for (int step = 0; step < 200 && n < sizeof(data); step++) {
        b2b_run(b, b->now + 50 * MPX_NS_PER_MS);
        if (s <= 0)
            s = mpx_stack_accept(b->st[1], 80);
        long r;
        while (s > 0 && n < sizeof(got) &&
               (r = mpx_conn_recv(b->st[1], (uint32_t)s, got + n, sizeof(got) - n, b->now)) > 0)
            n += (size_t)r;
    }
    CHECK(b->count & 2); /* the first data (it is the third ACK) was lost */
    CHECK_EQ(n, sizeof(data));
    CHECK_MEM(got, data, sizeof(data));
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(b->st[0]), *sm = mpx_stack_mib(b->st[1]);
    CHECK_EQ(sm->MPCapableFallbackACK, 0);
    CHECK_EQ(cm->MPCapableDataFallback, 0);
    CHECK_EQ(sm->MPCapableACKRX, 1);
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(b->st[0], (uint32_t)c, &ci) == 0);
    REQUIRE(s > 0 && mpx_conn_get_info(b->st[1], (uint32_t)s, &si) == 0);
    CHECK(!ci.fallback && !si.fallback);
    CHECK(ci.mptcp && si.mptcp);
    b2b_free(b);
    free(b);
}

/* The server fell back on a third ACK whose MP_CAPABLE a middlebox
 * removed (and no DSS either): the client, not yet fully established,
 * sees the server's segments without MPTCP options and falls back too
 * (Linux MPCapableDataFallback) instead of waiting for DATA_ACKs. */
static size_t strip_third_ack_mpc(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    if (from != 0 || b->count || mpx_pkt_decode(pkt, len, true, &p) < 0 ||
        (p.tcp.flags & MPX_TH_SYN) || p.payload_len)
        return len;
    b->count = 1;
    p.tcp.opts.n_mptcp = 0;
    int n = mpx_pkt_encode(pkt, sizeof(b->pkt), &p.ip, &p.tcp, NULL, 0, NULL);
    return n > 0 ? (size_t)n : 0;
}

MPX_TEST(mptcp_fallback2_server_fell_back_client_follows)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 66, NULL, NULL);
    b->mangle = strip_third_ack_mpc;
    long c = mpx_stack_connect(b->st[0], &b->addr[0][0], &b->addr[1][0], 80, b->now);
    REQUIRE(c > 0);
    b2b_run(b, b->now + 20 * MPX_NS_PER_MS);
    long s = mpx_stack_accept(b->st[1], 80);
    REQUIRE(s > 0);
    static uint8_t data[300000], got[300000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + 1);
    size_t sent = 0, n = 0;
    for (int step = 0; step < 400 && n < sizeof(data); step++) {
        long w = sent < sizeof(data) ? mpx_conn_send(b->st[0], (uint32_t)c, data + sent,
                                                     sizeof(data) - sent, b->now)
                                     : 0;
        sent += w > 0 ? (size_t)w : 0;
        b2b_run(b, b->now + 10 * MPX_NS_PER_MS);
        long r;
        while (n < sizeof(got) &&
               (r = mpx_conn_recv(b->st[1], (uint32_t)s, got + n, sizeof(got) - n, b->now)) > 0)
            n += (size_t)r;
    }
    CHECK_INT(b->count, 1);
    CHECK_EQ(n, sizeof(data));
    CHECK_MEM(got, data, sizeof(data));
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(b->st[0]), *sm = mpx_stack_mib(b->st[1]);
    CHECK_EQ(sm->MPCapableFallbackACK, 1);
    CHECK_EQ(cm->MPCapableDataFallback, 1);
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(b->st[0], (uint32_t)c, &ci) == 0);
    REQUIRE(mpx_conn_get_info(b->st[1], (uint32_t)s, &si) == 0);
    CHECK(ci.fallback && si.fallback);
    b2b_free(b);
    free(b);
}
