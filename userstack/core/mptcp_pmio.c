/*
 * mptcp_pmio.c - the connection's side of the path manager (mptcp_pm.h):
 * starts it when MPTCP is up, carries out its actions (MP_JOIN subflows,
 * ADD_ADDR with HMAC and echo, REMOVE_ADDR, MP_PRIO, subflow close), feeds
 * it the peer's options and the subflows' fate, and puts the pending
 * signalling options on the wire (RFC 8684 sections 3.4, 3.3.8).
 */
#include <string.h>

#include "err.h"
#include "mptcp_int.h"

/* --- start ------------------------------------------------------------- */

void mpx_msk_pm_start(struct mpx_msk *m, struct mpx_sf *sf0)
{
    if (m->pm_on || !sf0)
        return;
    struct mpx_pm_conn_params prm;
    memset(&prm, 0, sizeof(prm));
    prm.local.addr = sf0->tuple.local;
    prm.remote.addr = sf0->tuple.remote;
    prm.remote.port = sf0->tuple.rport;
    prm.deny_join_id0 = m->deny_join0;
    prm.server = m->server;
    if (mpx_pm_conn_init(&m->pm, &m->st->pm, &prm) == 0)
        m->pm_on = true;
}

void mpx_msk_pm_fully_established(struct mpx_msk *m, uint64_t now)
{
    if (!m->pm_on)
        return;
    mpx_pm_on_fully_established(&m->pm, now);
    mpx_msk_pm_run(m, now);
}

/* --- actions ----------------------------------------------------------- */

static struct mpx_sf *sf_by_handle(struct mpx_msk *m, uint32_t h)
{
    for (uint8_t i = 0; i < m->nsf; i++)
        if (m->sf[i]->pm_handle == h && !m->sf[i]->gone)
            return m->sf[i];
    return NULL;
}

/* Some subflow to carry a signalling option now: a pure ACK is asked for
 * (RFC 8684 section 3.4.1: ADD_ADDR goes on any subflow). */
static void kick_ack(struct mpx_msk *m)
{
    for (uint8_t i = 0; i < m->nsf; i++) {
        if (mpx_sf_usable(m->sf[i])) {
            mpx_tcp_send_ack(m->sf[i]->tcp);
            return;
        }
    }
}

static bool local_any(const struct mpx_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->a, zero, sizeof(zero)) == 0;
}

static void act_create(struct mpx_msk *m, const struct mpx_pm_action *a, uint64_t now)
{
    struct mpx_stack *st = m->st;
    struct mpx_addr local = a->local.addr;
    if (local.family == MPX_AF_NONE || local_any(&local)) {
        /* "any": routing's choice; here the first local address of the
         * family other than the initial subflow's */
        uint8_t fam = a->remote.addr.family;
        bool found = false;
        for (uint8_t i = 0; i < st->n_local && !found; i++) {
            if (st->local[i].family != fam ||
                (m->nsf && mpx_addr_eq(&st->local[i], &m->sf[0]->tuple.local)))
                continue;
            local = st->local[i];
            found = true;
        }
        if (!found && m->nsf)
            local = m->sf[0]->tuple.local;
    }
    int id = mpx_pm_subflow_bind(&m->pm, a->sf, &local, 0);
    uint8_t lid = id >= 0 ? (uint8_t)id : a->local.id;
    int rv =
        mpx_stack_open_join(m, &local, &a->remote.addr, a->remote.port, a->backup, lid, a->sf, now);
    if (rv < 0)
        mpx_pm_on_subflow_closed(&m->pm, a->sf, MPX_PM_CLOSE_NOROUTE, now);
}

static void queue_sig(struct mpx_msk *m, const struct mpx_mptcp_opt *o,
                      const struct mpx_pm_action *a, uint64_t now)
{
    if (m->n_sig == MPX_MSK_SIG) {
        mpx_pm_on_tx_drop(&m->pm, a, now);
        return;
    }
    m->sig[m->n_sig].opt = *o;
    m->sig[m->n_sig].act = *a;
    m->n_sig++;
    kick_ack(m);
}

static void act_announce(struct mpx_msk *m, const struct mpx_pm_action *a, bool echo, uint64_t now)
{
    struct mpx_mptcp_opt o;
    memset(&o, 0, sizeof(o));
    o.subtype = MPX_MPTCP_SUB_ADD_ADDR;
    const struct mpx_pm_addr *pa = echo ? &a->remote : &a->local;
    o.u.add_addr.echo = echo;
    o.u.add_addr.addr_id = pa->id;
    o.u.add_addr.addr = pa->addr;
    o.u.add_addr.has_port = pa->port != 0;
    o.u.add_addr.port = pa->port;
    /* E mode: the confirmed key's K (NOTES D21/D23; an echo carries the
     * same K, the one in use: the PM does not keep the echoed option's) */
    int k = m->kops == &mpx_key_ops_ext ? mpx_ek_tx_k(m) : 0;
    o.u.add_addr.key_id = k == 1;
    if (!echo) {
        o.u.add_addr.has_hmac = true;
        uint64_t *h = &o.u.add_addr.hmac;
        if (m->kops->add_addr_hmac(m, k, true, pa->id, &pa->addr, pa->port, h) < 0) {
            mpx_pm_on_tx_drop(&m->pm, a, now);
            return;
        }
    }
    queue_sig(m, &o, a, now);
}

static void act_remove(struct mpx_msk *m, const struct mpx_pm_action *a, uint64_t now)
{
    struct mpx_mptcp_opt o;
    memset(&o, 0, sizeof(o));
    o.subtype = MPX_MPTCP_SUB_RM_ADDR;
    o.u.rm_addr.n_ids = a->nr_ids > MPX_RM_ADDR_MAX_IDS ? MPX_RM_ADDR_MAX_IDS : a->nr_ids;
    memcpy(o.u.rm_addr.ids, a->ids, o.u.rm_addr.n_ids);
    queue_sig(m, &o, a, now);
}

static void act_close(struct mpx_msk *m, const struct mpx_pm_action *a, uint64_t now)
{
    struct mpx_sf *sf = sf_by_handle(m, a->sf);
    if (!sf)
        return;
    sf->pm_closed = true; /* the PM already counts it gone (RmSubflow) */
    mpx_msk_reinject_sf(m, sf);
    if (!sf->closing) {
        sf->closing = true;
        sf->shut = true;
        mpx_tcp_close(sf->tcp, now);
    }
}

static void act_prio(struct mpx_msk *m, const struct mpx_pm_action *a)
{
    struct mpx_sf *sf = sf_by_handle(m, a->sf);
    if (!sf)
        return;
    sf->backup = a->backup;
    sf->prio_pending = true;
    mpx_tcp_send_ack(sf->tcp);
}

void mpx_msk_pm_run(struct mpx_msk *m, uint64_t now)
{
    /* E mode without a key: actions wait in the PM (NOTES D17/D24) */
    if (!m->pm_on || !mpx_msk_can_auth(m))
        return;
    struct mpx_pm_action a;
    for (int guard = 0; guard < 256 && mpx_pm_next_action(&m->pm, &a); guard++) {
        switch (a.type) {
        case MPX_PM_ACT_CREATE_SUBFLOW:
            act_create(m, &a, now);
            break;
        case MPX_PM_ACT_ANNOUNCE:
            act_announce(m, &a, false, now);
            break;
        case MPX_PM_ACT_ANNOUNCE_ECHO:
            act_announce(m, &a, true, now);
            break;
        case MPX_PM_ACT_REMOVE_ADDR:
            act_remove(m, &a, now);
            break;
        case MPX_PM_ACT_CLOSE_SUBFLOW:
            act_close(m, &a, now);
            break;
        case MPX_PM_ACT_SET_BACKUP:
            act_prio(m, &a);
            break;
        default:
            break;
        }
    }
}

/* --- output: pending signalling options -------------------------------- */

/* Called by the option hook on a segment that already has its DSS (if
 * any): adds what fits. A pure ACK gives up its DSS for an ADD_ADDR that
 * does not fit next to it (the next ACK carries the DATA_ACK). */
/* The options fit the segment: 40 bytes, and with the payload no more
 * than the MSS, since the engine sized the payload for its usual options
 * only. An ADD_ADDR echo on a full data segment made a 1508-byte packet
 * that a 1500-byte path dropped (ICMP frag needed; Linux kept resending
 * its ADD_ADDR, tests/test_interop.py): such a signal waits for a pure
 * ACK instead. */
static bool sig_fits(const struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg,
                     const struct mpx_tcp_opts *opts)
{
    int sp = mpx_tcp_opts_space(opts);
    return sp >= 0 && sp <= MPX_TCP_MAX_OPT_LEN &&
           seg->payload_len + (uint32_t)sp <= sf->tcp->mss_base;
}

void mpx_sf_hook_signal(struct mpx_sf *sf, const struct mpx_tcp_seg_info *seg,
                        struct mpx_tcp_opts *opts)
{
    struct mpx_msk *m = sf->msk;
    if (sf->prio_pending) {
        struct mpx_mptcp_opt o = {.subtype = MPX_MPTCP_SUB_PRIO};
        o.u.prio.backup = sf->backup;
        if (opts->n_mptcp < MPX_TCP_MAX_MPTCP) {
            opts->mptcp[opts->n_mptcp++] = o;
            if (sig_fits(sf, seg, opts))
                sf->prio_pending = false; /* MPPrioTx: counted by the PM */
            else
                opts->n_mptcp--;
        }
    }
    while (m->n_sig) {
        const struct mpx_mptcp_opt *o = &m->sig[0].opt;
        uint8_t n0 = opts->n_mptcp;
        bool fit = false;
        if (n0 < MPX_TCP_MAX_MPTCP) {
            opts->mptcp[opts->n_mptcp++] = *o;
            fit = sig_fits(sf, seg, opts);
            if (!fit && !seg->payload_len && n0 == 1 &&
                opts->mptcp[0].subtype == MPX_MPTCP_SUB_DSS && !opts->mptcp[0].u.dss.has_map) {
                opts->mptcp[0] = *o; /* drop the DATA_ACK-only DSS */
                opts->n_mptcp = 1;
                fit = sig_fits(sf, seg, opts);
            }
        }
        if (!fit && !seg->payload_len && n0 < MPX_TCP_MAX_MPTCP &&
            (opts->present & MPX_TCPO_SACK)) {
            /* SACK blocks took the room (3 blocks and a timestamp are 40
             * bytes, the DSS gave way to them already): the signal goes
             * first, as Linux tcp_established_options puts MPTCP options
             * before SACK blocks, which the next ACK repeats anyway. Giving
             * the signal up lost a REMOVE_ADDR against Linux (RmAddrTxDrop,
             * test_interop.py engine_remove_addr, ~1 run in 70 at load). */
            opts->present &= ~MPX_TCPO_SACK;
            opts->n_sack = 0;
            fit = sig_fits(sf, seg, opts);
        }
        if (!fit) {
            opts->n_mptcp = n0;
            if (!seg->payload_len && !n0) {
                /* cannot fit even alone: give it up */
                mpx_pm_on_tx_drop(&m->pm, &m->sig[0].act, 0);
            } else {
                return;
            }
        }
        memmove(&m->sig[0], &m->sig[1], (size_t)(m->n_sig - 1) * sizeof(m->sig[0]));
        m->n_sig--;
        if (fit)
            return; /* one per segment */
    }
}

/* --- input ---------------------------------------------------------------- */

static void rx_add_addr(struct mpx_sf *sf, const struct mpx_opt_add_addr *aa, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    struct mpx_pm_addr pa;
    memset(&pa, 0, sizeof(pa));
    pa.addr = aa->addr;
    pa.port = aa->has_port ? aa->port : 0;
    pa.id = aa->addr_id;
    if (aa->echo) {
        mpx_pm_on_add_addr_echo(&m->pm, &pa, now);
        return;
    }
    uint64_t h;
    /* RFC 8684 section 3.4.1: HMAC keyed by the sender's key first; Linux
     * drops a mismatch silently */
    int k = aa->key_id ? 1 : 0;
    if (m->kops->add_addr_hmac(m, k, false, pa.id, &pa.addr, pa.port, &h) < 0 || h != aa->hmac) {
        m->st->mib.AddAddrDrop++;
        return;
    }
    mpx_ek_confirm(m, k, now); /* NOTES D13/D17: the peer holds key K */
    struct mpx_stack_event ev = {.type = MPX_SEV_ANNOUNCED,
                                 .conn = m->id,
                                 .remote_id = pa.id,
                                 .addr = pa.addr,
                                 .port = pa.port};
    mpx_stack_event_push(m->st, &ev);
    mpx_pm_on_add_addr(&m->pm, &pa, now);
}

void mpx_sf_rx_signal(struct mpx_sf *sf, const struct mpx_mptcp_opt *o, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (!m->pm_on)
        return;
    switch (o->subtype) {
    case MPX_MPTCP_SUB_ADD_ADDR:
        rx_add_addr(sf, &o->u.add_addr, now);
        break;
    case MPX_MPTCP_SUB_RM_ADDR: {
        for (uint8_t i = 0; i < o->u.rm_addr.n_ids; i++) {
            struct mpx_stack_event ev = {
                .type = MPX_SEV_REMOVED, .conn = m->id, .remote_id = o->u.rm_addr.ids[i]};
            mpx_stack_event_push(m->st, &ev);
        }
        mpx_pm_on_rm_addr(&m->pm, o->u.rm_addr.ids, o->u.rm_addr.n_ids, now);
        break;
    }
    case MPX_MPTCP_SUB_PRIO:
        /* section 3.3.8: applies to the subflow it arrives on */
        sf->peer_backup = o->u.prio.backup;
        mpx_pm_on_prio(&m->pm, sf->pm_handle, o->u.prio.backup);
        break;
    default:
        return;
    }
    mpx_msk_pm_run(m, now);
}

/* --- subflow fate -------------------------------------------------------- */

void mpx_sf_pm_established(struct mpx_sf *sf, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (!m->pm_on || !sf->join)
        return;
    mpx_pm_on_subflow_established(&m->pm, sf->pm_handle, &sf->tuple.local, now);
    mpx_msk_pm_run(m, now);
}

void mpx_sf_pm_closed(struct mpx_sf *sf, uint64_t now)
{
    struct mpx_msk *m = sf->msk;
    if (!m->pm_on || sf->pm_closed)
        return;
    sf->pm_closed = true;
    enum mpx_pm_close_reason why = MPX_PM_CLOSE_ERROR;
    /* a peer's half close (DATA_FIN in) does not end our sending: a
     * subflow lost then is still worth re-creating */
    if (sf->closing || m->closed || (m->fin_in && m->shut_wr))
        why = MPX_PM_CLOSE_LOCAL;
    else if (!sf->error)
        why = MPX_PM_CLOSE_PEER;
    else if (sf->rst_rx && !sf->rst_rx_transient)
        why = MPX_PM_CLOSE_REJECTED; /* RFC 8684 3.6: not transient, do not retry */
    else if (sf->join && !sf->tcp_est)
        why = sf->error == MPX_ERR_TIMEDOUT ? MPX_PM_CLOSE_ERROR : MPX_PM_CLOSE_REJECTED;
    mpx_pm_on_subflow_closed(&m->pm, sf->pm_handle, why, now);
    mpx_msk_pm_run(m, now);
}

/* Server: the PM decides on a join whose third ACK checked out. */
bool mpx_sf_pm_join_ok(struct mpx_sf *sf)
{
    struct mpx_msk *m = sf->msk;
    if (!m->pm_on)
        return true;
    struct mpx_pm_addr local, remote;
    memset(&local, 0, sizeof(local));
    memset(&remote, 0, sizeof(remote));
    local.addr = sf->tuple.local;
    local.port = sf->tuple.lport;
    remote.addr = sf->tuple.remote;
    remote.port = sf->tuple.rport;
    remote.id = sf->remote_id;
    struct mpx_pm_join_reply rep;
    if (mpx_pm_on_join_request(&m->pm, &local, &remote, sf->peer_backup, &rep) < 0)
        return false;
    sf->pm_handle = rep.sf;
    sf->local_id = rep.local_id;
    sf->backup = rep.backup;
    return true;
}

uint64_t mpx_msk_pm_deadline(const struct mpx_msk *m)
{
    return m->pm_on ? mpx_pm_next_deadline(&m->pm) : UINT64_MAX;
}

void mpx_msk_pm_timer(struct mpx_msk *m, uint64_t now)
{
    if (!m->pm_on || mpx_pm_next_deadline(&m->pm) > now)
        return;
    uint64_t rto = 0;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (!m->sf[i]->gone && m->sf[i]->tcp->rto > rto)
            rto = m->sf[i]->tcp->rto;
    mpx_pm_set_max_rto(&m->pm, rto);
    mpx_pm_on_timer(&m->pm, now);
    mpx_msk_pm_run(m, now);
}

void mpx_msk_pm_mib_add(const struct mpx_msk *m, struct mpx_mptcp_mib *out)
{
    if (!m->pm_on)
        return;
    const struct mpx_pm_mib *p = &m->pm.mib;
    out->AddAddr += p->AddAddr;
    out->AddAddrTx += p->AddAddrTx;
    out->AddAddrTxDrop += p->AddAddrTxDrop;
    out->EchoAdd += p->EchoAdd;
    out->EchoAddTx += p->EchoAddTx;
    out->EchoAddTxDrop += p->EchoAddTxDrop;
    out->PortAdd += p->PortAdd;
    out->AddAddrDrop += p->AddAddrDrop;
    out->RmAddr += p->RmAddr;
    out->RmAddrDrop += p->RmAddrDrop;
    out->RmAddrTx += p->RmAddrTx;
    out->RmAddrTxDrop += p->RmAddrTxDrop;
    out->RmSubflow += p->RmSubflow;
    out->MPPrioTx += p->MPPrioTx;
    out->MPPrioRx += p->MPPrioRx;
    out->MPJoinRejected += p->MPJoinRejected;
}
