/*
 * mptcp_integrity_test.c - the connection-level send side when a subflow
 * stops delivering: every byte only that subflow carried must reach the
 * peer on another one (RFC 8684 section 3.3.6: data stays in the send
 * buffer until DATA_ACKed and may go again on any subflow).
 *
 * Found against Linux (test_interop.py engine_remove_addr at load: the
 * kernel's DATA_ACK stopped for good, 2 runs in ~300):
 * - push_reinject moved a queued range on by the scheduler's decision, not
 *   by what the subflow took (a mapping ends at MPX_MAP_MAX in whole
 *   segments, or where an unsent mapping it extends reaches it, or the
 *   send buffer is full): the bytes in between stayed on the failing
 *   subflow only (the lab: up to 7 KB per decision, in half the runs);
 * - a queued range whose origin was the only subflow left blocked every
 *   range behind it (the scheduler never sends a range back where it
 *   came from), the removed join's bytes among them;
 * - the queue went in insertion order: the range at the DATA_ACK waited
 *   behind megabytes queued before it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mptcp_b2b.h"
#include "mptcp_int.h"
#include "mpx_test.h"
#include "mptcp_sim.h"

#define MBIT 1000000ull

static void eat_path1(struct msim *h, void *arg)
{
    (void)arg;
    /* data direction only: path 1's ACKs still pass, no link event */
    mpx_sim_link_blackout(msim_sim(h), msim_link(h, 1), MPX_SIM_AB, 1 * MPX_NS_PER_S,
                          60 * MPX_NS_PER_S);
}

/* Path 1 eats the client's data from 1 s on (its ACKs pass: no link
 * event), path 0 has the longer delay and the connection is
 * window-limited, so the initial subflow has room for 64 KB reinjections
 * of the long runs of data the join carried: all of it must move. */
MPX_TEST(mptcp_integrity_reinject_whole_range)
{
    static const struct {
        uint64_t seed;
        uint32_t rcvbuf;
        uint64_t rate;
    } cases[] = {
        {61, 512 * 1024, 60 * MBIT},
        {64, 1024 * 1024, 100 * MBIT},
        {67, 512 * 1024, 200 * MBIT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct msim_params p = {
            .seed = cases[i].seed, .bytes = 20000000, .n_paths = 2, .join_paths = true};
        p.path[0].rate_bps = p.path[1].rate_bps = cases[i].rate;
        p.path[0].delay_ns = 40 * MPX_NS_PER_MS;
        p.path[1].delay_ns = 2 * MPX_NS_PER_MS;
        p.rcvbuf = cases[i].rcvbuf;
        p.setup_hook = eat_path1;
        p.gap_from_ns = 900 * MPX_NS_PER_MS;
        p.time_limit_ns = 20 * MPX_NS_PER_S;
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        printf("  case %zu: completed %d, stall %llu ms, MPTCPRetrans %llu, stale %llu, conn rtx "
               "%u\n",
               i, r.completed, (unsigned long long)(r.max_gap_ns / MPX_NS_PER_MS),
               (unsigned long long)r.cmib.MPTCPRetrans, (unsigned long long)r.cmib.SubflowStale,
               r.cinfo.rtx_timeouts);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.cmib.SubflowStale >= 1);
        CHECK(r.max_gap_ns <= 1000 * MPX_NS_PER_MS);
    }
}

/* A subflow-level ACK is no DATA_ACK (RFC 8684 section 3.3.2): Linux
 * drops what a subflow's receive queue holds when it closes that subflow
 * (on REMOVE_ADDR), after its TCP ACKed it. Here a proxy on path 1 eats
 * the client's data and ACKs it itself from 1.0 s on; at 1.2 s the
 * client's path 1 goes down (its subflow is reset). Those bytes are in no
 * subflow's mappings any more: the connection-level timer must send them
 * again on path 0. */
static void path1_down(void *arg, struct mpx_sim *sim, uint64_t now)
{
    struct msim *h = arg;
    struct mpx_addr a = mpx_addr_v4(0x0a000101u); /* the client on path 1 */
    (void)sim;
    mpx_stack_path_event(msim_stack(h, 0), &a, false, now);
}

static void down_hook(struct msim *h, void *arg)
{
    (void)arg;
    mpx_sim_at(msim_sim(h), 1200 * MPX_NS_PER_MS, path1_down, h);
}

MPX_TEST(mptcp_integrity_acked_then_subflow_gone)
{
    for (uint64_t seed = 71; seed <= 74; seed++) {
        struct msim_pep pe = {.from_ns = 1 * MPX_NS_PER_S, .until_ns = UINT64_MAX};
        struct msim_params p = {.seed = seed, .bytes = 12000000, .n_paths = 2, .join_paths = true};
        for (int k = 0; k < 2; k++) {
            p.path[k].rate_bps = 20 * MBIT;
            p.path[k].delay_ns = 5 * MPX_NS_PER_MS;
        }
        p.rcvbuf = seed == 71 ? 0 : (uint32_t)(seed - 71) * 1024 * 1024;
        p.filter = msim_pep_filter;
        p.hook_arg = &pe;
        p.setup_hook = down_hook;
        p.gap_from_ns = 900 * MPX_NS_PER_MS;
        p.time_limit_ns = 20 * MPX_NS_PER_S;
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        printf("  seed %llu: eaten %d, completed %d, received %llu, stall %llu ms, conn rtx %u, "
               "MPTCPRetrans %llu\n",
               (unsigned long long)seed, pe.eaten, r.completed, (unsigned long long)r.received,
               (unsigned long long)(r.max_gap_ns / MPX_NS_PER_MS), r.cinfo.rtx_timeouts,
               (unsigned long long)r.cmib.MPTCPRetrans);
        CHECK(pe.eaten > 10);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.max_gap_ns <= 500 * MPX_NS_PER_MS);
    }
}

/* --- white box: what push_reinject moves on ---------------------------- */

/* Client data packets vanish (nothing is acknowledged): the ranges stay
 * in flight while the test looks at the queue. */
static size_t drop_client_data(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct mpx_pkt p;
    (void)b;
    if (from == 0 && mpx_pkt_decode(pkt, len, false, &p) == 0 && p.payload_len)
        return 0;
    return len;
}

static void big_bufs(int k, struct mpx_stack_config *cfg, void *arg)
{
    (void)k;
    (void)arg;
    cfg->sndbuf = cfg->rcvbuf = 4 << 20;
}

/* Whether [s, e) is covered by |sf|'s mappings from subflow offset
 * |off0| on (and the reinjection queue if |queued|). */
static bool covered(const struct mpx_msk *m, const struct mpx_sf *sf, uint32_t off0, uint64_t s,
                    uint64_t e, bool queued)
{
    while (s < e) {
        uint64_t to = s;
        for (uint16_t i = 0; i < sf->tx.n; i++) {
            const struct mpx_map *mp = &sf->tx.m[(sf->tx.head + i) % MPX_SF_MAPS];
            if (mpx_seq_geq(mp->off, off0) && mp->dsn <= s && s < mp->dsn + mp->len)
                to = mp->dsn + mp->len;
        }
        for (uint16_t i = 0; queued && i < m->n_reinj; i++)
            if (m->reinj[i].s <= s && s < m->reinj[i].e && m->reinj[i].e > to)
                to = m->reinj[i].e;
        if (to == s)
            return false;
        s = to;
    }
    return true;
}

/* A 64 KB reinjection onto a subflow with room for it all: the subflow's
 * mapping ends at MPX_MAP_MAX in whole segments (64604 bytes here), so it
 * takes a little less than decided. The rest must stay queued: a range
 * moved on by the decision's length left 16 bytes that only the failing
 * subflow had. */
MPX_TEST(mptcp_integrity_reinject_keeps_what_was_not_taken)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 81, big_bufs, NULL);
    long c = b2b_connect_accept(b, 80);
    REQUIRE(c > 0);
    REQUIRE(mpx_conn_add_subflow(b->st[0], (uint32_t)c, &b->addr[0][1], &b->addr[1][1], 80, false,
                                 b->now) == 0);
    b2b_run(b, b->now + 1000 * 1000);
    struct mpx_msk *m = mpx_stack_find(b->st[0], (uint32_t)c);
    REQUIRE(m && m->nsf == 2 && mpx_sf_usable(m->sf[0]) && mpx_sf_usable(m->sf[1]));
    struct mpx_sf *sf0 = m->sf[0], *sf1 = m->sf[1];
    /* room for everything on both subflows, nothing ever acknowledged */
    sf0->tcp->cc.cwnd = sf1->tcp->cc.cwnd = 8 << 20;
    mpx_tcp_sndbuf_tune(sf0->tcp);
    mpx_tcp_sndbuf_tune(sf1->tcp);
    b->mangle = drop_client_data;
    static uint8_t data[200000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 1);
    uint64_t una = m->snd_una;
    REQUIRE(mpx_conn_send(b->st[0], (uint32_t)c, data, sizeof(data), b->now) == (long)sizeof(data));
    b2b_run(b, b->now + 1000); /* out (and dropped); no timer yet */
    REQUIRE(m->snd_una == una);
    REQUIRE(m->snd_nxt >= una + 100000);
    /* the join failed: its range [una, una + 65535) goes to subflow 0 */
    m->n_reinj = 1;
    m->reinj[0].s = una;
    m->reinj[0].e = una + 65535;
    m->reinj[0].from = sf1->id;
    uint32_t off0 = sf0->tx_off;
    mpx_msk_push(m, b->now);
    CHECK(sf0->tx_off > off0); /* it went there */
    CHECK(covered(m, sf0, off0, una, una + 65535, true));
    b2b_free(b);
    free(b);
}

/* A queued range whose origin is the only subflow left has nowhere to go
 * (the scheduler never sends a range back where it came from); it must
 * not hold up the ranges behind it. Against Linux: a range from the
 * initial subflow (it had gone stale and recovered) waited at the head of
 * the queue for a DATA_ACK that could not come, and the ranges of the
 * removed join behind it, the very bytes the DATA_ACK waited for, never
 * went: the transfer stopped for good. */
MPX_TEST(mptcp_integrity_reinject_blocked_range_does_not_block_others)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 82, big_bufs, NULL);
    long c = b2b_connect_accept(b, 80);
    REQUIRE(c > 0);
    REQUIRE(mpx_conn_add_subflow(b->st[0], (uint32_t)c, &b->addr[0][1], &b->addr[1][1], 80, false,
                                 b->now) == 0);
    b2b_run(b, b->now + 1000 * 1000);
    struct mpx_msk *m = mpx_stack_find(b->st[0], (uint32_t)c);
    REQUIRE(m && m->nsf == 2 && mpx_sf_usable(m->sf[0]) && mpx_sf_usable(m->sf[1]));
    struct mpx_sf *sf0 = m->sf[0], *sf1 = m->sf[1];
    sf0->tcp->cc.cwnd = sf1->tcp->cc.cwnd = 8 << 20;
    mpx_tcp_sndbuf_tune(sf0->tcp);
    mpx_tcp_sndbuf_tune(sf1->tcp);
    b->mangle = drop_client_data;
    static uint8_t data[200000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 5 + 3);
    uint64_t una = m->snd_una;
    REQUIRE(mpx_conn_send(b->st[0], (uint32_t)c, data, sizeof(data), b->now) == (long)sizeof(data));
    b2b_run(b, b->now + 1000);
    REQUIRE(m->snd_una == una);
    REQUIRE(m->snd_nxt >= una + 100000);
    /* the join is reset (REMOVE_ADDR, path down): subflow 0 is all that
     * is left; queued: a range of subflow 0's own, then the join's */
    mpx_sf_reset(sf1, MPX_RST_EUNSPEC, b->now);
    mpx_sf_process(sf1, b->now);
    REQUIRE(sf1->gone);
    m->n_reinj = 2;
    m->reinj[0].s = una + 70000;
    m->reinj[0].e = una + 100000;
    m->reinj[0].from = sf0->id;
    m->reinj[1].s = una;
    m->reinj[1].e = una + 20000;
    m->reinj[1].from = sf1->id;
    uint32_t off0 = sf0->tx_off;
    mpx_msk_push(m, b->now);
    CHECK(sf0->tx_off > off0);
    CHECK(covered(m, sf0, off0, una, una + 20000, false));
    b2b_free(b);
    free(b);
}
