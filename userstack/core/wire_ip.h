/*
 * wire_ip.h - IPv4 (RFC 791) and IPv6 (RFC 8200) headers.
 *
 * We carry TCP only. Decoding checks version, lengths and (IPv4) the header
 * checksum; IPv4 options and the IPv6 extension headers hop-by-hop,
 * routing and destination options are skipped; fragments are reported as
 * MPX_ERR_FRAG (the engine does not reassemble: DF is always set on what it
 * sends and the MSS is clamped to the path).
 */
#ifndef MPX_WIRE_IP_H
#define MPX_WIRE_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_addr.h"

#define MPX_IPPROTO_TCP  6
#define MPX_IPV4_HDR_LEN 20
#define MPX_IPV6_HDR_LEN 40

struct mpx_ip_hdr {
    uint8_t version;     /* 4 or 6 */
    uint8_t tos;         /* IPv4 TOS / IPv6 traffic class */
    uint8_t ttl;         /* IPv4 TTL / IPv6 hop limit */
    uint8_t proto;       /* IPv4 protocol / IPv6 upper-layer next header */
    uint16_t id;         /* IPv4 identification */
    bool df;             /* IPv4 don't fragment */
    uint32_t flow_label; /* IPv6 */
    struct mpx_addr src, dst;
    uint16_t hdr_len;     /* bytes up to the upper-layer header (with options/ext) */
    uint16_t payload_len; /* bytes of upper-layer data after hdr_len */
};

/*
 * mpx_ip_decode decodes the IP header at |p| (|len| bytes, the whole
 * packet). Returns hdr_len on success; MPX_ERR_TRUNC when the packet is
 * shorter than its headers or total length say (trailing bytes beyond the
 * total length are allowed and ignored, as Ethernet padding), MPX_ERR_PROTO
 * for a bad version/IHL/extension chain, MPX_ERR_CSUM for a bad IPv4 header
 * checksum, MPX_ERR_FRAG for a fragment.
 */
int mpx_ip_decode(const uint8_t *p, size_t len, struct mpx_ip_hdr *out);

/* Header length mpx_ip_encode writes for |h| (20 or 40: no options). */
int mpx_ip_hdr_len(const struct mpx_ip_hdr *h);

/*
 * mpx_ip_encode writes a header without options for |h| with the given
 * payload length (h->payload_len is ignored), computing the IPv4 header
 * checksum. Returns bytes written or MPX_ERR_NOBUF / MPX_ERR_INVAL.
 */
int mpx_ip_encode(uint8_t *out, size_t outlen, const struct mpx_ip_hdr *h, uint16_t payload_len);

#endif /* MPX_WIRE_IP_H */
