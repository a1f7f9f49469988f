/*
 * mptcp_pm.c - path manager, per connection: the decisions of Linux's
 * in-kernel PM (net/mptcp/pm_kernel.c, pm.c, 6.18) as events in, actions
 * out. The host-wide endpoints and limits are in mptcp_pm_cfg.c. See
 * mptcp_pm.h for the model and the deliberate differences.
 */
#include "mptcp_pm.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mptcp_pm_int.h"

/* ---- small helpers ------------------------------------------------------- */

static bool addr_is_v4(const struct mpx_addr *a)
{
    return a->family == MPX_AF_INET || pm_is_v4mapped(a);
}

static bool addr_is_any(const struct mpx_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->a, zero, sizeof(zero)) == 0;
}

static bool pa_eq(const struct mpx_pm_addr *x, const struct mpx_pm_addr *y, bool use_port)
{
    return pm_ip_eq(&x->addr, &y->addr) && (!use_port || x->port == y->port);
}

static struct mpx_pm_addr endp_pa(const struct mpx_pm_endpoint *ep)
{
    struct mpx_pm_addr a;
    memset(&a, 0, sizeof(a));
    a.addr = ep->addr;
    a.port = ep->port;
    a.id = ep->id;
    return a;
}

/* ---- per connection: plumbing -------------------------------------------- */

static const struct mpx_pm_cfg *cfg_of(const struct mpx_pm_conn *c)
{
    return c->cfg;
}

static void push(struct mpx_pm_conn *c, const struct mpx_pm_action *a)
{
    if (c->q_head + c->q_len == c->q_cap) {
        if (c->q_head) {
            memmove(c->q, c->q + c->q_head, c->q_len * sizeof(*c->q));
            c->q_head = 0;
        } else {
            size_t cap = c->q_cap ? c->q_cap * 2 : 16;
            struct mpx_pm_action *q = realloc(c->q, cap * sizeof(*q));
            if (!q)
                return; /* out of memory: the action is lost, the PM state stays sane */
            c->q = q;
            c->q_cap = cap;
        }
    }
    c->q[c->q_head + c->q_len++] = *a;
}

bool mpx_pm_next_action(struct mpx_pm_conn *pmc, struct mpx_pm_action *out)
{
    if (!pmc->q_len)
        return false;
    *out = pmc->q[pmc->q_head++];
    if (--pmc->q_len == 0)
        pmc->q_head = 0;
    return true;
}

static struct mpx_pm_action act_new(uint8_t type)
{
    struct mpx_pm_action a;
    memset(&a, 0, sizeof(a));
    a.type = type;
    return a;
}

static void emit_announce(struct mpx_pm_conn *c, const struct mpx_pm_addr *local)
{
    struct mpx_pm_action a = act_new(MPX_PM_ACT_ANNOUNCE);
    a.local = *local;
    c->mib.AddAddrTx++;
    push(c, &a);
}

static void emit_echo(struct mpx_pm_conn *c, const struct mpx_pm_addr *remote)
{
    struct mpx_pm_action a = act_new(MPX_PM_ACT_ANNOUNCE_ECHO);
    a.remote = *remote;
    c->mib.EchoAddTx++;
    push(c, &a);
}

static void emit_rm(struct mpx_pm_conn *c, const uint8_t *ids, size_t n)
{
    struct mpx_pm_action a = act_new(MPX_PM_ACT_REMOVE_ADDR);
    if (n > MPX_PM_RM_IDS_MAX)
        n = MPX_PM_RM_IDS_MAX;
    memcpy(a.ids, ids, n);
    a.nr_ids = (uint8_t)n;
    c->mib.RmAddrTx += n;
    push(c, &a);
}

static void emit_prio(struct mpx_pm_conn *c, struct mpx_pm_sf *s, bool backup)
{
    struct mpx_pm_action a = act_new(MPX_PM_ACT_SET_BACKUP);
    a.sf = s->handle;
    a.backup = backup;
    a.local = s->local;
    a.remote = s->remote;
    s->backup = backup;
    c->mib.MPPrioTx++;
    push(c, &a);
}

static void emit_close(struct mpx_pm_conn *c, const struct mpx_pm_sf *s)
{
    struct mpx_pm_action a = act_new(MPX_PM_ACT_CLOSE_SUBFLOW);
    a.sf = s->handle;
    a.local = s->local;
    a.remote = s->remote;
    push(c, &a);
}

static struct mpx_pm_sf *sf_find(struct mpx_pm_conn *c, uint32_t handle)
{
    for (int i = 0; i < MPX_PM_SF_MAX; i++)
        if (c->sf[i].used && c->sf[i].handle == handle)
            return &c->sf[i];
    return NULL;
}

static struct mpx_pm_sf *sf_alloc(struct mpx_pm_conn *c)
{
    for (int i = 0; i < MPX_PM_SF_MAX; i++) {
        if (!c->sf[i].used) {
            memset(&c->sf[i], 0, sizeof(c->sf[i]));
            c->sf[i].used = true;
            c->sf[i].handle = c->next_handle++;
            return &c->sf[i];
        }
    }
    return NULL;
}

/* A live subflow already joins this pair (pm_kernel.c only checks the remote
 * side for ADD_ADDR and ids for fullmesh; we also refuse exact duplicates). */
static bool pair_exists(const struct mpx_pm_conn *c, const struct mpx_pm_addr *l,
                        const struct mpx_pm_addr *r)
{
    for (int i = 0; i < MPX_PM_SF_MAX; i++) {
        const struct mpx_pm_sf *s = &c->sf[i];
        if (s->used && !addr_is_any(&l->addr) && pm_ip_eq(&s->local.addr, &l->addr) &&
            pa_eq(&s->remote, r, true))
            return true;
    }
    return false;
}

/* The caller has already counted the subflow in extra_subflows (as the
 * kernel's fill_*() helpers do); a subflow not created is uncounted here. */
static struct mpx_pm_sf *create_subflow(struct mpx_pm_conn *c, const struct mpx_pm_addr *local,
                                        uint8_t endp_id, uint8_t flags, int32_t ifindex,
                                        const struct mpx_pm_addr *remote)
{
    struct mpx_pm_sf *s = NULL;
    if (!pair_exists(c, local, remote))
        s = sf_alloc(c);
    if (!s) {
        if (c->extra_subflows)
            c->extra_subflows--;
        return NULL;
    }
    s->join = s->initiator = true;
    s->backup = (flags & MPX_PM_F_BACKUP) != 0;
    s->endp_id = endp_id;
    s->ifindex = ifindex;
    s->local = *local;
    s->remote = *remote;
    struct mpx_pm_action a = act_new(MPX_PM_ACT_CREATE_SUBFLOW);
    a.sf = s->handle;
    a.local = s->local;
    a.remote = s->remote;
    a.backup = s->backup;
    a.ifindex = ifindex;
    push(c, &a);
    return s;
}

/* pm.c mptcp_pm_subflow_check_next() / __mptcp_pm_close_subflow(). */
static void sf_gone(struct mpx_pm_conn *c, struct mpx_pm_sf *s)
{
    if (s->join && c->extra_subflows) {
        if (--c->extra_subflows < cfg_of(c)->limit_subflows)
            c->accept_subflow = true;
    }
    s->used = false;
}

/* pm_kernel.c mptcp_pm_addr_families_match(). */
static bool families_match(const struct mpx_pm_conn *c, const struct mpx_addr *l,
                           const struct mpx_addr *r)
{
    bool lv4 = addr_is_v4(l), rv4 = addr_is_v4(r);
    if (c->p.sock_family == MPX_AF_INET)
        return lv4 && rv4;
    if (c->p.v6only)
        return !lv4 && !rv4;
    return lv4 == rv4;
}

static bool c_flag_case(const struct mpx_pm_conn *c)
{
    return c->p.deny_join_id0 && c->local_addr_used == 0 &&
           cfg_of(c)->limit_add_addr_accepted == 0 && c->extra_subflows < cfg_of(c)->limit_subflows;
}

static uint8_t local_id_of(const struct mpx_pm_conn *c, uint8_t endp_id)
{
    return c->mpc_endp_id == endp_id ? 0 : endp_id;
}

static uint64_t add_addr_timeout(const struct mpx_pm_conn *c)
{
    uint64_t t = cfg_of(c)->add_addr_timeout_ns;
    if (c->max_rto_ns && c->max_rto_ns < t)
        t = c->max_rto_ns;
    return t;
}

static struct mpx_pm_anno *anno_find(struct mpx_pm_conn *c, const struct mpx_pm_addr *a)
{
    for (int i = 0; i < MPX_PM_ANNO_MAX; i++)
        if (c->anno[i].used && pa_eq(&c->anno[i].addr, a, true))
            return &c->anno[i];
    return NULL;
}

static void anno_arm(struct mpx_pm_conn *c, struct mpx_pm_anno *an, uint64_t now)
{
    uint64_t t = add_addr_timeout(c);
    an->retrans = 0;
    an->deadline = t ? now + t : MPX_PM_NO_DEADLINE;
}

/* pm.c mptcp_pm_announced_alloc(): false if the address is already in the
 * list (the kernel PM treats that as a bug) or the list is full. */
static struct mpx_pm_anno *anno_alloc(struct mpx_pm_conn *c, const struct mpx_pm_addr *a,
                                      uint64_t now)
{
    if (anno_find(c, a))
        return NULL;
    for (int i = 0; i < MPX_PM_ANNO_MAX; i++) {
        if (!c->anno[i].used) {
            c->anno[i].used = true;
            c->anno[i].addr = *a;
            anno_arm(c, &c->anno[i], now);
            return &c->anno[i];
        }
    }
    return NULL;
}

static bool id_avail(const struct mpx_pm_conn *c, uint8_t id)
{
    return pm_bit_test(c->id_avail, id);
}

static const struct mpx_pm_endpoint *select_endp(const struct mpx_pm_conn *c, uint8_t flag)
{
    for (int i = 0; i < cfg_of(c)->nr; i++) {
        const struct mpx_pm_endpoint *e = &cfg_of(c)->endp[i];
        if ((e->flags & flag) && id_avail(c, e->id))
            return e;
    }
    return NULL;
}

/* pm_kernel.c mptcp_pm_nl_check_work_pending(). */
static bool check_work_pending(struct mpx_pm_conn *c)
{
    bool any = false;
    for (int i = 0; i < cfg_of(c)->nr && !any; i++)
        any = id_avail(c, cfg_of(c)->endp[i].id);
    if (c->extra_subflows == cfg_of(c)->limit_subflows || !any) {
        c->work_pending = false;
        return false;
    }
    return true;
}

/* pm_kernel.c mptcp_mpc_endpoint_setup(): the endpoint of the initial
 * subflow's address is "used" by it and announced as id 0; a backup one
 * turns the initial subflow into a backup with MP_PRIO. */
static void mpc_endpoint_setup(struct mpx_pm_conn *c)
{
    if (c->mpc_accounted)
        return;
    int i = mpx_pm_cfg_find_addr(cfg_of(c), &c->p.local.addr, c->p.local.port);
    if (i >= 0) {
        const struct mpx_pm_endpoint *e = &cfg_of(c)->endp[i];
        pm_bit_clear(c->id_avail, e->id);
        c->mpc_endp_id = e->id;
        struct mpx_pm_sf *s0 = sf_find(c, 0);
        if ((e->flags & MPX_PM_F_BACKUP) && s0)
            emit_prio(c, s0, true);
    }
    c->mpc_accounted = true;
}

/* ---- per connection: the kernel PM's decisions ---------------------------- */

struct local_pick {
    struct mpx_pm_addr a;
    uint8_t endp_id, flags;
    int32_t ifindex;
};

static struct local_pick pick_from_endp(const struct mpx_pm_conn *c,
                                        const struct mpx_pm_endpoint *e)
{
    struct local_pick lp;
    memset(&lp, 0, sizeof(lp));
    lp.a.addr = e->addr;
    lp.a.id = local_id_of(c, e->id);
    lp.endp_id = e->id;
    lp.flags = e->flags;
    lp.ifindex = e->ifindex;
    return lp;
}

/* pm_kernel.c fill_remote_addresses_fullmesh(): every peer address a subflow
 * already reaches, once per remote id, not yet joined from this local id. */
static size_t fill_remotes_fullmesh(struct mpx_pm_conn *c, const struct mpx_pm_addr *local,
                                    struct mpx_pm_addr *out)
{
    uint8_t unavail[32] = {0};
    size_t n = 0;

    for (int i = 0; i < MPX_PM_SF_MAX; i++)
        if (c->sf[i].used && c->sf[i].local.id == local->id)
            pm_bit_set(unavail, c->sf[i].remote.id);
    for (int i = 0; i < MPX_PM_SF_MAX; i++) {
        const struct mpx_pm_sf *s = &c->sf[i];
        if (!s->used || (c->p.deny_join_id0 && !s->remote.id))
            continue;
        if (pm_bit_test(unavail, s->remote.id) || !families_match(c, &local->addr, &s->remote.addr))
            continue;
        pm_bit_set(unavail, s->remote.id);
        c->extra_subflows++;
        out[n++] = s->remote;
        if (c->extra_subflows >= cfg_of(c)->limit_subflows || n == MPX_PM_ENDP_MAX)
            break;
    }
    return n;
}

/* pm_kernel.c fill_remote_addresses_vec(): a plain subflow endpoint joins the
 * peer's initial address, unless the peer denied it with the C flag. */
static size_t fill_remotes(struct mpx_pm_conn *c, const struct local_pick *lp,
                           struct mpx_pm_addr *out)
{
    if (lp->flags & MPX_PM_F_FULLMESH)
        return fill_remotes_fullmesh(c, &lp->a, out);
    if (c->p.deny_join_id0 || !families_match(c, &lp->a.addr, &c->p.remote.addr))
        return 0;
    c->extra_subflows++;
    out[0] = c->p.remote;
    out[0].id = 0;
    return 1;
}

/* pm_kernel.c mptcp_pm_create_subflow_or_signal_addr(): announce the next
 * signal endpoint (one per call), then open subflows from subflow
 * endpoints while the limits allow. */
static void create_or_signal(struct mpx_pm_conn *c, uint64_t now)
{
    const struct mpx_pm_cfg *cfg = cfg_of(c);
    const struct mpx_pm_endpoint *sig_sf = NULL;

    mpc_endpoint_setup(c);
    if (c->add_addr_signaled < cfg->endp_signal_max) {
        const struct mpx_pm_endpoint *e = select_endp(c, MPX_PM_F_SIGNAL);
        if (e) {
            struct mpx_pm_addr a = endp_pa(e);
            a.id = local_id_of(c, e->id);
            if (!anno_alloc(c, &a, now))
                return;
            pm_bit_clear(c->id_avail, e->id);
            c->add_addr_signaled++;
            emit_announce(c, &a);
            if (e->flags & MPX_PM_F_SUBFLOW)
                sig_sf = e;
        }
    }
    if (c_flag_case(c))
        goto out;
    while (c->local_addr_used < cfg->endp_subflow_max && c->extra_subflows < cfg->limit_subflows) {
        struct mpx_pm_addr remotes[MPX_PM_ENDP_MAX];
        const struct mpx_pm_endpoint *e = sig_sf ? sig_sf : select_endp(c, MPX_PM_F_SUBFLOW);
        sig_sf = NULL;
        if (!e)
            break;
        struct local_pick lp = pick_from_endp(c, e);
        pm_bit_clear(c->id_avail, e->id);
        if (lp.a.id) /* local_addr_used does not count id 0 */
            c->local_addr_used++;
        size_t n = fill_remotes(c, &lp, remotes);
        for (size_t i = 0; i < n; i++)
            create_subflow(c, &lp.a, lp.endp_id, lp.flags, lp.ifindex, &remotes[i]);
    }
out:
    check_work_pending(c);
}

/* pm_kernel.c fill_local_addresses_vec_fullmesh(). */
static size_t fill_locals_fullmesh(struct mpx_pm_conn *c, const struct mpx_pm_addr *remote,
                                   bool c_flag, struct local_pick *out)
{
    size_t n = 0;
    for (int i = 0; i < cfg_of(c)->nr; i++) {
        const struct mpx_pm_endpoint *e = &cfg_of(c)->endp[i];
        if (!(e->flags & MPX_PM_F_FULLMESH) || !families_match(c, &e->addr, &remote->addr))
            continue;
        out[n] = pick_from_endp(c, e);
        if (c_flag && (e->flags & MPX_PM_F_SUBFLOW)) {
            pm_bit_clear(c->id_avail, e->id);
            if (out[n].a.id)
                c->local_addr_used++;
        }
        c->extra_subflows++;
        n++;
        if (c->extra_subflows >= cfg_of(c)->limit_subflows)
            break;
    }
    return n;
}

/* pm_kernel.c fill_local_addresses_vec_c_flag(): the peer forbade its
 * initial address and we accept no ADD_ADDR by default, so the subflow
 * endpoints are used towards the announced address instead. */
static size_t fill_locals_c_flag(struct mpx_pm_conn *c, const struct mpx_pm_addr *remote,
                                 struct local_pick *out)
{
    size_t n = 0;
    while (c->local_addr_used < cfg_of(c)->endp_subflow_max && n < MPX_PM_ENDP_MAX) {
        const struct mpx_pm_endpoint *e = select_endp(c, MPX_PM_F_SUBFLOW);
        if (!e)
            break;
        pm_bit_clear(c->id_avail, e->id);
        if (!families_match(c, &e->addr, &remote->addr) || e->id == c->mpc_endp_id)
            continue;
        out[n++] = pick_from_endp(c, e);
        c->local_addr_used++;
        c->extra_subflows++;
        if (c->extra_subflows >= cfg_of(c)->limit_subflows)
            break;
    }
    return n;
}

/* pm_kernel.c fill_local_laminar_endp() (6.18): one subflow per accepted
 * ADD_ADDR, from the first laminar endpoint no live subflow uses yet. */
static size_t fill_locals_laminar(struct mpx_pm_conn *c, const struct mpx_pm_addr *remote,
                                  struct local_pick *out)
{
    uint8_t unavail[32] = {0};
    for (int i = 0; i < MPX_PM_SF_MAX; i++)
        if (c->sf[i].used)
            pm_bit_set(unavail, c->sf[i].local.id);
    for (int i = 0; i < cfg_of(c)->nr; i++) {
        const struct mpx_pm_endpoint *e = &cfg_of(c)->endp[i];
        if (!(e->flags & MPX_PM_F_LAMINAR) || !families_match(c, &e->addr, &remote->addr) ||
            pm_bit_test(unavail, local_id_of(c, e->id)))
            continue;
        out[0] = pick_from_endp(c, e);
        if (e->flags & MPX_PM_F_SUBFLOW) {
            pm_bit_clear(c->id_avail, e->id);
            if (e->id != c->mpc_endp_id)
                c->local_addr_used++;
        }
        c->extra_subflows++;
        return 1;
    }
    return 0;
}

static size_t fill_locals(struct mpx_pm_conn *c, const struct mpx_pm_addr *remote,
                          struct local_pick *out)
{
    bool c_flag = remote->id && c_flag_case(c);
    if (cfg_of(c)->endp_fullmesh_max) {
        size_t n = fill_locals_fullmesh(c, remote, c_flag, out);
        if (n)
            return n;
    }
    if (cfg_of(c)->endp_laminar_max)
        return fill_locals_laminar(c, remote, out);
    if (c_flag)
        return fill_locals_c_flag(c, remote, out);
    /* fill_local_address_any(): routing picks the source address. */
    memset(&out[0], 0, sizeof(out[0]));
    out[0].a.addr.family = addr_is_v4(&remote->addr) ? MPX_AF_INET : MPX_AF_INET6;
    if (!families_match(c, &out[0].a.addr, &remote->addr))
        return 0;
    c->extra_subflows++;
    return 1;
}

/* pm_kernel.c lookup_subflow_by_daddr(). */
static bool sf_to_remote(const struct mpx_pm_conn *c, const struct mpx_pm_addr *r)
{
    for (int i = 0; i < MPX_PM_SF_MAX; i++)
        if (c->sf[i].used && pa_eq(&c->sf[i].remote, r, r->port != 0))
            return true;
    return false;
}

/* pm_kernel.c mptcp_pm_nl_add_addr_received(). */
static void add_addr_accept(struct mpx_pm_conn *c, const struct mpx_pm_addr *ra)
{
    struct local_pick locals[MPX_PM_ENDP_MAX];
    struct mpx_pm_addr remote = *ra;
    bool created = false;

    emit_echo(c, ra);
    mpc_endpoint_setup(c);
    /* Beyond the kernel: accept_addr is only re-evaluated after an ADD_ADDR,
     * so Linux can exceed the subflows limit by one when subflow endpoints
     * filled it meanwhile; we keep the limit strict. */
    if (sf_to_remote(c, &remote) || c->extra_subflows >= cfg_of(c)->limit_subflows)
        return;
    if (!remote.port)
        remote.port = c->p.remote.port;
    size_t n = fill_locals(c, &remote, locals);
    for (size_t i = 0; i < n; i++)
        created |= create_subflow(c, &locals[i].a, locals[i].endp_id, locals[i].flags,
                                  locals[i].ifindex, &remote) != NULL;
    if (created) {
        if (remote.id) /* add_addr_accepted does not count id 0 */
            c->add_addr_accepted++;
        if (c->add_addr_accepted >= cfg_of(c)->limit_add_addr_accepted ||
            c->extra_subflows >= cfg_of(c)->limit_subflows)
            c->accept_addr = false;
    }
}

void mpx_pm_on_add_addr(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *addr, uint64_t now)
{
    (void)now;
    pmc->mib.AddAddr++;
    if (addr->port)
        pmc->mib.PortAdd++;
    /* pm.c mptcp_pm_add_addr_received(): the userspace PM only echoes; id 0
     * must be the initial address; beyond the limit (and outside the C-flag
     * case) only echo. */
    if (pmc->userspace || (addr->id == 0 && !pa_eq(&pmc->p.remote, addr, addr->port != 0)) ||
        (addr->id > 0 && !pmc->accept_addr && !c_flag_case(pmc))) {
        emit_echo(pmc, addr);
        return;
    }
    add_addr_accept(pmc, addr);
}

static void trigger_work(struct mpx_pm_conn *c, uint64_t now)
{
    if (c->work_pending)
        create_or_signal(c, now);
}

void mpx_pm_on_add_addr_echo(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *addr, uint64_t now)
{
    pmc->mib.EchoAdd++;
    if (addr->port)
        pmc->mib.PortAdd++;
    struct mpx_pm_anno *an = anno_find(pmc, addr);
    if (!an)
        return;
    /* pm.c mptcp_pm_announced_del_timer(check_id): stop retransmitting; the
     * entry stays so a later endpoint delete still sends REMOVE_ADDR. */
    if (an->addr.id == addr->id) {
        an->retrans = MPX_PM_ADD_ADDR_RETRANS_MAX;
        an->deadline = MPX_PM_NO_DEADLINE;
    }
    trigger_work(pmc, now); /* mptcp_pm_add_addr_echoed(): next announce */
}

/* pm.c subflow_check_next(), second half. */
static void check_next(struct mpx_pm_conn *c, uint64_t now)
{
    if (!c->userspace && c->fully_established && check_work_pending(c))
        create_or_signal(c, now);
}

/* pm.c mptcp_pm_rm_addr_or_subflow(RMSUBFLOW): close our subflows that use
 * local address id |id|. */
static void rm_subflow(struct mpx_pm_conn *c, uint8_t id)
{
    for (int i = 0; i < MPX_PM_SF_MAX; i++) {
        struct mpx_pm_sf *s = &c->sf[i];
        if (!s->used || s->local.id != id)
            continue;
        emit_close(c, s);
        c->mib.RmSubflow++;
        sf_gone(c, s);
    }
}

static void lost_drop_if(struct mpx_pm_conn *c, bool by_local, uint8_t id)
{
    for (int i = 0; i < MPX_PM_LOST_MAX; i++) {
        struct mpx_pm_lost *l = &c->lost[i];
        if (l->used && (by_local ? l->local.id : l->remote.id) == id)
            l->used = false;
    }
}

void mpx_pm_on_rm_addr(struct mpx_pm_conn *pmc, const uint8_t *ids, size_t n, uint64_t now)
{
    if (n > MPX_PM_RM_IDS_MAX)
        n = MPX_PM_RM_IDS_MAX;
    for (size_t k = 0; k < n; k++) {
        bool removed = false;
        for (int i = 0; i < MPX_PM_SF_MAX; i++) {
            struct mpx_pm_sf *s = &pmc->sf[i];
            if (!s->used || s->remote.id != ids[k])
                continue;
            emit_close(pmc, s);
            removed |= s->initiator;
            sf_gone(pmc, s);
        }
        lost_drop_if(pmc, false, ids[k]);
        pmc->mib.RmAddr++;
        /* pm_kernel.c mptcp_pm_nl_rm_addr(): room for another ADD_ADDR. */
        if (removed && ids[k] && pmc->add_addr_accepted && !pmc->userspace) {
            if (--pmc->add_addr_accepted < cfg_of(pmc)->limit_add_addr_accepted)
                pmc->accept_addr = true;
        }
    }
    check_next(pmc, now);
}

void mpx_pm_on_prio(struct mpx_pm_conn *pmc, uint32_t sf, bool backup)
{
    struct mpx_pm_sf *s = sf_find(pmc, sf);
    pmc->mib.MPPrioRx++;
    if (s)
        s->remote_backup = backup;
}

/* ---- per connection: lifecycle and subflow events ------------------------- */

int mpx_pm_conn_init(struct mpx_pm_conn *pmc, struct mpx_pm_cfg *cfg,
                     const struct mpx_pm_conn_params *params)
{
    if (!cfg || !params)
        return MPX_ERR_INVAL;
    memset(pmc, 0, sizeof(*pmc));
    pmc->cfg = cfg;
    pmc->p = *params;
    pmc->p.local.id = pmc->p.remote.id = 0;
    if (!pmc->p.sock_family)
        pmc->p.sock_family = params->local.addr.family;
    /* pm.c mptcp_pm_data_reset(). */
    bool subflows_allowed = cfg->limit_subflows > 0;
    pmc->userspace = cfg->pm_type == MPX_PM_TYPE_USERSPACE;
    if (!pmc->userspace) {
        pmc->work_pending = (cfg->endp_subflow_max && subflows_allowed) || cfg->endp_signal_max;
        pmc->accept_addr = cfg->limit_add_addr_accepted && subflows_allowed;
        pmc->accept_subflow = subflows_allowed;
    }
    memset(pmc->id_avail, 0xff, sizeof(pmc->id_avail));
    struct mpx_pm_sf *s0 = sf_alloc(pmc); /* handle 0 */
    s0->established = true;
    s0->local = pmc->p.local;
    s0->remote = pmc->p.remote;
    return 0; /* the action queue is allocated on first use */
}

void mpx_pm_conn_free(struct mpx_pm_conn *pmc)
{
    free(pmc->q);
    pmc->q = NULL;
    pmc->q_cap = pmc->q_len = pmc->q_head = 0;
}

void mpx_pm_on_fully_established(struct mpx_pm_conn *pmc, uint64_t now)
{
    if (pmc->fully_established)
        return; /* pm.c: served once (MPTCP_PM_ALREADY_ESTABLISHED) */
    pmc->fully_established = true;
    trigger_work(pmc, now);
}

int mpx_pm_subflow_bind(struct mpx_pm_conn *pmc, uint32_t sf, const struct mpx_addr *local,
                        uint16_t port)
{
    struct mpx_pm_sf *s = sf_find(pmc, sf);
    if (!s)
        return MPX_ERR_NOENT;
    if (addr_is_any(&s->local.addr)) {
        int id = mpx_pm_conn_local_id(pmc, local, port);
        if (id < 0)
            return id;
        s->local.addr = *local;
        s->local.id = (uint8_t)id;
    }
    s->local.port = port;
    return s->local.id;
}

void mpx_pm_on_subflow_established(struct mpx_pm_conn *pmc, uint32_t sf,
                                   const struct mpx_addr *local, uint64_t now)
{
    struct mpx_pm_sf *s = sf_find(pmc, sf);
    if (!s)
        return;
    s->established = true;
    s->backoff_ns = 0; /* it worked: the next failure starts a fresh backoff */
    if (local)
        mpx_pm_subflow_bind(pmc, sf, local, s->local.port);
    trigger_work(pmc, now);
}

static bool path_is_down(const struct mpx_pm_conn *c, const struct mpx_addr *a, int32_t ifindex)
{
    for (int i = 0; i < MPX_PM_DOWN_MAX; i++) {
        const struct mpx_pm_down *d = &c->down[i];
        if (!d->used)
            continue;
        if ((d->ifindex && d->ifindex == ifindex) ||
            (d->addr.family && !addr_is_any(a) && pm_ip_eq(&d->addr, a)))
            return true;
    }
    return false;
}

/* Ours (not the kernel's): remember a subflow we opened that died of an
 * error so it can be opened again when its path works. */
static void lost_record(struct mpx_pm_conn *c, const struct mpx_pm_sf *s,
                        enum mpx_pm_close_reason why, uint64_t now)
{
    for (int i = 0; i < MPX_PM_LOST_MAX; i++) {
        struct mpx_pm_lost *l = &c->lost[i];
        if (l->used)
            continue;
        memset(l, 0, sizeof(*l));
        l->used = true;
        l->backup = s->backup;
        l->endp_id = s->endp_id;
        l->ifindex = s->ifindex;
        l->local = s->local;
        l->local.port = 0; /* a new subflow takes a new source port */
        l->remote = s->remote;
        l->backoff_ns = s->backoff_ns ? s->backoff_ns * 2 : MPX_PM_RETRY_BASE_NS;
        if (l->backoff_ns > MPX_PM_RETRY_MAX_NS)
            l->backoff_ns = MPX_PM_RETRY_MAX_NS;
        if (why == MPX_PM_CLOSE_NOROUTE || path_is_down(c, &s->local.addr, s->ifindex))
            l->deadline = MPX_PM_NO_DEADLINE;
        else
            l->deadline = now + l->backoff_ns;
        return;
    }
}

void mpx_pm_on_subflow_closed(struct mpx_pm_conn *pmc, uint32_t sf, enum mpx_pm_close_reason why,
                              uint64_t now)
{
    struct mpx_pm_sf *s = sf_find(pmc, sf);
    if (!s)
        return; /* already closed by a PM action, or unknown */
    bool retry = why == MPX_PM_CLOSE_ERROR || why == MPX_PM_CLOSE_NOROUTE;
    bool ours = s->initiator || (s->handle == 0 && !pmc->p.server);
    if (retry && ours && !pmc->userspace && !(s->remote.id == 0 && pmc->p.deny_join_id0))
        lost_record(pmc, s, why, now);
    bool update = s->join;
    sf_gone(pmc, s);
    if (!pmc->work_pending && !update)
        return;
    check_next(pmc, now);
}

int mpx_pm_on_join_request(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *local,
                           const struct mpx_pm_addr *remote, bool remote_backup,
                           struct mpx_pm_join_reply *out)
{
    /* pm.c mptcp_pm_allow_new_subflow(); the userspace PM takes them all. */
    if (!pmc->userspace &&
        (!pmc->accept_subflow || pmc->extra_subflows >= cfg_of(pmc)->limit_subflows)) {
        pmc->mib.MPJoinRejected++;
        return MPX_ERR_REFUSED;
    }
    int id = mpx_pm_conn_local_id(pmc, &local->addr, local->port);
    struct mpx_pm_sf *s = id < 0 ? NULL : sf_alloc(pmc);
    if (!s)
        return id < 0 ? id : MPX_ERR_NOSPACE;
    if (++pmc->extra_subflows == cfg_of(pmc)->limit_subflows && !pmc->userspace)
        pmc->accept_subflow = false;
    int i = mpx_pm_cfg_find_addr(cfg_of(pmc), &local->addr, local->port);
    s->join = true;
    s->remote_backup = remote_backup;
    s->backup = i >= 0 && (cfg_of(pmc)->endp[i].flags & MPX_PM_F_BACKUP);
    s->local = *local;
    s->local.id = (uint8_t)id;
    s->remote = *remote;
    out->sf = s->handle;
    out->local_id = (uint8_t)id;
    out->backup = s->backup;
    return 0;
}

void mpx_pm_on_tx_drop(struct mpx_pm_conn *pmc, const struct mpx_pm_action *act, uint64_t now)
{
    switch (act->type) {
    case MPX_PM_ACT_ANNOUNCE: {
        pmc->mib.AddAddrTxDrop++;
        if (pmc->mib.AddAddrTx)
            pmc->mib.AddAddrTx--;
        /* pm.c mptcp_pm_add_addr_signal(): give up on it, move on. */
        struct mpx_pm_anno *an = anno_find(pmc, &act->local);
        if (an && an->addr.id == act->local.id) {
            an->retrans = MPX_PM_ADD_ADDR_RETRANS_MAX;
            an->deadline = MPX_PM_NO_DEADLINE;
        }
        trigger_work(pmc, now);
        break;
    }
    case MPX_PM_ACT_ANNOUNCE_ECHO:
        pmc->mib.EchoAddTxDrop++;
        if (pmc->mib.EchoAddTx)
            pmc->mib.EchoAddTx--;
        break;
    case MPX_PM_ACT_REMOVE_ADDR:
        pmc->mib.RmAddrTxDrop += act->nr_ids;
        pmc->mib.RmAddrTx -= pmc->mib.RmAddrTx >= act->nr_ids ? act->nr_ids : pmc->mib.RmAddrTx;
        break;
    default:
        break;
    }
}

int mpx_pm_conn_local_id(struct mpx_pm_conn *pmc, const struct mpx_addr *addr, uint16_t port)
{
    if (pm_ip_eq(addr, &pmc->p.local.addr))
        return 0;
    int i = mpx_pm_cfg_find_addr(cfg_of(pmc), addr, port);
    if (i >= 0)
        return cfg_of(pmc)->endp[i].id;
    /* pm_kernel.c mptcp_pm_nl_get_local_id(): remember the address as an
     * implicit endpoint so its id is stable across connections. */
    struct mpx_pm_endpoint ep;
    memset(&ep, 0, sizeof(ep));
    ep.addr = *addr;
    ep.flags = MPX_PM_F_IMPLICIT;
    int rc = mpx_pm_cfg_insert(pmc->cfg, &ep);
    return rc < 0 ? MPX_ERR_NOSPACE : rc;
}

size_t mpx_pm_subflows(const struct mpx_pm_conn *pmc, struct mpx_pm_sf *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < MPX_PM_SF_MAX && n < cap; i++)
        if (pmc->sf[i].used)
            out[n++] = pmc->sf[i];
    return n;
}

/* ---- per connection: endpoint changes at run time ------------------------- */

void mpx_pm_on_endp_added(struct mpx_pm_conn *pmc, const struct mpx_pm_endpoint *ep, uint64_t now)
{
    /* pm_kernel.c mptcp_nl_add_subflow_or_signal_addr(). Unlike the
     * kernel, a connection not yet fully established will look at the new
     * endpoint when it gets there (its work_pending was computed at init). */
    if (pmc->userspace)
        return;
    if (!pmc->fully_established) {
        pmc->work_pending = true;
        return;
    }
    if (pm_ip_eq(&ep->addr, &pmc->p.local.addr) && (!ep->port || ep->port == pmc->p.local.port))
        pmc->mpc_endp_id = ep->id;
    create_or_signal(pmc, now);
}

static bool sf_from_addr(const struct mpx_pm_conn *c, const struct mpx_addr *a, uint16_t port)
{
    for (int i = 0; i < MPX_PM_SF_MAX; i++)
        if (c->sf[i].used && pm_ip_eq(&c->sf[i].local.addr, a) &&
            (!port || c->sf[i].local.port == port))
            return true;
    return false;
}

/* pm_kernel.c __mark_subflow_endp_available(). */
static void mark_available(struct mpx_pm_conn *c, uint8_t id)
{
    uint8_t real = id ? id : c->mpc_endp_id;
    bool was = pm_bit_test(c->id_avail, real);
    pm_bit_set(c->id_avail, real);
    if (!was && id && c->local_addr_used)
        c->local_addr_used--;
}

static bool anno_remove(struct mpx_pm_conn *c, const struct mpx_pm_addr *a)
{
    struct mpx_pm_anno *an = anno_find(c, a);
    if (an)
        an->used = false;
    return an != NULL;
}

void mpx_pm_on_endp_removed(struct mpx_pm_conn *pmc, const struct mpx_pm_endpoint *ep, uint64_t now)
{
    /* pm_kernel.c mptcp_nl_remove_subflow_and_signal_addr(). */
    if (pmc->userspace)
        return;
    struct mpx_pm_addr a = endp_pa(ep);
    uint8_t lid = local_id_of(pmc, ep->id);
    bool remove_subflow = sf_from_addr(pmc, &ep->addr, ep->port);
    bool force = remove_subflow && !(ep->flags & MPX_PM_F_IMPLICIT);
    bool announced = anno_remove(pmc, &a);

    if (announced) {
        pm_bit_set(pmc->id_avail, ep->id);
        if (pmc->add_addr_signaled)
            pmc->add_addr_signaled--;
    }
    if (announced || force)
        emit_rm(pmc, &lid, 1);
    if (remove_subflow)
        rm_subflow(pmc, lid);
    if (ep->flags & MPX_PM_F_SUBFLOW)
        mark_available(pmc, lid);
    if (pmc->mpc_endp_id == ep->id)
        pmc->mpc_endp_id = 0;
    for (int i = 0; i < MPX_PM_LOST_MAX; i++)
        if (pmc->lost[i].used && pmc->lost[i].endp_id == ep->id)
            pmc->lost[i].used = false;
    if (remove_subflow)
        check_next(pmc, now);
}

void mpx_pm_on_endp_changed(struct mpx_pm_conn *pmc, const struct mpx_pm_endpoint *ep,
                            uint8_t changed, uint64_t now)
{
    /* pm_kernel.c mptcp_pm_nl_set_flags_all(). */
    bool is_subflow = ep->flags & MPX_PM_F_SUBFLOW;
    bool bkup = ep->flags & MPX_PM_F_BACKUP;

    if (pmc->userspace)
        return;
    for (int i = 0; i < MPX_PM_LOST_MAX; i++)
        if (pmc->lost[i].used && pmc->lost[i].endp_id == ep->id)
            pmc->lost[i].backup = bkup;
    if (changed == MPX_PM_F_FULLMESH && !is_subflow)
        return;
    bool redo = is_subflow && (changed & MPX_PM_F_FULLMESH);
    /* No MP_PRIO on subflows about to be redone (Linux sends one anyway). */
    if ((changed & MPX_PM_F_BACKUP) && !redo) {
        for (int i = 0; i < MPX_PM_SF_MAX; i++) {
            struct mpx_pm_sf *s = &pmc->sf[i];
            if (s->used && pm_ip_eq(&s->local.addr, &ep->addr) &&
                (!ep->port || s->local.port == ep->port))
                emit_prio(pmc, s, bkup);
        }
    }
    if (redo) {
        /* pm_kernel.c mptcp_pm_nl_fullmesh(): redo this endpoint's subflows. */
        uint8_t lid = local_id_of(pmc, ep->id);
        rm_subflow(pmc, lid);
        mark_available(pmc, lid);
        create_or_signal(pmc, now);
    }
}

void mpx_pm_on_endp_flushed(struct mpx_pm_conn *pmc, const struct mpx_pm_endpoint *eps, size_t n,
                            uint64_t now)
{
    /* pm_kernel.c mptcp_pm_flush_addrs_and_subflows(). */
    uint8_t alist[MPX_PM_RM_IDS_MAX], slist[MPX_PM_RM_IDS_MAX];
    size_t an = 0, sn = 0;

    if (pmc->userspace)
        return;
    for (size_t k = 0; k < n; k++) {
        struct mpx_pm_addr a = endp_pa(&eps[k]);
        uint8_t lid = local_id_of(pmc, eps[k].id);
        if (sn < MPX_PM_RM_IDS_MAX && sf_from_addr(pmc, &eps[k].addr, eps[k].port))
            slist[sn++] = lid;
        if (an < MPX_PM_RM_IDS_MAX && anno_remove(pmc, &a))
            alist[an++] = lid;
    }
    if (an) {
        pmc->add_addr_signaled =
            (uint8_t)(pmc->add_addr_signaled >= an ? pmc->add_addr_signaled - an : 0);
        emit_rm(pmc, alist, an);
    }
    for (size_t k = 0; k < sn; k++)
        rm_subflow(pmc, slist[k]);
    memset(pmc->id_avail, 0xff, sizeof(pmc->id_avail));
    pmc->local_addr_used = 0;
    for (int i = 0; i < MPX_PM_LOST_MAX; i++)
        if (pmc->lost[i].used && pmc->lost[i].endp_id)
            pmc->lost[i].used = false;
    if (sn)
        check_next(pmc, now);
}

void mpx_pm_on_endp_id0_removed(struct mpx_pm_conn *pmc, const struct mpx_addr *addr, uint64_t now)
{
    /* pm_kernel.c mptcp_nl_remove_id_zero_address(). */
    static const uint8_t id0 = 0;
    if (pmc->userspace || !pm_ip_eq(addr, &pmc->p.local.addr))
        return;
    emit_rm(pmc, &id0, 1);
    rm_subflow(pmc, 0);
    mark_available(pmc, 0);
    lost_drop_if(pmc, true, 0);
    check_next(pmc, now);
}

/* ---- per connection: paths, timers ---------------------------------------- */

void mpx_pm_set_max_rto(struct mpx_pm_conn *pmc, uint64_t rto_ns)
{
    pmc->max_rto_ns = rto_ns;
}

/* Open a lost subflow again if the limits allow, else try later. */
static void lost_retry(struct mpx_pm_conn *c, struct mpx_pm_lost *l, uint64_t now)
{
    if (l->endp_id && !mpx_pm_endpoint_get(cfg_of(c), l->endp_id)) {
        l->used = false;
        return;
    }
    if (c->extra_subflows >= cfg_of(c)->limit_subflows) {
        l->deadline = now + l->backoff_ns;
        return;
    }
    l->used = false;
    c->extra_subflows++;
    struct mpx_pm_sf *s = create_subflow(c, &l->local, l->endp_id, l->backup ? MPX_PM_F_BACKUP : 0,
                                         l->ifindex, &l->remote);
    if (s) {
        s->backoff_ns = l->backoff_ns;
        c->mib.PMSubflowRetry++;
    }
}

static bool path_match(const struct mpx_pm_lost *l, const struct mpx_addr *addr, int32_t ifindex)
{
    if (ifindex && l->ifindex == ifindex)
        return true;
    return addr && pm_ip_eq(&l->local.addr, addr);
}

/* The down-list entry for this key: the interface if given, else the
 * address; |free_slot| gets an unused slot. */
static struct mpx_pm_down *down_find(struct mpx_pm_conn *c, const struct mpx_addr *addr,
                                     int32_t ifindex, struct mpx_pm_down **free_slot)
{
    *free_slot = NULL;
    for (int i = 0; i < MPX_PM_DOWN_MAX; i++) {
        struct mpx_pm_down *d = &c->down[i];
        if (!d->used) {
            if (!*free_slot)
                *free_slot = d;
            continue;
        }
        if (ifindex ? d->ifindex == ifindex
                    : (addr && d->addr.family && pm_ip_eq(&d->addr, addr) && !d->ifindex))
            return d;
    }
    return NULL;
}

void mpx_pm_on_path(struct mpx_pm_conn *pmc, const struct mpx_addr *addr, int32_t ifindex, bool up,
                    uint64_t now)
{
    struct mpx_pm_down *slot, *d = down_find(pmc, addr, ifindex, &slot);
    if (!addr && !ifindex)
        return;
    if (up && d) {
        d->used = false;
    } else if (!up && !d && slot) {
        memset(slot, 0, sizeof(*slot));
        slot->used = true;
        slot->ifindex = ifindex;
        if (addr)
            slot->addr = *addr;
    }
    for (int i = 0; i < MPX_PM_LOST_MAX; i++) {
        struct mpx_pm_lost *l = &pmc->lost[i];
        if (!l->used)
            continue;
        if (!up) {
            if (path_match(l, addr, ifindex))
                l->deadline = MPX_PM_NO_DEADLINE;
            continue;
        }
        /* A path came back: retry at once what used it, and what had no
         * known source address (routing may now find one). */
        if (path_match(l, addr, ifindex) || addr_is_any(&l->local.addr)) {
            l->backoff_ns = MPX_PM_RETRY_BASE_NS;
            lost_retry(pmc, l, now);
        }
    }
}

uint64_t mpx_pm_next_deadline(const struct mpx_pm_conn *pmc)
{
    uint64_t d = MPX_PM_NO_DEADLINE;
    for (int i = 0; i < MPX_PM_ANNO_MAX; i++)
        if (pmc->anno[i].used && pmc->anno[i].deadline < d)
            d = pmc->anno[i].deadline;
    for (int i = 0; i < MPX_PM_LOST_MAX; i++)
        if (pmc->lost[i].used && pmc->lost[i].deadline < d)
            d = pmc->lost[i].deadline;
    return d;
}

void mpx_pm_on_timer(struct mpx_pm_conn *pmc, uint64_t now)
{
    bool exhausted = false;
    /* pm.c mptcp_pm_add_timer(): resend, back off T, 2T, 4T, stop after
     * ADD_ADDR_RETRANS_MAX resends, then let the PM move on. */
    for (int i = 0; i < MPX_PM_ANNO_MAX; i++) {
        struct mpx_pm_anno *an = &pmc->anno[i];
        if (!an->used || an->deadline > now)
            continue;
        uint64_t t = add_addr_timeout(pmc);
        if (!t) {
            an->deadline = MPX_PM_NO_DEADLINE;
            continue;
        }
        if (an->retrans < MPX_PM_ADD_ADDR_RETRANS_MAX) {
            emit_announce(pmc, &an->addr);
            an->retrans++;
        }
        if (an->retrans < MPX_PM_ADD_ADDR_RETRANS_MAX) {
            an->deadline = now + (t << an->retrans);
        } else {
            an->deadline = MPX_PM_NO_DEADLINE;
            exhausted = true;
        }
    }
    for (int i = 0; i < MPX_PM_LOST_MAX; i++) {
        struct mpx_pm_lost *l = &pmc->lost[i];
        if (l->used && l->deadline <= now)
            lost_retry(pmc, l, now);
    }
    if (exhausted)
        trigger_work(pmc, now);
}

/* ---- userspace-PM-like commands ------------------------------------------- */

int mpx_pm_cmd_announce(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *local, uint64_t now)
{
    struct mpx_pm_anno *an = anno_find(pmc, local);
    if (an) { /* pm.c mptcp_pm_announced_alloc(): the userspace PM re-arms */
        an->addr = *local;
        anno_arm(pmc, an, now);
    } else if (!anno_alloc(pmc, local, now)) {
        return MPX_ERR_NOSPACE;
    }
    emit_announce(pmc, local);
    return 0;
}

int mpx_pm_cmd_remove(struct mpx_pm_conn *pmc, uint8_t id, uint64_t now)
{
    bool found = false;
    for (int i = 0; i < MPX_PM_ANNO_MAX; i++) {
        if (pmc->anno[i].used && pmc->anno[i].addr.id == id) {
            pmc->anno[i].used = false;
            found = true;
        }
    }
    for (int i = 0; i < MPX_PM_SF_MAX; i++)
        found |= pmc->sf[i].used && pmc->sf[i].local.id == id;
    if (!found)
        return MPX_ERR_NOENT;
    emit_rm(pmc, &id, 1);
    rm_subflow(pmc, id);
    lost_drop_if(pmc, true, id);
    (void)now;
    return 0;
}

int64_t mpx_pm_cmd_subflow_create(struct mpx_pm_conn *pmc, const struct mpx_pm_addr *local,
                                  const struct mpx_pm_addr *remote, bool backup)
{
    if (remote->addr.family != MPX_AF_INET && remote->addr.family != MPX_AF_INET6)
        return MPX_ERR_INVAL;
    pmc->extra_subflows++;
    struct mpx_pm_sf *s = create_subflow(pmc, local, 0, backup ? MPX_PM_F_BACKUP : 0, 0, remote);
    if (!s)
        return pair_exists(pmc, local, remote) ? MPX_ERR_EXIST : MPX_ERR_NOSPACE;
    return s->handle;
}

int mpx_pm_cmd_subflow_destroy(struct mpx_pm_conn *pmc, uint32_t sf, uint64_t now)
{
    struct mpx_pm_sf *s = sf_find(pmc, sf);
    if (!s)
        return MPX_ERR_NOENT;
    emit_close(pmc, s);
    sf_gone(pmc, s);
    (void)now;
    return 0;
}

int mpx_pm_cmd_set_backup(struct mpx_pm_conn *pmc, const struct mpx_addr *local,
                          const struct mpx_pm_addr *remote, bool backup)
{
    int n = 0;
    for (int i = 0; i < MPX_PM_SF_MAX; i++) {
        struct mpx_pm_sf *s = &pmc->sf[i];
        if (!s->used || !pm_ip_eq(&s->local.addr, local))
            continue;
        if (remote && !pa_eq(&s->remote, remote, remote->port != 0))
            continue;
        emit_prio(pmc, s, backup);
        n++;
    }
    return n ? 0 : MPX_ERR_NOENT;
}
