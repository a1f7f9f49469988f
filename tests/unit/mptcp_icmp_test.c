/*
 * mptcp_icmp_test.c - ICMP errors into the stack (mpx_stack_icmp_input via
 * mpx_stack_input) and the handshake limits: a SYN answered by an ICMP
 * error fails the connection with Linux's errno, a quote outside
 * SND.UNA..SND.NXT or for no subflow is counted and ignored, an
 * established subflow only remembers a soft error and keeps its data
 * flowing, PTB lowers the MSS (floors 552 / 1280), TCP_SYNCNT and
 * TCP_USER_TIMEOUT bound the SYN retries like Linux (3 s for SYNCNT 1,
 * 127 s by default). Two stacks back to back, 1 ms steps.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mptcp_int.h"
#include "mpx_test.h"

struct ipair {
    struct mpx_stack *st[2];
    uint64_t rng, now;
    uint32_t cconn, sconn;
    struct mpx_pkt last; /* the client's last segment (header fields) */
    bool closed;
    int err;
    uint64_t closed_at;
    uint8_t pkt[70000];
};

static uint64_t irand(void *ctx)
{
    struct ipair *p = ctx;
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return p->rng;
}

static void ipump(struct ipair *p, int k, bool fwd)
{
    for (;;) {
        int n = mpx_stack_output(p->st[k], p->pkt, sizeof(p->pkt), p->now);
        if (n <= 0)
            break;
        struct mpx_pkt d;
        if (k == 0 && mpx_pkt_decode(p->pkt, (size_t)n, false, &d) == 0)
            p->last = d;
        if (fwd)
            mpx_stack_input(p->st[!k], p->pkt, (size_t)n, p->now);
    }
}

static void ievents(struct ipair *p)
{
    struct mpx_stack_event ev;
    while (mpx_stack_poll_event(p->st[0], &ev) == 1)
        if (ev.type == MPX_SEV_CONN_CLOSED && ev.conn == p->cconn && !p->closed) {
            p->closed = true;
            p->err = ev.error;
            p->closed_at = p->now;
        }
    while (mpx_stack_poll_event(p->st[1], &ev) == 1)
        ;
}

static void irun(struct ipair *p, int ms, bool fwd)
{
    for (int i = 0; i < ms; i++) {
        p->now += MPX_NS_PER_MS;
        mpx_stack_on_timer(p->st[0], p->now);
        mpx_stack_on_timer(p->st[1], p->now);
        ipump(p, 0, fwd);
        ipump(p, 1, true);
        if (!p->sconn) {
            long s = mpx_stack_accept(p->st[1], 80);
            if (s > 0)
                p->sconn = (uint32_t)s;
        }
        ievents(p);
    }
}

/* Client 10.0.0.1 (or fd00::1) to server :80; |fwd| false: the network
 * eats the client's packets (the SYN stays in SYN_SENT). */
static struct ipair *ipair_new_mtu(int family, bool fwd, uint32_t server_mtu)
{
    struct ipair *p = calloc(1, sizeof(*p));
    p->rng = 0x1c3f;
    for (int k = 0; k < 2; k++) {
        struct mpx_stack_config cfg;
        mpx_stack_config_default(&cfg);
        cfg.rand = irand;
        cfg.rand_ctx = p;
        if (k == 1 && server_mtu)
            cfg.tcp.mtu = server_mtu;
        p->st[k] = mpx_stack_new(&cfg);
        struct mpx_addr a = mpx_addr_v4(0x0a000001u + (uint32_t)k);
        if (family == 6) {
            memset(&a, 0, sizeof(a));
            a.family = MPX_AF_INET6;
            a.a[0] = 0xfd;
            a.a[15] = (uint8_t)(1 + k);
        }
        mpx_stack_add_local(p->st[k], &a);
    }
    mpx_stack_listen(p->st[1], 80);
    struct mpx_addr srv = mpx_addr_v4(0x0a000002u);
    if (family == 6) {
        memset(&srv, 0, sizeof(srv));
        srv.family = MPX_AF_INET6;
        srv.a[0] = 0xfd;
        srv.a[15] = 2;
    }
    long id = mpx_stack_connect(p->st[0], NULL, &srv, 80, p->now);
    p->cconn = id > 0 ? (uint32_t)id : 0;
    irun(p, 50, fwd);
    return p;
}

static struct ipair *ipair_new(int family, bool fwd)
{
    return ipair_new_mtu(family, fwd, 0);
}

static void ipair_free(struct ipair *p)
{
    mpx_stack_free(p->st[0]);
    mpx_stack_free(p->st[1]);
    free(p);
}

/* An ICMP error from a router quoting the client's last segment with
 * sequence number |seq|, fed to the client. */
static void icmp_in(struct ipair *p, uint8_t type, uint8_t code, uint32_t mtu, uint32_t seq)
{
    struct mpx_icmp ic = {.version = p->last.ip.version, .type = type, .code = code, .mtu = mtu};
    uint8_t buf[256];
    ic.src = p->last.ip.dst; /* any reporter: the peer's address will do */
    ic.src.a[ic.src.family == MPX_AF_INET ? 3 : 15] = 0xfe;
    ic.dst = p->last.ip.src;
    ic.qsrc = p->last.ip.src;
    ic.qdst = p->last.ip.dst;
    ic.sport = p->last.tcp.sport;
    ic.dport = p->last.tcp.dport;
    ic.seq = seq;
    ic.qtcp_len = 20;
    int n = mpx_icmp_encode(buf, sizeof(buf), &ic);
    if (n <= 0)
        mpx_test_fail(__FILE__, __LINE__, "encode %d", n);
    else
        mpx_stack_input(p->st[0], buf, (size_t)n, p->now);
    ievents(p);
}

/* Linux tcp_v4_err / tcp_v6_err in SYN_SENT: every error but PTB ends the
 * connect with the errno of icmp_err_convert / icmpv6_err_convert. */
MPX_TEST(mptcp_icmp_syn_sent_errors_abort)
{
    static const struct {
        int family;
        uint8_t type, code;
        int err;
    } t[] = {
        {4, 3, 0, MPX_ERR_NETUNREACH},   {4, 3, 1, MPX_ERR_HOSTUNREACH},
        {4, 3, 3, MPX_ERR_REFUSED},      {4, 3, 13, MPX_ERR_HOSTUNREACH},
        {4, 11, 0, MPX_ERR_HOSTUNREACH}, {6, 1, 0, MPX_ERR_NETUNREACH},
        {6, 1, 1, MPX_ERR_ACCES},        {6, 1, 3, MPX_ERR_HOSTUNREACH},
        {6, 1, 4, MPX_ERR_REFUSED},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct ipair *p = ipair_new(t[i].family, false);
        REQUIRE(p->cconn && p->last.tcp.flags == MPX_TH_SYN);
        icmp_in(p, t[i].type, t[i].code, 0, p->last.tcp.seq);
        if (!p->closed || p->err != t[i].err)
            mpx_test_fail(__FILE__, __LINE__, "v%d %u/%u: closed %d err %d", t[i].family, t[i].type,
                          t[i].code, p->closed, p->err);
        const struct mpx_icmp_mib *m = mpx_stack_icmp_mib(p->st[0]);
        CHECK_EQ(m->MpxIcmpAborts, 1);
        CHECK_EQ(t[i].family == 4 ? m->IcmpInMsgs : m->Icmp6InMsgs, 1);
        struct mpx_tcp_mib tm;
        mpx_stack_tcp_mib(p->st[0], &tm);
        CHECK_EQ(tm.AttemptFails, 1);
        ipair_free(p);
    }
}

/* RFC 5927 4.1: a quote whose seq is not our SYN's, or for a tuple we do
 * not have, changes nothing; the SYN keeps being retried. */
MPX_TEST(mptcp_icmp_blind_errors_ignored)
{
    struct ipair *p = ipair_new(4, false);
    REQUIRE(p->cconn);
    uint32_t iss = p->last.tcp.seq;
    icmp_in(p, 3, 1, 0, iss + 2);
    icmp_in(p, 3, 1, 0, iss - 1);
    p->last.tcp.sport++;
    icmp_in(p, 3, 1, 0, iss);
    p->last.tcp.sport--;
    const struct mpx_icmp_mib *m = mpx_stack_icmp_mib(p->st[0]);
    CHECK_EQ(m->TcpExtOutOfWindowIcmps, 2);
    CHECK_EQ(m->MpxIcmpNoSubflow, 1);
    CHECK_EQ(m->IcmpInDestUnreachs, 3);
    CHECK(!p->closed);
    /* a corrupted message is an input error */
    uint8_t buf[256];
    struct mpx_icmp ic = {.version = 4, .type = 3, .code = 1, .qtcp_len = 8};
    ic.src = ic.qdst = p->last.ip.dst;
    ic.dst = ic.qsrc = p->last.ip.src;
    ic.sport = p->last.tcp.sport;
    ic.dport = p->last.tcp.dport;
    ic.seq = iss;
    int n = mpx_icmp_encode(buf, sizeof(buf), &ic);
    REQUIRE(n > 0);
    buf[n - 1] ^= 0xff;
    mpx_stack_input(p->st[0], buf, (size_t)n, p->now);
    CHECK_EQ(m->IcmpInCsumErrors, 1);
    CHECK_EQ(m->IcmpInErrors, 1);
    irun(p, 1100, false);
    CHECK(!p->closed);
    CHECK(p->last.tcp.flags == MPX_TH_SYN && p->last.tcp.seq == iss); /* retransmitted */
    /* the exact quote still works after that */
    icmp_in(p, 3, 1, 0, iss);
    CHECK(p->closed && p->err == MPX_ERR_HOSTUNREACH);
    ipair_free(p);
}

/* Established: a host unreachable is a soft error (RFC 1122 4.2.3.9):
 * nothing closes and data still flows; PTB shrinks the MSS, never below
 * 552 bytes of MTU, and a PTB not below the MTU in use is stale. */
MPX_TEST(mptcp_icmp_established_soft_and_pmtu)
{
    struct ipair *p = ipair_new(4, true);
    REQUIRE(p->cconn && p->sconn);
    static uint8_t data[20000];
    CHECK(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now) > 0);
    ipump(p, 0, false); /* in flight, not delivered */
    REQUIRE(p->last.payload_len > 0);
    struct mpx_subflow_info si;
    REQUIRE(mpx_conn_get_subflows(p->st[0], p->cconn, &si, 1, p->now) >= 1);
    uint32_t mss0 = si.tcp.snd_mss;
    icmp_in(p, 3, 1, 0, p->last.tcp.seq);
    const struct mpx_icmp_mib *m = mpx_stack_icmp_mib(p->st[0]);
    CHECK_EQ(m->MpxIcmpSoftErrors, 1);
    CHECK(!p->closed);
    icmp_in(p, 3, 4, 1400, p->last.tcp.seq);
    CHECK_EQ(m->MpxIcmpPmtuLowered, 1);
    REQUIRE(mpx_conn_get_subflows(p->st[0], p->cconn, &si, 1, p->now) >= 1);
    CHECK(si.tcp.snd_mss < mss0 && si.tcp.snd_mss <= 1400 - 40);
    icmp_in(p, 3, 4, 1450, p->last.tcp.seq); /* not lower */
    CHECK_EQ(m->MpxIcmpPmtuStale, 1);
    icmp_in(p, 3, 4, 68, p->last.tcp.seq); /* floor 552 */
    REQUIRE(mpx_conn_get_subflows(p->st[0], p->cconn, &si, 1, p->now) >= 1);
    CHECK(si.tcp.snd_mss <= 552 - 40 && si.tcp.snd_mss >= 552 - 40 - 40);
    /* everything arrives, in segments of the new size */
    irun(p, 3000, true);
    CHECK(!p->closed);
    static uint8_t got[20000];
    long r = 0, n;
    while ((n = mpx_conn_recv(p->st[1], p->sconn, got + r, sizeof(got) - (size_t)r, p->now)) > 0)
        r += n;
    CHECK_INT(r, (long)sizeof(data));
    ipair_free(p);
}

/* Linux: tcp_syn_retries 6 gives up after 1+2+...+64 = 127 s; TCP_SYNCNT 1
 * after 1 + 2 = 3 s; the error is ETIMEDOUT. */
MPX_TEST(mptcp_icmp_syn_retries_default_and_syncnt)
{
    struct ipair *p = ipair_new(4, false);
    REQUIRE(p->cconn);
    irun(p, 126000, false);
    CHECK(!p->closed);
    irun(p, 2000, false);
    CHECK(p->closed && p->err == MPX_ERR_TIMEDOUT);
    CHECK(p->closed_at >= 127 * MPX_NS_PER_S &&
          p->closed_at <= 127 * MPX_NS_PER_S + 5 * MPX_NS_PER_MS);
    ipair_free(p);

    p = ipair_new(4, false);
    REQUIRE(p->cconn);
    CHECK_INT(mpx_conn_set_syn_retries(p->st[0], p->cconn, 1), 0);
    CHECK_INT(mpx_conn_set_syn_retries(p->st[0], p->cconn, 0), MPX_ERR_INVAL);
    CHECK_INT(mpx_conn_set_syn_retries(p->st[0], 9999, 1), MPX_ERR_NOENT);
    irun(p, 4000, false);
    CHECK(p->closed && p->err == MPX_ERR_TIMEDOUT);
    CHECK(p->closed_at >= 3 * MPX_NS_PER_S && p->closed_at <= 3 * MPX_NS_PER_S + 5 * MPX_NS_PER_MS);
    ipair_free(p);
}

/* TCP_USER_TIMEOUT bounds the SYN phase instead of the count (Linux
 * retransmits_timed_out with a user timeout, the RTO clamped to it): 500
 * ms gives up at the first retransmission timeout, 1 s; 5 s after 1+2+2. */
MPX_TEST(mptcp_icmp_user_timeout_bounds_syn)
{
    static const struct {
        uint64_t ut_ms, want_ms;
    } t[] = {{500, 1000}, {5000, 5000}, {200000, 200000}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct ipair *p = ipair_new(4, false);
        REQUIRE(p->cconn);
        CHECK_INT(mpx_conn_set_user_timeout(p->st[0], p->cconn, t[i].ut_ms * MPX_NS_PER_MS, p->now),
                  0);
        irun(p, (int)t[i].want_ms + 1000, false);
        if (!p->closed || p->err != MPX_ERR_TIMEDOUT ||
            p->closed_at < t[i].want_ms * MPX_NS_PER_MS ||
            p->closed_at > (t[i].want_ms + 5) * MPX_NS_PER_MS)
            mpx_test_fail(__FILE__, __LINE__, "user timeout %llu ms: closed %d err %d at %llu ms",
                          (unsigned long long)t[i].ut_ms, p->closed, p->err,
                          (unsigned long long)(p->closed_at / MPX_NS_PER_MS));
        ipair_free(p);
    }
}

/* Linux tcp_write_err: a subflow that gives up retransmitting after an
 * ICMP soft error reports that error, not ETIMEDOUT; an ACK of new data
 * in between forgets it. Coarse 100 ms steps (timers are deadlines). */
MPX_TEST(mptcp_icmp_soft_error_reported_on_timeout)
{
    for (int acked = 0; acked < 2; acked++) {
        struct ipair *p = ipair_new(4, true);
        REQUIRE(p->cconn && p->sconn);
        static uint8_t data[3000];
        CHECK(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now) > 0);
        ipump(p, 0, false); /* lost */
        icmp_in(p, 3, 1, 0, p->last.tcp.seq);
        if (acked) /* the path comes back for a moment: new data is acked */
            irun(p, 1500, true);
        CHECK(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now) > 0);
        for (int i = 0; i < 20000 && !p->closed; i++) {
            p->now += 100 * MPX_NS_PER_MS;
            mpx_stack_on_timer(p->st[0], p->now);
            ipump(p, 0, false);
            ievents(p);
        }
        CHECK(p->closed);
        CHECK_INT(p->err, acked ? MPX_ERR_TIMEDOUT : MPX_ERR_HOSTUNREACH);
        ipair_free(p);
    }
}

/* The client's segments now, kept (not delivered) for a later delivery. */
struct held {
    int n;
    struct mpx_pkt d[128];
    uint8_t raw[128][1600];
    size_t len[128];
};

static void hold_out(struct ipair *p, struct held *h)
{
    h->n = 0;
    for (;;) {
        int n = mpx_stack_output(p->st[0], p->pkt, sizeof(p->pkt), p->now);
        if (n <= 0)
            break;
        if (h->n == 128 || (size_t)n > sizeof(h->raw[0])) {
            mpx_test_fail(__FILE__, __LINE__, "segment %d of %d bytes", h->n, n);
            break;
        }
        memcpy(h->raw[h->n], p->pkt, (size_t)n);
        h->len[h->n] = (size_t)n;
        if (mpx_pkt_decode(h->raw[h->n], (size_t)n, false, &h->d[h->n]) == 0)
            p->last = h->d[h->n];
        h->n++;
    }
}

static struct mpx_tcp_info sf_info(struct ipair *p)
{
    struct mpx_subflow_info si;
    memset(&si, 0, sizeof(si));
    if (mpx_conn_get_subflows(p->st[0], p->cconn, &si, 1, p->now) < 1)
        mpx_test_fail(__FILE__, __LINE__, "no subflow");
    return si.tcp;
}

/* Linux tcp_simple_retransmit after a PTB (RFC 1191 / RFC 8201): the
 * flight the router dropped is resent at once, re-segmented to the new
 * MSS, with cwnd and ssthresh as they were, no RTO counted, no backoff;
 * everything arrives intact. IPv4 (frag needed) and IPv6 (PTB). */
MPX_TEST(mptcp_icmp_pmtu_resend_keeps_cwnd)
{
    for (int fam = 4; fam <= 6; fam += 2) {
        struct ipair *p = ipair_new(fam, true);
        REQUIRE(p->cconn && p->sconn);
        static uint8_t data[300000], got[300000];
        for (size_t i = 0; i < sizeof(data); i++)
            data[i] = (uint8_t)(i * 7 + i / 251);
        /* a first part delivered: cwnd grows out of the initial window */
        CHECK(mpx_conn_send(p->st[0], p->cconn, data, 100000, p->now) == 100000);
        irun(p, 200, true);
        CHECK(mpx_conn_send(p->st[0], p->cconn, data + 100000, sizeof(data) - 100000, p->now) > 0);
        static struct held h;
        hold_out(p, &h); /* the flight: all dropped by the router */
        REQUIRE(h.n > 2 && h.d[0].payload_len > 1200);
        uint32_t una = h.d[0].tcp.seq;
        uint32_t flight_end = h.d[h.n - 1].tcp.seq + (uint32_t)h.d[h.n - 1].payload_len;
        struct mpx_tcp_info i0 = sf_info(p);
        struct mpx_tcp_mib m0;
        mpx_stack_tcp_mib(p->st[0], &m0);
        REQUIRE(i0.unacked == flight_end - una);

        icmp_in(p, fam == 4 ? 3 : 2, fam == 4 ? 4 : 0, 1280, una);
        struct mpx_tcp_info i1 = sf_info(p);
        CHECK_EQ(mpx_stack_icmp_mib(p->st[0])->MpxIcmpPmtuLowered, 1);
        CHECK_EQ(i1.snd_cwnd, i0.snd_cwnd);
        CHECK_EQ(i1.snd_ssthresh, i0.snd_ssthresh);
        CHECK_EQ(i1.backoff, 0);
        CHECK(i1.snd_mss < i0.snd_mss && i1.snd_mss <= 1280 - (fam == 4 ? 40 : 60));
        /* resent now, without waiting for a timer, from SND.UNA, at the
         * new size, the whole flight (the loss state does not count what
         * the router dropped as in flight) */
        static struct held r;
        hold_out(p, &r);
        REQUIRE(r.n > 0);
        CHECK_EQ(r.d[0].tcp.seq, una);
        uint32_t end = una;
        for (int k = 0; k < r.n; k++) {
            if (r.d[k].payload_len > i1.snd_mss || r.len[k] > 1280)
                mpx_test_fail(__FILE__, __LINE__, "v%d resent seg %d: %zu bytes payload, %zu IP",
                              fam, k, r.d[k].payload_len, r.len[k]);
            if (mpx_seq_gt(r.d[k].tcp.seq + (uint32_t)r.d[k].payload_len, end))
                end = r.d[k].tcp.seq + (uint32_t)r.d[k].payload_len;
        }
        CHECK(mpx_seq_geq(end, flight_end));
        for (int k = 0; k < r.n; k++)
            mpx_stack_input(p->st[1], r.raw[k], r.len[k], p->now);
        irun(p, 3000, true);
        struct mpx_tcp_mib m1;
        mpx_stack_tcp_mib(p->st[0], &m1);
        CHECK_EQ(m1.TCPTimeouts, m0.TCPTimeouts);
        CHECK(sf_info(p).snd_cwnd >= i0.snd_cwnd);
        size_t rd = 0;
        long n;
        while ((n = mpx_conn_recv(p->st[1], p->sconn, got + rd, sizeof(got) - rd, p->now)) > 0)
            rd += (size_t)n;
        CHECK_EQ(rd, sizeof(data));
        CHECK(memcmp(got, data, sizeof(data)) == 0);
        ipair_free(p);
    }
}

/* RFC 6069 (Linux tcp_ld_RTO_revert): a host / net unreachable quoting
 * SND.UNA while the timer is backed off undoes one backoff; one quoting
 * another sequence, or arriving before any timeout, changes nothing. */
MPX_TEST(mptcp_icmp_lcd_rto_revert)
{
    struct ipair *p = ipair_new(4, true);
    REQUIRE(p->cconn && p->sconn);
    static uint8_t data[4000];
    CHECK(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now) > 0);
    static struct held h;
    hold_out(p, &h); /* lost: the path is down */
    REQUIRE(h.n >= 2);
    uint32_t una = h.d[0].tcp.seq, second = h.d[1].tcp.seq;
    struct mpx_tcp_info i0 = sf_info(p);
    icmp_in(p, 3, 1, 0, una); /* no timeout yet: nothing to revert */
    CHECK_EQ(sf_info(p).rto_us, i0.rto_us);
    while (sf_info(p).backoff < 3 && p->now < 60 * MPX_NS_PER_S) {
        p->now += MPX_NS_PER_MS;
        mpx_stack_on_timer(p->st[0], p->now);
        hold_out(p, &h);
    }
    struct mpx_tcp_info i1 = sf_info(p);
    REQUIRE(i1.backoff == 3);
    icmp_in(p, 3, 1, 0, second); /* not SND.UNA */
    CHECK_EQ(sf_info(p).backoff, 3);
    icmp_in(p, 3, 0, 0, una); /* net unreachable */
    struct mpx_tcp_info i2 = sf_info(p);
    CHECK_EQ(i2.backoff, 2);
    CHECK(i2.rto_us * 2 >= i1.rto_us - 2 && i2.rto_us * 2 <= i1.rto_us + 2);
    icmp_in(p, 3, 3, 0, una); /* port unreachable: not one of RFC 6069's */
    CHECK_EQ(sf_info(p).backoff, 2);
    /* the next retransmission comes at the reverted RTO after the last */
    uint64_t t0 = p->now;
    h.n = 0;
    while (!h.n && p->now < t0 + 10 * MPX_NS_PER_S) {
        p->now += MPX_NS_PER_MS;
        mpx_stack_on_timer(p->st[0], p->now);
        hold_out(p, &h);
    }
    CHECK(h.n > 0 && h.d[0].tcp.seq == una);
    CHECK(p->now - t0 <= (uint64_t)i2.rto_us * 1000 + MPX_NS_PER_MS);
    CHECK(!p->closed);
    ipair_free(p);
}

/* The MSS a stack announces follows its MTU (Linux advmss = MTU - 40):
 * the server at MTU 1300 announces 1260, the client's segments fit it.
 * A PTB that lowers the client's MTU (1400) but not its segments (still
 * 1260 by the peer's MSS) resends nothing: nothing was too big. */
MPX_TEST(mptcp_icmp_pmtu_above_peer_mss_no_resend)
{
    struct ipair *p = ipair_new_mtu(4, true, 1300);
    REQUIRE(p->cconn && p->sconn);
    struct mpx_tcp_info i0 = sf_info(p);
    /* 1260 less timestamps (12) and the MPTCP option reserve */
    CHECK(i0.snd_mss <= 1260 - 12 && i0.snd_mss >= 1260 - 40);
    static uint8_t data[60000];
    CHECK(mpx_conn_send(p->st[0], p->cconn, data, sizeof(data), p->now) > 0);
    static struct held h;
    hold_out(p, &h);
    REQUIRE(h.n > 2);
    for (int k = 0; k < h.n; k++)
        CHECK(h.len[k] <= 1300);
    icmp_in(p, 3, 4, 1400, h.d[0].tcp.seq);
    CHECK_EQ(mpx_stack_icmp_mib(p->st[0])->MpxIcmpPmtuLowered, 1);
    CHECK_EQ(sf_info(p).pmtu, 1400);
    CHECK_EQ(sf_info(p).snd_mss, i0.snd_mss);
    hold_out(p, &h);
    CHECK_INT(h.n, 0);
    CHECK_EQ(sf_info(p).ca_state, 0);
    ipair_free(p);
}
