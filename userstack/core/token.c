/*
 * token.c - host-wide token table (see token.h).
 */
#include "token.h"

#include <stdbool.h>
#include <stdlib.h>

#include "crypto.h"
#include "err.h"

static uint32_t hash32(uint32_t x)
{
    /* Tokens are already hash outputs, but tests may insert small values:
     * mix so that sequential tokens do not cluster. */
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

int mpx_token_init(struct mpx_token_table *t, uint32_t cap_hint)
{
    uint32_t cap = 16;
    while (cap < cap_hint * 2 && cap < (1u << 30))
        cap <<= 1;
    t->slot = calloc(cap, sizeof(*t->slot));
    if (!t->slot)
        return MPX_ERR_NOMEM;
    t->cap = cap;
    t->used = 0;
    t->tombs = 0;
    return 0;
}

void mpx_token_free(struct mpx_token_table *t)
{
    free(t->slot);
    t->slot = NULL;
    t->cap = t->used = t->tombs = 0;
}

/* Slot holding |token|, or NULL. */
static struct mpx_token_slot *find(const struct mpx_token_table *t, uint32_t token)
{
    uint32_t mask = t->cap - 1;
    for (uint32_t i = hash32(token) & mask, n = 0; n < t->cap; i = (i + 1) & mask, n++) {
        struct mpx_token_slot *s = &t->slot[i];
        if (s->token == token && !s->tomb)
            return s;
        if (s->token == 0 && !s->tomb)
            return NULL;
    }
    return NULL;
}

static void put(struct mpx_token_slot *slot, uint32_t cap, uint32_t token, void *val)
{
    uint32_t mask = cap - 1;
    for (uint32_t i = hash32(token) & mask;; i = (i + 1) & mask) {
        if (slot[i].token == 0 || slot[i].tomb) {
            slot[i].token = token;
            slot[i].tomb = 0;
            slot[i].val = val;
            return;
        }
    }
}

static int grow(struct mpx_token_table *t)
{
    uint32_t cap = (t->used + 1) * 4 > t->cap ? t->cap * 2 : t->cap;
    struct mpx_token_slot *ns = calloc(cap, sizeof(*ns));
    if (!ns)
        return MPX_ERR_NOMEM;
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->slot[i].token && !t->slot[i].tomb)
            put(ns, cap, t->slot[i].token, t->slot[i].val);
    free(t->slot);
    t->slot = ns;
    t->cap = cap;
    t->tombs = 0;
    return 0;
}

int mpx_token_insert(struct mpx_token_table *t, uint32_t token, void *val)
{
    if (token == 0)
        return MPX_ERR_INVAL;
    if (find(t, token))
        return MPX_ERR_EXIST;
    if ((t->used + t->tombs + 1) * 2 > t->cap) {
        int rv = grow(t);
        if (rv < 0)
            return rv;
    }
    put(t->slot, t->cap, token, val);
    t->used++;
    return 0;
}

void *mpx_token_lookup(const struct mpx_token_table *t, uint32_t token)
{
    if (token == 0 || !t->slot)
        return NULL;
    struct mpx_token_slot *s = find(t, token);
    return s ? s->val : NULL;
}

int mpx_token_remove(struct mpx_token_table *t, uint32_t token)
{
    struct mpx_token_slot *s = token ? find(t, token) : NULL;
    if (!s)
        return MPX_ERR_NOENT;
    s->tomb = 1;
    s->val = NULL;
    t->used--;
    t->tombs++;
    return 0;
}

size_t mpx_token_count(const struct mpx_token_table *t)
{
    return t->used;
}

int mpx_token_new_key(const struct mpx_token_table *t, mpx_rand_fn rnd, void *rnd_ctx,
                      unsigned max_tries, uint64_t *key, uint32_t *token, uint64_t *idsn)
{
    for (unsigned i = 0; i < max_tries; i++) {
        uint64_t k = rnd(rnd_ctx);
        uint32_t tok;
        uint64_t id;
        if (mpx_mptcp_key_sha(k, &tok, &id) < 0)
            return MPX_ERR_CRYPTO;
        if (tok == 0 || mpx_token_lookup(t, tok))
            continue;
        *key = k;
        *token = tok;
        if (idsn)
            *idsn = id;
        return 0;
    }
    return MPX_ERR_EXIST;
}
