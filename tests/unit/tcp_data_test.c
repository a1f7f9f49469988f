/*
 * tcp_data_test.c - segment-level tests of the TCP data path: RTO,
 * persist, keepalive, window scaling, Nagle/cork, delayed ACK, SACK
 * generation and processing, the out-of-order queue, close/abort.
 */
#include <stdlib.h>

#include "err.h"
#include "mpx_test.h"
#include "tcp_int.h"
#include "tcp_seg.h"

#define ACKF MPX_TH_ACK

static uint8_t zeros[200000];

/* RFC 6298 5.5: each expiry doubles the RTO (here 200 ms, the minimum after
 * a tiny RTT sample); after retries2 of them the connection gives up. */
MPX_TEST(tcp_rto_backoff_giveup)
{
    struct mpx_tcp_config cfg;
    mpx_tcp_config_default(&cfg);
    cfg.retries2 = 5;
    struct tt x;
    tt_init(&x, &cfg);
    tt_client_established(&x, false);
    CHECK_INT(mpx_tcp_send(x.c, "abcdefgh", 8, x.now), 8);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 8);
    uint64_t t = x.now, rto = 200 * TT_MS;
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(mpx_tcp_next_deadline(x.c), t + rto);
        t += rto;
        tt_advance(&x, t);
        REQUIRE(tt_out(&x) > 0);
        CHECK_EQ(x.out.tcp.seq, TT_ISS + 1);
        CHECK_EQ(x.out.payload_len, 8);
        CHECK_INT(tt_out(&x), 0);
        rto *= 2;
    }
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPTimeouts, 5);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->RetransSegs, 5);
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t + rto);
    tt_advance(&x, t + rto);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
    int k = tt_find_event(&x, MPX_TCP_EV_CLOSED);
    REQUIRE(k >= 0);
    CHECK_INT(x.ev[k].error, MPX_ERR_TIMEDOUT);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPAbortOnTimeout, 1);
    tt_free(&x);
}

/* An ACK after an RTO resets the backoff: the next RTO is computed anew. */
MPX_TEST(tcp_rto_ack_resets_backoff)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    mpx_tcp_send(x.c, "abcdefgh", 8, x.now);
    tt_drain(&x);
    tt_advance(&x, x.now + 200 * TT_MS);
    tt_drain(&x);
    struct mpx_tcp_info info;
    mpx_tcp_get_info(x.c, &info, x.now);
    CHECK_EQ(info.rto_us, 400000);
    CHECK_EQ(info.ca_state, MPX_TCP_CA_LOSS);
    struct tt_seg a = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 9};
    tt_feed(&x, &a);
    mpx_tcp_get_info(x.c, &info, x.now);
    CHECK_EQ(info.rto_us, 200000);
    CHECK_EQ(info.backoff, 0);
    CHECK_EQ(info.ca_state, MPX_TCP_CA_OPEN);
    CHECK_EQ(mpx_tcp_next_deadline(x.c), UINT64_MAX);
    tt_free(&x);
}

/* Zero window: nothing is sent, the persist timer probes with backoff, and
 * a window update restarts the data. */
MPX_TEST(tcp_persist_zero_window)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    struct tt_seg z = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1, .zero_win = true};
    tt_feed(&x, &z);
    CHECK_INT(mpx_tcp_send(x.c, zeros, 3000, x.now), 3000);
    CHECK_INT(tt_out(&x), 0);
    uint64_t t = x.now;
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t + 200 * TT_MS);
    tt_advance(&x, t + 200 * TT_MS);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 0);
    CHECK_EQ(x.out.tcp.seq, TT_ISS);                       /* snd_una - 1: the peer must ACK it */
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t + 600 * TT_MS); /* backed off: 400 ms */
    tt_advance(&x, t + 600 * TT_MS);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPWinProbe, 2);
    z.zero_win = false;
    z.win = 65535;
    tt_feed(&x, &z);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 1460);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1);
    tt_free(&x);
}

/* Our receive side at zero window answers a probe with an ACK and opens the
 * window when the application reads. */
MPX_TEST(tcp_persist_receiver_window_update)
{
    struct mpx_tcp_config cfg;
    mpx_tcp_config_default(&cfg);
    cfg.rmem_init = cfg.rmem_max = 8192;
    struct tt x;
    tt_init(&x, &cfg);
    tt_client_established(&x, false);
    uint32_t seq = TT_PISS + 1;
    for (int i = 0; i < 9; i++) { /* the last one is trimmed to the window */
        seq = TT_PISS + 1 + (uint32_t)mpx_tcp_recv_ready(x.c);
        struct tt_seg s = {
            .flags = ACKF, .seq = seq, .ack = TT_ISS + 1, .data = zeros, .len = 1000};
        tt_feed(&x, &s);
        tt_drain(&x);
    }
    seq = TT_PISS + 1 + (uint32_t)mpx_tcp_recv_ready(x.c);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 8191);
    tt_advance(&x, x.now + 50 * TT_MS);
    tt_drain(&x);
    CHECK_EQ(x.out.tcp.win, 0);
    CHECK(mpx_tcp_get_mib(x.c)->TCPToZeroWindowAdv >= 1);
    struct tt_seg probe = {.flags = ACKF, .seq = seq - 1, .ack = TT_ISS + 1};
    tt_feed(&x, &probe);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, seq);
    CHECK_EQ(x.out.tcp.win, 0);
    static uint8_t b[8192];
    CHECK(mpx_tcp_recv(x.c, b, sizeof(b), x.now) > 4000);
    REQUIRE(tt_out(&x) > 0); /* window update */
    CHECK(x.out.tcp.win > 0);
    tt_free(&x);
}

MPX_TEST(tcp_keepalive_expiry)
{
    struct mpx_tcp_config cfg;
    mpx_tcp_config_default(&cfg);
    cfg.keepalive = true;
    cfg.keep_idle = 10 * MPX_NS_PER_S;
    cfg.keep_intvl = MPX_NS_PER_S;
    cfg.keep_cnt = 3;
    struct tt x;
    tt_init(&x, &cfg);
    tt_client_established(&x, false);
    uint64_t t = x.now;
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t + 10 * MPX_NS_PER_S);
    tt_advance(&x, t + 10 * MPX_NS_PER_S);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.seq, TT_ISS); /* snd_una - 1, no data */
    /* an answer resets the count */
    struct tt_seg a = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1};
    tt_feed(&x, &a);
    t = x.now;
    tt_advance(&x, t + MPX_NS_PER_S);
    CHECK_INT(tt_out(&x), 0);
    tt_advance(&x, t + 10 * MPX_NS_PER_S);
    for (int i = 1; i <= 3; i++) {
        REQUIRE(tt_out(&x) > 0);
        tt_advance(&x, t + (10 + (uint64_t)i) * MPX_NS_PER_S);
    }
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
    int k = tt_find_event(&x, MPX_TCP_EV_CLOSED);
    REQUIRE(k >= 0);
    CHECK_INT(x.ev[k].error, MPX_ERR_TIMEDOUT);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPKeepAlive, 4);
    tt_free(&x);
}

/* RFC 7323 2: the peer's window is shifted by its scale; ours is offered
 * shifted by our scale and never more than the buffer holds. */
MPX_TEST(tcp_wscale_window_math)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, true); /* peer scale 7, ours 7 */
    struct tt_seg a = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1, .win = 100};
    tt_feed(&x, &a);
    struct mpx_tcp_info info;
    mpx_tcp_get_info(x.c, &info, x.now);
    CHECK_EQ(info.snd_wnd, 100 << 7);
    CHECK_EQ(info.rcv_wscale, 7);
    mpx_tcp_send(x.c, "x", 1, x.now);
    REQUIRE(tt_out(&x) > 0);
    uint32_t offered = (uint32_t)x.out.tcp.win << 7;
    CHECK(offered <= 128 * 1024);
    CHECK(offered >= 128 * 1024 - 256);
    /* a SYN's window is not scaled */
    struct tt y;
    tt_init(&y, NULL);
    struct mpx_tcp_isn_inputs in = tt_isn(&y, TT_ISS);
    mpx_tcp_connect(y.c, y.now, &in);
    tt_out(&y);
    CHECK_EQ(y.out.tcp.win, 65535);
    tt_free(&y);
    tt_free(&x);
}

/* RFC 896: a small segment waits while data is unacknowledged. */
MPX_TEST(tcp_nagle_and_nodelay)
{
    for (int nodelay = 0; nodelay < 2; nodelay++) {
        struct tt x;
        tt_init(&x, NULL);
        tt_client_established(&x, false);
        mpx_tcp_set_nodelay(x.c, nodelay, x.now);
        mpx_tcp_send(x.c, zeros, 100, x.now);
        REQUIRE(tt_out(&x) > 0);
        mpx_tcp_send(x.c, zeros, 100, x.now);
        if (nodelay) {
            REQUIRE(tt_out(&x) > 0);
            CHECK_EQ(x.out.tcp.seq, TT_ISS + 101);
        } else {
            CHECK_INT(tt_out(&x), 0);
            struct tt_seg a = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 101};
            tt_feed(&x, &a);
            REQUIRE(tt_out(&x) > 0);
            CHECK_EQ(x.out.tcp.seq, TT_ISS + 101);
            CHECK_EQ(x.out.payload_len, 100);
        }
        tt_free(&x);
    }
}

/* TCP_CORK: only full segments; the rest after 200 ms or on uncork. */
MPX_TEST(tcp_cork_full_segments)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    mpx_tcp_set_cork(x.c, true, x.now);
    mpx_tcp_send(x.c, zeros, 100, x.now);
    CHECK_INT(tt_out(&x), 0);
    mpx_tcp_send(x.c, zeros, 1500, x.now);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 1460);
    CHECK_INT(tt_out(&x), 0);
    struct tt_seg a = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1461};
    tt_feed(&x, &a);
    CHECK_INT(tt_out(&x), 0);
    uint64_t t = x.now;
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t + 200 * TT_MS);
    tt_advance(&x, t + 200 * TT_MS);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 140);
    /* uncork pushes at once */
    mpx_tcp_send(x.c, zeros, 10, x.now);
    CHECK_INT(tt_out(&x), 0);
    mpx_tcp_set_cork(x.c, false, x.now);
    mpx_tcp_set_nodelay(x.c, true, x.now);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 10);
    tt_free(&x);
}

/* Quickack at the start, then an ACK for every second segment or after
 * the 40 ms delayed-ACK timer. */
MPX_TEST(tcp_delack_timer_and_every_second)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    uint32_t seq = TT_PISS + 1;
    int immediate = 0;
    for (int i = 0; i < MPX_TCP_QUICKACKS; i++, seq += 100) {
        struct tt_seg s = {.flags = ACKF, .seq = seq, .ack = TT_ISS + 1, .data = zeros, .len = 100};
        tt_feed(&x, &s);
        immediate += tt_drain(&x);
    }
    CHECK(immediate >= MPX_TCP_QUICKACKS / 2);
    struct tt_seg s = {.flags = ACKF, .seq = seq, .ack = TT_ISS + 1, .data = zeros, .len = 100};
    tt_feed(&x, &s);
    CHECK_INT(tt_out(&x), 0);
    uint64_t t = x.now;
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t + 40 * TT_MS);
    tt_advance(&x, t + 40 * TT_MS);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, seq + 100);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->DelayedACKs, 1);
    seq += 100;
    s.seq = seq;
    tt_feed(&x, &s);
    CHECK_INT(tt_out(&x), 0);
    s.seq = seq + 100;
    tt_feed(&x, &s);
    REQUIRE(tt_out(&x) > 0); /* second segment: ACK at once */
    CHECK_EQ(x.out.tcp.ack, seq + 200);
    tt_free(&x);
}

static void feed_data(struct tt *x, uint32_t off, uint32_t len)
{
    struct tt_seg s = {.flags = ACKF,
                       .seq = TT_PISS + 1 + off,
                       .ack = TT_ISS + 1,
                       .ts = true,
                       .data = zeros,
                       .len = len};
    tt_feed(x, &s);
}

/* RFC 2018 4: the block with the most recent segment first; RFC 2883
 * D-SACK for a duplicate. */
MPX_TEST(tcp_sack_generation_recent_first)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, true);
    const uint32_t b = TT_PISS + 1;
    feed_data(&x, 1000, 100);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, b);
    REQUIRE(x.out.tcp.opts.n_sack == 1);
    CHECK_EQ(x.out.tcp.opts.sack[0].left, b + 1000);
    CHECK_EQ(x.out.tcp.opts.sack[0].right, b + 1100);
    feed_data(&x, 2000, 100);
    REQUIRE(tt_out(&x) > 0);
    REQUIRE(x.out.tcp.opts.n_sack == 2);
    CHECK_EQ(x.out.tcp.opts.sack[0].left, b + 2000);
    CHECK_EQ(x.out.tcp.opts.sack[1].left, b + 1000);
    feed_data(&x, 1100, 100); /* extends the first block */
    REQUIRE(tt_out(&x) > 0);
    REQUIRE(x.out.tcp.opts.n_sack == 2);
    CHECK_EQ(x.out.tcp.opts.sack[0].left, b + 1000);
    CHECK_EQ(x.out.tcp.opts.sack[0].right, b + 1200);
    feed_data(&x, 2000, 100); /* duplicate: D-SACK first */
    REQUIRE(tt_out(&x) > 0);
    REQUIRE(x.out.tcp.opts.n_sack == 3);
    CHECK_EQ(x.out.tcp.opts.sack[0].left, b + 2000);
    CHECK_EQ(x.out.tcp.opts.sack[0].right, b + 2100);
    CHECK_EQ(x.out.tcp.opts.sack[1].left, b + 2000);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPDSACKOfoSent, 1);
    feed_data(&x, 0, 1000); /* fills the hole up to the first block */
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, b + 1200);
    REQUIRE(x.out.tcp.opts.n_sack == 1);
    CHECK_EQ(x.out.tcp.opts.sack[0].left, b + 2000);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 1200);
    feed_data(&x, 0, 500); /* old duplicate: D-SACK below the ACK */
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.opts.sack[0].left, b);
    CHECK_EQ(x.out.tcp.opts.sack[0].right, b + 500);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPDSACKOldSent, 1);
    tt_free(&x);
}

MPX_TEST(tcp_ooo_queue_limit)
{
    struct mpx_tcp_config cfg;
    mpx_tcp_config_default(&cfg);
    cfg.ooo_max_ranges = 4;
    struct tt x;
    tt_init(&x, &cfg);
    tt_client_established(&x, true);
    for (uint32_t i = 1; i <= 6; i++)
        feed_data(&x, i * 1000, 100);
    tt_drain(&x);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPOFOQueue, 4);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPOFODrop, 2);
    feed_data(&x, 4100, 100); /* merges into an existing range: accepted */
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPOFODrop, 2);
    feed_data(&x, 0, 1000);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 1100);
    tt_free(&x);
}

/* SACK-based loss recovery (RFC 6675): three SACKed segments above a hole
 * make the first segment lost; it is retransmitted, new data follows. */
MPX_TEST(tcp_sack_recovery_retransmits_hole)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, true);
    const uint32_t mss = 1448;
    mpx_tcp_send(x.c, zeros, 20 * mss, x.now);
    CHECK_INT(tt_drain(&x), 10); /* initial window: 10 segments */
    struct tt_seg a = {
        .flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1, .ts = true, .nsack = 1};
    a.sack[0].left = TT_ISS + 1 + mss;
    for (uint32_t k = 2; k <= 4; k++) {
        a.sack[0].right = TT_ISS + 1 + k * mss;
        tt_feed(&x, &a);
    }
    struct mpx_tcp_info info;
    mpx_tcp_get_info(x.c, &info, x.now);
    CHECK_EQ(info.ca_state, MPX_TCP_CA_RECOVERY);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1);
    CHECK_EQ(x.out.payload_len, mss);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPSackRecovery, 1);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->RetransSegs, 1);
    /* full ACK of the recovery point ends recovery */
    struct tt_seg full = {
        .flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1 + 10 * mss, .ts = true};
    tt_drain(&x);
    tt_feed(&x, &full);
    mpx_tcp_get_info(x.c, &info, x.now);
    CHECK_EQ(info.ca_state, MPX_TCP_CA_OPEN);
    tt_free(&x);
}

/* A SACK connection enters recovery only on SACK evidence. The lost edge
 * was 0 until the first ACK that moved SND.UNA, so with an ISS in the upper
 * half of the sequence space (seq_gt(0, SND.UNA)) the first ACK that did
 * not move it (the peer's DATA_ACK, its FIN) started a recovery: a
 * NewReno-like retransmission on every partial ACK, cwnd halved in slow
 * start (found on the lab's 50 Mbit/s + 20 ms path, 1 run in 4). */
MPX_TEST(tcp_sack_no_recovery_without_sack_info)
{
    static const uint32_t iss[] = {TT_ISS, 0x7ffffff0u, 0x80000010u, 0xc0000000u, 0xfffffff0u};
    const uint32_t mss = 1448;
    for (size_t i = 0; i < sizeof(iss) / sizeof(iss[0]); i++) {
        struct tt x;
        struct mpx_tcp_info info;
        tt_init(&x, NULL);
        tt_client_established_iss(&x, true, iss[i]);
        REQUIRE(mpx_tcp_get_state(x.c) == MPX_TCP_ESTABLISHED);
        mpx_tcp_send(x.c, zeros, 20 * mss, x.now);
        CHECK_INT(tt_drain(&x), 10);
        /* a pure ACK (window unchanged), then the peer's FIN: neither
         * moves SND.UNA nor carries SACK information */
        struct tt_seg a = {.flags = ACKF, .seq = TT_PISS + 1, .ack = iss[i] + 1, .ts = true};
        tt_feed(&x, &a);
        a.flags = ACKF | MPX_TH_FIN;
        tt_feed(&x, &a);
        mpx_tcp_get_info(x.c, &info, x.now);
        if (info.ca_state != MPX_TCP_CA_OPEN)
            mpx_test_fail(__FILE__, __LINE__, "iss %08x: ca_state %u", iss[i], info.ca_state);
        tt_drain(&x);
        /* a partial ACK of the window: new data follows, no retransmission */
        struct tt_seg p = {
            .flags = ACKF, .seq = TT_PISS + 2, .ack = iss[i] + 1 + 4 * mss, .ts = true};
        tt_feed(&x, &p);
        REQUIRE(tt_out(&x) > 0);
        CHECK_EQ(x.out.tcp.seq, iss[i] + 1 + 10 * mss);
        CHECK_EQ(mpx_tcp_get_mib(x.c)->RetransSegs, 0);
        CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPSackRecovery, 0);
        tt_free(&x);
    }
}

/* NewReno (RFC 6582) without SACK: 3 dupacks -> retransmit; a partial ACK
 * retransmits the next hole at once. */
MPX_TEST(tcp_newreno_partial_ack)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    const uint32_t mss = 1460;
    mpx_tcp_send(x.c, zeros, 10 * mss, x.now);
    CHECK_INT(tt_drain(&x), 10);
    struct tt_seg d = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1};
    for (int i = 0; i < 3; i++)
        tt_feed(&x, &d);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPRenoRecovery, 1);
    tt_drain(&x);
    d.ack = TT_ISS + 1 + 3 * mss; /* partial ACK */
    tt_feed(&x, &d);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1 + 3 * mss);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->RetransSegs, 2);
    tt_free(&x);
}

/* close() with unread data resets (RFC 2525 2.17); abort() sends RST. */
MPX_TEST(tcp_close_unread_data_resets)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    feed_data(&x, 0, 10);
    tt_drain(&x);
    mpx_tcp_close(x.c, x.now);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
    REQUIRE(tt_out(&x) > 0);
    CHECK(x.out.tcp.flags & MPX_TH_RST);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPAbortOnClose, 1);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->OutRsts, 1);
    tt_free(&x);
}

/* After close(), new data from the peer is answered by RST
 * (TCPAbortOnData). */
MPX_TEST(tcp_close_then_data_resets)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    mpx_tcp_close(x.c, x.now);
    tt_drain(&x);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_FIN_WAIT_1);
    struct tt_seg s = {
        .flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 2, .data = zeros, .len = 10};
    tt_feed(&x, &s);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
    REQUIRE(tt_out(&x) > 0);
    CHECK(x.out.tcp.flags & MPX_TH_RST);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPAbortOnData, 1);
    tt_free(&x);
}

/* GRO-style input: one segment larger than the MSS is accepted whole. */
MPX_TEST(tcp_input_large_segment)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, true);
    feed_data(&x, 0, 60000);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 60000);
    REQUIRE(tt_out(&x) > 0); /* more than 2 MSS: ACK at once */
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 1 + 60000);
    tt_free(&x);
}

/* Sequence space wraps inside the connection. */
MPX_TEST(tcp_seq_wrap_in_connection)
{
    struct tt x;
    tt_init(&x, NULL);
    struct mpx_tcp_isn_inputs in = tt_isn(&x, 0xfffffff0u);
    mpx_tcp_connect(x.c, x.now, &in);
    tt_out(&x);
    struct tt_seg sa = {
        .flags = MPX_TH_SYN | ACKF, .seq = 0xffffff00u, .ack = 0xfffffff1u, .mss = 1460};
    tt_feed(&x, &sa);
    tt_drain(&x);
    REQUIRE(mpx_tcp_get_state(x.c) == MPX_TCP_ESTABLISHED);
    mpx_tcp_send(x.c, zeros, 100, x.now);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.seq, 0xfffffff1u);
    struct tt_seg a = {.flags = ACKF, .seq = 0xffffff01u, .ack = 0x55, .data = zeros, .len = 0x200};
    tt_feed(&x, &a);
    CHECK_EQ(mpx_tcp_send_queued(x.c), 0);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 0x200);
    tt_drain(&x);
    CHECK_EQ(x.out.tcp.ack, 0x101);
    tt_free(&x);
}

/* RFC 3522: an ACK echoing the original transmission's timestamp after an
 * RTO shows the timeout was spurious: cwnd is restored, no go-back-N. */
MPX_TEST(tcp_rto_spurious_eifel_undo)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, true);
    mpx_tcp_send(x.c, zeros, 5 * 1448, x.now);
    CHECK_INT(tt_drain(&x), 5);
    uint32_t orig_ts = x.out.tcp.opts.ts_val;
    struct mpx_tcp_info before, after;
    mpx_tcp_get_info(x.c, &before, x.now);
    /* first the tail loss probe (RFC 8985): the last segment again */
    uint64_t pto = mpx_tcp_next_deadline(x.c);
    CHECK(pto < x.now + 200 * TT_MS);
    tt_advance(&x, pto);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1 + 4 * 1448);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPLossProbes, 1);
    CHECK_INT(tt_out(&x), 0);
    CHECK_EQ(mpx_tcp_next_deadline(x.c), pto + 200 * TT_MS);
    tt_advance(&x, pto + 200 * TT_MS);
    REQUIRE(tt_out(&x) > 0); /* the RTO retransmission */
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1);
    struct tt_seg a = {
        .flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1 + 1448, .ts = true, .tsecr = orig_ts};
    tt_feed(&x, &a);
    mpx_tcp_get_info(x.c, &after, x.now);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPSpuriousRTOs, 1);
    CHECK_EQ(after.ca_state, MPX_TCP_CA_OPEN);
    CHECK(after.snd_cwnd >= before.snd_cwnd);
    /* what goes out next is not a resend of segment 2 */
    mpx_tcp_send(x.c, zeros, 1448, x.now);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1 + 5 * 1448);
    tt_free(&x);
}

static uint32_t rnd32(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return (uint32_t)(x >> 16);
}

/* Adversarial input: random flags, sequence and ACK numbers near the
 * window, SACK blocks and lengths, fed to connections in every state with
 * timers running. Nothing may crash or trip an assertion; what the engine
 * sends must decode; its invariants hold. */
MPX_TEST(tcp_input_random_segments_robust)
{
    uint64_t rs = 0x1234567;
    const char *soak = getenv("MPX_SOAK_SEEDS"); /* more connections when soaking */
    int n = soak ? 60 * (int)strtol(soak, NULL, 10) : 60;
    for (int conn = 0; conn < n && conn < 6000000; conn++) {
        struct tt x;
        tt_init(&x, NULL);
        if (conn % 3 == 0)
            tt_server_established(&x, conn % 2);
        else
            tt_client_established(&x, conn % 2);
        mpx_tcp_send(x.c, zeros, 20000 + rnd32(&rs) % 100000, x.now);
        if (conn % 5 == 0)
            mpx_tcp_shutdown(x.c, MPX_TCP_SHUT_WR, x.now);
        for (int i = 0; i < 400 && mpx_tcp_get_state(x.c) != MPX_TCP_CLOSED; i++) {
            struct tt_seg s = {.flags = (uint8_t)(rnd32(&rs) & 0x1f),
                               .seq = x.c->rcv_nxt + rnd32(&rs) % 200000 - 100000,
                               .ack = x.c->snd_una + rnd32(&rs) % 200000 - 50000,
                               .win = (uint16_t)rnd32(&rs),
                               .ts = rnd32(&rs) % 2,
                               .data = zeros,
                               .len = rnd32(&rs) % 3 ? 0 : rnd32(&rs) % 3000};
            if (rnd32(&rs) % 4 == 0) {
                s.nsack = (uint8_t)(1 + rnd32(&rs) % 3);
                for (int k = 0; k < s.nsack; k++) {
                    s.sack[k].left = x.c->snd_una + rnd32(&rs) % 100000 - 1000;
                    s.sack[k].right = s.sack[k].left + rnd32(&rs) % 5000;
                }
            }
            if (rnd32(&rs) % 2) { /* mostly plausible segments */
                s.seq = x.c->rcv_nxt;
                s.ack = x.c->snd_una + rnd32(&rs) % (x.c->snd_max - x.c->snd_una + 1);
                s.flags = (uint8_t)((s.flags & (MPX_TH_FIN | MPX_TH_PSH)) | MPX_TH_ACK);
            }
            tt_feed(&x, &s);
            tt_drain(&x);
            if (rnd32(&rs) % 8 == 0) {
                uint64_t d = mpx_tcp_next_deadline(x.c);
                if (d != UINT64_MAX)
                    tt_advance(&x, d > x.now ? d : x.now);
                tt_drain(&x);
            }
            if (rnd32(&rs) % 16 == 0) {
                static uint8_t b[65536];
                mpx_tcp_recv(x.c, b, sizeof(b), x.now);
            }
            REQUIRE((unsigned)mpx_tcp_get_state(x.c) < MPX_TCP_NSTATES);
            REQUIRE(mpx_seq_leq(x.c->snd_una, x.c->snd_max));
            REQUIRE(mpx_seq_leq(x.c->snd_una, x.c->snd_nxt));
            REQUIRE(x.c->rcvbuf.len <= x.c->rcvbuf.cap);
            REQUIRE(mpx_tcp_next_deadline(x.c) == UINT64_MAX || mpx_tcp_next_deadline(x.c) > 0);
            struct mpx_tcp_event ev;
            while (mpx_tcp_poll_event(x.c, &ev))
                ;
        }
        tt_free(&x);
    }
}
