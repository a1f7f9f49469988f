/*
 * mptcp_paths_test.c - the path manager inside the stack, in the
 * categories of the kernel's mptcp_join.sh: subflows, signal,
 * add_addr_timeout, remove, add, ipv6, backup, ports, fullmesh. Two stacks
 * back to back (every packet reaches the peer whatever its addresses),
 * a hook that can drop packets, counters as chk_join_nr / chk_add_nr /
 * chk_rm_nr / chk_prio_nr check them, data verified byte by byte.
 */
#include <stdlib.h>

#include "err.h"
#include "mpx_test.h"
#include "mptcp_stack.h"

#define NADDR 3

struct net;
typedef bool (*drop_fn)(struct net *n, int from, const struct mpx_pkt *p);

struct net {
    struct mpx_stack *st[2];
    struct mpx_addr v4[2][NADDR], v6[2][NADDR];
    uint64_t now, rng;
    drop_fn drop;
    int dropped;
    uint32_t cconn, sconn;
    uint64_t sent, got;
    bool eof, data_ok;
    int announced, removed, sub_est[2];
    uint32_t fseq, fack; /* server's next SEQ / ACK as last sent: forge in window */
    uint8_t pkt[70000], buf[16384];
};

static uint64_t nrand(void *ctx)
{
    struct net *n = ctx;
    uint64_t x = n->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return n->rng = x;
}

static struct mpx_addr v6addr(int k, int i)
{
    struct mpx_addr a = {.family = MPX_AF_INET6};
    a.a[0] = 0xfd;
    a.a[1] = (uint8_t)i;
    a.a[15] = (uint8_t)(k + 1);
    return a;
}

static struct net *net_new(uint64_t seed)
{
    struct net *n = calloc(1, sizeof(*n));
    n->rng = seed * 0x9e3779b97f4a7c15ull + 7;
    n->data_ok = true;
    for (int k = 0; k < 2; k++) {
        struct mpx_stack_config cfg;
        mpx_stack_config_default(&cfg);
        cfg.rand = nrand;
        cfg.rand_ctx = n;
        cfg.tcp.timewait = MPX_NS_PER_S;
        cfg.sndbuf = cfg.rcvbuf = 1 << 20;
        n->st[k] = mpx_stack_new(&cfg);
        for (int i = 0; i < NADDR; i++) {
            n->v4[k][i] = mpx_addr_v4(0x0a000001u + ((uint32_t)i << 8) + (uint32_t)k);
            n->v6[k][i] = v6addr(k, i);
            mpx_stack_add_local(n->st[k], &n->v4[k][i]);
        }
        for (int i = 0; i < NADDR; i++)
            mpx_stack_add_local(n->st[k], &n->v6[k][i]);
    }
    mpx_stack_listen(n->st[1], 80);
    return n;
}

static void net_free(struct net *n)
{
    mpx_stack_free(n->st[0]);
    mpx_stack_free(n->st[1]);
    free(n);
}

static void limits(struct net *n, int k, int subflows, int accepted)
{
    mpx_pm_limits_set(mpx_stack_pm_cfg(n->st[k]), subflows, accepted);
}

static int endp(struct net *n, int k, const struct mpx_addr *a, uint8_t flags, uint16_t port)
{
    struct mpx_pm_endpoint ep = {.flags = flags, .port = port, .addr = *a};
    return mpx_stack_endpoint_add(n->st[k], &ep, n->now);
}

static void events(struct net *n, int k)
{
    struct mpx_stack_event ev;
    while (mpx_stack_poll_event(n->st[k], &ev)) {
        if (ev.type == MPX_SEV_ANNOUNCED && k == 0)
            n->announced++;
        else if (ev.type == MPX_SEV_REMOVED && k == 0)
            n->removed++;
        else if (ev.type == MPX_SEV_SUB_ESTABLISHED)
            n->sub_est[k]++;
    }
}

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i * 7 + (i >> 11));
}

/* The apps: the client streams |total| bytes then shuts down; the server
 * reads and checks them. */
static void apps(struct net *n, uint64_t total)
{
    while (n->cconn && n->sent < total) {
        size_t c = total - n->sent < sizeof(n->buf) ? (size_t)(total - n->sent) : sizeof(n->buf);
        for (size_t i = 0; i < c; i++)
            n->buf[i] = pattern(n->sent + i);
        long w = mpx_conn_send(n->st[0], n->cconn, n->buf, c, n->now);
        if (w <= 0)
            break;
        n->sent += (uint64_t)w;
        if (n->sent == total)
            mpx_conn_shutdown(n->st[0], n->cconn, n->now);
    }
    if (!n->sconn) {
        long s = mpx_stack_accept(n->st[1], 80);
        if (s > 0)
            n->sconn = (uint32_t)s;
    }
    for (long r; n->sconn &&
                 (r = mpx_conn_recv(n->st[1], n->sconn, n->buf, sizeof(n->buf), n->now)) >= 0;) {
        if (r == 0) {
            n->eof = true;
            break;
        }
        for (long i = 0; i < r; i++)
            n->data_ok &= n->buf[i] == pattern(n->got + (uint64_t)i);
        n->got += (uint64_t)r;
    }
}

/* Runs for |dur| ns of virtual time, 1 ms ticks of the apps; every packet
 * takes 1 ms... no: packets are delivered at once, timers in order. */
static void run(struct net *n, uint64_t total, uint64_t dur)
{
    uint64_t end = n->now + dur;
    while (n->now < end) {
        apps(n, total);
        for (int round = 0; round < 10000; round++) {
            bool moved = false;
            for (int k = 0; k < 2; k++) {
                for (;;) {
                    int len = mpx_stack_output(n->st[k], n->pkt, sizeof(n->pkt), n->now);
                    if (len <= 0)
                        break;
                    moved = true;
                    struct mpx_pkt p;
                    if (n->drop && mpx_pkt_decode(n->pkt, (size_t)len, true, &p) == 0 &&
                        n->drop(n, k, &p)) {
                        n->dropped++;
                        continue;
                    }
                    mpx_stack_input(n->st[!k], n->pkt, (size_t)len, n->now);
                }
            }
            events(n, 0);
            events(n, 1);
            apps(n, total);
            if (!moved)
                break;
        }
        uint64_t d0 = mpx_stack_next_deadline(n->st[0]), d1 = mpx_stack_next_deadline(n->st[1]);
        uint64_t d = d0 < d1 ? d0 : d1, tick = n->now + MPX_NS_PER_MS;
        n->now = d < tick ? (d > n->now ? d : n->now) : tick;
        if (n->now > end)
            n->now = end;
        mpx_stack_on_timer(n->st[0], n->now);
        mpx_stack_on_timer(n->st[1], n->now);
    }
}

static bool connect_v(struct net *n, bool v6)
{
    const struct mpx_addr *l = v6 ? &n->v6[0][0] : &n->v4[0][0];
    const struct mpx_addr *r = v6 ? &n->v6[1][0] : &n->v4[1][0];
    long id = mpx_stack_connect(n->st[0], l, r, 80, n->now);
    if (id <= 0)
        return false;
    n->cconn = (uint32_t)id;
    return true;
}

static const struct mpx_mptcp_mib *cmib(struct net *n)
{
    return mpx_stack_mib(n->st[0]);
}

static const struct mpx_mptcp_mib *smib(struct net *n)
{
    return mpx_stack_mib(n->st[1]);
}

/* chk_join_nr: SYN received by the server, SYN/ACK by the client, third
 * ACK by the server. */
#define CHECK_JOIN(n, syn, synack, ack)                                                            \
    do {                                                                                           \
        CHECK_EQ(smib(n)->MPJoinSynRx, syn);                                                       \
        CHECK_EQ(cmib(n)->MPJoinSynAckRx, synack);                                                 \
        CHECK_EQ(smib(n)->MPJoinAckRx, ack);                                                       \
    } while (0)

#define TRANSFER 400000

static void finish(struct net *n)
{
    run(n, TRANSFER, 3 * MPX_NS_PER_S);
    CHECK(n->eof);
    CHECK(n->data_ok);
    CHECK_EQ(n->got, TRANSFER);
}

/* "single subflow, limited by client": subflows 1 each, one subflow
 * endpoint on the client. */
MPX_TEST(mptcp_paths_subflows)
{
    struct net *n = net_new(1);
    limits(n, 0, 1, 0);
    limits(n, 1, 1, 0);
    REQUIRE(endp(n, 0, &n->v4[0][1], MPX_PM_F_SUBFLOW, 0) > 0);
    REQUIRE(connect_v(n, false));
    finish(n);
    CHECK_JOIN(n, 1, 1, 1);
    CHECK_EQ(n->sub_est[0], 1);
    CHECK_EQ(n->sub_est[1], 1);
    net_free(n);
}

/* Subflows limited by the server: the join is refused with MP_TCPRST. */
MPX_TEST(mptcp_paths_subflows_server_limit)
{
    struct net *n = net_new(2);
    limits(n, 0, 1, 0);
    limits(n, 1, 0, 0);
    REQUIRE(endp(n, 0, &n->v4[0][1], MPX_PM_F_SUBFLOW, 0) > 0);
    REQUIRE(connect_v(n, false));
    finish(n);
    CHECK_EQ(smib(n)->MPJoinSynRx, 1);
    CHECK_EQ(smib(n)->MPJoinRejected, 1);
    CHECK_EQ(smib(n)->MPJoinAckRx, 0);
    CHECK_EQ(cmib(n)->MPRstRx, 1);
    net_free(n);
}

/* "signal address": the server announces, the client accepts and joins. */
MPX_TEST(mptcp_paths_signal)
{
    struct net *n = net_new(3);
    limits(n, 0, 1, 1);
    limits(n, 1, 1, 1);
    REQUIRE(endp(n, 1, &n->v4[1][1], MPX_PM_F_SIGNAL, 0) > 0);
    REQUIRE(connect_v(n, false));
    finish(n);
    CHECK_EQ(smib(n)->AddAddrTx, 1);
    CHECK_EQ(cmib(n)->AddAddr, 1);
    CHECK_EQ(cmib(n)->EchoAddTx, 1);
    CHECK_EQ(smib(n)->EchoAdd, 1);
    CHECK_EQ(n->announced, 1);
    CHECK_JOIN(n, 1, 1, 1);
    net_free(n);
}

/* An ADD_ADDR with a bad HMAC is dropped (no echo, no join). */
static bool corrupt_add_addr(struct net *n, int from, const struct mpx_pkt *p)
{
    for (uint8_t i = 0; i < p->tcp.opts.n_mptcp; i++) {
        const struct mpx_mptcp_opt *o = &p->tcp.opts.mptcp[i];
        if (o->subtype == MPX_MPTCP_SUB_ADD_ADDR && !o->u.add_addr.echo)
            return true; /* replaced below by a forged one */
    }
    if (from == 1) {
        n->fseq = p->tcp.seq + (uint32_t)p->payload_len + !!(p->tcp.flags & MPX_TH_FIN);
        n->fack = p->tcp.ack;
    }
    return false;
}

MPX_TEST(mptcp_paths_signal_bad_hmac_ignored)
{
    struct net *n = net_new(4);
    limits(n, 0, 1, 1);
    limits(n, 1, 1, 1);
    n->drop = corrupt_add_addr;
    REQUIRE(endp(n, 1, &n->v4[1][1], MPX_PM_F_SIGNAL, 0) > 0);
    REQUIRE(connect_v(n, false));
    run(n, 0, 300 * MPX_NS_PER_MS);
    REQUIRE(n->sconn && n->dropped >= 1);
    /* forge one: HMAC not keyed with the connection's keys */
    n->drop = NULL;
    struct mpx_ip_hdr ip = {.version = 4, .ttl = 64, .proto = MPX_IPPROTO_TCP, .df = true};
    struct mpx_subflow_info si;
    REQUIRE(mpx_conn_get_subflows(n->st[1], n->sconn, &si, 1, n->now) >= 1);
    ip.src = si.tuple.local;
    ip.dst = si.tuple.remote;
    struct mpx_tcp_hdr th = {
        .sport = si.tuple.lport, .dport = si.tuple.rport, .flags = MPX_TH_ACK, .win = 1000};
    /* in window: options of unacceptable segments are ignored anyway
     * (mptcp_harden_test.c), the HMAC must be what rejects this one */
    th.seq = n->fseq;
    th.ack = n->fack;
    th.opts.n_mptcp = 1;
    th.opts.mptcp[0].subtype = MPX_MPTCP_SUB_ADD_ADDR;
    th.opts.mptcp[0].u.add_addr.addr_id = 9;
    th.opts.mptcp[0].u.add_addr.addr = n->v4[1][2];
    th.opts.mptcp[0].u.add_addr.has_hmac = true;
    th.opts.mptcp[0].u.add_addr.hmac = 0x0123456789abcdefull;
    int len = mpx_pkt_encode(n->pkt, sizeof(n->pkt), &ip, &th, NULL, 0, NULL);
    REQUIRE(len > 0);
    mpx_stack_input(n->st[0], n->pkt, (size_t)len, n->now);
    finish(n);
    CHECK_EQ(cmib(n)->AddAddr, 0);
    CHECK_EQ(cmib(n)->AddAddrDrop, 1);
    CHECK_EQ(cmib(n)->EchoAddTx, 0);
    CHECK_EQ(n->announced, 0);
    CHECK_JOIN(n, 0, 0, 0);
    net_free(n);
}

/* add_addr_timeout: echoes are dropped, the server retransmits the
 * ADD_ADDR (4 transmissions in all, Linux ADD_ADDR_RETRANS_MAX 3). */
static bool drop_echo(struct net *n, int from, const struct mpx_pkt *p)
{
    (void)n;
    for (uint8_t i = 0; from == 0 && i < p->tcp.opts.n_mptcp; i++)
        if (p->tcp.opts.mptcp[i].subtype == MPX_MPTCP_SUB_ADD_ADDR &&
            p->tcp.opts.mptcp[i].u.add_addr.echo)
            return true;
    return false;
}

MPX_TEST(mptcp_paths_add_addr_timeout)
{
    struct net *n = net_new(5);
    limits(n, 0, 1, 1);
    limits(n, 1, 1, 1);
    mpx_stack_pm_cfg(n->st[1])->add_addr_timeout_ns = MPX_NS_PER_S;
    n->drop = drop_echo;
    REQUIRE(endp(n, 1, &n->v4[1][1], MPX_PM_F_SIGNAL, 0) > 0);
    REQUIRE(connect_v(n, false));
    run(n, 0, 8 * MPX_NS_PER_S); /* idle connection: keep it open */
    finish(n);
    CHECK_EQ(smib(n)->AddAddrTx, 4);
    CHECK_EQ(cmib(n)->AddAddr, 4);
    CHECK_EQ(cmib(n)->EchoAddTx, 4);
    CHECK_EQ(smib(n)->EchoAdd, 0);
    CHECK_EQ(n->dropped, 4);
    CHECK_JOIN(n, 1, 1, 1); /* joined on the first one */
    net_free(n);
}

/* remove: the server withdraws its signalled address mid-connection: the
 * client gets RM_ADDR and closes the subflow to it. */
MPX_TEST(mptcp_paths_remove)
{
    struct net *n = net_new(6);
    limits(n, 0, 1, 1);
    limits(n, 1, 1, 1);
    int id = endp(n, 1, &n->v4[1][1], MPX_PM_F_SIGNAL, 0);
    REQUIRE(id > 0);
    REQUIRE(connect_v(n, false));
    run(n, 0, 500 * MPX_NS_PER_MS);
    CHECK_JOIN(n, 1, 1, 1);
    REQUIRE(mpx_stack_endpoint_del(n->st[1], (uint8_t)id, n->now) == 0);
    finish(n);
    CHECK_EQ(smib(n)->RmAddrTx, 1);
    CHECK_EQ(cmib(n)->RmAddr, 1);
    CHECK_EQ(smib(n)->RmSubflow, 1); /* Linux: the side that withdrew */
    CHECK_EQ(n->removed, 1);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(n->st[0], n->cconn, &ci) == 0);
    CHECK_EQ(ci.subflows, 1);
    CHECK_EQ(ci.subflows_total, 2);
    CHECK_EQ(ci.add_addr_accepted, 0); /* given back by the RM_ADDR, as Linux */
    CHECK_EQ(ci.subflows_max, 1);
    CHECK_EQ(ci.add_addr_accepted_max, 1);
    CHECK(ci.last_data_sent > 0 && ci.last_ack_recv >= ci.last_data_sent);
    net_free(n);
}

/* endpoint flush: the server withdraws every announced address (RM_ADDR)
 * and the client closes the subflows to them. */
MPX_TEST(mptcp_paths_flush)
{
    struct net *n = net_new(13);
    limits(n, 0, 2, 2);
    limits(n, 1, 2, 2);
    REQUIRE(endp(n, 1, &n->v4[1][1], MPX_PM_F_SIGNAL, 0) > 0);
    REQUIRE(endp(n, 1, &n->v4[1][2], MPX_PM_F_SIGNAL, 0) > 0);
    REQUIRE(connect_v(n, false));
    run(n, 0, 500 * MPX_NS_PER_MS);
    CHECK_JOIN(n, 2, 2, 2);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(n->st[1], n->sconn, &ci) == 0);
    CHECK_EQ(ci.add_addr_signal, 2);
    CHECK_EQ(ci.add_addr_signal_max, 2);
    CHECK_INT(mpx_stack_endpoint_flush(n->st[1], n->now), 2);
    finish(n);
    CHECK_EQ(cmib(n)->RmAddr, 2);
    CHECK_EQ(n->removed, 2);
    REQUIRE(mpx_conn_get_info(n->st[0], n->cconn, &ci) == 0);
    CHECK_EQ(ci.subflows, 1);
    net_free(n);
}

/* add: an endpoint added while the connection runs gets a subflow. */
MPX_TEST(mptcp_paths_add)
{
    struct net *n = net_new(7);
    limits(n, 0, 2, 0);
    limits(n, 1, 2, 0);
    REQUIRE(connect_v(n, false));
    run(n, 0, 300 * MPX_NS_PER_MS);
    CHECK_JOIN(n, 0, 0, 0);
    REQUIRE(endp(n, 0, &n->v4[0][1], MPX_PM_F_SUBFLOW, 0) > 0);
    REQUIRE(endp(n, 0, &n->v4[0][2], MPX_PM_F_SUBFLOW, 0) > 0);
    finish(n);
    CHECK_JOIN(n, 2, 2, 2);
    net_free(n);
}

/* ipv6: the whole thing over IPv6 (ADD_ADDR of 28 bytes). */
MPX_TEST(mptcp_paths_ipv6)
{
    struct net *n = net_new(8);
    limits(n, 0, 2, 1);
    limits(n, 1, 2, 1);
    REQUIRE(endp(n, 1, &n->v6[1][1], MPX_PM_F_SIGNAL, 0) > 0);
    REQUIRE(endp(n, 0, &n->v6[0][2], MPX_PM_F_SUBFLOW, 0) > 0);
    REQUIRE(connect_v(n, true));
    finish(n);
    CHECK_EQ(cmib(n)->AddAddr, 1);
    CHECK_EQ(smib(n)->EchoAdd, 1);
    CHECK_JOIN(n, 2, 2, 2);
    net_free(n);
}

/* backup: a backup endpoint's join sets B; changing the endpoint at run
 * time sends MP_PRIO. */
MPX_TEST(mptcp_paths_backup)
{
    struct net *n = net_new(9);
    limits(n, 0, 1, 0);
    limits(n, 1, 1, 0);
    int id = endp(n, 0, &n->v4[0][1], MPX_PM_F_SUBFLOW | MPX_PM_F_BACKUP, 0);
    REQUIRE(id > 0);
    REQUIRE(connect_v(n, false));
    run(n, 0, 500 * MPX_NS_PER_MS);
    CHECK_JOIN(n, 1, 1, 1);
    CHECK_EQ(smib(n)->MPJoinSynBackupRx, 1);
    REQUIRE(mpx_stack_endpoint_change(n->st[0], (uint8_t)id, 0, n->now) == 0);
    finish(n);
    CHECK_EQ(cmib(n)->MPPrioTx, 1);
    CHECK_EQ(smib(n)->MPPrioRx, 1);
    net_free(n);
}

/* ports: a signal endpoint with its own port; joins go to that port. */
MPX_TEST(mptcp_paths_ports)
{
    struct net *n = net_new(10);
    limits(n, 0, 1, 1);
    limits(n, 1, 1, 1);
    REQUIRE(endp(n, 1, &n->v4[1][1], MPX_PM_F_SIGNAL, 10100) > 0);
    REQUIRE(connect_v(n, false));
    finish(n);
    CHECK_EQ(cmib(n)->AddAddr, 1);
    CHECK_EQ(cmib(n)->PortAdd, 1);
    CHECK_JOIN(n, 1, 1, 1);
    struct mpx_subflow_info si[4];
    int k = mpx_conn_get_subflows(n->st[0], n->cconn, si, 4, n->now);
    REQUIRE(k == 2);
    CHECK_EQ(si[1].tuple.rport, 10100);
    net_free(n);
}

/* fullmesh: a fullmesh endpoint joins every peer address (the initial one
 * and the announced one). */
MPX_TEST(mptcp_paths_fullmesh)
{
    struct net *n = net_new(11);
    limits(n, 0, 4, 4);
    limits(n, 1, 4, 4);
    REQUIRE(endp(n, 1, &n->v4[1][1], MPX_PM_F_SIGNAL, 0) > 0);
    REQUIRE(endp(n, 0, &n->v4[0][1], MPX_PM_F_SUBFLOW | MPX_PM_F_FULLMESH, 0) > 0);
    REQUIRE(connect_v(n, false));
    finish(n);
    CHECK_EQ(cmib(n)->AddAddr, 1);
    CHECK(smib(n)->MPJoinAckRx >= 2);
    CHECK_EQ(smib(n)->MPJoinSynRx, smib(n)->MPJoinAckRx);
    net_free(n);
}

/* mixed: an IPv4 connection hears of an IPv6 address: echoed, but no
 * join across families (kernel mptcp_pm_addr_families_match()); a v4
 * subflow endpoint still joins. */
MPX_TEST(mptcp_paths_mixed)
{
    struct net *n = net_new(12);
    limits(n, 0, 2, 2);
    limits(n, 1, 2, 2);
    REQUIRE(endp(n, 1, &n->v6[1][1], MPX_PM_F_SIGNAL, 0) > 0);
    REQUIRE(endp(n, 0, &n->v4[0][1], MPX_PM_F_SUBFLOW, 0) > 0);
    REQUIRE(connect_v(n, false));
    finish(n);
    CHECK_EQ(cmib(n)->AddAddr, 1);
    CHECK_EQ(smib(n)->EchoAdd, 1);
    CHECK_JOIN(n, 1, 1, 1);
    struct mpx_subflow_info si[4];
    int k = mpx_conn_get_subflows(n->st[0], n->cconn, si, 4, n->now);
    REQUIRE(k == 2);
    CHECK_EQ(si[1].tuple.remote.family, MPX_AF_INET);
    net_free(n);
}
