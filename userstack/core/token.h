/*
 * token.h - the host-wide MPTCP token table (RFC 8684 section 3.1: "the
 * token MUST be unique ... on the host"; NOTES D7/D25: one namespace for
 * RFC 8684 tokens and external-key tokens). Owned by the stack; open
 * addressing with linear probing and tombstones, grown at half load.
 * Token 0 is never stored: it is the "no token" value.
 */
#ifndef MPX_TOKEN_H
#define MPX_TOKEN_H

#include <stddef.h>
#include <stdint.h>

struct mpx_token_slot {
    uint32_t token; /* 0 = empty */
    uint8_t tomb;   /* removed: keep probing past it */
    void *val;
};

struct mpx_token_table {
    struct mpx_token_slot *slot;
    uint32_t cap; /* power of two */
    uint32_t used, tombs;
};

/* Randomness service: the core never calls rand(). */
typedef uint64_t (*mpx_rand_fn)(void *ctx);

int mpx_token_init(struct mpx_token_table *t, uint32_t cap_hint);
void mpx_token_free(struct mpx_token_table *t);
/* MPX_ERR_INVAL for token 0, MPX_ERR_EXIST if present, MPX_ERR_NOMEM. */
int mpx_token_insert(struct mpx_token_table *t, uint32_t token, void *val);
void *mpx_token_lookup(const struct mpx_token_table *t, uint32_t token);
/* MPX_ERR_NOENT if absent. */
int mpx_token_remove(struct mpx_token_table *t, uint32_t token);
size_t mpx_token_count(const struct mpx_token_table *t);

/*
 * RFC 8684 section 3.1: draws keys from |rnd| until one's token (SHA-256
 * of the key, most significant 32 bits) is non-zero and not in the table,
 * like Linux mptcp_token_new_request(). Does not insert. Gives up with
 * MPX_ERR_EXIST after |max_tries| draws; MPX_ERR_CRYPTO if hashing fails.
 */
int mpx_token_new_key(const struct mpx_token_table *t, mpx_rand_fn rnd, void *rnd_ctx,
                      unsigned max_tries, uint64_t *key, uint32_t *token, uint64_t *idsn);

#endif /* MPX_TOKEN_H */
