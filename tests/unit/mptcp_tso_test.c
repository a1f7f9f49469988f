/*
 * mptcp_tso_test.c - TUN offload in the core: TSO super segments out
 * (config tcp.max_seg, mpx_stack_out_gso) and GRO'd super segments in
 * (mpx_stack_input_flags with MPX_STACK_IN_CSUM_OK), between two MPTCP
 * stacks back to back.
 *
 * A super segment is either cut here the way the kernel's TCP GSO does
 * (tcp_gso_segment: the header with its options copied to every segment,
 * sequence numbers advanced, FIN and PSH only on the last one, checksums
 * per segment) and every segment checked to fit a 1500-byte MTU and to
 * carry its DSS, or handed to the peer whole with a partial checksum, as
 * a TUN with offloads gives GRO'd packets to its reader.
 */
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "err.h"
#include "mptcp_b2b.h"
#include "mpx_test.h"
#include "vnet.h"
#include "wire_tcp.h"

#define TSO_MTU      1500
#define TSO_MAX      65000
#define TSO_LEN      (3u << 20)
#define TSO_TCPF_FIN 0x01
#define TSO_TCPF_PSH 0x08

enum tso_mode { TSO_SPLIT, TSO_GRO };

struct tso_run {
    enum tso_mode mode;
    bool csum;        /* DSS checksums on both hosts */
    uint32_t max_seg; /* tcp.max_seg of both hosts */
    int drop_at;      /* drop the client's Nth super segment (0: none) */
    int client_supers;
    int supers;   /* super segments seen */
    int segs;     /* segments they were cut into (split mode) */
    int oversize; /* segments longer than the MTU */
    int no_dss;   /* segments without an MPTCP option */
    int bad_opts; /* segments that do not decode (checksums, options) */
    int tails;    /* super segments whose last segment is short */
    size_t max_payload;
};

static void tweak(int k, struct mpx_stack_config *cfg, void *arg)
{
    const struct tso_run *r = arg;
    (void)k;
    cfg->tcp.max_seg = r->max_seg;
    cfg->tcp.tso_csum_partial = r->max_seg != 0; /* as mptcpextd with offload */
    cfg->checksum = r->csum;
    cfg->sndbuf = cfg->rcvbuf = 4u << 20;
}

/* One segment [off, off + n) of the super segment |pkt| (IPv4). */
static void split_one(struct b2b *b, struct tso_run *r, int k, const uint8_t *pkt, size_t len,
                      size_t off, size_t n, size_t i)
{
    static uint8_t seg[TSO_MTU + 64];
    size_t iphl = (size_t)(pkt[0] & 15) * 4, thl = (size_t)(pkt[iphl + 12] >> 4) * 4;
    size_t hl = iphl + thl;
    struct mpx_addr src = mpx_addr_v4(mpx_load_be32(pkt + 12));
    struct mpx_addr dst = mpx_addr_v4(mpx_load_be32(pkt + 16));
    struct mpx_pkt p;

    if (hl + n > TSO_MTU) {
        r->oversize++;
        return;
    }
    memcpy(seg, pkt, hl);
    memcpy(seg + hl, pkt + off, n);
    mpx_put_be16(seg + 2, (uint16_t)(hl + n));
    mpx_put_be16(seg + 4, (uint16_t)(mpx_load_be16(pkt + 4) + i));
    mpx_put_be16(seg + 10, 0);
    mpx_put_be16(seg + 10, mpx_csum_fold(mpx_csum_add(0, seg, iphl)));
    mpx_put_be32(seg + iphl + 4, (uint32_t)(mpx_load_be32(pkt + iphl + 4) + (off - hl)));
    if (off + n < len)
        seg[iphl + 13] &= (uint8_t) ~(TSO_TCPF_FIN | TSO_TCPF_PSH);
    mpx_put_be16(seg + iphl + 16, 0);
    mpx_tcp_csum_fill(seg + iphl, thl + n, &src, &dst);
    r->segs++;
    if (mpx_pkt_decode(seg, hl + n, true, &p) != 0) {
        r->bad_opts++;
        return;
    }
    if (p.tcp.opts.n_mptcp == 0)
        r->no_dss++;
    mpx_stack_input(b->st[!k], seg, hl + n, b->now);
}

static void deliver(struct b2b *b, struct tso_run *r, int k, uint8_t *pkt, size_t len, uint32_t gso)
{
    if (!gso) {
        mpx_stack_input(b->st[!k], pkt, len, b->now);
        return;
    }
    r->supers++;
    size_t iphl = (size_t)(pkt[0] & 15) * 4, thl = (size_t)(pkt[iphl + 12] >> 4) * 4;
    if (len - iphl - thl > r->max_payload)
        r->max_payload = len - iphl - thl;
    if ((len - iphl - thl) % gso)
        r->tails++;
    if (k == 0 && r->drop_at && ++r->client_supers == r->drop_at)
        return; /* the client's retransmits it */
    if (r->mode == TSO_GRO) {
        struct mpx_vnet_hdr vh;
        CHECK_INT(mpx_vnet_tso_prepare(pkt, len, (uint16_t)gso, &vh), 0);
        CHECK_INT(vh.gso_size, gso);
        mpx_stack_input_flags(b->st[!k], pkt, len, MPX_STACK_IN_CSUM_OK, b->now);
        return;
    }
    size_t i = 0;
    for (size_t off = iphl + thl; off < len; off += gso, i++)
        split_one(b, r, k, pkt, len, off, len - off < gso ? len - off : gso, i);
}

/* Pattern byte |i| of direction |k|. */
static uint8_t pat(int k, size_t i)
{
    return (uint8_t)((i * 131u + (i >> 9) + (unsigned)k * 7u) & 0xff);
}

struct tso_dir {
    uint32_t tx_conn, rx_conn;
    size_t sent, got;
    bool bad;
};

static void pump_app(struct b2b *b, int k, struct tso_dir *d)
{
    static uint8_t buf[1 << 16];
    while (d->sent < TSO_LEN) {
        size_t n = TSO_LEN - d->sent < sizeof(buf) ? TSO_LEN - d->sent : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pat(k, d->sent + i);
        long w = mpx_conn_send(b->st[k], d->tx_conn, buf, n, b->now);
        if (w <= 0)
            break;
        d->sent += (size_t)w;
    }
    long rd;
    while ((rd = mpx_conn_recv(b->st[!k], d->rx_conn, buf, sizeof(buf), b->now)) > 0) {
        for (long i = 0; i < rd; i++)
            if (buf[i] != pat(k, d->got + (size_t)i))
                d->bad = true;
        d->got += (size_t)rd;
    }
}

/* Both directions at once until done or 20 s of simulated time. */
static void transfer(struct b2b *b, struct tso_run *r, struct tso_dir d[2])
{
    uint64_t until = b->now + 20 * MPX_NS_PER_S;
    while (b->now < until && (d[0].got < TSO_LEN || d[1].got < TSO_LEN)) {
        bool moved = false;
        for (int k = 0; k < 2; k++) {
            pump_app(b, k, &d[k]);
            int n;
            while ((n = mpx_stack_output(b->st[k], b->pkt, sizeof(b->pkt), b->now)) > 0) {
                moved = true;
                deliver(b, r, k, b->pkt, (size_t)n, mpx_stack_out_gso(b->st[k]));
            }
        }
        if (moved)
            continue;
        uint64_t d0 = mpx_stack_next_deadline(b->st[0]), d1 = mpx_stack_next_deadline(b->st[1]);
        uint64_t t = d0 < d1 ? d0 : d1;
        b->now = t > b->now && t < until ? t : b->now + MPX_NS_PER_MS;
        mpx_stack_on_timer(b->st[0], b->now);
        mpx_stack_on_timer(b->st[1], b->now);
    }
}

/* Connect, run both directions, check the bytes. Returns the client's
 * connection info for more checks. */
static void run_case(struct tso_run *r, struct mpx_conn_info *ci, struct mpx_tcp_mib *mib)
{
    struct b2b *b = calloc(1, sizeof(*b));
    REQUIRE(b);
    b2b_init(b, 90, tweak, r);
    long c = mpx_stack_connect(b->st[0], &b->addr[0][0], &b->addr[1][0], 80, b->now);
    REQUIRE(c > 0);
    b2b_run(b, 20 * MPX_NS_PER_MS);
    long s = mpx_stack_accept(b->st[1], 80);
    REQUIRE(s > 0);
    struct tso_dir d[2] = {{.tx_conn = (uint32_t)c, .rx_conn = (uint32_t)s},
                           {.tx_conn = (uint32_t)s, .rx_conn = (uint32_t)c}};
    transfer(b, r, d);
    for (int k = 0; k < 2; k++) {
        CHECK_INT(d[k].got, TSO_LEN);
        CHECK(!d[k].bad);
    }
    CHECK_INT(mpx_conn_get_info(b->st[0], (uint32_t)c, ci), 0);
    CHECK(ci->mptcp);
    mpx_stack_tcp_mib(b->st[0], mib);
    b2b_free(b);
    free(b);
}

/* Cut like the kernel: every segment fits the MTU with the options of the
 * super segment and carries its DSS; the data arrives intact both ways. */
MPX_TEST(mptcp_tso_split_both_ways)
{
    struct tso_run r = {.mode = TSO_SPLIT, .max_seg = TSO_MAX};
    struct mpx_conn_info ci;
    struct mpx_tcp_mib mib;
    run_case(&r, &ci, &mib);
    CHECK(r.supers > 20);
    CHECK(r.segs > r.supers * 10);
    CHECK(r.max_payload > 40000 && r.max_payload <= TSO_MAX);
    CHECK_INT(r.oversize, 0);
    CHECK_INT(r.no_dss, 0);
    CHECK_INT(r.bad_opts, 0);
    /* the payload is whole segments of the size with the mapping: a short
     * tail per super segment is one more packet a bottleneck carries
     * (only where the data runs out may one be short) */
    CHECK(r.tails * 20 < r.supers);
}

/* GRO'd super segments (partial checksum, payload > MSS) are taken and
 * acknowledged: the transfer completes both ways. */
MPX_TEST(mptcp_tso_gro_both_ways)
{
    struct tso_run r = {.mode = TSO_GRO, .max_seg = TSO_MAX};
    struct mpx_conn_info ci;
    struct mpx_tcp_mib mib;
    run_case(&r, &ci, &mib);
    CHECK(r.supers > 20);
    CHECK(r.max_payload > 40000);
}

/* A lost super segment is retransmitted (as super segments again) and the
 * stream still arrives intact. */
MPX_TEST(mptcp_tso_gro_loss_recovers)
{
    struct tso_run r = {.mode = TSO_GRO, .max_seg = TSO_MAX, .drop_at = 9};
    struct mpx_conn_info ci;
    struct mpx_tcp_mib mib;
    run_case(&r, &ci, &mib);
    CHECK(r.supers > 20);
    CHECK(mib.RetransSegs > 0);
}

/* Same loss with the super segments cut by the "kernel". */
MPX_TEST(mptcp_tso_split_loss_recovers)
{
    struct tso_run r = {.mode = TSO_SPLIT, .max_seg = TSO_MAX, .drop_at = 12};
    struct mpx_conn_info ci;
    struct mpx_tcp_mib mib;
    run_case(&r, &ci, &mib);
    CHECK_INT(r.oversize, 0);
    CHECK_INT(r.no_dss, 0);
    CHECK(mib.RetransSegs > 0);
}

/* With DSS checksums a mapping is never sent as a super segment (the
 * checksum covers the whole mapping; Linux does not TSO those either);
 * without max_seg there are none at all. */
MPX_TEST(mptcp_tso_none_with_csum_or_without_max_seg)
{
    struct tso_run cases[] = {
        {.mode = TSO_SPLIT, .max_seg = TSO_MAX, .csum = true},
        {.mode = TSO_SPLIT, .max_seg = 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mpx_conn_info ci;
        struct mpx_tcp_mib mib;
        run_case(&cases[i], &ci, &mib);
        CHECK_INT(cases[i].supers, 0);
        CHECK_INT(ci.csum_enabled, cases[i].csum);
    }
}

/* mpx_tcp_csum_partial leaves what a checksum offload completes: summing
 * from the TCP header over the rest (mpx_vnet_csum_complete, the kernel's
 * CHECKSUM_PARTIAL) gives the full checksum, IPv4 and IPv6, odd lengths. */
MPX_TEST(mptcp_tso_csum_partial_completes)
{
    static uint8_t pkt[2000], pl[1501];
    struct mpx_addr v6a = {.family = MPX_AF_INET6, .a = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
    struct mpx_addr v6b = {.family = MPX_AF_INET6, .a = {0x20, 0x01, 0x0d, 0xb8, [15] = 2}};
    const struct {
        struct mpx_addr src, dst;
        size_t npl;
    } v[] = {
        {mpx_addr_v4(0x0a000001u), mpx_addr_v4(0x0a000002u), 1500},
        {mpx_addr_v4(0xc0a80001u), mpx_addr_v4(0x0a0a0a0au), 1501},
        {v6a, v6b, 777},
    };
    for (size_t i = 0; i < sizeof(pl); i++)
        pl[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct mpx_ip_hdr ip = {.version = v[i].src.family == MPX_AF_INET ? 4 : 6,
                                .ttl = 64,
                                .proto = 6,
                                .df = true,
                                .src = v[i].src,
                                .dst = v[i].dst};
        struct mpx_tcp_hdr th = {.sport = 1, .dport = 2, .seq = 77, .flags = 0x10, .win = 9};
        int n = mpx_pkt_encode(pkt, sizeof(pkt), &ip, &th, pl, v[i].npl, NULL);
        REQUIRE(n > 0);
        size_t iphl = (size_t)n - v[i].npl - MPX_TCP_HDR_LEN;
        uint16_t full = mpx_load_be16(pkt + iphl + 16);
        mpx_tcp_csum_partial(pkt + iphl, (size_t)n - iphl, &ip.src, &ip.dst);
        CHECK(mpx_load_be16(pkt + iphl + 16) != full);
        struct mpx_pkt p;
        CHECK_INT(mpx_pkt_decode(pkt, (size_t)n, true, &p), MPX_ERR_CSUM);
        struct mpx_vnet_hdr h = {
            .flags = MPX_VNET_F_NEEDS_CSUM, .csum_start = (uint16_t)iphl, .csum_offset = 16};
        CHECK_INT(mpx_vnet_csum_complete(pkt, (size_t)n, &h), 0);
        CHECK_INT(mpx_load_be16(pkt + iphl + 16), full);
        CHECK_INT(mpx_pkt_decode(pkt, (size_t)n, true, &p), 0);
    }
}
