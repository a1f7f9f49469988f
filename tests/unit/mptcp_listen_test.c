/*
 * mptcp_listen_test.c - listeners: withdrawal (mpx_stack_unlisten) and the
 * per-listener external-key policy (mpx_stack_listen_ext, DESIGN decision
 * 5), on two stacks wired back to back.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mpx_test.h"
#include "mptcp_b2b.h"

/* Server port 81 has its own listener in these tests. */
#define LPORT 81

struct lt {
    struct b2b b;
    int mpc_from_server;      /* MP_CAPABLE options the server sent */
    int mpc_e_from_server;    /* ... of them in E form (flag E, 0x08) */
    int mpc_from_client;      /* MP_CAPABLE options the client sent */
    int key_bytes_server;     /* MP_CAPABLE carrying a 64-bit key (12/20/22/24) */
    enum mpx_ext_policy host; /* both stacks' default policy */
};

static void lt_cfg(int k, struct mpx_stack_config *cfg, void *arg)
{
    (void)k;
    cfg->ext_policy = ((struct lt *)arg)->host;
}

/* Counts the MP_CAPABLE options of each side from the raw bytes. */
static size_t lt_hook(struct b2b *b, int from, uint8_t *p, size_t len)
{
    struct lt *t = (struct lt *)b;
    if (len < 40 || (p[0] >> 4) != 4)
        return len;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4, doff = (size_t)(p[ihl + 12] >> 4) * 4;
    const uint8_t *o = p + ihl;
    for (size_t i = 20; i + 1 < doff && ihl + doff <= len;) {
        if (o[i] == 0)
            break;
        if (o[i] == 1 || o[i + 1] < 2) {
            i++;
            continue;
        }
        if (o[i] == 30 && o[i + 1] >= 4 && (o[i + 2] >> 4) == 0) {
            if (from == 1) {
                t->mpc_from_server++;
                t->mpc_e_from_server += (o[i + 3] & 0x08) != 0;
                t->key_bytes_server += !(o[i + 3] & 0x08) && o[i + 1] >= 12;
            } else {
                t->mpc_from_client++;
            }
        }
        i += o[i + 1];
    }
    return len;
}

static struct lt *lt_new(uint64_t seed, enum mpx_ext_policy host)
{
    struct lt *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->host = host;
    b2b_init(&t->b, seed, lt_cfg, t);
    t->b.mangle = lt_hook;
    return t;
}

static void lt_free(struct lt *t)
{
    b2b_free(&t->b);
    free(t);
}

/* Connect the client to LPORT with |policy|; run 1 s. */
static long lt_connect(struct lt *t, enum mpx_ext_policy policy)
{
    long cid = mpx_stack_connect_ext(t->b.st[0], NULL, &t->b.addr[1][0], LPORT, policy, t->b.now);
    if (cid > 0)
        b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    return cid;
}

/* 2000 bytes client -> server arrive intact. */
static bool lt_xfer(struct lt *t, long cid, long sid)
{
    uint8_t out[2000], in[4000];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 13 + 5);
    if (mpx_conn_send(t->b.st[0], (uint32_t)cid, out, sizeof(out), t->b.now) != sizeof(out))
        return false;
    b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    return mpx_conn_recv(t->b.st[1], (uint32_t)sid, in, sizeof(in), t->b.now) ==
               (long)sizeof(out) &&
           memcmp(in, out, sizeof(out)) == 0;
}

/* After unlisten a SYN is refused (RST: the client's connect fails with
 * MPX_ERR_REFUSED); a connection accepted before keeps working. */
MPX_TEST(mptcp_listen_unlisten_refuses_new_keeps_old)
{
    struct lt *t = lt_new(71, MPX_EXT_NEVER);
    REQUIRE(t);
    CHECK_INT(mpx_stack_listen(t->b.st[1], LPORT), 0);
    CHECK_INT(mpx_stack_listen(t->b.st[1], LPORT), MPX_ERR_EXIST);
    long cid = lt_connect(t, MPX_EXT_NEVER);
    long sid = mpx_stack_accept(t->b.st[1], LPORT);
    REQUIRE(cid > 0 && sid > 0);
    CHECK_INT(mpx_stack_unlisten(t->b.st[1], LPORT), 0);
    CHECK_INT(mpx_stack_unlisten(t->b.st[1], LPORT), MPX_ERR_NOENT);
    long cid2 = lt_connect(t, MPX_EXT_NEVER);
    REQUIRE(cid2 > 0);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(t->b.st[0], (uint32_t)cid2, &ci) == 0);
    CHECK(!ci.established);
    CHECK_INT(ci.error, MPX_ERR_REFUSED);
    CHECK(mpx_stack_accept(t->b.st[1], LPORT) <= 0);
    CHECK(lt_xfer(t, cid, sid)); /* the old one is untouched */
    /* the other listeners stay (port 80 from the harness) */
    long cid3 = mpx_stack_connect(t->b.st[0], NULL, &t->b.addr[1][0], 80, t->b.now);
    b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    CHECK(cid3 > 0 && mpx_stack_accept(t->b.st[1], 80) > 0);
    lt_free(t);
}

/* A require listener answers an RFC 8684 SYN without MP_CAPABLE: no key
 * of the server crosses the wire, the connection is plain TCP; an E SYN
 * is answered in E form. The host's own policy (never) does not matter. */
MPX_TEST(mptcp_listen_require_answers_plain)
{
    struct lt *t = lt_new(72, MPX_EXT_NEVER);
    REQUIRE(t);
    CHECK_INT(mpx_stack_listen_ext(t->b.st[1], LPORT, (enum mpx_ext_policy)9), MPX_ERR_INVAL);
    CHECK_INT(mpx_stack_listen_ext(t->b.st[1], LPORT, MPX_EXT_REQUIRE), 0);
    long cid = lt_connect(t, MPX_EXT_NEVER);
    long sid = mpx_stack_accept(t->b.st[1], LPORT);
    REQUIRE(cid > 0 && sid > 0);
    CHECK(lt_xfer(t, cid, sid));
    CHECK(t->mpc_from_client > 0);
    CHECK_INT(t->mpc_from_server, 0);
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(t->b.st[0], (uint32_t)cid, &ci) == 0);
    REQUIRE(mpx_conn_get_info(t->b.st[1], (uint32_t)sid, &si) == 0);
    CHECK(ci.fallback && si.fallback && !si.mptcp);
    CHECK_EQ(mpx_stack_mib(t->b.st[1])->MPExtKeyRequirePlain, 1);
    /* an E SYN to the same listener: E form, no key in clear */
    t->mpc_from_server = 0;
    cid = lt_connect(t, MPX_EXT_PREFER);
    sid = mpx_stack_accept(t->b.st[1], LPORT);
    REQUIRE(cid > 0 && sid > 0);
    REQUIRE(mpx_conn_get_info(t->b.st[1], (uint32_t)sid, &si) == 0);
    CHECK(si.mptcp && si.ext_keys);
    CHECK(t->mpc_e_from_server > 0);
    CHECK_INT(t->key_bytes_server, 0);
    lt_free(t);
}

/* Per listener beats the host default both ways: a never listener on a
 * prefer host answers an E SYN in RFC 8684 form (the client, prefer, goes
 * on with RFC 8684 keys); a prefer listener on a never host answers it in
 * E form. */
MPX_TEST(mptcp_listen_policy_per_listener)
{
    static const struct {
        enum mpx_ext_policy host, listener;
        bool e_mode;
    } rows[] = {
        {MPX_EXT_PREFER, MPX_EXT_NEVER, false},
        {MPX_EXT_NEVER, MPX_EXT_PREFER, true},
        {MPX_EXT_PREFER, MPX_EXT_PREFER, true},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        struct lt *t = lt_new(80 + r, rows[r].host);
        REQUIRE(t);
        CHECK_INT(mpx_stack_listen_ext(t->b.st[1], LPORT, rows[r].listener), 0);
        long cid = lt_connect(t, MPX_EXT_PREFER);
        long sid = mpx_stack_accept(t->b.st[1], LPORT);
        REQUIRE(cid > 0 && sid > 0);
        struct mpx_conn_info ci, si;
        REQUIRE(mpx_conn_get_info(t->b.st[0], (uint32_t)cid, &ci) == 0);
        REQUIRE(mpx_conn_get_info(t->b.st[1], (uint32_t)sid, &si) == 0);
        CHECK(ci.mptcp && si.mptcp);
        CHECK_INT(si.ext_keys, rows[r].e_mode);
        CHECK_INT(ci.ext_keys, rows[r].e_mode);
        CHECK_INT(t->mpc_e_from_server > 0, rows[r].e_mode);
        CHECK(lt_xfer(t, cid, sid));
        lt_free(t);
    }
}

/* --- listeners on one address (mpx_stack_listen_addr) -------------------- */

static struct mpx_addr v6(uint8_t last)
{
    struct mpx_addr a = {.family = MPX_AF_INET6,
                         .a = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last}};
    return a;
}

static struct mpx_addr any_of(uint8_t family)
{
    struct mpx_addr a = {.family = family};
    return a;
}

/* Connect the client to dst:port from |src|; run 1 s; the client's
 * connection id (its info says whether it was refused). */
static long lt_connect_to(struct lt *t, const struct mpx_addr *src, const struct mpx_addr *dst,
                          uint16_t port)
{
    long cid = mpx_stack_connect(t->b.st[0], src, dst, port, t->b.now);
    if (cid > 0)
        b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    return cid;
}

static bool lt_refused(struct lt *t, long cid)
{
    struct mpx_conn_info ci;
    return cid > 0 && mpx_conn_get_info(t->b.st[0], (uint32_t)cid, &ci) == 0 && !ci.established &&
           ci.error == MPX_ERR_REFUSED;
}

/* Which listener a SYN reaches, as Linux scores them: the exact address,
 * then the wildcard of the packet's family, then [::] dual stack or an
 * every-address listener; no match at all: RST. Each row sets up its
 * listeners on port 90 (all SO_REUSEPORT so that they may overlap) and
 * names the one (index into |ls|, -1 = refused) each destination gets. */
MPX_TEST(mptcp_listen_addr_lookup_order)
{
    enum { V4A, V4B, V6A, V6B, NDST };
    struct mpx_addr dst[NDST];
    struct lt *t0 = lt_new(90, MPX_EXT_NEVER);
    REQUIRE(t0);
    dst[V4A] = t0->b.addr[1][0];
    dst[V4B] = t0->b.addr[1][1];
    dst[V6A] = v6(2);
    dst[V6B] = v6(3);
    lt_free(t0);
    const struct mpx_addr none = any_of(MPX_AF_NONE), any4 = any_of(MPX_AF_INET),
                          any6 = any_of(MPX_AF_INET6);
    static const uint32_t RP = MPX_LISTEN_REUSEPORT, V6O = MPX_LISTEN_V6ONLY;
    const struct {
        int n;
        struct {
            const struct mpx_addr *a;
            uint32_t flags;
        } ls[3];
        int want[NDST];
    } rows[] = {
        /* one specific address: only it */
        {1, {{&dst[V4B], RP}}, {-1, 0, -1, -1}},
        {1, {{&dst[V6A], RP}}, {-1, -1, 0, -1}},
        /* specific beats the v4 wildcard, which takes the other v4 */
        {2, {{&any4, RP}, {&dst[V4B], RP}}, {0, 1, -1, -1}},
        {2, {{&dst[V4B], RP}, {&any4, RP}}, {1, 0, -1, -1}},
        /* [::] dual stack takes IPv4 too; 0.0.0.0 beats it for IPv4 */
        {1, {{&any6, RP}}, {0, 0, 0, 0}},
        {2, {{&any6, RP}, {&any4, RP}}, {1, 1, 0, 0}},
        /* [::] V6ONLY: IPv6 only */
        {1, {{&any6, RP | V6O}}, {-1, -1, 0, 0}},
        /* every address (mpx_stack_listen): last resort */
        {3, {{&none, RP}, {&dst[V6B], RP}, {&any4, RP}}, {2, 2, 0, 1}},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        for (int d = 0; d < NDST; d++) {
            struct lt *t = lt_new(91 + r * 8 + (size_t)d, MPX_EXT_NEVER);
            REQUIRE(t);
            for (int i = 0; i < rows[r].n; i++)
                CHECK_INT(mpx_stack_listen_addr(t->b.st[1], rows[r].ls[i].a, 90,
                                                rows[r].ls[i].flags, MPX_EXT_NEVER),
                          0);
            struct mpx_addr src = d >= V6A ? v6(1) : t->b.addr[0][0];
            long cid = lt_connect_to(t, &src, &dst[d], 90);
            REQUIRE(cid > 0);
            int got = -1;
            for (int i = 0; i < rows[r].n; i++)
                if (mpx_stack_accept_addr(t->b.st[1], rows[r].ls[i].a, 90) > 0)
                    got = i;
            CHECK_INT(got, rows[r].want[d]);
            if (got != rows[r].want[d])
                mpx_test_fail(__FILE__, __LINE__, "row %zu destination %d", r, d);
            CHECK_INT(lt_refused(t, cid), rows[r].want[d] < 0);
            lt_free(t);
        }
    }
}

/* Conflicts of listen(2) on Linux (checked against a 6.x kernel: a
 * wildcard and a specific address overlap; [::] overlaps 0.0.0.0 unless
 * V6ONLY; two different specific addresses never do; SO_REUSEPORT on
 * both lets them overlap, SO_REUSEADDR does not at listen time); the
 * same (address, port) twice is always MPX_ERR_EXIST (a SO_REUSEPORT
 * group shares one listener). */
MPX_TEST(mptcp_listen_addr_conflicts)
{
    struct lt *t = lt_new(120, MPX_EXT_NEVER);
    REQUIRE(t);
    const struct mpx_addr a = t->b.addr[1][0], b = t->b.addr[1][1], none = any_of(MPX_AF_NONE),
                          any4 = any_of(MPX_AF_INET), any6 = any_of(MPX_AF_INET6), a6 = v6(2);
    struct mpx_addr mapped_a = {.family = MPX_AF_INET6};
    mapped_a.a[10] = mapped_a.a[11] = 0xff;
    memcpy(mapped_a.a + 12, a.a, 4);
    static const uint32_t RP = MPX_LISTEN_REUSEPORT, V6O = MPX_LISTEN_V6ONLY;
    const struct {
        const struct mpx_addr *first;
        uint32_t f1;
        const struct mpx_addr *second;
        uint32_t f2;
        int want;
    } rows[] = {
        {&any4, 0, &a, 0, MPX_ERR_EXIST},
        {&a, 0, &any4, 0, MPX_ERR_EXIST},
        {&a, 0, &b, 0, 0},
        {&a, 0, &a, 0, MPX_ERR_EXIST},
        {&a, RP, &a, RP, MPX_ERR_EXIST}, /* shared, not a second one */
        {&any4, RP, &a, RP, 0},
        {&any4, RP, &a, 0, MPX_ERR_EXIST},
        {&any6, 0, &any4, 0, MPX_ERR_EXIST},
        {&any6, V6O, &any4, 0, 0},
        {&any6, 0, &a, 0, MPX_ERR_EXIST},
        {&any6, V6O, &a, 0, 0},
        {&any6, V6O, &a6, 0, MPX_ERR_EXIST},
        {&any4, 0, &a6, 0, 0},
        {&none, 0, &a6, 0, MPX_ERR_EXIST},
        {&none, 0, &any4, 0, MPX_ERR_EXIST},
        {&a, 0, &mapped_a, 0, MPX_ERR_EXIST}, /* ::ffff:a is a */
        {&b, 0, &mapped_a, 0, 0},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        uint16_t port = (uint16_t)(200 + r);
        CHECK_INT(mpx_stack_listen_addr(t->b.st[1], rows[r].first, port, rows[r].f1, MPX_EXT_NEVER),
                  0);
        int rc = mpx_stack_listen_addr(t->b.st[1], rows[r].second, port, rows[r].f2, MPX_EXT_NEVER);
        CHECK_INT(rc, rows[r].want);
        if (rc != rows[r].want)
            mpx_test_fail(__FILE__, __LINE__, "row %zu", r);
        /* another port is never affected */
        CHECK_INT(mpx_stack_listen_addr(t->b.st[1], rows[r].second, (uint16_t)(port + 100),
                                        rows[r].f2, MPX_EXT_NEVER),
                  0);
    }
    /* bad arguments */
    struct mpx_addr bad = {.family = 5};
    CHECK_INT(mpx_stack_listen_addr(t->b.st[1], &bad, 400, 0, MPX_EXT_NEVER), MPX_ERR_INVAL);
    CHECK_INT(mpx_stack_listen_addr(t->b.st[1], &a, 0, 0, MPX_EXT_NEVER), MPX_ERR_INVAL);
    CHECK_INT(mpx_stack_listen_addr(t->b.st[1], &a, 401, 0x80, MPX_EXT_NEVER), MPX_ERR_INVAL);
    CHECK_INT(mpx_stack_listen_addr(t->b.st[1], &a, 402, 0, (enum mpx_ext_policy)7), MPX_ERR_INVAL);
    /* unlisten by exact key: the wildcard stays when the specific goes */
    CHECK_INT(mpx_stack_listen_addr(t->b.st[1], &any4, 403, RP, MPX_EXT_NEVER), 0);
    CHECK_INT(mpx_stack_listen_addr(t->b.st[1], &a, 403, RP, MPX_EXT_NEVER), 0);
    CHECK_INT(mpx_stack_unlisten_addr(t->b.st[1], &b, 403), MPX_ERR_NOENT);
    CHECK_INT(mpx_stack_unlisten_addr(t->b.st[1], &a, 403), 0);
    CHECK_INT(mpx_stack_unlisten_addr(t->b.st[1], &a, 403), MPX_ERR_NOENT);
    CHECK_INT(mpx_stack_unlisten(t->b.st[1], 403), MPX_ERR_NOENT); /* that is every address */
    long cid = lt_connect_to(t, &t->b.addr[0][0], &a, 403);
    CHECK(cid > 0 && !lt_refused(t, cid));
    CHECK(mpx_stack_accept_addr(t->b.st[1], &any4, 403) > 0);
    CHECK_INT(mpx_stack_unlisten_addr(t->b.st[1], &any4, 403), 0);
    lt_free(t);
}

/* MP_JOIN SYNs go by token (RFC 8684 section 3.2): a server listening on
 * one address takes a join to its other address on that port. */
MPX_TEST(mptcp_listen_addr_join_by_token)
{
    struct lt *t = lt_new(130, MPX_EXT_NEVER);
    REQUIRE(t);
    CHECK_INT(mpx_stack_listen_addr(t->b.st[1], &t->b.addr[1][0], LPORT, 0, MPX_EXT_NEVER), 0);
    long cid = lt_connect_to(t, &t->b.addr[0][0], &t->b.addr[1][0], LPORT);
    long sid = mpx_stack_accept_addr(t->b.st[1], &t->b.addr[1][0], LPORT);
    REQUIRE(cid > 0 && sid > 0);
    /* a new connection to the other address is refused ... */
    CHECK(lt_refused(t, lt_connect_to(t, &t->b.addr[0][1], &t->b.addr[1][1], LPORT)));
    /* ... a join to it is not */
    REQUIRE(mpx_conn_add_subflow(t->b.st[0], (uint32_t)cid, &t->b.addr[0][1], &t->b.addr[1][1],
                                 LPORT, false, t->b.now) == 0);
    b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    struct mpx_conn_info si;
    REQUIRE(mpx_conn_get_info(t->b.st[1], (uint32_t)sid, &si) == 0);
    CHECK_INT(si.subflows, 2);
    CHECK(lt_xfer(t, cid, sid));
    lt_free(t);
}

/* A listener that follows the host (mpx_stack_listen) reads the policy
 * when each SYN arrives: after mpx_stack_set_ext_policy(REQUIRE) an RFC
 * 8684 SYN is answered plain; one with its own policy keeps it. */
MPX_TEST(mptcp_listen_host_policy_read_per_syn)
{
    struct lt *t = lt_new(131, MPX_EXT_NEVER);
    REQUIRE(t);
    CHECK_INT(mpx_stack_listen(t->b.st[1], LPORT), 0);
    CHECK_INT(mpx_stack_listen_ext(t->b.st[1], LPORT + 1, MPX_EXT_NEVER), 0);
    long cid = lt_connect(t, MPX_EXT_NEVER);
    REQUIRE(cid > 0 && mpx_stack_accept(t->b.st[1], LPORT) > 0);
    CHECK(t->mpc_from_server > 0);
    CHECK_INT(mpx_stack_set_ext_policy(t->b.st[1], (enum mpx_ext_policy)3), MPX_ERR_INVAL);
    CHECK_INT(mpx_stack_set_ext_policy(t->b.st[1], MPX_EXT_REQUIRE), 0);
    CHECK_INT(mpx_stack_get_config(t->b.st[1])->ext_policy, MPX_EXT_REQUIRE);
    t->mpc_from_server = 0;
    cid = lt_connect(t, MPX_EXT_NEVER);
    long sid = mpx_stack_accept(t->b.st[1], LPORT);
    REQUIRE(cid > 0 && sid > 0);
    CHECK_INT(t->mpc_from_server, 0);
    CHECK_EQ(mpx_stack_mib(t->b.st[1])->MPExtKeyRequirePlain, 1);
    CHECK(lt_xfer(t, cid, sid));
    /* the listener with its own policy (never) still answers MP_CAPABLE */
    cid = mpx_stack_connect(t->b.st[0], NULL, &t->b.addr[1][0], LPORT + 1, t->b.now);
    b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    CHECK(cid > 0 && mpx_stack_accept(t->b.st[1], LPORT + 1) > 0);
    CHECK(t->mpc_from_server > 0);
    lt_free(t);
}
