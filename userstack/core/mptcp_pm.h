/*
 * mptcp_pm.h - the path manager, modelled on Linux's in-kernel PM
 * (net/mptcp/pm_kernel.c and pm.c, 6.18). Pure: it knows nothing of sockets
 * or packets. Events go in, actions come out of a queue the connection
 * drains; time comes in as "now" (ns) and leaves as a deadline.
 *
 * Two levels:
 *
 * 1. struct mpx_pm_cfg, host-wide, owned by the stack: endpoints and limits
 *    with the vocabulary and the validation of `ip mptcp endpoint` and
 *    `ip mptcp limits` (ip-mptcp(8)). Endpoint flags: signal (announce the
 *    address with ADD_ADDR), subflow (open a subflow from it), backup (its
 *    subflows are backup: MP_JOIN B bit, MP_PRIO), fullmesh (subflows from it
 *    to every known peer address, and accepted ADD_ADDRs are joined from
 *    every fullmesh endpoint), laminar (Linux 6.18: an accepted ADD_ADDR is
 *    joined from one laminar endpoint not in use yet, instead of from the
 *    routing's choice). Limits: subflows (extra subflows, the initial one not
 *    counted; kernel default 2) and add_addr_accepted (default 0), 0..8
 *    each.
 *    When an endpoint is added, removed, changed or the list flushed at run
 *    time, the stack calls the matching mpx_pm_on_endp_*() on every
 *    connection, as the kernel walks its token table
 *    (mptcp_nl_add_subflow_or_signal_addr() and friends).
 *
 * 2. struct mpx_pm_conn, one per MPTCP connection (embedded in it; the
 *    fields are private). Subflows are named by a handle the PM hands out:
 *    0 is the initial subflow, CREATE_SUBFLOW actions carry a new one, and
 *    mpx_pm_on_join_request() returns one for a join the peer opened. The
 *    spine reports every subflow's fate with that handle.
 *
 * How the spine drives it:
 *    mpx_pm_conn_init()            MP_CAPABLE handshake done (initial subflow
 *                                  addresses, peer's C flag)
 *    mpx_pm_on_fully_established() connection fully established (with
 *                                  external keys: once the key is active)
 *    mpx_pm_on_subflow_established / _closed, mpx_pm_on_join_request
 *    mpx_pm_on_add_addr()          ADD_ADDR (E=0) whose HMAC was valid
 *    mpx_pm_on_add_addr_echo()     ADD_ADDR echo (E=1)
 *    mpx_pm_on_rm_addr(), mpx_pm_on_prio()
 *    mpx_pm_on_path()              link/path up or down (from the daemon)
 *    mpx_pm_next_deadline() / mpx_pm_on_timer()
 *    mpx_pm_subflow_bind()         source chosen for a CREATE_SUBFLOW whose
 *                                  local address was "any": gives its id
 *    mpx_pm_next_action()          after every call above, until false.
 *
 * The spine's side of the contract: it creates a join listener for every
 * signal endpoint with a port (the kernel's mptcp_pm_nl_create_listen_socket),
 * verifies ADD_ADDR HMACs before calling in, and treats a subflow it was told
 * to close (CLOSE_SUBFLOW) as already gone for the PM: a later
 * mpx_pm_on_subflow_closed() for it is ignored. Subflow handles are never
 * reused within a connection.
 *
 * Actions are "fire now": an ANNOUNCE is meant to go out at once on a pure
 * ACK (as mptcp_pm_addr_send_ack() does). Like the kernel, the next signal
 * endpoint is announced on the next PM trigger (echo received, subflow
 * established or closed, retransmissions exhausted, endpoint added), so in
 * practice one announce is outstanding at a time.
 *
 * ADD_ADDR retransmission (pm.c mptcp_pm_add_timer): with T =
 * min(add_addr_timeout, largest subflow RTO given by mpx_pm_set_max_rto()),
 * an announce sent at t0 is resent at t0+T, t0+3T, t0+7T (ADD_ADDR_RETRANS_MAX
 * = 3: four transmissions in all) unless echoed; T is re-read at each
 * expiry. The next signal endpoint goes out with the last resend. (Seen on
 * Linux 6.18 with echoes dropped, add_addr_timeout 1 s, RTO ~0.2 s:
 * ADD_ADDR id 1 at 0, 0.203, 0.619, 1.451 s, id 2 at 1.451, 1.659, 2.095,
 * 2.927 s.)
 *
 * Beyond the kernel (the issue asks for it): a subflow this side opened that
 * dies with an error is re-created from the same local address to the same
 * remote one, after a backoff (1 s doubling to 64 s) or at once when
 * mpx_pm_on_path() says its path came back; never while its path is down,
 * never beyond the subflows limit, never twice for one (local, remote) pair.
 *
 * Known differences from Linux, on purpose:
 *  - a backup change of an endpoint sends MP_PRIO on every subflow from that
 *    address (Linux 6.18: only on the first one found), and none when the
 *    same change toggles fullmesh and the subflows are redone anyway;
 *  - no duplicate subflow for a (local address, remote address+port) pair,
 *    even when an endpoint equal to the initial address is re-added;
 *  - an announce of the initial address (id 0) is retransmitted like others;
 *  - an accepted ADD_ADDR never takes the connection beyond the subflows
 *    limit (Linux 6.18 exceeds it by one when a subflow endpoint filled it
 *    before the ADD_ADDR came: seen with limits subflows 1, a fullmesh
 *    endpoint and a late ADD_ADDR, 2 joins);
 *  - an endpoint added before the connection is fully established is used
 *    when it gets there (Linux skips it for that connection).
 */
#ifndef MPX_MPTCP_PM_H
#define MPX_MPTCP_PM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_addr.h"

/* Endpoint flags: the values of Linux's MPTCP_PM_ADDR_FLAG_* (uapi). */
#define MPX_PM_F_SIGNAL   0x01
#define MPX_PM_F_SUBFLOW  0x02
#define MPX_PM_F_BACKUP   0x04
#define MPX_PM_F_FULLMESH 0x08
#define MPX_PM_F_IMPLICIT 0x10 /* created by the PM for an unknown local address */
#define MPX_PM_F_LAMINAR  0x20 /* Linux 6.18 */

#define MPX_PM_ENDP_MAX   8 /* MPTCP_PM_ADDR_MAX */
#define MPX_PM_LIMIT_MAX  8
#define MPX_PM_RM_IDS_MAX 8 /* MPTCP_RM_IDS_MAX */

#define MPX_PM_ADD_ADDR_TIMEOUT_NS  (120ull * 1000000000ull) /* net.mptcp.add_addr_timeout */
#define MPX_PM_ADD_ADDR_RETRANS_MAX 3
#define MPX_PM_RETRY_BASE_NS        (1ull * 1000000000ull)
#define MPX_PM_RETRY_MAX_NS         (64ull * 1000000000ull)
#define MPX_PM_NO_DEADLINE          UINT64_MAX

/* An address as the PM sees it: IP address, port (host order, 0 = none or
 * "the connection's"), MPTCP address id. */
struct mpx_pm_addr {
    struct mpx_addr addr;
    uint16_t port;
    uint8_t id;
};

struct mpx_pm_endpoint {
    uint8_t id; /* 1..255; 0 on add = assign one */
    uint8_t flags;
    uint16_t port; /* only with signal and without subflow */
    int32_t ifindex;
    char ifname[16]; /* for show ("dev NAME"); may be empty */
    struct mpx_addr addr;
};

/* Host-wide configuration. Fields are private; use the functions. */
struct mpx_pm_cfg {
    struct mpx_pm_endpoint endp[MPX_PM_ENDP_MAX]; /* kernel list order */
    uint8_t nr;
    uint8_t next_id;
    uint8_t limit_subflows;
    uint8_t limit_add_addr_accepted;
    uint8_t endp_signal_max, endp_subflow_max, endp_fullmesh_max, endp_laminar_max;
    uint8_t id_bitmap[32];
    uint64_t add_addr_timeout_ns; /* net.mptcp.add_addr_timeout; 0 = never retransmit */
    /* net.mptcp.path_manager: "kernel" (default) or "userspace". A userspace
     * connection does nothing by itself: it echoes ADD_ADDRs, accepts every
     * join, obeys REMOVE_ADDR and the mpx_pm_cmd_*() commands, ignores the
     * endpoints and limits. Taken when a connection is created. */
    uint8_t pm_type;
    /* net.mptcp.allow_join_initial_addr_port (default 1). For the spine: when
     * false our MP_CAPABLE sets C (RFC 8684 section 3.1). */
    bool allow_join_initial_addr_port;
};

#define MPX_PM_TYPE_KERNEL    0
#define MPX_PM_TYPE_USERSPACE 1

void mpx_pm_cfg_init(struct mpx_pm_cfg *cfg);

/* Add an endpoint; returns its id (1..255) or MPX_ERR_INVAL (bad family,
 * flags, port without signal, signal with fullmesh), MPX_ERR_EXIST (address
 * already an endpoint, or id in use), MPX_ERR_NOSPACE (8 endpoints). */
int mpx_pm_endpoint_add(struct mpx_pm_cfg *cfg, const struct mpx_pm_endpoint *ep);
/* Remove by id (1..255) or by address (+port when the endpoint has one);
 * the removed endpoint is copied to |out| (for mpx_pm_on_endp_removed). */
int mpx_pm_endpoint_del(struct mpx_pm_cfg *cfg, uint8_t id, struct mpx_pm_endpoint *out);
int mpx_pm_endpoint_del_addr(struct mpx_pm_cfg *cfg, const struct mpx_addr *addr, uint16_t port,
                             struct mpx_pm_endpoint *out);
/* Remove every endpoint; copies at most |cap| of them to |out|; returns the
 * number removed. */
size_t mpx_pm_endpoint_flush(struct mpx_pm_cfg *cfg, struct mpx_pm_endpoint *out, size_t cap);
/* `ip mptcp endpoint change`: by id, or by address when id is 0. |flags| may
 * hold only backup and fullmesh and replaces both (as the kernel does:
 * "change id 1 backup" clears fullmesh). *changed gets the flags that
 * changed (for mpx_pm_on_endp_changed). */
int mpx_pm_endpoint_change(struct mpx_pm_cfg *cfg, uint8_t id, const struct mpx_addr *addr,
                           uint8_t flags, uint8_t *changed);
const struct mpx_pm_endpoint *mpx_pm_endpoint_get(const struct mpx_pm_cfg *cfg, uint8_t id);
/* Endpoints sorted by id, as `ip mptcp endpoint show` lists them. */
size_t mpx_pm_endpoint_list(const struct mpx_pm_cfg *cfg, struct mpx_pm_endpoint *out, size_t cap);
/* -1 leaves a limit unchanged; > 8 is MPX_ERR_INVAL and changes nothing. */
int mpx_pm_limits_set(struct mpx_pm_cfg *cfg, int subflows, int add_addr_accepted);

/* One line like `ip mptcp endpoint show` ("10.0.3.1 port 1234 id 5 signal
 * backup dev eth0 ", no newline) and `ip mptcp limits show`
 * ("add_addr_accepted 0 subflows 2 "). Return the length that the full text
 * needs (snprintf rule: truncated, NUL-terminated when cap > 0). */
size_t mpx_pm_endpoint_fmt(const struct mpx_pm_endpoint *ep, char *buf, size_t cap);
size_t mpx_pm_limits_fmt(const struct mpx_pm_cfg *cfg, char *buf, size_t cap);

/* ---- per connection ---------------------------------------------------- */

enum mpx_pm_action_type {
    MPX_PM_ACT_CREATE_SUBFLOW = 1, /* MP_JOIN from local to remote; sf = new handle */
    MPX_PM_ACT_ANNOUNCE,           /* ADD_ADDR E=0 (HMAC by the key scheme) for local */
    MPX_PM_ACT_ANNOUNCE_ECHO,      /* ADD_ADDR E=1 echoing remote */
    MPX_PM_ACT_REMOVE_ADDR,        /* REMOVE_ADDR ids[0..nr_ids) */
    MPX_PM_ACT_CLOSE_SUBFLOW,      /* close subflow sf (FIN, then RST if needed) */
    MPX_PM_ACT_SET_BACKUP,         /* MP_PRIO with B=backup on sf; sf is backup locally */
};

struct mpx_pm_action {
    uint8_t type; /* enum mpx_pm_action_type */
    bool backup;
    uint8_t nr_ids;
    uint8_t ids[MPX_PM_RM_IDS_MAX];
    uint32_t sf;
    int32_t ifindex;           /* CREATE_SUBFLOW: bind to this interface (0: any) */
    struct mpx_pm_addr local;  /* CREATE: source and its address id; an all-zero
                                  address means "any of that family": routing
                                  picks it, then mpx_pm_subflow_bind() gives
                                  the id. ANNOUNCE: what to announce. */
    struct mpx_pm_addr remote; /* CREATE (port always set), ANNOUNCE_ECHO */
};

/* Why a subflow closed; decides whether it is re-created. */
enum mpx_pm_close_reason {
    MPX_PM_CLOSE_LOCAL = 0, /* closed on purpose here (app, PM action): no retry */
    MPX_PM_CLOSE_PEER,      /* orderly close by the peer: no retry */
    MPX_PM_CLOSE_REJECTED,  /* join refused: RST to the SYN, non-transient MP_TCPRST */
    MPX_PM_CLOSE_ERROR,     /* timeout, reset mid-flight, transient MP_TCPRST: retry */
    MPX_PM_CLOSE_NOROUTE,   /* could not be sent: retry when the path comes up */
};

/* PM-related MPTcpExt counters (net/mptcp/mib.c names). The Tx ones count
 * emitted actions; the spine reports options it could not send with
 * mpx_pm_on_tx_drop(). PMSubflowRetry is ours. */
struct mpx_pm_mib {
    uint64_t AddAddr, AddAddrTx, AddAddrTxDrop, EchoAdd, EchoAddTx, EchoAddTxDrop, PortAdd;
    uint64_t AddAddrDrop, RmAddr, RmAddrDrop, RmAddrTx, RmAddrTxDrop, RmSubflow;
    uint64_t MPPrioTx, MPPrioRx, MPJoinRejected, PMSubflowRetry;
};

struct mpx_pm_conn_params {
    struct mpx_pm_addr local;  /* initial subflow (id ignored: 0) */
    struct mpx_pm_addr remote; /* initial subflow, port set */
    bool deny_join_id0;        /* the peer set C in MP_CAPABLE */
    bool server;               /* passive side: never re-creates the initial subflow */
    /* The app socket's family (kernel mptcp_pm_addr_families_match()):
     * MPX_AF_INET allows only v4 pairs; MPX_AF_INET6 allows v4 and v6 pairs
     * (each pair of one family) unless v6only. 0: the initial local's family. */
    uint8_t sock_family;
    bool v6only;
};

#define MPX_PM_SF_MAX   16
#define MPX_PM_ANNO_MAX 16
#define MPX_PM_LOST_MAX 8
#define MPX_PM_DOWN_MAX 8

/* Private. */
struct mpx_pm_sf {
    bool used, established, join, initiator, backup, remote_backup;
    uint8_t endp_id; /* endpoint it came from (0: none) */
    uint32_t handle;
    int32_t ifindex;
    uint64_t backoff_ns; /* backoff that led to this retry (0: first try) */
    struct mpx_pm_addr local, remote;
};
struct mpx_pm_anno {
    bool used;
    uint8_t retrans;
    uint64_t deadline;
    struct mpx_pm_addr addr;
};
struct mpx_pm_lost {
    bool used, backup;
    uint8_t endp_id;
    int32_t ifindex;
    uint64_t backoff_ns, deadline; /* deadline MPX_PM_NO_DEADLINE: path down */
    struct mpx_pm_addr local, remote;
};
struct mpx_pm_down {
    bool used;
    int32_t ifindex;
    struct mpx_addr addr;
};

struct mpx_pm_conn {
    struct mpx_pm_cfg *cfg;
    struct mpx_pm_conn_params p;
    bool userspace, fully_established, work_pending, accept_addr, accept_subflow, mpc_accounted;
    uint8_t mpc_endp_id;
    uint8_t local_addr_used, extra_subflows, add_addr_signaled, add_addr_accepted;
    uint8_t id_avail[32];
    uint32_t next_handle;
    uint64_t max_rto_ns;
    struct mpx_pm_sf sf[MPX_PM_SF_MAX];
    struct mpx_pm_anno anno[MPX_PM_ANNO_MAX];
    struct mpx_pm_lost lost[MPX_PM_LOST_MAX];
    struct mpx_pm_down down[MPX_PM_DOWN_MAX];
    struct mpx_pm_action *q;
    size_t q_head, q_len, q_cap;
    struct mpx_pm_mib mib;
};

/* |cfg| must outlive |pmc|. The initial subflow is handle 0. */
int mpx_pm_conn_init(struct mpx_pm_conn *pmc, struct mpx_pm_cfg *cfg,
                     const struct mpx_pm_conn_params *params);
void mpx_pm_conn_free(struct mpx_pm_conn *pmc);

/* Pop the next action; false when the queue is empty. */
bool mpx_pm_next_action(struct mpx_pm_conn *pmc, struct mpx_pm_action *out);

void mpx_pm_on_fully_established(struct mpx_pm_conn *pmc, uint64_t now);
/* The spine chose the source of a CREATE_SUBFLOW (needed when the action's
 * local address was "any"): records it and returns the local address id to
 * put in the MP_JOIN SYN (negative MPX_ERR_* if none is left). */
int mpx_pm_subflow_bind(struct mpx_pm_conn *pmc, uint32_t sf, const struct mpx_addr *local,
                        uint16_t port);
/* |local| (may be NULL) is the subflow's actual local address when the
 * CREATE_SUBFLOW left it to routing; its id is found by the PM. */
void mpx_pm_on_subflow_established(struct mpx_pm_conn *pmc, uint32_t sf,
                                   const struct mpx_addr *local, uint64_t now);
void mpx_pm_on_subflow_closed(struct mpx_pm_conn *pmc, uint32_t sf, enum mpx_pm_close_reason why,
                              uint64_t now);
/* The peer's MP_JOIN is about to be accepted (kernel: third ACK, HMAC
 * valid). |remote| carries the peer's address id, |remote_backup| its B bit.
 * Returns MPX_ERR_REFUSED when the subflows limit says no (MPJoinRejected is
 * counted; reset the join), else fills |out|. */
struct mpx_pm_join_reply {
    uint32_t sf;      /* handle of the new subflow */
    uint8_t local_id; /* our address id for this local address */
    bool backup;      /* our B bit: the local endpoint is backup */
};
int mpx_pm_on_join_request(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *local,
                           const struct mpx_pm_addr *remote, bool remote_backup,
                           struct mpx_pm_join_reply *out);
void mpx_pm_on_add_addr(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *addr, uint64_t now);
void mpx_pm_on_add_addr_echo(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *addr, uint64_t now);
void mpx_pm_on_rm_addr(struct mpx_pm_conn *pmc, const uint8_t *ids, size_t n, uint64_t now);
void mpx_pm_on_prio(struct mpx_pm_conn *pmc, uint32_t sf, bool backup);
/* The spine could not put an ANNOUNCE / ANNOUNCE_ECHO / REMOVE_ADDR on the
 * wire (no option space): counts *TxDrop and, for an announce, stops its
 * retransmission and moves on like the kernel. */
void mpx_pm_on_tx_drop(struct mpx_pm_conn *pmc, const struct mpx_pm_action *act, uint64_t now);

/* Endpoint changes at run time; |ep| is the endpoint as added / removed /
 * after the change. */
void mpx_pm_on_endp_added(struct mpx_pm_conn *pmc, const struct mpx_pm_endpoint *ep, uint64_t now);
void mpx_pm_on_endp_removed(struct mpx_pm_conn *pmc, const struct mpx_pm_endpoint *ep,
                            uint64_t now);
void mpx_pm_on_endp_changed(struct mpx_pm_conn *pmc, const struct mpx_pm_endpoint *ep,
                            uint8_t changed, uint64_t now);
void mpx_pm_on_endp_flushed(struct mpx_pm_conn *pmc, const struct mpx_pm_endpoint *eps, size_t n,
                            uint64_t now);
/* `ip mptcp endpoint delete id 0 ADDR`: the connections whose initial local
 * address is |addr| withdraw address id 0 and close its subflows. */
void mpx_pm_on_endp_id0_removed(struct mpx_pm_conn *pmc, const struct mpx_addr *addr, uint64_t now);

/* A path (local address, or interface when |addr| is NULL) went down or
 * came back. */
void mpx_pm_on_path(struct mpx_pm_conn *pmc, const struct mpx_addr *addr, int32_t ifindex, bool up,
                    uint64_t now);
/* Largest RTO among the subflows (caps the ADD_ADDR timeout); 0 = unknown. */
void mpx_pm_set_max_rto(struct mpx_pm_conn *pmc, uint64_t rto_ns);

uint64_t mpx_pm_next_deadline(const struct mpx_pm_conn *pmc);
void mpx_pm_on_timer(struct mpx_pm_conn *pmc, uint64_t now);

/* Local address id of a subflow from |addr|:|port| (pm.c
 * mptcp_pm_get_local_id): 0 for the initial local address, else the
 * endpoint's id, else a new implicit endpoint's. MPX_ERR_NOSPACE when full. */
int mpx_pm_conn_local_id(struct mpx_pm_conn *pmc, const struct mpx_addr *addr, uint16_t port);

/* Userspace-PM-like commands (mptcpd / `ip mptcp` userspace verbs), outside
 * the endpoint list and limits. */
int mpx_pm_cmd_announce(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *local, uint64_t now);
int mpx_pm_cmd_remove(struct mpx_pm_conn *pmc, uint8_t id, uint64_t now);
/* Returns the new subflow handle (>= 0) or an error. */
int64_t mpx_pm_cmd_subflow_create(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *local,
                                  const struct mpx_pm_addr *remote, bool backup);
int mpx_pm_cmd_subflow_destroy(struct mpx_pm_conn *pmc, uint32_t sf, uint64_t now);
/* MP_PRIO on the subflows from |local| (to |remote| if not NULL). */
int mpx_pm_cmd_set_backup(struct mpx_pm_conn *pmc, const struct mpx_addr *local,
                          const struct mpx_pm_addr *remote, bool backup);

/* Subflow view for info/tests: copies live subflows, returns the count. */
size_t mpx_pm_subflows(const struct mpx_pm_conn *pmc, struct mpx_pm_sf *out, size_t cap);

#endif /* MPX_MPTCP_PM_H */
