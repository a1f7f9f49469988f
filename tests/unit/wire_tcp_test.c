/*
 * wire_tcp_test.c - TCP header and option codec, whole packets with
 * checksums.
 *
 * The packet vectors were built with Debian python3-scapy 2.5 (which
 * computed the IP and TCP checksums) in the option layout Linux sends, so
 * decode(bytes) == struct and encode(struct) == bytes both pin our codec
 * and our checksum to an independent implementation.
 */
#include <string.h>

#include "err.h"
#include "conv.h"
#include "mpx_test.h"
#include "wire_ip.h"
#include "wire_tcp.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define A4(b0, b1, b2, b3)                                                                         \
    {                                                                                              \
        .family = MPX_AF_INET, .a = { b0, b1, b2, b3 }                                             \
    }
#define A6(...)                                                                                    \
    {                                                                                              \
        .family = MPX_AF_INET6, .a = { __VA_ARGS__ }                                               \
    }

/* ---- helpers -------------------------------------------------------------- */

static bool mptcp_same(const struct mpx_mptcp_opt *a, const struct mpx_mptcp_opt *b)
{
    uint8_t x[40], y[40];
    int na = mpx_mptcp_encode(x, sizeof(x), a);
    int nb = mpx_mptcp_encode(y, sizeof(y), b);
    return a->subtype == b->subtype && na > 0 && na == nb && memcmp(x, y, (size_t)na) == 0;
}

static void check_opts(const char *name, const struct mpx_tcp_opts *g, const struct mpx_tcp_opts *w)
{
    bool ok = g->present == w->present && g->n_sack == w->n_sack && g->n_mptcp == w->n_mptcp &&
              g->n_bad == w->n_bad && g->n_mptcp_bad == w->n_mptcp_bad &&
              g->n_mptcp_ignored == w->n_mptcp_ignored &&
              g->n_mptcp_dropped == w->n_mptcp_dropped && g->n_unknown == w->n_unknown;
    if (ok && (w->present & MPX_TCPO_MSS))
        ok = g->mss == w->mss;
    if (ok && (w->present & MPX_TCPO_WSCALE))
        ok = g->wscale == w->wscale;
    if (ok && (w->present & MPX_TCPO_TS))
        ok = g->ts_val == w->ts_val && g->ts_ecr == w->ts_ecr;
    for (unsigned i = 0; ok && i < w->n_sack && i < MPX_TCP_MAX_SACK; i++)
        ok = g->sack[i].left == w->sack[i].left && g->sack[i].right == w->sack[i].right;
    for (unsigned i = 0; ok && i < w->n_mptcp && i < MPX_TCP_MAX_MPTCP; i++)
        ok = mptcp_same(&g->mptcp[i], &w->mptcp[i]);
    if (!ok)
        mpx_test_fail(__FILE__, __LINE__,
                      "%s: options differ (present %x/%x sack %u/%u mptcp %u/%u bad %u/%u "
                      "mbad %u/%u mign %u/%u mdrop %u/%u unk %u/%u)",
                      name, g->present, w->present, g->n_sack, w->n_sack, g->n_mptcp, w->n_mptcp,
                      g->n_bad, w->n_bad, g->n_mptcp_bad, w->n_mptcp_bad, g->n_mptcp_ignored,
                      w->n_mptcp_ignored, g->n_mptcp_dropped, w->n_mptcp_dropped, g->n_unknown,
                      w->n_unknown);
}

static void check_tcp(const char *name, const struct mpx_tcp_hdr *g, const struct mpx_tcp_hdr *w)
{
    if (g->sport != w->sport || g->dport != w->dport || g->seq != w->seq || g->ack != w->ack ||
        g->flags != w->flags || g->win != w->win || g->csum != w->csum || g->urg != w->urg ||
        g->doff != w->doff)
        mpx_test_fail(__FILE__, __LINE__, "%s: TCP header differs (csum %04x doff %u)", name,
                      g->csum, g->doff);
    check_opts(name, &g->opts, &w->opts);
}

/* ---- whole-packet vectors ---------------------------------------------- */

struct pkt_vec {
    const char *name;
    const char *hex;
    bool encodes; /* no IP options / extension headers: encode gives the bytes */
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr tcp;
    const char *payload;
};

#define V4(s, d, id_, df_, ttl_)                                                                   \
    {                                                                                              \
        .version = 4, .ttl = ttl_, .proto = 6, .id = id_, .df = df_, .src = s, .dst = d            \
    }

static const struct pkt_vec pkt_vecs[] = {
    {"v4_syn_linux",
     "4500003c1c46400040060a740a0000010a000002b26e00501234567800000000a002faf0078a0000"
     "020405b40402080a0a0b0c0d0000000001030307",
     true,
     V4(A4(10, 0, 0, 1), A4(10, 0, 0, 2), 0x1c46, true, 64),
     {.sport = 45678,
      .dport = 80,
      .seq = 0x12345678,
      .flags = MPX_TH_SYN,
      .win = 64240,
      .csum = 0x078a,
      .doff = 40,
      .opts = {.present = MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_TS | MPX_TCPO_WSCALE,
               .mss = 1460,
               .wscale = 7,
               .ts_val = 0x0a0b0c0d}},
     ""},
    {"v6_data_ts",
     "62012345002d064020010db800000000000000000000000120010db8000000000000000000000002"
     "01bbc350000003e8000007d0801801f6fce000000101080a0000006f000000de"
     "68656c6c6f2c20776f726c640a",
     true,
     {.version = 6,
      .tos = 0x20,
      .flow_label = 0x12345,
      .ttl = 64,
      .proto = 6,
      .src = A6(0x20, 0x01, 0x0d, 0xb8, [15] = 1),
      .dst = A6(0x20, 0x01, 0x0d, 0xb8, [15] = 2)},
     {.sport = 443,
      .dport = 50000,
      .seq = 1000,
      .ack = 2000,
      .flags = MPX_TH_PSH | MPX_TH_ACK,
      .win = 502,
      .csum = 0xfce0,
      .doff = 32,
      .opts = {.present = MPX_TCPO_TS, .ts_val = 111, .ts_ecr = 222}},
     "68656c6c6f2c20776f726c640a"},
    {"v4_synack_mp_capable",
     "4500004800004000400626ae0a0000020a0000010050b26eaabbccdd12345679d012fe882d150000"
     "020405b40402080a000000050a0b0c0d010303071e0c01010102030405060708",
     true,
     V4(A4(10, 0, 0, 2), A4(10, 0, 0, 1), 0, true, 64),
     {.sport = 80,
      .dport = 45678,
      .seq = 0xaabbccdd,
      .ack = 0x12345679,
      .flags = MPX_TH_SYN | MPX_TH_ACK,
      .win = 65160,
      .csum = 0x2d15,
      .doff = 52,
      .opts = {.present = MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_TS | MPX_TCPO_WSCALE,
               .mss = 1460,
               .wscale = 7,
               .ts_val = 5,
               .ts_ecr = 0x0a0b0c0d,
               .n_mptcp = 1,
               .mptcp = {{.subtype = MPX_MPTCP_SUB_CAPABLE,
                          .u.mpc = {.form = MPX_FORM_SYNACK,
                                    .version = 1,
                                    .flags = MPX_MPC_F_H,
                                    .snd_key = 0x0102030405060708}}}}},
     ""},
    {"v4_ack_sack_tos",
     "45100048424240003f060d22c0000201c633640704d2162e00000001000003e9d01003e8dac40000"
     "0101080a000000070000000801010512000007d100000bb900000fa100001389",
     true,
     {.version = 4,
      .tos = 0x10,
      .ttl = 63,
      .proto = 6,
      .id = 0x4242,
      .df = true,
      .src = A4(192, 0, 2, 1),
      .dst = A4(198, 51, 100, 7)},
     {.sport = 1234,
      .dport = 5678,
      .seq = 1,
      .ack = 1001,
      .flags = MPX_TH_ACK,
      .win = 1000,
      .csum = 0xdac4,
      .doff = 52,
      .opts = {.present = MPX_TCPO_TS | MPX_TCPO_SACK,
               .ts_val = 7,
               .ts_ecr = 8,
               .n_sack = 2,
               .sack = {{2001, 3001}, {4001, 5001}}}},
     ""},
    {"v6_dss_64bit_csum",
     "60000000003f064020010db800010000000000000000001020010db8000200000000000000000020"
     "9c401f900100000002000000f0180400ab3e00000101080a0000000100000002"
     "1e1c200f01020304050607081112131415161718000000010003abcd78797a",
     true,
     {.version = 6,
      .ttl = 64,
      .proto = 6,
      .src = A6(0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 0x10),
      .dst = A6(0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 0x20)},
     {.sport = 40000,
      .dport = 8080,
      .seq = 0x01000000,
      .ack = 0x02000000,
      .flags = MPX_TH_PSH | MPX_TH_ACK,
      .win = 1024,
      .csum = 0xab3e,
      .doff = 60,
      .opts = {.present = MPX_TCPO_TS,
               .ts_val = 1,
               .ts_ecr = 2,
               .n_mptcp = 1,
               .mptcp = {{.subtype = MPX_MPTCP_SUB_DSS,
                          .u.dss = {.has_ack = true,
                                    .ack64 = true,
                                    .data_ack = 0x0102030405060708,
                                    .has_map = true,
                                    .dsn64 = true,
                                    .dsn = 0x1112131415161718,
                                    .ssn = 1,
                                    .dll = 3,
                                    .has_csum = true,
                                    .csum = 0xabcd}}}}},
     "78797a"},
    {"v4_rst_mp_tcprst",
     "4500002c00004000400626ca0a0000010a000002b26e00500000000500000000600400003a0c0000"
     "1e048106",
     true,
     V4(A4(10, 0, 0, 1), A4(10, 0, 0, 2), 0, true, 64),
     {.sport = 45678,
      .dport = 80,
      .seq = 5,
      .flags = MPX_TH_RST,
      .csum = 0x3a0c,
      .doff = 24,
      .opts = {.n_mptcp = 1,
               .mptcp = {{.subtype = MPX_MPTCP_SUB_TCPRST,
                          .u.tcprst = {.flags = MPX_TCPRST_F_T, .reason = 6}}}}},
     ""},
    {"v4_ack_mp_prio_nop_after",
     "4500003800014000400626bd0a0000010a000002b26e00500000000500000006901001f42eee0000"
     "0101080a00000003000000041e035101",
     true,
     V4(A4(10, 0, 0, 1), A4(10, 0, 0, 2), 1, true, 64),
     {.sport = 45678,
      .dport = 80,
      .seq = 5,
      .ack = 6,
      .flags = MPX_TH_ACK,
      .win = 500,
      .csum = 0x2eee,
      .doff = 36,
      .opts = {.present = MPX_TCPO_TS,
               .ts_val = 3,
               .ts_ecr = 4,
               .n_mptcp = 1,
               .mptcp = {{.subtype = MPX_MPTCP_SUB_PRIO, .u.prio = {.backup = true}}}}},
     ""},
    {"v6_hbh_dstopts_syn",
     "60000000002400fffe800000000000000000000000000001fe800000000000000000000000000002"
     "3c000104000000000600010400000000"
     "00010002000000030000000050020400aed80000",
     false,
     {.version = 6,
      .ttl = 255,
      .proto = 6,
      .src = A6(0xfe, 0x80, [15] = 1),
      .dst = A6(0xfe, 0x80, [15] = 2)},
     {.sport = 1,
      .dport = 2,
      .seq = 3,
      .flags = MPX_TH_SYN,
      .win = 1024,
      .csum = 0xaed8,
      .doff = 20},
     ""},
    {"v4_ip_options_data",
     "4600002f0007000005069bbc0a0101010a02020201010100"
     "0009000a0000000b0000000c5010000dd4320000616263",
     false,
     V4(A4(10, 1, 1, 1), A4(10, 2, 2, 2), 7, false, 5),
     {.sport = 9,
      .dport = 10,
      .seq = 11,
      .ack = 12,
      .flags = MPX_TH_ACK,
      .win = 13,
      .csum = 0xd432,
      .doff = 20},
     "616263"},
};

static int load(const char *hex, uint8_t *buf, size_t cap)
{
    int n = mpx_test_unhex(hex, buf, cap);
    if (n < 0)
        mpx_test_fail(__FILE__, __LINE__, "bad hex in test vector");
    return n;
}

MPX_TEST(wire_tcp_pkt_decode_vectors)
{
    uint8_t buf[256], pl[64];
    for (size_t i = 0; i < ARRAY_LEN(pkt_vecs); i++) {
        const struct pkt_vec *v = &pkt_vecs[i];
        struct mpx_pkt pkt;
        int n = load(v->hex, buf, sizeof(buf));
        int npl = load(v->payload, pl, sizeof(pl));
        REQUIRE(n > 0 && npl >= 0);
        int rc = mpx_pkt_decode(buf, (size_t)n, true, &pkt);
        if (rc != 0) {
            mpx_test_fail(__FILE__, __LINE__, "%s: rc %d", v->name, rc);
            continue;
        }
        CHECK(mpx_addr_eq(&pkt.ip.src, &v->ip.src) && mpx_addr_eq(&pkt.ip.dst, &v->ip.dst));
        CHECK(pkt.ip.ttl == v->ip.ttl && pkt.ip.tos == v->ip.tos && pkt.ip.id == v->ip.id);
        CHECK(pkt.ip.flow_label == v->ip.flow_label && pkt.ip.df == v->ip.df);
        check_tcp(v->name, &pkt.tcp, &v->tcp);
        CHECK_INT(pkt.payload_len, npl);
        CHECK(pkt.payload_len == 0 || memcmp(pkt.payload, pl, pkt.payload_len) == 0);
        CHECK(pkt.payload == buf + n - npl);
    }
}

MPX_TEST(wire_tcp_pkt_encode_vectors_exact_bytes)
{
    uint8_t buf[256], pl[64], out[256];
    for (size_t i = 0; i < ARRAY_LEN(pkt_vecs); i++) {
        const struct pkt_vec *v = &pkt_vecs[i];
        uint32_t not_fit = 0xdead;
        if (!v->encodes)
            continue;
        int n = load(v->hex, buf, sizeof(buf));
        int npl = load(v->payload, pl, sizeof(pl));
        int rc = mpx_pkt_encode(out, sizeof(out), &v->ip, &v->tcp, pl, (size_t)npl, &not_fit);
        CHECK_INT(rc, n);
        CHECK_EQ(not_fit, 0);
        if (rc == n && memcmp(out, buf, (size_t)n) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s: encoded %s", v->name,
                          mpx_test_hex(out, (size_t)n));
    }
}

MPX_TEST(wire_tcp_pkt_decode_every_truncation_rejected)
{
    uint8_t buf[256];
    for (size_t i = 0; i < ARRAY_LEN(pkt_vecs); i++) {
        struct mpx_pkt pkt;
        struct mpx_tcp_hdr th;
        int n = load(pkt_vecs[i].hex, buf, sizeof(buf));
        int hl = pkt_vecs[i].ip.version == 4
                     ? (buf[0] & 0xf) * 4
                     : n - (int)pkt_vecs[i].tcp.doff - (int)strlen(pkt_vecs[i].payload) / 2;
        for (int cut = 0; cut < n; cut++) {
            int rc = mpx_pkt_decode(buf, (size_t)cut, false, &pkt);
            if (rc != MPX_ERR_TRUNC)
                mpx_test_fail(__FILE__, __LINE__, "%s cut %d: rc %d", pkt_vecs[i].name, cut, rc);
        }
        /* The TCP header alone, cut anywhere before its doff. */
        for (int cut = 0; cut < pkt_vecs[i].tcp.doff; cut++)
            if (mpx_tcp_decode(buf + hl, (size_t)cut, &th) != MPX_ERR_TRUNC)
                mpx_test_fail(__FILE__, __LINE__, "%s tcp cut %d", pkt_vecs[i].name, cut);
    }
}

MPX_TEST(wire_tcp_pkt_decode_checksum_errors)
{
    uint8_t buf[256];
    for (size_t i = 0; i < ARRAY_LEN(pkt_vecs); i++) {
        struct mpx_pkt pkt;
        int n = load(pkt_vecs[i].hex, buf, sizeof(buf));
        int seg = n - (int)pkt_vecs[i].tcp.doff - (int)strlen(pkt_vecs[i].payload) / 2;
        /* Any single bit flipped in the segment is a checksum error... */
        for (int j = seg; j < n; j++) {
            buf[j] ^= 0x40;
            int rc = mpx_pkt_decode(buf, (size_t)n, true, &pkt);
            if (rc != MPX_ERR_CSUM)
                mpx_test_fail(__FILE__, __LINE__, "%s byte %d: rc %d", pkt_vecs[i].name, j, rc);
            buf[j] ^= 0x40;
        }
        /* ...that verify_csum = false lets through. */
        buf[seg + 16] ^= 0x40;
        CHECK_INT(mpx_pkt_decode(buf, (size_t)n, false, &pkt), 0);
    }
}

MPX_TEST(wire_tcp_pkt_decode_not_tcp_unsupp)
{
    uint8_t buf[128];
    struct mpx_pkt pkt;
    /* IPv4 UDP (checksum fixed up below). */
    int n = load("450000200000400040110000 0a000001 0a000002 00350035000c0000 00000000", buf,
                 sizeof(buf));
    uint16_t c = mpx_csum_fold(mpx_csum_add(0, buf, 20));
    buf[10] = (uint8_t)(c >> 8);
    buf[11] = (uint8_t)c;
    CHECK_INT(mpx_pkt_decode(buf, (size_t)n, true, &pkt), MPX_ERR_UNSUPP);
    /* IPv6: destination options then ICMPv6. */
    n = load("6000000000103c40 20010db8000000000000000000000001 20010db8000000000000000000000002"
             "3a00000000000000 8000000000000000",
             buf, sizeof(buf));
    CHECK_INT(mpx_pkt_decode(buf, (size_t)n, true, &pkt), MPX_ERR_UNSUPP);
    /* IPv6 fragment of TCP. */
    n = load("60000000001c2c40 20010db8000000000000000000000001 20010db8000000000000000000000002"
             "0600000100000001 0001000200000003000000005002040000000000",
             buf, sizeof(buf));
    CHECK_INT(mpx_pkt_decode(buf, (size_t)n, true, &pkt), MPX_ERR_FRAG);
}

/* ---- TCP header: malformed table -------------------------------------- */

struct hdr_bad {
    const char *name;
    const char *hex;
    int rc;
};

#define TH(doff_flags) "000100020000000300000000" doff_flags "04000000 0000"

static const struct hdr_bad hdr_bad[] = {
    {"short_19", "00010002000000030000000050020400000000", MPX_ERR_TRUNC},
    {"doff_4", TH("4002"), MPX_ERR_PROTO},
    {"doff_0", TH("0002"), MPX_ERR_PROTO},
    {"doff_past_buffer", TH("6002"), MPX_ERR_TRUNC},
    {"doff_15_past_buffer", TH("f002") "0101010101010101", MPX_ERR_TRUNC},
    {"opt_len_0", TH("6002") "02000000", MPX_ERR_PROTO},
    {"opt_len_1", TH("6002") "13010101", MPX_ERR_PROTO},
    {"opt_past_doff", TH("6002") "080a0000 0000000000000000", MPX_ERR_PROTO},
    {"opt_mss_past_doff", TH("6002") "01020405 b4", MPX_ERR_PROTO},
    {"kind_without_length", TH("6002") "01010102", MPX_ERR_PROTO},
    {"ok_doff_6_nops", TH("6002") "01010101", 24},
    {"ok_eol_then_junk", TH("6002") "00020000", 24},
};

MPX_TEST(wire_tcp_decode_header_malformed_table)
{
    uint8_t buf[128];
    for (size_t i = 0; i < ARRAY_LEN(hdr_bad); i++) {
        struct mpx_tcp_hdr th;
        int n = load(hdr_bad[i].hex, buf, sizeof(buf));
        int rc = mpx_tcp_decode(buf, (size_t)n, &th);
        if (rc != hdr_bad[i].rc)
            mpx_test_fail(__FILE__, __LINE__, "%s: rc %d want %d", hdr_bad[i].name, rc,
                          hdr_bad[i].rc);
    }
}

/* ---- option decoding table -------------------------------------------- */

struct opt_vec {
    const char *name;
    uint8_t flags;
    const char *hex;
    int rc;
    struct mpx_tcp_opts want;
};

#define SYN MPX_TH_SYN
#define ACK MPX_TH_ACK
#define RST MPX_TH_RST
#define PRIO_OPT                                                                                   \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_PRIO                                                              \
    }

static const struct opt_vec opt_vecs[] = {
    {"linux_syn",
     SYN,
     "020405b40402080a000000010000000001030307",
     0,
     {.present = MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_TS | MPX_TCPO_WSCALE,
      .mss = 1460,
      .wscale = 7,
      .ts_val = 1}},
    {"empty", ACK, "", 0, {0}},
    {"nops_only", ACK, "01010101", 0, {0}},
    {"eol_ends_list", SYN, "00020000", 0, {0}},
    {"eol_after_mss", SYN, "020405b4 00 13 00 ff", 0, {.present = MPX_TCPO_MSS, .mss = 1460}},
    {"mss_on_ack_ignored", ACK, "020405b4", 0, {0}},
    {"mss_on_synack", SYN | ACK, "02040578", 0, {.present = MPX_TCPO_MSS, .mss = 1400}},
    {"mss_len_3_bad", SYN, "02030501", 0, {.n_bad = 1}},
    {"mss_zero_bad", SYN, "02040000", 0, {.n_bad = 1}},
    {"mss_duplicate_last_wins", SYN, "0204010002040200", 0, {.present = MPX_TCPO_MSS, .mss = 512}},
    {"wscale_on_ack_ignored", ACK, "01030307", 0, {0}},
    {"wscale_len_4_bad", SYN, "03040700", 0, {.n_bad = 1}},
    {"wscale_15_kept_as_received", SYN, "0103030f", 0, {.present = MPX_TCPO_WSCALE, .wscale = 15}},
    {"sack_perm_on_ack_ignored", ACK, "01010402", 0, {0}},
    {"sack_perm_len_3_bad", SYN, "04030001", 0, {.n_bad = 1}},
    {"ts_on_ack",
     ACK,
     "0101080a0000000700000008",
     0,
     {.present = MPX_TCPO_TS, .ts_val = 7, .ts_ecr = 8}},
    {"ts_len_9_bad", ACK, "080900000007000000 01", 0, {.n_bad = 1}},
    {"sack_1_block",
     ACK,
     "0101050a0000000100000002",
     0,
     {.present = MPX_TCPO_SACK, .n_sack = 1, .sack = {{1, 2}}}},
    {"sack_4_blocks",
     ACK,
     "01010522 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008",
     0,
     {.present = MPX_TCPO_SACK, .n_sack = 4, .sack = {{1, 2}, {3, 4}, {5, 6}, {7, 8}}}},
    {"sack_on_syn_recorded",
     SYN,
     "0101050a0000000100000002",
     0,
     {.present = MPX_TCPO_SACK, .n_sack = 1, .sack = {{1, 2}}}},
    {"sack_len_11_bad", ACK, "050b000000010000000200", 0, {.n_bad = 1}},
    {"sack_len_2_bad", ACK, "01010502", 0, {.n_bad = 1}},
    {"sack_len_12_bad", ACK, "050c00000001000000020000", 0, {.n_bad = 1}},
    {"opt_len_0", SYN, "02000000", MPX_ERR_PROTO, {0}},
    {"opt_len_1", ACK, "13010000", MPX_ERR_PROTO, {0}},
    {"opt_past_area", ACK, "080a00000000", MPX_ERR_PROTO, {0}},
    {"kind_at_last_byte", ACK, "010101 08", MPX_ERR_PROTO, {0}},
    {"unknown_kinds_counted",
     ACK,
     "1312 00000000000000000000000000000000 2202 fd04abcd 0101",
     0,
     {.n_unknown = 3}},
    {"mptcp_mpc_syn",
     SYN,
     "1e040101",
     0,
     {.n_mptcp = 1,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_CAPABLE,
                 .u.mpc = {.form = MPX_FORM_SYN, .version = 1, .flags = MPX_MPC_F_H}}}}},
    {"mptcp_mpc_ack_data_22_nops",
     ACK,
     "1e160101 0102030405060708 1112131415161718 0064 0101",
     0,
     {.n_mptcp = 1,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_CAPABLE,
                 .u.mpc = {.form = MPX_FORM_ACK,
                           .version = 1,
                           .flags = MPX_MPC_F_H,
                           .snd_key = 0x0102030405060708,
                           .rcv_key = 0x1112131415161718,
                           .has_dll = true,
                           .dll = 100}}}}},
    {"mptcp_dss_ack32",
     ACK,
     "1e08200100000005",
     0,
     {.n_mptcp = 1,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 5}}}}},
    {"mptcp_dss_bad_len", ACK, "1e0520010001010101", 0, {.n_mptcp_bad = 1}},
    {"mptcp_len_2_bad", ACK, "1e020101", 0, {.n_mptcp_bad = 1}},
    {"mptcp_unknown_subtype_ignored", ACK, "1e03a001", 0, {.n_mptcp_ignored = 1}},
    {"mptcp_tcprst_on_ack_ignored", ACK, "1e048106", 0, {.n_mptcp_ignored = 1}},
    {"mptcp_tcprst_on_rst",
     RST | ACK,
     "1e048106",
     0,
     {.n_mptcp = 1,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_TCPRST,
                 .u.tcprst = {.flags = MPX_TCPRST_F_T, .reason = 6}}}}},
    {"mptcp_seven_prio_one_dropped",
     ACK,
     "1e0350 1e0350 1e0350 1e0350 1e0350 1e0350 1e0350",
     0,
     {.n_mptcp = 6,
      .n_mptcp_dropped = 1,
      .mptcp = {PRIO_OPT, PRIO_OPT, PRIO_OPT, PRIO_OPT, PRIO_OPT, PRIO_OPT}}},
    {"mixed_bad_and_good",
     ACK,
     "080900000007000000 01 0101080a0000000700000008 1e0350",
     0,
     {.present = MPX_TCPO_TS,
      .ts_val = 7,
      .ts_ecr = 8,
      .n_bad = 1,
      .n_mptcp = 1,
      .mptcp = {PRIO_OPT}}},
};

MPX_TEST(wire_tcp_opts_decode_table)
{
    uint8_t buf[64];
    for (size_t i = 0; i < ARRAY_LEN(opt_vecs); i++) {
        const struct opt_vec *v = &opt_vecs[i];
        struct mpx_tcp_opts o;
        int n = load(v->hex, buf, sizeof(buf));
        REQUIRE(n >= 0 && n <= MPX_TCP_MAX_OPT_LEN);
        int rc = mpx_tcp_opts_decode(buf, (size_t)n, v->flags, &o);
        if (rc != v->rc) {
            mpx_test_fail(__FILE__, __LINE__, "%s: rc %d want %d", v->name, rc, v->rc);
            continue;
        }
        if (rc == 0)
            check_opts(v->name, &o, &v->want);
    }
}

MPX_TEST(wire_tcp_opts_decode_area_over_40_inval)
{
    uint8_t buf[44];
    struct mpx_tcp_opts o;
    memset(buf, MPX_TCPOPT_NOP, sizeof(buf));
    CHECK_INT(mpx_tcp_opts_decode(buf, 41, ACK, &o), MPX_ERR_INVAL);
    CHECK_INT(mpx_tcp_opts_decode(buf, 40, ACK, &o), 0);
}

/* ---- encoding: Linux layouts ------------------------------------------- */

struct enc_vec {
    const char *name;
    struct mpx_tcp_opts opts;
    const char *hex; /* the option area */
    uint32_t not_fit;
};

#define TS12 "0101080a0000000100000002"
#define O_TS .ts_val = 1, .ts_ecr = 2
#define DSS28                                                                                      \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_DSS, .u.dss = {                                                   \
            .has_ack = true,                                                                       \
            .ack64 = true,                                                                         \
            .data_ack = 1,                                                                         \
            .has_map = true,                                                                       \
            .dsn64 = true,                                                                         \
            .dsn = 2,                                                                              \
            .ssn = 3,                                                                              \
            .dll = 4,                                                                              \
            .has_csum = true,                                                                      \
            .csum = 5                                                                              \
        }                                                                                          \
    }
#define DSS_ACK8                                                                                   \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 9 }                   \
    }
#define ADD_ADDR6_PORT                                                                             \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {                                         \
            .addr_id = 2,                                                                          \
            .addr = A6(0x20, 0x01, [15] = 1),                                                      \
            .has_port = true,                                                                      \
            .port = 8080,                                                                          \
            .has_hmac = true,                                                                      \
            .hmac = 0x1122334455667788                                                             \
        }                                                                                          \
    }
#define ADD_ADDR4_PORT                                                                             \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {                                         \
            .addr_id = 1,                                                                          \
            .addr = A4(10, 0, 2, 1),                                                               \
            .has_port = true,                                                                      \
            .port = 8080,                                                                          \
            .has_hmac = true,                                                                      \
            .hmac = 0x1122334455667788                                                             \
        }                                                                                          \
    }
#define SACK4 .n_sack = 4, .sack = {{1, 2}, {3, 4}, {5, 6}, {7, 8}}

static const struct enc_vec enc_vecs[] = {
    {"none", {0}, "", 0},
    {"mss", {.present = MPX_TCPO_MSS, .mss = 1460}, "020405b4", 0},
    {"ts_nop_nop", {.present = MPX_TCPO_TS, O_TS}, TS12, 0},
    {"sack_perm_alone", {.present = MPX_TCPO_SACK_PERM}, "01010402", 0},
    {"sack_perm_in_ts_word",
     {.present = MPX_TCPO_SACK_PERM | MPX_TCPO_TS, O_TS},
     "0402080a0000000100000002",
     0},
    {"wscale_nop_first", {.present = MPX_TCPO_WSCALE, .wscale = 7}, "01030307", 0},
    {"linux_syn",
     {.present = MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_TS | MPX_TCPO_WSCALE,
      .mss = 1460,
      .wscale = 7,
      O_TS},
     "020405b4 0402080a0000000100000002 01030307",
     0},
    {"linux_syn_no_ts",
     {.present = MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_WSCALE, .mss = 1460, .wscale = 7},
     "020405b4 01010402 01030307",
     0},
    {"sack_2_blocks",
     {.present = MPX_TCPO_SACK, .n_sack = 2, .sack = {{1, 2}, {3, 4}}},
     "01010512 00000001000000020000000300000004",
     0},
    {"mp_prio_nop_after",
     {.n_mptcp = 1, .mptcp = {{.subtype = MPX_MPTCP_SUB_PRIO, .u.prio.backup = true}}},
     "1e035101",
     0},
    {"mpc_syn",
     {.n_mptcp = 1,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_CAPABLE,
                 .u.mpc = {.form = MPX_FORM_SYN, .version = 1, .flags = MPX_MPC_F_H}}}},
     "1e040101",
     0},
    {"mpc_ack_data_22_nops_after",
     {.n_mptcp = 1,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_CAPABLE,
                 .u.mpc = {.form = MPX_FORM_ACK,
                           .version = 1,
                           .flags = MPX_MPC_F_H,
                           .snd_key = 1,
                           .rcv_key = 2,
                           .has_dll = true,
                           .dll = 100}}}},
     "1e160101 0000000000000001 0000000000000002 0064 0101",
     0},
    {"mpc_ack_data_csum_24",
     {.n_mptcp = 1,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_CAPABLE,
                 .u.mpc = {.form = MPX_FORM_ACK,
                           .version = 1,
                           .flags = MPX_MPC_F_A | MPX_MPC_F_H,
                           .snd_key = 1,
                           .rcv_key = 2,
                           .has_dll = true,
                           .dll = 100,
                           .has_csum = true,
                           .csum = 0xbeef}}}},
     "1e180181 0000000000000001 0000000000000002 0064 beef",
     0},
    {"dss_map32_no_csum_nops_after",
     {.n_mptcp = 1,
      .mptcp =
          {{.subtype = MPX_MPTCP_SUB_DSS,
            .u.dss =
                {.has_ack = true, .data_ack = 7, .has_map = true, .dsn = 8, .ssn = 9, .dll = 10}}}},
     "1e122005 00000007 00000008 00000009 000a 0101",
     0},
    {"add_addr4_port_hmac_nops_after",
     {.n_mptcp = 1, .mptcp = {ADD_ADDR4_PORT}},
     "1e123001 0a000201 1f90 1122334455667788 0101",
     0},
    {"rm_addr_2_ids",
     {.n_mptcp = 1,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 2, .ids = {5, 6}}}}},
     "1e054005 06010101",
     0},
    {"ts_sack_then_mptcp",
     {.present = MPX_TCPO_TS | MPX_TCPO_SACK,
      O_TS,
      .n_sack = 1,
      .sack = {{1, 2}},
      .n_mptcp = 1,
      .mptcp = {DSS_ACK8}},
     TS12 "0101050a0000000100000002 1e08200100000009",
     0},
    /* not-fit cases: SACK loses blocks from the end first... */
    {"sack_trimmed_to_3",
     {.present = MPX_TCPO_TS | MPX_TCPO_SACK, O_TS, SACK4},
     TS12 "0101051a 000000010000000200000003000000040000000500000006",
     MPX_TCPO_SACK},
    /* ...and before MPTCP, as in Linux tcp_established_options(). */
    {"sack_dropped_for_dss",
     {.present = MPX_TCPO_TS | MPX_TCPO_SACK,
      O_TS,
      .n_sack = 1,
      .sack = {{1, 2}},
      .n_mptcp = 1,
      .mptcp = {DSS28}},
     TS12 "1e1c200f 0000000000000001 0000000000000002 00000003 0004 0005",
     MPX_TCPO_SACK},
    {"mptcp_too_big_left_out_next_fits",
     {.present = MPX_TCPO_TS, O_TS, .n_mptcp = 2, .mptcp = {ADD_ADDR6_PORT, DSS_ACK8}},
     TS12 "1e08200100000009",
     MPX_TCPO_MPTCP0},
    {"syn_options_keep_priority_over_mptcp",
     {.present = MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_TS | MPX_TCPO_WSCALE,
      .mss = 1460,
      .wscale = 7,
      O_TS,
      .n_mptcp = 2,
      .mptcp = {{.subtype = MPX_MPTCP_SUB_JOIN,
                 .u.join = {.form = MPX_FORM_SYN, .addr_id = 3, .token = 4, .nonce = 5}},
                ADD_ADDR4_PORT}},
     "020405b4 0402080a0000000100000002 01030307 1e0c1003 00000004 00000005",
     MPX_TCPO_MPTCP0 << 1},
};

MPX_TEST(wire_tcp_encode_option_layouts)
{
    uint8_t want[64], out[80];
    for (size_t i = 0; i < ARRAY_LEN(enc_vecs); i++) {
        const struct enc_vec *v = &enc_vecs[i];
        struct mpx_tcp_hdr h;
        uint32_t not_fit = 0xdead;
        int n = load(v->hex, want, sizeof(want));
        memset(&h, 0, sizeof(h));
        h.flags = MPX_TH_ACK;
        h.opts = v->opts;
        memset(out, 0xa5, sizeof(out));
        int rc = mpx_tcp_encode(out, sizeof(out), &h, &not_fit);
        if (rc != MPX_TCP_HDR_LEN + n || memcmp(out + MPX_TCP_HDR_LEN, want, (size_t)n) != 0 ||
            not_fit != v->not_fit) {
            mpx_test_fail(__FILE__, __LINE__, "%s: rc %d not_fit %x opts %s", v->name, rc, not_fit,
                          rc > 20 ? mpx_test_hex(out + 20, (size_t)rc - 20) : "");
            continue;
        }
        CHECK_INT(out[12] >> 4, rc / 4);
        CHECK(out[rc] == 0xa5);
        /* Space: what was written when everything fits, more otherwise. */
        if (v->not_fit == 0)
            CHECK_INT(mpx_tcp_opts_space(&v->opts), n);
        else
            CHECK(mpx_tcp_opts_space(&v->opts) > n);
    }
}

MPX_TEST(wire_tcp_opts_space_counts_past_40)
{
    struct mpx_tcp_opts o = {
        .present = MPX_TCPO_TS | MPX_TCPO_SACK, SACK4, .n_mptcp = 1, .mptcp = {DSS28}};
    CHECK_INT(mpx_tcp_opts_space(&o), 12 + 36 + 28);
    o.present = MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_WSCALE;
    o.n_mptcp = 0;
    CHECK_INT(mpx_tcp_opts_space(&o), 12);
}

MPX_TEST(wire_tcp_encode_rejects_invalid)
{
    struct mpx_tcp_hdr h;
    uint8_t out[80];
    memset(&h, 0, sizeof(h));
    h.opts.present = MPX_TCPO_SACK;
    h.opts.n_sack = 0;
    CHECK_INT(mpx_tcp_encode(out, sizeof(out), &h, NULL), MPX_ERR_INVAL);
    h.opts.n_sack = 5;
    CHECK_INT(mpx_tcp_encode(out, sizeof(out), &h, NULL), MPX_ERR_INVAL);
    CHECK_INT(mpx_tcp_opts_space(&h.opts), MPX_ERR_INVAL);
    memset(&h, 0, sizeof(h));
    h.opts.n_mptcp = MPX_TCP_MAX_MPTCP + 1;
    CHECK_INT(mpx_tcp_encode(out, sizeof(out), &h, NULL), MPX_ERR_INVAL);
    h.opts.n_mptcp = 1;
    h.opts.mptcp[0].subtype = MPX_MPTCP_SUB_RM_ADDR; /* zero ids */
    CHECK_INT(mpx_tcp_encode(out, sizeof(out), &h, NULL), MPX_ERR_INVAL);
}

MPX_TEST(wire_tcp_encode_never_writes_past_outlen)
{
    struct mpx_tcp_hdr h;
    memset(&h, 0, sizeof(h));
    h.opts = enc_vecs[ARRAY_LEN(enc_vecs) - 1].opts; /* options that do not all fit */
    uint8_t big[80];
    int need = mpx_tcp_encode(big, sizeof(big), &h, NULL);
    REQUIRE(need == 52);
    for (int outlen = 0; outlen <= need; outlen++) {
        uint8_t out[80];
        memset(out, 0xa5, sizeof(out));
        int rc = mpx_tcp_encode(out, (size_t)outlen, &h, NULL);
        CHECK_INT(rc, outlen < need ? MPX_ERR_NOBUF : need);
        for (size_t j = (size_t)outlen; j < sizeof(out); j++)
            CHECK(out[j] == 0xa5);
    }
}

MPX_TEST(wire_tcp_pkt_encode_never_writes_past_outlen)
{
    const struct pkt_vec *v = &pkt_vecs[4]; /* IPv6 + DSS + payload */
    uint8_t pl[8];
    int npl = load(v->payload, pl, sizeof(pl));
    int need = 40 + v->tcp.doff + npl;
    for (int outlen = 0; outlen <= need; outlen++) {
        uint8_t out[160];
        memset(out, 0xa5, sizeof(out));
        int rc = mpx_pkt_encode(out, (size_t)outlen, &v->ip, &v->tcp, pl, (size_t)npl, NULL);
        CHECK_INT(rc, outlen < need ? MPX_ERR_NOBUF : need);
        for (size_t j = (size_t)outlen; j < sizeof(out); j++)
            CHECK(out[j] == 0xa5);
    }
}

MPX_TEST(wire_tcp_pkt_encode_rejects_oversize_payload)
{
    static uint8_t big[65536];
    static uint8_t out[70000];
    const struct pkt_vec *v = &pkt_vecs[0];
    /* IPv4 total length is 16 bits: 20 + 40 + payload <= 65535. */
    CHECK_INT(mpx_pkt_encode(out, sizeof(out), &v->ip, &v->tcp, big, 65535 - 59, NULL),
              MPX_ERR_INVAL);
    CHECK_INT(mpx_pkt_encode(out, sizeof(out), &v->ip, &v->tcp, big, 65535 - 60, NULL), 65535);
}

/* ---- randomized: encode never exceeds 40, decode gives back what fit ---- */

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

static void random_opts(uint32_t *x, struct mpx_tcp_opts *o)
{
    static const struct mpx_mptcp_opt pool[] = {
        DSS28,
        DSS_ACK8,
        ADD_ADDR6_PORT,
        ADD_ADDR4_PORT,
        {.subtype = MPX_MPTCP_SUB_PRIO},
        {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 8, .ids = {1, 2, 3, 4, 5, 6, 7}}},
        {.subtype = MPX_MPTCP_SUB_FAIL, .u.fail.dsn = 77},
    };
    memset(o, 0, sizeof(*o));
    o->present = lcg(x) & (MPX_TCPO_MSS | MPX_TCPO_WSCALE | MPX_TCPO_SACK_PERM | MPX_TCPO_TS |
                           MPX_TCPO_SACK);
    o->mss = (uint16_t)(lcg(x) | 1);
    o->wscale = (uint8_t)(lcg(x) % 15);
    o->ts_val = lcg(x);
    o->ts_ecr = lcg(x);
    o->n_sack = (o->present & MPX_TCPO_SACK) ? (uint8_t)(1 + lcg(x) % 4) : 0;
    for (unsigned i = 0; i < o->n_sack; i++) {
        o->sack[i].left = lcg(x);
        o->sack[i].right = lcg(x);
    }
    o->n_mptcp = (uint8_t)(lcg(x) % 4);
    for (unsigned i = 0; i < o->n_mptcp; i++)
        o->mptcp[i] = pool[lcg(x) % ARRAY_LEN(pool)];
}

MPX_TEST(wire_tcp_encode_random_bounded_and_decodes_back)
{
    uint32_t x = 42;
    for (int round = 0; round < 5000; round++) {
        struct mpx_tcp_hdr h, g;
        uint8_t out[80];
        uint32_t nf;
        memset(&h, 0, sizeof(h));
        random_opts(&x, &h.opts);
        h.flags = MPX_TH_SYN; /* so MSS, WS and SACK_PERM are read back */
        memset(out, 0xa5, sizeof(out));
        int rc = mpx_tcp_encode(out, sizeof(out), &h, &nf);
        REQUIRE(rc >= MPX_TCP_HDR_LEN && rc <= MPX_TCP_HDR_LEN + MPX_TCP_MAX_OPT_LEN);
        REQUIRE(rc % 4 == 0);
        REQUIRE(out[rc] == 0xa5);
        REQUIRE(mpx_tcp_decode(out, (size_t)rc, &g) == rc);
        CHECK_EQ(g.opts.present & ~MPX_TCPO_SACK, h.opts.present & ~MPX_TCPO_SACK & ~nf);
        if (h.opts.present & MPX_TCPO_MSS & ~nf)
            CHECK_EQ(g.opts.mss, h.opts.mss);
        if (h.opts.present & MPX_TCPO_TS & ~nf)
            CHECK(g.opts.ts_val == h.opts.ts_val && g.opts.ts_ecr == h.opts.ts_ecr);
        /* SACK: a prefix of the blocks, all of them unless marked. */
        CHECK(g.opts.n_sack <= h.opts.n_sack);
        CHECK((g.opts.n_sack == h.opts.n_sack) == !(nf & MPX_TCPO_SACK));
        for (unsigned i = 0; i < g.opts.n_sack; i++)
            CHECK(g.opts.sack[i].left == h.opts.sack[i].left);
        /* MPTCP: exactly those not marked, in order. */
        unsigned k = 0;
        for (unsigned i = 0; i < h.opts.n_mptcp; i++) {
            if (nf & (MPX_TCPO_MPTCP0 << i))
                continue;
            CHECK(k < g.opts.n_mptcp && mptcp_same(&g.opts.mptcp[k], &h.opts.mptcp[i]));
            k++;
        }
        CHECK_INT(k, g.opts.n_mptcp);
        CHECK(nf != 0 || mpx_tcp_opts_space(&h.opts) == rc - MPX_TCP_HDR_LEN);
        CHECK(nf == 0 || mpx_tcp_opts_space(&h.opts) > MPX_TCP_MAX_OPT_LEN);
        CHECK_INT(g.opts.n_bad + g.opts.n_mptcp_bad + g.opts.n_unknown, 0);
    }
}

/* ---- checksums ----------------------------------------------------------- */

MPX_TEST(wire_tcp_csum_fill_and_verify)
{
    uint8_t buf[256];
    const struct pkt_vec *v = &pkt_vecs[1]; /* IPv6, odd-length payload */
    int n = load(v->hex, buf, sizeof(buf));
    uint8_t *seg = buf + 40;
    size_t len = (size_t)n - 40;
    CHECK(mpx_tcp_csum_verify(seg, len, &v->ip.src, &v->ip.dst));
    seg[16] = seg[17] = 0x55;
    CHECK(!mpx_tcp_csum_verify(seg, len, &v->ip.src, &v->ip.dst));
    mpx_tcp_csum_fill(seg, len, &v->ip.src, &v->ip.dst);
    CHECK_EQ(mpx_load_be16(seg + 16), 0xfce0);
    CHECK(mpx_tcp_csum_verify(seg, len, &v->ip.src, &v->ip.dst));
    /* Wrong pseudo-header (swapped addresses are fine, other ones not). */
    CHECK(mpx_tcp_csum_verify(seg, len, &v->ip.dst, &v->ip.src));
    CHECK(!mpx_tcp_csum_verify(seg, len, &pkt_vecs[4].ip.src, &v->ip.dst));
    CHECK(!mpx_tcp_csum_verify(seg, len - 1, &v->ip.src, &v->ip.dst));
}

MPX_TEST(wire_tcp_pkt_decode_bad_tcp_inside_valid_ip)
{
    const struct pkt_vec *v = &pkt_vecs[0];
    uint8_t out[128];
    struct mpx_pkt pkt;
    int n = mpx_pkt_encode(out, sizeof(out), &v->ip, &v->tcp, NULL, 0, NULL);
    REQUIRE(n == 60);
    /* doff 4 with a correct TCP checksum: the header rule, not the sum. */
    out[20 + 12] = 0x40;
    mpx_tcp_csum_fill(out + 20, 40, &v->ip.src, &v->ip.dst);
    CHECK_INT(mpx_pkt_decode(out, 60, true, &pkt), MPX_ERR_PROTO);
    /* doff 15: past the 40 bytes the IP total length leaves for TCP. */
    out[20 + 12] = 0xf0;
    mpx_tcp_csum_fill(out + 20, 40, &v->ip.src, &v->ip.dst);
    CHECK_INT(mpx_pkt_decode(out, 60, true, &pkt), MPX_ERR_TRUNC);
    /* IP total length 30: 10 bytes of TCP (too short to checksum). */
    REQUIRE(mpx_ip_encode(out, 20, &v->ip, 10) == 20);
    CHECK_INT(mpx_pkt_decode(out, 60, true, &pkt), MPX_ERR_TRUNC);
    CHECK_INT(mpx_pkt_decode(out, 60, false, &pkt), MPX_ERR_TRUNC);
}

MPX_TEST(wire_tcp_opts_decode_error_leaves_nothing_behind)
{
    uint8_t buf[40];
    struct mpx_tcp_opts o;
    int n = load("020405b4 0101080a0000000700000008 02", buf, sizeof(buf));
    CHECK_INT(mpx_tcp_opts_decode(buf, (size_t)n, MPX_TH_SYN, &o), MPX_ERR_PROTO);
    CHECK_EQ(o.present, 0);
    CHECK_EQ(o.mss, 0);
    CHECK_EQ(o.ts_val, 0);
}
