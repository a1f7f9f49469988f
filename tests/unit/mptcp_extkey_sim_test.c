/*
 * mptcp_extkey_sim_test.c - external keys on the simulated network
 * (mptcp_sim.h, simnet): bulk transfers whose bytes the receiver checks
 * with SHA-256, keys installed by the "application" at chosen instants
 * (the TLS 1.3 server half an RTT after the client), NEW_KEY losses,
 * rotation during a transfer with late joins, goodput with joins, and the
 * on-path attacker of the draft's security section against an E-mode and
 * an RFC 8684 connection. Every MPTCP option is logged as it left its
 * host (mptcp_extkey_rec.h).
 */
#include <stdlib.h>

#include "conv.h"
#include "crypto.h"
#include "err.h"
#include "mptcp_extkey_rec.h"
#include "mptcp_sim.h"
#include "mpx_test.h"

#define MBIT 1000000ull
#define MS   MPX_NS_PER_MS

static const uint8_t xs_key[32] = {0x5a, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                   11,   12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                   22,   23, 24, 25, 26, 27, 28, 29, 30, 31};

struct xs;
struct xs_ev {
    struct xs *x;
    int k;
};

/* The attacker's state for one spoofed join. */
struct xs_join {
    uint16_t port;
    bool rfc_hmac;    /* compute the real RFC 8684 HMAC from the seen keys */
    bool replay_hmac; /* replay a recorded MP_JOIN ACK HMAC */
    uint32_t isn, nonce;
    bool synack_seen;
    bool rst_seen; /* answered by RST (+ MP_TCPRST) */
    uint8_t rst_reason, rst_flags;
};

struct xs {
    struct msim_params p;
    struct xk_log log;
    struct msim *h;
    uint64_t key_at[2]; /* 0 = never */
    int key_rc[2];
    uint64_t rotate_at[2];
    int rotate_rc[2];
    int drop_nk[2]; /* drop the first N packets with NEW_KEY from host k (-1 all) */
    bool drop_nk_after_first[2];
    int nk_seen[2], dropped_nk[2];
    uint64_t attack_at; /* 0 = no attacker */
    bool attack_before_key;
    struct xs_join join[3];
    int n_join;
    struct xs_ev ev[2];
    /* late joins (rotation): path index, created at |at|, its SYNs held
     * until |release| */
    struct {
        int path;
        uint64_t at, release;
        uint16_t lport; /* learnt from its first SYN */
        bool k_bit;     /* K of its SYN */
        bool synack, rst;
        int rc;                             /* of mpx_conn_add_subflow */
        uint64_t first_data_t, last_data_t; /* client data on it */
    } late[4];
    int n_late;
    uint8_t buf[MPX_SIM_MAX_PKT];
};

static void xs_flush(struct xs *x, int k, uint64_t now);

static bool has_opt(const struct mpx_pkt *p, enum mpx_mptcp_subtype sub)
{
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
        if (p->tcp.opts.mptcp[i].subtype == sub)
            return true;
    return false;
}

static const struct mpx_mptcp_opt *get_opt(const struct mpx_pkt *p, enum mpx_mptcp_subtype sub)
{
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++)
        if (p->tcp.opts.mptcp[i].subtype == sub)
            return &p->tcp.opts.mptcp[i];
    return NULL;
}

/* --- the attacker -------------------------------------------------------- */

static struct mpx_addr xs_addr(int host, int path)
{
    return mpx_addr_v4(0x0a000001u + ((uint32_t)path << 8) + (uint32_t)host);
}

/* Injects a packet as if host |as| sent it (spoofed source). */
static void xs_inject(struct xs *x, int as, struct mpx_ip_hdr *ip, struct mpx_tcp_hdr *th)
{
    ip->version = 4;
    ip->ttl = 64;
    ip->proto = MPX_IPPROTO_TCP;
    ip->df = true;
    int n = mpx_pkt_encode(x->buf, sizeof(x->buf), ip, th, NULL, 0, NULL);
    if (n > 0)
        mpx_sim_send(msim_sim(x->h), msim_node(x->h, as), x->buf, (size_t)n);
}

/* What the observer learnt from the handshake: tokens and, for RFC 8684,
 * the keys (both are in the third ACK). */
struct xs_seen {
    bool ext;
    uint32_t ctok, stok;
    uint64_t ckey, skey;
    uint64_t nk[2]; /* NEW_KEY values seen from host k */
    bool has_nk[2];
    const struct xk_rec *join_ack; /* a recorded MP_JOIN third ACK */
};

static bool xs_learn(const struct xs *x, struct xs_seen *s)
{
    memset(s, 0, sizeof(*s));
    const struct xk_rec *ack = xk_find(&x->log, 0, MPX_MPTCP_SUB_CAPABLE, MPX_TH_ACK, 0);
    if (!ack)
        return false;
    const struct mpx_opt_mpc *m = &ack->o.u.mpc;
    s->ext = m->flags & MPX_MPC_F_E;
    if (s->ext) {
        s->ctok = m->snd_token;
        s->stok = m->rcv_token;
    } else {
        s->ckey = m->snd_key;
        s->skey = m->rcv_key;
        mpx_mptcp_key_sha(s->ckey, &s->ctok, NULL);
        mpx_mptcp_key_sha(s->skey, &s->stok, NULL);
    }
    for (int k = 0; k < 2; k++) {
        const struct xk_rec *r = xk_find(&x->log, k, MPX_MPTCP_SUB_NEW_KEY, -1, 0);
        if (r) {
            s->has_nk[k] = true;
            s->nk[k] = r->o.u.new_key.hmac;
        }
    }
    s->join_ack = xk_find(&x->log, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_ACK, 0);
    return true;
}

static void xs_join_syn(struct xs *x, struct xs_join *j, const struct xs_seen *s)
{
    struct mpx_ip_hdr ip = {.src = xs_addr(0, 1), .dst = xs_addr(1, 1)};
    struct mpx_tcp_hdr th = {
        .sport = j->port, .dport = 80, .seq = j->isn, .flags = MPX_TH_SYN, .win = 65535};
    th.opts.n_mptcp = 1;
    th.opts.mptcp[0].subtype = MPX_MPTCP_SUB_JOIN;
    th.opts.mptcp[0].u.join.form = MPX_FORM_SYN;
    th.opts.mptcp[0].u.join.token = s->stok;
    th.opts.mptcp[0].u.join.nonce = j->nonce;
    th.opts.mptcp[0].u.join.addr_id = 7;
    xs_inject(x, 0, &ip, &th);
}

/* The third ACK of a spoofed join: the real RFC 8684 HMAC (keys seen in
 * clear), or in E mode the best guesses: keyed with the tokens, or a
 * replay of the legitimate join's HMAC. */
static void xs_join_ack(struct xs *x, struct xs_join *j, const struct mpx_pkt *sa)
{
    struct xs_seen s;
    xs_learn(x, &s);
    const struct mpx_mptcp_opt *o = get_opt(sa, MPX_MPTCP_SUB_JOIN);
    uint8_t key[16], msg[8], h[32];
    struct mpx_ip_hdr ip = {.src = xs_addr(0, 1), .dst = xs_addr(1, 1)};
    struct mpx_tcp_hdr th = {.sport = j->port,
                             .dport = 80,
                             .seq = j->isn + 1,
                             .ack = sa->tcp.seq + 1,
                             .flags = MPX_TH_ACK,
                             .win = 65535};
    th.opts.n_mptcp = 1;
    th.opts.mptcp[0].subtype = MPX_MPTCP_SUB_JOIN;
    th.opts.mptcp[0].u.join.form = MPX_FORM_ACK;
    mpx_put_be32(mpx_put_be32(msg, j->nonce), o ? o->u.join.nonce : 0);
    if (j->rfc_hmac) {
        mpx_put_be64(mpx_put_be64(key, s.ckey), s.skey);
        mpx_hmac_sha256(key, 16, msg, 8, h);
    } else {
        mpx_put_be32(mpx_put_be32(key, s.ctok), s.stok);
        mpx_hmac_sha256(key, 8, msg, 8, h);
    }
    mpx_trunc_left160(h, th.opts.mptcp[0].u.join.hmac);
    if (j->replay_hmac && s.join_ack)
        memcpy(th.opts.mptcp[0].u.join.hmac, s.join_ack->o.u.join.hmac, 20);
    xs_inject(x, 0, &ip, &th);
}

/* The latest segment host |from| sent on the initial subflow (to reuse
 * its sequence numbers in a forged segment). */
static const struct xk_rec *xs_last_sf0(const struct xs *x, int from)
{
    const struct xk_rec *syn = xk_find(&x->log, 0, MPX_MPTCP_SUB_CAPABLE, MPX_TH_SYN, 0);
    if (!syn)
        return NULL;
    return from ? xk_last_dss(&x->log, 1, 80, syn->sport) : xk_last_dss(&x->log, 0, syn->sport, 80);
}

/* A segment as if host |as| sent it on the initial subflow, with one
 * MPTCP option. */
static void xs_forge(struct xs *x, int as, const struct mpx_mptcp_opt *o)
{
    const struct xk_rec *r = xs_last_sf0(x, as);
    if (!r)
        return;
    struct mpx_ip_hdr ip = {.src = r->src, .dst = r->dst};
    struct mpx_tcp_hdr th = {.sport = r->sport,
                             .dport = r->dport,
                             .seq = r->seq + r->payload_len,
                             .ack = r->ack,
                             .flags = MPX_TH_ACK,
                             .win = 65535};
    th.opts.n_mptcp = 1;
    th.opts.mptcp[0] = *o;
    xs_inject(x, as, &ip, &th);
}

static void xs_attack_signals(struct xs *x, const struct xs_seen *s)
{
    struct mpx_mptcp_opt o;
    uint8_t key[8], h[32];
    mpx_put_be32(mpx_put_be32(key, s->ctok), s->stok);
    mpx_hmac_sha256(key, 8, key, 8, h);
    uint64_t guesses[4] = {s->nk[1], s->nk[0], ((uint64_t)s->ctok << 32) | s->stok,
                           mpx_trunc_left64(h)};
    for (int g = 0; g < 4; g++) {
        /* ADD_ADDR towards the client, "from the server" */
        memset(&o, 0, sizeof(o));
        o.subtype = MPX_MPTCP_SUB_ADD_ADDR;
        o.u.add_addr.addr_id = (uint8_t)(9 + g);
        o.u.add_addr.addr = mpx_addr_v4(0x0a000909u);
        o.u.add_addr.has_hmac = true;
        o.u.add_addr.hmac = guesses[g];
        xs_forge(x, 1, &o);
        /* MP_FASTCLOSE both ways: the NEW_KEY value replayed (same K),
         * then values made from the tokens */
        for (int to = 0; to < 2; to++) {
            memset(&o, 0, sizeof(o));
            o.subtype = MPX_MPTCP_SUB_FASTCLOSE;
            o.u.fastclose.key_id = false;
            o.u.fastclose.key = g < 2 ? s->nk[g ^ to ^ 1] : guesses[g];
            xs_forge(x, !to, &o);
            o.u.fastclose.key = s->nk[!to]; /* the sender's own NEW_KEY */
            xs_forge(x, !to, &o);
        }
    }
}

static void xs_attack(void *arg, struct mpx_sim *sim, uint64_t now)
{
    struct xs *x = arg;
    (void)sim;
    (void)now;
    struct xs_seen s;
    if (!xs_learn(x, &s))
        return;
    for (int i = 0; i < x->n_join; i++)
        xs_join_syn(x, &x->join[i], &s);
    if (s.ext && !x->attack_before_key)
        xs_attack_signals(x, &s);
}

/* The attacker's view of the server's answers to its joins. */
static bool xs_attacker_rx(struct xs *x, const struct mpx_pkt *p)
{
    for (int i = 0; i < x->n_join; i++) {
        struct xs_join *j = &x->join[i];
        if (p->tcp.dport != j->port)
            continue;
        if (p->tcp.flags & MPX_TH_RST) {
            j->rst_seen = true;
            const struct mpx_mptcp_opt *r = get_opt(p, MPX_MPTCP_SUB_TCPRST);
            if (r) {
                j->rst_reason = r->u.tcprst.reason;
                j->rst_flags = r->u.tcprst.flags;
            }
        } else if ((p->tcp.flags & MPX_TH_SYN) && !j->synack_seen) {
            j->synack_seen = true;
            xs_join_ack(x, j, p);
        }
        return false; /* the attacker swallows what comes back */
    }
    return true;
}

/* --- the filter: observer, losses, held late joins ------------------------- */

static bool xs_filter(struct msim *h, void *arg, int node, const uint8_t *pkt, size_t len,
                      uint64_t now)
{
    struct xs *x = arg;
    x->h = h;
    xk_record(&x->log, node, pkt, len, now);
    struct mpx_pkt p;
    if (mpx_pkt_decode(pkt, len, false, &p) < 0)
        return true;
    if (node == 1 && !xs_attacker_rx(x, &p))
        return false;
    if (has_opt(&p, MPX_MPTCP_SUB_NEW_KEY)) {
        int n = x->nk_seen[node]++;
        bool drop = (x->drop_nk[node] < 0 || n < x->drop_nk[node]) && x->drop_nk[node];
        drop |= x->drop_nk_after_first[node] && n >= 1;
        if (drop) {
            x->dropped_nk[node]++;
            return false;
        }
    }
    const struct mpx_mptcp_opt *j = get_opt(&p, MPX_MPTCP_SUB_JOIN);
    for (int i = 0; i < x->n_late; i++) {
        __typeof__(&x->late[0]) l = &x->late[i];
        struct mpx_addr a = xs_addr(0, l->path);
        if (node == 0 && j && j->u.join.form == MPX_FORM_SYN && mpx_addr_eq(&p.ip.src, &a) &&
            now >= l->at && (!l->lport || l->lport == p.tcp.sport)) {
            l->lport = p.tcp.sport;
            l->k_bit = j->u.join.key_id;
            if (now < l->release)
                return false;
        } else if (l->lport && node == 1 && p.tcp.dport == l->lport) {
            if (p.tcp.flags & MPX_TH_RST)
                l->rst = true;
            else if (j && j->u.join.form == MPX_FORM_SYNACK)
                l->synack = true;
        } else if (l->lport && node == 0 && p.tcp.sport == l->lport && p.payload_len) {
            if (!l->first_data_t)
                l->first_data_t = now;
            l->last_data_t = now;
        }
    }
    return true;
}

static void xs_flush(struct xs *x, int k, uint64_t now)
{
    struct mpx_stack *st = msim_stack(x->h, k);
    for (int guard = 0; guard < 100000; guard++) {
        int n = mpx_stack_output(st, x->buf, sizeof(x->buf), now);
        if (n <= 0)
            break;
        if (xs_filter(x->h, x, k, x->buf, (size_t)n, now))
            mpx_sim_send(msim_sim(x->h), msim_node(x->h, k), x->buf, (size_t)n);
    }
}

static void xs_set_key(void *arg, struct mpx_sim *sim, uint64_t now)
{
    struct xs_ev *e = arg;
    struct xs *x = e->x;
    (void)sim;
    e->x->key_rc[e->k] =
        mpx_conn_set_key(msim_stack(x->h, e->k), msim_conn(x->h, e->k), xs_key, 32, now);
    xs_flush(x, e->k, now);
}

static void xs_rotate(void *arg, struct mpx_sim *sim, uint64_t now)
{
    struct xs_ev *e = arg;
    struct xs *x = e->x;
    (void)sim;
    x->rotate_rc[e->k] = mpx_conn_rotate_key(msim_stack(x->h, e->k), msim_conn(x->h, e->k), now);
    xs_flush(x, e->k, now);
}

static void xs_late_join(void *arg, struct mpx_sim *sim, uint64_t now)
{
    struct xs *x = arg;
    (void)sim;
    for (int i = 0; i < x->n_late; i++) {
        if (x->late[i].at != now || x->late[i].lport)
            continue;
        struct mpx_addr l = xs_addr(0, x->late[i].path), r = xs_addr(1, x->late[i].path);
        x->late[i].rc =
            mpx_conn_add_subflow(msim_stack(x->h, 0), msim_conn(x->h, 0), &l, &r, 80, false, now);
    }
    xs_flush(x, 0, now);
}

static void xs_setup(struct msim *h, void *arg)
{
    struct xs *x = arg;
    x->h = h;
    for (int k = 0; k < 2; k++) {
        x->ev[k].x = x;
        x->ev[k].k = k;
        if (x->key_at[k])
            mpx_sim_at(msim_sim(h), x->key_at[k], xs_set_key, &x->ev[k]);
        if (x->rotate_at[k])
            mpx_sim_at(msim_sim(h), x->rotate_at[k], xs_rotate, &x->ev[k]);
    }
    if (x->attack_at)
        mpx_sim_at(msim_sim(h), x->attack_at, xs_attack, x);
    for (int i = 0; i < x->n_late; i++)
        mpx_sim_at(msim_sim(h), x->late[i].at, xs_late_join, x);
}

/* E mode on both ends, |n_paths| paths of |mbit| Mbit/s and 5 ms one
 * way, the client joining the others; keys at 30 ms (client) and half an
 * RTT later (server, as TLS 1.3 gives it). */
static struct xs *xs_new(uint64_t seed, uint64_t bytes, int n_paths, uint64_t mbit)
{
    struct xs *x = calloc(1, sizeof(*x));
    struct msim_params *p = &x->p;
    p->seed = seed;
    p->bytes = bytes;
    p->n_paths = n_paths;
    p->join_paths = true;
    p->max_subflows = 4;
    for (int i = 0; i < n_paths; i++) {
        p->path[i].rate_bps = mbit * MBIT;
        p->path[i].delay_ns = 5 * MS;
    }
    p->ext_policy[0] = p->ext_policy[1] = MPX_EXT_PREFER;
    p->setup_hook = xs_setup;
    p->filter = xs_filter;
    p->hook_arg = x;
    x->key_at[0] = 30 * MS;
    x->key_at[1] = 35 * MS;
    x->log.skip_dss = true;
    return x;
}

/* The first record of subflow-level SYN kind |synack| for MP_JOIN. */
static uint64_t first_t(const struct xs *x, int from, int sub, int synack)
{
    const struct xk_rec *r = xk_find(&x->log, from, sub, synack, 0);
    return r ? r->t : UINT64_MAX;
}

/* Full E-mode handshake with data both ways (draft figure 1, NOTES D6):
 * SYN 4 bytes E|H, SYN/ACK 8, third ACK 12 (or 14 with a Data-Level
 * Length), no 64-bit key anywhere; NEW_KEY 12 bytes each way; joins only
 * after both NEW_KEYs, with MP_JOIN SYN 12, SYN/ACK 16, ACK 24 bytes;
 * both streams intact. */
MPX_TEST(mptcp_extkey_sim_handshake_both_ways)
{
    struct xs *x = xs_new(41, 3000000, 2, 20);
    x->p.both_ways = true;
    struct msim_result r;
    REQUIRE(msim_bulk(&x->p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK(r.cinfo.ext_keys && r.sinfo.ext_keys);
    CHECK_EQ(x->key_rc[0], 0);
    CHECK_EQ(x->key_rc[1], 0);
    const struct xk_rec *syn = xk_find(&x->log, 0, MPX_MPTCP_SUB_CAPABLE, MPX_TH_SYN, 0);
    const struct xk_rec *sa =
        xk_find(&x->log, 1, MPX_MPTCP_SUB_CAPABLE, MPX_TH_SYN | MPX_TH_ACK, 0);
    const struct xk_rec *ack = xk_find(&x->log, 0, MPX_MPTCP_SUB_CAPABLE, MPX_TH_ACK, 0);
    REQUIRE(syn && sa && ack);
    CHECK_EQ(syn->len, 4);
    CHECK_EQ(syn->b3, MPX_MPC_F_E | MPX_MPC_F_H);
    CHECK_EQ(sa->len, 8);
    CHECK(sa->b3 & MPX_MPC_F_E);
    CHECK(ack->len == 12 || ack->len == 14);
    CHECK(ack->b3 & MPX_MPC_F_E);
    for (int i = 0; i < x->log.n; i++) {
        const struct xk_rec *e = &x->log.rec[i];
        if (e->sub == MPX_MPTCP_SUB_CAPABLE)
            CHECK((e->b3 & MPX_MPC_F_E) &&
                  (e->len == 4 || e->len == 8 || e->len == 12 || e->len == 14));
        if (e->sub == MPX_MPTCP_SUB_NEW_KEY)
            CHECK_EQ(e->len, 12);
    }
    CHECK(!xk_key_on_wire(&x->log, -1));
    uint64_t nk0 = first_t(x, 0, MPX_MPTCP_SUB_NEW_KEY, -1);
    uint64_t nk1 = first_t(x, 1, MPX_MPTCP_SUB_NEW_KEY, -1);
    uint64_t js = first_t(x, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN);
    REQUIRE(nk0 != UINT64_MAX && nk1 != UINT64_MAX && js != UINT64_MAX);
    CHECK(nk0 >= 30 * MS && nk1 >= 35 * MS);
    CHECK(js > nk0 && js > nk1); /* subflows only after both NEW_KEYs */
    const struct xk_rec *j1 = xk_find(&x->log, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN, 0);
    const struct xk_rec *j2 = xk_find(&x->log, 1, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN | MPX_TH_ACK, 0);
    const struct xk_rec *j3 = xk_find(&x->log, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_ACK, 0);
    REQUIRE(j1 && j2 && j3);
    CHECK_EQ(j1->len, 12);
    CHECK_EQ(j2->len, 16);
    CHECK_EQ(j3->len, 24);
    CHECK_EQ(r.s_sub_est, 1);
    CHECK_EQ(r.cmib.MPNewKeyConfirmed, 1);
    CHECK_EQ(r.smib.MPNewKeyConfirmed, 1);
    CHECK_EQ(r.cinfo.key_state, MPX_KEYST_ACTIVE);
    CHECK(r.path_bytes[1] > 500000); /* the join carried data */
    free(x);
}

/* NOTES D17/D24 then D13: before the keys a join with the token the
 * observer saw is refused with MP_TCPRST reason 3, transient; the
 * client's own join waits; once both keys are in, the client's join is
 * accepted and carries data. */
MPX_TEST(mptcp_extkey_sim_join_refused_then_accepted)
{
    struct xs *x = xs_new(42, 2000000, 2, 20);
    x->key_at[0] = 300 * MS;
    x->key_at[1] = 305 * MS;
    x->attack_at = 100 * MS;
    x->attack_before_key = true;
    x->n_join = 1;
    x->join[0] = (struct xs_join){.port = 5001, .isn = 777, .nonce = 0x1234};
    struct msim_result r;
    REQUIRE(msim_bulk(&x->p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(x->join[0].rst_seen);
    CHECK(!x->join[0].synack_seen);
    CHECK_EQ(x->join[0].rst_reason, MPX_RST_EPROHIBIT);
    CHECK_EQ(x->join[0].rst_flags, MPX_TCPRST_F_T);
    CHECK_EQ(r.smib.MPJoinNoKeyRejected, 1);
    uint64_t js = first_t(x, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN);
    CHECK(js >= 305 * MS && js != UINT64_MAX);
    CHECK_EQ(r.smib.MPJoinAckRx, 1);
    CHECK_EQ(r.s_sub_est, 1);
    CHECK(r.path_bytes[1] > 100000);
    free(x);
}

/* NOTES D15, D14 (b): the first two NEW_KEYs of each host are lost. The
 * client's timer repeats its NEW_KEY (max(RTO, 200 ms), doubling); the
 * server, confirmed by it, answers the client's next duplicate (at most
 * once per RTO, 3 times per key) until the client is confirmed too; then
 * the join goes and the transfer is intact. */
MPX_TEST(mptcp_extkey_sim_newkey_lost)
{
    struct xs *x = xs_new(43, 8000000, 2, 20);
    x->drop_nk[0] = x->drop_nk[1] = 2;
    struct msim_result r;
    REQUIRE(msim_bulk(&x->p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    CHECK_EQ(x->dropped_nk[0], 2);
    CHECK_EQ(x->dropped_nk[1], 2);
    CHECK(r.cmib.MPNewKeyRetrans >= 2);
    CHECK(r.smib.MPNewKeyRetrans + r.smib.MPNewKeyAnswer >= 2);
    CHECK(r.smib.MPNewKeyAnswer <= 3);
    CHECK_EQ(r.cmib.MPNewKeyConfirmed, 1);
    CHECK_EQ(r.smib.MPNewKeyConfirmed, 1);
    CHECK_EQ(r.cmib.MPNewKeyGiveUp + r.smib.MPNewKeyGiveUp, 0);
    const struct xk_rec *third = xk_find(&x->log, 0, MPX_MPTCP_SUB_NEW_KEY, -1, 2);
    REQUIRE(third);
    CHECK(third->t >= 30 * MS + 600 * MS); /* 200 ms, then 400 ms */
    uint64_t js = first_t(x, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN);
    CHECK(js != UINT64_MAX && js > third->t);
    CHECK_EQ(r.s_sub_est, 1);
    printf("  client NEW_KEY tx %llu rtx %llu, server tx %llu rtx %llu answers %llu, join at %llu "
           "ms\n",
           (unsigned long long)r.cmib.MPNewKeyTx, (unsigned long long)r.cmib.MPNewKeyRetrans,
           (unsigned long long)r.smib.MPNewKeyTx, (unsigned long long)r.smib.MPNewKeyRetrans,
           (unsigned long long)r.smib.MPNewKeyAnswer, (unsigned long long)(js / MS));
    free(x);
}

/* NOTES D14 DECIDED (a): the client's NEW_KEY reaches the server before
 * the server's application installed the key (800 ms later); every later
 * NEW_KEY of the client is lost. The server holds the early value and
 * checks it when its key arrives: confirmed, its own NEW_KEY confirms
 * the client; no deadlock, the join follows. */
MPX_TEST(mptcp_extkey_sim_newkey_before_local_key)
{
    struct xs *x = xs_new(44, 4000000, 2, 20);
    x->key_at[1] = 800 * MS;
    x->drop_nk_after_first[0] = true;
    struct msim_result r;
    REQUIRE(msim_bulk(&x->p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.smib.MPNewKeyEarly >= 1);
    CHECK(x->dropped_nk[0] >= 1);
    CHECK_EQ(r.smib.MPNewKeyConfirmed, 1);
    CHECK_EQ(r.cmib.MPNewKeyConfirmed, 1);
    CHECK_EQ(r.sinfo.key_state, MPX_KEYST_ACTIVE);
    CHECK_EQ(r.cinfo.key_state, MPX_KEYST_ACTIVE);
    uint64_t js = first_t(x, 0, MPX_MPTCP_SUB_JOIN, MPX_TH_SYN);
    CHECK(js >= 800 * MS && js < 2000 * MS);
    CHECK_EQ(r.s_sub_est, 1);
    free(x);
}

/* The on-path attacker (draft section 5, NOTES D22, D23, D28). It records
 * the whole E-mode connection (handshake, NEW_KEYs, the join) and then
 * tries: two joins with the server's token (third-ACK HMAC keyed with the
 * tokens, and the legitimate join's HMAC replayed), ADD_ADDR with HMACs
 * made of what it saw, the NEW_KEY values replayed as MP_FASTCLOSE (same
 * K) and FASTCLOSE values made of the tokens. Every attempt fails and
 * the transfer completes intact. The same attacker against an RFC 8684
 * connection (keys in the third ACK) completes its join. */
MPX_TEST(mptcp_extkey_sim_attacker)
{
    for (int rfc = 0; rfc < 2; rfc++) {
        struct xs *x = xs_new(45 + (uint64_t)rfc, 6000000, 2, 10);
        if (rfc) {
            x->p.ext_policy[0] = x->p.ext_policy[1] = MPX_EXT_NEVER;
            x->key_at[0] = x->key_at[1] = 0;
        }
        x->attack_at = 1000 * MS;
        x->n_join = 2;
        x->join[0] = (struct xs_join){.port = 5001, .isn = 1000, .nonce = 0xa1, .rfc_hmac = rfc};
        x->join[1] =
            (struct xs_join){.port = 5002, .isn = 2000, .nonce = 0xa2, .replay_hmac = !rfc};
        struct msim_result r;
        REQUIRE(msim_bulk(&x->p, &r) == 0);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        printf("  %s: server joins acked %llu, HMAC failures %llu, FASTCLOSE rx %llu/%llu, "
               "ADD_ADDR dropped %llu\n",
               rfc ? "RFC 8684" : "E mode", (unsigned long long)r.smib.MPJoinAckRx,
               (unsigned long long)r.smib.MPJoinAckHMacFailure,
               (unsigned long long)r.cmib.MPFastcloseRx, (unsigned long long)r.smib.MPFastcloseRx,
               (unsigned long long)r.cmib.AddAddrDrop);
        CHECK(x->join[0].synack_seen);
        if (!rfc) {
            CHECK(x->join[1].synack_seen);
            CHECK(r.both_closed);
            CHECK_EQ(r.smib.MPJoinAckRx, 1); /* the legitimate join only */
            CHECK_EQ(r.smib.MPJoinAckHMacFailure, 2);
            CHECK(x->join[0].rst_seen && x->join[1].rst_seen);
            CHECK_EQ(r.cmib.MPFastcloseRx, 0);
            CHECK_EQ(r.smib.MPFastcloseRx, 0);
            CHECK_EQ(r.cmib.AddAddr, 0);
            CHECK_EQ(r.cmib.AddAddrDrop, 4);
            CHECK(!xk_key_on_wire(&x->log, -1));
        } else {
            /* the attacker's join is in: the server acked it */
            CHECK_EQ(r.smib.MPJoinAckRx, 2);
            CHECK_EQ(r.smib.MPJoinAckHMacFailure, 1); /* its token-keyed guess */
            CHECK(xk_key_on_wire(&x->log, 0));
        }
        free(x);
    }
}

/* Goodput with joins in E mode, as mptcp_join_two_paths_equal_goodput
 * measures RFC 8684 (simult_flows.sh "balanced bwidth": 2 x 50 Mbit/s,
 * RTT 10 ms): the same >= 95 % of the raw sum in steady state. */
MPX_TEST(mptcp_extkey_sim_two_paths_goodput)
{
    struct xs *x = xs_new(46, 60000000, 2, 50);
    struct msim_result r;
    REQUIRE(msim_bulk(&x->p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK(r.both_closed);
    printf("  E mode 2 x 50 Mbit/s: %.2f Mbit/s steady, %.2f overall\n", r.steady_bps / 1e6,
           r.goodput_bps / 1e6);
    CHECK(r.cinfo.ext_keys);
    CHECK(r.steady_bps >= 0.95 * 100 * MBIT);
    CHECK(r.path_bytes[0] > 20000000 && r.path_bytes[1] > 20000000);
    free(x);
}

/* D16/D17 during a bulk transfer over four 4 Mbit/s paths. A join on
 * path 1 at 100 ms (K = 0); both ends rotate at 1 s (the server half an
 * RTT later); the old subflow keeps carrying data. Two late joins asked
 * for before the rotation (K = 0) have their SYNs held by the network:
 * the one released inside the 3 s grace period is accepted, the one
 * released after it is refused (MP_TCPRST reason 3: no key K any more).
 * A join asked for later on the freed path uses K = 1. Data intact. */
MPX_TEST(mptcp_extkey_sim_rotation_bulk)
{
    struct xs *x = xs_new(47, 18000000, 4, 4);
    x->p.join_paths = false;
    x->p.max_subflows = 6;
    x->p.ext_grace_ns = 3 * MPX_NS_PER_S;
    x->p.time_limit_ns = 120 * MPX_NS_PER_S;
    x->rotate_at[0] = 1000 * MS;
    x->rotate_at[1] = 1005 * MS;
    x->n_late = 4;
    x->late[0].path = 1; /* ordinary join, before the rotation */
    x->late[0].at = 100 * MS;
    x->late[1].path = 3; /* late, old K, released inside the grace period */
    x->late[1].at = 900 * MS;
    x->late[1].release = 1500 * MS;
    x->late[2].path = 2; /* late, old K, released after it */
    x->late[2].at = 950 * MS;
    x->late[2].release = 4500 * MS;
    x->late[3].path = 2; /* new join after the rotation (path 2 is free again) */
    x->late[3].at = 8500 * MS;
    struct msim_result r;
    REQUIRE(msim_bulk(&x->p, &r) == 0);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    CHECK_EQ(x->rotate_rc[0], 0);
    CHECK_EQ(x->rotate_rc[1], 0);
    printf("  duration %.2f s; joins: old %d/%d/%d, late-in %d/%d/%d, late-out %d/%d/%d, new "
           "%d/%d/%d\n",
           (double)r.duration_ns / 1e9, x->late[0].k_bit, x->late[0].synack, x->late[0].rst,
           x->late[1].k_bit, x->late[1].synack, x->late[1].rst, x->late[2].k_bit, x->late[2].synack,
           x->late[2].rst, x->late[3].k_bit, x->late[3].synack, x->late[3].rst);
    CHECK(r.duration_ns > 9 * MPX_NS_PER_S); /* everything happened mid-transfer */
    for (int i = 0; i < 4; i++)
        CHECK_INT(x->late[i].rc, 0);
    for (int k = 0; k < 2; k++) {
        const struct mpx_mptcp_mib *mb = k ? &r.smib : &r.cmib;
        CHECK_EQ(mb->MPExtKeyRotated, 1);
        CHECK_EQ(mb->MPNewKeyConfirmed, 2);
        CHECK_EQ(mb->MPExtKeyRetired, 1);
    }
    /* the old subflow keeps running across the rotation */
    CHECK(!x->late[0].k_bit && x->late[0].synack && !x->late[0].rst);
    CHECK(x->late[0].last_data_t > 8 * MPX_NS_PER_S);
    /* new join: K = 1 */
    CHECK(x->late[3].k_bit && x->late[3].synack && !x->late[3].rst);
    CHECK(x->late[3].first_data_t > 0);
    /* late join with the old K inside the grace period: accepted */
    CHECK(!x->late[1].k_bit && x->late[1].synack && !x->late[1].rst);
    CHECK(x->late[1].first_data_t > 1500 * MS);
    CHECK(r.smib.MPExtKeyOldKeyUsed >= 1);
    /* after it: refused, never answered with a SYN/ACK */
    CHECK(!x->late[2].k_bit && !x->late[2].synack && x->late[2].rst);
    CHECK(r.smib.MPJoinNoKeyRejected >= 1);
    free(x);
}
