/*
 * mptcp_newkey.c - the life of external keys (draft-baerts-tcpm-mptcpext-00
 * section 4.2, NOTES.md D11-D17, DESIGN decision 6): installation by the
 * owner (raw or pre-shared, expanded with HKDF over the tokens), the
 * NEW_KEY exchange that confirms a key on both sides, its retransmission,
 * rotation by HKDF ratchet with a grace period for the old key, and
 * erasure.
 *
 * A key in slot K is "installed" once the owner (or the ratchet) gave it:
 * incoming MP_JOIN, ADD_ADDR and MP_FASTCLOSE keyed with it are accepted
 * (D17 DECIDED). It is "confirmed" once the peer proved it holds the same
 * key: a NEW_KEY(K) that verifies, or any verified option keyed with K
 * (D13). We only send options keyed with a confirmed key, so the path
 * manager starts (joins, ADD_ADDR) when the first key is confirmed.
 */
#include <string.h>

#include "conv.h"
#include "crypto.h"
#include "err.h"
#include "mptcp_int.h"

/* DESIGN decision 6 */
static const char psk_info[] = "mptcpext psk";
static const char rotate_info[] = "mptcpext rotate";

void mpx_ek_wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

static bool is_ext(const struct mpx_msk *m)
{
    return m->kops == &mpx_key_ops_ext;
}

static void slot_wipe(struct mpx_ext_slot *s)
{
    mpx_ek_wipe(s, sizeof(*s));
}

const uint8_t *mpx_ek_key(const struct mpx_msk *m, int k, size_t *len)
{
    if (k < 0 || k > 1 || !m->ek.slot[k].installed)
        return NULL;
    if (len)
        *len = m->ek.slot[k].len;
    return m->ek.slot[k].bytes;
}

int mpx_ek_tx_k(const struct mpx_msk *m)
{
    const struct mpx_ext_slot *s = &m->ek.slot[m->ek.cur];
    return s->installed && s->confirmed ? m->ek.cur : -1;
}

int mpx_ek_fastclose_k(const struct mpx_msk *m)
{
    if (!is_ext(m))
        return 0;
    int k = mpx_ek_tx_k(m);
    if (k >= 0)
        return k;
    return m->ek.slot[m->ek.cur].installed ? m->ek.cur : -1;
}

void mpx_msk_ext_key_erase(struct mpx_msk *m)
{
    slot_wipe(&m->ek.slot[0]);
    slot_wipe(&m->ek.slot[1]);
    mpx_ek_wipe(m->ek.rx_val, sizeof(m->ek.rx_val));
    m->ek.rx_held[0] = m->ek.rx_held[1] = false;
    m->ek.cur = 0;
}

/* The subflow that carries NEW_KEY (D30: any established one). */
static bool can_carry(const struct mpx_sf *sf, bool fresh_only)
{
    return sf->fully_est && mpx_sf_usable(sf) && (!fresh_only || !sf->stale);
}

/* The subflow asked to send the ACK that carries NEW_KEY (NOTES D30: any
 * established subflow). Transmission |n| goes to the n-th of them in
 * turn, subflows not marked stale first, so that a dead path cannot hold
 * a key back: an idle subflow on a black-holed path is never found stale
 * (pinned by mptcp_dpin_d30_new_key_retransmitted_on_live_subflow). */
static struct mpx_sf *carrier(const struct mpx_msk *m, unsigned n)
{
    for (int pass = 0; pass < 2; pass++) {
        unsigned cnt = 0;
        for (uint8_t i = 0; i < m->nsf; i++)
            cnt += can_carry(m->sf[i], pass == 0);
        if (!cnt)
            continue;
        n %= cnt;
        for (uint8_t i = 0; i < m->nsf; i++)
            if (can_carry(m->sf[i], pass == 0) && n-- == 0)
                return m->sf[i];
    }
    return NULL;
}

/* The chosen carrier (id + 1) still exists and can carry. */
static bool carrier_alive(const struct mpx_msk *m, uint32_t id1)
{
    for (uint8_t i = 0; i < m->nsf; i++)
        if (m->sf[i]->id + 1 == id1)
            return can_carry(m->sf[i], false);
    return false;
}

/* NOTES D15: max(subflow RTO, 200 ms). */
static uint64_t nk_rto(const struct mpx_sf *sf)
{
    uint64_t rto = sf ? sf->tcp->rto : 0;
    return rto > MPX_NK_RTO_MIN ? rto : MPX_NK_RTO_MIN;
}

/* The value of our NEW_KEY(K) or the expected one from the peer: the
 * rightmost 64 bits of HMAC(Token_snd || Token_rcv, ExtKey_K) (D11, D12). */
static int nk_value(const struct mpx_msk *m, int k, bool local, uint64_t *out)
{
    uint8_t h[32];
    int rv = mpx_ek_token_hmac(m, k, local, h);
    *out = rv < 0 ? 0 : mpx_trunc_right64(h);
    mpx_ek_wipe(h, sizeof(h));
    return rv;
}

/* The path manager waited for a key (NOTES D17/D24): start it now. */
static void key_ready(struct mpx_msk *m, uint64_t now)
{
    if (!m->fully_est)
        return; /* mpx_sf_process starts it at "fully established" */
    mpx_msk_pm_fully_established(m, now);
    mpx_stack_start_joins(m, now);
}

void mpx_ek_confirm(struct mpx_msk *m, int k, uint64_t now)
{
    if (!is_ext(m) || k < 0 || k > 1)
        return;
    struct mpx_ext_slot *s = &m->ek.slot[k];
    if (s->installed && s->retire_at)
        m->st->mib.MPExtKeyOldKeyUsed++; /* a late join inside the grace period */
    if (!s->installed || s->confirmed)
        return;
    bool had = mpx_ek_tx_k(m) >= 0;
    s->confirmed = true;
    s->given_up = false;
    s->rtx_at = 0;
    /* our own NEW_KEY still goes out once: the peer needs it too (D14) */
    if (s->sent)
        s->tx_due = false;
    m->st->mib.MPNewKeyConfirmed++;
    if (had && m->ek.cur != k) {
        /* D16: the next key is active, the old one verifies late joins
         * for its grace period */
        struct mpx_ext_slot *old = &m->ek.slot[m->ek.cur];
        old->retire_at = now + m->st->cfg.ext_grace_ns;
        if (!old->retire_at)
            old->retire_at = 1;
    }
    m->ek.cur = (uint8_t)k;
    if (!had)
        key_ready(m, now);
}

/* A key enters slot |k|: NEW_KEY is due; a NEW_KEY held before (D14 a)
 * is checked now. */
static void slot_fill(struct mpx_msk *m, int k, const uint8_t *key, size_t len, uint32_t gen,
                      uint64_t now)
{
    struct mpx_ext_slot *s = &m->ek.slot[k];
    slot_wipe(s);
    memcpy(s->bytes, key, len);
    s->len = (uint8_t)len;
    s->gen = gen;
    s->installed = true;
    s->tx_due = true;
    m->st->mib.MPExtKeyInstalled++;
    if (m->ek.rx_held[k]) {
        uint64_t want;
        m->ek.rx_held[k] = false;
        if (nk_value(m, k, false, &want) == 0 && want == m->ek.rx_val[k])
            mpx_ek_confirm(m, k, now);
        m->ek.rx_val[k] = 0;
    }
    mpx_ek_timer(m, now);
}

int mpx_ek_install(struct mpx_msk *m, const uint8_t *key, size_t len, uint64_t now)
{
    if (!is_ext(m) || !m->mptcp || m->fallback || m->ek.slot[0].installed ||
        m->ek.slot[1].installed)
        return MPX_ERR_STATE;
    m->ek.cur = 0;
    slot_fill(m, 0, key, len, 0, now);
    return 0;
}

int mpx_ek_rotate(struct mpx_msk *m, uint64_t now)
{
    int c = mpx_ek_tx_k(m);
    if (!is_ext(m) || m->fallback || c < 0)
        return MPX_ERR_STATE;
    struct mpx_ext_slot *next = &m->ek.slot[c ^ 1];
    if (next->installed && !next->retire_at)
        return MPX_ERR_STATE; /* D16: no n+2 before n+1 is active */
    if (next->installed)
        return MPX_ERR_AGAIN; /* key n-1 still in its grace period */
    /* DESIGN decision 6: key n+1 = HKDF-Expand(key n, "mptcpext rotate") */
    uint8_t nk[32];
    const struct mpx_ext_slot *s = &m->ek.slot[c];
    int rv = mpx_hkdf_expand_sha256(s->bytes, s->len, rotate_info, sizeof(rotate_info) - 1, nk,
                                    sizeof(nk));
    if (rv < 0)
        return rv;
    m->st->mib.MPExtKeyRotated++;
    slot_fill(m, c ^ 1, nk, sizeof(nk), s->gen + 1, now);
    mpx_ek_wipe(nk, sizeof(nk));
    return 0;
}

/* D14 (b) DECIDED: a NEW_KEY for a key we already confirmed means the
 * peer missed ours: answer, at most once per RTO and 3 times per key
 * (both sides answering every answer would never stop). */
static void answer(struct mpx_msk *m, int k, struct mpx_sf *sf, uint64_t now)
{
    struct mpx_ext_slot *s = &m->ek.slot[k];
    if (s->answers >= MPX_NK_ANSWERS || now < s->answer_at)
        return;
    s->answers++;
    s->answer_at = now + nk_rto(sf);
    s->tx_due = true;
    s->answering = true;
    /* on the subflow the duplicate came in on: that path works (|sf| may
     * still be in its handshake, then any) */
    struct mpx_sf *c = can_carry(sf, false) ? sf : carrier(m, 0);
    s->tx_sf = c ? c->id + 1 : 0;
    if (c)
        mpx_tcp_send_ack(c->tcp);
}

void mpx_ek_rx_new_key(struct mpx_sf *sf, const struct mpx_opt_new_key *nk, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    if (!is_ext(m) || m->fallback) /* D26: no NEW_KEY outside E mode */
        return;
    st->mib.MPNewKeyRx++;
    int k = nk->key_id ? 1 : 0;
    struct mpx_ext_slot *s = &m->ek.slot[k];
    uint64_t want = 0;
    if (s->installed && !s->retire_at && nk_value(m, k, false, &want) == 0 && want == nk->hmac) {
        if (s->confirmed)
            answer(m, k, sf, now);
        else
            mpx_ek_confirm(m, k, now);
        return;
    }
    /* D14 (a): not verifiable now (no key K yet, or the peer is a key
     * ahead of us): hold the latest value, checked at installation */
    if (s->installed && !s->retire_at)
        st->mib.MPNewKeyMismatch++;
    else
        st->mib.MPNewKeyEarly++;
    m->ek.rx_held[k] = true;
    m->ek.rx_val[k] = nk->hmac;
}

bool mpx_ek_tx_pending(const struct mpx_msk *m)
{
    return is_ext(m) && ((m->ek.slot[0].installed && m->ek.slot[0].tx_due) ||
                         (m->ek.slot[1].installed && m->ek.slot[1].tx_due));
}

/* Whether |o| fits the segment: 40 option bytes, and with the payload
 * no more than the MSS (the engine sized the payload for its reserve). */
static bool fits(const struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg,
                 const struct mpx_tcp_opts *opts)
{
    int sp = mpx_tcp_opts_space(opts);
    return sp >= 0 && sp <= MPX_TCP_MAX_OPT_LEN &&
           seg->payload_len + (uint32_t)sp <= sf->tcp->mss_base;
}

/* NOTES D15: NEW_KEY next to the DSS (TS 12 + DSS 12 + NEW_KEY 12 = 36).
 * When that does not fit, it takes the place of a DATA_ACK-only DSS (the
 * next segment carries the DATA_ACK, as for ADD_ADDR): with elided
 * mappings most data segments have one, so a host that only sends data
 * still gets its NEW_KEY out. One NEW_KEY per segment. */
void mpx_ek_hook(struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg, struct mpx_tcp_opts *opts)
{
    struct mpx_msk *m = sf->msk;
    if (!mpx_ek_tx_pending(m) || m->fallback || !sf->fully_est || !sf->mp_ok ||
        opts->n_mptcp >= MPX_TCP_MAX_MPTCP)
        return;
    int k = m->ek.slot[0].installed && m->ek.slot[0].tx_due ? 0 : 1;
    struct mpx_ext_slot *s = &m->ek.slot[k];
    if (s->tx_sf && s->tx_sf != sf->id + 1 && carrier_alive(m, s->tx_sf))
        return;
    struct mpx_mptcp_opt o = {.subtype = MPX_MPTCP_SUB_NEW_KEY};
    o.u.new_key.key_id = k == 1;
    if (nk_value(m, k, true, &o.u.new_key.hmac) < 0)
        return;
    uint8_t n0 = opts->n_mptcp;
    opts->mptcp[opts->n_mptcp++] = o;
    if (!fits(sf, seg, opts)) {
        opts->n_mptcp = n0;
        int d = -1;
        for (uint8_t i = 0; i < n0; i++)
            if (opts->mptcp[i].subtype == MPX_MPTCP_SUB_DSS && !opts->mptcp[i].u.dss.has_map)
                d = i;
        if (d < 0)
            return;
        struct mpx_mptcp_opt saved = opts->mptcp[d];
        opts->mptcp[d] = o;
        if (!fits(sf, seg, opts)) {
            opts->mptcp[d] = saved;
            return;
        }
    }
    s->tx_due = false;
    s->tx_sf = 0;
    if (s->answering)
        sf->st->mib.MPNewKeyAnswer++;
    else if (s->sent)
        sf->st->mib.MPNewKeyRetrans++;
    else
        sf->st->mib.MPNewKeyTx++;
    s->answering = false;
    if (s->sent < UINT8_MAX)
        s->sent++;
}

uint64_t mpx_ek_deadline(const struct mpx_msk *m)
{
    uint64_t t = UINT64_MAX;
    if (!is_ext(m))
        return t;
    for (int k = 0; k < 2; k++) {
        const struct mpx_ext_slot *s = &m->ek.slot[k];
        if (!s->installed)
            continue;
        if (s->rtx_at && s->rtx_at < t)
            t = s->rtx_at;
        if (s->retire_at && s->retire_at < t)
            t = s->retire_at;
    }
    return t;
}

/* NEW_KEY (re)transmission of slot |s| (NOTES D15): the first when a
 * subflow can carry it, then after max(RTO, 200 ms) doubling, 6 in all;
 * then the key stays unconfirmed (no joins with it), the connection
 * goes on. */
static void slot_tx_timer(struct mpx_msk *m, struct mpx_ext_slot *s, uint64_t now)
{
    if (s->confirmed || s->given_up)
        return;
    if (s->rtx_at && now < s->rtx_at)
        return;
    struct mpx_sf *sf = carrier(m, s->tx_n);
    if (!sf)
        return; /* starts once a subflow is established */
    if (s->tx_n >= MPX_NK_TRIES) {
        s->given_up = true;
        s->tx_due = false;
        s->rtx_at = 0;
        m->st->mib.MPNewKeyGiveUp++;
        return;
    }
    s->rtx_at = now + (nk_rto(sf) << s->tx_n);
    s->tx_n++;
    s->tx_due = true;
    s->tx_sf = sf->id + 1; /* not whichever subflow sends first: maybe the dead one */
    mpx_tcp_send_ack(sf->tcp);
}

void mpx_ek_timer(struct mpx_msk *m, uint64_t now)
{
    if (!is_ext(m) || m->fallback)
        return;
    for (int k = 0; k < 2; k++) {
        struct mpx_ext_slot *s = &m->ek.slot[k];
        if (!s->installed)
            continue;
        if (s->retire_at && now >= s->retire_at) {
            /* D16: the grace period is over; erase (explicit_bzero-like) */
            slot_wipe(s);
            m->st->mib.MPExtKeyRetired++;
            continue;
        }
        slot_tx_timer(m, s, now);
        if (s->tx_due && s->confirmed && !s->sent) {
            /* confirmed before we ever sent ours (held NEW_KEY): send it */
            struct mpx_sf *sf = carrier(m, 0);
            if (sf)
                mpx_tcp_send_ack(sf->tcp);
        }
    }
}

void mpx_ek_info(const struct mpx_msk *m, struct mpx_conn_info *info)
{
    info->key_state = MPX_KEYST_NONE;
    info->key_id = 0;
    info->key_gen = 0;
    memset(info->key_fpr, 0, sizeof(info->key_fpr));
    if (!is_ext(m))
        return;
    int c = m->ek.cur;
    const struct mpx_ext_slot *s = &m->ek.slot[c], *o = &m->ek.slot[c ^ 1];
    if (!s->installed)
        return;
    if (s->confirmed)
        info->key_state = o->installed && !o->confirmed ? MPX_KEYST_ROTATING : MPX_KEYST_ACTIVE;
    else
        info->key_state = s->given_up ? MPX_KEYST_FAILED : MPX_KEYST_PENDING;
    info->key_id = (uint8_t)c;
    info->key_gen = s->gen;
    uint8_t h[32];
    if (mpx_sha256(s->bytes, s->len, h) == 0)
        memcpy(info->key_fpr, h, sizeof(info->key_fpr));
}

/* --- owner API (mptcp_stack.h) ------------------------------------------ */

int mpx_conn_get_secrets(const struct mpx_stack *st, uint32_t conn, struct mpx_conn_secrets *out)
{
    const struct mpx_msk *m = mpx_stack_find(st, conn);
    memset(out, 0, sizeof(*out));
    if (!m)
        return MPX_ERR_NOENT;
    out->ltoken = m->keys.ltoken;
    out->rtoken = m->keys.rtoken;
    if (!m->mptcp)
        return 0;
    if (!is_ext(m)) {
        out->rfc8684 = m->keys.have_remote;
        out->lkey = m->keys.lkey;
        out->rkey = m->keys.rkey;
        return 0;
    }
    /* the newest key: the one being rotated to, else the current one */
    int k = m->ek.cur;
    const struct mpx_ext_slot *o = &m->ek.slot[k ^ 1];
    if (o->installed && o->gen > m->ek.slot[k].gen)
        k ^= 1;
    const struct mpx_ext_slot *s = &m->ek.slot[k];
    if (!s->installed)
        return 0;
    _Static_assert(sizeof(out->key) >= MPX_EXT_KEY_MAX, "key-log buffer");
    out->ext = true;
    out->key_len = s->len;
    out->key_id = (uint8_t)k;
    out->key_gen = s->gen;
    memcpy(out->key, s->bytes, s->len);
    return 0;
}

static struct mpx_msk *api_msk(struct mpx_stack *st, uint32_t conn)
{
    struct mpx_msk *m = mpx_stack_find(st, conn);
    return m && !m->orphan ? m : NULL;
}

int mpx_conn_set_key(struct mpx_stack *st, uint32_t conn, const void *key, size_t len, uint64_t now)
{
    struct mpx_msk *m = api_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    if (len < MPX_EXT_KEY_MIN || len > MPX_EXT_KEY_MAX || !key)
        return MPX_ERR_INVAL;
    return mpx_ek_install(m, key, len, now);
}

int mpx_ek_install_psk(struct mpx_msk *m, const uint8_t *psk, size_t len, uint64_t now)
{
    if (!is_ext(m) || !m->mptcp || m->fallback || !m->keys.have_remote)
        return MPX_ERR_STATE;
    /* salt = Token_initiator || Token_responder (DESIGN decision 6) */
    uint8_t salt[8], key[32];
    uint32_t ti = m->server ? m->keys.rtoken : m->keys.ltoken;
    uint32_t tr = m->server ? m->keys.ltoken : m->keys.rtoken;
    mpx_put_be32(mpx_put_be32(salt, ti), tr);
    int rv = mpx_hkdf_sha256(psk, len, salt, sizeof(salt), psk_info, sizeof(psk_info) - 1, key,
                             sizeof(key));
    if (rv == 0)
        rv = mpx_ek_install(m, key, sizeof(key), now);
    mpx_ek_wipe(key, sizeof(key));
    return rv;
}

int mpx_conn_set_psk(struct mpx_stack *st, uint32_t conn, const void *psk, size_t len, uint64_t now)
{
    struct mpx_msk *m = api_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    if (!psk || !len || len > 256)
        return MPX_ERR_INVAL;
    return mpx_ek_install_psk(m, psk, len, now);
}

int mpx_conn_rotate_key(struct mpx_stack *st, uint32_t conn, uint64_t now)
{
    struct mpx_msk *m = api_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    return mpx_ek_rotate(m, now);
}
