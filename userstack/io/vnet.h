/*
 * vnet.h - the virtio_net_hdr that prefixes every packet on a TUN opened
 * with IFF_VNET_HDR (linux/virtio_net.h, the legacy 10-byte form; TUN
 * reads and writes it in little-endian once TUNSETVNETLE is set, which
 * mpx_tun_open does).
 *
 * With TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) the kernel
 *  - accepts from us one TCP "super-segment" of up to 64 KB plus a header
 *    saying gso_type TCPV4/TCPV6 and gso_size (the MSS), and segments it
 *    itself (TSO: one write per 64 KB instead of per 1.5 KB);
 *  - hands us GRO-merged super-segments the same way, and packets whose
 *    TCP checksum is only partial (VIRTIO_NET_HDR_F_NEEDS_CSUM: the field
 *    holds the pseudo-header sum, csum_start/csum_offset say where the sum
 *    starts and where it goes).
 * These helpers are pure (no syscalls) so they are unit-tested without a
 * TUN. The packet-level parsing here is the minimum the header needs (IP
 * version, header lengths); everything else goes through the core codec.
 */
#ifndef MPX_VNET_H
#define MPX_VNET_H

#include <stddef.h>
#include <stdint.h>

#define MPX_VNET_HDR_LEN 10

/* Values of linux/virtio_net.h, restated so the codec needs no kernel
 * header. */
#define MPX_VNET_F_NEEDS_CSUM 0x01
#define MPX_VNET_F_DATA_VALID 0x02
#define MPX_VNET_GSO_NONE     0
#define MPX_VNET_GSO_TCPV4    1
#define MPX_VNET_GSO_UDP      3
#define MPX_VNET_GSO_TCPV6    4
#define MPX_VNET_GSO_UDP_L4   5
#define MPX_VNET_GSO_ECN      0x80

struct mpx_vnet_hdr {
    uint8_t flags;        /* MPX_VNET_F_* */
    uint8_t gso_type;     /* MPX_VNET_GSO_* */
    uint16_t hdr_len;     /* IP + TCP header bytes of each segment */
    uint16_t gso_size;    /* payload bytes per segment (the MSS) */
    uint16_t csum_start;  /* where the partial checksum starts (the TCP header) */
    uint16_t csum_offset; /* where it is stored, from csum_start (16 for TCP) */
};

void mpx_vnet_hdr_encode(uint8_t out[MPX_VNET_HDR_LEN], const struct mpx_vnet_hdr *h);
void mpx_vnet_hdr_decode(const uint8_t in[MPX_VNET_HDR_LEN], struct mpx_vnet_hdr *h);

/*
 * mpx_vnet_tso_prepare turns a complete IPv4/IPv6 TCP packet |pkt| (|len|
 * bytes, checksums as mpx_pkt_encode writes them, no IPv6 extension
 * headers) into what the kernel expects with offloads: it fills |h| (GSO
 * TCPV4/TCPV6 with gso_size |mss| when the payload exceeds |mss|, else
 * GSO_NONE; NEEDS_CSUM always) and replaces the TCP checksum by the
 * pseudo-header sum the kernel completes per segment (Linux
 * __tcp_v4_send_check: ~tcp_v4_check(len, saddr, daddr, 0)).
 * Returns 0, or -EINVAL for a packet it cannot describe.
 */
int mpx_vnet_tso_prepare(uint8_t *pkt, size_t len, uint16_t mss, struct mpx_vnet_hdr *h);

/*
 * mpx_vnet_csum_complete finishes a partial checksum (NEEDS_CSUM) of a
 * received packet in place, so that the core can verify it like any other.
 * A header without NEEDS_CSUM leaves the packet untouched. Returns 0 or
 * -EINVAL when csum_start/csum_offset point outside the packet.
 */
int mpx_vnet_csum_complete(uint8_t *pkt, size_t len, const struct mpx_vnet_hdr *h);

#endif /* MPX_VNET_H */
