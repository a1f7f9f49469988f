/*
 * mptcp_dpin_test.c - tests that pin the project's reading of
 * draft-baerts-tcpm-mptcpext-00 where the draft leaves room (NOTES.md
 * section 2: D9, D25-D29; docs/draft-interpretation.md names each test).
 *
 * Two stacks back to back (mptcp_b2b.h). Every packet a host sends is
 * recorded as it left the host, before any middlebox edit of the test, so
 * the checks read the bytes on the wire. Tokens, IDSNs, HMACs and DSS
 * checksums are recomputed here from the crypto.h primitives and a local
 * ones' complement sum, not with the core's helpers.
 */
#include <stdlib.h>

#include "conv.h"
#include "crypto.h"
#include "err.h"
#include "mpx_test.h"
#include "mptcp_b2b.h"
#include "mptcp_stack.h"

#define DP_MAXREC  1024
#define DP_PAYLOAD 1600

/* One packet as a host sent it. */
struct dp_rec {
    int from; /* 0 client, 1 server */
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr tcp; /* decoded, options included */
    uint8_t raw[40];        /* the raw TCP option area */
    uint8_t rawlen;
    uint16_t plen;
    uint8_t payload[DP_PAYLOAD]; /* the first DP_PAYLOAD bytes */
};

/* A scripted randomness source: |script| first, then xorshift. */
struct dp_rand {
    uint64_t script[4];
    int n, i;
    uint64_t x;
};

struct dp_host {
    enum mpx_ext_policy pol;
    bool csum;
    bool deny_join0; /* allow_join_initial_addr_port = false: C set */
    bool scripted;   /* rand from |rs| */
};

struct dp;
/* Middlebox of a test: sees the decoded packet after it was recorded;
 * returns the new length (0 drops). */
typedef size_t (*dp_edit_fn)(struct dp *d, int from, uint8_t *pkt, size_t len,
                             const struct mpx_pkt *p);

struct dp {
    struct b2b b; /* first: the mangle hook casts back */
    struct dp_host host[2];
    struct dp_rand rs[2];
    dp_edit_fn edit;
    int count;           /* for the edit hooks */
    bool strip;          /* strip every MPTCP option from now on */
    unsigned sub[2][16]; /* MPTCP options sent per host and subtype (raw) */
    unsigned data_pkts;
    struct dp_rec *rec;
    int nrec;
};

static uint64_t dp_rand_fn(void *ctx)
{
    struct dp_rand *r = ctx;
    if (r->i < r->n)
        return r->script[r->i++];
    uint64_t x = r->x;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return r->x = x;
}

static void dp_tweak(int k, struct mpx_stack_config *cfg, void *arg)
{
    struct dp *d = arg;
    const struct dp_host *h = &d->host[k];
    cfg->ext_policy = h->pol;
    cfg->checksum = h->csum;
    cfg->allow_join_initial_addr_port = !h->deny_join0;
    if (h->scripted) {
        d->rs[k].x = 0x243f6a8885a308d3ull + (uint64_t)k;
        cfg->rand = dp_rand_fn;
        cfg->rand_ctx = &d->rs[k];
    }
}

/* Counts every MPTCP option (kind 30) of a raw option area by subtype. */
static void dp_count_raw(struct dp *d, int from, const uint8_t *o, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (o[i] == 0)
            break;
        if (o[i] == 1 || i + 1 >= n || o[i + 1] < 2) {
            i++;
            continue;
        }
        if (o[i] == MPX_TCPOPT_MPTCP && o[i + 1] >= 3 && i + 2 < n)
            d->sub[from][o[i + 2] >> 4]++;
        i += o[i + 1];
    }
}

/* Re-encodes |p| with |th|'s options into |pkt|; 0 if they do not fit. */
static size_t dp_reencode(uint8_t *pkt, const struct mpx_pkt *p, const struct mpx_tcp_hdr *th)
{
    static uint8_t payload[70000];
    memcpy(payload, p->payload, p->payload_len);
    int n = mpx_pkt_encode(pkt, 70000, &p->ip, th, payload, p->payload_len, NULL);
    return n > 0 ? (size_t)n : 0;
}

static size_t dp_strip(uint8_t *pkt, const struct mpx_pkt *p)
{
    struct mpx_tcp_hdr th = p->tcp;
    th.opts.n_mptcp = 0;
    return dp_reencode(pkt, p, &th);
}

static size_t dp_hook(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct dp *d = (struct dp *)b;
    struct mpx_pkt p;
    if (mpx_pkt_decode(pkt, len, true, &p) < 0)
        return len;
    const uint8_t *t = pkt + p.ip.hdr_len;
    size_t olen = p.tcp.doff > 20 ? (size_t)p.tcp.doff - 20 : 0;
    dp_count_raw(d, from, t + 20, olen);
    if (p.payload_len)
        d->data_pkts++;
    if (d->nrec < DP_MAXREC) {
        struct dp_rec *r = &d->rec[d->nrec++];
        r->from = from;
        r->ip = p.ip;
        r->tcp = p.tcp;
        r->rawlen = (uint8_t)olen;
        memcpy(r->raw, t + 20, olen);
        r->plen = (uint16_t)p.payload_len;
        memcpy(r->payload, p.payload, p.payload_len < DP_PAYLOAD ? p.payload_len : DP_PAYLOAD);
    }
    if (d->edit)
        len = d->edit(d, from, pkt, len, &p);
    if (len && d->strip)
        len = dp_strip(pkt, &p);
    return len;
}

static struct dp *dp_new(uint64_t seed, const struct dp_host *c, const struct dp_host *s)
{
    struct dp *d = calloc(1, sizeof(*d));
    d->rec = calloc(DP_MAXREC, sizeof(*d->rec));
    d->host[0] = *c;
    d->host[1] = *s;
    b2b_init(&d->b, seed, dp_tweak, d);
    d->b.mangle = dp_hook;
    return d;
}

static void dp_free(struct dp *d)
{
    b2b_free(&d->b);
    free(d->rec);
    free(d);
}

static void dp_run(struct dp *d, uint64_t ns)
{
    b2b_run(&d->b, d->b.now + ns);
}

static void dp_clear(struct dp *d)
{
    d->nrec = 0;
    memset(d->sub, 0, sizeof(d->sub));
}

/* Connects with |pol| (the server's policy is its config), runs 1 s and
 * accepts; *sid 0 if nothing to accept. */
static long dp_connect(struct dp *d, enum mpx_ext_policy pol, uint32_t *sid)
{
    long cid = mpx_stack_connect_ext(d->b.st[0], NULL, &d->b.addr[1][0], 80, pol, d->b.now);
    *sid = 0;
    if (cid <= 0)
        return cid;
    dp_run(d, MPX_NS_PER_S);
    long s = mpx_stack_accept(d->b.st[1], 80);
    if (s > 0)
        *sid = (uint32_t)s;
    return cid;
}

static uint8_t dp_pat(uint64_t i)
{
    return (uint8_t)(i * 131 + (i >> 9) + 7);
}

/* Bytes host |src| sends (patterned) and the other reads within |limit|;
 * *intact false if one differs. */
static uint64_t dp_xfer_n(struct dp *d, int src, uint32_t sc, uint32_t rc, uint64_t n,
                          uint64_t limit, bool *intact)
{
    static uint8_t buf[16384];
    uint64_t sent = 0, got = 0, end = d->b.now + limit;
    *intact = true;
    while (got < n && d->b.now < end) {
        while (sent < n) {
            size_t k = n - sent < sizeof(buf) ? (size_t)(n - sent) : sizeof(buf);
            for (size_t i = 0; i < k; i++)
                buf[i] = dp_pat(sent + i);
            long w = mpx_conn_send(d->b.st[src], sc, buf, k, d->b.now);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
        }
        for (long r; (r = mpx_conn_recv(d->b.st[!src], rc, buf, sizeof(buf), d->b.now)) > 0;) {
            for (long i = 0; i < r; i++)
                *intact &= buf[i] == dp_pat(got + (uint64_t)i);
            got += (uint64_t)r;
        }
        dp_run(d, 10 * MPX_NS_PER_MS);
    }
    return got;
}

/* Host |src| sends |n| patterned bytes on its connection |sc|, the other
 * host reads them on |rc|; true if all arrive intact within |limit| ns. */
static bool dp_xfer(struct dp *d, int src, uint32_t sc, uint32_t rc, uint64_t n, uint64_t limit)
{
    bool intact;
    return dp_xfer_n(d, src, sc, rc, n, limit, &intact) == n && intact;
}

static const struct mpx_mptcp_opt *dp_opt(const struct dp_rec *r, enum mpx_mptcp_subtype st)
{
    for (uint8_t i = 0; i < r->tcp.opts.n_mptcp; i++)
        if (r->tcp.opts.mptcp[i].subtype == st)
            return &r->tcp.opts.mptcp[i];
    return NULL;
}

/* The raw bytes of the first MPTCP option of subtype |st| in |r|. */
static const uint8_t *dp_raw(const struct dp_rec *r, unsigned st)
{
    for (size_t i = 0; i < r->rawlen;) {
        const uint8_t *o = r->raw + i;
        if (o[0] == 0)
            break;
        if (o[0] == 1 || i + 1 >= r->rawlen || o[1] < 2) {
            i++;
            continue;
        }
        if (o[0] == MPX_TCPOPT_MPTCP && o[1] >= 3 && (o[2] >> 4) == st)
            return o;
        i += o[1];
    }
    return NULL;
}

/* ---- independent computations ------------------------------------------ */

/* RFC 8684 section 3.1: token = most significant 32 bits of SHA-256(key). */
static uint32_t dp_token_of_key(uint64_t key)
{
    uint8_t k[8], h[32];
    mpx_put_be64(k, key);
    if (mpx_sha256(k, 8, h) < 0)
        return 0;
    return mpx_load_be32(h);
}

/* NOTES D8: IDSN = least significant 64 bits of SHA-256(token, 4 bytes). */
static uint64_t dp_idsn_of_token(uint32_t token)
{
    uint8_t t[4], h[32];
    mpx_put_be32(t, token);
    if (mpx_sha256(t, 4, h) < 0)
        return 0;
    return mpx_load_be64(h + 24);
}

static uint32_t dp_sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

/* RFC 8684 section 3.3.1: TCP-style checksum over {DSN 64, SSN 32, DLL 16,
 * zero 16} and the payload; the value a sender puts in the field. */
static uint16_t dp_dss_csum(uint64_t dsn, uint32_t ssn, uint16_t dll, const uint8_t *p, size_t n)
{
    uint8_t ph[16] = {0};
    mpx_put_be16(mpx_put_be32(mpx_put_be64(ph, dsn), ssn), dll);
    uint32_t sum = dp_sum16(dp_sum16(0, ph, sizeof(ph)), p, n);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint64_t dp_left64(const uint8_t h[32])
{
    return mpx_load_be64(h);
}

static uint64_t dp_right64(const uint8_t h[32])
{
    return mpx_load_be64(h + 24);
}

static const uint8_t dp_key[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                   0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                   0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

static const struct dp_host dp_e = {.pol = MPX_EXT_PREFER};
static const struct dp_host dp_e_csum = {.pol = MPX_EXT_PREFER, .csum = true};
static const struct dp_host dp_rfc = {.pol = MPX_EXT_NEVER};

/* ==== D9: the third ACK with data in E mode ============================== */

/* The first client data segment of an E connection (data queued at
 * connect): MP_CAPABLE 14 bytes (16 with checksums), E set, DLL = the
 * segment's payload; with A the checksum verifies with DSN = IDSN_A + 1
 * (IDSN from the initiator's token, NOTES D8) and SSN 1, i.e. the implied
 * mapping of RFC 8684 section 3.1; the server delivers the bytes. */
MPX_TEST(mptcp_dpin_d9_data_on_third_ack)
{
    for (int csum = 0; csum <= 1; csum++) {
        struct dp *d = dp_new(91 + (uint64_t)csum, csum ? &dp_e_csum : &dp_e, &dp_e);
        long cid =
            mpx_stack_connect_ext(d->b.st[0], NULL, &d->b.addr[1][0], 80, MPX_EXT_PREFER, d->b.now);
        REQUIRE(cid > 0);
        uint8_t out[700], in[1000];
        for (size_t i = 0; i < sizeof(out); i++)
            out[i] = dp_pat(i);
        CHECK_INT(mpx_conn_send(d->b.st[0], (uint32_t)cid, out, sizeof(out), d->b.now),
                  (long)sizeof(out));
        dp_run(d, MPX_NS_PER_S);
        long sid = mpx_stack_accept(d->b.st[1], 80);
        REQUIRE(sid > 0);
        CHECK_INT(mpx_conn_recv(d->b.st[1], (uint32_t)sid, in, sizeof(in), d->b.now),
                  (long)sizeof(out));
        CHECK(memcmp(in, out, sizeof(out)) == 0);
        struct mpx_conn_info ci, si;
        REQUIRE(mpx_conn_get_info(d->b.st[0], (uint32_t)cid, &ci) == 0);
        REQUIRE(mpx_conn_get_info(d->b.st[1], (uint32_t)sid, &si) == 0);
        CHECK(si.mptcp && si.ext_keys && !si.fallback && ci.mptcp && ci.ext_keys);
        CHECK_EQ(si.csum_enabled, csum);
        CHECK_EQ(mpx_stack_mib(d->b.st[1])->DataCsumErr, 0);
        const struct dp_rec *r = NULL;
        for (int i = 0; i < d->nrec && !r; i++)
            if (d->rec[i].from == 0 && d->rec[i].plen)
                r = &d->rec[i];
        REQUIRE(r != NULL);
        const struct mpx_mptcp_opt *o = dp_opt(r, MPX_MPTCP_SUB_CAPABLE);
        const uint8_t *raw = dp_raw(r, MPX_MPTCP_SUB_CAPABLE);
        REQUIRE(o && raw);
        CHECK_EQ(raw[1], csum ? 16 : 14);
        CHECK(raw[3] & MPX_MPC_F_E);
        CHECK(o->u.mpc.has_dll);
        CHECK_EQ(o->u.mpc.dll, r->plen);
        CHECK_EQ(o->u.mpc.has_csum, csum);
        CHECK_EQ(o->u.mpc.snd_token, ci.local_token);
        CHECK_EQ(o->u.mpc.rcv_token, si.local_token);
        if (csum) {
            uint64_t dsn = dp_idsn_of_token(ci.local_token) + 1;
            CHECK_EQ(o->u.mpc.csum, dp_dss_csum(dsn, 1, o->u.mpc.dll, r->payload, r->plen));
            /* the pseudo-header covers the DSN: another DSN does not verify */
            CHECK(o->u.mpc.csum != dp_dss_csum(dsn + 1, 1, o->u.mpc.dll, r->payload, r->plen));
        }
        dp_free(d);
    }
}

/* Drops every pure ACK of the client that carries MP_CAPABLE. */
static size_t dp_drop_pure_mpc_ack(struct dp *d, int from, uint8_t *pkt, size_t len,
                                   const struct mpx_pkt *p)
{
    (void)pkt;
    if (from == 0 && p->tcp.flags == MPX_TH_ACK && !p->payload_len) {
        for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
            if (p->tcp.opts.mptcp[i].subtype == MPX_MPTCP_SUB_CAPABLE) {
                d->count++;
                return 0;
            }
    }
    return len;
}

/* Every pure third ACK (12 bytes) is lost: the server stays in
 * SYN_RECEIVED until the client's first data, whose 14-byte MP_CAPABLE
 * completes the E handshake (RFC 8684 section 3.1 reliability kept). */
MPX_TEST(mptcp_dpin_d9_pure_third_ack_lost)
{
    struct dp *d = dp_new(93, &dp_e, &dp_e);
    d->edit = dp_drop_pure_mpc_ack;
    uint32_t sid;
    long cid = dp_connect(d, MPX_EXT_PREFER, &sid);
    REQUIRE(cid > 0);
    CHECK(d->count >= 1);
    CHECK_EQ(sid, 0);
    CHECK_EQ(mpx_stack_mib(d->b.st[1])->MPCapableACKRX, 0);
    uint8_t out[500], in[600];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i ^ 0x5a);
    CHECK_INT(mpx_conn_send(d->b.st[0], (uint32_t)cid, out, sizeof(out), d->b.now),
              (long)sizeof(out));
    dp_run(d, MPX_NS_PER_S);
    long s = mpx_stack_accept(d->b.st[1], 80);
    REQUIRE(s > 0);
    CHECK_INT(mpx_conn_recv(d->b.st[1], (uint32_t)s, in, sizeof(in), d->b.now), (long)sizeof(out));
    CHECK(memcmp(in, out, sizeof(out)) == 0);
    CHECK_EQ(mpx_stack_mib(d->b.st[1])->MPCapableACKRX, 1);
    CHECK_EQ(mpx_stack_mib(d->b.st[1])->MPCapableFallbackACK, 0);
    struct mpx_conn_info si;
    REQUIRE(mpx_conn_get_info(d->b.st[1], (uint32_t)s, &si) == 0);
    CHECK(si.mptcp && si.ext_keys && !si.fallback);
    bool seen = false;
    for (int i = 0; i < d->nrec; i++) {
        const struct dp_rec *r = &d->rec[i];
        const uint8_t *raw = dp_raw(r, MPX_MPTCP_SUB_CAPABLE);
        if (r->from == 0 && r->plen && raw) {
            seen = true;
            CHECK_EQ(raw[1], 14);
        }
    }
    CHECK(seen);
    dp_free(d);
}

/* Drops the first client segment with data and MP_CAPABLE. */
static size_t dp_drop_first_mpc_data(struct dp *d, int from, uint8_t *pkt, size_t len,
                                     const struct mpx_pkt *p)
{
    (void)pkt;
    if (from == 0 && p->payload_len) {
        for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
            if (p->tcp.opts.mptcp[i].subtype == MPX_MPTCP_SUB_CAPABLE && d->count++ == 0)
                return 0;
    }
    return len;
}

/* The data-carrying third ACK is lost: its retransmission carries the
 * 14-byte MP_CAPABLE with the same DLL again, the server maps it to
 * IDSN_A + 1 and delivers the bytes once. */
MPX_TEST(mptcp_dpin_d9_data_third_ack_retransmitted)
{
    struct dp *d = dp_new(94, &dp_e, &dp_e);
    d->edit = dp_drop_first_mpc_data;
    long cid =
        mpx_stack_connect_ext(d->b.st[0], NULL, &d->b.addr[1][0], 80, MPX_EXT_PREFER, d->b.now);
    REQUIRE(cid > 0);
    uint8_t out[300], in[600];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 3 + 1);
    CHECK_INT(mpx_conn_send(d->b.st[0], (uint32_t)cid, out, sizeof(out), d->b.now),
              (long)sizeof(out));
    dp_run(d, 3 * MPX_NS_PER_S);
    long s = mpx_stack_accept(d->b.st[1], 80);
    REQUIRE(s > 0);
    CHECK_INT(mpx_conn_recv(d->b.st[1], (uint32_t)s, in, sizeof(in), d->b.now), (long)sizeof(out));
    CHECK(memcmp(in, out, sizeof(out)) == 0);
    CHECK(d->count >= 2); /* dropped one, saw its retransmission */
    int n = 0;
    for (int i = 0; i < d->nrec; i++) {
        const struct dp_rec *r = &d->rec[i];
        const struct mpx_mptcp_opt *o = dp_opt(r, MPX_MPTCP_SUB_CAPABLE);
        if (r->from == 0 && r->plen && o) {
            n++;
            CHECK(o->u.mpc.has_dll && o->u.mpc.dll == sizeof(out));
            CHECK(o->u.mpc.flags & MPX_MPC_F_E);
        }
    }
    CHECK(n >= 2);
    struct mpx_conn_info si;
    REQUIRE(mpx_conn_get_info(d->b.st[1], (uint32_t)s, &si) == 0);
    CHECK(si.mptcp && si.ext_keys && !si.fallback);
    CHECK_EQ(si.bytes_received, sizeof(out));
    dp_free(d);
}

/* ==== D25: one token namespace ========================================== */

/* One host makes (or answers) an RFC 8684 connection and an E connection
 * while its randomness repeats the first key: the second connection's
 * token, whichever kind it is, must be redrawn (the first draw collides in
 * the shared table) and both connections work. */
MPX_TEST(mptcp_dpin_d25_token_collision_across_kinds)
{
    static const struct {
        int host;                   /* whose randomness repeats */
        enum mpx_ext_policy first;  /* client policy of connection 1 */
        enum mpx_ext_policy second; /* ... of connection 2 */
    } rows[] = {
        {1, MPX_EXT_NEVER, MPX_EXT_PREFER},
        {1, MPX_EXT_PREFER, MPX_EXT_NEVER},
        {0, MPX_EXT_NEVER, MPX_EXT_PREFER},
        {0, MPX_EXT_PREFER, MPX_EXT_NEVER},
    };
    const uint64_t k1 = 0x0102030405060708ull, k2 = 0x1112131415161718ull;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dp_host c = dp_e, s = dp_e;
        (rows[i].host ? &s : &c)->scripted = true;
        struct dp *d = dp_new(250 + i, &c, &s);
        struct dp_rand *r = &d->rs[rows[i].host];
        r->script[0] = k1;
        r->script[1] = k1;
        r->script[2] = k2;
        r->n = 3;
        uint32_t sid[2];
        long cid[2];
        cid[0] = dp_connect(d, rows[i].first, &sid[0]);
        cid[1] = dp_connect(d, rows[i].second, &sid[1]);
        REQUIRE(cid[0] > 0 && cid[1] > 0 && sid[0] && sid[1]);
        CHECK_EQ(r->i, 3); /* the repeated key was drawn and refused */
        struct mpx_conn_info inf[2];
        for (int k = 0; k < 2; k++) {
            struct mpx_conn_info ci, si;
            REQUIRE(mpx_conn_get_info(d->b.st[0], (uint32_t)cid[k], &ci) == 0);
            REQUIRE(mpx_conn_get_info(d->b.st[1], sid[k], &si) == 0);
            inf[k] = rows[i].host ? si : ci;
            enum mpx_ext_policy pol = k ? rows[i].second : rows[i].first;
            CHECK(ci.mptcp && si.mptcp);
            CHECK_EQ(ci.ext_keys, pol != MPX_EXT_NEVER);
            CHECK(dp_xfer(d, 0, (uint32_t)cid[k], sid[k], 3000, 2 * MPX_NS_PER_S));
            CHECK(dp_xfer(d, 1, sid[k], (uint32_t)cid[k], 3000, 2 * MPX_NS_PER_S));
        }
        CHECK_EQ(inf[0].local_token, dp_token_of_key(k1));
        CHECK_EQ(inf[1].local_token, dp_token_of_key(k2));
        CHECK(inf[0].local_token != inf[1].local_token);
        dp_free(d);
    }
}

/* ==== D27: version 1, B = 0, A and C as in RFC 8684 ====================== */

/* Every MP_CAPABLE of an E connection (SYN, SYN/ACK, third ACK, third ACK
 * with data, with and without checksums) has version 1 and B clear. */
MPX_TEST(mptcp_dpin_d27_version1_b0_on_wire)
{
    for (int csum = 0; csum <= 1; csum++) {
        struct dp *d = dp_new(271 + (uint64_t)csum, csum ? &dp_e_csum : &dp_e, &dp_e);
        long cid =
            mpx_stack_connect_ext(d->b.st[0], NULL, &d->b.addr[1][0], 80, MPX_EXT_PREFER, d->b.now);
        REQUIRE(cid > 0);
        uint8_t out[400];
        memset(out, 0x33, sizeof(out));
        CHECK_INT(mpx_conn_send(d->b.st[0], (uint32_t)cid, out, sizeof(out), d->b.now),
                  (long)sizeof(out));
        dp_run(d, MPX_NS_PER_S);
        int n = 0, lens = 0;
        for (int i = 0; i < d->nrec; i++) {
            const uint8_t *raw = dp_raw(&d->rec[i], MPX_MPTCP_SUB_CAPABLE);
            if (!raw)
                continue;
            n++;
            CHECK_EQ(raw[2] & 0x0f, 1);
            CHECK_EQ(raw[3] & MPX_MPC_F_B, 0);
            CHECK(raw[3] & MPX_MPC_F_E);
            CHECK(raw[3] & MPX_MPC_F_H);
            lens |= 1 << (raw[1] / 2);
        }
        CHECK(n >= 3);
        /* SYN 4, SYN/ACK 8, the data form 14 or 16 were all seen */
        CHECK(lens & (1 << 2));
        CHECK(lens & (1 << 4));
        CHECK(lens & (1 << (csum ? 8 : 7)));
        dp_free(d);
    }
}

/* A crafted E SYN to an E-enabled server: version >= 1 is answered in
 * version 1 and E form; version 0 or B = 1 gets no MP_CAPABLE (plain TCP),
 * as Linux answers the RFC 8684 equivalents (NOTES 3.1, 4.1). */
MPX_TEST(mptcp_dpin_d27_syn_version_and_b_rules)
{
    static const struct {
        uint8_t version, flags;
        bool answered;
    } rows[] = {
        {1, MPX_MPC_F_E | MPX_MPC_F_H, true},
        {2, MPX_MPC_F_E | MPX_MPC_F_H, true},
        {0, MPX_MPC_F_E | MPX_MPC_F_H, false},
        {1, MPX_MPC_F_B | MPX_MPC_F_E | MPX_MPC_F_H, false},
        {1, MPX_MPC_F_A | MPX_MPC_F_E | MPX_MPC_F_H, true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dp *d = dp_new(280 + i, &dp_e, &dp_e);
        struct mpx_ip_hdr ip = {.version = 4, .ttl = 64, .proto = MPX_IPPROTO_TCP, .df = true};
        ip.src = mpx_addr_v4(0x0a000009u);
        ip.dst = d->b.addr[1][0];
        struct mpx_tcp_hdr th = {
            .sport = 1234, .dport = 80, .seq = 1000, .flags = MPX_TH_SYN, .win = 65535};
        th.opts.present = MPX_TCPO_MSS;
        th.opts.mss = 1460;
        th.opts.n_mptcp = 1;
        th.opts.mptcp[0].subtype = MPX_MPTCP_SUB_CAPABLE;
        th.opts.mptcp[0].u.mpc.form = MPX_FORM_SYN;
        th.opts.mptcp[0].u.mpc.version = rows[i].version;
        th.opts.mptcp[0].u.mpc.flags = rows[i].flags;
        int n = mpx_pkt_encode(d->b.pkt, sizeof(d->b.pkt), &ip, &th, NULL, 0, NULL);
        REQUIRE(n > 0);
        mpx_stack_input(d->b.st[1], d->b.pkt, (size_t)n, d->b.now);
        n = mpx_stack_output(d->b.st[1], d->b.pkt, sizeof(d->b.pkt), d->b.now);
        REQUIRE(n > 0);
        struct mpx_pkt ans;
        REQUIRE(mpx_pkt_decode(d->b.pkt, (size_t)n, true, &ans) == 0);
        CHECK_EQ(ans.tcp.flags, MPX_TH_SYN | MPX_TH_ACK);
        const struct mpx_mptcp_opt *o = NULL;
        for (uint8_t k = 0; k < ans.tcp.opts.n_mptcp; k++)
            if (ans.tcp.opts.mptcp[k].subtype == MPX_MPTCP_SUB_CAPABLE)
                o = &ans.tcp.opts.mptcp[k];
        CHECK_EQ(o != NULL, rows[i].answered);
        if (o) {
            CHECK_EQ(o->u.mpc.version, 1);
            CHECK(o->u.mpc.flags & MPX_MPC_F_E);
            CHECK_EQ(o->u.mpc.flags & MPX_MPC_F_B, 0);
            CHECK_EQ(!!(o->u.mpc.flags & MPX_MPC_F_A), !!(rows[i].flags & MPX_MPC_F_A));
            CHECK(o->u.mpc.snd_token != 0);
        }
        dp_free(d);
    }
}

/* A in E mode: either side asking is enough (RFC 8684 section 3.1). A in
 * the SYN iff the client asks, in the SYN/ACK and third ACK iff
 * negotiated; then every client DSS mapping carries a checksum iff
 * negotiated, and those that cover one whole segment verify here. */
#define DP_XFER_A 60000

MPX_TEST(mptcp_dpin_d27_a_flag_checksums)
{
    static const bool rows[][2] = {{false, false}, {true, false}, {false, true}, {true, true}};
    for (size_t i = 0; i < 4; i++) {
        struct dp_host c = dp_e, s = dp_e;
        c.csum = rows[i][0];
        s.csum = rows[i][1];
        bool neg = rows[i][0] || rows[i][1];
        struct dp *d = dp_new(290 + i, &c, &s);
        uint32_t sid;
        long cid = dp_connect(d, MPX_EXT_PREFER, &sid);
        REQUIRE(cid > 0 && sid);
        CHECK(dp_xfer(d, 0, (uint32_t)cid, sid, DP_XFER_A, 5 * MPX_NS_PER_S));
        struct mpx_conn_info ci, si;
        REQUIRE(mpx_conn_get_info(d->b.st[0], (uint32_t)cid, &ci) == 0);
        REQUIRE(mpx_conn_get_info(d->b.st[1], sid, &si) == 0);
        CHECK(ci.ext_keys && si.ext_keys);
        CHECK_EQ(ci.csum_enabled, neg);
        CHECK_EQ(si.csum_enabled, neg);
        /* the client's byte stream by subflow offset, from what it sent */
        static uint8_t stream[DP_XFER_A];
        uint32_t isn = 0;
        for (int k = 0; k < d->nrec; k++) {
            const struct dp_rec *r = &d->rec[k];
            const uint8_t *raw = dp_raw(r, MPX_MPTCP_SUB_CAPABLE);
            if (raw) {
                bool syn = r->tcp.flags & MPX_TH_SYN;
                bool want = r->from == 0 && syn ? rows[i][0] : neg;
                CHECK_EQ(!!(raw[3] & MPX_MPC_F_A), want);
                if (r->from == 0 && syn)
                    isn = r->tcp.seq;
            }
            uint32_t off = r->tcp.seq - isn - 1;
            if (r->from == 0 && r->plen && r->plen <= DP_PAYLOAD && off + r->plen <= DP_XFER_A)
                memcpy(stream + off, r->payload, r->plen);
        }
        int maps = 0, verified = 0;
        for (int k = 0; k < d->nrec; k++) {
            const struct dp_rec *r = &d->rec[k];
            const struct mpx_mptcp_opt *o = dp_opt(r, MPX_MPTCP_SUB_DSS);
            if (r->from != 0 || !o || !o->u.dss.has_map || !o->u.dss.dll || o->u.dss.data_fin)
                continue;
            const struct mpx_opt_dss *m = &o->u.dss;
            maps++;
            CHECK_EQ(m->has_csum, neg);
            if (neg && m->dsn64 && m->ssn >= 1 && m->ssn - 1 + m->dll <= DP_XFER_A) {
                CHECK_EQ(m->csum, dp_dss_csum(m->dsn, m->ssn, m->dll, stream + m->ssn - 1, m->dll));
                verified++;
            }
        }
        CHECK(maps >= 1);
        CHECK(!neg || verified >= 3);
        CHECK_EQ(mpx_stack_mib(d->b.st[1])->DataCsumErr, 0);
        dp_free(d);
    }
}

/* C in E mode (RFC 8684 section 3.1): a server with
 * allow_join_initial_addr_port off sets C in its E SYN/ACK; the client's
 * path manager (a "subflow" endpoint) then never joins the server's
 * initial address and port, once the key lets it join at all. Without C
 * it does. */
MPX_TEST(mptcp_dpin_d27_c_flag_honoured)
{
    for (int deny = 0; deny <= 1; deny++) {
        struct dp_host s = dp_e;
        s.deny_join0 = deny;
        struct dp *d = dp_new(300 + (uint64_t)deny, &dp_e, &s);
        struct mpx_pm_endpoint ep = {.flags = MPX_PM_F_SUBFLOW, .addr = d->b.addr[0][1]};
        REQUIRE(mpx_stack_endpoint_add(d->b.st[0], &ep, d->b.now) > 0);
        uint32_t sid;
        long cid = dp_connect(d, MPX_EXT_PREFER, &sid);
        REQUIRE(cid > 0 && sid);
        const uint8_t *sa = NULL;
        for (int i = 0; i < d->nrec && !sa; i++)
            if (d->rec[i].from == 1 && (d->rec[i].tcp.flags & MPX_TH_SYN))
                sa = dp_raw(&d->rec[i], MPX_MPTCP_SUB_CAPABLE);
        REQUIRE(sa != NULL);
        CHECK_EQ(sa[1], 8);
        CHECK_EQ(!!(sa[3] & MPX_MPC_F_C), deny);
        CHECK_INT(mpx_conn_set_key(d->b.st[0], (uint32_t)cid, dp_key, 32, d->b.now), 0);
        CHECK_INT(mpx_conn_set_key(d->b.st[1], sid, dp_key, 32, d->b.now), 0);
        dp_run(d, 3 * MPX_NS_PER_S);
        int joins = 0;
        for (int i = 0; i < d->nrec; i++) {
            const struct dp_rec *r = &d->rec[i];
            const struct mpx_mptcp_opt *o = dp_opt(r, MPX_MPTCP_SUB_JOIN);
            if (r->from == 0 && o && o->u.join.form == MPX_FORM_SYN &&
                mpx_addr_eq(&r->ip.dst, &d->b.addr[1][0]) && r->tcp.dport == 80)
                joins++;
        }
        CHECK_EQ(joins > 0, !deny);
        CHECK(dp_xfer(d, 0, (uint32_t)cid, sid, 5000, 2 * MPX_NS_PER_S));
        dp_free(d);
    }
}

/* ==== D26: fallback, MP_FAIL, infinite mapping unchanged in E mode ======== */

/* Starts stripping every MPTCP option (both ways) at the 20th data packet. */
static size_t dp_strip_after(struct dp *d, int from, uint8_t *pkt, size_t len,
                             const struct mpx_pkt *p)
{
    (void)from;
    (void)pkt;
    if (p->payload_len && ++d->count == 20)
        d->strip = true;
    return len;
}

/* An MP_JOIN SYN from an observer (10.0.0.9:|sport|) carrying |token|,
 * fed to the server; returns the MP_TCPRST reason of the answer, -1 if
 * the answer is no RST or has no MP_TCPRST. */
static int dp_observer_join(struct dp *d, uint32_t token, uint16_t sport)
{
    struct mpx_ip_hdr ip = {.version = 4, .ttl = 64, .proto = MPX_IPPROTO_TCP, .df = true};
    ip.src = mpx_addr_v4(0x0a000009u);
    ip.dst = d->b.addr[1][1];
    struct mpx_tcp_hdr th = {
        .sport = sport, .dport = 80, .seq = 1000, .flags = MPX_TH_SYN, .win = 65535};
    th.opts.n_mptcp = 1;
    th.opts.mptcp[0].subtype = MPX_MPTCP_SUB_JOIN;
    th.opts.mptcp[0].u.join.form = MPX_FORM_SYN;
    th.opts.mptcp[0].u.join.token = token;
    th.opts.mptcp[0].u.join.nonce = 0x0badcafe;
    static uint8_t pkt[256];
    int n = mpx_pkt_encode(pkt, sizeof(pkt), &ip, &th, NULL, 0, NULL);
    if (n <= 0)
        return -2;
    int from = d->nrec;
    mpx_stack_input(d->b.st[1], pkt, (size_t)n, d->b.now);
    dp_run(d, 10 * MPX_NS_PER_MS);
    for (int i = from; i < d->nrec; i++) {
        const struct dp_rec *r = &d->rec[i];
        if (r->from != 1 || r->tcp.dport != sport)
            continue;
        const struct mpx_mptcp_opt *o = dp_opt(r, MPX_MPTCP_SUB_TCPRST);
        return (r->tcp.flags & MPX_TH_RST) && o ? o->u.tcprst.reason : -1;
    }
    return -1;
}

/* A middlebox strips MPTCP options from an E connection after the
 * handshake (RFC 8684 section 3.7): both ends fall back to TCP as in RFC
 * 8684, the data arrives intact; afterwards no key can be installed, no
 * NEW_KEY, MP_JOIN, ADD_ADDR, MP_CAPABLE or MP_FASTCLOSE leaves either
 * host (counted as sent, before the middlebox), our own join is refused,
 * the observer's join with the old token finds no connection (MP_TCPRST
 * 1), and an abort is a plain RST. Rows: no key; a key on the client only
 * (its NEW_KEY is never confirmed, so it would be retransmitted); keys on
 * both. */
MPX_TEST(mptcp_dpin_d26_fallback_no_new_key_no_join)
{
    for (int row = 0; row < 3; row++) {
        struct dp *d = dp_new(260 + (uint64_t)row, &dp_e, &dp_e);
        uint32_t sid;
        long cid = dp_connect(d, MPX_EXT_PREFER, &sid);
        REQUIRE(cid > 0 && sid);
        struct mpx_conn_info ci, si;
        REQUIRE(mpx_conn_get_info(d->b.st[1], sid, &si) == 0);
        CHECK(si.ext_keys);
        uint32_t stoken = si.local_token;
        if (row >= 1)
            CHECK_INT(mpx_conn_set_key(d->b.st[0], (uint32_t)cid, dp_key, 32, d->b.now), 0);
        if (row == 2)
            CHECK_INT(mpx_conn_set_key(d->b.st[1], sid, dp_key, 32, d->b.now), 0);
        d->count = 0;
        d->edit = dp_strip_after;
        CHECK(dp_xfer(d, 0, (uint32_t)cid, sid, 200000, 30 * MPX_NS_PER_S));
        REQUIRE(mpx_conn_get_info(d->b.st[0], (uint32_t)cid, &ci) == 0);
        REQUIRE(mpx_conn_get_info(d->b.st[1], sid, &si) == 0);
        CHECK(ci.fallback && si.fallback && !ci.mptcp && !si.mptcp);
        CHECK_EQ(mpx_stack_mib(d->b.st[0])->DssFallback, 1);
        CHECK_EQ(mpx_stack_mib(d->b.st[1])->DssFallback, 1);
        if (row >= 1) /* the client's NEW_KEY was out before the fallback */
            CHECK(d->sub[0][MPX_MPTCP_SUB_NEW_KEY] >= 1);
        dp_clear(d);
        CHECK_INT(mpx_conn_set_key(d->b.st[1], sid, dp_key, 32, d->b.now), MPX_ERR_STATE);
        if (row == 0)
            CHECK_INT(mpx_conn_set_key(d->b.st[0], (uint32_t)cid, dp_key, 32, d->b.now),
                      MPX_ERR_STATE);
        CHECK_INT(mpx_conn_add_subflow(d->b.st[0], (uint32_t)cid, &d->b.addr[0][1],
                                       &d->b.addr[1][1], 80, false, d->b.now),
                  MPX_ERR_STATE);
        uint64_t notoken = mpx_stack_mib(d->b.st[1])->MPJoinNoTokenFound;
        CHECK_INT(dp_observer_join(d, stoken, 4400), MPX_RST_EMPTCP);
        CHECK_EQ(mpx_stack_mib(d->b.st[1])->MPJoinNoTokenFound, notoken + 1);
        CHECK(dp_xfer(d, 1, sid, (uint32_t)cid, 20000, 5 * MPX_NS_PER_S));
        dp_run(d, 30 * MPX_NS_PER_S); /* NEW_KEY would be retransmitted by now */
        CHECK(dp_xfer(d, 0, (uint32_t)cid, sid, 20000, 5 * MPX_NS_PER_S));
        CHECK_INT(mpx_conn_abort(d->b.st[0], (uint32_t)cid, d->b.now), 0);
        dp_run(d, MPX_NS_PER_S);
        for (int k = 0; k < 2; k++) {
            CHECK_EQ(d->sub[k][MPX_MPTCP_SUB_NEW_KEY], 0);
            CHECK_EQ(d->sub[k][MPX_MPTCP_SUB_JOIN], 0);
            CHECK_EQ(d->sub[k][MPX_MPTCP_SUB_ADD_ADDR], 0);
            CHECK_EQ(d->sub[k][MPX_MPTCP_SUB_CAPABLE], 0);
            CHECK_EQ(d->sub[k][MPX_MPTCP_SUB_FASTCLOSE], 0);
        }
        CHECK_EQ(mpx_stack_mib(d->b.st[0])->MPFastcloseTx, 0);
        char buf[16];
        CHECK(mpx_conn_recv(d->b.st[1], sid, buf, sizeof(buf), d->b.now) < 0);
        dp_free(d);
    }
}

/* Rewrites one payload byte of the 40th client data packet (fixing the
 * TCP checksum, as a middlebox would). */
static size_t dp_corrupt_once(struct dp *d, int from, uint8_t *pkt, size_t len,
                              const struct mpx_pkt *p)
{
    if (from == 0 && p->payload_len > 100 && p->payload_len < 2000 && ++d->count == 40) {
        uint8_t payload[2000];
        memcpy(payload, p->payload, p->payload_len);
        payload[p->payload_len / 2] ^= 0xff;
        int n = mpx_pkt_encode(pkt, 70000, &p->ip, &p->tcp, payload, p->payload_len, NULL);
        return n > 0 ? (size_t)n : 0;
    }
    return len;
}

/* MP_FAIL and the infinite mapping (RFC 8684 section 3.7) on an E
 * connection with checksums and a confirmed key, single subflow: the
 * receiver sends MP_FAIL, the sender an infinite mapping (DSS with DLL
 * 0), both go on as TCP; then no NEW_KEY or MP_JOIN, even on rotation. */
MPX_TEST(mptcp_dpin_d26_mp_fail_infinite_mapping)
{
    struct dp *d = dp_new(265, &dp_e_csum, &dp_e_csum);
    uint32_t sid;
    long cid = dp_connect(d, MPX_EXT_PREFER, &sid);
    REQUIRE(cid > 0 && sid);
    CHECK_INT(mpx_conn_set_key(d->b.st[0], (uint32_t)cid, dp_key, 32, d->b.now), 0);
    CHECK_INT(mpx_conn_set_key(d->b.st[1], sid, dp_key, 32, d->b.now), 0);
    dp_run(d, MPX_NS_PER_S);
    d->edit = dp_corrupt_once;
    bool intact;
    CHECK_EQ(dp_xfer_n(d, 0, (uint32_t)cid, sid, 300000, 30 * MPX_NS_PER_S, &intact), 300000);
    CHECK(!intact); /* the rewritten byte is delivered, as TCP would */
    const struct mpx_mptcp_mib *cm = mpx_stack_mib(d->b.st[0]), *sm = mpx_stack_mib(d->b.st[1]);
    CHECK_EQ(sm->DataCsumErr, 1);
    CHECK_EQ(sm->MPFailTx, 1);
    CHECK_EQ(cm->MPFailRx, 1);
    CHECK_EQ(cm->InfiniteMapTx, 1);
    CHECK_EQ(sm->InfiniteMapRx, 1);
    CHECK(d->sub[1][MPX_MPTCP_SUB_FAIL] >= 1);
    bool inf = false;
    for (int i = 0; i < d->nrec; i++) {
        const struct mpx_mptcp_opt *o = dp_opt(&d->rec[i], MPX_MPTCP_SUB_DSS);
        if (d->rec[i].from == 0 && o && o->u.dss.has_map && o->u.dss.dll == 0)
            inf = true;
    }
    CHECK(inf || d->nrec == DP_MAXREC);
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(d->b.st[0], (uint32_t)cid, &ci) == 0);
    REQUIRE(mpx_conn_get_info(d->b.st[1], sid, &si) == 0);
    CHECK(ci.fallback && si.fallback);
    dp_clear(d);
    CHECK(mpx_conn_rotate_key(d->b.st[0], (uint32_t)cid, d->b.now) < 0);
    CHECK_INT(mpx_conn_add_subflow(d->b.st[0], (uint32_t)cid, &d->b.addr[0][1], &d->b.addr[1][1],
                                   80, false, d->b.now),
              MPX_ERR_STATE);
    CHECK(dp_xfer(d, 1, sid, (uint32_t)cid, 10000, 5 * MPX_NS_PER_S));
    dp_run(d, 20 * MPX_NS_PER_S);
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(d->sub[k][MPX_MPTCP_SUB_NEW_KEY], 0);
        CHECK_EQ(d->sub[k][MPX_MPTCP_SUB_JOIN], 0);
    }
    dp_free(d);
}

/* ==== D29: "Host A" / "Host B" ============================================ */

static int dp_hmac(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
    return mpx_hmac_sha256(key, klen, msg, mlen, out);
}

/* MP_JOIN HMAC roles follow the subflow (RFC 8684 section 3.2), in E mode
 * (HMAC keyed with ExtKey_0, nonce order only) and in RFC 8684 mode (key
 * order too): A = the host that sends the join SYN, whichever end opened
 * the connection. SYN/ACK = leftmost 64 bits of HMAC(.., R_B || R_A),
 * third ACK = leftmost 160 bits of HMAC(.., R_A || R_B), recomputed here
 * from the nonces and keys seen on the wire. */
MPX_TEST(mptcp_dpin_d29_join_hmac_roles)
{
    static const struct {
        bool ext;
        int init; /* host that opens the join */
    } rows[] = {{true, 0}, {true, 1}, {false, 0}, {false, 1}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct dp_host *h = rows[i].ext ? &dp_e : &dp_rfc;
        struct dp *d = dp_new(290 + i, h, h);
        mpx_stack_listen(d->b.st[0], 80); /* for joins the server opens */
        uint32_t sid;
        long cid = dp_connect(d, h->pol, &sid);
        REQUIRE(cid > 0 && sid);
        uint32_t conn[2] = {(uint32_t)cid, sid};
        struct mpx_conn_info inf[2];
        REQUIRE(mpx_conn_get_info(d->b.st[0], conn[0], &inf[0]) == 0);
        REQUIRE(mpx_conn_get_info(d->b.st[1], conn[1], &inf[1]) == 0);
        CHECK_EQ(inf[0].ext_keys, rows[i].ext);
        uint64_t key[2] = {0, 0}; /* RFC 8684 keys from the third ACK */
        for (int k = 0; k < d->nrec; k++) {
            const struct mpx_mptcp_opt *o = dp_opt(&d->rec[k], MPX_MPTCP_SUB_CAPABLE);
            if (!rows[i].ext && o && d->rec[k].from == 0 && o->u.mpc.form == MPX_FORM_ACK) {
                key[0] = o->u.mpc.snd_key;
                key[1] = o->u.mpc.rcv_key;
            }
        }
        CHECK(rows[i].ext || (key[0] && key[1]));
        if (rows[i].ext) {
            CHECK_INT(mpx_conn_set_key(d->b.st[0], conn[0], dp_key, 32, d->b.now), 0);
            CHECK_INT(mpx_conn_set_key(d->b.st[1], conn[1], dp_key, 32, d->b.now), 0);
            dp_run(d, MPX_NS_PER_S);
        }
        int a = rows[i].init, b = !a;
        dp_clear(d);
        CHECK_INT(mpx_conn_add_subflow(d->b.st[a], conn[a], &d->b.addr[a][1], &d->b.addr[b][1], 80,
                                       false, d->b.now),
                  0);
        dp_run(d, 2 * MPX_NS_PER_S);
        const struct mpx_opt_join *syn = NULL, *sa = NULL, *ack = NULL;
        for (int k = 0; k < d->nrec; k++) {
            const struct mpx_mptcp_opt *o = dp_opt(&d->rec[k], MPX_MPTCP_SUB_JOIN);
            if (!o)
                continue;
            int f = d->rec[k].from;
            if (f == a && o->u.join.form == MPX_FORM_SYN && !syn)
                syn = &o->u.join;
            else if (f == b && o->u.join.form == MPX_FORM_SYNACK && !sa)
                sa = &o->u.join;
            else if (f == a && o->u.join.form == MPX_FORM_ACK && !ack)
                ack = &o->u.join;
        }
        REQUIRE(syn && sa && ack);
        CHECK_EQ(syn->token, inf[b].local_token);
        uint8_t kbuf[16], m_ba[8], m_ab[8], h1[32], h2[32];
        const uint8_t *hk = dp_key;
        size_t hklen = sizeof(dp_key);
        mpx_put_be32(mpx_put_be32(m_ba, sa->nonce), syn->nonce);
        mpx_put_be32(mpx_put_be32(m_ab, syn->nonce), sa->nonce);
        if (!rows[i].ext) {
            mpx_put_be64(mpx_put_be64(kbuf, key[b]), key[a]); /* Key_B || Key_A */
            hk = kbuf;
            hklen = 16;
        }
        REQUIRE(dp_hmac(hk, hklen, m_ba, 8, h1) == 0);
        CHECK_EQ(sa->thmac, dp_left64(h1));
        if (!rows[i].ext)
            mpx_put_be64(mpx_put_be64(kbuf, key[a]), key[b]); /* Key_A || Key_B */
        REQUIRE(dp_hmac(hk, hklen, m_ab, 8, h2) == 0);
        CHECK_MEM(ack->hmac, h2, 20);
        /* the other role's value is not what went out */
        CHECK(sa->thmac != dp_left64(h2));
        CHECK(!syn->key_id && !sa->key_id && !ack->key_id); /* key 0 */
        CHECK_EQ(mpx_stack_mib(d->b.st[b])->MPJoinAckRx, 1);
        CHECK_EQ(mpx_stack_mib(d->b.st[a])->MPJoinSynAckRx, 1);
        dp_free(d);
    }
}

/* Connect in E mode with the same key on both ends, confirmed; fills the
 * connection ids and tokens. */
static bool dp_e_keyed(struct dp *d, uint32_t conn[2], uint32_t tok[2])
{
    uint32_t sid;
    long cid = dp_connect(d, MPX_EXT_PREFER, &sid);
    if (cid <= 0 || !sid)
        return false;
    conn[0] = (uint32_t)cid;
    conn[1] = sid;
    for (int k = 0; k < 2; k++)
        if (mpx_conn_set_key(d->b.st[k], conn[k], dp_key, 32, d->b.now) != 0)
            return false;
    dp_run(d, MPX_NS_PER_S);
    struct mpx_conn_info inf;
    for (int k = 0; k < 2; k++) {
        if (mpx_conn_get_info(d->b.st[k], conn[k], &inf) != 0 || !inf.ext_keys)
            return false;
        tok[k] = inf.local_token;
    }
    return true;
}

/* HMAC-SHA256 over the two tokens and the external key, in the order the
 * draft gives for NEW_KEY and MP_FASTCLOSE (section 4.2, 4.3): key =
 * Token_first || Token_second, message = ExtKey (|draft|), or with key and
 * message swapped (!|draft|). */
static int dp_token_hmac(uint32_t first, uint32_t second, bool draft, uint8_t out[32])
{
    uint8_t t[8];
    mpx_put_be32(mpx_put_be32(t, first), second);
    return draft ? dp_hmac(t, 8, dp_key, 32, out) : dp_hmac(dp_key, 32, t, 8, out);
}

/* The first MP_FASTCLOSE host |a| sent. */
static const struct mpx_opt_fastclose *dp_fastclose_of(const struct dp *d, int a)
{
    for (int k = 0; k < d->nrec; k++) {
        const struct mpx_mptcp_opt *o = dp_opt(&d->rec[k], MPX_MPTCP_SUB_FASTCLOSE);
        if (o && d->rec[k].from == a)
            return &o->u.fastclose;
    }
    return NULL;
}

/* MP_FASTCLOSE: "Host A" is whoever sends it, whichever end opened the
 * connection: the value is the leftmost 64 bits of the HMAC over
 * Token_sender || Token_receiver and ExtKey_0 (K = 0 for the first key),
 * never the receiver-first value nor the NEW_KEY (rightmost) half. The
 * roles are checked with the HMAC's key and message either way round:
 * which way is right is mptcp_dpin_d29_token_hmac_key_is_tokens' job. */
MPX_TEST(mptcp_dpin_d29_fastclose_sender_first)
{
    for (int a = 0; a < 2; a++) {
        struct dp *d = dp_new(295 + (uint64_t)a, &dp_e, &dp_e);
        uint32_t conn[2], tok[2];
        REQUIRE(dp_e_keyed(d, conn, tok));
        dp_clear(d);
        CHECK_INT(mpx_conn_abort(d->b.st[a], conn[a], d->b.now), 0);
        dp_run(d, MPX_NS_PER_S);
        const struct mpx_opt_fastclose *fc = dp_fastclose_of(d, a);
        REQUIRE(fc != NULL);
        bool sender_first = false;
        for (int draft = 0; draft <= 1; draft++) {
            uint8_t h[32], hr[32];
            REQUIRE(dp_token_hmac(tok[a], tok[!a], draft, h) == 0);
            REQUIRE(dp_token_hmac(tok[!a], tok[a], draft, hr) == 0);
            sender_first |= fc->key == dp_left64(h);
            CHECK(fc->key != dp_left64(hr));
            CHECK(fc->key != dp_right64(h));
        }
        CHECK(sender_first);
        CHECK(!fc->key_id);
        CHECK_EQ(mpx_stack_mib(d->b.st[!a])->MPFastcloseRx, 1);
        dp_free(d);
    }
}

/* The first NEW_KEY host |a| sent. */
static const struct mpx_opt_new_key *dp_new_key_of(const struct dp *d, int a)
{
    for (int k = 0; k < d->nrec; k++) {
        const struct mpx_mptcp_opt *o = dp_opt(&d->rec[k], MPX_MPTCP_SUB_NEW_KEY);
        if (o && d->rec[k].from == a)
            return &o->u.new_key;
    }
    return NULL;
}

/* Draft sections 4.2 and 4.3 (NOTES D11, D22, and the section 8.1
 * vectors): for NEW_KEY and MP_FASTCLOSE "the key for this HMAC is
 * Token-A followed by Token-B ... The 'message' ... is the external key".
 * NEW_KEY = rightmost 64 bits, FASTCLOSE = leftmost 64 bits of
 * HMAC-SHA256(key = Token_sender || Token_receiver, msg = ExtKey_K). */
MPX_TEST(mptcp_dpin_d29_token_hmac_key_is_tokens)
{
    for (int a = 0; a < 2; a++) {
        struct dp *d = dp_new(310 + (uint64_t)a, &dp_e, &dp_e);
        uint32_t sid;
        long cid = dp_connect(d, MPX_EXT_PREFER, &sid);
        REQUIRE(cid > 0 && sid);
        uint32_t conn[2] = {(uint32_t)cid, sid}, tok[2];
        for (int k = 0; k < 2; k++) {
            struct mpx_conn_info inf;
            REQUIRE(mpx_conn_get_info(d->b.st[k], conn[k], &inf) == 0);
            tok[k] = inf.local_token;
        }
        dp_clear(d);
        CHECK_INT(mpx_conn_set_key(d->b.st[a], conn[a], dp_key, 32, d->b.now), 0);
        dp_run(d, 100 * MPX_NS_PER_MS);
        CHECK_INT(mpx_conn_set_key(d->b.st[!a], conn[!a], dp_key, 32, d->b.now), 0);
        dp_run(d, MPX_NS_PER_S);
        uint8_t h[2][32];
        REQUIRE(dp_token_hmac(tok[a], tok[!a], true, h[0]) == 0);
        REQUIRE(dp_token_hmac(tok[!a], tok[a], true, h[1]) == 0);
        const struct mpx_opt_new_key *nk[2] = {dp_new_key_of(d, a), dp_new_key_of(d, !a)};
        REQUIRE(nk[0] && nk[1]);
        CHECK_EQ(nk[0]->hmac, dp_right64(h[0]));
        CHECK_EQ(nk[1]->hmac, dp_right64(h[1]));
        CHECK_INT(mpx_conn_abort(d->b.st[a], conn[a], d->b.now), 0);
        dp_run(d, MPX_NS_PER_S);
        const struct mpx_opt_fastclose *fc = dp_fastclose_of(d, a);
        REQUIRE(fc != NULL);
        CHECK_EQ(fc->key, dp_left64(h[0]));
        dp_free(d);
    }
}

/* ADD_ADDR (NOTES D23 DECIDED): "sender" is the host that announces,
 * whichever end opened the connection: rightmost 64 bits of
 * HMAC(ExtKey_0, Token_sender || Token_receiver || id || address ||
 * port 0); the peer accepts it. */
MPX_TEST(mptcp_dpin_d29_add_addr_sender_first)
{
    for (int a = 0; a < 2; a++) {
        struct dp *d = dp_new(297 + (uint64_t)a, &dp_e, &dp_e);
        uint32_t conn[2], tok[2];
        REQUIRE(dp_e_keyed(d, conn, tok));
        dp_clear(d);
        struct mpx_pm_endpoint ep = {.flags = MPX_PM_F_SIGNAL, .addr = d->b.addr[a][1]};
        REQUIRE(mpx_stack_endpoint_add(d->b.st[a], &ep, d->b.now) > 0);
        dp_run(d, 2 * MPX_NS_PER_S);
        const struct mpx_opt_add_addr *aa = NULL;
        for (int k = 0; k < d->nrec && !aa; k++) {
            const struct mpx_mptcp_opt *o = dp_opt(&d->rec[k], MPX_MPTCP_SUB_ADD_ADDR);
            if (o && d->rec[k].from == a && !o->u.add_addr.echo)
                aa = &o->u.add_addr;
        }
        REQUIRE(aa != NULL);
        CHECK(mpx_addr_eq(&aa->addr, &d->b.addr[a][1]));
        CHECK(!aa->has_port && !aa->key_id);
        uint8_t msg[4 + 4 + 1 + 4 + 2], h[32], hr[32];
        uint8_t *p = mpx_put_be32(mpx_put_be32(msg, tok[a]), tok[!a]);
        p = mpx_put_u8(p, aa->addr_id);
        p = mpx_put_bytes(p, aa->addr.a, 4);
        mpx_put_be16(p, 0);
        REQUIRE(dp_hmac(dp_key, 32, msg, sizeof(msg), h) == 0);
        mpx_put_be32(mpx_put_be32(msg, tok[!a]), tok[a]);
        REQUIRE(dp_hmac(dp_key, 32, msg, sizeof(msg), hr) == 0);
        CHECK_EQ(aa->hmac, dp_right64(h));
        CHECK(aa->hmac != dp_right64(hr));
        CHECK_EQ(mpx_stack_mib(d->b.st[!a])->AddAddr, 1);
        CHECK_EQ(mpx_stack_mib(d->b.st[!a])->AddAddrDrop, 0);
        dp_free(d);
    }
}

/* ==== D28: what an on-path attacker can still do ========================= */

/* Capture one option of host |cap_from| (to TCP port |cap_dport| if set),
 * then add it, possibly rewritten, to a later packet of host |inj_from|
 * (to port |inj_dport| if set): an on-path attacker that records and
 * injects (the TCP checksum is fixed by the re-encoding). */
struct dp_inj {
    int cap_from, inj_from;
    enum mpx_mptcp_subtype cap_sub;
    uint16_t cap_dport, inj_dport;
    bool to_fastclose; /* NEW_KEY value sent as MP_FASTCLOSE */
    bool have;
    struct mpx_mptcp_opt opt;
    int injected;
};

static size_t dp_inject_hook(struct dp *d, int from, uint8_t *pkt, size_t len,
                             const struct mpx_pkt *p)
{
    struct dp_inj *in = d->b.arg;
    if (!in || in->injected)
        return len;
    if (!in->have && from == in->cap_from && (!in->cap_dport || p->tcp.dport == in->cap_dport)) {
        for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++) {
            const struct mpx_mptcp_opt *o = &p->tcp.opts.mptcp[i];
            if (o->subtype != in->cap_sub ||
                (o->subtype == MPX_MPTCP_SUB_ADD_ADDR && o->u.add_addr.echo))
                continue;
            in->have = true;
            in->opt = *o;
            if (in->to_fastclose) {
                memset(&in->opt, 0, sizeof(in->opt));
                in->opt.subtype = MPX_MPTCP_SUB_FASTCLOSE;
                in->opt.u.fastclose.key_id = o->u.new_key.key_id;
                in->opt.u.fastclose.key = o->u.new_key.hmac;
            }
            return len;
        }
        return len;
    }
    if (!in->have || from != in->inj_from || (in->inj_dport && p->tcp.dport != in->inj_dport) ||
        (p->tcp.flags & (MPX_TH_SYN | MPX_TH_RST)))
        return len;
    struct mpx_tcp_hdr th = p->tcp;
    if (th.opts.n_mptcp >= MPX_TCP_MAX_MPTCP)
        return len;
    th.opts.mptcp[th.opts.n_mptcp++] = in->opt;
    if (mpx_tcp_opts_space(&th.opts) > MPX_TCP_MAX_OPT_LEN)
        return len;
    size_t n = dp_reencode(pkt, p, &th);
    if (!n)
        return len;
    in->injected++;
    return n;
}

/* D23 DECIDED: the server's ADD_ADDR, reflected back to it inside a
 * client packet, does not verify (its HMAC binds Token_sender ||
 * Token_receiver): dropped (AddAddrDrop), never echoed; the genuine one
 * was accepted by the client. */
MPX_TEST(mptcp_dpin_d28_add_addr_reflection_dropped)
{
    struct dp *d = dp_new(281, &dp_e, &dp_e);
    struct dp_inj in = {.cap_from = 1, .inj_from = 0, .cap_sub = MPX_MPTCP_SUB_ADD_ADDR};
    uint32_t conn[2], tok[2];
    REQUIRE(dp_e_keyed(d, conn, tok));
    d->b.arg = &in;
    d->edit = dp_inject_hook;
    struct mpx_pm_endpoint ep = {.flags = MPX_PM_F_SIGNAL, .addr = d->b.addr[1][1]};
    REQUIRE(mpx_stack_endpoint_add(d->b.st[1], &ep, d->b.now) > 0);
    dp_clear(d);
    CHECK(dp_xfer(d, 0, conn[0], conn[1], 20000, 3 * MPX_NS_PER_S));
    dp_run(d, 2 * MPX_NS_PER_S);
    CHECK_EQ(in.injected, 1);
    CHECK_EQ(mpx_stack_mib(d->b.st[0])->AddAddr, 1);
    CHECK_EQ(mpx_stack_mib(d->b.st[1])->AddAddr, 0);
    CHECK_EQ(mpx_stack_mib(d->b.st[1])->AddAddrDrop, 1);
    for (int k = 0; k < d->nrec; k++) {
        const struct mpx_mptcp_opt *o = dp_opt(&d->rec[k], MPX_MPTCP_SUB_ADD_ADDR);
        CHECK(!(o && d->rec[k].from == 1 && o->u.add_addr.echo));
    }
    d->b.arg = NULL;
    dp_free(d);
}

/* The local port of connection |conn|'s first subflow on host |k|. */
static uint16_t dp_lport(struct dp *d, int k, uint32_t conn)
{
    struct mpx_subflow_info sfi[4];
    int n = mpx_conn_get_subflows(d->b.st[k], conn, sfi, 4, d->b.now);
    return n > 0 ? sfi[0].tuple.lport : 0;
}

/* NOTES D23: even with the same external key on two connections (an
 * owner error: pre-shared keys are expanded per connection, D19), an
 * ADD_ADDR of one connection replayed into the other does not verify,
 * because its HMAC covers both tokens. */
MPX_TEST(mptcp_dpin_d28_add_addr_cross_connection_replay_dropped)
{
    struct dp *d = dp_new(282, &dp_e, &dp_e);
    uint32_t c1[2], c2[2], tok[2];
    REQUIRE(dp_e_keyed(d, c1, tok));
    uint16_t p1 = dp_lport(d, 0, c1[0]);
    REQUIRE(p1 != 0);
    struct dp_inj in = {.cap_from = 1, .inj_from = 1, .cap_sub = MPX_MPTCP_SUB_ADD_ADDR};
    in.cap_dport = p1;
    d->b.arg = &in;
    d->edit = dp_inject_hook;
    struct mpx_pm_endpoint ep = {.flags = MPX_PM_F_SIGNAL, .addr = d->b.addr[1][1]};
    REQUIRE(mpx_stack_endpoint_add(d->b.st[1], &ep, d->b.now) > 0);
    dp_run(d, 2 * MPX_NS_PER_S);
    REQUIRE(in.have);
    REQUIRE(dp_e_keyed(d, c2, tok));
    uint16_t p2 = dp_lport(d, 0, c2[0]);
    REQUIRE(p2 != 0 && p2 != p1);
    in.inj_dport = p2;
    CHECK(dp_xfer(d, 1, c2[1], c2[0], 20000, 3 * MPX_NS_PER_S));
    dp_run(d, 2 * MPX_NS_PER_S);
    CHECK_EQ(in.injected, 1);
    CHECK_EQ(mpx_stack_mib(d->b.st[0])->AddAddr, 2); /* the genuine ones */
    CHECK_EQ(mpx_stack_mib(d->b.st[0])->AddAddrDrop, 1);
    d->b.arg = NULL;
    dp_free(d);
}

/* NOTES D22: the value of a NEW_KEY seen on the wire, replayed as an
 * MP_FASTCLOSE with the same K to the host that sent it or to its peer,
 * does not close the connection (FASTCLOSE takes the other half of the
 * HMAC). */
MPX_TEST(mptcp_dpin_d28_new_key_as_fastclose_ignored)
{
    for (int to = 0; to < 2; to++) {
        struct dp *d = dp_new(283 + (uint64_t)to, &dp_e, &dp_e);
        struct dp_inj in = {.cap_from = 0, .inj_from = !to, .cap_sub = MPX_MPTCP_SUB_NEW_KEY};
        in.to_fastclose = true;
        d->b.arg = &in;
        d->edit = dp_inject_hook;
        uint32_t conn[2], tok[2];
        REQUIRE(dp_e_keyed(d, conn, tok));
        CHECK(dp_xfer(d, 1, conn[1], conn[0], 20000, 3 * MPX_NS_PER_S));
        CHECK(dp_xfer(d, 0, conn[0], conn[1], 20000, 3 * MPX_NS_PER_S));
        CHECK_EQ(in.injected, 1);
        CHECK_EQ(mpx_stack_mib(d->b.st[to])->MPFastcloseRx, 0);
        struct mpx_conn_info inf;
        REQUIRE(mpx_conn_get_info(d->b.st[to], conn[to], &inf) == 0);
        CHECK(!inf.closed && inf.error == 0);
        d->b.arg = NULL;
        dp_free(d);
    }
}

/* Not mitigated, as in RFC 8684 (NOTES D24, D28): MP_PRIO is not
 * authenticated, so an injected MP_PRIO(B=1) makes the receiver treat the
 * subflow as the peer's backup. The test pins that E mode leaves it
 * unchanged (a change of the draft would show here). */
MPX_TEST(mptcp_dpin_d28_mp_prio_unauthenticated)
{
    struct dp *d = dp_new(285, &dp_e, &dp_e);
    struct dp_inj in = {.cap_from = -1, .inj_from = 0};
    in.have = true;
    in.opt.subtype = MPX_MPTCP_SUB_PRIO;
    in.opt.u.prio.backup = true;
    uint32_t conn[2], tok[2];
    REQUIRE(dp_e_keyed(d, conn, tok));
    d->b.arg = &in;
    d->edit = dp_inject_hook;
    CHECK(dp_xfer(d, 0, conn[0], conn[1], 5000, 2 * MPX_NS_PER_S));
    CHECK_EQ(in.injected, 1);
    CHECK_EQ(mpx_stack_mib(d->b.st[1])->MPPrioRx, 1);
    struct mpx_subflow_info sfi[2];
    REQUIRE(mpx_conn_get_subflows(d->b.st[1], conn[1], sfi, 2, d->b.now) == 1);
    CHECK(sfi[0].peer_backup);
    d->b.arg = NULL;
    dp_free(d);
}

/* ==== D30: NEW_KEY on which subflow ======================================== */

/* A middlebox on path 0 that removes NEW_KEY, and a helper on path 1 that
 * puts each removed NEW_KEY into the same host's next packet there: the
 * receiver sees every NEW_KEY on the joined subflow only. */
struct dp_moved {
    bool held[2];
    struct mpx_mptcp_opt opt[2];
    unsigned moved[2];
};

static size_t dp_move_new_key(struct dp *d, int from, uint8_t *pkt, size_t len,
                              const struct mpx_pkt *p)
{
    struct dp_moved *mv = d->b.arg;
    struct mpx_tcp_hdr th = p->tcp;
    if (p->ip.src.a[2] == 0) {
        uint8_t n = 0;
        for (uint8_t i = 0; i < th.opts.n_mptcp; i++) {
            if (th.opts.mptcp[i].subtype == MPX_MPTCP_SUB_NEW_KEY) {
                mv->held[from] = true;
                mv->opt[from] = th.opts.mptcp[i];
            } else {
                th.opts.mptcp[n++] = th.opts.mptcp[i];
            }
        }
        if (n == th.opts.n_mptcp)
            return len;
        th.opts.n_mptcp = n;
        return dp_reencode(pkt, p, &th);
    }
    if (!mv->held[from] || th.opts.n_mptcp >= MPX_TCP_MAX_MPTCP || (th.flags & MPX_TH_SYN))
        return len;
    th.opts.mptcp[th.opts.n_mptcp++] = mv->opt[from];
    if (mpx_tcp_opts_space(&th.opts) > MPX_TCP_MAX_OPT_LEN)
        return len; /* no room: the next one */
    size_t n = dp_reencode(pkt, p, &th);
    if (!n)
        return len;
    mv->held[from] = false;
    mv->moved[from]++;
    return n;
}

/* Receive side of D30: a NEW_KEY is taken on any established subflow, not
 * only the initial one. Every NEW_KEY of a rotation (K = 1) reaches the
 * peer on the joined subflow only; both ends confirm key 1. */
MPX_TEST(mptcp_dpin_d30_new_key_accepted_on_any_subflow)
{
    struct dp *d = dp_new(305, &dp_e, &dp_e);
    struct dp_moved mv;
    memset(&mv, 0, sizeof(mv));
    uint32_t conn[2], tok[2];
    REQUIRE(dp_e_keyed(d, conn, tok));
    CHECK_INT(mpx_conn_add_subflow(d->b.st[0], conn[0], &d->b.addr[0][1], &d->b.addr[1][1], 80,
                                   false, d->b.now),
              0);
    dp_run(d, MPX_NS_PER_S);
    struct mpx_conn_info inf;
    REQUIRE(mpx_conn_get_info(d->b.st[0], conn[0], &inf) == 0);
    REQUIRE(inf.subflows == 2);
    d->b.arg = &mv;
    d->edit = dp_move_new_key;
    CHECK_INT(mpx_conn_rotate_key(d->b.st[0], conn[0], d->b.now), 0);
    CHECK_INT(mpx_conn_rotate_key(d->b.st[1], conn[1], d->b.now), 0);
    CHECK(dp_xfer(d, 0, conn[0], conn[1], 400000, 30 * MPX_NS_PER_S));
    CHECK(mv.moved[0] >= 1 && mv.moved[1] >= 1);
    for (int k = 0; k < 2; k++) {
        REQUIRE(mpx_conn_get_info(d->b.st[k], conn[k], &inf) == 0);
        CHECK_EQ(inf.key_state, MPX_KEYST_ACTIVE);
        CHECK_EQ(inf.key_id, 1);
        CHECK_EQ(inf.key_gen, 1);
    }
    d->b.arg = NULL;
    dp_free(d);
}

/* Send side of D30. Rotation (NOTES D16) on a connection with two
 * subflows after the initial path went dead: the NEW_KEY of the next key
 * (K = 1) must reach the peer over the joined subflow, and both ends
 * confirm key 1. Rows: the owner keeps sending data; or it is idle (NEW_KEY
 * has to travel on pure ACKs).
 *
 * carrier() in mptcp_newkey.c once always picked the initial subflow, so
 * all six transmissions went to the dead path and the rotation never
 * completed; each transmission now goes to the next established subflow.
 */
/* Drops every packet of path 0 (10.0.0.x) once d->count is set. */
static size_t dp_kill_path0(struct dp *d, int from, uint8_t *pkt, size_t len,
                            const struct mpx_pkt *p)
{
    (void)from;
    (void)pkt;
    if (d->count && p->ip.src.a[2] == 0)
        return 0;
    return len;
}

MPX_TEST(mptcp_dpin_d30_new_key_retransmitted_on_live_subflow)
{
    for (int idle = 0; idle <= 1; idle++) {
        struct dp *d = dp_new(300 + (uint64_t)idle, &dp_e, &dp_e);
        uint32_t conn[2], tok[2];
        REQUIRE(dp_e_keyed(d, conn, tok));
        CHECK_INT(mpx_conn_add_subflow(d->b.st[0], conn[0], &d->b.addr[0][1], &d->b.addr[1][1], 80,
                                       false, d->b.now),
                  0);
        dp_run(d, MPX_NS_PER_S);
        struct mpx_conn_info inf;
        REQUIRE(mpx_conn_get_info(d->b.st[0], conn[0], &inf) == 0);
        REQUIRE(inf.subflows == 2);
        d->edit = dp_kill_path0;
        d->count = 1;
        dp_clear(d);
        CHECK_INT(mpx_conn_rotate_key(d->b.st[0], conn[0], d->b.now), 0);
        CHECK_INT(mpx_conn_rotate_key(d->b.st[1], conn[1], d->b.now), 0);
        if (!idle)
            CHECK(dp_xfer(d, 0, conn[0], conn[1], 300000, 30 * MPX_NS_PER_S));
        dp_run(d, 30 * MPX_NS_PER_S);
        bool via1[2] = {false, false};
        for (int k = 0; k < d->nrec; k++) {
            const struct dp_rec *r = &d->rec[k];
            const struct mpx_mptcp_opt *o = dp_opt(r, MPX_MPTCP_SUB_NEW_KEY);
            if (o && o->u.new_key.key_id && r->ip.src.a[2] == 1)
                via1[r->from] = true;
        }
        for (int k = 0; k < 2; k++) {
            CHECK(via1[k]);
            REQUIRE(mpx_conn_get_info(d->b.st[k], conn[k], &inf) == 0);
            CHECK_EQ(inf.key_state, MPX_KEYST_ACTIVE);
            CHECK_EQ(inf.key_id, 1);
            CHECK_EQ(inf.key_gen, 1);
        }
        dp_free(d);
    }
}
