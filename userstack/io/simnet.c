/*
 * simnet.c - the deterministic simulated network (model in simnet.h).
 *
 * Layout: PRNG, growable arrays, the event heap, packet pool, then per-link
 * behaviour (serializer, loss, blackouts, reordering), then the event
 * handlers and the public API. Everything is single-threaded and keyed on
 * virtual time; the only I/O is through the borrowed pcap writers.
 */
#include "simnet.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pcap.h"

/* --- PRNG: xoshiro256** seeded with splitmix64 (Vigna's reference
 * constructions), small and good enough for loss draws ------------------ */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* True with probability p. Draws nothing when p is 0 or 1, so a feature
 * that is off does not shift the stream the other features see. */
static bool rng_chance(struct rng *r, double p)
{
    if (!(p > 0.0))
        return false;
    if (p >= 1.0)
        return true;
    return (double)(rng_next(r) >> 11) * 0x1.0p-53 < p;
}

/* Uniform in [0, n] (n < 2^64 - 1), multiply-high: no modulo bias worth
 * the name and no loop. */
static uint64_t rng_upto(struct rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    return (uint64_t)(((unsigned __int128)rng_next(r) * ((unsigned __int128)n + 1)) >> 64);
}

/* --- structures --------------------------------------------------------- */

struct spkt {
    struct spkt *next;     /* free list */
    struct spkt *all_next; /* every packet ever allocated, for mpx_sim_del */
    uint64_t id;           /* changes when freed: events carry it to spot staleness */
    uint64_t sent_at;      /* entered the link */
    uint64_t arrival;      /* normal arrival (before any hold) */
    uint64_t dseq;         /* order of entry on its link direction */
    uint8_t *data;
    uint32_t len, cap;
    uint32_t epoch;     /* link epoch at send: a down in between loses it */
    uint32_t countdown; /* reorder: later deliveries still to wait for */
    int link;
    uint8_t dir;
    bool held;      /* in the direction's held list */
    bool reordered; /* was held back: its delivery does not release others */
};

enum ev_kind { EV_DELIVER, EV_TIMER, EV_AT };

struct ev {
    uint64_t time, seq; /* heap key */
    uint64_t tag;       /* packet id or timer generation */
    void *ptr;          /* struct spkt * or the mpx_sim_at arg */
    mpx_sim_at_fn fn;
    uint32_t kind, idx; /* idx: node for EV_TIMER */
};

struct window {
    uint64_t start, end;
};

struct qent {
    uint64_t done; /* serialization finishes */
    uint32_t len;
};

struct ldir {
    struct mpx_sim_dir_cfg cfg;
    struct mpx_sim_counters cnt;
    struct rng rng;
    bool ge_bad;
    uint64_t busy_until;   /* serializer free from */
    uint64_t last_arrival; /* FIFO clamp for jitter */
    uint64_t tx_seq;       /* packets entered, numbers spkt.dseq */
    struct qent *q;        /* bytes not yet serialized: ring, power-of-2 cap */
    size_t qcap, qhead, qlen;
    uint64_t qbytes;
    struct window *bo;
    size_t nbo, cbo;
    struct spkt **held;
    size_t nheld, cheld;
};

struct link {
    int node[2];
    struct mpx_addr addr[2];
    bool up;
    uint32_t epoch;
    struct ldir d[2];
    struct mpx_pcap *pcap;
    unsigned pcap_where;
};

struct node {
    const struct mpx_sim_node_ops *ops;
    void *ctx;
    uint64_t ev_at;  /* time of the live timer event, MPX_SIM_NEVER if none */
    uint64_t ev_gen; /* generation of the live timer event */
    uint64_t spin_at;
    uint32_t spins;
    bool disarmed; /* spin limit hit */
    bool in_cb;
};

struct mpx_sim {
    uint64_t now, seq;
    struct ev *heap;
    size_t nheap, cheap;
    struct node *nodes;
    size_t nnodes, cnodes;
    struct link *links;
    size_t nlinks, clinks;
    struct spkt *free_pkts, *all_pkts;
    uint64_t seed;
    struct rng rng;
    struct mpx_sim_stats stats;
    struct mpx_pcap *pcap;
    unsigned pcap_where;
};

/* Returns |arr| grown to hold at least |need| elements of |elem| bytes
 * (capacity in |*cap|), or NULL with |arr| untouched. */
static void *grow_to(void *arr, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 8;
    void *p;
    if (need <= *cap)
        return arr;
    while (n < need)
        n *= 2;
    p = realloc(arr, n * elem);
    if (p)
        *cap = n;
    return p;
}

/* GROW(array, capacity, need): 0, or MPX_ERR_NOMEM with the array kept. */
#define GROW(a, c, need)                                                                           \
    __extension__({                                                                                \
        void *grown_ = grow_to((a), &(c), (need), sizeof(*(a)));                                   \
        grown_ ? ((a) = grown_, 0) : MPX_ERR_NOMEM;                                                \
    })

/* --- event heap: binary min-heap on (time, seq) ---------------------- */

static bool ev_before(const struct ev *x, const struct ev *y)
{
    return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

static int heap_push(struct mpx_sim *sim, struct ev *e)
{
    size_t i;
    if (GROW(sim->heap, sim->cheap, sim->nheap + 1) < 0)
        return MPX_ERR_NOMEM;
    if (e->time < sim->now)
        e->time = sim->now;
    e->seq = sim->seq++;
    i = sim->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(e, &sim->heap[parent]))
            break;
        sim->heap[i] = sim->heap[parent];
        i = parent;
    }
    sim->heap[i] = *e;
    return 0;
}

static bool heap_pop(struct mpx_sim *sim, struct ev *out)
{
    struct ev last;
    size_t i = 0, n;
    if (sim->nheap == 0)
        return false;
    *out = sim->heap[0];
    n = --sim->nheap;
    if (n == 0)
        return true;
    last = sim->heap[n];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ev_before(&sim->heap[c + 1], &sim->heap[c]))
            c++;
        if (!ev_before(&sim->heap[c], &last))
            break;
        sim->heap[i] = sim->heap[c];
        i = c;
    }
    sim->heap[i] = last;
    return true;
}

/* --- packet pool ------------------------------------------------------- */

static struct spkt *pkt_get(struct mpx_sim *sim, const uint8_t *data, size_t len)
{
    struct spkt *p = sim->free_pkts;
    if (p) {
        sim->free_pkts = p->next;
    } else {
        p = calloc(1, sizeof(*p));
        if (!p)
            return NULL;
        p->all_next = sim->all_pkts;
        sim->all_pkts = p;
        sim->stats.pkt_buffers++;
    }
    if (p->cap < len) {
        /* Buffers only grow: after warm-up every packet fits. */
        uint32_t cap = len < 2048 ? 2048 : (uint32_t)len;
        uint8_t *d = realloc(p->data, cap);
        if (!d) {
            p->next = sim->free_pkts;
            sim->free_pkts = p;
            return NULL;
        }
        p->data = d;
        p->cap = cap;
    }
    memcpy(p->data, data, len);
    p->len = (uint32_t)len;
    p->held = p->reordered = false;
    p->countdown = 0;
    return p;
}

static void pkt_put(struct mpx_sim *sim, struct spkt *p)
{
    p->id++; /* pending events naming the old id are now stale */
    p->held = false;
    p->next = sim->free_pkts;
    sim->free_pkts = p;
}

/* --- routing ------------------------------------------------------------ */

static bool addr_same(const struct mpx_addr *x, const struct mpx_addr *y)
{
    return x->family == y->family && memcmp(x->a, y->a, sizeof(x->a)) == 0;
}

/* Source and destination of an IP packet; only what routing needs. */
static int ip_addrs(const uint8_t *p, size_t len, struct mpx_addr *src, struct mpx_addr *dst)
{
    memset(src, 0, sizeof(*src));
    memset(dst, 0, sizeof(*dst));
    if (len >= 20 && p[0] >> 4 == 4) {
        src->family = dst->family = MPX_AF_INET;
        memcpy(src->a, p + 12, 4);
        memcpy(dst->a, p + 16, 4);
        return 0;
    }
    if (len >= 40 && p[0] >> 4 == 6) {
        src->family = dst->family = MPX_AF_INET6;
        memcpy(src->a, p + 8, 16);
        memcpy(dst->a, p + 24, 16);
        return 0;
    }
    return MPX_ERR_PROTO;
}

static int route(const struct mpx_sim *sim, int node, const struct mpx_addr *src,
                 const struct mpx_addr *dst, int *dir)
{
    for (size_t i = 0; i < sim->nlinks; i++) {
        const struct link *l = &sim->links[i];
        for (int s = 0; s < 2; s++) {
            if (l->node[s] == node && addr_same(&l->addr[s], src) && addr_same(&l->addr[!s], dst)) {
                *dir = s;
                return (int)i;
            }
        }
    }
    return MPX_ERR_NOENT;
}

/* --- per-direction behaviour ------------------------------------------ */

static bool in_window(const struct ldir *d, uint64_t t)
{
    for (size_t i = 0; i < d->nbo; i++)
        if (d->bo[i].start <= t && t < d->bo[i].end)
            return true;
    return false;
}

/* A window overlaps a packet's time on the link [sent, arrival]. */
static bool overlaps_window(const struct ldir *d, uint64_t sent, uint64_t arrival)
{
    for (size_t i = 0; i < d->nbo; i++)
        if (d->bo[i].start <= arrival && d->bo[i].end > sent)
            return true;
    return false;
}

static void serializer_reset(struct ldir *d, uint64_t now)
{
    d->busy_until = now;
    d->last_arrival = now;
    d->qhead = d->qlen = 0;
    d->qbytes = 0;
}

static int ring_push(struct ldir *d, uint64_t done, uint32_t len)
{
    if (d->qlen == d->qcap) {
        size_t ncap = d->qcap ? d->qcap * 2 : 64;
        struct qent *nq = malloc(ncap * sizeof(*nq));
        if (!nq)
            return MPX_ERR_NOMEM;
        for (size_t i = 0; i < d->qlen; i++)
            nq[i] = d->q[(d->qhead + i) & (d->qcap - 1)];
        free(d->q);
        d->q = nq;
        d->qcap = ncap;
        d->qhead = 0;
    }
    d->q[(d->qhead + d->qlen) & (d->qcap - 1)] = (struct qent){done, len};
    d->qlen++;
    d->qbytes += len;
    return 0;
}

/*
 * FIFO in front of a rate-limited serializer. The backlog is every byte
 * whose serialization has not finished, the packet on the wire included
 * (like a qdisc limit). Returns the time serialization of this packet
 * ends, or MPX_SIM_NEVER when the packet is tail-dropped.
 */
static uint64_t serializer_admit(struct ldir *d, uint64_t now, uint32_t len)
{
    uint64_t start, tx;
    while (d->qlen && d->q[d->qhead].done <= now) {
        d->qbytes -= d->q[d->qhead].len;
        d->qhead = (d->qhead + 1) & (d->qcap - 1);
        d->qlen--;
    }
    if (d->cfg.queue_bytes && d->qbytes + len > d->cfg.queue_bytes)
        return MPX_SIM_NEVER;
    start = d->busy_until > now ? d->busy_until : now;
    tx = (uint64_t)(((unsigned __int128)len * 8000000000u + d->cfg.rate_bps - 1) / d->cfg.rate_bps);
    if (ring_push(d, start + tx, len) < 0)
        return MPX_SIM_NEVER;
    d->busy_until = start + tx;
    if (d->qbytes > d->cnt.queue_max_bytes)
        d->cnt.queue_max_bytes = d->qbytes;
    return d->busy_until;
}

static bool ge_lose(struct ldir *d)
{
    const struct mpx_sim_ge *g = &d->cfg.ge;
    if (!(g->p_good_to_bad > 0.0))
        return false;
    if (d->ge_bad) {
        if (rng_chance(&d->rng, g->p_bad_to_good))
            d->ge_bad = false;
    } else if (rng_chance(&d->rng, g->p_good_to_bad)) {
        d->ge_bad = true;
    }
    return rng_chance(&d->rng, d->ge_bad ? g->loss_bad : g->loss_good);
}

static void held_remove(struct ldir *d, struct spkt *p)
{
    for (size_t i = 0; i < d->nheld; i++) {
        if (d->held[i] == p) {
            memmove(&d->held[i], &d->held[i + 1], (d->nheld - i - 1) * sizeof(*d->held));
            d->nheld--;
            break;
        }
    }
    p->held = false;
}

static int schedule_delivery(struct mpx_sim *sim, struct spkt *p, uint64_t t)
{
    struct ev e = {.time = t, .tag = p->id, .ptr = p, .kind = EV_DELIVER};
    return heap_push(sim, &e);
}

/* A packet |q| that was not held back was delivered on |d|: count down
 * the held ones it passed (sent before it), releasing each right after it
 * (same time, later seq). */
static void held_countdown(struct mpx_sim *sim, struct ldir *d, const struct spkt *q)
{
    size_t i = 0;
    while (i < d->nheld) {
        struct spkt *p = d->held[i];
        if (p->dseq < q->dseq && p->countdown > 0 && --p->countdown == 0) {
            held_remove(d, p);
            /* Still pending under its timeout event too; whichever fires
             * first delivers, the other sees a changed id. */
            schedule_delivery(sim, p, p->arrival > sim->now ? p->arrival : sim->now);
            continue;
        }
        i++;
    }
}

/* Hold |p| back (step 5 of simnet.h). */
static uint64_t hold_back(struct ldir *d, struct spkt *p, uint64_t arrival)
{
    uint64_t extra = d->cfg.reorder_delay_ns;
    if (extra == 0 && d->cfg.reorder_depth > 0)
        extra = MPX_SIM_REORDER_MAX_HOLD_NS;
    d->cnt.reordered++;
    p->reordered = true;
    p->countdown = d->cfg.reorder_depth;
    if (p->countdown > 0 && GROW(d->held, d->cheld, d->nheld + 1) == 0) {
        d->held[d->nheld++] = p;
        p->held = true;
    }
    return arrival + extra;
}

static void capture(struct mpx_sim *sim, const struct link *l, unsigned point, const uint8_t *pkt,
                    size_t len)
{
    bool on_link = l->pcap && (l->pcap_where & point);
    if (on_link)
        mpx_pcap_write(l->pcap, sim->now, pkt, len);
    if (sim->pcap && (sim->pcap_where & point) && !(on_link && l->pcap == sim->pcap))
        mpx_pcap_write(sim->pcap, sim->now, pkt, len);
}

static void pkt_stamp(struct spkt *p, struct link *l, const struct mpx_sim *sim, int dir,
                      uint64_t arrival)
{
    p->link = (int)(l - sim->links);
    p->dir = (uint8_t)dir;
    p->epoch = l->epoch;
    p->sent_at = sim->now;
    p->arrival = arrival;
    p->dseq = l->d[dir].tx_seq++;
}

/* Steps 1-6 of simnet.h for a packet offered to direction |dir|. */
static int link_offer(struct mpx_sim *sim, struct link *l, int dir, const uint8_t *pkt,
                      uint32_t len)
{
    struct ldir *d = &l->d[dir];
    uint64_t now = sim->now, depart = now, arrival, at;
    struct spkt *p, *dup;

    if (!l->up) {
        d->cnt.drop_down++;
        return 0;
    }
    if (in_window(d, now)) {
        d->cnt.drop_blackout++;
        return 0;
    }
    if (d->cfg.rate_bps && (depart = serializer_admit(d, now, len)) == MPX_SIM_NEVER) {
        d->cnt.drop_queue++;
        return 0;
    }
    if (ge_lose(d)) {
        d->cnt.drop_burst++;
        return 0;
    }
    if (rng_chance(&d->rng, d->cfg.loss)) {
        d->cnt.drop_loss++;
        return 0;
    }
    arrival = depart + d->cfg.delay_ns + rng_upto(&d->rng, d->cfg.jitter_ns);
    if (!d->cfg.jitter_reorders && arrival < d->last_arrival)
        arrival = d->last_arrival;
    if (arrival > d->last_arrival)
        d->last_arrival = arrival;

    p = pkt_get(sim, pkt, len);
    if (!p)
        return MPX_ERR_NOMEM;
    pkt_stamp(p, l, sim, dir, arrival);
    at = rng_chance(&d->rng, d->cfg.reorder_prob) ? hold_back(d, p, arrival) : arrival;
    if (schedule_delivery(sim, p, at) < 0) {
        if (p->held)
            held_remove(d, p);
        pkt_put(sim, p);
        return MPX_ERR_NOMEM;
    }
    if (rng_chance(&d->rng, d->cfg.dup_prob) && (dup = pkt_get(sim, pkt, len)) != NULL) {
        pkt_stamp(dup, l, sim, dir, arrival);
        if (schedule_delivery(sim, dup, arrival) == 0)
            d->cnt.duplicated++;
        else
            pkt_put(sim, dup);
    }
    return 0;
}

/* --- node timers -------------------------------------------------------- */

/* Asks the node for its deadline and makes sure an event is queued no
 * later than it. Later deadlines reuse the queued event (it re-checks when
 * it fires), so re-arming a retransmission timer on every ACK does not
 * grow the heap. */
static void node_rearm(struct mpx_sim *sim, int n)
{
    struct node *nd = &sim->nodes[n];
    uint64_t d;
    struct ev e = {.kind = EV_TIMER, .idx = (uint32_t)n};
    if (nd->disarmed || !nd->ops || !nd->ops->next_deadline)
        return;
    d = nd->ops->next_deadline(nd->ctx);
    if (d == MPX_SIM_NEVER)
        return;
    if (d < sim->now)
        d = sim->now;
    if (d >= nd->ev_at)
        return;
    e.time = d;
    e.tag = ++nd->ev_gen;
    if (heap_push(sim, &e) == 0)
        nd->ev_at = d;
}

static void ev_timer(struct mpx_sim *sim, const struct ev *e)
{
    int n = (int)e->idx;
    struct node *nd = &sim->nodes[n];
    uint64_t d;
    if (e->tag != nd->ev_gen || nd->disarmed)
        return; /* superseded by an earlier one */
    nd->ev_at = MPX_SIM_NEVER;
    if (!nd->ops || !nd->ops->next_deadline)
        return;
    d = nd->ops->next_deadline(nd->ctx);
    if (d <= sim->now && nd->ops->on_timer) {
        if (nd->spin_at == sim->now) {
            if (++nd->spins >= MPX_SIM_TIMER_SPIN_LIMIT) {
                nd->disarmed = true;
                sim->stats.timer_spins++;
                return;
            }
        } else {
            nd->spin_at = sim->now;
            nd->spins = 0;
        }
        nd->in_cb = true;
        nd->ops->on_timer(nd->ctx, sim, n, sim->now);
        sim->nodes[n].in_cb = false; /* the callback may have grown nodes */
    }
    node_rearm(sim, n);
}

/* --- delivery ----------------------------------------------------------- */

static void ev_deliver(struct mpx_sim *sim, const struct ev *e)
{
    struct spkt *p = e->ptr;
    struct link *l;
    struct ldir *d;
    struct node *nd;
    int dst;

    if (p->id != e->tag)
        return; /* a held packet already delivered by its other event */
    l = &sim->links[p->link];
    d = &l->d[p->dir];
    if (p->held)
        held_remove(d, p);
    if (!l->up || p->epoch != l->epoch) {
        d->cnt.drop_down++;
    } else if (overlaps_window(d, p->sent_at, sim->now)) {
        d->cnt.drop_blackout++;
    } else {
        d->cnt.delivered_pkts++;
        d->cnt.delivered_bytes += p->len;
        capture(sim, l, MPX_SIM_CAP_RX, p->data, p->len);
        if (!p->reordered)
            held_countdown(sim, d, p);
        /* Nothing of l/d is used after the callback: it may add links. */
        dst = l->node[!p->dir];
        nd = &sim->nodes[dst];
        nd->disarmed = false;
        if (nd->ops && nd->ops->recv) {
            nd->in_cb = true;
            nd->ops->recv(nd->ctx, sim, dst, p->data, p->len, sim->now);
            sim->nodes[dst].in_cb = false;
        }
        node_rearm(sim, dst);
    }
    pkt_put(sim, p);
}

/* --- public API: lifecycle and topology -------------------------------- */

struct mpx_sim *mpx_sim_new(uint64_t seed)
{
    struct mpx_sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return NULL;
    sim->seed = seed;
    rng_seed(&sim->rng, seed);
    return sim;
}

void mpx_sim_del(struct mpx_sim *sim)
{
    struct spkt *p, *next;
    if (!sim)
        return;
    for (p = sim->all_pkts; p; p = next) {
        next = p->all_next;
        free(p->data);
        free(p);
    }
    for (size_t i = 0; i < sim->nlinks; i++) {
        for (int k = 0; k < 2; k++) {
            free(sim->links[i].d[k].q);
            free(sim->links[i].d[k].bo);
            free(sim->links[i].d[k].held);
        }
    }
    free(sim->links);
    free(sim->nodes);
    free(sim->heap);
    free(sim);
}

int mpx_sim_node_add(struct mpx_sim *sim, const struct mpx_sim_node_ops *ops, void *ctx)
{
    struct node *nd;
    if (sim->nnodes >= 1u << 30)
        return MPX_ERR_INVAL;
    if (GROW(sim->nodes, sim->cnodes, sim->nnodes + 1) < 0)
        return MPX_ERR_NOMEM;
    nd = &sim->nodes[sim->nnodes];
    memset(nd, 0, sizeof(*nd));
    nd->ops = ops;
    nd->ctx = ctx;
    nd->ev_at = MPX_SIM_NEVER;
    nd->spin_at = MPX_SIM_NEVER;
    sim->nnodes++;
    node_rearm(sim, (int)sim->nnodes - 1);
    return (int)sim->nnodes - 1;
}

static bool node_ok(const struct mpx_sim *sim, int node)
{
    return node >= 0 && (size_t)node < sim->nnodes;
}

int mpx_sim_node_set_ops(struct mpx_sim *sim, int node, const struct mpx_sim_node_ops *ops,
                         void *ctx)
{
    if (!node_ok(sim, node))
        return MPX_ERR_INVAL;
    sim->nodes[node].ops = ops;
    sim->nodes[node].ctx = ctx;
    mpx_sim_node_kick(sim, node);
    return 0;
}

void mpx_sim_node_kick(struct mpx_sim *sim, int node)
{
    if (!node_ok(sim, node))
        return;
    sim->nodes[node].disarmed = false;
    node_rearm(sim, node);
}

static void ldir_init(struct mpx_sim *sim, struct ldir *d, size_t link, int dir,
                      const struct mpx_sim_dir_cfg *cfg)
{
    /* One stream per direction, derived from (seed, link, dir). */
    uint64_t x = sim->seed ^ ((uint64_t)(link * 2 + (size_t)dir + 1) * 0xd1342543de82ef95ull);
    memset(d, 0, sizeof(*d));
    if (cfg)
        d->cfg = *cfg;
    rng_seed(&d->rng, splitmix64(&x));
    d->busy_until = sim->now;
}

int mpx_sim_link_add(struct mpx_sim *sim, int node_a, const struct mpx_addr *a, int node_b,
                     const struct mpx_addr *b, const struct mpx_sim_dir_cfg *ab,
                     const struct mpx_sim_dir_cfg *ba)
{
    struct link *l;
    if (!node_ok(sim, node_a) || !node_ok(sim, node_b) || node_a == node_b ||
        a->family != b->family || (a->family != MPX_AF_INET && a->family != MPX_AF_INET6))
        return MPX_ERR_INVAL;
    for (size_t i = 0; i < sim->nlinks; i++) {
        const struct link *o = &sim->links[i];
        if ((addr_same(&o->addr[0], a) && addr_same(&o->addr[1], b)) ||
            (addr_same(&o->addr[0], b) && addr_same(&o->addr[1], a)))
            return MPX_ERR_EXIST;
    }
    if (sim->nlinks >= 1u << 30)
        return MPX_ERR_INVAL;
    if (GROW(sim->links, sim->clinks, sim->nlinks + 1) < 0)
        return MPX_ERR_NOMEM;
    l = &sim->links[sim->nlinks];
    memset(l, 0, sizeof(*l));
    l->node[0] = node_a;
    l->node[1] = node_b;
    l->addr[0] = *a;
    l->addr[1] = *b;
    l->up = true;
    ldir_init(sim, &l->d[0], sim->nlinks, 0, ab);
    ldir_init(sim, &l->d[1], sim->nlinks, 1, ba);
    return (int)sim->nlinks++;
}

static struct link *link_get(const struct mpx_sim *sim, int link)
{
    if (link < 0 || (size_t)link >= sim->nlinks)
        return NULL;
    return &sim->links[link];
}

int mpx_sim_link_config(struct mpx_sim *sim, int link, enum mpx_sim_dir dir,
                        const struct mpx_sim_dir_cfg *cfg)
{
    struct link *l = link_get(sim, link);
    if (!l || !cfg || (unsigned)dir > MPX_SIM_BOTH)
        return MPX_ERR_INVAL;
    for (int k = 0; k < 2; k++)
        if (dir == MPX_SIM_BOTH || (int)dir == k)
            l->d[k].cfg = *cfg;
    return 0;
}

const struct mpx_sim_dir_cfg *mpx_sim_link_get_config(const struct mpx_sim *sim, int link,
                                                      enum mpx_sim_dir dir)
{
    const struct link *l = link_get(sim, link);
    if (!l || (unsigned)dir > MPX_SIM_BA)
        return NULL;
    return &l->d[dir].cfg;
}

int mpx_sim_link_set_up(struct mpx_sim *sim, int link, bool up)
{
    struct link *l = link_get(sim, link);
    if (!l)
        return MPX_ERR_INVAL;
    if (l->up && !up) {
        /* Everything queued or in flight is lost: packets carry the epoch
         * they were sent in and are dropped at arrival if it changed. */
        l->epoch++;
        serializer_reset(&l->d[0], sim->now);
        serializer_reset(&l->d[1], sim->now);
    }
    l->up = up;
    return 0;
}

bool mpx_sim_link_is_up(const struct mpx_sim *sim, int link)
{
    const struct link *l = link_get(sim, link);
    return l && l->up;
}

int mpx_sim_link_blackout(struct mpx_sim *sim, int link, enum mpx_sim_dir dir, uint64_t start_ns,
                          uint64_t end_ns)
{
    struct link *l = link_get(sim, link);
    if (!l || (unsigned)dir > MPX_SIM_BOTH || end_ns < start_ns)
        return MPX_ERR_INVAL;
    for (int k = 0; k < 2; k++) {
        struct ldir *d = &l->d[k];
        if (dir != MPX_SIM_BOTH && (int)dir != k)
            continue;
        if (GROW(d->bo, d->cbo, d->nbo + 1) < 0)
            return MPX_ERR_NOMEM;
        d->bo[d->nbo++] = (struct window){start_ns, end_ns};
    }
    return 0;
}

const struct mpx_sim_counters *mpx_sim_link_counters(const struct mpx_sim *sim, int link,
                                                     enum mpx_sim_dir dir)
{
    const struct link *l = link_get(sim, link);
    if (!l || (unsigned)dir > MPX_SIM_BA)
        return NULL;
    return &l->d[dir].cnt;
}

int mpx_sim_link_ends(const struct mpx_sim *sim, int link, int *node_a, struct mpx_addr *a,
                      int *node_b, struct mpx_addr *b)
{
    const struct link *l = link_get(sim, link);
    if (!l)
        return MPX_ERR_INVAL;
    if (node_a)
        *node_a = l->node[0];
    if (a)
        *a = l->addr[0];
    if (node_b)
        *node_b = l->node[1];
    if (b)
        *b = l->addr[1];
    return 0;
}

int mpx_sim_node_count(const struct mpx_sim *sim)
{
    return (int)sim->nnodes;
}

int mpx_sim_link_count(const struct mpx_sim *sim)
{
    return (int)sim->nlinks;
}

const struct mpx_sim_stats *mpx_sim_get_stats(const struct mpx_sim *sim)
{
    return &sim->stats;
}

int mpx_sim_set_pcap(struct mpx_sim *sim, int link, struct mpx_pcap *pcap, unsigned where)
{
    struct link *l;
    if (link == -1) {
        sim->pcap = pcap;
        sim->pcap_where = where;
        return 0;
    }
    l = link_get(sim, link);
    if (!l)
        return MPX_ERR_INVAL;
    l->pcap = pcap;
    l->pcap_where = where;
    return 0;
}

/* --- public API: traffic ------------------------------------------------ */

int mpx_sim_send(struct mpx_sim *sim, int node, const uint8_t *pkt, size_t len)
{
    struct mpx_addr src, dst;
    struct link *l;
    int dir, link, rc;

    if (!node_ok(sim, node) || len > MPX_SIM_MAX_PKT)
        return MPX_ERR_INVAL;
    if (ip_addrs(pkt, len, &src, &dst) < 0) {
        sim->stats.drop_malformed++;
        return MPX_ERR_PROTO;
    }
    link = route(sim, node, &src, &dst, &dir);
    if (link < 0) {
        sim->stats.drop_noroute++;
        return MPX_ERR_NOENT;
    }
    l = &sim->links[link];
    l->d[dir].cnt.sent_pkts++;
    l->d[dir].cnt.sent_bytes += len;
    capture(sim, l, MPX_SIM_CAP_TX, pkt, len);
    rc = link_offer(sim, l, dir, pkt, (uint32_t)len);
    /* The owner acted on the node outside a callback: its timers may have
     * moved (inside one, the sim re-queries when the callback returns). */
    if (!sim->nodes[node].in_cb)
        node_rearm(sim, node);
    return rc;
}

int mpx_sim_at(struct mpx_sim *sim, uint64_t t, mpx_sim_at_fn fn, void *arg)
{
    struct ev e = {.time = t, .ptr = arg, .fn = fn, .kind = EV_AT};
    if (!fn)
        return MPX_ERR_INVAL;
    return heap_push(sim, &e);
}

uint64_t mpx_sim_rand(struct mpx_sim *sim)
{
    return rng_next(&sim->rng);
}

/* --- public API: clock and running ------------------------------------- */

uint64_t mpx_sim_now(const struct mpx_sim *sim)
{
    return sim->now;
}

uint64_t mpx_sim_next_time(const struct mpx_sim *sim)
{
    return sim->nheap ? sim->heap[0].time : MPX_SIM_NEVER;
}

bool mpx_sim_step(struct mpx_sim *sim)
{
    struct ev e;
    if (!heap_pop(sim, &e))
        return false;
    assert(e.time >= sim->now);
    sim->now = e.time;
    sim->stats.events++;
    switch (e.kind) {
    case EV_DELIVER:
        ev_deliver(sim, &e);
        break;
    case EV_TIMER:
        ev_timer(sim, &e);
        break;
    case EV_AT:
        e.fn(e.ptr, sim, sim->now);
        break;
    default:
        assert(0);
    }
    return true;
}

uint64_t mpx_sim_run_until(struct mpx_sim *sim, uint64_t t)
{
    uint64_t n = 0;
    while (sim->nheap && sim->heap[0].time <= t) {
        mpx_sim_step(sim);
        n++;
    }
    if (t > sim->now)
        sim->now = t;
    return n;
}

bool mpx_sim_run_idle(struct mpx_sim *sim, uint64_t limit)
{
    while (sim->nheap && sim->heap[0].time <= limit)
        mpx_sim_step(sim);
    return sim->nheap == 0;
}

int mpx_sim_run_cond(struct mpx_sim *sim, mpx_sim_pred_fn pred, void *arg, uint64_t limit)
{
    if (pred(arg, sim))
        return 0;
    for (;;) {
        if (sim->nheap == 0)
            return MPX_ERR_AGAIN;
        if (sim->heap[0].time > limit) {
            if (limit > sim->now)
                sim->now = limit;
            return MPX_ERR_TIMEDOUT;
        }
        mpx_sim_step(sim);
        if (pred(arg, sim))
            return 0;
    }
}
