/*
 * codec_oracle.c - builds one TCP segment per MPTCP option form of RFC 8684
 * with our codec (mpx_pkt_encode) and writes
 *   argv[1]: a pcap file (LINKTYPE_RAW, 101: packets start at the IP header)
 *   argv[2]: JSON lines, one per packet: {"frame": N, "name": ..., "fields":
 *            {tshark field name: expected value}}
 * tests/test_codec_tshark.py then asks tshark to dissect the pcap and
 * compares every field, so an independent dissector checks our bytes.
 *
 * Expected values are derived from the option structs here, field by field,
 * with tshark's field names (tshark -G fields | grep mptcp). Integers are
 * JSON numbers; addresses and byte strings are JSON strings; a field that
 * occurs several times in one packet (REMOVE_ADDR ids) is a JSON array.
 *
 * Test tool, not core: stdio is fine here.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "wire_ip.h"
#include "wire_mptcp.h"
#include "wire_tcp.h"

#define F_MPTCP      "tcp.options.mptcp."
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct oracle_case {
    const char *name;
    int ipv;       /* 4 or 6 */
    uint8_t flags; /* TCP flags */
    bool linux_syn_opts;
    bool ts;
    const char *payload;
    struct mpx_mptcp_opt opt;
};

#define SYN  MPX_TH_SYN
#define SYNA (MPX_TH_SYN | MPX_TH_ACK)
#define ACK  MPX_TH_ACK
#define PACK (MPX_TH_PSH | MPX_TH_ACK)
#define RSTA (MPX_TH_RST | MPX_TH_ACK)
#define KA   0x0102030405060708ull
#define KB   0x1112131415161718ull
#define MPC(form_, fl, ...)                                                                        \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {                                               \
            .form = form_,                                                                         \
            .version = 1,                                                                          \
            .flags = fl,                                                                           \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
#define DSS(...)                                                                                   \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_DSS, .u.dss = { __VA_ARGS__ }                                     \
    }
#define V4ADDR(b0, b1, b2, b3)                                                                     \
    {                                                                                              \
        .family = MPX_AF_INET, .a = { b0, b1, b2, b3 }                                             \
    }
#define V6ADDR(...)                                                                                \
    {                                                                                              \
        .family = MPX_AF_INET6, .a = { __VA_ARGS__ }                                               \
    }
#define ADD_ADDR(...)                                                                              \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = { __VA_ARGS__ }                           \
    }
#define JOIN(...)                                                                                  \
    {                                                                                              \
        .subtype = MPX_MPTCP_SUB_JOIN, .u.join = { __VA_ARGS__ }                                   \
    }

static const struct oracle_case cases[] = {
    /* MP_CAPABLE (RFC 8684 section 3.1): 4 / 12 / 20 / 22 / 24 */
    {"mpc_syn_4", 4, SYN, true, false, NULL, MPC(MPX_FORM_SYN, MPX_MPC_F_H)},
    {"mpc_syn_4_csum_v6", 6, SYN, true, false, NULL, MPC(MPX_FORM_SYN, MPX_MPC_F_A | MPX_MPC_F_H)},
    {"mpc_synack_12", 4, SYNA, true, false, NULL, MPC(MPX_FORM_SYNACK, MPX_MPC_F_H, .snd_key = KB)},
    {"mpc_synack_12_v6", 6, SYNA, true, false, NULL,
     MPC(MPX_FORM_SYNACK, MPX_MPC_F_C | MPX_MPC_F_H, .snd_key = KB)},
    {"mpc_ack_20", 4, ACK, false, true, NULL,
     MPC(MPX_FORM_ACK, MPX_MPC_F_H, .snd_key = KA, .rcv_key = KB)},
    {"mpc_ack_data_22", 4, PACK, false, true, "GET / HTTP/1.0\r\n\r\n",
     MPC(MPX_FORM_ACK, MPX_MPC_F_H, .snd_key = KA, .rcv_key = KB, .has_dll = true, .dll = 18)},
    {"mpc_ack_data_24_csum", 4, PACK, false, true, "hello",
     MPC(MPX_FORM_ACK, MPX_MPC_F_A | MPX_MPC_F_H, .snd_key = KA, .rcv_key = KB, .has_dll = true,
         .dll = 5, .has_csum = true, .csum = 0x1234)},
    /* MP_JOIN (section 3.2): 12 / 16 / 24 */
    {"join_syn_12", 4, SYN, true, false, NULL,
     JOIN(.form = MPX_FORM_SYN, .backup = true, .addr_id = 3, .token = 0x66840dda,
          .nonce = 0x01020304)},
    {"join_syn_12_v6", 6, SYN, true, false, NULL,
     JOIN(.form = MPX_FORM_SYN, .addr_id = 7, .token = 0x6893a08c, .nonce = 0xfffffffe)},
    {"join_synack_16", 4, SYNA, true, false, NULL,
     JOIN(.form = MPX_FORM_SYNACK, .addr_id = 0, .thmac = 0x65ee096833f661d9ull,
          .nonce = 0x05060708)},
    {"join_ack_24", 4, ACK, false, true, NULL,
     JOIN(.form = MPX_FORM_ACK,
          .hmac = {0x24, 0xbd, 0xde, 0x08, 0xdf, 0xc5, 0x5c, 0x9b, 0x41, 0x85,
                   0xe1, 0xb5, 0x6b, 0x2f, 0x89, 0xdb, 0x24, 0x1a, 0xc0, 0xf2})},
    /* DSS (section 3.3) */
    {"dss_ack32", 4, ACK, false, true, NULL, DSS(.has_ack = true, .data_ack = 0xdeadbeef)},
    {"dss_ack64", 4, ACK, false, true, NULL,
     DSS(.has_ack = true, .ack64 = true, .data_ack = 0xfedcba9876543210ull)},
    {"dss_ack32_map32", 4, PACK, false, true, "abcdefgh",
     DSS(.has_ack = true, .data_ack = 100, .has_map = true, .dsn = 5000, .ssn = 1, .dll = 8)},
    {"dss_ack64_map64", 4, PACK, false, false, "abcdefgh",
     DSS(.has_ack = true, .ack64 = true, .data_ack = KA, .has_map = true, .dsn64 = true, .dsn = KB,
         .ssn = 0x10000, .dll = 8)},
    {"dss_ack64_map64_csum", 4, PACK, false, true, "xyz",
     DSS(.has_ack = true, .ack64 = true, .data_ack = KA, .has_map = true, .dsn64 = true, .dsn = KB,
         .ssn = 1, .dll = 3, .has_csum = true, .csum = 0xabcd)},
    {"dss_map64_csum_v6", 6, PACK, false, true, "0123456789",
     DSS(.has_map = true, .dsn64 = true, .dsn = 0x8000000000000001ull, .ssn = 77, .dll = 10,
         .has_csum = true, .csum = 0x0102)},
    {"dss_data_fin_map", 4, ACK, false, true, NULL,
     DSS(.data_fin = true, .has_ack = true, .data_ack = 9, .has_map = true, .dsn = 1234, .ssn = 0,
         .dll = 1)},
    {"dss_data_fin_ack64_map64_v6", 6, ACK, false, true, NULL,
     DSS(.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 9, .has_map = true,
         .dsn64 = true, .dsn = 1234, .ssn = 0, .dll = 1)},
    {"dss_infinite_map", 4, PACK, false, true, "data",
     DSS(.has_ack = true, .data_ack = 1, .has_map = true, .dsn = 42, .ssn = 0, .dll = 0)},
    /* ADD_ADDR (section 3.4.1) */
    {"add_addr_v4", 4, ACK, false, true, NULL,
     ADD_ADDR(.addr_id = 1, .addr = V4ADDR(10, 0, 2, 1), .has_hmac = true,
              .hmac = 0x014b3007310c639cull)},
    {"add_addr_v4_port", 4, ACK, false, true, NULL,
     ADD_ADDR(.addr_id = 1, .addr = V4ADDR(10, 0, 2, 1), .has_port = true, .port = 8080,
              .has_hmac = true, .hmac = 0xb08c3eb910379895ull)},
    {"add_addr_v6", 6, ACK, false, true, NULL,
     ADD_ADDR(.addr_id = 2, .addr = V6ADDR(0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 0x20),
              .has_hmac = true, .hmac = KA)},
    {"add_addr_v6_port", 6, ACK, false, false, NULL,
     ADD_ADDR(.addr_id = 200, .addr = V6ADDR(0xfe, 0x80, [14] = 0xab, [15] = 0xcd),
              .has_port = true, .port = 443, .has_hmac = true, .hmac = KB)},
    {"add_addr_v4_echo", 4, ACK, false, true, NULL,
     ADD_ADDR(.echo = true, .addr_id = 1, .addr = V4ADDR(10, 0, 2, 1))},
    {"add_addr_v4_port_echo", 4, ACK, false, true, NULL,
     ADD_ADDR(.echo = true, .addr_id = 1, .addr = V4ADDR(192, 168, 1, 1), .has_port = true,
              .port = 65535)},
    {"add_addr_v6_echo", 6, ACK, false, true, NULL,
     ADD_ADDR(.echo = true, .addr_id = 4, .addr = V6ADDR(0x20, 0x01, 0x0d, 0xb8, [15] = 1))},
    {"add_addr_v6_port_echo", 6, ACK, false, false, NULL,
     ADD_ADDR(.echo = true, .addr_id = 5, .addr = V6ADDR(0x20, 0x01, 0x0d, 0xb8, [15] = 5),
              .has_port = true, .port = 1)},
    /* REMOVE_ADDR, MP_PRIO, MP_FAIL, MP_FASTCLOSE, MP_TCPRST (3.4.2, 3.3.8, 3.7, 3.5, 3.6) */
    {"rm_addr_1",
     4,
     ACK,
     false,
     true,
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 1, .ids = {5}}}},
    {"rm_addr_3",
     4,
     ACK,
     false,
     true,
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 3, .ids = {1, 2, 250}}}},
    {"rm_addr_8_v6",
     6,
     ACK,
     false,
     false,
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR,
      .u.rm_addr = {.n_ids = 8, .ids = {1, 2, 3, 4, 5, 6, 7, 8}}}},
    {"mp_prio_backup",
     4,
     ACK,
     false,
     true,
     NULL,
     {.subtype = MPX_MPTCP_SUB_PRIO, .u.prio = {.backup = true}}},
    {"mp_prio_nobackup_v6", 6, ACK, false, true, NULL, {.subtype = MPX_MPTCP_SUB_PRIO}},
    {"mp_fail",
     4,
     ACK,
     false,
     true,
     NULL,
     {.subtype = MPX_MPTCP_SUB_FAIL, .u.fail = {.dsn = 0x0123456789abcdefull}}},
    {"mp_fastclose",
     4,
     ACK,
     false,
     false,
     NULL,
     {.subtype = MPX_MPTCP_SUB_FASTCLOSE, .u.fastclose = {.key = KB}}},
    {"mp_fastclose_rst_v6",
     6,
     RSTA,
     false,
     false,
     NULL,
     {.subtype = MPX_MPTCP_SUB_FASTCLOSE, .u.fastclose = {.key = KA}}},
    {"mp_tcprst_transient",
     4,
     RSTA,
     false,
     false,
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.flags = MPX_TCPRST_F_T, .reason = 6}}},
    {"mp_tcprst_uvw_v6",
     6,
     RSTA,
     false,
     false,
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST,
      .u.tcprst = {.flags = MPX_TCPRST_F_U | MPX_TCPRST_F_V | MPX_TCPRST_F_W, .reason = 1}}},
};

/* ---- JSON line builder ------------------------------------------------- */

struct jl {
    char buf[4096];
    size_t len;
    int n_fields;
};

static void jl_raw(struct jl *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jl_raw(struct jl *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(j->buf + j->len, sizeof(j->buf) - j->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        j->len += (size_t)n < sizeof(j->buf) - j->len ? (size_t)n : sizeof(j->buf) - j->len - 1;
}

static void jl_key_full(struct jl *j, const char *field)
{
    jl_raw(j, "%s\"%s\": ", j->n_fields++ ? ", " : "", field);
}

static void jl_key(struct jl *j, const char *field)
{
    jl_raw(j, "%s\"" F_MPTCP "%s\": ", j->n_fields++ ? ", " : "", field);
}

/* f_int/f_str name tcp.options.mptcp.* fields, h_int/h_str full names. */
static void f_int(struct jl *j, const char *field, uint64_t v)
{
    jl_key(j, field);
    jl_raw(j, "%" PRIu64, v);
}

static void f_str(struct jl *j, const char *field, const char *s)
{
    jl_key(j, field);
    jl_raw(j, "\"%s\"", s);
}

static void h_int(struct jl *j, const char *field, uint64_t v)
{
    jl_key_full(j, field);
    jl_raw(j, "%" PRIu64, v);
}

static void h_str(struct jl *j, const char *field, const char *s)
{
    jl_key_full(j, field);
    jl_raw(j, "\"%s\"", s);
}

/* ---- expected fields per option form ------------------------------------ */

static void expect_mpc(struct jl *j, const struct mpx_opt_mpc *m)
{
    f_int(j, "version", m->version);
    f_int(j, "flags", m->flags);
    f_int(j, "checksumreq.flags", (m->flags & MPX_MPC_F_A) != 0);
    f_int(j, "extensibility.flag", (m->flags & MPX_MPC_F_B) != 0);
    f_int(j, "nomoresubflows.flag", (m->flags & MPX_MPC_F_C) != 0);
    f_int(j, "sha256.flag", (m->flags & MPX_MPC_F_H) != 0);
    if (m->form != MPX_FORM_SYN)
        f_int(j, "sendkey", m->snd_key);
    if (m->form == MPX_FORM_ACK)
        f_int(j, "recvkey", m->rcv_key);
    if (m->has_dll)
        f_int(j, "datalvllen", m->dll);
    if (m->has_csum)
        f_int(j, "checksum", m->csum);
}

static void expect_join(struct jl *j, const struct mpx_opt_join *o)
{
    char hex[41];
    switch (o->form) {
    case MPX_FORM_SYN:
        f_int(j, "backup.flag", o->backup);
        f_int(j, "addrid", o->addr_id);
        f_int(j, "recvtok", o->token);
        f_int(j, "sendrand", o->nonce);
        break;
    case MPX_FORM_SYNACK:
        f_int(j, "backup.flag", o->backup);
        f_int(j, "addrid", o->addr_id);
        f_int(j, "sendtrunchmac", o->thmac);
        f_int(j, "sendrand", o->nonce);
        break;
    case MPX_FORM_ACK:
        for (int i = 0; i < 20; i++)
            snprintf(hex + 2 * i, 3, "%02x", o->hmac[i]);
        f_str(j, "sendhmac", hex);
        break;
    }
}

static void expect_dss(struct jl *j, const struct mpx_opt_dss *d)
{
    f_int(j, "datafin.flag", d->data_fin);
    f_int(j, "dseqn8.flag", d->dsn64);
    f_int(j, "dseqnpresent.flag", d->has_map);
    f_int(j, "dataack8.flag", d->ack64);
    f_int(j, "dataackpresent.flag", d->has_ack);
    if (d->has_ack)
        f_int(j, "rawdataack", d->data_ack);
    if (d->has_map) {
        f_int(j, "rawdataseqno", d->dsn);
        f_int(j, "subflowseqno", d->ssn);
        f_int(j, "datalvllen", d->dll);
    }
    if (d->has_csum)
        f_int(j, "checksum", d->csum);
}

static void expect_add_addr(struct jl *j, const struct mpx_opt_add_addr *a)
{
    char text[64];
    f_int(j, "echo", a->echo);
    f_int(j, "addrid", a->addr_id);
    f_str(j, a->addr.family == MPX_AF_INET ? "ipv4" : "ipv6",
          mpx_addr_fmt(&a->addr, text, sizeof(text)));
    if (a->has_port)
        f_int(j, "port", a->port);
    if (a->has_hmac)
        f_int(j, "addaddrtrunchmac", a->hmac);
}

static void expect_fields(struct jl *j, const struct mpx_mptcp_opt *o)
{
    f_int(j, "subtype", o->subtype);
    switch (o->subtype) {
    case MPX_MPTCP_SUB_CAPABLE:
        expect_mpc(j, &o->u.mpc);
        break;
    case MPX_MPTCP_SUB_JOIN:
        expect_join(j, &o->u.join);
        break;
    case MPX_MPTCP_SUB_DSS:
        expect_dss(j, &o->u.dss);
        break;
    case MPX_MPTCP_SUB_ADD_ADDR:
        expect_add_addr(j, &o->u.add_addr);
        break;
    case MPX_MPTCP_SUB_RM_ADDR:
        jl_key(j, "addrid");
        jl_raw(j, "[");
        for (unsigned i = 0; i < o->u.rm_addr.n_ids; i++)
            jl_raw(j, "%s%u", i ? ", " : "", o->u.rm_addr.ids[i]);
        jl_raw(j, "]");
        break;
    case MPX_MPTCP_SUB_PRIO:
        f_int(j, "backup.flag", o->u.prio.backup);
        break;
    case MPX_MPTCP_SUB_FAIL:
        f_int(j, "rawdataseqno", o->u.fail.dsn);
        break;
    case MPX_MPTCP_SUB_FASTCLOSE:
        f_int(j, "recvkey", o->u.fastclose.key);
        break;
    case MPX_MPTCP_SUB_TCPRST:
        f_int(j, "flag_U.flag", (o->u.tcprst.flags & MPX_TCPRST_F_U) != 0);
        f_int(j, "flag_V.flag", (o->u.tcprst.flags & MPX_TCPRST_F_V) != 0);
        f_int(j, "flag_W.flag", (o->u.tcprst.flags & MPX_TCPRST_F_W) != 0);
        f_int(j, "flag_T.flag", (o->u.tcprst.flags & MPX_TCPRST_F_T) != 0);
        f_int(j, "rst_reason", o->u.tcprst.reason);
        break;
    default:
        break;
    }
}

/* The IP and TCP header fields around the option, so that tshark checks
 * the rest of what mpx_pkt_encode wrote too. */
static void expect_headers(struct jl *j, const struct mpx_ip_hdr *ip, const struct mpx_tcp_hdr *th,
                           int tcp_hdr_len, size_t payload_len)
{
    char a[64];
    bool v4 = ip->version == 4;
    h_str(j, v4 ? "ip.src" : "ipv6.src", mpx_addr_fmt(&ip->src, a, sizeof(a)));
    h_str(j, v4 ? "ip.dst" : "ipv6.dst", mpx_addr_fmt(&ip->dst, a, sizeof(a)));
    h_int(j, v4 ? "ip.ttl" : "ipv6.hlim", ip->ttl);
    h_int(j, v4 ? "ip.dsfield" : "ipv6.tclass", ip->tos);
    if (v4) {
        h_int(j, "ip.id", ip->id);
        h_int(j, "ip.flags.df", ip->df);
    } else {
        h_int(j, "ipv6.flow", ip->flow_label);
    }
    h_int(j, "tcp.srcport", th->sport);
    h_int(j, "tcp.dstport", th->dport);
    h_int(j, "tcp.seq_raw", th->seq);
    if (th->flags & MPX_TH_ACK)
        h_int(j, "tcp.ack_raw", th->ack);
    h_int(j, "tcp.flags", th->flags);
    h_int(j, "tcp.window_size_value", th->win);
    h_int(j, "tcp.hdr_len", (uint64_t)tcp_hdr_len);
    h_int(j, "tcp.len", payload_len);
    if (th->opts.present & MPX_TCPO_MSS)
        h_int(j, "tcp.options.mss_val", th->opts.mss);
    if (th->opts.present & MPX_TCPO_WSCALE)
        h_int(j, "tcp.options.wscale.shift", th->opts.wscale);
    if (th->opts.present & MPX_TCPO_TS) {
        h_int(j, "tcp.options.timestamp.tsval", th->opts.ts_val);
        h_int(j, "tcp.options.timestamp.tsecr", th->opts.ts_ecr);
    }
}

/* ---- packets and pcap ---------------------------------------------------- */

static void put_le32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

static void put_le16(FILE *f, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    fwrite(b, 1, 2, f);
}

/* libpcap file format, little-endian, microsecond timestamps. */
static void pcap_header(FILE *f)
{
    put_le32(f, 0xa1b2c3d4);
    put_le16(f, 2);
    put_le16(f, 4);
    put_le32(f, 0); /* thiszone */
    put_le32(f, 0); /* sigfigs */
    put_le32(f, 65535);
    put_le32(f, 101); /* LINKTYPE_RAW */
}

static void pcap_record(FILE *f, unsigned idx, const uint8_t *p, size_t len)
{
    put_le32(f, 1700000000u + idx);
    put_le32(f, 0);
    put_le32(f, (uint32_t)len);
    put_le32(f, (uint32_t)len);
    fwrite(p, 1, len, f);
}

static void fill_headers(const struct oracle_case *c, unsigned idx, struct mpx_ip_hdr *ip,
                         struct mpx_tcp_hdr *th)
{
    memset(ip, 0, sizeof(*ip));
    memset(th, 0, sizeof(*th));
    ip->version = (uint8_t)c->ipv;
    ip->ttl = 64;
    ip->df = true;
    ip->id = (uint16_t)(idx * 257);
    ip->tos = (uint8_t)(idx << 2); /* DSCP only: tshark flags ECN bits */
    if (c->ipv == 4) {
        ip->src = mpx_addr_v4(0x0a000001);
        ip->dst = mpx_addr_v4(0x0a000002);
    } else {
        static const uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
        static const uint8_t d6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
        ip->src.family = ip->dst.family = MPX_AF_INET6;
        memcpy(ip->src.a, s6, 16);
        memcpy(ip->dst.a, d6, 16);
        ip->flow_label = (0x10000u * idx + idx) & 0xfffff;
    }
    /* One port pair per packet: tshark sees unrelated streams. */
    th->sport = (uint16_t)(40000 + idx);
    th->dport = 80;
    th->seq = 1000 * idx + 1;
    th->ack = (c->flags & MPX_TH_ACK) ? 5000 + idx : 0;
    th->flags = c->flags;
    th->win = 64240;
    if (c->linux_syn_opts) {
        th->opts.present |= MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_TS | MPX_TCPO_WSCALE;
        th->opts.mss = 1460;
        th->opts.wscale = 7;
    }
    if (c->ts || c->linux_syn_opts) {
        th->opts.present |= MPX_TCPO_TS;
        th->opts.ts_val = 100 + idx;
        th->opts.ts_ecr = (c->flags & MPX_TH_ACK) ? 50 + idx : 0;
    }
    th->opts.n_mptcp = 1;
    th->opts.mptcp[0] = c->opt;
}

/* Encodes |c| (ports from |idx|), appends the packet to the pcap and its
 * expected fields to the JSON lines. */
static int emit(FILE *pcap, FILE *jsonl, const struct oracle_case *c, unsigned idx, unsigned *frame)
{
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr th;
    struct jl j = {.len = 0};
    uint8_t pkt[256];
    uint32_t not_fit = 0;
    const char *pl = c->payload ? c->payload : "";
    int n;

    fill_headers(c, idx, &ip, &th);
    n = mpx_pkt_encode(pkt, sizeof(pkt), &ip, &th, (const uint8_t *)pl, strlen(pl), &not_fit);
    if (n < 0 || not_fit) {
        fprintf(stderr, "codec_oracle: %s: encode %d (%s) not_fit %x\n", c->name, n,
                mpx_strerror(n), not_fit);
        return -1;
    }
    pcap_record(pcap, (*frame)++, pkt, (size_t)n);
    expect_fields(&j, &th.opts.mptcp[0]);
    expect_headers(&j, &ip, &th, n - mpx_ip_hdr_len(&ip) - (int)strlen(pl), strlen(pl));
    fprintf(jsonl, "{\"frame\": %u, \"name\": \"%s\", \"ip\": %d, \"fields\": {%s}}\n", *frame,
            c->name, c->ipv, j.buf);
    return 0;
}

int main(int argc, char **argv)
{
    FILE *pcap, *jsonl;
    int fails = 0;
    unsigned frame = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: %s OUT.pcap OUT.jsonl\n", argv[0]);
        return 2;
    }
    pcap = fopen(argv[1], "wb");
    jsonl = fopen(argv[2], "w");
    if (!pcap || !jsonl) {
        perror("codec_oracle: open");
        return 2;
    }
    pcap_header(pcap);
    for (unsigned i = 0; i < ARRAY_LEN(cases); i++) {
        if (emit(pcap, jsonl, &cases[i], i + 1, &frame) < 0)
            fails++;
    }
    if (fclose(pcap) != 0 || fclose(jsonl) != 0) {
        perror("codec_oracle: close");
        return 2;
    }
    return fails ? 1 : 0;
}
