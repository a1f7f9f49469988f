/*
 * tcp_int.h - the engine's connection structure and the functions its
 * files (tcp.c, tcp_input.c, tcp_output.c, tcp_timer.c, tcp_sack.c) share.
 * Not for the owner: use tcp.h. (The MPTCP layer may include it to embed
 * a struct mpx_tcp_conn.)
 */
#ifndef MPX_TCP_INT_H
#define MPX_TCP_INT_H

#include "seq.h"
#include "tcp.h"
#include "tcp_buf.h"

#define MPX_TCP_TIMER_OFF   UINT64_MAX
#define MPX_TCP_SB_MAX      32 /* scoreboard blocks (sender) */
#define MPX_TCP_OOO_MAX     64 /* hard cap on cfg.ooo_max_ranges */
#define MPX_TCP_EVQ         16
#define MPX_TCP_DUPTHRESH   3                     /* RFC 5681 / RFC 6675 DupThresh */
#define MPX_TCP_PAWS_WINDOW 1                     /* ticks (ms) a TSval may lag TS.Recent (Linux) */
#define MPX_TCP_OOW_ACK_GAP (500 * MPX_NS_PER_MS) /* Linux tcp_invalid_ratelimit */
#define MPX_TCP_REORDER_MAX 32                    /* bound of the adaptive DupThresh (Linux: 300) */
#define MPX_TCP_PAWS_IDLE   (24ull * 86400 * MPX_NS_PER_S) /* RFC 7323 5.5 */
#define MPX_TCP_QUICKACKS   16                    /* ACK the first segments at once (Linux) */
#define MPX_TCP_DEFAULT_MSS 536                   /* RFC 9293 3.7.1 when the SYN has none */
#define MPX_TCP_WCDELACK    (200 * MPX_NS_PER_MS) /* RFC 8985 WCDelAckT */
#define MPX_TCP_PTO_MIN     (10 * MPX_NS_PER_MS)

/* Loss-recovery phase, Linux tcp_ca_state numbering. */
enum mpx_tcp_ca {
    MPX_TCP_CA_OPEN = 0,
    MPX_TCP_CA_DISORDER = 1,
    MPX_TCP_CA_RECOVERY = 3,
    MPX_TCP_CA_LOSS = 4,
};

struct mpx_ooo_range {
    uint32_t start, end; /* [start, end) */
    uint32_t stamp;      /* recency, for SACK block order (RFC 2018 4) */
};

struct mpx_tcp_conn {
    struct mpx_tcp_config cfg;
    struct mpx_tcp_tuple tuple;
    enum mpx_tcp_state state;
    bool passive;  /* opened by mpx_tcp_accept_syn */
    bool orphan;   /* mpx_tcp_close() was called */
    bool shut_wr;  /* FIN queued after the data */
    bool fin_sent; /* FIN has been sent at least once */
    bool peer_fin; /* FIN received and in order */
    bool ooo_fin;  /* FIN received beyond a hole, at ooo_fin_seq */
    uint32_t ooo_fin_seq;

    /* Send sequence space (RFC 9293 3.3.1). snd_max is the highest
     * sequence sent; snd_nxt goes back to snd_una after an RTO. */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
    uint32_t snd_wnd, max_snd_wnd; /* bytes, scaled */
    uint32_t peer_mss;             /* from the SYN, or 536 */
    uint32_t mss_base;             /* min(peer_mss, MTU - headers) */
    struct mpx_ring sndbuf;        /* bytes from seq sndbuf_seq */
    uint32_t sndbuf_seq;
    uint32_t fin_seq; /* sequence of our FIN once shut_wr */
    uint8_t snd_wscale, rcv_wscale;
    bool wscale_ok, sack_ok, ts_ok;

    /* Receive side. rcv_adv is the right edge we advertised (the largest:
     * what the peer may have sent up to); wnd_sent the last window field,
     * in bytes. */
    uint32_t irs, rcv_nxt, rcv_adv, wnd_sent;
    bool adv_zero;    /* the last window we advertised was zero */
    uint32_t rcv_mss; /* largest segment seen, for ACK/SWS heuristics */
    struct mpx_ring rcvbuf;
    struct mpx_ooo_range ooo[MPX_TCP_OOO_MAX];
    uint16_t n_ooo;
    uint32_t ooo_stamp;
    bool dsack_pending;
    struct mpx_sack_block dsack;

    /* Timestamps (RFC 7323). */
    uint32_t ts_offset, ts_recent, last_ack_sent;
    uint64_t ts_recent_age;
    uint32_t ts_last_sent; /* TSvals never go back (RFC 7323 5.4) */
    uint64_t oow_ack_at;   /* last ACK answering a PAWS-rejected pure ACK */
    bool ts_sent;

    /* SACK scoreboard (RFC 6675 section 3), sorted, above snd_una. */
    struct mpx_sack_block sb[MPX_TCP_SB_MAX];
    uint16_t n_sb;
    uint32_t sacked_bytes;
    uint32_t high_sacked; /* highest sequence SACKed (RFC 6675 HighACK-ish) */

    /* Loss recovery. */
    enum mpx_tcp_ca ca_state;
    uint32_t recover;    /* RecoveryPoint (RFC 6675) / recover (RFC 6582) */
    uint32_t high_rxt;   /* RFC 6675 HighRxt */
    uint32_t rescue_rxt; /* RFC 6675 RescueRxt */
    bool rescue_valid;
    uint32_t lost_edge; /* unSACKed bytes below this are lost (IsLost) */
    uint32_t dupacks;
    /* DupThresh in segments, raised when DSACKs show that a fast
     * retransmission was spurious (reordering, RFC 4653 / RFC 3708; Linux
     * tp->reordering); and the DSACK undo of RFC 3708 section 3: the
     * retransmissions of the last recovery not yet reported duplicate. */
    uint32_t reordering;
    uint32_t undo_marker; /* snd_una when that recovery began */
    uint32_t undo_retrans;
    bool undo_armed;
    bool undo_due;        /* all of them were: undo at the next ACK (process_ack) */
    uint32_t reno_sacked; /* RFC 6582: dupacks seen in recovery, in segments */
    bool reno_rtx;        /* retransmit the segment at snd_una now */
    bool cwnd_limited;
    uint32_t retrans_out; /* bytes retransmitted in recovery, not yet acked */
    bool rtx_is_pto;      /* t_rtx is a tail loss probe timeout (RFC 8985 7) */
    bool tlp_pending;     /* send a probe now */
    bool tlp_out;         /* a probe is out, not yet answered */
    bool eifel_armed;     /* RFC 3522: first RTO, timestamps on */
    uint32_t rto_tsval;   /* our TSval when that RTO fired */

    /* RTT / RTO (RFC 6298). */
    uint64_t srtt, rttvar, rto, min_rtt;
    bool rtt_valid;
    bool rtt_timing;
    uint32_t rtt_seq;
    uint64_t rtt_time;
    uint8_t backoff; /* consecutive RTOs */
    uint8_t syn_tries;
    uint64_t syn_start; /* first SYN / SYN-ACK sent (TCP_USER_TIMEOUT) */
    int soft_err;       /* last ICMP error on a synchronized connection (tcp_icmp.c) */
    uint32_t soft_una;  /* snd_una then: an ACK of new data since clears it */

    /* Timers: absolute ns deadlines, MPX_TCP_TIMER_OFF when idle. */
    uint64_t t_rtx, t_delack, t_persist, t_keep, t_close, t_cork;
    uint8_t persist_backoff, keep_probes;
    uint64_t last_rcv, last_snd_data, last_rcv_data, last_ack_rcv;

    /* ACK generation. */
    bool ack_now;
    bool win_probe, keep_probe, cork_expired;
    uint8_t segs_unacked;
    uint8_t quickacks;

    /* RFC 5961 section 7 challenge ACK limit. */
    uint64_t chack_start;
    uint16_t chack_count;

    /* A RST to send that is not part of the stream (RFC 9293 3.10.7). */
    bool rst_pending;
    uint32_t rst_seq, rst_ack;
    uint8_t rst_flags;

    /* Receive-buffer autotuning (DRS-like). */
    uint64_t rcvq_time;
    uint32_t rcvq_copied, rcvq_space;
    uint64_t rcv_rtt;

    /* Events. */
    struct mpx_tcp_event evq[MPX_TCP_EVQ];
    uint8_t ev_head, ev_n;
    uint32_t ev_queued; /* bit per event type in the queue (coalescing) */
    bool want_writable;

    struct mpx_cc cc;
    struct mpx_tcp_mib mib;
    uint64_t bytes_sent, bytes_retrans, bytes_acked, bytes_received;
    uint64_t segs_out, segs_in, data_segs_out, data_segs_in;
    uint32_t total_retrans;
    uint16_t ip_id;
    /* Payload per segment of the last packet mpx_tcp_output() produced
     * when it is a super segment (cfg.max_seg, TSO), else 0. */
    uint32_t out_gso;
    /* Pacing (cfg.pacing): the earliest time the next paced data segment
     * may leave (Linux tcp_wstamp_ns), and whether output held one back
     * for it (then it is a deadline). */
    uint64_t pace_next;
    bool pace_wait;
};

/* tcp.c */
bool mpx_tcp_set_state(struct mpx_tcp_conn *c, enum mpx_tcp_state to);
void mpx_tcp_event(struct mpx_tcp_conn *c, enum mpx_tcp_event_type type, int error);
void mpx_tcp_closed(struct mpx_tcp_conn *c, int error);
void mpx_tcp_log(const struct mpx_tcp_conn *c, enum mpx_log_level lvl, const char *what, uint64_t a,
                 uint64_t b);
uint32_t mpx_tcp_ts_now(const struct mpx_tcp_conn *c, uint64_t now);
/* DupThresh now: RFC 5681's 3, or more after reordering was seen. */
static inline uint32_t mpx_tcp_dupthresh(const struct mpx_tcp_conn *c)
{
    return c->reordering > MPX_TCP_DUPTHRESH ? c->reordering : MPX_TCP_DUPTHRESH;
}
void mpx_tcp_update_mss(struct mpx_tcp_conn *c);
void mpx_tcp_queue_rst(struct mpx_tcp_conn *c, uint32_t seq, uint32_t ack, uint8_t flags);
bool mpx_tcp_challenge_ack(struct mpx_tcp_conn *c, uint64_t now);
void mpx_tcp_sndbuf_tune(struct mpx_tcp_conn *c);
uint32_t mpx_tcp_sndbuf_end(const struct mpx_tcp_conn *c);

/* tcp_input.c */
void mpx_tcp_parse_syn_opts(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th, uint64_t now);
void mpx_tcp_rtt_sample(struct mpx_tcp_conn *c, uint64_t rtt);

/* tcp_output.c */
uint32_t mpx_tcp_rcv_window(struct mpx_tcp_conn *c);
uint32_t mpx_tcp_pipe(const struct mpx_tcp_conn *c);
/* Linux tcp_update_pacing_rate: bytes per second, 0 without an RTT. */
uint64_t mpx_tcp_pacing_rate(const struct mpx_tcp_conn *c);

/* tcp_timer.c */
/* (Re)arm the retransmission timer after a send (|restart| false: only a
 * PTO or an idle timer moves) or a new ACK (|restart| true); picks the
 * tail loss probe timeout when RFC 8985 allows one. */
void mpx_tcp_arm_rtx(struct mpx_tcp_conn *c, uint64_t now, bool restart);
void mpx_tcp_arm_keepalive(struct mpx_tcp_conn *c, uint64_t now);
void mpx_tcp_check_persist(struct mpx_tcp_conn *c, uint64_t now);
void mpx_tcp_enter_timewait(struct mpx_tcp_conn *c, uint64_t now);

/* tcp_icmp.c */
/* The error of a connection that gives up retransmitting: the ICMP soft
 * error seen since the last progress, else MPX_ERR_TIMEDOUT (Linux
 * tcp_write_err; tcp_ack clears sk_err_soft when new data is acked). */
int mpx_tcp_timeout_err(const struct mpx_tcp_conn *c);

/* tcp_sack.c: sender scoreboard */
void mpx_tcp_sb_clear(struct mpx_tcp_conn *c);
/* Drop what the cumulative ACK covers. */
void mpx_tcp_sb_ack(struct mpx_tcp_conn *c);
/* Add the peer's blocks; returns bytes newly SACKed. */
uint32_t mpx_tcp_sb_update(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th);
uint32_t mpx_tcp_sb_sacked_below(const struct mpx_tcp_conn *c, uint32_t seq);
/* First SACKed block that ends after |seq| (NULL if none). */
const struct mpx_sack_block *mpx_tcp_sb_next(const struct mpx_tcp_conn *c, uint32_t seq);
void mpx_tcp_sb_update_lost(struct mpx_tcp_conn *c);
/* RFC 6675 NextSeg rules 1, 3, 4: a retransmission [*seq, *seq+*len). */
bool mpx_tcp_sb_next_seg(struct mpx_tcp_conn *c, uint32_t mss, uint32_t *seq, uint32_t *len,
                         bool new_data_ok);

/* tcp_sack.c: receiver out-of-order queue and SACK generation */
/* Record [s, e) received beyond rcv_nxt; false if the queue is full. */
bool mpx_tcp_ooo_add(struct mpx_tcp_conn *c, uint32_t s, uint32_t e, bool *dup);
/* After rcv_nxt moved: merge the ranges it reached; returns new rcv_nxt. */
uint32_t mpx_tcp_ooo_advance(struct mpx_tcp_conn *c, uint32_t rcv_nxt);
/* Fill SACK blocks (D-SACK first, then most recent) into |o|, at most |max|. */
void mpx_tcp_sack_fill(struct mpx_tcp_conn *c, struct mpx_tcp_opts *o, unsigned max);

#endif /* MPX_TCP_INT_H */
