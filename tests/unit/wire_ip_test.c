/*
 * wire_ip_test.c - IPv4/IPv6 header codec: valid packets both ways (bytes
 * from Debian python3-scapy 2.5, which computed every checksum), every
 * truncation, a malformed-input table with pinned outcomes, and encoder
 * bounds.
 */
#include <string.h>

#include "err.h"
#include "mpx_test.h"
#include "wire_ip.h"

/* Linux-like SYN 10.0.0.1:45678 -> 10.0.0.2:80 (MSS, SACK_PERM, TS, WS). */
#define PKT_V4_SYN                                                                                 \
    "4500003c1c46400040060a740a0000010a000002"                                                     \
    "b26e00501234567800000000a002faf0078a0000020405b40402080a0a0b0c0d0000000001030307"
/* IPv6 data segment 2001:db8::1 -> ::2, tclass 0x20, flow 0x12345, 13 bytes. */
#define PKT_V6_DATA                                                                                \
    "62012345002d064020010db800000000000000000000000120010db80000000000000000"                     \
    "00000002"                                                                                     \
    "01bbc350000003e8000007d0801801f6fce000000101080a0000006f000000de"                             \
    "68656c6c6f2c20776f726c640a"
/* IPv6 fe80::1 -> fe80::2 with hop-by-hop and destination options (PadN). */
#define PKT_V6_EXT                                                                                 \
    "60000000002400fffe800000000000000000000000000001fe8000000000000000000000"                     \
    "00000002"                                                                                     \
    "3c00010400000000"                                                                             \
    "0600010400000000"                                                                             \
    "00010002000000030000000050020400aed80000"
/* IPv4 with 4 bytes of IP options (NOP NOP NOP EOL), TCP ACK + "abc". */
#define PKT_V4_IPOPT                                                                               \
    "4600002f0007000005069bbc0a0101010a02020201010100"                                             \
    "0009000a0000000b0000000c5010000dd4320000616263"

struct ip_vec {
    const char *name;
    const char *hex;
    int rc; /* mpx_ip_decode result */
    struct mpx_ip_hdr want;
    bool encodes; /* encode(want) reproduces the first rc bytes */
};

#define A4(b0, b1, b2, b3)                                                                         \
    {                                                                                              \
        .family = MPX_AF_INET, .a = { b0, b1, b2, b3 }                                             \
    }
#define A6(...)                                                                                    \
    {                                                                                              \
        .family = MPX_AF_INET6, .a = { __VA_ARGS__ }                                               \
    }

static const struct ip_vec ip_vecs[] = {
    {"v4_syn",
     PKT_V4_SYN,
     20,
     {.version = 4,
      .ttl = 64,
      .proto = 6,
      .id = 0x1c46,
      .df = true,
      .src = A4(10, 0, 0, 1),
      .dst = A4(10, 0, 0, 2),
      .hdr_len = 20,
      .payload_len = 40},
     true},
    {"v6_data",
     PKT_V6_DATA,
     40,
     {.version = 6,
      .tos = 0x20,
      .ttl = 64,
      .proto = 6,
      .flow_label = 0x12345,
      .src = A6(0x20, 0x01, 0x0d, 0xb8, [15] = 1),
      .dst = A6(0x20, 0x01, 0x0d, 0xb8, [15] = 2),
      .hdr_len = 40,
      .payload_len = 45},
     true},
    {"v6_hbh_dstopts",
     PKT_V6_EXT,
     56,
     {.version = 6,
      .ttl = 255,
      .proto = 6,
      .src = A6(0xfe, 0x80, [15] = 1),
      .dst = A6(0xfe, 0x80, [15] = 2),
      .hdr_len = 56,
      .payload_len = 20},
     false},
    {"v4_ip_options",
     PKT_V4_IPOPT,
     24,
     {.version = 4,
      .ttl = 5,
      .proto = 6,
      .id = 7,
      .src = A4(10, 1, 1, 1),
      .dst = A4(10, 2, 2, 2),
      .hdr_len = 24,
      .payload_len = 23},
     false},
};

static void check_ip_eq(const char *name, const struct mpx_ip_hdr *g, const struct mpx_ip_hdr *w)
{
    if (g->version != w->version || g->tos != w->tos || g->ttl != w->ttl || g->proto != w->proto ||
        g->id != w->id || g->df != w->df || g->flow_label != w->flow_label ||
        !mpx_addr_eq(&g->src, &w->src) || !mpx_addr_eq(&g->dst, &w->dst) ||
        memcmp(g->src.a, w->src.a, 16) != 0 || memcmp(g->dst.a, w->dst.a, 16) != 0 ||
        g->hdr_len != w->hdr_len || g->payload_len != w->payload_len)
        mpx_test_fail(__FILE__, __LINE__, "%s: decoded header differs", name);
}

MPX_TEST(wire_ip_decode_vectors)
{
    uint8_t buf[256];
    for (size_t i = 0; i < sizeof(ip_vecs) / sizeof(ip_vecs[0]); i++) {
        const struct ip_vec *v = &ip_vecs[i];
        struct mpx_ip_hdr h;
        int n = mpx_test_unhex(v->hex, buf, sizeof(buf));
        REQUIRE(n > 0);
        CHECK_INT(mpx_ip_decode(buf, (size_t)n, &h), v->rc);
        check_ip_eq(v->name, &h, &v->want);
        CHECK_INT(h.hdr_len + h.payload_len, n);
    }
}

MPX_TEST(wire_ip_encode_vectors)
{
    uint8_t buf[256], out[64];
    for (size_t i = 0; i < sizeof(ip_vecs) / sizeof(ip_vecs[0]); i++) {
        const struct ip_vec *v = &ip_vecs[i];
        int n = mpx_test_unhex(v->hex, buf, sizeof(buf));
        if (!v->encodes)
            continue;
        REQUIRE(n > 0);
        CHECK_INT(mpx_ip_hdr_len(&v->want), v->rc);
        CHECK_INT(mpx_ip_encode(out, sizeof(out), &v->want, v->want.payload_len), v->rc);
        if (memcmp(out, buf, (size_t)v->rc) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s: encoded %s", v->name,
                          mpx_test_hex(out, (size_t)v->rc));
    }
}

MPX_TEST(wire_ip_decode_every_truncation_rejected)
{
    uint8_t buf[256];
    for (size_t i = 0; i < sizeof(ip_vecs) / sizeof(ip_vecs[0]); i++) {
        struct mpx_ip_hdr h;
        int n = mpx_test_unhex(ip_vecs[i].hex, buf, sizeof(buf));
        REQUIRE(n > 0);
        for (int cut = 0; cut < n; cut++) {
            int rc = mpx_ip_decode(buf, (size_t)cut, &h);
            if (rc != MPX_ERR_TRUNC)
                mpx_test_fail(__FILE__, __LINE__, "%s cut at %d: rc %d", ip_vecs[i].name, cut, rc);
        }
    }
}

MPX_TEST(wire_ip_decode_trailing_bytes_ignored)
{
    uint8_t buf[256];
    struct mpx_ip_hdr h;
    int n = mpx_test_unhex(PKT_V4_SYN "000000000000", buf, sizeof(buf));
    REQUIRE(n == 66);
    CHECK_INT(mpx_ip_decode(buf, (size_t)n, &h), 20);
    CHECK_INT(h.payload_len, 40);
    n = mpx_test_unhex(PKT_V6_DATA "ffff", buf, sizeof(buf));
    CHECK_INT(mpx_ip_decode(buf, (size_t)n, &h), 40);
    CHECK_INT(h.payload_len, 45);
}

/* Recomputes the IPv4 header checksum so that a mutation is seen by the
 * check it targets and not by the checksum check. */
static void fix_v4_csum(uint8_t *p)
{
    size_t ihl = (size_t)(p[0] & 0xf) * 4;
    p[10] = p[11] = 0;
    uint16_t c = mpx_csum_fold(mpx_csum_add(0, p, ihl));
    p[10] = (uint8_t)(c >> 8);
    p[11] = (uint8_t)c;
}

struct bad_vec {
    const char *name;
    const char *hex;
    bool fix_csum;
    int rc;
};

#define V4_SYN_TCP                                                                                 \
    "b26e00501234567800000000a002faf0078a0000020405b40402080a0a0b0c0d0000000001030307"
#define V6_HDR(plen, nh)                                                                           \
    "60000000" plen nh "40"                                                                        \
    "20010db8000000000000000000000001"                                                             \
    "20010db8000000000000000000000002"
#define TCP20 "0001000200000003000000005002040000000000"

static const struct bad_vec bad_vecs[] = {
    {"empty", "", false, MPX_ERR_TRUNC},
    {"version_5", "5500003c", false, MPX_ERR_PROTO},
    {"version_0", "00", false, MPX_ERR_PROTO},
    {"v4_short_header", "4500003c1c46400040060a740a0000010a0000", false, MPX_ERR_TRUNC},
    {"v4_ihl_4", "4400003c1c46400040060a740a0000010a000002" V4_SYN_TCP, true, MPX_ERR_PROTO},
    {"v4_ihl_0", "4000003c1c46400040060a740a0000010a000002" V4_SYN_TCP, true, MPX_ERR_PROTO},
    {"v4_ihl_past_buffer", "4f00003c1c46400040060a740a0000010a000002", false, MPX_ERR_TRUNC},
    {"v4_total_len_past_buffer", "4500003d1c46400040060a740a0000010a000002" V4_SYN_TCP, true,
     MPX_ERR_TRUNC},
    {"v4_total_len_below_ihl", "450000131c46400040060a740a0000010a000002" V4_SYN_TCP, true,
     MPX_ERR_PROTO},
    {"v4_bad_csum", "4500003c1c46400040060a750a0000010a000002" V4_SYN_TCP, false, MPX_ERR_CSUM},
    {"v4_more_fragments", "4500003c1c46200040060a740a0000010a000002" V4_SYN_TCP, true,
     MPX_ERR_FRAG},
    {"v4_fragment_offset", "4500003c1c46400140060a740a0000010a000002" V4_SYN_TCP, true,
     MPX_ERR_FRAG},
    {"v4_fragment_offset_high_bit", "4500003c1c46500040060a740a0000010a000002" V4_SYN_TCP, true,
     MPX_ERR_FRAG},
    {"v6_short_header", "6000000000140640", false, MPX_ERR_TRUNC},
    {"v6_payload_len_past_buffer", V6_HDR("0015", "06") TCP20, false, MPX_ERR_TRUNC},
    {"v6_fragment_header", V6_HDR("001c", "2c") "0600000100000001" TCP20, false, MPX_ERR_FRAG},
    {"v6_fragment_after_dstopts",
     V6_HDR("0024", "3c") "2c00000000000000"
                          "0600000100000001" TCP20,
     false, MPX_ERR_FRAG},
    /* Extension header length (1 = 16 bytes) runs past the payload. */
    {"v6_ext_runs_off_end", V6_HDR("0008", "00") "0601000000000000", false, MPX_ERR_PROTO},
    /* Fewer than 8 bytes left for an extension header. */
    {"v6_ext_header_cut", V6_HDR("0004", "3c") "06000000", false, MPX_ERR_PROTO},
    {"v6_chain_ends_in_ext", V6_HDR("0008", "2b") "3c00000000000000", false, MPX_ERR_PROTO},
    /* RFC 8200 section 4.1: hop-by-hop only right after the header. */
    {"v6_hbh_not_first",
     V6_HDR("0024", "3c") "0000000000000000"
                          "0600000000000000" TCP20,
     false, MPX_ERR_PROTO},
};

MPX_TEST(wire_ip_decode_malformed_table)
{
    uint8_t buf[256];
    for (size_t i = 0; i < sizeof(bad_vecs) / sizeof(bad_vecs[0]); i++) {
        const struct bad_vec *v = &bad_vecs[i];
        struct mpx_ip_hdr h;
        int n = mpx_test_unhex(v->hex, buf, sizeof(buf));
        int rc;
        REQUIRE(n >= 0);
        if (v->fix_csum)
            fix_v4_csum(buf);
        rc = mpx_ip_decode(buf, (size_t)n, &h);
        if (rc != v->rc)
            mpx_test_fail(__FILE__, __LINE__, "%s: rc %d want %d", v->name, rc, v->rc);
    }
}

MPX_TEST(wire_ip_decode_v6_other_protocols_reported)
{
    uint8_t buf[128];
    struct mpx_ip_hdr h;
    /* UDP after a routing header: decoded, proto 17 for the caller. */
    int n = mpx_test_unhex(V6_HDR("0010", "2b") "1100000000000000"
                                                "0000000000000000",
                           buf, sizeof(buf));
    REQUIRE(n == 56);
    CHECK_INT(mpx_ip_decode(buf, (size_t)n, &h), 48);
    CHECK_INT(h.proto, 17);
    CHECK_INT(h.payload_len, 8);
    /* No next header (59). */
    n = mpx_test_unhex(V6_HDR("0000", "3b"), buf, sizeof(buf));
    CHECK_INT(mpx_ip_decode(buf, (size_t)n, &h), 40);
    CHECK_INT(h.proto, 59);
    CHECK_INT(h.payload_len, 0);
}

MPX_TEST(wire_ip_encode_rejects_bad_input)
{
    struct mpx_ip_hdr h = ip_vecs[0].want;
    uint8_t out[64];
    h.version = 5;
    CHECK_INT(mpx_ip_hdr_len(&h), MPX_ERR_INVAL);
    CHECK_INT(mpx_ip_encode(out, sizeof(out), &h, 0), MPX_ERR_INVAL);
    h = ip_vecs[0].want;
    h.dst = ip_vecs[1].want.dst; /* v6 address in a v4 header */
    CHECK_INT(mpx_ip_encode(out, sizeof(out), &h, 0), MPX_ERR_INVAL);
    h = ip_vecs[0].want;
    CHECK_INT(mpx_ip_encode(out, sizeof(out), &h, 65535 - 19), MPX_ERR_INVAL);
    CHECK_INT(mpx_ip_encode(out, sizeof(out), &h, 65535 - 20), 20);
    h = ip_vecs[1].want;
    h.flow_label = 0x100000;
    CHECK_INT(mpx_ip_encode(out, sizeof(out), &h, 0), MPX_ERR_INVAL);
    h.flow_label = 0xfffff;
    CHECK_INT(mpx_ip_encode(out, sizeof(out), &h, 65535), 40);
}

MPX_TEST(wire_ip_encode_never_writes_past_outlen)
{
    for (size_t i = 0; i < 2; i++) {
        const struct mpx_ip_hdr *h = &ip_vecs[i].want;
        int need = mpx_ip_hdr_len(h);
        for (int outlen = 0; outlen <= need; outlen++) {
            uint8_t out[64];
            memset(out, 0xa5, sizeof(out));
            int rc = mpx_ip_encode(out, (size_t)outlen, h, 0);
            CHECK_INT(rc, outlen < need ? MPX_ERR_NOBUF : need);
            for (size_t j = (size_t)outlen; j < sizeof(out); j++)
                CHECK(out[j] == 0xa5);
        }
    }
}

MPX_TEST(wire_ip_encode_decode_roundtrip_fields)
{
    struct mpx_ip_hdr h = ip_vecs[0].want, g;
    uint8_t out[128];
    memset(out, 0, sizeof(out));
    h.tos = 0xb8;
    h.ttl = 1;
    h.df = false;
    h.id = 0xffff;
    REQUIRE(mpx_ip_encode(out, sizeof(out), &h, 60) == 20);
    CHECK_INT(mpx_ip_decode(out, 80, &g), 20);
    h.payload_len = 60;
    check_ip_eq("v4", &g, &h);

    h = ip_vecs[1].want;
    h.tos = 0xff;
    h.flow_label = 0xfffff;
    REQUIRE(mpx_ip_encode(out, sizeof(out), &h, 8) == 40);
    CHECK_INT(mpx_ip_decode(out, 48, &g), 40);
    h.payload_len = 8;
    check_ip_eq("v6", &g, &h);
}
