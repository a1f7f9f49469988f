/*
 * simnet.h - a deterministic simulated IP network on a virtual clock.
 *
 * This is the test "I/O backend" (DESIGN.md "How it is tested"): engine
 * instances are hooked in as nodes and exchange whole IP packets over links
 * with configurable delay, jitter, loss, bursty loss, rate limit and queue,
 * reordering, duplication, blackouts and up/down state. Nothing reads the
 * real clock: time is a uint64_t nanosecond counter that only moves when
 * events are processed. All randomness comes from one uint64_t seed, so a
 * run is reproducible bit for bit.
 *
 * Model
 * - A node is an index returned by mpx_sim_node_add(), driven through a
 *   small ops struct (receive a packet, report its next timer deadline,
 *   handle a timer). It sends with mpx_sim_send().
 * - A link joins (node A, address a) <-> (node B, address b); a node's
 *   addresses are the ends of its links. Several links between the same two
 *   nodes are several paths. A packet sent by node X is routed by its
 *   (source, destination) address pair: it takes the link whose X-side
 *   address is the source and whose far-side address is the destination.
 *   No match: dropped and counted in mpx_sim_stats.drop_noroute.
 * - Each direction of a link (MPX_SIM_AB = A to B, MPX_SIM_BA = B to A) has
 *   its own struct mpx_sim_dir_cfg and its own counters and PRNG stream
 *   (seeded from the sim seed, link index and direction, so changing one
 *   link's settings does not perturb the random draws of another).
 *
 * What happens to a packet offered to a link direction, in order:
 *   1. link down, or now inside a blackout window: dropped (drop_down /
 *      drop_blackout);
 *   2. rate limit: it joins the FIFO in front of the serializer; if the
 *      bytes not yet serialized (the packet on the wire included) plus
 *      this packet exceed queue_bytes it is tail-dropped (drop_queue).
 *      Serialization takes ceil(len * 8e9 / rate_bps) ns, back to back;
 *   3. loss on the wire: Gilbert-Elliott (drop_burst) then independent
 *      random loss (drop_loss). Lost packets did use the serializer;
 *   4. arrival = end of serialization + delay + uniform jitter in
 *      [0, jitter_ns], clamped to be no earlier than the previous arrival
 *      on that direction (so jitter does not reorder) unless jitter_reorders;
 *   5. reordering: with probability reorder_prob the packet is held back
 *      and released right after the reorder_depth-th packet sent after it
 *      on the same direction is delivered, or at arrival + reorder_delay_ns,
 *      whichever comes first (depth 0: only the delay; delay 0: the delay
 *      defaults to MPX_SIM_REORDER_MAX_HOLD_NS so it is never held forever);
 *   6. duplication: with probability dup_prob a copy arrives at the
 *      original's normal arrival time, just after it in FIFO order;
 *   7. at arrival it is dropped if the link went down at any time since it
 *      was sent (drop_down), or if a blackout window overlaps its time on
 *      the link, i.e. start <= arrival and end > send time (drop_blackout);
 *      otherwise it is delivered to the far node's recv().
 *
 * Events are kept in a binary heap keyed by (time, sequence number): events
 * at equal times run in the order they were scheduled. Node timers: after
 * every event delivered to a node (and after the node sends outside a
 * callback, and on mpx_sim_node_kick()) the sim asks next_deadline() and
 * calls on_timer() when virtual time reaches it.
 *
 * Packet buffers are pooled: no malloc per packet in steady state.
 * Not thread-safe; one sim per thread.
 */
#ifndef MPX_SIMNET_H
#define MPX_SIMNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_addr.h"

struct mpx_pcap;
struct mpx_sim;

#define MPX_SIM_NEVER   UINT64_MAX /* "no deadline" */
#define MPX_SIM_MAX_PKT 65575u     /* largest packet mpx_sim_send accepts (IPv6 + 65535) */
/* Upper bound on how long a reordered packet is held when reorder_delay_ns
 * is 0 and not enough later packets come to release it. */
#define MPX_SIM_REORDER_MAX_HOLD_NS 50000000ull
/* A node whose on_timer() leaves its deadline at or before now this many
 * times in a row at the same instant has its timer disarmed (counted in
 * mpx_sim_stats.timer_spins) until its next event or kick, so a buggy
 * engine cannot hang the simulation. */
#define MPX_SIM_TIMER_SPIN_LIMIT 10000u

enum mpx_sim_dir {
    MPX_SIM_AB = 0,   /* from the link's node A to node B */
    MPX_SIM_BA = 1,   /* from node B to node A */
    MPX_SIM_BOTH = 2, /* setters only: both directions */
};

/*
 * How a node is driven. Every callback is optional (NULL). |ctx| is the
 * owner's pointer given to mpx_sim_node_add/set_ops. Callbacks may call
 * mpx_sim_send(), mpx_sim_at() and the link setters; they must not call
 * the run functions or mpx_sim_del().
 */
struct mpx_sim_node_ops {
    /* A packet arrived for |node|. |pkt| is borrowed for the call. */
    void (*recv)(void *ctx, struct mpx_sim *sim, int node, const uint8_t *pkt, size_t len,
                 uint64_t now);
    /* Absolute time of the next timer, or MPX_SIM_NEVER. */
    uint64_t (*next_deadline)(void *ctx);
    /* Virtual time reached the deadline last returned by next_deadline. */
    void (*on_timer)(void *ctx, struct mpx_sim *sim, int node, uint64_t now);
};

/* Gilbert-Elliott two-state loss: before each packet the state moves
 * good->bad with p_good_to_bad or bad->good with p_bad_to_good, then the
 * packet is lost with loss_good or loss_bad. Enabled when
 * p_good_to_bad > 0. Mean burst length (in packets, loss_bad = 1) is
 * 1 / p_bad_to_good. */
struct mpx_sim_ge {
    double p_good_to_bad;
    double p_bad_to_good;
    double loss_good;
    double loss_bad;
};

/* One direction of a link. All zero = ideal: no delay, no loss, no rate
 * limit. */
struct mpx_sim_dir_cfg {
    uint64_t delay_ns;         /* propagation delay */
    uint64_t jitter_ns;        /* extra delay uniform in [0, jitter_ns] */
    bool jitter_reorders;      /* let jitter reorder (default: FIFO kept) */
    double loss;               /* independent loss probability [0, 1] */
    struct mpx_sim_ge ge;      /* bursty loss */
    uint64_t rate_bps;         /* bits per second; 0 = unlimited */
    uint64_t queue_bytes;      /* FIFO capacity when rate-limited; 0 = unlimited */
    double reorder_prob;       /* probability a packet is held back */
    uint32_t reorder_depth;    /* ... until this many later packets passed it */
    uint64_t reorder_delay_ns; /* ... or at most this much extra delay */
    double dup_prob;           /* probability a packet is duplicated */
};

/* Per-direction counters. Every packet offered (sent_*) ends up in exactly
 * one of delivered / drop_* once it has left the link; duplicates add to
 * duplicated and then to delivered or a drop counter. */
struct mpx_sim_counters {
    uint64_t sent_pkts, sent_bytes;           /* offered to the link */
    uint64_t delivered_pkts, delivered_bytes; /* handed to the far node */
    uint64_t drop_down;                       /* link down at send or while in flight */
    uint64_t drop_blackout;                   /* blackout window */
    uint64_t drop_queue;                      /* queue overflow (tail drop) */
    uint64_t drop_loss;                       /* independent random loss */
    uint64_t drop_burst;                      /* Gilbert-Elliott loss */
    uint64_t duplicated;                      /* extra copies made */
    uint64_t reordered;                       /* packets held back */
    uint64_t queue_max_bytes;                 /* queue high watermark */
};

/* Sim-wide counters. */
struct mpx_sim_stats {
    uint64_t events;         /* events processed */
    uint64_t drop_noroute;   /* no link for (node, src, dst) */
    uint64_t drop_malformed; /* not an IPv4/IPv6 packet */
    uint64_t timer_spins;    /* see MPX_SIM_TIMER_SPIN_LIMIT */
    uint64_t pkt_buffers;    /* packet buffers ever allocated (pool size) */
};

/* Capture points for mpx_sim_set_pcap (bit mask). */
#define MPX_SIM_CAP_TX 1u /* when offered to the link (before any drop) */
#define MPX_SIM_CAP_RX 2u /* when delivered to the far node */

/* --- lifecycle ---------------------------------------------------------- */

/* A new empty sim at time 0; NULL on allocation failure. */
struct mpx_sim *mpx_sim_new(uint64_t seed);
/* Frees the sim and its packets; NULL is a no-op. Pcaps are not closed. */
void mpx_sim_del(struct mpx_sim *sim);

/* --- topology ----------------------------------------------------------- */

/* Adds a node; returns its index (0, 1, ...) or MPX_ERR_NOMEM. |ops| is
 * retained (it must outlive the sim or be replaced); may be NULL. */
int mpx_sim_node_add(struct mpx_sim *sim, const struct mpx_sim_node_ops *ops, void *ctx);
/* Replaces a node's ops/ctx (e.g. to attach an engine created after its
 * addresses were known) and re-queries its deadline. */
int mpx_sim_node_set_ops(struct mpx_sim *sim, int node, const struct mpx_sim_node_ops *ops,
                         void *ctx);
/* Re-queries the node's next_deadline(); call after acting on the node's
 * owner outside a callback (e.g. the test wrote application data). */
void mpx_sim_node_kick(struct mpx_sim *sim, int node);

/*
 * Adds a link (node_a, a) <-> (node_b, b), up. |ab| and |ba| configure the
 * two directions (copied; NULL = ideal). Returns the link index (0, 1, ...),
 * MPX_ERR_INVAL (bad node, a == b node, address families differ),
 * MPX_ERR_EXIST (same address pair already linked) or MPX_ERR_NOMEM.
 */
int mpx_sim_link_add(struct mpx_sim *sim, int node_a, const struct mpx_addr *a, int node_b,
                     const struct mpx_addr *b, const struct mpx_sim_dir_cfg *ab,
                     const struct mpx_sim_dir_cfg *ba);
/* Changes the config of one or both directions at run time (copied). The
 * serializer and Gilbert-Elliott states are kept. */
int mpx_sim_link_config(struct mpx_sim *sim, int link, enum mpx_sim_dir dir,
                        const struct mpx_sim_dir_cfg *cfg);
/* Current config of one direction, or NULL for a bad link/dir. */
const struct mpx_sim_dir_cfg *mpx_sim_link_get_config(const struct mpx_sim *sim, int link,
                                                      enum mpx_sim_dir dir);
/* Link up/down at run time. Going down loses every packet queued or in
 * flight on the link (both directions); while down, sends are dropped. */
int mpx_sim_link_set_up(struct mpx_sim *sim, int link, bool up);
bool mpx_sim_link_is_up(const struct mpx_sim *sim, int link);
/* Adds a blackout window [start_ns, end_ns) to one or both directions. */
int mpx_sim_link_blackout(struct mpx_sim *sim, int link, enum mpx_sim_dir dir, uint64_t start_ns,
                          uint64_t end_ns);
/* Counters of one direction, or NULL for a bad link/dir. */
const struct mpx_sim_counters *mpx_sim_link_counters(const struct mpx_sim *sim, int link,
                                                     enum mpx_sim_dir dir);
/* The two ends of a link (either out pointer may be NULL). */
int mpx_sim_link_ends(const struct mpx_sim *sim, int link, int *node_a, struct mpx_addr *a,
                      int *node_b, struct mpx_addr *b);
int mpx_sim_node_count(const struct mpx_sim *sim);
int mpx_sim_link_count(const struct mpx_sim *sim);
const struct mpx_sim_stats *mpx_sim_get_stats(const struct mpx_sim *sim);

/*
 * Records packets of |link| (both directions), or of every link when
 * |link| is -1, into |pcap| (borrowed: the caller closes it after the sim
 * is done) at the capture points |where| (MPX_SIM_CAP_*). Timestamps are
 * virtual time. |pcap| NULL stops recording. A packet is written once even
 * when both a per-link and the all-links pcap are the same file.
 */
int mpx_sim_set_pcap(struct mpx_sim *sim, int link, struct mpx_pcap *pcap, unsigned where);

/* --- traffic ------------------------------------------------------------ */

/*
 * Node |node| sends the IP packet |pkt| (|len| bytes, borrowed: copied at
 * once) now. Returns 0 when the packet entered a link (even if the link
 * then drops it: that is the network's business, counted per link),
 * MPX_ERR_NOENT when no link matches (counted drop_noroute), MPX_ERR_PROTO
 * when it is not an IPv4/IPv6 packet (counted drop_malformed),
 * MPX_ERR_INVAL for a bad node or len > MPX_SIM_MAX_PKT, MPX_ERR_NOMEM.
 */
int mpx_sim_send(struct mpx_sim *sim, int node, const uint8_t *pkt, size_t len);

/* Schedules fn(arg, sim, now) at absolute time |t| (clamped to now); for
 * tests that act at a given instant (break a link, write data...). */
typedef void (*mpx_sim_at_fn)(void *arg, struct mpx_sim *sim, uint64_t now);
int mpx_sim_at(struct mpx_sim *sim, uint64_t t, mpx_sim_at_fn fn, void *arg);

/* Deterministic random numbers from the sim seed, for node owners (ISNs,
 * keys in tests). A stream separate from the links'. */
uint64_t mpx_sim_rand(struct mpx_sim *sim);

/* --- clock and running -------------------------------------------------- */

uint64_t mpx_sim_now(const struct mpx_sim *sim);
/* Time of the earliest pending event, or MPX_SIM_NEVER when idle. (Stale
 * timer entries may make this earlier than the next real action.) */
uint64_t mpx_sim_next_time(const struct mpx_sim *sim);
/* Processes the earliest event (advancing the clock to it). Returns true
 * if one was processed, false if the queue is empty. */
bool mpx_sim_step(struct mpx_sim *sim);
/* Processes every event with time <= t, then sets the clock to t (if t is
 * later than now). Returns the number of events processed. */
uint64_t mpx_sim_run_until(struct mpx_sim *sim, uint64_t t);
/* Runs until the queue is empty or the next event is after |limit|.
 * Returns true if the sim became idle. The clock stays at the last event. */
bool mpx_sim_run_idle(struct mpx_sim *sim, uint64_t limit);
/*
 * Runs until pred(arg, sim) is true (checked before the first event and
 * after each one), the sim is idle, or the next event is after |limit|.
 * Returns 0 when pred became true, MPX_ERR_TIMEDOUT at the limit (clock
 * set to limit), MPX_ERR_AGAIN when idle first.
 */
typedef bool (*mpx_sim_pred_fn)(void *arg, struct mpx_sim *sim);
int mpx_sim_run_cond(struct mpx_sim *sim, mpx_sim_pred_fn pred, void *arg, uint64_t limit);

#endif /* MPX_SIMNET_H */
