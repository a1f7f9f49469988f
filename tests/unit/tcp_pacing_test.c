/*
 * tcp_pacing_test.c - TCP pacing (tcp.h cfg.pacing, tcp_output.c): the
 * rate of Linux tcp_update_pacing_rate (cwnd / srtt x 200 % below half of
 * ssthresh, x 120 % above), segments released one after the other at that
 * rate with the release time as the engine's deadline, super segments of
 * ~1 ms at that rate (tcp_tso_autosize), and none of it when off.
 *
 * The RTT and window are set in the connection directly (tcp_int.h) so
 * that the expected rate is exact.
 */
#include <stdlib.h>
#include <string.h>

#include "mptcp_stack.h"
#include "mpx_test.h"
#include "tcp_int.h"
#include "tcp_seg.h"

#define PMSS 1448u /* payload per segment: MSS 1460 - 12 bytes of timestamps */

static uint64_t expect_rate(uint32_t cwnd, uint32_t ssthresh, uint64_t srtt)
{
    uint64_t ratio = cwnd < ssthresh / 2 ? 200 : 120;
    return (uint64_t)cwnd * MPX_NS_PER_S / srtt * ratio / 100;
}

/* An established connection (timestamps, SACK, wscale) with |cwnd|,
 * |ssthresh| and an RTT of |srtt|, and |bytes| queued to send. */
static bool setup(struct tt *x, bool pacing, uint32_t max_seg, uint32_t cwnd, uint32_t ssthresh,
                  uint64_t srtt, uint32_t bytes)
{
    struct mpx_tcp_config cfg;
    mpx_tcp_config_default(&cfg);
    cfg.pacing = pacing;
    cfg.max_seg = max_seg;
    cfg.wmem_init = 256 * 1024;
    tt_init(x, &cfg);
    if (!x->c)
        return false;
    tt_client_established(x, true);
    tt_drain(x);
    x->c->srtt = srtt;
    x->c->rttvar = srtt / 2;
    x->c->rtt_valid = true;
    x->c->cc.cwnd = cwnd;
    x->c->cc.ssthresh = ssthresh;
    x->c->snd_wnd = 4u << 20; /* the peer's window never limits */
    x->c->max_snd_wnd = x->c->snd_wnd;
    uint8_t *data = calloc(1, bytes);
    long n = data ? mpx_tcp_send(x->c, data, bytes, x->now) : -1;
    free(data);
    return n == (long)bytes;
}

struct sent {
    uint64_t at[256];
    uint32_t len[256];
    int n;
};

/* Output until |until| (ns after now), waking at the engine's deadlines;
 * records every data segment. */
static void run_until(struct tt *x, uint64_t until, struct sent *s)
{
    uint64_t end = x->now + until;
    s->n = 0;
    while (s->n < 256) {
        if (tt_out(x)) {
            if (x->out.payload_len) {
                s->at[s->n] = x->now;
                s->len[s->n++] = (uint32_t)x->out.payload_len;
            }
            continue;
        }
        uint64_t d = mpx_tcp_next_deadline(x->c);
        if (d > end)
            break;
        REQUIRE(d >= x->now); /* a deadline in the past would spin */
        tt_advance(x, d > x->now ? d : x->now + 1);
    }
}

/* The burst of Linux tcp_tso_autosize at |rate|: ~1 ms, 2 segments or more. */
static uint32_t burst_of(uint64_t rate)
{
    uint64_t b = rate >> 10;
    b = b > 65000 ? 65000 : b;
    b = b < 2 * PMSS ? 2 * PMSS : b;
    return (uint32_t)b / PMSS * PMSS;
}

/* 10 ms of data leave at the pacing rate, in congestion avoidance (120 %)
 * and slow start (200 %): with super segments (cfg.max_seg), each of
 * burst_of(rate) bytes, released exactly when the previous one's bytes
 * have gone at the rate. */
MPX_TEST(tcp_pacing_spaces_at_rate)
{
    static const struct {
        uint32_t cwnd, ssthresh;
        uint64_t srtt;
        unsigned ratio;
        uint32_t burst_segs;
    } v[] = {
        {100 * PMSS, 100 * PMSS, 50 * TT_MS, 120, 2},  /* CA: cwnd >= ssthresh / 2 */
        {60 * PMSS, UINT32_MAX, 40 * TT_MS, 200, 2},   /* slow start */
        {40 * PMSS, 100 * PMSS, 40 * TT_MS, 200, 2},   /* below half of ssthresh */
        {400 * PMSS, 400 * PMSS, 40 * TT_MS, 120, 11}, /* 17.4 MB/s: 11 segments */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct tt x;
        struct sent s;
        REQUIRE(setup(&x, true, 65000, v[i].cwnd, v[i].ssthresh, v[i].srtt, 250000));
        uint64_t rate = expect_rate(v[i].cwnd, v[i].ssthresh, v[i].srtt);
        CHECK_EQ(rate, (uint64_t)v[i].cwnd * MPX_NS_PER_S / v[i].srtt * v[i].ratio / 100);
        CHECK_INT(burst_of(rate), v[i].burst_segs * PMSS);
        struct mpx_tcp_info info;
        mpx_tcp_get_info(x.c, &info, x.now);
        CHECK_EQ(info.pacing_rate, rate);
        uint64_t t0 = x.now;
        run_until(&x, 10 * TT_MS, &s);
        REQUIRE(s.n >= 4);
        CHECK_EQ(s.at[0], t0);
        /* the first one has a credit of half its time, like Linux: it
         * starts an idle connection */
        uint64_t bytes = 0;
        for (int k = 1; k < s.n; k++) {
            uint64_t ns = (uint64_t)s.len[k - 1] * MPX_NS_PER_S / rate;
            CHECK_EQ(s.at[k] - s.at[k - 1], k == 1 ? ns - ns / 2 : ns);
            CHECK_INT(s.len[k - 1], burst_of(rate));
            bytes += s.len[k - 1];
        }
        /* in 10 ms: 10 ms of data at the rate, give or take a burst */
        uint64_t want = rate / 100;
        CHECK(bytes + burst_of(rate) >= want && bytes <= want + 2 * burst_of(rate));
        CHECK(bytes < v[i].cwnd); /* the rate held it, not the window */
        tt_free(&x);
    }
}

/* Without super segments, one-MSS segments leave in bursts of
 * burst_of(rate) (the GSO packets Linux would pace), one wake-up per
 * burst, at the same average rate. */
MPX_TEST(tcp_pacing_mss_segments_in_bursts)
{
    struct tt x;
    struct sent s;
    uint32_t cwnd = 400 * PMSS;
    uint64_t srtt = 40 * TT_MS;
    REQUIRE(setup(&x, true, 0, cwnd, cwnd, srtt, 250000));
    uint64_t rate = expect_rate(cwnd, cwnd, srtt);
    uint32_t per = burst_of(rate) / PMSS;
    REQUIRE(per == 11);
    run_until(&x, 10 * TT_MS, &s);
    REQUIRE(s.n > 3 * (int)per);
    int wakes = 1, in_burst = 1, max_burst = 1;
    for (int k = 1; k < s.n; k++) {
        CHECK_INT(s.len[k], PMSS);
        if (s.at[k] == s.at[k - 1]) {
            in_burst++;
        } else {
            wakes++;
            in_burst = 1;
        }
        max_burst = in_burst > max_burst ? in_burst : max_burst;
    }
    CHECK(max_burst <= (int)per + 1);
    CHECK(wakes <= s.n / ((int)per - 1) + 1);
    uint64_t want = rate / 100; /* 10 ms at the rate */
    uint64_t bytes = (uint64_t)s.n * PMSS;
    CHECK(bytes + 2 * burst_of(rate) >= want && bytes <= want + 2 * burst_of(rate));
    tt_free(&x);
}

/* While a segment is held, the deadline is its release; it leaves then and
 * not a nanosecond before. With nothing left to send, no pacing wake-up. */
MPX_TEST(tcp_pacing_deadline_reports_release)
{
    struct tt x;
    uint32_t cwnd = 100 * PMSS, b = 2 * PMSS;
    uint64_t srtt = 50 * TT_MS;
    REQUIRE(setup(&x, true, 65000, cwnd, cwnd, srtt, 3 * b));
    uint64_t rate = expect_rate(cwnd, cwnd, srtt);
    REQUIRE(burst_of(rate) == b);
    uint64_t ns = (uint64_t)b * MPX_NS_PER_S / rate, t0 = x.now;
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, b);
    uint64_t rel = t0 + ns - ns / 2; /* the first: half */
    CHECK_INT(tt_out(&x), 0);
    CHECK_EQ(mpx_tcp_next_deadline(x.c), rel);
    tt_advance(&x, rel - 1);
    CHECK_INT(tt_out(&x), 0);
    CHECK_EQ(mpx_tcp_next_deadline(x.c), rel);
    tt_advance(&x, rel);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, b);
    CHECK_INT(tt_out(&x), 0);
    CHECK_EQ(mpx_tcp_next_deadline(x.c), rel + ns);
    tt_advance(&x, rel + ns);
    REQUIRE(tt_out(&x) > 0);
    CHECK_INT(tt_out(&x), 0);
    /* all sent: the next deadline is the loss probe / RTO, not pacing */
    CHECK(mpx_tcp_next_deadline(x.c) >= x.now + 10 * TT_MS);
    tt_free(&x);
}

/* A pure ACK is not paced: data from the peer is answered while the next
 * data segment waits for its release. */
MPX_TEST(tcp_pacing_pure_ack_not_held)
{
    struct tt x;
    uint32_t cwnd = 100 * PMSS;
    REQUIRE(setup(&x, true, 0, cwnd, cwnd, 50 * TT_MS, 10 * PMSS));
    REQUIRE(tt_out(&x) > 0);
    while (tt_out(&x) > 0) /* the first burst */
        ;
    REQUIRE(mpx_tcp_next_deadline(x.c) < x.now + TT_MS); /* held */
    static const uint8_t d[100];
    struct tt_seg s = {.flags = MPX_TH_ACK | MPX_TH_PSH,
                       .seq = TT_PISS + 1,
                       .ack = TT_ISS + 1,
                       .ts = true,
                       .data = d,
                       .len = sizeof(d)};
    tt_feed(&x, &s);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 0);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 1 + sizeof(d));
    CHECK_INT(tt_out(&x), 0); /* the data still waits */
    tt_free(&x);
}

/* Super segments carry ~1 ms of data at the pacing rate, whole segments,
 * at least two, at most max_seg (Linux tcp_tso_autosize). */
MPX_TEST(tcp_pacing_tso_follows_rate)
{
    static const struct {
        uint32_t cwnd;
        uint64_t srtt;
        uint32_t segs; /* expected payload in segments */
    } v[] = {
        {700 * PMSS, 1 * TT_MS, 44},  /* fast: the 65000-byte cap, 44 x 1448 */
        {100 * PMSS, 10 * TT_MS, 11}, /* 17.4 MB/s: 16968 bytes per 1/1024 s */
        {10 * PMSS, 100 * TT_MS, 2},  /* slow: at least two */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        for (int pacing = 0; pacing <= 1; pacing++) {
            struct tt x;
            REQUIRE(setup(&x, pacing, 65000, v[i].cwnd, v[i].cwnd, v[i].srtt, 200000));
            uint64_t per = expect_rate(v[i].cwnd, v[i].cwnd, v[i].srtt) >> 10;
            uint32_t want = per > 65000 ? 65000 / PMSS : (uint32_t)(per / PMSS);
            want = want < 2 ? 2 : want;
            CHECK_INT(want, v[i].segs);
            REQUIRE(tt_out(&x) > 0);
            CHECK_INT(x.out.payload_len, want * PMSS);
            CHECK_INT(mpx_tcp_out_gso(x.c), PMSS);
            tt_free(&x);
        }
    }
}

/* pacing off: the window goes out at once, no pacing deadline. */
MPX_TEST(tcp_pacing_off_bursts)
{
    struct tt x;
    struct sent s;
    uint32_t cwnd = 20 * PMSS;
    REQUIRE(setup(&x, false, 0, cwnd, cwnd, 50 * TT_MS, 100 * PMSS));
    uint64_t t0 = x.now;
    run_until(&x, 5 * TT_MS, &s);
    CHECK_INT(s.n, 20); /* the whole cwnd */
    for (int k = 0; k < s.n; k++)
        CHECK_EQ(s.at[k], t0);
    CHECK(mpx_tcp_next_deadline(x.c) >= t0 + 10 * TT_MS);
    tt_free(&x);

    /* the same with pacing: 5 ms of a 50 ms RTT lets far fewer out */
    REQUIRE(setup(&x, true, 0, cwnd, cwnd, 50 * TT_MS, 100 * PMSS));
    run_until(&x, 5 * TT_MS, &s);
    CHECK(s.n >= 2 && s.n <= 6);
    tt_free(&x);
}

static uint64_t fixed_rand(void *ctx)
{
    (void)ctx;
    return 0x0123456789abcdefull;
}

/* The per-stack setting: off by default, taken by new subflows once set. */
MPX_TEST(tcp_pacing_stack_setting)
{
    struct mpx_stack_config cfg;
    mpx_stack_config_default(&cfg);
    CHECK(!cfg.tcp.pacing);
    cfg.rand = fixed_rand;
    struct mpx_stack *st = mpx_stack_new(&cfg);
    REQUIRE(st);
    CHECK(!mpx_stack_get_config(st)->tcp.pacing);
    mpx_stack_set_pacing(st, true);
    CHECK(mpx_stack_get_config(st)->tcp.pacing);
    mpx_stack_set_pacing(st, false);
    CHECK(!mpx_stack_get_config(st)->tcp.pacing);
    mpx_stack_free(st);
}

/* The go-back-N resend of the loss state (after an RTO, or a PMTU drop)
 * is not paced: what was in flight goes again at once; new data beyond it
 * is paced again. */
MPX_TEST(tcp_pacing_loss_resend_not_held)
{
    struct tt x;
    uint32_t cwnd = 100 * PMSS;
    REQUIRE(setup(&x, true, 0, cwnd, cwnd, 50 * TT_MS, 20 * PMSS));
    int first = 0;
    while (tt_out(&x) > 0)
        first++;
    REQUIRE(first >= 2 && first < 20);
    uint32_t una = x.c->snd_una, max = x.c->snd_max;
    x.now += TT_MS / 10; /* before the next release */
    REQUIRE(mpx_tcp_next_deadline(x.c) > x.now);
    /* the state rto_data() leaves (tcp_timer.c) */
    x.c->ca_state = MPX_TCP_CA_LOSS;
    x.c->recover = max;
    x.c->snd_nxt = una;
    x.c->high_rxt = una;
    int resent = 0, n;
    while ((n = tt_out(&x)) > 0 && mpx_seq_lt(x.out.tcp.seq, max))
        resent++;
    CHECK_INT(n, 0); /* stopped by pacing, not by a new-data segment */
    CHECK_INT(resent, first);
    CHECK(mpx_seq_geq(x.c->snd_nxt, max));
    CHECK_INT(tt_out(&x), 0); /* new data: paced again */
    CHECK(mpx_tcp_next_deadline(x.c) > x.now);
    tt_free(&x);
}
