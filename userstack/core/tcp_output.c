/*
 * tcp_output.c - what to send next and how it is encoded.
 *
 * One call builds at most one packet. Order: a pending RST, the SYN or
 * SYN-ACK, retransmissions (NewReno RFC 6582, SACK NextSeg RFC 6675, or the
 * go-back-N resend after an RTO, skipping SACKed data), new data (window,
 * cwnd, Nagle RFC 896 / cork, sender SWS avoidance RFC 9293 3.8.6.2.1), a
 * FIN, a window or keepalive probe, and finally a pure ACK.
 */
#include <string.h>

#include "err.h"
#include "tcp_int.h"

uint32_t mpx_tcp_ts_now(const struct mpx_tcp_conn *c, uint64_t now)
{
    return (uint32_t)(now / MPX_NS_PER_MS) + c->ts_offset; /* 1 ms clock */
}

/* The window to offer: free buffer space, never shrinking the right edge
 * already offered (RFC 9293 3.8.6.2.2 receiver SWS avoidance: move the edge
 * only by min(buffer/2, MSS) or more). One scale unit is kept as slack so
 * that rounding the scaled field up never offers more than the ring holds.
 *
 * An owner's window (an MPTCP subflow) is offered as it is. RFC 8684
 * 3.3.4: it is relative to the DATA_ACK and shared by the subflows; the
 * owner keeps its right edge (DATA_ACK + window) from shrinking. This
 * subflow's own edge may move back: when another subflow delivered in
 * order, the DATA_ACK moved and this one received nothing. Holding that
 * edge instead offered the peer, at the connection level, data the
 * receive buffer could not take; it sat in the subflows and blocked them.
 * rcv_adv keeps the largest edge, so what the peer sent within it is
 * still accepted (window_field). */
uint32_t mpx_tcp_rcv_window(struct mpx_tcp_conn *c)
{
    uint32_t slack = 1u << c->rcv_wscale;
    uint32_t room = c->rcvbuf.cap - c->rcvbuf.len;
    if (c->cfg.rcv_wnd) {
        /* the owner's window; grow the ring so that what we offer fits */
        uint32_t want = c->cfg.rcv_wnd(c->cfg.opt_hook_ctx);
        uint32_t lim = c->cfg.rmem_max > c->rcvbuf.len ? c->cfg.rmem_max - c->rcvbuf.len : 0;
        want = want < lim ? want : lim;
        /* out-of-order data lives past len: kept only when there is some */
        uint32_t keep = c->n_ooo ? c->rcvbuf.cap : c->rcvbuf.len;
        if (want + slack > room &&
            mpx_ring_grow_keep(&c->rcvbuf, c->rcvbuf.len + want + slack, keep) == 0)
            room = c->rcvbuf.cap - c->rcvbuf.len;
        if (want + slack < room)
            room = want + slack;
    }
    room = room > slack ? room - slack : 0;
    uint32_t max = (uint32_t)65535 << c->rcv_wscale;
    if (room > max)
        room = max;
    if (c->cfg.rcv_wnd)
        return room;
    uint32_t cur = mpx_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    if (room <= cur)
        return cur;
    uint32_t thresh = c->rcvbuf.cap / 2 < c->mss_base ? c->rcvbuf.cap / 2 : c->mss_base;
    if (room - cur < thresh)
        return cur;
    return room;
}

/* Bytes in the network, RFC 6675 section 4 SetPipe() in recovery. */
uint32_t mpx_tcp_pipe(const struct mpx_tcp_conn *c)
{
    uint32_t flight = c->snd_max - c->snd_una;
    switch (c->ca_state) {
    case MPX_TCP_CA_RECOVERY:
        if (c->sack_ok) {
            uint32_t lost_edge = mpx_seq_min(c->lost_edge, c->snd_max);
            uint32_t lost = 0, rtx = 0;
            if (mpx_seq_gt(lost_edge, c->snd_una))
                lost = (lost_edge - c->snd_una) - mpx_tcp_sb_sacked_below(c, lost_edge);
            if (mpx_seq_gt(c->high_rxt, c->snd_una)) {
                uint32_t h = mpx_seq_min(c->high_rxt, c->snd_max);
                rtx = (h - c->snd_una) - mpx_tcp_sb_sacked_below(c, h);
            }
            return flight - c->sacked_bytes - lost + rtx;
        } else {
            uint32_t s = c->reno_sacked * c->cc.mss;
            return flight > s ? flight - s : 0;
        }
    case MPX_TCP_CA_LOSS:
        return (c->snd_nxt - c->snd_una) - mpx_tcp_sb_sacked_below(c, c->snd_nxt);
    default:
        return flight - c->sacked_bytes;
    }
}

static uint32_t sack_blocks_wanted(const struct mpx_tcp_conn *c)
{
    if (!c->sack_ok)
        return 0;
    uint32_t n = c->n_ooo + (c->dsack_pending ? 1u : 0u);
    uint32_t max = c->ts_ok ? 3 : 4;
    return n < max ? n : max;
}

/* Payload that fits one MSS-sized segment with the options it carries. */
static uint32_t seg_payload_max(const struct mpx_tcp_conn *c)
{
    uint32_t opt = (c->ts_ok ? 12u : 0u) + c->cfg.opt_reserve;
    uint32_t nsack = sack_blocks_wanted(c);
    if (nsack)
        opt += 4 + 8 * nsack;
    return c->mss_base > opt + 64 ? c->mss_base - opt : 64;
}

static void fill_ip(const struct mpx_tcp_conn *c, struct mpx_ip_hdr *ip)
{
    memset(ip, 0, sizeof(*ip));
    ip->version = c->tuple.local.family == MPX_AF_INET6 ? 6 : 4;
    ip->tos = c->cfg.tos;
    ip->ttl = c->cfg.ttl;
    ip->proto = MPX_IPPROTO_TCP;
    ip->df = true;
    ip->src = c->tuple.local;
    ip->dst = c->tuple.remote;
}

static void fill_options(struct mpx_tcp_conn *c, struct mpx_tcp_opts *o, uint8_t flags,
                         uint64_t now)
{
    bool syn = flags & MPX_TH_SYN, synack = syn && (flags & MPX_TH_ACK);
    if (flags & MPX_TH_RST)
        return;
    if (syn) {
        uint32_t hdr =
            (c->tuple.local.family == MPX_AF_INET6 ? MPX_IPV6_HDR_LEN : MPX_IPV4_HDR_LEN) +
            MPX_TCP_HDR_LEN;
        uint32_t mss = c->cfg.mtu - hdr;
        o->present |= MPX_TCPO_MSS;
        o->mss = (uint16_t)(mss > 65535 ? 65535 : mss);
        if (synack ? c->wscale_ok : c->cfg.wscale) {
            o->present |= MPX_TCPO_WSCALE;
            o->wscale = c->rcv_wscale;
        }
        if (synack ? c->sack_ok : c->cfg.sack)
            o->present |= MPX_TCPO_SACK_PERM;
    }
    if (syn ? (synack ? c->ts_ok : c->cfg.timestamps) : c->ts_ok) {
        o->present |= MPX_TCPO_TS;
        /* RFC 7323 section 5.4: the clock must be monotonic. An owner
         * that hands in a slightly older |now| (two clock reads racing)
         * must not make a TSval go back: the peer's PAWS test would drop
         * the segment (Linux TcpExtPAWSEstab) and we would retransmit. */
        uint32_t v = mpx_tcp_ts_now(c, now);
        if (c->ts_sent && mpx_seq_lt(v, c->ts_last_sent))
            v = c->ts_last_sent;
        c->ts_last_sent = v;
        c->ts_sent = true;
        o->ts_val = v;
        o->ts_ecr = (flags & MPX_TH_ACK) ? c->ts_recent : 0;
    }
    if (!syn && (flags & MPX_TH_ACK) && sack_blocks_wanted(c))
        mpx_tcp_sack_fill(c, o, sack_blocks_wanted(c));
}

/* The MPTCP layer's options (tcp.h mpx_tcp_opt_hook_fn). */
static void run_hook(struct mpx_tcp_conn *c, struct mpx_tcp_hdr *th, uint32_t len, bool rtx)
{
    if (!c->cfg.opt_hook)
        return;
    int used = mpx_tcp_opts_space(&th->opts);
    struct mpx_tcp_seg_info info = {
        .flags = th->flags,
        .seq = th->seq,
        .ack = th->ack,
        .payload_len = len,
        .data_off = th->seq - (c->iss + 1),
        .retransmission = rtx,
    };
    int rv = c->cfg.opt_hook(c->cfg.opt_hook_ctx, &info, &th->opts, MPX_TCP_MAX_OPT_LEN - used);
    if (rv < 0 || mpx_tcp_opts_space(&th->opts) > MPX_TCP_MAX_OPT_LEN) {
        th->opts.n_mptcp = 0;
        c->mib.TCPOptHookFail++;
    }
}

/* Window field for an outgoing segment; moves rcv_adv (RFC 7323 2.3). */
static uint16_t window_field(struct mpx_tcp_conn *c, bool syn)
{
    uint32_t win = mpx_tcp_rcv_window(c), field;
    uint32_t old = c->rcv_adv - c->rcv_nxt;
    if (syn) {
        field = win > 65535 ? 65535 : win;
        c->rcv_adv = c->rcv_nxt + field;
        c->wnd_sent = field;
        return (uint16_t)field;
    }
    uint32_t unit = 1u << c->rcv_wscale;
    field = (win + unit - 1) >> c->rcv_wscale;
    if (field > 65535)
        field = 65535;
    uint32_t edge = c->rcv_nxt + (field << c->rcv_wscale);
    if (mpx_seq_gt(edge, c->rcv_adv))
        c->rcv_adv = edge;
    c->wnd_sent = field << c->rcv_wscale;
    if (field == 0 && !c->adv_zero)
        c->mib.TCPToZeroWindowAdv++;
    else if (field && c->adv_zero)
        c->mib.TCPFromZeroWindowAdv++;
    if (field == 0 && old == 0)
        c->mib.TCPWantZeroWindowAdv++;
    c->adv_zero = field == 0;
    return (uint16_t)field;
}

/* Linux tcp_update_pacing_rate: cwnd (or the flight, if larger) per
 * srtt, x 200 % while cwnd < ssthresh / 2 (slow start: the window doubles
 * each RTT, pacing must not hold it back) and x 120 % after (room for the
 * window to grow and for ACK compression). Computed when needed instead
 * of at every ACK: it only depends on cwnd, flight and srtt. */
uint64_t mpx_tcp_pacing_rate(const struct mpx_tcp_conn *c)
{
    if (!c->rtt_valid || !c->srtt)
        return 0;
    uint32_t flight = c->snd_max - c->snd_una;
    uint64_t w = c->cc.cwnd > flight ? c->cc.cwnd : flight;
    uint64_t ratio = c->cc.cwnd < c->cc.ssthresh / 2 ? 200 : 120;
    uint64_t srtt = c->srtt < 1000 ? 1000 : c->srtt; /* >= 1 us: no overflow */
    return w * MPX_NS_PER_S / srtt * ratio / 100;
}

/* Like Linux tcp_tso_autosize: the data of one burst (a GSO packet) is
 * about 1 ms at the pacing rate (rate >> sk_pacing_shift 10), at least two
 * segments (tcp_min_tso_segs), at most 65000 bytes (64 KB with headers),
 * whole segments: on a fast path that is the whole 64 KB, on a slow or
 * shaped one a 64 KB burst would overflow the bottleneck's queue (a TBF
 * of a few KB) at once. */
static uint32_t burst_bytes(const struct mpx_tcp_conn *c, uint32_t mss)
{
    uint64_t lim = 65000, rate = mpx_tcp_pacing_rate(c);
    if (rate && (rate >> 10) < lim)
        lim = rate >> 10;
    if (lim < 2 * mss)
        lim = 2 * mss;
    return (uint32_t)lim / mss * mss;
}

/* Largest payload one output packet may carry: one MSS, or a multiple of it
 * up to cfg.max_seg (TSO-style super segments, burst_bytes()). */
static uint32_t max_payload(const struct mpx_tcp_conn *c, uint32_t mss)
{
    if (c->cfg.max_seg <= mss)
        return mss;
    uint32_t b = burst_bytes(c, mss);
    uint32_t lim = c->cfg.max_seg < b ? c->cfg.max_seg : b;
    return lim / mss * mss;
}

/* Linux tcp_update_skb_after_send: the next data segment may leave once
 * |len| bytes have gone at the pacing rate. A segment sent late (the
 * owner woke up after the release time) earns a credit of at most half
 * its own time, so that timer slack does not lower the rate. */
static void pace_after_send(struct mpx_tcp_conn *c, uint32_t len, uint64_t now)
{
    uint64_t rate = c->cfg.pacing ? mpx_tcp_pacing_rate(c) : 0;
    if (!rate)
        return;
    uint64_t start = c->pace_next > now ? c->pace_next : now;
    uint64_t credit = start - c->pace_next;
    uint64_t len_ns = (uint64_t)len * MPX_NS_PER_S / rate;
    len_ns -= credit < len_ns / 2 ? credit : len_ns / 2;
    c->pace_next = start + len_ns;
}

/* Linux tcp_pacing_check: hold data back until the release time; the
 * hold makes it a deadline (mpx_tcp_next_deadline). Linux paces GSO
 * packets of burst_bytes() (software GSO when the device has no TSO);
 * our packets are that big only with cfg.max_seg, so otherwise a segment
 * may leave early by the time of the rest of such a burst: the same
 * ~1 ms bursts on the wire and one wake-up per burst instead of one per
 * segment (per 1448 bytes at a Gbit/s, the wake-ups cost more than the
 * pacing is worth). */
static bool pace_hold(struct mpx_tcp_conn *c, uint64_t now, uint32_t mss)
{
    uint64_t slack = 0;
    if (c->cfg.pacing && c->pace_next > now) {
        uint64_t rate = mpx_tcp_pacing_rate(c);
        uint32_t b = burst_bytes(c, mss), m = max_payload(c, mss);
        if (rate && b > m)
            slack = (uint64_t)(b - m) * MPX_NS_PER_S / rate;
    }
    if (!c->cfg.pacing || c->pace_next <= now + slack) {
        c->pace_wait = false;
        return false;
    }
    /* a deadline only when something waits (no wake-up for nothing) */
    c->pace_wait = mpx_seq_lt(c->snd_nxt, mpx_tcp_sndbuf_end(c)) || (c->shut_wr && !c->fin_sent) ||
                   c->ca_state == MPX_TCP_CA_RECOVERY;
    return true;
}

static void after_emit(struct mpx_tcp_conn *c, uint8_t flags, uint32_t len, bool rtx, uint64_t now)
{
    c->mib.OutSegs++;
    c->segs_out++;
    if (flags & MPX_TH_RST)
        c->mib.OutRsts++;
    if (flags & MPX_TH_ACK) {
        c->last_ack_sent = c->rcv_nxt;
        c->ack_now = false;
        c->t_delack = MPX_TCP_TIMER_OFF;
    }
    if (!len)
        return;
    c->data_segs_out++;
    c->bytes_sent += len;
    c->last_snd_data = now;
    pace_after_send(c, len, now);
    if (rtx) {
        c->mib.RetransSegs++;
        if (c->undo_armed)
            c->undo_retrans++;
        c->bytes_retrans += len;
        c->total_retrans++;
    } else {
        c->mib.TCPOrigDataSent++;
    }
}

/* Encode one segment: IP header, TCP header + options, |len| bytes of the
 * send buffer from |seq|. Returns the packet length or MPX_ERR_NOBUF. */
static int emit(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now, uint8_t flags,
                uint32_t seq, uint32_t len, bool rtx)
{
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr th;
    fill_ip(c, &ip);
    memset(&th, 0, sizeof(th));
    th.sport = c->tuple.lport;
    th.dport = c->tuple.rport;
    th.seq = seq;
    th.flags = flags;
    th.ack = (flags & MPX_TH_ACK) ? (flags & MPX_TH_RST ? c->rst_ack : c->rcv_nxt) : 0;
    fill_options(c, &th.opts, flags, now);
    run_hook(c, &th, len, rtx); /* also on RST: MP_TCPRST, MP_FASTCLOSE */
    int iphl = mpx_ip_hdr_len(&ip);
    if (iphl < 0 || cap < (size_t)iphl + MPX_TCP_HDR_LEN + MPX_TCP_MAX_OPT_LEN + len)
        return MPX_ERR_NOBUF;
    th.win = (flags & MPX_TH_RST) ? 0 : window_field(c, flags & MPX_TH_SYN);
    int thl = mpx_tcp_encode(out + iphl, cap - (size_t)iphl, &th, NULL);
    if (thl < 0)
        return thl;
    uint32_t tcp_len = (uint32_t)thl + len;
    int rv = mpx_ip_encode(out, cap, &ip, (uint16_t)tcp_len);
    if (rv < 0)
        return rv;
    if (len)
        mpx_ring_read_at(&c->sndbuf, seq - c->sndbuf_seq, out + iphl + thl, len);
    /* TSO: the kernel cuts the payload into gso_size pieces and copies our
     * header, options included, to each: the size is what fits the MSS
     * with the options this packet actually carries */
    uint32_t opt = (uint32_t)thl - MPX_TCP_HDR_LEN;
    uint32_t seg = c->mss_base > opt + 64 ? c->mss_base - opt : 64;
    c->out_gso = len > seg ? seg : 0;
    if (c->out_gso && c->cfg.tso_csum_partial)
        mpx_tcp_csum_partial(out + iphl, tcp_len, &ip.src, &ip.dst);
    else
        mpx_tcp_csum_fill(out + iphl, tcp_len, &ip.src, &ip.dst);
    after_emit(c, flags, len, rtx, now);
    return iphl + (int)tcp_len;
}

uint32_t mpx_tcp_out_gso(const struct mpx_tcp_conn *c)
{
    return c->out_gso;
}

static int emit_rst(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now)
{
    int rv = emit(c, out, cap, now, c->rst_flags, c->rst_seq, 0, false);
    if (rv >= 0)
        c->rst_pending = false;
    return rv;
}

static int send_syn(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now)
{
    uint8_t flags = c->state == MPX_TCP_SYN_SENT ? MPX_TH_SYN : MPX_TH_SYN | MPX_TH_ACK;
    int rv = emit(c, out, cap, now, flags, c->iss, 0, c->syn_tries > 0);
    if (rv < 0)
        return rv;
    c->snd_nxt = c->iss + 1;
    if (mpx_seq_gt(c->snd_nxt, c->snd_max))
        c->snd_max = c->snd_nxt;
    if (c->syn_tries == 0 && !c->rtt_timing) {
        c->rtt_timing = true;
        c->rtt_seq = c->iss;
        c->rtt_time = now;
    } else if (c->syn_tries) {
        c->rtt_timing = false; /* Karn */
    }
    if (c->t_rtx == MPX_TCP_TIMER_OFF)
        c->t_rtx = now + c->rto;
    return rv;
}

/* The data segment starting at |seq| (a retransmission if below snd_max):
 * clips to the buffered data and the FIN. */
static int emit_data(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now, uint32_t seq,
                     uint32_t len, bool rtx)
{
    uint32_t data_end = mpx_tcp_sndbuf_end(c);
    uint32_t avail = mpx_seq_lt(seq, data_end) ? data_end - seq : 0;
    if (len > avail)
        len = avail;
    if (len && c->cfg.seg_limit) {
        uint32_t lim = c->cfg.seg_limit(c->cfg.opt_hook_ctx, seq - (c->iss + 1), len);
        if (lim && lim < len)
            len = lim;
    }
    uint8_t flags = MPX_TH_ACK;
    if (c->shut_wr && seq + len == c->fin_seq)
        flags |= MPX_TH_FIN;
    if (len && seq + len == data_end)
        flags |= MPX_TH_PSH;
    if (!len && !(flags & MPX_TH_FIN))
        return 0;
    int rv = emit(c, out, cap, now, flags, seq, len, rtx);
    if (rv < 0)
        return rv;
    uint32_t end = seq + len + !!(flags & MPX_TH_FIN);
    if (flags & MPX_TH_FIN)
        c->fin_sent = true;
    if (mpx_seq_gt(end, c->snd_nxt))
        c->snd_nxt = end;
    if (mpx_seq_gt(end, c->snd_max))
        c->snd_max = end;
    if (rtx) {
        c->rtt_timing = false; /* Karn's algorithm (RFC 6298 section 3) */
    } else if (!c->rtt_timing && len) {
        c->rtt_timing = true;
        c->rtt_seq = seq;
        c->rtt_time = now;
    }
    mpx_tcp_arm_rtx(c, now, false);
    c->t_persist = MPX_TCP_TIMER_OFF;
    return rv;
}

/* Recovery retransmissions: RFC 6582 (no SACK) and RFC 6675 NextSeg. */
static int send_recovery(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now,
                         uint32_t mss, bool *done)
{
    uint32_t seq, len;
    *done = false;
    if (c->reno_rtx) {
        c->reno_rtx = false;
        c->mib.TCPFastRetrans++;
        *done = true;
        return emit_data(c, out, cap, now, c->snd_una, mss, true);
    }
    if (c->ca_state != MPX_TCP_CA_RECOVERY || !c->sack_ok)
        return 0;
    uint32_t pipe = mpx_tcp_pipe(c);
    if (c->cc.cwnd < pipe + mss) { /* RFC 6675 5 (C): cwnd - pipe >= 1 SMSS */
        c->cwnd_limited = true;
        *done = true;
        return 0;
    }
    uint32_t wnd_end = c->snd_una + c->snd_wnd;
    bool new_ok = mpx_seq_lt(c->snd_max, mpx_tcp_sndbuf_end(c)) && mpx_seq_lt(c->snd_max, wnd_end);
    if (!mpx_tcp_sb_next_seg(c, mss, &seq, &len, new_ok))
        return 0;
    bool rescue = c->rescue_valid && c->rescue_rxt == c->recover && mpx_seq_lt(seq, c->high_rxt);
    if (!rescue && mpx_seq_gt(seq + len, c->high_rxt))
        c->high_rxt = seq + len;
    c->retrans_out += len;
    c->mib.TCPFastRetrans++;
    *done = true;
    return emit_data(c, out, cap, now, seq, len, true);
}

/* Nagle (RFC 896, TCP_NODELAY) and TCP_CORK for a segment of |len| < MSS
 * that carries all queued data: true means hold it back for now. */
static bool hold_small(struct mpx_tcp_conn *c, uint64_t now, bool fin)
{
    if (fin)
        return false;
    if (c->cfg.cork && !c->cork_expired) {
        if (c->t_cork == MPX_TCP_TIMER_OFF)
            c->t_cork = now + c->cfg.cork_timeout;
        return true;
    }
    return !c->cfg.nodelay && c->snd_max != c->snd_una;
}

static uint32_t skip_sacked(struct mpx_tcp_conn *c, uint32_t *limit)
{
    uint32_t seq = c->snd_nxt;
    const struct mpx_sack_block *b = mpx_tcp_sb_next(c, seq);
    if (b && mpx_seq_leq(b->left, seq)) {
        seq = b->right;
        c->snd_nxt = seq;
        b = mpx_tcp_sb_next(c, seq);
    }
    *limit = b ? b->left - seq : UINT32_MAX;
    return seq;
}

/* New data, or the go-back-N resend after an RTO, from snd_nxt. */
static int send_from_nxt(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now,
                         uint32_t mss)
{
    uint32_t limit, seq = skip_sacked(c, &limit);
    bool rtx = mpx_seq_lt(seq, c->snd_max);
    uint32_t data_end = mpx_tcp_sndbuf_end(c);
    uint32_t avail = mpx_seq_lt(seq, data_end) ? data_end - seq : 0;
    bool fin = c->shut_wr && seq + avail == c->fin_seq && (!c->fin_sent || rtx);
    if (rtx && avail > c->snd_max - seq)
        avail = c->snd_max - seq;
    if (avail > limit)
        avail = limit;
    if (!avail)
        return fin ? emit_data(c, out, cap, now, seq, 0, rtx) : 0;
    uint32_t wnd_end = c->snd_una + c->snd_wnd;
    uint32_t wnd = mpx_seq_gt(wnd_end, seq) ? wnd_end - seq : 0;
    uint32_t pipe = mpx_tcp_pipe(c);
    uint32_t cw = c->cc.cwnd > pipe ? c->cc.cwnd - pipe : 0;
    uint32_t len = max_payload(c, mss);
    len = avail < len ? avail : len;
    bool by_cwnd = cw < len, by_wnd = wnd < len;
    if (by_cwnd)
        len = cw >= mss ? cw / mss * mss : cw;
    if (wnd < len)
        len = wnd >= mss ? wnd / mss * mss : wnd;
    if (len < mss && len < avail) { /* sender SWS avoidance */
        /* ... unless half the largest window fits, or the persist timer
         * fired (the "override timeout" of RFC 9293 3.8.6.2.1) */
        bool ok = len && by_wnd && !by_cwnd && (len >= c->max_snd_wnd / 2 || c->win_probe);
        if (!ok) {
            c->cwnd_limited = by_cwnd;
            if (by_wnd)
                mpx_tcp_check_persist(c, now);
            return 0;
        }
    }
    if (len < mss && len == avail && !rtx && hold_small(c, now, fin))
        return 0;
    c->cwnd_limited = by_cwnd || pipe + len + mss > c->cc.cwnd ||
                      (mpx_cc_in_slow_start(&c->cc) && 2 * (pipe + len) >= c->cc.cwnd);
    int rv = emit_data(c, out, cap, now, seq, len, rtx);
    if (rv > 0) {
        c->win_probe = false;
        if (rtx && c->ca_state == MPX_TCP_CA_LOSS && c->backoff == 0)
            c->mib.TCPSlowStartRetrans++;
        if (len < mss)
            c->cork_expired = false;
    }
    return rv;
}

/* RFC 8985 7.3: the probe is new data if the window allows, else the
 * last segment sent (so its ACK shows what the tail lost). */
static int send_tlp(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now, uint32_t mss)
{
    uint32_t data_end = mpx_tcp_sndbuf_end(c);
    uint32_t wnd_end = c->snd_una + c->snd_wnd;
    c->tlp_pending = false;
    if (c->snd_nxt == c->snd_max && mpx_seq_lt(c->snd_max, data_end) &&
        mpx_seq_lt(c->snd_max, wnd_end)) {
        uint32_t len = mpx_seq_min(data_end, wnd_end) - c->snd_max;
        return emit_data(c, out, cap, now, c->snd_max, len < mss ? len : mss, false);
    }
    uint32_t end = mpx_seq_min(c->snd_max, data_end);
    if (c->fin_sent && c->snd_max == c->fin_seq + 1)
        end = c->fin_seq;
    uint32_t seq = mpx_seq_max(c->snd_una, end - mpx_seq_min(mss, end - c->snd_una));
    if (mpx_seq_lt(end, c->snd_una))
        return 0;
    return emit_data(c, out, cap, now, seq, end - seq, true);
}

static bool data_states(enum mpx_tcp_state s)
{
    return s == MPX_TCP_ESTABLISHED || s == MPX_TCP_CLOSE_WAIT || s == MPX_TCP_FIN_WAIT_1 ||
           s == MPX_TCP_CLOSING || s == MPX_TCP_LAST_ACK;
}

/* Zero-window or keepalive probe: an old sequence number that the peer
 * must answer with an ACK (Linux tcp_xmit_probe_skb). */
static int send_probe(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now)
{
    int rv = emit(c, out, cap, now, MPX_TH_ACK, c->snd_una - 1, 0, false);
    if (rv > 0)
        c->win_probe = c->keep_probe = false;
    return rv;
}

int mpx_tcp_output(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now)
{
    if (c->rst_pending)
        return emit_rst(c, out, cap, now);
    switch (c->state) {
    case MPX_TCP_CLOSED:
    case MPX_TCP_LISTEN:
        return 0;
    case MPX_TCP_SYN_SENT:
        return c->snd_nxt == c->iss ? send_syn(c, out, cap, now) : 0;
    case MPX_TCP_SYN_RECEIVED:
        if (c->snd_nxt == c->iss)
            return send_syn(c, out, cap, now);
        break;
    default:
        break;
    }
    /* Pacing holds data segments, not the fast retransmission (RFC 6582),
     * the go-back-N resend after an RTO or a PMTU drop (the loss state:
     * cwnd, one MSS after an RTO, is what limits it; the first one Linux
     * sends from the timer, tcp_retransmit_timer), probes or pure ACKs. */
    bool loss_rtx = c->ca_state == MPX_TCP_CA_LOSS && mpx_seq_lt(c->snd_nxt, c->snd_max);
    bool held = data_states(c->state) && !c->reno_rtx && !c->tlp_pending && !loss_rtx &&
                pace_hold(c, now, seg_payload_max(c));
    if (data_states(c->state) && !held) {
        uint32_t mss = seg_payload_max(c);
        bool done;
        int rv = send_recovery(c, out, cap, now, mss, &done);
        if (rv || done)
            return rv ? rv
                      : (c->ack_now ? emit(c, out, cap, now, MPX_TH_ACK, c->snd_nxt, 0, false) : 0);
        if (c->tlp_pending) {
            rv = send_tlp(c, out, cap, now, mss);
            if (rv)
                return rv;
        }
        rv = send_from_nxt(c, out, cap, now, mss);
        if (rv)
            return rv;
    }
    if (c->win_probe || c->keep_probe)
        return send_probe(c, out, cap, now);
    if (c->ack_now && c->state != MPX_TCP_SYN_SENT)
        return emit(c, out, cap, now, MPX_TH_ACK, c->snd_nxt, 0, false);
    return 0;
}

int mpx_tcp_reply_rst(const struct mpx_pkt *in, uint8_t *out, size_t cap)
{
    const struct mpx_tcp_hdr *ith = &in->tcp;
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr th;
    if (ith->flags & MPX_TH_RST)
        return 0;
    memset(&ip, 0, sizeof(ip));
    memset(&th, 0, sizeof(th));
    ip.version = in->ip.version;
    ip.ttl = 64;
    ip.proto = MPX_IPPROTO_TCP;
    ip.df = true;
    ip.src = in->ip.dst;
    ip.dst = in->ip.src;
    th.sport = ith->dport;
    th.dport = ith->sport;
    if (ith->flags & MPX_TH_ACK) {
        th.seq = ith->ack;
        th.flags = MPX_TH_RST;
    } else {
        th.ack = ith->seq + (uint32_t)in->payload_len + !!(ith->flags & MPX_TH_SYN) +
                 !!(ith->flags & MPX_TH_FIN);
        th.flags = MPX_TH_RST | MPX_TH_ACK;
    }
    return mpx_pkt_encode(out, cap, &ip, &th, NULL, 0, NULL);
}
