/*
 * cc_reno.c - NewReno congestion control (RFC 5681, RFC 6582, RFC 3465).
 *
 * Slow start with Appropriate Byte Counting (L = 2), congestion avoidance by
 * byte counting (one MSS per cwnd of ACKed bytes), halving on loss. The
 * recovery itself (retransmissions, partial ACKs, the sending rule) is the
 * TCP engine's; this file only sets cwnd and ssthresh.
 */
#include "cc.h"

static void reno_init(struct mpx_cc *cc, uint64_t now)
{
    (void)now;
    cc->u.reno.ca_acked = 0;
}

static void reno_on_ack(struct mpx_cc *cc, const struct mpx_cc_ack *a)
{
    uint32_t acked = a->acked;

    /* RFC 7661 spirit (Linux tcp_is_cwnd_limited): a window the sender did
     * not fill has not been validated by the network; do not grow it. */
    if (a->app_limited)
        return;
    if (mpx_cc_in_slow_start(cc)) {
        acked = mpx_cc_slow_start(cc, acked);
        if (acked == 0)
            return;
    }
    mpx_cc_reno_avoid(cc, &cc->u.reno.ca_acked, acked);
}

/* RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS). */
static uint32_t reno_ssthresh(const struct mpx_cc *cc, uint32_t in_flight)
{
    uint32_t half = in_flight / 2;
    return half > 2 * cc->mss ? half : 2 * cc->mss;
}

static void reno_on_congestion(struct mpx_cc *cc, uint64_t now, uint32_t in_flight)
{
    (void)now;
    cc->ssthresh = reno_ssthresh(cc, in_flight);
    /* RFC 6582 §3.2 step 2 sets cwnd = ssthresh + 3*SMSS and inflates it
     * per dupack; with SACK/pipe-based recovery (RFC 6675) and PRR in the
     * engine the window is simply ssthresh, which is also the value NewReno
     * deflates to when recovery ends (step 3 option 1). */
    cc->cwnd = cc->ssthresh;
    cc->u.reno.ca_acked = 0;
}

static void reno_on_rto(struct mpx_cc *cc, uint64_t now, uint32_t in_flight, bool first)
{
    (void)now;
    /* RFC 5681 §3.1: on a repeated timeout of the same segment "the value
     * of ssthresh is held constant". */
    if (first)
        cc->ssthresh = reno_ssthresh(cc, in_flight);
    cc->cwnd = cc->mss;
    cc->u.reno.ca_acked = 0;
}

const struct mpx_cc_ops mpx_cc_reno = {
    .name = "reno",
    .init = reno_init,
    .on_ack = reno_on_ack,
    .on_congestion = reno_on_congestion,
    .on_recovery_exit = NULL,
    .on_rto = reno_on_rto,
};
