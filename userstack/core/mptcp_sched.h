/*
 * mptcp_sched.h - the MPTCP packet scheduler: which subflow(s) carry the next
 * bytes of the connection's data stream, and where stranded data is re-sent.
 *
 * A pure decision module like Linux net/mptcp/sched.c (struct
 * mptcp_sched_ops with get_send / get_retrans, registration by name,
 * `net.mptcp.scheduler` / `available_schedulers`). It knows nothing about
 * sockets, packets or buffers: the connection fills a snapshot array of
 * struct mpx_sched_sf (one entry per subflow) and a struct mpx_sched_conn,
 * asks for a decision, carries it out, and asks again:
 *
 *     struct mpx_sched_decision d;
 *     while (mpx_sched_get_send(&msk->sched, &conn, sfs, n, now, &d) > 0) {
 *         for (i = 0; i < d.n; i++)
 *             push [d.dsn, d.dsn + d.len) into subflow sfs[d.sf_idx[i]];
 *         if (d.penalize_idx != MPX_SCHED_NO_IDX)
 *             halve that subflow's cwnd (see "penalisation" below);
 *         mpx_sched_commit(&conn, sfs, n, &d);   // or re-take the snapshot
 *     }
 *
 * Call it after every event that can open space: an ACK on any subflow, a
 * DATA_ACK or window update, an application write, a subflow becoming
 * established / changing priority, a timer. A decision is binding: the
 * scheduler may have recorded it in its state (round-robin turn,
 * opportunistic-retransmission progress), so carry it out before asking
 * again. Stranded data (a subflow failed or went stale) is offered first,
 * range by range, to mpx_sched_get_retrans().
 *
 * Space rule (all schedulers): a subflow "has space" when
 *     space = min(cwnd - in_flight - notsent,        congestion window
 *                 snd_wnd - unacked - notsent,       peer's window
 *                 sndbuf_space)                      subflow send buffer
 * is at least one MSS (or all the data that may be sent, if less). New data
 * is bound to a subflow only when it can be transmitted at once: unlike
 * Linux, which queues up to a 64 KB burst into the subflow's write queue
 * (sk_wmem_queued), nothing waits in a slow subflow's buffer while a fast
 * subflow could take it ("late binding"; lab.md: the kernel keeps 64 KB on a
 * 100 ms path while a 10 ms path is up). Every decision for new data is also
 * bounded by the connection-level window (RFC 8684 §3.3.4: the right edge is
 * DATA_ACK + receive window, shared by all subflows), the unsent bytes and
 * params.burst_max.
 *
 * Subflow classes (RFC 8684 §3.3.8: a backup subflow is used only when no
 * regular one is usable): a usable subflow is established, not failed and,
 * after fallback (§3.7), marked fallback_ok. Among usable subflows the
 * scheduler takes the first non-empty tier of
 *     1. non-backup, not stale;  2. backup, not stale;  3. stale (any);
 * so a healthy backup is preferred over a stale regular subflow (as Linux:
 * mptcp_subflow_active() excludes stale subflows and the backup is picked
 * when nr_active == 0), and stale subflows still carry data when nothing
 * else is left (they may come back). A usable subflow of the chosen tier
 * that merely lacks space does not let a lower tier send: the scheduler
 * waits for its ACK clock.
 *
 * Schedulers:
 *  - "default": earliest arrival (ECF-like, Lim et al., "ECF: An MPTCP Path
 *    Scheduler to Manage Heterogeneous Paths", CoNEXT 2017; the BLEST idea
 *    cited in Linux's mptcp_subflow_get_send()). For subflow i with rate
 *    R_i = cwnd_i / srtt_i, a chunk of L bytes would arrive after
 *        wait_i(L) + srtt_i / 2,
 *        wait_i(L) = max(0, in_flight_i + notsent_i + L - cwnd_i) / R_i
 *    (time until its cwnd admits the chunk, then one-way delay). Among the
 *    subflows with space it picks the lowest arrival (so: the lowest srtt
 *    with space, like Linux's lowest "linger time"); if a subflow without
 *    space would deliver earlier, it sends on the slower one only if the
 *    faster ones could not deliver the whole sendable backlog
 *    B = min(unsent, connection window space) before the slower one
 *    delivers this chunk (ECF's inequality, summed over all faster
 *    subflows, counting one cwnd per srtt and the cwnd doubling per round
 *    in slow start unless srtt already shows a queue, srtt >= 5/4 min_rtt,
 *    i.e. cwnd is past the path's BDP), and then gives it only the part of
 *    B they could not
 *    deliver in time; otherwise it waits (params.ecf = false turns this
 *    off: lowest srtt among the subflows with space, close to Linux). A faster
 *    subflow with nothing in flight is not waited for (no ACK would call
 *    the connection back). Because B is capped by the connection
 *    window, a nearly exhausted window keeps data off the slow path
 *    (lab.md: "ignoring the shared receive window when choosing the path").
 *    When the window is exhausted it does opportunistic retransmission with
 *    penalisation (below).
 *  - "redundant": every usable subflow of the tier gets the same DSN range
 *    (like the mptcp_net-next bpf_red): the range is sized by the best
 *    subflow with cwnd space and also given to every other usable subflow
 *    whose send buffer can take it (they send it when their cwnd allows).
 *  - "roundrobin": by segments: each turn gives one MSS-sized chunk (or the
 *    rest) to the next usable subflow after the previous turn's, by array
 *    order; a subflow without space loses its turn (work-conserving).
 *
 * Opportunistic retransmission and penalisation (default scheduler), after
 * the out-of-tree multipath-tcp.org kernel's mptcp_rcv_buf_optimization()
 * (net/mptcp/mptcp_sched.c; Raiciu et al., "How Hard Can It Be? Designing
 * and Implementing a Deployable Multipath TCP", NSDI 2012, §4.2): when data
 * is waiting but the connection-level window is exhausted, the bytes at
 * DATA_ACK (conn.snd_una) that block it sit on subflow h (conn.head_sf_id,
 * conn.head_len bytes). If a faster usable subflow f (srtt_f < srtt_h) has
 * space, the decision is MPX_SCHED_REINJECT of [snd_una, snd_una + head_len)
 * (never the same bytes twice) on f, and, when h's rate estimate cwnd/srtt
 * is below f's and h was not penalised during the last srtt_h,
 * penalize_idx = h: the caller halves h's cwnd and sets its ssthresh to the
 * new cwnd (at least 2 MSS), as that kernel does, so h takes less of the
 * shared window.
 *
 * Reinjection (mpx_sched_get_retrans): data of a failed or stale subflow is
 * sent again on the usable subflow (other than its source) of the best tier
 * with the earliest arrival; it waits if that subflow has no space yet. It
 * never goes back to the source subflow (its own TCP retransmits there). A
 * stale subflow's data is reinjected as soon as mpx_sched_sf_stale() says
 * so; Linux waits for stale_loss_cnt (4) RTO retransmissions on the subflow
 * (pm.c mptcp_pm_subflows_chk_stale) or the msk retransmit timer, which
 * costs 230-330 ms when a path dies (lab.md); here the target is at most
 * one RTO of the failed path.
 *
 * Stale rule (mpx_sched_sf_stale): subflow i is stale when it is usable and
 * has data outstanding (unacked > 0) and
 *    (a) an RTO fired on it without progress since (rto_backoff > 0), or
 *    (b) no ACK progress for T = max(params.stale_min_ns,
 *                                    params.stale_rtt_mult * srtt + 4 * rttvar),
 *        raised to params.delack_ns when at most one MSS is outstanding
 *        (the peer may legitimately delay the ACK of a lone segment,
 *        RFC 9293 §3.8.6.3; Linux delays up to 200 ms),
 * and some other usable subflow is not stale by the same rule (marking the
 * only path stale would gain nothing; Linux also requires an alternative).
 * last_ack_ns must be the time of the last forward progress: the last ACK
 * that advanced snd_una (or SACKed new data), or the time data was first
 * sent after the subflow had nothing outstanding. Defaults (100 ms floor,
 * 2 srtt + 4 rttvar) detect a dead path in about one RTO of that path or
 * sooner. The helper is memoryless: a subflow stops being stale as soon as
 * it progresses again; the connection keeps its own flag to count
 * SubflowStale / SubflowRecover and to reinject only once.
 *
 * Pure: no clock (now comes in, ns), no globals but the const ops tables, no
 * floating point. Time arithmetic is in 64-bit nanoseconds with saturating
 * multiply-divide.
 */
#ifndef MPX_MPTCP_SCHED_H
#define MPX_MPTCP_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Subflows per connection a decision can name (Linux MPTCP_SUBFLOWS_MAX 8;
 * a few more for subflows being torn down while new ones join). */
#define MPX_SCHED_SF_MAX 16
#define MPX_SCHED_NO_IDX UINT32_MAX
#define MPX_SCHED_NO_ID  UINT32_MAX
/* Linux MPTCP_SEND_BURST_SIZE: at most this much per decision. */
#define MPX_SCHED_BURST_DEFAULT 65428u
/* RTT assumed for a subflow without a sample when no other subflow has one
 * (with one: twice the largest known srtt). */
#define MPX_SCHED_RTT_DEFAULT_NS 100000000ull

/* One subflow as the scheduler sees it; filled by the connection. From
 * struct mpx_tcp_info: srtt/rttvar/min_rtt (us * 1000), mss = snd_mss, cwnd =
 * snd_cwnd, ssthresh = snd_ssthresh, in_flight = unacked - sacked - lost + retrans (Linux
 * tcp_packets_in_flight), unacked, notsent = notsent_bytes, snd_wnd,
 * sndbuf_space = snd_buf - mpx_tcp_send_queued(), rto_backoff = backoff.
 * last_ack_ns is NOT info.last_ack_recv_ns: the connection keeps it (set
 * it to now when an ACK advances snd_una and when data is pushed into a
 * subflow whose unacked is 0), otherwise a subflow idle for a while looks
 * stale the moment it sends again. */
struct mpx_sched_sf {
    uint32_t id;      /* connection's subflow id (stable across calls) */
    bool established; /* MPTCP-established and may carry data (not closing) */
    bool failed;      /* reset / closed / removed: never send on it */
    bool backup;      /* backup priority, ours or the peer's (RFC 8684 §3.3.8) */
    bool stale;       /* the connection marked it stale (mpx_sched_sf_stale) */
    bool fallback_ok; /* after fallback (§3.7), the one subflow that carries data */
    uint64_t srtt_ns; /* RFC 6298 SRTT, 0 = no sample yet */
    uint64_t rttvar_ns;
    uint64_t min_rtt_ns;   /* 0 = unknown; srtt >= 5/4 of it: queue, no growth */
    uint32_t mss;          /* sender MSS, payload bytes per segment */
    uint32_t cwnd;         /* bytes */
    uint32_t ssthresh;     /* bytes; cwnd below it doubles per RTT; 0 = unknown */
    uint32_t in_flight;    /* bytes counted against cwnd (Linux packets_in_flight) */
    uint32_t unacked;      /* bytes sent, not cumulatively ACKed (snd_nxt - snd_una) */
    uint32_t notsent;      /* bytes queued in the subflow, not yet sent */
    uint32_t snd_wnd;      /* peer's window on this subflow, from its snd_una */
    uint32_t sndbuf_space; /* bytes the subflow's send buffer takes now */
    uint32_t rto_backoff;  /* RTOs fired since the last forward progress */
    uint64_t last_ack_ns;  /* time of the last forward progress (see above) */
};

/* The connection-level facts (DSNs are 64-bit, RFC 8684 §3.3.1). */
struct mpx_sched_conn {
    uint64_t snd_una;          /* DATA_ACK received: oldest unacknowledged DSN */
    uint64_t snd_nxt;          /* next new DSN to send */
    uint64_t peer_rcv_wnd_end; /* DATA_ACK + peer's window (RFC 8684 §3.3.4) */
    uint64_t pending;          /* unsent bytes in the send buffer from snd_nxt */
    uint32_t head_sf_id;       /* subflow whose unacked data starts at snd_una, or NO_ID */
    uint32_t head_len;         /* bytes from snd_una contiguous on that subflow */
    bool fallback;             /* fell back to TCP (§3.7): fallback_ok subflows only */
};

enum mpx_sched_action {
    MPX_SCHED_NONE = 0,     /* nothing to do now */
    MPX_SCHED_NEW = 1,      /* new data [snd_nxt, snd_nxt + len) */
    MPX_SCHED_REINJECT = 2, /* data already sent elsewhere, sent again */
};

struct mpx_sched_decision {
    uint8_t action;                    /* enum mpx_sched_action */
    uint64_t dsn;                      /* first byte of the range */
    uint32_t len;                      /* bytes, > 0 unless NONE */
    uint32_t n;                        /* subflows in sf_idx[] (redundant: several) */
    uint32_t sf_idx[MPX_SCHED_SF_MAX]; /* indices into the snapshot array */
    uint32_t penalize_idx;             /* subflow whose cwnd to halve, or MPX_SCHED_NO_IDX */
};

/* A range of stranded data to re-send (get_retrans). */
struct mpx_sched_retrans_req {
    uint32_t from_idx; /* subflow it was sent on (index), or MPX_SCHED_NO_IDX */
    uint64_t dsn;
    uint32_t len;
};

struct mpx_sched_params {
    uint32_t burst_max;      /* bytes per decision (default 65428) */
    uint64_t stale_min_ns;   /* stale rule floor (default 100 ms) */
    uint32_t stale_rtt_mult; /* stale rule: srtt multiplier (default 2) */
    uint64_t delack_ns;      /* stale rule with <= 1 MSS outstanding (200 ms) */
    bool ecf;                /* default: wait for faster subflows (on); off = lowest
                              * srtt among the subflows with space, like Linux */
    bool oppo_retrans;       /* default: opportunistic retransmission (on) */
    bool penalize;           /* default: penalisation with it (on) */
};

struct mpx_sched_penalty {
    uint32_t id;      /* subflow id, MPX_SCHED_NO_ID = free slot */
    uint64_t last_ns; /* time of its last penalisation */
};

/* Per-connection private state of the schedulers (caller-owned). */
struct mpx_sched_default_state {
    uint64_t oppo_end; /* DSN up to which the window head was re-sent */
    struct mpx_sched_penalty pen[MPX_SCHED_SF_MAX];
};
struct mpx_sched_rr_state {
    uint32_t last_id; /* subflow that had the last turn, NO_ID = none */
};
union mpx_sched_state {
    struct mpx_sched_default_state def;
    struct mpx_sched_rr_state rr;
};

struct mpx_sched;

/* One scheduler. Both calls return 1 with a decision, 0 with nothing to do
 * now (d->action == MPX_SCHED_NONE), or a negative MPX_ERR_*. Inputs are
 * already validated by mpx_sched_get_send() / mpx_sched_get_retrans(). */
struct mpx_sched_ops {
    const char *name; /* "default", "redundant", "roundrobin" */
    int (*get_send)(struct mpx_sched *s, const struct mpx_sched_conn *c,
                    const struct mpx_sched_sf *sf, uint32_t n, uint64_t now,
                    struct mpx_sched_decision *d);
    /* NULL = the common reinjection policy (mpx_sched_retrans_default). */
    int (*get_retrans)(struct mpx_sched *s, const struct mpx_sched_conn *c,
                       const struct mpx_sched_sf *sf, uint32_t n,
                       const struct mpx_sched_retrans_req *req, uint64_t now,
                       struct mpx_sched_decision *d);
};

/* The scheduler of one connection (embedded in it). */
struct mpx_sched {
    const struct mpx_sched_ops *ops;
    struct mpx_sched_params params;
    union mpx_sched_state st;
};

extern const struct mpx_sched_ops mpx_sched_default_ops;
extern const struct mpx_sched_ops mpx_sched_redundant_ops;
extern const struct mpx_sched_ops mpx_sched_roundrobin_ops;

/* Scheduler by name (net.mptcp.scheduler); NULL if unknown. */
const struct mpx_sched_ops *mpx_sched_find(const char *name);
/* The default scheduler ("default"). */
const struct mpx_sched_ops *mpx_sched_default(void);
/* The i-th registered scheduler (0..), NULL past the end. */
const struct mpx_sched_ops *mpx_sched_at(size_t i);
/* available_schedulers: names separated by one space, NUL-terminated in
 * |buf|. Returns the string length, or MPX_ERR_NOBUF if |cap| is too small
 * (buf then holds as many whole names as fit). */
int mpx_sched_available(char *buf, size_t cap);

void mpx_sched_params_default(struct mpx_sched_params *p);
/* Set up |s| with |ops| (NULL = default) and default params. */
void mpx_sched_init(struct mpx_sched *s, const struct mpx_sched_ops *ops);
/* Change the scheduler of a live connection: params kept, state reset. */
void mpx_sched_switch(struct mpx_sched *s, const struct mpx_sched_ops *ops);

/* Next data to send (see the top of this file). MPX_ERR_INVAL for NULL
 * pointers or n > MPX_SCHED_SF_MAX. */
int mpx_sched_get_send(struct mpx_sched *s, const struct mpx_sched_conn *c,
                       const struct mpx_sched_sf *sf, uint32_t n, uint64_t now,
                       struct mpx_sched_decision *d);
/* Where to re-send the stranded range |req| now (action REINJECT, len <=
 * req->len), or 0 to wait. MPX_ERR_INVAL also for req->len == 0 or a
 * from_idx out of range. */
int mpx_sched_get_retrans(struct mpx_sched *s, const struct mpx_sched_conn *c,
                          const struct mpx_sched_sf *sf, uint32_t n,
                          const struct mpx_sched_retrans_req *req, uint64_t now,
                          struct mpx_sched_decision *d);
/* The common reinjection policy (usable as ops->get_retrans). */
int mpx_sched_retrans_default(struct mpx_sched *s, const struct mpx_sched_conn *c,
                              const struct mpx_sched_sf *sf, uint32_t n,
                              const struct mpx_sched_retrans_req *req, uint64_t now,
                              struct mpx_sched_decision *d);

/* Update the snapshot as if |d| had been carried out: snd_nxt and pending
 * for new data; notsent and sndbuf_space of each chosen subflow (the bytes
 * are queued there; the engine sends them as soon as its cwnd allows). */
void mpx_sched_commit(struct mpx_sched_conn *c, struct mpx_sched_sf *sf, uint32_t n,
                      const struct mpx_sched_decision *d);

/* Bytes subflow |s| can take now (the space rule above, without the
 * one-MSS threshold); 0 if it is failed or not established. */
uint32_t mpx_sched_sf_space(const struct mpx_sched_sf *s);
/* The stale rule above for sf[idx] at |now|. */
bool mpx_sched_sf_stale(const struct mpx_sched_sf *sf, uint32_t n, uint32_t idx,
                        const struct mpx_sched_params *p, uint64_t now);

#endif /* MPX_MPTCP_SCHED_H */
