/*
 * mptcp_sched.c - MPTCP packet schedulers: "default" (earliest arrival with
 * opportunistic retransmission and penalisation), "redundant", "roundrobin",
 * the common reinjection policy and the stale rule. The contract and the
 * reasoning behind each rule are in mptcp_sched.h.
 */
#include "mptcp_sched.h"

#include <string.h>

#include "err.h"

/* RFC 9293 §3.7.1: the default send MSS when none is known. */
#define DEFAULT_MSS 536
#define NS_PER_SEC  1000000000ull

static const struct mpx_sched_ops *const schedulers[] = {
    &mpx_sched_default_ops,
    &mpx_sched_redundant_ops,
    &mpx_sched_roundrobin_ops,
};
#define N_SCHEDULERS (sizeof(schedulers) / sizeof(schedulers[0]))

/* ---- registry ---------------------------------------------------------- */

const struct mpx_sched_ops *mpx_sched_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_SCHEDULERS; i++) {
        if (strcmp(schedulers[i]->name, name) == 0)
            return schedulers[i];
    }
    return NULL;
}

const struct mpx_sched_ops *mpx_sched_default(void)
{
    return &mpx_sched_default_ops;
}

const struct mpx_sched_ops *mpx_sched_at(size_t i)
{
    return i < N_SCHEDULERS ? schedulers[i] : NULL;
}

int mpx_sched_available(char *buf, size_t cap)
{
    size_t len = 0;
    int rc = 0;

    if (!buf || cap == 0)
        return MPX_ERR_NOBUF;
    buf[0] = '\0';
    for (size_t i = 0; i < N_SCHEDULERS; i++) {
        size_t nl = strlen(schedulers[i]->name);
        size_t need = nl + (len ? 1 : 0);

        if (len + need + 1 > cap) {
            rc = MPX_ERR_NOBUF;
            break;
        }
        if (len)
            buf[len++] = ' ';
        memcpy(buf + len, schedulers[i]->name, nl);
        len += nl;
        buf[len] = '\0';
    }
    return rc ? rc : (int)len;
}

/* ---- set-up -------------------------------------------------------------- */

void mpx_sched_params_default(struct mpx_sched_params *p)
{
    memset(p, 0, sizeof(*p));
    p->burst_max = MPX_SCHED_BURST_DEFAULT;
    p->stale_min_ns = 100000000ull; /* 100 ms: below Linux's 200 ms RTO floor */
    p->stale_rtt_mult = 2;
    p->delack_ns = 200000000ull; /* Linux's largest delayed-ACK timeout */
    p->ecf = true;
    p->oppo_retrans = true;
    p->penalize = true;
}

static void reset_state(struct mpx_sched *s)
{
    memset(&s->st, 0, sizeof(s->st));
    if (s->ops == &mpx_sched_default_ops) {
        for (size_t i = 0; i < MPX_SCHED_SF_MAX; i++)
            s->st.def.pen[i].id = MPX_SCHED_NO_ID;
    } else if (s->ops == &mpx_sched_roundrobin_ops) {
        s->st.rr.last_id = MPX_SCHED_NO_ID;
    }
}

void mpx_sched_init(struct mpx_sched *s, const struct mpx_sched_ops *ops)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops ? ops : mpx_sched_default();
    mpx_sched_params_default(&s->params);
    reset_state(s);
}

void mpx_sched_switch(struct mpx_sched *s, const struct mpx_sched_ops *ops)
{
    s->ops = ops ? ops : mpx_sched_default();
    reset_state(s);
}

/* ---- arithmetic and subflow facts ------------------------------------------ */

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* a * b / c without overflow: when a * b does not fit, a and c lose low
 * bits together (the result is a heuristic time, a few ppm do not matter). */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c)
{
    if (c == 0)
        return UINT64_MAX;
    while (b != 0 && a > UINT64_MAX / b) {
        a >>= 1;
        c >>= 1;
        if (c == 0)
            return UINT64_MAX;
    }
    return a * b / c;
}

static uint32_t sf_mss(const struct mpx_sched_sf *s)
{
    return s->mss ? s->mss : DEFAULT_MSS;
}

static uint32_t sf_cwnd(const struct mpx_sched_sf *s)
{
    return s->cwnd ? s->cwnd : sf_mss(s);
}

/* srtt of |s|, or |dflt| when it has no sample yet. */
static uint64_t sf_srtt(const struct mpx_sched_sf *s, uint64_t dflt)
{
    return s->srtt_ns ? s->srtt_ns : dflt;
}

/* RTT assumed for subflows without a sample (normally the SYN exchange
 * gives one): twice the largest known one (a new subflow is not trusted to
 * be fast), else MPX_SCHED_RTT_DEFAULT_NS. */
static uint64_t default_srtt(const struct mpx_sched_sf *sf, uint32_t n)
{
    uint64_t m = 0;

    for (uint32_t i = 0; i < n; i++)
        m = max64(m, sf[i].srtt_ns);
    return m ? sat_add(m, m) : MPX_SCHED_RTT_DEFAULT_NS;
}

/* Delivery rate estimate cwnd / srtt, bytes per second (>= 1). */
static uint64_t sf_rate(const struct mpx_sched_sf *s, uint64_t dflt_srtt)
{
    uint64_t r = muldiv(sf_cwnd(s), NS_PER_SEC, sf_srtt(s, dflt_srtt));

    return r ? r : 1;
}

static bool sf_alive(const struct mpx_sched_sf *s)
{
    return s->established && !s->failed;
}

static bool usable(const struct mpx_sched_conn *c, const struct mpx_sched_sf *s)
{
    return sf_alive(s) && (!c->fallback || s->fallback_ok);
}

/* RFC 8684 §3.3.8 tiers: 0 regular, 1 backup, 2 stale. */
static int tier_of(const struct mpx_sched_sf *s)
{
    if (s->stale)
        return 2;
    return s->backup ? 1 : 0;
}

/* Lowest tier with a usable subflow other than |skip|; -1 if none. */
static int pick_tier(const struct mpx_sched_conn *c, const struct mpx_sched_sf *sf, uint32_t n,
                     uint32_t skip)
{
    int best = -1;

    for (uint32_t i = 0; i < n; i++) {
        if (i == skip || !usable(c, &sf[i]))
            continue;
        if (best < 0 || tier_of(&sf[i]) < best)
            best = tier_of(&sf[i]);
    }
    return best;
}

static bool in_tier(const struct mpx_sched_conn *c, const struct mpx_sched_sf *s, int tier)
{
    return usable(c, s) && tier_of(s) == tier;
}

uint32_t mpx_sched_sf_space(const struct mpx_sched_sf *s)
{
    uint64_t used, cw, wnd;

    if (!s || !sf_alive(s))
        return 0;
    used = (uint64_t)s->in_flight + s->notsent;
    cw = sf_cwnd(s) > used ? sf_cwnd(s) - used : 0;
    used = (uint64_t)s->unacked + s->notsent;
    wnd = s->snd_wnd > used ? s->snd_wnd - used : 0;
    return (uint32_t)min64(min64(cw, wnd), s->sndbuf_space);
}

/* Space of at least one segment, or of everything there is to send. */
static bool has_space(const struct mpx_sched_sf *s, uint64_t want)
{
    uint32_t sp = mpx_sched_sf_space(s);

    return sp > 0 && sp >= min64(sf_mss(s), want);
}

/* Bytes beyond the cwnd a chunk of |len| would need before it can go out. */
static uint64_t cwnd_excess(const struct mpx_sched_sf *s, uint64_t len)
{
    uint64_t need = (uint64_t)s->in_flight + s->notsent + len;

    return need > sf_cwnd(s) ? need - sf_cwnd(s) : 0;
}

/* Estimated arrival of the last byte of a |len|-byte chunk queued now:
 * wait until the cwnd admits it (at the rate cwnd/srtt), then srtt/2. */
static uint64_t arrival(const struct mpx_sched_sf *s, uint64_t len, uint64_t dflt_srtt)
{
    uint64_t srtt = sf_srtt(s, dflt_srtt);
    uint64_t wait = muldiv(cwnd_excess(s, len), srtt, sf_cwnd(s));

    return wait + srtt / 2;
}

/* Length of one decision: what the subflow takes, what may be sent, the
 * burst cap; cut to whole segments when space (not data) is the limit. */
static uint32_t grant(uint64_t space, uint64_t maxlen, uint32_t mss, uint32_t burst)
{
    uint64_t len = min64(min64(space, maxlen), burst ? burst : MPX_SCHED_BURST_DEFAULT);

    if (len < maxlen && len > mss)
        len -= len % mss;
    return (uint32_t)len;
}

/* New bytes that may be sent now: unsent data within the connection-level
 * window (RFC 8684 §3.3.4). */
static uint64_t sendable(const struct mpx_sched_conn *c)
{
    uint64_t wnd = c->peer_rcv_wnd_end > c->snd_nxt ? c->peer_rcv_wnd_end - c->snd_nxt : 0;

    return min64(min64(c->pending, wnd), UINT32_MAX);
}

static void decision_one(struct mpx_sched_decision *d, uint8_t action, uint64_t dsn, uint32_t len,
                         uint32_t idx)
{
    d->action = action;
    d->dsn = dsn;
    d->len = len;
    d->n = 1;
    d->sf_idx[0] = idx;
}

/* Best subflow of |tier| with space for |want| bytes: lowest arrival of
 * its next segment (= lowest srtt, as it can send at once); ties go to the
 * lower index. MPX_SCHED_NO_IDX if none. */
static uint32_t best_with_space(const struct mpx_sched_conn *c, const struct mpx_sched_sf *sf,
                                uint32_t n, int tier, uint64_t want, uint32_t skip,
                                uint64_t dflt_srtt)
{
    uint32_t best = MPX_SCHED_NO_IDX;
    uint64_t best_t = UINT64_MAX;

    for (uint32_t i = 0; i < n; i++) {
        uint64_t t;

        if (i == skip || !in_tier(c, &sf[i], tier) || !has_space(&sf[i], want))
            continue;
        t = arrival(&sf[i], min64(want, sf_mss(&sf[i])), dflt_srtt);
        if (t < best_t) {
            best_t = t;
            best = i;
        }
    }
    return best;
}

/* ---- default: earliest arrival ------------------------------------------ */

/* Bytes subflow |s| (no space now) can deliver within |t| ns from now:
 * after its excess over cwnd has drained, one cwnd per srtt, the cwnd
 * doubling each round while below ssthresh (slow start, RFC 5681 §3.1;
 * ssthresh 0 = unknown: no growth assumed). A short flow on a fast subflow
 * in slow start finishes much sooner than cwnd/srtt says. */
static uint64_t deliverable(const struct mpx_sched_sf *s, uint64_t t, uint64_t dflt_srtt)
{
    uint64_t srtt = sf_srtt(s, dflt_srtt), w = sf_cwnd(s), bytes = 0;
    /* Growing cwnd only raises the rate while it is below the path's BDP:
     * once srtt carries a queue (>= 5/4 min_rtt), more cwnd is more queue. */
    bool grows = !s->min_rtt_ns || srtt < s->min_rtt_ns + s->min_rtt_ns / 4;

    for (int r = 0; r < 16 && t >= srtt; r++) {
        bytes += w;
        t -= srtt;
        if (grows && w < s->ssthresh)
            w = min64(2 * w, s->ssthresh);
    }
    bytes += muldiv(w, t, srtt);
    return bytes > cwnd_excess(s, 0) ? bytes - cwnd_excess(s, 0) : 0;
}

/*
 * ECF check (Lim et al. 2017, generalised to several faster subflows):
 * subflow |s| has space; the subflows F of the tier that would deliver a
 * segment sooner but have no space now deliver deliverable(f, t_s - srtt_f/2)
 * bytes before |s| would deliver a segment (t_s). Returns how many of the
 * |backlog| bytes F cannot deliver by then: 0 means "wait for F",
 * otherwise |s| takes that much (F takes the rest, so both end at about
 * the same time).
 */
static uint64_t ecf_share(const struct mpx_sched_conn *c, const struct mpx_sched_sf *sf, uint32_t n,
                          int tier, uint32_t s, uint64_t backlog, uint64_t dflt_srtt)
{
    uint64_t t_s = arrival(&sf[s], min64(backlog, sf_mss(&sf[s])), dflt_srtt);
    uint64_t can = 0;

    for (uint32_t i = 0; i < n; i++) {
        uint64_t seg = min64(backlog, sf_mss(&sf[i])), owd = sf_srtt(&sf[i], dflt_srtt) / 2;

        if (i == s || !in_tier(c, &sf[i], tier) || has_space(&sf[i], backlog))
            continue;
        /* Waiting is only safe for a subflow whose ACKs will call us back
         * (nothing in flight and nothing queued: no ACK clock). */
        if (sf[i].in_flight == 0 && sf[i].notsent == 0)
            continue;
        if (arrival(&sf[i], seg, dflt_srtt) >= t_s)
            continue;
        can = sat_add(can, deliverable(&sf[i], t_s > owd ? t_s - owd : 0, dflt_srtt));
    }
    return backlog > can ? backlog - can : 0;
}

/* Window-blocked: re-send the bytes at DATA_ACK that hold the window on a
 * faster subflow, and penalise their subflow (see mptcp_sched.h). */
static int oppo_retrans(struct mpx_sched *s, const struct mpx_sched_conn *c,
                        const struct mpx_sched_sf *sf, uint32_t n, int tier, uint64_t now,
                        struct mpx_sched_decision *d, uint64_t dflt_srtt)
{
    struct mpx_sched_default_state *st = &s->st.def;
    uint32_t h = MPX_SCHED_NO_IDX, f;
    uint64_t start, end;

    if (!s->params.oppo_retrans || c->head_sf_id == MPX_SCHED_NO_ID || c->head_len == 0)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        if (sf[i].id == c->head_sf_id)
            h = i;
    }
    start = max64(c->snd_una, st->oppo_end);
    end = c->snd_una + c->head_len;
    if (h == MPX_SCHED_NO_IDX || start >= end)
        return 0;
    f = best_with_space(c, sf, n, tier, end - start, h, dflt_srtt);
    if (f == MPX_SCHED_NO_IDX || sf_srtt(&sf[f], dflt_srtt) >= sf_srtt(&sf[h], dflt_srtt))
        return 0;
    decision_one(
        d, MPX_SCHED_REINJECT, start,
        grant(mpx_sched_sf_space(&sf[f]), end - start, sf_mss(&sf[f]), s->params.burst_max), f);
    st->oppo_end = start + d->len;
    if (!s->params.penalize || !sf_alive(&sf[h]) ||
        sf_rate(&sf[h], dflt_srtt) >= sf_rate(&sf[f], dflt_srtt))
        return 1;
    /* At most once per srtt of the penalised subflow: its cwnd needs that
     * long to show the effect (the kernel's last_rbuf_opti check). */
    {
        struct mpx_sched_penalty *slot = NULL, *oldest = &st->pen[0];

        for (size_t i = 0; i < MPX_SCHED_SF_MAX && !slot; i++) {
            if (st->pen[i].id == sf[h].id)
                slot = &st->pen[i];
        }
        if (slot && now - slot->last_ns < sf_srtt(&sf[h], dflt_srtt))
            return 1;
        for (size_t i = 0; i < MPX_SCHED_SF_MAX && !slot; i++) {
            if (st->pen[i].id == MPX_SCHED_NO_ID)
                slot = &st->pen[i];
            else if (st->pen[i].last_ns < oldest->last_ns)
                oldest = &st->pen[i];
        }
        slot = slot ? slot : oldest;
        slot->id = sf[h].id;
        slot->last_ns = now;
        d->penalize_idx = h;
    }
    return 1;
}

static int default_get_send(struct mpx_sched *s, const struct mpx_sched_conn *c,
                            const struct mpx_sched_sf *sf, uint32_t n, uint64_t now,
                            struct mpx_sched_decision *d)
{
    uint64_t dflt = default_srtt(sf, n);
    uint64_t maxlen = sendable(c);
    int tier = pick_tier(c, sf, n, MPX_SCHED_NO_IDX);
    uint32_t best = MPX_SCHED_NO_IDX, fast = MPX_SCHED_NO_IDX;
    uint64_t best_t = UINT64_MAX, fast_t = UINT64_MAX, len;

    if (c->pending == 0 || tier < 0)
        return 0;
    if (maxlen == 0)
        return oppo_retrans(s, c, sf, n, tier, now, d, dflt);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t t;

        if (!in_tier(c, &sf[i], tier))
            continue;
        t = arrival(&sf[i], min64(maxlen, sf_mss(&sf[i])), dflt);
        if (t < fast_t) {
            fast_t = t;
            fast = i;
        }
        if (has_space(&sf[i], maxlen) && t < best_t) {
            best_t = t;
            best = i;
        }
    }
    if (best == MPX_SCHED_NO_IDX)
        return 0; /* wait for the ACK clock of the tier */
    len = maxlen;
    if (s->params.ecf && fast != best && fast_t < best_t) {
        len = ecf_share(c, sf, n, tier, best, maxlen, dflt);
        if (len == 0)
            return 0; /* the faster subflows deliver everything sooner */
        /* Whole segments, the last one partly needed. */
        len = min64(maxlen, (len + sf_mss(&sf[best]) - 1) / sf_mss(&sf[best]) * sf_mss(&sf[best]));
    }
    decision_one(d, MPX_SCHED_NEW, c->snd_nxt,
                 grant(mpx_sched_sf_space(&sf[best]), len, sf_mss(&sf[best]), s->params.burst_max),
                 best);
    return 1;
}

static int redundant_get_send(struct mpx_sched *s, const struct mpx_sched_conn *c,
                              const struct mpx_sched_sf *sf, uint32_t n, uint64_t now,
                              struct mpx_sched_decision *d)
{
    uint64_t dflt = default_srtt(sf, n);
    uint64_t maxlen = sendable(c);
    int tier = pick_tier(c, sf, n, MPX_SCHED_NO_IDX);
    uint32_t p;

    (void)now;
    if (maxlen == 0 || tier < 0)
        return 0;
    p = best_with_space(c, sf, n, tier, maxlen, MPX_SCHED_NO_IDX, dflt);
    if (p == MPX_SCHED_NO_IDX)
        return 0;
    decision_one(d, MPX_SCHED_NEW, c->snd_nxt,
                 grant(mpx_sched_sf_space(&sf[p]), maxlen, sf_mss(&sf[p]), s->params.burst_max), p);
    /* Every other usable subflow of the tier gets the same bytes if its
     * send buffer takes them now; it sends them when its cwnd allows. */
    for (uint32_t i = 0; i < n && d->n < MPX_SCHED_SF_MAX; i++) {
        if (i != p && in_tier(c, &sf[i], tier) && sf[i].sndbuf_space >= d->len)
            d->sf_idx[d->n++] = i;
    }
    return 1;
}

static int roundrobin_get_send(struct mpx_sched *s, const struct mpx_sched_conn *c,
                               const struct mpx_sched_sf *sf, uint32_t n, uint64_t now,
                               struct mpx_sched_decision *d)
{
    uint64_t maxlen = sendable(c);
    int tier = pick_tier(c, sf, n, MPX_SCHED_NO_IDX);
    uint32_t start = 0;

    (void)now;
    if (maxlen == 0 || tier < 0)
        return 0;
    /* The turn after the subflow that had the last one (by id, so that
     * subflows coming and going do not reset the rotation). */
    for (uint32_t i = 0; i < n; i++) {
        if (sf[i].id == s->st.rr.last_id)
            start = i + 1;
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (start + k) % n;
        uint64_t len;

        if (!in_tier(c, &sf[i], tier) || !has_space(&sf[i], maxlen))
            continue;
        len = min64(min64(sf_mss(&sf[i]), maxlen), mpx_sched_sf_space(&sf[i]));
        decision_one(d, MPX_SCHED_NEW, c->snd_nxt, (uint32_t)len, i);
        s->st.rr.last_id = sf[i].id;
        return 1;
    }
    return 0;
}

/* ---- reinjection ------------------------------------------------------------ */

int mpx_sched_retrans_default(struct mpx_sched *s, const struct mpx_sched_conn *c,
                              const struct mpx_sched_sf *sf, uint32_t n,
                              const struct mpx_sched_retrans_req *req, uint64_t now,
                              struct mpx_sched_decision *d)
{
    uint64_t dflt = default_srtt(sf, n);
    int tier = pick_tier(c, sf, n, req->from_idx);
    uint32_t best = MPX_SCHED_NO_IDX;
    uint64_t best_t = UINT64_MAX;

    (void)now;
    if (tier < 0)
        return 0;
    /* Earliest arrival over the whole tier, space or not: stranded bytes
     * usually hold the receiver's in-order delivery, so waiting briefly for
     * a fast subflow beats a slow one with room. */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t t;

        if (i == req->from_idx || !in_tier(c, &sf[i], tier))
            continue;
        t = arrival(&sf[i], min64(req->len, sf_mss(&sf[i])), dflt);
        if (t < best_t) {
            best_t = t;
            best = i;
        }
    }
    if (best == MPX_SCHED_NO_IDX || !has_space(&sf[best], req->len))
        return 0;
    decision_one(
        d, MPX_SCHED_REINJECT, req->dsn,
        grant(mpx_sched_sf_space(&sf[best]), req->len, sf_mss(&sf[best]), s->params.burst_max),
        best);
    return 1;
}

/* ---- entry points ------------------------------------------------------------- */

static void decision_clear(struct mpx_sched_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->action = MPX_SCHED_NONE;
    d->penalize_idx = MPX_SCHED_NO_IDX;
}

static int finish(int rc, struct mpx_sched_decision *d)
{
    if (rc <= 0 || d->len == 0 || d->n == 0) {
        decision_clear(d);
        return rc < 0 ? rc : 0;
    }
    return 1;
}

int mpx_sched_get_send(struct mpx_sched *s, const struct mpx_sched_conn *c,
                       const struct mpx_sched_sf *sf, uint32_t n, uint64_t now,
                       struct mpx_sched_decision *d)
{
    if (!d)
        return MPX_ERR_INVAL;
    decision_clear(d);
    if (!s || !s->ops || !c || (n && !sf) || n > MPX_SCHED_SF_MAX)
        return MPX_ERR_INVAL;
    return finish(s->ops->get_send(s, c, sf, n, now, d), d);
}

int mpx_sched_get_retrans(struct mpx_sched *s, const struct mpx_sched_conn *c,
                          const struct mpx_sched_sf *sf, uint32_t n,
                          const struct mpx_sched_retrans_req *req, uint64_t now,
                          struct mpx_sched_decision *d)
{
    if (!d)
        return MPX_ERR_INVAL;
    decision_clear(d);
    if (!s || !s->ops || !c || !req || (n && !sf) || n > MPX_SCHED_SF_MAX || req->len == 0 ||
        (req->from_idx != MPX_SCHED_NO_IDX && req->from_idx >= n))
        return MPX_ERR_INVAL;
    if (s->ops->get_retrans)
        return finish(s->ops->get_retrans(s, c, sf, n, req, now, d), d);
    return finish(mpx_sched_retrans_default(s, c, sf, n, req, now, d), d);
}

void mpx_sched_commit(struct mpx_sched_conn *c, struct mpx_sched_sf *sf, uint32_t n,
                      const struct mpx_sched_decision *d)
{
    if (!c || !d || d->action == MPX_SCHED_NONE)
        return;
    if (d->action == MPX_SCHED_NEW) {
        c->snd_nxt += d->len;
        c->pending -= min64(d->len, c->pending);
    }
    for (uint32_t k = 0; k < d->n && sf; k++) {
        struct mpx_sched_sf *x;

        if (d->sf_idx[k] >= n)
            continue;
        x = &sf[d->sf_idx[k]];
        x->notsent = (uint32_t)min64((uint64_t)x->notsent + d->len, UINT32_MAX);
        x->sndbuf_space -= (uint32_t)min64(d->len, x->sndbuf_space);
    }
}

/* ---- stale rule ------------------------------------------------------------------ */

static bool stale_by_rule(const struct mpx_sched_sf *s, const struct mpx_sched_params *p,
                          uint64_t now)
{
    uint64_t t;

    if (!sf_alive(s) || s->unacked == 0)
        return false;
    if (s->rto_backoff > 0)
        return true;
    t = p->stale_min_ns;
    if (s->srtt_ns)
        t = max64(t, sat_add(muldiv(s->srtt_ns, p->stale_rtt_mult, 1), muldiv(s->rttvar_ns, 4, 1)));
    if (s->unacked <= sf_mss(s))
        t = max64(t, p->delack_ns);
    return now >= s->last_ack_ns && now - s->last_ack_ns >= t;
}

bool mpx_sched_sf_stale(const struct mpx_sched_sf *sf, uint32_t n, uint32_t idx,
                        const struct mpx_sched_params *p, uint64_t now)
{
    struct mpx_sched_params dp;

    if (!sf || idx >= n)
        return false;
    if (!p) {
        mpx_sched_params_default(&dp);
        p = &dp;
    }
    if (!stale_by_rule(&sf[idx], p, now))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (i != idx && sf_alive(&sf[i]) && !stale_by_rule(&sf[i], p, now))
            return true;
    }
    return false;
}

/* ---- ops tables ------------------------------------------------------------------- */

const struct mpx_sched_ops mpx_sched_default_ops = {
    .name = "default",
    .get_send = default_get_send,
    .get_retrans = NULL,
};

const struct mpx_sched_ops mpx_sched_redundant_ops = {
    .name = "redundant",
    .get_send = redundant_get_send,
    .get_retrans = NULL,
};

const struct mpx_sched_ops mpx_sched_roundrobin_ops = {
    .name = "roundrobin",
    .get_send = roundrobin_get_send,
    .get_retrans = NULL,
};
