/*
 * mptcp_sim.h - test harness: two MPTCP stacks (mptcp_stack.h) on simnet
 * nodes joined by up to four paths. Node 0 is the client with addresses
 * 10.0.k.1, node 1 the server with 10.0.k.2 (k = path index); the client
 * connects over path 0 to port 80. A bulk application sends a
 * deterministic pseudo-random stream; the receiver checks its SHA-256.
 */
#ifndef MPX_MPTCP_SIM_H
#define MPX_MPTCP_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "mptcp_stack.h"
#include "simnet.h"

#define MSIM_MAX_PATHS 4

struct msim_path {
    uint64_t rate_bps;       /* both directions, 0 = unlimited */
    uint64_t delay_ns;       /* one way */
    uint64_t queue_bytes;    /* 0 = one BDP + 64 KiB when rate-limited */
    double loss;             /* data direction */
    bool backup;             /* the client's join on this path sets B */
    uint64_t down_at, up_at; /* link down in [down_at, up_at) if down_at */
};

struct msim;
typedef void (*msim_hook_fn)(struct msim *h, void *arg);
/* Sees every packet host |node| sends (before the network); false drops
 * it. May send packets itself with mpx_sim_send(). */
typedef bool (*msim_filter_fn)(struct msim *h, void *arg, int node, const uint8_t *pkt, size_t len,
                               uint64_t now);

struct msim_params {
    uint64_t seed;
    uint64_t bytes;
    bool server_sends;
    bool both_ways; /* both ends send |bytes| at once; both check */
    int n_paths;
    struct msim_path path[MSIM_MAX_PATHS];
    bool client_no_mptcp, server_no_mptcp;
    bool client_csum, server_csum;
    bool join_paths;         /* client joins over paths 1.. once established */
    bool no_elide;           /* every data segment carries its DSS mapping */
    uint8_t max_subflows;    /* server limit; 0 = default */
    uint64_t time_limit_ns;  /* default 60 s virtual */
    uint32_t rcvbuf;         /* connection-level, 0 = default */
    uint64_t reader_bps;     /* the receiving app reads at most this fast, in
                                64 KiB steps (a slow reader); 0 = at once */
    const char *scheduler;   /* NULL = default */
    const char *cc;          /* NULL = cubic */
    uint64_t warmup_ns;      /* steady_bps counts from here (default 1 s) */
    uint64_t probe_ns;       /* path_bytes_probe[] taken then (0 = never) */
    uint64_t gap_from_ns;    /* max_gap_ns counts stalls starting from here */
    msim_hook_fn setup_hook; /* after the topology is built */
    msim_filter_fn filter;   /* NULL = none; gets hook_arg */
    void *hook_arg;
    /* external keys: policy of host k (0 = client), the server ignoring
     * an E MP_CAPABLE like Linux, grace period of rotated keys (0 =
     * default); keys are installed by the test (setup_hook + mpx_sim_at) */
    enum mpx_ext_policy ext_policy[2];
    bool ext_server_like_linux;
    uint64_t ext_grace_ns;
};

struct msim_result {
    bool completed; /* receiver saw every byte and the DATA_FIN */
    bool hash_ok;
    bool both_closed; /* CONN_CLOSED with error 0 on both ends */
    uint64_t received;
    uint64_t duration_ns; /* start to last byte read */
    double goodput_bps;
    double steady_bps;                         /* goodput from warmup_ns to the end */
    uint64_t max_gap_ns;                       /* longest receiver stall once data flows */
    uint64_t path_bytes_probe[MSIM_MAX_PATHS]; /* path_bytes at probe_ns */
    struct mpx_mptcp_mib cmib, smib;
    struct mpx_tcp_mib ctcp, stcp;
    struct mpx_conn_info cinfo, sinfo;
    uint64_t path_bytes[MSIM_MAX_PATHS]; /* IP bytes delivered, data direction */
    int c_events_est, s_sub_est;
};

int msim_bulk(const struct msim_params *p, struct msim_result *r);

/* For hooks: the sim and the link index of path k. */
struct mpx_sim *msim_sim(struct msim *h);
int msim_link(struct msim *h, int k);
/* The simnet node of host k. */
int msim_node(struct msim *h, int k);
/* Host k's stack (0 client, 1 server) and its connection id (0 if none). */
struct mpx_stack *msim_stack(struct msim *h, int k);
uint32_t msim_conn(struct msim *h, int k);

/* A broken proxy on path 1 (a filter, hook_arg = struct msim_pep): from
 * from_ns until until_ns it eats the client's data segments and ACKs them
 * itself with the server's last options, so the subflow's ACKs advance
 * and its DATA_ACK does not (RFC 8684 section 3.3.2: a subflow ACK is no
 * DATA_ACK). */
struct msim_pep {
    uint64_t from_ns, until_ns;
    bool have;
    struct mpx_pkt last; /* the server's last segment on path 1 */
    int eaten;           /* segments eaten */
};
bool msim_pep_filter(struct msim *h, void *arg, int node, const uint8_t *pkt, size_t len,
                     uint64_t now);

#endif /* MPX_MPTCP_SIM_H */
