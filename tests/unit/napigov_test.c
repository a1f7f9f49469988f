/*
 * napigov_test.c - the tun-napi auto governor (napigov.h): threaded NAPI
 * while the daemon writes in bursts, unthreaded while packets go alone, with
 * hysteresis, a minimum of evidence and a dwell time between switches.
 */
#include "mpx_test.h"
#include "napigov.h"

#define MS 1000000ull

/* Feed |n| steps of |pkts| packets, one every |gap| ns from |*now|; returns
 * the first non-zero verdict (0 if none) and leaves |*now| after the step
 * that gave it (or after the last step). */
static int feed(struct mpx_napigov *g, uint64_t *now, unsigned n, unsigned pkts, uint64_t gap)
{
    for (unsigned i = 0; i < n; i++) {
        int v = mpx_napigov_step(g, pkts, *now);
        *now += gap;
        if (v)
            return v;
    }
    return 0;
}

MPX_TEST(napigov_bursts_thread_single_writes_unthread)
{
    struct mpx_napigov g;
    uint64_t now = 5000 * MS, t0;

    mpx_napigov_init(&g, false);
    /* a bulk sender: 64 packets per step; the verdict comes with the first
     * step at least a window after the first one */
    t0 = now;
    CHECK(feed(&g, &now, 1000, 64, MS) == 1);
    CHECK(now - t0 == MPX_NAPIGOV_WINDOW_NS + MS);
    CHECK(g.threaded);
    /* one packet per step (a handshake, an ACK): nothing for the dwell
     * time after the switch, then back */
    t0 = now;
    CHECK(feed(&g, &now, 5000, 1, MS) == -1);
    CHECK(now - t0 >= MPX_NAPIGOV_DWELL_NS);
    CHECK(now - t0 <= MPX_NAPIGOV_DWELL_NS + MPX_NAPIGOV_WINDOW_NS + 2 * MS);
    CHECK(!g.threaded);
}

MPX_TEST(napigov_hysteresis_and_evidence)
{
    static const struct {
        bool threaded;
        unsigned steps, pkts; /* one window: |steps| steps of |pkts| packets */
        int want;
    } cases[] = {
        {false, 100, MPX_NAPIGOV_ON_BURST, 1},
        {false, 100, MPX_NAPIGOV_ON_BURST - 1, 0},    /* between the two thresholds */
        {true, 100, MPX_NAPIGOV_OFF_BURST, 0},        /* still bursts enough */
        {true, 100, MPX_NAPIGOV_OFF_BURST - 1, -1},   /* alone: back */
        {false, MPX_NAPIGOV_MIN_BURSTS - 1, 1000, 0}, /* a few big flights are no trend */
        {false, MPX_NAPIGOV_MIN_BURSTS, 1000, 1},
        {true, 2, 1, -1}, /* going back needs no evidence */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mpx_napigov g;
        unsigned n = cases[i].steps;
        /* the last step lands at least a window after the first: it closes it */
        uint64_t now = 1 * MS, gap = (MPX_NAPIGOV_WINDOW_NS + n - 2) / (n - 1);
        int v;

        mpx_napigov_init(&g, cases[i].threaded);
        for (unsigned k = 0; k + 1 < n; k++, now += gap)
            CHECK(mpx_napigov_step(&g, cases[i].pkts, now) == 0);
        v = mpx_napigov_step(&g, cases[i].pkts, now);
        if (v != cases[i].want)
            mpx_test_fail(__FILE__, __LINE__, "case %zu: verdict %d, want %d", i, v, cases[i].want);
        CHECK(g.steps == 0); /* every case closed its window */
        CHECK(g.threaded == (v ? v > 0 : cases[i].threaded));
    }
}

MPX_TEST(napigov_idle_steps_are_no_bursts)
{
    struct mpx_napigov g;
    uint64_t now = 1 * MS;

    mpx_napigov_init(&g, true);
    /* steps that wrote nothing neither open nor close a window */
    for (int i = 0; i < 1000; i++, now += MS)
        CHECK(mpx_napigov_step(&g, 0, now) == 0);
    CHECK(g.steps == 0 && g.pkts == 0);
    /* a window stretched over an idle gap is judged by its steps alone */
    CHECK(mpx_napigov_step(&g, 32, now) == 0);
    now += 10 * MPX_NAPIGOV_WINDOW_NS;
    CHECK(mpx_napigov_step(&g, 32, now) == 0);
    CHECK(g.threaded && g.steps == 0);
}
