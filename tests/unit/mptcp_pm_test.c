/*
 * mptcp_pm_test.c - path manager: endpoint/limits CRUD and formatting
 * (checked against `ip mptcp` on Linux 6.18), and per-connection scenarios
 * after the PM categories of the kernel selftest mptcp_join.sh, asserting
 * the exact action sequences and deadlines.
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include "err.h"
#include "mpx_test.h"
#include "mptcp_pm.h"

#define SEC 1000000000ull

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (strcmp(sa_, sb_) != 0)                                                                 \
            mpx_test_fail(__FILE__, __LINE__, "CHECK_STR(%s):\n  got  \"%s\"\n  want \"%s\"", #a,  \
                          sa_, sb_);                                                               \
    } while (0)

static struct mpx_addr ip(const char *s)
{
    struct mpx_addr a;
    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, s, a.a) == 1)
        a.family = MPX_AF_INET;
    else if (inet_pton(AF_INET6, s, a.a) == 1)
        a.family = MPX_AF_INET6;
    return a;
}

static struct mpx_pm_addr pa(const char *s, uint16_t port, uint8_t id)
{
    struct mpx_pm_addr a;
    memset(&a, 0, sizeof(a));
    a.addr = ip(s);
    a.port = port;
    a.id = id;
    return a;
}

static struct mpx_pm_endpoint ep(const char *s, uint8_t flags, uint8_t id, uint16_t port)
{
    struct mpx_pm_endpoint e;
    memset(&e, 0, sizeof(e));
    e.addr = ip(s);
    e.flags = flags;
    e.id = id;
    e.port = port;
    return e;
}

#define SIG MPX_PM_F_SIGNAL
#define SUB MPX_PM_F_SUBFLOW
#define BKP MPX_PM_F_BACKUP
#define FM  MPX_PM_F_FULLMESH

static int add(struct mpx_pm_cfg *cfg, const char *s, uint8_t flags, uint8_t id, uint16_t port)
{
    struct mpx_pm_endpoint e = ep(s, flags, id, port);
    return mpx_pm_endpoint_add(cfg, &e);
}

static void fmt_pa(char *out, size_t cap, const struct mpx_pm_addr *a, bool port)
{
    char s[64];
    size_t n = strlen(out);
    mpx_addr_fmt(&a->addr, s, sizeof(s));
    if (port && a->port)
        snprintf(out + n, cap - n, "%s:%u#%u", s, a->port, a->id);
    else
        snprintf(out + n, cap - n, "%s#%u", s, a->id);
}

/* All queued actions as one string, "; "-separated. */
static const char *drain(struct mpx_pm_conn *c)
{
    static char buf[2048];
    struct mpx_pm_action a;
    buf[0] = '\0';
    while (mpx_pm_next_action(c, &a)) {
        size_t n = strlen(buf);
        if (n)
            snprintf(buf + n, sizeof(buf) - n, "; ");
        n = strlen(buf);
        switch (a.type) {
        case MPX_PM_ACT_CREATE_SUBFLOW:
            snprintf(buf + n, sizeof(buf) - n, "create sf=%u ", a.sf);
            fmt_pa(buf, sizeof(buf), &a.local, true);
            strcat(buf, ">");
            fmt_pa(buf, sizeof(buf), &a.remote, true);
            if (a.backup)
                strcat(buf, " bk");
            if (a.ifindex)
                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " if=%d", a.ifindex);
            break;
        case MPX_PM_ACT_ANNOUNCE:
            strcat(buf, "ann ");
            fmt_pa(buf, sizeof(buf), &a.local, true);
            break;
        case MPX_PM_ACT_ANNOUNCE_ECHO:
            strcat(buf, "echo ");
            fmt_pa(buf, sizeof(buf), &a.remote, true);
            break;
        case MPX_PM_ACT_REMOVE_ADDR:
            strcat(buf, "rm ");
            for (unsigned i = 0; i < a.nr_ids; i++)
                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%u", i ? "," : "",
                         a.ids[i]);
            break;
        case MPX_PM_ACT_CLOSE_SUBFLOW:
            snprintf(buf + n, sizeof(buf) - n, "close sf=%u", a.sf);
            break;
        case MPX_PM_ACT_SET_BACKUP:
            snprintf(buf + n, sizeof(buf) - n, "prio sf=%u bk=%d", a.sf, a.backup);
            break;
        default:
            snprintf(buf + n, sizeof(buf) - n, "?%u", a.type);
        }
    }
    return buf;
}

/* ---- host-wide configuration -------------------------------------------- */

MPX_TEST(mptcp_pm_cfg_defaults)
{
    struct mpx_pm_cfg cfg;
    char buf[64];
    mpx_pm_cfg_init(&cfg);
    /* `ip mptcp limits` on a fresh 6.18 namespace. */
    CHECK_INT(mpx_pm_limits_fmt(&cfg, buf, sizeof(buf)), strlen("add_addr_accepted 0 subflows 2 "));
    CHECK_STR(buf, "add_addr_accepted 0 subflows 2 ");
    CHECK_EQ(cfg.add_addr_timeout_ns, 120 * SEC);
}

/* The sequence run with `ip mptcp endpoint add` in a fresh netns on 6.18. */
MPX_TEST(mptcp_pm_endp_add_validation)
{
    static const struct {
        const char *addr;
        uint8_t flags, id;
        uint16_t port;
        int rc;
    } rows[] = {
        {"10.0.1.1", SUB, 0, 0, 1},
        {"10.0.1.1", SIG, 0, 0, MPX_ERR_EXIST},      /* -EEXIST */
        {"10.0.2.1", SIG | FM, 0, 0, MPX_ERR_INVAL}, /* signal and fullmesh */
        {"10.0.2.1", SUB | FM, 0, 0, 2},
        {"10.0.3.1", SIG | BKP, 5, 1234, 5},
        {"10.0.4.1", SIG, 5, 0, MPX_ERR_EXIST}, /* -EBUSY: id in use */
        {"10.0.4.1", SIG, 0, 0, 6},
        {"dead::1", SUB, 0, 0, 7},
        {"10.0.5.1", SUB, 0, 1000, MPX_ERR_INVAL},       /* port needs signal */
        {"10.0.5.1", SIG | SUB, 0, 1000, MPX_ERR_INVAL}, /* ... and not subflow */
        {"10.0.6.1", 0, 0, 0, 8},                        /* no flags is fine */
        {"10.0.7.1", MPX_PM_F_IMPLICIT, 0, 0, MPX_ERR_INVAL},
        {"10.0.7.1", 0x40, 0, 0, MPX_ERR_INVAL},
        {"not-an-address", SUB, 0, 0, MPX_ERR_INVAL},
        {"10.0.3.1", SIG, 0, 1235, 9},            /* same address, other port */
        {"10.0.3.1", SIG, 0, 0, 10},              /* and without port */
        {"10.0.3.1", SUB, 0, 0, MPX_ERR_NOSPACE}, /* 8 endpoints: -ERANGE */
    };
    struct mpx_pm_cfg cfg;
    mpx_pm_cfg_init(&cfg);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = add(&cfg, rows[i].addr, rows[i].flags, rows[i].id, rows[i].port);
        if (rc != rows[i].rc)
            mpx_test_fail(__FILE__, __LINE__, "row %zu (%s): rc %d want %d", i, rows[i].addr, rc,
                          rows[i].rc);
    }
    CHECK_INT(cfg.nr, 8);
    CHECK_INT(cfg.endp_signal_max, 4);
    CHECK_INT(cfg.endp_subflow_max, 3);
    CHECK_INT(cfg.endp_fullmesh_max, 1);
    /* duplicates (no port on either side) */
    struct mpx_pm_endpoint out;
    REQUIRE(mpx_pm_endpoint_del(&cfg, 10, &out) == 0);
    CHECK_INT(add(&cfg, "10.0.3.1", SUB, 0, 0), 10);
    CHECK_INT(add(&cfg, "10.0.9.1", SUB, 0, 0), MPX_ERR_NOSPACE);
}

MPX_TEST(mptcp_pm_endp_id_autoassign)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_endpoint out;
    mpx_pm_cfg_init(&cfg);
    CHECK_INT(add(&cfg, "10.0.1.1", SUB, 0, 0), 1);
    CHECK_INT(add(&cfg, "10.0.2.1", SUB, 0, 0), 2);
    CHECK_INT(add(&cfg, "10.0.3.1", SIG, 5, 0), 5);
    CHECK_INT(add(&cfg, "10.0.4.1", SIG, 0, 0), 6); /* above the highest id */
    REQUIRE(mpx_pm_endpoint_del(&cfg, 2, &out) == 0);
    CHECK_STR(mpx_addr_fmt(&out.addr, (char[64]){0}, 64), "10.0.2.1");
    CHECK_INT(add(&cfg, "10.0.2.1", SUB, 0, 0), 7); /* 2 is not reused at once */
    CHECK_INT(add(&cfg, "10.0.8.1", SIG, 255, 0), 255);
    CHECK_INT(add(&cfg, "10.0.9.1", SIG, 0, 0), 2); /* wrapped: first free from 1 */
    CHECK_INT(add(&cfg, "10.0.9.2", SIG, 0, 0), 3);
    REQUIRE(mpx_pm_endpoint_del(&cfg, 3, NULL) == 0);
    CHECK_INT(add(&cfg, "10.0.9.3", SIG, 0, 0), 3); /* next_id is 3: free again */
    struct mpx_pm_endpoint all[8];
    CHECK_INT(mpx_pm_endpoint_flush(&cfg, all, 8), 7);
    CHECK_INT(cfg.nr, 0);
    CHECK_INT(cfg.endp_signal_max + cfg.endp_subflow_max, 0);
    CHECK_INT(add(&cfg, "10.0.1.1", SUB, 0, 0), 1); /* flush restarts at 1 */
}

MPX_TEST(mptcp_pm_endp_show_format)
{
    static const struct {
        const char *addr;
        uint8_t flags, id;
        uint16_t port;
        int32_t ifindex;
        const char *ifname, *want;
    } rows[] = {
        {"10.0.1.1", SUB, 1, 0, 0, "", "10.0.1.1 id 1 subflow "},
        {"10.0.2.1", SUB | FM, 2, 0, 0, "", "10.0.2.1 id 2 subflow fullmesh "},
        {"10.0.3.1", SIG | BKP, 5, 1234, 0, "", "10.0.3.1 port 1234 id 5 signal backup "},
        {"dead::1", SUB, 7, 0, 1, "lo", "dead::1 id 7 subflow dev lo "},
        {"10.0.6.1", 0, 8, 0, 0, "", "10.0.6.1 id 8 "},
        {"10.0.6.2", MPX_PM_F_IMPLICIT, 9, 0, 0, "", "10.0.6.2 id 9 implicit "},
        {"10.0.6.3", SUB | 0x80, 10, 0, 3, "", "10.0.6.3 id 10 subflow flags 0x80 dev if3 "},
        {"dead:beef:2::1", SIG, 11, 443, 0, "", "dead:beef:2::1 port 443 id 11 signal "},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct mpx_pm_endpoint e = ep(rows[i].addr, rows[i].flags, rows[i].id, rows[i].port);
        char buf[128];
        e.ifindex = rows[i].ifindex;
        strcpy(e.ifname, rows[i].ifname);
        CHECK_INT(mpx_pm_endpoint_fmt(&e, buf, sizeof(buf)), strlen(rows[i].want));
        CHECK_STR(buf, rows[i].want);
    }
    /* snprintf rule on truncation */
    struct mpx_pm_endpoint e = ep("10.0.1.1", SUB, 1, 0);
    char small[5];
    CHECK_INT(mpx_pm_endpoint_fmt(&e, small, sizeof(small)), 22);
    CHECK_STR(small, "10.0");

    /* show lists by id although port endpoints come first internally */
    struct mpx_pm_cfg cfg;
    struct mpx_pm_endpoint list[8];
    mpx_pm_cfg_init(&cfg);
    add(&cfg, "10.0.1.1", SUB, 0, 0);
    add(&cfg, "10.0.3.1", SIG, 0, 10);
    add(&cfg, "10.0.2.1", SIG, 0, 0);
    CHECK_INT(cfg.endp[0].id, 2);
    REQUIRE(mpx_pm_endpoint_list(&cfg, list, 8) == 3);
    CHECK_INT(list[0].id, 1);
    CHECK_INT(list[1].id, 2);
    CHECK_INT(list[2].id, 3);
    CHECK_INT(mpx_pm_endpoint_list(&cfg, list, 2), 2);
}

MPX_TEST(mptcp_pm_endp_del_change_limits)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_endpoint out;
    struct mpx_addr a;
    uint8_t ch = 0xff;
    mpx_pm_cfg_init(&cfg);
    add(&cfg, "10.0.2.1", SUB | FM | BKP, 0, 0); /* 1 */
    add(&cfg, "10.0.3.1", SIG, 0, 0);            /* 2 */
    add(&cfg, "10.0.4.1", SIG, 0, 4000);         /* 3 */
    CHECK_INT(mpx_pm_endpoint_del(&cfg, 99, &out), MPX_ERR_NOENT);
    CHECK_INT(mpx_pm_endpoint_del(&cfg, 0, &out), MPX_ERR_INVAL);
    a = ip("10.0.9.9");
    CHECK_INT(mpx_pm_endpoint_del_addr(&cfg, &a, 0, &out), MPX_ERR_NOENT);
    a = ip("10.0.4.1");
    CHECK_INT(mpx_pm_endpoint_del_addr(&cfg, &a, 0, &out), MPX_ERR_NOENT); /* port differs */
    CHECK_INT(mpx_pm_endpoint_del_addr(&cfg, &a, 4000, &out), 0);
    CHECK_INT(out.id, 3);
    CHECK_INT(cfg.endp_signal_max, 1);

    /* "change id 1 backup" on a fullmesh endpoint clears fullmesh (6.18) */
    CHECK_INT(mpx_pm_endpoint_change(&cfg, 1, NULL, BKP, &ch), 0);
    CHECK_INT(ch, FM);
    CHECK_INT(mpx_pm_endpoint_get(&cfg, 1)->flags, SUB | BKP);
    CHECK_INT(cfg.endp_fullmesh_max, 0);
    CHECK_INT(mpx_pm_endpoint_change(&cfg, 1, NULL, FM, &ch), 0); /* nobackup fullmesh */
    CHECK_INT(ch, FM | BKP);
    CHECK_INT(cfg.endp_fullmesh_max, 1);
    CHECK_INT(mpx_pm_endpoint_change(&cfg, 2, NULL, FM, &ch), MPX_ERR_INVAL); /* signal */
    CHECK_INT(mpx_pm_endpoint_change(&cfg, 1, NULL, SIG, &ch), MPX_ERR_INVAL);
    CHECK_INT(mpx_pm_endpoint_change(&cfg, 99, NULL, BKP, &ch), MPX_ERR_NOENT);
    CHECK_INT(mpx_pm_endpoint_change(&cfg, 0, NULL, BKP, &ch), MPX_ERR_INVAL);
    a = ip("10.0.3.1");
    CHECK_INT(mpx_pm_endpoint_change(&cfg, 0, &a, BKP, &ch), 0);
    CHECK_INT(ch, BKP);
    CHECK_INT(mpx_pm_endpoint_get(&cfg, 2)->flags, SIG | BKP);

    CHECK_INT(mpx_pm_limits_set(&cfg, 9, -1), MPX_ERR_INVAL);
    CHECK_INT(mpx_pm_limits_set(&cfg, 1, 9), MPX_ERR_INVAL);
    CHECK_INT(cfg.limit_subflows, 2); /* unchanged */
    CHECK_INT(mpx_pm_limits_set(&cfg, 8, 8), 0);
    CHECK_INT(mpx_pm_limits_set(&cfg, -1, 3), 0);
    CHECK_INT(cfg.limit_subflows, 8);
    CHECK_INT(cfg.limit_add_addr_accepted, 3);
}

/* ---- per connection ------------------------------------------------------ */

/* Client 10.0.1.2:40000 -> server 10.0.1.1:10000 (mptcp_join.sh numbering). */
static void client(struct mpx_pm_conn *c, struct mpx_pm_cfg *cfg, bool deny_id0)
{
    struct mpx_pm_conn_params p;
    memset(&p, 0, sizeof(p));
    p.local = pa("10.0.1.2", 40000, 0);
    p.remote = pa("10.0.1.1", 10000, 0);
    p.deny_join_id0 = deny_id0;
    REQUIRE(mpx_pm_conn_init(c, cfg, &p) == 0);
}

static void server(struct mpx_pm_conn *c, struct mpx_pm_cfg *cfg)
{
    struct mpx_pm_conn_params p;
    memset(&p, 0, sizeof(p));
    p.local = pa("10.0.1.1", 10000, 0);
    p.remote = pa("10.0.1.2", 40000, 0);
    p.server = true;
    REQUIRE(mpx_pm_conn_init(c, cfg, &p) == 0);
}

static void limits(struct mpx_pm_cfg *cfg, int add_addr, int subflows)
{
    mpx_pm_cfg_init(cfg);
    REQUIRE(mpx_pm_limits_set(cfg, subflows, add_addr) == 0);
}

/* mptcp_join.sh "subflows" category: subflow endpoints against the limit. */
MPX_TEST(mptcp_pm_subflows_limits)
{
    static const struct {
        const char *name;
        int subflows, nr_endp;
        const char *want;
    } rows[] = {
        {"no JOIN", 0, 0, ""},
        {"single subflow, limited by client", 0, 1, ""},
        {"single subflow", 1, 1, "create sf=1 10.0.2.2#1>10.0.1.1:10000#0"},
        {"multiple subflows", 2, 2,
         "create sf=1 10.0.2.2#1>10.0.1.1:10000#0; create sf=2 10.0.3.2#2>10.0.1.1:10000#0"},
        {"multiple subflows, limited by client", 1, 2, "create sf=1 10.0.2.2#1>10.0.1.1:10000#0"},
    };
    static const char *const addrs[] = {"10.0.2.2", "10.0.3.2"};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct mpx_pm_cfg cfg;
        struct mpx_pm_conn c;
        limits(&cfg, 0, rows[i].subflows);
        for (int k = 0; k < rows[i].nr_endp; k++)
            add(&cfg, addrs[k], SUB, 0, 0);
        client(&c, &cfg, false);
        CHECK_STR(drain(&c), ""); /* nothing before fully established */
        mpx_pm_on_fully_established(&c, 1 * SEC);
        const char *got = drain(&c);
        if (strcmp(got, rows[i].want) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s: got \"%s\" want \"%s\"", rows[i].name, got,
                          rows[i].want);
        mpx_pm_on_fully_established(&c, 2 * SEC); /* served once */
        CHECK_STR(drain(&c), "");
        CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE);
        mpx_pm_conn_free(&c);
    }
}

/* A subflow closed on purpose is not replaced: its endpoint stays used. */
MPX_TEST(mptcp_pm_subflows_closed_not_replaced)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    limits(&cfg, 0, 2);
    add(&cfg, "10.0.2.2", SUB, 0, 0);
    add(&cfg, "10.0.3.2", SUB | SIG, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    /* signal+subflow endpoint: announced and used for a subflow first */
    CHECK_STR(drain(&c), "ann 10.0.3.2#2; create sf=1 10.0.3.2#2>10.0.1.1:10000#0; "
                         "create sf=2 10.0.2.2#1>10.0.1.1:10000#0");
    mpx_pm_on_subflow_established(&c, 1, NULL, 2 * SEC);
    CHECK_STR(drain(&c), "");
    mpx_pm_on_subflow_closed(&c, 2, MPX_PM_CLOSE_LOCAL, 3 * SEC);
    mpx_pm_on_subflow_closed(&c, 2, MPX_PM_CLOSE_LOCAL, 3 * SEC); /* idempotent */
    CHECK_STR(drain(&c), "");
    CHECK_INT(c.extra_subflows, 1);
    CHECK_EQ(mpx_pm_next_deadline(&c), 1 * SEC + 120 * SEC); /* the announce */
    mpx_pm_conn_free(&c);
}

/* mptcp_join.sh "signal addresses": the server announces its signal
 * endpoints one per trigger; joins from the client count in its limit. */
MPX_TEST(mptcp_pm_signal_addresses)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_join_reply jr;
    limits(&cfg, 3, 3);
    add(&cfg, "10.0.2.1", SIG, 0, 0);
    add(&cfg, "10.0.3.1", SIG, 0, 0);
    add(&cfg, "10.0.4.1", SIG, 0, 0);
    server(&c, &cfg);
    mpx_pm_on_fully_established(&c, 10 * SEC);
    CHECK_STR(drain(&c), "ann 10.0.2.1#1");
    CHECK_EQ(mpx_pm_next_deadline(&c), 130 * SEC);
    struct mpx_pm_addr e1 = pa("10.0.2.1", 0, 1);
    mpx_pm_on_add_addr_echo(&c, &e1, 11 * SEC);
    CHECK_STR(drain(&c), "ann 10.0.3.1#2");
    CHECK_EQ(mpx_pm_next_deadline(&c), 131 * SEC); /* the first timer stopped */

    struct mpx_pm_addr jl = pa("10.0.2.1", 10000, 0), jrm = pa("10.0.2.2", 40001, 3);
    REQUIRE(mpx_pm_on_join_request(&c, &jl, &jrm, false, &jr) == 0);
    CHECK_INT(jr.sf, 1);
    CHECK_INT(jr.local_id, 1);
    CHECK_INT(jr.backup, 0);
    mpx_pm_on_subflow_established(&c, jr.sf, NULL, 12 * SEC);
    /* kernel: a subflow established triggers the PM too */
    CHECK_STR(drain(&c), "ann 10.0.4.1#3");
    struct mpx_pm_addr e2 = pa("10.0.3.1", 0, 2), e3 = pa("10.0.4.1", 0, 3);
    mpx_pm_on_add_addr_echo(&c, &e2, 13 * SEC);
    mpx_pm_on_add_addr_echo(&c, &e3, 13 * SEC);
    CHECK_STR(drain(&c), "");
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE);
    CHECK_EQ(c.mib.AddAddrTx, 3);
    CHECK_EQ(c.mib.EchoAdd, 3);
    mpx_pm_conn_free(&c);
}

/* ADD_ADDR retransmission: resent at T, 3T, 7T then given up (4 ADD_ADDRs,
 * mptcp_join.sh "signal address, ADD_ADDR timeout": chk_add_tx_nr 4 4). */
MPX_TEST(mptcp_pm_add_addr_timeout_retrans)
{
    static const struct {
        uint64_t timeout, rto, want_t;
    } rows[] = {
        {120 * SEC, 0, 120 * SEC},     /* default sysctl */
        {1 * SEC, 0, 1 * SEC},         /* the selftest sets 1 s */
        {120 * SEC, SEC / 5, SEC / 5}, /* capped by the largest subflow RTO */
        {SEC / 10, SEC / 5, SEC / 10},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct mpx_pm_cfg cfg;
        struct mpx_pm_conn c;
        const uint64_t t0 = 5 * SEC, T = rows[i].want_t;
        limits(&cfg, 0, 2);
        cfg.add_addr_timeout_ns = rows[i].timeout;
        add(&cfg, "10.0.2.1", SIG, 0, 0);
        add(&cfg, "10.0.3.1", SIG, 0, 0);
        server(&c, &cfg);
        mpx_pm_set_max_rto(&c, rows[i].rto);
        mpx_pm_on_fully_established(&c, t0);
        CHECK_STR(drain(&c), "ann 10.0.2.1#1");
        CHECK_EQ(mpx_pm_next_deadline(&c), t0 + T);
        mpx_pm_on_timer(&c, t0 + T - 1);
        CHECK_STR(drain(&c), "");
        mpx_pm_on_timer(&c, t0 + T);
        CHECK_STR(drain(&c), "ann 10.0.2.1#1");
        CHECK_EQ(mpx_pm_next_deadline(&c), t0 + 3 * T);
        mpx_pm_on_timer(&c, t0 + 3 * T);
        CHECK_STR(drain(&c), "ann 10.0.2.1#1");
        CHECK_EQ(mpx_pm_next_deadline(&c), t0 + 7 * T);
        mpx_pm_on_timer(&c, t0 + 7 * T);
        /* last resend, then the PM moves on to the next signal endpoint */
        CHECK_STR(drain(&c), "ann 10.0.2.1#1; ann 10.0.3.1#2");
        CHECK_EQ(mpx_pm_next_deadline(&c), t0 + 7 * T + T);
        CHECK_EQ(c.mib.AddAddrTx, 5);
        /* an echo for the given-up address still counts, changes nothing */
        struct mpx_pm_addr e1 = pa("10.0.2.1", 0, 1);
        mpx_pm_on_add_addr_echo(&c, &e1, t0 + 8 * T);
        CHECK_EQ(c.mib.EchoAdd, 1);
        CHECK_EQ(mpx_pm_next_deadline(&c), t0 + 8 * T);
        mpx_pm_conn_free(&c);
    }
}

MPX_TEST(mptcp_pm_add_addr_timeout_zero_and_wrong_echo)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    limits(&cfg, 0, 2);
    add(&cfg, "10.0.2.1", SIG, 0, 0);
    cfg.add_addr_timeout_ns = 0;
    server(&c, &cfg);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "ann 10.0.2.1#1");
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE); /* never resent */
    mpx_pm_conn_free(&c);

    cfg.add_addr_timeout_ns = 2 * SEC;
    server(&c, &cfg);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "ann 10.0.2.1#1");
    struct mpx_pm_addr bad_id = pa("10.0.2.1", 0, 7), bad_port = pa("10.0.2.1", 80, 1);
    mpx_pm_on_add_addr_echo(&c, &bad_id, 2 * SEC);
    mpx_pm_on_add_addr_echo(&c, &bad_port, 2 * SEC);
    CHECK_EQ(mpx_pm_next_deadline(&c), 3 * SEC); /* still armed */
    mpx_pm_conn_free(&c);
}

/* The spine could not send the ADD_ADDR (option space): given up at once. */
MPX_TEST(mptcp_pm_add_addr_tx_drop)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_action a;
    limits(&cfg, 0, 2);
    add(&cfg, "dead:beef:2::1", SIG, 0, 10100);
    add(&cfg, "10.0.3.1", SIG, 0, 0);
    server(&c, &cfg);
    mpx_pm_on_fully_established(&c, SEC);
    REQUIRE(mpx_pm_next_action(&c, &a));
    CHECK_INT(a.type, MPX_PM_ACT_ANNOUNCE);
    CHECK_INT(a.local.port, 10100);
    mpx_pm_on_tx_drop(&c, &a, SEC);
    CHECK_STR(drain(&c), "ann 10.0.3.1#2");
    CHECK_EQ(c.mib.AddAddrTxDrop, 1);
    CHECK_EQ(c.mib.AddAddrTx, 1);
    CHECK_EQ(mpx_pm_next_deadline(&c), 121 * SEC);
    struct mpx_pm_action echo = {.type = MPX_PM_ACT_ANNOUNCE_ECHO};
    struct mpx_pm_action rm = {.type = MPX_PM_ACT_REMOVE_ADDR, .nr_ids = 2};
    mpx_pm_on_tx_drop(&c, &echo, SEC);
    mpx_pm_on_tx_drop(&c, &rm, SEC);
    CHECK_EQ(c.mib.EchoAddTxDrop, 1);
    CHECK_EQ(c.mib.RmAddrTxDrop, 2);
    mpx_pm_conn_free(&c);
}

/* Client accepting ADD_ADDRs (mptcp_join.sh "signal address" client side). */
MPX_TEST(mptcp_pm_add_addr_accept_limits)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_sf sfs[4];
    limits(&cfg, 1, 2);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "");
    struct mpx_pm_addr a1 = pa("10.0.2.1", 0, 1), a2 = pa("10.0.3.1", 0, 2);
    mpx_pm_on_add_addr(&c, &a1, 2 * SEC);
    /* routing picks the source: local address any, port of the initial */
    CHECK_STR(drain(&c), "echo 10.0.2.1#1; create sf=1 0.0.0.0#0>10.0.2.1:10000#1");
    mpx_pm_on_add_addr(&c, &a2, 2 * SEC);
    CHECK_STR(drain(&c), "echo 10.0.3.1#2"); /* add_addr_accepted 1 reached */
    CHECK_EQ(c.mib.AddAddr, 2);
    CHECK_EQ(c.mib.EchoAddTx, 2);

    /* bound to 10.0.2.2: an implicit endpoint gives it an id */
    struct mpx_addr src = ip("10.0.2.2");
    CHECK_INT(mpx_pm_subflow_bind(&c, 1, &src, 40100), 1);
    CHECK_INT(mpx_pm_subflow_bind(&c, 1, &src, 40100), 1); /* again: same */
    CHECK_INT(mpx_pm_subflow_bind(&c, 9, &src, 40100), MPX_ERR_NOENT);
    mpx_pm_on_subflow_established(&c, 1, &src, 3 * SEC);
    REQUIRE(mpx_pm_subflows(&c, sfs, 4) == 2);
    CHECK_INT(sfs[1].local.id, 1);
    CHECK_INT(sfs[1].local.port, 40100);
    CHECK(sfs[1].established);
    REQUIRE(mpx_pm_endpoint_get(&cfg, 1) != NULL);
    CHECK_INT(mpx_pm_endpoint_get(&cfg, 1)->flags, MPX_PM_F_IMPLICIT);
    CHECK_INT(mpx_pm_conn_local_id(&c, &src, 0), 1);
    struct mpx_addr init = ip("10.0.1.2");
    CHECK_INT(mpx_pm_conn_local_id(&c, &init, 5555), 0);

    /* REMOVE_ADDR of the accepted id frees a slot for another ADD_ADDR */
    const uint8_t ids[] = {1};
    mpx_pm_on_rm_addr(&c, ids, 1, 4 * SEC);
    CHECK_STR(drain(&c), "close sf=1");
    CHECK_EQ(c.mib.RmAddr, 1);
    mpx_pm_on_add_addr(&c, &a2, 5 * SEC);
    CHECK_STR(drain(&c), "echo 10.0.3.1#2; create sf=2 0.0.0.0#0>10.0.3.1:10000#2");
    mpx_pm_conn_free(&c);
}

MPX_TEST(mptcp_pm_add_addr_echo_only_cases)
{
    static const struct {
        const char *name, *addr;
        uint16_t port;
        uint8_t id;
        int accepted;
        const char *want;
    } rows[] = {
        {"default limits accept nothing", "10.0.2.1", 0, 1, 0, "echo 10.0.2.1#1"},
        {"id 0 with another address", "10.0.2.1", 0, 0, 1, "echo 10.0.2.1#0"},
        {"id 0 is the initial address: known", "10.0.1.1", 0, 0, 1, "echo 10.0.1.1#0"},
        {"already joined address", "10.0.1.1", 0, 4, 1, "echo 10.0.1.1#4"},
        {"same address, other port", "10.0.1.1", 10100, 4, 1,
         "echo 10.0.1.1:10100#4; create sf=1 0.0.0.0#0>10.0.1.1:10100#4"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct mpx_pm_cfg cfg;
        struct mpx_pm_conn c;
        limits(&cfg, rows[i].accepted, 2);
        client(&c, &cfg, false);
        mpx_pm_on_fully_established(&c, SEC);
        struct mpx_pm_addr a = pa(rows[i].addr, rows[i].port, rows[i].id);
        mpx_pm_on_add_addr(&c, &a, SEC);
        const char *got = drain(&c);
        if (strcmp(got, rows[i].want) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s: got \"%s\" want \"%s\"", rows[i].name, got,
                          rows[i].want);
        CHECK_EQ(c.mib.PortAdd, rows[i].port ? 1 : 0);
        mpx_pm_conn_free(&c);
    }
}

/* mptcp_join.sh "remove" category. */
MPX_TEST(mptcp_pm_remove_subflow_endpoint)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_endpoint out;
    limits(&cfg, 0, 1);
    add(&cfg, "10.0.3.2", SUB, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "create sf=1 10.0.3.2#1>10.0.1.1:10000#0");
    mpx_pm_on_subflow_established(&c, 1, NULL, 2 * SEC);
    REQUIRE(mpx_pm_endpoint_del(&cfg, 1, &out) == 0);
    mpx_pm_on_endp_removed(&c, &out, 3 * SEC);
    /* "remove single subflow": chk_rm_nr 1 1 */
    CHECK_STR(drain(&c), "rm 1; close sf=1");
    CHECK_EQ(c.mib.RmAddrTx, 1);
    CHECK_EQ(c.mib.RmSubflow, 1);
    CHECK_INT(c.extra_subflows, 0);
    CHECK_INT(c.local_addr_used, 0);
    /* re-added (mptcp_join.sh "I" endpoint): a new subflow */
    REQUIRE(add(&cfg, "10.0.3.2", SUB, 0, 0) == 1); /* next_id was 1: id 1 again */
    mpx_pm_on_endp_added(&c, mpx_pm_endpoint_get(&cfg, 1), 4 * SEC);
    CHECK_STR(drain(&c), "create sf=2 10.0.3.2#1>10.0.1.1:10000#0");
    mpx_pm_conn_free(&c);
}

MPX_TEST(mptcp_pm_remove_signal_endpoint)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_endpoint out;
    struct mpx_pm_join_reply jr;
    limits(&cfg, 0, 2);
    add(&cfg, "10.0.2.1", SIG, 0, 0);
    add(&cfg, "10.0.3.1", SIG, 0, 0);
    server(&c, &cfg);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "ann 10.0.2.1#1");
    struct mpx_pm_addr l = pa("10.0.2.1", 10000, 0), r = pa("10.0.2.2", 40001, 2);
    REQUIRE(mpx_pm_on_join_request(&c, &l, &r, false, &jr) == 0);
    CHECK_STR(drain(&c), "");
    REQUIRE(mpx_pm_endpoint_del(&cfg, 1, &out) == 0);
    mpx_pm_on_endp_removed(&c, &out, 2 * SEC);
    /* announced and used: REMOVE_ADDR, close, and the next signal goes out */
    CHECK_STR(drain(&c), "rm 1; close sf=1; ann 10.0.3.1#2");
    CHECK_EQ(mpx_pm_next_deadline(&c), 122 * SEC);
    /* an endpoint never announced nor used: nothing to say */
    add(&cfg, "10.0.9.1", SUB, 0, 0);
    REQUIRE(mpx_pm_endpoint_del(&cfg, 3, &out) == 0);
    mpx_pm_on_endp_removed(&c, &out, 3 * SEC);
    CHECK_STR(drain(&c), "");
    mpx_pm_conn_free(&c);
}

MPX_TEST(mptcp_pm_remove_received_and_flush)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_endpoint all[8];
    limits(&cfg, 2, 4);
    add(&cfg, "10.0.2.2", SUB, 0, 0);
    add(&cfg, "10.0.3.2", SUB | SIG, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "ann 10.0.3.2#2; create sf=1 10.0.3.2#2>10.0.1.1:10000#0; "
                         "create sf=2 10.0.2.2#1>10.0.1.1:10000#0");
    struct mpx_pm_addr a = pa("10.0.4.1", 0, 5);
    mpx_pm_on_add_addr(&c, &a, SEC);
    CHECK_STR(drain(&c), "echo 10.0.4.1#5; create sf=3 0.0.0.0#0>10.0.4.1:10000#5");
    /* REMOVE_ADDR for an unknown id and for id 5 */
    const uint8_t ids[] = {9, 5};
    mpx_pm_on_rm_addr(&c, ids, 2, 2 * SEC);
    CHECK_STR(drain(&c), "close sf=3");
    CHECK_EQ(c.mib.RmAddr, 2);
    /* flush: REMOVE_ADDR only for what was announced, then close */
    size_t n = mpx_pm_endpoint_flush(&cfg, all, 8);
    mpx_pm_on_endp_flushed(&c, all, n, 3 * SEC);
    CHECK_STR(drain(&c), "rm 2; close sf=2; close sf=1");
    CHECK_EQ(c.mib.RmSubflow, 2);
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE);
    /* remove id 0: the initial subflow goes */
    struct mpx_addr init = ip("10.0.1.2"), other = ip("10.0.9.9");
    mpx_pm_on_endp_id0_removed(&c, &other, 4 * SEC);
    CHECK_STR(drain(&c), "");
    mpx_pm_on_endp_id0_removed(&c, &init, 4 * SEC);
    CHECK_STR(drain(&c), "rm 0; close sf=0");
    mpx_pm_conn_free(&c);
}

/* mptcp_join.sh "add" category: endpoints added while connected. */
MPX_TEST(mptcp_pm_add_endpoints_at_runtime)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    limits(&cfg, 0, 2);
    client(&c, &cfg, false);
    add(&cfg, "10.0.9.2", SUB, 0, 0);
    mpx_pm_on_endp_added(&c, mpx_pm_endpoint_get(&cfg, 1), SEC); /* not yet established */
    CHECK_STR(drain(&c), "");
    mpx_pm_on_fully_established(&c, 2 * SEC);
    CHECK_STR(drain(&c), "create sf=1 10.0.9.2#1>10.0.1.1:10000#0");
    add(&cfg, "10.0.2.2", SUB, 0, 0);
    mpx_pm_on_endp_added(&c, mpx_pm_endpoint_get(&cfg, 2), 3 * SEC);
    CHECK_STR(drain(&c), "create sf=2 10.0.2.2#2>10.0.1.1:10000#0");
    add(&cfg, "10.0.3.2", SUB, 0, 0); /* limit reached */
    mpx_pm_on_endp_added(&c, mpx_pm_endpoint_get(&cfg, 3), 3 * SEC);
    CHECK_STR(drain(&c), "");
    add(&cfg, "10.0.4.2", SIG, 0, 0); /* announcing needs no subflow slot */
    mpx_pm_on_endp_added(&c, mpx_pm_endpoint_get(&cfg, 4), 4 * SEC);
    CHECK_STR(drain(&c), "ann 10.0.4.2#4");
    /* a slot frees up: the waiting endpoint is used */
    mpx_pm_on_subflow_closed(&c, 1, MPX_PM_CLOSE_PEER, 5 * SEC);
    CHECK_STR(drain(&c), "create sf=3 10.0.3.2#3>10.0.1.1:10000#0");
    mpx_pm_conn_free(&c);
}

/* mptcp_join.sh "backup" category (MP_PRIO). */
MPX_TEST(mptcp_pm_backup)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    uint8_t ch;
    limits(&cfg, 0, 2);
    add(&cfg, "10.0.1.2", SUB | BKP, 0, 0); /* the initial address */
    add(&cfg, "10.0.3.2", SUB | BKP, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    /* initial subflow turned backup by MP_PRIO, its endpoint not reused */
    CHECK_STR(drain(&c), "prio sf=0 bk=1; create sf=1 10.0.3.2#2>10.0.1.1:10000#0 bk");
    REQUIRE(mpx_pm_endpoint_change(&cfg, 2, NULL, 0, &ch) == 0);
    mpx_pm_on_endp_changed(&c, mpx_pm_endpoint_get(&cfg, 2), ch, 2 * SEC);
    CHECK_STR(drain(&c), "prio sf=1 bk=0");
    REQUIRE(mpx_pm_endpoint_change(&cfg, 1, NULL, BKP, &ch) == 0);
    CHECK_INT(ch, 0);
    mpx_pm_on_endp_changed(&c, mpx_pm_endpoint_get(&cfg, 1), ch, 2 * SEC);
    CHECK_STR(drain(&c), "");
    CHECK_EQ(c.mib.MPPrioTx, 2);
    mpx_pm_on_prio(&c, 1, true);
    CHECK_EQ(c.mib.MPPrioRx, 1);
    CHECK(c.sf[1].remote_backup);
    mpx_pm_conn_free(&c);
}

/* mptcp_join.sh "add_addr_ports". */
MPX_TEST(mptcp_pm_ports)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    limits(&cfg, 1, 1);
    add(&cfg, "10.0.2.1", SIG, 0, 10100);
    server(&c, &cfg);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "ann 10.0.2.1:10100#1");
    struct mpx_pm_addr noport = pa("10.0.2.1", 0, 1), port = pa("10.0.2.1", 10100, 1);
    mpx_pm_on_add_addr_echo(&c, &noport, 2 * SEC);
    CHECK_EQ(mpx_pm_next_deadline(&c), 121 * SEC); /* not this announce */
    mpx_pm_on_add_addr_echo(&c, &port, 2 * SEC);
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE);
    CHECK_EQ(c.mib.PortAdd, 1);
    /* the join arriving on the port gets the endpoint's id */
    struct mpx_pm_join_reply jr;
    struct mpx_pm_addr l = pa("10.0.2.1", 10100, 0), r = pa("10.0.1.2", 40002, 0);
    REQUIRE(mpx_pm_on_join_request(&c, &l, &r, false, &jr) == 0);
    CHECK_INT(jr.local_id, 1);
    mpx_pm_conn_free(&c);

    /* client side: joins go to the announced port */
    limits(&cfg, 1, 1);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    mpx_pm_on_add_addr(&c, &port, SEC);
    CHECK_STR(drain(&c), "echo 10.0.2.1:10100#1; create sf=1 0.0.0.0#0>10.0.2.1:10100#1");
    mpx_pm_conn_free(&c);
}

/* mptcp_join.sh "fullmesh" category. */
MPX_TEST(mptcp_pm_fullmesh)
{
    static const struct {
        int subflows;
        const char *want_est, *want_add;
    } rows[] = {
        {4, "create sf=1 10.0.2.2#1>10.0.1.1:10000#0",
         "echo 10.0.2.1#1; create sf=2 10.0.2.2#1>10.0.2.1:10000#1; "
         "create sf=3 10.0.1.2#0>10.0.2.1:10000#1"},
        {2, "create sf=1 10.0.2.2#1>10.0.1.1:10000#0",
         "echo 10.0.2.1#1; create sf=2 10.0.2.2#1>10.0.2.1:10000#1"},
        /* strict limit: Linux 6.18 opens a second join here (seen) */
        {1, "create sf=1 10.0.2.2#1>10.0.1.1:10000#0", "echo 10.0.2.1#1"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct mpx_pm_cfg cfg;
        struct mpx_pm_conn c;
        limits(&cfg, 1, rows[i].subflows);
        add(&cfg, "10.0.2.2", SUB | FM, 0, 0);
        add(&cfg, "10.0.1.2", SUB | FM, 0, 0); /* the initial address: id 0 */
        client(&c, &cfg, false);
        mpx_pm_on_fully_established(&c, SEC);
        CHECK_STR(drain(&c), rows[i].want_est);
        struct mpx_pm_addr a = pa("10.0.2.1", 0, 1);
        mpx_pm_on_add_addr(&c, &a, SEC);
        CHECK_STR(drain(&c), rows[i].want_add);
        mpx_pm_conn_free(&c);
    }
}

/* `ip mptcp endpoint change id 1 nofullmesh`: the endpoint's subflows are
 * redone (pm_kernel.c mptcp_pm_nl_fullmesh()). */
MPX_TEST(mptcp_pm_fullmesh_change)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    uint8_t ch;
    limits(&cfg, 1, 4);
    add(&cfg, "10.0.2.2", SUB | FM, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    struct mpx_pm_addr a = pa("10.0.2.1", 0, 1);
    mpx_pm_on_add_addr(&c, &a, SEC);
    CHECK_STR(drain(&c), "create sf=1 10.0.2.2#1>10.0.1.1:10000#0; echo 10.0.2.1#1; "
                         "create sf=2 10.0.2.2#1>10.0.2.1:10000#1");
    REQUIRE(mpx_pm_endpoint_change(&cfg, 1, NULL, 0, &ch) == 0);
    CHECK_INT(ch, FM);
    mpx_pm_on_endp_changed(&c, mpx_pm_endpoint_get(&cfg, 1), ch, 2 * SEC);
    CHECK_STR(drain(&c), "close sf=1; close sf=2; create sf=3 10.0.2.2#1>10.0.1.1:10000#0");
    CHECK_EQ(c.mib.RmSubflow, 2);
    /* and back to fullmesh: every known peer address again */
    REQUIRE(mpx_pm_endpoint_change(&cfg, 1, NULL, FM, &ch) == 0);
    mpx_pm_on_endp_changed(&c, mpx_pm_endpoint_get(&cfg, 1), ch, 3 * SEC);
    CHECK_STR(drain(&c), "close sf=3; create sf=4 10.0.2.2#1>10.0.1.1:10000#0");
    mpx_pm_conn_free(&c);
}

/* mptcp_join.sh "deny_join_id0" category: the peer set C in MP_CAPABLE. */
MPX_TEST(mptcp_pm_deny_join_id0)
{
    static const struct {
        const char *name;
        int add_addr, subflows;
        bool fullmesh;
        const char *want_est, *want_add;
    } rows[] = {
        /* "single subflow with C flag": limits 1 1, endpoint unused */
        {"single subflow", 1, 1, false, "",
         "echo 10.0.2.1#1; create sf=1 0.0.0.0#0>10.0.2.1:10000#1"},
        /* "multiple subflows with C flag": one join, to the announced address */
        {"multiple subflows", 2, 2, false, "",
         "echo 10.0.2.1#1; create sf=1 0.0.0.0#0>10.0.2.1:10000#1"},
        /* default add_addr_accepted 0: the subflow endpoint is used towards
         * the first ADD_ADDR instead (pm_kernel.c c_flag case) */
        {"C flag case", 0, 2, false, "",
         "echo 10.0.2.1#1; create sf=1 10.0.3.2#1>10.0.2.1:10000#1"},
        /* fullmesh never joins remote id 0 */
        {"fullmesh", 1, 2, true, "", "echo 10.0.2.1#1; create sf=1 10.0.3.2#1>10.0.2.1:10000#1"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct mpx_pm_cfg cfg;
        struct mpx_pm_conn c;
        limits(&cfg, rows[i].add_addr, rows[i].subflows);
        add(&cfg, "10.0.3.2", SUB | (rows[i].fullmesh ? FM : 0), 0, 0);
        client(&c, &cfg, true);
        mpx_pm_on_fully_established(&c, SEC);
        const char *got = drain(&c);
        if (strcmp(got, rows[i].want_est) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s est: got \"%s\"", rows[i].name, got);
        struct mpx_pm_addr a = pa("10.0.2.1", 0, 1);
        mpx_pm_on_add_addr(&c, &a, SEC);
        got = drain(&c);
        if (strcmp(got, rows[i].want_add) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s add: got \"%s\" want \"%s\"", rows[i].name, got,
                          rows[i].want_add);
        mpx_pm_conn_free(&c);
    }
}

/* mptcp_join.sh "ipv6", "v4mapped", "mixed": which pairs a socket allows. */
MPX_TEST(mptcp_pm_families)
{
    static const struct {
        const char *name, *loc, *rem;
        uint8_t sock_family;
        bool v6only;
        const char *endp, *ann, *want;
    } rows[] = {
        {"v4: v6 endpoint unused", "10.0.1.2", "10.0.1.1", 0, false, "dead:beef:3::2", NULL, ""},
        {"v6 subflow", "dead:beef:1::2", "dead:beef:1::1", 0, false, "dead:beef:3::2", NULL,
         "create sf=1 dead:beef:3::2#1>dead:beef:1::1:10000#0"},
        {"v6: v4 endpoint unused", "dead:beef:1::2", "dead:beef:1::1", 0, false, "10.0.3.2", NULL,
         ""},
        {"v6 socket, v4 ADD_ADDR (mixed)", "dead:beef:1::2", "dead:beef:1::1", 0, false, NULL,
         "10.0.2.1", "echo 10.0.2.1#1; create sf=1 0.0.0.0#0>10.0.2.1:10000#1"},
        {"v6only socket, v4 ADD_ADDR", "dead:beef:1::2", "dead:beef:1::1", 0, true, NULL,
         "10.0.2.1", "echo 10.0.2.1#1"},
        {"v4 socket, v6 ADD_ADDR", "10.0.1.2", "10.0.1.1", 0, false, NULL, "dead:beef:2::1",
         "echo dead:beef:2::1#1"},
        {"v4-mapped initial, v4 endpoint", "::ffff:10.0.1.2", "::ffff:10.0.1.1", MPX_AF_INET6,
         false, "10.0.3.2", NULL, "create sf=1 10.0.3.2#1>::ffff:10.0.1.1:10000#0"},
        {"v6 socket, v6 ADD_ADDR", "dead:beef:1::2", "dead:beef:1::1", 0, false, NULL,
         "dead:beef:2::1", "echo dead:beef:2::1#1; create sf=1 ::#0>dead:beef:2::1:10000#1"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct mpx_pm_cfg cfg;
        struct mpx_pm_conn c;
        struct mpx_pm_conn_params p;
        limits(&cfg, 1, 2);
        if (rows[i].endp)
            add(&cfg, rows[i].endp, SUB, 0, 0);
        memset(&p, 0, sizeof(p));
        p.local = pa(rows[i].loc, 40000, 0);
        p.remote = pa(rows[i].rem, 10000, 0);
        p.sock_family = rows[i].sock_family;
        p.v6only = rows[i].v6only;
        REQUIRE(mpx_pm_conn_init(&c, &cfg, &p) == 0);
        mpx_pm_on_fully_established(&c, SEC);
        if (rows[i].ann) {
            struct mpx_pm_addr a = pa(rows[i].ann, 0, 1);
            mpx_pm_on_add_addr(&c, &a, SEC);
        }
        const char *got = drain(&c);
        if (strcmp(got, rows[i].want) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s: got \"%s\" want \"%s\"", rows[i].name, got,
                          rows[i].want);
        mpx_pm_conn_free(&c);
    }
}

/* Ours (issue 4): a subflow lost to an error is opened again after a
 * backoff, at once when its path comes back, never while it is down. */
MPX_TEST(mptcp_pm_recreate_after_error)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_addr a2 = ip("10.0.2.2");
    limits(&cfg, 0, 2);
    add(&cfg, "10.0.2.2", SUB, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "create sf=1 10.0.2.2#1>10.0.1.1:10000#0");
    mpx_pm_on_subflow_established(&c, 1, NULL, 2 * SEC);
    mpx_pm_on_subflow_closed(&c, 1, MPX_PM_CLOSE_ERROR, 10 * SEC);
    CHECK_STR(drain(&c), "");
    CHECK_EQ(mpx_pm_next_deadline(&c), 11 * SEC); /* 1 s backoff */
    mpx_pm_on_timer(&c, 11 * SEC - 1);
    CHECK_STR(drain(&c), "");
    mpx_pm_on_timer(&c, 11 * SEC);
    CHECK_STR(drain(&c), "create sf=2 10.0.2.2#1>10.0.1.1:10000#0");
    CHECK_EQ(c.mib.PMSubflowRetry, 1);
    /* fails again before establishing: backoff doubles */
    mpx_pm_on_subflow_closed(&c, 2, MPX_PM_CLOSE_ERROR, 12 * SEC);
    CHECK_EQ(mpx_pm_next_deadline(&c), 14 * SEC);
    mpx_pm_on_timer(&c, 14 * SEC);
    CHECK_STR(drain(&c), "create sf=3 10.0.2.2#1>10.0.1.1:10000#0");
    mpx_pm_on_subflow_closed(&c, 3, MPX_PM_CLOSE_ERROR, 15 * SEC);
    CHECK_EQ(mpx_pm_next_deadline(&c), 19 * SEC);
    /* the path goes down: no retry until it comes back */
    mpx_pm_on_path(&c, &a2, 0, false, 16 * SEC);
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE);
    mpx_pm_on_timer(&c, 100 * SEC);
    CHECK_STR(drain(&c), "");
    mpx_pm_on_path(&c, &a2, 0, true, 200 * SEC);
    CHECK_STR(drain(&c), "create sf=4 10.0.2.2#1>10.0.1.1:10000#0");
    /* established resets the backoff */
    mpx_pm_on_subflow_established(&c, 4, NULL, 201 * SEC);
    mpx_pm_on_subflow_closed(&c, 4, MPX_PM_CLOSE_ERROR, 300 * SEC);
    CHECK_EQ(mpx_pm_next_deadline(&c), 301 * SEC);
    /* endpoint deleted meanwhile: forgotten */
    struct mpx_pm_endpoint out;
    REQUIRE(mpx_pm_endpoint_del(&cfg, 1, &out) == 0);
    mpx_pm_on_endp_removed(&c, &out, 300 * SEC);
    CHECK_STR(drain(&c), "");
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE);
    mpx_pm_conn_free(&c);
}

MPX_TEST(mptcp_pm_recreate_reasons)
{
    static const struct {
        enum mpx_pm_close_reason why;
        bool server;
        uint32_t sf;
        uint64_t deadline;
    } rows[] = {
        {MPX_PM_CLOSE_LOCAL, false, 1, MPX_PM_NO_DEADLINE},
        {MPX_PM_CLOSE_PEER, false, 1, MPX_PM_NO_DEADLINE},
        {MPX_PM_CLOSE_REJECTED, false, 1, MPX_PM_NO_DEADLINE},
        {MPX_PM_CLOSE_ERROR, false, 1, 11 * SEC},
        {MPX_PM_CLOSE_NOROUTE, false, 1, MPX_PM_NO_DEADLINE}, /* waits for path up */
        {MPX_PM_CLOSE_ERROR, false, 0, 11 * SEC},             /* initial, client side */
        {MPX_PM_CLOSE_ERROR, true, 0, MPX_PM_NO_DEADLINE},    /* initial, server side */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct mpx_pm_cfg cfg;
        struct mpx_pm_conn c;
        limits(&cfg, 0, 2);
        add(&cfg, "10.0.2.2", SUB, 0, 0);
        if (rows[i].server)
            server(&c, &cfg);
        else
            client(&c, &cfg, false);
        mpx_pm_on_fully_established(&c, SEC);
        drain(&c);
        mpx_pm_on_subflow_closed(&c, rows[i].sf, rows[i].why, 10 * SEC);
        CHECK_STR(drain(&c), "");
        if (mpx_pm_next_deadline(&c) != rows[i].deadline)
            mpx_test_fail(__FILE__, __LINE__, "row %zu: deadline %llu", i,
                          (unsigned long long)mpx_pm_next_deadline(&c));
        mpx_pm_conn_free(&c);
    }
    /* NOROUTE then the interface comes up: at once */
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    limits(&cfg, 0, 2);
    struct mpx_pm_endpoint e = ep("10.0.2.2", SUB, 0, 0);
    e.ifindex = 7;
    REQUIRE(mpx_pm_endpoint_add(&cfg, &e) == 1);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "create sf=1 10.0.2.2#1>10.0.1.1:10000#0 if=7");
    mpx_pm_on_subflow_closed(&c, 1, MPX_PM_CLOSE_NOROUTE, 2 * SEC);
    mpx_pm_on_path(&c, NULL, 6, true, 3 * SEC);
    CHECK_STR(drain(&c), "");
    mpx_pm_on_path(&c, NULL, 7, true, 4 * SEC);
    CHECK_STR(drain(&c), "create sf=2 10.0.2.2#1>10.0.1.1:10000#0 if=7");
    /* the initial subflow lost on the client: rejoined from id 0 */
    mpx_pm_on_subflow_closed(&c, 0, MPX_PM_CLOSE_ERROR, 5 * SEC);
    mpx_pm_on_timer(&c, 6 * SEC);
    CHECK_STR(drain(&c), "create sf=3 10.0.1.2#0>10.0.1.1:10000#0");
    mpx_pm_conn_free(&c);
}

/* Retries respect the subflows limit and never duplicate a pair. */
MPX_TEST(mptcp_pm_recreate_limits)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    limits(&cfg, 1, 1);
    add(&cfg, "10.0.2.2", SUB, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "create sf=1 10.0.2.2#1>10.0.1.1:10000#0");
    mpx_pm_on_subflow_closed(&c, 1, MPX_PM_CLOSE_ERROR, 2 * SEC);
    /* meanwhile an ADD_ADDR takes the only slot */
    struct mpx_pm_addr a = pa("10.0.3.1", 0, 1);
    mpx_pm_on_add_addr(&c, &a, 2 * SEC);
    CHECK_STR(drain(&c), "echo 10.0.3.1#1; create sf=2 0.0.0.0#0>10.0.3.1:10000#1");
    mpx_pm_on_timer(&c, 3 * SEC);
    CHECK_STR(drain(&c), "");
    CHECK_EQ(mpx_pm_next_deadline(&c), 4 * SEC); /* tried later */
    mpx_pm_on_subflow_closed(&c, 2, MPX_PM_CLOSE_PEER, 3 * SEC + 1);
    mpx_pm_on_timer(&c, 4 * SEC);
    CHECK_STR(drain(&c), "create sf=3 10.0.2.2#1>10.0.1.1:10000#0");
    CHECK_INT(c.extra_subflows, 1);
    /* a userspace command cannot duplicate a live pair either */
    struct mpx_pm_addr l = pa("10.0.2.2", 0, 1), r = pa("10.0.1.1", 10000, 0);
    CHECK_INT(mpx_pm_cmd_subflow_create(&c, &l, &r, false), MPX_ERR_EXIST);
    CHECK_INT(c.extra_subflows, 1);
    mpx_pm_conn_free(&c);
}

/* Incoming MP_JOINs against the subflows limit (MPJoinRejected). */
MPX_TEST(mptcp_pm_join_request_limit)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_join_reply jr;
    limits(&cfg, 0, 1);
    add(&cfg, "10.0.2.1", SIG | BKP, 0, 0);
    server(&c, &cfg);
    struct mpx_pm_addr l1 = pa("10.0.2.1", 10000, 0), l2 = pa("10.0.3.1", 10000, 0);
    struct mpx_pm_addr r = pa("10.0.1.2", 40001, 0);
    REQUIRE(mpx_pm_on_join_request(&c, &l1, &r, true, &jr) == 0);
    CHECK_INT(jr.local_id, 1);
    CHECK_INT(jr.backup, 1);
    CHECK(c.sf[1].remote_backup);
    CHECK_INT(mpx_pm_on_join_request(&c, &l2, &r, false, &jr), MPX_ERR_REFUSED);
    CHECK_EQ(c.mib.MPJoinRejected, 1);
    mpx_pm_on_subflow_closed(&c, 1, MPX_PM_CLOSE_PEER, SEC);
    REQUIRE(mpx_pm_on_join_request(&c, &l2, &r, false, &jr) == 0);
    CHECK_INT(jr.sf, 2);
    CHECK_INT(jr.local_id, 2); /* implicit endpoint */
    CHECK_INT(mpx_pm_endpoint_get(&cfg, 2)->flags, MPX_PM_F_IMPLICIT);
    /* an explicit add of that address takes the implicit endpoint's id */
    CHECK_INT(add(&cfg, "10.0.3.1", SUB, 7, 0), MPX_ERR_INVAL);
    CHECK_INT(add(&cfg, "10.0.3.1", SUB, 0, 0), 2);
    CHECK_INT(mpx_pm_endpoint_get(&cfg, 2)->flags, SUB);
    mpx_pm_conn_free(&c);

    limits(&cfg, 0, 0); /* subflows 0: nothing joins */
    server(&c, &cfg);
    CHECK_INT(mpx_pm_on_join_request(&c, &l1, &r, false, &jr), MPX_ERR_REFUSED);
    mpx_pm_conn_free(&c);
}

/* Userspace-PM-like commands (userspace_pm.sh). */
MPX_TEST(mptcp_pm_userspace_commands)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    limits(&cfg, 0, 0); /* limits do not apply to commands */
    client(&c, &cfg, false);
    struct mpx_pm_addr l = pa("10.0.2.2", 0, 5), r = pa("10.0.1.1", 10000, 0);
    CHECK_INT(mpx_pm_cmd_announce(&c, &l, SEC), 0);
    CHECK_STR(drain(&c), "ann 10.0.2.2#5");
    CHECK_EQ(mpx_pm_next_deadline(&c), 121 * SEC);
    CHECK_INT(mpx_pm_cmd_announce(&c, &l, 2 * SEC), 0); /* again: re-armed */
    CHECK_STR(drain(&c), "ann 10.0.2.2#5");
    CHECK_EQ(mpx_pm_next_deadline(&c), 122 * SEC);
    int64_t sf = mpx_pm_cmd_subflow_create(&c, &l, &r, true);
    CHECK_INT(sf, 1);
    CHECK_STR(drain(&c), "create sf=1 10.0.2.2#5>10.0.1.1:10000#0 bk");
    struct mpx_addr la = ip("10.0.2.2"), none = ip("10.9.9.9");
    CHECK_INT(mpx_pm_cmd_set_backup(&c, &la, NULL, false), 0);
    CHECK_STR(drain(&c), "prio sf=1 bk=0");
    CHECK_INT(mpx_pm_cmd_set_backup(&c, &none, NULL, false), MPX_ERR_NOENT);
    CHECK_INT(mpx_pm_cmd_remove(&c, 5, 3 * SEC), 0);
    CHECK_STR(drain(&c), "rm 5; close sf=1");
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE);
    CHECK_INT(mpx_pm_cmd_remove(&c, 5, 3 * SEC), MPX_ERR_NOENT);
    sf = mpx_pm_cmd_subflow_create(&c, &l, &r, false);
    CHECK_INT(sf, 2);
    CHECK_INT(mpx_pm_cmd_subflow_destroy(&c, 2, 4 * SEC), 0);
    CHECK_STR(drain(&c), "create sf=2 10.0.2.2#5>10.0.1.1:10000#0; close sf=2");
    CHECK_INT(mpx_pm_cmd_subflow_destroy(&c, 2, 4 * SEC), MPX_ERR_NOENT);
    struct mpx_pm_addr bad;
    memset(&bad, 0, sizeof(bad));
    CHECK_INT(mpx_pm_cmd_subflow_create(&c, &l, &bad, false), MPX_ERR_INVAL);
    mpx_pm_conn_free(&c);
}

/* Many actions at once grow the queue; nothing is lost. */
MPX_TEST(mptcp_pm_action_queue_growth)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_action a;
    limits(&cfg, 0, 0);
    client(&c, &cfg, false);
    for (int i = 0; i < 100; i++) {
        struct mpx_pm_addr r = pa("10.0.7.1", (uint16_t)(1000 + i), 0);
        mpx_pm_on_add_addr(&c, &r, SEC);
        if (i == 50) { /* drain part of it midway */
            REQUIRE(mpx_pm_next_action(&c, &a));
            CHECK_INT(a.remote.port, 1000);
        }
    }
    int n = 0;
    while (mpx_pm_next_action(&c, &a))
        n++;
    CHECK_INT(n, 99);
    CHECK_INT(a.remote.port, 1099);
    mpx_pm_conn_free(&c);
}

/* mptcp_join.sh "laminar_endp" (6.18): one laminar endpoint per ADD_ADDR. */
MPX_TEST(mptcp_pm_laminar)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    char buf[64];
    limits(&cfg, 3, 3);
    CHECK_INT(add(&cfg, "10.0.2.2", MPX_PM_F_LAMINAR, 0, 0), 1);
    CHECK_INT(add(&cfg, "dead:beef:3::2", MPX_PM_F_LAMINAR, 0, 0), 2);
    CHECK_INT(add(&cfg, "10.0.3.2", MPX_PM_F_LAMINAR, 0, 0), 3);
    CHECK_INT(cfg.endp_laminar_max, 3);
    mpx_pm_endpoint_fmt(mpx_pm_endpoint_get(&cfg, 1), buf, sizeof(buf));
    CHECK_STR(buf, "10.0.2.2 id 1 laminar ");
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), ""); /* laminar alone opens nothing by itself */
    struct mpx_pm_addr a1 = pa("10.0.2.1", 0, 1), a2 = pa("10.0.3.1", 0, 2),
                       a3 = pa("10.0.4.1", 0, 3);
    mpx_pm_on_add_addr(&c, &a1, SEC);
    CHECK_STR(drain(&c), "echo 10.0.2.1#1; create sf=1 10.0.2.2#1>10.0.2.1:10000#1");
    mpx_pm_on_add_addr(&c, &a2, SEC);
    CHECK_STR(drain(&c), "echo 10.0.3.1#2; create sf=2 10.0.3.2#3>10.0.3.1:10000#2");
    mpx_pm_on_add_addr(&c, &a3, SEC); /* none left of that family: no "any" fallback */
    CHECK_STR(drain(&c), "echo 10.0.4.1#3");
    /* a laminar endpoint is free again once its subflow is gone */
    mpx_pm_on_subflow_closed(&c, 1, MPX_PM_CLOSE_PEER, 2 * SEC);
    mpx_pm_on_add_addr(&c, &a3, 3 * SEC);
    CHECK_STR(drain(&c), "echo 10.0.4.1#3; create sf=3 10.0.2.2#1>10.0.4.1:10000#3");
    struct mpx_pm_endpoint all[8];
    mpx_pm_endpoint_flush(&cfg, all, 8);
    CHECK_INT(cfg.endp_laminar_max, 0);
    mpx_pm_conn_free(&c);
}

/* net.mptcp.path_manager=userspace: nothing automatic. */
MPX_TEST(mptcp_pm_userspace_mode)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_pm_join_reply jr;
    limits(&cfg, 2, 1);
    add(&cfg, "10.0.2.2", SUB, 0, 0);
    add(&cfg, "10.0.3.2", SIG, 0, 0);
    cfg.pm_type = MPX_PM_TYPE_USERSPACE;
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "");
    struct mpx_pm_addr a = pa("10.0.2.1", 0, 1);
    mpx_pm_on_add_addr(&c, &a, SEC);
    CHECK_STR(drain(&c), "echo 10.0.2.1#1");
    add(&cfg, "10.0.4.2", SUB, 0, 0);
    mpx_pm_on_endp_added(&c, mpx_pm_endpoint_get(&cfg, 3), SEC);
    CHECK_STR(drain(&c), "");
    struct mpx_pm_addr l = pa("10.0.1.2", 40000, 0), r = pa("10.0.1.1", 40001, 3);
    REQUIRE(mpx_pm_on_join_request(&c, &l, &r, false, &jr) == 0);
    REQUIRE(mpx_pm_on_join_request(&c, &l, &r, false, &jr) == 0); /* beyond the limit */
    CHECK_INT(c.extra_subflows, 2);
    mpx_pm_on_subflow_closed(&c, jr.sf, MPX_PM_CLOSE_ERROR, 2 * SEC);
    CHECK_STR(drain(&c), "");
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE); /* no retry either */
    const uint8_t ids[] = {3};
    mpx_pm_on_rm_addr(&c, ids, 1, 3 * SEC);
    CHECK_STR(drain(&c), "close sf=1");
    mpx_pm_conn_free(&c);
}

/* Path notifications are idempotent and keyed by interface or address. */
MPX_TEST(mptcp_pm_path_events)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    struct mpx_addr a2 = ip("10.0.2.2"), a3 = ip("10.0.3.2");
    limits(&cfg, 0, 2);
    add(&cfg, "10.0.2.2", SUB, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_path(&c, &a2, 0, false, SEC); /* down before anything happened */
    mpx_pm_on_path(&c, &a2, 0, false, SEC);
    mpx_pm_on_path(&c, NULL, 0, false, SEC); /* no key: ignored */
    int used = 0;
    for (int i = 0; i < MPX_PM_DOWN_MAX; i++)
        used += c.down[i].used;
    CHECK_INT(used, 1);
    mpx_pm_on_fully_established(&c, 2 * SEC);
    CHECK_STR(drain(&c), "create sf=1 10.0.2.2#1>10.0.1.1:10000#0");
    /* fails while its path is known down: waits for the path */
    mpx_pm_on_subflow_closed(&c, 1, MPX_PM_CLOSE_ERROR, 3 * SEC);
    CHECK_EQ(mpx_pm_next_deadline(&c), MPX_PM_NO_DEADLINE);
    mpx_pm_on_path(&c, &a3, 0, true, 4 * SEC); /* another path */
    CHECK_STR(drain(&c), "");
    mpx_pm_on_path(&c, &a2, 0, true, 5 * SEC);
    CHECK_STR(drain(&c), "create sf=2 10.0.2.2#1>10.0.1.1:10000#0");
    used = 0;
    for (int i = 0; i < MPX_PM_DOWN_MAX; i++)
        used += c.down[i].used;
    CHECK_INT(used, 0);
    mpx_pm_conn_free(&c);
}

/* Sequences observed on Linux 6.18 (two netns, three veth links, kernel PM
 * on both sides; see the report of the PM work): same subflows here. */
MPX_TEST(mptcp_pm_kernel_observed_sequences)
{
    struct mpx_pm_cfg cfg;
    struct mpx_pm_conn c;
    uint8_t ch;
    struct mpx_pm_addr a21 = pa("10.0.2.1", 0, 1), a31 = pa("10.0.3.1", 0, 1);

    /* client limits 4/1, 10.0.2.2 fullmesh: joins 10.0.2.2->10.0.1.1 and
     * ->10.0.2.1 after ADD_ADDR 10.0.2.1; then "change id 1 backup" (which
     * clears fullmesh): 2 closed (RmSubflow 2), 1 backup join to 10.0.1.1. */
    limits(&cfg, 1, 4);
    add(&cfg, "10.0.2.2", SUB | FM, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    mpx_pm_on_add_addr(&c, &a21, SEC);
    CHECK_STR(drain(&c), "create sf=1 10.0.2.2#1>10.0.1.1:10000#0; echo 10.0.2.1#1; "
                         "create sf=2 10.0.2.2#1>10.0.2.1:10000#1");
    REQUIRE(mpx_pm_endpoint_change(&cfg, 1, NULL, BKP, &ch) == 0);
    mpx_pm_on_endp_changed(&c, mpx_pm_endpoint_get(&cfg, 1), ch, 2 * SEC);
    CHECK_STR(drain(&c), "close sf=1; close sf=2; create sf=3 10.0.2.2#1>10.0.1.1:10000#0 bk");
    CHECK_EQ(c.mib.RmSubflow, 2);
    mpx_pm_conn_free(&c);

    /* client limits 1/1, fullmesh endpoint, ADD_ADDR before the connection
     * is fully established: one join, 10.0.2.2->10.0.3.1. */
    limits(&cfg, 1, 1);
    add(&cfg, "10.0.2.2", SUB | FM, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_add_addr(&c, &a31, SEC);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "echo 10.0.3.1#1; create sf=1 10.0.2.2#1>10.0.3.1:10000#1");
    mpx_pm_conn_free(&c);

    /* C flag (server allow_join_initial_addr_port=0), client default
     * limits, subflow endpoint 10.0.3.2, server signal 10.0.2.1: one join
     * 10.0.3.2->10.0.2.1. */
    limits(&cfg, 0, 2);
    add(&cfg, "10.0.3.2", SUB, 0, 0);
    client(&c, &cfg, true);
    mpx_pm_on_fully_established(&c, SEC);
    mpx_pm_on_add_addr(&c, &a21, SEC);
    CHECK_STR(drain(&c), "echo 10.0.2.1#1; create sf=1 10.0.3.2#1>10.0.2.1:10000#1");
    mpx_pm_conn_free(&c);

    /* client limits 2/0, endpoints "10.0.1.2 subflow backup" (the initial
     * address) and "10.0.3.2 subflow", then "endpoint del id 2": MPPrioTx 1,
     * one join, RmAddrTx 1, RmSubflow 1. */
    struct mpx_pm_endpoint out;
    limits(&cfg, 0, 2);
    add(&cfg, "10.0.1.2", SUB | BKP, 0, 0);
    add(&cfg, "10.0.3.2", SUB, 0, 0);
    client(&c, &cfg, false);
    mpx_pm_on_fully_established(&c, SEC);
    CHECK_STR(drain(&c), "prio sf=0 bk=1; create sf=1 10.0.3.2#2>10.0.1.1:10000#0");
    REQUIRE(mpx_pm_endpoint_del(&cfg, 2, &out) == 0);
    mpx_pm_on_endp_removed(&c, &out, 2 * SEC);
    CHECK_STR(drain(&c), "rm 2; close sf=1");
    CHECK_EQ(c.mib.MPPrioTx, 1);
    CHECK_EQ(c.mib.RmAddrTx, 1);
    CHECK_EQ(c.mib.RmSubflow, 1);
    mpx_pm_conn_free(&c);
}
