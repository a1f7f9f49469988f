/*
 * tcp_seg.c - segment-level test helpers (see tcp_seg.h).
 */
#include "tcp_seg.h"

#include <stdlib.h>
#include <string.h>

#include "mpx_test.h"

void tt_init(struct tt *x, const struct mpx_tcp_config *cfg)
{
    memset(x, 0, sizeof(*x));
    x->tuple.local = mpx_addr_v4(0x0a000001);
    x->tuple.remote = mpx_addr_v4(0x0a000002);
    x->tuple.lport = 1000;
    x->tuple.rport = 80;
    for (int i = 0; i < 32; i++)
        x->secret[i] = (uint8_t)(i * 13 + 1);
    x->peer_ts = 777;
    x->now = 1000 * TT_MS;
    x->c = malloc(mpx_tcp_conn_size());
    if (mpx_tcp_init(x->c, cfg, &x->tuple, x->now) != 0) {
        free(x->c);
        x->c = NULL;
    }
}

void tt_free(struct tt *x)
{
    if (x->c) {
        mpx_tcp_free(x->c);
        free(x->c);
    }
    x->c = NULL;
}

struct mpx_tcp_isn_inputs tt_isn(struct tt *x, uint32_t iss)
{
    struct mpx_tcp_isn_inputs in = {
        .secret = x->secret, .secret_len = 32, .ts_offset = 0, .use_iss = true, .iss = iss};
    return in;
}

static void build_opts(struct tt *x, const struct tt_seg *s, struct mpx_tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    if (s->mss) {
        o->present |= MPX_TCPO_MSS;
        o->mss = s->mss;
    }
    if (s->ws_set) {
        o->present |= MPX_TCPO_WSCALE;
        o->wscale = (uint8_t)s->wscale;
    }
    if (s->sackok)
        o->present |= MPX_TCPO_SACK_PERM;
    if (s->ts) {
        o->present |= MPX_TCPO_TS;
        o->ts_val = s->explicit_tsval ? s->tsval : x->peer_ts++;
        o->ts_ecr = s->tsecr;
    }
    if (s->nsack) {
        o->present |= MPX_TCPO_SACK;
        o->n_sack = s->nsack;
        memcpy(o->sack, s->sack, sizeof(o->sack));
    }
}

void tt_feed(struct tt *x, const struct tt_seg *s)
{
    struct mpx_ip_hdr ip = {.version = 4, .ttl = 64, .proto = MPX_IPPROTO_TCP, .df = true};
    struct mpx_tcp_hdr th;
    static uint8_t pkt[70000];
    struct mpx_pkt p;
    memset(&th, 0, sizeof(th));
    ip.src = x->tuple.remote;
    ip.dst = x->tuple.local;
    th.sport = x->tuple.rport;
    th.dport = x->tuple.lport;
    th.seq = s->seq;
    th.ack = s->ack;
    th.flags = s->flags;
    th.win = s->zero_win ? 0 : (s->win ? s->win : 65535);
    build_opts(x, s, &th.opts);
    int n = mpx_pkt_encode(pkt, sizeof(pkt), &ip, &th, s->data, s->len, NULL);
    if (n < 0 || mpx_pkt_decode(pkt, (size_t)n, true, &p) != 0) {
        mpx_test_fail(__FILE__, __LINE__, "tt_feed: cannot build segment (%d)", n);
        return;
    }
    mpx_tcp_input(x->c, &p, x->now);
}

int tt_out(struct tt *x)
{
    int n = mpx_tcp_output(x->c, x->buf, sizeof(x->buf), x->now);
    if (n <= 0)
        return 0;
    if (mpx_pkt_decode(x->buf, (size_t)n, true, &x->out) != 0) {
        mpx_test_fail(__FILE__, __LINE__, "tt_out: engine sent an undecodable packet");
        return 0;
    }
    x->n_out++;
    return n;
}

int tt_drain(struct tt *x)
{
    int k = 0;
    while (tt_out(x) > 0 && k < 100000)
        k++;
    return k;
}

int tt_find_event(struct tt *x, enum mpx_tcp_event_type type)
{
    struct mpx_tcp_event ev;
    while (x->n_ev < 32 && mpx_tcp_poll_event(x->c, &ev))
        x->ev[x->n_ev++] = ev;
    for (int i = 0; i < x->n_ev; i++)
        if (x->ev[i].type == type)
            return i;
    return -1;
}

void tt_advance(struct tt *x, uint64_t to)
{
    x->now = to;
    if (mpx_tcp_next_deadline(x->c) <= to)
        mpx_tcp_on_timer(x->c, to);
}

void tt_client_established(struct tt *x, bool opts)
{
    tt_client_established_iss(x, opts, TT_ISS);
}

void tt_client_established_iss(struct tt *x, bool opts, uint32_t iss)
{
    struct mpx_tcp_isn_inputs in = tt_isn(x, iss);
    mpx_tcp_connect(x->c, x->now, &in);
    tt_out(x);
    struct tt_seg s = {
        .flags = MPX_TH_SYN | MPX_TH_ACK, .seq = TT_PISS, .ack = iss + 1, .mss = 1460};
    if (opts) {
        s.ts = true;
        s.tsecr = x->out.tcp.opts.ts_val;
        s.ws_set = true;
        s.wscale = 7;
        s.sackok = true;
    }
    tt_feed(x, &s);
    tt_out(x);
}

void tt_server_established(struct tt *x, bool opts)
{
    struct tt_seg s = {.flags = MPX_TH_SYN, .seq = TT_PISS, .mss = 1460};
    struct mpx_ip_hdr ip = {.version = 4, .ttl = 64, .proto = MPX_IPPROTO_TCP};
    struct mpx_tcp_hdr th;
    uint8_t pkt[200];
    struct mpx_pkt p;
    memset(&th, 0, sizeof(th));
    if (opts) {
        s.ts = true;
        s.ws_set = true;
        s.wscale = 7;
        s.sackok = true;
    }
    ip.src = x->tuple.remote;
    ip.dst = x->tuple.local;
    th.sport = 80;
    th.dport = 1000;
    th.seq = s.seq;
    th.flags = s.flags;
    th.win = 65535;
    build_opts(x, &s, &th.opts);
    int n = mpx_pkt_encode(pkt, sizeof(pkt), &ip, &th, NULL, 0, NULL);
    if (n < 0 || mpx_pkt_decode(pkt, (size_t)n, true, &p) != 0)
        return;
    struct mpx_tcp_isn_inputs in = tt_isn(x, TT_ISS);
    mpx_tcp_accept_syn(x->c, &p, x->now, &in);
    tt_out(x);
    struct tt_seg a = {.flags = MPX_TH_ACK,
                       .seq = TT_PISS + 1,
                       .ack = TT_ISS + 1,
                       .ts = opts,
                       .tsecr = x->out.tcp.opts.ts_val};
    tt_feed(x, &a);
}
