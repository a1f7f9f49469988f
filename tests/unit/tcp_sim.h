/*
 * tcp_sim.h - test harness: TCP engines on simnet nodes.
 *
 * Two hosts (node 0 = client 10.0.0.1, node 1 = server 10.0.0.2) joined by
 * one link. Each host demultiplexes arriving packets by 4-tuple to its
 * connections; the server has a listener that creates a connection with
 * mpx_tcp_accept_syn for a SYN to its port, and answers other strays with
 * RST. A bulk-transfer application sends a deterministic pseudo-random
 * stream and the receiver checks its SHA-256 (libcrypto EVP).
 */
#ifndef MPX_TCP_SIM_H
#define MPX_TCP_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "simnet.h"
#include "tcp.h"

struct tcp_bulk_params {
    uint64_t seed;
    uint64_t bytes;       /* to transfer */
    bool server_sends;    /* direction: false = client -> server */
    uint64_t rate_bps;    /* bottleneck (both directions), 0 = unlimited */
    uint64_t delay_ns;    /* one way */
    uint64_t queue_bytes; /* bottleneck queue, 0 = one BDP + 64 KiB */
    double loss;          /* data direction */
    double ack_loss;      /* ACK direction */
    double reorder_prob;
    uint32_t reorder_depth;
    double dup_prob;
    const char *cc; /* NULL = default */
    bool use_iss;   /* force both ISNs to |iss| */
    uint32_t iss;
    uint32_t max_seg;                      /* super segments on the sender */
    bool no_sack, no_ts;                   /* switch the options off on both ends */
    uint64_t blackout_start, blackout_end; /* link blackout (both ways), if end > 0 */
    uint16_t rport;                        /* client connects to this port (0 = 80, the listener) */
    uint32_t rmem_max;                     /* receive buffer limit on both ends (0 = default) */
    struct mpx_sim_ge ge;                  /* bursty loss on the data path */
    uint64_t jitter_ns;                    /* data path, reordering */
    uint64_t time_limit_ns;                /* default 120 s virtual */
};

struct tcp_bulk_result {
    bool completed; /* receiver saw every byte and the FIN */
    bool hash_ok;
    bool both_closed; /* both ends reached CLOSED/TIME_WAIT cleanly */
    uint64_t received;
    uint64_t duration_ns; /* first SYN to last byte read */
    double goodput_bps;
    struct mpx_tcp_mib snd_mib, rcv_mib;
    struct mpx_tcp_info snd_info, rcv_info;
    int client_error; /* error of the client's CLOSED event, 1 if none */
};

/* Runs one bulk transfer; returns 0 or a negative setup error. */
int tcp_sim_bulk(const struct tcp_bulk_params *p, struct tcp_bulk_result *r);

#endif /* MPX_TCP_SIM_H */
