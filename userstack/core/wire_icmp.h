/*
 * wire_icmp.h - ICMP (RFC 792) and ICMPv6 (RFC 4443) error messages that
 * quote a TCP segment of ours: destination unreachable, fragmentation
 * needed (RFC 1191) / packet too big (RFC 8201), time exceeded, parameter
 * problem.
 *
 * Decoding takes the whole IP packet (outer IP header, ICMP header, the
 * quoted IP header and at least the first 8 bytes of the quoted TCP header:
 * ports and sequence number, all RFC 792 guarantees) and verifies the ICMP
 * checksum. The quoted packet is normally cut short, so its own length
 * fields are not trusted. Informational messages (echo...), source quench
 * and redirects are MPX_ERR_IGNORED, as is an error that quotes anything
 * but TCP.
 *
 * mpx_icmp_to_err() is Linux's icmp_err_convert / icmpv6_err_convert: the
 * error a TCP connection reports for a message.
 */
#ifndef MPX_WIRE_ICMP_H
#define MPX_WIRE_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_addr.h"

#define MPX_IPPROTO_ICMP   1
#define MPX_IPPROTO_ICMPV6 58

/* ICMPv4 types and destination-unreachable codes (RFC 792, RFC 1812). */
#define MPX_ICMP_DEST_UNREACH    3
#define MPX_ICMP_SOURCE_QUENCH   4
#define MPX_ICMP_REDIRECT        5
#define MPX_ICMP_TIME_EXCEEDED   11
#define MPX_ICMP_PARAMETERPROB   12
#define MPX_ICMP_NET_UNREACH     0
#define MPX_ICMP_HOST_UNREACH    1
#define MPX_ICMP_PROT_UNREACH    2
#define MPX_ICMP_PORT_UNREACH    3
#define MPX_ICMP_FRAG_NEEDED     4
#define MPX_ICMP_NET_ANO         9
#define MPX_ICMP_HOST_ANO        10
#define MPX_ICMP_PKT_FILTERED    13
#define MPX_ICMP_UNREACH_MAXCODE 15

/* ICMPv6 types and destination-unreachable codes (RFC 4443). */
#define MPX_ICMPV6_DEST_UNREACH 1
#define MPX_ICMPV6_PKT_TOOBIG   2
#define MPX_ICMPV6_TIME_EXCEED  3
#define MPX_ICMPV6_PARAMPROB    4
#define MPX_ICMPV6_NOROUTE      0
#define MPX_ICMPV6_ADM_PROHIBIT 1
#define MPX_ICMPV6_ADDR_UNREACH 3
#define MPX_ICMPV6_PORT_UNREACH 4
#define MPX_ICMPV6_INFO_MIN     128 /* types >= 128 are informational */

#define MPX_ICMP_HDR_LEN     8    /* type, code, checksum, 4 bytes of "rest" */
#define MPX_ICMP_QUOTE_TCP   8    /* quoted TCP bytes RFC 792 guarantees */
#define MPX_ICMP_QUOTE_MAX   60   /* quoted TCP bytes mpx_icmp_encode writes at most */
#define MPX_ICMP_IPV4_MINMTU 552  /* Linux ip_rt_min_pmtu: PTB floor */
#define MPX_ICMP_IPV6_MINMTU 1280 /* RFC 8200 section 5 */

/* What the engine does with a message. */
enum mpx_icmp_kind {
    MPX_ICMPK_UNREACH = 1, /* destination unreachable (not PTB) */
    MPX_ICMPK_PTB,         /* v4 fragmentation needed / v6 packet too big */
    MPX_ICMPK_TIME_EXCEEDED,
    MPX_ICMPK_PARAMPROB,
};

struct mpx_icmp {
    uint8_t version; /* 4: ICMP, 6: ICMPv6 */
    uint8_t type, code;
    enum mpx_icmp_kind kind;
    uint32_t mtu;             /* PTB: the next-hop MTU as sent (v4: 16 bits) */
    struct mpx_addr src, dst; /* of the ICMP packet: the reporter, and us */
    /* The quoted segment: from us (qsrc:sport) to the peer (qdst:dport). */
    struct mpx_addr qsrc, qdst;
    uint16_t sport, dport;
    uint32_t seq;
    uint8_t qtcp_len; /* quoted TCP bytes present (8.. MPX_ICMP_QUOTE_MAX) */
};

/*
 * mpx_icmp_decode decodes the IP packet |p| (|len| bytes) carrying an ICMP
 * or ICMPv6 error. Returns 0 and fills |out|; MPX_ERR_UNSUPP when the IP
 * payload is not ICMP/ICMPv6; MPX_ERR_IGNORED for a message that is not
 * one of the errors above or quotes no TCP; MPX_ERR_TRUNC when the packet
 * or the quote is too short (quoted IP header plus 8 TCP bytes);
 * MPX_ERR_PROTO for a malformed quote (bad version or IHL, a quoted family
 * other than the outer one); MPX_ERR_CSUM; or the errors of mpx_ip_decode.
 */
int mpx_icmp_decode(const uint8_t *p, size_t len, struct mpx_icmp *out);

/*
 * mpx_icmp_encode writes the IP packet for |ic| (type, code, mtu, outer and
 * quoted addresses, ports, seq; kind is ignored): outer header (TTL 64), ICMP
 * header, a quoted IP header without options and qtcp_len quoted TCP bytes
 * (ports and seq, then zeros), checksums filled. For tests and tools.
 * Returns the length, MPX_ERR_NOBUF, or MPX_ERR_INVAL (families, qtcp_len).
 */
int mpx_icmp_encode(uint8_t *out, size_t cap, const struct mpx_icmp *ic);

/*
 * The error TCP reports for |ic| (Linux tcp_v4_err / tcp_v6_err with
 * icmp_err_convert / icmpv6_err_convert): a negative MPX_ERR_* code, or 0
 * for PTB (not an error: a PMTU update) and for codes Linux ignores
 * (ICMPv4 destination unreachable codes above 15). |*hard| (may be NULL)
 * says whether RFC 1122 4.2.3.9 calls it a hard error (Linux's "fatal").
 */
int mpx_icmp_to_err(const struct mpx_icmp *ic, bool *hard);

#endif /* MPX_WIRE_ICMP_H */
