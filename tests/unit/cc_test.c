/* Tests for cc.c, cc_reno.c, cc_cubic.c: driven by a small simulated ACK
 * clock (one round per RTT, the whole cwnd ACKed in evenly spaced ACKs).
 * Expected CUBIC values are computed here in double precision from the
 * RFC 9438 formulas, independently of the integer code under test. */
#include <math.h>
#include <stdlib.h>

#include "cc.h"
#include "err.h"
#include "mpx_test.h"

#define MS     1000000ull /* ns */
#define SEC    1000000000ull
#define MSS    1000u
#define BETA   0.7
#define C_CUB  0.4
#define ALPHA  (3.0 * (1 - BETA) / (1 + BETA))
#define TICKSZ (1.0 / 1048576.0) /* cc_cubic.c time unit, seconds */

struct sim {
    struct mpx_cc cc;
    uint64_t now;
    uint64_t rtt;
    uint32_t per_ack;   /* bytes covered by one ACK */
    uint64_t first_ack; /* time of the first ACK of the run (epoch start) */
    bool no_inflight;   /* report in_flight = 0 (an engine that does not know) */
};

static void sim_init(struct sim *s, const struct mpx_cc_ops *ops, uint64_t rtt, uint32_t per_ack)
{
    memset(s, 0, sizeof(*s));
    s->now = 1000 * SEC;
    s->rtt = rtt;
    s->per_ack = per_ack;
    mpx_cc_init(&s->cc, ops, MSS, s->now);
}

static void sim_ack(struct sim *s, uint32_t acked, uint32_t in_flight, uint64_t dt, bool app_lim)
{
    struct mpx_cc_ack a = {
        .now = s->now + dt,
        .acked = acked,
        .in_flight = in_flight,
        .rtt = s->rtt,
        .srtt = s->rtt,
        .min_rtt = s->rtt,
        .app_limited = app_lim,
    };
    s->now += dt;
    if (!s->first_ack)
        s->first_ack = s->now;
    mpx_cc_on_ack(&s->cc, &a);
}

/* One RTT: everything sent at the start (a full cwnd, or |limit| bytes if
 * smaller: the application-limited case) is ACKed, ACKs evenly spread. A
 * cwnd-limited sender refills the window after each ACK, so the bytes in
 * flight before an ACK are the cwnd. */
static void sim_round_limited(struct sim *s, uint32_t limit, bool app_lim)
{
    uint32_t flight = s->cc.cwnd < limit ? s->cc.cwnd : limit;
    uint32_t n = (flight + s->per_ack - 1) / s->per_ack;
    uint32_t left = flight;

    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = left < s->per_ack ? left : s->per_ack;
        uint32_t in_flight = s->no_inflight ? 0 : app_lim ? left : s->cc.cwnd;
        sim_ack(s, a, in_flight, s->rtt / n, app_lim);
        left -= a;
    }
}

static void sim_round(struct sim *s)
{
    sim_round_limited(s, UINT32_MAX, false);
}

/* Put |s| in congestion avoidance at cwnd = w (no epoch yet). */
static void sim_set_ca(struct sim *s, uint32_t w)
{
    s->cc.cwnd = w;
    s->cc.ssthresh = w;
}

/* A loss at cwnd = w_max, then recovery ends at once: the CA epoch starts
 * with the next ACK. */
static void sim_loss_at(struct sim *s, uint32_t w_max)
{
    sim_set_ca(s, w_max);
    mpx_cc_on_congestion(&s->cc, s->now, w_max);
    mpx_cc_on_recovery_exit(&s->cc, s->now);
    s->first_ack = 0;
}

/* RFC 9438 eq. 1 and 2 in bytes and seconds. */
static double ref_k_mss(double w_max, double cwnd_epoch, double mss)
{
    return cbrt((w_max - cwnd_epoch) / mss / C_CUB);
}

static double ref_k(double w_max, double cwnd_epoch)
{
    return ref_k_mss(w_max, cwnd_epoch, MSS);
}

static double ref_w_cubic(double t, double k, double w_max)
{
    return (C_CUB * pow(t - k, 3.0)) * MSS + w_max;
}

/* --- common ----------------------------------------------------------- */

MPX_TEST(cc_init_initial_window_rfc6928)
{
    static const struct {
        uint32_t mss, iw;
    } v[] = {
        {536, 5360},   /* 10*MSS smaller than 14600 */
        {1000, 10000}, /* 10*MSS */
        {1460, 14600}, /* exactly 14600 */
        {4000, 14600}, /* max(2*MSS, 14600) */
        {9000, 18000}, /* 2*MSS above 14600 */
        {0, 5360},     /* no MSS: RFC 9293 default 536 */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct mpx_cc cc;
        CHECK_INT(mpx_cc_initial_window(v[i].mss), v[i].iw);
        mpx_cc_init(&cc, &mpx_cc_reno, v[i].mss, 0);
        CHECK_INT(cc.cwnd, v[i].iw);
        CHECK_EQ(cc.ssthresh, MPX_CC_SSTHRESH_INF);
        CHECK(mpx_cc_in_slow_start(&cc));
        CHECK(cc.group == NULL);
    }
}

MPX_TEST(cc_find_registry)
{
    struct mpx_cc cc;

    CHECK(mpx_cc_find("reno") == &mpx_cc_reno);
    CHECK(mpx_cc_find("cubic") == &mpx_cc_cubic);
    CHECK(mpx_cc_find("bbr") == NULL);
    CHECK(mpx_cc_find("") == NULL);
    CHECK(mpx_cc_find(NULL) == NULL);
    CHECK(mpx_cc_default() == &mpx_cc_cubic);
    mpx_cc_init(&cc, NULL, MSS, 0);
    CHECK(cc.ops == &mpx_cc_cubic);
}

/* TCP_CONGESTION on a live connection keeps the window. */
MPX_TEST(cc_switch_keeps_window)
{
    struct sim s;

    sim_init(&s, &mpx_cc_reno, 10 * MS, MSS);
    sim_round(&s);
    CHECK_INT(s.cc.cwnd, 20000);
    mpx_cc_switch(&s.cc, &mpx_cc_cubic, s.now);
    CHECK(s.cc.ops == &mpx_cc_cubic);
    CHECK_INT(s.cc.cwnd, 20000);
    CHECK_EQ(s.cc.ssthresh, MPX_CC_SSTHRESH_INF);
    sim_round(&s);
    CHECK_INT(s.cc.cwnd, 40000);
}

/* --- reno ------------------------------------------------------------- */

/* Slow start doubles cwnd every RTT, whether every segment is ACKed or
 * every second one (ABC with L = 2 counts both the same). */
MPX_TEST(cc_reno_slow_start_doubles_per_rtt)
{
    for (uint32_t per = MSS; per <= 2 * MSS; per += MSS) {
        struct sim s;
        sim_init(&s, &mpx_cc_reno, 50 * MS, per);
        for (int r = 1; r <= 6; r++) {
            sim_round(&s);
            CHECK_INT(s.cc.cwnd, 10000u << r);
        }
    }
}

/* RFC 3465 §2.2: one ACK never grows cwnd by more than L*SMSS. */
MPX_TEST(cc_reno_slow_start_abc_limit)
{
    struct sim s;

    sim_init(&s, &mpx_cc_reno, 50 * MS, MSS);
    sim_ack(&s, 8 * MSS, 10 * MSS, MS, false); /* stretch ACK of 8 segments */
    CHECK_INT(s.cc.cwnd, 10000 + 2 * MSS);
    sim_ack(&s, 500, 2 * MSS, MS, false); /* a partial segment: 500 bytes */
    CHECK_INT(s.cc.cwnd, 12500);
}

/* Slow start stops at ssthresh; the rest of that ACK counts for CA. */
MPX_TEST(cc_reno_slow_start_stops_at_ssthresh)
{
    struct sim s;

    sim_init(&s, &mpx_cc_reno, 50 * MS, MSS);
    s.cc.ssthresh = 15500;
    for (int i = 0; i < 5; i++)
        sim_ack(&s, MSS, 10 * MSS, MS, false);
    CHECK_INT(s.cc.cwnd, 15000);
    sim_ack(&s, 2 * MSS, 10 * MSS, MS, false);
    CHECK_INT(s.cc.cwnd, 15500);
    CHECK(!mpx_cc_in_slow_start(&s.cc));
    CHECK_INT(s.cc.u.reno.ca_acked, 1500);
}

/* RFC 5681 §3.1 congestion avoidance: one MSS per RTT, exactly, for any
 * ACK size (byte counting carries the remainder). */
MPX_TEST(cc_reno_ca_one_mss_per_rtt)
{
    static const uint32_t per_ack[] = {MSS, 2 * MSS, 700, 3 * MSS};
    for (size_t i = 0; i < sizeof(per_ack) / sizeof(per_ack[0]); i++) {
        struct sim s;
        sim_init(&s, &mpx_cc_reno, 20 * MS, per_ack[i]);
        sim_set_ca(&s, 40 * MSS);
        for (int r = 1; r <= 30; r++) {
            sim_round(&s);
            /* The round ACKs the cwnd it started with: exactly one MSS. */
            CHECK_INT(s.cc.cwnd, (40 + r) * MSS);
        }
    }
}

/* RFC 5681 eq. 4 and fast recovery: once per window, no growth inside. */
MPX_TEST(cc_reno_congestion_values)
{
    struct sim s;

    sim_init(&s, &mpx_cc_reno, 20 * MS, MSS);
    sim_set_ca(&s, 50 * MSS);
    mpx_cc_on_congestion(&s.cc, s.now, 40 * MSS);
    CHECK_INT(s.cc.ssthresh, 20 * MSS);
    CHECK_INT(s.cc.cwnd, 20 * MSS);
    CHECK(s.cc.in_recovery);
    CHECK_INT(s.cc.n_congestion, 1);
    /* A second loss in the same window: no further reduction. */
    mpx_cc_on_congestion(&s.cc, s.now, 20 * MSS);
    CHECK_INT(s.cc.cwnd, 20 * MSS);
    CHECK_INT(s.cc.n_congestion, 1);
    /* ACKs during recovery do not grow cwnd. */
    sim_round(&s);
    CHECK_INT(s.cc.cwnd, 20 * MSS);
    mpx_cc_on_recovery_exit(&s.cc, s.now);
    CHECK(!s.cc.in_recovery);
    sim_round(&s);
    CHECK_INT(s.cc.cwnd, 21 * MSS);
    /* Tiny flight: ssthresh floor is 2*MSS. */
    mpx_cc_on_congestion(&s.cc, s.now, 1500);
    CHECK_INT(s.cc.ssthresh, 2 * MSS);
    CHECK_INT(s.cc.cwnd, 2 * MSS);
}

/* RFC 5681 §3.1: RTO sets cwnd to the loss window (1 MSS) and ssthresh to
 * max(FlightSize/2, 2*SMSS), held constant on repeated timeouts. */
MPX_TEST(cc_reno_rto_values)
{
    struct sim s;

    sim_init(&s, &mpx_cc_reno, 20 * MS, MSS);
    sim_set_ca(&s, 50 * MSS);
    mpx_cc_on_rto(&s.cc, s.now, 40 * MSS);
    CHECK_INT(s.cc.ssthresh, 20 * MSS);
    CHECK_INT(s.cc.cwnd, MSS);
    CHECK(s.cc.in_loss);
    /* Backed-off timeout of the same data: ssthresh held. */
    mpx_cc_on_rto(&s.cc, s.now, MSS);
    CHECK_INT(s.cc.ssthresh, 20 * MSS);
    CHECK_INT(s.cc.cwnd, MSS);
    CHECK_INT(s.cc.n_rto, 2);
    /* Dupacks from the flight sent before the RTO: no second reduction. */
    mpx_cc_on_congestion(&s.cc, s.now, 3 * MSS);
    CHECK_INT(s.cc.ssthresh, 20 * MSS);
    CHECK_INT(s.cc.cwnd, MSS);
    CHECK(!s.cc.in_recovery);
    /* New data ACKed: slow start again from 1 MSS. */
    sim_ack(&s, MSS, MSS, 20 * MS, false);
    CHECK(!s.cc.in_loss);
    CHECK_INT(s.cc.cwnd, 2 * MSS);
    /* Now a new timeout is a new episode. */
    mpx_cc_on_rto(&s.cc, s.now, 6 * MSS);
    CHECK_INT(s.cc.ssthresh, 3 * MSS);
    CHECK_INT(s.cc.cwnd, MSS);
    /* RTO during recovery ends the recovery. */
    sim_set_ca(&s, 30 * MSS);
    mpx_cc_on_congestion(&s.cc, s.now, 30 * MSS);
    mpx_cc_on_rto(&s.cc, s.now, 30 * MSS);
    CHECK(!s.cc.in_recovery);
    CHECK_INT(s.cc.cwnd, MSS);
}

/* Slow start to ssthresh after an RTO, then CA: the whole Reno cycle. */
MPX_TEST(cc_reno_rto_then_slow_start_to_ssthresh)
{
    struct sim s;
    int rounds = 0;

    sim_init(&s, &mpx_cc_reno, 20 * MS, MSS);
    sim_set_ca(&s, 64 * MSS);
    mpx_cc_on_rto(&s.cc, s.now, 64 * MSS);
    while (mpx_cc_in_slow_start(&s.cc) && rounds < 20) {
        sim_round(&s);
        rounds++;
    }
    /* 1 -> 2 -> 4 -> 8 -> 16 -> 32 = ssthresh: five rounds. */
    CHECK_INT(rounds, 5);
    CHECK_INT(s.cc.cwnd, 32 * MSS);
    sim_round(&s);
    CHECK_INT(s.cc.cwnd, 33 * MSS);
}

/* --- both algorithms ---------------------------------------------------- */

/* An application-limited sender does not grow cwnd (RFC 7661 spirit). */
MPX_TEST(cc_app_limited_freezes_growth)
{
    const struct mpx_cc_ops *ops[] = {&mpx_cc_reno, &mpx_cc_cubic, &mpx_cc_lia};
    for (size_t i = 0; i < 3; i++) {
        struct sim s;
        sim_init(&s, ops[i], 20 * MS, MSS);
        /* Slow start. */
        for (int r = 0; r < 5; r++)
            sim_round_limited(&s, 4 * MSS, true);
        CHECK_INT(s.cc.cwnd, 10 * MSS);
        /* Congestion avoidance after a loss. */
        sim_loss_at(&s, 100 * MSS);
        uint32_t w = s.cc.cwnd;
        for (int r = 0; r < 50; r++)
            sim_round_limited(&s, 10 * MSS, true);
        CHECK_INT(s.cc.cwnd, w);
        /* Not limited: grows again. */
        sim_round(&s);
        CHECK(s.cc.cwnd > w);
    }
}

/* cwnd stays in [1 MSS (RTO) / 2 MSS, MPX_CC_CWND_MAX]. */
MPX_TEST(cc_bounds_cwnd)
{
    const struct mpx_cc_ops *ops[] = {&mpx_cc_reno, &mpx_cc_cubic};
    for (size_t i = 0; i < 2; i++) {
        struct sim s;
        sim_init(&s, ops[i], 1 * MS, 65000);
        s.cc.mss = 65000;
        /* Slow start up to the cap: never past it, never wraps. */
        for (int r = 0; r < 40; r++)
            sim_ack(&s, 2 * 65000, 4000000, MS, false);
        for (int r = 0; r < 20000; r++)
            sim_ack(&s, 65000, UINT32_MAX, MS, false);
        CHECK(s.cc.cwnd <= MPX_CC_CWND_MAX);
        sim_set_ca(&s, MPX_CC_CWND_MAX - 10);
        for (int r = 0; r < 3; r++)
            sim_round(&s);
        CHECK_INT(s.cc.cwnd, MPX_CC_CWND_MAX);
        /* A huge stretch ACK in CA. */
        sim_ack(&s, UINT32_MAX, UINT32_MAX, MS, false);
        CHECK_INT(s.cc.cwnd, MPX_CC_CWND_MAX);

        sim_init(&s, ops[i], 20 * MS, MSS);
        sim_set_ca(&s, 2 * MSS);
        mpx_cc_on_congestion(&s.cc, s.now, 0);
        CHECK_INT(s.cc.cwnd, 2 * MSS);
        CHECK_INT(s.cc.ssthresh, 2 * MSS);
        mpx_cc_on_rto(&s.cc, s.now, 0);
        CHECK_INT(s.cc.cwnd, MSS);
        CHECK(s.cc.ssthresh >= 2 * MSS);
        /* Slow start from the loss window grows smoothly (no jump to a
         * 2 MSS floor once the RTO is over). */
        sim_ack(&s, 10, MSS, MS, false);
        CHECK_INT(s.cc.cwnd, MSS + 10);
        /* MSS change re-bounds: the floors follow the new MSS. */
        mpx_cc_set_mss(&s.cc, 1400);
        CHECK_INT(s.cc.cwnd, 1400);
        CHECK_INT(s.cc.ssthresh, 2 * 1400);
        CHECK_INT(s.cc.mss, 1400);
    }
}

/* A spurious reduction is undone: cwnd, ssthresh and algorithm state. */
MPX_TEST(cc_spurious_undo_restores)
{
    const struct mpx_cc_ops *ops[] = {&mpx_cc_reno, &mpx_cc_cubic};
    for (size_t i = 0; i < 2; i++) {
        struct sim s;
        sim_init(&s, ops[i], 20 * MS, MSS);
        CHECK(!mpx_cc_on_spurious(&s.cc, s.now)); /* nothing to undo */
        sim_loss_at(&s, 80 * MSS);
        for (int r = 0; r < 10; r++)
            sim_round(&s);
        struct mpx_cc before = s.cc;
        mpx_cc_on_congestion(&s.cc, s.now, before.cwnd);
        CHECK(s.cc.cwnd < before.cwnd);
        CHECK(mpx_cc_on_spurious(&s.cc, s.now));
        CHECK_INT(s.cc.cwnd, before.cwnd);
        CHECK_INT(s.cc.ssthresh, before.ssthresh);
        CHECK(!s.cc.in_recovery);
        CHECK(memcmp(&s.cc.u, &before.u, sizeof(s.cc.u)) == 0);
        CHECK_INT(s.cc.n_undo, 1);
        CHECK(!mpx_cc_on_spurious(&s.cc, s.now)); /* only once */
        /* An RTO (twice) then undo: back to before the first one. */
        mpx_cc_on_rto(&s.cc, s.now, before.cwnd);
        mpx_cc_on_rto(&s.cc, s.now, MSS);
        CHECK(mpx_cc_on_spurious(&s.cc, s.now));
        CHECK_INT(s.cc.cwnd, before.cwnd);
        CHECK_INT(s.cc.ssthresh, before.ssthresh);
        CHECK(!s.cc.in_loss);
        /* A loss, then an RTO inside that recovery: undo returns to the
         * state before the recovery, not to the recovery's state. */
        mpx_cc_on_congestion(&s.cc, s.now, before.cwnd);
        mpx_cc_on_rto(&s.cc, s.now, before.cwnd / 2);
        CHECK(mpx_cc_on_spurious(&s.cc, s.now));
        CHECK_INT(s.cc.cwnd, before.cwnd);
        CHECK_INT(s.cc.ssthresh, before.ssthresh);
        CHECK(memcmp(&s.cc.u, &before.u, sizeof(s.cc.u)) == 0);
    }
}

MPX_TEST(cc_group_join_leave)
{
    struct mpx_cc_group g;
    struct mpx_cc cc[MPX_CC_GROUP_MAX + 1];

    memset(&g, 0, sizeof(g));
    for (int i = 0; i <= MPX_CC_GROUP_MAX; i++)
        mpx_cc_init(&cc[i], &mpx_cc_reno, MSS, 0);
    for (int i = 0; i < MPX_CC_GROUP_MAX; i++)
        CHECK_INT(mpx_cc_group_join(&g, &cc[i]), 0);
    CHECK_INT(mpx_cc_group_join(&g, &cc[MPX_CC_GROUP_MAX]), MPX_ERR_NOSPACE);
    CHECK_INT(mpx_cc_group_join(&g, &cc[0]), MPX_ERR_EXIST);
    CHECK_INT(g.n, MPX_CC_GROUP_MAX);
    mpx_cc_group_leave(&cc[1]);
    CHECK_INT(g.n, MPX_CC_GROUP_MAX - 1);
    CHECK(cc[1].group == NULL);
    for (uint32_t i = 0; i < g.n; i++)
        CHECK(g.members[i] != &cc[1] && g.members[i]->group == &g);
    mpx_cc_group_leave(&cc[1]); /* not in a group: no-op */
    CHECK_INT(g.n, MPX_CC_GROUP_MAX - 1);
    CHECK_INT(mpx_cc_group_join(&g, &cc[MPX_CC_GROUP_MAX]), 0);
    for (int i = 0; i <= MPX_CC_GROUP_MAX; i++)
        mpx_cc_group_leave(&cc[i]);
    CHECK_INT(g.n, 0);
}

/* The srtt given with each ACK is kept for coupling (RFC 6356 needs it). */
MPX_TEST(cc_ack_records_srtt)
{
    struct sim s;

    sim_init(&s, &mpx_cc_cubic, 37 * MS, MSS);
    CHECK_EQ(s.cc.srtt, 0);
    sim_ack(&s, 0, 0, MS, false); /* a pure window update still carries srtt */
    CHECK_EQ(s.cc.srtt, 37 * MS);
    CHECK_INT(s.cc.cwnd, 10 * MSS);
}

/* --- cubic ------------------------------------------------------------ */

/* §4.6: ssthresh = cwnd * 0.7; §4.7 W_max; floor 2 MSS. */
MPX_TEST(cc_cubic_congestion_values)
{
    struct sim s;

    sim_init(&s, &mpx_cc_cubic, 20 * MS, MSS);
    sim_set_ca(&s, 100 * MSS);
    mpx_cc_on_congestion(&s.cc, s.now, 100 * MSS);
    CHECK_INT(s.cc.ssthresh, 70 * MSS);
    CHECK_INT(s.cc.cwnd, 70 * MSS);
    CHECK_INT(s.cc.u.cubic.w_max, 100 * MSS);
    CHECK_INT(s.cc.u.cubic.cwnd_prior, 100 * MSS);
    CHECK_EQ(s.cc.u.cubic.epoch_start, 0);
    /* No growth in recovery; the epoch starts at the first CA ACK. */
    sim_round(&s);
    CHECK_INT(s.cc.cwnd, 70 * MSS);
    mpx_cc_on_recovery_exit(&s.cc, s.now);
    sim_ack(&s, MSS, 70 * MSS, MS, false);
    CHECK_EQ(s.cc.u.cubic.epoch_start, s.now);
    CHECK_INT(s.cc.u.cubic.cwnd_epoch, 70 * MSS);

    sim_set_ca(&s, 2 * MSS);
    mpx_cc_on_congestion(&s.cc, s.now, 2 * MSS);
    CHECK_INT(s.cc.cwnd, 2 * MSS);
    CHECK_INT(s.cc.ssthresh, 2 * MSS);
}

/* §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), to one tick of 2^-20 s,
 * over a range of windows and MSS values. */
MPX_TEST(cc_cubic_k_exact)
{
    static const struct {
        uint32_t mss, w_max_seg;
    } v[] = {{1000, 100}, {1460, 10}, {536, 1000}, {9000, 3}, {1000, 100000}, {1448, 7}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct mpx_cc cc;
        uint32_t w_max = v[i].mss * v[i].w_max_seg;
        mpx_cc_init(&cc, &mpx_cc_cubic, v[i].mss, 0);
        cc.cwnd = cc.ssthresh = w_max;
        mpx_cc_on_congestion(&cc, 1, w_max);
        mpx_cc_on_recovery_exit(&cc, 1);
        struct mpx_cc_ack a = {.now = 2 * SEC, .acked = v[i].mss, .srtt = 10 * MS};
        mpx_cc_on_ack(&cc, &a);
        double k = ref_k_mss(w_max, cc.u.cubic.cwnd_epoch, v[i].mss);
        double got = (double)cc.u.cubic.k * TICKSZ;
        if (fabs(got - k) > 2 * TICKSZ)
            mpx_test_fail(__FILE__, __LINE__, "mss %u w_max %u: K %.7f want %.7f", v[i].mss, w_max,
                          got, k);
    }
    /* W_max = 100 MSS, cwnd_epoch = 70 MSS: K = cbrt(75) = 4.2172 s. */
    CHECK(fabs(ref_k(100 * MSS, 70 * MSS) - 4.2172) < 1e-4);
}

/* After a loss at W_max, cwnd follows W_cubic(t) = C(t-K)^3 + W_max:
 * concave below W_max, a plateau at t = K, convex after. Long RTT, big
 * window: the cubic region dominates Reno's estimate here. */
MPX_TEST(cc_cubic_follows_w_cubic)
{
    const uint32_t w_max = 1000 * MSS;
    const double k = ref_k(w_max, BETA * w_max);
    struct sim s;
    double prev_inc = 1e18, prev_w = 0;
    int checked = 0;

    sim_init(&s, &mpx_cc_cubic, 100 * MS, MSS);
    sim_loss_at(&s, w_max);
    for (int r = 0; r < 150; r++) {
        sim_round(&s);
        double t = (double)(s.now - s.first_ack) / SEC;
        double want = ref_w_cubic(t, k, w_max);
        double got = s.cc.cwnd;
        /* cwnd chases W_cubic(t + RTT) ACK by ACK, which keeps it on
         * W_cubic(t) itself (measured: within 0.16 MSS over 20 s). */
        double slack = MSS;
        if (fabs(got - want) > slack) {
            mpx_test_fail(__FILE__, __LINE__, "t %.2f cwnd %.0f want %.0f (slack %.0f)", t, got,
                          want, slack);
            return;
        }
        if (r % 10 == 9) {
            double inc = got - prev_w;
            if (t < k - 0.5)
                CHECK(inc < prev_inc + MSS); /* concave: growth slows down */
            if (t > k + 1.5)
                CHECK(inc > prev_inc); /* convex: growth speeds up */
            prev_inc = inc;
            prev_w = got;
            checked++;
        }
        if (t < k - 0.2)
            CHECK(got < w_max);
    }
    CHECK_INT(checked, 15);
    /* At t = 15 s: C*(15 - 9.09)^3 = 82.6 MSS above W_max. */
    CHECK(s.cc.cwnd > w_max + 60 * MSS);
}

/* Tighter check of W_cubic at sample points t = 1, 3, 6, 9, 11.45 (= K),
 * 13, 15 s: cwnd is on W_cubic(t) to half a segment. W_max = 2000
 * MSS, RTT 50 ms: K = cbrt(1500) = 11.45 s, 229 RTTs, in which Reno's
 * estimate grows only ~121 MSS, so the cubic curve rules throughout. */
MPX_TEST(cc_cubic_w_cubic_sample_points)
{
    const uint32_t w_max = 2000 * MSS;
    const double k = ref_k(w_max, BETA * w_max);
    static const double ts[] = {1.0, 3.0, 6.0, 9.0, 11.45, 13.0, 15.0};
    struct sim s;
    size_t next = 0;

    sim_init(&s, &mpx_cc_cubic, 50 * MS, MSS);
    sim_loss_at(&s, w_max);
    while (next < sizeof(ts) / sizeof(ts[0])) {
        sim_round(&s);
        double t = (double)(s.now - s.first_ack) / SEC;
        if (t + 1e-9 < ts[next])
            continue;
        double want = ref_w_cubic(t, k, w_max);
        double got = s.cc.cwnd;
        /* Measured: within 0.05 MSS. Allow half a segment. */
        if (fabs(got - want) > MSS / 2)
            mpx_test_fail(__FILE__, __LINE__, "t %.3f: cwnd %.0f, W_cubic(t) %.0f", t, got, want);
        next++;
    }
}

/* §4.2: the target is at most 1.5 * cwnd, so cwnd grows at most 50% per
 * RTT even when W_cubic is far ahead (here a huge srtt). */
MPX_TEST(cc_cubic_growth_capped_per_rtt)
{
    struct sim s;

    sim_init(&s, &mpx_cc_cubic, 100 * MS, MSS);
    sim_loss_at(&s, 100 * MSS);
    sim_round(&s);
    s.rtt = 60 * SEC; /* W_cubic(t + RTT) is ~86000 MSS */
    for (int r = 0; r < 4; r++) {
        uint32_t w = s.cc.cwnd;
        sim_round(&s);
        CHECK(s.cc.cwnd <= w + w / 2);
        CHECK(s.cc.cwnd >= w + w / 3);
    }
}

/* §4.3: with a small RTT*bandwidth, Reno's estimate W_est grows faster
 * than the cubic curve and cwnd follows it: alpha_cubic = 0.53 MSS per RTT
 * up to cwnd_prior, then 1 MSS per RTT. */
MPX_TEST(cc_cubic_reno_friendly_small_bdp)
{
    const uint32_t w_max = 20 * MSS;
    const double k = ref_k(w_max, BETA * w_max);
    struct sim s;
    double est = BETA * w_max / MSS; /* segments */

    sim_init(&s, &mpx_cc_cubic, 1 * MS, MSS);
    sim_loss_at(&s, w_max);
    for (int r = 1; r <= 60; r++) {
        sim_round(&s);
        est += est < 20.0 ? ALPHA : 1.0;
        double t = (double)(s.now - s.first_ack) / SEC;
        CHECK(s.cc.cwnd > ref_w_cubic(t, k, w_max));
        if (fabs(s.cc.cwnd / (double)MSS - est) > 1.0) {
            mpx_test_fail(__FILE__, __LINE__, "round %d: cwnd %.2f MSS want %.2f", r,
                          s.cc.cwnd / (double)MSS, est);
            return;
        }
    }
    CHECK(s.cc.cwnd > 60 * MSS); /* 14 + 0.53*11.3 + 48.7 ~ 68.7 MSS */
    CHECK_INT(s.cc.cwnd, s.cc.u.cubic.w_est);
}

/* §4.7: a loss below the previous W_max lowers W_max to cwnd*(1+beta)/2. */
MPX_TEST(cc_cubic_fast_convergence)
{
    struct sim s;

    sim_init(&s, &mpx_cc_cubic, 20 * MS, MSS);
    sim_loss_at(&s, 100 * MSS);
    CHECK_INT(s.cc.u.cubic.w_max, 100 * MSS);
    sim_set_ca(&s, 80 * MSS);
    mpx_cc_on_congestion(&s.cc, s.now, 80 * MSS);
    CHECK_INT(s.cc.u.cubic.w_max, 68 * MSS); /* 80 * 0.85 */
    CHECK_INT(s.cc.ssthresh, 56 * MSS);
    CHECK_INT(s.cc.cwnd, 56 * MSS);
    mpx_cc_on_recovery_exit(&s.cc, s.now);
    /* A loss above W_max: W_max = cwnd. */
    sim_set_ca(&s, 120 * MSS);
    mpx_cc_on_congestion(&s.cc, s.now, 120 * MSS);
    CHECK_INT(s.cc.u.cubic.w_max, 120 * MSS);
    CHECK_INT(s.cc.ssthresh, 84 * MSS);
}

/* §4.8: after an RTO, cwnd = 1 MSS, ssthresh = 0.7 cwnd; the first CA
 * stage after slow start uses K = 0 and W_max = cwnd at its start. */
MPX_TEST(cc_cubic_rto_then_k_zero)
{
    struct sim s;
    int rounds = 0;

    sim_init(&s, &mpx_cc_cubic, 20 * MS, MSS);
    sim_loss_at(&s, 100 * MSS);
    sim_set_ca(&s, 100 * MSS);
    mpx_cc_on_rto(&s.cc, s.now, 100 * MSS);
    CHECK_INT(s.cc.cwnd, MSS);
    CHECK_INT(s.cc.ssthresh, 70 * MSS);
    mpx_cc_on_rto(&s.cc, s.now, MSS); /* repeated: ssthresh held */
    CHECK_INT(s.cc.ssthresh, 70 * MSS);
    while (mpx_cc_in_slow_start(&s.cc) && rounds < 20) {
        sim_round(&s);
        rounds++;
    }
    CHECK_INT(rounds, 7); /* 1,2,4,...,64, then capped at 70 */
    CHECK(s.cc.u.cubic.epoch_start != 0);
    CHECK_EQ(s.cc.u.cubic.k, 0);
    CHECK_INT(s.cc.u.cubic.w_max, 70 * MSS);
    CHECK(!s.cc.u.cubic.after_rto);
    /* Convex from the start: grows. */
    uint32_t w = s.cc.cwnd;
    for (int r = 0; r < 50; r++)
        sim_round(&s);
    CHECK(s.cc.cwnd > w);
}

/* §5.8: time spent application-limited does not count in t, so cwnd does
 * not jump when the application sends again. */
MPX_TEST(cc_cubic_app_limited_excluded_from_epoch)
{
    struct sim a, b;

    sim_init(&a, &mpx_cc_cubic, 50 * MS, MSS);
    sim_init(&b, &mpx_cc_cubic, 50 * MS, MSS);
    sim_loss_at(&a, 200 * MSS);
    sim_loss_at(&b, 200 * MSS);
    for (int r = 0; r < 40; r++) {
        sim_round(&a);
        sim_round(&b);
    }
    /* b idles application-limited for 10 s (200 RTTs). */
    for (int r = 0; r < 200; r++)
        sim_round_limited(&b, 5 * MSS, true);
    uint32_t frozen = b.cc.cwnd;
    CHECK_INT(frozen, a.cc.cwnd);
    for (int r = 0; r < 40; r++) {
        sim_round(&a);
        sim_round(&b);
    }
    /* Without the shift, b would be at W_cubic(t + 10 s), past W_max. */
    uint32_t diff = a.cc.cwnd > b.cc.cwnd ? a.cc.cwnd - b.cc.cwnd : b.cc.cwnd - a.cc.cwnd;
    CHECK(diff <= 2 * MSS);
    CHECK(b.cc.cwnd < 200 * MSS);
}

/* Fully idle (no ACK at all for 10 s, then a cwnd-limited burst): the
 * idle time is not part of t either. */
MPX_TEST(cc_cubic_idle_excluded_from_epoch)
{
    struct sim a, b;

    sim_init(&a, &mpx_cc_cubic, 50 * MS, MSS);
    sim_init(&b, &mpx_cc_cubic, 50 * MS, MSS);
    sim_loss_at(&a, 200 * MSS);
    sim_loss_at(&b, 200 * MSS);
    for (int r = 0; r < 40; r++) {
        sim_round(&a);
        sim_round(&b);
    }
    b.now += 10 * SEC;
    for (int r = 0; r < 40; r++) {
        sim_round(&a);
        sim_round(&b);
    }
    uint32_t diff = a.cc.cwnd > b.cc.cwnd ? a.cc.cwnd - b.cc.cwnd : b.cc.cwnd - a.cc.cwnd;
    CHECK(diff <= 2 * MSS);
    CHECK(b.cc.cwnd < 200 * MSS);
}

/* The cubic curve is the same whatever the ACK granularity (byte
 * counting carries remainders). */
MPX_TEST(cc_cubic_ack_size_independent)
{
    uint32_t w[3];
    const uint32_t per[3] = {MSS, 2 * MSS, 333};
    for (int i = 0; i < 3; i++) {
        struct sim s;
        sim_init(&s, &mpx_cc_cubic, 40 * MS, per[i]);
        sim_loss_at(&s, 300 * MSS);
        for (int r = 0; r < 100; r++)
            sim_round(&s);
        w[i] = s.cc.cwnd;
    }
    CHECK(w[0] > 250 * MSS);
    CHECK(abs((int)w[0] - (int)w[1]) <= (int)(3 * MSS));
    CHECK(abs((int)w[0] - (int)w[2]) <= (int)(3 * MSS));
}

/* --- HyStart (RFC 9406 detection, Linux exit), cubic's initial slow start */

/* Run slow-start rounds at |rtt| until |rounds| rounds or slow start ends;
 * returns the rounds run. */
static int ss_rounds(struct sim *s, uint64_t rtt, int rounds)
{
    int r = 0;

    s->rtt = rtt;
    while (r < rounds && mpx_cc_in_slow_start(&s->cc)) {
        sim_round(s);
        r++;
    }
    return r;
}

/* A steady RTT never ends slow start early: cwnd doubles per round. */
MPX_TEST(cc_cubic_hystart_flat_rtt_keeps_doubling)
{
    struct sim s;

    sim_init(&s, &mpx_cc_cubic, 50 * MS, MSS);
    CHECK_INT(ss_rounds(&s, 50 * MS, 8), 8);
    CHECK_INT(s.cc.cwnd, 10u * MSS << 8);
    CHECK_INT(s.cc.u.cubic.hystart.state, MPX_HYSTART_SS);
    CHECK_EQ(s.cc.u.cubic.hystart.last_round_min_rtt, 50 * MS);
}

/* RTT up by 10 ms over a 50 ms base (RttThresh = 50/8 = 6.25 ms): slow
 * start ends at once, ssthresh = cwnd (Linux hystart_update; not RFC
 * 9406's CSS, which overshot on the lab: cc_hystart.c), and congestion
 * avoidance goes on from there. */
MPX_TEST(cc_cubic_hystart_rtt_rise_exits_to_ca)
{
    struct sim s;
    uint32_t w;

    sim_init(&s, &mpx_cc_cubic, 50 * MS, MSS);
    CHECK_INT(ss_rounds(&s, 50 * MS, 4), 4);
    CHECK_INT(s.cc.cwnd, 160 * MSS);
    CHECK_INT(ss_rounds(&s, 60 * MS, 1), 1);
    REQUIRE(!mpx_cc_in_slow_start(&s.cc));
    CHECK_INT(s.cc.u.cubic.hystart.state, MPX_HYSTART_OFF);
    /* The exit comes once a whole HyStart round (bytes outstanding at its
     * start, RFC 9406 windowEnd) saw the higher RTT, N_RTT_SAMPLE ACKs
     * into this one; the round's later ACKs were CA's. */
    CHECK(s.cc.ssthresh > 160 * MSS + 8 * MSS);
    CHECK(s.cc.ssthresh < 320 * MSS);
    CHECK(s.cc.cwnd >= s.cc.ssthresh && s.cc.cwnd < s.cc.ssthresh + 2 * MSS);
    /* Congestion avoidance from here: cubic at its plateau (K = 0). */
    w = s.cc.cwnd;
    sim_round(&s);
    CHECK(s.cc.cwnd > w && s.cc.cwnd < w + w / 10);
    CHECK_EQ(s.cc.u.cubic.k, 0);
}

/* RttThresh is clamped to [4 ms, 16 ms]: table of base RTT, rise, exit? */
MPX_TEST(cc_cubic_hystart_threshold_clamp)
{
    static const struct {
        uint64_t base, rise;
        bool exits;
    } v[] = {
        {50 * MS, 3 * MS, false},                            /* below 50/8 */
        {50 * MS, 7 * MS, true},   {10 * MS, 3 * MS, false}, /* 10/8 < 4 ms floor */
        {10 * MS, 4 * MS, true},   {400 * MS, 15 * MS, false},
        {400 * MS, 20 * MS, true}, /* below 400/8 = 50 ms, above the 16 ms cap */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct sim s;
        sim_init(&s, &mpx_cc_cubic, v[i].base, MSS);
        ss_rounds(&s, v[i].base, 3);
        ss_rounds(&s, v[i].base + v[i].rise, 1);
        if (mpx_cc_in_slow_start(&s.cc) == v[i].exits)
            mpx_test_fail(__FILE__, __LINE__, "case %zu: state %u", i, s.cc.u.cubic.hystart.state);
    }
}

/* Only the initial slow start (RFC 9406 §4.3); and without in_flight or RTT
 * samples from the engine it is plain slow start. */
MPX_TEST(cc_cubic_hystart_initial_only_and_fallback)
{
    struct sim s;

    sim_init(&s, &mpx_cc_cubic, 50 * MS, MSS);
    ss_rounds(&s, 50 * MS, 3);
    mpx_cc_on_rto(&s.cc, s.now, s.cc.cwnd);
    ss_rounds(&s, 50 * MS, 3);
    ss_rounds(&s, 80 * MS, 1);
    CHECK_INT(s.cc.u.cubic.hystart.state, MPX_HYSTART_OFF);
    CHECK_INT(s.cc.cwnd, 8 * MSS + 8 * MSS); /* 1,2,4,8 then doubles */

    sim_init(&s, &mpx_cc_cubic, 50 * MS, MSS);
    s.no_inflight = true;
    ss_rounds(&s, 50 * MS, 3);
    ss_rounds(&s, 80 * MS, 2);
    CHECK_INT(s.cc.u.cubic.hystart.state, MPX_HYSTART_SS);
    CHECK_INT(s.cc.cwnd, 10u * MSS << 5);
}

/* --- lia (RFC 6356) ---------------------------------------------------- */

/* Subflows of one MPTCP connection, each its own ACK clock. */
struct msim {
    struct mpx_cc_group g;
    struct sim sf[3];
    uint32_t n;
};

static void msim_init(struct msim *m, uint32_t n, const uint64_t *rtt, const uint32_t *cwnd_seg)
{
    memset(m, 0, sizeof(*m));
    m->n = n;
    for (uint32_t i = 0; i < n; i++) {
        sim_init(&m->sf[i], &mpx_cc_lia, rtt[i], MSS);
        sim_set_ca(&m->sf[i], cwnd_seg[i] * MSS);
        m->sf[i].cc.srtt = rtt[i];
        REQUIRE(mpx_cc_group_join(&m->g, &m->sf[i].cc) == 0);
    }
}

/* Run for |dur| ns, each subflow doing whole rounds of its own RTT, in time
 * order (so every ACK sees the others' current windows). */
static void msim_run(struct msim *m, uint64_t dur)
{
    uint64_t end = m->sf[0].now + dur;

    for (;;) {
        struct sim *next = NULL;
        for (uint32_t i = 0; i < m->n; i++) {
            if (m->sf[i].now + m->sf[i].rtt <= end && (!next || m->sf[i].now < next->now))
                next = &m->sf[i];
        }
        if (!next)
            return;
        sim_round(next);
    }
}

/* RFC 6356 §3 in double precision: max(cwnd_i, cwnd_total / alpha). */
static double ref_lia_window(uint32_t n, const double *c, const double *r, uint32_t i)
{
    double total = 0, best = 0, sum = 0;
    for (uint32_t j = 0; j < n; j++) {
        total += c[j];
        best = fmax(best, c[j] / (r[j] * r[j]));
        sum += c[j] / r[j];
    }
    double alpha = total * best / (sum * sum);
    return fmax(c[i], total / alpha);
}

MPX_TEST(cc_lia_find)
{
    CHECK(mpx_cc_find("lia") == &mpx_cc_lia);
}

/* Uncoupled (no group, or alone in one), lia is exactly reno. */
MPX_TEST(cc_lia_alone_is_reno)
{
    struct mpx_cc_group g;

    for (int grouped = 0; grouped < 2; grouped++) {
        struct sim a, b;
        memset(&g, 0, sizeof(g));
        sim_init(&a, &mpx_cc_reno, 30 * MS, MSS);
        sim_init(&b, &mpx_cc_lia, 30 * MS, MSS);
        if (grouped)
            REQUIRE(mpx_cc_group_join(&g, &b.cc) == 0);
        for (int r = 0; r < 200; r++) {
            if (r == 6 || r == 120) {
                mpx_cc_on_congestion(&a.cc, a.now, a.cc.cwnd);
                mpx_cc_on_congestion(&b.cc, b.now, b.cc.cwnd);
                mpx_cc_on_recovery_exit(&a.cc, a.now);
                mpx_cc_on_recovery_exit(&b.cc, b.now);
            }
            if (r == 60) {
                mpx_cc_on_rto(&a.cc, a.now, a.cc.cwnd);
                mpx_cc_on_rto(&b.cc, b.now, b.cc.cwnd);
            }
            sim_round(&a);
            sim_round(&b);
            if (a.cc.cwnd != b.cc.cwnd || a.cc.ssthresh != b.cc.ssthresh) {
                mpx_test_fail(__FILE__, __LINE__, "round %d: reno %u/%u lia %u/%u", r, a.cc.cwnd,
                              a.cc.ssthresh, b.cc.cwnd, b.cc.ssthresh);
                return;
            }
        }
        CHECK_INT(mpx_cc_lia_window(&b.cc), b.cc.cwnd);
    }
}

/* The pacing window against RFC 6356's alpha computed in double. */
MPX_TEST(cc_lia_window_matches_rfc6356)
{
    static const struct {
        uint32_t n;
        uint32_t c[3]; /* MSS */
        uint32_t r[3]; /* ms */
    } v[] = {
        {2, {40, 40}, {20, 20}},        /* equal paths: alpha 1/2, W = 4 cwnd */
        {2, {10, 100}, {10, 100}},      /* short path small, long path big */
        {2, {100, 10}, {10, 100}},      /* short path big: its own cwnd rules */
        {3, {30, 60, 5}, {5, 50, 200}}, /* three paths */
        {3, {7, 7, 7}, {1, 2, 3}},       {2, {1000, 2}, {1, 300}},
        {2, {100, 8}, {10, 2}},          /* max cwnd/rtt and max cwnd/rtt^2 differ */
        {2, {200000, 300000}, {40, 80}}, /* large windows */
    };
    for (size_t t = 0; t < sizeof(v) / sizeof(v[0]); t++) {
        struct msim m;
        uint64_t rtt[3];
        double c[3], r[3];
        for (uint32_t i = 0; i < v[t].n; i++) {
            rtt[i] = v[t].r[i] * MS;
            c[i] = (double)v[t].c[i] * MSS;
            r[i] = v[t].r[i];
        }
        msim_init(&m, v[t].n, rtt, v[t].c);
        for (uint32_t i = 0; i < v[t].n; i++) {
            double want = fmin(ref_lia_window(v[t].n, c, r, i), MPX_CC_CWND_MAX);
            double got = mpx_cc_lia_window(&m.sf[i].cc);
            if (fabs(got - want) > 2 + 1e-6 * want)
                mpx_test_fail(__FILE__, __LINE__, "case %zu subflow %u: W %.0f want %.1f", t, i,
                              got, want);
        }
    }
}

/* Two equal paths: alpha = 1/2, each subflow grows by a quarter MSS per
 * RTT (RFC 6356 §3 with cwnd_total = 2 cwnd), the pair by half an MSS:
 * no more aggressive than one TCP on either path (goal 2). */
MPX_TEST(cc_lia_equal_paths_quarter_mss_per_rtt)
{
    static const uint64_t rtt[2] = {20 * MS, 20 * MS};
    static const uint32_t cw[2] = {40, 40};
    struct msim m;

    msim_init(&m, 2, rtt, cw);
    msim_run(&m, 80 * 20 * MS); /* 80 RTTs: +20 MSS each */
    for (int i = 0; i < 2; i++) {
        double grown = (m.sf[i].cc.cwnd - 40.0 * MSS) / MSS;
        if (grown < 18 || grown > 21)
            mpx_test_fail(__FILE__, __LINE__, "subflow %d grew %.2f MSS in 80 RTTs", i, grown);
    }
}

/* A path with much higher RTT gets less of the increase; the subflow on
 * the short path is capped by its own (Reno) rate. */
MPX_TEST(cc_lia_uneven_paths)
{
    static const uint64_t rtt[2] = {10 * MS, 100 * MS};
    static const uint32_t cw[2] = {20, 20};
    struct msim m;
    struct sim solo;

    msim_init(&m, 2, rtt, cw);
    sim_init(&solo, &mpx_cc_reno, 10 * MS, MSS);
    sim_set_ca(&solo, 20 * MSS);
    msim_run(&m, 2 * SEC);
    for (int r = 0; r < 200; r++)
        sim_round(&solo);
    /* Never faster than Reno on the same path. */
    CHECK(m.sf[0].cc.cwnd <= solo.cc.cwnd);
    CHECK(m.sf[0].cc.cwnd > 20 * MSS);
    CHECK(m.sf[1].cc.cwnd >= 20 * MSS);
    CHECK(m.sf[1].cc.cwnd - 20 * MSS < m.sf[0].cc.cwnd - 20 * MSS);
}

/* A member without an RTT sample yet does not count. */
MPX_TEST(cc_lia_member_without_rtt_ignored)
{
    static const uint64_t rtt[3] = {20 * MS, 40 * MS, 30 * MS};
    static const uint32_t cw[3] = {30, 50, 70};
    struct msim m3, m2;

    msim_init(&m3, 3, rtt, cw);
    msim_init(&m2, 2, rtt, cw);
    m3.sf[2].cc.srtt = 0;
    CHECK_INT(mpx_cc_lia_window(&m3.sf[0].cc), mpx_cc_lia_window(&m2.sf[0].cc));
    CHECK_INT(mpx_cc_lia_window(&m3.sf[1].cc), mpx_cc_lia_window(&m2.sf[1].cc));
    CHECK_INT(mpx_cc_lia_window(&m3.sf[2].cc), m3.sf[2].cc.cwnd);
    /* Leaving the group uncouples. */
    mpx_cc_group_leave(&m2.sf[1].cc);
    CHECK_INT(mpx_cc_lia_window(&m2.sf[0].cc), m2.sf[0].cc.cwnd);
}

/* Slow start and the decrease are Reno's even when coupled. */
MPX_TEST(cc_lia_slow_start_and_loss_as_reno)
{
    static const uint64_t rtt[2] = {20 * MS, 20 * MS};
    static const uint32_t cw[2] = {10, 10};
    struct msim m;

    msim_init(&m, 2, rtt, cw);
    m.sf[0].cc.ssthresh = MPX_CC_SSTHRESH_INF;
    sim_round(&m.sf[0]);
    CHECK_INT(m.sf[0].cc.cwnd, 20 * MSS);
    mpx_cc_on_congestion(&m.sf[0].cc, m.sf[0].now, 20 * MSS);
    CHECK_INT(m.sf[0].cc.cwnd, 10 * MSS);
    CHECK_INT(m.sf[0].cc.ssthresh, 10 * MSS);
    mpx_cc_on_rto(&m.sf[1].cc, m.sf[1].now, 10 * MSS);
    CHECK_INT(m.sf[1].cc.cwnd, MSS);
    CHECK_INT(m.sf[1].cc.ssthresh, 5 * MSS);
}
