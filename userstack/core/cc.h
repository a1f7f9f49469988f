/*
 * cc.h - congestion control of one TCP connection (one MPTCP subflow).
 *
 * The TCP engine owns a struct mpx_cc per connection and reports events to it
 * through the mpx_cc_on_*() calls below; it reads cc->cwnd and cc->ssthresh
 * (bytes) back when it decides what to send. The algorithm is a const table of
 * function pointers (struct mpx_cc_ops) found by name with mpx_cc_find(), as
 * for Linux's TCP_CONGESTION socket option.
 *
 * Division of work with the engine (tcp.c):
 *  - the engine detects loss (dupacks/SACK/RACK), runs fast recovery and its
 *    sending rule (e.g. PRR, RFC 6937) and the RTO timer; it calls
 *    mpx_cc_on_congestion() once per recovery episode (RFC 5681 §3.2 step 2,
 *    RFC 6582 §3.2; also for an ECN echo, RFC 3168 §6.1.2, once per
 *    window), mpx_cc_on_recovery_exit() when the recovery point is ACKed,
 *    and mpx_cc_on_rto() on every retransmission timeout. Extra calls are
 *    harmless: on_congestion during a recovery, or after an RTO before new
 *    data is ACKed (the window is already the loss window; RFC 6582 §4),
 *    does nothing;
 *  - this module only decides cwnd and ssthresh. While in recovery cwnd does
 *    not grow (RFC 6582: cwnd is set to ssthresh when recovery ends, so no
 *    growth happens during it); growth resumes after mpx_cc_on_recovery_exit().
 *  - spurious-loss undo (RFC 9438 §4.9, Eifel RFC 3522 / F-RTO RFC 5682): the
 *    engine calls mpx_cc_on_spurious() when it learns the last reduction was
 *    not needed; the state saved at that reduction is put back, whatever the
 *    algorithm.
 *
 * What the engine should put in struct mpx_cc_ack: acked and app_limited
 * drive growth; srtt is CUBIC's "RTT" (RFC 9438 §4.2) and LIA's rtt_i;
 * rtt and in_flight feed HyStart++ (RFC 9406) in cubic's first slow start
 * (without them it is plain slow start). app_limited should follow Linux's
 * tcp_is_cwnd_limited(): the sender is cwnd-limited if, since the last
 * ACK, it had as much in flight as cwnd allowed (in slow start: at least
 * half of cwnd) and was stopped by cwnd rather than by lack of data or the
 * peer's window.
 *
 * Pure: no clock (now comes in, nanoseconds), no globals but the const ops
 * tables, no floating point and no 128-bit division (CUBIC and LIA use
 * 128-bit products and bisection; results are bit-identical on every build).
 *
 * Bounds: cwnd stays within [1 MSS, MPX_CC_CWND_MAX]; 1 MSS is the RFC 5681
 * §3.1 loss window after an RTO; a loss reduction never goes below 2 MSS,
 * nor ssthresh.
 *
 * Coupling (MPTCP, RFC 6356 "lia"): the subflows of one MPTCP connection
 * share a struct mpx_cc_group (owned by the MPTCP connection; each subflow
 * joins with mpx_cc_group_join() and leaves before it is freed). On an ACK
 * in congestion avoidance on subflow i, lia's on_ack walks group->members[]
 * and, over the members j that have an RTT (cc->srtt != 0), uses cwnd_j
 * (bytes) and srtt_j as RFC 6356 §3 says:
 *     cwnd_total = sum_j cwnd_j
 *     alpha      = cwnd_total * max_j(cwnd_j / srtt_j^2) / (sum_j cwnd_j / srtt_j)^2
 *     cwnd_i    += min(alpha * bytes_acked * MSS_i / cwnd_total,
 *                      bytes_acked * MSS_i / cwnd_i)
 * which is Reno's byte counting with "one MSS per W bytes ACKed" where
 * W = max(cwnd_i, cwnd_total / alpha) (mpx_cc_lia_window()). Slow start,
 * loss and RTO are Reno's (RFC 6356 §3 changes only the increase). A cc with
 * group == NULL, or alone in its group, behaves exactly as reno. The srtt
 * that lia needs is the one the engine passes in each struct mpx_cc_ack;
 * mpx_cc_on_ack() records it in cc->srtt for every algorithm, so members are
 * comparable whatever their phase.
 */
#ifndef MPX_CC_H
#define MPX_CC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest cwnd and "no threshold yet": 1 GiB keeps every byte sum in a
 * uint32_t with room to spare. */
#define MPX_CC_CWND_MAX     (1u << 30)
#define MPX_CC_SSTHRESH_INF UINT32_MAX
/* MPTCP allows few subflows per connection (Linux: 8). */
#define MPX_CC_GROUP_MAX 8

struct mpx_cc;

/* What one ACK told the sender; filled in by the TCP engine. */
struct mpx_cc_ack {
    uint64_t now;       /* ns */
    uint32_t acked;     /* bytes newly acknowledged (cumulative + newly SACKed) */
    uint32_t in_flight; /* bytes in flight before this ACK */
    uint64_t rtt;       /* RTT sample of this ACK in ns, 0 if none */
    uint64_t srtt;      /* engine's smoothed RTT (RFC 6298) in ns, 0 if none yet */
    uint64_t min_rtt;   /* ns, 0 if unknown (not used yet: for delay-based cc) */
    bool app_limited;   /* sender was not cwnd-limited: do not grow (RFC 7661) */
};

/* One algorithm. The engine does not call these directly: use mpx_cc_on_*(),
 * which do the bookkeeping common to every algorithm first. */
struct mpx_cc_ops {
    const char *name; /* "reno", "cubic", "lia" */
    /* Reset the algorithm's private state; cwnd/ssthresh are already set. */
    void (*init)(struct mpx_cc *cc, uint64_t now);
    /* Grow cwnd (called only outside recovery, with acked > 0). */
    void (*on_ack)(struct mpx_cc *cc, const struct mpx_cc_ack *a);
    /* Loss detected: set ssthresh and cwnd for the recovery. */
    void (*on_congestion)(struct mpx_cc *cc, uint64_t now, uint32_t in_flight);
    /* Recovery ended (may be NULL). */
    void (*on_recovery_exit)(struct mpx_cc *cc, uint64_t now);
    /* Retransmission timeout; |first| is false for a repeated timeout of the
     * same data, where RFC 5681 §3.1 holds ssthresh constant. */
    void (*on_rto)(struct mpx_cc *cc, uint64_t now, uint32_t in_flight, bool first);
};

struct mpx_cc_reno {
    uint32_t ca_acked; /* RFC 3465 §2.1 bytes_acked accumulator in CA */
};

/* HyStart state: RFC 9406's delay-increase detection, Linux's exit
 * (cc_hystart.c). */
enum mpx_cc_hystart_state {
    MPX_HYSTART_SS = 0,  /* slow start, watching the RTT */
    MPX_HYSTART_OFF = 2, /* done, or not used (after the first loss) */
};

struct mpx_cc_hystart {
    uint64_t last_round_min_rtt; /* ns, 0 = none */
    uint64_t cur_round_min_rtt;  /* ns, 0 = none */
    uint32_t round_left;         /* bytes to be ACKed before the round ends */
    uint32_t rtt_samples;        /* in the current round */
    uint8_t state;               /* enum mpx_cc_hystart_state */
    bool round_started;
};

struct mpx_cc_cubic {
    uint64_t epoch_start; /* ns; 0 = no epoch (next CA ACK starts one) */
    uint64_t last_ack;    /* ns of the last ACK seen, for app-limited time */
    uint64_t k;           /* K, in units of 2^-20 s (see cc_cubic.c) */
    uint32_t w_max;       /* bytes, RFC 9438 W_max */
    uint32_t cwnd_epoch;  /* bytes, cwnd at the start of the epoch */
    uint32_t cwnd_prior;  /* bytes, cwnd before the last reduction */
    uint32_t w_est;       /* bytes, RFC 9438 §4.3 Reno-friendly estimate */
    uint64_t est_acc;     /* remainder of the W_est growth division */
    uint64_t grow_acc;    /* remainder of the cwnd growth division */
    bool after_rto;       /* §4.8: first CA after RTO uses K = 0 */
    struct mpx_cc_hystart hystart;
};

union mpx_cc_priv {
    struct mpx_cc_reno reno;
    struct mpx_cc_cubic cubic;
    /* lia keeps reno's state (its increase is reno's, re-paced). */
};

/* Coupled subflows of one MPTCP connection; owned by the caller (the MPTCP
 * connection). members[] holds pointers to the subflows' struct mpx_cc. */
struct mpx_cc_group {
    struct mpx_cc *members[MPX_CC_GROUP_MAX];
    uint32_t n;
};

struct mpx_cc {
    const struct mpx_cc_ops *ops;
    uint32_t mss;      /* bytes, sender MSS */
    uint32_t cwnd;     /* bytes */
    uint32_t ssthresh; /* bytes, MPX_CC_SSTHRESH_INF until the first loss */
    uint64_t srtt;     /* ns, last srtt given by the engine (for coupling) */
    bool in_recovery;  /* between on_congestion and on_recovery_exit */
    bool in_loss;      /* after an RTO, until new data is ACKed */
    bool undo_valid;   /* undo_* hold the state before the last reduction */
    uint32_t undo_cwnd, undo_ssthresh;
    union mpx_cc_priv undo_priv;
    struct mpx_cc_group *group; /* NULL or the coupled set this cc is in */
    union mpx_cc_priv u;        /* the algorithm's state */
    /* Counters for observability (TCP_INFO-like). */
    uint32_t n_congestion, n_rto, n_undo;
};

extern const struct mpx_cc_ops mpx_cc_reno;
extern const struct mpx_cc_ops mpx_cc_cubic;
extern const struct mpx_cc_ops mpx_cc_lia;

/* Algorithm by name ("reno", "cubic", "lia"); NULL if unknown. */
const struct mpx_cc_ops *mpx_cc_find(const char *name);
/* The default algorithm (cubic, as Linux). */
const struct mpx_cc_ops *mpx_cc_default(void);

/* RFC 6928 initial window for |mss|: min(10*MSS, max(2*MSS, 14600)). */
uint32_t mpx_cc_initial_window(uint32_t mss);

/* Set up |cc| (zeroes it; group = NULL): cwnd = IW, ssthresh = infinite.
 * ops NULL means the default. mss 0 is treated as 536 (RFC 9293 default). */
void mpx_cc_init(struct mpx_cc *cc, const struct mpx_cc_ops *ops, uint32_t mss, uint64_t now);
/* Change the algorithm of a live connection (TCP_CONGESTION): keeps cwnd and
 * ssthresh, resets the algorithm state. */
void mpx_cc_switch(struct mpx_cc *cc, const struct mpx_cc_ops *ops, uint64_t now);
/* MSS changed (PMTU); cwnd is kept in bytes but re-bounded. */
void mpx_cc_set_mss(struct mpx_cc *cc, uint32_t mss);

void mpx_cc_on_ack(struct mpx_cc *cc, const struct mpx_cc_ack *a);
/* Loss detected by dupacks/SACK/RACK; call once per recovery episode. */
void mpx_cc_on_congestion(struct mpx_cc *cc, uint64_t now, uint32_t in_flight);
void mpx_cc_on_recovery_exit(struct mpx_cc *cc, uint64_t now);
/* Retransmission timeout (each one; repeated ones keep ssthresh). */
void mpx_cc_on_rto(struct mpx_cc *cc, uint64_t now, uint32_t in_flight);
/* The last reduction was spurious: restore the state saved at it. Returns
 * true if something was restored. */
bool mpx_cc_on_spurious(struct mpx_cc *cc, uint64_t now);

static inline bool mpx_cc_in_slow_start(const struct mpx_cc *cc)
{
    return cc->cwnd < cc->ssthresh;
}

/* Coupling. join: 0, or MPX_ERR_NOSPACE (group full) / MPX_ERR_EXIST (cc is
 * already in a group). leave: safe if cc is in no group. A cc must leave its
 * group before it is freed. */
int mpx_cc_group_join(struct mpx_cc_group *g, struct mpx_cc *cc);
void mpx_cc_group_leave(struct mpx_cc *cc);
/* lia: the bytes that must be ACKed on |cc| for its cwnd to grow by one MSS
 * in congestion avoidance, max(cwnd, cwnd_total / alpha) (RFC 6356 §3);
 * cwnd itself when uncoupled. Also useful to show how coupled a subflow is. */
uint32_t mpx_cc_lia_window(const struct mpx_cc *cc);

/* --- for algorithm implementations (cc_*.c) --------------------------- */

/* RFC 3465 §2.2 limit L on the slow-start increase per ACK, in MSS. */
#define MPX_CC_ABC_L 2

/* Slow start with Appropriate Byte Counting: cwnd += min(acked, L*MSS), not
 * past ssthresh. Returns the ACKed bytes left over for congestion avoidance
 * when ssthresh was crossed (0 if none). */
uint32_t mpx_cc_slow_start(struct mpx_cc *cc, uint32_t acked);
/* Slow start with HyStart++ (RFC 9406) while h->state is not OFF: like
 * mpx_cc_slow_start, but it may switch to Conservative Slow Start (a
 * quarter of the growth) when the RTT of a round rises, and end slow start
 * (ssthresh = cwnd) after CSS_ROUNDS rounds of CSS. Rounds are counted in
 * bytes from a->in_flight (a round ends once the bytes outstanding at its
 * start are ACKed, RFC 9406 §4.2 "windowEnd"); without RTT samples or
 * in_flight it never leaves slow start early. */
void mpx_cc_hystart_init(struct mpx_cc_hystart *h);
uint32_t mpx_cc_hystart_slow_start(struct mpx_cc *cc, struct mpx_cc_hystart *h,
                                   const struct mpx_cc_ack *a);
/* Reno congestion avoidance, RFC 5681 eq. 3 done by byte counting (RFC 3465
 * §2.1): *acc collects ACKed bytes; each full cwnd of them adds one MSS. */
void mpx_cc_reno_avoid(struct mpx_cc *cc, uint32_t *acc, uint32_t acked);

#endif /* MPX_CC_H */
