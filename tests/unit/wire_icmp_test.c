/*
 * wire_icmp_test.c - the ICMP / ICMPv6 error codec (wire_icmp.h): vectors
 * built independently (Python struct, RFC 792 / RFC 4443 layouts) decoded
 * and re-encoded byte for byte, quotes with IPv4 options and IPv6
 * extension headers, what is ignored, every truncation, checksum errors,
 * and Linux's errno table (icmp_err_convert / icmpv6_err_convert).
 */
#include <inttypes.h>
#include <string.h>

#include "err.h"
#include "mpx_test.h"
#include "wire_icmp.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 10.X.Y.Z and fd00:1:X::Y, constant (static tables) */
#define A4(x, y, z)                                                                                \
    {                                                                                              \
        .family = MPX_AF_INET, .a = { 10, x, y, z }                                                \
    }
#define A6(x, y)                                                                                   \
    {                                                                                              \
        .family = MPX_AF_INET6, .a = { 0xfd, 0, 0, 1, 0, x, [15] = y }                             \
    }

#define R4    A4(1, 65, 1)
#define US4   A4(1, 1, 2)
#define PEER4 A4(1, 129, 2)
#define R6    A6(0x41, 1)
#define US6   A6(0x01, 2)
#define PEER6 A6(0x81, 2)

struct vec {
    const char *name;
    const char *hex;
    struct mpx_icmp ic;
};

/* Quote of ours: 10.1.1.2:40000 -> 10.1.129.2:80 seq 0x11223344, or
 * [fd00:1:1::2]:40000 -> [fd00:1:81::2]:443 seq 0xfedcba98. */
#define Q4(n)                                                                                      \
    .qsrc = US4, .qdst = PEER4, .sport = 40000, .dport = 80, .seq = 0x11223344, .qtcp_len = n
#define Q6(n)                                                                                      \
    .qsrc = US6, .qdst = PEER6, .sport = 40000, .dport = 443, .seq = 0xfedcba98, .qtcp_len = n

static const struct vec vecs[] = {
    {"v4_host_unreach",
     "4500003800000000400124c10a0141010a01010203011c0800000000450003fc000040004006a0f60a0101020a018"
     "1"
     "029c40005011223344",
     {4, 3, 1, MPX_ICMPK_UNREACH, 0, R4, US4, Q4(8)}},
    {"v4_frag_needed",
     "4500004400000000400124b50a0141010a0101020304168d00000578450003fc000040004006a0f60a0101020a018"
     "1"
     "029c40005011223344000000000000000000000000",
     {4, 3, 4, MPX_ICMPK_PTB, 1400, R4, US4, Q4(20)}},
    {"v4_port_unreach",
     "45000038000000004001e4bf0a0181020a01010203031c0600000000450003fc000040004006a0f60a0101020a018"
     "1"
     "029c40005011223344",
     {4, 3, 3, MPX_ICMPK_UNREACH, 0, PEER4, US4, Q4(8)}},
    {"v4_pkt_filtered",
     "4500003800000000400124c10a0141010a010102030d1bfc00000000450003fc000040004006a0f60a0101020a018"
     "1"
     "029c40005011223344",
     {4, 3, 13, MPX_ICMPK_UNREACH, 0, R4, US4, Q4(8)}},
    {"v4_time_exceeded",
     "4500003800000000400124c10a0141010a0101020b00140900000000450003fc000040004006a0f60a0101020a018"
     "1"
     "029c40005011223344",
     {4, 11, 0, MPX_ICMPK_TIME_EXCEEDED, 0, R4, US4, Q4(8)}},
    {"v6_noroute",
     "6000000000383a40fd000001004100000000000000000001fd0000010001000000000000000000020100482100000"
     "00"
     "06000000003e80640fd000001000100000000000000000002fd0000010081000000000000000000029c4001bbfedc"
     "ba9"
     "8",
     {6, 1, 0, MPX_ICMPK_UNREACH, 0, R6, US6, Q6(8)}},
    {"v6_ptb",
     "6000000000443a40fd000001004100000000000000000001fd0000010001000000000000000000020200421500000"
     "50"
     "06000000003e80640fd000001000100000000000000000002fd0000010081000000000000000000029c4001bbfedc"
     "ba9"
     "8000000000000000000000000",
     {6, 2, 0, MPX_ICMPK_PTB, 1280, R6, US6, Q6(20)}},
    {"v6_adm_prohibited",
     "6000000000383a40fd000001004100000000000000000001fd0000010001000000000000000000020101482000000"
     "00"
     "06000000003e80640fd000001000100000000000000000002fd0000010081000000000000000000029c4001bbfedc"
     "ba9"
     "8",
     {6, 1, 1, MPX_ICMPK_UNREACH, 0, R6, US6, Q6(8)}},
    {"v6_paramprob",
     "6000000000383a40fd000001004100000000000000000001fd0000010001000000000000000000020400452100000"
     "00"
     "06000000003e80640fd000001000100000000000000000002fd0000010081000000000000000000029c4001bbfedc"
     "ba9"
     "8",
     {6, 4, 0, MPX_ICMPK_PARAMPROB, 0, R6, US6, Q6(8)}},
};

static int load(const char *hex, uint8_t *buf, size_t cap)
{
    int n = mpx_test_unhex(hex, buf, cap);
    if (n < 0)
        mpx_test_fail(__FILE__, __LINE__, "bad hex %s", hex);
    return n;
}

static void check_same(const char *name, const struct mpx_icmp *got, const struct mpx_icmp *want)
{
    if (got->version != want->version || got->type != want->type || got->code != want->code ||
        got->kind != want->kind || got->mtu != want->mtu || !mpx_addr_eq(&got->src, &want->src) ||
        !mpx_addr_eq(&got->dst, &want->dst) || !mpx_addr_eq(&got->qsrc, &want->qsrc) ||
        !mpx_addr_eq(&got->qdst, &want->qdst) || got->sport != want->sport ||
        got->dport != want->dport || got->seq != want->seq || got->qtcp_len != want->qtcp_len)
        mpx_test_fail(__FILE__, __LINE__,
                      "%s: got v%u type %u code %u kind %d mtu %" PRIu32
                      " ports %u/%u seq %#" PRIx32 " qlen %u",
                      name, got->version, got->type, got->code, got->kind, got->mtu, got->sport,
                      got->dport, got->seq, got->qtcp_len);
}

MPX_TEST(wire_icmp_decode_vectors)
{
    uint8_t buf[256];
    for (size_t i = 0; i < ARRAY_LEN(vecs); i++) {
        struct mpx_icmp ic;
        int n = load(vecs[i].hex, buf, sizeof(buf));
        int rc = mpx_icmp_decode(buf, (size_t)n, &ic);
        if (rc != 0) {
            mpx_test_fail(__FILE__, __LINE__, "%s: rc %d", vecs[i].name, rc);
            continue;
        }
        check_same(vecs[i].name, &ic, &vecs[i].ic);
    }
}

MPX_TEST(wire_icmp_encode_vectors)
{
    uint8_t want[256], out[256];
    for (size_t i = 0; i < ARRAY_LEN(vecs); i++) {
        int n = load(vecs[i].hex, want, sizeof(want));
        int rc = mpx_icmp_encode(out, sizeof(out), &vecs[i].ic);
        CHECK_INT(rc, n);
        if (rc == n && memcmp(out, want, (size_t)n) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s: encoded %s", vecs[i].name,
                          mpx_test_hex(out, (size_t)n));
        /* too small a buffer, by one byte */
        CHECK_INT(mpx_icmp_encode(out, (size_t)n - 1, &vecs[i].ic), MPX_ERR_NOBUF);
    }
}

MPX_TEST(wire_icmp_encode_rejects_bad_input)
{
    uint8_t out[256];
    struct mpx_icmp ic = vecs[0].ic;
    ic.qtcp_len = MPX_ICMP_QUOTE_TCP - 1;
    CHECK_INT(mpx_icmp_encode(out, sizeof(out), &ic), MPX_ERR_INVAL);
    ic.qtcp_len = MPX_ICMP_QUOTE_MAX + 1;
    CHECK_INT(mpx_icmp_encode(out, sizeof(out), &ic), MPX_ERR_INVAL);
    ic = vecs[0].ic;
    ic.qdst = (struct mpx_addr)PEER6; /* mixed families */
    CHECK_INT(mpx_icmp_encode(out, sizeof(out), &ic), MPX_ERR_INVAL);
    ic = vecs[0].ic;
    ic.version = 5;
    CHECK_INT(mpx_icmp_encode(out, sizeof(out), &ic), MPX_ERR_INVAL);
}

/* Quotes that carry IPv4 options or an IPv6 hop-by-hop header in front
 * of the TCP header are followed to it. */
MPX_TEST(wire_icmp_decode_quote_with_options)
{
    static const struct vec more[] = {
        {"v4_quote_opts",
         "4500003c00000000400124bd0a0141010a01010203001c0900000000460004000000400040069df10a0101020"
         "a"
         "018102010101009c40005011223344",
         {4, 3, 0, MPX_ICMPK_UNREACH, 0, R4, US4, Q4(8)}},
        {"v6_quote_hbh",
         "6000000000403a40fd000001004100000000000000000001fd000001000100000000000000000002010347120"
         "0"
         "0000006000000003e80040fd000001000100000000000000000002fd000001008100000000000000000002060"
         "00"
         "104000000009c4001bbfedcba98",
         {6, 1, 3, MPX_ICMPK_UNREACH, 0, R6, US6, Q6(8)}},
    };
    uint8_t buf[256];
    for (size_t i = 0; i < ARRAY_LEN(more); i++) {
        struct mpx_icmp ic;
        int n = load(more[i].hex, buf, sizeof(buf));
        CHECK_INT(mpx_icmp_decode(buf, (size_t)n, &ic), 0);
        check_same(more[i].name, &ic, &more[i].ic);
    }
}

MPX_TEST(wire_icmp_decode_ignored_and_unsupported)
{
    static const struct {
        const char *name, *hex;
        int rc;
    } cases[] = {
        {"v4 echo request",
         "4500002400000000400124d50a0141010a0101020800666a000000006162636465666768",
         MPX_ERR_IGNORED},
        {"v4 source quench",
         "4500003800000000400124c10a0141010a01010204001b0900000000450003fc000040004006a0f60a0101020"
         "a"
         "0181029c40005011223344",
         MPX_ERR_IGNORED},
        {"v4 quoting UDP",
         "4500003800000000400124c10a0141010a0101020303fcfc00000000450003fc000000004011e0eb0a0101020"
         "a"
         "0181020000000000000000",
         MPX_ERR_IGNORED},
        {"v6 echo reply",
         "6000000000103a40fd000001004100000000000000000001fd0000010001000000000000000000028100f2d60"
         "000"
         "00006162636465666768",
         MPX_ERR_IGNORED},
        {"v6 quoting a later fragment",
         "6000000000403a40fd000001004100000000000000000001fd000001000100000000000000000002010073790"
         "0000000"
         "6000000003e82c40fd000001000100000000000000000002fd000001008100000000000000000002060000100"
         "0000001"
         "0000000000000000",
         MPX_ERR_IGNORED},
        /* a TCP segment (SYN) is not ours to decode */
        {"tcp", "45000028000000004006e4ca0a0101020a0181029c40005011223344000000005002ffff00000000",
         MPX_ERR_UNSUPP},
    };
    uint8_t buf[256];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct mpx_icmp ic;
        int n = load(cases[i].hex, buf, sizeof(buf));
        int rc = mpx_icmp_decode(buf, (size_t)n, &ic);
        if (rc != cases[i].rc)
            mpx_test_fail(__FILE__, __LINE__, "%s: rc %d, want %d", cases[i].name, rc, cases[i].rc);
    }
}

/* Every prefix of every vector is rejected (the outer length says more). */
MPX_TEST(wire_icmp_decode_every_truncation_rejected)
{
    uint8_t buf[256];
    for (size_t i = 0; i < ARRAY_LEN(vecs); i++) {
        int n = load(vecs[i].hex, buf, sizeof(buf));
        for (int cut = 0; cut < n; cut++) {
            struct mpx_icmp ic;
            int rc = mpx_icmp_decode(buf, (size_t)cut, &ic);
            if (rc != MPX_ERR_TRUNC)
                mpx_test_fail(__FILE__, __LINE__, "%s cut %d: rc %d", vecs[i].name, cut, rc);
        }
    }
}

/* Re-frame |p| (an encoded vector) with only |mlen| ICMP bytes: outer
 * length and ICMP checksum made consistent, so that only the quote is
 * short. Returns the new packet length. */
static size_t reframe(uint8_t *p, const struct mpx_icmp *ic, size_t mlen)
{
    size_t hl = ic->version == 4 ? 20 : 40;
    uint8_t *m = p + hl;
    if (ic->version == 4) {
        p[2] = (uint8_t)((hl + mlen) >> 8);
        p[3] = (uint8_t)(hl + mlen);
        p[10] = p[11] = 0;
        uint16_t c = mpx_csum_fold(mpx_csum_add(0, p, hl));
        p[10] = (uint8_t)(c >> 8);
        p[11] = (uint8_t)c;
    } else {
        p[4] = (uint8_t)(mlen >> 8);
        p[5] = (uint8_t)mlen;
    }
    m[2] = m[3] = 0;
    uint32_t sum = ic->version == 6 ? mpx_csum_pseudo(&ic->src, &ic->dst, 58, (uint32_t)mlen) : 0;
    uint16_t c = mpx_csum_fold(mpx_csum_add(sum, m, mlen));
    m[2] = (uint8_t)(c >> 8);
    m[3] = (uint8_t)c;
    return hl + mlen;
}

/* A well-framed message whose quote stops before the quoted IP header and
 * 8 TCP bytes: TRUNC at every length; from the 8th TCP byte on: decoded. */
MPX_TEST(wire_icmp_decode_every_short_quote_rejected)
{
    uint8_t buf[256];
    for (size_t i = 0; i < ARRAY_LEN(vecs); i++) {
        const struct mpx_icmp *v = &vecs[i].ic;
        size_t qip = v->version == 4 ? 20 : 40;
        for (size_t mlen = 0; mlen <= 8 + qip + v->qtcp_len; mlen++) {
            struct mpx_icmp ic;
            int n = load(vecs[i].hex, buf, sizeof(buf));
            (void)n;
            size_t len = reframe(buf, v, mlen);
            int rc = mpx_icmp_decode(buf, len, &ic);
            int want = mlen < 8 + qip + MPX_ICMP_QUOTE_TCP ? MPX_ERR_TRUNC : 0;
            if (rc != want)
                mpx_test_fail(__FILE__, __LINE__, "%s mlen %zu: rc %d want %d", vecs[i].name, mlen,
                              rc, want);
            if (rc == 0)
                CHECK_EQ(ic.qtcp_len, mlen - 8 - qip);
        }
    }
}

MPX_TEST(wire_icmp_decode_checksum_errors)
{
    uint8_t buf[256];
    for (size_t i = 0; i < ARRAY_LEN(vecs); i++) {
        struct mpx_icmp ic;
        int n = load(vecs[i].hex, buf, sizeof(buf));
        size_t hl = vecs[i].ic.version == 4 ? 20 : 40;
        /* a byte of the quote: the ICMP checksum covers it */
        buf[n - 1] ^= 0x01;
        CHECK_INT(mpx_icmp_decode(buf, (size_t)n, &ic), MPX_ERR_CSUM);
        buf[n - 1] ^= 0x01;
        /* ICMPv6's covers the pseudo-header: the outer source too */
        if (vecs[i].ic.version == 6) {
            buf[8 + 15] ^= 0x40;
            CHECK_INT(mpx_icmp_decode(buf, (size_t)n, &ic), MPX_ERR_CSUM);
            buf[8 + 15] ^= 0x40;
        }
        buf[hl + 1] ^= 0x02; /* the code */
        CHECK_INT(mpx_icmp_decode(buf, (size_t)n, &ic), MPX_ERR_CSUM);
    }
}

/* A quoted IP header that is not IP of the outer family, or has IHL < 5. */
MPX_TEST(wire_icmp_decode_bad_quote)
{
    uint8_t buf[256];
    struct mpx_icmp ic;
    int n = load(vecs[0].hex, buf, sizeof(buf)); /* v4 */
    buf[28] = 0x65;                              /* quoted version 6 */
    reframe(buf, &vecs[0].ic, (size_t)n - 20);
    CHECK_INT(mpx_icmp_decode(buf, (size_t)n, &ic), MPX_ERR_PROTO);
    n = load(vecs[0].hex, buf, sizeof(buf));
    buf[28] = 0x44; /* IHL 4 */
    reframe(buf, &vecs[0].ic, (size_t)n - 20);
    CHECK_INT(mpx_icmp_decode(buf, (size_t)n, &ic), MPX_ERR_PROTO);
    n = load(vecs[5].hex, buf, sizeof(buf)); /* v6 */
    buf[48] = 0x45;
    reframe(buf, &vecs[5].ic, (size_t)n - 40);
    CHECK_INT(mpx_icmp_decode(buf, (size_t)n, &ic), MPX_ERR_PROTO);
}

/* Linux's errno per message (net/ipv4/icmp.c icmp_err_convert, net/ipv6/
 * icmp.c icmpv6_err_convert, tcp_v4_err / tcp_v6_err). */
MPX_TEST(wire_icmp_to_err_table)
{
    static const struct {
        uint8_t version, type, code;
        enum mpx_icmp_kind kind;
        int err;
        bool hard;
    } t[] = {
        {4, 3, 0, MPX_ICMPK_UNREACH, MPX_ERR_NETUNREACH, false},
        {4, 3, 1, MPX_ICMPK_UNREACH, MPX_ERR_HOSTUNREACH, false},
        {4, 3, 2, MPX_ICMPK_UNREACH, MPX_ERR_NOPROTOOPT, true},
        {4, 3, 3, MPX_ICMPK_UNREACH, MPX_ERR_REFUSED, true},
        {4, 3, 4, MPX_ICMPK_PTB, 0, false},
        {4, 3, 5, MPX_ICMPK_UNREACH, MPX_ERR_UNSUPP, false},
        {4, 3, 6, MPX_ICMPK_UNREACH, MPX_ERR_NETUNREACH, true},
        {4, 3, 7, MPX_ICMPK_UNREACH, MPX_ERR_HOSTDOWN, true},
        {4, 3, 8, MPX_ICMPK_UNREACH, MPX_ERR_NONET, true},
        {4, 3, 9, MPX_ICMPK_UNREACH, MPX_ERR_NETUNREACH, true},
        {4, 3, 10, MPX_ICMPK_UNREACH, MPX_ERR_HOSTUNREACH, true},
        {4, 3, 11, MPX_ICMPK_UNREACH, MPX_ERR_NETUNREACH, false},
        {4, 3, 12, MPX_ICMPK_UNREACH, MPX_ERR_HOSTUNREACH, false},
        {4, 3, 13, MPX_ICMPK_UNREACH, MPX_ERR_HOSTUNREACH, true},
        {4, 3, 14, MPX_ICMPK_UNREACH, MPX_ERR_HOSTUNREACH, true},
        {4, 3, 15, MPX_ICMPK_UNREACH, MPX_ERR_HOSTUNREACH, true},
        {4, 3, 16, MPX_ICMPK_UNREACH, 0, false},
        {4, 11, 0, MPX_ICMPK_TIME_EXCEEDED, MPX_ERR_HOSTUNREACH, false},
        {4, 12, 0, MPX_ICMPK_PARAMPROB, MPX_ERR_NETPROTO, false},
        {6, 1, 0, MPX_ICMPK_UNREACH, MPX_ERR_NETUNREACH, false},
        {6, 1, 1, MPX_ICMPK_UNREACH, MPX_ERR_ACCES, true},
        {6, 1, 2, MPX_ICMPK_UNREACH, MPX_ERR_HOSTUNREACH, false},
        {6, 1, 3, MPX_ICMPK_UNREACH, MPX_ERR_HOSTUNREACH, false},
        {6, 1, 4, MPX_ICMPK_UNREACH, MPX_ERR_REFUSED, true},
        {6, 1, 5, MPX_ICMPK_UNREACH, MPX_ERR_ACCES, true},
        {6, 1, 6, MPX_ICMPK_UNREACH, MPX_ERR_ACCES, true},
        {6, 1, 7, MPX_ICMPK_UNREACH, MPX_ERR_NETPROTO, true},
        {6, 2, 0, MPX_ICMPK_PTB, 0, false},
        {6, 3, 0, MPX_ICMPK_TIME_EXCEEDED, MPX_ERR_HOSTUNREACH, false},
        {6, 4, 1, MPX_ICMPK_PARAMPROB, MPX_ERR_NETPROTO, true},
    };
    for (size_t i = 0; i < ARRAY_LEN(t); i++) {
        struct mpx_icmp ic = {.version = t[i].version, .type = t[i].type, .code = t[i].code};
        bool hard = !t[i].hard;
        ic.kind = t[i].kind;
        int err = mpx_icmp_to_err(&ic, &hard);
        if (err != t[i].err || hard != t[i].hard)
            mpx_test_fail(__FILE__, __LINE__, "v%u %u/%u: err %d hard %d", t[i].version, t[i].type,
                          t[i].code, err, hard);
    }
    struct mpx_icmp ic = {.version = 4, .type = 3, .code = 1, .kind = MPX_ICMPK_UNREACH};
    CHECK_INT(mpx_icmp_to_err(&ic, NULL), MPX_ERR_HOSTUNREACH);
}
