/*
 * tun_test.c - the TUN backend without root: typed user_data, the vnet
 * header codec and TSO preparation (checked by completing the checksum the
 * way the kernel would), the registered-buffer table, and the buffer pool
 * accounting driven through a real io_uring over a SOCK_SEQPACKET socket
 * pair (mpx_tun_open_fd; the socket frames packets like a TUN does).
 * tests/test_tun.py covers the real device, as root.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "mpx_test.h"
#include "tun.h"
#include "uring_loop.h"
#include "vnet.h"
#include "wire_tcp.h"

MPX_TEST(tun_ud_roundtrip)
{
    static const struct {
        uint16_t src;
        uint8_t op;
        uint32_t idx;
    } cases[] = {
        {1, 1, 0},
        {64, 255, 0xffffffffu},
        {0xffff, 0, 1},
        {7, 0x80, 0x12345678u},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ud = mpx_uloop_ud(cases[i].src, cases[i].op, cases[i].idx);
        CHECK_INT(mpx_uloop_ud_src(ud), cases[i].src);
        CHECK_INT(mpx_uloop_ud_op(ud), cases[i].op);
        CHECK_EQ(mpx_uloop_ud_idx(ud), cases[i].idx);
        CHECK_EQ((ud >> 32) & 0xff, 0); /* reserved bits stay zero */
    }
}

MPX_TEST(tun_vnet_hdr_le_bytes)
{
    struct mpx_vnet_hdr h = {MPX_VNET_F_NEEDS_CSUM, MPX_VNET_GSO_TCPV6, 0x0102, 1440, 40, 16};
    struct mpx_vnet_hdr back;
    uint8_t b[MPX_VNET_HDR_LEN], want[MPX_VNET_HDR_LEN];
    REQUIRE(mpx_test_unhex("01040201a0052800 1000", want, sizeof(want)) == MPX_VNET_HDR_LEN);
    mpx_vnet_hdr_encode(b, &h);
    CHECK_MEM(b, want, sizeof(want));
    mpx_vnet_hdr_decode(b, &back);
    CHECK(memcmp(&back, &h, sizeof(h)) == 0);
}

/* A TCP packet with |plen| payload bytes from our codec; returns length. */
static int make_pkt(uint8_t *out, size_t cap, int v6, size_t plen)
{
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr th;
    uint8_t *payload = malloc(plen ? plen : 1);
    if (!payload)
        return -1;
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)(i * 13 + 5);
    memset(&ip, 0, sizeof(ip));
    memset(&th, 0, sizeof(th));
    ip.version = v6 ? 6 : 4;
    ip.ttl = 64;
    ip.df = true;
    if (v6) {
        ip.src.family = ip.dst.family = MPX_AF_INET6;
        ip.src.a[0] = ip.dst.a[0] = 0xfd;
        ip.src.a[15] = 2;
        ip.dst.a[15] = 1;
    } else {
        ip.src = mpx_addr_v4(0x0a630002);
        ip.dst = mpx_addr_v4(0x0a630001);
    }
    th.sport = 40000;
    th.dport = 80;
    th.seq = 1000;
    th.ack = 2000;
    th.flags = MPX_TH_ACK | MPX_TH_PSH;
    th.win = 512;
    th.opts.present = MPX_TCPO_TS;
    th.opts.ts_val = 7;
    th.opts.ts_ecr = 9;
    int n = mpx_pkt_encode(out, cap, &ip, &th, payload, plen, NULL);
    free(payload);
    return n;
}

/* Preparing for TSO and then completing the checksum as the kernel does
 * for an unsegmented packet must give back the codec's exact bytes. */
MPX_TEST(tun_vnet_tso_prepare_roundtrip)
{
    static const struct {
        int v6;
        size_t plen;
        uint16_t mss;
        uint8_t gso_type;
    } cases[] = {
        {0, 4000, 1448, MPX_VNET_GSO_TCPV4}, {1, 4000, 1428, MPX_VNET_GSO_TCPV6},
        {0, 100, 1448, MPX_VNET_GSO_NONE},   {1, 1428, 1428, MPX_VNET_GSO_NONE},
        {0, 1449, 1448, MPX_VNET_GSO_TCPV4}, {0, 1, 1448, MPX_VNET_GSO_NONE},
    };
    static uint8_t pkt[8192], orig[8192];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mpx_vnet_hdr h;
        int n = make_pkt(pkt, sizeof(pkt), cases[i].v6, cases[i].plen);
        REQUIRE(n > 0);
        memcpy(orig, pkt, (size_t)n);
        size_t iphl = cases[i].v6 ? 40 : 20;
        CHECK_INT(mpx_vnet_tso_prepare(pkt, (size_t)n, cases[i].mss, &h), 0);
        CHECK_INT(h.flags, MPX_VNET_F_NEEDS_CSUM);
        CHECK_INT(h.gso_type, cases[i].gso_type);
        CHECK_INT(h.gso_size, cases[i].gso_type ? cases[i].mss : 0);
        CHECK_INT(h.hdr_len, iphl + 32); /* TCP 20 + NOP NOP TS */
        CHECK_INT(h.csum_start, iphl);
        CHECK_INT(h.csum_offset, 16);
        CHECK(memcmp(pkt + iphl + 16, orig + iphl + 16, 2) != 0);
        CHECK_INT(mpx_vnet_csum_complete(pkt, (size_t)n, &h), 0);
        CHECK_MEM(pkt, orig, (size_t)n);
    }
}

MPX_TEST(tun_vnet_tso_prepare_rejects)
{
    static uint8_t pkt[2048];
    struct mpx_vnet_hdr h;
    int n = make_pkt(pkt, sizeof(pkt), 0, 200);
    REQUIRE(n > 0);
    CHECK_INT(mpx_vnet_tso_prepare(pkt, (size_t)n, 0, &h), -EINVAL);        /* mss 0 */
    CHECK_INT(mpx_vnet_tso_prepare(pkt, (size_t)n - 1, 1448, &h), -EINVAL); /* length */
    CHECK_INT(mpx_vnet_tso_prepare(pkt, 19, 1448, &h), -EINVAL);
    pkt[9] = 17; /* UDP */
    CHECK_INT(mpx_vnet_tso_prepare(pkt, (size_t)n, 1448, &h), -EINVAL);
    pkt[9] = 6;
    pkt[0] = 0x55; /* version 5 */
    CHECK_INT(mpx_vnet_tso_prepare(pkt, (size_t)n, 1448, &h), -EINVAL);
    pkt[0] = 0x45;
    pkt[20 + 12] = 0x40; /* doff 4 words */
    CHECK_INT(mpx_vnet_tso_prepare(pkt, (size_t)n, 1448, &h), -EINVAL);
    n = make_pkt(pkt, sizeof(pkt), 1, 200);
    REQUIRE(n > 0);
    pkt[6] = 0; /* hop-by-hop extension header: not ours to describe */
    CHECK_INT(mpx_vnet_tso_prepare(pkt, (size_t)n, 1448, &h), -EINVAL);
}

MPX_TEST(tun_vnet_csum_complete_bounds)
{
    uint8_t pkt[64];
    memset(pkt, 0xab, sizeof(pkt));
    struct mpx_vnet_hdr h = {MPX_VNET_F_NEEDS_CSUM, 0, 0, 0, 20, 16};
    CHECK_INT(mpx_vnet_csum_complete(pkt, 37, &h), -EINVAL); /* field at 36..37 */
    CHECK_INT(mpx_vnet_csum_complete(pkt, 38, &h), 0);
    h.csum_start = 64;
    CHECK_INT(mpx_vnet_csum_complete(pkt, 64, &h), -EINVAL);
    h.flags = 0; /* no NEEDS_CSUM: untouched */
    uint8_t copy[64];
    memcpy(copy, pkt, sizeof(pkt));
    CHECK_INT(mpx_vnet_csum_complete(pkt, 64, &h), 0);
    CHECK_MEM(pkt, copy, sizeof(pkt));
}

MPX_TEST(tun_uloop_timeout_and_stray)
{
    struct mpx_uloop l;
    REQUIRE(mpx_uloop_init(&l, NULL) == 0);
    uint64_t t0 = mpx_uloop_now_ns();
    CHECK_INT(mpx_uloop_run(&l, 5 * 1000 * 1000), 0);
    CHECK(mpx_uloop_now_ns() - t0 >= 4 * 1000 * 1000);
    /* A NOP for a source nobody registered is counted, not dispatched. */
    struct io_uring_sqe *sqe = mpx_uloop_sqe(&l);
    REQUIRE(sqe != NULL);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, mpx_uloop_ud(9, 1, 1));
    CHECK_INT(mpx_uloop_run(&l, 1000 * 1000 * 1000), 1);
    CHECK_EQ(l.st.cqes_stray, 1);
    mpx_uloop_free(&l);
}

struct nop_seen {
    unsigned n;
    uint8_t op;
    uint32_t idx;
    int32_t res;
};

static void nop_cb(void *ctx, uint8_t op, uint32_t idx, int32_t res, uint32_t flags)
{
    struct nop_seen *s = ctx;
    (void)flags;
    s->n++;
    s->op = op;
    s->idx = idx;
    s->res = res;
}

MPX_TEST(tun_uloop_sources_dispatch)
{
    struct mpx_uloop l;
    struct nop_seen a = {0}, b = {0};
    REQUIRE(mpx_uloop_init(&l, NULL) == 0);
    int ida = mpx_uloop_src_add(&l, nop_cb, &a), idb = mpx_uloop_src_add(&l, nop_cb, &b);
    CHECK(ida >= 1 && idb >= 1 && ida != idb);
    struct io_uring_sqe *sqe = mpx_uloop_sqe(&l);
    REQUIRE(sqe != NULL);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, mpx_uloop_ud((uint16_t)idb, 3, 4242));
    CHECK_INT(mpx_uloop_run(&l, 1000 * 1000 * 1000), 1);
    CHECK_INT(a.n, 0);
    CHECK_INT(b.n, 1);
    CHECK_INT(b.op, 3);
    CHECK_EQ(b.idx, 4242);
    CHECK_INT(b.res, 0);
    mpx_uloop_src_del(&l, (uint16_t)ida);
    CHECK_INT(mpx_uloop_src_add(&l, nop_cb, &a), ida); /* the slot is reused */
    for (int i = 2; i < MPX_ULOOP_MAX_SRC; i++)
        CHECK(mpx_uloop_src_add(&l, nop_cb, &a) > 0);
    CHECK_INT(mpx_uloop_src_add(&l, nop_cb, &a), -ENOSPC);
    mpx_uloop_free(&l);
}

MPX_TEST(tun_uloop_buf_register_first_fit)
{
    struct mpx_uloop l;
    struct mpx_uloop_opts o = {.n_fixed_bufs = 4};
    static uint8_t mem[4][4096];
    struct iovec iov[4];
    for (int i = 0; i < 4; i++) {
        iov[i].iov_base = mem[i];
        iov[i].iov_len = sizeof(mem[i]);
    }
    REQUIRE(mpx_uloop_init(&l, &o) == 0);
    REQUIRE(l.n_fixed == 4); /* needs Linux 5.19 and a memlock allowance */
    CHECK_INT(mpx_uloop_buf_register(&l, iov, 2), 0);
    CHECK_INT(mpx_uloop_buf_register(&l, iov + 2, 1), 2);
    CHECK_INT(mpx_uloop_buf_register(&l, iov, 2), -ENOSPC);
    CHECK_INT(mpx_uloop_buf_unregister(&l, 0, 2), 0);
    CHECK_INT(mpx_uloop_buf_register(&l, iov, 2), 0);
    CHECK_INT(mpx_uloop_buf_register(&l, iov + 3, 1), 3);
    CHECK_INT(mpx_uloop_buf_register(&l, iov, 0), -EINVAL);
    mpx_uloop_free(&l);
}

/* --- the pool over a socket pair --------------------------------------- */

struct pool_fx {
    struct mpx_uloop l;
    struct mpx_tun *t;
    int peer;
};

static int pool_setup(struct pool_fx *f, unsigned flags, unsigned n_rx, unsigned n_tx)
{
    int sv[2];
    struct mpx_tun_opts o = {.flags = flags, .n_rx = n_rx, .n_tx = n_tx, .buf_size = 1500};
    if (mpx_uloop_init(&f->l, NULL) < 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    f->peer = sv[1];
    if (mpx_tun_open_fd(&f->t, &f->l, sv[0], &o) < 0) {
        close(sv[0]);
        return -1;
    }
    return 0;
}

static void pool_teardown(struct pool_fx *f)
{
    mpx_tun_close(f->t);
    mpx_uloop_free(&f->l);
    close(f->peer);
}

/* Run the loop until |want| packets are queued (or 1 s passed). */
static unsigned rx_wait(struct pool_fx *f, unsigned want, struct mpx_tun_pkt *out, unsigned max)
{
    unsigned n = 0;
    uint64_t end = mpx_uloop_now_ns() + 1000000000ull;
    while (n < want && mpx_uloop_now_ns() < end) {
        mpx_uloop_run(&f->l, 20 * 1000 * 1000);
        while (n < max && mpx_tun_rx_next(f->t, &out[n]) == 1)
            n++;
    }
    return n;
}

/* Linux 6.7 has IORING_OP_READ_MULTISHOT: the pool must then use it. */
static bool mshot_kernel(void)
{
    struct utsname u;
    unsigned major = 0, minor = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return false;
    return major > 6 || (major == 6 && minor >= 7);
}

/* Receive operations in flight with |n| buffers free: one multishot read
 * (while it has a buffer), or one read per buffer (tun.h). */
static unsigned rx_ops(const struct pool_fx *f, unsigned n)
{
    return mpx_tun_stats(f->t)->rx_multishot ? (n > 0) : n;
}

/* Each receive-pool test runs with the multishot read and without. */
static const unsigned rx_modes[] = {0, MPX_TUN_F_NO_MSHOT};

MPX_TEST(tun_pool_rx_holds_buffers)
{
    for (unsigned m = 0; m < 2; m++) {
        struct pool_fx f;
        struct mpx_tun_pkt p[8];
        REQUIRE(pool_setup(&f, rx_modes[m], 4, 2) == 0);
        CHECK_INT(mpx_tun_stats(f.t)->rx_multishot, m == 0 && mshot_kernel());
        CHECK_INT(mpx_tun_inflight(f.t), rx_ops(&f, 4));
        for (uint8_t i = 0; i < 6; i++) {
            uint8_t msg[100];
            memset(msg, i, sizeof(msg));
            REQUIRE(send(f.peer, msg, 60u + i, 0) == 60 + i);
        }
        /* Only 4 reads are in flight: 4 packets now, the rest wait in the
         * socket until buffers come back. */
        unsigned n = rx_wait(&f, 6, p, 8);
        CHECK_INT(n, 4);
        CHECK_INT(mpx_tun_inflight(f.t), 0);
        for (unsigned i = 0; i < n; i++) {
            CHECK_INT(p[i].len, 60 + i);
            CHECK_INT(p[i].data[0], i);
            CHECK_INT(p[i].data[p[i].len - 1], i);
        }
        mpx_tun_rx_release(f.t, p[1].id);
        mpx_tun_rx_release(f.t, p[1].id); /* twice: ignored */
        mpx_tun_rx_release(f.t, 99);      /* bad id: ignored */
        CHECK_INT(mpx_tun_inflight(f.t), rx_ops(&f, 1));
        mpx_tun_rx_release(f.t, p[3].id);
        n = rx_wait(&f, 2, p + 4, 4);
        CHECK_INT(n, 2);
        CHECK_INT(p[4].len, 64);
        CHECK_INT(p[5].len, 65);
        CHECK_EQ(mpx_tun_stats(f.t)->rx_pkts, 6);
        CHECK_EQ(mpx_tun_stats(f.t)->rx_bytes, 60 + 61 + 62 + 63 + 64 + 65);
        pool_teardown(&f);
    }
}

static void count_cb(void *arg, struct mpx_tun_pkt *pkt)
{
    unsigned *n = arg;
    *n += (unsigned)pkt->len;
}

MPX_TEST(tun_pool_poll_releases)
{
    for (unsigned m = 0; m < 2; m++) {
        struct pool_fx f;
        unsigned bytes = 0, got = 0;
        REQUIRE(pool_setup(&f, rx_modes[m], 2, 2) == 0);
        for (int i = 0; i < 10; i++)
            REQUIRE(send(f.peer, "0123456789", 10, 0) == 10);
        uint64_t end = mpx_uloop_now_ns() + 1000000000ull;
        while (got < 10 && mpx_uloop_now_ns() < end) {
            mpx_uloop_run(&f.l, 20 * 1000 * 1000);
            got += mpx_tun_poll(f.t, count_cb, &bytes, 0);
        }
        CHECK_INT(got, 10);
        CHECK_INT(bytes, 100);
        CHECK_INT(mpx_tun_inflight(f.t), rx_ops(&f, 2)); /* every buffer re-armed */
        pool_teardown(&f);
    }
}

MPX_TEST(tun_pool_tx_accounting)
{
    struct pool_fx f;
    uint32_t id[4];
    size_t cap = 0;
    REQUIRE(pool_setup(&f, 0, 1, 3) == 0);
    CHECK_INT(mpx_tun_tx_avail(f.t), 3);
    for (int i = 0; i < 3; i++) {
        uint8_t *b = mpx_tun_tx_buf(f.t, &id[i], &cap);
        REQUIRE(b != NULL);
        memset(b, 'a' + i, 200);
    }
    CHECK_INT(cap, 1500);
    CHECK(mpx_tun_tx_buf(f.t, &id[3], NULL) == NULL);
    CHECK_EQ(mpx_tun_stats(f.t)->tx_nobuf, 1);
    CHECK_INT(mpx_tun_tx_send(f.t, id[0], 1501, NULL), -EINVAL);
    CHECK_INT(mpx_tun_tx_send(f.t, id[0], 0, NULL), -EINVAL);
    CHECK_INT(mpx_tun_tx_send(f.t, 77, 10, NULL), -EINVAL);
    mpx_tun_tx_cancel(f.t, id[2]);
    CHECK_INT(mpx_tun_tx_avail(f.t), 1);
    CHECK_INT(mpx_tun_tx_send(f.t, id[2], 10, NULL), -EINVAL); /* not lent any more */
    CHECK_INT(mpx_tun_tx_send(f.t, id[0], 100, NULL), 0);
    CHECK_INT(mpx_tun_tx_send(f.t, id[1], 200, NULL), 0);
    CHECK_INT(mpx_tun_tx_send(f.t, id[1], 200, NULL), -EINVAL); /* in flight */
    uint64_t end = mpx_uloop_now_ns() + 1000000000ull;
    while (mpx_tun_tx_avail(f.t) < 3 && mpx_uloop_now_ns() < end)
        mpx_uloop_run(&f.l, 20 * 1000 * 1000);
    CHECK_INT(mpx_tun_tx_avail(f.t), 3);
    CHECK_EQ(mpx_tun_stats(f.t)->tx_pkts, 2);
    CHECK_EQ(mpx_tun_stats(f.t)->tx_bytes, 300);
    uint8_t got[2048];
    CHECK_INT(recv(f.peer, got, sizeof(got), 0), 100);
    CHECK_INT(got[0], 'a');
    CHECK_INT(recv(f.peer, got, sizeof(got), 0), 200);
    CHECK_INT(got[199], 'b');
    CHECK_INT(mpx_tun_write(f.t, got, 1501, NULL), -EMSGSIZE);
    CHECK_INT(mpx_tun_write(f.t, "xyz", 3, NULL), 0);
    pool_teardown(&f);
}

MPX_TEST(tun_pool_vnet_framing)
{
    struct pool_fx f;
    struct mpx_tun_pkt p;
    uint8_t msg[MPX_VNET_HDR_LEN + 40], got[256];
    struct mpx_vnet_hdr h = {MPX_VNET_F_NEEDS_CSUM, MPX_VNET_GSO_TCPV4, 52, 1448, 20, 16};
    REQUIRE(pool_setup(&f, MPX_TUN_F_VNET_HDR, 2, 2) == 0);
    CHECK_INT(mpx_tun_hdr_len(f.t), MPX_VNET_HDR_LEN);
    mpx_vnet_hdr_encode(msg, &h);
    memset(msg + MPX_VNET_HDR_LEN, 0x45, 40);
    REQUIRE(send(f.peer, msg, sizeof(msg), 0) == (ssize_t)sizeof(msg));
    REQUIRE(send(f.peer, msg, 4, 0) == 4); /* shorter than the header */
    CHECK_INT(rx_wait(&f, 1, &p, 1), 1);
    CHECK_INT(p.len, 40);
    CHECK_INT(p.data[0], 0x45);
    CHECK(memcmp(&p.vnet, &h, sizeof(h)) == 0);
    mpx_tun_rx_release(f.t, p.id);
    uint64_t end = mpx_uloop_now_ns() + 1000000000ull;
    while (mpx_tun_stats(f.t)->rx_short == 0 && mpx_uloop_now_ns() < end)
        mpx_uloop_run(&f.l, 20 * 1000 * 1000);
    CHECK_EQ(mpx_tun_stats(f.t)->rx_short, 1);
    CHECK_INT(mpx_tun_rx_next(f.t, &p), 0);
    /* Transmit: the header goes in front of the packet. */
    h.gso_type = MPX_VNET_GSO_TCPV6;
    CHECK_INT(mpx_tun_write(f.t, "abcd", 4, &h), 0);
    CHECK_INT(mpx_tun_write(f.t, "ef", 2, NULL), 0);
    mpx_uloop_run(&f.l, 0);
    CHECK_INT(recv(f.peer, got, sizeof(got), 0), MPX_VNET_HDR_LEN + 4);
    struct mpx_vnet_hdr back;
    mpx_vnet_hdr_decode(got, &back);
    CHECK_INT(back.gso_type, MPX_VNET_GSO_TCPV6);
    CHECK_MEM(got + MPX_VNET_HDR_LEN, "abcd", 4);
    CHECK_INT(recv(f.peer, got, sizeof(got), 0), MPX_VNET_HDR_LEN + 2);
    CHECK_INT(got[0], 0); /* NULL header: all zero, no offload */
    CHECK_INT(got[1], 0);
    pool_teardown(&f);
}

MPX_TEST(tun_close_cancels_reads)
{
    for (unsigned m = 0; m < 2; m++) {
        struct pool_fx f;
        REQUIRE(pool_setup(&f, rx_modes[m], 8, 2) == 0);
        mpx_uloop_run(&f.l, 0); /* the reads are in the kernel now */
        CHECK_INT(mpx_tun_inflight(f.t), rx_ops(&f, 8));
        mpx_tun_close(f.t);
        /* Closed: the fd is gone (the peer sees EOF) and no CQE was stray. */
        char c;
        CHECK_INT(recv(f.peer, &c, 1, MSG_DONTWAIT), 0);
        CHECK_EQ(f.l.st.cqes_stray, 0);
        CHECK_INT(mpx_uloop_src_add(&f.l, nop_cb, NULL), 1); /* its source slot is free */
        mpx_uloop_free(&f.l);
        close(f.peer);
    }
}

/* Packets leave the pool in the order they were queued, across buffer
 * reuse and the multishot read's stops for want of a buffer (tun.h: many
 * reads in flight did not guarantee this). */
MPX_TEST(tun_pool_rx_keeps_order)
{
    for (unsigned m = 0; m < 2; m++) {
        struct pool_fx f;
        struct mpx_tun_pkt p;
        uint32_t next = 0;
        REQUIRE(pool_setup(&f, rx_modes[m], 4, 2) == 0);
        uint64_t end = mpx_uloop_now_ns() + 2000000000ull;
        for (uint32_t sent = 0; next < 400 && mpx_uloop_now_ns() < end;) {
            for (; sent < 400 && sent < next + 64; sent++) /* the socket queue holds 64 */
                REQUIRE(send(f.peer, &sent, sizeof(sent), 0) == sizeof(sent));
            mpx_uloop_run(&f.l, 20 * 1000 * 1000);
            while (mpx_tun_rx_next(f.t, &p) == 1) {
                uint32_t v;
                REQUIRE(p.len == sizeof(v));
                memcpy(&v, p.data, sizeof(v));
                CHECK_INT(v, next);
                next = v + 1;
                mpx_tun_rx_release(f.t, p.id);
            }
        }
        CHECK_INT(next, 400);
        if (m == 0 && mshot_kernel())
            CHECK(mpx_tun_stats(f.t)->rx_nobufs > 0); /* it stopped and resumed */
        pool_teardown(&f);
    }
}

MPX_TEST(tun_open_fd_rejects)
{
    struct mpx_uloop l;
    struct mpx_tun *t = (struct mpx_tun *)&l;
    int sv[2];
    REQUIRE(mpx_uloop_init(&l, NULL) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    static const struct mpx_tun_opts bad[] = {
        {.flags = MPX_TUN_F_UP}, {.flags = MPX_TUN_F_ATTACH},
        {.mtu = 1400},           {.offload = MPX_TUN_OFF_TSO4}, /* offloads need VNET_HDR */
        {.buf_size = 100}, /* too small for an IPv6 minimum MTU */
        {.n_rx = 100000},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(mpx_tun_open_fd(&t, &l, sv[0], &bad[i]), -EINVAL);
        CHECK(t == NULL);
    }
    CHECK_INT(mpx_tun_open_fd(&t, &l, -1, NULL), -EINVAL);
    /* The fd stayed ours through the failures. */
    CHECK_INT(send(sv[1], "x", 1, 0), 1);
    mpx_uloop_free(&l);
    close(sv[0]);
    close(sv[1]);
}

MPX_TEST(tun_pool_rx_drops_oversize)
{
    struct pool_fx f;
    struct mpx_tun_pkt p;
    static uint8_t big[1501];
    REQUIRE(pool_setup(&f, 0, 2, 1) == 0); /* buf_size 1500 */
    memset(big, 0x5a, sizeof(big));
    REQUIRE(send(f.peer, big, 1501, 0) == 1501); /* one byte too long: dropped */
    REQUIRE(send(f.peer, big, 1500, 0) == 1500); /* exactly fits */
    CHECK_INT(rx_wait(&f, 1, &p, 1), 1);
    CHECK_INT(p.len, 1500);
    CHECK_EQ(mpx_tun_stats(f.t)->rx_trunc, 1);
    CHECK_EQ(mpx_tun_stats(f.t)->rx_pkts, 1);
    mpx_tun_rx_release(f.t, p.id);
    pool_teardown(&f);
}
