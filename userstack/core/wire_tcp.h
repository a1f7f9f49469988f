/*
 * wire_tcp.h - TCP header (RFC 9293 section 3.1) and its options: MSS,
 * window scale, timestamps (RFC 7323), SACK-permitted and SACK blocks
 * (RFC 2018), NOP/EOL, and MPTCP (kind 30, decoded by wire_mptcp).
 *
 * Output is two-phase, like Linux: mpx_tcp_opts_space() says how many
 * bytes (aligned to 4) a set of options needs, so the TCP and MPTCP layers
 * can budget the 40 bytes; mpx_tcp_encode() then writes, never past 40
 * bytes of options, and reports in a mask what did not fit.
 */
#ifndef MPX_WIRE_TCP_H
#define MPX_WIRE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_addr.h"
#include "wire_ip.h"
#include "wire_mptcp.h"

#define MPX_TCP_HDR_LEN     20
#define MPX_TCP_MAX_OPT_LEN 40

/* Flags byte (byte 13). */
#define MPX_TH_FIN 0x01
#define MPX_TH_SYN 0x02
#define MPX_TH_RST 0x04
#define MPX_TH_PSH 0x08
#define MPX_TH_ACK 0x10
#define MPX_TH_URG 0x20
#define MPX_TH_ECE 0x40
#define MPX_TH_CWR 0x80

/* Option kinds and lengths. */
#define MPX_TCPOPT_EOL        0
#define MPX_TCPOPT_NOP        1
#define MPX_TCPOPT_MSS        2
#define MPX_TCPOPT_WSCALE     3
#define MPX_TCPOPT_SACK_PERM  4
#define MPX_TCPOPT_SACK       5
#define MPX_TCPOPT_TS         8
#define MPX_TCPOLEN_MSS       4
#define MPX_TCPOLEN_WSCALE    3
#define MPX_TCPOLEN_SACK_PERM 2
#define MPX_TCPOLEN_TS        10
#define MPX_TCP_MAX_WSCALE    14 /* RFC 7323 section 2.3 */
#define MPX_TCP_MAX_SACK      4
/* Most MPTCP options one segment can carry: 40 bytes / 3 (MP_PRIO) is 13,
 * but no sender needs more than a few; extras are counted and dropped. */
#define MPX_TCP_MAX_MPTCP 6

/* Presence bits of struct mpx_tcp_opts, also the "did not fit" mask of
 * mpx_tcp_encode(); MPTCP option i is bit MPX_TCPO_MPTCP0 << i. */
#define MPX_TCPO_MSS       0x01u
#define MPX_TCPO_WSCALE    0x02u
#define MPX_TCPO_SACK_PERM 0x04u
#define MPX_TCPO_TS        0x08u
#define MPX_TCPO_SACK      0x10u
#define MPX_TCPO_MPTCP0    0x100u

struct mpx_sack_block {
    uint32_t left, right; /* [left, right) in sequence space */
};

struct mpx_tcp_opts {
    uint32_t present; /* MPX_TCPO_* (MPTCP options: see n_mptcp) */
    uint16_t mss;
    uint8_t wscale; /* as received; the user clamps to 14 */
    uint32_t ts_val, ts_ecr;
    uint8_t n_sack;
    struct mpx_sack_block sack[MPX_TCP_MAX_SACK];
    uint8_t n_mptcp;
    struct mpx_mptcp_opt mptcp[MPX_TCP_MAX_MPTCP];
    /* Decode outcomes, for the caller's counters (never set by encode). */
    uint8_t n_bad;           /* malformed options skipped (bad length etc.) */
    uint8_t n_mptcp_bad;     /* MPTCP options rejected by wire_mptcp (PROTO) */
    uint8_t n_mptcp_ignored; /* MPTCP options ignored by rule (IGNORED) */
    uint8_t n_mptcp_dropped; /* valid MPTCP options beyond MPX_TCP_MAX_MPTCP */
    uint8_t n_unknown;       /* unknown TCP option kinds skipped */
};

struct mpx_tcp_hdr {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags; /* MPX_TH_* */
    uint16_t win;  /* raw (unscaled) window field */
    uint16_t csum;
    uint16_t urg;
    uint8_t doff; /* header length in bytes, with options */
    struct mpx_tcp_opts opts;
};

/*
 * mpx_tcp_opts_decode parses the option area |p|/|len| (len <= 40) of a
 * segment with flags |tcp_flags|. Malformed options are skipped and counted
 * in the n_* fields; it fails only when the framing itself is broken
 * (an option whose length byte is < 2 or runs past |len|: MPX_ERR_PROTO,
 * as Linux tcp_parse_options stops there). Options after EOL are ignored.
 */
int mpx_tcp_opts_decode(const uint8_t *p, size_t len, uint8_t tcp_flags, struct mpx_tcp_opts *out);

/* Bytes that mpx_tcp_encode would use for |o|'s options, aligned to 4,
 * whether or not that exceeds 40 (the caller budgets with it). */
int mpx_tcp_opts_space(const struct mpx_tcp_opts *o);

/*
 * mpx_tcp_decode decodes the TCP header at |p| (|len| bytes: header and
 * payload). Returns the header length (doff) on success; MPX_ERR_TRUNC or
 * MPX_ERR_PROTO (doff < 20 or option framing broken). Does not verify the
 * checksum: see mpx_tcp_csum_verify.
 */
int mpx_tcp_decode(const uint8_t *p, size_t len, struct mpx_tcp_hdr *out);

/*
 * mpx_tcp_encode writes the header and options of |h| (h->doff and h->csum
 * are computed, not read; the checksum field is written as 0). Options go
 * in a fixed order (MSS, SACK-permitted+timestamps, window scale, SACK,
 * MPTCP), padded with NOPs to 4-byte alignment the way Linux lays them out.
 * An option that would take the option area past 40 bytes is left out and
 * its bit set in |*not_fit| (may be NULL). Returns header bytes written, or
 * MPX_ERR_NOBUF / MPX_ERR_INVAL.
 */
int mpx_tcp_encode(uint8_t *out, size_t outlen, const struct mpx_tcp_hdr *h, uint32_t *not_fit);

/* Fill in the checksum of the TCP segment |seg| (header + payload, |len|
 * bytes) sent from |src| to |dst|. */
void mpx_tcp_csum_fill(uint8_t *seg, size_t len, const struct mpx_addr *src,
                       const struct mpx_addr *dst);
/* Only the pseudo-header sum, folded, not complemented, in the checksum
 * field: what a checksum offload (virtio NEEDS_CSUM, csum_start at the TCP
 * header, csum_offset 16) completes over the segment (Linux
 * __tcp_v4_send_check). */
void mpx_tcp_csum_partial(uint8_t *seg, size_t len, const struct mpx_addr *src,
                          const struct mpx_addr *dst);
/* True when the checksum of the received segment is correct. */
bool mpx_tcp_csum_verify(const uint8_t *seg, size_t len, const struct mpx_addr *src,
                         const struct mpx_addr *dst);

/* A whole IP packet carrying TCP. */
struct mpx_pkt {
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr tcp;
    const uint8_t *payload; /* borrowed from the decoded buffer */
    size_t payload_len;
};

/*
 * mpx_pkt_decode decodes IP + TCP, verifying both checksums unless
 * |verify_csum| is false (TUN with offloads may hand us packets with a
 * partial checksum). Returns 0 or the first error of mpx_ip_decode /
 * mpx_tcp_decode, MPX_ERR_UNSUPP if the IP payload is not TCP, MPX_ERR_CSUM.
 */
int mpx_pkt_decode(const uint8_t *p, size_t len, bool verify_csum, struct mpx_pkt *out);

/*
 * mpx_pkt_encode writes IP header, TCP header and |payload| into |out| and
 * fills both checksums. Returns the packet length or a negative error;
 * |not_fit| as for mpx_tcp_encode.
 */
int mpx_pkt_encode(uint8_t *out, size_t outlen, const struct mpx_ip_hdr *ip,
                   const struct mpx_tcp_hdr *tcp, const uint8_t *payload, size_t payload_len,
                   uint32_t *not_fit);

#endif /* MPX_WIRE_TCP_H */
