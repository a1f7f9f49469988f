/*
 * mptcp_extkey_test.c - external-key (E) mode negotiation
 * (draft-baerts-tcpm-mptcpext-00 section 4.1, DESIGN decision 5): two
 * stacks back to back with every MP_CAPABLE recorded from the raw bytes
 * (length byte and flags), so the wire forms of NOTES D6 are checked.
 */
#include <stdlib.h>

#include "crypto.h"
#include "err.h"
#include "mpx_test.h"
#include "mptcp_b2b.h"
#include "mptcp_stack.h"

#define EK_MAXREC 64

struct ek_rec {
    int from;         /* 0 client, 1 server */
    uint8_t tcpflags; /* SYN/ACK bits */
    uint8_t len, sub; /* MPTCP option length byte and subtype */
    uint8_t b3;       /* byte 3 (MP_CAPABLE flags) */
};

struct ek_pair {
    struct b2b b; /* first: the mangle hook casts back */
    struct ek_rec rec[EK_MAXREC];
    int nrec;
};

struct ek_policy {
    enum mpx_ext_policy cpol, spol;
    bool server_like_linux;
};

static void ek_tweak(int k, struct mpx_stack_config *cfg, void *arg)
{
    const struct ek_policy *e = arg;
    cfg->ext_policy = k ? e->spol : e->cpol;
    cfg->ext_ignore_like_linux = k && e->server_like_linux;
}

static size_t ek_hook(struct b2b *b, int from, uint8_t *pkt, size_t len);

static struct ek_pair *ek_new(uint64_t seed, enum mpx_ext_policy cpol, enum mpx_ext_policy spol,
                              bool server_like_linux)
{
    struct ek_pair *pr = calloc(1, sizeof(*pr));
    struct ek_policy e = {cpol, spol, server_like_linux};
    b2b_init(&pr->b, seed, ek_tweak, &e);
    pr->b.arg = NULL;
    pr->b.mangle = ek_hook;
    return pr;
}

static void ek_free(struct ek_pair *pr)
{
    b2b_free(&pr->b);
    free(pr);
}

/* Every MPTCP option (kind 30) of an IPv4/TCP packet, from the raw bytes. */
static void ek_record(struct ek_pair *pr, int from, const uint8_t *p, size_t len)
{
    if (len < 40 || (p[0] >> 4) != 4)
        return;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    const uint8_t *t = p + ihl;
    size_t doff = (size_t)(t[12] >> 4) * 4;
    if (ihl + doff > len)
        return;
    for (size_t i = 20; i < doff;) {
        if (t[i] == 0)
            break;
        if (t[i] == 1 || i + 1 >= doff || t[i + 1] < 2) {
            i++;
            continue;
        }
        if (t[i] == 30 && t[i + 1] >= 4 && pr->nrec < EK_MAXREC) {
            struct ek_rec *r = &pr->rec[pr->nrec++];
            r->from = from;
            r->tcpflags = t[13] & 0x12;
            r->len = t[i + 1];
            r->sub = t[i + 2] >> 4;
            r->b3 = t[i + 3];
        }
        i += t[i + 1];
    }
}

/* Records every MPTCP option and lets the packet through unchanged. */
static size_t ek_hook(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    ek_record((struct ek_pair *)b, from, pkt, len);
    return len;
}

static void ek_run(struct ek_pair *pr, uint64_t until)
{
    b2b_run(&pr->b, until);
}

/* Connect, run, accept; returns the server's connection id (> 0). */
static long ek_connect(struct ek_pair *pr, long *cid)
{
    *cid = mpx_stack_connect(pr->b.st[0], NULL, &pr->b.addr[1][0], 80, pr->b.now);
    if (*cid <= 0)
        return *cid;
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    return mpx_stack_accept(pr->b.st[1], 80);
}

/* Client sends |n| bytes; the server must read them back unchanged (a
 * wrong IDSN on either side would stall or reset the transfer). */
static bool ek_xfer(struct ek_pair *pr, long cid, long sid, size_t n)
{
    static uint8_t out[4096], in[4096];
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(i * 7 + 3);
    if (mpx_conn_send(pr->b.st[0], (uint32_t)cid, out, n, pr->b.now) != (long)n)
        return false;
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    long got = mpx_conn_recv(pr->b.st[1], (uint32_t)sid, in, sizeof(in), pr->b.now);
    return got == (long)n && memcmp(in, out, n) == 0;
}

/* The k-th MP_CAPABLE seen from |from| (or NULL). */
static const struct ek_rec *ek_mpc(const struct ek_pair *pr, int from, int k)
{
    for (int i = 0; i < pr->nrec; i++)
        if (pr->rec[i].from == from && pr->rec[i].sub == 0 && k-- == 0)
            return &pr->rec[i];
    return NULL;
}

/* Both ends E-enabled: SYN 4 (E|H), SYN/ACK 8 (E), third ACK 12 (E), and
 * every later MP_CAPABLE (third ACK repeated with data: 14 or 16) in E
 * form; no 12/20/22/24-byte RFC 8684 form anywhere; data flows, so both
 * IDSNs agree (NOTES D6, D8). */
MPX_TEST(mptcp_extkey_handshake_both_roles)
{
    struct ek_pair *pr = ek_new(1, MPX_EXT_PREFER, MPX_EXT_PREFER, false);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    const struct ek_rec *syn = ek_mpc(pr, 0, 0), *sa = ek_mpc(pr, 1, 0), *ack = ek_mpc(pr, 0, 1);
    REQUIRE(syn && sa && ack);
    CHECK_EQ(syn->tcpflags, 0x02);
    CHECK_EQ(syn->len, 4);
    CHECK_EQ(syn->b3, MPX_MPC_F_E | MPX_MPC_F_H);
    CHECK_EQ(sa->tcpflags, 0x12);
    CHECK_EQ(sa->len, 8);
    CHECK(sa->b3 & MPX_MPC_F_E);
    CHECK_EQ(ack->len, 12);
    CHECK(ack->b3 & MPX_MPC_F_E);
    CHECK(ek_xfer(pr, cid, sid, 1000));
    for (int i = 0; i < pr->nrec; i++) {
        if (pr->rec[i].sub != 0)
            continue;
        CHECK(pr->rec[i].b3 & MPX_MPC_F_E);
        CHECK(pr->rec[i].len == 4 || pr->rec[i].len == 8 || pr->rec[i].len == 12 ||
              pr->rec[i].len == 14 || pr->rec[i].len == 16);
    }
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(pr->b.st[0], (uint32_t)cid, &ci) == 0);
    REQUIRE(mpx_conn_get_info(pr->b.st[1], (uint32_t)sid, &si) == 0);
    CHECK(ci.mptcp && si.mptcp && ci.ext_keys && si.ext_keys);
    CHECK(ci.local_token != 0 && si.local_token != 0);
    CHECK_EQ(ci.remote_token, si.local_token);
    CHECK_EQ(si.remote_token, ci.local_token);
    CHECK_EQ(mpx_stack_mib(pr->b.st[0])->MPExtKeyOffered, 1);
    CHECK_EQ(mpx_stack_mib(pr->b.st[1])->MPExtKeyAccepted, 1);
    ek_free(pr);
}

/* A responder with E disabled answers an E SYN in RFC 8684 form (draft
 * section 4.1, NOTES D3); a PREFER initiator goes on in RFC 8684 form. */
MPX_TEST(mptcp_extkey_prefer_vs_rfc8684_responder)
{
    struct ek_pair *pr = ek_new(2, MPX_EXT_PREFER, MPX_EXT_NEVER, false);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    const struct ek_rec *syn = ek_mpc(pr, 0, 0), *sa = ek_mpc(pr, 1, 0), *ack = ek_mpc(pr, 0, 1);
    REQUIRE(syn && sa && ack);
    CHECK_EQ(syn->b3, MPX_MPC_F_E | MPX_MPC_F_H);
    CHECK_EQ(sa->len, 12);
    CHECK(!(sa->b3 & MPX_MPC_F_E));
    CHECK_EQ(ack->len, 20);
    CHECK(!(ack->b3 & MPX_MPC_F_E));
    CHECK(ek_xfer(pr, cid, sid, 1000));
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(pr->b.st[0], (uint32_t)cid, &ci) == 0);
    CHECK(ci.mptcp && !ci.ext_keys);
    ek_free(pr);
}

/* True if a client MP_CAPABLE ever carried a 64-bit key (RFC 8684
 * third-ACK forms 20/22/24). */
static bool ek_client_sent_key(const struct ek_pair *pr)
{
    for (int i = 0; i < pr->nrec; i++)
        if (pr->rec[i].from == 0 && pr->rec[i].sub == 0 && pr->rec[i].len >= 20)
            return true;
    return false;
}

/* REQUIRE never sends a key in clear: an RFC 8684 SYN/ACK is ignored
 * and the connection is plain TCP (single path). */
MPX_TEST(mptcp_extkey_require_vs_rfc8684_responder)
{
    struct ek_pair *pr = ek_new(3, MPX_EXT_REQUIRE, MPX_EXT_NEVER, false);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    CHECK(ek_xfer(pr, cid, sid, 1000));
    CHECK(!ek_client_sent_key(pr));
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(pr->b.st[0], (uint32_t)cid, &ci) == 0);
    REQUIRE(mpx_conn_get_info(pr->b.st[1], (uint32_t)sid, &si) == 0);
    CHECK(ci.fallback && !ci.mptcp && si.fallback);
    CHECK_EQ(mpx_conn_add_subflow(pr->b.st[0], (uint32_t)cid, &pr->b.addr[0][1], &pr->b.addr[1][1],
                                  80, false, pr->b.now),
             MPX_ERR_STATE);
    ek_free(pr);
}

/* A Linux-like peer answers an E SYN with a plain SYN/ACK: PREFER resets
 * that attempt, retries once in RFC 8684 form (so this very connection is
 * multipath-capable), counts the miss and caches the destination; the
 * next connection offers RFC 8684 at once. */
MPX_TEST(mptcp_extkey_prefer_vs_linux_cache)
{
    struct ek_pair *pr = ek_new(4, MPX_EXT_PREFER, MPX_EXT_NEVER, true);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    CHECK(ek_xfer(pr, cid, sid, 500));
    CHECK_EQ(mpx_stack_mib(pr->b.st[0])->MPExtKeyRetryNoE, 1);
    const struct ek_rec *s1 = ek_mpc(pr, 0, 0), *s2 = ek_mpc(pr, 0, 1);
    REQUIRE(s1 && s2);
    CHECK_EQ(s1->b3, MPX_MPC_F_E | MPX_MPC_F_H);
    CHECK_EQ(s2->b3, MPX_MPC_F_H); /* the retry */
    struct mpx_conn_info c1;
    REQUIRE(mpx_conn_get_info(pr->b.st[0], (uint32_t)cid, &c1) == 0);
    CHECK(c1.mptcp && !c1.ext_keys);
    pr->nrec = 0;
    long cid2, sid2 = ek_connect(pr, &cid2);
    REQUIRE(cid2 > 0 && sid2 > 0);
    CHECK_EQ(mpx_stack_mib(pr->b.st[0])->MPExtKeyCacheHit, 1);
    const struct ek_rec *syn = ek_mpc(pr, 0, 0);
    REQUIRE(syn);
    CHECK_EQ(syn->b3, MPX_MPC_F_H);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(pr->b.st[0], (uint32_t)cid2, &ci) == 0);
    CHECK(ci.mptcp && !ci.ext_keys);
    CHECK(ek_xfer(pr, cid2, sid2, 800));
    /* the cache expires (default 10 minutes) */
    pr->b.now += 601 * MPX_NS_PER_S;
    pr->nrec = 0;
    long cid3 = mpx_stack_connect(pr->b.st[0], NULL, &pr->b.addr[1][0], 80, pr->b.now);
    REQUIRE(cid3 > 0);
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    syn = ek_mpc(pr, 0, 0);
    REQUIRE(syn);
    CHECK_EQ(syn->b3, MPX_MPC_F_E | MPX_MPC_F_H);
    ek_free(pr);
}

/* REQUIRE against the Linux-like peer: single path, no key on the wire,
 * and no cache use (REQUIRE always offers E). */
MPX_TEST(mptcp_extkey_require_vs_linux)
{
    struct ek_pair *pr = ek_new(5, MPX_EXT_REQUIRE, MPX_EXT_NEVER, true);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    CHECK(ek_xfer(pr, cid, sid, 700));
    CHECK(!ek_client_sent_key(pr));
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(pr->b.st[0], (uint32_t)cid, &ci) == 0);
    CHECK(ci.fallback && !ci.mptcp);
    CHECK_EQ(mpx_stack_mib(pr->b.st[0])->MPExtKeyRetryNoE, 0);
    ek_free(pr);
}

/* Per-connection override of the stack default. */
MPX_TEST(mptcp_extkey_policy_override)
{
    struct ek_pair *pr = ek_new(6, MPX_EXT_NEVER, MPX_EXT_PREFER, false);
    long cid =
        mpx_stack_connect_ext(pr->b.st[0], NULL, &pr->b.addr[1][0], 80, MPX_EXT_PREFER, pr->b.now);
    REQUIRE(cid > 0);
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(pr->b.st[0], (uint32_t)cid, &ci) == 0);
    CHECK(ci.mptcp && ci.ext_keys);
    CHECK_EQ(mpx_stack_connect_ext(pr->b.st[0], NULL, &pr->b.addr[1][0], 80, (enum mpx_ext_policy)7,
                                   pr->b.now),
             MPX_ERR_INVAL);
    /* default NEVER: no E offered */
    pr->nrec = 0;
    REQUIRE(mpx_stack_connect(pr->b.st[0], NULL, &pr->b.addr[1][0], 80, pr->b.now) > 0);
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    const struct ek_rec *syn = ek_mpc(pr, 0, 0);
    REQUIRE(syn);
    CHECK_EQ(syn->b3, MPX_MPC_F_H);
    ek_free(pr);
}

/* Before any external key is installed nothing can be authenticated
 * (NOTES D17, D20): our joins wait, an observer's MP_JOIN SYN carrying
 * the (seen) token is refused with MP_TCPRST reason 3, and the
 * connection survives. */
MPX_TEST(mptcp_extkey_attacker_join_refused_no_key)
{
    struct ek_pair *pr = ek_new(7, MPX_EXT_PREFER, MPX_EXT_PREFER, false);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    struct mpx_conn_info si;
    REQUIRE(mpx_conn_get_info(pr->b.st[1], (uint32_t)sid, &si) == 0);
    /* our own join is queued, never sent */
    CHECK_INT(mpx_conn_add_subflow(pr->b.st[0], (uint32_t)cid, &pr->b.addr[0][1], &pr->b.addr[1][1],
                                   80, false, pr->b.now),
              0);
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    CHECK_EQ(mpx_stack_mib(pr->b.st[0])->MPJoinSynTx, 0);
    /* the observer's join */
    struct mpx_ip_hdr ip = {.version = 4, .ttl = 64, .proto = MPX_IPPROTO_TCP, .df = true};
    ip.src = mpx_addr_v4(0x0a000009u);
    ip.dst = pr->b.addr[1][1];
    struct mpx_tcp_hdr th = {
        .sport = 4321, .dport = 80, .seq = 1000, .flags = MPX_TH_SYN, .win = 65535};
    th.opts.n_mptcp = 1;
    th.opts.mptcp[0].subtype = MPX_MPTCP_SUB_JOIN;
    th.opts.mptcp[0].u.join.form = MPX_FORM_SYN;
    th.opts.mptcp[0].u.join.token = si.local_token;
    th.opts.mptcp[0].u.join.nonce = 0x12345678;
    int n = mpx_pkt_encode(pr->b.pkt, sizeof(pr->b.pkt), &ip, &th, NULL, 0, NULL);
    REQUIRE(n > 0);
    mpx_stack_input(pr->b.st[1], pr->b.pkt, (size_t)n, pr->b.now);
    n = mpx_stack_output(pr->b.st[1], pr->b.pkt, sizeof(pr->b.pkt), pr->b.now);
    REQUIRE(n > 0);
    struct mpx_pkt ans;
    REQUIRE(mpx_pkt_decode(pr->b.pkt, (size_t)n, true, &ans) == 0);
    CHECK(ans.tcp.flags & MPX_TH_RST);
    bool rst_opt = false;
    for (uint8_t i = 0; i < ans.tcp.opts.n_mptcp; i++)
        if (ans.tcp.opts.mptcp[i].subtype == MPX_MPTCP_SUB_TCPRST) {
            rst_opt = true;
            CHECK_EQ(ans.tcp.opts.mptcp[i].u.tcprst.reason, MPX_RST_EPROHIBIT);
            CHECK_EQ(ans.tcp.opts.mptcp[i].u.tcprst.flags, MPX_TCPRST_F_T);
        }
    CHECK(rst_opt);
    CHECK_EQ(mpx_stack_mib(pr->b.st[1])->MPJoinNoKeyRejected, 1);
    CHECK(ek_xfer(pr, cid, sid, 900));
    REQUIRE(mpx_conn_get_info(pr->b.st[1], (uint32_t)sid, &si) == 0);
    CHECK_EQ(si.subflows, 1);
    ek_free(pr);
}

/* NOTES D22: without a key no MP_FASTCLOSE is sent in E mode (the abort
 * is a plain RST of every subflow). */
MPX_TEST(mptcp_extkey_no_fastclose_without_key)
{
    struct ek_pair *pr = ek_new(8, MPX_EXT_PREFER, MPX_EXT_PREFER, false);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    pr->nrec = 0;
    CHECK_INT(mpx_conn_abort(pr->b.st[0], (uint32_t)cid, pr->b.now), 0);
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    for (int i = 0; i < pr->nrec; i++)
        CHECK(pr->rec[i].sub != MPX_MPTCP_SUB_FASTCLOSE);
    char buf[16];
    CHECK(mpx_conn_recv(pr->b.st[1], (uint32_t)sid, buf, sizeof(buf), pr->b.now) < 0);
    ek_free(pr);
}

/* The same raw key on both ends (NOTES D18, D20): joins are
 * authenticated with it, the connection becomes multipath; with a
 * different key on the server NEW_KEY never confirms and no join goes. */
MPX_TEST(mptcp_extkey_set_key_joins)
{
    static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    for (int bad = 0; bad < 2; bad++) {
        struct ek_pair *pr = ek_new(9 + (uint64_t)bad, MPX_EXT_PREFER, MPX_EXT_PREFER, false);
        long cid, sid = ek_connect(pr, &cid);
        REQUIRE(cid > 0 && sid > 0);
        CHECK_INT(mpx_conn_set_key(pr->b.st[0], (uint32_t)cid, key, 8, pr->b.now), MPX_ERR_INVAL);
        CHECK_INT(mpx_conn_set_key(pr->b.st[0], (uint32_t)cid, key, sizeof(key), pr->b.now), 0);
        CHECK_INT(mpx_conn_set_key(pr->b.st[0], (uint32_t)cid, key, sizeof(key), pr->b.now),
                  MPX_ERR_STATE);
        uint8_t skey[32];
        memcpy(skey, key, sizeof(skey));
        skey[31] ^= (uint8_t)bad;
        CHECK_INT(mpx_conn_set_key(pr->b.st[1], (uint32_t)sid, skey, sizeof(skey), pr->b.now), 0);
        CHECK_INT(mpx_conn_add_subflow(pr->b.st[0], (uint32_t)cid, &pr->b.addr[0][1],
                                       &pr->b.addr[1][1], 80, false, pr->b.now),
                  0);
        ek_run(pr, pr->b.now + MPX_NS_PER_S);
        struct mpx_conn_info ci;
        REQUIRE(mpx_conn_get_info(pr->b.st[0], (uint32_t)cid, &ci) == 0);
        CHECK_EQ(ci.subflows, bad ? 1 : 2);
        /* a different key never gets confirmed (NEW_KEY does not
         * verify, NOTES D13): no join is even tried */
        CHECK_EQ(mpx_stack_mib(pr->b.st[0])->MPJoinSynTx, (uint64_t)!bad);
        CHECK_EQ(mpx_stack_mib(pr->b.st[1])->MPNewKeyMismatch > 0, bad);
        CHECK_EQ(mpx_stack_mib(pr->b.st[1])->MPJoinAckRx, (uint64_t)!bad);
        CHECK(ek_xfer(pr, cid, sid, 4000));
        ek_free(pr);
    }
}

/* NOTES D22: with a key the abort carries MP_FASTCLOSE (K set, HMAC over
 * the tokens) and the peer believes it. */
MPX_TEST(mptcp_extkey_fastclose_with_key)
{
    static const uint8_t key[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    struct ek_pair *pr = ek_new(11, MPX_EXT_PREFER, MPX_EXT_PREFER, false);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    CHECK_INT(mpx_conn_set_key(pr->b.st[0], (uint32_t)cid, key, sizeof(key), pr->b.now), 0);
    CHECK_INT(mpx_conn_set_key(pr->b.st[1], (uint32_t)sid, key, sizeof(key), pr->b.now), 0);
    pr->nrec = 0;
    CHECK_INT(mpx_conn_abort(pr->b.st[0], (uint32_t)cid, pr->b.now), 0);
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    bool fc = false;
    for (int i = 0; i < pr->nrec; i++)
        if (pr->rec[i].sub == MPX_MPTCP_SUB_FASTCLOSE && pr->rec[i].from == 0)
            fc = true;
    CHECK(fc);
    CHECK_EQ(mpx_stack_mib(pr->b.st[1])->MPFastcloseRx, 1);
    ek_free(pr);
}

/* NOTES D23 DECIDED, D17: a signalled endpoint is announced only once the
 * key is installed, and the peer verifies the token-bound HMAC. */
MPX_TEST(mptcp_extkey_add_addr_after_key)
{
    static const uint8_t key[20] = {7, 7, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    struct ek_pair *pr = ek_new(12, MPX_EXT_PREFER, MPX_EXT_PREFER, false);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    struct mpx_pm_endpoint ep = {.flags = MPX_PM_F_SIGNAL, .addr = pr->b.addr[1][1]};
    REQUIRE(mpx_stack_endpoint_add(pr->b.st[1], &ep, pr->b.now) > 0);
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    CHECK_EQ(mpx_stack_mib(pr->b.st[1])->AddAddrTx, 0);
    CHECK_INT(mpx_conn_set_key(pr->b.st[0], (uint32_t)cid, key, sizeof(key), pr->b.now), 0);
    CHECK_INT(mpx_conn_set_key(pr->b.st[1], (uint32_t)sid, key, sizeof(key), pr->b.now), 0);
    ek_run(pr, pr->b.now + MPX_NS_PER_S);
    CHECK_EQ(mpx_stack_mib(pr->b.st[1])->AddAddrTx, 1);
    CHECK_EQ(mpx_stack_mib(pr->b.st[0])->AddAddr, 1);
    CHECK_EQ(mpx_stack_mib(pr->b.st[0])->AddAddrDrop, 0);
    CHECK(ek_xfer(pr, cid, sid, 1000));
    ek_free(pr);
}

/* NOTES D17 DECIDED, D21: a join naming a key id that is not installed
 * (K = 1, only key 0 exists) is refused like one without any key. */
MPX_TEST(mptcp_extkey_join_unknown_key_id_refused)
{
    static const uint8_t key[16] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 121, 98, 219};
    struct ek_pair *pr = ek_new(13, MPX_EXT_PREFER, MPX_EXT_PREFER, false);
    long cid, sid = ek_connect(pr, &cid);
    REQUIRE(cid > 0 && sid > 0);
    CHECK_INT(mpx_conn_set_key(pr->b.st[1], (uint32_t)sid, key, sizeof(key), pr->b.now), 0);
    struct mpx_conn_info si;
    REQUIRE(mpx_conn_get_info(pr->b.st[1], (uint32_t)sid, &si) == 0);
    struct mpx_ip_hdr ip = {.version = 4, .ttl = 64, .proto = MPX_IPPROTO_TCP, .df = true};
    ip.src = mpx_addr_v4(0x0a000009u);
    ip.dst = pr->b.addr[1][1];
    struct mpx_tcp_hdr th = {
        .sport = 4322, .dport = 80, .seq = 1000, .flags = MPX_TH_SYN, .win = 65535};
    th.opts.n_mptcp = 1;
    th.opts.mptcp[0].subtype = MPX_MPTCP_SUB_JOIN;
    th.opts.mptcp[0].u.join.form = MPX_FORM_SYN;
    th.opts.mptcp[0].u.join.key_id = true;
    th.opts.mptcp[0].u.join.token = si.local_token;
    int n = mpx_pkt_encode(pr->b.pkt, sizeof(pr->b.pkt), &ip, &th, NULL, 0, NULL);
    REQUIRE(n > 0);
    mpx_stack_input(pr->b.st[1], pr->b.pkt, (size_t)n, pr->b.now);
    n = mpx_stack_output(pr->b.st[1], pr->b.pkt, sizeof(pr->b.pkt), pr->b.now);
    REQUIRE(n > 0);
    struct mpx_pkt ans;
    REQUIRE(mpx_pkt_decode(pr->b.pkt, (size_t)n, true, &ans) == 0);
    CHECK(ans.tcp.flags & MPX_TH_RST);
    CHECK_EQ(mpx_stack_mib(pr->b.st[1])->MPJoinNoKeyRejected, 1);
    /* with K = 0 the same observer gets a SYN/ACK (it cannot finish the
     * join without the key: the third ACK's HMAC is checked) */
    th.opts.mptcp[0].u.join.key_id = false;
    th.sport = 4323;
    n = mpx_pkt_encode(pr->b.pkt, sizeof(pr->b.pkt), &ip, &th, NULL, 0, NULL);
    REQUIRE(n > 0);
    mpx_stack_input(pr->b.st[1], pr->b.pkt, (size_t)n, pr->b.now);
    n = mpx_stack_output(pr->b.st[1], pr->b.pkt, sizeof(pr->b.pkt), pr->b.now);
    REQUIRE(n > 0);
    REQUIRE(mpx_pkt_decode(pr->b.pkt, (size_t)n, true, &ans) == 0);
    CHECK_EQ(ans.tcp.flags, MPX_TH_SYN | MPX_TH_ACK);
    CHECK_EQ(mpx_stack_mib(pr->b.st[1])->MPJoinNoKeyRejected, 1);
    ek_free(pr);
}
