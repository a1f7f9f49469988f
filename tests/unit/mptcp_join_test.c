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
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
        /* steady state (after 1 s): >= 95 % of the DSS ceiling of the sum
         * (measured 94.7 Mbit/s = 100 % of it, 94.7 % of the raw sum) */
        CHECK(r.steady_bps >= 0.95 * CEIL * 100 * MBIT);
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
        /* path 0's RTO is >= 200 ms (RTO min); measured 124 ms */
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
