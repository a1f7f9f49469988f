/*
 * wire_icmp.c - ICMP / ICMPv6 error codec (wire_icmp.h).
 *
 * Decode order (each check before any read it guards), pinned by
 * tests/unit/wire_icmp_test.c: outer IP header (mpx_ip_decode) -> payload
 * not ICMP of that family: UNSUPP -> fewer than 8 ICMP bytes: TRUNC ->
 * checksum: CSUM -> a type/code we do not act on: IGNORED -> the quoted IP
 * header: short: TRUNC, bad version/IHL: PROTO, not TCP (or a later
 * fragment): IGNORED -> fewer than 8 quoted TCP bytes: TRUNC.
 */
#include <string.h>

#include "conv.h"
#include "err.h"
#include "wire_icmp.h"
#include "wire_ip.h"

#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAG    44
#define IPV6_NH_DSTOPTS 60
#define IPV4_FRAG_OFF   0x1fff
#define QUOTE_CLAIM     1000 /* payload the quoted header of encode claims */

static int classify4(struct mpx_icmp *out, const uint8_t *m)
{
    switch (out->type) {
    case MPX_ICMP_DEST_UNREACH:
        if (out->code == MPX_ICMP_FRAG_NEEDED) {
            out->kind = MPX_ICMPK_PTB;
            out->mtu = mpx_load_be16(m + 6); /* RFC 1191 section 4 */
        } else {
            out->kind = MPX_ICMPK_UNREACH;
        }
        return 0;
    case MPX_ICMP_TIME_EXCEEDED:
        out->kind = MPX_ICMPK_TIME_EXCEEDED;
        return 0;
    case MPX_ICMP_PARAMETERPROB:
        out->kind = MPX_ICMPK_PARAMPROB;
        return 0;
    default: /* echo, source quench (RFC 6633), redirect ... */
        return MPX_ERR_IGNORED;
    }
}

static int classify6(struct mpx_icmp *out, const uint8_t *m)
{
    switch (out->type) {
    case MPX_ICMPV6_DEST_UNREACH:
        out->kind = MPX_ICMPK_UNREACH;
        return 0;
    case MPX_ICMPV6_PKT_TOOBIG:
        out->kind = MPX_ICMPK_PTB;
        out->mtu = mpx_load_be32(m + 4); /* RFC 4443 section 3.2 */
        return 0;
    case MPX_ICMPV6_TIME_EXCEED:
        out->kind = MPX_ICMPK_TIME_EXCEEDED;
        return 0;
    case MPX_ICMPV6_PARAMPROB:
        out->kind = MPX_ICMPK_PARAMPROB;
        return 0;
    default: /* informational (>= 128) and unknown errors */
        return MPX_ERR_IGNORED;
    }
}

/* The quoted IPv4 header: offset of the TCP header within |q|. Its total
 * length and checksum are not checked: the quote is cut short, and the
 * reporter may have changed the header (TTL) after checksumming. */
static int quote4(const uint8_t *q, size_t qlen, struct mpx_icmp *out)
{
    if (qlen < MPX_IPV4_HDR_LEN)
        return MPX_ERR_TRUNC;
    if (q[0] >> 4 != 4 || (q[0] & 0x0f) < 5)
        return MPX_ERR_PROTO;
    size_t ihl = (size_t)(q[0] & 0x0f) * 4;
    if (ihl > qlen)
        return MPX_ERR_TRUNC;
    if (q[9] != MPX_IPPROTO_TCP || (mpx_load_be16(q + 6) & IPV4_FRAG_OFF))
        return MPX_ERR_IGNORED;
    out->qsrc.family = out->qdst.family = MPX_AF_INET;
    memcpy(out->qsrc.a, q + 12, 4);
    memcpy(out->qdst.a, q + 16, 4);
    return (int)ihl;
}

/* The quoted IPv6 header and extension headers (RFC 8200 section 4), as
 * far as the quote goes; a fragment header with a non-zero offset has no
 * TCP header behind it. */
static int quote6(const uint8_t *q, size_t qlen, struct mpx_icmp *out)
{
    if (qlen < MPX_IPV6_HDR_LEN)
        return MPX_ERR_TRUNC;
    if (q[0] >> 4 != 6)
        return MPX_ERR_PROTO;
    size_t off = MPX_IPV6_HDR_LEN;
    uint8_t nh = q[6];
    for (;;) {
        size_t ext;
        if (nh == MPX_IPPROTO_TCP)
            break;
        if (nh != IPV6_NH_HOPOPTS && nh != IPV6_NH_ROUTING && nh != IPV6_NH_DSTOPTS &&
            nh != IPV6_NH_FRAG)
            return MPX_ERR_IGNORED;
        if (qlen - off < 8)
            return MPX_ERR_TRUNC;
        if (nh == IPV6_NH_FRAG) {
            if (mpx_load_be16(q + off + 2) & 0xfff8)
                return MPX_ERR_IGNORED;
            ext = 8;
        } else {
            ext = ((size_t)q[off + 1] + 1) * 8;
        }
        if (qlen - off < ext)
            return MPX_ERR_TRUNC;
        nh = q[off];
        off += ext;
    }
    out->qsrc.family = out->qdst.family = MPX_AF_INET6;
    memcpy(out->qsrc.a, q + 8, 16);
    memcpy(out->qdst.a, q + 24, 16);
    return (int)off;
}

int mpx_icmp_decode(const uint8_t *p, size_t len, struct mpx_icmp *out)
{
    struct mpx_ip_hdr ip;
    memset(out, 0, sizeof(*out));
    int hl = mpx_ip_decode(p, len, &ip);
    if (hl < 0)
        return hl;
    if (ip.proto != (ip.version == 4 ? MPX_IPPROTO_ICMP : MPX_IPPROTO_ICMPV6))
        return MPX_ERR_UNSUPP;
    const uint8_t *m = p + hl;
    size_t mlen = ip.payload_len;
    if (mlen < MPX_ICMP_HDR_LEN)
        return MPX_ERR_TRUNC;
    /* RFC 792: the sum over the message; RFC 4443 2.3: with the
     * pseudo-header of RFC 8200 8.1 */
    uint32_t sum =
        ip.version == 6 ? mpx_csum_pseudo(&ip.src, &ip.dst, MPX_IPPROTO_ICMPV6, (uint32_t)mlen) : 0;
    if (mpx_csum_fold(mpx_csum_add(sum, m, mlen)) != 0)
        return MPX_ERR_CSUM;
    out->version = ip.version;
    out->type = m[0];
    out->code = m[1];
    out->src = ip.src;
    out->dst = ip.dst;
    int rc = ip.version == 4 ? classify4(out, m) : classify6(out, m);
    if (rc < 0)
        return rc;
    const uint8_t *q = m + MPX_ICMP_HDR_LEN;
    size_t qlen = mlen - MPX_ICMP_HDR_LEN;
    int off = ip.version == 4 ? quote4(q, qlen, out) : quote6(q, qlen, out);
    if (off < 0)
        return off;
    if (qlen - (size_t)off < MPX_ICMP_QUOTE_TCP)
        return MPX_ERR_TRUNC;
    out->sport = mpx_load_be16(q + off);
    out->dport = mpx_load_be16(q + off + 2);
    out->seq = mpx_load_be32(q + off + 4);
    size_t tl = qlen - (size_t)off;
    out->qtcp_len = (uint8_t)(tl > MPX_ICMP_QUOTE_MAX ? MPX_ICMP_QUOTE_MAX : tl);
    return 0;
}

static bool fam_ok(const struct mpx_addr *a, uint8_t version)
{
    return a->family == (version == 4 ? MPX_AF_INET : MPX_AF_INET6);
}

int mpx_icmp_encode(uint8_t *out, size_t cap, const struct mpx_icmp *ic)
{
    uint8_t v = ic->version;
    if ((v != 4 && v != 6) || !fam_ok(&ic->src, v) || !fam_ok(&ic->dst, v) ||
        !fam_ok(&ic->qsrc, v) || !fam_ok(&ic->qdst, v) || ic->qtcp_len < MPX_ICMP_QUOTE_TCP ||
        ic->qtcp_len > MPX_ICMP_QUOTE_MAX)
        return MPX_ERR_INVAL;
    size_t iphl = v == 4 ? MPX_IPV4_HDR_LEN : MPX_IPV6_HDR_LEN;
    size_t mlen = MPX_ICMP_HDR_LEN + iphl + ic->qtcp_len;
    if (cap < iphl + mlen)
        return MPX_ERR_NOBUF;
    struct mpx_ip_hdr h = {.version = v, .ttl = 64, .src = ic->src, .dst = ic->dst};
    h.proto = v == 4 ? MPX_IPPROTO_ICMP : MPX_IPPROTO_ICMPV6;
    int n = mpx_ip_encode(out, cap, &h, (uint16_t)mlen);
    if (n < 0)
        return n;
    uint8_t *m = out + n;
    memset(m, 0, mlen);
    m[0] = ic->type;
    m[1] = ic->code;
    if (v == 4 && ic->type == MPX_ICMP_DEST_UNREACH && ic->code == MPX_ICMP_FRAG_NEEDED)
        mpx_put_be16(m + 6, (uint16_t)ic->mtu);
    else if (v == 6 && ic->type == MPX_ICMPV6_PKT_TOOBIG)
        mpx_put_be32(m + 4, ic->mtu);
    struct mpx_ip_hdr q = {.version = v, .ttl = 64, .df = true, .proto = MPX_IPPROTO_TCP};
    q.src = ic->qsrc;
    q.dst = ic->qdst;
    int qn = mpx_ip_encode(m + MPX_ICMP_HDR_LEN, iphl, &q, QUOTE_CLAIM);
    if (qn < 0)
        return qn;
    uint8_t *t = m + MPX_ICMP_HDR_LEN + qn;
    t = mpx_put_be16(t, ic->sport);
    t = mpx_put_be16(t, ic->dport);
    mpx_put_be32(t, ic->seq);
    uint32_t sum =
        v == 6 ? mpx_csum_pseudo(&ic->src, &ic->dst, MPX_IPPROTO_ICMPV6, (uint32_t)mlen) : 0;
    mpx_put_be16(m + 2, mpx_csum_fold(mpx_csum_add(sum, m, mlen)));
    return (int)(iphl + mlen);
}

/* Linux net/ipv4/icmp.c icmp_err_convert[]: errno and "fatal" per code. */
static const struct {
    int err;
    bool hard;
} unreach4[MPX_ICMP_UNREACH_MAXCODE + 1] = {
    {MPX_ERR_NETUNREACH, false},  /* 0 net unreachable */
    {MPX_ERR_HOSTUNREACH, false}, /* 1 host unreachable */
    {MPX_ERR_NOPROTOOPT, true},   /* 2 protocol unreachable */
    {MPX_ERR_REFUSED, true},      /* 3 port unreachable */
    {0, false},                   /* 4 fragmentation needed: PMTU */
    {MPX_ERR_UNSUPP, false},      /* 5 source route failed */
    {MPX_ERR_NETUNREACH, true},   /* 6 net unknown */
    {MPX_ERR_HOSTDOWN, true},     /* 7 host unknown */
    {MPX_ERR_NONET, true},        /* 8 host isolated */
    {MPX_ERR_NETUNREACH, true},   /* 9 net administratively prohibited */
    {MPX_ERR_HOSTUNREACH, true},  /* 10 host administratively prohibited */
    {MPX_ERR_NETUNREACH, false},  /* 11 net unreachable for TOS */
    {MPX_ERR_HOSTUNREACH, false}, /* 12 host unreachable for TOS */
    {MPX_ERR_HOSTUNREACH, true},  /* 13 communication administratively prohibited */
    {MPX_ERR_HOSTUNREACH, true},  /* 14 host precedence violation */
    {MPX_ERR_HOSTUNREACH, true},  /* 15 precedence cutoff */
};

/* net/ipv6/icmp.c tab_unreach[] */
static const struct {
    int err;
    bool hard;
} unreach6[] = {
    {MPX_ERR_NETUNREACH, false},  /* 0 no route */
    {MPX_ERR_ACCES, true},        /* 1 administratively prohibited */
    {MPX_ERR_HOSTUNREACH, false}, /* 2 beyond scope of source address */
    {MPX_ERR_HOSTUNREACH, false}, /* 3 address unreachable */
    {MPX_ERR_REFUSED, true},      /* 4 port unreachable */
    {MPX_ERR_ACCES, true},        /* 5 source address failed policy */
    {MPX_ERR_ACCES, true},        /* 6 reject route */
};

static int to_err4(const struct mpx_icmp *ic, bool *hard)
{
    switch (ic->kind) {
    case MPX_ICMPK_UNREACH:
        if (ic->code > MPX_ICMP_UNREACH_MAXCODE)
            return 0; /* tcp_v4_err: unknown codes are dropped */
        *hard = unreach4[ic->code].hard;
        return unreach4[ic->code].err;
    case MPX_ICMPK_TIME_EXCEEDED:
        return MPX_ERR_HOSTUNREACH;
    case MPX_ICMPK_PARAMPROB:
        return MPX_ERR_NETPROTO;
    default:
        return 0;
    }
}

static int to_err6(const struct mpx_icmp *ic, bool *hard)
{
    switch (ic->kind) {
    case MPX_ICMPK_UNREACH:
        if (ic->code >= sizeof(unreach6) / sizeof(unreach6[0])) {
            *hard = true;
            return MPX_ERR_NETPROTO;
        }
        *hard = unreach6[ic->code].hard;
        return unreach6[ic->code].err;
    case MPX_ICMPK_TIME_EXCEEDED:
        return MPX_ERR_HOSTUNREACH;
    case MPX_ICMPK_PARAMPROB:
        *hard = true;
        return MPX_ERR_NETPROTO;
    default:
        return 0;
    }
}

int mpx_icmp_to_err(const struct mpx_icmp *ic, bool *hard)
{
    bool h = false;
    int err = ic->version == 6 ? to_err6(ic, &h) : to_err4(ic, &h);
    if (hard)
        *hard = h;
    return err;
}
