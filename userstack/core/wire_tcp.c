/*
 * wire_tcp.c - TCP header and option codec (RFC 9293 section 3.1, RFC 7323,
 * RFC 2018), with MPTCP options delegated to wire_mptcp.
 *
 * Decoding follows Linux tcp_parse_options() (net/ipv4/tcp_input.c):
 *  - EOL ends the list; NOP is skipped;
 *  - any other kind needs a length byte >= 2 that stays inside the option
 *    area, else the framing is broken. Linux stops parsing there; we fail
 *    the whole option area with MPX_ERR_PROTO (wire_tcp.h contract), so a
 *    caller never acts on half a list;
 *  - a known option with a wrong length is skipped and counted in n_bad
 *    (Linux silently skips it);
 *  - MSS, window scale and SACK-permitted are read only on SYN segments
 *    (RFC 9293 section 3.7.1, RFC 7323 section 2.2, RFC 2018 section 2);
 *    elsewhere they are ignored without being counted, exactly as Linux
 *    does. An MSS of 0 is ignored too (Linux: "if (in_mss)") but counted
 *    as bad, as it can only come from a broken sender;
 *  - timestamps and SACK blocks are recorded on any segment: whether they
 *    were negotiated is connection state, the caller's business. SACK
 *    lengths must be 2 + 8n with n = 1..4 (10/18/26/34), as Linux's
 *    "(opsize - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_PERBLOCK" check gives
 *    within a 40-byte option area;
 *  - a repeated option overwrites the earlier one (Linux does the same);
 *    MPTCP options are collected in order, up to MPX_TCP_MAX_MPTCP;
 *  - unknown kinds (MD5, TCP-AO, Fast Open, experimental...) are skipped
 *    and counted in n_unknown.
 *
 * Encoding uses Linux tcp_options_write()'s byte layout, every option
 * group 4-byte aligned:
 *     MSS                          02 04 mm mm
 *     SACK-permitted + timestamps  04 02 08 0a <tsval> <tsecr>
 *     timestamps alone             01 01 08 0a <tsval> <tsecr>
 *     SACK-permitted alone         01 01 04 02
 *     window scale                 01 03 03 ws
 *     SACK                         01 01 05 len <blocks>
 *     each MPTCP option            1e len ... then NOPs up to 4-byte
 *                                  alignment (Linux mptcp_write_options()
 *                                  writes the NOPs after the option: MP_PRIO
 *                                  ends "01", MP_CAPABLE 22 and DSS with a
 *                                  mapping but no checksum end "01 01")
 * Budget (which options are left out when 40 bytes do not suffice) follows
 * Linux's allocation order, not the write order: MSS, timestamps,
 * SACK-permitted and window scale first (tcp_syn_options()), then MPTCP
 * options in array order (tcp_established_options() lets MPTCP take its
 * space before SACK; an MPTCP option that does not fit is left out and a
 * later smaller one may still go in), then as many SACK blocks as the rest
 * allows, dropping the last blocks first (the first block is the most
 * recent one, RFC 2018 section 4). MPX_TCPO_SACK is set in the not-fit
 * mask when at least one block was left out.
 */
#include <string.h>

#include "conv.h"
#include "err.h"
#include "wire_ip.h"
#include "wire_tcp.h"

#define SACK_BLOCK_LEN 8
#define ALIGN4(n)      (((n) + 3u) & ~3u)

/* --- decoding ------------------------------------------------------------ */

static void decode_mss(const uint8_t *p, size_t sz, uint8_t flags, struct mpx_tcp_opts *o)
{
    uint16_t mss;
    if (sz != MPX_TCPOLEN_MSS) {
        o->n_bad++;
        return;
    }
    if (!(flags & MPX_TH_SYN))
        return;
    mss = mpx_load_be16(p + 2);
    if (mss == 0) {
        o->n_bad++;
        return;
    }
    o->mss = mss;
    o->present |= MPX_TCPO_MSS;
}

static void decode_sack(const uint8_t *p, size_t sz, struct mpx_tcp_opts *o)
{
    size_t n = (sz - 2) / SACK_BLOCK_LEN;
    if (sz < 2 + SACK_BLOCK_LEN || (sz - 2) % SACK_BLOCK_LEN || n > MPX_TCP_MAX_SACK) {
        o->n_bad++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        o->sack[i].left = mpx_load_be32(p + 2 + i * SACK_BLOCK_LEN);
        o->sack[i].right = mpx_load_be32(p + 6 + i * SACK_BLOCK_LEN);
    }
    o->n_sack = (uint8_t)n;
    o->present |= MPX_TCPO_SACK;
}

static void decode_mptcp(const uint8_t *p, size_t sz, uint8_t flags, struct mpx_tcp_opts *o)
{
    struct mpx_mptcp_opt m;
    /* |sz| bounds the MPTCP decoder to this option's own bytes. */
    int rc = mpx_mptcp_decode(p, sz, flags, &m);
    if (rc == MPX_ERR_IGNORED) {
        o->n_mptcp_ignored++;
    } else if (rc < 0) {
        o->n_mptcp_bad++;
    } else if (o->n_mptcp < MPX_TCP_MAX_MPTCP) {
        o->mptcp[o->n_mptcp++] = m;
    } else {
        o->n_mptcp_dropped++;
    }
}

/* One option of length |sz| >= 2 (framing already checked) at |p|. */
static void decode_one(const uint8_t *p, size_t sz, uint8_t flags, struct mpx_tcp_opts *o)
{
    switch (p[0]) {
    case MPX_TCPOPT_MSS:
        decode_mss(p, sz, flags, o);
        break;
    case MPX_TCPOPT_WSCALE:
        if (sz != MPX_TCPOLEN_WSCALE)
            o->n_bad++;
        else if (flags & MPX_TH_SYN) {
            o->wscale = p[2];
            o->present |= MPX_TCPO_WSCALE;
        }
        break;
    case MPX_TCPOPT_SACK_PERM:
        if (sz != MPX_TCPOLEN_SACK_PERM)
            o->n_bad++;
        else if (flags & MPX_TH_SYN)
            o->present |= MPX_TCPO_SACK_PERM;
        break;
    case MPX_TCPOPT_TS:
        if (sz != MPX_TCPOLEN_TS) {
            o->n_bad++;
            break;
        }
        o->ts_val = mpx_load_be32(p + 2);
        o->ts_ecr = mpx_load_be32(p + 6);
        o->present |= MPX_TCPO_TS;
        break;
    case MPX_TCPOPT_SACK:
        decode_sack(p, sz, o);
        break;
    case MPX_TCPOPT_MPTCP:
        decode_mptcp(p, sz, flags, o);
        break;
    default:
        o->n_unknown++;
        break;
    }
}

int mpx_tcp_opts_decode(const uint8_t *p, size_t len, uint8_t tcp_flags, struct mpx_tcp_opts *out)
{
    size_t i = 0;
    memset(out, 0, sizeof(*out));
    if (len > MPX_TCP_MAX_OPT_LEN)
        return MPX_ERR_INVAL;
    while (i < len) {
        size_t sz;
        if (p[i] == MPX_TCPOPT_EOL)
            break;
        if (p[i] == MPX_TCPOPT_NOP) {
            i++;
            continue;
        }
        /* Linux: "silly options" (length < 2) and partial options end the
         * parse; see the file comment for why we fail instead. */
        sz = len - i < 2 ? 0 : p[i + 1];
        if (sz < 2 || sz > len - i) {
            memset(out, 0, sizeof(*out)); /* no half-decoded list */
            return MPX_ERR_PROTO;
        }
        decode_one(p + i, sz, tcp_flags, out);
        i += sz;
    }
    return 0;
}

int mpx_tcp_decode(const uint8_t *p, size_t len, struct mpx_tcp_hdr *out)
{
    size_t doff;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len < MPX_TCP_HDR_LEN)
        return MPX_ERR_TRUNC;
    doff = (size_t)(p[12] >> 4) * 4;
    if (doff < MPX_TCP_HDR_LEN)
        return MPX_ERR_PROTO;
    if (doff > len)
        return MPX_ERR_TRUNC;
    out->sport = mpx_load_be16(p);
    out->dport = mpx_load_be16(p + 2);
    out->seq = mpx_load_be32(p + 4);
    out->ack = mpx_load_be32(p + 8);
    out->flags = p[13];
    out->win = mpx_load_be16(p + 14);
    out->csum = mpx_load_be16(p + 16);
    out->urg = mpx_load_be16(p + 18);
    out->doff = (uint8_t)doff;
    rc = mpx_tcp_opts_decode(p + MPX_TCP_HDR_LEN, doff - MPX_TCP_HDR_LEN, out->flags, &out->opts);
    return rc < 0 ? rc : (int)doff;
}

/* --- encoding -------------------------------------------------------------- */

/* What mpx_tcp_encode writes, decided before any byte is written. */
struct layout {
    bool mss, ts, sack_perm, ws;
    uint8_t n_sack;
    uint8_t mptcp_len[MPX_TCP_MAX_MPTCP]; /* option length; 0 = left out */
    size_t total;                         /* bytes, multiple of 4 */
    uint32_t not_fit;
};

/* Takes |need| bytes from the budget if they fit; else marks |bit|. */
static bool take(struct layout *l, size_t budget, size_t need, uint32_t bit)
{
    if (l->total + need > budget) {
        l->not_fit |= bit;
        return false;
    }
    l->total += need;
    return true;
}

static int plan_mptcp(const struct mpx_tcp_opts *o, size_t budget, struct layout *l)
{
    if (o->n_mptcp > MPX_TCP_MAX_MPTCP)
        return MPX_ERR_INVAL;
    for (unsigned i = 0; i < o->n_mptcp; i++) {
        int n = mpx_mptcp_len(&o->mptcp[i]);
        if (n < 0)
            return n;
        if (n < 2 || n > MPX_TCP_MAX_OPT_LEN)
            return MPX_ERR_INVAL;
        if (take(l, budget, ALIGN4((size_t)n), MPX_TCPO_MPTCP0 << i))
            l->mptcp_len[i] = (uint8_t)n;
    }
    return 0;
}

static int plan(const struct mpx_tcp_opts *o, size_t budget, struct layout *l)
{
    uint32_t pr = o->present;
    int rc;

    memset(l, 0, sizeof(*l));
    if ((pr & MPX_TCPO_SACK) && (o->n_sack == 0 || o->n_sack > MPX_TCP_MAX_SACK))
        return MPX_ERR_INVAL;
    if (pr & MPX_TCPO_MSS)
        l->mss = take(l, budget, 4, MPX_TCPO_MSS);
    if (pr & MPX_TCPO_TS)
        l->ts = take(l, budget, 12, MPX_TCPO_TS);
    /* SACK-permitted rides in the timestamp word when both are sent. */
    if (pr & MPX_TCPO_SACK_PERM)
        l->sack_perm = l->ts || take(l, budget, 4, MPX_TCPO_SACK_PERM);
    if (pr & MPX_TCPO_WSCALE)
        l->ws = take(l, budget, 4, MPX_TCPO_WSCALE);
    rc = plan_mptcp(o, budget, l);
    if (rc < 0)
        return rc;
    if (pr & MPX_TCPO_SACK) {
        size_t n = o->n_sack;
        while (n > 0 && l->total + 4 + n * SACK_BLOCK_LEN > budget)
            n--;
        if (n < o->n_sack)
            l->not_fit |= MPX_TCPO_SACK;
        if (n > 0)
            l->total += 4 + n * SACK_BLOCK_LEN;
        l->n_sack = (uint8_t)n;
    }
    return 0;
}

int mpx_tcp_opts_space(const struct mpx_tcp_opts *o)
{
    struct layout l;
    int rc = plan(o, SIZE_MAX, &l);
    return rc < 0 ? rc : (int)l.total;
}

static uint8_t *put_nop_nop(uint8_t *q)
{
    q = mpx_put_u8(q, MPX_TCPOPT_NOP);
    return mpx_put_u8(q, MPX_TCPOPT_NOP);
}

static uint8_t *put_ts(uint8_t *q, const struct mpx_tcp_opts *o, bool with_sack_perm)
{
    if (with_sack_perm) {
        q = mpx_put_u8(q, MPX_TCPOPT_SACK_PERM);
        q = mpx_put_u8(q, MPX_TCPOLEN_SACK_PERM);
    } else {
        q = put_nop_nop(q);
    }
    q = mpx_put_u8(q, MPX_TCPOPT_TS);
    q = mpx_put_u8(q, MPX_TCPOLEN_TS);
    q = mpx_put_be32(q, o->ts_val);
    return mpx_put_be32(q, o->ts_ecr);
}

static uint8_t *put_sack(uint8_t *q, const struct mpx_tcp_opts *o, size_t n)
{
    q = put_nop_nop(q);
    q = mpx_put_u8(q, MPX_TCPOPT_SACK);
    q = mpx_put_u8(q, (uint8_t)(2 + n * SACK_BLOCK_LEN));
    for (size_t i = 0; i < n; i++) {
        q = mpx_put_be32(q, o->sack[i].left);
        q = mpx_put_be32(q, o->sack[i].right);
    }
    return q;
}

/* Writes the planned options at |q|, which has room for l->total bytes. */
static int write_opts(uint8_t *q, const struct mpx_tcp_opts *o, const struct layout *l)
{
    uint8_t *start = q;
    if (l->mss) {
        q = mpx_put_u8(q, MPX_TCPOPT_MSS);
        q = mpx_put_u8(q, MPX_TCPOLEN_MSS);
        q = mpx_put_be16(q, o->mss);
    }
    if (l->ts)
        q = put_ts(q, o, l->sack_perm);
    else if (l->sack_perm) {
        q = put_nop_nop(q);
        q = mpx_put_u8(q, MPX_TCPOPT_SACK_PERM);
        q = mpx_put_u8(q, MPX_TCPOLEN_SACK_PERM);
    }
    if (l->ws) {
        q = mpx_put_u8(q, MPX_TCPOPT_NOP);
        q = mpx_put_u8(q, MPX_TCPOPT_WSCALE);
        q = mpx_put_u8(q, MPX_TCPOLEN_WSCALE);
        q = mpx_put_u8(q, o->wscale);
    }
    if (l->n_sack)
        q = put_sack(q, o, l->n_sack);
    for (unsigned i = 0; i < o->n_mptcp; i++) {
        size_t room = l->total - (size_t)(q - start);
        int n;
        if (!l->mptcp_len[i])
            continue;
        n = mpx_mptcp_encode(q, room, &o->mptcp[i]);
        if (n != l->mptcp_len[i])
            return n < 0 ? n : MPX_ERR_INVAL; /* len and encode disagree */
        q += n;
        for (size_t pad = ALIGN4((size_t)n) - (size_t)n; pad; pad--)
            q = mpx_put_u8(q, MPX_TCPOPT_NOP);
    }
    return (int)(q - start);
}

int mpx_tcp_encode(uint8_t *out, size_t outlen, const struct mpx_tcp_hdr *h, uint32_t *not_fit)
{
    struct layout l;
    size_t hl;
    uint8_t *q = out;
    int rc;

    if (not_fit)
        *not_fit = 0;
    rc = plan(&h->opts, MPX_TCP_MAX_OPT_LEN, &l);
    if (rc < 0)
        return rc;
    hl = MPX_TCP_HDR_LEN + l.total;
    if (outlen < hl)
        return MPX_ERR_NOBUF;
    q = mpx_put_be16(q, h->sport);
    q = mpx_put_be16(q, h->dport);
    q = mpx_put_be32(q, h->seq);
    q = mpx_put_be32(q, h->ack);
    q = mpx_put_u8(q, (uint8_t)((hl / 4) << 4));
    q = mpx_put_u8(q, h->flags);
    q = mpx_put_be16(q, h->win);
    q = mpx_put_be16(q, 0);
    q = mpx_put_be16(q, h->urg);
    rc = write_opts(q, &h->opts, &l);
    if (rc < 0)
        return rc;
    if (not_fit)
        *not_fit = l.not_fit;
    return (int)hl;
}

/* --- checksums and whole packets -------------------------------------- */

static uint32_t seg_sum(const uint8_t *seg, size_t len, const struct mpx_addr *src,
                        const struct mpx_addr *dst)
{
    uint32_t sum = mpx_csum_pseudo(src, dst, MPX_IPPROTO_TCP, (uint32_t)len);
    return mpx_csum_add(sum, seg, len);
}

void mpx_tcp_csum_fill(uint8_t *seg, size_t len, const struct mpx_addr *src,
                       const struct mpx_addr *dst)
{
    if (len < MPX_TCP_HDR_LEN)
        return;
    mpx_put_be16(seg + 16, 0);
    mpx_put_be16(seg + 16, mpx_csum_fold(seg_sum(seg, len, src, dst)));
}

void mpx_tcp_csum_partial(uint8_t *seg, size_t len, const struct mpx_addr *src,
                          const struct mpx_addr *dst)
{
    if (len < MPX_TCP_HDR_LEN)
        return;
    mpx_put_be16(seg + 16, (uint16_t)~mpx_csum_fold(
                               mpx_csum_pseudo(src, dst, MPX_IPPROTO_TCP, (uint32_t)len)));
}

bool mpx_tcp_csum_verify(const uint8_t *seg, size_t len, const struct mpx_addr *src,
                         const struct mpx_addr *dst)
{
    return mpx_csum_fold(seg_sum(seg, len, src, dst)) == 0;
}

int mpx_pkt_decode(const uint8_t *p, size_t len, bool verify_csum, struct mpx_pkt *out)
{
    const uint8_t *seg;
    int hl, rc;

    memset(out, 0, sizeof(*out));
    hl = mpx_ip_decode(p, len, &out->ip);
    if (hl < 0)
        return hl;
    if (out->ip.proto != MPX_IPPROTO_TCP)
        return MPX_ERR_UNSUPP;
    seg = p + hl;
    /* The checksum goes first (when the header is there at all): once any
     * byte is corrupt, option framing errors would only mislead. */
    if (verify_csum && out->ip.payload_len >= MPX_TCP_HDR_LEN &&
        !mpx_tcp_csum_verify(seg, out->ip.payload_len, &out->ip.src, &out->ip.dst))
        return MPX_ERR_CSUM;
    rc = mpx_tcp_decode(seg, out->ip.payload_len, &out->tcp);
    if (rc < 0)
        return rc;
    out->payload = seg + rc;
    out->payload_len = out->ip.payload_len - (size_t)rc;
    return 0;
}

int mpx_pkt_encode(uint8_t *out, size_t outlen, const struct mpx_ip_hdr *ip,
                   const struct mpx_tcp_hdr *tcp, const uint8_t *payload, size_t payload_len,
                   uint32_t *not_fit)
{
    struct mpx_ip_hdr iph = *ip;
    int iphl, thl, rc;
    size_t seg_len;

    if (not_fit)
        *not_fit = 0;
    iphl = mpx_ip_hdr_len(ip);
    if (iphl < 0)
        return iphl;
    if (outlen < (size_t)iphl)
        return MPX_ERR_NOBUF;
    thl = mpx_tcp_encode(out + iphl, outlen - (size_t)iphl, tcp, not_fit);
    if (thl < 0)
        return thl;
    seg_len = (size_t)thl + payload_len;
    if (payload_len > UINT16_MAX || seg_len > (size_t)UINT16_MAX - (ip->version == 4 ? iphl : 0))
        return MPX_ERR_INVAL;
    if (outlen - (size_t)iphl - (size_t)thl < payload_len)
        return MPX_ERR_NOBUF;
    if (payload_len)
        memcpy(out + iphl + thl, payload, payload_len);
    iph.proto = MPX_IPPROTO_TCP;
    rc = mpx_ip_encode(out, (size_t)iphl, &iph, (uint16_t)seg_len);
    if (rc < 0)
        return rc;
    mpx_tcp_csum_fill(out + iphl, seg_len, &iph.src, &iph.dst);
    return iphl + (int)seg_len;
}
