/*
 * tcp_hooks_test.c - the engine services MPTCP needs (tcp.h): seg_limit
 * (a segment ends where the owner says: one DSS mapping per segment),
 * rcv_wnd (the owner's window, RFC 8684 section 3.3.4), mpx_tcp_send_ack
 * and mpx_tcp_window_update. Two engines back to back.
 */
#include <stdlib.h>

#include "err.h"
#include "mpx_test.h"
#include "tcp.h"

struct hk {
    struct mpx_tcp_conn *c[2];
    uint8_t secret[32];
    uint8_t pkt[70000];
    uint32_t cut; /* seg_limit: segments end on multiples of this */
    uint32_t wnd; /* rcv_wnd of engine 1, 0 = not set */
    int bad_cut;  /* data segments of engine 0 crossing a boundary */
    int segs, acks1;
    uint32_t last_win1; /* engine 1's last window field, scaled */
    uint8_t wscale1;
    uint64_t now;
};

static uint32_t cut_fn(void *ctx, uint32_t off, uint32_t len)
{
    struct hk *h = ctx;
    uint32_t left = h->cut - off % h->cut;
    return left < len ? left : len;
}

static uint32_t wnd_fn(void *ctx)
{
    struct hk *h = ctx;
    return h->wnd;
}

static void move(struct hk *h)
{
    for (int round = 0; round < 100000; round++) {
        bool moved = false;
        for (int k = 0; k < 2; k++) {
            int n;
            while ((n = mpx_tcp_output(h->c[k], h->pkt, sizeof(h->pkt), h->now)) > 0) {
                moved = true;
                struct mpx_pkt p;
                if (mpx_pkt_decode(h->pkt, (size_t)n, true, &p) < 0)
                    continue;
                if (k == 0 && p.payload_len)
                    h->segs++;
                if (k == 1 && !(p.tcp.flags & MPX_TH_SYN)) {
                    h->last_win1 = (uint32_t)p.tcp.win << h->wscale1;
                    if (!p.payload_len)
                        h->acks1++;
                }
                mpx_tcp_input(h->c[!k], &p, h->now);
            }
        }
        if (!moved) {
            uint64_t d0 = mpx_tcp_next_deadline(h->c[0]), d1 = mpx_tcp_next_deadline(h->c[1]);
            uint64_t d = d0 < d1 ? d0 : d1;
            if (d == UINT64_MAX || d > h->now + 5 * MPX_NS_PER_S)
                return;
            h->now = d > h->now ? d : h->now;
            mpx_tcp_on_timer(h->c[0], h->now);
            mpx_tcp_on_timer(h->c[1], h->now);
        }
    }
}

/* Checks every data segment of engine 0 against the cut (the hook sees
 * the stream offset, so it is the right place to look). */
static int check_hook(void *ctx, const struct mpx_tcp_seg_info *seg, struct mpx_tcp_opts *opts,
                      int remaining)
{
    struct hk *h = ctx;
    (void)opts;
    (void)remaining;
    if (h->cut && seg->payload_len &&
        seg->data_off / h->cut != (seg->data_off + seg->payload_len - 1) / h->cut)
        h->bad_cut++;
    return 0;
}

static struct hk *hk_new(uint32_t cut, uint32_t wnd)
{
    struct hk *h = calloc(1, sizeof(*h));
    h->cut = cut;
    h->wnd = wnd;
    struct mpx_tcp_tuple t0 = {.local = mpx_addr_v4(0x0a000001),
                               .remote = mpx_addr_v4(0x0a000002),
                               .lport = 1000,
                               .rport = 80};
    for (int k = 0; k < 2; k++) {
        struct mpx_tcp_config cfg;
        mpx_tcp_config_default(&cfg);
        cfg.opt_hook_ctx = h;
        if (k == 0) {
            cfg.opt_hook = check_hook;
            cfg.seg_limit = cut ? cut_fn : NULL;
        } else if (wnd) {
            cfg.rcv_wnd = wnd_fn;
        }
        struct mpx_tcp_tuple t = t0;
        if (k) {
            t.local = t0.remote;
            t.remote = t0.local;
            t.lport = 80;
            t.rport = 1000;
        }
        h->c[k] = malloc(mpx_tcp_conn_size());
        mpx_tcp_init(h->c[k], &cfg, &t, 0);
    }
    struct mpx_tcp_isn_inputs in = {.secret = h->secret, .secret_len = 32};
    mpx_tcp_connect(h->c[0], 0, &in);
    int n = mpx_tcp_output(h->c[0], h->pkt, sizeof(h->pkt), 0);
    struct mpx_pkt p;
    if (n > 0 && mpx_pkt_decode(h->pkt, (size_t)n, true, &p) == 0)
        mpx_tcp_accept_syn(h->c[1], &p, 0, &in);
    move(h);
    struct mpx_tcp_info i1;
    mpx_tcp_get_info(h->c[1], &i1, h->now);
    h->wscale1 = i1.rcv_wscale;
    return h;
}

static void hk_free(struct hk *h)
{
    for (int k = 0; k < 2; k++) {
        mpx_tcp_free(h->c[k]);
        free(h->c[k]);
    }
    free(h);
}

static uint64_t acked(struct hk *h)
{
    struct mpx_tcp_info i;
    mpx_tcp_get_info(h->c[0], &i, h->now);
    return i.bytes_acked;
}

static void send_bytes(struct hk *h, uint32_t total)
{
    static uint8_t buf[65536];
    uint32_t sent = 0;
    for (int i = 0; i < 1000 && sent < total; i++) {
        uint32_t n = total - sent < sizeof(buf) ? total - sent : (uint32_t)sizeof(buf);
        long w = mpx_tcp_send(h->c[0], buf, n, h->now);
        if (w > 0)
            sent += (uint32_t)w;
        move(h);
        while (mpx_tcp_recv(h->c[1], buf, sizeof(buf), h->now) > 0)
            ;
        move(h);
    }
}

/* seg_limit: with boundaries every 1000 bytes no segment crosses one,
 * new data and retransmissions alike. */
MPX_TEST(tcp_hooks_seg_limit_cuts_segments)
{
    static const uint32_t cuts[] = {1000, 333, 1448, 5000};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct hk *h = hk_new(cuts[i], 0);
        REQUIRE(mpx_tcp_get_state(h->c[0]) == MPX_TCP_ESTABLISHED);
        send_bytes(h, 300000);
        CHECK(h->segs > 0);
        CHECK_EQ(h->bad_cut, 0);
        CHECK_EQ(acked(h), 300000);
        hk_free(h);
    }
}

/* rcv_wnd: the window offered is the owner's, beyond the buffer's own
 * (the ring grows so that it fits), and follows it down. */
MPX_TEST(tcp_hooks_rcv_wnd_owner_window)
{
    struct hk *h = hk_new(0, 1000000);
    send_bytes(h, 20000);
    uint32_t unit = 1u << h->wscale1;
    /* within receiver SWS avoidance (the edge moves by an MSS or more) */
    CHECK(h->last_win1 + 4096 >= 1000000 && h->last_win1 <= 1000000 + 2 * unit);
    struct mpx_tcp_info i1;
    mpx_tcp_get_info(h->c[1], &i1, h->now);
    CHECK(i1.rcv_buf >= 1000000); /* grown to hold what was offered */
    CHECK_EQ(acked(h), 20000);
    hk_free(h);
}

/* mpx_tcp_send_ack: a pure ACK now (the MP_JOIN fourth ACK); and
 * mpx_tcp_window_update: one when the owner's window reopened. */
MPX_TEST(tcp_hooks_send_ack_and_window_update)
{
    struct hk *h = hk_new(0, 200000);
    send_bytes(h, 1000);
    int before = h->acks1;
    move(h);
    CHECK_EQ(h->acks1, before); /* idle: nothing to say */
    mpx_tcp_send_ack(h->c[1]);
    move(h);
    CHECK_EQ(h->acks1, before + 1);
    /* the owner's window closes (no update needed), then reopens */
    h->wnd = 0;
    mpx_tcp_send_ack(h->c[1]);
    move(h);
    CHECK(h->last_win1 <= (1u << h->wscale1) * 200000u); /* edge never shrinks */
    before = h->acks1;
    h->wnd = 2000000;
    mpx_tcp_window_update(h->c[1]);
    move(h);
    CHECK_EQ(h->acks1, before + 1);
    CHECK(h->last_win1 + (1u << h->wscale1) >= 2000000);
    hk_free(h);
}
