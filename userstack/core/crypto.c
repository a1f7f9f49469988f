/*
 * crypto.c - SHA-256, HMAC-SHA256 and HKDF-SHA256 through OpenSSL 3's EVP
 * interfaces, plus the MPTCP derivations built on them.
 */
#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "conv.h"
#include "err.h"

int mpx_sha256(const void *msg, size_t len, uint8_t out[MPX_SHA256_LEN])
{
    unsigned int outlen = 0;
    if (!EVP_Digest(msg, len, out, &outlen, EVP_sha256(), NULL) || outlen != MPX_SHA256_LEN)
        return MPX_ERR_CRYPTO;
    return 0;
}

int mpx_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    uint8_t out[MPX_SHA256_LEN])
{
    unsigned int outlen = 0;
    /* HMAC() with a NULL |md_ctx| is the one-shot form; keylen fits an int
     * for every key this project uses (at most 64 bytes, NOTES D18). */
    if (keylen > 1024 || !HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &outlen) ||
        outlen != MPX_SHA256_LEN)
        return MPX_ERR_CRYPTO;
    return 0;
}

static int hkdf(int mode, const void *key, size_t keylen, const void *salt, size_t saltlen,
                const void *info, size_t infolen, uint8_t *out, size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[6], *p = params;
    int rc = MPX_ERR_CRYPTO;

    if (!ctx)
        goto out;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
    if (salt)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(ctx, out, outlen, params) == 1)
        rc = 0;
out:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

int mpx_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
                    const void *info, size_t infolen, uint8_t *out, size_t outlen)
{
    if (outlen == 0 || outlen > 255 * MPX_SHA256_LEN)
        return MPX_ERR_INVAL;
    return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, ikm, ikmlen, salt, saltlen, info, infolen,
                out, outlen);
}

int mpx_hkdf_expand_sha256(const void *prk, size_t prklen, const void *info, size_t infolen,
                           uint8_t *out, size_t outlen)
{
    /* RFC 5869 section 2.3: PRK is "at least HashLen octets". */
    if (outlen == 0 || outlen > 255 * MPX_SHA256_LEN || prklen < MPX_SHA256_LEN)
        return MPX_ERR_INVAL;
    return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, prklen, NULL, 0, info, infolen, out, outlen);
}

uint64_t mpx_trunc_left64(const uint8_t h[MPX_SHA256_LEN])
{
    return mpx_load_be64(h);
}

void mpx_trunc_left160(const uint8_t h[MPX_SHA256_LEN], uint8_t out[20])
{
    memcpy(out, h, 20);
}

uint64_t mpx_trunc_right64(const uint8_t h[MPX_SHA256_LEN])
{
    /* cppcheck's cross-file pass misreads h + 24 of a 32-byte array. */
    // cppcheck-suppress ctuPointerArith
    return mpx_load_be64(h + MPX_SHA256_LEN - 8);
}

static void split_digest(const uint8_t d[MPX_SHA256_LEN], uint32_t *token, uint64_t *idsn)
{
    if (token)
        *token = mpx_load_be32(d);
    if (idsn)
        *idsn = mpx_trunc_right64(d);
}

int mpx_mptcp_key_sha(uint64_t key, uint32_t *token, uint64_t *idsn)
{
    uint8_t buf[8], d[MPX_SHA256_LEN];
    mpx_put_be64(buf, key);
    if (mpx_sha256(buf, sizeof(buf), d))
        return MPX_ERR_CRYPTO;
    split_digest(d, token, idsn);
    return 0;
}

int mpx_mptcp_token_idsn(uint32_t token, uint64_t *idsn)
{
    uint8_t buf[4], d[MPX_SHA256_LEN];
    mpx_put_be32(buf, token);
    if (mpx_sha256(buf, sizeof(buf), d))
        return MPX_ERR_CRYPTO;
    split_digest(d, NULL, idsn);
    return 0;
}
