/* mptcp_b2b.c - see mptcp_b2b.h. */
#include "mptcp_b2b.h"

#include <string.h>

static uint64_t b2b_rand(void *ctx)
{
    struct b2b *b = ctx;
    uint64_t x = b->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return b->rng = x;
}

void b2b_init(struct b2b *b, uint64_t seed, b2b_cfg_fn tweak, void *arg)
{
    memset(b, 0, sizeof(*b));
    b->rng = seed * 0x9e3779b97f4a7c15ull + 1;
    b->arg = arg;
    for (int k = 0; k < 2; k++) {
        struct mpx_stack_config cfg;
        mpx_stack_config_default(&cfg);
        cfg.rand = b2b_rand;
        cfg.rand_ctx = b;
        cfg.tcp.timewait = MPX_NS_PER_S;
        cfg.sndbuf = cfg.rcvbuf = 1 << 20;
        if (tweak)
            tweak(k, &cfg, arg);
        b->st[k] = mpx_stack_new(&cfg);
        for (int i = 0; i < B2B_NPATH; i++) {
            b->addr[k][i] = mpx_addr_v4(0x0a000001u + ((uint32_t)i << 8) + (uint32_t)k);
            mpx_stack_add_local(b->st[k], &b->addr[k][i]);
        }
    }
    mpx_stack_listen(b->st[1], 80);
}

void b2b_free(struct b2b *b)
{
    mpx_stack_free(b->st[0]);
    mpx_stack_free(b->st[1]);
}

void b2b_run(struct b2b *b, uint64_t until)
{
    for (int round = 0; round < 100000; round++) {
        bool moved = false;
        for (int k = 0; k < 2; k++) {
            for (;;) {
                int n = mpx_stack_output(b->st[k], b->pkt, sizeof(b->pkt), b->now);
                if (n <= 0)
                    break;
                moved = true;
                size_t len = (size_t)n;
                if (b->mangle)
                    len = b->mangle(b, k, b->pkt, len);
                if (len)
                    mpx_stack_input(b->st[!k], b->pkt, len, b->now);
            }
        }
        if (moved)
            continue;
        uint64_t d0 = mpx_stack_next_deadline(b->st[0]);
        uint64_t d1 = mpx_stack_next_deadline(b->st[1]);
        uint64_t d = d0 < d1 ? d0 : d1;
        if (d > until)
            break;
        if (d > b->now)
            b->now = d;
        mpx_stack_on_timer(b->st[0], b->now);
        mpx_stack_on_timer(b->st[1], b->now);
    }
    if (b->now < until)
        b->now = until;
}

long b2b_connect_two(struct b2b *b, uint16_t port, long *sid)
{
    long c = mpx_stack_connect(b->st[0], &b->addr[0][0], &b->addr[1][0], port, b->now);
    if (c > 0)
        mpx_conn_add_subflow(b->st[0], (uint32_t)c, &b->addr[0][1], &b->addr[1][1], port, false,
                             b->now);
    b2b_run(b, b->now + 200 * MPX_NS_PER_MS);
    *sid = mpx_stack_accept(b->st[1], port);
    return c > 0 ? c : -1;
}

long b2b_connect_accept(struct b2b *b, uint16_t port)
{
    long c = mpx_stack_connect(b->st[0], NULL, &b->addr[1][0], port, b->now);
    if (c <= 0)
        return -1;
    b2b_run(b, b->now + 1000 * 1000);
    return mpx_stack_accept(b->st[1], port) > 0 ? c : -1;
}
