/*
 * fuzz_icmp.c - libFuzzer target for the ICMP / ICMPv6 error codec
 * (wire_icmp). Every input is decoded as an IP packet; what decodes is
 * encoded again and must decode to the same fields (round trip), and
 * mpx_icmp_to_err must give an error code or 0. Violations trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "wire_icmp.h"

#define REQ(cond)                                                                                  \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpx_icmp ic, again;
    uint8_t out[256];
    int rc = mpx_icmp_decode(data, size, &ic);
    if (rc < 0) {
        REQ(rc == MPX_ERR_TRUNC || rc == MPX_ERR_PROTO || rc == MPX_ERR_CSUM ||
            rc == MPX_ERR_FRAG || rc == MPX_ERR_UNSUPP || rc == MPX_ERR_IGNORED);
        return 0;
    }
    REQ(ic.qtcp_len >= MPX_ICMP_QUOTE_TCP && ic.qtcp_len <= MPX_ICMP_QUOTE_MAX);
    bool hard;
    int err = mpx_icmp_to_err(&ic, &hard);
    REQ(err <= 0);
    int n = mpx_icmp_encode(out, sizeof(out), &ic);
    REQ(n > 0);
    REQ(mpx_icmp_decode(out, (size_t)n, &again) == 0);
    REQ(again.version == ic.version && again.type == ic.type && again.code == ic.code);
    REQ(again.kind == ic.kind && again.mtu == ic.mtu && again.seq == ic.seq);
    REQ(again.sport == ic.sport && again.dport == ic.dport && again.qtcp_len == ic.qtcp_len);
    REQ(mpx_addr_eq(&again.src, &ic.src) && mpx_addr_eq(&again.dst, &ic.dst));
    REQ(mpx_addr_eq(&again.qsrc, &ic.qsrc) && mpx_addr_eq(&again.qdst, &ic.qdst));
    return 0;
}
