/*
 * mptcp_conn_test.c - MPTCP connections over one path in the simulated
 * network: MP_CAPABLE handshake, bulk transfer both directions (SHA-256
 * at the receiver), fallback to TCP, counters.
 */
#include "mpx_test.h"
#include "mptcp_sim.h"

static struct msim_params one_path(uint64_t seed, uint64_t bytes)
{
    struct msim_params p = {.seed = seed, .bytes = bytes, .n_paths = 1};
    p.path[0].rate_bps = 50000000;
    p.path[0].delay_ns = 5 * MPX_NS_PER_MS;
    return p;
}

MPX_TEST(mptcp_conn_handshake_counters)
{
    struct msim_params p = one_path(1, 1000);
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK(r.cinfo.mptcp || r.cinfo.closed);
    CHECK_EQ(r.cmib.MPCapableSYNTX, 1);
    CHECK_EQ(r.smib.MPCapableSYNRX, 1);
    CHECK_EQ(r.cmib.MPCapableSYNACKRX, 1);
    CHECK_EQ(r.smib.MPCapableACKRX, 1);
    CHECK_EQ(r.cmib.MPCapableFallbackSYNACK, 0);
    CHECK_EQ(r.smib.MPCapableFallbackACK, 0);
}

MPX_TEST(mptcp_conn_bulk_client_to_server)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct msim_params p = one_path(seed, 3000000 + seed * 777);
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
        CHECK_EQ(r.smib.MPCapableACKRX, 1);
        CHECK_EQ(r.smib.DSSNotMatching, 0);
    }
}

MPX_TEST(mptcp_conn_bulk_server_to_client)
{
    for (uint64_t seed = 4; seed <= 6; seed++) {
        struct msim_params p = one_path(seed, 2000000 + seed * 1001);
        p.server_sends = true;
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
    }
}

MPX_TEST(mptcp_conn_bulk_lossy)
{
    for (uint64_t seed = 7; seed <= 8; seed++) {
        struct msim_params p = one_path(seed, 1500000);
        p.path[0].loss = 0.01;
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
    }
}

MPX_TEST(mptcp_conn_fallback_server_plain_tcp)
{
    struct msim_params p = one_path(9, 500000);
    p.server_no_mptcp = true;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK_EQ(r.cmib.MPCapableSYNTX, 1);
    CHECK_EQ(r.cmib.MPCapableFallbackSYNACK, 1);
    CHECK_EQ(r.cmib.MPCapableSYNACKRX, 0);
    CHECK(r.cinfo.fallback);
}

MPX_TEST(mptcp_conn_fallback_client_plain_tcp)
{
    struct msim_params p = one_path(10, 500000);
    p.client_no_mptcp = true;
    p.server_sends = true;
    struct msim_result r;
    REQUIRE(msim_bulk(&p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK_EQ(r.smib.MPCapableSYNRX, 0);
    CHECK_EQ(r.cmib.MPCapableSYNTX, 0);
    CHECK(r.sinfo.fallback);
}

/* Both directions at once with loss: data segments then carry SACK blocks
 * for the reverse direction, and the DSS must still get its room. */
MPX_TEST(mptcp_conn_bulk_both_ways_lossy)
{
    for (uint64_t seed = 12; seed <= 13; seed++) {
        struct msim_params p = one_path(seed, 1500000);
        p.both_ways = true;
        p.path[0].loss = 0.02;
        struct msim_result r;
        REQUIRE(msim_bulk(&p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
        CHECK_EQ(r.ctcp.TCPOptHookFail + r.stcp.TCPOptHookFail, 0);
    }
}
