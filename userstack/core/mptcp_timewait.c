/*
 * mptcp_timewait.c - TIME_WAIT without the connection (Linux
 * inet_timewait_sock). A subflow stays in TIME_WAIT for 2 MSL (60 s) after
 * the close: at a few hundred connections a second the engine would hold
 * tens of thousands of whole connections (buffers, scheduler, PM state)
 * and walk them on every step. Once the MPTCP connection is done and no
 * longer the app's, each TIME_WAIT subflow becomes a small record in a
 * hash by 4-tuple; the connection and its subflows are freed. The records
 * expire in FIFO order: the duration is the same for all of them.
 *
 * What a record still does (RFC 9293 section 3.10.7.4, TIME-WAIT):
 *  - a retransmitted FIN is ACKed and restarts the 2 MSL wait;
 *  - other segments with data, a FIN or out of the window (or failing
 *    PAWS, RFC 7323 section 5) get an ACK; an in-window bare ACK nothing;
 *  - a RST at rcv_nxt ends the wait (Linux without tcp_rfc1337);
 *  - a SYN newer than the old connection (timestamp, RFC 6191, or
 *    sequence number, RFC 1122 section 4.2.2.13) takes the tuple over.
 * The ACKs are plain TCP (no MPTCP option: the connection is gone, as the
 * Linux timewait socket answers) and leave through the stack's control
 * segment queue (the RST queue).
 */
#include <stdlib.h>
#include <string.h>

#include "mptcp_int.h"

#define TW_HASH_MIN 256u

static bool tuple_eq(const struct mpx_tcp_tuple *a, const struct mpx_tcp_tuple *b)
{
    return a->lport == b->lport && a->rport == b->rport && mpx_addr_eq(&a->local, &b->local) &&
           mpx_addr_eq(&a->remote, &b->remote);
}

static uint32_t bucket(const struct mpx_stack *st, const struct mpx_tcp_tuple *t)
{
    return mpx_stack_tuple_hash(t) & (st->tw_cap - 1);
}

/* Keep the load at most 1 so a lookup stays O(1); on allocation failure
 * the chains just get longer (false only when there is no table at all). */
static bool hash_room(struct mpx_stack *st)
{
    if (st->tw_cap && st->tw_n < st->tw_cap)
        return true;
    uint32_t cap = st->tw_cap ? st->tw_cap * 2 : TW_HASH_MIN;
    struct mpx_tw **nh = calloc(cap, sizeof(*nh));
    if (!nh)
        return st->tw_cap != 0;
    uint32_t old = st->tw_cap;
    st->tw_cap = cap;
    for (uint32_t i = 0; i < old; i++) {
        for (struct mpx_tw *tw = st->tw_hash[i], *next; tw; tw = next) {
            next = tw->hnext;
            uint32_t h = bucket(st, &tw->tuple);
            tw->hnext = nh[h];
            nh[h] = tw;
        }
    }
    free(st->tw_hash);
    st->tw_hash = nh;
    return true;
}

struct mpx_tw *mpx_tw_lookup(const struct mpx_stack *st, const struct mpx_tcp_tuple *t)
{
    if (!st->tw_n)
        return NULL;
    for (struct mpx_tw *tw = st->tw_hash[bucket(st, t)]; tw; tw = tw->hnext)
        if (tuple_eq(&tw->tuple, t))
            return tw;
    return NULL;
}

static void fifo_unlink(struct mpx_stack *st, struct mpx_tw *tw)
{
    if (tw->older)
        tw->older->newer = tw->newer;
    else
        st->tw_oldest = tw->newer;
    if (tw->newer)
        tw->newer->older = tw->older;
    else
        st->tw_newest = tw->older;
    tw->older = tw->newer = NULL;
}

/* Records enter with the expiry their subflow had, nearly always the
 * newest one: the walk from the newest end is O(1) but keeps the order
 * exact when a connection was freed after a younger one. */
static void fifo_insert(struct mpx_stack *st, struct mpx_tw *tw)
{
    struct mpx_tw *after = st->tw_newest;
    while (after && after->expire > tw->expire)
        after = after->older;
    tw->older = after;
    tw->newer = after ? after->newer : st->tw_oldest;
    if (tw->newer)
        tw->newer->older = tw;
    else
        st->tw_newest = tw;
    if (after)
        after->newer = tw;
    else
        st->tw_oldest = tw;
}

void mpx_tw_kill(struct mpx_stack *st, struct mpx_tw *tw)
{
    for (struct mpx_tw **pp = &st->tw_hash[bucket(st, &tw->tuple)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == tw) {
            *pp = tw->hnext;
            break;
        }
    }
    fifo_unlink(st, tw);
    st->tw_n--;
    free(tw);
}

/* The ACK a TIME_WAIT connection sends: our FIN's sequence number plus
 * one, the peer's FIN acknowledged, and the timestamps (RFC 7323 3.2). */
static void send_ack(struct mpx_stack *st, const struct mpx_tw *tw, uint64_t now)
{
    if (st->rst_n == MPX_STACK_RSTQ)
        return; /* the peer retransmits its FIN */
    struct mpx_rst *r = &st->rstq[(st->rst_head + st->rst_n) % MPX_STACK_RSTQ];
    memset(r, 0, sizeof(*r));
    struct mpx_pkt *p = &r->pkt;
    p->ip.version = tw->ipver;
    p->ip.tos = tw->tos;
    p->ip.ttl = tw->ttl;
    p->ip.proto = MPX_IPPROTO_TCP;
    p->ip.df = true;
    p->ip.src = tw->tuple.local;
    p->ip.dst = tw->tuple.remote;
    p->tcp.sport = tw->tuple.lport;
    p->tcp.dport = tw->tuple.rport;
    p->tcp.seq = tw->snd_nxt;
    p->tcp.ack = tw->rcv_nxt;
    p->tcp.flags = MPX_TH_ACK;
    p->tcp.win = tw->win;
    if (tw->ts_ok) {
        p->tcp.opts.present = MPX_TCPO_TS;
        p->tcp.opts.ts_val = (uint32_t)(now / MPX_NS_PER_MS) + tw->ts_offset;
        p->tcp.opts.ts_ecr = tw->ts_recent;
    }
    st->rst_n++;
}

/* The same test as mpx_tcp_timewait_reusable() on the record. */
static bool reusable(const struct mpx_tw *tw, const struct mpx_pkt *syn)
{
    const struct mpx_tcp_opts *o = &syn->tcp.opts;
    if (tw->ts_ok && (o->present & MPX_TCPO_TS))
        return mpx_seq_gt(o->ts_val, tw->ts_recent);
    return mpx_seq_gt(syn->tcp.seq, tw->rcv_nxt);
}

bool mpx_tw_input(struct mpx_stack *st, struct mpx_tw *tw, const struct mpx_pkt *p, uint64_t now)
{
    const struct mpx_tcp_hdr *th = &p->tcp;
    uint8_t f = th->flags;
    if ((f & (MPX_TH_SYN | MPX_TH_ACK | MPX_TH_RST)) == MPX_TH_SYN && reusable(tw, p)) {
        mpx_tw_kill(st, tw);
        st->mib_tw_reused++;
        return false;
    }
    if (f & MPX_TH_RST) {
        if (th->seq == tw->rcv_nxt)
            mpx_tw_kill(st, tw);
        return true;
    }
    uint32_t seg_len = (uint32_t)p->payload_len + !!(f & MPX_TH_SYN) + !!(f & MPX_TH_FIN);
    bool has_ts = (th->opts.present & MPX_TCPO_TS) != 0;
    bool paws = tw->ts_ok && has_ts && mpx_seq_lt(th->opts.ts_val, tw->ts_recent);
    if (!paws && !seg_len && th->seq == tw->rcv_nxt)
        return true; /* a late ACK of our FIN: nothing to say */
    if (!paws && (f & MPX_TH_FIN) && !(f & MPX_TH_SYN) && th->seq + seg_len == tw->rcv_nxt) {
        /* the peer's FIN again (our ACK was lost): ACK, restart 2 MSL */
        if (tw->ts_ok && has_ts)
            tw->ts_recent = th->opts.ts_val;
        fifo_unlink(st, tw);
        tw->expire = now + st->cfg.tcp.timewait;
        fifo_insert(st, tw);
    }
    send_ack(st, tw, now);
    return true;
}

static struct mpx_tw *record_of(const struct mpx_sf *sf)
{
    const struct mpx_tcp_conn *c = sf->tcp;
    struct mpx_tw *tw = calloc(1, sizeof(*tw));
    if (!tw)
        return NULL;
    tw->tuple = sf->tuple;
    tw->expire = c->t_close; /* entering TIME_WAIT set it: 2 MSL */
    tw->snd_nxt = c->snd_max;
    tw->rcv_nxt = c->rcv_nxt;
    tw->ts_ok = c->ts_ok;
    tw->ts_recent = c->ts_recent;
    tw->ts_offset = c->ts_offset;
    uint32_t wnd = mpx_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    wnd >>= c->rcv_wscale;
    tw->win = (uint16_t)(wnd > 0xffff ? 0xffff : wnd);
    tw->ipver = sf->tuple.local.family == MPX_AF_INET6 ? 6 : 4;
    tw->tos = c->cfg.tos;
    tw->ttl = c->cfg.ttl;
    return tw;
}

void mpx_tw_take(struct mpx_msk *m, uint64_t now)
{
    struct mpx_stack *st = m->st;
    for (uint8_t i = m->nsf; i-- > 0;) {
        struct mpx_sf *sf = m->sf[i];
        if (mpx_tcp_get_state(sf->tcp) != MPX_TCP_TIME_WAIT || !hash_room(st))
            continue;
        struct mpx_tw *tw = record_of(sf);
        if (!tw)
            continue;
        struct mpx_tw *dup = mpx_tw_lookup(st, &tw->tuple);
        if (dup)
            mpx_tw_kill(st, dup);
        uint32_t h = bucket(st, &tw->tuple);
        tw->hnext = st->tw_hash[h];
        st->tw_hash[h] = tw;
        fifo_insert(st, tw);
        st->tw_n++;
        /* what the subflow's end would have reported (as tw_retire) */
        if (sf->ev_est && !sf->gone)
            mpx_stack_sub_event(sf, MPX_SEV_SUB_CLOSED);
        sf->gone = true;
        mpx_sf_pm_closed(sf, now);
        mpx_sf_free(sf);
    }
}

uint64_t mpx_tw_deadline(const struct mpx_stack *st)
{
    return st->tw_oldest ? st->tw_oldest->expire : UINT64_MAX;
}

void mpx_tw_expire(struct mpx_stack *st, uint64_t now)
{
    while (st->tw_oldest && st->tw_oldest->expire <= now)
        mpx_tw_kill(st, st->tw_oldest);
}

void mpx_tw_free_all(struct mpx_stack *st)
{
    while (st->tw_oldest)
        mpx_tw_kill(st, st->tw_oldest);
    free(st->tw_hash);
    st->tw_hash = NULL;
    st->tw_cap = 0;
}
