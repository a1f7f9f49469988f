/*
 * wire_ip.c - IPv4 (RFC 791) and IPv6 (RFC 8200) header codec.
 *
 * Decode order (each check before any read it guards), so that outcomes are
 * stable and pinned by tests/unit/wire_ip_test.c:
 *   IPv4: empty -> TRUNC; version -> PROTO; < 20 bytes -> TRUNC; IHL < 5 ->
 *         PROTO; IHL past buffer -> TRUNC; total length < IHL -> PROTO;
 *         total length past buffer -> TRUNC; header checksum -> CSUM;
 *         MF or fragment offset -> FRAG.
 *   IPv6: < 40 bytes -> TRUNC; payload length past buffer -> TRUNC; then
 *         the extension chain inside the payload length: an extension
 *         header that runs past it, or hop-by-hop anywhere but first
 *         (RFC 8200 section 4.1), -> PROTO; fragment header -> FRAG.
 */
#include <string.h>

#include "conv.h"
#include "err.h"
#include "wire_ip.h"

#define IPV4_F_DF       0x4000
#define IPV4_F_MF       0x2000
#define IPV4_FRAG_MASK  0x1fff
#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAG    44
#define IPV6_NH_DSTOPTS 60
#define IPV6_MAX_FLOW   0xfffffu

static int ipv4_decode(const uint8_t *p, size_t len, struct mpx_ip_hdr *out)
{
    size_t ihl, tot;
    uint16_t frag;

    if (len < MPX_IPV4_HDR_LEN)
        return MPX_ERR_TRUNC;
    ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < MPX_IPV4_HDR_LEN)
        return MPX_ERR_PROTO;
    if (ihl > len)
        return MPX_ERR_TRUNC;
    tot = mpx_load_be16(p + 2);
    if (tot < ihl)
        return MPX_ERR_PROTO;
    if (tot > len)
        return MPX_ERR_TRUNC;
    /* A correct header, checksum field included, sums to 0xffff. */
    if (mpx_csum_fold(mpx_csum_add(0, p, ihl)) != 0)
        return MPX_ERR_CSUM;
    frag = mpx_load_be16(p + 6);
    if (frag & (IPV4_F_MF | IPV4_FRAG_MASK))
        return MPX_ERR_FRAG;

    out->version = 4;
    out->tos = p[1];
    out->id = mpx_load_be16(p + 4);
    out->df = (frag & IPV4_F_DF) != 0;
    out->ttl = p[8];
    out->proto = p[9];
    out->src.family = MPX_AF_INET;
    out->dst.family = MPX_AF_INET;
    memcpy(out->src.a, p + 12, 4);
    memcpy(out->dst.a, p + 16, 4);
    out->hdr_len = (uint16_t)ihl;
    out->payload_len = (uint16_t)(tot - ihl);
    return (int)ihl;
}

/*
 * Walks the extension headers from offset 40 up to |end|. Returns the
 * offset of the upper-layer header and sets |*nh| to its protocol, or an
 * error. Every extension header we skip has the RFC 8200 section 4.2
 * generic shape {next header, length in 8-octet units not counting the
 * first 8}, so one bounds check serves all three.
 */
static int ipv6_skip_ext(const uint8_t *p, size_t end, uint8_t *nh)
{
    size_t off = MPX_IPV6_HDR_LEN;
    for (;;) {
        size_t ext_len;
        switch (*nh) {
        case IPV6_NH_HOPOPTS:
            if (off != MPX_IPV6_HDR_LEN)
                return MPX_ERR_PROTO;
            break;
        case IPV6_NH_ROUTING:
        case IPV6_NH_DSTOPTS:
            break;
        case IPV6_NH_FRAG:
            return MPX_ERR_FRAG;
        default:
            return off > UINT16_MAX ? MPX_ERR_PROTO : (int)off;
        }
        if (end - off < 8)
            return MPX_ERR_PROTO;
        ext_len = ((size_t)p[off + 1] + 1) * 8;
        if (end - off < ext_len)
            return MPX_ERR_PROTO;
        *nh = p[off];
        off += ext_len;
    }
}

static int ipv6_decode(const uint8_t *p, size_t len, struct mpx_ip_hdr *out)
{
    size_t end;
    uint8_t nh;
    int off;

    if (len < MPX_IPV6_HDR_LEN)
        return MPX_ERR_TRUNC;
    end = MPX_IPV6_HDR_LEN + (size_t)mpx_load_be16(p + 4);
    if (end > len)
        return MPX_ERR_TRUNC;
    nh = p[6];
    off = ipv6_skip_ext(p, end, &nh);
    if (off < 0)
        return off;

    out->version = 6;
    out->tos = (uint8_t)(mpx_load_be16(p) >> 4);
    out->flow_label = mpx_load_be32(p) & IPV6_MAX_FLOW;
    out->ttl = p[7];
    out->proto = nh;
    out->src.family = MPX_AF_INET6;
    out->dst.family = MPX_AF_INET6;
    memcpy(out->src.a, p + 8, 16);
    memcpy(out->dst.a, p + 24, 16);
    out->hdr_len = (uint16_t)off;
    out->payload_len = (uint16_t)(end - (size_t)off);
    return off;
}

int mpx_ip_decode(const uint8_t *p, size_t len, struct mpx_ip_hdr *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 1)
        return MPX_ERR_TRUNC;
    switch (p[0] >> 4) {
    case 4:
        return ipv4_decode(p, len, out);
    case 6:
        return ipv6_decode(p, len, out);
    default:
        return MPX_ERR_PROTO;
    }
}

int mpx_ip_hdr_len(const struct mpx_ip_hdr *h)
{
    switch (h->version) {
    case 4:
        return MPX_IPV4_HDR_LEN;
    case 6:
        return MPX_IPV6_HDR_LEN;
    default:
        return MPX_ERR_INVAL;
    }
}

static int ipv4_encode(uint8_t *out, const struct mpx_ip_hdr *h, uint16_t payload_len)
{
    uint8_t *q = out;
    if (h->src.family != MPX_AF_INET || h->dst.family != MPX_AF_INET ||
        payload_len > UINT16_MAX - MPX_IPV4_HDR_LEN)
        return MPX_ERR_INVAL;
    q = mpx_put_u8(q, 0x45);
    q = mpx_put_u8(q, h->tos);
    q = mpx_put_be16(q, (uint16_t)(MPX_IPV4_HDR_LEN + payload_len));
    q = mpx_put_be16(q, h->id);
    q = mpx_put_be16(q, h->df ? IPV4_F_DF : 0);
    q = mpx_put_u8(q, h->ttl);
    q = mpx_put_u8(q, h->proto);
    q = mpx_put_be16(q, 0);
    q = mpx_put_bytes(q, h->src.a, 4);
    mpx_put_bytes(q, h->dst.a, 4);
    mpx_put_be16(out + 10, mpx_csum_fold(mpx_csum_add(0, out, MPX_IPV4_HDR_LEN)));
    return MPX_IPV4_HDR_LEN;
}

static int ipv6_encode(uint8_t *out, const struct mpx_ip_hdr *h, uint16_t payload_len)
{
    uint8_t *q = out;
    if (h->src.family != MPX_AF_INET6 || h->dst.family != MPX_AF_INET6 ||
        h->flow_label > IPV6_MAX_FLOW)
        return MPX_ERR_INVAL;
    q = mpx_put_be32(q, (uint32_t)6 << 28 | (uint32_t)h->tos << 20 | h->flow_label);
    q = mpx_put_be16(q, payload_len);
    q = mpx_put_u8(q, h->proto);
    q = mpx_put_u8(q, h->ttl);
    q = mpx_put_bytes(q, h->src.a, 16);
    mpx_put_bytes(q, h->dst.a, 16);
    return MPX_IPV6_HDR_LEN;
}

int mpx_ip_encode(uint8_t *out, size_t outlen, const struct mpx_ip_hdr *h, uint16_t payload_len)
{
    int hl = mpx_ip_hdr_len(h);
    if (hl < 0)
        return hl;
    if (outlen < (size_t)hl)
        return MPX_ERR_NOBUF;
    return h->version == 4 ? ipv4_encode(out, h, payload_len) : ipv6_encode(out, h, payload_len);
}
