/*
 * rpc.h - the control protocol between the engine daemon (mptcpextd) and its
 * clients: the `mptcpext` CLI and, later, the LD_PRELOAD shim.
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socket (one message per datagram, so
 * no framing of our own; at most MPX_RPC_MSG_MAX bytes). Messages are
 * host-local, so every integer is in host byte order. A message is a
 * struct mpx_rpc_hdr followed by the body of its type: fixed-layout structs
 * with explicit padding (which must be zero), no pointers; strings are
 * fixed char arrays that must hold a NUL. A few bodies end in an array whose
 * element count is a field of the body; the message length must then be
 * exactly the header + the fixed part + count elements.
 *
 * Requests carry a client-chosen request id that every reply repeats.
 * Multi-message replies (CONN_LIST, COUNTERS) end with an END message.
 * Asynchronous messages (EVENT for a MONITOR client, CONNECTED for an
 * asynchronous CONNECT) carry the id of the request that asked for them.
 *
 * File descriptors travel with SCM_RIGHTS: CONNECT and ACCEPT carry exactly
 * one, the app-facing data socket's far end (an AF_UNIX SOCK_STREAM socket:
 * the CLI makes a socketpair and keeps the other end as its data fd; the shim
 * does the same inside socket()). LISTEN may carry one "accept notify" fd:
 * the daemon writes one byte into it per connection ready to accept, so the
 * shim's listening fd polls readable like a kernel listener. No other message
 * carries a fd; a message with unexpected fds is malformed.
 *
 * Every message is validated by mpx_rpc_decode() before use (magic,
 * version, type, direction, exact length, counts, NUL-terminated strings,
 * field ranges, zero padding, fd count); the daemon closes a client that
 * sends a malformed one.
 *
 * Statuses are 0 or a negative Linux errno (what the shim hands to errno).
 */
#ifndef MPX_RPC_H
#define MPX_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MPX_RPC_MAGIC    0x5258504du /* "MPXR" read as little-endian bytes */
#define MPX_RPC_VERSION  1
#define MPX_RPC_MSG_MAX  4096
#define MPX_RPC_SOCK_DIR "/run/mptcpext"

struct mpx_rpc_hdr {
    uint32_t magic;
    uint16_t version;
    uint16_t type;   /* enum mpx_rpc_type */
    uint32_t length; /* header + body, bytes */
    uint32_t id;     /* request id, echoed by replies */
};

enum mpx_rpc_type {
    /* replies (daemon -> client) */
    MPX_RPC_STATUS = 1, /* struct mpx_rpc_status */
    MPX_RPC_END,        /* struct mpx_rpc_status: last message of a multi-message reply */
    MPX_RPC_ENDP_LIST,  /* struct mpx_rpc_endp_list */
    MPX_RPC_LIMITS,     /* struct mpx_rpc_limits */
    MPX_RPC_OPT,        /* struct mpx_rpc_opt */
    MPX_RPC_CONN_INFO,  /* struct mpx_rpc_conn_info (variable: n_sf subflows) */
    MPX_RPC_COUNTERS,   /* struct mpx_rpc_counters (variable: n entries) */
    MPX_RPC_EVENT,      /* struct mpx_rpc_event */
    MPX_RPC_CONNECTED,  /* struct mpx_rpc_conn_result (CONNECT) */
    MPX_RPC_ACCEPTED,   /* struct mpx_rpc_conn_result (ACCEPT) */
    /* struct mpx_rpc_conn_result (the shim's SOCK_* requests) */
    MPX_RPC_SOCK_RESULT,
    MPX_RPC_REPLY_LAST_,
    /* requests (client -> daemon) */
    MPX_RPC_ENDP_ADD = 32, /* struct mpx_rpc_endp */
    MPX_RPC_ENDP_DEL,      /* struct mpx_rpc_endp: by id, else by address (+port) */
    MPX_RPC_ENDP_CHANGE,   /* struct mpx_rpc_endp: id or address; flags backup/fullmesh */
    MPX_RPC_ENDP_FLUSH,    /* empty */
    MPX_RPC_ENDP_SHOW,     /* empty -> ENDP_LIST */
    MPX_RPC_LIMITS_SET,    /* struct mpx_rpc_limits (-1 = unchanged) -> STATUS */
    MPX_RPC_LIMITS_GET,    /* empty -> LIMITS */
    MPX_RPC_OPT_SET,       /* struct mpx_rpc_opt: a config line (see mptcpextd(8)) */
    MPX_RPC_OPT_GET,       /* struct mpx_rpc_opt (value empty) -> OPT */
    MPX_RPC_CONN_LIST,     /* struct mpx_rpc_list_req -> CONN_INFO* END */
    MPX_RPC_CONN_ABORT,    /* struct mpx_rpc_conn_ref: MP_FASTCLOSE (like ss -K) */
    MPX_RPC_COUNTERS_GET,  /* struct mpx_rpc_list_req -> COUNTERS* END */
    MPX_RPC_MONITOR,       /* empty -> STATUS, then EVENT* until the client leaves */
    MPX_RPC_CONNECT,       /* struct mpx_rpc_connect + 1 fd -> CONNECTED */
    MPX_RPC_LISTEN,        /* struct mpx_rpc_listen + 0/1 fd -> STATUS */
    MPX_RPC_UNLISTEN,      /* struct mpx_rpc_listen (port) -> STATUS */
    MPX_RPC_ACCEPT,        /* struct mpx_rpc_accept + 1 fd -> ACCEPTED */
    MPX_RPC_CONN_GET,      /* struct mpx_rpc_conn_ref -> CONN_INFO (getsockname,
                            * getpeername, TCP_INFO / MPTCP_INFO for the shim) */
    /* the shim's sockets (issue 7), by socket id: struct mpx_rpc_sock */
    MPX_RPC_SOCK_BIND,    /* reserve local (addr, port) -> SOCK_RESULT */
    MPX_RPC_SOCK_CONNECT, /* + 1 fd (far end of the app's socket) -> SOCK_RESULT */
    MPX_RPC_SOCK_LISTEN,  /* deliver connections to \0mptcpext/s/... -> SOCK_RESULT */
    MPX_RPC_SOCK_GET,     /* state, error (SO_ERROR), addresses -> SOCK_RESULT */
    MPX_RPC_SOCK_CLOSE,   /* fire and forget: the app closed a bound socket */
    /* external keys (issue 8) */
    MPX_RPC_CONN_SETKEY, /* struct mpx_rpc_conn_key -> STATUS: install the external key
                          * (TLS exporter, mptcpext_set_key) of an E-mode connection */
    MPX_RPC_CONN_ROTATE, /* struct mpx_rpc_conn_ref -> STATUS: rotate its external key */
    MPX_RPC_CONN_SETOPT, /* struct mpx_rpc_setopt: a socket option (fire and forget) */
    MPX_RPC_CONN_FIND,   /* struct mpx_rpc_conn_find -> CONN_INFO: the caller's connection
                          * whose client->server stream starts with that ClientHello */
    /* struct mpx_rpc_sock, no fd -> SOCK_RESULT: SOCK_CONNECT of an app
     * socket already connected to the daemon's MPX_RPC_DATA_NAME_FMT */
    MPX_RPC_SOCK_CONNECT_NAMED,
    MPX_RPC_REQUEST_LAST_,
};

/* An IP address: family 4 or 6 (enum mpx_af of the core), or 0 = none /
 * any. IPv4 uses a[0..3], the rest zero. */
struct mpx_rpc_addr {
    uint8_t family;
    uint8_t pad[3];
    uint8_t a[16];
};

struct mpx_rpc_status {
    int32_t status; /* 0 or -errno */
    uint32_t pad;
    char msg[120]; /* human-readable detail, may be empty */
};

/* Endpoint flags are MPX_PM_F_* (Linux MPTCP_PM_ADDR_FLAG_*). */
#define MPX_RPC_ENDP_FLAGS_ALL 0x3fu
#define MPX_RPC_IFNAME_MAX     16

struct mpx_rpc_endp {
    uint8_t id; /* 0: none / assign */
    uint8_t flags;
    uint16_t port;
    int32_t ifindex;
    char ifname[MPX_RPC_IFNAME_MAX];
    struct mpx_rpc_addr addr;
};

#define MPX_RPC_ENDP_MAX 8
struct mpx_rpc_endp_list {
    uint32_t n;
    uint32_t pad;
    struct mpx_rpc_endp e[MPX_RPC_ENDP_MAX];
};

struct mpx_rpc_limits {
    int32_t subflows;          /* -1: unchanged (LIMITS_SET only) */
    int32_t add_addr_accepted; /* -1: unchanged (LIMITS_SET only) */
};

#define MPX_RPC_KEY_MAX   32
#define MPX_RPC_VALUE_MAX 224
struct mpx_rpc_opt {
    char key[MPX_RPC_KEY_MAX];
    char value[MPX_RPC_VALUE_MAX];
};

#define MPX_RPC_LIST_F_ZEROS 0x1u /* COUNTERS_GET: include counters that are 0 */
#define MPX_RPC_LIST_F_ALL   0x1u
struct mpx_rpc_list_req {
    uint32_t flags;
    uint32_t pad;
};

struct mpx_rpc_conn_ref {
    uint32_t conn;
    uint32_t pad;
};

/* Subflow as `ss -M`/`ss -ti` would show it. */
#define MPX_RPC_SF_F_BACKUP      0x01u
#define MPX_RPC_SF_F_PEER_BACKUP 0x02u
#define MPX_RPC_SF_F_JOIN        0x04u
#define MPX_RPC_SF_F_ESTABLISHED 0x08u
#define MPX_RPC_SF_F_ALL         0x0fu
struct mpx_rpc_sf {
    struct mpx_rpc_addr local, remote;
    uint16_t lport, rport;
    uint8_t local_id, remote_id;
    uint8_t state; /* enum mpx_tcp_state */
    uint8_t flags; /* MPX_RPC_SF_F_* */
    uint32_t srtt_us, rttvar_us, rto_us, min_rtt_us;
    uint32_t snd_cwnd, snd_ssthresh, snd_mss, rcv_mss; /* bytes */
    uint32_t unacked, retrans, snd_wnd, rcv_wnd;       /* bytes */
    uint32_t total_retrans, pad;
    uint64_t bytes_sent, bytes_received, bytes_acked, bytes_retrans;
};

#define MPX_RPC_CONN_F_MPTCP       0x001u
#define MPX_RPC_CONN_F_FALLBACK    0x002u
#define MPX_RPC_CONN_F_CSUM        0x004u
#define MPX_RPC_CONN_F_ESTABLISHED 0x008u
#define MPX_RPC_CONN_F_CLOSED      0x010u
#define MPX_RPC_CONN_F_LISTEN      0x020u /* a listener (port in lport), no subflows */
#define MPX_RPC_CONN_F_ORPHAN      0x040u /* the app closed its fd; finishing its data */
#define MPX_RPC_CONN_F_SERVER      0x080u /* accepted (passive open) */
#define MPX_RPC_CONN_F_ALL         0x0ffu
#define MPX_RPC_CONN_FIN_SENT      0x01u /* our DATA_FIN is out */
#define MPX_RPC_CONN_FIN_ACKED     0x02u /* ... and DATA_ACKed */
#define MPX_RPC_CONN_FIN_IN        0x04u /* the peer's DATA_FIN is in */
#define MPX_RPC_CONN_FIN_ALL       0x07u

/* Key state (DESIGN decision 6; only RFC 8684 keys exist so far). */
enum mpx_rpc_key_state {
    MPX_RPC_KEY_NONE = 0,     /* no MPTCP keys (fallback, listener, handshake) */
    MPX_RPC_KEY_RFC8684,      /* keys exchanged in clear (RFC 8684) */
    MPX_RPC_KEY_EXT_WAIT,     /* external key expected, not installed yet */
    MPX_RPC_KEY_EXT_ACTIVE,   /* external key in use (both sides confirmed it) */
    MPX_RPC_KEY_EXT_PENDING,  /* installed, NEW_KEY sent, not confirmed by the peer yet */
    MPX_RPC_KEY_EXT_ROTATING, /* active key in use, the next one not confirmed yet */
    MPX_RPC_KEY_EXT_FAILED,   /* NEW_KEY never confirmed: the connection stays single-path */
};
#define MPX_RPC_KEY_STATE_MAX MPX_RPC_KEY_EXT_FAILED

/* conn_info.opt_flags: boolean socket options in force */
#define MPX_RPC_OPT_F_NODELAY   0x1u
#define MPX_RPC_OPT_F_CORK      0x2u
#define MPX_RPC_OPT_F_KEEPALIVE 0x4u
#define MPX_RPC_OPT_F_LINGER0   0x8u /* SO_LINGER {1, 0}: close() aborts */
#define MPX_RPC_OPT_F_ALL       0xfu
#define MPX_RPC_CC_NAME_MAX     16 /* TCP_CA_NAME_MAX */

#define MPX_RPC_SF_MAX 8
struct mpx_rpc_conn_info {
    uint32_t conn;
    uint32_t uid; /* owner */
    int32_t error;
    uint32_t flags; /* MPX_RPC_CONN_F_* */
    uint32_t local_token, remote_token;
    struct mpx_rpc_addr local, remote;
    uint16_t lport, rport;
    uint8_t key_state; /* enum mpx_rpc_key_state */
    uint8_t extkey_policy;
    uint8_t fin; /* MPX_RPC_CONN_FIN_*: the DATA_FIN exchange (section 3.3.3) */
    uint8_t n_sf;
    uint64_t write_seq, snd_una, snd_nxt, rcv_nxt;
    uint64_t bytes_sent, bytes_received, bytes_acked, bytes_retrans;
    uint64_t send_queued, recv_ready;
    /* external key (never the key itself): first 8 bytes of SHA-256 of the
     * key in use (zero if none), its generation (+1 per rotation), its K */
    uint8_t key_fpr[8];
    uint32_t key_gen;
    uint8_t key_id;
    uint8_t pad2[3];
    /* socket options in force (CONN_SETOPT; what `mptcpext conn` shows) */
    char cc[MPX_RPC_CC_NAME_MAX]; /* congestion control (TCP_CONGESTION) */
    uint32_t opt_flags;           /* MPX_RPC_OPT_F_* */
    uint32_t keep_idle_s, keep_intvl_s, user_timeout_ms;
    uint8_t keep_cnt, tos, ttl;
    /* the rest of Linux struct mptcp_info (MPTCP_INFO) */
    uint8_t subflows_max, subflows_total;
    uint8_t add_addr_signal, add_addr_accepted, add_addr_signal_max, add_addr_accepted_max;
    uint8_t local_addr_used, local_addr_max;
    uint8_t pad3[5];
    uint64_t retransmits;
    uint64_t last_data_sent_ms, last_data_recv_ms, last_ack_recv_ms; /* ms ago (0: never) */
    /* connection-level buffers (bytes) it was created with (`sndbuf` and
     * `rcvbuf` settings then: mptcpext set applies to new connections) */
    uint32_t sndbuf, rcvbuf;
    struct mpx_rpc_sf sf[MPX_RPC_SF_MAX]; /* last: only n_sf of them are sent */
};

#define MPX_RPC_COUNTER_NAME_MAX 48
struct mpx_rpc_counter {
    char name[MPX_RPC_COUNTER_NAME_MAX]; /* nstat name: MPTcpExtMPCapableSYNRX ... */
    uint64_t value;
};
#define MPX_RPC_COUNTERS_MAX 64
struct mpx_rpc_counters {
    uint32_t n;
    uint32_t pad;
    struct mpx_rpc_counter c[MPX_RPC_COUNTERS_MAX];
};

/* Events, named like `ip mptcp monitor` prints them. */
enum mpx_rpc_event_type {
    MPX_RPC_EV_CREATED = 1,
    MPX_RPC_EV_ESTABLISHED,
    MPX_RPC_EV_CLOSED,
    MPX_RPC_EV_ANNOUNCED,
    MPX_RPC_EV_REMOVED,
    MPX_RPC_EV_SF_ESTABLISHED,
    MPX_RPC_EV_SF_CLOSED,
    MPX_RPC_EV_FALLBACK,
    MPX_RPC_EV_LISTENER_CREATED,
    MPX_RPC_EV_LISTENER_CLOSED,
    MPX_RPC_EV_LAST_ = MPX_RPC_EV_LISTENER_CLOSED,
};
struct mpx_rpc_event {
    uint64_t ts_ns; /* CLOCK_REALTIME */
    uint32_t type;  /* enum mpx_rpc_event_type */
    uint32_t conn;
    uint32_t token;
    int32_t error;
    struct mpx_rpc_addr saddr, daddr;
    uint16_t sport, dport;
    uint8_t locid, remid;
    uint8_t backup; /* 0 or 1 */
    uint8_t pad;
};

/* External-key policy (DESIGN decision 5). */
enum mpx_rpc_extkey {
    MPX_RPC_EXTKEY_DEFAULT = 0, /* the daemon's configured policy */
    MPX_RPC_EXTKEY_NEVER,
    MPX_RPC_EXTKEY_PREFER,
    MPX_RPC_EXTKEY_REQUIRE,
};
#define MPX_RPC_EXTKEY_MAX MPX_RPC_EXTKEY_REQUIRE
#define MPX_RPC_PSK_MAX    64

#define MPX_RPC_CONNECT_F_ASYNC 0x1u /* reply STATUS -EINPROGRESS now, CONNECTED later */
#define MPX_RPC_CONNECT_F_ALL   0x1u
struct mpx_rpc_connect {
    uint32_t flags;
    uint8_t extkey_policy; /* enum mpx_rpc_extkey */
    uint8_t pad;
    uint16_t psk_len;          /* 0: none; else 16..MPX_RPC_PSK_MAX */
    struct mpx_rpc_addr local; /* family 0: routing/first address chooses */
    struct mpx_rpc_addr remote;
    uint16_t lport; /* 0: ephemeral (a bind() before connect sets it) */
    uint16_t rport; /* 1..65535 */
    uint32_t pad2;
    uint8_t psk[MPX_RPC_PSK_MAX];
};

struct mpx_rpc_conn_result {
    int32_t status; /* 0 or -errno (ECONNREFUSED, ETIMEDOUT, ENETUNREACH ...) */
    uint32_t conn;
    struct mpx_rpc_addr local, remote;
    uint16_t lport, rport;
    uint32_t pad;
};

struct mpx_rpc_listen {
    uint32_t flags;
    uint8_t extkey_policy;
    uint8_t pad;
    uint16_t psk_len;
    struct mpx_rpc_addr local; /* family 0: any */
    uint16_t port;             /* 1..65535 */
    uint16_t backlog;          /* 0: default (128) */
    uint32_t pad2;
    uint8_t psk[MPX_RPC_PSK_MAX];
};

/* CONN_SETKEY: the raw external key of |conn| (draft-baerts-tcpm-mptcpext-00
 * section 4.2; 16..64 bytes, NOTES D18). Only the owner (or root) may set
 * it; the engine keeps the first key of a connection. */
#define MPX_RPC_EXTKEY_LEN_MIN 16
#define MPX_RPC_EXTKEY_LEN_MAX 64
struct mpx_rpc_conn_key {
    uint32_t conn;
    uint16_t key_len;
    uint16_t flags; /* 0 (reserved) */
    uint8_t key[MPX_RPC_EXTKEY_LEN_MAX];
};

/* CONN_FIND: a TLS session with no socket fd (memory BIOs: the program moves
 * the bytes itself) is matched by its ClientHello.random, which the daemon
 * reads at bytes 11..42 of each bridged connection's client->server stream
 * (notes/tlshooks.md section 4.1). Only the caller's own connections match. */
#define MPX_RPC_RANDOM_LEN 32
struct mpx_rpc_conn_find {
    uint8_t client_random[MPX_RPC_RANDOM_LEN];
};

#define MPX_RPC_ACCEPT_F_NONBLOCK 0x1u /* reply -EAGAIN instead of waiting */
#define MPX_RPC_ACCEPT_F_ALL      0x1u
struct mpx_rpc_accept {
    uint32_t flags;
    uint16_t port;
    uint16_t pad;
};

/*
 * The shim's sockets (issue 7, shim/README.md "protocol"). Every socket the
 * shim makes in socket() is an AF_UNIX stream socket bound to the abstract
 * name MPX_RPC_SOCK_NAME_FMT (family digit, 64-bit id in hex); the daemon
 * keeps its bind reservation, listener, connection and pending connect error
 * by that id (and owner uid). SOCK_CONNECT carries the far end of the app's
 * socket; the app has already written filler_len bytes of filler into it,
 * which the daemon discards once the MPTCP connection is established (the
 * app's fd turns writable exactly then) or leaves unread when it fails (the
 * app's fd gets POLLERR|POLLHUP); SOCK_GET then tells the errno, once.
 * SOCK_LISTEN makes the daemon deliver each established connection by
 * connecting an AF_UNIX socket bound to MPX_RPC_ACC_NAME_FMT's name to the
 * app's listening socket.
 */
#define MPX_RPC_SOCK_PREFIX   "mptcpext/s/"
#define MPX_RPC_SOCK_NAME_FMT "mptcpext/s/%c/%016llx"
#define MPX_RPC_ACC_PREFIX    "mptcpext/a/"
/* SOCK_CONNECT_NAMED: the app's socket connects itself to the daemon's data
 * listener, this abstract name with the daemon's pid (SO_PEERCRED of the
 * control socket; the shim checks the listener's pid the same way), and
 * writes its filler; the daemon accepts it and finds it by the app socket's
 * own name (its id) and owner. The same as SOCK_CONNECT without the
 * throw-away listener of the far end and the SCM_RIGHTS (issue 7,
 * connection rate). */
#define MPX_RPC_DATA_NAME_FMT "mptcpext/d/%ld"

#define MPX_RPC_SOCK_F_REUSEADDR 0x01u
#define MPX_RPC_SOCK_F_REUSEPORT 0x02u
#define MPX_RPC_SOCK_F_V6ONLY    0x04u
#define MPX_RPC_SOCK_F_FREEBIND  0x08u
#define MPX_RPC_SOCK_F_TAKE_ERR  0x10u /* SOCK_GET: clear the pending error */
/* SOCK_CONNECT of a blocking connect(): no -EINPROGRESS reply; the one
 * SOCK_RESULT comes when the connection is established (status 0, sent
 * just before the filler is discarded) or has failed (-errno), so the
 * caller wakes once instead of twice */
#define MPX_RPC_SOCK_F_LATE_REPLY 0x20u
#define MPX_RPC_SOCK_F_ALL        0x3fu
#define MPX_RPC_FILLER_MAX        (4u << 20)
struct mpx_rpc_sock {
    uint64_t sock_id;
    uint32_t flags;        /* MPX_RPC_SOCK_F_* */
    uint8_t family;        /* of the app's socket: 4 or 6 */
    uint8_t extkey_policy; /* enum mpx_rpc_extkey */
    uint16_t psk_len;
    struct mpx_rpc_addr local; /* bound address (family 0: any) */
    struct mpx_rpc_addr remote;
    uint16_t lport, rport;
    uint32_t filler_len; /* SOCK_CONNECT: bytes of filler before the app's data */
    uint32_t backlog;    /* SOCK_LISTEN */
    uint32_t pad;
    uint8_t psk[MPX_RPC_PSK_MAX];
};

/* The abstract name (without its leading NUL) of the daemon's end of an
 * accepted connection: MPX_RPC_ACC_PREFIX, the family of the app's listening
 * socket ('4'/'6'), the connection id, then peer and local address and port
 * in hex (family digit, 8 or 32 hex digits, 4 hex digits each). Returns the
 * length (at most 107), or 0 if |cap| is too small. */
size_t mpx_rpc_acc_name(char *out, size_t cap, int lfamily, uint32_t conn,
                        const struct mpx_rpc_addr *peer, uint16_t pport,
                        const struct mpx_rpc_addr *local, uint16_t lport);
/* Its inverse; 0 or -EINVAL. */
int mpx_rpc_acc_parse(const char *name, size_t len, int *lfamily, uint32_t *conn,
                      struct mpx_rpc_addr *peer, uint16_t *pport, struct mpx_rpc_addr *local,
                      uint16_t *lport);

/*
 * CONN_SETOPT (the shim's setsockopt, issue 7): one socket option of a
 * connection the client owns, with Linux's units and ranges. Fire and
 * forget (nginx toggles TCP_CORK per response; no round trip): no reply
 * unless MPX_RPC_SETOPT_F_REPLY asks for a STATUS. The shim validates
 * values before it sends; a failure in the engine (connection gone) is
 * counted (MpxdSetoptFail) and logged at debug level.
 */
enum mpx_rpc_sockopt {
    MPX_RPC_SO_NODELAY = 1,  /* TCP_NODELAY: value 0/1 */
    MPX_RPC_SO_CORK,         /* TCP_CORK: 0/1 */
    MPX_RPC_SO_KEEPALIVE,    /* SO_KEEPALIVE: 0/1 */
    MPX_RPC_SO_KEEPIDLE,     /* TCP_KEEPIDLE: s, 1..32767 */
    MPX_RPC_SO_KEEPINTVL,    /* TCP_KEEPINTVL: s, 1..32767 */
    MPX_RPC_SO_KEEPCNT,      /* TCP_KEEPCNT: 1..127 */
    MPX_RPC_SO_USER_TIMEOUT, /* TCP_USER_TIMEOUT: ms, 0 = off */
    MPX_RPC_SO_CONGESTION,   /* TCP_CONGESTION: name (cubic, reno, lia) */
    MPX_RPC_SO_LINGER0,      /* SO_LINGER: 1 = {1, 0} (abortive close), 0 = normal */
    MPX_RPC_SO_TOS,          /* IP_TOS / IPV6_TCLASS: 0..255 */
    MPX_RPC_SO_TTL,          /* IP_TTL / IPV6_UNICAST_HOPS: 1..255 */
    MPX_RPC_SO_SYNCNT,       /* TCP_SYNCNT: 1..127 SYN retransmissions */
    MPX_RPC_SO_LAST_ = MPX_RPC_SO_SYNCNT,
};
#define MPX_RPC_SETOPT_F_REPLY 0x1u
#define MPX_RPC_SETOPT_F_ALL   0x1u
struct mpx_rpc_setopt {
    uint32_t conn;
    uint32_t flags; /* MPX_RPC_SETOPT_F_* */
    uint32_t opt;   /* enum mpx_rpc_sockopt */
    int32_t value;
    char name[MPX_RPC_CC_NAME_MAX]; /* CONGESTION: NUL-terminated; else zero */
};

/* ---- encode / decode ------------------------------------------------------ */

/* Which side receives the message: requests go to the daemon, replies and
 * events to a client. A message of the wrong direction is malformed. */
enum mpx_rpc_dir {
    MPX_RPC_TO_DAEMON = 1,
    MPX_RPC_TO_CLIENT = 2,
};

/* Why a message was rejected (the daemon counts and logs these). */
enum mpx_rpc_reject {
    MPX_RPC_OK = 0,
    MPX_RPC_E_SHORT = -1,   /* shorter than the header */
    MPX_RPC_E_MAGIC = -2,   /* bad magic */
    MPX_RPC_E_VERSION = -3, /* unsupported version */
    MPX_RPC_E_TYPE = -4,    /* unknown type or wrong direction */
    MPX_RPC_E_LENGTH = -5,  /* header length != datagram length, or body size wrong */
    MPX_RPC_E_STRING = -6,  /* string without NUL */
    MPX_RPC_E_RANGE = -7,   /* a field out of range (family, flags, count, port ...) */
    MPX_RPC_E_PAD = -8,     /* non-zero padding */
    MPX_RPC_E_FDS = -9,     /* wrong number of file descriptors */
    MPX_RPC_E_TOOBIG = -10, /* larger than MPX_RPC_MSG_MAX */
};

/* Body size of a type for encoding: the fixed size, or for variable types
 * the size with |n| elements. 0 for an unknown type. */
size_t mpx_rpc_body_size(uint16_t type, uint32_t n);

/* Header + body into |out|. Returns the message length, or 0 if |cap| is too
 * small or the body does not have the size its type needs. The encoder does
 * not validate the body: senders build bodies from zeroed structs. */
size_t mpx_rpc_encode(void *out, size_t cap, uint16_t type, uint32_t id, const void *body,
                      size_t body_len);

/*
 * Validate a received datagram of |len| bytes that came with |nfds| file
 * descriptors, for direction |dir|. On success returns MPX_RPC_OK, fills
 * |*hdr| and copies the body into |body| (|body_cap| >= the body size; the
 * rest of |body| up to body_cap is zeroed so fixed arrays beyond a count
 * read as zero). On failure returns an MPX_RPC_E_* and |why| (if not NULL)
 * names the field.
 */
int mpx_rpc_decode(const void *msg, size_t len, int nfds, enum mpx_rpc_dir dir,
                   struct mpx_rpc_hdr *hdr, void *body, size_t body_cap, const char **why);

/* Largest body of any type (a buffer of this size fits every body). */
#define MPX_RPC_BODY_MAX (MPX_RPC_MSG_MAX - sizeof(struct mpx_rpc_hdr))

const char *mpx_rpc_type_name(uint16_t type);
const char *mpx_rpc_reject_name(int reject);
const char *mpx_rpc_event_name(uint32_t type);

/* ---- shared text helpers (CLI, daemon config, shim) ----------------------- */

/* Parse an IPv4/IPv6 address. 0 or -EINVAL. */
int mpx_rpc_addr_parse(const char *s, struct mpx_rpc_addr *out);
/* Text form (inet_ntop); "*" for family 0. Returns buf. */
const char *mpx_rpc_addr_fmt(const struct mpx_rpc_addr *a, char *buf, size_t cap);

/*
 * Parse the arguments of `ip mptcp endpoint add|del|change` (ip-mptcp(8)):
 *   add:    ADDRESS [ port PORT ] [ id ID ] [ FLAG ... ] [ dev IFNAME ]
 *   delete: id ID [ ADDRESS ]  |  ADDRESS [ port PORT ]
 *   change: ( id ID | ADDRESS ) [ backup | nobackup ] [ fullmesh | nofullmesh ]
 * FLAG is signal, subflow, backup, fullmesh, laminar. dev is resolved with
 * if_nametoindex() when |resolve_dev|. Returns 0, or -EINVAL with a message
 * in |err| that says which word is wrong.
 */
enum mpx_rpc_endp_verb {
    MPX_RPC_ENDP_VERB_ADD = 1,
    MPX_RPC_ENDP_VERB_DEL,
    MPX_RPC_ENDP_VERB_CHANGE,
};
int mpx_rpc_endp_parse(enum mpx_rpc_endp_verb verb, int argc, char **argv, bool resolve_dev,
                       struct mpx_rpc_endp *out, char *err, size_t errcap);

/*
 * Default control-socket path: MPX_RPC_SOCK_DIR/<name>.sock where name is
 * |name| if given, else the name of the current network namespace (the file
 * in /run/netns whose inode matches /proc/self/ns/net, as `ip netns
 * identify` does), else "default". The CLI also honours $MPTCPEXT_SOCKET.
 */
void mpx_rpc_default_socket(char *buf, size_t cap, const char *name);

/* The one mapping from the core's MPX_ERR_* to a negative errno, used by
 * every client of the core (daemon replies, and later the shim). 0 and
 * positive values pass through as 0. Callers whose socket call has its own
 * errno for a code (connect: EEXIST means EADDRINUSE) translate after it. */
int mpx_rpc_errno(int mpx_err);

/*
 * Read a pre-shared key file (CLI --psk-file, shim MPTCPEXT_PSK_FILE): a
 * regular file, not accessible by group or others (like ssh's private keys),
 * holding 16..MPX_RPC_PSK_MAX raw bytes or twice that many hex digits (a
 * trailing newline is ignored for hex). Returns the key length, or a
 * negative errno (-EACCES for permissions, -EINVAL for the size or type)
 * with a one-line reason in |err|. The key never appears in |err|; the
 * read buffer is erased.
 */
int mpx_rpc_psk_read(const char *path, uint8_t out[MPX_RPC_PSK_MAX], char *err, size_t errcap);

#endif /* MPX_RPC_H */
