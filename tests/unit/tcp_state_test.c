/*
 * tcp_state_test.c - segment-level tests of the TCP state machine:
 * handshakes, closes, RST handling and RFC 5961 challenge ACKs, PAWS, ISN.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mpx_test.h"
#include "seq.h"
#include "tcp_int.h"
#include "tcp_seg.h"

#define ACKF MPX_TH_ACK

MPX_TEST(tcp_seq_compare_wraparound)
{
    static const struct {
        uint32_t a, b;
        bool lt;
    } t[] = {
        {1, 2, true},
        {2, 1, false},
        {0xffffffffu, 0, true},
        {0, 0xffffffffu, false},
        {0xfffffff0u, 0x10, true},
        {0x7fffffffu, 0x80000000u, true},
        {5, 5, false},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        CHECK_INT(mpx_seq_lt(t[i].a, t[i].b), t[i].lt);
        CHECK_INT(mpx_seq_geq(t[i].a, t[i].b), !t[i].lt);
        CHECK_INT(mpx_seq_leq(t[i].a, t[i].b), t[i].lt || t[i].a == t[i].b);
        CHECK_INT(mpx_seq_gt(t[i].a, t[i].b), !t[i].lt && t[i].a != t[i].b);
    }
    CHECK(mpx_seq_between(2, 0xfffffffeu, 5));
    CHECK(!mpx_seq_between(6, 0xfffffffeu, 5));
    CHECK_EQ(mpx_seq_max(0xffffff00u, 0x10), 0x10);
    CHECK_EQ(mpx_seq_min(0xffffff00u, 0x10), 0xffffff00u);
}

MPX_TEST(tcp_isn_rfc6528_keyed_and_clocked)
{
    struct mpx_tcp_tuple t = {.local = mpx_addr_v4(0x0a000001),
                              .remote = mpx_addr_v4(0x0a000002),
                              .lport = 1000,
                              .rport = 80};
    uint8_t k1[16] = {1}, k2[16] = {2};
    uint32_t a, b, c, d;
    REQUIRE(mpx_tcp_isn(&t, k1, 16, 0, &a) == 0);
    REQUIRE(mpx_tcp_isn(&t, k1, 16, 4000 * 1000, &b) == 0); /* 4 ms = 1000 ticks */
    REQUIRE(mpx_tcp_isn(&t, k2, 16, 0, &c) == 0);
    t.lport++;
    REQUIRE(mpx_tcp_isn(&t, k1, 16, 0, &d) == 0);
    CHECK_EQ(b - a, 1000);
    CHECK(a != c);
    CHECK(a != d);
    CHECK_INT(mpx_tcp_isn(&t, k1, 8, 0, &a), MPX_ERR_INVAL); /* too short a secret */
}

MPX_TEST(tcp_handshake_active_options)
{
    struct tt x;
    tt_init(&x, NULL);
    REQUIRE(x.c);
    struct mpx_tcp_isn_inputs in = tt_isn(&x, TT_ISS);
    REQUIRE(mpx_tcp_connect(x.c, x.now, &in) == 0);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_SYN_SENT);
    REQUIRE(tt_out(&x) > 0);
    const struct mpx_tcp_hdr *th = &x.out.tcp;
    CHECK_EQ(th->flags, MPX_TH_SYN);
    CHECK_EQ(th->seq, TT_ISS);
    CHECK_EQ(th->opts.mss, 1460);
    CHECK(th->opts.present & MPX_TCPO_SACK_PERM);
    CHECK(th->opts.present & MPX_TCPO_TS);
    CHECK(th->opts.present & MPX_TCPO_WSCALE);
    CHECK_EQ(th->opts.wscale, 7); /* 6 MiB rmem_max needs 65535 << 7 */
    CHECK_INT(tt_out(&x), 0);
    struct tt_seg s = {.flags = MPX_TH_SYN | ACKF,
                       .seq = TT_PISS,
                       .ack = TT_ISS + 1,
                       .mss = 1400,
                       .ts = true,
                       .tsecr = th->opts.ts_val,
                       .ws_set = true,
                       .wscale = 2};
    tt_feed(&x, &s);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_ESTABLISHED);
    CHECK(tt_find_event(&x, MPX_TCP_EV_ESTABLISHED) >= 0);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, ACKF);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 1);
    CHECK(!(x.out.tcp.opts.present & MPX_TCPO_SACK)); /* peer did not permit SACK */
    struct mpx_tcp_info info;
    mpx_tcp_get_info(x.c, &info, x.now);
    CHECK(!info.sack_ok);
    CHECK(info.ts_ok);
    CHECK_EQ(info.snd_wscale, 2);
    CHECK_EQ(info.snd_mss, 1400 - 12); /* peer MSS minus the timestamp option */
    CHECK_EQ(mpx_tcp_get_mib(x.c)->ActiveOpens, 1);
    tt_free(&x);
}

MPX_TEST(tcp_handshake_passive)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_server_established(&x, true);
    CHECK_EQ(x.out.tcp.flags, MPX_TH_SYN | ACKF); /* the SYN-ACK */
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 1);
    CHECK(x.out.tcp.opts.present & MPX_TCPO_SACK_PERM);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_ESTABLISHED);
    CHECK(tt_find_event(&x, MPX_TCP_EV_ESTABLISHED) >= 0);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->PassiveOpens, 1);
    tt_free(&x);
}

/* RFC 6298 2.1 / 5.5: initial RTO 1 s, doubled per retry; tcp_syn_retries
 * = 6 retransmissions, then give up: t0+1, 3, 7, 15, 31, 63, fail at 127. */
MPX_TEST(tcp_handshake_syn_backoff_giveup)
{
    static const uint64_t at[] = {1, 3, 7, 15, 31, 63};
    struct tt x;
    tt_init(&x, NULL);
    uint64_t t0 = x.now;
    struct mpx_tcp_isn_inputs in = tt_isn(&x, TT_ISS);
    mpx_tcp_connect(x.c, x.now, &in);
    REQUIRE(tt_out(&x) > 0);
    for (size_t i = 0; i < 6; i++) {
        CHECK_EQ(mpx_tcp_next_deadline(x.c), t0 + at[i] * MPX_NS_PER_S);
        tt_advance(&x, t0 + at[i] * MPX_NS_PER_S - 1);
        CHECK_INT(tt_out(&x), 0);
        tt_advance(&x, t0 + at[i] * MPX_NS_PER_S);
        REQUIRE(tt_out(&x) > 0);
        CHECK_EQ(x.out.tcp.flags, MPX_TH_SYN);
        CHECK_EQ(x.out.tcp.seq, TT_ISS);
    }
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t0 + 127 * MPX_NS_PER_S);
    tt_advance(&x, t0 + 127 * MPX_NS_PER_S);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
    int i = tt_find_event(&x, MPX_TCP_EV_CLOSED);
    REQUIRE(i >= 0);
    CHECK_INT(x.ev[i].error, MPX_ERR_TIMEDOUT);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPSynRetrans, 6);
    CHECK_EQ(mpx_tcp_next_deadline(x.c), UINT64_MAX);
    tt_free(&x);
}

MPX_TEST(tcp_handshake_synack_lost)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_server_established(&x, false);
    tt_free(&x);
    tt_init(&x, NULL);
    /* as tt_server_established, but the first SYN-ACK is "lost" */
    struct mpx_tcp_conn *c = x.c;
    struct tt y;
    tt_init(&y, NULL);
    struct mpx_tcp_isn_inputs in = tt_isn(&y, TT_PISS);
    mpx_tcp_connect(y.c, y.now, &in); /* y is just a SYN factory */
    tt_out(&y);
    struct mpx_pkt syn = y.out;
    syn.ip.src = x.tuple.remote;
    syn.ip.dst = x.tuple.local;
    syn.tcp.sport = 80;
    syn.tcp.dport = 1000;
    in = tt_isn(&x, TT_ISS);
    REQUIRE(mpx_tcp_accept_syn(c, &syn, x.now, &in) == 0);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, MPX_TH_SYN | ACKF);
    CHECK_INT(tt_out(&x), 0);
    /* the peer retransmits its SYN: the SYN-ACK goes again at once */
    struct tt_seg s = {.flags = MPX_TH_SYN, .seq = TT_PISS, .mss = 1460};
    tt_feed(&x, &s);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, MPX_TH_SYN | ACKF);
    CHECK_EQ(x.out.tcp.seq, TT_ISS);
    /* and by our own timer after 1 s */
    tt_advance(&x, x.now + MPX_NS_PER_S);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, MPX_TH_SYN | ACKF);
    struct tt_seg a = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1};
    tt_feed(&x, &a);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_ESTABLISHED);
    tt_free(&x);
    tt_free(&y);
}

/* RFC 9293 figure 8. */
MPX_TEST(tcp_handshake_simultaneous_open)
{
    struct tt x;
    tt_init(&x, NULL);
    struct mpx_tcp_isn_inputs in = tt_isn(&x, TT_ISS);
    mpx_tcp_connect(x.c, x.now, &in);
    tt_out(&x);
    struct tt_seg s = {.flags = MPX_TH_SYN, .seq = TT_PISS, .mss = 1460};
    tt_feed(&x, &s);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_SYN_RECEIVED);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, MPX_TH_SYN | ACKF);
    CHECK_EQ(x.out.tcp.seq, TT_ISS);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 1);
    struct tt_seg sa = {.flags = MPX_TH_SYN | ACKF, .seq = TT_PISS, .ack = TT_ISS + 1};
    tt_feed(&x, &sa);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_ESTABLISHED);
    CHECK(tt_find_event(&x, MPX_TCP_EV_ESTABLISHED) >= 0);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, ACKF);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1);
    tt_free(&x);
}

MPX_TEST(tcp_rst_refused)
{
    struct tt x;
    tt_init(&x, NULL);
    struct mpx_tcp_isn_inputs in = tt_isn(&x, TT_ISS);
    mpx_tcp_connect(x.c, x.now, &in);
    tt_out(&x);
    struct tt_seg bad = {.flags = MPX_TH_RST | ACKF, .ack = TT_ISS + 5}; /* unacceptable ACK */
    tt_feed(&x, &bad);
    struct tt_seg noack = {.flags = MPX_TH_RST, .seq = 1};
    tt_feed(&x, &noack);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_SYN_SENT);
    struct tt_seg rst = {.flags = MPX_TH_RST | ACKF, .ack = TT_ISS + 1};
    tt_feed(&x, &rst);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
    int i = tt_find_event(&x, MPX_TCP_EV_CLOSED);
    REQUIRE(i >= 0);
    CHECK_INT(x.ev[i].error, MPX_ERR_REFUSED);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->AttemptFails, 1);
    tt_free(&x);
}

/* A segment to a connection in CLOSED gets a RST (RFC 9293 3.10.7.1). */
MPX_TEST(tcp_rst_reply_when_closed)
{
    struct tt x;
    tt_init(&x, NULL);
    struct tt_seg s = {.flags = MPX_TH_SYN, .seq = 77};
    tt_feed(&x, &s);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, MPX_TH_RST | ACKF);
    CHECK_EQ(x.out.tcp.seq, 0);
    CHECK_EQ(x.out.tcp.ack, 78);
    struct tt_seg a = {.flags = ACKF, .seq = 5, .ack = 999};
    tt_feed(&x, &a);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, MPX_TH_RST);
    CHECK_EQ(x.out.tcp.seq, 999);
    tt_free(&x);
}

/* An abort's RST (seq = SND.MAX, ACK) is not replaced by the reply RST
 * to a segment that arrives before it went out (seq = SEG.ACK): the peer
 * must get the one it accepts (MP_FASTCLOSE rides on it). */
MPX_TEST(tcp_rst_abort_not_replaced_by_reply)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    REQUIRE(mpx_tcp_send(x.c, "abcdefgh", 8, x.now) == 8);
    tt_drain(&x);
    CHECK_INT(mpx_tcp_abort(x.c, x.now), 0);
    struct tt_seg late = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1};
    tt_feed(&x, &late); /* an ACK of old data, sent before our RST */
    REQUIRE(tt_out(&x) > 0);
    CHECK(x.out.tcp.flags & MPX_TH_RST);
    CHECK(x.out.tcp.flags & ACKF);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 1 + 8);
    tt_free(&x);
}

enum { TO_EST, TO_FW1, TO_FW2, TO_CW, TO_LA, TO_CLOSING, TO_TW, TO_SYNRCV };

/* Drive a fresh connection into the state |to|. */
static void reach(struct tt *x, int to)
{
    if (to == TO_SYNRCV) {
        struct tt y;
        tt_init(&y, NULL);
        struct mpx_tcp_isn_inputs in = tt_isn(&y, TT_PISS);
        mpx_tcp_connect(y.c, y.now, &in);
        tt_out(&y);
        y.out.ip.src = x->tuple.remote;
        y.out.ip.dst = x->tuple.local;
        y.out.tcp.sport = 80;
        y.out.tcp.dport = 1000;
        in = tt_isn(x, TT_ISS);
        mpx_tcp_accept_syn(x->c, &y.out, x->now, &in);
        tt_drain(x);
        tt_free(&y);
        return;
    }
    tt_client_established(x, false);
    struct tt_seg fin = {.flags = MPX_TH_FIN | ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1};
    struct tt_seg ack_fin = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 2};
    if (to == TO_CW || to == TO_LA) {
        tt_feed(x, &fin);
        if (to == TO_LA)
            mpx_tcp_shutdown(x->c, MPX_TCP_SHUT_WR, x->now);
    } else if (to != TO_EST) {
        mpx_tcp_shutdown(x->c, MPX_TCP_SHUT_WR, x->now);
        tt_drain(x);
        if (to == TO_FW2 || to == TO_TW)
            tt_feed(x, &ack_fin);
        if (to == TO_CLOSING || to == TO_TW)
            tt_feed(x, &fin);
    }
    tt_drain(x);
}

MPX_TEST(tcp_rst_every_state)
{
    static const struct {
        int to;
        enum mpx_tcp_state st;
        int err;
    } t[] = {
        {TO_EST, MPX_TCP_ESTABLISHED, MPX_ERR_RESET},
        {TO_FW1, MPX_TCP_FIN_WAIT_1, MPX_ERR_RESET},
        {TO_FW2, MPX_TCP_FIN_WAIT_2, MPX_ERR_RESET},
        {TO_CW, MPX_TCP_CLOSE_WAIT, MPX_ERR_RESET},
        {TO_LA, MPX_TCP_LAST_ACK, MPX_ERR_RESET},
        {TO_CLOSING, MPX_TCP_CLOSING, MPX_ERR_RESET},
        {TO_TW, MPX_TCP_TIME_WAIT, 0},
        {TO_SYNRCV, MPX_TCP_SYN_RECEIVED, MPX_ERR_RESET},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct tt x;
        tt_init(&x, NULL);
        reach(&x, t[i].to);
        REQUIRE(mpx_tcp_get_state(x.c) == t[i].st);
        uint32_t rn = x.c->rcv_nxt;
        /* in window but not exact: challenge ACK, state kept (RFC 5961 3.2) */
        struct tt_seg r1 = {.flags = MPX_TH_RST, .seq = rn + 1};
        tt_feed(&x, &r1);
        CHECK_INT(mpx_tcp_get_state(x.c), t[i].st);
        REQUIRE(tt_out(&x) > 0);
        CHECK_EQ(x.out.tcp.flags & (ACKF | MPX_TH_RST), ACKF);
        CHECK_EQ(x.out.tcp.ack, rn);
        /* out of window: silently dropped */
        struct tt_seg r2 = {.flags = MPX_TH_RST, .seq = rn - 10};
        tt_feed(&x, &r2);
        CHECK_INT(tt_out(&x), 0);
        CHECK_INT(mpx_tcp_get_state(x.c), t[i].st);
        struct tt_seg r3 = {.flags = MPX_TH_RST, .seq = rn};
        tt_feed(&x, &r3);
        CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
        int k = tt_find_event(&x, MPX_TCP_EV_CLOSED);
        REQUIRE(k >= 0);
        CHECK_INT(x.ev[k].error, t[i].err);
        CHECK_EQ(mpx_tcp_next_deadline(x.c), UINT64_MAX);
        tt_free(&x);
    }
}

/* RFC 5961 section 4: a SYN in a synchronized state gets a challenge ACK. */
MPX_TEST(tcp_challenge_syn_established)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    struct tt_seg s = {.flags = MPX_TH_SYN, .seq = TT_PISS + 100};
    tt_feed(&x, &s);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_ESTABLISHED);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.flags, ACKF);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 1);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPSYNChallenge, 1);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPChallengeACK, 1);
    tt_free(&x);
}

/* RFC 5961 section 5: ACK of data never sent, or too old: challenge, drop
 * (the data in it is not accepted). */
MPX_TEST(tcp_challenge_ack_out_of_range)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    uint8_t d[10] = {0};
    struct tt_seg s = {
        .flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1000, .data = d, .len = 10};
    tt_feed(&x, &s);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 1);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 0);
    s.ack = TT_ISS - 0x40000000u;
    tt_feed(&x, &s);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPChallengeACK, 2);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 0);
    tt_free(&x);
}

MPX_TEST(tcp_challenge_rate_limited)
{
    struct mpx_tcp_config cfg;
    mpx_tcp_config_default(&cfg);
    cfg.challenge_ack_limit = 3;
    struct tt x;
    tt_init(&x, &cfg);
    tt_client_established(&x, false);
    int acks = 0;
    for (int i = 0; i < 8; i++) {
        struct tt_seg r = {.flags = MPX_TH_RST, .seq = TT_PISS + 2 + (uint32_t)i};
        tt_feed(&x, &r);
        acks += tt_drain(&x);
    }
    CHECK_INT(acks, 3);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->TCPACKSkippedChallenge, 5);
    tt_advance(&x, x.now + MPX_NS_PER_S); /* a new second: allowed again */
    struct tt_seg r = {.flags = MPX_TH_RST, .seq = TT_PISS + 50};
    tt_feed(&x, &r);
    CHECK_INT(tt_drain(&x), 1);
    tt_free(&x);
}

/* RFC 7323 section 5: an old timestamp is rejected and answered by an ACK. */
MPX_TEST(tcp_paws_reject_old_timestamp)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, true);
    uint8_t d[100] = {1};
    struct tt_seg s = {.flags = ACKF,
                       .seq = TT_PISS + 1,
                       .ack = TT_ISS + 1,
                       .ts = true,
                       .explicit_tsval = true,
                       .tsval = 5000,
                       .data = d,
                       .len = 100};
    tt_feed(&x, &s);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 100);
    tt_drain(&x);
    s.seq += 100;
    s.tsval = 4000; /* older than TS.Recent */
    tt_feed(&x, &s);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 100);
    CHECK_EQ(mpx_tcp_get_mib(x.c)->PAWSEstab, 1);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 101);
    /* after 24 days of silence the old value no longer counts (5.5) */
    x.now += 25ull * 86400 * MPX_NS_PER_S;
    tt_feed(&x, &s);
    CHECK_EQ(mpx_tcp_recv_ready(x.c), 200);
    tt_free(&x);
}

MPX_TEST(tcp_close_timewait_duration)
{
    struct tt x;
    tt_init(&x, NULL);
    reach(&x, TO_TW);
    REQUIRE(mpx_tcp_get_state(x.c) == MPX_TCP_TIME_WAIT);
    uint64_t t = x.now;
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t + 60 * MPX_NS_PER_S);
    /* a retransmitted FIN is ACKed and restarts 2 MSL */
    tt_advance(&x, t + 10 * MPX_NS_PER_S);
    struct tt_seg fin = {.flags = MPX_TH_FIN | ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 2};
    tt_feed(&x, &fin);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 2);
    CHECK_EQ(mpx_tcp_next_deadline(x.c), t + 70 * MPX_NS_PER_S);
    tt_advance(&x, t + 70 * MPX_NS_PER_S - 1);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_TIME_WAIT);
    tt_advance(&x, t + 70 * MPX_NS_PER_S);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
    int k = tt_find_event(&x, MPX_TCP_EV_CLOSED);
    REQUIRE(k >= 0);
    CHECK_INT(x.ev[k].error, 0);
    tt_free(&x);
}

MPX_TEST(tcp_close_simultaneous)
{
    struct tt x;
    tt_init(&x, NULL);
    reach(&x, TO_FW1);
    struct tt_seg fin = {.flags = MPX_TH_FIN | ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1};
    tt_feed(&x, &fin);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSING);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 2);
    struct tt_seg ack = {.flags = ACKF, .seq = TT_PISS + 2, .ack = TT_ISS + 2};
    tt_feed(&x, &ack);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_TIME_WAIT);
    CHECK(tt_find_event(&x, MPX_TCP_EV_PEER_FIN) >= 0);
    tt_free(&x);
}

/* Peer closes first; we keep sending, then close: CLOSE_WAIT, LAST_ACK. */
MPX_TEST(tcp_halfclose_peer_first)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, false);
    struct tt_seg fin = {.flags = MPX_TH_FIN | ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 1};
    tt_feed(&x, &fin);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSE_WAIT);
    CHECK(tt_find_event(&x, MPX_TCP_EV_PEER_FIN) >= 0);
    uint8_t b[8];
    CHECK_INT(mpx_tcp_recv(x.c, b, sizeof(b), x.now), 0); /* end of stream */
    CHECK_INT(mpx_tcp_send(x.c, "hello", 5, x.now), 5);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 5);
    mpx_tcp_shutdown(x.c, MPX_TCP_SHUT_WR, x.now);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_LAST_ACK);
    REQUIRE(tt_out(&x) > 0);
    CHECK(x.out.tcp.flags & MPX_TH_FIN);
    CHECK_EQ(x.out.tcp.seq, TT_ISS + 6);
    struct tt_seg ack = {.flags = ACKF, .seq = TT_PISS + 2, .ack = TT_ISS + 7};
    tt_feed(&x, &ack);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSED);
    int k = tt_find_event(&x, MPX_TCP_EV_CLOSED);
    REQUIRE(k >= 0);
    CHECK_INT(x.ev[k].error, 0);
    tt_free(&x);
}

/* We close first and keep receiving in FIN_WAIT_2. */
MPX_TEST(tcp_halfclose_local_first)
{
    struct tt x;
    tt_init(&x, NULL);
    reach(&x, TO_FW2);
    CHECK_INT(mpx_tcp_send(x.c, "x", 1, x.now), MPX_ERR_STATE);
    uint8_t d[300], b[300];
    for (int i = 0; i < 300; i++)
        d[i] = (uint8_t)i;
    struct tt_seg s = {
        .flags = ACKF | MPX_TH_PSH, .seq = TT_PISS + 1, .ack = TT_ISS + 2, .data = d, .len = 300};
    tt_feed(&x, &s);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_FIN_WAIT_2);
    CHECK_INT(mpx_tcp_recv(x.c, b, sizeof(b), x.now), 300);
    CHECK_MEM(b, d, 300);
    struct tt_seg fin = {.flags = MPX_TH_FIN | ACKF, .seq = TT_PISS + 301, .ack = TT_ISS + 2};
    tt_feed(&x, &fin);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_TIME_WAIT);
    tt_free(&x);
}

/* RFC 6191 helper: a SYN with a newer timestamp may reuse a TIME_WAIT tuple. */
MPX_TEST(tcp_timewait_reuse_check)
{
    struct tt x;
    tt_init(&x, NULL);
    tt_client_established(&x, true);
    mpx_tcp_shutdown(x.c, MPX_TCP_SHUT_WR, x.now);
    tt_drain(&x);
    struct tt_seg a = {.flags = ACKF, .seq = TT_PISS + 1, .ack = TT_ISS + 2, .ts = true};
    tt_feed(&x, &a);
    struct tt_seg fin = {.flags = MPX_TH_FIN | ACKF,
                         .seq = TT_PISS + 1,
                         .ack = TT_ISS + 2,
                         .ts = true,
                         .explicit_tsval = true,
                         .tsval = 9000};
    tt_feed(&x, &fin);
    REQUIRE(mpx_tcp_get_state(x.c) == MPX_TCP_TIME_WAIT);
    struct mpx_pkt syn;
    memset(&syn, 0, sizeof(syn));
    syn.tcp.flags = MPX_TH_SYN;
    syn.tcp.opts.present = MPX_TCPO_TS;
    syn.tcp.opts.ts_val = 9001;
    CHECK(mpx_tcp_timewait_reusable(x.c, &syn));
    syn.tcp.opts.ts_val = 8000;
    CHECK(!mpx_tcp_timewait_reusable(x.c, &syn));
    tt_free(&x);
}

static int hook_calls;

static int add_prio(void *ctx, const struct mpx_tcp_seg_info *seg, struct mpx_tcp_opts *o,
                    int remaining)
{
    (void)ctx;
    hook_calls++;
    if (remaining < 4 || !(seg->flags & MPX_TH_ACK))
        return 0;
    o->mptcp[o->n_mptcp].subtype = MPX_MPTCP_SUB_PRIO;
    o->mptcp[o->n_mptcp].u.prio.backup = true;
    o->n_mptcp++;
    return 0;
}

/* The MPTCP service hook adds options to every segment, within budget. */
MPX_TEST(tcp_hook_adds_mptcp_options)
{
    struct mpx_tcp_config cfg;
    mpx_tcp_config_default(&cfg);
    cfg.opt_hook = add_prio;
    cfg.opt_reserve = 4;
    struct tt x;
    tt_init(&x, &cfg);
    hook_calls = 0;
    tt_client_established(&x, true);
    CHECK(hook_calls >= 2);
    CHECK_EQ(x.out.tcp.opts.n_mptcp, 1);
    CHECK_EQ(x.out.tcp.opts.mptcp[0].subtype, MPX_MPTCP_SUB_PRIO);
    static uint8_t d[5000];
    mpx_tcp_send(x.c, d, sizeof(d), x.now);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.payload_len, 1460 - 12 - 4); /* MSS - timestamps - reserve */
    CHECK_EQ(x.out.tcp.opts.n_mptcp, 1);
    tt_free(&x);
}

MPX_TEST(tcp_reply_rst_closed_port)
{
    struct tt x;
    tt_init(&x, NULL);
    struct mpx_tcp_isn_inputs in = tt_isn(&x, TT_ISS);
    mpx_tcp_connect(x.c, x.now, &in);
    REQUIRE(tt_out(&x) > 0);
    uint8_t buf[128];
    struct mpx_pkt p;
    int n = mpx_tcp_reply_rst(&x.out, buf, sizeof(buf));
    REQUIRE(n > 0);
    REQUIRE(mpx_pkt_decode(buf, (size_t)n, true, &p) == 0);
    CHECK_EQ(p.tcp.flags, MPX_TH_RST | ACKF);
    CHECK_EQ(p.tcp.ack, TT_ISS + 1);
    CHECK_EQ(p.tcp.sport, 80);
    CHECK(mpx_addr_eq(&p.ip.dst, &x.tuple.local));
    CHECK_INT(mpx_tcp_reply_rst(&p, buf, sizeof(buf)), 0); /* never answer a RST */
    /* fed back to the connecting end: refused */
    mpx_tcp_input(x.c, &p, x.now);
    int k = tt_find_event(&x, MPX_TCP_EV_CLOSED);
    REQUIRE(k >= 0);
    CHECK_INT(x.ev[k].error, MPX_ERR_REFUSED);
    tt_free(&x);
}

struct log_rec {
    int n_state;
    uint64_t last_from, last_to;
};

static void log_sink(void *ctx, enum mpx_log_level lvl, const char *what, uint64_t a, uint64_t b)
{
    struct log_rec *r = ctx;
    (void)lvl;
    if (strcmp(what, "state") == 0) {
        r->n_state++;
        r->last_from = a;
        r->last_to = b;
    }
}

/* Transitions are reported through the injected sink, and only when the
 * level asks for them. */
MPX_TEST(tcp_log_sink_reports_transitions)
{
    struct mpx_tcp_config cfg;
    struct log_rec rec = {0};
    mpx_tcp_config_default(&cfg);
    cfg.log = log_sink;
    cfg.log_ctx = &rec;
    cfg.log_level = MPX_LOG_DEBUG;
    struct tt x;
    tt_init(&x, &cfg);
    tt_client_established(&x, false);
    CHECK_INT(rec.n_state, 2); /* CLOSED->SYN_SENT->ESTABLISHED */
    CHECK_EQ(rec.last_from, MPX_TCP_SYN_SENT);
    CHECK_EQ(rec.last_to, MPX_TCP_ESTABLISHED);
    CHECK(strcmp(mpx_tcp_state_name(MPX_TCP_TIME_WAIT), "TIME_WAIT") == 0);
    tt_free(&x);
    cfg.log_level = MPX_LOG_INFO;
    rec.n_state = 0;
    tt_init(&x, &cfg);
    tt_client_established(&x, false);
    CHECK_INT(rec.n_state, 0);
    tt_free(&x);
}

MPX_TEST(tcp_mib_add_sums)
{
    struct mpx_tcp_mib a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.InSegs = 3;
    a.TCPOptHookFail = 1;
    b.InSegs = 4;
    b.InDropOutOfWindow = 9;
    mpx_tcp_mib_add(&a, &b);
    CHECK_EQ(a.InSegs, 7);
    CHECK_EQ(a.TCPOptHookFail, 1);
    CHECK_EQ(a.InDropOutOfWindow, 9);
}

/* IPv6: 40-byte IP header, so the MSS offered at MTU 1500 is 1440. */
MPX_TEST(tcp_handshake_ipv6_mss)
{
    struct mpx_tcp_tuple t = {.lport = 1000, .rport = 80};
    t.local.family = t.remote.family = MPX_AF_INET6;
    t.local.a[15] = 1;
    t.remote.a[15] = 2;
    t.local.a[0] = t.remote.a[0] = 0xfd;
    struct mpx_tcp_conn *c = malloc(mpx_tcp_conn_size());
    REQUIRE(c && mpx_tcp_init(c, NULL, &t, 0) == 0);
    uint8_t secret[16] = {9};
    struct mpx_tcp_isn_inputs in = {.secret = secret, .secret_len = 16};
    REQUIRE(mpx_tcp_connect(c, 0, &in) == 0);
    uint8_t buf[200];
    struct mpx_pkt p;
    CHECK_INT(mpx_tcp_output(c, buf, 10, 0), MPX_ERR_NOBUF); /* no room: nothing lost */
    int n = mpx_tcp_output(c, buf, sizeof(buf), 0);
    REQUIRE(n > 0);
    REQUIRE(mpx_pkt_decode(buf, (size_t)n, true, &p) == 0);
    CHECK_EQ(p.ip.version, 6);
    CHECK_EQ(p.tcp.flags, MPX_TH_SYN);
    CHECK_EQ(p.tcp.opts.mss, 1440);
    CHECK(mpx_addr_eq(&p.ip.src, &t.local));
    CHECK_INT(mpx_tcp_output(c, buf, 10, 0), 0); /* nothing more due */
    mpx_tcp_free(c);
    free(c);
}

/* The ACK that completes a passive open may carry data and even a FIN. */
MPX_TEST(tcp_handshake_passive_ack_with_data_fin)
{
    struct tt x;
    tt_init(&x, NULL);
    reach(&x, TO_SYNRCV);
    REQUIRE(mpx_tcp_get_state(x.c) == MPX_TCP_SYN_RECEIVED);
    struct tt_seg a = {.flags = ACKF | MPX_TH_PSH | MPX_TH_FIN,
                       .seq = TT_PISS + 1,
                       .ack = TT_ISS + 1,
                       .data = (const uint8_t *)"GET /",
                       .len = 5};
    tt_feed(&x, &a);
    CHECK_INT(mpx_tcp_get_state(x.c), MPX_TCP_CLOSE_WAIT);
    CHECK(tt_find_event(&x, MPX_TCP_EV_ESTABLISHED) >= 0);
    CHECK(tt_find_event(&x, MPX_TCP_EV_PEER_FIN) >= 0);
    uint8_t b[16];
    CHECK_INT(mpx_tcp_recv(x.c, b, sizeof(b), x.now), 5);
    CHECK_MEM(b, "GET /", 5);
    CHECK_INT(mpx_tcp_recv(x.c, b, sizeof(b), x.now), 0);
    REQUIRE(tt_out(&x) > 0);
    CHECK_EQ(x.out.tcp.ack, TT_PISS + 7);
    tt_free(&x);
}
