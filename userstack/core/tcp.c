/*
 * tcp.c - the TCP engine's API: life cycle, the state machine's single
 * set_state(), the application calls (send/recv/shutdown/close/abort),
 * events, ISN (RFC 6528), counters and info.
 *
 * Segment processing is in tcp_input.c, segment building in tcp_output.c,
 * timers in tcp_timer.c, SACK in tcp_sack.c.
 */
#include <assert.h>
#include <string.h>

#include "conv.h"
#include "crypto.h"
#include "err.h"
#include "tcp_int.h"

void mpx_tcp_config_default(struct mpx_tcp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mtu = 1500;
    cfg->rmem_init = 128 * 1024;
    cfg->rmem_max = 6 * 1024 * 1024;
    cfg->wmem_init = 64 * 1024;
    cfg->wmem_max = 4 * 1024 * 1024;
    cfg->rto_min = 200 * MPX_NS_PER_MS; /* Linux TCP_RTO_MIN */
    cfg->rto_max = 120 * MPX_NS_PER_S;  /* Linux TCP_RTO_MAX */
    cfg->rto_init = MPX_NS_PER_S;       /* RFC 6298 2.1 */
    cfg->syn_retries = 6;
    cfg->synack_retries = 5;
    cfg->retries2 = 15;
    cfg->delack = 40 * MPX_NS_PER_MS;
    cfg->timewait = 60 * MPX_NS_PER_S;
    cfg->fin_timeout = 60 * MPX_NS_PER_S;
    cfg->cork_timeout = 200 * MPX_NS_PER_MS;
    cfg->keep_idle = 7200 * MPX_NS_PER_S;
    cfg->keep_intvl = 75 * MPX_NS_PER_S;
    cfg->keep_cnt = 9;
    cfg->sack = cfg->timestamps = cfg->wscale = true;
    cfg->ooo_max_ranges = 32;
    cfg->challenge_ack_limit = 10;
    cfg->ttl = 64;
    cfg->log_level = MPX_LOG_INFO;
}

const char *mpx_tcp_state_name(enum mpx_tcp_state s)
{
    switch (s) { /* a switch, not a pointer table: nothing lands in .data */
    case MPX_TCP_CLOSED:
        return "CLOSED";
    case MPX_TCP_LISTEN:
        return "LISTEN";
    case MPX_TCP_SYN_SENT:
        return "SYN_SENT";
    case MPX_TCP_SYN_RECEIVED:
        return "SYN_RECEIVED";
    case MPX_TCP_ESTABLISHED:
        return "ESTABLISHED";
    case MPX_TCP_FIN_WAIT_1:
        return "FIN_WAIT_1";
    case MPX_TCP_FIN_WAIT_2:
        return "FIN_WAIT_2";
    case MPX_TCP_CLOSE_WAIT:
        return "CLOSE_WAIT";
    case MPX_TCP_CLOSING:
        return "CLOSING";
    case MPX_TCP_LAST_ACK:
        return "LAST_ACK";
    case MPX_TCP_TIME_WAIT:
        return "TIME_WAIT";
    default:
        return "?";
    }
}

#define B(s) (1u << MPX_TCP_##s)
/* RFC 9293 figure 5, plus "any state -> CLOSED" (RST, abort, give-up). */
static const uint16_t legal_next[MPX_TCP_NSTATES] = {
    [MPX_TCP_CLOSED] = B(LISTEN) | B(SYN_SENT) | B(SYN_RECEIVED),
    [MPX_TCP_LISTEN] = B(CLOSED) | B(SYN_SENT) | B(SYN_RECEIVED),
    [MPX_TCP_SYN_SENT] = B(CLOSED) | B(SYN_RECEIVED) | B(ESTABLISHED),
    [MPX_TCP_SYN_RECEIVED] = B(CLOSED) | B(LISTEN) | B(ESTABLISHED) | B(FIN_WAIT_1),
    [MPX_TCP_ESTABLISHED] = B(CLOSED) | B(FIN_WAIT_1) | B(CLOSE_WAIT),
    [MPX_TCP_FIN_WAIT_1] = B(CLOSED) | B(FIN_WAIT_2) | B(CLOSING) | B(TIME_WAIT),
    [MPX_TCP_FIN_WAIT_2] = B(CLOSED) | B(TIME_WAIT),
    [MPX_TCP_CLOSE_WAIT] = B(CLOSED) | B(LAST_ACK),
    [MPX_TCP_CLOSING] = B(CLOSED) | B(TIME_WAIT),
    [MPX_TCP_LAST_ACK] = B(CLOSED),
    [MPX_TCP_TIME_WAIT] = B(CLOSED),
};
#undef B

static bool counts_as_estab(enum mpx_tcp_state s)
{
    return s == MPX_TCP_ESTABLISHED || s == MPX_TCP_CLOSE_WAIT;
}

/* The only place c->state changes. */
bool mpx_tcp_set_state(struct mpx_tcp_conn *c, enum mpx_tcp_state to)
{
    enum mpx_tcp_state from = c->state;
    if (from == to)
        return true;
    if (!(legal_next[from] & (1u << to))) {
        mpx_tcp_log(c, MPX_LOG_ERROR, "illegal state transition", from, to);
        assert(!"illegal TCP state transition");
        return false;
    }
    mpx_tcp_log(c, MPX_LOG_DEBUG, "state", from, to);
    if (!counts_as_estab(from) && counts_as_estab(to))
        c->mib.CurrEstab++;
    else if (counts_as_estab(from) && !counts_as_estab(to) && c->mib.CurrEstab)
        c->mib.CurrEstab--;
    c->state = to;
    return true;
}

void mpx_tcp_log(const struct mpx_tcp_conn *c, enum mpx_log_level lvl, const char *what, uint64_t a,
                 uint64_t b)
{
    if (c->cfg.log && lvl <= c->cfg.log_level)
        c->cfg.log(c->cfg.log_ctx, lvl, what, a, b);
}

/* ---- events -------------------------------------------------------------- */

void mpx_tcp_event(struct mpx_tcp_conn *c, enum mpx_tcp_event_type type, int error)
{
    uint32_t bit = 1u << type;
    bool coalesce = type == MPX_TCP_EV_READABLE || type == MPX_TCP_EV_WRITABLE;
    if (coalesce && (c->ev_queued & bit))
        return;
    if (c->ev_n == MPX_TCP_EVQ) { /* cannot happen with coalescing; keep the newest */
        mpx_tcp_log(c, MPX_LOG_WARN, "event queue full", type, 0);
        c->ev_head = (uint8_t)((c->ev_head + 1) % MPX_TCP_EVQ);
        c->ev_n--;
    }
    struct mpx_tcp_event *e = &c->evq[(c->ev_head + c->ev_n) % MPX_TCP_EVQ];
    e->type = type;
    e->error = error;
    c->ev_n++;
    c->ev_queued |= bit;
}

int mpx_tcp_poll_event(struct mpx_tcp_conn *c, struct mpx_tcp_event *ev)
{
    if (!c->ev_n)
        return 0;
    *ev = c->evq[c->ev_head];
    c->ev_head = (uint8_t)((c->ev_head + 1) % MPX_TCP_EVQ);
    c->ev_n--;
    c->ev_queued &= ~(1u << ev->type);
    for (unsigned i = 0; i < c->ev_n; i++) /* another of the same type may remain */
        c->ev_queued |= 1u << c->evq[(c->ev_head + i) % MPX_TCP_EVQ].type;
    return 1;
}

void mpx_tcp_closed(struct mpx_tcp_conn *c, int error)
{
    if (c->state == MPX_TCP_CLOSED)
        return;
    mpx_tcp_set_state(c, MPX_TCP_CLOSED);
    c->t_rtx = c->t_delack = c->t_persist = c->t_keep = c->t_close = c->t_cork = MPX_TCP_TIMER_OFF;
    c->ack_now = c->win_probe = c->keep_probe = false;
    mpx_tcp_event(c, MPX_TCP_EV_CLOSED, error);
}

/* ---- life cycle ---------------------------------------------------------- */

size_t mpx_tcp_conn_size(void)
{
    return sizeof(struct mpx_tcp_conn);
}

static uint8_t pick_wscale(const struct mpx_tcp_config *cfg)
{
    uint8_t ws = 0;
    if (!cfg->wscale)
        return 0;
    while (ws < MPX_TCP_MAX_WSCALE && ((uint64_t)65535 << ws) < cfg->rmem_max)
        ws++;
    return ws;
}

static void init_timers(struct mpx_tcp_conn *c)
{
    c->t_rtx = c->t_delack = c->t_persist = c->t_keep = c->t_close = c->t_cork = MPX_TCP_TIMER_OFF;
}

int mpx_tcp_init(struct mpx_tcp_conn *c, const struct mpx_tcp_config *cfg,
                 const struct mpx_tcp_tuple *tuple, uint64_t now)
{
    memset(c, 0, sizeof(*c));
    if (cfg)
        c->cfg = *cfg;
    else
        mpx_tcp_config_default(&c->cfg);
    if (c->cfg.mtu < 576 || c->cfg.rmem_init < 4096 || c->cfg.wmem_init < 4096)
        return MPX_ERR_INVAL;
    if (c->cfg.rmem_max < c->cfg.rmem_init)
        c->cfg.rmem_max = c->cfg.rmem_init;
    if (c->cfg.wmem_max < c->cfg.wmem_init)
        c->cfg.wmem_max = c->cfg.wmem_init;
    c->tuple = *tuple;
    c->state = MPX_TCP_CLOSED;
    init_timers(c);
    c->rcv_wscale = pick_wscale(&c->cfg);
    c->peer_mss = MPX_TCP_DEFAULT_MSS;
    c->rto = c->cfg.rto_init;
    if (mpx_ring_init(&c->sndbuf, c->cfg.wmem_init) < 0)
        return MPX_ERR_NOMEM;
    if (mpx_ring_init(&c->rcvbuf, c->cfg.rmem_init) < 0) {
        mpx_ring_free(&c->sndbuf);
        return MPX_ERR_NOMEM;
    }
    c->rcvq_space = c->cfg.rmem_init / 2;
    c->rcvq_time = now;
    mpx_tcp_update_mss(c);
    mpx_cc_init(&c->cc, c->cfg.cc, c->mss_base, now);
    c->last_rcv = now;
    return 0;
}

void mpx_tcp_free(struct mpx_tcp_conn *c)
{
    mpx_cc_group_leave(&c->cc);
    mpx_ring_free(&c->sndbuf);
    mpx_ring_free(&c->rcvbuf);
}

/* RFC 9293 3.7.1: the MSS we may send is the peer's, clamped to our MTU;
 * the payload of a segment shrinks further by the options it carries. */
void mpx_tcp_update_mss(struct mpx_tcp_conn *c)
{
    uint32_t hdr = (c->tuple.local.family == MPX_AF_INET6 ? MPX_IPV6_HDR_LEN : MPX_IPV4_HDR_LEN) +
                   MPX_TCP_HDR_LEN;
    uint32_t m = c->cfg.mtu - hdr;
    c->mss_base = c->peer_mss < m ? c->peer_mss : m;
    if (c->mss_base < 64)
        c->mss_base = 64;
    uint32_t eff = c->mss_base - (c->ts_ok ? 12 : 0) - c->cfg.opt_reserve;
    if (c->cc.ops)
        mpx_cc_set_mss(&c->cc, eff);
}

static void open_common(struct mpx_tcp_conn *c, uint32_t iss, const struct mpx_tcp_isn_inputs *in)
{
    c->iss = iss;
    c->snd_una = c->snd_nxt = c->snd_max = iss;
    c->sndbuf_seq = iss + 1;
    c->ts_offset = in->ts_offset;
    c->high_rxt = c->recover = c->lost_edge = iss;
    c->quickacks = MPX_TCP_QUICKACKS;
}

static int pick_iss(const struct mpx_tcp_conn *c, const struct mpx_tcp_isn_inputs *in, uint64_t now,
                    uint32_t *iss)
{
    if (in->use_iss) {
        *iss = in->iss;
        return 0;
    }
    return mpx_tcp_isn(&c->tuple, in->secret, in->secret_len, now, iss);
}

int mpx_tcp_connect(struct mpx_tcp_conn *c, uint64_t now, const struct mpx_tcp_isn_inputs *isn)
{
    uint32_t iss;
    if (c->state != MPX_TCP_CLOSED || !isn)
        return MPX_ERR_STATE;
    int rv = pick_iss(c, isn, now, &iss);
    if (rv < 0)
        return rv;
    open_common(c, iss, isn);
    mpx_tcp_set_state(c, MPX_TCP_SYN_SENT);
    c->mib.ActiveOpens++;
    c->last_rcv = now;
    c->syn_start = now;
    return 0;
}

int mpx_tcp_accept_syn(struct mpx_tcp_conn *c, const struct mpx_pkt *syn, uint64_t now,
                       const struct mpx_tcp_isn_inputs *isn)
{
    const struct mpx_tcp_hdr *th = &syn->tcp;
    uint32_t iss;
    if (c->state != MPX_TCP_CLOSED || !isn)
        return MPX_ERR_STATE;
    if ((th->flags & (MPX_TH_SYN | MPX_TH_ACK | MPX_TH_RST)) != MPX_TH_SYN)
        return MPX_ERR_INVAL;
    int rv = pick_iss(c, isn, now, &iss);
    if (rv < 0)
        return rv;
    open_common(c, iss, isn);
    c->passive = true;
    c->irs = th->seq;
    c->rcv_nxt = c->rcv_adv = th->seq + 1;
    c->snd_wnd = th->win; /* never scaled in a SYN (RFC 7323 2.2) */
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = th->seq;
    c->snd_wl2 = iss;
    mpx_tcp_parse_syn_opts(c, th, now);
    c->mib.InSegs++;
    c->segs_in++;
    mpx_tcp_set_state(c, MPX_TCP_SYN_RECEIVED);
    c->mib.PassiveOpens++;
    c->last_rcv = now;
    c->syn_start = now;
    return 0;
}

/* ---- application calls ------------------------------------------------- */

uint32_t mpx_tcp_sndbuf_end(const struct mpx_tcp_conn *c)
{
    return c->sndbuf_seq + c->sndbuf.len;
}

/* Send-buffer autotuning: room for two congestion windows of data, as
 * Linux's tcp_sndbuf_expand does, within wmem_max. */
void mpx_tcp_sndbuf_tune(struct mpx_tcp_conn *c)
{
    uint64_t want = 2ull * c->cc.cwnd;
    if (want < 2ull * c->snd_wnd && c->snd_wnd < c->cc.cwnd * 4ull)
        want = 2ull * c->snd_wnd;
    if (want > c->cfg.wmem_max)
        want = c->cfg.wmem_max;
    if (want > c->sndbuf.cap + c->sndbuf.cap / 8) /* grow in steps, not per ACK */
        mpx_ring_grow_keep(&c->sndbuf, (uint32_t)want, c->sndbuf.len);
    if (c->want_writable && mpx_ring_space(&c->sndbuf) > 0 && !c->shut_wr) {
        c->want_writable = false;
        mpx_tcp_event(c, MPX_TCP_EV_WRITABLE, 0);
    }
}

long mpx_tcp_send(struct mpx_tcp_conn *c, const void *data, size_t len, uint64_t now)
{
    (void)now;
    switch (c->state) {
    case MPX_TCP_SYN_SENT:
    case MPX_TCP_SYN_RECEIVED:
    case MPX_TCP_ESTABLISHED:
    case MPX_TCP_CLOSE_WAIT:
        break;
    case MPX_TCP_CLOSED:
        return MPX_ERR_CLOSED;
    default:
        return MPX_ERR_STATE;
    }
    if (c->shut_wr)
        return MPX_ERR_STATE;
    uint32_t space = mpx_ring_space(&c->sndbuf);
    uint32_t n = len < space ? (uint32_t)len : space;
    mpx_ring_write_at(&c->sndbuf, c->sndbuf.len, data, n);
    c->sndbuf.len += n;
    if (n < len)
        c->want_writable = true;
    return (long)n;
}

/* Receive-buffer autotuning in the spirit of Linux's DRS
 * (tcp_rcv_space_adjust): once per RTT, if the application read more than
 * the last estimate, make the buffer twice that, up to rmem_max. */
static void rcvbuf_tune(struct mpx_tcp_conn *c, uint64_t now)
{
    uint64_t rtt = c->rtt_valid ? c->srtt : c->rcv_rtt;
    if (!rtt || now - c->rcvq_time < rtt)
        return;
    if (c->rcvq_copied > c->rcvq_space) {
        c->rcvq_space = c->rcvq_copied;
        uint64_t want = 2ull * c->rcvq_space + (2ull * c->rcvq_space >> 3);
        if (want > c->cfg.rmem_max)
            want = c->cfg.rmem_max;
        if (want > c->rcvbuf.cap)
            mpx_ring_grow_keep(&c->rcvbuf, (uint32_t)want,
                               c->n_ooo ? c->rcvbuf.cap : c->rcvbuf.len);
    }
    c->rcvq_copied = 0;
    c->rcvq_time = now;
}

/* RFC 9293 3.8.6.2.2 and Linux __tcp_cleanup_rbuf: announce the opened
 * window when the advertised one had become small. */
static void maybe_window_update(struct mpx_tcp_conn *c, uint32_t old_win)
{
    uint32_t new_win = mpx_tcp_rcv_window(c);
    /* an owner's window may be below our edge (mpx_tcp_rcv_window): judge
     * the update by what the peer was last told */
    if (c->cfg.rcv_wnd && c->wnd_sent < old_win)
        old_win = c->wnd_sent;
    if (new_win > old_win && (old_win == 0 || old_win <= c->rcvbuf.cap / 2) &&
        (new_win >= 2 * old_win || new_win - old_win >= c->rcvbuf.cap / 2) &&
        c->state != MPX_TCP_CLOSED)
        c->ack_now = true;
}

void mpx_tcp_send_ack(struct mpx_tcp_conn *c)
{
    if (c->state >= MPX_TCP_ESTABLISHED && c->state != MPX_TCP_TIME_WAIT)
        c->ack_now = true;
}

void mpx_tcp_window_update(struct mpx_tcp_conn *c)
{
    if (c->state < MPX_TCP_ESTABLISHED)
        return;
    maybe_window_update(c, mpx_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0);
}

long mpx_tcp_recv(struct mpx_tcp_conn *c, void *buf, size_t len, uint64_t now)
{
    uint32_t n = c->rcvbuf.len;
    if (n == 0) {
        if (c->peer_fin)
            return 0;
        if (c->state == MPX_TCP_CLOSED)
            return MPX_ERR_CLOSED;
        return MPX_ERR_AGAIN;
    }
    if (len < n)
        n = (uint32_t)len;
    uint32_t old_win = c->rcv_adv - c->rcv_nxt;
    mpx_ring_read_at(&c->rcvbuf, 0, buf, n);
    mpx_ring_consume(&c->rcvbuf, n);
    c->rcvq_copied += n;
    rcvbuf_tune(c, now);
    maybe_window_update(c, old_win);
    if (c->rcvbuf.len)
        mpx_tcp_event(c, MPX_TCP_EV_READABLE, 0);
    return (long)n;
}

int mpx_tcp_shutdown(struct mpx_tcp_conn *c, int how, uint64_t now)
{
    (void)now;
    if (how != MPX_TCP_SHUT_WR)
        return MPX_ERR_INVAL;
    if (c->shut_wr)
        return 0;
    switch (c->state) {
    case MPX_TCP_SYN_SENT:
    case MPX_TCP_SYN_RECEIVED: /* FIN after the handshake (RFC 9293 3.10.4) */
        break;
    case MPX_TCP_ESTABLISHED:
        mpx_tcp_set_state(c, MPX_TCP_FIN_WAIT_1);
        break;
    case MPX_TCP_CLOSE_WAIT:
        mpx_tcp_set_state(c, MPX_TCP_LAST_ACK);
        break;
    case MPX_TCP_CLOSED:
        return MPX_ERR_CLOSED;
    default:
        return MPX_ERR_STATE;
    }
    c->shut_wr = true;
    c->fin_seq = mpx_tcp_sndbuf_end(c);
    c->want_writable = false;
    return 0;
}

int mpx_tcp_close(struct mpx_tcp_conn *c, uint64_t now)
{
    if (c->state == MPX_TCP_CLOSED)
        return 0;
    c->orphan = true;
    if (c->state == MPX_TCP_SYN_SENT) {
        mpx_tcp_closed(c, MPX_ERR_CLOSED);
        return 0;
    }
    /* Linux tcp_close(): unread data means the peer's bytes are lost, so
     * tell it with a RST rather than a FIN (RFC 2525 2.17). */
    if (c->rcvbuf.len) {
        c->mib.TCPAbortOnClose++;
        return mpx_tcp_abort(c, now);
    }
    int rv = mpx_tcp_shutdown(c, MPX_TCP_SHUT_WR, now);
    if (c->state == MPX_TCP_FIN_WAIT_2 && c->t_close == MPX_TCP_TIMER_OFF)
        c->t_close = now + c->cfg.fin_timeout;
    return rv == MPX_ERR_STATE ? 0 : rv;
}

void mpx_tcp_queue_rst(struct mpx_tcp_conn *c, uint32_t seq, uint32_t ack, uint8_t flags)
{
    /* One RST slot. An abort's RST (seq = SND.MAX, with ACK: the one the
     * peer surely accepts, and MPTCP's MP_FASTCLOSE rides on it) is not
     * replaced by a reply to a segment that came in before it went out
     * (seq = SEG.ACK, maybe left of the peer's window: Linux dropped our
     * MP_FASTCLOSE that way, tests/test_interop.py). */
    if (c->rst_pending && (c->rst_flags & MPX_TH_ACK) && !(flags & MPX_TH_ACK))
        return;
    c->rst_pending = true;
    c->rst_seq = seq;
    c->rst_ack = ack;
    c->rst_flags = (uint8_t)(MPX_TH_RST | flags);
}

int mpx_tcp_abort(struct mpx_tcp_conn *c, uint64_t now)
{
    (void)now;
    switch (c->state) {
    case MPX_TCP_CLOSED:
        return 0;
    case MPX_TCP_SYN_SENT: /* nothing synchronized: just forget it */
        break;
    case MPX_TCP_ESTABLISHED:
    case MPX_TCP_CLOSE_WAIT:
        c->mib.EstabResets++;
        /* fall through */
    default:
        mpx_tcp_queue_rst(c, c->snd_max, c->rcv_nxt, MPX_TH_ACK);
        break;
    }
    mpx_tcp_closed(c, MPX_ERR_CLOSED);
    return 0;
}

void mpx_tcp_set_nodelay(struct mpx_tcp_conn *c, bool on, uint64_t now)
{
    (void)now;
    c->cfg.nodelay = on;
}

void mpx_tcp_set_cork(struct mpx_tcp_conn *c, bool on, uint64_t now)
{
    (void)now;
    c->cfg.cork = on;
    if (!on) { /* uncork pushes what is queued (Linux tcp_push_pending_frames) */
        c->cork_expired = true;
        c->t_cork = MPX_TCP_TIMER_OFF;
    }
}

void mpx_tcp_set_keepalive(struct mpx_tcp_conn *c, bool on, uint64_t now)
{
    c->cfg.keepalive = on;
    c->keep_probes = 0;
    if (on)
        mpx_tcp_arm_keepalive(c, now);
    else
        c->t_keep = MPX_TCP_TIMER_OFF;
}

/* ---- RFC 5961 section 7: challenge ACK throttling ------------------------ */

bool mpx_tcp_challenge_ack(struct mpx_tcp_conn *c, uint64_t now)
{
    if (now - c->chack_start >= MPX_NS_PER_S) {
        c->chack_start = now;
        c->chack_count = 0;
    }
    if (c->chack_count >= c->cfg.challenge_ack_limit) {
        c->mib.TCPACKSkippedChallenge++;
        return false;
    }
    c->chack_count++;
    c->mib.TCPChallengeACK++;
    c->ack_now = true;
    return true;
}

/* ---- ISN (RFC 6528) ------------------------------------------------------ */

int mpx_tcp_isn(const struct mpx_tcp_tuple *t, const uint8_t *secret, size_t secret_len,
                uint64_t now, uint32_t *isn)
{
    uint8_t msg[2 * 17 + 4 + 64], h[MPX_SHA256_LEN];
    size_t n = 0;
    if (!secret || secret_len < 16 || secret_len > 64)
        return MPX_ERR_INVAL;
    msg[n++] = t->local.family;
    memcpy(msg + n, t->local.a, 16);
    n += 16;
    msg[n++] = t->remote.family;
    memcpy(msg + n, t->remote.a, 16);
    n += 16;
    msg[n++] = (uint8_t)(t->lport >> 8);
    msg[n++] = (uint8_t)t->lport;
    msg[n++] = (uint8_t)(t->rport >> 8);
    msg[n++] = (uint8_t)t->rport;
    memcpy(msg + n, secret, secret_len);
    n += secret_len;
    int rv = mpx_sha256(msg, n, h);
    memset(msg, 0, sizeof(msg));
    if (rv < 0)
        return MPX_ERR_CRYPTO;
    /* ISN = M + F(4-tuple, secret), M a 4 us clock (RFC 6528 section 3). */
    *isn = (uint32_t)(now / 4000) + mpx_load_be32(h);
    return 0;
}

bool mpx_tcp_timewait_reusable(const struct mpx_tcp_conn *tw, const struct mpx_pkt *syn)
{
    const struct mpx_tcp_opts *o = &syn->tcp.opts;
    if (tw->state != MPX_TCP_TIME_WAIT || !(syn->tcp.flags & MPX_TH_SYN))
        return false;
    if (tw->ts_ok && (o->present & MPX_TCPO_TS)) /* RFC 6191 section 2 */
        return mpx_seq_gt(o->ts_val, tw->ts_recent);
    return mpx_seq_gt(syn->tcp.seq, tw->rcv_nxt); /* RFC 1122 4.2.2.13 */
}

/* ---- observability ------------------------------------------------------- */

enum mpx_tcp_state mpx_tcp_get_state(const struct mpx_tcp_conn *c)
{
    return c->state;
}

const struct mpx_tcp_mib *mpx_tcp_get_mib(const struct mpx_tcp_conn *c)
{
    return &c->mib;
}

void mpx_tcp_mib_add(struct mpx_tcp_mib *dst, const struct mpx_tcp_mib *src)
{
    uint64_t *d = (uint64_t *)dst;
    const uint64_t *s = (const uint64_t *)src;
    for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
        d[i] += s[i];
}

const struct mpx_tcp_tuple *mpx_tcp_get_tuple(const struct mpx_tcp_conn *c)
{
    return &c->tuple;
}

size_t mpx_tcp_send_queued(const struct mpx_tcp_conn *c)
{
    return c->sndbuf.len;
}

size_t mpx_tcp_recv_ready(const struct mpx_tcp_conn *c)
{
    return c->rcvbuf.len;
}

struct mpx_cc *mpx_tcp_cc(struct mpx_tcp_conn *c)
{
    return &c->cc;
}

void mpx_tcp_get_info(const struct mpx_tcp_conn *c, struct mpx_tcp_info *i, uint64_t now)
{
    (void)now;
    memset(i, 0, sizeof(*i));
    i->state = (uint8_t)c->state;
    i->ca_state = (uint8_t)c->ca_state;
    i->retransmits = c->backoff;
    i->backoff = c->backoff;
    i->snd_wscale = c->snd_wscale;
    i->rcv_wscale = c->rcv_wscale;
    i->sack_ok = c->sack_ok;
    i->ts_ok = c->ts_ok;
    i->wscale_ok = c->wscale_ok;
    i->rto_us = (uint32_t)(c->rto / 1000);
    i->srtt_us = (uint32_t)(c->srtt / 1000);
    i->rttvar_us = (uint32_t)(c->rttvar / 1000);
    i->min_rtt_us = (uint32_t)(c->min_rtt / 1000);
    i->snd_mss = c->cc.mss;
    i->rcv_mss = c->rcv_mss;
    i->pmtu = c->cfg.mtu;
    i->snd_cwnd = c->cc.cwnd;
    i->snd_ssthresh = c->cc.ssthresh;
    i->unacked = c->snd_max - c->snd_una;
    i->sacked = c->sacked_bytes;
    if (c->ca_state >= MPX_TCP_CA_RECOVERY)
        i->lost = (c->lost_edge - c->snd_una) - mpx_tcp_sb_sacked_below(c, c->lost_edge);
    i->retrans = c->retrans_out;
    i->snd_wnd = c->snd_wnd;
    i->rcv_wnd = c->rcv_adv - c->rcv_nxt;
    i->rcv_space = c->rcvq_space;
    i->snd_buf = c->sndbuf.cap;
    i->rcv_buf = c->rcvbuf.cap;
    i->bytes_sent = c->bytes_sent;
    i->bytes_retrans = c->bytes_retrans;
    i->bytes_acked = c->bytes_acked;
    i->bytes_received = c->bytes_received;
    i->segs_out = c->segs_out;
    i->segs_in = c->segs_in;
    i->data_segs_out = c->data_segs_out;
    i->data_segs_in = c->data_segs_in;
    i->total_retrans = c->total_retrans;
    i->notsent_bytes = mpx_tcp_sndbuf_end(c) - mpx_seq_max(c->snd_max, c->sndbuf_seq);
    if (mpx_seq_gt(c->sndbuf_seq, c->snd_max))
        i->notsent_bytes = c->sndbuf.len;
    i->last_data_recv_ns = c->last_rcv_data;
    i->last_data_sent_ns = c->last_snd_data;
    i->last_ack_recv_ns = c->last_ack_rcv;
    i->pacing_rate = mpx_tcp_pacing_rate(c);
}
