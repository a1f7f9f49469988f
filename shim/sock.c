/*
 * sock.c - the interposed control calls: socket, bind, listen, connect,
 * accept/accept4, getsockname, getpeername, close, close_range, closefrom
 * (DESIGN.md decision 2, notes/shim.md §5, protocol in rpc.h struct
 * mpx_rpc_sock).
 *
 * socket() makes an AF_UNIX stream socket with the program's flags, bound
 * to the abstract name "mptcpext/s/<4|6>/<id>"; that fd is the program's for
 * good (never dup2'ed over: epoll registrations follow the open file).
 * connect() joins it to the daemon's data listener (SOCK_CONNECT_NAMED; or,
 * without one, to a fresh far end, a throw-away autobound listener,
 * accepted and handed over with SOCK_CONNECT), writes just over sndbuf/4
 * bytes of filler, so that the fd is not writable: the
 * daemon discards the filler when the MPTCP connection is established
 * (POLLOUT edge), or closes the far end with the filler unread on failure
 * (POLLERR|POLLHUP) and keeps the errno for SO_ERROR. listen() is SOCK_LISTEN,
 * then the real listen(): the daemon connects one AF_UNIX socket per
 * established connection to it, named after the connection
 * (MPX_RPC_ACC_PREFIX), so accept() and its readiness are the kernel's.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shim_int.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

union reply {
    struct mpx_rpc_conn_result r;
    struct mpx_rpc_status st;
    uint8_t raw[MPX_RPC_BODY_MAX];
};

/* ---- addresses ------------------------------------------------------------------ */

int mpx_shim_sa_to_rpc(const struct mpx_shim_sock *s, const struct sockaddr *sa, socklen_t len,
                       struct mpx_rpc_addr *a, uint16_t *port)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(a, 0, sizeof(*a));
    if (!sa || len < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    if (s->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (sa->sa_family != AF_INET)
            return -EAFNOSUPPORT;
        if (len < (socklen_t)sizeof(*in))
            return -EINVAL;
        a->family = 4;
        memcpy(a->a, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return 0;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (sa->sa_family != AF_INET6)
        return -EAFNOSUPPORT; /* as Linux: an AF_INET address on an AF_INET6 socket */
    if (len < (socklen_t)sizeof(*in6))
        return -EINVAL;
    *port = ntohs(in6->sin6_port);
    if (!memcmp(in6->sin6_addr.s6_addr, mapped, 12)) {
        a->family = 4; /* v4-mapped: IPv4 (notes/shim.md §5.10) */
        memcpy(a->a, in6->sin6_addr.s6_addr + 12, 4);
    } else {
        a->family = 6;
        memcpy(a->a, in6->sin6_addr.s6_addr, 16);
    }
    return 0;
}

socklen_t mpx_shim_rpc_to_sa(int family, const struct mpx_rpc_addr *a, uint16_t port,
                             struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        if (a->family == 4)
            memcpy(&in->sin_addr, a->a, 4);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (a->family == 4) {
        in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(in6->sin6_addr.s6_addr + 12, a->a, 4);
    } else if (a->family == 6) {
        memcpy(in6->sin6_addr.s6_addr, a->a, 16);
    }
    return sizeof(*in6);
}

/* Copy |src| into the program's (addr, *len) with the kernel's truncation rule. */
static void give_addr(const struct sockaddr_storage *src, socklen_t slen, struct sockaddr *addr,
                      socklen_t *len)
{
    if (!addr || !len)
        return;
    memcpy(addr, src, *len < slen ? *len : slen);
    *len = slen;
}

static socklen_t sock_name(const struct mpx_shim_sock *s, struct sockaddr_un *sa)
{
    int n;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, MPX_RPC_SOCK_NAME_FMT,
                 s->family == AF_INET6 ? '6' : '4', (unsigned long long)s->sock_id);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* ---- requests -------------------------------------------------------------------- */

static void req_init(const struct mpx_shim_sock *s, struct mpx_rpc_sock *q)
{
    memset(q, 0, sizeof(*q));
    q->sock_id = s->sock_id;
    q->family = s->family == AF_INET6 ? 6 : 4;
    q->extkey_policy = mpx_shim_cfg.extkey;
    if (s->opts.reuseaddr)
        q->flags |= MPX_RPC_SOCK_F_REUSEADDR;
    if (s->opts.reuseport)
        q->flags |= MPX_RPC_SOCK_F_REUSEPORT;
    if (s->opts.v6only && s->family == AF_INET6)
        q->flags |= MPX_RPC_SOCK_F_V6ONLY;
    if (s->opts.freebind || s->opts.transparent)
        q->flags |= MPX_RPC_SOCK_F_FREEBIND;
}

/* One SOCK_* request: the reply's status (0, -EINPROGRESS or -errno), the
 * result in |r|. */
static int sock_rpc(uint16_t type, struct mpx_rpc_sock *q, int fd_out,
                    struct mpx_rpc_conn_result *r)
{
    union reply rep;
    int t = mpx_shim_ctl_call(type, q, sizeof(*q), fd_out, &rep, sizeof(rep));
    memset(r, 0, sizeof(*r));
    if (t < 0)
        return t == -ENOENT || t == -ECONNREFUSED ? -ECONNREFUSED : t;
    if (t == MPX_RPC_STATUS)
        return rep.st.status ? rep.st.status : -EPROTO;
    if (t != MPX_RPC_SOCK_RESULT)
        return -EPROTO;
    *r = rep.r;
    return r->status;
}

static int with_psk(struct mpx_rpc_sock *q)
{
    int n = mpx_shim_psk(q->psk);
    if (n < 0)
        return n;
    q->psk_len = (uint16_t)n;
    return 0;
}

static int fail(int err)
{
    errno = err;
    return -1;
}

/* ---- socket ----------------------------------------------------------------------- */

static bool wanted(int domain, int type, int protocol)
{
    return !mpx_shim_cfg.disabled && (domain == AF_INET || domain == AF_INET6) &&
           (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
           (protocol == 0 || protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP);
}

MPX_SHIM_EXPORT int socket(int domain, int type, int protocol)
{
    static int warned;
    struct sockaddr_un sa;
    struct mpx_shim_sock *s;
    int fd;

    mpx_shim_init();
    if (!wanted(domain, type, protocol))
        return mpx_shim_real.socket(domain, type, protocol);
    if (!mpx_shim_ctl_ok()) {
        if (mpx_shim_cfg.fallback == MPX_SHIM_FALLBACK_ERROR) {
            mpx_shim_log(MPX_SHIM_LOG_ERROR,
                         "mptcpextd is not running (MPTCPEXT_FALLBACK=error): socket() fails");
            return fail(ECONNREFUSED);
        }
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            mpx_shim_log(MPX_SHIM_LOG_WARN,
                         "mptcpextd is not running: using the kernel's TCP (MPTCPEXT_FALLBACK)");
        return mpx_shim_real.socket(domain, type, protocol);
    }
    fd = mpx_shim_real.socket(AF_UNIX, SOCK_STREAM | (type & (SOCK_NONBLOCK | SOCK_CLOEXEC)), 0);
    if (fd < 0)
        return fd;
    for (int tries = 0;; tries++) {
        socklen_t len;
        s = mpx_shim_sock_new(fd, domain, protocol, mpx_shim_sock_id());
        if (!s)
            break;
        len = sock_name(s, &sa);
        if (mpx_shim_real.bind(fd, (struct sockaddr *)&sa, len) == 0)
            return fd;
        if (errno != EADDRINUSE || tries == 8)
            break;
    }
    mpx_shim_sock_forget(fd);
    mpx_shim_real.close(fd);
    return fail(ENOMEM);
}

/* The epoll registrations of |fd| (socket inode |ino|), read from
 * /proc/self/fdinfo of every epoll fd of the process. */
struct ep_reg {
    int epfd;
    uint32_t events;
    uint64_t data;
};

static int epoll_regs(int fd, ino_t ino, struct ep_reg *out, int max)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    if (!dir)
        return 0;
    while (n < max && (de = readdir(dir))) {
        char path[64], link[64], line[256];
        int epfd = atoi(de->d_name);
        ssize_t k;
        FILE *f;

        if (de->d_name[0] < '0' || de->d_name[0] > '9' || epfd == dirfd(dir))
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", epfd);
        k = readlink(path, link, sizeof(link) - 1);
        if (k <= 0 || (link[k] = '\0', strcmp(link, "anon_inode:[eventpoll]")))
            continue;
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
        if (!(f = fopen(path, "re")))
            continue;
        while (n < max && fgets(line, sizeof(line), f)) {
            int tfd;
            unsigned ev;
            unsigned long long data;
            unsigned long tino;
            if (sscanf(line, "tfd: %d events: %x data: %llx pos:%*d ino:%lx", &tfd, &ev, &data,
                       &tino) == 4 &&
                tfd == fd && (ino_t)tino == ino)
                out[n++] = (struct ep_reg){epfd, ev, data};
        }
        fclose(f);
    }
    closedir(dir);
    return n;
}

/* Excluded destinations and addresses stay on the kernel: the AF_UNIX fd is
 * replaced by a kernel TCP socket with the same number, flags and options.
 * Its epoll registrations (nginx registers an upstream socket before
 * connect) are copied to the new socket: epoll watches a file, and the old
 * one goes away. */
static int to_kernel(struct mpx_shim_sock *s)
{
    int fd = s->fd, fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    int k, one = 1, nregs;
    struct ep_reg regs[8];
    struct timeval tv;
    socklen_t tl = sizeof(tv);

    k = mpx_shim_real.socket(s->family, SOCK_STREAM | SOCK_CLOEXEC,
                             s->protocol == IPPROTO_MPTCP ? IPPROTO_MPTCP : IPPROTO_TCP);
    if (k < 0)
        return -errno;
    if (s->opts.reuseaddr)
        mpx_shim_real.setsockopt(k, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (s->opts.reuseport)
        mpx_shim_real.setsockopt(k, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (s->opts.nodelay)
        mpx_shim_real.setsockopt(k, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (s->opts.keepalive)
        mpx_shim_real.setsockopt(k, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if (s->family == AF_INET6)
        mpx_shim_real.setsockopt(k, IPPROTO_IPV6, IPV6_V6ONLY, &s->opts.v6only, sizeof(int));
    if (mpx_shim_real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl) == 0)
        mpx_shim_real.setsockopt(k, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    tl = sizeof(tv);
    if (mpx_shim_real.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &tl) == 0)
        mpx_shim_real.setsockopt(k, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fl >= 0)
        fcntl(k, F_SETFL, fl);
    nregs = epoll_regs(fd, s->ino, regs, (int)(sizeof(regs) / sizeof(regs[0])));
    mpx_shim_sock_forget(fd);
    if (dup3(k, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
        int e = errno;
        mpx_shim_real.close(k);
        return -e;
    }
    mpx_shim_real.close(k);
    for (int i = 0; i < nregs; i++) {
        struct epoll_event ev = {.events = regs[i].events, .data.u64 = regs[i].data};
        if (epoll_ctl(regs[i].epfd, EPOLL_CTL_ADD, fd, &ev))
            mpx_shim_log(MPX_SHIM_LOG_WARN, "fd %d: epoll %d not carried over: %s", fd,
                         regs[i].epfd, strerror(errno));
    }
    mpx_shim_log(MPX_SHIM_LOG_DEBUG, "fd %d: excluded, on the kernel's TCP", fd);
    return 0;
}

/* ---- bind, listen -------------------------------------------------------------------- */

static int do_bind(struct mpx_shim_sock *s, const struct mpx_rpc_addr *a, uint16_t port)
{
    struct mpx_rpc_sock q;
    struct mpx_rpc_conn_result r;
    int rc;

    req_init(s, &q);
    q.local = *a;
    q.lport = port;
    rc = sock_rpc(MPX_RPC_SOCK_BIND, &q, -1, &r);
    if (rc < 0)
        return rc;
    s->state = MPX_SHIM_S_BOUND;
    s->local_len = mpx_shim_rpc_to_sa(s->family, a, r.lport, &s->local);
    return 0;
}

MPX_SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    struct mpx_rpc_addr a;
    uint16_t port;
    int rc;

    if (!s)
        return mpx_shim_real.bind(fd, addr, len);
    rc = mpx_shim_sa_to_rpc(s, addr, len, &a, &port);
    if (rc)
        return fail(-rc);
    if (s->state != MPX_SHIM_S_NEW)
        return fail(EINVAL);
    if (mpx_shim_excluded(&a, 0)) { /* e.g. 127.0.0.1: a kernel socket */
        if ((rc = to_kernel(s)))
            return fail(-rc);
        return mpx_shim_real.bind(fd, addr, len);
    }
    mpx_shim_sock_lock(s);
    rc = do_bind(s, &a, port);
    mpx_shim_sock_unlock(s);
    return rc ? fail(-rc) : 0;
}

MPX_SHIM_EXPORT int listen(int fd, int backlog)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    struct mpx_rpc_sock q;
    struct mpx_rpc_conn_result r;
    struct mpx_rpc_addr any;
    int rc = 0;

    if (!s)
        return mpx_shim_real.listen(fd, backlog);
    if (s->state == MPX_SHIM_S_LISTENING)
        return mpx_shim_real.listen(fd, backlog); /* a new backlog */
    mpx_shim_sock_lock(s);
    memset(&any, 0, sizeof(any));
    if (s->state == MPX_SHIM_S_NEW) /* listen() without bind(): an ephemeral port */
        rc = do_bind(s, &any, 0);
    else if (s->state != MPX_SHIM_S_BOUND)
        rc = -EINVAL;
    /* The daemon first: it may refuse (EADDRINUSE, e.g. SO_REUSEADDR wildcard
     * and specific listeners, which Linux refuses at listen()), and a
     * listening AF_UNIX socket cannot be turned back, so only an accepted
     * listen() makes the app's socket listen. A refused one leaves it bound
     * and unconnected, as on Linux, and a later listen() may succeed. A
     * connection the engine establishes before the real listen() below finds
     * the socket not yet listening: the daemon drops that one connection but
     * keeps the listener (bridge.c shim_deliver). */
    if (!rc) {
        req_init(s, &q);
        q.backlog = backlog > 0 ? (uint32_t)backlog : 0;
        rc = with_psk(&q);
        if (!rc)
            rc = sock_rpc(MPX_RPC_SOCK_LISTEN, &q, -1, &r);
    }
    if (!rc && mpx_shim_real.listen(fd, backlog)) {
        rc = -errno; /* not seen on a bound AF_UNIX socket: let the daemon check */
        mpx_shim_log(MPX_SHIM_LOG_WARN, "fd %d: listen: %s", fd, strerror(-rc));
        req_init(s, &q);
        mpx_shim_ctl_send(MPX_RPC_SOCK_CLOSE, &q, sizeof(q));
    }
    if (!rc)
        s->state = MPX_SHIM_S_LISTENING;
    mpx_shim_sock_unlock(s);
    return rc ? fail(-rc) : 0;
}

/* ---- connect --------------------------------------------------------------------------- */

/* A far end for |fd|: connect it to a throw-away autobound listener and
 * accept. The app's fd keeps its own name (its id). */
static int make_far_end(int fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len = sizeof(sa_family_t);
    int l = mpx_shim_real.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), far = -1, e = 0;

    if (l < 0)
        return -errno;
    if (mpx_shim_real.bind(l, (struct sockaddr *)&sa, len) || mpx_shim_real.listen(l, 1))
        e = errno;
    len = sizeof(sa);
    if (!e && mpx_shim_real.getsockname(l, (struct sockaddr *)&sa, &len))
        e = errno;
    if (!e && mpx_shim_real.connect(fd, (struct sockaddr *)&sa, len))
        e = errno;
    if (!e && (far = mpx_shim_real.accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
        e = errno;
    mpx_shim_real.close(l);
    return e ? -e : far;
}

/* SOCK_CONNECT_NAMED: connect the app's socket itself to the daemon's data
 * listener (rpc.h MPX_RPC_DATA_NAME_FMT) instead of to a far end made here
 * and passed with SCM_RIGHTS (6 system calls and a socket less per
 * connect). 0: connected to it; 1: not connected (a daemon without one, or
 * its backlog full): the caller makes a far end; a negative errno: the name
 * was someone else's (the fd is spent). */
static int connect_named(int fd)
{
    static pid_t refused; /* that daemon has no data listener: not tried again */
    pid_t dpid = mpx_shim_ctl_daemon_pid(false);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    int n;

    if (dpid <= 0 || __atomic_load_n(&refused, __ATOMIC_RELAXED) == dpid)
        return 1;
    n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, MPX_RPC_DATA_NAME_FMT, (long)dpid);
    if (mpx_shim_real.connect(
            fd, (struct sockaddr *)&sa,
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n))) {
        if (errno == ECONNREFUSED || errno == ENOENT)
            __atomic_store_n(&refused, dpid, __ATOMIC_RELAXED);
        return 1; /* also EAGAIN (backlog full) and EINTR: still unconnected */
    }
    /* abstract names are anyone's to take: the listener must be the daemon */
    if (mpx_shim_real.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.pid != dpid) {
        mpx_shim_log(MPX_SHIM_LOG_ERROR, "fd %d: @%s is not mptcpextd's (pid %d): not connecting",
                     fd, sa.sun_path + 1, (int)cred.pid);
        return -ECONNREFUSED;
    }
    return 0;
}

/* Just over a quarter of the send buffer: an AF_UNIX stream socket is
 * writable while its queued bytes are <= sndbuf/4 (notes/shim.md §2).
 * One send (zeros from .bss: the shared zero page), not one per 16 KB. */
static uint32_t write_filler(int fd)
{
    static char zeros[64 * 1024]; /* the default sndbuf needs 57344 */
    int sndbuf = 0;
    socklen_t l = sizeof(sndbuf);
    uint32_t want, sent = 0;

    if (mpx_shim_real.getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &l) || sndbuf <= 0)
        sndbuf = 212992;
    want = (uint32_t)sndbuf / 4 + 4096;
    if (want > MPX_RPC_FILLER_MAX)
        want = MPX_RPC_FILLER_MAX;
    while (sent < want) { /* a short send: once more (the rest of a sndbuf set large) */
        size_t n = want - sent < sizeof(zeros) ? want - sent : sizeof(zeros);
        ssize_t w = mpx_shim_real.send(fd, zeros, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* EAGAIN: full, so not writable either: enough */
        sent += (uint32_t)w;
    }
    return sent;
}

/* The engine's connection id (and addresses) of |s|, connected without
 * the reply that tells them (a blocking connect interrupted by a signal or
 * SO_SNDTIMEO): asked once, then the options set so far are forwarded. */
static void learn_conn(struct mpx_shim_sock *s)
{
    struct mpx_rpc_sock q;
    struct mpx_rpc_conn_result r;

    req_init(s, &q);
    if (sock_rpc(MPX_RPC_SOCK_GET, &q, -1, &r) != 0 || !r.conn)
        return;
    s->conn = r.conn;
    if (r.lport)
        s->local_len = mpx_shim_rpc_to_sa(s->family, &r.local, r.lport, &s->local);
    mpx_shim_opts_on_conn(s);
}

/* The connection's outcome, if known: from the fd's readiness (no RPC while
 * it is pending), then from the daemon. Caller holds the lock. */
static void check_progress(struct mpx_shim_sock *s, int timeout_ms, int *poll_err)
{
    struct pollfd p = {s->fd, POLLOUT, 0};
    struct mpx_rpc_sock q;
    struct mpx_rpc_conn_result r;
    int rc = poll(&p, 1, timeout_ms), st;

    *poll_err = rc < 0 ? errno : 0;
    if (rc <= 0 || s->state != MPX_SHIM_S_CONNECTING)
        return;
    if (!(p.revents & (POLLERR | POLLHUP))) {
        s->state = MPX_SHIM_S_CONNECTED; /* the filler is gone: established */
        if (!s->conn)
            learn_conn(s); /* a blocking connect left before its reply */
        return;
    }
    /* closed: with the filler unread (failed; the daemon shuts the far end
     * down before closing it, so POLLHUP may come before POLLERR), or after
     * a connection that was established and already ended */
    req_init(s, &q);
    q.flags |= MPX_RPC_SOCK_F_TAKE_ERR;
    st = sock_rpc(MPX_RPC_SOCK_GET, &q, -1, &r);
    if (st == -EINPROGRESS || st == 0 || st == -ENOENT) {
        s->state = MPX_SHIM_S_CONNECTED; /* reads tell the rest */
        return;
    }
    s->state = MPX_SHIM_S_FAILED;
    s->so_error = -st;
}

static int sndtimeo_ms(int fd)
{
    struct timeval tv;
    socklen_t l = sizeof(tv);
    if (mpx_shim_real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &l) ||
        (tv.tv_sec == 0 && tv.tv_usec == 0))
        return -1;
    return (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
}

/* A blocking connect waits like the kernel's: SO_SNDTIMEO bounds it
 * (EINPROGRESS then), a signal interrupts it (EINTR) and the connection
 * goes on in the background. No lock is held while waiting. */
static int wait_connected(struct mpx_shim_sock *s)
{
    struct pollfd p = {s->fd, POLLOUT, 0};
    int perr = 0, err = 0, rc = poll(&p, 1, sndtimeo_ms(s->fd));

    if (rc < 0)
        return -errno; /* EINTR: the connection goes on (EALREADY next) */
    if (rc == 0)
        return -EINPROGRESS;
    mpx_shim_sock_lock(s);
    check_progress(s, 0, &perr);
    if (s->state == MPX_SHIM_S_CONNECTING)
        err = EINPROGRESS;
    else if (s->state == MPX_SHIM_S_FAILED) {
        err = s->so_error;
        s->so_error = 0;
    }
    mpx_shim_sock_unlock(s);
    return -err;
}

/* SOCK_CONNECT. With |late_id| (a blocking connect), the request asks for
 * MPX_RPC_SOCK_F_LATE_REPLY and is not waited for here: its id goes to
 * *late_id and wait_late() collects the one reply, at the outcome. */
static int start_connect(struct mpx_shim_sock *s, const struct mpx_rpc_addr *a, uint16_t port,
                         uint32_t *late_id)
{
    struct mpx_rpc_sock q;
    struct mpx_rpc_conn_result r;
    uint32_t filler;
    uint16_t type = MPX_RPC_SOCK_CONNECT_NAMED;
    int far = -1, rc;

    req_init(s, &q);
    rc = with_psk(&q);
    if (rc)
        return rc;
    rc = connect_named(s->fd);
    if (rc < 0) {
        s->state = MPX_SHIM_S_FAILED;
        return rc;
    }
    if (rc > 0) {
        type = MPX_RPC_SOCK_CONNECT;
        far = make_far_end(s->fd);
        if (far < 0)
            return far;
    }
    filler = write_filler(s->fd);
    if (s->state == MPX_SHIM_S_BOUND)
        mpx_shim_sa_to_rpc(s, (struct sockaddr *)&s->local, s->local_len, &q.local, &q.lport);
    q.remote = *a;
    q.rport = port;
    q.filler_len = filler;
    if (late_id) {
        q.flags |= MPX_RPC_SOCK_F_LATE_REPLY;
        rc = mpx_shim_ctl_request(type, &q, sizeof(q), far, late_id);
        if (rc == 0)
            rc = -EINPROGRESS;
        else if (rc == -ENOENT || rc == -ECONNREFUSED)
            rc = -ECONNREFUSED;
        memset(&r, 0, sizeof(r)); /* the connection id comes with the reply */
    } else {
        rc = sock_rpc(type, &q, far, &r);
    }
    if (far >= 0)
        mpx_shim_real.close(far);
    s->peer_len = mpx_shim_rpc_to_sa(s->family, a, port, &s->peer);
    if (rc != -EINPROGRESS) {
        /* refused at once (ENETUNREACH, EADDRNOTAVAIL ...): the fd is spent */
        s->state = MPX_SHIM_S_FAILED;
        return rc < 0 ? rc : -EPROTO;
    }
    s->state = MPX_SHIM_S_CONNECTING;
    s->conn = r.conn;
    if (r.conn)
        mpx_shim_opts_on_conn(s);
    return -EINPROGRESS;
}

/* The SOCK_RESULT of a blocking connect (MPX_RPC_SOCK_F_LATE_REPLY). */
static int late_result(struct mpx_shim_sock *s, int type, const union reply *rep)
{
    int st = type == MPX_RPC_SOCK_RESULT ? rep->r.status
             : type == MPX_RPC_STATUS    ? (rep->st.status ? rep->st.status : -EPROTO)
                                         : -EPROTO;
    bool fresh = false;

    mpx_shim_sock_lock(s);
    if (s->state == MPX_SHIM_S_CONNECTING) {
        if (st == 0) {
            fresh = rep->r.conn != 0;
            s->state = MPX_SHIM_S_CONNECTED;
            s->conn = rep->r.conn;
            if (rep->r.lport)
                s->local_len =
                    mpx_shim_rpc_to_sa(s->family, &rep->r.local, rep->r.lport, &s->local);
        } else {
            s->state = MPX_SHIM_S_FAILED; /* this connect() reports it: SO_ERROR stays 0 */
            s->so_error = 0;
        }
    }
    mpx_shim_sock_unlock(s);
    if (fresh)
        mpx_shim_opts_on_conn(s);
    return st == -EINPROGRESS ? -EPROTO : st;
}

/* A blocking connect with a late reply: one poll for the reply (the daemon
 * sends it when the outcome is known), bounded by SO_SNDTIMEO, EINTR on a
 * signal (the connection goes on, as Linux). The app's fd is polled too: if
 * it shows the outcome and no reply is there (a signal handler's call on
 * this thread's control socket dropped it), the fd and SOCK_GET tell. */
static int wait_late(struct mpx_shim_sock *s, uint32_t id)
{
    int tmo = sndtimeo_ms(s->fd);
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p[2] = {{s->fd, POLLOUT, 0}, {mpx_shim_ctl_fd(), POLLIN, 0}};
        union reply rep;
        int left = tmo, rc, t;

        if (tmo >= 0) {
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            left =
                tmo - (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
            if (left < 0)
                left = 0;
        }
        rc = poll(p, p[1].fd >= 0 ? 2 : 1, left);
        if (rc < 0)
            return -errno; /* EINTR: the connection goes on (EALREADY next) */
        if (rc == 0)
            return -EINPROGRESS;
        t = p[1].fd >= 0 ? mpx_shim_ctl_take(id, &rep, sizeof(rep)) : -ENOTCONN;
        if (t > 0)
            return late_result(s, t, &rep);
        if (p[0].revents || (t != -EAGAIN && t < 0))
            return wait_connected(s); /* no reply to wait for: the fd tells */
    }
}

/* connect() on a socket that already went through one. */
static int connect_again(struct mpx_shim_sock *s)
{
    int perr, e;
    switch (s->state) {
    case MPX_SHIM_S_CONNECTING:
        check_progress(s, 0, &perr);
        if (s->state == MPX_SHIM_S_CONNECTED)
            return 0; /* the first connect() after completion, as Linux */
        if (s->state == MPX_SHIM_S_CONNECTING)
            return -EALREADY;
        __attribute__((fallthrough)); /* failed */
    case MPX_SHIM_S_FAILED:
        e = s->so_error;
        s->so_error = 0;
        return e ? -e : -ECONNABORTED;
    default:
        return -EISCONN;
    }
}

MPX_SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    struct mpx_rpc_addr a;
    uint16_t port;
    uint32_t id = 0;
    int rc, fl;
    bool blocking, late;

    if (!s)
        return mpx_shim_real.connect(fd, addr, len);
    rc = mpx_shim_sa_to_rpc(s, addr, len, &a, &port);
    if (rc)
        return fail(-rc);
    mpx_shim_sock_lock(s);
    if (s->state != MPX_SHIM_S_NEW && s->state != MPX_SHIM_S_BOUND) {
        rc = connect_again(s);
        mpx_shim_sock_unlock(s);
        return rc ? fail(-rc) : 0;
    }
    if (mpx_shim_excluded(&a, port)) {
        rc = to_kernel(s);
        mpx_shim_sock_unlock(s);
        return rc ? fail(-rc) : mpx_shim_real.connect(fd, addr, len);
    }
    fl = fcntl(fd, F_GETFL);
    blocking = !(fl >= 0 && (fl & O_NONBLOCK));
    /* a blocking connect waits for one reply, at the outcome; except with
     * TCP_USER_TIMEOUT or TCP_SYNCNT, which must reach the engine while it
     * sends SYNs (the connection id they need comes with the early reply) */
    late = blocking && !s->opts.user_timeout && !s->opts.syncnt;
    rc = start_connect(s, &a, port, late ? &id : NULL);
    mpx_shim_sock_unlock(s);
    if (rc != -EINPROGRESS || !blocking)
        return fail(-rc);
    rc = late ? wait_late(s, id) : wait_connected(s);
    return rc ? fail(-rc) : 0;
}

int mpx_shim_sock_take_error(struct mpx_shim_sock *s)
{
    int perr, e;
    mpx_shim_sock_lock(s);
    if (s->state == MPX_SHIM_S_CONNECTING)
        check_progress(s, 0, &perr);
    e = s->so_error;
    s->so_error = 0;
    mpx_shim_sock_unlock(s);
    return e;
}

/* State of a socket adopted by name (after exec, dup, SCM_RIGHTS). */
void mpx_shim_sock_refresh(struct mpx_shim_sock *s)
{
    struct mpx_rpc_sock q;
    struct mpx_rpc_conn_result r;
    int acc = 0, rc;
    socklen_t l = sizeof(acc);

    req_init(s, &q);
    rc = sock_rpc(MPX_RPC_SOCK_GET, &q, -1, &r);
    if (mpx_shim_real.getsockopt(s->fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) == 0 && acc)
        s->state = MPX_SHIM_S_LISTENING;
    else if (rc == -EINPROGRESS)
        s->state = MPX_SHIM_S_CONNECTING;
    else if (rc == 0 && r.conn)
        s->state = MPX_SHIM_S_CONNECTED;
    else if (rc == 0)
        s->state = MPX_SHIM_S_BOUND;
    else if (rc == -ENOENT) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        /* connected (peer end exists) but the connection is gone: EOF */
        if (mpx_shim_real.getpeername(s->fd, (struct sockaddr *)&ss, &sl) == 0)
            s->state = MPX_SHIM_S_CONNECTED;
    } else if (rc < 0) {
        s->state = MPX_SHIM_S_FAILED;
        s->so_error = -rc;
    }
    s->conn = r.conn;
    if (rc == 0 || rc == -EINPROGRESS) {
        s->local_len = mpx_shim_rpc_to_sa(s->family, &r.local, r.lport, &s->local);
        if (r.remote.family)
            s->peer_len = mpx_shim_rpc_to_sa(s->family, &r.remote, r.rport, &s->peer);
    }
}

/* ---- accept ------------------------------------------------------------------------- */

/* Is the connection on |nfd| one the daemon made (and not a local process
 * that connected to our abstract name)? */
static bool from_daemon(int nfd, char *name, size_t cap, size_t *nlen)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    size_t n;

    if (mpx_shim_real.getpeername(nfd, (struct sockaddr *)&sa, &len) ||
        len <= offsetof(struct sockaddr_un, sun_path) + 1 || sa.sun_path[0])
        return false;
    n = len - offsetof(struct sockaddr_un, sun_path) - 1;
    if (n >= cap || strncmp(sa.sun_path + 1, MPX_RPC_ACC_PREFIX, strlen(MPX_RPC_ACC_PREFIX)))
        return false;
    memcpy(name, sa.sun_path + 1, n);
    *nlen = n;
    if (mpx_shim_real.getsockopt(nfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
        return false;
    /* a restarted daemon has a new pid: ask again before refusing */
    return cred.pid == mpx_shim_ctl_daemon_pid(false) || cred.pid == mpx_shim_ctl_daemon_pid(true);
}

static int do_accept(struct mpx_shim_sock *ls, struct sockaddr *addr, socklen_t *alen, int flags)
{
    for (;;) {
        char name[128];
        size_t nlen = 0;
        struct mpx_rpc_addr peer, local;
        uint16_t pport, lport;
        uint32_t conn;
        int lfam, nfd = mpx_shim_real.accept4(ls->fd, NULL, NULL, flags);
        struct mpx_shim_sock *s;

        if (nfd < 0)
            return -1;
        if (!from_daemon(nfd, name, sizeof(name), &nlen) ||
            mpx_rpc_acc_parse(name, nlen, &lfam, &conn, &peer, &pport, &local, &lport)) {
            mpx_shim_log(MPX_SHIM_LOG_WARN, "fd %d: dropped a connection not made by mptcpextd",
                         ls->fd);
            mpx_shim_real.close(nfd);
            continue; /* a non-blocking listener then says EAGAIN itself */
        }
        s = mpx_shim_sock_new(nfd, ls->family, ls->protocol, mpx_shim_sock_id());
        if (s) {
            s->state = MPX_SHIM_S_CONNECTED;
            s->conn = conn;
            s->peer_len = mpx_shim_rpc_to_sa(s->family, &peer, pport, &s->peer);
            s->local_len = mpx_shim_rpc_to_sa(s->family, &local, lport, &s->local);
            s->opts = ls->opts; /* inherited from the listener, as TCP does */
            mpx_shim_opts_on_conn(s);
            give_addr(&s->peer, s->peer_len, addr, alen);
        } else {
            struct sockaddr_storage ss;
            socklen_t sl = mpx_shim_rpc_to_sa(ls->family, &peer, pport, &ss);
            give_addr(&ss, sl, addr, alen);
        }
        return nfd;
    }
}

MPX_SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    if (!s || s->state != MPX_SHIM_S_LISTENING)
        return mpx_shim_real.accept4(fd, addr, len, flags);
    return do_accept(s, addr, len, flags);
}

MPX_SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    if (!s || s->state != MPX_SHIM_S_LISTENING)
        return mpx_shim_real.accept(fd, addr, len);
    return do_accept(s, addr, len, 0);
}

/* ---- names ------------------------------------------------------------------------------ */

MPX_SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    struct sockaddr_storage ss;
    socklen_t sl;

    if (!s)
        return mpx_shim_real.getsockname(fd, addr, len);
    if (!len)
        return fail(EFAULT);
    mpx_shim_sock_lock(s);
    if ((s->state == MPX_SHIM_S_CONNECTING || s->state == MPX_SHIM_S_CONNECTED) &&
        (s->local_len == 0 || ((struct sockaddr_in *)&s->local)->sin_port == 0))
        mpx_shim_sock_refresh(s);
    if (s->local_len) {
        ss = s->local;
        sl = s->local_len;
    } else {
        struct mpx_rpc_addr none;
        memset(&none, 0, sizeof(none));
        sl = mpx_shim_rpc_to_sa(s->family, &none, 0, &ss);
    }
    mpx_shim_sock_unlock(s);
    give_addr(&ss, sl, addr, len);
    return 0;
}

MPX_SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int perr;

    if (!s)
        return mpx_shim_real.getpeername(fd, addr, len);
    if (!len)
        return fail(EFAULT);
    mpx_shim_sock_lock(s);
    if (s->state == MPX_SHIM_S_CONNECTING)
        check_progress(s, 0, &perr);
    if (s->state == MPX_SHIM_S_CONNECTED && s->peer_len) {
        ss = s->peer;
        sl = s->peer_len;
    }
    mpx_shim_sock_unlock(s);
    if (!sl)
        return fail(ENOTCONN);
    give_addr(&ss, sl, addr, len);
    return 0;
}

/* ---- close ------------------------------------------------------------------------------- */

/* After the program closed a bound or listening socket: the daemon checks
 * whether the socket is really gone (other processes may share it). */
static void closed(const struct mpx_shim_sock *snap)
{
    struct mpx_rpc_sock q;
    if (snap->state != MPX_SHIM_S_BOUND && snap->state != MPX_SHIM_S_LISTENING)
        return;
    req_init(snap, &q);
    mpx_shim_ctl_send(MPX_RPC_SOCK_CLOSE, &q, sizeof(q));
}

MPX_SHIM_EXPORT int close(int fd)
{
    struct mpx_shim_sock *s, snap;
    int rc;

    mpx_shim_init();
    s = mpx_shim_sock_peek(fd);
    if (fd >= 0)
        mpx_shim_ctl_fd_closed((unsigned)fd, (unsigned)fd);
    if (!s)
        return mpx_shim_real.close(fd);
    snap = *s;
    mpx_shim_sock_forget(fd);
    rc = mpx_shim_real.close(fd);
    if (rc == 0) {
        int saved = errno;
        closed(&snap);
        errno = saved;
    }
    return rc;
}

static void forget_range(unsigned first, unsigned last)
{
    /* only the table's own entries: no syscall per fd number */
    size_t cap = mpx_shim_sock_cap();
    for (unsigned fd = first; fd <= last && fd < cap; fd++) {
        struct mpx_shim_sock *s = mpx_shim_sock_peek((int)fd);
        if (s) {
            struct mpx_shim_sock snap = *s;
            mpx_shim_sock_forget((int)fd);
            closed(&snap);
        }
        if (fd == last)
            break;
    }
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

MPX_SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    int rc;
    mpx_shim_init();
    if (!mpx_shim_real.close_range)
        return fail(ENOSYS);
    rc = mpx_shim_real.close_range(first, last, flags);
    if (rc == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) {
        mpx_shim_ctl_fd_closed(first, last);
        forget_range(first, last);
    }
    return rc;
}

MPX_SHIM_EXPORT void closefrom(int lowfd)
{
    mpx_shim_init();
    if (lowfd < 0)
        lowfd = 0;
    if (mpx_shim_real.closefrom)
        mpx_shim_real.closefrom(lowfd);
    mpx_shim_ctl_fd_closed((unsigned)lowfd, ~0u);
    forget_range((unsigned)lowfd, ~0u);
}
