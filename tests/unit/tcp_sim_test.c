/*
 * tcp_sim_test.c - TCP engine bulk transfers over the simulated network
 * (tests/unit/tcp_sim.h): two engines, a 50 Mbit/s bottleneck, 20 ms RTT,
 * SHA-256 of the stream checked at the receiver. Each scenario runs for
 * three seeds; tcp_soak_* run MPX_SOAK_SEEDS seeds (default 2) more.
 */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "mpx_test.h"
#include "tcp_sim.h"

#define RATE        50000000ull
#define DELAY       (10 * MPX_NS_PER_MS) /* one way: RTT 20 ms */
#define MSS_PAYLOAD 1448.0               /* 1500 - 20 IP - 20 TCP - 12 timestamps */

static struct tcp_bulk_params base_params(uint64_t seed, uint64_t bytes)
{
    struct tcp_bulk_params p = {
        .seed = seed,
        .bytes = bytes,
        .rate_bps = RATE,
        .delay_ns = DELAY,
        .time_limit_ns = 300 * MPX_NS_PER_S,
    };
    return p;
}

static bool run_ok(const struct tcp_bulk_params *p, struct tcp_bulk_result *r)
{
    if (tcp_sim_bulk(p, r) != 0)
        return false;
    if (!r->completed || !r->hash_ok || !r->both_closed)
        fprintf(stderr, "seed %llu: completed %d hash %d closed %d received %llu\n",
                (unsigned long long)p->seed, r->completed, r->hash_ok, r->both_closed,
                (unsigned long long)r->received);
    return r->completed && r->hash_ok && r->both_closed;
}

/* Mathis et al. 1997: rate ~ MSS/RTT * C/sqrt(p), C = sqrt(3/2) ~ 1.22 for
 * Reno with delayed ACKs ignored. */
static double mathis_bps(double loss)
{
    return MSS_PAYLOAD * 8 / 0.020 * 1.22 / sqrt(loss);
}

static void no_loss(bool server_sends, const char *cc)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct tcp_bulk_params p = base_params(seed, 60000000);
        struct tcp_bulk_result r;
        p.server_sends = server_sends;
        p.cc = cc;
        REQUIRE(run_ok(&p, &r));
        /* 60 MB lasts ~10 s, so slow start and the handshake cost < 1 %:
         * the payload rate must reach 95 % of the link rate (headers
         * take 3.5 % of it, so this leaves ~1.5 % for everything else). */
        fprintf(stderr, "%s seed %llu goodput %.2f Mbit/s (bound %.2f)\n",
                server_sends ? "server->client" : "client->server", (unsigned long long)seed,
                r.goodput_bps / 1e6, 0.95 * RATE / 1e6);
        CHECK(r.goodput_bps >= 0.95 * RATE);
        CHECK_EQ(r.snd_mib.RetransSegs, 0);
        CHECK_EQ(r.snd_info.bytes_acked, p.bytes);
        CHECK_EQ(r.rcv_info.bytes_received, p.bytes);
        /* the receive buffer grew past its initial 128 KiB (autotuning) */
        CHECK(r.rcv_info.rcv_buf > 128 * 1024);
        CHECK(r.snd_info.min_rtt_us >= 20000);
    }
}

MPX_TEST(tcp_sim_bulk_noloss_client_to_server)
{
    no_loss(false, NULL);
}

MPX_TEST(tcp_sim_bulk_noloss_server_to_client_reno)
{
    no_loss(true, "reno");
}

/* 1 % random loss on the data path. Mathis-Reno at 20 ms and p = 0.01 is
 * 7.1 Mbit/s; CUBIC at this small BDP runs in its Reno-friendly region, so
 * it is close to that. Accepted range: 0.5x to 3x Mathis-Reno (the upper
 * bound catches a sender that ignores loss). */
static void one_percent(uint64_t seed, bool sack, const char *cc, bool server_sends)
{
    struct tcp_bulk_params p = base_params(seed, 6000000);
    struct tcp_bulk_result r;
    p.loss = 0.01;
    p.no_sack = !sack;
    p.cc = cc;
    p.server_sends = server_sends;
    REQUIRE(run_ok(&p, &r));
    double m = mathis_bps(0.01);
    fprintf(stderr, "seed %llu goodput %.2f Mbit/s, Mathis-Reno %.2f (bounds 0.5x-3x)\n",
            (unsigned long long)seed, r.goodput_bps / 1e6, m / 1e6);
    CHECK(r.goodput_bps >= 0.5 * m);
    CHECK(r.goodput_bps <= 3 * m);
    CHECK(r.snd_mib.RetransSegs > 0);
    if (sack)
        CHECK(r.snd_mib.TCPSackRecovery > 0);
    else
        CHECK(r.snd_mib.TCPRenoRecovery > 0);
}

MPX_TEST(tcp_sim_bulk_loss1_sack_cubic)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        one_percent(seed, true, NULL, false);
}

MPX_TEST(tcp_sim_bulk_loss1_newreno_nosack)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        one_percent(seed, false, "reno", true);
}

static void harsh(uint64_t seed, bool sack, uint32_t iss, bool use_iss)
{
    struct tcp_bulk_params p = base_params(seed, 2000000);
    struct tcp_bulk_result r;
    p.loss = 0.05;
    p.ack_loss = 0.01;
    p.reorder_prob = 0.05;
    p.reorder_depth = 3;
    p.dup_prob = 0.02;
    p.no_sack = !sack;
    p.use_iss = use_iss;
    p.iss = iss;
    REQUIRE(run_ok(&p, &r));
    CHECK(r.snd_mib.RetransSegs > 0);
    CHECK(r.rcv_mib.TCPOFOQueue > 0);
}

MPX_TEST(tcp_sim_bulk_loss5_reorder_dup)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        harsh(seed, true, 0, false);
}

MPX_TEST(tcp_sim_bulk_loss5_reorder_dup_nosack)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        harsh(seed, false, 0, false);
}

/* Both ISNs just below 2^32: the sequence numbers wrap during the transfer
 * (and in the loss case while data is out of order). */
MPX_TEST(tcp_sim_bulk_isn_wrap)
{
    static const uint32_t isns[] = {0xffffffffu, 0xfffff000u, 0xfff00000u};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct tcp_bulk_params p = base_params(seed, 3000000);
        struct tcp_bulk_result r;
        p.use_iss = true;
        p.iss = isns[seed - 1];
        p.loss = 0.01;
        p.server_sends = seed == 2;
        REQUIRE(run_ok(&p, &r));
        harsh(seed, seed != 3, isns[seed - 1], true);
    }
}

MPX_TEST(tcp_sim_bulk_super_segments)
{
    struct tcp_bulk_params p = base_params(7, 4000000);
    struct tcp_bulk_result r;
    p.max_seg = 65536;
    p.rate_bps = 0;
    REQUIRE(run_ok(&p, &r));
    /* far fewer packets than MSS-sized segments would need */
    CHECK(r.snd_info.data_segs_out < 4000000 / 1448 / 4);
}

/* A 3 s blackout mid-transfer: RTO backoff, then the transfer resumes. */
MPX_TEST(tcp_sim_bulk_blackout_recovers)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct tcp_bulk_params p = base_params(seed, 8000000);
        struct tcp_bulk_result r;
        p.blackout_start = 500 * MPX_NS_PER_MS;
        p.blackout_end = 3500 * MPX_NS_PER_MS;
        p.server_sends = seed == 2;
        REQUIRE(run_ok(&p, &r));
        CHECK(r.snd_mib.TCPTimeouts >= 3); /* 0.2 + 0.4 + 0.8 + 1.6 s > 3 s */
        CHECK(r.duration_ns > 3500 * MPX_NS_PER_MS);
    }
}

/* A 16 KiB receive buffer: the window, not cwnd, limits the sender; with
 * loss and bursty loss the window closes and opens, data stays intact. */
MPX_TEST(tcp_sim_bulk_small_rcvbuf)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct tcp_bulk_params p = base_params(seed, 2000000);
        struct tcp_bulk_result r;
        p.rmem_max = 16384;
        p.loss = 0.01;
        p.ge.p_good_to_bad = 0.01;
        p.ge.p_bad_to_good = 0.5;
        p.ge.loss_bad = 1;
        p.server_sends = seed == 3;
        REQUIRE(run_ok(&p, &r));
        CHECK(r.rcv_info.rcv_buf <= 16384);
        /* one window per RTT at most: 16 KiB / 20 ms = 6.5 Mbit/s */
        CHECK(r.goodput_bps < 6.6e6);
    }
}

/* Connecting to a port nobody listens on: RST, "connection refused". */
MPX_TEST(tcp_sim_connect_refused)
{
    struct tcp_bulk_params p = base_params(1, 1000);
    struct tcp_bulk_result r;
    p.rport = 81;
    REQUIRE(tcp_sim_bulk(&p, &r) == 0);
    CHECK(!r.completed);
    CHECK_INT(r.client_error, MPX_ERR_REFUSED);
}

static unsigned soak_seeds(void)
{
    const char *e = getenv("MPX_SOAK_SEEDS");
    long n = e ? strtol(e, NULL, 10) : 2;
    return n > 0 && n < 100000 ? (unsigned)n : 2;
}

MPX_TEST(tcp_soak_harsh_seeds)
{
    unsigned n = soak_seeds();
    for (unsigned i = 0; i < n; i++) {
        uint64_t seed = 1000 + i;
        harsh(seed, seed % 2 == 0, (uint32_t)(0u - seed * 7919u), seed % 3 == 0);
        one_percent(seed, seed % 2 == 1, seed % 4 == 0 ? "reno" : NULL, seed % 2 == 0);
    }
}
