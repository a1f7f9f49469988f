/*
 * mptcp_sigfit_test.c - signalling options (ADD_ADDR and its echo,
 * MP_PRIO) never make a packet larger than the path MTU: on a full data
 * segment they wait for a pure ACK (mptcp_pmio.c sig_fits; found against
 * Linux, tests/test_interop.py: an echo on a full segment made 1508-byte
 * packets, dropped with ICMP "fragmentation needed"). This back-to-back
 * run checks the invariant during bulk signalling; it did not recreate
 * the lab's segment layout (there the interop test pins the fix).
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mpx_test.h"
#include "mptcp_b2b.h"
#include "mptcp_pm.h"
#include "wire_tcp.h"

struct sf_rec {
    struct b2b b;
    size_t max_len[2];
    int echo_from_client, add_addr_from_server;
};

static size_t sf_hook(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct sf_rec *r = (struct sf_rec *)b;
    struct mpx_pkt p;
    if (len > r->max_len[from])
        r->max_len[from] = len;
    if (mpx_pkt_decode(pkt, len, false, &p) < 0)
        return len;
    for (uint8_t i = 0; i < p.tcp.opts.n_mptcp; i++) {
        const struct mpx_mptcp_opt *o = &p.tcp.opts.mptcp[i];
        if (o->subtype != MPX_MPTCP_SUB_ADD_ADDR)
            continue;
        r->echo_from_client += from == 0 && o->u.add_addr.echo;
        r->add_addr_from_server += from == 1 && !o->u.add_addr.echo;
    }
    return len;
}

/* The client sends full segments; the server announces an address in
 * the middle: the client's echo must not ride on a full data segment. */
MPX_TEST(mptcp_sigfit_echo_never_oversize)
{
    enum { N = 2000000 };
    struct sf_rec *r = calloc(1, sizeof(*r));
    uint8_t *buf = malloc(65536);
    REQUIRE(r && buf);
    memset(buf, 0x5a, 65536);
    b2b_init(&r->b, 91, NULL, NULL);
    r->b.mangle = sf_hook;
    REQUIRE(mpx_pm_limits_set(mpx_stack_pm_cfg(r->b.st[0]), 2, 2) == 0);
    long cid = mpx_stack_connect(r->b.st[0], NULL, &r->b.addr[1][0], 80, r->b.now);
    b2b_run(&r->b, r->b.now + MPX_NS_PER_S / 10);
    long sid = mpx_stack_accept(r->b.st[1], 80);
    REQUIRE(cid > 0 && sid > 0);
    size_t sent = 0, got = 0;
    for (int round = 0; round < 2000 && got < N; round++) {
        if (round == 20) {
            struct mpx_pm_endpoint ep = {.flags = MPX_PM_F_SIGNAL, .addr = r->b.addr[1][1]};
            REQUIRE(mpx_stack_endpoint_add(r->b.st[1], &ep, r->b.now) > 0);
        }
        if (sent < N) {
            long w = mpx_conn_send(r->b.st[0], (uint32_t)cid, buf,
                                   N - sent < 65536 ? N - sent : 65536, r->b.now);
            if (w > 0)
                sent += (size_t)w;
        }
        b2b_run(&r->b, r->b.now + MPX_NS_PER_MS);
        long n;
        while ((n = mpx_conn_recv(r->b.st[1], (uint32_t)sid, buf, 65536, r->b.now)) > 0)
            got += (size_t)n;
        memset(buf, 0x5a, 65536);
    }
    CHECK_INT(got, N);
    CHECK(r->add_addr_from_server >= 1);
    CHECK(r->echo_from_client >= 1);
    CHECK(r->max_len[0] <= 1500);
    CHECK(r->max_len[0] >= 1400); /* full segments were sent */
    b2b_free(&r->b);
    free(r);
    free(buf);
}
