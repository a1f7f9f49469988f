/*
 * tcp_seg.h - segment-level test helpers for the TCP engine (smoltcp
 * style): build the peer's segments by hand with the codec, feed them at
 * explicit times, decode what the engine sends.
 *
 * The engine under test is 10.0.0.1:1000, the peer 10.0.0.2:80.
 */
#ifndef MPX_TCP_SEG_H
#define MPX_TCP_SEG_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp.h"

#define TT_ISS  1000u    /* our ISN (forced) */
#define TT_PISS 5000000u /* the peer's ISN */
#define TT_MS   MPX_NS_PER_MS

struct tt_seg {
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t win; /* raw field; 0 means 65535 unless zero_win */
    bool zero_win;
    bool ts; /* add a timestamp (tsval from tt.peer_ts, ecr tsecr) */
    uint32_t tsval, tsecr;
    bool explicit_tsval; /* use tsval as given */
    uint16_t mss;
    int8_t wscale; /* -1 none (0 in an initializer means none too: use ws_set) */
    bool ws_set;
    bool sackok;
    uint8_t nsack;
    struct mpx_sack_block sack[4];
    const uint8_t *data;
    uint32_t len;
};

struct tt {
    struct mpx_tcp_conn *c;
    struct mpx_tcp_tuple tuple;
    uint8_t secret[32];
    uint64_t now;
    uint32_t peer_ts;
    uint8_t buf[70000];
    struct mpx_pkt out; /* last packet from tt_out */
    int n_out;
    struct mpx_tcp_event ev[32];
    int n_ev;
};

/* cfg NULL = defaults. */
void tt_init(struct tt *x, const struct mpx_tcp_config *cfg);
void tt_free(struct tt *x);
struct mpx_tcp_isn_inputs tt_isn(struct tt *x, uint32_t iss);
void tt_feed(struct tt *x, const struct tt_seg *s);
/* Next packet (decoded into x->out); returns its length or 0. */
int tt_out(struct tt *x);
/* Discard all pending output; returns the number of packets. */
int tt_drain(struct tt *x);
/* Drain the event queue into x->ev; returns the index of the first event of
 * |type| in x->ev (this call's or earlier ones'), or -1. */
int tt_find_event(struct tt *x, enum mpx_tcp_event_type type);
void tt_advance(struct tt *x, uint64_t to); /* set now, run due timers */
/* Active open to ESTABLISHED (TS, SACK, wscale 7 from the peer when
 * |opts|); the peer's next sequence is TT_PISS + 1. */
void tt_client_established(struct tt *x, bool opts);
void tt_client_established_iss(struct tt *x, bool opts, uint32_t iss);
void tt_server_established(struct tt *x, bool opts);

#endif /* MPX_TCP_SEG_H */
