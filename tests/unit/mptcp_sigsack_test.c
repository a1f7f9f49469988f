/*
 * mptcp_sigsack_test.c - a pending REMOVE_ADDR / ADD_ADDR on a pure ACK
 * whose 40 option bytes are taken by a timestamp and three SACK blocks
 * (the DSS gave way to them already): the signal goes out and the SACK
 * blocks wait for the next ACK, as Linux tcp_established_options puts
 * MPTCP options first. Giving the signal up lost a REMOVE_ADDR against
 * Linux (RmAddrTxDrop 1, the kernel never removed the address:
 * test_interop.py engine_remove_addr).
 */
#include <stdlib.h>

#include "mptcp_b2b.h"
#include "mptcp_int.h"
#include "mpx_test.h"

MPX_TEST(mptcp_sigsack_rm_addr_beats_sack_blocks)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 91, NULL, NULL);
    long c = b2b_connect_accept(b, 80);
    REQUIRE(c > 0);
    struct mpx_msk *m = mpx_stack_find(b->st[0], (uint32_t)c);
    REQUIRE(m && m->nsf == 1 && m->sf[0]->fully_est);
    struct mpx_sf *sf = m->sf[0];
    /* a REMOVE_ADDR of id 2 waits for a segment */
    struct mpx_mptcp_opt rm = {.subtype = MPX_MPTCP_SUB_RM_ADDR};
    rm.u.rm_addr.n_ids = 1;
    rm.u.rm_addr.ids[0] = 2;
    struct mpx_pm_action act = {.type = MPX_PM_ACT_REMOVE_ADDR, .nr_ids = 1, .ids = {2}};
    m->sig[0].opt = rm;
    m->sig[0].act = act;
    m->n_sig = 1;
    uint64_t drops = m->pm.mib.RmAddrTxDrop;
    /* a pure ACK: timestamp (12 with padding) + 3 SACK blocks (28) */
    struct mpx_tcp_seg_info seg = {.flags = MPX_TH_ACK, .payload_len = 0};
    struct mpx_tcp_opts o;
    memset(&o, 0, sizeof(o));
    o.present = MPX_TCPO_TS | MPX_TCPO_SACK;
    o.ts_val = 1;
    o.ts_ecr = 2;
    o.n_sack = 3;
    for (uint32_t i = 0; i < 3; i++) {
        o.sack[i].left = 1000 + 3000 * i;
        o.sack[i].right = 2000 + 3000 * i;
    }
    REQUIRE(mpx_tcp_opts_space(&o) == MPX_TCP_MAX_OPT_LEN);
    mpx_sf_hook_signal(sf, &seg, &o);
    CHECK_INT(m->n_sig, 0);
    REQUIRE(o.n_mptcp == 1);
    CHECK_INT(o.mptcp[0].subtype, MPX_MPTCP_SUB_RM_ADDR);
    CHECK_INT(o.mptcp[0].u.rm_addr.ids[0], 2);
    CHECK(mpx_tcp_opts_space(&o) <= MPX_TCP_MAX_OPT_LEN);
    CHECK_EQ(m->pm.mib.RmAddrTxDrop, drops); /* not given up */
    b2b_free(b);
    free(b);
}
