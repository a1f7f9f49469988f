/*
 * mptcp_extkey2_test.c - external keys after the handshake
 * (draft-baerts-tcpm-mptcpext-00 section 4.2, NOTES.md D11-D23, DESIGN
 * decisions 5 and 6): the section 8.1 vectors through the core's key code,
 * NEW_KEY on the wire and its confirmation, retransmission and bounded
 * answers, pre-shared keys, rotation, the K echo of MP_JOIN and the policy
 * matrix. Two stacks back to back (mptcp_b2b.h); every MPTCP option is
 * logged as it left its host (mptcp_extkey_rec.h).
 */
#include <stdlib.h>

#include "conv.h"
#include "crypto.h"
#include "err.h"
#include "mptcp_b2b.h"
#include "mptcp_extkey_rec.h"
#include "mptcp_int.h"
#include "mpx_test.h"

/* NOTES 8.1 */
static const uint8_t vec_key[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

struct x2_cfg {
    enum mpx_ext_policy pol[2];
    bool like_linux;
    uint64_t grace_ns;
};

struct x2 {
    struct b2b b; /* first: the mangle hook casts back */
    struct xk_log log;
    int drop_nk[2]; /* drop this many packets with NEW_KEY from host k (-1 all) */
    int dropped_nk[2];
    bool flip_join_k; /* flip K in the server's MP_JOIN SYN/ACK */
    uint8_t tmp[70000];
};

static void x2_tweak(int k, struct mpx_stack_config *cfg, void *arg)
{
    const struct x2_cfg *c = arg;
    cfg->ext_policy = c->pol[k];
    cfg->ext_ignore_like_linux = k == 1 && c->like_linux;
    if (c->grace_ns)
        cfg->ext_grace_ns = c->grace_ns;
}

static bool has_opt(const struct mpx_pkt *p, enum mpx_mptcp_subtype sub)
{
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
        if (p->tcp.opts.mptcp[i].subtype == sub)
            return true;
    return false;
}

static size_t x2_hook(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct x2 *x = (struct x2 *)b;
    xk_record(&x->log, from, pkt, len, b->now);
    struct mpx_pkt p;
    if (mpx_pkt_decode(pkt, len, false, &p) < 0)
        return len;
    if (has_opt(&p, MPX_MPTCP_SUB_NEW_KEY) && x->drop_nk[from] &&
        (x->drop_nk[from] < 0 || x->dropped_nk[from] < x->drop_nk[from])) {
        x->dropped_nk[from]++;
        return 0;
    }
    if (x->flip_join_k && from == 1 &&
        (p.tcp.flags & (MPX_TH_SYN | MPX_TH_ACK)) == (MPX_TH_SYN | MPX_TH_ACK)) {
        for (uint8_t i = 0; i < p.tcp.opts.n_mptcp; i++)
            if (p.tcp.opts.mptcp[i].subtype == MPX_MPTCP_SUB_JOIN)
                p.tcp.opts.mptcp[i].u.join.key_id = !p.tcp.opts.mptcp[i].u.join.key_id;
        int n =
            mpx_pkt_encode(x->tmp, sizeof(x->tmp), &p.ip, &p.tcp, p.payload, p.payload_len, NULL);
        if (n > 0) {
            memcpy(pkt, x->tmp, (size_t)n);
            return (size_t)n;
        }
    }
    return len;
}

static struct x2 *x2_new(uint64_t seed, const struct x2_cfg *c)
{
    struct x2 *x = calloc(1, sizeof(*x));
    b2b_init(&x->b, seed, x2_tweak, (void *)c);
    x->b.mangle = x2_hook;
    return x;
}

static void x2_free(struct x2 *x)
{
    b2b_free(&x->b);
    free(x);
}

static void x2_run(struct x2 *x, uint64_t ns)
{
    b2b_run(&x->b, x->b.now + ns);
}

/* Connect (stack default policy), run a second, accept. */
static bool x2_connect(struct x2 *x, uint32_t *cid, uint32_t *sid)
{
    long c = mpx_stack_connect(x->b.st[0], NULL, &x->b.addr[1][0], 80, x->b.now);
    if (c <= 0)
        return false;
    x2_run(x, MPX_NS_PER_S);
    long s = mpx_stack_accept(x->b.st[1], 80);
    if (s <= 0)
        return false;
    *cid = (uint32_t)c;
    *sid = (uint32_t)s;
    return true;
}

static bool x2_xfer(struct x2 *x, uint32_t cid, uint32_t sid, size_t n)
{
    static uint8_t out[8192], in[8192];
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(i * 13 + 1);
    if (mpx_conn_send(x->b.st[0], cid, out, n, x->b.now) != (long)n)
        return false;
    x2_run(x, MPX_NS_PER_S);
    long got = mpx_conn_recv(x->b.st[1], sid, in, sizeof(in), x->b.now);
    return got == (long)n && memcmp(in, out, n) == 0;
}

static struct mpx_conn_info x2_info(struct x2 *x, int k, uint32_t conn)
{
    struct mpx_conn_info i;
    memset(&i, 0, sizeof(i));
    mpx_conn_get_info(x->b.st[k], conn, &i);
    return i;
}

static const struct mpx_mptcp_mib *mib(struct x2 *x, int k)
{
    return mpx_stack_mib(x->b.st[k]);
}

static uint64_t hex64(const char *h)
{
    uint8_t b[8];
    uint64_t v = 0;
    if (mpx_test_unhex(h, b, 8) != 8)
        return 0;
    mpx_get_be64(&v, b);
    return v;
}

static struct mpx_msk *fake_msk(struct mpx_stack *st, uint32_t lt, uint32_t rt, bool server)
{
    struct mpx_msk *m = calloc(1, sizeof(*m));
    m->st = st;
    m->kops = &mpx_key_ops_ext;
    m->ext = m->mptcp = true;
    m->server = server;
    m->keys.ltoken = lt;
    m->keys.rtoken = rt;
    m->keys.have_remote = true;
    return m;
}

static uint64_t vec_rand(void *ctx)
{
    (void)ctx;
    return 42;
}

/* NOTES 8.1 through the core's own code (mptcp_keys.c ops and
 * mptcp_newkey.c), not only crypto.c: NEW_KEY both ways (D11, D12),
 * FASTCLOSE (D22), MP_JOIN HMACs (D20), ADD_ADDR both ways (D23 DECIDED),
 * PSK expansion and the rotation ratchet (DESIGN decision 6). Host A =
 * Token_A 0x01020304 (initiator), B = 0x05060708. */
MPX_TEST(mptcp_extkey_vectors_core)
{
    struct mpx_stack_config cfg;
    mpx_stack_config_default(&cfg);
    cfg.rand = vec_rand;
    struct mpx_stack *st = mpx_stack_new(&cfg);
    REQUIRE(st);
    struct mpx_msk *a = fake_msk(st, 0x01020304u, 0x05060708u, false);
    struct mpx_msk *b = fake_msk(st, 0x05060708u, 0x01020304u, true);
    REQUIRE(mpx_ek_install(a, vec_key, 32, 0) == 0);
    REQUIRE(mpx_ek_install(b, vec_key, 32, 0) == 0);
    const struct mpx_key_ops *k = &mpx_key_ops_ext;
    uint8_t h[32], want[32];
    /* NEW_KEY: A's value, and B's as A expects it */
    REQUIRE(mpx_ek_token_hmac(a, 0, true, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), hex64("6b98905e1680d5d5"));
    REQUIRE(mpx_ek_token_hmac(a, 0, false, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), hex64("a7824b89ded8f80d"));
    REQUIRE(mpx_ek_token_hmac(b, 0, true, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), hex64("a7824b89ded8f80d"));
    /* MP_FASTCLOSE from A: leftmost half, K = 0; B believes it */
    struct mpx_opt_fastclose fc;
    k->fill_fastclose(a, 0, &fc);
    CHECK_EQ(fc.key, hex64("0bf151f141782a4b"));
    CHECK(!fc.key_id);
    CHECK(k->fastclose_ok(b, &fc));
    CHECK(!k->fastclose_ok(a, &fc));    /* reflected back to A: no */
    fc.key = hex64("6b98905e1680d5d5"); /* A's NEW_KEY replayed */
    CHECK(!k->fastclose_ok(b, &fc));
    /* MP_JOIN: SYN/ACK by B = HMAC(ExtKey, R_B || R_A) leftmost 64; ACK
     * by A = HMAC(ExtKey, R_A || R_B) leftmost 160 */
    REQUIRE(k->join_hmac(b, 0, true, 0x05060708u, 0x01020304u, h) == 0);
    CHECK_EQ(mpx_trunc_left64(h), hex64("4605d873a8ea8f53"));
    REQUIRE(k->join_hmac(a, 0, false, 0x05060708u, 0x01020304u, h) == 0);
    CHECK_EQ(mpx_trunc_left64(h), hex64("4605d873a8ea8f53"));
    REQUIRE(k->join_hmac(a, 0, true, 0x01020304u, 0x05060708u, h) == 0);
    uint8_t h160[20];
    mpx_trunc_left160(h, h160);
    REQUIRE(mpx_test_unhex("5ea9633fb4bd1788197520638af1f7a6f31ebe0a", want, 20) == 20);
    CHECK_MEM(h160, want, 20);
    /* key id 1 is not installed: nothing verifies with it */
    CHECK(k->join_hmac(a, 1, true, 1, 2, h) < 0);
    /* ADD_ADDR id 2, 10.10.2.2, no port */
    struct mpx_addr ad = mpx_addr_v4(0x0a0a0202u);
    uint64_t v;
    REQUIRE(k->add_addr_hmac(a, 0, true, 2, &ad, 0, &v) == 0);
    CHECK_EQ(v, hex64("51b09251ebcfce85"));
    REQUIRE(k->add_addr_hmac(a, 0, false, 2, &ad, 0, &v) == 0);
    CHECK_EQ(v, hex64("5eaf2bf2d8d88f43"));
    /* rotation: HKDF-Expand(ExtKey, "mptcpext rotate", 32), in slot 1 */
    CHECK_INT(mpx_ek_rotate(a, 0), MPX_ERR_STATE); /* not confirmed yet */
    mpx_ek_confirm(a, 0, 0);
    CHECK_INT(mpx_ek_tx_k(a), 0);
    REQUIRE(mpx_ek_rotate(a, 0) == 0);
    size_t klen = 0;
    const uint8_t *nk = mpx_ek_key(a, 1, &klen);
    REQUIRE(nk && klen == 32);
    REQUIRE(mpx_test_unhex("e59600d82b286c098b4d7372b0a75137d22b3c2f8172a129c1bf350580ed8066", want,
                           32) == 32);
    CHECK_MEM(nk, want, 32);
    CHECK_INT(mpx_ek_tx_k(a), 0); /* new joins wait for its confirmation */
    /* PSK of 32 zero bytes, salt Token_A || Token_B, on either end */
    static const uint8_t zero[32];
    REQUIRE(mpx_test_unhex("331a1bf01f72ee594c2233a4893c58658d2f53511d4dbab925d186a287380f93", want,
                           32) == 32);
    for (int srv = 0; srv < 2; srv++) {
        struct mpx_msk *p = srv ? fake_msk(st, 0x05060708u, 0x01020304u, true)
                                : fake_msk(st, 0x01020304u, 0x05060708u, false);
        REQUIRE(mpx_ek_install_psk(p, zero, sizeof(zero), 0) == 0);
        const uint8_t *pk = mpx_ek_key(p, 0, &klen);
        REQUIRE(pk && klen == 32);
        CHECK_MEM(pk, want, 32);
        mpx_msk_ext_key_erase(p);
        free(p);
    }
    /* erasure leaves no key byte behind */
    const uint8_t *slot0 = a->ek.slot[0].bytes;
    mpx_msk_ext_key_erase(a);
    CHECK_MEM(slot0, zero, 32);
    CHECK(!mpx_ek_key(a, 0, NULL) && !mpx_ek_key(a, 1, NULL));
    mpx_msk_ext_key_erase(b);
    free(a);
    free(b);
    mpx_stack_free(st);
}

static const struct x2_cfg cfg_ee = {{MPX_EXT_PREFER, MPX_EXT_PREFER}, false, 0};

/* NEW_KEY on the wire (NOTES D10-D12, D15): 12 bytes, byte 2 = 0x90 | K,
 * byte 3 = 0, the rightmost 64 bits of HMAC(Token_snd || Token_rcv,
 * ExtKey) recomputed here from the tokens; one each way, both confirmed,
 * state and fingerprint in the info; then joins work and the abort's
 * FASTCLOSE is the other half (D22). */
MPX_TEST(mptcp_extkey_newkey_wire_values)
{
    struct x2 *x = x2_new(21, &cfg_ee);
    uint32_t cid, sid;
    REQUIRE(x2_connect(x, &cid, &sid));
    struct mpx_conn_info ci = x2_info(x, 0, cid), si = x2_info(x, 1, sid);
    CHECK_EQ(ci.key_state, MPX_KEYST_NONE);
    CHECK_INT(mpx_conn_set_key(x->b.st[0], cid, vec_key, 32, x->b.now), 0);
    ci = x2_info(x, 0, cid);
    CHECK_EQ(ci.key_state, MPX_KEYST_PENDING);
    CHECK_INT(mpx_conn_set_key(x->b.st[1], sid, vec_key, 32, x->b.now), 0);
    x2_run(x, MPX_NS_PER_S);
    ci = x2_info(x, 0, cid);
    si = x2_info(x, 1, sid);
    CHECK_EQ(ci.key_state, MPX_KEYST_ACTIVE);
    CHECK_EQ(si.key_state, MPX_KEYST_ACTIVE);
    uint8_t h[32];
    REQUIRE(mpx_sha256(vec_key, 32, h) == 0);
    CHECK_MEM(ci.key_fpr, h, 8);
    CHECK_MEM(si.key_fpr, h, 8);
    for (int k = 0; k < 2; k++) {
        const struct xk_rec *r = xk_find(&x->log, k, MPX_MPTCP_SUB_NEW_KEY, -1, 0);
        REQUIRE(r);
        CHECK_EQ(r->len, 12);
        CHECK_EQ(r->b2, 0x90);
        CHECK_EQ(r->b3, 0);
        uint8_t msg[8];
        uint32_t ts = k ? si.local_token : ci.local_token, tr = k ? ci.local_token : si.local_token;
        mpx_put_be32(mpx_put_be32(msg, ts), tr);
        REQUIRE(mpx_hmac_sha256(msg, 8, vec_key, 32, h) == 0);
        CHECK_EQ(r->o.u.new_key.hmac, mpx_trunc_right64(h));
        CHECK_EQ(xk_count(&x->log, k, MPX_MPTCP_SUB_NEW_KEY), 1);
        CHECK_EQ(mib(x, k)->MPNewKeyTx, 1);
        CHECK_EQ(mib(x, k)->MPNewKeyRx, 1);
        CHECK_EQ(mib(x, k)->MPNewKeyConfirmed, 1);
        CHECK_EQ(mib(x, k)->MPNewKeyRetrans, 0);
        CHECK_EQ(mib(x, k)->MPNewKeyMismatch, 0);
    }
    CHECK_INT(mpx_conn_add_subflow(x->b.st[0], cid, &x->b.addr[0][1], &x->b.addr[1][1], 80, false,
                                   x->b.now),
              0);
    x2_run(x, MPX_NS_PER_S);
    const struct xk_rec *j = xk_find(&x->log, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN, 0);
    REQUIRE(j);
    CHECK_EQ(j->b2 & 0x02, 0); /* K = 0 */
    CHECK_EQ(x2_info(x, 0, cid).subflows, 2);
    CHECK(x2_xfer(x, cid, sid, 3000));
    x->log.n = 0;
    CHECK_INT(mpx_conn_abort(x->b.st[0], cid, x->b.now), 0);
    x2_run(x, MPX_NS_PER_S);
    const struct xk_rec *f = xk_find(&x->log, 0, MPX_MPTCP_SUB_FASTCLOSE, -1, 0);
    REQUIRE(f);
    uint8_t msg[8];
    mpx_put_be32(mpx_put_be32(msg, ci.local_token), si.local_token);
    REQUIRE(mpx_hmac_sha256(msg, 8, vec_key, 32, h) == 0);
    CHECK_EQ(f->o.u.fastclose.key, mpx_trunc_left64(h));
    CHECK(mib(x, 1)->MPFastcloseRx >= 1); /* one per subflow */
    x2_free(x);
}

/* DESIGN decision 6: a pre-shared key is expanded with HKDF over the
 * tokens (so the key differs per connection); the same PSK on both ends
 * confirms, another one never does (NEW_KEY mismatch, D13), the sender
 * gives up after 6 tries (D15) and the connection stays single-path. */
MPX_TEST(mptcp_extkey_psk_both_ends)
{
    static const char psk[] = "correct horse battery staple";
    for (int bad = 0; bad < 2; bad++) {
        struct x2 *x = x2_new(22 + (uint64_t)bad, &cfg_ee);
        uint32_t cid, sid;
        REQUIRE(x2_connect(x, &cid, &sid));
        CHECK_INT(mpx_conn_set_psk(x->b.st[0], cid, psk, 0, x->b.now), MPX_ERR_INVAL);
        CHECK_INT(mpx_conn_set_psk(x->b.st[0], cid + 100, psk, 4, x->b.now), MPX_ERR_NOENT);
        CHECK_INT(mpx_conn_set_psk(x->b.st[0], cid, psk, sizeof(psk) - 1, x->b.now), 0);
        CHECK_INT(mpx_conn_set_psk(x->b.st[1], sid, psk, sizeof(psk) - 1 - (size_t)bad, x->b.now),
                  0);
        CHECK_INT(mpx_conn_add_subflow(x->b.st[0], cid, &x->b.addr[0][1], &x->b.addr[1][1], 80,
                                       false, x->b.now),
                  0);
        x2_run(x, 120 * MPX_NS_PER_S);
        struct mpx_conn_info ci = x2_info(x, 0, cid), si = x2_info(x, 1, sid);
        uint8_t salt[8], key[32], h[32];
        mpx_put_be32(mpx_put_be32(salt, ci.local_token), si.local_token);
        REQUIRE(mpx_hkdf_sha256(psk, sizeof(psk) - 1, salt, 8, "mptcpext psk", 12, key, 32) == 0);
        REQUIRE(mpx_sha256(key, 32, h) == 0);
        CHECK_MEM(ci.key_fpr, h, 8);
        if (!bad) {
            CHECK_MEM(si.key_fpr, h, 8);
            CHECK_EQ(ci.key_state, MPX_KEYST_ACTIVE);
            CHECK_EQ(si.key_state, MPX_KEYST_ACTIVE);
            CHECK_EQ(ci.subflows, 2);
        } else {
            CHECK(memcmp(si.key_fpr, h, 8) != 0);
            CHECK_EQ(ci.key_state, MPX_KEYST_FAILED);
            CHECK_EQ(si.key_state, MPX_KEYST_FAILED);
            CHECK_EQ(ci.subflows, 1);
            for (int k = 0; k < 2; k++) {
                CHECK_EQ(mib(x, k)->MPNewKeyGiveUp, 1);
                CHECK_EQ(mib(x, k)->MPNewKeyTx + mib(x, k)->MPNewKeyRetrans, MPX_NK_TRIES);
                CHECK_EQ(mib(x, k)->MPNewKeyMismatch, MPX_NK_TRIES);
            }
            CHECK_EQ(mib(x, 0)->MPJoinSynTx, 0);
        }
        CHECK(x2_xfer(x, cid, sid, 2000));
        x2_free(x);
    }
    /* an RFC 8684 connection has no external key */
    static const struct x2_cfg rfc = {{MPX_EXT_NEVER, MPX_EXT_NEVER}, false, 0};
    struct x2 *x = x2_new(24, &rfc);
    uint32_t cid, sid;
    REQUIRE(x2_connect(x, &cid, &sid));
    CHECK_INT(mpx_conn_set_psk(x->b.st[0], cid, psk, 8, x->b.now), MPX_ERR_STATE);
    CHECK_INT(mpx_conn_rotate_key(x->b.st[0], cid, x->b.now), MPX_ERR_STATE);
    x2_free(x);
}

/* D14 DECIDED (b) and D15: the server's NEW_KEYs are all lost. The
 * client retransmits with a doubling interval from max(RTO, 200 ms), 6
 * sends in all, then gives up (key FAILED, no join); the server, which
 * confirmed the key from the client's first NEW_KEY, answers the
 * duplicates at most 3 times. The connection keeps working. */
MPX_TEST(mptcp_extkey_newkey_answers_bounded)
{
    struct x2 *x = x2_new(25, &cfg_ee);
    uint32_t cid, sid;
    REQUIRE(x2_connect(x, &cid, &sid));
    x->drop_nk[1] = -1;
    CHECK_INT(mpx_conn_set_key(x->b.st[1], sid, vec_key, 32, x->b.now), 0);
    CHECK_INT(mpx_conn_set_key(x->b.st[0], cid, vec_key, 32, x->b.now), 0);
    x2_run(x, 60 * MPX_NS_PER_S);
    CHECK_EQ(x2_info(x, 1, sid).key_state, MPX_KEYST_ACTIVE);
    CHECK_EQ(x2_info(x, 0, cid).key_state, MPX_KEYST_FAILED);
    CHECK_EQ(mib(x, 0)->MPNewKeyGiveUp, 1);
    CHECK_EQ(xk_count(&x->log, 0, MPX_MPTCP_SUB_NEW_KEY), MPX_NK_TRIES);
    CHECK_EQ(mib(x, 0)->MPNewKeyTx, 1);
    CHECK_EQ(mib(x, 0)->MPNewKeyRetrans, MPX_NK_TRIES - 1);
    CHECK(mib(x, 1)->MPNewKeyAnswer >= 1);
    CHECK(mib(x, 1)->MPNewKeyAnswer <= MPX_NK_ANSWERS);
    /* the server sent its first NEW_KEY plus the answers, nothing more */
    CHECK_EQ((uint64_t)x->dropped_nk[1], 1 + mib(x, 1)->MPNewKeyAnswer);
    /* intervals: >= 200 ms, doubling */
    uint64_t prev = 0, gap = 0;
    for (int i = 0; i < MPX_NK_TRIES; i++) {
        const struct xk_rec *r = xk_find(&x->log, 0, MPX_MPTCP_SUB_NEW_KEY, -1, i);
        REQUIRE(r);
        if (i >= 1) {
            uint64_t g = r->t - prev;
            CHECK(g >= 200 * MPX_NS_PER_MS);
            if (i >= 2)
                CHECK(g >= 2 * gap - MPX_NS_PER_MS);
            gap = g;
        }
        prev = r->t;
    }
    CHECK_EQ(mib(x, 0)->MPJoinSynTx, 0);
    CHECK(x2_xfer(x, cid, sid, 1500));
    x2_free(x);
}

/* NOTES D21: the server's MP_JOIN SYN/ACK echoes another K than the
 * SYN's: the client resets that subflow (MP_TCPRST), the connection goes
 * on. */
MPX_TEST(mptcp_extkey_join_k_echo_mismatch)
{
    struct x2 *x = x2_new(26, &cfg_ee);
    uint32_t cid, sid;
    REQUIRE(x2_connect(x, &cid, &sid));
    CHECK_INT(mpx_conn_set_key(x->b.st[0], cid, vec_key, 32, x->b.now), 0);
    CHECK_INT(mpx_conn_set_key(x->b.st[1], sid, vec_key, 32, x->b.now), 0);
    x2_run(x, MPX_NS_PER_S);
    x->flip_join_k = true;
    CHECK_INT(mpx_conn_add_subflow(x->b.st[0], cid, &x->b.addr[0][1], &x->b.addr[1][1], 80, false,
                                   x->b.now),
              0);
    x2_run(x, MPX_NS_PER_S);
    CHECK(mib(x, 0)->MPJoinKeyIdMismatch >= 1);
    CHECK_EQ(mib(x, 0)->MPJoinSynAckRx, 0);
    CHECK_EQ(mib(x, 1)->MPJoinAckRx, 0);
    CHECK_EQ(x2_info(x, 0, cid).subflows, 1);
    CHECK(x2_xfer(x, cid, sid, 1000));
    x2_free(x);
}

/* D16/D17 and DESIGN decision 6: rotation by ratchet. NEW_KEY for K = 1,
 * the new key active on both ends (generation 1, fingerprint of
 * HKDF-Expand(key, "mptcpext rotate")), new joins carry K = 1; no second
 * rotation while the old key is in its grace period; after it the old key
 * is erased (zero bytes) and the next rotation goes back to K = 0. */
MPX_TEST(mptcp_extkey_rotation_ratchet)
{
    static const struct x2_cfg c = {{MPX_EXT_PREFER, MPX_EXT_PREFER}, false, 2 * MPX_NS_PER_S};
    struct x2 *x = x2_new(27, &c);
    uint32_t cid, sid, conn[2];
    REQUIRE(x2_connect(x, &cid, &sid));
    conn[0] = cid;
    conn[1] = sid;
    CHECK_INT(mpx_conn_rotate_key(x->b.st[0], cid, x->b.now), MPX_ERR_STATE);
    for (int k = 0; k < 2; k++)
        CHECK_INT(mpx_conn_set_key(x->b.st[k], conn[k], vec_key, 32, x->b.now), 0);
    x2_run(x, 100 * MPX_NS_PER_MS);
    x->log.n = 0;
    for (int k = 0; k < 2; k++)
        CHECK_INT(mpx_conn_rotate_key(x->b.st[k], conn[k], x->b.now), 0);
    struct mpx_conn_info ci = x2_info(x, 0, cid);
    CHECK_EQ(ci.key_state, MPX_KEYST_ROTATING);
    CHECK_EQ(ci.key_id, 0);
    CHECK_INT(mpx_conn_rotate_key(x->b.st[0], cid, x->b.now), MPX_ERR_STATE);
    x2_run(x, 100 * MPX_NS_PER_MS);
    uint8_t nk[32], h[32];
    REQUIRE(mpx_hkdf_expand_sha256(vec_key, 32, "mptcpext rotate", 15, nk, 32) == 0);
    REQUIRE(mpx_sha256(nk, 32, h) == 0);
    for (int k = 0; k < 2; k++) {
        struct mpx_conn_info i = x2_info(x, k, conn[k]);
        CHECK_EQ(i.key_state, MPX_KEYST_ACTIVE);
        CHECK_EQ(i.key_id, 1);
        CHECK_EQ(i.key_gen, 1);
        CHECK_MEM(i.key_fpr, h, 8);
        const struct xk_rec *r = xk_find(&x->log, k, MPX_MPTCP_SUB_NEW_KEY, -1, 0);
        REQUIRE(r);
        CHECK_EQ(r->b2, 0x91);
        CHECK_EQ(mib(x, k)->MPExtKeyRotated, 1);
    }
    CHECK_INT(mpx_conn_rotate_key(x->b.st[0], cid, x->b.now), MPX_ERR_AGAIN);
    CHECK_INT(mpx_conn_add_subflow(x->b.st[0], cid, &x->b.addr[0][1], &x->b.addr[1][1], 80, false,
                                   x->b.now),
              0);
    x2_run(x, 500 * MPX_NS_PER_MS);
    const struct xk_rec *j = xk_find(&x->log, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN, 0);
    REQUIRE(j);
    CHECK_EQ(j->b2 & 0x02, 0x02);
    j = xk_find(&x->log, 1, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN | MPX_TH_ACK, 0);
    REQUIRE(j);
    CHECK_EQ(j->b2 & 0x02, 0x02); /* echo */
    CHECK_EQ(x2_info(x, 0, cid).subflows, 2);
    /* the old key is still there (grace), then erased */
    struct mpx_msk *m = mpx_stack_find(x->b.st[1], sid);
    REQUIRE(m);
    CHECK(mpx_ek_key(m, 0, NULL) != NULL);
    x2_run(x, 2 * MPX_NS_PER_S);
    static const uint8_t zero[MPX_EXT_KEY_MAX];
    CHECK(mpx_ek_key(m, 0, NULL) == NULL);
    CHECK_MEM(m->ek.slot[0].bytes, zero, sizeof(zero));
    CHECK_EQ(mib(x, 0)->MPExtKeyRetired, 1);
    CHECK_EQ(mib(x, 1)->MPExtKeyRetired, 1);
    for (int k = 0; k < 2; k++)
        CHECK_INT(mpx_conn_rotate_key(x->b.st[k], conn[k], x->b.now), 0);
    x2_run(x, 100 * MPX_NS_PER_MS);
    for (int k = 0; k < 2; k++) {
        struct mpx_conn_info i = x2_info(x, k, conn[k]);
        CHECK_EQ(i.key_state, MPX_KEYST_ACTIVE);
        CHECK_EQ(i.key_id, 0);
        CHECK_EQ(i.key_gen, 2);
    }
    CHECK(x2_xfer(x, cid, sid, 4000));
    x2_free(x);
}

/* DESIGN decision 5 against three peers: ours in PREFER, ours in NEVER,
 * and a Linux-like one (drops an MP_CAPABLE with E). Every MPTCP option
 * of every packet is scanned for a 64-bit key (MP_CAPABLE without E of
 * 12 bytes or more). */
MPX_TEST(mptcp_extkey_policy_matrix)
{
    static const struct {
        enum mpx_ext_policy c, s;
        bool linux_peer;
        bool mptcp, ext, key_on_wire;
        uint64_t retry;
    } t[] = {
        {MPX_EXT_PREFER, MPX_EXT_PREFER, false, true, true, false, 0},
        {MPX_EXT_PREFER, MPX_EXT_NEVER, false, true, false, true, 0},
        {MPX_EXT_PREFER, MPX_EXT_NEVER, true, true, false, true, 1},
        {MPX_EXT_NEVER, MPX_EXT_PREFER, false, true, false, true, 0},
        {MPX_EXT_NEVER, MPX_EXT_NEVER, false, true, false, true, 0},
        {MPX_EXT_NEVER, MPX_EXT_NEVER, true, true, false, true, 0},
        {MPX_EXT_REQUIRE, MPX_EXT_PREFER, false, true, true, false, 0},
        {MPX_EXT_REQUIRE, MPX_EXT_NEVER, false, false, false, false, 0},
        {MPX_EXT_REQUIRE, MPX_EXT_NEVER, true, false, false, false, 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct x2_cfg c = {{t[i].c, t[i].s}, t[i].linux_peer, 0};
        struct x2 *x = x2_new(30 + i, &c);
        uint32_t cid, sid;
        REQUIRE(x2_connect(x, &cid, &sid));
        if (t[i].ext)
            for (int k = 0; k < 2; k++)
                CHECK_INT(mpx_conn_set_key(x->b.st[k], k ? sid : cid, vec_key, 32, x->b.now), 0);
        x2_run(x, 100 * MPX_NS_PER_MS);
        int rv = mpx_conn_add_subflow(x->b.st[0], cid, &x->b.addr[0][1], &x->b.addr[1][1], 80,
                                      false, x->b.now);
        CHECK_INT(rv, t[i].mptcp ? 0 : MPX_ERR_STATE);
        x2_run(x, MPX_NS_PER_S);
        CHECK(x2_xfer(x, cid, sid, 2500));
        struct mpx_conn_info ci = x2_info(x, 0, cid);
        printf("  case %zu: mptcp %d ext %d subflows %u key on wire %d\n", i, ci.mptcp, ci.ext_keys,
               ci.subflows, xk_key_on_wire(&x->log, 0));
        CHECK_EQ(ci.mptcp, t[i].mptcp);
        CHECK_EQ(ci.fallback, !t[i].mptcp);
        CHECK_EQ(ci.ext_keys, t[i].ext);
        CHECK_EQ(ci.subflows, t[i].mptcp ? 2 : 1); /* multipath when MPTCP */
        CHECK_EQ(xk_key_on_wire(&x->log, 0), t[i].key_on_wire);
        CHECK_EQ(mib(x, 0)->MPExtKeyRetryNoE, t[i].retry);
        if (t[i].retry) {
            /* the next connection to that peer: RFC 8684 at once */
            x->log.n = 0;
            uint32_t c2, s2;
            REQUIRE(x2_connect(x, &c2, &s2));
            CHECK_EQ(mib(x, 0)->MPExtKeyCacheHit, 1);
            CHECK_EQ(mib(x, 0)->MPExtKeyRetryNoE, 1);
            CHECK_EQ(xk_count(&x->log, 0, MPX_MPTCP_SUB_CAPABLE) >= 2, true);
            const struct xk_rec *syn = xk_find(&x->log, 0, MPX_MPTCP_SUB_CAPABLE, MPX_TH_SYN, 0);
            REQUIRE(syn);
            CHECK_EQ(syn->b3, MPX_MPC_F_H);
            CHECK(!xk_find(&x->log, 0, MPX_MPTCP_SUB_CAPABLE, MPX_TH_SYN, 1));
            CHECK(x2_info(x, 0, c2).mptcp);
        }
        x2_free(x);
    }
}
