/*
 * bridge.c - app data bridges and listeners of mptcpextd (DESIGN decision 2).
 *
 * A bridge joins an AF_UNIX SOCK_STREAM socket (the far end of the app's
 * data fd, received with SCM_RIGHTS) to one MPTCP connection of the stack:
 *
 *   app -> net: one io_uring READ in flight into rbuf; the bytes go to
 *     mpx_conn_send(); what the connection's send buffer does not take stays
 *     in rbuf and no new READ is queued until it is gone (backpressure: the
 *     app's writes block when the socket buffer fills). READ 0 = the app shut
 *     its side: mpx_conn_shutdown() (DATA_FIN after the queued data).
 *   net -> app: mpx_conn_recv() into wbuf only when no WRITE is in flight;
 *     a WRITE waits in the kernel while the app does not read (backpressure:
 *     the connection's receive window closes). recv 0 (DATA_FIN, all read) =
 *     shutdown(SHUT_WR) on the bridge: the app reads EOF.
 *   orphans: once the app has closed its fd completely (EPIPE on a write,
 *     or POLLHUP), the bridge hands the connection to the stack with
 *     mpx_conn_close(): it finishes sending what the app wrote, like a
 *     kernel orphan socket.
 *
 * Buffers stay allocated until every io_uring operation of the bridge has
 * completed (a cancelled READ may still have written into its buffer).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "engine.h"

enum { OP_READ = 1, OP_WRITE, OP_CANCEL };

static uint32_t bidx(const struct mpxd *d, const struct mpxd_bridge *b)
{
    return mpxd_idx((uint16_t)(b - d->bridges), b->gen);
}

static struct mpxd_bridge *bridge_get(struct mpxd *d, uint32_t idx)
{
    uint16_t slot = (uint16_t)(idx & 0xffff);
    if (slot >= MPXD_MAX_BRIDGES || d->bridges[slot].state == MPXD_BR_FREE ||
        d->bridges[slot].gen != (uint16_t)(idx >> 16))
        return NULL;
    return &d->bridges[slot];
}

static unsigned conn_bucket(uint32_t conn)
{
    return (conn * 2654435761u) >> 22 & (MPXD_CONN_HASH - 1);
}

/* Bridges with a connection (CONNECTING, OPEN) are in d->conn_hash: one
 * lookup per stack event and per RPC instead of a walk of all 1024 slots. */
static void hash_add(struct mpxd *d, struct mpxd_bridge *b)
{
    uint16_t *head = &d->conn_hash[conn_bucket(b->conn)];
    b->hnext = *head;
    *head = (uint16_t)(b - d->bridges + 1);
}

static void hash_del(struct mpxd *d, struct mpxd_bridge *b)
{
    uint16_t *p = &d->conn_hash[conn_bucket(b->conn)];
    uint16_t me = (uint16_t)(b - d->bridges + 1);
    while (*p && *p != me)
        p = &d->bridges[*p - 1].hnext;
    if (*p)
        *p = b->hnext;
    b->hnext = 0;
}

static struct mpxd_bridge *bridge_by_conn(struct mpxd *d, uint32_t conn)
{
    for (uint16_t i = d->conn_hash[conn_bucket(conn)]; i; i = d->bridges[i - 1].hnext) {
        struct mpxd_bridge *b = &d->bridges[i - 1];
        if ((b->state == MPXD_BR_CONNECTING || b->state == MPXD_BR_OPEN) && b->conn == conn)
            return b;
    }
    return NULL;
}

/* The fd must be an AF_UNIX stream socket: anything else would make the
 * daemon read a file or a device on the client's behalf. */
static int check_bridge_fd(int fd)
{
    int type = 0, dom = 0;
    socklen_t l = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) || type != SOCK_STREAM)
        return -EINVAL;
    l = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) || dom != AF_UNIX)
        return -EINVAL;
    /* blocking: io_uring arms its own poll (O_NONBLOCK would give -EAGAIN) */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return 0;
}

static struct mpxd_bridge *bridge_new(struct mpxd *d, int fd, uint32_t conn, uid_t uid)
{
    for (int i = 0; i < MPXD_MAX_BRIDGES; i++) {
        struct mpxd_bridge *b = &d->bridges[i];
        uint16_t gen;
        if (b->state != MPXD_BR_FREE)
            continue;
        gen = (uint16_t)(b->gen + 1 ? b->gen + 1 : 1);
        memset(b, 0, sizeof(*b));
        b->gen = gen;
        b->rbuf = malloc(MPXD_BRIDGE_BUF);
        b->wbuf = malloc(MPXD_BRIDGE_BUF);
        if (!b->rbuf || !b->wbuf) {
            free(b->rbuf);
            free(b->wbuf);
            b->rbuf = b->wbuf = NULL;
            return NULL;
        }
        b->state = MPXD_BR_OPEN;
        b->fd = fd;
        b->conn = conn;
        b->uid = uid;
        hash_add(d, b);
        if (i >= d->bridges_hi)
            d->bridges_hi = i + 1; /* free slots are reused lowest first */
        d->mib.BridgesOpened++;
        return b;
    }
    return NULL;
}

static struct io_uring_sqe *sqe_for(struct mpxd *d, struct mpxd_bridge *b, uint8_t op)
{
    struct io_uring_sqe *sqe = mpx_uloop_sqe(&d->loop);
    if (!sqe)
        return NULL;
    io_uring_sqe_set_data64(sqe, mpx_uloop_ud(d->src_bridge, op, bidx(d, b)));
    b->inflight++;
    return sqe;
}

static void release(struct mpxd *d, struct mpxd_bridge *b)
{
    free(b->rbuf);
    free(b->wbuf);
    b->rbuf = b->wbuf = NULL;
    b->state = MPXD_BR_FREE;
    d->mib.BridgesClosed++;
}

/* Close the app side; the connection is the caller's business. */
static void bridge_kill(struct mpxd *d, struct mpxd_bridge *b, const char *why)
{
    struct io_uring_sqe *sqe;
    if (b->state == MPXD_BR_DYING || b->state == MPXD_BR_FREE)
        return;
    mpxd_log(d, MPX_DLOG_DEBUG, "bridge %u conn %u closed: %s (rd_eof %d wr_shut %d app_gone %d)",
             (unsigned)(b - d->bridges), b->conn, why, b->rd_eof, b->wr_shut, b->app_gone);
    if (b->inflight && (sqe = mpx_uloop_sqe(&d->loop))) {
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL);
        sqe->fd = b->fd;
        io_uring_sqe_set_data64(sqe, mpx_uloop_ud(d->src_bridge, OP_CANCEL, 0));
    }
    /* in-flight operations end now; without any, ours is the only
     * reference (the shim and the CLI close theirs once the request is
     * sent) and the close below tells the app's end the same */
    if (b->inflight)
        shutdown(b->fd, SHUT_RDWR);
    hash_del(d, b);
    b->state = MPXD_BR_DYING;
    b->conn = 0;
    if (!b->inflight) {
        close(b->fd);
        release(d, b);
    }
}

static void reply_result(struct mpxd *d, struct mpxd_bridge *b, int status)
{
    struct mpx_rpc_conn_result r;
    struct mpx_rpc_conn_info ci;

    if (!b->reply_client)
        return;
    memset(&r, 0, sizeof(r));
    r.status = status;
    r.conn = b->conn;
    if (status == 0 && mpx_eng_conn_info(d->eng, b->conn, &ci, mpxd_now()) == 0) {
        r.local = ci.local;
        r.remote = ci.remote;
        r.lport = ci.lport;
        r.rport = ci.rport;
    }
    /* a shim socket's blocking connect (MPX_RPC_SOCK_F_LATE_REPLY) gets its
     * SOCK_RESULT now; the CLI's CONNECT/ACCEPT their own types */
    mpxd_rpc_send(d, b->reply_client,
                  b->sock_id  ? MPX_RPC_SOCK_RESULT
                  : b->server ? MPX_RPC_ACCEPTED
                              : MPX_RPC_CONNECTED,
                  b->reply_id, &r, sizeof(r));
    b->reply_client = 0;
}

void mpxd_bridge_connect(struct mpxd *d, uint32_t cidx, uint32_t id,
                         const struct mpx_rpc_connect *req, int fd)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    struct mpxd_bridge *b;
    struct mpx_rpc_event ev;
    struct mpx_rpc_conn_info ci;
    long conn;

    if (!c || check_bridge_fd(fd)) {
        close(fd);
        if (c)
            mpxd_rpc_status(d, cidx, id, -EINVAL, "the data fd must be an AF_UNIX stream socket");
        return;
    }
    conn = mpx_eng_connect_ext(d->eng, &req->local, &req->remote, req->rport, req->extkey_policy,
                               mpxd_now());
    if (conn < 0) {
        close(fd);
        mpxd_rpc_status(d, cidx, id, (int)conn, "connect failed");
        return;
    }
    b = bridge_new(d, fd, (uint32_t)conn, c->uid);
    if (!b) {
        close(fd);
        mpx_eng_abort(d->eng, (uint32_t)conn, mpxd_now());
        mpxd_rpc_status(d, cidx, id, -ENOBUFS, "too many connections");
        return;
    }
    b->state = MPXD_BR_CONNECTING;
    b->reply_client = cidx;
    b->reply_id = id;
    b->reply_async = req->flags & MPX_RPC_CONNECT_F_ASYNC;
    b->extkey_policy = req->extkey_policy ? req->extkey_policy : d->cfg.extkey_policy;
    b->psk_len = req->psk_len;
    memcpy(b->psk, req->psk, sizeof(b->psk));
    memset(&ev, 0, sizeof(ev));
    ev.type = MPX_RPC_EV_CREATED;
    ev.conn = (uint32_t)conn;
    if (mpx_eng_conn_info(d->eng, (uint32_t)conn, &ci, mpxd_now()) == 0)
        ev.token = ci.local_token; /* our key is drawn with the SYN */
    ev.daddr = req->remote;
    ev.dport = req->rport;
    mpxd_event(d, &ev);
    if (b->reply_async)
        mpxd_rpc_status(d, cidx, id, -EINPROGRESS, NULL);
}

static void sockerr_keep(struct mpxd *d, uint64_t sock_id, uid_t uid, int err);

/* The shim's connect filler (rpc.h, struct mpx_rpc_sock), discarded at
 * once when the connection is established: the app's fd turns writable
 * now rather than after an io_uring READ round trip of the loop. No READ
 * is in flight while connecting (arm_read needs MPXD_BR_OPEN), so the
 * filler is at the head of the stream; what is left (a short read) goes
 * through the READ path as before. */
static void discard_filler(struct mpxd_bridge *b)
{
    while (b->filler_left) {
        size_t want = b->filler_left < MPXD_BRIDGE_BUF ? b->filler_left : MPXD_BRIDGE_BUF;
        ssize_t n = recv(b->fd, b->rbuf, want, MSG_DONTWAIT);
        if (n <= 0)
            return;
        b->filler_left -= (uint32_t)n;
    }
}

void mpxd_bridge_on_established(struct mpxd *d, uint32_t conn)
{
    struct mpxd_bridge *b = bridge_by_conn(d, conn);
    if (!b || b->state != MPXD_BR_CONNECTING)
        return;
    b->state = MPXD_BR_OPEN;
    if (b->psk_len) /* E mode only: -EOPNOTSUPP otherwise (the peer said no) */
        mpx_eng_set_psk(d->eng, conn, b->psk, b->psk_len, mpxd_now());
    /* the reply first: a blocking connect() returns on it, and its fd is
     * writable a moment later (the filler goes next) */
    reply_result(d, b, 0);
    discard_filler(b);
}

void mpxd_bridge_on_closed(struct mpxd *d, uint32_t conn, int error)
{
    struct mpxd_bridge *b = bridge_by_conn(d, conn);
    if (!b)
        return;
    if (b->state == MPXD_BR_CONNECTING) {
        reply_result(d, b, error ? error : -ECONNREFUSED);
        if (b->sock_id)
            sockerr_keep(d, b->sock_id, b->uid, error ? error : -ECONNREFUSED);
        bridge_kill(d, b, "connect failed");
        return;
    }
    b->conn_closed = true;
    b->conn_err = error;
}

/* ---- pumping ------------------------------------------------------------------ */

static void arm_read(struct mpxd *d, struct mpxd_bridge *b)
{
    struct io_uring_sqe *sqe = sqe_for(d, b, OP_READ);
    if (!sqe)
        return;
    io_uring_prep_read(sqe, b->fd, b->rbuf, MPXD_BRIDGE_BUF, 0);
    b->rd_inflight = true;
}

static void arm_write(struct mpxd *d, struct mpxd_bridge *b)
{
    struct io_uring_sqe *sqe = sqe_for(d, b, OP_WRITE);
    if (!sqe)
        return;
    io_uring_prep_write(sqe, b->fd, b->wbuf + b->woff, (unsigned)(b->wlen - b->woff), 0);
    b->wr_inflight = true;
}

/* After the app's EOF: has it closed its fd for good (POLLHUP: both
 * directions shut) or only shut its writing side? An io_uring poll cannot
 * tell: it always reports POLLRDHUP, which is already true here, so a
 * zero-timeout poll(2) is asked on each pump of such a bridge instead (the
 * loop wakes at least once a second). */
static bool app_hung_up(const struct mpxd_bridge *b)
{
    struct pollfd p = {b->fd, 0, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* The app is gone for good: the stack finishes what it has (orphan). */
static void orphan(struct mpxd *d, struct mpxd_bridge *b)
{
    uint32_t conn = b->conn;
    if (!b->conn_closed) {
        if (!b->shut_sent)
            mpx_eng_shutdown(d->eng, conn, mpxd_now());
        mpx_eng_close(d->eng, conn, mpxd_now());
        d->mib.Orphans++;
    }
    bridge_kill(d, b, "orphan");
}

static void pump_app_to_net(struct mpxd *d, struct mpxd_bridge *b, uint64_t now)
{
    if (b->rlen > b->roff) {
        long n = mpx_eng_send(d->eng, b->conn, b->rbuf + b->roff, b->rlen - b->roff, now);
        if (n > 0) {
            mpxd_hello_sniff(b, b->rbuf + b->roff, (size_t)n, true);
            b->roff += (size_t)n;
        } else if (n < 0 && n != -EAGAIN)
            b->rlen = b->roff = 0, b->rd_eof = true, b->shut_sent = true;
        if (b->roff == b->rlen)
            b->rlen = b->roff = 0;
    }
    if (b->rlen == 0 && !b->rd_inflight && !b->rd_eof && !b->conn_closed)
        arm_read(d, b);
    if (b->rlen == 0 && b->rd_eof && !b->shut_sent) {
        mpx_eng_shutdown(d->eng, b->conn, now);
        b->shut_sent = true;
    }
}

static void pump_net_to_app(struct mpxd *d, struct mpxd_bridge *b, uint64_t now)
{
    long n;
    if (b->wr_inflight || b->wr_shut)
        return;
    n = mpx_eng_recv(d->eng, b->conn, b->wbuf, MPXD_BRIDGE_BUF, now);
    if (n > 0) {
        mpxd_hello_sniff(b, b->wbuf, (size_t)n, false);
        if (b->app_gone)
            return; /* nobody reads: drop, the orphan path closes soon */
        b->wlen = (size_t)n;
        b->woff = 0;
        arm_write(d, b);
    } else if (n != -EAGAIN) {
        /* DATA_FIN and everything read (or the connection is gone) */
        shutdown(b->fd, SHUT_WR);
        b->wr_shut = true;
        if (n < 0)
            b->conn_err = (int)n;
    }
}

static void pump_one(struct mpxd *d, struct mpxd_bridge *b, uint64_t now)
{
    if (b->state != MPXD_BR_OPEN)
        return;
    pump_app_to_net(d, b, now);
    pump_net_to_app(d, b, now);
    if (b->wr_shut && !b->wr_inflight && (b->shut_sent || b->conn_closed)) {
        /* both directions finished: the app's fd gets its EOF both ways */
        if (!b->conn_closed)
            mpx_eng_close(d->eng, b->conn, now);
        bridge_kill(d, b, "both directions done");
        return;
    }
    if (b->app_gone && b->rlen == 0) {
        orphan(d, b);
        return;
    }
    if (b->rd_eof && !b->app_gone && app_hung_up(b)) {
        b->app_gone = true;
        if (b->rlen == 0)
            orphan(d, b);
    }
}

static void take_accepted(struct mpxd *d);

static void named_sweep(struct mpxd *d, uint64_t now);

void mpxd_bridges_pump(struct mpxd *d)
{
    uint64_t now = mpxd_now();
    take_accepted(d);
    named_sweep(d, now);
    /* every loop step: only the slots ever used, not all 1024 (walking
     * them all was 2-3 % of a daemon's CPU at 2 Gbit/s) */
    for (int i = 0; i < d->bridges_hi; i++)
        pump_one(d, &d->bridges[i], now);
}

static void bridge_cqe(void *ctx, uint8_t op, uint32_t idx, int32_t res, uint32_t flags)
{
    struct mpxd *d = ctx;
    struct mpxd_bridge *b;
    (void)flags;

    if (op == OP_CANCEL)
        return;
    b = bridge_get(d, idx);
    if (!b)
        return;
    b->inflight--;
    if (op == OP_READ)
        b->rd_inflight = false;
    else if (op == OP_WRITE)
        b->wr_inflight = false;
    if (b->state == MPXD_BR_DYING) {
        if (!b->inflight) {
            close(b->fd);
            release(d, b);
        }
        return;
    }
    if (op == OP_READ) {
        if (res > 0) {
            /* the shim's connect filler comes first: discarding it is what
             * makes the app's fd writable (rpc.h, struct mpx_rpc_sock) */
            size_t skip = b->filler_left < (uint32_t)res ? b->filler_left : (size_t)res;
            b->filler_left -= (uint32_t)skip;
            b->rlen = (size_t)res;
            b->roff = skip;
            if (b->roff == b->rlen)
                b->rlen = b->roff = 0;
        } else if (res == 0 || res != -EINTR) {
            b->rd_eof = true;
            if (res < 0)
                b->app_gone = true;
        }
    } else if (op == OP_WRITE) {
        if (res > 0) {
            b->woff += (size_t)res;
            if (b->woff < b->wlen)
                arm_write(d, b);
            else
                b->wlen = b->woff = 0;
        } else if (res != -EINTR) {
            b->app_gone = true; /* EPIPE: the app closed its fd */
            b->wlen = b->woff = 0;
        }
    }
    pump_one(d, b, mpxd_now());
}

/* ---- listeners ---------------------------------------------------------------- */

static bool addr_any(const struct mpx_rpc_addr *a);

/* The engine's listener a daemon listener uses (mpx_eng_listen_addr): the
 * CLI's LISTEN address as given (family 0: every address); a shim
 * socket's bound address, its unspecified address being the wildcard of
 * the socket's family (a v6 socket bound to ::ffff:0.0.0.0 is IPv4's). */
static struct mpx_rpc_addr listener_key(const struct mpx_rpc_addr *local, uint8_t family, bool sock)
{
    struct mpx_rpc_addr k = *local;
    if (sock && addr_any(local)) {
        memset(&k, 0, sizeof(k));
        k.family = local->family ? local->family : family;
    }
    return k;
}

static struct mpx_rpc_addr key_of(const struct mpxd_listener *l)
{
    return listener_key(&l->local, l->family, l->sock_id != 0);
}

static bool key_eq(const struct mpx_rpc_addr *a, const struct mpx_rpc_addr *b)
{
    return a->family == b->family && !memcmp(a->a, b->a, sizeof(a->a));
}

/* Another listener than |self| on the engine listener (key, port)? */
static struct mpxd_listener *listener_by_key(struct mpxd *d, const struct mpx_rpc_addr *key,
                                             uint16_t port, const struct mpxd_listener *self)
{
    long skip = self ? (long)(self - d->listeners) : -1;
    for (int i = 0; i < MPXD_MAX_LISTEN; i++) {
        struct mpxd_listener *l = &d->listeners[i];
        struct mpx_rpc_addr k;
        if (i == skip || !l->used || l->port != port)
            continue;
        k = key_of(l);
        if (key_eq(&k, key))
            return l;
    }
    return NULL;
}

static bool cli_conflict(struct mpxd *d, const struct mpx_rpc_addr *local, uint16_t port);

void mpxd_listen(struct mpxd *d, uint32_t cidx, uint32_t id, const struct mpx_rpc_listen *req,
                 int notify_fd)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    struct mpxd_listener *l = NULL;
    struct mpx_rpc_event ev;
    char a[64];
    int rc;

    /* bind(2) + listen(2) without SO_REUSEADDR/SO_REUSEPORT: any listener
     * or bound shim socket sharing an address of the port is in the way
     * (the engine checks listeners; the shim's bound sockets are ours) */
    if (!c || cli_conflict(d, &req->local, req->port)) {
        if (notify_fd >= 0)
            close(notify_fd);
        if (c)
            mpxd_rpc_status(d, cidx, id, -EADDRINUSE, "port %u already has a listener (%s)",
                            req->port,
                            req->local.family ? mpx_rpc_addr_fmt(&req->local, a, sizeof(a)) : "*");
        return;
    }
    for (int i = 0; i < MPXD_MAX_LISTEN && !l; i++)
        if (!d->listeners[i].used)
            l = &d->listeners[i];
    rc = l ? mpx_eng_listen_addr(d->eng, &req->local, req->port, 0, req->extkey_policy) : -ENOBUFS;
    if (rc < 0) {
        if (notify_fd >= 0)
            close(notify_fd);
        mpxd_rpc_status(d, cidx, id, rc, "%s",
                        rc == -EADDRINUSE ? "port already has a listener" : "listen failed");
        return;
    }
    memset(l, 0, sizeof(*l));
    l->used = true;
    l->port = req->port;
    l->local = req->local; /* family 0: every address */
    l->uid = c->uid;
    l->owner = cidx;
    l->notify_fd = notify_fd;
    l->extkey_policy = req->extkey_policy; /* DEFAULT: `extkey` as it is at each SYN */
    l->psk_len = req->psk_len;
    memcpy(l->psk, req->psk, sizeof(l->psk));
    if (notify_fd >= 0)
        fcntl(notify_fd, F_SETFL, fcntl(notify_fd, F_GETFL) | O_NONBLOCK);
    memset(&ev, 0, sizeof(ev));
    ev.type = MPX_RPC_EV_LISTENER_CREATED;
    ev.saddr = l->local;
    ev.sport = req->port;
    mpxd_event(d, &ev);
    mpxd_rpc_status(d, cidx, id, 0, NULL);
}

static void sockres_drop(struct mpxd *d, uint64_t sock_id);

static void listener_free(struct mpxd *d, struct mpxd_listener *l)
{
    struct mpx_rpc_event ev;
    for (unsigned i = 0; i < l->nq; i++) {
        mpx_eng_abort(d->eng, l->queue[i], mpxd_now());
        d->mib.AcceptDropped++;
    }
    for (unsigned i = 0; i < l->nw; i++) {
        mpxd_rpc_status(d, l->waiters[i].client, l->waiters[i].req_id, -EINVAL, "listener closed");
        close(l->waiters[i].fd);
    }
    if (l->notify_fd >= 0)
        close(l->notify_fd);
    if (l->sock_id)
        sockres_drop(d, l->sock_id);
    memset(&ev, 0, sizeof(ev));
    ev.type = MPX_RPC_EV_LISTENER_CLOSED;
    ev.sport = l->port;
    ev.saddr = l->local;
    l->used = false;
    {
        /* the engine's listener goes with the last of a SO_REUSEPORT group */
        struct mpx_rpc_addr k = key_of(l);
        if (!listener_by_key(d, &k, l->port, l))
            mpx_eng_unlisten_addr(d->eng, &k, l->port);
    }
    mpxd_event(d, &ev);
}

/* The listener an UNLISTEN or ACCEPT names: by port, and by address when
 * one is given; among several, the asking client's own first. */
static struct mpxd_listener *listener_find(struct mpxd *d, uint32_t cidx, uint16_t port,
                                           const struct mpx_rpc_addr *local)
{
    struct mpxd_listener *found = NULL;
    for (int i = 0; i < MPXD_MAX_LISTEN; i++) {
        struct mpxd_listener *l = &d->listeners[i];
        if (!l->used || l->port != port || (local && local->family && !key_eq(&l->local, local)))
            continue;
        if (l->owner == cidx)
            return l;
        if (!found)
            found = l;
    }
    return found;
}

void mpxd_unlisten(struct mpxd *d, uint32_t cidx, uint32_t id, const struct mpx_rpc_listen *req)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    uint16_t port = req->port;
    struct mpxd_listener *l = listener_find(d, cidx, port, &req->local);
    if (!c)
        return;
    if (!l || (c->uid != 0 && c->uid != l->uid)) {
        mpxd_rpc_status(d, cidx, id, -ENOENT, "no listener on port %u", port);
        return;
    }
    listener_free(d, l);
    mpxd_rpc_status(d, cidx, id, 0, NULL);
}

/* Pair a queued connection with a bridge fd and answer ACCEPTED. */
static void accept_pair(struct mpxd *d, struct mpxd_listener *l, uint32_t cidx, uint32_t id, int fd)
{
    uint32_t conn = l->queue[0];
    struct mpxd_bridge *b;

    /* the byte written to notify_fd for this connection is the app's to
     * read (the shim consumes one per accept) */
    memmove(l->queue, l->queue + 1, (l->nq - 1) * sizeof(l->queue[0]));
    l->nq--;
    b = bridge_new(d, fd, conn, l->uid);
    if (!b) {
        close(fd);
        mpx_eng_abort(d->eng, conn, mpxd_now());
        mpxd_rpc_status(d, cidx, id, -ENOBUFS, "too many connections");
        return;
    }
    b->server = true;
    b->extkey_policy = l->extkey_policy ? l->extkey_policy : d->cfg.extkey_policy;
    b->psk_len = l->psk_len;
    memcpy(b->psk, l->psk, sizeof(b->psk));
    b->reply_client = cidx;
    b->reply_id = id;
    reply_result(d, b, 0);
}

void mpxd_accept(struct mpxd *d, uint32_t cidx, uint32_t id, const struct mpx_rpc_accept *req,
                 int fd)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    struct mpxd_listener *l = listener_find(d, cidx, req->port, NULL);
    int rc = 0;

    if (!c) {
        close(fd);
        return;
    }
    if (!l || (c->uid != 0 && c->uid != l->uid))
        rc = -EINVAL; /* accept() on a socket that is not listening */
    else if (check_bridge_fd(fd))
        rc = -EBADF;
    else if (l->nq == 0 && (req->flags & MPX_RPC_ACCEPT_F_NONBLOCK))
        rc = -EAGAIN;
    else if (l->nq == 0 && l->nw == sizeof(l->waiters) / sizeof(l->waiters[0]))
        rc = -ENOBUFS;
    if (rc) {
        close(fd);
        mpxd_rpc_status(d, cidx, id, rc, "accept failed");
        return;
    }
    if (l->nq) {
        accept_pair(d, l, cidx, id, fd);
        return;
    }
    l->waiters[l->nw].client = cidx;
    l->waiters[l->nw].req_id = id;
    l->waiters[l->nw].fd = fd;
    l->nw++;
}

/* Established passive connections from the stack's accept queues into ours,
 * then to waiting ACCEPTs. */
static void shim_deliver(struct mpxd *d, const struct mpx_rpc_addr *key, uint16_t port,
                         uint32_t conn);

/* Next established connection of |l|, with the listener's pre-shared key
 * installed when it is in E mode (issue 8: before the app sees it, so the
 * path manager can start at once). */
static long accept_one(struct mpxd *d, struct mpxd_listener *l)
{
    struct mpx_rpc_addr k = key_of(l);
    long conn = mpx_eng_accept_addr(d->eng, &k, l->port);
    if (conn > 0 && l->psk_len)
        mpx_eng_set_psk(d->eng, (uint32_t)conn, l->psk, l->psk_len, mpxd_now());
    return conn;
}

static void take_accepted(struct mpxd *d)
{
    for (int i = 0; i < MPXD_MAX_LISTEN; i++) {
        struct mpxd_listener *l = &d->listeners[i];
        long conn;
        if (!l->used)
            continue;
        if (l->sock_id) {
            /* copies: delivery may free |l| (its app socket gone); what is
             * queued then is dropped by shim_deliver (no listener) */
            uint16_t port = l->port;
            struct mpx_rpc_addr k = key_of(l);
            while ((conn = accept_one(d, l)) > 0)
                shim_deliver(d, &k, port, (uint32_t)conn);
            continue;
        }
        while ((conn = accept_one(d, l)) > 0) {
            if (l->nq == MPXD_ACCEPT_QUEUE) {
                mpx_eng_abort(d->eng, (uint32_t)conn, mpxd_now());
                d->mib.AcceptDropped++;
                continue;
            }
            l->queue[l->nq++] = (uint32_t)conn;
            if (l->notify_fd >= 0 && write(l->notify_fd, "c", 1) < 0) {
                /* full: the app has enough wake-ups pending */
            }
        }
        while (l->nq && l->nw) {
            struct mpxd_waiter w = l->waiters[0];
            memmove(l->waiters, l->waiters + 1, (l->nw - 1) * sizeof(l->waiters[0]));
            l->nw--;
            accept_pair(d, l, w.client, w.req_id, w.fd);
        }
    }
}

void mpxd_client_gone(struct mpxd *d, uint32_t cidx)
{
    for (int i = 0; i < MPXD_MAX_LISTEN; i++) {
        struct mpxd_listener *l = &d->listeners[i];
        if (!l->used)
            continue;
        if (l->owner == cidx) {
            listener_free(d, l);
            continue;
        }
        for (unsigned k = 0; k < l->nw;) {
            if (l->waiters[k].client == cidx) {
                close(l->waiters[k].fd);
                memmove(&l->waiters[k], &l->waiters[k + 1],
                        (l->nw - k - 1) * sizeof(l->waiters[0]));
                l->nw--;
            } else {
                k++;
            }
        }
    }
    for (int i = 0; i < MPXD_MAX_BRIDGES; i++)
        if (d->bridges[i].state != MPXD_BR_FREE && d->bridges[i].reply_client == cidx)
            d->bridges[i].reply_client = 0;
}

/* ---- listing, lifecycle ------------------------------------------------------- */

void mpxd_conns_foreach(struct mpxd *d, mpxd_conn_fn fn, void *arg)
{
    for (int i = 0; i < MPXD_MAX_LISTEN; i++) {
        struct mpxd_listener *l = &d->listeners[i];
        if (!l->used)
            continue;
        fn(d, arg, 0, l->uid, MPX_RPC_CONN_F_LISTEN, NULL, l);
        for (unsigned k = 0; k < l->nq; k++)
            fn(d, arg, l->queue[k], l->uid, MPX_RPC_CONN_F_SERVER, NULL, NULL);
    }
    for (int i = 0; i < MPXD_MAX_BRIDGES; i++) {
        struct mpxd_bridge *b = &d->bridges[i];
        if (b->state == MPXD_BR_CONNECTING || b->state == MPXD_BR_OPEN)
            fn(d, arg, b->conn, b->uid, b->server ? MPX_RPC_CONN_F_SERVER : 0, b, NULL);
    }
    /* orphans (the app closed, the engine finishes its data and the
     * DATA_FIN exchange), like the kernel's in ss -M; nobody owns them any
     * more: root only */
    uint32_t ids[MPXD_MAX_ORPHANS_LISTED];
    size_t n = mpx_eng_orphans(d->eng, ids, MPXD_MAX_ORPHANS_LISTED);
    for (size_t i = 0; i < n; i++)
        fn(d, arg, ids[i], 0, MPX_RPC_CONN_F_ORPHAN, NULL, NULL);
}

uid_t mpxd_conn_owner(struct mpxd *d, uint32_t conn)
{
    struct mpxd_bridge *b = bridge_by_conn(d, conn);
    if (b)
        return b->uid;
    for (int i = 0; i < MPXD_MAX_LISTEN; i++)
        for (unsigned k = 0; d->listeners[i].used && k < d->listeners[i].nq; k++)
            if (d->listeners[i].queue[k] == conn)
                return d->listeners[i].uid;
    return (uid_t)-1;
}

static void data_listen(struct mpxd *d);

int mpxd_bridges_init(struct mpxd *d)
{
    data_listen(d); /* first: sets d->dfd, which free() looks at */
    d->bridges = calloc(MPXD_MAX_BRIDGES, sizeof(*d->bridges));
    d->socks = calloc(MPXD_MAX_SOCKS, sizeof(*d->socks));
    if (!d->bridges || !d->socks)
        return -ENOMEM;
    d->src_bridge = (uint16_t)mpx_uloop_src_add(&d->loop, bridge_cqe, d);
    return 0;
}

void mpxd_bridges_shutdown(struct mpxd *d)
{
    uint64_t now = mpxd_now();
    for (int i = 0; i < MPXD_MAX_LISTEN; i++)
        if (d->listeners[i].used)
            listener_free(d, &d->listeners[i]);
    for (int i = 0; i < MPXD_MAX_BRIDGES; i++) {
        struct mpxd_bridge *b = &d->bridges[i];
        if (b->state != MPXD_BR_CONNECTING && b->state != MPXD_BR_OPEN)
            continue;
        if (b->state == MPXD_BR_CONNECTING)
            reply_result(d, b, -ECONNABORTED);
        /* MP_FASTCLOSE: the peer learns at once that we are gone */
        if (!b->conn_closed)
            mpx_eng_abort(d->eng, b->conn, now);
        bridge_kill(d, b, "daemon stopping");
    }
}

void mpxd_bridges_free(struct mpxd *d)
{
    if (!d->bridges) {
        free(d->socks);
        d->socks = NULL;
        return;
    }
    for (int i = 0; i < MPXD_MAX_BRIDGES; i++) {
        struct mpxd_bridge *b = &d->bridges[i];
        if (b->state == MPXD_BR_FREE)
            continue;
        /* the ring is gone or drained: nothing writes into the buffers any more */
        close(b->fd);
        free(b->rbuf);
        free(b->wbuf);
    }
    free(d->bridges);
    d->bridges = NULL;
    free(d->socks);
    d->socks = NULL;
    for (int i = 0; i < MPXD_MAX_NAMED; i++)
        if (d->named[i].fd >= 0)
            close(d->named[i].fd);
    if (d->dfd >= 0)
        close(d->dfd);
    d->dfd = -1;
}

/* ---- the shim's sockets (issue 7; protocol: rpc.h struct mpx_rpc_sock) ------- */

#define SOCKERR_TTL_NS (60ull * 1000000000ull)
#define EPHEMERAL_LO   32768
#define EPHEMERAL_HI   60999

static void sock_name(char *out, size_t cap, uint8_t family, uint64_t id)
{
    snprintf(out, cap, MPX_RPC_SOCK_NAME_FMT, family == 6 ? '6' : '4', (unsigned long long)id);
}

/* Does the app's socket |id| still exist? Its abstract name lives exactly as
 * long as the socket (the last fd of every process closed it). Asked only
 * on conflicts and closes, so reading /proc/net/unix is cheap enough.
 * Sockets accept() returned carry their listener's name too: with
 * |listening_only|, only a listening socket (__SO_ACCEPTCON, 0x10000 in
 * the Flags column) counts, so a closed listener whose connections are
 * still open frees its port for a new bind(), as on Linux (iperf3 -s
 * does that for every test with -N). */
static bool name_alive(uint8_t family, uint64_t id, bool listening_only)
{
    char want[64], line[512];
    bool found = false;
    FILE *f = fopen("/proc/net/unix", "re");
    sock_name(want, sizeof(want), family, id);
    if (!f)
        return true; /* cannot tell: keep it */
    while (!found && fgets(line, sizeof(line), f)) {
        char *at = strchr(line, '@');
        size_t n = strlen(want);
        unsigned flags = 0;
        if (!at || strncmp(at + 1, want, n) || (at[1 + n] != '\n' && at[1 + n] != '\0'))
            continue;
        /* Num: RefCount Protocol Flags Type St Inode Path */
        found = !listening_only ||
                (sscanf(line, "%*s %*x %*x %x", &flags) == 1 && (flags & 0x10000u) != 0);
    }
    fclose(f);
    return found;
}

static struct mpxd_sockres *sockres_find(struct mpxd *d, uint64_t id, uid_t uid)
{
    for (int i = 0; i < d->socks_hi; i++)
        if (d->socks[i].used && d->socks[i].sock_id == id && d->socks[i].uid == uid)
            return &d->socks[i];
    return NULL;
}

static void sockres_drop(struct mpxd *d, uint64_t sock_id)
{
    for (int i = 0; i < d->socks_hi; i++)
        if (d->socks[i].used && d->socks[i].sock_id == sock_id)
            d->socks[i].used = false;
}

static struct mpxd_listener *listener_by_sock(struct mpxd *d, uint64_t id, uid_t uid)
{
    for (int i = 0; i < MPXD_MAX_LISTEN; i++)
        if (d->listeners[i].used && d->listeners[i].sock_id == id && d->listeners[i].uid == uid)
            return &d->listeners[i];
    return NULL;
}

static bool addr_any(const struct mpx_rpc_addr *a)
{
    static const uint8_t z[16];
    return a->family == 0 || !memcmp(a->a, z, a->family == 4 ? 4 : 16);
}

/* Do two reservations on one port cover a common address (Linux
 * inet_bind_conflict: wildcards overlap everything of their family; a v6
 * wildcard without V6ONLY also covers IPv4)? */
static bool res_overlap(const struct mpxd_sockres *a, const struct mpxd_sockres *b)
{
    bool aany = addr_any(&a->addr), bany = addr_any(&b->addr);
    int af = a->addr.family ? a->addr.family : a->family;
    int bf = b->addr.family ? b->addr.family : b->family;
    if (!af || !bf)
        return true; /* a CLI listener on every address (family 0) */
    if (af != bf) {
        /* only a dual-stack v6 wildcard meets IPv4 */
        const struct mpxd_sockres *v6 = af == 6 ? a : b;
        return addr_any(&v6->addr) && !(v6->flags & MPX_RPC_SOCK_F_V6ONLY);
    }
    return aany || bany || !memcmp(a->addr.a, b->addr.a, 16);
}

static bool res_conflict(struct mpxd *d, const struct mpxd_sockres *n)
{
    for (int i = 0; i < d->socks_hi; i++) {
        struct mpxd_sockres *o = &d->socks[i];
        if (!o->used || o->port != n->port || o->sock_id == n->sock_id || !res_overlap(o, n))
            continue;
        if ((o->flags & n->flags & MPX_RPC_SOCK_F_REUSEPORT) && o->uid == n->uid)
            continue;
        if ((o->flags & n->flags & MPX_RPC_SOCK_F_REUSEADDR) && !o->listening)
            continue;
        if (!name_alive(o->family, o->sock_id, o->listening)) {
            /* the app closed it without telling us (exit, crash) */
            struct mpxd_listener *l = listener_by_sock(d, o->sock_id, o->uid);
            if (l)
                listener_free(d, l);
            o->used = false;
            continue;
        }
        return true;
    }
    /* the CLI's listeners hold their addresses too (bound without
     * SO_REUSEADDR/SO_REUSEPORT) */
    for (int i = 0; i < MPXD_MAX_LISTEN; i++) {
        const struct mpxd_listener *l = &d->listeners[i];
        struct mpxd_sockres v = {.family = l->local.family, .addr = l->local};
        if (l->used && !l->sock_id && l->port == n->port && res_overlap(&v, n))
            return true;
    }
    return false;
}

/* May the CLI listen on (local, port)? Its LISTEN is bind + listen with no
 * reuse flags: every bound or listening socket sharing an address of the
 * port is in the way (Linux inet_csk_bind_conflict). */
static bool cli_conflict(struct mpxd *d, const struct mpx_rpc_addr *local, uint16_t port)
{
    struct mpxd_sockres n = {.family = local->family, .addr = *local, .port = port};
    return res_conflict(d, &n);
}

/* listen(2) checks again (inet_csk_listen_start -> get_port): two sockets
 * bound with SO_REUSEADDR to overlapping addresses may not both listen
 * (SO_REUSEADDR only spares sockets that are not listening); the engine
 * refuses an overlapping listener unless both have SO_REUSEPORT. The same
 * address again is a SO_REUSEPORT group: one engine listener, shared when
 * both sockets have SO_REUSEPORT and one owner, else -EADDRINUSE. */
static int shim_engine_listen(struct mpxd *d, const struct mpxd_sockres *r, uint8_t extkey_policy)
{
    struct mpx_rpc_addr k = listener_key(&r->addr, r->family, true);
    struct mpxd_listener *o = listener_by_key(d, &k, r->port, NULL);
    uint32_t f = (r->flags & MPX_RPC_SOCK_F_V6ONLY ? MPX_ENG_LISTEN_V6ONLY : 0) |
                 (r->flags & MPX_RPC_SOCK_F_REUSEPORT ? MPX_ENG_LISTEN_REUSEPORT : 0);
    if (o) {
        struct mpxd_sockres *os = o->sock_id ? sockres_find(d, o->sock_id, o->uid) : NULL;
        bool share = os && (os->flags & r->flags & MPX_RPC_SOCK_F_REUSEPORT) && o->uid == r->uid;
        return share ? 0 : -EADDRINUSE;
    }
    return mpx_eng_listen_addr(d->eng, &k, r->port, f, extkey_policy);
}

static bool is_local_addr(const struct mpxd *d, const struct mpx_rpc_addr *a)
{
    for (unsigned i = 0; i < d->cfg.n_addrs; i++)
        if (d->cfg.addrs[i].family == a->family &&
            !memcmp(d->cfg.addrs[i].a, a->a, a->family == 4 ? 4 : 16))
            return true;
    return false;
}

/* Forget the reservations and listeners whose socket is gone (the program
 * exited or crashed without close()). */
static void sweep_dead(struct mpxd *d)
{
    for (int i = 0; i < d->socks_hi; i++) {
        struct mpxd_sockres *o = &d->socks[i];
        struct mpxd_listener *l;
        if (!o->used || name_alive(o->family, o->sock_id, o->listening))
            continue;
        l = listener_by_sock(d, o->sock_id, o->uid);
        if (l)
            listener_free(d, l);
        o->used = false;
    }
}

static void sockerr_keep(struct mpxd *d, uint64_t sock_id, uid_t uid, int err)
{
    struct mpxd_sockerr *e = &d->sockerrs[0];
    uint64_t now = mpxd_now();
    for (int i = 0; i < MPXD_MAX_SOCKERR; i++) {
        /* a free or expired slot, else the one expiring first */
        if (d->sockerrs[i].expires < now) {
            e = &d->sockerrs[i];
            break;
        }
        if (d->sockerrs[i].expires < e->expires)
            e = &d->sockerrs[i];
    }
    e->sock_id = sock_id;
    e->uid = uid;
    e->err = err;
    e->expires = now + SOCKERR_TTL_NS;
}

static struct mpxd_sockerr *sockerr_find(struct mpxd *d, uint64_t sock_id, uid_t uid)
{
    uint64_t now = mpxd_now();
    for (int i = 0; i < MPXD_MAX_SOCKERR; i++) {
        struct mpxd_sockerr *e = &d->sockerrs[i];
        if (e->expires >= now && e->sock_id == sock_id && e->uid == uid)
            return e;
    }
    return NULL;
}

static struct mpxd_bridge *bridge_by_sock(struct mpxd *d, uint64_t id, uid_t uid)
{
    for (int i = 0; i < MPXD_MAX_BRIDGES; i++) {
        struct mpxd_bridge *b = &d->bridges[i];
        if ((b->state == MPXD_BR_CONNECTING || b->state == MPXD_BR_OPEN) && b->sock_id == id &&
            b->uid == uid)
            return b;
    }
    return NULL;
}

static void sock_reply(struct mpxd *d, uint32_t cidx, uint32_t id, int status, uint32_t conn,
                       const struct mpx_rpc_addr *local, uint16_t lport)
{
    struct mpx_rpc_conn_result r;
    memset(&r, 0, sizeof(r));
    r.status = status;
    r.conn = conn;
    if (local)
        r.local = *local;
    r.lport = lport;
    mpxd_rpc_send(d, cidx, MPX_RPC_SOCK_RESULT, id, &r, sizeof(r));
}

static int pick_port(struct mpxd *d, struct mpxd_sockres *n)
{
    uint32_t span = EPHEMERAL_HI - EPHEMERAL_LO + 1, start = (uint32_t)(mpxd_now() / 1000) % span;
    for (uint32_t k = 0; k < span; k++) {
        n->port = (uint16_t)(EPHEMERAL_LO + (start + k) % span);
        if (!res_conflict(d, n))
            return 0;
    }
    return -EADDRINUSE;
}

static void sock_bind(struct mpxd *d, struct mpxd_client *c, uint32_t cidx, uint32_t id,
                      const struct mpx_rpc_sock *req)
{
    struct mpxd_sockres n, *slot = NULL;
    int rc = 0;

    memset(&n, 0, sizeof(n));
    n.used = true;
    n.sock_id = req->sock_id;
    n.uid = c->uid;
    n.family = req->family;
    n.flags = req->flags;
    n.addr = req->local;
    n.port = req->lport;
    if (sockres_find(d, req->sock_id, c->uid) || listener_by_sock(d, req->sock_id, c->uid))
        rc = -EINVAL; /* bound already, as bind(2) says */
    else if (!addr_any(&n.addr) && !is_local_addr(d, &n.addr) &&
             !(n.flags & MPX_RPC_SOCK_F_FREEBIND))
        rc = -EADDRNOTAVAIL;
    else if (n.port && n.port < 1024 && c->uid != 0)
        rc = -EACCES; /* no CAP_NET_BIND_SERVICE for other users */
    else if (n.port ? res_conflict(d, &n) : pick_port(d, &n) < 0)
        rc = -EADDRINUSE;
    for (int pass = 0; !rc && pass < 2 && !slot; pass++) {
        if (pass == 1)
            sweep_dead(d);
        for (int i = 0; i < MPXD_MAX_SOCKS && !slot; i++)
            if (!d->socks[i].used)
                slot = &d->socks[i];
    }
    if (!rc && !slot)
        rc = -ENOBUFS;
    if (rc) {
        sock_reply(d, cidx, id, rc, 0, NULL, 0);
        return;
    }
    *slot = n;
    if (slot - d->socks >= d->socks_hi)
        d->socks_hi = (int)(slot - d->socks) + 1; /* the scans' bound (free slots stay below) */
    sock_reply(d, cidx, id, 0, 0, &n.addr, n.port);
}

/* ---- the data listener: SOCK_CONNECT_NAMED (rpc.h MPX_RPC_DATA_NAME_FMT) ------ */

#define NAMED_TTL_NS   (10ull * 1000000000ull)
#define NAMED_SWEEP_NS 1000000000ull
#define NAMED_LOG_NS   1000000000ull

/* The app sockets connect themselves here (no throw-away listener and no
 * SCM_RIGHTS per connect: every AF_UNIX close with fds in flight queues
 * the kernel's unix GC). Without it the shim falls back to SOCK_CONNECT. */
static void data_listen(struct mpxd *d)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n =
        snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, MPX_RPC_DATA_NAME_FMT, (long)getpid());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    for (int i = 0; i < MPXD_MAX_NAMED; i++)
        d->named[i].fd = -1;
    if (fd < 0 ||
        bind(fd, (struct sockaddr *)&sa,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) ||
        listen(fd, 4096)) {
        mpxd_log(d, MPX_DLOG_WARN, "data listener @%s: %s (the shim passes fds instead)",
                 sa.sun_path + 1, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    d->dfd = fd;
}

/* The app socket id (from its abstract name) and owner of an accepted
 * data connection; -1 if it is not one of the shim's sockets. */
static int named_peer(int fd, uint64_t *id, uid_t *uid)
{
    static const size_t plen = sizeof(MPX_RPC_SOCK_PREFIX) - 1;
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa), cl = sizeof(struct ucred);
    struct ucred cred;
    const char *p = sa.sun_path + 1;
    uint64_t v = 0;

    /* MPX_RPC_SOCK_NAME_FMT: prefix, family digit, '/', 16 hex digits */
    if (getpeername(fd, (struct sockaddr *)&sa, &len) ||
        len != offsetof(struct sockaddr_un, sun_path) + 1 + plen + 2 + 16 || sa.sun_path[0] ||
        memcmp(p, MPX_RPC_SOCK_PREFIX, plen) || p[plen + 1] != '/')
        return -1;
    for (int i = 0; i < 16; i++) {
        int c = p[plen + 2 + i], x = c >= '0' && c <= '9'   ? c - '0'
                                     : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                            : -1;
        if (x < 0)
            return -1;
        v = v << 4 | (uint64_t)x;
    }
    if (!v || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
        return -1;
    *id = v;
    *uid = cred.uid;
    return 0;
}

/* The entry to close for a newcomer of |uid| when the table is full.
 * Any local user can connect sockets with well-formed names to the data
 * listener, so "the oldest goes" let one user flood out every other
 * user's pending connects (ECONNREFUSED). The victim is the oldest entry
 * of the uid that holds the most; if the newcomer's own uid holds the
 * most (ties included), its own oldest. So a flooder only evicts itself.
 * Fairness, with A the number of uids in the table plus the newcomer's:
 * a uid is evicted for another uid only if it holds strictly more than
 * MPXD_MAX_NAMED / A. (Newcomer's uid in the table: it holds fewer than
 * the most, so the counts are not all equal and the most is above their
 * average MPXD_MAX_NAMED / A. Not in it: the most is at least
 * MPXD_MAX_NAMED / (A - 1).) This needs no per-uid cap. Equal ages (one
 * accept batch) go to the lowest slot. */
static struct mpxd_named *named_victim(struct mpxd *d, uid_t uid)
{
    int cnt[MPXD_MAX_NAMED], own = 0, most = 0;
    struct mpxd_named *v = NULL;

    for (int i = 0; i < MPXD_MAX_NAMED; i++) {
        cnt[i] = 0;
        for (int j = 0; j < MPXD_MAX_NAMED; j++)
            cnt[i] += d->named[j].uid == d->named[i].uid;
        if (cnt[i] > most)
            most = cnt[i];
        if (d->named[i].uid == uid)
            own = cnt[i];
    }
    for (int i = 0; i < MPXD_MAX_NAMED; i++) {
        struct mpxd_named *e = &d->named[i];
        if (own == most ? e->uid != uid : cnt[i] != most)
            continue;
        if (!v || e->since < v->since)
            v = e;
    }
    return v;
}

/* Counted, and logged at most once a second: the eviction is anyone's to
 * cause, the log must not be. */
static void named_evicted(struct mpxd *d, uid_t uid, uint64_t now)
{
    d->mib.NamedEvicted++;
    if (now < d->named_log_next) {
        d->named_log_quiet++;
        return;
    }
    d->named_log_next = now + NAMED_LOG_NS;
    mpxd_log(d, MPX_DLOG_INFO,
             "data listener full (%d pending sockets): closed uid %u's oldest "
             "(%u more evictions since the last line)",
             MPXD_MAX_NAMED, (unsigned)uid, d->named_log_quiet);
    d->named_log_quiet = 0;
}

/* Keep an app socket whose request has not been read yet (another
 * client's came first); when full, named_victim() says which one goes. */
static void named_keep(struct mpxd *d, int fd, uint64_t id, uid_t uid, uint64_t now)
{
    struct mpxd_named *e = NULL;
    for (int i = 0; i < MPXD_MAX_NAMED && !e; i++)
        if (d->named[i].fd < 0)
            e = &d->named[i];
    if (!e) {
        e = named_victim(d, uid);
        close(e->fd);
        named_evicted(d, e->uid, now);
    }
    e->fd = fd;
    e->sock_id = id;
    e->uid = uid;
    e->since = now;
}

/* Accept from the data listener until the socket (id, uid) comes (its fd)
 * or nothing is left (-1); the others are kept for their own requests. The
 * shim connects before it sends the request: its socket is queued by now. */
static int named_accept(struct mpxd *d, uint64_t want, uid_t want_uid)
{
    uint64_t now = mpxd_now();
    for (;;) {
        uint64_t id;
        uid_t uid;
        /* blocking (io_uring arms its own poll), as check_bridge_fd makes them */
        int fd = accept4(d->dfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return -1;
        if (named_peer(fd, &id, &uid)) {
            close(fd);
            continue;
        }
        if (want && id == want && uid == want_uid)
            return fd;
        named_keep(d, fd, id, uid, now);
    }
}

static int named_take(struct mpxd *d, uint64_t id, uid_t uid)
{
    for (int i = 0; i < MPXD_MAX_NAMED; i++) {
        struct mpxd_named *e = &d->named[i];
        if (e->fd >= 0 && e->sock_id == id && e->uid == uid) {
            int fd = e->fd;
            e->fd = -1;
            return fd;
        }
    }
    return d->dfd >= 0 ? named_accept(d, id, uid) : -1;
}

/* Once a second: what queued without a request, and what waited longer
 * than NAMED_TTL_NS for one (its program died in between), goes. */
static void named_sweep(struct mpxd *d, uint64_t now)
{
    if (d->dfd < 0 || now < d->named_sweep)
        return;
    d->named_sweep = now + NAMED_SWEEP_NS;
    named_accept(d, 0, 0);
    for (int i = 0; i < MPXD_MAX_NAMED; i++)
        if (d->named[i].fd >= 0 && d->named[i].since + NAMED_TTL_NS < now) {
            close(d->named[i].fd);
            d->named[i].fd = -1;
        }
}

static void sock_connect(struct mpxd *d, struct mpxd_client *c, uint32_t cidx, uint32_t id,
                         const struct mpx_rpc_sock *req, int fd, bool named)
{
    struct mpxd_sockres *r = sockres_find(d, req->sock_id, c->uid);
    struct mpx_rpc_addr local = r ? r->addr : req->local;
    struct mpxd_bridge *b;
    long conn;

    if (fd < 0 || (!named && check_bridge_fd(fd)) || req->rport == 0 || addr_any(&req->remote) ||
        (local.family && local.family != req->remote.family)) {
        if (fd >= 0)
            close(fd);
        else if (named) /* e.g. connected to a daemon that has since restarted */
            mpxd_log(d, MPX_DLOG_WARN, "client pid %d: socket %016llx not on the data listener",
                     (int)c->pid, (unsigned long long)req->sock_id);
        d->mib.ShimRejected++;
        sock_reply(d, cidx, id, named && fd < 0 ? -ECONNREFUSED : -EINVAL, 0, NULL, 0);
        return;
    }
    if (addr_any(&local))
        memset(&local, 0, sizeof(local));
    /* the engine picks the local port itself (it has no bind): the
     * reservation ends here (shim/README.md, "gaps") */
    if (r)
        r->used = false;
    conn = mpx_eng_connect_ext(d->eng, &local, &req->remote, req->rport, req->extkey_policy,
                               mpxd_now());
    b = conn > 0 ? bridge_new(d, fd, (uint32_t)conn, c->uid) : NULL;
    if (!b) {
        close(fd);
        if (conn > 0)
            mpx_eng_abort(d->eng, (uint32_t)conn, mpxd_now());
        sock_reply(d, cidx, id, conn > 0 ? -ENOBUFS : (int)conn, 0, NULL, 0);
        return;
    }
    b->state = MPXD_BR_CONNECTING;
    b->sock_id = req->sock_id;
    b->filler_left = req->filler_len;
    b->extkey_policy = req->extkey_policy ? req->extkey_policy : d->cfg.extkey_policy;
    b->psk_len = req->psk_len;
    memcpy(b->psk, req->psk, sizeof(b->psk));
    d->mib.ShimConnects++;
    if (req->flags & MPX_RPC_SOCK_F_LATE_REPLY) {
        /* a blocking connect: one reply, at the outcome (reply_result) */
        b->reply_client = cidx;
        b->reply_id = id;
        return;
    }
    sock_reply(d, cidx, id, -EINPROGRESS, (uint32_t)conn, NULL, 0);
}

static void sock_listen(struct mpxd *d, struct mpxd_client *c, uint32_t cidx, uint32_t id,
                        const struct mpx_rpc_sock *req)
{
    struct mpxd_sockres *r = sockres_find(d, req->sock_id, c->uid);
    struct mpxd_listener *l = listener_by_sock(d, req->sock_id, c->uid);
    struct mpx_rpc_event ev;
    int rc;

    if (l) { /* listen() again: only the backlog changes (the app's own) */
        sock_reply(d, cidx, id, 0, 0, &l->local, l->port);
        return;
    }
    if (!r) {
        sock_reply(d, cidx, id, -EINVAL, 0, NULL, 0);
        return;
    }
    for (int pass = 0; pass < 2 && !l; pass++) {
        if (pass == 1)
            sweep_dead(d); /* full: some may be gone without telling us */
        for (int i = 0; i < MPXD_MAX_LISTEN && !l; i++)
            if (!d->listeners[i].used)
                l = &d->listeners[i];
    }
    rc = l ? shim_engine_listen(d, r, req->extkey_policy) : -ENOBUFS;
    if (rc < 0) {
        sock_reply(d, cidx, id, rc, 0, NULL, 0);
        return;
    }
    memset(l, 0, sizeof(*l));
    l->used = true;
    l->port = r->port;
    l->uid = c->uid;
    l->owner = 0; /* outlives the process that listened (daemonising) */
    l->notify_fd = -1;
    l->sock_id = r->sock_id;
    l->family = r->family;
    l->v6only = (r->flags & MPX_RPC_SOCK_F_V6ONLY) != 0;
    l->local = r->addr;
    l->extkey_policy = req->extkey_policy; /* DEFAULT: `extkey` as it is at each SYN */
    l->psk_len = req->psk_len;
    memcpy(l->psk, req->psk, sizeof(l->psk));
    r->listening = true;
    memset(&ev, 0, sizeof(ev));
    ev.type = MPX_RPC_EV_LISTENER_CREATED;
    ev.saddr = l->local;
    ev.sport = l->port;
    mpxd_event(d, &ev);
    sock_reply(d, cidx, id, 0, 0, &l->local, l->port);
}

static void sock_get(struct mpxd *d, struct mpxd_client *c, uint32_t cidx, uint32_t id,
                     const struct mpx_rpc_sock *req)
{
    struct mpxd_bridge *b = bridge_by_sock(d, req->sock_id, c->uid);
    struct mpxd_sockerr *e = sockerr_find(d, req->sock_id, c->uid);
    struct mpxd_listener *l = listener_by_sock(d, req->sock_id, c->uid);
    struct mpxd_sockres *r = sockres_find(d, req->sock_id, c->uid);
    struct mpx_rpc_conn_result res;
    struct mpx_rpc_conn_info ci;

    if (b) {
        memset(&res, 0, sizeof(res));
        res.status = b->state == MPXD_BR_CONNECTING ? -EINPROGRESS : 0;
        res.conn = b->conn;
        if (mpx_eng_conn_info(d->eng, b->conn, &ci, mpxd_now()) == 0) {
            res.local = ci.local;
            res.remote = ci.remote;
            res.lport = ci.lport;
            res.rport = ci.rport;
        }
        mpxd_rpc_send(d, cidx, MPX_RPC_SOCK_RESULT, id, &res, sizeof(res));
    } else if (e) {
        sock_reply(d, cidx, id, e->err, 0, NULL, 0);
        if (req->flags & MPX_RPC_SOCK_F_TAKE_ERR)
            e->expires = 0;
    } else if (l) {
        sock_reply(d, cidx, id, 0, 0, &l->local, l->port);
    } else if (r) {
        sock_reply(d, cidx, id, 0, 0, &r->addr, r->port);
    } else {
        sock_reply(d, cidx, id, -ENOENT, 0, NULL, 0);
    }
}

/* SOCK_CLOSE (no reply): the app closed one fd of a bound or listening
 * socket; other processes may still hold it (fork), so the name decides. */
static void sock_close(struct mpxd *d, struct mpxd_client *c, const struct mpx_rpc_sock *req)
{
    struct mpxd_sockres *r = sockres_find(d, req->sock_id, c->uid);
    struct mpxd_listener *l = listener_by_sock(d, req->sock_id, c->uid);
    if ((!r && !l) || name_alive(req->family, req->sock_id, l != NULL))
        return;
    if (l)
        listener_free(d, l);
    sockres_drop(d, req->sock_id);
}

void mpxd_sock_request(struct mpxd *d, uint32_t cidx, uint16_t type, uint32_t id,
                       const struct mpx_rpc_sock *req, int fd)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    if (!c) {
        if (fd >= 0)
            close(fd);
        return;
    }
    switch (type) {
    case MPX_RPC_SOCK_BIND:
        sock_bind(d, c, cidx, id, req);
        break;
    case MPX_RPC_SOCK_CONNECT:
        sock_connect(d, c, cidx, id, req, fd, false);
        fd = -1;
        break;
    case MPX_RPC_SOCK_CONNECT_NAMED:
        if (fd >= 0) /* never with an fd (the decoder allows none) */
            close(fd);
        sock_connect(d, c, cidx, id, req, named_take(d, req->sock_id, c->uid), true);
        fd = -1;
        break;
    case MPX_RPC_SOCK_LISTEN:
        sock_listen(d, c, cidx, id, req);
        break;
    case MPX_RPC_SOCK_GET:
        sock_get(d, c, cidx, id, req);
        break;
    case MPX_RPC_SOCK_CLOSE:
        sock_close(d, c, req);
        break;
    }
    if (fd >= 0)
        close(fd);
}

/* May the app's listener |l| take a connection from |peer| to |local|? */
static bool listener_takes(const struct mpxd_listener *l, const struct mpx_rpc_addr *peer,
                           const struct mpx_rpc_addr *local)
{
    if (peer->family == 6 && l->family == 4)
        return false;
    if (peer->family == 4 && l->family == 6 && (l->v6only || !addr_any(&l->local)))
        return false; /* only a dual-stack wildcard gets v4-mapped clients */
    if (!addr_any(&l->local) &&
        (l->local.family != local->family || memcmp(l->local.a, local->a, 16)))
        return false;
    return true;
}

static struct mpxd_listener *pick_listener(struct mpxd *d, const struct mpx_rpc_addr *key,
                                           uint16_t port, uint32_t conn,
                                           const struct mpx_rpc_conn_info *ci)
{
    struct mpxd_listener *cand[MPXD_MAX_LISTEN];
    unsigned n = 0;
    /* the engine chose the listener (exact address, then the family's
     * wildcard, then dual stack, as the kernel scores them): its key names
     * the app sockets of that (address, port), one or a SO_REUSEPORT group */
    for (int i = 0; i < MPXD_MAX_LISTEN; i++) {
        struct mpxd_listener *l = &d->listeners[i];
        struct mpx_rpc_addr k;
        if (!l->used || !l->sock_id || l->port != port ||
            !listener_takes(l, &ci->remote, &ci->local))
            continue;
        k = key_of(l);
        if (key_eq(&k, key))
            cand[n++] = l;
    }
    /* SO_REUSEPORT groups: spread connections over the group */
    return n ? cand[conn % n] : NULL;
}

static int connect_to_listener(struct mpxd_listener *l, uint32_t conn,
                               const struct mpx_rpc_conn_info *ci)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    char name[64];
    size_t n;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    n = mpx_rpc_acc_name(sa.sun_path + 1, sizeof(sa.sun_path) - 1, l->family, conn, &ci->remote,
                         ci->rport, &ci->local, ci->lport);
    if (bind(fd, (struct sockaddr *)&sa,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n))) {
        int e = -errno;
        close(fd);
        return e;
    }
    sock_name(name, sizeof(name), l->family, l->sock_id);
    memset(sa.sun_path, 0, sizeof(sa.sun_path));
    memcpy(sa.sun_path + 1, name, strlen(name));
    if (connect(fd, (struct sockaddr *)&sa,
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name)))) {
        int e = -errno;
        close(fd);
        return e;
    }
    /* the name is anyone's to take: the listener must be its owner's */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.uid != l->uid) {
        close(fd);
        return -EPERM;
    }
    return fd;
}

/* An established passive connection to a shim listener: connect an AF_UNIX
 * socket named after it to the app's listening socket (accept() then is the
 * app's own), and bridge it. Backlog full: dropped like a SYN-queue overflow. */
static void shim_deliver(struct mpxd *d, const struct mpx_rpc_addr *key, uint16_t port,
                         uint32_t conn)
{
    struct mpx_rpc_conn_info ci;
    struct mpxd_listener *l;
    struct mpxd_bridge *b;
    int fd = -ENOENT;

    if (mpx_eng_conn_info(d->eng, conn, &ci, mpxd_now()) < 0) {
        /* gone between the accept queue and here: nothing to deliver */
        d->mib.AcceptDropped++;
        mpxd_log(d, MPX_DLOG_INFO, "conn %u on port %u dropped: no longer known", conn, port);
        return;
    }
    while ((l = pick_listener(d, key, port, conn, &ci))) {
        fd = connect_to_listener(l, conn, &ci);
        if (fd != -ECONNREFUSED && fd != -ENOENT && fd != -EPERM)
            break;
        /* the shim's listen() asks us before its real listen(): a connection
         * in between finds the socket there but not listening yet. Drop
         * that one, keep the listener (a gone socket has no name). */
        if (fd == -ECONNREFUSED && name_alive(l->family, l->sock_id, false))
            break;
        /* the app's listening socket is gone (or not its owner's): forget it */
        mpxd_log(d, MPX_DLOG_INFO, "listener %016llx on port %u gone (%s)",
                 (unsigned long long)l->sock_id, port, strerror(-fd));
        listener_free(d, l);
    }
    b = fd >= 0 ? bridge_new(d, fd, conn, l->uid) : NULL;
    if (!b) {
        if (fd >= 0)
            close(fd);
        mpx_eng_abort(d->eng, conn, mpxd_now());
        d->mib.AcceptDropped++;
        /* an established connection the app never sees: say why */
        mpxd_log(d, MPX_DLOG_INFO, "conn %u on port %u dropped: %s", conn, port,
                 fd == -EAGAIN ? "backlog full"
                 : fd < 0      ? strerror(-fd)
                               : "no bridge");
        return;
    }
    /* blocking: io_uring arms its own poll (check_bridge_fd). The socket is
     * ours (connect_to_listener): O_NONBLOCK is its only status flag */
    fcntl(fd, F_SETFL, 0);
    b->server = true;
    b->extkey_policy = l->extkey_policy ? l->extkey_policy : d->cfg.extkey_policy;
    b->psk_len = l->psk_len;
    memcpy(b->psk, l->psk, sizeof(b->psk));
    d->mib.ShimAccepts++;
}
