/*
 * mptcp_stack.h - the MPTCP host ("stack"): RFC 8684 connections over
 * subflows driven by the sans-I/O TCP engine (tcp.h).
 *
 * Like the TCP engine it is sans-I/O: the owner feeds IP packets
 * (mpx_stack_input), pulls packets out (mpx_stack_output until 0), wakes it
 * at mpx_stack_next_deadline() with mpx_stack_on_timer(), and drains events
 * (mpx_stack_poll_event). Time is a uint64_t nanosecond "now"; randomness
 * comes from the owner's rand service in the config. Connections are named
 * by a non-zero 32-bit id.
 *
 * The connection ("msk") owns a data-level send buffer (from DATA_ACK) and
 * receive buffer (reassembly by DSN), and a set of subflows. A connection
 * whose peer did not negotiate MPTCP is a plain TCP connection behind the
 * same API (fallback, RFC 8684 section 3.7).
 */
#ifndef MPX_MPTCP_STACK_H
#define MPX_MPTCP_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mptcp_mib.h"
#include "mptcp_pm.h"
#include "tcp.h"
#include "token.h"
#include "wire_addr.h"

struct mpx_stack;

#define MPX_STACK_MAX_ADDRS    8
#define MPX_STACK_MAX_SUBFLOWS 8

/* External keys (draft-baerts-tcpm-mptcpext-00, DESIGN decision 5) per
 * connection: NEVER = RFC 8684 only (E never offered; an E SYN is still
 * answered in RFC 8684 form), PREFER = offer E, accept an RFC 8684 answer,
 * REQUIRE = offer E and never send a key in clear: without E the
 * connection stays single-path plain TCP. */
enum mpx_ext_policy {
    MPX_EXT_NEVER = 0,
    MPX_EXT_PREFER,
    MPX_EXT_REQUIRE,
};

struct mpx_stack_config {
    bool mptcp_enabled;                /* false: plain TCP host (net.mptcp.enabled=0) */
    bool checksum;                     /* net.mptcp.checksum_enabled: offer A */
    bool allow_join_initial_addr_port; /* default true; false sets C */
    uint32_t sndbuf, rcvbuf;           /* connection-level, default 4 MiB / 4 MiB */
    uint8_t max_subflows;              /* limit for joins (default 2, like Linux) */
    const char *scheduler;             /* net.mptcp.scheduler; NULL = "default" */
    /* RFC 8684 section 3.3.1: one DSS mapping covers many segments; the
     * mapping goes on the first segment of each mapping, on
     * retransmissions and on the FIN segment, the others carry a
     * DATA_ACK-only DSS (16 bytes more payload). Default true. */
    bool dss_elide;
    struct mpx_tcp_config tcp; /* subflow template (hooks are set by the stack) */
    mpx_rand_fn rand;          /* required */
    void *rand_ctx;
    uint8_t isn_secret[32]; /* RFC 6528 secret */
    /* External keys. The compiled-in default is MPX_EXT_NEVER (not
     * DESIGN decision 5's PREFER) so that existing peers and tests see
     * exactly RFC 8684; the owner opts in. */
    enum mpx_ext_policy ext_policy; /* also the responder's: != NEVER answers E */
    /* Test knob mimicking Linux: an MP_CAPABLE SYN with E is answered
     * with a plain TCP SYN/ACK (Linux rejects unknown flag combinations). */
    bool ext_ignore_like_linux;
    /* PREFER: a destination that answered an E SYN without MP_CAPABLE is
     * sent no E for this long (ns; default 10 minutes). */
    uint64_t ext_cache_ns;
    /* Rotation (NOTES D16): the previous key keeps verifying late joins,
     * ADD_ADDR and FASTCLOSE for this long after the next one became
     * active, then it is erased (ns; default 60 s). */
    uint64_t ext_grace_ns;
};

void mpx_stack_config_default(struct mpx_stack_config *cfg);

/* NULL on allocation failure or missing rand. Config copied. */
struct mpx_stack *mpx_stack_new(const struct mpx_stack_config *cfg);
void mpx_stack_free(struct mpx_stack *st);

/* Local addresses (the first is the default source). */
int mpx_stack_add_local(struct mpx_stack *st, const struct mpx_addr *addr);

/* Listen on |port| (any local address), answering SYNs with the stack's
 * external-key policy (the one in force when each SYN arrives:
 * mpx_stack_set_ext_policy). */
int mpx_stack_listen(struct mpx_stack *st, uint16_t port);
/* The same with a policy for this listener (DESIGN decision 5): NEVER
 * answers E SYNs in RFC 8684 form; PREFER and REQUIRE answer them in E
 * form; REQUIRE answers an RFC 8684 SYN without MP_CAPABLE (plain TCP),
 * so that no key of ours crosses the wire in clear. */
int mpx_stack_listen_ext(struct mpx_stack *st, uint16_t port, enum mpx_ext_policy policy);
/* Stop listening: later SYNs to |port| get a RST; connections already
 * established or queued for accept are not touched. 0 or MPX_ERR_NOENT.
 * (The listener of mpx_stack_listen/_ext: every address.) */
int mpx_stack_unlisten(struct mpx_stack *st, uint16_t port);

/* Listeners on one address, like bound kernel sockets. |addr| NULL or
 * family MPX_AF_NONE: every local address of both families (the
 * listener of mpx_stack_listen); an all-zero IPv4 address: every IPv4
 * address (0.0.0.0); all-zero IPv6: every IPv6 address and, without
 * MPX_LISTEN_V6ONLY, every IPv4 one too ([::] dual stack); else that
 * address only. A SYN goes to the best listener on its port, as Linux
 * scores them (inet_lhash2_lookup/compute_score): the exact address,
 * then the wildcard of the packet's family, then a dual-stack [::] or an
 * every-address listener; none: RST. MP_JOIN SYNs are not matched to
 * listeners (they go by token, RFC 8684 section 3.2).
 * Conflicts are those of listen(2) on Linux (inet_csk_get_port at
 * listen time): two listeners on a port whose address sets overlap
 * (equal addresses, or a wildcard covering the other) conflict
 * (MPX_ERR_EXIST) unless both have MPX_LISTEN_REUSEPORT; SO_REUSEADDR
 * never lets two listeners overlap (only bind(2) sees it: the owner's
 * business). An identical (address, port) is always MPX_ERR_EXIST: a
 * SO_REUSEPORT group shares one listener. MPX_ERR_INVAL (port 0, bad
 * family or policy, flags), MPX_ERR_NOSPACE (64 listeners). */
#define MPX_LISTEN_V6ONLY      0x1u /* IPV6_V6ONLY: [::] takes no IPv4 */
#define MPX_LISTEN_REUSEPORT   0x2u /* SO_REUSEPORT: may overlap others that have it */
#define MPX_LISTEN_HOST_POLICY 0x4u /* |policy| ignored: the stack's at each SYN */
#define MPX_LISTEN_F_ALL       0x7u
int mpx_stack_listen_addr(struct mpx_stack *st, const struct mpx_addr *addr, uint16_t port,
                          uint32_t flags, enum mpx_ext_policy policy);
/* Remove the listener with exactly this (address, port) (NULL = every
 * address). 0 or MPX_ERR_NOENT. */
int mpx_stack_unlisten_addr(struct mpx_stack *st, const struct mpx_addr *addr, uint16_t port);
/* Next established, not accepted connection that came through the
 * listener (addr, port) (NULL = every address), or MPX_ERR_AGAIN. */
long mpx_stack_accept_addr(struct mpx_stack *st, const struct mpx_addr *addr, uint16_t port);

/* --- run-time settings ---------------------------------------------------
 * Like the kernel's sysctls (net.mptcp.checksum_enabled, net.ipv4.tcp_wmem
 * / tcp_rmem defaults), they apply to connections created afterwards
 * (active opens, and passive ones whose SYN arrives afterwards); a
 * connection keeps the values it started with. */
/* Offer DSS checksums (A flag, RFC 8684 section 3.3.0). */
void mpx_stack_set_checksum(struct mpx_stack *st, bool on);
/* TCP pacing of the subflows (and fallback connections), config
 * tcp.pacing (tcp.h): default off in mpx_stack_config_default. */
void mpx_stack_set_pacing(struct mpx_stack *st, bool on);
/* Connection-level send / receive buffer sizes in bytes, 0 = unchanged.
 * MPX_ERR_INVAL outside MPX_STACK_BUF_MIN..MPX_STACK_BUF_MAX (nothing
 * changes then). */
#define MPX_STACK_BUF_MIN 1024u
#define MPX_STACK_BUF_MAX (1u << 30)
int mpx_stack_set_bufs(struct mpx_stack *st, uint32_t sndbuf, uint32_t rcvbuf);
/* External-key policy (DESIGN decision 5) of mpx_stack_connect and of
 * the listeners that follow the host (mpx_stack_listen,
 * MPX_LISTEN_HOST_POLICY): read when a connection is opened or a SYN
 * arrives. A listener made with its own policy keeps it. MPX_ERR_INVAL. */
int mpx_stack_set_ext_policy(struct mpx_stack *st, enum mpx_ext_policy policy);
/* The configuration in force (the setters' values included). */
const struct mpx_stack_config *mpx_stack_get_config(const struct mpx_stack *st);
/* A connection's buffer sizes (what it started with). 0 or MPX_ERR_NOENT. */
int mpx_conn_get_bufs(const struct mpx_stack *st, uint32_t conn, uint32_t *sndbuf,
                      uint32_t *rcvbuf);

/* --- packets and time --------------------------------------------------- */

/* An IP packet from the network. Returns 0 (bad/unknown packets are
 * counted and dropped, answered with RST where TCP says so). */
int mpx_stack_input(struct mpx_stack *st, const uint8_t *pkt, size_t len, uint64_t now);
/* The same with MPX_STACK_IN_* flags. MPX_STACK_IN_CSUM_OK: the IP and TCP
 * checksums are not verified, because the owner knows the packet is intact
 * (a TUN with offloads marks packets whose checksum is only partial,
 * virtio NEEDS_CSUM, or already checked, DATA_VALID). The TCP payload may
 * then exceed the MSS (a GRO'd super segment): it is taken like any other
 * segment. */
#define MPX_STACK_IN_CSUM_OK 0x1u
int mpx_stack_input_flags(struct mpx_stack *st, const uint8_t *pkt, size_t len, unsigned flags,
                          uint64_t now);
/* Next packet to send: its length, 0 when nothing is due, MPX_ERR_NOBUF. */
int mpx_stack_output(struct mpx_stack *st, uint8_t *out, size_t cap, uint64_t now);
/* For the packet mpx_stack_output() just returned: 0, or the gso_size of a
 * TSO super segment (config tcp.max_seg > MSS): the payload of each of the
 * segments it stands for (mpx_tcp_out_gso). */
uint32_t mpx_stack_out_gso(const struct mpx_stack *st);
uint64_t mpx_stack_next_deadline(const struct mpx_stack *st);
int mpx_stack_on_timer(struct mpx_stack *st, uint64_t now);

/* --- events -------------------------------------------------------------- */

enum mpx_stack_event_type {
    MPX_SEV_CONN_ESTABLISHED = 1, /* conn usable (accept() ready on the server) */
    MPX_SEV_CONN_CLOSED,          /* error: 0 or MPX_ERR_* */
    MPX_SEV_SUB_ESTABLISHED,
    MPX_SEV_SUB_CLOSED,
    MPX_SEV_ANNOUNCED, /* peer ADD_ADDR */
    MPX_SEV_REMOVED,   /* peer REMOVE_ADDR */
    MPX_SEV_FALLBACK,  /* connection fell back to TCP */
    MPX_SEV_READABLE,
    MPX_SEV_WRITABLE,
};

struct mpx_stack_event {
    enum mpx_stack_event_type type;
    uint32_t conn;
    int error;
    uint8_t local_id, remote_id;
    bool backup;
    struct mpx_tcp_tuple tuple; /* SUB_*: the subflow */
    struct mpx_addr addr;       /* ANNOUNCED */
    uint16_t port;
};

/* 1 and an event, or 0. */
int mpx_stack_poll_event(struct mpx_stack *st, struct mpx_stack_event *ev);

/* --- application API ----------------------------------------------------- */

/* Active open from |local| (NULL = first local address) to remote:port;
 * returns the connection id (> 0) or an error. */
long mpx_stack_connect(struct mpx_stack *st, const struct mpx_addr *local,
                       const struct mpx_addr *remote, uint16_t port, uint64_t now);
/* mpx_stack_connect with a per-connection external-key policy. */
long mpx_stack_connect_ext(struct mpx_stack *st, const struct mpx_addr *local,
                           const struct mpx_addr *remote, uint16_t port, enum mpx_ext_policy policy,
                           uint64_t now);
/* Install an external key (draft-baerts-tcpm-mptcpext-00 section 4.2) of
 * |len| bytes (16..64, NOTES D18) on an E-mode connection, as key id 0.
 * NEW_KEY announces it (retransmitted until the peer confirms, NOTES
 * D13-D15); incoming MP_JOIN/ADD_ADDR/MP_FASTCLOSE keyed with it are
 * accepted at once (D17), and once the peer has confirmed it our own
 * joins and ADD_ADDR use it and the path manager starts (key_state
 * ACTIVE in mpx_conn_info). Both ends must install the same key. The
 * bytes are copied and erased (retirement, connection end); never
 * logged. 0, MPX_ERR_NOENT, MPX_ERR_INVAL (length), MPX_ERR_STATE (not E
 * mode, or a key already installed). */
int mpx_conn_set_key(struct mpx_stack *st, uint32_t conn, const void *key, size_t len,
                     uint64_t now);
/* Install a pre-shared key (DESIGN decision 6, NOTES D19): never used
 * directly, the external key is HKDF-SHA256(IKM = psk, salt =
 * Token_initiator || Token_responder, info = "mptcpext psk", L = 32), so
 * no two connections share a key. |len| 1..256 (a PSK is expanded, D18's
 * minimum does not apply; a short one is still guessable offline from
 * NEW_KEY). Same errors as mpx_conn_set_key. */
int mpx_conn_set_psk(struct mpx_stack *st, uint32_t conn, const void *psk, size_t len,
                     uint64_t now);
/* Rotate the external key (NOTES D16/D17): key n+1 = HKDF-Expand-SHA256(
 * key n, "mptcpext rotate", 32) under the other K; announced with
 * NEW_KEY, used for new joins once both sides confirmed it; key n stays
 * valid for late joins for the stack's ext_grace_ns, then is erased. The
 * peer must rotate too (its owner calls this as well). 0, MPX_ERR_NOENT,
 * MPX_ERR_STATE (no active key, or the previous rotation not finished),
 * MPX_ERR_AGAIN (the previous key still in its grace period). */
int mpx_conn_rotate_key(struct mpx_stack *st, uint32_t conn, uint64_t now);
/* Next established, not yet accepted connection on |port|, or
 * MPX_ERR_AGAIN. */
long mpx_stack_accept(struct mpx_stack *st, uint16_t port);

/* Open an MP_JOIN subflow from |local| to remote:port (the userspace-PM
 * "create subflow" command; the in-kernel-like PM calls it too). Needs an
 * established MPTCP connection. Returns 0 or an error. */
int mpx_conn_add_subflow(struct mpx_stack *st, uint32_t conn, const struct mpx_addr *local,
                         const struct mpx_addr *remote, uint16_t port, bool backup, uint64_t now);

long mpx_conn_send(struct mpx_stack *st, uint32_t conn, const void *data, size_t len, uint64_t now);
/* Bytes, 0 at end of stream (DATA_FIN, all read), MPX_ERR_AGAIN, or an
 * error (MPX_ERR_RESET, MPX_ERR_NOENT...). */
long mpx_conn_recv(struct mpx_stack *st, uint32_t conn, void *buf, size_t len, uint64_t now);
/* Half close: DATA_FIN after the queued data. */
int mpx_conn_shutdown(struct mpx_stack *st, uint32_t conn, uint64_t now);
/* close(): shutdown, the connection is freed when closed; the id becomes
 * invalid for the app at once. */
int mpx_conn_close(struct mpx_stack *st, uint32_t conn, uint64_t now);
/* MP_FASTCLOSE (RFC 8684 section 3.5): RST on every subflow. */
int mpx_conn_abort(struct mpx_stack *st, uint32_t conn, uint64_t now);

/* mpx_conn_info.key_state */
enum mpx_key_state {
    MPX_KEYST_NONE = 0, /* not E mode, or no key installed yet */
    MPX_KEYST_PENDING,  /* installed, NEW_KEY sent, peer has not confirmed */
    MPX_KEYST_ACTIVE,   /* both sides confirmed: joins and ADD_ADDR use it */
    MPX_KEYST_ROTATING, /* active key in use, next key waiting for confirmation */
    MPX_KEYST_FAILED,   /* NEW_KEY never confirmed (gave up): single path */
};

struct mpx_conn_info {
    bool mptcp; /* MPTCP negotiated (and not fallen back) */
    bool fallback;
    bool csum_enabled;
    bool established, closed;
    bool fin_sent, fin_acked, fin_in; /* the DATA_FIN exchange (section 3.3.3) */
    int error;
    uint32_t local_token, remote_token;
    uint8_t subflows; /* subflows alive */
    uint64_t write_seq, snd_una, snd_nxt, rcv_nxt;
    uint64_t bytes_sent, bytes_received, bytes_acked, bytes_retrans;
    size_t send_queued, recv_ready;
    uint32_t rtx_timeouts; /* connection-level retransmission timer expiries
                            * that reinjected data (Linux msk rtx timer) */
    /* the rest of Linux struct mptcp_info */
    uint8_t subflows_max, subflows_total; /* limit; every subflow ever */
    uint8_t add_addr_signal, add_addr_accepted;
    uint8_t add_addr_signal_max, add_addr_accepted_max;
    uint8_t local_addr_used, local_addr_max;
    uint64_t retransmits; /* reinjected chunks (MPTCPRetrans of this conn) */
    /* ns timestamps, 0 if never (Linux reports ms since) */
    uint64_t last_data_sent, last_data_recv, last_ack_recv;
    bool ext_keys; /* external-key (E) mode negotiated */
    /* External key state (never the key itself): MPX_KEYST_*; the K in
     * use for new joins; generation (0 = first key, +1 per rotation);
     * fingerprint = first 8 bytes of SHA-256(current key), zero if none. */
    uint8_t key_state;
    uint8_t key_id;
    uint32_t key_gen;
    uint8_t key_fpr[8];
};
int mpx_conn_get_info(const struct mpx_stack *st, uint32_t conn, struct mpx_conn_info *info);
/* The connections the application has closed and that are still
 * finishing (orphans, like the kernel's): up to |max| ids, how many. */
size_t mpx_stack_orphans(const struct mpx_stack *st, uint32_t *ids, size_t max);
/* The secrets of a connection, for the daemon's key-log file only (asked
 * for explicitly, like SSLKEYLOGFILE; DESIGN decision 6: never logged):
 * RFC 8684 keys when the connection negotiated them, the newest external
 * key in E mode. The caller wipes |out| after use. */
struct mpx_conn_secrets {
    uint32_t ltoken, rtoken;
    bool rfc8684; /* lkey/rkey valid (MPTCP without E) */
    uint64_t lkey, rkey;
    bool ext; /* key[0..key_len) valid: generation key_gen, identifier key_id */
    uint8_t key_len, key_id;
    uint32_t key_gen;
    uint8_t key[64];
};
int mpx_conn_get_secrets(const struct mpx_stack *st, uint32_t conn, struct mpx_conn_secrets *out);
/* Scheduler of one connection by name ("default", "redundant",
 * "roundrobin"); MPX_ERR_NOENT if unknown. */
int mpx_conn_set_scheduler(struct mpx_stack *st, uint32_t conn, const char *name);

/* Socket options of one connection (the shim's setsockopt). TCP_NODELAY
 * and TCP_CORK act where bytes go from the connection to its subflows
 * (whose engines always send at once): with Nagle (nodelay off) a tail
 * shorter than a segment waits while data is unacknowledged; with cork
 * it waits for a full segment, uncork or shutdown. SO_KEEPALIVE and
 * TCP_CONGESTION ("cubic", "reno", "lia") apply to every subflow, present
 * and future. Defaults come from the config's tcp template. 0 or
 * MPX_ERR_NOENT (unknown connection or algorithm). */
int mpx_conn_set_nodelay(struct mpx_stack *st, uint32_t conn, bool on, uint64_t now);
int mpx_conn_set_cork(struct mpx_stack *st, uint32_t conn, bool on, uint64_t now);
int mpx_conn_set_keepalive(struct mpx_stack *st, uint32_t conn, bool on, uint64_t now);
int mpx_conn_set_cc(struct mpx_stack *st, uint32_t conn, const char *name, uint64_t now);
/* TCP_KEEPIDLE / TCP_KEEPINTVL (ns) and TCP_KEEPCNT for every subflow,
 * present and future; 0 leaves a value unchanged. A running keepalive
 * timer restarts with the new idle time (Linux keepalive_time_when). */
int mpx_conn_set_keepalive_timers(struct mpx_stack *st, uint32_t conn, uint64_t idle,
                                  uint64_t intvl, uint8_t cnt, uint64_t now);
/* TCP_USER_TIMEOUT (RFC 5482), ns, 0 = off: when data stays without
 * DATA_ACK that long, the connection fails with MPX_ERR_TIMEDOUT and the
 * peer gets MP_FASTCLOSE. MPTCP connections only (a fallback connection
 * keeps its subflow's retransmission limits). */
int mpx_conn_set_user_timeout(struct mpx_stack *st, uint32_t conn, uint64_t timeout, uint64_t now);
/* SO_LINGER {1, 0}: mpx_conn_close() aborts (MP_FASTCLOSE / RST). */
int mpx_conn_set_linger_abort(struct mpx_stack *st, uint32_t conn, bool on);
/* IP_TOS / IPV6_TCLASS and IP_TTL of every subflow's packets; -1 leaves
 * one unchanged. MPX_ERR_INVAL for tos > 255, ttl 0 or > 255. */
int mpx_conn_set_ip(struct mpx_stack *st, uint32_t conn, int tos, int ttl);

/* The socket options in force on a connection (what the setters set). */
struct mpx_conn_opts {
    bool nodelay, cork, keepalive, linger_abort;
    uint64_t keep_idle, keep_intvl; /* ns */
    uint8_t keep_cnt, tos, ttl;
    uint64_t user_timeout; /* ns, 0 = off */
    const char *cc;        /* congestion control of new subflows */
};
int mpx_conn_get_opts(const struct mpx_stack *st, uint32_t conn, struct mpx_conn_opts *out);

struct mpx_subflow_info {
    struct mpx_tcp_tuple tuple;
    uint8_t local_id, remote_id;
    bool backup, peer_backup, join, established;
    struct mpx_tcp_info tcp;
};
/* Fills up to |max| entries; returns the number of subflows. */
int mpx_conn_get_subflows(const struct mpx_stack *st, uint32_t conn, struct mpx_subflow_info *out,
                          int max, uint64_t now);

/* MPTcpExt counters of the host (path-manager ones included). */
const struct mpx_mptcp_mib *mpx_stack_mib(struct mpx_stack *st);

/* --- path manager (mptcp_pm.h) -------------------------------------------- */

/* The host's endpoints and limits (`ip mptcp endpoint / limits`); change
 * them through these calls once connections exist, so that every
 * connection's PM hears of it. max_subflows in the config sets the
 * subflows limit at creation. */
struct mpx_pm_cfg *mpx_stack_pm_cfg(struct mpx_stack *st);
int mpx_stack_endpoint_add(struct mpx_stack *st, const struct mpx_pm_endpoint *ep, uint64_t now);
int mpx_stack_endpoint_del(struct mpx_stack *st, uint8_t id, uint64_t now);
/* `ip mptcp endpoint change id ID [backup] [fullmesh]` */
int mpx_stack_endpoint_change(struct mpx_stack *st, uint8_t id, uint8_t flags, uint64_t now);
/* `ip mptcp endpoint flush`: every endpoint goes, each connection
 * withdraws what it announced and closes the subflows they made. */
int mpx_stack_endpoint_flush(struct mpx_stack *st, uint64_t now);
/* `ip mptcp endpoint delete id 0 ADDR`: connections whose initial local
 * address is |addr| withdraw id 0 and close its subflows. */
void mpx_stack_endpoint_del_id0(struct mpx_stack *st, const struct mpx_addr *addr, uint64_t now);
/* A local address's link went down (its subflows are reset at once
 * unless one is all a connection has; the PM will not retry from it) or
 * came back (the PM re-creates the subflows it lost). */
void mpx_stack_path_event(struct mpx_stack *st, const struct mpx_addr *addr, bool up, uint64_t now);
/* Tcp/TcpExt counters summed over every subflow that ever existed. */
void mpx_stack_tcp_mib(const struct mpx_stack *st, struct mpx_tcp_mib *out);

/* --- ICMP (mptcp_icmp.c) --------------------------------------------------- */

/* ICMP / ICMPv6 counters: Linux's Icmp, Icmp6 and TcpExt names where one
 * exists, Mpx* for ours. */
#define MPX_ICMP_MIB_LIST(X)                                                                       \
    X(IcmpInMsgs)                                                                                  \
    X(IcmpInErrors)                                                                                \
    X(IcmpInCsumErrors)                                                                            \
    X(IcmpInDestUnreachs)                                                                          \
    X(IcmpInTimeExcds)                                                                             \
    X(IcmpInParmProbs)                                                                             \
    X(Icmp6InMsgs)                                                                                 \
    X(Icmp6InErrors)                                                                               \
    X(Icmp6InCsumErrors)                                                                           \
    X(Icmp6InDestUnreachs)                                                                         \
    X(Icmp6InPktTooBigs)                                                                           \
    X(Icmp6InTimeExcds)                                                                            \
    X(Icmp6InParmProblems)                                                                         \
    X(TcpExtOutOfWindowIcmps) /* quoted seq outside SND.UNA..SND.NXT */                            \
    X(MpxIcmpNoSubflow)       /* quoted tuple is no subflow of ours */                             \
    X(MpxIcmpAborts)          /* handshakes aborted */                                             \
    X(MpxIcmpSoftErrors)      /* remembered on synchronized subflows */                            \
    X(MpxIcmpPmtuLowered)     /* PTB lowered a subflow's MTU */                                    \
    X(MpxIcmpPmtuStale)       /* PTB not below the MTU in use */

struct mpx_icmp_mib {
#define MPX_ICMP_MIB_FIELD(n) uint64_t n;
    MPX_ICMP_MIB_LIST(MPX_ICMP_MIB_FIELD)
#undef MPX_ICMP_MIB_FIELD
};

/*
 * An ICMP or ICMPv6 packet from the network (mpx_stack_input hands over
 * every IP packet that is not TCP). An error quoting a segment of one of
 * our subflows goes to its TCP engine (tcp.h mpx_tcp_icmp: the handshake
 * aborts with EHOSTUNREACH-like errors, a synchronized subflow keeps
 * retrying and MPTCP reinjects elsewhere when it goes stale, PTB lowers
 * its MSS). Returns 0, or MPX_ERR_UNSUPP when |pkt| is not ICMP.
 */
int mpx_stack_icmp_input(struct mpx_stack *st, const uint8_t *pkt, size_t len, uint64_t now);
const struct mpx_icmp_mib *mpx_stack_icmp_mib(const struct mpx_stack *st);
/* Name table of struct mpx_icmp_mib (full names, e.g. "IcmpInMsgs"). */
const struct mpx_mptcp_mib_name *mpx_icmp_mib_names(size_t *n);
/* TCP_SYNCNT (1..255) of a connection's subflows in their handshake
 * (TCP_USER_TIMEOUT reaches them through mpx_conn_set_user_timeout).
 * 0, MPX_ERR_NOENT, MPX_ERR_INVAL. */
int mpx_conn_set_syn_retries(struct mpx_stack *st, uint32_t conn, int n);

#endif /* MPX_MPTCP_STACK_H */
