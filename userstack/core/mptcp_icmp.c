/*
 * mptcp_icmp.c - ICMP / ICMPv6 errors for the host (mptcp_stack.h
 * mpx_stack_icmp_input): decoded by wire_icmp, matched to a subflow by the
 * quoted tuple, handed to its TCP engine (tcp_icmp.c), counted. An MPTCP
 * connection hears of the outcome through its subflow: a handshake aborted
 * by the network fails the connection with that error (the initial
 * subflow) or is one failed join; an established subflow keeps retrying
 * and, when it goes stale, its data is reinjected on the others.
 */
#include <stddef.h>

#include "err.h"
#include "mptcp_int.h"

static const struct mpx_mptcp_mib_name names[] = {
#define MPX_ICMP_MIB_NAME(n) {#n, offsetof(struct mpx_icmp_mib, n)},
    MPX_ICMP_MIB_LIST(MPX_ICMP_MIB_NAME)
#undef MPX_ICMP_MIB_NAME
};

const struct mpx_mptcp_mib_name *mpx_icmp_mib_names(size_t *n)
{
    *n = sizeof(names) / sizeof(names[0]);
    return names;
}

const struct mpx_icmp_mib *mpx_stack_icmp_mib(const struct mpx_stack *st)
{
    return &st->icmp_mib;
}

/* Linux's Icmp / Icmp6 In* counters by type. */
static void count_type(struct mpx_icmp_mib *mib, const struct mpx_icmp *ic)
{
    if (ic->version == 4) {
        if (ic->type == MPX_ICMP_DEST_UNREACH)
            mib->IcmpInDestUnreachs++;
        else if (ic->type == MPX_ICMP_TIME_EXCEEDED)
            mib->IcmpInTimeExcds++;
        else if (ic->type == MPX_ICMP_PARAMETERPROB)
            mib->IcmpInParmProbs++;
        return;
    }
    if (ic->type == MPX_ICMPV6_DEST_UNREACH)
        mib->Icmp6InDestUnreachs++;
    else if (ic->type == MPX_ICMPV6_PKT_TOOBIG)
        mib->Icmp6InPktTooBigs++;
    else if (ic->type == MPX_ICMPV6_TIME_EXCEED)
        mib->Icmp6InTimeExcds++;
    else if (ic->type == MPX_ICMPV6_PARAMPROB)
        mib->Icmp6InParmProblems++;
}

static void count_result(struct mpx_icmp_mib *mib, enum mpx_tcp_icmp_res r)
{
    switch (r) {
    case MPX_TCP_ICMP_OUT_OF_WINDOW:
        mib->TcpExtOutOfWindowIcmps++;
        break;
    case MPX_TCP_ICMP_ABORTED:
        mib->MpxIcmpAborts++;
        break;
    case MPX_TCP_ICMP_SOFT:
        mib->MpxIcmpSoftErrors++;
        break;
    case MPX_TCP_ICMP_PMTU:
        mib->MpxIcmpPmtuLowered++;
        break;
    case MPX_TCP_ICMP_PMTU_STALE:
        mib->MpxIcmpPmtuStale++;
        break;
    default:
        break;
    }
}

int mpx_stack_icmp_input(struct mpx_stack *st, const uint8_t *pkt, size_t len, uint64_t now)
{
    struct mpx_icmp_mib *mib = &st->icmp_mib;
    struct mpx_icmp ic;
    int rc = mpx_icmp_decode(pkt, len, &ic);
    if (rc == MPX_ERR_UNSUPP || len < 1)
        return MPX_ERR_UNSUPP;
    bool v6 = pkt[0] >> 4 == 6;
    if (v6)
        mib->Icmp6InMsgs++;
    else
        mib->IcmpInMsgs++;
    if (rc < 0 && rc != MPX_ERR_IGNORED) {
        if (rc == MPX_ERR_CSUM)
            v6 ? mib->Icmp6InCsumErrors++ : mib->IcmpInCsumErrors++;
        v6 ? mib->Icmp6InErrors++ : mib->IcmpInErrors++;
        return 0;
    }
    if (rc == MPX_ERR_IGNORED)
        return 0; /* not an error about TCP (echo, redirect, UDP...) */
    count_type(mib, &ic);
    struct mpx_tcp_tuple t = {.local = ic.qsrc, .remote = ic.qdst};
    t.lport = ic.sport;
    t.rport = ic.dport;
    struct mpx_sf *sf = mpx_stack_find_sf(st, &t);
    if (!sf || sf->gone) {
        mib->MpxIcmpNoSubflow++;
        return 0;
    }
    count_result(mib, mpx_tcp_icmp(sf->tcp, &ic, now));
    /* what the engine did reaches the connection as after an input */
    struct mpx_msk *m = sf->msk;
    mpx_sf_process(sf, now);
    mpx_msk_push(m, now);
    mpx_msk_check_close(m, now);
    return 0;
}

int mpx_conn_set_syn_retries(struct mpx_stack *st, uint32_t conn, int n)
{
    struct mpx_msk *m = mpx_stack_find(st, conn);
    if (!m || m->orphan)
        return MPX_ERR_NOENT;
    if (n < 1 || n > 255)
        return MPX_ERR_INVAL;
    for (uint8_t i = 0; i < m->nsf; i++)
        if (!m->sf[i]->gone)
            mpx_tcp_set_syn_retries(m->sf[i]->tcp, (uint8_t)n);
    return 0;
}
