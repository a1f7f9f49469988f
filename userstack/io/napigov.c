/*
 * napigov.c - threaded NAPI only for bursts (napigov.h).
 */
#include "napigov.h"

void mpx_napigov_init(struct mpx_napigov *g, bool threaded)
{
    *g = (struct mpx_napigov){.threaded = threaded};
}

/* The window's verdict: 1 threaded, -1 unthreaded, 0 as it is. The mean is
 * pkts / steps, compared without a division. */
static int verdict(const struct mpx_napigov *g)
{
    if (!g->threaded && g->steps >= MPX_NAPIGOV_MIN_BURSTS &&
        g->pkts >= (uint64_t)MPX_NAPIGOV_ON_BURST * g->steps)
        return 1;
    if (g->threaded && g->pkts < (uint64_t)MPX_NAPIGOV_OFF_BURST * g->steps)
        return -1;
    return 0;
}

int mpx_napigov_step(struct mpx_napigov *g, unsigned pkts, uint64_t now)
{
    int v;

    if (pkts == 0)
        return 0;
    if (g->steps == 0)
        g->win_start = now;
    g->pkts += pkts;
    g->steps++;
    if (now - g->win_start < MPX_NAPIGOV_WINDOW_NS)
        return 0;
    v = !g->switched || now - g->last_switch >= MPX_NAPIGOV_DWELL_NS ? verdict(g) : 0;
    g->pkts = g->steps = 0;
    if (v) {
        g->threaded = v > 0;
        g->switched = true;
        g->last_switch = now;
    }
    return v;
}
