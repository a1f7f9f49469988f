/*
 * mptcp_keys.c - the RFC 8684 key scheme: 64-bit keys exchanged in
 * MP_CAPABLE, token and IDSN from SHA-256(key) (section 3.1), MP_JOIN and
 * ADD_ADDR HMACs keyed with both keys (sections 3.2, 3.4.1), MP_FASTCLOSE
 * carrying the receiver's key (section 3.5). The external-key scheme of
 * the draft provides another struct mpx_key_ops.
 */
#include <string.h>

#include "conv.h"
#include "crypto.h"
#include "err.h"
#include "mptcp_int.h"

static int local_init(struct mpx_msk *m)
{
    struct mpx_stack *st = m->st;
    return mpx_token_new_key(&st->tokens, st->cfg.rand, st->cfg.rand_ctx, MPX_KEY_TRIES,
                             &m->keys.lkey, &m->keys.ltoken, &m->keys.lidsn);
}

/* Section 3.1: SYN carries no key, SYN/ACK the responder's, the third ACK
 * both (sender's first). */
static void fill_mpc(const struct mpx_msk *m, enum mpx_hs_form form, struct mpx_opt_mpc *o)
{
    o->form = form;
    o->version = MPX_MPC_VERSION;
    if (form == MPX_FORM_SYNACK) {
        o->snd_key = m->keys.lkey;
    } else if (form == MPX_FORM_ACK) {
        o->snd_key = m->keys.lkey;
        o->rcv_key = m->keys.rkey;
    }
}

static int set_remote(struct mpx_msk *m, uint64_t key)
{
    int rv = mpx_mptcp_key_sha(key, &m->keys.rtoken, &m->keys.ridsn);
    if (rv < 0)
        return rv;
    m->keys.rkey = key;
    m->keys.have_remote = true;
    return 0;
}

static int recv_mpc(struct mpx_msk *m, const struct mpx_opt_mpc *o)
{
    switch (o->form) {
    case MPX_FORM_SYNACK:
        return set_remote(m, o->snd_key);
    case MPX_FORM_ACK:
        /* The server learns the client key here; the echoed key must be
         * ours (Linux subflow_check_req / mptcp_subflow_... key check). */
        if (o->rcv_key != m->keys.lkey)
            return MPX_ERR_PROTO;
        if (m->keys.have_remote)
            return o->snd_key == m->keys.rkey ? 0 : MPX_ERR_PROTO;
        return set_remote(m, o->snd_key);
    default:
        return 0;
    }
}

static int join_hmac(const struct mpx_msk *m, int k, bool local_first, uint32_t r_first,
                     uint32_t r_second, uint8_t out[32])
{
    (void)k;
    uint8_t key[16], msg[8];
    uint64_t k1 = local_first ? m->keys.lkey : m->keys.rkey;
    uint64_t k2 = local_first ? m->keys.rkey : m->keys.lkey;
    mpx_put_be64(mpx_put_be64(key, k1), k2);
    mpx_put_be32(mpx_put_be32(msg, r_first), r_second);
    return mpx_hmac_sha256(key, sizeof(key), msg, sizeof(msg), out);
}

/* Section 3.4.1: HMAC(Key_sender || Key_receiver, ID || address || port),
 * port as two zero bytes when absent (Linux add_addr_generate_hmac). */
static int add_addr_hmac(const struct mpx_msk *m, int k, bool local, uint8_t id,
                         const struct mpx_addr *addr, uint16_t port, uint64_t *out)
{
    (void)k;
    uint8_t key[16], msg[1 + 16 + 2], h[32];
    uint64_t k1 = local ? m->keys.lkey : m->keys.rkey;
    uint64_t k2 = local ? m->keys.rkey : m->keys.lkey;
    mpx_put_be64(mpx_put_be64(key, k1), k2);
    uint8_t *p = mpx_put_u8(msg, id);
    p = mpx_put_bytes(p, addr->a, mpx_addr_len(addr));
    p = mpx_put_be16(p, port);
    int rv = mpx_hmac_sha256(key, sizeof(key), msg, (size_t)(p - msg), h);
    if (rv < 0)
        return rv;
    *out = mpx_trunc_right64(h);
    return 0;
}

/* Section 3.5: "Option Receiver's Key". */
static void fill_fastclose(const struct mpx_msk *m, int k, struct mpx_opt_fastclose *o)
{
    (void)k;
    o->key_id = false;
    o->key = m->keys.rkey;
}

static bool fastclose_ok(const struct mpx_msk *m, const struct mpx_opt_fastclose *o)
{
    return !o->key_id && o->key == m->keys.lkey;
}

const struct mpx_key_ops mpx_key_ops_rfc8684 = {
    .name = "rfc8684",
    .local_init = local_init,
    .fill_mpc = fill_mpc,
    .recv_mpc = recv_mpc,
    .join_hmac = join_hmac,
    .add_addr_hmac = add_addr_hmac,
    .fill_fastclose = fill_fastclose,
    .fastclose_ok = fastclose_ok,
};

/*
 * The external-key scheme (draft-baerts-tcpm-mptcpext-00 section 4.1):
 * MP_CAPABLE carries 32-bit tokens, never a key. The token is drawn like
 * an RFC 8684 one (random, non-zero, unique in the shared table, NOTES D7)
 * from a 64-bit secret that never leaves the host; it also lets a PREFER
 * client answered in RFC 8684 form go on with that secret as its key.
 * IDSN = low 64 bits of SHA-256(token) (NOTES D8).
 */
static int ext_local_init(struct mpx_msk *m)
{
    struct mpx_stack *st = m->st;
    int rv = mpx_token_new_key(&st->tokens, st->cfg.rand, st->cfg.rand_ctx, MPX_KEY_TRIES,
                               &m->keys.lkey, &m->keys.ltoken, NULL);
    if (rv < 0)
        return rv;
    return mpx_mptcp_token_idsn(m->keys.ltoken, &m->keys.lidsn);
}

/* Draft figure 1: SYN bare, SYN/ACK the responder's token, third ACK the
 * sender's (initiator's) token then the receiver's. */
static void ext_fill_mpc(const struct mpx_msk *m, enum mpx_hs_form form, struct mpx_opt_mpc *o)
{
    o->form = form;
    o->version = MPX_MPC_VERSION;
    if (form == MPX_FORM_SYNACK) {
        o->snd_token = m->keys.ltoken;
    } else if (form == MPX_FORM_ACK) {
        o->snd_token = m->keys.ltoken;
        o->rcv_token = m->keys.rtoken;
    }
}

static int ext_set_remote(struct mpx_msk *m, uint32_t token)
{
    if (!token) /* 0 is "no token" (token.h) */
        return MPX_ERR_PROTO;
    int rv = mpx_mptcp_token_idsn(token, &m->keys.ridsn);
    if (rv < 0)
        return rv;
    m->keys.rtoken = token;
    m->keys.have_remote = true;
    return 0;
}

static int ext_recv_mpc(struct mpx_msk *m, const struct mpx_opt_mpc *o)
{
    switch (o->form) {
    case MPX_FORM_SYNACK:
        return ext_set_remote(m, o->snd_token);
    case MPX_FORM_ACK:
        /* the echoed token must be ours, as the echoed key in RFC 8684 */
        if (o->rcv_token != m->keys.ltoken)
            return MPX_ERR_PROTO;
        if (m->keys.have_remote)
            return o->snd_token == m->keys.rtoken ? 0 : MPX_ERR_PROTO;
        return ext_set_remote(m, o->snd_token);
    default:
        return 0;
    }
}

/* NOTES D20 (literal reading): HMAC-SHA256 keyed with ExtKey_K over the
 * RFC 8684 nonce order; without key K nothing can be authenticated (D17):
 * the callers refuse the join. */
static int ext_join_hmac(const struct mpx_msk *m, int k, bool local_first, uint32_t r_first,
                         uint32_t r_second, uint8_t out[32])
{
    (void)local_first;
    uint8_t msg[8];
    size_t klen;
    const uint8_t *key = mpx_ek_key(m, k, &klen);
    if (!key) {
        memset(out, 0, 32);
        return MPX_ERR_PROTO;
    }
    mpx_put_be32(mpx_put_be32(msg, r_first), r_second);
    return mpx_hmac_sha256(key, klen, msg, sizeof(msg), out);
}

/* NOTES D23 DECIDED: rightmost 64 bits of HMAC(ExtKey_K, Token_snd ||
 * Token_rcv || id || addr || port), the tokens binding the direction so
 * that a reflected ADD_ADDR does not verify. */
static int ext_add_addr_hmac(const struct mpx_msk *m, int k, bool local, uint8_t id,
                             const struct mpx_addr *addr, uint16_t port, uint64_t *out)
{
    uint8_t msg[4 + 4 + 1 + 16 + 2], h[32];
    size_t klen;
    const uint8_t *key = mpx_ek_key(m, k, &klen);
    *out = 0;
    if (!key)
        return MPX_ERR_PROTO;
    uint8_t *p = mpx_put_be32(msg, local ? m->keys.ltoken : m->keys.rtoken);
    p = mpx_put_be32(p, local ? m->keys.rtoken : m->keys.ltoken);
    *p++ = id;
    p = mpx_put_bytes(p, addr->a, mpx_addr_len(addr));
    p = mpx_put_be16(p, port);
    int rv = mpx_hmac_sha256(key, klen, msg, (size_t)(p - msg), h);
    if (rv < 0)
        return rv;
    *out = mpx_trunc_right64(h);
    return 0;
}

/* HMAC-SHA256 with the 8 token bytes Token_snd || Token_rcv as the HMAC
 * key and ExtKey_K as the message (draft section 4.2, NOTES D11 and the
 * section 8.1 vectors): NEW_KEY takes its rightmost 64 bits (D12),
 * MP_FASTCLOSE its leftmost (D22), so that a NEW_KEY seen on the wire is
 * no FASTCLOSE. "local": we send. */
int mpx_ek_token_hmac(const struct mpx_msk *m, int k, bool local, uint8_t out[32])
{
    uint8_t msg[8];
    size_t klen;
    const uint8_t *key = mpx_ek_key(m, k, &klen);
    if (!key)
        return MPX_ERR_PROTO;
    mpx_put_be32(mpx_put_be32(msg, local ? m->keys.ltoken : m->keys.rtoken),
                 local ? m->keys.rtoken : m->keys.ltoken);
    return mpx_hmac_sha256(msg, sizeof(msg), key, klen, out);
}

/* NOTES D22: leftmost 64 bits; 0 if it cannot be computed (never sent
 * then: mpx_ek_fastclose_k). */
static uint64_t ext_fastclose_value(const struct mpx_msk *m, int k, bool local)
{
    uint8_t h[32];
    if (mpx_ek_token_hmac(m, k, local, h) < 0)
        return 0;
    uint64_t v = mpx_trunc_left64(h);
    mpx_ek_wipe(h, sizeof(h));
    return v;
}

static void ext_fill_fastclose(const struct mpx_msk *m, int k, struct mpx_opt_fastclose *o)
{
    o->key_id = k == 1;
    o->key = ext_fastclose_value(m, k, true);
}

/* NOTES D22: believed only when it verifies with the key K names (any
 * installed one, D17); the caller confirms K. */
static bool ext_fastclose_ok(const struct mpx_msk *m, const struct mpx_opt_fastclose *o)
{
    int k = o->key_id ? 1 : 0;
    return mpx_ek_key(m, k, NULL) && o->key == ext_fastclose_value(m, k, false);
}

const struct mpx_key_ops mpx_key_ops_ext = {
    .name = "ext",
    .local_init = ext_local_init,
    .fill_mpc = ext_fill_mpc,
    .recv_mpc = ext_recv_mpc,
    .join_hmac = ext_join_hmac,
    .add_addr_hmac = ext_add_addr_hmac,
    .fill_fastclose = ext_fill_fastclose,
    .fastclose_ok = ext_fastclose_ok,
};

bool mpx_msk_can_auth(const struct mpx_msk *m)
{
    return m->kops != &mpx_key_ops_ext || mpx_ek_tx_k(m) >= 0;
}
