/*
 * tcp.h - the sans-I/O TCP engine (RFC 9293) used for every MPTCP subflow
 * and for every fallback connection.
 *
 * The owner feeds decoded segments (mpx_tcp_input) and the current time in
 * nanoseconds, pulls encoded IP packets out (mpx_tcp_output, one per call,
 * 0 when nothing is due), wakes the engine at mpx_tcp_next_deadline() with
 * mpx_tcp_on_timer(), and drains events with mpx_tcp_poll_event(). Nothing
 * here does I/O, reads a clock or keeps globals; randomness (timestamp
 * offset) and the ISN secret come in from the owner.
 *
 * What is implemented:
 *  - RFC 9293 state machine incl. simultaneous open/close, TIME_WAIT, half
 *    close; every transition goes through one set_state() that checks a
 *    legal-transition table.
 *  - RFC 5961 challenge ACKs (RST, SYN, ACK-range), rate limited.
 *  - RFC 6528 ISN (SHA-256 via libcrypto of tuple+secret, + 4 us clock).
 *  - MSS, window scaling, timestamps with RTTM and PAWS (RFC 7323), SACK
 *    (RFC 2018) with D-SACK generation, SACK scoreboard and RFC 6675 loss
 *    recovery (pipe, NextSeg rules 1-4 incl. rescue retransmission); NewReno
 *    (RFC 6582) when SACK is not negotiated. Loss detection is the classic
 *    dupack/SACK one (not RACK); the tail loss probe of RFC 8985 section 7
 *    is used (with SACK, outside recovery).
 *  - RFC 6298 RTO with backoff and give-up limits, Eifel detection of
 *    spurious timeouts (RFC 3522, with timestamps) and undo; congestion
 *    control through cc.h (cubic by default).
 *  - delayed ACK with quickack, Nagle/NODELAY/CORK, persist timer, keepalive,
 *    bounded out-of-order queue, buffer autotuning, SWS avoidance.
 *
 * Ownership: every pointer argument is borrowed for the call unless said.
 */
#ifndef MPX_TCP_H
#define MPX_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cc.h"
#include "wire_icmp.h"
#include "wire_ip.h"
#include "wire_tcp.h"

#define MPX_NS_PER_MS 1000000ull
#define MPX_NS_PER_S  1000000000ull

/* RFC 9293 section 3.3.2 states, in the order of the RFC's figure. */
enum mpx_tcp_state {
    MPX_TCP_CLOSED = 0,
    MPX_TCP_LISTEN,
    MPX_TCP_SYN_SENT,
    MPX_TCP_SYN_RECEIVED,
    MPX_TCP_ESTABLISHED,
    MPX_TCP_FIN_WAIT_1,
    MPX_TCP_FIN_WAIT_2,
    MPX_TCP_CLOSE_WAIT,
    MPX_TCP_CLOSING,
    MPX_TCP_LAST_ACK,
    MPX_TCP_TIME_WAIT,
    MPX_TCP_NSTATES
};

const char *mpx_tcp_state_name(enum mpx_tcp_state s);

enum mpx_tcp_event_type {
    MPX_TCP_EV_ESTABLISHED = 1,
    MPX_TCP_EV_READABLE, /* in-order data (or FIN) can be read */
    MPX_TCP_EV_WRITABLE, /* send buffer has room again after a short send */
    MPX_TCP_EV_PEER_FIN, /* peer closed its direction; recv returns 0 at end */
    MPX_TCP_EV_CLOSED,   /* connection is gone; error says why */
};

struct mpx_tcp_event {
    enum mpx_tcp_event_type type;
    /* CLOSED: 0 for an orderly close, else MPX_ERR_REFUSED (RST to our SYN),
     * MPX_ERR_RESET, MPX_ERR_TIMEDOUT (retransmissions, SYN retries or
     * keepalive gave up), MPX_ERR_CLOSED (local abort). */
    int error;
};

/* Log sink. Structured (no formatting in the core): |what| is a static
 * string, a and b are its numeric arguments. Never payload bytes. */
enum mpx_log_level { MPX_LOG_ERROR = 0, MPX_LOG_WARN, MPX_LOG_INFO, MPX_LOG_DEBUG, MPX_LOG_TRACE };
typedef void (*mpx_tcp_log_fn)(void *ctx, enum mpx_log_level level, const char *what, uint64_t a,
                               uint64_t b);

/* What the MPTCP hook learns about the segment being built. */
struct mpx_tcp_seg_info {
    uint8_t flags;        /* MPX_TH_* */
    uint32_t seq, ack;    /* subflow sequence numbers */
    uint32_t payload_len; /* bytes of data in the segment */
    uint32_t data_off;    /* offset of the first byte in the subflow data
                           * stream (byte 0 = the first byte after the SYN);
                           * meaningful when payload_len > 0 */
    bool retransmission;
};

/*
 * Service hook for the MPTCP layer, called while a segment is built, before
 * encoding: it may add up to |remaining| bytes of options to opts->mptcp[]
 * (n_mptcp), using mpx_tcp_opts_space() to budget. It must not call into the
 * engine (it gets no connection pointer). Returning a negative value drops
 * the hook's options but still sends the segment.
 */
typedef int (*mpx_tcp_opt_hook_fn)(void *ctx, const struct mpx_tcp_seg_info *seg,
                                   struct mpx_tcp_opts *opts, int remaining);

struct mpx_tcp_config {
    uint32_t mtu;                        /* path MTU clamp (IP packet), default 1500 */
    uint32_t rmem_init, rmem_max;        /* receive buffer, default 128 KiB / 6 MiB */
    uint32_t wmem_init, wmem_max;        /* send buffer, default 64 KiB / 4 MiB */
    uint32_t max_seg;                    /* largest payload of one output "super segment"
                                          * (TSO-style); 0 = one MSS */
    bool tso_csum_partial;               /* a super segment's TCP checksum field gets only
                                          * the pseudo-header sum (virtio NEEDS_CSUM: the
                                          * TUN completes it per segment), not the sum
                                          * over 64 KB that the kernel would redo */
    uint64_t rto_min, rto_max, rto_init; /* ns: 200 ms, 120 s, 1 s */
    uint8_t syn_retries;                 /* like tcp_syn_retries, default 6 */
    uint8_t synack_retries;              /* default 5 */
    uint8_t retries2;                    /* like tcp_retries2, default 15 */
    uint64_t delack;                     /* delayed ACK timeout, default 40 ms */
    uint64_t timewait;                   /* 2 MSL, default 60 s */
    uint64_t fin_timeout;                /* FIN_WAIT_2 after close(), default 60 s */
    uint64_t cork_timeout;               /* default 200 ms */
    bool keepalive;                      /* SO_KEEPALIVE */
    uint64_t keep_idle, keep_intvl;      /* default 7200 s / 75 s */
    uint8_t keep_cnt;                    /* default 9 */
    bool nodelay, cork;                  /* TCP_NODELAY, TCP_CORK */
    bool sack, timestamps, wscale;       /* offer in the SYN; default all true */
    uint16_t ooo_max_ranges;             /* out-of-order holes kept, default 32 */
    uint16_t challenge_ack_limit;        /* per second per connection, default 10 */
    const struct mpx_cc_ops *cc;         /* NULL = cubic */
    uint8_t tos, ttl;                    /* default 0 / 64 */
    /* TCP_USER_TIMEOUT (RFC 5482) over the handshake: SYN / SYN-ACK
     * retransmissions give up once the first was sent this long ago
     * (instead of after syn_retries), as Linux tcp_write_timeout; ns, 0 =
     * off. Data is bounded by the MPTCP connection (mptcp_stack.h). */
    uint64_t user_timeout;
    /* Pacing (Linux internal TCP pacing, tcp_update_pacing_rate): data
     * segments leave at most at cwnd / srtt x 200 % while cwnd is below
     * half of ssthresh, x 120 % after, each one released when the previous
     * one's bytes have "left" at that rate, in bursts of ~1 ms (Linux
     * tcp_tso_autosize, at least 2 segments; one super segment with
     * max_seg); mpx_tcp_next_deadline() reports the next release. Pure
     * ACKs, probes, the fast retransmission and the loss-state resend are
     * not held. The rate also sizes super segments. Default off (also in
     * the MPTCP stack: mpx_stack_set_pacing). */
    bool pacing;
    /* MPTCP services (may be NULL). */
    mpx_tcp_opt_hook_fn opt_hook;
    void *opt_hook_ctx;
    uint8_t opt_reserve; /* option bytes the hook may add to a data
                          * segment: payloads shrink by this much so the
                          * segment stays within the MSS */
    /* Shortens a data segment (new or retransmitted) that starts at
     * |data_off| and would carry |len| bytes: returns the payload to send,
     * 1..len (other values are ignored). MPTCP: a segment must not carry
     * bytes of two DSS mappings (Linux splits skbs per mapping). ctx is
     * opt_hook_ctx. */
    uint32_t (*seg_limit)(void *ctx, uint32_t data_off, uint32_t len);
    /* The receive window to offer instead of the free buffer space (RFC
     * 8684 section 3.3.4: MPTCP subflows offer the connection-level
     * window). The engine grows its receive buffer (up to rmem_max) so
     * that whatever it offers fits. ctx is opt_hook_ctx. */
    uint32_t (*rcv_wnd)(void *ctx);
    mpx_tcp_log_fn log;
    void *log_ctx;
    enum mpx_log_level log_level;
};

/* Fill |cfg| with the defaults listed above. */
void mpx_tcp_config_default(struct mpx_tcp_config *cfg);

/* The four-tuple, from our side. */
struct mpx_tcp_tuple {
    struct mpx_addr local, remote;
    uint16_t lport, rport;
};

/* Owner-supplied inputs to the RFC 6528 ISN and the timestamp offset. */
struct mpx_tcp_isn_inputs {
    const uint8_t *secret; /* at least 16 bytes, kept by the owner */
    size_t secret_len;
    uint32_t ts_offset; /* random per connection (RFC 7323 section 5.4) */
    bool use_iss;       /* take |iss| as is (SYN cookies, tests) instead */
    uint32_t iss;
};

/* Counters, Linux MIB names (TcpExt and Tcp) where they exist. */
struct mpx_tcp_mib {
    uint64_t ActiveOpens, PassiveOpens, AttemptFails, EstabResets, CurrEstab;
    uint64_t InSegs, OutSegs, RetransSegs, InErrs, OutRsts, InRsts;
    uint64_t TCPTimeouts, TCPSynRetrans, TCPSackRecovery, TCPRenoRecovery, TCPFastRetrans;
    uint64_t TCPSlowStartRetrans, TCPLossProbes, TCPSACKReneging;
    uint64_t TCPChallengeACK, TCPSYNChallenge, TCPACKSkippedChallenge;
    uint64_t PAWSEstab, TCPOFOQueue, TCPOFODrop, TCPOFOMerge, TCPRcvQDrop;
    uint64_t TCPAbortOnTimeout, TCPAbortOnData, TCPAbortOnClose, TCPKeepAlive;
    uint64_t DelayedACKs, TCPPureAcks, TCPHPAcks, TCPDSACKOldSent, TCPDSACKOfoSent;
    uint64_t TCPDSACKRecv, TCPDSACKOfoRecv, TCPSACKDiscard, TCPSackShifted;
    uint64_t TCPPartialUndo, TCPFullUndo, TCPSpuriousRTOs;
    uint64_t TCPWinProbe, TCPZeroWindowDrop, TCPToZeroWindowAdv, TCPFromZeroWindowAdv;
    uint64_t TCPWantZeroWindowAdv, TCPRcvCoalesce, TCPOrigDataSent;
    uint64_t TCPRescueRetrans, TCPLostRetransmit, TCPRetransFail;
    uint64_t TCPOptHookFail, InDropBadAck, InDropOutOfWindow;
};

/* Like Linux struct tcp_info (units noted). */
struct mpx_tcp_info {
    uint8_t state;       /* enum mpx_tcp_state */
    uint8_t ca_state;    /* 0 open, 1 disorder, 3 recovery, 4 loss */
    uint8_t retransmits; /* consecutive RTOs of the current data */
    uint8_t backoff;
    uint8_t snd_wscale, rcv_wscale;
    bool sack_ok, ts_ok, wscale_ok;
    uint32_t rto_us, srtt_us, rttvar_us, min_rtt_us;
    uint32_t snd_mss, rcv_mss, pmtu;
    uint32_t snd_cwnd, snd_ssthresh;         /* bytes */
    uint32_t unacked, sacked, lost, retrans; /* bytes */
    uint32_t snd_wnd, rcv_wnd;               /* bytes */
    uint32_t rcv_space, snd_buf, rcv_buf;
    uint64_t bytes_sent, bytes_retrans, bytes_acked, bytes_received;
    uint64_t segs_out, segs_in, data_segs_out, data_segs_in;
    uint32_t total_retrans;
    uint32_t notsent_bytes;
    uint64_t last_data_recv_ns, last_data_sent_ns, last_ack_recv_ns;
    uint64_t pacing_rate; /* bytes/s (tcpi_pacing_rate), 0 before an RTT sample */
};

struct mpx_tcp_conn;

/* Size to allocate; the struct is opaque so it can grow. */
size_t mpx_tcp_conn_size(void);

/*
 * mpx_tcp_init sets up |c| (mpx_tcp_conn_size() bytes, owned by the caller)
 * as a CLOSED connection for |tuple| with configuration |cfg| (copied; NULL
 * = defaults). Buffers are allocated here (MPX_ERR_NOMEM). Pair with
 * mpx_tcp_free().
 */
int mpx_tcp_init(struct mpx_tcp_conn *c, const struct mpx_tcp_config *cfg,
                 const struct mpx_tcp_tuple *tuple, uint64_t now);
void mpx_tcp_free(struct mpx_tcp_conn *c);

/* Active open: queue a SYN. MPX_ERR_STATE unless CLOSED. */
int mpx_tcp_connect(struct mpx_tcp_conn *c, uint64_t now, const struct mpx_tcp_isn_inputs *isn);

/*
 * Passive open. The owner keeps the listening table; for a SYN (no ACK, no
 * RST) that matches a listener it inits a fresh connection for the tuple and
 * calls this, which records the peer's options (syn->tcp.opts stays the
 * owner's to inspect, e.g. MP_CAPABLE) and goes to SYN_RECEIVED with a
 * SYN-ACK queued. Room for SYN cookies: the owner may instead answer from
 * its own state without calling this.
 */
int mpx_tcp_accept_syn(struct mpx_tcp_conn *c, const struct mpx_pkt *syn, uint64_t now,
                       const struct mpx_tcp_isn_inputs *isn);

/* A segment for this connection's tuple. Returns 0 (also when the segment
 * was dropped by the protocol rules: that is counted, not an error). */
int mpx_tcp_input(struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now);

/* Would mpx_tcp_input() accept this segment (read-only pre-check, same
 * |now|)? False for what it drops unprocessed: PAWS (RFC 7323 5.3 R1), the
 * RFC 9293 3.10.7.4 sequence test, a RST not exactly at RCV.NXT (RFC 5961
 * 3.2), in SYN-SENT an unacceptable ACK (RFC 9293 3.10.7.3). Segments of
 * the handshake itself (SYN, SYN-SENT) are acceptable when their ACK is.
 * MPTCP uses it to ignore the options of unacceptable segments, as Linux
 * (tcp_validate_incoming runs before mptcp_incoming_options). */
bool mpx_tcp_acceptable(const struct mpx_tcp_conn *c, const struct mpx_pkt *pkt, uint64_t now);

/* The next packet to send (IP + TCP) into |out|: its length, 0 if nothing is
 * due, MPX_ERR_NOBUF if |cap| is too small for the next packet. Call until
 * it returns 0 after every input/timer/API call. */
int mpx_tcp_output(struct mpx_tcp_conn *c, uint8_t *out, size_t cap, uint64_t now);
/* After mpx_tcp_output() returned a packet: 0 if it is an ordinary segment,
 * else it is a super segment (only with cfg.max_seg) and this is the
 * payload of each segment it stands for, the gso_size of a TSO write
 * (every segment repeats the packet's TCP options and fits the MSS with
 * them). */
uint32_t mpx_tcp_out_gso(const struct mpx_tcp_conn *c);

/* Copy up to |len| bytes into the send buffer; returns bytes taken (0 when
 * full: wait for WRITABLE) or MPX_ERR_STATE / MPX_ERR_CLOSED. */
long mpx_tcp_send(struct mpx_tcp_conn *c, const void *data, size_t len, uint64_t now);
/* Read in-order data; returns bytes, 0 at end of stream (peer FIN, all
 * read), MPX_ERR_AGAIN when nothing is there yet, or an error. */
long mpx_tcp_recv(struct mpx_tcp_conn *c, void *buf, size_t len, uint64_t now);

#define MPX_TCP_SHUT_WR 1
/* Half close: a FIN follows the queued data. */
int mpx_tcp_shutdown(struct mpx_tcp_conn *c, int how, uint64_t now);
/* close(): shutdown(WR), and from now on arriving data is answered with RST
 * (TCPAbortOnData); if unread data is pending, abort right away as Linux does
 * (TCPAbortOnClose). */
int mpx_tcp_close(struct mpx_tcp_conn *c, uint64_t now);
/* Send RST (when synchronized) and go to CLOSED at once. */
int mpx_tcp_abort(struct mpx_tcp_conn *c, uint64_t now);

/* Queue a pure ACK (e.g. the MP_JOIN fourth ACK, an MPTCP option that
 * must go out now); no-op unless synchronized. */
void mpx_tcp_send_ack(struct mpx_tcp_conn *c);
/* The owner's window (cfg.rcv_wnd) grew: send a window update when the
 * offered window had become small, as mpx_tcp_recv does. */
void mpx_tcp_window_update(struct mpx_tcp_conn *c);

/* Socket options that change at run time. */
void mpx_tcp_set_nodelay(struct mpx_tcp_conn *c, bool on, uint64_t now);
void mpx_tcp_set_cork(struct mpx_tcp_conn *c, bool on, uint64_t now);
void mpx_tcp_set_keepalive(struct mpx_tcp_conn *c, bool on, uint64_t now);
/* TCP_SYNCNT (1..255) and TCP_USER_TIMEOUT (ns, 0 = off) for the handshake:
 * a SYN already out is retried under the new limits (tcp_icmp.c). */
void mpx_tcp_set_syn_retries(struct mpx_tcp_conn *c, uint8_t n);
void mpx_tcp_set_user_timeout(struct mpx_tcp_conn *c, uint64_t timeout, uint64_t now);

/* What mpx_tcp_icmp() did with an ICMP error. */
enum mpx_tcp_icmp_res {
    MPX_TCP_ICMP_IGNORED = 0,   /* state or message not acted on */
    MPX_TCP_ICMP_OUT_OF_WINDOW, /* quoted seq not in SND.UNA..SND.NXT (OutOfWindowIcmps) */
    MPX_TCP_ICMP_ABORTED,       /* handshake aborted with the error (EV_CLOSED) */
    MPX_TCP_ICMP_SOFT,          /* remembered: reported if the connection times out */
    MPX_TCP_ICMP_PMTU,          /* path MTU lowered, MSS shrunk, flight resent */
    MPX_TCP_ICMP_PMTU_STALE,    /* PTB with an MTU not below the one in use */
};

/*
 * An ICMP error (wire_icmp.h) quoting a segment of this connection, as
 * Linux tcp_v4_err / tcp_v6_err: the quoted sequence number must be in
 * SND.UNA..SND.NXT (RFC 5927 section 4.1; exactly the ISS for a passive
 * SYN_RECEIVED, tcp_req_err). PTB lowers the path MTU (RFC 1191 / RFC 8201,
 * not below 552 / 1280 bytes) and resends the flight. Any other error
 * aborts an active open (SYN_SENT, simultaneous open) with its error; a
 * passive SYN_RECEIVED is dropped for the errors tcp_req_err drops on; a
 * synchronized connection keeps retrying and only remembers it as the
 * "soft error" it reports if it later times out (RFC 1122 4.2.3.9, Linux
 * sk_err_soft).
 */
enum mpx_tcp_icmp_res mpx_tcp_icmp(struct mpx_tcp_conn *c, const struct mpx_icmp *ic, uint64_t now);

/* Earliest time the engine wants mpx_tcp_on_timer(); UINT64_MAX if none. */
uint64_t mpx_tcp_next_deadline(const struct mpx_tcp_conn *c);
int mpx_tcp_on_timer(struct mpx_tcp_conn *c, uint64_t now);

/* 1 and an event in |ev|, or 0 when the queue is empty. */
int mpx_tcp_poll_event(struct mpx_tcp_conn *c, struct mpx_tcp_event *ev);

enum mpx_tcp_state mpx_tcp_get_state(const struct mpx_tcp_conn *c);
void mpx_tcp_get_info(const struct mpx_tcp_conn *c, struct mpx_tcp_info *info, uint64_t now);
const struct mpx_tcp_mib *mpx_tcp_get_mib(const struct mpx_tcp_conn *c);
/* Add the counters of |src| to |dst|. */
void mpx_tcp_mib_add(struct mpx_tcp_mib *dst, const struct mpx_tcp_mib *src);
const struct mpx_tcp_tuple *mpx_tcp_get_tuple(const struct mpx_tcp_conn *c);
/* Bytes queued for sending and not yet acknowledged; bytes readable. */
size_t mpx_tcp_send_queued(const struct mpx_tcp_conn *c);
size_t mpx_tcp_recv_ready(const struct mpx_tcp_conn *c);
/* Congestion-control state, e.g. to join an MPTCP coupling group. */
struct mpx_cc *mpx_tcp_cc(struct mpx_tcp_conn *c);

/*
 * For the owner's demux: the RST that answers |in| when no connection or
 * listener matches (RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST> if it had an
 * ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>). Returns the packet
 * length, 0 when |in| is a RST itself (never answered), or MPX_ERR_NOBUF.
 */
int mpx_tcp_reply_rst(const struct mpx_pkt *in, uint8_t *out, size_t cap);

/*
 * RFC 9293 section 3.4 / RFC 6528: the initial sequence number for |t|,
 * SHA-256(local, remote, ports, secret) truncated to 32 bits, plus a clock
 * ticking every 4 us taken from |now|. MPX_ERR_CRYPTO if libcrypto fails.
 */
int mpx_tcp_isn(const struct mpx_tcp_tuple *t, const uint8_t *secret, size_t secret_len,
                uint64_t now, uint32_t *isn);

/*
 * RFC 6191 helper for the owner, who decides whether a SYN may reuse a tuple
 * in TIME_WAIT (|tw|): true when the SYN carries a timestamp newer than the
 * last one seen from the peer, or (without timestamps on either side) a
 * sequence number beyond the old connection's final rcv_nxt. The owner then
 * frees |tw| and accepts the SYN on a fresh connection.
 */
bool mpx_tcp_timewait_reusable(const struct mpx_tcp_conn *tw, const struct mpx_pkt *syn);

#endif /* MPX_TCP_H */
