/*
 * tcp_timer.c - the engine's timers, all absolute deadlines in the
 * connection (no tick): retransmission (RFC 6298, SYN retries apart),
 * delayed ACK, persist (zero window, RFC 9293 3.8.6.1), keepalive
 * (RFC 1122 4.2.3.6), TIME_WAIT / FIN_WAIT_2, the cork flush and the
 * pacing release (tcp_output.c).
 */
#include "err.h"
#include "tcp_int.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t backed_off(const struct mpx_tcp_conn *c, uint64_t base, unsigned shift)
{
    uint64_t v = base;
    while (shift-- && v < c->cfg.rto_max)
        v *= 2;
    return min_u64(v, c->cfg.rto_max);
}

/* RFC 8985 7.2: a probe timeout of 2 SRTT (plus the worst-case delayed
 * ACK when one segment is in flight), never later than the RTO. */
static bool pto_allowed(const struct mpx_tcp_conn *c)
{
    return c->sack_ok && c->rtt_valid && c->ca_state <= MPX_TCP_CA_DISORDER && !c->tlp_out &&
           (c->state == MPX_TCP_ESTABLISHED || c->state == MPX_TCP_CLOSE_WAIT);
}

static uint64_t pto_value(const struct mpx_tcp_conn *c)
{
    uint64_t pto = 2 * c->srtt;
    if (c->snd_max - c->snd_una <= c->cc.mss)
        pto += MPX_TCP_WCDELACK;
    return pto < MPX_TCP_PTO_MIN ? MPX_TCP_PTO_MIN : pto;
}

void mpx_tcp_arm_rtx(struct mpx_tcp_conn *c, uint64_t now, bool restart)
{
    if (c->snd_una == c->snd_max) {
        c->t_rtx = MPX_TCP_TIMER_OFF;
        c->rtx_is_pto = false;
        return;
    }
    bool pto_ok = pto_allowed(c);
    if (!restart && c->t_rtx != MPX_TCP_TIMER_OFF && !c->rtx_is_pto) {
        /* RFC 6298 5.1: a send does not restart a running RTO; a sooner
         * probe timeout may take its place (RFC 8985 7.2). */
        if (pto_ok && now + pto_value(c) < c->t_rtx) {
            c->t_rtx = now + pto_value(c);
            c->rtx_is_pto = true;
        }
        return;
    }
    c->t_rtx = now + c->rto;
    c->rtx_is_pto = false;
    if (pto_ok && pto_value(c) < c->rto) {
        c->t_rtx = now + pto_value(c);
        c->rtx_is_pto = true;
    }
}

static bool keep_state(enum mpx_tcp_state s)
{
    return s == MPX_TCP_ESTABLISHED || s == MPX_TCP_CLOSE_WAIT || s == MPX_TCP_FIN_WAIT_2;
}

void mpx_tcp_arm_keepalive(struct mpx_tcp_conn *c, uint64_t now)
{
    (void)now;
    if (c->cfg.keepalive && keep_state(c->state))
        c->t_keep = c->last_rcv + c->cfg.keep_idle;
}

/* Called when the window or the flight changed: run the persist timer
 * while data waits behind a window that lets nothing out. */
void mpx_tcp_check_persist(struct mpx_tcp_conn *c, uint64_t now)
{
    bool waiting = mpx_seq_lt(c->snd_nxt, mpx_tcp_sndbuf_end(c)) && c->snd_una == c->snd_max;
    uint32_t wnd_room = c->snd_wnd;
    if (!waiting || wnd_room >= c->cc.mss) {
        c->t_persist = MPX_TCP_TIMER_OFF;
        if (c->snd_wnd)
            c->persist_backoff = 0;
        return;
    }
    if (c->t_persist == MPX_TCP_TIMER_OFF)
        c->t_persist = now + backed_off(c, c->rto, c->persist_backoff);
}

void mpx_tcp_enter_timewait(struct mpx_tcp_conn *c, uint64_t now)
{
    mpx_tcp_set_state(c, MPX_TCP_TIME_WAIT);
    c->t_rtx = c->t_persist = c->t_keep = c->t_cork = MPX_TCP_TIMER_OFF;
    c->t_close = now + c->cfg.timewait;
}

uint64_t mpx_tcp_next_deadline(const struct mpx_tcp_conn *c)
{
    uint64_t t = min_u64(c->t_rtx, c->t_delack);
    t = min_u64(t, c->t_persist);
    t = min_u64(t, c->t_keep);
    t = min_u64(t, c->t_close);
    if (c->pace_wait) /* a data segment held back by pacing (tcp_output.c) */
        t = min_u64(t, c->pace_next);
    return min_u64(t, c->t_cork);
}

/* Linux tcp_write_timeout: TCP_USER_TIMEOUT, when set, replaces the
 * SYN retry count (checked once a retransmission happened); the error is
 * the last ICMP soft error if there was one (tcp_write_err). */
static void rto_handshake(struct mpx_tcp_conn *c, uint64_t now)
{
    uint8_t limit =
        c->state == MPX_TCP_SYN_SENT || !c->passive ? c->cfg.syn_retries : c->cfg.synack_retries;
    uint64_t ut = c->cfg.user_timeout;
    if (ut ? c->syn_tries && now - c->syn_start >= ut : c->syn_tries >= limit) {
        c->mib.AttemptFails++;
        mpx_tcp_closed(c, mpx_tcp_timeout_err(c));
        return;
    }
    c->syn_tries++;
    c->backoff++;
    c->mib.TCPTimeouts++;
    c->mib.TCPSynRetrans++;
    c->rto = backed_off(c, c->rto, 1);
    c->snd_nxt = c->iss; /* output resends the SYN / SYN-ACK */
    c->rtt_timing = false;
    c->t_rtx = now + c->rto;
    if (ut) /* tcp_clamp_rto_to_user_timeout: wake up when it expires */
        c->t_rtx = min_u64(c->t_rtx, c->syn_start + ut > now ? c->syn_start + ut : now + 1);
}

/* RFC 6298 5.4-5.6 and RFC 5681 3.1: go back to snd_una in slow start. */
static void rto_data(struct mpx_tcp_conn *c, uint64_t now)
{
    if (c->snd_una == c->snd_max)
        return;
    if (c->backoff >= c->cfg.retries2) {
        c->mib.TCPAbortOnTimeout++;
        mpx_tcp_closed(c, mpx_tcp_timeout_err(c));
        return;
    }
    c->mib.TCPTimeouts++;
    mpx_cc_on_rto(&c->cc, now, mpx_tcp_pipe(c));
    if (c->backoff >= 1 && c->n_sb) { /* the peer may have reneged (RFC 2018 8) */
        c->mib.TCPSACKReneging++;
        mpx_tcp_sb_clear(c);
    }
    c->eifel_armed = c->ts_ok && c->backoff == 0;
    c->undo_armed = c->undo_due = false; /* Eifel judges a timeout */
    c->rto_tsval = mpx_tcp_ts_now(c, now);
    c->ca_state = MPX_TCP_CA_LOSS;
    c->recover = c->snd_max;
    c->snd_nxt = c->snd_una;
    c->high_rxt = c->snd_una;
    c->dupacks = c->reno_sacked = c->retrans_out = 0;
    c->reno_rtx = c->rescue_valid = false;
    c->tlp_pending = c->tlp_out = false;
    c->rtt_timing = false;
    c->backoff++;
    c->rto = backed_off(c, c->rto, 1);
    c->t_rtx = now + c->rto;
    mpx_tcp_log(c, MPX_LOG_DEBUG, "rto", c->snd_una, c->rto);
}

/* RFC 8985 7.3: the PTO fired: send one probe (new data, or the last
 * segment again) and arm the real RTO. */
static void on_pto(struct mpx_tcp_conn *c, uint64_t now)
{
    c->rtx_is_pto = false;
    if (c->snd_una == c->snd_max)
        return;
    c->tlp_pending = true;
    c->tlp_out = true;
    c->mib.TCPLossProbes++;
    c->t_rtx = now + c->rto;
}

static void on_rtx(struct mpx_tcp_conn *c, uint64_t now)
{
    c->t_rtx = MPX_TCP_TIMER_OFF;
    if (c->rtx_is_pto) {
        on_pto(c, now);
        return;
    }
    if (c->state == MPX_TCP_SYN_SENT || c->state == MPX_TCP_SYN_RECEIVED)
        rto_handshake(c, now);
    else
        rto_data(c, now);
}

static void on_persist(struct mpx_tcp_conn *c, uint64_t now)
{
    c->t_persist = MPX_TCP_TIMER_OFF;
    c->win_probe = true;
    c->mib.TCPWinProbe++;
    if (c->persist_backoff < 16)
        c->persist_backoff++;
    c->t_persist = now + backed_off(c, c->rto, c->persist_backoff);
}

static void on_keepalive(struct mpx_tcp_conn *c, uint64_t now)
{
    c->t_keep = MPX_TCP_TIMER_OFF;
    if (!c->cfg.keepalive || !keep_state(c->state))
        return;
    bool busy = c->snd_una != c->snd_max || mpx_seq_lt(c->snd_nxt, mpx_tcp_sndbuf_end(c));
    if (busy || (c->keep_probes == 0 && now - c->last_rcv < c->cfg.keep_idle)) {
        c->t_keep = (busy ? now : c->last_rcv) + c->cfg.keep_idle;
        return;
    }
    if (c->keep_probes >= c->cfg.keep_cnt) {
        c->mib.TCPAbortOnTimeout++;
        mpx_tcp_closed(c, mpx_tcp_timeout_err(c));
        return;
    }
    c->keep_probes++;
    c->keep_probe = true;
    c->mib.TCPKeepAlive++;
    c->t_keep = now + c->cfg.keep_intvl;
}

int mpx_tcp_on_timer(struct mpx_tcp_conn *c, uint64_t now)
{
    if (c->t_rtx <= now)
        on_rtx(c, now);
    if (c->t_delack <= now) {
        c->t_delack = MPX_TCP_TIMER_OFF;
        if (c->rcv_nxt != c->last_ack_sent) {
            c->ack_now = true;
            c->mib.DelayedACKs++;
        }
    }
    if (c->t_persist <= now)
        on_persist(c, now);
    if (c->t_keep <= now)
        on_keepalive(c, now);
    if (c->t_close <= now) {
        c->t_close = MPX_TCP_TIMER_OFF;
        if (c->state == MPX_TCP_TIME_WAIT || c->state == MPX_TCP_FIN_WAIT_2)
            mpx_tcp_closed(c, 0);
    }
    if (c->t_cork <= now) {
        c->t_cork = MPX_TCP_TIMER_OFF;
        c->cork_expired = true;
    }
    if (c->pace_wait && c->pace_next <= now)
        c->pace_wait = false; /* released: the owner's next output sends */
    return 0;
}
