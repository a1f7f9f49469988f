/*
 * mptcp_join_test.c - MP_JOIN subflows and the scheduler in the simulated
 * network: handshake counters, aggregate goodput of two paths, failover
 * when a path blacks out, backup paths, the subflow limit.
 *
 * Goodput bound: the sim's rate limit counts IP bytes. With timestamps and
 * a DSS (64-bit DATA_ACK and DSN) on every data segment a 1500-byte packet
 * carries 1420 bytes of payload, so the ceiling is 1420/1500 = 94.7 % of
 * the raw rate (lab.md's ~94 % is the same overhead counted at L2). The
 * asserted bounds are stated against the raw sum and against that ceiling.
 */
#include <stdio.h>

#include "mpx_test.h"
#include "mptcp_sim.h"

#define MBIT 1000000ull
#define CEIL (1420.0 / 1500.0)

static struct msim_params two_paths(uint64_t seed, uint64_t bytes, uint64_t owd1_ms)
{
    struct msim_params p = {.seed = seed, .bytes = bytes, .n_paths = 2, .join_paths = true};
    for (int i = 0; i < 2; i++) {
        p.path[i].rate_bps = 50 * MBIT;
        p.path[i].delay_ns = 5 * MPX_NS_PER_MS;
    }
    p.path[1].delay_ns = owd1_ms * MPX_NS_PER_MS;
    return p;
}

MPX_TEST(mptcp_join_handshake_counters)
{
    struct msim_params p = two_paths(11, 200000, 5);
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK_EQ(r.cmib.MPJoinSynTx, 1);
    CHECK_EQ(r.smib.MPJoinSynRx, 1);
    CHECK_EQ(r.cmib.MPJoinSynAckRx, 1);
    CHECK_EQ(r.smib.MPJoinAckRx, 1);
    CHECK_EQ(r.smib.MPJoinNoTokenFound, 0);
    CHECK_EQ(r.cmib.MPJoinSynAckHMacFailure, 0);
    CHECK_EQ(r.smib.MPJoinAckHMacFailure, 0);
    CHECK_EQ(r.s_sub_est, 1); /* the join, on the server */
}

/* simult_flows.sh "balanced bwidth": 2 x 50 Mbit/s, RTT 10 ms each. */
MPX_TEST(mptcp_join_two_paths_equal_goodput)
{
    for (uint64_t seed = 1; seed <= 2; seed++) {
        struct msim_params p = two_paths(seed, 60000000, 5);
        p.no_elide = seed == 2; /* every data segment carries its mapping */
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
        printf("  2 x 50 Mbit/s, DSS elision %s: %.2f Mbit/s steady, %.2f overall rtx %u\n",
               p.no_elide ? "off" : "on", r.steady_bps / 1e6, r.goodput_bps / 1e6,
               r.cinfo.rtx_timeouts);
        if (p.no_elide) {
            /* >= 95 % of the DSS ceiling (measured 94.67 = 100 % of it) */
            CHECK(r.steady_bps >= 0.95 * CEIL * 100 * MBIT);
        } else {
            /* the bound: >= 95 % of the raw sum in steady state
             * (measured 95.37 Mbit/s; ceiling with elision 1436/1500) */
            CHECK(r.steady_bps >= 0.95 * 100 * MBIT);
        }
        /* both paths carry a fair share */
        CHECK(r.path_bytes[0] > 20000000 && r.path_bytes[1] > 20000000);
    }
}

/* "balanced bwidth with unbalanced delay": 10 ms and 60 ms RTT. */
MPX_TEST(mptcp_join_two_paths_unequal_rtt_goodput)
{
    struct msim_params p = two_paths(3, 60000000, 30);
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    /* >= 90 % of the raw sum (measured 90.4 Mbit/s = 95.5 % of the ceiling) */
    CHECK(r.steady_bps >= 0.90 * 100 * MBIT);
}

/* Path 0 (the initial subflow) goes down for 2 s mid-transfer: the data
 * stranded on it moves to path 1 within one RTO of path 0 (the stale rule
 * of mptcp_sched.h), and path 0 carries data again once it is back. */
MPX_TEST(mptcp_join_blackout_failover_and_resume)
{
    for (uint64_t seed = 4; seed <= 5; seed++) {
        struct msim_params p = two_paths(seed, 60000000, 5);
        p.path[0].down_at = 2 * MPX_NS_PER_S;
        p.path[0].up_at = 4 * MPX_NS_PER_S;
        p.probe_ns = 5 * MPX_NS_PER_S + 500 * MPX_NS_PER_MS;
        p.gap_from_ns = 1900 * MPX_NS_PER_MS; /* the stall of the failure */
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
        printf("  blackout 2 s on path 0 (seed %llu): longest stall %llu ms\n",
               (unsigned long long)seed, (unsigned long long)(r.max_gap_ns / MPX_NS_PER_MS));
        /* path 0's RTO is >= 200 ms (RTO min); measured 120 ms (the
         * stale rule); the kernel: 316 ms (lab.md) */
        CHECK(r.max_gap_ns <= 200 * MPX_NS_PER_MS);
        CHECK(r.cmib.SubflowStale >= 1);
        CHECK(r.cmib.MPTCPRetrans >= 1);
        /* resumed: path 0 delivered several MB after its return */
        CHECK(r.path_bytes[0] > r.path_bytes_probe[0] + 4000000);
    }
}

/* Backup tests run window-limited (256 KB connection window, no rate
 * limit, so no loss): a slow-start overshoot would make the primary stale
 * for a moment, and then the backup rightly carries data (RFC 8684
 * section 3.3.8: backup when no regular subflow is usable). */
static struct msim_params backup_paths(uint64_t seed, uint64_t bytes)
{
    struct msim_params p = two_paths(seed, bytes, 5);
    p.path[0].rate_bps = p.path[1].rate_bps = 0;
    p.path[1].backup = true;
    p.rcvbuf = 256 * 1024;
    return p;
}

/* A backup path carries no data while the primary works... */
MPX_TEST(mptcp_join_backup_idle_while_primary_works)
{
    struct msim_params p = backup_paths(6, 10000000);
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK_EQ(r.smib.MPJoinSynBackupRx, 1);
    CHECK(r.path_bytes[0] > 10000000);
    CHECK(r.path_bytes[1] < 2000); /* join handshake and FIN only */
}

/* ... and everything once the primary is gone for good. */
MPX_TEST(mptcp_join_backup_takes_over)
{
    struct msim_params p = backup_paths(7, 20000000);
    p.path[0].down_at = 200 * MPX_NS_PER_MS;
    p.probe_ns = 200 * MPX_NS_PER_MS;
    p.gap_from_ns = 150 * MPX_NS_PER_MS;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.path_bytes_probe[1] < 2000);
    CHECK(r.path_bytes[1] > 15000000);
    /* one RTO of path 0 (200 ms min + RTT) and an RTT: measured 230 ms */
    CHECK(r.max_gap_ns <= 250 * MPX_NS_PER_MS);
}

/* ip mptcp limits subflows 1: of two joins one is refused with
 * MP_TCPRST "administratively prohibited" (MPJoinRejected). */
MPX_TEST(mptcp_join_too_many_subflows)
{
    struct msim_params p = two_paths(8, 2000000, 5);
    p.n_paths = 3;
    p.path[2] = p.path[1];
    p.max_subflows = 1;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK_EQ(r.smib.MPJoinSynRx, 2);
    CHECK_EQ(r.smib.MPJoinRejected, 1);
    CHECK_EQ(r.smib.MPJoinAckRx, 1);
    CHECK_EQ(r.cmib.MPRstRx, 1);
    CHECK_EQ(r.s_sub_est, 1);
}

/* The other schedulers and coupled congestion control (RFC 6356 LIA)
 * carry a transfer over two paths intact. */
MPX_TEST(mptcp_join_schedulers_and_lia)
{
    static const struct {
        const char *sched, *cc;
    } t[] = {{"roundrobin", NULL}, {"redundant", NULL}, {"default", "lia"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct msim_params p = two_paths(20 + i, 8000000, 10);
        p.scheduler = t[i].sched;
        p.cc = t[i].cc;
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
        CHECK(r.path_bytes[0] > 1000000 && r.path_bytes[1] > 1000000);
        if (t[i].sched[1] == 'e' && t[i].sched[0] == 'r') /* redundant: every byte twice */
            CHECK(r.smib.DuplicateData > 100);
    }
}

/* 30 Mbit/s and 10 Mbit/s with opposed delays: the fast path has the long
 * RTT (30 Mbit/s @ 60 ms + 10 Mbit/s @ 10 ms), the mirror case (the
 * initial subflow on the slow path), and the server sending. Steady state
 * from 2 s (slow start on the 60 ms path overshoots its queue and takes
 * an RTO in the first second). */
MPX_TEST(mptcp_join_30_10_opposed_delays)
{
    static const struct {
        uint64_t rate0, owd0, rate1, owd1;
        bool server_sends;
    } t[] = {{30, 30, 10, 5, false}, {10, 5, 30, 30, false}, {30, 30, 10, 5, true}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct msim_params p = {
            .seed = 30 + i, .bytes = 20000000, .n_paths = 2, .join_paths = true};
        p.warmup_ns = 2 * MPX_NS_PER_S;
        p.server_sends = t[i].server_sends;
        p.path[0].rate_bps = t[i].rate0 * MBIT;
        p.path[0].delay_ns = t[i].owd0 * MPX_NS_PER_MS;
        p.path[1].rate_bps = t[i].rate1 * MBIT;
        p.path[1].delay_ns = t[i].owd1 * MPX_NS_PER_MS;
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
        printf("  %llu@%llums + %llu@%llums %s: %.1f Mbit/s steady, %.1f overall\n",
               (unsigned long long)t[i].rate0, (unsigned long long)t[i].owd0 * 2,
               (unsigned long long)t[i].rate1, (unsigned long long)t[i].owd1 * 2,
               t[i].server_sends ? "s->c" : "c->s", r.steady_bps / 1e6, r.goodput_bps / 1e6);
        /* >= 90 % of the raw sum (measured 38.2-38.3 = 95.5 % of it) */
        CHECK(r.steady_bps >= 0.90 * 40 * MBIT);
        /* the 30 Mbit/s path carries most */
        CHECK(r.path_bytes[t[i].rate0 > t[i].rate1 ? 0 : 1] > 12000000);
    }
}

/* Path comeback: the owner reports path 1's link down (its subflow is
 * reset at once, its data moves to path 0), then up again: the path
 * manager re-creates the subflow with a new MP_JOIN and path 1 carries
 * data again. */
static void path_ev(void *arg, struct mpx_sim *sim, uint64_t now, bool up)
{
    struct msim *h = arg;
    (void)sim;
    struct mpx_addr a = mpx_addr_v4(0x0a000101u); /* the client on path 1 */
    mpx_stack_path_event(msim_stack(h, 0), &a, up, now);
}

static void path1_down(void *arg, struct mpx_sim *sim, uint64_t now)
{
    path_ev(arg, sim, now, false);
}

static void path1_up(void *arg, struct mpx_sim *sim, uint64_t now)
{
    path_ev(arg, sim, now, true);
}

static void comeback_hook(struct msim *h, void *arg)
{
    (void)arg;
    mpx_sim_at(msim_sim(h), 1 * MPX_NS_PER_S, path1_down, h);
    mpx_sim_at(msim_sim(h), 2 * MPX_NS_PER_S, path1_up, h);
}

MPX_TEST(mptcp_join_path_comeback)
{
    struct msim_params p = two_paths(40, 20000000, 5);
    p.path[1].down_at = 1 * MPX_NS_PER_S;
    p.path[1].up_at = 2 * MPX_NS_PER_S;
    p.probe_ns = 2 * MPX_NS_PER_S;
    p.gap_from_ns = 900 * MPX_NS_PER_MS;
    p.setup_hook = comeback_hook;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    printf("  path 1 down 1 s (link-down event), then up: stall %llu ms, joins %llu, path 1 "
           "%.1f MB after comeback\n",
           (unsigned long long)(r.max_gap_ns / MPX_NS_PER_MS),
           (unsigned long long)r.smib.MPJoinAckRx,
           (double)(r.path_bytes[1] - r.path_bytes_probe[1]) / 1e6);
    CHECK_EQ(r.cmib.MPJoinSynTx, 2);
    CHECK_EQ(r.smib.MPJoinAckRx, 2); /* the first join and its re-creation */
    CHECK(r.path_bytes[1] > r.path_bytes_probe[1] + 2000000);
    /* measured 126 ms; the kernel: 231 ms on link down (lab.md) */
    CHECK(r.max_gap_ns <= 200 * MPX_NS_PER_MS);
}

/* A path that silently eats data (data direction only: its ACKs pass,
 * no link event): stale detection moves its data elsewhere. */
static void eat_data(struct msim *h, void *arg)
{
    (void)arg;
    mpx_sim_link_blackout(msim_sim(h), msim_link(h, 1), MPX_SIM_AB, 1 * MPX_NS_PER_S,
                          30 * MPX_NS_PER_S);
}

MPX_TEST(mptcp_join_silent_data_loss)
{
    struct msim_params p = two_paths(41, 12000000, 5);
    p.setup_hook = eat_data;
    p.gap_from_ns = 900 * MPX_NS_PER_MS;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    printf("  path 1 eats data from 1 s: stall %llu ms, conn rtx %u, MPTCPRetrans %llu, stale "
           "%llu\n",
           (unsigned long long)(r.max_gap_ns / MPX_NS_PER_MS), r.cinfo.rtx_timeouts,
           (unsigned long long)r.cmib.MPTCPRetrans, (unsigned long long)r.cmib.SubflowStale);
    CHECK(r.cmib.SubflowStale >= 1);
    CHECK(r.cmib.MPTCPRetrans >= 1);
    CHECK(r.max_gap_ns <= 250 * MPX_NS_PER_MS);
}

/* Worse: on path 1 a broken proxy eats the client's data segments and
 * ACKs them itself (with the server's last options, so no DATA_ACK
 * progress) from 1.0 to 1.5 s. The subflow looks healthy (its ACKs
 * advance), only the DATA_ACK stalls: the connection-level retransmission
 * timer (Linux mptcp_retransmit_timer) sends the head again on path 0. */
MPX_TEST(mptcp_join_conn_rtx_timer)
{
    struct msim_pep pe = {.from_ns = 1 * MPX_NS_PER_S, .until_ns = 1500 * MPX_NS_PER_MS};
    struct msim_params p = two_paths(42, 20000000, 5);
    p.filter = msim_pep_filter;
    p.hook_arg = &pe;
    p.gap_from_ns = 900 * MPX_NS_PER_MS;
    p.time_limit_ns = 20 * MPX_NS_PER_S;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    printf("  proxy eats path 1 data 1.0-1.5 s: %d segments, stall %llu ms, conn rtx %u, "
           "MPTCPRetrans %llu, stale %llu\n",
           pe.eaten, (unsigned long long)(r.max_gap_ns / MPX_NS_PER_MS), r.cinfo.rtx_timeouts,
           (unsigned long long)r.cmib.MPTCPRetrans, (unsigned long long)r.cmib.SubflowStale);
    CHECK(pe.eaten > 100);
    CHECK(r.cinfo.rtx_timeouts >= 1);
    CHECK(r.cmib.MPTCPRetrans >= 1);
    /* measured 1.68 s: the first timer's reinjection partly went to path
     * 1 and was eaten too; the backed-off second one completes it */
    CHECK(r.max_gap_ns <= 2500 * MPX_NS_PER_MS);
}

/* A middlebox on path 1 strips the DSS mapping from one data segment that
 * starts a mapping: the receiver finds in-order data outside every
 * mapping and, with two subflows (no fallback possible), resets that
 * subflow with MP_TCPRST (Linux MAPPING_INVALID); its data goes on path 0
 * and the transfer completes intact. */
static bool strip_one_map(struct msim *h, void *arg, int node, const uint8_t *pkt, size_t len,
                          uint64_t now)
{
    int *done = arg;
    struct mpx_pkt p;
    struct mpx_addr c1 = mpx_addr_v4(0x0a000101u);
    if (*done || node != 0 || now < 1 * MPX_NS_PER_S || mpx_pkt_decode(pkt, len, false, &p) < 0 ||
        !mpx_addr_eq(&p.ip.src, &c1) || !p.payload_len)
        return true;
    for (uint8_t i = 0; i < p.tcp.opts.n_mptcp; i++) {
        struct mpx_mptcp_opt *o = &p.tcp.opts.mptcp[i];
        if (o->subtype != MPX_MPTCP_SUB_DSS || !o->u.dss.has_map)
            continue;
        struct mpx_opt_dss ack = {
            .has_ack = o->u.dss.has_ack, .ack64 = o->u.dss.ack64, .data_ack = o->u.dss.data_ack};
        o->u.dss = ack;
        uint8_t out[2048];
        int n = mpx_pkt_encode(out, sizeof(out), &p.ip, &p.tcp, p.payload, p.payload_len, NULL);
        if (n > 0)
            mpx_sim_send(msim_sim(h), msim_node(h, 0), out, (size_t)n);
        *done = n > 0;
        return false;
    }
    return true;
}

MPX_TEST(mptcp_join_mapping_stripped_resets_subflow)
{
    int done = 0;
    struct msim_params p = two_paths(43, 12000000, 5);
    p.filter = strip_one_map;
    p.hook_arg = &done;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(done);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.smib.MPRstTx >= 1);
    CHECK(r.cmib.MPRstRx >= 1);
    CHECK_EQ(r.smib.DssFallback + r.cmib.DssFallback, 0);
}
