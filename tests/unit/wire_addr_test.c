/*
 * wire_addr_test.c - address formatting (RFC 5952) and the internet
 * checksum (RFC 1071) against a byte-pair reference implementation.
 */
#include <string.h>

#include "err.h"
#include "mpx_test.h"
#include "wire_addr.h"

static struct mpx_addr v6(const char *hex)
{
    struct mpx_addr a;
    memset(&a, 0, sizeof(a));
    a.family = MPX_AF_INET6;
    if (mpx_test_unhex(hex, a.a, sizeof(a.a)) != 16)
        a.family = MPX_AF_NONE;
    return a;
}

MPX_TEST(wire_addr_fmt_v6_rfc5952)
{
    static const struct {
        const char *hex, *text;
    } cases[] = {
        {"20010db8000000000000000000000001", "2001:db8::1"},
        {"00000000000000000000000000000000", "::"},
        {"00000000000000000000000000000001", "::1"},
        {"00010000000000000000000000000000", "1::"},
        /* 4.2.2: a single zero group is not compressed. */
        {"20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"},
        /* 4.2.3: the longest run wins... */
        {"20010db8000000000001000000000000", "2001:db8:0:0:1::"},
        /* ...and the first one on a tie. */
        {"20010db8000000000001000000000001", "2001:db8::1:0:0:1"},
        {"fe800000000000000001000000000000", "fe80::1:0:0:0"},
        /* 4.3: lower case, no leading zeros. */
        {"20010DB8ABCD00120000000000000A0B", "2001:db8:abcd:12::a0b"},
        {"ffffffffffffffffffffffffffffffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
        /* 5: IPv4-mapped in mixed notation. */
        {"00000000000000000000ffffc0000201", "::ffff:192.0.2.1"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mpx_addr a = v6(cases[i].hex);
        REQUIRE(a.family == MPX_AF_INET6);
        mpx_addr_fmt(&a, buf, sizeof(buf));
        if (strcmp(buf, cases[i].text) != 0)
            mpx_test_fail(__FILE__, __LINE__, "case %zu: got %s want %s", i, buf, cases[i].text);
    }
}

MPX_TEST(wire_addr_fmt_v4_and_none)
{
    char buf[64];
    struct mpx_addr a = mpx_addr_v4(0xc0000201);
    struct mpx_addr none;
    CHECK(strcmp(mpx_addr_fmt(&a, buf, sizeof(buf)), "192.0.2.1") == 0);
    a = mpx_addr_v4(0);
    CHECK(strcmp(mpx_addr_fmt(&a, buf, sizeof(buf)), "0.0.0.0") == 0);
    a = mpx_addr_v4(0xffffffff);
    CHECK(strcmp(mpx_addr_fmt(&a, buf, sizeof(buf)), "255.255.255.255") == 0);
    memset(&none, 0, sizeof(none));
    CHECK(strcmp(mpx_addr_fmt(&none, buf, sizeof(buf)), "none") == 0);
}

MPX_TEST(wire_addr_fmt_small_buffer_truncates)
{
    char buf[16];
    struct mpx_addr a = v6("ffffffffffffffffffffffffffffffff");
    for (size_t cap = 0; cap < 10; cap++) {
        memset(buf, 'X', sizeof(buf));
        mpx_addr_fmt(&a, buf, cap);
        for (size_t i = cap; i < sizeof(buf); i++)
            CHECK(buf[i] == 'X');
        if (cap > 0)
            CHECK(strlen(buf) == cap - 1);
    }
}

MPX_TEST(wire_addr_v4_layout_and_eq)
{
    struct mpx_addr a = mpx_addr_v4(0x0a000201), b = mpx_addr_v4(0x0a000201);
    struct mpx_addr c = mpx_addr_v4(0x0a000202);
    struct mpx_addr d = v6("0a000201000000000000000000000000");
    static const uint8_t want[16] = {10, 0, 2, 1};
    CHECK_INT(a.family, MPX_AF_INET);
    CHECK_MEM(a.a, want, 16);
    CHECK(mpx_addr_eq(&a, &b));
    CHECK(!mpx_addr_eq(&a, &c));
    CHECK(!mpx_addr_eq(&a, &d)); /* same bytes, other family */
    CHECK_INT(mpx_addr_len(&a), 4);
    CHECK_INT(mpx_addr_len(&d), 16);
}

/* Byte-pair reference: RFC 1071 section 4.1 written as plainly as possible. */
static uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

MPX_TEST(wire_addr_csum_rfc1071_example)
{
    /* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
    static const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK_EQ(mpx_csum_fold(mpx_csum_add(0, d, sizeof(d))), 0xffff & ~0xddf2);
    CHECK_EQ(mpx_csum_fold(mpx_csum_add(0, d, 0)), 0xffff);
    /* Odd length: the last byte is the high half of a zero-padded word. */
    CHECK_EQ(mpx_csum_fold(mpx_csum_add(0, d + 2, 1)), 0xffff & ~0xf200);
}

MPX_TEST(wire_addr_csum_matches_reference_any_length_and_alignment)
{
    uint8_t buf[1600];
    uint32_t x = 12345;
    for (int round = 0; round < 3000; round++) {
        size_t off, len;
        uint32_t seed;
        for (size_t i = 0; i < sizeof(buf); i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        /* Mostly short, some all-0xff (carry heavy). */
        if (round % 7 == 0)
            memset(buf, 0xff, sizeof(buf));
        off = (size_t)round % 8;
        len = round < 200 ? (size_t)round : (x >> 8) % (sizeof(buf) - 8);
        seed = (x >> 3) & 0x1ffff;
        if (mpx_csum_fold(mpx_csum_add(seed, buf + off, len)) !=
            (uint16_t)~ref_sum(seed, buf + off, len)) {
            mpx_test_fail(__FILE__, __LINE__, "round %d off %zu len %zu", round, off, len);
            return;
        }
    }
}

MPX_TEST(wire_addr_csum_chains_over_even_chunks)
{
    uint8_t buf[301];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    uint32_t whole = mpx_csum_add(0, buf, sizeof(buf));
    for (size_t cut = 0; cut < sizeof(buf); cut += 2) {
        uint32_t s = mpx_csum_add(0, buf, cut);
        s = mpx_csum_add(s, buf + cut, sizeof(buf) - cut);
        CHECK_EQ(mpx_csum_fold(s), mpx_csum_fold(whole));
    }
}

MPX_TEST(wire_addr_csum_pseudo_v4_v6)
{
    struct mpx_addr s4 = mpx_addr_v4(0x0a000001), d4 = mpx_addr_v4(0x0a000002);
    struct mpx_addr s6 = v6("20010db8000000000000000000000001");
    struct mpx_addr d6 = v6("20010db8000000000000000000000002");
    /* The same words summed by hand: 0a00+0001+0a00+0002+0006+0028. */
    CHECK_EQ(mpx_csum_pseudo(&s4, &d4, 6, 40), 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 40);
    /* IPv6: 32-bit length (RFC 8200 section 8.1). */
    CHECK_EQ(mpx_csum_fold(mpx_csum_pseudo(&s6, &d6, 6, 0x10010)),
             mpx_csum_fold(2 * 0x2001 + 2 * 0x0db8 + 1 + 2 + 6 + 1 + 0x0010));
}
