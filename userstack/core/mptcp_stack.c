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
    /* subflows do not pace by default: on the lab's 50 Mbit/s + 20 ms and
     * 50 Mbit/s paths pacing cost ~10 % (bench/README.md, mpx_stack_set_pacing) */
    cfg->tcp.pacing = false;
}

struct mpx_stack *mpx_stack_new(const struct mpx_stack_config *cfg)
{
    if (!cfg || !cfg->rand || cfg->sndbuf < MPX_STACK_BUF_MIN || cfg->rcvbuf < MPX_STACK_BUF_MIN ||
        cfg->sndbuf > MPX_STACK_BUF_MAX || cfg->rcvbuf > MPX_STACK_BUF_MAX ||
        cfg->ext_policy > MPX_EXT_REQUIRE)
        return NULL;
    struct mpx_stack *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->cfg = *cfg;
    st->hash_cap = MPX_STACK_HASH;
    st->hash = calloc(st->hash_cap, sizeof(*st->hash));
    if (!st->hash || mpx_token_init(&st->tokens, 64) < 0 || mpx_token_init(&st->ids, 64) < 0) {
        mpx_token_free(&st->tokens);
        free(st->hash);
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
    mpx_tw_free_all(st);
    free(st->heap);
    mpx_token_free(&st->tokens);
    mpx_token_free(&st->ids);
    free(st->hash);
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

/* --- listeners ------------------------------------------------------------ */

static bool addr_zero(const struct mpx_addr *a)
{
    static const uint8_t z[16];
    return memcmp(a->a, z, sizeof(z)) == 0;
}

/* The listener's address in canonical form: family NONE with zero bytes
 * for every address, and ::ffff:a.b.c.d as the IPv4 address it maps (a
 * v6 socket bound to it takes IPv4 packets to a.b.c.d, RFC 4291 section
 * 2.5.5.2). false: not an address. */
static bool listen_key(const struct mpx_addr *in, struct mpx_addr *out)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, sizeof(*out));
    if (!in || in->family == MPX_AF_NONE)
        return true;
    if (in->family == MPX_AF_INET6 && !memcmp(in->a, mapped, sizeof(mapped))) {
        out->family = MPX_AF_INET;
        memcpy(out->a, in->a + 12, 4);
        return true;
    }
    if (in->family != MPX_AF_INET && in->family != MPX_AF_INET6)
        return false;
    out->family = in->family;
    memcpy(out->a, in->a, mpx_addr_len(in));
    return true;
}

/* Does listener |l| cover every IPv4 / every IPv6 address? */
static bool covers_all(const struct mpx_listener *l, uint8_t family)
{
    if (l->addr.family == MPX_AF_NONE)
        return true;
    if (!addr_zero(&l->addr))
        return false;
    if (l->addr.family == family)
        return true;
    /* [::] without IPV6_V6ONLY also takes IPv4 (RFC 3493 section 5.3) */
    return family == MPX_AF_INET && l->addr.family == MPX_AF_INET6 &&
           !(l->flags & MPX_LISTEN_V6ONLY);
}

static bool is_wild(const struct mpx_listener *l)
{
    return l->addr.family == MPX_AF_NONE || addr_zero(&l->addr);
}

/* Linux inet_rcv_saddr_equal(match_wildcard = true): do two listeners on
 * one port share an address? */
static bool listen_overlap(const struct mpx_listener *a, const struct mpx_listener *b)
{
    if (!is_wild(a) && !is_wild(b))
        return mpx_addr_eq(&a->addr, &b->addr);
    if (!is_wild(a))
        return covers_all(b, a->addr.family);
    if (!is_wild(b))
        return covers_all(a, b->addr.family);
    return (covers_all(a, MPX_AF_INET) && covers_all(b, MPX_AF_INET)) ||
           (covers_all(a, MPX_AF_INET6) && covers_all(b, MPX_AF_INET6));
}

/* How well |l| matches a SYN to dst (0: not at all), in the order of
 * Linux compute_score: exact address, the family's wildcard, then a
 * dual-stack [::] or an every-address listener. */
static int listen_score(const struct mpx_listener *l, const struct mpx_addr *dst)
{
    if (!is_wild(l))
        return mpx_addr_eq(&l->addr, dst) ? 3 : 0;
    if (l->addr.family == dst->family)
        return 2;
    return covers_all(l, dst->family) ? 1 : 0;
}

static struct mpx_listener *listen_find(struct mpx_stack *st, const struct mpx_addr *dst,
                                        uint16_t port)
{
    struct mpx_listener *best = NULL;
    int best_score = 0;
    for (uint8_t i = 0; i < st->n_listen; i++) {
        struct mpx_listener *l = &st->listen[i];
        int sc = l->port == port ? listen_score(l, dst) : 0;
        if (sc > best_score) {
            best = l;
            best_score = sc;
        }
    }
    return best;
}

int mpx_stack_listen_addr(struct mpx_stack *st, const struct mpx_addr *addr, uint16_t port,
                          uint32_t flags, enum mpx_ext_policy policy)
{
    struct mpx_listener n;
    memset(&n, 0, sizeof(n));
    if (!port || (flags & ~MPX_LISTEN_F_ALL) || policy > MPX_EXT_REQUIRE ||
        !listen_key(addr, &n.addr))
        return MPX_ERR_INVAL;
    n.port = port;
    n.flags = (uint8_t)flags;
    n.policy = (uint8_t)policy;
    for (uint8_t i = 0; i < st->n_listen; i++) {
        const struct mpx_listener *o = &st->listen[i];
        if (o->port != port || !listen_overlap(o, &n))
            continue;
        /* SO_REUSEPORT on both (the owner checks the uid, as Linux does);
         * the same address twice is one listener, shared by the group */
        if (mpx_addr_eq(&o->addr, &n.addr) || !(o->flags & n.flags & MPX_LISTEN_REUSEPORT))
            return MPX_ERR_EXIST;
    }
    if (st->n_listen == MPX_STACK_LISTEN)
        return MPX_ERR_NOSPACE;
    st->listen[st->n_listen++] = n;
    return 0;
}

int mpx_stack_listen_ext(struct mpx_stack *st, uint16_t port, enum mpx_ext_policy policy)
{
    return mpx_stack_listen_addr(st, NULL, port, 0, policy);
}

int mpx_stack_listen(struct mpx_stack *st, uint16_t port)
{
    return mpx_stack_listen_addr(st, NULL, port, MPX_LISTEN_HOST_POLICY, MPX_EXT_NEVER);
}

int mpx_stack_unlisten_addr(struct mpx_stack *st, const struct mpx_addr *addr, uint16_t port)
{
    struct mpx_addr k;
    if (!listen_key(addr, &k))
        return MPX_ERR_NOENT;
    for (uint8_t i = 0; i < st->n_listen; i++) {
        if (st->listen[i].port != port || !mpx_addr_eq(&st->listen[i].addr, &k))
            continue;
        st->listen[i] = st->listen[--st->n_listen];
        return 0;
    }
    return MPX_ERR_NOENT;
}

int mpx_stack_unlisten(struct mpx_stack *st, uint16_t port)
{
    return mpx_stack_unlisten_addr(st, NULL, port);
}

/* --- run-time settings ------------------------------------------------------ */

void mpx_stack_set_checksum(struct mpx_stack *st, bool on)
{
    st->cfg.checksum = on;
}

void mpx_stack_set_pacing(struct mpx_stack *st, bool on)
{
    st->cfg.tcp.pacing = on;
}

int mpx_stack_set_bufs(struct mpx_stack *st, uint32_t sndbuf, uint32_t rcvbuf)
{
    if ((sndbuf && (sndbuf < MPX_STACK_BUF_MIN || sndbuf > MPX_STACK_BUF_MAX)) ||
        (rcvbuf && (rcvbuf < MPX_STACK_BUF_MIN || rcvbuf > MPX_STACK_BUF_MAX)))
        return MPX_ERR_INVAL;
    if (sndbuf)
        st->cfg.sndbuf = sndbuf;
    if (rcvbuf)
        st->cfg.rcvbuf = rcvbuf;
    return 0;
}

int mpx_stack_set_ext_policy(struct mpx_stack *st, enum mpx_ext_policy policy)
{
    if (policy > MPX_EXT_REQUIRE)
        return MPX_ERR_INVAL;
    st->cfg.ext_policy = policy;
    return 0;
}

const struct mpx_stack_config *mpx_stack_get_config(const struct mpx_stack *st)
{
    return &st->cfg;
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
    return h ^ h >> 16; /* the caller masks: the low bits must mix too */
}

uint32_t mpx_stack_tuple_hash(const struct mpx_tcp_tuple *t)
{
    return tuple_hash(&t->local, &t->remote, t->lport, t->rport);
}

/* Double the demux hash at load 1 so a lookup stays O(1) whatever the
 * number of subflows; if memory is short the chains just get longer. */
static void hash_grow(struct mpx_stack *st)
{
    uint32_t cap = st->hash_cap * 2;
    struct mpx_sf **nh = calloc(cap, sizeof(*nh));
    if (!nh)
        return;
    for (uint32_t i = 0; i < st->hash_cap; i++) {
        for (struct mpx_sf *sf = st->hash[i], *next; sf; sf = next) {
            next = sf->hnext;
            uint32_t h = mpx_stack_tuple_hash(&sf->tuple) & (cap - 1);
            sf->hnext = nh[h];
            nh[h] = sf;
        }
    }
    free(st->hash);
    st->hash = nh;
    st->hash_cap = cap;
}

void mpx_stack_hash_add(struct mpx_stack *st, struct mpx_sf *sf)
{
    if (st->hash_n >= st->hash_cap)
        hash_grow(st);
    uint32_t h = mpx_stack_tuple_hash(&sf->tuple) & (st->hash_cap - 1);
    sf->hnext = st->hash[h];
    st->hash[h] = sf;
    st->hash_n++;
}

void mpx_stack_hash_del(struct mpx_stack *st, struct mpx_sf *sf)
{
    uint32_t h = mpx_stack_tuple_hash(&sf->tuple) & (st->hash_cap - 1);
    for (struct mpx_sf **pp = &st->hash[h]; *pp; pp = &(*pp)->hnext) {
        if (*pp == sf) {
            *pp = sf->hnext;
            st->hash_n--;
            return;
        }
    }
}

static struct mpx_sf *lookup(const struct mpx_stack *st, const struct mpx_pkt *p)
{
    uint32_t h =
        tuple_hash(&p->ip.dst, &p->ip.src, p->tcp.dport, p->tcp.sport) & (st->hash_cap - 1);
    for (struct mpx_sf *sf = st->hash[h]; sf; sf = sf->hnext) {
        const struct mpx_tcp_tuple *t = &sf->tuple;
        if (t->lport == p->tcp.dport && t->rport == p->tcp.sport &&
            mpx_addr_eq(&t->local, &p->ip.dst) && mpx_addr_eq(&t->remote, &p->ip.src))
            return sf;
    }
    return NULL;
}

/* Every application call finds its connection here: it may change what
 * the connection wants, so the next steps visit it (mptcp_active.c). */
struct mpx_msk *mpx_stack_find(const struct mpx_stack *st, uint32_t id)
{
    struct mpx_msk *m = mpx_token_lookup(&st->ids, id);
    if (m)
        mpx_act_wake(m);
    return m;
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

/* The external-key policy of listener |l| for a SYN arriving now. */
static enum mpx_ext_policy listen_policy(const struct mpx_stack *st, const struct mpx_listener *l)
{
    if (l->flags & MPX_LISTEN_HOST_POLICY)
        return st->cfg.ext_policy;
    return (enum mpx_ext_policy)l->policy;
}

/* MP_JOIN SYNs go by token (RFC 8684 section 3.2), to any address of a
 * port that has a listener: the listener's address does not matter. */
static bool port_listened(const struct mpx_stack *st, uint16_t port)
{
    for (uint8_t i = 0; i < st->n_listen; i++)
        if (st->listen[i].port == port)
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
    if (m)
        mpx_act_wake(m);
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

static void syn_new(struct mpx_stack *st, const struct mpx_pkt *p, const struct mpx_listener *l,
                    uint64_t now)
{
    const struct mpx_mptcp_opt *o = syn_opt(p, MPX_MPTCP_SUB_CAPABLE);
    struct mpx_msk *m = mpx_msk_new(st, true);
    if (!m)
        return;
    m->lport = p->tcp.dport;
    m->laddr = l->addr;
    enum mpx_ext_policy pol = listen_policy(st, l);
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
        m->csum = m->csum_want || (o->u.mpc.flags & MPX_MPC_F_A);
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
    if (syn && st->cfg.mptcp_enabled && j && j->u.join.form == MPX_FORM_SYN &&
        port_listened(st, p->tcp.dport)) {
        syn_join(st, p, &j->u.join, now);
        return;
    }
    const struct mpx_listener *l = syn ? listen_find(st, &p->ip.dst, p->tcp.dport) : NULL;
    if (!l) {
        mpx_stack_queue_rst(st, p, -1);
        return;
    }
    syn_new(st, p, l, now);
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
    return mpx_stack_input_flags(st, pkt, len, 0, now);
}

int mpx_stack_input_flags(struct mpx_stack *st, const uint8_t *pkt, size_t len, unsigned flags,
                          uint64_t now)
{
    struct mpx_pkt p;
    int drc = mpx_pkt_decode(pkt, len, !(flags & MPX_STACK_IN_CSUM_OK), &p);
    if (drc == MPX_ERR_UNSUPP) /* not TCP: ICMP errors about our subflows */
        mpx_stack_icmp_input(st, pkt, len, now);
    if (drc < 0)
        return 0;
    struct mpx_sf *sf = lookup(st, &p);
    if (sf)
        mpx_act_wake(sf->msk);
    if (sf && timewait_reuse(st, sf, &p, now))
        sf = NULL;
    if (!sf && st->tw_n) {
        struct mpx_tcp_tuple t = syn_tuple(&p);
        struct mpx_tw *tw = mpx_tw_lookup(st, &t);
        if (tw && mpx_tw_input(st, tw, &p, now))
            return 0;
    }
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
static void gc(struct mpx_stack *st, uint64_t now)
{
    for (struct mpx_msk *m = st->act, *next; m; m = next) {
        next = m->anext;
        for (uint8_t i = 0; i < m->nsf;) {
            struct mpx_sf *sf = m->sf[i];
            if (sf->gone && mpx_tcp_get_state(sf->tcp) == MPX_TCP_CLOSED &&
                mpx_tcp_next_deadline(sf->tcp) == UINT64_MAX && (m->closed || sf->join))
                mpx_sf_free(sf);
            else
                i++;
        }
        bool unwanted = m->orphan || (m->server && !m->accepted);
        if (m->closed && unwanted && m->nsf)
            mpx_tw_take(m, now);
        if (m->closed && unwanted && !m->nsf)
            mpx_msk_free(m);
        else /* nothing to send (the step found no segment): park it */
            mpx_act_park(m);
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

static int output_sf(struct mpx_msk *m, struct mpx_sf *sf, uint8_t *out, size_t cap, uint64_t now)
{
    int n = mpx_tcp_output(sf->tcp, out, cap, now);
    if (n == 0) {
        /* the engine ran dry: hand it the next chunk */
        mpx_msk_push(m, now);
        n = mpx_tcp_output(sf->tcp, out, cap, now);
    }
    if (n > 0)
        m->st->out_gso = mpx_tcp_out_gso(sf->tcp);
    return n;
}

uint32_t mpx_stack_out_gso(const struct mpx_stack *st)
{
    return st->out_gso;
}

int mpx_stack_output(struct mpx_stack *st, uint8_t *out, size_t cap, uint64_t now)
{
    st->out_gso = 0;
    if (st->rst_n) {
        int n = output_rst(st, out, cap);
        if (n != 0)
            return n;
    }
    /* a deadline that needs no timer work (pacing release) may be acted
     * on by output alone: parked connections due now come back first */
    mpx_act_due(st, now);
    uint32_t total = 0;
    for (struct mpx_msk *m = st->act; m; m = m->anext) {
        mpx_msk_push(m, now);
        total += m->nsf;
    }
    if (!total) {
        gc(st, now);
        return 0;
    }
    /* round robin over every subflow, starting after the last sender: the
     * subflows numbered rr..total-1 in list order, then 0..rr-1. One walk
     * per pass (a walk per subflow was quadratic in the number of
     * connections, TIME_WAIT ones included: at a few hundred connections a
     * second that was most of the daemon's CPU) */
    uint32_t start = st->rr % total;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t idx = 0;
        for (struct mpx_msk *m = st->act; m; idx += m->nsf, m = m->anext) {
            if (pass == 1 && idx >= start)
                break;
            if (pass == 0 && idx + m->nsf <= start)
                continue;
            for (uint8_t i = 0; i < m->nsf; i++) {
                uint32_t want = idx + i;
                if ((pass == 0) != (want >= start))
                    continue;
                int n = output_sf(m, m->sf[i], out, cap, now);
                if (n > 0)
                    st->rr = want + 1;
                if (n != 0)
                    return n;
            }
        }
    }
    gc(st, now);
    return 0;
}

uint64_t mpx_stack_next_deadline(const struct mpx_stack *st)
{
    uint64_t t = mpx_tw_deadline(st);
    uint64_t h = mpx_act_heap_min(st);
    if (st->rst_n)
        return 0;
    if (h < t)
        t = h;
    for (const struct mpx_msk *m = st->act; m; m = m->anext) {
        uint64_t d = mpx_msk_deadline(m);
        if (d < t)
            t = d;
    }
    return t;
}

int mpx_stack_on_timer(struct mpx_stack *st, uint64_t now)
{
    mpx_tw_expire(st, now);
    mpx_act_due(st, now);
    for (struct mpx_msk *m = st->act; m; m = m->anext) {
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
        mpx_msk_close_timer(m, now);
        mpx_msk_push(m, now);
        mpx_msk_check_close(m, now);
    }
    return 0;
}

/* --- application -------------------------------------------------------- */

static struct mpx_sf *lookup_tuple(const struct mpx_stack *st, const struct mpx_tcp_tuple *t)
{
    uint32_t h = mpx_stack_tuple_hash(t) & (st->hash_cap - 1);
    for (struct mpx_sf *sf = st->hash[h]; sf; sf = sf->hnext)
        if (sf->tuple.lport == t->lport && sf->tuple.rport == t->rport &&
            mpx_addr_eq(&sf->tuple.local, &t->local) && mpx_addr_eq(&sf->tuple.remote, &t->remote))
            return sf;
    return NULL;
}

struct mpx_sf *mpx_stack_find_sf(const struct mpx_stack *st, const struct mpx_tcp_tuple *t)
{
    struct mpx_sf *sf = lookup_tuple(st, t);
    if (sf) /* an ICMP error about it: see mpx_stack_find */
        mpx_act_wake(sf->msk);
    return sf;
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
        struct mpx_tw *tw = old ? NULL : mpx_tw_lookup(st, t);
        if (tw) { /* tcp_tw_reuse, as below */
            mpx_tw_kill(st, tw);
            st->mib_tw_reused++;
            return 0;
        }
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
        /* the first address of the destination's family (Linux: no
         * source address of that family -> ENETUNREACH) */
        for (uint8_t i = 0; i < st->n_local && !local; i++)
            if (st->local[i].family == remote->family)
                local = &st->local[i];
        if (!local)
            return MPX_ERR_NETUNREACH;
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
    return mpx_stack_accept_addr(st, NULL, port);
}

long mpx_stack_accept_addr(struct mpx_stack *st, const struct mpx_addr *addr, uint16_t port)
{
    struct mpx_msk *best = NULL;
    struct mpx_addr k;
    if (!listen_key(addr, &k))
        return MPX_ERR_AGAIN;
    for (struct mpx_msk *m = st->accq_head; m; m = m->qnext)
        if (m->lport == port && mpx_addr_eq(&m->laddr, &k) && (!best || m->id < best->id))
            best = m;
    if (!best)
        return MPX_ERR_AGAIN;
    mpx_act_wake(best);
    mpx_accq_del(best);
    best->accepted = true;
    return (long)best->id;
}

int mpx_conn_get_bufs(const struct mpx_stack *st, uint32_t conn, uint32_t *sndbuf, uint32_t *rcvbuf)
{
    const struct mpx_msk *m = mpx_stack_find(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    *sndbuf = m->scap;
    *rcvbuf = m->rcap;
    return 0;
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
    mpx_act_wake_all(st); /* every connection may act: see mpx_stack_find */
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
    mpx_act_wake_all(st); /* every connection may act: see mpx_stack_find */
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
    mpx_act_wake_all(st); /* every connection may act: see mpx_stack_find */
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
    mpx_act_wake_all(st); /* every connection may act: see mpx_stack_find */
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
    mpx_act_wake_all(st); /* every connection may act: see mpx_stack_find */
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
    mpx_act_wake_all(st); /* every connection may act: see mpx_stack_find */
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

size_t mpx_stack_orphans(const struct mpx_stack *st, uint32_t *ids, size_t max)
{
    size_t n = 0;
    for (const struct mpx_msk *m = st->msks; m; m = m->next)
        if (m->orphan && !m->closed && n < max)
            ids[n++] = m->id;
    return n;
}
