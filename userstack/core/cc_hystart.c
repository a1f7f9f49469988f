/*
 * cc_hystart.c - HyStart++ (RFC 9406): leave the initial slow start before
 * it overshoots, when the RTT starts to grow.
 *
 * RFC 9406 §4.3: used only in the initial slow start (ssthresh still
 * infinite); the caller turns it off at the first congestion event. Growth
 * per ACK keeps our ABC limit L = 2 (RFC 3465), stricter than RFC 9406's
 * L = 8 for unpaced senders.
 *
 * Rounds: RFC 9406 §4.2 ends a round when SND.UNA passes windowEnd, the
 * SND.NXT at the round's start. The cc sees no sequence numbers, so it
 * counts bytes instead: at the ACK that starts a round, everything still
 * outstanding (in_flight - acked) is what must be ACKed to end it. With
 * in_flight always 0 every ACK is its own round and N_RTT_SAMPLE is never
 * reached, so the algorithm degrades to plain slow start, which is safe.
 */
#include "cc.h"

/* RFC 9406 §4.3 constants. RTTs in ns. */
#define MIN_RTT_THRESH     4000000ull  /* 4 ms */
#define MAX_RTT_THRESH     16000000ull /* 16 ms */
#define MIN_RTT_DIVISOR    8
#define N_RTT_SAMPLE       8
#define CSS_GROWTH_DIVISOR 4
#define CSS_ROUNDS         5

void mpx_cc_hystart_init(struct mpx_cc_hystart *h)
{
    *h = (struct mpx_cc_hystart){.state = MPX_HYSTART_SS};
}

/* Count the ACK against the round; returns true if it started a new one
 * (the previous round ended). */
static bool next_round(struct mpx_cc_hystart *h, const struct mpx_cc_ack *a)
{
    if (h->round_started && a->acked < h->round_left) {
        h->round_left -= a->acked;
        return false;
    }
    h->round_left = a->in_flight > a->acked ? a->in_flight - a->acked : 0;
    h->last_round_min_rtt = h->cur_round_min_rtt;
    h->cur_round_min_rtt = 0;
    h->rtt_samples = 0;
    if (!h->round_started) {
        h->round_started = true;
        return false;
    }
    return true;
}

/* RFC 9406 §4.2: in slow start, a round whose minimum RTT exceeds the last
 * round's by RttThresh means a queue is building: go to CSS. */
static void check_delay_increase(struct mpx_cc_hystart *h)
{
    uint64_t thresh, last = h->last_round_min_rtt;

    if (h->rtt_samples < N_RTT_SAMPLE || !h->cur_round_min_rtt || !last)
        return;
    /* RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / 8, MAX_RTT_THRESH)) */
    thresh = last / MIN_RTT_DIVISOR;
    if (thresh > MAX_RTT_THRESH)
        thresh = MAX_RTT_THRESH;
    if (thresh < MIN_RTT_THRESH)
        thresh = MIN_RTT_THRESH;
    if (h->cur_round_min_rtt >= last + thresh) {
        h->css_baseline = h->cur_round_min_rtt;
        h->state = MPX_HYSTART_CSS;
        h->css_rounds = 0;
        h->css_acc = 0;
    }
}

/* CSS growth: a quarter of slow start's, remainder carried. */
static void css_grow(struct mpx_cc *cc, struct mpx_cc_hystart *h, uint32_t acked)
{
    uint64_t limit = (uint64_t)MPX_CC_ABC_L * cc->mss;
    uint64_t inc = (acked < limit ? acked : limit) + h->css_acc;
    uint64_t w = cc->cwnd + inc / CSS_GROWTH_DIVISOR;

    h->css_acc = (uint32_t)(inc % CSS_GROWTH_DIVISOR);
    cc->cwnd = w > MPX_CC_CWND_MAX ? MPX_CC_CWND_MAX : (uint32_t)w;
}

uint32_t mpx_cc_hystart_slow_start(struct mpx_cc *cc, struct mpx_cc_hystart *h,
                                   const struct mpx_cc_ack *a)
{
    bool new_round;

    if (h->state == MPX_HYSTART_OFF || cc->ssthresh != MPX_CC_SSTHRESH_INF)
        return mpx_cc_slow_start(cc, a->acked);
    new_round = next_round(h, a);
    if (new_round && h->state == MPX_HYSTART_CSS && ++h->css_rounds >= CSS_ROUNDS) {
        /* "If CSS_ROUNDS rounds are complete, enter congestion avoidance
         * by setting the ssthresh to the current cwnd." */
        cc->ssthresh = cc->cwnd;
        h->state = MPX_HYSTART_OFF;
        return 0;
    }
    if (a->rtt) {
        if (!h->cur_round_min_rtt || a->rtt < h->cur_round_min_rtt)
            h->cur_round_min_rtt = a->rtt;
        h->rtt_samples++;
    }
    if (h->state == MPX_HYSTART_SS) {
        uint32_t left = mpx_cc_slow_start(cc, a->acked);
        check_delay_increase(h);
        return left;
    }
    css_grow(cc, h, a->acked);
    /* The RTT rise was spurious: back to slow start. */
    if (h->rtt_samples >= N_RTT_SAMPLE && h->cur_round_min_rtt < h->css_baseline) {
        h->css_baseline = 0;
        h->state = MPX_HYSTART_SS;
    }
    return 0;
}
