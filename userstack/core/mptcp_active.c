/*
 * mptcp_active.c - which connections the per-step walks visit (issue 7).
 * mpx_stack_output, mpx_stack_next_deadline and mpx_stack_on_timer walk
 * the ACTIVE list only; a connection with nothing to send after a step
 * is parked: off that list, in a min-heap keyed by its next deadline (its
 * timers: TCP, MP_CAPABLE ACK repetition, PM, external keys, the
 * connection-level retransmission and cork). Only something that happens
 * to the connection can change what it wants, and each such event wakes
 * it (back on the list, out of the heap): a segment for one of its
 * subflows or an ICMP error about one (demux), an MP_JOIN for its token,
 * any application call (mpx_stack_find), a global change (endpoints,
 * paths) and its deadline coming (mpx_act_due). So a step costs
 * O(active + log parked) whatever the number of idle connections, the
 * way Linux only touches sockets whose timer fired or that got a packet.
 */
#include <stdlib.h>

#include "mptcp_int.h"

/* The earliest time |m| wants mpx_stack_on_timer(), UINT64_MAX if none. */
uint64_t mpx_msk_deadline(const struct mpx_msk *m)
{
    uint64_t t = mpx_msk_pm_deadline(m);
    if (m->rtx_at && m->rtx_at < t)
        t = m->rtx_at;
    if (m->cork_at && m->cork_at < t)
        t = m->cork_at;
    if (m->tout_at && !m->closed && m->tout_at < t)
        t = m->tout_at;
    uint64_t k = mpx_ek_deadline(m);
    if (k < t)
        t = k;
    for (uint8_t i = 0; i < m->nsf; i++) {
        uint64_t d = mpx_tcp_next_deadline(m->sf[i]->tcp);
        uint64_t e = mpx_sf_deadline(m->sf[i]);
        if (d < t)
            t = d;
        if (e < t)
            t = e;
    }
    return t;
}

/* ---- the heap (1-based positions in m->heap_pos, 0 = not in it) ---- */

static void heap_set(struct mpx_stack *st, uint32_t i, struct mpx_msk *m)
{
    st->heap[i] = m;
    m->heap_pos = i + 1;
}

static void sift_up(struct mpx_stack *st, uint32_t i)
{
    struct mpx_msk *m = st->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (st->heap[p]->park_at <= m->park_at)
            break;
        heap_set(st, i, st->heap[p]);
        i = p;
    }
    heap_set(st, i, m);
}

static void sift_down(struct mpx_stack *st, uint32_t i)
{
    struct mpx_msk *m = st->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= st->heap_n)
            break;
        if (c + 1 < st->heap_n && st->heap[c + 1]->park_at < st->heap[c]->park_at)
            c++;
        if (st->heap[c]->park_at >= m->park_at)
            break;
        heap_set(st, i, st->heap[c]);
        i = c;
    }
    heap_set(st, i, m);
}

static void heap_del(struct mpx_stack *st, struct mpx_msk *m)
{
    uint32_t i = m->heap_pos - 1;
    m->heap_pos = 0;
    struct mpx_msk *last = st->heap[--st->heap_n];
    if (last == m)
        return;
    heap_set(st, i, last);
    sift_up(st, i);
    sift_down(st, last->heap_pos - 1);
}

static bool heap_add(struct mpx_stack *st, struct mpx_msk *m)
{
    if (st->heap_n == st->heap_cap) {
        uint32_t cap = st->heap_cap ? st->heap_cap * 2 : 64;
        struct mpx_msk **nh = realloc(st->heap, cap * sizeof(*nh));
        if (!nh)
            return false;
        st->heap = nh;
        st->heap_cap = cap;
    }
    st->heap[st->heap_n++] = m;
    sift_up(st, st->heap_n - 1);
    return true;
}

/* ---- the active list ---- */

static void act_link(struct mpx_msk *m)
{
    struct mpx_stack *st = m->st;
    m->aprev = NULL;
    m->anext = st->act;
    if (st->act)
        st->act->aprev = m;
    st->act = m;
    m->active = true;
}

static void act_unlink(struct mpx_msk *m)
{
    struct mpx_stack *st = m->st;
    if (m->aprev)
        m->aprev->anext = m->anext;
    else
        st->act = m->anext;
    if (m->anext)
        m->anext->aprev = m->aprev;
    m->anext = m->aprev = NULL;
    m->active = false;
}

void mpx_act_wake(struct mpx_msk *m)
{
    if (m->active)
        return;
    if (m->heap_pos)
        heap_del(m->st, m);
    act_link(m);
}

void mpx_act_wake_all(struct mpx_stack *st)
{
    for (struct mpx_msk *m = st->msks; m; m = m->next)
        mpx_act_wake(m);
}

void mpx_act_park(struct mpx_msk *m)
{
    if (!m->active)
        return;
    m->park_at = mpx_msk_deadline(m);
    if (m->park_at != UINT64_MAX && !heap_add(m->st, m))
        return; /* no memory for the heap: it stays on the list */
    act_unlink(m);
}

void mpx_act_remove(struct mpx_msk *m)
{
    if (m->active)
        act_unlink(m);
    else if (m->heap_pos)
        heap_del(m->st, m);
}

uint64_t mpx_act_heap_min(const struct mpx_stack *st)
{
    return st->heap_n ? st->heap[0]->park_at : UINT64_MAX;
}

void mpx_act_due(struct mpx_stack *st, uint64_t now)
{
    while (st->heap_n && st->heap[0]->park_at <= now)
        mpx_act_wake(st->heap[0]);
}

uint32_t mpx_act_count(const struct mpx_stack *st)
{
    uint32_t n = 0;
    for (const struct mpx_msk *m = st->act; m; m = m->anext)
        n++;
    return n;
}

/* ---- the accept queue: established server connections not accepted
 * yet, so that accept() looks at the backlog, not every connection ---- */

void mpx_accq_add(struct mpx_msk *m)
{
    struct mpx_stack *st = m->st;
    if (m->queued || m->accepted || !m->server)
        return;
    m->qnext = NULL;
    m->qprev = st->accq_tail;
    if (st->accq_tail)
        st->accq_tail->qnext = m;
    else
        st->accq_head = m;
    st->accq_tail = m;
    m->queued = true;
}

void mpx_accq_del(struct mpx_msk *m)
{
    struct mpx_stack *st = m->st;
    if (!m->queued)
        return;
    if (m->qprev)
        m->qprev->qnext = m->qnext;
    else
        st->accq_head = m->qnext;
    if (m->qnext)
        m->qnext->qprev = m->qprev;
    else
        st->accq_tail = m->qprev;
    m->qnext = m->qprev = NULL;
    m->queued = false;
}
