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

static int join_hmac(const struct mpx_msk *m, bool local_first, uint32_t r_first, uint32_t r_second,
                     uint8_t out[32])
{
    uint8_t key[16], msg[8];
    uint64_t k1 = local_first ? m->keys.lkey : m->keys.rkey;
    uint64_t k2 = local_first ? m->keys.rkey : m->keys.lkey;
    mpx_put_be64(mpx_put_be64(key, k1), k2);
    mpx_put_be32(mpx_put_be32(msg, r_first), r_second);
    return mpx_hmac_sha256(key, sizeof(key), msg, sizeof(msg), out);
}

/* Section 3.4.1: HMAC(Key_sender || Key_receiver, ID || address || port),
 * port as two zero bytes when absent (Linux add_addr_generate_hmac). */
static int add_addr_hmac(const struct mpx_msk *m, bool local, uint8_t id,
                         const struct mpx_addr *addr, uint16_t port, uint64_t *out)
{
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
static void fill_fastclose(const struct mpx_msk *m, struct mpx_opt_fastclose *o)
{
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
