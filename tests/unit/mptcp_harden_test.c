/*
 * mptcp_harden_test.c - MPTCP options of segments that TCP does not accept
 * are ignored (RFC 9293 section 3.10.7.4: an unacceptable segment is
 * dropped after sending an ACK; Linux only parses MPTCP options after
 * tcp_validate_incoming). A blind attacker who knows the 4-tuple but not
 * the sequence numbers must not be able to remove addresses, change
 * priorities, move DATA_ACKs or fast-close; the same options in window
 * work. Counted in MPXOptsUnacceptable (ours, no kernel twin); a
 * MP_FASTCLOSE with a wrong key in MPXFastcloseBadKey.
 *
 * Two stacks back to back (mptcp_b2b.h), RFC 8684 mode, an initial subflow
 * and one join. The forged segments are copies of the client's last
 * segment on the initial subflow (so SEQ, ACK and timestamps are what the
 * server expects) with one MPTCP option of ours and the SEQ moved as the
 * row says.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mptcp_b2b.h"
#include "mpx_test.h"

#define HD_PORT  80
#define HD_FAR   0x40000000u /* SEQ offset: far outside any window */
#define HD_BYTES 3000

struct hd {
    struct b2b b;
    long cid, sid;
    uint16_t csport;     /* client port of the initial subflow */
    struct mpx_pkt last; /* client's last segment on it (headers only) */
    bool have_last;
    uint64_t skey;         /* the server's key, seen in its MP_CAPABLE SYN/ACK */
    uint8_t join_id;       /* address id of the client's MP_JOIN SYN */
    bool drop_server_data; /* the client never gets the server's data */
};

static size_t hd_watch(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct hd *h = b->arg;
    struct mpx_pkt p;
    if (mpx_pkt_decode(pkt, len, true, &p) < 0)
        return len;
    for (uint8_t i = 0; i < p.tcp.opts.n_mptcp; i++) {
        const struct mpx_mptcp_opt *o = &p.tcp.opts.mptcp[i];
        if (o->subtype == MPX_MPTCP_SUB_CAPABLE && o->u.mpc.form == MPX_FORM_SYN && !h->csport)
            h->csport = p.tcp.sport;
        if (o->subtype == MPX_MPTCP_SUB_CAPABLE && o->u.mpc.form == MPX_FORM_SYNACK)
            h->skey = o->u.mpc.snd_key;
        if (o->subtype == MPX_MPTCP_SUB_JOIN && o->u.join.form == MPX_FORM_SYN)
            h->join_id = o->u.join.addr_id;
    }
    if (from == 0 && h->csport && p.tcp.sport == h->csport) {
        h->last = p;
        h->last.payload = NULL; /* borrowed from b->pkt */
        h->have_last = true;
    }
    if (from == 1 && h->drop_server_data && p.payload_len)
        return 0;
    return len;
}

/* An RFC 8684 connection with a second subflow (client 10.0.1.1 to
 * server 10.0.1.2), both ends established and quiet. */
static struct hd *hd_new(uint64_t seed)
{
    struct hd *h = calloc(1, sizeof(*h));
    b2b_init(&h->b, seed, NULL, NULL);
    h->b.arg = h;
    h->b.mangle = hd_watch;
    h->cid = b2b_connect_two(&h->b, HD_PORT, &h->sid);
    return h;
}

static void hd_free(struct hd *h)
{
    b2b_free(&h->b);
    free(h);
}

static struct mpx_conn_info hd_sinfo(struct hd *h)
{
    struct mpx_conn_info si;
    memset(&si, 0, sizeof(si));
    mpx_conn_get_info(h->b.st[1], (uint32_t)h->sid, &si);
    return si;
}

enum hd_seq {
    HD_IN,     /* at RCV.NXT: acceptable */
    HD_OUT,    /* far out of the window */
    HD_OLD_TS, /* at RCV.NXT but with a TSval far in the past (PAWS) */
    HD_NEAR,   /* in the window, 100 bytes past RCV.NXT */
};

/* The client's last segment again, with |o| as its only MPTCP option. */
static void hd_forge(struct hd *h, const struct mpx_mptcp_opt *o, enum hd_seq where, uint8_t flags)
{
    struct mpx_pkt p = h->last;
    struct mpx_tcp_hdr th = p.tcp;
    th.seq += (uint32_t)p.payload_len + !!(th.flags & MPX_TH_FIN);
    if (where == HD_OUT)
        th.seq += HD_FAR;
    if (where == HD_NEAR)
        th.seq += 100;
    if (where == HD_OLD_TS)
        th.opts.ts_val -= 100000; /* 100 s older than TS.Recent */
    th.flags = flags;
    th.opts.n_sack = 0;
    th.opts.present &= ~MPX_TCPO_SACK;
    th.opts.n_mptcp = 1;
    th.opts.mptcp[0] = *o;
    uint8_t buf[256];
    int n = mpx_pkt_encode(buf, sizeof(buf), &p.ip, &th, NULL, 0, NULL);
    if (n > 0)
        mpx_stack_input(h->b.st[1], buf, (size_t)n, h->b.now);
}

/* ---- one option, in window and out of it ---------------------------------- */

enum hd_opt { HD_RM_ADDR, HD_PRIO, HD_DATA_ACK, HD_FASTCLOSE, HD_ADD_ADDR_BAD };

static struct mpx_mptcp_opt hd_opt(struct hd *h, enum hd_opt which)
{
    struct mpx_mptcp_opt o;
    memset(&o, 0, sizeof(o));
    switch (which) {
    case HD_RM_ADDR:
        o.subtype = MPX_MPTCP_SUB_RM_ADDR;
        o.u.rm_addr.n_ids = 1;
        o.u.rm_addr.ids[0] = h->join_id;
        break;
    case HD_PRIO:
        o.subtype = MPX_MPTCP_SUB_PRIO;
        o.u.prio.backup = true;
        break;
    case HD_DATA_ACK: {
        struct mpx_conn_info si = hd_sinfo(h);
        o.subtype = MPX_MPTCP_SUB_DSS;
        o.u.dss.has_ack = o.u.dss.ack64 = true;
        o.u.dss.data_ack = si.snd_nxt; /* everything the server sent */
        break;
    }
    case HD_FASTCLOSE:
        o.subtype = MPX_MPTCP_SUB_FASTCLOSE;
        o.u.fastclose.key = h->skey; /* the receiver's key (RFC 8684 section 3.5) */
        break;
    case HD_ADD_ADDR_BAD:
        o.subtype = MPX_MPTCP_SUB_ADD_ADDR;
        o.u.add_addr.addr_id = 9;
        o.u.add_addr.addr = mpx_addr_v4(0x0a000909u);
        o.u.add_addr.has_hmac = true;
        o.u.add_addr.hmac = 0x0123456789abcdefull;
        break;
    }
    return o;
}

static int hd_join_state(struct hd *h)
{
    struct mpx_subflow_info sfi[4];
    int n = mpx_conn_get_subflows(h->b.st[1], (uint32_t)h->sid, sfi, 4, h->b.now);
    for (int i = 0; i < n; i++)
        if (sfi[i].join)
            return sfi[i].tcp.state;
    return -1;
}

/* Did the option act? Compares the server before (|b|, |bm|) and after. */
static bool hd_acted(struct hd *h, enum hd_opt which, const struct mpx_conn_info *b,
                     const struct mpx_mptcp_mib *bm)
{
    const struct mpx_mptcp_mib *m = mpx_stack_mib(h->b.st[1]);
    struct mpx_conn_info a = hd_sinfo(h);
    switch (which) {
    case HD_RM_ADDR:
        /* the server closes the join's subflow (a FIN: closing, not gone) */
        return m->RmAddr == bm->RmAddr + 1 && hd_join_state(h) != MPX_TCP_ESTABLISHED;
    case HD_PRIO:
        return m->MPPrioRx == bm->MPPrioRx + 1;
    case HD_DATA_ACK:
        return a.snd_una == b->snd_nxt && b->snd_una != b->snd_nxt;
    case HD_FASTCLOSE:
        return m->MPFastcloseRx == bm->MPFastcloseRx + 1 && a.closed && a.error == MPX_ERR_RESET;
    case HD_ADD_ADDR_BAD:
        return m->AddAddrDrop == bm->AddAddrDrop + 1;
    }
    return false;
}

/* Nothing changed at all: no counter but MPXOptsUnacceptable, the
 * connection as it was. */
static bool hd_untouched(struct hd *h, const struct mpx_conn_info *b,
                         const struct mpx_mptcp_mib *bm)
{
    const struct mpx_mptcp_mib *m = mpx_stack_mib(h->b.st[1]);
    struct mpx_conn_info a = hd_sinfo(h);
    return m->RmAddr == bm->RmAddr && hd_join_state(h) == MPX_TCP_ESTABLISHED &&
           m->MPPrioRx == bm->MPPrioRx && m->MPFastcloseRx == bm->MPFastcloseRx &&
           m->AddAddrDrop == bm->AddAddrDrop && m->AddAddr == bm->AddAddr &&
           a.subflows == b->subflows && a.snd_una == b->snd_una && !a.closed && a.error == 0;
}

MPX_TEST(mptcp_harden_options_need_acceptable_segment)
{
    static const struct {
        enum hd_opt opt;
        enum hd_seq where;
        bool acts;
    } rows[] = {
        {HD_RM_ADDR, HD_IN, true},      {HD_RM_ADDR, HD_OUT, false},
        {HD_PRIO, HD_IN, true},         {HD_PRIO, HD_OUT, false},
        {HD_PRIO, HD_OLD_TS, false},    {HD_DATA_ACK, HD_IN, true},
        {HD_DATA_ACK, HD_OUT, false},   {HD_FASTCLOSE, HD_IN, true},
        {HD_FASTCLOSE, HD_OUT, false},  {HD_FASTCLOSE, HD_OLD_TS, false},
        {HD_ADD_ADDR_BAD, HD_IN, true}, {HD_ADD_ADDR_BAD, HD_OUT, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct hd *h = hd_new(40 + i);
        REQUIRE(h->cid > 0 && h->sid > 0 && h->have_last && h->skey && h->join_id);
        struct mpx_conn_info b = hd_sinfo(h);
        REQUIRE(b.mptcp && b.subflows == 2);
        if (rows[i].opt == HD_DATA_ACK) {
            /* unacknowledged data at the server: its data never arrives */
            static uint8_t data[HD_BYTES];
            h->drop_server_data = true;
            REQUIRE(mpx_conn_send(h->b.st[1], (uint32_t)h->sid, data, sizeof(data), h->b.now) ==
                    (long)sizeof(data));
            b2b_run(&h->b, h->b.now + MPX_NS_PER_MS);
            b = hd_sinfo(h);
            REQUIRE(b.snd_nxt > b.snd_una);
        }
        if (rows[i].where == HD_OLD_TS)
            REQUIRE(h->last.tcp.opts.present & MPX_TCPO_TS);
        struct mpx_mptcp_mib bm = *mpx_stack_mib(h->b.st[1]);
        struct mpx_mptcp_opt o = hd_opt(h, rows[i].opt);
        hd_forge(h, &o, rows[i].where, MPX_TH_ACK);
        if (rows[i].where == HD_OUT) {
            /* TCP answers the unacceptable segment with an ACK at once
             * (not so a PAWS-old pure ACK: rate-limited, as in Linux) */
            int n = mpx_stack_output(h->b.st[1], h->b.pkt, sizeof(h->b.pkt), h->b.now);
            struct mpx_pkt ans;
            REQUIRE(n > 0 && mpx_pkt_decode(h->b.pkt, (size_t)n, true, &ans) == 0);
            CHECK_EQ(ans.tcp.flags & (MPX_TH_ACK | MPX_TH_RST | MPX_TH_SYN), MPX_TH_ACK);
            mpx_stack_input(h->b.st[0], h->b.pkt, (size_t)n, h->b.now);
        }
        b2b_run(&h->b, h->b.now + MPX_NS_PER_S); /* a removed subflow is gone */
        const struct mpx_mptcp_mib *m = mpx_stack_mib(h->b.st[1]);
        if (rows[i].acts) {
            if (!hd_acted(h, rows[i].opt, &b, &bm))
                mpx_test_fail(__FILE__, __LINE__, "row %zu: the option did not act", i);
            CHECK_EQ(m->MPXOptsUnacceptable, bm.MPXOptsUnacceptable);
        } else {
            if (!hd_untouched(h, &b, &bm))
                mpx_test_fail(__FILE__, __LINE__, "row %zu: the option acted", i);
            CHECK_EQ(m->MPXOptsUnacceptable, bm.MPXOptsUnacceptable + 1);
        }
        if (!rows[i].acts || rows[i].opt != HD_FASTCLOSE) {
            /* the connection still works both ways */
            h->drop_server_data = false;
            static uint8_t msg[100];
            REQUIRE(mpx_conn_send(h->b.st[0], (uint32_t)h->cid, msg, sizeof(msg), h->b.now) ==
                    (long)sizeof(msg));
            b2b_run(&h->b, h->b.now + 2 * MPX_NS_PER_S);
            uint8_t in[HD_BYTES + 200];
            CHECK_INT(mpx_conn_recv(h->b.st[1], (uint32_t)h->sid, in, sizeof(in), h->b.now),
                      (long)sizeof(msg));
        }
        hd_free(h);
    }
}

/* In window but with a wrong key: counted (MPXFastcloseBadKey), ignored;
 * this is what an on-path attacker of an E-mode connection gets. */
MPX_TEST(mptcp_harden_fastclose_bad_key_counted)
{
    struct hd *h = hd_new(70);
    REQUIRE(h->cid > 0 && h->sid > 0 && h->have_last && h->skey);
    struct mpx_mptcp_mib bm = *mpx_stack_mib(h->b.st[1]);
    struct mpx_mptcp_opt o = hd_opt(h, HD_FASTCLOSE);
    o.u.fastclose.key ^= 1;
    hd_forge(h, &o, HD_IN, MPX_TH_ACK);
    b2b_run(&h->b, h->b.now + MPX_NS_PER_S);
    const struct mpx_mptcp_mib *m = mpx_stack_mib(h->b.st[1]);
    CHECK_EQ(m->MPXFastcloseBadKey, bm.MPXFastcloseBadKey + 1);
    CHECK_EQ(m->MPFastcloseRx, bm.MPFastcloseRx);
    CHECK_EQ(m->MPXOptsUnacceptable, bm.MPXOptsUnacceptable);
    struct mpx_conn_info si = hd_sinfo(h);
    CHECK(!si.closed && si.error == 0 && si.subflows == 2);
    hd_free(h);
}

/* MP_TCPRST (RFC 8684 section 3.6) rides on a RST: only an acceptable one
 * (RFC 5961 section 3.2: exactly at RCV.NXT) is read; one merely in the
 * window draws a challenge ACK and its reason is ignored. */
MPX_TEST(mptcp_harden_tcprst_needs_exact_rst)
{
    static const struct {
        enum hd_seq where;
        bool acts;
    } rows[] = {{HD_NEAR, false}, {HD_OUT, false}, {HD_IN, true}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct hd *h = hd_new(80 + i);
        REQUIRE(h->cid > 0 && h->sid > 0 && h->have_last);
        struct mpx_mptcp_mib bm = *mpx_stack_mib(h->b.st[1]);
        struct mpx_mptcp_opt o;
        memset(&o, 0, sizeof(o));
        o.subtype = MPX_MPTCP_SUB_TCPRST;
        o.u.tcprst.reason = MPX_RST_EBADPERF;
        hd_forge(h, &o, rows[i].where, MPX_TH_RST | MPX_TH_ACK);
        const struct mpx_mptcp_mib *m = mpx_stack_mib(h->b.st[1]);
        CHECK_EQ(m->MPRstRx, bm.MPRstRx + rows[i].acts);
        CHECK_EQ(m->MPXOptsUnacceptable, bm.MPXOptsUnacceptable + !rows[i].acts);
        b2b_run(&h->b, h->b.now + 100 * MPX_NS_PER_MS);
        struct mpx_conn_info si = hd_sinfo(h);
        /* the join's subflow carries on either way; the first one only
         * when the RST was not acceptable */
        CHECK_EQ(si.subflows, rows[i].acts ? 1 : 2);
        CHECK(!si.closed);
        hd_free(h);
    }
}

/* PREFER (DESIGN decision 5): a plain SYN/ACK to our E SYN makes us retry
 * without E. Only when TCP accepts that SYN/ACK (its ACK acknowledges our
 * SYN, RFC 9293 3.10.7.3): a blind forgery with a wrong ACK draws a RST
 * and must not downgrade the connection. */
static size_t hd_drop_client(struct b2b *b, int from, uint8_t *pkt, size_t len)
{
    struct hd *h = b->arg;
    struct mpx_pkt p;
    if (from == 0 && mpx_pkt_decode(pkt, len, true, &p) == 0) {
        h->last = p;
        h->last.payload = NULL;
        h->have_last = true;
    }
    return from == 0 ? 0 : len;
}

MPX_TEST(mptcp_harden_synack_needs_acceptable_ack)
{
    static const struct {
        uint32_t ack_off; /* from the SYN's ISN */
        bool acts;
    } rows[] = {{1, true}, {1000, false}, {0, false}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct hd *h = calloc(1, sizeof(*h));
        b2b_init(&h->b, 90 + i, NULL, NULL);
        h->b.arg = h;
        h->b.mangle = hd_drop_client;
        long cid = mpx_stack_connect_ext(h->b.st[0], &h->b.addr[0][0], &h->b.addr[1][0], HD_PORT,
                                         MPX_EXT_PREFER, 0);
        REQUIRE(cid > 0);
        b2b_run(&h->b, MPX_NS_PER_MS);
        REQUIRE(h->have_last && (h->last.tcp.flags & MPX_TH_SYN));
        const struct mpx_pkt syn = h->last;
        struct mpx_ip_hdr ip = syn.ip;
        ip.src = syn.ip.dst;
        ip.dst = syn.ip.src;
        struct mpx_tcp_hdr th = {.sport = syn.tcp.dport,
                                 .dport = syn.tcp.sport,
                                 .seq = 777,
                                 .ack = syn.tcp.seq + rows[i].ack_off,
                                 .flags = MPX_TH_SYN | MPX_TH_ACK,
                                 .win = 65535};
        th.opts.present = MPX_TCPO_MSS;
        th.opts.mss = 1460;
        uint8_t buf[256];
        int n = mpx_pkt_encode(buf, sizeof(buf), &ip, &th, NULL, 0, NULL);
        REQUIRE(n > 0);
        mpx_stack_input(h->b.st[0], buf, (size_t)n, h->b.now);
        n = mpx_stack_output(h->b.st[0], h->b.pkt, sizeof(h->b.pkt), h->b.now);
        struct mpx_pkt ans;
        REQUIRE(n > 0 && mpx_pkt_decode(h->b.pkt, (size_t)n, true, &ans) == 0);
        /* a RST either way: to the bad ACK (RFC 9293), or to the plain
         * SYN/ACK before the retry without E */
        CHECK(ans.tcp.flags & MPX_TH_RST);
        const struct mpx_mptcp_mib *m = mpx_stack_mib(h->b.st[0]);
        CHECK_EQ(m->MPExtKeyRetryNoE, rows[i].acts);
        CHECK_EQ(m->MPXOptsUnacceptable, 0); /* no MPTCP option to ignore */
        hd_free(h);
    }
}
