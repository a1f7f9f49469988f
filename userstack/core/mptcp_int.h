/*
 * mptcp_int.h - private structures shared by the MPTCP modules
 * (mptcp_keys.c, mptcp_conn.c, mptcp_subflow.c, mptcp_stack.c), like
 * Linux net/mptcp/protocol.h. Not for the owner: use mptcp_stack.h.
 *
 * Sequence spaces: DSNs are 64-bit and compared as plain integers (a
 * connection never sends 2^64 bytes). Subflow stream offsets are 32-bit,
 * 0 = the first byte after the SYN (relative SSN 1, RFC 8684 section 3.3).
 */
#ifndef MPX_MPTCP_INT_H
#define MPX_MPTCP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "mptcp_mib.h"
#include "mptcp_pm.h"
#include "mptcp_sched.h"
#include "mptcp_stack.h"
#include "tcp_int.h"
#include "token.h"
#include "wire_mptcp.h"

#define MPX_SF_MAPS      512   /* tx/rx mappings remembered per subflow */
#define MPX_MAP_MAX      65535 /* DLL is 16 bits */
#define MPX_MAP_MAX_CSUM 16384 /* checksummed mappings are buffered whole */
#define MPX_MSK_OOO_MAX  65536 /* ranges: beyond, data waits in the subflow */
#define MPX_MSK_REINJ    256
/* Linux net.mptcp.close_timeout (TCP_TIMEWAIT_LEN), like tcp_fin_timeout
 * for a TCP orphan in FIN_WAIT_2: the longest an orphan waits for the
 * DATA_FIN exchange once all its data is acknowledged. */
#define MPX_MSK_CLOSE_TIMEOUT (60ull * 1000000000ull)
#define MPX_STACK_EVQ         256
#define MPX_MSK_SIG           8   /* ADD_ADDR / RM_ADDR waiting for a segment */
#define MPX_STACK_HASH        256 /* initial demux hash size */
#define MPX_STACK_LISTEN      64
#define MPX_STACK_RSTQ        16
#define MPX_KEY_TRIES         64
/* Linux syn_retrans_before_tcp_fallback: MP_CAPABLE is left out of SYN
 * retransmissions after this many (NOTES 3.6). */
#define MPX_SYN_MPC_TRIES 2
/* Option bytes reserved per data segment: a DSS with 64-bit DATA_ACK
 * only (4 + 8), or with a 64-bit DSN mapping and checksum too (28); with
 * elision a mapping needs MPX_DSS_MAP_EXTRA bytes of payload given up. */
#define MPX_DSS_ACK_ONLY  12
#define MPX_DSS_FULL      28
#define MPX_DSS_MAP_EXTRA (MPX_DSS_FULL - MPX_DSS_ACK_ONLY)

/* One mapping: subflow bytes [off, off + len) carry DSNs [dsn, dsn + len);
 * |fin|: the DATA_FIN follows at dsn + len (DLL = len + 1). */
struct mpx_map {
    uint64_t dsn;
    uint32_t off;
    uint32_t len;
    bool fin;
    bool sent;     /* tx: announced at least once, so frozen */
    uint16_t csum; /* tx: computed when frozen */
};

struct mpx_map_ring {
    struct mpx_map m[MPX_SF_MAPS];
    uint16_t head, n;
};

struct mpx_keys {
    uint64_t lkey, rkey;
    uint32_t ltoken, rtoken;
    uint64_t lidsn, ridsn;
    bool have_remote;
};

struct mpx_msk;

/*
 * The key scheme (arch note): everything that depends on how keys are made
 * and carried, so that the draft's external keys replace this one part.
 */
struct mpx_key_ops {
    const char *name;
    /* Local key and token (unique in the stack's table; not inserted). */
    int (*local_init)(struct mpx_msk *m);
    /* Fill the MP_CAPABLE of a handshake segment (flags set by caller). */
    void (*fill_mpc)(const struct mpx_msk *m, enum mpx_hs_form form, struct mpx_opt_mpc *o);
    /* Take the peer's MP_CAPABLE (SYN/ACK on the client, ACK on the
     * server): remote key, token, IDSN. MPX_ERR_PROTO if it does not match. */
    int (*recv_mpc)(struct mpx_msk *m, const struct mpx_opt_mpc *o);
    /* HMAC-SHA256(Key_first || Key_second, R_first || R_second) with
     * first = local when |local_first| (RFC 8684 section 3.2). */
    int (*join_hmac)(const struct mpx_msk *m, int k, bool local_first, uint32_t r_first,
                     uint32_t r_second, uint8_t out[32]);
    /* ADD_ADDR truncated HMAC (section 3.4.1), sender = local if |local|. */
    int (*add_addr_hmac)(const struct mpx_msk *m, int k, bool local, uint8_t id,
                         const struct mpx_addr *addr, uint16_t port, uint64_t *out);
    /* MP_FASTCLOSE: the value we send, and the check of a received one.
     * |k|: the external key id (ignored by RFC 8684), as for the HMACs. */
    void (*fill_fastclose)(const struct mpx_msk *m, int k, struct mpx_opt_fastclose *o);
    bool (*fastclose_ok)(const struct mpx_msk *m, const struct mpx_opt_fastclose *o);
};

extern const struct mpx_key_ops mpx_key_ops_rfc8684;
/* draft-baerts-tcpm-mptcpext-00: tokens instead of keys in MP_CAPABLE;
 * without an installed external key nothing can be authenticated, so the
 * HMAC operations fail and FASTCLOSE is never accepted. */
extern const struct mpx_key_ops mpx_key_ops_ext;

/* Destinations that answered an E SYN without MP_CAPABLE (Linux), so
 * PREFER connections to them start without E until |until|. */
#define MPX_EXT_CACHE   16
#define MPX_EXT_KEY_MIN 16 /* NOTES D18 */
#define MPX_EXT_KEY_MAX 64
struct mpx_ext_cache_ent {
    struct mpx_addr addr;
    uint16_t port;
    uint64_t until; /* 0 = free */
};

/*
 * External keys of one connection (draft section 4.2, NOTES D13-D17):
 * two slots, selected by K. Key n lives in slot n & 1. A slot's key is
 * "installed" when the owner gave it (or the ratchet made it): incoming
 * options keyed by it are accepted (D17 DECIDED). It is "confirmed" when
 * the peer proved it holds it (its NEW_KEY, or a verified join, ADD_ADDR
 * or FASTCLOSE with that K, D13): only then do we use it ourselves.
 */
#define MPX_NK_TRIES   6 /* NEW_KEY transmissions before giving up (D15) */
#define MPX_NK_ANSWERS 3 /* answers to duplicates per key (D14 DECIDED) */
#define MPX_NK_RTO_MIN (200ull * 1000000ull)
struct mpx_ext_slot {
    bool installed, confirmed;
    bool tx_due;        /* NEW_KEY goes on the next pure ACK */
    bool given_up;      /* MPX_NK_TRIES sent, never confirmed */
    uint8_t len;        /* 16..64 (NOTES D18) */
    uint8_t tx_n;       /* NEW_KEY (re)transmissions asked for */
    uint8_t sent;       /* NEW_KEYs that went on the wire */
    uint32_t tx_sf;     /* id + 1 of the subflow chosen to carry it, 0: any (D30) */
    bool answering;     /* the due NEW_KEY answers a duplicate (D14 b) */
    uint8_t answers;    /* D14 (b) answers so far */
    uint32_t gen;       /* key generation (rotations) */
    uint64_t rtx_at;    /* next NEW_KEY retransmission (0 = off) */
    uint64_t answer_at; /* no answer before (D14: once per RTO) */
    uint64_t retire_at; /* grace period end of a replaced key (0 = none) */
    uint8_t bytes[MPX_EXT_KEY_MAX];
};

struct mpx_ext_keys {
    struct mpx_ext_slot slot[2];
    uint8_t cur;     /* K that new joins/ADD_ADDR use once its slot is confirmed */
    bool rx_held[2]; /* D14 (a): an unverifiable NEW_KEY value per K */
    uint64_t rx_val[2];
};

struct mpx_sf {
    struct mpx_stack *st;
    struct mpx_msk *msk;
    struct mpx_sf *hnext; /* demux hash chain */
    struct mpx_tcp_conn *tcp;
    struct mpx_tcp_tuple tuple;
    uint32_t id;                   /* stable within the connection (scheduler) */
    uint32_t pm_handle;            /* the path manager's name for it (initial: 0) */
    bool pm_closed;                /* the PM was told (or told us) it is gone */
    bool rst_rx, rst_rx_transient; /* peer's MP_TCPRST */
    uint8_t noopt_acks;            /* pure ACKs in a row without MPTCP options */
    bool send_mp_fail;             /* MP_FAIL(mp_fail_dsn) on the next segment */
    bool send_inf_map;             /* infinite mapping on the next segment */
    uint64_t mp_fail_dsn;
    uint64_t last_prog; /* last forward progress (scheduler stale rule) */
    uint32_t last_una;
    bool client;    /* we sent the SYN */
    bool join;      /* MP_JOIN subflow (else the initial one) */
    bool mp_ok;     /* MPTCP-level established: may carry data */
    bool fully_est; /* peer confirmed our MP_CAPABLE/MP_JOIN ACK */
    bool tcp_est;   /* TCP ESTABLISHED seen */
    bool gone;      /* TCP CLOSED: waiting to be freed */
    bool ev_est;    /* SUB_ESTABLISHED reported */
    bool backup, peer_backup;
    bool stale; /* RTO backoff: do not schedule, reinject */
    bool shut;  /* TCP FIN queued */
    uint8_t local_id, remote_id;
    uint8_t syn_tx; /* SYNs built (MP_CAPABLE dropped after a few) */
    uint32_t lnonce, rnonce;
    uint8_t key_id; /* E mode: K of this subflow's MP_JOIN (D20, D21) */
    int error;
    /* tx */
    struct mpx_map_ring tx;
    uint32_t tx_off; /* bytes handed to the engine */
    /* rx */
    struct mpx_map_ring rx;
    uint32_t rx_off; /* bytes taken from the engine */
    /* options to send on the next RST */
    bool rst_opt;
    uint8_t rst_reason;
    bool send_fastclose;
    bool prio_pending;
    /* infinite mapping (fallback): offset |inf_off| <-> DSN |inf_dsn| */
    bool rx_inf, tx_inf;
    uint32_t rx_inf_off, tx_inf_off;
    uint64_t rx_inf_dsn, tx_inf_dsn;
    bool fin_map; /* a DATA_FIN-only mapping rides on our TCP FIN */
    bool fin_rtx; /* ... and on our next pure ACK (DATA_FIN retransmission) */
    uint64_t fin_dsn;
    bool closing;        /* mpx_tcp_close done */
    bool ack_pending;    /* send a pure ACK (fourth ACK of MP_JOIN) */
    uint64_t mpc_rtx_at; /* client: repeat the MP_CAPABLE ACK then (0 = off) */
    uint8_t mpc_rtx_n;
};

struct mpx_range {
    uint64_t s, e;
};

/* Data stranded on a failed or stale subflow, to send again elsewhere. */
struct mpx_reinj {
    uint64_t s, e;
    uint32_t from; /* subflow id */
};

struct mpx_msk {
    struct mpx_stack *st;
    struct mpx_msk *next;
    struct mpx_msk *prev; /* O(1) unlink: the list holds every live connection */
    /* mptcp_active.c: on the list the per-step walks visit, or parked in
     * the deadline heap (heap_pos 1-based, 0 = not in it) */
    struct mpx_msk *anext, *aprev;
    bool active;
    uint32_t heap_pos;
    uint64_t park_at;
    struct mpx_msk *qnext, *qprev; /* accept queue (server, established) */
    bool queued;
    uint32_t id;
    const struct mpx_key_ops *kops;
    struct mpx_keys keys;
    enum mpx_ext_policy ext_policy; /* client: what this connection asked */
    bool ext;                       /* E offered (client) / negotiated */
    struct mpx_ext_keys ek;         /* external keys (mptcp_newkey.c) */
    bool ext_retry;                 /* PREFER: restart the SYN without E */
    bool token_in;                  /* local token in the stack table */
    bool server;
    bool mptcp;      /* negotiated */
    bool fallback;   /* plain TCP on sf[0] */
    bool csum;       /* DSS checksums in use */
    bool deny_join0; /* peer set C */
    bool hs_mpc;     /* server: MP_CAPABLE SYN accepted, SYN/ACK carries it */
    bool est_ev, accepted, orphan, closed, close_ev;
    int error;
    uint16_t lport;        /* server: listener port */
    struct mpx_addr laddr; /* server: the listener's address (mpx_stack_accept_addr) */
    bool csum_want;        /* the stack's checksum setting when the connection began */
    /* send side: buffer holds DSN [snd_una, write_seq) */
    uint8_t *sbuf;
    uint32_t scap;
    uint64_t snd_una, snd_nxt, write_seq, wnd_end;
    bool shut_wr;  /* app asked; DATA_FIN at DSN write_seq */
    bool fin_sent; /* DATA_FIN handed to a subflow */
    bool fin_acked;
    bool want_writable;
    struct mpx_reinj reinj[MPX_MSK_REINJ];
    uint16_t n_reinj;
    /* receive side: buffer holds DSN [rd_seq, rd_seq + rcap) */
    uint8_t *rbuf;
    uint32_t rcap;
    uint64_t rd_seq, rcv_nxt;
    uint64_t ack_sent;     /* the last DATA_ACK put on a segment (dss_fit) */
    struct mpx_range *ooo; /* sorted, disjoint; grows (Linux: an rbtree) */
    uint32_t n_ooo, cap_ooo;
    bool rcv_fin; /* DATA_FIN DSN known */
    uint64_t rcv_fin_seq;
    bool fin_in; /* DATA_FIN reached in order */
    struct mpx_sf *sf[MPX_STACK_MAX_SUBFLOWS];
    uint8_t nsf;
    uint8_t next_local_id;
    uint32_t next_sf_id;
    struct mpx_sched sched;
    /* joins asked for before the connection was fully established */
    struct mpx_join_req {
        struct mpx_addr local, remote;
        uint16_t port;
        bool backup;
    } join_req[MPX_STACK_MAX_SUBFLOWS];
    uint8_t n_join_req;
    bool fully_est;
    struct mpx_cc_group ccg; /* coupled congestion control (lia) */
    /* path manager */
    struct mpx_pm_conn pm;
    bool pm_on;
    struct mpx_sig {
        struct mpx_mptcp_opt opt;
        struct mpx_pm_action act;
    } sig[MPX_MSK_SIG];
    uint8_t n_sig;
    uint64_t bytes_sent, bytes_received, bytes_acked, bytes_retrans;
    /* connection-level retransmission (Linux mptcp_retransmit_timer):
     * armed while data is not DATA_ACKed, restarted by DATA_ACK progress */
    /* socket options of the connection (mpx_conn_set_*) */
    bool nodelay, cork, keepalive;
    uint64_t cork_at;            /* TCP_CORK: a held partial segment goes then (0 = none) */
    bool cork_expired;           /* ... and it went: the tail is sendable until gone */
    const struct mpx_cc_ops *cc; /* NULL: the stack's template */
    /* TCP_KEEPIDLE/INTVL (ns), TCP_KEEPCNT, IP_TOS/IPV6_TCLASS, IP_TTL:
     * copied into every subflow (mpx_sf_new) and set on live ones */
    uint64_t keep_idle, keep_intvl;
    uint8_t keep_cnt, tos, ttl;
    bool linger_abort;      /* SO_LINGER {1, 0}: close() is an abort */
    uint64_t user_timeout;  /* TCP_USER_TIMEOUT, ns, 0 = off */
    uint64_t unacked_since; /* ns: when the oldest unacknowledged data was
                             * first outstanding (0 = nothing outstanding) */
    uint64_t rtx_at;        /* 0 = off */
    /* an orphan whose data is all DATA_ACKed is reset (MP_FASTCLOSE) if it
     * is still not closed then (0 = off): mpx_msk_close_timer */
    uint64_t tout_at;
    uint8_t rtx_backoff;
    uint32_t rtx_fired;
    uint64_t retransmits;                    /* reinjection decisions carried out */
    uint64_t last_sent, last_recv, last_ack; /* ns */
    uint8_t sf_total;
};

struct mpx_rst {
    struct mpx_pkt pkt; /* payload NULL */
};

/* What is left of a subflow in TIME_WAIT once its connection is done
 * (Linux inet_timewait_sock): enough to re-ACK a retransmitted FIN, to
 * answer other segments (RFC 9293 section 3.10.7.4) and to judge a new
 * SYN for the tuple (RFC 6191). The msk and the subflow are freed. */
struct mpx_tw {
    struct mpx_tw *hnext;         /* tw_hash chain */
    struct mpx_tw *older, *newer; /* expiry FIFO */
    struct mpx_tcp_tuple tuple;
    uint64_t expire;
    uint32_t snd_nxt, rcv_nxt; /* after both FINs */
    uint32_t ts_recent, ts_offset;
    uint16_t win; /* raw window field of our ACKs */
    uint8_t ipver, tos, ttl;
    bool ts_ok;
};

struct mpx_stack {
    struct mpx_stack_config cfg;
    struct mpx_addr local[MPX_STACK_MAX_ADDRS];
    uint8_t n_local;
    struct mpx_listener {
        struct mpx_addr addr; /* family NONE: every address; zero: every one of its family */
        uint16_t port;
        uint8_t policy; /* enum mpx_ext_policy (unless MPX_LISTEN_HOST_POLICY) */
        uint8_t flags;  /* MPX_LISTEN_* */
    } listen[MPX_STACK_LISTEN];
    uint8_t n_listen;
    struct mpx_token_table tokens;
    /* demux hash, grown with the number of subflows (at 400 connections
     * a second tens of thousands of tuples are alive) */
    struct mpx_sf **hash;
    uint32_t hash_cap, hash_n;  /* cap: a power of two */
    struct mpx_token_table ids; /* connection id -> msk (mpx_stack_find) */
    /* mptcp_timewait.c: TIME_WAIT records of freed connections, in a
     * hash by tuple and a FIFO by expiry (the duration is constant) */
    struct mpx_tw **tw_hash;
    uint32_t tw_cap, tw_n;
    struct mpx_tw *tw_oldest, *tw_newest;
    struct mpx_msk *msks;
    /* mptcp_active.c: the connections the per-step walks visit, and the
     * parked ones by next deadline */
    struct mpx_msk *act;
    struct mpx_msk **heap;
    uint32_t heap_n, heap_cap;
    struct mpx_msk *accq_head, *accq_tail; /* established, not accepted */
    uint32_t next_id;
    uint16_t next_port;
    uint32_t rr;
    uint32_t out_gso; /* mpx_stack_out_gso() */
    struct mpx_stack_event evq[MPX_STACK_EVQ];
    uint16_t ev_head, ev_n;
    uint64_t ev_dropped;
    struct mpx_rst rstq[MPX_STACK_RSTQ];
    uint8_t rst_head, rst_n;
    struct mpx_mptcp_mib mib;
    struct mpx_mptcp_mib mib_pm_gone; /* PM counters of freed connections */
    struct mpx_mptcp_mib mib_view;    /* what mpx_stack_mib() returns */
    struct mpx_tcp_mib tcp_mib_gone;  /* of freed subflows */
    struct mpx_pm_cfg pm;
    uint64_t mib_tw_reused; /* TIME_WAIT tuples taken over by a new SYN */
    /* mptcp_icmp.c */
    struct mpx_icmp_mib icmp_mib;
    struct mpx_ext_cache_ent ext_cache[MPX_EXT_CACHE];
    uint8_t scratch[MPX_MAP_MAX + 1];
};

/* mptcp_stack.c */
void mpx_stack_event_push(struct mpx_stack *st, const struct mpx_stack_event *ev);
void mpx_stack_sub_event(struct mpx_sf *sf, enum mpx_stack_event_type type);
/* |reason| may have MPX_RST_Q_TRANSIENT or'ed in: MP_TCPRST T flag. */
#define MPX_RST_Q_TRANSIENT 0x100
void mpx_stack_queue_rst(struct mpx_stack *st, const struct mpx_pkt *in, int reason);
uint64_t mpx_stack_rand(struct mpx_stack *st);
/* Hash of a tuple (our side); the tables mask it to their size. */
uint32_t mpx_stack_tuple_hash(const struct mpx_tcp_tuple *t);
void mpx_stack_hash_add(struct mpx_stack *st, struct mpx_sf *sf);
void mpx_stack_hash_del(struct mpx_stack *st, struct mpx_sf *sf);
struct mpx_msk *mpx_stack_find(const struct mpx_stack *st, uint32_t id);
/* The subflow of tuple |t| (our side), or NULL. */
struct mpx_sf *mpx_stack_find_sf(const struct mpx_stack *st, const struct mpx_tcp_tuple *t);

/* Open an MP_JOIN subflow (path manager handle |pm_handle|). */
int mpx_stack_open_join(struct mpx_msk *m, const struct mpx_addr *local,
                        const struct mpx_addr *remote, uint16_t port, bool backup, uint8_t local_id,
                        uint32_t pm_handle, uint64_t now);
/* Start the joins queued before the connection was fully established. */
void mpx_stack_start_joins(struct mpx_msk *m, uint64_t now);

/* PREFER: whether E is not to be offered to remote:port at |now|, and
 * remembering a destination that ignored it. */
bool mpx_stack_ext_cached(const struct mpx_stack *st, const struct mpx_addr *a, uint16_t port,
                          uint64_t now);
void mpx_stack_ext_cache_add(struct mpx_stack *st, const struct mpx_addr *a, uint16_t port,
                             uint64_t now);
/* Whether the connection may authenticate (MP_JOIN, ADD_ADDR, PM):
 * RFC 8684 always, E mode once a key is confirmed by both sides. */
bool mpx_msk_can_auth(const struct mpx_msk *m);
/* Erase every external key (connection end). */
void mpx_msk_ext_key_erase(struct mpx_msk *m);

/* mptcp_newkey.c: the external keys' life (NOTES D11-D17) */
/* Key bytes of slot |k| if installed, else NULL. */
const uint8_t *mpx_ek_key(const struct mpx_msk *m, int k, size_t *len);
/* The K our new joins and ADD_ADDR use (a confirmed key), -1 if none. */
int mpx_ek_tx_k(const struct mpx_msk *m);
/* The K for an MP_FASTCLOSE: the confirmed key, else an installed one
 * (an abort is the last word: worth trying), -1 if none. */
int mpx_ek_fastclose_k(const struct mpx_msk *m);
/* A verified option used key K: the peer holds it (D13, D17). */
void mpx_ek_confirm(struct mpx_msk *m, int k, uint64_t now);
/* HMAC-SHA256(Token_snd || Token_rcv, ExtKey_K), "local" = we send
 * (mptcp_keys.c): NEW_KEY and MP_FASTCLOSE values come from it. */
int mpx_ek_token_hmac(const struct mpx_msk *m, int k, bool local, uint8_t out[32]);
/* Install |len| bytes as the first key (K = 0). */
int mpx_ek_install(struct mpx_msk *m, const uint8_t *key, size_t len, uint64_t now);
/* DESIGN decision 6: HKDF(IKM = psk, salt = Token_i || Token_r,
 * info = "mptcpext psk", L = 32), installed as the first key. */
int mpx_ek_install_psk(struct mpx_msk *m, const uint8_t *psk, size_t len, uint64_t now);
int mpx_ek_rotate(struct mpx_msk *m, uint64_t now);
/* NEW_KEY received on |sf|. */
void mpx_ek_rx_new_key(struct mpx_sf *sf, const struct mpx_opt_new_key *nk, uint64_t now);
/* Option hook, pure ACK of an established subflow: NEW_KEY if due. */
void mpx_ek_hook(struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg, struct mpx_tcp_opts *opts);
/* Whether a NEW_KEY waits for a segment (the subflow asks for an ACK). */
bool mpx_ek_tx_pending(const struct mpx_msk *m);
uint64_t mpx_ek_deadline(const struct mpx_msk *m);
void mpx_ek_timer(struct mpx_msk *m, uint64_t now);
/* For mpx_conn_get_info. */
void mpx_ek_info(const struct mpx_msk *m, struct mpx_conn_info *info);
/* explicit_bzero without a syscall: a memset through a volatile pointer
 * the compiler cannot drop. */
void mpx_ek_wipe(void *p, size_t n);

/* mptcp_active.c */
/* The earliest time |m| wants mpx_stack_on_timer(), UINT64_MAX if none. */
uint64_t mpx_msk_deadline(const struct mpx_msk *m);
/* Something happened to |m| (or may have): the next steps visit it. */
void mpx_act_wake(struct mpx_msk *m);
void mpx_act_wake_all(struct mpx_stack *st);
/* |m| has nothing to send: off the list until woken or its deadline. */
void mpx_act_park(struct mpx_msk *m);
void mpx_act_remove(struct mpx_msk *m);
uint64_t mpx_act_heap_min(const struct mpx_stack *st);
/* Wake the parked connections whose deadline is <= now. */
void mpx_act_due(struct mpx_stack *st, uint64_t now);
uint32_t mpx_act_count(const struct mpx_stack *st);
/* The accept queue: a server connection established (mpx_accq_add) until
 * accepted or freed (mpx_accq_del). */
void mpx_accq_add(struct mpx_msk *m);
void mpx_accq_del(struct mpx_msk *m);

/* mptcp_timewait.c */
/* Turn the TIME_WAIT subflows of |m| (closed, no longer the app's) into
 * records and free them; the caller frees |m| once it has no subflow. */
void mpx_tw_take(struct mpx_msk *m, uint64_t now);
/* The record of the 4-tuple of |p| (from the peer), or NULL. */
struct mpx_tw *mpx_tw_lookup(const struct mpx_stack *st, const struct mpx_tcp_tuple *t);
/* A segment for record |tw|: answered, and true; false when it is a SYN
 * that may reuse the tuple (RFC 6191): the record is gone then. */
bool mpx_tw_input(struct mpx_stack *st, struct mpx_tw *tw, const struct mpx_pkt *p, uint64_t now);
/* Drop the record (tuple reused by a connect of ours). */
void mpx_tw_kill(struct mpx_stack *st, struct mpx_tw *tw);
/* Oldest expiry (UINT64_MAX if none) and expiring the records due. */
uint64_t mpx_tw_deadline(const struct mpx_stack *st);
void mpx_tw_expire(struct mpx_stack *st, uint64_t now);
void mpx_tw_free_all(struct mpx_stack *st);

/* mptcp_conn.c */
struct mpx_msk *mpx_msk_new(struct mpx_stack *st, bool server);
void mpx_msk_free(struct mpx_msk *m);
int mpx_msk_set_local_key(struct mpx_msk *m);
void mpx_msk_start_data(struct mpx_msk *m);
void mpx_msk_fallback(struct mpx_msk *m, struct mpx_sf *sf);
void mpx_msk_data_ack(struct mpx_msk *m, uint64_t ack, uint32_t wnd);
/* Receive |len| bytes at |dsn|: returns bytes consumed (dups count). */
uint32_t mpx_msk_rcv_space(const struct mpx_msk *m, uint64_t dsn);
void mpx_msk_rcv_data(struct mpx_msk *m, uint64_t dsn, const uint8_t *p, uint32_t len);
void mpx_msk_rcv_fin(struct mpx_msk *m, uint64_t fin_dsn);
/* The orphan close timeout (tout_at) expired: reset the connection. */
void mpx_msk_close_timer(struct mpx_msk *m, uint64_t now);
/* Whether bytes at |dsn| can be queued now (out-of-order table room). */
bool mpx_msk_ooo_ok(struct mpx_msk *m, uint64_t dsn, uint32_t len);
void mpx_msk_push(struct mpx_msk *m, uint64_t now);
void mpx_msk_check_close(struct mpx_msk *m, uint64_t now);
void mpx_msk_reinject_sf(struct mpx_msk *m, struct mpx_sf *sf);
/* The connection-level retransmission timer (mpx_msk.rtx_at) expired. */
void mpx_msk_rtx_timer(struct mpx_msk *m, uint64_t now);
uint64_t mpx_msk_expand(uint64_t ref, uint64_t v32);
uint64_t mpx_msk_rcv_wnd(const struct mpx_msk *m);

/* mptcp_subflow.c */
struct mpx_sf *mpx_sf_new(struct mpx_msk *m, const struct mpx_tcp_tuple *t, bool client,
                          uint64_t now);
void mpx_sf_free(struct mpx_sf *sf);
int mpx_sf_opt_hook(void *ctx, const struct mpx_tcp_seg_info *seg, struct mpx_tcp_opts *opts,
                    int remaining);
/* Options of an incoming segment, before mpx_tcp_input. Returns false if
 * the segment must not reach the engine (subflow reset). */
bool mpx_sf_rx_options(struct mpx_sf *sf, const struct mpx_pkt *p, uint64_t now);
/* After mpx_tcp_input / timers: events, established, data drain. */
void mpx_sf_process(struct mpx_sf *sf, uint64_t now);
/* Hand |len| bytes at |dsn| to the subflow; returns bytes taken. |*fin|
 * in: the DATA_FIN follows these bytes; out: the mapping carries it. */
uint32_t mpx_sf_push(struct mpx_sf *sf, uint64_t dsn, const uint8_t *p, uint32_t len, bool *fin,
                     uint64_t now);
/* Time the subflow wants mpx_sf_process() for its own timer (MP_CAPABLE
 * ACK repetition), UINT64_MAX if none. */
uint64_t mpx_sf_deadline(const struct mpx_sf *sf);
/* The scheduler's view of |sf| (mptcp_sched.h struct mpx_sched_sf). */
void mpx_sf_snapshot(const struct mpx_sf *sf, struct mpx_sched_sf *out);
bool mpx_sf_usable(const struct mpx_sf *sf);
/* Bytes handed to the engine and not sent even once. */
uint32_t mpx_sf_notsent(const struct mpx_sf *sf);
/* Payload bytes of a full data segment on |sf|. */
uint32_t mpx_sf_unit(const struct mpx_sf *sf);
/* |len| shortened (if it can be) so that pushing [dsn, dsn + len) to
 * |sf| ends its mapping on a segment boundary. */
uint32_t mpx_sf_align(const struct mpx_sf *sf, uint64_t dsn, uint32_t len);
void mpx_sf_reset(struct mpx_sf *sf, uint8_t reason, uint64_t now);
/* The DSN the subflow's own ACKs prove delivered (fallback). */
uint32_t mpx_sf_acked_off(const struct mpx_sf *sf);

/* mptcp_pmio.c */
void mpx_msk_pm_start(struct mpx_msk *m, struct mpx_sf *sf0);
void mpx_msk_pm_fully_established(struct mpx_msk *m, uint64_t now);
void mpx_msk_pm_run(struct mpx_msk *m, uint64_t now);
uint64_t mpx_msk_pm_deadline(const struct mpx_msk *m);
void mpx_msk_pm_timer(struct mpx_msk *m, uint64_t now);
void mpx_msk_pm_mib_add(const struct mpx_msk *m, struct mpx_mptcp_mib *out);
void mpx_sf_hook_signal(struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg,
                        struct mpx_tcp_opts *opts);
void mpx_sf_rx_signal(struct mpx_sf *sf, const struct mpx_mptcp_opt *o, uint64_t now);
void mpx_sf_pm_established(struct mpx_sf *sf, uint64_t now);
void mpx_sf_pm_closed(struct mpx_sf *sf, uint64_t now);
bool mpx_sf_pm_join_ok(struct mpx_sf *sf);

#endif /* MPX_MPTCP_INT_H */
