/*
 * mptcp_conn.c - the MPTCP connection ("msk", RFC 8684 section 3.3): the
 * data sequence space, data-level send buffer (from DATA_ACK) and receive
 * reassembly (by DSN), DATA_FIN both ways, the connection-level receive
 * window (section 3.3.4), fallback to TCP (section 3.7) and the
 * application API (mpx_conn_*).
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mptcp_int.h"

struct mpx_msk *mpx_msk_new(struct mpx_stack *st, bool server)
{
    struct mpx_msk *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    /* buffers and the checksum wish are the stack's at creation: a later
     * mpx_stack_set_* applies to new connections only (like a sysctl) */
    m->scap = st->cfg.sndbuf;
    m->rcap = st->cfg.rcvbuf;
    m->csum_want = st->cfg.checksum;
    m->sbuf = malloc(m->scap);
    m->rbuf = malloc(m->rcap);
    if (!m->sbuf || !m->rbuf) {
        free(m->sbuf);
        free(m->rbuf);
        free(m);
        return NULL;
    }
    m->st = st;
    m->server = server;
    m->kops = &mpx_key_ops_rfc8684;
    m->id = ++st->next_id ? st->next_id : ++st->next_id;
    if (mpx_token_insert(&st->ids, m->id, m) < 0) {
        free(m->sbuf);
        free(m->rbuf);
        free(m);
        return NULL;
    }
    m->next_local_id = 1;
    m->nodelay = st->cfg.tcp.nodelay;
    m->cork = st->cfg.tcp.cork;
    m->keepalive = st->cfg.tcp.keepalive;
    m->keep_idle = st->cfg.tcp.keep_idle;
    m->keep_intvl = st->cfg.tcp.keep_intvl;
    m->keep_cnt = st->cfg.tcp.keep_cnt;
    m->tos = st->cfg.tcp.tos;
    m->ttl = st->cfg.tcp.ttl;
    mpx_sched_init(&m->sched, st->cfg.scheduler ? mpx_sched_find(st->cfg.scheduler) : NULL);
    m->next = st->msks;
    if (m->next)
        m->next->prev = m;
    st->msks = m;
    mpx_act_wake(m);
    return m;
}

void mpx_msk_free(struct mpx_msk *m)
{
    struct mpx_stack *st = m->st;
    while (m->nsf)
        mpx_sf_free(m->sf[m->nsf - 1]);
    if (m->token_in)
        mpx_token_remove(&st->tokens, m->keys.ltoken);
    mpx_msk_ext_key_erase(m);
    if (m->pm_on) {
        mpx_msk_pm_mib_add(m, &st->mib_pm_gone);
        mpx_pm_conn_free(&m->pm);
    }
    mpx_token_remove(&st->ids, m->id);
    mpx_act_remove(m);
    mpx_accq_del(m);
    if (m->prev)
        m->prev->next = m->next;
    else
        st->msks = m->next;
    if (m->next)
        m->next->prev = m->prev;
    free(m->sbuf);
    free(m->rbuf);
    free(m->ooo);
    free(m);
}

/* Local key, token in the host table, and the send side's first DSN:
 * IDSN + 1 (section 3.3: the SYN "consumes" the IDSN). */
int mpx_msk_set_local_key(struct mpx_msk *m)
{
    int rv = m->kops->local_init(m);
    if (rv < 0)
        return rv;
    rv = mpx_token_insert(&m->st->tokens, m->keys.ltoken, m);
    if (rv < 0)
        return rv;
    m->token_in = true;
    m->snd_una = m->snd_nxt = m->write_seq = m->keys.lidsn + 1;
    m->wnd_end = m->snd_una + 65535;
    return 0;
}

/* The peer's key is known: its data starts at its IDSN + 1. */
void mpx_msk_start_data(struct mpx_msk *m)
{
    m->rd_seq = m->rcv_nxt = m->keys.ridsn + 1;
    m->mptcp = true;
}

/* Section 3.7: from now on the connection is the TCP stream of |sf|, one
 * way. Our pending data continues on an implicit infinite mapping. */
void mpx_msk_fallback(struct mpx_msk *m, struct mpx_sf *sf)
{
    if (m->fallback)
        return;
    m->fallback = true;
    m->mptcp = false;
    if (m->token_in) {
        mpx_token_remove(&m->st->tokens, m->keys.ltoken);
        m->token_in = false;
    }
    sf->mp_ok = true;
    sf->rx_inf = true;
    sf->rx_inf_off = sf->rx_off;
    sf->rx_inf_dsn = m->rcv_nxt;
    sf->tx_inf = true;
    sf->tx_inf_off = sf->tx_off;
    sf->tx_inf_dsn = m->snd_nxt;
    struct mpx_stack_event ev = {.type = MPX_SEV_FALLBACK, .conn = m->id};
    mpx_stack_event_push(m->st, &ev);
}

/* RFC 8684 section 3.3.1: a 32-bit DSN or DATA_ACK carries the low bits;
 * expand against a recent full value (Linux __mptcp_expand_seq). */
uint64_t mpx_msk_expand(uint64_t ref, uint64_t v32)
{
    int32_t d = (int32_t)((uint32_t)v32 - (uint32_t)ref);
    return ref + (uint64_t)(int64_t)d;
}

static void sbuf_trim(struct mpx_msk *m, uint64_t ack)
{
    uint64_t top = m->write_seq + (m->fin_sent ? 1 : 0);
    if (ack <= m->snd_una || ack > top)
        return;
    if (m->fin_sent && ack == m->write_seq + 1) {
        m->fin_acked = true;
        ack = m->write_seq;
    }
    m->bytes_acked += ack - m->snd_una;
    m->snd_una = ack;
    m->rtx_at = 0; /* progress: re-armed from now by the next push */
    m->rtx_backoff = 0;
    m->unacked_since = 0; /* the user timeout restarts on progress */
    if (m->snd_nxt < ack)
        m->snd_nxt = ack;
    /* drop reinjection ranges the peer now has */
    uint16_t k = 0;
    for (uint16_t i = 0; i < m->n_reinj; i++) {
        if (m->reinj[i].e <= ack)
            continue;
        if (m->reinj[i].s < ack)
            m->reinj[i].s = ack;
        m->reinj[k++] = m->reinj[i];
    }
    m->n_reinj = k;
    if (m->want_writable) {
        m->want_writable = false;
        struct mpx_stack_event ev = {.type = MPX_SEV_WRITABLE, .conn = m->id};
        mpx_stack_event_push(m->st, &ev);
    }
}

/* DATA_ACK (section 3.3.2) with the window of the segment carrying it,
 * which is relative to the DATA_ACK (section 3.3.4). */
void mpx_msk_data_ack(struct mpx_msk *m, uint64_t ack, uint32_t wnd)
{
    sbuf_trim(m, ack);
    if (ack >= m->snd_una && ack + wnd > m->wnd_end)
        m->wnd_end = ack + wnd;
}

uint64_t mpx_msk_rcv_wnd(const struct mpx_msk *m)
{
    uint64_t edge = m->rd_seq + m->rcap;
    return edge > m->rcv_nxt ? edge - m->rcv_nxt : 0;
}

uint32_t mpx_msk_rcv_space(const struct mpx_msk *m, uint64_t dsn)
{
    uint64_t edge = m->rd_seq + m->rcap;
    if (dsn >= edge)
        return 0;
    uint64_t n = edge - dsn;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void rbuf_copy(struct mpx_msk *m, uint64_t dsn, const uint8_t *p, uint32_t len)
{
    uint32_t at = (uint32_t)(dsn % m->rcap);
    uint32_t first = m->rcap - at < len ? m->rcap - at : len;
    memcpy(m->rbuf + at, p, first);
    if (first < len)
        memcpy(m->rbuf, p + first, len - first);
}

static void fin_check(struct mpx_msk *m)
{
    if (m->rcv_fin && !m->fin_in && m->rcv_nxt == m->rcv_fin_seq) {
        m->fin_in = true;
        m->rcv_nxt++; /* the DATA_FIN takes one DSN (section 3.3.3) */
        struct mpx_stack_event ev = {.type = MPX_SEV_READABLE, .conn = m->id};
        mpx_stack_event_push(m->st, &ev);
    }
}

/* Out-of-order ranges: sorted, disjoint, merged on insert. Returns false
 * when a new range is needed and none can be had (the caller keeps the
 * bytes in the subflow). */
static bool ooo_room(struct mpx_msk *m)
{
    if (m->n_ooo < m->cap_ooo)
        return true;
    if (m->cap_ooo >= MPX_MSK_OOO_MAX)
        return false;
    uint32_t cap = m->cap_ooo ? m->cap_ooo * 2 : 64;
    struct mpx_range *r = realloc(m->ooo, cap * sizeof(*r));
    if (!r)
        return false;
    m->ooo = r;
    m->cap_ooo = cap;
    return true;
}

/* First range whose end is >= |s| (binary search). */
static uint32_t ooo_find(const struct mpx_msk *m, uint64_t s)
{
    uint32_t lo = 0, hi = m->n_ooo;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->ooo[mid].e < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool mpx_msk_ooo_ok(struct mpx_msk *m, uint64_t dsn, uint32_t len)
{
    if (dsn <= m->rcv_nxt)
        return true;
    uint32_t i = ooo_find(m, dsn);
    if (i < m->n_ooo && m->ooo[i].s <= dsn + len)
        return true; /* merges */
    return ooo_room(m);
}

static void ooo_add(struct mpx_msk *m, uint64_t s, uint64_t e)
{
    struct mpx_mptcp_mib *mib = &m->st->mib;
    uint32_t i = ooo_find(m, s);
    if (i == m->n_ooo)
        mib->OFOQueueTail++;
    else
        mib->OFOQueue++;
    if (i < m->n_ooo && m->ooo[i].s <= e) {
        if (s < m->ooo[i].s)
            m->ooo[i].s = s;
        if (e > m->ooo[i].e)
            m->ooo[i].e = e;
        uint32_t k = i + 1;
        while (k < m->n_ooo && m->ooo[k].s <= m->ooo[i].e) {
            if (m->ooo[k].e > m->ooo[i].e)
                m->ooo[i].e = m->ooo[k].e;
            k++;
            mib->OFOMerge++;
        }
        if (k > i + 1) {
            memmove(&m->ooo[i + 1], &m->ooo[k], (size_t)(m->n_ooo - k) * sizeof(m->ooo[0]));
            m->n_ooo -= k - i - 1;
        }
        return;
    }
    if (!ooo_room(m)) {
        mib->RcvPruned++; /* cannot happen: the drain checked mpx_msk_ooo_ok */
        return;
    }
    memmove(&m->ooo[i + 1], &m->ooo[i], (size_t)(m->n_ooo - i) * sizeof(m->ooo[0]));
    m->ooo[i].s = s;
    m->ooo[i].e = e;
    m->n_ooo++;
}

void mpx_msk_rcv_data(struct mpx_msk *m, uint64_t dsn, const uint8_t *p, uint32_t len)
{
    uint64_t end = dsn + len, edge = m->rd_seq + m->rcap;
    if (end <= m->rcv_nxt) {
        m->st->mib.DuplicateData++;
        return;
    }
    if (dsn < m->rcv_nxt) {
        p += m->rcv_nxt - dsn;
        dsn = m->rcv_nxt;
    }
    if (end > edge)
        end = edge;
    if (end <= dsn)
        return;
    rbuf_copy(m, dsn, p, (uint32_t)(end - dsn));
    m->bytes_received += end - dsn;
    if (dsn > m->rcv_nxt) {
        ooo_add(m, dsn, end);
        return;
    }
    m->rcv_nxt = end;
    uint32_t k = 0;
    while (k < m->n_ooo && m->ooo[k].s <= m->rcv_nxt) {
        if (m->ooo[k].e > m->rcv_nxt)
            m->rcv_nxt = m->ooo[k].e;
        k++;
    }
    if (k) {
        memmove(&m->ooo[0], &m->ooo[k], (size_t)(m->n_ooo - k) * sizeof(m->ooo[0]));
        m->n_ooo -= k;
    }
    fin_check(m);
    struct mpx_stack_event ev = {.type = MPX_SEV_READABLE, .conn = m->id};
    mpx_stack_event_push(m->st, &ev);
}

void mpx_msk_rcv_fin(struct mpx_msk *m, uint64_t fin_dsn)
{
    if (m->rcv_fin)
        return;
    if (fin_dsn < m->rcv_nxt - (m->fin_in ? 1 : 0))
        return;
    m->rcv_fin = true;
    m->rcv_fin_seq = fin_dsn;
    fin_check(m);
}

/* Queue [s, e) for reinjection, the queue kept in DSN order: the lowest
 * range is what the peer's DATA_ACK waits for, it goes first (a range
 * queued later but lower, e.g. by the connection-level timer, must not
 * wait behind megabytes queued before it). Nothing if a range of the
 * same origin holds it already (a subflow is queued when it goes stale
 * and again when it closes); extends a range of the same origin that
 * ends at |s|. False if the queue is full. */
static bool reinj_add(struct mpx_msk *m, uint64_t s, uint64_t e, uint32_t from)
{
    for (uint16_t i = 0; i < m->n_reinj; i++)
        if (m->reinj[i].from == from && m->reinj[i].s <= s && e <= m->reinj[i].e)
            return true;
    uint16_t at = m->n_reinj;
    while (at > 0 && m->reinj[at - 1].s > s)
        at--;
    if (at > 0 && m->reinj[at - 1].e == s && m->reinj[at - 1].from == from) {
        m->reinj[at - 1].e = e;
        return true;
    }
    if (m->n_reinj == MPX_MSK_REINJ)
        return false;
    memmove(&m->reinj[at + 1], &m->reinj[at], (size_t)(m->n_reinj - at) * sizeof(m->reinj[0]));
    m->reinj[at].s = s;
    m->reinj[at].e = e;
    m->reinj[at].from = from;
    m->n_reinj++;
    return true;
}

/* Queue the DSN ranges |sf| carried that are not DATA_ACKed yet, for
 * another subflow (Linux __mptcp_retrans / reinjection). */
void mpx_msk_reinject_sf(struct mpx_msk *m, struct mpx_sf *sf)
{
    for (uint16_t i = 0; i < sf->tx.n; i++) {
        const struct mpx_map *mp = &sf->tx.m[(sf->tx.head + i) % MPX_SF_MAPS];
        uint64_t s = mp->dsn, e = mp->dsn + mp->len;
        if (e <= m->snd_una || mp->len == 0)
            continue;
        if (s < m->snd_una)
            s = m->snd_una;
        if (!reinj_add(m, s, e, sf->id))
            break;
    }
    if (sf->gone && (sf->fin_map || (m->fin_sent && !m->fin_acked)))
        m->fin_sent = false; /* DATA_FIN goes out again elsewhere */
}

/* Hand [dsn, dsn + len) of the send buffer to |sf|, in at most two
 * contiguous pieces (ring wrap). */
static uint32_t push_range(struct mpx_msk *m, struct mpx_sf *sf, uint64_t dsn, uint32_t len,
                           bool *fin, uint64_t now)
{
    uint32_t done = 0;
    bool want_fin = fin && *fin;
    if (fin)
        *fin = false;
    while (done < len) {
        uint32_t at = (uint32_t)((dsn + done) % m->scap);
        uint32_t n = len - done;
        if (n > m->scap - at)
            n = m->scap - at;
        bool f = want_fin && done + n == len;
        uint32_t took = mpx_sf_push(sf, dsn + done, m->sbuf + at, n, &f, now);
        done += took;
        if (f && fin)
            *fin = true;
        if (took < n)
            break;
    }
    return done;
}

static void push_fallback(struct mpx_msk *m, uint64_t now)
{
    struct mpx_sf *sf = m->nsf ? m->sf[0] : NULL;
    if (!sf || sf->gone)
        return;
    while (m->snd_nxt < m->write_seq) {
        uint64_t n = m->write_seq - m->snd_nxt;
        uint32_t took = push_range(m, sf, m->snd_nxt, n > 65536 ? 65536 : (uint32_t)n, NULL, now);
        if (!took)
            break;
        m->snd_nxt += took;
        m->bytes_sent += took;
    }
    if (m->shut_wr && !m->fin_sent && m->snd_nxt == m->write_seq) {
        m->fin_sent = true;
        mpx_tcp_shutdown(sf->tcp, MPX_TCP_SHUT_WR, now);
    }
}

/* The scheduler's inputs: one entry per subflow, and the connection. */
struct snap {
    struct mpx_sched_sf sf[MPX_STACK_MAX_SUBFLOWS];
    struct mpx_sched_conn c;
    uint32_t n;
};

static void snap_take(struct mpx_msk *m, struct snap *s)
{
    s->n = m->nsf;
    for (uint8_t i = 0; i < m->nsf; i++)
        mpx_sf_snapshot(m->sf[i], &s->sf[i]);
    memset(&s->c, 0, sizeof(s->c));
    s->c.snd_una = m->snd_una;
    s->c.snd_nxt = m->snd_nxt;
    s->c.peer_rcv_wnd_end = m->wnd_end;
    s->c.pending = m->write_seq - m->snd_nxt;
    s->c.fallback = m->fallback;
    s->c.head_sf_id = MPX_SCHED_NO_ID;
    for (uint8_t i = 0; i < m->nsf && s->c.head_sf_id == MPX_SCHED_NO_ID; i++) {
        const struct mpx_sf *sf = m->sf[i];
        for (uint16_t k = 0; k < sf->tx.n; k++) {
            const struct mpx_map *mp = &sf->tx.m[(sf->tx.head + k) % MPX_SF_MAPS];
            if (mp->dsn <= m->snd_una && m->snd_una < mp->dsn + mp->len) {
                s->c.head_sf_id = sf->id;
                s->c.head_len = (uint32_t)(mp->dsn + mp->len - m->snd_una);
                break;
            }
        }
    }
}

static int idx_of(const struct mpx_msk *m, uint32_t id)
{
    for (uint8_t i = 0; i < m->nsf; i++)
        if (m->sf[i]->id == id)
            return i;
    return -1;
}

/* Stale subflows (mptcp_sched.h stale rule): their data goes elsewhere. */
static void check_stale(struct mpx_msk *m, struct snap *s, uint64_t now)
{
    for (uint32_t i = 0; i < s->n; i++) {
        struct mpx_sf *sf = m->sf[i];
        if (sf->gone)
            continue;
        bool stale = mpx_sched_sf_stale(s->sf, s->n, i, &m->sched.params, now);
        if (stale && !sf->stale) {
            sf->stale = true;
            s->sf[i].stale = true;
            m->st->mib.SubflowStale++;
            mpx_msk_reinject_sf(m, sf);
        } else if (!stale && sf->stale && s->sf[i].rto_backoff == 0) {
            sf->stale = false;
            s->sf[i].stale = false;
            m->st->mib.SubflowRecover++;
        }
    }
}

static void penalize(struct mpx_sf *sf)
{
    struct mpx_cc *cc = mpx_tcp_cc(sf->tcp);
    uint32_t min = 2 * (cc->mss ? cc->mss : 536);
    cc->cwnd = cc->cwnd / 2 > min ? cc->cwnd / 2 : min;
    cc->ssthresh = cc->cwnd;
}

/* Carry out one decision; returns false when the subflows took less. */
static bool apply(struct mpx_msk *m, struct snap *s, struct mpx_sched_decision *d, uint64_t now)
{
    bool all = true;
    if (d->action == MPX_SCHED_NEW && d->n && d->dsn + d->len < m->write_seq) {
        /* Whole segments only, so that no tail waits in the engine to be
         * merged with the next mapping's bytes (one mapping per segment). */
        d->len = mpx_sf_align(m->sf[d->sf_idx[0]], d->dsn, d->len);
    }
    uint32_t took_min = d->len;
    for (uint32_t i = 0; i < d->n; i++) {
        struct mpx_sf *sf = m->sf[d->sf_idx[i]];
        /* Section 3.3.3: every mapping that ends at the DATA_FIN carries
         * it once all data is mapped, a reinjection too (as Linux
         * mptcp_write_data_fin does): a receiver that takes the last bytes
         * from a copy without it and sees the DATA_FIN only on a later
         * copy whose bytes are all duplicates may never act on it (Linux
         * 6.18 records it but never wakes its worker: the close hangs). */
        bool fin = m->shut_wr && d->dsn + d->len == m->write_seq &&
                   (d->action == MPX_SCHED_NEW || m->snd_nxt == m->write_seq);
        uint32_t took = push_range(m, sf, d->dsn, d->len, &fin, now);
        if (fin)
            m->fin_sent = true;
        if (took < took_min)
            took_min = took;
    }
    if (d->action == MPX_SCHED_NEW) {
        m->snd_nxt += took_min;
        m->bytes_sent += took_min;
    } else {
        m->st->mib.MPTCPRetrans++;
        m->retransmits++;
        m->bytes_retrans += took_min;
    }
    if (took_min)
        m->last_sent = now;
    if (d->penalize_idx != MPX_SCHED_NO_IDX && d->penalize_idx < s->n)
        penalize(m->sf[d->penalize_idx]);
    if (took_min < d->len)
        all = false;
    /* what went out: a subflow may take less than decided (a mapping
     * ends at MPX_MAP_MAX in whole segments, its send buffer or mapping
     * ring fills); push_reinject moves its range on by this only */
    d->len = took_min;
    return all && took_min > 0;
}

/* Send the queued ranges, lowest DSN first. A range the scheduler has
 * no subflow for (its origin is the only subflow left, or no room) stays
 * queued and the next ones are tried: a range from a subflow that went
 * stale and came back, waiting behind the DATA_ACK's hole, blocked every
 * range behind it for ever once the other subflow was removed (a stall
 * against Linux, test_interop.py engine_remove_addr). */
static void push_reinject(struct mpx_msk *m, struct snap *s, uint64_t now)
{
    uint16_t i = 0;
    while (i < m->n_reinj) {
        struct mpx_reinj *r = &m->reinj[i];
        if (r->e <= m->snd_una || r->s >= r->e) {
            memmove(&m->reinj[i], &m->reinj[i + 1], (size_t)(m->n_reinj - i - 1) * sizeof(*r));
            m->n_reinj--;
            continue;
        }
        int from = idx_of(m, r->from);
        uint64_t len = r->e - r->s;
        struct mpx_sched_retrans_req req = {
            .from_idx = from < 0 ? MPX_SCHED_NO_IDX : (uint32_t)from,
            .dsn = r->s,
            .len = len > 65535 ? 65535 : (uint32_t)len,
        };
        struct mpx_sched_decision d;
        if (mpx_sched_get_retrans(&m->sched, &s->c, s->sf, s->n, &req, now, &d) <= 0) {
            i++;
            continue;
        }
        bool ok = apply(m, s, &d, now);
        /* d.len is what the subflow took: the rest stays queued */
        if (d.dsn + d.len > r->s)
            r->s = d.dsn + d.len;
        snap_take(m, s);
        if (!ok)
            return;
    }
}

/* Linux mptcp_set_timeout(): the largest RTO of the live subflows. */
static uint64_t msk_rto(const struct mpx_msk *m)
{
    uint64_t rto = 0;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (!m->sf[i]->gone && m->sf[i]->tcp->rto > rto)
            rto = m->sf[i]->tcp->rto;
    return rto ? rto : 200 * MPX_NS_PER_MS;
}

/* Our DATA_FIN is out and not DATA_ACKed yet: it is retransmitted like
 * data (section 3.3.3: it is acknowledged at the connection level). */
static bool fin_unacked(const struct mpx_msk *m)
{
    return m->fin_sent && !m->fin_acked;
}

static void rtx_arm(struct mpx_msk *m, uint64_t now)
{
    if (!m->mptcp || m->fallback || (m->snd_una >= m->snd_nxt && !fin_unacked(m))) {
        m->rtx_at = 0;
        m->rtx_backoff = 0;
        m->unacked_since = 0;
        return;
    }
    if (!m->unacked_since)
        m->unacked_since = now;
    if (!m->rtx_at)
        m->rtx_at = now + (msk_rto(m) << m->rtx_backoff);
    /* TCP_USER_TIMEOUT (RFC 5482; Linux tcp_retransmit_timer): the timer
     * also fires when the timeout expires, to give up then */
    if (m->user_timeout && m->unacked_since + m->user_timeout < m->rtx_at)
        m->rtx_at = m->unacked_since + m->user_timeout;
}

static void user_timeout_abort(struct mpx_msk *m, uint64_t now);

/* The end of the tx mapping of any subflow that holds DSN |x| (the
 * subflow is still responsible for it), or 0 with |*next| = the first
 * mapped DSN above |x| (UINT64_MAX if none). */
static uint64_t held_end(const struct mpx_msk *m, uint64_t x, uint64_t *next)
{
    *next = UINT64_MAX;
    for (uint8_t i = 0; i < m->nsf; i++) {
        const struct mpx_sf *sf = m->sf[i];
        if (sf->gone)
            continue;
        for (uint16_t k = 0; k < sf->tx.n; k++) {
            const struct mpx_map *mp = &sf->tx.m[(sf->tx.head + k) % MPX_SF_MAPS];
            if (mp->dsn <= x && x < mp->dsn + mp->len)
                return mp->dsn + mp->len;
            if (mp->dsn > x && mp->dsn < *next)
                *next = mp->dsn;
        }
    }
    return 0;
}

static void rtx_queue(struct mpx_msk *m, uint64_t s, uint64_t e, uint32_t from)
{
    for (uint16_t i = 0; i < m->n_reinj; i++)
        if (m->reinj[i].s <= s && e <= m->reinj[i].e)
            return; /* already queued */
    reinj_add(m, s, e, from);
}

/* Only the DATA_FIN is unacknowledged (every byte is DATA_ACKed): send it
 * again as a DATA_FIN-only mapping (SSN 0, DLL 1) on a pure ACK of the
 * best subflow that can still send one, as Linux __mptcp_retrans does with
 * mptcp_send_ack. Its subflow FIN, if any, is TCP's to retransmit. */
static void datafin_rtx(struct mpx_msk *m)
{
    struct mpx_sf *best = NULL;
    for (uint8_t i = 0; i < m->nsf; i++) {
        struct mpx_sf *sf = m->sf[i];
        enum mpx_tcp_state st = mpx_tcp_get_state(sf->tcp);
        if (sf->gone || st < MPX_TCP_ESTABLISHED || st == MPX_TCP_TIME_WAIT)
            continue;
        if (!best || (best->stale && !sf->stale) ||
            ((best->backup || best->peer_backup) && !sf->backup && !sf->peer_backup))
            best = sf;
    }
    if (!best)
        return;
    best->fin_rtx = true;
    mpx_tcp_send_ack(best->tcp);
    m->st->mib.MPXDataFinRetrans++;
}

/* Linux __mptcp_retrans: nothing DATA_ACKed for a (subflow) RTO although
 * no subflow failed or looks stale (a path that delivers the subflow's
 * segments but not to the peer's connection level, or every path stale
 * at once): send the oldest unacknowledged data again on another
 * subflow, and with it every range no subflow holds any more (its
 * subflow saw it acknowledged, the peer never DATA_ACKed it: nobody else
 * will ever send it again). The receiver drops what it has already
 * (DuplicateData). */
void mpx_msk_rtx_timer(struct mpx_msk *m, uint64_t now)
{
    m->rtx_at = 0;
    if (!m->mptcp || m->fallback || m->closed || (m->snd_una >= m->snd_nxt && !fin_unacked(m)))
        return;
    if (m->user_timeout && m->unacked_since && now - m->unacked_since >= m->user_timeout) {
        user_timeout_abort(m, now);
        return;
    }
    if (m->snd_una >= m->snd_nxt) {
        datafin_rtx(m);
        if (m->rtx_backoff < 6)
            m->rtx_backoff++;
        rtx_arm(m, now);
        return;
    }
    struct snap s;
    snap_take(m, &s);
    uint16_t before = m->n_reinj;
    uint64_t x = m->snd_una, next;
    if (s.c.head_sf_id != MPX_SCHED_NO_ID) {
        /* A live subflow still holds the head: an ordinary loss there.
         * Only the head goes again (Linux __mptcp_retrans); what other
         * subflows delivered after it waits in the peer's out-of-order
         * queue, and sending all that again was a reinjection storm (1469
         * reinjections, 853 duplicates at the receiver on 50 Mbit/s at
         * 10 ms + 50 at 60 ms in slow start). */
        uint64_t e = m->snd_una + s.c.head_len;
        rtx_queue(m, m->snd_una, e < m->snd_nxt ? e : m->snd_nxt, s.c.head_sf_id);
        x = m->snd_nxt;
    }
    for (int guard = 0; guard < 2 * MPX_MSK_REINJ && x < m->snd_nxt; guard++) {
        uint64_t end = held_end(m, x, &next);
        if (end) {
            x = end;
            continue;
        }
        end = next < m->snd_nxt ? next : m->snd_nxt;
        rtx_queue(m, x, end, MPX_SCHED_NO_ID);
        x = end;
    }
    if (m->n_reinj != before)
        m->rtx_fired++;
    if (m->rtx_backoff < 6)
        m->rtx_backoff++;
    mpx_msk_push(m, now);
}

static struct mpx_sf *fin_subflow(struct mpx_msk *m)
{
    struct mpx_sf *best = NULL;
    for (uint8_t i = 0; i < m->nsf; i++) {
        struct mpx_sf *sf = m->sf[i];
        if (!mpx_sf_usable(sf) || mpx_sf_notsent(sf))
            continue;
        /* not on the third ACK itself: it must carry MP_CAPABLE */
        if (!sf->join && sf->client && sf->tcp->segs_out < 2)
            continue;
        if (!best || (best->stale && !sf->stale) ||
            ((best->backup || best->peer_backup) && !sf->backup && !sf->peer_backup))
            best = sf;
    }
    return best;
}

/* Nagle (RFC 9293 section 3.7.4) and TCP_CORK at the connection level:
 * the bytes that may go to the subflows now. A tail shorter than a full
 * segment waits (Nagle: while data is unacknowledged, as it will be once
 * the full segments before it went; cork: until more comes, but at most
 * the cork timeout, 200 ms like Linux tcp(7), then it goes: |cork_at|). A
 * shutdown sends it. */
static uint64_t sendable(struct mpx_msk *m, uint64_t now)
{
    uint64_t pending = m->write_seq - m->snd_nxt;
    if (m->shut_wr || (m->nodelay && !m->cork)) {
        m->cork_at = 0;
        m->cork_expired = false;
        return pending;
    }
    uint32_t unit = 0;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (mpx_sf_usable(m->sf[i]) && mpx_sf_unit(m->sf[i]) > unit)
            unit = mpx_sf_unit(m->sf[i]);
    if (!unit || (!m->cork && m->snd_una == m->snd_nxt && pending < unit))
        return pending;
    uint64_t tail = pending % unit;
    if (!m->cork || !tail) {
        m->cork_at = 0;
        m->cork_expired = false;
        return pending - tail;
    }
    if (m->cork_at && now >= m->cork_at) {
        m->cork_at = 0; /* not a deadline any more (mpx_stack_next_deadline) */
        m->cork_expired = true;
    }
    if (m->cork_expired)
        return pending;
    if (!m->cork_at)
        m->cork_at = now + m->st->cfg.tcp.cork_timeout;
    return pending - tail;
}

void mpx_msk_push(struct mpx_msk *m, uint64_t now)
{
    if (m->closed || !m->nsf)
        return;
    if (m->fallback) {
        push_fallback(m, now);
        return;
    }
    if (!m->mptcp)
        return;
    struct snap s;
    snap_take(m, &s);
    check_stale(m, &s, now);
    push_reinject(m, &s, now);
    for (int guard = 0; guard < 4096 && sendable(m, now); guard++) {
        struct mpx_sched_decision d;
        s.c.snd_nxt = m->snd_nxt;
        s.c.pending = sendable(m, now);
        if (mpx_sched_get_send(&m->sched, &s.c, s.sf, s.n, now, &d) <= 0)
            break;
        if (!apply(m, &s, &d, now))
            break;
        /* re-take rather than mpx_sched_commit: the subflow snapshot
         * applies our one-mapping-per-segment rule (mpx_sf_snapshot) */
        snap_take(m, &s);
    }
    /* DATA_FIN with nothing left to map it on: a DATA_FIN-only mapping
     * (SSN 0, DLL 1) on a pure ACK, as Linux mptcp_subflow_shutdown sends
     * it (tcp_send_ack, mptcp_write_data_fin). Not on a subflow FIN (RFC
     * 8684 3.3.3: a DATA_FIN closes no subflow): a subflow that has sent
     * its FIN carries no more data, so what another subflow lost had
     * nowhere to go once that one died. The connection's rtx timer sends
     * it again until it is DATA_ACKed (datafin_rtx). */
    if (m->shut_wr && !m->fin_sent && m->snd_nxt == m->write_seq && !m->n_reinj) {
        struct mpx_sf *sf = fin_subflow(m);
        if (sf) {
            sf->fin_rtx = true;
            m->fin_sent = true;
            mpx_tcp_send_ack(sf->tcp);
        }
    }
    rtx_arm(m, now); /* after the DATA_FIN: it is covered too */
}

static bool sf_done(const struct mpx_sf *sf)
{
    enum mpx_tcp_state s = mpx_tcp_get_state(sf->tcp);
    return sf->gone || s == MPX_TCP_CLOSED || s == MPX_TCP_TIME_WAIT;
}

static void msk_closed(struct mpx_msk *m, int err)
{
    if (m->closed)
        return;
    m->closed = true;
    if (!m->error)
        m->error = err;
    if (m->token_in) {
        mpx_token_remove(&m->st->tokens, m->keys.ltoken);
        m->token_in = false;
    }
    if (m->est_ev && m->st->mib.MPCurrEstab && m->mptcp)
        m->st->mib.MPCurrEstab--;
    struct mpx_stack_event ev = {.type = MPX_SEV_CONN_CLOSED, .conn = m->id, .error = m->error};
    mpx_stack_event_push(m->st, &ev);
}

/* Section 3.3.3: once both DATA_FINs are acknowledged the subflows close;
 * the connection is closed when none is left. */
void mpx_msk_check_close(struct mpx_msk *m, uint64_t now)
{
    if (m->closed)
        return;
    if (m->orphan && !m->tout_at && m->snd_una >= m->write_seq)
        m->tout_at = now + MPX_MSK_CLOSE_TIMEOUT;
    bool all_done = true;
    int err = 0;
    for (uint8_t i = 0; i < m->nsf; i++) {
        if (!sf_done(m->sf[i]))
            all_done = false;
        else if (m->sf[i]->error)
            err = m->sf[i]->error;
    }
    if (m->fallback) {
        if (all_done)
            msk_closed(m, m->fin_in && m->fin_acked ? 0 : err);
        return;
    }
    if (m->fin_in && m->fin_acked) {
        for (uint8_t i = 0; i < m->nsf; i++) {
            struct mpx_sf *sf = m->sf[i];
            if (!sf->closing && !sf_done(sf)) {
                sf->closing = true;
                sf->shut = true;
                mpx_tcp_close(sf->tcp, now);
            }
        }
        if (all_done)
            msk_closed(m, 0);
        return;
    }
    /* TIME_WAIT subflows may still carry the last DATA_ACK: wait for
     * them to be CLOSED before calling the connection failed */
    bool all_gone = true;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (mpx_tcp_get_state(m->sf[i]->tcp) != MPX_TCP_CLOSED)
            all_gone = false;
    if (all_done && m->nsf && (all_gone || m->error || err))
        msk_closed(m, err ? err : MPX_ERR_RESET);
}

/* --- application API ----------------------------------------------------- */

static struct mpx_msk *app_msk(const struct mpx_stack *st, uint32_t id)
{
    struct mpx_msk *m = mpx_stack_find(st, id);
    return m && !m->orphan ? m : NULL;
}

long mpx_conn_send(struct mpx_stack *st, uint32_t conn, const void *data, size_t len, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    if (m->closed)
        return m->error ? m->error : MPX_ERR_CLOSED;
    if (m->shut_wr)
        return MPX_ERR_STATE;
    uint64_t used = m->write_seq - m->snd_una;
    uint64_t room = m->scap > used ? m->scap - used : 0;
    size_t n = len < room ? len : (size_t)room;
    const uint8_t *p = data;
    uint32_t at = (uint32_t)(m->write_seq % m->scap);
    size_t first = m->scap - at < n ? m->scap - at : n;
    memcpy(m->sbuf + at, p, first);
    if (first < n)
        memcpy(m->sbuf, p + first, n - first);
    m->write_seq += n;
    if (n < len)
        m->want_writable = true;
    mpx_msk_push(m, now);
    return (long)n;
}

long mpx_conn_recv(struct mpx_stack *st, uint32_t conn, void *buf, size_t len, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    uint64_t data_end = m->rcv_nxt - (m->fin_in ? 1 : 0);
    uint64_t avail = data_end - m->rd_seq;
    if (!avail) {
        if (m->fin_in)
            return 0;
        if (m->closed)
            return m->error ? m->error : 0;
        return MPX_ERR_AGAIN;
    }
    size_t n = len < avail ? len : (size_t)avail;
    uint32_t at = (uint32_t)(m->rd_seq % m->rcap);
    size_t first = m->rcap - at < n ? m->rcap - at : n;
    memcpy(buf, m->rbuf + at, first);
    if (first < n)
        memcpy((uint8_t *)buf + first, m->rbuf, n - first);
    m->rd_seq += n;
    /* room opened: take bytes the subflows held back, tell the peer */
    for (uint8_t i = 0; i < m->nsf; i++) {
        mpx_sf_process(m->sf[i], now);
        mpx_tcp_window_update(m->sf[i]->tcp);
    }
    return (long)n;
}

int mpx_conn_shutdown(struct mpx_stack *st, uint32_t conn, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    if (m->shut_wr || m->closed)
        return 0;
    m->shut_wr = true;
    mpx_msk_push(m, now);
    return 0;
}

int mpx_conn_close(struct mpx_stack *st, uint32_t conn, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    if (m->linger_abort) /* SO_LINGER {1, 0}: Linux sends a reset (MP_FASTCLOSE) */
        return mpx_conn_abort(st, conn, now);
    int rv = mpx_conn_shutdown(st, conn, now);
    m->orphan = true;
    return rv;
}

/* RST (+ MP_FASTCLOSE when MPTCP) on every live subflow. */
static void reset_subflows(struct mpx_msk *m, uint64_t now)
{
    struct mpx_stack *st = m->st;
    for (uint8_t i = 0; i < m->nsf; i++) {
        struct mpx_sf *sf = m->sf[i];
        if (sf_done(sf))
            continue;
        if (m->mptcp) {
            /* RFC 8684 section 3.5: RST + MP_FASTCLOSE on every subflow,
             * as Linux does (with MP_TCPRST) */
            sf->send_fastclose = true;
            sf->rst_opt = true;
            sf->rst_reason = MPX_RST_EUNSPEC;
            st->mib.MPFastcloseTx++;
            st->mib.MPRstTx++;
        }
        mpx_tcp_abort(sf->tcp, now);
    }
}

int mpx_conn_abort(struct mpx_stack *st, uint32_t conn, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    reset_subflows(m, now);
    m->orphan = true;
    m->error = MPX_ERR_CLOSED;
    msk_closed(m, MPX_ERR_CLOSED);
    return 0;
}

void mpx_msk_close_timer(struct mpx_msk *m, uint64_t now)
{
    if (m->closed || !m->tout_at || now < m->tout_at)
        return;
    /* the peer never finished the DATA_FIN exchange (or never acted on
     * ours): give up like Linux mptcp_close_tout_expired, with a reset */
    reset_subflows(m, now);
    m->st->mib.MPXCloseTimeout++;
    msk_closed(m, MPX_ERR_TIMEDOUT);
}

int mpx_conn_get_info(const struct mpx_stack *st, uint32_t conn, struct mpx_conn_info *info)
{
    const struct mpx_msk *m = mpx_stack_find(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    memset(info, 0, sizeof(*info));
    info->mptcp = m->mptcp;
    info->fallback = m->fallback;
    info->csum_enabled = m->csum;
    info->ext_keys = m->ext && m->mptcp && !m->fallback;
    mpx_ek_info(m, info); /* key state and fingerprint, never the key */
    info->established = m->est_ev;
    info->closed = m->closed;
    info->fin_sent = m->fin_sent;
    info->fin_acked = m->fin_acked;
    info->fin_in = m->fin_in;
    info->error = m->error;
    info->local_token = m->keys.ltoken;
    info->remote_token = m->keys.rtoken;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (!sf_done(m->sf[i]))
            info->subflows++;
    info->write_seq = m->write_seq;
    info->snd_una = m->snd_una;
    info->snd_nxt = m->snd_nxt;
    info->rcv_nxt = m->rcv_nxt;
    info->bytes_sent = m->bytes_sent;
    info->bytes_received = m->bytes_received;
    info->bytes_acked = m->bytes_acked;
    info->bytes_retrans = m->bytes_retrans;
    info->rtx_timeouts = m->rtx_fired;
    info->retransmits = m->retransmits;
    info->subflows_total = m->sf_total;
    info->last_data_sent = m->last_sent;
    info->last_data_recv = m->last_recv;
    info->last_ack_recv = m->last_ack;
    if (m->pm_on) {
        const struct mpx_pm_cfg *pc = &st->pm;
        info->subflows_max = pc->limit_subflows;
        info->add_addr_accepted_max = pc->limit_add_addr_accepted;
        info->add_addr_signal = m->pm.add_addr_signaled;
        info->add_addr_accepted = m->pm.add_addr_accepted;
        info->local_addr_used = m->pm.local_addr_used;
        struct mpx_pm_endpoint eps[MPX_PM_ENDP_MAX];
        size_t n = mpx_pm_endpoint_list(pc, eps, MPX_PM_ENDP_MAX);
        for (size_t i = 0; i < n; i++) {
            if (eps[i].flags & MPX_PM_F_SIGNAL)
                info->add_addr_signal_max++;
            if (eps[i].flags & MPX_PM_F_SUBFLOW)
                info->local_addr_max++;
        }
    }
    info->send_queued = (size_t)(m->write_seq - m->snd_una);
    info->recv_ready = (size_t)(m->rcv_nxt - (m->fin_in ? 1 : 0) - m->rd_seq);
    return 0;
}

int mpx_conn_set_scheduler(struct mpx_stack *st, uint32_t conn, const char *name)
{
    struct mpx_msk *m = app_msk(st, conn);
    const struct mpx_sched_ops *ops = name ? mpx_sched_find(name) : NULL;
    if (!m || !ops)
        return MPX_ERR_NOENT;
    mpx_sched_switch(&m->sched, ops);
    return 0;
}

int mpx_conn_get_subflows(const struct mpx_stack *st, uint32_t conn, struct mpx_subflow_info *out,
                          int max, uint64_t now)
{
    const struct mpx_msk *m = mpx_stack_find(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    for (int i = 0; i < m->nsf && i < max; i++) {
        const struct mpx_sf *sf = m->sf[i];
        struct mpx_subflow_info *o = &out[i];
        memset(o, 0, sizeof(*o));
        o->tuple = sf->tuple;
        o->local_id = sf->local_id;
        o->remote_id = sf->remote_id;
        o->backup = sf->backup;
        o->peer_backup = sf->peer_backup;
        o->join = sf->join;
        o->established = sf->mp_ok && !sf_done(sf);
        mpx_tcp_get_info(sf->tcp, &o->tcp, now);
    }
    return m->nsf;
}

/* --- socket options ------------------------------------------------------ */

int mpx_conn_set_nodelay(struct mpx_stack *st, uint32_t conn, bool on, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    m->nodelay = on;
    if (m->fallback && m->nsf)
        mpx_tcp_set_nodelay(m->sf[0]->tcp, on, now); /* plain TCP: the engine's Nagle */
    mpx_msk_push(m, now);
    return 0;
}

int mpx_conn_set_cork(struct mpx_stack *st, uint32_t conn, bool on, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    m->cork = on;
    if (m->fallback && m->nsf)
        mpx_tcp_set_cork(m->sf[0]->tcp, on, now);
    mpx_msk_push(m, now);
    return 0;
}

int mpx_conn_set_keepalive(struct mpx_stack *st, uint32_t conn, bool on, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    m->keepalive = on;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (!m->sf[i]->gone)
            mpx_tcp_set_keepalive(m->sf[i]->tcp, on, now);
    return 0;
}

int mpx_conn_set_cc(struct mpx_stack *st, uint32_t conn, const char *name, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    const struct mpx_cc_ops *ops = name ? mpx_cc_find(name) : NULL;
    if (!m || !ops)
        return MPX_ERR_NOENT;
    m->cc = ops;
    for (uint8_t i = 0; i < m->nsf; i++) {
        struct mpx_cc *cc = mpx_tcp_cc(m->sf[i]->tcp);
        mpx_cc_group_leave(cc);
        mpx_cc_switch(cc, ops, now);
        if (ops == &mpx_cc_lia)
            mpx_cc_group_join(&m->ccg, cc); /* RFC 6356 coupling */
    }
    return 0;
}

/* TCP_USER_TIMEOUT expired (data unacknowledged for that long): the
 * connection fails with ETIMEDOUT, as Linux's subflows do (tcp_write_err),
 * and the peer hears of it by MP_FASTCLOSE rather than waiting for its own
 * timeouts. The app keeps its id and reads the error. */
static void user_timeout_abort(struct mpx_msk *m, uint64_t now)
{
    reset_subflows(m, now);
    m->error = MPX_ERR_TIMEDOUT;
    msk_closed(m, MPX_ERR_TIMEDOUT);
}

int mpx_conn_set_keepalive_timers(struct mpx_stack *st, uint32_t conn, uint64_t idle,
                                  uint64_t intvl, uint8_t cnt, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    if (idle)
        m->keep_idle = idle;
    if (intvl)
        m->keep_intvl = intvl;
    if (cnt)
        m->keep_cnt = cnt;
    for (uint8_t i = 0; i < m->nsf; i++) {
        struct mpx_tcp_conn *c = m->sf[i]->tcp;
        if (m->sf[i]->gone)
            continue;
        c->cfg.keep_idle = m->keep_idle;
        c->cfg.keep_intvl = m->keep_intvl;
        c->cfg.keep_cnt = m->keep_cnt;
        if (c->cfg.keepalive) /* Linux re-arms with the new idle time */
            mpx_tcp_set_keepalive(c, true, now);
    }
    return 0;
}

int mpx_conn_set_user_timeout(struct mpx_stack *st, uint32_t conn, uint64_t timeout, uint64_t now)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    m->user_timeout = timeout;
    for (uint8_t i = 0; i < m->nsf; i++) /* and a handshake in progress (tcp.h) */
        if (!m->sf[i]->gone)
            mpx_tcp_set_user_timeout(m->sf[i]->tcp, timeout, now);
    m->rtx_at = 0; /* re-armed with the new bound */
    rtx_arm(m, now);
    return 0;
}

int mpx_conn_set_linger_abort(struct mpx_stack *st, uint32_t conn, bool on)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    m->linger_abort = on;
    return 0;
}

int mpx_conn_set_ip(struct mpx_stack *st, uint32_t conn, int tos, int ttl)
{
    struct mpx_msk *m = app_msk(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    if (tos > 255 || ttl > 255 || ttl == 0)
        return MPX_ERR_INVAL;
    if (tos >= 0)
        m->tos = (uint8_t)tos;
    if (ttl > 0)
        m->ttl = (uint8_t)ttl;
    for (uint8_t i = 0; i < m->nsf; i++) {
        m->sf[i]->tcp->cfg.tos = m->tos;
        m->sf[i]->tcp->cfg.ttl = m->ttl;
    }
    return 0;
}

int mpx_conn_get_opts(const struct mpx_stack *st, uint32_t conn, struct mpx_conn_opts *out)
{
    const struct mpx_msk *m = mpx_stack_find(st, conn);
    if (!m)
        return MPX_ERR_NOENT;
    memset(out, 0, sizeof(*out));
    out->nodelay = m->nodelay;
    out->cork = m->cork;
    out->keepalive = m->keepalive;
    out->linger_abort = m->linger_abort;
    out->keep_idle = m->keep_idle;
    out->keep_intvl = m->keep_intvl;
    out->keep_cnt = m->keep_cnt;
    out->tos = m->tos;
    out->ttl = m->ttl;
    out->user_timeout = m->user_timeout;
    out->cc = m->cc ? m->cc->name : (st->cfg.tcp.cc ? st->cfg.tcp.cc->name : "cubic");
    return 0;
}
