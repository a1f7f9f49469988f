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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static struct mpxd_bridge *bridge_by_conn(struct mpxd *d, uint32_t conn)
{
    for (int i = 0; i < MPXD_MAX_BRIDGES; i++) {
        struct mpxd_bridge *b = &d->bridges[i];
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
    shutdown(b->fd, SHUT_RDWR);
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
    mpxd_rpc_send(d, b->reply_client, b->server ? MPX_RPC_ACCEPTED : MPX_RPC_CONNECTED, b->reply_id,
                  &r, sizeof(r));
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
    conn = mpx_eng_connect(d->eng, &req->local, &req->remote, req->rport, mpxd_now());
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

void mpxd_bridge_on_established(struct mpxd *d, uint32_t conn)
{
    struct mpxd_bridge *b = bridge_by_conn(d, conn);
    if (!b || b->state != MPXD_BR_CONNECTING)
        return;
    b->state = MPXD_BR_OPEN;
    reply_result(d, b, 0);
}

void mpxd_bridge_on_closed(struct mpxd *d, uint32_t conn, int error)
{
    struct mpxd_bridge *b = bridge_by_conn(d, conn);
    if (!b)
        return;
    if (b->state == MPXD_BR_CONNECTING) {
        reply_result(d, b, error ? error : -ECONNREFUSED);
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
        if (n > 0)
            b->roff += (size_t)n;
        else if (n < 0 && n != -EAGAIN)
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

void mpxd_bridges_pump(struct mpxd *d)
{
    uint64_t now = mpxd_now();
    take_accepted(d);
    for (int i = 0; i < MPXD_MAX_BRIDGES; i++)
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
            b->rlen = (size_t)res;
            b->roff = 0;
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

static struct mpxd_listener *listener_by_port(struct mpxd *d, uint16_t port)
{
    for (int i = 0; i < MPXD_MAX_LISTEN; i++)
        if (d->listeners[i].used && d->listeners[i].port == port)
            return &d->listeners[i];
    return NULL;
}

void mpxd_listen(struct mpxd *d, uint32_t cidx, uint32_t id, const struct mpx_rpc_listen *req,
                 int notify_fd)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    struct mpxd_listener *l = NULL;
    struct mpx_rpc_event ev;
    int rc;

    if (!c || listener_by_port(d, req->port)) {
        if (notify_fd >= 0)
            close(notify_fd);
        if (c)
            mpxd_rpc_status(d, cidx, id, -EADDRINUSE, "port %u already has a listener", req->port);
        return;
    }
    for (int i = 0; i < MPXD_MAX_LISTEN && !l; i++)
        if (!d->listeners[i].used)
            l = &d->listeners[i];
    rc = l ? mpx_eng_listen(d->eng, req->port) : -ENOBUFS;
    if (rc < 0) {
        if (notify_fd >= 0)
            close(notify_fd);
        mpxd_rpc_status(d, cidx, id, rc, "listen failed");
        return;
    }
    memset(l, 0, sizeof(*l));
    l->used = true;
    l->port = req->port;
    l->uid = c->uid;
    l->owner = cidx;
    l->notify_fd = notify_fd;
    l->extkey_policy = req->extkey_policy ? req->extkey_policy : d->cfg.extkey_policy;
    l->psk_len = req->psk_len;
    memcpy(l->psk, req->psk, sizeof(l->psk));
    if (notify_fd >= 0)
        fcntl(notify_fd, F_SETFL, fcntl(notify_fd, F_GETFL) | O_NONBLOCK);
    memset(&ev, 0, sizeof(ev));
    ev.type = MPX_RPC_EV_LISTENER_CREATED;
    ev.sport = req->port;
    mpxd_event(d, &ev);
    mpxd_rpc_status(d, cidx, id, 0, NULL);
}

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
    memset(&ev, 0, sizeof(ev));
    ev.type = MPX_RPC_EV_LISTENER_CLOSED;
    ev.sport = l->port;
    l->used = false;
    mpxd_event(d, &ev);
}

void mpxd_unlisten(struct mpxd *d, uint32_t cidx, uint32_t id, uint16_t port)
{
    struct mpxd_client *c = mpxd_client_get(d, cidx);
    struct mpxd_listener *l = listener_by_port(d, port);
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
    b->extkey_policy = l->extkey_policy;
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
    struct mpxd_listener *l = listener_by_port(d, req->port);
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
static void take_accepted(struct mpxd *d)
{
    for (int i = 0; i < MPXD_MAX_LISTEN; i++) {
        struct mpxd_listener *l = &d->listeners[i];
        long conn;
        if (!l->used)
            continue;
        while ((conn = mpx_eng_accept(d->eng, l->port)) > 0) {
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

int mpxd_bridges_init(struct mpxd *d)
{
    d->bridges = calloc(MPXD_MAX_BRIDGES, sizeof(*d->bridges));
    if (!d->bridges)
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
    if (!d->bridges)
        return;
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
}
