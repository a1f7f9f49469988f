/*
 * cc_hystart.c - HyStart: leave the initial slow start before it
 * overshoots, when the RTT starts to grow.
 *
 * Detection is RFC 9406's (section 4.2): the minimum RTT of a round
 * against the last round's, RttThresh = lastRoundMinRTT / 8 clamped to
 * [4 ms, 16 ms], after N_RTT_SAMPLE samples (the engine gives one per
 * ACK, from the timestamp echo). The response is Linux's (tcp_cubic.c
 * hystart_update): ssthresh = cwnd, congestion avoidance at once, not RFC
 * 9406's Conservative Slow Start. CSS grows a quarter as fast for 5 more
 * rounds, about x3 in all, and into a queue-limited path that still
 * overshoots: on the lab's 50 Mbit/s + 20 ms path (TBF, 50 ms queue) it
 * ended in loss and an RTO, 93.5 Mbit/s and ~100 segments retransmitted
 * per run, against 94.3 and ~10 with the immediate exit (the kernel: 92.7).
 * Used in the initial slow start only (ssthresh still infinite); the
 * caller turns it off at the first congestion event.
 *
 * Rounds: RFC 9406 section 4.2 ends a round when SND.UNA passes windowEnd,
 * the SND.NXT at the round's start. The cc sees no sequence numbers, so it
 * counts bytes instead: at the ACK that starts a round, everything still
 * outstanding (in_flight - acked) is what must be ACKed to end it. With
 * in_flight always 0 every ACK is its own round and N_RTT_SAMPLE is never
 * reached, so the algorithm degrades to plain slow start, which is safe.
 */
#include "cc.h"

/* RFC 9406 §4.3 constants. RTTs in ns. */
#define MIN_RTT_THRESH  4000000ull  /* 4 ms */
#define MAX_RTT_THRESH  16000000ull /* 16 ms */
#define MIN_RTT_DIVISOR 8
#define N_RTT_SAMPLE    8

void mpx_cc_hystart_init(struct mpx_cc_hystart *h)
{
    *h = (struct mpx_cc_hystart){.state = MPX_HYSTART_SS};
}

/* Count the ACK against the round: at its end, the next one starts. */
static void next_round(struct mpx_cc_hystart *h, const struct mpx_cc_ack *a)
{
    if (h->round_started && a->acked < h->round_left) {
        h->round_left -= a->acked;
        return;
    }
    h->round_left = a->in_flight > a->acked ? a->in_flight - a->acked : 0;
    h->last_round_min_rtt = h->cur_round_min_rtt;
    h->cur_round_min_rtt = 0;
    h->rtt_samples = 0;
    h->round_started = true;
}

/* RFC 9406 §4.2: a round whose minimum RTT exceeds the last round's by
 * RttThresh means a queue is building. */
static bool delay_increased(const struct mpx_cc_hystart *h)
{
    uint64_t thresh, last = h->last_round_min_rtt;

    if (h->rtt_samples < N_RTT_SAMPLE || !h->cur_round_min_rtt || !last)
        return false;
    /* RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / 8, MAX_RTT_THRESH)) */
    thresh = last / MIN_RTT_DIVISOR;
    if (thresh > MAX_RTT_THRESH)
        thresh = MAX_RTT_THRESH;
    if (thresh < MIN_RTT_THRESH)
        thresh = MIN_RTT_THRESH;
    return h->cur_round_min_rtt >= last + thresh;
}

uint32_t mpx_cc_hystart_slow_start(struct mpx_cc *cc, struct mpx_cc_hystart *h,
                                   const struct mpx_cc_ack *a)
{
    if (h->state == MPX_HYSTART_OFF || cc->ssthresh != MPX_CC_SSTHRESH_INF)
        return mpx_cc_slow_start(cc, a->acked);
    next_round(h, a);
    if (a->rtt) {
        if (!h->cur_round_min_rtt || a->rtt < h->cur_round_min_rtt)
            h->cur_round_min_rtt = a->rtt;
        h->rtt_samples++;
    }
    uint32_t left = mpx_cc_slow_start(cc, a->acked);
    if (delay_increased(h)) {
        cc->ssthresh = cc->cwnd; /* Linux hystart_update; the rest is CA's */
        h->state = MPX_HYSTART_OFF;
    }
    return left;
}
