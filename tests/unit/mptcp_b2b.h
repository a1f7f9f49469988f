/*
 * mptcp_b2b.h - test harness: two MPTCP stacks wired back to back (no
 * simnet: every packet reaches the peer whatever its addresses), with a
 * hook that may inspect, rewrite or drop each packet. Client is st[0]
 * with addresses 10.0.i.1, server st[1] with 10.0.i.2, listening on 80.
 */
#ifndef MPX_MPTCP_B2B_H
#define MPX_MPTCP_B2B_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mptcp_stack.h"

#define B2B_NPATH 2

struct b2b;
/* Returns the new length, 0 to drop. |from| 0 = client, 1 = server. */
typedef size_t (*b2b_mangle_fn)(struct b2b *b, int from, uint8_t *pkt, size_t len);
/* Adjusts host |k|'s configuration before its stack is created. */
typedef void (*b2b_cfg_fn)(int k, struct mpx_stack_config *cfg, void *arg);

struct b2b {
    struct mpx_stack *st[2];
    struct mpx_addr addr[2][B2B_NPATH];
    uint64_t now, rng;
    b2b_mangle_fn mangle;
    void *arg; /* for the hooks */
    int count; /* for the hooks */
    uint8_t pkt[70000];
};

void b2b_init(struct b2b *b, uint64_t seed, b2b_cfg_fn tweak, void *arg);
void b2b_free(struct b2b *b);
/* Move packets both ways until quiet, then fire timers, until |until|. */
void b2b_run(struct b2b *b, uint64_t until);
/* A connection from st[0] to addr[1][0]:|port|, established for 1 ms and
 * accepted by st[1]: the client's connection id, or -1. */
long b2b_connect_accept(struct b2b *b, uint16_t port);
/* A connection from addr[0][0] to addr[1][0]:|port| and a second subflow
 * between the addr[.][1], run for 200 ms (both ends established and
 * quiet); the server's id from accept in |*sid|. The client's connection
 * id, or -1. */
long b2b_connect_two(struct b2b *b, uint16_t port, long *sid);

#endif /* MPX_MPTCP_B2B_H */
