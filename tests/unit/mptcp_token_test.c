/*
 * mptcp_token_test.c - the host token table (token.h), key generation with
 * unique tokens (RFC 8684 section 3.1), the RFC 8684 key-scheme HMACs
 * against the NOTES 3.2 vectors, and the MIB name table.
 */
#include "crypto.h"
#include "err.h"
#include "mpx_test.h"
#include "mptcp_int.h"
#include "token.h"

MPX_TEST(mptcp_token_insert_lookup_remove_grow)
{
    struct mpx_token_table t;
    REQUIRE(mpx_token_init(&t, 4) == 0);
    static int vals[2000];
    CHECK_INT(mpx_token_insert(&t, 0, &vals[0]), MPX_ERR_INVAL);
    for (uint32_t i = 1; i < 2000; i++)
        REQUIRE(mpx_token_insert(&t, i * 2654435761u, &vals[i]) == 0);
    CHECK_EQ(mpx_token_count(&t), 1999);
    CHECK_INT(mpx_token_insert(&t, 5 * 2654435761u, &vals[0]), MPX_ERR_EXIST);
    for (uint32_t i = 1; i < 2000; i++)
        CHECK(mpx_token_lookup(&t, i * 2654435761u) == &vals[i]);
    CHECK(mpx_token_lookup(&t, 12345) == NULL);
    CHECK(mpx_token_lookup(&t, 0) == NULL);
    /* remove every other one; tombstones keep the others reachable */
    for (uint32_t i = 1; i < 2000; i += 2)
        REQUIRE(mpx_token_remove(&t, i * 2654435761u) == 0);
    CHECK_INT(mpx_token_remove(&t, 1 * 2654435761u), MPX_ERR_NOENT);
    for (uint32_t i = 1; i < 2000; i++)
        CHECK((mpx_token_lookup(&t, i * 2654435761u) != NULL) == (i % 2 == 0));
    /* re-insert over tombstones */
    for (uint32_t i = 1; i < 2000; i += 2)
        REQUIRE(mpx_token_insert(&t, i * 2654435761u, &vals[i]) == 0);
    CHECK_EQ(mpx_token_count(&t), 1999);
    mpx_token_free(&t);
}

static uint64_t seq_rand(void *ctx)
{
    uint64_t *s = ctx;
    return (*s)++;
}

static uint64_t same_rand(void *ctx)
{
    (void)ctx;
    return 0x0102030405060708ull;
}

MPX_TEST(mptcp_token_new_key_unique)
{
    struct mpx_token_table t;
    REQUIRE(mpx_token_init(&t, 16) == 0);
    uint64_t s = 1, key, idsn;
    uint32_t tok;
    for (int i = 0; i < 500; i++) {
        REQUIRE(mpx_token_new_key(&t, seq_rand, &s, 8, &key, &tok, &idsn) == 0);
        CHECK(tok != 0);
        uint32_t t2;
        uint64_t i2;
        REQUIRE(mpx_mptcp_key_sha(key, &t2, &i2) == 0);
        CHECK_EQ(t2, tok);
        CHECK_EQ(i2, idsn);
        REQUIRE(mpx_token_insert(&t, tok, &t) == 0); /* never a duplicate */
    }
    /* NOTES 3.2 vector: key 0x0102030405060708 -> token 66840dda */
    struct mpx_token_table e;
    REQUIRE(mpx_token_init(&e, 4) == 0);
    REQUIRE(mpx_token_new_key(&e, same_rand, NULL, 3, &key, &tok, &idsn) == 0);
    CHECK_EQ(tok, 0x66840dda);
    CHECK_EQ(idsn, 0xf5a101d3d29d6f72ull);
    REQUIRE(mpx_token_insert(&e, tok, &e) == 0);
    /* the only key it can draw now collides: gives up */
    CHECK_INT(mpx_token_new_key(&e, same_rand, NULL, 3, &key, &tok, &idsn), MPX_ERR_EXIST);
    mpx_token_free(&e);
    mpx_token_free(&t);
}

/* The key scheme's HMACs against NOTES 3.2 (Key_A = 0x0102030405060708,
 * Key_B = 0x1112131415161718, R_A = 0x01020304, R_B = 0x05060708). */
MPX_TEST(mptcp_token_key_scheme_vectors)
{
    struct mpx_msk a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.keys.lkey = b.keys.rkey = 0x0102030405060708ull;
    a.keys.rkey = b.keys.lkey = 0x1112131415161718ull;
    const struct mpx_key_ops *k = &mpx_key_ops_rfc8684;
    uint8_t h[32], h160[20], want[20];
    /* SYN/ACK (sent by B): HMAC(Key_B||Key_A, R_B||R_A), leftmost 64 */
    REQUIRE(k->join_hmac(&b, 0, true, 0x05060708, 0x01020304, h) == 0);
    CHECK_EQ(mpx_trunc_left64(h), 0x65ee096833f661d9ull);
    /* A verifies the same value with the peer first */
    REQUIRE(k->join_hmac(&a, 0, false, 0x05060708, 0x01020304, h) == 0);
    CHECK_EQ(mpx_trunc_left64(h), 0x65ee096833f661d9ull);
    /* third ACK (sent by A): HMAC(Key_A||Key_B, R_A||R_B), leftmost 160 */
    REQUIRE(k->join_hmac(&a, 0, true, 0x01020304, 0x05060708, h) == 0);
    mpx_trunc_left160(h, h160);
    REQUIRE(mpx_test_unhex("24bdde08dfc55c9b4185e1b56b2f89db241ac0f2", want, 20) == 20);
    CHECK_MEM(h160, want, 20);
    /* ADD_ADDR from A, id 1, 10.0.2.1, without and with port 8080 */
    struct mpx_addr ad = mpx_addr_v4(0x0a000201u);
    uint64_t v;
    REQUIRE(k->add_addr_hmac(&a, 0, true, 1, &ad, 0, &v) == 0);
    CHECK_EQ(v, 0x014b3007310c639cull);
    REQUIRE(k->add_addr_hmac(&b, 0, false, 1, &ad, 8080, &v) == 0);
    CHECK_EQ(v, 0xb08c3eb910379895ull);
    /* MP_FASTCLOSE carries the receiver's key */
    struct mpx_opt_fastclose fc;
    k->fill_fastclose(&a, 0, &fc);
    CHECK_EQ(fc.key, b.keys.lkey);
    CHECK(k->fastclose_ok(&b, &fc));
    fc.key ^= 1;
    CHECK(!k->fastclose_ok(&b, &fc));
}

MPX_TEST(mptcp_token_mib_names)
{
    size_t n;
    const struct mpx_mptcp_mib_name *names = mpx_mptcp_mib_names(&n);
    CHECK_EQ(n, sizeof(struct mpx_mptcp_mib) / sizeof(uint64_t));
    struct mpx_mptcp_mib m;
    memset(&m, 0, sizeof(m));
    m.MPJoinAckHMacFailure = 7;
    m.DssFallback = 3;
    CHECK_EQ(mpx_mptcp_mib_get(&m, "MPJoinAckHMacFailure"), 7);
    CHECK_EQ(mpx_mptcp_mib_get(&m, "DssFallback"), 3);
    CHECK_EQ(mpx_mptcp_mib_get(&m, "NoSuchCounter"), UINT64_MAX);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            CHECK(strcmp(names[i].name, names[j].name) != 0);
}
