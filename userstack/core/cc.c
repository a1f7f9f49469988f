/*
 * cc.c - congestion control: the part common to every algorithm.
 *
 * The mpx_cc_on_*() entry points do the bookkeeping that must not depend on
 * the algorithm (recovery once per window, repeated RTOs, the undo snapshot,
 * cwnd bounds) and then call the algorithm's ops. See cc.h for the contract
 * with the TCP engine.
 */
#include "cc.h"

#include <string.h>

#include "err.h"

/* RFC 9293 §3.7.1: the default send MSS when none was negotiated. */
#define DEFAULT_MSS 536

static const struct mpx_cc_ops *const algorithms[] = {
    &mpx_cc_reno,
    &mpx_cc_cubic,
    &mpx_cc_lia,
};

const struct mpx_cc_ops *mpx_cc_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++) {
        if (strcmp(algorithms[i]->name, name) == 0)
            return algorithms[i];
    }
    return NULL;
}

const struct mpx_cc_ops *mpx_cc_default(void)
{
    return &mpx_cc_cubic;
}

uint32_t mpx_cc_initial_window(uint32_t mss)
{
    /* RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)). Computed in 64 bits
     * so an absurd MSS cannot wrap. */
    uint64_t m = mss ? mss : DEFAULT_MSS;
    uint64_t lo = 2 * m > 14600 ? 2 * m : 14600;
    uint64_t iw = 10 * m < lo ? 10 * m : lo;
    return iw > MPX_CC_CWND_MAX ? MPX_CC_CWND_MAX : (uint32_t)iw;
}

/* Keep cwnd within [floor * MSS, MPX_CC_CWND_MAX] and ssthresh >= 2 MSS.
 * The floor is 1 MSS in general (the RFC 5681 §3.1 loss window after an
 * RTO, from which slow start grows smoothly) and 2 MSS when a loss has just
 * been answered (RFC 5681 eq. 4 bounds ssthresh, and so the recovery cwnd,
 * by 2*SMSS). */
static void bound_cwnd(struct mpx_cc *cc, uint32_t floor_mss)
{
    uint64_t floor = (uint64_t)floor_mss * cc->mss;

    if (floor > MPX_CC_CWND_MAX)
        floor = MPX_CC_CWND_MAX;
    if (cc->cwnd < floor)
        cc->cwnd = (uint32_t)floor;
    if (cc->cwnd > MPX_CC_CWND_MAX)
        cc->cwnd = MPX_CC_CWND_MAX;
    if (cc->ssthresh != MPX_CC_SSTHRESH_INF && cc->ssthresh < 2 * (uint64_t)cc->mss)
        cc->ssthresh = 2 * cc->mss;
}

static uint32_t clamp_mss(uint32_t mss)
{
    if (mss == 0)
        return DEFAULT_MSS;
    /* A cwnd of 2 MSS must fit under the cap. */
    return mss > MPX_CC_CWND_MAX / 4 ? MPX_CC_CWND_MAX / 4 : mss;
}

void mpx_cc_init(struct mpx_cc *cc, const struct mpx_cc_ops *ops, uint32_t mss, uint64_t now)
{
    memset(cc, 0, sizeof(*cc));
    cc->ops = ops ? ops : mpx_cc_default();
    cc->mss = clamp_mss(mss);
    cc->cwnd = mpx_cc_initial_window(cc->mss);
    cc->ssthresh = MPX_CC_SSTHRESH_INF;
    cc->ops->init(cc, now);
}

void mpx_cc_switch(struct mpx_cc *cc, const struct mpx_cc_ops *ops, uint64_t now)
{
    if (!ops || ops == cc->ops)
        return;
    cc->ops = ops;
    memset(&cc->u, 0, sizeof(cc->u));
    /* The saved state belongs to the old algorithm. */
    cc->undo_valid = false;
    ops->init(cc, now);
}

void mpx_cc_set_mss(struct mpx_cc *cc, uint32_t mss)
{
    cc->mss = clamp_mss(mss);
    bound_cwnd(cc, 1);
}

void mpx_cc_on_ack(struct mpx_cc *cc, const struct mpx_cc_ack *a)
{
    if (a->srtt)
        cc->srtt = a->srtt;
    if (a->acked == 0)
        return;
    /* New data ACKed after an RTO: the retransmission got through, so a
     * later RTO is a new loss episode again (RFC 5681 §3.1, eq. 4 note). */
    cc->in_loss = false;
    /* RFC 6582 §3.2: during recovery cwnd is governed by the recovery
     * (ssthresh, or PRR in the engine), not by growth. */
    if (cc->in_recovery)
        return;
    cc->ops->on_ack(cc, a);
    bound_cwnd(cc, 1);
}

static void save_undo(struct mpx_cc *cc)
{
    cc->undo_valid = true;
    cc->undo_cwnd = cc->cwnd;
    cc->undo_ssthresh = cc->ssthresh;
    cc->undo_priv = cc->u;
}

void mpx_cc_on_congestion(struct mpx_cc *cc, uint64_t now, uint32_t in_flight)
{
    /* RFC 6582 §3.2 step 2 / RFC 5681 §3.2: one reduction per window of
     * data; further losses in the same window are part of this recovery. */
    if (cc->in_recovery)
        return;
    /* After an RTO, until new data is ACKed, losses and dupacks are about
     * data sent before the timeout, which already cut cwnd to the loss
     * window: reducing again would only lower ssthresh (RFC 6582 §4). */
    if (cc->in_loss)
        return;
    save_undo(cc);
    cc->in_recovery = true;
    cc->n_congestion++;
    cc->ops->on_congestion(cc, now, in_flight);
    bound_cwnd(cc, 2);
}

void mpx_cc_on_recovery_exit(struct mpx_cc *cc, uint64_t now)
{
    if (!cc->in_recovery)
        return;
    cc->in_recovery = false;
    if (cc->ops->on_recovery_exit)
        cc->ops->on_recovery_exit(cc, now);
    bound_cwnd(cc, 1);
}

void mpx_cc_on_rto(struct mpx_cc *cc, uint64_t now, uint32_t in_flight)
{
    bool first = !cc->in_loss;

    /* A timeout during fast recovery keeps the snapshot taken when the
     * recovery began: that is the state an undo must return to. */
    if (first && !cc->in_recovery)
        save_undo(cc);
    cc->in_loss = true;
    cc->in_recovery = false;
    cc->n_rto++;
    cc->ops->on_rto(cc, now, in_flight, first);
    /* RFC 5681 §3.1: "cwnd MUST be set to no more than the loss window,
     * LW, which equals 1 full-sized segment". */
    cc->cwnd = cc->mss;
    bound_cwnd(cc, 1);
}

bool mpx_cc_on_spurious(struct mpx_cc *cc, uint64_t now)
{
    (void)now;
    if (!cc->undo_valid)
        return false;
    /* RFC 9438 §4.9 (and RFC 3522 / RFC 4015 for Reno): put back cwnd,
     * ssthresh and the algorithm state from before the reduction; never
     * lower a cwnd that has grown since. */
    if (cc->cwnd < cc->undo_cwnd)
        cc->cwnd = cc->undo_cwnd;
    if (cc->ssthresh < cc->undo_ssthresh)
        cc->ssthresh = cc->undo_ssthresh;
    cc->u = cc->undo_priv;
    cc->undo_valid = false;
    cc->in_recovery = false;
    cc->in_loss = false;
    cc->n_undo++;
    bound_cwnd(cc, 1);
    return true;
}

uint32_t mpx_cc_slow_start(struct mpx_cc *cc, uint32_t acked)
{
    /* RFC 3465 §2.2: with byte counting, slow start may grow cwnd by at
     * most L*SMSS per ACK so that stretch ACKs do not cause bursts. */
    uint64_t inc = acked;
    uint64_t limit = (uint64_t)MPX_CC_ABC_L * cc->mss;
    uint64_t room;

    if (inc > limit)
        inc = limit;
    room = (cc->ssthresh == MPX_CC_SSTHRESH_INF ? MPX_CC_CWND_MAX : cc->ssthresh);
    room = room > cc->cwnd ? room - cc->cwnd : 0;
    if (inc <= room) {
        cc->cwnd += (uint32_t)inc;
        return 0;
    }
    /* Crossing ssthresh: the rest of this ACK counts for congestion
     * avoidance (as Linux's tcp_slow_start does). */
    cc->cwnd += (uint32_t)room;
    return acked - (uint32_t)room;
}

void mpx_cc_reno_avoid(struct mpx_cc *cc, uint32_t *acc, uint32_t acked)
{
    /* RFC 3465 §2.1: "bytes_acked" grows by the ACKed bytes; when it
     * reaches cwnd, cwnd grows by SMSS and bytes_acked drops by cwnd. This
     * is RFC 5681 eq. 3 (cwnd += SMSS*SMSS/cwnd per segment) without its
     * rounding error. A stretch ACK may complete several windows. */
    uint64_t total = (uint64_t)*acc + acked;
    uint64_t cwnd = cc->cwnd;

    if (cwnd == 0)
        return;
    while (total >= cwnd) {
        total -= cwnd;
        cwnd += cc->mss;
        if (cwnd >= MPX_CC_CWND_MAX) {
            cwnd = MPX_CC_CWND_MAX;
            total = 0;
            break;
        }
    }
    cc->cwnd = (uint32_t)cwnd;
    *acc = (uint32_t)total;
}

int mpx_cc_group_join(struct mpx_cc_group *g, struct mpx_cc *cc)
{
    if (cc->group)
        return MPX_ERR_EXIST;
    if (g->n >= MPX_CC_GROUP_MAX)
        return MPX_ERR_NOSPACE;
    g->members[g->n++] = cc;
    cc->group = g;
    return 0;
}

void mpx_cc_group_leave(struct mpx_cc *cc)
{
    struct mpx_cc_group *g = cc->group;

    if (!g)
        return;
    for (uint32_t i = 0; i < g->n; i++) {
        if (g->members[i] == cc) {
            g->members[i] = g->members[g->n - 1];
            g->members[--g->n] = NULL;
            break;
        }
    }
    cc->group = NULL;
}
