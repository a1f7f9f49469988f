/* Vectors for crypto.c: RFC 4231/5869, Linux net/mptcp/crypto_test.c, the
 * RFC 8684 derivations (NOTES.md section 3.2) and the external-key
 * derivations of NOTES.md section 8.1 (computed independently of this
 * project and cross-checked with `openssl dgst -mac HMAC`). */
#include "crypto.h"
#include "conv.h"
#include "err.h"
#include "mpx_test.h"

static void hex32(const char *hex, uint8_t out[32])
{
    int n = mpx_test_unhex(hex, out, 32);
    if (n != 32)
        mpx_test_fail(__FILE__, __LINE__, "bad vector %s", hex);
}

/* Linux KUnit mptcp_crypto_test: key and message are the ASCII bytes of
 * the strings (16-byte key = key1 || key2, 8-byte message). */
MPX_TEST(crypto_hmac_linux_kunit_vectors)
{
    static const struct {
        const char *key, *msg, *result;
    } v[] = {
        {"0b0b0b0b0b0b0b0b", "48692054",
         "8385e24fb4235ac37556b6b886db106284a1da671699f46db1f235ec622dcafa"},
        {"aaaaaaaaaaaaaaaa", "dddddddd",
         "2c5e219164ff1dca1c4a92318d847bb6b9d44492984e1eb71aff9022f71046e9"},
        {"0102030405060708", "cdcdcdcd",
         "e73b9ba9969969cefb04aa0d6df18ec2fcc075b6f23b4d8c4da736a5dbbc6e7d"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t want[32], got[32];
        hex32(v[i].result, want);
        CHECK_INT(mpx_hmac_sha256(v[i].key, 16, v[i].msg, 8, got), 0);
        CHECK_MEM(got, want, 32);
    }
}

/* RFC 4231 test case 2: a key shorter than the block, ASCII message. */
MPX_TEST(crypto_hmac_rfc4231_case2)
{
    uint8_t want[32], got[32];
    hex32("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want);
    CHECK_INT(mpx_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, got), 0);
    CHECK_MEM(got, want, 32);
}

MPX_TEST(crypto_sha256_abc)
{
    uint8_t want[32], got[32];
    hex32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
    CHECK_INT(mpx_sha256("abc", 3, got), 0);
    CHECK_MEM(got, want, 32);
}

/* RFC 5869 appendix A.1 (test case 1), and its PRK used for expand-only. */
MPX_TEST(crypto_hkdf_rfc5869_case1)
{
    uint8_t ikm[22], salt[13], info[10], okm[42], want[42], prk[32];
    memset(ikm, 0x0b, sizeof(ikm));
    for (int i = 0; i < 13; i++)
        salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++)
        info[i] = (uint8_t)(0xf0 + i);
    REQUIRE(mpx_test_unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                           "34007208d5b887185865",
                           want, sizeof(want)) == 42);
    CHECK_INT(mpx_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info), okm, 42),
              0);
    CHECK_MEM(okm, want, 42);

    hex32("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", prk);
    memset(okm, 0, sizeof(okm));
    CHECK_INT(mpx_hkdf_expand_sha256(prk, 32, info, sizeof(info), okm, 42), 0);
    CHECK_MEM(okm, want, 42);
}

MPX_TEST(crypto_hkdf_rejects_bad_lengths)
{
    uint8_t out[32], prk[32] = {0};
    CHECK_INT(mpx_hkdf_sha256("k", 1, NULL, 0, "i", 1, out, 0), MPX_ERR_INVAL);
    CHECK_INT(mpx_hkdf_expand_sha256(prk, 16, "i", 1, out, 32), MPX_ERR_INVAL);
    CHECK_INT(mpx_hkdf_expand_sha256(prk, 32, "i", 1, out, 255 * 32 + 1), MPX_ERR_INVAL);
}

MPX_TEST(crypto_truncations)
{
    uint8_t h[32], l160[20];
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)i;
    CHECK_EQ(mpx_trunc_left64(h), 0x0001020304050607ull);
    CHECK_EQ(mpx_trunc_right64(h), 0x18191a1b1c1d1e1full);
    mpx_trunc_left160(h, l160);
    CHECK_MEM(l160, h, 20);
}

/* RFC 8684 section 3.1, vectors of NOTES.md section 3.2. */
MPX_TEST(crypto_key_token_idsn)
{
    static const struct {
        uint64_t key;
        uint32_t token;
        uint64_t idsn;
    } v[] = {
        {0x0102030405060708ull, 0x66840dda, 0xf5a101d3d29d6f72ull},
        {0xaaaaaaaaaaaaaaaaull, 0x6893a08c, 0xb180bbc974c9d497ull},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint32_t token = 0;
        uint64_t idsn = 0;
        CHECK_INT(mpx_mptcp_key_sha(v[i].key, &token, &idsn), 0);
        CHECK_EQ(token, v[i].token);
        CHECK_EQ(idsn, v[i].idsn);
    }
}

/* RFC 8684 section 3.2: MP_JOIN HMACs, A = subflow initiator. */
MPX_TEST(crypto_join_hmacs_rfc8684)
{
    uint8_t key[16], msg[8], h[32], want160[20], got160[20];
    uint64_t ka = 0x0102030405060708ull, kb = 0x1112131415161718ull;
    uint32_t ra = 0x01020304, rb = 0x05060708;

    mpx_put_be64(mpx_put_be64(key, kb), ka);
    mpx_put_be32(mpx_put_be32(msg, rb), ra);
    REQUIRE(mpx_hmac_sha256(key, 16, msg, 8, h) == 0);
    CHECK_EQ(mpx_trunc_left64(h), 0x65ee096833f661d9ull);

    mpx_put_be64(mpx_put_be64(key, ka), kb);
    mpx_put_be32(mpx_put_be32(msg, ra), rb);
    REQUIRE(mpx_hmac_sha256(key, 16, msg, 8, h) == 0);
    mpx_trunc_left160(h, got160);
    REQUIRE(mpx_test_unhex("24bdde08dfc55c9b4185e1b56b2f89db241ac0f2", want160, 20) == 20);
    CHECK_MEM(got160, want160, 20);
}

/* RFC 8684 section 3.4.1: ADD_ADDR HMAC over id || address || port (zero
 * when absent), key = Key_sender || Key_receiver, rightmost 64 bits. */
MPX_TEST(crypto_add_addr_hmac_rfc8684)
{
    uint8_t key[16], msg[7], h[32];
    mpx_put_be64(mpx_put_be64(key, 0x0102030405060708ull), 0x1112131415161718ull);
    uint8_t *p = mpx_put_u8(msg, 1);
    p = mpx_put_be32(p, 0x0a000201);
    mpx_put_be16(p, 0);
    REQUIRE(mpx_hmac_sha256(key, 16, msg, 7, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), 0x014b3007310c639cull);
    mpx_put_be16(p, 8080);
    REQUIRE(mpx_hmac_sha256(key, 16, msg, 7, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), 0xb08c3eb910379895ull);
}

/* External-key derivations, NOTES.md section 8.1: ExtKey = 00..1f,
 * Token_A = 01020304 (connection initiator), Token_B = 05060708. */
MPX_TEST(crypto_extkey_vectors)
{
    uint8_t ext[32], tok_ab[8], tok_ba[8], h[32];
    uint64_t idsn = 0;
    for (int i = 0; i < 32; i++)
        ext[i] = (uint8_t)i;
    mpx_put_be32(mpx_put_be32(tok_ab, 0x01020304), 0x05060708);
    mpx_put_be32(mpx_put_be32(tok_ba, 0x05060708), 0x01020304);

    CHECK_INT(mpx_mptcp_token_idsn(0x01020304, &idsn), 0);
    CHECK_EQ(idsn, 0x6e6c77e89b6a806aull);
    CHECK_INT(mpx_mptcp_token_idsn(0x05060708, &idsn), 0);
    CHECK_EQ(idsn, 0xac2e60b0276b1bddull);

    /* NEW_KEY: rightmost 64 of HMAC(Token_snd || Token_rcv, ExtKey) (D11, D12);
     * MP_FASTCLOSE: leftmost 64 of the same HMAC (D22). */
    REQUIRE(mpx_hmac_sha256(tok_ab, 8, ext, 32, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), 0x6b98905e1680d5d5ull);
    CHECK_EQ(mpx_trunc_left64(h), 0x0bf151f141782a4bull);
    REQUIRE(mpx_hmac_sha256(tok_ba, 8, ext, 32, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), 0xa7824b89ded8f80dull);
}

MPX_TEST(crypto_extkey_join_and_add_addr_vectors)
{
    uint8_t ext[32], msg[19], h[32], want[20], got[20];
    for (int i = 0; i < 32; i++)
        ext[i] = (uint8_t)i;
    /* MP_JOIN with the external key (D20): same messages as RFC 8684. */
    mpx_put_be32(mpx_put_be32(msg, 0x05060708), 0x01020304);
    REQUIRE(mpx_hmac_sha256(ext, 32, msg, 8, h) == 0);
    CHECK_EQ(mpx_trunc_left64(h), 0x4605d873a8ea8f53ull);
    mpx_put_be32(mpx_put_be32(msg, 0x01020304), 0x05060708);
    REQUIRE(mpx_hmac_sha256(ext, 32, msg, 8, h) == 0);
    mpx_trunc_left160(h, got);
    REQUIRE(mpx_test_unhex("5ea9633fb4bd1788197520638af1f7a6f31ebe0a", want, 20) == 20);
    CHECK_MEM(got, want, 20);

    /* ADD_ADDR (D23 decided): Token_snd || Token_rcv || id || addr || port. */
    uint8_t *p = mpx_put_be32(mpx_put_be32(msg, 0x01020304), 0x05060708);
    p = mpx_put_u8(p, 2);
    p = mpx_put_be32(p, 0x0a0a0202);
    mpx_put_be16(p, 0);
    REQUIRE(mpx_hmac_sha256(ext, 32, msg, 15, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), 0x51b09251ebcfce85ull);
    mpx_put_be32(mpx_put_be32(msg, 0x05060708), 0x01020304);
    REQUIRE(mpx_hmac_sha256(ext, 32, msg, 15, h) == 0);
    CHECK_EQ(mpx_trunc_right64(h), 0x5eaf2bf2d8d88f43ull);
}

/* DESIGN.md decision 6: PSK expansion and key rotation. */
MPX_TEST(crypto_extkey_psk_and_rotation)
{
    uint8_t psk[32] = {0}, salt[8], out[32], want[32], ext[32];
    mpx_put_be32(mpx_put_be32(salt, 0x01020304), 0x05060708);
    CHECK_INT(mpx_hkdf_sha256(psk, 32, salt, 8, "mptcpext psk", 12, out, 32), 0);
    hex32("331a1bf01f72ee594c2233a4893c58658d2f53511d4dbab925d186a287380f93", want);
    CHECK_MEM(out, want, 32);

    for (int i = 0; i < 32; i++)
        ext[i] = (uint8_t)i;
    CHECK_INT(mpx_hkdf_expand_sha256(ext, 32, "mptcpext rotate", 15, out, 32), 0);
    hex32("e59600d82b286c098b4d7372b0a75137d22b3c2f8172a129c1bf350580ed8066", want);
    CHECK_MEM(out, want, 32);
}
