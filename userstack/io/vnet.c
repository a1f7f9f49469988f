/*
 * vnet.c - see vnet.h.
 */
#include "vnet.h"

#include <errno.h>
#include <string.h>

#include "conv.h"
#include "wire_addr.h"

#define TCP_CSUM_OFF 16

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

void mpx_vnet_hdr_encode(uint8_t out[MPX_VNET_HDR_LEN], const struct mpx_vnet_hdr *h)
{
    out[0] = h->flags;
    out[1] = h->gso_type;
    put_le16(out + 2, h->hdr_len);
    put_le16(out + 4, h->gso_size);
    put_le16(out + 6, h->csum_start);
    put_le16(out + 8, h->csum_offset);
}

void mpx_vnet_hdr_decode(const uint8_t in[MPX_VNET_HDR_LEN], struct mpx_vnet_hdr *h)
{
    h->flags = in[0];
    h->gso_type = in[1];
    h->hdr_len = get_le16(in + 2);
    h->gso_size = get_le16(in + 4);
    h->csum_start = get_le16(in + 6);
    h->csum_offset = get_le16(in + 8);
}

/* IP header length, addresses and TCP length of |pkt|; 0 or -EINVAL. */
static int parse_ip(const uint8_t *pkt, size_t len, size_t *iphl, struct mpx_addr *src,
                    struct mpx_addr *dst)
{
    memset(src, 0, sizeof(*src));
    memset(dst, 0, sizeof(*dst));
    if (len < 20)
        return -EINVAL;
    if (pkt[0] >> 4 == 4) {
        *iphl = (size_t)(pkt[0] & 0x0f) * 4;
        if (*iphl < 20 || pkt[9] != 6 || mpx_load_be16(pkt + 2) != len)
            return -EINVAL;
        src->family = dst->family = MPX_AF_INET;
        memcpy(src->a, pkt + 12, 4);
        memcpy(dst->a, pkt + 16, 4);
        return 0;
    }
    if (pkt[0] >> 4 == 6) {
        /* No extension headers: the engine never sends any. */
        *iphl = 40;
        if (len < 40 || pkt[6] != 6 || (size_t)mpx_load_be16(pkt + 4) + 40 != len)
            return -EINVAL;
        src->family = dst->family = MPX_AF_INET6;
        memcpy(src->a, pkt + 8, 16);
        memcpy(dst->a, pkt + 24, 16);
        return 0;
    }
    return -EINVAL;
}

int mpx_vnet_tso_prepare(uint8_t *pkt, size_t len, uint16_t mss, struct mpx_vnet_hdr *h)
{
    struct mpx_addr src, dst;
    size_t iphl;

    if (parse_ip(pkt, len, &iphl, &src, &dst) < 0 || len < iphl + 20)
        return -EINVAL;
    size_t thl = (size_t)(pkt[iphl + 12] >> 4) * 4;
    if (thl < 20 || len < iphl + thl || mss == 0)
        return -EINVAL;
    size_t tcp_len = len - iphl;

    memset(h, 0, sizeof(*h));
    h->flags = MPX_VNET_F_NEEDS_CSUM;
    h->hdr_len = (uint16_t)(iphl + thl);
    h->csum_start = (uint16_t)iphl;
    h->csum_offset = TCP_CSUM_OFF;
    if (len - iphl - thl > mss) {
        h->gso_type = src.family == MPX_AF_INET ? MPX_VNET_GSO_TCPV4 : MPX_VNET_GSO_TCPV6;
        h->gso_size = mss;
    }
    /* The pseudo-header sum, folded but not complemented: the kernel adds
     * the rest per segment (and adjusts the length part when segmenting). */
    uint16_t pseudo = (uint16_t)~mpx_csum_fold(mpx_csum_pseudo(&src, &dst, 6, (uint32_t)tcp_len));
    mpx_put_be16(pkt + iphl + TCP_CSUM_OFF, pseudo);
    return 0;
}

int mpx_vnet_csum_complete(uint8_t *pkt, size_t len, const struct mpx_vnet_hdr *h)
{
    if (!(h->flags & MPX_VNET_F_NEEDS_CSUM))
        return 0;
    size_t start = h->csum_start, off = h->csum_offset;
    if (start >= len || off + 2 > len - start)
        return -EINVAL;
    /* The field already holds the pseudo-header sum; summing from
     * csum_start over it and the rest gives the final checksum. */
    mpx_put_be16(pkt + start + off, mpx_csum_fold(mpx_csum_add(0, pkt + start, len - start)));
    return 0;
}
