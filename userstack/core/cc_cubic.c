/*
 * cc_cubic.c - CUBIC congestion control (RFC 9438).
 *
 * Windows are in bytes. Time inside this file is counted in "ticks" of
 * 2^-20 s (about 0.95 us; Linux uses 2^-10 s), so that the seconds of the
 * RFC become a shift. W_cubic(t) = C*(t-K)^3 + W_max (RFC 9438 §4.2, eq. 1)
 * is in segments and seconds; in bytes and ticks, with C = 0.4 = 4/10:
 *     W_cubic(t) = W_max + 4 * MSS * (t - K)^3 / (10 * 2^60)
 * and eq. 2, K = cbrt((W_max - cwnd_epoch) / C), becomes
 *     K = cbrt((W_max - cwnd_epoch) * 10 * 2^60 / (4 * MSS))     [ticks].
 * Both are evaluated exactly with 128-bit products, shifts and an integer
 * cube root found by bisection (which needs no division at all), so there is
 * no floating point, no 128-bit division (no libgcc helper, the core stays
 * pure) and the result is the same on every build.
 *
 * Choices within the RFC:
 *  - §4.6 lets ssthresh = cwnd * beta_cubic instead of flight_size * beta:
 *    we use cwnd, as Linux and Windows do, because flight_size collapses
 *    the window of an application-limited sender (cwnd itself does not grow
 *    while app-limited, see below, so it is validated);
 *  - fast convergence (§4.7) is always on;
 *  - the epoch starts at the first ACK in congestion avoidance (§4.2 "the
 *    beginning of the current congestion avoidance stage"), i.e. after
 *    recovery, not at the loss;
 *  - when the application limits the sender, cwnd does not grow and the
 *    epoch is shifted by the idle ACK gap, so t excludes that time (§5.8);
 *  - the initial slow start uses HyStart (RFC 9406 detection, Linux exit: cc_hystart.c);
 *    later ones (after a loss or an RTO) are standard slow start with ABC.
 */
#include "cc.h"

#include <string.h>

/* beta_cubic = 0.7 (§4.6). */
#define BETA_NUM 7
#define BETA_DEN 10
/* Fast convergence: W_max = cwnd * (1 + beta_cubic) / 2 = cwnd * 17 / 20. */
#define FC_NUM 17
#define FC_DEN 20
/* alpha_cubic = 3 * (1 - beta) / (1 + beta) = 0.9 / 1.7 = 9 / 17 (§4.3). */
#define ALPHA_NUM 9
#define ALPHA_DEN 17
/* C = 0.4 = C_NUM / C_DEN. */
#define C_NUM 4
#define C_DEN 10
/* One second is 2^TICK_SHIFT ticks. */
#define TICK_SHIFT 20
/* |t - K| beyond 2^32 ticks (about 68 minutes) is clamped: the window is
 * at its cap long before, and every product below fits in 128 bits. */
#define MAX_TICKS 0xffffffffull
#define NS_PER_S  1000000000ull

typedef unsigned __int128 u128;

/* Nanoseconds to ticks, saturating at MAX_TICKS. */
static uint64_t ns_to_ticks(uint64_t ns)
{
    uint64_t s = ns / NS_PER_S;

    if (s >= (MAX_TICKS >> TICK_SHIFT))
        return MAX_TICKS;
    return (s << TICK_SHIFT) + ((ns % NS_PER_S) << TICK_SHIFT) / NS_PER_S;
}

/* K in ticks (eq. 2): the largest k with C * MSS * k^3 <= diff * 2^60,
 * i.e. 4 * MSS * k^3 <= diff * 10 * 2^60, found bit by bit. k < 2^32, so
 * k^3 * 4 * MSS < 2^96 * 2^30 and diff * 10 * 2^60 < 2^94: no overflow. */
static uint64_t cubic_k(uint32_t w_max, uint32_t cwnd_epoch, uint32_t mss)
{
    u128 rhs, lhs;
    uint64_t k = 0;

    if (w_max <= cwnd_epoch)
        return 0;
    rhs = ((u128)(w_max - cwnd_epoch) * C_DEN) << (3 * TICK_SHIFT);
    for (int bit = 31; bit >= 0; bit--) {
        uint64_t c = k | (1ull << bit);
        lhs = (u128)c * c * c * C_NUM * mss;
        if (lhs <= rhs)
            k = c;
    }
    return k;
}

/* W_cubic(t) in bytes (eq. 1), t in ticks, clamped to [0, CWND_MAX]. */
static uint32_t w_cubic(const struct mpx_cc *cc, uint64_t t)
{
    const struct mpx_cc_cubic *c = &cc->u.cubic;
    uint64_t offs = t > c->k ? t - c->k : c->k - t;
    uint64_t delta;
    u128 v;

    if (offs > MAX_TICKS)
        offs = MAX_TICKS;
    /* offs^3 * 4 * MSS < 2^96 * 2^30: fits. After the shift, anything at
     * or above C_DEN * CWND_MAX bytes is beyond the cap anyway. */
    v = ((u128)offs * offs * offs * C_NUM * cc->mss) >> (3 * TICK_SHIFT);
    if (v >= (u128)C_DEN * MPX_CC_CWND_MAX)
        delta = MPX_CC_CWND_MAX;
    else
        delta = (uint64_t)v / C_DEN;
    if (t < c->k)
        return delta >= c->w_max ? 0 : (uint32_t)(c->w_max - delta);
    if (delta >= (uint64_t)MPX_CC_CWND_MAX - c->w_max)
        return MPX_CC_CWND_MAX;
    return (uint32_t)(c->w_max + delta);
}

static void cubic_init(struct mpx_cc *cc, uint64_t now)
{
    (void)now;
    memset(&cc->u.cubic, 0, sizeof(cc->u.cubic));
    mpx_cc_hystart_init(&cc->u.cubic.hystart);
}

/* §4.2: a new epoch begins with the congestion avoidance stage. */
static void start_epoch(struct mpx_cc *cc, uint64_t now)
{
    struct mpx_cc_cubic *c = &cc->u.cubic;

    c->epoch_start = now ? now : 1; /* 0 means "no epoch" */
    c->cwnd_epoch = cc->cwnd;
    /* §4.3: W_est starts at cwnd_epoch. §4.8: after a timeout W_est is the
     * cwnd at the start of this stage too. */
    c->w_est = cc->cwnd;
    c->est_acc = 0;
    c->grow_acc = 0;
    /* §4.8: the first stage after an RTO uses K = 0 and W_max = cwnd; the
     * same holds when cwnd already passed W_max (e.g. slow start went
     * beyond it): the function starts at its plateau, then turns convex. */
    if (c->after_rto || c->w_max < cc->cwnd)
        c->w_max = cc->cwnd;
    c->after_rto = false;
    c->k = cubic_k(c->w_max, c->cwnd_epoch, cc->mss);
}

/* §4.3: W_est += alpha_cubic * segments_acked / cwnd (in segments); in
 * bytes: += alpha * acked * MSS / cwnd, with the remainder carried. */
static void grow_w_est(struct mpx_cc *cc, uint32_t acked)
{
    struct mpx_cc_cubic *c = &cc->u.cubic;
    /* "Once W_est has grown to reach ... cwnd_prior, the sender SHOULD set
     * alpha_cubic to 1": from then on it grows as fast as Reno. */
    uint64_t an = c->w_est >= c->cwnd_prior ? 1 : ALPHA_NUM;
    uint64_t ad = c->w_est >= c->cwnd_prior ? 1 : ALPHA_DEN;
    uint64_t num = (uint64_t)acked * cc->mss * an + c->est_acc;
    uint64_t den = (uint64_t)cc->cwnd * ad;
    uint64_t w = c->w_est + num / den;

    c->est_acc = num % den;
    c->w_est = w > MPX_CC_CWND_MAX ? MPX_CC_CWND_MAX : (uint32_t)w;
}

static void cubic_avoid(struct mpx_cc *cc, uint64_t now, uint32_t acked)
{
    struct mpx_cc_cubic *c = &cc->u.cubic;
    uint64_t t, rtt, target, num;
    uint32_t w_now;

    if (c->epoch_start == 0)
        start_epoch(cc, now);
    t = ns_to_ticks(now > c->epoch_start ? now - c->epoch_start : 0);
    rtt = ns_to_ticks(cc->srtt);

    grow_w_est(cc, acked);
    w_now = w_cubic(cc, t);
    if (w_now < c->w_est) {
        /* §4.3 Reno-friendly region: "cwnd SHOULD be set to W_est". */
        if (cc->cwnd < c->w_est)
            cc->cwnd = c->w_est;
        return;
    }
    /* §4.4/§4.5 concave and convex regions: aim at W_cubic one RTT
     * ahead, but never shrink and never more than 1.5x per RTT (§4.2). */
    target = w_cubic(cc, t + rtt);
    if (target < cc->cwnd)
        target = cc->cwnd;
    if (target > (uint64_t)cc->cwnd * 3 / 2)
        target = (uint64_t)cc->cwnd * 3 / 2;
    /* cwnd += (target - cwnd) / cwnd per segment ACKed; in bytes the same
     * ratio times the ACKed bytes, remainder carried to the next ACK. */
    num = (target - cc->cwnd) * acked + c->grow_acc;
    c->grow_acc = num % cc->cwnd;
    target = cc->cwnd + num / cc->cwnd;
    cc->cwnd = target > MPX_CC_CWND_MAX ? MPX_CC_CWND_MAX : (uint32_t)target;
}

static void cubic_on_ack(struct mpx_cc *cc, const struct mpx_cc_ack *a)
{
    struct mpx_cc_cubic *c = &cc->u.cubic;
    uint64_t gap = c->last_ack && a->now > c->last_ack ? a->now - c->last_ack : 0;
    uint32_t acked = a->acked;

    c->last_ack = a->now;
    /* §5.8: no growth while app-limited, and the time spent so is not part
     * of t, otherwise cwnd would jump when sending resumes. That time is
     * the gap since the last ACK when this ACK is app-limited; and when
     * the sender was idle (no ACK for more than an RTT, which an ACK clock
     * never shows) the gap less one RTT, as Linux shifts the epoch by the
     * idle time (tcp_cubic, "better follow cubic curve after idle"). */
    if (c->epoch_start) {
        if (a->app_limited)
            c->epoch_start += gap;
        else if (cc->srtt && gap > cc->srtt)
            c->epoch_start += gap - cc->srtt;
    }
    if (a->app_limited)
        return;
    if (mpx_cc_in_slow_start(cc)) {
        acked = mpx_cc_hystart_slow_start(cc, &c->hystart, a);
        if (acked == 0)
            return;
    }
    cubic_avoid(cc, a->now, acked);
}

/* §4.6 and §4.7, shared by loss and timeout. */
static void cubic_reduce(struct mpx_cc *cc)
{
    struct mpx_cc_cubic *c = &cc->u.cubic;
    uint64_t ss = (uint64_t)cc->cwnd * BETA_NUM / BETA_DEN;

    c->cwnd_prior = cc->cwnd;
    /* §4.7 fast convergence: a loss below the previous W_max means the
     * available bandwidth shrank (a new flow): release some of it. */
    if (cc->cwnd < c->w_max)
        c->w_max = (uint32_t)((uint64_t)cc->cwnd * FC_NUM / FC_DEN);
    else
        c->w_max = cc->cwnd;
    cc->ssthresh = ss > 2 * (uint64_t)cc->mss ? (uint32_t)ss : 2 * cc->mss;
    c->epoch_start = 0;
    /* RFC 9406 §4.3: HyStart is for the initial slow start only. */
    c->hystart.state = MPX_HYSTART_OFF;
}

static void cubic_on_congestion(struct mpx_cc *cc, uint64_t now, uint32_t in_flight)
{
    (void)now;
    (void)in_flight;
    cubic_reduce(cc);
    cc->cwnd = cc->ssthresh;
}

static void cubic_on_rto(struct mpx_cc *cc, uint64_t now, uint32_t in_flight, bool first)
{
    (void)now;
    (void)in_flight;
    /* §4.8: ssthresh as for a loss (beta_cubic), cwnd to the RFC 5681 loss
     * window; a repeated timeout keeps ssthresh (RFC 5681 §3.1). */
    if (first)
        cubic_reduce(cc);
    cc->u.cubic.after_rto = true;
    cc->u.cubic.epoch_start = 0;
    cc->cwnd = cc->mss;
}

const struct mpx_cc_ops mpx_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_congestion = cubic_on_congestion,
    .on_recovery_exit = NULL,
    .on_rto = cubic_on_rto,
};
