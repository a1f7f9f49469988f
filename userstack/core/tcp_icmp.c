/*
 * tcp_icmp.c - what one connection does with an ICMP error quoting one of
 * its segments (tcp.h mpx_tcp_icmp), and the handshake limits TCP_SYNCNT /
 * TCP_USER_TIMEOUT set at run time. Linux's behaviour (tcp_v4_err,
 * tcp_v6_err, tcp_req_err, tcp_v4_mtu_reduced) with RFC 5927's checks.
 */
#include "err.h"
#include "tcp_int.h"

void mpx_tcp_set_syn_retries(struct mpx_tcp_conn *c, uint8_t n)
{
    if (n)
        c->cfg.syn_retries = n;
}

/* Like Linux, a running retransmission timer is not moved: the bound is
 * checked (and the RTO clamped to it) when it fires. */
void mpx_tcp_set_user_timeout(struct mpx_tcp_conn *c, uint64_t timeout, uint64_t now)
{
    (void)now;
    c->cfg.user_timeout = timeout;
}

int mpx_tcp_timeout_err(const struct mpx_tcp_conn *c)
{
    return c->soft_err && c->snd_una == c->soft_una ? c->soft_err : MPX_ERR_TIMEDOUT;
}

/* Linux tcp_simple_retransmit: what was in flight above the new MSS was
 * dropped by the router, not by congestion. Resend it all from SND.UNA at
 * the new size (output re-segments; SACKed ranges are skipped) in the loss
 * state, without touching cwnd / ssthresh ("we do not increase the amount
 * of data in the network, only the units changed") and without counting
 * a timeout or backing off. Segments already small enough are resent too
 * (the engine keeps no per-segment record): the receiver drops them as
 * duplicates. */
static void simple_retransmit(struct mpx_tcp_conn *c, uint64_t now)
{
    if (c->ca_state == MPX_TCP_CA_RECOVERY) /* its reduction is done: end it */
        mpx_cc_on_recovery_exit(&c->cc, now);
    if (c->ca_state != MPX_TCP_CA_LOSS) {
        c->ca_state = MPX_TCP_CA_LOSS;
        c->recover = c->snd_max;
    }
    /* neither Eifel nor a DSACK may "undo" a reduction that never was */
    c->eifel_armed = c->undo_armed = c->undo_due = false;
    c->snd_nxt = c->snd_una;
    c->high_rxt = c->snd_una;
    c->dupacks = c->reno_sacked = c->retrans_out = 0;
    c->reno_rtx = c->rescue_valid = false;
    c->tlp_pending = c->tlp_out = false;
    c->rtt_timing = false;
    /* the head is being resent now: its RTO runs from now (Linux rearms
     * it in tcp_xmit_retransmit_queue) */
    mpx_tcp_arm_rtx(c, now, true);
}

/* RFC 1191 section 6.1 / RFC 8201 section 4: take the reported MTU if it
 * is lower, never below Linux's ip_rt_min_pmtu (IPv4) or 1280 (IPv6);
 * then resend the flight at the new size. */
static enum mpx_tcp_icmp_res pmtu(struct mpx_tcp_conn *c, const struct mpx_icmp *ic, uint64_t now)
{
    uint32_t floor = ic->version == 6 ? MPX_ICMP_IPV6_MINMTU : MPX_ICMP_IPV4_MINMTU;
    uint32_t mtu = ic->mtu < floor ? floor : ic->mtu;
    if (mtu >= c->cfg.mtu)
        return MPX_TCP_ICMP_PMTU_STALE;
    uint32_t old_base = c->mss_base;
    c->cfg.mtu = mtu;
    mpx_tcp_update_mss(c);
    mpx_tcp_log(c, MPX_LOG_INFO, "pmtu", mtu, c->mss_base);
    bool synced = c->state != MPX_TCP_SYN_SENT && c->state != MPX_TCP_SYN_RECEIVED;
    /* as Linux, only when segments got smaller (a peer MSS below the new
     * MTU already kept them small enough: nothing was too big) */
    if (synced && c->snd_una != c->snd_max && c->mss_base < old_base)
        simple_retransmit(c, now);
    return MPX_TCP_ICMP_PMTU;
}

/* RFC 6069 (TCP-LCD) 4, as Linux tcp_ld_RTO_revert: a net / host
 * unreachable quoting SND.UNA while the retransmission timer is backed
 * off says the retransmission was lost to a connectivity disruption, not
 * to congestion: undo one backoff and let the timer expire at the RTO
 * that results, counted from the last retransmission (which was sent
 * t_rtx - rto ago: rto_data arms the timer right after sending). */
static bool lcd_candidate(const struct mpx_icmp *ic)
{
    if (ic->kind != MPX_ICMPK_UNREACH)
        return false;
    if (ic->version == 4)
        return ic->code == MPX_ICMP_NET_UNREACH || ic->code == MPX_ICMP_HOST_UNREACH;
    return ic->code == MPX_ICMPV6_NOROUTE || ic->code == MPX_ICMPV6_ADDR_UNREACH;
}

static void lcd_revert(struct mpx_tcp_conn *c, uint64_t now)
{
    if (c->backoff == 0 || c->t_rtx == MPX_TCP_TIMER_OFF || c->rtx_is_pto)
        return;
    uint64_t sent = c->t_rtx > c->rto ? c->t_rtx - c->rto : 0;
    c->backoff--;
    /* the RFC 6298 2.3 value of tcp_input.c's set_rto, backed off again */
    uint64_t rto = c->cfg.rto_init;
    if (c->rtt_valid) {
        uint64_t var4 = 4 * c->rttvar;
        rto = c->srtt + (var4 > MPX_NS_PER_MS ? var4 : MPX_NS_PER_MS);
        rto = rto < c->cfg.rto_min ? c->cfg.rto_min : rto;
    }
    for (uint8_t i = 0; i < c->backoff && rto < c->cfg.rto_max; i++)
        rto *= 2;
    c->rto = rto < c->cfg.rto_max ? rto : c->cfg.rto_max;
    c->t_rtx = sent + c->rto > now ? sent + c->rto : now;
    mpx_tcp_log(c, MPX_LOG_DEBUG, "rto revert", c->backoff, c->rto);
}

/* tcp_v4_err's argument to tcp_req_err / tcp_v6_err's "fatal": which
 * errors drop a request (passive SYN_RECEIVED). */
static bool req_drop(const struct mpx_icmp *ic, bool hard)
{
    if (ic->version == 6)
        return hard;
    return ic->kind == MPX_ICMPK_PARAMPROB || ic->kind == MPX_ICMPK_TIME_EXCEEDED ||
           (ic->kind == MPX_ICMPK_UNREACH &&
            (ic->code == MPX_ICMP_NET_UNREACH || ic->code == MPX_ICMP_HOST_UNREACH));
}

enum mpx_tcp_icmp_res mpx_tcp_icmp(struct mpx_tcp_conn *c, const struct mpx_icmp *ic, uint64_t now)
{
    if (c->state == MPX_TCP_CLOSED || c->state == MPX_TCP_LISTEN || c->state == MPX_TCP_TIME_WAIT)
        return MPX_TCP_ICMP_IGNORED;
    bool request = c->state == MPX_TCP_SYN_RECEIVED && c->passive;
    /* RFC 5927 4.1 (Linux: between(seq, snd_una, snd_nxt)): an attacker
     * must guess a sequence number in flight */
    if (request ? ic->seq != c->iss : !mpx_seq_between(ic->seq, c->snd_una, c->snd_max))
        return MPX_TCP_ICMP_OUT_OF_WINDOW;
    if (ic->kind == MPX_ICMPK_PTB)
        return pmtu(c, ic, now);
    bool hard = false;
    int err = mpx_icmp_to_err(ic, &hard);
    if (!err)
        return MPX_TCP_ICMP_IGNORED;
    if (request && !req_drop(ic, hard))
        return MPX_TCP_ICMP_IGNORED;
    if (c->state == MPX_TCP_SYN_SENT || c->state == MPX_TCP_SYN_RECEIVED) {
        /* Linux aborts the handshake on any of them, soft or hard
         * (tcp_done_with_error), unless the socket is busy */
        c->mib.AttemptFails++;
        mpx_tcp_log(c, MPX_LOG_DEBUG, "icmp abort", ic->type, ic->code);
        mpx_tcp_closed(c, err);
        return MPX_TCP_ICMP_ABORTED;
    }
    if (ic->seq == c->snd_una && lcd_candidate(ic))
        lcd_revert(c, now);
    /* RFC 1122 4.2.3.9: keep retrying; a later timeout reports it */
    c->soft_err = err;
    c->soft_una = c->snd_una;
    return MPX_TCP_ICMP_SOFT;
}
