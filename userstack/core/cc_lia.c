/*
 * cc_lia.c - Linked Increases Algorithm, the coupled congestion control of
 * MPTCP (RFC 6356).
 *
 * RFC 6356 §3: on each ACK in congestion avoidance on subflow i,
 *     cwnd_i += min(alpha * bytes_acked * MSS_i / cwnd_total,
 *                   bytes_acked * MSS_i / cwnd_i)
 *     alpha   = cwnd_total * max_j(cwnd_j / rtt_j^2) / (sum_j cwnd_j / rtt_j)^2
 * Both terms are "bytes_acked * MSS_i / W" with W = cwnd_total / alpha or
 * W = cwnd_i, so the increase is Reno's byte counting (one MSS per W bytes
 * ACKed, remainder carried) with W = max(cwnd_i, cwnd_total / alpha).
 * cwnd_total / alpha simplifies to (sum_j cwnd_j / rtt_j)^2 / max_j(...),
 * and with k the subflow that attains the max, multiplying through by
 * rtt_k^2:
 *     cwnd_total / alpha = (sum_j cwnd_j * rtt_k / rtt_j)^2 / cwnd_k
 * which needs only 64-bit divisions and one 128-bit quotient, found by
 * bisection (no floating point, no libgcc 128-bit division helper).
 *
 * Slow start, the loss response and the RTO response are Reno's: RFC 6356
 * §3 "only applies to the increase phase of the congestion avoidance state
 * ... The algorithm for the decrease phase ... [is] the same as in TCP".
 * Members count when they have an RTT sample (srtt != 0); a subflow without
 * one, or without a group, is plain Reno.
 */
#include "cc.h"

typedef unsigned __int128 u128;

/* RTTs in microseconds, clamped so that every product below fits:
 * cwnd (< 2^31) * rtt (<= 2^28) < 2^59, and a sum of 8 of them < 2^62. */
#define RTT_MAX_US (1ull << 28)

static uint64_t rtt_us(const struct mpx_cc *cc)
{
    uint64_t r = cc->srtt / 1000;

    if (r == 0)
        return 1;
    return r > RTT_MAX_US ? RTT_MAX_US : r;
}

/* floor(n / d) for a quotient known to be below 2^31 (else MPX_CC_CWND_MAX):
 * bisection on the quotient's bits. */
static uint32_t div_window(u128 n, uint64_t d)
{
    uint32_t q = 0;

    if ((u128)MPX_CC_CWND_MAX * d <= n)
        return MPX_CC_CWND_MAX;
    for (int bit = 29; bit >= 0; bit--) {
        uint32_t c = q | (1u << bit);
        if ((u128)c * d <= n)
            q = c;
    }
    return q;
}

uint32_t mpx_cc_lia_window(const struct mpx_cc *cc)
{
    const struct mpx_cc_group *g = cc->group;
    const struct mpx_cc *best = NULL;
    uint64_t r_best = 0, y = 0;
    uint32_t w;

    if (!g || g->n < 2 || cc->srtt == 0)
        return cc->cwnd;
    /* k = argmax cwnd_j / rtt_j^2, compared as cwnd_a * rtt_b^2 > ... */
    for (uint32_t j = 0; j < g->n; j++) {
        const struct mpx_cc *m = g->members[j];
        uint64_t r = rtt_us(m);
        if (m->srtt == 0)
            continue;
        if (!best || (u128)m->cwnd * r_best * r_best > (u128)best->cwnd * r * r) {
            best = m;
            r_best = r;
        }
    }
    if (!best || best->cwnd == 0)
        return cc->cwnd;
    for (uint32_t j = 0; j < g->n; j++) {
        const struct mpx_cc *m = g->members[j];
        if (m->srtt != 0)
            y += (uint64_t)m->cwnd * r_best / rtt_us(m);
    }
    w = div_window((u128)y * y, best->cwnd);
    return w > cc->cwnd ? w : cc->cwnd;
}

static void lia_init(struct mpx_cc *cc, uint64_t now)
{
    mpx_cc_reno.init(cc, now);
}

static void lia_on_ack(struct mpx_cc *cc, const struct mpx_cc_ack *a)
{
    uint32_t acked = a->acked;
    uint64_t w, total, n, cwnd;

    if (a->app_limited)
        return;
    if (mpx_cc_in_slow_start(cc)) {
        acked = mpx_cc_slow_start(cc, acked);
        if (acked == 0)
            return;
    }
    w = mpx_cc_lia_window(cc);
    if (w <= cc->cwnd) {
        /* The uncoupled term is the smaller increase: exactly Reno. */
        mpx_cc_reno_avoid(cc, &cc->u.reno.ca_acked, acked);
        return;
    }
    total = (uint64_t)cc->u.reno.ca_acked + acked;
    n = total / w;
    cwnd = cc->cwnd + n * cc->mss;
    cc->u.reno.ca_acked = (uint32_t)(total % w);
    cc->cwnd = cwnd > MPX_CC_CWND_MAX ? MPX_CC_CWND_MAX : (uint32_t)cwnd;
}

static void lia_on_congestion(struct mpx_cc *cc, uint64_t now, uint32_t in_flight)
{
    mpx_cc_reno.on_congestion(cc, now, in_flight);
}

static void lia_on_rto(struct mpx_cc *cc, uint64_t now, uint32_t in_flight, bool first)
{
    mpx_cc_reno.on_rto(cc, now, in_flight, first);
}

const struct mpx_cc_ops mpx_cc_lia = {
    .name = "lia",
    .init = lia_init,
    .on_ack = lia_on_ack,
    .on_congestion = lia_on_congestion,
    .on_recovery_exit = NULL,
    .on_rto = lia_on_rto,
};
