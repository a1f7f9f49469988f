/*
 * mptcp_stack.c - the MPTCP host: configuration, listeners, demux of
 * incoming packets by 4-tuple, SYN handling (new connection with
 * MP_CAPABLE, MP_JOIN by token, plain TCP), output over every subflow,
 * timers, events and counters. See mptcp_stack.h.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mptcp_int.h"

void mpx_stack_config_default(struct mpx_stack_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mptcp_enabled = true;
    cfg->allow_join_initial_addr_port = true;
    cfg->sndbuf = 4u << 20;
    cfg->rcvbuf = 4u << 20;
    cfg->max_subflows = 2;
    cfg->dss_elide = true;
    cfg->ext_policy = MPX_EXT_NEVER; /* explicit: see mptcp_stack.h */
    cfg->ext_cache_ns = 600ull * 1000000000ull;
    cfg->ext_grace_ns = 60ull * 1000000000ull;
    mpx_tcp_config_default(&cfg->tcp);
}

struct mpx_stack *mpx_stack_new(const struct mpx_stack_config *cfg)
{
    if (!cfg || !cfg->rand || cfg->sndbuf < 1024 || cfg->rcvbuf < 1024)
        return NULL;
    struct mpx_stack *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->cfg = *cfg;
    if (mpx_token_init(&st->tokens, 64) < 0) {
        free(st);
        return NULL;
    }
    st->next_port = 40000;
    mpx_pm_cfg_init(&st->pm);
    mpx_pm_limits_set(
        &st->pm, cfg->max_subflows > MPX_PM_LIMIT_MAX ? MPX_PM_LIMIT_MAX : cfg->max_subflows, -1);
    st->pm.allow_join_initial_addr_port = cfg->allow_join_initial_addr_port;
    return st;
}

void mpx_stack_free(struct mpx_stack *st)
{
    if (!st)
        return;
    while (st->msks)
        mpx_msk_free(st->msks);
    mpx_token_free(&st->tokens);
    free(st);
}

int mpx_stack_add_local(struct mpx_stack *st, const struct mpx_addr *addr)
{
    for (uint8_t i = 0; i < st->n_local; i++)
        if (mpx_addr_eq(&st->local[i], addr))
            return MPX_ERR_EXIST;
    if (st->n_local == MPX_STACK_MAX_ADDRS)
        return MPX_ERR_NOSPACE;
    st->local[st->n_local++] = *addr;
    return 0;
}

int mpx_stack_listen_ext(struct mpx_stack *st, uint16_t port, enum mpx_ext_policy policy)
{
    if (policy > MPX_EXT_REQUIRE)
        return MPX_ERR_INVAL;
    for (uint8_t i = 0; i < st->n_listen; i++)
        if (st->listen[i] == port)
            return MPX_ERR_EXIST;
    if (st->n_listen == MPX_STACK_LISTEN)
        return MPX_ERR_NOSPACE;
    st->listen_policy[st->n_listen] = (uint8_t)policy;
    st->listen[st->n_listen++] = port;
    return 0;
}

int mpx_stack_listen(struct mpx_stack *st, uint16_t port)
{
    return mpx_stack_listen_ext(st, port, st->cfg.ext_policy);
}

int mpx_stack_unlisten(struct mpx_stack *st, uint16_t port)
{
    for (uint8_t i = 0; i < st->n_listen; i++) {
        if (st->listen[i] != port)
            continue;
        st->n_listen--;
        st->listen[i] = st->listen[st->n_listen];
        st->listen_policy[i] = st->listen_policy[st->n_listen];
        return 0;
    }
    return MPX_ERR_NOENT;
}

uint64_t mpx_stack_rand(struct mpx_stack *st)
{
    return st->cfg.rand(st->cfg.rand_ctx);
}

/* --- events ------------------------------------------------------------- */

void mpx_stack_event_push(struct mpx_stack *st, const struct mpx_stack_event *ev)
{
    /* READABLE/WRITABLE are level hints: do not repeat one already queued
     * for the same connection at the tail. */
    if (st->ev_n && (ev->type == MPX_SEV_READABLE || ev->type == MPX_SEV_WRITABLE)) {
        const struct mpx_stack_event *t = &st->evq[(st->ev_head + st->ev_n - 1) % MPX_STACK_EVQ];
        if (t->type == ev->type && t->conn == ev->conn)
            return;
    }
    if (st->ev_n == MPX_STACK_EVQ) {
        st->ev_dropped++;
        return;
    }
    st->evq[(st->ev_head + st->ev_n) % MPX_STACK_EVQ] = *ev;
    st->ev_n++;
}

void mpx_stack_sub_event(struct mpx_sf *sf, enum mpx_stack_event_type type)
{
    struct mpx_stack_event ev = {
        .type = type,
        .conn = sf->msk->id,
        .error = sf->error,
        .local_id = sf->local_id,
        .remote_id = sf->remote_id,
        .backup = sf->backup,
        .tuple = sf->tuple,
    };
    mpx_stack_event_push(sf->st, &ev);
}

int mpx_stack_poll_event(struct mpx_stack *st, struct mpx_stack_event *ev)
{
    if (!st->ev_n)
        return 0;
    *ev = st->evq[st->ev_head];
    st->ev_head = (uint16_t)((st->ev_head + 1) % MPX_STACK_EVQ);
    st->ev_n--;
    return 1;
}

/* --- demux --------------------------------------------------------------- */

static uint32_t tuple_hash(const struct mpx_addr *local, const struct mpx_addr *remote,
                           uint16_t lport, uint16_t rport)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < 16; i++)
        h = (h ^ local->a[i] ^ (uint32_t)remote->a[i] << 8) * 16777619u;
    h = (h ^ lport ^ (uint32_t)rport << 16) * 16777619u;
    return h % MPX_STACK_HASH;
}

void mpx_stack_hash_add(struct mpx_stack *st, struct mpx_sf *sf)
{
    const struct mpx_tcp_tuple *t = &sf->tuple;
    uint32_t h = tuple_hash(&t->local, &t->remote, t->lport, t->rport);
    sf->hnext = st->hash[h];
    st->hash[h] = sf;
}

void mpx_stack_hash_del(struct mpx_stack *st, struct mpx_sf *sf)
{
    const struct mpx_tcp_tuple *t = &sf->tuple;
    uint32_t h = tuple_hash(&t->local, &t->remote, t->lport, t->rport);
    for (struct mpx_sf **pp = &st->hash[h]; *pp; pp = &(*pp)->hnext) {
        if (*pp == sf) {
            *pp = sf->hnext;
            return;
        }
    }
}

static struct mpx_sf *lookup(const struct mpx_stack *st, const struct mpx_pkt *p)
{
    uint32_t h = tuple_hash(&p->ip.dst, &p->ip.src, p->tcp.dport, p->tcp.sport);
    for (struct mpx_sf *sf = st->hash[h]; sf; sf = sf->hnext) {
        const struct mpx_tcp_tuple *t = &sf->tuple;
        if (t->lport == p->tcp.dport && t->rport == p->tcp.sport &&
            mpx_addr_eq(&t->local, &p->ip.dst) && mpx_addr_eq(&t->remote, &p->ip.src))
            return sf;
    }
    return NULL;
}

struct mpx_msk *mpx_stack_find(const struct mpx_stack *st, uint32_t id)
{
    for (struct mpx_msk *m = st->msks; m; m = m->next)
        if (m->id == id)
            return m;
    return NULL;
}

/* RFC 9293 section 3.10.7.1: a segment for no connection gets a RST;
 * |reason| >= 0 adds MP_TCPRST (RFC 8684 section 3.6). */
void mpx_stack_queue_rst(struct mpx_stack *st, const struct mpx_pkt *in, int reason)
{
    if (in->tcp.flags & MPX_TH_RST || st->rst_n == MPX_STACK_RSTQ)
        return;
    struct mpx_rst *r = &st->rstq[(st->rst_head + st->rst_n) % MPX_STACK_RSTQ];
    memset(r, 0, sizeof(*r));
    struct mpx_pkt *p = &r->pkt;
    p->ip.version = in->ip.version;
    p->ip.ttl = 64;
    p->ip.proto = MPX_IPPROTO_TCP;
    p->ip.df = true;
    p->ip.src = in->ip.dst;
    p->ip.dst = in->ip.src;
    p->tcp.sport = in->tcp.dport;
    p->tcp.dport = in->tcp.sport;
    if (in->tcp.flags & MPX_TH_ACK) {
        p->tcp.seq = in->tcp.ack;
        p->tcp.flags = MPX_TH_RST;
    } else {
        p->tcp.ack = in->tcp.seq + (uint32_t)in->payload_len + !!(in->tcp.flags & MPX_TH_SYN) +
                     !!(in->tcp.flags & MPX_TH_FIN);
        p->tcp.flags = MPX_TH_RST | MPX_TH_ACK;
    }
    if (reason >= 0) {
        p->tcp.opts.n_mptcp = 1;
        p->tcp.opts.mptcp[0].subtype = MPX_MPTCP_SUB_TCPRST;
        p->tcp.opts.mptcp[0].u.tcprst.reason = (uint8_t)(reason & 0xff);
        if (reason & MPX_RST_Q_TRANSIENT)
            p->tcp.opts.mptcp[0].u.tcprst.flags = MPX_TCPRST_F_T;
        st->mib.MPRstTx++;
    }
    st->rst_n++;
}

/* --- SYN handling ----------------------------------------------------- */

/* The external-key policy of the listener on |port|. */
static enum mpx_ext_policy listen_policy(const struct mpx_stack *st, uint16_t port)
{
    for (uint8_t i = 0; i < st->n_listen; i++)
        if (st->listen[i] == port)
            return (enum mpx_ext_policy)st->listen_policy[i];
    return st->cfg.ext_policy;
}

static bool listening(const struct mpx_stack *st, uint16_t port)
{
    for (uint8_t i = 0; i < st->n_listen; i++)
        if (st->listen[i] == port)
            return true;
    return false;
}

static const struct mpx_mptcp_opt *syn_opt(const struct mpx_pkt *p, enum mpx_mptcp_subtype t)
{
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
        if (p->tcp.opts.mptcp[i].subtype == t)
            return &p->tcp.opts.mptcp[i];
    return NULL;
}

/* The timestamp offset is a keyed hash of the address pair (Linux
 * secure_tcp_ts_off), not random per connection: a new connection on a
 * tuple in TIME_WAIT then carries newer timestamps than the old one and
 * may take the tuple over (RFC 6191). */
static struct mpx_tcp_isn_inputs isn_inputs(struct mpx_stack *st, const struct mpx_tcp_tuple *t)
{
    struct mpx_tcp_tuple pair = {.local = t->local, .remote = t->remote};
    uint32_t off = 0;
    if (mpx_tcp_isn(&pair, st->cfg.isn_secret, sizeof(st->cfg.isn_secret), 0, &off) < 0)
        off = (uint32_t)mpx_stack_rand(st);
    struct mpx_tcp_isn_inputs in = {
        .secret = st->cfg.isn_secret,
        .secret_len = sizeof(st->cfg.isn_secret),
        .ts_offset = off,
    };
    return in;
}

static uint8_t local_addr_id(const struct mpx_stack *st, const struct mpx_addr *a)
{
    for (uint8_t i = 0; i < st->n_local; i++)
        if (mpx_addr_eq(&st->local[i], a))
            return i;
    return 0;
}

static struct mpx_tcp_tuple syn_tuple(const struct mpx_pkt *p)
{
    struct mpx_tcp_tuple t = {
        .local = p->ip.dst, .remote = p->ip.src, .lport = p->tcp.dport, .rport = p->tcp.sport};
    return t;
}

/* RFC 8684 section 3.2: a join for a known token, within the limit. */
static void syn_join(struct mpx_stack *st, const struct mpx_pkt *p, const struct mpx_opt_join *j,
                     uint64_t now)
{
    struct mpx_msk *m = mpx_token_lookup(&st->tokens, j->token);
    st->mib.MPJoinSynRx++;
    if (j->backup)
        st->mib.MPJoinSynBackupRx++;
    if (!m || !m->mptcp || m->fallback || m->closed) {
        st->mib.MPJoinNoTokenFound++;
        mpx_stack_queue_rst(st, p, MPX_RST_EMPTCP);
        return;
    }
    if (m->kops == &mpx_key_ops_ext && !mpx_ek_key(m, j->key_id ? 1 : 0, NULL)) {
        /* E mode without key K installed: the join cannot be verified
         * (NOTES D17 DECIDED, D24): "administratively prohibited",
         * transient (it may work once the key is there) */
        st->mib.MPJoinNoKeyRejected++;
        mpx_stack_queue_rst(st, p, MPX_RST_EPROHIBIT | MPX_RST_Q_TRANSIENT);
        return;
    }
    /* the path manager's limits are checked at the third ACK (Linux:
     * mptcp_pm_allow_new_subflow); here only our table size */
    if (m->nsf == MPX_STACK_MAX_SUBFLOWS) {
        st->mib.MPJoinRejected++;
        mpx_stack_queue_rst(st, p, MPX_RST_EPROHIBIT);
        return;
    }
    struct mpx_tcp_tuple t = syn_tuple(p);
    struct mpx_sf *sf = mpx_sf_new(m, &t, false, now);
    if (!sf) {
        mpx_stack_queue_rst(st, p, MPX_RST_ERESOURCE);
        return;
    }
    sf->join = true;
    sf->key_id = j->key_id ? 1 : 0; /* ignored by RFC 8684 (as Linux) */
    sf->rnonce = j->nonce;
    sf->lnonce = (uint32_t)mpx_stack_rand(st);
    sf->remote_id = j->addr_id;
    sf->peer_backup = j->backup;
    sf->local_id = local_addr_id(st, &p->ip.dst);
    struct mpx_tcp_isn_inputs in = isn_inputs(st, &t);
    mpx_tcp_accept_syn(sf->tcp, p, now, &in);
}

static void syn_new(struct mpx_stack *st, const struct mpx_pkt *p, uint64_t now)
{
    const struct mpx_mptcp_opt *o = syn_opt(p, MPX_MPTCP_SUB_CAPABLE);
    struct mpx_msk *m = mpx_msk_new(st, true);
    if (!m)
        return;
    m->lport = p->tcp.dport;
    enum mpx_ext_policy pol = listen_policy(st, p->tcp.dport);
    m->ext_policy = pol;
    bool mpc = st->cfg.mptcp_enabled && o && o->u.mpc.form == MPX_FORM_SYN &&
               mpx_mptcp_mpc_acceptable(&o->u.mpc, false);
    if (mpc && !(o->u.mpc.flags & MPX_MPC_F_E) && pol == MPX_EXT_REQUIRE) {
        /* DESIGN decision 5: require never puts a key in clear; the
         * connection stays single-path (plain TCP) */
        st->mib.MPExtKeyRequirePlain++;
        mpc = false;
    }
    if (mpc && (o->u.mpc.flags & MPX_MPC_F_E)) {
        /* draft section 4.1: with E enabled answer in E form, else in
         * RFC 8684 form (NOTES D3); the Linux mimic answers plain TCP */
        if (st->cfg.ext_ignore_like_linux)
            mpc = false;
        else if (pol != MPX_EXT_NEVER) {
            m->kops = &mpx_key_ops_ext;
            m->ext = true;
            st->mib.MPExtKeyAccepted++;
        }
    }
    if (mpc && mpx_msk_set_local_key(m) < 0)
        mpc = false;
    if (mpc) {
        st->mib.MPCapableSYNRX++;
        m->hs_mpc = true;
        m->csum = st->cfg.checksum || (o->u.mpc.flags & MPX_MPC_F_A);
    }
    struct mpx_tcp_tuple t = syn_tuple(p);
    struct mpx_sf *sf = mpx_sf_new(m, &t, false, now);
    if (!sf) {
        mpx_msk_free(m);
        return;
    }
    if (!mpc)
        mpx_msk_fallback(m, sf);
    struct mpx_tcp_isn_inputs in = isn_inputs(st, &t);
    mpx_tcp_accept_syn(sf->tcp, p, now, &in);
}

/* A signal endpoint with its own port takes joins on it (the kernel's
 * mptcp_pm_nl_create_listen_socket; RFC 8684 section 3.4.1). */
static bool join_port(const struct mpx_stack *st, const struct mpx_pkt *p)
{
    struct mpx_pm_endpoint eps[MPX_PM_ENDP_MAX];
    size_t n = mpx_pm_endpoint_list(&st->pm, eps, MPX_PM_ENDP_MAX);
    for (size_t i = 0; i < n; i++)
        if ((eps[i].flags & MPX_PM_F_SIGNAL) && eps[i].port == p->tcp.dport &&
            mpx_addr_eq(&eps[i].addr, &p->ip.dst))
            return true;
    return false;
}

static void handle_stray(struct mpx_stack *st, const struct mpx_pkt *p, uint64_t now)
{
    uint8_t fl = p->tcp.flags;
    const struct mpx_mptcp_opt *j = syn_opt(p, MPX_MPTCP_SUB_JOIN);
    bool syn = (fl & (MPX_TH_SYN | MPX_TH_ACK | MPX_TH_RST)) == MPX_TH_SYN;
    if (syn && j && st->cfg.mptcp_enabled && j->u.join.form == MPX_FORM_SYN && join_port(st, p)) {
        syn_join(st, p, &j->u.join, now);
        return;
    }
    if (!syn || !listening(st, p->tcp.dport)) {
        mpx_stack_queue_rst(st, p, -1);
        return;
    }
    if (st->cfg.mptcp_enabled && j && j->u.join.form == MPX_FORM_SYN)
        syn_join(st, p, &j->u.join, now);
    else
        syn_new(st, p, now);
}

/* --- packets and time ----------------------------------------------- */

static void after_sf(struct mpx_sf *sf, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    mpx_sf_process(sf, now);
    mpx_msk_push(m, now);
    mpx_msk_check_close(m, now);
}

/* Free a subflow in TIME_WAIT whose tuple a new connection takes over. */
static void tw_retire(struct mpx_stack *st, struct mpx_sf *sf, uint64_t now)
{
    if (sf->ev_est && !sf->gone)
        mpx_stack_sub_event(sf, MPX_SEV_SUB_CLOSED);
    sf->gone = true;
    mpx_sf_pm_closed(sf, now);
    mpx_sf_free(sf);
    st->mib_tw_reused++;
}

/* RFC 6191 / Linux tcp_timewait_state_process(): a SYN for a tuple in
 * TIME_WAIT that is clearly newer than the old connection ends the
 * TIME_WAIT early and opens a new connection (only once the old MPTCP
 * connection is closed: its subflows are all done). */
static bool timewait_reuse(struct mpx_stack *st, struct mpx_sf *sf, const struct mpx_pkt *p,
                           uint64_t now)
{
    if ((p->tcp.flags & (MPX_TH_SYN | MPX_TH_ACK | MPX_TH_RST)) != MPX_TH_SYN ||
        mpx_tcp_get_state(sf->tcp) != MPX_TCP_TIME_WAIT || !sf->msk->closed ||
        !mpx_tcp_timewait_reusable(sf->tcp, p))
        return false;
    tw_retire(st, sf, now);
    return true;
}

static int pick_port(struct mpx_stack *st, struct mpx_tcp_tuple *t, uint64_t now);

/* PREFER (DESIGN decision 5, NOTES D3): our E SYN got a plain SYN/ACK
 * (Linux drops an MP_CAPABLE with E). That SYN/ACK is answered with a RST
 * and the first subflow starts again from a fresh port with an RFC 8684
 * SYN (the connection id, its queued data and its key stay); the retry
 * happens once: the connection is no longer in E mode. */
static void ext_retry(struct mpx_msk *m, const struct mpx_pkt *p, uint64_t now)
{
    struct mpx_stack *st = m->st;
    m->ext_retry = false;
    if (m->nsf != 1 || m->closed)
        return;
    struct mpx_sf *old = m->sf[0];
    struct mpx_tcp_tuple t = old->tuple;
    mpx_stack_queue_rst(st, p, -1);
    old->pm_closed = true;
    mpx_sf_free(old);
    m->next_sf_id = 0;
    m->sf_total = 0;
    struct mpx_sf *sf = pick_port(st, &t, now) < 0 ? NULL : mpx_sf_new(m, &t, true, now);
    int rv = MPX_ERR_NOSPACE;
    if (sf) {
        sf->local_id = 0;
        struct mpx_tcp_isn_inputs in = isn_inputs(st, &t);
        rv = mpx_tcp_connect(sf->tcp, now, &in);
        if (rv == 0)
            return;
        mpx_sf_free(sf);
    }
    m->error = rv;
    mpx_msk_check_close(m, now);
}

int mpx_stack_input(struct mpx_stack *st, const uint8_t *pkt, size_t len, uint64_t now)
{
    struct mpx_pkt p;
    if (mpx_pkt_decode(pkt, len, true, &p) < 0)
        return 0;
    struct mpx_sf *sf = lookup(st, &p);
    if (sf && timewait_reuse(st, sf, &p, now))
        sf = NULL;
    if (!sf) {
        handle_stray(st, &p, now);
        return 0;
    }
    if (mpx_sf_rx_options(sf, &p, now))
        mpx_tcp_input(sf->tcp, &p, now);
    struct mpx_msk *m = sf->msk;
    after_sf(sf, now);
    /* E mode: NEW_KEY waits for an established subflow (the segment may
     * have made one); PREFER: an E SYN answered by plain TCP restarts */
    mpx_ek_timer(m, now);
    if (m->ext_retry)
        ext_retry(m, &p, now);
    return 0;
}

/* Free what is finished: subflows CLOSED (their tuple may be reused) and
 * connections closed and no longer wanted by the app. */
static void gc(struct mpx_stack *st)
{
    for (struct mpx_msk *m = st->msks, *next; m; m = next) {
        next = m->next;
        for (uint8_t i = 0; i < m->nsf;) {
            struct mpx_sf *sf = m->sf[i];
            if (sf->gone && mpx_tcp_get_state(sf->tcp) == MPX_TCP_CLOSED &&
                mpx_tcp_next_deadline(sf->tcp) == UINT64_MAX && (m->closed || sf->join))
                mpx_sf_free(sf);
            else
                i++;
        }
        bool unwanted = m->orphan || (m->server && !m->accepted);
        if (m->closed && unwanted && !m->nsf)
            mpx_msk_free(m);
    }
}

static int output_rst(struct mpx_stack *st, uint8_t *out, size_t cap)
{
    struct mpx_rst *r = &st->rstq[st->rst_head];
    int n = mpx_pkt_encode(out, cap, &r->pkt.ip, &r->pkt.tcp, NULL, 0, NULL);
    if (n == MPX_ERR_NOBUF)
        return n;
    st->rst_head = (uint8_t)((st->rst_head + 1) % MPX_STACK_RSTQ);
    st->rst_n--;
    return n;
}

int mpx_stack_output(struct mpx_stack *st, uint8_t *out, size_t cap, uint64_t now)
{
    if (st->rst_n) {
        int n = output_rst(st, out, cap);
        if (n != 0)
            return n;
    }
    uint32_t total = 0;
    for (struct mpx_msk *m = st->msks; m; m = m->next) {
        mpx_msk_push(m, now);
        total += m->nsf;
    }
    if (!total)
        return 0;
    /* round robin over every subflow, starting after the last sender */
    for (uint32_t k = 0; k < total; k++) {
        uint32_t want = (st->rr + k) % total, idx = 0;
        for (struct mpx_msk *m = st->msks; m; m = m->next) {
            if (want >= idx + m->nsf) {
                idx += m->nsf;
                continue;
            }
            struct mpx_sf *sf = m->sf[want - idx];
            int n = mpx_tcp_output(sf->tcp, out, cap, now);
            if (n == 0) {
                /* the engine ran dry: hand it the next chunk */
                mpx_msk_push(m, now);
                n = mpx_tcp_output(sf->tcp, out, cap, now);
            }
            if (n > 0)
                st->rr = want + 1;
            if (n != 0)
                return n;
            break;
        }
    }
    gc(st);
    return 0;
}

uint64_t mpx_stack_next_deadline(const struct mpx_stack *st)
{
    uint64_t t = UINT64_MAX;
    if (st->rst_n)
        return 0;
    for (const struct mpx_msk *m = st->msks; m; m = m->next) {
        uint64_t p = mpx_msk_pm_deadline(m);
        if (p < t)
            t = p;
        if (m->rtx_at && m->rtx_at < t)
            t = m->rtx_at;
        if (m->cork_at && m->cork_at < t)
            t = m->cork_at;
        uint64_t k = mpx_ek_deadline(m);
        if (k < t)
            t = k;
        for (uint8_t i = 0; i < m->nsf; i++) {
            uint64_t d = mpx_tcp_next_deadline(m->sf[i]->tcp);
            uint64_t e = mpx_sf_deadline(m->sf[i]);
            if (d < t)
                t = d;
            if (e < t)
                t = e;
        }
    }
    return t;
}

int mpx_stack_on_timer(struct mpx_stack *st, uint64_t now)
{
    for (struct mpx_msk *m = st->msks; m; m = m->next) {
        for (uint8_t i = 0; i < m->nsf; i++) {
            struct mpx_sf *sf = m->sf[i];
            if (mpx_tcp_next_deadline(sf->tcp) <= now) {
                mpx_tcp_on_timer(sf->tcp, now);
                mpx_sf_process(sf, now);
            } else if (mpx_sf_deadline(sf) <= now) {
                mpx_sf_process(sf, now);
            }
        }
        mpx_msk_pm_timer(m, now);
        mpx_ek_timer(m, now);
        if (m->rtx_at && m->rtx_at <= now)
            mpx_msk_rtx_timer(m, now);
        mpx_msk_push(m, now);
        mpx_msk_check_close(m, now);
    }
    return 0;
}

/* --- application -------------------------------------------------------- */

static struct mpx_sf *lookup_tuple(const struct mpx_stack *st, const struct mpx_tcp_tuple *t)
{
    uint32_t h = tuple_hash(&t->local, &t->remote, t->lport, t->rport);
    for (struct mpx_sf *sf = st->hash[h]; sf; sf = sf->hnext)
        if (sf->tuple.lport == t->lport && sf->tuple.rport == t->rport &&
            mpx_addr_eq(&sf->tuple.local, &t->local) && mpx_addr_eq(&sf->tuple.remote, &t->remote))
            return sf;
    return NULL;
}

/* An ephemeral port for |t| (40000-65535): never a tuple in use; a tuple
 * in TIME_WAIT of a closed connection is taken over (Linux tcp_tw_reuse
 * for outgoing connections: our timestamps, a keyed hash of the address
 * pair plus the clock, are newer than the old connection's). */
static int pick_port(struct mpx_stack *st, struct mpx_tcp_tuple *t, uint64_t now)
{
    for (uint32_t tries = 0; tries < 65536 - 40000; tries++) {
        t->lport = st->next_port++;
        if (st->next_port < 40000)
            st->next_port = 40000;
        struct mpx_sf *old = lookup_tuple(st, t);
        if (!old)
            return 0;
        if (mpx_tcp_get_state(old->tcp) == MPX_TCP_TIME_WAIT && old->msk->closed) {
            tw_retire(st, old, now);
            return 0;
        }
    }
    return MPX_ERR_NOSPACE;
}

bool mpx_stack_ext_cached(const struct mpx_stack *st, const struct mpx_addr *a, uint16_t port,
                          uint64_t now)
{
    for (unsigned i = 0; i < MPX_EXT_CACHE; i++) {
        const struct mpx_ext_cache_ent *e = &st->ext_cache[i];
        if (e->until > now && e->port == port && mpx_addr_eq(&e->addr, a))
            return true;
    }
    return false;
}

void mpx_stack_ext_cache_add(struct mpx_stack *st, const struct mpx_addr *a, uint16_t port,
                             uint64_t now)
{
    struct mpx_ext_cache_ent *victim = &st->ext_cache[0];
    for (unsigned i = 0; i < MPX_EXT_CACHE; i++) {
        struct mpx_ext_cache_ent *e = &st->ext_cache[i];
        if (e->until > now && e->port == port && mpx_addr_eq(&e->addr, a)) {
            victim = e;
            break;
        }
        if (e->until < victim->until) /* expired or oldest goes */
            victim = e;
    }
    victim->addr = *a;
    victim->port = port;
    victim->until = now + st->cfg.ext_cache_ns;
}

long mpx_stack_connect(struct mpx_stack *st, const struct mpx_addr *local,
                       const struct mpx_addr *remote, uint16_t port, uint64_t now)
{
    return mpx_stack_connect_ext(st, local, remote, port, st->cfg.ext_policy, now);
}

/* Which scheme a new client connection starts with (DESIGN decision 5). */
static void client_scheme(struct mpx_msk *m, const struct mpx_addr *remote, uint16_t port,
                          enum mpx_ext_policy policy, uint64_t now)
{
    struct mpx_stack *st = m->st;
    m->ext_policy = policy;
    if (policy == MPX_EXT_NEVER)
        return;
    if (policy == MPX_EXT_PREFER && mpx_stack_ext_cached(st, remote, port, now)) {
        st->mib.MPExtKeyCacheHit++;
        return;
    }
    m->kops = &mpx_key_ops_ext;
    m->ext = true;
    st->mib.MPExtKeyOffered++;
}

long mpx_stack_connect_ext(struct mpx_stack *st, const struct mpx_addr *local,
                           const struct mpx_addr *remote, uint16_t port, enum mpx_ext_policy policy,
                           uint64_t now)
{
    if (policy > MPX_EXT_REQUIRE)
        return MPX_ERR_INVAL;
    if (!local) {
        if (!st->n_local)
            return MPX_ERR_INVAL;
        local = &st->local[0];
    }
    struct mpx_msk *m = mpx_msk_new(st, false);
    if (!m)
        return MPX_ERR_NOMEM;
    if (st->cfg.mptcp_enabled) {
        client_scheme(m, remote, port, policy, now);
        int rv = mpx_msk_set_local_key(m);
        if (rv < 0) {
            mpx_msk_free(m);
            return rv;
        }
    }
    struct mpx_tcp_tuple t = {.local = *local, .remote = *remote, .rport = port};
    if (pick_port(st, &t, now) < 0) {
        mpx_msk_free(m);
        return MPX_ERR_NOSPACE;
    }
    struct mpx_sf *sf = mpx_sf_new(m, &t, true, now);
    if (!sf) {
        mpx_msk_free(m);
        return MPX_ERR_NOMEM;
    }
    sf->local_id = 0;
    if (!st->cfg.mptcp_enabled)
        mpx_msk_fallback(m, sf);
    struct mpx_tcp_isn_inputs in = isn_inputs(st, &t);
    int rv = mpx_tcp_connect(sf->tcp, now, &in);
    if (rv < 0) {
        mpx_msk_free(m);
        return rv;
    }
    return (long)m->id;
}

int mpx_stack_open_join(struct mpx_msk *m, const struct mpx_addr *local,
                        const struct mpx_addr *remote, uint16_t port, bool backup, uint8_t local_id,
                        uint32_t pm_handle, uint64_t now)
{
    struct mpx_stack *st = m->st;
    if (m->nsf == MPX_STACK_MAX_SUBFLOWS)
        return MPX_ERR_NOSPACE;
    struct mpx_tcp_tuple t = {.local = *local, .remote = *remote, .rport = port};
    if (pick_port(st, &t, now) < 0)
        return MPX_ERR_NOSPACE;
    struct mpx_sf *sf = mpx_sf_new(m, &t, true, now);
    if (!sf)
        return MPX_ERR_NOMEM;
    sf->join = true;
    sf->backup = backup;
    int k = m->kops == &mpx_key_ops_ext ? mpx_ek_tx_k(m) : 0;
    sf->key_id = k == 1; /* the confirmed key (NOTES D17, D20) */
    sf->lnonce = (uint32_t)mpx_stack_rand(st);
    sf->local_id = local_id;
    sf->pm_handle = pm_handle;
    struct mpx_tcp_isn_inputs in = isn_inputs(st, &t);
    int rv = mpx_tcp_connect(sf->tcp, now, &in);
    if (rv < 0) {
        sf->pm_closed = true;
        mpx_sf_free(sf);
        return rv;
    }
    return 0;
}

int mpx_conn_add_subflow(struct mpx_stack *st, uint32_t conn, const struct mpx_addr *local,
                         const struct mpx_addr *remote, uint16_t port, bool backup, uint64_t now)
{
    struct mpx_msk *m = mpx_stack_find(st, conn);
    if (!m || m->orphan)
        return MPX_ERR_NOENT;
    if (m->fallback || m->closed || (!m->mptcp && !m->token_in))
        return MPX_ERR_STATE;
    if (!m->fully_est || !m->pm_on || !mpx_msk_can_auth(m)) {
        /* RFC 8684 section 3.2: the peer can check our join only once it
         * has our key: wait for the connection to be fully established
         * (Linux creates subflows from the PM at that point) */
        if (m->n_join_req == MPX_STACK_MAX_SUBFLOWS)
            return MPX_ERR_NOSPACE;
        struct mpx_join_req *jr = &m->join_req[m->n_join_req++];
        jr->local = *local;
        jr->remote = *remote;
        jr->port = port;
        jr->backup = backup;
        return 0;
    }
    /* through the path manager (its userspace "subflow create" command),
     * so that it knows the subflow and its address ids */
    struct mpx_pm_addr l, r;
    memset(&l, 0, sizeof(l));
    memset(&r, 0, sizeof(r));
    l.addr = *local;
    int id = mpx_pm_conn_local_id(&m->pm, local, 0);
    l.id = id > 0 ? (uint8_t)id : 0;
    r.addr = *remote;
    r.port = port;
    int64_t h = mpx_pm_cmd_subflow_create(&m->pm, &l, &r, backup);
    if (h < 0)
        return (int)h;
    mpx_msk_pm_run(m, now);
    return 0;
}

void mpx_stack_start_joins(struct mpx_msk *m, uint64_t now)
{
    uint8_t n = m->n_join_req;
    m->n_join_req = 0;
    for (uint8_t i = 0; i < n; i++) {
        struct mpx_join_req jr = m->join_req[i];
        mpx_conn_add_subflow(m->st, m->id, &jr.local, &jr.remote, jr.port, jr.backup, now);
    }
}

long mpx_stack_accept(struct mpx_stack *st, uint16_t port)
{
    struct mpx_msk *best = NULL;
    for (struct mpx_msk *m = st->msks; m; m = m->next)
        if (m->server && m->lport == port && m->est_ev && !m->accepted &&
            (!best || m->id < best->id))
            best = m;
    if (!best)
        return MPX_ERR_AGAIN;
    best->accepted = true;
    return (long)best->id;
}

const struct mpx_mptcp_mib *mpx_stack_mib(struct mpx_stack *st)
{
    /* the path manager keeps its own counters per connection */
    st->mib_view = st->mib;
    size_t n;
    const struct mpx_mptcp_mib_name *names = mpx_mptcp_mib_names(&n);
    for (size_t i = 0; i < n; i++) {
        uint64_t a, b;
        memcpy(&a, (const char *)&st->mib_view + names[i].offset, sizeof(a));
        memcpy(&b, (const char *)&st->mib_pm_gone + names[i].offset, sizeof(b));
        a += b;
        memcpy((char *)&st->mib_view + names[i].offset, &a, sizeof(a));
    }
    for (const struct mpx_msk *m = st->msks; m; m = m->next)
        mpx_msk_pm_mib_add(m, &st->mib_view);
    return &st->mib_view;
}

struct mpx_pm_cfg *mpx_stack_pm_cfg(struct mpx_stack *st)
{
    return &st->pm;
}

int mpx_stack_endpoint_add(struct mpx_stack *st, const struct mpx_pm_endpoint *ep, uint64_t now)
{
    int id = mpx_pm_endpoint_add(&st->pm, ep);
    if (id < 0)
        return id;
    const struct mpx_pm_endpoint *e = mpx_pm_endpoint_get(&st->pm, (uint8_t)id);
    for (struct mpx_msk *m = st->msks; m && e; m = m->next) {
        if (!m->pm_on)
            continue;
        mpx_pm_on_endp_added(&m->pm, e, now);
        mpx_msk_pm_run(m, now);
    }
    return id;
}

int mpx_stack_endpoint_del(struct mpx_stack *st, uint8_t id, uint64_t now)
{
    struct mpx_pm_endpoint ep;
    int rv = mpx_pm_endpoint_del(&st->pm, id, &ep);
    if (rv < 0)
        return rv;
    for (struct mpx_msk *m = st->msks; m; m = m->next) {
        if (!m->pm_on)
            continue;
        mpx_pm_on_endp_removed(&m->pm, &ep, now);
        mpx_msk_pm_run(m, now);
    }
    return 0;
}

int mpx_stack_endpoint_change(struct mpx_stack *st, uint8_t id, uint8_t flags, uint64_t now)
{
    uint8_t changed = 0;
    int rv = mpx_pm_endpoint_change(&st->pm, id, NULL, flags, &changed);
    if (rv < 0)
        return rv;
    const struct mpx_pm_endpoint *e = mpx_pm_endpoint_get(&st->pm, id);
    for (struct mpx_msk *m = st->msks; m && e; m = m->next) {
        if (!m->pm_on)
            continue;
        mpx_pm_on_endp_changed(&m->pm, e, changed, now);
        mpx_msk_pm_run(m, now);
    }
    return 0;
}

int mpx_stack_endpoint_flush(struct mpx_stack *st, uint64_t now)
{
    struct mpx_pm_endpoint eps[MPX_PM_ENDP_MAX];
    size_t n = mpx_pm_endpoint_flush(&st->pm, eps, MPX_PM_ENDP_MAX);
    for (struct mpx_msk *m = st->msks; m; m = m->next) {
        if (!m->pm_on)
            continue;
        mpx_pm_on_endp_flushed(&m->pm, eps, n, now);
        mpx_msk_pm_run(m, now);
    }
    return (int)n;
}

void mpx_stack_endpoint_del_id0(struct mpx_stack *st, const struct mpx_addr *addr, uint64_t now)
{
    for (struct mpx_msk *m = st->msks; m; m = m->next) {
        if (!m->pm_on)
            continue;
        mpx_pm_on_endp_id0_removed(&m->pm, addr, now);
        mpx_msk_pm_run(m, now);
    }
}

/* A local address's link went down: its subflows cannot work, so reset
 * them now (their data is reinjected elsewhere at once, instead of after
 * RTOs) unless one of them is all the connection has left (TCP's own
 * timers then decide). The PM re-creates them when the path comes back. */
static void path_down(struct mpx_msk *m, const struct mpx_addr *addr, uint64_t now)
{
    if (m->fallback || !m->mptcp || m->closed)
        return;
    uint8_t others = 0;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (!m->sf[i]->gone && !mpx_addr_eq(&m->sf[i]->tuple.local, addr))
            others++;
    if (!others)
        return;
    for (uint8_t i = 0; i < m->nsf; i++) {
        struct mpx_sf *sf = m->sf[i];
        if (sf->gone || !mpx_addr_eq(&sf->tuple.local, addr))
            continue;
        mpx_sf_reset(sf, MPX_RST_EUNSPEC, now);
        mpx_sf_process(sf, now);
    }
}

void mpx_stack_path_event(struct mpx_stack *st, const struct mpx_addr *addr, bool up, uint64_t now)
{
    for (struct mpx_msk *m = st->msks; m; m = m->next) {
        if (m->pm_on)
            mpx_pm_on_path(&m->pm, addr, 0, up, now);
        if (!up)
            path_down(m, addr, now);
        mpx_msk_pm_run(m, now);
        mpx_msk_push(m, now);
    }
}

void mpx_stack_tcp_mib(const struct mpx_stack *st, struct mpx_tcp_mib *out)
{
    *out = st->tcp_mib_gone;
    for (const struct mpx_msk *m = st->msks; m; m = m->next)
        for (uint8_t i = 0; i < m->nsf; i++)
            mpx_tcp_mib_add(out, mpx_tcp_get_mib(m->sf[i]->tcp));
}
