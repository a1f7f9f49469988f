/*
 * tcp_input.c - segment arrival, RFC 9293 section 3.10.7, with RFC 5961
 * (challenge ACKs), RFC 7323 (PAWS, RTTM), RFC 2018/6675 (SACK
 * scoreboard and loss recovery), RFC 6582 (NewReno without SACK) and
 * RFC 6298 (RTT estimation).
 */
#include <string.h>

#include "err.h"
#include "tcp_int.h"

void mpx_tcp_parse_syn_opts(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th, uint64_t now)
{
    const struct mpx_tcp_opts *o = &th->opts;
    c->peer_mss = (o->present & MPX_TCPO_MSS) && o->mss ? o->mss : MPX_TCP_DEFAULT_MSS;
    if (c->cfg.wscale && (o->present & MPX_TCPO_WSCALE)) {
        c->wscale_ok = true; /* RFC 7323 2.3: larger than 14 is used as 14 */
        c->snd_wscale = o->wscale > MPX_TCP_MAX_WSCALE ? MPX_TCP_MAX_WSCALE : o->wscale;
    } else {
        c->wscale_ok = false;
        c->snd_wscale = c->rcv_wscale = 0;
    }
    c->sack_ok = c->cfg.sack && (o->present & MPX_TCPO_SACK_PERM);
    c->ts_ok = c->cfg.timestamps && (o->present & MPX_TCPO_TS);
    if (c->ts_ok) {
        c->ts_recent = o->ts_val;
        c->ts_recent_age = now;
    }
    mpx_tcp_update_mss(c);
    /* RFC 6928: the initial window follows the MSS now known */
    c->cc.cwnd = mpx_cc_initial_window(c->cc.mss);
}

/* RFC 6298 2.2/2.3 (G = 1 ms, the timestamp clock) and 2.4/2.5 bounds. */
static void set_rto(struct mpx_tcp_conn *c)
{
    uint64_t var4 = 4 * c->rttvar;
    uint64_t rto = c->srtt + (var4 > MPX_NS_PER_MS ? var4 : MPX_NS_PER_MS);
    if (rto < c->cfg.rto_min)
        rto = c->cfg.rto_min;
    if (rto > c->cfg.rto_max)
        rto = c->cfg.rto_max;
    c->rto = rto;
}

/* RFC 6298 section 2. */
void mpx_tcp_rtt_sample(struct mpx_tcp_conn *c, uint64_t r)
{
    if (!c->rtt_valid) {
        c->srtt = r;
        c->rttvar = r / 2;
        c->rtt_valid = true;
        c->min_rtt = r;
    } else {
        uint64_t d = c->srtt > r ? c->srtt - r : r - c->srtt;
        c->rttvar = (3 * c->rttvar + d) / 4;
        c->srtt = (7 * c->srtt + r) / 8;
        if (r < c->min_rtt)
            c->min_rtt = r;
    }
    set_rto(c);
}

static void reply_rst(struct mpx_tcp_conn *c, const struct mpx_pkt *pkt)
{
    const struct mpx_tcp_hdr *th = &pkt->tcp;
    if (th->flags & MPX_TH_RST)
        return;
    if (th->flags & MPX_TH_ACK)
        mpx_tcp_queue_rst(c, th->ack, 0, 0);
    else
        mpx_tcp_queue_rst(c, 0,
                          th->seq + (uint32_t)pkt->payload_len + !!(th->flags & MPX_TH_SYN) +
                              !!(th->flags & MPX_TH_FIN),
                          MPX_TH_ACK);
}

/* ---- SYN-SENT (RFC 9293 3.10.7.3) ------------------------------------- */

static void became_established(struct mpx_tcp_conn *c, uint64_t now)
{
    /* RFC 6298 5.7: a handshake that needed retransmissions leaves a
     * backed-off RTO and no sample: start the data phase from rto_init. */
    if (!c->rtt_valid)
        c->rto = c->cfg.rto_init;
    c->backoff = 0;
    mpx_tcp_set_state(c, MPX_TCP_ESTABLISHED);
    mpx_tcp_event(c, MPX_TCP_EV_ESTABLISHED, 0);
    if (c->shut_wr) /* shutdown() during the handshake */
        mpx_tcp_set_state(c, MPX_TCP_FIN_WAIT_1);
    mpx_tcp_arm_keepalive(c, now);
}

static uint64_t ts_rtt(const struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th, uint64_t now)
{
    if (!c->ts_ok || !(th->opts.present & MPX_TCPO_TS))
        return 0;
    int32_t d = (int32_t)(mpx_tcp_ts_now(c, now) - th->opts.ts_ecr);
    return d >= 0 ? (uint64_t)(d ? d : 1) * MPX_NS_PER_MS : 0;
}

static int input_syn_sent(struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now)
{
    const struct mpx_tcp_hdr *th = &pkt->tcp;
    uint8_t f = th->flags;
    if ((f & MPX_TH_ACK) && (mpx_seq_leq(th->ack, c->iss) || mpx_seq_gt(th->ack, c->snd_max))) {
        reply_rst(c, pkt);
        return 0;
    }
    if (f & MPX_TH_RST) { /* RFC 5961 3.2: only with an acceptable ACK */
        if (f & MPX_TH_ACK) {
            c->mib.InRsts++;
            c->mib.AttemptFails++;
            mpx_tcp_closed(c, MPX_ERR_REFUSED);
        }
        return 0;
    }
    if (!(f & MPX_TH_SYN))
        return 0;
    c->irs = th->seq;
    c->rcv_nxt = c->rcv_adv = th->seq + 1;
    mpx_tcp_parse_syn_opts(c, th, now);
    c->snd_wnd = c->max_snd_wnd = th->win; /* a SYN's window is never scaled */
    c->snd_wl1 = th->seq;
    c->snd_wl2 = th->ack;
    c->last_rcv = now;
    c->ack_now = true;
    if (!(f & MPX_TH_ACK)) { /* simultaneous open: resend our SYN as SYN-ACK */
        mpx_tcp_set_state(c, MPX_TCP_SYN_RECEIVED);
        c->snd_nxt = c->iss;
        c->t_rtx = MPX_TCP_TIMER_OFF;
        return 0;
    }
    if (c->rtt_timing && c->syn_tries == 0)
        mpx_tcp_rtt_sample(c, now - c->rtt_time);
    c->rtt_timing = false;
    c->snd_una = th->ack;
    c->backoff = 0;
    c->t_rtx = MPX_TCP_TIMER_OFF;
    became_established(c, now);
    return 0;
}

/* ---- synchronized states: checks before the ACK ------------------------- */

/* RFC 7323 section 5.3 (R1) with the 24-day rule of section 5.5. */
/* Linux tcp_disordered_ack: a pure duplicate ACK (at rcv_nxt, ACKing
 * snd_una, window unchanged) whose timestamp is older than TS.Recent by
 * less than an RTO was only overtaken by a later segment (reordering); it
 * is no old duplicate to fear, and dropping it would lose its SACK
 * information. */
static bool disordered_ack(const struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th,
                           uint32_t seg_len)
{
    uint32_t rto_ms = (uint32_t)(c->rto / MPX_NS_PER_MS);
    return (th->flags & MPX_TH_ACK) && seg_len == 0 && th->seq == c->rcv_nxt &&
           th->ack == c->snd_una && ((uint32_t)th->win << c->snd_wscale) == c->snd_wnd &&
           (uint32_t)(c->ts_recent - th->opts.ts_val) <= rto_ms;
}

/* RFC 7323 section 5.3 R1, with Linux's tolerances: a TSval one tick
 * below TS.Recent passes (TCP_PAWS_WINDOW: two segments sent in the same
 * millisecond on either side of a tick, reordered), and so does a
 * disordered pure ACK. */
static bool paws_reject(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th, uint32_t seg_len,
                        uint64_t now)
{
    if (!c->ts_ok || !(th->opts.present & MPX_TCPO_TS) || (th->flags & MPX_TH_RST))
        return false;
    if (now - c->ts_recent_age > MPX_TCP_PAWS_IDLE) {
        c->ts_recent = th->opts.ts_val; /* ts_recent too old to judge by */
        c->ts_recent_age = now;
        return false;
    }
    if ((int32_t)(c->ts_recent - th->opts.ts_val) <= MPX_TCP_PAWS_WINDOW)
        return false;
    return !disordered_ack(c, th, seg_len);
}

/* RFC 9293 3.10.7.4 first check, the four cases. A zero window still lets a
 * segment at rcv_nxt through so its ACK is processed (its data is not). */
static bool seq_acceptable(const struct mpx_tcp_conn *c, uint32_t seq, uint32_t seg_len)
{
    uint32_t wnd = c->rcv_adv - c->rcv_nxt;
    if (mpx_seq_lt(c->rcv_adv, c->rcv_nxt))
        wnd = 0;
    if (wnd == 0)
        return seq == c->rcv_nxt;
    uint32_t off = seq - c->rcv_nxt;
    if (mpx_seq_geq(seq, c->rcv_nxt) && off < wnd)
        return true;
    if (seg_len == 0)
        return false;
    uint32_t last = seq + seg_len - 1;
    return mpx_seq_geq(last, c->rcv_nxt) && (uint32_t)(last - c->rcv_nxt) < wnd;
}

static int input_rst(struct mpx_tcp_conn *c, uint32_t seq, uint64_t now)
{
    if (seq != c->rcv_nxt) { /* RFC 5961 3.2: in window but not exact */
        mpx_tcp_challenge_ack(c, now);
        return 0;
    }
    c->mib.InRsts++;
    switch (c->state) {
    case MPX_TCP_SYN_RECEIVED:
        if (c->passive) {
            mpx_tcp_closed(c, MPX_ERR_RESET);
        } else {
            c->mib.AttemptFails++;
            mpx_tcp_closed(c, MPX_ERR_REFUSED);
        }
        break;
    case MPX_TCP_ESTABLISHED:
    case MPX_TCP_CLOSE_WAIT:
        c->mib.EstabResets++;
        mpx_tcp_closed(c, MPX_ERR_RESET);
        break;
    case MPX_TCP_TIME_WAIT:
        mpx_tcp_closed(c, 0);
        break;
    default:
        mpx_tcp_closed(c, MPX_ERR_RESET);
        break;
    }
    return 0;
}

/* ---- the ACK field ---------------------------------------------------- */

static void update_window(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th)
{
    if (mpx_seq_lt(c->snd_wl1, th->seq) ||
        (c->snd_wl1 == th->seq && mpx_seq_leq(c->snd_wl2, th->ack))) {
        c->snd_wnd = (uint32_t)th->win << c->snd_wscale;
        c->snd_wl1 = th->seq;
        c->snd_wl2 = th->ack;
        if (c->snd_wnd > c->max_snd_wnd)
            c->max_snd_wnd = c->snd_wnd;
    }
}

/* snd_una moves to |ack|: free the acknowledged bytes, take an RTT sample,
 * restart or stop the retransmission timer (RFC 6298 5.2, 5.3). */
static uint32_t ack_advance(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th, uint64_t now,
                            uint64_t *rtt)
{
    uint32_t ack = th->ack, acked = ack - c->snd_una;
    uint32_t data_end = mpx_seq_min(ack, mpx_tcp_sndbuf_end(c));
    if (mpx_seq_gt(data_end, c->sndbuf_seq)) {
        uint32_t n = data_end - c->sndbuf_seq;
        mpx_ring_consume(&c->sndbuf, n);
        c->sndbuf_seq = data_end;
        c->bytes_acked += n;
    }
    *rtt = 0;
    if (c->rtt_timing && mpx_seq_gt(ack, c->rtt_seq)) {
        *rtt = now - c->rtt_time;
        c->rtt_timing = false;
    } else if (c->ca_state >= MPX_TCP_CA_RECOVERY || c->backoff) {
        *rtt = ts_rtt(c, th, now); /* RFC 7323 4: timestamps survive Karn */
    }
    if (*rtt)
        mpx_tcp_rtt_sample(c, *rtt);
    else if (c->backoff && c->rtt_valid)
        set_rto(c); /* RFC 6298 5.7-ish: drop the backoff, keep the estimate */
    c->snd_una = ack;
    if (mpx_seq_lt(c->snd_nxt, ack))
        c->snd_nxt = ack;
    if (mpx_seq_lt(c->high_rxt, ack))
        c->high_rxt = ack;
    c->retrans_out = c->retrans_out > acked ? c->retrans_out - acked : 0;
    c->backoff = 0;
    c->persist_backoff = 0;
    c->tlp_out = false;
    mpx_tcp_arm_rtx(c, now, true);
    return acked;
}

static void enter_recovery(struct mpx_tcp_conn *c, uint64_t now, uint32_t in_flight)
{
    c->ca_state = MPX_TCP_CA_RECOVERY;
    c->recover = c->snd_max;
    c->high_rxt = c->snd_una;
    c->rescue_valid = false;
    c->retrans_out = 0;
    c->undo_armed = true; /* RFC 3708 DSACK undo of this recovery */
    c->undo_due = false;
    c->undo_marker = c->snd_una;
    c->undo_retrans = 0;
    mpx_cc_on_congestion(&c->cc, now, in_flight);
    if (c->sack_ok) {
        c->mib.TCPSackRecovery++;
    } else {
        c->mib.TCPRenoRecovery++;
        c->reno_sacked = c->dupacks;
        c->reno_rtx = true; /* RFC 6582 3.2 step 2: retransmit at once */
    }
    mpx_tcp_log(c, MPX_LOG_DEBUG, "enter recovery", c->snd_una, c->recover);
}

/* Dupack counting, recovery entry and exit (RFC 5681 3.2, RFC 6675 5,
 * RFC 6582 3.2). */
static void recovery_on_ack(struct mpx_tcp_conn *c, bool advanced, bool dup, uint32_t acked,
                            uint64_t now, uint32_t in_flight)
{
    bool done = advanced && mpx_seq_geq(c->snd_una, c->recover);
    switch (c->ca_state) {
    case MPX_TCP_CA_RECOVERY:
        if (done) {
            c->ca_state = MPX_TCP_CA_OPEN;
            c->dupacks = c->reno_sacked = 0;
            c->retrans_out = 0;
            mpx_cc_on_recovery_exit(&c->cc, now);
        } else if (!c->sack_ok && advanced) { /* partial ACK (RFC 6582 3.2 5) */
            uint32_t segs = acked / (c->cc.mss ? c->cc.mss : 1);
            c->reno_sacked = c->reno_sacked > segs ? c->reno_sacked - segs : 0;
            c->reno_rtx = true;
        } else if (!c->sack_ok && dup) {
            c->reno_sacked++;
        }
        break;
    case MPX_TCP_CA_LOSS:
        if (done) {
            c->ca_state = MPX_TCP_CA_OPEN;
            c->dupacks = 0;
        }
        break;
    default:
        if (advanced)
            c->dupacks = 0;
        if (dup)
            c->dupacks++;
        c->ca_state = (c->n_sb || c->dupacks) ? MPX_TCP_CA_DISORDER : MPX_TCP_CA_OPEN;
        /* the lost edge means something only with SACK blocks held */
        if (c->snd_una != c->snd_max &&
            (c->dupacks >= mpx_tcp_dupthresh(c) ||
             (c->sack_ok && c->n_sb && mpx_seq_gt(c->lost_edge, c->snd_una))))
            enter_recovery(c, now, in_flight);
        break;
    }
    if (c->sack_ok)
        mpx_tcp_sb_update_lost(c);
}

static void cc_on_ack(struct mpx_tcp_conn *c, uint32_t acked, uint32_t in_flight, uint64_t rtt,
                      uint64_t now)
{
    if (c->ca_state == MPX_TCP_CA_RECOVERY || acked == 0)
        return;
    struct mpx_cc_ack a = {
        .now = now,
        .acked = acked,
        .in_flight = in_flight,
        .rtt = rtt,
        .srtt = c->srtt,
        .min_rtt = c->min_rtt,
        .app_limited = !c->cwnd_limited,
    };
    mpx_cc_on_ack(&c->cc, &a);
}

/* Our FIN acknowledged: the closing transitions of RFC 9293 3.10.7.4. */
static bool fin_acked_transitions(struct mpx_tcp_conn *c, uint64_t now)
{
    if (!c->fin_sent || !mpx_seq_gt(c->snd_una, c->fin_seq))
        return true;
    switch (c->state) {
    case MPX_TCP_FIN_WAIT_1:
        mpx_tcp_set_state(c, MPX_TCP_FIN_WAIT_2);
        if (c->orphan)
            c->t_close = now + c->cfg.fin_timeout;
        break;
    case MPX_TCP_CLOSING:
        mpx_tcp_enter_timewait(c, now);
        break;
    case MPX_TCP_LAST_ACK:
        mpx_tcp_closed(c, 0);
        return false;
    default:
        break;
    }
    return true;
}

/* RFC 3522 (Eifel detection) with the RFC 4015 response: the first ACK
 * after an RTO echoes a timestamp older than the retransmission, so it was
 * the original that arrived: the timeout was spurious. Undo the reduction
 * and go on with new data instead of resending what is in flight. */
static void eifel_check(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th, uint64_t now)
{
    if (!c->eifel_armed || c->ca_state != MPX_TCP_CA_LOSS)
        return;
    c->eifel_armed = false;
    if (!(th->opts.present & MPX_TCPO_TS) || !mpx_seq_lt(th->opts.ts_ecr, c->rto_tsval))
        return;
    c->mib.TCPSpuriousRTOs++;
    if (mpx_cc_on_spurious(&c->cc, now))
        c->mib.TCPFullUndo++;
    c->ca_state = MPX_TCP_CA_OPEN;
    c->snd_nxt = c->snd_max;
    c->high_rxt = c->snd_una;
}

/* Returns false when the segment must not be processed further. */
static bool process_ack(struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now)
{
    const struct mpx_tcp_hdr *th = &pkt->tcp;
    uint32_t ack = th->ack;
    /* RFC 5961 section 5.2: acceptable ACKs lie within
     * [SND.UNA - MAX.SND.WND, SND.NXT]; anything else gets a challenge. */
    if (mpx_seq_gt(ack, c->snd_max) || mpx_seq_lt(ack, c->snd_una - c->max_snd_wnd)) {
        c->mib.InDropBadAck++;
        mpx_tcp_challenge_ack(c, now);
        return false;
    }
    c->last_ack_rcv = now;
    uint32_t in_flight = mpx_tcp_pipe(c);
    uint32_t old_wnd = c->snd_wnd;
    bool advanced = mpx_seq_gt(ack, c->snd_una);
    uint32_t acked = 0;
    uint64_t rtt = 0;
    if (advanced)
        acked = ack_advance(c, th, now, &rtt);
    if (advanced)
        eifel_check(c, th, now);
    uint32_t newly_sacked = mpx_tcp_sb_update(c, th);
    if (c->undo_due) {
        c->undo_due = false;
        if (mpx_cc_on_spurious(&c->cc, now))
            c->mib.TCPFullUndo++; /* Linux: TCPDSACKUndo */
    }
    if (advanced && c->n_sb)
        mpx_tcp_sb_ack(c);
    update_window(c, th);
    /* RFC 5681 section 2 "duplicate ACK"; with SACK, RFC 6675 counts an ACK
     * that brings new SACK information. */
    bool dup = !advanced && ack == c->snd_una && c->snd_una != c->snd_max &&
               (c->sack_ok ? newly_sacked > 0
                           : pkt->payload_len == 0 && !(th->flags & (MPX_TH_SYN | MPX_TH_FIN)) &&
                                 c->snd_wnd == old_wnd);
    if (c->sack_ok && (newly_sacked || advanced))
        mpx_tcp_sb_update_lost(c);
    recovery_on_ack(c, advanced, dup, acked, now, in_flight);
    /* The RTO estimator times one segment per RTT (RFC 6298), but HyStart++
     * needs a sample on every ACK (RFC 9406 4.2, N_RTT_SAMPLE per round):
     * with one it never left slow start, and a 50 Mbit/s path with a deep
     * queue overshot by twice its BDP into loss and RTOs. The timestamp
     * echo gives one (RFC 7323 4, our 1 ms clock). */
    if (advanced && !rtt)
        rtt = ts_rtt(c, th, now);
    cc_on_ack(c, acked + newly_sacked, in_flight, rtt, now);
    if (advanced || c->snd_wnd != old_wnd)
        mpx_tcp_check_persist(c, now);
    if (advanced)
        mpx_tcp_sndbuf_tune(c);
    return fin_acked_transitions(c, now);
}

/* ---- segment text and FIN --------------------------------------------- */

static void schedule_ack(struct mpx_tcp_conn *c, uint64_t now)
{
    /* Linux __tcp_ack_snd_check: more than one full segment unacked, or
     * quickack mode (connection start), means ACK now; else delay. */
    if ((uint32_t)(c->rcv_nxt - c->last_ack_sent) >= 2 * c->rcv_mss || c->quickacks) {
        if (c->quickacks)
            c->quickacks--;
        c->ack_now = true;
    } else if (c->t_delack == MPX_TCP_TIMER_OFF) {
        c->t_delack = now + c->cfg.delack;
    }
}

static void fin_in_order(struct mpx_tcp_conn *c, uint64_t now)
{
    c->rcv_nxt++;
    c->peer_fin = true;
    c->ooo_fin = false;
    c->ack_now = true;
    mpx_tcp_event(c, MPX_TCP_EV_PEER_FIN, 0);
    mpx_tcp_event(c, MPX_TCP_EV_READABLE, 0);
    switch (c->state) {
    case MPX_TCP_ESTABLISHED:
        mpx_tcp_set_state(c, MPX_TCP_CLOSE_WAIT);
        break;
    case MPX_TCP_FIN_WAIT_1: /* our FIN not yet acked: simultaneous close */
        mpx_tcp_set_state(c, MPX_TCP_CLOSING);
        break;
    case MPX_TCP_FIN_WAIT_2:
        mpx_tcp_enter_timewait(c, now);
        break;
    default:
        break;
    }
}

/* Data at rcv_nxt, then whatever out-of-order data it joins up with. */
static void data_in_order(struct mpx_tcp_conn *c, const uint8_t *p, uint32_t len, uint64_t now)
{
    mpx_ring_write_at(&c->rcvbuf, c->rcvbuf.len, p, len);
    c->rcvbuf.len += len;
    c->rcv_nxt += len;
    if (c->n_ooo) {
        uint32_t nxt = mpx_tcp_ooo_advance(c, c->rcv_nxt);
        if (nxt != c->rcv_nxt) {
            c->rcvbuf.len += nxt - c->rcv_nxt;
            c->rcv_nxt = nxt;
        }
        c->ack_now = true; /* a hole filled: tell the sender at once */
    }
    if (len) {
        c->bytes_received += len;
        c->data_segs_in++;
        c->last_rcv_data = now;
        mpx_tcp_event(c, MPX_TCP_EV_READABLE, 0);
        schedule_ack(c, now);
    }
}

static void data_out_of_order(struct mpx_tcp_conn *c, uint32_t seq, const uint8_t *p, uint32_t len,
                              bool fin)
{
    bool dup;
    c->ack_now = true; /* RFC 5681 4.2: out-of-order data is ACKed at once */
    if (!mpx_tcp_ooo_add(c, seq, seq + len, &dup)) {
        c->mib.TCPOFODrop++;
        return;
    }
    if (dup) { /* RFC 2883: report the duplicate in the first block */
        c->dsack.left = seq;
        c->dsack.right = seq + len;
        c->dsack_pending = c->sack_ok;
        c->mib.TCPDSACKOfoSent += c->sack_ok;
        return;
    }
    mpx_ring_write_at(&c->rcvbuf, c->rcvbuf.len + (seq - c->rcv_nxt), p, len);
    c->mib.TCPOFOQueue++;
    c->bytes_received += len;
    c->data_segs_in++;
    if (fin) {
        c->ooo_fin = true;
        c->ooo_fin_seq = seq + len;
    }
}

/* Linux tcp_rcv_rtt_measure_ts: the peer echoes our timestamp, so a data
 * segment tells how long ago we sent what it acknowledges. */
static void rcv_rtt_sample(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th, uint64_t now)
{
    uint64_t r = ts_rtt(c, th, now);
    if (!r || r > 60 * MPX_NS_PER_S)
        return;
    c->rcv_rtt = c->rcv_rtt ? (7 * c->rcv_rtt + r) / 8 : r;
}

static void process_text(struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now)
{
    uint32_t seq = pkt->tcp.seq, len = (uint32_t)pkt->payload_len;
    const uint8_t *p = pkt->payload;
    bool fin = pkt->tcp.flags & MPX_TH_FIN;
    if (mpx_seq_lt(seq, c->rcv_nxt)) { /* trim what we already have */
        uint32_t d = c->rcv_nxt - seq;
        if (d >= len && !(fin && d == len)) {
            if (len && c->sack_ok) {
                c->dsack.left = seq;
                c->dsack.right = seq + len;
                c->dsack_pending = true;
                c->mib.TCPDSACKOldSent++;
            }
            c->ack_now = true;
            return;
        }
        d = d > len ? len : d;
        p += d;
        len -= d;
        seq += d;
    }
    /* Trim to the window we offered, which the ring can always hold. */
    uint32_t room = c->rcvbuf.cap - c->rcvbuf.len;
    uint32_t edge = mpx_seq_min(c->rcv_adv, c->rcv_nxt + room);
    if (mpx_seq_gt(seq + len, edge)) {
        uint32_t keep = mpx_seq_gt(edge, seq) ? edge - seq : 0;
        if (keep < len)
            c->mib.TCPZeroWindowDrop += (keep == 0);
        len = keep;
        fin = false;
        c->ack_now = true;
    }
    c->rcv_mss = mpx_seq_max(c->rcv_mss, len < c->mss_base ? len : c->mss_base);
    if (len && !c->rtt_valid) /* a receive-only end: RTT for autotuning */
        rcv_rtt_sample(c, &pkt->tcp, now);
    if (seq == c->rcv_nxt) {
        data_in_order(c, p, len, now);
        if ((fin && seq + len == c->rcv_nxt) || (c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt))
            fin_in_order(c, now);
    } else if (len || fin) {
        data_out_of_order(c, seq, p, len, fin);
    }
}

/* RFC 9293 3.10.7.4 seventh and eighth steps, per state. */
static void input_text(struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now)
{
    bool fin = pkt->tcp.flags & MPX_TH_FIN;
    switch (c->state) {
    case MPX_TCP_ESTABLISHED:
    case MPX_TCP_FIN_WAIT_1:
    case MPX_TCP_FIN_WAIT_2:
        if (c->orphan && pkt->payload_len &&
            mpx_seq_geq(pkt->tcp.seq + (uint32_t)pkt->payload_len, c->rcv_nxt + 1)) {
            /* Linux tcp_rcv_state_process: new data after close() */
            c->mib.TCPAbortOnData++;
            mpx_tcp_queue_rst(c, c->snd_max, c->rcv_nxt, MPX_TH_ACK);
            mpx_tcp_closed(c, MPX_ERR_CLOSED);
            return;
        }
        process_text(c, pkt, now);
        break;
    case MPX_TCP_TIME_WAIT:
        if (fin) /* a retransmitted FIN: ACK it and restart 2 MSL */
            c->t_close = now + c->cfg.timewait;
        /* fall through */
    default:
        if (fin || pkt->payload_len)
            c->ack_now = true;
        break;
    }
}

static bool update_ts_recent(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th, uint64_t now)
{
    /* RFC 7323 4.3 (2): the segment covers Last.ACK.sent. */
    if (c->ts_ok && (th->opts.present & MPX_TCPO_TS) &&
        mpx_seq_geq(th->opts.ts_val, c->ts_recent) && mpx_seq_leq(th->seq, c->last_ack_sent)) {
        c->ts_recent = th->opts.ts_val;
        c->ts_recent_age = now;
    }
    return true;
}

/* SYN_RECEIVED: a retransmitted SYN (our SYN-ACK was lost) or, after a
 * simultaneous open, the peer's SYN-ACK. Returns true if consumed. */
static bool syn_received_syn(struct mpx_tcp_conn *c, struct mpx_pkt *pkt)
{
    struct mpx_tcp_hdr *th = &pkt->tcp;
    if (!(th->flags & MPX_TH_ACK)) {
        if (th->seq == c->irs)
            c->snd_nxt = c->iss; /* send the SYN-ACK again */
        return th->seq == c->irs;
    }
    if (th->seq + 1 == c->rcv_nxt && mpx_seq_gt(th->ack, c->snd_una) &&
        mpx_seq_leq(th->ack, c->snd_max)) {
        th->seq++; /* RFC 9293 figure 8: drop the SYN, keep the ACK */
        th->flags &= (uint8_t)~MPX_TH_SYN;
        c->ack_now = true;
    }
    return false;
}

static int input_synchronized(struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now)
{
    const struct mpx_tcp_hdr *th = &pkt->tcp;
    uint8_t f = th->flags;
    uint32_t seg_len = (uint32_t)pkt->payload_len + !!(f & MPX_TH_SYN) + !!(f & MPX_TH_FIN);
    if (paws_reject(c, th, seg_len, now)) {
        c->mib.PAWSEstab++;
        /* RFC 7323 5.3 R1 answers with an ACK; for a segment without
         * data (an old ACK overtaken by a newer one: reordering) Linux
         * rate-limits that answer (tcp_oow_rate_limited, 500 ms), else
         * every reordered ACK draws an ACK back */
        if (seg_len || now - c->oow_ack_at >= MPX_TCP_OOW_ACK_GAP) {
            c->oow_ack_at = now;
            c->ack_now = true;
        }
        return 0;
    }
    if (!seq_acceptable(c, th->seq, seg_len)) {
        c->mib.InDropOutOfWindow++;
        if (c->state == MPX_TCP_TIME_WAIT && (f & MPX_TH_FIN) && !(f & MPX_TH_RST) &&
            th->seq + seg_len == c->rcv_nxt) /* the peer's FIN again: restart 2 MSL */
            c->t_close = now + c->cfg.timewait;
        if (!(f & MPX_TH_RST)) {
            c->ack_now = true;
            if (pkt->payload_len && mpx_seq_leq(th->seq + (uint32_t)pkt->payload_len, c->rcv_nxt) &&
                c->sack_ok) {
                c->dsack.left = th->seq;
                c->dsack.right = th->seq + (uint32_t)pkt->payload_len;
                c->dsack_pending = true;
                c->mib.TCPDSACKOldSent++;
            }
        }
        return 0;
    }
    c->last_rcv = now;
    c->keep_probes = 0;
    if (f & MPX_TH_RST)
        return input_rst(c, th->seq, now);
    update_ts_recent(c, th, now);
    if (f & MPX_TH_SYN) { /* RFC 5961 section 4.2 */
        c->mib.TCPSYNChallenge++;
        mpx_tcp_challenge_ack(c, now);
        return 0;
    }
    if (!(f & MPX_TH_ACK))
        return 0;
    if (c->state == MPX_TCP_SYN_RECEIVED) {
        if (mpx_seq_leq(th->ack, c->snd_una) || mpx_seq_gt(th->ack, c->snd_max)) {
            reply_rst(c, pkt);
            return 0;
        }
        c->snd_wnd = (uint32_t)th->win << c->snd_wscale;
        c->max_snd_wnd = c->snd_wnd;
        c->snd_wl1 = th->seq;
        c->snd_wl2 = th->ack;
        became_established(c, now);
    }
    if (!process_ack(c, pkt, now))
        return 0;
    if (pkt->payload_len || (f & MPX_TH_FIN))
        input_text(c, pkt, now);
    return 0;
}

int mpx_tcp_input(struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now)
{
    c->mib.InSegs++;
    c->segs_in++;
    switch (c->state) {
    case MPX_TCP_CLOSED: /* RFC 9293 3.10.7.1 */
        reply_rst(c, pkt);
        return 0;
    case MPX_TCP_LISTEN: /* the owner keeps listeners: see mpx_tcp_accept_syn */
        return 0;
    case MPX_TCP_SYN_SENT:
        return input_syn_sent(c, pkt, now);
    case MPX_TCP_SYN_RECEIVED:
        if ((pkt->tcp.flags & (MPX_TH_SYN | MPX_TH_RST)) == MPX_TH_SYN) {
            struct mpx_pkt seg = *pkt; /* rare: the SYN-ACK rule edits a copy */
            if (syn_received_syn(c, &seg))
                return 0;
            return input_synchronized(c, &seg, now);
        }
        return input_synchronized(c, pkt, now);
    default:
        return input_synchronized(c, pkt, now);
    }
}

/* See tcp.h. Mirrors the drops of input_syn_sent / input_synchronized /
 * process_ack without changing anything (paws_reject's idle reset of
 * TS.Recent only ever accepts, so it is not needed here). */
bool mpx_tcp_acceptable(const struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now)
{
    const struct mpx_tcp_hdr *th = &pkt->tcp;
    uint8_t f = th->flags;
    uint32_t seg_len = (uint32_t)pkt->payload_len + !!(f & MPX_TH_SYN) + !!(f & MPX_TH_FIN);
    switch (c->state) {
    case MPX_TCP_CLOSED:
    case MPX_TCP_LISTEN:
        return false;
    case MPX_TCP_SYN_SENT:
        if ((f & MPX_TH_ACK) && (mpx_seq_leq(th->ack, c->iss) || mpx_seq_gt(th->ack, c->snd_max)))
            return false;
        return (f & MPX_TH_RST) ? (f & MPX_TH_ACK) != 0 : (f & MPX_TH_SYN) != 0;
    default:
        break;
    }
    if ((f & (MPX_TH_SYN | MPX_TH_RST)) == MPX_TH_SYN) /* the handshake's own, else a challenge */
        return c->state == MPX_TCP_SYN_RECEIVED;
    if (c->ts_ok && (th->opts.present & MPX_TCPO_TS) && !(f & MPX_TH_RST) &&
        now - c->ts_recent_age <= MPX_TCP_PAWS_IDLE &&
        (int32_t)(c->ts_recent - th->opts.ts_val) > MPX_TCP_PAWS_WINDOW &&
        !disordered_ack(c, th, seg_len))
        return false;
    if (!seq_acceptable(c, th->seq, seg_len))
        return false;
    if (f & MPX_TH_RST)
        return th->seq == c->rcv_nxt;
    if (!(f & MPX_TH_ACK))
        return false;
    if (c->state == MPX_TCP_SYN_RECEIVED)
        return mpx_seq_gt(th->ack, c->snd_una) && mpx_seq_leq(th->ack, c->snd_max);
    return !mpx_seq_gt(th->ack, c->snd_max) && !mpx_seq_lt(th->ack, c->snd_una - c->max_snd_wnd);
}
