/* mptcp_extkey_rec.c - see mptcp_extkey_rec.h. */
#include "mptcp_extkey_rec.h"

#include <string.h>

#include "wire_mptcp.h"

static void keep(struct xk_log *log, const struct xk_rec *r)
{
    if (r->sub == MPX_MPTCP_SUB_DSS) {
        int i = 0;
        while (i < log->n_last &&
               (log->last_dss[i].from != r->from || log->last_dss[i].sport != r->sport ||
                log->last_dss[i].dport != r->dport))
            i++;
        if (i == XK_LASTDSS)
            i = 0;
        else if (i == log->n_last)
            log->n_last++;
        log->last_dss[i] = *r;
        if (log->skip_dss)
            return;
    }
    if (log->n < XK_MAXREC)
        log->rec[log->n++] = *r;
}

const struct xk_rec *xk_last_dss(const struct xk_log *log, int from, uint16_t sport, uint16_t dport)
{
    for (int i = 0; i < log->n_last; i++)
        if (log->last_dss[i].from == from && log->last_dss[i].sport == sport &&
            log->last_dss[i].dport == dport)
            return &log->last_dss[i];
    return NULL;
}

void xk_record(struct xk_log *log, int from, const uint8_t *pkt, size_t len, uint64_t t)
{
    struct mpx_pkt p;
    log->pkts++;
    if (mpx_pkt_decode(pkt, len, false, &p) < 0)
        return;
    size_t ihl = (pkt[0] >> 4) == 4 ? (size_t)(pkt[0] & 0x0f) * 4 : 40;
    if (ihl + 20 > len)
        return;
    const uint8_t *th = pkt + ihl;
    size_t doff = (size_t)(th[12] >> 4) * 4;
    if (ihl + doff > len)
        return;
    int k = 0;
    for (size_t i = 20; i < doff;) {
        if (th[i] == 0)
            break;
        if (th[i] == 1 || i + 1 >= doff || th[i + 1] < 2) {
            i++;
            continue;
        }
        if (th[i] == 30 && th[i + 1] >= 4) {
            struct xk_rec tmp, *r = &tmp;
            memset(r, 0, sizeof(*r));
            r->from = from;
            r->t = t;
            r->tcpflags = p.tcp.flags;
            r->len = th[i + 1];
            r->sub = th[i + 2] >> 4;
            r->b2 = th[i + 2];
            r->b3 = th[i + 3];
            r->src = p.ip.src;
            r->dst = p.ip.dst;
            r->sport = p.tcp.sport;
            r->dport = p.tcp.dport;
            r->seq = p.tcp.seq;
            r->ack = p.tcp.ack;
            r->payload_len = (uint32_t)p.payload_len;
            /* the k-th decoded MPTCP option is this one */
            if (k < p.tcp.opts.n_mptcp)
                r->o = p.tcp.opts.mptcp[k];
            k++;
            keep(log, r);
        }
        i += th[i + 1];
    }
}

const struct xk_rec *xk_find(const struct xk_log *log, int from, int sub, int synack, int k)
{
    for (int i = 0; i < log->n; i++) {
        const struct xk_rec *r = &log->rec[i];
        if ((from >= 0 && r->from != from) || r->sub != sub)
            continue;
        if (synack >= 0 && (r->tcpflags & (MPX_TH_SYN | MPX_TH_ACK)) != synack)
            continue;
        if (k-- == 0)
            return r;
    }
    return NULL;
}

int xk_count(const struct xk_log *log, int from, int sub)
{
    int n = 0;
    for (int i = 0; i < log->n; i++)
        if ((from < 0 || log->rec[i].from == from) && log->rec[i].sub == sub)
            n++;
    return n;
}

bool xk_key_on_wire(const struct xk_log *log, int from)
{
    for (int i = 0; i < log->n; i++) {
        const struct xk_rec *r = &log->rec[i];
        if (from >= 0 && r->from != from)
            continue;
        if (r->sub == MPX_MPTCP_SUB_CAPABLE && r->len >= 12 && !(r->b3 & MPX_MPC_F_E))
            return true;
    }
    return false;
}
