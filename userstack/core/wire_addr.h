/*
 * wire_addr.h - IP addresses as the core sees them, and the internet
 * checksum (RFC 1071) with the TCP pseudo-header (RFC 9293 section 3.1,
 * RFC 8200 section 8.1).
 */
#ifndef MPX_WIRE_ADDR_H
#define MPX_WIRE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mpx_af {
    MPX_AF_NONE = 0,
    MPX_AF_INET = 4,
    MPX_AF_INET6 = 6,
};

/* An address in network byte order. For MPX_AF_INET only a[0..3] is used
 * and a[4..15] are zero, so two addresses compare with memcmp. */
struct mpx_addr {
    uint8_t family; /* enum mpx_af */
    uint8_t a[16];
};

static inline size_t mpx_addr_len(const struct mpx_addr *addr)
{
    return addr->family == MPX_AF_INET6 ? 16 : 4;
}

bool mpx_addr_eq(const struct mpx_addr *x, const struct mpx_addr *y);
struct mpx_addr mpx_addr_v4(uint32_t host_order);
/* Text form into |buf| (at least 46 bytes); returns buf. Pure: no libc
 * inet_ntop, so the core stays free of it. */
const char *mpx_addr_fmt(const struct mpx_addr *addr, char *buf, size_t buflen);

/* Ones' complement sum of |len| bytes added to |sum| (32-bit accumulator,
 * not folded). Odd lengths are padded with a zero byte as RFC 1071 says. */
uint32_t mpx_csum_add(uint32_t sum, const uint8_t *p, size_t len);
/* Fold a 32-bit accumulator to 16 bits and complement it. */
uint16_t mpx_csum_fold(uint32_t sum);
/* Sum of the TCP pseudo-header for |src|, |dst|, protocol 6 and |tcp_len|. */
uint32_t mpx_csum_pseudo(const struct mpx_addr *src, const struct mpx_addr *dst, uint8_t proto,
                         uint32_t len);

#endif /* MPX_WIRE_ADDR_H */
