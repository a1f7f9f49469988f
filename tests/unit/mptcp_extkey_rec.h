/*
 * mptcp_extkey_rec.h - test helper for the external-key tests: a log of
 * every MPTCP option a host put on the wire (raw length and bytes 2-3 plus
 * the decoded form), with the packet's addresses, ports, TCP flags and
 * sequence numbers, as an on-path observer would record them.
 */
#ifndef MPX_MPTCP_EXTKEY_REC_H
#define MPX_MPTCP_EXTKEY_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_tcp.h"

#define XK_MAXREC 4096

struct xk_rec {
    int from;         /* 0 client, 1 server */
    uint64_t t;       /* virtual time */
    uint8_t tcpflags; /* MPX_TH_* */
    uint8_t len;      /* option length byte */
    uint8_t sub;      /* subtype */
    uint8_t b2, b3;   /* raw bytes 2 and 3 of the option */
    struct mpx_addr src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint32_t payload_len;
    struct mpx_mptcp_opt o; /* decoded */
};

#define XK_LASTDSS 16

struct xk_log {
    struct xk_rec rec[XK_MAXREC];
    int n;
    uint64_t pkts;                      /* every packet seen */
    bool skip_dss;                      /* long transfers: DSS only in last_dss[] */
    struct xk_rec last_dss[XK_LASTDSS]; /* latest DSS per (from, ports) */
    int n_last;
};

/* Records the MPTCP options of one IPv4/IPv6 packet. */
void xk_record(struct xk_log *log, int from, const uint8_t *pkt, size_t len, uint64_t t);
/* The k-th record from |from| (-1 = any) with subtype |sub| (and TCP
 * flags SYN/ACK bits equal to |synack| unless it is -1), or NULL. */
const struct xk_rec *xk_find(const struct xk_log *log, int from, int sub, int synack, int k);
int xk_count(const struct xk_log *log, int from, int sub);
/* The latest DSS host |from| sent from port |sport| to |dport|, or NULL. */
const struct xk_rec *xk_last_dss(const struct xk_log *log, int from, uint16_t sport,
                                 uint16_t dport);
/* True if some MP_CAPABLE host |from| (-1 any) sent carried a 64-bit
 * RFC 8684 key (the forms without E of 12 bytes or more: SYN/ACK, third
 * ACK, ACK with data). */
bool xk_key_on_wire(const struct xk_log *log, int from);

#endif /* MPX_MPTCP_EXTKEY_REC_H */
