/*
 * engine.c - the adapter over the sans-I/O stack (engine.h). The only file
 * of the daemon that includes mptcp_stack.h.
 */
#include "engine.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cc.h"
#include "err.h"
#include "keylog.h"
#include "mptcp_stack.h"
#include "uring_loop.h"

struct mpx_eng {
    struct mpx_stack *st;
    uint8_t extkey_policy; /* enum mpx_rpc_extkey: the default of new active opens */
    /* `scheduler` and `cc` settings, given to every new connection (the
     * stack's own defaults are fixed at creation): like net.mptcp.scheduler
     * and net.ipv4.tcp_congestion_control */
    char scheduler[32];
    char cc[32];
    int keylog_fd; /* --keylog FILE, -1 if none (keylog.h) */
    /* rand64's pool: one getrandom(2) per 32 values instead of one each
     * (keys, nonces: every connection takes some); 256 bytes is the most
     * getrandom always returns whole. Taken bytes are wiped. */
    uint8_t rnd[256];
    unsigned rnd_off;
};

/* --keylog: |conn|'s RFC 8684 keys (|ext| false) or its newest external
 * key into the key-log file, and nowhere else (DESIGN decision 6). */
static void keylog_conn(const struct mpx_eng *e, uint32_t conn, bool ext)
{
    struct mpx_conn_secrets s;
    if (e->keylog_fd < 0 || mpx_conn_get_secrets(e->st, conn, &s) < 0)
        return;
    if (!ext && s.rfc8684)
        mpx_keylog_keys(e->keylog_fd, s.ltoken, s.lkey, s.rkey);
    if (ext && s.ext)
        mpx_keylog_extkey(e->keylog_fd, s.ltoken, s.rtoken, s.key, s.key_len);
    explicit_bzero(&s, sizeof(s));
}

/* The daemon-wide settings onto a new connection. */
static void conn_defaults(struct mpx_eng *e, uint32_t conn, uint64_t now)
{
    mpx_conn_set_scheduler(e->st, conn, e->scheduler);
    mpx_conn_set_cc(e->st, conn, e->cc, now);
}

/* enum mpx_rpc_extkey -> the core's policy; DEFAULT is resolved by the caller. */
static enum mpx_ext_policy ext_policy(uint8_t p)
{
    return p == MPX_RPC_EXTKEY_REQUIRE  ? MPX_EXT_REQUIRE
           : p == MPX_RPC_EXTKEY_PREFER ? MPX_EXT_PREFER
                                        : MPX_EXT_NEVER;
}

/* The stack's randomness service: the kernel's CSPRNG (keys, ISNs). */
static uint64_t rand64(void *ctx)
{
    struct mpx_eng *e = ctx;
    uint64_t v;

    if (e->rnd_off + sizeof(v) > sizeof(e->rnd)) {
        while (getrandom(e->rnd, sizeof(e->rnd), 0) != (ssize_t)sizeof(e->rnd))
            ;
        e->rnd_off = 0;
    }
    memcpy(&v, e->rnd + e->rnd_off, sizeof(v));
    explicit_bzero(e->rnd + e->rnd_off, sizeof(v));
    e->rnd_off += sizeof(v);
    return v;
}

static struct mpx_addr to_addr(const struct mpx_rpc_addr *a)
{
    struct mpx_addr x;
    memset(&x, 0, sizeof(x));
    x.family = a->family;
    memcpy(x.a, a->a, sizeof(x.a));
    return x;
}

static struct mpx_rpc_addr from_addr(const struct mpx_addr *a)
{
    struct mpx_rpc_addr x;
    memset(&x, 0, sizeof(x));
    if (a->family == MPX_AF_INET || a->family == MPX_AF_INET6) {
        x.family = a->family;
        memcpy(x.a, a->a, a->family == MPX_AF_INET ? 4 : 16);
    }
    return x;
}

/* The configured endpoints and limits into the stack's PM configuration
 * (no connection exists yet). */
static int replay_pm(struct mpx_eng *e, const struct mpx_dcfg *cfg, char *err, size_t errcap)
{
    struct mpx_pm_cfg *pc = mpx_stack_pm_cfg(e->st);
    struct mpx_pm_endpoint eps[MPX_PM_ENDP_MAX];
    size_t n = mpx_pm_endpoint_list(&cfg->pm, eps, MPX_PM_ENDP_MAX);

    mpx_pm_limits_set(pc, cfg->pm.limit_subflows, cfg->pm.limit_add_addr_accepted);
    pc->add_addr_timeout_ns = cfg->pm.add_addr_timeout_ns;
    pc->pm_type = cfg->pm.pm_type;
    pc->allow_join_initial_addr_port = cfg->pm.allow_join_initial_addr_port;
    for (size_t i = 0; i < n; i++) {
        int rc = mpx_stack_endpoint_add(e->st, &eps[i], 0);
        if (rc < 0) {
            char a[64];
            snprintf(err, errcap, "endpoint %s: %s", mpx_addr_fmt(&eps[i].addr, a, sizeof(a)),
                     mpx_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* Every connection mallocs its send and receive buffers (`sndbuf`,
 * `rcvbuf`: 4 MB each by default) and the bridge its own, and frees them
 * at the end. With glibc's defaults the top of the heap is given back
 * (brk) at each free and the next connection faults the pages in again:
 * 10-20 page faults per connection, ~15 % of a daemon's CPU at 1,500
 * connections/s (issue 7, bench/README.md "Page faults"). Keep up to 64 MB
 * of free heap, and serve allocations below 32 MB from the heap. */
static void keep_heap(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

struct mpx_eng *mpx_eng_new(const struct mpx_dcfg *cfg, char *err, size_t errcap)
{
    struct mpx_stack_config sc;
    struct mpx_eng *e = calloc(1, sizeof(*e));

    if (!e) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    e->keylog_fd = -1;
    keep_heap();
    mpx_stack_config_default(&sc);
    sc.mptcp_enabled = cfg->mptcp;
    sc.checksum = cfg->checksum;
    sc.allow_join_initial_addr_port = cfg->pm.allow_join_initial_addr_port;
    sc.sndbuf = cfg->sndbuf;
    sc.rcvbuf = cfg->rcvbuf;
    sc.max_subflows = cfg->pm.limit_subflows; /* `limits subflows`: extra subflows */
    sc.tcp.cc = mpx_cc_find(cfg->cc);
    /* offload: TSO super segments of up to ~64 KB (the TUN segments them;
     * tcp_output caps a payload at 65000 so that headers fit 64 KB) */
    sc.tcp.max_seg = cfg->offload ? 65000 : 0;
    sc.tcp.tso_csum_partial = cfg->offload; /* main.c writes them with NEEDS_CSUM */
    sc.tcp.pacing = cfg->pacing;
    /* the MSS we announce and the largest segment we send follow the
     * interface, like Linux's advmss = dev MTU - 40 (576: RFC 1122 floor) */
    if (cfg->tun_mtu >= 576)
        sc.tcp.mtu = cfg->tun_mtu;
    sc.rand = rand64;
    sc.rand_ctx = e;
    e->rnd_off = sizeof(e->rnd); /* empty: filled at the first use */
    /* DESIGN decision 5: the configured policy (default prefer) is also the
     * responder's: E SYNs are answered in E form unless it is never. */
    e->extkey_policy = cfg->extkey_policy ? cfg->extkey_policy : MPX_RPC_EXTKEY_PREFER;
    sc.ext_policy = ext_policy(e->extkey_policy);
    snprintf(e->scheduler, sizeof(e->scheduler), "%s", cfg->scheduler);
    snprintf(e->cc, sizeof(e->cc), "%s", cfg->cc);
    if (getrandom(sc.isn_secret, sizeof(sc.isn_secret), 0) != (ssize_t)sizeof(sc.isn_secret)) {
        snprintf(err, errcap, "getrandom: %s", strerror(errno));
        free(e);
        return NULL;
    }
    e->st = mpx_stack_new(&sc);
    if (!e->st) {
        snprintf(err, errcap, "cannot create the MPTCP stack");
        free(e);
        return NULL;
    }
    if (replay_pm(e, cfg, err, errcap)) {
        mpx_eng_free(e);
        return NULL;
    }
    if (cfg->keylog[0] && (e->keylog_fd = mpx_keylog_open(cfg->keylog)) < 0) {
        snprintf(err, errcap, "keylog %s: %s", cfg->keylog, strerror(-e->keylog_fd));
        mpx_eng_free(e);
        return NULL;
    }
    for (unsigned i = 0; i < cfg->n_addrs; i++) {
        struct mpx_addr a = to_addr(&cfg->addrs[i]);
        int rc = mpx_stack_add_local(e->st, &a);
        if (rc < 0) {
            char t[64];
            snprintf(err, errcap, "addr %s: %s", mpx_rpc_addr_fmt(&cfg->addrs[i], t, sizeof(t)),
                     mpx_strerror(rc));
            mpx_eng_free(e);
            return NULL;
        }
    }
    return e;
}

void mpx_eng_free(struct mpx_eng *e)
{
    if (!e)
        return;
    mpx_stack_free(e->st);
    mpx_keylog_close(e->keylog_fd);
    explicit_bzero(e->rnd, sizeof(e->rnd)); /* future keys */
    free(e);
}

void mpx_eng_input(struct mpx_eng *e, const uint8_t *pkt, size_t len, uint64_t now)
{
    mpx_stack_input(e->st, pkt, len, now);
}

void mpx_eng_input_ex(struct mpx_eng *e, const uint8_t *pkt, size_t len, bool csum_ok, uint64_t now)
{
    mpx_stack_input_flags(e->st, pkt, len, csum_ok ? MPX_STACK_IN_CSUM_OK : 0, now);
}

unsigned mpx_eng_out_gso(const struct mpx_eng *e)
{
    return mpx_stack_out_gso(e->st);
}

int mpx_eng_output(struct mpx_eng *e, uint8_t *out, size_t cap, uint64_t now)
{
    int n = mpx_stack_output(e->st, out, cap, now);
    return n == MPX_ERR_NOBUF ? -ENOBUFS : (n < 0 ? 0 : n);
}

uint64_t mpx_eng_next_deadline(const struct mpx_eng *e)
{
    return mpx_stack_next_deadline(e->st);
}

void mpx_eng_on_timer(struct mpx_eng *e, uint64_t now)
{
    mpx_stack_on_timer(e->st, now);
}

int mpx_eng_poll_event(struct mpx_eng *e, struct mpx_rpc_event *ev, bool *wake)
{
    struct mpx_stack_event se;
    static const uint32_t map[] = {
        [MPX_SEV_CONN_ESTABLISHED] = MPX_RPC_EV_ESTABLISHED,
        [MPX_SEV_CONN_CLOSED] = MPX_RPC_EV_CLOSED,
        [MPX_SEV_SUB_ESTABLISHED] = MPX_RPC_EV_SF_ESTABLISHED,
        [MPX_SEV_SUB_CLOSED] = MPX_RPC_EV_SF_CLOSED,
        [MPX_SEV_ANNOUNCED] = MPX_RPC_EV_ANNOUNCED,
        [MPX_SEV_REMOVED] = MPX_RPC_EV_REMOVED,
        [MPX_SEV_FALLBACK] = MPX_RPC_EV_FALLBACK,
    };

    *wake = false;
    while (mpx_stack_poll_event(e->st, &se) == 1) {
        struct mpx_conn_info ci;
        if (se.type == MPX_SEV_READABLE || se.type == MPX_SEV_WRITABLE) {
            *wake = true;
            continue;
        }
        if ((unsigned)se.type >= sizeof(map) / sizeof(map[0]) || !map[se.type])
            continue;
        memset(ev, 0, sizeof(*ev));
        ev->type = map[se.type];
        ev->conn = se.conn;
        ev->error = mpx_rpc_errno(se.error);
        ev->locid = se.local_id;
        ev->remid = se.remote_id;
        ev->backup = se.backup ? 1 : 0;
        if (mpx_conn_get_info(e->st, se.conn, &ci) == 0)
            ev->token = ci.local_token;
        if (se.type == MPX_SEV_CONN_ESTABLISHED)
            keylog_conn(e, se.conn, false);
        if (se.type == MPX_SEV_ANNOUNCED) {
            ev->daddr = from_addr(&se.addr);
            ev->dport = se.port;
        } else if (se.type == MPX_SEV_SUB_ESTABLISHED || se.type == MPX_SEV_SUB_CLOSED) {
            ev->saddr = from_addr(&se.tuple.local);
            ev->daddr = from_addr(&se.tuple.remote);
            ev->sport = se.tuple.lport;
            ev->dport = se.tuple.rport;
        }
        return 1;
    }
    return 0;
}

long mpx_eng_connect(struct mpx_eng *e, const struct mpx_rpc_addr *local,
                     const struct mpx_rpc_addr *remote, uint16_t port, uint64_t now)
{
    return mpx_eng_connect_ext(e, local, remote, port, MPX_RPC_EXTKEY_DEFAULT, now);
}

long mpx_eng_connect_ext(struct mpx_eng *e, const struct mpx_rpc_addr *local,
                         const struct mpx_rpc_addr *remote, uint16_t port, uint8_t extkey_policy,
                         uint64_t now)
{
    struct mpx_addr l = to_addr(local), r = to_addr(remote);
    uint8_t p = extkey_policy ? extkey_policy : e->extkey_policy;
    long rc = mpx_stack_connect_ext(e->st, local->family ? &l : NULL, &r, port, ext_policy(p), now);
    if (rc == MPX_ERR_EXIST) /* connect(2): the local address is in use */
        return -EADDRINUSE;
    if (rc > 0)
        conn_defaults(e, (uint32_t)rc, now);
    return rc < 0 ? mpx_rpc_errno((int)rc) : rc;
}

/* The listener's address for the stack: family 0 = every address. */
static const struct mpx_addr *listen_addr(const struct mpx_rpc_addr *local, struct mpx_addr *buf)
{
    if (!local || !local->family)
        return NULL;
    *buf = to_addr(local);
    return buf;
}

int mpx_eng_listen_addr(struct mpx_eng *e, const struct mpx_rpc_addr *local, uint16_t port,
                        uint32_t flags, uint8_t extkey_policy)
{
    struct mpx_addr a;
    uint32_t f = (flags & MPX_ENG_LISTEN_V6ONLY ? MPX_LISTEN_V6ONLY : 0) |
                 (flags & MPX_ENG_LISTEN_REUSEPORT ? MPX_LISTEN_REUSEPORT : 0);
    /* DEFAULT follows `extkey` as it is when each SYN arrives (the
     * listener reads the host setting, like a sysctl) */
    if (!extkey_policy)
        f |= MPX_LISTEN_HOST_POLICY;
    int rc =
        mpx_stack_listen_addr(e->st, listen_addr(local, &a), port, f, ext_policy(extkey_policy));
    return rc == MPX_ERR_EXIST ? -EADDRINUSE : mpx_rpc_errno(rc);
}

void mpx_eng_unlisten_addr(struct mpx_eng *e, const struct mpx_rpc_addr *local, uint16_t port)
{
    struct mpx_addr a;
    mpx_stack_unlisten_addr(e->st, listen_addr(local, &a), port); /* NOENT: already gone */
}

long mpx_eng_accept_addr(struct mpx_eng *e, const struct mpx_rpc_addr *local, uint16_t port)
{
    struct mpx_addr a;
    long rc = mpx_stack_accept_addr(e->st, listen_addr(local, &a), port);
    if (rc > 0) /* no data went out yet: the server speaks after accept */
        conn_defaults(e, (uint32_t)rc, mpx_uloop_now_ns());
    return rc < 0 ? mpx_rpc_errno((int)rc) : rc;
}

int mpx_eng_conn_scheduler(struct mpx_eng *e, uint32_t conn)
{
    return mpx_rpc_errno(mpx_conn_set_scheduler(e->st, conn, e->scheduler));
}

long mpx_eng_send(struct mpx_eng *e, uint32_t conn, const void *buf, size_t len, uint64_t now)
{
    long rc = mpx_conn_send(e->st, conn, buf, len, now);
    return rc < 0 ? mpx_rpc_errno((int)rc) : rc;
}

long mpx_eng_recv(struct mpx_eng *e, uint32_t conn, void *buf, size_t len, uint64_t now)
{
    long rc = mpx_conn_recv(e->st, conn, buf, len, now);
    return rc < 0 ? mpx_rpc_errno((int)rc) : rc;
}

int mpx_eng_shutdown(struct mpx_eng *e, uint32_t conn, uint64_t now)
{
    return mpx_rpc_errno(mpx_conn_shutdown(e->st, conn, now));
}

int mpx_eng_close(struct mpx_eng *e, uint32_t conn, uint64_t now)
{
    return mpx_rpc_errno(mpx_conn_close(e->st, conn, now));
}

int mpx_eng_abort(struct mpx_eng *e, uint32_t conn, uint64_t now)
{
    return mpx_rpc_errno(mpx_conn_abort(e->st, conn, now));
}

/* May |conn| take its first external key? 0, -ENOENT, -EOPNOTSUPP (not in
 * E mode: RFC 8684 keys, fallback, plain TCP), -EALREADY (it has one: the
 * first key of a connection stays, notes/tlshooks.md pitfall 16). */
static int key_installable(const struct mpx_eng *e, uint32_t conn)
{
    struct mpx_conn_info ci;
    if (mpx_conn_get_info(e->st, conn, &ci) < 0)
        return -ENOENT;
    if (!ci.mptcp || ci.fallback || !ci.ext_keys)
        return -EOPNOTSUPP;
    if (ci.key_state != MPX_KEYST_NONE)
        return -EALREADY;
    return 0;
}

int mpx_eng_set_key(struct mpx_eng *e, uint32_t conn, const void *key, size_t len, uint64_t now)
{
    int rc = key_installable(e, conn);
    if (rc)
        return rc;
    rc = mpx_conn_set_key(e->st, conn, key, len, now);
    if (rc == 0)
        keylog_conn(e, conn, true);
    return rc == MPX_ERR_STATE ? -EALREADY : mpx_rpc_errno(rc);
}

int mpx_eng_set_psk(struct mpx_eng *e, uint32_t conn, const void *psk, size_t len, uint64_t now)
{
    int rc = key_installable(e, conn);
    if (rc)
        return rc;
    rc = mpx_conn_set_psk(e->st, conn, psk, len, now);
    if (rc == 0)
        keylog_conn(e, conn, true);
    return rc == MPX_ERR_STATE ? -EALREADY : mpx_rpc_errno(rc);
}

int mpx_eng_rotate_key(struct mpx_eng *e, uint32_t conn, uint64_t now)
{
    int rc = mpx_conn_rotate_key(e->st, conn, now);
    if (rc == 0)
        keylog_conn(e, conn, true);
    if (rc == MPX_ERR_STATE)
        return -EOPNOTSUPP;   /* no active key, or the previous rotation is not done */
    return mpx_rpc_errno(rc); /* MPX_ERR_AGAIN: the old key is in its grace period */
}

static uint8_t rpc_key_state(const struct mpx_conn_info *ci)
{
    if (!ci->mptcp || ci->fallback)
        return MPX_RPC_KEY_NONE;
    if (!ci->ext_keys)
        return MPX_RPC_KEY_RFC8684;
    switch (ci->key_state) {
    case MPX_KEYST_PENDING:
        return MPX_RPC_KEY_EXT_PENDING;
    case MPX_KEYST_ACTIVE:
        return MPX_RPC_KEY_EXT_ACTIVE;
    case MPX_KEYST_ROTATING:
        return MPX_RPC_KEY_EXT_ROTATING;
    case MPX_KEYST_FAILED:
        return MPX_RPC_KEY_EXT_FAILED;
    default:
        return MPX_RPC_KEY_EXT_WAIT;
    }
}

static void fill_sf(struct mpx_rpc_sf *o, const struct mpx_subflow_info *s)
{
    memset(o, 0, sizeof(*o));
    o->local = from_addr(&s->tuple.local);
    o->remote = from_addr(&s->tuple.remote);
    o->lport = s->tuple.lport;
    o->rport = s->tuple.rport;
    o->local_id = s->local_id;
    o->remote_id = s->remote_id;
    o->state = s->tcp.state <= MPX_TCP_TIME_WAIT ? s->tcp.state : 0;
    o->flags = (uint8_t)((s->backup ? MPX_RPC_SF_F_BACKUP : 0) |
                         (s->peer_backup ? MPX_RPC_SF_F_PEER_BACKUP : 0) |
                         (s->join ? MPX_RPC_SF_F_JOIN : 0) |
                         (s->established ? MPX_RPC_SF_F_ESTABLISHED : 0));
    o->srtt_us = s->tcp.srtt_us;
    o->rttvar_us = s->tcp.rttvar_us;
    o->rto_us = s->tcp.rto_us;
    o->min_rtt_us = s->tcp.min_rtt_us;
    o->snd_cwnd = s->tcp.snd_cwnd;
    o->snd_ssthresh = s->tcp.snd_ssthresh;
    o->snd_mss = s->tcp.snd_mss;
    o->rcv_mss = s->tcp.rcv_mss;
    o->unacked = s->tcp.unacked;
    o->retrans = s->tcp.retrans;
    o->snd_wnd = s->tcp.snd_wnd;
    o->rcv_wnd = s->tcp.rcv_wnd;
    o->total_retrans = s->tcp.total_retrans;
    o->bytes_sent = s->tcp.bytes_sent;
    o->bytes_received = s->tcp.bytes_received;
    o->bytes_acked = s->tcp.bytes_acked;
    o->bytes_retrans = s->tcp.bytes_retrans;
}

static uint64_t ms_ago(uint64_t t, uint64_t now)
{
    return t && now > t ? (now - t) / 1000000u : 0;
}

/* The socket options in force and the rest of struct mptcp_info. */
static void fill_opts_mpinfo(const struct mpx_eng *e, uint32_t conn, const struct mpx_conn_info *ci,
                             struct mpx_rpc_conn_info *out, uint64_t now)
{
    struct mpx_conn_opts o;

    if (mpx_conn_get_opts(e->st, conn, &o) == 0) {
        snprintf(out->cc, sizeof(out->cc), "%s", o.cc ? o.cc : "");
        out->opt_flags = (o.nodelay ? MPX_RPC_OPT_F_NODELAY : 0) |
                         (o.cork ? MPX_RPC_OPT_F_CORK : 0) |
                         (o.keepalive ? MPX_RPC_OPT_F_KEEPALIVE : 0) |
                         (o.linger_abort ? MPX_RPC_OPT_F_LINGER0 : 0);
        out->keep_idle_s = (uint32_t)(o.keep_idle / 1000000000u);
        out->keep_intvl_s = (uint32_t)(o.keep_intvl / 1000000000u);
        out->user_timeout_ms = (uint32_t)(o.user_timeout / 1000000u);
        out->keep_cnt = o.keep_cnt;
        out->tos = o.tos;
        out->ttl = o.ttl;
    }
    out->subflows_max = ci->subflows_max;
    out->subflows_total = ci->subflows_total;
    out->add_addr_signal = ci->add_addr_signal;
    out->add_addr_accepted = ci->add_addr_accepted;
    out->add_addr_signal_max = ci->add_addr_signal_max;
    out->add_addr_accepted_max = ci->add_addr_accepted_max;
    out->local_addr_used = ci->local_addr_used;
    out->local_addr_max = ci->local_addr_max;
    out->retransmits = ci->retransmits;
    out->last_data_sent_ms = ms_ago(ci->last_data_sent, now);
    out->last_data_recv_ms = ms_ago(ci->last_data_recv, now);
    out->last_ack_recv_ms = ms_ago(ci->last_ack_recv, now);
}

int mpx_eng_conn_setopt(struct mpx_eng *e, const struct mpx_rpc_setopt *o, uint64_t now)
{
    const uint64_t s = 1000000000u, ms = 1000000u;
    uint32_t c = o->conn;
    int v = o->value, rc;

    switch (o->opt) {
    case MPX_RPC_SO_NODELAY:
        rc = mpx_conn_set_nodelay(e->st, c, v != 0, now);
        break;
    case MPX_RPC_SO_CORK:
        rc = mpx_conn_set_cork(e->st, c, v != 0, now);
        break;
    case MPX_RPC_SO_KEEPALIVE:
        rc = mpx_conn_set_keepalive(e->st, c, v != 0, now);
        break;
    case MPX_RPC_SO_KEEPIDLE:
        rc = mpx_conn_set_keepalive_timers(e->st, c, (uint64_t)v * s, 0, 0, now);
        break;
    case MPX_RPC_SO_KEEPINTVL:
        rc = mpx_conn_set_keepalive_timers(e->st, c, 0, (uint64_t)v * s, 0, now);
        break;
    case MPX_RPC_SO_KEEPCNT:
        rc = mpx_conn_set_keepalive_timers(e->st, c, 0, 0, (uint8_t)v, now);
        break;
    case MPX_RPC_SO_USER_TIMEOUT:
        rc = mpx_conn_set_user_timeout(e->st, c, (uint64_t)v * ms, now);
        break;
    case MPX_RPC_SO_CONGESTION:
        rc = mpx_conn_set_cc(e->st, c, o->name, now);
        /* an unknown name is ENOENT, as Linux says */
        break;
    case MPX_RPC_SO_LINGER0:
        rc = mpx_conn_set_linger_abort(e->st, c, v != 0);
        break;
    case MPX_RPC_SO_TOS:
        rc = mpx_conn_set_ip(e->st, c, v, -1);
        break;
    case MPX_RPC_SO_TTL:
        rc = mpx_conn_set_ip(e->st, c, -1, v);
        break;
    case MPX_RPC_SO_SYNCNT:
        rc = mpx_conn_set_syn_retries(e->st, c, v);
        break;
    default:
        return -ENOPROTOOPT;
    }
    return mpx_rpc_errno(rc);
}

size_t mpx_eng_orphans(const struct mpx_eng *e, uint32_t *ids, size_t max)
{
    return mpx_stack_orphans(e->st, ids, max);
}

int mpx_eng_conn_info(const struct mpx_eng *e, uint32_t conn, struct mpx_rpc_conn_info *out,
                      uint64_t now)
{
    struct mpx_conn_info ci;
    struct mpx_subflow_info sfs[MPX_RPC_SF_MAX];
    int n;

    memset(out, 0, sizeof(*out));
    out->conn = conn;
    if (mpx_conn_get_info(e->st, conn, &ci) < 0)
        return -ENOENT;
    out->flags =
        (ci.mptcp ? MPX_RPC_CONN_F_MPTCP : 0) | (ci.fallback ? MPX_RPC_CONN_F_FALLBACK : 0) |
        (ci.csum_enabled ? MPX_RPC_CONN_F_CSUM : 0) |
        (ci.established ? MPX_RPC_CONN_F_ESTABLISHED : 0) | (ci.closed ? MPX_RPC_CONN_F_CLOSED : 0);
    out->fin = (uint8_t)((ci.fin_sent ? MPX_RPC_CONN_FIN_SENT : 0) |
                         (ci.fin_acked ? MPX_RPC_CONN_FIN_ACKED : 0) |
                         (ci.fin_in ? MPX_RPC_CONN_FIN_IN : 0));
    out->error = mpx_rpc_errno(ci.error);
    out->local_token = ci.local_token;
    out->remote_token = ci.remote_token;
    out->key_state = rpc_key_state(&ci);
    memcpy(out->key_fpr, ci.key_fpr, sizeof(out->key_fpr));
    out->key_gen = ci.key_gen;
    out->key_id = ci.key_id;
    out->write_seq = ci.write_seq;
    out->snd_una = ci.snd_una;
    out->snd_nxt = ci.snd_nxt;
    out->rcv_nxt = ci.rcv_nxt;
    out->bytes_sent = ci.bytes_sent;
    out->bytes_received = ci.bytes_received;
    out->bytes_acked = ci.bytes_acked;
    out->bytes_retrans = ci.bytes_retrans;
    out->send_queued = ci.send_queued;
    out->recv_ready = ci.recv_ready;
    fill_opts_mpinfo(e, conn, &ci, out, now);
    mpx_conn_get_bufs(e->st, conn, &out->sndbuf, &out->rcvbuf);
    n = mpx_conn_get_subflows(e->st, conn, sfs, MPX_RPC_SF_MAX, now);
    if (n < 0)
        n = 0;
    if (n > MPX_RPC_SF_MAX)
        n = MPX_RPC_SF_MAX;
    out->n_sf = (uint8_t)n;
    for (int i = 0; i < n; i++)
        fill_sf(&out->sf[i], &sfs[i]);
    if (n > 0) {
        /* the connection's tuple is its initial subflow's (ss -M shows that) */
        for (int i = 0; i < n; i++)
            if (!sfs[i].join || i == n - 1) {
                out->local = from_addr(&sfs[i].tuple.local);
                out->remote = from_addr(&sfs[i].tuple.remote);
                out->lport = sfs[i].tuple.lport;
                out->rport = sfs[i].tuple.rport;
                break;
            }
    }
    return 0;
}

/* Tcp (RFC 1213 MIB) vs TcpExt names, as nstat prints them. */
static bool is_tcp_rfc_mib(const char *n)
{
    static const char *const names[] = {
        "ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets", "CurrEstab",
        "InSegs",      "OutSegs",      "RetransSegs",  "InErrs",      "OutRsts"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(n, names[i]))
            return true;
    return false;
}

void mpx_eng_counters(const struct mpx_eng *e, mpx_eng_counter_fn fn, void *arg)
{
    const struct mpx_mptcp_mib *m = mpx_stack_mib(e->st);
    const struct mpx_mptcp_mib_name *names;
    struct mpx_tcp_mib t;
    char name[MPX_RPC_COUNTER_NAME_MAX];
    size_t n;

    names = mpx_mptcp_mib_names(&n);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const uint8_t *)m + names[i].offset, sizeof(v));
        snprintf(name, sizeof(name), "MPTcpExt%s", names[i].name);
        fn(arg, name, v);
    }
    mpx_stack_tcp_mib(e->st, &t);
#define TCP_COUNTER(f)                                                                             \
    snprintf(name, sizeof(name), "%s%s", is_tcp_rfc_mib(#f) ? "Tcp" : "TcpExt", #f);               \
    fn(arg, name, t.f);
    /* Tcp first, like nstat */
    TCP_COUNTER(ActiveOpens)
    TCP_COUNTER(PassiveOpens)
    TCP_COUNTER(AttemptFails)
    TCP_COUNTER(EstabResets)
    TCP_COUNTER(CurrEstab)
    TCP_COUNTER(InSegs)
    TCP_COUNTER(OutSegs)
    TCP_COUNTER(RetransSegs)
    TCP_COUNTER(InErrs)
    TCP_COUNTER(OutRsts)
    TCP_COUNTER(InRsts)
    TCP_COUNTER(TCPTimeouts)
    TCP_COUNTER(TCPSynRetrans)
    TCP_COUNTER(TCPSackRecovery)
    TCP_COUNTER(TCPRenoRecovery)
    TCP_COUNTER(TCPFastRetrans)
    TCP_COUNTER(TCPSlowStartRetrans)
    TCP_COUNTER(TCPLossProbes)
    TCP_COUNTER(TCPSACKReneging)
    TCP_COUNTER(TCPChallengeACK)
    TCP_COUNTER(TCPSYNChallenge)
    TCP_COUNTER(PAWSEstab)
    TCP_COUNTER(TCPOFOQueue)
    TCP_COUNTER(TCPOFODrop)
    TCP_COUNTER(TCPOFOMerge)
    TCP_COUNTER(TCPRcvQDrop)
    TCP_COUNTER(TCPAbortOnTimeout)
    TCP_COUNTER(TCPAbortOnData)
    TCP_COUNTER(TCPAbortOnClose)
    TCP_COUNTER(TCPKeepAlive)
    TCP_COUNTER(DelayedACKs)
    TCP_COUNTER(TCPPureAcks)
    TCP_COUNTER(TCPHPAcks)
    TCP_COUNTER(TCPDSACKOldSent)
    TCP_COUNTER(TCPDSACKOfoSent)
    TCP_COUNTER(TCPDSACKRecv)
    TCP_COUNTER(TCPSpuriousRTOs)
    TCP_COUNTER(TCPWinProbe)
    TCP_COUNTER(TCPZeroWindowDrop)
    TCP_COUNTER(TCPToZeroWindowAdv)
    TCP_COUNTER(TCPFromZeroWindowAdv)
    TCP_COUNTER(TCPWantZeroWindowAdv)
    TCP_COUNTER(TCPRcvCoalesce)
    TCP_COUNTER(TCPOrigDataSent)
    TCP_COUNTER(TCPLostRetransmit)
    TCP_COUNTER(TCPRetransFail)
    TCP_COUNTER(TCPOptHookFail)
    TCP_COUNTER(InDropBadAck)
    TCP_COUNTER(InDropOutOfWindow)
#undef TCP_COUNTER
    /* ICMP: the names are complete (Icmp*, Icmp6*, TcpExt*, Mpx*) */
    const struct mpx_icmp_mib *im = mpx_stack_icmp_mib(e->st);
    names = mpx_icmp_mib_names(&n);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const uint8_t *)im + names[i].offset, sizeof(v));
        fn(arg, names[i].name, v);
    }
}

/* The id of the endpoint |ep| names: its id, else its address (and port
 * when the endpoint has one), as `ip mptcp endpoint delete ADDR` finds it. */
static int endp_id(const struct mpx_pm_cfg *pc, const struct mpx_pm_endpoint *ep)
{
    struct mpx_pm_endpoint eps[MPX_PM_ENDP_MAX];
    size_t n;

    if (ep->id)
        return mpx_pm_endpoint_get(pc, ep->id) ? ep->id : -ENOENT;
    n = mpx_pm_endpoint_list(pc, eps, MPX_PM_ENDP_MAX);
    for (size_t i = 0; i < n; i++)
        if (mpx_addr_eq(&eps[i].addr, &ep->addr) && (!ep->port || eps[i].port == ep->port))
            return eps[i].id;
    return -ENOENT;
}

int mpx_eng_endpoint(struct mpx_eng *e, struct mpx_dcfg *cfg, uint16_t type,
                     const struct mpx_pm_endpoint *ep, uint64_t now)
{
    struct mpx_pm_cfg *pc = mpx_stack_pm_cfg(e->st);
    struct mpx_pm_endpoint eps[MPX_PM_ENDP_MAX];
    int rc = 0, id;

    switch (type) {
    case MPX_RPC_ENDP_ADD:
        rc = mpx_stack_endpoint_add(e->st, ep, now);
        break;
    case MPX_RPC_ENDP_DEL:
    case MPX_RPC_ENDP_CHANGE:
        id = endp_id(pc, ep);
        if (id < 0)
            return id;
        rc = type == MPX_RPC_ENDP_DEL
                 ? mpx_stack_endpoint_del(e->st, (uint8_t)id, now)
                 : mpx_stack_endpoint_change(e->st, (uint8_t)id, ep->flags, now);
        break;
    case MPX_RPC_ENDP_FLUSH: {
        /* one by one, so that every connection hears of each removal */
        size_t n = mpx_pm_endpoint_list(pc, eps, MPX_PM_ENDP_MAX);
        for (size_t i = 0; i < n; i++)
            mpx_stack_endpoint_del(e->st, eps[i].id, now);
        break;
    }
    default:
        return -EINVAL;
    }
    if (rc < 0)
        return mpx_rpc_errno(rc);
    cfg->pm = *pc;
    return 0;
}

int mpx_eng_limits(struct mpx_eng *e, struct mpx_dcfg *cfg, int subflows, int add_addr_accepted)
{
    struct mpx_pm_cfg *pc = mpx_stack_pm_cfg(e->st);
    /* connections read the limits from the shared configuration at each
     * decision, as the kernel's PM reads its pernet data */
    if (mpx_pm_limits_set(pc, subflows, add_addr_accepted))
        return -EINVAL;
    cfg->pm = *pc;
    return 0;
}

void mpx_eng_config_changed(struct mpx_eng *e, const struct mpx_dcfg *cfg, const char *what)
{
    struct mpx_pm_cfg *pc = mpx_stack_pm_cfg(e->st);
    /* the PM knobs that are plain fields of the shared configuration */
    if (!strcmp(what, "add-addr-timeout"))
        pc->add_addr_timeout_ns = cfg->pm.add_addr_timeout_ns;
    else if (!strcmp(what, "path-manager"))
        pc->pm_type = cfg->pm.pm_type; /* taken by new connections */
    else if (!strcmp(what, "allow-join-initial-addr-port"))
        pc->allow_join_initial_addr_port = cfg->pm.allow_join_initial_addr_port;
    else if (!strcmp(what, "extkey")) {
        /* new active opens, and SYNs to the listeners that did not choose
         * a policy of their own (they read the stack's at each SYN) */
        e->extkey_policy = cfg->extkey_policy;
        mpx_stack_set_ext_policy(e->st, ext_policy(cfg->extkey_policy));
    } else if (!strcmp(what, "limits"))
        mpx_pm_limits_set(pc, cfg->pm.limit_subflows, cfg->pm.limit_add_addr_accepted);
    else if (!strcmp(what, "scheduler")) /* new connections; rpcsrv.c switches the others */
        snprintf(e->scheduler, sizeof(e->scheduler), "%s", cfg->scheduler);
    else if (!strcmp(what, "cc")) /* new connections, like tcp_congestion_control */
        snprintf(e->cc, sizeof(e->cc), "%s", cfg->cc);
    else if (!strcmp(what, "sndbuf") || !strcmp(what, "rcvbuf"))
        mpx_stack_set_bufs(e->st, cfg->sndbuf, cfg->rcvbuf); /* new connections; range checked */
    else if (!strcmp(what, "checksum")) /* new connections, like net.mptcp.checksum_enabled */
        mpx_stack_set_checksum(e->st, cfg->checksum);
    else if (!strcmp(what, "pacing")) /* new connections */
        mpx_stack_set_pacing(e->st, cfg->pacing);
    /* mptcp (net.mptcp.enabled) stays startup-only (config.c) */
}
