/*
 * shim_int.h - internals of libmptcpext.so shared by its files (never
 * installed, never exported: everything here is hidden).
 *
 *   shim.c     constructor (reads the environment only), lazy init, the real
 *              libc functions (dlsym RTLD_NEXT), logging
 *   fdtab.c    the table of sockets the shim manages, keyed by fd, with
 *              adoption of inherited sockets after exec / dup
 *   ctl.c      the control channel to mptcpextd (per-thread SEQPACKET socket,
 *              O_CLOEXEC, high fd number, re-created when the app closed it)
 *   sock.c     socket, bind, listen, connect, accept/accept4, getsockname,
 *              getpeername, close, close_range, closefrom, shutdown
 *   io.c       send/sendto/sendmsg (MSG_OOB, MSG_FASTOPEN), and the cheap
 *              "fd used inside a TLS call" report to tlshooks
 *   sockopt.c  setsockopt/getsockopt: option cache, forwarding to the engine,
 *              TCP_INFO, SOL_MPTCP MPTCP_INFO, SO_DOMAIN/SO_PROTOCOL/SO_ERROR
 *   tlshost.c  the tlshooks host (tlshooks/tlshooks.h): which connection a TLS
 *              session belongs to, its tokens, the key hand-off; the
 *              pre-shared key file
 *
 * This header is the contract between those files; change it only together.
 */
#ifndef MPX_SHIM_INT_H
#define MPX_SHIM_INT_H

#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "rpc.h"

#define MPX_SHIM_HIDDEN __attribute__((visibility("hidden")))
#define MPX_SHIM_EXPORT __attribute__((visibility("default")))

/* ---- environment (MPTCPEXT_*, documented in shim/README.md) ------------- */

enum mpx_shim_log_level {
    MPX_SHIM_LOG_ERROR = 0,
    MPX_SHIM_LOG_WARN,
    MPX_SHIM_LOG_INFO,
    MPX_SHIM_LOG_DEBUG,
};

MPX_SHIM_HIDDEN void mpx_shim_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- sockets managed by the shim --------------------------------------- */

enum mpx_shim_state {
    MPX_SHIM_S_NEW = 0,     /* socket() done, nothing else */
    MPX_SHIM_S_BOUND,       /* bind() reserved an address/port in the engine */
    MPX_SHIM_S_LISTENING,   /* listen() done */
    MPX_SHIM_S_CONNECTING,  /* connect() in progress (EINPROGRESS given) */
    MPX_SHIM_S_CONNECTED,   /* established (connect completed, or accepted) */
    MPX_SHIM_S_FAILED,      /* connect failed; so_error holds why until read */
    MPX_SHIM_S_PASSTHROUGH, /* relayed to a plain kernel socket (excluded destination) */
};

/* Options a program set, kept so that getsockopt answers what was set and
 * so that options set before connect()/listen() reach the connection once it
 * exists. Owned by sockopt.c. */
struct mpx_shim_opts {
    uint32_t set_mask; /* which fields below were set (sockopt.c's bits) */
    int nodelay, cork, keepalive, keepidle, keepintvl, keepcnt, user_timeout;
    int reuseaddr, reuseport, v6only, tos, tclass, ttl, maxseg, quickack, notsent_lowat;
    int sndbuf, rcvbuf, defer_accept, fastopen, bind_no_port, freebind, transparent;
    struct linger linger;
    char congestion[16];
    /* added by sockopt.c */
    int inq, fastopen_connect, fastopen_no_cookie, hoplimit;
    int syncnt; /* TCP_SYNCNT */
};

struct mpx_shim_sock {
    int fd;
    ino_t ino;        /* st_ino of the AF_UNIX socket: revalidated on use */
    int family;       /* AF_INET or AF_INET6, as the program asked */
    int protocol;     /* 0, IPPROTO_TCP or IPPROTO_MPTCP, as asked */
    uint64_t sock_id; /* the shim's id of the socket (also in its abstract name) */
    enum mpx_shim_state state;
    uint32_t conn; /* the engine's connection id once known, else 0 */
    int so_error;  /* positive errno pending for SO_ERROR, 0 none */
    struct sockaddr_storage local, peer;
    socklen_t local_len, peer_len;
    struct mpx_shim_opts opts;
};

/*
 * The entry of |fd| if the shim manages it (adopting a socket inherited
 * through exec/dup/SCM_RIGHTS on first use), else NULL. The pointer stays
 * valid until the program closes |fd|; callers lock the entry with
 * mpx_shim_sock_lock/unlock around changes (never across a blocking call;
 * the lock is recursive, so hooks may be called with it held).
 */
MPX_SHIM_HIDDEN struct mpx_shim_sock *mpx_shim_sock_get(int fd);
MPX_SHIM_HIDDEN void mpx_shim_sock_lock(struct mpx_shim_sock *s);
MPX_SHIM_HIDDEN void mpx_shim_sock_unlock(struct mpx_shim_sock *s);

/* SO_ERROR: the pending error of a socket (positive errno or 0), cleared
 * by the read as the kernel does; for a socket still connecting it asks the
 * engine. Implemented by sock.c, called by sockopt.c. */
MPX_SHIM_HIDDEN int mpx_shim_sock_take_error(struct mpx_shim_sock *s);

/* ---- control channel ----------------------------------------------------- */

/*
 * One request, one reply, on this thread's control socket. |fd_out| (or -1)
 * travels with SCM_RIGHTS. Returns the reply's type (> 0) with its body
 * decoded into |reply| (mpx_rpc_decode, direction TO_CLIENT), or a negative
 * errno when the engine cannot be reached or answered garbage. Never holds a
 * lock while waiting; EINTR is retried.
 */
MPX_SHIM_HIDDEN int mpx_shim_ctl_call(uint16_t type, const void *body, size_t len, int fd_out,
                                      void *reply, size_t reply_cap);
/* Fire and forget (options a program toggles per response, like nginx's
 * TCP_CORK/TCP_NODELAY): 0 or a negative errno. */
MPX_SHIM_HIDDEN int mpx_shim_ctl_send(uint16_t type, const void *body, size_t len);
/* A request whose reply is collected later, on this thread, with
 * mpx_shim_ctl_take (a blocking connect waits for it in its own poll):
 * its id in *id; 0 or a negative errno. */
MPX_SHIM_HIDDEN int mpx_shim_ctl_request(uint16_t type, const void *body, size_t len, int fd_out,
                                         uint32_t *id);
/* This thread's control socket (to poll on) right after a request on it,
 * -1 if it has none. Not re-checked (no fstat): the request just checked it. */
MPX_SHIM_HIDDEN int mpx_shim_ctl_fd(void);
/* The reply to request |id| if it has arrived (without waiting): its type
 * as mpx_shim_ctl_call, -EAGAIN when it is not there (yet), or a negative
 * errno. Replies to other requests read meanwhile are dropped (stale). */
MPX_SHIM_HIDDEN int mpx_shim_ctl_take(uint32_t id, void *reply, size_t reply_cap);

/* ---- shim.c: configuration, the real libc functions ---------------------- */

enum mpx_shim_fallback {
    MPX_SHIM_FALLBACK_TCP = 0, /* no daemon: socket() gives a kernel socket (one warning) */
    MPX_SHIM_FALLBACK_ERROR,   /* no daemon: socket() fails with ECONNREFUSED */
};

#define MPX_SHIM_EXCLUDE_MAX 32
struct mpx_shim_exclude {
    uint8_t family; /* 4, 6, or 0 = any address (a port-only entry) */
    uint8_t bits;   /* prefix length */
    uint16_t port;  /* 0: any port */
    uint8_t a[16];
};

struct mpx_shim_cfg {
    bool disabled;    /* MPTCPEXT_DISABLE=1 */
    int log_level;    /* MPTCPEXT_LOG */
    uint8_t extkey;   /* MPTCPEXT_EXTKEY: enum mpx_rpc_extkey */
    int fallback;     /* MPTCPEXT_FALLBACK: enum mpx_shim_fallback */
    char socket[108]; /* MPTCPEXT_SOCKET, empty: mpx_rpc_default_socket() */
    unsigned n_exclude;
    struct mpx_shim_exclude exclude[MPX_SHIM_EXCLUDE_MAX];
};
MPX_SHIM_HIDDEN extern struct mpx_shim_cfg mpx_shim_cfg;

/* The next definitions of the functions the shim interposes (RTLD_NEXT),
 * resolved by mpx_shim_init() (idempotent, cheap after the first call). */
struct mpx_shim_real {
    int (*socket)(int, int, int);
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*getsockname)(int, struct sockaddr *, socklen_t *);
    int (*getpeername)(int, struct sockaddr *, socklen_t *);
    int (*getsockopt)(int, int, int, void *, socklen_t *);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*close)(int);
    int (*close_range)(unsigned, unsigned, int);
    void (*closefrom)(int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
};
MPX_SHIM_HIDDEN extern struct mpx_shim_real mpx_shim_real;
MPX_SHIM_HIDDEN void mpx_shim_init(void);

/* Is (addr, port) excluded from the engine (MPTCPEXT_EXCLUDE)? |a| is an
 * rpc address (family 4/6). */
MPX_SHIM_HIDDEN bool mpx_shim_excluded(const struct mpx_rpc_addr *a, uint16_t port);

/* ---- fdtab.c ---------------------------------------------------------------- */

/* Register |fd| as a new socket of the shim (replacing a stale entry). */
MPX_SHIM_HIDDEN struct mpx_shim_sock *mpx_shim_sock_new(int fd, int family, int protocol,
                                                        uint64_t sock_id);
/* Forget |fd| (closed, or handed to the kernel); no adoption attempt. */
MPX_SHIM_HIDDEN void mpx_shim_sock_forget(int fd);
/* The entry of |fd| without adoption or revalidation (close hooks). */
MPX_SHIM_HIDDEN struct mpx_shim_sock *mpx_shim_sock_peek(int fd);
/* One past the highest fd the table can hold. */
MPX_SHIM_HIDDEN size_t mpx_shim_sock_cap(void);
/* A new unique socket id (pid and counter). */
MPX_SHIM_HIDDEN uint64_t mpx_shim_sock_id(void);

/* ---- ctl.c ------------------------------------------------------------------ */

/* Is the daemon reachable (this thread's control socket connects)? Failures
 * are remembered for a second so that socket() stays cheap without it. An
 * existing control socket is not re-checked here (the next request does). */
MPX_SHIM_HIDDEN bool mpx_shim_ctl_ok(void);
/* getpid() of this process without a system call per use (cached, reset in
 * the child of fork() by a pthread_atfork handler). */
MPX_SHIM_HIDDEN pid_t mpx_shim_pid(void);
/* pid of the daemon (SO_PEERCRED of the control socket), 0 if unknown;
 * |refresh|: re-make this thread's control socket first (daemon restarted). */
MPX_SHIM_HIDDEN pid_t mpx_shim_ctl_daemon_pid(bool refresh);
/* |fd| was closed by the program (close_range, closefrom, close): if it was
 * a control socket of this thread, forget it (never close it again). */
MPX_SHIM_HIDDEN void mpx_shim_ctl_fd_closed(unsigned first, unsigned last);

/* ---- sock.c ----------------------------------------------------------------- */

/* An AF_INET/AF_INET6 sockaddr into an rpc address + port (v4-mapped IPv6
 * becomes IPv4); -EINVAL / -EAFNOSUPPORT like connect/bind. */
MPX_SHIM_HIDDEN int mpx_shim_sa_to_rpc(const struct mpx_shim_sock *s, const struct sockaddr *sa,
                                       socklen_t len, struct mpx_rpc_addr *a, uint16_t *port);
/* The reverse, for a socket of |family| (IPv4 on AF_INET6 becomes v4-mapped). */
MPX_SHIM_HIDDEN socklen_t mpx_shim_rpc_to_sa(int family, const struct mpx_rpc_addr *a,
                                             uint16_t port, struct sockaddr_storage *out);
/* Fill the state of an adopted socket from the daemon. */
MPX_SHIM_HIDDEN void mpx_shim_sock_refresh(struct mpx_shim_sock *s);

/* ---- hooks between the files --------------------------------------------- */

/* sockopt.c: the connection of |s| has just got its engine id (connect
 * completed or accept): forward the options set before that. */
MPX_SHIM_HIDDEN void mpx_shim_opts_on_conn(struct mpx_shim_sock *s);

/* tlshost.c: the pre-shared external key of this program (MPTCPEXT_PSK_FILE)
 * for CONNECT/LISTEN requests: its length (16..MPX_RPC_PSK_MAX), 0 when none
 * is configured, or a negative errno (unreadable, readable by others, bad
 * size) after logging a clear error. */
MPX_SHIM_HIDDEN int mpx_shim_psk(uint8_t out[MPX_RPC_PSK_MAX]);

#endif /* MPX_SHIM_INT_H */
