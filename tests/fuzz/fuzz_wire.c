/*
 * fuzz_wire.c - libFuzzer target for the wire codecs (wire_ip, wire_tcp,
 * wire_mptcp).
 *
 * Every input is fed to
 *   - mpx_pkt_decode, with and without checksum verification;
 *   - mpx_tcp_opts_decode (first 40 bytes as an option area) under several
 *     TCP flag combinations, since the valid option forms depend on them;
 *   - mpx_mptcp_decode under the same flags, on the input as is and with its
 *     first byte forced to kind 30.
 * Whatever decodes is re-encoded and decoded again, and the important
 * fields must survive (round-trip property); a second encode must then give
 * exactly the bytes of the first (fixed point: catches any field that the
 * decoder and encoder disagree on, MPTCP fields included). Violations trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "wire_ip.h"
#include "wire_mptcp.h"
#include "wire_tcp.h"

#define REQ(cond)                                                                                  \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define OUT_CAP (65536 + 128)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t flag_sets[] = {
    MPX_TH_SYN,
    MPX_TH_SYN | MPX_TH_ACK,
    MPX_TH_ACK,
    MPX_TH_ACK | MPX_TH_PSH | MPX_TH_FIN,
    MPX_TH_RST | MPX_TH_ACK,
};

/* |g| was decoded from what encoding |w| produced, with |not_fit| left out. */
static void check_opts(const struct mpx_tcp_opts *g, const struct mpx_tcp_opts *w, uint32_t not_fit)
{
    unsigned k = 0;
    REQ((g->present & ~MPX_TCPO_SACK) == (w->present & ~MPX_TCPO_SACK & ~not_fit));
    REQ(!(g->present & MPX_TCPO_MSS) || g->mss == w->mss);
    REQ(!(g->present & MPX_TCPO_WSCALE) || g->wscale == w->wscale);
    REQ(!(g->present & MPX_TCPO_TS) || (g->ts_val == w->ts_val && g->ts_ecr == w->ts_ecr));
    /* SACK: a prefix of the blocks, all unless marked. */
    REQ(g->n_sack <= w->n_sack);
    REQ((g->n_sack == w->n_sack) == !(not_fit & MPX_TCPO_SACK));
    for (unsigned i = 0; i < g->n_sack; i++)
        REQ(g->sack[i].left == w->sack[i].left && g->sack[i].right == w->sack[i].right);
    for (unsigned i = 0; i < w->n_mptcp; i++) {
        if (not_fit & (MPX_TCPO_MPTCP0 << i))
            continue;
        REQ(k < g->n_mptcp && g->mptcp[k].subtype == w->mptcp[i].subtype);
        k++;
    }
    REQ(k == g->n_mptcp);
    /* What we encode is always well formed. */
    REQ(g->n_bad == 0 && g->n_mptcp_bad == 0 && g->n_mptcp_ignored == 0 && g->n_unknown == 0);
}

static void roundtrip_pkt(const struct mpx_pkt *p, size_t in_size)
{
    static uint8_t out1[OUT_CAP], out2[OUT_CAP]; /* fuzz harness, not core */
    struct mpx_pkt q, r;
    uint32_t nf1, nf2;
    int n1, n2;

    n1 = mpx_pkt_encode(out1, sizeof(out1), &p->ip, &p->tcp, p->payload, p->payload_len, &nf1);
    if (in_size > 60000 && n1 == MPX_ERR_INVAL)
        return; /* options grew by padding past the 16-bit length */
    REQ(n1 > 0);
    REQ(mpx_pkt_decode(out1, (size_t)n1, true, &q) == 0);
    REQ(q.ip.version == p->ip.version && q.ip.tos == p->ip.tos && q.ip.ttl == p->ip.ttl);
    REQ(q.ip.proto == MPX_IPPROTO_TCP);
    REQ(mpx_addr_eq(&q.ip.src, &p->ip.src) && mpx_addr_eq(&q.ip.dst, &p->ip.dst));
    REQ(p->ip.version != 4 || (q.ip.id == p->ip.id && q.ip.df == p->ip.df));
    REQ(p->ip.version != 6 || q.ip.flow_label == p->ip.flow_label);
    REQ(q.tcp.sport == p->tcp.sport && q.tcp.dport == p->tcp.dport);
    REQ(q.tcp.seq == p->tcp.seq && q.tcp.ack == p->tcp.ack && q.tcp.flags == p->tcp.flags);
    REQ(q.tcp.win == p->tcp.win && q.tcp.urg == p->tcp.urg);
    REQ(q.payload_len == p->payload_len);
    REQ(q.payload_len == 0 || memcmp(q.payload, p->payload, q.payload_len) == 0);
    check_opts(&q.tcp.opts, &p->tcp.opts, nf1);

    /* Fixed point: everything in |q| fits and encodes to the same bytes. */
    n2 = mpx_pkt_encode(out2, sizeof(out2), &q.ip, &q.tcp, q.payload, q.payload_len, &nf2);
    REQ(n2 == n1 && nf2 == 0 && memcmp(out1, out2, (size_t)n1) == 0);
    REQ(mpx_pkt_decode(out2, (size_t)n2, false, &r) == 0);
}

static void roundtrip_opts(const struct mpx_tcp_opts *o, uint8_t flags)
{
    struct mpx_tcp_hdr h, g, k;
    uint8_t out1[80], out2[80];
    uint32_t nf1, nf2;
    int n1, n2, space;

    memset(&h, 0, sizeof(h));
    h.flags = flags;
    h.opts = *o;
    space = mpx_tcp_opts_space(o);
    REQ(space >= 0 && space % 4 == 0);
    n1 = mpx_tcp_encode(out1, sizeof(out1), &h, &nf1);
    REQ(n1 >= MPX_TCP_HDR_LEN && n1 <= MPX_TCP_HDR_LEN + MPX_TCP_MAX_OPT_LEN && n1 % 4 == 0);
    REQ(nf1 != 0 || space == n1 - MPX_TCP_HDR_LEN);
    REQ(nf1 == 0 || space > MPX_TCP_MAX_OPT_LEN);
    REQ(mpx_tcp_decode(out1, (size_t)n1, &g) == n1);
    REQ(g.flags == flags);
    check_opts(&g.opts, o, nf1);
    n2 = mpx_tcp_encode(out2, sizeof(out2), &g, &nf2);
    REQ(n2 == n1 && nf2 == 0 && memcmp(out1, out2, (size_t)n1) == 0);
    REQ(mpx_tcp_decode(out2, (size_t)n2, &k) == n2);
}

static void roundtrip_mptcp(const struct mpx_mptcp_opt *m, uint8_t flags)
{
    struct mpx_mptcp_opt m2;
    uint8_t out1[40], out2[40];
    int len = mpx_mptcp_len(m);
    int n1, n2;

    REQ(len >= 3 && len <= MPX_TCP_MAX_OPT_LEN);
    n1 = mpx_mptcp_encode(out1, sizeof(out1), m);
    REQ(n1 == len && out1[0] == MPX_TCPOPT_MPTCP && out1[1] == len);
    /* The encoder checks its buffer: one byte short must not write. */
    REQ(mpx_mptcp_encode(out2, (size_t)len - 1, m) == MPX_ERR_NOBUF);
    REQ(mpx_mptcp_decode(out1, (size_t)n1, flags, &m2) == n1);
    REQ(m2.subtype == m->subtype);
    n2 = mpx_mptcp_encode(out2, sizeof(out2), &m2);
    REQ(n2 == n1 && memcmp(out1, out2, (size_t)n1) == 0);
}

static void fuzz_opts_and_mptcp(const uint8_t *data, size_t size)
{
    uint8_t opt[MPX_TCP_MAX_OPT_LEN];
    size_t olen = size < sizeof(opt) ? size : sizeof(opt);

    memcpy(opt, data, olen);
    for (size_t i = 0; i < sizeof(flag_sets); i++) {
        struct mpx_tcp_opts o;
        struct mpx_mptcp_opt m;
        if (mpx_tcp_opts_decode(opt, olen, flag_sets[i], &o) == 0)
            roundtrip_opts(&o, flag_sets[i]);
        if (olen == 0)
            continue;
        if (mpx_mptcp_decode(data, size, flag_sets[i], &m) > 0)
            roundtrip_mptcp(&m, flag_sets[i]);
        opt[0] = MPX_TCPOPT_MPTCP;
        if (mpx_mptcp_decode(opt, olen, flag_sets[i], &m) > 0)
            roundtrip_mptcp(&m, flag_sets[i]);
        opt[0] = data[0];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpx_pkt pkt;
    int rc;

    rc = mpx_pkt_decode(data, size, true, &pkt);
    REQ(rc <= 0);
    rc = mpx_pkt_decode(data, size, false, &pkt);
    REQ(rc <= 0);
    if (rc == 0) {
        REQ(pkt.payload >= data && pkt.payload + pkt.payload_len <= data + size);
        roundtrip_pkt(&pkt, size);
    }
    fuzz_opts_and_mptcp(data, size);
    return 0;
}
