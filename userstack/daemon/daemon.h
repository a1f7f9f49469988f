/*
 * daemon.h - mptcpextd internals shared by its files.
 *
 *   main.c    flags, setup, the loop, SIGTERM clean-up
 *   engine.c  the adapter over the sans-I/O stack (the only file calling mpx_stack_* /
 *             mpx_conn_*): packets, time, connections, info, counters
 *   rpcsrv.c  the control socket: clients, validation, requests
 *   bridge.c  app data bridges (AF_UNIX stream <-> MPTCP connection) and listeners
 *   evlog.c   events: JSON-lines log, `monitor` fan-out, periodic byte counters
 *
 * Everything runs on one thread and one io_uring (uring_loop.h). user_data
 * indexes carry a slot and a generation (idx = gen << 16 | slot) so that a
 * completion for a slot that was freed and reused is recognised and dropped.
 */
#ifndef MPX_DAEMON_H
#define MPX_DAEMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "napigov.h"
#include "pcap.h"
#include "rpc.h"
#include "tun.h"
#include "uring_loop.h"

struct mpx_eng;

#define MPXD_BRIDGE_BUF         (64 * 1024)
#define MPXD_MAX_CLIENTS        256
#define MPXD_MAX_BRIDGES        1024
#define MPXD_MAX_ORPHANS_LISTED 1024 /* orphans in one conn listing */
#define MPXD_CONN_HASH          1024 /* power of two */
#define MPXD_MAX_LISTEN         64
#define MPXD_ACCEPT_QUEUE       128

/* tlshello.c: TLS record + handshake header + version + random */
#define MPXD_HELLO_LEN     43
#define MPXD_HELLO_NOT_TLS 0xff

static inline uint32_t mpxd_idx(uint16_t slot, uint16_t gen)
{
    return (uint32_t)gen << 16 | slot;
}

/* Daemon counters (nstat names MpxdXxx). */
#define MPXD_MIB_LIST(X)                                                                           \
    X(RpcClients)                                                                                  \
    X(RpcRequests)                                                                                 \
    X(RpcMalformed)                                                                                \
    X(RpcDenied)                                                                                   \
    X(RpcClientsRefused)                                                                           \
    X(RpcSendFail)                                                                                 \
    X(MonitorDrops)                                                                                \
    X(BridgesOpened)                                                                               \
    X(BridgesClosed)                                                                               \
    X(Orphans)                                                                                     \
    X(TunRxPkts)                                                                                   \
    X(TunTxPkts)                                                                                   \
    X(TunTxBusy)                                                                                   \
    X(TunTxSteps)                                                                                  \
    X(TunNapiThreaded)                                                                             \
    X(TunNapiUnthreaded)                                                                           \
    X(AcceptDropped)                                                                               \
    X(ShimConnects)                                                                                \
    X(ShimAccepts)                                                                                 \
    X(ShimRejected)                                                                                \
    X(ShimSetopts)                                                                                 \
    X(ShimSetoptFail)                                                                              \
    X(ConfigRejected)                                                                              \
    X(NamedEvicted)

struct mpxd_mib {
#define MPXD_MIB_FIELD(n) uint64_t n;
    MPXD_MIB_LIST(MPXD_MIB_FIELD)
#undef MPXD_MIB_FIELD
};

struct mpxd_client {
    bool used;
    uint16_t gen;
    int fd;
    uid_t uid;
    pid_t pid;
    bool monitor;
    uint32_t monitor_id;  /* request id of MONITOR */
    uint32_t setopt_conn; /* last connection CONN_SETOPT found this client owns */
};

enum mpxd_bridge_state {
    MPXD_BR_FREE = 0,
    MPXD_BR_CONNECTING, /* waiting for the connection to be established */
    MPXD_BR_OPEN,       /* pumping */
    MPXD_BR_DYING,      /* closed; waiting for in-flight operations */
};

struct mpxd_bridge {
    uint8_t state; /* enum mpxd_bridge_state */
    uint16_t gen;
    int fd;
    uint32_t conn;
    uid_t uid;
    bool server;
    uint8_t extkey_policy;
    uint16_t psk_len;
    uint8_t psk[MPX_RPC_PSK_MAX]; /* stored for the external-key issue */
    /* reply owed to the client that asked (CONNECT) */
    uint32_t reply_client; /* mpxd_idx of the client, 0 = none */
    uint32_t reply_id;
    bool reply_async;
    /* app -> network */
    uint8_t *rbuf;
    size_t rlen, roff;
    bool rd_inflight, rd_eof, shut_sent;
    /* network -> app */
    uint8_t *wbuf;
    size_t wlen, woff;
    bool wr_inflight, wr_shut, app_gone;
    bool conn_closed;
    int conn_err;
    /* the shim's socket (SOCK_CONNECT; 0 for the CLI's), and the filler
     * bytes still to discard */
    uint64_t sock_id;
    uint32_t filler_left;
    unsigned inflight; /* io_uring operations not yet completed */
    /* the first bytes of the client->server stream (tlshello.c): a TLS
     * ClientHello's random identifies the connection for the shim */
    uint8_t hello[MPXD_HELLO_LEN];
    uint8_t hello_len; /* bytes kept; MPXD_HELLO_NOT_TLS when it is not TLS */
    uint16_t hnext;    /* next bridge slot + 1 in its conn_hash chain, 0 = end */
};

struct mpxd_waiter {
    uint32_t client; /* mpxd_idx */
    uint32_t req_id;
    int fd;
};

struct mpxd_listener {
    bool used;
    uint16_t port;
    uid_t uid;
    uint32_t owner; /* client mpxd_idx */
    int notify_fd;
    uint8_t extkey_policy; /* MPX_RPC_EXTKEY_*; DEFAULT: the daemon's `extkey` at each SYN */
    uint16_t psk_len;
    uint8_t psk[MPX_RPC_PSK_MAX];
    uint32_t queue[MPXD_ACCEPT_QUEUE]; /* established, not accepted */
    unsigned nq;
    struct mpxd_waiter waiters[16];
    unsigned nw;
    /* the shim's listeners (SOCK_LISTEN): delivered by name, not ACCEPT */
    uint64_t sock_id;
    uint8_t family; /* 4 or 6, of the app's socket */
    bool v6only;
    struct mpx_rpc_addr local; /* CLI: LISTEN's (family 0: every address); shim: bound */
};

/* The shim's bind reservations and kept connect errors (bridge.c). */
#define MPXD_MAX_SOCKS   1024
#define MPXD_MAX_SOCKERR 64
struct mpxd_sockres {
    bool used, listening;
    uint64_t sock_id;
    uid_t uid;
    uint8_t family; /* of the app's socket */
    uint32_t flags; /* MPX_RPC_SOCK_F_* */
    struct mpx_rpc_addr addr;
    uint16_t port;
};
struct mpxd_sockerr {
    uint64_t sock_id;
    uid_t uid;
    int err;
    uint64_t expires; /* mpxd_now() ns */
};
/* App sockets accepted on the data listener before their
 * SOCK_CONNECT_NAMED was read (another thread's or client's came first). */
#define MPXD_MAX_NAMED 64
struct mpxd_named {
    int fd; /* -1: free */
    uint64_t sock_id;
    uid_t uid;
    uint64_t since; /* mpxd_now() ns */
};

struct mpxd {
    struct mpx_dcfg cfg;
    struct mpx_uloop loop;
    struct mpx_tun *tun;
    struct mpx_eng *eng;
    struct mpx_pcap *pcap;
    FILE *events;
    uint64_t rt_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
    uint64_t next_tick; /* next periodic byte-counter line */
    int lfd;            /* control socket */
    int sigfd;
    uint16_t src_rpc, src_bridge;
    bool stop, loop_ok;
    struct mpxd_client clients[MPXD_MAX_CLIENTS];
    struct mpxd_bridge *bridges; /* MPXD_MAX_BRIDGES */
    int bridges_hi;              /* slots below this may be in use (the pump's bound) */
    /* conn id -> bridge (slot + 1 heads, chained by hnext): the stack's
     * events and the RPCs look bridges up by connection id (issue 7) */
    uint16_t conn_hash[MPXD_CONN_HASH];
    struct mpxd_listener listeners[MPXD_MAX_LISTEN];
    struct mpxd_sockres *socks; /* MPXD_MAX_SOCKS */
    int socks_hi;               /* slots below this may be in use */
    struct mpxd_sockerr sockerrs[MPXD_MAX_SOCKERR];
    /* the data listener (rpc.h MPX_RPC_DATA_NAME_FMT), -1 if none, and the
     * sockets accepted on it that wait for their request */
    int dfd;
    struct mpxd_named named[MPXD_MAX_NAMED];
    uint64_t named_sweep;     /* next time unclaimed ones are looked at */
    uint64_t named_log_next;  /* evictions are logged at most once a second */
    uint32_t named_log_quiet; /* evictions not logged since the last line */
    /* tun-napi auto: threaded NAPI only while we write in bursts
     * (napigov.h); |napigov_on| false: the setting is fixed */
    struct mpx_napigov napigov;
    bool napigov_on;
    struct mpxd_mib mib;
};

/* log.c-like helpers (main.c) */
void mpxd_log(const struct mpxd *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t mpxd_now(void);

/* rpcsrv.c */
int mpxd_rpc_open(struct mpxd *d);
void mpxd_rpc_close(struct mpxd *d);
/* Send a message to client |cidx| (mpxd_idx); false if the client is gone
 * or the send failed (the client is then dropped). */
bool mpxd_rpc_send(struct mpxd *d, uint32_t cidx, uint16_t type, uint32_t id, const void *body,
                   size_t len);
bool mpxd_rpc_status(struct mpxd *d, uint32_t cidx, uint32_t id, int status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
struct mpxd_client *mpxd_client_get(struct mpxd *d, uint32_t cidx);

/* bridge.c */
int mpxd_bridges_init(struct mpxd *d);
void mpxd_bridges_free(struct mpxd *d);
/* CONNECT: |fd| becomes the daemon's (closed on failure). */
void mpxd_bridge_connect(struct mpxd *d, uint32_t cidx, uint32_t id,
                         const struct mpx_rpc_connect *req, int fd);
void mpxd_listen(struct mpxd *d, uint32_t cidx, uint32_t id, const struct mpx_rpc_listen *req,
                 int notify_fd);
void mpxd_unlisten(struct mpxd *d, uint32_t cidx, uint32_t id, const struct mpx_rpc_listen *req);
void mpxd_accept(struct mpxd *d, uint32_t cidx, uint32_t id, const struct mpx_rpc_accept *req,
                 int fd);
/* The shim's SOCK_* requests (|fd| is the daemon's, or -1). */
void mpxd_sock_request(struct mpxd *d, uint32_t cidx, uint16_t type, uint32_t id,
                       const struct mpx_rpc_sock *req, int fd);
/* A client left: its listeners and accept waiters go. */
void mpxd_client_gone(struct mpxd *d, uint32_t cidx);
/* Stack events that concern bridges. */
void mpxd_bridge_on_established(struct mpxd *d, uint32_t conn);
void mpxd_bridge_on_closed(struct mpxd *d, uint32_t conn, int error);
/* Move bytes both ways on every bridge; take newly accepted connections. */
void mpxd_bridges_pump(struct mpxd *d);
/* SIGTERM: reset every connection, close every bridge. */
void mpxd_bridges_shutdown(struct mpxd *d);
/* Iterate the connections the daemon knows (bridged, queued for accept,
 * listeners), for CONN_LIST and the periodic counters. */
typedef void (*mpxd_conn_fn)(struct mpxd *d, void *arg, uint32_t conn, uid_t uid, uint32_t flags,
                             const struct mpxd_bridge *b, const struct mpxd_listener *l);
void mpxd_conns_foreach(struct mpxd *d, mpxd_conn_fn fn, void *arg);
/* Owner of a connection id ((uid_t)-1 if unknown). */
uid_t mpxd_conn_owner(struct mpxd *d, uint32_t conn);

/* tlshello.c: keep the first MPXD_HELLO_LEN bytes of the client->server
 * stream of a bridge (|to_net|: these bytes go from the app to the network)
 * and find the connection of a ClientHello random for CONN_FIND. */
void mpxd_hello_sniff(struct mpxd_bridge *b, const uint8_t *p, size_t n, bool to_net);
void mpxd_conn_find(struct mpxd *d, struct mpxd_client *c, uint32_t id,
                    const struct mpx_rpc_conn_find *req);

/* evlog.c */
int mpxd_evlog_open(struct mpxd *d);
void mpxd_evlog_close(struct mpxd *d);
/* Write out what the loop step logged (before the loop sleeps). */
void mpxd_evlog_flush(struct mpxd *d);
/* One event: JSON log and monitor clients. */
void mpxd_event(struct mpxd *d, const struct mpx_rpc_event *ev);
/* Periodic per-subflow counters when due; returns the next due time. */
uint64_t mpxd_evlog_tick(struct mpxd *d, uint64_t now);
void mpxd_json_str(FILE *f, const char *s);

#endif /* MPX_DAEMON_H */
