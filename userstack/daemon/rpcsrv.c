/*
 * rpcsrv.c - the control socket of mptcpextd (protocol: rpc.h).
 *
 * AF_UNIX SOCK_SEQPACKET, mode 0666: who may do what is decided per client
 * from SO_PEERCRED, not by file permissions. root (uid 0) may change the
 * configuration (like CAP_NET_ADMIN for `ip mptcp`) and sees every
 * connection; other users see and act only on their own. Readiness comes
 * from io_uring poll operations on the loop; messages are read with
 * recvmsg() (SCM_RIGHTS) until EAGAIN. Every message goes through
 * mpx_rpc_decode(); a malformed one disconnects that client only, and is
 * counted (RpcMalformed) and logged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "engine.h"

enum { OP_ACCEPT = 1, OP_CLIENT, OP_SIG, OP_CANCEL };

#define MAX_FDS         4
#define MSGS_PER_WAKEUP 64
#define CLIENT_SNDBUF   (1 << 20)

static void arm_poll(struct mpxd *d, int fd, uint8_t op, uint32_t idx)
{
    struct io_uring_sqe *sqe = mpx_uloop_sqe(&d->loop);
    if (!sqe) {
        mpxd_log(d, MPX_DLOG_ERROR, "io_uring SQ full: poll on fd %d not armed", fd);
        return;
    }
    io_uring_prep_poll_add(sqe, fd, POLLIN);
    io_uring_sqe_set_data64(sqe, mpx_uloop_ud(d->src_rpc, op, idx));
}

struct mpxd_client *mpxd_client_get(struct mpxd *d, uint32_t cidx)
{
    uint16_t slot = (uint16_t)(cidx & 0xffff), gen = (uint16_t)(cidx >> 16);
    if (slot >= MPXD_MAX_CLIENTS || !d->clients[slot].used || d->clients[slot].gen != gen)
        return NULL;
    return &d->clients[slot];
}

static uint32_t cidx_of(struct mpxd *d, const struct mpxd_client *c)
{
    return mpxd_idx((uint16_t)(c - d->clients), c->gen);
}

static void drop_client(struct mpxd *d, struct mpxd_client *c)
{
    uint32_t cidx = cidx_of(d, c);
    struct io_uring_sqe *sqe = mpx_uloop_sqe(&d->loop);

    if (sqe) {
        /* the pending poll holds a file reference: cancel it */
        io_uring_prep_cancel64(sqe, mpx_uloop_ud(d->src_rpc, OP_CLIENT, cidx), 0);
        io_uring_sqe_set_data64(sqe, mpx_uloop_ud(d->src_rpc, OP_CANCEL, 0));
    }
    mpxd_log(d, MPX_DLOG_DEBUG, "client pid %d uid %u left", (int)c->pid, (unsigned)c->uid);
    close(c->fd);
    c->used = false;
    c->monitor = false;
    c->gen++;
    if (c->gen == 0)
        c->gen = 1;
    mpxd_client_gone(d, cidx);
}

bool mpxd_rpc_send(struct mpxd *d, uint32_t cidx, uint16_t type, uint32_t id, const void *body,
                   size_t len)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    uint8_t msg[MPX_RPC_MSG_MAX];
    size_t n;

    if (!c)
        return false;
    n = mpx_rpc_encode(msg, sizeof(msg), type, id, body, len);
    if (n == 0) {
        mpxd_log(d, MPX_DLOG_ERROR, "internal: cannot encode %s", mpx_rpc_type_name(type));
        return false;
    }
    if (send(c->fd, msg, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n)
        return true;
    if (type == MPX_RPC_EVENT && errno == EAGAIN) {
        d->mib.MonitorDrops++;
        return true;
    }
    d->mib.RpcSendFail++;
    mpxd_log(d, MPX_DLOG_WARN, "client pid %d: send %s: %s; disconnecting", (int)c->pid,
             mpx_rpc_type_name(type), strerror(errno));
    drop_client(d, c);
    return false;
}

bool mpxd_rpc_status(struct mpxd *d, uint32_t cidx, uint32_t id, int status, const char *fmt, ...)
{
    struct mpx_rpc_status s;
    va_list ap;

    memset(&s, 0, sizeof(s));
    s.status = status;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(s.msg, sizeof(s.msg), fmt, ap);
        va_end(ap);
    }
    return mpxd_rpc_send(d, cidx, MPX_RPC_STATUS, id, &s, sizeof(s));
}

/* ---- requests --------------------------------------------------------------- */

static bool need_root(struct mpxd *d, struct mpxd_client *c, uint32_t id)
{
    if (c->uid == 0)
        return true;
    d->mib.RpcDenied++;
    mpxd_rpc_status(d, cidx_of(d, c), id, -EPERM, "Operation not permitted (needs root)");
    return false;
}

static const char *endp_err(int rc)
{
    switch (rc) {
    case -EEXIST:
        return "address or id already in use";
    case -ENOSPC:
        return "too many endpoints (8 at most)";
    case -ENOENT:
        return "no such endpoint";
    default:
        return "invalid endpoint (flags/port: port needs signal, signal excludes fullmesh)";
    }
}

static void req_endp(struct mpxd *d, struct mpxd_client *c, const struct mpx_rpc_hdr *h,
                     const void *body)
{
    uint32_t cidx = cidx_of(d, c);
    struct mpx_pm_endpoint pe, eps[MPX_PM_ENDP_MAX];
    int rc;

    memset(&pe, 0, sizeof(pe));
    if (h->type != MPX_RPC_ENDP_SHOW && !need_root(d, c, h->id))
        return;
    if (body)
        mpx_dcfg_endp_to_pm(body, &pe);
    if (h->type == MPX_RPC_ENDP_SHOW) {
        struct mpx_rpc_endp_list l;
        size_t n = mpx_pm_endpoint_list(&d->cfg.pm, eps, MPX_PM_ENDP_MAX);
        memset(&l, 0, sizeof(l));
        l.n = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            mpx_dcfg_endp_from_pm(&eps[i], &l.e[i]);
        mpxd_rpc_send(d, cidx, MPX_RPC_ENDP_LIST, h->id, &l,
                      mpx_rpc_body_size(MPX_RPC_ENDP_LIST, l.n));
        return;
    }
    rc = mpx_eng_endpoint(d->eng, &d->cfg, h->type, &pe, mpxd_now());
    if (rc == 0)
        mpxd_log(d, MPX_DLOG_INFO, "endpoint %s by uid %u", mpx_rpc_type_name(h->type),
                 (unsigned)c->uid);
    mpxd_rpc_status(d, cidx, h->id, rc, "%s", rc ? endp_err(rc) : "");
}

static void req_limits(struct mpxd *d, struct mpxd_client *c, const struct mpx_rpc_hdr *h,
                       const struct mpx_rpc_limits *l)
{
    uint32_t cidx = cidx_of(d, c);
    struct mpx_rpc_limits out;

    if (h->type == MPX_RPC_LIMITS_GET) {
        out.subflows = d->cfg.pm.limit_subflows;
        out.add_addr_accepted = d->cfg.pm.limit_add_addr_accepted;
        mpxd_rpc_send(d, cidx, MPX_RPC_LIMITS, h->id, &out, sizeof(out));
        return;
    }
    if (!need_root(d, c, h->id))
        return;
    if (mpx_eng_limits(d->eng, &d->cfg, l->subflows, l->add_addr_accepted)) {
        mpxd_rpc_status(d, cidx, h->id, -EINVAL, "limits out of range (0..%d)", MPX_PM_LIMIT_MAX);
        return;
    }
    mpxd_rpc_status(d, cidx, h->id, 0, NULL);
}

/* `set scheduler`: running connections switch too (their data in flight
 * stays where it is; the next decisions are the new scheduler's). */
static void sched_one(struct mpxd *d, void *arg, uint32_t conn, uid_t uid, uint32_t flags,
                      const struct mpxd_bridge *b, const struct mpxd_listener *l)
{
    (void)arg, (void)uid, (void)flags, (void)b;
    if (conn && !l)
        mpx_eng_conn_scheduler(d->eng, conn);
}

static void req_opt(struct mpxd *d, struct mpxd_client *c, const struct mpx_rpc_hdr *h,
                    const struct mpx_rpc_opt *o)
{
    uint32_t cidx = cidx_of(d, c);
    char err[200];
    struct mpx_rpc_opt out;
    int rc;

    if (h->type == MPX_RPC_OPT_GET && !strcmp(o->key, "*")) {
        /* every setting, live (`mptcpext get`): OPT messages, then END */
        struct mpx_rpc_status end;
        const char *k;
        for (int i = 0; (k = mpx_dcfg_key_name(i)); i++) {
            memset(&out, 0, sizeof(out));
            snprintf(out.key, sizeof(out.key), "%s", k);
            mpx_dcfg_get(&d->cfg, k, out.value, sizeof(out.value));
            if (!mpxd_rpc_send(d, cidx, MPX_RPC_OPT, h->id, &out, sizeof(out)))
                return;
        }
        memset(&end, 0, sizeof(end));
        mpxd_rpc_send(d, cidx, MPX_RPC_END, h->id, &end, sizeof(end));
        return;
    }
    if (h->type == MPX_RPC_OPT_GET) {
        memset(&out, 0, sizeof(out));
        memcpy(out.key, o->key, sizeof(out.key));
        if (mpx_dcfg_get(&d->cfg, o->key, out.value, sizeof(out.value))) {
            mpxd_rpc_status(d, cidx, h->id, -ENOENT, "unknown key \"%s\"", o->key);
            return;
        }
        mpxd_rpc_send(d, cidx, MPX_RPC_OPT, h->id, &out, sizeof(out));
        return;
    }
    if (!need_root(d, c, h->id))
        return;
    rc = mpx_dcfg_set(&d->cfg, o->key, o->value, err, sizeof(err));
    if (rc == 0) {
        mpx_eng_config_changed(d->eng, &d->cfg, o->key);
        if (!strcmp(o->key, "scheduler"))
            mpxd_conns_foreach(d, sched_one, NULL);
        mpxd_log(d, MPX_DLOG_INFO, "set %s %s", o->key, o->value);
    } else {
        /* nothing changed; the operator sees why here and in the reply */
        d->mib.ConfigRejected++;
        mpxd_log(d, MPX_DLOG_WARN, "set %s %s by uid %u refused: %s", o->key, o->value,
                 (unsigned)c->uid, err);
    }
    mpxd_rpc_status(d, cidx, h->id, rc, "%s", rc ? err : "");
}

struct list_ctx {
    struct mpxd_client *c;
    uint32_t cidx, id;
    bool ok;
};

static void list_one(struct mpxd *d, void *arg, uint32_t conn, uid_t uid, uint32_t flags,
                     const struct mpxd_bridge *b, const struct mpxd_listener *l)
{
    struct list_ctx *lc = arg;
    struct mpx_rpc_conn_info ci;

    if (!lc->ok || (lc->c->uid != 0 && lc->c->uid != uid))
        return;
    if (l) {
        memset(&ci, 0, sizeof(ci));
        ci.local = l->local; /* family 0: every address */
        ci.lport = l->port;
        ci.extkey_policy = l->extkey_policy ? l->extkey_policy : d->cfg.extkey_policy;
    } else if (mpx_eng_conn_info(d->eng, conn, &ci, mpxd_now()) < 0) {
        return;
    }
    ci.uid = (uint32_t)uid;
    ci.flags |= flags;
    if (b)
        ci.extkey_policy = b->extkey_policy;
    lc->ok = mpxd_rpc_send(d, lc->cidx, MPX_RPC_CONN_INFO, lc->id, &ci,
                           mpx_rpc_body_size(MPX_RPC_CONN_INFO, ci.n_sf));
}

struct counters_ctx {
    struct mpxd *d;
    struct mpx_rpc_counters msg;
    uint32_t cidx, id;
    bool zeros, ok;
};

static void counter_out(void *arg, const char *name, uint64_t value)
{
    struct counters_ctx *cc = arg;
    struct mpx_rpc_counter *e;

    if (!cc->ok || (!value && !cc->zeros))
        return;
    e = &cc->msg.c[cc->msg.n++];
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->value = value;
    if (cc->msg.n == MPX_RPC_COUNTERS_MAX) {
        cc->ok = mpxd_rpc_send(cc->d, cc->cidx, MPX_RPC_COUNTERS, cc->id, &cc->msg,
                               mpx_rpc_body_size(MPX_RPC_COUNTERS, cc->msg.n));
        memset(&cc->msg, 0, sizeof(cc->msg));
    }
}

static void req_counters(struct mpxd *d, struct mpxd_client *c, const struct mpx_rpc_hdr *h,
                         const struct mpx_rpc_list_req *r)
{
    struct counters_ctx *cc = calloc(1, sizeof(*cc));
    struct mpx_rpc_status end;

    if (!cc) {
        mpxd_rpc_status(d, cidx_of(d, c), h->id, -ENOMEM, "out of memory");
        return;
    }
    cc->d = d;
    cc->cidx = cidx_of(d, c);
    cc->id = h->id;
    cc->zeros = r->flags & MPX_RPC_LIST_F_ZEROS;
    cc->ok = true;
    mpx_eng_counters(d->eng, counter_out, cc);
#define MPXD_COUNTER(n) counter_out(cc, "Mpxd" #n, d->mib.n);
    MPXD_MIB_LIST(MPXD_COUNTER)
#undef MPXD_COUNTER
    if (cc->ok && cc->msg.n)
        cc->ok = mpxd_rpc_send(d, cc->cidx, MPX_RPC_COUNTERS, h->id, &cc->msg,
                               mpx_rpc_body_size(MPX_RPC_COUNTERS, cc->msg.n));
    if (cc->ok) {
        memset(&end, 0, sizeof(end));
        mpxd_rpc_send(d, cc->cidx, MPX_RPC_END, h->id, &end, sizeof(end));
    }
    free(cc);
}

static void req_abort(struct mpxd *d, struct mpxd_client *c, uint32_t id, uint32_t conn)
{
    uid_t owner = mpxd_conn_owner(d, conn);
    int rc;

    if (owner == (uid_t)-1 || (c->uid != 0 && owner != c->uid)) {
        if (owner != (uid_t)-1)
            d->mib.RpcDenied++;
        mpxd_rpc_status(d, cidx_of(d, c), id, -ENOENT, "no such connection");
        return;
    }
    rc = mpx_eng_abort(d->eng, conn, mpxd_now());
    mpxd_rpc_status(d, cidx_of(d, c), id, rc, rc ? "abort failed" : "");
}

/* External key of one connection (issue 8), for its owner (or root) only:
 * a key set by someone else would hijack the connection's subflows. */
static void req_key(struct mpxd *d, struct mpxd_client *c, const struct mpx_rpc_hdr *h,
                    const void *body)
{
    const struct mpx_rpc_conn_key *k = body;
    uint32_t conn =
        h->type == MPX_RPC_CONN_SETKEY ? k->conn : ((const struct mpx_rpc_conn_ref *)body)->conn;
    uid_t owner = mpxd_conn_owner(d, conn);
    int rc;

    if (owner == (uid_t)-1 || (c->uid != 0 && owner != c->uid)) {
        if (owner != (uid_t)-1)
            d->mib.RpcDenied++;
        mpxd_rpc_status(d, cidx_of(d, c), h->id, -ENOENT, "no such connection");
        return;
    }
    if (h->type == MPX_RPC_CONN_SETKEY)
        rc = mpx_eng_set_key(d->eng, conn, k->key, k->key_len, mpxd_now());
    else
        rc = mpx_eng_rotate_key(d->eng, conn, mpxd_now());
    /* never the key, only that it happened */
    mpxd_log(d, MPX_DLOG_DEBUG, "conn %u: %s by pid %d: %s", conn, mpx_rpc_type_name(h->type),
             (int)c->pid, rc ? strerror(-rc) : "ok");
    mpxd_rpc_status(d, cidx_of(d, c), h->id, rc, "%s",
                    rc == -EOPNOTSUPP ? "the connection does not use external keys"
                    : rc == -EALREADY ? "the connection already has its key"
                    : rc == -EAGAIN   ? "the previous key is still in its grace period"
                    : rc              ? "failed"
                                      : "");
}

/* The daemon's side of one connection for CONN_GET: whether it was
 * accepted (the shim's TLS host orders the tokens initiator first) and its
 * external-key policy. */
struct role_ctx {
    uint32_t conn, flags;
    uint8_t policy;
};

static void role_one(struct mpxd *d, void *arg, uint32_t conn, uid_t uid, uint32_t flags,
                     const struct mpxd_bridge *b, const struct mpxd_listener *l)
{
    struct role_ctx *r = arg;
    (void)d;
    (void)uid;
    if (l || conn != r->conn)
        return;
    r->flags |= flags;
    if (b)
        r->policy = b->extkey_policy;
}

/* One connection, for its owner (or root): the shim's getsockname,
 * getpeername and TCP_INFO. */
static void req_conn_get(struct mpxd *d, struct mpxd_client *c, uint32_t id, uint32_t conn)
{
    uid_t owner = mpxd_conn_owner(d, conn);
    struct mpx_rpc_conn_info ci;

    if (owner == (uid_t)-1 || (c->uid != 0 && owner != c->uid) ||
        mpx_eng_conn_info(d->eng, conn, &ci, mpxd_now()) < 0) {
        if (owner != (uid_t)-1 && c->uid != 0 && owner != c->uid)
            d->mib.RpcDenied++;
        mpxd_rpc_status(d, cidx_of(d, c), id, -ENOENT, "no such connection");
        return;
    }
    ci.uid = (uint32_t)owner;
    struct role_ctx role = {conn, 0, 0};
    mpxd_conns_foreach(d, role_one, &role);
    ci.flags |= role.flags;
    if (role.policy)
        ci.extkey_policy = role.policy;
    mpxd_rpc_send(d, cidx_of(d, c), MPX_RPC_CONN_INFO, id, &ci,
                  mpx_rpc_body_size(MPX_RPC_CONN_INFO, ci.n_sf));
}

/* CONN_SETOPT (the shim's setsockopt): fire and forget unless the client
 * asks for a STATUS; a refused one is counted and logged, never answered
 * (an unsolicited reply would be read as the answer to the next call). */
static void req_setopt(struct mpxd *d, struct mpxd_client *c, uint32_t id,
                       const struct mpx_rpc_setopt *o)
{
    uid_t owner;
    int rc = -ENOENT;

    d->mib.ShimSetopts++;
    /* nginx toggles options of one connection per response: the owner
     * lookup (a scan of the bridges) is done once per connection; ids are
     * never reused, and a closed connection is refused by the engine */
    if (o->conn == c->setopt_conn) {
        rc = mpx_eng_conn_setopt(d->eng, o, mpxd_now());
    } else if ((owner = mpxd_conn_owner(d, o->conn)) != (uid_t)-1 &&
               (c->uid == 0 || owner == c->uid)) {
        c->setopt_conn = o->conn;
        rc = mpx_eng_conn_setopt(d->eng, o, mpxd_now());
    } else if (owner != (uid_t)-1) {
        d->mib.RpcDenied++;
    }
    if (rc) {
        d->mib.ShimSetoptFail++;
        mpxd_log(d, MPX_DLOG_DEBUG, "client pid %d: setopt %u on conn %u: %s", (int)c->pid, o->opt,
                 o->conn, strerror(-rc));
    }
    if (o->flags & MPX_RPC_SETOPT_F_REPLY)
        mpxd_rpc_status(d, cidx_of(d, c), id, rc, "%s", rc ? strerror(-rc) : "");
}

/* Takes ownership of |fds|. */
static void dispatch(struct mpxd *d, struct mpxd_client *c, const struct mpx_rpc_hdr *h,
                     const void *body, int *fds, int nfds)
{
    uint32_t cidx = cidx_of(d, c);
    int fd = nfds ? fds[0] : -1;

    d->mib.RpcRequests++;
    switch (h->type) {
    case MPX_RPC_ENDP_ADD:
    case MPX_RPC_ENDP_DEL:
    case MPX_RPC_ENDP_CHANGE:
        req_endp(d, c, h, body);
        break;
    case MPX_RPC_ENDP_FLUSH:
    case MPX_RPC_ENDP_SHOW:
        req_endp(d, c, h, NULL);
        break;
    case MPX_RPC_LIMITS_SET:
    case MPX_RPC_LIMITS_GET:
        req_limits(d, c, h, body);
        break;
    case MPX_RPC_OPT_SET:
    case MPX_RPC_OPT_GET:
        req_opt(d, c, h, body);
        break;
    case MPX_RPC_CONN_LIST: {
        struct list_ctx lc = {c, cidx, h->id, true};
        struct mpx_rpc_status end;
        mpxd_conns_foreach(d, list_one, &lc);
        memset(&end, 0, sizeof(end));
        if (lc.ok)
            mpxd_rpc_send(d, cidx, MPX_RPC_END, h->id, &end, sizeof(end));
        break;
    }
    case MPX_RPC_CONN_ABORT:
        req_abort(d, c, h->id, ((const struct mpx_rpc_conn_ref *)body)->conn);
        break;
    case MPX_RPC_CONN_GET:
        req_conn_get(d, c, h->id, ((const struct mpx_rpc_conn_ref *)body)->conn);
        break;
    case MPX_RPC_CONN_SETOPT:
        req_setopt(d, c, h->id, body);
        break;
    case MPX_RPC_CONN_SETKEY:
    case MPX_RPC_CONN_ROTATE:
        req_key(d, c, h, body);
        break;
    case MPX_RPC_CONN_FIND:
        mpxd_conn_find(d, c, h->id, body);
        break;
    case MPX_RPC_COUNTERS_GET:
        req_counters(d, c, h, body);
        break;
    case MPX_RPC_MONITOR:
        c->monitor = true;
        c->monitor_id = h->id;
        mpxd_rpc_status(d, cidx, h->id, 0, NULL);
        break;
    case MPX_RPC_CONNECT:
        mpxd_bridge_connect(d, cidx, h->id, body, fd);
        fd = -1;
        break;
    case MPX_RPC_LISTEN:
        mpxd_listen(d, cidx, h->id, body, fd);
        fd = -1;
        break;
    case MPX_RPC_UNLISTEN:
        mpxd_unlisten(d, cidx, h->id, body);
        break;
    case MPX_RPC_ACCEPT:
        mpxd_accept(d, cidx, h->id, body, fd);
        fd = -1;
        break;
    case MPX_RPC_SOCK_BIND:
    case MPX_RPC_SOCK_CONNECT:
    case MPX_RPC_SOCK_LISTEN:
    case MPX_RPC_SOCK_GET:
    case MPX_RPC_SOCK_CLOSE:
    case MPX_RPC_SOCK_CONNECT_NAMED:
        mpxd_sock_request(d, cidx, h->type, h->id, body, fd);
        fd = -1;
        break;
    }
    for (int i = fd < 0 ? 1 : 0; i < nfds; i++)
        close(fds[i]);
}

/* ---- reading ---------------------------------------------------------------- */

static void malformed(struct mpxd *d, struct mpxd_client *c, const char *what, const char *why)
{
    d->mib.RpcMalformed++;
    mpxd_log(d, MPX_DLOG_WARN, "client pid %d uid %u: malformed message (%s%s%s); disconnecting",
             (int)c->pid, (unsigned)c->uid, what, *why ? ": " : "", why);
    drop_client(d, c);
}

/* The fds of SCM_RIGHTS; -1 if a control message is not SCM_RIGHTS or
 * carries more than MAX_FDS (those are closed). */
static int collect_fds(struct msghdr *mh, int *fds)
{
    int n = 0;
    bool bad = false;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *p = (int *)CMSG_DATA(cm);
            for (int i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, p + i, sizeof(fd));
                if (n < MAX_FDS)
                    fds[n++] = fd;
                else {
                    close(fd);
                    bad = true;
                }
            }
        } else {
            bad = true;
        }
    }
    if (bad) {
        for (int i = 0; i < n; i++)
            close(fds[i]);
        return -1;
    }
    return n;
}

/* One message; false when the client is gone or nothing is left. */
static bool read_one(struct mpxd *d, struct mpxd_client *c)
{
    static _Alignas(8) uint8_t buf[MPX_RPC_MSG_MAX + 1], body[MPX_RPC_BODY_MAX];
    union {
        char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
    struct mpx_rpc_hdr h;
    const char *why = "";
    int fds[MAX_FDS], nfds, rc;
    ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return false;
    if (n <= 0) {
        drop_client(d, c);
        return false;
    }
    nfds = collect_fds(&mh, fds);
    if (nfds < 0 || (mh.msg_flags & MSG_CTRUNC)) {
        for (int i = 0; nfds > 0 && i < nfds; i++)
            close(fds[i]);
        malformed(d, c, "bad control message", "");
        return false;
    }
    rc = (mh.msg_flags & MSG_TRUNC) ? MPX_RPC_E_TOOBIG
                                    : mpx_rpc_decode(buf, (size_t)n, nfds, MPX_RPC_TO_DAEMON, &h,
                                                     body, sizeof(body), &why);
    if (rc != MPX_RPC_OK) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        malformed(d, c, mpx_rpc_reject_name(rc), why);
        return false;
    }
    mpxd_log(d, MPX_DLOG_DEBUG, "client pid %d: %s id %u", (int)c->pid, mpx_rpc_type_name(h.type),
             h.id);
    dispatch(d, c, &h, body, fds, nfds);
    /* keys and PSKs do not linger in the static buffers */
    explicit_bzero(buf, (size_t)n);
    explicit_bzero(body, sizeof(body));
    return c->used;
}

static void on_client(struct mpxd *d, uint32_t cidx, int32_t res)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    int i;

    if (!c || res == -ECANCELED)
        return;
    for (i = 0; i < MSGS_PER_WAKEUP && read_one(d, c); i++)
        ;
    if (c->used && c->gen == (uint16_t)(cidx >> 16))
        arm_poll(d, c->fd, OP_CLIENT, cidx);
}

static void on_accept(struct mpxd *d)
{
    for (;;) {
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        int fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), slot = -1;
        int sb = CLIENT_SNDBUF;

        if (fd < 0)
            break;
        for (int i = 0; i < MPXD_MAX_CLIENTS; i++)
            if (!d->clients[i].used) {
                slot = i;
                break;
            }
        if (slot < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl)) {
            d->mib.RpcClientsRefused++;
            mpxd_log(d, MPX_DLOG_WARN, "control client refused: %s",
                     slot < 0 ? "too many clients" : strerror(errno));
            close(fd);
            continue;
        }
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof(sb)))
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
        struct mpxd_client *c = &d->clients[slot];
        if (c->gen == 0)
            c->gen = 1;
        c->used = true;
        c->fd = fd;
        c->uid = cred.uid;
        c->pid = cred.pid;
        c->monitor = false;
        c->setopt_conn = 0;
        d->mib.RpcClients++;
        mpxd_log(d, MPX_DLOG_DEBUG, "client pid %d uid %u connected", (int)c->pid,
                 (unsigned)c->uid);
        arm_poll(d, fd, OP_CLIENT, cidx_of(d, c));
    }
    arm_poll(d, d->lfd, OP_ACCEPT, 0);
}

static void on_signal(struct mpxd *d)
{
    struct signalfd_siginfo si;
    while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            mpxd_log(d, MPX_DLOG_INFO, "SIGHUP ignored (use `mptcpext set` to change settings)");
            continue;
        }
        mpxd_log(d, MPX_DLOG_INFO, "signal %u: shutting down", si.ssi_signo);
        d->stop = true;
    }
    if (!d->stop)
        arm_poll(d, d->sigfd, OP_SIG, 0);
}

static void rpc_cqe(void *ctx, uint8_t op, uint32_t idx, int32_t res, uint32_t flags)
{
    struct mpxd *d = ctx;
    (void)flags;
    switch (op) {
    case OP_ACCEPT:
        if (d->lfd >= 0)
            on_accept(d);
        break;
    case OP_CLIENT:
        on_client(d, idx, res);
        break;
    case OP_SIG:
        on_signal(d);
        break;
    default:
        break;
    }
}

/* mkdir -p of the socket's directory (0755). */
static void make_dirs(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
}

int mpxd_rpc_open(struct mpxd *d)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = d->cfg.socket_path;
    int fd, probe;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        mpxd_log(d, MPX_DLOG_ERROR, "socket path too long: %s", path);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    make_dirs(path);
    /* a live daemon answers on the path: never steal its socket */
    probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        close(probe);
        mpxd_log(d, MPX_DLOG_ERROR, "another mptcpextd is serving %s", path);
        return -EADDRINUSE;
    }
    if (probe >= 0)
        close(probe);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0666) ||
        listen(fd, 64)) {
        int e = errno;
        mpxd_log(d, MPX_DLOG_ERROR, "control socket %s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    d->lfd = fd;
    d->src_rpc = (uint16_t)mpx_uloop_src_add(&d->loop, rpc_cqe, d);
    arm_poll(d, d->lfd, OP_ACCEPT, 0);
    arm_poll(d, d->sigfd, OP_SIG, 0);
    return 0;
}

void mpxd_rpc_close(struct mpxd *d)
{
    for (int i = 0; i < MPXD_MAX_CLIENTS; i++)
        if (d->clients[i].used)
            drop_client(d, &d->clients[i]);
    if (d->lfd >= 0) {
        close(d->lfd);
        d->lfd = -1;
        unlink(d->cfg.socket_path);
    }
}
