/*
 * mptcp_perf_test.c - goodput and stall figures of the issue-4 scenarios
 * and of the cases found weak on the lab, in the simulated network
 * (simulated time: the figures do not depend on CPU load), printed as one
 * table. Every transfer checks SHA-256. Goodput is the receiver's steady
 * state (from 2 s to the last byte) against the raw sum of the path
 * rates; the DSS/timestamp overhead caps it at ~95.7 % (1436/1500).
 */
#include <stdio.h>

#include "mpx_test.h"
#include "mptcp_sim.h"

#define MBIT 1000000ull
#define US   1000ull

struct scen {
    const char *name;
    uint64_t rate[2], owd_us[2]; /* per path; rate 0 = one path only */
    double loss1;                /* random loss on path 1, data direction */
    uint64_t queue;              /* 0 = BDP + 64 KiB */
    bool server_sends, backup1;
    uint64_t down_at, up_at; /* path 0 blackout */
    uint64_t bytes;
    double floor;       /* steady goodput / sum of rates, or max stall in ms */
    uint32_t rcvbuf;    /* 0 = default (4 MB, the daemon's) */
    uint64_t jitter_ns; /* both paths, both ways, reordering (0 = FIFO) */
};

/* The lab's paths reorder (measured there: PAWS drops and DSACKs on both
 * engines, TcpExtTCPOFOQueue 10953 of 29873 segments): the same as
 * uniform jitter that lets packets pass each other. */
static void jitter_hook(struct msim *h, void *arg)
{
    uint64_t jitter_ns = *(const uint64_t *)arg;
    for (int k = 0; k < 2; k++) {
        for (int d = 0; d < 2; d++) {
            enum mpx_sim_dir dir = d ? MPX_SIM_BA : MPX_SIM_AB;
            struct mpx_sim_dir_cfg c = *mpx_sim_link_get_config(msim_sim(h), msim_link(h, k), dir);
            c.jitter_ns = jitter_ns;
            c.jitter_reorders = true;
            mpx_sim_link_config(msim_sim(h), msim_link(h, k), dir, &c);
        }
    }
};

static void run(const struct scen *s, uint64_t seed, struct msim_result *r)
{
    struct msim_params p = {.seed = seed, .bytes = s->bytes, .n_paths = 2, .join_paths = true};
    p.server_sends = s->server_sends;
    for (int i = 0; i < 2; i++) {
        p.path[i].rate_bps = s->rate[i] * MBIT;
        p.path[i].delay_ns = s->owd_us[i] * US;
        p.path[i].queue_bytes = s->queue;
    }
    p.path[1].loss = s->loss1;
    p.path[1].backup = s->backup1;
    p.path[0].down_at = s->down_at;
    p.path[0].up_at = s->up_at;
    p.gap_from_ns = s->down_at ? s->down_at - 100 * MPX_NS_PER_MS : 0;
    p.rcvbuf = s->rcvbuf;
    if (s->jitter_ns) {
        p.setup_hook = jitter_hook;
        p.hook_arg = (void *)&s->jitter_ns;
    }
    p.warmup_ns = 2 * MPX_NS_PER_S;
    REQUIRE(msim_bulk(&p, r) == 0);
}

/* simult_flows.sh shapes of issue 4 and the lab's weak cases. Measured
 * (steady, % of the raw sum) when the floors were set: 95.4, 95.9, 95.6,
 * 95.6, 95.7, 95.5, 95.2, 62.6, 60.2, and with reordering 95.3, 87.5,
 * 88.4 (before the reordering fixes of tcp_input.c/tcp_sack.c and the
 * MP_CAPABLE one of mptcp_subflow.c: 51, 13, 28, some one-sided
 * fallbacks at the handshake that never completed). Under reordering the
 * figures move by several points with the seed (other seeds: 95-96,
 * 84-95, 83-92), hence the wider margins there. The lossy path is at its
 * Mathis limit: 1 % random loss per segment at 10 ms RTT lets CUBIC (in
 * its Reno-friendly region there) carry ~15 Mbit/s, so 85 % of the sum is
 * out of reach of any loss-based congestion control (the kernel's 94 on
 * the lab most likely saw its GSO super-packets dropped whole: one loss
 * event per ~40 segments). */
#define P2(r0, o0, r1, o1) .rate = {r0, r1}, .owd_us = {o0, o1}
static const struct scen issue4[] = {
    {"2 x 50 Mbit/s, RTT 10 ms", P2(50, 5000, 50, 5000), .bytes = 60000000, .floor = 0.95},
    {"50 @ 10 ms + 50 @ 60 ms", P2(50, 5000, 50, 30000), .bytes = 60000000, .floor = 0.93},
    {"30 @ 60 ms + 10 @ 10 ms", P2(30, 30000, 10, 5000), .bytes = 15000000, .floor = 0.93},
    {"10 @ 10 ms + 30 @ 60 ms", P2(10, 5000, 30, 30000), .bytes = 15000000, .floor = 0.93},
    {"50 @ 20 ms + 50 @ 0.1 ms (lab 50d20+50)", P2(50, 10050, 50, 50), .bytes = 60000000,
     .floor = 0.93},
    {"  same, server sends", P2(50, 10050, 50, 50), .server_sends = true, .bytes = 60000000,
     .floor = 0.93},
    {"  same, lab queues (50 ms, 312 KB)", P2(50, 10050, 50, 50), .queue = 312500,
     .bytes = 60000000, .floor = 0.93},
    {"2 x 50, 1 % loss on path 1", P2(50, 5000, 50, 5000), .loss1 = 0.01, .bytes = 30000000,
     .floor = 0.57},
    {"  same, server sends", P2(50, 5000, 50, 5000), .loss1 = 0.01, .server_sends = true,
     .bytes = 30000000, .floor = 0.57},
    {"2 x 50, reordering (jitter 1 ms)", P2(50, 5000, 50, 5000), .bytes = 60000000, .floor = 0.88,
     .jitter_ns = MPX_NS_PER_MS},
    {"2 x 50, reordering (jitter 3 ms)", P2(50, 5000, 50, 5000), .bytes = 60000000, .floor = 0.80,
     .jitter_ns = 3 * MPX_NS_PER_MS},
    {"50 @ 20 + 50 @ 0.1, reordering (2 ms)", P2(50, 10050, 50, 50), .bytes = 60000000,
     .floor = 0.75, .jitter_ns = 2 * MPX_NS_PER_MS},
};

MPX_TEST(mptcp_perf_issue4_goodput_table)
{
    printf("  %-42s %7s %7s %6s %8s %6s %5s\n", "scenario", "Mbit/s", "% sum", "floor", "overall",
           "reinj", "stale");
    for (size_t i = 0; i < sizeof(issue4) / sizeof(issue4[0]); i++) {
        const struct scen *s = &issue4[i];
        struct msim_result r;
        run(s, 80 + i, &r);
        CHECK(r.completed);
        CHECK(r.hash_ok);
        CHECK(r.both_closed);
        double sum = (double)(s->rate[0] + s->rate[1]) * MBIT;
        const struct mpx_mptcp_mib *tx = s->server_sends ? &r.smib : &r.cmib;
        printf("  %-42s %7.1f %6.1f%% %5.0f%% %8.1f %6llu %5llu\n", s->name, r.steady_bps / 1e6,
               100.0 * r.steady_bps / sum, 100.0 * s->floor, r.goodput_bps / 1e6,
               (unsigned long long)tx->MPTCPRetrans, (unsigned long long)tx->SubflowStale);
        CHECK(r.steady_bps >= s->floor * sum);
    }
}

/* The failure scenarios of issue 4, figures for the note: the longest
 * receiver stall when path 0 blacks out (it must stay within one RTO of
 * that path: RTO min 200 ms), and a backup path that carries nothing
 * while the primary works. */
MPX_TEST(mptcp_perf_issue4_stall_table)
{
    static const struct scen bo = {
        "2 x 50, path 0 blacked out 1-2 s", P2(50, 5000, 50, 5000), .down_at = MPX_NS_PER_S,
        .up_at = 2 * MPX_NS_PER_S,          .bytes = 30000000,      .floor = 200};
    struct msim_result r;
    run(&bo, 90, &r);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    printf("  %-42s stall %llu ms (floor %.0f), %.1f Mbit/s overall, reinjections %llu\n", bo.name,
           (unsigned long long)(r.max_gap_ns / MPX_NS_PER_MS), bo.floor, r.goodput_bps / 1e6,
           (unsigned long long)r.cmib.MPTCPRetrans);
    CHECK(r.max_gap_ns <= (uint64_t)bo.floor * MPX_NS_PER_MS);
    CHECK(r.cmib.MPTCPRetrans >= 1);
    /* unshaped and window-limited (256 KB), so no slow-start overshoot
     * makes the primary stale for a moment (then the backup rightly
     * carries data: RFC 8684 section 3.3.8) */
    static const struct scen bk = {"backup path 1 (primary works)", P2(0, 5000, 0, 5000),
                                   .backup1 = true, .bytes = 10000000, .rcvbuf = 256 * 1024};
    run(&bk, 91, &r);
    CHECK(r.completed);
    CHECK(r.hash_ok);
    printf("  %-42s path 0 %.1f MB, backup %llu B\n", bk.name, (double)r.path_bytes[0] / 1e6,
           (unsigned long long)r.path_bytes[1]);
    CHECK(r.path_bytes[1] < 2000); /* join handshake and FIN only */
}
