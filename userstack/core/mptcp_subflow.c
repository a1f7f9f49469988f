/*
 * mptcp_subflow.c - one MPTCP subflow: a TCP engine plus the MPTCP state
 * of RFC 8684 sections 3.1-3.3: the MP_CAPABLE / MP_JOIN handshakes (via
 * the engine's option hook on SYN, SYN/ACK and ACK and the inspection of
 * incoming options), tx mappings and the DSS on each segment, rx mappings
 * by relative SSN and the drain of in-order subflow bytes into the
 * connection by DSN, MP_TCPRST on resets.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "mptcp_int.h"

/* --- mapping rings -------------------------------------------------------- */

static struct mpx_map *ring_at(struct mpx_map_ring *r, uint16_t i)
{
    return &r->m[(r->head + i) % MPX_SF_MAPS];
}

static struct mpx_map *ring_tail(struct mpx_map_ring *r)
{
    return r->n ? ring_at(r, (uint16_t)(r->n - 1)) : NULL;
}

static struct mpx_map *ring_push(struct mpx_map_ring *r)
{
    if (r->n == MPX_SF_MAPS)
        return NULL;
    struct mpx_map *m = ring_at(r, r->n);
    memset(m, 0, sizeof(*m));
    r->n++;
    return m;
}

/* A free entry placed before the first mapping that starts after |off|. */
static struct mpx_map *ring_insert(struct mpx_map_ring *r, uint32_t off)
{
    if (r->n == MPX_SF_MAPS)
        return NULL;
    uint16_t i = r->n;
    while (i > 0 && mpx_seq_gt(ring_at(r, (uint16_t)(i - 1))->off, off)) {
        *ring_at(r, i) = *ring_at(r, (uint16_t)(i - 1));
        i--;
    }
    r->n++;
    struct mpx_map *m = ring_at(r, i);
    memset(m, 0, sizeof(*m));
    return m;
}

static void ring_pop(struct mpx_map_ring *r)
{
    r->head = (uint16_t)((r->head + 1) % MPX_SF_MAPS);
    r->n--;
}

/* The mapping containing subflow offset |off|, or NULL. */
static struct mpx_map *ring_find(struct mpx_map_ring *r, uint32_t off)
{
    for (uint16_t i = 0; i < r->n; i++) {
        struct mpx_map *m = ring_at(r, i);
        if (mpx_seq_geq(off, m->off) && mpx_seq_lt(off, m->off + m->len))
            return m;
    }
    return NULL;
}

/* --- engine services ---------------------------------------------------- */

/* A segment ends at the end of the mapping holding its first byte (Linux
 * splits skbs per mapping; a receiver may drop a segment that overruns
 * its mapping). */
/* Payloads were sized for a DATA_ACK-only DSS (mpx_sf_new). */
static bool small_reserve(const struct mpx_sf *sf)
{
    return sf->tcp->cfg.opt_reserve == MPX_DSS_ACK_ONLY;
}

/* Segments inside a mapping may leave it out (checksummed mappings are
 * short and carried whole, never elided). */
static bool elide(const struct mpx_sf *sf)
{
    return small_reserve(sf) && !sf->msk->csum;
}

static uint32_t seg_unit(const struct mpx_sf *sf);

/* Payload of a full segment that carries a mapping. */
static uint32_t map_unit(const struct mpx_sf *sf)
{
    uint32_t unit = seg_unit(sf);
    if (!small_reserve(sf))
        return unit;
    return unit > MPX_DSS_MAP_EXTRA + 64 ? unit - MPX_DSS_MAP_EXTRA : unit;
}

/* With elision, the segments that must carry the mapping: the first of
 * the mapping (also when retransmitted: it starts at mp->off again), and
 * the one carrying our FIN (a folded DATA_FIN needs the mapping). Other
 * segments of a mapping need none (RFC 8684 section 3.3.1; Linux
 * get_mapping_status uses its current map for a segment without DSS):
 * the receiver reads subflow bytes in order, so the mapping's first
 * segment always reaches it before any later byte of the mapping can be
 * read. Retransmissions repeat the mapping only when it fits: shortening
 * them for it split SACK retransmissions in two and measured 86.5 instead
 * of 95.4 Mbit/s on 2 x 50 Mbit/s. */
static bool map_wanted(const struct mpx_sf *sf, const struct mpx_map *mp, uint32_t data_off,
                       uint32_t len)
{
    return data_off == mp->off || (sf->tcp->shut_wr && data_off + len == sf->tx_off);
}

static uint32_t seg_limit(void *ctx, uint32_t data_off, uint32_t len)
{
    struct mpx_sf *sf = ctx;
    if (sf->msk->fallback)
        return len;
    const struct mpx_map *mp = ring_find(&sf->tx, data_off);
    if (!mp)
        return len;
    uint32_t left = mp->off + mp->len - data_off;
    if (left < len)
        len = left;
    /* A TSO super segment (cfg.max_seg) has its options copied by the
     * kernel to every segment, which then fits the MSS with them
     * (mpx_tcp_out_gso): a DSS mapping repeated on each is what Linux
     * sends. Not TSO'd: a checksummed mapping (Linux neither), the
     * MP_CAPABLE that carries the first data and a DATA_FIN (one segment
     * each). */
    bool tso = len > seg_unit(sf);
    if (tso && (sf->msk->csum || (sf->client && !sf->join && !sf->fully_est && data_off == 0) ||
                (sf->tcp->shut_wr && data_off + len == sf->tx_off)))
        return map_unit(sf);
    /* ...and is cut into pieces of map_unit() (the mapping's DSS is on
     * each): a length sized in DATA_ACK-only units would leave a tail
     * segment of a few bytes per super segment, a packet (~100 bytes of
     * headers) that a rate-limited bottleneck must carry too */
    if (tso && len % map_unit(sf))
        len = len / map_unit(sf) * map_unit(sf);
    /* the payload was sized for a DATA_ACK-only DSS: make room (a super
     * segment is cut to the MSS with its real options instead) */
    if (small_reserve(sf) && !tso && (sf->msk->csum || map_wanted(sf, mp, data_off, len))) {
        uint32_t small = map_unit(sf);
        if (len > small)
            len = small;
    }
    return len;
}

/* RFC 8684 section 3.3.4: every subflow offers the connection-level
 * window, relative to the DATA_ACK. */
static uint32_t rcv_wnd(void *ctx)
{
    struct mpx_sf *sf = ctx;
    uint64_t w = mpx_msk_rcv_wnd(sf->msk);
    return w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

/* --- lifecycle ------------------------------------------------------------ */

struct mpx_sf *mpx_sf_new(struct mpx_msk *m, const struct mpx_tcp_tuple *t, bool client,
                          uint64_t now)
{
    struct mpx_stack *st = m->st;
    if (m->nsf == MPX_STACK_MAX_SUBFLOWS)
        return NULL;
    struct mpx_sf *sf = calloc(1, sizeof(*sf));
    if (!sf)
        return NULL;
    sf->tcp = malloc(mpx_tcp_conn_size());
    struct mpx_tcp_config cfg = st->cfg.tcp;
    cfg.keepalive = m->keepalive;
    cfg.keep_idle = m->keep_idle;
    cfg.keep_intvl = m->keep_intvl;
    cfg.keep_cnt = m->keep_cnt;
    cfg.tos = m->tos;
    cfg.ttl = m->ttl;
    if (m->cc)
        cfg.cc = m->cc;
    if (st->cfg.mptcp_enabled) {
        cfg.opt_hook = mpx_sf_opt_hook;
        cfg.opt_hook_ctx = sf;
        /* TS 12 + DSS with 64-bit DATA_ACK and DSN and checksum 28 = 40;
         * with elision most segments carry a DATA_ACK-only DSS (12) and
         * seg_limit() shortens the ones that carry a mapping */
        cfg.opt_reserve =
            st->cfg.dss_elide && !m->csum_want && !m->csum ? MPX_DSS_ACK_ONLY : MPX_DSS_FULL;
        /* the connection decides what to push and when (Linux pushes
         * subflows explicitly); a Nagle-held tail would merge with the
         * next mapping's bytes into one segment */
        cfg.nodelay = true;
        cfg.seg_limit = seg_limit;
        cfg.rcv_wnd = rcv_wnd;
    } else {
        cfg.opt_hook = NULL;
        cfg.opt_reserve = 0;
    }
    if (!sf->tcp || mpx_tcp_init(sf->tcp, &cfg, t, now) < 0) {
        free(sf->tcp);
        free(sf);
        return NULL;
    }
    sf->st = st;
    sf->msk = m;
    sf->tuple = *t;
    sf->client = client;
    sf->id = m->next_sf_id++;
    if (m->sf_total < UINT8_MAX)
        m->sf_total++;
    m->sf[m->nsf++] = sf;
    if (cfg.cc == &mpx_cc_lia)
        mpx_cc_group_join(&m->ccg, mpx_tcp_cc(sf->tcp)); /* RFC 6356 coupling */
    mpx_stack_hash_add(st, sf);
    return sf;
}

void mpx_sf_free(struct mpx_sf *sf)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    mpx_stack_hash_del(st, sf);
    mpx_tcp_mib_add(&st->tcp_mib_gone, mpx_tcp_get_mib(sf->tcp));
    for (uint8_t i = 0; i < m->nsf; i++) {
        if (m->sf[i] == sf) {
            memmove(&m->sf[i], &m->sf[i + 1], (size_t)(m->nsf - i - 1) * sizeof(m->sf[0]));
            m->nsf--;
            break;
        }
    }
    mpx_cc_group_leave(mpx_tcp_cc(sf->tcp));
    mpx_tcp_free(sf->tcp);
    free(sf->tcp);
    free(sf);
}

void mpx_sf_reset(struct mpx_sf *sf, uint8_t reason, uint64_t now)
{
    if (sf->gone)
        return;
    sf->rst_opt = true;
    sf->rst_reason = reason;
    if (sf->msk->mptcp || sf->join)
        sf->st->mib.MPRstTx++;
    if (!sf->error)
        sf->error = MPX_ERR_RESET;
    mpx_tcp_abort(sf->tcp, now);
}

/* --- output: the option hook ------------------------------------------- */

static bool add_opt(struct mpx_tcp_opts *opts, const struct mpx_mptcp_opt *o)
{
    if (opts->n_mptcp == MPX_TCP_MAX_MPTCP)
        return false;
    opts->mptcp[opts->n_mptcp++] = *o;
    if (mpx_tcp_opts_space(opts) > MPX_TCP_MAX_OPT_LEN) {
        opts->n_mptcp--;
        return false;
    }
    return true;
}

static uint8_t mpc_flags(const struct mpx_sf *sf, bool synack)
{
    const struct mpx_stack *st = sf->st;
    uint8_t f = MPX_MPC_F_H;
    if (sf->msk->csum || (!synack && sf->msk->csum_want))
        f |= MPX_MPC_F_A;
    if (synack && !st->cfg.allow_join_initial_addr_port)
        f |= MPX_MPC_F_C;
    if (sf->msk->ext) /* draft section 4.1: E on all three segments */
        f |= MPX_MPC_F_E;
    return f;
}

static int hook_syn(struct mpx_sf *sf, struct mpx_tcp_opts *opts, bool synack)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_mptcp_opt o = {0};
    if (sf->join) {
        o.subtype = MPX_MPTCP_SUB_JOIN;
        o.u.join.form = synack ? MPX_FORM_SYNACK : MPX_FORM_SYN;
        o.u.join.backup = sf->backup;
        o.u.join.addr_id = sf->local_id;
        o.u.join.nonce = sf->lnonce;
        /* draft section 4.2 / NOTES D21: K in the SYN, echoed after */
        o.u.join.key_id = m->kops == &mpx_key_ops_ext && sf->key_id;
        if (synack) {
            uint8_t h[32];
            /* HMAC(Key_B || Key_A, R_B || R_A): B is us (section 3.2) */
            if (m->kops->join_hmac(m, sf->key_id, true, sf->lnonce, sf->rnonce, h) < 0)
                return MPX_ERR_CRYPTO;
            o.u.join.thmac = mpx_trunc_left64(h);
        } else {
            o.u.join.token = m->keys.rtoken;
            sf->st->mib.MPJoinSynTx++;
        }
        return add_opt(opts, &o) ? 0 : MPX_ERR_NOSPACE;
    }
    if (synack ? !m->hs_mpc : (m->fallback || !m->token_in))
        return 0;
    if (!synack && ++sf->syn_tx > 1 + MPX_SYN_MPC_TRIES) {
        /* Linux syn_retrans_before_tcp_fallback: later SYNs go plain */
        if (sf->syn_tx == 2 + MPX_SYN_MPC_TRIES)
            sf->st->mib.MPCapableSYNTXDrop++;
        return 0;
    }
    o.subtype = MPX_MPTCP_SUB_CAPABLE;
    m->kops->fill_mpc(m, synack ? MPX_FORM_SYNACK : MPX_FORM_SYN, &o.u.mpc);
    o.u.mpc.flags = mpc_flags(sf, synack);
    if (!synack && sf->syn_tx == 1)
        sf->st->mib.MPCapableSYNTX++;
    return add_opt(opts, &o) ? 0 : MPX_ERR_NOSPACE;
}

static int hook_rst(struct mpx_sf *sf, struct mpx_tcp_opts *opts)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_mptcp_opt o = {0};
    if (sf->rst_opt) {
        o.subtype = MPX_MPTCP_SUB_TCPRST;
        o.u.tcprst.reason = sf->rst_reason;
        add_opt(opts, &o);
    }
    /* NOTES D22: no unauthenticated FASTCLOSE in E mode */
    int fk = mpx_ek_fastclose_k(m);
    if (sf->send_fastclose && m->keys.have_remote && fk >= 0) {
        memset(&o, 0, sizeof(o));
        o.subtype = MPX_MPTCP_SUB_FASTCLOSE;
        m->kops->fill_fastclose(m, fk, &o.u.fastclose);
        add_opt(opts, &o);
    }
    return 0;
}

/* Freeze a tx mapping the first time it goes on the wire (a receiver
 * accepts only an identical re-announcement: Linux get_mapping_status). */
static void map_freeze(struct mpx_sf *sf, struct mpx_map *mp)
{
    (void)sf;
    mp->sent = true;
}

/* The third ACK of MP_CAPABLE, repeated until the peer shows it has our
 * key (a DSS from it): section 3.1 "reliable" key echo. */
static int hook_mpc_ack(struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg,
                        struct mpx_tcp_opts *opts)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_mptcp_opt o = {0};
    o.subtype = MPX_MPTCP_SUB_CAPABLE;
    m->kops->fill_mpc(m, MPX_FORM_ACK, &o.u.mpc);
    o.u.mpc.flags = mpc_flags(sf, false);
    if (seg->payload_len) {
        struct mpx_map *mp = ring_find(&sf->tx, seg->data_off);
        /* The MP_CAPABLE mapping is implicit: DSN = IDSN + 1, SSN 1 (RFC
         * 8684 section 3.1). Only the connection's first bytes may use it:
         * when a join took them, this subflow's first data lies further on
         * and needs an explicit DSS (else the peer places it at IDSN + 1:
         * found against Linux, test_interop.py). */
        if (!mp || mp->off != 0 || mp->dsn != m->keys.lidsn + 1)
            return 1; /* not the connection's first data: DSS instead */
        map_freeze(sf, mp);
        o.u.mpc.has_dll = true;
        o.u.mpc.dll = (uint16_t)(mp->len + mp->fin);
        if (m->csum) {
            o.u.mpc.has_csum = true;
            o.u.mpc.csum = mp->csum;
        }
    }
    return add_opt(opts, &o) ? 0 : MPX_ERR_NOSPACE;
}

static int hook_join_ack(struct mpx_sf *sf, struct mpx_tcp_opts *opts)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_mptcp_opt o = {0};
    uint8_t h[32];
    /* HMAC(Key_A || Key_B, R_A || R_B): A is us (section 3.2) */
    if (m->kops->join_hmac(m, sf->key_id, true, sf->lnonce, sf->rnonce, h) < 0)
        return MPX_ERR_CRYPTO;
    o.subtype = MPX_MPTCP_SUB_JOIN;
    o.u.join.form = MPX_FORM_ACK;
    o.u.join.key_id = m->kops == &mpx_key_ops_ext && sf->key_id; /* D21 echo */
    mpx_trunc_left160(h, o.u.join.hmac);
    return add_opt(opts, &o) ? 0 : MPX_ERR_NOSPACE;
}

/* Room for the DSS |o| next to the SACK blocks (three blocks and a
 * timestamp fill the 40 bytes). */
static int dss_fit(const struct mpx_msk *m, struct mpx_tcp_opts *opts, struct mpx_mptcp_opt *o)
{
    struct mpx_opt_dss *d = &o->u.dss;
    if (add_opt(opts, o))
        return 0;
    d->ack64 = false; /* make room: SACK blocks took space (NOTES 3.3) */
    if (add_opt(opts, o))
        return 0;
    if (!(opts->present & MPX_TCPO_SACK))
        return d->has_map ? MPX_ERR_NOSPACE : 0;
    if (d->has_map) {
        /* a mapping must not be lost: like Linux, MPTCP options come
         * before SACK blocks in the 40 bytes (tcp_established_options) */
        opts->present &= ~MPX_TCPO_SACK;
        opts->n_sack = 0;
        d->ack64 = true;
        return add_opt(opts, o) ? 0 : MPX_ERR_NOSPACE;
    }
    /* A DATA_ACK the peer has not heard yet takes the room of the last
     * blocks (RFC 2018 section 4: the first one is the newest, the others
     * repeat what earlier ACKs said; Linux always sends the DATA_ACK and
     * as many blocks as then fit). Pure ACKs that dropped it whenever the
     * receiver had three holes kept the sender's DATA_ACK back for a whole
     * recovery although its subflow saw the data acknowledged: its
     * connection-level timer sent that data again (with one subflow no
     * fallback is possible any more, section 3.7), and a last DATA_ACK
     * (DATA_FIN included) lost that way left the sender retransmitting to
     * a peer that had closed. */
    uint8_t n_sack = opts->n_sack;
    while (d->data_ack != m->ack_sent && opts->n_sack > 1) {
        opts->n_sack--;
        if (add_opt(opts, o))
            return 0;
    }
    opts->n_sack = n_sack;
    return 0; /* a repeated DATA_ACK gives way to the SACK blocks */
}

static int hook_dss(struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg,
                    struct mpx_tcp_opts *opts)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_mptcp_opt o = {0};
    struct mpx_opt_dss *d = &o.u.dss;
    o.subtype = MPX_MPTCP_SUB_DSS;
    d->has_ack = true;
    d->ack64 = true;
    d->data_ack = m->rcv_nxt;
    if (seg->payload_len) {
        struct mpx_map *mp = ring_find(&sf->tx, seg->data_off);
        bool want = mp && (map_wanted(sf, mp, seg->data_off, seg->payload_len) ||
                           (seg->retransmission && seg->payload_len <= map_unit(sf)));
        if (mp && elide(sf) && mp->sent && !want)
            mp = NULL; /* inside a mapping the peer has: DATA_ACK only */
        if (mp) {
            map_freeze(sf, mp);
            d->has_map = true;
            d->dsn64 = true;
            d->dsn = mp->dsn;
            d->ssn = mp->off + 1;
            d->dll = (uint16_t)(mp->len + mp->fin);
            d->data_fin = mp->fin;
            d->has_csum = m->csum;
            d->csum = mp->csum;
            /* the engine put our FIN (with its DATA_FIN-only mapping) on
             * the last data segment: fold the DATA_FIN into this mapping
             * (a receiver compares mappings without the DATA_FIN's byte) */
            if ((seg->flags & MPX_TH_FIN) && sf->fin_map && !mp->fin && !m->csum &&
                mp->dsn + mp->len == sf->fin_dsn &&
                seg->data_off + seg->payload_len == mp->off + mp->len) {
                d->dll = (uint16_t)(mp->len + 1);
                d->data_fin = true;
            }
        }
    } else if (((seg->flags & MPX_TH_FIN) && sf->fin_map) ||
               (sf->fin_rtx && m->fin_sent && !m->fin_acked)) {
        uint64_t fdsn = (seg->flags & MPX_TH_FIN) && sf->fin_map ? sf->fin_dsn : m->write_seq;
        sf->fin_rtx = false;
        d->has_map = true;
        d->dsn64 = true;
        d->dsn = fdsn;
        d->ssn = 0;
        d->dll = 1;
        d->data_fin = true;
        d->has_csum = m->csum;
        d->csum = m->csum ? mpx_mptcp_dss_csum(fdsn, 0, 1, 0, NULL, 0) : 0;
    }
    return dss_fit(m, opts, &o);
}

/* Section 3.7: after a checksum failure the receiver says MP_FAIL, the
 * sender answers with an infinite mapping (DLL 0); then plain TCP. */
static int hook_fallback(struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg,
                         struct mpx_tcp_opts *opts)
{
    struct mpx_mptcp_opt o;
    memset(&o, 0, sizeof(o));
    if (sf->send_mp_fail) {
        o.subtype = MPX_MPTCP_SUB_FAIL;
        o.u.fail.dsn = sf->mp_fail_dsn;
        if (add_opt(opts, &o))
            sf->send_mp_fail = false;
    }
    if (sf->send_inf_map) {
        memset(&o, 0, sizeof(o));
        o.subtype = MPX_MPTCP_SUB_DSS;
        o.u.dss.has_map = true;
        o.u.dss.dsn64 = true;
        o.u.dss.dsn = sf->tx_inf_dsn;
        o.u.dss.ssn = sf->tx_inf_off + 1;
        o.u.dss.dll = 0;
        o.u.dss.has_csum = sf->msk->csum; /* checksum field 0 */
        if (add_opt(opts, &o)) {
            sf->send_inf_map = false;
            sf->st->mib.InfiniteMapTx++;
        }
    }
    (void)seg;
    return 0;
}

static int hook_dss_signal(struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg,
                           struct mpx_tcp_opts *opts)
{
    int rv = hook_dss(sf, seg, opts);
    if (rv >= 0 && sf->fully_est) {
        mpx_sf_hook_signal(sf, seg, opts);
        /* NEW_KEY after ADD_ADDR: next to it (TS 12 + ADD_ADDR 16 +
         * NEW_KEY 12) or instead of a DATA_ACK-only DSS */
        mpx_ek_hook(sf, seg, opts);
    }
    /* what the peer hears (a signal may have taken the DSS's place) */
    for (uint8_t i = 0; i < opts->n_mptcp; i++)
        if (opts->mptcp[i].subtype == MPX_MPTCP_SUB_DSS && opts->mptcp[i].u.dss.has_ack)
            sf->msk->ack_sent = opts->mptcp[i].u.dss.data_ack;
    return rv;
}

int mpx_sf_opt_hook(void *ctx, const struct mpx_tcp_seg_info *seg, struct mpx_tcp_opts *opts,
                    int remaining)
{
    struct mpx_sf *sf = ctx;
    struct mpx_msk *m = sf->msk;
    (void)remaining;
    if (seg->flags & MPX_TH_RST)
        return hook_rst(sf, opts);
    if (seg->flags & MPX_TH_SYN)
        return hook_syn(sf, opts, seg->flags & MPX_TH_ACK);
    if (m->fallback)
        return hook_fallback(sf, seg, opts);
    if (sf->join) {
        if (sf->client && !sf->fully_est)
            return hook_join_ack(sf, opts);
        if (!sf->mp_ok)
            return 0;
        return hook_dss_signal(sf, seg, opts);
    }
    if (!m->mptcp)
        return 0;
    /* Linux: MP_CAPABLE only on segments at ISN + 1 (the third ACK, its
     * repeats, the first data); a DATA_FIN needs the DSS */
    if (sf->client && !sf->fully_est && seg->data_off == 0 && !(seg->flags & MPX_TH_FIN)) {
        int rv = hook_mpc_ack(sf, seg, opts);
        if (rv <= 0)
            return rv;
    }
    return hook_dss_signal(sf, seg, opts);
}

/* --- data out ------------------------------------------------------------- */

bool mpx_sf_usable(const struct mpx_sf *sf)
{
    if (!sf->mp_ok || sf->gone || sf->shut)
        return false;
    enum mpx_tcp_state s = mpx_tcp_get_state(sf->tcp);
    return s == MPX_TCP_ESTABLISHED || s == MPX_TCP_CLOSE_WAIT;
}

/* Payload of a full-sized data segment (tcp_output seg_payload_max
 * without SACK blocks). */
static uint32_t seg_unit(const struct mpx_sf *sf)
{
    const struct mpx_tcp_conn *c = sf->tcp;
    uint32_t opt = (c->ts_ok ? 12u : 0u) + c->cfg.opt_reserve;
    return c->mss_base > opt + 64 ? c->mss_base - opt : 64;
}

/* TSO on (cfg.max_seg): every segment cut from a super segment carries
 * the mapping (seg_limit), so whole segments hold map_unit() bytes. */
static bool tso_on(const struct mpx_sf *sf)
{
    return sf->tcp->cfg.max_seg > seg_unit(sf);
}

uint32_t mpx_sf_unit(const struct mpx_sf *sf)
{
    return sf->msk->csum || tso_on(sf) ? map_unit(sf) : seg_unit(sf);
}

/* Bytes a mapping's first segment gives up (elision), so that a mapping
 * of L bytes ends on a segment boundary when (L + hdr) % unit == 0. */
static uint32_t map_hdr(const struct mpx_sf *sf)
{
    return elide(sf) && !tso_on(sf) ? seg_unit(sf) - map_unit(sf) : 0;
}

/* Whether bytes at |dsn| pushed now extend the last tx mapping. */
static bool extends(const struct mpx_sf *sf, uint64_t dsn)
{
    const struct mpx_map_ring *r = &sf->tx;
    if (!r->n || sf->msk->csum)
        return false;
    const struct mpx_map *last = &r->m[(r->head + r->n - 1) % MPX_SF_MAPS];
    return !last->sent && !last->fin && last->dsn + last->len == dsn &&
           last->off + last->len == sf->tx_off;
}

uint32_t mpx_sf_align(const struct mpx_sf *sf, uint64_t dsn, uint32_t len)
{
    uint32_t unit = mpx_sf_unit(sf);
    if (sf->msk->fallback || unit <= 64)
        return len;
    uint32_t pre = map_hdr(sf);
    if (extends(sf, dsn))
        pre += sf->tx.m[(sf->tx.head + sf->tx.n - 1) % MPX_SF_MAPS].len;
    pre %= unit;
    uint32_t total = (pre + len) / unit * unit;
    return total > pre ? total - pre : len;
}

uint32_t mpx_sf_notsent(const struct mpx_sf *sf)
{
    const struct mpx_tcp_conn *c = sf->tcp;
    return mpx_tcp_sndbuf_end(c) - mpx_seq_max(c->snd_max, c->sndbuf_seq);
}

uint64_t mpx_sf_deadline(const struct mpx_sf *sf)
{
    return sf->mpc_rtx_at && sf->mpc_rtx_n < 5 ? sf->mpc_rtx_at : UINT64_MAX;
}

void mpx_sf_snapshot(const struct mpx_sf *sf, struct mpx_sched_sf *o)
{
    const struct mpx_tcp_conn *c = sf->tcp;
    const struct mpx_msk *m = sf->msk;
    memset(o, 0, sizeof(*o));
    o->id = sf->id;
    o->established = mpx_sf_usable(sf);
    o->failed = sf->gone;
    o->backup = sf->backup || sf->peer_backup;
    o->stale = sf->stale;
    o->fallback_ok = m->fallback && m->nsf && m->sf[0] == sf;
    o->srtt_ns = c->rtt_valid ? c->srtt : 0;
    o->rttvar_ns = c->rttvar;
    o->mss = mpx_sf_unit(sf); /* payload of a segment with our options */
    o->cwnd = c->cc.cwnd;
    o->ssthresh = c->cc.ssthresh;
    o->in_flight = mpx_tcp_pipe(c);
    o->unacked = c->snd_max - c->snd_una;
    o->notsent = mpx_sf_notsent(sf);
    o->snd_wnd = c->snd_wnd;
    o->sndbuf_space = c->sndbuf.cap - c->sndbuf.len;
    o->rto_backoff = c->backoff;
    o->last_ack_ns = sf->last_prog;
    if (sf->tx.n >= MPX_SF_MAPS - 1)
        o->sndbuf_space = 0; /* no room to record another mapping */
}

uint32_t mpx_sf_push(struct mpx_sf *sf, uint64_t dsn, const uint8_t *p, uint32_t len, bool *fin_io,
                     uint64_t now)
{
    bool fin = *fin_io;
    *fin_io = false;
    struct mpx_msk *m = sf->msk;
    if (m->fallback) {
        long took = mpx_tcp_send(sf->tcp, p, len, now);
        if (took <= 0)
            return 0;
        sf->tx_off += (uint32_t)took;
        return (uint32_t)took;
    }
    /* an MP_CAPABLE carrying the first data has a DLL but no F flag */
    if (sf->client && !sf->join && !sf->fully_est && sf->tx_off == 0)
        fin = false;
    struct mpx_map *last = ring_tail(&sf->tx);
    bool extend = extends(sf, dsn);
    uint32_t max = m->csum ? MPX_MAP_MAX_CSUM : MPX_MAP_MAX - 1;
    uint32_t unit = mpx_sf_unit(sf), hdr = map_hdr(sf);
    if (unit > 64 && max > unit)
        max = (max + hdr) / unit * unit - hdr; /* mappings end on segment boundaries */
    if (extend && last->len >= max)
        extend = false;
    uint32_t lim = extend ? max - last->len : max;
    if (len > lim) {
        len = lim;
        fin = false;
    }
    if (!extend && sf->tx.n >= MPX_SF_MAPS - 1)
        return 0;
    if (sf->tcp->snd_max == sf->tcp->snd_una)
        sf->last_prog = now; /* idle until now: not stale */
    long took = mpx_tcp_send(sf->tcp, p, len, now);
    if (took <= 0)
        return 0;
    if ((uint32_t)took < len)
        fin = false;
    if (extend) {
        last->len += (uint32_t)took;
        last->fin = fin;
    } else {
        struct mpx_map *mp = ring_push(&sf->tx);
        mp->dsn = dsn;
        mp->off = sf->tx_off;
        mp->len = (uint32_t)took;
        mp->fin = fin;
        if (m->csum)
            mp->csum =
                mpx_mptcp_dss_csum(dsn, mp->off + 1, (uint16_t)(mp->len + fin), 0, p, (size_t)took);
    }
    sf->tx_off += (uint32_t)took;
    *fin_io = fin;
    return (uint32_t)took;
}

/* --- input: options ------------------------------------------------------- */

/* Server in SYN_RECEIVED: segments with a DSS but no MP_CAPABLE dropped
 * while waiting for the third ACK (rx_mpc_ack); counted in noopt_acks,
 * unused before the subflow is fully established. */
#define MPX_MPC_OOO_DROPS 16

static const struct mpx_mptcp_opt *find_opt(const struct mpx_pkt *p, enum mpx_mptcp_subtype st)
{
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
        if (p->tcp.opts.mptcp[i].subtype == st)
            return &p->tcp.opts.mptcp[i];
    return NULL;
}

/* Client: an E SYN answered in RFC 8684 form (a responder without
 * external keys, draft section 4.1). PREFER goes on with the secret behind
 * our token as the RFC 8684 key; REQUIRE never sends a key in clear, so it
 * ignores the option and falls back to TCP (single path). */
static bool ext_downgrade(struct mpx_msk *m)
{
    if (m->ext_policy != MPX_EXT_PREFER)
        return false;
    uint64_t idsn;
    if (mpx_mptcp_key_sha(m->keys.lkey, NULL, &idsn) < 0)
        return false;
    /* the send side started at the E-mode IDSN + 1; bytes queued before
     * the SYN/ACK keep their place relative to it */
    uint64_t delta = idsn - m->keys.lidsn;
    m->keys.lidsn = idsn;
    m->snd_una += delta;
    m->snd_nxt += delta;
    m->write_seq += delta;
    m->wnd_end += delta;
    m->kops = &mpx_key_ops_rfc8684;
    m->ext = false;
    return true;
}

/* Client: the SYN/ACK decides MPTCP or fallback (section 3.7). */
static void rx_synack_mpc(struct mpx_sf *sf, const struct mpx_pkt *p, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    const struct mpx_mptcp_opt *o = find_opt(p, MPX_MPTCP_SUB_CAPABLE);
    if (m->mptcp || m->fallback)
        return;
    bool ok = o && o->u.mpc.form == MPX_FORM_SYNACK && mpx_mptcp_mpc_acceptable(&o->u.mpc, m->ext);
    if (ok && m->ext && !(o->u.mpc.flags & MPX_MPC_F_E))
        ok = ext_downgrade(m);
    else if (!o && m->ext && m->ext_policy == MPX_EXT_PREFER &&
             sf->syn_tx <= 1 + MPX_SYN_MPC_TRIES && ext_downgrade(m)) {
        /* Linux ignores an MP_CAPABLE with E (NOTES D3): reset this
         * attempt and retry once in RFC 8684 form (the stack does it once
         * this segment is dropped; RFC 8684 section 3.1 does the same for
         * an ignored extended format), and remember the destination so
         * that the next connection offers RFC 8684 at once (DESIGN
         * decision 5). ext_downgrade cleared m->ext: never a second retry.
         * Not when our last SYNs went without MP_CAPABLE (losses): that
         * SYN/ACK says nothing about E. */
        st->mib.MPExtKeyRetryNoE++;
        mpx_stack_ext_cache_add(st, &sf->tuple.remote, sf->tuple.rport, now);
        m->ext_retry = true;
        return;
    }
    if (ok && m->kops->recv_mpc(m, &o->u.mpc) == 0) {
        st->mib.MPCapableSYNACKRX++;
        m->csum = m->csum_want || (o->u.mpc.flags & MPX_MPC_F_A);
        m->deny_join0 = o->u.mpc.flags & MPX_MPC_F_C;
        mpx_msk_start_data(m);
        sf->mp_ok = true;
        mpx_msk_pm_start(m, sf);
        return;
    }
    if (m->token_in)
        st->mib.MPCapableFallbackSYNACK++;
    mpx_msk_fallback(m, sf);
}

/* Server: the first ACK completes MP_CAPABLE, or we fall back. Returns
 * false to drop the segment. */
static bool rx_mpc_ack(struct mpx_sf *sf, const struct mpx_pkt *p)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    const struct mpx_mptcp_opt *o = find_opt(p, MPX_MPTCP_SUB_CAPABLE);
    /* NOTES D5: after an E SYN/ACK a third ACK without E is invalid */
    if (o && o->u.mpc.form == MPX_FORM_ACK && mpx_mptcp_mpc_acceptable(&o->u.mpc, m->ext) &&
        (!m->ext || (o->u.mpc.flags & MPX_MPC_F_E)) && m->kops->recv_mpc(m, &o->u.mpc) == 0) {
        st->mib.MPCapableACKRX++;
        if (!m->mptcp)
            mpx_msk_start_data(m);
        /* answer at once with a DSS so that the client knows we have its
         * key (it repeats the MP_CAPABLE ACK until then, section 3.1) */
        sf->ack_pending = true;
        m->hs_mpc = false;
        sf->mp_ok = sf->fully_est = true;
        mpx_msk_pm_start(m, sf);
        uint32_t off = p->tcp.seq - (sf->tcp->irs + 1);
        if (o->u.mpc.has_dll && p->payload_len && off == 0) {
            struct mpx_map *mp = ring_push(&sf->rx);
            if (mp) {
                mp->dsn = m->keys.ridsn + 1;
                mp->off = 0;
                mp->len = o->u.mpc.dll;
                mp->csum = o->u.mpc.csum;
            }
        }
        return true;
    }
    if (find_opt(p, MPX_MPTCP_SUB_DSS) && m->keys.have_remote)
        return true; /* MP_CAPABLE seen before; a DSS is fine */
    if (find_opt(p, MPX_MPTCP_SUB_DSS) && ++sf->noopt_acks <= MPX_MPC_OOO_DROPS)
        /* The client's later data overtook its third ACK (reordering):
         * it is doing MPTCP, and the MP_CAPABLE comes with the third ACK
         * or the first data, repeated until we answer. Drop this one (the
         * client sends it again) instead of falling back: Linux falls back
         * here, and the client then follows (MPCapableDataFallback), a
         * single path for the whole connection. A few only: a path that
         * strips MP_CAPABLE alone still ends in a fallback. */
        return false;
    st->mib.MPCapableFallbackACK++;
    m->hs_mpc = false;
    mpx_msk_fallback(m, sf);
    return true;
}

/* RFC 8684 section 3.1: until the client sees a DSS from us it repeats
 * MP_CAPABLE (with the Data-Level Length) on its first data. When a pure
 * third ACK already completed the handshake, that data arrives in
 * ESTABLISHED: its mapping (DSN = IDSN + 1, subflow offset 0) must be
 * recorded here too, else the next segment (mapping elided) looks like
 * data without a mapping and we would fall back alone (lab 50d20+50). */
static void rx_mpc_data(struct mpx_sf *sf, const struct mpx_pkt *p)
{
    struct mpx_msk *m = sf->msk;
    const struct mpx_mptcp_opt *o = find_opt(p, MPX_MPTCP_SUB_CAPABLE);
    if (m->fallback || !m->mptcp || sf->join || !o || !o->u.mpc.has_dll || !p->payload_len ||
        !m->keys.have_remote)
        return;
    uint32_t off = p->tcp.seq - (sf->tcp->irs + 1);
    uint32_t rcv_off = sf->tcp->rcv_nxt - (sf->tcp->irs + 1);
    if (off != 0 || rcv_off != 0 || ring_find(&sf->rx, 0))
        return;
    struct mpx_map *mp = ring_push(&sf->rx);
    if (mp) {
        mp->dsn = m->keys.ridsn + 1;
        mp->off = 0;
        mp->len = o->u.mpc.dll;
        mp->csum = o->u.mpc.csum;
    }
}

/* NOTES D21: the SYN/ACK and the third ACK of an E-mode join echo the
 * SYN's K; another K is an error (reset, MP_TCPRST "MPTCP-specific"). */
static bool join_k_echo_ok(struct mpx_sf *sf, const struct mpx_opt_join *j, uint64_t now)
{
    if (sf->msk->kops != &mpx_key_ops_ext || (j->key_id ? 1 : 0) == sf->key_id)
        return true;
    sf->st->mib.MPJoinKeyIdMismatch++;
    mpx_sf_reset(sf, MPX_RST_EMPTCP, now);
    return false;
}

static bool rx_join_synack(struct mpx_sf *sf, const struct mpx_pkt *p, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    const struct mpx_mptcp_opt *o = find_opt(p, MPX_MPTCP_SUB_JOIN);
    uint8_t h[32];
    if (!o || o->u.join.form != MPX_FORM_SYNACK) {
        mpx_sf_reset(sf, MPX_RST_EMPTCP, now); /* a join cannot fall back */
        return false;
    }
    sf->rnonce = o->u.join.nonce;
    if (!join_k_echo_ok(sf, &o->u.join, now))
        return false;
    /* expected: HMAC(Key_B || Key_A, R_B || R_A), B the peer */
    if (m->kops->join_hmac(m, sf->key_id, false, sf->rnonce, sf->lnonce, h) < 0 ||
        mpx_trunc_left64(h) != o->u.join.thmac) {
        st->mib.MPJoinSynAckHMacFailure++;
        mpx_sf_reset(sf, MPX_RST_EMPTCP, now);
        return false;
    }
    st->mib.MPJoinSynAckRx++;
    mpx_ek_confirm(m, sf->key_id, now); /* the peer holds key K (D13) */
    if (o->u.join.backup)
        st->mib.MPJoinSynAckBackupRx++;
    sf->remote_id = o->u.join.addr_id;
    sf->peer_backup = o->u.join.backup;
    return true;
}

static bool rx_join_ack(struct mpx_sf *sf, const struct mpx_pkt *p, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    const struct mpx_mptcp_opt *o = find_opt(p, MPX_MPTCP_SUB_JOIN);
    uint8_t h[32], h160[20];
    if (!o || o->u.join.form != MPX_FORM_ACK) {
        mpx_sf_reset(sf, MPX_RST_EMPTCP, now);
        return false;
    }
    if (!join_k_echo_ok(sf, &o->u.join, now))
        return false;
    /* expected: HMAC(Key_A || Key_B, R_A || R_B), A the peer */
    if (m->kops->join_hmac(m, sf->key_id, false, sf->rnonce, sf->lnonce, h) < 0) {
        mpx_sf_reset(sf, MPX_RST_EMPTCP, now); /* key K retired meanwhile */
        return false;
    }
    mpx_trunc_left160(h, h160);
    if (memcmp(h160, o->u.join.hmac, sizeof(h160)) != 0) {
        st->mib.MPJoinAckHMacFailure++;
        mpx_sf_reset(sf, MPX_RST_EMPTCP, now);
        return false;
    }
    if (!mpx_sf_pm_join_ok(sf)) {
        /* over the limits: "administratively prohibited" (Linux
         * MPJoinRejected, counted by the PM) */
        mpx_sf_reset(sf, MPX_RST_EPROHIBIT, now);
        return false;
    }
    st->mib.MPJoinAckRx++;
    mpx_ek_confirm(m, sf->key_id, now); /* D17 DECIDED: confirms K */
    sf->mp_ok = sf->fully_est = true;
    sf->ack_pending = true; /* the fourth ACK (section 3.2) */
    return true;
}

/* The tail mapping takes |off|, |dsn|, |len| if they continue it in both
 * sequence spaces (a sender's consecutive mappings: one entry, however
 * small the peer makes them). Not with checksums: each covers its own. */
static bool rx_map_extend(struct mpx_sf *sf, struct mpx_map *last, uint32_t off, uint64_t dsn,
                          uint32_t len, bool fin)
{
    if (!last || sf->msk->csum || last->fin || fin || last->off + last->len != off ||
        last->dsn + last->len != dsn || last->len > UINT32_MAX / 2)
        return false;
    last->len += len;
    return true;
}

/* Records a mapping. False when there is no room to remember it: the
 * segment must then not reach TCP, or its bytes would be taken with no
 * mapping (drain stops there for good, and the next segment without a
 * DSS resets the subflow as middlebox interference). */
static bool rx_map(struct mpx_sf *sf, const struct mpx_opt_dss *d)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    uint64_t dsn = d->dsn64 ? d->dsn : mpx_msk_expand(m->rcv_nxt, d->dsn);
    if (d->dll == 0) {
        /* infinite mapping (section 3.7): the rest of this subflow */
        st->mib.InfiniteMapRx++;
        if (!sf->rx_inf) {
            sf->rx_inf = true;
            sf->rx_inf_off = d->ssn - 1;
            sf->rx_inf_dsn = dsn;
        }
        return true;
    }
    if (d->data_fin && d->dll == 1 && d->ssn == 0) {
        mpx_msk_rcv_fin(m, dsn);
        /* a DATA_FIN takes DSN space: one we have taken is answered at
         * once, so a sender whose DATA_ACK got lost (or that sends it
         * again on a pure ACK, mpx_msk_rtx_timer) learns it, as TCP
         * answers a retransmitted FIN */
        if (m->fin_in)
            sf->ack_pending = true;
        return true;
    }
    uint32_t off = d->ssn - 1, len = d->dll - (d->data_fin ? 1u : 0u);
    if (d->data_fin)
        mpx_msk_rcv_fin(m, dsn + len);
    if (!len || mpx_seq_leq(off + len, sf->rx_off))
        return true; /* old */
    struct mpx_map *last = ring_tail(&sf->rx);
    struct mpx_map *mp;
    if (last && mpx_seq_lt(off, last->off + last->len)) {
        struct mpx_map *cur = ring_find(&sf->rx, off);
        if (!cur)
            cur = ring_find(&sf->rx, off + len - 1);
        if (cur) {
            /* Linux accepts only an identical re-announcement; ours may
             * have grown by rx_map_extend: a part of it is the same */
            if (cur->dsn + (off - cur->off) != dsn || mpx_seq_lt(off, cur->off) ||
                mpx_seq_gt(off + len, cur->off + cur->len))
                st->mib.DSSNotMatching++;
            return true;
        }
        /* a retransmission filling a hole: keep the ring sorted by offset */
        mp = ring_insert(&sf->rx, off);
    } else if (rx_map_extend(sf, last, off, dsn, len, d->data_fin)) {
        return true;
    } else {
        mp = ring_push(&sf->rx);
    }
    if (!mp) {
        st->mib.MPXRxMapsFull++;
        return false;
    }
    mp->dsn = dsn;
    mp->off = off;
    mp->len = len;
    mp->fin = d->data_fin;
    mp->csum = d->csum;
    return true;
}

/* False when the segment must be dropped (rx_map). */
static bool rx_dss(struct mpx_sf *sf, const struct mpx_pkt *p, const struct mpx_opt_dss *d,
                   uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (d->has_ack) {
        uint64_t ack = d->ack64 ? d->data_ack : mpx_msk_expand(m->snd_una, d->data_ack);
        m->last_ack = now;
        uint32_t wnd = (uint32_t)p->tcp.win << (sf->tcp->wscale_ok ? sf->tcp->snd_wscale : 0);
        mpx_msk_data_ack(m, ack, wnd);
        if (sf->client && !sf->join)
            sf->fully_est = true; /* the peer has our key */
    }
    return !d->has_map || rx_map(sf, d);
}

static void rx_fastclose(struct mpx_sf *sf, const struct mpx_opt_fastclose *fc, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (!m->kops->fastclose_ok(m, fc)) {
        sf->st->mib.MPXFastcloseBadKey++; /* e.g. an on-path guess in E mode */
        return;
    }
    sf->st->mib.MPFastcloseRx++;
    m->error = MPX_ERR_RESET;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (!m->sf[i]->gone) {
            m->sf[i]->error = MPX_ERR_RESET;
            mpx_tcp_abort(m->sf[i]->tcp, now);
        }
}

/* RFC 8684 section 3.7: an infinite mapping (fallback to TCP) is only
 * possible while the connection has one subflow and no other can appear
 * behind our back (Linux msk->allow_infinite_fallback): no join made,
 * accepted or queued, no address announced either way (the peer may be
 * opening a join to it), and no data sent twice at the connection level
 * (then subflow offsets and DSNs no longer move together, Linux clears the
 * flag in __mptcp_retrans). */
static bool inf_fallback_ok(const struct mpx_sf *sf)
{
    const struct mpx_msk *m = sf->msk;
    if (sf->join || m->nsf != 1 || m->next_sf_id != 1 || m->sf_total > 1 || m->n_join_req ||
        m->retransmits)
        return false;
    return !(m->pm_on &&
             (m->pm.add_addr_signaled || m->pm.add_addr_accepted || m->pm.extra_subflows));
}

/* Section 3.7: MPTCP options vanished after the handshake (a middlebox
 * strips them) and fallback is possible (inf_fallback_ok). Fall back one
 * way and tell the peer so that it never goes on alone: |mp_fail| (we
 * received data without a mapping) sends MP_FAIL with the DSN where the
 * plain stream starts, to which the peer answers with an infinite
 * mapping; else (its ACKs lost their options) we send the infinite
 * mapping ourselves. Our byte stream keeps the DSNs it had (one subflow,
 * nothing sent twice: DSN and subflow offset move together). */
static void late_fallback(struct mpx_sf *sf, bool mp_fail)
{
    struct mpx_msk *m = sf->msk;
    if (m->fallback || !m->mptcp)
        return;
    uint32_t roff = sf->rx_off;
    uint64_t rdsn = m->rcv_nxt - (m->fin_in ? 1 : 0);
    struct mpx_map *last = ring_tail(&sf->rx);
    if (last && mpx_seq_gt(last->off + last->len, roff)) {
        roff = last->off + last->len;
        rdsn = last->dsn + last->len;
    }
    bool fin_on_map = m->fin_sent && !sf->shut;
    mpx_msk_fallback(m, sf);
    sf->rx_inf_off = roff;
    sf->rx_inf_dsn = rdsn;
    if (mp_fail) {
        sf->st->mib.MPFailTx++;
        sf->send_mp_fail = true;
        sf->mp_fail_dsn = rdsn;
    } else {
        sf->send_inf_map = true;
    }
    sf->ack_pending = true;
    if (fin_on_map)
        m->fin_sent = false; /* its DSS was stripped: the TCP FIN says it now */
}

/* Client, MP_CAPABLE done but the server not yet heard from at the
 * MPTCP level: its first segments after the handshake must carry a DSS.
 * One without any MPTCP option means the server fell back, e.g. because
 * our data overtook the third ACK and reached it first without
 * MP_CAPABLE (Linux falls back there too, subflow_syn_recv_sock): follow
 * it at once (Linux check_fully_established, MPCapableDataFallback), or
 * we would wait forever for DATA_ACKs. Segments full of SACK blocks may
 * lack the DSS for want of room and prove nothing. */
static void mpc_data_fallback(struct mpx_sf *sf, const struct mpx_pkt *p)
{
    struct mpx_msk *m = sf->msk;
    if (!sf->client || sf->join || sf->fully_est || !m->mptcp || m->fallback || !sf->tcp_est ||
        (p->tcp.flags & (MPX_TH_SYN | MPX_TH_RST)) || !(p->tcp.flags & MPX_TH_ACK) ||
        p->tcp.opts.n_mptcp || p->tcp.opts.n_sack)
        return;
    sf->st->mib.MPCapableDataFallback++;
    late_fallback(sf, false);
    sf->send_inf_map = false; /* the server knows: it fell back first */
}

/* Returns false when the subflow was reset (the segment is dropped). */
static bool check_options_gone(struct mpx_sf *sf, const struct mpx_pkt *p, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (m->fallback || !m->mptcp || !sf->fully_est || (p->tcp.flags & MPX_TH_SYN) ||
        !(p->tcp.flags & MPX_TH_ACK))
        return true;
    const struct mpx_mptcp_opt *d = find_opt(p, MPX_MPTCP_SUB_DSS);
    const struct mpx_mptcp_opt *mpc = find_opt(p, MPX_MPTCP_SUB_CAPABLE);
    if (d || mpc)
        sf->noopt_acks = 0;
    bool has_map = (d && d->u.dss.has_map) || (mpc && mpc->u.mpc.has_dll);
    if (p->payload_len && !has_map) {
        /* A segment without DSS inside a mapping we have is fine (the
         * sender elides repeated mappings, section 3.3.1). In-order data
         * outside every mapping we know: Linux get_mapping_status, no DSS
         * and no current map. Out-of-order data waits: the segment that
         * starts its mapping arrives (with it) before it can be read. */
        uint32_t off = p->tcp.seq - (sf->tcp->irs + 1);
        uint32_t rcv_off = sf->tcp->rcv_nxt - (sf->tcp->irs + 1);
        if (off != rcv_off || ring_find(&sf->rx, off))
            return true;
        if (inf_fallback_ok(sf)) {
            sf->st->mib.DssFallback++;
            late_fallback(sf, true);
            return true;
        }
        /* Section 3.7 "the subflow MUST be treated as broken and closed
         * with a RST": Linux MAPPING_NODSS without a fallback resets with
         * MP_TCPRST "middlebox interference"; its data goes elsewhere */
        sf->st->mib.FallbackFailed++;
        mpx_sf_reset(sf, MPX_RST_EMIDDLEBOX, now);
        return false;
    }
    if (d || mpc || p->payload_len)
        return true;
    /* pure ACKs always have room for a DATA_ACK unless SACK took it */
    /* Without fallback the DATA_ACKs come on the other subflows; data
     * sent here is reinjected by the connection-level timer. */
    if (!p->tcp.opts.n_mptcp && !p->tcp.opts.n_sack && ++sf->noopt_acks >= 3 &&
        inf_fallback_ok(sf)) {
        sf->st->mib.DssFallback++;
        late_fallback(sf, false);
    }
    return true;
}

/* The peer fell back (section 3.7): MP_FAIL (|inf| NULL: we answer with
 * an infinite mapping) or its infinite mapping |inf| (the rest of its
 * stream from that SSN is plain TCP at that DSN). Without a possible
 * fallback the subflow is reset (Linux: MP_FAIL received when
 * allow_infinite_fallback is off). Returns false when it was reset. */
static bool rx_fail_or_inf(struct mpx_sf *sf, const struct mpx_opt_dss *inf, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (m->fallback)
        return true;
    if (!m->mptcp || !inf_fallback_ok(sf)) {
        sf->st->mib.FallbackFailed++;
        mpx_sf_reset(sf, MPX_RST_EMIDDLEBOX, now);
        return false;
    }
    late_fallback(sf, false);
    if (inf) {
        sf->send_inf_map = false; /* it knows: no answer needed */
        sf->rx_inf_off = inf->ssn - 1;
        sf->rx_inf_dsn = inf->dsn64 ? inf->dsn : mpx_msk_expand(m->rcv_nxt, inf->dsn);
    }
    return true;
}

/* RFC 9293 3.10.7.4: an unacceptable segment is dropped (after an ACK,
 * which TCP sends). Its options must not act either, or a blind attacker
 * knowing only the 4-tuple could remove addresses, change priorities, move
 * DATA_ACKs or fast-close; Linux only parses options after
 * tcp_validate_incoming. SYN-phase options and MP_TCPRST on an exact RST
 * stay (mpx_tcp_acceptable accepts those). */
static bool opts_acceptable(struct mpx_sf *sf, const struct mpx_pkt *p, uint64_t now)
{
    if (mpx_tcp_acceptable(sf->tcp, p, now))
        return true;
    if (p->tcp.opts.n_mptcp)
        sf->st->mib.MPXOptsUnacceptable++;
    return false;
}

bool mpx_sf_rx_options(struct mpx_sf *sf, const struct mpx_pkt *p, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    uint8_t fl = p->tcp.flags;
    enum mpx_tcp_state s = mpx_tcp_get_state(sf->tcp);
    if (!st->cfg.mptcp_enabled)
        return true;
    if (!opts_acceptable(sf, p, now))
        return true; /* TCP drops it and answers as RFC 9293 says */
    if (fl & MPX_TH_RST) {
        const struct mpx_mptcp_opt *o = find_opt(p, MPX_MPTCP_SUB_TCPRST);
        if (o) {
            st->mib.MPRstRx++;
            sf->rst_rx = true;
            sf->rst_rx_transient = o->u.tcprst.flags & MPX_TCPRST_F_T;
        }
        o = find_opt(p, MPX_MPTCP_SUB_FASTCLOSE);
        if (o)
            rx_fastclose(sf, &o->u.fastclose, now);
        return true;
    }
    if (s == MPX_TCP_SYN_SENT && (fl & (MPX_TH_SYN | MPX_TH_ACK)) == (MPX_TH_SYN | MPX_TH_ACK)) {
        if (sf->join)
            return rx_join_synack(sf, p, now);
        rx_synack_mpc(sf, p, now);
        return !m->ext_retry; /* dropped: the stack restarts the SYN */
    }
    if (s == MPX_TCP_SYN_RECEIVED && (fl & MPX_TH_ACK) && !(fl & MPX_TH_SYN)) {
        if (sf->join) {
            if (!rx_join_ack(sf, p, now))
                return false;
        } else if (m->hs_mpc && !rx_mpc_ack(sf, p)) {
            return false;
        }
    } else if (sf->join && sf->client && !sf->fully_est && (fl & MPX_TH_ACK) &&
               !(fl & MPX_TH_SYN) && sf->tcp_est) {
        sf->fully_est = sf->mp_ok = true; /* the fourth ACK */
    }
    if (!check_options_gone(sf, p, now))
        return false;
    mpc_data_fallback(sf, p);
    rx_mpc_data(sf, p);
    const struct mpx_mptcp_opt *fo = find_opt(p, MPX_MPTCP_SUB_FAIL);
    if (fo && !(fl & MPX_TH_RST)) {
        st->mib.MPFailRx++;
        if (!rx_fail_or_inf(sf, NULL, now))
            return false;
    }
    const struct mpx_mptcp_opt *dm = find_opt(p, MPX_MPTCP_SUB_DSS);
    if (dm && dm->u.dss.has_map && dm->u.dss.dll == 0 && !m->fallback && m->mptcp) {
        st->mib.InfiniteMapRx++;
        if (!rx_fail_or_inf(sf, &dm->u.dss, now))
            return false;
        return true;
    }
    if (m->fallback) {
        const struct mpx_mptcp_opt *d = find_opt(p, MPX_MPTCP_SUB_DSS);
        if (d && d->u.dss.has_map && d->u.dss.dll == 0)
            st->mib.InfiniteMapRx++;
        return true;
    }
    bool take = true;
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++) {
        const struct mpx_mptcp_opt *o = &p->tcp.opts.mptcp[i];
        if (o->subtype == MPX_MPTCP_SUB_DSS && m->mptcp)
            take = rx_dss(sf, p, &o->u.dss, now) && take;
        else if (o->subtype == MPX_MPTCP_SUB_FASTCLOSE)
            rx_fastclose(sf, &o->u.fastclose, now);
        else if (o->subtype == MPX_MPTCP_SUB_NEW_KEY && m->mptcp)
            mpx_ek_rx_new_key(sf, &o->u.new_key, now);
        else if (o->subtype == MPX_MPTCP_SUB_ADD_ADDR || o->subtype == MPX_MPTCP_SUB_RM_ADDR ||
                 o->subtype == MPX_MPTCP_SUB_PRIO)
            mpx_sf_rx_signal(sf, o, now);
    }
    return take;
}

/* --- input: data drain ------------------------------------------------- */

/* Section 3.3.1: the checksum over pseudo-header and the whole mapping. */
static bool csum_ok(const struct mpx_map *mp, const uint8_t *p)
{
    uint16_t dll = (uint16_t)(mp->len + mp->fin);
    return mpx_mptcp_dss_csum(mp->dsn, mp->off + 1, dll, mp->csum, p, mp->len) == 0;
}

/* Section 3.7: a mapping failed its checksum. With only one subflow
 * ever: MP_FAIL and fall back to TCP from that mapping on (the data as
 * the network delivered it, as TCP would); else reset the subflow with
 * MP_TCPRST "middlebox interference". Returns true to deliver the data. */
static bool csum_failed(struct mpx_sf *sf, const struct mpx_map *mp, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (!inf_fallback_ok(sf)) {
        sf->st->mib.FallbackFailed++;
        mpx_sf_reset(sf, MPX_RST_EMIDDLEBOX, now);
        return false;
    }
    uint32_t off = mp->off;
    uint64_t dsn = mp->dsn;
    sf->st->mib.MPFailTx++;
    sf->send_mp_fail = true;
    sf->mp_fail_dsn = dsn;
    sf->ack_pending = true;
    mpx_msk_fallback(m, sf);
    sf->rx_inf_off = off;
    sf->rx_inf_dsn = dsn;
    return true;
}

/* Move in-order subflow bytes into the connection by DSN. Bytes without a
 * mapping yet, or beyond the connection window, stay in the engine (its
 * window then closes: that is the connection-level flow control). */
static void drain(struct mpx_sf *sf, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    for (;;) {
        size_t ready = mpx_tcp_recv_ready(sf->tcp);
        if (!ready)
            break;
        uint64_t dsn;
        uint32_t n;
        struct mpx_map *mp = NULL;
        if (sf->rx_inf && mpx_seq_geq(sf->rx_off, sf->rx_inf_off)) {
            dsn = sf->rx_inf_dsn + (sf->rx_off - sf->rx_inf_off);
            n = ready > MPX_MAP_MAX ? MPX_MAP_MAX : (uint32_t)ready;
        } else {
            while (sf->rx.n &&
                   mpx_seq_leq(sf->rx.m[sf->rx.head].off + sf->rx.m[sf->rx.head].len, sf->rx_off))
                ring_pop(&sf->rx);
            mp = ring_find(&sf->rx, sf->rx_off);
            if (!mp)
                break;
            dsn = mp->dsn + (sf->rx_off - mp->off);
            n = mp->off + mp->len - sf->rx_off;
            if (m->csum) {
                if (sf->rx_off != mp->off || ready < mp->len)
                    break; /* checksum covers the whole mapping */
            } else if (n > ready) {
                n = (uint32_t)ready;
            }
            if (n > MPX_MAP_MAX)
                n = MPX_MAP_MAX; /* the scratch holds one DLL; merged ones are longer */
        }
        uint32_t space = mpx_msk_rcv_space(m, dsn);
        if (n > space && !(mp && m->csum))
            n = space;
        if (!n || (mp && m->csum && space < n && dsn >= m->rcv_nxt) || !mpx_msk_ooo_ok(m, dsn, n))
            break;
        long r = mpx_tcp_recv(sf->tcp, sf->st->scratch, n, now);
        if (r <= 0)
            break;
        if (mp && m->csum && !csum_ok(mp, sf->st->scratch)) {
            sf->st->mib.DataCsumErr++;
            if (!csum_failed(sf, mp, now))
                return; /* subflow reset: the peer sends the data again elsewhere */
        }
        mpx_msk_rcv_data(m, dsn, sf->st->scratch, (uint32_t)r);
        m->last_recv = now;
        sf->rx_off += (uint32_t)r;
    }
    /* plain TCP: the FIN is the DATA_FIN */
    if (m->fallback && sf->tcp->peer_fin && !mpx_tcp_recv_ready(sf->tcp) && !m->rcv_fin)
        mpx_msk_rcv_fin(m, m->rcv_nxt);
}

uint32_t mpx_sf_acked_off(const struct mpx_sf *sf)
{
    return sf->tcp->snd_una - (sf->tcp->iss + 1);
}

static void tx_cleanup(struct mpx_sf *sf)
{
    enum mpx_tcp_state s = mpx_tcp_get_state(sf->tcp);
    if (s < MPX_TCP_ESTABLISHED)
        return;
    uint32_t acked = mpx_sf_acked_off(sf);
    while (sf->tx.n) {
        struct mpx_map *mp = &sf->tx.m[sf->tx.head];
        if (mpx_seq_gt(mp->off + mp->len, acked) || !mp->sent)
            break;
        ring_pop(&sf->tx);
    }
    struct mpx_msk *m = sf->msk;
    if (m->fallback && sf == m->sf[0] && mpx_seq_lt(acked, sf->tx_inf_off)) {
        /* fell back late: bytes sent under mappings are DATA_ACKed by
         * the subflow ACK too */
        const struct mpx_map *mp = ring_find(&sf->tx, acked);
        if (mp)
            mpx_msk_data_ack(m, mp->dsn + (acked - mp->off), 0);
    } else if (m->fallback && sf == m->sf[0]) {
        /* plain TCP: the subflow ACK is the DATA_ACK; our FIN the DATA_FIN */
        uint32_t a = acked - sf->tx_inf_off, sent = sf->tx_off - sf->tx_inf_off;
        uint64_t fin = 0;
        if (a > sent) {
            fin = m->fin_sent && a == sent + 1;
            a = sent;
        }
        mpx_msk_data_ack(m, sf->tx_inf_dsn + a + fin, 0);
    }
}

static void on_established(struct mpx_sf *sf)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_stack *st = sf->st;
    sf->tcp_est = true;
    if (sf->join)
        return;
    if (!m->mptcp && !m->fallback) {
        /* server: ACK without MP_CAPABLE was handled in rx; plain host */
        mpx_msk_fallback(m, sf);
    }
    if (!m->est_ev) {
        m->est_ev = true;
        mpx_accq_add(m); /* servers only */
        if (m->mptcp)
            st->mib.MPCurrEstab++;
        struct mpx_stack_event ev = {.type = MPX_SEV_CONN_ESTABLISHED, .conn = m->id};
        mpx_stack_event_push(st, &ev);
    }
}

static void on_closed(struct mpx_sf *sf, int err, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (sf->gone)
        return;
    sf->gone = true;
    if (!sf->error)
        sf->error = err;
    if (m->mptcp && !m->fallback)
        mpx_msk_reinject_sf(m, sf);
    if (sf->ev_est)
        mpx_stack_sub_event(sf, MPX_SEV_SUB_CLOSED);
    mpx_sf_pm_closed(sf, now);
}

void mpx_sf_process(struct mpx_sf *sf, uint64_t now)
{
    struct mpx_tcp_event ev;
    while (mpx_tcp_poll_event(sf->tcp, &ev)) {
        if (ev.type == MPX_TCP_EV_ESTABLISHED)
            on_established(sf);
        else if (ev.type == MPX_TCP_EV_CLOSED)
            on_closed(sf, ev.error, now);
    }
    if (sf->join && sf->mp_ok && !sf->ev_est && sf->tcp_est && !sf->gone) {
        sf->ev_est = true;
        mpx_stack_sub_event(sf, MPX_SEV_SUB_ESTABLISHED);
        mpx_sf_pm_established(sf, now);
    }
    if (sf->client && !sf->join && sf->tcp_est && !sf->fully_est && sf->msk->mptcp && !sf->gone) {
        /* RFC 8684 section 3.1: the MP_CAPABLE ACK is repeated until the
         * peer shows it has our key; Linux re-sends it on a timer */
        uint64_t rto = sf->tcp->rto ? sf->tcp->rto : 200 * MPX_NS_PER_MS;
        if (!sf->mpc_rtx_at) {
            sf->mpc_rtx_at = now + rto;
        } else if (now >= sf->mpc_rtx_at && sf->mpc_rtx_n < 5) {
            sf->mpc_rtx_n++;
            sf->ack_pending = true;
            sf->mpc_rtx_at = now + (rto << sf->mpc_rtx_n);
        }
    } else {
        sf->mpc_rtx_at = 0;
    }
    if (sf->ack_pending && !sf->gone) {
        sf->ack_pending = false;
        mpx_tcp_send_ack(sf->tcp);
    }
    if (!sf->join && sf->fully_est && !sf->msk->fully_est && sf->msk->mptcp) {
        sf->msk->fully_est = true;
        /* E mode: the PM hears "fully established" once a key is active
         * (nothing it does could be authenticated before, NOTES D17) */
        if (mpx_msk_can_auth(sf->msk)) {
            mpx_msk_pm_fully_established(sf->msk, now);
            mpx_stack_start_joins(sf->msk, now);
        }
    }
    if ((sf->msk->n_sig || sf->prio_pending) && mpx_sf_usable(sf) && sf->fully_est)
        sf->ack_pending = true; /* signalling waits for a pure ACK */
    if (sf->tcp->snd_una != sf->last_una) {
        sf->last_una = sf->tcp->snd_una;
        sf->last_prog = now;
    }
    tx_cleanup(sf);
    drain(sf, now);
}
