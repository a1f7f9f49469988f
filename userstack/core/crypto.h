/*
 * crypto.h - the hashes MPTCP and the external-key draft need, on top of
 * OpenSSL's libcrypto (no primitive is written here).
 *
 * RFC 8684 section 3.1 (token and IDSN from a key), section 3.2 (MP_JOIN
 * HMACs, truncations), draft-baerts-tcpm-mptcpext-00 and the project's
 * decisions (../shared/DESIGN.md decision 6): HKDF-SHA256 for pre-shared
 * keys and key rotation. All multi-byte integers are hashed in network
 * byte order, as Linux mptcp_crypto_key_sha() does.
 */
#ifndef MPX_CRYPTO_H
#define MPX_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define MPX_SHA256_LEN 32

/* Each returns 0 or MPX_ERR_CRYPTO (libcrypto failed; never for bad input). */
int mpx_sha256(const void *msg, size_t len, uint8_t out[MPX_SHA256_LEN]);
int mpx_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    uint8_t out[MPX_SHA256_LEN]);
/* HKDF-SHA256 (RFC 5869): extract with |salt| then expand to |outlen|
 * (at most 255 * 32) bytes. */
int mpx_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
                    const void *info, size_t infolen, uint8_t *out, size_t outlen);
/* HKDF-Expand-SHA256 only, with |prk| as the pseudorandom key. */
int mpx_hkdf_expand_sha256(const void *prk, size_t prklen, const void *info, size_t infolen,
                           uint8_t *out, size_t outlen);

/* Truncations of a 32-byte HMAC-SHA256 output, named as RFC 8684 and the
 * draft name them: "leftmost 64 bits" (MP_JOIN SYN/ACK), "leftmost 160
 * bits" (MP_JOIN ACK), "rightmost 64 bits" (ADD_ADDR; NEW_KEY per NOTES D12). */
uint64_t mpx_trunc_left64(const uint8_t h[MPX_SHA256_LEN]);
void mpx_trunc_left160(const uint8_t h[MPX_SHA256_LEN], uint8_t out[20]);
uint64_t mpx_trunc_right64(const uint8_t h[MPX_SHA256_LEN]);

/* RFC 8684 section 3.1: token = most significant 32 bits of SHA-256(key),
 * IDSN = least significant 64 bits. Either output may be NULL. */
int mpx_mptcp_key_sha(uint64_t key, uint32_t *token, uint64_t *idsn);

/* External-key mode has no 64-bit key on the wire: IDSN = least
 * significant 64 bits of SHA-256(token as 4 bytes) (project choice, NOTES
 * D8; docs/draft-interpretation.md). */
int mpx_mptcp_token_idsn(uint32_t token, uint64_t *idsn);

#endif /* MPX_CRYPTO_H */
